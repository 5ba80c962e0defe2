//! Secrets live in SSM Parameter Store (SecureString) and are fetched on first use, never at init,
//! then kept for the life of the execution environment.

use std::future::Future;

/// A secret could not be read. Carries the parameter name (not a secret) for operators.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret parameter {name} could not be read: {source}")]
    Unavailable {
        name: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("secret parameter {0} is empty")]
    Empty(String),
}

/// Port: where secrets come from.
pub trait SecretStore: Send + Sync {
    fn fetch(&self, name: &str) -> impl Future<Output = Result<String, SecretError>> + Send;
}

/// Reads SecureString parameters from SSM with decryption: one `GetParameter` request, signed with
/// the function's credentials by `aws-sigv4` (the AWS SDK's own signer) and sent through a reqwest
/// client over [`crate::aws::tls_config`]. rising reads SSM for nothing else, and the whole SSM SDK
/// (`aws-sdk-ssm`) cost 144 s of a release build on two cores and code in eight functions.
#[derive(Debug, Clone)]
pub struct SsmSecretStore {
    inner: std::sync::Arc<SsmClient>,
}

/// Attempts at one `GetParameter`: throttling, 5xx answers and broken connections are tried again,
/// as the SDK's standard retry mode does.
const SSM_ATTEMPTS: u32 = 3;
/// The longest one attempt may take (connecting, signing excluded).
const SSM_ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// The SDK's default connect timeout.
const SSM_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(3100);

struct SsmClient {
    /// `AWS_ENDPOINT_URL` (the local emulators) or the region's SSM endpoint.
    endpoint: Option<String>,
    region: Option<String>,
    credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    backoff: std::time::Duration,
    http: std::sync::OnceLock<Result<reqwest::Client, String>>,
}

impl std::fmt::Debug for SsmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsmClient")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// Why one `GetParameter` failed. Never holds a parameter's value.
#[derive(Debug, thiserror::Error)]
enum SsmError {
    #[error("no AWS region is configured")]
    NoRegion,
    #[error("no AWS credentials are configured")]
    NoCredentials,
    #[error("credentials: {0}")]
    Credentials(#[source] aws_credential_types::provider::error::CredentialsError),
    #[error("signing: {0}")]
    Signing(String),
    #[error("HTTP client: {0}")]
    Client(String),
    #[error("request: {0}")]
    Transport(#[source] reqwest::Error),
    #[error("SSM answered {status} {code}: {message}")]
    Service {
        status: u16,
        code: String,
        message: String,
    },
    #[error("SSM's answer could not be read: {0}")]
    Answer(#[source] serde_json::Error),
}

impl SsmError {
    /// Whether another attempt may succeed: throttling, server errors, timeouts, broken connections.
    fn is_transient(&self) -> bool {
        match self {
            SsmError::Transport(e) => !e.is_builder(),
            SsmError::Service { status, code, .. } => {
                *status >= 500 || *status == 429 || code.contains("Throttl")
            }
            _ => false,
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetParameterAnswer {
    parameter: Option<ParameterValue>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ParameterValue {
    value: Option<String>,
}

#[derive(serde::Deserialize, Default)]
struct ErrorAnswer {
    #[serde(rename = "__type", default)]
    kind: String,
    #[serde(alias = "Message", default)]
    message: String,
}

impl SsmSecretStore {
    /// Parameters read with the config's region, credentials and endpoint. No network call and no
    /// TLS setup until the first read.
    pub fn from_sdk(sdk: &crate::aws::SdkConfig) -> Self {
        Self::with_backoff(sdk, std::time::Duration::from_millis(100))
    }

    fn with_backoff(sdk: &crate::aws::SdkConfig, backoff: std::time::Duration) -> Self {
        let region = sdk.region().map(|r| r.as_ref().to_string());
        let endpoint = sdk
            .endpoint_url()
            .map(str::to_string)
            .or_else(|| region.as_deref().map(ssm_endpoint));
        Self {
            inner: std::sync::Arc::new(SsmClient {
                endpoint,
                region,
                credentials: sdk.credentials_provider(),
                backoff,
                http: std::sync::OnceLock::new(),
            }),
        }
    }
}

/// SSM's regional endpoint (China's regions have their own domain).
fn ssm_endpoint(region: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://ssm.{region}.{suffix}")
}

impl SsmClient {
    fn http(&self) -> Result<&reqwest::Client, SsmError> {
        self.http
            .get_or_init(|| {
                reqwest::Client::builder()
                    .tls_backend_preconfigured(crate::aws::tls_config())
                    .redirect(reqwest::redirect::Policy::none())
                    .no_proxy()
                    .connect_timeout(SSM_CONNECT_TIMEOUT)
                    .timeout(SSM_ATTEMPT_TIMEOUT)
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| SsmError::Client(e.clone()))
    }

    async fn get_parameter(&self, name: &str) -> Result<Option<String>, SsmError> {
        let mut attempt = 1;
        loop {
            match self.attempt(name).await {
                Err(error) if error.is_transient() && attempt < SSM_ATTEMPTS => {
                    tracing::warn!(%error, attempt, "reading a secret parameter failed; trying again");
                    tokio::time::sleep(self.backoff * 2u32.pow(attempt - 1)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn attempt(&self, name: &str) -> Result<Option<String>, SsmError> {
        use aws_credential_types::provider::ProvideCredentials as _;
        let region = self.region.as_deref().ok_or(SsmError::NoRegion)?;
        let endpoint = self.endpoint.as_deref().ok_or(SsmError::NoRegion)?;
        let credentials = self
            .credentials
            .as_ref()
            .ok_or(SsmError::NoCredentials)?
            .provide_credentials()
            .await
            .map_err(SsmError::Credentials)?;
        let url = format!("{}/", endpoint.trim_end_matches('/'));
        let body = serde_json::json!({"Name": name, "WithDecryption": true}).to_string();
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", "AmazonSSM.GetParameter"),
        ];
        let identity = credentials.into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name("ssm")
            .time(std::time::SystemTime::now())
            .settings(aws_sigv4::http_request::SigningSettings::default())
            .build()
            .map_err(|e| SsmError::Signing(e.to_string()))?
            .into();
        let signable = aws_sigv4::http_request::SignableRequest::new(
            "POST",
            url.as_str(),
            headers.iter().copied(),
            aws_sigv4::http_request::SignableBody::Bytes(body.as_bytes()),
        )
        .map_err(|e| SsmError::Signing(e.to_string()))?;
        let signed = aws_sigv4::http_request::sign(signable, &params)
            .map_err(|e| SsmError::Signing(e.to_string()))?
            .into_parts()
            .0;
        let mut request = self.http()?.post(&url).body(body.clone());
        for (header, value) in headers.into_iter().chain(signed.headers()) {
            request = request.header(header, value);
        }
        let response = request.send().await.map_err(SsmError::Transport)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(SsmError::Transport)?;
        if !status.is_success() {
            let error: ErrorAnswer = serde_json::from_slice(&bytes).unwrap_or_default();
            // `__type` may carry a namespace: `com.amazonaws.ssm#ParameterNotFound`.
            let code = error
                .kind
                .rsplit('#')
                .next()
                .unwrap_or_default()
                .to_string();
            return Err(SsmError::Service {
                status: status.as_u16(),
                code,
                message: error.message,
            });
        }
        let answer: GetParameterAnswer =
            serde_json::from_slice(&bytes).map_err(SsmError::Answer)?;
        Ok(answer.parameter.and_then(|p| p.value))
    }
}

impl SecretStore for SsmSecretStore {
    async fn fetch(&self, name: &str) -> Result<String, SecretError> {
        self.inner
            .get_parameter(name)
            .await
            .map_err(|e| SecretError::Unavailable {
                name: name.to_string(),
                source: Box::new(e),
            })?
            .filter(|v| !v.is_empty())
            .ok_or_else(|| SecretError::Empty(name.to_string()))
    }
}

/// In-memory secrets for unit tests.
#[derive(Debug, Clone, Default)]
pub struct StaticSecretStore {
    values: std::collections::HashMap<String, String>,
}

impl StaticSecretStore {
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.values.insert(name.to_string(), value.to_string());
        self
    }
}

impl SecretStore for StaticSecretStore {
    async fn fetch(&self, name: &str) -> Result<String, SecretError> {
        self.values
            .get(name)
            .cloned()
            .ok_or_else(|| SecretError::Unavailable {
                name: name.to_string(),
                source: "no such parameter".into(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::test_server::scripted;
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};
    use std::collections::BTreeMap;
    use std::sync::atomic::Ordering;

    const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn store(endpoint: Option<String>, region: Option<&str>) -> SsmSecretStore {
        let mut builder = crate::aws::SdkConfig::builder().credentials_provider(
            SharedCredentialsProvider::new(Credentials::new(
                "AKIDEXAMPLE",
                SECRET_KEY,
                Some("session-token".into()),
                None,
                "test",
            )),
        );
        builder.set_region(region.map(|r| aws_sdk_dynamodb::config::Region::new(r.to_string())));
        builder.set_endpoint_url(endpoint);
        SsmSecretStore::with_backoff(&builder.build(), std::time::Duration::from_millis(1))
    }

    fn answer(status: &str, body: &str) -> &'static str {
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .leak()
    }

    const VALUE: &str = r#"{"Parameter":{"Name":"/rising/twilio-auth-token","Type":"SecureString","Value":"s3cr3t","Version":1}}"#;

    /// A request as the server read it: request line, headers by lowercase name, body.
    fn parse(raw: &str) -> (String, BTreeMap<String, String>, String) {
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap().to_string();
        let headers = lines
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap();
                (k.trim().to_ascii_lowercase(), v.trim().to_string())
            })
            .collect();
        (request_line, headers, body.to_string())
    }

    fn hmac(key: &[u8], data: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(data.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// Signature Version 4 as AWS documents it, computed here from what reached the server and
    /// independently of `aws-sigv4`.
    fn expected_signature(
        headers: &BTreeMap<String, String>,
        signed: &[&str],
        body: &str,
    ) -> String {
        let date_time = &headers["x-amz-date"];
        let date = &date_time[..8];
        let canonical_headers: String = signed
            .iter()
            .map(|h| format!("{h}:{}\n", headers[*h]))
            .collect();
        let canonical_request = format!(
            "POST\n/\n\n{canonical_headers}\n{}\n{}",
            signed.join(";"),
            hex::encode(Sha256::digest(body.as_bytes()))
        );
        let scope = format!("{date}/us-east-1/ssm/aws4_request");
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{date_time}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical_request.as_bytes()))
        );
        let key = ["us-east-1", "ssm", "aws4_request"].iter().fold(
            hmac(format!("AWS4{SECRET_KEY}").as_bytes(), date),
            |k, part| hmac(&k, part),
        );
        hex::encode(hmac(&key, &string_to_sign))
    }

    #[tokio::test]
    async fn a_secret_is_one_signed_get_parameter_with_decryption() {
        let (endpoint, requests, seen) = scripted(vec![answer("200 OK", VALUE)]).await;
        let secret = store(Some(endpoint), Some("us-east-1"))
            .fetch("/rising/twilio-auth-token")
            .await
            .unwrap();
        assert_eq!(secret, "s3cr3t");
        assert_eq!(requests.load(Ordering::SeqCst), 1);

        let (request_line, headers, body) = parse(&seen.lock().unwrap()[0]);
        assert_eq!(request_line, "POST / HTTP/1.1");
        assert_eq!(headers["x-amz-target"], "AmazonSSM.GetParameter");
        assert_eq!(headers["content-type"], "application/x-amz-json-1.1");
        assert_eq!(headers["x-amz-security-token"], "session-token");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap(),
            serde_json::json!({"Name": "/rising/twilio-auth-token", "WithDecryption": true})
        );
        let authorization = &headers["authorization"];
        let signed = [
            "content-type",
            "host",
            "x-amz-date",
            "x-amz-security-token",
            "x-amz-target",
        ];
        let date = &headers["x-amz-date"][..8];
        assert_eq!(
            authorization,
            &format!(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{date}/us-east-1/ssm/aws4_request, \
                 SignedHeaders={}, Signature={}",
                signed.join(";"),
                expected_signature(&headers, &signed, &body)
            )
        );
    }

    #[tokio::test]
    async fn throttling_and_server_errors_are_tried_again() {
        let (endpoint, requests, _) = scripted(vec![
            answer(
                "400 Bad Request",
                r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
            ),
            answer(
                "500 Internal Server Error",
                r#"{"__type":"InternalServerError"}"#,
            ),
            answer("200 OK", VALUE),
        ])
        .await;
        let secret = store(Some(endpoint), Some("us-east-1"))
            .fetch("/rising/twilio-auth-token")
            .await
            .unwrap();
        assert_eq!(secret, "s3cr3t");
        assert_eq!(requests.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_missing_parameter_is_reported_by_name_and_not_asked_again() {
        let (endpoint, requests, _) = scripted(vec![answer(
            "400 Bad Request",
            r#"{"__type":"com.amazonaws.ssm#ParameterNotFound","message":"Parameter /rising/nope not found."}"#,
        )])
        .await;
        let error = store(Some(endpoint), Some("us-east-1"))
            .fetch("/rising/nope")
            .await
            .unwrap_err();
        assert_eq!(requests.load(Ordering::SeqCst), 1);
        let SecretError::Unavailable { name, source } = &error else {
            panic!("expected Unavailable, got {error:?}");
        };
        assert_eq!(name, "/rising/nope");
        assert_eq!(
            source.to_string(),
            "SSM answered 400 ParameterNotFound: Parameter /rising/nope not found."
        );
    }

    #[tokio::test]
    async fn an_empty_parameter_is_an_error_not_an_empty_secret() {
        let (endpoint, _, _) = scripted(vec![answer(
            "200 OK",
            r#"{"Parameter":{"Name":"/rising/empty","Value":""}}"#,
        )])
        .await;
        let error = store(Some(endpoint), Some("us-east-1"))
            .fetch("/rising/empty")
            .await
            .unwrap_err();
        assert!(matches!(error, SecretError::Empty(name) if name == "/rising/empty"));
    }

    #[tokio::test]
    async fn without_a_region_nothing_is_sent() {
        let (endpoint, requests, _) = scripted(vec![answer("200 OK", VALUE)]).await;
        let error = store(Some(endpoint), None)
            .fetch("/rising/twilio-auth-token")
            .await
            .unwrap_err();
        assert!(error.to_string().contains("no AWS region"), "{error}");
        assert_eq!(requests.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn the_endpoint_is_the_regions_unless_one_is_configured() {
        assert_eq!(
            store(None, Some("eu-west-1")).inner.endpoint.as_deref(),
            Some("https://ssm.eu-west-1.amazonaws.com")
        );
        assert_eq!(
            store(None, Some("cn-north-1")).inner.endpoint.as_deref(),
            Some("https://ssm.cn-north-1.amazonaws.com.cn")
        );
        assert_eq!(
            store(Some("http://localhost:5000".into()), Some("us-east-1"))
                .inner
                .endpoint
                .as_deref(),
            Some("http://localhost:5000")
        );
    }
}

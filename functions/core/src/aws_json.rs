//! A client for the AWS services rising calls with the JSON 1.1 protocol and for only a call or two:
//! SSM Parameter Store (`GetParameter`) and KMS (`GenerateDataKey`, `Decrypt`). Each whole SDK crate
//! (`aws-sdk-ssm`, `aws-sdk-kms`) compiles the service's entire API: 144 s and 39 s of a two-core
//! release build, and code in most functions. The protocol is one signed POST: the operation in
//! `X-Amz-Target`, a JSON body, a JSON answer or a JSON error with `__type`.
//!
//! What is not rising's own: the signature is `aws-sigv4`'s (the SDK's signer), the credentials
//! come from the shared config's provider (aws-config), and requests go through reqwest over
//! [`crate::aws::tls_config`], as every other connection does. Throttling, 5xx answers, timeouts
//! and broken connections are tried again, as the SDK's standard retry mode does.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use aws_credential_types::provider::SharedCredentialsProvider;

/// Attempts at one call.
const ATTEMPTS: u32 = 3;
/// The longest one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// The SDK's default connect timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);
/// The pause before the second attempt; doubled before each later one.
const BACKOFF: Duration = Duration::from_millis(100);

/// Why a call failed. Never holds anything from a successful answer's body (a KMS answer holds a
/// plaintext data key, an SSM answer a secret).
#[derive(Debug, thiserror::Error)]
pub enum AwsJsonError {
    #[error("no AWS region is configured")]
    NoRegion,
    #[error("no AWS credentials are configured")]
    NoCredentials,
    #[error("credentials: {0}")]
    Credentials(#[source] aws_credential_types::provider::error::CredentialsError),
    #[error("the request could not be signed: {0}")]
    Signing(String),
    #[error("the HTTP client could not be made: {0}")]
    Client(String),
    #[error("timed out")]
    Timeout,
    #[error("could not reach the service: {0}")]
    Transport(#[source] reqwest::Error),
    #[error("{code}: {message}")]
    Service {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the answer could not be read")]
    Answer,
}

impl AwsJsonError {
    /// Whether another attempt may succeed: throttling, server errors, timeouts, broken connections.
    fn is_transient(&self) -> bool {
        match self {
            AwsJsonError::Timeout => true,
            AwsJsonError::Transport(e) => !e.is_builder(),
            AwsJsonError::Service { status, code, .. } => {
                *status >= 500 || *status == 429 || code.contains("Throttl")
            }
            _ => false,
        }
    }
}

/// A service's JSON 1.1 API, for one region and one set of credentials. Cheap to clone; the HTTP
/// client, shared by all of them, is made on the first call.
#[derive(Clone)]
pub struct AwsJsonClient(Arc<Inner>);

struct Inner {
    /// The signing name and endpoint prefix (`ssm`, `kms`).
    service: &'static str,
    /// What precedes the operation in `X-Amz-Target` (`AmazonSSM`, `TrentService`).
    target_prefix: &'static str,
    /// `AWS_ENDPOINT_URL` (the local emulators) or the region's endpoint.
    endpoint: Option<String>,
    region: Option<String>,
    credentials: Option<SharedCredentialsProvider>,
    backoff: Duration,
}

impl std::fmt::Debug for AwsJsonClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsJsonClient")
            .field("service", &self.0.service)
            .field("endpoint", &self.0.endpoint)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize, Default)]
struct ErrorAnswer {
    #[serde(rename = "__type", default)]
    kind: String,
    #[serde(alias = "Message", default)]
    message: String,
}

impl AwsJsonClient {
    /// A client for `service` with the config's region, credentials and endpoint. No network call
    /// and no TLS setup until the first call.
    pub fn from_sdk(
        sdk: &crate::aws::SdkConfig,
        service: &'static str,
        target_prefix: &'static str,
    ) -> Self {
        let region = sdk.region().map(|r| r.as_ref().to_string());
        let endpoint = sdk
            .endpoint_url()
            .map(str::to_string)
            .or_else(|| region.as_deref().map(|r| regional_endpoint(service, r)));
        Self(Arc::new(Inner {
            service,
            target_prefix,
            endpoint,
            region,
            credentials: sdk.credentials_provider(),
            backoff: BACKOFF,
        }))
    }

    /// The same client with another pause between attempts (tests).
    #[cfg(test)]
    pub(crate) fn with_backoff(self, backoff: Duration) -> Self {
        let inner = Arc::try_unwrap(self.0).unwrap_or_else(|_| unreachable!("not yet shared"));
        Self(Arc::new(Inner { backoff, ..inner }))
    }

    #[cfg(test)]
    pub(crate) fn endpoint(&self) -> Option<&str> {
        self.0.endpoint.as_deref()
    }

    /// Calls `operation` with `body`; its answer read as `T`.
    pub async fn call<T: serde::de::DeserializeOwned>(
        &self,
        operation: &str,
        body: &serde_json::Value,
    ) -> Result<T, AwsJsonError> {
        let body = body.to_string();
        let mut attempt = 1;
        loop {
            match self.attempt(operation, &body).await {
                Err(error) if error.is_transient() && attempt < ATTEMPTS => {
                    tracing::warn!(
                        service = self.0.service,
                        operation,
                        %error,
                        attempt,
                        "AWS call failed; trying again"
                    );
                    tokio::time::sleep(self.0.backoff * 2u32.pow(attempt - 1)).await;
                    attempt += 1;
                }
                Err(error) => return Err(error),
                Ok(mut bytes) => {
                    let answer = serde_json::from_slice(&bytes).map_err(|_| AwsJsonError::Answer);
                    // It may hold a secret or a plaintext data key, now copied into `answer`.
                    zeroize::Zeroize::zeroize(&mut bytes);
                    return answer;
                }
            }
        }
    }

    /// The HTTP client of every `AwsJsonClient` of the process (SSM's and KMS's), made on the
    /// first call.
    fn http() -> Result<&'static reqwest::Client, AwsJsonError> {
        static HTTP: LazyLock<Result<reqwest::Client, String>> = LazyLock::new(|| {
            crate::aws::aws_client_builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(ATTEMPT_TIMEOUT)
                .build()
                .map_err(|e| e.to_string())
        });
        HTTP.as_ref().map_err(|e| AwsJsonError::Client(e.clone()))
    }

    /// One signed request; the body of a 2xx answer.
    async fn attempt(&self, operation: &str, body: &str) -> Result<Vec<u8>, AwsJsonError> {
        use aws_credential_types::provider::ProvideCredentials as _;
        let inner = &*self.0;
        let region = inner.region.as_deref().ok_or(AwsJsonError::NoRegion)?;
        let endpoint = inner.endpoint.as_deref().ok_or(AwsJsonError::NoRegion)?;
        let credentials = inner
            .credentials
            .as_ref()
            .ok_or(AwsJsonError::NoCredentials)?
            .provide_credentials()
            .await
            .map_err(AwsJsonError::Credentials)?;
        let url = format!("{}/", endpoint.trim_end_matches('/'));
        let target = format!("{}.{operation}", inner.target_prefix);
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", target.as_str()),
        ];
        let identity = credentials.into();
        let signing = |e: &dyn std::fmt::Display| AwsJsonError::Signing(e.to_string());
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(inner.service)
            .time(std::time::SystemTime::now())
            .settings(aws_sigv4::http_request::SigningSettings::default())
            .build()
            .map_err(|e| signing(&e))?
            .into();
        let signable = aws_sigv4::http_request::SignableRequest::new(
            "POST",
            url.as_str(),
            headers.iter().copied(),
            aws_sigv4::http_request::SignableBody::Bytes(body.as_bytes()),
        )
        .map_err(|e| signing(&e))?;
        let (signed, _) = aws_sigv4::http_request::sign(signable, &params)
            .map_err(|e| signing(&e))?
            .into_parts();
        let mut request = Self::http()?.post(&url).body(body.to_string());
        for (header, value) in headers.into_iter().chain(signed.headers()) {
            request = request.header(header, value);
        }
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                AwsJsonError::Timeout
            } else {
                AwsJsonError::Transport(e)
            }
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(transport)?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        let error: ErrorAnswer = serde_json::from_slice(&bytes).unwrap_or_default();
        // `__type` may carry a namespace: `com.amazonaws.ssm#ParameterNotFound`.
        let code = match error.kind.rsplit('#').next() {
            Some(code) if !code.is_empty() => code.to_string(),
            _ => "unknown error".to_string(),
        };
        Err(AwsJsonError::Service {
            status: status.as_u16(),
            code,
            message: error.message,
        })
    }
}

/// A service's regional endpoint (China's regions have their own domain).
fn regional_endpoint(service: &str, region: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://{service}.{region}.{suffix}")
}

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

/// Reads SecureString parameters from SSM with decryption: one `GetParameter` request through
/// [`crate::aws_json::AwsJsonClient`] (signed by `aws-sigv4`, the SDK's own signer). rising reads SSM
/// for nothing else, and the whole SSM SDK (`aws-sdk-ssm`) cost 144 s of a release build on two
/// cores and code in eight functions.
#[derive(Debug, Clone)]
pub struct SsmSecretStore {
    client: crate::aws_json::AwsJsonClient,
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

impl SsmSecretStore {
    /// Parameters read with the config's region, credentials and endpoint. No network call and no
    /// TLS setup until the first read.
    pub fn from_sdk(sdk: &crate::aws::SdkConfig) -> Self {
        Self {
            client: crate::aws_json::AwsJsonClient::from_sdk(sdk, "ssm", "AmazonSSM"),
        }
    }
}

impl SecretStore for SsmSecretStore {
    async fn fetch(&self, name: &str) -> Result<String, SecretError> {
        let answer: GetParameterAnswer = self
            .client
            .call(
                "GetParameter",
                &serde_json::json!({"Name": name, "WithDecryption": true}),
            )
            .await
            .map_err(|e| SecretError::Unavailable {
                name: name.to_string(),
                source: Box::new(e),
            })?;
        answer
            .parameter
            .and_then(|p| p.value)
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
        SsmSecretStore {
            client: crate::aws_json::AwsJsonClient::from_sdk(&builder.build(), "ssm", "AmazonSSM")
                .with_backoff(std::time::Duration::from_millis(1)),
        }
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
            "ParameterNotFound: Parameter /rising/nope not found."
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
            store(None, Some("eu-west-1")).client.endpoint(),
            Some("https://ssm.eu-west-1.amazonaws.com")
        );
        assert_eq!(
            store(None, Some("cn-north-1")).client.endpoint(),
            Some("https://ssm.cn-north-1.amazonaws.com.cn")
        );
        assert_eq!(
            store(Some("http://localhost:5000".into()), Some("us-east-1"))
                .client
                .endpoint(),
            Some("http://localhost:5000")
        );
    }
}

//! A client for the AWS services rising calls with the JSON protocol and for only a call or two:
//! SSM Parameter Store (`GetParameter`), KMS (`GenerateDataKey`, `Decrypt`), EventBridge
//! (`PutEvents`) and SQS (`SendMessageBatch`, JSON 1.0). Each whole SDK crate (`aws-sdk-ssm`,
//! `aws-sdk-kms`, `aws-sdk-eventbridge`, `aws-sdk-sqs`) compiles the service's entire API: 144 s,
//! 39 s, 41 s and 19 s of a two-core release build, and code in most functions. The protocol is one signed POST: the operation in
//! `X-Amz-Target`, a JSON body, a JSON answer or a JSON error with `__type`.
//!
//! SES v2's `SendEmail` (`aws-sdk-sesv2`: 84 s of that build) is a signed POST too, in the REST-JSON
//! protocol: the operation is the path (`/v2/email/outbound-emails`), the error's code comes in
//! the `x-amzn-ErrorType` header. [`AwsJsonClient::rest`] makes that kind of client.
//!
//! What is not rising's own: the signature is `aws-sigv4`'s (the SDK's signer), the credentials
//! come from the shared config's provider (the environment's in the functions, `aws::load`), and requests go through reqwest over
//! [`crate::aws::tls_config`], as every other connection does. Throttling, 5xx answers, timeouts
//! and broken connections are tried again, as the SDK's standard retry mode does; a REST client's
//! calls (`SendEmail`) only when the service surely did not act on them.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use aws_credential_types::provider::SharedCredentialsProvider;

const JSON_1_1: &str = "application/x-amz-json-1.1";
const JSON_1_0: &str = "application/x-amz-json-1.0";

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

/// A service's JSON (1.1 or 1.0) or REST-JSON API, for one region and one set of credentials. Cheap to clone; the HTTP
/// client, shared by all of them, is made on the first call.
#[derive(Clone)]
pub struct AwsJsonClient(Arc<Inner>);

struct Inner {
    /// The signing name (`ssm`, `kms`, `events`, `ses`, `sqs`).
    service: &'static str,
    /// JSON: what precedes the operation in `X-Amz-Target` (`AmazonSSM`, `TrentService`,
    /// `AWSEvents`, `AmazonSQS`); REST-JSON: none, the operation is the path.
    target_prefix: Option<&'static str>,
    /// The body's content type: `application/x-amz-json-1.1` or `-1.0` (SQS), `application/json`
    /// (REST-JSON).
    content_type: &'static str,
    /// `AWS_ENDPOINT_URL` (the local emulators) or the region's endpoint.
    endpoint: Option<String>,
    region: Option<String>,
    credentials: Option<SharedCredentialsProvider>,
    backoff: Duration,
    /// Whether a request that may have reached the service is sent again (a timeout, a connection
    /// broken after sending). Not for `SendEmail`: a second attempt could be a second email.
    idempotent: bool,
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
    #[serde(rename = "__type", alias = "code", default)]
    kind: String,
    #[serde(alias = "Message", default)]
    message: String,
}

impl AwsJsonClient {
    /// A JSON 1.1 client for `service` (its signing name and endpoint prefix) with the config's
    /// region, credentials and endpoint. No network call and no TLS setup until the first call.
    pub fn from_sdk(
        sdk: &crate::aws::SdkConfig,
        service: &'static str,
        target_prefix: &'static str,
    ) -> Self {
        Self::make(sdk, service, service, Some(target_prefix), JSON_1_1)
    }

    /// As [`AwsJsonClient::from_sdk`], in JSON 1.0 (SQS: `sqs`, `AmazonSQS`).
    pub fn json_1_0(
        sdk: &crate::aws::SdkConfig,
        service: &'static str,
        target_prefix: &'static str,
    ) -> Self {
        Self::make(sdk, service, service, Some(target_prefix), JSON_1_0)
    }

    /// A REST-JSON client signed as `service`, at `endpoint_prefix`'s regional endpoint (SES v2:
    /// `ses`, `email`) unless the config names an endpoint. Its calls are not idempotent: a
    /// timeout or a connection broken after sending is not tried again.
    pub fn rest(
        sdk: &crate::aws::SdkConfig,
        service: &'static str,
        endpoint_prefix: &'static str,
    ) -> Self {
        Self::make(sdk, service, endpoint_prefix, None, "application/json")
    }

    fn make(
        sdk: &crate::aws::SdkConfig,
        service: &'static str,
        endpoint_prefix: &'static str,
        target_prefix: Option<&'static str>,
        content_type: &'static str,
    ) -> Self {
        let region = sdk.region().map(|r| r.as_ref().to_string());
        let endpoint = sdk.endpoint_url().map(str::to_string).or_else(|| {
            region
                .as_deref()
                .map(|r| regional_endpoint(endpoint_prefix, r))
        });
        Self(Arc::new(Inner {
            service,
            target_prefix,
            endpoint,
            region,
            credentials: sdk.credentials_provider(),
            content_type,
            backoff: BACKOFF,
            idempotent: target_prefix.is_some(),
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

    /// Calls `operation` with `body` (JSON 1.1 or 1.0); its answer read as `T`.
    pub async fn call<T: serde::de::DeserializeOwned>(
        &self,
        operation: &str,
        body: &serde_json::Value,
    ) -> Result<T, AwsJsonError> {
        let target = self.0.target_prefix.map(|p| format!("{p}.{operation}"));
        self.send("/", target.as_deref(), operation, body).await
    }

    /// POSTs `body` to `path` (REST-JSON, e.g. `/v2/email/outbound-emails`); the answer read as `T`.
    pub async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T, AwsJsonError> {
        self.send(path, None, path, body).await
    }

    /// One call, tried again while it fails transiently.
    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        target: Option<&str>,
        operation: &str,
        body: &serde_json::Value,
    ) -> Result<T, AwsJsonError> {
        let body = body.to_string();
        let mut attempt = 1;
        loop {
            match self.attempt(path, target, &body).await {
                Err(error) if self.may_retry(&error) && attempt < ATTEMPTS => {
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

    /// Whether a failed attempt is made again: a transient failure, and for a call that must not be
    /// made twice (a REST client's `SendEmail`) only one the service surely did not act on (it said
    /// so: throttling, 5xx; or the connection was never made).
    fn may_retry(&self, error: &AwsJsonError) -> bool {
        if self.0.idempotent {
            return error.is_transient();
        }
        match error {
            AwsJsonError::Service { .. } => error.is_transient(),
            AwsJsonError::Transport(e) => e.is_connect(),
            _ => false,
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
    async fn attempt(
        &self,
        path: &str,
        target: Option<&str>,
        body: &str,
    ) -> Result<Vec<u8>, AwsJsonError> {
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
        let url = format!("{}{path}", endpoint.trim_end_matches('/'));
        let headers: &[(&str, &str)] = match target {
            Some(target) => &[
                ("content-type", inner.content_type),
                ("x-amz-target", target),
            ],
            None => &[("content-type", inner.content_type)],
        };
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
        for (header, value) in headers.iter().copied().chain(signed.headers()) {
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
        // REST-JSON names the error in a header (`TooManyRequestsException:http://…` at times).
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(':').next())
            .map(str::to_string);
        let bytes = response.bytes().await.map_err(transport)?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        let error: ErrorAnswer = serde_json::from_slice(&bytes).unwrap_or_default();
        // `__type` may carry a namespace: `com.amazonaws.ssm#ParameterNotFound`.
        let code = match error_type
            .as_deref()
            .or_else(|| error.kind.rsplit('#').next())
        {
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

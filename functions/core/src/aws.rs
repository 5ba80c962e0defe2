//! AWS clients, built once per cold start. Loading the shared config reads the environment
//! (`AWS_REGION`, `AWS_ENDPOINT_URL` for the local emulators, credentials) without calling AWS:
//! credentials are resolved lazily on the first request.
//!
//! Every outbound connection, to AWS and to Twilio, goes through one HTTP client and one TLS stack:
//! reqwest (HTTP/1.1) over rustls with the ring provider and Mozilla's root certificates compiled
//! into the binary (`webpki-root-certs`). The SDK's own default client would bring a second crypto
//! library (aws-lc-rs, about 1.5 MB in every binary) and read the system's certificate store at each
//! cold start; its hyper client without a default (`aws-smithy-http-client`) would still compile in
//! HTTP/2, a second hyper client and that certificate-store reader (see [`ReqwestHttpClient`]).

use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, future};
use aws_sdk_dynamodb::config::{Region, SharedCredentialsProvider, SharedHttpClient};
pub use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::retries::ErrorKind;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
pub use aws_types::SdkConfig;

/// The shared config of a Lambda function, from its environment only: the region (`AWS_REGION`),
/// the execution role's credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`: Lambda sets them) and, for the local emulators, `AWS_ENDPOINT_URL`. Retries,
/// timeouts and the rest are the SDK clients' defaults. aws-config's default chains (profile files,
/// SSO, web identity through STS, the instance metadata service) are never needed in Lambda; the
/// functions do not compile aws-config at all (it carries an STS client), which keeps that code out of
/// their builds and their work out of every cold start.
pub fn load() -> SdkConfig {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http_client())
        .credentials_provider(SharedCredentialsProvider::new(EnvCredentials));
    builder.set_region(
        var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .map(Region::new),
    );
    builder.set_endpoint_url(var("AWS_ENDPOINT_URL"));
    builder.build()
}

/// The shared config of a program that runs on a person's machine (the organizers' command line, the
/// seeding tool): aws-config's default chains, so profiles, SSO and assumed roles work.
#[cfg(feature = "profiles")]
pub async fn load_with_profiles() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .load()
        .await
}

/// The credentials in the environment, as Lambda sets them for the execution role
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), read at each call as
/// aws-config's `EnvironmentVariableCredentialsProvider` reads them (the SDK caches what it gets).
#[derive(Debug, Clone, Copy)]
pub struct EnvCredentials;

impl EnvCredentials {
    /// The credentials `var` names (blank counts as unset).
    fn read(var: impl Fn(&str) -> Option<String>) -> Result<Credentials, CredentialsError> {
        let var = |name: &str| {
            var(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let missing =
            |name: &'static str| CredentialsError::not_loaded(format!("{name} is not set"));
        let access_key = var("AWS_ACCESS_KEY_ID").ok_or_else(|| missing("AWS_ACCESS_KEY_ID"))?;
        let secret_key = var("AWS_SECRET_ACCESS_KEY")
            .or_else(|| var("SECRET_ACCESS_KEY"))
            .ok_or_else(|| missing("AWS_SECRET_ACCESS_KEY"))?;
        Ok(Credentials::new(
            access_key,
            secret_key,
            var("AWS_SESSION_TOKEN"),
            None,
            "Environment",
        ))
    }
}

impl ProvideCredentials for EnvCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Self::read(|name| std::env::var(name).ok()))
    }
}

/// The HTTP client every AWS SDK client of this process uses (the connectors it makes are cached
/// and shared).
pub fn http_client() -> SharedHttpClient {
    static CLIENT: LazyLock<SharedHttpClient> =
        LazyLock::new(|| SharedHttpClient::new(ReqwestHttpClient::default()));
    CLIENT.clone()
}

/// The HTTP client of every AWS SDK client of this process: reqwest, the client the Twilio client
/// already uses (HTTP/1.1, rustls with ring, the compiled-in roots of [`tls_config`]). The SDK's own
/// hyper client (`aws-smithy-http-client`) compiles in HTTP/2 (h2), a second hyper client stack and
/// a reader of the system's certificate store, which rising never uses: 0.19 MB of every arm64 zip.
///
/// Connectors are cached per timeout settings, as the SDK's client does, and each makes its reqwest
/// client on its first request: nothing about TLS is done in a cold start before a request needs
/// it. (The SDK's client also built a throwaway connector in every `Client::from_conf`, to check the
/// system's certificate store; with compiled-in roots there is nothing to check.)
#[derive(Debug, Default)]
struct ReqwestHttpClient {
    connectors: Mutex<Vec<ReqwestConnector>>,
}

/// The settings a connector is made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ConnectorKey {
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
}

impl HttpClient for ReqwestHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = ConnectorKey {
            connect_timeout: settings.connect_timeout(),
            read_timeout: settings.read_timeout(),
        };
        let mut connectors = self
            .connectors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let connector = match connectors.iter().find(|c| c.key == key) {
            Some(connector) => connector.clone(),
            None => {
                let connector = ReqwestConnector {
                    key,
                    client: Arc::default(),
                };
                connectors.push(connector.clone());
                connector
            }
        };
        SharedHttpConnector::new(connector)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("reqwest", None))
    }
}

/// One connector: a reqwest client with the connect timeout, made on the first request, and the
/// read timeout (until the response's headers, as the SDK's own client measures it).
#[derive(Debug, Clone)]
struct ReqwestConnector {
    key: ConnectorKey,
    client: Arc<OnceLock<Result<reqwest::Client, String>>>,
}

impl ReqwestConnector {
    fn client(&self) -> Result<&reqwest::Client, ConnectorError> {
        self.client
            .get_or_init(|| {
                let mut builder = aws_client_builder();
                if let Some(timeout) = self.key.connect_timeout {
                    builder = builder.connect_timeout(timeout);
                }
                builder.build().map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| ConnectorError::user(e.clone().into()))
    }
}

impl HttpConnector for ReqwestConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = match self.client() {
            Ok(client) => client.clone(),
            Err(error) => return HttpConnectorFuture::ready(Err(error)),
        };
        let request = match request
            .try_into_http1x()
            .map_err(|e| ConnectorError::user(e.into()))
            .and_then(|request| {
                reqwest::Request::try_from(request.map(reqwest::Body::wrap))
                    .map_err(|e| ConnectorError::user(e.into()))
            }) {
            Ok(request) => request,
            Err(error) => return HttpConnectorFuture::ready(Err(error)),
        };
        let read_timeout = self.key.read_timeout;
        HttpConnectorFuture::new(async move {
            let sent = client.execute(request);
            let response = match read_timeout {
                None => sent.await,
                Some(limit) => match tokio::time::timeout(limit, sent).await {
                    Ok(response) => response,
                    Err(elapsed) => return Err(ConnectorError::timeout(elapsed.into())),
                },
            }
            .map_err(connector_error)?;
            let response: http::Response<reqwest::Body> = response.into();
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// A reqwest client for signed AWS requests, the SDK's and [`crate::aws_json`]'s: rising's TLS
/// config, no proxy, and no redirects (a request is signed for one URL; its sender decides what to
/// retry).
pub(crate) fn aws_client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config())
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
}

/// How the SDK's retry strategy sees a failed request: timeouts and connection failures (refused,
/// reset, DNS) are transient and retried, as is a request whose connection broke mid-way; a request
/// that could not be built is the caller's error and is not.
fn connector_error(error: reqwest::Error) -> ConnectorError {
    if error.is_timeout() {
        ConnectorError::timeout(error.into())
    } else if error.is_connect() || has_io_source(&error) {
        ConnectorError::io(error.into())
    } else if error.is_builder() {
        ConnectorError::user(error.into())
    } else if error.is_request() || error.is_body() {
        ConnectorError::other(error.into(), Some(ErrorKind::TransientError))
    } else {
        ConnectorError::other(error.into(), None)
    }
}

fn has_io_source(error: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(error), |e| e.source()).any(|e| e.is::<std::io::Error>())
}

/// The TLS configuration of the Twilio client: the same provider and roots as the AWS clients.
pub fn tls_config() -> rustls::ClientConfig {
    static CONFIG: LazyLock<rustls::ClientConfig> = LazyLock::new(|| {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth()
    });
    CONFIG.clone()
}

pub fn dynamodb(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

/// A local HTTP server for the tests of clients that talk to AWS over HTTP.
#[cfg(test)]
pub(crate) mod test_server {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// What [`server`] answers to close the connection without an answer.
    pub(crate) const CLOSE: &str = "close";

    /// A config for a client of the server at `endpoint`: `region`, and static credentials
    /// (access key `AKID`).
    pub(crate) fn sdk(endpoint: Option<String>, region: Option<&str>) -> super::SdkConfig {
        let mut builder = super::SdkConfig::builder().credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("AKID", "secret", None, None, "test"),
            ),
        );
        builder.set_region(region.map(|r| aws_sdk_dynamodb::config::Region::new(r.to_string())));
        builder.set_endpoint_url(endpoint);
        builder.build()
    }

    /// A one-line HTTP server: answers every request on every connection with `answer` (or with
    /// nothing, holding the connection open, when `answer` is empty), and hands back what it read.
    pub(crate) async fn server(
        answer: &'static str,
    ) -> (String, Arc<AtomicUsize>, Arc<Mutex<Vec<String>>>) {
        scripted(vec![answer]).await
    }

    /// As [`server`], with the n-th request answered `answers[n]` (the last one again once they run
    /// out).
    pub(crate) async fn scripted(
        answers: Vec<&'static str>,
    ) -> (String, Arc<AtomicUsize>, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (count, log) = (requests.clone(), seen.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (count, log, answers) = (count.clone(), log.clone(), answers.clone());
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 64 * 1024];
                    let mut read = 0;
                    // One request: headers, then the body its Content-Length announces.
                    let answer = loop {
                        let Ok(n) = socket.read(&mut buffer[read..]).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        read += n;
                        let text = String::from_utf8_lossy(&buffer[..read]).to_string();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let length = text[..end]
                                .lines()
                                .find_map(|l| {
                                    l.to_ascii_lowercase()
                                        .strip_prefix("content-length:")
                                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                                })
                                .unwrap_or(0);
                            if read >= end + 4 + length {
                                let n = count.fetch_add(1, Ordering::SeqCst);
                                log.lock().unwrap().push(text);
                                break answers[n.min(answers.len() - 1)];
                            }
                        }
                    };
                    if answer.is_empty() {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    } else if answer == CLOSE {
                        drop(socket);
                    } else {
                        let _ = socket.write_all(answer.as_bytes()).await;
                    }
                });
            }
        });
        (endpoint, requests, seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::config::retry::RetryConfig;
    use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
    use std::sync::atomic::Ordering;

    fn sdk_config(http: SharedHttpClient, endpoint: Option<String>) -> SdkConfig {
        let mut builder = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .http_client(http)
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKID", "secret", None, None, "test",
            )))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(1)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .read_timeout(Duration::from_millis(500))
                    .build(),
            );
        builder.set_endpoint_url(endpoint);
        builder.build()
    }

    /// A DynamoDB answer to `get_item`.
    const ITEM: &str = "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 30\r\n\r\n{\"Item\":{\"pk\":{\"S\":\"HOST#1\"}}}";

    use test_server::{CLOSE, server};

    async fn get_item(
        config: &SdkConfig,
    ) -> Result<
        aws_sdk_dynamodb::operation::get_item::GetItemOutput,
        aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::get_item::GetItemError>,
    > {
        dynamodb(config)
            .get_item()
            .table_name("rising")
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S("HOST#1".into()),
            )
            .send()
            .await
    }

    fn dispatch_failure<E: std::fmt::Debug, R: std::fmt::Debug>(
        error: &aws_sdk_dynamodb::error::SdkError<E, R>,
    ) -> &aws_smithy_runtime_api::client::result::DispatchFailure {
        match error {
            aws_sdk_dynamodb::error::SdkError::DispatchFailure(failure) => failure,
            other => panic!("expected a dispatch failure, got {other:?}"),
        }
    }

    fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn credentials_are_the_ones_lambda_puts_in_the_environment() {
        let credentials = EnvCredentials::read(vars(&[
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", " secret "),
            ("AWS_SESSION_TOKEN", "token"),
        ]))
        .unwrap();
        assert_eq!(credentials.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(credentials.secret_access_key(), "secret");
        assert_eq!(credentials.session_token(), Some("token"));

        let long_term = EnvCredentials::read(vars(&[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("SECRET_ACCESS_KEY", "other"),
            ("AWS_SESSION_TOKEN", "  "),
        ]))
        .unwrap();
        assert_eq!(long_term.secret_access_key(), "other", "the older name");
        assert_eq!(long_term.session_token(), None, "a blank token is none");
    }

    #[test]
    fn missing_credentials_say_which_variable_and_nothing_of_the_others() {
        let error = EnvCredentials::read(vars(&[("AWS_SECRET_ACCESS_KEY", "s3cr3t")])).unwrap_err();
        let text = format!(
            "{error:?} {}",
            aws_smithy_types::error::display::DisplayErrorContext(&error)
        );
        assert!(text.contains("AWS_ACCESS_KEY_ID is not set"), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(matches!(error, CredentialsError::CredentialsNotLoaded(_)));

        let error = EnvCredentials::read(vars(&[("AWS_ACCESS_KEY_ID", "AKID")])).unwrap_err();
        let text = aws_smithy_types::error::display::DisplayErrorContext(&error).to_string();
        assert!(text.contains("AWS_SECRET_ACCESS_KEY is not set"), "{text}");
    }

    #[tokio::test]
    async fn the_reqwest_client_is_made_on_the_first_request_and_shared() {
        let http = Arc::new(ReqwestHttpClient::default());
        struct Share(Arc<ReqwestHttpClient>);
        impl std::fmt::Debug for Share {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("Share")
            }
        }
        impl HttpClient for Share {
            fn http_connector(
                &self,
                settings: &HttpConnectorSettings,
                components: &RuntimeComponents,
            ) -> SharedHttpConnector {
                self.0.http_connector(settings, components)
            }
        }
        let sdk = sdk_config(SharedHttpClient::new(Share(http.clone())), None);
        let _client = dynamodb(&sdk);
        assert!(
            http.connectors
                .lock()
                .unwrap()
                .iter()
                .all(|c| c.client.get().is_none()),
            "no reqwest client (and no TLS config) is made before the first request"
        );

        let (endpoint, requests, _) = server(ITEM).await;
        let sdk = sdk_config(SharedHttpClient::new(Share(http.clone())), Some(endpoint));
        get_item(&sdk).await.expect("first request");
        get_item(&sdk).await.expect("a second client's request");
        assert_eq!(requests.load(Ordering::SeqCst), 2);
        let connectors = http.connectors.lock().unwrap();
        assert_eq!(
            connectors.len(),
            1,
            "one connector per timeout setting, shared"
        );
        assert!(connectors[0].client.get().is_some_and(Result::is_ok));
    }

    #[tokio::test]
    async fn a_signed_sdk_request_goes_out_over_http_1_1_and_its_answer_is_parsed() {
        let (endpoint, requests, seen) = server(ITEM).await;
        let config = sdk_config(http_client(), Some(endpoint));

        let output = get_item(&config).await.expect("the item comes back");

        assert_eq!(
            output.item().and_then(|i| i.get("pk")),
            Some(&aws_sdk_dynamodb::types::AttributeValue::S("HOST#1".into()))
        );
        assert_eq!(requests.load(Ordering::SeqCst), 1);
        let request = seen.lock().unwrap()[0].to_ascii_lowercase();
        assert!(request.starts_with("post / http/1.1\r\n"), "{request}");
        assert!(request.contains("x-amz-target: dynamodb_20120810.getitem"));
        assert!(request.contains("authorization: aws4-hmac-sha256 credential="));
        assert!(request.contains("\"tablename\":\"rising\""));
    }

    #[tokio::test]
    async fn a_connection_closed_without_an_answer_is_transient_and_retried() {
        // Reads the request and closes the connection: the answer never comes.
        let (endpoint, requests, _) = server(CLOSE).await;
        let config = sdk_config(http_client(), Some(endpoint));

        let error = get_item(&config).await.expect_err("no answer");

        let failure = dispatch_failure(&error);
        assert!(
            failure.is_io() || failure.as_other() == Some(ErrorKind::TransientError),
            "{failure:?}"
        );
        assert_eq!(
            requests.load(Ordering::SeqCst),
            3,
            "every attempt the retry policy allows"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_io_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let config = sdk_config(http_client(), Some(endpoint));

        let error = get_item(&config).await.expect_err("nobody listens");

        assert!(dispatch_failure(&error).is_io(), "{error:?}");
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_a_timeout() {
        let (endpoint, requests, _) = server("").await;
        let config = sdk_config(http_client(), Some(endpoint));

        let error = get_item(&config).await.expect_err("no answer in time");

        assert!(dispatch_failure(&error).is_timeout(), "{error:?}");
        assert_eq!(requests.load(Ordering::SeqCst), 3, "timeouts are retried");
    }

    #[tokio::test]
    async fn a_redirect_goes_back_to_the_sdk_and_is_not_followed() {
        let (endpoint, requests, _) = server(
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:9/elsewhere\r\ncontent-length: 0\r\n\r\n",
        )
        .await;
        let config = sdk_config(http_client(), Some(endpoint));

        let error = get_item(&config)
            .await
            .expect_err("a redirect is not an item");

        let status = error.raw_response().map(|r| r.status().as_u16());
        assert_eq!(status, Some(307), "{error:?}");
        assert_eq!(requests.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn every_compiled_in_root_is_trusted() {
        let count = webpki_root_certs::TLS_SERVER_ROOT_CERTS.len();
        assert!(count > 100, "Mozilla's store has well over 100 roots");
        let mut store = rustls::RootCertStore::empty();
        let (added, ignored) = store
            .add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
        assert_eq!((added, ignored), (count, 0), "each root parses");
        let config = tls_config();
        assert!(
            config
                .crypto_provider()
                .cipher_suites
                .iter()
                .any(|s| s.version() == &rustls::version::TLS13)
        );
    }
}

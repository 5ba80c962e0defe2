//! AWS clients, built once per cold start. Loading the shared config reads the environment
//! (`AWS_REGION`, `AWS_ENDPOINT_URL` for the local emulators, credentials) without calling AWS:
//! credentials are resolved lazily on the first request.
//!
//! Every outbound connection, to AWS and to Twilio, goes through one TLS stack: rustls with the
//! ring provider and Mozilla's root certificates compiled into the binary (`webpki-root-certs`).
//! The SDK's own default client would bring a second crypto library (aws-lc-rs, about 1.5 MB in
//! every binary) and read the system's certificate store at each cold start.

use std::sync::{Arc, LazyLock, OnceLock};

pub use aws_config::SdkConfig;
use aws_sdk_dynamodb::config::{Region, SharedCredentialsProvider, SharedHttpClient};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use base64::Engine as _;

/// The shared config of a Lambda function, from its environment only: the region (`AWS_REGION`),
/// the execution role's credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`: Lambda sets them) and, for the local emulators, `AWS_ENDPOINT_URL`. Retries,
/// timeouts and the rest are the SDK clients' defaults. aws-config's default chains (profile files,
/// SSO, web identity through STS, the instance metadata service) are never needed in Lambda; leaving
/// them out keeps their code out of every function and their work out of every cold start.
pub fn load() -> SdkConfig {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut builder = SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .http_client(http_client())
        .credentials_provider(SharedCredentialsProvider::new(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        ));
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
pub async fn load_with_profiles() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client())
        .load()
        .await
}

/// The HTTP client every AWS SDK client of this process uses (the connectors it builds are cached
/// and shared). rustls with ring, trusting the compiled-in roots only.
pub fn http_client() -> SharedHttpClient {
    static CLIENT: LazyLock<SharedHttpClient> =
        LazyLock::new(|| SharedHttpClient::new(ConnectorOnFirstRequest::default()));
    CLIENT.clone()
}

/// The SDK's hyper client, made and asked for a connector on the first request, not at init. The
/// SDK's client builds a throwaway connector in every `Client::from_conf`
/// (`validate_base_client_config`), so that a broken system certificate store shows at
/// construction: it parsed all the compiled-in roots again for each SDK client, about 0.3 ms each,
/// 1.5 ms of a cold start with five clients (`make bench`). Compiled-in roots cannot be broken, so
/// that check is left out. The connector is the SDK's, cached per timeout settings as before.
#[derive(Debug, Default, Clone)]
struct ConnectorOnFirstRequest(Arc<OnceLock<SharedHttpClient>>);

impl ConnectorOnFirstRequest {
    fn client(&self) -> &SharedHttpClient {
        self.0.get_or_init(|| {
            let mut trust = TrustStore::empty().with_native_roots(false);
            for pem in root_pems() {
                trust = trust.with_pem_certificate(pem.into_bytes());
            }
            let context = TlsContext::builder()
                .with_trust_store(trust)
                .build()
                .unwrap_or_else(|_| TlsContext::default());
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
                .tls_context(context)
                .build_https()
        })
    }
}

impl HttpClient for ConnectorOnFirstRequest {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.client().http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.client().connector_metadata()
    }
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

/// The compiled-in roots as PEM, the form the SDK's trust store takes.
fn root_pems() -> impl Iterator<Item = String> {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().map(|der| {
        let body = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let mut pem = String::with_capacity(body.len() + body.len() / 64 + 64);
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in body.as_bytes().chunks(64) {
            // base64 output is ASCII.
            pem.push_str(std::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
        pem
    })
}

pub fn dynamodb(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

pub fn ssm(config: &SdkConfig) -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(config)
}

pub fn kms(config: &SdkConfig) -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::new(config)
}

pub fn ses(config: &SdkConfig) -> aws_sdk_sesv2::Client {
    aws_sdk_sesv2::Client::new(config)
}

pub fn sqs(config: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(config)
}

pub fn eventbridge(config: &SdkConfig) -> aws_sdk_eventbridge::Client {
    aws_sdk_eventbridge::Client::new(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructing_the_sdk_clients_builds_no_connector_and_parses_no_certificate() {
        let http = ConnectorOnFirstRequest::default();
        let sdk = SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .http_client(SharedHttpClient::new(http.clone()))
            .credentials_provider(SharedCredentialsProvider::new(
                aws_sdk_dynamodb::config::Credentials::for_tests(),
            ))
            .build();
        let _clients = (
            dynamodb(&sdk),
            ssm(&sdk),
            kms(&sdk),
            ses(&sdk),
            sqs(&sdk),
            eventbridge(&sdk),
        );
        assert!(
            http.0.get().is_none(),
            "the SDK's hyper client is made on the first request"
        );
        assert!(http.connector_metadata().is_some());
        assert!(http.0.get().is_some());
    }

    #[test]
    fn every_compiled_in_root_is_trusted_by_both_clients() {
        let count = webpki_root_certs::TLS_SERVER_ROOT_CERTS.len();
        assert!(count > 100, "Mozilla's store has well over 100 roots");
        let mut store = rustls::RootCertStore::empty();
        for pem in root_pems() {
            use rustls::pki_types::pem::PemObject as _;
            let der = rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
                .expect("each root round-trips through PEM");
            store.add(der).expect("each root parses");
        }
        assert_eq!(store.len(), count);
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

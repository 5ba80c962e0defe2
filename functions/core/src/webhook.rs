//! Authenticating Twilio's webhooks (`/sms/inbound`, `/sms/status`): body limit, `X-Twilio-Signature`
//! over the public URL Twilio was given, and the account. Also loads, once per execution environment,
//! the secrets every webhook needs: the Auth Token and the contact hash key.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use tokio::sync::OnceCell;

use crate::config::WebhookConfig;
use crate::privacy::{ContactHasher, HashKeyError};
use crate::secrets::{SecretError, SecretStore};
use crate::sms::signature;

/// Twilio's webhook bodies are small (an SMS is at most 1600 characters); anything above this is refused.
pub const WEBHOOK_BODY_LIMIT: usize = 64 * 1024;

/// Why a webhook request is not (known to be) from Twilio for our account.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("request body is larger than {WEBHOOK_BODY_LIMIT} bytes")]
    TooLarge,
    #[error("missing X-Twilio-Signature header")]
    MissingSignature,
    #[error("X-Twilio-Signature does not match this request")]
    BadSignature,
    #[error("the request is for another Twilio account")]
    WrongAccount,
    #[error("cannot tell which URL Twilio called: set PUBLIC_BASE_URL")]
    UnknownPublicUrl,
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("contact hash key: {0}")]
    HashKey(#[from] HashKeyError),
}

impl WebhookError {
    /// Whether the fault is ours (configuration, secrets), not the caller's.
    pub fn is_server_error(&self) -> bool {
        matches!(
            self,
            Self::UnknownPublicUrl | Self::Secret(_) | Self::HashKey(_)
        )
    }
}

/// Secrets every webhook needs, fetched together on first use.
pub struct WebhookKeys {
    pub auth_token: String,
    pub hasher: ContactHasher,
}

/// An authenticated webhook: its form parameters and the keys, for hashing contact details.
pub struct Authenticated<'a> {
    pub params: Vec<(String, String)>,
    pub keys: &'a WebhookKeys,
}

impl Authenticated<'_> {
    /// The first value of a form parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Checks Twilio webhooks. Built once per cold start without I/O; secrets come on the first request.
pub struct TwilioWebhook<K> {
    config: WebhookConfig,
    secrets: K,
    keys: OnceCell<WebhookKeys>,
}

impl<K: SecretStore> TwilioWebhook<K> {
    pub fn new(config: WebhookConfig, secrets: K) -> Self {
        Self {
            config,
            secrets,
            keys: OnceCell::new(),
        }
    }

    async fn keys(&self) -> Result<&WebhookKeys, WebhookError> {
        self.keys
            .get_or_try_init(|| async {
                let (token, key) = tokio::try_join!(
                    self.secrets.fetch(&self.config.auth_token_parameter),
                    self.secrets.fetch(&self.config.contact_hash_key_parameter),
                )?;
                Ok::<_, WebhookError>(WebhookKeys {
                    auth_token: token,
                    hasher: ContactHasher::from_base64(&key)?,
                })
            })
            .await
    }

    /// Verifies size, signature and account; returns the form parameters.
    pub async fn authenticate(&self, request: &Request) -> Result<Authenticated<'_>, WebhookError> {
        let body = request.body().as_ref();
        if body.len() > WEBHOOK_BODY_LIMIT {
            return Err(WebhookError::TooLarge);
        }
        let signature_header = request
            .headers()
            .get("x-twilio-signature")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .ok_or(WebhookError::MissingSignature)?;
        let url = self.public_url(request)?;
        let params = signature::parse_form(body);
        let keys = self.keys().await?;
        if !signature::validate_form(&keys.auth_token, &url, &params, signature_header) {
            return Err(WebhookError::BadSignature);
        }
        let authenticated = Authenticated { params, keys };
        if authenticated.param("AccountSid") != Some(self.config.account_sid.as_str()) {
            return Err(WebhookError::WrongAccount);
        }
        Ok(authenticated)
    }

    /// The URL Twilio signed: the configured public base URL (or the API's own domain) + the path it
    /// was given (`rawPath`, which keeps a named stage or a custom-domain mapping) + the raw query.
    fn public_url(&self, request: &Request) -> Result<String, WebhookError> {
        let raw_path = request.raw_http_path();
        let raw_path = if raw_path.is_empty() {
            request.uri().path()
        } else {
            raw_path
        };
        let query = request.uri().query().unwrap_or("");
        let base = match &self.config.public_base_url {
            Some(base) => base.clone(),
            None => match request.request_context_ref() {
                Some(RequestContext::ApiGatewayV2(ctx)) => ctx
                    .domain_name
                    .as_deref()
                    .map(signature::derived_public_base_url)
                    .ok_or(WebhookError::UnknownPublicUrl)?,
                _ => return Err(WebhookError::UnknownPublicUrl),
            },
        };
        Ok(signature::webhook_url(&base, raw_path, query))
    }
}

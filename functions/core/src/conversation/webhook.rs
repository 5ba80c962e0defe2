//! The HTTP side of `POST /sms/inbound`: authenticate Twilio's request, parse it, hand it to the
//! conversation, answer TwiML. Every failure is an [`InboundSmsError`], mapped to a status in one place.

use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use lambda_http::request::RequestContext;
use time::OffsetDateTime;
use tokio::sync::OnceCell;

use super::{InboundText, respond};
use crate::config::SmsInboundConfig;
use crate::domain::{MessageSid, PhoneNumber};
use crate::privacy::{ContactHasher, HashKeyError};
use crate::secrets::{SecretError, SecretStore};
use crate::sms::{signature, twiml};
use crate::store::{InboundStore, StoreError};

/// Twilio's inbound bodies are at most 1600 characters; a form of them stays far below this.
pub const WEBHOOK_BODY_LIMIT: usize = 64 * 1024;

/// Why an inbound webhook was refused or failed. Messages name no personal data.
#[derive(Debug, thiserror::Error)]
pub enum InboundSmsError {
    #[error("request body is larger than {WEBHOOK_BODY_LIMIT} bytes")]
    TooLarge,
    #[error("missing X-Twilio-Signature header")]
    MissingSignature,
    #[error("X-Twilio-Signature does not match this request")]
    BadSignature,
    #[error("the request is for another Twilio account")]
    WrongAccount,
    #[error("missing field {0}")]
    MissingField(&'static str),
    #[error("MessageSid is not a Twilio message id")]
    InvalidMessageSid,
    #[error("the sender is not a valid phone number")]
    InvalidSender,
    #[error("cannot tell which URL Twilio called: set PUBLIC_BASE_URL")]
    UnknownPublicUrl,
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("contact hash key: {0}")]
    HashKey(#[from] HashKeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl InboundSmsError {
    /// The one place where errors become HTTP statuses.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MissingSignature | Self::BadSignature | Self::WrongAccount => StatusCode::FORBIDDEN,
            Self::MissingField(_) | Self::InvalidMessageSid | Self::InvalidSender => StatusCode::BAD_REQUEST,
            Self::UnknownPublicUrl | Self::Secret(_) | Self::HashKey(_) | Self::Store(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

/// Secrets needed per request, fetched together on first use and kept for the execution environment.
struct Keys {
    auth_token: String,
    hasher: ContactHasher,
}

/// The `sms-inbound` function: its configuration and dependencies, built once per cold start.
pub struct SmsInbound<S, K> {
    config: SmsInboundConfig,
    store: S,
    secrets: K,
    keys: OnceCell<Keys>,
}

impl<S: InboundStore, K: SecretStore> SmsInbound<S, K> {
    /// Builds the handler. Does no I/O: secrets are fetched on the first request.
    pub fn new(config: SmsInboundConfig, store: S, secrets: K) -> Self {
        Self { config, store, secrets, keys: OnceCell::new() }
    }

    /// Handles one request; never fails at the Lambda level (errors become HTTP responses).
    pub async fn handle(&self, request: Request) -> Response<Body> {
        match self.try_handle(&request, OffsetDateTime::now_utc()).await {
            Ok(reply) => xml_response(StatusCode::OK, reply),
            Err(error) => {
                let status = error.status();
                if status.is_server_error() {
                    tracing::error!(error = %error, status = status.as_u16(), "inbound webhook failed");
                } else {
                    tracing::warn!(error = %error, status = status.as_u16(), "inbound webhook refused");
                }
                text_response(status, error.to_string())
            }
        }
    }

    async fn keys(&self) -> Result<&Keys, InboundSmsError> {
        self.keys
            .get_or_try_init(|| async {
                let (token, key) = tokio::try_join!(
                    self.secrets.fetch(&self.config.twilio.auth_token_parameter),
                    self.secrets.fetch(&self.config.contact_hash_key_parameter),
                )?;
                Ok::<_, InboundSmsError>(Keys { auth_token: token, hasher: ContactHasher::from_base64(&key)? })
            })
            .await
    }

    #[tracing::instrument(name = "sms_inbound", skip_all)]
    async fn try_handle(&self, request: &Request, now: OffsetDateTime) -> Result<String, InboundSmsError> {
        let body = request.body().as_ref();
        if body.len() > WEBHOOK_BODY_LIMIT {
            return Err(InboundSmsError::TooLarge);
        }
        let signature_header = request
            .headers()
            .get("x-twilio-signature")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .ok_or(InboundSmsError::MissingSignature)?;
        let url = self.public_url(request)?;
        let params = signature::parse_form(body);
        let keys = self.keys().await?;
        if !signature::validate_form(&keys.auth_token, &url, &params, signature_header) {
            return Err(InboundSmsError::BadSignature);
        }
        let field = |name: &'static str| {
            params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).ok_or(InboundSmsError::MissingField(name))
        };
        if field("AccountSid")? != self.config.twilio.account_sid {
            return Err(InboundSmsError::WrongAccount);
        }
        let text = InboundText {
            sid: MessageSid::parse(field("MessageSid")?).map_err(|_| InboundSmsError::InvalidMessageSid)?,
            from: PhoneNumber::parse(field("From")?).map_err(|_| InboundSmsError::InvalidSender)?,
            body: field("Body")?.to_string(),
        };
        Ok(respond(&self.store, &keys.hasher, &text, now).await?)
    }

    /// The URL Twilio signed: the configured public base URL (or the API's own domain) + the path it
    /// was given + the raw query string.
    fn public_url(&self, request: &Request) -> Result<String, InboundSmsError> {
        let raw_path = request.raw_http_path();
        let raw_path = if raw_path.is_empty() { request.uri().path() } else { raw_path };
        let query = request.uri().query().unwrap_or("");
        let base = match &self.config.public_base_url {
            Some(base) => base.clone(),
            None => match request.request_context_ref() {
                Some(RequestContext::ApiGatewayV2(ctx)) => ctx
                    .domain_name
                    .as_deref()
                    .map(|d| format!("https://{d}"))
                    .ok_or(InboundSmsError::UnknownPublicUrl)?,
                _ => return Err(InboundSmsError::UnknownPublicUrl),
            },
        };
        Ok(signature::webhook_url(&base, raw_path, query))
    }
}

fn xml_response(status: StatusCode, reply: String) -> Response<Body> {
    let twiml = if reply.is_empty() { twiml::empty() } else { twiml::messages(&[reply.as_str()]) };
    response(status, twiml::TWIML_CONTENT_TYPE, twiml)
}

fn text_response(status: StatusCode, message: String) -> Response<Body> {
    response(status, "text/plain; charset=utf-8", message)
}

fn response(status: StatusCode, content_type: &str, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(http::header::CONTENT_TYPE, value);
    }
    response
}

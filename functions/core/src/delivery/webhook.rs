//! The HTTP side of `POST /sms/status`: authenticate Twilio's status callback, parse it, record it,
//! answer `204 No Content`. Every failure is a [`StatusCallbackError`], mapped to a status in one place.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use time::OffsetDateTime;

use super::{DeliveryStatus, MissingRecipient, StatusCallback, UnknownStatus, record};
use crate::config::SmsStatusConfig;
use crate::domain::{MessageSid, PhoneNumber};
use crate::outbound::BatchId;
use crate::secrets::SecretStore;
use crate::store::{DeliveryStore, StoreError};
use crate::webhook::{TwilioWebhook, WebhookError};

/// Why a status callback was refused or failed. Messages name no personal data and echo no input.
#[derive(Debug, thiserror::Error)]
pub enum StatusCallbackError {
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    #[error("missing field {0}")]
    MissingField(&'static str),
    #[error("MessageSid is not a Twilio message id")]
    InvalidMessageSid,
    #[error(transparent)]
    InvalidStatus(#[from] UnknownStatus),
    #[error("ErrorCode is not a Twilio error code")]
    InvalidErrorCode,
    #[error("To is not a valid phone number")]
    InvalidRecipient,
    #[error("batch in the callback URL is not a batch id")]
    InvalidBatch,
    #[error(transparent)]
    MissingRecipient(#[from] MissingRecipient),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl StatusCallbackError {
    /// The one place where errors become HTTP statuses.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Webhook(WebhookError::TooLarge) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Webhook(e) if e.is_server_error() => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Webhook(_) => StatusCode::FORBIDDEN,
            Self::MissingField(_)
            | Self::InvalidMessageSid
            | Self::InvalidStatus(_)
            | Self::InvalidErrorCode
            | Self::InvalidRecipient
            | Self::InvalidBatch
            | Self::MissingRecipient(_) => StatusCode::BAD_REQUEST,
            Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The `sms-status` function: its dependencies, built once per cold start.
pub struct SmsStatus<S, K> {
    webhook: TwilioWebhook<K>,
    store: S,
}

impl<S: DeliveryStore, K: SecretStore> SmsStatus<S, K> {
    /// Builds the handler. Does no I/O: secrets are fetched on the first request.
    pub fn new(config: SmsStatusConfig, store: S, secrets: K) -> Self {
        Self {
            webhook: TwilioWebhook::new(config.webhook, secrets),
            store,
        }
    }

    /// The store, for tests that look at what was recorded.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Handles one request; never fails at the Lambda level (errors become HTTP responses).
    pub async fn handle(&self, request: Request) -> Response<Body> {
        match self.try_handle(&request, OffsetDateTime::now_utc()).await {
            Ok(()) => response(StatusCode::NO_CONTENT, Body::Empty),
            Err(error) => {
                let status = error.status();
                if status.is_server_error() {
                    tracing::error!(error = %error, status = status.as_u16(), "status callback failed");
                } else {
                    tracing::warn!(error = %error, status = status.as_u16(), "status callback refused");
                }
                let mut response = response(status, Body::Text(error.to_string()));
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                response
            }
        }
    }

    #[tracing::instrument(name = "sms_status", skip_all)]
    async fn try_handle(
        &self,
        request: &Request,
        now: OffsetDateTime,
    ) -> Result<(), StatusCallbackError> {
        let webhook = self.webhook.authenticate(request).await?;
        let field = |name: &'static str| {
            webhook
                .param(name)
                .ok_or(StatusCallbackError::MissingField(name))
        };
        // Optional fields: absent and empty are the same.
        let optional = |name: &str| webhook.param(name).filter(|v| !v.is_empty());
        let sid = MessageSid::parse(field("MessageSid")?)
            .map_err(|_| StatusCallbackError::InvalidMessageSid)?;
        let status = DeliveryStatus::parse(field("MessageStatus")?)?;
        let error_code = optional("ErrorCode")
            .map(|code| {
                code.parse::<u32>()
                    .map_err(|_| StatusCallbackError::InvalidErrorCode)
            })
            .transpose()?;
        let recipient = optional("To")
            .map(|to| PhoneNumber::from_e164(to).map_err(|_| StatusCallbackError::InvalidRecipient))
            .transpose()?;
        let callback = StatusCallback::new(sid, status, error_code, recipient)?;
        // The send worker names a text's batch in its callback URL; the signature covers it.
        let batch = crate::web::query_param(request, "batch")
            .map(|b| BatchId::parse(&b).ok_or(StatusCallbackError::InvalidBatch))
            .transpose()?;
        record(
            &self.store,
            &webhook.keys.hasher,
            &callback,
            batch.as_ref(),
            now,
        )
        .await?;
        Ok(())
    }
}

fn response(status: StatusCode, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}

//! The HTTP side of `POST /sms/inbound`: authenticate Twilio's request, parse it, hand it to the
//! conversation, answer TwiML. Every failure is an [`InboundSmsError`], mapped to a status in one place.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use time::OffsetDateTime;

use super::{Conversation, ConversationError, InboundText};
use crate::config::{CampaignConfig, ProgramConfig, SmsInboundConfig};
use crate::domain::{MessageSid, PhoneNumber};
use crate::privacy::Sealer;
use crate::secrets::SecretStore;
use crate::sms::twiml;
use crate::store::{ErasureStore, GatheringStore, InboundStore, KeywordStore, RsvpStore};
use crate::webhook::{TwilioWebhook, WebhookError};

/// Why an inbound webhook was refused or failed. Messages name no personal data.
#[derive(Debug, thiserror::Error)]
pub enum InboundSmsError {
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    #[error("missing field {0}")]
    MissingField(&'static str),
    #[error("MessageSid is not a Twilio message id")]
    InvalidMessageSid,
    #[error("the sender is not a valid phone number")]
    InvalidSender,
    #[error(transparent)]
    Conversation(#[from] ConversationError),
}

impl InboundSmsError {
    /// The one place where errors become HTTP statuses.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Webhook(WebhookError::TooLarge) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Webhook(e) if e.is_server_error() => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Webhook(_) => StatusCode::FORBIDDEN,
            Self::MissingField(_) | Self::InvalidMessageSid | Self::InvalidSender => {
                StatusCode::BAD_REQUEST
            }
            Self::Conversation(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The `sms-inbound` function: its dependencies, built once per cold start.
pub struct SmsInbound<S, G, K> {
    webhook: TwilioWebhook<K>,
    program: ProgramConfig,
    campaign: CampaignConfig,
    store: S,
    gatherings: G,
    sealer: Sealer,
}

impl<S, G, K> SmsInbound<S, G, K>
where
    S: InboundStore + ErasureStore<G>,
    G: GatheringStore + RsvpStore + KeywordStore,
    K: SecretStore,
{
    /// Builds the handler. Does no I/O: secrets and data keys are fetched on the first request.
    pub fn new(
        config: SmsInboundConfig,
        store: S,
        gatherings: G,
        sealer: Sealer,
        secrets: K,
    ) -> Self {
        Self {
            webhook: TwilioWebhook::new(config.webhook, secrets),
            program: config.program,
            campaign: config.campaign,
            store,
            gatherings,
            sealer,
        }
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

    #[tracing::instrument(name = "sms_inbound", skip_all)]
    async fn try_handle(
        &self,
        request: &Request,
        now: OffsetDateTime,
    ) -> Result<String, InboundSmsError> {
        let webhook = self.webhook.authenticate(request).await?;
        let field = |name: &'static str| {
            webhook
                .param(name)
                .ok_or(InboundSmsError::MissingField(name))
        };
        let text = InboundText {
            sid: MessageSid::parse(field("MessageSid")?)
                .map_err(|_| InboundSmsError::InvalidMessageSid)?,
            from: PhoneNumber::parse(field("From")?).map_err(|_| InboundSmsError::InvalidSender)?,
            body: field("Body")?.to_string(),
            opt_out_type: webhook.param("OptOutType").map(str::to_string),
        };
        let conversation = Conversation {
            store: &self.store,
            gatherings: &self.gatherings,
            sealer: &self.sealer,
            hasher: &webhook.keys.hasher,
            program: &self.program,
            campaign: &self.campaign,
        };
        Ok(conversation.respond(&text, now).await?)
    }
}
fn xml_response(status: StatusCode, reply: String) -> Response<Body> {
    let twiml = if reply.is_empty() {
        twiml::empty()
    } else {
        twiml::messages(&[reply.as_str()])
    };
    response(status, twiml::TWIML_CONTENT_TYPE, twiml)
}

fn text_response(status: StatusCode, message: String) -> Response<Body> {
    response(status, "text/plain; charset=utf-8", message)
}

fn response(status: StatusCode, content_type: &str, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, value);
    }
    response
}

//! The HTTP side of `POST /sms/inbound`: authenticate Twilio's request, parse it, hand it to the
//! conversation, answer TwiML. Every failure is an [`InboundSmsError`], mapped to a status in one place.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use time::OffsetDateTime;

use tokio::sync::OnceCell;

use super::{
    Conversation, ConversationError, EmailContext, InboundText, queued_for, reply_messages,
};
use crate::config::{CampaignConfig, EmailStepConfig, ProgramConfig, SmsInboundConfig};
use crate::domain::{MessageSid, PhoneNumber};
use crate::email::{Mailbox, TokenKey};
use crate::outbound::{QueueError, SendQueue};
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
    /// The email link key could not be read (a deployment problem).
    #[error("email link key unavailable: {0}")]
    LinkKey(String),
    /// The promised email could not be put on the send queue: Twilio's retry will try again.
    #[error(transparent)]
    Queue(#[from] QueueError),
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
            Self::Conversation(_) | Self::LinkKey(_) | Self::Queue(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

/// The `sms-inbound` function: its dependencies, built once per cold start.
pub struct SmsInbound<S, G, K, Q> {
    webhook: TwilioWebhook<K>,
    secrets: K,
    program: ProgramConfig,
    campaign: CampaignConfig,
    email_config: EmailStepConfig,
    /// Built on first use (the link key is a secret, read then).
    email: OnceCell<EmailContext>,
    store: S,
    gatherings: G,
    sealer: Sealer,
    queue: Q,
}

impl<S, G, K, Q> SmsInbound<S, G, K, Q>
where
    S: InboundStore + ErasureStore<G>,
    G: GatheringStore + RsvpStore + KeywordStore,
    K: SecretStore + Clone,
    Q: SendQueue,
{
    /// Builds the handler. Does no I/O: secrets and data keys are fetched on the first request.
    pub fn new(
        config: SmsInboundConfig,
        store: S,
        gatherings: G,
        sealer: Sealer,
        secrets: K,
        queue: Q,
    ) -> Self {
        Self {
            webhook: TwilioWebhook::new(config.webhook, secrets.clone()),
            secrets,
            program: config.program,
            campaign: config.campaign,
            email_config: config.email,
            email: OnceCell::new(),
            store,
            gatherings,
            sealer,
            queue,
        }
    }

    /// Who emails come from and how their links are signed (the key is read on first use).
    async fn email_context(&self) -> Result<&EmailContext, InboundSmsError> {
        self.email
            .get_or_try_init(|| async {
                let key = self
                    .secrets
                    .fetch(&self.email_config.link_key_parameter)
                    .await
                    .map_err(|e| InboundSmsError::LinkKey(e.to_string()))?;
                Ok(EmailContext {
                    from: Mailbox::new(&self.program.name, self.email_config.from.clone()),
                    link_key: TokenKey::from_base64(&key)
                        .map_err(|e| InboundSmsError::LinkKey(e.to_string()))?,
                    links_base_url: self.email_config.links_base_url.clone(),
                })
            })
            .await
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
            from: PhoneNumber::from_e164(field("From")?)
                .map_err(|_| InboundSmsError::InvalidSender)?,
            body: field("Body")?.to_string(),
            opt_out_type: webhook.param("OptOutType").map(str::to_string),
        };
        let email = self.email_context().await?;
        let conversation = Conversation {
            store: &self.store,
            gatherings: &self.gatherings,
            sealer: &self.sealer,
            hasher: &webhook.keys.hasher,
            program: &self.program,
            campaign: &self.campaign,
            email,
        };
        let reply = conversation.respond(&text, now).await?;
        // An email promised in this turn (or in the first delivery of this text) goes on the send
        // queue now; the worker sends it once, and acknowledges an id it does not find.
        if let Some(queued) = queued_for(&text.sid, &text.body, &webhook.keys.hasher) {
            self.queue
                .send(&[(queued, std::time::Duration::ZERO)])
                .await?;
        }
        Ok(reply)
    }
}
fn xml_response(status: StatusCode, reply: String) -> Response<Body> {
    let twiml = if reply.is_empty() {
        twiml::empty()
    } else {
        twiml::messages(&reply_messages(&reply))
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

//! Production adapters of the outbound ports: Twilio for texts, SQS for the send queue.

use std::time::Duration;

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use tokio::sync::OnceCell;
use tracing::warn;

use super::{BatchId, EmailGateway, QueueError, QueuedMessage, SendFailure, SendQueue, SmsGateway};
use crate::config::TwilioConfig;
use crate::domain::EmailAddress;
use crate::email::{EmailSender, SendEmailError, SendOptions};
use crate::secrets::SecretStore;
use crate::sms::{ClientConfig, OutboundMessage, Sender, TwilioAuth, TwilioClient, TwilioError};

/// Sends texts through Twilio. The Auth Token is read from the secret store on the first send, not
/// at init, and the client is kept for the life of the execution environment.
pub struct TwilioSmsGateway<K> {
    config: TwilioConfig,
    secrets: K,
    /// Where Twilio reports delivery (`/sms/status`), when known.
    status_callback: Option<String>,
    client: OnceCell<TwilioClient>,
}

impl<K: SecretStore> TwilioSmsGateway<K> {
    pub fn new(config: TwilioConfig, secrets: K, status_callback: Option<String>) -> Self {
        Self {
            config,
            secrets,
            status_callback,
            client: OnceCell::new(),
        }
    }

    async fn client(&self) -> Result<&TwilioClient, SendFailure> {
        self.client
            .get_or_try_init(|| async {
                let token = self
                    .secrets
                    .fetch(&self.config.auth_token_parameter)
                    .await
                    .map_err(|error| {
                        warn!(%error, "Twilio credentials unavailable");
                        SendFailure::Transient
                    })?;
                TwilioClient::new(
                    TwilioAuth::AuthToken {
                        account_sid: self.config.account_sid.clone(),
                        auth_token: token,
                    },
                    ClientConfig {
                        base_url: self.config.api_base_url.clone(),
                        ..ClientConfig::default()
                    },
                )
                .map_err(|error| {
                    warn!(%error, "Twilio client configuration unusable");
                    SendFailure::Transient
                })
            })
            .await
    }
}

impl<K: SecretStore> SmsGateway for TwilioSmsGateway<K> {
    async fn send_sms(
        &self,
        to: &str,
        body: &str,
        batch: Option<&BatchId>,
    ) -> Result<String, SendFailure> {
        let client = self.client().await?;
        let message = OutboundMessage {
            to: to.to_owned(),
            sender: Sender::From(self.config.phone_number.clone()),
            body: body.to_owned(),
            status_callback: self
                .status_callback
                .as_ref()
                .map(|url| status_callback_for(url, batch)),
        };
        client
            .send_message(&message)
            .await
            .map(|m| m.sid)
            .map_err(|error| {
                let failure = sms_failure(&error);
                if matches!(failure, SendFailure::Transient | SendFailure::Unknown) {
                    warn!(%error, "Twilio send did not complete");
                }
                failure
            })
    }
}

/// The status callback URL of a text: `url`, plus `?batch=<id>` for a text of a batch (a batch id
/// is URL-safe: letters, digits, `-` and `_`).
pub fn status_callback_for(url: &str, batch: Option<&BatchId>) -> String {
    match batch {
        Some(batch) => format!("{url}?batch={}", batch.as_str()),
        None => url.to_owned(),
    }
}

/// What a Twilio error means for the message. Only answers that prove nothing was created may be
/// retried; anything that may have created a message is `Unknown` and never sent again.
pub fn sms_failure(error: &TwilioError) -> SendFailure {
    match error {
        TwilioError::RecipientUnsubscribed => SendFailure::OptedOut {
            code: crate::sms::client::CODE_UNSUBSCRIBED,
        },
        TwilioError::InvalidRecipient { code } => SendFailure::Undeliverable { code: Some(*code) },
        TwilioError::RegionNotEnabled => SendFailure::Rejected {
            code: Some(crate::sms::client::CODE_REGION_NOT_ENABLED),
        },
        TwilioError::RateLimited { retry_after, .. } => SendFailure::Throttled {
            retry_after: *retry_after,
        },
        // Credentials are fixed by a person; until then the message waits on the queue.
        TwilioError::Authentication { .. } => SendFailure::Transient,
        TwilioError::Api { status, code, .. } if *status >= 500 => {
            let _ = code;
            SendFailure::Transient
        }
        TwilioError::Api { code, .. } => SendFailure::Rejected { code: *code },
        TwilioError::Transport(e) if e.is_connect() => SendFailure::Transient,
        // The request may have reached Twilio before the connection failed or the clock ran out, and
        // a 2xx with an unreadable body did create a message.
        TwilioError::Transport(_)
        | TwilioError::Timeout
        | TwilioError::UnexpectedResponse { .. } => SendFailure::Unknown,
        TwilioError::Config(_) | TwilioError::InvalidArgument(_) => {
            SendFailure::Rejected { code: None }
        }
    }
}

/// Sends emails through SES (Raw MIME), from the campaign's verified address.
pub struct SesEmailGateway<S> {
    sender: S,
    from: EmailAddress,
    configuration_set: Option<String>,
}

impl<S: EmailSender> SesEmailGateway<S> {
    pub fn new(sender: S, from: EmailAddress, configuration_set: Option<String>) -> Self {
        Self {
            sender,
            from,
            configuration_set,
        }
    }
}

impl<S: EmailSender> EmailGateway for SesEmailGateway<S> {
    async fn send_email(
        &self,
        to: &str,
        mime: &str,
        batch: Option<&BatchId>,
    ) -> Result<String, SendFailure> {
        let to = EmailAddress::parse(to).map_err(|_| SendFailure::Undeliverable { code: None })?;
        let tags: Vec<(&str, &str)> = batch
            .map(|b| (crate::email_events::BATCH_TAG, b.as_str()))
            .into_iter()
            .collect();
        let options = SendOptions {
            configuration_set: self.configuration_set.as_deref(),
            tags: &tags,
        };
        self.sender
            .send_raw(&self.from, &to, mime.as_bytes().to_vec(), &options)
            .await
            .map(|id| id.as_str().to_owned())
            .map_err(|error| {
                warn!(%error, "SES send did not complete");
                email_failure(&error)
            })
    }
}

/// What an SES error means for the message: account-level problems wait on the queue (and reach
/// the dead-letter queue if they last), a timeout may have sent it.
pub fn email_failure(error: &SendEmailError) -> SendFailure {
    match error {
        SendEmailError::Throttled => SendFailure::Throttled { retry_after: None },
        SendEmailError::DailyQuotaExceeded => SendFailure::Throttled {
            retry_after: Some(Duration::from_secs(60)),
        },
        SendEmailError::Rejected | SendEmailError::Other { .. } => {
            SendFailure::Rejected { code: None }
        }
        SendEmailError::AccountSuspended
        | SendEmailError::SendingPaused
        | SendEmailError::MailFromDomainNotVerified
        | SendEmailError::Unavailable => SendFailure::Transient,
        SendEmailError::TimedOut => SendFailure::Unknown,
    }
}

/// The send queue on SQS.
#[derive(Debug, Clone)]
pub struct SqsSendQueue {
    client: crate::aws::Lazy<aws_sdk_sqs::Client>,
    url: String,
}

impl SqsSendQueue {
    /// The queue at `url`, through an SQS client made on its first use.
    pub fn from_sdk(sdk: &crate::aws::SdkConfig, url: impl Into<String>) -> Self {
        Self::new(crate::aws::Lazy::new(sdk, crate::aws::sqs), url)
    }

    pub fn new(
        client: impl Into<crate::aws::Lazy<aws_sdk_sqs::Client>>,
        url: impl Into<String>,
    ) -> Self {
        Self {
            client: client.into(),
            url: url.into(),
        }
    }
}

/// Messages per `SendMessageBatch` (SQS's limit).
const SQS_BATCH_MAX: usize = 10;
/// SQS's longest delivery delay.
const SQS_MAX_DELAY_SECONDS: u64 = 900;

/// `SendMessageBatch` requests of one `send` in flight at once: a host's 200 invitations are 20
/// requests, and SQS answers each in milliseconds whatever the others do.
const SQS_BATCHES_IN_FLIGHT: usize = 4;

impl SqsSendQueue {
    /// Sends one `SendMessageBatch` of at most [`SQS_BATCH_MAX`] messages; the positions (in `chunk`)
    /// SQS accepted.
    async fn send_batch(
        &self,
        chunk: &[(QueuedMessage, Duration)],
    ) -> Result<Vec<usize>, QueueError> {
        let mut entries = Vec::with_capacity(chunk.len());
        for (i, (message, delay)) in chunk.iter().enumerate() {
            let body = serde_json::to_string(message).map_err(|e| QueueError {
                operation: "serialize",
                source: Box::new(e),
            })?;
            let delay = i32::try_from(delay.as_secs().min(SQS_MAX_DELAY_SECONDS)).unwrap_or(0);
            let entry = SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(body)
                .delay_seconds(delay)
                .build()
                .map_err(|e| QueueError {
                    operation: "build SendMessageBatch",
                    source: Box::new(e),
                })?;
            entries.push(entry);
        }
        let output = self
            .client
            .get()
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| QueueError {
                operation: "SendMessageBatch",
                source: Box::new(e),
            })?;
        Ok(output
            .successful
            .iter()
            .filter_map(|ok| ok.id.parse::<usize>().ok())
            .collect())
    }
}

impl SendQueue for SqsSendQueue {
    async fn send(&self, messages: &[(QueuedMessage, Duration)]) -> Result<Vec<bool>, QueueError> {
        use futures::StreamExt;
        let mut accepted = vec![false; messages.len()];
        let requests: Vec<_> = messages
            .chunks(SQS_BATCH_MAX)
            .enumerate()
            .map(|(chunk_index, chunk)| {
                let request = self.send_batch(chunk);
                async move { request.await.map(|ok| (chunk_index, ok)) }
            })
            .collect();
        let mut batches = futures::stream::iter(requests).buffer_unordered(SQS_BATCHES_IN_FLIGHT);
        while let Some(batch) = batches.next().await {
            let (chunk_index, ok) = batch?;
            for i in ok {
                if let Some(slot) = accepted.get_mut(chunk_index * SQS_BATCH_MAX + i) {
                    *slot = true;
                }
            }
        }
        Ok(accepted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_answers_that_prove_nothing_was_sent_are_retried() {
        assert_eq!(
            sms_failure(&TwilioError::RecipientUnsubscribed),
            SendFailure::OptedOut { code: 21610 }
        );
        assert_eq!(
            sms_failure(&TwilioError::InvalidRecipient { code: 21211 }),
            SendFailure::Undeliverable { code: Some(21211) }
        );
        assert!(matches!(
            sms_failure(&TwilioError::RateLimited {
                attempts: 3,
                retry_after: Some(Duration::from_secs(2))
            }),
            SendFailure::Throttled { .. }
        ));
        let server_error = TwilioError::Api {
            status: 503,
            code: None,
            message: String::new(),
            more_info: None,
        };
        assert_eq!(sms_failure(&server_error), SendFailure::Transient);
        assert_eq!(sms_failure(&TwilioError::Timeout), SendFailure::Unknown);
        assert_eq!(
            sms_failure(&TwilioError::UnexpectedResponse {
                status: 201,
                reason: "no sid".into()
            }),
            SendFailure::Unknown
        );
        let bad_request = TwilioError::Api {
            status: 400,
            code: Some(21602),
            message: String::new(),
            more_info: None,
        };
        assert_eq!(
            sms_failure(&bad_request),
            SendFailure::Rejected { code: Some(21602) }
        );
    }
}

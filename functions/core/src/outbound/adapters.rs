//! Production adapters of the outbound ports: Twilio for texts, SQS for the send queue.

use std::time::Duration;

use tokio::sync::OnceCell;
use tracing::warn;

use super::{BatchId, EmailGateway, QueueError, QueuedMessage, SendFailure, SendQueue, SmsGateway};
use crate::aws_json::AwsJsonClient;
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

/// The send queue on SQS, through its JSON 1.0 API (`SendMessageBatch` is its one call here).
#[derive(Debug, Clone)]
pub struct SqsSendQueue {
    client: AwsJsonClient,
    url: String,
}

impl SqsSendQueue {
    /// The queue at `url`, with the config's region, credentials and endpoint. No network call
    /// until the first send.
    pub fn from_sdk(sdk: &crate::aws::SdkConfig, url: impl Into<String>) -> Self {
        Self::new(AwsJsonClient::json_1_0(sdk, "sqs", "AmazonSQS"), url)
    }

    pub fn new(client: AwsJsonClient, url: impl Into<String>) -> Self {
        Self {
            client,
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

/// The part of a `SendMessageBatch` answer read here: the entries SQS accepted. Those it did not
/// (`Failed`) are not sent, and come back as `false`.
#[derive(serde::Deserialize)]
struct SendMessageBatchAnswer {
    #[serde(rename = "Successful", default)]
    successful: Vec<BatchEntryId>,
}

#[derive(serde::Deserialize)]
struct BatchEntryId {
    #[serde(rename = "Id")]
    id: String,
}

impl SqsSendQueue {
    /// Sends one `SendMessageBatch` of at most [`SQS_BATCH_MAX`] messages; the positions (in `chunk`)
    /// SQS accepted. Sent again after a timeout or a broken connection: a message queued twice
    /// is sent once, as the worker claims a message before sending it.
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
            entries.push(serde_json::json!({
                "Id": i.to_string(),
                "MessageBody": body,
                "DelaySeconds": delay.as_secs().min(SQS_MAX_DELAY_SECONDS),
            }));
        }
        let request = serde_json::json!({ "QueueUrl": self.url, "Entries": entries });
        let answer: SendMessageBatchAnswer = self
            .client
            .call("SendMessageBatch", &request)
            .await
            .map_err(|e| QueueError {
            operation: "SendMessageBatch",
            source: Box::new(e),
        })?;
        Ok(answer
            .successful
            .iter()
            .filter_map(|ok| ok.id.parse::<usize>().ok())
            .filter(|&i| i < chunk.len())
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
    use crate::aws::test_server::scripted;
    use crate::outbound::{Channel, OutboundId};
    use crate::privacy::ContactHash;
    use std::sync::atomic::Ordering;

    const QUEUE: &str = "https://sqs.eu-west-1.amazonaws.com/123456789012/rising-send";

    fn queue(endpoint: String) -> SqsSendQueue {
        let sdk = crate::aws::test_server::sdk(Some(endpoint), Some("eu-west-1"));
        SqsSendQueue::from_sdk(&sdk, QUEUE)
    }

    fn answer(status: &str, body: &str) -> &'static str {
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .leak()
    }

    fn accepted(ids: &[usize]) -> &'static str {
        let entries: Vec<_> = ids
            .iter()
            .map(|i| serde_json::json!({ "Id": i.to_string(), "MessageId": format!("m-{i}"), "MD5OfMessageBody": "x" }))
            .collect();
        answer(
            "200 OK",
            &serde_json::json!({ "Successful": entries, "Failed": [] }).to_string(),
        )
    }

    fn messages(n: usize) -> Vec<(QueuedMessage, Duration)> {
        (0..n)
            .map(|i| {
                let message = QueuedMessage {
                    id: OutboundId::parse(&format!("m{i}")).unwrap(),
                    contact: ContactHash::parse("p.queue").unwrap(),
                    channel: Channel::Sms,
                };
                (message, Duration::from_secs(i as u64 * 100))
            })
            .collect()
    }

    fn body(request: &str) -> serde_json::Value {
        let (_, body) = request.split_once("\r\n\r\n").unwrap();
        serde_json::from_str(body).unwrap()
    }

    #[tokio::test]
    async fn twelve_messages_go_out_as_two_signed_send_message_batch_calls() {
        let (endpoint, requests, seen) = scripted(vec![
            accepted(&(0..10).collect::<Vec<_>>()),
            accepted(&[0, 1]),
        ])
        .await;
        let queue = queue(endpoint);

        let sent = queue.send(&messages(12)).await.unwrap();

        assert_eq!(sent, vec![true; 12]);
        assert_eq!(requests.load(Ordering::SeqCst), 2);
        let seen = seen.lock().unwrap().clone();
        let mut entries = Vec::new();
        for request in &seen {
            let lower = request.to_ascii_lowercase();
            assert!(lower.starts_with("post / "), "{request}");
            assert!(lower.contains("x-amz-target: amazonsqs.sendmessagebatch\r\n"));
            assert!(lower.contains("content-type: application/x-amz-json-1.0\r\n"));
            assert!(
                request.contains("/eu-west-1/sqs/aws4_request"),
                "signed for SQS"
            );
            let body = body(request);
            assert_eq!(body["QueueUrl"], QUEUE);
            entries.extend(body["Entries"].as_array().unwrap().iter().cloned());
        }
        entries.sort_by_key(|e| e["MessageBody"].as_str().unwrap().to_string());
        let delays: Vec<_> = entries
            .iter()
            .map(|e| e["DelaySeconds"].as_u64().unwrap())
            .collect();
        assert_eq!(entries.len(), 12);
        assert!(
            delays.iter().all(|&d| d <= 900),
            "SQS's longest delay at most: {delays:?}"
        );
        let first: QueuedMessage =
            serde_json::from_str(entries[0]["MessageBody"].as_str().unwrap()).unwrap();
        assert_eq!(first.id.as_str(), "m0");
    }

    #[tokio::test]
    async fn messages_sqs_did_not_accept_are_reported_not_sent() {
        let failed = serde_json::json!({
            "Successful": [{ "Id": "0", "MessageId": "a", "MD5OfMessageBody": "x" },
                           { "Id": "2", "MessageId": "b", "MD5OfMessageBody": "x" }],
            "Failed": [{ "Id": "1", "SenderFault": false, "Code": "InternalError" }],
        });
        let (endpoint, _, _) = scripted(vec![answer("200 OK", &failed.to_string())]).await;

        let sent = queue(endpoint).send(&messages(3)).await.unwrap();

        assert_eq!(sent, vec![true, false, true]);
    }

    #[tokio::test]
    async fn a_refused_call_is_an_error_that_names_it_and_sqs_s_reason() {
        let refused = answer(
            "400 Bad Request",
            r#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#,
        );
        let (endpoint, requests, _) = scripted(vec![refused]).await;

        let error = queue(endpoint).send(&messages(1)).await.unwrap_err();

        assert_eq!(error.operation, "SendMessageBatch");
        assert!(error.to_string().contains("QueueDoesNotExist"), "{error}");
        assert_eq!(requests.load(Ordering::SeqCst), 1, "not tried again");
    }

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

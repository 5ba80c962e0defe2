//! Sending: the [`EmailSender`] port, SES v2 (`SendEmail` with Raw content) behind it, and an
//! in-memory sender for unit tests.
//!
//! Errors are typed by what the caller should do: wait and retry ([`SendEmailError::Throttled`],
//! [`SendEmailError::Unavailable`]), stop sending for a while (quota, pause, suspension), fix the
//! setup (MAIL FROM domain) or drop this message ([`SendEmailError::Rejected`]). Their `Display`
//! never includes SES's free-text message, which can quote addresses.

use std::fmt;
use std::future::Future;
use std::sync::Mutex;

use base64::Engine as _;

use crate::aws_json::{AwsJsonClient, AwsJsonError};
use crate::domain::EmailAddress;

/// Why SES did not take an email.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendEmailError {
    /// `TooManyRequestsException`, `LimitExceededException`, `Throttling`, or "Maximum sending rate
    /// exceeded": the account's sending rate was reached. Retry after a pause.
    #[error("SES is throttling: the sending rate was exceeded")]
    Throttled,
    /// "Daily message quota exceeded": nothing more goes out until the 24-hour window moves on.
    #[error("SES daily sending quota exceeded")]
    DailyQuotaExceeded,
    /// `MessageRejected`: SES refused this message (e.g. it contains a virus, or the sender or a
    /// recipient is not verified in the sandbox). Retrying the same message will not help.
    #[error("SES rejected the message")]
    Rejected,
    /// `AccountSuspendedException`: the account may no longer send email.
    #[error("the SES account is suspended from sending")]
    AccountSuspended,
    /// `SendingPausedException`: sending is paused for the account or the configuration set.
    #[error("SES sending is paused for the account or configuration set")]
    SendingPaused,
    /// `MailFromDomainNotVerifiedException`: the custom MAIL FROM domain is not verified.
    #[error("the MAIL FROM domain is not verified in SES")]
    MailFromDomainNotVerified,
    /// SES could not be reached, or answered 5xx. Retry after a pause.
    #[error("SES is unavailable")]
    Unavailable,
    /// SES did not answer in time, or the connection broke after the request went out: the email
    /// may or may not have been sent.
    #[error("SES did not answer in time")]
    TimedOut,
    /// Anything else, by SES error code only (e.g. `BadRequestException`, `NotFoundException`).
    #[error("SES refused the request: {code}")]
    Other { code: String },
}

impl SendEmailError {
    /// Whether the same email can be sent again after a pause.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Throttled | Self::Unavailable)
    }
}

/// The id SES gave a sent email (its `MessageId`; also in SES event notifications).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SesMessageId(String);

impl SesMessageId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SesMessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How SES should handle one email beyond its content.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendOptions<'a> {
    /// The configuration set it goes through (event publishing: bounces, complaints; suppression).
    pub configuration_set: Option<&'a str>,
    /// Message tags (name, value), returned in the email's events (`mail.tags`). Names and values
    /// are letters, digits, `_` and `-` only; never personal data.
    pub tags: &'a [(&'a str, &'a str)],
}

/// Port: sends one built email (MIME from [`super::Email::to_mime`]).
pub trait EmailSender: Send + Sync {
    /// Sends `mime` from `from` (a verified SES identity) to `to`, with `options`.
    fn send_raw(
        &self,
        from: &EmailAddress,
        to: &EmailAddress,
        mime: Vec<u8>,
        options: &SendOptions<'_>,
    ) -> impl Future<Output = Result<SesMessageId, SendEmailError>> + Send;
}

/// Sends through SES v2 `SendEmail` with `Content.Raw`: one signed REST-JSON POST through
/// [`AwsJsonClient`] (the README says why not `aws-sdk-sesv2`), tried again on throttling, 5xx,
/// timeouts and broken connections as the SDK's standard retry mode did. Building it does no I/O.
#[derive(Debug, Clone)]
pub struct SesSender {
    client: AwsJsonClient,
}

/// `SendEmail`'s path in the SES v2 API.
const SEND_EMAIL: &str = "/v2/email/outbound-emails";

#[derive(serde::Deserialize)]
struct SendEmailAnswer {
    #[serde(rename = "MessageId", default)]
    message_id: Option<String>,
}

impl SesSender {
    /// Sends with the config's region, credentials and endpoint.
    pub fn from_sdk(sdk: &crate::aws::SdkConfig) -> Self {
        Self::new(AwsJsonClient::rest(sdk, "ses", "email"))
    }

    pub fn new(client: AwsJsonClient) -> Self {
        Self { client }
    }
}

impl EmailSender for SesSender {
    async fn send_raw(
        &self,
        from: &EmailAddress,
        to: &EmailAddress,
        mime: Vec<u8>,
        options: &SendOptions<'_>,
    ) -> Result<SesMessageId, SendEmailError> {
        let mut request = serde_json::json!({
            "FromEmailAddress": from.as_str(),
            "Destination": {"ToAddresses": [to.as_str()]},
            "Content": {"Raw": {"Data": base64::engine::general_purpose::STANDARD.encode(&mime)}},
        });
        if let Some(set) = options.configuration_set {
            request["ConfigurationSetName"] = set.into();
        }
        if !options.tags.is_empty() {
            request["EmailTags"] = options
                .tags
                .iter()
                .map(|(name, value)| serde_json::json!({"Name": name, "Value": value}))
                .collect();
        }
        let answer: SendEmailAnswer = self
            .client
            .post(SEND_EMAIL, &request)
            .await
            .map_err(|e| classify(&e))?;
        answer
            .message_id
            .filter(|id| !id.is_empty())
            .map(SesMessageId)
            .ok_or_else(|| SendEmailError::Other {
                code: "MissingMessageId".into(),
            })
    }
}

/// Maps a failed call: an SES error by its code, then by the throttling messages SES has used over
/// the years; the rest by what happened to the request.
fn classify(error: &AwsJsonError) -> SendEmailError {
    match error {
        AwsJsonError::Service {
            status,
            code,
            message,
        } => classify_service(*status, code, message),
        AwsJsonError::Timeout => SendEmailError::TimedOut,
        // Never connected: nothing reached SES. Broken after the request went out: it may have
        // been sent, as after a timeout.
        AwsJsonError::Transport(e) if e.is_connect() => SendEmailError::Unavailable,
        AwsJsonError::Transport(_) => SendEmailError::TimedOut,
        AwsJsonError::Answer => SendEmailError::Other {
            code: "ResponseError".into(),
        },
        AwsJsonError::NoRegion
        | AwsJsonError::NoCredentials
        | AwsJsonError::Credentials(_)
        | AwsJsonError::Signing(_)
        | AwsJsonError::Client(_) => SendEmailError::Other {
            code: "ClientConfiguration".into(),
        },
    }
}

fn classify_service(status: u16, code: &str, message: &str) -> SendEmailError {
    if message.contains("Maximum sending rate exceeded") {
        return SendEmailError::Throttled;
    }
    if message.contains("Daily message quota exceeded") {
        return SendEmailError::DailyQuotaExceeded;
    }
    match code {
        "TooManyRequestsException"
        | "LimitExceededException"
        | "Throttling"
        | "ThrottlingException" => SendEmailError::Throttled,
        "MessageRejected" => SendEmailError::Rejected,
        "AccountSuspendedException" => SendEmailError::AccountSuspended,
        "SendingPausedException" => SendEmailError::SendingPaused,
        "MailFromDomainNotVerifiedException" => SendEmailError::MailFromDomainNotVerified,
        "ServiceUnavailable" | "InternalFailure" | "InternalServerError" => {
            SendEmailError::Unavailable
        }
        _ if status >= 500 => SendEmailError::Unavailable,
        _ => SendEmailError::Other {
            code: code.to_string(),
        },
    }
}

/// One email the [`MemoryEmailSender`] accepted.
#[derive(Clone, PartialEq, Eq)]
pub struct SentEmail {
    pub from: EmailAddress,
    pub to: EmailAddress,
    pub mime: Vec<u8>,
    pub configuration_set: Option<String>,
    pub tags: Vec<(String, String)>,
    pub message_id: SesMessageId,
}

impl fmt::Debug for SentEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentEmail")
            .field("mime_bytes", &self.mime.len())
            .field("configuration_set", &self.configuration_set)
            .field("tags", &self.tags)
            .field("message_id", &self.message_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct MemoryState {
    sent: Vec<SentEmail>,
    throttle_next: u32,
    attempts: u32,
}

/// An in-memory [`EmailSender`] for unit tests of use cases: records every email, and can be told to
/// answer [`SendEmailError::Throttled`] to the next `n` attempts.
#[derive(Debug, Default)]
pub struct MemoryEmailSender {
    state: Mutex<MemoryState>,
}

impl MemoryEmailSender {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next `times` calls fail with [`SendEmailError::Throttled`] (and send nothing).
    pub fn throttle_next(&self, times: u32) {
        if let Ok(mut state) = self.state.lock() {
            state.throttle_next = times;
        }
    }

    /// Every email accepted so far, oldest first.
    pub fn sent(&self) -> Vec<SentEmail> {
        self.state
            .lock()
            .map(|state| state.sent.clone())
            .unwrap_or_default()
    }

    /// How many times `send_raw` was called, throttled calls included.
    pub fn attempts(&self) -> u32 {
        self.state.lock().map(|state| state.attempts).unwrap_or(0)
    }
}

impl EmailSender for MemoryEmailSender {
    async fn send_raw(
        &self,
        from: &EmailAddress,
        to: &EmailAddress,
        mime: Vec<u8>,
        options: &SendOptions<'_>,
    ) -> Result<SesMessageId, SendEmailError> {
        let mut state = self.state.lock().map_err(|_| SendEmailError::Other {
            code: "Poisoned".into(),
        })?;
        state.attempts += 1;
        if state.throttle_next > 0 {
            state.throttle_next -= 1;
            return Err(SendEmailError::Throttled);
        }
        let message_id = SesMessageId(format!("memory-{:04}", state.sent.len() + 1));
        state.sent.push(SentEmail {
            from: from.clone(),
            to: to.clone(),
            mime,
            configuration_set: options.configuration_set.map(str::to_string),
            tags: options
                .tags
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            message_id: message_id.clone(),
        });
        Ok(message_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::test_server::scripted;
    use std::sync::atomic::Ordering;

    fn address(text: &str) -> EmailAddress {
        EmailAddress::parse(text).unwrap()
    }

    fn service(status: u16, code: &str, message: &str) -> SendEmailError {
        classify(&AwsJsonError::Service {
            status,
            code: code.into(),
            message: message.into(),
        })
    }

    #[test]
    fn throttling_errors_are_retryable_and_the_rest_are_typed() {
        let cases = [
            (
                429,
                "TooManyRequestsException",
                "",
                SendEmailError::Throttled,
            ),
            (400, "LimitExceededException", "", SendEmailError::Throttled),
            (
                400,
                "Throttling",
                "Rate exceeded",
                SendEmailError::Throttled,
            ),
            (
                400,
                "MessageRejected",
                "Maximum sending rate exceeded.",
                SendEmailError::Throttled,
            ),
            (
                400,
                "LimitExceededException",
                "Daily message quota exceeded.",
                SendEmailError::DailyQuotaExceeded,
            ),
            (
                400,
                "MessageRejected",
                "Email address is not verified: marisol@example.org",
                SendEmailError::Rejected,
            ),
            (
                400,
                "AccountSuspendedException",
                "",
                SendEmailError::AccountSuspended,
            ),
            (
                400,
                "SendingPausedException",
                "",
                SendEmailError::SendingPaused,
            ),
            (
                400,
                "MailFromDomainNotVerifiedException",
                "",
                SendEmailError::MailFromDomainNotVerified,
            ),
            (500, "InternalFailure", "", SendEmailError::Unavailable),
            (503, "unknown error", "", SendEmailError::Unavailable),
        ];
        for (status, code, message, expected) in cases {
            assert_eq!(service(status, code, message), expected, "{code} {message}");
        }
        assert_eq!(classify(&AwsJsonError::Timeout), SendEmailError::TimedOut);
        assert!(SendEmailError::Throttled.is_retryable());
        assert!(SendEmailError::Unavailable.is_retryable());
        assert!(!SendEmailError::TimedOut.is_retryable());
        assert!(!SendEmailError::Rejected.is_retryable());
        assert!(!SendEmailError::DailyQuotaExceeded.is_retryable());
    }

    #[test]
    fn other_errors_keep_only_the_ses_code_and_never_the_message() {
        let mapped = service(
            400,
            "BadRequestException",
            "Illegal address: marisol@example.org",
        );
        assert_eq!(
            mapped,
            SendEmailError::Other {
                code: "BadRequestException".into()
            }
        );
        assert!(!mapped.to_string().contains("marisol"));
        assert!(!format!("{mapped:?}").contains("marisol"));
    }

    #[tokio::test]
    async fn the_memory_sender_records_emails_and_throttles_when_told() {
        let sender = MemoryEmailSender::new();
        sender.throttle_next(2);
        let (from, to) = (
            address("hello@rising.example"),
            address("marisol@example.org"),
        );
        for _ in 0..2 {
            assert_eq!(
                sender
                    .send_raw(&from, &to, b"x".to_vec(), &SendOptions::default())
                    .await,
                Err(SendEmailError::Throttled)
            );
        }
        let id = sender
            .send_raw(
                &from,
                &to,
                b"mime".to_vec(),
                &SendOptions {
                    configuration_set: Some("rising"),
                    tags: &[("batch", "b1")],
                },
            )
            .await
            .unwrap();
        assert_eq!(id.as_str(), "memory-0001");
        assert_eq!(sender.attempts(), 3);
        let sent = sender.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].to, to);
        assert_eq!(sent[0].mime, b"mime");
        assert_eq!(sent[0].configuration_set.as_deref(), Some("rising"));
        assert_eq!(sent[0].tags, vec![("batch".to_string(), "b1".to_string())]);
        assert!(!format!("{:?}", sent[0]).contains("marisol"));
    }

    /// An SES answer: `status`, the error type header when there is one, and `body`.
    fn answer(status: &str, error_type: Option<&str>, body: &str) -> &'static str {
        let error_type = error_type
            .map(|t| format!("x-amzn-ErrorType: {t}\r\n"))
            .unwrap_or_default();
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{error_type}content-length: {}\r\n\r\n{body}",
            body.len()
        )
        .leak()
    }

    fn sender(endpoint: String) -> SesSender {
        let sdk = crate::aws::test_server::sdk(Some(endpoint), Some("us-east-1"));
        SesSender::new(
            AwsJsonClient::rest(&sdk, "ses", "email")
                .with_backoff(std::time::Duration::from_millis(1)),
        )
    }

    async fn send(sender: &SesSender) -> Result<SesMessageId, SendEmailError> {
        sender
            .send_raw(
                &address("hello@rising.example"),
                &address("marisol@example.org"),
                b"x".to_vec(),
                &SendOptions::default(),
            )
            .await
    }

    #[test]
    fn ses_is_reached_at_its_email_endpoint_unless_one_is_configured() {
        let mut builder = crate::aws::SdkConfig::builder();
        builder.set_region(Some(aws_sdk_dynamodb::config::Region::new("eu-west-1")));
        let client = AwsJsonClient::rest(&builder.build(), "ses", "email");
        assert_eq!(
            client.endpoint(),
            Some("https://email.eu-west-1.amazonaws.com")
        );
    }

    #[tokio::test]
    async fn ses_sender_posts_the_raw_mime_and_returns_the_message_id() {
        let (endpoint, _, seen) =
            scripted(vec![answer("200 OK", None, r#"{"MessageId":"0100-abc"}"#)]).await;
        let id = sender(endpoint)
            .send_raw(
                &address("hello@rising.example"),
                &address("marisol@example.org"),
                b"Subject: hi\r\n\r\nbody".to_vec(),
                &SendOptions {
                    configuration_set: Some("rising-events"),
                    tags: &[("batch", "0123abcd")],
                },
            )
            .await
            .unwrap();
        assert_eq!(id.as_str(), "0100-abc");
        let seen = seen.lock().unwrap();
        let (head, body) = seen[0].split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("POST /v2/email/outbound-emails "),
            "{head}"
        );
        let head = head.to_ascii_lowercase();
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(
            head.contains("/us-east-1/ses/aws4_request"),
            "signed for SES: {head}"
        );
        assert!(!head.contains("x-amz-target"), "{head}");
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["FromEmailAddress"], "hello@rising.example");
        assert_eq!(
            json["Destination"]["ToAddresses"],
            serde_json::json!(["marisol@example.org"])
        );
        assert_eq!(json["ConfigurationSetName"], "rising-events");
        assert_eq!(
            json["EmailTags"],
            serde_json::json!([{"Name": "batch", "Value": "0123abcd"}])
        );
        let data = json["Content"]["Raw"]["Data"].as_str().unwrap();
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap(),
            b"Subject: hi\r\n\r\nbody"
        );
    }

    #[tokio::test]
    async fn without_a_configuration_set_or_tags_neither_is_sent() {
        let (endpoint, _, seen) =
            scripted(vec![answer("200 OK", None, r#"{"MessageId":"0100-abd"}"#)]).await;
        send(&sender(endpoint)).await.unwrap();
        let seen = seen.lock().unwrap();
        let json: serde_json::Value =
            serde_json::from_str(seen[0].split_once("\r\n\r\n").unwrap().1).unwrap();
        assert!(json.get("ConfigurationSetName").is_none(), "{json}");
        assert!(json.get("EmailTags").is_none(), "{json}");
    }

    #[tokio::test]
    async fn throttling_is_tried_again_and_then_sends_once() {
        let throttled = answer(
            "429 Too Many Requests",
            Some("TooManyRequestsException:http://internal.amazon.com/coral/com.amazonaws.sesv2/"),
            r#"{"message":"Too many requests."}"#,
        );
        let (endpoint, requests, _) = scripted(vec![
            throttled,
            answer("200 OK", None, r#"{"MessageId":"0100-abe"}"#),
        ])
        .await;
        assert_eq!(send(&sender(endpoint)).await.unwrap().as_str(), "0100-abe");
        assert_eq!(requests.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_ses_throttling_answer_that_lasts_becomes_a_retryable_error() {
        let (endpoint, requests, _) = scripted(vec![answer(
            "429 Too Many Requests",
            Some("TooManyRequestsException"),
            r#"{"message":"Too many requests."}"#,
        )])
        .await;
        let error = send(&sender(endpoint)).await.unwrap_err();
        assert_eq!(error, SendEmailError::Throttled);
        assert!(error.is_retryable());
        assert_eq!(
            requests.load(Ordering::SeqCst),
            3,
            "three attempts, as the SDK's"
        );
    }

    #[tokio::test]
    async fn an_ses_rejection_quoting_the_address_is_reported_without_it_and_not_retried() {
        let (endpoint, requests, _) = scripted(vec![answer(
            "400 Bad Request",
            Some("MessageRejected"),
            r#"{"message":"Email address is not verified. The following identities failed the check in region US-EAST-1: marisol@example.org"}"#,
        )])
        .await;
        let error = send(&sender(endpoint)).await.unwrap_err();
        assert_eq!(error, SendEmailError::Rejected);
        assert!(!error.to_string().contains("marisol"));
        assert!(!format!("{error:?}").contains("marisol"));
        assert_eq!(requests.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_error_named_only_in_the_body_is_still_typed() {
        let (endpoint, _, _) = scripted(vec![answer(
            "400 Bad Request",
            None,
            r#"{"__type":"SendingPausedException","message":"paused"}"#,
        )])
        .await;
        let error = send(&sender(endpoint)).await.unwrap_err();
        assert_eq!(error, SendEmailError::SendingPaused);
    }

    #[tokio::test]
    async fn an_answer_without_a_message_id_is_an_error() {
        let (endpoint, _, _) = scripted(vec![answer("200 OK", None, "{}")]).await;
        assert_eq!(
            send(&sender(endpoint)).await.unwrap_err(),
            SendEmailError::Other {
                code: "MissingMessageId".into()
            }
        );
    }

    #[tokio::test]
    async fn a_send_that_times_out_is_not_made_again_and_may_have_gone() {
        // The server reads the request and never answers.
        let (endpoint, requests, _) = crate::aws::test_server::server("").await;
        let error = send(&sender(endpoint)).await.unwrap_err();
        assert_eq!(error, SendEmailError::TimedOut);
        assert!(!error.is_retryable());
        assert_eq!(requests.load(Ordering::SeqCst), 1, "never a second email");
    }

    #[tokio::test]
    async fn a_connection_closed_without_an_answer_is_not_tried_again_either() {
        let (endpoint, requests, _) =
            crate::aws::test_server::server(crate::aws::test_server::CLOSE).await;
        let error = send(&sender(endpoint)).await.unwrap_err();
        assert_eq!(error, SendEmailError::TimedOut, "it may have gone");
        assert!(!error.is_retryable());
        assert_eq!(requests.load(Ordering::SeqCst), 1, "never a second email");
    }

    #[tokio::test]
    async fn ses_being_unreachable_is_retryable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let error = send(&sender(endpoint)).await.unwrap_err();
        assert_eq!(error, SendEmailError::Unavailable);
        assert!(error.is_retryable());
    }
}

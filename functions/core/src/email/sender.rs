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

use aws_sdk_sesv2::error::{ProvideErrorMetadata as _, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError as SdkSendEmailError;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, MessageTag, RawMessage};

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
    /// SES did not answer in time: the email may or may not have been sent.
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

/// Sends through SES v2 `SendEmail` with `Content.Raw`. Building it does no I/O.
#[derive(Debug, Clone)]
pub struct SesSender {
    client: crate::aws::Lazy<aws_sdk_sesv2::Client>,
}

impl SesSender {
    /// Sends through an SES client made on its first use.
    pub fn from_sdk(sdk: &crate::aws::SdkConfig) -> Self {
        Self::new(crate::aws::Lazy::new(sdk, crate::aws::ses))
    }

    pub fn new(client: impl Into<crate::aws::Lazy<aws_sdk_sesv2::Client>>) -> Self {
        Self {
            client: client.into(),
        }
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
        let tags = options
            .tags
            .iter()
            .map(|(name, value)| MessageTag::builder().name(*name).value(*value).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| SendEmailError::Other {
                code: "InvalidMessageTag".into(),
            })?;
        let raw = RawMessage::builder()
            .data(Blob::new(mime))
            .build()
            .map_err(|_| SendEmailError::Other {
                code: "InvalidRawMessage".into(),
            })?;
        let output = self
            .client
            .get()
            .send_email()
            .from_email_address(from.as_str())
            .destination(Destination::builder().to_addresses(to.as_str()).build())
            .content(EmailContent::builder().raw(raw).build())
            .set_configuration_set_name(options.configuration_set.map(str::to_string))
            .set_email_tags((!tags.is_empty()).then_some(tags))
            .send()
            .await
            .map_err(classify)?;
        output
            .message_id
            .filter(|id| !id.is_empty())
            .map(SesMessageId)
            .ok_or_else(|| SendEmailError::Other {
                code: "MissingMessageId".into(),
            })
    }
}

fn classify<R>(error: SdkError<SdkSendEmailError, R>) -> SendEmailError {
    match error {
        SdkError::ServiceError(context) => classify_service(context.err()),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => SendEmailError::TimedOut,
        SdkError::DispatchFailure(_) => SendEmailError::Unavailable,
        SdkError::TimeoutError(_) => SendEmailError::TimedOut,
        other => SendEmailError::Other {
            code: other.code().unwrap_or("ResponseError").to_string(),
        },
    }
}

/// Maps an SES error by its type, then by the throttling messages SES has used over the years.
fn classify_service(error: &SdkSendEmailError) -> SendEmailError {
    // The metadata's message when the error came over HTTP; the modelled field's otherwise.
    let message = error
        .message()
        .map(str::to_string)
        .unwrap_or_else(|| error.to_string());
    if message.contains("Maximum sending rate exceeded") {
        return SendEmailError::Throttled;
    }
    if message.contains("Daily message quota exceeded") {
        return SendEmailError::DailyQuotaExceeded;
    }
    match error {
        SdkSendEmailError::TooManyRequestsException(_)
        | SdkSendEmailError::LimitExceededException(_) => SendEmailError::Throttled,
        SdkSendEmailError::MessageRejected(_) => SendEmailError::Rejected,
        SdkSendEmailError::AccountSuspendedException(_) => SendEmailError::AccountSuspended,
        SdkSendEmailError::SendingPausedException(_) => SendEmailError::SendingPaused,
        SdkSendEmailError::MailFromDomainNotVerifiedException(_) => {
            SendEmailError::MailFromDomainNotVerified
        }
        other => match other.code() {
            Some("Throttling" | "ThrottlingException") => SendEmailError::Throttled,
            Some("ServiceUnavailable" | "InternalFailure" | "InternalServerError") => {
                SendEmailError::Unavailable
            }
            code => SendEmailError::Other {
                code: code.unwrap_or("Unknown").to_string(),
            },
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
    use aws_sdk_sesv2::types::error::{
        AccountSuspendedException, BadRequestException, LimitExceededException,
        MailFromDomainNotVerifiedException, MessageRejected, SendingPausedException,
        TooManyRequestsException,
    };
    use base64::Engine as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;

    fn address(text: &str) -> EmailAddress {
        EmailAddress::parse(text).unwrap()
    }

    #[test]
    fn throttling_errors_are_retryable_and_the_rest_are_typed() {
        let cases = [
            (
                SdkSendEmailError::TooManyRequestsException(
                    TooManyRequestsException::builder().build(),
                ),
                SendEmailError::Throttled,
            ),
            (
                SdkSendEmailError::LimitExceededException(
                    LimitExceededException::builder().build(),
                ),
                SendEmailError::Throttled,
            ),
            (
                SdkSendEmailError::MessageRejected(
                    MessageRejected::builder()
                        .message("Maximum sending rate exceeded.")
                        .build(),
                ),
                SendEmailError::Throttled,
            ),
            (
                SdkSendEmailError::LimitExceededException(
                    LimitExceededException::builder()
                        .message("Daily message quota exceeded.")
                        .build(),
                ),
                SendEmailError::DailyQuotaExceeded,
            ),
            (
                SdkSendEmailError::MessageRejected(
                    MessageRejected::builder()
                        .message("Email address is not verified: marisol@example.org")
                        .build(),
                ),
                SendEmailError::Rejected,
            ),
            (
                SdkSendEmailError::AccountSuspendedException(
                    AccountSuspendedException::builder().build(),
                ),
                SendEmailError::AccountSuspended,
            ),
            (
                SdkSendEmailError::SendingPausedException(
                    SendingPausedException::builder().build(),
                ),
                SendEmailError::SendingPaused,
            ),
            (
                SdkSendEmailError::MailFromDomainNotVerifiedException(
                    MailFromDomainNotVerifiedException::builder().build(),
                ),
                SendEmailError::MailFromDomainNotVerified,
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(classify_service(&error), expected);
        }
        assert!(SendEmailError::Throttled.is_retryable());
        assert!(SendEmailError::Unavailable.is_retryable());
        assert!(!SendEmailError::Rejected.is_retryable());
        assert!(!SendEmailError::DailyQuotaExceeded.is_retryable());
    }

    #[test]
    fn other_errors_keep_only_the_ses_code_and_never_the_message() {
        let error = SdkSendEmailError::BadRequestException(
            BadRequestException::builder()
                .message("Illegal address: marisol@example.org")
                .meta(
                    aws_sdk_sesv2::error::ErrorMetadata::builder()
                        .code("BadRequestException")
                        .message("Illegal address: marisol@example.org")
                        .build(),
                )
                .build(),
        );
        let mapped = classify_service(&error);
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

    /// Answers one HTTP request with `status`, `error_type` and `body`; hands back what it received.
    async fn ses_stub(
        status: u16,
        error_type: Option<&'static str>,
        body: &'static str,
    ) -> (String, tokio::task::JoinHandle<(String, Vec<u8>)>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            let (head, length, start) = loop {
                let n = stream.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
                if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..pos]).to_string();
                    let length = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    break (head, length, pos + 4);
                }
            };
            while buf.len() < start + length {
                let n = stream.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
            }
            let mut response = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            if let Some(error_type) = error_type {
                response.push_str(&format!("x-amzn-ErrorType: {error_type}\r\n"));
            }
            response.push_str("\r\n");
            response.push_str(body);
            stream.write_all(response.as_bytes()).await.unwrap();
            (head, buf[start..].to_vec())
        });
        (url, task)
    }

    fn client(endpoint: &str) -> aws_sdk_sesv2::Client {
        let config = aws_sdk_sesv2::Config::builder()
            .http_client(crate::aws::http_client())
            .behavior_version(aws_sdk_sesv2::config::BehaviorVersion::latest())
            .region(aws_sdk_sesv2::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sesv2::config::Credentials::new(
                "AKIDTEST", "secret", None, None, "test",
            ))
            .endpoint_url(endpoint)
            .retry_config(aws_sdk_sesv2::config::retry::RetryConfig::disabled())
            .build();
        aws_sdk_sesv2::Client::from_conf(config)
    }

    #[tokio::test]
    async fn ses_sender_posts_the_raw_mime_and_returns_the_message_id() {
        let (url, request) = ses_stub(200, None, r#"{"MessageId":"0100-abc"}"#).await;
        let sender = SesSender::new(client(&url));
        let id = sender
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
        let (head, body) = request.await.unwrap();
        assert!(
            head.starts_with("POST /v2/email/outbound-emails "),
            "{head}"
        );
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["FromEmailAddress"], "hello@rising.example");
        assert_eq!(json["Destination"]["ToAddresses"][0], "marisol@example.org");
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
    async fn an_ses_throttling_answer_becomes_a_retryable_error() {
        let (url, _request) = ses_stub(
            429,
            Some("TooManyRequestsException"),
            r#"{"message":"Too many requests."}"#,
        )
        .await;
        let error = SesSender::new(client(&url))
            .send_raw(
                &address("hello@rising.example"),
                &address("marisol@example.org"),
                b"x".to_vec(),
                &SendOptions::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(error, SendEmailError::Throttled);
        assert!(error.is_retryable());
    }

    #[tokio::test]
    async fn an_ses_rejection_quoting_the_address_is_reported_without_it() {
        let (url, _request) = ses_stub(
            400,
            Some("MessageRejected"),
            r#"{"message":"Email address is not verified. The following identities failed the check in region US-EAST-1: marisol@example.org"}"#,
        )
        .await;
        let error = SesSender::new(client(&url))
            .send_raw(
                &address("hello@rising.example"),
                &address("marisol@example.org"),
                b"x".to_vec(),
                &SendOptions::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(error, SendEmailError::Rejected);
        assert!(!error.to_string().contains("marisol"));
    }

    #[tokio::test]
    async fn ses_being_unreachable_is_retryable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let error = SesSender::new(client(&url))
            .send_raw(
                &address("hello@rising.example"),
                &address("marisol@example.org"),
                b"x".to_vec(),
                &SendOptions::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(error, SendEmailError::Unavailable);
    }
}

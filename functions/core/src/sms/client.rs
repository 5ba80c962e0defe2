//! A small client for Twilio's Programmable Messaging REST API (2010-04-01).
//!
//! * `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json` ([`TwilioClient::send_message`])
//! * `GET {base}/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json`
//!   ([`TwilioClient::fetch_message`])
//!
//! Requests are form-encoded and authenticated with HTTP Basic auth: Account SID + Auth Token, or
//! API Key SID + secret ([`TwilioAuth`]). The base URL is configurable so tests and the local
//! emulator can stand in for `https://api.twilio.com`. Building a client does no network I/O.
//!
//! Errors are typed ([`TwilioError`]) from Twilio's error body
//! (`{"code": 21211, "message": "…", "more_info": "https://www.twilio.com/docs/errors/21211",
//! "status": 400}`). Their `Display` and `Debug` never include Twilio's free-text message, which
//! often quotes the phone number; the message stays available in [`TwilioError::Api`].
//!
//! Retries: HTTP 429 (or error code 20429) and 5xx responses are retried with jittered
//! exponential backoff, honouring `Retry-After` (in seconds, capped); other 4xx never are. Failures
//! to connect (nothing was sent) are retried too. A timeout is retried only for the idempotent GET:
//! a `POST` that timed out may have created the message, and retrying it could text someone twice.

use std::fmt;
use std::time::Duration;

use http::StatusCode;
use rand::Rng as _;
use serde::{Deserialize, Deserializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

/// Twilio's production REST API origin.
pub const PRODUCTION_BASE_URL: &str = "https://api.twilio.com";

/// Twilio error code: the recipient replied STOP and has not opted back in.
pub const CODE_UNSUBSCRIBED: u32 = 21610;
/// Twilio error code: the `To` number is not a valid phone number.
pub const CODE_INVALID_TO: u32 = 21211;
/// Twilio error code: the `To` number is not a mobile number (cannot receive SMS).
pub const CODE_NOT_MOBILE: u32 = 21614;
/// Twilio error code: permission to send to the recipient's region is not enabled.
pub const CODE_REGION_NOT_ENABLED: u32 = 21408;
/// Twilio error code: authentication failed.
pub const CODE_AUTHENTICATION: u32 = 20003;
/// Twilio error code: too many requests.
pub const CODE_TOO_MANY_REQUESTS: u32 = 20429;

/// Credentials for HTTP Basic auth. The Account SID is also part of every request path.
#[derive(Clone)]
pub enum TwilioAuth {
    /// The account's own credentials: user = Account SID, password = Auth Token.
    AuthToken {
        /// `AC…` Account SID.
        account_sid: String,
        /// The account's Auth Token.
        auth_token: String,
    },
    /// An API key (recommended in production: revocable, scoped): user = API Key SID, password =
    /// its secret.
    ApiKey {
        /// `AC…` Account SID the key belongs to (used in request paths).
        account_sid: String,
        /// `SK…` API Key SID.
        key_sid: String,
        /// The API key's secret.
        key_secret: String,
    },
}

impl TwilioAuth {
    /// The Account SID requests are made for.
    pub fn account_sid(&self) -> &str {
        match self {
            Self::AuthToken { account_sid, .. } | Self::ApiKey { account_sid, .. } => account_sid,
        }
    }

    /// (username, password) for HTTP Basic auth.
    fn credentials(&self) -> (&str, &str) {
        match self {
            Self::AuthToken {
                account_sid,
                auth_token,
            } => (account_sid, auth_token),
            Self::ApiKey {
                key_sid,
                key_secret,
                ..
            } => (key_sid, key_secret),
        }
    }
}

impl fmt::Debug for TwilioAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AuthToken { account_sid, .. } => f
                .debug_struct("AuthToken")
                .field("account_sid", account_sid)
                .field("auth_token", &"<redacted>")
                .finish(),
            Self::ApiKey {
                account_sid,
                key_sid,
                ..
            } => f
                .debug_struct("ApiKey")
                .field("account_sid", account_sid)
                .field("key_sid", key_sid)
                .field("key_secret", &"<redacted>")
                .finish(),
        }
    }
}

/// Who a message is sent from: exactly one of `From` or `MessagingServiceSid`.
#[derive(Clone, PartialEq, Eq)]
pub enum Sender {
    /// A Twilio phone number (E.164), short code or alphanumeric sender ID (`From`).
    From(String),
    /// A Messaging Service (`MG…`), which picks the sender from its pool (`MessagingServiceSid`).
    MessagingService(String),
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Our own number is not personal data, but keep Debug output uniform and quiet.
            Self::From(_) => f.write_str("From(<redacted>)"),
            Self::MessagingService(sid) => f.debug_tuple("MessagingService").field(sid).finish(),
        }
    }
}

/// A message to create.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboundMessage {
    /// Recipient, E.164 (`To`).
    pub to: String,
    /// Sender (`From` or `MessagingServiceSid`).
    pub sender: Sender,
    /// Text (`Body`), up to 1600 characters.
    pub body: String,
    /// URL Twilio posts status changes to (`StatusCallback`).
    pub status_callback: Option<String>,
}

impl fmt::Debug for OutboundMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboundMessage")
            .field("to", &"<redacted>")
            .field("sender", &self.sender)
            .field("body_chars", &self.body.chars().count())
            .field("status_callback", &self.status_callback.is_some())
            .finish()
    }
}

impl OutboundMessage {
    /// The form fields of the create request.
    fn form(&self) -> Vec<(&'static str, &str)> {
        let mut form = vec![("To", self.to.as_str())];
        match &self.sender {
            Sender::From(from) => form.push(("From", from.as_str())),
            Sender::MessagingService(sid) => form.push(("MessagingServiceSid", sid.as_str())),
        }
        form.push(("Body", self.body.as_str()));
        if let Some(callback) = &self.status_callback {
            form.push(("StatusCallback", callback.as_str()));
        }
        form
    }
}

/// Status of a Message resource (`message_enum_status` in Twilio's OpenAPI description).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Created, waiting for a sender (Messaging Service).
    Accepted,
    /// Scheduled for later sending.
    Scheduled,
    /// Scheduled sending canceled.
    Canceled,
    /// Queued for sending.
    Queued,
    /// Being sent.
    Sending,
    /// Handed to the carrier.
    Sent,
    /// Could not be sent.
    Failed,
    /// Delivery confirmed by the carrier.
    Delivered,
    /// Carrier reported non-delivery.
    Undelivered,
    /// Inbound, being received.
    Receiving,
    /// Inbound, received.
    Received,
    /// Read (WhatsApp/RCS only).
    Read,
    /// Some parts delivered.
    PartiallyDelivered,
    /// A status this client does not know (Twilio adds values over time), or none.
    #[serde(other)]
    Unknown,
}

impl MessageStatus {
    /// Whether the status will not change any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Canceled
                | Self::Failed
                | Self::Delivered
                | Self::Undelivered
                | Self::Received
                | Self::Read
        )
    }

    /// Whether the message did not (fully) reach the recipient.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::Undelivered)
    }
}

/// A Message resource, as returned by create and fetch.
///
/// Everything Twilio marks nullable is an `Option`. Parsing is lenient on purpose: a date or count
/// Twilio formats differently becomes `None` rather than failing a send that did happen (a failed
/// send might be retried and text someone twice). `Debug` hides `to`, `from` and `body`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct Message {
    /// `SM…`/`MM…` Message SID.
    pub sid: String,
    /// Account the message belongs to.
    #[serde(default)]
    pub account_sid: Option<String>,
    /// Messaging Service used, if any.
    #[serde(default)]
    pub messaging_service_sid: Option<String>,
    /// Current status.
    #[serde(default = "unknown_status", deserialize_with = "status_or_unknown")]
    pub status: MessageStatus,
    /// `inbound`, `outbound-api`, `outbound-call` or `outbound-reply`.
    #[serde(default)]
    pub direction: Option<String>,
    /// Recipient (personal data).
    #[serde(default)]
    pub to: Option<String>,
    /// Sender.
    #[serde(default)]
    pub from: Option<String>,
    /// Text (personal data).
    #[serde(default)]
    pub body: Option<String>,
    /// Parts the message was split into (Twilio sends it as a string).
    #[serde(default, deserialize_with = "lenient_u32")]
    pub num_segments: Option<u32>,
    /// Media attachments (Twilio sends it as a string).
    #[serde(default, deserialize_with = "lenient_u32")]
    pub num_media: Option<u32>,
    /// Error code when `status` is `failed` or `undelivered`.
    #[serde(default, deserialize_with = "lenient_u32")]
    pub error_code: Option<u32>,
    /// Description of `error_code`.
    #[serde(default)]
    pub error_message: Option<String>,
    /// Amount billed (a negative decimal string, e.g. `"-0.00750"`).
    #[serde(default)]
    pub price: Option<String>,
    /// Currency of `price` (ISO 4217).
    #[serde(default)]
    pub price_unit: Option<String>,
    /// When the resource was created.
    #[serde(default, deserialize_with = "lenient_rfc2822")]
    pub date_created: Option<OffsetDateTime>,
    /// When the message was sent.
    #[serde(default, deserialize_with = "lenient_rfc2822")]
    pub date_sent: Option<OffsetDateTime>,
    /// When the resource was last updated.
    #[serde(default, deserialize_with = "lenient_rfc2822")]
    pub date_updated: Option<OffsetDateTime>,
    /// Resource URI relative to the API origin.
    #[serde(default)]
    pub uri: Option<String>,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("sid", &self.sid)
            .field("account_sid", &self.account_sid)
            .field("messaging_service_sid", &self.messaging_service_sid)
            .field("status", &self.status)
            .field("direction", &self.direction)
            .field("to", &self.to.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from.as_ref().map(|_| "<redacted>"))
            .field("body", &self.body.as_ref().map(|_| "<redacted>"))
            .field("num_segments", &self.num_segments)
            .field("num_media", &self.num_media)
            .field("error_code", &self.error_code)
            .field("error_message", &self.error_message)
            .field("price", &self.price)
            .field("price_unit", &self.price_unit)
            .field("date_created", &self.date_created)
            .field("date_sent", &self.date_sent)
            .field("date_updated", &self.date_updated)
            .field("uri", &self.uri)
            .finish()
    }
}

fn unknown_status() -> MessageStatus {
    MessageStatus::Unknown
}

fn status_or_unknown<'de, D: Deserializer<'de>>(d: D) -> Result<MessageStatus, D::Error> {
    Ok(Option::<MessageStatus>::deserialize(d)?.unwrap_or(MessageStatus::Unknown))
}

/// A number that Twilio may send as a JSON number or a decimal string; anything else is `None`.
fn lenient_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// An RFC 2822 date (`Thu, 24 Aug 2023 05:01:45 +0000`); anything else is `None`.
fn lenient_rfc2822<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
    Ok(Option::<String>::deserialize(d)
        .ok()
        .flatten()
        .and_then(|s| OffsetDateTime::parse(s.trim(), &Rfc2822).ok()))
}

/// Twilio's error body.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default, deserialize_with = "lenient_u32")]
    code: Option<u32>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    more_info: Option<String>,
}

/// What went wrong talking to Twilio.
///
/// `Display` and `Debug` carry no personal data (Twilio's own `message` text, which may quote the
/// phone number, is only in the [`TwilioError::Api`] field).
#[derive(thiserror::Error)]
pub enum TwilioError {
    /// 21610: the recipient texted STOP; do not send again until they opt back in.
    #[error("recipient has unsubscribed (Twilio error 21610)")]
    RecipientUnsubscribed,
    /// 21211 (not a valid number) or 21614 (not a mobile number).
    #[error("recipient is not a valid mobile number (Twilio error {code})")]
    InvalidRecipient {
        /// The Twilio error code (21211 or 21614).
        code: u32,
    },
    /// 21408: the account may not send to the recipient's country/region.
    #[error("sending to the recipient's region is not enabled (Twilio error 21408)")]
    RegionNotEnabled,
    /// HTTP 429 or error 20429, still so after the configured retries.
    #[error("rate limited by Twilio after {attempts} attempt(s)")]
    RateLimited {
        /// Requests made, including retries.
        attempts: u32,
        /// The last `Retry-After`, if Twilio sent one.
        retry_after: Option<Duration>,
    },
    /// HTTP 401 or error 20003: wrong SID/token/key, or a suspended account.
    #[error("Twilio rejected the credentials (HTTP {status})")]
    Authentication {
        /// HTTP status.
        status: u16,
        /// Twilio error code, usually 20003.
        code: Option<u32>,
    },
    /// Any other error response.
    #[error("Twilio API error (HTTP {status}, code {})", code.map_or_else(|| "none".to_owned(), |c| c.to_string()))]
    Api {
        /// HTTP status.
        status: u16,
        /// Twilio error code, when the body had one.
        code: Option<u32>,
        /// Twilio's description. May contain the phone number: do not log it.
        message: String,
        /// Link to Twilio's documentation of `code`.
        more_info: Option<String>,
    },
    /// The request could not be sent or the response not read (DNS, TCP, TLS, connection reset).
    #[error("could not talk to Twilio")]
    Transport(#[source] reqwest::Error),
    /// No complete response within the configured timeout.
    #[error("request to Twilio timed out")]
    Timeout,
    /// A success status whose body is not a Message resource.
    #[error("unexpected response from Twilio (HTTP {status}): {reason}")]
    UnexpectedResponse {
        /// HTTP status.
        status: u16,
        /// What was wrong, without quoting the body.
        reason: String,
    },
    /// The client configuration is unusable (bad base URL or Account SID, TLS setup failure).
    #[error("invalid Twilio client configuration: {0}")]
    Config(String),
    /// An argument is unusable (e.g. a message SID that is not one).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
}

impl fmt::Debug for TwilioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Api {
                status,
                code,
                more_info,
                ..
            } => f
                .debug_struct("Api")
                .field("status", status)
                .field("code", code)
                .field("message", &"<redacted>")
                .field("more_info", more_info)
                .finish(),
            Self::Transport(error) => f.debug_tuple("Transport").field(error).finish(),
            other => fmt::Display::fmt(other, f),
        }
    }
}

impl TwilioError {
    /// Whether trying again later may succeed: rate limiting, Twilio-side 5xx, timeouts and
    /// transport failures. Note that after a [`TwilioError::Timeout`] on a send, the message may
    /// already exist; check before sending again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Timeout | Self::Transport(_) => true,
            Self::Api { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// The Twilio error code, when there is one.
    pub fn code(&self) -> Option<u32> {
        match self {
            Self::RecipientUnsubscribed => Some(CODE_UNSUBSCRIBED),
            Self::InvalidRecipient { code } => Some(*code),
            Self::RegionNotEnabled => Some(CODE_REGION_NOT_ENABLED),
            Self::Authentication { code, .. } | Self::Api { code, .. } => *code,
            _ => None,
        }
    }

    fn from_reqwest(error: reqwest::Error) -> Self {
        if error.is_timeout() {
            Self::Timeout
        } else {
            Self::Transport(error)
        }
    }
}

/// How failed requests are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Requests in total, including the first (at least 1).
    pub max_attempts: u32,
    /// Backoff before the first retry; doubles each time, with jitter.
    pub base_delay: Duration,
    /// Upper bound of the exponential backoff.
    pub max_delay: Duration,
    /// Upper bound on a `Retry-After` wait.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The wait before retry number `retry` (1-based): `Retry-After` capped at
    /// `max_retry_after` when given, else a random duration in [d/2, d] with
    /// d = min(base_delay × 2^(retry-1), max_delay).
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.max_retry_after);
        }
        let factor = 2_u32.saturating_pow(retry.saturating_sub(1));
        let ceiling = self.base_delay.saturating_mul(factor).min(self.max_delay);
        let half = ceiling / 2;
        let jitter_range = ceiling.saturating_sub(half).as_nanos();
        let jitter = rand::rng().random_range(0..=jitter_range);
        half + Duration::from_nanos(u64::try_from(jitter).unwrap_or(u64::MAX))
    }
}

/// Client settings other than credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// API origin, default [`PRODUCTION_BASE_URL`]; may carry a path prefix (emulators).
    pub base_url: String,
    /// Time allowed to establish the connection (TCP + TLS).
    pub connect_timeout: Duration,
    /// Time allowed for each request, from sending to reading the whole response.
    pub request_timeout: Duration,
    /// Retry behaviour.
    pub retry: RetryPolicy,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            base_url: PRODUCTION_BASE_URL.to_owned(),
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
        }
    }
}

/// Twilio Messages API client. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    base_url: String,
    auth: TwilioAuth,
    retry: RetryPolicy,
}

impl fmt::Debug for TwilioClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioClient")
            .field("base_url", &self.base_url)
            .field("auth", &self.auth)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// Whether `value` is a Twilio SID with one of `prefixes`: two letters and 32 hex digits.
fn is_sid(value: &str, prefixes: &[&str]) -> bool {
    value.len() == 34
        && prefixes.iter().any(|p| value.starts_with(p))
        && value.bytes().skip(2).all(|b| b.is_ascii_hexdigit())
}

impl TwilioClient {
    /// Builds a client. Validates the configuration; does no network I/O.
    pub fn new(auth: TwilioAuth, config: ClientConfig) -> Result<Self, TwilioError> {
        if !is_sid(auth.account_sid(), &["AC"]) {
            return Err(TwilioError::Config(
                "Account SID must be AC followed by 32 hex digits".to_owned(),
            ));
        }
        let base_url = config.base_url.trim().trim_end_matches('/').to_owned();
        match url::Url::parse(&base_url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => {}
            _ => {
                return Err(TwilioError::Config(
                    "base URL must be an absolute http(s) URL".to_owned(),
                ));
            }
        }
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(crate::aws::tls_config())
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("rising-core/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TwilioError::Config(format!("HTTP client: {e}")))?;
        let mut retry = config.retry;
        retry.max_attempts = retry.max_attempts.max(1);
        Ok(Self {
            http,
            base_url,
            auth,
            retry,
        })
    }

    /// The Account SID this client acts for.
    pub fn account_sid(&self) -> &str {
        self.auth.account_sid()
    }

    /// Creates (sends) a message. Returns the Message resource Twilio created (usually `queued`
    /// or `accepted`).
    pub async fn send_message(&self, message: &OutboundMessage) -> Result<Message, TwilioError> {
        if message.to.is_empty() {
            return Err(TwilioError::InvalidArgument("recipient is empty"));
        }
        match &message.sender {
            Sender::From(from) if from.is_empty() => {
                return Err(TwilioError::InvalidArgument("sender is empty"));
            }
            Sender::MessagingService(sid) if !is_sid(sid, &["MG"]) => {
                return Err(TwilioError::InvalidArgument(
                    "Messaging Service SID must be MG followed by 32 hex digits",
                ));
            }
            _ => {}
        }
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.base_url,
            self.account_sid()
        );
        let form = message.form();
        self.execute("create_message", false, || self.http.post(&url).form(&form))
            .await
    }

    /// Fetches a message by SID (`SM…` or `MM…`).
    pub async fn fetch_message(&self, sid: &str) -> Result<Message, TwilioError> {
        if !is_sid(sid, &["SM", "MM"]) {
            return Err(TwilioError::InvalidArgument(
                "message SID must be SM or MM followed by 32 hex digits",
            ));
        }
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages/{}.json",
            self.base_url,
            self.account_sid(),
            sid
        );
        self.execute("fetch_message", true, || self.http.get(&url))
            .await
    }

    /// Sends the request built by `build`, retrying as documented in the module, and parses a
    /// Message resource from a 2xx response.
    async fn execute(
        &self,
        operation: &'static str,
        idempotent: bool,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Message, TwilioError> {
        let (user, password) = self.auth.credentials();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let can_retry = attempt < self.retry.max_attempts;
            let sent = build()
                .basic_auth(user, Some(password))
                .header(http::header::ACCEPT, "application/json")
                .send()
                .await;

            let response = match sent {
                Ok(response) => response,
                Err(error) => {
                    let retry =
                        can_retry && (error.is_connect() || (idempotent && error.is_timeout()));
                    if retry {
                        let wait = self.retry.delay(attempt, None);
                        tracing::warn!(
                            operation,
                            attempt,
                            timeout = error.is_timeout(),
                            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                            "Twilio request failed, retrying"
                        );
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(TwilioError::from_reqwest(error));
                }
            };

            let status = response.status();
            let retry_after = retry_after(response.headers());
            let body = match response.bytes().await {
                Ok(body) => body,
                Err(error) => return Err(TwilioError::from_reqwest(error)),
            };

            if status.is_success() {
                tracing::debug!(
                    operation,
                    attempt,
                    status = status.as_u16(),
                    "Twilio request succeeded"
                );
                return serde_json::from_slice::<Message>(&body).map_err(|e| {
                    TwilioError::UnexpectedResponse {
                        status: status.as_u16(),
                        reason: format!(
                            "not a Message resource ({:?} at line {} column {})",
                            e.classify(),
                            e.line(),
                            e.column()
                        ),
                    }
                });
            }

            let error_body: ErrorBody = serde_json::from_slice(&body).unwrap_or_default();
            let rate_limited = status == StatusCode::TOO_MANY_REQUESTS
                || error_body.code == Some(CODE_TOO_MANY_REQUESTS);
            if can_retry && (rate_limited || status.is_server_error()) {
                let wait = self.retry.delay(attempt, retry_after);
                tracing::warn!(
                    operation,
                    attempt,
                    status = status.as_u16(),
                    code = error_body.code,
                    wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "Twilio request failed, retrying"
                );
                tokio::time::sleep(wait).await;
                continue;
            }

            tracing::debug!(
                operation,
                attempt,
                status = status.as_u16(),
                code = error_body.code,
                "Twilio request failed"
            );
            return Err(classify(status, error_body, attempt, retry_after));
        }
    }
}

/// `Retry-After` in delay-seconds form (the HTTP-date form is ignored: backoff applies).
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Maps a final error response to a [`TwilioError`].
fn classify(
    status: StatusCode,
    body: ErrorBody,
    attempts: u32,
    retry_after: Option<Duration>,
) -> TwilioError {
    let code = body.code;
    if status == StatusCode::UNAUTHORIZED || code == Some(CODE_AUTHENTICATION) {
        return TwilioError::Authentication {
            status: status.as_u16(),
            code,
        };
    }
    if status == StatusCode::TOO_MANY_REQUESTS || code == Some(CODE_TOO_MANY_REQUESTS) {
        return TwilioError::RateLimited {
            attempts,
            retry_after,
        };
    }
    match code {
        Some(CODE_UNSUBSCRIBED) => TwilioError::RecipientUnsubscribed,
        Some(c @ (CODE_INVALID_TO | CODE_NOT_MOBILE)) => TwilioError::InvalidRecipient { code: c },
        Some(CODE_REGION_NOT_ENABLED) => TwilioError::RegionNotEnabled,
        _ => TwilioError::Api {
            status: status.as_u16(),
            code,
            message: body.message.unwrap_or_else(|| {
                status
                    .canonical_reason()
                    .unwrap_or("unknown error")
                    .to_owned()
            }),
            more_info: body.more_info,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use base64::Engine as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::{TcpListener, TcpStream};

    const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
    const TOKEN: &str = "test-auth-token";
    const MESSAGE_SID: &str = "SM0123456789abcdef0123456789abcdef";
    const SERVICE_SID: &str = "MG0123456789abcdef0123456789abcdef";

    /// A request as the test server saw it.
    #[derive(Debug, Clone)]
    struct Seen {
        method: String,
        path: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Seen {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }

        fn form(&self) -> Vec<(String, String)> {
            form_urlencoded::parse(&self.body).into_owned().collect()
        }
    }

    /// A canned reply; `None` status means "accept and never answer".
    #[derive(Debug, Clone)]
    struct Reply {
        status: Option<u16>,
        headers: Vec<(&'static str, String)>,
        body: String,
    }

    fn reply(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status: Some(status),
            headers: Vec::new(),
            body: body.into(),
        }
    }

    fn hang() -> Reply {
        Reply {
            status: None,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    /// A tiny HTTP/1.1 server answering each request with the next canned reply (the last one
    /// repeats), one request per connection.
    struct TestServer {
        base_url: String,
        seen: Arc<Mutex<Vec<Seen>>>,
    }

    impl TestServer {
        async fn start(replies: Vec<Reply>) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("addr");
            let seen = Arc::new(Mutex::new(Vec::new()));
            let queue = Arc::new(Mutex::new(VecDeque::from(replies)));
            let seen_in_task = Arc::clone(&seen);
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let reply = {
                        let mut q = queue.lock().expect("lock");
                        if q.len() > 1 {
                            q.pop_front()
                        } else {
                            q.front().cloned()
                        }
                    };
                    let seen = Arc::clone(&seen_in_task);
                    tokio::spawn(async move {
                        if let Some(reply) = reply {
                            serve_one(stream, reply, seen).await;
                        }
                    });
                }
            });
            Self {
                base_url: format!("http://{addr}"),
                seen,
            }
        }

        fn requests(&self) -> Vec<Seen> {
            self.seen.lock().expect("lock").clone()
        }
    }

    async fn serve_one(mut stream: TcpStream, reply: Reply, seen: Arc<Mutex<Vec<Seen>>>) {
        let mut buf = Vec::new();
        let mut chunk = [0_u8; 4096];
        let header_end = loop {
            let n = stream.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break pos + 4;
            }
        };
        let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default();
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < header_end + length {
            let n = stream.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = buf[header_end..].to_vec();
        seen.lock().expect("lock").push(Seen {
            method,
            path,
            headers,
            body,
        });

        let Some(status) = reply.status else {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return;
        };
        let mut response = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
            reply.body.len()
        );
        for (name, value) in &reply.headers {
            response.push_str(&format!("{name}: {value}\r\n"));
        }
        response.push_str("\r\n");
        response.push_str(&reply.body);
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    }

    fn fast_retry() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            max_retry_after: Duration::from_millis(200),
        }
    }

    fn client_for(server: &TestServer) -> TwilioClient {
        client_with(server, fast_retry(), Duration::from_secs(5))
    }

    fn client_with(server: &TestServer, retry: RetryPolicy, timeout: Duration) -> TwilioClient {
        TwilioClient::new(
            TwilioAuth::AuthToken {
                account_sid: ACCOUNT.to_owned(),
                auth_token: TOKEN.to_owned(),
            },
            ClientConfig {
                base_url: server.base_url.clone(),
                connect_timeout: Duration::from_secs(1),
                request_timeout: timeout,
                retry,
            },
        )
        .expect("client")
    }

    fn outbound() -> OutboundMessage {
        OutboundMessage {
            to: "+14155550100".to_owned(),
            sender: Sender::From("+14155550199".to_owned()),
            body: "Hello & welcome, caf\u{e9} \u{1f44b} 100% +1".to_owned(),
            status_callback: None,
        }
    }

    fn created_json() -> String {
        serde_json::json!({
            "account_sid": ACCOUNT,
            "api_version": "2010-04-01",
            "body": "Hello & welcome",
            "date_created": "Thu, 24 Aug 2023 05:01:45 +0000",
            "date_sent": null,
            "date_updated": "Thu, 24 Aug 2023 05:01:45 +0000",
            "direction": "outbound-api",
            "error_code": null,
            "error_message": null,
            "from": "+14155550199",
            "num_media": "0",
            "num_segments": "1",
            "price": null,
            "price_unit": null,
            "messaging_service_sid": null,
            "sid": MESSAGE_SID,
            "status": "queued",
            "subresource_uris": {"media": "/2010-04-01/Accounts/AC/Messages/SM/Media.json"},
            "to": "+14155550100",
            "uri": format!("/2010-04-01/Accounts/{ACCOUNT}/Messages/{MESSAGE_SID}.json")
        })
        .to_string()
    }

    fn error_json(code: u32, status: u16) -> String {
        serde_json::json!({
            "code": code,
            "message": "The 'To' number +14155550100 is not valid.",
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status
        })
        .to_string()
    }

    // ----- request shape -----

    #[tokio::test]
    async fn send_posts_form_fields_to_the_messages_endpoint_with_basic_auth() {
        let server = TestServer::start(vec![reply(201, created_json())]).await;
        let message = client_for(&server)
            .send_message(&outbound())
            .await
            .expect("sent");
        assert_eq!(message.sid, MESSAGE_SID);

        let requests = server.requests();
        assert_eq!(requests.len(), 1);
        let request = &requests[0];
        assert_eq!(request.method, "POST");
        assert_eq!(
            request.path,
            format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json")
        );
        let expected_auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT}:{TOKEN}"))
        );
        assert_eq!(
            request.header("authorization"),
            Some(expected_auth.as_str())
        );
        assert_eq!(
            request.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(
            request.form(),
            vec![
                ("To".to_owned(), "+14155550100".to_owned()),
                ("From".to_owned(), "+14155550199".to_owned()),
                (
                    "Body".to_owned(),
                    "Hello & welcome, caf\u{e9} \u{1f44b} 100% +1".to_owned()
                ),
            ]
        );
    }

    #[tokio::test]
    async fn messaging_service_sender_sends_messaging_service_sid_and_no_from() {
        let server = TestServer::start(vec![reply(201, created_json())]).await;
        let message = OutboundMessage {
            sender: Sender::MessagingService(SERVICE_SID.to_owned()),
            status_callback: Some("https://x.org/sms/status".to_owned()),
            ..outbound()
        };
        client_for(&server)
            .send_message(&message)
            .await
            .expect("sent");
        let form = server.requests()[0].form();
        let names: Vec<&str> = form.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["To", "MessagingServiceSid", "Body", "StatusCallback"]
        );
        assert_eq!(form[1].1, SERVICE_SID);
        assert_eq!(form[3].1, "https://x.org/sms/status");
    }

    #[tokio::test]
    async fn api_key_auth_uses_key_sid_and_secret_but_account_sid_in_path() {
        let server = TestServer::start(vec![reply(201, created_json())]).await;
        let client = TwilioClient::new(
            TwilioAuth::ApiKey {
                account_sid: ACCOUNT.to_owned(),
                key_sid: "SK0123456789abcdef0123456789abcdef".to_owned(),
                key_secret: "key-secret".to_owned(),
            },
            ClientConfig {
                base_url: format!("{}/", server.base_url),
                retry: fast_retry(),
                ..ClientConfig::default()
            },
        )
        .expect("client");
        client.send_message(&outbound()).await.expect("sent");
        let request = &server.requests()[0];
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode("SK0123456789abcdef0123456789abcdef:key-secret")
        );
        assert_eq!(request.header("authorization"), Some(expected.as_str()));
        assert_eq!(
            request.path,
            format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json")
        );
    }

    #[tokio::test]
    async fn fetch_gets_the_message_resource_by_sid() {
        let server = TestServer::start(vec![reply(200, created_json())]).await;
        let message = client_for(&server)
            .fetch_message(MESSAGE_SID)
            .await
            .expect("fetched");
        assert_eq!(message.status, MessageStatus::Queued);
        let request = &server.requests()[0];
        assert_eq!(request.method, "GET");
        assert_eq!(
            request.path,
            format!("/2010-04-01/Accounts/{ACCOUNT}/Messages/{MESSAGE_SID}.json")
        );
        assert!(request.body.is_empty());
    }

    #[tokio::test]
    async fn fetch_rejects_a_sid_that_could_change_the_path_without_a_request() {
        let server = TestServer::start(vec![reply(200, created_json())]).await;
        let error = client_for(&server)
            .fetch_message("../../Calls")
            .await
            .expect_err("invalid");
        assert!(matches!(error, TwilioError::InvalidArgument(_)));
        assert!(server.requests().is_empty());
    }

    // ----- parsing -----

    #[tokio::test]
    async fn created_message_is_parsed_with_nullable_fields() {
        let server = TestServer::start(vec![reply(201, created_json())]).await;
        let m = client_for(&server)
            .send_message(&outbound())
            .await
            .expect("sent");
        assert_eq!(m.account_sid.as_deref(), Some(ACCOUNT));
        assert_eq!(m.status, MessageStatus::Queued);
        assert_eq!(m.num_segments, Some(1));
        assert_eq!(m.num_media, Some(0));
        assert_eq!(m.error_code, None);
        assert_eq!(m.error_message, None);
        assert_eq!(m.to.as_deref(), Some("+14155550100"));
        assert_eq!(m.direction.as_deref(), Some("outbound-api"));
        assert_eq!(m.date_sent, None);
        assert_eq!(
            m.date_created,
            Some(time::macros::datetime!(2023-08-24 05:01:45 UTC))
        );
        assert_eq!(m.messaging_service_sid, None);
    }

    #[test]
    fn failed_message_parses_error_code_and_price() {
        let json = serde_json::json!({
            "sid": MESSAGE_SID,
            "status": "undelivered",
            "error_code": 30007,
            "error_message": "Carrier violation",
            "num_segments": 2,
            "price": "-0.00750",
            "price_unit": "USD",
        });
        let m: Message = serde_json::from_value(json).expect("parse");
        assert_eq!(m.status, MessageStatus::Undelivered);
        assert!(m.status.is_failure() && m.status.is_final());
        assert_eq!(m.error_code, Some(30007));
        assert_eq!(m.num_segments, Some(2));
        assert_eq!(m.price.as_deref(), Some("-0.00750"));
    }

    #[test]
    fn unknown_or_null_status_and_odd_dates_do_not_fail_parsing() {
        let json = serde_json::json!({
            "sid": MESSAGE_SID,
            "status": "teleported",
            "date_created": "yesterday",
            "num_segments": "many",
        });
        let m: Message = serde_json::from_value(json).expect("parse");
        assert_eq!(m.status, MessageStatus::Unknown);
        assert_eq!(m.date_created, None);
        assert_eq!(m.num_segments, None);
        let null_status: Message =
            serde_json::from_value(serde_json::json!({"sid": MESSAGE_SID, "status": null}))
                .expect("parse");
        assert_eq!(null_status.status, MessageStatus::Unknown);
    }

    #[test]
    fn message_debug_output_hides_phone_numbers_and_body() {
        let m: Message = serde_json::from_str(&created_json()).expect("parse");
        let debug = format!("{m:?}");
        assert!(!debug.contains("+1415"), "{debug}");
        assert!(!debug.contains("Hello"), "{debug}");
        assert!(debug.contains(MESSAGE_SID));
        let outbound_debug = format!("{:?}", outbound());
        assert!(!outbound_debug.contains("+1415"), "{outbound_debug}");
        assert!(!outbound_debug.contains("Hello"), "{outbound_debug}");
    }

    #[tokio::test]
    async fn success_status_with_a_non_message_body_is_an_unexpected_response() {
        let server = TestServer::start(vec![reply(201, "<html>hi</html>")]).await;
        let error = client_for(&server)
            .send_message(&outbound())
            .await
            .expect_err("bad body");
        assert!(
            matches!(error, TwilioError::UnexpectedResponse { status: 201, .. }),
            "{error:?}"
        );
        assert!(!error.is_retryable());
    }

    // ----- error mapping -----

    async fn send_against(status: u16, body: String) -> (TwilioError, usize) {
        let server = TestServer::start(vec![reply(status, body)]).await;
        let error = client_for(&server)
            .send_message(&outbound())
            .await
            .expect_err("error response");
        (error, server.requests().len())
    }

    #[tokio::test]
    async fn error_21610_is_recipient_unsubscribed_and_not_retried() {
        let (error, requests) = send_against(400, error_json(21610, 400)).await;
        assert!(
            matches!(error, TwilioError::RecipientUnsubscribed),
            "{error:?}"
        );
        assert_eq!(error.code(), Some(21610));
        assert!(!error.is_retryable());
        assert_eq!(requests, 1);
    }

    #[tokio::test]
    async fn error_21211_is_invalid_recipient() {
        let (error, requests) = send_against(400, error_json(21211, 400)).await;
        assert!(
            matches!(error, TwilioError::InvalidRecipient { code: 21211 }),
            "{error:?}"
        );
        assert_eq!(requests, 1);
    }

    #[tokio::test]
    async fn error_21614_is_invalid_recipient() {
        let (error, _) = send_against(400, error_json(21614, 400)).await;
        assert!(
            matches!(error, TwilioError::InvalidRecipient { code: 21614 }),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn error_21408_is_region_not_enabled() {
        let (error, requests) = send_against(400, error_json(21408, 400)).await;
        assert!(matches!(error, TwilioError::RegionNotEnabled), "{error:?}");
        assert_eq!(requests, 1);
    }

    #[tokio::test]
    async fn http_401_is_an_authentication_error_and_not_retried() {
        let (error, requests) = send_against(401, error_json(20003, 401)).await;
        assert!(
            matches!(
                error,
                TwilioError::Authentication {
                    status: 401,
                    code: Some(20003)
                }
            ),
            "{error:?}"
        );
        assert!(!error.is_retryable());
        assert_eq!(requests, 1);
    }

    #[tokio::test]
    async fn other_400_is_an_api_error_with_twilio_fields_and_is_not_retried() {
        let (error, requests) = send_against(400, error_json(21602, 400)).await;
        match &error {
            TwilioError::Api {
                status,
                code,
                message,
                more_info,
            } => {
                assert_eq!(*status, 400);
                assert_eq!(*code, Some(21602));
                assert!(message.contains("not valid"));
                assert_eq!(
                    more_info.as_deref(),
                    Some("https://www.twilio.com/docs/errors/21602")
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(!error.is_retryable());
        assert_eq!(requests, 1, "a 4xx must never be retried");
    }

    #[tokio::test]
    async fn error_display_and_debug_never_include_twilios_message_text() {
        let (error, _) = send_against(400, error_json(21602, 400)).await;
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("+1415"), "{shown}");
        assert!(shown.contains("21602"), "{shown}");
    }

    #[tokio::test]
    async fn error_without_json_body_is_an_api_error_with_the_status_reason() {
        let (error, _) = send_against(404, "not json".to_owned()).await;
        assert!(
            matches!(&error, TwilioError::Api { status: 404, code: None, message, .. } if message == "Not Found"),
            "{error:?}"
        );
    }

    // ----- retries -----

    #[tokio::test]
    async fn rate_limit_with_retry_after_is_honoured_then_succeeds() {
        let mut limited = reply(429, error_json(20429, 429));
        limited.headers.push(("Retry-After", "1".to_owned()));
        let server = TestServer::start(vec![limited, reply(201, created_json())]).await;
        let started = Instant::now();
        let message = client_for(&server)
            .send_message(&outbound())
            .await
            .expect("sent after retry");
        assert_eq!(message.sid, MESSAGE_SID);
        assert_eq!(server.requests().len(), 2);
        // Retry-After: 1 s, capped at 200 ms by fast_retry().
        assert!(started.elapsed() >= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn rate_limit_after_all_attempts_is_rate_limited_error() {
        let mut limited = reply(429, error_json(20429, 429));
        limited.headers.push(("Retry-After", "0".to_owned()));
        let server = TestServer::start(vec![limited]).await;
        let error = client_for(&server)
            .send_message(&outbound())
            .await
            .expect_err("still limited");
        assert!(
            matches!(
                error,
                TwilioError::RateLimited {
                    attempts: 3,
                    retry_after: Some(d)
                } if d == Duration::ZERO
            ),
            "{error:?}"
        );
        assert!(error.is_retryable());
        assert_eq!(server.requests().len(), 3);
    }

    #[tokio::test]
    async fn server_error_is_retried_then_succeeds() {
        let server = TestServer::start(vec![
            reply(500, error_json(20500, 500)),
            reply(503, "upstream unavailable"),
            reply(201, created_json()),
        ])
        .await;
        let message = client_for(&server)
            .send_message(&outbound())
            .await
            .expect("sent after retries");
        assert_eq!(message.sid, MESSAGE_SID);
        assert_eq!(server.requests().len(), 3);
    }

    #[tokio::test]
    async fn server_error_after_all_attempts_is_a_retryable_api_error() {
        let server = TestServer::start(vec![reply(502, "bad gateway")]).await;
        let error = client_for(&server)
            .send_message(&outbound())
            .await
            .expect_err("still failing");
        assert!(
            matches!(error, TwilioError::Api { status: 502, .. }),
            "{error:?}"
        );
        assert!(error.is_retryable());
        assert_eq!(server.requests().len(), 3);
    }

    #[tokio::test]
    async fn no_retry_policy_makes_a_single_request() {
        let server = TestServer::start(vec![reply(500, "oops")]).await;
        let client = client_with(&server, RetryPolicy::none(), Duration::from_secs(5));
        let _ = client.send_message(&outbound()).await;
        assert_eq!(server.requests().len(), 1);
    }

    #[tokio::test]
    async fn send_that_times_out_is_a_timeout_and_is_not_retried() {
        let server = TestServer::start(vec![hang()]).await;
        let client = client_with(&server, fast_retry(), Duration::from_millis(200));
        let started = Instant::now();
        let error = client.send_message(&outbound()).await.expect_err("timeout");
        assert!(matches!(error, TwilioError::Timeout), "{error:?}");
        assert!(error.is_retryable());
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            server.requests().len(),
            1,
            "a timed-out POST may have been delivered: never resend it automatically"
        );
    }

    #[tokio::test]
    async fn fetch_that_times_out_is_retried() {
        let server = TestServer::start(vec![hang(), reply(200, created_json())]).await;
        let client = client_with(&server, fast_retry(), Duration::from_millis(200));
        let message = client
            .fetch_message(MESSAGE_SID)
            .await
            .expect("fetched on retry");
        assert_eq!(message.sid, MESSAGE_SID);
        assert_eq!(server.requests().len(), 2);
    }

    #[tokio::test]
    async fn connection_refused_is_a_transport_error_after_retries() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let client = TwilioClient::new(
            TwilioAuth::AuthToken {
                account_sid: ACCOUNT.to_owned(),
                auth_token: TOKEN.to_owned(),
            },
            ClientConfig {
                base_url: format!("http://{addr}"),
                retry: fast_retry(),
                ..ClientConfig::default()
            },
        )
        .expect("client");
        let error = client.send_message(&outbound()).await.expect_err("refused");
        assert!(matches!(error, TwilioError::Transport(_)), "{error:?}");
        assert!(error.is_retryable());
    }

    // ----- construction and policy -----

    #[test]
    fn constructing_a_client_does_no_network_io() {
        // An unroutable documentation address (TEST-NET-1): building must not try to reach it.
        let client = TwilioClient::new(
            TwilioAuth::AuthToken {
                account_sid: ACCOUNT.to_owned(),
                auth_token: TOKEN.to_owned(),
            },
            ClientConfig {
                base_url: "https://192.0.2.1".to_owned(),
                ..ClientConfig::default()
            },
        );
        assert!(client.is_ok());
    }

    #[test]
    fn default_configuration_targets_production() {
        let config = ClientConfig::default();
        assert_eq!(config.base_url, "https://api.twilio.com");
        assert_eq!(config.retry.max_attempts, 3);
    }

    #[test]
    fn invalid_account_sid_or_base_url_is_a_config_error() {
        let bad_sid = TwilioClient::new(
            TwilioAuth::AuthToken {
                account_sid: "AC123".to_owned(),
                auth_token: TOKEN.to_owned(),
            },
            ClientConfig::default(),
        );
        assert!(matches!(bad_sid, Err(TwilioError::Config(_))));
        let bad_url = TwilioClient::new(
            TwilioAuth::AuthToken {
                account_sid: ACCOUNT.to_owned(),
                auth_token: TOKEN.to_owned(),
            },
            ClientConfig {
                base_url: "api.twilio.com".to_owned(),
                ..ClientConfig::default()
            },
        );
        assert!(matches!(bad_url, Err(TwilioError::Config(_))));
    }

    #[test]
    fn auth_debug_output_hides_secrets() {
        let auth = TwilioAuth::ApiKey {
            account_sid: ACCOUNT.to_owned(),
            key_sid: "SK0123456789abcdef0123456789abcdef".to_owned(),
            key_secret: "super-secret".to_owned(),
        };
        assert!(!format!("{auth:?}").contains("super-secret"));
        let token = TwilioAuth::AuthToken {
            account_sid: ACCOUNT.to_owned(),
            auth_token: "tok-secret".to_owned(),
        };
        assert!(!format!("{token:?}").contains("tok-secret"));
    }

    #[tokio::test]
    async fn invalid_messaging_service_sid_is_rejected_without_a_request() {
        let server = TestServer::start(vec![reply(201, created_json())]).await;
        let message = OutboundMessage {
            sender: Sender::MessagingService("MG123".to_owned()),
            ..outbound()
        };
        let error = client_for(&server)
            .send_message(&message)
            .await
            .expect_err("invalid");
        assert!(matches!(error, TwilioError::InvalidArgument(_)));
        assert!(server.requests().is_empty());
    }

    #[test]
    fn retry_after_is_capped() {
        let policy = fast_retry();
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(60))),
            Duration::from_millis(200)
        );
        assert_eq!(
            policy.delay(1, Some(Duration::from_millis(50))),
            Duration::from_millis(50)
        );
    }

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            max_retry_after: Duration::from_secs(5),
        };
        for _ in 0..50 {
            let first = policy.delay(1, None);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = policy.delay(3, None);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let late = policy.delay(30, None);
            assert!(late >= Duration::from_millis(500) && late <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn retry_after_header_accepts_seconds_only() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("7"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn retryable_errors_are_rate_limits_server_errors_and_timeouts() {
        assert!(TwilioError::Timeout.is_retryable());
        assert!(
            TwilioError::RateLimited {
                attempts: 3,
                retry_after: None
            }
            .is_retryable()
        );
        let api = |status| TwilioError::Api {
            status,
            code: None,
            message: String::new(),
            more_info: None,
        };
        assert!(api(503).is_retryable());
        assert!(!api(400).is_retryable());
        assert!(!api(404).is_retryable());
        assert!(!TwilioError::RecipientUnsubscribed.is_retryable());
        assert!(!TwilioError::InvalidRecipient { code: 21211 }.is_retryable());
        assert!(!TwilioError::RegionNotEnabled.is_retryable());
        assert!(
            !TwilioError::Authentication {
                status: 401,
                code: None
            }
            .is_retryable()
        );
    }
}

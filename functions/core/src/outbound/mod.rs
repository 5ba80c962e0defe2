//! The one path for every outbound message: invites, confirmations, reminders, recordings.
//!
//! A producer (the host's invite batch, a registration, the scheduler) renders the message, seals the
//! recipient's address and the text, stores it as `pending` ([`OutboxStore::enqueue`]) and puts a
//! [`QueuedMessage`] on the send queue. The `send-worker` function ([`SendWorker`]) takes batches from
//! the queue and, for each message, at send time:
//!
//! 1. **gates** it ([`gates::decide`]): a recorded consent basis; not opted out, suppressed, erased or
//!    undeliverable on that channel; inside the recipient's local sending hours (messages the person
//!    did not just ask for); not already invited on that channel within the invite window by anyone;
//! 2. **claims** it: a conditional write moves it `pending → sending` with a lease, atomically with
//!    the invite-window claim and the batch's progress counters;
//! 3. **sends** it through the channel's rate limiter (the fleet-wide rate divided across the event
//!    source's maximum concurrency);
//! 4. **records** the outcome: `sending → sent` with the provider's id, or `failed` with the reason
//!    (21610 also opts the recipient out; invalid numbers mark them undeliverable), or back to
//!    `pending` for a retry after throttling. A text of a batch asks Twilio for its status callbacks
//!    at `…/sms/status?batch=<id>` (the URL is signed with the callback), so its `delivered`
//!    callback (`delivery`) counts it in the batch's progress without a lookup.
//!
//! A redelivered queue message finds the message `sent` and is acknowledged. A worker that died
//! between claim and outcome leaves a lease; when it has expired the message is moved to `unknown`
//! and never sent again: a person getting no invite is better than getting two (and Twilio offers no
//! idempotency key to ask whether the first attempt went out). `unknown` is reported like a failure.

mod adapters;
pub mod gates;
pub mod quiet_hours;
pub mod rate;
#[cfg(test)]
pub(crate) mod recording_queue;
mod worker;

pub use adapters::{SesEmailGateway, SqsSendQueue, TwilioSmsGateway, email_failure, sms_failure};
pub use quiet_hours::SendingHours;
pub use worker::{ProductionWorker, SendWorker, WorkerSettings};

use std::fmt;
use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::Language;
use crate::privacy::{ContactHash, Sealed};
use crate::store::StoreError;

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Sms,
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Email => "email",
        }
    }

    /// The sealing field of the recipient's address on this channel
    /// (`privacy::field_context(contact, field)`).
    pub fn address_field(self) -> &'static str {
        match self {
            Self::Sms => "phone",
            Self::Email => "email",
        }
    }
}

/// Why a message is sent; decides which gates apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A host invites someone they know.
    Invite,
    /// The answer to the person's own action (a registration, an RSVP, a request for recordings).
    Confirmation,
    /// Before a gathering or a training.
    Reminder,
    /// A training recording, once published.
    Recording,
    /// After a gathering: thanks and next steps.
    FollowUp,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invite => "invite",
            Self::Confirmation => "confirmation",
            Self::Reminder => "reminder",
            Self::Recording => "recording",
            Self::FollowUp => "follow_up",
        }
    }

    /// Quiet hours apply to everything the person did not just ask for.
    pub fn respects_quiet_hours(self) -> bool {
        !matches!(self, Self::Confirmation)
    }

    /// Invites are sent at most once per channel and person within the invite window, whoever sends.
    pub fn once_per_window(self) -> bool {
        matches!(self, Self::Invite)
    }
}

/// What entitles us to send the message, recorded with it and checked at send time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentBasis {
    /// A host attested that the recipient is someone they know (invites only).
    HostAttested,
    /// The recipient opted in on this channel (SMS keyword or consent box, an email sign-up).
    OptedIn,
    /// The recipient asked for this very message (a confirmation, recordings by email).
    Requested,
}

impl ConsentBasis {
    /// Whether this basis may justify a message of `kind`.
    pub fn covers(self, kind: Kind) -> bool {
        match (self, kind) {
            (Self::HostAttested, Kind::Invite) => true,
            (Self::HostAttested, _) => false,
            (Self::OptedIn, Kind::Invite) => false,
            (Self::OptedIn, _) => true,
            (Self::Requested, kind) => matches!(kind, Kind::Confirmation | Kind::Recording),
        }
    }
}

/// A message's id: random, chosen by the producer, also its idempotency key.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OutboundId(String);

impl OutboundId {
    /// A new random id.
    pub fn random() -> Self {
        Self(crate::ids::random_id())
    }

    /// Accepts an id read back from the queue or the table: 1–64 characters of `[A-Za-z0-9_-]`.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = !text.is_empty()
            && text.len() <= 64
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OutboundId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for OutboundId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting to be sent (also while deferred by quiet hours).
    Pending,
    /// Claimed by a worker until its lease ends.
    Sending,
    /// Accepted by the provider.
    Sent,
    /// Not sent, on purpose: see the [`SkipReason`].
    Skipped,
    /// The provider refused it for good: see the [`FailReason`].
    Failed,
    /// A worker claimed it and never reported back; it may or may not have gone out, and is never
    /// sent again.
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Skipped => "skipped",
            Self::Failed => "failed",
            Self::Unknown => "unknown",
        }
    }

    pub fn is_final(self) -> bool {
        !matches!(self, Self::Pending | Self::Sending)
    }
}

/// Why a message was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// No consent basis covers this kind of message (or, for texts other than invites, the person
    /// has no SMS opt-in on record).
    NoConsent,
    /// The recipient opted out on this channel (STOP, unsubscribe, carrier report).
    OptedOut,
    /// The recipient asked to be erased, or is suppressed on every channel.
    Suppressed,
    /// Earlier sends bounced or reached a landline or invalid number.
    Undeliverable,
    /// Someone already invited this person on this channel within the invite window.
    AlreadyInvited,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoConsent => "no_consent",
            Self::OptedOut => "opted_out",
            Self::Suppressed => "suppressed",
            Self::Undeliverable => "undeliverable",
            Self::AlreadyInvited => "already_invited",
        }
    }
}

/// Why the provider refused a message for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailReason {
    /// Twilio 21610: the number texted STOP to us; it is now opted out here too.
    OptedOut,
    /// Not a valid mobile number (21211, 21614), or the email address was rejected.
    Undeliverable,
    /// Any other refusal (region not enabled, message rejected, account problem).
    Rejected,
    /// The stored message could not be opened or does not make sense.
    Corrupt,
    /// Its queue message failed every delivery and reached the dead-letter queue before the message
    /// was claimed (a lasting storage outage, or a message the worker cannot handle).
    GaveUp,
}

impl FailReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OptedOut => "opted_out",
            Self::Undeliverable => "undeliverable",
            Self::Rejected => "rejected",
            Self::Corrupt => "corrupt",
            Self::GaveUp => "gave_up",
        }
    }
}

/// A batch of messages whose progress is counted together (a host's invite batch, a reminder run).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BatchId(String);

impl BatchId {
    pub fn random() -> Self {
        Self(crate::ids::random_id())
    }

    pub fn parse(text: &str) -> Option<Self> {
        OutboundId::parse(text).map(|id| Self(id.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A message as stored, `OUTBOX#<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub id: OutboundId,
    pub channel: Channel,
    pub kind: Kind,
    pub consent: ConsentBasis,
    pub contact: ContactHash,
    /// The recipient's address, sealed with `field_context(contact, channel.address_field())`.
    pub to: Sealed,
    /// The text (SMS) or the whole MIME message (email), sealed with [`body_context`].
    pub body: Sealed,
    pub language: Language,
    /// The recipient's ZIP code when known (their local time for quiet hours).
    pub zip: Option<String>,
    pub batch: Option<BatchId>,
    pub status: Status,
    /// Claims so far; a claim is conditioned on the count it read, so two workers cannot both win.
    pub attempts: u32,
    pub lease_until: Option<OffsetDateTime>,
    /// Set the first time quiet hours deferred it (the batch's `deferred` gauge counts it once).
    pub deferred: bool,
    pub created_at: OffsetDateTime,
}

/// The sealing context of a message's body.
pub fn body_context(id: &OutboundId) -> String {
    format!("outbox#{}|body", id.as_str())
}

/// A message a producer hands to [`OutboxStore::enqueue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub id: OutboundId,
    pub channel: Channel,
    pub kind: Kind,
    pub consent: ConsentBasis,
    pub contact: ContactHash,
    pub to: Sealed,
    pub body: Sealed,
    pub language: Language,
    pub zip: Option<String>,
    pub batch: Option<BatchId>,
}

impl NewMessage {
    /// What goes on the queue for this message.
    pub fn queued(&self) -> QueuedMessage {
        QueuedMessage {
            id: self.id.clone(),
            contact: self.contact.clone(),
            channel: self.channel,
        }
    }
}

/// The body of a send-queue message: which message, and the keys its gates are read under (so the
/// worker reads message and gates in one `BatchGetItem`). Opaque ids only: no personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedMessage {
    pub id: OutboundId,
    pub contact: ContactHash,
    pub channel: Channel,
}

/// A contact's state as the gates read it (`CONTACT#<hash>` / `CONTACT`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipient {
    /// `Some(true)` opted in to texts, `Some(false)` opted out, `None` never said.
    pub sms_opted_in: Option<bool>,
    pub sms_undeliverable: bool,
    /// Unsubscribed from marketing email, or a hard bounce / complaint.
    pub email_suppressed: bool,
    pub email_undeliverable: bool,
    /// Erased on request, or suppressed on every channel by an organizer.
    pub suppressed: bool,
}

/// Someone's claim on a person and channel within the invite window (`CONTACT#<hash>` /
/// `INVITED#<channel>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteClaim {
    pub message: OutboundId,
    pub until: OffsetDateTime,
}

/// What one `BatchGetItem` found for a queued message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Loaded {
    pub message: Option<StoredMessage>,
    pub recipient: Option<Recipient>,
    pub claim: Option<InviteClaim>,
}

/// A conditional change of one message, applied with others in one transaction where possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub id: OutboundId,
    pub contact: ContactHash,
    pub channel: Channel,
    pub batch: Option<BatchId>,
    /// The state it must be in (status and claim count) for the change to apply.
    pub from: (Status, u32),
    pub change: Change,
}

impl Transition {
    /// `change` of `message`, on condition it is still as it was read.
    pub fn of(message: &StoredMessage, change: Change) -> Self {
        Self {
            id: message.id.clone(),
            contact: message.contact.clone(),
            channel: message.channel,
            batch: message.batch.clone(),
            from: (message.status, message.attempts),
            change,
        }
    }
}

/// The change a [`Transition`] makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `pending → sending`: claim it until `lease_until`, and, for invites, claim the person's
    /// invite window until `window_until`.
    Claim {
        lease_until: OffsetDateTime,
        window_until: Option<OffsetDateTime>,
        was_deferred: bool,
    },
    /// `pending → skipped`.
    Skip {
        reason: SkipReason,
        was_deferred: bool,
    },
    /// `pending → pending`, first deferral by quiet hours (counted once).
    Defer { until: OffsetDateTime },
    /// `sending → sent`. `segments`: for a text, the segments it was billed as (counted from the
    /// body sent, as the provider counts them), for the campaign's cost; `None` for an email.
    Sent {
        provider_id: String,
        segments: Option<u32>,
    },
    /// `sending → failed`; `mark` changes the recipient's contact too.
    Failed {
        reason: FailReason,
        code: Option<u32>,
        mark: Option<RecipientMark>,
    },
    /// `sending → pending`: the provider throttled or failed transiently; try again later.
    Release,
    /// `sending → unknown`: a lease expired with no outcome.
    Unknown,
}

/// A change to the recipient's contact learnt from the provider's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientMark {
    /// Twilio 21610: the number opted out (carrier-level STOP); recorded with consent evidence.
    SmsOptedOut { code: u32 },
    /// Invalid or non-mobile number.
    SmsUndeliverable { code: u32 },
    /// SES refused the address for good.
    EmailUndeliverable,
}

/// Progress of a batch, summed over its counter shards.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub queued: u64,
    pub sent: u64,
    /// Texts the carrier reported delivered (Twilio's `delivered` status callback), counted once per
    /// MessageSid. A subset of `sent`; emails are never counted.
    pub delivered: u64,
    pub failed: u64,
    pub unknown: u64,
    /// Currently waiting for the recipient's morning.
    pub deferred: u64,
    pub skipped: Vec<(SkipReason, u64)>,
    /// Sent emails SES reported as hard bounces (a subset of `sent`), counted once per report.
    pub bounced: u64,
    /// Sent emails the recipient marked as spam (a subset of `sent`).
    pub complained: u64,
}

impl Progress {
    pub fn skipped_total(&self) -> u64 {
        self.skipped.iter().map(|(_, n)| n).sum()
    }

    /// Messages with an outcome.
    pub fn done(&self) -> u64 {
        self.sent + self.failed + self.unknown + self.skipped_total()
    }
}

/// Port: where messages and their gates are stored.
/// Transitions written together (one DynamoDB transaction): each writes at most three items (the
/// message, the person's invite claim or opt-out mark, a batch pointer), and the batch counters come
/// on top of DynamoDB's 100 items. A batch's claims are written this many at a time, so that a
/// failed write leaves the others' claims standing and only its own messages come back.
pub const TRANSITIONS_PER_WRITE: usize = 30;

pub trait OutboxStore: Send + Sync {
    /// Stores new `pending` messages and counts them as queued in their batches. A message whose
    /// id already exists is left as it is (a producer's retry), and not counted twice.
    fn enqueue(
        &self,
        messages: &[NewMessage],
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Reads each queued message with its recipient and invite-window claim (expired items are
    /// absent), in the order given.
    fn load(
        &self,
        queued: &[QueuedMessage],
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<Loaded>, StoreError>> + Send;

    /// [`OutboxStore::load`], and the campaign rules organizers set on `/admin/settings` (if any),
    /// read with the same lookups: the send worker applies them to the batch.
    fn load_for_sending(
        &self,
        queued: &[QueuedMessage],
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<(Vec<Loaded>, Option<crate::store::CampaignRules>), StoreError>>
    + Send;

    /// Applies the transitions, each only if its message is still in its `from` state; returns
    /// whether each applied, in order.
    fn apply(
        &self,
        transitions: &[Transition],
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<bool>, StoreError>> + Send;

    /// The batch's progress.
    fn progress(
        &self,
        batch: &BatchId,
    ) -> impl Future<Output = Result<Progress, StoreError>> + Send;
}

/// Port: the send queue.
pub trait SendQueue: Send + Sync {
    /// Enqueues the messages, each after its delay (at most 15 minutes, SQS's limit); returns which
    /// were accepted, in order.
    fn send(
        &self,
        messages: &[(QueuedMessage, Duration)],
    ) -> impl Future<Output = Result<Vec<bool>, QueueError>> + Send;
}

/// The send queue failed.
#[derive(Debug, thiserror::Error)]
#[error("SQS {operation} failed: {source}")]
pub struct QueueError {
    pub operation: &'static str,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// What a provider said about one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendFailure {
    /// Twilio 21610: the recipient unsubscribed from our number.
    OptedOut { code: u32 },
    /// Not a reachable address (21211 invalid, 21614 not mobile, SES rejecting the address).
    Undeliverable { code: Option<u32> },
    /// Refused for another lasting reason.
    Rejected { code: Option<u32> },
    /// Throttled even after the client's own retries; try later, slower.
    Throttled { retry_after: Option<Duration> },
    /// The provider failed and certainly did not send (5xx, connection refused).
    Transient,
    /// No answer: the message may have gone out.
    Unknown,
}

/// Port: the SMS provider.
pub trait SmsGateway: Send + Sync {
    /// Sends `body` to `to` (E.164); the provider's message id. The status callbacks of a text of
    /// `batch` name it.
    fn send_sms(
        &self,
        to: &str,
        body: &str,
        batch: Option<&BatchId>,
    ) -> impl Future<Output = Result<String, SendFailure>> + Send;
}

/// Port: the email provider.
pub trait EmailGateway: Send + Sync {
    /// Sends a complete MIME message to `to`; the provider's message id. An email of a batch is
    /// tagged with it, so its bounces and complaints count in the batch's progress.
    fn send_email(
        &self,
        to: &str,
        mime: &str,
        batch: Option<&BatchId>,
    ) -> impl Future<Output = Result<String, SendFailure>> + Send;
}

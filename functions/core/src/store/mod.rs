//! Storage behind small port traits: a DynamoDB adapter for production and the local stack, and an
//! in-memory adapter for unit tests of the use cases.
//!
//! One table, opaque keys (see template.yaml for the schema; there is no other copy of it):
//!
//! | item | pk | sk | notes |
//! |---|---|---|---|
//! | contact | `CONTACT#<keyed hash>` | `CONTACT` | SMS status, join source, person id; no phone in clear. An opt-in by text keeps the number sealed in `phone_sealed` (context `<keyed hash>\|phone`), so the reminders of what the person signs up for by text reach them. After an erasure only `sms_status` `opted_out`, `sms_status_at`, `suppressed` `true` (every channel: the send worker skips them) and `erased_at`; the person's own opt-in by text removes both From the web form also: `first_name_sealed`, `last_name_sealed`?, `zip`, `referral_code`, `referred_by`?, `wants_to_host`?, `phone_sealed` + `sms_consent_source` or `email_sealed` + `email_status*`; the person's own contact lists their other contact details in `linked_contacts` (a string set of keyed hashes), the other points back with `person_hash`; an email address given by text and the phone that gave it list each other in `linked_contacts`; an erasure of any erases every contact so linked |
//! | consent evidence | `CONTACT#<keyed hash>` | `CONSENT#<RFC 3339 time>#<MessageSid>` | what was agreed, when, how: action, source, canonical keyword, the wording *we* sent, language, MessageSid. Never the person's own words, phone or name: it outlives an erasure |
//! | erasure evidence | `CONTACT#<keyed hash>` | `CONSENT#<RFC 3339 time>#<MessageSid>` | action `erase`, channel `all`, source (`sms`), keyword (`DELETE`/`BORRAR`), wording sent, `reference` |
//! | inbound message processed | `INBOUND#<MessageSid>` | `INBOUND` | the reply given, sealed; TTL `expires_at`; `gsi1pk` = `CONTACT#<keyed hash>`, `gsi1sk` = `INBOUND#<time>#<MessageSid>` so an erasure finds it and blanks the reply (then the index keys go) |
//! | conversation in progress | `CONTACT#<keyed hash>` | `CONVERSATION` | step, options offered, language, sealed first name; TTL `expires_at`. Step `awaiting_delete_confirmation`: `confirm_until` (unix seconds) and the step it interrupted as `resume_step` (+ its `gathering_id`/`options`) |
//! | daily reply to a stranger | `CONTACT#<keyed hash>` | `DAILYREPLY#<yyyy-mm-dd>` | at most one a day; TTL `expires_at` |
//! | sent text's outcome | `OUTBOUND#<MessageSid>` | `MESSAGE` | its first final status Twilio reported (`delivered`, `undelivered`, `failed`, `canceled`; statuses on the way write nothing): `status`, `error_code`?, `batch_id`? (a delivered text of a batch, named by its callback URL `?batch=<id>`; counted in the batch's `BATCH#<id>` / `COUNT#<shard>` `delivered` in the same transaction), `at`; put once (`attribute_not_exists`) |
//! | email event applied | `CONTACT#<keyed hash>` | `EMAILEVENT#<SES feedback id>` | an SES bounce or complaint applied to the contact once: `kind` (`hard_bounce`, `soft_bounce`, `complaint`), `reason`?, `batch_id`?, `at`, `expires_at` (30 days); written in one transaction with the contact's `email_undeliverable` + `email_undeliverable_reason`, `email_suppressed` + `email_suppressed_reason` `complaint` (+ a `CONSENT#` opt-out, source `complaint`), or `email_soft_bounces` + 1, and the batch's `bounced` / `complained` count |
//! | carrier opt-out evidence | `CONTACT#<keyed hash>` | `CONSENT#<RFC 3339 time>#<MessageSid>` | action `opt_out`, source `carrier`, error code |
//! | daily counter | `METRIC#<name>` (`carrier_filtering`) | `DAY#<yyyy-mm-dd>` | `count`, added atomically |
//! | message template | `TEMPLATE` | `<message>#<language>` (`invite_sms#en`, `reminder_sms#es`, `follow_up_sms#…`, `training_reminder_sms#…`, `recording_sms#…`) | `entity` `template`, `message`, `language`, `text` (an organizer's wording, checked on `/admin/templates`), `updated_at`, `updated_by` (the organizer's keyed hash); replaced by each save, deleted to restore the catalog's wording (see `store::template`) |
//! | campaign rules | `SETTINGS` | `CAMPAIGN` | `entity` `campaign_rules`, `approval_required`, `invite_quota`, `invite_window_days`, `phone_countries`, `send_from`, `send_until` (what organizers set on `/admin/settings` over the stack's `GatheringApproval`, `HostInviteDailyLimit`, `InviteWindowDays`, `AllowedPhoneCountries` and the law's hours; read by the host function, `register` and, with each batch's gate lookups, the send worker), `updated_at`, `updated_by` (the organizer's keyed hash); replaced by each save, deleted to bring the parameters back (see `store::campaign`) |
//! | campaign counters | `STATS` | `DAY#<yyyy-mm-dd>` (UTC day of the stream record) | `entity` `stats`, `day`, `updated_at`, `last_batch` (the last batch added: an SDK retry of the same batch adds nothing), and numbers (absent = 0): `people`, `rsvps_<source>`, `registrations`, `opt_ins_<channel>`, `opt_outs_<channel>`, `sent_<kind>_<channel>`, `skipped_`/`failed_`/`unknown_<channel>`, `sms_segments`, `hard_bounces`, `soft_bounces`, `complaints`; added (UpdateItem ADD) only by the events publisher, read by the organizers' overview (see `crate::stats`). Never a contact detail |
//! | gathering | `GATHERING#<id>` | `GATHERING` | code, title, `starts_at`/`ends_at` (UTC RFC 3339), timezone, town, state, zip, `lat`/`lon`, `geohash`, `address_kind` + `address` (public, clear) or `address_sealed`, `host_first_name_sealed` (removed with `host_hash` when the host is erased), `capacity`?, `going_count`, language, `listed`, `declined_at`? (an organizer declined it: it stays unlisted), `description`? and `accessibility`? (the host's words, public; absent when empty), `host_hash`? (keyed hash of the email of the host who made it on the dashboard; absent for organizers' gatherings), `created_at`, `updated_at`?; while listed `gsi1pk` = `GEO#<geohash/3>`, `gsi1sk` = `<starts_at>#<id>`. An update by its host (condition: `host_hash` is theirs, `listed` as read) rewrites every field but `id`, `code`, `host_hash`, `host_first_name_sealed`, `going_count`, `created_at`, `listed`, `declined_at`, together with its `GEO2` and host pointers; an organizer's approval sets `listed` and the index keys, a decline `declined_at` |
//! | gathering, wide-search pointer | `GATHERING#<id>` | `GEO2` | `gathering_id`, `lat`/`lon`, `starts_at`; while listed `gsi1pk` = `GEO2#<geohash/2>`, `gsi1sk` = `<starts_at>#<id>` |
//! | gathering, start-day pointer | `GATHERING#<id>` | `WHEN` | `gathering_id`, `starts_at`; `gsi1pk` = `STARTS#<yyyy-mm-dd>` (UTC day of the start), `gsi1sk` = `<starts_at>#<id>`; every gathering, listed or not, written with it and rewritten by each update: the scheduler's "gatherings starting between" |
//! | gathering, waiting for review | `GATHERING#<id>` | `REVIEW` | `entity` `gathering_review`, `gathering_id`, `created_at`; `gsi1pk` = `REVIEW`, `gsi1sk` = `<created_at>#<id>` (one index partition, oldest first: the queue is small); written with a host's gathering created unlisted (`GATHERING_APPROVAL=required`; never an organizer's), deleted by the review that approves or declines it (condition: it exists), untouched by updates |
//! | host's gathering | `HOST#<host hash>` | `GATHERING#<id>` | `entity` `host_gathering`, `gathering_id`, `starts_at` (UTC RFC 3339); written with the gathering when it has a host, rewritten by each update: lists a host's gatherings |
//! | gathering code | `CODE#<CODE>` | `CODE` | `gathering_id`; created with the gathering, unique among codes and keywords |
//! | keyword | `KEYWORD#<WORD>` | `KEYWORD` | `kind` `campaign` or `gathering` (+ `gathering_id`), `language`, `created_at`; `gsi1pk` = `KEYWORDS`, `gsi1sk` = `<WORD>` (the organizers' list, alphabetical; absent in keywords put before the list existed, which work but are not listed); never a gathering's code (those are `CODE#`); removed by an organizer (condition: `kind` is a keyword's) |
//! | form submission | `SUBMISSION#<submission id>` | `SUBMISSION` | the client's id of one form submission: `created_at`, then `answer` (the JSON answered, no personal data), TTL `expires_at` (2 days): a retry gets the same answer and writes nothing twice |
//! | rate-limit window | `RATE#<kind>#<keyed hash>` | `WINDOW#<unix start>` | `attempts`, added atomically while below the limit; kinds `ip` (keyed hash `i.…` of the address) and `contact` (the form), `host-ip` and `host-email` (host sign-in links), `invites` (a host's daily invitation quota, counted by the batch); TTL `expires_at` (window end + 60 s) |
//! | referral code | `REFERRAL#<code>` | `REFERRAL` | `contact_hash` of the person whose "bring a friend" code it is (the code is a keyed derivation of that hash) |
//! | form consent evidence | `CONTACT#<keyed hash>` | `CONSENT#<RFC 3339 time>#form-<submission id>` | action `opt_in`, channel `sms`/`email`, source `form`, the wording next to the box, language, `submission_id`, page `origin` |
//! | RSVP | `GATHERING#<id>` | `RSVP#<keyed hash>` | `status` `going`/`waitlist`, `source` `sms`/`form`/`invite`, language, `first_name_sealed` (context `<keyed hash>\|first_name`), `referral` (the code of the link they came through)?, `starts_at`, `created_at`; `gsi1pk` = `CONTACT#<keyed hash>`, `gsi1sk` = `RSVP#<starts_at>#<gathering id>`. One record shape for SMS, web form and invitations |
//! | training | `TRAINING#<id>` | `TRAINING` | public catalog data only: `id` (random hex or a slug like `overview`), `title`, `title_es`?, `starts_at`/`ends_at` (UTC RFC 3339), `time_zone` (IANA), `join_url`?, `recording_url`?, `recording_published_at`? (set once, by publishing the recording), `created_at`; `gsi1pk` = `TRAININGS`, `gsi1sk` = `<starts_at>#<id>` (the whole catalog, by start time) |
//! | training registration | `TRAINING#<id>` | `REG#<keyed hash>` | `training_id`, `contact_hash`, `status` `registered`, `source` `sms`/`form`/`invite`, language, `first_name_sealed` (context `<keyed hash>\|first_name`), `referral` (the code of the link they came through)?, `starts_at`, `created_at`; `gsi1pk` = `CONTACT#<keyed hash>`, `gsi1sk` = `TRAINING#<starts_at>#<training id>`. Created only while the training exists and has not ended. Deleted by an erasure of the person |
//! | follow-up sweep | `SWEEP#<kind>#<subject>` | `SWEEP` | the scheduler's cursor over one reminder, follow-up or recording run (kind `day_before`, `same_day`, `after`, `training`, `recording`; subject the gathering or training id and its start or publication time in unix seconds): `through` (the `created_at` of the newest RSVP or registration handled, RFC 3339 ms), only ever raised; TTL `expires_at` (60 days) |
//! | host login link | `LOGIN#<SHA-256 of the token, hex>` | `LOGIN` | magic sign-in link (the token itself is only in the email): `contact_hash` (the host's email hash `e.…`), `email_sealed` (context `<keyed hash>\|email`), language, `created_at`; TTL `expires_at` (15 minutes). Used once: deleted on use, conditioned on `expires_at > now` |
//! | host session | `SESSION#<SHA-256 of the token, hex>` | `SESSION` | a signed-in host (the token is only in the cookie): `contact_hash`, language, `created_at`; TTL `expires_at` (at most 7 days). Deleted on sign-out; an expired one is absent to reads |
//! | host profile | `HOST#<keyed hash>` | `PROFILE` | `contact_hash`, `email_sealed` (context `<keyed hash>\|email`), `first_name_sealed`? (context `<keyed hash>\|first_name`, set when they first create a gathering), language, `created_at` (first sign-in, kept), `signed_in_at` (latest); no TTL |
//! | invitation | `INVITE#<code>` | `INVITE` | a host's invitation of one person on one channel: `code` (10 random base32 characters, the personal link `/i/<code>`), `gathering_id`, `host_hash`, `batch_id`, `channel`, `contact_hash` (the invited person's keyed hash), `message_id` (its outbox message), `created_at`; TTL `expires_at` = `InviteWindowDays` + `InvitePurgeDays` after it was sent; `gsi1pk` = `CONTACT#<keyed hash>`, `gsi1sk` = `INVITE#<code>` so an erasure finds it. Written with `BatchWriteItem` |
//! | invitation batch | `GATHERING#<id>` | `BATCH#<RFC 3339 time>#<batch id>` | `batch_id`, `host_hash`, `sms`, `email` (messages queued per channel), `created_at`; TTL `expires_at` like its invitations. Its progress is the outbox's batch counters |

mod campaign;
mod delivery;
mod delivery_dynamo;
mod delivery_memory;
mod dynamo;
pub(crate) mod dynamo_util;
mod email_event;
mod email_event_dynamo;
mod email_event_memory;
mod followup;
mod followup_dynamo;
mod followup_memory;
mod gathering;
mod gathering_dynamo;
mod gathering_memory;
mod host;
mod host_dynamo;
mod host_memory;
mod invite;
mod invite_dynamo;
mod invite_memory;
mod memory;
mod outbox_dynamo;
mod outbox_memory;
mod registration;
mod registration_dynamo;
mod registration_memory;
mod template;
mod training;
mod training_dynamo;
mod training_memory;

pub use campaign::{CampaignRules, CampaignRulesStore, INVITE_QUOTA_MAX, INVITE_WINDOW_MAX};
pub use delivery::{DeliveryEffect, DeliveryStore, Recorded, StatusRecord};
pub use delivery_dynamo::DynamoDeliveryStore;
pub use delivery_memory::{MemoryDeliveryContact, MemoryDeliveryStore, MemoryOutcome};
pub use dynamo::DynamoInboundStore;
pub use email_event::{
    EMAIL_EVENT_RECORD_TTL, EmailEventEffect, EmailEventRecord, EmailEventStore,
};
pub use email_event_dynamo::DynamoEmailEventStore;
pub use email_event_memory::{MemoryEmailContact, MemoryEmailEventStore};
pub use followup::{FollowUpStore, Reach, SWEEP_TTL, SealedAddress};
pub use followup_dynamo::DynamoFollowUpStore;
pub use followup_memory::MemoryFollowUpStore;
pub use gathering::{
    GatheringStore, KeywordStore, NearbyGathering, NewRsvp, PutGathering, PutKeyword,
    RemovedKeyword, ReviewDecision, Reviewed, RsvpOutcome, RsvpRecord, RsvpSource, RsvpStatus,
    RsvpStore, UpdateGathering,
};
pub use gathering_dynamo::DynamoGatheringStore;
pub use gathering_memory::MemoryGatheringStore;
pub use host::{HostProfile, HostSession, HostStore, LoginLink};
pub use host_dynamo::DynamoHostStore;
pub use host_memory::MemoryHostStore;
pub use invite::{Invite, InviteBatch, InviteStore};
pub use invite_dynamo::DynamoInviteStore;
pub use invite_memory::MemoryInviteStore;
pub use memory::{MemoryContact, MemoryInboundStore};
pub use outbox_dynamo::{COUNTER_SHARDS, DEFAULT_MESSAGE_RETENTION, DynamoOutbox};
pub use outbox_memory::{AppliedWrite, MemoryOutbox};
pub use registration::{
    ConsentedContact, PersonRecord, Recorded as RegistrationRecorded, RegistrationStore,
    SUBMISSION_TTL, window_start,
};
pub use registration_dynamo::DynamoRegistrationStore;
pub use registration_memory::{MemoryRegisteredContact, MemoryRegistrationStore};
pub use template::{StoredTemplate, TemplateMessage, TemplateStore};
pub use training::{
    NewTrainingRegistration, Published, PutTraining, TrainingRegistered, TrainingRegistration,
    TrainingRegistrationStatus, TrainingStore, UpdateTraining,
};
pub use training_dynamo::DynamoTrainingStore;
pub use training_memory::MemoryTrainingStore;

use std::future::Future;
use time::OffsetDateTime;

use crate::domain::{GatheringId, Language, MessageSid};
use crate::privacy::{ContactHash, Sealed};

/// How long the reply to a processed inbound message is kept to answer Twilio's retries identically.
pub const INBOUND_IDEMPOTENCY_TTL: time::Duration = time::Duration::days(7);

/// How long the marker of the daily reply to a stranger lives (a day, plus slack for time zones).
pub const DAILY_REPLY_TTL: time::Duration = time::Duration::hours(36);

/// What an inbound message changes for its sender's contact record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactEffect {
    /// The sender opted in to texts. `keyword` is what they sent (canonical), `wording` what they
    /// were told they agreed to. `lifts_erasure`: they had been erased, and this text of their own
    /// is a new consent that lifts the suppression the erasure left.
    OptIn {
        contact: ContactHash,
        keyword: String,
        wording: String,
        language: Language,
        lifts_erasure: bool,
        /// The sender's number, sealed with `field_context(contact, "phone")`: kept so the
        /// reminders and recordings of what they sign up for by text can reach them (the send
        /// worker opens it; an erasure removes it with the rest).
        address: Option<Sealed>,
    },
    /// The sender opted out of all texts. `source` says how (`keyword`, `revocation` for free text,
    /// `twilio_advanced_opt_out`); `wording` is the confirmation sent, if any.
    OptOut {
        contact: ContactHash,
        keyword: String,
        source: &'static str,
        wording: Option<String>,
        language: Language,
    },
    /// The sender gave an email address by text to get the recordings: the address's own contact
    /// (`contact`, its keyed hash) records the opt-in (consent source `sms`, `wording` the question
    /// they answered), and `message`, the recordings email, is stored `pending` in the outbox.
    EmailOptIn {
        contact: ContactHash,
        /// The address, sealed with `field_context(contact, "email")`.
        address: Sealed,
        wording: String,
        language: Language,
        message: Box<crate::outbound::NewMessage>,
    },
    /// Nothing changes; only the reply is remembered.
    Nothing,
}

/// How long a text conversation may pause and still resume where it was.
pub const CONVERSATION_TTL: time::Duration = time::Duration::days(7);

/// How long a DELETE waits for the second DELETE that confirms it.
pub const DELETE_CONFIRMATION_WINDOW: time::Duration = time::Duration::minutes(10);

/// Where a text conversation stands: the question the person was last asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Asked for their first name; `gathering` when they texted a gathering's code.
    AwaitingName { gathering: Option<GatheringId> },
    /// Asked for their ZIP code.
    AwaitingZip,
    /// Offered these gatherings, numbered from 1.
    AwaitingChoice { options: Vec<GatheringId> },
    /// Offered the training recordings by email: the answer may be an email address.
    AwaitingEmail,
    /// Asked to text DELETE again before `until` to be erased. `resume` is the question this
    /// interrupted: it is back in force when they text anything else, or when `until` passes.
    AwaitingDeleteConfirmation {
        until: OffsetDateTime,
        resume: Option<Box<Step>>,
    },
}

/// A conversation in progress (kept with TTL [`CONVERSATION_TTL`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationState {
    pub step: Step,
    pub language: Language,
    /// Sealed with `privacy::field_context(contact, "first_name")`, once given.
    pub first_name: Option<Sealed>,
}

impl ConversationState {
    /// The state in force at `now`: a confirmation of DELETE that timed out gives way to the question
    /// it interrupted (or to nothing). Adapters apply this on every read, since expired items may
    /// still be stored (DynamoDB deletes them lazily; moto never does).
    pub fn in_force(self, now: OffsetDateTime) -> Option<Self> {
        match self.step {
            Step::AwaitingDeleteConfirmation { until, resume } if until <= now => {
                resume.map(|step| Self {
                    step: *step,
                    language: self.language,
                    first_name: self.first_name,
                })
            }
            _ => Some(self),
        }
    }

    /// When the stored conversation may go: [`CONVERSATION_TTL`] after the last text, or the end of
    /// the confirmation window when DELETE interrupted nothing.
    pub fn expires_at(&self, now: OffsetDateTime) -> OffsetDateTime {
        match &self.step {
            Step::AwaitingDeleteConfirmation {
                until,
                resume: None,
            } => *until,
            _ => now + CONVERSATION_TTL,
        }
    }
}

/// What an inbound message does to the sender's conversation, written with the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateChange {
    Keep,
    Set(ContactHash, ConversationState),
    End(ContactHash),
}

/// The SMS consent state of a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsStatus {
    OptedIn,
    OptedOut,
}

/// What the conversation needs to know about a sender it has seen before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactState {
    pub sms_status: Option<SmsStatus>,
    pub language: Language,
    /// Erased on request (and suppressed since).
    pub erased: bool,
}

/// The outcome of applying an inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// First delivery: the effect and the reply were stored together.
    Stored,
    /// This MessageSid was processed before; here is the reply given then. Nothing was written.
    AlreadyProcessed { reply: String },
}

/// A storage failure, without personal data.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB {operation} failed: {source}")]
    Dynamo {
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("a stored item has an unexpected shape: {0}")]
    Corrupt(String),
}

/// Port used by the inbound SMS path.
pub trait InboundStore: Send + Sync {
    /// The sender's consent state and language, if they are known.
    fn contact_state(
        &self,
        contact: &ContactHash,
    ) -> impl Future<Output = Result<Option<ContactState>, StoreError>> + Send;

    /// The sender's conversation in progress, if any (an expired one is absent).
    fn conversation(
        &self,
        contact: &ContactHash,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<ConversationState>, StoreError>> + Send;

    /// Claims the one reply a stranger may get per UTC day; `false` if it was already given today.
    fn claim_daily_reply(
        &self,
        contact: &ContactHash,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The reply already given to this MessageSid, if it was processed and the record has not expired.
    fn processed_reply(
        &self,
        sid: &MessageSid,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Atomically records that `sid` (sent by `contact`) was processed with `reply` and applies
    /// `effect`; a second call with the same `sid` writes nothing and returns the first reply. The
    /// record is findable by `contact` until an erasure blanks it.
    fn apply(
        &self,
        sid: &MessageSid,
        contact: &ContactHash,
        effect: &ContactEffect,
        conversation: &StateChange,
        reply: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Applied, StoreError>> + Send;
}

/// Evidence of an erasure, kept after it (it holds no personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureEvidence<'a> {
    /// What asked for it: the MessageSid of the confirming text, or another path's request id.
    pub reference: &'a str,
    /// How it was asked: `sms` (later `email`, `organizer`).
    pub source: &'static str,
    /// The canonical word they texted (`DELETE`, `BORRAR`), if any.
    pub keyword: Option<&'static str>,
    /// The confirmation we sent (our wording, never theirs), if any.
    pub wording: Option<&'a str>,
    pub language: Language,
}

/// The inbound message whose reply the erasure records, as its last write (sealed reply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundReply<'a> {
    pub sid: &'a MessageSid,
    pub reply: &'a str,
}

/// Erase one contact: see [`ErasureStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure<'a> {
    pub contact: &'a ContactHash,
    pub evidence: ErasureEvidence<'a>,
    pub inbound: Option<InboundReply<'a>>,
}

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Erased {
    /// Erased now: how many RSVPs and other items went, in how many transactions (for logs).
    Done {
        rsvps: usize,
        items: usize,
        transactions: usize,
    },
    /// The inbound message was processed before; here is the reply given then. Nothing was written.
    AlreadyProcessed { reply: String },
}

/// Port: erasure of a person on request. It spans the contact's own items and their RSVPs, so each
/// adapter pairs with its gathering adapter `G` (one table in DynamoDB).
///
/// Erases the conversation, every RSVP (giving back the place of a `going` one: `going_count - 1`),
/// unsent outbound messages (`OUTBOX#` under the contact's `gsi1pk`), every other item under the
/// contact's key except the consent evidence, and blanks the replies kept for the contact's inbound
/// messages. The contact item is rewritten to hold only: SMS opted out, `suppressed` (every
/// channel), `erased_at`. An evidence item (`action` `erase`) is added. With `inbound`,
/// its idempotency record is written in the same transaction as the evidence, and last: when
/// everything fits one transaction (≤ 100 writes) it is all atomic; otherwise earlier steps are each
/// safe to retry (the plan is read again) and a retry of the message finishes the job.
pub trait ErasureStore<G: Sync>: Send + Sync {
    fn erase_contact(
        &self,
        gatherings: &G,
        erasure: &Erasure<'_>,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Erased, StoreError>> + Send;
}

/// Formats times stored in items and sort keys: RFC 3339 UTC with fixed millisecond precision, so
/// lexical order is time order.
pub(crate) fn timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timed_out_delete_confirmation_gives_way_to_the_question_it_interrupted() {
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let until = now + DELETE_CONFIRMATION_WINDOW;
        let pending = |resume: Option<Step>| ConversationState {
            step: Step::AwaitingDeleteConfirmation {
                until,
                resume: resume.map(Box::new),
            },
            language: Language::Es,
            first_name: None,
        };
        assert_eq!(
            pending(Some(Step::AwaitingZip)).in_force(now),
            Some(pending(Some(Step::AwaitingZip)))
        );
        assert_eq!(
            pending(Some(Step::AwaitingZip))
                .in_force(until)
                .map(|s| s.step),
            Some(Step::AwaitingZip)
        );
        assert_eq!(pending(None).in_force(until), None);
        assert_eq!(pending(None).expires_at(now), until);
        assert_eq!(
            pending(Some(Step::AwaitingZip)).expires_at(now),
            now + CONVERSATION_TTL
        );
    }

    #[test]
    fn timestamps_sort_lexically_in_time_order() {
        let a = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let b = a + time::Duration::milliseconds(1);
        assert_eq!(timestamp(a), "2023-11-14T22:13:20.000Z");
        assert!(timestamp(a) < timestamp(b));
    }
}

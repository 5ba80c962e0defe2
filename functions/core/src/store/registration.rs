//! Port: what a web-form registration writes besides the RSVP (which goes through
//! [`super::RsvpStore`]) and its confirmations (through the outbox). Adapters:
//! [`super::DynamoRegistrationStore`], [`super::MemoryRegistrationStore`].

use std::future::Future;
use time::{Duration, OffsetDateTime};

use super::StoreError;
use crate::domain::Language;
use crate::privacy::{ContactHash, Sealed};

/// How long a submission is remembered, so a retry of the same submission answers as the first did.
pub const SUBMISSION_TTL: Duration = Duration::days(2);

/// One contact detail the person gave, with the consent they gave for it on the form.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsentedContact<'a> {
    pub contact: &'a ContactHash,
    /// Sealed with `privacy::field_context(contact, "email" | "phone")`.
    pub address: &'a Sealed,
    /// The words next to the box they ticked (SMS), or the form's statement (email): evidence.
    pub wording: &'a str,
}

/// A person as a registration records them.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonRecord<'a> {
    /// The client's submission id: the idempotency key of the whole registration.
    pub submission: &'a str,
    /// The person's key: their phone's hash when they gave one, else their email's.
    pub person: &'a ContactHash,
    pub email: Option<ConsentedContact<'a>>,
    pub sms: Option<ConsentedContact<'a>>,
    /// Sealed with `privacy::field_context(person, "first_name")`.
    pub first_name: &'a Sealed,
    /// Sealed with `privacy::field_context(person, "last_name")`.
    pub last_name: Option<&'a Sealed>,
    pub zip: &'a str,
    pub language: Language,
    /// Their own "bring a friend" code.
    pub referral_code: &'a str,
    /// The code of the link they came through, if any.
    pub referred_by: Option<&'a str>,
    pub wants_to_host: bool,
    /// The page the form was on (its origin), as evidence of where consent was given.
    pub origin: Option<&'a str>,
}

/// What recording a person did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Written now.
    Written,
    /// This submission was recorded before (a retry): nothing was written.
    AlreadyRecorded,
}

/// Port: registrations.
pub trait RegistrationStore: Send + Sync {
    /// The answer given to a finished submission, if it is still remembered. An expired record is
    /// absent (DynamoDB deletes expired items lazily; moto never does).
    fn finished_submission(
        &self,
        submission: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Counts one attempt against `key` in the current fixed window of `window`; `false` when the
    /// window already holds `limit` attempts (nothing is counted then).
    fn allow(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        self.take(key, 1, limit, window, now)
    }

    /// How many attempts `key` may still make in the current window of `window`.
    fn remaining(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<u32, StoreError>> + Send;

    /// Counts `count` attempts at once against `key` (a quota: a host's invitations per day);
    /// `false`, and nothing counted, when fewer than `count` remain in the window.
    fn take(
        &self,
        key: &str,
        count: u32,
        limit: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records the person: their contacts with consent and its evidence, their sealed names, their
    /// referral code, and the submission, in one transaction. A second call for the same
    /// submission writes nothing.
    fn record_person(
        &self,
        person: &PersonRecord<'_>,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send;

    /// Remembers the answer given to a submission (for [`SUBMISSION_TTL`]).
    fn finish_submission(
        &self,
        submission: &str,
        answer: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The person a referral code belongs to.
    fn referrer(
        &self,
        code: &str,
    ) -> impl Future<Output = Result<Option<ContactHash>, StoreError>> + Send;
}

/// The start of the fixed window of length `window` that holds `now` (unix seconds).
pub fn window_start(now: OffsetDateTime, window: Duration) -> i64 {
    let len = window.whole_seconds().max(1);
    now.unix_timestamp().div_euclid(len) * len
}

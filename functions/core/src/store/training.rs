//! Port for the trainings catalog and the registrations to trainings. Adapters:
//! [`super::DynamoTrainingStore`] (one table, see the item table in `store/mod.rs`) and
//! [`super::MemoryTrainingStore`].
//!
//! Every write is conditional, so a retried request writes nothing twice and reports what it found
//! instead.

use std::future::Future;
use time::OffsetDateTime;

use super::{RsvpSource, StoreError};
use crate::domain::{Language, Training, TrainingId, TrainingUrl};
use crate::privacy::{ContactHash, Sealed};

/// What creating a training did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutTraining {
    Created,
    /// A training with this id already exists (a retry, or a seed run again): nothing was written,
    /// whatever the training given.
    AlreadyExists,
}

/// What changing a training did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateTraining {
    Updated,
    /// There is no training with this id: nothing was written.
    NoSuchTraining,
}

/// What publishing a recording did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// The recording link and its publication time were stored.
    Published,
    /// A recording was published before (this is a retry, or a second publication): nothing was
    /// written. Here is the link published then, which may differ from the one given.
    AlreadyPublished(TrainingUrl),
    NoSuchTraining,
}

/// Where a registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrainingRegistrationStatus {
    Registered,
}

/// A person's registration to a training, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingRegistration {
    pub training_id: TrainingId,
    /// The person's keyed contact hash (`p.…`, `e.…`), as stored: opaque, never a phone or an email.
    pub contact_hash: String,
    pub status: TrainingRegistrationStatus,
    pub source: RsvpSource,
    pub language: Language,
    /// Sealed with the person's field context, `crate::privacy::field_context(contact, "first_name")`.
    pub first_name: Sealed,
    /// The "bring a friend" code of the link they came through, if any.
    pub referral: Option<String>,
    /// When the training starts (a copy, for finding a person's trainings in time order).
    pub starts_at: OffsetDateTime,
    /// To the millisecond.
    pub created_at: OffsetDateTime,
}

/// A registration to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTrainingRegistration<'a> {
    pub training: &'a TrainingId,
    pub contact: &'a ContactHash,
    pub language: Language,
    /// Sealed with `crate::privacy::field_context(contact, "first_name")`.
    pub first_name: &'a Sealed,
    /// How they registered (the web form, a text, an invitation): the same sources as RSVPs.
    pub source: RsvpSource,
    /// The "bring a friend" code of the link they came through, kept for attribution (as on RSVPs).
    /// Stored in clear: an opaque code, never personal data. An empty one is not stored.
    pub referral: Option<&'a str>,
}

/// What a registration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainingRegistered {
    Created,
    /// They were registered already: nothing was written.
    AlreadyRegistered,
    /// There is no training with this id: nothing was written.
    NoSuchTraining,
    /// The training is over: nothing was written.
    Ended,
}

/// Port: the trainings catalog and who registered for what.
pub trait TrainingStore: Send + Sync {
    /// Creates a training; nothing is written if its id exists.
    fn put_training(
        &self,
        training: &Training,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<PutTraining, StoreError>> + Send;

    /// Replaces a training's editable fields with `training`'s: titles, start and end, time zone,
    /// join link. Never its id nor its recording (published once, by [`TrainingStore::publish_recording`]).
    /// Registrations keep the start they were made with (it only orders a person's registrations);
    /// reminders and the catalog read the training itself.
    fn update_training(
        &self,
        training: &Training,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<UpdateTraining, StoreError>> + Send;

    fn get_training(
        &self,
        id: &TrainingId,
    ) -> impl Future<Output = Result<Option<Training>, StoreError>> + Send;

    /// Every training, past and upcoming, by start time (then id). The catalog is small.
    fn trainings(&self) -> impl Future<Output = Result<Vec<Training>, StoreError>> + Send;

    /// Publishes the recording of a training, once: `url` and `now` become its `recording_url` and
    /// `recording_published_at`, unless a recording was published before.
    fn publish_recording(
        &self,
        id: &TrainingId,
        url: &TrainingUrl,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Published, StoreError>> + Send;

    /// Registers a person for a training that has not ended. A second registration of the same
    /// person writes nothing.
    fn register(
        &self,
        registration: NewTrainingRegistration<'_>,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<TrainingRegistered, StoreError>> + Send;

    /// Everyone registered for a training (by contact hash).
    fn registrants(
        &self,
        training: &TrainingId,
    ) -> impl Future<Output = Result<Vec<TrainingRegistration>, StoreError>> + Send;

    /// Every registration of a person, soonest training first.
    fn registrations_of(
        &self,
        contact: &ContactHash,
    ) -> impl Future<Output = Result<Vec<TrainingRegistration>, StoreError>> + Send;
}

/// `t` to the millisecond, as the DynamoDB adapter stores times (so both adapters give back the same).
pub(crate) fn to_millisecond(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.replace_millisecond(t.millisecond()).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_times_keep_whole_milliseconds() {
        let t = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap()
            + time::Duration::nanoseconds(123_456_789);
        assert_eq!(
            to_millisecond(t),
            OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap()
                + time::Duration::milliseconds(123)
        );
    }
}

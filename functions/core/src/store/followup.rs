//! Port for what the scheduler reads besides events and RSVPs: how to reach the people signed up
//! (their sealed addresses, never opened here) and its sweep cursors. Adapters:
//! [`super::DynamoFollowUpStore`] (items in the table of `store/mod.rs`) and
//! [`super::MemoryFollowUpStore`].

use std::future::Future;
use time::OffsetDateTime;

use super::StoreError;
use crate::privacy::{ContactHash, Sealed};

/// One way to reach a person: the contact (its keyed hash) and its address, sealed as stored, with
/// `field_context(contact, "email" | "phone")`, the context an outbox message's `to` uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedAddress {
    pub contact: ContactHash,
    pub sealed: Sealed,
}

/// How to reach a person who signed up (an RSVP's or a registration's contact hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    pub person: ContactHash,
    /// Their ZIP code, for their local time.
    pub zip: Option<String>,
    pub email: Option<SealedAddress>,
    pub sms: Option<SealedAddress>,
}

/// How long a sweep cursor is kept: longer than any reminder, follow-up or recording window.
pub const SWEEP_TTL: time::Duration = time::Duration::days(60);

/// Port: the scheduler's reads and cursors.
pub trait FollowUpStore: Send + Sync {
    /// How to reach each person, for those stored with at least one address (a person who texted
    /// only, or was erased, has none and is left out). In the order given.
    fn reach(
        &self,
        people: &[ContactHash],
    ) -> impl Future<Output = Result<Vec<Reach>, StoreError>> + Send;

    /// How far a sweep got: the `created_at` of the newest sign-up it handled.
    fn swept_through(
        &self,
        sweep: &str,
    ) -> impl Future<Output = Result<Option<OffsetDateTime>, StoreError>> + Send;

    /// Records that a sweep handled every sign-up up to `through`; never moves a cursor back.
    fn sweep(
        &self,
        sweep: &str,
        through: OffsetDateTime,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

//! Ports for gatherings, RSVPs and configured keywords. Adapters: [`super::DynamoGatheringStore`]
//! (one table, see the item table in `store/mod.rs`) and [`super::MemoryGatheringStore`].
//!
//! Every create is conditional, so a retried request writes nothing twice and reports what it found
//! instead; an update is conditioned on the gathering existing and belonging to the host asking.

use std::future::Future;
use time::OffsetDateTime;

use super::StoreError;
use crate::domain::{
    CampaignKeyword, Gathering, GatheringCode, GatheringId, KeywordWord, Language,
};
use crate::geo::{Distance, GeoPoint, SearchRadius};
use crate::privacy::{ContactHash, Sealed};

/// What creating a gathering did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutGathering {
    /// The gathering, its code and its index entries were written together.
    Created,
    /// A gathering with this id already exists (a retry): nothing was written.
    AlreadyExists,
    /// Another gathering has this code, or a keyword is this word: nothing was written. Suggest
    /// another code and try again.
    CodeTaken,
}

/// What updating a gathering did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateGathering {
    /// Its editable fields, its search index entries and its host's pointer were rewritten together.
    Updated,
    /// There is no such gathering, or it is not this host's (the two are not told apart, so nobody
    /// learns that another host's gathering exists): nothing was written.
    NotFound,
}

/// What configuring a keyword did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutKeyword {
    Created,
    /// The word is already configured (perhaps by a retry): nothing was written.
    AlreadyExists,
    /// A gathering uses the word as its code: nothing was written.
    TakenByGatheringCode,
}

/// What an organizer decided about a gathering waiting for approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewDecision {
    Approve,
    Decline,
}

/// What a review did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reviewed {
    /// It is listed now (shown in searches nearby).
    Approved,
    /// It stays unlisted and leaves the queue; its host sees it was not approved.
    Declined,
    /// No such gathering, or it is not waiting (reviewed before, e.g. a retried or concurrent
    /// request): nothing was written.
    NotAwaiting,
}

/// What removing a configured keyword did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovedKeyword {
    /// It is gone: texting it now means nothing (or a gathering's code, if one takes it later).
    Removed,
    /// No keyword is configured with this word (a gathering's code is not one): nothing was written.
    NoSuchKeyword,
}

/// A gathering found near a place, and how far it is.
#[derive(Debug, Clone, PartialEq)]
pub struct NearbyGathering {
    pub gathering: Gathering,
    pub distance: Distance,
}

/// How a person came to RSVP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RsvpSource {
    /// Texted the campaign number.
    Sms,
    /// Submitted the embedded web form.
    Form,
    /// Answered a host's invitation.
    Invite,
}

/// Whether an RSVP holds a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RsvpStatus {
    Going,
    /// The gathering was full when they asked.
    Waitlist,
}

/// A person's RSVP to a gathering, as stored. The same record serves the SMS conversation, the web
/// form and invitations.
#[derive(Debug, Clone, PartialEq)]
pub struct RsvpRecord {
    pub gathering_id: GatheringId,
    /// The person's keyed contact hash (`p.…`), as stored: opaque, never a phone or an email.
    pub contact_hash: String,
    pub status: RsvpStatus,
    pub source: RsvpSource,
    pub language: Language,
    /// Sealed with the person's field context, `crate::privacy::field_context(contact, "first_name")`.
    pub first_name: Sealed,
    pub starts_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    /// The code of the link they came through: a person's bring-a-friend code or a host's invite.
    pub referral: Option<String>,
}

/// What an RSVP did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsvpOutcome {
    /// A place was taken.
    Created,
    /// They had a place already: nothing was written.
    AlreadyGoing,
    /// The gathering is full: they were put on its waitlist.
    Waitlisted,
    /// They were on the waitlist already: nothing was written.
    AlreadyWaitlisted,
    /// There is no gathering with this id.
    NoSuchGathering,
    /// The gathering has ended.
    Ended,
}

/// An RSVP to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRsvp<'a> {
    pub gathering: &'a GatheringId,
    pub contact: &'a ContactHash,
    pub source: RsvpSource,
    pub language: Language,
    /// Sealed with `crate::privacy::field_context(contact, "first_name")`.
    pub first_name: &'a Sealed,
    /// The "bring a friend" code of the link they came through, kept for attribution.
    pub referral: Option<&'a str>,
}

/// Port: gatherings.
pub trait GatheringStore: Send + Sync {
    /// Creates a gathering together with its unique code, its place in the search index and, with a
    /// `host`, its place in the host's list. Nothing is written if its id exists or its code is
    /// taken.
    fn put(
        &self,
        gathering: &Gathering,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<PutGathering, StoreError>> + Send;

    fn get(
        &self,
        id: &GatheringId,
    ) -> impl Future<Output = Result<Option<Gathering>, StoreError>> + Send;

    /// The gathering a code belongs to.
    fn by_code(
        &self,
        code: &GatheringCode,
    ) -> impl Future<Output = Result<Option<Gathering>, StoreError>> + Send;

    /// Up to `limit` listed gatherings that start after `now` within `radius` of `origin`, nearest
    /// first (then soonest).
    fn upcoming_near(
        &self,
        origin: GeoPoint,
        radius: SearchRadius,
        now: OffsetDateTime,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<NearbyGathering>, StoreError>> + Send;

    /// Every gathering of a host (those [`GatheringStore::put`] with `host` = this hash), soonest
    /// first, then by id; past ones included. DynamoDB reads the host's pointers (`HOST#<hash>`,
    /// every page) then the gatherings (`BatchGetItem`).
    fn hosted_by(
        &self,
        host: &ContactHash,
    ) -> impl Future<Output = Result<Vec<Gathering>, StoreError>> + Send;

    /// Every gathering (listed or not) that starts in `[from, to)`, soonest first, then by id: what
    /// the scheduler reminds and follows up. DynamoDB reads the `WHEN` pointers of each UTC day of the
    /// range (`STARTS#<yyyy-mm-dd>` in the index), then the gatherings (`BatchGetItem`).
    fn starting_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<Gathering>, StoreError>> + Send;

    /// Replaces a gathering's editable fields with `gathering`'s: title, description,
    /// accessibility, start and end, time zone, town, state, ZIP code, location, address, capacity,
    /// language. Never its id, code, host, host's first name, `going_count`, nor its review state:
    /// `listed` and `declined_at` stay as stored (only [`GatheringStore::review`] lists a
    /// gathering), and a gathering waiting for review keeps waiting. A capacity below the people
    /// already going keeps them; newcomers are waitlisted.
    ///
    /// Only if the gathering exists and its stored host is `gathering.host` (a gathering without a
    /// host matches only `None`, for organizers' tools); otherwise nothing is written and the answer
    /// is [`UpdateGathering::NotFound`]. Its search index entries (where, when, as listed as it is
    /// stored) and its host's pointer are rewritten with it, atomically; a review that lands
    /// between the read of the stored listing and the write makes the update read it again.
    ///
    /// When the start time changed, the RSVPs' copies of it (and the person's index order) are
    /// brought up to date after that, in a second step: a failure there leaves stale RSVP times
    /// that the next `update` of the gathering (even an unchanged one) repairs.
    fn update(
        &self,
        gathering: &Gathering,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<UpdateGathering, StoreError>> + Send;

    /// Up to `limit` gatherings waiting for an organizer's review, oldest created first (then by
    /// id). Waiting: a host's gathering created unlisted and not reviewed since (see
    /// [`Gathering::awaiting_review`]); organizers' own unlisted gatherings never wait. DynamoDB
    /// reads the queue's pointers (`gsi1pk = REVIEW`, one partition: the queue is small), then the
    /// gatherings (`BatchGetItem`).
    fn awaiting_review(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Gathering>, StoreError>> + Send;

    /// Approves or declines a waiting gathering, once: conditional on it still waiting. Approving
    /// lists it (its search-index entries are written as for a listed gathering, atomically with
    /// leaving the queue); declining records `declined_at` = `now` and leaves it unlisted.
    fn review(
        &self,
        id: &GatheringId,
        decision: ReviewDecision,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Reviewed, StoreError>> + Send;
}

/// Port: RSVPs, by gathering and by person.
pub trait RsvpStore: Send + Sync {
    /// Records that a person is coming: a place while there is room (capacity), the waitlist after.
    /// A second RSVP of the same person to the same gathering writes nothing and says what they have.
    fn rsvp(
        &self,
        rsvp: NewRsvp<'_>,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<RsvpOutcome, StoreError>> + Send;

    /// Every RSVP to a gathering.
    fn rsvps_for(
        &self,
        gathering: &GatheringId,
    ) -> impl Future<Output = Result<Vec<RsvpRecord>, StoreError>> + Send;

    /// Every RSVP of a person, soonest gathering first.
    fn rsvps_of(
        &self,
        contact: &ContactHash,
    ) -> impl Future<Output = Result<Vec<RsvpRecord>, StoreError>> + Send;
}

/// Port: words people text that organizers configured.
pub trait KeywordStore: Send + Sync {
    fn put_keyword(
        &self,
        keyword: &CampaignKeyword,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<PutKeyword, StoreError>> + Send;

    fn keyword(
        &self,
        word: &KeywordWord,
    ) -> impl Future<Output = Result<Option<CampaignKeyword>, StoreError>> + Send;

    /// Every keyword organizers configured (never a gathering's code), alphabetical.
    fn keywords(&self) -> impl Future<Output = Result<Vec<CampaignKeyword>, StoreError>> + Send;

    /// Removes a configured keyword; a gathering's code is never removed by this.
    fn remove_keyword(
        &self,
        word: &KeywordWord,
    ) -> impl Future<Output = Result<RemovedKeyword, StoreError>> + Send;
}

/// The order of search results: nearest first, then soonest, then by id (stable).
pub(crate) fn nearest_then_soonest(a: &NearbyGathering, b: &NearbyGathering) -> std::cmp::Ordering {
    a.distance
        .km()
        .total_cmp(&b.distance.km())
        .then(a.gathering.starts_at.cmp(&b.gathering.starts_at))
        .then(a.gathering.id.cmp(&b.gathering.id))
}

/// The order of a host's gatherings: soonest first, then by id.
pub(crate) fn soonest_first(a: &Gathering, b: &Gathering) -> std::cmp::Ordering {
    a.starts_at.cmp(&b.starts_at).then(a.id.cmp(&b.id))
}

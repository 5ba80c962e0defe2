//! Port for a host's invitations: each invite's personal link (`INVITE#<code>`) and each batch's
//! record under its gathering. The messages themselves are in the outbox like every other message.
//! Adapters: [`super::DynamoInviteStore`], [`super::MemoryInviteStore`].

use std::future::Future;

use time::OffsetDateTime;

use super::StoreError;
use crate::domain::GatheringId;
use crate::outbound::{BatchId, Channel, OutboundId};
use crate::privacy::ContactHash;

/// One invitation: a person, a channel, and the personal link it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// The personal link's code: 10 random base32 characters (50 bits), the shape of a referral
    /// code, so an RSVP made through the link records it like a referral.
    pub code: String,
    pub gathering: GatheringId,
    pub host: ContactHash,
    pub batch: BatchId,
    pub channel: Channel,
    /// The invited person's keyed hash on that channel.
    pub contact: ContactHash,
    pub message: OutboundId,
    pub created_at: OffsetDateTime,
    /// Purged after this (TTL); an expired invite is absent.
    pub expires_at: OffsetDateTime,
}

/// A batch of invitations a host sent at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteBatch {
    pub id: BatchId,
    pub gathering: GatheringId,
    pub host: ContactHash,
    /// Messages queued per channel.
    pub sms: u32,
    pub email: u32,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// Port: invitations and their batches.
pub trait InviteStore: Send + Sync {
    /// Writes the batch record and its invites (`BatchWriteItem`: their keys are new random ids).
    fn put_invites(
        &self,
        batch: &InviteBatch,
        invites: &[Invite],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The invites of these codes that exist and have not expired, in no particular order.
    fn invites(
        &self,
        codes: &[String],
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<Invite>, StoreError>> + Send;

    /// The batches sent for a gathering, oldest first.
    fn batches(
        &self,
        gathering: &GatheringId,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<InviteBatch>, StoreError>> + Send;
}

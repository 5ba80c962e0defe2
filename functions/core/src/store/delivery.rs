//! Port of the delivery-status path (`POST /sms/status`): what one status callback writes.

use std::future::Future;
use time::OffsetDateTime;

use super::StoreError;
use crate::domain::MessageSid;
use crate::outbound::BatchId;
use crate::privacy::ContactHash;

/// What a status callback changes beyond the message's own records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryEffect {
    Nothing,
    /// The carrier reports the recipient unsubscribed or blocked (`code`): opt them out, with evidence.
    OptOut {
        contact: ContactHash,
        code: u32,
    },
    /// The number cannot receive texts (`code`): mark the contact undeliverable.
    Undeliverable {
        contact: ContactHash,
        code: u32,
    },
    /// The carrier filtered the message: count it for the day.
    CarrierFiltering {
        code: u32,
    },
}

/// The final outcome of a text, from a status callback, as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRecord {
    pub sid: MessageSid,
    /// Twilio's status value (`delivered`, `undelivered`, `failed`, `canceled`).
    pub status: &'static str,
    pub error_code: Option<u32>,
    pub effect: DeliveryEffect,
    /// For a `delivered` text of a batch: the batch whose `delivered` progress it adds 1 to.
    pub delivered_in: Option<BatchId>,
}

/// What recording a status callback did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// A status on the way (`queued`, `sent` …): nothing is written.
    Noted,
    /// The text's outcome, its effect and its batch count were written.
    Stored,
    /// The text already has its outcome (Twilio's retry, or a second final status): nothing was
    /// written; the first outcome stands.
    Duplicate,
}

/// Port used by the delivery-status path.
pub trait DeliveryStore: Send + Sync {
    /// Atomically records `record` as the text's outcome (`OUTBOUND#<sid>` / `MESSAGE`), applies
    /// its effect and adds it to its batch's `delivered` count, unless the text already has an
    /// outcome: then nothing is written ([`Recorded::Duplicate`]).
    fn record(
        &self,
        record: &StatusRecord,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send;
}

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

/// One status callback, as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRecord {
    pub sid: MessageSid,
    /// Twilio's status value (`delivered`).
    pub status: &'static str,
    /// Progress order: the message summary only moves to a higher rank.
    pub rank: u8,
    pub error_code: Option<u32>,
    pub effect: DeliveryEffect,
}

/// What recording a status callback did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// This (MessageSid, status) was recorded before: the status record and the effect were not
    /// written again.
    pub duplicate: bool,
    /// The message summary moved forward to this status.
    pub summary_advanced: bool,
}

/// Port used by the delivery-status path.
pub trait DeliveryStore: Send + Sync {
    /// Atomically records the status of `record.sid` and applies `record.effect`, unless this
    /// (MessageSid, status) was recorded before; then moves the message summary forward to this
    /// status if it ranks higher than the one stored. Retries and duplicates write nothing new.
    fn record(
        &self,
        record: &StatusRecord,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send;

    /// Counts a text the carrier delivered in its batch's progress: if the send worker left an
    /// `OUTBOUND#<sid>` / `BATCH` pointer (a text of a batch), adds 1 to that batch's `delivered`
    /// counter. Returns the batch counted in, `None` for a text of no batch. Counts every time it
    /// is called: call it once per MessageSid, when its `delivered` status is first recorded.
    fn count_delivered(
        &self,
        sid: &MessageSid,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<BatchId>, StoreError>> + Send;
}

//! Port of the email-events path: what one bounce or complaint writes on one contact.

use std::future::Future;
use time::OffsetDateTime;

use super::StoreError;
use crate::outbound::BatchId;
use crate::privacy::ContactHash;

/// How long the record that an event was applied is kept (SNS redelivers within hours).
pub const EMAIL_EVENT_RECORD_TTL: time::Duration = time::Duration::days(30);

/// What an event changes on the recipient's contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailEventEffect {
    /// Hard bounce: `email_undeliverable`, with SES's sub-type as the reason.
    Undeliverable { reason: String },
    /// Soft bounce: 1 added to `email_soft_bounces`.
    SoftBounce,
    /// Complaint: `email_suppressed` (marketing email stops), with opt-out evidence.
    Complaint { feedback_type: Option<String> },
}

/// One event for one recipient, as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailEventRecord {
    pub contact: ContactHash,
    /// SES's id of the report: the record is written once per contact and feedback id.
    pub feedback_id: String,
    pub effect: EmailEventEffect,
    /// When it happened (SES's timestamp).
    pub at: OffsetDateTime,
    /// The batch whose progress counts it (`bounced` for a hard bounce, `complained`).
    pub batch: Option<BatchId>,
}

/// Port used by the email-events path.
pub trait EmailEventStore: Send + Sync {
    /// Atomically records that the event reached the contact (`CONTACT#<hash>` /
    /// `EMAILEVENT#<feedback id>`, kept [`EMAIL_EVENT_RECORD_TTL`]), applies its effect and counts it
    /// in its batch; `false` (and nothing written) if it was recorded already.
    fn record(
        &self,
        record: &EmailEventRecord,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

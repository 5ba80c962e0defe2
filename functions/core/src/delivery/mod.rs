//! Delivery status of the texts we send: Twilio's status callbacks (`POST /sms/status`). Only a
//! text's final status (`delivered`, `undelivered`, `failed`, `canceled`) is recorded, once per
//! MessageSid: the first one stands. Statuses on the way (`queued`, `sent` …) tell nothing the send
//! worker did not record already and are acknowledged without a write. Carrier error codes change
//! the recipient's contact record (opted out, undeliverable) or are counted and raised as an alert
//! (carrier filtering). A `delivered` text of a batch (the callback URL names it:
//! `?batch=<id>`) is counted in the batch's progress (`Progress::delivered`) in the same write.

mod webhook;

pub use webhook::{SmsStatus, StatusCallbackError};

use time::OffsetDateTime;

use crate::domain::{MessageSid, PhoneNumber};
use crate::outbound::BatchId;
use crate::privacy::ContactHasher;
use crate::sms::client::CODE_UNSUBSCRIBED;
use crate::store::{DeliveryEffect, DeliveryStore, Recorded, StatusRecord, StoreError};

/// Twilio error code: the carrier blocked the message to this recipient (the recipient blocked it,
/// or their carrier did on their behalf). Treated as an opt-out.
pub const CODE_BLOCKED: u32 = 30004;
/// Twilio error code: unknown destination handset or unreachable carrier.
pub const CODE_UNREACHABLE: u32 = 30003;
/// Twilio error code: the destination number is unknown or no longer exists.
pub const CODE_UNKNOWN_DESTINATION: u32 = 30005;
/// Twilio error code: the destination is a landline or unreachable carrier.
pub const CODE_LANDLINE: u32 = 30006;
/// Twilio error code: the carrier filtered the message as spam or for content.
pub const CODE_CARRIER_FILTERING: u32 = 30007;

/// Log field value of the carrier-filtering alert; the template's metric filter matches it.
pub const CARRIER_FILTERING_ALERT: &str = "carrier_filtering";

/// The status of an outbound message, as Twilio reports it in `MessageStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    Accepted,
    Scheduled,
    Queued,
    Sending,
    Sent,
    PartiallyDelivered,
    Canceled,
    Delivered,
    Undelivered,
    Failed,
    Read,
}

/// `MessageStatus` is not a status an outbound message can have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MessageStatus is not a Twilio outbound message status")]
pub struct UnknownStatus;

impl DeliveryStatus {
    /// Every status, in rank order.
    pub const ALL: [Self; 11] = [
        Self::Accepted,
        Self::Scheduled,
        Self::Queued,
        Self::Sending,
        Self::Sent,
        Self::PartiallyDelivered,
        Self::Canceled,
        Self::Delivered,
        Self::Undelivered,
        Self::Failed,
        Self::Read,
    ];

    /// Parses Twilio's value (`delivered`, `partially_delivered` …). Inbound statuses (`receiving`,
    /// `received`) and unknown values are refused.
    pub fn parse(value: &str) -> Result<Self, UnknownStatus> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or(UnknownStatus)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Scheduled => "scheduled",
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::PartiallyDelivered => "partially_delivered",
            Self::Canceled => "canceled",
            Self::Delivered => "delivered",
            Self::Undelivered => "undelivered",
            Self::Failed => "failed",
            Self::Read => "read",
        }
    }

    /// Whether this is a text's outcome: nothing follows it (but `read`, which rising does not ask for).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Delivered | Self::Undelivered | Self::Failed | Self::Canceled
        )
    }

    /// Whether the message did not reach the recipient.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::Undelivered)
    }
}

/// What a status callback means for the recipient, from its status and Twilio error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consequence {
    /// Nothing beyond recording the status.
    Nothing,
    /// 21610 (unsubscribed) or 30004 (blocked): the recipient is opted out.
    OptOut(u32),
    /// 30003, 30005, 30006: the number cannot receive texts.
    Undeliverable(u32),
    /// 30007: the carrier filtered the message; counted and alerted on.
    CarrierFiltering(u32),
}

impl Consequence {
    /// Error codes count only on a failed or undelivered message.
    pub fn of(status: DeliveryStatus, error_code: Option<u32>) -> Self {
        match error_code {
            Some(code) if status.is_failure() => match code {
                CODE_UNSUBSCRIBED | CODE_BLOCKED => Self::OptOut(code),
                CODE_UNREACHABLE | CODE_UNKNOWN_DESTINATION | CODE_LANDLINE => {
                    Self::Undeliverable(code)
                }
                CODE_CARRIER_FILTERING => Self::CarrierFiltering(code),
                _ => Self::Nothing,
            },
            _ => Self::Nothing,
        }
    }

    /// Whether applying it needs to know who the recipient is (`To`).
    pub fn needs_recipient(self) -> bool {
        matches!(self, Self::OptOut(_) | Self::Undeliverable(_))
    }

    fn name(self) -> &'static str {
        match self {
            Self::Nothing => "none",
            Self::OptOut(_) => "opt_out",
            Self::Undeliverable(_) => "undeliverable",
            Self::CarrierFiltering(_) => "carrier_filtering",
        }
    }
}

/// A status callback is missing something its consequence needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("missing field To: error code {0} changes the recipient's record")]
pub struct MissingRecipient(pub u32);

/// A status callback, authenticated and parsed. Holds a recipient whenever its consequence needs one.
#[derive(Debug, Clone)]
pub struct StatusCallback {
    sid: MessageSid,
    status: DeliveryStatus,
    error_code: Option<u32>,
    recipient: Option<PhoneNumber>,
}

impl StatusCallback {
    pub fn new(
        sid: MessageSid,
        status: DeliveryStatus,
        error_code: Option<u32>,
        recipient: Option<PhoneNumber>,
    ) -> Result<Self, MissingRecipient> {
        let consequence = Consequence::of(status, error_code);
        if consequence.needs_recipient() && recipient.is_none() {
            return Err(MissingRecipient(error_code.unwrap_or_default()));
        }
        Ok(Self {
            sid,
            status,
            error_code,
            recipient,
        })
    }

    pub fn sid(&self) -> &MessageSid {
        &self.sid
    }

    pub fn status(&self) -> DeliveryStatus {
        self.status
    }

    pub fn consequence(&self) -> Consequence {
        Consequence::of(self.status, self.error_code)
    }
}

/// Records a text's final status and applies its consequence, once per MessageSid; counts a
/// `delivered` text in `batch`, the batch its callback URL names. Other statuses write nothing.
#[tracing::instrument(name = "delivery.record", skip_all, fields(message_sid = %callback.sid.as_str()))]
pub async fn record<S: DeliveryStore>(
    store: &S,
    hasher: &ContactHasher,
    callback: &StatusCallback,
    batch: Option<&BatchId>,
    now: OffsetDateTime,
) -> Result<Recorded, StoreError> {
    // Span fields are not printed (see `telemetry`): the MessageSid goes on each event.
    let message_sid = callback.sid.as_str();
    let status = callback.status.as_str();
    if !callback.status.is_final() {
        tracing::info!(
            message_sid,
            status,
            outcome = "noted",
            "status callback noted"
        );
        return Ok(Recorded::Noted);
    }
    let consequence = callback.consequence();
    let contact = || callback.recipient.as_ref().map(|phone| hasher.phone(phone));
    let effect = match (consequence, contact()) {
        (Consequence::OptOut(code), Some(contact)) => DeliveryEffect::OptOut { contact, code },
        (Consequence::Undeliverable(code), Some(contact)) => {
            DeliveryEffect::Undeliverable { contact, code }
        }
        (Consequence::CarrierFiltering(code), _) => DeliveryEffect::CarrierFiltering { code },
        // `StatusCallback::new` guarantees a recipient whenever the consequence needs one.
        _ => DeliveryEffect::Nothing,
    };
    let delivered_in = batch.filter(|_| callback.status == DeliveryStatus::Delivered);
    let record = StatusRecord {
        sid: callback.sid.clone(),
        status,
        error_code: callback.error_code,
        effect,
        delivered_in: delivered_in.cloned(),
    };
    let recorded = store.record(&record, now).await?;
    let stored = recorded == Recorded::Stored;
    tracing::info!(
        message_sid,
        outcome = if stored { "stored" } else { "duplicate" },
        status,
        error_code = callback.error_code,
        consequence = consequence.name(),
        counted_in_batch = stored && delivered_in.is_some(),
        "status callback recorded"
    );
    if let Consequence::CarrierFiltering(code) = consequence
        && stored
    {
        tracing::warn!(
            alert = CARRIER_FILTERING_ALERT,
            message_sid,
            error_code = code,
            "a carrier filtered a text: check the wording and the sender's registration"
        );
    }
    Ok(recorded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemoryDeliveryStore, MemoryOutcome};

    const SID: &str = "SM00000000000000000000000000000001";
    const PHONE: &str = "+12025550143";

    fn hasher() -> ContactHasher {
        ContactHasher::from_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=").unwrap()
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()
    }

    fn contact_hash() -> String {
        hasher()
            .phone(&PhoneNumber::parse(PHONE).unwrap())
            .as_str()
            .to_string()
    }

    fn callback(status: &str, code: Option<u32>) -> StatusCallback {
        StatusCallback::new(
            MessageSid::parse(SID).unwrap(),
            DeliveryStatus::parse(status).unwrap(),
            code,
            Some(PhoneNumber::parse(PHONE).unwrap()),
        )
        .unwrap()
    }

    async fn feed(store: &MemoryDeliveryStore, callbacks: &[StatusCallback]) -> Vec<Recorded> {
        feed_in(store, None, callbacks).await
    }

    /// Callbacks whose URL names `batch`.
    async fn feed_in(
        store: &MemoryDeliveryStore,
        batch: Option<&BatchId>,
        callbacks: &[StatusCallback],
    ) -> Vec<Recorded> {
        let mut out = vec![];
        for c in callbacks {
            out.push(record(store, &hasher(), c, batch, now()).await.unwrap());
        }
        out
    }

    #[test]
    fn every_outbound_status_parses_back_to_itself() {
        for status in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(status.as_str()), Ok(status));
        }
    }

    #[test]
    fn inbound_unknown_or_oddly_written_statuses_are_refused() {
        for bad in [
            "",
            "received",
            "receiving",
            "Delivered",
            " delivered",
            "done",
        ] {
            assert_eq!(DeliveryStatus::parse(bad), Err(UnknownStatus), "{bad:?}");
        }
    }

    #[test]
    fn only_delivered_undelivered_failed_and_canceled_are_outcomes() {
        let finals: Vec<&str> = DeliveryStatus::ALL
            .into_iter()
            .filter(|s| s.is_final())
            .map(DeliveryStatus::as_str)
            .collect();
        assert_eq!(finals, ["canceled", "delivered", "undelivered", "failed"]);
    }

    #[test]
    fn carrier_error_codes_map_to_their_consequences() {
        let failed = DeliveryStatus::Failed;
        let undelivered = DeliveryStatus::Undelivered;
        assert_eq!(
            Consequence::of(failed, Some(21610)),
            Consequence::OptOut(21610)
        );
        assert_eq!(
            Consequence::of(undelivered, Some(30004)),
            Consequence::OptOut(30004)
        );
        for code in [30003, 30005, 30006] {
            assert_eq!(
                Consequence::of(undelivered, Some(code)),
                Consequence::Undeliverable(code)
            );
        }
        assert_eq!(
            Consequence::of(failed, Some(30007)),
            Consequence::CarrierFiltering(30007)
        );
        assert_eq!(Consequence::of(failed, Some(30008)), Consequence::Nothing);
        assert_eq!(Consequence::of(failed, None), Consequence::Nothing);
    }

    #[test]
    fn an_error_code_on_a_status_that_is_not_a_failure_has_no_consequence() {
        assert_eq!(
            Consequence::of(DeliveryStatus::Delivered, Some(21610)),
            Consequence::Nothing
        );
        assert_eq!(
            Consequence::of(DeliveryStatus::Sent, Some(30003)),
            Consequence::Nothing
        );
    }

    #[test]
    fn an_opt_out_code_without_a_recipient_cannot_be_recorded() {
        let sid = MessageSid::parse(SID).unwrap();
        let result = StatusCallback::new(sid.clone(), DeliveryStatus::Failed, Some(21610), None);
        assert_eq!(result.unwrap_err(), MissingRecipient(21610));
        assert!(
            StatusCallback::new(sid.clone(), DeliveryStatus::Failed, Some(30007), None).is_ok()
        );
        assert!(StatusCallback::new(sid, DeliveryStatus::Delivered, None, None).is_ok());
    }

    #[tokio::test]
    async fn statuses_on_the_way_write_nothing_and_the_delivered_outcome_is_kept() {
        let store = MemoryDeliveryStore::default();

        let outcomes = feed(
            &store,
            &[
                callback("queued", None),
                callback("sent", None),
                callback("delivered", None),
            ],
        )
        .await;

        assert_eq!(
            outcomes,
            [Recorded::Noted, Recorded::Noted, Recorded::Stored]
        );
        assert_eq!(store.outcome(SID).unwrap().status, "delivered");
        assert_eq!(store.writes(), 1, "one item for the whole life of the text");
    }

    #[tokio::test]
    async fn a_repeated_callback_is_recorded_once_and_writes_nothing_the_second_time() {
        let store = MemoryDeliveryStore::default();
        let first = feed(&store, &[callback("delivered", None)]).await;
        let writes = store.writes();

        let second = feed(&store, &[callback("delivered", None)]).await;

        assert_eq!(
            (first[0], second[0]),
            (Recorded::Stored, Recorded::Duplicate)
        );
        assert_eq!(store.writes(), writes);
    }

    #[tokio::test]
    async fn a_late_sent_after_delivered_changes_nothing() {
        let store = MemoryDeliveryStore::default();

        let outcomes = feed(
            &store,
            &[callback("delivered", None), callback("sent", None)],
        )
        .await;

        assert_eq!(outcomes[1], Recorded::Noted);
        assert_eq!(store.outcome(SID).unwrap().status, "delivered");
    }

    #[tokio::test]
    async fn the_first_final_outcome_stands() {
        let store = MemoryDeliveryStore::default();

        let outcomes = feed(
            &store,
            &[
                callback("undelivered", Some(30008)),
                callback("delivered", None),
                callback("read", None),
            ],
        )
        .await;

        assert_eq!(
            outcomes,
            [Recorded::Stored, Recorded::Duplicate, Recorded::Noted]
        );
        assert_eq!(
            store.outcome(SID),
            Some(MemoryOutcome {
                status: "undelivered",
                error_code: Some(30008)
            })
        );
    }

    #[tokio::test]
    async fn an_unsubscribed_recipient_is_opted_out_with_carrier_evidence() {
        let store = MemoryDeliveryStore::default();

        feed(
            &store,
            &[callback("queued", None), callback("failed", Some(21610))],
        )
        .await;

        let contact = store.contact(&contact_hash()).unwrap();
        assert!(contact.sms_opted_out);
        assert_eq!(contact.consents, vec!["opt_out:carrier:21610"]);
        assert_eq!(contact.undeliverable, None);
    }

    #[tokio::test]
    async fn a_blocked_recipient_is_opted_out_once_even_if_twilio_repeats_the_callback() {
        let store = MemoryDeliveryStore::default();

        feed(
            &store,
            &[
                callback("undelivered", Some(30004)),
                callback("undelivered", Some(30004)),
            ],
        )
        .await;

        let contact = store.contact(&contact_hash()).unwrap();
        assert!(contact.sms_opted_out);
        assert_eq!(contact.consents, vec!["opt_out:carrier:30004"]);
    }

    #[tokio::test]
    async fn unreachable_unknown_and_landline_numbers_are_marked_undeliverable_with_their_code() {
        for code in [30003, 30005, 30006] {
            let store = MemoryDeliveryStore::default();

            feed(&store, &[callback("undelivered", Some(code))]).await;

            let contact = store.contact(&contact_hash()).unwrap();
            assert_eq!(contact.undeliverable, Some(code));
            assert!(!contact.sms_opted_out, "undeliverable is not an opt-out");
            assert!(contact.consents.is_empty());
        }
    }

    #[tokio::test]
    async fn carrier_filtering_is_counted_once_per_message_and_changes_no_contact() {
        let store = MemoryDeliveryStore::default();
        feed(
            &store,
            &[
                callback("failed", Some(30007)),
                callback("failed", Some(30007)),
            ],
        )
        .await;

        assert_eq!(store.counter("carrier_filtering", "2023-11-14"), 1);
        assert!(store.contact(&contact_hash()).is_none());
    }

    #[tokio::test]
    async fn a_delivered_callback_counts_once_in_the_batch_its_url_names() {
        let store = MemoryDeliveryStore::default();
        let batch = BatchId::parse("batch1").unwrap();

        feed_in(
            &store,
            Some(&batch),
            &[
                callback("queued", None),
                callback("sent", None),
                callback("delivered", None),
                callback("delivered", None),
                callback("read", None),
            ],
        )
        .await;

        assert_eq!(store.delivered(&batch), 1);
        assert_eq!(store.writes(), 2, "the outcome and the count, together");
    }

    #[tokio::test]
    async fn a_text_that_was_not_delivered_counts_nowhere() {
        let store = MemoryDeliveryStore::default();
        let batch = BatchId::parse("batch1").unwrap();

        feed_in(
            &store,
            Some(&batch),
            &[callback("sent", None), callback("undelivered", Some(30003))],
        )
        .await;

        assert_eq!(store.delivered(&batch), 0);
    }

    #[tokio::test]
    async fn a_text_without_a_batch_counts_nowhere() {
        let store = MemoryDeliveryStore::default();

        feed(&store, &[callback("delivered", None)]).await;

        assert_eq!(store.writes(), 1);
        assert_eq!(store.outcome(SID).unwrap().status, "delivered");
    }

    #[tokio::test]
    async fn a_delivered_text_changes_no_contact() {
        let store = MemoryDeliveryStore::default();

        feed(&store, &[callback("delivered", None)]).await;

        assert!(store.contact(&contact_hash()).is_none());
    }
}

//! Producing outbound messages the way the system does, and watching what the send worker did with
//! them: for the send pipeline's integration tests.

use std::time::Duration;

use rising_core::domain::{Language, PhoneNumber, Zip};
use rising_core::outbound::quiet_hours::{QuietHoursPolicy, SendWindow};
use rising_core::outbound::{
    BatchId, Channel, ConsentBasis, Kind, NewMessage, OutboundId, OutboxStore, QueuedMessage,
    SendQueue, body_context,
};
use rising_core::privacy::{ContactHash, field_context};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::{Item, Stack, s};

/// How long a test waits for a message's outcome.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// ZIP codes in time zones spread around the clock (Eastern, Atlantic, Pacific, Hawaii, Chamorro): at
/// any moment it is night in one of them, and daytime in one except from 11:00 to 12:00 UTC, when
/// every US time zone is outside 08:00–21:00 (tests then check the deferral instead, see
/// [`zip_open_for`]).
const ZIPS: [&str; 5] = ["20001", "00901", "90012", "96813", "96910"];

/// How long a test may take to see its messages sent: a ZIP chosen for a test stays in the state
/// wanted for this long.
const TEST_MINUTES: i64 = 15;

/// A ZIP where texts to `phone` may be sent now and for the next 15 minutes (with `open = false`:
/// where they may not). Panics when there is none: a test that needs an open window first checks
/// [`no_zone_is_open`].
pub fn zip_where_sending_is(phone: &str, open: bool) -> String {
    let phone = PhoneNumber::parse(phone).expect("a valid test phone");
    let policy = QuietHoursPolicy::default();
    let now = OffsetDateTime::now_utc();
    ZIPS.iter()
        .find(|zip| {
            let clock = policy.clock(&phone, Some(&Zip::parse(zip).expect("a known ZIP")));
            [now, now + time::Duration::minutes(TEST_MINUTES)]
                .iter()
                .all(|t| matches!(clock.window_at(*t), Ok(SendWindow::Open)) == open)
        })
        .map(|z| (*z).to_owned())
        .expect("some US time zone is in the state wanted")
}

/// Whether no US time zone may receive invitations for the next 15 minutes: from 11:00 to 12:00 UTC
/// every one is outside 08:00–21:00. A test that needs a text to go out then says so and stops
/// (returns `true`); the quiet-hours tests cover that hour.
pub fn no_zone_is_open(test: &str) -> bool {
    let closed = zip_open_for("+12025550100", TEST_MINUTES).is_none();
    if closed {
        eprintln!(
            "{test}: skipped, every US time zone is in its quiet hours now (11:00-12:00 UTC), so nothing \
             can be sent"
        );
    }
    closed
}

/// Whether every US time zone is open for texts now and for the next 15 minutes (from about 21:45 to
/// 01:00 UTC, US zones span 09:00 to 20:59 local time). A test that needs a recipient in their quiet
/// hours then says so and stops (returns `true`); at other hours it runs.
pub fn no_zone_is_closed(test: &str) -> bool {
    let phone = PhoneNumber::parse("+12025550100").expect("a valid test phone");
    let policy = QuietHoursPolicy::default();
    let now = OffsetDateTime::now_utc();
    let open = ZIPS.iter().all(|z| {
        let clock = policy.clock(&phone, Some(&Zip::parse(z).expect("a known ZIP")));
        [now, now + time::Duration::minutes(TEST_MINUTES)]
            .iter()
            .any(|t| matches!(clock.window_at(*t), Ok(SendWindow::Open)))
    });
    if open {
        eprintln!(
            "{test}: skipped, every US time zone may be texted now (about 21:45-01:00 UTC), so nobody is \
             in their quiet hours"
        );
    }
    open
}

/// A ZIP where texts to `phone` may be sent now and for the next `minutes`, if there is one at this
/// hour.
pub fn zip_open_for(phone: &str, minutes: i64) -> Option<String> {
    let phone = PhoneNumber::parse(phone).expect("a valid test phone");
    let policy = QuietHoursPolicy::default();
    let now = OffsetDateTime::now_utc();
    ZIPS.iter()
        .find(|zip| {
            let clock = policy.clock(&phone, Some(&Zip::parse(zip).expect("a known ZIP")));
            [now, now + time::Duration::minutes(minutes)]
                .iter()
                .all(|t| matches!(clock.window_at(*t), Ok(SendWindow::Open)))
        })
        .map(|z| (*z).to_owned())
}

/// Whether texts to `phone`, with no ZIP code known (its area code decides), may be sent now and for
/// the next 15 minutes.
pub fn open_by_area_code(phone: &str) -> bool {
    let phone = PhoneNumber::parse(phone).expect("a valid test phone");
    let clock = QuietHoursPolicy::default().clock(&phone, None);
    let now = OffsetDateTime::now_utc();
    [now, now + time::Duration::minutes(TEST_MINUTES)]
        .iter()
        .all(|t| matches!(clock.window_at(*t), Ok(SendWindow::Open)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_test_zip_is_known_with_its_own_time_zone() {
        let zones: std::collections::HashSet<_> = ZIPS
            .iter()
            .map(|z| Zip::parse(z).expect("known").timezone().expect("a zone"))
            .collect();
        assert_eq!(zones.len(), ZIPS.len(), "{zones:?}");
    }
}

/// A host's batch of invitations, stored and enqueued as the host path does.
pub struct Producer {
    app: Stack,
    pub batch: BatchId,
}

impl Producer {
    pub fn new(app: &Stack) -> Self {
        Self {
            app: app.clone(),
            batch: BatchId::random(),
        }
    }

    /// Stores an invitation to `phone` (pending, at a ZIP in its daytime) without enqueueing it.
    pub async fn store(&self, phone: &str, text: &str) -> QueuedMessage {
        self.store_at(phone, &zip_where_sending_is(phone, true), text)
            .await
    }

    /// Stores an invitation to `phone`, who lives at `zip`, without enqueueing it.
    pub async fn store_at(&self, phone: &str, zip: &str, text: &str) -> QueuedMessage {
        let sealer = self.app.sealer();
        let contact = ContactHash::parse(&self.app.phone_hash(phone)).expect("a contact hash");
        let id = OutboundId::random();
        let message = NewMessage {
            to: sealer
                .seal(
                    &field_context(&contact, Channel::Sms.address_field()),
                    phone,
                )
                .await
                .expect("sealed"),
            body: sealer.seal(&body_context(&id), text).await.expect("sealed"),
            id,
            channel: Channel::Sms,
            kind: Kind::Invite,
            consent: ConsentBasis::HostAttested,
            contact,
            language: Language::En,
            zip: Some(zip.to_owned()),
            batch: Some(self.batch.clone()),
        };
        self.app
            .outbox()
            .enqueue(&[message.clone()], OffsetDateTime::now_utc())
            .await
            .expect("stored");
        message.queued()
    }

    /// Stores an invitation and puts it on the queue `copies` times (SQS delivers at least once).
    pub async fn invite(&self, phone: &str, text: &str, copies: usize) -> QueuedMessage {
        let queued = self.store(phone, text).await;
        for _ in 0..copies {
            self.enqueue(&queued).await;
        }
        queued
    }

    /// Stores an invitation to someone at `zip` and puts it on the queue once.
    pub async fn invite_at(&self, phone: &str, zip: &str, text: &str) -> QueuedMessage {
        let queued = self.store_at(phone, zip, text).await;
        self.enqueue(&queued).await;
        queued
    }

    pub async fn enqueue(&self, queued: &QueuedMessage) {
        let accepted = self
            .app
            .send_queue()
            .send(&[(queued.clone(), Duration::ZERO)])
            .await
            .expect("enqueued");
        assert_eq!(accepted, vec![true]);
    }

    /// The message's item in the table.
    pub async fn item(&self, queued: &QueuedMessage) -> Option<Item> {
        self.app
            .query_pk(&format!("OUTBOX#{}", queued.id.as_str()))
            .await
            .into_iter()
            .next()
    }

    /// Whether the worker deferred the message to the recipient's sending hours, within 30 s.
    pub async fn deferred(&self, queued: &QueuedMessage) -> bool {
        for _ in 0..300 {
            let item = self.item(queued).await;
            if item.and_then(|i| i.get("deferred").and_then(|v| v.as_bool().ok()).copied())
                == Some(true)
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    pub async fn status(&self, queued: &QueuedMessage) -> Option<String> {
        self.item(queued)
            .await
            .and_then(|i| s(&i, "status").map(str::to_owned))
    }

    /// Waits until the message has an outcome; returns it.
    pub async fn outcome(&self, queued: &QueuedMessage) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let status = self.status(queued).await;
            if let Some(status) = &status
                && !matches!(status.as_str(), "pending" | "sending")
            {
                return status.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no outcome for {} within {PATIENCE:?}: {status:?}",
                queued.id
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The texts sent to `phone` once there are `count` of them (or what there is after 30 s).
pub async fn wait_for_texts(app: &Stack, phone: &str, count: usize) -> Vec<String> {
    let mut texts = Vec::new();
    for _ in 0..300 {
        texts = sent_to(app, phone).await;
        if texts.len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    texts
}

/// Texts the Twilio emulator created to `phone` through the REST API.
pub async fn sent_to(app: &Stack, phone: &str) -> Vec<String> {
    app.conversation(phone)
        .await
        .into_iter()
        .filter(|m| m["direction"] == "outbound-api" && m["to"] == phone)
        .filter_map(|m| m["body"].as_str().map(str::to_owned))
        .collect()
}

/// Queues the emulator's next answers to texts to `phone`.
pub async fn faults(app: &Stack, phone: &str, responses: Value) {
    let response = app
        .http
        .post(format!("{}/_emulator/faults", app.emulator_url))
        .json(&json!({ "to": phone, "responses": responses }))
        .send()
        .await
        .expect("emulator reachable");
    assert!(
        response.status().is_success(),
        "faults refused: {}",
        response.text().await.unwrap_or_default()
    );
}

/// Create Message requests that reached the emulator for `phone`, retries and faulted ones included.
pub async fn requests(app: &Stack, phone: &str) -> u64 {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("phone", phone)
        .finish();
    let answer: Value = app
        .http
        .get(format!("{}/_emulator/requests?{query}", app.emulator_url))
        .send()
        .await
        .expect("emulator reachable")
        .json()
        .await
        .expect("emulator JSON");
    answer["create_requests"].as_u64().expect("create_requests")
}

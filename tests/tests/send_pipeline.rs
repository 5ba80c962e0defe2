//! The send pipeline end to end: a producer stores a message and puts it on the SQS queue (moto), the
//! local stack plays Lambda's SQS event source and runs the real `send-worker`, which sends through the
//! Twilio emulator. Tests read the result back from the emulator and the table.

use std::time::Duration;

use rising_core::domain::{Language, PhoneNumber, Zip};
use rising_core::outbound::quiet_hours::{QuietHoursPolicy, SendWindow};
use rising_core::outbound::{
    BatchId, Channel, ConsentBasis, Kind, NewMessage, OutboundId, OutboxStore, QueuedMessage,
    SendQueue, SkipReason, body_context,
};
use rising_core::privacy::{ContactHash, field_context};
use rising_tests::{Stack, s, spawn_app, unique_phone};
use time::OffsetDateTime;

/// ZIP codes in time zones spread around the clock: at any moment it is daytime in one of them and
/// night in another.
const ZIPS: [&str; 4] = ["20001", "90012", "96813", "96910"];

/// A ZIP where, for `phone`, texts may be sent now and for the next hour (or, with `open = false`,
/// where they may not for the next hour).
fn zip_where_sending_is(phone: &str, open: bool) -> String {
    let phone = PhoneNumber::parse(phone).unwrap();
    let policy = QuietHoursPolicy::default();
    let now = OffsetDateTime::now_utc();
    ZIPS.iter()
        .find(|zip| {
            let zip = Zip::parse(zip).unwrap();
            let clock = policy.clock(&phone, Some(&zip));
            [now, now + time::Duration::hours(1)]
                .iter()
                .all(|t| matches!(clock.window_at(*t), Ok(SendWindow::Open)) == open)
        })
        .map(|z| (*z).to_owned())
        .expect("some US time zone is in the state wanted")
}

struct Producer {
    app: Stack,
    batch: BatchId,
}

impl Producer {
    fn new(app: Stack) -> Self {
        Self {
            app,
            batch: BatchId::random(),
        }
    }

    /// Stores a host's invitation to `phone` and puts it on the queue, as the host path does.
    async fn invite(&self, phone: &str, zip: &str, text: &str) -> QueuedMessage {
        let sealer = self.app.sealer();
        let contact = ContactHash::parse(&self.app.phone_hash(phone)).unwrap();
        let id = OutboundId::random();
        let message = NewMessage {
            to: sealer
                .seal(
                    &field_context(&contact, Channel::Sms.address_field()),
                    phone,
                )
                .await
                .unwrap(),
            body: sealer.seal(&body_context(&id), text).await.unwrap(),
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
            .unwrap();
        self.enqueue(&message.queued()).await;
        message.queued()
    }

    async fn enqueue(&self, queued: &QueuedMessage) {
        let accepted = self
            .app
            .send_queue()
            .send(&[(queued.clone(), Duration::ZERO)])
            .await
            .unwrap();
        assert_eq!(accepted, vec![true]);
    }

    async fn status(&self, queued: &QueuedMessage) -> Option<String> {
        let items = self
            .app
            .query_pk(&format!("OUTBOX#{}", queued.id.as_str()))
            .await;
        items
            .first()
            .and_then(|i| s(i, "status"))
            .map(str::to_owned)
    }

    /// Waits until the message has an outcome; returns it.
    async fn outcome(&self, queued: &QueuedMessage) -> String {
        for _ in 0..300 {
            if let Some(status) = self.status(queued).await
                && !matches!(status.as_str(), "pending" | "sending")
            {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no outcome within 30 s: {:?}", self.status(queued).await);
    }
}

/// Texts the emulator saw sent by the REST API to `phone`.
async fn sent_to(app: &Stack, phone: &str) -> Vec<String> {
    app.conversation(phone)
        .await
        .into_iter()
        .filter(|m| m["direction"] == "outbound-api" && m["to"] == phone)
        .filter_map(|m| m["body"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_host_invite_on_the_queue_reaches_the_phone_once_even_when_delivered_twice() {
    let app = spawn_app().await;
    let producer = Producer::new(app.clone());
    let phone = unique_phone();
    let zip = zip_where_sending_is(&phone, true);
    let text = "Dana invites you to a gathering on Saturday. Reply STOP to opt out.";
    let queued = producer.invite(&phone, &zip, text).await;
    assert_eq!(producer.outcome(&queued).await, "sent");
    // SQS delivers at least once: the same queue message again changes nothing.
    producer.enqueue(&queued).await;
    producer.enqueue(&queued).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sent_to(&app, &phone).await, vec![text.to_owned()]);
    let progress = app.outbox().progress(&producer.batch).await.unwrap();
    assert_eq!((progress.queued, progress.sent, progress.done()), (1, 1, 1));
    let item = &app
        .query_pk(&format!("OUTBOX#{}", queued.id.as_str()))
        .await[0];
    assert!(
        s(item, "provider_id").is_some_and(|sid| sid.starts_with("SM")),
        "the Twilio MessageSid is recorded"
    );
    let stored = rising_tests::item_text(item);
    assert!(
        !stored.contains(&phone) && !stored.contains("Dana"),
        "sealed at rest"
    );
}

#[tokio::test]
async fn after_stop_a_host_invite_to_that_phone_sends_nothing() {
    let app = spawn_app().await;
    let producer = Producer::new(app.clone());
    let phone = unique_phone();
    app.text(&phone, "RISING").await;
    // Twilio's Advanced Opt-Out (emulated) confirms the STOP itself; rising records it.
    let stop = app.text(&phone, "STOP").await;
    assert_eq!(stop.webhook_status, 200);
    let zip = zip_where_sending_is(&phone, true);
    let queued = producer
        .invite(&phone, &zip, "Dana invites you to a gathering.")
        .await;
    assert_eq!(producer.outcome(&queued).await, "skipped");
    let item = &app
        .query_pk(&format!("OUTBOX#{}", queued.id.as_str()))
        .await[0];
    assert_eq!(s(item, "reason"), Some(SkipReason::OptedOut.as_str()));
    assert!(sent_to(&app, &phone).await.is_empty(), "nothing was sent");
    let progress = app.outbox().progress(&producer.batch).await.unwrap();
    assert_eq!(progress.skipped, vec![(SkipReason::OptedOut, 1)]);

    // START: texts again.
    app.text(&phone, "START").await;
    let again = producer.invite(&phone, &zip, "Ana invites you too.").await;
    assert_eq!(producer.outcome(&again).await, "sent");
    assert_eq!(
        sent_to(&app, &phone).await,
        vec!["Ana invites you too.".to_owned()]
    );
}

#[tokio::test]
async fn an_invite_at_night_waits_on_the_queue_instead_of_waking_anyone() {
    let app = spawn_app().await;
    let producer = Producer::new(app.clone());
    let phone = unique_phone();
    let zip = zip_where_sending_is(&phone, false);
    let queued = producer.invite(&phone, &zip, "Late invitation.").await;
    let mut deferred = false;
    for _ in 0..300 {
        let item = app
            .query_pk(&format!("OUTBOX#{}", queued.id.as_str()))
            .await;
        if item[0].get("deferred").and_then(|v| v.as_bool().ok()) == Some(&true) {
            deferred = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(deferred, "the worker deferred it");
    assert_eq!(producer.status(&queued).await.as_deref(), Some("pending"));
    assert!(sent_to(&app, &phone).await.is_empty());
    let progress = app.outbox().progress(&producer.batch).await.unwrap();
    assert_eq!((progress.deferred, progress.sent), (1, 0));
}

#[tokio::test]
async fn two_hosts_inviting_the_same_person_send_one_text() {
    let app = spawn_app().await;
    let first = Producer::new(app.clone());
    let second = Producer::new(app.clone());
    let phone = unique_phone();
    let zip = zip_where_sending_is(&phone, true);
    let a = first.invite(&phone, &zip, "From the first host.").await;
    let b = second.invite(&phone, &zip, "From the second host.").await;
    let outcomes = [first.outcome(&a).await, second.outcome(&b).await];
    let mut sorted = outcomes.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["sent".to_owned(), "skipped".to_owned()],
        "{outcomes:?}"
    );
    assert_eq!(sent_to(&app, &phone).await.len(), 1);
}

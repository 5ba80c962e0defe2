//! Fault tests of the send pipeline through the real stack (issue #8, item 5): moto's SQS queue played
//! as Lambda's event source, the real `send-worker`, and the Twilio emulator answering 500s, 429 storms
//! and connection resets for the tests' own numbers. Each test uses its own phones and aims its faults
//! at them (never at `"*"`), so the tests run in parallel with each other and with other test binaries.
//!
//! The send queue's visibility timeout is lowered to 5 s on the running stack (the template's 180 s
//! would make a released message wait three minutes), and stays so for the rest of the stack's life:
//! every test binary sharing the stack sees messages reported in `batchItemFailures` again after 5 s.
//! The worker's lease (60 s) is unaffected; a released message is `pending`, not leased.
//!
//! The large-scale version of these faults (10,000 invites, kills, storage failures, SES throttling,
//! which moto cannot do) is `functions/core/src/outbound/simulation_tests.rs`.

use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use rising_core::domain::{Language, PhoneNumber, Zip};
use rising_core::outbound::quiet_hours::{QuietHoursPolicy, SendWindow};
use rising_core::outbound::{
    BatchId, Channel, ConsentBasis, Kind, NewMessage, OutboundId, OutboxStore, QueuedMessage,
    SendQueue, SkipReason, body_context,
};
use rising_core::privacy::{ContactHash, field_context};
use rising_tests::{Stack, s, spawn_app, unique_phone};
use serde_json::{Value, json};
use time::OffsetDateTime;

/// The send queue's visibility timeout while these tests run, in seconds.
const VISIBILITY_TIMEOUT_S: u32 = 5;
/// How long a test waits for an outcome.
const PATIENCE: Duration = Duration::from_secs(60);

/// ZIP codes in time zones spread around the clock: at any moment it is daytime in one of them.
const ZIPS: [&str; 4] = ["20001", "90012", "96813", "96910"];

/// A ZIP where texts to `phone` may be sent now and for the next hour.
fn daytime_zip(phone: &str) -> String {
    let phone = PhoneNumber::parse(phone).unwrap();
    let policy = QuietHoursPolicy::default();
    let now = OffsetDateTime::now_utc();
    ZIPS.iter()
        .find(|zip| {
            let clock = policy.clock(&phone, Some(&Zip::parse(zip).unwrap()));
            [now, now + time::Duration::hours(1)]
                .iter()
                .all(|t| matches!(clock.window_at(*t), Ok(SendWindow::Open)))
        })
        .map(|z| (*z).to_owned())
        .expect("some US time zone is in its daytime")
}

/// Connects to the stack and makes released messages come back after a few seconds.
async fn stack() -> Stack {
    let app = spawn_app().await;
    let url = app
        .send_queue_url
        .clone()
        .expect("the stack provides SEND_QUEUE_URL");
    aws_sdk_sqs::Client::new(&app.aws)
        .set_queue_attributes()
        .queue_url(url)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            VISIBILITY_TIMEOUT_S.to_string(),
        )
        .send()
        .await
        .expect("SetQueueAttributes on the send queue");
    app
}

/// A host's batch, as the producer stores and enqueues it.
struct Producer {
    app: Stack,
    batch: BatchId,
}

impl Producer {
    fn new(app: &Stack) -> Self {
        Self {
            app: app.clone(),
            batch: BatchId::random(),
        }
    }

    /// Stores an invitation to `phone` (pending) without putting it on the queue.
    async fn store(&self, phone: &str, text: &str) -> QueuedMessage {
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
            zip: Some(daytime_zip(phone)),
            batch: Some(self.batch.clone()),
        };
        self.app
            .outbox()
            .enqueue(&[message.clone()], OffsetDateTime::now_utc())
            .await
            .unwrap();
        message.queued()
    }

    /// Stores an invitation and puts it on the queue `copies` times (SQS delivers at least once).
    async fn invite(&self, phone: &str, text: &str, copies: usize) -> QueuedMessage {
        let queued = self.store(phone, text).await;
        for _ in 0..copies {
            self.enqueue(&queued).await;
        }
        queued
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

    async fn item(&self, queued: &QueuedMessage) -> Option<rising_tests::Item> {
        self.app
            .query_pk(&format!("OUTBOX#{}", queued.id.as_str()))
            .await
            .into_iter()
            .next()
    }

    async fn status(&self, queued: &QueuedMessage) -> Option<String> {
        self.item(queued)
            .await
            .and_then(|i| s(&i, "status").map(str::to_owned))
    }

    /// Waits until the message has an outcome; returns it.
    async fn outcome(&self, queued: &QueuedMessage) -> String {
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

/// Texts the emulator created to `phone` through the REST API.
async fn sent_to(app: &Stack, phone: &str) -> Vec<String> {
    app.conversation(phone)
        .await
        .into_iter()
        .filter(|m| m["direction"] == "outbound-api" && m["to"] == phone)
        .filter_map(|m| m["body"].as_str().map(str::to_owned))
        .collect()
}

/// Queues the emulator's next answers to texts to `phone`.
async fn faults(app: &Stack, phone: &str, responses: Value) {
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
async fn requests(app: &Stack, phone: &str) -> u64 {
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

#[tokio::test]
async fn twilio_answering_500_then_201_sends_the_invite_once() {
    let app = stack().await;
    let producer = Producer::new(&app);
    let phone = unique_phone();
    faults(&app, &phone, json!([{ "status": 500 }])).await;
    let text = "Dana invites you to a gathering on Saturday. Reply STOP to opt out.";
    let queued = producer.invite(&phone, text, 1).await;
    assert_eq!(producer.outcome(&queued).await, "sent");
    assert_eq!(sent_to(&app, &phone).await, vec![text.to_owned()]);
    assert_eq!(
        requests(&app, &phone).await,
        2,
        "the 500, then the retry that created it"
    );
    let progress = app.outbox().progress(&producer.batch).await.unwrap();
    assert_eq!((progress.queued, progress.sent, progress.done()), (1, 1, 1));
}

#[tokio::test]
async fn a_429_storm_delays_the_invite_and_it_is_sent_once() {
    let app = stack().await;
    let producer = Producer::new(&app);
    let phone = unique_phone();
    let storm: Vec<Value> = (0..5)
        .map(|_| json!({ "status": 429, "retry_after": 1 }))
        .collect();
    faults(&app, &phone, Value::Array(storm)).await;
    let queued = producer
        .invite(&phone, "Invitation through a storm.", 1)
        .await;
    // The client retries 429 itself, gives up, and the worker releases the message to the queue,
    // which brings it back after the visibility timeout, maybe more than once.
    assert_eq!(producer.outcome(&queued).await, "sent");
    assert_eq!(
        sent_to(&app, &phone).await,
        vec!["Invitation through a storm.".to_owned()]
    );
    assert_eq!(
        requests(&app, &phone).await,
        6,
        "five 429s, then the one that created it"
    );
    let item = producer.item(&queued).await.unwrap();
    let attempts: u32 = item["attempts"].as_n().unwrap().parse().unwrap();
    assert!(attempts >= 2, "claimed again after the release: {attempts}");
}

#[tokio::test]
async fn a_connection_reset_after_the_text_was_created_is_unknown_and_never_sent_again() {
    let app = stack().await;
    let producer = Producer::new(&app);
    let phone = unique_phone();
    faults(&app, &phone, json!([{ "status": "reset" }])).await;
    let queued = producer
        .invite(&phone, "Did this one go out? It did.", 1)
        .await;
    assert_eq!(producer.outcome(&queued).await, "unknown");
    assert_eq!(sent_to(&app, &phone).await.len(), 1, "Twilio created it");
    // SQS delivers the queue message again, twice: nothing more is sent.
    producer.enqueue(&queued).await;
    producer.enqueue(&queued).await;
    tokio::time::sleep(Duration::from_secs(VISIBILITY_TIMEOUT_S.into()) + Duration::from_secs(3))
        .await;
    assert_eq!(producer.status(&queued).await.as_deref(), Some("unknown"));
    assert_eq!(sent_to(&app, &phone).await.len(), 1);
    assert_eq!(requests(&app, &phone).await, 1, "no second attempt");
    let progress = app.outbox().progress(&producer.batch).await.unwrap();
    assert_eq!(
        (progress.queued, progress.unknown, progress.done()),
        (1, 1, 1),
        "reported, like a failure"
    );
}

#[tokio::test]
async fn every_queue_message_delivered_two_or_three_times_sends_one_text_per_phone() {
    let app = stack().await;
    let producer = Producer::new(&app);
    let phones: Vec<String> = (0..20).map(|_| unique_phone()).collect();
    // A few 5xx among them, so some copies meet a message that is being retried.
    for phone in phones.iter().step_by(5) {
        faults(&app, phone, json!([{ "status": 503 }])).await;
    }
    let mut stored = Vec::new();
    for (i, phone) in phones.iter().enumerate() {
        stored.push(producer.store(phone, &format!("Invitation {i}.")).await);
    }
    // Every message on the queue two or three times, copies interleaved as SQS may deliver them.
    for round in 0..3 {
        for (i, queued) in stored.iter().enumerate() {
            if round < 2 || i % 2 == 0 {
                producer.enqueue(queued).await;
            }
        }
    }
    for queued in &stored {
        assert_eq!(producer.outcome(queued).await, "sent");
    }
    // Let the remaining copies arrive and be acknowledged.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for (i, phone) in phones.iter().enumerate() {
        assert_eq!(
            sent_to(&app, phone).await,
            vec![format!("Invitation {i}.")],
            "{phone}"
        );
    }
    let progress = app.outbox().progress(&producer.batch).await.unwrap();
    assert_eq!(
        (progress.queued, progress.sent, progress.done()),
        (20, 20, 20)
    );
}

#[tokio::test]
async fn an_opted_out_phone_in_a_faulty_batch_receives_nothing() {
    let app = stack().await;
    let producer = Producer::new(&app);
    let stopped = unique_phone();
    app.text(&stopped, "RISING").await;
    let stop = app.text(&stopped, "STOP").await;
    assert_eq!(stop.webhook_status, 200);
    let before = requests(&app, &stopped).await;
    let others: Vec<String> = (0..4).map(|_| unique_phone()).collect();
    faults(
        &app,
        &others[0],
        json!([{ "status": 500 }, { "status": 502 }]),
    )
    .await;
    faults(
        &app,
        &others[1],
        json!([{ "status": 429, "retry_after": 1 }]),
    )
    .await;
    faults(&app, &others[2], json!([{ "status": "reset" }])).await;
    let mut batch = Vec::new();
    for (i, phone) in others.iter().enumerate() {
        batch.push(producer.invite(phone, &format!("Invitation {i}."), 2).await);
    }
    let to_stopped = producer.invite(&stopped, "Never for you.", 3).await;
    assert_eq!(producer.outcome(&to_stopped).await, "skipped");
    let item = producer.item(&to_stopped).await.unwrap();
    assert_eq!(s(&item, "reason"), Some(SkipReason::OptedOut.as_str()));
    let outcomes = [
        producer.outcome(&batch[0]).await,
        producer.outcome(&batch[1]).await,
        producer.outcome(&batch[2]).await,
        producer.outcome(&batch[3]).await,
    ];
    assert_eq!(outcomes, ["sent", "sent", "unknown", "sent"]);
    tokio::time::sleep(Duration::from_secs(VISIBILITY_TIMEOUT_S.into()) + Duration::from_secs(2))
        .await;
    assert!(
        sent_to(&app, &stopped).await.is_empty(),
        "nothing to a phone that said STOP"
    );
    assert_eq!(
        requests(&app, &stopped).await,
        before,
        "not even an attempt Twilio would refuse"
    );
    for phone in &others {
        assert_eq!(sent_to(&app, phone).await.len(), 1, "{phone}");
    }
    let progress = app.outbox().progress(&producer.batch).await.unwrap();
    assert_eq!(
        (
            progress.queued,
            progress.sent,
            progress.unknown,
            progress.skipped
        ),
        (5, 3, 1, vec![(SkipReason::OptedOut, 1)])
    );
}

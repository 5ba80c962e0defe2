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
use rising_core::outbound::{OutboxStore, SkipReason};
use rising_tests::sending::{Producer, faults, requests, sent_to};
use rising_tests::{Stack, s, spawn_app, unique_phone};
use serde_json::{Value, json};

/// The send queue's visibility timeout while these tests run, in seconds.
const VISIBILITY_TIMEOUT_S: u32 = 5;
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

#[tokio::test]
async fn twilio_answering_500_then_201_sends_the_invite_once() {
    if rising_tests::sending::no_zone_is_open("twilio_answering_500_then_201_sends_the_invite_once")
    {
        return;
    }
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
    if rising_tests::sending::no_zone_is_open("a_429_storm_delays_the_invite_and_it_is_sent_once") {
        return;
    }
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
    if rising_tests::sending::no_zone_is_open(
        "a_connection_reset_after_the_text_was_created_is_unknown_and_never_sent_again",
    ) {
        return;
    }
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
    if rising_tests::sending::no_zone_is_open(
        "every_queue_message_delivered_two_or_three_times_sends_one_text_per_phone",
    ) {
        return;
    }
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
    if rising_tests::sending::no_zone_is_open(
        "an_opted_out_phone_in_a_faulty_batch_receives_nothing",
    ) {
        return;
    }
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

/// Puts `queued` straight on the send queue's dead-letter queue, as SQS does after the fifth failed
/// delivery.
async fn dead_letter(app: &Stack, queued: &rising_core::outbound::QueuedMessage) {
    aws_sdk_sqs::Client::new(&app.aws)
        .send_message()
        .queue_url(
            app.send_dead_letter_queue_url
                .clone()
                .expect("the stack provides SEND_DEAD_LETTER_QUEUE_URL"),
        )
        .message_body(serde_json::to_string(queued).expect("JSON"))
        .send()
        .await
        .expect("SendMessage to the dead-letter queue");
}

#[tokio::test]
async fn messages_that_reach_the_dead_letter_queue_are_settled_never_sent_and_none_stays_sending() {
    let app = spawn_app().await;
    let producer = Producer::new(&app);
    let (claimed_phone, waiting_phone) = (unique_phone(), unique_phone());
    // A worker claimed this one and was killed on every delivery: its lease ran out a minute ago.
    // Nothing here is ever sent, so any ZIP will do (even when every US time zone is asleep).
    let claimed = producer
        .store_at(&claimed_phone, "20001", "Killed mid-send.")
        .await;
    app.dynamodb
        .update_item()
        .table_name(&app.table_name)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("OUTBOX#{}", claimed.id.as_str())),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("OUTBOX".into()),
        )
        .update_expression("SET #status = :sending, attempts = :one, lease_until = :past")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(
            ":sending",
            aws_sdk_dynamodb::types::AttributeValue::S("sending".into()),
        )
        .expression_attribute_values(
            ":one",
            aws_sdk_dynamodb::types::AttributeValue::N("1".into()),
        )
        .expression_attribute_values(
            ":past",
            aws_sdk_dynamodb::types::AttributeValue::N(
                (time::OffsetDateTime::now_utc().unix_timestamp() - 60).to_string(),
            ),
        )
        .send()
        .await
        .expect("the claim of a killed worker");
    // This one was never claimed (its deliveries failed before the worker got to it).
    let waiting = producer
        .store_at(&waiting_phone, "20001", "Never claimed.")
        .await;
    dead_letter(&app, &claimed).await;
    dead_letter(&app, &waiting).await;

    assert_eq!(producer.outcome(&claimed).await, "unknown");
    assert_eq!(producer.outcome(&waiting).await, "failed");
    let item = producer.item(&waiting).await.unwrap();
    assert_eq!(s(&item, "reason"), Some("gave_up"));
    assert!(sent_to(&app, &claimed_phone).await.is_empty());
    assert!(sent_to(&app, &waiting_phone).await.is_empty());
    let progress = app.outbox().progress(&producer.batch).await.unwrap();
    assert_eq!(
        (progress.unknown, progress.failed, progress.sent),
        (1, 1, 0)
    );
}

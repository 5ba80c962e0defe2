//! The send pipeline end to end: a producer stores a message and puts it on the SQS queue (moto), the
//! local stack plays Lambda's SQS event source and runs the real `send-worker`, which sends through the
//! Twilio emulator. Tests read the result back from the emulator and the table.

use std::time::Duration;

use rising_core::outbound::{OutboxStore, SkipReason};
use rising_tests::sending::{Producer, no_zone_is_closed, sent_to, zip_where_sending_is};
use rising_tests::{s, spawn_app, unique_phone};

#[tokio::test]
async fn a_host_invite_on_the_queue_reaches_the_phone_once_even_when_delivered_twice() {
    if rising_tests::sending::no_zone_is_open(
        "a_host_invite_on_the_queue_reaches_the_phone_once_even_when_delivered_twice",
    ) {
        return;
    }
    let app = spawn_app().await;
    let producer = Producer::new(&app);
    let phone = unique_phone();
    let zip = zip_where_sending_is(&phone, true);
    let text = "Dana invites you to a gathering on Saturday. Reply STOP to opt out.";
    let queued = producer.invite_at(&phone, &zip, text).await;
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
    let stored = rising_tests::clear_text(item);
    assert!(
        !stored.contains(&phone) && !stored.contains("Dana"),
        "sealed at rest"
    );
}

#[tokio::test]
async fn after_stop_a_host_invite_to_that_phone_sends_nothing() {
    if rising_tests::sending::no_zone_is_open(
        "after_stop_a_host_invite_to_that_phone_sends_nothing",
    ) {
        return;
    }
    let app = spawn_app().await;
    let producer = Producer::new(&app);
    let phone = unique_phone();
    app.text(&phone, "RISING").await;
    // Twilio's Advanced Opt-Out (emulated) confirms the STOP itself; rising records it.
    let stop = app.text(&phone, "STOP").await;
    assert_eq!(stop.webhook_status, 200);
    let zip = zip_where_sending_is(&phone, true);
    let queued = producer
        .invite_at(&phone, &zip, "Dana invites you to a gathering.")
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
    let again = producer
        .invite_at(&phone, &zip, "Ana invites you too.")
        .await;
    assert_eq!(producer.outcome(&again).await, "sent");
    assert_eq!(
        sent_to(&app, &phone).await,
        vec!["Ana invites you too.".to_owned()]
    );
}

#[tokio::test]
async fn an_invite_at_night_waits_on_the_queue_instead_of_waking_anyone() {
    if no_zone_is_closed("an_invite_at_night_waits_on_the_queue_instead_of_waking_anyone") {
        return;
    }
    let app = spawn_app().await;
    let producer = Producer::new(&app);
    let phone = unique_phone();
    let zip = zip_where_sending_is(&phone, false);
    let queued = producer.invite_at(&phone, &zip, "Late invitation.").await;
    assert!(producer.deferred(&queued).await, "the worker deferred it");
    assert_eq!(producer.status(&queued).await.as_deref(), Some("pending"));
    assert!(sent_to(&app, &phone).await.is_empty());
    let progress = app.outbox().progress(&producer.batch).await.unwrap();
    assert_eq!((progress.deferred, progress.sent), (1, 0));
}

#[tokio::test]
async fn two_hosts_inviting_the_same_person_send_one_text() {
    if rising_tests::sending::no_zone_is_open("two_hosts_inviting_the_same_person_send_one_text") {
        return;
    }
    let app = spawn_app().await;
    let first = Producer::new(&app);
    let second = Producer::new(&app);
    let phone = unique_phone();
    let zip = zip_where_sending_is(&phone, true);
    let a = first.invite_at(&phone, &zip, "From the first host.").await;
    let b = second
        .invite_at(&phone, &zip, "From the second host.")
        .await;
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

#[tokio::test]
async fn after_delete_by_text_a_host_invite_is_skipped_and_nothing_is_sent() {
    if rising_tests::sending::no_zone_is_open(
        "after_delete_by_text_a_host_invite_is_skipped_and_nothing_is_sent",
    ) {
        return;
    }
    let app = spawn_app().await;
    let producer = Producer::new(&app);
    let phone = unique_phone();
    app.text(&phone, "RISING").await;
    app.text(&phone, "DELETE").await;
    let erased = app.text(&phone, "DELETE").await;
    assert!(
        erased.replies.concat().contains("erased"),
        "{:?}",
        erased.replies
    );
    let zip = zip_where_sending_is(&phone, true);
    let queued = producer
        .invite_at(&phone, &zip, "Dana invites you to a gathering.")
        .await;
    assert_eq!(producer.outcome(&queued).await, "skipped");
    let item = producer.item(&queued).await.expect("the invite's item");
    assert_eq!(s(&item, "reason"), Some(SkipReason::Suppressed.as_str()));
    assert!(sent_to(&app, &phone).await.is_empty(), "nothing was sent");
}

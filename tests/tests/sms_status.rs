//! Delivery status: `POST /sms/status` on the running local stack. Texts are sent through the Twilio
//! emulator with `StatusCallback = {PUBLIC_BASE_URL}/sms/status`, so the emulator posts its own signed
//! callbacks to the gateway; duplicates, forgeries and bad input are posted by hand. The stack's
//! emulator test numbers (`infra/local/stack.py`, `EMULATOR_TEST_NUMBERS`) fail with carrier errors.

use std::collections::HashMap;
use std::time::Duration;

use rising_core::outbound::OutboxStore;
use rising_core::sms::client::{ClientConfig, OutboundMessage, Sender, TwilioAuth, TwilioClient};
use rising_tests::sending::{PATIENCE, Producer, zip_open_for};
use rising_tests::{Item, Stack, item_text, s, spawn_app, unique_message_sid, unique_phone};

const UNREACHABLE: &str = "+15005550001"; // 30003, undelivered
const UNKNOWN: &str = "+15005550002"; // 30005, undelivered
const FILTERED: &str = "+15005550003"; // 30007, failed
const UNSUBSCRIBED: &str = "+15005550004"; // 21610, failed
const BLOCKED: &str = "+15005550005"; // 30004, undelivered

fn n<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .map(String::as_str)
}

fn by_sk<'a>(items: &'a [Item], sk: &str) -> Option<&'a Item> {
    items.iter().find(|i| s(i, "sk") == Some(sk))
}

fn status_callback_url(app: &Stack) -> String {
    format!("{}/sms/status", app.public_base_url)
}

/// Sends a text through the emulator with the stack's status callback; returns its MessageSid.
async fn send(app: &Stack, to: &str) -> String {
    let twilio = TwilioClient::new(
        TwilioAuth::AuthToken {
            account_sid: app.account_sid.clone(),
            auth_token: app.auth_token.clone(),
        },
        ClientConfig {
            base_url: app.emulator_url.clone(),
            ..ClientConfig::default()
        },
    )
    .expect("client");
    let message = OutboundMessage {
        to: to.to_string(),
        sender: Sender::From(app.phone_number.clone()),
        body: "Your gathering is tomorrow at 7pm.".to_string(),
        status_callback: Some(status_callback_url(app)),
    };
    twilio
        .send_message(&message)
        .await
        .expect("the emulator accepts the text")
        .sid
}

/// Waits until the emulator has made `count` status callbacks for `sid`; asserts the gateway
/// answered each with 204. Returns the statuses, in order.
async fn callbacks(app: &Stack, sid: &str, count: usize) -> Vec<String> {
    let url = format!("{}/_emulator/callbacks?message_sid={sid}", app.emulator_url);
    let mut seen: Vec<serde_json::Value> = vec![];
    for _ in 0..200 {
        seen = app
            .http
            .get(&url)
            .send()
            .await
            .expect("emulator")
            .json()
            .await
            .expect("emulator JSON");
        if seen.len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen.len(), count, "status callbacks of {sid}: {seen:?}");
    for callback in &seen {
        assert_eq!(callback["http_status"], 204, "{callback}");
    }
    seen.iter()
        .map(|c| c["message_status"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn outbound_items(app: &Stack, sid: &str) -> Vec<Item> {
    app.query_pk(&format!("OUTBOUND#{sid}")).await
}

fn sks(items: &[Item]) -> Vec<&str> {
    let mut sks: Vec<&str> = items.iter().filter_map(|i| s(i, "sk")).collect();
    sks.sort();
    sks
}

/// Status callback parameters as Twilio posts them.
fn status_params(
    app: &Stack,
    sid: &str,
    to: &str,
    status: &str,
    error_code: Option<&str>,
) -> Vec<(String, String)> {
    let mut params = vec![];
    if let Some(code) = error_code {
        params.push(("ErrorCode", code));
    }
    params.extend([
        ("SmsSid", sid),
        ("SmsStatus", status),
        ("MessageStatus", status),
        ("To", to),
        ("MessageSid", sid),
        ("AccountSid", app.account_sid.as_str()),
        ("From", app.phone_number.as_str()),
        ("ApiVersion", "2010-04-01"),
    ]);
    params
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The consent evidence left by message `sid` on `phone`'s contact.
async fn evidence_of(app: &Stack, phone: &str, sid: &str) -> Item {
    app.contact_items(phone)
        .await
        .into_iter()
        .find(|i| {
            s(i, "sk").is_some_and(|k| k.starts_with("CONSENT#"))
                && s(i, "message_sid") == Some(sid)
        })
        .expect("consent evidence for the message")
}

#[tokio::test]
async fn a_delivered_text_ends_with_one_item_holding_its_outcome() {
    let app = spawn_app().await;
    let phone = unique_phone();

    let sid = send(&app, &phone).await;

    assert_eq!(
        callbacks(&app, &sid, 3).await,
        vec!["queued", "sent", "delivered"]
    );
    // `queued` and `sent` tell nothing new and write nothing.
    let items = outbound_items(&app, &sid).await;
    assert_eq!(sks(&items), vec!["MESSAGE"]);
    let outcome = by_sk(&items, "MESSAGE").unwrap();
    assert_eq!(s(outcome, "status"), Some("delivered"));
    assert_eq!(s(outcome, "message_sid"), Some(sid.as_str()));
    assert!(s(outcome, "at").is_some());
    assert_eq!(n(outcome, "error_code"), None);
    assert_eq!(s(outcome, "batch_id"), None, "a text of no batch");
    assert!(
        app.contact_items(&phone).await.is_empty(),
        "a delivered text changes no contact"
    );
    for item in &items {
        assert!(
            !item_text(item).contains(&phone[2..]),
            "no phone in clear: {item:?}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_handset_marks_the_contact_undeliverable() {
    let app = spawn_app().await;

    let sid = send(&app, UNREACHABLE).await;

    assert_eq!(
        callbacks(&app, &sid, 3).await,
        vec!["queued", "sent", "undelivered"]
    );
    let items = outbound_items(&app, &sid).await;
    let undelivered = by_sk(&items, "MESSAGE").expect("the text's outcome");
    assert_eq!(n(undelivered, "error_code"), Some("30003"));
    assert_eq!(s(undelivered, "status"), Some("undelivered"));
    let contacts = app.contact_items(UNREACHABLE).await;
    let contact = by_sk(&contacts, "CONTACT").expect("contact");
    assert_eq!(
        contact
            .get("sms_undeliverable")
            .and_then(|v| v.as_bool().ok()),
        Some(&true)
    );
    assert_eq!(n(contact, "sms_undeliverable_code"), Some("30003"));
    assert_eq!(
        s(contact, "sms_undeliverable_at"),
        s(undelivered, "at"),
        "marked by this very callback"
    );
    assert_eq!(s(contact, "entity"), Some("contact"));
}

#[tokio::test]
async fn an_unknown_destination_marks_the_contact_undeliverable() {
    let app = spawn_app().await;

    let sid = send(&app, UNKNOWN).await;

    callbacks(&app, &sid, 3).await;
    let items = outbound_items(&app, &sid).await;
    let undelivered = by_sk(&items, "MESSAGE").expect("the text's outcome");
    assert_eq!(s(undelivered, "status"), Some("undelivered"));
    let contacts = app.contact_items(UNKNOWN).await;
    let contact = by_sk(&contacts, "CONTACT").expect("contact");
    assert_eq!(n(contact, "sms_undeliverable_code"), Some("30005"));
    assert_eq!(s(contact, "sms_undeliverable_at"), s(undelivered, "at"));
    assert_ne!(
        s(contact, "sms_status"),
        Some("opted_out"),
        "undeliverable is not an opt-out"
    );
}

#[tokio::test]
async fn carrier_filtering_is_counted_for_the_day_and_changes_no_contact() {
    let app = spawn_app().await;
    let counts = |items: Vec<Item>| -> HashMap<String, u64> {
        items
            .iter()
            .filter_map(|i| Some((s(i, "sk")?.to_string(), n(i, "count")?.parse().ok()?)))
            .collect()
    };
    let before = counts(app.query_pk("METRIC#carrier_filtering").await);

    let sid = send(&app, FILTERED).await;

    assert_eq!(callbacks(&app, &sid, 2).await, vec!["queued", "failed"]);
    let items = outbound_items(&app, &sid).await;
    let failed = by_sk(&items, "MESSAGE").expect("the text's outcome");
    assert_eq!(s(failed, "status"), Some("failed"));
    assert_eq!(n(failed, "error_code"), Some("30007"));
    let day = format!("DAY#{}", &s(failed, "at").unwrap()[..10]);
    let after = counts(app.query_pk("METRIC#carrier_filtering").await);
    assert_eq!(
        after.get(&day).copied(),
        Some(before.get(&day).copied().unwrap_or(0) + 1),
        "{day}"
    );
    assert!(app.contact_items(FILTERED).await.is_empty());
}

#[tokio::test]
async fn an_unsubscribed_recipient_is_opted_out_with_evidence_from_the_carrier() {
    let app = spawn_app().await;

    let sid = send(&app, UNSUBSCRIBED).await;

    assert_eq!(callbacks(&app, &sid, 2).await, vec!["queued", "failed"]);
    let contacts = app.contact_items(UNSUBSCRIBED).await;
    let contact = by_sk(&contacts, "CONTACT").expect("contact");
    assert_eq!(s(contact, "sms_status"), Some("opted_out"));
    assert!(s(contact, "created_at").is_some());
    let evidence = evidence_of(&app, UNSUBSCRIBED, &sid).await;
    assert_eq!(s(&evidence, "action"), Some("opt_out"));
    assert_eq!(s(&evidence, "source"), Some("carrier"));
    assert_eq!(s(&evidence, "channel"), Some("sms"));
    assert_eq!(n(&evidence, "error_code"), Some("21610"));
    assert_eq!(
        s(&evidence, "at"),
        s(contact, "sms_status_at"),
        "opted out by this very callback"
    );
}

#[tokio::test]
async fn a_recipient_whose_carrier_blocks_our_texts_is_opted_out_with_evidence() {
    let app = spawn_app().await;

    let sid = send(&app, BLOCKED).await;

    assert_eq!(
        callbacks(&app, &sid, 3).await,
        vec!["queued", "sent", "undelivered"]
    );
    let contacts = app.contact_items(BLOCKED).await;
    assert_eq!(
        s(by_sk(&contacts, "CONTACT").expect("contact"), "sms_status"),
        Some("opted_out")
    );
    let evidence = evidence_of(&app, BLOCKED, &sid).await;
    assert_eq!(s(&evidence, "source"), Some("carrier"));
    assert_eq!(n(&evidence, "error_code"), Some("30004"));
}

#[tokio::test]
async fn a_person_who_joined_and_is_then_reported_unsubscribed_is_opted_out_keeping_both_records() {
    let app = spawn_app().await;
    let phone = unique_phone();
    app.text(&phone, "JOIN").await;
    let sid = unique_message_sid();

    let response = app
        .post_webhook(
            "/sms/status",
            &status_params(&app, &sid, &phone, "failed", Some("21610")),
            None,
        )
        .await;

    assert_eq!(response.status(), 204);
    let items = app.contact_items(&phone).await;
    assert_eq!(
        s(by_sk(&items, "CONTACT").unwrap(), "sms_status"),
        Some("opted_out")
    );
    let consents: Vec<_> = items
        .iter()
        .filter(|i| s(i, "sk").is_some_and(|k| k.starts_with("CONSENT#")))
        .map(|i| {
            (
                s(i, "action").unwrap_or_default(),
                s(i, "source").unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        consents,
        vec![("opt_in", "keyword"), ("opt_out", "carrier")]
    );
    for item in &items {
        assert!(
            !item_text(item).contains(&phone[2..]),
            "no phone in clear: {item:?}"
        );
    }
}

#[tokio::test]
async fn a_callback_posted_twice_writes_nothing_new() {
    let app = spawn_app().await;
    let phone = unique_phone();
    let sid = unique_message_sid();
    let delivered = status_params(&app, &sid, &phone, "delivered", None);
    assert_eq!(
        app.post_webhook("/sms/status", &delivered, None)
            .await
            .status(),
        204
    );
    let before = outbound_items(&app, &sid).await;

    let again = app.post_webhook("/sms/status", &delivered, None).await;

    assert_eq!(again.status(), 204);
    assert_eq!(outbound_items(&app, &sid).await, before);
}

#[tokio::test]
async fn a_delivered_invite_of_a_batch_is_counted_delivered_once() {
    let app = spawn_app().await;
    let producer = Producer::new(&app);
    let phone = unique_phone();
    let Some(zip) = zip_open_for(&phone, 20) else {
        // 11:00–12:00 UTC every US time zone is in its quiet hours: nothing is sent, so nothing can
        // be delivered (the send pipeline's tests check the deferral then).
        return;
    };
    let queued = producer
        .invite_at(&phone, &zip, "Dana invites you to a gathering on Saturday.")
        .await;
    assert_eq!(producer.outcome(&queued).await, "sent");
    let message = producer.item(&queued).await.expect("the invite's item");
    let sid = s(&message, "provider_id")
        .expect("its MessageSid")
        .to_owned();

    // The emulator posts queued, sent, delivered to the callback URL the worker gave it, which
    // names the batch.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut progress = app.outbox().progress(&producer.batch).await.unwrap();
    while progress.delivered == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        progress = app.outbox().progress(&producer.batch).await.unwrap();
    }
    assert_eq!(
        (progress.queued, progress.sent, progress.delivered),
        (1, 1, 1),
        "{progress:?}"
    );
    assert_eq!(progress.done(), 1);
    let items = outbound_items(&app, &sid).await;
    let outcome = by_sk(&items, "MESSAGE").expect("the text's outcome");
    assert_eq!(s(outcome, "batch_id"), Some(producer.batch.as_str()));
    assert!(!item_text(outcome).contains(&phone[2..]));

    // Twilio repeating the callback does not count it again.
    let callback = format!("/sms/status?batch={}", producer.batch.as_str());
    let delivered = status_params(&app, &sid, &phone, "delivered", None);
    let again = app.post_webhook(&callback, &delivered, None).await;
    assert_eq!(again.status(), 204);
    let progress = app.outbox().progress(&producer.batch).await.unwrap();
    assert_eq!(progress.delivered, 1);
}

#[tokio::test]
async fn a_delivered_text_of_no_batch_counts_in_no_batch() {
    let app = spawn_app().await;
    let sid = send(&app, &unique_phone()).await;
    assert_eq!(
        callbacks(&app, &sid, 3).await,
        vec!["queued", "sent", "delivered"]
    );
    let items = outbound_items(&app, &sid).await;
    assert_eq!(sks(&items), vec!["MESSAGE"]);
    assert_eq!(s(&items[0], "batch_id"), None);
}

#[tokio::test]
async fn an_undeliverable_callback_posted_twice_touches_the_contact_once() {
    let app = spawn_app().await;
    let phone = unique_phone();
    let sid = unique_message_sid();
    let undelivered = status_params(&app, &sid, &phone, "undelivered", Some("30006"));
    assert_eq!(
        app.post_webhook("/sms/status", &undelivered, None)
            .await
            .status(),
        204
    );
    let contact_before = app.contact_items(&phone).await;
    let outbound_before = outbound_items(&app, &sid).await;
    assert_eq!(
        n(
            by_sk(&contact_before, "CONTACT").unwrap(),
            "sms_undeliverable_code"
        ),
        Some("30006")
    );
    tokio::time::sleep(Duration::from_millis(5)).await; // a second write would carry a later time

    let again = app.post_webhook("/sms/status", &undelivered, None).await;

    assert_eq!(again.status(), 204);
    assert_eq!(app.contact_items(&phone).await, contact_before);
    assert_eq!(outbound_items(&app, &sid).await, outbound_before);
}

#[tokio::test]
async fn a_late_sent_after_delivered_changes_nothing() {
    let app = spawn_app().await;
    let phone = unique_phone();
    let sid = unique_message_sid();
    let delivered = status_params(&app, &sid, &phone, "delivered", None);
    assert_eq!(
        app.post_webhook("/sms/status", &delivered, None)
            .await
            .status(),
        204
    );

    let sent = status_params(&app, &sid, &phone, "sent", None);
    assert_eq!(
        app.post_webhook("/sms/status", &sent, None).await.status(),
        204
    );

    let items = outbound_items(&app, &sid).await;
    assert_eq!(sks(&items), vec!["MESSAGE"]);
    assert_eq!(
        s(by_sk(&items, "MESSAGE").unwrap(), "status"),
        Some("delivered")
    );
}

#[tokio::test]
async fn a_forged_signature_is_refused_with_403_and_nothing_is_written() {
    let app = spawn_app().await;
    let phone = unique_phone();
    let sid = unique_message_sid();
    let params = status_params(&app, &sid, &phone, "failed", Some("21610"));

    let response = app
        .post_webhook("/sms/status", &params, Some("forged"))
        .await;

    assert_eq!(response.status(), 403);
    assert!(outbound_items(&app, &sid).await.is_empty());
    assert!(app.contact_items(&phone).await.is_empty());
}

#[tokio::test]
async fn a_callback_without_message_status_is_a_400_and_nothing_is_written() {
    let app = spawn_app().await;
    let phone = unique_phone();
    let sid = unique_message_sid();
    let mut params = status_params(&app, &sid, &phone, "delivered", None);
    params.retain(|(k, _)| k != "MessageStatus");

    let response = app.post_webhook("/sms/status", &params, None).await;

    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("MessageStatus"));
    assert!(outbound_items(&app, &sid).await.is_empty());
}

#[tokio::test]
async fn a_recipient_not_in_e164_form_is_a_400_and_nothing_is_written() {
    let app = spawn_app().await;
    let phone = unique_phone();
    let sid = unique_message_sid();
    let mut params = status_params(&app, &sid, &phone, "failed", Some("21610"));
    for (key, value) in &mut params {
        if key == "To" {
            *value = value.trim_start_matches('+').to_string();
        }
    }

    let response = app.post_webhook("/sms/status", &params, None).await;

    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("To"));
    assert!(outbound_items(&app, &sid).await.is_empty());
    assert!(app.contact_items(&phone).await.is_empty());
}

#[tokio::test]
async fn concurrent_deliveries_of_one_opt_out_callback_are_recorded_once() {
    let app = spawn_app().await;
    let phone = unique_phone();
    let sid = unique_message_sid();
    let params = status_params(&app, &sid, &phone, "failed", Some("21610"));

    let responses =
        futures::future::join_all((0..4).map(|_| app.post_webhook("/sms/status", &params, None)))
            .await;

    for response in &responses {
        assert_eq!(response.status(), 204);
    }
    let items = app.contact_items(&phone).await;
    let consents = items
        .iter()
        .filter(|i| s(i, "sk").is_some_and(|k| k.starts_with("CONSENT#")))
        .count();
    assert_eq!(consents, 1, "{items:?}");
    assert_eq!(sks(&outbound_items(&app, &sid).await), vec!["MESSAGE"]);
}

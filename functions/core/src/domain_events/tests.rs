//! The stream records → events mapping and the publisher, with stream records in the shape Lambda
//! delivers them (as in aws_lambda_events' `example-dynamodb-event.json`) and in-memory ports.

use aws_lambda_events::event::dynamodb::Event;
use serde_json::{Value, json};

use super::*;
use crate::stats::MemoryCampaignStats;

pub(crate) const ALICE: &str = "p.alice0000000000000000000000000000000000000";
pub(crate) const BOB: &str = "e.bob000000000000000000000000000000000000000";
const SEALED: &str = "v1.wrappedkey.nonce.ciphertext";

/// A DynamoDB JSON image from plain JSON: strings, numbers, booleans.
pub(crate) fn image(plain: Value) -> Value {
    let Value::Object(map) = plain else {
        return json!({});
    };
    Value::Object(
        map.into_iter()
            .map(|(k, v)| {
                let typed = match v {
                    Value::String(s) => json!({ "S": s }),
                    Value::Number(n) => json!({ "N": n.to_string() }),
                    Value::Bool(b) => json!({ "BOOL": b }),
                    other => other,
                };
                (k, typed)
            })
            .collect(),
    )
}

pub(crate) fn record(seq: u64, change: &str, new: Value, old: Option<Value>) -> Value {
    let keys = json!({ "pk": new["pk"].clone(), "sk": new["sk"].clone() });
    let mut dynamodb = json!({
        "ApproximateCreationDateTime": 1_780_000_000 + seq,
        "Keys": image(keys),
        "NewImage": image(new),
        "SequenceNumber": format!("{:021}", 100 + seq),
        "SizeBytes": 321,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    });
    if let Some(old) = old {
        dynamodb["OldImage"] = image(old);
    }
    json!({
        "eventID": format!("event-{seq}"),
        "eventName": change,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": dynamodb,
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/rising/stream/2026-11-28T00:00:00.000",
    })
}

pub(crate) fn batch(records: Vec<Value>) -> Event {
    serde_json::from_value(json!({ "Records": records })).expect("a stream event")
}

pub(crate) fn rsvp(status: &str) -> Value {
    json!({
        "pk": "GATHERING#g1", "sk": format!("RSVP#{ALICE}"), "entity": "rsvp",
        "gathering_id": "g1", "contact_hash": ALICE, "status": status, "source": "form",
        "language": "es", "first_name_sealed": SEALED, "referral": "FRIEND7",
        "starts_at": "2026-12-05T18:00:00Z", "created_at": "2026-11-28T10:00:00Z",
        "gsi1pk": format!("CONTACT#{ALICE}"), "gsi1sk": "RSVP#2026-12-05T18:00:00Z#g1",
    })
}

pub(crate) fn message(status: &str) -> Value {
    json!({
        "pk": "OUTBOX#m1", "sk": "OUTBOX", "entity": "outbound_message", "id": "m1",
        "channel": "sms", "kind": "invite", "consent": "host_invite", "contact": BOB,
        "to_sealed": SEALED, "body_sealed": SEALED, "language": "en", "batch": "b1",
        "status": status, "attempts": 1, "created_at": "2026-11-28T10:00:00Z",
        "gsi1pk": "BATCH#b1", "gsi1sk": "OUTBOX#2026-11-28T10:00:00Z#m1", "expires_at": 1_790_000_000,
    })
}

fn gathering(listed: bool, going: u32, updated_at: Option<&str>) -> Value {
    let mut g = json!({
        "pk": "GATHERING#g1", "sk": "GATHERING", "entity": "gathering", "id": "g1", "code": "MAPLE5",
        "title": "Porch talk", "starts_at": "2026-12-05T18:00:00Z", "ends_at": "2026-12-05T20:00:00Z",
        "timezone": "America/Chicago", "town": "Austin", "state": "TX", "zip": "78701",
        "lat": 30.27, "lon": -97.74, "geohash": "9v6", "address_kind": "private",
        "address_sealed": SEALED, "host_first_name_sealed": SEALED, "capacity": 12,
        "going_count": going, "language": "en", "listed": listed, "host_hash": BOB,
        "created_at": "2026-11-20T10:00:00Z",
    });
    if let Some(at) = updated_at {
        g["updated_at"] = json!(at);
    }
    g
}

pub(crate) fn consent(action: &str, channel: &str, source: &str) -> Value {
    json!({
        "pk": format!("CONTACT#{ALICE}"), "sk": "CONSENT#2026-11-28T10:00:00Z#SM1", "entity": "consent",
        "channel": channel, "action": action, "source": source, "language": "en",
        "program": "rising", "keyword": "STOP", "message_sid": "SM1", "at": "2026-11-28T10:00:00Z",
    })
}

fn drafted(value: Value) -> Option<Draft> {
    let event = batch(vec![value]);
    draft(&event.records[0]).expect("a readable record")
}

type Testing = Publisher<MemoryBus, MemoryPersonIds, MemoryCampaignStats>;

fn publisher(people: &[(&str, &str)]) -> Testing {
    let ids = people
        .iter()
        .map(|(c, id)| (ContactHash::parse(c).unwrap(), id.to_string()))
        .collect();
    Publisher::new(
        MemoryBus::default(),
        MemoryPersonIds(ids),
        MemoryCampaignStats::default(),
    )
}

fn published(p: &Testing) -> Vec<DomainEvent> {
    p.bus.published.lock().unwrap().clone()
}

#[tokio::test]
async fn a_new_rsvp_is_published_with_the_persons_export_id_and_no_personal_data() {
    let p = publisher(&[(ALICE, "person-a")]);
    let response = p
        .handle(&batch(vec![record(1, "INSERT", rsvp("going"), None)]))
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let events = published(&p);
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.kind, "rsvp.created");
    assert_eq!(e.id, "event-1");
    assert_eq!(
        e.detail,
        json!({
            "id": "event-1", "type": "rsvp.created", "occurred_at": "2026-05-28T20:26:41Z",
            "person": "rising:person-a", "gathering": "rising:g1", "status": "going",
            "source": "form", "language": "es", "referral_code": "FRIEND7",
            "gathering_starts_at": "2026-12-05T18:00:00Z",
        })
    );
}

#[tokio::test]
async fn a_contact_without_a_person_id_is_named_by_its_hash_as_the_export_names_it() {
    let p = publisher(&[]);
    p.handle(&batch(vec![record(1, "INSERT", rsvp("waitlist"), None)]))
        .await
        .unwrap();
    assert_eq!(
        published(&p)[0].detail["person"],
        json!(format!("rising:{ALICE}"))
    );
}

#[test]
fn a_waitlisted_person_given_a_place_makes_an_update_and_a_rewrite_with_the_same_status_does_not() {
    let d = drafted(record(2, "MODIFY", rsvp("going"), Some(rsvp("waitlist")))).unwrap();
    assert_eq!(d.kind, "rsvp.updated");
    assert_eq!(d.fields["status"], "going");
    assert_eq!(d.fields["previous_status"], "waitlist");
    assert_eq!(
        drafted(record(3, "MODIFY", rsvp("going"), Some(rsvp("going")))),
        None
    );
}

#[test]
fn stop_and_start_records_become_opt_out_and_opt_in_events_with_channel_and_source() {
    let d = drafted(record(1, "INSERT", consent("opt_out", "sms", "sms"), None)).unwrap();
    assert_eq!(d.kind, "person.opted_out");
    assert_eq!(
        d.subject,
        Subject::Contact(ContactHash::parse(ALICE).unwrap())
    );
    assert_eq!(
        d.fields,
        fields(json!({ "channel": "sms", "source": "sms" }))
    );
    let d = drafted(record(2, "INSERT", consent("opt_in", "sms", "form"), None)).unwrap();
    assert_eq!(d.kind, "person.opted_in");
    let d = drafted(record(
        3,
        "INSERT",
        consent("opt_out", "email", "complaint"),
        None,
    ))
    .unwrap();
    assert_eq!(
        (d.kind.as_str(), &d.fields["source"]),
        ("person.opted_out", &json!("complaint"))
    );
}

#[test]
fn an_erasure_is_published_once_as_forgotten_naming_the_person_id_the_erasure_removed() {
    let before = json!({
        "pk": format!("CONTACT#{ALICE}"), "sk": "CONTACT", "entity": "contact",
        "person_id": "person-a", "sms_status": "opted_in", "phone_sealed": SEALED,
    });
    let after = json!({
        "pk": format!("CONTACT#{ALICE}"), "sk": "CONTACT", "entity": "contact",
        "sms_status": "opted_out", "suppressed": true, "erased_at": "2026-11-28T11:00:00Z",
    });
    let d = drafted(record(1, "MODIFY", after.clone(), Some(before))).unwrap();
    assert_eq!(d.kind, "person.forgotten");
    assert_eq!(d.subject, Subject::Person("person-a".into()));
    assert!(d.fields.is_empty());
    // The erasure's own consent record and a later change of the erased contact make no second event.
    assert_eq!(
        drafted(record(2, "INSERT", consent("erase", "all", "sms"), None)),
        None
    );
    assert_eq!(
        drafted(record(3, "MODIFY", after.clone(), Some(after))),
        None
    );
}

#[test]
fn a_message_is_published_when_it_settles_not_while_it_is_claimed_or_delivered() {
    assert_eq!(drafted(record(1, "INSERT", message("pending"), None)), None);
    assert_eq!(
        drafted(record(
            2,
            "MODIFY",
            message("sending"),
            Some(message("pending"))
        )),
        None
    );
    let d = drafted(record(
        3,
        "MODIFY",
        message("sent"),
        Some(message("sending")),
    ))
    .unwrap();
    assert_eq!(d.kind, "invite.sent");
    assert_eq!(
        d.fields,
        fields(json!({
            "message": "m1", "kind": "invite", "channel": "sms", "status": "sent",
            "reason": null, "batch": "b1",
        }))
    );
    // A rewrite of the sent message is not a second `sent`, and Twilio's delivery receipt (its own item)
    // makes no event.
    assert_eq!(
        drafted(record(4, "MODIFY", message("sent"), Some(message("sent")))),
        None
    );
    let receipt = json!({
        "pk": "OUTBOUND#SM1", "sk": "MESSAGE", "entity": "outbound_message", "message_sid": "SM1",
        "status": "delivered", "batch_id": "b1", "at": "2026-11-28T10:00:05Z",
    });
    assert_eq!(drafted(record(6, "INSERT", receipt, None)), None);
    let mut skipped = message("skipped");
    skipped["kind"] = json!("reminder");
    skipped["reason"] = json!("opted_out");
    let d = drafted(record(5, "MODIFY", skipped, Some(message("pending")))).unwrap();
    assert_eq!(
        (d.kind.as_str(), &d.fields["reason"]),
        ("reminder.skipped", &json!("opted_out"))
    );
}

#[test]
fn a_gathering_event_shows_what_its_share_page_shows_and_head_counts_make_none() {
    let d = drafted(record(1, "INSERT", gathering(false, 0, None), None)).unwrap();
    assert_eq!(d.kind, "gathering.created");
    assert_eq!(d.subject, Subject::Nobody);
    let keys: Vec<&str> = d.fields.keys().map(String::as_str).collect();
    for private in [
        "address_sealed",
        "host_hash",
        "host_first_name_sealed",
        "code",
        "going_count",
    ] {
        assert!(!keys.contains(&private), "{private} must not be published");
    }
    assert_eq!(d.fields["town"], "Austin");
    assert_eq!(
        drafted(record(
            2,
            "MODIFY",
            gathering(false, 3, None),
            Some(gathering(false, 2, None))
        )),
        None
    );
    let d = drafted(record(
        3,
        "MODIFY",
        gathering(true, 3, None),
        Some(gathering(false, 3, None)),
    ));
    assert_eq!(d.unwrap().kind, "gathering.listed");
    let edited = gathering(true, 3, Some("2026-11-28T12:00:00Z"));
    let d = drafted(record(4, "MODIFY", edited, Some(gathering(true, 3, None))));
    assert_eq!(d.unwrap().kind, "gathering.updated");
}

#[test]
fn publishing_a_recording_is_an_event_once() {
    let training = |published: Option<&str>| {
        let mut t = json!({
            "pk": "TRAINING#t1", "sk": "TRAINING", "entity": "training", "id": "t1",
            "title": "Host training", "starts_at": "2026-12-01T01:00:00Z", "ends_at": "2026-12-01T02:00:00Z",
            "time_zone": "America/New_York", "created_at": "2026-11-01T00:00:00Z",
            "gsi1pk": "TRAININGS", "gsi1sk": "TRAINING#2026-12-01T01:00:00Z#t1",
        });
        if let Some(at) = published {
            t["recording_url"] = json!("https://video.example/host");
            t["recording_published_at"] = json!(at);
        }
        t
    };
    assert_eq!(
        drafted(record(1, "INSERT", training(None), None))
            .unwrap()
            .kind,
        "training.created"
    );
    let published = training(Some("2026-12-02T00:00:00Z"));
    let d = drafted(record(2, "MODIFY", published.clone(), Some(training(None)))).unwrap();
    assert_eq!(d.kind, "training.recording_published");
    assert_eq!(d.fields["recording_url"], "https://video.example/host");
    assert_eq!(
        drafted(record(3, "MODIFY", published.clone(), Some(published))),
        None
    );
}

#[test]
fn a_registration_names_the_training_and_items_nobody_subscribes_to_make_nothing() {
    let reg = json!({
        "pk": "TRAINING#t1", "sk": format!("REG#{BOB}"), "entity": "training_registration",
        "training_id": "t1", "contact_hash": BOB, "status": "registered", "source": "sms",
        "language": "en", "first_name_sealed": SEALED, "starts_at": "2026-12-01T01:00:00Z",
        "created_at": "2026-11-28T10:00:00Z", "gsi1pk": format!("CONTACT#{BOB}"), "gsi1sk": "x",
    });
    let d = drafted(record(1, "INSERT", reg, None)).unwrap();
    assert_eq!(d.kind, "registration.created");
    assert_eq!(d.fields["training"], "rising:t1");
    let counter =
        json!({ "pk": "BATCH#b1", "sk": "COUNT#3", "entity": "batch_counter", "sent": 4 });
    assert_eq!(drafted(record(2, "MODIFY", counter, None)), None);
    assert_eq!(
        drafted(record(
            3,
            "INSERT",
            json!({ "pk": "RATE#x", "sk": "RATE" }),
            None
        )),
        None
    );
}

#[tokio::test]
async fn events_go_out_in_stream_order_ten_per_request() {
    let p = publisher(&[]);
    let records = (1..=25)
        .map(|i| record(i, "INSERT", consent("opt_in", "sms", "sms"), None))
        .collect();
    let response = p.handle(&batch(records)).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(*p.bus.requests.lock().unwrap(), vec![10, 10, 5]);
    let ids: Vec<String> = published(&p).into_iter().map(|e| e.id).collect();
    let expected: Vec<String> = (1..=25).map(|i| format!("event-{i}")).collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn an_event_the_bus_refuses_is_retried_from_its_record_and_nothing_after_it_is_skipped() {
    let p = publisher(&[]);
    p.bus.refuse.lock().unwrap().push("person.opted_out".into());
    let records = vec![
        record(1, "INSERT", consent("opt_in", "sms", "sms"), None),
        record(2, "INSERT", consent("opt_out", "sms", "sms"), None),
        record(3, "INSERT", consent("opt_in", "sms", "sms"), None),
    ];
    let response = p.handle(&batch(records.clone())).await.unwrap();
    let failures: Vec<Option<String>> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failures, vec![Some("000000000000000000102".to_owned())]);
    // Lambda retries from record 2; once the bus takes it, every event has gone out once or more.
    p.bus.refuse.lock().unwrap().clear();
    let response = p.handle(&batch(records[1..].to_vec())).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    let ids: Vec<String> = published(&p).into_iter().map(|e| e.id).collect();
    assert_eq!(ids, ["event-1", "event-3", "event-2", "event-3"]);
}

#[tokio::test]
async fn a_record_of_an_unexpected_shape_is_passed_over_and_the_rest_are_published() {
    let p = publisher(&[]);
    let broken = json!({ "pk": "OUTBOX#m9", "sk": "OUTBOX", "entity": "outbound_message", "status": "sent" });
    let records = vec![
        record(1, "MODIFY", broken, Some(message("sending"))),
        record(2, "INSERT", rsvp("going"), None),
    ];
    let response = p.handle(&batch(records)).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    let kinds: Vec<String> = published(&p).into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["rsvp.created"]);
}

#[tokio::test]
async fn no_event_carries_a_sealed_value_a_contact_hash_or_a_private_field() {
    let p = publisher(&[(ALICE, "person-a"), (BOB, "person-b")]);
    let records = vec![
        record(1, "INSERT", rsvp("going"), None),
        record(2, "MODIFY", message("sent"), Some(message("sending"))),
        record(3, "INSERT", consent("opt_out", "sms", "sms"), None),
        record(4, "INSERT", gathering(true, 0, None), None),
    ];
    p.handle(&batch(records)).await.unwrap();
    let events = published(&p);
    assert_eq!(events.len(), 4);
    for e in events {
        let text = e.detail.to_string();
        for secret in [SEALED, ALICE, BOB, "v1."] {
            assert!(
                !text.contains(secret),
                "{} carries {secret}: {text}",
                e.kind
            );
        }
    }
}

#[tokio::test]
async fn a_batch_with_nothing_to_publish_makes_no_request() {
    let p = publisher(&[]);
    let counter = json!({ "pk": "BATCH#b1", "sk": "COUNT#3", "entity": "batch_counter" });
    p.handle(&batch(vec![record(1, "MODIFY", counter, None)]))
        .await
        .unwrap();
    assert!(p.bus.requests.lock().unwrap().is_empty());
}

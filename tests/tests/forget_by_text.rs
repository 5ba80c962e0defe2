//! Erasure on request by text, end to end: a person joins and RSVPs by text, texts DELETE twice, and
//! the table is read back through the AWS SDK: nothing that names them is left, only their suppression
//! and the consent evidence. Then the same phone joins again and starts fresh. The gathering sits in
//! its own remote ZIP code (Pierre, SD) so tests running in parallel never offer it to anyone else.

use rising_core::domain::{
    AddressDraft, FirstName, Gathering, GatheringCode, GatheringDraft, GatheringId, GatheringTitle,
    Language, Zip,
};
use rising_core::privacy::Sealer;
use rising_core::store::{DynamoGatheringStore, GatheringStore, RsvpStore};
use rising_tests::{Item, Stack, item_text, s, spawn_app, unique_phone};
use time::OffsetDateTime;

const ZIP: &str = "57501";
const NAME: &str = "Oksana";
const ASK: &str = "Reply DELETE again within 10 minutes to erase your name, RSVPs and number from \
                   rising. You will get no more texts.";
const ERASED: &str = "Your details are erased. You will get no more texts from rising.";

fn store(app: &Stack) -> DynamoGatheringStore {
    DynamoGatheringStore::new(app.dynamodb.clone(), app.table_name.clone())
}

async fn gathering(app: &Stack) -> Gathering {
    let key = app
        .contact_data_key_id
        .clone()
        .expect("the stack provides CONTACT_DATA_KEY_ID");
    let sealer = Sealer::from_sdk(&app.aws, key);
    let id = GatheringId::random();
    let starts_at = OffsetDateTime::now_utc() + time::Duration::days(2);
    let gathering = GatheringDraft {
        code: GatheringCode::parse(&format!("F{}", &id.as_str()[..8].to_uppercase())).unwrap(),
        title: GatheringTitle::parse("Pierre porch supper").unwrap(),
        starts_at,
        ends_at: starts_at + time::Duration::hours(2),
        zip: Zip::parse(ZIP).unwrap(),
        timezone: None,
        town: None,
        location: None,
        address: AddressDraft::Public("Capitol Lake shelter".into()),
        host_first_name: FirstName::parse("Dana").unwrap(),
        capacity: None,
        language: Language::En,
        listed: true,
        host: None,
        description: String::new(),
        accessibility: String::new(),
    }
    .seal(id, &sealer)
    .await
    .unwrap();
    store(app)
        .put(&gathering, OffsetDateTime::now_utc())
        .await
        .unwrap();
    gathering
}

/// Texts `body` from `phone`; the reply and the MessageSid.
async fn text(app: &Stack, phone: &str, body: &str) -> (String, String) {
    let delivery = app.text(phone, body).await;
    assert_eq!(delivery.webhook_status, 200, "{delivery:?}");
    (delivery.replies.join("\n"), delivery.message_sid)
}

async fn going_count(app: &Stack, id: &GatheringId) -> u32 {
    let items = app.query_pk(&format!("GATHERING#{}", id.as_str())).await;
    let gathering = items
        .iter()
        .find(|i| s(i, "sk") == Some("GATHERING"))
        .expect("the gathering item");
    gathering
        .get("going_count")
        .and_then(|v| v.as_n().ok())
        .map_or(0, |n| n.parse().unwrap())
}

fn by_sk<'a>(items: &'a [Item], sk: &str) -> Option<&'a Item> {
    items.iter().find(|i| s(i, "sk") == Some(sk))
}

fn consents(items: &[Item]) -> Vec<&Item> {
    items
        .iter()
        .filter(|i| s(i, "sk").is_some_and(|sk| sk.starts_with("CONSENT#")))
        .collect()
}

#[tokio::test]
async fn delete_twice_erases_the_person_and_a_later_keyword_starts_fresh() {
    let app = spawn_app().await;
    let phone = unique_phone();
    let digits = phone.trim_start_matches('+').to_string();
    let hash = app.phone_hash(&phone);
    let _ours = gathering(&app).await;

    // Join and RSVP by text.
    let mut sids = Vec::new();
    for body in ["RISING", NAME, ZIP] {
        sids.push(text(&app, &phone, body).await.1);
    }
    let (confirmation, sid) = text(&app, &phone, "1").await;
    sids.push(sid);
    assert!(
        confirmation.starts_with(&format!("You're going, {NAME}!")),
        "{confirmation}"
    );
    let rsvps = store(&app)
        .rsvps_of(&rising_core::privacy::ContactHash::parse(&hash).unwrap())
        .await
        .unwrap();
    assert_eq!(rsvps.len(), 1, "one RSVP stored");
    let chosen = rsvps[0].gathering_id.clone();
    let going_before = going_count(&app, &chosen).await;
    assert!(going_before >= 1);

    // DELETE asks; a second DELETE erases.
    let (ask, sid) = text(&app, &phone, "Delete").await;
    sids.push(sid);
    assert_eq!(ask, ASK);
    let pending = app.contact_items(&phone).await;
    assert_eq!(
        by_sk(&pending, "CONVERSATION").and_then(|c| s(c, "step")),
        Some("awaiting_delete_confirmation")
    );
    let (erased, erasing_sid) = text(&app, &phone, " DELETE ").await;
    assert_eq!(erased, ERASED);

    // What is left under the person's key: the contact as a suppression, and the evidence.
    let items = app.contact_items(&phone).await;
    assert!(by_sk(&items, "CONVERSATION").is_none(), "no conversation");
    let contact = by_sk(&items, "CONTACT").expect("the contact item stays");
    let mut names: Vec<&str> = contact.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "entity",
            "erased_at",
            "pk",
            "sk",
            "sms_status",
            "sms_status_at",
            "suppressed"
        ],
        "no sealed field, no language, no person id"
    );
    assert_eq!(s(contact, "sms_status"), Some("opted_out"));
    assert_eq!(contact["suppressed"].as_bool(), Ok(&true));
    let evidence = consents(&items);
    assert_eq!(
        evidence.len() + 1,
        items.len(),
        "only the contact and its evidence"
    );
    assert!(
        evidence
            .iter()
            .any(|c| s(c, "action") == Some("opt_in") && s(c, "keyword") == Some("RISING"))
    );
    let erase = evidence
        .iter()
        .find(|c| s(c, "action") == Some("erase"))
        .expect("the erasure is recorded");
    assert_eq!(
        (
            s(erase, "source"),
            s(erase, "keyword"),
            s(erase, "message_sid")
        ),
        (Some("sms"), Some("DELETE"), Some(erasing_sid.as_str()))
    );
    for consent in &evidence {
        let text = item_text(consent);
        assert!(
            !text.contains(&digits) && !text.contains(NAME) && !text.contains("v1."),
            "consent evidence identifies the person: {text}"
        );
        assert!(consent.keys().all(|k| !k.ends_with("_sealed")), "{text}");
    }

    // No RSVP, the place given back, and the kept replies no longer name them.
    assert!(
        store(&app)
            .rsvps_for(&chosen)
            .await
            .unwrap()
            .iter()
            .all(|r| r.contact_hash != hash),
        "no RSVP"
    );
    assert_eq!(going_count(&app, &chosen).await, going_before - 1);
    for sid in &sids {
        let record = app.query_pk(&format!("INBOUND#{sid}")).await;
        assert_eq!(
            record.first().and_then(|r| s(r, "reply")),
            Some(""),
            "the reply kept for {sid} is blanked"
        );
        assert!(!record[0].contains_key("gsi1pk"));
    }
    for item in app.scan_all().await {
        let text = item_text(&item);
        if text.contains(&hash) {
            let sk = s(&item, "sk").unwrap_or_default();
            assert!(
                s(&item, "pk") == Some(&format!("CONTACT#{hash}"))
                    && (sk == "CONTACT" || sk.starts_with("CONSENT#")),
                "an item still refers to the person: {text}"
            );
        }
        assert!(!text.contains(&digits), "a phone number in clear: {text}");
    }

    // The erasing message delivered again: same reply, nothing written.
    let before = app.contact_items(&phone).await;
    let again = app.redeliver(&phone, " DELETE ", &erasing_sid).await;
    assert_eq!(again.replies.join("\n"), ERASED);
    assert_eq!(app.contact_items(&phone).await, before);
    assert_eq!(going_count(&app, &chosen).await, going_before - 1);

    // Anything else gets nothing; a keyword starts fresh with a new consent record.
    assert_eq!(text(&app, &phone, "hello?").await.0, "");
    let (welcome, rejoin_sid) = text(&app, &phone, "RISING").await;
    assert!(
        welcome.starts_with("Welcome to rising! What's your first name?"),
        "{welcome}"
    );
    let items = app.contact_items(&phone).await;
    let conversation = by_sk(&items, "CONVERSATION").expect("a new conversation");
    assert_eq!(s(conversation, "step"), Some("awaiting_name"));
    assert!(!conversation.contains_key("first_name_sealed"));
    let contact = by_sk(&items, "CONTACT").unwrap();
    assert_eq!(s(contact, "sms_status"), Some("opted_in"));
    assert!(
        !contact.contains_key("suppressed") && !contact.contains_key("erased_at"),
        "their own keyword lifts the suppression"
    );
    assert_eq!(consents(&items).len(), evidence.len() + 1);
    assert!(
        consents(&items)
            .iter()
            .any(|c| s(c, "action") == Some("opt_in")
                && s(c, "message_sid") == Some(rejoin_sid.as_str()))
    );
}

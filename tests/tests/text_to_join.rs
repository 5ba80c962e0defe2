//! Text to join, end to end: the phone simulator texts the local stack, the conversation runs in
//! `sms-inbound` against DynamoDB and KMS on moto, and the tests read the stored RSVP back through the
//! same stores. Each test meets in its own remote ZIP code so tests can run in parallel.

use rising_core::domain::{
    AddressDraft, FirstName, Gathering, GatheringCode, GatheringDraft, GatheringId, GatheringTitle,
    Language, Zip,
};
use rising_core::privacy::Sealer;
use rising_core::store::{DynamoGatheringStore, GatheringStore, RsvpSource, RsvpStore};
use rising_tests::{Stack, clear_text, s, spawn_app, unique_phone};
use time::OffsetDateTime;

fn stores(app: &Stack) -> (DynamoGatheringStore, Sealer) {
    let key = app
        .contact_data_key_id
        .clone()
        .expect("the stack provides CONTACT_DATA_KEY_ID");
    (
        DynamoGatheringStore::new(app.dynamodb.clone(), app.table_name.clone()),
        Sealer::from_sdk(&app.aws, key),
    )
}

/// A listed gathering at `zip`'s centre, starting in `days`, hosted by Dana.
async fn gathering(
    app: &Stack,
    title: &str,
    zip: &str,
    days: i64,
    language: Language,
) -> Gathering {
    let (store, sealer) = stores(app);
    let id = GatheringId::random();
    let starts_at = OffsetDateTime::now_utc() + time::Duration::days(days);
    let draft = GatheringDraft {
        code: GatheringCode::parse(&format!("T{}", &id.as_str()[..8].to_uppercase())).unwrap(),
        title: GatheringTitle::parse(title).unwrap(),
        starts_at,
        ends_at: starts_at + time::Duration::hours(2),
        zip: Zip::parse(zip).unwrap(),
        timezone: None,
        town: None,
        location: None,
        address: AddressDraft::Public("Public Library".into()),
        host_first_name: FirstName::parse("Dana").unwrap(),
        capacity: None,
        language,
        listed: true,
        host: None,
        description: String::new(),
        accessibility: String::new(),
    };
    let gathering = draft.seal(id, &sealer).await.unwrap();
    store
        .put(&gathering, OffsetDateTime::now_utc())
        .await
        .unwrap();
    gathering
}

async fn reply(app: &Stack, phone: &str, body: &str) -> String {
    let delivery = app.text(phone, body).await;
    assert_eq!(delivery.webhook_status, 200, "{delivery:?}");
    delivery.replies.join("\n")
}

#[tokio::test]
async fn rising_then_name_zip_and_a_number_store_an_rsvp_and_confirm_it() {
    let app = spawn_app().await;
    let phone = unique_phone();
    let ours = gathering(&app, "Helena neighbors", "59601", 4, Language::En).await;

    assert!(
        reply(&app, &phone, "RISING")
            .await
            .starts_with("Welcome to rising! What's your first name?")
    );
    assert!(
        reply(&app, &phone, "Marisol")
            .await
            .starts_with("Thanks, Marisol! What's your ZIP code?")
    );
    let offer = reply(&app, &phone, "59601").await;
    assert!(
        offer.starts_with("Near you: ") || offer.starts_with("Gatherings near you:"),
        "{offer}"
    );
    let confirmation = reply(&app, &phone, "1").await;

    assert!(
        confirmation.starts_with("You're going, Marisol!"),
        "{confirmation}"
    );
    assert!(
        confirmation.contains("Host: Dana") && confirmation.contains("Safety: https://"),
        "{confirmation}"
    );
    let (store, _) = stores(&app);
    let contact = app.phone_hash(&phone);
    let rsvps = store.rsvps_for(&ours.id).await.unwrap();
    let mine: Vec<_> = rsvps.iter().filter(|r| r.contact_hash == contact).collect();
    assert_eq!(
        mine.len(),
        1,
        "the RSVP is stored once, for the nearest gathering"
    );
    assert_eq!(mine[0].source, RsvpSource::Sms);
    assert!(
        confirmation
            .ends_with("\nWant the training recordings by email? Reply with your email address."),
        "the optional last question comes as a second text: {confirmation}"
    );
    // Declining (anything but an address) ends the conversation quietly.
    assert_eq!(reply(&app, &phone, "no thanks").await, "");
    assert!(
        !app.contact_items(&phone)
            .await
            .iter()
            .any(|i| s(i, "sk") == Some("CONVERSATION")),
        "conversation ended"
    );
}

#[tokio::test]
async fn unirme_runs_the_same_conversation_in_spanish() {
    let app = spawn_app().await;
    let phone = unique_phone();
    gathering(&app, "Reunion de Cheyenne", "82001", 3, Language::Es).await;

    assert!(
        reply(&app, &phone, "unirme")
            .await
            .starts_with("¡Bienvenido a rising! ¿Como te llamas?")
    );
    assert!(
        reply(&app, &phone, "Lucia")
            .await
            .starts_with("¡Gracias, Lucia!")
    );
    let offer = reply(&app, &phone, "82001").await;
    assert!(
        offer.starts_with("Cerca de ti: ") || offer.starts_with("Reuniones cerca de ti:"),
        "{offer}"
    );
    assert!(reply(&app, &phone, "1").await.starts_with("¡Vas, Lucia!"));
}

#[tokio::test]
async fn a_gathering_code_skips_straight_to_the_name_and_the_rsvp() {
    let app = spawn_app().await;
    let phone = unique_phone();
    let g = gathering(&app, "Boise block party", "83702", 6, Language::En).await;

    let ask = reply(
        &app,
        &phone,
        &format!(" {} ", g.code.as_str().to_lowercase()),
    )
    .await;
    assert!(ask.contains("You're joining Boise block party"), "{ask}");
    let confirmation = reply(&app, &phone, "Theo").await;

    assert!(
        confirmation.starts_with("You're going, Theo! Boise block party"),
        "{confirmation}"
    );
    let (store, _) = stores(&app);
    assert!(
        store
            .rsvps_for(&g.id)
            .await
            .unwrap()
            .iter()
            .any(|r| r.contact_hash == app.phone_hash(&phone))
    );
}

#[tokio::test]
async fn the_seeded_keyword_of_a_gathering_starts_its_conversation() {
    let app = spawn_app().await;
    let phone = unique_phone();

    let ask = reply(&app, &phone, "Shaw").await;

    assert!(ask.contains("You're joining Maple Street potluck"), "{ask}");
}

#[tokio::test]
async fn with_no_gathering_nearby_the_person_is_asked_to_host_and_sent_the_recordings() {
    let app = spawn_app().await;
    let phone = unique_phone();
    reply(&app, &phone, "JOIN").await;
    reply(&app, &phone, "Ana").await;

    // Calais, Maine: no test puts a gathering within 25 miles of it (Honolulu, used before, is one of
    // the ZIPs the sending tests pick when it is daytime there, and they create gatherings).
    let none = reply(&app, &phone, "04619").await;

    assert!(
        none.starts_with("No gatherings within 25 miles yet. Host one: https://"),
        "{none}"
    );
    assert!(none.contains("Watch the trainings: https://"), "{none}");
}

#[tokio::test]
async fn a_replayed_answer_changes_nothing() {
    let app = spawn_app().await;
    let phone = unique_phone();
    reply(&app, &phone, "JOIN").await;
    let first = app.text(&phone, "Noor").await;
    let before = app.contact_items(&phone).await;

    let again = app.redeliver(&phone, "Noor", &first.message_sid).await;

    assert_eq!(again.replies, first.replies);
    assert_eq!(app.contact_items(&phone).await, before);
}

#[tokio::test]
async fn no_stored_item_holds_a_first_name_in_clear() {
    let app = spawn_app().await;
    let phone = unique_phone();
    gathering(&app, "Helena porch talk", "59601", 8, Language::En).await;
    for body in ["JOIN", "Quillon", "59601", "1"] {
        reply(&app, &phone, body).await;
    }

    for item in app.scan_all().await {
        let text = clear_text(&item);
        assert!(!text.contains("Quillon"), "a first name in clear: {text}");
        assert!(!text.contains("Dana"), "a host's name in clear: {text}");
    }
}

//! The DynamoDB adapter of the trainings catalog and of registrations to trainings, against the
//! running stack's table (moto), and the seeded trainings.
//!
//! Every test uses its own random training ids and contact hashes, and assertions about the catalog's
//! order look only at the test's own trainings, so tests run in parallel with each other and with
//! anything else in the table.

use rand::Rng;
use rising_core::domain::{
    Language, PhoneNumber, Training, TrainingDraft, TrainingId, TrainingTitle, TrainingUrl,
};
use rising_core::privacy::{ContactHash, ContactHasher, Sealed, Sealer, field_context};
use rising_core::store::{
    DynamoTrainingStore, NewTrainingRegistration, Published, PutTraining, RsvpSource,
    TrainingRegistered, TrainingRegistrationStatus, TrainingStore, UpdateTraining,
};
use rising_tests::{Stack, item_text, s, spawn_app, unique_phone};
use time::{Duration, OffsetDateTime};

fn store(stack: &Stack) -> DynamoTrainingStore {
    DynamoTrainingStore::new(stack.dynamodb.clone(), stack.table_name.clone())
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn url(text: &str) -> TrainingUrl {
    TrainingUrl::parse(text).expect("a valid link")
}

/// A training of this test's own, starting `starts_in` from now and lasting an hour.
fn training(starts_in: Duration) -> Training {
    let id = TrainingId::random();
    TrainingDraft {
        title: TrainingTitle::parse("Integration training").expect("title"),
        title_es: Some(TrainingTitle::parse("Entrenamiento de integración").expect("title")),
        starts_at: now() + starts_in,
        duration: Duration::hours(1),
        time_zone: "America/Chicago".into(),
        join_url: Some(url(&format!("https://rising.invalid/join/{id}"))),
        recording_url: None,
        recording_published_at: None,
    }
    .build(id)
    .expect("a valid training")
}

async fn put_all(store: &DynamoTrainingStore, trainings: &[&Training]) {
    for t in trainings {
        assert_eq!(
            store.put_training(t, now()).await.expect("put"),
            PutTraining::Created
        );
    }
}

fn contact() -> ContactHash {
    let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    ContactHasher::from_base64(key)
        .expect("key")
        .phone(&PhoneNumber::parse(&unique_phone()).expect("phone"))
}

/// A first name no stored item could contain by chance.
fn unique_name() -> String {
    let mut rng = rand::rng();
    let tail: String = (0..10)
        .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
        .collect();
    format!("Zy{tail}")
}

async fn sealed_name(sealer: &Sealer, person: &ContactHash, name: &str) -> Sealed {
    sealer
        .seal(&field_context(person, "first_name"), name)
        .await
        .expect("seal")
}

fn registration<'a>(
    training: &'a TrainingId,
    person: &'a ContactHash,
    name: &'a Sealed,
) -> NewTrainingRegistration<'a> {
    NewTrainingRegistration {
        training,
        contact: person,
        language: Language::Es,
        first_name: name,
        source: RsvpSource::Form,
        referral: None,
    }
}

#[tokio::test]
async fn a_training_is_created_once_and_read_back_as_it_was_given() {
    let stack = spawn_app().await;
    let store = store(&stack);
    let t = training(Duration::days(5));

    assert_eq!(
        store.put_training(&t, now()).await.expect("put"),
        PutTraining::Created
    );
    let mut retry = t.clone();
    retry.title = TrainingTitle::parse("A changed title").expect("title");
    assert_eq!(
        store.put_training(&retry, now()).await.expect("put again"),
        PutTraining::AlreadyExists
    );

    assert_eq!(
        store.get_training(&t.id).await.expect("get"),
        Some(t.clone())
    );
    let items = stack.query_pk(&format!("TRAINING#{}", t.id)).await;
    assert_eq!(items.len(), 1, "one item, written once");
    assert_eq!(s(&items[0], "sk"), Some("TRAINING"));
    assert_eq!(s(&items[0], "title"), Some("Integration training"));
    assert_eq!(s(&items[0], "gsi1pk"), Some("TRAININGS"));
    assert!(
        s(&items[0], "gsi1sk").is_some_and(|k| k.ends_with(&format!("#{}", t.id))),
        "{items:?}"
    );
    assert_eq!(
        store
            .get_training(&TrainingId::random())
            .await
            .expect("get"),
        None
    );
}

#[tokio::test]
async fn the_catalog_lists_every_training_by_start_time() {
    let stack = spawn_app().await;
    let store = store(&stack);
    let late = training(Duration::days(40));
    let past = training(-Duration::days(3));
    let soon = training(Duration::days(2));
    put_all(&store, &[&late, &past, &soon]).await;

    let all = store.trainings().await.expect("catalog");

    assert!(
        all.windows(2).all(|w| w[0].starts_at <= w[1].starts_at),
        "not by start time"
    );
    let mine: Vec<&TrainingId> = all
        .iter()
        .map(|t| &t.id)
        .filter(|id| [&late.id, &past.id, &soon.id].contains(id))
        .collect();
    assert_eq!(mine, [&past.id, &soon.id, &late.id]);
    let listed = all.iter().find(|t| t.id == soon.id).expect("listed");
    assert_eq!(listed, &soon);
    assert!(listed.is_upcoming(now()));
}

#[tokio::test]
async fn a_second_registration_of_the_same_person_writes_one_record() {
    let stack = spawn_app().await;
    let (store, sealer) = (store(&stack), Sealer::in_memory());
    let t = training(Duration::days(3));
    put_all(&store, &[&t]).await;
    let person = contact();
    let name = sealed_name(&sealer, &person, "Ana").await;
    let mut new = registration(&t.id, &person, &name);
    new.referral = Some("FRIEND7");

    assert_eq!(
        store.register(new.clone(), now()).await.expect("register"),
        TrainingRegistered::Created
    );
    assert_eq!(
        store.register(new.clone(), now()).await.expect("again"),
        TrainingRegistered::AlreadyRegistered
    );
    // Two deliveries of the same request at once: still one record.
    let other = contact();
    let other_name = sealed_name(&sealer, &other, "Ben").await;
    let both = futures::future::join(
        store.register(registration(&t.id, &other, &other_name), now()),
        store.register(registration(&t.id, &other, &other_name), now()),
    )
    .await;
    let mut outcomes = [both.0.expect("first"), both.1.expect("second")];
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(
        outcomes,
        [
            TrainingRegistered::AlreadyRegistered,
            TrainingRegistered::Created
        ]
    );

    let records = store.registrants(&t.id).await.expect("registrants");
    assert_eq!(records.len(), 2);
    let ana = records
        .iter()
        .find(|r| r.contact_hash == person.as_str())
        .expect("her registration");
    assert_eq!(
        (
            ana.status,
            ana.source,
            ana.language,
            ana.referral.as_deref(),
            ana.starts_at
        ),
        (
            TrainingRegistrationStatus::Registered,
            RsvpSource::Form,
            Language::Es,
            Some("FRIEND7"),
            t.starts_at
        )
    );
    assert_eq!(
        sealer
            .open(&field_context(&person, "first_name"), &ana.first_name)
            .await
            .expect("open"),
        "Ana"
    );
    let items = stack.query_pk(&format!("TRAINING#{}", t.id)).await;
    assert_eq!(items.len(), 3, "the training and two registrations");
}

#[tokio::test]
async fn a_registration_to_a_missing_or_ended_training_is_refused_and_writes_nothing() {
    let stack = spawn_app().await;
    let (store, sealer) = (store(&stack), Sealer::in_memory());
    let person = contact();
    let name = sealed_name(&sealer, &person, "Ana").await;

    let missing = TrainingId::random();
    assert_eq!(
        store
            .register(registration(&missing, &person, &name), now())
            .await
            .expect("register"),
        TrainingRegistered::NoSuchTraining
    );
    assert!(
        stack
            .query_pk(&format!("TRAINING#{missing}"))
            .await
            .is_empty()
    );

    let over = training(-Duration::hours(3));
    put_all(&store, &[&over]).await;
    assert_eq!(
        store
            .register(registration(&over.id, &person, &name), now())
            .await
            .expect("register"),
        TrainingRegistered::Ended
    );
    assert_eq!(
        store
            .register(registration(&over.id, &person, &name), over.ends_at)
            .await
            .expect("register"),
        TrainingRegistered::Ended,
        "closed from the minute it ends"
    );
    assert!(store.registrants(&over.id).await.expect("read").is_empty());
    assert_eq!(
        stack.query_pk(&format!("TRAINING#{}", over.id)).await.len(),
        1
    );
    assert!(
        store
            .registrations_of(&person)
            .await
            .expect("read")
            .is_empty()
    );
}

#[tokio::test]
async fn a_recording_is_published_once() {
    let stack = spawn_app().await;
    let store = store(&stack);
    let t = training(-Duration::days(1));
    put_all(&store, &[&t]).await;
    let first = url(&format!("https://rising.invalid/r/{}", t.id));
    let at = now();

    assert_eq!(
        store
            .publish_recording(&t.id, &first, at)
            .await
            .expect("publish"),
        Published::Published
    );
    assert_eq!(
        store
            .publish_recording(&t.id, &first, at + Duration::minutes(1))
            .await
            .expect("retry"),
        Published::AlreadyPublished(first.clone())
    );
    assert_eq!(
        store
            .publish_recording(&t.id, &url("https://rising.invalid/r/another"), at)
            .await
            .expect("another"),
        Published::AlreadyPublished(first.clone())
    );

    let stored = store
        .get_training(&t.id)
        .await
        .expect("get")
        .expect("found");
    assert!(stored.is_published());
    assert_eq!(stored.published_recording(), Some(&first));
    let published_at = stored.recording_published_at.expect("published at");
    assert!(
        (published_at - at).abs() < Duration::milliseconds(1),
        "{published_at} {at}"
    );
    let listed = store.trainings().await.expect("catalog");
    assert_eq!(listed.iter().find(|l| l.id == t.id), Some(&stored));

    let missing = TrainingId::random();
    assert_eq!(
        store
            .publish_recording(&missing, &first, at)
            .await
            .expect("publish"),
        Published::NoSuchTraining
    );
    assert!(
        stack
            .query_pk(&format!("TRAINING#{missing}"))
            .await
            .is_empty(),
        "publishing a missing training created it"
    );
}

#[tokio::test]
async fn a_persons_trainings_are_found_soonest_first() {
    let stack = spawn_app().await;
    let (store, sealer) = (store(&stack), Sealer::in_memory());
    let later = training(Duration::days(20));
    let sooner = training(Duration::days(4));
    let not_theirs = training(Duration::days(1));
    put_all(&store, &[&later, &sooner, &not_theirs]).await;
    let (person, someone_else) = (contact(), contact());
    let name = sealed_name(&sealer, &person, "Ana").await;
    let other_name = sealed_name(&sealer, &someone_else, "Ben").await;
    for t in [&later, &sooner] {
        store
            .register(registration(&t.id, &person, &name), now())
            .await
            .expect("register");
    }
    store
        .register(
            registration(&not_theirs.id, &someone_else, &other_name),
            now(),
        )
        .await
        .expect("register");

    let theirs = store.registrations_of(&person).await.expect("by person");

    let ids: Vec<&TrainingId> = theirs.iter().map(|r| &r.training_id).collect();
    assert_eq!(ids, [&sooner.id, &later.id]);
    assert!(theirs.iter().all(|r| r.contact_hash == person.as_str()));
    assert_eq!(theirs[0].starts_at, sooner.starts_at);
    let item = stack
        .query_pk(&format!("TRAINING#{}", sooner.id))
        .await
        .into_iter()
        .find(|i| s(i, "sk") == Some(&format!("REG#{}", person.as_str())))
        .expect("registration item");
    assert_eq!(
        s(&item, "gsi1pk"),
        Some(format!("CONTACT#{}", person.as_str()).as_str())
    );
    assert!(
        s(&item, "gsi1sk")
            .is_some_and(|k| k.starts_with("TRAINING#") && k.ends_with(sooner.id.as_str()))
    );
}

#[tokio::test]
async fn no_registration_item_holds_a_first_name_in_clear() {
    let stack = spawn_app().await;
    let (store, sealer) = (store(&stack), Sealer::in_memory());
    let t = training(Duration::days(6));
    put_all(&store, &[&t]).await;
    let phone = unique_phone();
    let person = ContactHasher::from_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
        .expect("key")
        .phone(&PhoneNumber::parse(&phone).expect("phone"));
    let first_name = unique_name();
    let name = sealed_name(&sealer, &person, &first_name).await;
    store
        .register(registration(&t.id, &person, &name), now())
        .await
        .expect("register");

    let items = stack.query_pk(&format!("TRAINING#{}", t.id)).await;
    assert_eq!(items.len(), 2, "the training and the registration");
    for item in &items {
        let text = item_text(item);
        for secret in [first_name.as_str(), phone.as_str(), &phone[2..]] {
            assert!(!text.contains(secret), "{secret:?} is in clear in {text}");
        }
    }
    let record = &store.registrants(&t.id).await.expect("read")[0];
    assert_eq!(
        sealer
            .open(&field_context(&person, "first_name"), &record.first_name)
            .await
            .expect("open"),
        first_name
    );
}

#[tokio::test]
async fn the_seeded_trainings_are_the_calendars_three() {
    let stack = spawn_app().await;
    let store = store(&stack);
    let id = |slug: &str| TrainingId::parse(slug).expect("slug");
    let seeded = |slug: &'static str| {
        let store = store.clone();
        async move {
            store.get_training(&id(slug)).await.expect("get").unwrap_or_else(|| {
                panic!(
                    "the seeded training {slug}: the stack seeds infra/local/seed/gatherings.json when \
                     target/debug/seed exists (cargo build --workspace --bins)"
                )
            })
        }
    };
    let overview = seeded("overview").await;
    let host = seeded("host-training").await;
    let third = seeded("third-training").await;

    assert_eq!(
        (
            overview.title.as_str(),
            overview.title_in(Language::Es).as_str()
        ),
        ("Overview training", "Entrenamiento general")
    );
    assert_eq!(
        (host.title.as_str(), host.title_in(Language::Es).as_str()),
        ("Host training", "Entrenamiento para anfitriones")
    );
    assert_eq!(
        third.title.as_str(),
        "Third training: de-escalation and safety"
    );
    let starts: Vec<String> = [&overview, &host, &third]
        .iter()
        .map(|t| t.starts_at.to_string())
        .collect();
    assert_eq!(
        starts,
        [
            "2026-07-17 0:00:00.0 +00:00:00",
            "2026-07-31 0:00:00.0 +00:00:00",
            "2026-08-14 0:00:00.0 +00:00:00"
        ],
        "20:00 in New York (EDT)"
    );
    assert_eq!(
        overview.published_recording().map(TrainingUrl::as_str),
        Some("https://rising.invalid/r/overview")
    );
    assert_eq!(
        host.published_recording().map(TrainingUrl::as_str),
        Some("https://rising.invalid/r/host")
    );
    assert!(!third.is_published());
    assert_eq!(
        third.join_url.as_ref().map(TrainingUrl::as_str),
        Some("https://rising.invalid/join/third-training")
    );

    let catalog: Vec<TrainingId> = store
        .trainings()
        .await
        .expect("catalog")
        .into_iter()
        .map(|t| t.id)
        .filter(|t| ["overview", "host-training", "third-training"].contains(&t.as_str()))
        .collect();
    assert_eq!(catalog, [overview.id, host.id, third.id]);
}

#[tokio::test]
async fn an_edited_training_moves_in_the_catalog_and_keeps_its_published_recording() {
    let stack = spawn_app().await;
    let store = store(&stack);
    let t = training(Duration::days(9));
    put_all(&store, &[&t]).await;
    let recording = url("https://rising.invalid/recording/edited");
    assert_eq!(
        store
            .publish_recording(&t.id, &recording, now())
            .await
            .expect("publish"),
        Published::Published
    );

    let mut edited = TrainingDraft {
        title: TrainingTitle::parse("Edited training").expect("title"),
        title_es: None,
        starts_at: t.starts_at + Duration::days(1),
        duration: Duration::minutes(45),
        time_zone: "America/New_York".into(),
        join_url: None,
        recording_url: None,
        recording_published_at: None,
    }
    .build(t.id.clone())
    .expect("a valid training");
    assert_eq!(
        store.update_training(&edited, now()).await.expect("update"),
        UpdateTraining::Updated
    );
    let read = store
        .get_training(&t.id)
        .await
        .expect("get")
        .expect("there");
    assert_eq!(read.title.as_str(), "Edited training");
    assert_eq!(read.title_es, None, "an emptied Spanish title is removed");
    assert_eq!(read.join_url, None, "an emptied join link is removed");
    assert_eq!(read.starts_at, edited.starts_at);
    assert_eq!(read.duration(), Duration::minutes(45));
    assert_eq!(read.time_zone, "America/New_York");
    assert_eq!(
        read.published_recording(),
        Some(&recording),
        "the recording stays"
    );
    let items = stack.query_pk(&format!("TRAINING#{}", t.id)).await;
    let starts = s(&items[0], "starts_at").expect("starts_at").to_owned();
    assert!(
        s(&items[0], "gsi1sk").is_some_and(|k| k == format!("{starts}#{}", t.id)),
        "the catalog order follows the new start: {items:?}"
    );

    edited.id = TrainingId::random();
    assert_eq!(
        store.update_training(&edited, now()).await.expect("update"),
        UpdateTraining::NoSuchTraining
    );
    assert_eq!(store.get_training(&edited.id).await.expect("get"), None);
}

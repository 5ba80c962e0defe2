use super::*;
use crate::admin::MemoryAdminStore;
use crate::domain::{Language, TrainingDraft, TrainingTitle};
use crate::privacy::{ContactHash, Sealer, field_context};
use crate::store::{
    MemoryTrainingStore, NewTrainingRegistration, PutTraining, RsvpSource, TrainingRegistered,
    TrainingRegistration,
};
use time::Duration;
use time::macros::datetime;

fn now() -> OffsetDateTime {
    datetime!(2026-05-14 10:00:00.123 UTC)
}

fn url(text: &str) -> TrainingUrl {
    TrainingUrl::parse(text).unwrap()
}

fn id(text: &str) -> TrainingId {
    TrainingId::parse(text).unwrap()
}

fn by() -> Organizer {
    Organizer::parse("Dana Organizer").unwrap()
}

fn training(slug: &str, title: &str, starts_at: OffsetDateTime) -> Training {
    TrainingDraft {
        title: TrainingTitle::parse(title).unwrap(),
        title_es: None,
        starts_at,
        duration: Duration::hours(1),
        time_zone: "America/Chicago".into(),
        join_url: Some(url("https://rising.invalid/join")),
        recording_url: None,
        recording_published_at: None,
    }
    .build(id(slug))
    .unwrap()
}

/// A catalog holding `overview` (yesterday, two people registered) and `host-training` (next
/// week, nobody registered).
async fn catalog() -> MemoryTrainingStore {
    let store = MemoryTrainingStore::new();
    let overview = training("overview", "Overview training", now() - Duration::days(1));
    let host = training("host-training", "Host training", now() + Duration::days(7));
    for t in [&host, &overview] {
        assert_eq!(
            store.put_training(t, now()).await.unwrap(),
            PutTraining::Created
        );
    }
    let sealer = Sealer::in_memory();
    for person in ["p.ana", "e.luis"] {
        let contact = ContactHash::parse(person).unwrap();
        let first_name = sealer
            .seal(&field_context(&contact, "first_name"), "Ana")
            .await
            .unwrap();
        let registered = store
            .register(
                NewTrainingRegistration {
                    training: &overview.id,
                    contact: &contact,
                    language: Language::En,
                    first_name: &first_name,
                    source: RsvpSource::Form,
                    referral: None,
                },
                now() - Duration::days(3),
            )
            .await
            .unwrap();
        assert_eq!(registered, TrainingRegistered::Created);
    }
    store
}

async fn publish(
    trainings: &impl TrainingStore,
    audit: &MemoryAdminStore,
    training: &str,
    link: &str,
    at: OffsetDateTime,
) -> Result<RecordingPublished, PublishError> {
    let (training, link, organizer) = (id(training), url(link), by());
    publish_recording(
        trainings,
        audit,
        &RecordingRequest {
            training: &training,
            url: &link,
            by: &organizer,
        },
        at,
    )
    .await
}

#[test]
fn times_read_in_utc_to_the_minute() {
    assert_eq!(utc(now()), "2026-05-14 10:00 UTC");
    let offset = datetime!(2026-05-14 06:30:59 -4);
    assert_eq!(utc(offset), "2026-05-14 10:30 UTC");
}

#[tokio::test]
async fn the_preview_names_the_training_and_counts_the_people_registered() {
    let store = catalog().await;
    let preview = preview_recording(&store, &id("overview")).await.unwrap();
    assert_eq!(preview.training.title.as_str(), "Overview training");
    assert_eq!(preview.registrants, 2);
    let preview = preview_recording(&store, &id("host-training"))
        .await
        .unwrap();
    assert_eq!(preview.registrants, 0);
    assert!(matches!(
        preview_recording(&store, &id("nope")).await,
        Err(PublishError::NoSuchTraining(_))
    ));
}

#[tokio::test]
async fn a_recording_is_published_after_its_audit_record_which_names_the_training_only() {
    let (store, audit) = (catalog().await, MemoryAdminStore::default());
    let published = publish(
        &store,
        &audit,
        "overview",
        "https://Video.example.org/overview",
        now(),
    )
    .await
    .unwrap();
    assert_eq!(published.registrants, 2);
    assert_eq!(published.training.title.as_str(), "Overview training");

    let stored = store.get_training(&id("overview")).await.unwrap().unwrap();
    assert_eq!(
        stored.published_recording().map(TrainingUrl::as_str),
        Some("https://video.example.org/overview")
    );
    assert_eq!(stored.recording_published_at, Some(now()));

    let entries = audit.audit_entries();
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry.audit_id, published.audit_id);
    assert_eq!(entry.what, AuditAction::RecordingPublication);
    assert_eq!(entry.what.as_str(), "recording_publication");
    assert_eq!(
        AuditAction::parse("recording_publication"),
        Some(AuditAction::RecordingPublication)
    );
    assert_eq!(entry.who, "Dana Organizer");
    assert_eq!(entry.reference.as_deref(), Some("overview"));
    assert_eq!(entry.rows, 2, "the people it goes to");
    assert_eq!(entry.outcome.as_deref(), Some("done"));
    assert_eq!(entry.at, "2026-05-14T10:00:00.123Z");
    assert_eq!((entry.contact_hash.as_ref(), entry.format), (None, None));
    assert!(
        !format!("{entry:?}").contains("video.example.org"),
        "the training id only: {entry:?}"
    );
}

#[tokio::test]
async fn an_unknown_training_is_refused_and_nothing_is_written() {
    let (store, audit) = (catalog().await, MemoryAdminStore::default());
    let before = store.trainings().await.unwrap();
    let error = publish(&store, &audit, "no-such", "https://example.org/r", now())
        .await
        .unwrap_err();
    assert!(
        matches!(error, PublishError::NoSuchTraining(_)),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("no-such") && message.contains("rising-admin trainings"),
        "{message}"
    );
    assert!(audit.audit_entries().is_empty());
    assert_eq!(store.trainings().await.unwrap(), before);
}

#[tokio::test]
async fn a_second_publication_says_which_link_and_when_and_writes_nothing() {
    let (store, audit) = (catalog().await, MemoryAdminStore::default());
    publish(
        &store,
        &audit,
        "overview",
        "https://example.org/first",
        now(),
    )
    .await
    .unwrap();
    let before = store.get_training(&id("overview")).await.unwrap();

    let later = now() + Duration::hours(2);
    let error = publish(
        &store,
        &audit,
        "overview",
        "https://example.org/second",
        later,
    )
    .await
    .unwrap_err();
    let PublishError::AlreadyPublished {
        id: ref training,
        ref url,
        at,
    } = error
    else {
        panic!("{error:?}")
    };
    assert_eq!(training.as_str(), "overview");
    assert_eq!(url.as_str(), "https://example.org/first");
    assert_eq!(at, now());
    let message = error.to_string();
    assert!(
        message.contains("https://example.org/first")
            && message.contains("2026-05-14 10:00 UTC")
            && message.contains("nothing was changed"),
        "{message}"
    );
    assert!(!message.contains("second"), "{message}");
    assert_eq!(store.get_training(&id("overview")).await.unwrap(), before);
    assert_eq!(audit.audit_entries().len(), 1, "no second record");
    assert!(matches!(
        preview_recording(&store, &id("overview")).await,
        Err(PublishError::AlreadyPublished { .. })
    ));
}

#[tokio::test]
async fn nothing_is_published_when_the_audit_record_cannot_be_written() {
    let (store, audit) = (catalog().await, MemoryAdminStore::default());
    audit.refuse_audit_writes();
    let error = publish(&store, &audit, "overview", "https://example.org/r", now())
        .await
        .unwrap_err();
    assert!(matches!(error, PublishError::Audit(_)), "{error:?}");
    let stored = store.get_training(&id("overview")).await.unwrap().unwrap();
    assert!(!stored.is_published());
    assert_eq!(stored.recording_url, None);
}

/// A store where another organizer publishes `overview` between the check and the write.
struct Raced {
    inner: MemoryTrainingStore,
    theirs: TrainingUrl,
    at: OffsetDateTime,
}

impl TrainingStore for Raced {
    async fn put_training(
        &self,
        training: &Training,
        now: OffsetDateTime,
    ) -> Result<PutTraining, StoreError> {
        self.inner.put_training(training, now).await
    }

    async fn update_training(
        &self,
        training: &Training,
        now: OffsetDateTime,
    ) -> Result<crate::store::UpdateTraining, StoreError> {
        self.inner.update_training(training, now).await
    }

    async fn get_training(&self, id: &TrainingId) -> Result<Option<Training>, StoreError> {
        self.inner.get_training(id).await
    }

    async fn trainings(&self) -> Result<Vec<Training>, StoreError> {
        self.inner.trainings().await
    }

    async fn publish_recording(
        &self,
        id: &TrainingId,
        url: &TrainingUrl,
        now: OffsetDateTime,
    ) -> Result<Published, StoreError> {
        self.inner
            .publish_recording(id, &self.theirs, self.at)
            .await?;
        self.inner.publish_recording(id, url, now).await
    }

    async fn register(
        &self,
        registration: NewTrainingRegistration<'_>,
        now: OffsetDateTime,
    ) -> Result<TrainingRegistered, StoreError> {
        self.inner.register(registration, now).await
    }

    async fn registrants(
        &self,
        training: &TrainingId,
    ) -> Result<Vec<TrainingRegistration>, StoreError> {
        self.inner.registrants(training).await
    }

    async fn registrations_of(
        &self,
        contact: &ContactHash,
    ) -> Result<Vec<TrainingRegistration>, StoreError> {
        self.inner.registrations_of(contact).await
    }
}

#[tokio::test]
async fn a_publication_that_loses_a_race_reports_the_winner_and_its_record_says_so() {
    let raced = Raced {
        inner: catalog().await,
        theirs: url("https://example.org/theirs"),
        at: now() - Duration::seconds(1),
    };
    let audit = MemoryAdminStore::default();
    let error = publish(
        &raced,
        &audit,
        "overview",
        "https://example.org/mine",
        now(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&error, PublishError::AlreadyPublished { url, at, .. }
            if url.as_str() == "https://example.org/theirs" && *at == now() - Duration::seconds(1)),
        "{error:?}"
    );
    let stored = raced.get_training(&id("overview")).await.unwrap().unwrap();
    assert_eq!(
        stored.published_recording().map(TrainingUrl::as_str),
        Some("https://example.org/theirs")
    );
    let entries = audit.audit_entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].outcome.as_deref(), Some("already_published"));
}

#[tokio::test]
async fn the_catalog_lists_each_training_by_start_with_its_recording_and_registrations() {
    let (store, audit) = (catalog().await, MemoryAdminStore::default());
    publish(&store, &audit, "overview", "https://example.org/r", now())
        .await
        .unwrap();
    let summaries = list_trainings(&store).await.unwrap();
    let rows: Vec<(&str, bool, usize)> = summaries
        .iter()
        .map(|s| {
            (
                s.training.id.as_str(),
                s.training.is_published(),
                s.registrants,
            )
        })
        .collect();
    assert_eq!(rows, [("overview", true, 2), ("host-training", false, 0)]);

    let text = render_trainings(&summaries);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("id ") && lines[0].ends_with("title"),
        "{text}"
    );
    for (line, words) in lines[1..].iter().zip([
        [
            "overview",
            "2026-05-13 10:00 UTC",
            "published",
            "2",
            "Overview training",
        ],
        [
            "host-training",
            "2026-05-21 10:00 UTC",
            "no",
            "0",
            "Host training",
        ],
    ]) {
        let mut at = 0;
        for word in words {
            let found = line[at..]
                .find(word)
                .unwrap_or_else(|| panic!("{word} in {line}"));
            at += found + word.len();
        }
    }
    assert_eq!(
        render_trainings(&[]),
        "no trainings\n",
        "an empty catalog says so"
    );
}

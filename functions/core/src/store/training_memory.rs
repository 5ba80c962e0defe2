//! In-memory adapter of the training port, for unit tests. Same semantics as the DynamoDB adapter
//! (conditional creates, one publication, registration closed once a training ends, times stored to
//! the millisecond).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use time::OffsetDateTime;

use super::StoreError;
use super::training::{
    NewTrainingRegistration, Published, PutTraining, TrainingRegistered, TrainingRegistration,
    TrainingRegistrationStatus, TrainingStore, UpdateTraining, to_millisecond,
};
use crate::domain::{Training, TrainingId, TrainingUrl};
use crate::privacy::ContactHash;

#[derive(Debug, Default)]
struct State {
    trainings: HashMap<TrainingId, Training>,
    /// Keyed by training id and contact hash.
    registrations: HashMap<(TrainingId, String), TrainingRegistration>,
}

#[derive(Debug, Default)]
pub struct MemoryTrainingStore {
    state: Mutex<State>,
}

impl MemoryTrainingStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        self.state
            .lock()
            .map_err(|_| StoreError::Corrupt("poisoned".into()))
    }

    /// Withdraws every registration of a person (what an erasure must do); how many there were.
    pub fn withdraw_all(&self, contact: &ContactHash) -> Result<usize, StoreError> {
        let mut state = self.state()?;
        let before = state.registrations.len();
        state
            .registrations
            .retain(|(_, c), _| c != contact.as_str());
        Ok(before - state.registrations.len())
    }
}

impl TrainingStore for MemoryTrainingStore {
    async fn put_training(
        &self,
        training: &Training,
        _now: OffsetDateTime,
    ) -> Result<PutTraining, StoreError> {
        let mut state = self.state()?;
        if state.trainings.contains_key(&training.id) {
            return Ok(PutTraining::AlreadyExists);
        }
        state
            .trainings
            .insert(training.id.clone(), training.clone());
        Ok(PutTraining::Created)
    }

    async fn update_training(
        &self,
        training: &Training,
        _now: OffsetDateTime,
    ) -> Result<UpdateTraining, StoreError> {
        let mut state = self.state()?;
        let Some(stored) = state.trainings.get_mut(&training.id) else {
            return Ok(UpdateTraining::NoSuchTraining);
        };
        *stored = Training {
            recording_url: stored.recording_url.clone(),
            recording_published_at: stored.recording_published_at,
            ..training.clone()
        };
        Ok(UpdateTraining::Updated)
    }

    async fn get_training(&self, id: &TrainingId) -> Result<Option<Training>, StoreError> {
        Ok(self.state()?.trainings.get(id).cloned())
    }

    async fn trainings(&self) -> Result<Vec<Training>, StoreError> {
        let mut all: Vec<Training> = self.state()?.trainings.values().cloned().collect();
        all.sort_by(|a, b| a.starts_at.cmp(&b.starts_at).then(a.id.cmp(&b.id)));
        Ok(all)
    }

    async fn publish_recording(
        &self,
        id: &TrainingId,
        url: &TrainingUrl,
        now: OffsetDateTime,
    ) -> Result<Published, StoreError> {
        let mut state = self.state()?;
        let Some(training) = state.trainings.get_mut(id) else {
            return Ok(Published::NoSuchTraining);
        };
        if training.recording_published_at.is_some() {
            return match &training.recording_url {
                Some(published) => Ok(Published::AlreadyPublished(published.clone())),
                None => Err(StoreError::Corrupt(
                    "a training published without a recording".into(),
                )),
            };
        }
        training.recording_url = Some(url.clone());
        training.recording_published_at = Some(to_millisecond(now));
        Ok(Published::Published)
    }

    async fn register(
        &self,
        registration: NewTrainingRegistration<'_>,
        now: OffsetDateTime,
    ) -> Result<TrainingRegistered, StoreError> {
        let mut state = self.state()?;
        let Some(training) = state.trainings.get(registration.training) else {
            return Ok(TrainingRegistered::NoSuchTraining);
        };
        if training.has_ended(now) {
            return Ok(TrainingRegistered::Ended);
        }
        let starts_at = training.starts_at;
        let key = (
            registration.training.clone(),
            registration.contact.as_str().to_string(),
        );
        if state.registrations.contains_key(&key) {
            return Ok(TrainingRegistered::AlreadyRegistered);
        }
        state.registrations.insert(
            key,
            TrainingRegistration {
                training_id: registration.training.clone(),
                contact_hash: registration.contact.as_str().to_string(),
                status: TrainingRegistrationStatus::Registered,
                source: registration.source,
                language: registration.language,
                first_name: registration.first_name.clone(),
                referral: registration
                    .referral
                    .filter(|r| !r.is_empty())
                    .map(str::to_string),
                starts_at,
                created_at: to_millisecond(now),
            },
        );
        Ok(TrainingRegistered::Created)
    }

    async fn registrants(
        &self,
        training: &TrainingId,
    ) -> Result<Vec<TrainingRegistration>, StoreError> {
        let mut found: Vec<TrainingRegistration> = self
            .state()?
            .registrations
            .values()
            .filter(|r| &r.training_id == training)
            .cloned()
            .collect();
        found.sort_by(|a, b| a.contact_hash.cmp(&b.contact_hash));
        Ok(found)
    }

    async fn registrations_of(
        &self,
        contact: &ContactHash,
    ) -> Result<Vec<TrainingRegistration>, StoreError> {
        let mut found: Vec<TrainingRegistration> = self
            .state()?
            .registrations
            .values()
            .filter(|r| r.contact_hash == contact.as_str())
            .cloned()
            .collect();
        found.sort_by(|a, b| {
            a.starts_at
                .cmp(&b.starts_at)
                .then(a.training_id.cmp(&b.training_id))
        });
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Language, PhoneNumber, TrainingDraft, TrainingTitle};
    use crate::privacy::{ContactHasher, Sealed, Sealer, field_context};
    use crate::store::RsvpSource;
    use time::Duration;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn url(text: &str) -> TrainingUrl {
        TrainingUrl::parse(text).unwrap()
    }

    fn training(id: &str, starts_in: Duration) -> Training {
        TrainingDraft {
            title: TrainingTitle::parse("Host training").unwrap(),
            title_es: Some(TrainingTitle::parse("Entrenamiento para anfitriones").unwrap()),
            starts_at: now() + starts_in,
            duration: Duration::minutes(90),
            time_zone: "America/New_York".into(),
            join_url: Some(url("https://rising.invalid/join/host")),
            recording_url: None,
            recording_published_at: None,
        }
        .build(TrainingId::parse(id).unwrap())
        .unwrap()
    }

    fn contact(n: u8) -> ContactHash {
        let hasher =
            ContactHasher::from_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=").unwrap();
        hasher.phone(&PhoneNumber::parse(&format!("+1202555{:04}", 100 + u32::from(n))).unwrap())
    }

    async fn first_name(sealer: &Sealer, contact: &ContactHash) -> Sealed {
        sealer
            .seal(&field_context(contact, "first_name"), "Ana")
            .await
            .unwrap()
    }

    fn registration<'a>(
        training: &'a TrainingId,
        contact: &'a ContactHash,
        name: &'a Sealed,
    ) -> NewTrainingRegistration<'a> {
        NewTrainingRegistration {
            training,
            contact,
            language: Language::Es,
            first_name: name,
            source: RsvpSource::Form,
            referral: Some("host-maple5"),
        }
    }

    #[tokio::test]
    async fn creating_the_same_training_twice_writes_it_once() {
        let store = MemoryTrainingStore::new();
        let t = training("overview", Duration::days(3));
        assert_eq!(
            store.put_training(&t, now()).await.unwrap(),
            PutTraining::Created
        );
        let mut changed = t.clone();
        changed.title = TrainingTitle::parse("Another title").unwrap();
        assert_eq!(
            store.put_training(&changed, now()).await.unwrap(),
            PutTraining::AlreadyExists
        );
        assert_eq!(store.get_training(&t.id).await.unwrap(), Some(t));
        assert_eq!(
            store
                .get_training(&TrainingId::parse("nothing").unwrap())
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn trainings_are_listed_by_start_time() {
        let store = MemoryTrainingStore::new();
        let third = training("third-training", Duration::days(30));
        let overview = training("overview", -Duration::days(2));
        let host = training("host-training", Duration::days(14));
        for t in [&third, &overview, &host] {
            store.put_training(t, now()).await.unwrap();
        }
        let ids: Vec<TrainingId> = store
            .trainings()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(ids, [overview.id, host.id, third.id]);
    }

    #[tokio::test]
    async fn a_recording_is_published_once() {
        let store = MemoryTrainingStore::new();
        let t = training("overview", -Duration::days(1));
        store.put_training(&t, now()).await.unwrap();
        let first = url("https://rising.invalid/r/overview");
        let at = now() + Duration::nanoseconds(1_234_567);
        assert_eq!(
            store.publish_recording(&t.id, &first, at).await.unwrap(),
            Published::Published
        );
        assert_eq!(
            store
                .publish_recording(&t.id, &first, at + Duration::hours(1))
                .await
                .unwrap(),
            Published::AlreadyPublished(first.clone())
        );
        assert_eq!(
            store
                .publish_recording(&t.id, &url("https://rising.invalid/r/other"), at)
                .await
                .unwrap(),
            Published::AlreadyPublished(first.clone())
        );
        let stored = store.get_training(&t.id).await.unwrap().unwrap();
        assert!(stored.is_published());
        assert_eq!(stored.published_recording(), Some(&first));
        assert_eq!(
            stored.recording_published_at,
            Some(now() + Duration::milliseconds(1))
        );
        assert_eq!(
            store
                .publish_recording(&TrainingId::parse("nothing").unwrap(), &first, at)
                .await
                .unwrap(),
            Published::NoSuchTraining
        );
    }

    #[tokio::test]
    async fn a_second_registration_of_the_same_person_changes_nothing() {
        let (store, sealer) = (MemoryTrainingStore::new(), Sealer::in_memory());
        let t = training("host-training", Duration::days(3));
        store.put_training(&t, now()).await.unwrap();
        let ana = contact(1);
        let name = first_name(&sealer, &ana).await;
        let new = registration(&t.id, &ana, &name);
        assert_eq!(
            store.register(new.clone(), now()).await.unwrap(),
            TrainingRegistered::Created
        );
        assert_eq!(
            store
                .register(new, now() + Duration::minutes(5))
                .await
                .unwrap(),
            TrainingRegistered::AlreadyRegistered
        );
        let records = store.registrants(&t.id).await.unwrap();
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert_eq!(
            (r.status, r.source, r.language, r.referral.as_deref()),
            (
                TrainingRegistrationStatus::Registered,
                RsvpSource::Form,
                Language::Es,
                Some("host-maple5")
            )
        );
        assert_eq!((r.starts_at, r.created_at), (t.starts_at, now()));
        assert_eq!(
            sealer
                .open(&field_context(&ana, "first_name"), &r.first_name)
                .await
                .unwrap(),
            "Ana"
        );
        assert_eq!(store.registrations_of(&ana).await.unwrap(), records);
    }

    #[tokio::test]
    async fn a_registration_to_an_unknown_or_ended_training_is_refused() {
        let (store, sealer) = (MemoryTrainingStore::new(), Sealer::in_memory());
        let t = training("overview", Duration::days(1));
        let ana = contact(1);
        let name = first_name(&sealer, &ana).await;
        assert_eq!(
            store
                .register(registration(&t.id, &ana, &name), now())
                .await
                .unwrap(),
            TrainingRegistered::NoSuchTraining
        );
        store.put_training(&t, now()).await.unwrap();
        assert_eq!(
            store
                .register(registration(&t.id, &ana, &name), t.ends_at)
                .await
                .unwrap(),
            TrainingRegistered::Ended
        );
        assert!(store.registrants(&t.id).await.unwrap().is_empty());
        assert_eq!(
            store
                .register(registration(&t.id, &ana, &name), t.starts_at)
                .await
                .unwrap(),
            TrainingRegistered::Created,
            "open until it ends"
        );
    }

    #[tokio::test]
    async fn a_persons_registrations_come_soonest_training_first() {
        let (store, sealer) = (MemoryTrainingStore::new(), Sealer::in_memory());
        let later = training("third-training", Duration::days(30));
        let sooner = training("host-training", Duration::days(2));
        let (ana, ben) = (contact(1), contact(2));
        let name = first_name(&sealer, &ana).await;
        for t in [&later, &sooner] {
            store.put_training(t, now()).await.unwrap();
            store
                .register(registration(&t.id, &ana, &name), now())
                .await
                .unwrap();
        }
        let ids: Vec<TrainingId> = store
            .registrations_of(&ana)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.training_id)
            .collect();
        assert_eq!(ids, [sooner.id.clone(), later.id.clone()]);
        assert!(store.registrations_of(&ben).await.unwrap().is_empty());

        let ben_name = first_name(&sealer, &ben).await;
        store
            .register(registration(&sooner.id, &ben, &ben_name), now())
            .await
            .unwrap();
        assert_eq!(store.withdraw_all(&ana).unwrap(), 2);
        assert!(store.registrations_of(&ana).await.unwrap().is_empty());
        assert_eq!(store.registrants(&sooner.id).await.unwrap().len(), 1);
    }
}

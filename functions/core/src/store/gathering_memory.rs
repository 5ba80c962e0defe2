//! In-memory adapter of the gathering, RSVP and keyword ports, for unit tests. Same semantics as the
//! DynamoDB adapter (unique codes shared with keywords, conditional creates, capacity and waitlist),
//! except that a search considers every gathering instead of reading geohash cells. The review
//! queue is ordered like DynamoDB's index: the creation time to the millisecond, then the id.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use time::OffsetDateTime;

use super::gathering::{
    GatheringStore, KeywordStore, NearbyGathering, NewRsvp, PutGathering, PutKeyword,
    RemovedKeyword, ReviewDecision, Reviewed, RsvpOutcome, RsvpRecord, RsvpStatus, RsvpStore,
    UpdateGathering, nearest_then_soonest, soonest_first,
};
use super::{StoreError, timestamp};
use crate::domain::{CampaignKeyword, Gathering, GatheringCode, GatheringId, KeywordWord};
use crate::geo::{GeoPoint, SearchRadius};
use crate::privacy::ContactHash;

#[derive(Debug, Default)]
struct State {
    gatherings: HashMap<GatheringId, (Gathering, u32)>,
    codes: HashMap<String, GatheringId>,
    keywords: HashMap<String, CampaignKeyword>,
    /// Keyed by gathering id and contact hash.
    rsvps: HashMap<(GatheringId, String), RsvpRecord>,
    /// The gatherings waiting for review: the creation time (RFC 3339, milliseconds) of each.
    review_queue: HashMap<GatheringId, String>,
}

#[derive(Debug, Default)]
pub struct MemoryGatheringStore {
    state: Mutex<State>,
    /// Reworded messages (`super::template`), by message and language code.
    templates: Mutex<
        std::collections::BTreeMap<
            (super::template::TemplateMessage, &'static str),
            super::template::StoredTemplate,
        >,
    >,
    /// The campaign rules organizers set (`super::campaign`).
    rules: Mutex<Option<super::campaign::CampaignRules>>,
}

impl MemoryGatheringStore {
    pub fn new() -> Self {
        Self::default()
    }

    #[allow(clippy::type_complexity)]
    pub(super) fn templates_state(
        &self,
    ) -> Result<
        MutexGuard<
            '_,
            std::collections::BTreeMap<
                (super::template::TemplateMessage, &'static str),
                super::template::StoredTemplate,
            >,
        >,
        StoreError,
    > {
        self.templates
            .lock()
            .map_err(|_| StoreError::Corrupt("poisoned".into()))
    }

    pub(super) fn rules_state(
        &self,
    ) -> Result<MutexGuard<'_, Option<super::campaign::CampaignRules>>, StoreError> {
        self.rules
            .lock()
            .map_err(|_| StoreError::Corrupt("poisoned".into()))
    }

    fn state(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        self.state
            .lock()
            .map_err(|_| StoreError::Corrupt("poisoned".into()))
    }

    /// Withdraws every RSVP of a person, giving back the place of each `going` one (an erasure).
    /// Returns how many there were.
    pub(crate) fn withdraw_all(&self, contact: &ContactHash) -> Result<usize, StoreError> {
        let mut state = self.state()?;
        let theirs: Vec<(GatheringId, String)> = state
            .rsvps
            .keys()
            .filter(|(_, c)| c == contact.as_str())
            .cloned()
            .collect();
        for key in &theirs {
            if let Some(rsvp) = state.rsvps.remove(key)
                && rsvp.status == RsvpStatus::Going
                && let Some((_, going)) = state.gatherings.get_mut(&key.0)
            {
                *going = going.saturating_sub(1);
            }
        }
        Ok(theirs.len())
    }

    /// How many people have a place at a gathering (the stored counter).
    pub fn going_count(&self, id: &GatheringId) -> Option<u32> {
        self.state
            .lock()
            .ok()?
            .gatherings
            .get(id)
            .map(|(_, going)| *going)
    }
}

impl GatheringStore for MemoryGatheringStore {
    async fn starting_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<Gathering>, StoreError> {
        let mut found: Vec<Gathering> = self
            .state()?
            .gatherings
            .values()
            .map(|(g, _)| g)
            .filter(|g| g.starts_at >= from && g.starts_at < to)
            .cloned()
            .collect();
        found.sort_by(soonest_first);
        Ok(found)
    }
    async fn put(
        &self,
        gathering: &Gathering,
        now: OffsetDateTime,
    ) -> Result<PutGathering, StoreError> {
        let mut state = self.state()?;
        if state.gatherings.contains_key(&gathering.id) {
            return Ok(PutGathering::AlreadyExists);
        }
        let code = gathering.code.as_str();
        if state.codes.contains_key(code) || state.keywords.contains_key(code) {
            return Ok(PutGathering::CodeTaken);
        }
        state.codes.insert(code.to_string(), gathering.id.clone());
        if gathering.awaiting_review() {
            state
                .review_queue
                .insert(gathering.id.clone(), timestamp(now));
        }
        state
            .gatherings
            .insert(gathering.id.clone(), (gathering.clone(), 0));
        Ok(PutGathering::Created)
    }

    async fn get(&self, id: &GatheringId) -> Result<Option<Gathering>, StoreError> {
        Ok(self.state()?.gatherings.get(id).map(|(g, _)| g.clone()))
    }

    async fn by_code(&self, code: &GatheringCode) -> Result<Option<Gathering>, StoreError> {
        let state = self.state()?;
        Ok(state
            .codes
            .get(code.as_str())
            .and_then(|id| state.gatherings.get(id))
            .map(|(g, _)| g.clone()))
    }

    async fn upcoming_near(
        &self,
        origin: GeoPoint,
        radius: SearchRadius,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<NearbyGathering>, StoreError> {
        let state = self.state()?;
        let mut found: Vec<NearbyGathering> = state
            .gatherings
            .values()
            .map(|(g, _)| g)
            .filter(|g| g.listed && g.starts_at > now)
            .map(|g| NearbyGathering {
                distance: origin.distance_to(g.location),
                gathering: g.clone(),
            })
            .filter(|n| radius.contains(n.distance))
            .collect();
        found.sort_by(nearest_then_soonest);
        found.truncate(limit);
        Ok(found)
    }

    async fn hosted_by(&self, host: &ContactHash) -> Result<Vec<Gathering>, StoreError> {
        let state = self.state()?;
        let mut found: Vec<Gathering> = state
            .gatherings
            .values()
            .map(|(g, _)| g)
            .filter(|g| g.host.as_ref() == Some(host))
            .cloned()
            .collect();
        found.sort_by(soonest_first);
        Ok(found)
    }

    async fn update(
        &self,
        gathering: &Gathering,
        _now: OffsetDateTime,
    ) -> Result<UpdateGathering, StoreError> {
        let mut state = self.state()?;
        let Some((stored, _)) = state.gatherings.get_mut(&gathering.id) else {
            return Ok(UpdateGathering::NotFound);
        };
        if stored.host != gathering.host {
            return Ok(UpdateGathering::NotFound);
        }
        *stored = Gathering {
            id: stored.id.clone(),
            code: stored.code.clone(),
            host: stored.host.clone(),
            host_first_name: stored.host_first_name.clone(),
            listed: stored.listed,
            declined_at: stored.declined_at,
            ..gathering.clone()
        };
        let starts_at = stored.starts_at;
        for rsvp in state
            .rsvps
            .values_mut()
            .filter(|r| r.gathering_id == gathering.id)
        {
            rsvp.starts_at = starts_at;
        }
        Ok(UpdateGathering::Updated)
    }

    async fn awaiting_review(&self, limit: usize) -> Result<Vec<Gathering>, StoreError> {
        let state = self.state()?;
        let mut queue: Vec<(&String, &GatheringId)> = state
            .review_queue
            .iter()
            .map(|(id, created)| (created, id))
            .collect();
        queue.sort();
        Ok(queue
            .into_iter()
            .filter_map(|(_, id)| state.gatherings.get(id))
            .map(|(g, _)| g.clone())
            .take(limit)
            .collect())
    }

    async fn review(
        &self,
        id: &GatheringId,
        decision: ReviewDecision,
        now: OffsetDateTime,
    ) -> Result<Reviewed, StoreError> {
        let mut state = self.state()?;
        if state.review_queue.remove(id).is_none() {
            return Ok(Reviewed::NotAwaiting);
        }
        let Some((gathering, _)) = state.gatherings.get_mut(id) else {
            return Ok(Reviewed::NotAwaiting);
        };
        Ok(match decision {
            ReviewDecision::Approve => {
                gathering.listed = true;
                Reviewed::Approved
            }
            ReviewDecision::Decline => {
                gathering.declined_at = Some(now);
                Reviewed::Declined
            }
        })
    }
}

impl RsvpStore for MemoryGatheringStore {
    async fn rsvp(
        &self,
        rsvp: NewRsvp<'_>,
        now: OffsetDateTime,
    ) -> Result<RsvpOutcome, StoreError> {
        let mut state = self.state()?;
        let Some((gathering, going)) = state.gatherings.get(rsvp.gathering).cloned() else {
            return Ok(RsvpOutcome::NoSuchGathering);
        };
        if now >= gathering.ends_at {
            return Ok(RsvpOutcome::Ended);
        }
        let key = (rsvp.gathering.clone(), rsvp.contact.as_str().to_string());
        if let Some(existing) = state.rsvps.get(&key) {
            return Ok(match existing.status {
                RsvpStatus::Going => RsvpOutcome::AlreadyGoing,
                RsvpStatus::Waitlist => RsvpOutcome::AlreadyWaitlisted,
            });
        }
        let has_room = gathering.capacity.is_none_or(|capacity| going < capacity);
        let status = if has_room {
            RsvpStatus::Going
        } else {
            RsvpStatus::Waitlist
        };
        state.rsvps.insert(
            key,
            RsvpRecord {
                gathering_id: rsvp.gathering.clone(),
                contact_hash: rsvp.contact.as_str().to_string(),
                status,
                source: rsvp.source,
                language: rsvp.language,
                first_name: rsvp.first_name.clone(),
                starts_at: gathering.starts_at,
                created_at: now,
                referral: rsvp.referral.map(str::to_owned),
            },
        );
        if has_room {
            if let Some((_, going)) = state.gatherings.get_mut(rsvp.gathering) {
                *going += 1;
            }
            Ok(RsvpOutcome::Created)
        } else {
            Ok(RsvpOutcome::Waitlisted)
        }
    }

    async fn rsvps_for(&self, gathering: &GatheringId) -> Result<Vec<RsvpRecord>, StoreError> {
        let state = self.state()?;
        let mut found: Vec<RsvpRecord> = state
            .rsvps
            .values()
            .filter(|r| &r.gathering_id == gathering)
            .cloned()
            .collect();
        found.sort_by(|a, b| a.contact_hash.cmp(&b.contact_hash));
        Ok(found)
    }

    async fn rsvps_of(&self, contact: &ContactHash) -> Result<Vec<RsvpRecord>, StoreError> {
        let state = self.state()?;
        let mut found: Vec<RsvpRecord> = state
            .rsvps
            .values()
            .filter(|r| r.contact_hash == contact.as_str())
            .cloned()
            .collect();
        found.sort_by(|a, b| {
            a.starts_at
                .cmp(&b.starts_at)
                .then(a.gathering_id.cmp(&b.gathering_id))
        });
        Ok(found)
    }
}

impl KeywordStore for MemoryGatheringStore {
    async fn put_keyword(
        &self,
        keyword: &CampaignKeyword,
        _now: OffsetDateTime,
    ) -> Result<PutKeyword, StoreError> {
        let mut state = self.state()?;
        let word = keyword.word.as_str();
        if state.keywords.contains_key(word) {
            return Ok(PutKeyword::AlreadyExists);
        }
        if state.codes.contains_key(word) {
            return Ok(PutKeyword::TakenByGatheringCode);
        }
        state.keywords.insert(word.to_string(), keyword.clone());
        Ok(PutKeyword::Created)
    }

    async fn keyword(&self, word: &KeywordWord) -> Result<Option<CampaignKeyword>, StoreError> {
        Ok(self.state()?.keywords.get(word.as_str()).cloned())
    }

    async fn keywords(&self) -> Result<Vec<CampaignKeyword>, StoreError> {
        let mut all: Vec<CampaignKeyword> = self.state()?.keywords.values().cloned().collect();
        all.sort_by(|a, b| a.word.as_str().cmp(b.word.as_str()));
        Ok(all)
    }

    async fn remove_keyword(&self, word: &KeywordWord) -> Result<RemovedKeyword, StoreError> {
        Ok(match self.state()?.keywords.remove(word.as_str()) {
            Some(_) => RemovedKeyword::Removed,
            None => RemovedKeyword::NoSuchKeyword,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        AddressDraft, FirstName, GatheringDraft, GatheringTitle, KeywordTarget, Language, Zip,
    };
    use crate::privacy::{ContactHasher, Sealed, Sealer, field_context};
    use crate::store::{RsvpSource, RsvpStatus};
    use time::Duration;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    struct Spec {
        code: &'static str,
        zip: &'static str,
        at: Option<(f64, f64)>,
        starts_in: Duration,
        listed: bool,
        capacity: Option<u32>,
        host: Option<ContactHash>,
    }

    impl Spec {
        fn new(code: &'static str, zip: &'static str) -> Self {
            Self {
                code,
                zip,
                at: None,
                starts_in: Duration::days(3),
                listed: true,
                capacity: None,
                host: None,
            }
        }
    }

    async fn gathering(sealer: &Sealer, spec: Spec) -> Gathering {
        let starts_at = now() + spec.starts_in;
        GatheringDraft {
            code: GatheringCode::parse(spec.code).unwrap(),
            title: GatheringTitle::parse("Potluck").unwrap(),
            starts_at,
            ends_at: starts_at + Duration::hours(2),
            zip: Zip::parse(spec.zip).unwrap(),
            timezone: None,
            town: None,
            location: spec.at.map(|(lat, lon)| GeoPoint::new(lat, lon).unwrap()),
            address: AddressDraft::Public("Library".into()),
            host_first_name: FirstName::parse("Rosa").unwrap(),
            capacity: spec.capacity,
            language: Language::En,
            listed: spec.listed,
            host: spec.host,
            description: String::new(),
            accessibility: String::new(),
        }
        .seal(GatheringId::random(), sealer)
        .await
        .unwrap()
    }

    fn contact(n: u8) -> ContactHash {
        let hasher =
            ContactHasher::from_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=").unwrap();
        hasher.phone(
            &crate::domain::PhoneNumber::parse(&format!("+1202555{:04}", 100 + u32::from(n)))
                .unwrap(),
        )
    }

    fn host(name: &str) -> ContactHash {
        let hasher =
            ContactHasher::from_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=").unwrap();
        hasher.email(&crate::domain::EmailAddress::parse(&format!("{name}@example.org")).unwrap())
    }

    async fn first_name(sealer: &Sealer, contact: &ContactHash) -> Sealed {
        sealer
            .seal(&field_context(contact, "first_name"), "Ana")
            .await
            .unwrap()
    }

    fn dc() -> GeoPoint {
        GeoPoint::new(38.9072, -77.0369).unwrap()
    }

    #[tokio::test]
    async fn creating_the_same_gathering_twice_writes_it_once() {
        let (store, sealer) = (MemoryGatheringStore::new(), Sealer::in_memory());
        let g = gathering(&sealer, Spec::new("MAPLE5", "20001")).await;
        assert_eq!(store.put(&g, now()).await.unwrap(), PutGathering::Created);
        assert_eq!(
            store.put(&g, now()).await.unwrap(),
            PutGathering::AlreadyExists
        );
        assert_eq!(store.get(&g.id).await.unwrap(), Some(g.clone()));
        assert_eq!(store.by_code(&g.code).await.unwrap(), Some(g));
    }

    #[tokio::test]
    async fn a_code_belongs_to_one_gathering_only() {
        let (store, sealer) = (MemoryGatheringStore::new(), Sealer::in_memory());
        let first = gathering(&sealer, Spec::new("MAPLE5", "20001")).await;
        let second = gathering(&sealer, Spec::new("MAPLE5", "94110")).await;
        store.put(&first, now()).await.unwrap();
        assert_eq!(
            store.put(&second, now()).await.unwrap(),
            PutGathering::CodeTaken
        );
        assert_eq!(store.get(&second.id).await.unwrap(), None);
        assert_eq!(
            store.by_code(&first.code).await.unwrap().map(|g| g.id),
            Some(first.id)
        );
    }

    #[tokio::test]
    async fn a_code_cannot_take_a_keyword_and_a_keyword_cannot_take_a_code() {
        let (store, sealer) = (MemoryGatheringStore::new(), Sealer::in_memory());
        let park = CampaignKeyword {
            word: KeywordWord::parse("PARKDC").unwrap(),
            target: KeywordTarget::Campaign,
            language: Language::En,
        };
        assert_eq!(
            store.put_keyword(&park, now()).await.unwrap(),
            PutKeyword::Created
        );
        assert_eq!(
            store.put_keyword(&park, now()).await.unwrap(),
            PutKeyword::AlreadyExists
        );
        assert_eq!(store.keyword(&park.word).await.unwrap(), Some(park));
        let g = gathering(&sealer, Spec::new("PARKDC", "20001")).await;
        assert_eq!(store.put(&g, now()).await.unwrap(), PutGathering::CodeTaken);

        let g = gathering(&sealer, Spec::new("MAPLE5", "20001")).await;
        store.put(&g, now()).await.unwrap();
        let maple = CampaignKeyword {
            word: KeywordWord::parse("MAPLE5").unwrap(),
            target: KeywordTarget::Gathering(g.id),
            language: Language::En,
        };
        assert_eq!(
            store.put_keyword(&maple, now()).await.unwrap(),
            PutKeyword::TakenByGatheringCode
        );
    }

    #[tokio::test]
    async fn a_search_finds_only_listed_upcoming_gatherings_within_the_radius_nearest_first() {
        let (store, sealer) = (MemoryGatheringStore::new(), Sealer::in_memory());
        let near = gathering(
            &sealer,
            Spec {
                at: Some((38.91, -77.03)),
                ..Spec::new("NEAR2", "20001")
            },
        )
        .await;
        let silver_spring = gathering(&sealer, Spec::new("SILVER3", "20910")).await;
        let baltimore = gathering(&sealer, Spec::new("BALT4", "21201")).await;
        let far = gathering(&sealer, Spec::new("MISSION5", "94110")).await;
        let past = gathering(
            &sealer,
            Spec {
                starts_in: -Duration::hours(1),
                ..Spec::new("PAST6", "20001")
            },
        )
        .await;
        let unlisted = gathering(
            &sealer,
            Spec {
                listed: false,
                ..Spec::new("HIDDEN7", "20001")
            },
        )
        .await;
        for g in [&near, &silver_spring, &baltimore, &far, &past, &unlisted] {
            store.put(g, now()).await.unwrap();
        }

        let found = store
            .upcoming_near(dc(), SearchRadius::km(80.0).unwrap(), now(), 10)
            .await
            .unwrap();

        let codes: Vec<&str> = found.iter().map(|n| n.gathering.code.as_str()).collect();
        assert_eq!(codes, ["NEAR2", "SILVER3", "BALT4"]);
        assert!(found.windows(2).all(|w| w[0].distance <= w[1].distance));
        assert!(
            (found[2].distance.km() - 55.0).abs() < 5.0,
            "{}",
            found[2].distance.km()
        );
        let two = store
            .upcoming_near(dc(), SearchRadius::km(80.0).unwrap(), now(), 2)
            .await
            .unwrap();
        assert_eq!(two.len(), 2);
        let within_20 = store
            .upcoming_near(dc(), SearchRadius::km(20.0).unwrap(), now(), 10)
            .await
            .unwrap();
        assert_eq!(within_20.len(), 2);
    }

    #[tokio::test]
    async fn gatherings_at_the_same_distance_come_soonest_first() {
        let (store, sealer) = (MemoryGatheringStore::new(), Sealer::in_memory());
        let later = gathering(
            &sealer,
            Spec {
                starts_in: Duration::days(9),
                ..Spec::new("LATER2", "20001")
            },
        )
        .await;
        let sooner = gathering(
            &sealer,
            Spec {
                starts_in: Duration::days(2),
                ..Spec::new("SOONER3", "20001")
            },
        )
        .await;
        store.put(&later, now()).await.unwrap();
        store.put(&sooner, now()).await.unwrap();
        let found = store
            .upcoming_near(dc(), SearchRadius::km(10.0).unwrap(), now(), 10)
            .await
            .unwrap();
        let codes: Vec<&str> = found.iter().map(|n| n.gathering.code.as_str()).collect();
        assert_eq!(codes, ["SOONER3", "LATER2"]);
    }

    #[tokio::test]
    async fn a_second_rsvp_of_the_same_person_changes_nothing() {
        let (store, sealer) = (MemoryGatheringStore::new(), Sealer::in_memory());
        let g = gathering(&sealer, Spec::new("MAPLE5", "20001")).await;
        store.put(&g, now()).await.unwrap();
        let ana = contact(1);
        let name = first_name(&sealer, &ana).await;
        let rsvp = NewRsvp {
            gathering: &g.id,
            contact: &ana,
            source: RsvpSource::Sms,
            language: Language::Es,
            first_name: &name,
            referral: None,
        };
        assert_eq!(
            store.rsvp(rsvp.clone(), now()).await.unwrap(),
            RsvpOutcome::Created
        );
        assert_eq!(
            store.rsvp(rsvp, now()).await.unwrap(),
            RsvpOutcome::AlreadyGoing
        );
        assert_eq!(store.going_count(&g.id), Some(1));
        let records = store.rsvps_for(&g.id).await.unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(
            (records[0].status, records[0].source, records[0].language),
            (RsvpStatus::Going, RsvpSource::Sms, Language::Es)
        );
        assert_eq!(
            sealer
                .open(&field_context(&ana, "first_name"), &records[0].first_name)
                .await
                .unwrap(),
            "Ana"
        );
        assert_eq!(store.rsvps_of(&ana).await.unwrap(), records);
    }

    #[tokio::test]
    async fn people_beyond_the_capacity_are_waitlisted() {
        let (store, sealer) = (MemoryGatheringStore::new(), Sealer::in_memory());
        let g = gathering(
            &sealer,
            Spec {
                capacity: Some(2),
                ..Spec::new("MAPLE5", "20001")
            },
        )
        .await;
        store.put(&g, now()).await.unwrap();
        let mut outcomes = Vec::new();
        for n in 1..=3 {
            let person = contact(n);
            let name = first_name(&sealer, &person).await;
            let rsvp = NewRsvp {
                gathering: &g.id,
                contact: &person,
                source: RsvpSource::Form,
                language: Language::En,
                first_name: &name,
                referral: None,
            };
            outcomes.push(store.rsvp(rsvp.clone(), now()).await.unwrap());
            if n == 3 {
                outcomes.push(store.rsvp(rsvp, now()).await.unwrap());
            }
        }
        use RsvpOutcome::*;
        assert_eq!(outcomes, [Created, Created, Waitlisted, AlreadyWaitlisted]);
        assert_eq!(store.going_count(&g.id), Some(2));
    }

    #[tokio::test]
    async fn an_rsvp_to_an_unknown_or_ended_gathering_is_refused() {
        let (store, sealer) = (MemoryGatheringStore::new(), Sealer::in_memory());
        let g = gathering(&sealer, Spec::new("MAPLE5", "20001")).await;
        let ana = contact(1);
        let name = first_name(&sealer, &ana).await;
        let rsvp = NewRsvp {
            gathering: &g.id,
            contact: &ana,
            source: RsvpSource::Invite,
            language: Language::En,
            first_name: &name,
            referral: None,
        };
        assert_eq!(
            store.rsvp(rsvp.clone(), now()).await.unwrap(),
            RsvpOutcome::NoSuchGathering
        );
        store.put(&g, now()).await.unwrap();
        assert_eq!(
            store.rsvp(rsvp, g.ends_at).await.unwrap(),
            RsvpOutcome::Ended
        );
    }

    #[tokio::test]
    async fn a_persons_rsvps_come_soonest_gathering_first() {
        let (store, sealer) = (MemoryGatheringStore::new(), Sealer::in_memory());
        let later = gathering(
            &sealer,
            Spec {
                starts_in: Duration::days(9),
                ..Spec::new("LATER2", "20001")
            },
        )
        .await;
        let sooner = gathering(
            &sealer,
            Spec {
                starts_in: Duration::days(2),
                ..Spec::new("SOONER3", "94110")
            },
        )
        .await;
        let ana = contact(1);
        let name = first_name(&sealer, &ana).await;
        for g in [&later, &sooner] {
            store.put(g, now()).await.unwrap();
            let rsvp = NewRsvp {
                gathering: &g.id,
                contact: &ana,
                source: RsvpSource::Sms,
                language: Language::En,
                first_name: &name,
                referral: None,
            };
            store.rsvp(rsvp, now()).await.unwrap();
        }
        let ids: Vec<GatheringId> = store
            .rsvps_of(&ana)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.gathering_id)
            .collect();
        assert_eq!(ids, [sooner.id, later.id]);
        assert!(store.rsvps_of(&contact(2)).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn withdrawing_a_persons_rsvps_gives_back_their_places_only() {
        let (store, sealer) = (MemoryGatheringStore::new(), Sealer::in_memory());
        let g = gathering(
            &sealer,
            Spec {
                capacity: Some(1),
                ..Spec::new("MAPLE5", "20001")
            },
        )
        .await;
        let other = gathering(&sealer, Spec::new("CEDAR6", "20001")).await;
        store.put(&g, now()).await.unwrap();
        store.put(&other, now()).await.unwrap();
        let (ana, ben) = (contact(1), contact(2));
        for (person, at) in [(&ana, &g), (&ben, &g), (&ben, &other), (&ana, &other)] {
            let name = first_name(&sealer, person).await;
            let rsvp = NewRsvp {
                gathering: &at.id,
                contact: person,
                source: RsvpSource::Sms,
                language: Language::En,
                first_name: &name,
                referral: None,
            };
            store.rsvp(rsvp, now()).await.unwrap();
        }
        assert_eq!(store.going_count(&g.id), Some(1), "ben is waitlisted");

        assert_eq!(store.withdraw_all(&ana).unwrap(), 2);

        assert!(store.rsvps_of(&ana).await.unwrap().is_empty());
        assert_eq!(store.going_count(&g.id), Some(0));
        assert_eq!(store.going_count(&other.id), Some(1));
        assert_eq!(store.rsvps_of(&ben).await.unwrap().len(), 2);
        assert_eq!(
            store.withdraw_all(&ana).unwrap(),
            0,
            "a retry finds nothing"
        );
    }

    #[tokio::test]
    async fn a_host_sees_only_their_own_gatherings_soonest_first() {
        let (store, sealer) = (MemoryGatheringStore::new(), Sealer::in_memory());
        let (rosa, malik) = (host("rosa"), host("malik"));
        let later = gathering(
            &sealer,
            Spec {
                starts_in: Duration::days(9),
                host: Some(rosa.clone()),
                ..Spec::new("LATER2", "20001")
            },
        )
        .await;
        let sooner = gathering(
            &sealer,
            Spec {
                starts_in: Duration::days(2),
                listed: false,
                host: Some(rosa.clone()),
                ..Spec::new("SOONER3", "94110")
            },
        )
        .await;
        let theirs = gathering(
            &sealer,
            Spec {
                host: Some(malik.clone()),
                ..Spec::new("OTHER4", "20001")
            },
        )
        .await;
        let organizers = gathering(&sealer, Spec::new("ORG5", "20001")).await;
        for g in [&later, &sooner, &theirs, &organizers] {
            store.put(g, now()).await.unwrap();
        }
        assert_eq!(store.hosted_by(&rosa).await.unwrap(), [sooner, later]);
        assert_eq!(store.hosted_by(&malik).await.unwrap(), [theirs]);
        assert!(store.hosted_by(&host("nobody")).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_update_changes_the_editable_fields_and_keeps_the_code_host_and_places() {
        let (store, sealer) = (MemoryGatheringStore::new(), Sealer::in_memory());
        let rosa = host("rosa");
        let g = gathering(
            &sealer,
            Spec {
                host: Some(rosa.clone()),
                ..Spec::new("MAPLE5", "20001")
            },
        )
        .await;
        store.put(&g, now()).await.unwrap();
        let ana = contact(1);
        let name = first_name(&sealer, &ana).await;
        let rsvp = NewRsvp {
            gathering: &g.id,
            contact: &ana,
            source: RsvpSource::Form,
            language: Language::En,
            first_name: &name,
            referral: None,
        };
        store.rsvp(rsvp, now()).await.unwrap();

        let mut edited = g.clone();
        edited.title = GatheringTitle::parse("Maple Street picnic").unwrap();
        edited.description = "Bring a blanket.".into();
        edited.accessibility = "Paved paths.".into();
        edited.capacity = Some(40);
        edited.code = GatheringCode::parse("OTHER9").unwrap();
        assert_eq!(
            store.update(&edited, now()).await.unwrap(),
            UpdateGathering::Updated
        );

        let stored = store.get(&g.id).await.unwrap().unwrap();
        assert_eq!(stored.title.as_str(), "Maple Street picnic");
        assert_eq!(
            (stored.description.as_str(), stored.accessibility.as_str()),
            ("Bring a blanket.", "Paved paths.")
        );
        assert_eq!(stored.capacity, Some(40));
        assert_eq!(stored.code, g.code, "the code never changes");
        assert_eq!(stored.host, Some(rosa));
        assert_eq!(store.by_code(&g.code).await.unwrap(), Some(stored));
        assert_eq!(store.going_count(&g.id), Some(1));
    }

    #[tokio::test]
    async fn an_update_by_another_host_changes_nothing() {
        let (store, sealer) = (MemoryGatheringStore::new(), Sealer::in_memory());
        let g = gathering(
            &sealer,
            Spec {
                host: Some(host("rosa")),
                ..Spec::new("MAPLE5", "20001")
            },
        )
        .await;
        let organizers = gathering(&sealer, Spec::new("ORG5", "20001")).await;
        store.put(&g, now()).await.unwrap();
        store.put(&organizers, now()).await.unwrap();

        for (target, intruder) in [
            (&g, Some(host("malik"))),
            (&g, None),
            (&organizers, Some(host("malik"))),
        ] {
            let mut edited = target.clone();
            edited.host = intruder;
            edited.title = GatheringTitle::parse("Taken over").unwrap();
            assert_eq!(
                store.update(&edited, now()).await.unwrap(),
                UpdateGathering::NotFound
            );
            assert_eq!(store.get(&target.id).await.unwrap().as_ref(), Some(target));
        }
    }

    #[tokio::test]
    async fn an_update_of_a_missing_gathering_changes_nothing() {
        let (store, sealer) = (MemoryGatheringStore::new(), Sealer::in_memory());
        let g = gathering(&sealer, Spec::new("MAPLE5", "20001")).await;
        assert_eq!(
            store.update(&g, now()).await.unwrap(),
            UpdateGathering::NotFound
        );
        assert_eq!(store.get(&g.id).await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_update_by_the_host_keeps_the_listing_as_stored() {
        let (store, sealer) = (MemoryGatheringStore::new(), Sealer::in_memory());
        let rosa = host("rosa");
        let shown = gathering(
            &sealer,
            Spec {
                host: Some(rosa.clone()),
                ..Spec::new("MAPLE5", "20001")
            },
        )
        .await;
        let waiting = gathering(
            &sealer,
            Spec {
                listed: false,
                host: Some(rosa.clone()),
                ..Spec::new("CEDAR6", "20001")
            },
        )
        .await;
        store.put(&shown, now()).await.unwrap();
        store.put(&waiting, now()).await.unwrap();
        let search = || store.upcoming_near(dc(), SearchRadius::km(20.0).unwrap(), now(), 10);

        for (g, listed) in [(&shown, false), (&waiting, true)] {
            let mut edited = g.clone();
            edited.title = GatheringTitle::parse("Renamed").unwrap();
            edited.listed = listed;
            assert_eq!(
                store.update(&edited, now()).await.unwrap(),
                UpdateGathering::Updated
            );
            let stored = store.get(&g.id).await.unwrap().unwrap();
            assert_eq!(stored.title.as_str(), "Renamed");
            assert_eq!(stored.listed, g.listed, "only a review changes the listing");
        }
        let found: Vec<GatheringId> = search()
            .await
            .unwrap()
            .into_iter()
            .map(|n| n.gathering.id)
            .collect();
        assert_eq!(found, [shown.id.clone()]);
        let queue = store.awaiting_review(10).await.unwrap();
        assert_eq!(queue.len(), 1);
        assert_eq!(queue[0].id, waiting.id, "it keeps waiting, with its edits");
        assert_eq!(queue[0].title.as_str(), "Renamed");
    }

    /// A host's gathering made while organizers approve new ones.
    async fn waiting(sealer: &Sealer, code: &'static str) -> Gathering {
        gathering(
            sealer,
            Spec {
                listed: false,
                host: Some(host("rosa")),
                ..Spec::new(code, "20001")
            },
        )
        .await
    }

    #[tokio::test]
    async fn a_hosts_unlisted_gathering_waits_for_review_oldest_first() {
        let (store, sealer) = (MemoryGatheringStore::new(), Sealer::in_memory());
        let (older, newer, also_newer) = (
            waiting(&sealer, "OLDER2").await,
            waiting(&sealer, "NEWER3").await,
            waiting(&sealer, "NEWER4").await,
        );
        let listed = gathering(
            &sealer,
            Spec {
                host: Some(host("rosa")),
                ..Spec::new("SHOWN5", "20001")
            },
        )
        .await;
        let organizers_private = gathering(
            &sealer,
            Spec {
                listed: false,
                ..Spec::new("PRIVATE6", "20001")
            },
        )
        .await;
        store
            .put(&newer, now() + Duration::minutes(1))
            .await
            .unwrap();
        store.put(&older, now()).await.unwrap();
        store
            .put(&also_newer, now() + Duration::minutes(1))
            .await
            .unwrap();
        store.put(&listed, now()).await.unwrap();
        store.put(&organizers_private, now()).await.unwrap();
        assert!(older.awaiting_review() && !organizers_private.awaiting_review());

        let ids = |found: Vec<Gathering>| -> Vec<GatheringId> {
            found.into_iter().map(|g| g.id).collect()
        };
        let mut same_time = [newer.id.clone(), also_newer.id.clone()];
        same_time.sort();
        assert_eq!(
            ids(store.awaiting_review(10).await.unwrap()),
            [older.id.clone(), same_time[0].clone(), same_time[1].clone()],
            "oldest first, then by id; never listed ones nor organizers' own"
        );
        assert_eq!(ids(store.awaiting_review(1).await.unwrap()), [older.id]);
        assert!(store.awaiting_review(0).await.unwrap().is_empty());
        assert!(
            store
                .upcoming_near(dc(), SearchRadius::km(20.0).unwrap(), now(), 10)
                .await
                .unwrap()
                .iter()
                .all(|n| n.gathering.listed),
            "a waiting gathering is not found in searches"
        );
    }

    #[tokio::test]
    async fn approving_lists_a_gathering_and_takes_it_out_of_the_queue_once() {
        let (store, sealer) = (MemoryGatheringStore::new(), Sealer::in_memory());
        let g = waiting(&sealer, "MAPLE5").await;
        store.put(&g, now()).await.unwrap();

        assert_eq!(
            store
                .review(&g.id, ReviewDecision::Approve, now())
                .await
                .unwrap(),
            Reviewed::Approved
        );
        let stored = store.get(&g.id).await.unwrap().unwrap();
        assert!(stored.listed && stored.declined_at.is_none() && !stored.awaiting_review());
        assert!(store.awaiting_review(10).await.unwrap().is_empty());
        let found = store
            .upcoming_near(dc(), SearchRadius::km(20.0).unwrap(), now(), 10)
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].gathering.id, g.id);

        for decision in [ReviewDecision::Approve, ReviewDecision::Decline] {
            assert_eq!(
                store.review(&g.id, decision, now()).await.unwrap(),
                Reviewed::NotAwaiting,
                "a second review writes nothing"
            );
        }
        assert_eq!(store.get(&g.id).await.unwrap(), Some(stored));
    }

    #[tokio::test]
    async fn declining_keeps_a_gathering_unlisted_out_of_the_queue_and_says_when() {
        let (store, sealer) = (MemoryGatheringStore::new(), Sealer::in_memory());
        let g = waiting(&sealer, "MAPLE5").await;
        store.put(&g, now()).await.unwrap();
        let at = now() + Duration::hours(1);

        assert_eq!(
            store
                .review(&g.id, ReviewDecision::Decline, at)
                .await
                .unwrap(),
            Reviewed::Declined
        );
        let stored = store.get(&g.id).await.unwrap().unwrap();
        assert_eq!((stored.listed, stored.declined_at), (false, Some(at)));
        assert!(!stored.awaiting_review());
        assert!(store.awaiting_review(10).await.unwrap().is_empty());
        assert_eq!(
            store
                .review(&g.id, ReviewDecision::Approve, at)
                .await
                .unwrap(),
            Reviewed::NotAwaiting,
            "a declined gathering cannot be approved by a late or retried request"
        );
        assert!(!store.get(&g.id).await.unwrap().unwrap().listed);

        let mut edited = stored.clone();
        edited.title = GatheringTitle::parse("Renamed").unwrap();
        edited.declined_at = None;
        store.update(&edited, now()).await.unwrap();
        assert_eq!(
            store.get(&g.id).await.unwrap().unwrap().declined_at,
            Some(at),
            "an edit does not bring it back to the queue"
        );
    }

    #[tokio::test]
    async fn reviewing_an_unknown_listed_or_organizers_gathering_writes_nothing() {
        let (store, sealer) = (MemoryGatheringStore::new(), Sealer::in_memory());
        let listed = gathering(&sealer, Spec::new("SHOWN5", "20001")).await;
        let private = gathering(
            &sealer,
            Spec {
                listed: false,
                ..Spec::new("PRIVATE6", "20001")
            },
        )
        .await;
        let unknown = waiting(&sealer, "NEVER7").await;
        store.put(&listed, now()).await.unwrap();
        store.put(&private, now()).await.unwrap();
        for g in [&listed, &private, &unknown] {
            assert_eq!(
                store
                    .review(&g.id, ReviewDecision::Approve, now())
                    .await
                    .unwrap(),
                Reviewed::NotAwaiting
            );
        }
        assert!(!store.get(&private.id).await.unwrap().unwrap().listed);
        assert_eq!(store.get(&unknown.id).await.unwrap(), None);
    }

    #[tokio::test]
    async fn keywords_are_listed_alphabetically_and_removed_without_touching_codes() {
        let (store, sealer) = (MemoryGatheringStore::new(), Sealer::in_memory());
        let g = gathering(&sealer, Spec::new("MAPLE5", "20001")).await;
        store.put(&g, now()).await.unwrap();
        let keyword = |word: &str, target| CampaignKeyword {
            word: KeywordWord::parse(word).unwrap(),
            target,
            language: Language::En,
        };
        let park = keyword("PARKDC", KeywordTarget::Campaign);
        let shaw = keyword("SHAW", KeywordTarget::Gathering(g.id.clone()));
        let bloom = keyword("BLOOM", KeywordTarget::Campaign);
        for k in [&park, &shaw, &bloom] {
            store.put_keyword(k, now()).await.unwrap();
        }
        assert_eq!(
            store.keywords().await.unwrap(),
            [bloom.clone(), park.clone(), shaw.clone()],
            "alphabetical, and never a gathering's code"
        );

        assert_eq!(
            store.remove_keyword(&park.word).await.unwrap(),
            RemovedKeyword::Removed
        );
        assert_eq!(
            store.remove_keyword(&park.word).await.unwrap(),
            RemovedKeyword::NoSuchKeyword
        );
        assert_eq!(store.keyword(&park.word).await.unwrap(), None);
        assert_eq!(store.keywords().await.unwrap(), [bloom, shaw]);

        let code = KeywordWord::parse("MAPLE5").unwrap();
        assert_eq!(
            store.remove_keyword(&code).await.unwrap(),
            RemovedKeyword::NoSuchKeyword
        );
        assert_eq!(
            store.by_code(&g.code).await.unwrap().map(|g| g.id),
            Some(g.id)
        );
        assert_eq!(
            store
                .put_keyword(&keyword("MAPLE5", KeywordTarget::Campaign), now())
                .await
                .unwrap(),
            PutKeyword::TakenByGatheringCode,
            "the code still claims its word"
        );
    }

    #[tokio::test]
    async fn a_new_start_time_moves_the_rsvps_and_their_order() {
        let (store, sealer) = (MemoryGatheringStore::new(), Sealer::in_memory());
        let rosa = host("rosa");
        let moved = gathering(
            &sealer,
            Spec {
                starts_in: Duration::days(2),
                host: Some(rosa.clone()),
                ..Spec::new("MOVED2", "20001")
            },
        )
        .await;
        let other = gathering(
            &sealer,
            Spec {
                starts_in: Duration::days(5),
                ..Spec::new("OTHER3", "20001")
            },
        )
        .await;
        let ana = contact(1);
        let name = first_name(&sealer, &ana).await;
        for g in [&moved, &other] {
            store.put(g, now()).await.unwrap();
            let rsvp = NewRsvp {
                gathering: &g.id,
                contact: &ana,
                source: RsvpSource::Sms,
                language: Language::En,
                first_name: &name,
                referral: None,
            };
            store.rsvp(rsvp, now()).await.unwrap();
        }
        let mut later = moved.clone();
        later.starts_at = now() + Duration::days(8);
        later.ends_at = later.starts_at + Duration::hours(2);
        store.update(&later, now()).await.unwrap();

        let rsvps = store.rsvps_of(&ana).await.unwrap();
        let order: Vec<(&GatheringId, OffsetDateTime)> = rsvps
            .iter()
            .map(|r| (&r.gathering_id, r.starts_at))
            .collect();
        assert_eq!(
            order,
            [(&other.id, other.starts_at), (&moved.id, later.starts_at)]
        );
        assert_eq!(store.hosted_by(&rosa).await.unwrap(), [later]);
    }
}

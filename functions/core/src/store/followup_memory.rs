//! In-memory adapter of the follow-up port, for unit tests.

use std::collections::HashMap;
use std::sync::Mutex;
use time::OffsetDateTime;

use super::StoreError;
use super::followup::{FollowUpStore, Reach};
use crate::privacy::ContactHash;

#[derive(Debug, Default)]
pub struct MemoryFollowUpStore {
    people: Mutex<HashMap<ContactHash, Reach>>,
    sweeps: Mutex<HashMap<String, OffsetDateTime>>,
}

impl MemoryFollowUpStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores how to reach a person (a registration).
    pub fn add(&self, reach: Reach) {
        if let Ok(mut people) = self.people.lock() {
            people.insert(reach.person.clone(), reach);
        }
    }

    /// How a person is reached, as stored.
    pub fn reach_of(&self, person: &ContactHash) -> Option<Reach> {
        self.people.lock().ok()?.get(person).cloned()
    }

    /// Forgets a person (an erasure).
    pub fn remove(&self, person: &ContactHash) {
        if let Ok(mut people) = self.people.lock() {
            people.remove(person);
        }
    }
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Corrupt("poisoned".into())
}

impl FollowUpStore for MemoryFollowUpStore {
    async fn reach(&self, people: &[ContactHash]) -> Result<Vec<Reach>, StoreError> {
        let stored = self.people.lock().map_err(poisoned)?;
        Ok(people
            .iter()
            .filter_map(|p| stored.get(p))
            .filter(|r| r.email.is_some() || r.sms.is_some())
            .cloned()
            .collect())
    }

    async fn swept_through(&self, sweep: &str) -> Result<Option<OffsetDateTime>, StoreError> {
        Ok(self.sweeps.lock().map_err(poisoned)?.get(sweep).copied())
    }

    async fn sweep(
        &self,
        sweep: &str,
        through: OffsetDateTime,
        _now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut sweeps = self.sweeps.lock().map_err(poisoned)?;
        let at = sweeps.entry(sweep.to_owned()).or_insert(through);
        if *at < through {
            *at = through;
        }
        Ok(())
    }
}

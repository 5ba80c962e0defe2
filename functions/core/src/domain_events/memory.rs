//! In-memory bus and person ids, for unit tests of the publisher.

use std::collections::HashMap;
use std::sync::Mutex;

use super::DomainEvent;
use super::publish::{BusError, EventBus, PersonIds};
use crate::privacy::ContactHash;
use crate::store::StoreError;

/// Keeps what it is given; refuses the entries whose kinds are in `refuse`, as a throttled bus does.
#[derive(Default)]
pub struct MemoryBus {
    pub published: Mutex<Vec<DomainEvent>>,
    pub refuse: Mutex<Vec<String>>,
    pub requests: Mutex<Vec<usize>>,
}

impl EventBus for MemoryBus {
    async fn put(&self, events: &[DomainEvent]) -> Result<Vec<bool>, BusError> {
        self.requests.lock().unwrap().push(events.len());
        let refuse = self.refuse.lock().unwrap().clone();
        let mut published = self.published.lock().unwrap();
        Ok(events
            .iter()
            .map(|e| {
                let ok = !refuse.contains(&e.kind);
                if ok {
                    published.push(e.clone());
                }
                ok
            })
            .collect())
    }
}

/// Person ids by contact.
#[derive(Default)]
pub struct MemoryPersonIds(pub HashMap<ContactHash, String>);

impl PersonIds for MemoryPersonIds {
    async fn person_ids(
        &self,
        contacts: &[ContactHash],
    ) -> Result<HashMap<ContactHash, String>, StoreError> {
        Ok(contacts
            .iter()
            .filter_map(|c| self.0.get(c).map(|id| (c.clone(), id.clone())))
            .collect())
    }
}

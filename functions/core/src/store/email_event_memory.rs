//! In-memory adapter of [`EmailEventStore`] for unit tests. Same semantics as the DynamoDB adapter.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use time::OffsetDateTime;

use super::StoreError;
use super::email_event::{EmailEventEffect, EmailEventRecord, EmailEventStore};
use crate::outbound::BatchId;

/// What the email-events path wrote on a contact, for assertions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryEmailContact {
    /// The hard bounce's reason, if any.
    pub undeliverable: Option<String>,
    /// Suppressed for marketing email after a complaint.
    pub suppressed: bool,
    pub soft_bounces: u64,
    /// Complaint evidence: the feedback type (`abuse` …, or `unknown`), oldest first.
    pub complaints: Vec<String>,
}

#[derive(Debug, Default)]
struct State {
    /// (contact, feedback id) applied.
    applied: HashSet<(String, String)>,
    contacts: HashMap<String, MemoryEmailContact>,
    /// (batch, counter) → count.
    counters: HashMap<(BatchId, &'static str), u64>,
}

#[derive(Debug, Default)]
pub struct MemoryEmailEventStore {
    state: Mutex<State>,
}

impl MemoryEmailEventStore {
    fn lock(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        self.state
            .lock()
            .map_err(|_| StoreError::Corrupt("poisoned".into()))
    }

    pub fn contact(&self, hash: &str) -> Option<MemoryEmailContact> {
        self.lock().ok()?.contacts.get(hash).cloned()
    }

    /// A batch counter (`bounced`, `complained`).
    pub fn counter(&self, batch: &BatchId, name: &str) -> u64 {
        let Ok(state) = self.lock() else { return 0 };
        state
            .counters
            .iter()
            .filter(|((b, n), _)| b == batch && *n == name)
            .map(|(_, v)| *v)
            .sum()
    }
}

impl EmailEventStore for MemoryEmailEventStore {
    async fn record(
        &self,
        record: &EmailEventRecord,
        _now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock()?;
        let key = (
            record.contact.as_str().to_string(),
            record.feedback_id.clone(),
        );
        if !state.applied.insert(key) {
            return Ok(false);
        }
        let contact = state
            .contacts
            .entry(record.contact.as_str().to_string())
            .or_default();
        match &record.effect {
            EmailEventEffect::Undeliverable { reason } => {
                contact.undeliverable = Some(reason.clone())
            }
            EmailEventEffect::SoftBounce => contact.soft_bounces += 1,
            EmailEventEffect::Complaint { feedback_type } => {
                contact.suppressed = true;
                contact
                    .complaints
                    .push(feedback_type.clone().unwrap_or_else(|| "unknown".into()));
            }
        }
        if let (Some(batch), Some(counter)) = (&record.batch, batch_counter(&record.effect)) {
            *state.counters.entry((batch.clone(), counter)).or_default() += 1;
        }
        Ok(true)
    }
}

/// The batch progress counter an effect adds to, if any (shared with the DynamoDB adapter).
pub(crate) fn batch_counter(effect: &EmailEventEffect) -> Option<&'static str> {
    match effect {
        EmailEventEffect::Undeliverable { .. } => Some("bounced"),
        EmailEventEffect::Complaint { .. } => Some("complained"),
        EmailEventEffect::SoftBounce => None,
    }
}

//! In-memory adapter of [`DeliveryStore`] for unit tests. Same semantics as the DynamoDB adapter.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use time::OffsetDateTime;

use super::delivery::{DeliveryEffect, DeliveryStore, Recorded, StatusRecord};
use super::{StoreError, timestamp};
use crate::outbound::BatchId;

/// The recorded outcome of one text, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryOutcome {
    pub status: &'static str,
    pub error_code: Option<u32>,
}

/// What the delivery path wrote on a contact, for assertions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryDeliveryContact {
    pub sms_opted_out: bool,
    /// The error code of the undeliverable mark, if any.
    pub undeliverable: Option<u32>,
    /// `action:source:code`, oldest first.
    pub consents: Vec<String>,
}

#[derive(Debug, Default)]
struct State {
    /// MessageSid → its outcome.
    outcomes: HashMap<String, MemoryOutcome>,
    contacts: HashMap<String, MemoryDeliveryContact>,
    /// (metric, day) → count.
    counters: HashMap<(String, String), u64>,
    /// Batch → `delivered`, summed over its counter shards.
    delivered: HashMap<BatchId, u64>,
    writes: usize,
}

#[derive(Debug, Default)]
pub struct MemoryDeliveryStore {
    state: Mutex<State>,
}

impl MemoryDeliveryStore {
    fn lock(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        self.state
            .lock()
            .map_err(|_| StoreError::Corrupt("poisoned".into()))
    }

    /// The outcome recorded for a text, if any.
    pub fn outcome(&self, sid: &str) -> Option<MemoryOutcome> {
        self.lock().ok()?.outcomes.get(sid).cloned()
    }

    pub fn contact(&self, hash: &str) -> Option<MemoryDeliveryContact> {
        self.lock().ok()?.contacts.get(hash).cloned()
    }

    pub fn counter(&self, metric: &str, day: &str) -> u64 {
        let Ok(state) = self.lock() else { return 0 };
        state
            .counters
            .get(&(metric.to_string(), day.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// The batch's `delivered` counter.
    pub fn delivered(&self, batch: &BatchId) -> u64 {
        let Ok(state) = self.lock() else { return 0 };
        state.delivered.get(batch).copied().unwrap_or(0)
    }

    /// Items written so far (a transaction of three items counts three).
    pub fn writes(&self) -> usize {
        self.lock().map(|s| s.writes).unwrap_or(0)
    }
}

impl DeliveryStore for MemoryDeliveryStore {
    async fn record(
        &self,
        record: &StatusRecord,
        now: OffsetDateTime,
    ) -> Result<Recorded, StoreError> {
        let mut state = self.lock()?;
        let sid = record.sid.as_str().to_string();
        if state.outcomes.contains_key(&sid) {
            return Ok(Recorded::Duplicate);
        }
        state.outcomes.insert(
            sid,
            MemoryOutcome {
                status: record.status,
                error_code: record.error_code,
            },
        );
        state.writes += 1;
        match &record.effect {
            DeliveryEffect::Nothing => {}
            DeliveryEffect::OptOut { contact, code } => {
                let c = state
                    .contacts
                    .entry(contact.as_str().to_string())
                    .or_default();
                c.sms_opted_out = true;
                c.consents.push(format!("opt_out:carrier:{code}"));
                state.writes += 2;
            }
            DeliveryEffect::Undeliverable { contact, code } => {
                state
                    .contacts
                    .entry(contact.as_str().to_string())
                    .or_default()
                    .undeliverable = Some(*code);
                state.writes += 1;
            }
            DeliveryEffect::CarrierFiltering { .. } => {
                let day = timestamp(now)[..10].to_string();
                *state
                    .counters
                    .entry(("carrier_filtering".to_string(), day))
                    .or_default() += 1;
                state.writes += 1;
            }
        }
        if let Some(batch) = &record.delivered_in {
            *state.delivered.entry(batch.clone()).or_default() += 1;
            state.writes += 1;
        }
        Ok(Recorded::Stored)
    }
}

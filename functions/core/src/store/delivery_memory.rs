//! In-memory adapter of [`DeliveryStore`] for unit tests. Same semantics as the DynamoDB adapter.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use time::OffsetDateTime;

use super::delivery::{DeliveryEffect, DeliveryStore, Recorded, StatusRecord};
use super::{StoreError, timestamp};
use crate::domain::MessageSid;
use crate::outbound::BatchId;

/// The summary of one outbound message, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemorySummary {
    pub status: &'static str,
    pub rank: u8,
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
    /// (MessageSid, status) → error code.
    statuses: BTreeMap<(String, String), Option<u32>>,
    summaries: HashMap<String, MemorySummary>,
    contacts: HashMap<String, MemoryDeliveryContact>,
    /// (metric, day) → count.
    counters: HashMap<(String, String), u64>,
    /// MessageSid → batch (`OUTBOUND#<sid>` / `BATCH`, written by the send worker).
    batch_pointers: HashMap<String, BatchId>,
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

    /// The statuses recorded for a message, in name order.
    pub fn statuses(&self, sid: &str) -> Vec<String> {
        let Ok(state) = self.lock() else {
            return vec![];
        };
        state
            .statuses
            .keys()
            .filter(|(s, _)| s == sid)
            .map(|(_, status)| status.clone())
            .collect()
    }

    pub fn summary(&self, sid: &str) -> Option<MemorySummary> {
        self.lock().ok()?.summaries.get(sid).cloned()
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

    /// Stages the send worker's pointer from a sent text to its batch.
    pub fn point_to_batch(&self, sid: &str, batch: &BatchId) {
        if let Ok(mut state) = self.lock() {
            state.batch_pointers.insert(sid.to_string(), batch.clone());
        }
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
        let key = (record.sid.as_str().to_string(), record.status.to_string());
        let duplicate = state.statuses.contains_key(&key);
        if !duplicate {
            state.statuses.insert(key, record.error_code);
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
        }
        let sid = record.sid.as_str().to_string();
        let summary_advanced = state
            .summaries
            .get(&sid)
            .is_none_or(|s| s.rank < record.rank);
        if summary_advanced {
            let previous_code = state.summaries.get(&sid).and_then(|s| s.error_code);
            state.summaries.insert(
                sid,
                MemorySummary {
                    status: record.status,
                    rank: record.rank,
                    error_code: record.error_code.or(previous_code),
                },
            );
            state.writes += 1;
        }
        Ok(Recorded {
            duplicate,
            summary_advanced,
        })
    }

    async fn count_delivered(
        &self,
        sid: &MessageSid,
        _now: OffsetDateTime,
    ) -> Result<Option<BatchId>, StoreError> {
        let mut state = self.lock()?;
        let Some(batch) = state.batch_pointers.get(sid.as_str()).cloned() else {
            return Ok(None);
        };
        *state.delivered.entry(batch.clone()).or_default() += 1;
        state.writes += 1;
        Ok(Some(batch))
    }
}

//! In-memory adapter of [`LinkStore`] and of the erasure, for unit tests. Same semantics as the
//! DynamoDB adapter: a second unsubscribe writes nothing, an erasure rewrites the contact (its
//! `email_suppressed` goes; `suppressed` covers every channel), and the erasure itself is
//! [`MemoryInboundStore`]'s.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use time::OffsetDateTime;

use super::{LinkStore, Suppressed, SuppressionEvidence, UNSUBSCRIBE_SOURCE};
use crate::privacy::ContactHash;
use crate::store::{
    Erased, Erasure, ErasureStore, MemoryGatheringStore, MemoryInboundStore, StoreError,
};

/// A contact's email suppression as the in-memory store keeps it, for assertions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemorySuppression {
    pub email_suppressed: bool,
    pub email_suppressed_at: Option<OffsetDateTime>,
    /// Evidence, oldest first: `opt_out:email:unsubscribe_link:<method>:<reference>`.
    pub consents: Vec<String>,
}

#[derive(Debug, Default)]
pub struct MemoryLinkStore {
    erasure: MemoryInboundStore,
    suppressions: Mutex<HashMap<String, MemorySuppression>>,
    writes: AtomicUsize,
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Corrupt("poisoned".into())
}

impl MemoryLinkStore {
    /// The erasure side (contacts, their state and evidence), for assertions.
    pub fn erasure(&self) -> &MemoryInboundStore {
        &self.erasure
    }

    pub fn suppression(&self, hash: &str) -> Option<MemorySuppression> {
        self.suppressions.lock().ok()?.get(hash).cloned()
    }

    /// How many writes (suppressions and erasures) were made.
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }
}

impl LinkStore for MemoryLinkStore {
    async fn suppress_email(
        &self,
        contact: &ContactHash,
        evidence: &SuppressionEvidence<'_>,
        now: OffsetDateTime,
    ) -> Result<Suppressed, StoreError> {
        let mut suppressions = self.suppressions.lock().map_err(poisoned)?;
        let entry = suppressions
            .entry(contact.as_str().to_string())
            .or_default();
        if entry.email_suppressed {
            return Ok(Suppressed::Already);
        }
        entry.email_suppressed = true;
        entry.email_suppressed_at = Some(now);
        entry.consents.push(format!(
            "opt_out:email:{UNSUBSCRIBE_SOURCE}:{}:{}",
            evidence.method.as_str(),
            evidence.reference
        ));
        self.writes.fetch_add(1, Ordering::SeqCst);
        Ok(Suppressed::Now)
    }

    async fn erasure_complete(&self, contact: &ContactHash) -> Result<bool, StoreError> {
        let hash = contact.as_str();
        Ok(self.erasure.contact(hash).is_some_and(|c| c.erased)
            && !self.erasure.holds_state_of(hash))
    }
}

impl ErasureStore<MemoryGatheringStore> for MemoryLinkStore {
    async fn erase_contact(
        &self,
        gatherings: &MemoryGatheringStore,
        erasure: &Erasure<'_>,
        now: OffsetDateTime,
    ) -> Result<Erased, StoreError> {
        let erased = self.erasure.erase_contact(gatherings, erasure, now).await?;
        if let Some(entry) = self
            .suppressions
            .lock()
            .map_err(poisoned)?
            .get_mut(erasure.contact.as_str())
        {
            // The contact item is rewritten to its suppression on every channel.
            entry.email_suppressed = false;
            entry.email_suppressed_at = None;
        }
        self.writes.fetch_add(1, Ordering::SeqCst);
        Ok(erased)
    }
}

//! In-memory adapter of the organizer tools' ports, for unit tests.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use time::OffsetDateTime;

use super::{AuditEntry, AuditLog, ConsentEvidence, ConsentRecord};
use crate::privacy::ContactHash;
use crate::store::StoreError;

#[derive(Debug, Default)]
pub struct MemoryAdminStore {
    consents: Mutex<HashMap<String, Vec<ConsentRecord>>>,
    contacts: Mutex<HashSet<String>>,
    audit: Mutex<Vec<AuditEntry>>,
    refuse_audit: AtomicBool,
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Corrupt("poisoned".into())
}

impl MemoryAdminStore {
    /// Stores a consent record for `contact` (who becomes known).
    pub fn add_consent(&self, contact: &ContactHash, record: ConsentRecord) {
        if let (Ok(mut consents), Ok(mut contacts)) = (self.consents.lock(), self.contacts.lock()) {
            consents
                .entry(contact.as_str().to_string())
                .or_default()
                .push(record);
            contacts.insert(contact.as_str().to_string());
        }
    }

    /// The audit records, in the order they were written (as updated by `finish`).
    pub fn audit_entries(&self) -> Vec<AuditEntry> {
        self.audit.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// Every later audit write fails, as a DynamoDB outage would.
    pub fn refuse_audit_writes(&self) {
        self.refuse_audit.store(true, Ordering::SeqCst);
    }

    fn check_audit(&self) -> Result<(), StoreError> {
        if self.refuse_audit.load(Ordering::SeqCst) {
            return Err(StoreError::Corrupt("audit writes refused (test)".into()));
        }
        Ok(())
    }
}

impl ConsentEvidence for MemoryAdminStore {
    async fn consent_records(
        &self,
        contact: &ContactHash,
    ) -> Result<Vec<ConsentRecord>, StoreError> {
        Ok(self
            .consents
            .lock()
            .map_err(poisoned)?
            .get(contact.as_str())
            .cloned()
            .unwrap_or_default())
    }

    async fn contact_known(&self, contact: &ContactHash) -> Result<bool, StoreError> {
        Ok(self
            .contacts
            .lock()
            .map_err(poisoned)?
            .contains(contact.as_str()))
    }
}

impl AuditLog for MemoryAdminStore {
    async fn record(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.check_audit()?;
        let mut audit = self.audit.lock().map_err(poisoned)?;
        if audit.iter().any(|e| e.sort_key() == entry.sort_key()) {
            return Err(StoreError::Corrupt("audit record exists".into()));
        }
        audit.push(entry.clone());
        Ok(())
    }

    async fn finish(&self, entry: &AuditEntry, _now: OffsetDateTime) -> Result<(), StoreError> {
        self.check_audit()?;
        let mut audit = self.audit.lock().map_err(poisoned)?;
        let stored = audit
            .iter_mut()
            .find(|e| e.sort_key() == entry.sort_key())
            .ok_or_else(|| StoreError::Corrupt("no such audit record".into()))?;
        stored.rows = entry.rows;
        stored.outcome = entry.outcome.clone();
        Ok(())
    }

    async fn list(&self, months: &[String], since: &str) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(self
            .audit
            .lock()
            .map_err(poisoned)?
            .iter()
            .filter(|e| {
                months.iter().any(|m| e.at.starts_with(m.as_str())) && e.at.as_str() >= since
            })
            .cloned()
            .collect())
    }
}

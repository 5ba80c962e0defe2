//! In-memory adapter for unit tests. Same semantics as the DynamoDB adapter, including expiry.

use std::collections::HashMap;
use std::sync::Mutex;
use time::OffsetDateTime;

use super::{Applied, ContactEffect, INBOUND_IDEMPOTENCY_TTL, InboundStore, StoreError};
use crate::domain::MessageSid;

/// A contact as the in-memory store keeps it, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryContact {
    pub sms_opted_in: bool,
    pub consents: Vec<String>,
}

#[derive(Debug, Default)]
pub struct MemoryInboundStore {
    processed: Mutex<HashMap<String, (String, OffsetDateTime)>>,
    contacts: Mutex<HashMap<String, MemoryContact>>,
}

impl MemoryInboundStore {
    pub fn contact(&self, hash: &str) -> Option<MemoryContact> {
        self.contacts.lock().ok()?.get(hash).cloned()
    }
    pub fn writes(&self) -> usize {
        self.processed.lock().map(|p| p.len()).unwrap_or(0)
    }
}

impl InboundStore for MemoryInboundStore {
    async fn processed_reply(&self, sid: &MessageSid, now: OffsetDateTime) -> Result<Option<String>, StoreError> {
        let processed = self.processed.lock().map_err(|_| StoreError::Corrupt("poisoned".into()))?;
        Ok(processed.get(sid.as_str()).filter(|(_, expires)| *expires > now).map(|(r, _)| r.clone()))
    }

    async fn apply(
        &self,
        sid: &MessageSid,
        effect: &ContactEffect,
        reply: &str,
        now: OffsetDateTime,
    ) -> Result<Applied, StoreError> {
        let mut processed = self.processed.lock().map_err(|_| StoreError::Corrupt("poisoned".into()))?;
        if let Some((reply, expires)) = processed.get(sid.as_str())
            && *expires > now
        {
            return Ok(Applied::AlreadyProcessed { reply: reply.clone() });
        }
        processed.insert(sid.as_str().to_string(), (reply.to_string(), now + INBOUND_IDEMPOTENCY_TTL));
        let mut contacts = self.contacts.lock().map_err(|_| StoreError::Corrupt("poisoned".into()))?;
        match effect {
            ContactEffect::OptIn { contact, keyword, .. } => {
                let c = contacts
                    .entry(contact.as_str().to_string())
                    .or_insert(MemoryContact { sms_opted_in: false, consents: vec![] });
                c.sms_opted_in = true;
                c.consents.push(format!("opt_in:{keyword}"));
            }
            ContactEffect::OptOut { contact, keyword } => {
                let c = contacts
                    .entry(contact.as_str().to_string())
                    .or_insert(MemoryContact { sms_opted_in: false, consents: vec![] });
                c.sms_opted_in = false;
                c.consents.push(format!("opt_out:{keyword}"));
            }
            ContactEffect::Nothing => {}
        }
        Ok(Applied::Stored)
    }
}

//! In-memory adapter for unit tests. Same semantics as the DynamoDB adapter, including expiry.

use std::collections::HashMap;
use std::sync::Mutex;
use time::OffsetDateTime;

use super::{
    Applied, ContactEffect, ContactState, ConversationState, INBOUND_IDEMPOTENCY_TTL, InboundStore,
    SmsStatus, StateChange, StoreError,
};
use crate::domain::{Language, MessageSid};
use crate::privacy::ContactHash;

/// A contact as the in-memory store keeps it, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryContact {
    pub sms_opted_in: bool,
    pub language: Language,
    pub consents: Vec<String>,
}

#[derive(Debug, Default)]
pub struct MemoryInboundStore {
    processed: Mutex<HashMap<String, (String, OffsetDateTime)>>,
    contacts: Mutex<HashMap<String, MemoryContact>>,
    daily_replies: Mutex<HashMap<String, String>>,
    conversations: Mutex<HashMap<String, ConversationState>>,
}

impl MemoryInboundStore {
    pub fn contact(&self, hash: &str) -> Option<MemoryContact> {
        self.contacts.lock().ok()?.get(hash).cloned()
    }
    pub fn writes(&self) -> usize {
        self.processed.lock().map(|p| p.len()).unwrap_or(0)
    }
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Corrupt("poisoned".into())
}

impl InboundStore for MemoryInboundStore {
    async fn contact_state(
        &self,
        contact: &ContactHash,
    ) -> Result<Option<ContactState>, StoreError> {
        let contacts = self.contacts.lock().map_err(poisoned)?;
        Ok(contacts.get(contact.as_str()).map(|c| ContactState {
            sms_status: Some(if c.sms_opted_in {
                SmsStatus::OptedIn
            } else {
                SmsStatus::OptedOut
            }),
            language: c.language,
        }))
    }

    async fn conversation(
        &self,
        contact: &ContactHash,
        _now: OffsetDateTime,
    ) -> Result<Option<ConversationState>, StoreError> {
        Ok(self
            .conversations
            .lock()
            .map_err(poisoned)?
            .get(contact.as_str())
            .cloned())
    }

    async fn claim_daily_reply(
        &self,
        contact: &ContactHash,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let day = super::timestamp(now)[..10].to_string();
        let mut replies = self.daily_replies.lock().map_err(poisoned)?;
        if replies.get(contact.as_str()) == Some(&day) {
            return Ok(false);
        }
        replies.insert(contact.as_str().to_string(), day);
        Ok(true)
    }

    async fn processed_reply(
        &self,
        sid: &MessageSid,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        let processed = self
            .processed
            .lock()
            .map_err(|_| StoreError::Corrupt("poisoned".into()))?;
        Ok(processed
            .get(sid.as_str())
            .filter(|(_, expires)| *expires > now)
            .map(|(r, _)| r.clone()))
    }

    async fn apply(
        &self,
        sid: &MessageSid,
        effect: &ContactEffect,
        conversation: &StateChange,
        reply: &str,
        now: OffsetDateTime,
    ) -> Result<Applied, StoreError> {
        let mut processed = self
            .processed
            .lock()
            .map_err(|_| StoreError::Corrupt("poisoned".into()))?;
        if let Some((reply, expires)) = processed.get(sid.as_str())
            && *expires > now
        {
            return Ok(Applied::AlreadyProcessed {
                reply: reply.clone(),
            });
        }
        processed.insert(
            sid.as_str().to_string(),
            (reply.to_string(), now + INBOUND_IDEMPOTENCY_TTL),
        );
        let mut contacts = self
            .contacts
            .lock()
            .map_err(|_| StoreError::Corrupt("poisoned".into()))?;
        match effect {
            ContactEffect::OptIn {
                contact,
                keyword,
                language,
                ..
            } => {
                let c = contacts
                    .entry(contact.as_str().to_string())
                    .or_insert(MemoryContact {
                        sms_opted_in: false,
                        language: *language,
                        consents: vec![],
                    });
                c.sms_opted_in = true;
                c.language = *language;
                c.consents.push(format!("opt_in:{keyword}"));
            }
            ContactEffect::OptOut {
                contact,
                keyword,
                source,
                language,
                ..
            } => {
                let c = contacts
                    .entry(contact.as_str().to_string())
                    .or_insert(MemoryContact {
                        sms_opted_in: false,
                        language: *language,
                        consents: vec![],
                    });
                c.sms_opted_in = false;
                c.language = *language;
                c.consents.push(format!("opt_out:{keyword}:{source}"));
            }
            ContactEffect::Nothing => {}
        }
        let mut conversations = self.conversations.lock().map_err(poisoned)?;
        match conversation {
            StateChange::Keep => {}
            StateChange::Set(contact, state) => {
                conversations.insert(contact.as_str().to_string(), state.clone());
            }
            StateChange::End(contact) => {
                conversations.remove(contact.as_str());
            }
        }
        Ok(Applied::Stored)
    }
}

//! In-memory adapter for unit tests. Same semantics as the DynamoDB adapter, including expiry.

use std::collections::HashMap;
use std::sync::Mutex;
use time::OffsetDateTime;

use super::{
    Applied, ContactEffect, ContactState, ConversationState, Erased, Erasure, ErasureStore,
    INBOUND_IDEMPOTENCY_TTL, InboundStore, MemoryGatheringStore, SmsStatus, StateChange,
    StoreError,
};
use crate::domain::{Language, MessageSid};
use crate::privacy::{ContactHash, Sealed};

/// A contact as the in-memory store keeps it, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryContact {
    pub sms_opted_in: bool,
    /// `None` once erased.
    pub language: Option<Language>,
    /// Consent evidence, oldest first: `opt_in:<keyword>`, `opt_out:<keyword>:<source>`,
    /// `erase:<keyword>:<source>`.
    pub consents: Vec<String>,
    /// Never to be contacted, on any channel.
    pub suppressed: bool,
    pub erased: bool,
    /// Gave this (email) address by text to get emails.
    pub email_opted_in: bool,
    /// The same person's other contact details (the phone that gave this address, and back).
    pub linked: Vec<String>,
    /// The number, sealed, kept from their opt-in by text.
    pub phone_sealed: Option<Sealed>,
}

/// A processed inbound message: the reply, when the record expires, and whose it is (until erased).
type Processed = (String, OffsetDateTime, Option<String>);

#[derive(Debug, Default)]
pub struct MemoryInboundStore {
    processed: Mutex<HashMap<String, Processed>>,
    contacts: Mutex<HashMap<String, MemoryContact>>,
    daily_replies: Mutex<HashMap<String, String>>,
    conversations: Mutex<HashMap<String, (ConversationState, OffsetDateTime)>>,
    outbox: Mutex<Vec<crate::outbound::NewMessage>>,
}

impl MemoryInboundStore {
    /// Messages stored for sending with a turn, oldest first.
    pub fn outbox(&self) -> Vec<crate::outbound::NewMessage> {
        self.outbox.lock().map(|o| o.clone()).unwrap_or_default()
    }
    pub fn contact(&self, hash: &str) -> Option<MemoryContact> {
        self.contacts.lock().ok()?.get(hash).cloned()
    }
    pub fn writes(&self) -> usize {
        self.processed.lock().map(|p| p.len()).unwrap_or(0)
    }
    /// The stored (sealed) replies to a contact's messages that still name them.
    pub fn replies_of(&self, hash: &str) -> Vec<String> {
        self.processed
            .lock()
            .map(|p| {
                p.values()
                    .filter(|(_, _, c)| c.as_deref() == Some(hash))
                    .map(|(r, _, _)| r.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
    /// Whether any item is kept under this contact's key besides the contact and its evidence.
    pub fn holds_state_of(&self, hash: &str) -> bool {
        let conversation = self
            .conversations
            .lock()
            .map(|c| c.contains_key(hash))
            .unwrap_or(true);
        let daily = self
            .daily_replies
            .lock()
            .map(|d| d.contains_key(hash))
            .unwrap_or(true);
        conversation || daily || !self.replies_of(hash).is_empty()
    }
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Corrupt("poisoned".into())
}

fn new_contact(language: Language) -> MemoryContact {
    MemoryContact {
        sms_opted_in: false,
        language: Some(language),
        consents: vec![],
        suppressed: false,
        erased: false,
        email_opted_in: false,
        linked: vec![],
        phone_sealed: None,
    }
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
            language: c.language.unwrap_or_default(),
            erased: c.erased,
        }))
    }

    async fn conversation(
        &self,
        contact: &ContactHash,
        now: OffsetDateTime,
    ) -> Result<Option<ConversationState>, StoreError> {
        Ok(self
            .conversations
            .lock()
            .map_err(poisoned)?
            .get(contact.as_str())
            .filter(|(_, expires)| *expires > now)
            .and_then(|(state, _)| state.clone().in_force(now)))
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
        let processed = self.processed.lock().map_err(poisoned)?;
        Ok(processed
            .get(sid.as_str())
            .filter(|(_, expires, _)| *expires > now)
            .map(|(r, _, _)| r.clone()))
    }

    async fn apply(
        &self,
        sid: &MessageSid,
        sender: &ContactHash,
        effect: &ContactEffect,
        conversation: &StateChange,
        reply: &str,
        now: OffsetDateTime,
    ) -> Result<Applied, StoreError> {
        let mut processed = self.processed.lock().map_err(poisoned)?;
        if let Some((reply, expires, _)) = processed.get(sid.as_str())
            && *expires > now
        {
            return Ok(Applied::AlreadyProcessed {
                reply: reply.clone(),
            });
        }
        processed.insert(
            sid.as_str().to_string(),
            (
                reply.to_string(),
                now + INBOUND_IDEMPOTENCY_TTL,
                Some(sender.as_str().to_string()),
            ),
        );
        let mut contacts = self.contacts.lock().map_err(poisoned)?;
        match effect {
            ContactEffect::OptIn {
                contact,
                keyword,
                language,
                lifts_erasure,
                address,
                ..
            } => {
                let c = contacts
                    .entry(contact.as_str().to_string())
                    .or_insert_with(|| new_contact(*language));
                c.sms_opted_in = true;
                if address.is_some() {
                    c.phone_sealed = address.clone();
                }
                c.language = Some(*language);
                if *lifts_erasure {
                    // Their own text is a new consent: the suppression of the erasure lifts.
                    c.suppressed = false;
                    c.erased = false;
                }
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
                    .or_insert_with(|| new_contact(*language));
                c.sms_opted_in = false;
                c.language = Some(*language);
                c.consents.push(format!("opt_out:{keyword}:{source}"));
            }
            ContactEffect::EmailOptIn {
                contact,
                language,
                message,
                ..
            } => {
                let c = contacts
                    .entry(contact.as_str().to_string())
                    .or_insert_with(|| new_contact(*language));
                c.email_opted_in = true;
                c.consents.push("email_opt_in:sms".to_string());
                c.linked.push(sender.as_str().to_string());
                contacts
                    .entry(sender.as_str().to_string())
                    .or_insert_with(|| new_contact(*language))
                    .linked
                    .push(contact.as_str().to_string());
                let mut outbox = self.outbox.lock().map_err(poisoned)?;
                if !outbox.iter().any(|m| m.id == message.id) {
                    outbox.push((**message).clone());
                }
            }
            ContactEffect::Nothing => {}
        }
        let mut conversations = self.conversations.lock().map_err(poisoned)?;
        match conversation {
            StateChange::Keep => {}
            StateChange::Set(contact, state) => {
                conversations.insert(
                    contact.as_str().to_string(),
                    (state.clone(), state.expires_at(now)),
                );
            }
            StateChange::End(contact) => {
                conversations.remove(contact.as_str());
            }
        }
        Ok(Applied::Stored)
    }
}

impl ErasureStore<MemoryGatheringStore> for MemoryInboundStore {
    async fn erase_contact(
        &self,
        gatherings: &MemoryGatheringStore,
        erasure: &Erasure<'_>,
        now: OffsetDateTime,
    ) -> Result<Erased, StoreError> {
        let hash = erasure.contact.as_str();
        // Held throughout: the idempotency record is checked first and written last.
        let mut processed = self.processed.lock().map_err(poisoned)?;
        if let Some(inbound) = &erasure.inbound
            && let Some((reply, expires, _)) = processed.get(inbound.sid.as_str())
            && *expires > now
        {
            return Ok(Erased::AlreadyProcessed {
                reply: reply.clone(),
            });
        }
        let rsvps = gatherings.withdraw_all(erasure.contact)?;
        let mut items = 0;
        if self
            .conversations
            .lock()
            .map_err(poisoned)?
            .remove(hash)
            .is_some()
        {
            items += 1;
        }
        if self
            .daily_replies
            .lock()
            .map_err(poisoned)?
            .remove(hash)
            .is_some()
        {
            items += 1;
        }
        for (reply, _, owner) in processed.values_mut() {
            if owner.as_deref() == Some(hash) {
                reply.clear();
                *owner = None;
                items += 1;
            }
        }
        let mut contacts = self.contacts.lock().map_err(poisoned)?;
        let evidence = &erasure.evidence;
        let contact = contacts
            .entry(hash.to_string())
            .or_insert_with(|| new_contact(evidence.language));
        contact.sms_opted_in = false;
        contact.language = None;
        contact.suppressed = true;
        contact.erased = true;
        contact.phone_sealed = None;
        contact.consents.push(format!(
            "erase:{}:{}",
            evidence.keyword.unwrap_or(""),
            evidence.source
        ));
        // The person's other contact details go with it.
        for other in std::mem::take(&mut contact.linked) {
            if let Some(linked) = contacts.get_mut(&other) {
                linked.sms_opted_in = false;
                linked.email_opted_in = false;
                linked.language = None;
                linked.suppressed = true;
                linked.erased = true;
                linked.linked.clear();
                linked.phone_sealed = None;
            }
        }
        if let Some(inbound) = &erasure.inbound {
            processed.insert(
                inbound.sid.as_str().to_string(),
                (
                    inbound.reply.to_string(),
                    now + INBOUND_IDEMPOTENCY_TTL,
                    None,
                ),
            );
        }
        Ok(Erased::Done {
            rsvps,
            items,
            transactions: 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        AddressDraft, FirstName, GatheringCode, GatheringDraft, GatheringId, GatheringTitle,
        PhoneNumber, Zip,
    };
    use crate::privacy::{ContactHasher, Sealer, field_context};
    use crate::store::{
        ErasureEvidence, GatheringStore, InboundReply, NewRsvp, RsvpSource, RsvpStore, Step,
    };

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn person(n: u16) -> ContactHash {
        ContactHasher::from_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
            .unwrap()
            .phone(&PhoneNumber::parse(&format!("+1202555{:04}", 300 + n)).unwrap())
    }

    fn sid(n: u32) -> MessageSid {
        MessageSid::parse(&format!("SM{n:032x}")).unwrap()
    }

    fn evidence(reference: &str) -> ErasureEvidence<'_> {
        ErasureEvidence {
            reference,
            source: "sms",
            keyword: Some("DELETE"),
            wording: Some("Your details are erased."),
            language: Language::En,
        }
    }

    async fn joined(
        store: &MemoryInboundStore,
        contact: &ContactHash,
        n: u32,
        after_erasure: bool,
    ) {
        let effect = ContactEffect::OptIn {
            contact: contact.clone(),
            keyword: "JOIN".into(),
            wording: "Welcome".into(),
            language: Language::Es,
            lifts_erasure: after_erasure,
            address: None,
        };
        let state = ConversationState {
            step: Step::AwaitingZip,
            language: Language::Es,
            first_name: None,
        };
        store
            .apply(
                &sid(n),
                contact,
                &effect,
                &StateChange::Set(contact.clone(), state),
                "sealed reply naming them",
                now(),
            )
            .await
            .unwrap();
    }

    async fn gathering_with_rsvp(
        gatherings: &MemoryGatheringStore,
        contact: &ContactHash,
    ) -> GatheringId {
        let sealer = Sealer::in_memory();
        let id = GatheringId::random();
        let g = GatheringDraft {
            code: GatheringCode::parse("MAPLE5").unwrap(),
            title: GatheringTitle::parse("Potluck").unwrap(),
            starts_at: now() + time::Duration::days(2),
            ends_at: now() + time::Duration::days(2) + time::Duration::hours(2),
            zip: Zip::parse("20001").unwrap(),
            timezone: None,
            town: None,
            location: None,
            address: AddressDraft::Public("Library".into()),
            host_first_name: FirstName::parse("Rosa").unwrap(),
            capacity: None,
            language: Language::En,
            listed: true,
            host: None,
            description: String::new(),
            accessibility: String::new(),
        }
        .seal(id.clone(), &sealer)
        .await
        .unwrap();
        gatherings.put(&g, now()).await.unwrap();
        let name = sealer
            .seal(&field_context(contact, "first_name"), "Ana")
            .await
            .unwrap();
        let rsvp = NewRsvp {
            gathering: &id,
            contact,
            source: RsvpSource::Sms,
            language: Language::En,
            first_name: &name,
            referral: None,
        };
        gatherings.rsvp(rsvp, now()).await.unwrap();
        id
    }

    #[tokio::test]
    async fn an_erasure_leaves_only_a_suppressed_contact_and_the_evidence() {
        let (store, gatherings) = (MemoryInboundStore::default(), MemoryGatheringStore::new());
        let (ana, ben) = (person(1), person(2));
        joined(&store, &ana, 1, false).await;
        joined(&store, &ben, 2, false).await;
        store.claim_daily_reply(&ana, now()).await.unwrap();
        let id = gathering_with_rsvp(&gatherings, &ana).await;
        let reference = sid(3);
        let erasure = Erasure {
            contact: &ana,
            evidence: evidence(reference.as_str()),
            inbound: Some(InboundReply {
                sid: &reference,
                reply: "sealed confirmation",
            }),
        };

        let erased = store
            .erase_contact(&gatherings, &erasure, now())
            .await
            .unwrap();

        assert_eq!(
            erased,
            Erased::Done {
                rsvps: 1,
                items: 3,
                transactions: 1
            }
        );
        assert!(!store.holds_state_of(ana.as_str()));
        assert_eq!(store.conversation(&ana, now()).await.unwrap(), None);
        assert!(gatherings.rsvps_of(&ana).await.unwrap().is_empty());
        assert_eq!(gatherings.going_count(&id), Some(0));
        assert_eq!(
            store.contact(ana.as_str()),
            Some(MemoryContact {
                sms_opted_in: false,
                language: None,
                consents: vec!["opt_in:JOIN".into(), "erase:DELETE:sms".into()],
                suppressed: true,
                erased: true,
                email_opted_in: false,
                linked: vec![],
                phone_sealed: None,
            })
        );
        assert_eq!(
            store.processed_reply(&sid(1), now()).await.unwrap(),
            Some(String::new()),
            "a retry of an old message is still recognised, and its reply no longer names them"
        );
        assert_eq!(
            store.processed_reply(&reference, now()).await.unwrap(),
            Some("sealed confirmation".into())
        );
        assert!(store.holds_state_of(ben.as_str()), "others are untouched");
        assert!(store.contact(ben.as_str()).unwrap().sms_opted_in);
    }

    #[tokio::test]
    async fn the_same_erasing_message_twice_writes_nothing_the_second_time() {
        let (store, gatherings) = (MemoryInboundStore::default(), MemoryGatheringStore::new());
        let ana = person(1);
        joined(&store, &ana, 1, false).await;
        let reference = sid(2);
        let erasure = Erasure {
            contact: &ana,
            evidence: evidence(reference.as_str()),
            inbound: Some(InboundReply {
                sid: &reference,
                reply: "first",
            }),
        };
        store
            .erase_contact(&gatherings, &erasure, now())
            .await
            .unwrap();
        let again = Erasure {
            inbound: Some(InboundReply {
                sid: &reference,
                reply: "second",
            }),
            ..erasure.clone()
        };
        assert_eq!(
            store
                .erase_contact(&gatherings, &again, now())
                .await
                .unwrap(),
            Erased::AlreadyProcessed {
                reply: "first".into()
            }
        );
        assert_eq!(store.contact(ana.as_str()).unwrap().consents.len(), 2);
    }

    #[tokio::test]
    async fn an_unknown_contact_can_be_erased_and_is_then_suppressed() {
        let (store, gatherings) = (MemoryInboundStore::default(), MemoryGatheringStore::new());
        let ana = person(1);
        let erasure = Erasure {
            contact: &ana,
            evidence: evidence("req-1"),
            inbound: None,
        };
        store
            .erase_contact(&gatherings, &erasure, now())
            .await
            .unwrap();
        let contact = store.contact(ana.as_str()).unwrap();
        assert!(contact.erased && contact.suppressed && !contact.sms_opted_in);
    }

    #[tokio::test]
    async fn an_opt_in_by_their_own_text_after_an_erasure_lifts_the_suppression() {
        let (store, gatherings) = (MemoryInboundStore::default(), MemoryGatheringStore::new());
        let ana = person(1);
        joined(&store, &ana, 1, false).await;
        let erasure = Erasure {
            contact: &ana,
            evidence: evidence("req-1"),
            inbound: None,
        };
        store
            .erase_contact(&gatherings, &erasure, now())
            .await
            .unwrap();
        joined(&store, &ana, 2, true).await;
        let contact = store.contact(ana.as_str()).unwrap();
        assert!(contact.sms_opted_in && !contact.erased && !contact.suppressed);
        assert_eq!(contact.language, Some(Language::Es));
    }
}

//! Text to join: what an inbound text does and what we answer. This first version handles the
//! keywords JOIN, STOP (and its synonyms) and HELP; the full conversation builds on it.

mod webhook;

pub use webhook::{InboundSmsError, SmsInbound};

use time::OffsetDateTime;

use crate::domain::{Keyword, MessageSid, PhoneNumber};
use crate::messages;
use crate::privacy::ContactHasher;
use crate::store::{Applied, ContactEffect, InboundStore, StoreError};

/// An inbound text, already authenticated and parsed.
#[derive(Debug, Clone)]
pub struct InboundText {
    pub sid: MessageSid,
    pub from: PhoneNumber,
    pub body: String,
}

/// Decides the effect and reply of an inbound text and stores them atomically, once per MessageSid.
/// Returns the reply text ("" for no reply).
#[tracing::instrument(name = "conversation.respond", skip_all, fields(message_sid = %text.sid.as_str()))]
pub async fn respond<S: InboundStore>(
    store: &S,
    hasher: &ContactHasher,
    text: &InboundText,
    now: OffsetDateTime,
) -> Result<String, StoreError> {
    if let Some(reply) = store.processed_reply(&text.sid, now).await? {
        tracing::info!(outcome = "duplicate", "message already processed; repeating the reply");
        return Ok(reply);
    }
    let catalog = messages::EN;
    let keyword = Keyword::recognise(&text.body);
    let contact = hasher.phone(&text.from);
    let (effect, reply) = match keyword {
        Some(Keyword::Join) => (
            ContactEffect::OptIn {
                contact,
                keyword: Keyword::Join.as_str().to_string(),
                wording: catalog.welcome.to_string(),
            },
            catalog.welcome,
        ),
        // Twilio answers STOP itself (and blocks further texts); any reply of ours would be dropped.
        Some(Keyword::Stop) => {
            (ContactEffect::OptOut { contact, keyword: Keyword::Stop.as_str().to_string() }, "")
        }
        Some(Keyword::Help) => (ContactEffect::Nothing, catalog.help),
        None => (ContactEffect::Nothing, ""),
    };
    let applied = store.apply(&text.sid, &effect, reply, now).await?;
    let (outcome, reply) = match applied {
        Applied::Stored => ("stored", reply.to_string()),
        Applied::AlreadyProcessed { reply } => ("duplicate", reply),
    };
    tracing::info!(outcome, keyword = keyword.map(Keyword::as_str), "inbound text handled");
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryInboundStore;

    fn hasher() -> ContactHasher {
        ContactHasher::from_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=").unwrap()
    }

    fn text(sid: &str, body: &str) -> InboundText {
        InboundText {
            sid: MessageSid::parse(sid).unwrap(),
            from: PhoneNumber::parse("+12025550143").unwrap(),
            body: body.into(),
        }
    }

    const SID: &str = "SM00000000000000000000000000000001";
    const SID2: &str = "SM00000000000000000000000000000002";

    #[tokio::test]
    async fn join_opts_the_sender_in_and_answers_with_the_welcome() {
        let store = MemoryInboundStore::default();
        let reply = respond(&store, &hasher(), &text(SID, " join "), OffsetDateTime::now_utc()).await.unwrap();
        assert_eq!(reply, messages::EN.welcome);
        let hash = hasher().phone(&PhoneNumber::parse("+12025550143").unwrap());
        assert!(store.contact(hash.as_str()).unwrap().sms_opted_in);
    }

    #[tokio::test]
    async fn the_same_message_delivered_twice_is_stored_once_and_answered_the_same() {
        let store = MemoryInboundStore::default();
        let now = OffsetDateTime::now_utc();
        let first = respond(&store, &hasher(), &text(SID, "JOIN"), now).await.unwrap();
        let second = respond(&store, &hasher(), &text(SID, "JOIN"), now).await.unwrap();
        assert_eq!(first, second);
        let hash = hasher().phone(&PhoneNumber::parse("+12025550143").unwrap());
        assert_eq!(store.contact(hash.as_str()).unwrap().consents.len(), 1);
    }

    #[tokio::test]
    async fn stop_after_join_opts_the_sender_out_without_a_reply() {
        let store = MemoryInboundStore::default();
        let now = OffsetDateTime::now_utc();
        respond(&store, &hasher(), &text(SID, "JOIN"), now).await.unwrap();
        let reply = respond(&store, &hasher(), &text(SID2, "Stop"), now).await.unwrap();
        assert_eq!(reply, "");
        let hash = hasher().phone(&PhoneNumber::parse("+12025550143").unwrap());
        let contact = store.contact(hash.as_str()).unwrap();
        assert!(!contact.sms_opted_in);
        assert_eq!(contact.consents, vec!["opt_in:JOIN", "opt_out:STOP"]);
    }

    #[tokio::test]
    async fn other_text_changes_nothing_and_gets_no_reply_yet() {
        let store = MemoryInboundStore::default();
        let reply = respond(&store, &hasher(), &text(SID, "hello?"), OffsetDateTime::now_utc()).await.unwrap();
        assert_eq!(reply, "");
        let hash = hasher().phone(&PhoneNumber::parse("+12025550143").unwrap());
        assert!(store.contact(hash.as_str()).is_none());
    }

    #[tokio::test]
    async fn an_expired_idempotency_record_counts_as_absent() {
        let store = MemoryInboundStore::default();
        let now = OffsetDateTime::now_utc();
        respond(&store, &hasher(), &text(SID, "HELP"), now).await.unwrap();
        let later = now + crate::store::INBOUND_IDEMPOTENCY_TTL + time::Duration::seconds(1);
        assert_eq!(store.processed_reply(&MessageSid::parse(SID).unwrap(), later).await.unwrap(), None);
    }
}

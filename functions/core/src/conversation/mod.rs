//! Text to join: what an inbound text does and what we answer. Compliance keywords come first and
//! work on every path: STOP and its synonyms (English and Spanish) and free-text revocation opt the
//! sender out with one confirmation and never another text; START opts back in; HELP answers who we
//! are. A campaign keyword (JOIN, UNIRME) opts in. A stranger's other text gets a short pointer, at
//! most once a day.

mod webhook;

pub use webhook::{InboundSmsError, SmsInbound};

use time::OffsetDateTime;

use crate::config::ProgramConfig;
use crate::domain::{Keyword, Language, MessageSid, PhoneNumber, whole_word};
use crate::messages::{self, Catalog};
use crate::privacy::ContactHasher;
use crate::store::{Applied, ContactEffect, ContactState, InboundStore, SmsStatus, StoreError};

/// An inbound text, already authenticated and parsed.
#[derive(Debug, Clone)]
pub struct InboundText {
    pub sid: MessageSid,
    pub from: PhoneNumber,
    pub body: String,
    /// Twilio's `OptOutType` (`STOP`, `START`, `HELP`): present when Twilio's own opt-out handling
    /// already answered the keyword, so rising must record it and not answer a second time.
    pub opt_out_type: Option<String>,
}

/// Campaign keywords built into every deployment, with the language they start in.
const CAMPAIGN_KEYWORDS: [(&str, Language); 3] =
    [("JOIN", Language::En), ("RISING", Language::En), ("UNIRME", Language::Es)];

fn campaign_keyword(body: &str) -> Option<(&'static str, Language)> {
    let word = whole_word(body);
    CAMPAIGN_KEYWORDS.iter().copied().find(|(w, _)| word.eq_ignore_ascii_case(w))
}

/// Decides the effect and reply of an inbound text and stores them atomically, once per MessageSid.
/// Returns the reply text ("" for no reply).
#[tracing::instrument(name = "conversation.respond", skip_all, fields(message_sid = %text.sid.as_str()))]
pub async fn respond<S: InboundStore>(
    store: &S,
    hasher: &ContactHasher,
    program: &ProgramConfig,
    text: &InboundText,
    now: OffsetDateTime,
) -> Result<String, StoreError> {
    if let Some(reply) = store.processed_reply(&text.sid, now).await? {
        tracing::info!(outcome = "duplicate", "message already processed; repeating the reply");
        return Ok(reply);
    }
    let contact = hasher.phone(&text.from);
    let known = store.contact_state(&contact).await?;
    let opted_out = known.as_ref().is_some_and(|c| c.sms_status == Some(SmsStatus::OptedOut));
    let known_language = known.as_ref().map(|c: &ContactState| c.language);
    let handled_by_twilio = |word: &str| text.opt_out_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(word));
    let fill = |template: &str| {
        messages::render(template, &[("program", &program.name), ("contact", &program.support_contact)])
    };
    let catalog = |language: Language| -> &'static Catalog { messages::catalog(language) };

    let (kind, effect, reply) = match Keyword::recognise(&text.body) {
        Some(Keyword::Stop { word, language }) => {
            let language = language.or(known_language).unwrap_or_default();
            let twilio = handled_by_twilio("STOP");
            // One confirmation, never another text: none if Twilio confirmed, or if already opted out.
            let reply = if twilio || opted_out { String::new() } else { fill(catalog(language).stopped) };
            let source = if twilio {
                "twilio_advanced_opt_out"
            } else if word == "REVOCATION" {
                "revocation"
            } else {
                "keyword"
            };
            let wording = (!reply.is_empty()).then(|| reply.clone());
            let effect =
                ContactEffect::OptOut { contact, keyword: word.to_string(), source, wording, language };
            ("stop", effect, reply)
        }
        Some(Keyword::Start { word }) => {
            let language = known_language.unwrap_or_default();
            let confirmation = fill(catalog(language).restarted);
            let reply = if handled_by_twilio("START") { String::new() } else { confirmation.clone() };
            let effect = ContactEffect::OptIn { contact, keyword: word.to_string(), wording: confirmation, language };
            ("start", effect, reply)
        }
        Some(Keyword::Help { language, .. }) => {
            let language = language.or(known_language).unwrap_or_default();
            let reply = if handled_by_twilio("HELP") { String::new() } else { fill(catalog(language).help) };
            ("help", ContactEffect::Nothing, reply)
        }
        None => match campaign_keyword(&text.body) {
            Some((word, language)) => {
                let welcome = fill(catalog(language).welcome);
                let effect =
                    ContactEffect::OptIn { contact, keyword: word.to_string(), wording: welcome.clone(), language };
                ("join", effect, welcome)
            }
            None if known.is_some() => ("other", ContactEffect::Nothing, String::new()),
            None => {
                let reply = if store.claim_daily_reply(&contact, now).await? {
                    fill(catalog(Language::En).stranger)
                } else {
                    String::new()
                };
                ("stranger", ContactEffect::Nothing, reply)
            }
        },
    };
    let applied = store.apply(&text.sid, &effect, &reply, now).await?;
    let (outcome, reply) = match applied {
        Applied::Stored => ("stored", reply),
        Applied::AlreadyProcessed { reply } => ("duplicate", reply),
    };
    tracing::info!(outcome, kind, replied = !reply.is_empty(), "inbound text handled");
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryInboundStore;

    const PHONE: &str = "+12025550143";

    fn hasher() -> ContactHasher {
        ContactHasher::from_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=").unwrap()
    }

    fn program() -> ProgramConfig {
        ProgramConfig { name: "rising".into(), support_contact: "help@example.org".into() }
    }

    fn sid(n: u32) -> MessageSid {
        MessageSid::parse(&format!("SM{n:032x}")).unwrap()
    }

    fn text(n: u32, body: &str) -> InboundText {
        InboundText { sid: sid(n), from: PhoneNumber::parse(PHONE).unwrap(), body: body.into(), opt_out_type: None }
    }

    fn contact(store: &MemoryInboundStore) -> Option<crate::store::MemoryContact> {
        store.contact(hasher().phone(&PhoneNumber::parse(PHONE).unwrap()).as_str())
    }

    async fn say(store: &MemoryInboundStore, n: u32, body: &str) -> String {
        respond(store, &hasher(), &program(), &text(n, body), OffsetDateTime::now_utc()).await.unwrap()
    }

    #[tokio::test]
    async fn join_opts_the_sender_in_and_answers_with_the_welcome() {
        let store = MemoryInboundStore::default();
        let reply = say(&store, 1, " join ").await;
        assert!(reply.starts_with("Welcome to rising!"), "{reply}");
        assert!(contact(&store).unwrap().sms_opted_in);
    }

    #[tokio::test]
    async fn unirme_opts_in_in_spanish_and_later_help_answers_in_spanish() {
        let store = MemoryInboundStore::default();
        let reply = say(&store, 1, "Unirme").await;
        assert!(reply.starts_with("¡Bienvenido a rising!"), "{reply}");
        assert_eq!(contact(&store).unwrap().language, Language::Es);
        assert!(say(&store, 2, "HELP").await.contains("Responde STOP para cancelar"));
    }

    #[tokio::test]
    async fn the_same_message_delivered_twice_is_stored_once_and_answered_the_same() {
        let store = MemoryInboundStore::default();
        let now = OffsetDateTime::now_utc();
        let first = respond(&store, &hasher(), &program(), &text(1, "JOIN"), now).await.unwrap();
        let second = respond(&store, &hasher(), &program(), &text(1, "JOIN"), now).await.unwrap();
        assert_eq!(first, second);
        assert_eq!(contact(&store).unwrap().consents.len(), 1);
    }

    #[tokio::test]
    async fn stop_opts_out_with_one_confirmation_and_never_another_text() {
        let store = MemoryInboundStore::default();
        say(&store, 1, "JOIN").await;
        let confirmation = say(&store, 2, "Stop").await;
        assert!(confirmation.contains("no more texts"), "{confirmation}");
        assert!(!contact(&store).unwrap().sms_opted_in);
        assert_eq!(say(&store, 3, "STOP").await, "", "a second STOP gets no second confirmation");
        assert_eq!(say(&store, 4, "hello?").await, "", "an opted-out person is never texted");
        assert_eq!(contact(&store).unwrap().consents, vec!["opt_in:JOIN", "opt_out:STOP:keyword", "opt_out:STOP:keyword"]);
    }

    #[tokio::test]
    async fn spanish_stop_confirms_in_spanish() {
        let store = MemoryInboundStore::default();
        let reply = say(&store, 1, "parar").await;
        assert!(reply.contains("Responde START para volver"), "{reply}");
    }

    #[tokio::test]
    async fn free_text_revocation_opts_out_and_is_recorded_as_a_revocation() {
        let store = MemoryInboundStore::default();
        say(&store, 1, "JOIN").await;
        let reply = say(&store, 2, "Please stop texting me").await;
        assert!(reply.contains("unsubscribed"));
        assert_eq!(contact(&store).unwrap().consents[1], "opt_out:REVOCATION:revocation");
    }

    #[tokio::test]
    async fn when_twilio_already_handled_stop_it_is_recorded_without_a_second_confirmation() {
        let store = MemoryInboundStore::default();
        say(&store, 1, "JOIN").await;
        let mut stop = text(2, "STOP");
        stop.opt_out_type = Some("STOP".into());
        let reply = respond(&store, &hasher(), &program(), &stop, OffsetDateTime::now_utc()).await.unwrap();
        assert_eq!(reply, "");
        assert_eq!(contact(&store).unwrap().consents[1], "opt_out:STOP:twilio_advanced_opt_out");
    }

    #[tokio::test]
    async fn start_opts_back_in_with_a_confirmation() {
        let store = MemoryInboundStore::default();
        say(&store, 1, "JOIN").await;
        say(&store, 2, "STOP").await;
        let reply = say(&store, 3, "start").await;
        assert!(reply.contains("subscribed again"), "{reply}");
        assert!(contact(&store).unwrap().sms_opted_in);
    }

    #[tokio::test]
    async fn help_names_the_program_the_contact_and_how_to_stop() {
        let store = MemoryInboundStore::default();
        let reply = say(&store, 1, "help").await;
        assert!(reply.starts_with("rising:") && reply.contains("help@example.org"), "{reply}");
        assert!(reply.contains("Msg & data rates may apply. Reply STOP to cancel."));
        assert!(contact(&store).is_none(), "HELP stores no contact");
    }

    #[tokio::test]
    async fn a_stranger_gets_one_pointer_a_day_not_a_loop() {
        let store = MemoryInboundStore::default();
        let first = say(&store, 1, "who is this?").await;
        assert!(first.contains("Text JOIN"), "{first}");
        assert_eq!(say(&store, 2, "hello??").await, "");
        assert!(contact(&store).is_none());
    }

    #[tokio::test]
    async fn an_expired_idempotency_record_counts_as_absent() {
        let store = MemoryInboundStore::default();
        let now = OffsetDateTime::now_utc();
        respond(&store, &hasher(), &program(), &text(1, "HELP"), now).await.unwrap();
        let later = now + crate::store::INBOUND_IDEMPOTENCY_TTL + time::Duration::seconds(1);
        assert_eq!(store.processed_reply(&sid(1), later).await.unwrap(), None);
    }
}

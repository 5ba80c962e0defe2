//! Text to join: what an inbound text does and what we answer.
//!
//! Compliance keywords come first and work in every state: STOP and its synonyms (English and
//! Spanish) and free-text revocation opt the sender out with one confirmation and never another
//! text; START opts back in; HELP answers who we are. Then the conversation: a campaign keyword
//! (JOIN, RISING, UNIRME, or one an organizer configured) → first name → ZIP code → up to three
//! nearest upcoming gatherings → a number → RSVP and confirmation. A gathering's own code (MAPLE5)
//! skips to first name → RSVP. A stranger's other text gets a short pointer, at most once a day.
//! State lives in DynamoDB with a TTL and is written atomically with the reply, once per MessageSid.
//!
//! **DELETE.** `DELETE` (or `BORRAR`) as the whole message, in any state, asks them to text it again
//! within [`crate::store::DELETE_CONFIRMATION_WINDOW`]; a second one in time erases them
//! ([`forget`]) and confirms it, the last text they get. Anything else in between cancels the request
//! and is handled as if it had not been made (the question it interrupted is back); after the window
//! a DELETE asks again.

pub(crate) mod email_step;
pub mod forget;
mod webhook;

pub use email_step::{EmailContext, outbound_id, queued_for, recordings_email};

pub use webhook::{InboundSmsError, SmsInbound};

use time::OffsetDateTime;

use crate::config::{CampaignConfig, ProgramConfig};
use crate::domain::{
    EmailAddress, FirstName, Gathering, GatheringCode, GatheringId, Keyword, KeywordTarget,
    KeywordWord, Language, MessageSid, PhoneNumber, Zip, whole_word,
};
use crate::geo::SearchRadius;
use crate::messages::{self, Catalog, render};
use crate::outbound::{Channel, ConsentBasis, Kind, NewMessage, body_context};
use crate::privacy::{ContactHash, ContactHasher, CryptoError, Sealed, Sealer, field_context};
use crate::store::{
    Applied, ContactEffect, ConversationState, DELETE_CONFIRMATION_WINDOW, Erased, Erasure,
    ErasureEvidence, ErasureStore, GatheringStore, InboundReply, InboundStore, KeywordStore,
    NewRsvp, RsvpOutcome, RsvpSource, RsvpStore, SmsStatus, StateChange, Step, StoreError,
};

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

/// Why a text could not be answered (all are our faults: the person gets no error text).
#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    #[error(transparent)]
    Email(#[from] crate::email::EmailError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// Campaign keywords built into every deployment, with the language they start in. Organizers add
/// more as `KEYWORD#` items (see README).
const CAMPAIGN_KEYWORDS: [(&str, Language); 3] = [
    ("JOIN", Language::En),
    ("RISING", Language::En),
    ("UNIRME", Language::Es),
];

/// The sealing context of the stored reply to a message.
fn reply_context(sid: &MessageSid) -> String {
    format!("inbound#{}|reply", sid.as_str())
}

/// How many gatherings are offered at once.
const CHOICES: usize = 3;

/// Separates the texts of a reply sent as several messages (a confirmation, then the question about
/// email). A control character: catalog texts, names and places never contain one.
pub const MESSAGE_BREAK: char = '\u{1e}';

/// The texts of a reply, in order.
pub fn reply_messages(reply: &str) -> Vec<&str> {
    reply
        .split(MESSAGE_BREAK)
        .filter(|text| !text.is_empty())
        .collect()
}

/// Everything the conversation reads and writes, borrowed from the function's state.
pub struct Conversation<'a, S, G> {
    pub store: &'a S,
    pub gatherings: &'a G,
    pub sealer: &'a Sealer,
    pub hasher: &'a ContactHasher,
    pub program: &'a ProgramConfig,
    pub campaign: &'a CampaignConfig,
    pub email: &'a EmailContext,
}

/// A decided answer: the contact change, the conversation change and the reply, stored together;
/// or, for a confirmed DELETE, an erasure that records the reply.
struct Turn {
    kind: &'static str,
    effect: ContactEffect,
    state: StateChange,
    reply: String,
    erase: Option<EraseRequest>,
}

/// A confirmed request to be erased: the word texted and the language answered in.
struct EraseRequest {
    keyword: &'static str,
    language: Language,
}

impl Turn {
    fn reply(kind: &'static str, state: StateChange, reply: String) -> Self {
        Self {
            kind,
            effect: ContactEffect::Nothing,
            state,
            reply,
            erase: None,
        }
    }
}

/// What a whole-message word starts.
enum Start {
    Campaign(Language, &'static str),
    Configured(Language, String),
    Gathering(Language, Box<Gathering>),
}

impl<S, G> Conversation<'_, S, G>
where
    S: InboundStore + ErasureStore<G>,
    G: GatheringStore + RsvpStore + KeywordStore,
{
    fn fill(&self, template: &str, values: &[(&str, &str)]) -> String {
        let mut all: Vec<(&str, &str)> = vec![
            ("program", &self.program.name),
            ("contact", &self.program.support_contact),
        ];
        all.extend_from_slice(values);
        render(template, &all)
    }

    /// Decides the effect and reply of an inbound text and stores them atomically, once per
    /// MessageSid. Returns the reply text ("" for no reply).
    #[tracing::instrument(name = "conversation.respond", skip_all, fields(message_sid = %text.sid.as_str()))]
    pub async fn respond(
        &self,
        text: &InboundText,
        now: OffsetDateTime,
    ) -> Result<String, ConversationError> {
        if let Some(stored) = self.store.processed_reply(&text.sid, now).await? {
            tracing::info!(
                outcome = "duplicate",
                "message already processed; repeating the reply"
            );
            return self.open_reply(&text.sid, &stored).await;
        }
        let contact = self.hasher.phone(&text.from);
        let mut turn = self.decide(text, &contact, now).await?;
        if let ContactEffect::OptIn { address, .. } = &mut turn.effect {
            *address = Some(
                self.sealer
                    .seal(&field_context(&contact, "phone"), text.from.as_e164())
                    .await?,
            );
        }
        // The reply is kept to answer Twilio's retries identically; it can hold names and places,
        // so it is sealed like any other personal data.
        let sealed = if turn.reply.is_empty() {
            String::new()
        } else {
            self.sealer
                .seal(&reply_context(&text.sid), &turn.reply)
                .await?
                .as_str()
                .to_string()
        };
        let applied = match &turn.erase {
            Some(request) => {
                let erasure = Erasure {
                    contact: &contact,
                    evidence: ErasureEvidence {
                        reference: text.sid.as_str(),
                        source: "sms",
                        keyword: Some(request.keyword),
                        wording: Some(&turn.reply),
                        language: request.language,
                    },
                    inbound: Some(InboundReply {
                        sid: &text.sid,
                        reply: &sealed,
                    }),
                };
                match forget::erase(self.store, self.gatherings, &erasure, now).await? {
                    Erased::Done { .. } => Applied::Stored,
                    Erased::AlreadyProcessed { reply } => Applied::AlreadyProcessed { reply },
                }
            }
            None => {
                self.store
                    .apply(&text.sid, &contact, &turn.effect, &turn.state, &sealed, now)
                    .await?
            }
        };
        let (outcome, reply) = match applied {
            Applied::Stored => ("stored", turn.reply),
            Applied::AlreadyProcessed { reply } => {
                ("duplicate", self.open_reply(&text.sid, &reply).await?)
            }
        };
        tracing::info!(
            outcome,
            kind = turn.kind,
            replied = !reply.is_empty(),
            "inbound text handled"
        );
        Ok(reply)
    }

    async fn open_reply(
        &self,
        sid: &MessageSid,
        stored: &str,
    ) -> Result<String, ConversationError> {
        if stored.is_empty() {
            return Ok(String::new());
        }
        Ok(self
            .sealer
            .open(&reply_context(sid), &Sealed::parse(stored)?)
            .await?)
    }

    async fn decide(
        &self,
        text: &InboundText,
        contact: &ContactHash,
        now: OffsetDateTime,
    ) -> Result<Turn, ConversationError> {
        let known = self.store.contact_state(contact).await?;
        // A pending DELETE is set aside: the question it interrupted is the conversation.
        let (conversation, confirming) = match self.store.conversation(contact, now).await? {
            Some(ConversationState {
                step: Step::AwaitingDeleteConfirmation { resume, .. },
                language,
                first_name,
            }) => (
                resume.map(|step| ConversationState {
                    step: *step,
                    language,
                    first_name,
                }),
                Some(language),
            ),
            other => (other, None),
        };
        let keyword = Keyword::recognise(&text.body);
        if let Some(Keyword::Delete { word, language }) = keyword {
            let language = language
                .or(confirming)
                .or(conversation.as_ref().map(|c| c.language))
                .or(known.as_ref().map(|c| c.language))
                .unwrap_or_default();
            return Ok(self.delete(word, language, contact, conversation, confirming, now));
        }
        let mut turn = self
            .answer(text, keyword, known, conversation.clone(), contact, now)
            .await?;
        if confirming.is_some() && turn.state == StateChange::Keep {
            // Anything but a second DELETE cancels the request: back to the question before it.
            turn.state = match conversation {
                Some(state) => StateChange::Set(contact.clone(), state),
                None => StateChange::End(contact.clone()),
            };
        }
        Ok(turn)
    }

    /// DELETE: asks to confirm it, or with a request pending, erases.
    fn delete(
        &self,
        word: &'static str,
        language: Language,
        contact: &ContactHash,
        conversation: Option<ConversationState>,
        confirming: Option<Language>,
        now: OffsetDateTime,
    ) -> Turn {
        let catalog = messages::catalog(language);
        if confirming.is_some() {
            return Turn {
                kind: "erase",
                effect: ContactEffect::Nothing,
                state: StateChange::Keep,
                reply: self.fill(catalog.erased, &[]),
                erase: Some(EraseRequest {
                    keyword: word,
                    language,
                }),
            };
        }
        let until = now + DELETE_CONFIRMATION_WINDOW;
        let pending = match conversation {
            Some(state) => ConversationState {
                step: Step::AwaitingDeleteConfirmation {
                    until,
                    resume: Some(Box::new(state.step)),
                },
                ..state
            },
            None => ConversationState {
                step: Step::AwaitingDeleteConfirmation {
                    until,
                    resume: None,
                },
                language,
                first_name: None,
            },
        };
        Turn::reply(
            "delete_requested",
            StateChange::Set(contact.clone(), pending),
            self.fill(catalog.confirm_delete, &[]),
        )
    }

    /// Every text but DELETE.
    async fn answer(
        &self,
        text: &InboundText,
        keyword: Option<Keyword>,
        known: Option<crate::store::ContactState>,
        conversation: Option<ConversationState>,
        contact: &ContactHash,
        now: OffsetDateTime,
    ) -> Result<Turn, ConversationError> {
        let opted_out = known
            .as_ref()
            .is_some_and(|c| c.sms_status == Some(SmsStatus::OptedOut));
        let known_language = known.as_ref().map(|c| c.language);
        // After an erasure, their own opt-in by text is a new consent: it lifts the suppression.
        let erased = known.as_ref().is_some_and(|c| c.erased);
        let handled_by_twilio = |word: &str| {
            text.opt_out_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(word))
        };
        let catalog = |language: Language| -> &'static Catalog { messages::catalog(language) };

        match keyword {
            Some(Keyword::Stop { word, language }) => {
                let language = language.or(known_language).unwrap_or_default();
                let twilio = handled_by_twilio("STOP");
                // One confirmation, never another text: none if Twilio confirmed, or if already opted out.
                let reply = if twilio || opted_out {
                    String::new()
                } else {
                    self.fill(catalog(language).stopped, &[])
                };
                let source = if twilio {
                    "twilio_advanced_opt_out"
                } else if word == "REVOCATION" {
                    "revocation"
                } else {
                    "keyword"
                };
                let wording = (!reply.is_empty()).then(|| reply.clone());
                let effect = ContactEffect::OptOut {
                    contact: contact.clone(),
                    keyword: word.to_string(),
                    source,
                    wording,
                    language,
                };
                return Ok(Turn {
                    kind: "stop",
                    effect,
                    state: StateChange::End(contact.clone()),
                    reply,
                    erase: None,
                });
            }
            Some(Keyword::Start { word }) => {
                let language = known_language.unwrap_or_default();
                let confirmation = self.fill(catalog(language).restarted, &[]);
                let reply = if handled_by_twilio("START") {
                    String::new()
                } else {
                    confirmation.clone()
                };
                let effect = ContactEffect::OptIn {
                    contact: contact.clone(),
                    keyword: word.to_string(),
                    wording: confirmation,
                    language,
                    lifts_erasure: erased,
                    address: None,
                };
                return Ok(Turn {
                    kind: "start",
                    effect,
                    state: StateChange::Keep,
                    reply,
                    erase: None,
                });
            }
            Some(Keyword::Help { language, .. }) => {
                let language = language.or(known_language).unwrap_or_default();
                let reply = if handled_by_twilio("HELP") {
                    String::new()
                } else {
                    self.fill(catalog(language).help, &[])
                };
                return Ok(Turn::reply("help", StateChange::Keep, reply));
            }
            // Handled before the other words.
            Some(Keyword::Delete { .. }) | None => {}
        }

        if let Some(start) = self.start_word(&text.body).await? {
            return self.start(start, contact, erased, now).await;
        }
        if opted_out {
            return Ok(Turn::reply("opted_out", StateChange::Keep, String::new()));
        }
        if let Some(state) = conversation {
            return self
                .continue_conversation(state, &text.sid, &text.body, contact, now)
                .await;
        }
        if known.is_some() {
            return Ok(Turn::reply("other", StateChange::Keep, String::new()));
        }
        let reply = if self.store.claim_daily_reply(contact, now).await? {
            self.fill(catalog(Language::En).stranger, &[])
        } else {
            String::new()
        };
        Ok(Turn::reply("stranger", StateChange::Keep, reply))
    }

    /// A campaign keyword, a configured keyword, or a gathering's code, as the whole message.
    async fn start_word(&self, body: &str) -> Result<Option<Start>, ConversationError> {
        let word = whole_word(body);
        if let Some((w, language)) = CAMPAIGN_KEYWORDS
            .iter()
            .copied()
            .find(|(w, _)| word.eq_ignore_ascii_case(w))
        {
            return Ok(Some(Start::Campaign(language, w)));
        }
        if let Ok(keyword) = KeywordWord::parse(word)
            && let Some(found) = self.gatherings.keyword(&keyword).await?
        {
            return Ok(match found.target {
                KeywordTarget::Campaign => Some(Start::Configured(
                    found.language,
                    found.word.as_str().to_string(),
                )),
                KeywordTarget::Gathering(id) => self
                    .gatherings
                    .get(&id)
                    .await?
                    .map(|g| Start::Gathering(found.language, Box::new(g))),
            });
        }
        if let Ok(code) = GatheringCode::parse(word)
            && let Some(gathering) = self.gatherings.by_code(&code).await?
        {
            return Ok(Some(Start::Gathering(
                gathering.language,
                Box::new(gathering),
            )));
        }
        Ok(None)
    }

    async fn start(
        &self,
        start: Start,
        contact: &ContactHash,
        erased: bool,
        now: OffsetDateTime,
    ) -> Result<Turn, ConversationError> {
        let (language, keyword, gathering) = match start {
            Start::Campaign(language, word) => (language, word.to_string(), None),
            Start::Configured(language, word) => (language, word, None),
            Start::Gathering(language, gathering) => (
                language,
                gathering.code.as_str().to_string(),
                Some(gathering),
            ),
        };
        let catalog = messages::catalog(language);
        let (reply, step) = match &gathering {
            None => (
                self.fill(catalog.ask_name, &[]),
                Step::AwaitingName { gathering: None },
            ),
            Some(g) if g.starts_at <= now => {
                let reply = self.fill(
                    catalog.gathering_gone,
                    &[("host_url", &self.campaign.host_signup_url)],
                );
                return Ok(Turn::reply("gathering_gone", StateChange::Keep, reply));
            }
            Some(g) => {
                let when = messages::when(g.starts_at, &g.timezone, language);
                let reply = self.fill(
                    catalog.ask_name_for_gathering,
                    &[("title", g.title.as_str()), ("when", &when)],
                );
                (
                    reply,
                    Step::AwaitingName {
                        gathering: Some(g.id.clone()),
                    },
                )
            }
        };
        let effect = ContactEffect::OptIn {
            contact: contact.clone(),
            keyword,
            wording: reply.clone(),
            language,
            lifts_erasure: erased,
            address: None,
        };
        let state = StateChange::Set(
            contact.clone(),
            ConversationState {
                step,
                language,
                first_name: None,
            },
        );
        Ok(Turn {
            kind: "join",
            effect,
            state,
            reply,
            erase: None,
        })
    }

    async fn continue_conversation(
        &self,
        state: ConversationState,
        sid: &MessageSid,
        body: &str,
        contact: &ContactHash,
        now: OffsetDateTime,
    ) -> Result<Turn, ConversationError> {
        let language = state.language;
        let catalog = messages::catalog(language);
        match &state.step {
            Step::AwaitingName { gathering } => {
                let Ok(name) = FirstName::parse(body) else {
                    return Ok(Turn::reply(
                        "bad_name",
                        StateChange::Keep,
                        self.fill(catalog.bad_name, &[]),
                    ));
                };
                let sealed = self
                    .sealer
                    .seal(&field_context(contact, "first_name"), name.as_str())
                    .await?;
                if let Some(id) = gathering {
                    return self
                        .rsvp(id, contact, &sealed, name.as_str(), language, now)
                        .await;
                }
                let reply = self.fill(catalog.ask_zip, &[("name", name.as_str())]);
                let next = ConversationState {
                    step: Step::AwaitingZip,
                    language,
                    first_name: Some(sealed),
                };
                Ok(Turn::reply(
                    "name",
                    StateChange::Set(contact.clone(), next),
                    reply,
                ))
            }
            Step::AwaitingZip => {
                let Ok(zip) = Zip::parse(body) else {
                    return Ok(Turn::reply(
                        "bad_zip",
                        StateChange::Keep,
                        self.fill(catalog.bad_zip, &[]),
                    ));
                };
                let radius = SearchRadius::miles(self.campaign.search_radius_miles)
                    .map_err(|e| StoreError::Corrupt(format!("search radius: {e}")))?;
                let nearby = self
                    .gatherings
                    .upcoming_near(zip.centroid(), radius, now, CHOICES)
                    .await?;
                if nearby.is_empty() {
                    let radius = format!("{}", self.campaign.search_radius_miles.round());
                    let reply = self.fill(
                        catalog.none_nearby,
                        &[
                            ("radius", &radius),
                            ("host_url", &self.campaign.host_signup_url),
                            ("recordings_url", &self.campaign.recordings_url),
                        ],
                    );
                    return Ok(Turn::reply(
                        "none_nearby",
                        self.offer_email(contact, language),
                        self.with_email_question(reply, language),
                    ));
                }
                let options: Vec<GatheringId> =
                    nearby.iter().map(|n| n.gathering.id.clone()).collect();
                let reply = if let [only] = nearby.as_slice() {
                    let g = &only.gathering;
                    let when = messages::when(g.starts_at, &g.timezone, language);
                    let distance = only.distance.to_string();
                    self.fill(
                        catalog.one_choice,
                        &[
                            ("title", g.title.as_str()),
                            ("when", &when),
                            ("town", &g.town),
                            ("distance", &distance),
                        ],
                    )
                } else {
                    let lines: Vec<String> = nearby
                        .iter()
                        .enumerate()
                        .map(|(i, n)| {
                            let g = &n.gathering;
                            render(
                                catalog.choice_line,
                                &[
                                    ("n", &(i + 1).to_string()),
                                    ("when", &messages::when(g.starts_at, &g.timezone, language)),
                                    ("town", &g.town),
                                    ("distance", &n.distance.to_string()),
                                ],
                            )
                        })
                        .collect();
                    self.fill(
                        catalog.choices,
                        &[
                            ("list", &lines.join("\n")),
                            ("last", &nearby.len().to_string()),
                        ],
                    )
                };
                let next = ConversationState {
                    step: Step::AwaitingChoice { options },
                    language,
                    first_name: state.first_name.clone(),
                };
                Ok(Turn::reply(
                    "choices",
                    StateChange::Set(contact.clone(), next),
                    reply,
                ))
            }
            Step::AwaitingChoice { options } => {
                let chosen = whole_word(body)
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=options.len()).contains(n));
                let (Some(n), Some(sealed)) = (chosen, &state.first_name) else {
                    let last = options.len().to_string();
                    return Ok(Turn::reply(
                        "bad_choice",
                        StateChange::Keep,
                        self.fill(catalog.bad_choice, &[("last", &last)]),
                    ));
                };
                let name = self
                    .sealer
                    .open(&field_context(contact, "first_name"), sealed)
                    .await?;
                self.rsvp(&options[n - 1], contact, sealed, &name, language, now)
                    .await
            }
            Step::AwaitingEmail => self.email_answer(sid, body, contact, language, now).await,
            // `decide` sets a pending DELETE aside before the conversation continues.
            Step::AwaitingDeleteConfirmation { .. } => Ok(Turn::reply(
                "delete_pending",
                StateChange::Keep,
                String::new(),
            )),
        }
    }

    /// The conversation's last question: the recordings by email (optional).
    fn offer_email(&self, contact: &ContactHash, language: Language) -> StateChange {
        StateChange::Set(
            contact.clone(),
            ConversationState {
                step: Step::AwaitingEmail,
                language,
                first_name: None,
            },
        )
    }

    /// `reply`, then the question about email as a second text.
    fn with_email_question(&self, reply: String, language: Language) -> String {
        let question = self.fill(messages::catalog(language).ask_email, &[]);
        format!("{reply}{MESSAGE_BREAK}{question}")
    }

    /// The answer to "reply with your email": an address stores it (sealed, consent source `sms`)
    /// and the recordings email with it; something else that looks like an address is asked again;
    /// anything else ends the conversation quietly (it was optional).
    async fn email_answer(
        &self,
        sid: &MessageSid,
        body: &str,
        contact: &ContactHash,
        language: Language,
        now: OffsetDateTime,
    ) -> Result<Turn, ConversationError> {
        let catalog = messages::catalog(language);
        let address = match EmailAddress::parse(body) {
            Ok(address) => address,
            Err(_) if body.contains('@') => {
                return Ok(Turn::reply(
                    "bad_email",
                    StateChange::Keep,
                    self.fill(catalog.bad_email, &[]),
                ));
            }
            Err(_) => {
                return Ok(Turn::reply(
                    "no_email",
                    StateChange::End(contact.clone()),
                    String::new(),
                ));
            }
        };
        let email_contact = self.hasher.email(&address);
        let id = outbound_id(sid);
        let sealed_address = self
            .sealer
            .seal(
                &field_context(&email_contact, Channel::Email.address_field()),
                address.as_str(),
            )
            .await?;
        let mime = recordings_email(
            self.email,
            self.program,
            self.campaign,
            &address,
            &email_contact,
            language,
            now,
        )?;
        let body = self.sealer.seal(&body_context(&id), &mime).await?;
        let message = NewMessage {
            id,
            channel: Channel::Email,
            kind: Kind::Confirmation,
            consent: ConsentBasis::Requested,
            contact: email_contact.clone(),
            to: sealed_address.clone(),
            body,
            language,
            zip: None,
            batch: None,
        };
        Ok(Turn {
            kind: "email",
            effect: ContactEffect::EmailOptIn {
                contact: email_contact,
                address: sealed_address,
                wording: self.fill(catalog.ask_email, &[]),
                language,
                message: Box::new(message),
            },
            state: StateChange::End(contact.clone()),
            reply: self.fill(catalog.email_coming, &[]),
            erase: None,
        })
    }

    /// Stores the RSVP (idempotent: a retry finds it and confirms the same way) and confirms it.
    async fn rsvp(
        &self,
        id: &GatheringId,
        contact: &ContactHash,
        first_name: &Sealed,
        name: &str,
        language: Language,
        now: OffsetDateTime,
    ) -> Result<Turn, ConversationError> {
        let catalog = messages::catalog(language);
        let end = StateChange::End(contact.clone());
        let gone = |this: &Self| {
            this.fill(
                catalog.gathering_gone,
                &[("host_url", &this.campaign.host_signup_url)],
            )
        };
        let Some(gathering) = self.gatherings.get(id).await? else {
            return Ok(Turn::reply("gathering_gone", end, gone(self)));
        };
        let outcome = self
            .gatherings
            .rsvp(
                NewRsvp {
                    gathering: id,
                    contact,
                    source: RsvpSource::Sms,
                    language,
                    first_name,
                    referral: None,
                },
                now,
            )
            .await?;
        let title = gathering.title.as_str();
        let recording = &self.campaign.overview_recording_url;
        match outcome {
            RsvpOutcome::Created | RsvpOutcome::AlreadyGoing => {
                let when = messages::when(gathering.starts_at, &gathering.timezone, language);
                let place = match gathering.open_address(self.sealer, now).await? {
                    Some(address) => format!("{address}, {}", gathering.town),
                    None => format!("{}, {}", gathering.town, catalog.private_place),
                };
                let host = gathering
                    .open_host_first_name(self.sealer)
                    .await?
                    .unwrap_or_else(|| catalog.host_unnamed.to_string());
                let reply = self.fill(
                    catalog.confirmed,
                    &[
                        ("name", name),
                        ("title", title),
                        ("when", &when),
                        ("place", &place),
                        ("host", &host),
                        ("recording_url", recording),
                        ("safety_url", &self.campaign.safety_url),
                    ],
                );
                Ok(Turn::reply(
                    "rsvp",
                    self.offer_email(contact, language),
                    self.with_email_question(reply, language),
                ))
            }
            RsvpOutcome::Waitlisted | RsvpOutcome::AlreadyWaitlisted => {
                let reply = self.fill(
                    catalog.waitlisted,
                    &[
                        ("name", name),
                        ("title", title),
                        ("recording_url", recording),
                    ],
                );
                Ok(Turn::reply(
                    "waitlist",
                    self.offer_email(contact, language),
                    self.with_email_question(reply, language),
                ))
            }
            RsvpOutcome::NoSuchGathering | RsvpOutcome::Ended => {
                Ok(Turn::reply("gathering_gone", end, gone(self)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AddressDraft, GatheringDraft};
    use crate::store::{MemoryContact, MemoryGatheringStore, MemoryInboundStore};

    const PHONE: &str = "+12025550143";

    struct World {
        store: MemoryInboundStore,
        gatherings: MemoryGatheringStore,
        sealer: Sealer,
        hasher: ContactHasher,
        program: ProgramConfig,
        campaign: CampaignConfig,
        email: EmailContext,
        now: OffsetDateTime,
    }

    impl World {
        fn new() -> Self {
            Self {
                store: MemoryInboundStore::default(),
                gatherings: MemoryGatheringStore::default(),
                sealer: Sealer::in_memory(),
                hasher: ContactHasher::from_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
                    .unwrap(),
                program: ProgramConfig {
                    name: "rising".into(),
                    support_contact: "help@example.org".into(),
                },
                campaign: CampaignConfig {
                    overview_recording_url: "https://r.example/overview".into(),
                    recordings_url: "https://r.example/all".into(),
                    safety_url: "https://r.example/safety".into(),
                    host_signup_url: "https://r.example/host".into(),
                    search_radius_miles: 25.0,
                },
                email: EmailContext {
                    from: crate::email::Mailbox::new(
                        "rising",
                        EmailAddress::parse("hello@rising.example").unwrap(),
                    ),
                    link_key: crate::email::TokenKey::from_base64(
                        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
                    )
                    .unwrap(),
                    links_base_url: "https://rising.example".into(),
                },
                now: OffsetDateTime::now_utc(),
            }
        }

        async fn say_with(&self, n: u32, body: &str, opt_out_type: Option<&str>) -> String {
            self.say_at(n, body, opt_out_type, self.now).await
        }

        async fn say_at(
            &self,
            n: u32,
            body: &str,
            opt_out_type: Option<&str>,
            now: OffsetDateTime,
        ) -> String {
            let conversation = Conversation {
                store: &self.store,
                gatherings: &self.gatherings,
                sealer: &self.sealer,
                hasher: &self.hasher,
                program: &self.program,
                campaign: &self.campaign,
                email: &self.email,
            };
            let text = InboundText {
                sid: MessageSid::parse(&format!("SM{n:032x}")).unwrap(),
                from: PhoneNumber::parse(PHONE).unwrap(),
                body: body.into(),
                opt_out_type: opt_out_type.map(str::to_string),
            };
            conversation.respond(&text, now).await.unwrap()
        }

        fn hash(&self) -> ContactHash {
            self.hasher.phone(&PhoneNumber::parse(PHONE).unwrap())
        }

        async fn step(&self) -> Option<Step> {
            self.store
                .conversation(&self.hash(), self.now)
                .await
                .unwrap()
                .map(|s| s.step)
        }

        async fn say(&self, n: u32, body: &str) -> String {
            self.say_with(n, body, None).await
        }

        fn contact(&self) -> Option<MemoryContact> {
            self.store.contact(
                self.hasher
                    .phone(&PhoneNumber::parse(PHONE).unwrap())
                    .as_str(),
            )
        }

        async fn gathering(
            &self,
            title: &str,
            zip: &str,
            days: i64,
            capacity: Option<u32>,
            private: bool,
        ) -> Gathering {
            let starts_at = self.now + time::Duration::days(days);
            let id = GatheringId::random();
            let draft = GatheringDraft {
                code: GatheringCode::parse(&format!("T{}", &id.as_str()[..8].to_uppercase()))
                    .unwrap(),
                title: crate::domain::GatheringTitle::parse(title).unwrap(),
                starts_at,
                ends_at: starts_at + time::Duration::hours(2),
                zip: Zip::parse(zip).unwrap(),
                timezone: None,
                town: None,
                location: None,
                address: if private {
                    AddressDraft::Private("12 Elm St".into())
                } else {
                    AddressDraft::Public("Public Library".into())
                },
                host_first_name: FirstName::parse("Dana").unwrap(),
                capacity,
                language: Language::En,
                listed: true,
                host: None,
                description: String::new(),
                accessibility: String::new(),
            };
            let gathering = draft.seal(id, &self.sealer).await.unwrap();
            self.gatherings.put(&gathering, self.now).await.unwrap();
            gathering
        }
    }

    #[tokio::test]
    async fn a_campaign_keyword_opts_in_and_asks_for_a_first_name() {
        let w = World::new();
        let reply = w.say(1, " join ").await;
        assert!(
            reply.starts_with("Welcome to rising! What's your first name?"),
            "{reply}"
        );
        let contact = w.contact().unwrap();
        assert!(contact.sms_opted_in);
        // The number is kept, sealed, so the reminders of what they sign up for reach them.
        let hash = w.hasher.phone(&PhoneNumber::parse(PHONE).unwrap());
        let sealed = contact.phone_sealed.expect("the number, sealed");
        assert!(!sealed.as_str().contains(&PHONE[2..]));
        assert_eq!(
            w.sealer
                .open(&field_context(&hash, "phone"), &sealed)
                .await
                .unwrap(),
            PHONE
        );
    }

    #[tokio::test]
    async fn keyword_name_zip_and_choice_end_in_an_rsvp_and_a_confirmation() {
        let w = World::new();
        let near = w
            .gathering("Maple Street gathering", "20001", 3, None, false)
            .await;
        w.gathering("Baltimore gathering", "21201", 4, None, false)
            .await;
        w.say(1, "RISING").await;
        let ask_zip = w.say(2, "Maria").await;
        assert!(
            ask_zip.starts_with("Thanks, Maria! What's your ZIP code?"),
            "{ask_zip}"
        );
        let choices = w.say(3, "20001").await;
        assert!(
            choices.starts_with("Near you: Maple Street gathering"),
            "only one within 25 miles: {choices}"
        );
        let confirmation = w.say(4, "1").await;
        assert!(
            confirmation.starts_with("You're going, Maria! Maple Street gathering"),
            "{confirmation}"
        );
        assert!(
            confirmation.contains("Public Library") && confirmation.contains("Host: Dana"),
            "{confirmation}"
        );
        assert!(
            confirmation.contains("https://r.example/overview")
                && confirmation.contains("https://r.example/safety")
        );
        let contact = w.hasher.phone(&PhoneNumber::parse(PHONE).unwrap());
        let rsvps = w.gatherings.rsvps_for(&near.id).await.unwrap();
        assert_eq!(rsvps.len(), 1);
        assert_eq!(rsvps[0].contact_hash, contact.as_str());
        assert_eq!(
            w.store
                .conversation(&contact, w.now)
                .await
                .unwrap()
                .map(|c| c.step),
            Some(Step::AwaitingEmail),
            "one optional question is left: the recordings by email"
        );
    }

    #[tokio::test]
    async fn after_the_rsvp_an_email_address_gets_the_recordings_by_email() {
        let w = World::new();
        w.gathering("Maple Street gathering", "20001", 3, None, false)
            .await;
        w.say(1, "RISING").await;
        w.say(2, "Maria").await;
        w.say(3, "20001").await;
        let confirmation = w.say(4, "1").await;
        let texts = reply_messages(&confirmation);
        assert_eq!(texts.len(), 2, "{confirmation}");
        assert_eq!(
            texts[1],
            "Want the training recordings by email? Reply with your email address."
        );
        let thanks = w.say(5, " Maria.Lopez@Example.org ").await;
        assert_eq!(
            thanks,
            "Thanks! The recordings are on their way to your inbox."
        );
        let address = EmailAddress::parse("maria.lopez@example.org").unwrap();
        let email_contact = w.hasher.email(&address);
        let contact = w.store.contact(email_contact.as_str()).unwrap();
        assert!(contact.email_opted_in);
        assert_eq!(contact.consents, vec!["email_opt_in:sms".to_string()]);
        let phone_contact = w.hasher.phone(&PhoneNumber::parse(PHONE).unwrap());
        assert_eq!(
            (contact.linked, w.contact().unwrap().linked),
            (
                vec![phone_contact.as_str().to_string()],
                vec![email_contact.as_str().to_string()]
            ),
            "the address and the phone are one person's: erasing either finds the other"
        );
        let outbox = w.store.outbox();
        assert_eq!(outbox.len(), 1);
        let message = &outbox[0];
        assert_eq!(
            message.id,
            outbound_id(&MessageSid::parse(&format!("SM{:032x}", 5)).unwrap())
        );
        assert_eq!(
            (message.channel, message.kind),
            (Channel::Email, Kind::Confirmation)
        );
        assert_eq!(message.contact, email_contact);
        let to = w
            .sealer
            .open(&field_context(&email_contact, "email"), &message.to)
            .await
            .unwrap();
        assert_eq!(to, "maria.lopez@example.org");
        let mime = w
            .sealer
            .open(&body_context(&message.id), &message.body)
            .await
            .unwrap();
        assert!(mime.contains("https://r.example/all") && mime.contains("List-Unsubscribe"));
        let phone = w.hasher.phone(&PhoneNumber::parse(PHONE).unwrap());
        assert_eq!(w.store.conversation(&phone, w.now).await.unwrap(), None);
        // The same text delivered again: same answer, no second email.
        assert_eq!(w.say(5, "maria.lopez@example.org").await, thanks);
        assert_eq!(w.store.outbox().len(), 1);
    }

    #[tokio::test]
    async fn a_mistyped_address_is_asked_again_and_no_answer_ends_the_conversation_quietly() {
        let w = World::new();
        w.say(1, "RISING").await;
        w.say(2, "Maria").await;
        let none = w.say(3, "59001").await;
        assert_eq!(reply_messages(&none).len(), 2, "{none}");
        assert_eq!(
            w.say(4, "maria@example").await,
            "That doesn't look like an email address. Please send it again, like name@example.org."
        );
        assert_eq!(w.say(5, "no thanks").await, "");
        assert!(w.store.outbox().is_empty());
        let phone = w.hasher.phone(&PhoneNumber::parse(PHONE).unwrap());
        assert_eq!(w.store.conversation(&phone, w.now).await.unwrap(), None);
    }

    #[tokio::test]
    async fn the_email_question_and_answer_are_in_spanish_after_unirme() {
        let w = World::new();
        w.say(1, "UNIRME").await;
        w.say(2, "Lucia").await;
        let none = w.say(3, "59001").await;
        assert!(
            reply_messages(&none)[1].starts_with("¿Quieres las grabaciones"),
            "{none}"
        );
        assert_eq!(
            w.say(4, "lucia@example.org").await,
            "¡Gracias! Las grabaciones van en camino a tu correo."
        );
        assert_eq!(w.store.outbox()[0].language, Language::Es);
    }

    #[tokio::test]
    async fn several_gatherings_nearby_are_numbered_nearest_first_and_a_wrong_number_asks_again() {
        let w = World::new();
        w.gathering("Second", "20002", 5, None, false).await;
        w.gathering("First", "20001", 6, None, false).await;
        w.say(1, "JOIN").await;
        w.say(2, "Sam").await;
        let choices = w.say(3, "20001").await;
        assert!(
            choices.starts_with("Gatherings near you:\n1) "),
            "{choices}"
        );
        assert!(choices.ends_with("Reply 1-2 to RSVP."), "{choices}");
        assert_eq!(
            w.say(4, "7").await,
            "Please reply with a number from 1 to 2."
        );
        assert!(w.say(5, "2").await.starts_with("You're going, Sam!"));
    }

    #[tokio::test]
    async fn a_gathering_code_skips_to_the_name_and_a_private_home_is_not_revealed_early() {
        let w = World::new();
        let g = w.gathering("Cedar house", "22201", 5, None, true).await;
        let ask = w
            .say(1, &format!("{}!", g.code.as_str().to_lowercase()))
            .await;
        assert!(ask.contains("You're joining Cedar house"), "{ask}");
        let confirmation = w.say(2, "Lee").await;
        assert!(
            confirmation.contains("address sent the day before"),
            "{confirmation}"
        );
        assert!(!confirmation.contains("12 Elm St"));
    }

    #[tokio::test]
    async fn no_gathering_nearby_offers_hosting_and_the_recordings() {
        let w = World::new();
        w.say(1, "JOIN").await;
        w.say(2, "Ana").await;
        let reply = w.say(3, "59601").await;
        assert!(
            reply
                .starts_with("No gatherings within 25 miles yet. Host one: https://r.example/host"),
            "{reply}"
        );
        assert!(reply.contains("https://r.example/all"));
    }

    #[tokio::test]
    async fn bad_answers_are_asked_again_without_losing_the_place() {
        let w = World::new();
        w.say(1, "JOIN").await;
        assert_eq!(w.say(2, "!!!").await, "Please send just your first name.");
        w.say(3, "Jo").await;
        assert_eq!(
            w.say(4, "my zip is secret").await,
            "Please send a 5-digit ZIP code."
        );
        assert_eq!(w.say(5, "00000").await, "Please send a 5-digit ZIP code.");
    }

    #[tokio::test]
    async fn a_full_gathering_puts_the_person_on_the_waitlist() {
        let w = World::new();
        let g = w.gathering("Tiny", "20001", 2, Some(1), false).await;
        let other = w.hasher.phone(&PhoneNumber::parse("+12025550199").unwrap());
        let name = w
            .sealer
            .seal(&field_context(&other, "first_name"), "Pat")
            .await
            .unwrap();
        let first = NewRsvp {
            gathering: &g.id,
            contact: &other,
            source: RsvpSource::Form,
            language: Language::En,
            first_name: &name,
            referral: None,
        };
        assert_eq!(
            w.gatherings.rsvp(first, w.now).await.unwrap(),
            RsvpOutcome::Created
        );
        w.say(1, g.code.as_str()).await;
        let reply = w.say(2, "Kim").await;
        assert!(
            reply.starts_with("Tiny is full, Kim: you're on the waitlist"),
            "{reply}"
        );
    }

    #[tokio::test]
    async fn unirme_runs_the_conversation_in_spanish() {
        let w = World::new();
        w.gathering("Reunion del barrio", "20001", 3, None, false)
            .await;
        assert!(
            w.say(1, "Unirme")
                .await
                .starts_with("¡Bienvenido a rising! ¿Como te llamas?")
        );
        assert!(w.say(2, "Lucia").await.starts_with("¡Gracias, Lucia!"));
        assert!(
            w.say(3, "20001")
                .await
                .starts_with("Cerca de ti: Reunion del barrio")
        );
        assert!(w.say(4, "1").await.starts_with("¡Vas, Lucia!"));
        assert_eq!(w.contact().unwrap().language, Some(Language::Es));
        assert!(
            w.say(5, "HELP")
                .await
                .contains("Responde STOP para cancelar")
        );
    }

    #[tokio::test]
    async fn the_same_message_delivered_twice_is_stored_once_and_answered_the_same() {
        let w = World::new();
        let first = w.say(1, "JOIN").await;
        let second = w.say(1, "JOIN").await;
        assert_eq!(first, second);
        assert_eq!(w.contact().unwrap().consents.len(), 1);
    }

    #[tokio::test]
    async fn stop_opts_out_with_one_confirmation_and_ends_the_conversation() {
        let w = World::new();
        w.say(1, "JOIN").await;
        let confirmation = w.say(2, "Stop").await;
        assert!(confirmation.contains("no more texts"), "{confirmation}");
        assert!(!w.contact().unwrap().sms_opted_in);
        assert_eq!(
            w.say(3, "STOP").await,
            "",
            "a second STOP gets no second confirmation"
        );
        assert_eq!(
            w.say(4, "Maria").await,
            "",
            "an opted-out person is never texted, even mid-conversation"
        );
        assert_eq!(
            w.contact().unwrap().consents,
            vec![
                "opt_in:JOIN",
                "opt_out:STOP:keyword",
                "opt_out:STOP:keyword"
            ]
        );
    }

    #[tokio::test]
    async fn spanish_stop_confirms_in_spanish() {
        let w = World::new();
        assert!(
            w.say(1, "parar")
                .await
                .contains("Responde START para volver")
        );
    }

    #[tokio::test]
    async fn free_text_revocation_opts_out_and_is_recorded_as_a_revocation() {
        let w = World::new();
        w.say(1, "JOIN").await;
        assert!(
            w.say(2, "Please stop texting me")
                .await
                .contains("unsubscribed")
        );
        assert_eq!(
            w.contact().unwrap().consents[1],
            "opt_out:REVOCATION:revocation"
        );
    }

    #[tokio::test]
    async fn when_twilio_already_handled_stop_it_is_recorded_without_a_second_confirmation() {
        let w = World::new();
        w.say(1, "JOIN").await;
        assert_eq!(w.say_with(2, "STOP", Some("STOP")).await, "");
        assert_eq!(
            w.contact().unwrap().consents[1],
            "opt_out:STOP:twilio_advanced_opt_out"
        );
    }

    #[tokio::test]
    async fn start_opts_back_in_with_a_confirmation() {
        let w = World::new();
        w.say(1, "JOIN").await;
        w.say(2, "STOP").await;
        assert!(w.say(3, "start").await.contains("subscribed again"));
        assert!(w.contact().unwrap().sms_opted_in);
    }

    #[tokio::test]
    async fn help_names_the_program_the_contact_and_how_to_stop() {
        let w = World::new();
        let reply = w.say(1, "help").await;
        assert!(
            reply.starts_with("rising:") && reply.contains("help@example.org"),
            "{reply}"
        );
        assert!(reply.contains("Msg & data rates may apply. Reply STOP to cancel."));
        assert!(w.contact().is_none(), "HELP stores no contact");
    }

    #[tokio::test]
    async fn a_stranger_gets_one_pointer_a_day_not_a_loop() {
        let w = World::new();
        assert!(w.say(1, "who is this?").await.contains("Text JOIN"));
        assert_eq!(w.say(2, "hello??").await, "");
        assert!(w.contact().is_none());
    }

    const ASK_DELETE: &str = "Reply DELETE again within 10 minutes to erase your name, RSVPs and number \
                              from rising. You will get no more texts.";
    const ERASED: &str = "Your details are erased. You will get no more texts from rising.";

    #[tokio::test]
    async fn delete_asks_to_confirm_and_a_second_delete_erases_name_rsvps_and_conversation() {
        let w = World::new();
        let g = w
            .gathering("Maple Street gathering", "20001", 3, None, false)
            .await;
        for (n, body) in [(1, "RISING"), (2, "Maria"), (3, "20001")] {
            w.say(n, body).await;
        }
        w.say(4, "1").await;
        assert_eq!(w.gatherings.going_count(&g.id), Some(1));

        assert_eq!(w.say(5, " delete. ").await, ASK_DELETE);
        // It interrupts the last, optional question (the recordings by email).
        assert!(matches!(
            w.step().await,
            Some(Step::AwaitingDeleteConfirmation { resume: Some(step), .. }) if *step == Step::AwaitingEmail
        ));
        assert_eq!(w.say(6, "DELETE").await, ERASED);

        let hash = w.hash();
        assert!(w.gatherings.rsvps_of(&hash).await.unwrap().is_empty());
        assert_eq!(
            w.gatherings.going_count(&g.id),
            Some(0),
            "the place is given back"
        );
        assert_eq!(w.step().await, None);
        assert!(!w.store.holds_state_of(hash.as_str()));
        assert!(
            w.store.replies_of(hash.as_str()).is_empty(),
            "no stored reply names them"
        );
        let contact = w.contact().unwrap();
        assert!(contact.erased && !contact.sms_opted_in);
        assert_eq!(contact.language, None);
        assert!(contact.suppressed);
        assert_eq!(contact.consents, ["opt_in:RISING", "erase:DELETE:sms"]);
        assert_eq!(w.say(7, "hello?").await, "", "never texted again");
    }

    #[tokio::test]
    async fn delete_in_the_middle_of_a_conversation_keeps_its_place_until_confirmed() {
        let w = World::new();
        w.say(1, "JOIN").await;
        w.say(2, "Jo").await;
        assert_eq!(w.say(3, "Delete").await, ASK_DELETE);
        assert!(matches!(
            w.step().await,
            Some(Step::AwaitingDeleteConfirmation { resume: Some(ref s), .. }) if **s == Step::AwaitingZip
        ));
        assert_eq!(w.say(4, "delete!").await, ERASED);
        assert_eq!(w.step().await, None);
    }

    #[tokio::test]
    async fn anything_else_after_delete_cancels_it_and_is_answered_where_they_were() {
        let w = World::new();
        w.say(1, "JOIN").await;
        w.say(2, "Jo").await;
        w.say(3, "DELETE").await;
        assert_eq!(
            w.say(4, "my zip is secret").await,
            "Please send a 5-digit ZIP code.",
            "the question DELETE interrupted is back"
        );
        assert_eq!(w.step().await, Some(Step::AwaitingZip));
        assert_eq!(
            w.say(5, "DELETE").await,
            ASK_DELETE,
            "a new request, not a confirmation"
        );
        assert!(w.say(6, "help").await.starts_with("rising:"));
        assert_eq!(
            w.say(7, "DELETE").await,
            ASK_DELETE,
            "HELP cancelled it too"
        );
        assert!(!w.contact().unwrap().erased);
    }

    #[tokio::test]
    async fn a_delete_after_the_ten_minute_window_asks_again() {
        let w = World::new();
        w.say(1, "JOIN").await;
        w.say(2, "DELETE").await;
        let later = w.now + DELETE_CONFIRMATION_WINDOW + time::Duration::seconds(1);
        assert_eq!(w.say_at(3, "DELETE", None, later).await, ASK_DELETE);
        assert!(!w.contact().unwrap().erased);
        let in_time = later + DELETE_CONFIRMATION_WINDOW - time::Duration::seconds(1);
        assert_eq!(w.say_at(4, "DELETE", None, in_time).await, ERASED);
        assert!(w.contact().unwrap().erased);
    }

    #[tokio::test]
    async fn borrar_asks_and_confirms_in_spanish() {
        let w = World::new();
        w.say(1, "UNIRME").await;
        let ask = w.say(2, "DELETE").await;
        assert!(
            ask.starts_with("Responde BORRAR de nuevo en 10 minutos"),
            "{ask}"
        );
        assert_eq!(
            w.say(3, "¡Borrar!").await,
            "Tus datos fueron borrados. No recibiras mas mensajes de rising."
        );
        assert_eq!(
            w.contact().unwrap().consents,
            ["opt_in:UNIRME", "erase:BORRAR:sms"]
        );
        let stranger = World::new();
        assert!(
            stranger
                .say(1, "borrar")
                .await
                .starts_with("Responde BORRAR")
        );
    }

    #[tokio::test]
    async fn the_erasing_message_delivered_again_changes_nothing_and_gets_the_same_reply() {
        let w = World::new();
        w.say(1, "JOIN").await;
        w.say(2, "DELETE").await;
        let first = w.say(3, "DELETE").await;
        let contact = w.contact().unwrap();
        let writes = w.store.writes();

        assert_eq!(w.say(3, "DELETE").await, first);
        assert_eq!(w.contact().unwrap(), contact);
        assert_eq!(w.store.writes(), writes);
    }

    #[tokio::test]
    async fn after_an_erasure_a_keyword_starts_fresh_with_a_new_consent() {
        let w = World::new();
        w.say(1, "JOIN").await;
        w.say(2, "Ana").await;
        w.say(3, "DELETE").await;
        w.say(4, "DELETE").await;

        let welcome = w.say(5, "RISING").await;

        assert!(
            welcome.starts_with("Welcome to rising! What's your first name?"),
            "{welcome}"
        );
        assert_eq!(w.step().await, Some(Step::AwaitingName { gathering: None }));
        let contact = w.contact().unwrap();
        assert!(
            contact.sms_opted_in && !contact.erased && !contact.suppressed,
            "their own text lifts the suppression"
        );
        assert_eq!(
            contact.consents,
            ["opt_in:JOIN", "erase:DELETE:sms", "opt_in:RISING"]
        );
        assert!(w.say(6, "Ana").await.starts_with("Thanks, Ana!"));
    }

    #[tokio::test]
    async fn stop_while_a_delete_is_pending_opts_out_without_erasing() {
        let w = World::new();
        w.say(1, "JOIN").await;
        w.say(2, "DELETE").await;
        assert!(w.say(3, "STOP").await.contains("no more texts"));
        assert_eq!(w.step().await, None);
        assert_eq!(
            w.say(4, "DELETE").await,
            ASK_DELETE,
            "an opted-out person may still ask"
        );
        assert_eq!(w.say(5, "DELETE").await, ERASED);
        assert!(w.contact().unwrap().erased);
    }

    #[tokio::test]
    async fn an_expired_idempotency_record_counts_as_absent() {
        let w = World::new();
        w.say(1, "HELP").await;
        let later = w.now + crate::store::INBOUND_IDEMPOTENCY_TTL + time::Duration::seconds(1);
        let sid = MessageSid::parse(&format!("SM{:032x}", 1)).unwrap();
        assert_eq!(w.store.processed_reply(&sid, later).await.unwrap(), None);
    }
}

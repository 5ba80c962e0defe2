//! Registration through the web form: the embedded snippet (`embed.js` → an iframe of the form
//! page), the share page `GET /g/{id}` that works without JavaScript, and `POST /register`.
//!
//! A registration is validated whole ([`form::validate`]), rate-limited per client address and per
//! person, and idempotent twice over: the client's submission id (a retry or a double click answers
//! as the first did and writes nothing) and the natural key person × event (a second submission by
//! the same person is the same RSVP, and the same confirmation: [`confirm::confirmation_id`]). Every
//! step is itself idempotent, so a request that failed half-way is completed by its retry.

pub mod confirm;
pub mod form;
mod handler;
pub mod page;
pub mod text;

pub use handler::{BODY_LIMIT, Register};

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::config::{CampaignConfig, ProgramConfig};
use crate::domain::{Address, Gathering, Language, Training, TrainingId};
use crate::email::{EmailError, Mailbox, TokenKey};
use crate::messages;
use crate::outbound::{
    Channel, ConsentBasis, Kind, NewMessage, OutboxStore, QueueError, SendQueue, body_context,
};
use crate::privacy::{ContactHash, ContactHasher, CryptoError, Sealer, field_context};
use crate::store::{
    ConsentedContact, GatheringStore, NewRsvp, NewTrainingRegistration, PersonRecord,
    RegistrationStore, RsvpOutcome, RsvpSource, RsvpStore, StoreError, TrainingRegistered,
    TrainingStore,
};
use confirm::{Confirmed, EventDetails, Letterhead, Recording};
use form::{FieldError, RawForm, Registration, Rules, Target};

/// What the registration use case is configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub rules: Rules,
    /// Submissions per client address per window (`REGISTER_IP_LIMIT`).
    pub ip_limit: u32,
    /// Submissions per person per window (`REGISTER_CONTACT_LIMIT`).
    pub contact_limit: u32,
    pub window: Duration,
    /// Base of share links and email links (`PUBLIC_BASE_URL`, else the API's URL).
    pub public_base_url: String,
    pub program: ProgramConfig,
    pub campaign: CampaignConfig,
    pub from: Mailbox,
    /// The texts organizers reworded (`/admin/templates`): read for a form that gives a phone.
    pub wordings: Vec<crate::store::StoredTemplate>,
}

impl Settings {
    /// These settings with what organizers set: the countries on `/admin/settings` (if they set
    /// any) in place of the deployed ones, and the texts they reworded.
    pub fn with_organizers(
        &self,
        rules: Option<&crate::store::CampaignRules>,
        wordings: Vec<crate::store::StoredTemplate>,
    ) -> Settings {
        let rules = match rules {
            Some(rules) => Rules {
                phone_countries: rules.phone_countries.clone(),
            },
            None => self.rules.clone(),
        };
        Settings {
            rules,
            wordings,
            ..self.clone()
        }
    }
}

/// The keys a registration needs, fetched once per cold start.
#[derive(Debug, Clone)]
pub struct Keys {
    pub hasher: ContactHasher,
    pub link_key: TokenKey,
}

/// Who sent the request.
#[derive(Debug, Clone, Default)]
pub struct Client {
    /// As API Gateway saw it (`requestContext.http.sourceIp`).
    pub ip: String,
    /// The page's origin, when the browser said (`Origin`).
    pub origin: Option<String>,
}

/// What became of a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A place at the gathering.
    Going,
    /// The gathering is full.
    Waitlist,
    /// Registered for a training.
    Registered,
    /// Joined the movement (no event).
    Joined,
}

/// The answer to a registration: what the thank-you state shows. Stored with the submission (no
/// personal data) so a retry gets the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub status: Status,
    pub language: Language,
    pub title: Option<String>,
    pub when: Option<String>,
    /// The person's own "bring a friend" link.
    pub share_url: String,
    pub email_confirmation: bool,
    pub sms_confirmation: bool,
}

impl Answer {
    /// The thank-you lines, in the person's language.
    pub fn lines(&self) -> Vec<String> {
        let text = text::form_text(self.language);
        let values = [
            ("title", self.title.as_deref().unwrap_or("")),
            ("when", self.when.as_deref().unwrap_or("")),
        ];
        let mut lines = vec![match self.status {
            Status::Going | Status::Registered => messages::render(text.thanks_going, &values),
            Status::Waitlist => messages::render(text.thanks_waitlist, &values),
            Status::Joined => text.thanks_signup.to_owned(),
        }];
        if self.email_confirmation {
            lines.push(text.thanks_check_email.to_owned());
        }
        if self.sms_confirmation {
            lines.push(text.thanks_check_phone.to_owned());
        }
        // "Bring a friend" labels the share link itself, wherever there is one.
        lines
    }
}

/// Why a registration was refused. Mapped to HTTP statuses in one place ([`RegisterError::status`]).
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("the form has {} invalid field(s)", .0.len())]
    Invalid(Vec<FieldError>),
    #[error("too many submissions from this client or for this person")]
    TooMany,
    #[error("no such event")]
    NoSuchEvent,
    #[error("the event has ended")]
    Ended,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("sealing failed: {0}")]
    Crypto(#[from] CryptoError),
    #[error("building the email failed: {0}")]
    Email(#[from] EmailError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("the answer could not be stored: {0}")]
    Answer(#[from] serde_json::Error),
}

impl RegisterError {
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooMany => StatusCode::TOO_MANY_REQUESTS,
            Self::NoSuchEvent => StatusCode::NOT_FOUND,
            Self::Ended => StatusCode::GONE,
            Self::Store(_) | Self::Queue(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Crypto(_) | Self::Email(_) | Self::Answer(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The event a form is for, looked up: what the page shows and the confirmation says.
#[derive(Debug, Clone)]
pub enum Event {
    Gathering(Box<Gathering>),
    Training(Box<Training>),
    Campaign,
}

/// Looks up what a form is for. `Err(NoSuchEvent)`/`Err(Ended)` when it cannot be registered for.
pub async fn find_event<G: GatheringStore, T: TrainingStore>(
    gatherings: &G,
    trainings: &T,
    target: &Target,
    now: OffsetDateTime,
) -> Result<Event, RegisterError> {
    match target {
        Target::Campaign { .. } => Ok(Event::Campaign),
        Target::Gathering(id) => {
            let gathering = gatherings
                .get(id)
                .await?
                .ok_or(RegisterError::NoSuchEvent)?;
            if gathering.ends_at <= now {
                return Err(RegisterError::Ended);
            }
            Ok(Event::Gathering(Box::new(gathering)))
        }
        Target::Training(id) => {
            let id = TrainingId::parse(id).map_err(|_| RegisterError::NoSuchEvent)?;
            let training = trainings
                .get_training(&id)
                .await?
                .ok_or(RegisterError::NoSuchEvent)?;
            if training.has_ended(now) {
                return Err(RegisterError::Ended);
            }
            Ok(Event::Training(Box::new(training)))
        }
    }
}

/// How a training is described to someone who registered.
pub fn training_details(training: &Training, language: Language) -> EventDetails {
    EventDetails {
        uid: format!("training-{}", training.id.as_str()),
        title: training.title_in(language).as_str().to_owned(),
        when: messages::when(training.starts_at, &training.time_zone, language),
        place: training
            .join_url
            .as_ref()
            .map(|u| u.as_str().to_owned())
            .unwrap_or_default(),
        starts_at: training.starts_at,
        ends_at: training.ends_at,
        join_url: training.join_url.as_ref().map(|u| u.as_str().to_owned()),
    }
}

/// The registration use case and its ports.
pub struct Registrar<'a, S, G, T, O, Q> {
    pub settings: &'a Settings,
    pub store: &'a S,
    pub gatherings: &'a G,
    pub trainings: &'a T,
    pub outbox: &'a O,
    pub queue: &'a Q,
    pub sealer: &'a Sealer,
    pub keys: &'a Keys,
}

/// What the person is confirmed for, from the RSVP's outcome.
fn confirmed_for(outcome: RsvpOutcome, details: EventDetails) -> Result<Confirmed, RegisterError> {
    match outcome {
        RsvpOutcome::Created | RsvpOutcome::AlreadyGoing => Ok(Confirmed::Going(details)),
        RsvpOutcome::Waitlisted | RsvpOutcome::AlreadyWaitlisted => {
            Ok(Confirmed::Waitlisted(details))
        }
        RsvpOutcome::NoSuchGathering => Err(RegisterError::NoSuchEvent),
        RsvpOutcome::Ended => Err(RegisterError::Ended),
    }
}

/// How a gathering is described to someone who just said yes.
pub fn event_details(gathering: &Gathering, language: Language) -> EventDetails {
    let catalog = messages::catalog(language);
    let place = match &gathering.address {
        Address::Public(address) => format!("{address}, {}, {}", gathering.town, gathering.state),
        Address::Private(_) => format!(
            "{} ({}, {})",
            catalog.private_place_email, gathering.town, gathering.state
        ),
    };
    EventDetails {
        uid: gathering.id.as_str().to_owned(),
        title: gathering.title.as_str().to_owned(),
        when: messages::when(gathering.starts_at, &gathering.timezone, language),
        place,
        starts_at: gathering.starts_at,
        ends_at: gathering.ends_at,
        join_url: None,
    }
}

impl<S, G, T, O, Q> Registrar<'_, S, G, T, O, Q>
where
    S: RegistrationStore,
    G: GatheringStore + RsvpStore,
    T: TrainingStore,
    O: OutboxStore,
    Q: SendQueue,
{
    /// Looks up what a form is for. `Err(NoSuchEvent)`/`Err(Ended)` when it cannot be registered for.
    pub async fn event(
        &self,
        target: &Target,
        now: OffsetDateTime,
    ) -> Result<Event, RegisterError> {
        find_event(self.gatherings, self.trainings, target, now).await
    }

    /// The share link of a person (their "bring a friend" link) for `target`.
    pub fn share_url(&self, target: &Target, code: &str) -> String {
        let base = &self.settings.public_base_url;
        match target {
            Target::Gathering(id) => format!("{base}/g/{}?ref={code}", id.as_str()),
            Target::Training(id) => format!("{base}/t/{id}?ref={code}"),
            Target::Campaign { .. } => format!("{base}/join?ref={code}"),
        }
    }

    /// Registers a form. `target`: the event of the page's path, if any.
    #[tracing::instrument(name = "registration.register", skip_all)]
    pub async fn register(
        &self,
        raw: &RawForm,
        target: Option<Target>,
        client: &Client,
        now: OffsetDateTime,
    ) -> Result<Answer, RegisterError> {
        let registration =
            form::validate(raw, target, &self.settings.rules).map_err(RegisterError::Invalid)?;
        if let Some(answer) = self
            .store
            .finished_submission(registration.submission.as_str(), now)
            .await?
        {
            tracing::info!(outcome = "replayed", "registration answered again");
            return Ok(serde_json::from_str(&answer)?);
        }
        let hasher = &self.keys.hasher;
        let email_hash = registration.email.as_ref().map(|e| hasher.email(e));
        let phone_hash = registration.phone.as_ref().map(|p| hasher.phone(p));
        let Some(person) = phone_hash.clone().or_else(|| email_hash.clone()) else {
            // Validation guarantees one of them.
            return Err(RegisterError::Invalid(Vec::new()));
        };
        self.check_rate_limits(client, &person, now).await?;
        let event = self.event(&registration.target, now).await?;
        let code = hasher.referral_code(&person);
        let share_url = self.share_url(&registration.target, &code);

        self.record(
            &registration,
            &person,
            email_hash.as_ref(),
            phone_hash.as_ref(),
            &code,
            client,
            now,
        )
        .await?;
        let confirmed = self.take_part(&registration, &person, &event, now).await?;
        let recordings = self.recordings(registration.language).await?;
        let messages = self
            .confirmations(
                &registration,
                &person,
                email_hash.as_ref(),
                phone_hash.as_ref(),
                &confirmed,
                &share_url,
                &recordings,
                now,
            )
            .await?;
        self.outbox.enqueue(&messages, now).await?;
        let queued: Vec<_> = messages
            .iter()
            .map(|m| (m.queued(), std::time::Duration::ZERO))
            .collect();
        if !queued.is_empty() {
            let accepted = self.queue.send(&queued).await?;
            if accepted.iter().any(|ok| !ok) {
                return Err(RegisterError::Queue(QueueError {
                    operation: "SendMessageBatch",
                    source: "a confirmation was not accepted by the queue".into(),
                }));
            }
        }
        let (status, title, when) = match &confirmed {
            Confirmed::Going(e) => (Status::Going, Some(e.title.clone()), Some(e.when.clone())),
            Confirmed::Waitlisted(e) => (
                Status::Waitlist,
                Some(e.title.clone()),
                Some(e.when.clone()),
            ),
            Confirmed::Training(e) => (
                Status::Registered,
                Some(e.title.clone()),
                Some(e.when.clone()),
            ),
            Confirmed::Joined { .. } => (Status::Joined, None, None),
        };
        let answer = Answer {
            status,
            language: registration.language,
            title,
            when,
            share_url,
            email_confirmation: registration.email.is_some(),
            sms_confirmation: registration.phone.is_some(),
        };
        self.store
            .finish_submission(
                registration.submission.as_str(),
                &serde_json::to_string(&answer)?,
                now,
            )
            .await?;
        tracing::info!(outcome = "registered", status = ?answer.status, "registration stored");
        Ok(answer)
    }

    async fn check_rate_limits(
        &self,
        client: &Client,
        person: &ContactHash,
        now: OffsetDateTime,
    ) -> Result<(), RegisterError> {
        let settings = self.settings;
        let ip = self.keys.hasher.ip(&client.ip);
        let by_ip = self
            .store
            .allow(
                &format!("ip#{}", ip.as_str()),
                settings.ip_limit,
                settings.window,
                now,
            )
            .await?;
        if !by_ip {
            tracing::warn!(limit = "ip", "registration rate-limited");
            return Err(RegisterError::TooMany);
        }
        let by_person = self
            .store
            .allow(
                &format!("contact#{}", person.as_str()),
                settings.contact_limit,
                settings.window,
                now,
            )
            .await?;
        if !by_person {
            tracing::warn!(limit = "contact", "registration rate-limited");
            return Err(RegisterError::TooMany);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn record(
        &self,
        registration: &Registration,
        person: &ContactHash,
        email_hash: Option<&ContactHash>,
        phone_hash: Option<&ContactHash>,
        code: &str,
        client: &Client,
        now: OffsetDateTime,
    ) -> Result<(), RegisterError> {
        let sealer = self.sealer;
        let first_name = sealer
            .seal(
                &field_context(person, "first_name"),
                registration.first_name.as_str(),
            )
            .await?;
        let last_name = match &registration.last_name {
            Some(last) => Some(
                sealer
                    .seal(&field_context(person, "last_name"), last.as_str())
                    .await?,
            ),
            None => None,
        };
        let email_sealed = match (&registration.email, email_hash) {
            (Some(email), Some(hash)) => Some((
                hash,
                sealer
                    .seal(&field_context(hash, "email"), email.as_str())
                    .await?,
            )),
            _ => None,
        };
        let phone_sealed = match (&registration.phone, phone_hash) {
            (Some(phone), Some(hash)) => Some((
                hash,
                sealer
                    .seal(&field_context(hash, "phone"), phone.as_e164())
                    .await?,
            )),
            _ => None,
        };
        let text = text::form_text(registration.language);
        let sms_wording = messages::render(
            text.sms_consent,
            &[("program", self.settings.program.name.as_str())],
        );
        let email_wording = text::email_statement(registration.language);
        let (wants_to_host, referred_by) = match &registration.target {
            Target::Campaign { wants_to_host } => (*wants_to_host, registration.referral.as_ref()),
            _ => (false, registration.referral.as_ref()),
        };
        let record = PersonRecord {
            submission: registration.submission.as_str(),
            person,
            email: email_sealed
                .as_ref()
                .map(|(contact, address)| ConsentedContact {
                    contact,
                    address,
                    wording: email_wording,
                }),
            sms: phone_sealed
                .as_ref()
                .map(|(contact, address)| ConsentedContact {
                    contact,
                    address,
                    wording: &sms_wording,
                }),
            first_name: &first_name,
            last_name: last_name.as_ref(),
            zip: registration.zip.as_str(),
            language: registration.language,
            referral_code: code,
            referred_by: referred_by.map(|c| c.as_str()),
            wants_to_host,
            origin: client.origin.as_deref(),
        };
        let recorded = self.store.record_person(&record, now).await?;
        tracing::info!(recorded = ?recorded, "person recorded");
        Ok(())
    }

    async fn take_part(
        &self,
        registration: &Registration,
        person: &ContactHash,
        event: &Event,
        now: OffsetDateTime,
    ) -> Result<Confirmed, RegisterError> {
        match event {
            Event::Campaign => Ok(Confirmed::Joined {
                wants_to_host: matches!(
                    registration.target,
                    Target::Campaign {
                        wants_to_host: true
                    }
                ),
            }),
            Event::Gathering(gathering) => {
                let first_name = self
                    .sealer
                    .seal(
                        &field_context(person, "first_name"),
                        registration.first_name.as_str(),
                    )
                    .await?;
                let outcome = self
                    .gatherings
                    .rsvp(
                        NewRsvp {
                            gathering: &gathering.id,
                            contact: person,
                            source: RsvpSource::Form,
                            language: registration.language,
                            first_name: &first_name,
                            referral: registration.referral.as_ref().map(|c| c.as_str()),
                        },
                        now,
                    )
                    .await?;
                tracing::info!(outcome = ?outcome, "rsvp");
                confirmed_for(outcome, event_details(gathering, registration.language))
            }
            Event::Training(training) => {
                let first_name = self
                    .sealer
                    .seal(
                        &field_context(person, "first_name"),
                        registration.first_name.as_str(),
                    )
                    .await?;
                let outcome = self
                    .trainings
                    .register(
                        NewTrainingRegistration {
                            training: &training.id,
                            contact: person,
                            language: registration.language,
                            first_name: &first_name,
                            source: RsvpSource::Form,
                            referral: registration.referral.as_ref().map(|c| c.as_str()),
                        },
                        now,
                    )
                    .await?;
                tracing::info!(outcome = ?outcome, "training registration");
                match outcome {
                    TrainingRegistered::Created | TrainingRegistered::AlreadyRegistered => Ok(
                        Confirmed::Training(training_details(training, registration.language)),
                    ),
                    TrainingRegistered::NoSuchTraining => Err(RegisterError::NoSuchEvent),
                    TrainingRegistered::Ended => Err(RegisterError::Ended),
                }
            }
        }
    }

    /// The published training recordings every confirmation lists, oldest training first.
    async fn recordings(&self, language: Language) -> Result<Vec<Recording>, RegisterError> {
        Ok(self
            .trainings
            .trainings()
            .await?
            .iter()
            .filter_map(|t| {
                t.published_recording().map(|url| Recording {
                    title: t.title_in(language).as_str().to_owned(),
                    url: url.as_str().to_owned(),
                })
            })
            .collect())
    }

    #[allow(clippy::too_many_arguments)]
    async fn confirmations(
        &self,
        registration: &Registration,
        person: &ContactHash,
        email_hash: Option<&ContactHash>,
        phone_hash: Option<&ContactHash>,
        confirmed: &Confirmed,
        share_url: &str,
        recordings: &[Recording],
        now: OffsetDateTime,
    ) -> Result<Vec<NewMessage>, RegisterError> {
        let settings = self.settings;
        let mut messages = Vec::new();
        if let (Some(email), Some(hash)) = (&registration.email, email_hash) {
            let uid_domain = settings
                .from
                .address()
                .as_str()
                .rsplit('@')
                .next()
                .unwrap_or("rising.invalid")
                .to_owned();
            let head = Letterhead {
                from: &settings.from,
                link_key: &self.keys.link_key,
                links_base_url: &settings.public_base_url,
                program: &settings.program,
                campaign: &settings.campaign,
                recordings,
                uid_domain: &uid_domain,
            };
            let mime = confirm::confirmation_email(
                &head,
                confirmed,
                email,
                hash,
                registration.first_name.as_str(),
                share_url,
                registration.language,
                now,
            )?;
            let id = confirm::confirmation_id(person, confirmed, "email");
            messages.push(NewMessage {
                to: self
                    .sealer
                    .seal(
                        &field_context(hash, Channel::Email.address_field()),
                        email.as_str(),
                    )
                    .await?,
                body: self.sealer.seal(&body_context(&id), &mime).await?,
                id,
                channel: Channel::Email,
                kind: Kind::Confirmation,
                consent: ConsentBasis::Requested,
                contact: hash.clone(),
                language: registration.language,
                zip: Some(registration.zip.as_str().to_owned()),
                batch: None,
            });
        }
        if let (Some(phone), Some(hash)) = (&registration.phone, phone_hash) {
            let text = confirm::confirmation_text(
                &settings.program,
                &settings.campaign,
                confirmed,
                registration.language,
                &settings.wordings,
            );
            let id = confirm::confirmation_id(person, confirmed, "sms");
            messages.push(NewMessage {
                to: self
                    .sealer
                    .seal(
                        &field_context(hash, Channel::Sms.address_field()),
                        phone.as_e164(),
                    )
                    .await?,
                body: self.sealer.seal(&body_context(&id), &text).await?,
                id,
                channel: Channel::Sms,
                kind: Kind::Confirmation,
                consent: ConsentBasis::OptedIn,
                contact: hash.clone(),
                language: registration.language,
                zip: Some(registration.zip.as_str().to_owned()),
                batch: None,
            });
        }
        Ok(messages)
    }
}

#[cfg(test)]
mod tests;

//! Hosts: sign-in by magic link, their gatherings, and who is coming.
//!
//! A host is whoever controls an email address: there is no password and no sign-up. They type
//! their email; a single-use link (a random token, stored only as its SHA-256, valid 15 minutes) is
//! emailed through the one sender path (the outbox and the send worker). Using it starts a session
//! (a signed cookie, 7 days, ended by signing out). Asking for links is rate-limited per client
//! address and per email, so nobody can email-bomb an address.
//!
//! A host is known by the keyed hash of their email (`HOST#<hash>`); their email and first name are
//! sealed. Every gathering route checks that the gathering's `host` is the signed-in host, and
//! answers 404 otherwise (the same answer as for a gathering that does not exist). Downloads of an
//! attendee list are recorded in the audit log before the file is produced.

mod admin;
pub mod contacts;
pub mod form;
mod handler;
pub mod invites;
pub mod page;
pub mod session;
pub mod text;

#[cfg(test)]
mod tests;

pub use handler::HostApp;

use time::OffsetDateTime;

use self::form::{GatheringForm, Problem, ValidGathering};
use self::session::{SecretToken, SessionKey};
use self::text::host_text;
use crate::admin::{AuditAction, AuditEntry, AuditLog, CsvWriter, ExportFormat};
use crate::config::ProgramConfig;
use crate::conversation::email_step::letter;
use crate::domain::{
    EmailAddress, FirstName, Gathering, GatheringCode, GatheringError, GatheringId, Language,
};
use crate::email::{
    Email, EmailError, Mailbox, TokenKey, TokenPurpose, UnsubscribeToken, forget_url,
};
use crate::messages::render;
use crate::outbound::{
    Channel, ConsentBasis, Kind, NewMessage, OutboundId, OutboxStore, QueueError, SendQueue,
    body_context,
};
use crate::privacy::{ContactHash, ContactHasher, CryptoError, Sealer, field_context};
use crate::store::{
    GatheringStore, HostProfile, HostSession, HostStore, InviteStore, LoginLink, PutGathering,
    RegistrationStore, RsvpRecord, RsvpSource, RsvpStatus, RsvpStore, StoreError, UpdateGathering,
    timestamp,
};

/// How long a sign-in link works.
pub const LOGIN_LINK_TTL: time::Duration = time::Duration::minutes(15);
/// How long a session lasts (signing out ends it earlier).
pub const SESSION_TTL: time::Duration = time::Duration::days(7);
/// How many codes are tried for a new gathering before giving up.
const CODE_ATTEMPTS: u32 = 8;

/// What the host use cases need to know.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Base of links (sign-in, share pages, the embed script).
    pub public_base_url: String,
    pub program: ProgramConfig,
    pub from: Mailbox,
    /// Cookies are `Secure` and `__Host-` prefixed (the site is served over HTTPS).
    pub secure_cookies: bool,
    /// Sign-in links asked for per client address per window.
    pub login_ip_limit: u32,
    /// Sign-in links asked for per email per window.
    pub login_email_limit: u32,
    pub login_window: time::Duration,
    /// New gatherings wait for an organizer's approval before they are listed.
    pub approval_required: bool,
    /// The number people text a gathering's code to (E.164).
    pub text_number: String,
    /// Countries whose mobile numbers may be invited by text.
    pub phone_countries: Vec<String>,
    /// Invitations a host may send per day.
    pub invite_quota: u32,
    /// A person is invited at most once per channel within this many days.
    pub invite_window_days: u32,
    /// How long invitations (their personal links) are kept after the invite window, in days.
    pub invite_purge_days: u32,
    /// For the cost estimate: US dollars per SMS segment and per email.
    pub sms_segment_price_usd: f64,
    pub email_price_usd: f64,
}

impl Settings {
    /// These settings with the rules organizers set on `/admin/settings` in place of the deployed
    /// ones.
    pub fn with_rules(&self, rules: &crate::store::CampaignRules) -> Settings {
        Settings {
            approval_required: rules.approval_required,
            invite_quota: rules.invite_quota,
            invite_window_days: rules.invite_window_days,
            phone_countries: rules.phone_countries.clone(),
            ..self.clone()
        }
    }

    /// The rules as deployed (the law's hours: no parameter sets them).
    pub fn deployed_rules(&self) -> crate::store::CampaignRules {
        crate::store::CampaignRules {
            approval_required: self.approval_required,
            invite_quota: self.invite_quota,
            invite_window_days: self.invite_window_days,
            phone_countries: self.phone_countries.clone(),
            sending_hours: crate::outbound::SendingHours::LAW,
        }
    }

    /// How long invitations (their personal links) are kept: the invite window, then the purge
    /// delay.
    pub fn invite_retention(&self) -> time::Duration {
        time::Duration::days(i64::from(self.invite_window_days + self.invite_purge_days))
    }
}

/// The keys, fetched from SSM on first use.
#[derive(Clone, Debug)]
pub struct Keys {
    pub hasher: ContactHasher,
    pub link_key: TokenKey,
    pub session: SessionKey,
    /// The keyed hashes of the organizers' emails: the hosts who may use `/admin`.
    pub organizers: Vec<ContactHash>,
}

/// Why a host request failed. Mapped to HTTP statuses in one place ([`HostError::status`]).
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("not an email address")]
    InvalidEmail,
    #[error("too many sign-in links asked for")]
    TooMany,
    #[error("the sign-in link is unknown, used or expired")]
    LinkExpired,
    #[error("not signed in")]
    NotSignedIn,
    #[error("missing or wrong CSRF token")]
    Forbidden,
    #[error("no such gathering for this host")]
    NotFound,
    #[error("the gathering form has {} problem(s)", .0.len())]
    Invalid(Vec<Problem>),
    #[error("no free code for the gathering")]
    NoCode,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("sealing failed: {0}")]
    Crypto(#[from] CryptoError),
    #[error("building the email failed: {0}")]
    Email(#[from] EmailError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("the gathering could not be sealed: {0}")]
    Gathering(#[from] GatheringError),
    #[error("the host did not attest that they know the people invited")]
    NotAttested,
    #[error("nobody on the list can be invited")]
    NobodyToInvite,
    #[error("the host's daily quota of {limit} invitations is reached")]
    Quota { limit: u32 },
    #[error("signed in, but not an organizer")]
    NotOrganizer,
    #[error("the recording was published already")]
    AlreadyPublished,
}

impl From<crate::admin::recordings::PublishError> for HostError {
    fn from(error: crate::admin::recordings::PublishError) -> Self {
        use crate::admin::recordings::PublishError;
        match error {
            PublishError::NoSuchTraining(_) => Self::NotFound,
            PublishError::AlreadyPublished { .. } => Self::AlreadyPublished,
            PublishError::Audit(e) | PublishError::Store(e) => Self::Store(e),
        }
    }
}

impl HostError {
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            Self::InvalidEmail | Self::Invalid(_) | Self::NotAttested | Self::NobodyToInvite => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::TooMany | Self::Quota { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::LinkExpired => StatusCode::GONE,
            Self::NotSignedIn => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::NotOrganizer => StatusCode::FORBIDDEN,
            Self::AlreadyPublished => StatusCode::CONFLICT,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Store(_) | Self::Queue(_) | Self::NoCode => StatusCode::SERVICE_UNAVAILABLE,
            Self::Crypto(_) | Self::Email(_) | Self::Gathering(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

/// A signed-in host.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session: HostSession,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
}

impl SignedIn {
    pub fn host(&self) -> &ContactHash {
        &self.session.host
    }
}

/// A gathering on the dashboard, with its counts.
#[derive(Debug, Clone)]
pub struct GatheringSummary {
    pub gathering: Gathering,
    pub going: usize,
    pub waitlist: usize,
}

/// One person coming, as their host sees them: first name only, no contact details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attendee {
    pub first_name: String,
    pub source: RsvpSource,
    pub status: RsvpStatus,
    pub rsvp_at: OffsetDateTime,
    /// This host invited them (their RSVP came through the host's personal link).
    pub invited: Option<invites::Attribution>,
}

/// The host use cases, over their ports.
pub struct Hosting<'a, H, G, R, O, Q, A, I> {
    pub settings: &'a Settings,
    pub hosts: &'a H,
    pub gatherings: &'a G,
    /// Rate-limit windows (the same counters as the form's).
    pub limits: &'a R,
    pub outbox: &'a O,
    pub queue: &'a Q,
    pub audit: &'a A,
    pub invites: &'a I,
    pub sealer: &'a Sealer,
    pub keys: &'a Keys,
    /// Messages organizers reworded (read for the routes that send them; empty elsewhere).
    pub templates: &'a [crate::store::StoredTemplate],
}

impl<H, G, R, O, Q, A, I> Hosting<'_, H, G, R, O, Q, A, I>
where
    H: HostStore,
    G: GatheringStore + RsvpStore,
    R: RegistrationStore,
    O: OutboxStore,
    Q: SendQueue,
    A: AuditLog,
    I: InviteStore,
{
    // --- sign-in ----------------------------------------------------------------------------

    /// Emails a sign-in link to `email` (the same answer whether or not they hosted before).
    #[tracing::instrument(name = "hosting.request_link", skip_all)]
    pub async fn request_link(
        &self,
        email: &str,
        language: Language,
        client_ip: &str,
        now: OffsetDateTime,
    ) -> Result<(), HostError> {
        let email = EmailAddress::parse(email).map_err(|_| HostError::InvalidEmail)?;
        let host = self.keys.hasher.email(&email);
        let ip = self.keys.hasher.ip(client_ip);
        let window = self.settings.login_window;
        if !self
            .limits
            .allow(
                &format!("host-ip#{}", ip.as_str()),
                self.settings.login_ip_limit,
                window,
                now,
            )
            .await?
            || !self
                .limits
                .allow(
                    &format!("host-email#{}", host.as_str()),
                    self.settings.login_email_limit,
                    window,
                    now,
                )
                .await?
        {
            tracing::warn!(outcome = "rate_limited", "sign-in link refused");
            return Err(HostError::TooMany);
        }
        let token = SecretToken::random();
        let sealed_email = self
            .sealer
            .seal(&field_context(&host, "email"), email.as_str())
            .await?;
        self.hosts
            .put_login(&LoginLink {
                token_hash: token.hash(),
                host: host.clone(),
                email: sealed_email.clone(),
                language,
                created_at: now,
                expires_at: now + LOGIN_LINK_TTL,
            })
            .await?;
        let mime = self.sign_in_email(&email, &host, &token, language, now)?;
        let id = OutboundId::random();
        let message = NewMessage {
            body: self.sealer.seal(&body_context(&id), &mime).await?,
            id,
            channel: Channel::Email,
            kind: Kind::Confirmation,
            consent: ConsentBasis::Requested,
            contact: host,
            to: sealed_email,
            language,
            zip: None,
            batch: None,
        };
        self.outbox
            .enqueue(std::slice::from_ref(&message), now)
            .await?;
        let accepted = self
            .queue
            .send(&[(message.queued(), std::time::Duration::ZERO)])
            .await?;
        if accepted.iter().any(|ok| !ok) {
            return Err(HostError::Queue(QueueError {
                operation: "SendMessage",
                source: "the sign-in email was not accepted by the queue".into(),
            }));
        }
        tracing::info!(outcome = "sent", "sign-in link queued");
        Ok(())
    }

    /// The sign-in URL of a token: a page that asks for one press, so that mail scanners that
    /// open links do not use it up.
    pub fn sign_in_url(&self, token: &SecretToken) -> String {
        format!(
            "{}/host/sign-in?token={}",
            self.settings.public_base_url,
            token.as_str()
        )
    }

    fn sign_in_email(
        &self,
        to: &EmailAddress,
        host: &ContactHash,
        token: &SecretToken,
        language: Language,
        now: OffsetDateTime,
    ) -> Result<String, HostError> {
        let t = host_text(language);
        let forget = forget_url(
            &self.settings.public_base_url,
            &UnsubscribeToken::sign(&self.keys.link_key, host, TokenPurpose::Forget, now),
        );
        let link = self.sign_in_url(token);
        let values = [
            ("program", self.settings.program.name.as_str()),
            ("link", link.as_str()),
            ("forget_url", forget.as_str()),
        ];
        let (text, html) = letter(
            &render(t.email_body, &values),
            &render(t.email_footer, &values),
            language,
        );
        let email = Email::new(
            self.settings.from.clone(),
            to.clone(),
            &render(t.email_subject, &values),
            text,
            html,
            language,
        )
        .with_date(now);
        let mime = email.to_mime()?;
        Ok(String::from_utf8_lossy(&mime).into_owned())
    }

    /// Uses a sign-in link: starts a session and returns its token (for the cookie).
    #[tracing::instrument(name = "hosting.sign_in", skip_all)]
    pub async fn sign_in(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<(SecretToken, HostSession), HostError> {
        let token = SecretToken::parse(token).ok_or(HostError::LinkExpired)?;
        let Some(link) = self.hosts.take_login(&token.hash(), now).await? else {
            tracing::warn!(outcome = "expired", "sign-in link refused");
            return Err(HostError::LinkExpired);
        };
        let session_token = SecretToken::random();
        let session = HostSession {
            token_hash: session_token.hash(),
            host: link.host.clone(),
            language: link.language,
            created_at: now,
            expires_at: now + SESSION_TTL,
        };
        self.hosts
            .signed_in(&HostProfile {
                host: link.host,
                email: link.email,
                first_name: None,
                language: link.language,
                created_at: now,
                signed_in_at: now,
            })
            .await?;
        self.hosts.put_session(&session).await?;
        tracing::info!(outcome = "signed_in", "host signed in");
        Ok((session_token, session))
    }

    /// The session of a cookie value: `None` when the cookie is forged, unknown, ended or expired.
    pub async fn session(
        &self,
        cookie_value: &str,
        now: OffsetDateTime,
    ) -> Result<Option<SignedIn>, HostError> {
        let Some(token) = self.keys.session.verify_cookie(cookie_value) else {
            return Ok(None);
        };
        let session = self.hosts.session(&token.hash(), now).await?;
        Ok(session.map(|session| SignedIn {
            csrf: self.keys.session.csrf_token(&session.token_hash),
            session,
        }))
    }

    /// Checks the CSRF token a form carried.
    pub fn check_csrf(&self, signed_in: &SignedIn, token: &str) -> Result<(), HostError> {
        if self
            .keys
            .session
            .verify_csrf(&signed_in.session.token_hash, token.trim())
        {
            Ok(())
        } else {
            tracing::warn!(outcome = "csrf", "host form refused");
            Err(HostError::Forbidden)
        }
    }

    /// Ends the session.
    pub async fn sign_out(&self, signed_in: &SignedIn) -> Result<(), HostError> {
        self.hosts
            .end_session(&signed_in.session.token_hash)
            .await?;
        Ok(())
    }

    // --- gatherings ---------------------------------------------------------------------------

    /// The host's gatherings with their counts, soonest first.
    pub async fn dashboard(&self, host: &ContactHash) -> Result<Vec<GatheringSummary>, HostError> {
        let gatherings = self.gatherings.hosted_by(host).await?;
        let mut summaries = Vec::with_capacity(gatherings.len());
        for gathering in gatherings {
            let rsvps = self.gatherings.rsvps_for(&gathering.id).await?;
            let going = rsvps
                .iter()
                .filter(|r| r.status == RsvpStatus::Going)
                .count();
            summaries.push(GatheringSummary {
                going,
                waitlist: rsvps.len() - going,
                gathering,
            });
        }
        Ok(summaries)
    }

    /// One of the host's own gatherings; [`HostError::NotFound`] for anybody else's.
    pub async fn own(&self, host: &ContactHash, id: &GatheringId) -> Result<Gathering, HostError> {
        match self.gatherings.get(id).await? {
            Some(gathering) if gathering.host.as_ref() == Some(host) => Ok(gathering),
            _ => Err(HostError::NotFound),
        }
    }

    /// Whether the host still has to tell us their first name (before their first gathering).
    pub async fn needs_first_name(&self, host: &ContactHash) -> Result<bool, HostError> {
        Ok(self
            .hosts
            .profile(host)
            .await?
            .and_then(|p| p.first_name)
            .is_none())
    }

    /// Creates a gathering from the form.
    #[tracing::instrument(name = "hosting.create", skip_all)]
    pub async fn create(
        &self,
        host: &ContactHash,
        form: &GatheringForm,
        language: Language,
        now: OffsetDateTime,
    ) -> Result<GatheringId, HostError> {
        let profile = self.hosts.profile(host).await?;
        let known_name = profile.as_ref().and_then(|p| p.first_name.clone());
        let valid = form::validate(form, known_name.is_none(), Some(now), host_text(language))
            .map_err(HostError::Invalid)?;
        let first_name = match (&valid.first_name, known_name) {
            (Some(name), _) => {
                let sealed = self
                    .sealer
                    .seal(&field_context(host, "first_name"), name.as_str())
                    .await?;
                self.hosts.set_first_name(host, &sealed).await?;
                name.clone()
            }
            (None, Some(sealed)) => {
                let opened = self
                    .sealer
                    .open(&field_context(host, "first_name"), &sealed)
                    .await?;
                FirstName::parse(&opened)
                    .map_err(|_| HostError::Crypto(CryptoError::Malformed("stored first name")))?
            }
            (None, None) => return Err(HostError::Invalid(Vec::new())),
        };
        let id = GatheringId::random();
        for attempt in 0..CODE_ATTEMPTS {
            let code = GatheringCode::suggest(valid.title.as_str(), attempt);
            let gathering = self
                .seal(&valid, code, first_name.clone(), host, &id)
                .await?;
            match self.gatherings.put(&gathering, now).await? {
                PutGathering::Created | PutGathering::AlreadyExists => {
                    tracing::info!(outcome = "created", "gathering created");
                    return Ok(id);
                }
                PutGathering::CodeTaken => continue,
            }
        }
        Err(HostError::NoCode)
    }

    async fn seal(
        &self,
        valid: &ValidGathering,
        code: GatheringCode,
        first_name: FirstName,
        host: &ContactHash,
        id: &GatheringId,
    ) -> Result<Gathering, HostError> {
        let draft = valid.clone().draft(
            code,
            first_name,
            host.clone(),
            !self.settings.approval_required,
        );
        Ok(draft.seal(id.clone(), self.sealer).await?)
    }

    /// Changes one of the host's gatherings (its id, code, host and listing stay).
    #[tracing::instrument(name = "hosting.update", skip_all)]
    pub async fn update(
        &self,
        host: &ContactHash,
        id: &GatheringId,
        form: &GatheringForm,
        language: Language,
        now: OffsetDateTime,
    ) -> Result<(), HostError> {
        let current = self.own(host, id).await?;
        let valid =
            form::validate(form, false, None, host_text(language)).map_err(HostError::Invalid)?;
        let name = current
            .open_host_first_name(self.sealer)
            .await?
            .ok_or(HostError::NotFound)?;
        let first_name = FirstName::parse(&name)
            .map_err(|_| HostError::Crypto(CryptoError::Malformed("host first name")))?;
        let mut gathering = self
            .seal(&valid, current.code.clone(), first_name, host, id)
            .await?;
        gathering.listed = current.listed;
        gathering.host_first_name = current.host_first_name.clone();
        match self.gatherings.update(&gathering, now).await? {
            UpdateGathering::Updated => {
                tracing::info!(outcome = "updated", "gathering updated");
                Ok(())
            }
            UpdateGathering::NotFound => Err(HostError::NotFound),
        }
    }

    /// The address of the host's own gathering, opened for editing.
    pub async fn address_for_host(&self, gathering: &Gathering) -> Result<String, HostError> {
        Ok(match &gathering.address {
            crate::domain::Address::Public(a) => a.clone(),
            crate::domain::Address::Private(sealed) => {
                self.sealer
                    .open(&gathering.id.address_context(), sealed)
                    .await?
            }
        })
    }

    /// Who is coming to the host's own gathering, in RSVP order.
    pub async fn attendees(
        &self,
        host: &ContactHash,
        id: &GatheringId,
        now: OffsetDateTime,
    ) -> Result<(Gathering, Vec<Attendee>), HostError> {
        let gathering = self.own(host, id).await?;
        let mut rsvps = self.gatherings.rsvps_for(id).await?;
        rsvps.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then(a.contact_hash.cmp(&b.contact_hash))
        });
        let codes: Vec<String> = rsvps.iter().filter_map(|r| r.referral.clone()).collect();
        let invited = self.attributions(host, id, &codes, now).await?;
        let mut attendees = Vec::with_capacity(rsvps.len());
        for rsvp in rsvps {
            let attribution = rsvp
                .referral
                .as_ref()
                .and_then(|code| invited.iter().find(|(c, _)| c == code))
                .map(|(_, a)| *a);
            let mut attendee = self.attendee(rsvp).await?;
            attendee.invited = attribution;
            attendees.push(attendee);
        }
        Ok((gathering, attendees))
    }

    async fn attendee(&self, rsvp: RsvpRecord) -> Result<Attendee, HostError> {
        let first_name = match ContactHash::parse(&rsvp.contact_hash) {
            Some(contact) => self
                .sealer
                .open(&field_context(&contact, "first_name"), &rsvp.first_name)
                .await
                .unwrap_or_default(),
            None => String::new(),
        };
        Ok(Attendee {
            first_name,
            source: rsvp.source,
            status: rsvp.status,
            rsvp_at: rsvp.created_at,
            invited: None,
        })
    }

    /// The attendee list as CSV, recorded in the audit log before it is produced.
    #[tracing::instrument(name = "hosting.export", skip_all)]
    pub async fn export_csv(
        &self,
        host: &ContactHash,
        id: &GatheringId,
        language: Language,
        now: OffsetDateTime,
    ) -> Result<String, HostError> {
        let (gathering, attendees) = self.attendees(host, id, now).await?;
        self.audit
            .record(&AuditEntry {
                at: timestamp(now),
                audit_id: crate::ids::random_id(),
                who: "host".into(),
                what: AuditAction::AttendeeExport,
                contact_hash: Some(host.clone()),
                rows: attendees.len() as u64,
                format: Some(ExportFormat::Csv),
                outcome: None,
                reference: Some(gathering.id.as_str().to_owned()),
                reason: None,
            })
            .await?;
        tracing::info!(rows = attendees.len(), "attendee list exported");
        Ok(attendees_csv(&gathering, &attendees, language))
    }
}

/// The attendee list as CSV (UTF-8 with BOM; cells a spreadsheet would run as formulas are
/// quoted), times on the gathering's wall clock.
pub fn attendees_csv(gathering: &Gathering, attendees: &[Attendee], language: Language) -> String {
    let t = host_text(language);
    let mut csv = CsvWriter::new();
    csv.row(&[
        t.col_name,
        t.col_status,
        t.col_joined_by,
        t.col_invited_by,
        t.col_rsvp_at,
        "gathering",
    ]);
    for a in attendees {
        let (date, at) = form::local_parts(a.rsvp_at, &gathering.timezone);
        let when = format!("{date} {at}");
        let invited = invited_text(a.invited, language);
        csv.row(&[
            a.first_name.as_str(),
            status_text(a.status, language),
            source_text(a.source, language),
            invited.as_str(),
            when.as_str(),
            gathering.title.as_str(),
        ]);
    }
    csv.into_string()
}

pub fn status_text(status: RsvpStatus, language: Language) -> &'static str {
    let t = host_text(language);
    match status {
        RsvpStatus::Going => t.status_going,
        RsvpStatus::Waitlist => t.status_waitlist,
    }
}

pub fn source_text(source: RsvpSource, language: Language) -> &'static str {
    let t = host_text(language);
    match source {
        RsvpSource::Sms => t.source_sms,
        RsvpSource::Form => t.source_form,
        RsvpSource::Invite => t.source_invite,
    }
}

/// "You (Text)" when the host invited them, else empty.
pub fn invited_text(invited: Option<invites::Attribution>, language: Language) -> String {
    let t = text::invite_text(language);
    match invited {
        Some(a) => render(
            t.invited_by_you,
            &[(
                "channel",
                match a.channel {
                    Channel::Sms => t.channel_sms,
                    Channel::Email => t.channel_email,
                },
            )],
        ),
        None => String::new(),
    }
}

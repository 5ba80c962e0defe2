//! The confirmations of a registration: an email (text + HTML, the person's language, the event, an
//! `.ics` invite, the safety link, the published training recordings, their "bring a friend" link,
//! one-click unsubscribe) and, with consent, a text. Both are built here from the message catalogs
//! and handed to the outbox; the send worker delivers them (a confirmation answers the person's own
//! action, so quiet hours do not hold it back).

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::config::{CampaignConfig, ProgramConfig};
use crate::conversation::email_step::letter;
use crate::domain::{EmailAddress, Language};
use crate::email::{
    Email, EmailError, Mailbox, TokenKey, TokenPurpose, UnsubscribeToken, calendar_invite,
    forget_url, unsubscribe_url,
};
use crate::messages::{self, render};
use crate::outbound::OutboundId;
use crate::privacy::ContactHash;
use crate::store::{StoredTemplate, TemplateMessage};

/// A published training recording, for the list every confirmation carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    pub title: String,
    pub url: String,
}

/// The event a confirmation is about, as the person will read it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventDetails {
    /// Stable id for the calendar invite's UID (a second invite updates the first).
    pub uid: String,
    pub title: String,
    pub when: String,
    pub place: String,
    pub starts_at: OffsetDateTime,
    pub ends_at: OffsetDateTime,
    /// A training's join link.
    pub join_url: Option<String>,
}

/// What the person is confirmed for.
#[derive(Debug, Clone, PartialEq)]
pub enum Confirmed {
    Going(EventDetails),
    Waitlisted(EventDetails),
    Training(EventDetails),
    Joined { wants_to_host: bool },
}

impl Confirmed {
    /// A short tag naming the state confirmed, part of the message ids (a later change of state,
    /// say from the waitlist to a place, is confirmed again).
    fn tag(&self) -> String {
        match self {
            Self::Going(e) => format!("going|{}", e.uid),
            Self::Waitlisted(e) => format!("waitlist|{}", e.uid),
            Self::Training(e) => format!("training|{}", e.uid),
            Self::Joined { .. } => "joined".to_owned(),
        }
    }
}

/// Everything the emails share.
#[derive(Debug, Clone)]
pub struct Letterhead<'a> {
    pub from: &'a Mailbox,
    pub link_key: &'a TokenKey,
    pub links_base_url: &'a str,
    pub program: &'a ProgramConfig,
    pub campaign: &'a CampaignConfig,
    pub recordings: &'a [Recording],
    /// Domain of the calendar invite's UID (the sender's domain).
    pub uid_domain: &'a str,
}

/// The id of the confirmation of `confirmed` to `person` on `channel`: the same for every retry and
/// every double submit, so a person is confirmed once per state, whatever the client does.
pub fn confirmation_id(person: &ContactHash, confirmed: &Confirmed, channel: &str) -> OutboundId {
    let digest = Sha256::digest(format!(
        "{}\0{}\0{channel}",
        person.as_str(),
        confirmed.tag()
    ));
    let id = format!("cf-{}", &hex::encode(digest)[..40]);
    OutboundId::parse(&id).unwrap_or_else(OutboundId::random)
}

fn recordings_text(language: Language, head: &Letterhead<'_>) -> String {
    let catalog = messages::catalog(language);
    if head.recordings.is_empty() {
        return render(
            catalog.no_recordings_yet,
            &[("recordings_url", head.campaign.recordings_url.as_str())],
        );
    }
    head.recordings
        .iter()
        .map(|r| {
            render(
                catalog.recording_line,
                &[("title", r.title.as_str()), ("url", r.url.as_str())],
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The confirmation email, as MIME text.
#[allow(clippy::too_many_arguments)]
pub fn confirmation_email(
    head: &Letterhead<'_>,
    confirmed: &Confirmed,
    to: &EmailAddress,
    contact: &ContactHash,
    first_name: &str,
    share_url: &str,
    language: Language,
    now: OffsetDateTime,
) -> Result<String, EmailError> {
    let catalog = messages::catalog(language);
    let unsubscribe = unsubscribe_url(
        head.links_base_url,
        &UnsubscribeToken::sign(head.link_key, contact, TokenPurpose::Marketing, now),
    );
    let forget = forget_url(
        head.links_base_url,
        &UnsubscribeToken::sign(head.link_key, contact, TokenPurpose::Forget, now),
    );
    let recordings = recordings_text(language, head);
    let host_line = match confirmed {
        Confirmed::Joined {
            wants_to_host: true,
        } => render(
            catalog.form_host_line,
            &[("host_url", head.campaign.host_signup_url.as_str())],
        ),
        _ => String::new(),
    };
    let event = match confirmed {
        Confirmed::Going(e) | Confirmed::Waitlisted(e) | Confirmed::Training(e) => Some(e),
        Confirmed::Joined { .. } => None,
    };
    let values = [
        ("program", head.program.name.as_str()),
        ("name", first_name),
        ("title", event.map_or("", |e| e.title.as_str())),
        ("when", event.map_or("", |e| e.when.as_str())),
        ("place", event.map_or("", |e| e.place.as_str())),
        (
            "join_url",
            event.and_then(|e| e.join_url.as_deref()).unwrap_or(""),
        ),
        ("safety_url", head.campaign.safety_url.as_str()),
        ("recordings", recordings.as_str()),
        ("share_url", share_url),
        ("host_line", host_line.as_str()),
        ("unsubscribe_url", unsubscribe.as_str()),
        ("forget_url", forget.as_str()),
    ];
    let (subject, body) = match confirmed {
        Confirmed::Going(_) => (catalog.form_going_subject, catalog.form_going_body),
        Confirmed::Waitlisted(_) => (catalog.form_waitlist_subject, catalog.form_waitlist_body),
        Confirmed::Training(_) => (catalog.form_training_subject, catalog.form_training_body),
        Confirmed::Joined { .. } => (catalog.form_joined_subject, catalog.form_joined_body),
    };
    let subject = render(subject, &values);
    let body = render(body, &values);
    let footer = render(catalog.form_email_footer, &values);
    let (text, html) = letter(&body, &footer, language);
    let mut email = Email::new(
        head.from.clone(),
        to.clone(),
        &subject,
        text,
        html,
        language,
    )
    .with_list_unsubscribe(&unsubscribe)
    .with_date(now);
    // A calendar invite for a place on the list or a training; not for the waitlist (no place yet).
    if let Some(event) = match confirmed {
        Confirmed::Going(e) | Confirmed::Training(e) => Some(e),
        _ => None,
    } {
        let description = body.clone();
        let ics = calendar_invite(
            &format!("{}@{}", event.uid, head.uid_domain),
            &event.title,
            event.starts_at,
            event.ends_at,
            Some(&event.place),
            &description,
            Some(share_url),
        )
        .map_err(|_| EmailError::Serialise)?;
        email = email.with_calendar_invite(ics);
    }
    let mime = email.to_mime()?;
    String::from_utf8(mime).map_err(|_| EmailError::Serialise)
}

/// The confirmation text, in the organizers' wording when they reworded it (`wordings`).
pub fn confirmation_text(
    program: &ProgramConfig,
    campaign: &CampaignConfig,
    confirmed: &Confirmed,
    language: Language,
    wordings: &[StoredTemplate],
) -> String {
    let (message, event) = match confirmed {
        Confirmed::Going(e) => (TemplateMessage::ConfirmGoingSms, Some(e)),
        Confirmed::Waitlisted(e) => (TemplateMessage::ConfirmWaitlistSms, Some(e)),
        Confirmed::Training(e) => (TemplateMessage::ConfirmTrainingSms, Some(e)),
        Confirmed::Joined { .. } => (TemplateMessage::ConfirmJoinedSms, None),
    };
    render(
        messages::wording(wordings, message, language),
        &[
            ("program", program.name.as_str()),
            ("title", event.map_or("", |e| e.title.as_str())),
            ("when", event.map_or("", |e| e.when.as_str())),
            ("safety_url", campaign.safety_url.as_str()),
            ("recordings_url", campaign.recordings_url.as_str()),
        ],
    )
}

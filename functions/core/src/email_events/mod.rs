//! Email delivery events: SES publishes each bounce and complaint of an email sent through rising's
//! configuration set to an SNS topic, whose subscription invokes the `email-events` function with
//! an SNS event. Each event changes the recipient's contact once (keyed by SES's feedback id):
//!
//! - a **hard bounce** (`bounceType` `Permanent`) marks the address undeliverable, with SES's
//!   sub-type as the reason: no email of any kind goes to it again;
//! - a **complaint** unsubscribes the address from marketing email, with the consent evidence
//!   (source `complaint`, SES's feedback type), as the person's own unsubscribe link would;
//! - a **soft bounce** (`Transient`, `Undetermined`) is counted on the contact and changes nothing
//!   else: SES retries those itself.
//!
//! The email's batch, if it was a host's invite, is named by the `batch` tag the send worker puts on
//! the email ([`BATCH_TAG`]); the batch's progress counts its bounces and complaints in the same
//! write. Addresses are hashed on arrival and never logged.
//!
//! Event publishing (`eventType`) and the older identity notifications (`notificationType`) share
//! these fields, and both are read. Other event types (deliveries, opens …) are acknowledged and
//! ignored. An event that cannot be read is logged (without its content) and acknowledged:
//! redelivering it would not make it readable.

mod handler;

pub use handler::{EmailEvents, EmailEventsError};

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::EmailAddress;
use crate::outbound::BatchId;
use crate::privacy::ContactHasher;
use crate::store::{EmailEventEffect, EmailEventRecord, EmailEventStore, StoreError};

/// The SES message tag naming the batch an email belongs to (its value is the batch id).
pub const BATCH_TAG: &str = "batch";

/// Longest feedback id kept (SES's are about 60 characters).
const FEEDBACK_ID_MAX: usize = 200;

/// What SES reported about one email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailEvent {
    pub kind: EmailEventKind,
    /// SES's id of this bounce or complaint report: the same report delivered twice has the same.
    pub feedback_id: String,
    /// When the bounce or complaint happened, as SES reports it.
    pub at: OffsetDateTime,
    /// The addresses it concerns (those that parse; the others are counted in `unreadable`).
    pub recipients: Vec<EmailAddress>,
    /// Addresses in the report that are not email addresses.
    pub unreadable: usize,
    /// The batch the email was sent in (its `batch` tag), if any.
    pub batch: Option<BatchId>,
}

/// The kinds of event that change a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailEventKind {
    /// `Permanent`: the address does not exist or never accepts mail. `reason` is SES's
    /// `bounceSubType` (`General`, `NoEmail`, `Suppressed`, `OnAccountSuppressionList`,
    /// `UnsubscribedRecipient`).
    HardBounce { reason: String },
    /// `Transient` or `Undetermined`: a full mailbox, a message too large, a server away.
    SoftBounce,
    /// The recipient marked the email as spam. `feedback_type` is the ISP's (`abuse` …), if given.
    Complaint { feedback_type: Option<String> },
}

impl EmailEventKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::HardBounce { .. } => "hard_bounce",
            Self::SoftBounce => "soft_bounce",
            Self::Complaint { .. } => "complaint",
        }
    }
}

/// What an SNS message from SES is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A bounce or complaint.
    Event(EmailEvent),
    /// Another event type (`Delivery`, `Send`, `Open` …, or SNS's own test notification): nothing
    /// to record.
    Ignored(String),
}

/// Why an SNS message could not be read as an SES event. Names no content of the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailEventParseError {
    #[error("the message is not an SES event (not JSON of the documented shape: {0})")]
    NotAnSesEvent(String),
    #[error("the SES event has no eventType or notificationType")]
    NoType,
    #[error("the SES {0} event lacks its {0} object")]
    MissingDetails(&'static str),
    #[error("the SES event's feedbackId is missing, empty or too long")]
    InvalidFeedbackId,
    #[error("the SES event's timestamp is not an RFC 3339 time")]
    InvalidTimestamp,
    #[error("the SES event's bounceType is not Permanent, Transient or Undetermined")]
    UnknownBounceType,
    #[error("the email's batch tag is not a batch id")]
    InvalidBatch,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesMessage {
    event_type: Option<String>,
    notification_type: Option<String>,
    bounce: Option<Bounce>,
    complaint: Option<Complaint>,
    mail: Option<Mail>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    bounce_type: String,
    #[serde(default)]
    bounce_sub_type: Option<String>,
    #[serde(default)]
    bounced_recipients: Vec<Recipient>,
    feedback_id: Option<String>,
    timestamp: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Complaint {
    #[serde(default)]
    complained_recipients: Vec<Recipient>,
    #[serde(default)]
    complaint_feedback_type: Option<String>,
    feedback_id: Option<String>,
    timestamp: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recipient {
    email_address: String,
}

#[derive(Debug, Default, Deserialize)]
struct Mail {
    /// Event publishing: `{"batch": ["<id>"], "ses:configuration-set": [...] …}`.
    #[serde(default)]
    tags: std::collections::HashMap<String, Vec<String>>,
}

/// Reads the `Message` of an SNS notification from SES.
pub fn parse(message: &str) -> Result<Parsed, EmailEventParseError> {
    let message: SesMessage = serde_json::from_str(message).map_err(|e| {
        // Only the category: serde's message can quote a value (an address).
        EmailEventParseError::NotAnSesEvent(
            match e.classify() {
                serde_json::error::Category::Data => "a field is missing or of the wrong type",
                _ => "not JSON",
            }
            .to_string(),
        )
    })?;
    let kind = message
        .event_type
        .or(message.notification_type)
        .ok_or(EmailEventParseError::NoType)?;
    let (kind, recipients, feedback_id, timestamp) = match kind.as_str() {
        "Bounce" => {
            let bounce = message
                .bounce
                .ok_or(EmailEventParseError::MissingDetails("bounce"))?;
            let kind = match bounce.bounce_type.as_str() {
                "Permanent" => EmailEventKind::HardBounce {
                    reason: bounce
                        .bounce_sub_type
                        .filter(|s| is_token(s))
                        .unwrap_or_else(|| "General".into()),
                },
                "Transient" | "Undetermined" => EmailEventKind::SoftBounce,
                _ => return Err(EmailEventParseError::UnknownBounceType),
            };
            (
                kind,
                bounce.bounced_recipients,
                bounce.feedback_id,
                bounce.timestamp,
            )
        }
        "Complaint" => {
            let complaint = message
                .complaint
                .ok_or(EmailEventParseError::MissingDetails("complaint"))?;
            (
                EmailEventKind::Complaint {
                    feedback_type: complaint.complaint_feedback_type.filter(|s| is_token(s)),
                },
                complaint.complained_recipients,
                complaint.feedback_id,
                complaint.timestamp,
            )
        }
        other => return Ok(Parsed::Ignored(ignored_name(other))),
    };
    let feedback_id = feedback_id
        .filter(|id| !id.is_empty() && id.len() <= FEEDBACK_ID_MAX && is_token(id))
        .ok_or(EmailEventParseError::InvalidFeedbackId)?;
    let at = timestamp
        .as_deref()
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
        .ok_or(EmailEventParseError::InvalidTimestamp)?;
    let batch = match message
        .mail
        .unwrap_or_default()
        .tags
        .remove(BATCH_TAG)
        .and_then(|values| values.into_iter().next())
    {
        Some(id) => Some(BatchId::parse(&id).ok_or(EmailEventParseError::InvalidBatch)?),
        None => None,
    };
    let total = recipients.len();
    let recipients: Vec<EmailAddress> = recipients
        .into_iter()
        .filter_map(|r| EmailAddress::parse(&r.email_address).ok())
        .collect();
    Ok(Parsed::Event(EmailEvent {
        kind,
        feedback_id,
        at,
        unreadable: total - recipients.len(),
        recipients,
        batch,
    }))
}

/// Letters, digits and `-_.:+=/@` only (SES's ids, sub-types and feedback types), so a value
/// stored or logged carries nothing else.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= FEEDBACK_ID_MAX
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:+=/".contains(c))
}

/// An ignored type's name, if it is one SES uses; anything else is logged as `other`.
fn ignored_name(kind: &str) -> String {
    const KNOWN: [&str; 9] = [
        "Send",
        "Reject",
        "Delivery",
        "Open",
        "Click",
        "Rendering Failure",
        "DeliveryDelay",
        "Subscription",
        "AmazonSnsSubscriptionSucceeded",
    ];
    if KNOWN.contains(&kind) {
        kind.to_string()
    } else {
        "other".to_string()
    }
}

/// What recording one event did, per recipient.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Contacts changed.
    pub recorded: usize,
    /// Contacts the event had already changed (SNS delivered it again).
    pub duplicates: usize,
}

/// Records `event` for each of its recipients, each once.
#[tracing::instrument(name = "email_events.record", skip_all, fields(kind = event.kind.as_str(), recipients = event.recipients.len()))]
pub async fn record<S: EmailEventStore>(
    store: &S,
    hasher: &ContactHasher,
    event: &EmailEvent,
    now: OffsetDateTime,
) -> Result<Outcome, StoreError> {
    let effect = match &event.kind {
        EmailEventKind::HardBounce { reason } => EmailEventEffect::Undeliverable {
            reason: reason.clone(),
        },
        EmailEventKind::SoftBounce => EmailEventEffect::SoftBounce,
        EmailEventKind::Complaint { feedback_type } => EmailEventEffect::Complaint {
            feedback_type: feedback_type.clone(),
        },
    };
    let mut outcome = Outcome::default();
    for address in &event.recipients {
        let record = EmailEventRecord {
            contact: hasher.email(address),
            feedback_id: event.feedback_id.clone(),
            effect: effect.clone(),
            at: event.at,
            batch: event.batch.clone(),
        };
        if store.record(&record, now).await? {
            outcome.recorded += 1;
        } else {
            outcome.duplicates += 1;
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests;

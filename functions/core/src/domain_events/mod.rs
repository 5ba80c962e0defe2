//! rising's domain events: what other tools may subscribe to (a CRM, a chapter's spreadsheet, Action
//! Network or Mobilize), published on the EventBridge bus declared in `template.yaml`.
//!
//! **Where they come from.** The table's stream (new and old image of every change) feeds the
//! `events-publisher` function. Each use case already writes what happened in the same transaction as
//! the change itself (an RSVP, a consent record, a message's status), so reading the stream publishes
//! exactly what was committed: nothing is published for a write that failed, and nothing committed is
//! lost if a function dies after its write. [`draft`] turns one stream record into at most one event; it
//! reads images, never the table.
//!
//! **What they say.** Ids, times, channels, sources and reasons. Never a name, a phone number, an email
//! address, a private address or a message: a subscriber that needs a person's details takes the
//! organizer's export, under the organizer's control. People are named by the identifier the OSDI
//! export gives them (`rising:<person id>`), so events and exports join.
//!
//! | `detail-type` | when |
//! |---|---|
//! | `rsvp.created` | someone RSVPs to a gathering (`going` or `waitlist`) |
//! | `rsvp.updated` | an RSVP's status changes (a waitlisted person gets a place) |
//! | `registration.created` | someone registers for a training |
//! | `person.opted_in` / `person.opted_out` | a consent record: STOP/START, the form's box, an unsubscribe link, a complaint, a carrier's report |
//! | `person.forgotten` | a person's data was erased at their request: delete what you hold about them |
//! | `<kind>.sent` / `.skipped` / `.failed` / `.unknown` | a message reached its final status; `kind` is `invite`, `confirmation`, `reminder`, `recording` or `follow_up` |
//! | `gathering.created` / `gathering.updated` / `gathering.listed` | a gathering is made, its host edits it, it appears in searches |
//! | `training.created` / `training.recording_published` | a training is added; its recording is published |
//!
//! Bounce and complaint records (`email_event`) wake the publisher too, and make no event: a complaint's
//! `person.opted_out` comes from its consent record. The publisher also counts what each record it is
//! done with adds to the organizers' campaign overview ([`crate::stats`]).
//!
//! **Delivery.** At least once, in order per item: a retried batch may publish an event again, with the
//! same `id` (the stream record's), so subscribers drop repeats by `id`.

mod adapters;
mod memory;
mod publish;

#[cfg(test)]
pub(crate) mod tests;

use aws_lambda_events::event::dynamodb::EventRecord;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

pub use adapters::{DynamoPersonIds, EventBridgeBus};
pub use memory::{MemoryBus, MemoryPersonIds};
pub use publish::{BusError, EventBus, PersonIds, PublishError, Publisher};

use crate::privacy::ContactHash;

/// The `source` of every event rising publishes (subscribe with `"source": ["rising"]`).
pub const SOURCE: &str = "rising";

/// One event, ready for the bus.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainEvent {
    /// The stream record's id: the same for every publication of this event.
    pub id: String,
    /// The `detail-type`, e.g. `rsvp.created`.
    pub kind: String,
    /// When the change was written.
    pub time: OffsetDateTime,
    /// The JSON `detail`: `id`, `type`, `occurred_at`, then the event's fields.
    pub detail: Value,
}

/// Who an event is about, before the person's id is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// Nobody (a gathering, a training).
    Nobody,
    /// The person behind this contact detail: their id is read from the contact.
    Contact(ContactHash),
    /// Already known (from the old image of an erased contact).
    Person(String),
}

/// An event made from one stream record, waiting for its subject's person id.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub kind: String,
    pub subject: Subject,
    pub fields: Map<String, Value>,
}

/// Why a stream record could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    #[error("a {entity} item has an unexpected shape: {message}")]
    Shape {
        entity: &'static str,
        message: String,
    },
}

/// `rising:<id>`: how rising names its records in events and in the OSDI export's `identifiers`.
pub fn identifier(id: &str) -> String {
    format!("rising:{id}")
}

/// The event (if any) one stream record makes. `Ok(None)` for the many changes nobody subscribes to
/// (counters, sessions, a gathering's head count, a message being claimed, an `email_event`).
pub fn draft(record: &EventRecord) -> Result<Option<Draft>, DraftError> {
    let new = &record.change.new_image;
    let old = &record.change.old_image;
    let entity = match text(new, "entity") {
        Some(entity) => entity,
        None => return Ok(None),
    };
    let inserted = record.event_name == "INSERT";
    match entity.as_str() {
        "rsvp" => rsvp(new, old, inserted),
        "training_registration" => registration(new, inserted),
        "consent" => consent(new, inserted),
        "contact" => contact(new, old),
        // `OUTBOX#<id>`/`OUTBOX` is the message; `OUTBOUND#<MessageSid>`/`MESSAGE`, Twilio's delivery
        // receipt of a text, names no message or person.
        "outbound_message" if text(new, "sk").as_deref() == Some("OUTBOX") => message(new, old),
        "gathering" => gathering(new, old, inserted),
        "training" => training(new, old, inserted),
        _ => Ok(None),
    }
}

type Image = serde_dynamo::Item;

fn text(image: &Image, name: &str) -> Option<String> {
    match image.get(name) {
        Some(serde_dynamo::AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    }
}

fn parse<T: serde::de::DeserializeOwned>(
    image: &Image,
    entity: &'static str,
) -> Result<T, DraftError> {
    serde_dynamo::from_item(image.clone()).map_err(|e| DraftError::Shape {
        entity,
        message: e.to_string(),
    })
}

fn fields(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn subject(hash: &str, entity: &'static str) -> Result<Subject, DraftError> {
    ContactHash::parse(hash)
        .map(Subject::Contact)
        .ok_or_else(|| DraftError::Shape {
            entity,
            message: "its contact is not a contact hash".into(),
        })
}

fn made(kind: impl Into<String>, subject: Subject, value: Value) -> Option<Draft> {
    Some(Draft {
        kind: kind.into(),
        subject,
        fields: fields(value),
    })
}

#[derive(Deserialize)]
struct RsvpImage {
    gathering_id: String,
    contact_hash: String,
    status: String,
    source: String,
    language: String,
    #[serde(default)]
    referral: Option<String>,
    starts_at: String,
}

fn rsvp(new: &Image, old: &Image, inserted: bool) -> Result<Option<Draft>, DraftError> {
    let rsvp: RsvpImage = parse(new, "rsvp")?;
    let who = subject(&rsvp.contact_hash, "rsvp")?;
    if inserted {
        return Ok(made(
            "rsvp.created",
            who,
            json!({
                "gathering": identifier(&rsvp.gathering_id),
                "status": rsvp.status,
                "source": rsvp.source,
                "language": rsvp.language,
                "referral_code": rsvp.referral,
                "gathering_starts_at": rsvp.starts_at,
            }),
        ));
    }
    match text(old, "status") {
        Some(before) if before != rsvp.status => Ok(made(
            "rsvp.updated",
            who,
            json!({
                "gathering": identifier(&rsvp.gathering_id),
                "status": rsvp.status,
                "previous_status": before,
            }),
        )),
        _ => Ok(None),
    }
}

#[derive(Deserialize)]
struct RegistrationImage {
    training_id: String,
    contact_hash: String,
    source: String,
    language: String,
    #[serde(default)]
    referral: Option<String>,
    starts_at: String,
}

fn registration(new: &Image, inserted: bool) -> Result<Option<Draft>, DraftError> {
    if !inserted {
        return Ok(None);
    }
    let reg: RegistrationImage = parse(new, "training_registration")?;
    Ok(made(
        "registration.created",
        subject(&reg.contact_hash, "training_registration")?,
        json!({
            "training": identifier(&reg.training_id),
            "source": reg.source,
            "language": reg.language,
            "referral_code": reg.referral,
            "training_starts_at": reg.starts_at,
        }),
    ))
}

#[derive(Deserialize)]
struct ConsentImage {
    pk: String,
    channel: String,
    action: String,
    source: String,
}

/// Consent records are written once (an append-only log of evidence); an erasure's record is left to
/// the contact's change, whose old image still names the person.
fn consent(new: &Image, inserted: bool) -> Result<Option<Draft>, DraftError> {
    if !inserted {
        return Ok(None);
    }
    let consent: ConsentImage = parse(new, "consent")?;
    let kind = match consent.action.as_str() {
        "opt_in" => "person.opted_in",
        "opt_out" => "person.opted_out",
        _ => return Ok(None),
    };
    let hash = consent.pk.strip_prefix("CONTACT#").unwrap_or_default();
    Ok(made(
        kind,
        subject(hash, "consent")?,
        json!({ "channel": consent.channel, "source": consent.source }),
    ))
}

#[derive(Deserialize)]
struct ContactImage {
    pk: String,
    #[serde(default)]
    person_id: Option<String>,
    #[serde(default)]
    erased_at: Option<String>,
}

fn contact(new: &Image, old: &Image) -> Result<Option<Draft>, DraftError> {
    let now: ContactImage = parse(new, "contact")?;
    if now.erased_at.is_none() || text(old, "erased_at").is_some() {
        return Ok(None);
    }
    let person = match text(old, "person_id").or(now.person_id) {
        Some(id) => Subject::Person(id),
        None => subject(
            now.pk.strip_prefix("CONTACT#").unwrap_or_default(),
            "contact",
        )?,
    };
    Ok(made("person.forgotten", person, json!({})))
}

#[derive(Deserialize)]
struct MessageImage {
    id: String,
    channel: String,
    kind: String,
    contact: String,
    #[serde(default)]
    batch: Option<String>,
    status: String,
    #[serde(default)]
    reason: Option<String>,
}

fn message(new: &Image, old: &Image) -> Result<Option<Draft>, DraftError> {
    let message: MessageImage = parse(new, "outbound_message")?;
    let settled = matches!(
        message.status.as_str(),
        "sent" | "skipped" | "failed" | "unknown"
    );
    if !settled || text(old, "status").as_deref() == Some(message.status.as_str()) {
        return Ok(None);
    }
    Ok(made(
        format!("{}.{}", message.kind, message.status),
        subject(&message.contact, "outbound_message")?,
        json!({
            "message": message.id,
            "kind": message.kind,
            "channel": message.channel,
            "status": message.status,
            "reason": message.reason,
            "batch": message.batch,
        }),
    ))
}

/// What anyone may see of a gathering on its share page; never the host or a private address.
#[derive(Deserialize)]
struct GatheringImage {
    id: String,
    title: String,
    starts_at: String,
    ends_at: String,
    timezone: String,
    town: String,
    state: String,
    zip: String,
    #[serde(default)]
    capacity: Option<u32>,
    language: String,
    listed: bool,
    #[serde(default)]
    updated_at: Option<String>,
}

impl GatheringImage {
    fn fields(&self) -> Value {
        json!({
            "gathering": identifier(&self.id),
            "title": self.title,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "time_zone": self.timezone,
            "town": self.town,
            "state": self.state,
            "zip": self.zip,
            "capacity": self.capacity,
            "language": self.language,
            "listed": self.listed,
        })
    }
}

/// A gathering's head count changes with every RSVP: only its host's edits (`updated_at`) and its
/// listing make an event.
fn gathering(new: &Image, old: &Image, inserted: bool) -> Result<Option<Draft>, DraftError> {
    let g: GatheringImage = parse(new, "gathering")?;
    let kind = if inserted {
        "gathering.created"
    } else if g.listed && old.get("listed") == Some(&serde_dynamo::AttributeValue::Bool(false)) {
        "gathering.listed"
    } else if g.updated_at.is_some() && g.updated_at != text(old, "updated_at") {
        "gathering.updated"
    } else {
        return Ok(None);
    };
    Ok(made(kind, Subject::Nobody, g.fields()))
}

#[derive(Deserialize)]
struct TrainingImage {
    id: String,
    title: String,
    starts_at: String,
    ends_at: String,
    #[serde(default)]
    recording_url: Option<String>,
    #[serde(default)]
    recording_published_at: Option<String>,
}

fn training(new: &Image, old: &Image, inserted: bool) -> Result<Option<Draft>, DraftError> {
    let t: TrainingImage = parse(new, "training")?;
    let kind = if inserted {
        "training.created"
    } else if t.recording_published_at.is_some() && text(old, "recording_published_at").is_none() {
        "training.recording_published"
    } else {
        return Ok(None);
    };
    Ok(made(
        kind,
        Subject::Nobody,
        json!({
            "training": identifier(&t.id),
            "title": t.title,
            "starts_at": t.starts_at,
            "ends_at": t.ends_at,
            "recording_url": t.recording_url,
            "recording_published_at": t.recording_published_at,
        }),
    ))
}

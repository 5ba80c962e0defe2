//! The campaign export (`rising-admin osdi`): people, events (gatherings) and attendances (RSVPs)
//! shaped as the Open Supporter Data Interface (OSDI 1.1) resources Action Network and Mobilize
//! import, with each person's consent evidence. JSON: one document with the three collections
//! under `_embedded` (`osdi:people`, `osdi:events`, `osdi:attendances`); CSV: one collection per
//! file (`--type`), the same fields flattened.
//!
//! Field names are OSDI's (listed in [`PERSON_FIELDS`], [`EVENT_FIELDS`], [`ATTENDANCE_FIELDS`]
//! and their nested lists, which the tests check every document against); what OSDI has no field
//! for carries the `rising:` prefix (`rising:consent`, the person's evidence records).
//!
//! Only what a person gave is exported: names, the email and phone they gave on the form or by
//! text (a number that opts in by text is kept, sealed, so its reminders reach it; a contact with no
//! stored detail is counted, not listed), the ZIP, language and subscription status per channel.
//! Erased people are not exported. Every export is recorded in the audit log (who, when, what, how
//! many records) before anything is written.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{
    AdminError, AuditAction, AuditEntry, AuditLog, ConsentRecord, CsvWriter, ExportFormat,
    Organizer,
};
use crate::privacy::{ContactHash, Sealed, Sealer, field_context};
use crate::store::{StoreError, timestamp};

/// OSDI person fields rising writes.
pub const PERSON_FIELDS: [&str; 10] = [
    "identifiers",
    "given_name",
    "family_name",
    "email_addresses",
    "phone_numbers",
    "postal_addresses",
    "languages_spoken",
    "created_date",
    "modified_date",
    "rising:consent",
];
/// Fields of an OSDI `email_addresses` entry.
pub const EMAIL_FIELDS: [&str; 3] = ["address", "primary", "status"];
/// Fields of an OSDI `phone_numbers` entry.
pub const PHONE_FIELDS: [&str; 5] = ["number", "primary", "number_type", "sms_capable", "status"];
/// Fields of an OSDI `postal_addresses` entry (also an event's `location`).
pub const ADDRESS_FIELDS: [&str; 6] = [
    "primary",
    "address_lines",
    "locality",
    "region",
    "postal_code",
    "country",
];
/// OSDI event fields rising writes.
pub const EVENT_FIELDS: [&str; 13] = [
    "identifiers",
    "title",
    "description",
    "instructions",
    "start_date",
    "end_date",
    "status",
    "visibility",
    "capacity",
    "total_accepted",
    "location",
    "created_date",
    "modified_date",
];
/// OSDI attendance fields rising writes.
pub const ATTENDANCE_FIELDS: [&str; 5] = [
    "identifiers",
    "status",
    "created_date",
    "referrer_data",
    "_links",
];
/// Fields of an attendance's `referrer_data`.
pub const REFERRER_FIELDS: [&str; 2] = ["source", "referrer"];

/// A contact item as the export reads it (sealed values stay sealed until the export opens them).
#[derive(Debug, Clone, PartialEq)]
pub struct ContactRow {
    pub hash: ContactHash,
    /// The person's own contact (`person_hash` on the other contact details they gave).
    pub person_hash: Option<ContactHash>,
    pub person_id: Option<String>,
    pub first_name_sealed: Option<Sealed>,
    pub last_name_sealed: Option<Sealed>,
    pub email_sealed: Option<Sealed>,
    pub phone_sealed: Option<Sealed>,
    pub zip: Option<String>,
    pub language: Option<String>,
    /// `opted_in`, `opted_out` …
    pub sms_status: Option<String>,
    pub sms_undeliverable: bool,
    pub email_suppressed: bool,
    pub email_undeliverable: bool,
    pub erased: bool,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

/// A gathering as the export reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GatheringRow {
    pub id: String,
    pub title: String,
    pub description: String,
    pub accessibility: String,
    pub starts_at: String,
    pub ends_at: String,
    pub town: String,
    pub state: String,
    pub zip: String,
    /// The address when it is public (a private one is never exported).
    pub public_address: Option<String>,
    pub capacity: Option<u32>,
    pub going: u32,
    pub listed: bool,
    pub created_at: String,
    pub updated_at: Option<String>,
}

/// An RSVP as the export reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct RsvpRow {
    pub gathering_id: String,
    pub contact: ContactHash,
    /// `going` or `waitlist`.
    pub status: String,
    /// `sms`, `form` or `invite`.
    pub source: String,
    /// The code of the link they came through.
    pub referral: Option<String>,
    pub created_at: String,
}

/// Everything the export reads, in any order.
#[derive(Debug, Clone, Default)]
pub struct CampaignItems {
    pub contacts: Vec<ContactRow>,
    /// Consent evidence, by the contact it is under.
    pub consents: Vec<(ContactHash, ConsentRecord)>,
    pub gatherings: Vec<GatheringRow>,
    pub rsvps: Vec<RsvpRow>,
}

/// Port: the whole campaign, read once.
pub trait CampaignSource: Send + Sync {
    fn campaign(&self) -> impl Future<Output = Result<CampaignItems, StoreError>> + Send;
}

/// Which collection(s) to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    All,
    People,
    Events,
    Attendances,
}

impl Collection {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "all" => Some(Self::All),
            "people" => Some(Self::People),
            "events" => Some(Self::Events),
            "attendances" => Some(Self::Attendances),
            _ => None,
        }
    }

    fn includes(self, other: Self) -> bool {
        self == Self::All || self == other
    }
}

/// An export to write.
#[derive(Debug, Clone)]
pub struct CampaignExportRequest<'a> {
    pub by: &'a Organizer,
    pub format: ExportFormat,
    /// CSV holds one collection: `All` is refused for CSV.
    pub collection: Collection,
}

/// What an export did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignExported {
    pub audit_id: String,
    pub people: usize,
    pub events: usize,
    pub attendances: usize,
    /// People with no stored contact detail (nothing to export).
    pub text_only: usize,
}

/// The three collections, built.
struct Documents {
    people: Vec<Value>,
    events: Vec<Value>,
    attendances: Vec<Value>,
    text_only: usize,
}

/// `rising:<id>`: how rising names its records in `identifiers` and links.
fn identifier(id: &str) -> String {
    format!("rising:{id}")
}

fn person_identifier(contact: &ContactRow) -> String {
    identifier(
        contact
            .person_id
            .as_deref()
            .unwrap_or(contact.hash.as_str()),
    )
}

async fn open(
    sealer: &Sealer,
    contact: &ContactHash,
    field: &str,
    sealed: Option<&Sealed>,
) -> Result<Option<String>, AdminError> {
    match sealed {
        None => Ok(None),
        Some(sealed) => sealer
            .open(&field_context(contact, field), sealed)
            .await
            .map(Some)
            .map_err(|e| AdminError::Store(StoreError::Corrupt(format!("sealed {field}: {e}")))),
    }
}

fn email_status(c: &ContactRow) -> &'static str {
    if c.email_undeliverable {
        "bouncing"
    } else if c.email_suppressed {
        "unsubscribed"
    } else {
        "subscribed"
    }
}

fn sms_status(c: &ContactRow) -> &'static str {
    if c.sms_undeliverable {
        "bouncing"
    } else if c.sms_status.as_deref() == Some("opted_in") {
        "subscribed"
    } else {
        "unsubscribed"
    }
}

async fn build(
    items: &CampaignItems,
    sealer: &Sealer,
    collection: Collection,
) -> Result<Documents, AdminError> {
    let by_hash: HashMap<&str, &ContactRow> = items
        .contacts
        .iter()
        .map(|c| (c.hash.as_str(), c))
        .collect();
    // A person is their own contact; the other details they gave point to it.
    let owner = |c: &ContactRow| -> ContactHash {
        c.person_hash
            .clone()
            .filter(|p| by_hash.contains_key(p.as_str()))
            .unwrap_or_else(|| c.hash.clone())
    };
    let mut people: BTreeMap<String, Vec<&ContactRow>> = BTreeMap::new();
    for contact in items.contacts.iter().filter(|c| !c.erased) {
        people
            .entry(owner(contact).as_str().to_string())
            .or_default()
            .push(contact);
    }
    let mut evidence: HashMap<&str, Vec<&ConsentRecord>> = HashMap::new();
    for (hash, record) in &items.consents {
        evidence.entry(hash.as_str()).or_default().push(record);
    }
    let mut documents = Documents {
        people: Vec::new(),
        events: Vec::new(),
        attendances: Vec::new(),
        text_only: 0,
    };
    if collection.includes(Collection::People) {
        for (owner_hash, contacts) in &people {
            let Some(own) = by_hash.get(owner_hash.as_str()) else {
                continue;
            };
            let mut emails = Vec::new();
            let mut phones = Vec::new();
            let mut consent: Vec<&ConsentRecord> = Vec::new();
            for c in contacts {
                if let Some(address) =
                    open(sealer, &c.hash, "email", c.email_sealed.as_ref()).await?
                {
                    emails.push(json!({
                        "address": address,
                        "primary": emails.is_empty(),
                        "status": email_status(c),
                    }));
                }
                if let Some(number) =
                    open(sealer, &c.hash, "phone", c.phone_sealed.as_ref()).await?
                {
                    phones.push(json!({
                        "number": number,
                        "primary": phones.is_empty(),
                        "number_type": "Mobile",
                        "sms_capable": true,
                        "status": sms_status(c),
                    }));
                }
                consent.extend(evidence.get(c.hash.as_str()).into_iter().flatten());
            }
            if emails.is_empty() && phones.is_empty() {
                documents.text_only += 1;
                continue;
            }
            consent.sort_by(|a, b| a.at.cmp(&b.at));
            let mut person = json!({
                "identifiers": [person_identifier(own)],
                "email_addresses": emails,
                "phone_numbers": phones,
                "rising:consent": consent,
            });
            let given = open(
                sealer,
                &own.hash,
                "first_name",
                own.first_name_sealed.as_ref(),
            )
            .await?;
            let family = open(
                sealer,
                &own.hash,
                "last_name",
                own.last_name_sealed.as_ref(),
            )
            .await?;
            for (field, value) in [
                ("given_name", given),
                ("family_name", family),
                ("created_date", own.created_at.clone()),
                ("modified_date", own.updated_at.clone()),
            ] {
                if let Some(value) = value {
                    person[field] = json!(value);
                }
            }
            if let Some(zip) = &own.zip {
                person["postal_addresses"] =
                    json!([{"primary": true, "postal_code": zip, "country": "US"}]);
            }
            if let Some(language) = &own.language {
                person["languages_spoken"] = json!([language]);
            }
            documents.people.push(person);
        }
    }
    if collection.includes(Collection::Events) {
        let mut gatherings: Vec<&GatheringRow> = items.gatherings.iter().collect();
        gatherings.sort_by(|a, b| (&a.starts_at, &a.id).cmp(&(&b.starts_at, &b.id)));
        for g in gatherings {
            let mut location = json!({
                "locality": g.town,
                "region": g.state,
                "postal_code": g.zip,
                "country": "US",
            });
            if let Some(address) = &g.public_address {
                location["address_lines"] = json!([address]);
            }
            let mut event = json!({
                "identifiers": [identifier(&g.id)],
                "title": g.title,
                "start_date": g.starts_at,
                "end_date": g.ends_at,
                "status": "confirmed",
                "visibility": if g.listed { "public" } else { "private" },
                "total_accepted": g.going,
                "location": location,
                "created_date": g.created_at,
            });
            for (field, value) in [
                ("description", &g.description),
                ("instructions", &g.accessibility),
            ] {
                if !value.is_empty() {
                    event[field] = json!(value);
                }
            }
            if let Some(capacity) = g.capacity {
                event["capacity"] = json!(capacity);
            }
            if let Some(updated) = &g.updated_at {
                event["modified_date"] = json!(updated);
            }
            documents.events.push(event);
        }
    }
    if collection.includes(Collection::Attendances) {
        let mut rsvps: Vec<&RsvpRow> = items.rsvps.iter().collect();
        rsvps.sort_by(|a, b| {
            (&a.created_at, &a.gathering_id).cmp(&(&b.created_at, &b.gathering_id))
        });
        for r in rsvps {
            let person = by_hash
                .get(r.contact.as_str())
                .map(|c| by_hash.get(owner(c).as_str()).copied().unwrap_or(c))
                .map(person_identifier)
                .unwrap_or_else(|| identifier(r.contact.as_str()));
            let mut referrer = json!({"source": r.source});
            if let Some(code) = &r.referral {
                referrer["referrer"] = json!(code);
            }
            documents.attendances.push(json!({
                "identifiers": [identifier(&format!("{}:{}", r.gathering_id, r.contact.as_str()))],
                "status": if r.status == "going" { "accepted" } else { "tentative" },
                "created_date": r.created_at,
                "referrer_data": referrer,
                "_links": {
                    "osdi:person": {"href": person},
                    "osdi:event": {"href": identifier(&r.gathering_id)},
                },
            }));
        }
    }
    Ok(documents)
}

#[derive(Serialize)]
struct OsdiDocument<'a> {
    export: &'static str,
    audit_id: &'a str,
    exported_at: &'a str,
    exported_by: &'a str,
    total_records: usize,
    _embedded: BTreeMap<&'static str, &'a [Value]>,
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The first entry of a list field, or nothing.
fn first<'a>(value: &'a Value, list: &str) -> &'a Value {
    value
        .get(list)
        .and_then(|l| l.get(0))
        .unwrap_or(&Value::Null)
}

fn csv_of(collection: Collection, documents: &Documents) -> String {
    let mut csv = CsvWriter::new();
    let get = |v: &Value, path: &[&str]| -> String {
        let mut at = v;
        for key in path {
            at = at.get(*key).unwrap_or(&Value::Null);
        }
        text(at)
    };
    match collection {
        Collection::People | Collection::All => {
            csv.row(&[
                "identifier",
                "given_name",
                "family_name",
                "email",
                "email_status",
                "phone",
                "phone_status",
                "postal_code",
                "language",
                "created_date",
            ]);
            for p in &documents.people {
                let email = first(p, "email_addresses");
                let phone = first(p, "phone_numbers");
                csv.row(&[
                    text(first(p, "identifiers")),
                    get(p, &["given_name"]),
                    get(p, &["family_name"]),
                    get(email, &["address"]),
                    get(email, &["status"]),
                    get(phone, &["number"]),
                    get(phone, &["status"]),
                    get(first(p, "postal_addresses"), &["postal_code"]),
                    text(first(p, "languages_spoken")),
                    get(p, &["created_date"]),
                ]);
            }
        }
        Collection::Events => {
            csv.row(&[
                "identifier",
                "title",
                "start_date",
                "end_date",
                "visibility",
                "locality",
                "region",
                "postal_code",
                "capacity",
                "total_accepted",
            ]);
            for e in &documents.events {
                csv.row(&[
                    text(first(e, "identifiers")),
                    get(e, &["title"]),
                    get(e, &["start_date"]),
                    get(e, &["end_date"]),
                    get(e, &["visibility"]),
                    get(e, &["location", "locality"]),
                    get(e, &["location", "region"]),
                    get(e, &["location", "postal_code"]),
                    get(e, &["capacity"]),
                    get(e, &["total_accepted"]),
                ]);
            }
        }
        Collection::Attendances => {
            csv.row(&[
                "identifier",
                "event",
                "person",
                "status",
                "created_date",
                "source",
                "referrer",
            ]);
            for a in &documents.attendances {
                csv.row(&[
                    text(first(a, "identifiers")),
                    get(a, &["_links", "osdi:event", "href"]),
                    get(a, &["_links", "osdi:person", "href"]),
                    get(a, &["status"]),
                    get(a, &["created_date"]),
                    get(a, &["referrer_data", "source"]),
                    get(a, &["referrer_data", "referrer"]),
                ]);
            }
        }
    }
    csv.into_string()
}

/// Writes the campaign export to `out`, after recording it in the audit log: when the record
/// cannot be written, nothing is written to `out`.
pub async fn export_campaign<S, A, W>(
    source: &S,
    audit: &A,
    sealer: &Sealer,
    request: &CampaignExportRequest<'_>,
    now: OffsetDateTime,
    out: &mut W,
) -> Result<CampaignExported, AdminError>
where
    S: CampaignSource,
    A: AuditLog,
    W: std::io::Write,
{
    if request.format == ExportFormat::Csv && request.collection == Collection::All {
        return Err(AdminError::OneCollectionPerCsv);
    }
    let items = source.campaign().await?;
    let documents = build(&items, sealer, request.collection).await?;
    let total = documents.people.len() + documents.events.len() + documents.attendances.len();
    let entry = AuditEntry {
        at: timestamp(now),
        audit_id: crate::ids::random_id(),
        who: request.by.as_str().to_string(),
        what: AuditAction::CampaignExport,
        contact_hash: None,
        rows: total as u64,
        format: Some(request.format),
        outcome: None,
        reference: Some(
            match request.collection {
                Collection::All => "all",
                Collection::People => "people",
                Collection::Events => "events",
                Collection::Attendances => "attendances",
            }
            .to_string(),
        ),
        reason: None,
    };
    let rendered = match request.format {
        ExportFormat::Json => {
            let mut embedded = BTreeMap::new();
            if request.collection.includes(Collection::People) {
                embedded.insert("osdi:people", documents.people.as_slice());
            }
            if request.collection.includes(Collection::Events) {
                embedded.insert("osdi:events", documents.events.as_slice());
            }
            if request.collection.includes(Collection::Attendances) {
                embedded.insert("osdi:attendances", documents.attendances.as_slice());
            }
            let document = OsdiDocument {
                export: "osdi",
                audit_id: &entry.audit_id,
                exported_at: &entry.at,
                exported_by: &entry.who,
                total_records: total,
                _embedded: embedded,
            };
            let mut text = serde_json::to_string_pretty(&document)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            text.push('\n');
            text
        }
        ExportFormat::Csv => csv_of(request.collection, &documents),
    };
    audit.record(&entry).await.map_err(AdminError::Audit)?;
    tracing::info!(
        audit_id = %entry.audit_id,
        rows = total,
        format = request.format.as_str(),
        "campaign exported"
    );
    out.write_all(rendered.as_bytes())?;
    out.flush()?;
    Ok(CampaignExported {
        audit_id: entry.audit_id,
        people: documents.people.len(),
        events: documents.events.len(),
        attendances: documents.attendances.len(),
        text_only: documents.text_only,
    })
}

#[cfg(test)]
mod tests;

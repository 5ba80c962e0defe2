//! Organizer tools (`rising-admin`, run with the organizer's own AWS credentials): export a person's
//! consent evidence, erase a person on a request received elsewhere, list what was exported, list
//! the trainings and publish a training's recording ([`recordings`]). Every export, erasure and
//! publication is recorded in an audit item **before** any output (or, for an erasure or a
//! publication, before anything is changed), so nothing leaves the table unrecorded.
//!
//! The organizer types the person's phone or email; it is hashed with the contact hash key and never
//! stored, printed back or logged. Audit items hold the person's keyed hash (opaque), never the detail.
//!
//! Items (same table; the other item kinds are in `store`'s table):
//!
//! | item | pk | sk | notes |
//! |---|---|---|---|
//! | audit record | `AUDIT#<yyyy-mm>` (UTC month) | `<RFC 3339 ms time>#<audit id>` | `entity` `audit`, `audit_id` (32 hex), `who` (the organizer as they named themselves with `--by`: ≤ 100 chars, no line breaks; `host` for a host's download), `what` (`consent_export`, `erasure`, `attendee_export`: a host downloaded their gathering's attendee list, `campaign_export`: the OSDI export, `reference` naming the collections, or `recording_publication`: a training's recording published, `reference` the training id, `rows` the people registered), `contact_hash`? (the person's keyed hash, never the phone/email; for `attendee_export` the host's; none for `campaign_export` and `recording_publication`), `rows` (evidence rows exported; for an erasure the items removed), `format` (`json`/`csv`, exports), `outcome` (erasure and recording publication: `started`, then `done` or `failed`; a publication that lost a race to another: `already_published`), `reference` (erasure: the request id, also the sk suffix of its `CONSENT#` evidence; `attendee_export`: the gathering id; `recording_publication`: the training id), `reason`? (free text, erasure), `at`, `finished_at`? (erasure, recording publication), `tool` `rising-admin`. No TTL. One partition per month, so a time range is a Query per month, oldest first |
//!
//! Consent evidence is read from `CONTACT#<keyed hash>` / `CONSENT#…` items as every path writes them
//! (`store`, `outbound`): `at`, `channel`, `action`, `source`, `keyword`, `wording`, `language`,
//! `message_sid`, `reference` (or `outbound_id`), `error_code`.

mod csv;
mod dynamo;
mod memory;
pub mod osdi;
pub mod recordings;

pub use csv::{BOM, CsvWriter, cell_text};
pub use dynamo::DynamoAdminStore;
pub use memory::MemoryAdminStore;
pub use osdi::{
    CampaignExportRequest, CampaignExported, CampaignItems, CampaignSource, Collection,
    export_campaign,
};
pub use recordings::{
    PublishError, RecordingPreview, RecordingPublished, RecordingRequest, TrainingSummary,
    list_trainings, preview_recording, publish_recording, render_trainings,
};

use std::future::Future;

use serde::Serialize;
use time::{Date, Month, OffsetDateTime};

use crate::conversation::forget::erase_contact;
use crate::domain::{EmailAddress, Language, PhoneNumber};
use crate::privacy::{ContactHash, ContactHasher};
use crate::store::{Erased, ErasureEvidence, ErasureStore, StoreError, timestamp};

/// The longest `--by`.
pub const MAX_ORGANIZER_LEN: usize = 100;
/// The longest `--reason`.
pub const MAX_REASON_LEN: usize = 500;

/// Why an organizer's request was refused or failed. Never carries the contact detail.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("--by {0}")]
    InvalidOrganizer(&'static str),
    #[error("--reason {0}")]
    InvalidReason(&'static str),
    #[error("{0} must not contain the person's phone or email")]
    ContactDetailInText(&'static str),
    #[error("the audit record could not be written, so nothing was exported or erased: {0}")]
    Audit(#[source] StoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the output could not be written: {0}")]
    Output(#[from] std::io::Error),
    #[error("a CSV file holds one collection: add --type people, events or attendances")]
    OneCollectionPerCsv,
}

/// The person a request is about, as the organizer typed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactDetail {
    Phone(PhoneNumber),
    Email(EmailAddress),
}

impl ContactDetail {
    pub fn hash(&self, hasher: &ContactHasher) -> ContactHash {
        match self {
            Self::Phone(phone) => hasher.phone(phone),
            Self::Email(email) => hasher.email(email),
        }
    }

    /// `phone` or `email`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Phone(_) => "phone",
            Self::Email(_) => "email",
        }
    }

    /// Whether `text` holds this detail (a phone's national digits, however punctuated; an email
    /// in any case), so it is never written into an audit record by mistake.
    pub fn appears_in(&self, text: &str) -> bool {
        match self {
            Self::Phone(phone) => {
                let digits: String = text.chars().filter(char::is_ascii_digit).collect();
                let e164 = phone.as_e164().trim_start_matches('+');
                // The last ten digits: the number as people write it, without the country code.
                let national = &e164[e164.len().saturating_sub(10)..];
                digits.contains(national)
            }
            Self::Email(email) => text.to_ascii_lowercase().contains(email.as_str()),
        }
    }
}

/// Who ran the tool, as they named themselves (`--by`): free text, 1–100 characters, one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organizer(String);

impl Organizer {
    pub fn parse(text: &str) -> Result<Self, AdminError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(AdminError::InvalidOrganizer(
                "is required: your name or email, recorded with what you do",
            ));
        }
        if text.contains(['\r', '\n']) {
            return Err(AdminError::InvalidOrganizer("must be one line"));
        }
        if text.chars().any(char::is_control) {
            return Err(AdminError::InvalidOrganizer(
                "must not contain control characters",
            ));
        }
        if text.chars().count() > MAX_ORGANIZER_LEN {
            return Err(AdminError::InvalidOrganizer(
                "must be at most 100 characters",
            ));
        }
        Ok(Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why an erasure was asked for (`--reason`): free text, one line, at most 500 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(String);

impl Reason {
    /// `None` for an empty reason.
    pub fn parse(text: &str) -> Result<Option<Self>, AdminError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        if text.contains(['\r', '\n']) {
            return Err(AdminError::InvalidReason("must be one line"));
        }
        if text.chars().any(char::is_control) {
            return Err(AdminError::InvalidReason(
                "must not contain control characters",
            ));
        }
        if text.chars().count() > MAX_REASON_LEN {
            return Err(AdminError::InvalidReason("must be at most 500 characters"));
        }
        Ok(Some(Self(text.to_string())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How an export is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    #[default]
    Json,
    Csv,
}

impl ExportFormat {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "json" => Some(Self::Json),
            "csv" => Some(Self::Csv),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
        }
    }
}

/// One consent, opt-out or erasure record, as stored (fields a path does not write are `None`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ConsentRecord {
    /// RFC 3339 UTC, millisecond precision.
    pub at: String,
    pub channel: Option<String>,
    pub action: Option<String>,
    pub source: Option<String>,
    pub keyword: Option<String>,
    /// The exact wording *we* sent with it.
    pub wording: Option<String>,
    pub language: Option<String>,
    pub message_sid: Option<String>,
    /// Another path's request id (an erasure's, an outbound message's id).
    pub reference: Option<String>,
    pub error_code: Option<u32>,
}

const CONSENT_COLUMNS: [&str; 10] = [
    "at",
    "channel",
    "action",
    "source",
    "keyword",
    "wording",
    "language",
    "message_sid",
    "reference",
    "error_code",
];

impl ConsentRecord {
    fn cells(&self) -> [String; 10] {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        [
            self.at.clone(),
            o(&self.channel),
            o(&self.action),
            o(&self.source),
            o(&self.keyword),
            o(&self.wording),
            o(&self.language),
            o(&self.message_sid),
            o(&self.reference),
            self.error_code.map(|c| c.to_string()).unwrap_or_default(),
        ]
    }
}

/// What an audit record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    ConsentExport,
    Erasure,
    /// A host downloaded the attendee list of their gathering (`contact_hash`: the host's,
    /// `reference`: the gathering id).
    AttendeeExport,
    /// An organizer exported the campaign (OSDI people, events, attendances; `reference`: which).
    CampaignExport,
    /// An organizer published a training's recording (`reference`: the training id, `rows`: the
    /// people registered, whom the scheduler sends it to).
    RecordingPublication,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConsentExport => "consent_export",
            Self::Erasure => "erasure",
            Self::AttendeeExport => "attendee_export",
            Self::CampaignExport => "campaign_export",
            Self::RecordingPublication => "recording_publication",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "consent_export" => Some(Self::ConsentExport),
            "erasure" => Some(Self::Erasure),
            "attendee_export" => Some(Self::AttendeeExport),
            "campaign_export" => Some(Self::CampaignExport),
            "recording_publication" => Some(Self::RecordingPublication),
            _ => None,
        }
    }
}

/// One audit record (see the module's item table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// RFC 3339 UTC, millisecond precision.
    pub at: String,
    pub audit_id: String,
    pub who: String,
    pub what: AuditAction,
    /// The person it is about (the host, for an attendee list); none for a campaign export.
    pub contact_hash: Option<ContactHash>,
    pub rows: u64,
    pub format: Option<ExportFormat>,
    pub outcome: Option<String>,
    pub reference: Option<String>,
    pub reason: Option<String>,
}

const AUDIT_COLUMNS: [&str; 10] = [
    "at",
    "audit_id",
    "who",
    "what",
    "rows",
    "format",
    "outcome",
    "reference",
    "reason",
    "contact_hash",
];

impl AuditEntry {
    fn cells(&self) -> [String; 10] {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        [
            self.at.clone(),
            self.audit_id.clone(),
            self.who.clone(),
            self.what.as_str().to_string(),
            self.rows.to_string(),
            self.format
                .map(|f| f.as_str().to_string())
                .unwrap_or_default(),
            o(&self.outcome),
            o(&self.reference),
            o(&self.reason),
            self.contact_hash
                .as_ref()
                .map(|h| h.as_str().to_string())
                .unwrap_or_default(),
        ]
    }

    /// The partition of the month the record was made in: `AUDIT#<yyyy-mm>`.
    pub fn partition(&self) -> String {
        format!("AUDIT#{}", &self.at[..7])
    }

    /// `<time>#<audit id>`.
    pub fn sort_key(&self) -> String {
        format!("{}#{}", self.at, self.audit_id)
    }
}

/// Port: a person's consent evidence.
pub trait ConsentEvidence: Send + Sync {
    /// Every `CONSENT#` record under the person's key, in any order.
    fn consent_records(
        &self,
        contact: &ContactHash,
    ) -> impl Future<Output = Result<Vec<ConsentRecord>, StoreError>> + Send;

    /// Whether a contact item exists for the person.
    fn contact_known(
        &self,
        contact: &ContactHash,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Port: the audit trail of exports and erasures.
pub trait AuditLog: Send + Sync {
    /// Writes a new record (never overwrites one).
    fn record(&self, entry: &AuditEntry) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Updates a recorded entry's `rows` and `outcome` (an erasure, once it ran).
    fn finish(
        &self,
        entry: &AuditEntry,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every record of the UTC months `months` (each `yyyy-mm`) at or after `since`, oldest first.
    fn list(
        &self,
        months: &[String],
        since: &str,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send;
}

/// An export to write.
#[derive(Debug, Clone)]
pub struct ConsentExportRequest<'a> {
    pub contact: &'a ContactDetail,
    pub by: &'a Organizer,
    pub format: ExportFormat,
}

/// What an export did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentExported {
    pub audit_id: String,
    pub rows: usize,
}

#[derive(Serialize)]
struct ConsentDocument<'a> {
    export: &'static str,
    audit_id: &'a str,
    exported_at: &'a str,
    exported_by: &'a str,
    contact: &'static str,
    rows: usize,
    evidence: &'a [ConsentRecord],
}

/// Writes the person's consent evidence, oldest first, to `out`, after recording the export in the
/// audit log: when the record cannot be written, nothing is written to `out`. The output names the
/// person by nothing (not even the hash): the organizer knows whom they asked about.
pub async fn export_consent<E, A, W>(
    evidence: &E,
    audit: &A,
    hasher: &ContactHasher,
    request: &ConsentExportRequest<'_>,
    now: OffsetDateTime,
    out: &mut W,
) -> Result<ConsentExported, AdminError>
where
    E: ConsentEvidence,
    A: AuditLog,
    W: std::io::Write,
{
    if request.contact.appears_in(request.by.as_str()) {
        return Err(AdminError::ContactDetailInText("--by"));
    }
    let contact = request.contact.hash(hasher);
    let mut records = evidence.consent_records(&contact).await?;
    // Stored keys sort by time; equal times keep their reference order.
    records.sort_by(|a, b| {
        (
            a.at.as_str(),
            a.message_sid.as_deref(),
            a.reference.as_deref(),
        )
            .cmp(&(
                b.at.as_str(),
                b.message_sid.as_deref(),
                b.reference.as_deref(),
            ))
    });
    let entry = AuditEntry {
        at: timestamp(now),
        audit_id: crate::ids::random_id(),
        who: request.by.as_str().to_string(),
        what: AuditAction::ConsentExport,
        contact_hash: Some(contact),
        rows: records.len() as u64,
        format: Some(request.format),
        outcome: None,
        reference: None,
        reason: None,
    };
    let rendered = match request.format {
        ExportFormat::Json => {
            let document = ConsentDocument {
                export: "consent_evidence",
                audit_id: &entry.audit_id,
                exported_at: &entry.at,
                exported_by: &entry.who,
                contact: request.contact.kind(),
                rows: records.len(),
                evidence: &records,
            };
            let mut text = serde_json::to_string_pretty(&document)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            text.push('\n');
            text
        }
        ExportFormat::Csv => {
            let mut csv = CsvWriter::new();
            csv.row(&CONSENT_COLUMNS);
            for record in &records {
                csv.row(&record.cells());
            }
            csv.into_string()
        }
    };
    audit.record(&entry).await.map_err(AdminError::Audit)?;
    tracing::info!(
        audit_id = %entry.audit_id,
        rows = records.len(),
        format = request.format.as_str(),
        "consent evidence exported"
    );
    out.write_all(rendered.as_bytes())?;
    out.flush()?;
    Ok(ConsentExported {
        audit_id: entry.audit_id,
        rows: records.len(),
    })
}

/// An erasure asked for outside rising (by email, on paper, in person).
#[derive(Debug, Clone)]
pub struct ErasureRequest<'a> {
    pub contact: &'a ContactDetail,
    pub by: &'a Organizer,
    pub reason: Option<&'a Reason>,
}

/// What an organizer's erasure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureReport {
    pub audit_id: String,
    /// The request id, recorded as the `reference` of the erasure evidence.
    pub reference: String,
    /// Whether rising knew the person (a contact item existed). An unknown person is still
    /// recorded as suppressed, so they are never contacted.
    pub known: bool,
    pub rsvps: usize,
    pub items: usize,
    /// Consent/opt-out/erasure records kept, as the law requires.
    pub evidence_kept: usize,
}

/// Erases the person through the one erasure use case (source `organizer`, reference a new request
/// id), after recording it in the audit log (`outcome` `started`; then `done` with the count of
/// items removed, or `failed`). `--by` and `--reason` must not hold the person's detail.
pub async fn erase_on_request<S, G, E, A>(
    store: &S,
    gatherings: &G,
    evidence: &E,
    audit: &A,
    hasher: &ContactHasher,
    request: &ErasureRequest<'_>,
    now: OffsetDateTime,
) -> Result<ErasureReport, AdminError>
where
    S: ErasureStore<G>,
    G: Sync,
    E: ConsentEvidence,
    A: AuditLog,
{
    if request.contact.appears_in(request.by.as_str()) {
        return Err(AdminError::ContactDetailInText("--by"));
    }
    if let Some(reason) = request.reason
        && request.contact.appears_in(reason.as_str())
    {
        return Err(AdminError::ContactDetailInText("--reason"));
    }
    let contact = request.contact.hash(hasher);
    let known = evidence.contact_known(&contact).await?;
    let reference = format!("req-{}", crate::ids::random_id());
    let mut entry = AuditEntry {
        at: timestamp(now),
        audit_id: crate::ids::random_id(),
        who: request.by.as_str().to_string(),
        what: AuditAction::Erasure,
        contact_hash: Some(contact.clone()),
        rows: 0,
        format: None,
        outcome: Some("started".into()),
        reference: Some(reference.clone()),
        reason: request.reason.map(|r| r.as_str().to_string()),
    };
    audit.record(&entry).await.map_err(AdminError::Audit)?;
    let evidence_of_erasure = ErasureEvidence {
        reference: &reference,
        source: "organizer",
        keyword: None,
        wording: None,
        language: Language::En,
    };
    let (rsvps, items) =
        match erase_contact(store, gatherings, &contact, evidence_of_erasure, now).await {
            Ok(Erased::Done { rsvps, items, .. }) => (rsvps, items),
            Ok(Erased::AlreadyProcessed { .. }) => (0, 0),
            Err(e) => {
                entry.outcome = Some("failed".into());
                if let Err(finish) = audit.finish(&entry, OffsetDateTime::now_utc()).await {
                    tracing::warn!(error = %finish, "the audit record could not be marked failed");
                }
                return Err(e.into());
            }
        };
    entry.rows = (rsvps + items) as u64;
    entry.outcome = Some("done".into());
    audit.finish(&entry, OffsetDateTime::now_utc()).await?;
    let evidence_kept = evidence.consent_records(&contact).await?.len();
    Ok(ErasureReport {
        audit_id: entry.audit_id,
        reference,
        known,
        rsvps,
        items,
        evidence_kept,
    })
}

/// The UTC months from `since`'s to `until`'s, as `yyyy-mm`, oldest first.
pub fn months_between(since: Date, until: Date) -> Vec<String> {
    let mut months = Vec::new();
    let (mut year, mut month) = (since.year(), since.month());
    while (year, u8::from(month)) <= (until.year(), u8::from(until.month())) {
        months.push(format!("{year:04}-{:02}", u8::from(month)));
        if month == Month::December {
            year += 1;
        }
        month = month.next();
    }
    months
}

/// The audit records made on or after `since` (a UTC date), oldest first.
pub async fn list_audit<A: AuditLog>(
    audit: &A,
    since: Date,
    now: OffsetDateTime,
) -> Result<Vec<AuditEntry>, StoreError> {
    let today = now.to_offset(time::UtcOffset::UTC).date();
    let months = months_between(since, today);
    let from = timestamp(since.midnight().assume_utc());
    let mut entries = audit.list(&months, &from).await?;
    entries.sort_by_key(AuditEntry::sort_key);
    Ok(entries)
}

#[derive(Serialize)]
struct AuditDocument<'a> {
    since: String,
    records: &'a [AuditEntry],
}

/// The audit records as JSON or CSV (BOM, formula cells defused).
pub fn render_audit(entries: &[AuditEntry], since: Date, format: ExportFormat) -> String {
    match format {
        ExportFormat::Json => {
            let document = AuditDocument {
                since: format!(
                    "{:04}-{:02}-{:02}",
                    since.year(),
                    u8::from(since.month()),
                    since.day()
                ),
                records: entries,
            };
            let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
            text.push('\n');
            text
        }
        ExportFormat::Csv => {
            let mut csv = CsvWriter::new();
            csv.row(&AUDIT_COLUMNS);
            for entry in entries {
                csv.row(&entry.cells());
            }
            csv.into_string()
        }
    }
}

#[cfg(test)]
mod tests;

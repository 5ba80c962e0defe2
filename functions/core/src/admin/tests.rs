use super::*;
use crate::store::{MemoryGatheringStore, MemoryInboundStore};
use time::macros::{date, datetime};

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const PHONE: &str = "+12025550143";

fn hasher() -> ContactHasher {
    ContactHasher::from_base64(KEY).unwrap()
}

fn phone() -> ContactDetail {
    ContactDetail::Phone(PhoneNumber::parse(PHONE).unwrap())
}

fn now() -> OffsetDateTime {
    datetime!(2026-05-14 10:00:00.123 UTC)
}

fn record(at: &str, action: &str, keyword: &str, wording: &str, sid: &str) -> ConsentRecord {
    ConsentRecord {
        at: at.into(),
        channel: Some("sms".into()),
        action: Some(action.into()),
        source: Some("keyword".into()),
        keyword: Some(keyword.into()),
        wording: Some(wording.into()),
        language: Some("en".into()),
        message_sid: Some(sid.into()),
        reference: None,
        error_code: None,
    }
}

/// A store holding an opt-out and an earlier opt-in, written out of order.
fn store_with_evidence() -> MemoryAdminStore {
    let store = MemoryAdminStore::default();
    let contact = phone().hash(&hasher());
    store.add_consent(
        &contact,
        record(
            "2026-05-02T09:00:00.000Z",
            "opt_out",
            "STOP",
            "You're unsubscribed",
            "SM2",
        ),
    );
    store.add_consent(
        &contact,
        record(
            "2026-05-01T09:00:00.000Z",
            "opt_in",
            "RISING",
            "Welcome to rising!",
            "SM1",
        ),
    );
    store
}

fn by(text: &str) -> Organizer {
    Organizer::parse(text).unwrap()
}

async fn export(
    store: &MemoryAdminStore,
    format: ExportFormat,
) -> (Result<ConsentExported, AdminError>, Vec<u8>) {
    let (contact, organizer) = (phone(), by("Dana Organizer"));
    let mut out = Vec::new();
    let result = export_consent(
        store,
        store,
        &hasher(),
        &ConsentExportRequest {
            contact: &contact,
            by: &organizer,
            format,
        },
        now(),
        &mut out,
    )
    .await;
    (result, out)
}

#[test]
fn by_is_required_one_line_and_at_most_100_characters() {
    assert_eq!(
        by("  Dana <dana@example.org> ").as_str(),
        "Dana <dana@example.org>"
    );
    assert!(
        Organizer::parse(&"é".repeat(100)).is_ok(),
        "characters, not bytes"
    );
    for bad in [
        "",
        "   ",
        "Dana\nEvil: yes",
        "Dana\rX",
        "Dana\u{7}",
        &"x".repeat(101),
    ] {
        assert!(
            matches!(Organizer::parse(bad), Err(AdminError::InvalidOrganizer(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn a_reason_is_optional_one_line_and_bounded() {
    assert_eq!(Reason::parse("  ").unwrap(), None);
    assert_eq!(
        Reason::parse("asked by letter").unwrap().unwrap().as_str(),
        "asked by letter"
    );
    assert!(Reason::parse("a\nb").is_err());
    assert!(Reason::parse(&"x".repeat(501)).is_err());
}

#[test]
fn a_contact_detail_is_found_in_text_however_it_is_written() {
    let phone = phone();
    assert!(phone.appears_in("Dana for (202) 555-0143"));
    assert!(phone.appears_in("+1 202 555 0143"));
    assert!(!phone.appears_in("Dana, organizer 2026"));
    let email = ContactDetail::Email(EmailAddress::parse("Marisol@Example.org").unwrap());
    assert!(email.appears_in("on behalf of MARISOL@example.org"));
    assert!(!email.appears_in("Dana"));
}

#[tokio::test]
async fn the_evidence_is_exported_oldest_first_as_json_without_the_phone() {
    let store = store_with_evidence();
    let (result, out) = export(&store, ExportFormat::Json).await;
    let exported = result.unwrap();
    assert_eq!(exported.rows, 2);
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains("2025550143"), "{text}");
    assert!(
        !text.contains(phone().hash(&hasher()).as_str()),
        "not even the hash"
    );
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["rows"], 2);
    assert_eq!(json["contact"], "phone");
    assert_eq!(json["exported_by"], "Dana Organizer");
    assert_eq!(json["audit_id"], exported.audit_id.as_str());
    let actions: Vec<_> = json["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["message_sid"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(actions, [("opt_in", "SM1"), ("opt_out", "SM2")]);
    assert_eq!(json["evidence"][0]["wording"], "Welcome to rising!");
    assert!(json["evidence"][0]["error_code"].is_null());
}

#[tokio::test]
async fn the_export_is_recorded_with_who_what_rows_and_format_but_not_the_contact() {
    let store = store_with_evidence();
    let (result, _) = export(&store, ExportFormat::Csv).await;
    let exported = result.unwrap();
    let audit = store.audit_entries();
    assert_eq!(audit.len(), 1);
    let entry = &audit[0];
    assert_eq!(entry.audit_id, exported.audit_id);
    assert_eq!(entry.who, "Dana Organizer");
    assert_eq!(entry.what, AuditAction::ConsentExport);
    assert_eq!(entry.rows, 2);
    assert_eq!(entry.format, Some(ExportFormat::Csv));
    assert_eq!(entry.at, "2026-05-14T10:00:00.123Z");
    assert_eq!(entry.partition(), "AUDIT#2026-05");
    assert_eq!(entry.contact_hash, Some(phone().hash(&hasher())));
    assert!(!format!("{entry:?}").contains("2025550143"));
}

#[tokio::test]
async fn nothing_is_output_when_the_audit_record_cannot_be_written() {
    let store = store_with_evidence();
    store.refuse_audit_writes();
    let (result, out) = export(&store, ExportFormat::Json).await;
    assert!(matches!(result, Err(AdminError::Audit(_))), "{result:?}");
    assert!(out.is_empty(), "the audit is recorded before any output");
}

#[tokio::test]
async fn the_csv_export_has_a_bom_a_header_quoted_cells_and_defused_formulas() {
    let store = MemoryAdminStore::default();
    let contact = phone().hash(&hasher());
    let mut evil = record(
        "2026-05-01T09:00:00.000Z",
        "opt_in",
        "=cmd|' /C calc'!A0",
        "Hi, \"you\"",
        "SM1",
    );
    evil.error_code = Some(30007);
    store.add_consent(&contact, evil);
    let (result, out) = export(&store, ExportFormat::Csv).await;
    result.unwrap();
    let text = String::from_utf8(out).unwrap();
    let body = text.strip_prefix(BOM).expect("starts with the BOM");
    let lines: Vec<&str> = body.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "at,channel,action,source,keyword,wording,language,message_sid,reference,error_code"
    );
    assert_eq!(
        lines[1],
        "2026-05-01T09:00:00.000Z,sms,opt_in,keyword,'=cmd|' /C calc'!A0,\"Hi, \"\"you\"\"\",en,SM1,,30007"
    );
    assert_eq!(lines[2], "", "ends with CRLF");
}

#[tokio::test]
async fn by_holding_the_persons_phone_is_refused_before_anything_is_written() {
    let store = store_with_evidence();
    let (contact, organizer) = (phone(), by("Dana for 202-555-0143"));
    let mut out = Vec::new();
    let result = export_consent(
        &store,
        &store,
        &hasher(),
        &ConsentExportRequest {
            contact: &contact,
            by: &organizer,
            format: ExportFormat::Json,
        },
        now(),
        &mut out,
    )
    .await;
    assert!(matches!(
        result,
        Err(AdminError::ContactDetailInText("--by"))
    ));
    assert!(out.is_empty() && store.audit_entries().is_empty());
}

async fn erase(
    admin: &MemoryAdminStore,
    inbound: &MemoryInboundStore,
    reason: Option<&str>,
) -> Result<ErasureReport, AdminError> {
    let (contact, organizer) = (phone(), by("Dana Organizer"));
    let reason = reason.map(|r| Reason::parse(r).unwrap().unwrap());
    erase_on_request(
        inbound,
        &MemoryGatheringStore::new(),
        admin,
        admin,
        &hasher(),
        &ErasureRequest {
            contact: &contact,
            by: &organizer,
            reason: reason.as_ref(),
        },
        now(),
    )
    .await
}

#[tokio::test]
async fn an_organizer_erasure_is_recorded_then_runs_the_erasure_use_case() {
    let (admin, inbound) = (store_with_evidence(), MemoryInboundStore::default());
    let report = erase(&admin, &inbound, Some("asked by email on May 3"))
        .await
        .unwrap();
    assert!(report.known);
    assert!(report.reference.starts_with("req-"));
    assert_eq!(report.evidence_kept, 2);
    let hash = phone().hash(&hasher());
    let erased = inbound.contact(hash.as_str()).expect("the suppression");
    assert!(erased.erased && erased.suppressed);
    assert_eq!(erased.consents, ["erase::organizer"]);
    let audit = admin.audit_entries();
    assert_eq!(audit.len(), 1);
    let entry = &audit[0];
    assert_eq!(entry.what, AuditAction::Erasure);
    assert_eq!(entry.outcome.as_deref(), Some("done"));
    assert_eq!(entry.rows, (report.rsvps + report.items) as u64);
    assert_eq!(entry.reference.as_deref(), Some(report.reference.as_str()));
    assert_eq!(entry.reason.as_deref(), Some("asked by email on May 3"));
    assert_eq!(entry.format, None);
}

#[tokio::test]
async fn nothing_is_erased_when_the_audit_record_cannot_be_written() {
    let (admin, inbound) = (store_with_evidence(), MemoryInboundStore::default());
    admin.refuse_audit_writes();
    let result = erase(&admin, &inbound, None).await;
    assert!(matches!(result, Err(AdminError::Audit(_))), "{result:?}");
    assert!(inbound.contact(phone().hash(&hasher()).as_str()).is_none());
}

#[tokio::test]
async fn a_reason_holding_the_persons_phone_is_refused() {
    let (admin, inbound) = (store_with_evidence(), MemoryInboundStore::default());
    let result = erase(&admin, &inbound, Some("texted from 2025550143")).await;
    assert!(matches!(
        result,
        Err(AdminError::ContactDetailInText("--reason"))
    ));
    assert!(admin.audit_entries().is_empty());
}

#[test]
fn months_run_from_the_first_to_the_last_across_a_year_end() {
    assert_eq!(
        months_between(date!(2025 - 11 - 20), date!(2026 - 02 - 01)),
        ["2025-11", "2025-12", "2026-01", "2026-02"]
    );
    assert_eq!(
        months_between(date!(2026 - 05 - 14), date!(2026 - 05 - 14)),
        ["2026-05"]
    );
    assert!(months_between(date!(2026 - 06 - 01), date!(2026 - 05 - 14)).is_empty());
}

#[tokio::test]
async fn the_audit_lists_records_since_a_date_oldest_first_as_json_or_csv() {
    let store = store_with_evidence();
    for at in [
        datetime!(2026-05-14 10:00 UTC),
        datetime!(2026-03-31 23:59 UTC),
        datetime!(2026-04-02 08:00 UTC),
    ] {
        let (contact, organizer) = (phone(), by("=Dana"));
        export_consent(
            &store,
            &store,
            &hasher(),
            &ConsentExportRequest {
                contact: &contact,
                by: &organizer,
                format: ExportFormat::Json,
            },
            at,
            &mut Vec::new(),
        )
        .await
        .unwrap();
    }
    let listed = list_audit(&store, date!(2026 - 04 - 01), now())
        .await
        .unwrap();
    let times: Vec<_> = listed.iter().map(|e| e.at.as_str()).collect();
    assert_eq!(
        times,
        ["2026-04-02T08:00:00.000Z", "2026-05-14T10:00:00.000Z"]
    );
    let csv = render_audit(&listed, date!(2026 - 04 - 01), ExportFormat::Csv);
    let rows: Vec<&str> = csv.trim_start_matches(BOM).split("\r\n").collect();
    assert!(rows[0].starts_with("at,audit_id,who,what,rows"));
    assert!(
        rows[1].contains(",'=Dana,consent_export,2,json,"),
        "{}",
        rows[1]
    );
    let json: serde_json::Value = serde_json::from_str(&render_audit(
        &listed,
        date!(2026 - 04 - 01),
        ExportFormat::Json,
    ))
    .unwrap();
    assert_eq!(json["since"], "2026-04-01");
    assert_eq!(json["records"][0]["what"], "consent_export");
    assert_eq!(json["records"][0]["rows"], 2);
}

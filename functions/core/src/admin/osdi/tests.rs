use super::*;
use crate::admin::MemoryAdminStore;

struct Campaign(CampaignItems);

impl CampaignSource for Campaign {
    async fn campaign(&self) -> Result<CampaignItems, StoreError> {
        Ok(self.0.clone())
    }
}

fn hash(s: &str) -> ContactHash {
    ContactHash::parse(s).unwrap()
}

fn contact(h: &str) -> ContactRow {
    ContactRow {
        hash: hash(h),
        person_hash: None,
        person_id: None,
        first_name_sealed: None,
        last_name_sealed: None,
        email_sealed: None,
        phone_sealed: None,
        zip: None,
        language: None,
        sms_status: None,
        sms_undeliverable: false,
        email_suppressed: false,
        email_undeliverable: false,
        erased: false,
        created_at: Some("2027-01-10T10:00:00.000Z".into()),
        updated_at: None,
    }
}

async fn seal(sealer: &Sealer, h: &str, field: &str, value: &str) -> Option<Sealed> {
    Some(
        sealer
            .seal(&field_context(&hash(h), field), value)
            .await
            .unwrap(),
    )
}

fn rsvp(gathering: &str, h: &str, source: &str, referral: Option<&str>) -> RsvpRow {
    RsvpRow {
        gathering_id: gathering.into(),
        contact: hash(h),
        status: "going".into(),
        source: source.into(),
        referral: referral.map(str::to_owned),
        created_at: "2027-01-11T10:00:00.000Z".into(),
    }
}

fn gathering(id: &str, public_address: Option<&str>) -> GatheringRow {
    GatheringRow {
        id: id.into(),
        title: "Porch talk".into(),
        description: "Coffee and a plan.".into(),
        accessibility: String::new(),
        starts_at: "2027-02-01T23:30:00.000Z".into(),
        ends_at: "2027-02-02T01:00:00.000Z".into(),
        town: "Washington".into(),
        state: "DC".into(),
        zip: "20001".into(),
        public_address: public_address.map(str::to_owned),
        capacity: Some(20),
        going: 2,
        listed: true,
        created_at: "2027-01-05T10:00:00.000Z".into(),
        updated_at: None,
    }
}

/// Ana gave an email (her own contact) and a phone (pointing to it) on the form; Bo was erased;
/// Cy only texted (no stored detail). Ana came through an invitation link, Cy by text.
async fn campaign(sealer: &Sealer) -> CampaignItems {
    let mut ana = contact("e.ana");
    ana.person_id = Some("person-ana".into());
    ana.first_name_sealed = seal(sealer, "e.ana", "first_name", "Ana").await;
    ana.last_name_sealed = seal(sealer, "e.ana", "last_name", "=Diaz").await;
    ana.email_sealed = seal(sealer, "e.ana", "email", "ana@example.org").await;
    ana.zip = Some("20001".into());
    ana.language = Some("es".into());
    let mut ana_phone = contact("p.ana");
    ana_phone.person_hash = Some(hash("e.ana"));
    ana_phone.phone_sealed = seal(sealer, "p.ana", "phone", "+12025550143").await;
    ana_phone.sms_status = Some("opted_in".into());
    let mut bo = contact("e.bo");
    bo.email_sealed = seal(sealer, "e.bo", "email", "bo@example.org").await;
    bo.erased = true;
    let mut cy = contact("p.cy");
    cy.person_id = Some("person-cy".into());
    cy.sms_status = Some("opted_in".into());
    CampaignItems {
        contacts: vec![ana_phone, bo, cy, ana],
        consents: vec![(
            hash("p.ana"),
            ConsentRecord {
                at: "2027-01-10T10:00:00.000Z".into(),
                channel: Some("sms".into()),
                action: Some("opt_in".into()),
                source: Some("form".into()),
                ..ConsentRecord::default()
            },
        )],
        gatherings: vec![
            gathering("g-public", Some("12 Elm St")),
            gathering("g-private", None),
        ],
        rsvps: vec![
            rsvp("g-public", "e.ana", "invite", Some("K7Q2M9XW3A")),
            rsvp("g-private", "p.cy", "sms", None),
        ],
    }
}

/// Every key of `value` (and of its nested objects) is one OSDI names for that place.
fn check_fields(value: &Value, allowed: &[&str], nested: &[(&str, &[&str])]) {
    let object = value.as_object().expect("an object");
    for (key, inner) in object {
        assert!(
            allowed.contains(&key.as_str()),
            "{key} is not an OSDI field here"
        );
        if let Some((_, fields)) = nested.iter().find(|(k, _)| k == key) {
            let entries: Vec<&Value> = match inner {
                Value::Array(list) => list.iter().collect(),
                other => vec![other],
            };
            for entry in entries {
                for inner_key in entry.as_object().expect("an object").keys() {
                    assert!(fields.contains(&inner_key.as_str()), "{key}.{inner_key}");
                }
            }
        }
    }
}

/// The campaign above, an audit log and the sealer that sealed it.
struct World {
    sealer: Sealer,
    source: Campaign,
    audit: MemoryAdminStore,
}

impl World {
    async fn new() -> Self {
        let sealer = Sealer::in_memory();
        let source = Campaign(campaign(&sealer).await);
        Self {
            sealer,
            source,
            audit: MemoryAdminStore::default(),
        }
    }

    /// Runs the export; what it returned and what it wrote.
    async fn export(
        &self,
        format: ExportFormat,
        collection: Collection,
    ) -> (Result<CampaignExported, AdminError>, String) {
        let by = Organizer::parse("Dana (organizer)").unwrap();
        let request = CampaignExportRequest {
            by: &by,
            format,
            collection,
        };
        let mut out = Vec::new();
        let result = export_campaign(
            &self.source,
            &self.audit,
            &self.sealer,
            &request,
            OffsetDateTime::UNIX_EPOCH,
            &mut out,
        )
        .await;
        (result, String::from_utf8(out).unwrap())
    }
}

#[tokio::test]
async fn the_osdi_export_holds_people_events_and_attendances_under_osdi_field_names() {
    let w = World::new().await;
    let (exported, text) = w.export(ExportFormat::Json, Collection::All).await;
    let exported = exported.unwrap();
    assert_eq!(
        (
            exported.people,
            exported.events,
            exported.attendances,
            exported.text_only
        ),
        (1, 2, 2, 1),
        "Ana once (two contact details), Bo erased, Cy text-only"
    );
    let document: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(document["total_records"], 5);
    let people = document["_embedded"]["osdi:people"].as_array().unwrap();
    for person in people {
        check_fields(
            person,
            &PERSON_FIELDS,
            &[
                ("email_addresses", &EMAIL_FIELDS),
                ("phone_numbers", &PHONE_FIELDS),
                ("postal_addresses", &ADDRESS_FIELDS),
            ],
        );
    }
    let ana = &people[0];
    assert_eq!(ana["identifiers"], json!(["rising:person-ana"]));
    assert_eq!(
        (ana["given_name"].as_str(), ana["family_name"].as_str()),
        (Some("Ana"), Some("=Diaz"))
    );
    assert_eq!(ana["email_addresses"][0]["address"], "ana@example.org");
    assert_eq!(ana["email_addresses"][0]["status"], "subscribed");
    assert_eq!(ana["phone_numbers"][0]["number"], "+12025550143");
    assert_eq!(ana["phone_numbers"][0]["status"], "subscribed");
    assert_eq!(ana["languages_spoken"], json!(["es"]));
    assert_eq!(ana["rising:consent"][0]["action"], "opt_in");
    for event in document["_embedded"]["osdi:events"].as_array().unwrap() {
        check_fields(event, &EVENT_FIELDS, &[("location", &ADDRESS_FIELDS)]);
    }
    let events = document["_embedded"]["osdi:events"].as_array().unwrap();
    let public = events
        .iter()
        .find(|e| e["identifiers"][0] == "rising:g-public")
        .unwrap();
    let private = events
        .iter()
        .find(|e| e["identifiers"][0] == "rising:g-private")
        .unwrap();
    assert_eq!(public["location"]["address_lines"], json!(["12 Elm St"]));
    assert!(
        private["location"].get("address_lines").is_none(),
        "a private address never leaves"
    );
    let attendances = document["_embedded"]["osdi:attendances"]
        .as_array()
        .unwrap();
    for attendance in attendances {
        check_fields(
            attendance,
            &ATTENDANCE_FIELDS,
            &[("referrer_data", &REFERRER_FIELDS)],
        );
    }
    let by_ana = attendances
        .iter()
        .find(|a| a["_links"]["osdi:event"]["href"] == "rising:g-public")
        .unwrap();
    assert_eq!(by_ana["_links"]["osdi:person"]["href"], "rising:person-ana");
    assert_eq!(
        by_ana["referrer_data"],
        json!({"source": "invite", "referrer": "K7Q2M9XW3A"})
    );
    assert_eq!(by_ana["status"], "accepted");
    assert!(
        !text.contains("bo@example.org"),
        "erased people are not exported"
    );
    let [entry] = w.audit.audit_entries().try_into().unwrap();
    assert_eq!(entry.what, AuditAction::CampaignExport);
    assert_eq!(
        (entry.rows, entry.contact_hash, entry.who.as_str()),
        (5, None, "Dana (organizer)")
    );
    assert_eq!(entry.audit_id, exported.audit_id);
}

#[tokio::test]
async fn a_csv_export_is_one_collection_with_formulas_defused() {
    let w = World::new().await;
    let (result, text) = w.export(ExportFormat::Csv, Collection::People).await;
    result.unwrap();
    let mut lines = text.trim_start_matches(crate::admin::BOM).lines();
    assert_eq!(
        lines.next(),
        Some(
            "identifier,given_name,family_name,email,email_status,phone,phone_status,postal_code,language,created_date"
        )
    );
    assert_eq!(
        lines.next(),
        Some(
            "rising:person-ana,Ana,'=Diaz,ana@example.org,subscribed,'+12025550143,subscribed,20001,es,2027-01-10T10:00:00.000Z"
        )
    );
    assert_eq!(lines.next(), None);

    let (refused, text) = w.export(ExportFormat::Csv, Collection::All).await;
    assert!(matches!(refused, Err(AdminError::OneCollectionPerCsv)));
    assert!(text.is_empty());
    assert_eq!(
        w.audit.audit_entries().len(),
        1,
        "the refused export is not recorded"
    );
}

#[tokio::test]
async fn without_its_audit_record_nothing_is_exported() {
    let w = World::new().await;
    w.audit.refuse_audit_writes();
    let (result, text) = w.export(ExportFormat::Json, Collection::Events).await;
    assert!(matches!(result, Err(AdminError::Audit(_))));
    assert!(text.is_empty());
}

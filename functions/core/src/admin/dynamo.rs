//! DynamoDB adapter of the organizer tools' ports: consent evidence read from the contact's
//! partition, audit records in one partition per UTC month.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{AuditAction, AuditEntry, AuditLog, ConsentEvidence, ConsentRecord, ExportFormat};
use crate::privacy::ContactHash;
use crate::store::dynamo_util::dynamo_err;
use crate::store::{StoreError, timestamp};

type Item = HashMap<String, AttributeValue>;

/// The tool that writes audit records.
const TOOL: &str = "rising-admin";

#[derive(Debug, Clone)]
pub struct DynamoAdminStore {
    client: Client,
    table: String,
}

impl DynamoAdminStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A `CONSENT#` item as any path writes it; attributes a path does not write are absent.
#[derive(Debug, Deserialize)]
struct StoredConsent {
    sk: String,
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    keyword: Option<String>,
    #[serde(default)]
    wording: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    message_sid: Option<String>,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    outbound_id: Option<String>,
    #[serde(default)]
    error_code: Option<u32>,
}

impl StoredConsent {
    fn into_record(self) -> ConsentRecord {
        // `CONSENT#<time>#<reference>`: the key's time when an item has no `at`.
        let at = self.at.unwrap_or_else(|| {
            self.sk
                .trim_start_matches("CONSENT#")
                .split('#')
                .next()
                .unwrap_or_default()
                .to_string()
        });
        ConsentRecord {
            at,
            channel: self.channel,
            action: self.action,
            source: self.source,
            keyword: self.keyword,
            wording: self.wording,
            language: self.language,
            message_sid: self.message_sid,
            reference: self.reference.or(self.outbound_id),
            error_code: self.error_code,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct AuditItem {
    pk: String,
    sk: String,
    entity: String,
    audit_id: String,
    who: String,
    what: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    contact_hash: Option<String>,
    rows: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    finished_at: Option<String>,
    tool: String,
}

impl AuditItem {
    fn new(entry: &AuditEntry) -> Self {
        Self {
            pk: entry.partition(),
            sk: entry.sort_key(),
            entity: "audit".into(),
            audit_id: entry.audit_id.clone(),
            who: entry.who.clone(),
            what: entry.what.as_str().into(),
            contact_hash: entry.contact_hash.as_ref().map(|h| h.as_str().into()),
            rows: entry.rows,
            format: entry.format.map(|f| f.as_str().into()),
            outcome: entry.outcome.clone(),
            reference: entry.reference.clone(),
            reason: entry.reason.clone(),
            at: entry.at.clone(),
            finished_at: None,
            tool: TOOL.into(),
        }
    }

    fn into_entry(self) -> Result<AuditEntry, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("audit item {}: {what}", self.sk));
        Ok(AuditEntry {
            what: AuditAction::parse(&self.what).ok_or_else(|| corrupt("unknown `what`"))?,
            contact_hash: match &self.contact_hash {
                None => None,
                Some(h) => {
                    Some(ContactHash::parse(h).ok_or_else(|| corrupt("not a contact hash"))?)
                }
            },
            format: match &self.format {
                None => None,
                Some(f) => Some(ExportFormat::parse(f).ok_or_else(|| corrupt("unknown format"))?),
            },
            at: self.at,
            audit_id: self.audit_id,
            who: self.who,
            rows: self.rows,
            outcome: self.outcome,
            reference: self.reference,
            reason: self.reason,
        })
    }
}

impl DynamoAdminStore {
    /// Every item of `pk` whose sort key starts with / is at least `sk`, page by page, consistently.
    async fn query(&self, pk: &str, sk_condition: &str, sk: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(format!("pk = :pk AND {sk_condition}"))
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":sk", s(sk))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(dynamo_err("Query"))?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

impl ConsentEvidence for DynamoAdminStore {
    async fn consent_records(
        &self,
        contact: &ContactHash,
    ) -> Result<Vec<ConsentRecord>, StoreError> {
        let pk = format!("CONTACT#{}", contact.as_str());
        self.query(&pk, "begins_with(sk, :sk)", "CONSENT#")
            .await?
            .into_iter()
            .map(|item| {
                serde_dynamo::from_item::<_, StoredConsent>(item)
                    .map(StoredConsent::into_record)
                    .map_err(|e| StoreError::Corrupt(format!("consent item: {e}")))
            })
            .collect()
    }

    async fn contact_known(&self, contact: &ContactHash) -> Result<bool, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("CONTACT#{}", contact.as_str())))
            .key("sk", s("CONTACT"))
            .projection_expression("pk")
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo_err("GetItem"))?;
        Ok(output.item.is_some())
    }
}

impl AuditLog for DynamoAdminStore {
    async fn record(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let item = serde_dynamo::to_item(AuditItem::new(entry))
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(dynamo_err("PutItem"))?;
        Ok(())
    }

    async fn finish(&self, entry: &AuditEntry, now: OffsetDateTime) -> Result<(), StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(entry.partition()))
            .key("sk", s(entry.sort_key()))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":rows", AttributeValue::N(entry.rows.to_string()))
            .expression_attribute_values(":now", s(timestamp(now)));
        let expression = match &entry.outcome {
            Some(outcome) => {
                update = update.expression_attribute_values(":outcome", s(outcome));
                "SET #rows = :rows, outcome = :outcome, finished_at = :now"
            }
            None => "SET #rows = :rows, finished_at = :now",
        };
        update
            .update_expression(expression)
            .expression_attribute_names("#rows", "rows")
            .send()
            .await
            .map_err(dynamo_err("UpdateItem"))?;
        Ok(())
    }

    async fn list(&self, months: &[String], since: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let mut entries = Vec::new();
        for month in months {
            for item in self
                .query(&format!("AUDIT#{month}"), "sk >= :sk", since)
                .await?
            {
                let item: AuditItem = serde_dynamo::from_item(item)
                    .map_err(|e| StoreError::Corrupt(format!("audit item: {e}")))?;
                entries.push(item.into_entry()?);
            }
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn consent_items_of_every_path_read_back_as_records() {
        let inbound = item(&[
            ("pk", s("CONTACT#p.x")),
            ("sk", s("CONSENT#2026-05-14T10:00:00.000Z#SM1")),
            ("entity", s("consent")),
            ("channel", s("sms")),
            ("action", s("opt_in")),
            ("source", s("keyword")),
            ("language", s("en")),
            ("program", s("rising")),
            ("keyword", s("RISING")),
            ("wording", s("Welcome")),
            ("message_sid", s("SM1")),
            ("at", s("2026-05-14T10:00:00.000Z")),
        ]);
        let record = serde_dynamo::from_item::<_, StoredConsent>(inbound)
            .unwrap()
            .into_record();
        assert_eq!(record.action.as_deref(), Some("opt_in"));
        assert_eq!(record.wording.as_deref(), Some("Welcome"));
        assert_eq!(record.message_sid.as_deref(), Some("SM1"));

        let outbox = item(&[
            ("pk", s("CONTACT#p.x")),
            ("sk", s("CONSENT#2026-05-15T10:00:00.000Z#ob1")),
            ("channel", s("sms")),
            ("action", s("opt_out")),
            ("source", s("carrier")),
            ("error_code", AttributeValue::N("21610".into())),
            ("outbound_id", s("ob1")),
        ]);
        let record = serde_dynamo::from_item::<_, StoredConsent>(outbox)
            .unwrap()
            .into_record();
        assert_eq!(record.at, "2026-05-15T10:00:00.000Z", "from the key");
        assert_eq!(record.error_code, Some(21610));
        assert_eq!(record.reference.as_deref(), Some("ob1"));
    }

    #[test]
    fn an_audit_item_round_trips_without_the_contact_detail() {
        let entry = AuditEntry {
            at: "2026-05-14T10:00:00.123Z".into(),
            audit_id: "a".repeat(32),
            who: "Dana (organizer)".into(),
            what: AuditAction::ConsentExport,
            contact_hash: ContactHash::parse("p.abc"),
            rows: 2,
            format: Some(ExportFormat::Csv),
            outcome: None,
            reference: None,
            reason: None,
        };
        let stored = serde_dynamo::to_item::<_, Item>(AuditItem::new(&entry)).unwrap();
        assert_eq!(stored["pk"].as_s().unwrap(), "AUDIT#2026-05");
        assert_eq!(
            stored["sk"].as_s().unwrap(),
            &format!("2026-05-14T10:00:00.123Z#{}", "a".repeat(32))
        );
        assert_eq!(stored["rows"].as_n().unwrap(), "2");
        let back: AuditItem = serde_dynamo::from_item(stored).unwrap();
        assert_eq!(back.into_entry().unwrap(), entry);
    }
}

// ---------------------------------------------------------------------------------------------------------
// The campaign export: one paginated Scan of the items it needs.

/// A contact item, leniently: every path writes a subset of these.
#[derive(Debug, Deserialize)]
struct ContactScan {
    pk: String,
    #[serde(default)]
    person_hash: Option<String>,
    #[serde(default)]
    person_id: Option<String>,
    #[serde(default)]
    first_name_sealed: Option<String>,
    #[serde(default)]
    last_name_sealed: Option<String>,
    #[serde(default)]
    email_sealed: Option<String>,
    #[serde(default)]
    phone_sealed: Option<String>,
    #[serde(default)]
    zip: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    sms_status: Option<String>,
    #[serde(default)]
    sms_undeliverable: bool,
    #[serde(default)]
    email_suppressed: bool,
    #[serde(default)]
    email_undeliverable: bool,
    #[serde(default)]
    suppressed: bool,
    #[serde(default)]
    erased_at: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
}

#[derive(Debug, Deserialize)]
struct GatheringScan {
    id: String,
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    accessibility: String,
    starts_at: String,
    ends_at: String,
    #[serde(default)]
    town: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    zip: String,
    #[serde(default)]
    address_kind: String,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    capacity: Option<u32>,
    #[serde(default)]
    going_count: u32,
    #[serde(default)]
    listed: bool,
    #[serde(default)]
    created_at: String,
    #[serde(default)]
    updated_at: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RsvpScan {
    gathering_id: String,
    contact_hash: String,
    status: String,
    source: String,
    #[serde(default)]
    referral: Option<String>,
    created_at: String,
}

fn contact_of(pk: &str) -> Option<ContactHash> {
    pk.strip_prefix("CONTACT#").and_then(ContactHash::parse)
}

fn sealed(value: Option<String>) -> Result<Option<crate::privacy::Sealed>, StoreError> {
    value
        .map(|v| crate::privacy::Sealed::parse(v).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()
}

impl ContactScan {
    fn into_row(self) -> Result<Option<super::osdi::ContactRow>, StoreError> {
        let Some(hash) = contact_of(&self.pk) else {
            return Ok(None);
        };
        Ok(Some(super::osdi::ContactRow {
            hash,
            person_hash: self.person_hash.as_deref().and_then(ContactHash::parse),
            person_id: self.person_id,
            first_name_sealed: sealed(self.first_name_sealed)?,
            last_name_sealed: sealed(self.last_name_sealed)?,
            email_sealed: sealed(self.email_sealed)?,
            phone_sealed: sealed(self.phone_sealed)?,
            zip: self.zip,
            language: self.language,
            sms_status: self.sms_status,
            sms_undeliverable: self.sms_undeliverable,
            email_suppressed: self.email_suppressed,
            email_undeliverable: self.email_undeliverable,
            erased: self.erased_at.is_some() || self.suppressed,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }))
    }
}

impl super::osdi::CampaignSource for DynamoAdminStore {
    async fn campaign(&self) -> Result<super::osdi::CampaignItems, StoreError> {
        let mut items = super::osdi::CampaignItems::default();
        let corrupt =
            |what: &str, e: serde_dynamo::Error| StoreError::Corrupt(format!("{what} item: {e}"));
        let mut start = None;
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("entity IN (:contact, :consent, :gathering, :rsvp)")
                .expression_attribute_values(":contact", s("contact"))
                .expression_attribute_values(":consent", s("consent"))
                .expression_attribute_values(":gathering", s("gathering"))
                .expression_attribute_values(":rsvp", s("rsvp"))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(dynamo_err("Scan"))?;
            for item in output.items.unwrap_or_default() {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
                let (entity, pk, sk) = (text("entity"), text("pk"), text("sk"));
                match (entity.as_deref(), sk.as_deref()) {
                    (Some("contact"), Some("CONTACT")) => {
                        let scan: ContactScan =
                            serde_dynamo::from_item(item).map_err(|e| corrupt("contact", e))?;
                        items.contacts.extend(scan.into_row()?);
                    }
                    (Some("consent"), Some(sk)) if sk.starts_with("CONSENT#") => {
                        let Some(contact) = pk.as_deref().and_then(contact_of) else {
                            continue;
                        };
                        let scan: StoredConsent =
                            serde_dynamo::from_item(item).map_err(|e| corrupt("consent", e))?;
                        items.consents.push((contact, scan.into_record()));
                    }
                    (Some("gathering"), Some("GATHERING")) => {
                        let g: GatheringScan =
                            serde_dynamo::from_item(item).map_err(|e| corrupt("gathering", e))?;
                        items.gatherings.push(super::osdi::GatheringRow {
                            public_address: g.address.filter(|_| g.address_kind == "public"),
                            id: g.id,
                            title: g.title,
                            description: g.description,
                            accessibility: g.accessibility,
                            starts_at: g.starts_at,
                            ends_at: g.ends_at,
                            town: g.town,
                            state: g.state,
                            zip: g.zip,
                            capacity: g.capacity,
                            going: g.going_count,
                            listed: g.listed,
                            created_at: g.created_at,
                            updated_at: g.updated_at,
                        });
                    }
                    (Some("rsvp"), _) => {
                        let r: RsvpScan =
                            serde_dynamo::from_item(item).map_err(|e| corrupt("rsvp", e))?;
                        let Some(contact) = ContactHash::parse(&r.contact_hash) else {
                            continue;
                        };
                        items.rsvps.push(super::osdi::RsvpRow {
                            gathering_id: r.gathering_id,
                            contact,
                            status: r.status,
                            source: r.source,
                            referral: r.referral,
                            created_at: r.created_at,
                        });
                    }
                    _ => {}
                }
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

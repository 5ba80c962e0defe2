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
    contact_hash: String,
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
            contact_hash: entry.contact_hash.as_str().into(),
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
            contact_hash: ContactHash::parse(&self.contact_hash)
                .ok_or_else(|| corrupt("not a contact hash"))?,
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
            contact_hash: ContactHash::parse("p.abc").unwrap(),
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

//! DynamoDB adapter of [`DeliveryStore`].
//!
//! A text's outcome is one item, `OUTBOUND#<MessageSid>` / `MESSAGE` (status, error code, batch,
//! when), put on condition `attribute_not_exists`: the first final status stands, and Twilio's
//! retries and duplicates write nothing. The outcome's effect on the recipient's contact (opt-out +
//! consent evidence, or undeliverable mark) or on the day's carrier-filtering counter, and for a
//! `delivered` text of a batch 1 added to `delivered` on a random `BATCH#<id>` / `COUNT#<shard>`
//! counter item (the batch's progress), go in the same transaction. The batch comes from the
//! callback's own signed URL (`?batch=<id>`, set by the send worker), so nothing is read first:
//! one request per text, whatever arrives first.

use super::dynamo_util::{Guarded, contact_key, dynamo_err, to_item, transact_guarded};
use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use rand::Rng as _;
use serde::Serialize;
use time::OffsetDateTime;

use super::delivery::{DeliveryEffect, DeliveryStore, Recorded, StatusRecord};
use super::outbox_dynamo::COUNTER_SHARDS;
use super::{StoreError, timestamp};
use crate::outbound::BatchId;

/// Program name recorded with consent evidence (as the inbound path does).
const SMS_PROGRAM: &str = "rising";
/// Attempts at the transaction when it is cancelled by a concurrent one (a hot counter or contact).
const TRANSACTION_ATTEMPTS: u32 = 4;

#[derive(Debug, Clone)]
pub struct DynamoDeliveryStore {
    client: Client,
    table: String,
}

impl DynamoDeliveryStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[derive(Debug, Serialize)]
struct OutcomeItem<'a> {
    pk: String,
    sk: &'static str,
    entity: &'static str,
    message_sid: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    batch_id: Option<&'a str>,
    at: &'a str,
}

#[derive(Debug, Serialize)]
struct CarrierConsentItem<'a> {
    pk: String,
    sk: String,
    entity: &'static str,
    channel: &'static str,
    action: &'static str,
    source: &'static str,
    program: &'static str,
    error_code: u32,
    message_sid: &'a str,
    at: &'a str,
}

fn outbound_key(sid: &str) -> String {
    format!("OUTBOUND#{sid}")
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

impl DynamoDeliveryStore {
    fn outcome_item(
        record: &StatusRecord,
        at: &str,
    ) -> Result<HashMap<String, AttributeValue>, StoreError> {
        to_item(&OutcomeItem {
            pk: outbound_key(record.sid.as_str()),
            sk: "MESSAGE",
            entity: "outbound_message",
            message_sid: record.sid.as_str(),
            status: record.status,
            error_code: record.error_code,
            batch_id: record.delivered_in.as_ref().map(BatchId::as_str),
            at,
        })
    }

    /// The writes beside the outcome item: its effect on the recipient or the day's counter, and
    /// the batch's `delivered` count for a delivered text of a batch.
    fn effect_writes(
        &self,
        record: &StatusRecord,
        at: &str,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let update = |key: (String, &str), expression: &str| {
            Update::builder()
                .table_name(&self.table)
                .key("pk", s(key.0))
                .key("sk", s(key.1))
                .update_expression(expression)
                .expression_attribute_values(":now", s(at))
        };
        let built = |u: aws_sdk_dynamodb::types::builders::UpdateBuilder| {
            u.build()
                .map(|u| TransactWriteItem::builder().update(u).build())
                .map_err(dynamo_err("build Update"))
        };
        let mut writes = match &record.effect {
            DeliveryEffect::Nothing => vec![],
            DeliveryEffect::OptOut { contact, code } => {
                // Same attributes as the inbound path's opt-out; the keyword that set the previous
                // status no longer explains the current one.
                let contact_update = update(
                    (contact_key(contact), "CONTACT"),
                    "SET entity = :entity, sms_status = :status, sms_status_at = :now, updated_at = :now, \
                     created_at = if_not_exists(created_at, :now), person_id = if_not_exists(person_id, :pid) \
                     REMOVE sms_status_keyword",
                )
                .expression_attribute_values(":entity", s("contact"))
                .expression_attribute_values(":status", s("opted_out"))
                .expression_attribute_values(":pid", s(crate::ids::random_id()));
                let evidence = CarrierConsentItem {
                    pk: contact_key(contact),
                    sk: format!("CONSENT#{at}#{}", record.sid.as_str()),
                    entity: "consent",
                    channel: "sms",
                    action: "opt_out",
                    source: "carrier",
                    program: SMS_PROGRAM,
                    error_code: *code,
                    message_sid: record.sid.as_str(),
                    at,
                };
                let evidence = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(to_item(&evidence)?))
                    .build()
                    .map_err(dynamo_err("build Put"))?;
                vec![
                    built(contact_update)?,
                    TransactWriteItem::builder().put(evidence).build(),
                ]
            }
            DeliveryEffect::Undeliverable { contact, code } => {
                let contact_update = update(
                    (contact_key(contact), "CONTACT"),
                    "SET entity = :entity, sms_undeliverable = :true, sms_undeliverable_code = :code, \
                     sms_undeliverable_at = :now, updated_at = :now, created_at = if_not_exists(created_at, :now), \
                     person_id = if_not_exists(person_id, :pid)",
                )
                .expression_attribute_values(":entity", s("contact"))
                .expression_attribute_values(":true", AttributeValue::Bool(true))
                .expression_attribute_values(":code", n(code))
                .expression_attribute_values(":pid", s(crate::ids::random_id()));
                vec![built(contact_update)?]
            }
            DeliveryEffect::CarrierFiltering { .. } => {
                let counter = update(
                    (
                        "METRIC#carrier_filtering".to_string(),
                        &format!("DAY#{}", &at[..10]),
                    ),
                    "SET entity = :entity, updated_at = :now ADD #count :one",
                )
                .expression_attribute_names("#count", "count")
                .expression_attribute_values(":entity", s("metric"))
                .expression_attribute_values(":one", n(1));
                vec![built(counter)?]
            }
        };
        if let Some(batch) = &record.delivered_in {
            let shard = rand::rng().random_range(0..COUNTER_SHARDS);
            let counter = update(
                (
                    format!("BATCH#{}", batch.as_str()),
                    &format!("COUNT#{shard}"),
                ),
                "SET entity = :entity, updated_at = :now ADD delivered :one",
            )
            .expression_attribute_values(":entity", s("batch_counter"))
            .expression_attribute_values(":one", n(1));
            writes.push(built(counter)?);
        }
        Ok(writes)
    }

    /// Writes the outcome item and its effects; `true` if the text had an outcome already.
    async fn write_once(&self, record: &StatusRecord, at: &str) -> Result<bool, StoreError> {
        let item = Self::outcome_item(record, at)?;
        let guard_condition = "attribute_not_exists(pk)";
        let effects = self.effect_writes(record, at)?;
        if effects.is_empty() {
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(guard_condition)
                .send()
                .await;
            return match result {
                Ok(_) => Ok(false),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    Ok(true)
                }
                Err(e) => Err(dynamo_err("PutItem")(e)),
            };
        }
        let guard = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(guard_condition)
            .build()
            .map_err(dynamo_err("build Put"))?;
        let mut items = vec![TransactWriteItem::builder().put(guard).build()];
        items.extend(effects);
        // The outcome item's condition failing means the text has its outcome already.
        Ok(
            transact_guarded(&self.client, items, TRANSACTION_ATTEMPTS).await?
                == Guarded::AlreadyDone,
        )
    }
}

impl DeliveryStore for DynamoDeliveryStore {
    #[tracing::instrument(name = "store.record_status", skip_all, fields(message_sid = %record.sid.as_str()))]
    async fn record(
        &self,
        record: &StatusRecord,
        now: OffsetDateTime,
    ) -> Result<Recorded, StoreError> {
        let at = timestamp(now);
        Ok(if self.write_once(record, &at).await? {
            Recorded::Duplicate
        } else {
            Recorded::Stored
        })
    }
}

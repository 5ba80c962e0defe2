//! DynamoDB adapter of [`DeliveryStore`].
//!
//! A status callback writes, in one transaction guarded by `attribute_not_exists` on its
//! `OUTBOUND#<MessageSid>` / `STATUS#<status>` item, that item and its effect on the recipient's
//! contact (opt-out + consent evidence, or undeliverable mark) or on the day's carrier-filtering
//! counter; a callback without an effect is a single conditional put. Twilio's retries and
//! duplicates therefore write nothing twice. The `MESSAGE` summary is then moved forward by a
//! separate update conditioned on its rank: it cannot share the transaction (a late status must not
//! cancel the rest), and being monotonic it is safe to attempt again on every delivery, which also
//! repairs a summary left behind by a crash between the two writes.
//!
//! The first `delivered` status of a text sent as part of a batch (the send worker left an
//! `OUTBOUND#<sid>` / `BATCH` pointer with its `batch_id`) also adds 1 to `delivered` on a random
//! `BATCH#<id>` / `COUNT#<shard>` counter item, the batch's progress. A `delivered` callback that
//! comes before the worker recorded the text as sent finds no pointer and is not counted.

use super::dynamo_util::{contact_key, dynamo_err, to_item};
use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use rand::Rng as _;
use serde::Serialize;
use time::OffsetDateTime;

use super::delivery::{DeliveryEffect, DeliveryStore, Recorded, StatusRecord};
use super::outbox_dynamo::COUNTER_SHARDS;
use super::{StoreError, timestamp};
use crate::domain::MessageSid;
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
struct StatusItem<'a> {
    pk: String,
    sk: String,
    entity: &'static str,
    message_sid: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<u32>,
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
    fn status_item(
        record: &StatusRecord,
        at: &str,
    ) -> Result<HashMap<String, AttributeValue>, StoreError> {
        to_item(&StatusItem {
            pk: outbound_key(record.sid.as_str()),
            sk: format!("STATUS#{}", record.status),
            entity: "outbound_status",
            message_sid: record.sid.as_str(),
            status: record.status,
            error_code: record.error_code,
            at,
        })
    }

    /// The writes of an effect, beside the status item.
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
        match &record.effect {
            DeliveryEffect::Nothing => Ok(vec![]),
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
                Ok(vec![
                    built(contact_update)?,
                    TransactWriteItem::builder().put(evidence).build(),
                ])
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
                Ok(vec![built(contact_update)?])
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
                Ok(vec![built(counter)?])
            }
        }
    }

    /// Writes the status item and its effect; `true` if this status was recorded before.
    async fn write_once(&self, record: &StatusRecord, at: &str) -> Result<bool, StoreError> {
        let item = Self::status_item(record, at)?;
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
        let mut attempt = 1;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(false),
                Err(err) => err,
            };
            let canceled = err
                .as_service_error()
                .is_some_and(|e| e.is_transaction_canceled_exception());
            if !canceled {
                return Err(dynamo_err("TransactWriteItems")(err));
            }
            // Cancelled: either the status item exists (a duplicate: nothing to do) or a concurrent
            // transaction touched the same contact or counter (try again shortly).
            if self.status_recorded(record).await? {
                return Ok(true);
            }
            if attempt >= TRANSACTION_ATTEMPTS {
                return Err(dynamo_err("TransactWriteItems")(err));
            }
            let backoff =
                Duration::from_millis(rand::rng().random_range(20..=60) * u64::from(attempt));
            tracing::info!(
                message_sid = record.sid.as_str(),
                attempt,
                "transaction conflict; trying again"
            );
            tokio::time::sleep(backoff).await;
            attempt += 1;
        }
    }

    async fn status_recorded(&self, record: &StatusRecord) -> Result<bool, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(outbound_key(record.sid.as_str())))
            .key("sk", s(format!("STATUS#{}", record.status)))
            .projection_expression("pk")
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo_err("GetItem"))?;
        Ok(output.item.is_some())
    }

    /// Moves the `MESSAGE` summary to this status if it ranks higher; `true` if it moved.
    async fn advance_summary(&self, record: &StatusRecord, at: &str) -> Result<bool, StoreError> {
        let mut expression =
            "SET entity = if_not_exists(entity, :entity), message_sid = :sid, #status = :status, \
                              status_rank = :rank, status_at = :now, updated_at = :now, \
                              created_at = if_not_exists(created_at, :now)"
                .to_string();
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(outbound_key(record.sid.as_str())))
            .key("sk", s("MESSAGE"))
            .condition_expression("attribute_not_exists(status_rank) OR status_rank < :rank")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":entity", s("outbound_message"))
            .expression_attribute_values(":sid", s(record.sid.as_str()))
            .expression_attribute_values(":status", s(record.status))
            .expression_attribute_values(":rank", n(record.rank))
            .expression_attribute_values(":now", s(at));
        if let Some(code) = record.error_code {
            expression.push_str(", error_code = :code");
            request = request.expression_attribute_values(":code", n(code));
        }
        match request.update_expression(expression).send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(dynamo_err("UpdateItem")(e)),
        }
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
        let duplicate = self.write_once(record, &at).await?;
        let summary_advanced = self.advance_summary(record, &at).await?;
        Ok(Recorded {
            duplicate,
            summary_advanced,
        })
    }

    #[tracing::instrument(name = "store.count_delivered", skip_all, fields(message_sid = %sid.as_str()))]
    async fn count_delivered(
        &self,
        sid: &MessageSid,
        now: OffsetDateTime,
    ) -> Result<Option<BatchId>, StoreError> {
        let pointer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(outbound_key(sid.as_str())))
            .key("sk", s("BATCH"))
            .projection_expression("batch_id, expires_at")
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo_err("GetItem"))?
            .item;
        let Some(pointer) = pointer else {
            return Ok(None);
        };
        // An item whose TTL has passed is absent (DynamoDB deletes lazily).
        let expired = pointer
            .get("expires_at")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|at| at <= now.unix_timestamp());
        if expired {
            return Ok(None);
        }
        let batch = pointer
            .get("batch_id")
            .and_then(|v| v.as_s().ok())
            .and_then(|v| BatchId::parse(v))
            .ok_or_else(|| StoreError::Corrupt("outbound batch pointer".into()))?;
        let shard = rand::rng().random_range(0..COUNTER_SHARDS);
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("BATCH#{}", batch.as_str())))
            .key("sk", s(format!("COUNT#{shard}")))
            .update_expression("SET entity = :entity, updated_at = :now ADD delivered :one")
            .expression_attribute_values(":entity", s("batch_counter"))
            .expression_attribute_values(":now", s(timestamp(now)))
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map_err(dynamo_err("UpdateItem"))?;
        Ok(Some(batch))
    }
}

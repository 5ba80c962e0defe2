//! DynamoDB adapter of [`EmailEventStore`].
//!
//! One transaction per recipient: the record that the event reached the contact,
//! `CONTACT#<hash>` / `EMAILEVENT#<feedback id>` (put on condition that it does not exist or has
//! expired, kept 30 days), the contact's mark (`email_undeliverable` + reason, `email_suppressed` +
//! reason, or `email_soft_bounces` + 1), a complaint's opt-out evidence (`CONSENT#<at>#<feedback id>`,
//! source `complaint`), and the batch's `bounced` / `complained` count on a random counter shard.
//! An event delivered again fails the first condition and writes nothing.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use rand::Rng as _;
use serde::Serialize;
use time::OffsetDateTime;

use super::dynamo_util::{Guarded, contact_key, dynamo_err, to_item, transact_guarded};
use super::email_event::{
    EMAIL_EVENT_RECORD_TTL, EmailEventEffect, EmailEventRecord, EmailEventStore,
};
use super::email_event_memory::batch_counter;
use super::outbox_dynamo::COUNTER_SHARDS;
use super::{StoreError, timestamp};

/// Attempts at the transaction when a concurrent one touches the same contact or counter.
const TRANSACTION_ATTEMPTS: u32 = 4;
/// Program name recorded with consent evidence (as the other paths do).
const PROGRAM: &str = "rising";

#[derive(Debug, Clone)]
pub struct DynamoEmailEventStore {
    client: Client,
    table: String,
}

impl DynamoEmailEventStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[derive(Debug, Serialize)]
struct EventItem<'a> {
    pk: String,
    sk: String,
    entity: &'static str,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    batch_id: Option<&'a str>,
    at: &'a str,
    recorded_at: &'a str,
    expires_at: i64,
}

#[derive(Debug, Serialize)]
struct ComplaintEvidence<'a> {
    pk: String,
    sk: String,
    entity: &'static str,
    channel: &'static str,
    action: &'static str,
    source: &'static str,
    method: &'a str,
    program: &'static str,
    reference: &'a str,
    at: &'a str,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

impl DynamoEmailEventStore {
    fn writes(
        &self,
        record: &EmailEventRecord,
        now: OffsetDateTime,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let at = timestamp(record.at);
        let recorded_at = timestamp(now);
        let key = contact_key(&record.contact);
        let (kind, reason) = match &record.effect {
            EmailEventEffect::Undeliverable { reason } => ("hard_bounce", Some(reason.as_str())),
            EmailEventEffect::SoftBounce => ("soft_bounce", None),
            EmailEventEffect::Complaint { feedback_type } => {
                ("complaint", feedback_type.as_deref())
            }
        };
        let guard = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&EventItem {
                pk: key.clone(),
                sk: format!("EMAILEVENT#{}", record.feedback_id),
                entity: "email_event",
                kind,
                reason,
                batch_id: record.batch.as_ref().map(|b| b.as_str()),
                at: &at,
                recorded_at: &recorded_at,
                expires_at: (now + EMAIL_EVENT_RECORD_TTL).unix_timestamp(),
            })?))
            // An expired record is absent (DynamoDB deletes expired items late, moto never).
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now_epoch")
            .expression_attribute_values(
                ":now_epoch",
                AttributeValue::N(now.unix_timestamp().to_string()),
            )
            .build()
            .map_err(dynamo_err("build Put"))?;
        let common = "entity = if_not_exists(entity, :entity), updated_at = :recorded, \
                      created_at = if_not_exists(created_at, :recorded), \
                      person_id = if_not_exists(person_id, :pid)";
        let expression = match &record.effect {
            EmailEventEffect::Undeliverable { .. } => format!(
                "SET {common}, email_undeliverable = :true, email_undeliverable_at = :at, \
                 email_undeliverable_reason = :reason"
            ),
            EmailEventEffect::SoftBounce => {
                format!("SET {common}, email_soft_bounce_at = :at ADD email_soft_bounces :one")
            }
            EmailEventEffect::Complaint { .. } => format!(
                "SET {common}, email_suppressed = :true, email_suppressed_at = :at, \
                 email_suppressed_reason = :reason"
            ),
        };
        let mut contact = Update::builder()
            .table_name(&self.table)
            .key("pk", s(key.clone()))
            .key("sk", s("CONTACT"))
            .update_expression(expression)
            .expression_attribute_values(":entity", s("contact"))
            .expression_attribute_values(":recorded", s(recorded_at.clone()))
            .expression_attribute_values(":pid", s(crate::ids::random_id()))
            .expression_attribute_values(":at", s(at.clone()));
        contact = match &record.effect {
            EmailEventEffect::Undeliverable { reason } => contact
                .expression_attribute_values(":true", AttributeValue::Bool(true))
                .expression_attribute_values(":reason", s(reason.clone())),
            EmailEventEffect::SoftBounce => {
                contact.expression_attribute_values(":one", AttributeValue::N("1".into()))
            }
            EmailEventEffect::Complaint { .. } => contact
                .expression_attribute_values(":true", AttributeValue::Bool(true))
                .expression_attribute_values(":reason", s("complaint")),
        };
        let mut writes = vec![
            TransactWriteItem::builder().put(guard).build(),
            TransactWriteItem::builder()
                .update(contact.build().map_err(dynamo_err("build Update"))?)
                .build(),
        ];
        if let EmailEventEffect::Complaint { feedback_type } = &record.effect {
            let evidence = ComplaintEvidence {
                pk: key,
                sk: format!("CONSENT#{at}#{}", record.feedback_id),
                entity: "consent",
                channel: "email",
                action: "opt_out",
                source: "complaint",
                method: feedback_type.as_deref().unwrap_or("unknown"),
                program: PROGRAM,
                reference: &record.feedback_id,
                at: &at,
            };
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(to_item(&evidence)?))
                .build()
                .map_err(dynamo_err("build Put"))?;
            writes.push(TransactWriteItem::builder().put(put).build());
        }
        if let (Some(batch), Some(counter)) = (&record.batch, batch_counter(&record.effect)) {
            let shard = rand::rng().random_range(0..COUNTER_SHARDS);
            let update = Update::builder()
                .table_name(&self.table)
                .key("pk", s(format!("BATCH#{}", batch.as_str())))
                .key("sk", s(format!("COUNT#{shard}")))
                .update_expression("SET entity = :entity, updated_at = :recorded ADD #counter :one")
                .expression_attribute_names("#counter", counter)
                .expression_attribute_values(":entity", s("batch_counter"))
                .expression_attribute_values(":recorded", s(recorded_at.clone()))
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .build()
                .map_err(dynamo_err("build Update"))?;
            writes.push(TransactWriteItem::builder().update(update).build());
        }
        Ok(writes)
    }
}

impl EmailEventStore for DynamoEmailEventStore {
    #[tracing::instrument(name = "store.record_email_event", skip_all)]
    async fn record(
        &self,
        record: &EmailEventRecord,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let writes = self.writes(record, now)?;
        Ok(transact_guarded(&self.client, writes, TRANSACTION_ATTEMPTS).await? == Guarded::Written)
    }
}

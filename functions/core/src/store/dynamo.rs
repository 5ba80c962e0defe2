//! DynamoDB adapter. Every write of an inbound message is one transaction guarded by a condition on
//! the MessageSid record, so Twilio's retries and Lambda's redeliveries write nothing twice.

use super::dynamo_util::{contact_key, dynamo_err, to_item};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{
    Applied, CONVERSATION_TTL, ContactEffect, ContactState, ConversationState, DAILY_REPLY_TTL,
    INBOUND_IDEMPOTENCY_TTL, InboundStore, SmsStatus, StateChange, Step, StoreError, timestamp,
};
use crate::domain::{GatheringId, Language, MessageSid};
use crate::privacy::{ContactHash, Sealed};

/// Program name recorded with consent evidence.
const SMS_PROGRAM: &str = "rising";

#[derive(Debug, Clone)]
pub struct DynamoInboundStore {
    client: Client,
    table: String,
}

impl DynamoInboundStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct InboundItem {
    pk: String,
    sk: String,
    entity: String,
    reply: String,
    processed_at: String,
    expires_at: i64,
}

#[derive(Debug, Serialize)]
struct ConsentItem<'a> {
    pk: String,
    sk: String,
    entity: &'static str,
    channel: &'static str,
    action: &'static str,
    source: &'static str,
    language: &'static str,
    program: &'static str,
    keyword: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    wording: Option<&'a str>,
    message_sid: &'a str,
    at: String,
}

/// The conversation item. `step` is one of `awaiting_name`, `awaiting_zip`, `awaiting_choice`.
#[derive(Debug, Serialize, Deserialize)]
struct ConversationItem {
    pk: String,
    sk: String,
    entity: String,
    step: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gathering_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    options: Vec<String>,
    language: Language,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_name_sealed: Option<Sealed>,
    updated_at: String,
    expires_at: i64,
}

impl ConversationItem {
    fn new(contact: &ContactHash, state: &ConversationState, now: OffsetDateTime) -> Self {
        let (step, gathering_id, options) = match &state.step {
            Step::AwaitingName { gathering } => (
                "awaiting_name",
                gathering.as_ref().map(|g| g.as_str().to_string()),
                vec![],
            ),
            Step::AwaitingZip => ("awaiting_zip", None, vec![]),
            Step::AwaitingChoice { options } => (
                "awaiting_choice",
                None,
                options.iter().map(|g| g.as_str().to_string()).collect(),
            ),
        };
        Self {
            pk: contact_key(contact),
            sk: "CONVERSATION".into(),
            entity: "conversation".into(),
            step: step.into(),
            gathering_id,
            options,
            language: state.language,
            first_name_sealed: state.first_name.clone(),
            updated_at: timestamp(now),
            expires_at: (now + CONVERSATION_TTL).unix_timestamp(),
        }
    }

    fn into_state(self) -> Result<ConversationState, StoreError> {
        let id = |s: &str| {
            GatheringId::parse(s)
                .map_err(|_| StoreError::Corrupt("conversation gathering id".into()))
        };
        let step = match self.step.as_str() {
            "awaiting_name" => Step::AwaitingName {
                gathering: self.gathering_id.as_deref().map(id).transpose()?,
            },
            "awaiting_zip" => Step::AwaitingZip,
            "awaiting_choice" => Step::AwaitingChoice {
                options: self
                    .options
                    .iter()
                    .map(|o| id(o))
                    .collect::<Result<_, _>>()?,
            },
            other => return Err(StoreError::Corrupt(format!("conversation step {other}"))),
        };
        Ok(ConversationState {
            step,
            language: self.language,
            first_name: self.first_name_sealed,
        })
    }
}

fn inbound_key(sid: &MessageSid) -> String {
    format!("INBOUND#{}", sid.as_str())
}

impl DynamoInboundStore {
    #[allow(clippy::too_many_arguments)]
    fn consent_put(
        &self,
        sid: &MessageSid,
        contact: &ContactHash,
        action: &'static str,
        source: &'static str,
        keyword: &str,
        wording: Option<&str>,
        language: Language,
        now: OffsetDateTime,
    ) -> Result<TransactWriteItem, StoreError> {
        let at = timestamp(now);
        let item = ConsentItem {
            pk: contact_key(contact),
            sk: format!("CONSENT#{at}#{}", sid.as_str()),
            entity: "consent",
            channel: "sms",
            action,
            source,
            language: language.code(),
            program: SMS_PROGRAM,
            keyword,
            wording,
            message_sid: sid.as_str(),
            at,
        };
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&item)?))
            .build()
            .map_err(dynamo_err("build Put"))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn contact_update(
        &self,
        contact: &ContactHash,
        opted_in: bool,
        keyword: &str,
        language: Language,
        now: OffsetDateTime,
    ) -> Result<TransactWriteItem, StoreError> {
        let now_s = timestamp(now);
        let person_id = crate::ids::random_id();
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(contact_key(contact)))
            .key("sk", AttributeValue::S("CONTACT".into()))
            .update_expression(
                "SET entity = :entity, sms_status = :status, sms_status_at = :now, sms_status_keyword = :kw, \
                 #lang = :lang, updated_at = :now, created_at = if_not_exists(created_at, :now), \
                 join_source = if_not_exists(join_source, :source), person_id = if_not_exists(person_id, :pid)",
            )
            .expression_attribute_names("#lang", "language")
            .expression_attribute_values(":lang", AttributeValue::S(language.code().into()))
            .expression_attribute_values(":entity", AttributeValue::S("contact".into()))
            .expression_attribute_values(
                ":status",
                AttributeValue::S(if opted_in { "opted_in" } else { "opted_out" }.into()),
            )
            .expression_attribute_values(":now", AttributeValue::S(now_s))
            .expression_attribute_values(":kw", AttributeValue::S(keyword.to_string()))
            .expression_attribute_values(":source", AttributeValue::S("keyword".into()))
            .expression_attribute_values(":pid", AttributeValue::S(person_id))
            .build()
            .map_err(dynamo_err("build Update"))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

impl InboundStore for DynamoInboundStore {
    #[tracing::instrument(name = "store.contact_state", skip_all)]
    async fn contact_state(
        &self,
        contact: &ContactHash,
    ) -> Result<Option<ContactState>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(contact_key(contact)))
            .key("sk", AttributeValue::S("CONTACT".into()))
            .projection_expression("sms_status, #lang")
            .expression_attribute_names("#lang", "language")
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo_err("GetItem"))?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let text = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
        };
        let sms_status = match text("sms_status") {
            Some("opted_in") => Some(SmsStatus::OptedIn),
            Some("opted_out") => Some(SmsStatus::OptedOut),
            _ => None,
        };
        let language = text("language")
            .and_then(Language::parse)
            .unwrap_or_default();
        Ok(Some(ContactState {
            sms_status,
            language,
        }))
    }

    #[tracing::instrument(name = "store.conversation", skip_all)]
    async fn conversation(
        &self,
        contact: &ContactHash,
        now: OffsetDateTime,
    ) -> Result<Option<ConversationState>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(contact_key(contact)))
            .key("sk", AttributeValue::S("CONVERSATION".into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo_err("GetItem"))?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let item: ConversationItem =
            serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if item.expires_at <= now.unix_timestamp() {
            return Ok(None);
        }
        item.into_state().map(Some)
    }

    #[tracing::instrument(name = "store.claim_daily_reply", skip_all)]
    async fn claim_daily_reply(
        &self,
        contact: &ContactHash,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let day = &timestamp(now)[..10];
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(contact_key(contact)))
            .item("sk", AttributeValue::S(format!("DAILYREPLY#{day}")))
            .item("entity", AttributeValue::S("daily_reply".into()))
            .item(
                "expires_at",
                AttributeValue::N((now + DAILY_REPLY_TTL).unix_timestamp().to_string()),
            )
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
            .expression_attribute_values(
                ":now",
                AttributeValue::N(now.unix_timestamp().to_string()),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(dynamo_err("PutItem")(e)),
        }
    }

    #[tracing::instrument(name = "store.processed_reply", skip_all, fields(message_sid = %sid.as_str()))]
    async fn processed_reply(
        &self,
        sid: &MessageSid,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(inbound_key(sid)))
            .key("sk", AttributeValue::S("INBOUND".into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo_err("GetItem"))?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let item: InboundItem =
            serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        // DynamoDB deletes expired items lazily (and moto never does): an expired record is absent.
        Ok((item.expires_at > now.unix_timestamp()).then_some(item.reply))
    }

    #[tracing::instrument(name = "store.apply", skip_all, fields(message_sid = %sid.as_str()))]
    async fn apply(
        &self,
        sid: &MessageSid,
        effect: &ContactEffect,
        conversation: &StateChange,
        reply: &str,
        now: OffsetDateTime,
    ) -> Result<Applied, StoreError> {
        let record = InboundItem {
            pk: inbound_key(sid),
            sk: "INBOUND".into(),
            entity: "inbound".into(),
            reply: reply.to_string(),
            processed_at: timestamp(now),
            expires_at: (now + INBOUND_IDEMPOTENCY_TTL).unix_timestamp(),
        };
        let guard = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&record)?))
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
            .expression_attribute_values(
                ":now",
                AttributeValue::N(now.unix_timestamp().to_string()),
            )
            .build()
            .map_err(dynamo_err("build Put"))?;
        let mut items = vec![TransactWriteItem::builder().put(guard).build()];
        match effect {
            ContactEffect::OptIn {
                contact,
                keyword,
                wording,
                language,
            } => {
                items.push(self.contact_update(contact, true, keyword, *language, now)?);
                items.push(self.consent_put(
                    sid,
                    contact,
                    "opt_in",
                    "keyword",
                    keyword,
                    Some(wording),
                    *language,
                    now,
                )?);
            }
            ContactEffect::OptOut {
                contact,
                keyword,
                source,
                wording,
                language,
            } => {
                items.push(self.contact_update(contact, false, keyword, *language, now)?);
                items.push(self.consent_put(
                    sid,
                    contact,
                    "opt_out",
                    source,
                    keyword,
                    wording.as_deref(),
                    *language,
                    now,
                )?);
            }
            ContactEffect::Nothing => {}
        }
        match conversation {
            StateChange::Keep => {}
            StateChange::Set(contact, state) => {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(to_item(&ConversationItem::new(contact, state, now))?))
                    .build()
                    .map_err(dynamo_err("build Put"))?;
                items.push(TransactWriteItem::builder().put(put).build());
            }
            StateChange::End(contact) => {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .key("pk", AttributeValue::S(contact_key(contact)))
                    .key("sk", AttributeValue::S("CONVERSATION".into()))
                    .build()
                    .map_err(dynamo_err("build Delete"))?;
                items.push(TransactWriteItem::builder().delete(delete).build());
            }
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Applied::Stored),
            Err(err) => {
                let canceled = err
                    .as_service_error()
                    .is_some_and(|e| e.is_transaction_canceled_exception());
                if canceled {
                    // Lost a race with another delivery of the same message, or a retry: answer as it did.
                    if let Some(reply) = self.processed_reply(sid, now).await? {
                        return Ok(Applied::AlreadyProcessed { reply });
                    }
                }
                Err(dynamo_err("TransactWriteItems")(err))
            }
        }
    }
}

//! DynamoDB adapter. Every write of an inbound message is one transaction guarded by a condition on
//! the MessageSid record, so Twilio's retries and Lambda's redeliveries write nothing twice.
//!
//! **Erasure** ([`ErasureStore`]): reads what to erase (the contact's partition, consistently; its
//! `gsi1pk` for RSVPs, unsent `OUTBOX#` messages and inbound records; the counts of the gatherings
//! where it holds a place), then writes it all in one transaction with the evidence and the MessageSid
//! record. Past 100 writes it goes in several, the record last; a cancelled one (a concurrent change)
//! is planned again from a fresh read, so no place is given back twice.

use std::collections::HashMap;

use super::dynamo_util::{contact_key, dynamo_err, to_item};
use super::gathering_dynamo::IndexedRsvp;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{
    Applied, ContactEffect, ContactState, ConversationState, DAILY_REPLY_TTL, DynamoGatheringStore,
    Erased, Erasure, ErasureStore, INBOUND_IDEMPOTENCY_TTL, InboundReply, InboundStore, SmsStatus,
    StateChange, Step, StoreError, timestamp,
};
use crate::domain::{GatheringId, Language, MessageSid};
use crate::privacy::{ContactHash, Sealed};

type Item = HashMap<String, AttributeValue>;

/// Most writes in one DynamoDB transaction.
const MAX_TRANSACTION_WRITES: usize = 100;

/// Times an erasure is planned again after a concurrent change cancelled one of its transactions.
const ERASE_ATTEMPTS: u32 = 5;
/// Most contact details one erasure follows through their links (a person has a phone and an
/// email or two; more is a loop or a fault, and stops there).
const MAX_LINKED_CONTACTS: usize = 8;

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
    /// `CONTACT#<keyed hash>` of the sender, so an erasure finds the record; removed by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
}

/// The evidence of an erasure (`action` `erase`): how it was asked and what we answered, no more.
#[derive(Debug, Serialize)]
struct ErasureItem<'a> {
    pk: String,
    sk: String,
    entity: &'static str,
    channel: &'static str,
    action: &'static str,
    source: &'static str,
    language: &'static str,
    program: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    keyword: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wording: Option<&'a str>,
    reference: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_sid: Option<&'a str>,
    at: String,
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

/// The conversation item. `step` is one of `awaiting_name`, `awaiting_zip`, `awaiting_choice`,
/// `awaiting_delete_confirmation` (then `confirm_until`, and the interrupted step as `resume_step`
/// with its `gathering_id`/`options`).
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
    /// Unix seconds until which a second DELETE confirms the erasure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    confirm_until: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resume_step: Option<String>,
    language: Language,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_name_sealed: Option<Sealed>,
    updated_at: String,
    expires_at: i64,
}

/// A question step as stored: its name, gathering id, options. `None` for the DELETE confirmation.
fn question_fields(step: &Step) -> Option<(&'static str, Option<String>, Vec<String>)> {
    match step {
        Step::AwaitingName { gathering } => Some((
            "awaiting_name",
            gathering.as_ref().map(|g| g.as_str().to_string()),
            vec![],
        )),
        Step::AwaitingZip => Some(("awaiting_zip", None, vec![])),
        Step::AwaitingEmail => Some(("awaiting_email", None, vec![])),
        Step::AwaitingChoice { options } => Some((
            "awaiting_choice",
            None,
            options.iter().map(|g| g.as_str().to_string()).collect(),
        )),
        Step::AwaitingDeleteConfirmation { .. } => None,
    }
}

fn question_step(
    name: &str,
    gathering_id: Option<&str>,
    options: &[String],
) -> Result<Step, StoreError> {
    let id = |s: &str| {
        GatheringId::parse(s).map_err(|_| StoreError::Corrupt("conversation gathering id".into()))
    };
    Ok(match name {
        "awaiting_name" => Step::AwaitingName {
            gathering: gathering_id.map(id).transpose()?,
        },
        "awaiting_zip" => Step::AwaitingZip,
        "awaiting_email" => Step::AwaitingEmail,
        "awaiting_choice" => Step::AwaitingChoice {
            options: options.iter().map(|o| id(o)).collect::<Result<_, _>>()?,
        },
        other => return Err(StoreError::Corrupt(format!("conversation step {other}"))),
    })
}

impl ConversationItem {
    fn new(contact: &ContactHash, state: &ConversationState, now: OffsetDateTime) -> Self {
        // The question's fields; for a DELETE confirmation, those of the question it interrupted.
        let (step, confirm_until, resume_step, question) = match &state.step {
            Step::AwaitingDeleteConfirmation { until, resume } => {
                let question = resume.as_deref().and_then(question_fields);
                let resume_step = question.as_ref().map(|(name, _, _)| name.to_string());
                (
                    "awaiting_delete_confirmation",
                    Some(until.unix_timestamp()),
                    resume_step,
                    question,
                )
            }
            other => {
                let question = question_fields(other);
                let name = question.as_ref().map_or("", |(name, _, _)| *name);
                (name, None, None, question)
            }
        };
        let (gathering_id, options) = question
            .map(|(_, gathering_id, options)| (gathering_id, options))
            .unwrap_or_default();
        Self {
            pk: contact_key(contact),
            sk: "CONVERSATION".into(),
            entity: "conversation".into(),
            step: step.into(),
            gathering_id,
            options,
            confirm_until,
            resume_step,
            language: state.language,
            first_name_sealed: state.first_name.clone(),
            updated_at: timestamp(now),
            expires_at: state.expires_at(now).unix_timestamp(),
        }
    }

    fn into_state(self) -> Result<ConversationState, StoreError> {
        let step = if self.step == "awaiting_delete_confirmation" {
            let until = self
                .confirm_until
                .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
                .ok_or_else(|| StoreError::Corrupt("conversation confirm_until".into()))?;
            let resume = self
                .resume_step
                .as_deref()
                .map(|name| question_step(name, self.gathering_id.as_deref(), &self.options))
                .transpose()?
                .map(Box::new);
            Step::AwaitingDeleteConfirmation { until, resume }
        } else {
            question_step(&self.step, self.gathering_id.as_deref(), &self.options)?
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

fn text<'a>(item: &'a Item, name: &str) -> &'a str {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map_or("", String::as_str)
}

/// Packs groups of writes (each group must stay in one transaction) into transactions of at most
/// `max` writes, in order, with `last` in the last one.
///
/// A transaction may not touch one item twice (an RSVP's count and its host's name are both on the
/// gathering), so a group that shares a `key` with the transaction being filled starts the next one.
fn pack<T, K: PartialEq>(
    groups: Vec<Vec<T>>,
    last: Vec<T>,
    max: usize,
    key: impl Fn(&T) -> Option<K>,
) -> Vec<Vec<T>> {
    let mut transactions = Vec::new();
    let mut current: Vec<T> = Vec::new();
    let clashes = |current: &[T], group: &[T]| {
        group
            .iter()
            .filter_map(&key)
            .any(|k| current.iter().filter_map(&key).any(|other| other == k))
    };
    for group in groups.into_iter().chain(std::iter::once(last)) {
        if !current.is_empty() && (current.len() + group.len() > max || clashes(&current, &group)) {
            transactions.push(std::mem::take(&mut current));
        }
        current.extend(group);
    }
    transactions.push(current);
    transactions
}

/// The item a transaction write targets (`pk`, `sk`).
fn target(write: &TransactWriteItem) -> Option<(String, String)> {
    let key = write
        .update()
        .map(|u| u.key())
        .or_else(|| write.delete().map(|d| d.key()))
        .or_else(|| write.put().map(|p| p.item()))
        .or_else(|| write.condition_check().map(|c| c.key()))?;
    let text = |name: &str| key.get(name).and_then(|v| v.as_s().ok()).cloned();
    Some((text("pk")?, text("sk")?))
}

/// What an erasure writes before its last transaction, from one read of the table.
struct ErasurePlan {
    /// Groups of writes, each group in one transaction (an RSVP and its gathering's count).
    groups: Vec<Vec<TransactWriteItem>>,
    rsvps: usize,
    items: usize,
    /// The person's other contact details (a web sign-up links a phone and an email), erased with it.
    linked: Vec<ContactHash>,
}

impl DynamoInboundStore {
    /// The record that `sid` was processed with `reply`, created only if it is not there yet
    /// (or has expired). With `sender`, the record is findable by the sender's key until erased.
    fn inbound_guard(
        &self,
        inbound: &InboundReply<'_>,
        sender: Option<&ContactHash>,
        now: OffsetDateTime,
    ) -> Result<TransactWriteItem, StoreError> {
        let processed_at = timestamp(now);
        let record = InboundItem {
            pk: inbound_key(inbound.sid),
            sk: "INBOUND".into(),
            entity: "inbound".into(),
            reply: inbound.reply.to_string(),
            gsi1pk: sender.map(contact_key),
            gsi1sk: sender.map(|_| format!("INBOUND#{processed_at}#{}", inbound.sid.as_str())),
            processed_at,
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
        Ok(TransactWriteItem::builder().put(guard).build())
    }

    /// Every item of a query on the table (`index` `None`) or an index, page by page.
    async fn query_all(
        &self,
        index: Option<&str>,
        key_name: &str,
        key_value: &str,
    ) -> Result<Vec<Item>, StoreError> {
        super::dynamo_util::query_all(&self.client, &self.table, index, key_name, key_value).await
    }

    fn delete_write(&self, pk: &str, sk: &str) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.to_string()))
            .key("sk", AttributeValue::S(sk.to_string()))
            .build()
            .map_err(dynamo_err("build Delete"))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// Blanks the reply kept for a processed inbound message and unlinks it from the sender: a
    /// retry of that message is still recognised, and answered with nothing.
    fn blank_inbound_write(&self, pk: &str, sk: &str) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.to_string()))
            .key("sk", AttributeValue::S(sk.to_string()))
            .update_expression("SET reply = :empty REMOVE gsi1pk, gsi1sk")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":empty", AttributeValue::S(String::new()))
            .build()
            .map_err(dynamo_err("build Update"))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Reads everything an erasure of `contact` removes and plans the writes.
    async fn erasure_plan(
        &self,
        gatherings: &DynamoGatheringStore,
        contact: &ContactHash,
    ) -> Result<ErasurePlan, StoreError> {
        let key = contact_key(contact);
        let mut groups = Vec::new();
        let mut items = 0;
        let mut linked = Vec::new();
        for item in self.query_all(None, "pk", &key).await? {
            let sk = text(&item, "sk");
            if sk == "CONTACT" {
                // Its bring-a-friend code goes; so do the contact details it is linked to.
                if let Some(code) = item.get("referral_code").and_then(|v| v.as_s().ok()) {
                    groups.push(vec![
                        self.delete_write(&format!("REFERRAL#{code}"), "REFERRAL")?,
                    ]);
                    items += 1;
                }
                if let Some(person) = item
                    .get("person_hash")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|h| ContactHash::parse(h))
                {
                    linked.push(person);
                }
                if let Some(others) = item.get("linked_contacts").and_then(|v| v.as_ss().ok()) {
                    linked.extend(others.iter().filter_map(|h| ContactHash::parse(h)));
                }
            }
            // The contact item is rewritten last; consent evidence stays (it holds no personal data).
            if sk == "CONTACT" || sk.starts_with("CONSENT#") {
                continue;
            }
            groups.push(vec![self.delete_write(&key, sk)?]);
            items += 1;
        }
        // A host's profile (their sealed email and first name); their sessions and sign-in links
        // expire within days on their own. Their gatherings stay for the people going, without
        // the host's name or the link to them.
        let host_key = format!("HOST#{}", contact.as_str());
        for item in self.query_all(None, "pk", &host_key).await? {
            let sk = text(&item, "sk");
            if sk == "PROFILE" {
                groups.push(vec![self.delete_write(&host_key, "PROFILE")?]);
                items += 1;
            } else if let Some(id) = sk.strip_prefix("GATHERING#") {
                let mut group = vec![self.delete_write(&host_key, sk)?];
                group.extend(gatherings.forget_host_writes(id, contact).await?);
                items += group.len();
                groups.push(group);
            }
        }
        let mut rsvps: Vec<IndexedRsvp> = Vec::new();
        let mut unknown = 0;
        for item in self.query_all(Some("gsi1"), "gsi1pk", &key).await? {
            if let Some(rsvp) = DynamoGatheringStore::indexed_rsvp(&item) {
                rsvps.push(rsvp);
                continue;
            }
            let (pk, sk) = (text(&item, "pk"), text(&item, "sk"));
            if pk == key {
                // In the contact's own partition: handled above.
                continue;
            }
            if sk.starts_with("OUTBOX#") || text(&item, "gsi1sk").starts_with("OUTBOX#") {
                // An outbound message not sent yet: the send worker takes a missing one as nothing to send.
                groups.push(vec![self.delete_write(pk, sk)?]);
                items += 1;
            } else if pk.starts_with("INBOUND#") {
                groups.push(vec![self.blank_inbound_write(pk, sk)?]);
                items += 1;
            } else if super::DynamoTrainingStore::indexed_registration(&item).is_some() {
                // A training registration (its sealed first name goes with it).
                groups.push(vec![self.delete_write(pk, sk)?]);
                items += 1;
            } else if pk.starts_with("INVITE#") {
                // A host's invitation to them: its personal link stops working.
                groups.push(vec![self.delete_write(pk, sk)?]);
                items += 1;
            } else {
                unknown += 1;
            }
        }
        if unknown > 0 {
            tracing::warn!(
                unknown,
                "items of unknown kinds under the contact's index key were left as they are"
            );
        }
        // A person has one RSVP per gathering, so each gathering is counted down once at most.
        let going: Vec<String> = rsvps
            .iter()
            .filter(|r| r.status == super::RsvpStatus::Going)
            .map(|r| r.pk.clone())
            .collect();
        let counts = if going.is_empty() {
            HashMap::new()
        } else {
            gatherings.going_counts(&going).await?
        };
        for rsvp in &rsvps {
            let give_back = counts.get(&rsvp.pk).is_some_and(|n| *n > 0);
            groups.push(gatherings.withdraw_writes(rsvp, give_back)?);
        }
        linked.retain(|h| h != contact);
        linked.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        linked.dedup();
        Ok(ErasurePlan {
            groups,
            rsvps: rsvps.len(),
            items,
            linked,
        })
    }

    /// The last transaction of an erasure: the contact rewritten to its suppression, the evidence,
    /// and the record of the inbound message that asked.
    fn erasure_last_writes(
        &self,
        erasure: &Erasure<'_>,
        now: OffsetDateTime,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let at = timestamp(now);
        let key = contact_key(erasure.contact);
        let contact: Item = HashMap::from([
            ("pk".into(), AttributeValue::S(key.clone())),
            ("sk".into(), AttributeValue::S("CONTACT".into())),
            ("entity".into(), AttributeValue::S("contact".into())),
            ("sms_status".into(), AttributeValue::S("opted_out".into())),
            ("sms_status_at".into(), AttributeValue::S(at.clone())),
            ("suppressed".into(), AttributeValue::Bool(true)),
            ("erased_at".into(), AttributeValue::S(at.clone())),
        ]);
        let evidence = &erasure.evidence;
        let evidence = ErasureItem {
            pk: key,
            sk: format!("CONSENT#{at}#{}", evidence.reference),
            entity: "consent",
            channel: "all",
            action: "erase",
            source: evidence.source,
            language: evidence.language.code(),
            program: SMS_PROGRAM,
            keyword: evidence.keyword,
            wording: evidence.wording,
            reference: evidence.reference,
            message_sid: erasure.inbound.as_ref().map(|i| i.sid.as_str()),
            at,
        };
        let put = |item: Item| -> Result<TransactWriteItem, StoreError> {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .build()
                .map_err(dynamo_err("build Put"))?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        let mut writes = vec![put(contact)?, put(to_item(&evidence)?)?];
        if let Some(inbound) = &erasure.inbound {
            writes.push(self.inbound_guard(inbound, None, now)?);
        }
        Ok(writes)
    }

    /// Runs the transactions in order; `Ok(false)` when one was cancelled (a condition failed or a
    /// concurrent transaction won): the earlier ones stand, and a fresh plan picks up from there.
    async fn run_transactions(
        &self,
        transactions: Vec<Vec<TransactWriteItem>>,
    ) -> Result<bool, StoreError> {
        for writes in transactions {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(writes))
                .send()
                .await;
            match result {
                Ok(_) => {}
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_transaction_canceled_exception()) =>
                {
                    return Ok(false);
                }
                Err(err) => return Err(dynamo_err("TransactWriteItems")(err)),
            }
        }
        Ok(true)
    }
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
        self.consent_put_on(
            "sms", sid, contact, action, source, keyword, wording, language, now,
        )
    }

    /// Consent evidence for `channel`.
    #[allow(clippy::too_many_arguments)]
    fn consent_put_on(
        &self,
        channel: &'static str,
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
            channel,
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

    /// Adds `other` to `contact`'s `linked_contacts`.
    fn link_write(
        &self,
        contact: &ContactHash,
        other: &ContactHash,
        now: OffsetDateTime,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(contact_key(contact)))
            .key("sk", AttributeValue::S("CONTACT".into()))
            .update_expression(
                "SET entity = if_not_exists(entity, :entity), updated_at = :now, \
                 created_at = if_not_exists(created_at, :now) ADD linked_contacts :other",
            )
            .expression_attribute_values(":entity", AttributeValue::S("contact".into()))
            .expression_attribute_values(":now", AttributeValue::S(timestamp(now)))
            .expression_attribute_values(
                ":other",
                AttributeValue::Ss(vec![other.as_str().to_string()]),
            )
            .build()
            .map_err(dynamo_err("build Update"))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// An email address given by text: its contact records the opt-in and keeps the sealed address
    /// (for the emails the person asked for). An earlier unsubscribe is lifted: giving the address
    /// again is a new, explicit consent (with its own evidence). An erasure's suppression is not.
    fn email_contact_update(
        &self,
        contact: &ContactHash,
        person: &ContactHash,
        address: &Sealed,
        language: Language,
        now: OffsetDateTime,
    ) -> Result<TransactWriteItem, StoreError> {
        let now_s = timestamp(now);
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(contact_key(contact)))
            .key("sk", AttributeValue::S("CONTACT".into()))
            .update_expression(
                "SET entity = :entity, email_status = :status, email_status_at = :now, \
                 email_status_source = :source, email_sealed = :address, #lang = :lang, \
                 updated_at = :now, created_at = if_not_exists(created_at, :now) \
                 ADD linked_contacts :person REMOVE email_suppressed",
            )
            .expression_attribute_names("#lang", "language")
            .expression_attribute_values(":entity", AttributeValue::S("contact".into()))
            .expression_attribute_values(":status", AttributeValue::S("opted_in".into()))
            .expression_attribute_values(":source", AttributeValue::S("sms".into()))
            .expression_attribute_values(":address", AttributeValue::S(address.as_str().into()))
            .expression_attribute_values(
                ":person",
                AttributeValue::Ss(vec![person.as_str().to_string()]),
            )
            .expression_attribute_values(":lang", AttributeValue::S(language.code().into()))
            .expression_attribute_values(":now", AttributeValue::S(now_s))
            .build()
            .map_err(dynamo_err("build Update"))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Records an opt-in or opt-out. An opt-in is always the person's own text (a keyword, a
    /// gathering's code, START): after an erasure (`lifts_erasure`) it is their new consent and lifts
    /// the suppression the erasure left (`suppressed`, `erased_at` go). A suppression an organizer
    /// set without an erasure stays.
    #[allow(clippy::too_many_arguments)]
    fn contact_update(
        &self,
        contact: &ContactHash,
        opted_in: bool,
        lifts_erasure: bool,
        keyword: &str,
        language: Language,
        address: Option<&Sealed>,
        now: OffsetDateTime,
    ) -> Result<TransactWriteItem, StoreError> {
        let now_s = timestamp(now);
        let person_id = crate::ids::random_id();
        let mut set = String::from(
            "SET entity = :entity, sms_status = :status, sms_status_at = :now, sms_status_keyword = :kw, \
             #lang = :lang, updated_at = :now, created_at = if_not_exists(created_at, :now), \
             join_source = if_not_exists(join_source, :source), person_id = if_not_exists(person_id, :pid)",
        );
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(contact_key(contact)))
            .key("sk", AttributeValue::S("CONTACT".into()));
        if let Some(address) = address {
            set.push_str(", phone_sealed = :address");
            update = update.expression_attribute_values(
                ":address",
                AttributeValue::S(address.as_str().into()),
            );
        }
        update = if opted_in && lifts_erasure {
            update.update_expression(format!("{set} REMOVE erased_at, suppressed"))
        } else {
            update.update_expression(set)
        };
        let update = update
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
            .projection_expression("sms_status, #lang, erased_at")
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
            erased: item.contains_key("erased_at"),
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
        sender: &ContactHash,
        effect: &ContactEffect,
        conversation: &StateChange,
        reply: &str,
        now: OffsetDateTime,
    ) -> Result<Applied, StoreError> {
        let mut items =
            vec![self.inbound_guard(&InboundReply { sid, reply }, Some(sender), now)?];
        match effect {
            ContactEffect::OptIn {
                contact,
                keyword,
                wording,
                language,
                lifts_erasure,
                address,
            } => {
                items.push(self.contact_update(
                    contact,
                    true,
                    *lifts_erasure,
                    keyword,
                    *language,
                    address.as_ref(),
                    now,
                )?);
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
                items.push(
                    self.contact_update(contact, false, false, keyword, *language, None, now)?,
                );
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
            ContactEffect::EmailOptIn {
                contact,
                address,
                wording,
                language,
                message,
            } => {
                items.push(self.email_contact_update(contact, sender, address, *language, now)?);
                // The address and the phone that gave it are one person's: an erasure of either
                // finds the other.
                items.push(self.link_write(sender, contact, now)?);
                items.push(self.consent_put_on(
                    "email",
                    sid,
                    contact,
                    "opt_in",
                    "sms",
                    "EMAIL",
                    Some(wording),
                    *language,
                    now,
                )?);
                items.push(super::outbox_dynamo::new_message_put(
                    &self.table,
                    message,
                    now,
                    super::DEFAULT_MESSAGE_RETENTION,
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

impl ErasureStore<DynamoGatheringStore> for DynamoInboundStore {
    #[tracing::instrument(name = "store.erase_contact", skip_all, fields(source = erasure.evidence.source))]
    async fn erase_contact(
        &self,
        gatherings: &DynamoGatheringStore,
        erasure: &Erasure<'_>,
        now: OffsetDateTime,
    ) -> Result<Erased, StoreError> {
        'attempt: for attempt in 0..ERASE_ATTEMPTS {
            if let Some(inbound) = &erasure.inbound
                && let Some(reply) = self.processed_reply(inbound.sid, now).await?
            {
                return Ok(Erased::AlreadyProcessed { reply });
            }
            if attempt > 0 {
                let jitter = rand::random_range(0..25u64);
                tokio::time::sleep(std::time::Duration::from_millis((25 << attempt) + jitter))
                    .await;
            }
            let plan = self.erasure_plan(gatherings, erasure.contact).await?;
            // The person's other contact details first (a sign-up links a phone and an email; an
            // email given by text links to the phone; followed to every contact reached), each to
            // the same suppression, without the inbound record, which is written once, last, with
            // this contact's own erasure.
            let (mut rsvps, mut items) = (plan.rsvps, plan.items);
            let mut reached = vec![erasure.contact.clone()];
            let mut pending = plan.linked.clone();
            while let Some(other) = pending.pop() {
                if reached.contains(&other) || reached.len() > MAX_LINKED_CONTACTS {
                    continue;
                }
                reached.push(other.clone());
                let linked = Erasure {
                    contact: &other,
                    inbound: None,
                    evidence: erasure.evidence.clone(),
                };
                let plan = self.erasure_plan(gatherings, &other).await?;
                rsvps += plan.rsvps;
                items += plan.items;
                pending.extend(plan.linked);
                let transactions = pack(
                    plan.groups,
                    self.erasure_last_writes(&linked, now)?,
                    MAX_TRANSACTION_WRITES,
                    target,
                );
                if !self.run_transactions(transactions).await? {
                    // Cancelled by a concurrent change: plan everything again.
                    continue 'attempt;
                }
            }
            let transactions = pack(
                plan.groups,
                self.erasure_last_writes(erasure, now)?,
                MAX_TRANSACTION_WRITES,
                target,
            );
            let count = transactions.len();
            if self.run_transactions(transactions).await? {
                return Ok(Erased::Done {
                    rsvps,
                    items,
                    transactions: count,
                });
            }
        }
        if let Some(inbound) = &erasure.inbound
            && let Some(reply) = self.processed_reply(inbound.sid, now).await?
        {
            return Ok(Erased::AlreadyProcessed { reply });
        }
        Err(StoreError::Corrupt(
            "erasure kept being cancelled by concurrent changes".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn contact() -> ContactHash {
        ContactHash::parse("p.RszGy9RKKPDpUtrg1zOvfmg3Nte4Vk_kBwtiD2NFauc").unwrap()
    }

    fn no_key(_: &u32) -> Option<()> {
        None
    }

    #[test]
    fn a_group_touching_an_item_of_the_transaction_being_filled_starts_the_next_one() {
        let item = |n: &u32| Some(n / 10);
        assert_eq!(
            pack(vec![vec![11, 20], vec![21], vec![30]], vec![12], 100, item),
            [vec![11, 20], vec![21, 30, 12]]
        );
    }

    #[test]
    fn writes_are_packed_into_transactions_of_at_most_the_limit_with_the_last_ones_last() {
        assert_eq!(
            pack(vec![vec![1], vec![2, 3]], vec![9], 100, no_key),
            [vec![1, 2, 3, 9]]
        );
        let groups: Vec<Vec<u32>> = (0..60).map(|n| vec![2 * n, 2 * n + 1]).collect();
        let packed = pack(groups, vec![900, 901, 902], 100, no_key);
        assert_eq!(packed.len(), 2);
        assert_eq!(packed[0].len(), 100);
        assert_eq!(packed[1].len(), 23);
        assert_eq!(packed[1].last(), Some(&902));
        assert!(
            packed[0]
                .chunks(2)
                .all(|pair| pair[0] % 2 == 0 && pair[1] == pair[0] + 1),
            "a group is never split"
        );
        let full: Vec<Vec<u32>> = (0..50).map(|n| vec![2 * n, 2 * n + 1]).collect();
        assert_eq!(
            pack(full, vec![7, 8], 100, no_key).len(),
            2,
            "the last writes go alone"
        );
        assert_eq!(pack(Vec::new(), vec![1, 2], 100, no_key), [vec![1, 2]]);
    }

    #[test]
    fn a_delete_confirmation_round_trips_with_the_question_it_interrupted() {
        let gathering = GatheringId::random();
        let until = now() + super::super::DELETE_CONFIRMATION_WINDOW;
        let state = ConversationState {
            step: Step::AwaitingDeleteConfirmation {
                until,
                resume: Some(Box::new(Step::AwaitingChoice {
                    options: vec![gathering.clone()],
                })),
            },
            language: Language::Es,
            first_name: None,
        };
        let item = ConversationItem::new(&contact(), &state, now());
        assert_eq!(item.step, "awaiting_delete_confirmation");
        assert_eq!(item.resume_step.as_deref(), Some("awaiting_choice"));
        assert_eq!(item.options, [gathering.as_str()]);
        assert_eq!(
            item.expires_at,
            (now() + super::super::CONVERSATION_TTL).unix_timestamp()
        );
        let stored = to_item(&item).unwrap();
        let back: ConversationItem = serde_dynamo::from_item(stored).unwrap();
        assert_eq!(back.into_state().unwrap(), state);

        let alone = ConversationState {
            step: Step::AwaitingDeleteConfirmation {
                until,
                resume: None,
            },
            ..state
        };
        let item = ConversationItem::new(&contact(), &alone, now());
        assert_eq!(
            item.expires_at,
            until.unix_timestamp(),
            "kept only for the window"
        );
        assert_eq!(item.resume_step, None);
        assert_eq!(item.into_state().unwrap(), alone);
        let zip = ConversationState {
            step: Step::AwaitingZip,
            language: Language::En,
            first_name: None,
        };
        let item = ConversationItem::new(&contact(), &zip, now());
        assert_eq!(
            (item.step.as_str(), item.confirm_until),
            ("awaiting_zip", None)
        );
        assert_eq!(item.into_state().unwrap(), zip);
    }

    fn store() -> DynamoInboundStore {
        let config = aws_sdk_dynamodb::Config::builder()
            .http_client(crate::aws::http_client())
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .build();
        DynamoInboundStore::new(Client::from_conf(config), "t")
    }

    #[test]
    fn after_an_erasure_the_contact_holds_only_its_suppression_and_the_evidence_no_personal_data() {
        let sid = MessageSid::parse(&format!("SM{:032x}", 7)).unwrap();
        let contact = contact();
        let erasure = Erasure {
            contact: &contact,
            evidence: super::super::ErasureEvidence {
                reference: sid.as_str(),
                source: "sms",
                keyword: Some("BORRAR"),
                wording: Some("Tus datos fueron borrados."),
                language: Language::Es,
            },
            inbound: Some(InboundReply {
                sid: &sid,
                reply: "v1.sealed",
            }),
        };
        let writes = store().erasure_last_writes(&erasure, now()).unwrap();
        assert_eq!(writes.len(), 3);
        let contact_item = writes[0].put().unwrap().item();
        let mut names: Vec<&str> = contact_item.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "entity",
                "erased_at",
                "pk",
                "sk",
                "sms_status",
                "sms_status_at",
                "suppressed"
            ]
        );
        assert_eq!(contact_item["suppressed"].as_bool(), Ok(&true));
        let evidence = writes[1].put().unwrap().item();
        assert!(text(evidence, "sk").starts_with("CONSENT#2027-01-15T08:00:00.000Z#SM"));
        assert_eq!(text(evidence, "action"), "erase");
        assert_eq!(text(evidence, "source"), "sms");
        assert_eq!(text(evidence, "keyword"), "BORRAR");
        let guard = writes[2].put().unwrap();
        assert_eq!(text(guard.item(), "pk"), inbound_key(&sid));
        assert!(
            !guard.item().contains_key("gsi1pk"),
            "the erasing message's record is not linked to the person"
        );
    }

    #[test]
    fn an_inbound_record_is_linked_to_its_sender_until_an_erasure_blanks_it() {
        let sid = MessageSid::parse(&format!("SM{:032x}", 8)).unwrap();
        let write = store()
            .inbound_guard(
                &InboundReply {
                    sid: &sid,
                    reply: "x",
                },
                Some(&contact()),
                now(),
            )
            .unwrap();
        let item = write.put().unwrap().item();
        assert_eq!(text(item, "gsi1pk"), contact_key(&contact()));
        assert!(text(item, "gsi1sk").starts_with("INBOUND#2027-"));
        let blank = store().blank_inbound_write("INBOUND#x", "INBOUND").unwrap();
        assert_eq!(
            blank.update().unwrap().update_expression(),
            "SET reply = :empty REMOVE gsi1pk, gsi1sk"
        );
    }
}

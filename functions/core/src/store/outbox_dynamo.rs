//! DynamoDB adapter of [`OutboxStore`].
//!
//! Items (one table; see `store/mod.rs`):
//! - `OUTBOX#<id>` / `OUTBOX`: the message, its sealed address and body, status, claim count, lease,
//!   and once sent its `provider_id`, `sent_at` and (a text) `segments`;
//!   `gsi1pk` = `CONTACT#<hash>` so an erasure finds every message to a person; TTL `expires_at`.
//! - `CONTACT#<hash>` / `INVITED#<channel>`: who holds the person's invite window on that channel,
//!   until `expires_at`.
//! - `BATCH#<id>` / `COUNT#<shard>`: the batch's progress counters, spread over [`COUNTER_SHARDS`]
//!   items so a busy batch has no hot key; a reader sums them. `delivered` is added by the
//!   delivery-status path (`store::delivery_dynamo`), not here.
//!
//! A worker's decisions for a whole batch go in one `TransactWriteItems`: each message's update is
//! conditioned on the status and claim count it was read with, so two workers cannot both claim
//! one message, and the counters move in the same transaction as the statuses they count. If a
//! condition fails (a concurrent worker), the transitions are applied one by one so the others
//! still go through.

use std::collections::{BTreeMap, HashMap, HashSet};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::dynamo_util::{contact_key, dynamo_err, to_item};
use super::{StoreError, timestamp};
use crate::domain::Language;
use crate::outbound::{
    BatchId, Change, Channel, ConsentBasis, InviteClaim, Kind, Loaded, NewMessage, OutboundId,
    OutboxStore, Progress, QueuedMessage, Recipient, RecipientMark, SkipReason, Status,
    StoredMessage, Transition,
};
use crate::privacy::{ContactHash, Sealed};

type Item = HashMap<String, AttributeValue>;

/// Counter items per batch.
pub const COUNTER_SHARDS: u32 = 8;
/// Items per `TransactWriteItems` (DynamoDB's limit).
const TRANSACTION_MAX: usize = 100;
/// How long a message is kept after it was created, by default: long enough for the host's
/// dashboard to show the batch's history through the campaign window.
pub const DEFAULT_MESSAGE_RETENTION: time::Duration = time::Duration::days(90);

#[derive(Debug, Clone)]
pub struct DynamoOutbox {
    client: Client,
    table: String,
    retention: time::Duration,
}

impl DynamoOutbox {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            retention: DEFAULT_MESSAGE_RETENTION,
        }
    }

    /// Keeps messages for `retention` after their creation (then DynamoDB's TTL purges them).
    pub fn with_retention(mut self, retention: time::Duration) -> Self {
        self.retention = retention;
        self
    }
}

fn outbox_pk(id: &OutboundId) -> String {
    format!("OUTBOX#{}", id.as_str())
}

fn invited_sk(channel: Channel) -> String {
    format!("INVITED#{}", channel.as_str())
}

fn batch_pk(batch: &BatchId) -> String {
    format!("BATCH#{}", batch.as_str())
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

#[derive(Debug, Serialize, Deserialize)]
struct MessageItem {
    pk: String,
    sk: String,
    entity: String,
    id: OutboundId,
    channel: Channel,
    kind: Kind,
    consent: ConsentBasis,
    contact: ContactHash,
    to_sealed: String,
    body_sealed: String,
    language: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    zip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    batch: Option<BatchId>,
    status: Status,
    attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease_until: Option<i64>,
    #[serde(default)]
    deferred: bool,
    created_at: String,
    gsi1pk: String,
    gsi1sk: String,
    expires_at: i64,
}

impl MessageItem {
    fn new(message: &NewMessage, now: OffsetDateTime, retention: time::Duration) -> Self {
        let created = timestamp(now);
        Self {
            pk: outbox_pk(&message.id),
            sk: "OUTBOX".to_owned(),
            entity: "outbound_message".to_owned(),
            id: message.id.clone(),
            channel: message.channel,
            kind: message.kind,
            consent: message.consent,
            contact: message.contact.clone(),
            to_sealed: message.to.as_str().to_owned(),
            body_sealed: message.body.as_str().to_owned(),
            language: message.language.code().to_owned(),
            zip: message.zip.clone(),
            batch: message.batch.clone(),
            status: Status::Pending,
            attempts: 0,
            lease_until: None,
            deferred: false,
            gsi1pk: contact_key(&message.contact),
            gsi1sk: format!("OUTBOX#{created}#{}", message.id.as_str()),
            created_at: created,
            expires_at: (now + retention).unix_timestamp(),
        }
    }

    fn into_message(self) -> Result<StoredMessage, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("outbound message {what}"));
        Ok(StoredMessage {
            to: Sealed::parse(self.to_sealed).map_err(|_| corrupt("address"))?,
            body: Sealed::parse(self.body_sealed).map_err(|_| corrupt("body"))?,
            language: Language::parse(&self.language).ok_or_else(|| corrupt("language"))?,
            lease_until: self
                .lease_until
                .map(OffsetDateTime::from_unix_timestamp)
                .transpose()
                .map_err(|_| corrupt("lease"))?,
            created_at: OffsetDateTime::parse(
                &self.created_at,
                &time::format_description::well_known::Rfc3339,
            )
            .map_err(|_| corrupt("creation time"))?,
            id: self.id,
            channel: self.channel,
            kind: self.kind,
            consent: self.consent,
            contact: self.contact,
            zip: self.zip,
            batch: self.batch,
            status: self.status,
            attempts: self.attempts,
            deferred: self.deferred,
        })
    }
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn flag(item: &Item, name: &str) -> bool {
    item.get(name)
        .and_then(|v| v.as_bool().ok())
        .copied()
        .unwrap_or(false)
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// An item whose TTL has passed is absent (DynamoDB deletes lazily; moto never does).
fn live(item: &Item, now: OffsetDateTime) -> bool {
    number(item, "expires_at").is_none_or(|at| at > now.unix_timestamp())
}

fn recipient(item: &Item) -> Recipient {
    Recipient {
        sms_opted_in: match text(item, "sms_status") {
            Some("opted_in") => Some(true),
            Some("opted_out") => Some(false),
            _ => None,
        },
        sms_undeliverable: flag(item, "sms_undeliverable"),
        email_suppressed: flag(item, "email_suppressed"),
        email_undeliverable: flag(item, "email_undeliverable"),
        suppressed: flag(item, "suppressed") || item.contains_key("erased_at"),
    }
}

/// The counter deltas a transition causes.
fn deltas(change: &Change) -> Vec<(String, i64)> {
    let mut d = Vec::new();
    match change {
        Change::Claim { was_deferred, .. } => {
            if *was_deferred {
                d.push(("deferred".to_owned(), -1));
            }
        }
        Change::Skip {
            reason,
            was_deferred,
        } => {
            d.push((format!("skipped_{}", reason.as_str()), 1));
            if *was_deferred {
                d.push(("deferred".to_owned(), -1));
            }
        }
        Change::Defer { .. } => d.push(("deferred".to_owned(), 1)),
        Change::Sent { .. } => d.push(("sent".to_owned(), 1)),
        Change::Failed { reason, .. } => d.push((format!("failed_{}", reason.as_str()), 1)),
        Change::Release => {}
        Change::Unknown => d.push(("unknown".to_owned(), 1)),
    }
    d
}

impl DynamoOutbox {
    /// Sends one transaction; `Ok(false)` when DynamoDB cancelled it (a condition failed).
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<bool, StoreError> {
        if items.is_empty() {
            return Ok(true);
        }
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_transaction_canceled_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(dynamo_err("TransactWriteItems")(err)),
        }
    }

    /// One counter update per batch touched, on a random shard.
    fn counter_updates(
        &self,
        per_batch: BTreeMap<&BatchId, BTreeMap<String, i64>>,
        now: &str,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut items = Vec::new();
        for (batch, counts) in per_batch {
            let counts: Vec<_> = counts.into_iter().filter(|(_, v)| *v != 0).collect();
            if counts.is_empty() {
                continue;
            }
            let shard = rand::rng().random_range(0..COUNTER_SHARDS);
            let mut update = Update::builder()
                .table_name(&self.table)
                .key("pk", s(batch_pk(batch)))
                .key("sk", s(format!("COUNT#{shard}")))
                .expression_attribute_values(":entity", s("batch_counter"))
                .expression_attribute_values(":now", s(now));
            let mut adds = Vec::new();
            for (i, (name, value)) in counts.iter().enumerate() {
                adds.push(format!("#c{i} :c{i}"));
                update = update
                    .expression_attribute_names(format!("#c{i}"), name)
                    .expression_attribute_values(format!(":c{i}"), n(value));
            }
            let update = update
                .update_expression(format!(
                    "SET entity = :entity, updated_at = :now ADD {}",
                    adds.join(", ")
                ))
                .build()
                .map_err(dynamo_err("build Update"))?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        Ok(items)
    }

    /// The writes of one transition, without counters.
    fn transition_items(
        &self,
        t: &Transition,
        now: OffsetDateTime,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let at = timestamp(now);
        let (status, _) = t.from;
        let mut set = vec!["updated_at = :now"];
        let mut remove = Vec::new();
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(outbox_pk(&t.id)))
            .key("sk", s("OUTBOX"))
            .condition_expression("#status = :from AND attempts = :attempts")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":from", s(status.as_str()))
            .expression_attribute_values(":attempts", n(t.from.1))
            .expression_attribute_values(":now", s(&at));
        let mut extra = Vec::new();
        let to = match &t.change {
            Change::Claim {
                lease_until,
                window_until,
                ..
            } => {
                set.extend([
                    "attempts = :next",
                    "lease_until = :lease",
                    "claimed_at = :now",
                ]);
                update = update
                    .expression_attribute_values(":next", n(t.from.1 + 1))
                    .expression_attribute_values(":lease", n(lease_until.unix_timestamp()));
                if let Some(until) = window_until {
                    let put = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(HashMap::from([
                            ("pk".to_owned(), s(contact_key(&t.contact))),
                            ("sk".to_owned(), s(invited_sk(t.channel))),
                            ("entity".to_owned(), s("invite_window")),
                            ("message_id".to_owned(), s(t.id.as_str())),
                            ("created_at".to_owned(), s(&at)),
                            ("expires_at".to_owned(), n(until.unix_timestamp())),
                        ])))
                        .condition_expression(
                            "attribute_not_exists(pk) OR expires_at <= :now OR message_id = :id",
                        )
                        .expression_attribute_values(":now", n(now.unix_timestamp()))
                        .expression_attribute_values(":id", s(t.id.as_str()))
                        .build()
                        .map_err(dynamo_err("build Put"))?;
                    extra.push(TransactWriteItem::builder().put(put).build());
                }
                Status::Sending
            }
            Change::Skip { reason, .. } => {
                set.push("#reason = :reason");
                remove.push("lease_until");
                update = update
                    .expression_attribute_names("#reason", "reason")
                    .expression_attribute_values(":reason", s(reason.as_str()));
                Status::Skipped
            }
            Change::Defer { until } => {
                set.extend(["#deferred = :true", "deferred_until = :until"]);
                // Counted once: a second copy of the message deferring it again changes nothing.
                update = update
                    .condition_expression(
                        "#status = :from AND attempts = :attempts \
                         AND (attribute_not_exists(#deferred) OR #deferred = :false)",
                    )
                    .expression_attribute_values(":false", AttributeValue::Bool(false))
                    .expression_attribute_names("#deferred", "deferred")
                    .expression_attribute_values(":true", AttributeValue::Bool(true))
                    .expression_attribute_values(":until", s(timestamp(*until)));
                Status::Pending
            }
            Change::Sent {
                provider_id,
                segments,
            } => {
                set.extend(["provider_id = :pid", "sent_at = :now"]);
                remove.push("lease_until");
                update = update.expression_attribute_values(":pid", s(provider_id));
                if let Some(segments) = segments {
                    // `segments` is one of DynamoDB's reserved words.
                    set.push("#segments = :segments");
                    update = update
                        .expression_attribute_names("#segments", "segments")
                        .expression_attribute_values(":segments", n(segments));
                }
                Status::Sent
            }
            Change::Failed { reason, code, mark } => {
                set.push("#reason = :reason");
                remove.push("lease_until");
                update = update
                    .expression_attribute_names("#reason", "reason")
                    .expression_attribute_values(":reason", s(reason.as_str()));
                if let Some(code) = code {
                    set.push("error_code = :code");
                    update = update.expression_attribute_values(":code", n(code));
                }
                if let Some(mark) = mark {
                    extra.extend(self.mark_items(t, *mark, now)?);
                }
                Status::Failed
            }
            Change::Release => {
                remove.push("lease_until");
                Status::Pending
            }
            Change::Unknown => {
                remove.push("lease_until");
                Status::Unknown
            }
        };
        set.push("#status = :to");
        update = update.expression_attribute_values(":to", s(to.as_str()));
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let update = update
            .update_expression(expression)
            .build()
            .map_err(dynamo_err("build Update"))?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        items.extend(extra);
        Ok(items)
    }

    /// The recipient's contact change (and, for an opt-out, its consent evidence).
    fn mark_items(
        &self,
        t: &Transition,
        mark: RecipientMark,
        now: OffsetDateTime,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let at = timestamp(now);
        let base = Update::builder()
            .table_name(&self.table)
            .key("pk", s(contact_key(&t.contact)))
            .key("sk", s("CONTACT"))
            .expression_attribute_values(":entity", s("contact"))
            .expression_attribute_values(":now", s(&at));
        let common =
            "entity = :entity, updated_at = :now, created_at = if_not_exists(created_at, :now)";
        let mut items = Vec::new();
        let update = match mark {
            RecipientMark::SmsOptedOut { code } => {
                let consent = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(HashMap::from([
                        ("pk".to_owned(), s(contact_key(&t.contact))),
                        (
                            "sk".to_owned(),
                            s(format!("CONSENT#{at}#{}", t.id.as_str())),
                        ),
                        ("entity".to_owned(), s("consent")),
                        ("channel".to_owned(), s("sms")),
                        ("action".to_owned(), s("opt_out")),
                        ("source".to_owned(), s("carrier")),
                        ("error_code".to_owned(), n(code)),
                        ("outbound_id".to_owned(), s(t.id.as_str())),
                        ("at".to_owned(), s(&at)),
                    ])))
                    .build()
                    .map_err(dynamo_err("build Put"))?;
                items.push(TransactWriteItem::builder().put(consent).build());
                base.update_expression(format!(
                    "SET {common}, sms_status = :status, sms_status_at = :now"
                ))
                .expression_attribute_values(":status", s("opted_out"))
            }
            RecipientMark::SmsUndeliverable { code } => base
                .update_expression(format!(
                    "SET {common}, sms_undeliverable = :true, sms_undeliverable_code = :code, \
                     sms_undeliverable_at = :now"
                ))
                .expression_attribute_values(":true", AttributeValue::Bool(true))
                .expression_attribute_values(":code", n(code)),
            RecipientMark::EmailUndeliverable => base
                .update_expression(format!(
                    "SET {common}, email_undeliverable = :true, email_undeliverable_at = :now"
                ))
                .expression_attribute_values(":true", AttributeValue::Bool(true)),
        };
        let update = update.build().map_err(dynamo_err("build Update"))?;
        items.insert(0, TransactWriteItem::builder().update(update).build());
        Ok(items)
    }

    /// Applies transitions one transaction each (with their own counters).
    async fn apply_one_by_one(
        &self,
        transitions: &[Transition],
        now: OffsetDateTime,
    ) -> Result<Vec<bool>, StoreError> {
        let at = timestamp(now);
        let mut applied = Vec::with_capacity(transitions.len());
        for t in transitions {
            let mut items = self.transition_items(t, now)?;
            if let Some(batch) = &t.batch {
                let counts = BTreeMap::from([(batch, deltas(&t.change).into_iter().collect())]);
                items.extend(self.counter_updates(counts, &at)?);
            }
            applied.push(self.transact(items).await?);
        }
        Ok(applied)
    }
}

impl OutboxStore for DynamoOutbox {
    async fn enqueue(
        &self,
        messages: &[NewMessage],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let at = timestamp(now);
        // Leaves room in each transaction for the counters of the batches it touches.
        for chunk in messages.chunks(TRANSACTION_MAX / 2) {
            let mut items = Vec::new();
            let mut queued: BTreeMap<&BatchId, BTreeMap<String, i64>> = BTreeMap::new();
            for message in chunk {
                items.push(self.put_new(message, now)?);
                if let Some(batch) = &message.batch {
                    *queued
                        .entry(batch)
                        .or_default()
                        .entry("queued".to_owned())
                        .or_default() += 1;
                }
            }
            items.extend(self.counter_updates(queued, &at)?);
            if self.transact(items).await? {
                continue;
            }
            // Some already exist (a producer's retry): store the others one by one.
            for message in chunk {
                let mut items = vec![self.put_new(message, now)?];
                if let Some(batch) = &message.batch {
                    let counts =
                        BTreeMap::from([(batch, BTreeMap::from([("queued".to_owned(), 1)]))]);
                    items.extend(self.counter_updates(counts, &at)?);
                }
                self.transact(items).await?;
            }
        }
        Ok(())
    }

    async fn load(
        &self,
        queued: &[QueuedMessage],
        now: OffsetDateTime,
    ) -> Result<Vec<Loaded>, StoreError> {
        Ok(self.load_items(queued, now, false).await?.0)
    }

    async fn load_for_sending(
        &self,
        queued: &[QueuedMessage],
        now: OffsetDateTime,
    ) -> Result<(Vec<Loaded>, Option<crate::store::CampaignRules>), StoreError> {
        self.load_items(queued, now, true).await
    }

    async fn apply(
        &self,
        transitions: &[Transition],
        now: OffsetDateTime,
    ) -> Result<Vec<bool>, StoreError> {
        let mut applied = Vec::with_capacity(transitions.len());
        for chunk in transitions.chunks(crate::outbound::TRANSITIONS_PER_WRITE) {
            applied.extend(self.apply_together(chunk, now).await?);
        }
        Ok(applied)
    }

    async fn progress(&self, batch: &BatchId) -> Result<Progress, StoreError> {
        self.batch_progress(batch).await
    }
}

impl DynamoOutbox {
    /// Applies `transitions` in one transaction when they fit in one; else one by one. One item may
    /// appear once per transaction: a contact touched twice, or more items than a transaction
    /// holds, go one by one.
    async fn apply_together(
        &self,
        transitions: &[Transition],
        now: OffsetDateTime,
    ) -> Result<Vec<bool>, StoreError> {
        if transitions.is_empty() {
            return Ok(Vec::new());
        }
        let mut items = Vec::new();
        let mut touched = HashSet::new();
        let mut fits = true;
        let mut counts: BTreeMap<&BatchId, BTreeMap<String, i64>> = BTreeMap::new();
        for t in transitions {
            fits &= touched.insert(outbox_pk(&t.id));
            let needs_contact = matches!(t.change, Change::Failed { mark: Some(_), .. });
            let needs_window = matches!(
                t.change,
                Change::Claim {
                    window_until: Some(_),
                    ..
                }
            );
            if needs_contact {
                fits &= touched.insert(format!("{}|CONTACT", contact_key(&t.contact)));
            }
            if needs_window {
                fits &= touched.insert(format!(
                    "{}|{}",
                    contact_key(&t.contact),
                    invited_sk(t.channel)
                ));
            }
            items.extend(self.transition_items(t, now)?);
            if let Some(batch) = &t.batch {
                let entry = counts.entry(batch).or_default();
                for (name, delta) in deltas(&t.change) {
                    *entry.entry(name).or_default() += delta;
                }
            }
        }
        items.extend(self.counter_updates(counts, &timestamp(now))?);
        if fits && items.len() <= TRANSACTION_MAX && self.transact(items).await? {
            return Ok(vec![true; transitions.len()]);
        }
        self.apply_one_by_one(transitions, now).await
    }

    async fn batch_progress(&self, batch: &BatchId) -> Result<Progress, StoreError> {
        let mut totals: HashMap<String, i64> = HashMap::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :count)")
                .expression_attribute_values(":pk", s(batch_pk(batch)))
                .expression_attribute_values(":count", s("COUNT#"))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(dynamo_err("Query"))?;
            for item in output.items.unwrap_or_default() {
                for (name, value) in item {
                    if let Ok(v) = value.as_n()
                        && let Ok(v) = v.parse::<i64>()
                    {
                        *totals.entry(name).or_default() += v;
                    }
                }
            }
            match output.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(progress_from(&totals))
    }
}

impl DynamoOutbox {
    fn put_new(
        &self,
        message: &NewMessage,
        now: OffsetDateTime,
    ) -> Result<TransactWriteItem, StoreError> {
        new_message_put(&self.table, message, now, self.retention)
    }
}

/// The conditional put of a new `pending` message, for producers that store it in their own
/// transaction (a text conversation storing the email it promised).
pub(crate) fn new_message_put(
    table: &str,
    message: &NewMessage,
    now: OffsetDateTime,
    retention: time::Duration,
) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(to_item(&MessageItem::new(message, now, retention))?))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .map_err(dynamo_err("build Put"))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Progress from summed counters (shared with the in-memory adapter).
pub(crate) fn progress_from(totals: &HashMap<String, i64>) -> Progress {
    let get = |name: &str| u64::try_from(totals.get(name).copied().unwrap_or(0)).unwrap_or(0);
    let failed = totals
        .iter()
        .filter(|(k, _)| k.starts_with("failed_"))
        .map(|(_, v)| u64::try_from(*v).unwrap_or(0))
        .sum();
    let skipped = [
        SkipReason::NoConsent,
        SkipReason::OptedOut,
        SkipReason::Suppressed,
        SkipReason::Undeliverable,
        SkipReason::AlreadyInvited,
    ]
    .into_iter()
    .map(|r| (r, get(&format!("skipped_{}", r.as_str()))))
    .filter(|(_, n)| *n > 0)
    .collect();
    Progress {
        queued: get("queued"),
        sent: get("sent"),
        delivered: get("delivered"),
        failed,
        unknown: get("unknown"),
        deferred: get("deferred"),
        skipped,
        bounced: get("bounced"),
        complained: get("complained"),
    }
}

/// The counter deltas of a transition (shared with the in-memory adapter).
pub(crate) fn counter_deltas(change: &Change) -> Vec<(String, i64)> {
    deltas(change)
}

impl DynamoOutbox {
    /// The messages of `queued` with their gates, and (`with_rules`) the campaign rules as one more
    /// key of the same BatchGetItem requests.
    async fn load_items(
        &self,
        queued: &[QueuedMessage],
        now: OffsetDateTime,
        with_rules: bool,
    ) -> Result<(Vec<Loaded>, Option<crate::store::CampaignRules>), StoreError> {
        let mut keys = Vec::new();
        let mut seen = HashSet::new();
        for q in queued {
            for (pk, sk) in [
                (outbox_pk(&q.id), "OUTBOX".to_owned()),
                (contact_key(&q.contact), "CONTACT".to_owned()),
                (contact_key(&q.contact), invited_sk(q.channel)),
            ] {
                if seen.insert((pk.clone(), sk.clone())) {
                    keys.push(key(pk, sk));
                }
            }
        }
        if with_rules {
            keys.push(super::campaign::rules_key());
        }
        let mut found: HashMap<(String, String), Item> = HashMap::new();
        let mut rules = None;
        for item in super::dynamo_util::batch_get(&self.client, &self.table, keys).await? {
            if super::campaign::is_rules_item(&item) {
                rules = Some(super::campaign::read_rules(item)?);
            } else if let (Some(pk), Some(sk)) = (text(&item, "pk"), text(&item, "sk")) {
                found.insert((pk.to_owned(), sk.to_owned()), item);
            }
        }
        let get = |pk: String, sk: String| found.get(&(pk, sk)).filter(|item| live(item, now));
        let loaded = queued
            .iter()
            .map(|q| {
                let message = get(outbox_pk(&q.id), "OUTBOX".to_owned())
                    .map(|item| {
                        serde_dynamo::from_item::<_, MessageItem>(item.clone())
                            .map_err(|e| StoreError::Corrupt(e.to_string()))
                            .and_then(MessageItem::into_message)
                    })
                    .transpose()?;
                let recipient = get(contact_key(&q.contact), "CONTACT".to_owned()).map(recipient);
                let claim = get(contact_key(&q.contact), invited_sk(q.channel)).and_then(|item| {
                    Some(InviteClaim {
                        message: OutboundId::parse(text(item, "message_id")?)?,
                        until: OffsetDateTime::from_unix_timestamp(number(item, "expires_at")?)
                            .ok()?,
                    })
                });
                Ok(Loaded {
                    message,
                    recipient,
                    claim,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((loaded, rules))
    }
}

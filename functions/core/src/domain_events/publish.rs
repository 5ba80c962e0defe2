//! The `events-publisher` use case: a batch of stream records in, their events on the bus, in order.

use std::collections::{BTreeMap, HashMap, HashSet};

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use super::{DomainEvent, Draft, Subject, draft, identifier};
use crate::privacy::ContactHash;
use crate::stats::{CampaignStats, Counts, tally};
use crate::store::StoreError;

/// Entries per `PutEvents` (EventBridge's limit).
pub const PUT_EVENTS_MAX: usize = 10;

/// The bus: publishes up to [`PUT_EVENTS_MAX`] events at once.
pub trait EventBus: Send + Sync {
    /// Publishes `events` in one request; for each, whether the bus took it (a throttled or failed
    /// entry is `false`, to be retried).
    fn put(
        &self,
        events: &[DomainEvent],
    ) -> impl Future<Output = Result<Vec<bool>, BusError>> + Send;
}

/// Where a contact's person id is kept.
pub trait PersonIds: Send + Sync {
    /// The person id of each contact that has one (a contact without one is named by its hash).
    fn person_ids(
        &self,
        contacts: &[ContactHash],
    ) -> impl Future<Output = Result<HashMap<ContactHash, String>, StoreError>> + Send;
}

/// The bus could not be reached or refused the whole request.
#[derive(Debug, thiserror::Error)]
#[error("PutEvents failed: {0}")]
pub struct BusError(pub String);

/// Why a batch failed as a whole (Lambda retries it, halving it if it fails again).
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("reading person ids: {0}")]
    PersonIds(#[from] StoreError),
}

/// The publisher with its clients, built once per cold start.
pub struct Publisher<B, P, S> {
    pub(crate) bus: B,
    people: P,
    pub(crate) stats: S,
}

impl<B: EventBus, P: PersonIds, S: CampaignStats> Publisher<B, P, S> {
    pub fn new(bus: B, people: P, stats: S) -> Self {
        Self { bus, people, stats }
    }

    /// Publishes the events of `batch` in stream order. A record the bus did not take is reported as
    /// the batch's first failure, and nothing after it is published: Lambda retries from that record
    /// (its sequence number), so events stay in order and none is skipped. Then the records before it
    /// are counted in the campaign's statistics (see [`crate::stats`]): each record once, when its
    /// batch is done with it.
    #[tracing::instrument(name = "publish_events", skip_all, fields(records = batch.records.len()))]
    pub async fn handle(&self, batch: &Event) -> Result<DynamoDbEventResponse, PublishError> {
        let drafted = drafts(&batch.records);
        let contacts: Vec<ContactHash> = drafted
            .iter()
            .filter_map(|(_, d)| match &d.subject {
                Subject::Contact(c) => Some(c.clone()),
                _ => None,
            })
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let ids = if contacts.is_empty() {
            HashMap::new()
        } else {
            self.people.person_ids(&contacts).await?
        };
        let events: Vec<(&EventRecord, DomainEvent)> = drafted
            .into_iter()
            .map(|(record, d)| (record, event(record, d, &ids)))
            .collect();
        let mut published = 0usize;
        let mut failure = None;
        for chunk in events.chunks(PUT_EVENTS_MAX) {
            let entries: Vec<DomainEvent> = chunk.iter().map(|(_, e)| e.clone()).collect();
            let first_refused = match self.bus.put(&entries).await {
                Ok(taken) => taken.iter().position(|ok| !ok),
                Err(e) => {
                    tracing::warn!(error = %e, "the bus refused a request; the batch is retried from it");
                    Some(0)
                }
            };
            if let Some(i) = first_refused {
                failure = Some(chunk[i].0);
                published += i;
                break;
            }
            published += chunk.len();
        }
        tracing::info!(
            published,
            retried = failure.is_some(),
            "domain events published"
        );
        let done = failure
            .and_then(|f| batch.records.iter().position(|r| std::ptr::eq(r, f)))
            .unwrap_or(batch.records.len());
        self.count(&batch.records[..done]).await;
        let mut response = DynamoDbEventResponse::default();
        if let Some(record) = failure {
            let mut item = DynamoDbBatchItemFailure::default();
            item.item_identifier = record.change.sequence_number.clone();
            response.batch_item_failures.push(item);
        }
        Ok(response)
    }
}

impl<B, P, S: CampaignStats> Publisher<B, P, S> {
    /// Adds what `records` count to their days' counters. A failed write is logged and the batch goes
    /// on: its events are published, and retrying it would count them twice; the numbers are then a
    /// little low, never double.
    async fn count(&self, records: &[EventRecord]) {
        let mut days: BTreeMap<Date, (Counts, &str)> = BTreeMap::new();
        for record in records {
            let counts = tally(record);
            if counts.is_empty() {
                continue;
            }
            let day = days
                .entry(record_time(record).date())
                .or_insert_with(|| (Counts::default(), ""));
            day.0.add(&counts);
            day.1 = record.event_id.as_str();
        }
        for (day, (counts, last)) in days {
            if let Err(error) = self.stats.add(day, &counts, last).await {
                tracing::warn!(%error, %day, "campaign statistics not counted; they will be a little low");
            }
        }
    }
}

/// When a record's change was written (now, if the stream did not say).
fn record_time(record: &EventRecord) -> OffsetDateTime {
    let nanos = record
        .change
        .approximate_creation_date_time
        .timestamp_nanos_opt()
        .unwrap_or_default();
    if nanos == 0 {
        return OffsetDateTime::now_utc();
    }
    OffsetDateTime::from_unix_timestamp_nanos(nanos.into())
        .unwrap_or_else(|_| OffsetDateTime::now_utc())
}

/// The records that make an event, with their drafts. A record of an unexpected shape is logged (its
/// entity and change, never its contents) and passed over: retrying cannot change it, and it must not
/// hold back every event after it.
fn drafts(records: &[EventRecord]) -> Vec<(&EventRecord, Draft)> {
    records
        .iter()
        .filter_map(|record| match draft(record) {
            Ok(Some(d)) => Some((record, d)),
            Ok(None) => None,
            Err(e) => {
                tracing::error!(error = %e, change = %record.event_name, "stream record passed over");
                None
            }
        })
        .collect()
}

fn event(record: &EventRecord, draft: Draft, ids: &HashMap<ContactHash, String>) -> DomainEvent {
    let time = OffsetDateTime::from_unix_timestamp_nanos(
        record
            .change
            .approximate_creation_date_time
            .timestamp_nanos_opt()
            .unwrap_or_default()
            .into(),
    )
    .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let mut detail = Map::new();
    detail.insert("id".into(), Value::String(record.event_id.clone()));
    detail.insert("type".into(), Value::String(draft.kind.clone()));
    detail.insert(
        "occurred_at".into(),
        Value::String(time.format(&Rfc3339).unwrap_or_default()),
    );
    let person = match &draft.subject {
        Subject::Nobody => None,
        Subject::Person(id) => Some(id.as_str()),
        Subject::Contact(c) => Some(ids.get(c).map(String::as_str).unwrap_or(c.as_str())),
    };
    if let Some(person) = person {
        detail.insert("person".into(), Value::String(identifier(person)));
    }
    detail.extend(draft.fields.into_iter().filter(|(_, v)| !v.is_null()));
    DomainEvent {
        id: record.event_id.clone(),
        kind: draft.kind,
        time,
        detail: Value::Object(detail),
    }
}

//! DynamoDB adapter of the gathering, RSVP and keyword ports. Item shapes are in the table in
//! `store/mod.rs`; this is the only code that writes them (the local seed uses it too).
//!
//! **Search by place.** A listed gathering's item carries `gsi1pk = GEO#<geohash, precision 3>` and
//! `gsi1sk = <starts_at>#<id>`; a small pointer item (`GATHERING#<id>` / `GEO2`) carries the same at
//! precision 2 (`GEO2#<geohash>`). A search reads the origin's cell and its 8 neighbours with
//! `gsi1sk > now` (see [`crate::geo`] for how far that reaches), at precision 3 when that block covers
//! the radius (≈100 km or more in the contiguous US), at precision 2 otherwise, then computes
//! distances. Precision-2 hits are pointers: their gatherings are read with `BatchGetItem`, nearest
//! first, until `limit` are found. Unlisted gatherings have no index keys (a sparse index).
//!
//! **Hosts.** A gathering made by a host carries `host_hash`, and a pointer item
//! `HOST#<host hash>` / `GATHERING#<id>` (`gathering_id`, `starts_at`) written in the same
//! transaction lists it among the host's: [`GatheringStore::hosted_by`] queries the pointers, then
//! reads the gatherings with `BatchGetItem`. [`GatheringStore::update`] rewrites the gathering's
//! editable attributes on condition that `host_hash` is the caller's, and in the same transaction
//! its `GEO2` pointer and its host pointer; then it brings the RSVPs' `starts_at` (and `gsi1sk`) up to
//! date, in transactions of at most 99 RSVPs that also check the gathering still starts then.
//!
//! **When.** Every gathering, listed or not, has a pointer `GATHERING#<id>` / `WHEN` with
//! `gsi1pk = STARTS#<UTC day of its start>`, written with it and rewritten by each update:
//! [`GatheringStore::starting_between`] queries the days of its range, then reads the gatherings.
//!
//! **Review.** A host's gathering created unlisted (`GATHERING_APPROVAL=required`) waits for an
//! organizer: a pointer `GATHERING#<id>` / `REVIEW` written in the same transaction has
//! `gsi1pk = REVIEW`, `gsi1sk = <created_at>#<id>`, so [`GatheringStore::awaiting_review`] queries
//! one index partition oldest first (the queue is small: one partition is enough), then reads the
//! gatherings. [`GatheringStore::review`] is one transaction: delete the pointer on condition that
//! it exists (a second review finds it gone and writes nothing), and update the gathering: approving
//! sets `listed` and the index keys that [`GatheringItem::from_gathering`] and
//! [`Geo2Item::from_gathering`] give a listed gathering (and puts that `GEO2` pointer), on condition
//! that its start and place are still the ones read (a host's edit in between makes it read again);
//! declining sets `declined_at`. [`GatheringStore::update`] never touches the pointer, `listed` or
//! `declined_at`: it reads the stored `listed`, writes the index keys for it, and is conditioned on
//! it, so an approval in between makes it read again rather than unlist the gathering.
//!
//! **Codes.** `CODE#<CODE>` / `CODE` points to the gathering; it is written in the same transaction
//! as the gathering with `attribute_not_exists`, and the transaction also checks that no keyword
//! `KEYWORD#<CODE>` exists, so a code is unique among codes and keywords.
//!
//! **Keywords.** `KEYWORD#<WORD>` / `KEYWORD`, only ever written by [`KeywordStore::put_keyword`]
//! (a code lives at `CODE#<CODE>`, never here), carries `gsi1pk = KEYWORDS`, `gsi1sk = <WORD>`:
//! [`KeywordStore::keywords`] reads that one partition, alphabetical. A keyword configured before
//! these index keys existed is not listed (it still works when texted); putting it again does not
//! add them (`AlreadyExists`): a local or development table is reseeded instead.
//! [`KeywordStore::remove_keyword`] deletes the item on condition that its `kind` is a keyword's.
//!
//! **RSVPs.** `GATHERING#<id>` / `RSVP#<contact hash>`, created with `attribute_not_exists` in one
//! transaction with `going_count + 1` on the gathering, conditioned on `going_count < capacity`; a
//! full gathering gets a `waitlist` RSVP instead. Withdrawing one (an erasure, see
//! [`DynamoGatheringStore::withdraw_writes`]) deletes it while its status is still the one read and,
//! for a `going` RSVP, gives the place back (`going_count - 1`, never below 0) in the same transaction.

use super::dynamo_util::{dynamo_err, to_item};
use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::gathering::{
    GatheringStore, KeywordStore, NearbyGathering, NewRsvp, PutGathering, PutKeyword,
    RemovedKeyword, ReviewDecision, Reviewed, RsvpOutcome, RsvpRecord, RsvpSource, RsvpStatus,
    RsvpStore, UpdateGathering, nearest_then_soonest, soonest_first,
};
use super::{StoreError, timestamp};
use crate::domain::{
    Address, CampaignKeyword, Gathering, GatheringCode, GatheringId, GatheringTitle, KeywordTarget,
    KeywordWord, Language, Zip,
};
use crate::geo::{self, GeoPoint, SearchRadius};
use crate::privacy::{ContactHash, Sealed};

type Item = HashMap<String, AttributeValue>;

/// Most keys in one `BatchGetItem`.
const BATCH_GET_MAX: usize = 100;

#[derive(Debug, Clone)]
pub struct DynamoGatheringStore {
    client: Client,
    table: String,
}

impl DynamoGatheringStore {
    pub(super) fn client(&self) -> &Client {
        &self.client
    }

    pub(super) fn table(&self) -> &str {
        &self.table
    }

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Item shapes

#[derive(Debug, Serialize, Deserialize)]
struct GatheringItem {
    pk: String,
    sk: String,
    entity: String,
    id: String,
    code: String,
    title: String,
    starts_at: String,
    ends_at: String,
    timezone: String,
    town: String,
    state: String,
    zip: String,
    lat: f64,
    lon: f64,
    /// Precision-3 geohash of the location (also in `gsi1pk` while listed).
    geohash: String,
    /// `public` or `private`.
    address_kind: String,
    /// A public address, in clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    address: Option<String>,
    /// A private address, sealed with `gathering#<id>|address`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    address_sealed: Option<Sealed>,
    /// Sealed with `gathering#<id>|host_first_name`; removed when the host is erased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    host_first_name_sealed: Option<Sealed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    capacity: Option<u32>,
    /// People with a place; incremented by each RSVP that takes one.
    #[serde(default)]
    going_count: u32,
    language: Language,
    listed: bool,
    /// When an organizer declined it (see [`GatheringStore::review`]); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    declined_at: Option<String>,
    /// The host's keyed hash (their email's), for a gathering a host made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    host_hash: Option<ContactHash>,
    /// Absent when empty (and in items written before there was one).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    description: String,
    /// Absent when empty (and in items written before there were any).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    accessibility: String,
    created_at: String,
    /// When [`GatheringStore::update`] last changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Geo2Item {
    pk: String,
    sk: String,
    entity: String,
    gathering_id: String,
    lat: f64,
    lon: f64,
    starts_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
}

/// `GATHERING#<id>` / `WHEN`: every gathering, listed or not, by the UTC day it starts
/// (`gsi1pk = STARTS#<yyyy-mm-dd>`, `gsi1sk = <starts_at>#<id>`), for the scheduler.
#[derive(Debug, Serialize, Deserialize)]
struct WhenItem {
    pk: String,
    sk: String,
    entity: String,
    gathering_id: String,
    starts_at: String,
    gsi1pk: String,
    gsi1sk: String,
}

/// `GATHERING#<id>` / `REVIEW`: a gathering waiting for an organizer's review, in the queue's index
/// partition (`gsi1pk = REVIEW`, `gsi1sk = <created_at>#<id>`, oldest first).
#[derive(Debug, Serialize, Deserialize)]
struct ReviewItem {
    pk: String,
    sk: String,
    entity: String,
    gathering_id: String,
    created_at: String,
    gsi1pk: String,
    gsi1sk: String,
}

/// The index partition of the review queue.
const REVIEW_QUEUE: &str = "REVIEW";

/// The index partition of configured keywords.
const KEYWORDS: &str = "KEYWORDS";

/// `HOST#<host hash>` / `GATHERING#<id>`: one of a host's gatherings.
#[derive(Debug, Serialize, Deserialize)]
struct HostGatheringItem {
    pk: String,
    sk: String,
    entity: String,
    gathering_id: String,
    starts_at: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct CodeItem {
    pk: String,
    sk: String,
    entity: String,
    code: String,
    gathering_id: String,
    created_at: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct KeywordItem {
    pk: String,
    sk: String,
    entity: String,
    word: String,
    /// `campaign` or `gathering`.
    kind: String,
    language: Language,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gathering_id: Option<String>,
    created_at: String,
    /// [`KEYWORDS`], so the keyword is listed; absent in keywords put before there was a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    /// The word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RsvpItem {
    pk: String,
    sk: String,
    entity: String,
    gathering_id: String,
    contact_hash: String,
    status: RsvpStatus,
    source: RsvpSource,
    language: Language,
    /// Sealed with `<contact hash>|first_name`.
    first_name_sealed: Sealed,
    /// The "bring a friend" code of the link they came through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    referral: Option<String>,
    starts_at: String,
    created_at: String,
    gsi1pk: String,
    gsi1sk: String,
}

// ---------------------------------------------------------------------------------------------------------
// Keys

fn gathering_pk(id: &GatheringId) -> String {
    format!("GATHERING#{}", id.as_str())
}

fn host_pk(host: &ContactHash) -> String {
    format!("HOST#{}", host.as_str())
}

fn code_pk(code: &str) -> String {
    format!("CODE#{code}")
}

fn keyword_pk(word: &str) -> String {
    format!("KEYWORD#{word}")
}

fn rsvp_sk(contact: &str) -> String {
    format!("RSVP#{contact}")
}

fn fine_cell_key(cell: &str) -> String {
    format!("GEO#{cell}")
}

fn coarse_cell_key(cell: &str) -> String {
    format!("GEO2#{cell}")
}

/// The index partition of the gatherings starting on `t`'s UTC day.
fn starts_day_key(t: OffsetDateTime) -> String {
    let d = t.to_offset(time::UtcOffset::UTC).date();
    format!(
        "STARTS#{:04}-{:02}-{:02}",
        d.year(),
        u8::from(d.month()),
        d.day()
    )
}

fn geo_sort_key(starts_at: OffsetDateTime, id: &GatheringId) -> String {
    format!("{}#{}", timestamp(starts_at), id.as_str())
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(pk)),
        ("sk".to_string(), AttributeValue::S(sk.to_string())),
    ])
}

// ---------------------------------------------------------------------------------------------------------
// Conversions

fn from_item<T: for<'de> Deserialize<'de>>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn parse_time(what: &str, text: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| corrupt(what, e))
}

impl GatheringItem {
    fn from_gathering(g: &Gathering, now: OffsetDateTime) -> Self {
        let fine_cell = g.location.geohash(geo::FINE_PRECISION);
        let (address_kind, address, address_sealed) = match &g.address {
            Address::Public(text) => ("public", Some(text.clone()), None),
            Address::Private(sealed) => ("private", None, Some(sealed.clone())),
        };
        Self {
            pk: gathering_pk(&g.id),
            sk: "GATHERING".into(),
            entity: "gathering".into(),
            id: g.id.as_str().to_string(),
            code: g.code.as_str().to_string(),
            title: g.title.as_str().to_string(),
            starts_at: timestamp(g.starts_at),
            ends_at: timestamp(g.ends_at),
            timezone: g.timezone.clone(),
            town: g.town.clone(),
            state: g.state.clone(),
            zip: g.zip.as_str().to_string(),
            lat: g.location.lat(),
            lon: g.location.lon(),
            gsi1pk: g.listed.then(|| fine_cell_key(&fine_cell)),
            gsi1sk: g.listed.then(|| geo_sort_key(g.starts_at, &g.id)),
            geohash: fine_cell,
            address_kind: address_kind.into(),
            address,
            address_sealed,
            host_first_name_sealed: g.host_first_name.clone(),
            capacity: g.capacity,
            going_count: 0,
            language: g.language,
            listed: g.listed,
            declined_at: g.declined_at.map(timestamp),
            host_hash: g.host.clone(),
            description: g.description.clone(),
            accessibility: g.accessibility.clone(),
            created_at: timestamp(now),
            updated_at: None,
        }
    }

    fn into_gathering(self) -> Result<Gathering, StoreError> {
        let address = match (
            self.address_kind.as_str(),
            self.address,
            self.address_sealed,
        ) {
            ("public", Some(text), _) => Address::Public(text),
            ("private", _, Some(sealed)) => Address::Private(sealed),
            (kind, _, _) => {
                return Err(corrupt(
                    "gathering address",
                    format!("kind {kind:?} without its value"),
                ));
            }
        };
        Ok(Gathering {
            id: GatheringId::parse(&self.id).map_err(|e| corrupt("gathering id", e))?,
            code: GatheringCode::parse(&self.code).map_err(|e| corrupt("gathering code", e))?,
            title: GatheringTitle::parse(&self.title).map_err(|e| corrupt("gathering title", e))?,
            starts_at: parse_time("gathering starts_at", &self.starts_at)?,
            ends_at: parse_time("gathering ends_at", &self.ends_at)?,
            timezone: self.timezone,
            town: self.town,
            state: self.state,
            zip: Zip::parse(&self.zip).map_err(|e| corrupt("gathering zip", e))?,
            location: GeoPoint::new(self.lat, self.lon)
                .map_err(|e| corrupt("gathering location", e))?,
            address,
            host_first_name: self.host_first_name_sealed,
            capacity: self.capacity,
            language: self.language,
            listed: self.listed,
            declined_at: self
                .declined_at
                .map(|at| parse_time("gathering declined_at", &at))
                .transpose()?,
            host: self.host_hash,
            description: self.description,
            accessibility: self.accessibility,
        })
    }
}

/// The attributes of a gathering item that [`GatheringStore::update`] rewrites: set when the new
/// item has them, removed otherwise (an address changing kind, a capacity lifted, index keys of a
/// gathering no longer listed, an emptied description).
const EDITABLE_ATTRIBUTES: [&str; 20] = [
    "title",
    "description",
    "accessibility",
    "starts_at",
    "ends_at",
    "timezone",
    "town",
    "state",
    "zip",
    "lat",
    "lon",
    "geohash",
    "address_kind",
    "address",
    "address_sealed",
    "capacity",
    "language",
    "listed",
    "gsi1pk",
    "gsi1sk",
];

impl Geo2Item {
    fn from_gathering(g: &Gathering) -> Self {
        let coarse_cell = g.location.geohash(geo::COARSE_PRECISION);
        Self {
            pk: gathering_pk(&g.id),
            sk: "GEO2".into(),
            entity: "gathering_geo2".into(),
            gathering_id: g.id.as_str().to_string(),
            lat: g.location.lat(),
            lon: g.location.lon(),
            starts_at: timestamp(g.starts_at),
            gsi1pk: g.listed.then(|| coarse_cell_key(&coarse_cell)),
            gsi1sk: g.listed.then(|| geo_sort_key(g.starts_at, &g.id)),
        }
    }
}

impl WhenItem {
    fn from_gathering(g: &Gathering) -> Self {
        Self {
            pk: gathering_pk(&g.id),
            sk: "WHEN".into(),
            entity: "gathering_when".into(),
            gathering_id: g.id.as_str().to_string(),
            starts_at: timestamp(g.starts_at),
            gsi1pk: starts_day_key(g.starts_at),
            gsi1sk: geo_sort_key(g.starts_at, &g.id),
        }
    }
}

impl ReviewItem {
    fn from_gathering(g: &Gathering, now: OffsetDateTime) -> Self {
        Self {
            pk: gathering_pk(&g.id),
            sk: "REVIEW".into(),
            entity: "gathering_review".into(),
            gathering_id: g.id.as_str().to_string(),
            created_at: timestamp(now),
            gsi1pk: REVIEW_QUEUE.into(),
            gsi1sk: format!("{}#{}", timestamp(now), g.id.as_str()),
        }
    }
}

impl HostGatheringItem {
    fn from_gathering(g: &Gathering, host: &ContactHash) -> Self {
        Self {
            pk: host_pk(host),
            sk: gathering_pk(&g.id),
            entity: "host_gathering".into(),
            gathering_id: g.id.as_str().to_string(),
            starts_at: timestamp(g.starts_at),
        }
    }
}

impl RsvpItem {
    fn into_record(self) -> Result<RsvpRecord, StoreError> {
        Ok(RsvpRecord {
            gathering_id: GatheringId::parse(&self.gathering_id)
                .map_err(|e| corrupt("rsvp gathering id", e))?,
            contact_hash: self.contact_hash,
            status: self.status,
            source: self.source,
            language: self.language,
            first_name: self.first_name_sealed,
            starts_at: parse_time("rsvp starts_at", &self.starts_at)?,
            created_at: parse_time("rsvp created_at", &self.created_at)?,
            referral: self.referral,
        })
    }
}

fn is_transaction_canceled<E, R>(err: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: ProvideTransactionCanceled,
{
    err.as_service_error()
        .is_some_and(ProvideTransactionCanceled::is_canceled)
}

/// Whether a cancelled transaction lost a race with another one (worth retrying) rather than failing
/// a condition.
fn is_conflict<E, R>(err: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: ProvideTransactionCanceled,
{
    err.as_service_error()
        .is_some_and(ProvideTransactionCanceled::conflicted)
}

/// The cancellation reason codes of a cancelled transaction, one per item in order (`None` for an
/// item that did not fail); empty for any other error.
fn cancellation_codes<R>(
    err: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        R,
    >,
) -> Vec<Option<String>> {
    match err.as_service_error() {
        Some(
            aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(e),
        ) => e
            .cancellation_reasons()
            .iter()
            .map(|r| r.code().filter(|c| *c != "None").map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

trait ProvideTransactionCanceled {
    fn is_canceled(&self) -> bool;
    fn conflicted(&self) -> bool;
}

impl ProvideTransactionCanceled
    for aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError
{
    fn is_canceled(&self) -> bool {
        self.is_transaction_canceled_exception()
    }

    fn conflicted(&self) -> bool {
        match self {
            Self::TransactionCanceledException(e) => e
                .cancellation_reasons()
                .iter()
                .any(|r| r.code() == Some("TransactionConflict")),
            _ => false,
        }
    }
}

/// Attempts at a transaction cancelled by a concurrent one (a popular gathering's counter).
const TRANSACTION_ATTEMPTS: u32 = 4;

// ---------------------------------------------------------------------------------------------------------
// Reads

impl DynamoGatheringStore {
    async fn get_item(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo_err("GetItem"))?;
        Ok(output.item)
    }

    async fn gathering_item(&self, id: &GatheringId) -> Result<Option<GatheringItem>, StoreError> {
        self.get_item(gathering_pk(id), "GATHERING")
            .await?
            .map(from_item)
            .transpose()
    }

    async fn rsvp_item(
        &self,
        id: &GatheringId,
        contact: &str,
    ) -> Result<Option<RsvpItem>, StoreError> {
        self.get_item(gathering_pk(id), &rsvp_sk(contact))
            .await?
            .map(from_item)
            .transpose()
    }

    /// Every item of one geo index cell starting after `now`, following pages.
    async fn query_cell(
        client: Client,
        table: String,
        cell_key: String,
        now: OffsetDateTime,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = client
                .query()
                .table_name(&table)
                .index_name("gsi1")
                .key_condition_expression("gsi1pk = :cell AND gsi1sk > :now")
                .expression_attribute_values(":cell", AttributeValue::S(cell_key.clone()))
                .expression_attribute_values(":now", AttributeValue::S(timestamp(now)))
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

    /// The items of several cells, read concurrently.
    async fn query_cells(
        &self,
        cell_keys: Vec<String>,
        now: OffsetDateTime,
    ) -> Result<Vec<Item>, StoreError> {
        let mut tasks = tokio::task::JoinSet::new();
        for cell_key in cell_keys {
            tasks.spawn(Self::query_cell(
                self.client.clone(),
                self.table.clone(),
                cell_key,
                now,
            ));
        }
        let mut items = Vec::new();
        while let Some(result) = tasks.join_next().await {
            let cell_items = result.map_err(|e| StoreError::Dynamo {
                operation: "Query",
                source: Box::new(e),
            })??;
            items.extend(cell_items);
        }
        Ok(items)
    }

    /// Gathering items by id (`BatchGetItem`, retrying unprocessed keys).
    async fn batch_get_gatherings(
        &self,
        ids: &[GatheringId],
    ) -> Result<Vec<GatheringItem>, StoreError> {
        let keys = ids
            .iter()
            .map(|id| key(gathering_pk(id), "GATHERING"))
            .collect();
        super::dynamo_util::batch_get(&self.client, &self.table, keys)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    fn nearby(
        item: GatheringItem,
        origin: GeoPoint,
        radius: SearchRadius,
        now: OffsetDateTime,
    ) -> Result<Option<NearbyGathering>, StoreError> {
        let gathering = item.into_gathering()?;
        let distance = origin.distance_to(gathering.location);
        let wanted = gathering.listed && gathering.starts_at > now && radius.contains(distance);
        Ok(wanted.then_some(NearbyGathering {
            gathering,
            distance,
        }))
    }
}

// ---------------------------------------------------------------------------------------------------------
// Gatherings

impl GatheringStore for DynamoGatheringStore {
    #[tracing::instrument(name = "store.put_gathering", skip_all, fields(gathering = %gathering.id))]
    async fn put(
        &self,
        gathering: &Gathering,
        now: OffsetDateTime,
    ) -> Result<PutGathering, StoreError> {
        let item = GatheringItem::from_gathering(gathering, now);
        let code = CodeItem {
            pk: code_pk(gathering.code.as_str()),
            sk: "CODE".into(),
            entity: "gathering_code".into(),
            code: gathering.code.as_str().to_string(),
            gathering_id: gathering.id.as_str().to_string(),
            created_at: timestamp(now),
        };
        let pointer = Geo2Item::from_gathering(gathering);
        let create = |item: Item| -> Result<TransactWriteItem, StoreError> {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(dynamo_err("build Put"))?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        let no_keyword = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(keyword_pk(gathering.code.as_str()), "KEYWORD")))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(dynamo_err("build ConditionCheck"))?;
        let mut items = vec![
            create(to_item(&item)?)?,
            create(to_item(&code)?)?,
            create(to_item(&pointer)?)?,
            create(to_item(&WhenItem::from_gathering(gathering))?)?,
            TransactWriteItem::builder()
                .condition_check(no_keyword)
                .build(),
        ];
        if let Some(host) = &gathering.host {
            let host_pointer = HostGatheringItem::from_gathering(gathering, host);
            items.push(create(to_item(&host_pointer)?)?);
        }
        if gathering.awaiting_review() {
            items.push(create(to_item(&ReviewItem::from_gathering(
                gathering, now,
            ))?)?);
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(PutGathering::Created),
            Err(err) if is_transaction_canceled(&err) && !is_conflict(&err) => {
                if self.gathering_item(&gathering.id).await?.is_some() {
                    Ok(PutGathering::AlreadyExists)
                } else {
                    Ok(PutGathering::CodeTaken)
                }
            }
            Err(err) => Err(dynamo_err("TransactWriteItems")(err)),
        }
    }

    async fn get(&self, id: &GatheringId) -> Result<Option<Gathering>, StoreError> {
        self.gathering_item(id)
            .await?
            .map(GatheringItem::into_gathering)
            .transpose()
    }

    async fn by_code(&self, code: &GatheringCode) -> Result<Option<Gathering>, StoreError> {
        let Some(item) = self.get_item(code_pk(code.as_str()), "CODE").await? else {
            return Ok(None);
        };
        let code: CodeItem = from_item(item)?;
        let id =
            GatheringId::parse(&code.gathering_id).map_err(|e| corrupt("code gathering id", e))?;
        self.get(&id).await
    }

    #[tracing::instrument(name = "store.upcoming_near", skip_all, fields(radius_km = radius.distance().km(), limit))]
    async fn upcoming_near(
        &self,
        origin: GeoPoint,
        radius: SearchRadius,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<NearbyGathering>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (precision, cells) = geo::search_cells(origin, radius);
        let mut found = Vec::new();
        if precision == geo::FINE_PRECISION {
            let items = self
                .query_cells(cells.iter().map(|c| fine_cell_key(c)).collect(), now)
                .await?;
            for item in items {
                if let Some(n) = Self::nearby(from_item(item)?, origin, radius, now)? {
                    found.push(n);
                }
            }
            found.sort_by(nearest_then_soonest);
            found.truncate(limit);
            return Ok(found);
        }
        // Coarse cells hold pointers: rank them by distance, then read gatherings nearest first.
        let mut candidates: Vec<(f64, String, GatheringId)> = Vec::new();
        let mut seen = HashSet::new();
        for item in self
            .query_cells(cells.iter().map(|c| coarse_cell_key(c)).collect(), now)
            .await?
        {
            let pointer: Geo2Item = from_item(item)?;
            let Ok(point) = GeoPoint::new(pointer.lat, pointer.lon) else {
                continue;
            };
            let distance = origin.distance_to(point);
            let id = GatheringId::parse(&pointer.gathering_id)
                .map_err(|e| corrupt("geo2 gathering id", e))?;
            if radius.contains(distance) && seen.insert(id.clone()) {
                candidates.push((distance.km(), pointer.starts_at, id));
            }
        }
        candidates.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        for chunk in candidates.chunks(BATCH_GET_MAX) {
            let ids: Vec<GatheringId> = chunk.iter().map(|(_, _, id)| id.clone()).collect();
            for item in self.batch_get_gatherings(&ids).await? {
                if let Some(n) = Self::nearby(item, origin, radius, now)? {
                    found.push(n);
                }
            }
            if found.len() >= limit {
                break;
            }
        }
        found.sort_by(nearest_then_soonest);
        found.truncate(limit);
        Ok(found)
    }

    #[tracing::instrument(name = "store.hosted_by", skip_all)]
    async fn hosted_by(&self, host: &ContactHash) -> Result<Vec<Gathering>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :gathering)")
            .expression_attribute_values(":pk", AttributeValue::S(host_pk(host)))
            .expression_attribute_values(":gathering", AttributeValue::S("GATHERING#".into()))
            .consistent_read(true);
        let ids = self.pointer_ids(query, "host gathering id").await?;
        let mut found = self
            .batch_get_gatherings(&ids)
            .await?
            .into_iter()
            .map(GatheringItem::into_gathering)
            .collect::<Result<Vec<_>, _>>()?;
        found.retain(|g| g.host.as_ref() == Some(host));
        found.sort_by(soonest_first);
        Ok(found)
    }

    #[tracing::instrument(name = "store.starting_between", skip_all)]
    async fn starting_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<Gathering>, StoreError> {
        let mut ids = Vec::new();
        let mut day = from.to_offset(time::UtcOffset::UTC).date();
        while day.midnight().assume_utc() < to {
            let query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("gsi1")
                .key_condition_expression("gsi1pk = :day AND gsi1sk BETWEEN :from AND :to")
                .expression_attribute_values(
                    ":day",
                    AttributeValue::S(starts_day_key(day.midnight().assume_utc())),
                )
                .expression_attribute_values(":from", AttributeValue::S(timestamp(from)))
                // `<to>` sorts before `<to>#<id>`: a gathering starting at `to` is left out.
                .expression_attribute_values(":to", AttributeValue::S(timestamp(to)));
            ids.extend(self.pointer_ids(query, "when gathering id").await?);
            day = match day.next_day() {
                Some(next) => next,
                None => break,
            };
        }
        let mut found = self
            .batch_get_gatherings(&ids)
            .await?
            .into_iter()
            .map(GatheringItem::into_gathering)
            .collect::<Result<Vec<_>, _>>()?;
        // The index is eventually consistent: a gathering moved since is filtered by its own item.
        found.retain(|g| g.starts_at >= from && g.starts_at < to);
        found.sort_by(soonest_first);
        Ok(found)
    }

    #[tracing::instrument(name = "store.update_gathering", skip_all, fields(gathering = %gathering.id))]
    async fn update(
        &self,
        gathering: &Gathering,
        now: OffsetDateTime,
    ) -> Result<UpdateGathering, StoreError> {
        for attempt in 0..TRANSACTION_ATTEMPTS {
            // The listing stays as stored: read it, write the index keys for it, and condition the
            // write on it (a review in between cancels the transaction; then read again).
            let Some(stored) = self.gathering_item(&gathering.id).await? else {
                return Ok(UpdateGathering::NotFound);
            };
            if stored.host_hash != gathering.host {
                return Ok(UpdateGathering::NotFound);
            }
            let edited = Gathering {
                listed: stored.listed,
                ..gathering.clone()
            };
            let items = self.update_writes(&edited, now)?;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            match result {
                Ok(_) => {
                    self.sync_rsvp_starts(&gathering.id, gathering.starts_at)
                        .await?;
                    return Ok(UpdateGathering::Updated);
                }
                // A concurrent transaction, or a condition (it exists, is this host's, is listed
                // as read) that failed since the read: read again, which tells which.
                Err(err) if is_transaction_canceled(&err) && attempt + 1 < TRANSACTION_ATTEMPTS => {
                    backoff(attempt).await;
                }
                Err(err) => return Err(dynamo_err("TransactWriteItems")(err)),
            }
        }
        Err(StoreError::Corrupt(
            "gathering update kept conflicting".into(),
        ))
    }

    #[tracing::instrument(name = "store.awaiting_review", skip_all, fields(limit))]
    async fn awaiting_review(&self, limit: usize) -> Result<Vec<Gathering>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let page = i32::try_from(limit.min(BATCH_GET_MAX)).unwrap_or(100);
        let mut ids = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("gsi1")
                .key_condition_expression("gsi1pk = :queue")
                .expression_attribute_values(":queue", AttributeValue::S(REVIEW_QUEUE.into()))
                .limit(page)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(dynamo_err("Query"))?;
            for item in output.items.unwrap_or_default() {
                let pointer: ReviewItem = from_item(item)?;
                ids.push(
                    GatheringId::parse(&pointer.gathering_id)
                        .map_err(|e| corrupt("review gathering id", e))?,
                );
            }
            start = output.last_evaluated_key;
            if start.is_none() || ids.len() >= limit {
                break;
            }
        }
        ids.truncate(limit);
        let position: HashMap<GatheringId, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i))
            .collect();
        let mut found = self
            .batch_get_gatherings(&ids)
            .await?
            .into_iter()
            .map(GatheringItem::into_gathering)
            .collect::<Result<Vec<_>, _>>()?;
        // The index is eventually consistent: a pointer just deleted may still be read.
        found.retain(unreviewed);
        found.sort_by_key(|g| position.get(&g.id).copied().unwrap_or(usize::MAX));
        Ok(found)
    }

    #[tracing::instrument(name = "store.review", skip_all, fields(gathering = %id, decision = ?decision))]
    async fn review(
        &self,
        id: &GatheringId,
        decision: ReviewDecision,
        now: OffsetDateTime,
    ) -> Result<Reviewed, StoreError> {
        for attempt in 0..TRANSACTION_ATTEMPTS {
            let Some(stored) = self.get_item(gathering_pk(id), "GATHERING").await? else {
                return Ok(Reviewed::NotAwaiting);
            };
            let gathering = from_item::<GatheringItem>(stored.clone())?.into_gathering()?;
            if !unreviewed(&gathering) {
                return Ok(Reviewed::NotAwaiting);
            }
            let writes = self.review_writes(&gathering, &stored, decision, now)?;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(writes))
                .send()
                .await;
            match result {
                Ok(_) => {
                    return Ok(match decision {
                        ReviewDecision::Approve => Reviewed::Approved,
                        ReviewDecision::Decline => Reviewed::Declined,
                    });
                }
                Err(err) if is_transaction_canceled(&err) => {
                    let codes = cancellation_codes(&err);
                    if codes.first().and_then(Option::as_deref) == Some("ConditionalCheckFailed") {
                        // The pointer is gone: reviewed before (or never waiting).
                        return Ok(Reviewed::NotAwaiting);
                    }
                    // A concurrent transaction, or the host moved it since the read: read again.
                    if attempt + 1 < TRANSACTION_ATTEMPTS {
                        backoff(attempt).await;
                    } else {
                        return Err(dynamo_err("TransactWriteItems")(err));
                    }
                }
                Err(err) => return Err(dynamo_err("TransactWriteItems")(err)),
            }
        }
        Err(StoreError::Corrupt(
            "gathering review kept conflicting".into(),
        ))
    }
}

/// Not reviewed: neither listed nor declined. With its `REVIEW` pointer, waiting in the queue (the
/// pointer, checked by the review's transaction, is what says it waits).
fn unreviewed(g: &Gathering) -> bool {
    !g.listed && g.declined_at.is_none()
}

/// Most RSVPs brought to a new start time per transaction (with the check of the gathering: 100).
const RSVP_SYNC_CHUNK: usize = 99;

/// A pause before retrying a transaction a concurrent one cancelled: growing, with jitter.
async fn backoff(attempt: u32) {
    let jitter = rand::random_range(0..25u64);
    tokio::time::sleep(std::time::Duration::from_millis((25 << attempt) + jitter)).await;
}

impl DynamoGatheringStore {
    /// The gathering ids of the pointer items (`gathering_id`) a query finds, every page; `what`
    /// names them in an error.
    async fn pointer_ids(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        what: &'static str,
    ) -> Result<Vec<GatheringId>, StoreError> {
        #[derive(Deserialize)]
        struct Pointer {
            gathering_id: String,
        }
        let mut ids = Vec::new();
        let mut start = None;
        loop {
            let output = query
                .clone()
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(dynamo_err("Query"))?;
            for item in output.items.unwrap_or_default() {
                let pointer: Pointer = from_item(item)?;
                ids.push(GatheringId::parse(&pointer.gathering_id).map_err(|e| corrupt(what, e))?);
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(ids);
            }
        }
    }

    /// The writes of [`GatheringStore::update`], for one transaction: the gathering's editable
    /// attributes (on condition that it exists, `host_hash` is `gathering.host`'s and `listed` is
    /// `gathering.listed`, the stored listing), its `GEO2` pointer, and its host pointer (when it
    /// has a host). Never the review pointer nor `declined_at`.
    fn update_writes(
        &self,
        gathering: &Gathering,
        now: OffsetDateTime,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut item = to_item(&GatheringItem::from_gathering(gathering, now))?;
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(gathering_pk(&gathering.id), "GATHERING")))
            .expression_attribute_names("#updated_at", "updated_at")
            .expression_attribute_values(":updated_at", AttributeValue::S(timestamp(now)))
            .expression_attribute_names("#host_hash", "host_hash");
        let mut set = vec!["#updated_at = :updated_at".to_string()];
        let mut remove = Vec::new();
        // Every name through a placeholder: `state`, `language` and `capacity` are reserved words.
        for name in EDITABLE_ATTRIBUTES {
            update = update.expression_attribute_names(format!("#{name}"), name);
            match item.remove(name) {
                Some(value) => {
                    set.push(format!("#{name} = :{name}"));
                    update = update.expression_attribute_values(format!(":{name}"), value);
                }
                None => remove.push(format!("#{name}")),
            }
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        update = update.update_expression(expression);
        update = match &gathering.host {
            Some(host) => update
                .condition_expression(
                    "attribute_exists(pk) AND #host_hash = :host_hash AND #listed = :listed",
                )
                .expression_attribute_values(
                    ":host_hash",
                    AttributeValue::S(host.as_str().to_string()),
                ),
            None => update.condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(#host_hash) AND #listed = :listed",
            ),
        };
        let update = update.build().map_err(dynamo_err("build Update"))?;
        let replace = |item: Item| -> Result<TransactWriteItem, StoreError> {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .build()
                .map_err(dynamo_err("build Put"))?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        let mut writes = vec![
            TransactWriteItem::builder().update(update).build(),
            replace(to_item(&Geo2Item::from_gathering(gathering))?)?,
            replace(to_item(&WhenItem::from_gathering(gathering))?)?,
        ];
        if let Some(host) = &gathering.host {
            writes.push(replace(to_item(&HostGatheringItem::from_gathering(
                gathering, host,
            ))?)?);
        }
        Ok(writes)
    }

    /// The writes of [`GatheringStore::review`], for one transaction, the pointer first: delete the
    /// `REVIEW` pointer on condition that it exists, and update the gathering `stored` (as read) on
    /// condition that it is still unlisted and not declined. Approving sets `listed` and the index
    /// keys a listed gathering gets from [`GatheringItem::from_gathering`], conditioned on the
    /// start and place those keys are made of (still as read), and puts the listed `GEO2` pointer;
    /// declining sets `declined_at`.
    fn review_writes(
        &self,
        gathering: &Gathering,
        stored: &Item,
        decision: ReviewDecision,
        now: OffsetDateTime,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let pointer = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(gathering_pk(&gathering.id), "REVIEW")))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(dynamo_err("build Delete"))?;
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(gathering_pk(&gathering.id), "GATHERING")))
            .expression_attribute_names("#listed", "listed")
            .expression_attribute_names("#declined_at", "declined_at")
            .expression_attribute_values(":unlisted", AttributeValue::Bool(false));
        let unreviewed =
            "attribute_exists(pk) AND #listed = :unlisted AND attribute_not_exists(#declined_at)";
        let mut writes = vec![TransactWriteItem::builder().delete(pointer).build()];
        match decision {
            ReviewDecision::Approve => {
                let listed = Gathering {
                    listed: true,
                    ..gathering.clone()
                };
                let mut item = to_item(&GatheringItem::from_gathering(&listed, now))?;
                let mut index_key = |name: &str| {
                    item.remove(name)
                        .ok_or_else(|| corrupt("listed gathering", format!("no {name}")))
                };
                let (gsi1pk, gsi1sk) = (index_key("gsi1pk")?, index_key("gsi1sk")?);
                let read = |name: &str| {
                    stored
                        .get(name)
                        .cloned()
                        .ok_or_else(|| corrupt("gathering", format!("no {name}")))
                };
                let update = update
                    .update_expression("SET #listed = :listed, gsi1pk = :gsi1pk, gsi1sk = :gsi1sk")
                    .condition_expression(format!(
                        "{unreviewed} AND starts_at = :starts_at AND lat = :lat AND lon = :lon"
                    ))
                    .expression_attribute_values(":listed", AttributeValue::Bool(true))
                    .expression_attribute_values(":gsi1pk", gsi1pk)
                    .expression_attribute_values(":gsi1sk", gsi1sk)
                    .expression_attribute_values(":starts_at", read("starts_at")?)
                    .expression_attribute_values(":lat", read("lat")?)
                    .expression_attribute_values(":lon", read("lon")?)
                    .build()
                    .map_err(dynamo_err("build Update"))?;
                let geo2 = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(to_item(&Geo2Item::from_gathering(&listed))?))
                    .build()
                    .map_err(dynamo_err("build Put"))?;
                writes.push(TransactWriteItem::builder().update(update).build());
                writes.push(TransactWriteItem::builder().put(geo2).build());
            }
            ReviewDecision::Decline => {
                let update = update
                    .update_expression("SET #declined_at = :declined_at")
                    .condition_expression(unreviewed)
                    .expression_attribute_values(":declined_at", AttributeValue::S(timestamp(now)))
                    .build()
                    .map_err(dynamo_err("build Update"))?;
                writes.push(TransactWriteItem::builder().update(update).build());
            }
        }
        Ok(writes)
    }

    /// Brings every RSVP of a gathering to its start time `starts_at` (their `starts_at`, and the
    /// `gsi1sk` that orders a person's RSVPs), after an update. Each transaction takes up to
    /// [`RSVP_SYNC_CHUNK`] RSVPs, each updated only if it still exists (an erasure may withdraw it
    /// meanwhile: then the stale ones are read again), with a check that the gathering still starts
    /// at `starts_at`: if it moved again, the update that moved it brings the RSVPs along, and this
    /// one stops. Safe to repeat: an RSVP already up to date is not written.
    async fn sync_rsvp_starts(
        &self,
        id: &GatheringId,
        starts_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let starts = timestamp(starts_at);
        let index_key = format!("RSVP#{starts}#{}", id.as_str());
        for attempt in 0..TRANSACTION_ATTEMPTS {
            let stale: Vec<RsvpRecord> = self
                .rsvps_for(id)
                .await?
                .into_iter()
                .filter(|r| timestamp(r.starts_at) != starts)
                .collect();
            if stale.is_empty() {
                return Ok(());
            }
            let mut read_again = false;
            for chunk in stale.chunks(RSVP_SYNC_CHUNK) {
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(gathering_pk(id), "GATHERING")))
                    .condition_expression("starts_at = :starts_at")
                    .expression_attribute_values(":starts_at", AttributeValue::S(starts.clone()))
                    .build()
                    .map_err(dynamo_err("build ConditionCheck"))?;
                let mut items = vec![TransactWriteItem::builder().condition_check(check).build()];
                for rsvp in chunk {
                    let update = Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(gathering_pk(id), &rsvp_sk(&rsvp.contact_hash))))
                        .update_expression("SET starts_at = :starts_at, gsi1sk = :gsi1sk")
                        .condition_expression("attribute_exists(pk)")
                        .expression_attribute_values(
                            ":starts_at",
                            AttributeValue::S(starts.clone()),
                        )
                        .expression_attribute_values(
                            ":gsi1sk",
                            AttributeValue::S(index_key.clone()),
                        )
                        .build()
                        .map_err(dynamo_err("build Update"))?;
                    items.push(TransactWriteItem::builder().update(update).build());
                }
                let result = self
                    .client
                    .transact_write_items()
                    .set_transact_items(Some(items))
                    .send()
                    .await;
                match result {
                    Ok(_) => {}
                    Err(err) if is_transaction_canceled(&err) => {
                        let gathering_moved = cancellation_codes(&err)
                            .first()
                            .is_some_and(|code| code.as_deref() == Some("ConditionalCheckFailed"));
                        if gathering_moved {
                            return Ok(());
                        }
                        read_again = true;
                    }
                    Err(err) => return Err(dynamo_err("TransactWriteItems")(err)),
                }
            }
            if !read_again {
                return Ok(());
            }
            backoff(attempt).await;
        }
        Err(StoreError::Corrupt(
            "RSVP start times kept conflicting".into(),
        ))
    }
}

// ---------------------------------------------------------------------------------------------------------
// RSVPs

impl DynamoGatheringStore {
    fn new_rsvp_item(
        rsvp: &NewRsvp<'_>,
        starts_at: OffsetDateTime,
        status: RsvpStatus,
        now: OffsetDateTime,
    ) -> RsvpItem {
        let contact = rsvp.contact.as_str();
        RsvpItem {
            pk: gathering_pk(rsvp.gathering),
            sk: rsvp_sk(contact),
            entity: "rsvp".into(),
            gathering_id: rsvp.gathering.as_str().to_string(),
            contact_hash: contact.to_string(),
            status,
            source: rsvp.source,
            language: rsvp.language,
            first_name_sealed: rsvp.first_name.clone(),
            referral: rsvp.referral.map(str::to_owned),
            starts_at: timestamp(starts_at),
            created_at: timestamp(now),
            gsi1pk: format!("CONTACT#{contact}"),
            gsi1sk: format!("RSVP#{}#{}", timestamp(starts_at), rsvp.gathering.as_str()),
        }
    }

    fn create_put(&self, item: Item) -> Result<Put, StoreError> {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(dynamo_err("build Put"))
    }

    async fn existing_rsvp(&self, rsvp: &NewRsvp<'_>) -> Result<Option<RsvpOutcome>, StoreError> {
        Ok(self
            .rsvp_item(rsvp.gathering, rsvp.contact.as_str())
            .await?
            .map(|existing| match existing.status {
                RsvpStatus::Going => RsvpOutcome::AlreadyGoing,
                RsvpStatus::Waitlist => RsvpOutcome::AlreadyWaitlisted,
            }))
    }

    /// Takes a place: the RSVP and `going_count + 1`, in one transaction. `Ok(false)`: a condition
    /// failed (the RSVP exists, or the gathering is full or gone).
    async fn take_place(
        &self,
        item: &RsvpItem,
        gathering: &GatheringId,
    ) -> Result<bool, StoreError> {
        let count = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(gathering_pk(gathering), "GATHERING")))
            .update_expression("SET going_count = if_not_exists(going_count, :zero) + :one")
            // `capacity` is a DynamoDB reserved word: it needs a name placeholder.
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(#capacity) OR going_count < #capacity)",
            )
            .expression_attribute_names("#capacity", "capacity")
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .build()
            .map_err(dynamo_err("build Update"))?;
        let items = vec![
            TransactWriteItem::builder()
                .put(self.create_put(to_item(item)?)?)
                .build(),
            TransactWriteItem::builder().update(count).build(),
        ];
        for attempt in 0..TRANSACTION_ATTEMPTS {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(true),
                Err(err) if is_conflict(&err) && attempt + 1 < TRANSACTION_ATTEMPTS => {
                    backoff(attempt).await;
                }
                Err(err) if is_transaction_canceled(&err) && !is_conflict(&err) => {
                    return Ok(false);
                }
                Err(err) => return Err(dynamo_err("TransactWriteItems")(err)),
            }
        }
        Err(StoreError::Corrupt(
            "RSVP transaction kept conflicting".into(),
        ))
    }
}

/// An RSVP found under a person's `gsi1pk`, as an erasure reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IndexedRsvp {
    pub pk: String,
    pub sk: String,
    pub status: RsvpStatus,
}

impl DynamoGatheringStore {
    /// The RSVP an item found in `gsi1` is, if it is one.
    pub(crate) fn indexed_rsvp(item: &Item) -> Option<IndexedRsvp> {
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
        let (pk, sk) = (text("pk")?, text("sk")?);
        if !(pk.starts_with("GATHERING#") && sk.starts_with("RSVP#")) {
            return None;
        }
        let status = match text("status").map(String::as_str) {
            Some("going") => RsvpStatus::Going,
            _ => RsvpStatus::Waitlist,
        };
        Some(IndexedRsvp {
            pk: pk.clone(),
            sk: sk.clone(),
            status,
        })
    }

    /// Places taken at each of these gatherings (`pk` `GATHERING#<id>`); a missing gathering is absent.
    pub(crate) async fn going_counts(
        &self,
        gathering_pks: &[String],
    ) -> Result<HashMap<String, u32>, StoreError> {
        let ids = gathering_pks
            .iter()
            .filter_map(|pk| pk.strip_prefix("GATHERING#"))
            .map(|id| GatheringId::parse(id).map_err(|e| corrupt("rsvp gathering id", e)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self
            .batch_get_gatherings(&ids)
            .await?
            .into_iter()
            .map(|g| (g.pk, g.going_count))
            .collect())
    }

    /// The writes that take an erased host's name and keyed hash off their gathering `id`: none
    /// when it is gone or no longer theirs. Conditioned on the host read, so a concurrent change
    /// cancels the erasure's transaction (which then plans again).
    pub(crate) async fn forget_host_writes(
        &self,
        id: &str,
        host: &ContactHash,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let id = GatheringId::parse(id).map_err(|e| corrupt("host gathering id", e))?;
        let Some(stored) = self.gathering_item(&id).await? else {
            return Ok(vec![]);
        };
        if stored.host_hash.as_ref() != Some(host) {
            return Ok(vec![]);
        }
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(gathering_pk(&id), "GATHERING")))
            .update_expression("REMOVE host_first_name_sealed, host_hash")
            .condition_expression("host_hash = :host")
            .expression_attribute_values(":host", AttributeValue::S(host.as_str().to_string()))
            .build()
            .map_err(dynamo_err("build Update"))?;
        Ok(vec![TransactWriteItem::builder().update(update).build()])
    }

    /// The writes that withdraw an RSVP, together in one transaction: delete it while its status is
    /// still the one read, and if it held a place and the gathering counts one, give it back.
    pub(crate) fn withdraw_writes(
        &self,
        rsvp: &IndexedRsvp,
        give_back_place: bool,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let status = match rsvp.status {
            RsvpStatus::Going => "going",
            RsvpStatus::Waitlist => "waitlist",
        };
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(rsvp.pk.clone(), &rsvp.sk)))
            // `status` is a DynamoDB reserved word.
            .condition_expression("#status = :status")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", AttributeValue::S(status.into()))
            .build()
            .map_err(dynamo_err("build Delete"))?;
        let mut writes = vec![TransactWriteItem::builder().delete(delete).build()];
        if give_back_place && rsvp.status == RsvpStatus::Going {
            let count = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(rsvp.pk.clone(), "GATHERING")))
                .update_expression("SET going_count = going_count - :one")
                .condition_expression("going_count > :zero")
                .expression_attribute_values(":zero", AttributeValue::N("0".into()))
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .build()
                .map_err(dynamo_err("build Update"))?;
            writes.push(TransactWriteItem::builder().update(count).build());
        }
        Ok(writes)
    }
}

impl RsvpStore for DynamoGatheringStore {
    #[tracing::instrument(name = "store.rsvp", skip_all, fields(gathering = %rsvp.gathering, source = ?rsvp.source))]
    async fn rsvp(
        &self,
        rsvp: NewRsvp<'_>,
        now: OffsetDateTime,
    ) -> Result<RsvpOutcome, StoreError> {
        let Some(gathering) = self.gathering_item(rsvp.gathering).await? else {
            return Ok(RsvpOutcome::NoSuchGathering);
        };
        let starts_at = parse_time("gathering starts_at", &gathering.starts_at)?;
        let ends_at = parse_time("gathering ends_at", &gathering.ends_at)?;
        if now >= ends_at {
            return Ok(RsvpOutcome::Ended);
        }
        if let Some(existing) = self.existing_rsvp(&rsvp).await? {
            return Ok(existing);
        }
        let going = Self::new_rsvp_item(&rsvp, starts_at, RsvpStatus::Going, now);
        if self.take_place(&going, rsvp.gathering).await? {
            return Ok(RsvpOutcome::Created);
        }
        // A condition failed: they RSVPed meanwhile, or there is no room (or no gathering) left.
        if let Some(existing) = self.existing_rsvp(&rsvp).await? {
            return Ok(existing);
        }
        if self.gathering_item(rsvp.gathering).await?.is_none() {
            return Ok(RsvpOutcome::NoSuchGathering);
        }
        let waitlist = Self::new_rsvp_item(&rsvp, starts_at, RsvpStatus::Waitlist, now);
        let result = self
            .client
            .put_item()
            .set_item(Some(to_item(&waitlist)?))
            .table_name(&self.table)
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(RsvpOutcome::Waitlisted),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(self
                    .existing_rsvp(&rsvp)
                    .await?
                    .unwrap_or(RsvpOutcome::AlreadyWaitlisted))
            }
            Err(err) => Err(dynamo_err("PutItem")(err)),
        }
    }

    async fn rsvps_for(&self, gathering: &GatheringId) -> Result<Vec<RsvpRecord>, StoreError> {
        let mut records = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :rsvp)")
                .expression_attribute_values(":pk", AttributeValue::S(gathering_pk(gathering)))
                .expression_attribute_values(":rsvp", AttributeValue::S("RSVP#".into()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(dynamo_err("Query"))?;
            for item in output.items.unwrap_or_default() {
                records.push(from_item::<RsvpItem>(item)?.into_record()?);
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(records);
            }
        }
    }

    async fn rsvps_of(&self, contact: &ContactHash) -> Result<Vec<RsvpRecord>, StoreError> {
        let mut records = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("gsi1")
                .key_condition_expression("gsi1pk = :contact AND begins_with(gsi1sk, :rsvp)")
                .expression_attribute_values(
                    ":contact",
                    AttributeValue::S(format!("CONTACT#{}", contact.as_str())),
                )
                .expression_attribute_values(":rsvp", AttributeValue::S("RSVP#".into()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(dynamo_err("Query"))?;
            for item in output.items.unwrap_or_default() {
                records.push(from_item::<RsvpItem>(item)?.into_record()?);
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(records);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Keywords

impl KeywordStore for DynamoGatheringStore {
    #[tracing::instrument(name = "store.put_keyword", skip_all, fields(word = %keyword.word))]
    async fn put_keyword(
        &self,
        keyword: &CampaignKeyword,
        now: OffsetDateTime,
    ) -> Result<PutKeyword, StoreError> {
        let word = keyword.word.as_str();
        let (kind, gathering_id) = match &keyword.target {
            KeywordTarget::Campaign => ("campaign", None),
            KeywordTarget::Gathering(id) => ("gathering", Some(id.as_str().to_string())),
        };
        let item = KeywordItem {
            pk: keyword_pk(word),
            sk: "KEYWORD".into(),
            entity: "keyword".into(),
            word: word.to_string(),
            kind: kind.into(),
            language: keyword.language,
            gathering_id,
            created_at: timestamp(now),
            gsi1pk: Some(KEYWORDS.into()),
            gsi1sk: Some(word.to_string()),
        };
        let no_code = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(code_pk(word), "CODE")))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(dynamo_err("build ConditionCheck"))?;
        let items = vec![
            TransactWriteItem::builder()
                .put(self.create_put(to_item(&item)?)?)
                .build(),
            TransactWriteItem::builder()
                .condition_check(no_code)
                .build(),
        ];
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(PutKeyword::Created),
            Err(err) if is_transaction_canceled(&err) && !is_conflict(&err) => {
                if self.get_item(keyword_pk(word), "KEYWORD").await?.is_some() {
                    Ok(PutKeyword::AlreadyExists)
                } else {
                    Ok(PutKeyword::TakenByGatheringCode)
                }
            }
            Err(err) => Err(dynamo_err("TransactWriteItems")(err)),
        }
    }

    async fn keyword(&self, word: &KeywordWord) -> Result<Option<CampaignKeyword>, StoreError> {
        let Some(item) = self.get_item(keyword_pk(word.as_str()), "KEYWORD").await? else {
            return Ok(None);
        };
        from_item::<KeywordItem>(item)?.into_keyword().map(Some)
    }

    #[tracing::instrument(name = "store.keywords", skip_all)]
    async fn keywords(&self) -> Result<Vec<CampaignKeyword>, StoreError> {
        let items = super::dynamo_util::query_all(
            &self.client,
            &self.table,
            Some("gsi1"),
            "gsi1pk",
            KEYWORDS,
        )
        .await?;
        let mut keywords = items
            .into_iter()
            .map(|item| from_item::<KeywordItem>(item)?.into_keyword())
            .collect::<Result<Vec<_>, _>>()?;
        keywords.sort_by(|a, b| a.word.as_str().cmp(b.word.as_str()));
        Ok(keywords)
    }

    #[tracing::instrument(name = "store.remove_keyword", skip_all, fields(word = %word))]
    async fn remove_keyword(&self, word: &KeywordWord) -> Result<RemovedKeyword, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keyword_pk(word.as_str()), "KEYWORD")))
            // Only a configured keyword's item: never anything else that might share the key.
            .condition_expression("attribute_exists(pk) AND #kind IN (:campaign, :gathering)")
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":campaign", AttributeValue::S("campaign".into()))
            .expression_attribute_values(":gathering", AttributeValue::S("gathering".into()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(RemovedKeyword::Removed),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(RemovedKeyword::NoSuchKeyword)
            }
            Err(err) => Err(dynamo_err("DeleteItem")(err)),
        }
    }
}

impl KeywordItem {
    fn into_keyword(self) -> Result<CampaignKeyword, StoreError> {
        let target = match (self.kind.as_str(), self.gathering_id) {
            ("campaign", _) => KeywordTarget::Campaign,
            ("gathering", Some(id)) => KeywordTarget::Gathering(
                GatheringId::parse(&id).map_err(|e| corrupt("keyword gathering id", e))?,
            ),
            (kind, _) => return Err(corrupt("keyword kind", format!("{kind:?}"))),
        };
        Ok(CampaignKeyword {
            word: KeywordWord::parse(&self.word).map_err(|e| corrupt("keyword word", e))?,
            target,
            language: self.language,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AddressDraft, FirstName, GatheringDraft};
    use crate::privacy::Sealer;

    async fn gathering(listed: bool, address: AddressDraft) -> Gathering {
        let starts_at = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        GatheringDraft {
            code: GatheringCode::parse("MAPLE5").unwrap(),
            title: GatheringTitle::parse("Maple Street potluck").unwrap(),
            starts_at,
            ends_at: starts_at + time::Duration::hours(2),
            zip: Zip::parse("20001").unwrap(),
            timezone: None,
            town: None,
            location: None,
            address,
            host_first_name: FirstName::parse("Rosalind").unwrap(),
            capacity: Some(3),
            language: Language::Es,
            listed,
            host: None,
            description: String::new(),
            accessibility: String::new(),
        }
        .seal(GatheringId::random(), &Sealer::in_memory())
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn a_gathering_item_round_trips_and_holds_no_name_or_private_address_in_clear() {
        let g = gathering(true, AddressDraft::Private("12 Elm Street".into())).await;
        let item = to_item(&GatheringItem::from_gathering(&g, g.starts_at)).unwrap();
        let text = format!("{item:?}");
        assert!(
            !text.contains("Rosalind") && !text.contains("Elm"),
            "{text}"
        );
        assert_eq!(item["gsi1pk"].as_s().unwrap(), "GEO#dqc");
        assert!(
            item["gsi1sk"]
                .as_s()
                .unwrap()
                .starts_with("2030-03-17T17:46:40.000Z#")
        );
        assert_eq!(item["language"].as_s().unwrap(), "es");
        let back = from_item::<GatheringItem>(item)
            .unwrap()
            .into_gathering()
            .unwrap();
        assert_eq!(back, g);
    }

    #[test]
    fn an_rsvp_found_in_the_index_is_recognised_and_withdrawn_with_its_place() {
        let item: Item = HashMap::from([
            ("pk".into(), AttributeValue::S("GATHERING#g1".into())),
            ("sk".into(), AttributeValue::S("RSVP#p.abc".into())),
            ("status".into(), AttributeValue::S("going".into())),
        ]);
        let rsvp = DynamoGatheringStore::indexed_rsvp(&item).unwrap();
        assert_eq!(rsvp.status, RsvpStatus::Going);
        let outbox: Item = HashMap::from([
            ("pk".into(), AttributeValue::S("OUTBOX#m1".into())),
            ("sk".into(), AttributeValue::S("OUTBOX#m1".into())),
        ]);
        assert_eq!(DynamoGatheringStore::indexed_rsvp(&outbox), None);

        let config = aws_sdk_dynamodb::Config::builder()
            .http_client(crate::aws::http_client())
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .build();
        let store = DynamoGatheringStore::new(Client::from_conf(config), "t");
        let writes = store.withdraw_writes(&rsvp, true).unwrap();
        assert_eq!(writes.len(), 2);
        let count = writes[1].update().unwrap();
        assert_eq!(count.key()["pk"].as_s().unwrap(), "GATHERING#g1");
        assert_eq!(count.key()["sk"].as_s().unwrap(), "GATHERING");
        assert_eq!(store.withdraw_writes(&rsvp, false).unwrap().len(), 1);
        let waitlisted = IndexedRsvp {
            status: RsvpStatus::Waitlist,
            ..rsvp
        };
        assert_eq!(store.withdraw_writes(&waitlisted, true).unwrap().len(), 1);
    }

    fn host() -> ContactHash {
        crate::privacy::ContactHasher::from_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
            .unwrap()
            .email(&crate::domain::EmailAddress::parse("rosa@example.org").unwrap())
    }

    fn test_store() -> DynamoGatheringStore {
        let config = aws_sdk_dynamodb::Config::builder()
            .http_client(crate::aws::http_client())
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .build();
        DynamoGatheringStore::new(Client::from_conf(config), "t")
    }

    #[tokio::test]
    async fn a_hosts_gathering_item_keeps_the_host_description_and_notes() {
        let mut g = gathering(true, AddressDraft::Public("Library".into())).await;
        g.host = Some(host());
        g.description = "Bring a dish.\n\nKids welcome.".into();
        g.accessibility = "Step-free entrance.".into();
        let item = to_item(&GatheringItem::from_gathering(&g, g.starts_at)).unwrap();
        assert_eq!(item["host_hash"].as_s().unwrap(), host().as_str());
        assert_eq!(item["description"].as_s().unwrap(), &g.description);
        let back = from_item::<GatheringItem>(item)
            .unwrap()
            .into_gathering()
            .unwrap();
        assert_eq!(back, g);
    }

    #[tokio::test]
    async fn an_item_written_before_hosts_and_descriptions_reads_without_them() {
        let g = gathering(true, AddressDraft::Public("Library".into())).await;
        let item = to_item(&GatheringItem::from_gathering(&g, g.starts_at)).unwrap();
        assert!(
            !["host_hash", "description", "accessibility", "updated_at"]
                .iter()
                .any(|name| item.contains_key(*name)),
            "empty ones are left out"
        );
        let back = from_item::<GatheringItem>(item)
            .unwrap()
            .into_gathering()
            .unwrap();
        assert_eq!(
            (back.host, back.description, back.accessibility),
            (None, String::new(), String::new())
        );
    }

    #[tokio::test]
    async fn an_update_is_conditioned_on_the_host_and_removes_what_the_gathering_no_longer_has() {
        let store = test_store();
        let mut g = gathering(false, AddressDraft::Public("Library".into())).await;
        g.host = Some(host());
        g.capacity = None;
        let writes = store.update_writes(&g, g.starts_at).unwrap();
        assert_eq!(
            writes.len(),
            4,
            "the gathering, its GEO2 and WHEN pointers, its host pointer"
        );
        let update = writes[0].update().unwrap();
        assert_eq!(
            update.condition_expression(),
            Some("attribute_exists(pk) AND #host_hash = :host_hash AND #listed = :listed"),
            "and on the listing as stored: the caller passes the stored one"
        );
        assert_eq!(
            update.expression_attribute_values().unwrap()[":host_hash"]
                .as_s()
                .unwrap(),
            host().as_str()
        );
        let expression = update.update_expression();
        let removed = expression.split(" REMOVE ").nth(1).unwrap();
        for name in [
            "#gsi1pk",
            "#gsi1sk",
            "#capacity",
            "#address_sealed",
            "#description",
            "#accessibility",
        ] {
            assert!(removed.contains(name), "{name} in {expression}");
        }
        for kept in [
            "code",
            "host_hash",
            "going_count",
            "host_first_name_sealed",
            "created_at",
        ] {
            assert!(
                !expression.contains(&format!("#{kept} =")),
                "{kept} in {expression}"
            );
        }
        let geo2 = writes[1].put().unwrap();
        assert_eq!(geo2.item()["sk"].as_s().unwrap(), "GEO2");
        assert!(!geo2.item().contains_key("gsi1pk"));
        let when = writes[2].put().unwrap().item();
        assert_eq!(when["sk"].as_s().unwrap(), "WHEN");
        assert_eq!(
            when["gsi1pk"].as_s().unwrap(),
            &starts_day_key(g.starts_at),
            "an unlisted gathering is reminded too"
        );
        assert!(when["gsi1pk"].as_s().unwrap().starts_with("STARTS#20"));
        let pointer = writes[3].put().unwrap();
        assert_eq!(
            pointer.item()["pk"].as_s().unwrap(),
            &format!("HOST#{}", host().as_str())
        );
        assert_eq!(
            pointer.item()["sk"].as_s().unwrap(),
            &format!("GATHERING#{}", g.id)
        );

        g.host = None;
        let writes = store.update_writes(&g, g.starts_at).unwrap();
        assert_eq!(writes.len(), 3);
        assert_eq!(
            writes[0].update().unwrap().condition_expression(),
            Some("attribute_exists(pk) AND attribute_not_exists(#host_hash) AND #listed = :listed")
        );
    }

    #[tokio::test]
    async fn a_review_deletes_the_queue_pointer_first_and_approving_writes_a_listed_gatherings_index_keys()
     {
        let store = test_store();
        let mut g = gathering(false, AddressDraft::Public("Library".into())).await;
        g.host = Some(host());
        assert!(g.awaiting_review());
        let stored = to_item(&GatheringItem::from_gathering(&g, g.starts_at)).unwrap();
        let listed = Gathering {
            listed: true,
            ..g.clone()
        };
        let as_put = to_item(&GatheringItem::from_gathering(&listed, g.starts_at)).unwrap();

        let writes = store
            .review_writes(&g, &stored, ReviewDecision::Approve, g.starts_at)
            .unwrap();
        assert_eq!(
            writes.len(),
            3,
            "the pointer, the gathering, its GEO2 pointer"
        );
        let pointer = writes[0].delete().unwrap();
        assert_eq!(pointer.key()["sk"].as_s().unwrap(), "REVIEW");
        assert_eq!(pointer.condition_expression(), Some("attribute_exists(pk)"));
        let update = writes[1].update().unwrap();
        let values = update.expression_attribute_values().unwrap();
        for (placeholder, name) in [(":gsi1pk", "gsi1pk"), (":gsi1sk", "gsi1sk")] {
            assert_eq!(values[placeholder], as_put[name], "{name} as put writes it");
        }
        for name in ["starts_at", "lat", "lon"] {
            assert_eq!(values[&format!(":{name}")], stored[name], "{name} as read");
        }
        assert_eq!(
            writes[2].put().unwrap().item(),
            &to_item(&Geo2Item::from_gathering(&listed)).unwrap()
        );
        assert!(writes[2].put().unwrap().item().contains_key("gsi1pk"));

        let writes = store
            .review_writes(&g, &stored, ReviewDecision::Decline, g.starts_at)
            .unwrap();
        assert_eq!(writes.len(), 2);
        let update = writes[1].update().unwrap();
        assert_eq!(
            update.update_expression(),
            "SET #declined_at = :declined_at"
        );
        assert!(
            !update
                .expression_attribute_values()
                .unwrap()
                .contains_key(":gsi1pk")
        );
    }

    #[tokio::test]
    async fn a_declined_gathering_reads_back_declined_and_a_review_pointer_sits_in_the_queue() {
        let mut g = gathering(false, AddressDraft::Public("Library".into())).await;
        g.host = Some(host());
        let pointer = to_item(&ReviewItem::from_gathering(&g, g.starts_at)).unwrap();
        assert_eq!(pointer["gsi1pk"].as_s().unwrap(), "REVIEW");
        assert_eq!(
            pointer["gsi1sk"].as_s().unwrap(),
            &format!("{}#{}", timestamp(g.starts_at), g.id)
        );
        g.declined_at = Some(g.starts_at);
        let item = to_item(&GatheringItem::from_gathering(&g, g.starts_at)).unwrap();
        let back = from_item::<GatheringItem>(item)
            .unwrap()
            .into_gathering()
            .unwrap();
        assert_eq!(back.declined_at, Some(g.starts_at));
        assert!(!back.awaiting_review());
    }

    #[tokio::test]
    async fn an_unlisted_gathering_has_no_index_keys() {
        let g = gathering(false, AddressDraft::Public("Library".into())).await;
        let item = to_item(&GatheringItem::from_gathering(&g, g.starts_at)).unwrap();
        assert!(!item.contains_key("gsi1pk") && !item.contains_key("gsi1sk"));
        assert_eq!(item["address"].as_s().unwrap(), "Library");
    }
}

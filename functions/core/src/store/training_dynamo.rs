//! DynamoDB adapter of the training port. Item shapes are in the table in `store/mod.rs`; this is the
//! only code that writes them (the local seed uses it too).
//!
//! **Catalog.** A training is one item, `TRAINING#<id>` / `TRAINING`, created with
//! `attribute_not_exists`. Every training carries `gsi1pk = TRAININGS` and
//! `gsi1sk = <starts_at>#<id>`: the catalog is a handful of items, read with one paginated `Query` of
//! that partition in start-time order. An organizer's edit is an `UpdateItem` of the editable
//! attributes (and `gsi1sk`, `updated_at`) conditioned on the training existing; it never touches the
//! recording. Publishing a recording is an `UpdateItem` conditioned on the training existing and
//! having no `recording_published_at` yet.
//!
//! **Registrations.** `TRAINING#<id>` / `REG#<contact hash>`, put with `attribute_not_exists` in one
//! transaction with a `ConditionCheck` that the training exists and has not ended. A person's
//! registrations are found through `gsi1pk = CONTACT#<contact hash>`,
//! `gsi1sk = TRAINING#<starts_at>#<id>`, as their RSVPs are (`RSVP#…`).

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::dynamo_util::{contact_key, dynamo_err, to_item};
use super::training::{
    NewTrainingRegistration, Published, PutTraining, TrainingRegistered, TrainingRegistration,
    TrainingRegistrationStatus, TrainingStore, UpdateTraining,
};
use super::{RsvpSource, StoreError, timestamp};
use crate::domain::{Language, Training, TrainingId, TrainingTitle, TrainingUrl};
use crate::privacy::{ContactHash, Sealed};

type Item = HashMap<String, AttributeValue>;

/// The `gsi1pk` of every training: the catalog's partition in the index.
const CATALOG_KEY: &str = "TRAININGS";

/// Attempts at a registration whose transaction was cancelled by a concurrent one.
const TRANSACTION_ATTEMPTS: u32 = 4;

#[derive(Debug, Clone)]
pub struct DynamoTrainingStore {
    client: Client,
    table: String,
}

impl DynamoTrainingStore {
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
struct TrainingItem {
    pk: String,
    sk: String,
    entity: String,
    id: String,
    title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    title_es: Option<String>,
    starts_at: String,
    ends_at: String,
    time_zone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    join_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recording_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recording_published_at: Option<String>,
    created_at: String,
    gsi1pk: String,
    gsi1sk: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct RegistrationItem {
    pk: String,
    sk: String,
    entity: String,
    training_id: String,
    contact_hash: String,
    status: TrainingRegistrationStatus,
    source: RsvpSource,
    language: Language,
    /// Sealed with `<contact hash>|first_name`.
    first_name_sealed: Sealed,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    referral: Option<String>,
    starts_at: String,
    created_at: String,
    gsi1pk: String,
    gsi1sk: String,
}

// ---------------------------------------------------------------------------------------------------------
// Keys

fn training_pk(id: &TrainingId) -> String {
    format!("TRAINING#{}", id.as_str())
}

fn registration_sk(contact: &ContactHash) -> String {
    format!("REG#{}", contact.as_str())
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

fn parse_url(what: &str, text: &str) -> Result<TrainingUrl, StoreError> {
    TrainingUrl::parse(text).map_err(|e| corrupt(what, e))
}

impl TrainingItem {
    fn from_training(t: &Training, now: OffsetDateTime) -> Self {
        Self {
            pk: training_pk(&t.id),
            sk: "TRAINING".into(),
            entity: "training".into(),
            id: t.id.as_str().to_string(),
            title: t.title.as_str().to_string(),
            title_es: t.title_es.as_ref().map(|s| s.as_str().to_string()),
            starts_at: timestamp(t.starts_at),
            ends_at: timestamp(t.ends_at),
            time_zone: t.time_zone.clone(),
            join_url: t.join_url.as_ref().map(|u| u.as_str().to_string()),
            recording_url: t.recording_url.as_ref().map(|u| u.as_str().to_string()),
            recording_published_at: t.recording_published_at.map(timestamp),
            created_at: timestamp(now),
            gsi1pk: CATALOG_KEY.into(),
            gsi1sk: format!("{}#{}", timestamp(t.starts_at), t.id.as_str()),
        }
    }

    fn into_training(self) -> Result<Training, StoreError> {
        let title =
            |what: &str, text: &str| TrainingTitle::parse(text).map_err(|e| corrupt(what, e));
        Ok(Training {
            id: TrainingId::parse(&self.id).map_err(|e| corrupt("training id", e))?,
            title: title("training title", &self.title)?,
            title_es: self
                .title_es
                .as_deref()
                .map(|t| title("training title_es", t))
                .transpose()?,
            starts_at: parse_time("training starts_at", &self.starts_at)?,
            ends_at: parse_time("training ends_at", &self.ends_at)?,
            time_zone: self.time_zone,
            join_url: self
                .join_url
                .as_deref()
                .map(|u| parse_url("training join_url", u))
                .transpose()?,
            recording_url: self
                .recording_url
                .as_deref()
                .map(|u| parse_url("training recording_url", u))
                .transpose()?,
            recording_published_at: self
                .recording_published_at
                .as_deref()
                .map(|t| parse_time("training recording_published_at", t))
                .transpose()?,
        })
    }
}

impl RegistrationItem {
    fn new(
        r: &NewTrainingRegistration<'_>,
        starts_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Self {
        let training = r.training.as_str();
        Self {
            pk: training_pk(r.training),
            sk: registration_sk(r.contact),
            entity: "training_registration".into(),
            training_id: training.to_string(),
            contact_hash: r.contact.as_str().to_string(),
            status: TrainingRegistrationStatus::Registered,
            source: r.source,
            language: r.language,
            first_name_sealed: r.first_name.clone(),
            referral: r.referral.filter(|r| !r.is_empty()).map(str::to_string),
            starts_at: timestamp(starts_at),
            created_at: timestamp(now),
            gsi1pk: contact_key(r.contact),
            gsi1sk: format!("TRAINING#{}#{training}", timestamp(starts_at)),
        }
    }

    fn into_record(self) -> Result<TrainingRegistration, StoreError> {
        Ok(TrainingRegistration {
            training_id: TrainingId::parse(&self.training_id)
                .map_err(|e| corrupt("registration training id", e))?,
            contact_hash: self.contact_hash,
            status: self.status,
            source: self.source,
            language: self.language,
            first_name: self.first_name_sealed,
            referral: self.referral,
            starts_at: parse_time("registration starts_at", &self.starts_at)?,
            created_at: parse_time("registration created_at", &self.created_at)?,
        })
    }
}

/// Whether a transaction was cancelled (a condition failed, or a concurrent transaction won).
fn is_canceled<R>(err: &SdkError<TransactWriteItemsError, R>) -> bool {
    err.as_service_error()
        .is_some_and(TransactWriteItemsError::is_transaction_canceled_exception)
}

/// Whether a cancelled transaction lost a race with another one (worth retrying).
fn is_conflict<R>(err: &SdkError<TransactWriteItemsError, R>) -> bool {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(e)) => e
            .cancellation_reasons()
            .iter()
            .any(|r| r.code() == Some("TransactionConflict")),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------------------
// Reads

impl DynamoTrainingStore {
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

    async fn training_item(&self, id: &TrainingId) -> Result<Option<TrainingItem>, StoreError> {
        self.get_item(training_pk(id), "TRAINING")
            .await?
            .map(from_item)
            .transpose()
    }

    /// Every item of a `Query` (following pages): of the table when `index` is `None`, else of it.
    async fn query_all(
        &self,
        index: Option<&str>,
        condition: &str,
        values: &[(&str, String)],
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(str::to_string))
                .key_condition_expression(condition)
                .set_exclusive_start_key(start);
            for (name, value) in values {
                query = query.expression_attribute_values(*name, AttributeValue::S(value.clone()));
            }
            if index.is_none() {
                query = query.consistent_read(true);
            }
            let output = query.send().await.map_err(dynamo_err("Query"))?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    fn records(items: Vec<Item>) -> Result<Vec<TrainingRegistration>, StoreError> {
        items
            .into_iter()
            .map(|item| from_item::<RegistrationItem>(item)?.into_record())
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------------------
// Erasure

impl DynamoTrainingStore {
    /// The key of a training registration found under a person's `gsi1pk` (an erasure reads them
    /// there), if the item is one.
    pub fn indexed_registration(item: &Item) -> Option<(String, String)> {
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
        let (pk, sk) = (text("pk")?, text("sk")?);
        (pk.starts_with("TRAINING#") && sk.starts_with("REG#")).then(|| (pk.clone(), sk.clone()))
    }

    /// The write that withdraws a registration (an erasure): deleting it, whether or not it is still
    /// there.
    pub fn withdraw_write(&self, pk: &str, sk: &str) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(pk.to_string(), sk)))
            .build()
            .map_err(dynamo_err("build Delete"))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }
}

// ---------------------------------------------------------------------------------------------------------
// The port

impl TrainingStore for DynamoTrainingStore {
    #[tracing::instrument(name = "store.put_training", skip_all, fields(training = %training.id))]
    async fn put_training(
        &self,
        training: &Training,
        now: OffsetDateTime,
    ) -> Result<PutTraining, StoreError> {
        let item = TrainingItem::from_training(training, now);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&item)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(PutTraining::Created),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(PutTraining::AlreadyExists)
            }
            Err(err) => Err(dynamo_err("PutItem")(err)),
        }
    }

    #[tracing::instrument(name = "store.update_training", skip_all, fields(training = %training.id))]
    async fn update_training(
        &self,
        training: &Training,
        now: OffsetDateTime,
    ) -> Result<UpdateTraining, StoreError> {
        let text = |s: &str| AttributeValue::S(s.to_string());
        let mut set = vec![
            "title = :title",
            "starts_at = :starts",
            "ends_at = :ends",
            "time_zone = :zone",
            "gsi1sk = :order",
            "updated_at = :now",
        ];
        let mut remove = Vec::new();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(training_pk(&training.id), "TRAINING")))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":title", text(training.title.as_str()))
            .expression_attribute_values(
                ":starts",
                AttributeValue::S(timestamp(training.starts_at)),
            )
            .expression_attribute_values(":ends", AttributeValue::S(timestamp(training.ends_at)))
            .expression_attribute_values(":zone", text(&training.time_zone))
            .expression_attribute_values(
                ":order",
                AttributeValue::S(format!(
                    "{}#{}",
                    timestamp(training.starts_at),
                    training.id.as_str()
                )),
            )
            .expression_attribute_values(":now", AttributeValue::S(timestamp(now)));
        match &training.title_es {
            Some(title) => {
                set.push("title_es = :title_es");
                update = update.expression_attribute_values(":title_es", text(title.as_str()));
            }
            None => remove.push("title_es"),
        }
        match &training.join_url {
            Some(url) => {
                set.push("join_url = :join");
                update = update.expression_attribute_values(":join", text(url.as_str()));
            }
            None => remove.push("join_url"),
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        match update.update_expression(expression).send().await {
            Ok(_) => Ok(UpdateTraining::Updated),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(UpdateTraining::NoSuchTraining)
            }
            Err(err) => Err(dynamo_err("UpdateItem")(err)),
        }
    }

    async fn get_training(&self, id: &TrainingId) -> Result<Option<Training>, StoreError> {
        self.training_item(id)
            .await?
            .map(TrainingItem::into_training)
            .transpose()
    }

    async fn trainings(&self) -> Result<Vec<Training>, StoreError> {
        let items = self
            .query_all(
                Some("gsi1"),
                "gsi1pk = :catalog",
                &[(":catalog", CATALOG_KEY.to_string())],
            )
            .await?;
        let mut all = items
            .into_iter()
            .map(|item| from_item::<TrainingItem>(item)?.into_training())
            .collect::<Result<Vec<_>, _>>()?;
        // The index is in this order already; sorting again keeps the promise if its keys drift.
        all.sort_by(|a, b| a.starts_at.cmp(&b.starts_at).then(a.id.cmp(&b.id)));
        Ok(all)
    }

    #[tracing::instrument(name = "store.publish_recording", skip_all, fields(training = %id))]
    async fn publish_recording(
        &self,
        id: &TrainingId,
        url: &TrainingUrl,
        now: OffsetDateTime,
    ) -> Result<Published, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(training_pk(id), "TRAINING")))
            .update_expression("SET recording_url = :url, recording_published_at = :at")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(recording_published_at)",
            )
            .expression_attribute_values(":url", AttributeValue::S(url.as_str().to_string()))
            .expression_attribute_values(":at", AttributeValue::S(timestamp(now)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Published::Published),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                match self.training_item(id).await? {
                    None => Ok(Published::NoSuchTraining),
                    Some(TrainingItem {
                        recording_url: Some(published),
                        ..
                    }) => Ok(Published::AlreadyPublished(parse_url(
                        "training recording_url",
                        &published,
                    )?)),
                    Some(_) => Err(corrupt("training", "published without a recording_url")),
                }
            }
            Err(err) => Err(dynamo_err("UpdateItem")(err)),
        }
    }

    #[tracing::instrument(name = "store.register_training", skip_all, fields(training = %registration.training, source = ?registration.source))]
    async fn register(
        &self,
        registration: NewTrainingRegistration<'_>,
        now: OffsetDateTime,
    ) -> Result<TrainingRegistered, StoreError> {
        let Some(training) = self.training_item(registration.training).await? else {
            return Ok(TrainingRegistered::NoSuchTraining);
        };
        let starts_at = parse_time("training starts_at", &training.starts_at)?;
        let ends_at = parse_time("training ends_at", &training.ends_at)?;
        if now >= ends_at {
            return Ok(TrainingRegistered::Ended);
        }
        let item = RegistrationItem::new(&registration, starts_at, now);
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&item)?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(dynamo_err("build Put"))?;
        // Stored times are fixed-width UTC, so comparing the strings compares the times.
        let open = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(training_pk(registration.training), "TRAINING")))
            .condition_expression("attribute_exists(pk) AND ends_at > :now")
            .expression_attribute_values(":now", AttributeValue::S(timestamp(now)))
            .build()
            .map_err(dynamo_err("build ConditionCheck"))?;
        let writes = vec![
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().condition_check(open).build(),
        ];
        for attempt in 0..TRANSACTION_ATTEMPTS {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(writes.clone()))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(TrainingRegistered::Created),
                Err(err) if is_conflict(&err) && attempt + 1 < TRANSACTION_ATTEMPTS => {
                    let jitter = rand::random_range(0..25u64);
                    tokio::time::sleep(std::time::Duration::from_millis((25 << attempt) + jitter))
                        .await;
                }
                Err(err) if is_canceled(&err) && !is_conflict(&err) => {
                    // A condition failed: they are registered already, or the training went.
                    let registered = self.get_item(item.pk.clone(), &item.sk).await?.is_some();
                    return Ok(if registered {
                        TrainingRegistered::AlreadyRegistered
                    } else if self.training_item(registration.training).await?.is_none() {
                        TrainingRegistered::NoSuchTraining
                    } else {
                        TrainingRegistered::Ended
                    });
                }
                Err(err) => return Err(dynamo_err("TransactWriteItems")(err)),
            }
        }
        Err(StoreError::Corrupt(
            "training registration kept conflicting".into(),
        ))
    }

    async fn registrants(
        &self,
        training: &TrainingId,
    ) -> Result<Vec<TrainingRegistration>, StoreError> {
        let items = self
            .query_all(
                None,
                "pk = :pk AND begins_with(sk, :reg)",
                &[(":pk", training_pk(training)), (":reg", "REG#".into())],
            )
            .await?;
        Self::records(items)
    }

    async fn registrations_of(
        &self,
        contact: &ContactHash,
    ) -> Result<Vec<TrainingRegistration>, StoreError> {
        let items = self
            .query_all(
                Some("gsi1"),
                "gsi1pk = :contact AND begins_with(gsi1sk, :training)",
                &[
                    (":contact", contact_key(contact)),
                    (":training", "TRAINING#".into()),
                ],
            )
            .await?;
        Self::records(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TrainingDraft;
    use crate::privacy::{ContactHasher, Sealer, field_context};

    fn training() -> Training {
        TrainingDraft {
            title: TrainingTitle::parse("Overview training").unwrap(),
            title_es: Some(TrainingTitle::parse("Entrenamiento general").unwrap()),
            starts_at: OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap(),
            duration: time::Duration::minutes(60),
            time_zone: "America/New_York".into(),
            join_url: Some(TrainingUrl::parse("https://rising.invalid/join/overview").unwrap()),
            recording_url: Some(TrainingUrl::parse("https://rising.invalid/r/overview").unwrap()),
            recording_published_at: Some(
                OffsetDateTime::from_unix_timestamp(1_900_010_000).unwrap(),
            ),
        }
        .build(TrainingId::parse("overview").unwrap())
        .unwrap()
    }

    #[test]
    fn a_training_item_round_trips_and_sits_in_the_catalog_by_start_time() {
        let t = training();
        let item = to_item(&TrainingItem::from_training(&t, t.starts_at)).unwrap();
        assert_eq!(item["pk"].as_s().unwrap(), "TRAINING#overview");
        assert_eq!(item["sk"].as_s().unwrap(), "TRAINING");
        assert_eq!(item["gsi1pk"].as_s().unwrap(), "TRAININGS");
        assert_eq!(
            item["gsi1sk"].as_s().unwrap(),
            "2030-03-17T17:46:40.000Z#overview"
        );
        let back = from_item::<TrainingItem>(item)
            .unwrap()
            .into_training()
            .unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn an_unpublished_training_item_has_no_recording_attributes() {
        let mut t = training();
        t.recording_url = None;
        t.recording_published_at = None;
        t.title_es = None;
        let item = to_item(&TrainingItem::from_training(&t, t.starts_at)).unwrap();
        for name in ["recording_url", "recording_published_at", "title_es"] {
            assert!(!item.contains_key(name), "{name}");
        }
        let back = from_item::<TrainingItem>(item)
            .unwrap()
            .into_training()
            .unwrap();
        assert_eq!(back, t);
    }

    #[tokio::test]
    async fn a_registration_item_is_found_by_person_and_holds_the_name_only_sealed() {
        let t = training();
        let contact = ContactHasher::from_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
            .unwrap()
            .phone(&crate::domain::PhoneNumber::parse("+12025550123").unwrap());
        let sealer = Sealer::in_memory();
        let name = sealer
            .seal(&field_context(&contact, "first_name"), "Rosalind")
            .await
            .unwrap();
        let new = NewTrainingRegistration {
            training: &t.id,
            contact: &contact,
            language: Language::Es,
            first_name: &name,
            source: RsvpSource::Sms,
            referral: None,
        };
        let item = to_item(&RegistrationItem::new(&new, t.starts_at, t.starts_at)).unwrap();
        let text = format!("{item:?}");
        assert!(
            !text.contains("Rosalind") && !text.contains("2025550123"),
            "{text}"
        );
        assert_eq!(item["pk"].as_s().unwrap(), "TRAINING#overview");
        assert_eq!(
            item["sk"].as_s().unwrap(),
            &format!("REG#{}", contact.as_str())
        );
        assert_eq!(
            item["gsi1pk"].as_s().unwrap(),
            &format!("CONTACT#{}", contact.as_str())
        );
        assert_eq!(
            item["gsi1sk"].as_s().unwrap(),
            "TRAINING#2030-03-17T17:46:40.000Z#overview"
        );
        assert_eq!(item["status"].as_s().unwrap(), "registered");
        assert_eq!(item["source"].as_s().unwrap(), "sms");
        assert!(!item.contains_key("referral"));
        assert_eq!(
            DynamoTrainingStore::indexed_registration(&item),
            Some((
                "TRAINING#overview".to_string(),
                format!("REG#{}", contact.as_str())
            ))
        );
        let record = from_item::<RegistrationItem>(item)
            .unwrap()
            .into_record()
            .unwrap();
        assert_eq!(record.first_name, name);
        assert_eq!(record.starts_at, t.starts_at);
    }

    #[test]
    fn an_rsvp_or_a_training_is_not_taken_for_a_registration() {
        let item = |pk: &str, sk: &str| -> Item {
            HashMap::from([
                ("pk".into(), AttributeValue::S(pk.into())),
                ("sk".into(), AttributeValue::S(sk.into())),
            ])
        };
        assert_eq!(
            DynamoTrainingStore::indexed_registration(&item("GATHERING#g1", "RSVP#p.abc")),
            None
        );
        assert_eq!(
            DynamoTrainingStore::indexed_registration(&item("TRAINING#overview", "TRAINING")),
            None
        );
    }
}

//! DynamoDB adapter of [`CampaignStats`]: one counters item per UTC day, `STATS` / `DAY#<yyyy-mm-dd>`
//! (see the module doc for its attributes).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use super::{CampaignStats, Counts, Overview};
use crate::store::StoreError;
use crate::store::dynamo_util::dynamo_err;

/// The partition of the campaign's counters.
pub const STATS_PK: &str = "STATS";
/// The sort key prefix of a day's counters.
const DAY_PREFIX: &str = "DAY#";

#[derive(Debug, Clone)]
pub struct DynamoCampaignStats {
    client: Client,
    table: String,
}

impl DynamoCampaignStats {
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

/// A day as its sort key names it.
const DAY_FORMAT: &[BorrowedFormatItem<'_>] = format_description!("[year]-[month]-[day]");

fn day_text(day: Date) -> String {
    day.format(DAY_FORMAT).unwrap_or_default()
}

fn parse_day(text: &str) -> Option<Date> {
    Date::parse(text, DAY_FORMAT).ok()
}

fn counts_of(item: &HashMap<String, AttributeValue>) -> Result<Counts, StoreError> {
    let mut counts = Counts::default();
    for (name, value) in counts.slots() {
        if let Some(v) = item.get(name) {
            *value = v.as_n().ok().and_then(|n| n.parse().ok()).ok_or_else(|| {
                StoreError::Corrupt(format!("stats counter {name} is not a count"))
            })?;
        }
    }
    Ok(counts)
}

impl CampaignStats for DynamoCampaignStats {
    #[tracing::instrument(name = "store.add_stats", skip_all)]
    async fn add(&self, day: Date, counts: &Counts, batch: &str) -> Result<(), StoreError> {
        let counters = counts.nonzero();
        if counters.is_empty() {
            return Ok(());
        }
        let day = day_text(day);
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(STATS_PK))
            .key("sk", s(format!("{DAY_PREFIX}{day}")))
            .condition_expression("attribute_not_exists(#last) OR #last <> :batch")
            .expression_attribute_names("#entity", "entity")
            .expression_attribute_names("#day", "day")
            .expression_attribute_names("#updated", "updated_at")
            .expression_attribute_names("#last", "last_batch")
            .expression_attribute_values(":entity", s("stats"))
            .expression_attribute_values(":day", s(day))
            .expression_attribute_values(
                ":now",
                s(crate::store::timestamp(OffsetDateTime::now_utc())),
            )
            .expression_attribute_values(":batch", s(batch));
        let mut adds = Vec::with_capacity(counters.len());
        for (i, (name, value)) in counters.into_iter().enumerate() {
            adds.push(format!("#c{i} :c{i}"));
            update = update
                .expression_attribute_names(format!("#c{i}"), name)
                .expression_attribute_values(
                    format!(":c{i}"),
                    AttributeValue::N(value.to_string()),
                );
        }
        let result = update
            .update_expression(format!(
                "SET #entity = :entity, #day = :day, #updated = :now, #last = :batch ADD {}",
                adds.join(", ")
            ))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // This batch was counted already: the SDK repeated a write whose answer it lost.
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(err) => Err(dynamo_err("UpdateItem")(err)),
        }
    }

    #[tracing::instrument(name = "store.stats_overview", skip_all)]
    async fn overview(&self) -> Result<Overview, StoreError> {
        let mut days = BTreeMap::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :day)")
                .expression_attribute_values(":pk", s(STATS_PK))
                .expression_attribute_values(":day", s(DAY_PREFIX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(dynamo_err("Query"))?;
            for item in output.items.unwrap_or_default() {
                let day = item
                    .get("sk")
                    .and_then(|sk| sk.as_s().ok())
                    .and_then(|sk| sk.strip_prefix(DAY_PREFIX))
                    .and_then(parse_day)
                    .ok_or_else(|| StoreError::Corrupt("a stats item without its day".into()))?;
                days.insert(day, counts_of(&item)?);
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(Overview::of_days(days));
            }
        }
    }
}

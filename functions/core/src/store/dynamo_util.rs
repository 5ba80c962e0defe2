//! Helpers every DynamoDB adapter shares: error mapping, item conversion, the contact key.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;

use super::StoreError;
use crate::privacy::ContactHash;

/// Maps an SDK error of `operation` to a [`StoreError`]. The message is the error's chain of causes
/// ("service error: … ValidationException …", not just "service error"), which names keys and
/// expressions but no personal data: keys are opaque and values are sealed. Raw responses are left
/// out.
pub(crate) fn dynamo_err<E>(operation: &'static str) -> impl FnOnce(E) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |e| {
        let mut message = e.to_string();
        let mut cause = e.source();
        while let Some(c) = cause {
            message.push_str(": ");
            message.push_str(&c.to_string());
            cause = c.source();
        }
        StoreError::Dynamo {
            operation,
            source: message.into(),
        }
    }
}

/// Serializes a record into a DynamoDB item.
pub(crate) fn to_item<T: Serialize>(
    value: &T,
) -> Result<HashMap<String, AttributeValue>, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Writes a record, replacing any item with its key (an unconditional PutItem).
pub(crate) async fn put_item<T: Serialize>(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    value: &T,
) -> Result<(), StoreError> {
    client
        .put_item()
        .table_name(table)
        .set_item(Some(to_item(value)?))
        .send()
        .await
        .map_err(dynamo_err("PutItem"))?;
    Ok(())
}

/// The partition of everything about one contact detail: `CONTACT#<keyed hash>`.
pub(crate) fn contact_key(hash: &ContactHash) -> String {
    format!("CONTACT#{}", hash.as_str())
}

/// Keys per `BatchGetItem` (DynamoDB's limit).
const BATCH_GET_MAX: usize = 100;

/// `BatchGetItem` requests a caller has in flight at once.
const BATCH_GETS_IN_FLIGHT: usize = 4;

/// `BatchGetItem` (consistent reads) over any number of distinct keys of `table`, in requests of 100,
/// up to 4 at a time, each retrying its unprocessed keys with a growing pause; the items found, in
/// no particular order.
pub(crate) async fn batch_get(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    keys: Vec<HashMap<String, AttributeValue>>,
) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
    use futures::{StreamExt as _, TryStreamExt as _};
    let requests = keys
        .chunks(BATCH_GET_MAX)
        .map(|chunk| batch_get_some(client, table, chunk.to_vec()))
        .collect::<Vec<_>>();
    let found: Vec<Vec<_>> = futures::stream::iter(requests)
        .buffer_unordered(BATCH_GETS_IN_FLIGHT)
        .try_collect()
        .await?;
    Ok(found.into_iter().flatten().collect())
}

/// One `BatchGetItem` of at most 100 keys, then its unprocessed keys again until none is left.
async fn batch_get_some(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    mut pending: Vec<HashMap<String, AttributeValue>>,
) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
    let mut found = Vec::new();
    for attempt in 0..8u32 {
        if pending.is_empty() {
            return Ok(found);
        }
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
        }
        let request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
            .set_keys(Some(std::mem::take(&mut pending)))
            .consistent_read(true)
            .build()
            .map_err(dynamo_err("build BatchGetItem"))?;
        let output = client
            .batch_get_item()
            .request_items(table, request)
            .send()
            .await
            .map_err(dynamo_err("BatchGetItem"))?;
        found.extend(
            output
                .responses
                .and_then(|mut r| r.remove(table))
                .unwrap_or_default(),
        );
        pending = output
            .unprocessed_keys
            .and_then(|mut u| u.remove(table))
            .map(|k| k.keys)
            .unwrap_or_default();
    }
    if pending.is_empty() {
        Ok(found)
    } else {
        Err(StoreError::Corrupt(
            "BatchGetItem left keys unprocessed after retries".into(),
        ))
    }
}

/// Items per `BatchWriteItem` (DynamoDB's limit).
const BATCH_WRITE_MAX: usize = 25;

/// `BatchWriteItem` puts of any number of items into `table`, in requests of 25, retrying
/// unprocessed items with a growing pause. Unconditional: for items whose keys are new (random ids).
pub(crate) async fn batch_put(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    items: Vec<HashMap<String, AttributeValue>>,
) -> Result<(), StoreError> {
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    for chunk in items.chunks(BATCH_WRITE_MAX) {
        let mut pending: Vec<WriteRequest> = chunk
            .iter()
            .map(|item| {
                PutRequest::builder()
                    .set_item(Some(item.clone()))
                    .build()
                    .map(|put| WriteRequest::builder().put_request(put).build())
                    .map_err(dynamo_err("build BatchWriteItem"))
            })
            .collect::<Result<_, _>>()?;
        for attempt in 0..8u32 {
            if pending.is_empty() {
                break;
            }
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
            }
            let output = client
                .batch_write_item()
                .request_items(table, std::mem::take(&mut pending))
                .send()
                .await
                .map_err(dynamo_err("BatchWriteItem"))?;
            pending = output
                .unprocessed_items
                .and_then(|mut u| u.remove(table))
                .unwrap_or_default();
        }
        if !pending.is_empty() {
            return Err(StoreError::Corrupt(
                "BatchWriteItem left items unprocessed after retries".into(),
            ));
        }
    }
    Ok(())
}

/// How a transaction guarded by a condition on its first item ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guarded {
    /// Every item was written.
    Written,
    /// The first item's condition failed (the work was done before): nothing was written.
    AlreadyDone,
}

/// Runs `items` as one transaction whose first item carries the guard condition (typically
/// `attribute_not_exists(pk)` on a record of the work). A transaction cancelled because a concurrent
/// one touched the same items (`TransactionConflict`, a busy counter or contact) is tried again after
/// a short random pause, up to `attempts` times; a failed guard is [`Guarded::AlreadyDone`]; any other
/// failed condition is an error.
pub(crate) async fn transact_guarded(
    client: &aws_sdk_dynamodb::Client,
    items: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
    attempts: u32,
) -> Result<Guarded, StoreError> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    use rand::Rng as _;
    let mut attempt = 1;
    loop {
        let err = match client
            .transact_write_items()
            .set_transact_items(Some(items.clone()))
            .send()
            .await
        {
            Ok(_) => return Ok(Guarded::Written),
            Err(err) => err,
        };
        let codes: Vec<Option<String>> = match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(e)) => e
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().filter(|c| *c != "None").map(str::to_owned))
                .collect(),
            _ => return Err(dynamo_err("TransactWriteItems")(err)),
        };
        if codes.first().and_then(Option::as_deref) == Some("ConditionalCheckFailed") {
            return Ok(Guarded::AlreadyDone);
        }
        let conflict = codes
            .iter()
            .any(|c| c.as_deref() == Some("TransactionConflict"));
        if !conflict || attempt >= attempts {
            return Err(dynamo_err("TransactWriteItems")(err));
        }
        let pause = std::time::Duration::from_millis(
            rand::rng().random_range(20..=60) * u64::from(attempt),
        );
        tracing::info!(attempt, "transaction conflict; trying again");
        tokio::time::sleep(pause).await;
        attempt += 1;
    }
}

/// Every item of a query for one key value (`key_name` = `key_value`) on the table (`index` `None`,
/// read consistently) or on an index, following every page.
pub(crate) async fn query_all(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    index: Option<&str>,
    key_name: &str,
    key_value: &str,
) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let output = client
            .query()
            .table_name(table)
            .set_index_name(index.map(str::to_string))
            .key_condition_expression("#key = :key")
            .expression_attribute_names("#key", key_name)
            .expression_attribute_values(":key", AttributeValue::S(key_value.to_string()))
            // A secondary index cannot be read consistently; the table can.
            .set_consistent_read(index.is_none().then_some(true))
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

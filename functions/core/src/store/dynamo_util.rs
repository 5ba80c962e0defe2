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

/// The partition of everything about one contact detail: `CONTACT#<keyed hash>`.
pub(crate) fn contact_key(hash: &ContactHash) -> String {
    format!("CONTACT#{}", hash.as_str())
}

/// Keys per `BatchGetItem` (DynamoDB's limit).
const BATCH_GET_MAX: usize = 100;

/// `BatchGetItem` (consistent reads) over any number of distinct keys of `table`, in requests of 100,
/// retrying unprocessed keys with a growing pause; the items found, in no particular order.
pub(crate) async fn batch_get(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    keys: Vec<HashMap<String, AttributeValue>>,
) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
    let mut found = Vec::new();
    for chunk in keys.chunks(BATCH_GET_MAX) {
        let mut pending = chunk.to_vec();
        for attempt in 0..8u32 {
            if pending.is_empty() {
                break;
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
        if !pending.is_empty() {
            return Err(StoreError::Corrupt(
                "BatchGetItem left keys unprocessed after retries".into(),
            ));
        }
    }
    Ok(found)
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

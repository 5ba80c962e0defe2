//! Helpers every DynamoDB adapter shares: error mapping, item conversion, the contact key.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;

use super::StoreError;
use crate::privacy::ContactHash;

/// Maps an SDK error of `operation` to a [`StoreError`] (the message names no personal data).
pub(crate) fn dynamo_err<E>(operation: &'static str) -> impl FnOnce(E) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |e| StoreError::Dynamo {
        operation,
        source: Box::new(e),
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

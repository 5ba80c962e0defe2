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

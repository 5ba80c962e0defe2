//! The bus and the person ids on AWS: EventBridge `PutEvents` and DynamoDB `BatchGetItem`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::publish::{BusError, EventBus, PersonIds};
use super::{DomainEvent, SOURCE};
use crate::privacy::ContactHash;
use crate::store::StoreError;
use crate::store::dynamo_util::{batch_get, contact_key};

/// rising's bus, by name (`EVENT_BUS_NAME`).
#[derive(Clone)]
pub struct EventBridgeBus {
    client: crate::aws::Lazy<aws_sdk_eventbridge::Client>,
    bus: String,
}

impl EventBridgeBus {
    /// The bus named `bus`, through an EventBridge client made on its first use.
    pub fn from_sdk(sdk: &crate::aws::SdkConfig, bus: impl Into<String>) -> Self {
        Self::new(crate::aws::Lazy::new(sdk, crate::aws::eventbridge), bus)
    }

    pub fn new(
        client: impl Into<crate::aws::Lazy<aws_sdk_eventbridge::Client>>,
        bus: impl Into<String>,
    ) -> Self {
        Self {
            client: client.into(),
            bus: bus.into(),
        }
    }
}

impl EventBus for EventBridgeBus {
    async fn put(&self, events: &[DomainEvent]) -> Result<Vec<bool>, BusError> {
        let entries = events
            .iter()
            .map(|e| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus)
                    .source(SOURCE)
                    .detail_type(&e.kind)
                    .detail(e.detail.to_string())
                    .time(DateTime::from_secs(e.time.unix_timestamp()))
                    .build()
            })
            .collect();
        let output = self
            .client
            .get()
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| {
                BusError(aws_sdk_eventbridge::error::DisplayErrorContext(e).to_string())
            })?;
        let results = output.entries();
        if results.len() != events.len() {
            return Err(BusError(format!(
                "{} results for {} entries",
                results.len(),
                events.len()
            )));
        }
        Ok(results.iter().map(|r| r.error_code().is_none()).collect())
    }
}

/// Reads `person_id` from each contact's `CONTACT#<hash>`/`CONTACT` item.
#[derive(Clone)]
pub struct DynamoPersonIds {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoPersonIds {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl PersonIds for DynamoPersonIds {
    async fn person_ids(
        &self,
        contacts: &[ContactHash],
    ) -> Result<HashMap<ContactHash, String>, StoreError> {
        let keys = contacts
            .iter()
            .map(|c| {
                HashMap::from([
                    ("pk".to_owned(), AttributeValue::S(contact_key(c))),
                    ("sk".to_owned(), AttributeValue::S("CONTACT".to_owned())),
                ])
            })
            .collect();
        let items = batch_get(&self.client, &self.table, keys).await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let hash = item.get("pk")?.as_s().ok()?.strip_prefix("CONTACT#")?;
                let id = item.get("person_id")?.as_s().ok()?;
                Some((ContactHash::parse(hash)?, id.clone()))
            })
            .collect())
    }
}

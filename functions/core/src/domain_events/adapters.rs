//! The bus and the person ids on AWS: EventBridge `PutEvents` and DynamoDB `BatchGetItem`.
//!
//! `PutEvents` is EventBridge's only call here, made through [`AwsJsonClient`] (JSON 1.1, as SSM and
//! KMS): `aws-sdk-eventbridge` compiled the whole EventBridge API (41 s of a two-core release build)
//! into a function that makes one call.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::publish::{BusError, EventBus, PersonIds};
use super::{DomainEvent, SOURCE};
use crate::aws_json::AwsJsonClient;
use crate::privacy::ContactHash;
use crate::store::StoreError;
use crate::store::dynamo_util::{batch_get, contact_key};

/// rising's bus, by name (`EVENT_BUS_NAME`).
#[derive(Clone)]
pub struct EventBridgeBus {
    client: AwsJsonClient,
    bus: String,
}

impl EventBridgeBus {
    /// The bus named `bus`, with the config's region, credentials and endpoint (no network call
    /// until the first `PutEvents`).
    pub fn from_sdk(sdk: &crate::aws::SdkConfig, bus: impl Into<String>) -> Self {
        Self::new(AwsJsonClient::from_sdk(sdk, "events", "AWSEvents"), bus)
    }

    pub fn new(client: AwsJsonClient, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }
}

/// `PutEvents`'s answer: one entry per event, in order, an `ErrorCode` on those not put.
#[derive(serde::Deserialize)]
struct PutEventsAnswer {
    #[serde(rename = "Entries", default)]
    entries: Vec<PutEventsResult>,
}

#[derive(serde::Deserialize)]
struct PutEventsResult {
    #[serde(rename = "ErrorCode", default)]
    error_code: Option<String>,
}

impl EventBus for EventBridgeBus {
    async fn put(&self, events: &[DomainEvent]) -> Result<Vec<bool>, BusError> {
        let entries: Vec<serde_json::Value> = events
            .iter()
            .map(|e| {
                serde_json::json!({
                    "EventBusName": self.bus,
                    "Source": SOURCE,
                    "DetailType": e.kind,
                    "Detail": e.detail.to_string(),
                    // A timestamp is epoch seconds in JSON 1.1.
                    "Time": e.time.unix_timestamp(),
                })
            })
            .collect();
        let answer: PutEventsAnswer = self
            .client
            .call("PutEvents", &serde_json::json!({ "Entries": entries }))
            .await
            .map_err(|e| BusError(e.to_string()))?;
        if answer.entries.len() != events.len() {
            return Err(BusError(format!(
                "{} results for {} entries",
                answer.entries.len(),
                events.len()
            )));
        }
        Ok(answer
            .entries
            .iter()
            .map(|r| r.error_code.as_deref().is_none_or(str::is_empty))
            .collect())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::test_server::scripted;
    use std::sync::atomic::Ordering;
    use time::OffsetDateTime;

    fn bus(endpoint: String) -> EventBridgeBus {
        let sdk = crate::aws::test_server::sdk(Some(endpoint), Some("eu-west-1"));
        EventBridgeBus::from_sdk(&sdk, "rising-bus")
    }

    fn answer(status: &str, body: &str) -> &'static str {
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .leak()
    }

    fn event(kind: &str, unix: i64) -> DomainEvent {
        DomainEvent {
            id: format!("id-{kind}"),
            kind: kind.to_string(),
            time: OffsetDateTime::from_unix_timestamp(unix).unwrap(),
            detail: serde_json::json!({"id": format!("id-{kind}"), "type": kind}),
        }
    }

    #[tokio::test]
    async fn events_are_put_on_the_named_bus_and_each_entry_says_whether_it_went() {
        let (endpoint, _, seen) = scripted(vec![answer(
            "200 OK",
            r#"{"FailedEntryCount":1,"Entries":[{"EventId":"e1"},{"ErrorCode":"InternalFailure","ErrorMessage":"try again"}]}"#,
        )])
        .await;
        let put = bus(endpoint)
            .put(&[
                event("rsvp.created", 1_800_000_000),
                event("host.joined", 1_800_000_060),
            ])
            .await
            .unwrap();
        assert_eq!(put, vec![true, false]);

        let seen = seen.lock().unwrap();
        let (head, body) = seen[0].split_once("\r\n\r\n").unwrap();
        let head = head.to_ascii_lowercase();
        assert!(head.starts_with("post / "), "{head}");
        assert!(head.contains("x-amz-target: awsevents.putevents"), "{head}");
        assert!(
            head.contains("content-type: application/x-amz-json-1.1"),
            "{head}"
        );
        assert!(
            head.contains("/eu-west-1/events/aws4_request"),
            "signed for EventBridge: {head}"
        );
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"Entries": [
                {"EventBusName": "rising-bus", "Source": "rising", "DetailType": "rsvp.created",
                 "Detail": r#"{"id":"id-rsvp.created","type":"rsvp.created"}"#, "Time": 1_800_000_000},
                {"EventBusName": "rising-bus", "Source": "rising", "DetailType": "host.joined",
                 "Detail": r#"{"id":"id-host.joined","type":"host.joined"}"#, "Time": 1_800_000_060},
            ]})
        );
    }

    #[tokio::test]
    async fn a_refused_request_is_a_bus_error_with_the_services_code() {
        let (endpoint, requests, _) = scripted(vec![answer(
            "400 Bad Request",
            r#"{"__type":"ResourceNotFoundException","message":"Event bus rising-bus does not exist."}"#,
        )])
        .await;
        let error = bus(endpoint)
            .put(&[event("rsvp.created", 1_800_000_000)])
            .await
            .unwrap_err();
        assert_eq!(requests.load(Ordering::SeqCst), 1, "not tried again");
        assert_eq!(
            error.to_string(),
            "PutEvents failed: ResourceNotFoundException: Event bus rising-bus does not exist."
        );
    }

    #[tokio::test]
    async fn an_answer_with_another_number_of_entries_is_an_error_not_a_guess() {
        let (endpoint, _, _) = scripted(vec![answer(
            "200 OK",
            r#"{"FailedEntryCount":0,"Entries":[{"EventId":"e1"}]}"#,
        )])
        .await;
        let error = bus(endpoint)
            .put(&[event("a", 1), event("b", 2)])
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "PutEvents failed: 1 results for 2 entries"
        );
    }
}

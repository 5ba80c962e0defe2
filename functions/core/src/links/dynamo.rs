//! DynamoDB adapter of [`LinkStore`], and of the erasure (delegated to the one erasure adapter,
//! [`DynamoInboundStore`], over the same table).

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use serde::Serialize;
use time::OffsetDateTime;

use super::{LinkStore, Suppressed, SuppressionEvidence, UNSUBSCRIBE_SOURCE};
use crate::privacy::ContactHash;
use crate::store::dynamo_util::{contact_key, dynamo_err, to_item};
use crate::store::{
    DynamoGatheringStore, DynamoInboundStore, Erased, Erasure, ErasureStore, StoreError, timestamp,
};

type Item = HashMap<String, AttributeValue>;

/// Times a suppression is tried again after a concurrent transaction on the contact cancelled it.
const SUPPRESS_ATTEMPTS: u32 = 5;

/// Program name recorded with consent evidence.
const PROGRAM: &str = "rising";

#[derive(Debug, Clone)]
pub struct DynamoLinkStore {
    client: Client,
    table: String,
    erasure: DynamoInboundStore,
}

impl DynamoLinkStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        let table = table.into();
        Self {
            erasure: DynamoInboundStore::new(client.clone(), table.clone()),
            client,
            table,
        }
    }
}

/// The evidence of an unsubscribe: how it was asked, no more.
#[derive(Debug, Serialize)]
struct OptOutItem<'a> {
    pk: String,
    sk: String,
    entity: &'static str,
    channel: &'static str,
    action: &'static str,
    source: &'static str,
    method: &'static str,
    language: &'static str,
    program: &'static str,
    reference: &'a str,
    at: String,
}

impl DynamoLinkStore {
    fn suppress_writes(
        &self,
        contact: &ContactHash,
        evidence: &SuppressionEvidence<'_>,
        now: OffsetDateTime,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let at = timestamp(now);
        let key = contact_key(contact);
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(key.clone()))
            .key("sk", AttributeValue::S("CONTACT".into()))
            .update_expression(
                "SET email_suppressed = :true, email_suppressed_at = :now, \
                 entity = if_not_exists(entity, :entity)",
            )
            // Already suppressed: the whole transaction is cancelled and nothing is written.
            .condition_expression(
                "attribute_not_exists(email_suppressed) OR email_suppressed <> :true",
            )
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":now", AttributeValue::S(at.clone()))
            .expression_attribute_values(":entity", AttributeValue::S("contact".into()))
            .build()
            .map_err(dynamo_err("build Update"))?;
        let record = OptOutItem {
            sk: format!("CONSENT#{at}#{}", evidence.reference),
            pk: key,
            entity: "consent",
            channel: "email",
            action: "opt_out",
            source: UNSUBSCRIBE_SOURCE,
            method: evidence.method.as_str(),
            language: evidence.language.code(),
            program: PROGRAM,
            reference: evidence.reference,
            at,
        };
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(&record)?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(dynamo_err("build Put"))?;
        Ok(vec![
            TransactWriteItem::builder().update(update).build(),
            TransactWriteItem::builder().put(put).build(),
        ])
    }

    /// The contact item, read consistently (only the attributes named).
    async fn contact(
        &self,
        contact: &ContactHash,
        projection: &str,
    ) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(contact_key(contact)))
            .key("sk", AttributeValue::S("CONTACT".into()))
            .projection_expression(projection)
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo_err("GetItem"))?;
        Ok(output.item)
    }

    async fn email_suppressed(&self, contact: &ContactHash) -> Result<bool, StoreError> {
        Ok(self
            .contact(contact, "email_suppressed")
            .await?
            .and_then(|item| item.get("email_suppressed").cloned())
            .is_some_and(|v| v == AttributeValue::Bool(true)))
    }

    /// Whether anything an erasure removes is under the contact's key (besides the contact item
    /// and its evidence) or its index key.
    async fn holds_erasable_items(&self, contact: &ContactHash) -> Result<bool, StoreError> {
        let key = contact_key(contact);
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :key")
                .expression_attribute_values(":key", AttributeValue::S(key.clone()))
                .projection_expression("sk")
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(dynamo_err("Query"))?;
            let erasable = output.items().iter().any(|item| {
                let sk = item.get("sk").and_then(|v| v.as_s().ok());
                !sk.is_some_and(|sk| sk == "CONTACT" || sk.starts_with("CONSENT#"))
            });
            if erasable {
                return Ok(true);
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        let indexed = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :key")
            .expression_attribute_values(":key", AttributeValue::S(key))
            .limit(1)
            .send()
            .await
            .map_err(dynamo_err("Query"))?;
        Ok(!indexed.items().is_empty())
    }
}

impl LinkStore for DynamoLinkStore {
    #[tracing::instrument(name = "store.suppress_email", skip_all)]
    async fn suppress_email(
        &self,
        contact: &ContactHash,
        evidence: &SuppressionEvidence<'_>,
        now: OffsetDateTime,
    ) -> Result<Suppressed, StoreError> {
        let mut attempt = 0;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(self.suppress_writes(contact, evidence, now)?))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(Suppressed::Now),
                Err(err) => err,
            };
            let canceled = err
                .as_service_error()
                .is_some_and(|e| e.is_transaction_canceled_exception());
            if !canceled {
                return Err(dynamo_err("TransactWriteItems")(err));
            }
            // Cancelled: either the contact is suppressed already (nothing to do), or a concurrent
            // transaction touched it (try again shortly).
            if self.email_suppressed(contact).await? {
                return Ok(Suppressed::Already);
            }
            attempt += 1;
            if attempt >= SUPPRESS_ATTEMPTS {
                return Err(dynamo_err("TransactWriteItems")(err));
            }
            let jitter = rand::random_range(0..25u64);
            tokio::time::sleep(std::time::Duration::from_millis((25 << attempt) + jitter)).await;
        }
    }

    async fn erasure_complete(&self, contact: &ContactHash) -> Result<bool, StoreError> {
        let erased = self
            .contact(contact, "erased_at")
            .await?
            .is_some_and(|item| item.contains_key("erased_at"));
        if !erased {
            return Ok(false);
        }
        Ok(!self.holds_erasable_items(contact).await?)
    }
}

impl ErasureStore<DynamoGatheringStore> for DynamoLinkStore {
    async fn erase_contact(
        &self,
        gatherings: &DynamoGatheringStore,
        erasure: &Erasure<'_>,
        now: OffsetDateTime,
    ) -> Result<Erased, StoreError> {
        self.erasure.erase_contact(gatherings, erasure, now).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Language;
    use crate::links::UnsubscribeMethod;

    fn store() -> DynamoLinkStore {
        let config = aws_sdk_dynamodb::Config::builder()
            .http_client(crate::aws::http_client())
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .build();
        DynamoLinkStore::new(Client::from_conf(config), "rising")
    }

    #[test]
    fn an_unsubscribe_is_one_conditional_update_of_the_contact_and_its_evidence() {
        let contact = ContactHash::parse("e.abc").unwrap();
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let evidence = SuppressionEvidence {
            reference: "req-1",
            method: UnsubscribeMethod::OneClick,
            language: Language::Es,
        };
        let writes = store().suppress_writes(&contact, &evidence, now).unwrap();
        assert_eq!(writes.len(), 2);
        let update = writes[0].update().unwrap();
        assert_eq!(
            update.key()["pk"],
            AttributeValue::S("CONTACT#e.abc".into())
        );
        assert_eq!(update.key()["sk"], AttributeValue::S("CONTACT".into()));
        assert!(
            update
                .update_expression()
                .contains("email_suppressed = :true")
        );
        assert_eq!(
            update.expression_attribute_values().unwrap()[":true"],
            AttributeValue::Bool(true),
            "the send worker's gate reads a BOOL"
        );
        assert!(update.condition_expression().is_some());
        let item = writes[1].put().unwrap().item();
        let s = |name: &str| item[name].as_s().unwrap().as_str();
        assert_eq!(s("pk"), "CONTACT#e.abc");
        assert_eq!(s("sk"), "CONSENT#2027-01-15T08:00:00.000Z#req-1");
        assert_eq!(
            (
                s("action"),
                s("channel"),
                s("source"),
                s("method"),
                s("language")
            ),
            ("opt_out", "email", "unsubscribe_link", "one_click", "es")
        );
    }
}

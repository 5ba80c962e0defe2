//! DynamoDB adapter of the follow-up port. Reads the person's contact item (`CONTACT#<hash>` /
//! `CONTACT`) and the contacts it lists in `linked_contacts`, two `BatchGetItem` rounds for any
//! number of people; keeps sweep cursors in `SWEEP#<sweep>` / `SWEEP`.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::dynamo_util::{batch_get, contact_key, dynamo_err};
use super::followup::{FollowUpStore, Reach, SWEEP_TTL, SealedAddress};
use super::{StoreError, timestamp};
use crate::privacy::{ContactHash, Sealed};

type Item = HashMap<String, AttributeValue>;

#[derive(Debug, Clone)]
pub struct DynamoFollowUpStore {
    client: Client,
    table: String,
}

impl DynamoFollowUpStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn contacts(&self, hashes: &[ContactHash]) -> Result<HashMap<String, Item>, StoreError> {
        let mut keys = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for hash in hashes {
            if seen.insert(hash.as_str()) {
                keys.push(HashMap::from([
                    ("pk".to_owned(), AttributeValue::S(contact_key(hash))),
                    ("sk".to_owned(), AttributeValue::S("CONTACT".to_owned())),
                ]));
            }
        }
        let mut found = HashMap::new();
        for item in batch_get(&self.client, &self.table, keys).await? {
            if let Some(pk) = text(&item, "pk").and_then(|pk| pk.strip_prefix("CONTACT#")) {
                found.insert(pk.to_owned(), item);
            }
        }
        Ok(found)
    }
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn sweep_key(sweep: &str) -> Item {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(format!("SWEEP#{sweep}"))),
        ("sk".to_owned(), AttributeValue::S("SWEEP".to_owned())),
    ])
}

/// The sealed address a contact item holds, if any (never both: one item per contact detail).
fn address(
    hash: &str,
    item: &Item,
) -> Result<(Option<SealedAddress>, Option<SealedAddress>), StoreError> {
    let Some(contact) = ContactHash::parse(hash) else {
        return Ok((None, None));
    };
    let sealed = |name: &str| -> Result<Option<SealedAddress>, StoreError> {
        text(item, name)
            .map(|s| {
                Sealed::parse(s)
                    .map(|sealed| SealedAddress {
                        contact: contact.clone(),
                        sealed,
                    })
                    .map_err(|_| StoreError::Corrupt(format!("contact {name}")))
            })
            .transpose()
    };
    Ok((sealed("email_sealed")?, sealed("phone_sealed")?))
}

impl FollowUpStore for DynamoFollowUpStore {
    #[tracing::instrument(name = "store.reach", skip_all, fields(people = people.len()))]
    async fn reach(&self, people: &[ContactHash]) -> Result<Vec<Reach>, StoreError> {
        let persons = self.contacts(people).await?;
        let linked: Vec<ContactHash> = persons
            .values()
            .filter_map(|item| item.get("linked_contacts"))
            .filter_map(|v| v.as_ss().ok())
            .flatten()
            .filter_map(|h| ContactHash::parse(h))
            .collect();
        let others = if linked.is_empty() {
            HashMap::new()
        } else {
            self.contacts(&linked).await?
        };
        let mut reach = Vec::new();
        for person in people {
            let Some(item) = persons.get(person.as_str()) else {
                continue;
            };
            let (mut email, mut sms) = address(person.as_str(), item)?;
            let links = item
                .get("linked_contacts")
                .and_then(|v| v.as_ss().ok())
                .cloned()
                .unwrap_or_default();
            for hash in links {
                if let Some(other) = others.get(&hash) {
                    let (e, s) = address(&hash, other)?;
                    email = email.or(e);
                    sms = sms.or(s);
                }
            }
            if email.is_none() && sms.is_none() {
                continue;
            }
            reach.push(Reach {
                person: person.clone(),
                zip: text(item, "zip").map(str::to_owned),
                email,
                sms,
            });
        }
        Ok(reach)
    }

    async fn swept_through(&self, sweep: &str) -> Result<Option<OffsetDateTime>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(sweep_key(sweep)))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo_err("GetItem"))?;
        output
            .item
            .as_ref()
            .and_then(|item| text(item, "through"))
            .map(|t| {
                OffsetDateTime::parse(t, &Rfc3339)
                    .map_err(|_| StoreError::Corrupt("sweep through".into()))
            })
            .transpose()
    }

    async fn sweep(
        &self,
        sweep: &str,
        through: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(sweep_key(sweep)))
            .update_expression("SET entity = :entity, through = :through, expires_at = :expires")
            .condition_expression("attribute_not_exists(through) OR through < :through")
            .expression_attribute_values(":entity", AttributeValue::S("sweep".into()))
            .expression_attribute_values(":through", AttributeValue::S(timestamp(through)))
            .expression_attribute_values(
                ":expires",
                AttributeValue::N((now + SWEEP_TTL).unix_timestamp().to_string()),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Another run got as far or further: nothing to record.
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
}

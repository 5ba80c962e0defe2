//! DynamoDB adapter of [`RegistrationStore`]. Items (see the table in `store/mod.rs`):
//! the contacts (`CONTACT#<hash>`/`CONTACT`), their consent evidence
//! (`CONTACT#<hash>`/`CONSENT#<time>#form-<submission>`), the referral code
//! (`REFERRAL#<code>`/`REFERRAL`), the submission (`SUBMISSION#<id>`/`SUBMISSION`, TTL) and the
//! rate-limit windows (`RATE#<key>`/`WINDOW#<start>`, TTL).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use super::dynamo_util::{contact_key, dynamo_err, to_item};
use super::registration::{
    ConsentedContact, PersonRecord, Recorded, RegistrationStore, SUBMISSION_TTL, window_start,
};
use super::{StoreError, timestamp};
use crate::privacy::ContactHash;

/// The programme named in consent evidence.
const PROGRAM: &str = "rising";

#[derive(Debug, Clone)]
pub struct DynamoRegistrationStore {
    client: Client,
    table: String,
}

impl DynamoRegistrationStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn submission_key(id: &str) -> String {
        format!("SUBMISSION#{id}")
    }

    fn put(
        &self,
        item: std::collections::HashMap<String, AttributeValue>,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .map_err(dynamo_err("build Put"))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// The submission guard: written once; a live one cancels the transaction (a retry).
    fn submission_guard(
        &self,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(Self::submission_key(id)))
            .item("sk", AttributeValue::S("SUBMISSION".into()))
            .item("entity", AttributeValue::S("submission".into()))
            .item("created_at", AttributeValue::S(timestamp(now)))
            .item(
                "expires_at",
                AttributeValue::N((now + SUBMISSION_TTL).unix_timestamp().to_string()),
            )
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
            .expression_attribute_values(
                ":now",
                AttributeValue::N(now.unix_timestamp().to_string()),
            )
            .build()
            .map_err(dynamo_err("build Put"))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// The person's own contact: names, ZIP, language, referral code, how they joined.
    fn person_update(
        &self,
        person: &PersonRecord<'_>,
        now: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut set = vec![
            "entity = :entity",
            "first_name_sealed = :first",
            "zip = :zip",
            "#lang = :lang",
            "referral_code = :code",
            "updated_at = :now",
            "created_at = if_not_exists(created_at, :now)",
            "join_source = if_not_exists(join_source, :form)",
            "person_id = if_not_exists(person_id, :pid)",
        ];
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(contact_key(person.person)))
            .key("sk", AttributeValue::S("CONTACT".into()))
            .expression_attribute_names("#lang", "language")
            .expression_attribute_values(":entity", AttributeValue::S("contact".into()))
            .expression_attribute_values(
                ":first",
                AttributeValue::S(person.first_name.as_str().into()),
            )
            .expression_attribute_values(":zip", AttributeValue::S(person.zip.into()))
            .expression_attribute_values(":lang", AttributeValue::S(person.language.code().into()))
            .expression_attribute_values(":code", AttributeValue::S(person.referral_code.into()))
            .expression_attribute_values(":now", AttributeValue::S(now.into()))
            .expression_attribute_values(":form", AttributeValue::S("form".into()))
            .expression_attribute_values(":pid", AttributeValue::S(crate::ids::random_id()));
        if let Some(last) = person.last_name {
            set.push("last_name_sealed = :last");
            update = update
                .expression_attribute_values(":last", AttributeValue::S(last.as_str().into()));
        }
        if let Some(code) = person.referred_by {
            set.push("referred_by = if_not_exists(referred_by, :by)");
            update = update.expression_attribute_values(":by", AttributeValue::S(code.into()));
        }
        if person.wants_to_host {
            set.push("wants_to_host = :host");
            update = update.expression_attribute_values(":host", AttributeValue::Bool(true));
        }
        // The phone and email contacts are written below; when one of them is the person's own
        // contact, its fields go in this same update (one item, one write).
        let mut expression = format!("SET {}", set.join(", "));
        let mut remove = Vec::new();
        for (channel, given) in [("sms", &person.sms), ("email", &person.email)] {
            let Some(given) = given else { continue };
            if given.contact != person.person {
                continue;
            }
            let (fields, removes) = channel_fields(channel);
            expression.push_str(", ");
            expression.push_str(&fields.join(", "));
            remove.extend(removes);
            update = bind_channel(update, channel, given);
        }
        if !remove.is_empty() {
            expression.push_str(" REMOVE ");
            expression.push_str(&remove.join(", "));
        }
        // The person's other contact details, so an erasure of either finds the other.
        let others: Vec<String> = [&person.sms, &person.email]
            .into_iter()
            .flatten()
            .filter(|given| given.contact != person.person)
            .map(|given| given.contact.as_str().to_owned())
            .collect();
        if !others.is_empty() {
            expression.push_str(" ADD linked_contacts :linked");
            update = update.expression_attribute_values(":linked", AttributeValue::Ss(others));
        }
        let update = update
            .update_expression(expression)
            .build()
            .map_err(dynamo_err("build Update"))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// A contact that is not the person's key (their email when they also gave a phone).
    fn other_contact_update(
        &self,
        channel: &'static str,
        given: &ConsentedContact<'_>,
        person: &PersonRecord<'_>,
        now: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let (fields, removes) = channel_fields(channel);
        let mut expression = format!(
            "SET entity = :entity, #lang = :lang, person_hash = :person, updated_at = :now, \
             created_at = if_not_exists(created_at, :now), {}",
            fields.join(", ")
        );
        if !removes.is_empty() {
            expression.push_str(" REMOVE ");
            expression.push_str(&removes.join(", "));
        }
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(contact_key(given.contact)))
            .key("sk", AttributeValue::S("CONTACT".into()))
            .update_expression(expression)
            .expression_attribute_names("#lang", "language")
            .expression_attribute_values(":entity", AttributeValue::S("contact".into()))
            .expression_attribute_values(":lang", AttributeValue::S(person.language.code().into()))
            .expression_attribute_values(
                ":person",
                AttributeValue::S(person.person.as_str().into()),
            )
            .expression_attribute_values(":now", AttributeValue::S(now.into()));
        let update = bind_channel(update, channel, given)
            .build()
            .map_err(dynamo_err("build Update"))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    fn consent_put(
        &self,
        channel: &'static str,
        given: &ConsentedContact<'_>,
        person: &PersonRecord<'_>,
        at: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        self.put(to_item(&ConsentItem {
            pk: contact_key(given.contact),
            sk: format!("CONSENT#{at}#form-{}", person.submission),
            entity: "consent",
            channel,
            action: "opt_in",
            source: "form",
            language: person.language.code(),
            program: PROGRAM,
            keyword: "FORM",
            wording: given.wording,
            submission_id: person.submission,
            origin: person.origin,
            at: at.to_owned(),
        })?)
    }

    fn referral_put(
        &self,
        person: &PersonRecord<'_>,
        now: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .item(
                "pk",
                AttributeValue::S(format!("REFERRAL#{}", person.referral_code)),
            )
            .item("sk", AttributeValue::S("REFERRAL".into()))
            .item("entity", AttributeValue::S("referral".into()))
            .item(
                "contact_hash",
                AttributeValue::S(person.person.as_str().into()),
            )
            .item("created_at", AttributeValue::S(now.into()))
            // The code derives from the person's hash: the same person always writes the same item.
            .condition_expression("attribute_not_exists(pk) OR contact_hash = :person")
            .expression_attribute_values(
                ":person",
                AttributeValue::S(person.person.as_str().into()),
            )
            .build()
            .map_err(dynamo_err("build Put"))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    async fn submission_item(
        &self,
        id: &str,
    ) -> Result<Option<std::collections::HashMap<String, AttributeValue>>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(Self::submission_key(id)))
            .key("sk", AttributeValue::S("SUBMISSION".into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo_err("GetItem"))?;
        Ok(output.item)
    }
}

/// The fields a consented channel sets on its contact. SMS: the sealed number and, unless the
/// number opted out by text (STOP outranks a web form: they text START to come back), `opted_in`.
/// Email: the sealed address and `opted_in`; a new sign-up lifts an earlier unsubscribe (it is a new,
/// explicit consent, with its own evidence) but never an erasure's suppression (anyone can type an
/// address into a form).
fn channel_fields(channel: &str) -> (Vec<&'static str>, Vec<&'static str>) {
    match channel {
        "sms" => (
            vec![
                "phone_sealed = :sms_address",
                "sms_status = if_not_exists(sms_status, :opted_in)",
                "sms_status_at = if_not_exists(sms_status_at, :now)",
                "sms_consent_source = :form",
            ],
            vec![],
        ),
        _ => (
            vec![
                "email_sealed = :email_address",
                "email_status = :opted_in",
                "email_status_at = :now",
                "email_status_source = :form",
            ],
            vec!["email_suppressed"],
        ),
    }
}

fn bind_channel(
    update: aws_sdk_dynamodb::types::builders::UpdateBuilder,
    channel: &str,
    given: &ConsentedContact<'_>,
) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
    let name = if channel == "sms" {
        ":sms_address"
    } else {
        ":email_address"
    };
    update
        .expression_attribute_values(name, AttributeValue::S(given.address.as_str().into()))
        .expression_attribute_values(":opted_in", AttributeValue::S("opted_in".into()))
        .expression_attribute_values(":form", AttributeValue::S("form".into()))
}

#[derive(Serialize)]
struct ConsentItem<'a> {
    pk: String,
    sk: String,
    entity: &'static str,
    channel: &'static str,
    action: &'static str,
    source: &'static str,
    language: &'static str,
    program: &'static str,
    keyword: &'static str,
    wording: &'a str,
    submission_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    origin: Option<&'a str>,
    at: String,
}

impl RegistrationStore for DynamoRegistrationStore {
    #[tracing::instrument(name = "store.finished_submission", skip_all)]
    async fn finished_submission(
        &self,
        submission: &str,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        let Some(item) = self.submission_item(submission).await? else {
            return Ok(None);
        };
        let live = item
            .get("expires_at")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|t| t > now.unix_timestamp());
        if !live {
            return Ok(None);
        }
        Ok(item.get("answer").and_then(|v| v.as_s().ok()).cloned())
    }

    #[tracing::instrument(name = "store.allow", skip_all)]
    async fn remaining(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<u32, StoreError> {
        let start = window_start(now, window);
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(format!("RATE#{key}")))
            .key("sk", AttributeValue::S(format!("WINDOW#{start}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo_err("GetItem"))?;
        let used = output
            .item
            .and_then(|item| item.get("attempts").and_then(|v| v.as_n().ok()).cloned())
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0);
        Ok(limit.saturating_sub(used))
    }

    async fn take(
        &self,
        key: &str,
        count: u32,
        limit: u32,
        window: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        if count == 0 {
            return Ok(true);
        }
        let Some(room) = limit.checked_sub(count) else {
            return Ok(false);
        };
        let start = window_start(now, window);
        let expires = start + window.whole_seconds() + 60;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(format!("RATE#{key}")))
            .key("sk", AttributeValue::S(format!("WINDOW#{start}")))
            .update_expression("SET entity = :entity, expires_at = :exp ADD attempts :one")
            .condition_expression("attribute_not_exists(attempts) OR attempts <= :room")
            .expression_attribute_values(":entity", AttributeValue::S("rate_window".into()))
            .expression_attribute_values(":exp", AttributeValue::N(expires.to_string()))
            .expression_attribute_values(":one", AttributeValue::N(count.to_string()))
            .expression_attribute_values(":room", AttributeValue::N(room.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(dynamo_err("UpdateItem")(e)),
        }
    }

    #[tracing::instrument(name = "store.record_person", skip_all)]
    async fn record_person(
        &self,
        person: &PersonRecord<'_>,
        now: OffsetDateTime,
    ) -> Result<Recorded, StoreError> {
        let at = timestamp(now);
        let mut items = vec![
            self.submission_guard(person.submission, now)?,
            self.person_update(person, &at)?,
            self.referral_put(person, &at)?,
        ];
        for (channel, given) in [("sms", &person.sms), ("email", &person.email)] {
            let Some(given) = given else { continue };
            if given.contact != person.person {
                items.push(self.other_contact_update(channel, given, person, &at)?);
            }
            items.push(self.consent_put(channel, given, person, &at)?);
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Recorded::Written),
            Err(err) => {
                let canceled = err
                    .as_service_error()
                    .is_some_and(|e| e.is_transaction_canceled_exception());
                // Cancelled: most likely by the submission guard (a retry, or a double click racing
                // the first). Tell it from a real conflict by reading the guard.
                if canceled
                    && let Some(item) = self.submission_item(person.submission).await?
                    && item
                        .get("expires_at")
                        .and_then(|v| v.as_n().ok())
                        .and_then(|v| v.parse::<i64>().ok())
                        .is_some_and(|t| t > now.unix_timestamp())
                {
                    return Ok(Recorded::AlreadyRecorded);
                }
                Err(dynamo_err("TransactWriteItems")(err))
            }
        }
    }

    #[tracing::instrument(name = "store.finish_submission", skip_all)]
    async fn finish_submission(
        &self,
        submission: &str,
        answer: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(Self::submission_key(submission)))
            .key("sk", AttributeValue::S("SUBMISSION".into()))
            .update_expression(
                "SET answer = :answer, finished_at = :now, expires_at = :exp, entity = :entity",
            )
            .expression_attribute_values(":answer", AttributeValue::S(answer.into()))
            .expression_attribute_values(":now", AttributeValue::S(timestamp(now)))
            .expression_attribute_values(":entity", AttributeValue::S("submission".into()))
            .expression_attribute_values(
                ":exp",
                AttributeValue::N((now + SUBMISSION_TTL).unix_timestamp().to_string()),
            )
            .send()
            .await
            .map_err(dynamo_err("UpdateItem"))?;
        Ok(())
    }

    #[tracing::instrument(name = "store.referrer", skip_all)]
    async fn referrer(&self, code: &str) -> Result<Option<ContactHash>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(format!("REFERRAL#{code}")))
            .key("sk", AttributeValue::S("REFERRAL".into()))
            .send()
            .await
            .map_err(dynamo_err("GetItem"))?;
        Ok(output
            .item
            .and_then(|item| {
                item.get("contact_hash")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
            })
            .and_then(|text| ContactHash::parse(&text)))
    }
}

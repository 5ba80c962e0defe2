//! DynamoDB adapter of [`InviteStore`]. Items (see the table in `store/mod.rs`):
//! `INVITE#<code>` / `INVITE` (one per invitation; `gsi1pk` = the invited contact's key, so an
//! erasure finds it) and `GATHERING#<id>` / `BATCH#<created_at>#<batch id>` (one per batch).

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::dynamo_util::{batch_get, batch_put, contact_key, dynamo_err, to_item};
use super::invite::{Invite, InviteBatch, InviteStore};
use super::{StoreError, timestamp};
use crate::domain::GatheringId;
use crate::outbound::{BatchId, Channel, OutboundId};
use crate::privacy::ContactHash;

type Item = HashMap<String, AttributeValue>;

#[derive(Debug, Clone)]
pub struct DynamoInviteStore {
    client: Client,
    table: String,
}

impl DynamoInviteStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct InviteItem {
    pk: String,
    sk: String,
    entity: String,
    code: String,
    gathering_id: String,
    host_hash: String,
    batch_id: String,
    channel: Channel,
    contact_hash: String,
    message_id: String,
    created_at: String,
    expires_at: i64,
    gsi1pk: String,
    gsi1sk: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct BatchItem {
    pk: String,
    sk: String,
    entity: String,
    batch_id: String,
    gathering_id: String,
    host_hash: String,
    sms: u32,
    email: u32,
    created_at: String,
    expires_at: i64,
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} has an unexpected shape"))
}

fn parse_time(text: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|_| corrupt("a time"))
}

fn at(unix: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp(unix).map_err(|_| corrupt("an expiry"))
}

impl InviteItem {
    fn new(invite: &Invite) -> Self {
        Self {
            pk: format!("INVITE#{}", invite.code),
            sk: "INVITE".into(),
            entity: "invite".into(),
            code: invite.code.clone(),
            gathering_id: invite.gathering.as_str().into(),
            host_hash: invite.host.as_str().into(),
            batch_id: invite.batch.as_str().into(),
            channel: invite.channel,
            contact_hash: invite.contact.as_str().into(),
            message_id: invite.message.as_str().into(),
            created_at: timestamp(invite.created_at),
            expires_at: invite.expires_at.unix_timestamp(),
            gsi1pk: contact_key(&invite.contact),
            gsi1sk: format!("INVITE#{}", invite.code),
        }
    }

    fn into_invite(self) -> Result<Invite, StoreError> {
        Ok(Invite {
            gathering: GatheringId::parse(&self.gathering_id).map_err(|_| corrupt("an invite"))?,
            host: ContactHash::parse(&self.host_hash).ok_or_else(|| corrupt("an invite"))?,
            batch: BatchId::parse(&self.batch_id).ok_or_else(|| corrupt("an invite"))?,
            channel: self.channel,
            contact: ContactHash::parse(&self.contact_hash).ok_or_else(|| corrupt("an invite"))?,
            message: OutboundId::parse(&self.message_id).ok_or_else(|| corrupt("an invite"))?,
            created_at: parse_time(&self.created_at)?,
            expires_at: at(self.expires_at)?,
            code: self.code,
        })
    }
}

impl BatchItem {
    fn new(batch: &InviteBatch) -> Self {
        let created = timestamp(batch.created_at);
        Self {
            pk: format!("GATHERING#{}", batch.gathering.as_str()),
            sk: format!("BATCH#{created}#{}", batch.id.as_str()),
            entity: "invite_batch".into(),
            batch_id: batch.id.as_str().into(),
            gathering_id: batch.gathering.as_str().into(),
            host_hash: batch.host.as_str().into(),
            sms: batch.sms,
            email: batch.email,
            created_at: created,
            expires_at: batch.expires_at.unix_timestamp(),
        }
    }

    fn into_batch(self) -> Result<InviteBatch, StoreError> {
        Ok(InviteBatch {
            id: BatchId::parse(&self.batch_id).ok_or_else(|| corrupt("a batch"))?,
            gathering: GatheringId::parse(&self.gathering_id).map_err(|_| corrupt("a batch"))?,
            host: ContactHash::parse(&self.host_hash).ok_or_else(|| corrupt("a batch"))?,
            sms: self.sms,
            email: self.email,
            created_at: parse_time(&self.created_at)?,
            expires_at: at(self.expires_at)?,
        })
    }
}

fn from_item<T: for<'de> Deserialize<'de>>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl InviteStore for DynamoInviteStore {
    #[tracing::instrument(name = "store.put_invites", skip_all, fields(invites = invites.len()))]
    async fn put_invites(&self, batch: &InviteBatch, invites: &[Invite]) -> Result<(), StoreError> {
        let mut items = Vec::with_capacity(invites.len() + 1);
        items.push(to_item(&BatchItem::new(batch))?);
        for invite in invites {
            items.push(to_item(&InviteItem::new(invite))?);
        }
        batch_put(&self.client, &self.table, items).await
    }

    async fn invites(
        &self,
        codes: &[String],
        now: OffsetDateTime,
    ) -> Result<Vec<Invite>, StoreError> {
        let mut unique: Vec<&String> = codes.iter().collect();
        unique.sort();
        unique.dedup();
        let keys = unique
            .into_iter()
            .map(|code| {
                HashMap::from([
                    ("pk".to_owned(), AttributeValue::S(format!("INVITE#{code}"))),
                    ("sk".to_owned(), AttributeValue::S("INVITE".into())),
                ])
            })
            .collect();
        let mut found = Vec::new();
        for item in batch_get(&self.client, &self.table, keys).await? {
            let invite = from_item::<InviteItem>(item)?.into_invite()?;
            if invite.expires_at > now {
                found.push(invite);
            }
        }
        Ok(found)
    }

    async fn batches(
        &self,
        gathering: &GatheringId,
        now: OffsetDateTime,
    ) -> Result<Vec<InviteBatch>, StoreError> {
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(
                    ":pk",
                    AttributeValue::S(format!("GATHERING#{}", gathering.as_str())),
                )
                .expression_attribute_values(":prefix", AttributeValue::S("BATCH#".into()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(dynamo_err("Query"))?;
            for item in output.items.unwrap_or_default() {
                let batch = from_item::<BatchItem>(item)?.into_batch()?;
                if batch.expires_at > now {
                    found.push(batch);
                }
            }
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        Ok(found)
    }
}

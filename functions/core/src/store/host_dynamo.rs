//! DynamoDB adapter of [`HostStore`]. Items (see the table in `store/mod.rs`):
//!
//! - login link `LOGIN#<token hash>` / `LOGIN`: put with `attribute_not_exists(pk)`, used by a
//!   `DeleteItem` conditioned on `expires_at > :now` with `ReturnValues` `ALL_OLD`, so exactly one
//!   of concurrent uses gets it; TTL `expires_at` (15 minutes);
//! - session `SESSION#<token hash>` / `SESSION`: TTL `expires_at` (at most 7 days), read with a
//!   consistent `GetItem` that treats an expired item as absent;
//! - host profile `HOST#<keyed hash>` / `PROFILE`: one `UpdateItem` per sign-in, `created_at` and
//!   `first_name_sealed` kept with `if_not_exists`.
//!
//! Every item carries `entity`, the host's `contact_hash` and `created_at` (RFC 3339); the email and
//! the first name only sealed (`email_sealed`, `first_name_sealed`).

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::dynamo_util::{dynamo_err, put_item, to_item};
use super::host::{
    HostProfile, HostSession, HostStore, LoginLink, live, login_collision, no_profile,
};
use super::{StoreError, timestamp};
use crate::domain::Language;
use crate::privacy::{ContactHash, Sealed};

type Item = HashMap<String, AttributeValue>;

const LOGIN_SK: &str = "LOGIN";
const SESSION_SK: &str = "SESSION";
const PROFILE_SK: &str = "PROFILE";

#[derive(Debug, Clone)]
pub struct DynamoHostStore {
    client: Client,
    table: String,
}

impl DynamoHostStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Keys

fn login_pk(token_hash: &str) -> String {
    format!("LOGIN#{token_hash}")
}

fn session_pk(token_hash: &str) -> String {
    format!("SESSION#{token_hash}")
}

fn profile_pk(host: &ContactHash) -> String {
    format!("HOST#{}", host.as_str())
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(pk)),
        ("sk".to_string(), AttributeValue::S(sk.to_string())),
    ])
}

fn unix(t: OffsetDateTime) -> AttributeValue {
    AttributeValue::N(t.unix_timestamp().to_string())
}

fn is_condition_failure<E, R>(e: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

// ---------------------------------------------------------------------------------------------------------
// Item shapes

#[derive(Debug, Serialize, Deserialize)]
struct LoginItem {
    pk: String,
    sk: String,
    entity: String,
    contact_hash: ContactHash,
    /// Sealed with `<contact hash>|email`.
    email_sealed: Sealed,
    language: Language,
    created_at: String,
    /// TTL: unix seconds.
    expires_at: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct SessionItem {
    pk: String,
    sk: String,
    entity: String,
    contact_hash: ContactHash,
    language: Language,
    created_at: String,
    /// TTL: unix seconds.
    expires_at: i64,
}

#[derive(Debug, Deserialize)]
struct ProfileItem {
    contact_hash: ContactHash,
    /// Sealed with `<contact hash>|email`.
    email_sealed: Sealed,
    /// Sealed with `<contact hash>|first_name`.
    #[serde(default)]
    first_name_sealed: Option<Sealed>,
    language: Language,
    created_at: String,
    signed_in_at: String,
}

// ---------------------------------------------------------------------------------------------------------
// Conversions

fn from_item<T: for<'de> Deserialize<'de>>(what: &str, item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn parse_time(what: &str, text: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn from_unix(what: &str, seconds: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp(seconds)
        .map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn token_of(what: &str, pk: &str, prefix: &str) -> Result<String, StoreError> {
    pk.strip_prefix(prefix)
        .map(str::to_owned)
        .ok_or_else(|| StoreError::Corrupt(format!("{what}: unexpected key")))
}

impl LoginItem {
    fn from_link(link: &LoginLink) -> Self {
        Self {
            pk: login_pk(&link.token_hash),
            sk: LOGIN_SK.into(),
            entity: "login_link".into(),
            contact_hash: link.host.clone(),
            email_sealed: link.email.clone(),
            language: link.language,
            created_at: timestamp(link.created_at),
            expires_at: link.expires_at.unix_timestamp(),
        }
    }

    fn into_link(self) -> Result<LoginLink, StoreError> {
        Ok(LoginLink {
            token_hash: token_of("login link", &self.pk, "LOGIN#")?,
            host: self.contact_hash,
            email: self.email_sealed,
            language: self.language,
            created_at: parse_time("login link created_at", &self.created_at)?,
            expires_at: from_unix("login link expires_at", self.expires_at)?,
        })
    }
}

impl SessionItem {
    fn from_session(session: &HostSession) -> Self {
        Self {
            pk: session_pk(&session.token_hash),
            sk: SESSION_SK.into(),
            entity: "host_session".into(),
            contact_hash: session.host.clone(),
            language: session.language,
            created_at: timestamp(session.created_at),
            expires_at: session.capped_expiry().unix_timestamp(),
        }
    }

    fn into_session(self) -> Result<HostSession, StoreError> {
        Ok(HostSession {
            token_hash: token_of("host session", &self.pk, "SESSION#")?,
            host: self.contact_hash,
            language: self.language,
            created_at: parse_time("host session created_at", &self.created_at)?,
            expires_at: from_unix("host session expires_at", self.expires_at)?,
        })
    }
}

impl ProfileItem {
    fn into_profile(self) -> Result<HostProfile, StoreError> {
        Ok(HostProfile {
            host: self.contact_hash,
            email: self.email_sealed,
            first_name: self.first_name_sealed,
            language: self.language,
            created_at: parse_time("host profile created_at", &self.created_at)?,
            signed_in_at: parse_time("host profile signed_in_at", &self.signed_in_at)?,
        })
    }
}

// ---------------------------------------------------------------------------------------------------------
// The port

impl HostStore for DynamoHostStore {
    #[tracing::instrument(name = "store.put_login", skip_all)]
    async fn put_login(&self, link: &LoginLink) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&LoginItem::from_link(link))?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(login_collision()),
            Err(e) => Err(dynamo_err("PutItem")(e)),
        }
    }

    #[tracing::instrument(name = "store.take_login", skip_all)]
    async fn take_login(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<LoginLink>, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(login_pk(token_hash), LOGIN_SK)))
            // Fails on a missing item too: the attribute does not exist.
            .condition_expression("expires_at > :now")
            .expression_attribute_values(":now", unix(now))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => match output.attributes {
                Some(item) if !item.is_empty() => {
                    let link = from_item::<LoginItem>("login link", item)?.into_link()?;
                    Ok(Some(link))
                }
                // The condition held, so the item existed: an empty answer is the emulator's.
                _ => Err(StoreError::Corrupt(
                    "DeleteItem of a login link returned no attributes".into(),
                )),
            },
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(dynamo_err("DeleteItem")(e)),
        }
    }

    #[tracing::instrument(name = "store.put_session", skip_all)]
    async fn put_session(&self, session: &HostSession) -> Result<(), StoreError> {
        put_item(
            &self.client,
            &self.table,
            &SessionItem::from_session(session),
        )
        .await
    }

    #[tracing::instrument(name = "store.session", skip_all)]
    async fn session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<HostSession>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(session_pk(token_hash), SESSION_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo_err("GetItem"))?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let session = from_item::<SessionItem>("host session", item)?.into_session()?;
        Ok(live(session.expires_at, now).then_some(session))
    }

    #[tracing::instrument(name = "store.end_session", skip_all)]
    async fn end_session(&self, token_hash: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(session_pk(token_hash), SESSION_SK)))
            .send()
            .await
            .map_err(dynamo_err("DeleteItem"))?;
        Ok(())
    }

    #[tracing::instrument(name = "store.signed_in", skip_all)]
    async fn signed_in(&self, profile: &HostProfile) -> Result<(), StoreError> {
        let mut expression = String::from(
            "SET entity = :entity, contact_hash = :host, email_sealed = :email, #lang = :lang, \
             signed_in_at = :signed_in, created_at = if_not_exists(created_at, :created)",
        );
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(profile_pk(&profile.host), PROFILE_SK)))
            .expression_attribute_names("#lang", "language")
            .expression_attribute_values(":entity", AttributeValue::S("host_profile".into()))
            .expression_attribute_values(":host", AttributeValue::S(profile.host.as_str().into()))
            .expression_attribute_values(":email", AttributeValue::S(profile.email.as_str().into()))
            .expression_attribute_values(":lang", AttributeValue::S(profile.language.code().into()))
            .expression_attribute_values(
                ":signed_in",
                AttributeValue::S(timestamp(profile.signed_in_at)),
            )
            .expression_attribute_values(
                ":created",
                AttributeValue::S(timestamp(profile.created_at)),
            );
        if let Some(first) = &profile.first_name {
            expression.push_str(", first_name_sealed = if_not_exists(first_name_sealed, :first)");
            update = update
                .expression_attribute_values(":first", AttributeValue::S(first.as_str().into()));
        }
        update
            .update_expression(expression)
            .send()
            .await
            .map_err(dynamo_err("UpdateItem"))?;
        Ok(())
    }

    #[tracing::instrument(name = "store.profile", skip_all)]
    async fn profile(&self, host: &ContactHash) -> Result<Option<HostProfile>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(profile_pk(host), PROFILE_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo_err("GetItem"))?;
        output
            .item
            .map(|item| from_item::<ProfileItem>("host profile", item)?.into_profile())
            .transpose()
    }

    #[tracing::instrument(name = "store.set_first_name", skip_all)]
    async fn set_first_name(
        &self,
        host: &ContactHash,
        first_name: &Sealed,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(profile_pk(host), PROFILE_SK)))
            .update_expression("SET first_name_sealed = :first")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":first", AttributeValue::S(first_name.as_str().into()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(no_profile()),
            Err(e) => Err(dynamo_err("UpdateItem")(e)),
        }
    }
}

//! Port for the campaign rules organizers change on `/admin/settings` without a deployment,
//! implemented by the gathering adapters (the campaign's configuration lives beside its keywords and
//! templates): whether new gatherings wait for an organizer's approval, how many invitations a host
//! may send a day, the invite window, which countries' mobile numbers may be texted and the hours
//! texts may arrive. Without a stored item the stack's parameters apply (`GatheringApproval`,
//! `HostInviteDailyLimit`, `InviteWindowDays`, `AllowedPhoneCountries`, and the law's hours);
//! removing it brings them back.
//!
//! Who reads them, and when a change takes effect:
//! - the host function, for the POSTs that create a gathering or send invitations (one GetItem);
//! - `register`, for a form that gives a phone number (one GetItem);
//! - the send worker, once per batch, as one more key of the batch's gate lookups
//!   ([`crate::outbound::OutboxStore::load_for_sending`]: no request of its own).
//!
//! DynamoDB: one item, `SETTINGS` / `CAMPAIGN` (`entity` `campaign_rules`, `approval_required`,
//! `invite_quota`, `invite_window_days`, `phone_countries`, `send_from` and `send_until` (hours),
//! `updated_at`, `updated_by`: the organizer's keyed hash).

use std::future::Future;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::dynamo_util::{dynamo_err, put_item};
use super::{DynamoGatheringStore, MemoryGatheringStore, StoreError, timestamp};
use crate::outbound::SendingHours;
use crate::privacy::ContactHash;

/// The most invitations a day an organizer may allow one host (checked before it is stored).
pub const INVITE_QUOTA_MAX: u32 = 10_000;
/// The longest invite window, in days (the stack parameter's bound too).
pub const INVITE_WINDOW_MAX: u32 = 365;

/// The rules organizers set on the page, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignRules {
    /// New gatherings wait for an organizer's approval before they are listed.
    pub approval_required: bool,
    /// Invitations a host may send per day, 1 to [`INVITE_QUOTA_MAX`].
    pub invite_quota: u32,
    /// A person is invited at most once per channel within this many days, 1 to
    /// [`INVITE_WINDOW_MAX`].
    pub invite_window_days: u32,
    /// ISO codes of the countries whose mobile numbers may be texted (each on the +1 plan).
    pub phone_countries: Vec<String>,
    /// The hours texts may arrive in the recipient's time zone (inside the law's).
    pub sending_hours: SendingHours,
}

/// Port: the campaign rules organizers set.
pub trait CampaignRulesStore: Send + Sync {
    /// The rules organizers set, if any (else the stack's parameters apply).
    fn campaign_rules(
        &self,
    ) -> impl Future<Output = Result<Option<CampaignRules>, StoreError>> + Send;

    /// Stores the rules, replacing those before; `by`: the organizer.
    fn put_campaign_rules(
        &self,
        rules: &CampaignRules,
        by: &ContactHash,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Brings the stack's parameters back.
    fn reset_campaign_rules(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

const PARTITION: &str = "SETTINGS";
const SORT_KEY: &str = "CAMPAIGN";

/// An item written before the window, countries and hours could be set here reads as the template's
/// defaults for them.
#[derive(Debug, Serialize, Deserialize)]
struct RulesItem {
    pk: String,
    sk: String,
    entity: String,
    approval_required: bool,
    invite_quota: u32,
    #[serde(default = "default_window")]
    invite_window_days: u32,
    #[serde(default = "default_countries")]
    phone_countries: Vec<String>,
    #[serde(default = "default_send_from")]
    send_from: u8,
    #[serde(default = "default_send_until")]
    send_until: u8,
    updated_at: String,
    updated_by: String,
}

fn default_window() -> u32 {
    30
}

fn default_countries() -> Vec<String> {
    vec!["US".to_owned()]
}

fn default_send_from() -> u8 {
    SendingHours::LAW.start()
}

fn default_send_until() -> u8 {
    SendingHours::LAW.end()
}

/// The key of the rules' item (for adapters that read it along with other items).
pub(crate) fn rules_key() -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(PARTITION.into())),
        ("sk".to_owned(), AttributeValue::S(SORT_KEY.into())),
    ])
}

/// Whether `item` is the rules' item.
pub(crate) fn is_rules_item(item: &HashMap<String, AttributeValue>) -> bool {
    let text = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
    };
    text("pk") == Some(PARTITION) && text("sk") == Some(SORT_KEY)
}

/// The rules of a stored item; one out of bounds reads as corrupt rather than as a looser rule.
pub(crate) fn read_rules(
    item: HashMap<String, AttributeValue>,
) -> Result<CampaignRules, StoreError> {
    let item: RulesItem = serde_dynamo::from_item(item)
        .map_err(|e| StoreError::Corrupt(format!("campaign rules: {e}")))?;
    let sending_hours = SendingHours::new(item.send_from, item.send_until).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "campaign rules: sending hours {}-{}",
            item.send_from, item.send_until
        ))
    })?;
    Ok(CampaignRules {
        approval_required: item.approval_required,
        invite_quota: item.invite_quota,
        invite_window_days: item.invite_window_days,
        phone_countries: item.phone_countries,
        sending_hours,
    })
}

impl CampaignRulesStore for DynamoGatheringStore {
    async fn campaign_rules(&self) -> Result<Option<CampaignRules>, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(rules_key()))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo_err("GetItem"))?;
        output.item.map(read_rules).transpose()
    }

    #[tracing::instrument(name = "store.put_campaign_rules", skip_all)]
    async fn put_campaign_rules(
        &self,
        rules: &CampaignRules,
        by: &ContactHash,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let item = RulesItem {
            pk: PARTITION.into(),
            sk: SORT_KEY.into(),
            entity: "campaign_rules".into(),
            approval_required: rules.approval_required,
            invite_quota: rules.invite_quota,
            invite_window_days: rules.invite_window_days,
            phone_countries: rules.phone_countries.clone(),
            send_from: rules.sending_hours.start(),
            send_until: rules.sending_hours.end(),
            updated_at: timestamp(now),
            updated_by: by.as_str().to_owned(),
        };
        put_item(self.client(), self.table(), &item).await
    }

    #[tracing::instrument(name = "store.reset_campaign_rules", skip_all)]
    async fn reset_campaign_rules(&self) -> Result<(), StoreError> {
        self.client()
            .delete_item()
            .table_name(self.table())
            .set_key(Some(rules_key()))
            .send()
            .await
            .map_err(dynamo_err("DeleteItem"))?;
        Ok(())
    }
}

impl CampaignRulesStore for MemoryGatheringStore {
    async fn campaign_rules(&self) -> Result<Option<CampaignRules>, StoreError> {
        Ok(self.rules_state()?.clone())
    }

    async fn put_campaign_rules(
        &self,
        rules: &CampaignRules,
        _by: &ContactHash,
        _now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        *self.rules_state()? = Some(rules.clone());
        Ok(())
    }

    async fn reset_campaign_rules(&self) -> Result<(), StoreError> {
        *self.rules_state()? = None;
        Ok(())
    }
}

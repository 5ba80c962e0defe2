//! Port for the campaign rules organizers change on `/admin/settings` without a deployment,
//! implemented by the gathering adapters (the campaign's configuration lives beside its keywords and
//! templates): whether new gatherings wait for an organizer's approval, and how many invitations a
//! host may send a day. Without a stored item the stack's parameters apply (`GatheringApproval`,
//! `HostInviteDailyLimit`); removing it brings them back.
//!
//! DynamoDB: one item, `SETTINGS` / `CAMPAIGN` (`entity` `campaign_rules`, `approval_required`,
//! `invite_quota`, `updated_at`, `updated_by`: the organizer's keyed hash), read with one GetItem.

use std::future::Future;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::dynamo_util::{dynamo_err, to_item};
use super::{DynamoGatheringStore, MemoryGatheringStore, StoreError, timestamp};
use crate::privacy::ContactHash;

/// The most invitations a day an organizer may allow one host (checked before it is stored).
pub const INVITE_QUOTA_MAX: u32 = 10_000;

/// The rules organizers set on the page, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CampaignRules {
    /// New gatherings wait for an organizer's approval before they are listed.
    pub approval_required: bool,
    /// Invitations a host may send per day, 1 to [`INVITE_QUOTA_MAX`].
    pub invite_quota: u32,
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

#[derive(Debug, Serialize, Deserialize)]
struct RulesItem {
    pk: String,
    sk: String,
    entity: String,
    approval_required: bool,
    invite_quota: u32,
    updated_at: String,
    updated_by: String,
}

impl CampaignRulesStore for DynamoGatheringStore {
    async fn campaign_rules(&self) -> Result<Option<CampaignRules>, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table())
            .key("pk", AttributeValue::S(PARTITION.into()))
            .key("sk", AttributeValue::S(SORT_KEY.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo_err("GetItem"))?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let item: RulesItem = serde_dynamo::from_item(item)
            .map_err(|e| StoreError::Corrupt(format!("campaign rules: {e}")))?;
        Ok(Some(CampaignRules {
            approval_required: item.approval_required,
            invite_quota: item.invite_quota,
        }))
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
            updated_at: timestamp(now),
            updated_by: by.as_str().to_owned(),
        };
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(to_item(&item)?))
            .send()
            .await
            .map_err(dynamo_err("PutItem"))?;
        Ok(())
    }

    #[tracing::instrument(name = "store.reset_campaign_rules", skip_all)]
    async fn reset_campaign_rules(&self) -> Result<(), StoreError> {
        self.client()
            .delete_item()
            .table_name(self.table())
            .key("pk", AttributeValue::S(PARTITION.into()))
            .key("sk", AttributeValue::S(SORT_KEY.into()))
            .send()
            .await
            .map_err(dynamo_err("DeleteItem"))?;
        Ok(())
    }
}

impl CampaignRulesStore for MemoryGatheringStore {
    async fn campaign_rules(&self) -> Result<Option<CampaignRules>, StoreError> {
        Ok(*self.rules_state()?)
    }

    async fn put_campaign_rules(
        &self,
        rules: &CampaignRules,
        _by: &ContactHash,
        _now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        *self.rules_state()? = Some(*rules);
        Ok(())
    }

    async fn reset_campaign_rules(&self) -> Result<(), StoreError> {
        *self.rules_state()? = None;
        Ok(())
    }
}

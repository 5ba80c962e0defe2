//! Port for the message templates organizers reword on `/admin/templates`, implemented by the
//! gathering adapters (the campaign's configuration lives beside its keywords). A stored template
//! replaces the catalog's wording for one message and language; removing it brings the catalog's
//! back. Only the wording is stored: never a name, a number or an address. Read by the host function
//! (invitations), `register` (confirmations by text) and the scheduler (reminders, thank-yous,
//! training links and recordings), once per request or run that writes such a text.
//!
//! DynamoDB: one small partition, `TEMPLATE` / `<message>#<language>` (`entity` `template`,
//! `message`, `language`, `text`, `updated_at`, `updated_by`: the organizer's keyed hash), read whole
//! with one Query.

use std::future::Future;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::dynamo_util::{dynamo_err, put_item, query_all};
use super::{DynamoGatheringStore, MemoryGatheringStore, StoreError, timestamp};
use crate::domain::Language;
use crate::privacy::ContactHash;

/// The messages organizers may reword: the texts sent to many people (invitations, confirmations of
/// the form, the scheduler's reminders and follow-ups).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateMessage {
    /// The text a host's invitation sends.
    InviteSms,
    /// A gathering's reminder by text, the day before and on the day (the scheduler).
    ReminderSms,
    /// The thank-you text after a gathering (the scheduler).
    FollowUpSms,
    /// A training's reminder by text, with its join link (the scheduler).
    TrainingReminderSms,
    /// A training's recording by text, once published (the scheduler).
    RecordingSms,
    /// The text confirming a form's RSVP to a gathering (`register`): the first text to the number.
    ConfirmGoingSms,
    /// The text of a form's RSVP that landed on the waitlist.
    ConfirmWaitlistSms,
    /// The text confirming a form's registration for a training.
    ConfirmTrainingSms,
    /// The text confirming a form's sign-up without an event.
    ConfirmJoinedSms,
}

impl TemplateMessage {
    pub const ALL: [TemplateMessage; 9] = [
        TemplateMessage::InviteSms,
        TemplateMessage::ConfirmGoingSms,
        TemplateMessage::ConfirmWaitlistSms,
        TemplateMessage::ConfirmTrainingSms,
        TemplateMessage::ConfirmJoinedSms,
        TemplateMessage::ReminderSms,
        TemplateMessage::FollowUpSms,
        TemplateMessage::TrainingReminderSms,
        TemplateMessage::RecordingSms,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InviteSms => "invite_sms",
            Self::ReminderSms => "reminder_sms",
            Self::FollowUpSms => "follow_up_sms",
            Self::TrainingReminderSms => "training_reminder_sms",
            Self::RecordingSms => "recording_sms",
            Self::ConfirmGoingSms => "confirm_going_sms",
            Self::ConfirmWaitlistSms => "confirm_waitlist_sms",
            Self::ConfirmTrainingSms => "confirm_training_sms",
            Self::ConfirmJoinedSms => "confirm_joined_sms",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == text)
    }
}

/// A reworded message, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTemplate {
    pub message: TemplateMessage,
    pub language: Language,
    /// The wording, with its `{placeholders}`; checked before it is stored.
    pub text: String,
}

/// Port: the reworded messages.
pub trait TemplateStore: Send + Sync {
    /// Every reworded message (a handful).
    fn templates(&self) -> impl Future<Output = Result<Vec<StoredTemplate>, StoreError>> + Send;

    /// Stores a wording, replacing the one before; `by`: the organizer.
    fn put_template(
        &self,
        template: &StoredTemplate,
        by: &ContactHash,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Brings the catalog's wording back.
    fn reset_template(
        &self,
        message: TemplateMessage,
        language: Language,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

const PARTITION: &str = "TEMPLATE";

fn sort_key(message: TemplateMessage, language: Language) -> String {
    format!("{}#{}", message.as_str(), language.code())
}

#[derive(Debug, Serialize, Deserialize)]
struct TemplateItem {
    pk: String,
    sk: String,
    entity: String,
    message: TemplateMessage,
    language: Language,
    text: String,
    updated_at: String,
    updated_by: String,
}

impl TemplateStore for DynamoGatheringStore {
    async fn templates(&self) -> Result<Vec<StoredTemplate>, StoreError> {
        let items = query_all(self.client(), self.table(), None, "pk", PARTITION).await?;
        let mut templates = Vec::with_capacity(items.len());
        for item in items {
            let item: TemplateItem = serde_dynamo::from_item(item)
                .map_err(|e| StoreError::Corrupt(format!("template: {e}")))?;
            templates.push(StoredTemplate {
                message: item.message,
                language: item.language,
                text: item.text,
            });
        }
        Ok(templates)
    }

    #[tracing::instrument(name = "store.put_template", skip_all, fields(message = template.message.as_str(), language = template.language.code()))]
    async fn put_template(
        &self,
        template: &StoredTemplate,
        by: &ContactHash,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let item = TemplateItem {
            pk: PARTITION.into(),
            sk: sort_key(template.message, template.language),
            entity: "template".into(),
            message: template.message,
            language: template.language,
            text: template.text.clone(),
            updated_at: timestamp(now),
            updated_by: by.as_str().to_owned(),
        };
        put_item(self.client(), self.table(), &item).await
    }

    #[tracing::instrument(name = "store.reset_template", skip_all, fields(message = message.as_str(), language = language.code()))]
    async fn reset_template(
        &self,
        message: TemplateMessage,
        language: Language,
    ) -> Result<(), StoreError> {
        self.client()
            .delete_item()
            .table_name(self.table())
            .key("pk", AttributeValue::S(PARTITION.into()))
            .key("sk", AttributeValue::S(sort_key(message, language)))
            .send()
            .await
            .map_err(dynamo_err("DeleteItem"))?;
        Ok(())
    }
}

impl TemplateStore for MemoryGatheringStore {
    async fn templates(&self) -> Result<Vec<StoredTemplate>, StoreError> {
        Ok(self.templates_state()?.values().cloned().collect())
    }

    async fn put_template(
        &self,
        template: &StoredTemplate,
        _by: &ContactHash,
        _now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.templates_state()?.insert(
            (template.message, template.language.code()),
            template.clone(),
        );
        Ok(())
    }

    async fn reset_template(
        &self,
        message: TemplateMessage,
        language: Language,
    ) -> Result<(), StoreError> {
        self.templates_state()?.remove(&(message, language.code()));
        Ok(())
    }
}

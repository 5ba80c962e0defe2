//! The `email-events` function's handler: each SNS record of an SNS event is one SES notification.

use aws_lambda_events::sns::SnsEvent;
use time::OffsetDateTime;
use tokio::sync::OnceCell;
use tracing::Instrument as _;

use super::{Parsed, parse, record};
use crate::config::EmailEventsConfig;
use crate::privacy::{ContactHasher, HashKeyError};
use crate::secrets::{SecretError, SecretStore};
use crate::store::{EmailEventStore, StoreError};

/// Why an SNS event was not handled. Lambda then invokes again (SNS's retries, then the function's
/// dead-letter queue); every event is recorded once, so what was done before is not done twice.
#[derive(Debug, thiserror::Error)]
pub enum EmailEventsError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("the contact hash key is unusable: {0}")]
    HashKey(#[from] HashKeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The `email-events` function: its dependencies, built once per cold start.
pub struct EmailEvents<S, K> {
    config: EmailEventsConfig,
    store: S,
    secrets: K,
    hasher: OnceCell<ContactHasher>,
}

impl<S: EmailEventStore, K: SecretStore> EmailEvents<S, K> {
    /// Does no I/O: the hash key is fetched with the first event.
    pub fn new(config: EmailEventsConfig, store: S, secrets: K) -> Self {
        Self {
            config,
            store,
            secrets,
            hasher: OnceCell::new(),
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    async fn hasher(&self) -> Result<&ContactHasher, EmailEventsError> {
        self.hasher
            .get_or_try_init(|| async {
                let key = self
                    .secrets
                    .fetch(&self.config.contact_hash_key_parameter)
                    .await?;
                Ok::<_, EmailEventsError>(ContactHasher::from_base64(&key)?)
            })
            .await
    }

    /// Handles one SNS event (Lambda delivers one record per invocation; any number is handled).
    /// An unreadable message is logged and acknowledged; a store failure fails the invocation.
    pub async fn handle(
        &self,
        event: SnsEvent,
        now: OffsetDateTime,
    ) -> Result<(), EmailEventsError> {
        for sns_record in event.records {
            let span =
                tracing::info_span!("email_event", sns_message_id = %sns_record.sns.message_id);
            self.handle_message(&sns_record.sns.message, now)
                .instrument(span)
                .await?;
        }
        Ok(())
    }

    async fn handle_message(
        &self,
        message: &str,
        now: OffsetDateTime,
    ) -> Result<(), EmailEventsError> {
        let event = match parse(message) {
            Ok(Parsed::Event(event)) => event,
            Ok(Parsed::Ignored(kind)) => {
                tracing::info!(kind = %kind, "not a bounce or complaint; ignored");
                return Ok(());
            }
            Err(error) => {
                tracing::warn!(error = %error, "unreadable SES notification; acknowledged");
                return Ok(());
            }
        };
        let hasher = self.hasher().await?;
        let outcome = record(&self.store, hasher, &event, now).await?;
        tracing::info!(
            kind = event.kind.as_str(),
            recorded = outcome.recorded,
            duplicates = outcome.duplicates,
            unreadable_addresses = event.unreadable,
            in_batch = event.batch.is_some(),
            "email event recorded"
        );
        Ok(())
    }
}

//! The `scheduler` function's handler: reads the scheduled event's `time`, fetches the link key on
//! first use, and runs the [`Scheduler`].

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::OnceCell;

use super::{Report, ScheduleError, Scheduler, Settings};
use crate::config::SchedulerConfig;
use crate::email::{TokenKey, TokenKeyError};
use crate::outbound::{OutboxStore, SendQueue};
use crate::privacy::Sealer;
use crate::secrets::{SecretError, SecretStore};
use crate::store::{FollowUpStore, GatheringStore, RsvpStore, TemplateStore, TrainingStore};

/// The parts of an EventBridge scheduled event the scheduler reads.
#[derive(Debug, Deserialize)]
struct ScheduledEvent {
    #[serde(rename = "detail-type")]
    detail_type: Option<String>,
    time: String,
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("the event is not a scheduled event with a time: {0}")]
    BadEvent(String),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("the email link key is unusable: {0}")]
    LinkKey(#[from] TokenKeyError),
    #[error(transparent)]
    Run(#[from] ScheduleError),
}

/// The time an EventBridge scheduled event names: the run's "now" (a replay decides the same).
pub fn scheduled_time(event: &serde_json::Value) -> Result<OffsetDateTime, SchedulerError> {
    let event =
        ScheduledEvent::deserialize(event).map_err(|e| SchedulerError::BadEvent(e.to_string()))?;
    if event
        .detail_type
        .as_deref()
        .is_some_and(|t| t != "Scheduled Event")
    {
        return Err(SchedulerError::BadEvent(format!(
            "detail-type is {:?}",
            event.detail_type.unwrap_or_default()
        )));
    }
    OffsetDateTime::parse(&event.time, &Rfc3339)
        .map_err(|e| SchedulerError::BadEvent(format!("time {:?}: {e}", event.time)))
}

/// The scheduler with its clients, built once per cold start.
pub struct ScheduledRuns<G, T, F, O, Q, K> {
    config: SchedulerConfig,
    settings: Settings,
    stores: (G, T, F, O),
    queue: Q,
    sealer: Sealer,
    secrets: K,
    link_key: OnceCell<TokenKey>,
}

impl<G, T, F, O, Q, K> ScheduledRuns<G, T, F, O, Q, K>
where
    G: GatheringStore + RsvpStore + TemplateStore,
    T: TrainingStore,
    F: FollowUpStore,
    O: OutboxStore,
    Q: SendQueue,
    K: SecretStore,
{
    /// Does no I/O: the link key is fetched with the first event.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: SchedulerConfig,
        gatherings: G,
        trainings: T,
        store: F,
        outbox: O,
        queue: Q,
        sealer: Sealer,
        secrets: K,
    ) -> Self {
        Self {
            settings: config.settings(),
            config,
            stores: (gatherings, trainings, store, outbox),
            queue,
            sealer,
            secrets,
            link_key: OnceCell::new(),
        }
    }

    /// Runs what is due at the event's time.
    pub async fn handle(&self, event: &serde_json::Value) -> Result<Report, SchedulerError> {
        let now = scheduled_time(event)?;
        let link_key = self
            .link_key
            .get_or_try_init(|| async {
                let key = self.secrets.fetch(&self.config.link_key_parameter).await?;
                Ok::<_, SchedulerError>(TokenKey::from_base64(&key)?)
            })
            .await?;
        let (gatherings, trainings, store, outbox) = &self.stores;
        let scheduler = Scheduler {
            settings: &self.settings,
            gatherings,
            trainings,
            store,
            outbox,
            queue: &self.queue,
            sealer: &self.sealer,
            link_key,
            templates: tokio::sync::OnceCell::new(),
        };
        match scheduler.run(now).await {
            Ok(report) => Ok(report),
            Err(e) => {
                tracing::error!(error = %e, "scheduler run failed");
                Err(e.into())
            }
        }
    }
}

//! Trainings for organizers (`rising-admin trainings`, `rising-admin publish-recording`): the
//! catalog with what each training's recording and registrations stand at, and the publication of a
//! recording, which the scheduler ([`crate::followups`]) then sends once to everyone registered.
//!
//! A publication is recorded in the audit log **before** the recording is stored (`what`
//! `recording_publication`, `reference` the training id, `rows` the people registered then; no
//! link, no person). A training that does not exist, or whose recording was published before, is
//! refused before anything is written: a recording is published once, and the people registered
//! get that one link.

use time::OffsetDateTime;

use super::{AuditAction, AuditEntry, AuditLog, Organizer};
use crate::domain::{Training, TrainingId, TrainingUrl};
use crate::store::{Published, StoreError, TrainingStore, timestamp};

/// Why a recording was not published. Written for the organizer who ran the tool.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(
        "no training has the id {0} (`rising-admin trainings` lists them); nothing was published"
    )]
    NoSuchTraining(TrainingId),
    #[error(
        "the recording of training {id} was published already, on {}: {url}; nothing was changed \
         (a recording is published once)",
        utc(*.at)
    )]
    AlreadyPublished {
        id: TrainingId,
        url: TrainingUrl,
        at: OffsetDateTime,
    },
    #[error("the audit record could not be written, so nothing was published: {0}")]
    Audit(#[source] StoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A time as organizers read it in the tool: `2026-08-13 17:00 UTC`.
pub fn utc(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// What a publication would do: the training, and how many people it would go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingPreview {
    pub training: Training,
    /// The people registered now: the scheduler sends the recording to each of them once.
    pub registrants: usize,
}

/// The training `id`, when its recording can be published: it exists, and none was published.
/// Reads only.
pub async fn preview_recording<T: TrainingStore>(
    trainings: &T,
    id: &TrainingId,
) -> Result<RecordingPreview, PublishError> {
    let training = trainings
        .get_training(id)
        .await?
        .ok_or_else(|| PublishError::NoSuchTraining(id.clone()))?;
    if let Some(error) = already_published(&training) {
        return Err(error);
    }
    let registrants = trainings.registrants(id).await?.len();
    Ok(RecordingPreview {
        training,
        registrants,
    })
}

fn already_published(training: &Training) -> Option<PublishError> {
    match (&training.recording_url, training.recording_published_at) {
        (Some(url), Some(at)) => Some(PublishError::AlreadyPublished {
            id: training.id.clone(),
            url: url.clone(),
            at,
        }),
        _ => None,
    }
}

/// A recording to publish.
#[derive(Debug, Clone)]
pub struct RecordingRequest<'a> {
    pub training: &'a TrainingId,
    pub url: &'a TrainingUrl,
    pub by: &'a Organizer,
}

/// What a publication did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingPublished {
    pub audit_id: String,
    /// The training, as published.
    pub training: Training,
    /// The people registered when it was published.
    pub registrants: usize,
}

/// Publishes the recording of a training, once: checks the training exists and has no recording
/// (refused with nothing written otherwise), records the publication in the audit log (`outcome`
/// `started`), stores the link and `now` as its publication time, and marks the record `done`. A
/// publication that lost a race to another is refused as already published (its audit record says
/// `already_published`).
pub async fn publish_recording<T, A>(
    trainings: &T,
    audit: &A,
    request: &RecordingRequest<'_>,
    now: OffsetDateTime,
) -> Result<RecordingPublished, PublishError>
where
    T: TrainingStore,
    A: AuditLog,
{
    let preview = preview_recording(trainings, request.training).await?;
    let mut entry = AuditEntry {
        at: timestamp(now),
        audit_id: crate::ids::random_id(),
        who: request.by.as_str().to_string(),
        what: AuditAction::RecordingPublication,
        contact_hash: None,
        rows: preview.registrants as u64,
        format: None,
        outcome: Some("started".into()),
        reference: Some(request.training.as_str().to_string()),
        reason: None,
    };
    audit.record(&entry).await.map_err(PublishError::Audit)?;
    let published = trainings
        .publish_recording(request.training, request.url, now)
        .await;
    let (outcome, result) = match published {
        Ok(Published::Published) => ("done", Ok(())),
        Ok(Published::AlreadyPublished(url)) => {
            // Published by someone else since the check: say what they published, and when.
            let at = trainings
                .get_training(request.training)
                .await
                .ok()
                .flatten()
                .and_then(|t| t.recording_published_at)
                .unwrap_or(now);
            let error = PublishError::AlreadyPublished {
                id: request.training.clone(),
                url,
                at,
            };
            ("already_published", Err(error))
        }
        Ok(Published::NoSuchTraining) => (
            "failed",
            Err(PublishError::NoSuchTraining(request.training.clone())),
        ),
        Err(e) => ("failed", Err(PublishError::Store(e))),
    };
    entry.outcome = Some(outcome.into());
    if let Err(error) = result {
        if let Err(finish) = audit.finish(&entry, OffsetDateTime::now_utc()).await {
            tracing::warn!(error = %finish, "the audit record could not be marked {outcome}");
        }
        return Err(error);
    }
    audit.finish(&entry, OffsetDateTime::now_utc()).await?;
    tracing::info!(
        audit_id = %entry.audit_id,
        training = %request.training,
        registrants = preview.registrants,
        "training recording published"
    );
    let mut training = preview.training;
    training.recording_url = Some(request.url.clone());
    training.recording_published_at = Some(now);
    Ok(RecordingPublished {
        audit_id: entry.audit_id,
        training,
        registrants: preview.registrants,
    })
}

/// One training of the catalog, as `rising-admin trainings` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingSummary {
    pub training: Training,
    pub registrants: usize,
}

/// Every training, past and upcoming, by start time, with how many people registered.
pub async fn list_trainings<T: TrainingStore>(
    trainings: &T,
) -> Result<Vec<TrainingSummary>, StoreError> {
    let mut summaries = Vec::new();
    for training in trainings.trainings().await? {
        let registrants = trainings.registrants(&training.id).await?.len();
        summaries.push(TrainingSummary {
            training,
            registrants,
        });
    }
    Ok(summaries)
}

/// The catalog as a table to read in a terminal: id, start (UTC), recording published or not,
/// people registered, title.
pub fn render_trainings(summaries: &[TrainingSummary]) -> String {
    if summaries.is_empty() {
        return "no trainings\n".into();
    }
    let width = summaries
        .iter()
        .map(|s| s.training.id.as_str().len())
        .max()
        .unwrap_or(0)
        .max("id".len());
    let mut text = format!(
        "{:<width$}  {:<20}  {:<9}  {:>10}  title\n",
        "id", "starts", "recording", "registered"
    );
    for summary in summaries {
        let t = &summary.training;
        text.push_str(&format!(
            "{:<width$}  {:<20}  {:<9}  {:>10}  {}\n",
            t.id.as_str(),
            utc(t.starts_at),
            if t.is_published() { "published" } else { "no" },
            summary.registrants,
            t.title,
        ));
    }
    text
}

#[cfg(test)]
mod tests;

//! The `send-worker` use case: one SQS batch in, a partial-batch response out.

use crate::sms::segments::normalise;
use std::time::Duration;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use futures::StreamExt;
use time::OffsetDateTime;
use tracing::{info, warn};

use super::gates::{self, Decision};
use super::quiet_hours::{QuietHoursPolicy, SendWindow};
use super::rate::RateLimiter;
use super::{
    Change, Channel, EmailGateway, FailReason, Loaded, OutboxStore, QueuedMessage, RecipientMark,
    SendFailure, SendQueue, SmsGateway, Status, StoredMessage, Transition, body_context,
};
use crate::domain::Zip;
use crate::privacy::{Sealer, field_context};

/// SQS's longest delivery delay: a message deferred longer comes back and is deferred again.
const MAX_QUEUE_DELAY: Duration = Duration::from_secs(15 * 60);
/// Attempts at recording outcomes after a send (DynamoDB errors are rare; an unrecorded send ends as
/// `unknown`, never as a second text).
const RECORD_ATTEMPTS: u32 = 3;
/// How far into a batch a worker still starts a send. Lambda stops the worker at 30 s (template.yaml)
/// and a provider call may take 10 s: a message whose turn comes later goes back on the queue, with
/// nothing sent, rather than be claimed by a worker about to be killed.
const SEND_BUDGET: Duration = Duration::from_secs(18);
/// How long a worker holds back after throttling when the provider gave no `Retry-After`.
const THROTTLE_PAUSE: Duration = Duration::from_secs(1);

/// The production worker: DynamoDB, SQS, Twilio and SES.
pub type ProductionWorker = SendWorker<
    crate::store::DynamoOutbox,
    super::SqsSendQueue,
    super::TwilioSmsGateway<crate::secrets::SsmSecretStore>,
    super::SesEmailGateway<crate::email::SesSender>,
>;

impl ProductionWorker {
    /// Builds the worker from its configuration and the AWS clients (no network call: secrets and
    /// data keys are fetched on first use).
    pub fn from_config(
        config: &crate::config::SendWorkerConfig,
        sdk: &crate::aws::SdkConfig,
    ) -> Result<Self, crate::config::ConfigError> {
        let rate = |name: &'static str, per_second: f64| {
            RateLimiter::new(per_second, config.max_concurrency).map_err(|_| {
                crate::config::ConfigError::Invalid {
                    name,
                    reason: "gives a send interval out of range",
                }
            })
        };
        Ok(SendWorker {
            store: crate::store::DynamoOutbox::new(crate::aws::dynamodb(sdk), &config.table_name),
            queue: super::SqsSendQueue::from_sdk(sdk, &config.queue_url),
            sms: super::TwilioSmsGateway::new(
                config.twilio.clone(),
                crate::secrets::SsmSecretStore::from_sdk(sdk),
                config.status_callback_url.clone(),
            ),
            email: super::SesEmailGateway::new(
                crate::email::SesSender::from_sdk(sdk),
                config.email_from.clone(),
                config.email_configuration_set.clone(),
            ),
            sealer: Sealer::from_sdk(sdk, &config.contact_data_key_id),
            sms_rate: rate("SMS_SEND_RATE", config.sms_send_rate)?,
            email_rate: rate("EMAIL_SEND_RATE", config.email_send_rate)?,
            settings: WorkerSettings {
                lease: time::Duration::seconds(LEASE_SECONDS),
                invite_window: time::Duration::days(i64::from(config.invite_window_days)),
                quiet_hours: QuietHoursPolicy::default(),
            },
            dead_letter_queue_arn: config.dead_letter_queue_arn.clone(),
        })
    }
}

/// The lease of a claim: twice the function's 30 s timeout, well inside the queue's 180 s visibility
/// timeout (template.yaml).
const LEASE_SECONDS: i64 = 60;

impl WorkerSettings {
    /// These settings with the invite window and sending hours organizers set on
    /// `/admin/settings`.
    pub fn with_rules(&self, rules: &crate::store::CampaignRules) -> WorkerSettings {
        WorkerSettings {
            invite_window: time::Duration::days(i64::from(rules.invite_window_days)),
            quiet_hours: QuietHoursPolicy::of(rules.sending_hours),
            ..self.clone()
        }
    }
}

/// Tunables of the worker, from its configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSettings {
    /// How long a claim holds a message. Longer than the function's timeout, so a live worker never
    /// loses its claim; shorter than the queue's visibility timeout, so a dead worker's claim has run
    /// out when the message comes back.
    pub lease: time::Duration,
    /// A person is invited at most once per channel within this window.
    pub invite_window: time::Duration,
    pub quiet_hours: QuietHoursPolicy,
}

/// Sends queued messages through the gates, once each.
pub struct SendWorker<O, Q, S, E> {
    pub store: O,
    pub queue: Q,
    pub sms: S,
    pub email: E,
    pub sealer: Sealer,
    pub sms_rate: RateLimiter,
    pub email_rate: RateLimiter,
    pub settings: WorkerSettings,
    /// The send queue's dead-letter queue (`SEND_DEAD_LETTER_QUEUE_ARN`): its records are settled,
    /// never sent ([`SendWorker::settle_dead_letters`]).
    pub dead_letter_queue_arn: Option<String>,
}

/// The records of an SQS batch read as queued messages (with their record ids), and the ids of
/// the records that are not one.
fn read_records(event: SqsEvent) -> (Vec<(String, QueuedMessage)>, Vec<String>) {
    let mut parsed = Vec::new();
    let mut unreadable = Vec::new();
    for record in event.records {
        let Some(id) = record.message_id else {
            warn!("queue record without a message id; ignored");
            continue;
        };
        match record
            .body
            .as_deref()
            .map(serde_json::from_str::<QueuedMessage>)
        {
            Some(Ok(queued)) => parsed.push((id, queued)),
            _ => {
                warn!(record = %id, "unreadable queue record");
                unreadable.push(id);
            }
        }
    }
    (parsed, unreadable)
}

/// One record of the batch, as far as it got.
struct Job {
    record: String,
    queued: QueuedMessage,
    loaded: Loaded,
}

/// A claimed message ready to go.
struct Claimed<'a> {
    job: &'a Job,
    message: &'a StoredMessage,
    attempts: u32,
}

impl<O, Q, S, E> SendWorker<O, Q, S, E>
where
    O: OutboxStore,
    Q: SendQueue,
    S: SmsGateway,
    E: EmailGateway,
{
    /// Handles one batch delivered by the SQS event source; the response lists the records to
    /// deliver again (`ReportBatchItemFailures`).
    pub async fn handle(&self, event: SqsEvent, now: OffsetDateTime) -> SqsBatchResponse {
        // An event source mapping delivers records of one queue per batch.
        let from_dead_letters = self.dead_letter_queue_arn.as_deref().is_some_and(|arn| {
            event
                .records
                .first()
                .and_then(|r| r.event_source_arn.as_deref())
                == Some(arn)
        });
        if from_dead_letters {
            return self.settle_dead_letters(event, now).await;
        }
        // Never readable: let it reach the dead-letter queue (where it is logged and dropped).
        let (mut parsed, mut failed) = read_records(event);
        // SQS delivers at least once, sometimes two copies in one batch: the first decides for both.
        let mut seen = std::collections::HashSet::new();
        parsed.retain(|(record, queued)| {
            let first = seen.insert(queued.id.clone());
            if !first {
                info!(outbound = %queued.id, record = %record, "second copy in the batch; acknowledged");
            }
            first
        });
        let queued: Vec<QueuedMessage> = parsed.iter().map(|(_, q)| q.clone()).collect();
        let (loaded, rules) = match self.store.load_for_sending(&queued, now).await {
            Ok(loaded) => loaded,
            Err(error) => {
                warn!(%error, "could not read the batch's messages; all will come back");
                failed.extend(parsed.into_iter().map(|(id, _)| id));
                return response(failed);
            }
        };
        let jobs: Vec<Job> = parsed
            .into_iter()
            .zip(loaded)
            .map(|((record, queued), loaded)| Job {
                record,
                queued,
                loaded,
            })
            .collect();
        // The invite window and sending hours organizers set, for this whole batch.
        let settings = match &rules {
            Some(rules) => std::borrow::Cow::Owned(self.settings.with_rules(rules)),
            None => std::borrow::Cow::Borrowed(&self.settings),
        };
        let started = tokio::time::Instant::now();
        let (retry, conflicts) = self.run(&jobs, &settings, now, started).await;
        failed.extend(retry);
        if !conflicts.is_empty() {
            // Another decision in this batch (or another worker) changed these since they were
            // read (e.g. two hosts inviting one person): read them again and decide once more, now,
            // rather than after the visibility timeout.
            let again: Vec<&Job> = jobs
                .iter()
                .filter(|j| conflicts.contains(&j.record))
                .collect();
            let queued: Vec<QueuedMessage> = again.iter().map(|j| j.queued.clone()).collect();
            match self.store.load(&queued, now).await {
                Ok(loaded) => {
                    let second: Vec<Job> = again
                        .iter()
                        .zip(loaded)
                        .map(|(j, loaded)| Job {
                            record: j.record.clone(),
                            queued: j.queued.clone(),
                            loaded,
                        })
                        .collect();
                    let (retry, conflicts) = self.run(&second, &settings, now, started).await;
                    failed.extend(retry);
                    failed.extend(conflicts);
                }
                Err(error) => {
                    warn!(%error, "could not read messages again; they will come back");
                    failed.extend(conflicts);
                }
            }
        }
        response(failed)
    }

    /// Settles the messages of a batch from the dead-letter queue: each failed every delivery from
    /// the send queue (a worker killed while sending it, storage failing, a bug). A claim whose lease
    /// ran out is recorded `unknown` (it may have been sent: never again); a message never claimed
    /// is recorded `failed` (`gave_up`); nothing is sent. The host's progress shows both, so nothing
    /// stays "sending" for ever. A record whose message a worker still holds comes back later; an
    /// unreadable record is logged and dropped (it names no message).
    pub async fn settle_dead_letters(
        &self,
        event: SqsEvent,
        now: OffsetDateTime,
    ) -> SqsBatchResponse {
        let (parsed, unreadable) = read_records(event);
        for id in unreadable {
            warn!(record = %id, "unreadable dead-letter record; dropped");
        }
        let mut failed = Vec::new();
        let queued: Vec<QueuedMessage> = parsed.iter().map(|(_, q)| q.clone()).collect();
        let loaded = match self.store.load(&queued, now).await {
            Ok(loaded) => loaded,
            Err(error) => {
                warn!(%error, "could not read dead-lettered messages; they will come back");
                return response(parsed.into_iter().map(|(id, _)| id).collect());
            }
        };
        let mut transitions = Vec::new();
        let mut records = Vec::new();
        for ((record, queued), loaded) in parsed.into_iter().zip(loaded) {
            let settle = gates::settle_dead_letter(&loaded, now);
            info!(outbound = %queued.id, settle = ?settle, "dead letter");
            match (settle, loaded.message) {
                (gates::Settle::Retry, _) => failed.push(record),
                (gates::Settle::Record(change), Some(m)) => {
                    transitions.push(Transition::of(&m, change));
                    records.push(record);
                }
                _ => {}
            }
        }
        match self.store.apply(&transitions, now).await {
            // A transition that did not apply met a message changed since: look again later.
            Ok(applied) => failed.extend(
                records
                    .into_iter()
                    .zip(applied)
                    .filter(|(_, ok)| !ok)
                    .map(|(record, _)| record),
            ),
            Err(error) => {
                warn!(%error, "could not settle dead-lettered messages; they will come back");
                failed.extend(records);
            }
        }
        response(failed)
    }

    /// Gates, claims, sends and records the jobs; returns the records to deliver again, and those
    /// whose state changed between reading and writing (to look at again).
    async fn run(
        &self,
        jobs: &[Job],
        settings: &WorkerSettings,
        now: OffsetDateTime,
        started: tokio::time::Instant,
    ) -> (Vec<String>, Vec<String>) {
        let mut retry = Vec::new();
        let mut first = Vec::new();
        let mut first_jobs = Vec::new();
        let mut deferrals = Vec::new();
        // What this worker can still send before the batch's time runs out, per channel. A message
        // past that is put back on the queue unclaimed: claiming it only to release it later would
        // cost two writes and hold it from other workers meanwhile.
        let budget = SEND_BUDGET.saturating_sub(started.elapsed());
        let mut room = [Channel::Sms, Channel::Email]
            .map(|channel| (channel, self.limiter(channel).slots_within(budget)));
        let mut overflow = Vec::new();
        for job in jobs {
            let window = self.window(job, settings, now).await;
            let decision = gates::decide(&job.queued, &job.loaded, &window, now);
            let message = job.loaded.message.as_ref();
            info!(
                outbound = %job.queued.id,
                channel = job.queued.channel.as_str(),
                decision = decision_name(&decision),
                "gated"
            );
            let transition = |change| message.map(|m| Transition::of(m, change));
            let t = match decision {
                Decision::Ack => None,
                Decision::Retry | Decision::Mismatch => {
                    retry.push(job.record.clone());
                    None
                }
                Decision::Abandon => transition(Change::Unknown),
                Decision::Skip(reason) => transition(Change::Skip {
                    reason,
                    was_deferred: message.is_some_and(|m| m.deferred),
                }),
                Decision::Defer { until } => {
                    deferrals.push((job, until));
                    // Counted once, at the first deferral; later ones only go back on the queue.
                    message
                        .filter(|m| !m.deferred)
                        .and_then(|_| transition(Change::Defer { until }))
                }
                Decision::Send if !take_room(&mut room, job.queued.channel) => {
                    info!(outbound = %job.queued.id, "no send slot left in this batch; back on the queue");
                    // After a 429 the limiter may be paused past the budget: come back then.
                    let pause = self.limiter(job.queued.channel).pause_remaining();
                    overflow.push((job, now + pause));
                    None
                }
                Decision::Send => transition(Change::Claim {
                    lease_until: now + settings.lease,
                    window_until: message
                        .filter(|m| m.kind.once_per_window())
                        .map(|_| now + settings.invite_window),
                    was_deferred: message.is_some_and(|m| m.deferred),
                }),
            };
            if let Some(t) = t {
                first.push(t);
                first_jobs.push(job);
            }
        }

        // Claims are written a transaction at a time, and each one's messages set off as soon as it
        // is written; outcomes are recorded a transaction at a time while later messages are still
        // being sent. The limiter gives back under a second of time a worker spends outside sending, so
        // writes that precede or follow the sends would be send rate the fleet never gets back.
        let (claims, claimed) = futures::channel::mpsc::unbounded::<Claimed<'_>>();
        let claiming = async {
            let claims = claims;
            let mut retry = Vec::new();
            let mut conflicts = Vec::new();
            let mut written = 0;
            for chunk in claim_chunks(&first) {
                let applied = match self.store.apply(chunk, now).await {
                    Ok(applied) => applied,
                    Err(error) if written == 0 => {
                        warn!(%error, "could not record the batch's decisions; all will come back");
                        return None;
                    }
                    Err(error) => {
                        // The decisions written so far stand (their messages are claimed: they are
                        // being sent); the others were not written and come back, nothing of them sent.
                        warn!(%error, "could not record part of the batch's decisions; that part will come back");
                        break;
                    }
                };
                let jobs = &first_jobs[written..written + chunk.len()];
                for ((t, job), ok) in chunk.iter().zip(jobs).zip(applied) {
                    if !ok {
                        // Someone changed it since we read it: look again.
                        conflicts.push(job.record.clone());
                        deferrals.retain(|(j, _)| !std::ptr::eq(*j, *job));
                    } else if matches!(t.change, Change::Claim { .. })
                        && let Some(message) = job.loaded.message.as_ref()
                    {
                        // The receiver goes away only with the batch.
                        let _ = claims.unbounded_send(Claimed {
                            job,
                            message,
                            attempts: t.from.1 + 1,
                        });
                    }
                }
                written += chunk.len();
            }
            drop(claims);
            for job in &first_jobs[written..] {
                retry.push(job.record.clone());
                deferrals.retain(|(j, _)| !std::ptr::eq(*j, *job));
            }
            deferrals.extend(overflow);
            retry.extend(self.requeue(&deferrals, now).await);
            Some((retry, conflicts))
        };

        let (outcomes, sent) = futures::channel::mpsc::unbounded();
        let sending = async {
            let outcomes = outcomes;
            let mut sends = claimed
                .map(|c| async move {
                    let outcome = self.send(&c, settings, now, started).await;
                    (c, outcome)
                })
                .buffer_unordered(usize::MAX);
            while let Some(done) = sends.next().await {
                // The receiver goes away only with the batch.
                let _ = outcomes.unbounded_send(done);
            }
        };

        let recording = async {
            let mut retry = Vec::new();
            let mut sent = sent.chunks(super::TRANSITIONS_PER_WRITE);
            while let Some(done) = sent.next().await {
                let mut later = Vec::new();
                let mut records = Vec::with_capacity(done.len());
                let mut second = Vec::with_capacity(done.len());
                for (c, (change, retry_in)) in done {
                    if matches!(change, Change::Release) {
                        // Back on the queue after the pause, as a new queue message: throttling is
                        // not a failed delivery and must not walk the message towards the
                        // dead-letter queue.
                        later.push((c.job, now + retry_in));
                    }
                    records.push(c.job.record.clone());
                    second.push(Transition {
                        id: c.message.id.clone(),
                        contact: c.message.contact.clone(),
                        channel: c.message.channel,
                        batch: c.message.batch.clone(),
                        from: (Status::Sending, c.attempts),
                        change,
                    });
                }
                if self.record(&second, now).await {
                    retry.extend(self.requeue(&later, now).await);
                } else {
                    // The sends are done; their messages stay `sending` until the lease runs out
                    // and then become `unknown`. Never sent twice.
                    retry.extend(records);
                }
            }
            retry
        };

        let (claimed, (), unrecorded) = futures::join!(claiming, sending, recording);
        let Some((not_claimed, mut conflicts)) = claimed else {
            return (jobs.iter().map(|j| j.record.clone()).collect(), Vec::new());
        };
        retry.extend(not_claimed);
        retry.extend(unrecorded);
        retry.sort();
        retry.dedup();
        conflicts.retain(|c| !retry.contains(c));
        (retry, conflicts)
    }

    /// The recipient's sending window, when quiet hours apply to the message.
    async fn window(
        &self,
        job: &Job,
        settings: &WorkerSettings,
        now: OffsetDateTime,
    ) -> SendWindow {
        let Some(message) = job.loaded.message.as_ref() else {
            return SendWindow::Open;
        };
        if message.status != Status::Pending || !message.kind.respects_quiet_hours() {
            return SendWindow::Open;
        }
        // Quiet hours are the law for texts (TCPA, Florida's FTSA); an email waits in the inbox and
        // wakes nobody, so it goes when it is ready.
        if message.channel != Channel::Sms {
            return SendWindow::Open;
        }
        let Ok(to) = self.open_address(message).await else {
            // Unreadable: the send fails as corrupt rather than guessing a time zone.
            return SendWindow::Open;
        };
        window_for(&settings.quiet_hours, message, &to, now)
    }

    async fn open_address(
        &self,
        message: &StoredMessage,
    ) -> Result<String, crate::privacy::CryptoError> {
        let context = field_context(&message.contact, message.channel.address_field());
        self.sealer.open(&context, &message.to).await
    }

    /// Puts deferred messages back on the queue with a delay; returns the records that could not be.
    async fn requeue(
        &self,
        deferrals: &[(&Job, OffsetDateTime)],
        now: OffsetDateTime,
    ) -> Vec<String> {
        if deferrals.is_empty() {
            return Vec::new();
        }
        let messages: Vec<(QueuedMessage, Duration)> = deferrals
            .iter()
            .map(|(job, until)| {
                let wait = Duration::try_from(*until - now).unwrap_or_default();
                (job.queued.clone(), wait.min(MAX_QUEUE_DELAY))
            })
            .collect();
        match self.queue.send(&messages).await {
            Ok(accepted) => deferrals
                .iter()
                .zip(accepted)
                .filter(|(_, ok)| !ok)
                .map(|((job, _), _)| job.record.clone())
                .collect(),
            Err(error) => {
                warn!(%error, "could not put deferred messages back; they will come back as they are");
                deferrals
                    .iter()
                    .map(|(job, _)| job.record.clone())
                    .collect()
            }
        }
    }

    /// Opens and sends one claimed message; the change that records the outcome, and for a message
    /// put back (`Release`) the pause before it comes again.
    async fn send(
        &self,
        claimed: &Claimed<'_>,
        settings: &WorkerSettings,
        now: OffsetDateTime,
        started: tokio::time::Instant,
    ) -> (Change, Duration) {
        let message = claimed.message;
        let opened = async {
            let to = self.open_address(message).await?;
            let body = self
                .sealer
                .open(&body_context(&message.id), &message.body)
                .await?;
            Ok::<_, crate::privacy::CryptoError>((to, body))
        }
        .await;
        let (to, body) = match opened {
            Ok(opened) => opened,
            Err(error) => {
                warn!(outbound = %message.id, %error, "message could not be opened");
                let corrupt = Change::Failed {
                    reason: FailReason::Corrupt,
                    code: None,
                    mark: None,
                };
                return (corrupt, Duration::ZERO);
            }
        };
        let limiter = self.limiter(message.channel);
        // Wait for this worker's send slot, but not past the batch's budget.
        if tokio::time::timeout_at(started + SEND_BUDGET, limiter.acquire())
            .await
            .is_err()
        {
            info!(outbound = %message.id, "no send slot within the batch's time; back on the queue");
            return (
                Change::Release,
                limiter.pause_remaining().max(THROTTLE_PAUSE),
            );
        }
        // The slot may come after the window closed (a batch started at 20:59): look again.
        let at = now + started.elapsed();
        if message.channel == Channel::Sms
            && message.kind.respects_quiet_hours()
            && let SendWindow::Closed { opens_at } =
                window_for(&settings.quiet_hours, message, &to, at)
        {
            info!(outbound = %message.id, "quiet hours began before its turn; back on the queue");
            let wait = Duration::try_from(opens_at - now).unwrap_or(THROTTLE_PAUSE);
            return (Change::Release, wait);
        }
        let mut segments = None;
        let result = match message.channel {
            // Whoever wrote it (a catalog, a host, an organizer), a text goes out in as few
            // segments as its words allow: GSM-7 look-alikes replace curly quotes, dashes and the like.
            Channel::Sms => {
                let batch = message.batch.as_ref();
                let text = normalise(&body);
                segments = u32::try_from(crate::sms::segments::segments(&text).segments).ok();
                self.sms.send_sms(&to, &text, batch).await
            }
            Channel::Email => {
                let batch = message.batch.as_ref();
                self.email.send_email(&to, &body, batch).await
            }
        };
        let mut retry_in = THROTTLE_PAUSE;
        if let Err(SendFailure::Throttled { retry_after }) = &result {
            // Everyone in this worker slows down, not only the next attempt at this message.
            retry_in = retry_after.unwrap_or(THROTTLE_PAUSE);
            limiter.penalize(retry_in);
        }
        let change = outcome(message.channel, result, segments);
        info!(
            outbound = %message.id,
            channel = message.channel.as_str(),
            outcome = change_name(&change),
            "sent"
        );
        (change, retry_in)
    }

    /// This worker's rate limiter for `channel`.
    fn limiter(&self, channel: Channel) -> &RateLimiter {
        match channel {
            Channel::Sms => &self.sms_rate,
            Channel::Email => &self.email_rate,
        }
    }

    /// Records outcomes, trying again on storage errors; false if they could not be recorded.
    async fn record(&self, transitions: &[Transition], now: OffsetDateTime) -> bool {
        for attempt in 1..=RECORD_ATTEMPTS {
            match self.store.apply(transitions, now).await {
                Ok(applied) => {
                    for (t, ok) in transitions.iter().zip(applied) {
                        if !ok {
                            warn!(outbound = %t.id, "outcome not recorded: the claim was lost");
                        }
                    }
                    return true;
                }
                Err(error) => {
                    warn!(%error, attempt, "could not record send outcomes");
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                }
            }
        }
        false
    }
}

/// The sending window of a text to `to` (E.164, as stored) at `at`: placed by its ZIP, else its area
/// code, else every US time zone, never "any time".
fn window_for(
    policy: &QuietHoursPolicy,
    message: &StoredMessage,
    to: &str,
    at: OffsetDateTime,
) -> SendWindow {
    let zip = message.zip.as_deref().and_then(|z| Zip::parse(z).ok());
    let clock = policy.clock_for_e164(to, zip.as_ref());
    let now = at;
    match clock.window_at(now) {
        Ok(window) => window,
        Err(error) => {
            // Never send when the hour cannot be known; look again in an hour.
            warn!(%error, "sending window unknown; deferring");
            SendWindow::Closed {
                opens_at: now + time::Duration::hours(1),
            }
        }
    }
}

/// How a provider's answer is recorded.
fn outcome(channel: Channel, result: Result<String, SendFailure>, segments: Option<u32>) -> Change {
    match result {
        Ok(provider_id) => Change::Sent {
            provider_id,
            segments,
        },
        Err(SendFailure::OptedOut { code }) => Change::Failed {
            reason: FailReason::OptedOut,
            code: Some(code),
            mark: (channel == Channel::Sms).then_some(RecipientMark::SmsOptedOut { code }),
        },
        Err(SendFailure::Undeliverable { code }) => Change::Failed {
            reason: FailReason::Undeliverable,
            code,
            mark: Some(match channel {
                Channel::Sms => RecipientMark::SmsUndeliverable {
                    code: code.unwrap_or(0),
                },
                Channel::Email => RecipientMark::EmailUndeliverable,
            }),
        },
        Err(SendFailure::Rejected { code }) => Change::Failed {
            reason: FailReason::Rejected,
            code,
            mark: None,
        },
        Err(SendFailure::Throttled { .. } | SendFailure::Transient) => Change::Release,
        Err(SendFailure::Unknown) => Change::Unknown,
    }
}

/// Claims written before a batch's first text: few, so that the first text leaves after a small
/// write; the texts they hold (a burst, then one an interval) last longer than the next write, so
/// the sends never wait for it. For 100 messages this is still four writes (10, 30, 30, 30).
const FIRST_CLAIMS: usize = 10;

/// `transitions` in the chunks they are written in: [`FIRST_CLAIMS`], then
/// [`super::TRANSITIONS_PER_WRITE`] at a time.
fn claim_chunks<T>(transitions: &[T]) -> impl Iterator<Item = &[T]> {
    let (head, tail) = transitions.split_at(transitions.len().min(FIRST_CLAIMS));
    std::iter::once(head)
        .filter(|head| !head.is_empty())
        .chain(tail.chunks(super::TRANSITIONS_PER_WRITE))
}

/// Takes one send slot of `channel` if one is left.
fn take_room(room: &mut [(Channel, usize)], channel: Channel) -> bool {
    match room.iter_mut().find(|(c, _)| *c == channel) {
        Some((_, left)) if *left > 0 => {
            *left -= 1;
            true
        }
        _ => false,
    }
}

fn response(failed: Vec<String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}

fn decision_name(decision: &Decision) -> &'static str {
    match decision {
        Decision::Ack => "ack",
        Decision::Retry => "retry",
        Decision::Abandon => "abandon",
        Decision::Mismatch => "mismatch",
        Decision::Skip(reason) => reason.as_str(),
        Decision::Defer { .. } => "defer",
        Decision::Send => "send",
    }
}

fn change_name(change: &Change) -> &'static str {
    match change {
        Change::Claim { .. } => "claim",
        Change::Skip { .. } => "skipped",
        Change::Defer { .. } => "deferred",
        Change::Sent { .. } => "sent",
        Change::Failed { reason, .. } => reason.as_str(),
        Change::Release => "retry_later",
        Change::Unknown => "unknown",
    }
}

#[cfg(test)]
#[path = "worker_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "simulation_tests.rs"]
mod simulation;

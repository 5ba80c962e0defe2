//! The scheduler: reminders before gatherings and trainings, thanks and next steps after a
//! gathering, and a training's recording once it is published, each sent once per person and
//! channel, through the one outbound path ([`crate::outbound`]): the send worker gates every message
//! at send time (consent, opt-out, suppression, bounces, quiet hours in the person's local time) and
//! holds the rate limits; nothing here sends.
//!
//! The `scheduler` function runs on an EventBridge schedule and hands [`Scheduler::run`] the
//! scheduled event's `time` as "now", so a run and its replay decide the same.
//!
//! **What is due** ([`FollowUp::window`]): each follow-up of an event has a window of time in which
//! it is sent, and is for the people who signed up before a time (a person who RSVPs an hour before
//! the gathering has just had their confirmation and is not reminded of it):
//!
//! | follow-up | of | window | for sign-ups before |
//! |---|---|---|---|
//! | `day_before` | a gathering (RSVP `going`) | start − 24 h … start − 10 h | start − 25 h |
//! | `same_day` | a gathering (RSVP `going`) | start − 4 h … start − 1 h | start − 5 h |
//! | `after` | a gathering (RSVP `going`) | end + 2 h … end + 48 h | anyone |
//! | `training` | a training (registered) | start − 24 h … start − 2 h | start − 25 h |
//! | `recording` | a training (registered) | publication … + 30 days | anyone |
//!
//! A gathering's reminders tell its private address (from the day before, as the domain allows);
//! its email carries a calendar invite with the same UID as the confirmation's, so calendars update.
//!
//! **Once per person** ([`followup_id`]): a message's id is a digest of the follow-up, its event (id
//! and start, or the recording's publication), the person and the channel, so its conditional
//! enqueue writes it at most once, whatever the runs. **Cheap runs**: a sweep cursor per follow-up
//! and event (`SWEEP#…`) records the newest sign-up handled; a run reads the event's sign-ups and
//! handles only those after it. Only a cursor moved after the send queue accepted the messages: a
//! run that dies in between is redone by the next one, which finds the messages stored and, if
//! still `pending`, puts them on the queue again (the worker acts once on duplicates).

mod handler;
#[cfg(test)]
mod tests;

pub use handler::{ScheduledRuns, SchedulerError, scheduled_time};

use sha2::{Digest, Sha256};
use std::time::Duration as StdDuration;
use time::{Duration, OffsetDateTime};

use crate::config::{CampaignConfig, ProgramConfig};
use crate::conversation::email_step::letter;
use crate::domain::{EmailAddress, Gathering, Language, Training};
use crate::email::{
    Email, EmailError, Mailbox, TokenKey, TokenPurpose, UnsubscribeToken, calendar_invite,
    forget_url, unsubscribe_url,
};
use crate::messages::{self, render};
use crate::outbound::{
    Channel, ConsentBasis, Kind, NewMessage, OutboundId, OutboxStore, QueueError, QueuedMessage,
    SendQueue, Status, body_context,
};
use crate::privacy::{ContactHash, CryptoError, Sealed, Sealer, field_context};
use crate::store::{
    FollowUpStore, GatheringStore, RsvpStatus, RsvpStore, StoreError, StoredTemplate,
    TemplateMessage, TemplateStore, TrainingStore,
};

/// A message the scheduler sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FollowUp {
    /// The day before a gathering.
    DayBefore,
    /// A few hours before a gathering.
    SameDay,
    /// After a gathering: thanks and next steps.
    After,
    /// The day before a training, with its join link.
    TrainingReminder,
    /// A training's recording, once published.
    Recording,
}

/// When a follow-up goes out, and to whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub opens: OffsetDateTime,
    pub closes: OffsetDateTime,
    /// Only people who signed up before this; `None`: everyone.
    pub joined_before: Option<OffsetDateTime>,
}

impl Window {
    pub fn contains(&self, now: OffsetDateTime) -> bool {
        self.opens <= now && now < self.closes
    }

    pub fn admits(&self, joined_at: OffsetDateTime) -> bool {
        self.joined_before.is_none_or(|before| joined_at < before)
    }
}

/// The follow-ups of a gathering.
pub const GATHERING_FOLLOW_UPS: [FollowUp; 3] =
    [FollowUp::DayBefore, FollowUp::SameDay, FollowUp::After];

/// How long after its publication a recording is still sent to people who registered.
pub const RECORDING_WINDOW: Duration = Duration::days(30);

/// How far back in time a run looks for gatherings whose follow-up is due (the longest gathering
/// plus the follow-up's window).
const GATHERINGS_LOOKBACK: Duration = Duration::days(4);

/// How far ahead a run looks for gatherings whose reminder is due.
const GATHERINGS_LOOKAHEAD: Duration = Duration::hours(25);

/// Sign-ups handled between two moves of a sweep's cursor.
const CHUNK: usize = 100;

/// `sign_ups` (oldest first) in runs of about `size`, never splitting sign-ups of the same time (a
/// cursor at that time would skip the rest of them).
fn chunks(sign_ups: &[SignUp], size: usize) -> Vec<&[SignUp]> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < sign_ups.len() {
        let mut end = (start + size).min(sign_ups.len());
        while end < sign_ups.len() && sign_ups[end].at == sign_ups[end - 1].at {
            end += 1;
        }
        out.push(&sign_ups[start..end]);
        start = end;
    }
    out
}

/// A sweep's cursor stays this far behind the run's time: a sign-up stamped just before the run
/// but not yet readable is handled by the next run.
const SETTLE: Duration = Duration::minutes(2);

impl FollowUp {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DayBefore => "day_before",
            Self::SameDay => "same_day",
            Self::After => "after",
            Self::TrainingReminder => "training",
            Self::Recording => "recording",
        }
    }

    /// The outbound kind: which gates apply.
    pub fn kind(self) -> Kind {
        match self {
            Self::DayBefore | Self::SameDay | Self::TrainingReminder => Kind::Reminder,
            Self::After => Kind::FollowUp,
            Self::Recording => Kind::Recording,
        }
    }

    /// What entitles us to send it: the person signed up for the event (a recording is what they
    /// registered for; texts still need their SMS opt-in, which the worker checks).
    pub fn consent(self) -> ConsentBasis {
        match self {
            Self::Recording => ConsentBasis::Requested,
            _ => ConsentBasis::OptedIn,
        }
    }

    /// The window of this follow-up for an event running from `starts_at` to `ends_at` (a
    /// recording's: from its publication `published_at`).
    pub fn window(
        self,
        starts_at: OffsetDateTime,
        ends_at: OffsetDateTime,
        published_at: Option<OffsetDateTime>,
    ) -> Option<Window> {
        let w = |opens, closes, joined_before| {
            Some(Window {
                opens,
                closes,
                joined_before,
            })
        };
        match self {
            Self::DayBefore => w(
                starts_at - Duration::hours(24),
                starts_at - Duration::hours(10),
                Some(starts_at - Duration::hours(25)),
            ),
            Self::SameDay => w(
                starts_at - Duration::hours(4),
                starts_at - Duration::hours(1),
                Some(starts_at - Duration::hours(5)),
            ),
            Self::After => w(
                ends_at + Duration::hours(2),
                ends_at + Duration::hours(48),
                None,
            ),
            Self::TrainingReminder => w(
                starts_at - Duration::hours(24),
                starts_at - Duration::hours(2),
                Some(starts_at - Duration::hours(25)),
            ),
            Self::Recording => {
                let published = published_at?;
                w(published, published + RECORDING_WINDOW, None)
            }
        }
    }
}

/// The event a follow-up is about.
#[derive(Debug, Clone)]
pub enum Subject {
    Gathering(Box<Gathering>),
    Training(Box<Training>),
}

/// One follow-up of one event, due now.
#[derive(Debug, Clone)]
pub struct Job {
    pub follow_up: FollowUp,
    pub subject: Subject,
    pub window: Window,
}

impl Job {
    /// Names the follow-up of this event: a moved gathering or training is reminded again at its new
    /// time; a recording is published once.
    pub fn tag(&self) -> String {
        match &self.subject {
            Subject::Gathering(g) => format!("{}@{}", g.id.as_str(), g.starts_at.unix_timestamp()),
            Subject::Training(t) if self.follow_up == FollowUp::Recording => {
                t.id.as_str().to_owned()
            }
            Subject::Training(t) => format!("{}@{}", t.id.as_str(), t.starts_at.unix_timestamp()),
        }
    }

    /// The key of this job's sweep cursor.
    pub fn sweep(&self) -> String {
        format!("{}#{}", self.follow_up.as_str(), self.tag())
    }
}

/// The id of `follow_up` (tagged `tag`) to `person` on `channel`: the same in every run.
pub fn followup_id(
    follow_up: FollowUp,
    tag: &str,
    person: &ContactHash,
    channel: Channel,
) -> OutboundId {
    let digest = Sha256::digest(format!(
        "{}\0{tag}\0{}\0{}",
        follow_up.as_str(),
        person.as_str(),
        channel.as_str()
    ));
    let id = format!("fu-{}", &hex::encode(digest)[..40]);
    OutboundId::parse(&id).unwrap_or_else(OutboundId::random)
}

/// The follow-ups due at `now` for these gatherings and trainings.
pub fn due(gatherings: &[Gathering], trainings: &[Training], now: OffsetDateTime) -> Vec<Job> {
    let mut jobs = Vec::new();
    for g in gatherings {
        for follow_up in GATHERING_FOLLOW_UPS {
            if let Some(window) = follow_up.window(g.starts_at, g.ends_at, None)
                && window.contains(now)
            {
                jobs.push(Job {
                    follow_up,
                    subject: Subject::Gathering(Box::new(g.clone())),
                    window,
                });
            }
        }
    }
    for t in trainings {
        for follow_up in [FollowUp::TrainingReminder, FollowUp::Recording] {
            let published = t.published_recording().and(t.recording_published_at);
            if let Some(window) = follow_up.window(t.starts_at, t.ends_at, published)
                && window.contains(now)
            {
                jobs.push(Job {
                    follow_up,
                    subject: Subject::Training(Box::new(t.clone())),
                    window,
                });
            }
        }
    }
    jobs
}

/// Someone signed up for an event: an RSVP `going`, or a training registration.
#[derive(Debug, Clone)]
struct SignUp {
    person: ContactHash,
    first_name: Sealed,
    language: Language,
    at: OffsetDateTime,
}

/// What the scheduler's messages need besides the stores.
#[derive(Debug, Clone)]
pub struct Settings {
    pub program: ProgramConfig,
    pub campaign: CampaignConfig,
    pub from: Mailbox,
    /// Base of the email links and event pages (`PUBLIC_BASE_URL`, else the API's URL).
    pub public_base_url: String,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// Follow-ups of events due at this time.
    pub jobs: usize,
    /// Sign-ups newly considered.
    pub sign_ups: usize,
    /// Messages stored and queued for the first time.
    pub enqueued: usize,
    /// Messages of an earlier, interrupted run queued again.
    pub requeued: usize,
    /// Follow-ups of events that failed (the run then fails, after trying the others).
    pub failed: usize,
}

/// Why a run failed (it is retried by the next one).
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("sealing failed: {0}")]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("the send queue refused {0} message(s)")]
    Refused(usize),
    #[error("an email could not be built: {0}")]
    Email(#[from] EmailError),
}

/// The scheduler use case and its ports.
pub struct Scheduler<'a, G, T, F, O, Q> {
    pub settings: &'a Settings,
    pub gatherings: &'a G,
    pub trainings: &'a T,
    pub store: &'a F,
    pub outbox: &'a O,
    pub queue: &'a Q,
    pub sealer: &'a Sealer,
    pub link_key: &'a TokenKey,
    /// The texts organizers reworded (`/admin/templates`), read once per run, when the first text
    /// is written.
    pub templates: tokio::sync::OnceCell<Vec<StoredTemplate>>,
}

impl<G, T, F, O, Q> Scheduler<'_, G, T, F, O, Q>
where
    G: GatheringStore + RsvpStore + TemplateStore,
    T: TrainingStore,
    F: FollowUpStore,
    O: OutboxStore,
    Q: SendQueue,
{
    /// Sends what is due at `now`.
    #[tracing::instrument(name = "followups.run", skip_all)]
    pub async fn run(&self, now: OffsetDateTime) -> Result<Report, ScheduleError> {
        let gatherings = self
            .gatherings
            .starting_between(now - GATHERINGS_LOOKBACK, now + GATHERINGS_LOOKAHEAD)
            .await?;
        let trainings = self.trainings.trainings().await?;
        let jobs = due(&gatherings, &trainings, now);
        let mut report = Report {
            jobs: jobs.len(),
            ..Report::default()
        };
        // One event's failure (an unreadable item, a throttled table) holds back neither the
        // others nor the next runs: each job is tried, and the run fails after, so it is retried.
        let mut failure = None;
        for job in &jobs {
            if let Err(e) = self.run_job(job, &trainings, now, &mut report).await {
                report.failed += 1;
                tracing::error!(follow_up = job.follow_up.as_str(), error = %e, "follow-up failed");
                failure.get_or_insert(e);
            }
        }
        tracing::info!(
            jobs = report.jobs,
            sign_ups = report.sign_ups,
            enqueued = report.enqueued,
            requeued = report.requeued,
            failed = report.failed,
            "scheduler run"
        );
        match failure {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    #[tracing::instrument(name = "followups.job", skip_all, fields(follow_up = job.follow_up.as_str()))]
    async fn run_job(
        &self,
        job: &Job,
        trainings: &[Training],
        now: OffsetDateTime,
        report: &mut Report,
    ) -> Result<(), ScheduleError> {
        let sweep = job.sweep();
        let through = self.store.swept_through(&sweep).await?;
        let mut fresh: Vec<SignUp> = self
            .sign_ups(&job.subject)
            .await?
            .into_iter()
            .filter(|s| through.is_none_or(|t| s.at > t))
            .collect();
        fresh.sort_by_key(|s| s.at);
        report.sign_ups += fresh.len();
        // Oldest first, a chunk at a time, the cursor moved after each: a run stopped by its timeout
        // (a recording for tens of thousands) keeps what it did, and the next goes on from there.
        for chunk in chunks(&fresh, CHUNK) {
            self.run_chunk(job, chunk, trainings, now, report).await?;
            let newest = chunk.last().map_or(now, |s| s.at);
            self.store
                .sweep(&sweep, newest.min(now - SETTLE), now)
                .await?;
        }
        Ok(())
    }

    /// Stores and queues the messages of `chunk`'s sign-ups.
    async fn run_chunk(
        &self,
        job: &Job,
        chunk: &[SignUp],
        trainings: &[Training],
        now: OffsetDateTime,
        report: &mut Report,
    ) -> Result<(), ScheduleError> {
        let admitted: std::collections::HashMap<&ContactHash, &SignUp> = chunk
            .iter()
            .filter(|s| job.window.admits(s.at))
            .map(|s| (&s.person, s))
            .collect();
        let people: Vec<ContactHash> = admitted.keys().map(|p| (*p).clone()).collect();
        let reach = if people.is_empty() {
            Vec::new()
        } else {
            self.store.reach(&people).await?
        };
        let tag = job.tag();
        // Every message this job may send, then which of them an earlier run stored already.
        let mut candidates = Vec::new();
        for r in &reach {
            let Some(sign_up) = admitted.get(&r.person) else {
                continue;
            };
            for (channel, address) in [(Channel::Email, &r.email), (Channel::Sms, &r.sms)] {
                if let Some(address) = address {
                    let id = followup_id(job.follow_up, &tag, &r.person, channel);
                    let queued = QueuedMessage {
                        id,
                        contact: address.contact.clone(),
                        channel,
                    };
                    candidates.push((queued, *sign_up, r, address.sealed.clone()));
                }
            }
        }
        let queued: Vec<QueuedMessage> = candidates.iter().map(|c| c.0.clone()).collect();
        let loaded = if queued.is_empty() {
            Vec::new()
        } else {
            self.outbox.load(&queued, now).await?
        };
        let mut new = Vec::new();
        let mut again = Vec::new();
        for ((queued, sign_up, reach, to), loaded) in candidates.into_iter().zip(loaded) {
            match loaded.message {
                Some(stored) => {
                    if stored.status == Status::Pending && !stored.deferred {
                        again.push(queued);
                    }
                }
                None => {
                    let body = self
                        .render(job, trainings, &queued, sign_up, &to, now)
                        .await?;
                    new.push(NewMessage {
                        body: self.sealer.seal(&body_context(&queued.id), &body).await?,
                        id: queued.id,
                        channel: queued.channel,
                        kind: job.follow_up.kind(),
                        consent: job.follow_up.consent(),
                        contact: queued.contact,
                        to,
                        language: sign_up.language,
                        zip: reach.zip.clone(),
                        batch: None,
                    });
                }
            }
        }
        if !new.is_empty() {
            self.outbox.enqueue(&new, now).await?;
        }
        let to_queue: Vec<(QueuedMessage, StdDuration)> = new
            .iter()
            .map(NewMessage::queued)
            .chain(again.iter().cloned())
            .map(|q| (q, StdDuration::ZERO))
            .collect();
        if !to_queue.is_empty() {
            let accepted = self.queue.send(&to_queue).await?;
            let refused = accepted.iter().filter(|a| !**a).count();
            if refused > 0 {
                return Err(ScheduleError::Refused(refused));
            }
        }
        report.enqueued += new.len();
        report.requeued += again.len();
        Ok(())
    }

    async fn sign_ups(&self, subject: &Subject) -> Result<Vec<SignUp>, ScheduleError> {
        let sign_up = |hash: &str, first_name, language, at| {
            Some(SignUp {
                person: ContactHash::parse(hash)?,
                first_name,
                language,
                at,
            })
        };
        Ok(match subject {
            Subject::Gathering(g) => self
                .gatherings
                .rsvps_for(&g.id)
                .await?
                .into_iter()
                .filter(|r| r.status == RsvpStatus::Going)
                .filter_map(|r| sign_up(&r.contact_hash, r.first_name, r.language, r.created_at))
                .collect(),
            Subject::Training(t) => self
                .trainings
                .registrants(&t.id)
                .await?
                .into_iter()
                .filter_map(|r| sign_up(&r.contact_hash, r.first_name, r.language, r.created_at))
                .collect(),
        })
    }

    /// The message's body: the text, or the whole email as MIME.
    async fn render(
        &self,
        job: &Job,
        trainings: &[Training],
        queued: &QueuedMessage,
        sign_up: &SignUp,
        to: &Sealed,
        now: OffsetDateTime,
    ) -> Result<String, ScheduleError> {
        let language = sign_up.language;
        let content = self.content(job, trainings, language, now).await?;
        let values = content.values();
        match queued.channel {
            Channel::Sms => {
                let templates = self
                    .templates
                    .get_or_try_init(|| self.gatherings.templates())
                    .await?;
                let wording = crate::messages::wording(templates, content.sms, language);
                Ok(render(wording, &values))
            }
            Channel::Email => {
                let name = self
                    .sealer
                    .open(
                        &field_context(&sign_up.person, "first_name"),
                        &sign_up.first_name,
                    )
                    .await?;
                let address = self
                    .sealer
                    .open(
                        &field_context(&queued.contact, Channel::Email.address_field()),
                        to,
                    )
                    .await?;
                let address = EmailAddress::parse(&address)
                    .map_err(|_| CryptoError::Malformed("stored email address"))?;
                self.email(&content, &queued.contact, &address, &name, language, now)
            }
        }
    }

    /// What the follow-up says, in `language`.
    async fn content(
        &self,
        job: &Job,
        trainings: &[Training],
        language: Language,
        now: OffsetDateTime,
    ) -> Result<Content, ScheduleError> {
        let catalog = messages::catalog(language);
        let settings = self.settings;
        let base = settings.public_base_url.as_str();
        let mut content = Content {
            subject: "",
            body: "",
            sms: TemplateMessage::ReminderSms,
            values: vec![
                ("program", settings.program.name.clone()),
                ("safety_url", settings.campaign.safety_url.clone()),
                ("recordings_url", settings.campaign.recordings_url.clone()),
                ("host_url", settings.campaign.host_signup_url.clone()),
            ],
            calendar: None,
        };
        match &job.subject {
            Subject::Gathering(g) => {
                let when = messages::when(g.starts_at, &g.timezone, language);
                let place = match g.open_address(self.sealer, now).await? {
                    Some(address) => format!("{address}, {}, {}", g.town, g.state),
                    None => format!("{} ({}, {})", catalog.private_place_email, g.town, g.state),
                };
                let notes = if g.accessibility.is_empty() {
                    String::new()
                } else {
                    render(
                        catalog.accessibility_line,
                        &[("accessibility", g.accessibility.as_str())],
                    )
                };
                content.values.extend([
                    ("title", g.title.as_str().to_owned()),
                    ("when", when),
                    ("place", place.clone()),
                    ("notes", notes),
                    (
                        "next_training",
                        next_training(
                            trainings,
                            language,
                            base,
                            &settings.campaign.recordings_url,
                            now,
                        ),
                    ),
                ]);
                match job.follow_up {
                    FollowUp::After => {
                        content.subject = catalog.follow_up_subject;
                        content.body = catalog.follow_up_body;
                        content.sms = TemplateMessage::FollowUpSms;
                    }
                    follow_up => {
                        content.subject = if follow_up == FollowUp::SameDay {
                            catalog.reminder_today_subject
                        } else {
                            catalog.reminder_tomorrow_subject
                        };
                        content.body = catalog.reminder_body;
                        content.sms = TemplateMessage::ReminderSms;
                        content.calendar = Some(Calendar {
                            uid: g.id.as_str().to_owned(),
                            title: g.title.as_str().to_owned(),
                            starts_at: g.starts_at,
                            ends_at: g.ends_at,
                            place,
                            url: format!("{base}/g/{}", g.id.as_str()),
                        });
                    }
                }
            }
            Subject::Training(t) => {
                content.values.extend([
                    ("title", t.title_in(language).as_str().to_owned()),
                    ("when", messages::when(t.starts_at, &t.time_zone, language)),
                    (
                        "join_url",
                        t.join_url.as_ref().map_or_else(
                            || format!("{base}/t/{}", t.id.as_str()),
                            |u| u.as_str().to_owned(),
                        ),
                    ),
                    (
                        "url",
                        t.published_recording()
                            .map(|u| u.as_str().to_owned())
                            .unwrap_or_default(),
                    ),
                ]);
                if job.follow_up == FollowUp::Recording {
                    content.subject = catalog.recording_subject;
                    content.body = catalog.recording_body;
                    content.sms = TemplateMessage::RecordingSms;
                } else {
                    content.subject = catalog.reminder_tomorrow_subject;
                    content.body = catalog.training_reminder_body;
                    content.sms = TemplateMessage::TrainingReminderSms;
                }
            }
        }
        Ok(content)
    }

    fn email(
        &self,
        content: &Content,
        contact: &ContactHash,
        to: &EmailAddress,
        name: &str,
        language: Language,
        now: OffsetDateTime,
    ) -> Result<String, ScheduleError> {
        let settings = self.settings;
        let base = settings.public_base_url.as_str();
        let unsubscribe = unsubscribe_url(
            base,
            &UnsubscribeToken::sign(self.link_key, contact, TokenPurpose::Marketing, now),
        );
        let forget = forget_url(
            base,
            &UnsubscribeToken::sign(self.link_key, contact, TokenPurpose::Forget, now),
        );
        let mut values = content.values();
        values.push(("name", name));
        values.push(("unsubscribe_url", unsubscribe.as_str()));
        values.push(("forget_url", forget.as_str()));
        let catalog = messages::catalog(language);
        let subject = render(content.subject, &values);
        let body = render(content.body, &values);
        let footer = render(catalog.form_email_footer, &values);
        let (text, html) = letter(&body, &footer, language);
        let mut email = Email::new(
            settings.from.clone(),
            to.clone(),
            &subject,
            text,
            html,
            language,
        )
        .with_list_unsubscribe(&unsubscribe)
        .with_date(now);
        if let Some(calendar) = &content.calendar {
            let domain = settings
                .from
                .address()
                .as_str()
                .rsplit('@')
                .next()
                .unwrap_or("rising.invalid");
            let ics = calendar_invite(
                &format!("{}@{domain}", calendar.uid),
                &calendar.title,
                calendar.starts_at,
                calendar.ends_at,
                Some(&calendar.place),
                &body,
                Some(&calendar.url),
            )
            .map_err(|_| EmailError::Serialise)?;
            email = email.with_calendar_invite(ics);
        }
        let mime = email.to_mime()?;
        String::from_utf8(mime).map_err(|_| ScheduleError::Email(EmailError::Serialise))
    }
}

/// The soonest training that has not started, as a line of the follow-up; else the recordings.
fn next_training(
    trainings: &[Training],
    language: Language,
    base: &str,
    recordings_url: &str,
    now: OffsetDateTime,
) -> String {
    let catalog = messages::catalog(language);
    match trainings
        .iter()
        .filter(|t| t.starts_at > now)
        .min_by_key(|t| t.starts_at)
    {
        Some(t) => render(
            catalog.next_training_line,
            &[
                ("title", t.title_in(language).as_str()),
                (
                    "when",
                    messages::when(t.starts_at, &t.time_zone, language).as_str(),
                ),
                ("url", format!("{base}/t/{}", t.id.as_str()).as_str()),
            ],
        ),
        None => render(
            catalog.no_next_training,
            &[("recordings_url", recordings_url)],
        ),
    }
}

/// A gathering's calendar invite.
#[derive(Debug, Clone)]
struct Calendar {
    uid: String,
    title: String,
    starts_at: OffsetDateTime,
    ends_at: OffsetDateTime,
    place: String,
    url: String,
}

/// The templates of a follow-up and the values that fill them.
#[derive(Debug, Clone)]
struct Content {
    subject: &'static str,
    body: &'static str,
    /// The text's wording: the catalog's, or the organizers' (`/admin/templates`).
    sms: TemplateMessage,
    values: Vec<(&'static str, String)>,
    calendar: Option<Calendar>,
}

impl Content {
    fn values(&self) -> Vec<(&str, &str)> {
        self.values.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }
}

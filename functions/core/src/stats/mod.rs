//! The numbers of the organizers' campaign overview (`/admin`): people, RSVPs by source, training
//! registrations, opt-ins and opt-outs, messages by kind, channel and outcome, SMS segments, email
//! bounces and complaints, and the rates and cost made from them.
//!
//! **Where they come from.** The `events-publisher` reads every change of interest from the table's
//! stream already (see [`crate::domain_events`]); after it publishes a batch, it adds what the batch's
//! published records count ([`tally`]) to one counters item per day, with one `UpdateItem … ADD`.
//! Reading the overview is then one `Query` of a small partition, never a scan of a million people.
//!
//! **Counted once, or not at all.** Lambda retries a batch from the first record the bus refused, so
//! only the records before it are counted: a retried record is counted when it is published. A counter
//! write that fails is logged as a warning and does not fail the batch (the events are out; retrying
//! would publish them again, and counting them again would count twice): the numbers may then be
//! slightly low, never double. Each write is conditioned on the token of the batch it counts (the
//! event id of its last record), so the SDK repeating a write whose answer was lost adds nothing.
//!
//! **What counts as what** (from the stream record's images, never the table):
//!
//! | counter | record |
//! |---|---|
//! | `people` | a `contact` item created (`INSERT`) |
//! | `rsvps_<source>` | an `rsvp` created, by its `source` (`sms`, `form`, `invite`), going or waitlisted |
//! | `registrations` | a `training_registration` created |
//! | `opt_ins_<channel>` / `opt_outs_<channel>` | a `consent` record (`opt_in` / `opt_out`) |
//! | `sent_<kind>_<channel>` | an `OUTBOX` message reaching `sent` |
//! | `skipped_` / `failed_` / `unknown_<channel>` | an `OUTBOX` message reaching that status |
//! | `sms_segments` | a text reaching `sent`: its `segments` (1 for a message written before they were kept) |
//! | `hard_bounces` / `soft_bounces` / `complaints` | an `email_event` record created (one per report and address) |
//!
//! **The item.** `pk` = `STATS`, `sk` = `DAY#<yyyy-mm-dd>` (the UTC day of the change, from the stream
//! record's creation time), `entity` = `stats`, `day`, `updated_at`, `last_batch` (the token above), and
//! one number per counter above (absent = 0). The publisher's stream filter does not match `stats`, so
//! counting never wakes the publisher. The publisher needs `dynamodb:UpdateItem` on keys `STATS` only; a
//! reader needs `dynamodb:Query` on the table.

mod dynamo;
mod memory;
mod tally;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::future::Future;

use time::{Date, Duration};

pub use dynamo::DynamoCampaignStats;
pub use memory::MemoryCampaignStats;
pub use tally::tally;

use crate::store::StoreError;

/// Port: the campaign's counters, by day.
pub trait CampaignStats: Send + Sync {
    /// Adds `counts` to `day`'s counters in one write. `batch` names what is counted (the last stream
    /// record's event id): the same write repeated with the same `batch` adds nothing.
    fn add(
        &self,
        day: Date,
        counts: &Counts,
        batch: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every day's counters, summed, with the days themselves.
    fn overview(&self) -> impl Future<Output = Result<Overview, StoreError>> + Send;
}

/// A number per channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ByChannel {
    pub sms: u64,
    pub email: u64,
}

impl ByChannel {
    pub fn total(&self) -> u64 {
        self.sms + self.email
    }
}

/// RSVPs by how they came (`crate::store::RsvpSource`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RsvpsBySource {
    /// Texted the campaign number.
    pub sms: u64,
    /// The embedded web form.
    pub form: u64,
    /// Answered a host's invitation.
    pub invite: u64,
}

impl RsvpsBySource {
    pub fn total(&self) -> u64 {
        self.sms + self.form + self.invite
    }
}

/// Messages by kind (`crate::outbound::Kind`), each by channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ByKind {
    pub invite: ByChannel,
    pub confirmation: ByChannel,
    pub reminder: ByChannel,
    pub recording: ByChannel,
    pub follow_up: ByChannel,
}

impl ByKind {
    /// All kinds together, by channel.
    pub fn total(&self) -> ByChannel {
        let all = [
            self.invite,
            self.confirmation,
            self.reminder,
            self.recording,
            self.follow_up,
        ];
        ByChannel {
            sms: all.iter().map(|c| c.sms).sum(),
            email: all.iter().map(|c| c.email).sum(),
        }
    }
}

/// What happened in some span of time (a batch, a day, the whole campaign).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Contacts created: people who texted, filled in a form or were reached.
    pub people: u64,
    pub rsvps: RsvpsBySource,
    /// Training registrations.
    pub registrations: u64,
    pub opt_ins: ByChannel,
    pub opt_outs: ByChannel,
    /// Messages sent (the provider took them), by kind and channel.
    pub sent: ByKind,
    /// Messages a gate held back (no consent, quiet hours past their time …): nothing was sent.
    pub skipped: ByChannel,
    /// Messages the provider refused.
    pub failed: ByChannel,
    /// Messages whose send had no answer: they may have gone out.
    pub unknown: ByChannel,
    /// Segments of the texts sent: what a text costs is its segments × the price of a segment.
    pub sms_segments: u64,
    /// Addresses SES reported as permanently undeliverable (one per report and address).
    pub hard_bounces: u64,
    /// Transient bounces (SES retries those itself).
    pub soft_bounces: u64,
    /// Emails marked as spam.
    pub complaints: u64,
}

/// How many counters [`Counts`] has.
const COUNTERS: usize = 29;

impl Counts {
    /// Each counter with its attribute name on the counters item.
    pub(crate) fn slots(&mut self) -> [(&'static str, &mut u64); COUNTERS] {
        let Self {
            people,
            rsvps,
            registrations,
            opt_ins,
            opt_outs,
            sent,
            skipped,
            failed,
            unknown,
            sms_segments,
            hard_bounces,
            soft_bounces,
            complaints,
        } = self;
        [
            ("people", people),
            ("rsvps_sms", &mut rsvps.sms),
            ("rsvps_form", &mut rsvps.form),
            ("rsvps_invite", &mut rsvps.invite),
            ("registrations", registrations),
            ("opt_ins_sms", &mut opt_ins.sms),
            ("opt_ins_email", &mut opt_ins.email),
            ("opt_outs_sms", &mut opt_outs.sms),
            ("opt_outs_email", &mut opt_outs.email),
            ("sent_invite_sms", &mut sent.invite.sms),
            ("sent_invite_email", &mut sent.invite.email),
            ("sent_confirmation_sms", &mut sent.confirmation.sms),
            ("sent_confirmation_email", &mut sent.confirmation.email),
            ("sent_reminder_sms", &mut sent.reminder.sms),
            ("sent_reminder_email", &mut sent.reminder.email),
            ("sent_recording_sms", &mut sent.recording.sms),
            ("sent_recording_email", &mut sent.recording.email),
            ("sent_follow_up_sms", &mut sent.follow_up.sms),
            ("sent_follow_up_email", &mut sent.follow_up.email),
            ("skipped_sms", &mut skipped.sms),
            ("skipped_email", &mut skipped.email),
            ("failed_sms", &mut failed.sms),
            ("failed_email", &mut failed.email),
            ("unknown_sms", &mut unknown.sms),
            ("unknown_email", &mut unknown.email),
            ("sms_segments", sms_segments),
            ("hard_bounces", hard_bounces),
            ("soft_bounces", soft_bounces),
            ("complaints", complaints),
        ]
    }

    /// The counters that are not 0, by attribute name.
    pub(crate) fn nonzero(&self) -> Vec<(&'static str, u64)> {
        let mut copy = *self;
        copy.slots()
            .into_iter()
            .filter(|(_, v)| **v > 0)
            .map(|(name, v)| (name, *v))
            .collect()
    }

    /// Adds `other` to these counts.
    pub fn add(&mut self, other: &Counts) {
        let mut other = *other;
        for ((_, mine), (_, theirs)) in self.slots().into_iter().zip(other.slots()) {
            *mine = mine.saturating_add(*theirs);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.nonzero().is_empty()
    }

    /// Texts sent, all kinds.
    pub fn texts_sent(&self) -> u64 {
        self.sent.total().sms
    }

    /// Emails sent, all kinds: what emails cost is this × the price of an email.
    pub fn emails_sent(&self) -> u64 {
        self.sent.total().email
    }

    /// Invitations sent, by channel.
    pub fn invites_sent(&self) -> ByChannel {
        self.sent.invite
    }

    /// Opt-outs ÷ opt-ins, both channels; `None` before the first opt-in.
    pub fn opt_out_rate(&self) -> Option<f64> {
        ratio(self.opt_outs.total(), self.opt_ins.total())
    }

    /// SMS opt-outs ÷ SMS opt-ins.
    pub fn sms_opt_out_rate(&self) -> Option<f64> {
        ratio(self.opt_outs.sms, self.opt_ins.sms)
    }

    /// Email opt-outs ÷ email opt-ins.
    pub fn email_opt_out_rate(&self) -> Option<f64> {
        ratio(self.opt_outs.email, self.opt_ins.email)
    }

    /// Hard bounces ÷ emails sent; `None` before the first email.
    pub fn bounce_rate(&self) -> Option<f64> {
        ratio(self.hard_bounces, self.emails_sent())
    }

    /// Complaints ÷ emails sent; `None` before the first email.
    pub fn complaint_rate(&self) -> Option<f64> {
        ratio(self.complaints, self.emails_sent())
    }
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The campaign so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overview {
    /// Every day summed.
    pub total: Counts,
    /// Each day that counted something (UTC days), oldest first.
    pub days: BTreeMap<Date, Counts>,
}

impl Overview {
    /// Builds the overview from days' counters.
    pub fn of_days(days: BTreeMap<Date, Counts>) -> Self {
        let mut total = Counts::default();
        for counts in days.values() {
            total.add(counts);
        }
        Self { total, days }
    }

    /// The `n` days up to and including `today` (UTC), oldest first, a day without counters as 0.
    pub fn last_days(&self, today: Date, n: u16) -> Vec<(Date, Counts)> {
        (0..i64::from(n))
            .rev()
            .filter_map(|back| today.checked_sub(Duration::days(back)))
            .map(|day| (day, self.days.get(&day).copied().unwrap_or_default()))
            .collect()
    }
}

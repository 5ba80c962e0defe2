//! In-memory adapter of [`OutboxStore`] for unit tests, with the DynamoDB adapter's semantics:
//! conditional transitions, one invite-window claim per person and channel, counters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use time::OffsetDateTime;

use super::StoreError;
use super::outbox_dynamo::{counter_deltas, progress_from};
use crate::outbound::{
    BatchId, Change, Channel, InviteClaim, Loaded, NewMessage, OutboundId, OutboxStore, Progress,
    QueuedMessage, Recipient, RecipientMark, Status, StoredMessage, Transition,
};
use crate::privacy::ContactHash;

#[derive(Debug, Default)]
struct State {
    messages: HashMap<OutboundId, StoredMessage>,
    recipients: HashMap<ContactHash, Recipient>,
    claims: HashMap<(ContactHash, Channel), InviteClaim>,
    counters: HashMap<BatchId, HashMap<String, i64>>,
    /// Provider ids of sent messages.
    sent: HashMap<OutboundId, String>,
    /// `apply` calls that fail with a storage error before succeeding again.
    failing_applies: u32,
    /// Calls to `apply` that succeed before `failing_applies` start failing.
    applies_before_failing: u32,
    /// The campaign rules organizers set.
    rules: Option<crate::store::CampaignRules>,
    /// How long each `apply` takes (a network round trip), when set.
    apply_latency: Option<std::time::Duration>,
    /// When each `apply` was written, with how many claims and outcomes it held.
    applied: Vec<AppliedWrite>,
}

/// One `apply` call as written (for tests of when a worker writes what).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppliedWrite {
    pub at: tokio::time::Instant,
    pub claims: usize,
    pub outcomes: usize,
}

/// Cheap to clone; clones share state.
#[derive(Debug, Clone, Default)]
pub struct MemoryOutbox {
    state: Arc<Mutex<State>>,
}

impl MemoryOutbox {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the campaign rules the send worker reads with its batches (as organizers set them).
    pub fn set_campaign_rules(&self, rules: Option<crate::store::CampaignRules>) {
        self.lock().rules = rules;
    }

    pub fn campaign_rules(&self) -> Option<crate::store::CampaignRules> {
        self.lock().rules.clone()
    }

    /// Sets what the gates read about a contact.
    pub fn set_recipient(&self, contact: &ContactHash, recipient: Recipient) {
        self.lock().recipients.insert(contact.clone(), recipient);
    }

    pub fn recipient(&self, contact: &ContactHash) -> Option<Recipient> {
        self.lock().recipients.get(contact).cloned()
    }

    pub fn message(&self, id: &OutboundId) -> Option<StoredMessage> {
        self.lock().messages.get(id).cloned()
    }

    /// Replaces a stored message (to stage a crash, a stale lease…).
    pub fn put_message(&self, message: StoredMessage) {
        self.lock().messages.insert(message.id.clone(), message);
    }

    /// Adds `delta` to a batch counter, as another path would (the delivery path's `delivered`).
    pub fn add_to_counter(&self, batch: &BatchId, name: &str, delta: i64) {
        *self
            .lock()
            .counters
            .entry(batch.clone())
            .or_default()
            .entry(name.to_owned())
            .or_default() += delta;
    }

    /// Each later `apply` takes `latency` before it writes, as a round trip to DynamoDB would.
    pub fn slow_applies(&self, latency: std::time::Duration) {
        self.lock().apply_latency = Some(latency);
    }

    /// Every `apply` written so far, in order.
    pub fn applied_writes(&self) -> Vec<AppliedWrite> {
        self.lock().applied.clone()
    }

    /// The next `n` calls to `apply` fail.
    pub fn fail_next_applies(&self, n: u32) {
        self.fail_applies_after(0, n);
    }

    /// After `ok` more calls to `apply` succeed, the next `n` fail.
    pub fn fail_applies_after(&self, ok: u32, n: u32) {
        let mut state = self.lock();
        state.applies_before_failing = ok;
        state.failing_applies = n;
    }
}

fn apply_one(state: &mut State, t: &Transition, now: OffsetDateTime) -> bool {
    let Some(message) = state.messages.get(&t.id) else {
        return false;
    };
    if (message.status, message.attempts) != t.from {
        return false;
    }
    if matches!(t.change, Change::Defer { .. }) && message.deferred {
        return false;
    }
    if let Change::Claim {
        window_until: Some(until),
        ..
    } = &t.change
    {
        let key = (t.contact.clone(), t.channel);
        let free = state
            .claims
            .get(&key)
            .is_none_or(|c| c.until <= now || c.message == t.id);
        if !free {
            return false;
        }
        state.claims.insert(
            key,
            InviteClaim {
                message: t.id.clone(),
                until: *until,
            },
        );
    }
    let Some(message) = state.messages.get_mut(&t.id) else {
        return false;
    };
    match &t.change {
        Change::Claim { lease_until, .. } => {
            message.status = Status::Sending;
            message.attempts += 1;
            message.lease_until = Some(*lease_until);
        }
        Change::Skip { .. } => {
            message.status = Status::Skipped;
            message.lease_until = None;
        }
        Change::Defer { .. } => message.deferred = true,
        Change::Sent { provider_id, .. } => {
            message.status = Status::Sent;
            message.lease_until = None;
            state.sent.insert(t.id.clone(), provider_id.clone());
        }
        Change::Failed { mark, .. } => {
            message.status = Status::Failed;
            message.lease_until = None;
            if let Some(mark) = mark {
                let recipient = state.recipients.entry(t.contact.clone()).or_default();
                match mark {
                    RecipientMark::SmsOptedOut { .. } => recipient.sms_opted_in = Some(false),
                    RecipientMark::SmsUndeliverable { .. } => recipient.sms_undeliverable = true,
                    RecipientMark::EmailUndeliverable => recipient.email_undeliverable = true,
                }
            }
        }
        Change::Release => {
            message.status = Status::Pending;
            message.lease_until = None;
        }
        Change::Unknown => {
            message.status = Status::Unknown;
            message.lease_until = None;
        }
    }
    if let Some(batch) = &t.batch {
        let counters = state.counters.entry(batch.clone()).or_default();
        for (name, delta) in counter_deltas(&t.change) {
            *counters.entry(name).or_default() += delta;
        }
    }
    true
}

impl OutboxStore for MemoryOutbox {
    async fn enqueue(
        &self,
        messages: &[NewMessage],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        for m in messages {
            if state.messages.contains_key(&m.id) {
                continue;
            }
            state.messages.insert(
                m.id.clone(),
                StoredMessage {
                    id: m.id.clone(),
                    channel: m.channel,
                    kind: m.kind,
                    consent: m.consent,
                    contact: m.contact.clone(),
                    to: m.to.clone(),
                    body: m.body.clone(),
                    language: m.language,
                    zip: m.zip.clone(),
                    batch: m.batch.clone(),
                    status: Status::Pending,
                    attempts: 0,
                    lease_until: None,
                    deferred: false,
                    created_at: now,
                },
            );
            if let Some(batch) = &m.batch {
                *state
                    .counters
                    .entry(batch.clone())
                    .or_default()
                    .entry("queued".to_owned())
                    .or_default() += 1;
            }
        }
        Ok(())
    }

    async fn load(
        &self,
        queued: &[QueuedMessage],
        now: OffsetDateTime,
    ) -> Result<Vec<Loaded>, StoreError> {
        let state = self.lock();
        Ok(queued
            .iter()
            .map(|q| Loaded {
                message: state.messages.get(&q.id).cloned(),
                recipient: state.recipients.get(&q.contact).cloned(),
                claim: state
                    .claims
                    .get(&(q.contact.clone(), q.channel))
                    .filter(|c| c.until > now)
                    .cloned(),
            })
            .collect())
    }

    async fn load_for_sending(
        &self,
        queued: &[QueuedMessage],
        now: OffsetDateTime,
    ) -> Result<(Vec<Loaded>, Option<crate::store::CampaignRules>), StoreError> {
        let loaded = self.load(queued, now).await?;
        Ok((loaded, self.campaign_rules()))
    }

    async fn apply(
        &self,
        transitions: &[Transition],
        now: OffsetDateTime,
    ) -> Result<Vec<bool>, StoreError> {
        let latency = self.lock().apply_latency;
        if let Some(latency) = latency {
            tokio::time::sleep(latency).await;
        }
        let mut state = self.lock();
        if state.applies_before_failing > 0 {
            state.applies_before_failing -= 1;
        } else if state.failing_applies > 0 {
            state.failing_applies -= 1;
            return Err(StoreError::Corrupt("staged storage failure".into()));
        }
        let count = |is: fn(&Change) -> bool| transitions.iter().filter(|t| is(&t.change)).count();
        let write = AppliedWrite {
            at: tokio::time::Instant::now(),
            claims: count(|c| matches!(c, Change::Claim { .. })),
            outcomes: count(|c| matches!(c, Change::Sent { .. } | Change::Failed { .. })),
        };
        state.applied.push(write);
        Ok(transitions
            .iter()
            .map(|t| apply_one(&mut state, t, now))
            .collect())
    }

    async fn progress(&self, batch: &BatchId) -> Result<Progress, StoreError> {
        let state = self.lock();
        Ok(progress_from(
            &state.counters.get(batch).cloned().unwrap_or_default(),
        ))
    }
}

//! The worker against in-memory ports: gates, exactly-once, faults.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;
use crate::domain::Language;
use crate::outbound::quiet_hours::QuietHoursPolicy;
use crate::outbound::rate::RateLimiter;
use crate::outbound::{
    BatchId, Channel, ConsentBasis, Kind, NewMessage, OutboundId, OutboxStore, QueuedMessage,
    Recipient, SendFailure, SkipReason, Status, body_context,
};
use crate::privacy::{ContactHash, Sealer, field_context};
use crate::store::MemoryOutbox;

const SEND_QUEUE: &str = "arn:aws:sqs:us-east-1:123456789012:SendQueue";
const DEAD_LETTERS: &str = "arn:aws:sqs:us-east-1:123456789012:SendDeadLetterQueue";

/// Noon in Washington, DC.
const NOON_ET: OffsetDateTime = datetime!(2026-11-28 17:00 UTC);
/// 23:00 in Washington, DC.
const NIGHT_ET: OffsetDateTime = datetime!(2026-11-28 04:00 UTC);

#[derive(Clone, Default)]
struct Provider {
    sent: Arc<Mutex<Vec<(String, String)>>>,
    /// Scripted answers by recipient, used in order; then success.
    script: Arc<Mutex<HashMap<String, Vec<SendFailure>>>>,
    /// Runs once, right after the next accepted send.
    after_send: Arc<Mutex<Option<Box<dyn FnOnce() + Send>>>>,
    /// Each text asked for, with the batch its status callbacks name.
    batches: Arc<Mutex<Vec<(String, Option<BatchId>)>>>,
    /// When each accepted message was sent.
    sent_at: Arc<Mutex<Vec<tokio::time::Instant>>>,
}

impl Provider {
    fn fail(&self, to: &str, failures: Vec<SendFailure>) {
        self.script.lock().unwrap().insert(to.to_owned(), failures);
    }

    fn sends_to(&self, to: &str) -> usize {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _)| t == to)
            .count()
    }

    fn total(&self) -> usize {
        self.sent.lock().unwrap().len()
    }

    fn answer(&self, to: &str, body: &str) -> Result<String, SendFailure> {
        if let Some(failures) = self.script.lock().unwrap().get_mut(to)
            && !failures.is_empty()
        {
            return Err(failures.remove(0));
        }
        let count = {
            let mut sent = self.sent.lock().unwrap();
            sent.push((to.to_owned(), body.to_owned()));
            sent.len()
        };
        self.sent_at
            .lock()
            .unwrap()
            .push(tokio::time::Instant::now());
        if let Some(hook) = self.after_send.lock().unwrap().take() {
            hook();
        }
        Ok(format!("SM{count:032x}"))
    }
}

impl SmsGateway for Provider {
    async fn send_sms(
        &self,
        to: &str,
        body: &str,
        batch: Option<&BatchId>,
    ) -> Result<String, SendFailure> {
        self.batches
            .lock()
            .unwrap()
            .push((to.to_owned(), batch.cloned()));
        self.answer(to, body)
    }
}

impl EmailGateway for Provider {
    async fn send_email(
        &self,
        to: &str,
        mime: &str,
        _batch: Option<&BatchId>,
    ) -> Result<String, SendFailure> {
        self.answer(to, mime)
    }
}

type Queue = crate::outbound::recording_queue::RecordingQueue;

struct World {
    worker: SendWorker<MemoryOutbox, Queue, Provider, Provider>,
    outbox: MemoryOutbox,
    provider: Provider,
    queue: Queue,
    sealer: Sealer,
    batch: BatchId,
    next: u32,
    /// The text of the messages queued next.
    body: &'static str,
}

impl World {
    fn new() -> Self {
        let outbox = MemoryOutbox::default();
        let provider = Provider::default();
        let queue = Queue::default();
        let sealer = Sealer::in_memory();
        let worker = SendWorker {
            store: outbox.clone(),
            queue: queue.clone(),
            sms: provider.clone(),
            email: provider.clone(),
            sealer: sealer.clone(),
            sms_rate: RateLimiter::new(1000.0, 1).unwrap(),
            email_rate: RateLimiter::new(1000.0, 1).unwrap(),
            settings: WorkerSettings {
                lease: time::Duration::seconds(60),
                invite_window: time::Duration::days(30),
                quiet_hours: QuietHoursPolicy::default(),
            },
            dead_letter_queue_arn: Some(DEAD_LETTERS.into()),
        };
        Self {
            worker,
            outbox,
            provider,
            queue,
            sealer,
            body: "Marisol invites you to a gathering.",
            batch: BatchId::parse("batch1").unwrap(),
            next: 0,
        }
    }

    fn contact(address: &str) -> ContactHash {
        let opaque: String = address
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        ContactHash::parse(&format!("p.{opaque}")).unwrap()
    }

    /// Stores a message and returns what goes on the queue.
    async fn message(&mut self, kind: Kind, channel: Channel, to: &str) -> QueuedMessage {
        self.next += 1;
        let id = OutboundId::parse(&format!("m{}", self.next)).unwrap();
        let contact = Self::contact(to);
        let consent = match kind {
            Kind::Invite => ConsentBasis::HostAttested,
            Kind::Confirmation => ConsentBasis::Requested,
            _ => ConsentBasis::OptedIn,
        };
        let message = NewMessage {
            to: self
                .sealer
                .seal(&field_context(&contact, channel.address_field()), to)
                .await
                .unwrap(),
            body: self
                .sealer
                .seal(&body_context(&id), self.body)
                .await
                .unwrap(),
            id,
            channel,
            kind,
            consent,
            contact,
            language: Language::En,
            zip: None,
            batch: Some(self.batch.clone()),
        };
        self.outbox
            .enqueue(&[message.clone()], NOON_ET)
            .await
            .unwrap();
        message.queued()
    }

    async fn invite(&mut self, to: &str) -> QueuedMessage {
        self.message(Kind::Invite, Channel::Sms, to).await
    }

    async fn deliver(&self, messages: &[QueuedMessage], now: OffsetDateTime) -> SqsBatchResponse {
        self.deliver_from(SEND_QUEUE, messages, now).await
    }

    /// Delivers `messages` as the event source of the queue `arn` does.
    async fn deliver_from(
        &self,
        arn: &str,
        messages: &[QueuedMessage],
        now: OffsetDateTime,
    ) -> SqsBatchResponse {
        let records: Vec<_> = messages
            .iter()
            .enumerate()
            .map(|(i, q)| {
                serde_json::json!({
                    "messageId": format!("record-{i}-{}", q.id.as_str()),
                    "receiptHandle": "handle",
                    "body": serde_json::to_string(q).unwrap(),
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                    "awsRegion": "us-east-1"
                })
            })
            .collect();
        let event: SqsEvent =
            serde_json::from_value(serde_json::json!({ "Records": records })).unwrap();
        self.worker.handle(event, now).await
    }

    /// A worker claimed `q` at noon (lease until 12:01) and died without an outcome.
    fn claimed_by_a_worker_that_died(&self, q: &QueuedMessage) {
        let mut claimed = self.outbox.message(&q.id).unwrap();
        claimed.status = Status::Sending;
        claimed.attempts = 1;
        claimed.lease_until = Some(NOON_ET + time::Duration::seconds(60));
        self.outbox.put_message(claimed);
    }

    fn status(&self, q: &QueuedMessage) -> Status {
        self.outbox.message(&q.id).unwrap().status
    }

    async fn progress(&self) -> crate::outbound::Progress {
        self.outbox.progress(&self.batch).await.unwrap()
    }
}

fn failures(response: &SqsBatchResponse) -> usize {
    response.batch_item_failures.len()
}

const PHONE: &str = "+12025550143";

#[tokio::test]
async fn an_invite_is_sent_once_and_a_redelivery_changes_nothing() {
    let mut w = World::new();
    let q = w.invite(PHONE).await;
    assert_eq!(failures(&w.deliver(&[q.clone()], NOON_ET).await), 0);
    assert_eq!(w.status(&q), Status::Sent);
    assert_eq!(failures(&w.deliver(&[q.clone()], NOON_ET).await), 0);
    assert_eq!(
        failures(&w.deliver(&[q.clone(), q.clone()], NOON_ET).await),
        0
    );
    assert_eq!(w.provider.sends_to(PHONE), 1);
    let progress = w.progress().await;
    assert_eq!((progress.queued, progress.sent, progress.done()), (1, 1, 1));
}

#[tokio::test]
async fn a_text_written_with_curly_quotes_and_dashes_goes_out_in_gsm_7() {
    let mut w = World::new();
    w.body = "Marisol\u{2019}s \u{201C}porch talk\u{201D} \u{2014} Friday\u{2026}";
    let q = w.invite(PHONE).await;
    assert_eq!(failures(&w.deliver(&[q], NOON_ET).await), 0);
    let sent = w.provider.sent.lock().unwrap().clone();
    assert_eq!(
        sent,
        [(
            PHONE.to_owned(),
            "Marisol's \"porch talk\" - Friday...".to_owned()
        )]
    );
}

#[tokio::test]
async fn a_person_who_said_stop_gets_no_invite() {
    let mut w = World::new();
    let q = w.invite(PHONE).await;
    w.outbox.set_recipient(
        &q.contact,
        Recipient {
            sms_opted_in: Some(false),
            ..Recipient::default()
        },
    );
    assert_eq!(failures(&w.deliver(&[q.clone()], NOON_ET).await), 0);
    assert_eq!(w.status(&q), Status::Skipped);
    assert_eq!(w.provider.total(), 0);
    assert_eq!(w.progress().await.skipped, vec![(SkipReason::OptedOut, 1)]);
}

#[tokio::test]
async fn an_invite_at_night_waits_for_the_morning_and_is_counted_deferred_once() {
    let mut w = World::new();
    let q = w.invite(PHONE).await;
    assert_eq!(failures(&w.deliver(&[q.clone()], NIGHT_ET).await), 0);
    assert_eq!(w.provider.total(), 0);
    assert_eq!(w.status(&q), Status::Pending);
    {
        let requeued = w.queue.sent.lock().unwrap();
        assert_eq!(requeued.len(), 1);
        assert_eq!(requeued[0].0, q);
        assert_eq!(
            requeued[0].1,
            Duration::from_secs(900),
            "SQS delays at most 15 minutes"
        );
    }
    // Still night when it comes back: back on the queue, still counted once.
    w.deliver(&[q.clone()], NIGHT_ET + time::Duration::minutes(15))
        .await;
    assert_eq!(w.queue.sent.lock().unwrap().len(), 2);
    assert_eq!(w.progress().await.deferred, 1);
    // Morning (08:00 in Washington is 13:00 UTC).
    w.deliver(&[q.clone()], datetime!(2026-11-28 13:00 UTC))
        .await;
    assert_eq!(w.provider.sends_to(PHONE), 1);
    let progress = w.progress().await;
    assert_eq!((progress.sent, progress.deferred), (1, 0));
}

#[tokio::test]
async fn a_confirmation_the_person_asked_for_goes_out_at_night() {
    let mut w = World::new();
    w.outbox.set_recipient(
        &World::contact(PHONE),
        Recipient {
            sms_opted_in: Some(true),
            ..Recipient::default()
        },
    );
    let q = w.message(Kind::Confirmation, Channel::Sms, PHONE).await;
    w.deliver(&[q.clone()], NIGHT_ET).await;
    assert_eq!(w.status(&q), Status::Sent);
}

#[tokio::test]
async fn a_second_host_inviting_the_same_person_in_the_window_is_skipped() {
    let mut w = World::new();
    let first = w.invite(PHONE).await;
    let second = w.invite(PHONE).await;
    w.deliver(&[first.clone()], NOON_ET).await;
    w.deliver(&[second.clone()], NOON_ET + time::Duration::days(2))
        .await;
    assert_eq!(w.provider.sends_to(PHONE), 1);
    assert_eq!(w.status(&second), Status::Skipped);
    // After the window a new invite goes out.
    let third = w.invite(PHONE).await;
    w.deliver(&[third.clone()], NOON_ET + time::Duration::days(31))
        .await;
    assert_eq!(w.provider.sends_to(PHONE), 2);
}

#[tokio::test(start_paused = true)]
async fn a_worker_sends_while_it_writes_claims_and_outcomes_not_before_and_after() {
    // Writes that take 300 ms, and 5 texts a second (a burst of 4, then 200 ms apart): 60 invites
    // are three claim writes (10, 30, 20) and two outcome writes of 30. Written before and after
    // the sends, they would add 1.5 s to the 11.2 s between the first and the last text.
    let mut w = World::new();
    w.worker.sms_rate = RateLimiter::new(5.0, 1).unwrap();
    assert_eq!(w.worker.sms_rate.burst(), 4);
    let mut batch = Vec::new();
    for i in 0..60 {
        batch.push(w.invite(&format!("+1202555{:04}", 100 + i)).await);
    }
    let write = Duration::from_millis(300);
    w.outbox.slow_applies(write);
    let started = tokio::time::Instant::now();
    let response = w.deliver(&batch, NOON_ET).await;
    let finished = tokio::time::Instant::now();

    assert_eq!(failures(&response), 0);
    assert_eq!(w.provider.total(), 60);
    assert!(batch.iter().all(|q| w.status(q) == Status::Sent));
    let sent_at = w.provider.sent_at.lock().unwrap().clone();
    let writes = w.outbox.applied_writes();
    let claims: Vec<_> = writes.iter().filter(|a| a.claims > 0).collect();
    let outcomes: Vec<_> = writes.iter().filter(|a| a.outcomes > 0).collect();
    assert_eq!(
        claims.iter().map(|a| a.claims).collect::<Vec<_>>(),
        [10, 30, 20],
        "{writes:?}"
    );
    assert_eq!(outcomes.len(), 2, "two outcome writes of 30: {writes:?}");
    // The first text leaves once the first 10 are claimed, while the others are being claimed,
    // and the texts never wait for a claim…
    assert_eq!(sent_at[0] - started, write);
    assert!(sent_at[0] < claims[1].at);
    for (i, pair) in sent_at.windows(2).enumerate().skip(3) {
        assert_eq!(
            pair[1] - pair[0],
            Duration::from_millis(200),
            "text {}",
            i + 1
        );
    }
    // … the first 30 outcomes are written while the last texts are on their way…
    assert!(outcomes[0].at < sent_at[59]);
    // … and only the last write is left once the last text is sent.
    assert_eq!(finished - sent_at[59], write);
    assert_eq!(
        finished - started,
        write + Duration::from_millis((59 - 3) * 200) + write
    );
}

#[test]
fn a_batch_s_first_claim_is_small_and_the_others_are_thirty() {
    let sizes = |n: usize| {
        super::claim_chunks(&vec![(); n])
            .map(<[()]>::len)
            .collect::<Vec<_>>()
    };
    assert_eq!(sizes(0), Vec::<usize>::new());
    assert_eq!(sizes(7), [7]);
    assert_eq!(sizes(10), [10]);
    assert_eq!(sizes(41), [10, 30, 1]);
    assert_eq!(sizes(100), [10, 30, 30, 30]);
}

#[tokio::test]
async fn two_invites_to_one_person_in_one_batch_send_one() {
    let mut w = World::new();
    let first = w.invite(PHONE).await;
    let second = w.invite(PHONE).await;
    let response = w.deliver(&[first.clone(), second.clone()], NOON_ET).await;
    // The second one lost the window claim, was read again and skipped in the same delivery.
    assert_eq!(w.provider.sends_to(PHONE), 1);
    assert_eq!(failures(&response), 0);
    assert_eq!(w.status(&second), Status::Skipped);
}

#[tokio::test]
async fn carrier_stop_marks_the_person_opted_out_and_later_texts_are_skipped() {
    let mut w = World::new();
    w.provider
        .fail(PHONE, vec![SendFailure::OptedOut { code: 21610 }]);
    let q = w.invite(PHONE).await;
    w.deliver(&[q.clone()], NOON_ET).await;
    assert_eq!(w.status(&q), Status::Failed);
    assert_eq!(
        w.outbox.recipient(&q.contact).unwrap().sms_opted_in,
        Some(false)
    );
    let reminder = w.message(Kind::Reminder, Channel::Sms, PHONE).await;
    w.deliver(&[reminder.clone()], NOON_ET).await;
    assert_eq!(w.status(&reminder), Status::Skipped);
    assert_eq!(w.provider.total(), 0);
}

#[tokio::test]
async fn throttling_puts_the_message_back_and_it_is_sent_once_later() {
    let mut w = World::new();
    w.provider.fail(
        PHONE,
        vec![SendFailure::Throttled {
            retry_after: Some(Duration::from_millis(10)),
        }],
    );
    let q = w.invite(PHONE).await;
    let response = w.deliver(&[q.clone()], NOON_ET).await;
    assert_eq!(failures(&response), 0, "not a failed delivery");
    assert_eq!(w.status(&q), Status::Pending);
    {
        let requeued = w.queue.sent.lock().unwrap();
        assert_eq!(requeued.len(), 1, "back on the queue as a new message");
        assert_eq!(requeued[0].0, q);
        assert!(
            requeued[0].1 >= Duration::from_millis(10),
            "after the pause asked for"
        );
    }
    w.deliver(&[q.clone()], NOON_ET + time::Duration::minutes(3))
        .await;
    assert_eq!(w.status(&q), Status::Sent);
    assert_eq!(w.provider.sends_to(PHONE), 1);
}

#[tokio::test]
async fn a_send_with_no_answer_is_unknown_and_never_tried_again() {
    let mut w = World::new();
    w.provider.fail(PHONE, vec![SendFailure::Unknown]);
    let q = w.invite(PHONE).await;
    assert_eq!(failures(&w.deliver(&[q.clone()], NOON_ET).await), 0);
    assert_eq!(w.status(&q), Status::Unknown);
    w.deliver(&[q.clone()], NOON_ET + time::Duration::minutes(3))
        .await;
    assert_eq!(w.provider.total(), 0);
    assert_eq!(w.progress().await.unknown, 1);
}

#[tokio::test]
async fn a_worker_that_died_after_its_claim_leaves_an_unknown_not_a_second_text() {
    let mut w = World::new();
    let q = w.invite(PHONE).await;
    w.claimed_by_a_worker_that_died(&q);
    // Redelivered while the lease still runs: wait.
    assert_eq!(failures(&w.deliver(&[q.clone()], NOON_ET).await), 1);
    // Redelivered after the lease: unknown, reported, never sent.
    assert_eq!(
        failures(
            &w.deliver(&[q.clone()], NOON_ET + time::Duration::minutes(3))
                .await
        ),
        0
    );
    assert_eq!(w.status(&q), Status::Unknown);
    assert_eq!(w.provider.total(), 0);
}

#[tokio::test]
async fn storage_failing_while_outcomes_are_recorded_leaves_the_message_unknown_not_resent() {
    let mut w = World::new();
    let q = w.invite(PHONE).await;
    // Storage breaks right after the provider accepted the text (a staged outage).
    let outbox = w.outbox.clone();
    *w.provider.after_send.lock().unwrap() = Some(Box::new(move || {
        outbox.fail_next_applies(super::RECORD_ATTEMPTS)
    }));
    let response = w.deliver(&[q.clone()], NOON_ET).await;
    assert_eq!(w.provider.sends_to(PHONE), 1);
    assert_eq!(w.status(&q), Status::Sending);
    assert_eq!(failures(&response), 1);
    // Back after the visibility timeout, when the lease has run out: unknown, not a second text.
    w.deliver(&[q.clone()], NOON_ET + time::Duration::minutes(3))
        .await;
    assert_eq!(w.status(&q), Status::Unknown);
    assert_eq!(w.provider.sends_to(PHONE), 1);
}

#[tokio::test]
async fn an_unreadable_queue_message_goes_to_the_dead_letter_queue_not_to_a_person() {
    let w = World::new();
    let event: SqsEvent = serde_json::from_value(serde_json::json!({
        "Records": [{"messageId": "bad", "body": "{\"id\": 3}", "attributes": {}, "messageAttributes": {}}]
    }))
    .unwrap();
    let response = w.worker.handle(event, NOON_ET).await;
    assert_eq!(response.batch_item_failures[0].item_identifier, "bad");
    assert_eq!(w.provider.total(), 0);
}

#[tokio::test]
async fn an_erased_message_is_acknowledged_and_nothing_is_sent() {
    let w = World::new();
    let q = QueuedMessage {
        id: OutboundId::parse("gone").unwrap(),
        contact: World::contact(PHONE),
        channel: Channel::Sms,
    };
    assert_eq!(failures(&w.deliver(&[q], NOON_ET).await), 0);
    assert_eq!(w.provider.total(), 0);
}

#[tokio::test]
async fn an_invalid_number_is_marked_undeliverable_and_not_retried() {
    let mut w = World::new();
    w.provider.fail(
        PHONE,
        vec![SendFailure::Undeliverable { code: Some(21211) }],
    );
    let q = w.invite(PHONE).await;
    assert_eq!(failures(&w.deliver(&[q.clone()], NOON_ET).await), 0);
    assert_eq!(w.status(&q), Status::Failed);
    assert!(w.outbox.recipient(&q.contact).unwrap().sms_undeliverable);
    assert_eq!(w.progress().await.failed, 1);
}

#[tokio::test]
async fn a_mixed_batch_reports_each_outcome_in_the_progress_counters() {
    let mut w = World::new();
    let stopped = "+12025550144";
    let mut batch = Vec::new();
    for i in 0..6 {
        batch.push(w.invite(&format!("+1202555016{i}")).await);
    }
    batch.push(w.invite(stopped).await);
    w.outbox.set_recipient(
        &World::contact(stopped),
        Recipient {
            sms_opted_in: Some(false),
            ..Recipient::default()
        },
    );
    batch.push(
        w.message(Kind::Invite, Channel::Email, "ana@example.org")
            .await,
    );
    assert_eq!(failures(&w.deliver(&batch, NOON_ET).await), 0);
    let progress = w.progress().await;
    assert_eq!(progress.queued, 8);
    assert_eq!(progress.sent, 7);
    assert_eq!(progress.skipped, vec![(SkipReason::OptedOut, 1)]);
    assert_eq!(progress.done(), 8);
}

#[tokio::test]
async fn a_text_of_a_batch_is_sent_naming_its_batch_for_the_status_callbacks() {
    let mut w = World::new();
    let text = w.invite(PHONE).await;
    let email = w
        .message(Kind::Invite, Channel::Email, "ana@example.org")
        .await;
    assert_eq!(
        failures(&w.deliver(&[text.clone(), email.clone()], NOON_ET).await),
        0
    );
    assert_eq!(
        (w.status(&text), w.status(&email)),
        (Status::Sent, Status::Sent)
    );
    assert_eq!(
        w.provider.batches.lock().unwrap().clone(),
        [(PHONE.to_owned(), Some(w.batch.clone()))]
    );
    assert_eq!(w.provider.total(), 2);
}

#[tokio::test]
async fn the_progress_sums_the_delivered_counter_the_delivery_path_adds() {
    let mut w = World::new();
    let q = w.invite(PHONE).await;
    assert_eq!(failures(&w.deliver(&[q], NOON_ET).await), 0);
    assert_eq!(w.progress().await.delivered, 0);
    w.outbox.add_to_counter(&w.batch, "delivered", 1);
    let progress = w.progress().await;
    assert_eq!((progress.sent, progress.delivered), (1, 1));
    assert_eq!(
        progress.done(),
        1,
        "delivered is part of sent, not another outcome"
    );
}

#[tokio::test]
async fn a_dead_claim_on_the_dead_letter_queue_is_settled_unknown_and_never_sent() {
    let mut w = World::new();
    let q = w.invite(PHONE).await;
    w.claimed_by_a_worker_that_died(&q);
    // While the lease runs, a worker may still be sending: it comes back later.
    let response = w.deliver_from(DEAD_LETTERS, &[q.clone()], NOON_ET).await;
    assert_eq!(failures(&response), 1);
    assert_eq!(w.status(&q), Status::Sending);
    let later = NOON_ET + time::Duration::minutes(3);
    let response = w.deliver_from(DEAD_LETTERS, &[q.clone()], later).await;
    assert_eq!(failures(&response), 0);
    assert_eq!(w.status(&q), Status::Unknown);
    assert_eq!(w.progress().await.unknown, 1);
    assert_eq!(w.provider.total(), 0, "a dead letter is never sent");
}

#[tokio::test]
async fn a_message_never_claimed_that_reached_the_dead_letter_queue_fails_as_given_up_unsent() {
    let mut w = World::new();
    let q = w.invite(PHONE).await;
    let response = w.deliver_from(DEAD_LETTERS, &[q.clone()], NOON_ET).await;
    assert_eq!(failures(&response), 0);
    let stored = w.outbox.message(&q.id).unwrap();
    assert_eq!(stored.status, Status::Failed);
    let progress = w.progress().await;
    assert_eq!((progress.failed, progress.sent), (1, 0));
    assert_eq!(w.provider.total(), 0);
    // The same dead letter again (SQS delivers at least once) changes nothing.
    w.deliver_from(DEAD_LETTERS, &[q.clone()], NOON_ET).await;
    assert_eq!(w.progress().await.failed, 1);
}

#[tokio::test]
async fn a_dead_letter_of_a_message_already_sent_is_acknowledged_and_sends_nothing() {
    let mut w = World::new();
    let q = w.invite(PHONE).await;
    w.deliver(&[q.clone()], NOON_ET).await;
    assert_eq!(w.status(&q), Status::Sent);
    let response = w.deliver_from(DEAD_LETTERS, &[q.clone()], NOON_ET).await;
    assert_eq!(failures(&response), 0);
    assert_eq!((w.status(&q), w.provider.total()), (Status::Sent, 1));
    // An unreadable dead letter names no message: dropped, not redelivered for ever.
    let event: SqsEvent = serde_json::from_value(serde_json::json!({
        "Records": [{"messageId": "bad", "body": "{\"id\": 3}", "attributes": {},
                     "messageAttributes": {}, "eventSourceARN": DEAD_LETTERS}]
    }))
    .unwrap();
    assert_eq!(failures(&w.worker.handle(event, NOON_ET).await), 0);
}

#[tokio::test(start_paused = true)]
async fn a_batch_larger_than_the_worker_can_send_in_time_claims_only_what_fits() {
    let mut w = World::new();
    // One text a second: 19 slots begin within the batch's 18 s (at 0, 1, … 18 s).
    w.worker.sms_rate = RateLimiter::new(1.0, 1).unwrap();
    let mut batch = Vec::new();
    for i in 0..25 {
        batch.push(w.invite(&format!("+120255501{i:02}")).await);
    }
    let response = w.deliver(&batch, NOON_ET).await;
    assert_eq!(
        failures(&response),
        0,
        "nothing walks towards the dead-letter queue"
    );
    assert_eq!(w.provider.total(), 19);
    let requeued: Vec<QueuedMessage> = {
        let sent = w.queue.sent.lock().unwrap();
        sent.iter().map(|(q, _)| q.clone()).collect()
    };
    assert_eq!(
        requeued,
        batch[19..].to_vec(),
        "the rest is back on the queue"
    );
    for q in &requeued {
        let stored = w.outbox.message(&q.id).unwrap();
        assert_eq!(
            (stored.status, stored.attempts),
            (Status::Pending, 0),
            "never claimed, so never released"
        );
    }
    assert_eq!(w.progress().await.deferred, 0, "not counted as held back");

    w.deliver(&requeued, NOON_ET + time::Duration::minutes(1))
        .await;
    assert!(batch.iter().all(|q| w.status(q) == Status::Sent));
    assert_eq!(w.provider.total(), 25, "each once");
}

#[tokio::test]
async fn a_failed_write_of_part_of_a_batchs_claims_sends_the_rest_and_leaves_nothing_claimed_unsent()
 {
    let mut w = World::new();
    let mut batch = Vec::new();
    for i in 0..40 {
        batch.push(w.invite(&format!("+120255502{i:02}")).await);
    }
    // The claims are written 10, then 30 at a time: the first write succeeds, the second fails.
    w.outbox.fail_applies_after(1, 1);
    let response = w.deliver(&batch, NOON_ET).await;
    assert_eq!(
        failures(&response),
        30,
        "the messages whose claims were not written come back"
    );
    assert_eq!(w.provider.total(), 10, "the claimed ones are sent");
    assert!(batch[..10].iter().all(|q| w.status(q) == Status::Sent));
    assert!(
        batch[10..].iter().all(|q| w.status(q) == Status::Pending),
        "never claimed, so never stranded in `sending`"
    );
    w.deliver(&batch[10..], NOON_ET + time::Duration::minutes(3))
        .await;
    assert!(batch.iter().all(|q| w.status(q) == Status::Sent));
    assert_eq!(w.provider.total(), 40, "each once");
}

/// Rules an organizer saved on `/admin/settings`: texts from 13:00 to 20:00, an invite window of
/// 3 days.
fn organizers_rules() -> crate::store::CampaignRules {
    crate::store::CampaignRules {
        approval_required: false,
        invite_quota: 200,
        invite_window_days: 3,
        phone_countries: vec!["US".into()],
        sending_hours: crate::outbound::SendingHours::new(13, 20).unwrap(),
    }
}

#[tokio::test]
async fn the_sending_hours_organizers_set_hold_an_invite_the_law_would_let_through() {
    let mut w = World::new();
    w.outbox.set_campaign_rules(Some(organizers_rules()));
    let q = w.invite(PHONE).await;
    // Noon in Washington: inside the law's hours, before the organizers' 13:00.
    assert_eq!(failures(&w.deliver(&[q.clone()], NOON_ET).await), 0);
    assert_eq!(w.provider.total(), 0);
    assert_eq!(w.status(&q), Status::Pending);
    assert_eq!(w.progress().await.deferred, 1);
    assert_eq!(w.queue.sent.lock().unwrap().len(), 1, "back on the queue");
    // 13:00 in Washington.
    w.deliver(&[q.clone()], NOON_ET + time::Duration::hours(1))
        .await;
    assert_eq!(w.provider.sends_to(PHONE), 1);

    // Without the organizers' rules, noon is inside the hours again.
    w.outbox.set_campaign_rules(None);
    let other = "+12025550111";
    let q = w.invite(other).await;
    w.deliver(&[q.clone()], NOON_ET).await;
    assert_eq!(w.provider.sends_to(other), 1);
}

#[tokio::test]
async fn the_invite_window_organizers_set_decides_when_a_person_may_be_invited_again() {
    let mut w = World::new();
    w.outbox.set_campaign_rules(Some(organizers_rules()));
    let at = NOON_ET + time::Duration::hours(2);
    let first = w.invite(PHONE).await;
    w.deliver(&[first], at).await;
    // Two days later: inside the 3-day window, skipped.
    let second = w.invite(PHONE).await;
    w.deliver(&[second.clone()], at + time::Duration::days(2))
        .await;
    assert_eq!(w.status(&second), Status::Skipped);
    // Four days later: outside it (the deployed 30 days would still skip it).
    let third = w.invite(PHONE).await;
    w.deliver(&[third.clone()], at + time::Duration::days(4))
        .await;
    assert_eq!(w.status(&third), Status::Sent);
    assert_eq!(w.provider.sends_to(PHONE), 2);
}

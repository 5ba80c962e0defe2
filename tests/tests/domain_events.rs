//! rising's domain events on the local stack, received the way another tool receives them: a rule on
//! rising's EventBridge bus (moto's) that sends every `source: rising` event to the subscriber's own
//! SQS queue, exactly as the README tells organizers to subscribe. The events come from the real path:
//! texts through the webhook, the table's stream played by the stack, `events-publisher` and
//! `PutEvents`; an invitation through the real send queue, worker and Twilio emulator.

use std::time::Duration;

use aws_sdk_eventbridge::types::Target;
use rising_core::stats::{CampaignStats, Counts, DynamoCampaignStats};
use rising_tests::sending::{Producer, no_zone_is_open};
use rising_tests::{Stack, gatherings, s, spawn_app, unique_phone};
use serde_json::{Value, json};

/// How long a change may take to reach the subscriber (stream poll, batching window, publish).
const PATIENCE: Duration = Duration::from_secs(45);

/// A subscriber's queue with a rule on rising's bus sending it every rising event.
struct Subscriber {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    received: Vec<Value>,
}

impl Subscriber {
    async fn new(app: &Stack) -> Self {
        let bus = rising_tests::stack_var("EVENT_BUS_NAME")
            .expect("the stack provides EVENT_BUS_NAME (the template's EventBus)");
        let name = format!("subscriber-{}", rising_core::ids::random_id());
        let sqs = aws_sdk_sqs::Client::new(&app.aws);
        let queue_url = sqs
            .create_queue()
            .queue_name(&name)
            .send()
            .await
            .expect("queue created")
            .queue_url
            .expect("a queue URL");
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .expect("a queue ARN");
        let events = aws_sdk_eventbridge::Client::new(&app.aws);
        events
            .put_rule()
            .name(&name)
            .event_bus_name(&bus)
            .event_pattern(json!({ "source": ["rising"] }).to_string())
            .send()
            .await
            .expect("rule created");
        events
            .put_targets()
            .rule(&name)
            .event_bus_name(&bus)
            .targets(
                Target::builder()
                    .id("queue")
                    .arn(queue_arn)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("target added");
        Self {
            sqs,
            queue_url,
            received: Vec::new(),
        }
    }

    /// Waits until an event of `kind` about `person` (when given) has arrived; returns it.
    async fn wait_for(&mut self, kind: &str, person: Option<&str>) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(e) = self.find(kind, person) {
                return e;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {kind} event for {person:?} within {PATIENCE:?}; received: {:#?}",
                self.received
            );
            self.receive().await;
        }
    }

    fn find(&self, kind: &str, person: Option<&str>) -> Option<Value> {
        self.received
            .iter()
            .find(|e| e["detail-type"] == kind && person.is_none_or(|p| e["detail"]["person"] == p))
            .cloned()
    }

    async fn receive(&mut self) {
        let output = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("received");
        for m in output.messages.unwrap_or_default() {
            let body = m.body.unwrap_or_default();
            self.received
                .push(serde_json::from_str(&body).expect("an EventBridge event as the body"));
            if let Some(handle) = m.receipt_handle {
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .expect("deleted");
            }
        }
    }

    /// Collects what else arrives for a few seconds (to see that nothing came twice).
    async fn settle(&mut self) {
        for _ in 0..4 {
            self.receive().await;
        }
    }
}

/// The id the OSDI export and the events give the person behind `hash`: their person id, or the
/// hash for someone rising holds no contact record of (a person a host invited).
async fn person_of(app: &Stack, hash: &str) -> String {
    let items = app.query_pk(&format!("CONTACT#{hash}")).await;
    let person_id = items
        .iter()
        .find(|i| s(i, "sk") == Some("CONTACT"))
        .and_then(|contact| s(contact, "person_id"));
    format!("rising:{}", person_id.unwrap_or(hash))
}

async fn reply(app: &Stack, phone: &str, body: &str) -> String {
    let delivery = app.text(phone, body).await;
    assert_eq!(delivery.webhook_status, 200, "{delivery:?}");
    delivery.replies.join("\n")
}

fn assert_no_personal_data(events: &[Value], phone: &str, name: &str) {
    let digits = phone.trim_start_matches('+');
    for e in events {
        let text = e.to_string();
        assert!(
            !text.contains(digits),
            "an event holds the phone number: {text}"
        );
        assert!(!text.contains(name), "an event holds the name: {text}");
        assert!(
            !text.contains("v1."),
            "an event holds a sealed value: {text}"
        );
    }
}

#[tokio::test]
async fn a_subscriber_hears_of_an_rsvp_by_text_and_of_the_stop_that_follows() {
    let app = spawn_app().await;
    let mut subscriber = Subscriber::new(&app).await;
    let phone = unique_phone();
    let g = gatherings::listed(&app, "Stream porch talk", "83702", 9, None).await;

    let ask = reply(&app, &phone, g.code.as_str()).await;
    assert!(ask.contains("Stream porch talk"), "{ask}");
    let confirmation = reply(&app, &phone, "Zephyrine").await;
    assert!(
        confirmation.contains("You're going, Zephyrine"),
        "{confirmation}"
    );
    reply(&app, &phone, "STOP").await;

    let person = person_of(&app, &app.phone_hash(&phone)).await;
    let rsvp = subscriber.wait_for("rsvp.created", Some(&person)).await;
    assert_eq!(rsvp["source"], "rising");
    assert_eq!(
        rsvp["detail"]["gathering"],
        format!("rising:{}", g.id.as_str())
    );
    assert_eq!(rsvp["detail"]["status"], "going");
    assert_eq!(rsvp["detail"]["source"], "sms");
    assert_eq!(rsvp["detail"]["type"], "rsvp.created");
    let opted_in = subscriber.wait_for("person.opted_in", Some(&person)).await;
    assert_eq!(opted_in["detail"]["channel"], "sms");
    let stop = subscriber.wait_for("person.opted_out", Some(&person)).await;
    assert_eq!(stop["detail"]["channel"], "sms");
    assert_eq!(stop["detail"]["source"], "twilio_advanced_opt_out");
    let created = subscriber.wait_for("gathering.created", None).await;
    assert!(created["detail"].get("title").is_some());

    subscriber.settle().await;
    let mine: Vec<Value> = subscriber
        .received
        .iter()
        .filter(|e| e["detail"]["person"] == person.as_str())
        .cloned()
        .collect();
    let mut ids: Vec<&str> = mine
        .iter()
        .filter_map(|e| e["detail"]["id"].as_str())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), mine.len(), "an event came twice: {mine:#?}");
    assert_no_personal_data(&subscriber.received, &phone, "Zephyrine");
}

#[tokio::test]
async fn an_invitation_the_worker_sends_is_published_once_as_invite_sent() {
    if no_zone_is_open("an_invitation_the_worker_sends_is_published_once_as_invite_sent") {
        return;
    }
    let app = spawn_app().await;
    let mut subscriber = Subscriber::new(&app).await;
    let phone = unique_phone();
    let producer = Producer::new(&app);
    // Put on the queue twice, as SQS may deliver it: sent once, published once.
    let queued = producer
        .invite(
            &phone,
            "Dana invites you to a porch talk: rsvp.example/i/x",
            2,
        )
        .await;
    assert_eq!(producer.outcome(&queued).await, "sent");

    let person = person_of(&app, &app.phone_hash(&phone)).await;
    let sent = subscriber.wait_for("invite.sent", Some(&person)).await;
    assert_eq!(sent["detail"]["message"], queued.id.as_str());
    assert_eq!(sent["detail"]["channel"], "sms");
    assert_eq!(sent["detail"]["batch"], producer.batch.as_str());
    subscriber.settle().await;
    let copies = subscriber
        .received
        .iter()
        .filter(|e| e["detail"]["message"] == queued.id.as_str())
        .count();
    assert_eq!(copies, 1, "{:#?}", subscriber.received);
    assert_no_personal_data(&subscriber.received, &phone, "Dana");
}

#[tokio::test]
async fn a_person_who_asks_to_be_forgotten_is_published_as_forgotten_under_the_id_subscribers_know()
{
    let app = spawn_app().await;
    let mut subscriber = Subscriber::new(&app).await;
    let phone = unique_phone();
    let g = gatherings::listed(&app, "Stream erasure supper", "83702", 10, None).await;
    reply(&app, &phone, g.code.as_str()).await;
    reply(&app, &phone, "Quillon").await;
    let person = person_of(&app, &app.phone_hash(&phone)).await;
    subscriber.wait_for("rsvp.created", Some(&person)).await;

    reply(&app, &phone, "DELETE").await;
    let erased = reply(&app, &phone, "DELETE").await;
    assert!(!erased.is_empty());

    let forgotten = subscriber.wait_for("person.forgotten", Some(&person)).await;
    assert_eq!(forgotten["detail"]["type"], "person.forgotten");
    assert_no_personal_data(&subscriber.received, &phone, "Quillon");
}

/// The campaign's totals as the organizers' overview reads them (one Query of the `STATS` partition).
async fn totals(stats: &DynamoCampaignStats) -> Counts {
    stats.overview().await.expect("the overview is read").total
}

#[tokio::test]
async fn the_organizers_overview_counts_a_person_their_rsvp_by_text_and_the_stop_that_follows() {
    let app = spawn_app().await;
    let stats = DynamoCampaignStats::new(app.dynamodb.clone(), app.table_name.clone());
    let before = totals(&stats).await;
    let phone = unique_phone();
    let g = gatherings::listed(&app, "Counted porch talk", "83702", 9, None).await;
    reply(&app, &phone, g.code.as_str()).await;
    reply(&app, &phone, "Ottoline").await;
    reply(&app, &phone, "STOP").await;

    // Other tests text at the same time: the counters only grow, so each must have grown by ours.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let after = loop {
        let now = totals(&stats).await;
        if now.people > before.people
            && now.rsvps.sms > before.rsvps.sms
            && now.opt_ins.sms > before.opt_ins.sms
            && now.opt_outs.sms > before.opt_outs.sms
        {
            break now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not counted within {PATIENCE:?}: before {before:#?}, now {now:#?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(after.opt_out_rate().is_some());

    let overview = stats.overview().await.expect("the overview is read");
    let today = time::OffsetDateTime::now_utc().date();
    let recent = overview.last_days(today, 14);
    assert_eq!(recent.len(), 14);
    assert!(
        recent[12..].iter().any(|(_, day)| day.rsvps.sms > 0),
        "today's (or, past midnight, yesterday's) row counts the RSVP: {recent:#?}"
    );
    let items = app.query_pk("STATS").await;
    assert!(!items.is_empty());
    let digits = phone.trim_start_matches('+');
    for item in &items {
        assert_eq!(s(item, "entity"), Some("stats"));
        let text = format!("{item:?}");
        assert!(
            !text.contains(digits) && !text.contains("Ottoline"),
            "{text}"
        );
    }
}

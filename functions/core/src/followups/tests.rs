//! The scheduler over the in-memory adapters: what is due when, once per person, what it says.

use time::{Duration, OffsetDateTime};

use super::{FollowUp, Report, Scheduler, Settings, followup_id, scheduled_time};
use crate::config::SchedulerConfig;
use crate::domain::{
    AddressDraft, EmailAddress, FirstName, Gathering, GatheringCode, GatheringDraft, GatheringId,
    GatheringTitle, Language, PhoneNumber, Training, TrainingDraft, TrainingId, TrainingTitle,
    TrainingUrl, Zip,
};
use crate::email::TokenKey;
use crate::outbound::{Channel, ConsentBasis, Kind, OutboundId, StoredMessage, body_context};
use crate::privacy::{ContactHash, ContactHasher, Sealer, field_context};
use crate::store::{
    GatheringStore, MemoryFollowUpStore, MemoryGatheringStore, MemoryOutbox, MemoryTrainingStore,
    NewRsvp, NewTrainingRegistration, Reach, RsvpSource, RsvpStore, SealedAddress, TrainingStore,
};

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

type Queue = crate::outbound::recording_queue::RecordingQueue;

/// When the gatherings of these tests start.
fn start() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap()
}

fn settings() -> Settings {
    SchedulerConfig::from_lookup(|name| {
        let value = match name {
            "TABLE_NAME" => "rising",
            "EMAIL_LINK_KEY_PARAMETER" => "/rising/email-link-key",
            "CONTACT_DATA_KEY_ID" => "key",
            "SEND_QUEUE_URL" => "https://sqs.example/q",
            "API_URL" => "https://api.rising.example",
            "SUPPORT_CONTACT" => "help@rising.example",
            "OVERVIEW_RECORDING_URL" => "https://rising.example/r/overview",
            "RECORDINGS_URL" => "https://rising.example/r",
            "SAFETY_URL" => "https://rising.example/safety",
            "HOST_SIGNUP_URL" => "https://rising.example/host",
            "EMAIL_FROM" => "hello@rising.example",
            _ => return None,
        };
        Some(value.to_owned())
    })
    .unwrap()
    .settings()
}

struct World {
    settings: Settings,
    gatherings: MemoryGatheringStore,
    trainings: MemoryTrainingStore,
    store: MemoryFollowUpStore,
    outbox: MemoryOutbox,
    queue: Queue,
    sealer: Sealer,
    link_key: TokenKey,
    hasher: ContactHasher,
}

impl World {
    fn new() -> Self {
        Self {
            settings: settings(),
            gatherings: MemoryGatheringStore::new(),
            trainings: MemoryTrainingStore::new(),
            store: MemoryFollowUpStore::new(),
            outbox: MemoryOutbox::default(),
            queue: Queue::default(),
            sealer: Sealer::in_memory(),
            link_key: TokenKey::from_base64(KEY).unwrap(),
            hasher: ContactHasher::from_base64(KEY).unwrap(),
        }
    }

    async fn run(&self, now: OffsetDateTime) -> Report {
        self.try_run(now).await.unwrap()
    }

    async fn try_run(&self, now: OffsetDateTime) -> Result<Report, super::ScheduleError> {
        Scheduler {
            settings: &self.settings,
            gatherings: &self.gatherings,
            trainings: &self.trainings,
            store: &self.store,
            outbox: &self.outbox,
            queue: &self.queue,
            sealer: &self.sealer,
            link_key: &self.link_key,
            templates: tokio::sync::OnceCell::new(),
        }
        .run(now)
        .await
    }

    /// A gathering with two people going: Ana, who reads English, and Bea, who reads Spanish (both by
    /// email and text).
    async fn ana_and_bea_going(&self) -> Gathering {
        let g = self.gathering(None).await;
        let (ana, bea) = (self.person(1).await, self.person(2).await);
        self.rsvp(&g, &ana, Language::En, start() - Duration::days(3))
            .await;
        self.rsvp(&g, &bea, Language::Es, start() - Duration::days(2))
            .await;
        g
    }

    /// A gathering at a private home, starting at [`start`], for two hours, with room for `capacity`.
    async fn gathering(&self, capacity: Option<u32>) -> Gathering {
        let id = GatheringId::random();
        let gathering = GatheringDraft {
            code: GatheringCode::parse(&format!("M{}", id.as_str()[..8].to_uppercase())).unwrap(),
            title: GatheringTitle::parse("Maple Street potluck").unwrap(),
            starts_at: start(),
            ends_at: start() + Duration::hours(2),
            zip: Zip::parse("20001").unwrap(),
            timezone: None,
            town: None,
            location: None,
            address: AddressDraft::Private("12 Maple Street".into()),
            host_first_name: FirstName::parse("Rosa").unwrap(),
            capacity,
            language: Language::En,
            listed: true,
            host: None,
            description: String::new(),
            accessibility: "Step-free entrance".into(),
        }
        .seal(id, &self.sealer)
        .await
        .unwrap();
        self.gatherings
            .put(&gathering, start() - Duration::days(10))
            .await
            .unwrap();
        gathering
    }

    async fn training(&self, id: &str, starts_at: OffsetDateTime) -> Training {
        let training = TrainingDraft {
            title: TrainingTitle::parse("Host training").unwrap(),
            title_es: Some(TrainingTitle::parse("Capacitacion de anfitriones").unwrap()),
            starts_at,
            duration: Duration::hours(1),
            time_zone: "America/New_York".into(),
            join_url: Some(TrainingUrl::parse("https://meet.example/join").unwrap()),
            recording_url: None,
            recording_published_at: None,
        }
        .build(TrainingId::parse(id).unwrap())
        .unwrap();
        self.trainings
            .put_training(&training, starts_at - Duration::days(20))
            .await
            .unwrap();
        training
    }

    /// A person signed up on the web with an email and a phone; their person hash is the email's.
    async fn person(&self, n: u8) -> ContactHash {
        let email = EmailAddress::parse(&format!("person{n}@example.org")).unwrap();
        let phone = PhoneNumber::parse(&format!("+1202555{:04}", 100 + u32::from(n))).unwrap();
        let (email_hash, phone_hash) = (self.hasher.email(&email), self.hasher.phone(&phone));
        let seal = |hash: &ContactHash, field: &str, value: String| {
            let context = field_context(hash, field);
            async move { self.sealer.seal(&context, &value).await.unwrap() }
        };
        self.store.add(Reach {
            person: email_hash.clone(),
            zip: Some("20001".into()),
            email: Some(SealedAddress {
                contact: email_hash.clone(),
                sealed: seal(&email_hash, "email", email.as_str().to_owned()).await,
            }),
            sms: Some(SealedAddress {
                contact: phone_hash.clone(),
                sealed: seal(&phone_hash, "phone", phone.as_e164().to_owned()).await,
            }),
        });
        email_hash
    }

    async fn rsvp(
        &self,
        g: &Gathering,
        person: &ContactHash,
        language: Language,
        at: OffsetDateTime,
    ) {
        let first_name = self
            .sealer
            .seal(&field_context(person, "first_name"), "Ana")
            .await
            .unwrap();
        self.gatherings
            .rsvp(
                NewRsvp {
                    gathering: &g.id,
                    contact: person,
                    source: RsvpSource::Form,
                    language,
                    first_name: &first_name,
                    referral: None,
                },
                at,
            )
            .await
            .unwrap();
    }

    async fn register(&self, t: &Training, person: &ContactHash, at: OffsetDateTime) {
        let first_name = self
            .sealer
            .seal(&field_context(person, "first_name"), "Ana")
            .await
            .unwrap();
        self.trainings
            .register(
                NewTrainingRegistration {
                    training: &t.id,
                    contact: person,
                    language: Language::Es,
                    first_name: &first_name,
                    source: RsvpSource::Form,
                    referral: None,
                },
                at,
            )
            .await
            .unwrap();
    }

    /// Publishes the training's recording at `at`.
    async fn publish(&self, t: &Training, at: OffsetDateTime) {
        self.trainings
            .publish_recording(
                &t.id,
                &TrainingUrl::parse("https://rising.example/r/overview-recording").unwrap(),
                at,
            )
            .await
            .unwrap();
    }

    /// The messages queued so far, as stored, with their opened bodies.
    async fn queued(&self) -> Vec<(StoredMessage, String)> {
        let mut out = Vec::new();
        for id in self.queue.ids() {
            let m = self
                .outbox
                .message(&id)
                .expect("a queued message is stored");
            let body = self.sealer.open(&body_context(&id), &m.body).await.unwrap();
            out.push((m, body));
        }
        out
    }
}

#[test]
fn each_follow_up_of_a_gathering_is_due_in_its_own_window() {
    let g_start = start();
    let due_at = |hours_from_start: i64| -> Vec<FollowUp> {
        let at = g_start + Duration::hours(hours_from_start);
        [FollowUp::DayBefore, FollowUp::SameDay, FollowUp::After]
            .into_iter()
            .filter(|f| {
                f.window(g_start, g_start + Duration::hours(2), None)
                    .unwrap()
                    .contains(at)
            })
            .collect()
    };
    assert_eq!(due_at(-30), vec![]);
    assert_eq!(due_at(-24), vec![FollowUp::DayBefore]);
    assert_eq!(due_at(-11), vec![FollowUp::DayBefore]);
    assert_eq!(due_at(-10), vec![]);
    assert_eq!(due_at(-3), vec![FollowUp::SameDay]);
    assert_eq!(due_at(0), vec![]);
    assert_eq!(due_at(4), vec![FollowUp::After]);
    assert_eq!(due_at(50), vec![]);
    // A recording has no window until it is published.
    assert!(FollowUp::Recording.window(g_start, g_start, None).is_none());
}

#[test]
fn the_scheduled_events_time_is_the_runs_now_and_anything_else_is_refused() {
    let event = serde_json::json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2015-10-08T16:53:06Z",
        "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/my-scheduled-rule"],
        "detail": {}
    });
    assert_eq!(
        scheduled_time(&event).unwrap(),
        time::macros::datetime!(2015-10-08 16:53:06 UTC)
    );
    for bad in [
        serde_json::json!({"detail-type": "Scheduled Event"}),
        serde_json::json!({"detail-type": "Scheduled Event", "time": "yesterday"}),
        serde_json::json!({"detail-type": "Object Created", "time": "2015-10-08T16:53:06Z"}),
        serde_json::json!([1, 2]),
    ] {
        assert!(scheduled_time(&bad).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn the_day_before_everyone_going_gets_one_reminder_by_email_and_text_with_the_private_address()
 {
    let world = World::new();
    world.ana_and_bea_going().await;

    // Too early: nothing is due.
    let early = world.run(start() - Duration::hours(30)).await;
    assert_eq!(early.enqueued, 0);

    let report = world.run(start() - Duration::hours(20)).await;
    assert_eq!(report.jobs, 1);
    assert_eq!(report.enqueued, 4, "{report:?}");
    let queued = world.queued().await;
    assert_eq!(queued.len(), 4);
    for (m, body) in &queued {
        assert_eq!(m.kind, Kind::Reminder);
        assert_eq!(m.consent, ConsentBasis::OptedIn);
        assert_eq!(m.zip.as_deref(), Some("20001"));
        assert!(m.batch.is_none());
        assert!(
            body.contains("12 Maple Street"),
            "the private address is told: {body}"
        );
        match m.channel {
            Channel::Email => {
                assert!(body.contains("BEGIN:VCALENDAR"), "a calendar invite");
                assert!(body.contains("List-Unsubscribe"), "one-click unsubscribe");
                assert!(
                    body.contains("Tomorrow: Maple Street potluck")
                        || body.contains("Ma=C3=B1ana")
                        || body.contains("Mañana"),
                    "{body}"
                );
            }
            Channel::Sms => {
                assert!(body.starts_with("rising: "), "{body}");
                assert!(body.contains("STOP"), "{body}");
            }
        }
    }
    // The text goes to the phone's own contact; the email to the email's.
    let sms: Vec<_> = queued
        .iter()
        .filter(|(m, _)| m.channel == Channel::Sms)
        .collect();
    assert!(
        sms.iter()
            .all(|(m, _)| m.contact.as_str().starts_with("p."))
    );
    assert!(
        sms.iter().any(|(_, body)| body.contains("recordatorio")),
        "Bea reads Spanish"
    );

    // Every later run in the window sends nothing more.
    for hours in [19, 15, 11] {
        let again = world.run(start() - Duration::hours(hours)).await;
        assert_eq!((again.enqueued, again.requeued), (0, 0), "{again:?}");
    }
    assert_eq!(world.queue.ids().len(), 4);
}

#[tokio::test]
async fn late_rsvps_and_the_waitlist_get_no_day_before_reminder_but_a_late_rsvp_gets_the_same_day_one()
 {
    let world = World::new();
    let g = world.gathering(Some(1)).await;
    let (ana, bea, cy) = (
        world.person(1).await,
        world.person(2).await,
        world.person(3).await,
    );
    world
        .rsvp(&g, &ana, Language::En, start() - Duration::days(3))
        .await;
    // Full: Bea is on the waitlist.
    world
        .rsvp(&g, &bea, Language::En, start() - Duration::days(3))
        .await;
    world.run(start() - Duration::hours(20)).await;
    let first: Vec<OutboundId> = world.queue.ids();
    assert_eq!(first.len(), 2, "Ana only, by email and text");
    assert!(first.contains(&followup_id(
        FollowUp::DayBefore,
        &format!("{}@{}", g.id.as_str(), start().unix_timestamp()),
        &ana,
        Channel::Email
    )));

    // Ana cancels (an erasure withdraws her RSVP and frees the place); Cy RSVPs 19 hours before:
    // they just got their confirmation, so no day-before reminder, but the same-day one.
    world.gatherings.withdraw_all(&ana).unwrap();
    world
        .rsvp(&g, &cy, Language::En, start() - Duration::hours(19))
        .await;
    let later = world.run(start() - Duration::hours(18)).await;
    assert_eq!(later.enqueued, 0, "{later:?}");
    let same_day = world.run(start() - Duration::hours(3)).await;
    assert_eq!(same_day.enqueued, 2, "Cy by email and text: {same_day:?}");
    let queued = world.queued().await;
    let (m, body) = queued
        .iter()
        .rev()
        .find(|(m, _)| m.channel == Channel::Email)
        .unwrap();
    assert_eq!(m.kind, Kind::Reminder);
    assert_eq!(m.contact, cy);
    assert!(
        body.contains("Subject: Today: Maple Street potluck"),
        "{body}"
    );
}

#[tokio::test]
async fn after_the_gathering_everyone_going_gets_thanks_and_the_next_training() {
    let world = World::new();
    let g = world.gathering(None).await;
    let next = world
        .training("host-training", start() + Duration::days(5))
        .await;
    let ana = world.person(1).await;
    world
        .rsvp(&g, &ana, Language::En, start() - Duration::hours(2))
        .await;
    let report = world.run(g.ends_at + Duration::hours(3)).await;
    assert_eq!(report.enqueued, 2, "{report:?}");
    let queued = world.queued().await;
    let (email, body) = queued
        .iter()
        .find(|(m, _)| m.channel == Channel::Email)
        .unwrap();
    assert_eq!(email.kind, Kind::FollowUp);
    assert!(body.contains("Thank you for coming to Maple Street potluck"));
    assert!(body.contains("https://rising.example/host"));
    assert!(body.contains(&format!("/t/{}", next.id.as_str())), "{body}");
    assert!(!body.contains("BEGIN:VCALENDAR"));
    assert!(
        !body.contains("12 Maple Street"),
        "no reason to repeat the address"
    );
}

#[tokio::test]
async fn a_published_recording_reaches_every_registrant_once_and_a_training_is_reminded_with_its_join_link()
 {
    let world = World::new();
    let t = world
        .training("overview", start() - Duration::days(2))
        .await;
    let (ana, bea) = (world.person(1).await, world.person(2).await);
    world.register(&t, &ana, start() - Duration::days(9)).await;
    world.register(&t, &bea, start() - Duration::days(8)).await;

    // Not published yet: nothing.
    assert_eq!(world.run(start()).await.enqueued, 0);
    let published_at = start() + Duration::hours(1);
    world.publish(&t, published_at).await;
    let report = world.run(published_at + Duration::minutes(5)).await;
    assert_eq!(report.enqueued, 4, "{report:?}");
    for (m, body) in world.queued().await {
        assert_eq!(m.kind, Kind::Recording);
        assert_eq!(m.consent, ConsentBasis::Requested);
        assert!(
            body.contains("https://rising.example/r/overview-recording"),
            "{body}"
        );
    }
    assert_eq!(
        world.run(published_at + Duration::days(1)).await.enqueued,
        0
    );
    assert_eq!(world.run(published_at + Duration::days(31)).await.jobs, 0);

    // The reminder of a training, the day before, with its join link.
    let later = world
        .training("host-101", start() + Duration::days(3))
        .await;
    world.register(&later, &ana, start()).await;
    let reminder_time = later.starts_at - Duration::hours(20);
    let report = world.run(reminder_time).await;
    assert_eq!(report.enqueued, 2, "{report:?}");
    let (_, body) = world.queued().await.pop().unwrap();
    assert!(body.contains("https://meet.example/join"), "{body}");
}

#[tokio::test]
async fn the_reminder_text_an_organizer_reworded_is_what_the_scheduler_sends_in_that_language_only()
{
    use crate::store::{StoredTemplate, TemplateMessage, TemplateStore};
    let world = World::new();
    let organizer = crate::privacy::ContactHash::parse("e.organizer").unwrap();
    let wording = "{program}: see you {when} at {place} for {title}! STOP to opt out";
    world
        .gatherings
        .put_template(
            &StoredTemplate {
                message: TemplateMessage::ReminderSms,
                language: Language::En,
                text: wording.to_owned(),
            },
            &organizer,
            start(),
        )
        .await
        .unwrap();
    world.ana_and_bea_going().await;
    world.run(start() - Duration::hours(20)).await;
    let texts: Vec<String> = world
        .queued()
        .await
        .into_iter()
        .filter(|(m, _)| m.channel == Channel::Sms)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(texts.len(), 2);
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("rising: see you ") && t.contains("12 Maple Street")),
        "Ana's text in the organizers' words, the address filled in: {texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.contains("recordatorio")),
        "Bea's Spanish text keeps the standard wording: {texts:?}"
    );
}

#[tokio::test]
async fn a_redone_run_puts_still_pending_messages_on_the_queue_again_and_stores_nothing_twice() {
    let world = World::new();
    let g = world.gathering(None).await;
    let ana = world.person(1).await;
    world
        .rsvp(&g, &ana, Language::En, start() - Duration::days(3))
        .await;
    world.run(start() - Duration::hours(20)).await;
    assert_eq!(world.queue.ids().len(), 2);
    // The cursor is lost: the next run finds both messages stored and still pending.
    let fresh_cursors = MemoryFollowUpStore::new();
    fresh_cursors.add(world.store.reach_of(&ana).unwrap());
    let world = World {
        store: fresh_cursors,
        ..world
    };
    let redo = world.run(start() - Duration::hours(19)).await;
    assert_eq!((redo.enqueued, redo.requeued), (0, 2), "{redo:?}");
    let ids = world.queue.ids();
    assert_eq!(ids.len(), 4, "queued twice");
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(
        distinct.len(),
        2,
        "the same two messages: the worker sends each once"
    );
}

#[tokio::test]
async fn a_gathering_moved_after_its_reminder_is_reminded_again_at_its_new_time() {
    let world = World::new();
    let g = world.gathering(None).await;
    let ana = world.person(1).await;
    world
        .rsvp(&g, &ana, Language::En, start() - Duration::days(3))
        .await;
    assert_eq!(world.run(start() - Duration::hours(20)).await.enqueued, 2);
    let moved = Gathering {
        starts_at: start() + Duration::days(2),
        ends_at: start() + Duration::days(2) + Duration::hours(2),
        ..g.clone()
    };
    world
        .gatherings
        .update(&moved, start() - Duration::hours(19))
        .await
        .unwrap();
    assert_eq!(world.run(start() - Duration::hours(18)).await.enqueued, 0);
    let again = world.run(moved.starts_at - Duration::hours(20)).await;
    assert_eq!(again.enqueued, 2, "{again:?}");
    assert_eq!(world.queue.ids().len(), 4);
}

#[tokio::test]
async fn chunks_keep_sign_ups_of_the_same_time_together() {
    let world = World::new();
    let person = world.person(1).await;
    let first_name = world
        .sealer
        .seal(&field_context(&person, "first_name"), "Ana")
        .await
        .unwrap();
    let at = |minutes: i64| super::SignUp {
        person: person.clone(),
        first_name: first_name.clone(),
        language: Language::En,
        at: start() + Duration::minutes(minutes),
    };
    let sign_ups: Vec<_> = [0, 1, 2, 2, 2, 3, 4, 4].into_iter().map(at).collect();
    let sizes: Vec<usize> = super::chunks(&sign_ups, 3)
        .iter()
        .map(|c| c.len())
        .collect();
    assert_eq!(
        sizes,
        vec![5, 3],
        "the three sign-ups at minute 2 stay in one chunk"
    );
    assert_eq!(super::chunks(&sign_ups[..2], 3).len(), 1);
    assert!(super::chunks(&[], 3).is_empty());
}

#[tokio::test]
async fn a_recording_for_more_people_than_a_chunk_reaches_each_once() {
    let world = World::new();
    let t = world
        .training("overview", start() - Duration::days(2))
        .await;
    let mut people = Vec::new();
    for n in 0..230u8 {
        let person = world.person(n).await;
        world
            .register(
                &t,
                &person,
                start() - Duration::days(9) + Duration::seconds(i64::from(n % 50)),
            )
            .await;
        people.push(person);
    }
    let published_at = start();
    world.publish(&t, published_at).await;
    let report = world.run(published_at + Duration::minutes(5)).await;
    assert_eq!(report.enqueued, 460, "{report:?}");
    assert_eq!(
        world
            .run(published_at + Duration::minutes(10))
            .await
            .enqueued,
        0
    );
    let distinct: std::collections::HashSet<_> = world.queue.ids().into_iter().collect();
    assert_eq!(distinct.len(), 460);
}

#[tokio::test]
async fn a_follow_up_that_fails_holds_back_neither_the_others_nor_the_next_run() {
    let world = World::new();
    let (broken, fine) = (world.gathering(None).await, world.gathering(None).await);
    let (ana, bea) = (world.person(1).await, world.person(2).await);
    // Ana's stored address cannot be opened (sealed for another contact): her reminder fails.
    let mut unreadable = world.store.reach_of(&ana).unwrap();
    unreadable.email.as_mut().unwrap().sealed = world
        .sealer
        .seal(&field_context(&bea, "email"), "person1@example.org")
        .await
        .unwrap();
    world.store.add(unreadable);
    world
        .rsvp(&broken, &ana, Language::En, start() - Duration::days(3))
        .await;
    world
        .rsvp(&fine, &bea, Language::En, start() - Duration::days(3))
        .await;

    let at = start() - Duration::hours(20);
    assert!(
        world.try_run(at).await.is_err(),
        "the run reports the failure"
    );
    let queued = world.queued().await;
    assert_eq!(queued.len(), 2, "Bea's reminders went");
    assert!(queued.iter().all(|(m, _)| m.contact != ana));
    // The next run tries the failed one again, and only that one.
    assert!(world.try_run(at + Duration::minutes(5)).await.is_err());
    assert_eq!(world.queue.ids().len(), 2);
}

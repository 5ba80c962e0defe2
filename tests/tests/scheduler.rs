//! The scheduler on the local stack, driven as its EventBridge schedule drives it: a scheduled event
//! with a chosen `time` is handed to `SchedulerFunction` through the stack's Lambda Invoke API. What
//! it queues goes through the real send queue and `send-worker` to the Twilio emulator and moto's
//! SES, so every gate applies at send time.
//!
//! People sign up through the real web form at today's date; the events they sign up for are weeks
//! ahead, each test at its own distance, so a run at a chosen time sees only its own test's events
//! (and none of the other tests'). Texts obey quiet hours by the real clock: the ZIP codes are
//! chosen where texting is allowed now (or, for the quiet-hours test, where it is not).

use std::time::Duration as StdDuration;

use reqwest::StatusCode;
use rising_core::domain::{TrainingDraft, TrainingId, TrainingTitle, TrainingUrl};
use rising_core::followups::{FollowUp, followup_id};
use rising_core::outbound::Channel;
use rising_core::privacy::ContactHash;
use rising_core::store::{DynamoTrainingStore, TrainingStore};
use rising_tests::hosts::Host;
use rising_tests::mail::{
    emails_to, feedback_id, hard_bounce, publish_email_event, unique_email, wait_for_emails,
};
use rising_tests::sending::{
    no_zone_is_closed, no_zone_is_open, open_by_area_code, sent_to, wait_for_texts,
    zip_where_sending_is,
};
use rising_tests::{Stack, gatherings, s, spawn_app, unique_phone};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

/// An origin the local stack lets embed the form.
const ALLOWED: &str = "http://127.0.0.1:9";

/// Far from the seeded gatherings near 20001.
const GATHERING_ZIP: &str = "99501";

/// Signs `email` (and `phone`, with the text box ticked) up through the web form for a gathering or
/// a training, living in `zip`.
async fn sign_up(app: &Stack, email: &str, phone: &str, zip: &str, event: (&str, &str)) {
    let mut form = json!({
        "submission_id": rising_core::ids::random_id(),
        "first_name": "Noor",
        "email": email,
        "phone": phone,
        "sms_consent": true,
        "zip": zip,
        "language": "en",
        "commitment": true,
    });
    form[event.0] = json!(event.1);
    let response = app
        .http
        .post(format!("{}/register", app.gateway_url))
        .header("content-type", "application/json")
        .header("origin", ALLOWED)
        .body(form.to_string())
        .send()
        .await
        .expect("gateway reachable");
    assert_eq!(response.status(), StatusCode::OK);
}

/// Waits (up to 30 s) until `phone` received at least `count` texts; all of them.
/// Signs a person up and waits for their confirmations (one email, one text).
async fn confirmed(app: &Stack, email: &str, phone: &str, zip: &str, event: (&str, &str)) {
    sign_up(app, email, phone, zip, event).await;
    assert_eq!(
        wait_for_emails(app, email, 1).await.len(),
        1,
        "confirmation email"
    );
    assert_eq!(
        wait_for_texts(app, phone, 1).await.len(),
        1,
        "confirmation text"
    );
}

/// A one-hour training with a join link, starting at `starts_at`, stored under a new id `<prefix>-…`.
async fn training(
    trainings: &DynamoTrainingStore,
    prefix: &str,
    title: &str,
    starts_at: OffsetDateTime,
) -> TrainingId {
    let id = TrainingId::parse(&format!(
        "{prefix}-{}",
        &rising_core::ids::random_id()[..10]
    ))
    .expect("a training id");
    let training = TrainingDraft {
        title: TrainingTitle::parse(title).expect("a title"),
        title_es: None,
        starts_at,
        duration: Duration::hours(1),
        time_zone: "America/New_York".into(),
        join_url: Some(TrainingUrl::parse("https://meet.rising.example/j/t").expect("a URL")),
        recording_url: None,
        recording_published_at: None,
    }
    .build(id.clone())
    .expect("a training");
    trainings
        .put_training(&training, OffsetDateTime::now_utc())
        .await
        .expect("stored");
    id
}

fn enqueued(report: &Value) -> u64 {
    report["enqueued"].as_u64().expect("a run's report")
}

/// The stored outbox message of a follow-up, once it has an outcome (up to 30 s).
async fn outcome(app: &Stack, id: &str) -> (String, Option<String>) {
    for _ in 0..300 {
        let items = app.query_pk(&format!("OUTBOX#{id}")).await;
        if let Some(item) = items.first()
            && let Some(status) = s(item, "status")
            && status != "pending"
            && status != "sending"
        {
            return (status.to_owned(), s(item, "reason").map(str::to_owned));
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    panic!("message {id} has no outcome");
}

#[tokio::test]
async fn each_reminder_and_the_follow_up_reach_a_person_going_once_by_email_and_text() {
    if no_zone_is_open("each_reminder_and_the_follow_up_reach_a_person_going_once") {
        return;
    }
    let app = spawn_app().await;
    let starts_at = OffsetDateTime::now_utc() + Duration::days(40);
    let g = gatherings::private_home(&app, "Scheduler potluck", GATHERING_ZIP, starts_at).await;
    let (email, phone) = (unique_email("reminded"), unique_phone());
    let zip = zip_where_sending_is(&phone, true);
    confirmed(&app, &email, &phone, &zip, ("gathering", g.id.as_str())).await;
    let confirmation = &emails_to(&app, &email).await[0];
    assert!(
        !confirmation.contains("12 Maple Street"),
        "not told before the day before"
    );

    // The day before: one email with the address and a calendar invite, one text.
    let report = app.run_scheduler(starts_at - Duration::hours(20)).await;
    assert_eq!(enqueued(&report), 2, "{report}");
    let emails = wait_for_emails(&app, &email, 2).await;
    assert_eq!(emails.len(), 2);
    let reminder = &emails[1];
    assert!(
        reminder.contains("Subject: Tomorrow: Scheduler potluck"),
        "{reminder}"
    );
    assert!(reminder.contains("12 Maple Street") && reminder.contains("Step-free entrance"));
    assert!(reminder.contains("text/calendar") && reminder.contains("List-Unsubscribe"));
    let texts = wait_for_texts(&app, &phone, 2).await;
    assert_eq!(texts.len(), 2);
    assert!(
        texts[1].contains("reminder, Scheduler potluck") && texts[1].contains("12 Maple Street"),
        "{}",
        texts[1]
    );

    // Later runs in the same window, and a replay of the first, send nothing again.
    for hours in [20, 19, 11] {
        let again = app.run_scheduler(starts_at - Duration::hours(hours)).await;
        assert_eq!(
            (enqueued(&again), again["requeued"].as_u64()),
            (0, Some(0)),
            "{again}"
        );
    }

    // On the day, and after it.
    assert_eq!(
        enqueued(&app.run_scheduler(starts_at - Duration::hours(3)).await),
        2
    );
    assert_eq!(wait_for_emails(&app, &email, 3).await.len(), 3);
    assert!(emails_to(&app, &email).await[2].contains("Subject: Today: Scheduler potluck"));
    let after = app.run_scheduler(g.ends_at + Duration::hours(3)).await;
    assert_eq!(enqueued(&after), 2, "{after}");
    let emails = wait_for_emails(&app, &email, 4).await;
    assert!(emails[3].contains("Thank you for coming to Scheduler potluck"));
    assert_eq!(wait_for_texts(&app, &phone, 4).await.len(), 4);

    // Nothing more arrives.
    tokio::time::sleep(StdDuration::from_secs(2)).await;
    assert_eq!(emails_to(&app, &email).await.len(), 4);
    assert_eq!(sent_to(&app, &phone).await.len(), 4);
}

#[tokio::test]
async fn nobody_is_reminded_on_a_channel_they_stopped_or_that_bounced() {
    if no_zone_is_open("nobody_is_reminded_on_a_channel_they_stopped_or_that_bounced") {
        return;
    }
    let app = spawn_app().await;
    let starts_at = OffsetDateTime::now_utc() + Duration::days(50);
    let g = gatherings::private_home(&app, "Opted out potluck", GATHERING_ZIP, starts_at).await;
    let (ana_email, ana_phone) = (unique_email("stopped"), unique_phone());
    let (bea_email, bea_phone) = (unique_email("bounced"), unique_phone());
    let ana_zip = zip_where_sending_is(&ana_phone, true);
    let bea_zip = zip_where_sending_is(&bea_phone, true);
    confirmed(
        &app,
        &ana_email,
        &ana_phone,
        &ana_zip,
        ("gathering", g.id.as_str()),
    )
    .await;
    confirmed(
        &app,
        &bea_email,
        &bea_phone,
        &bea_zip,
        ("gathering", g.id.as_str()),
    )
    .await;
    // Ana texts STOP; Bea's address bounces for good (SES publishes the bounce).
    let stop = app.text(&ana_phone, "STOP").await;
    assert_eq!(stop.webhook_status, 200);
    publish_email_event(&app, &hard_bounce(&bea_email, &feedback_id(), None)).await;

    let report = app.run_scheduler(starts_at - Duration::hours(20)).await;
    assert_eq!(
        enqueued(&report),
        4,
        "stored, then gated at send time: {report}"
    );
    let tag = format!("{}@{}", g.id.as_str(), starts_at.unix_timestamp());
    let id = |person: &str, channel| {
        followup_id(
            FollowUp::DayBefore,
            &tag,
            &ContactHash::parse(person).expect("a contact hash"),
            channel,
        )
        .as_str()
        .to_owned()
    };
    let (ana, bea) = (app.phone_hash(&ana_phone), app.phone_hash(&bea_phone));
    assert_eq!(outcome(&app, &id(&ana, Channel::Email)).await.0, "sent");
    assert_eq!(
        outcome(&app, &id(&ana, Channel::Sms)).await,
        ("skipped".to_owned(), Some("opted_out".to_owned()))
    );
    assert_eq!(outcome(&app, &id(&bea, Channel::Sms)).await.0, "sent");
    assert_eq!(
        outcome(&app, &id(&bea, Channel::Email)).await,
        ("skipped".to_owned(), Some("undeliverable".to_owned()))
    );
    assert_eq!(emails_to(&app, &ana_email).await.len(), 2);
    assert_eq!(
        emails_to(&app, &bea_email).await.len(),
        1,
        "the confirmation only"
    );
    let ana_texts = sent_to(&app, &ana_phone).await;
    assert!(
        ana_texts.iter().all(|t| !t.contains("reminder")),
        "{ana_texts:?}"
    );
    assert_eq!(wait_for_texts(&app, &bea_phone, 2).await.len(), 2);
}

#[tokio::test]
async fn a_text_reminder_waits_for_the_persons_morning_and_the_email_does_not() {
    if no_zone_is_closed("a_text_reminder_waits_for_the_persons_morning_and_the_email_does_not") {
        return;
    }
    let app = spawn_app().await;
    let starts_at = OffsetDateTime::now_utc() + Duration::days(60);
    let g = gatherings::private_home(&app, "Night owl potluck", GATHERING_ZIP, starts_at).await;
    let (email, phone) = (unique_email("asleep"), unique_phone());
    let zip = zip_where_sending_is(&phone, false);
    // A confirmation answers the person's own action: it is not held.
    confirmed(&app, &email, &phone, &zip, ("gathering", g.id.as_str())).await;

    let report = app.run_scheduler(starts_at - Duration::hours(20)).await;
    assert_eq!(enqueued(&report), 2, "{report}");
    assert_eq!(
        wait_for_emails(&app, &email, 2).await.len(),
        2,
        "email wakes nobody"
    );
    let tag = format!("{}@{}", g.id.as_str(), starts_at.unix_timestamp());
    let person = ContactHash::parse(&app.phone_hash(&phone)).expect("a contact hash");
    let id = followup_id(FollowUp::DayBefore, &tag, &person, Channel::Sms);
    let mut deferred = false;
    for _ in 0..300 {
        let items = app.query_pk(&format!("OUTBOX#{}", id.as_str())).await;
        if let Some(item) = items.first()
            && s(item, "status") == Some("pending")
            && item.get("deferred").and_then(|v| v.as_bool().ok()) == Some(&true)
        {
            deferred = true;
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    assert!(
        deferred,
        "the text reminder waits, pending, for the morning"
    );
    assert_eq!(
        sent_to(&app, &phone).await.len(),
        1,
        "the confirmation only"
    );
}

#[tokio::test]
async fn a_published_recording_reaches_every_registrant_once() {
    if no_zone_is_open("a_published_recording_reaches_every_registrant_once") {
        return;
    }
    let app = spawn_app().await;
    let trainings = DynamoTrainingStore::new(app.dynamodb.clone(), app.table_name.clone());
    let now = OffsetDateTime::now_utc();
    let starts_at = now + Duration::days(80);
    let id = training(&trainings, "rec", "Recorded host training", starts_at).await;
    let people: Vec<(String, String)> = (0..3)
        .map(|n| (unique_email(&format!("recording{n}")), unique_phone()))
        .collect();
    for (email, phone) in &people {
        let zip = zip_where_sending_is(phone, true);
        confirmed(&app, email, phone, &zip, ("training", id.as_str())).await;
    }

    // Before it is published, a run sends nothing; once published, each registrant gets the link
    // once, whatever the runs.
    let published_at = starts_at + Duration::days(1);
    assert_eq!(enqueued(&app.run_scheduler(published_at).await), 0);
    let url = TrainingUrl::parse("https://rising.example/r/recorded-host-training").expect("a URL");
    trainings
        .publish_recording(&id, &url, published_at)
        .await
        .expect("published");
    let report = app.run_scheduler(published_at + Duration::minutes(5)).await;
    assert_eq!(enqueued(&report), 6, "{report}");
    for at in [Duration::minutes(10), Duration::days(3)] {
        assert_eq!(enqueued(&app.run_scheduler(published_at + at).await), 0);
    }
    for (email, phone) in &people {
        let emails = wait_for_emails(&app, email, 2).await;
        assert!(emails[1].contains("https://rising.example/r/recorded-host-training"));
        let texts = wait_for_texts(&app, phone, 2).await;
        assert!(texts[1].contains("https://rising.example/r/recorded-host-training"));
    }
    tokio::time::sleep(StdDuration::from_secs(2)).await;
    for (email, phone) in &people {
        assert_eq!(emails_to(&app, email).await.len(), 2);
        assert_eq!(sent_to(&app, phone).await.len(), 2);
    }
}

#[tokio::test]
async fn someone_who_rsvped_by_text_is_reminded_by_text() {
    let app = spawn_app().await;
    let phone = unique_phone();
    if !open_by_area_code(&phone) {
        eprintln!(
            "someone_who_rsvped_by_text_is_reminded_by_text: skipped, it is night at the test number's \
             area code"
        );
        return;
    }
    let starts_at = OffsetDateTime::now_utc() + Duration::days(70);
    let g = gatherings::private_home(&app, "Texted potluck", GATHERING_ZIP, starts_at).await;
    let asked = app.text(&phone, g.code.as_str()).await;
    assert!(
        asked.replies.concat().contains("first name"),
        "{:?}",
        asked.replies
    );
    let going = app.text(&phone, "Noor").await;
    assert!(
        going.replies.concat().contains("Texted potluck"),
        "{:?}",
        going.replies
    );

    let report = app.run_scheduler(starts_at - Duration::hours(20)).await;
    assert_eq!(enqueued(&report), 1, "a text, no email: {report}");
    assert_eq!(
        enqueued(&app.run_scheduler(starts_at - Duration::hours(19)).await),
        0
    );
    let reminders = |texts: Vec<String>| -> Vec<String> {
        texts
            .into_iter()
            .filter(|t| t.contains("reminder, Texted potluck"))
            .collect()
    };
    let mut found = Vec::new();
    for _ in 0..300 {
        found = reminders(sent_to(&app, &phone).await);
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    assert_eq!(found.len(), 1, "one reminder");
    assert!(found[0].contains("12 Maple Street"), "{}", found[0]);
    tokio::time::sleep(StdDuration::from_secs(2)).await;
    assert_eq!(reminders(sent_to(&app, &phone).await).len(), 1);
}

#[tokio::test]
async fn a_recording_an_organizer_publishes_with_rising_admin_reaches_every_registrant_once() {
    if no_zone_is_open(
        "a_recording_an_organizer_publishes_with_rising_admin_reaches_every_registrant_once",
    ) {
        return;
    }
    let app = spawn_app().await;
    let (id, people) = registered_training(&app, "pub", "Published by an organizer").await;

    let url = "https://rising.example/r/published-by-an-organizer";
    rising_tests::admin::ok(&[
        "publish-recording",
        "--training",
        id.as_str(),
        "--url",
        url,
        "--by",
        "Integration test (scheduler)",
        "--yes",
    ]);
    recording_reaches_each_once(&app, &people, url).await;
}

#[tokio::test]
async fn a_recording_an_organizer_publishes_on_the_admin_page_reaches_every_registrant_once() {
    if no_zone_is_open(
        "a_recording_an_organizer_publishes_on_the_admin_page_reaches_every_registrant_once",
    ) {
        return;
    }
    let app = spawn_app().await;
    let (id, people) = registered_training(&app, "web", "Published on the admin page").await;

    // The organizer signs in like a host (the list holds their address: ORGANIZER_EMAILS locally).
    let email = rising_tests::stack_var("ORGANIZER_EMAILS").expect("the stack lists an organizer");
    let email = email.split(',').next().unwrap().trim().to_owned();
    let earlier = emails_to(&app, &email).await.len();
    let organizer = Host::sign_in(&app, &email, earlier + 1).await;
    let (status, page) = organizer.get("/admin").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Published on the admin page"), "{page}");
    let path = format!("/admin/trainings/{}/recording", id.as_str());
    let url = "https://rising.example/r/published-on-the-admin-page";

    // The organizers' own wording of the recording's text, saved on the templates page.
    let wording = "{program}: watch {title} again, whenever suits you: {url} Reply STOP to opt out";
    let template = "/admin/templates/recording_sms/en";
    let (status, location, _) = organizer
        .post(
            template,
            &[
                ("csrf", &organizer.csrf),
                ("action", "save"),
                ("text", wording),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/admin/templates?saved=1")
    );

    // Review, then publish; a second click is refused.
    let (status, _, review) = organizer
        .post(&path, &[("csrf", &organizer.csrf), ("url", url)])
        .await;
    assert_eq!(status, StatusCode::OK, "{review}");
    assert!(
        review.contains("goes to the 2 people registered"),
        "{review}"
    );
    let confirm = [
        ("csrf", organizer.csrf.as_str()),
        ("url", url),
        ("confirm", "yes"),
    ];
    let (status, location, _) = organizer.post(&path, &confirm).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with("/admin?published="), "{location}");
    let (status, _, _) = organizer.post(&path, &confirm).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // A host who is not an organizer cannot.
    let host = Host::sign_in(&app, &unique_email("not-an-organizer"), 1).await;
    assert_eq!(host.get("/admin").await.0, StatusCode::FORBIDDEN);

    // Whatever happens, the standard wording comes back (the other tests' texts use it).
    let delivered = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(async {
        recording_reaches_each_once(&app, &people, url).await;
        for (_, phone) in &people {
            let texts = sent_to(&app, phone).await;
            assert!(
                texts[1].contains("watch Published on the admin page again, whenever suits you"),
                "the organizers' wording: {}",
                texts[1]
            );
        }
    }))
    .await;
    let (status, _, _) = organizer
        .post(template, &[("csrf", &organizer.csrf), ("action", "reset")])
        .await;
    if let Err(panic) = delivered {
        std::panic::resume_unwind(panic);
    }
    assert_eq!(status, StatusCode::SEE_OTHER);
}

/// A training starting in 2 hours (no reminder is due for people who register now) and two people
/// registered through the form, by email and by text: its id and the people's (email, phone).
async fn registered_training(
    app: &Stack,
    prefix: &str,
    title: &str,
) -> (TrainingId, Vec<(String, String)>) {
    let trainings = DynamoTrainingStore::new(app.dynamodb.clone(), app.table_name.clone());
    let starts_at = OffsetDateTime::now_utc() + Duration::hours(2);
    let id = training(&trainings, prefix, title, starts_at).await;
    let people: Vec<(String, String)> = (0..2)
        .map(|n| (unique_email(&format!("{prefix}{n}")), unique_phone()))
        .collect();
    for (email, phone) in &people {
        let zip = zip_where_sending_is(phone, true);
        confirmed(app, email, phone, &zip, ("training", id.as_str())).await;
    }
    (id, people)
}

/// The schedule's next runs deliver the published recording `url` to each person once, by email and
/// text (other tests' published recordings may be due too: counted per person).
async fn recording_reaches_each_once(app: &Stack, people: &[(String, String)], url: &str) {
    for minutes in [5, 10] {
        app.run_scheduler(OffsetDateTime::now_utc() + Duration::minutes(minutes))
            .await;
    }
    for (email, phone) in people {
        let emails = wait_for_emails(app, email, 2).await;
        assert!(emails[1].contains(url), "the recording by email");
        let texts = wait_for_texts(app, phone, 2).await;
        assert!(texts[1].contains(url), "and by text: {}", texts[1]);
    }
    tokio::time::sleep(StdDuration::from_secs(2)).await;
    for (email, phone) in people {
        assert_eq!(emails_to(app, email).await.len(), 2, "once");
        assert_eq!(sent_to(app, phone).await.len(), 2, "once");
    }
}

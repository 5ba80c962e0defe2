//! The organizer pages (`/admin`) end to end: an organizer signs in like a host (the stack lists
//! their address in `ORGANIZER_EMAILS`), and what they do on the pages reaches the rest of the system
//! over real sockets: a keyword they add starts a conversation by text in `sms-inbound`, a gathering
//! they approve is found by people searching nearby, a training they add is in the catalog.

use reqwest::StatusCode;
use rising_core::domain::{
    AddressDraft, FirstName, GatheringCode, GatheringDraft, GatheringId, GatheringTitle, Language,
    TrainingId, Zip,
};
use rising_core::geo::SearchRadius;
use rising_core::privacy::ContactHash;
use rising_core::store::{
    DynamoGatheringStore, DynamoTrainingStore, GatheringStore, TemplateStore, TrainingStore,
};
use rising_tests::hosts::Host;
use rising_tests::mail::{emails_to, unique_email};
use rising_tests::{Stack, spawn_app, unique_phone};
use time::OffsetDateTime;

/// The organizer's session (cookie, CSRF token), signed in once for every test here: sign-in
/// links are rate-limited per address, and each sign-in reads "the next email to the organizer",
/// which two concurrent sign-ins would both take for theirs.
static SESSION: tokio::sync::Mutex<Option<(String, String)>> = tokio::sync::Mutex::const_new(None);

/// The stack's organizer, signed in.
async fn organizer(app: &Stack) -> Host {
    let mut session = SESSION.lock().await;
    if session.is_none() {
        let email =
            rising_tests::stack_var("ORGANIZER_EMAILS").expect("the stack lists an organizer");
        let email = email.split(',').next().expect("one").trim().to_owned();
        let earlier = emails_to(app, &email).await.len();
        let host = Host::sign_in(app, &email, earlier + 1).await;
        *session = Some((host.cookie, host.csrf));
    }
    let (cookie, csrf) = session.as_ref().expect("signed in");
    Host::with_session(&app.gateway_url, cookie, csrf)
}

async fn reply(app: &Stack, phone: &str, body: &str) -> String {
    let delivery = app.text(phone, body).await;
    assert_eq!(delivery.webhook_status, 200, "{delivery:?}");
    delivery.replies.join("\n")
}

/// A word of this test's own: `prefix` and 6 random digits.
fn unique_word(prefix: &str) -> String {
    let digits: String = unique_phone().chars().rev().take(6).collect();
    format!("{prefix}{digits}")
}

#[tokio::test]
async fn a_keyword_an_organizer_adds_starts_a_conversation_by_text_until_it_is_removed() {
    let app = spawn_app().await;
    let organizer = organizer(&app).await;
    let word = unique_word("VAMOS");
    let (status, location, body) = organizer
        .post(
            "/admin/keywords",
            &[
                ("csrf", organizer.csrf.as_str()),
                ("word", &word.to_lowercase()),
                ("language", "es"),
                ("target", "campaign"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(location, "/admin/keywords?added=1");
    let (_, page) = organizer.get("/admin/keywords").await;
    assert!(
        page.contains(&format!("<th scope=\"row\">{word}</th>")),
        "{page}"
    );

    // Texting it starts the campaign's conversation, in the keyword's language.
    let answer = reply(&app, &unique_phone(), &word.to_lowercase()).await;
    assert!(answer.starts_with("¡Bienvenido a rising!"), "{answer}");

    // A word people cannot opt out with, and one taken already, are refused; nothing is stored.
    for refused in ["STOP", word.as_str()] {
        let (status, _, body) = organizer
            .post(
                "/admin/keywords",
                &[
                    ("csrf", organizer.csrf.as_str()),
                    ("word", refused),
                    ("target", "campaign"),
                ],
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{refused}: {body}"
        );
    }

    let path = format!("/admin/keywords/{word}/remove");
    let (status, location, _) = organizer
        .post(&path, &[("csrf", organizer.csrf.as_str())])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/admin/keywords?removed=1");
    let answer = reply(&app, &unique_phone(), &word).await;
    assert!(!answer.starts_with("¡Bienvenido a rising!"), "{answer}");

    // A host who is not an organizer cannot add one.
    let host = Host::sign_in(&app, &unique_email("keyword-host"), 1).await;
    let (status, _, _) = host
        .post(
            "/admin/keywords",
            &[
                ("csrf", host.csrf.as_str()),
                ("word", "HOSTWORD"),
                ("target", "campaign"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_gathering_an_organizer_approves_is_found_by_people_nearby_and_only_then() {
    let app = spawn_app().await;
    let store = DynamoGatheringStore::new(app.dynamodb.clone(), app.table_name.clone());
    // Made by a host while approval is required: stored unlisted, waiting.
    let id = GatheringId::random();
    let starts_at = OffsetDateTime::now_utc() + time::Duration::days(6);
    let title = format!("Waiting in Cody {}", &id.as_str()[..6]);
    let zip = Zip::parse("82414").expect("zip");
    let gathering = GatheringDraft {
        code: GatheringCode::parse(&format!("W{}", &id.as_str()[..8].to_uppercase()))
            .expect("code"),
        title: GatheringTitle::parse(&title).expect("title"),
        starts_at,
        ends_at: starts_at + time::Duration::hours(2),
        zip: zip.clone(),
        timezone: None,
        town: None,
        location: None,
        address: AddressDraft::Public("Park Pavilion".into()),
        host_first_name: FirstName::parse("Dana").expect("name"),
        capacity: None,
        language: Language::En,
        listed: false,
        host: Some(
            ContactHash::parse(&app.email_hash(&unique_email("approval-host"))).expect("hash"),
        ),
        description: "Bring a chair.".into(),
        accessibility: String::new(),
    }
    .seal(id.clone(), &app.sealer())
    .await
    .expect("sealed");
    store
        .put(&gathering, OffsetDateTime::now_utc())
        .await
        .expect("put");
    let origin = gathering.location;
    let found = |store: DynamoGatheringStore| {
        let id = id.clone();
        async move {
            store
                .upcoming_near(
                    origin,
                    SearchRadius::km(10.0).expect("radius"),
                    OffsetDateTime::now_utc(),
                    50,
                )
                .await
                .expect("search")
                .iter()
                .any(|n| n.gathering.id == id)
        }
    };
    assert!(!found(store.clone()).await, "not listed while it waits");

    let organizer = organizer(&app).await;
    let (status, queue) = organizer.get("/admin/gatherings").await;
    assert_eq!(status, StatusCode::OK);
    assert!(queue.contains(&title), "{queue}");
    let path = format!("/admin/gatherings/{}/review", id.as_str());
    let approve = [("csrf", organizer.csrf.as_str()), ("decision", "approve")];
    let (status, location, _) = organizer.post(&path, &approve).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/admin/gatherings?approved=1");
    assert!(found(store.clone()).await, "listed once approved");
    let (_, queue) = organizer.get("/admin/gatherings").await;
    assert!(!queue.contains(&title), "it left the queue: {queue}");

    // Deciding again changes nothing.
    let decline = [("csrf", organizer.csrf.as_str()), ("decision", "decline")];
    let (status, _, _) = organizer.post(&path, &decline).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(found(store).await);
}

#[tokio::test]
async fn a_training_an_organizer_adds_and_edits_is_in_the_catalog() {
    let app = spawn_app().await;
    let organizer = organizer(&app).await;
    let date = (OffsetDateTime::now_utc() + time::Duration::days(20)).date();
    let date = format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    );
    let title = format!("Added on the page {}", unique_word("T"));
    let form = |title: &str, duration: &str| {
        vec![
            ("csrf", organizer.csrf.clone()),
            ("title", title.to_owned()),
            ("date", date.clone()),
            ("starts", "19:00".to_owned()),
            ("duration", duration.to_owned()),
            ("time_zone", "America/Denver".to_owned()),
            ("join_url", "https://meet.rising.example/added".to_owned()),
        ]
    };
    let pairs = form(&title, "60");
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, location, body) = organizer.post("/admin/trainings", &borrowed).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let id = location
        .strip_prefix("/admin?created=")
        .and_then(|id| TrainingId::parse(id).ok())
        .expect("the new training's id");
    let trainings = DynamoTrainingStore::new(app.dynamodb.clone(), app.table_name.clone());
    let stored = trainings
        .get_training(&id)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(stored.title.as_str(), title);
    assert_eq!(stored.duration(), time::Duration::minutes(60));

    let edited = format!("{title} (moved)");
    let pairs = form(&edited, "75");
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let path = format!("/admin/trainings/{}", id.as_str());
    let (status, location, _) = organizer.post(&path, &borrowed).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, format!("/admin?saved={}", id.as_str()));
    let stored = trainings
        .get_training(&id)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(stored.title.as_str(), edited);
    assert_eq!(stored.duration(), time::Duration::minutes(75));
    let (_, home) = organizer.get("/admin").await;
    assert!(home.contains(&edited), "{home}");
}

#[tokio::test]
async fn the_campaign_overview_reads_the_counters_from_the_table() {
    let app = spawn_app().await;
    let organizer = organizer(&app).await;
    let (status, page) = organizer.get("/admin/overview").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let opted_out_by_text = |page: &str| -> u64 {
        page.split("<th scope=\"row\">Opted out</th><td>")
            .nth(1)
            .and_then(|rest| rest.split("</td>").next())
            .map(|n| n.replace(',', ""))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("the opted-out figure in {page}"))
    };
    let before = opted_out_by_text(&page);
    // Someone texts STOP: the events publisher counts it from the table's stream, within seconds.
    reply(&app, &unique_phone(), "STOP").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(45);
    loop {
        let (_, page) = organizer.get("/admin/overview").await;
        if opted_out_by_text(&page) > before {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the overview never counted the opt-out: {page}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn an_invitation_text_an_organizer_rewords_is_what_a_host_previews_until_it_is_restored() {
    let app = spawn_app().await;
    let organizer = organizer(&app).await;
    let store = DynamoGatheringStore::new(app.dynamodb.clone(), app.table_name.clone());
    // Spanish, so the English invitations other test files check are never reworded.
    let wording =
        "{host} te espera en {title}, {when}. ¿Vienes? {link} -{program}. STOP para salir";
    let path = "/admin/templates/invite_sms/es";
    let (status, location, body) = organizer
        .post(
            path,
            &[
                ("csrf", organizer.csrf.as_str()),
                ("action", "save"),
                ("text", wording),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(location, "/admin/templates?saved=1");
    let stored = store.templates().await.expect("templates");
    assert!(stored.iter().any(|t| t.text == wording), "{stored:?}");

    // A host's Spanish gathering: the preview shows the organizer's wording.
    let host = Host::sign_in(&app, &unique_email("template-host"), 1).await;
    let date = (OffsetDateTime::now_utc() + time::Duration::days(10)).date();
    let date = format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    );
    let (status, location, body) = host
        .post(
            "/host/gatherings",
            &[
                ("csrf", host.csrf.as_str()),
                ("first_name", "Lucia"),
                ("title", "Charla en el porche"),
                ("date", &date),
                ("starts", "18:30"),
                ("ends", "20:00"),
                // Far from the seeded gatherings, whose searches other files check.
                ("zip", "82414"),
                ("address", "12 Elm St"),
                ("language", "es"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let id = location
        .trim_start_matches("/host/gatherings/")
        .split('?')
        .next()
        .expect("an id")
        .to_owned();
    let invite = format!("/host/gatherings/{id}/invite");
    let page = preview(&host, &invite).await;
    assert!(
        page.contains("Lucia te espera en Charla en el porche"),
        "{page}"
    );

    let (status, location, _) = organizer
        .post(
            path,
            &[("csrf", organizer.csrf.as_str()), ("action", "reset")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/admin/templates?reset=1");
    assert!(
        store
            .templates()
            .await
            .expect("templates")
            .iter()
            .all(|t| t.text != wording)
    );
    let page = preview(&host, &invite).await;
    assert!(
        page.contains("Lucia te invita a Charla en el porche"),
        "{page}"
    );
}

/// The invitation preview of a gathering's invite page, for one pasted contact.
async fn preview(host: &Host, invite: &str) -> String {
    host.post(
        invite,
        &[
            ("csrf", host.csrf.as_str()),
            ("action", "preview"),
            ("contacts", "Ana, 202-555-0143"),
        ],
    )
    .await
    .2
}

/// The value of a form field on a page (`name="quota" value="200"`), and which radio is checked.
fn field_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("the field") + marker.len();
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Sending hours, as the page's menus send them, in which a text to `phone` at `zip` may not arrive
/// now or in the next 15 minutes (though the law's hours may allow it).
fn hours_closed_now(phone: &str, zip: &str) -> (u8, u8) {
    use rising_core::outbound::SendingHours;
    use rising_core::outbound::quiet_hours::{QuietHoursPolicy, SendWindow};
    let phone = rising_core::domain::PhoneNumber::parse(phone).expect("a phone");
    let zip = Zip::parse(zip).expect("a ZIP");
    let now = OffsetDateTime::now_utc();
    (8..=19)
        .flat_map(|start| (start + 1..=21).map(move |end| (start, end)))
        .find(|&(start, end)| {
            let hours = SendingHours::new(start, end).expect("in the law's hours");
            let clock = QuietHoursPolicy::of(hours).clock(&phone, Some(&zip));
            [now, now + time::Duration::minutes(15)]
                .iter()
                .all(|t| matches!(clock.window_at(*t), Ok(SendWindow::Closed { .. })))
        })
        .expect("some hours are closed now")
}

/// Registers through the form's JSON API with a phone number; the status.
async fn register_with_phone(app: &Stack, phone: &str) -> StatusCode {
    let body = serde_json::json!({
        "submission_id": rising_core::ids::random_id(),
        "first_name": "Marisol",
        "email": unique_email("marisol"),
        "phone": phone,
        "sms_consent": true,
        "zip": "00901",
        "language": "es",
        "commitment": true,
    });
    app.http
        .post(format!("{}/register", app.gateway_url))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("gateway reachable")
        .status()
}

/// A Puerto Rico mobile number of this test's own.
fn puerto_rico_phone() -> String {
    let digits: String = unique_phone().chars().rev().take(6).collect();
    format!("+17872{digits}")
}

#[tokio::test]
async fn the_countries_hours_and_wording_organizers_save_reach_the_form_and_the_send_worker_until_reset()
 {
    let app = spawn_app().await;
    let organizer = organizer(&app).await;
    // As deployed (AllowedPhoneCountries=US), a Puerto Rico number is refused.
    let refused_before = register_with_phone(&app, &puerto_rico_phone()).await;

    let (status, page) = organizer.get("/admin/settings").await;
    assert_eq!(status, StatusCode::OK);
    // The rules this test does not change stay as deployed (other tests here create gatherings).
    let approval = if page.contains("value=\"required\" checked") {
        "required"
    } else {
        "auto"
    };
    let quota = field_value(&page, "quota");
    let window = field_value(&page, "window");
    let phone = unique_phone();
    let sending_now = !rising_tests::sending::no_zone_is_open(
        "the_countries_hours_and_wording_organizers_save_reach_the_form_and_the_send_worker_until_reset (hours part)",
    );
    let zip = if sending_now {
        rising_tests::sending::zip_where_sending_is(&phone, true)
    } else {
        "20001".to_owned()
    };
    let (from, until) = if sending_now {
        hours_closed_now(&phone, &zip)
    } else {
        (8, 21)
    };
    let (from, until) = (from.to_string(), until.to_string());
    let (saved, location, _) = organizer
        .post(
            "/admin/settings",
            &[
                ("csrf", organizer.csrf.as_str()),
                ("action", "save"),
                ("approval", approval),
                ("quota", &quota),
                ("window", &window),
                ("countries", "us, pr"),
                ("send_from", &from),
                ("send_until", &until),
            ],
        )
        .await;

    // And the Spanish confirmation of a sign-up, in the organizers' words.
    let wording = "{program}: te damos la bienvenida. Grabaciones: {recordings_url} Responde PARAR para cancelar";
    let template = "/admin/templates/confirm_joined_sms/es";
    let (reworded, template_location, _) = organizer
        .post(
            template,
            &[
                ("csrf", organizer.csrf.as_str()),
                ("action", "save"),
                ("text", wording),
            ],
        )
        .await;

    // Whatever fails below, the deployed rules and the standard wording come back before the test
    // ends: later tests (and the other binaries) expect them.
    let checks = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(async {
        assert_eq!(
            (saved, location.as_str()),
            (StatusCode::SEE_OTHER, "/admin/settings?saved=1")
        );
        assert_eq!(
            (reworded, template_location.as_str()),
            (StatusCode::SEE_OTHER, "/admin/templates?saved=1")
        );
        let (_, page) = organizer.get("/admin/settings").await;
        assert!(
            page.contains("US, PR"),
            "the page shows the countries in force"
        );
        assert!(
            page.contains(&format!("<option value=\"{from}\" selected>")),
            "the page shows the hours saved"
        );
        // The form reads them: a Puerto Rico number is taken, and its confirmation is worded so.
        let marisol = puerto_rico_phone();
        assert_eq!(register_with_phone(&app, &marisol).await, StatusCode::OK);
        let texts = rising_tests::sending::wait_for_texts(&app, &marisol, 1).await;
        assert!(
            texts
                .first()
                .is_some_and(|t| t.contains(": te damos la bienvenida. Grabaciones: https://")),
            "{texts:?}"
        );
        if sending_now {
            // The send worker reads them with its batch: an invitation the law would let through now
            // waits for the organizers' hours.
            let producer = rising_tests::sending::Producer::new(&app);
            let queued = producer
                .invite_at(&phone, &zip, "Late for our hours.")
                .await;
            assert!(
                producer.deferred(&queued).await,
                "the worker deferred it to the organizers' hours"
            );
            assert_eq!(producer.status(&queued).await.as_deref(), Some("pending"));
            assert!(
                rising_tests::sending::sent_to(&app, &phone)
                    .await
                    .is_empty()
            );
        }
    }))
    .await;

    let (reset, location, _) = organizer
        .post(
            "/admin/settings",
            &[("csrf", organizer.csrf.as_str()), ("action", "reset")],
        )
        .await;
    let (restored, _, _) = organizer
        .post(
            template,
            &[("csrf", organizer.csrf.as_str()), ("action", "reset")],
        )
        .await;
    if let Err(panic) = checks {
        std::panic::resume_unwind(panic);
    }
    assert_eq!(
        (reset, location.as_str()),
        (StatusCode::SEE_OTHER, "/admin/settings?reset=1")
    );
    assert_eq!(restored, StatusCode::SEE_OTHER);
    assert_eq!(refused_before, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        register_with_phone(&app, &puerto_rico_phone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "after the reset, the deployed countries apply again"
    );
}

//! The web form, end to end over HTTP: `POST /register` on the local gateway, the RSVP and the person
//! in DynamoDB (moto), the confirmation through the send queue and `send-worker` into SES (moto), and
//! the one-click unsubscribe in it. Bad inputs each get their status and leave nothing behind.

use std::time::Duration;

use mail_parser::MessageParser;
use reqwest::StatusCode;
use rising_core::domain::Language;
use rising_core::outbound::{
    Channel, ConsentBasis, Kind, NewMessage, OutboundId, OutboxStore, body_context,
};
use rising_core::privacy::{ContactHash, field_context};
use rising_tests::mail::{emails_to, unique_email, wait_for_emails};
use rising_tests::sending::Producer;
use rising_tests::{Stack, gatherings, item_text, s, spawn_app, unique_phone};
use serde_json::{Value, json};
use time::OffsetDateTime;

/// The stack's `REGISTER_WINDOW_SECONDS` (template.yaml; `infra/test.sh` keeps it).
const REGISTER_WINDOW_SECONDS: i64 = 600;

/// An origin the local stack lets embed the form (`EmbedOrigins=http://127.0.0.1:*`).
const ALLOWED: &str = "http://127.0.0.1:9";

async fn post_json(app: &Stack, origin: Option<&str>, body: &Value) -> (StatusCode, Value) {
    let mut request = app
        .http
        .post(format!("{}/register", app.gateway_url))
        .header("content-type", "application/json");
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    let response = request
        .body(body.to_string())
        .send()
        .await
        .expect("gateway reachable");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn form(email: &str, gathering: Option<&str>) -> Value {
    json!({
        "submission_id": rising_core::ids::random_id(),
        "first_name": "Noor",
        "last_name": "Haddad",
        "email": email,
        "zip": "20001",
        "language": "en",
        "commitment": true,
        "sms_consent": false,
        "gathering": gathering,
    })
}

async fn rsvps(app: &Stack, gathering: &str) -> Vec<rising_tests::Item> {
    app.query_pk(&format!("GATHERING#{gathering}"))
        .await
        .into_iter()
        .filter(|i| s(i, "sk").is_some_and(|sk| sk.starts_with("RSVP#")))
        .collect()
}

fn header_value(mime: &str, name: &str) -> Option<String> {
    let parsed = MessageParser::default().parse(mime.as_bytes())?;
    parsed
        .headers()
        .iter()
        .find(|h| h.name().eq_ignore_ascii_case(name))
        .map(|h| match h.value() {
            mail_parser::HeaderValue::Text(t) => t.to_string(),
            mail_parser::HeaderValue::TextList(l) => l.join(","),
            mail_parser::HeaderValue::Address(a) => a
                .first()
                .and_then(|a| a.address())
                .unwrap_or_default()
                .to_owned(),
            other => format!("{other:?}"),
        })
}

#[tokio::test]
async fn a_double_submit_is_one_rsvp_and_one_confirmation_with_unsubscribe_ics_and_recordings() {
    let app = spawn_app().await;
    let gathering = gatherings::listed(&app, "Cedar Park neighbors", "20001", 4, None).await;
    let email = unique_email("form.double");
    let body = form(&email, Some(gathering.id.as_str()));

    let (first, answer) = post_json(&app, Some(ALLOWED), &body).await;
    assert_eq!(first, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "going");
    let share = answer["share_url"]
        .as_str()
        .expect("a share link")
        .to_owned();
    assert!(
        share.contains(&format!("/g/{}?ref=", gathering.id.as_str())),
        "{share}"
    );
    // The same submission again (a retry), and a second click that made a new submission id.
    let (again, replay) = post_json(&app, Some(ALLOWED), &body).await;
    assert_eq!((again, &replay), (StatusCode::OK, &answer));
    let (second, other) = post_json(
        &app,
        Some(ALLOWED),
        &form(&email, Some(gathering.id.as_str())),
    )
    .await;
    assert_eq!(second, StatusCode::OK, "{other}");
    assert_eq!(other["status"], "going");

    let stored = rsvps(&app, gathering.id.as_str()).await;
    assert_eq!(stored.len(), 1, "one RSVP: {stored:?}");
    assert_eq!(s(&stored[0], "source"), Some("form"));

    let raw = wait_for_emails(&app, &email, 1).await;
    assert_eq!(raw.len(), 1, "one confirmation reached SES");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(emails_to(&app, &email).await.len(), 1, "and no second one");
    let mime = &raw[0];
    assert!(mime.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    assert!(mime.contains("text/calendar"), "the .ics is attached");
    let parsed = MessageParser::default()
        .parse(mime.as_bytes())
        .expect("MIME");
    let text = parsed.body_text(0).expect("a text part");
    for needle in [
        "Cedar Park neighbors",
        "https://rising.invalid/safety",
        "https://rising.invalid/r",
        &share,
    ] {
        assert!(text.contains(needle), "missing {needle} in {text}");
    }

    // One click on the unsubscribe link (RFC 8058) suppresses later marketing email to the address.
    let list = header_value(mime, "List-Unsubscribe").expect("List-Unsubscribe");
    let token = list
        .split("t=")
        .nth(1)
        .map(|t| t.trim_end_matches(['>', ' ']).to_owned())
        .expect("a token");
    let click = app
        .http
        .post(format!("{}/unsubscribe?t={token}", app.gateway_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .expect("gateway reachable");
    assert_eq!(click.status(), StatusCode::OK);

    let contact = ContactHash::parse(&app.email_hash(&email)).expect("a hash");
    let id = OutboundId::random();
    let sealer = app.sealer();
    let later = NewMessage {
        to: sealer
            .seal(
                &field_context(&contact, Channel::Email.address_field()),
                &email.to_lowercase(),
            )
            .await
            .expect("sealed"),
        body: sealer
            .seal(
                &body_context(&id),
                "Subject: The next training\r\n\r\nRecording inside.\r\n",
            )
            .await
            .expect("sealed"),
        id,
        channel: Channel::Email,
        kind: Kind::Recording,
        consent: ConsentBasis::OptedIn,
        contact,
        language: Language::En,
        zip: Some("20001".into()),
        batch: None,
    };
    app.outbox()
        .enqueue(&[later.clone()], OffsetDateTime::now_utc())
        .await
        .expect("stored");
    let producer = Producer::new(&app);
    producer.enqueue(&later.queued()).await;
    assert_eq!(producer.outcome(&later.queued()).await, "skipped");
    assert_eq!(
        emails_to(&app, &email).await.len(),
        1,
        "nothing after the unsubscribe"
    );
}

#[tokio::test]
async fn ticking_the_text_box_sends_a_confirmation_text_and_stores_the_person_sealed() {
    let app = spawn_app().await;
    let phone = unique_phone();
    let email = unique_email("form.sms");
    let mut body = form(&email, None);
    body["phone"] = json!(phone);
    body["sms_consent"] = json!(true);
    body["host"] = json!(true);
    let (status, answer) = post_json(&app, Some(ALLOWED), &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "joined");

    let mut texts = Vec::new();
    for _ in 0..300 {
        texts = rising_tests::sending::sent_to(&app, &phone).await;
        if !texts.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(texts.len(), 1, "one confirmation text");
    assert!(texts[0].contains("STOP"), "{}", texts[0]);
    assert_eq!(wait_for_emails(&app, &email, 1).await.len(), 1);

    let items = app.contact_items(&phone).await;
    let contact = items
        .iter()
        .find(|i| s(i, "sk") == Some("CONTACT"))
        .expect("the person's contact");
    assert_eq!(s(contact, "sms_status"), Some("opted_in"));
    assert!(s(contact, "phone_sealed").is_some() && s(contact, "first_name_sealed").is_some());
    let consent = items
        .iter()
        .find(|i| {
            s(i, "sk").is_some_and(|sk| sk.contains("#form-")) && s(i, "channel") == Some("sms")
        })
        .expect("the SMS consent evidence");
    assert!(s(consent, "wording").is_some_and(|w| w.contains("Msg & data rates may apply")));
    let digits = phone.trim_start_matches('+');
    for item in &items {
        let text = item_text(item);
        assert!(
            !text.contains(digits)
                && !text.contains("Noor")
                && !text.to_lowercase().contains(&email.to_lowercase()),
            "{text}"
        );
    }
}

#[tokio::test]
async fn bad_inputs_each_get_their_status_and_leave_nothing_behind() {
    let app = spawn_app().await;
    let email = unique_email("form.bad");
    let hash = app.email_hash(&email);
    let mut cases: Vec<(&str, Option<&str>, Value, StatusCode)> = Vec::new();
    let mut crlf = form(&email, None);
    crlf["first_name"] = json!("Noor\r\nBcc: everyone@example.org");
    cases.push((
        "CR/LF in a name",
        Some(ALLOWED),
        crlf,
        StatusCode::UNPROCESSABLE_ENTITY,
    ));
    let mut phone = form(&email, None);
    phone["phone"] = json!("555-01");
    phone["sms_consent"] = json!(true);
    cases.push((
        "invalid phone",
        Some(ALLOWED),
        phone,
        StatusCode::UNPROCESSABLE_ENTITY,
    ));
    let mut commitment = form(&email, None);
    commitment["commitment"] = json!(false);
    cases.push((
        "missing commitment",
        Some(ALLOWED),
        commitment,
        StatusCode::UNPROCESSABLE_ENTITY,
    ));
    let mut consent = form(&email, None);
    consent["email"] = Value::Null;
    consent["phone"] = json!(unique_phone());
    cases.push((
        "phone without consent",
        Some(ALLOWED),
        consent,
        StatusCode::UNPROCESSABLE_ENTITY,
    ));
    cases.push((
        "disallowed origin",
        Some("https://evil.example"),
        form(&email, None),
        StatusCode::FORBIDDEN,
    ));
    let mut honeypot = form(&email, None);
    honeypot["website"] = json!("https://spam.example");
    cases.push(("honeypot", Some(ALLOWED), honeypot, StatusCode::OK));
    let mut oversized = form(&email, None);
    oversized["last_name"] = json!("x".repeat(9 * 1024));
    cases.push((
        "oversized",
        Some(ALLOWED),
        oversized,
        StatusCode::PAYLOAD_TOO_LARGE,
    ));
    let mut unknown = form(&email, Some(&rising_core::ids::random_id()));
    unknown["zip"] = json!("20001");
    cases.push((
        "unknown gathering",
        Some(ALLOWED),
        unknown,
        StatusCode::NOT_FOUND,
    ));

    for (name, origin, body, expected) in &cases {
        let (status, answer) = post_json(&app, *origin, body).await;
        assert_eq!(status, *expected, "{name}: {answer}");
        if status.is_client_error() {
            assert!(
                answer["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{name}: {answer}"
            );
        }
    }
    assert!(
        app.query_pk(&format!("CONTACT#{hash}")).await.is_empty(),
        "nothing stored"
    );
    assert!(emails_to(&app, &email).await.is_empty(), "nothing sent");

    // 20 rapid submissions for one person: the first five are taken (one person, one sign-up), the
    // rest get 429; still one contact and one confirmation. The limit counts in fixed windows
    // (`REGISTER_WINDOW_SECONDS`, 600 in template.yaml, from the epoch): a burst that straddled a
    // window's end would be counted twice, so it starts in a window with 30 s or more left.
    rising_tests::in_one_rate_limit_window(REGISTER_WINDOW_SECONDS, 30).await;
    let rapid = unique_email("form.rapid");
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(post_json(&app, Some(ALLOWED), &form(&rapid, None)).await.0);
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((ok, limited), (5, 15), "{statuses:?}");
    assert_eq!(wait_for_emails(&app, &rapid, 1).await.len(), 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(emails_to(&app, &rapid).await.len(), 1, "one confirmation");
}

#[tokio::test]
async fn the_share_page_works_without_javascript_from_form_to_thank_you() {
    let app = spawn_app().await;
    let gathering = gatherings::listed(&app, "Oak Hill supper", "20001", 5, Some(20)).await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let page = no_redirects
        .get(format!("{}/g/{}", app.gateway_url, gathering.id.as_str()))
        .send()
        .await
        .expect("gateway reachable");
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("Oak Hill supper"));
    let submission = html
        .split("name=\"submission_id\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a submission id in the page")
        .to_owned();
    let email = unique_email("form.nojs");
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("submission_id", &submission)
        .append_pair("gathering", gathering.id.as_str())
        .append_pair("first_name", "Noor")
        .append_pair("email", &email)
        .append_pair("zip", "20001")
        .append_pair("language", "es")
        .append_pair("commitment", "on")
        .append_pair("website", "")
        .finish();
    let origin = app.gateway_url.trim_end_matches('/').to_owned();
    let posted = no_redirects
        .post(format!("{}/register", app.gateway_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", &origin)
        .body(body)
        .send()
        .await
        .expect("gateway reachable");
    assert_eq!(
        posted.status(),
        StatusCode::SEE_OTHER,
        "{}",
        posted.text().await.unwrap_or_default()
    );
    let location = posted.headers()["location"].to_str().unwrap().to_owned();
    let thanks = no_redirects
        .get(format!("{}/{location}", app.gateway_url))
        .send()
        .await
        .expect("gateway reachable");
    assert_eq!(thanks.status(), StatusCode::OK);
    let html = thanks.text().await.unwrap();
    assert!(
        html.contains("lang=\"es\"") && html.contains("Oak Hill supper"),
        "{html}"
    );
    assert!(html.contains(&format!("/g/{}?ref=", gathering.id.as_str())));
    assert_eq!(rsvps(&app, gathering.id.as_str()).await.len(), 1);
}

#[tokio::test]
async fn a_training_registration_lists_every_published_recording() {
    use rising_core::domain::{TrainingDraft, TrainingId, TrainingTitle, TrainingUrl};
    use rising_core::store::{DynamoTrainingStore, TrainingStore};
    let app = spawn_app().await;
    let id = format!("t-{}", &rising_core::ids::random_id()[..12]);
    let training = TrainingDraft {
        title: TrainingTitle::parse("Phone banking basics").expect("a title"),
        title_es: None,
        starts_at: OffsetDateTime::now_utc() + time::Duration::days(6),
        duration: time::Duration::hours(1),
        time_zone: "America/Chicago".into(),
        join_url: Some(
            TrainingUrl::parse("https://meet.rising.invalid/phone-banking").expect("a URL"),
        ),
        recording_url: None,
        recording_published_at: None,
    }
    .build(TrainingId::parse(&id).expect("an id"))
    .expect("a training");
    DynamoTrainingStore::new(app.dynamodb.clone(), app.table_name.clone())
        .put_training(&training, OffsetDateTime::now_utc())
        .await
        .expect("stored");

    let page = app
        .http
        .get(format!("{}/t/{id}", app.gateway_url))
        .send()
        .await
        .expect("gateway reachable");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Phone banking basics"));

    let email = unique_email("form.training");
    let mut body = form(&email, None);
    body["training"] = json!(id);
    let (status, answer) = post_json(&app, Some(ALLOWED), &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "registered");
    let registrations = app.query_pk(&format!("TRAINING#{id}")).await;
    assert_eq!(
        registrations
            .iter()
            .filter(|i| s(i, "sk").is_some_and(|sk| sk.starts_with("REG#")))
            .count(),
        1
    );
    let raw = wait_for_emails(&app, &email, 1).await;
    assert_eq!(raw.len(), 1);
    let parsed = MessageParser::default()
        .parse(raw[0].as_bytes())
        .expect("MIME");
    let text = parsed.body_text(0).expect("a text part");
    // The seeded catalog publishes the overview and host training recordings (infra/local/seed).
    for needle in [
        "https://meet.rising.invalid/phone-banking",
        "https://rising.invalid/r/overview",
        "https://rising.invalid/r/host",
    ] {
        assert!(text.contains(needle), "missing {needle} in {text}");
    }
}

#[tokio::test]
async fn delete_my_data_in_the_confirmation_erases_the_person_by_both_contacts() {
    let app = spawn_app().await;
    let gathering = gatherings::listed(&app, "Birch Row breakfast", "20001", 3, None).await;
    let phone = unique_phone();
    let email = unique_email("form.forget");
    let mut body = form(&email, Some(gathering.id.as_str()));
    body["phone"] = json!(phone);
    body["sms_consent"] = json!(true);
    let (status, answer) = post_json(&app, Some(ALLOWED), &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let code = answer["share_url"]
        .as_str()
        .and_then(|u| u.rsplit("ref=").next())
        .expect("a referral code")
        .to_owned();
    assert_eq!(app.query_pk(&format!("REFERRAL#{code}")).await.len(), 1);

    let raw = wait_for_emails(&app, &email, 1).await;
    assert_eq!(raw.len(), 1);
    let text = MessageParser::default()
        .parse(raw[0].as_bytes())
        .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
        .expect("a text part");
    let token = text
        .split("/forget?t=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a delete-my-data link")
        .to_owned();
    let erased = app
        .http
        .post(format!("{}/forget?t={token}", app.gateway_url))
        .send()
        .await
        .expect("gateway reachable");
    assert_eq!(erased.status(), StatusCode::OK);

    assert!(
        rsvps(&app, gathering.id.as_str()).await.is_empty(),
        "the RSVP went"
    );
    assert!(
        app.query_pk(&format!("REFERRAL#{code}")).await.is_empty(),
        "the code went"
    );
    let digits = phone.trim_start_matches('+').to_owned();
    for hash in [app.phone_hash(&phone), app.email_hash(&email)] {
        let items = app.query_pk(&format!("CONTACT#{hash}")).await;
        let contact = items
            .iter()
            .find(|i| s(i, "sk") == Some("CONTACT"))
            .expect("the suppression stays");
        assert_eq!(
            contact.get("suppressed").and_then(|v| v.as_bool().ok()),
            Some(&true),
            "{contact:?}"
        );
        for item in &items {
            let text = item_text(item);
            assert!(!text.contains("_sealed"), "nothing sealed stays: {text}");
            assert!(!text.contains(&digits) && !text.contains("Noor"), "{text}");
        }
    }
}

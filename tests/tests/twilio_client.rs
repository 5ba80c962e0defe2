//! The project's Twilio client and signature validator against the local Twilio emulator, over real
//! sockets. The emulator has its own signer and segment counter, so agreement here means both sides
//! follow Twilio's published rules, not each other.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Form, State};
use axum::http::HeaderMap;
use rising_core::sms::client::{
    ClientConfig, OutboundMessage, RetryPolicy, Sender, TwilioAuth, TwilioClient, TwilioError,
};
use rising_core::sms::{segments, signature};
use rising_tests::{Stack, spawn_app, unique_phone};

fn client(app: &Stack, auth_token: &str) -> TwilioClient {
    let config = ClientConfig {
        base_url: app.emulator_url.clone(),
        retry: RetryPolicy::default(),
        ..ClientConfig::default()
    };
    TwilioClient::new(
        TwilioAuth::AuthToken {
            account_sid: app.account_sid.clone(),
            auth_token: auth_token.to_string(),
        },
        config,
    )
    .expect("client")
}

fn text_to(app: &Stack, to: &str, body: &str, callback: Option<String>) -> OutboundMessage {
    OutboundMessage {
        to: to.to_string(),
        sender: Sender::From(app.phone_number.clone()),
        body: body.to_string(),
        status_callback: callback,
    }
}

#[tokio::test]
async fn a_normalised_text_is_sent_as_one_gsm7_segment_and_the_phone_receives_it() {
    let app = spawn_app().await;
    let phone = unique_phone();
    let typed = "Tomorrow\u{2019}s gathering \u{2014} 7pm at Maple Hall\u{2026} bring a friend! \u{201C}We rise together.\u{201D}";
    let body = segments::normalise(typed);
    assert_eq!(segments::segments(typed).encoding, segments::Encoding::Ucs2);

    let message = client(&app, &app.auth_token)
        .send_message(&text_to(&app, &phone, &body, None))
        .await
        .unwrap();

    assert!(message.sid.starts_with("SM"));
    assert_eq!(message.num_segments, Some(1));
    let seen: Vec<serde_json::Value> = app.conversation(&phone).await;
    let last = seen.last().expect("the phone got a message");
    assert_eq!(last["body"], body.as_str());
    assert_eq!(last["direction"], "outbound-api");
}

#[tokio::test]
async fn a_phone_that_texted_stop_is_reported_as_unsubscribed_and_not_texted() {
    let app = spawn_app().await;
    let phone = unique_phone();
    app.text(&phone, "STOP").await;

    let result = client(&app, &app.auth_token)
        .send_message(&text_to(&app, &phone, "Hello", None))
        .await;

    assert!(
        matches!(result, Err(TwilioError::RecipientUnsubscribed)),
        "{result:?}"
    );
}

#[tokio::test]
async fn invalid_and_landline_numbers_are_typed_so_callers_can_mark_them_undeliverable() {
    let app = spawn_app().await;
    let twilio = client(&app, &app.auth_token);

    let invalid = twilio
        .send_message(&text_to(&app, "+15005550010", "Hi", None))
        .await;
    let landline = twilio
        .send_message(&text_to(&app, "+15005550009", "Hi", None))
        .await;

    assert!(
        matches!(invalid, Err(TwilioError::InvalidRecipient { code: 21211 })),
        "{invalid:?}"
    );
    assert!(
        matches!(landline, Err(TwilioError::InvalidRecipient { code: 21614 })),
        "{landline:?}"
    );
    assert!(!invalid.unwrap_err().is_retryable());
}

#[tokio::test]
async fn a_wrong_auth_token_is_an_authentication_error() {
    let app = spawn_app().await;

    let result = client(&app, "not-the-token")
        .send_message(&text_to(&app, &unique_phone(), "Hi", None))
        .await;

    assert!(
        matches!(result, Err(TwilioError::Authentication { .. })),
        "{result:?}"
    );
}

/// One status callback as received: its signature header and its form parameters.
type Callback = (String, Vec<(String, String)>);

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Callback>>>);

async fn receive(
    State(received): State<Received>,
    headers: HeaderMap,
    Form(params): Form<Vec<(String, String)>>,
) {
    let sig = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    received.0.lock().unwrap().push((sig, params));
}

/// A local endpoint that records Twilio's status callbacks.
async fn callback_receiver() -> (String, Received) {
    let received = Received::default();
    let router = axum::Router::new()
        .route("/sms/status", axum::routing::post(receive))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/sms/status?batch=7",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, received)
}

async fn statuses_until(received: &Received, last: &str) -> Vec<Callback> {
    for _ in 0..100 {
        let got = received.0.lock().unwrap().clone();
        if got
            .iter()
            .any(|(_, p)| p.iter().any(|(k, v)| k == "MessageStatus" && v == last))
        {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "no {last} callback arrived: {:?}",
        received.0.lock().unwrap()
    );
}

fn status_of(params: &[(String, String)]) -> &str {
    params
        .iter()
        .find(|(k, _)| k == "MessageStatus")
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

#[tokio::test]
async fn status_callbacks_arrive_in_order_and_pass_the_projects_signature_check() {
    let app = spawn_app().await;
    let (url, received) = callback_receiver().await;
    let phone = unique_phone();

    let sent = client(&app, &app.auth_token)
        .send_message(&text_to(&app, &phone, "Hi", Some(url.clone())))
        .await
        .unwrap();

    let callbacks = statuses_until(&received, "delivered").await;
    let order: Vec<_> = callbacks.iter().map(|(_, p)| status_of(p)).collect();
    assert_eq!(order, vec!["queued", "sent", "delivered"]);
    for (sig, params) in &callbacks {
        assert!(
            params
                .iter()
                .any(|(k, v)| k == "MessageSid" && v == &sent.sid)
        );
        assert!(
            signature::validate_form(&app.auth_token, &url, params, sig),
            "callback signature rejected"
        );
        assert!(!signature::validate_form("other-token", &url, params, sig));
    }
}

#[tokio::test]
async fn a_carrier_failure_ends_undelivered_with_its_error_code() {
    let app = spawn_app().await;
    let (url, received) = callback_receiver().await;
    let twilio = client(&app, &app.auth_token);

    let sent = twilio
        .send_message(&text_to(&app, "+15005550001", "Hi", Some(url)))
        .await
        .unwrap();

    let callbacks = statuses_until(&received, "undelivered").await;
    let (_, last) = callbacks.last().unwrap();
    assert!(
        last.iter().any(|(k, v)| k == "ErrorCode" && v == "30003"),
        "{last:?}"
    );
    let fetched = twilio.fetch_message(&sent.sid).await.unwrap();
    assert_eq!(fetched.error_code, Some(30003));
}

#[tokio::test]
async fn the_phone_simulator_shows_the_welcome_reply_to_join() {
    let app = spawn_app().await;
    let phone = unique_phone();

    app.text(&phone, "JOIN").await;

    let conversation: Vec<serde_json::Value> = app.conversation(&phone).await;
    let bodies: Vec<_> = conversation
        .iter()
        .map(|m| (m["direction"].as_str(), m["body"].as_str()))
        .collect();
    assert_eq!(bodies[0], (Some("inbound"), Some("JOIN")));
    assert!(
        bodies[1]
            .1
            .is_some_and(|b| b.starts_with("Welcome to rising!")),
        "{bodies:?}"
    );
    let page = app
        .http
        .get(&app.emulator_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<form"),
        "the simulator page has a form to text from"
    );
}

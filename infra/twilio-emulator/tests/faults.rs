//! Fault injection over HTTP: queued 5xx, 429 storms, slow answers and
//! connection resets on Create Message; request counts; runtime rate limit.

mod common;

use std::time::Duration;

use common::{Emulator, PROJECT_NUMBER, base_config, start};
use serde_json::{Value, json};

const PHONE: &str = "+12025550143";
const OTHER: &str = "+12025550144";

fn form(to: &str) -> [(&'static str, String); 3] {
    [
        ("To", to.to_string()),
        ("From", PROJECT_NUMBER.to_string()),
        ("Body", "hi".to_string()),
    ]
}

async fn send_to(emu: &Emulator, to: &str) -> reqwest::Response {
    let f = form(to);
    emu.send(&f.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>())
        .await
}

/// Sends with a client of its own (fresh connection, given timeout).
async fn send_raw(
    emu: &Emulator,
    to: &str,
    timeout: Duration,
) -> reqwest::Result<reqwest::Response> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .unwrap()
        .post(emu.messages_url())
        .basic_auth(&emu.cfg.account_sid, Some(&emu.cfg.auth_token))
        .form(&form(to))
        .send()
        .await
}

async fn control(
    emu: &Emulator,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = emu.http.request(method, format!("{}{path}", emu.base));
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

async fn faults(emu: &Emulator, to: &str, responses: Value) {
    let (status, v) = control(
        emu,
        reqwest::Method::POST,
        "/_emulator/faults",
        Some(json!({ "to": to, "responses": responses })),
    )
    .await;
    assert_eq!(status, 200, "{v}");
}

async fn requests(emu: &Emulator, phone: &str) -> u64 {
    let path = format!("/_emulator/requests?phone={}", phone.replace('+', "%2B"));
    let (status, v) = control(emu, reqwest::Method::GET, &path, None).await;
    assert_eq!(status, 200, "{v}");
    v["create_requests"].as_u64().unwrap()
}

fn assert_error(v: &Value, status: u16, code: u64) {
    assert_eq!(v["code"], code, "{v}");
    assert_eq!(v["status"], status, "{v}");
    assert_eq!(
        v["more_info"],
        format!("https://www.twilio.com/docs/errors/{code}")
    );
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(v.as_object().unwrap().len(), 4, "{v}");
}

#[tokio::test]
async fn server_errors_then_201_create_exactly_one_message() {
    let emu = start(base_config()).await;
    faults(
        &emu,
        PHONE,
        json!([{"status": 500}, {"status": 502}, {"status": 503}]),
    )
    .await;
    for (status, code) in [(500, 20500), (502, 20500), (503, 20503)] {
        let r = send_to(&emu, PHONE).await;
        assert_eq!(r.status(), status);
        assert_error(&r.json().await.unwrap(), status, code);
        assert!(
            emu.conversation(PHONE).await.is_empty(),
            "no message on {status}"
        );
    }
    let r = send_to(&emu, PHONE).await;
    assert_eq!(r.status(), 201);
    assert_eq!(emu.conversation(PHONE).await.len(), 1);
    assert_eq!(requests(&emu, PHONE).await, 4);
    assert_eq!(requests(&emu, OTHER).await, 0);
    // The queue is used up: the emulator is back to normal.
    assert_eq!(send_to(&emu, PHONE).await.status(), 201);
    assert_eq!(requests(&emu, PHONE).await, 5);
}

#[tokio::test]
async fn too_many_requests_storm_has_retry_after() {
    let emu = start(base_config()).await;
    faults(
        &emu,
        PHONE,
        json!([{"status": 429, "retry_after": 2}, {"status": 429}, {"status": 429, "retry_after": 7}]),
    )
    .await;
    for retry in ["2", "1", "7"] {
        let r = send_to(&emu, PHONE).await;
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], retry);
        assert_error(&r.json().await.unwrap(), 429, 20429);
    }
    assert!(emu.conversation(PHONE).await.is_empty());
    assert_eq!(send_to(&emu, PHONE).await.status(), 201);
    assert_eq!(emu.conversation(PHONE).await.len(), 1);
    assert_eq!(requests(&emu, PHONE).await, 4);
}

#[tokio::test]
async fn delay_times_the_client_out_and_is_still_handled() {
    let emu = start(base_config()).await;
    faults(&emu, PHONE, json!([{"delay_ms": 700}])).await;
    let err = send_raw(&emu, PHONE, Duration::from_millis(200))
        .await
        .expect_err("client times out");
    assert!(err.is_timeout(), "{err}");
    assert!(emu.conversation(PHONE).await.is_empty(), "not yet handled");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        emu.conversation(PHONE).await.len(),
        1,
        "handled after the delay"
    );

    // A patient client gets the 201 after the delay.
    faults(&emu, PHONE, json!([{"delay_ms": 300}])).await;
    let t0 = std::time::Instant::now();
    assert_eq!(send_to(&emu, PHONE).await.status(), 201);
    assert!(t0.elapsed() >= Duration::from_millis(300));

    // A slow error: the client times out and nothing is created.
    faults(&emu, OTHER, json!([{"status": 503, "delay_ms": 500}])).await;
    let err = send_raw(&emu, OTHER, Duration::from_millis(150))
        .await
        .expect_err("client times out");
    assert!(err.is_timeout(), "{err}");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(emu.conversation(OTHER).await.is_empty());
    assert_eq!(requests(&emu, PHONE).await, 2);
    assert_eq!(requests(&emu, OTHER).await, 1);
}

#[tokio::test]
async fn reset_closes_the_connection_after_creating_the_message() {
    let emu = start(base_config()).await;
    // Warm the shared client's pooled connection, then reset it.
    assert_eq!(send_to(&emu, OTHER).await.status(), 201);
    faults(&emu, PHONE, json!([{"status": "reset"}])).await;
    let f = form(PHONE);
    let err = emu
        .http
        .post(emu.messages_url())
        .basic_auth(&emu.cfg.account_sid, Some(&emu.cfg.auth_token))
        .form(&f)
        .send()
        .await
        .expect_err("no answer");
    assert!(!err.is_timeout() && !err.is_status(), "{err}");
    let created = emu.conversation(PHONE).await;
    assert_eq!(created.len(), 1, "the message went out");
    assert_eq!(created[0]["to"], PHONE);
    // The same client works again on a new connection.
    assert_eq!(send_to(&emu, PHONE).await.status(), 201);
    assert_eq!(emu.conversation(PHONE).await.len(), 2);
    assert_eq!(requests(&emu, PHONE).await, 2);

    // With a delay: created at once, the client times out before the reset.
    faults(&emu, OTHER, json!([{"status": "reset", "delay_ms": 1000}])).await;
    let err = send_raw(&emu, OTHER, Duration::from_millis(300))
        .await
        .expect_err("client times out");
    assert!(err.is_timeout(), "{err}");
    assert_eq!(emu.conversation(OTHER).await.len(), 2);
}

#[tokio::test]
async fn recipient_faults_come_before_wildcard_faults() {
    let emu = start(base_config()).await;
    faults(&emu, "*", json!([{"status": 503}])).await;
    faults(&emu, PHONE, json!([{"status": 500}])).await;
    assert_eq!(send_to(&emu, PHONE).await.status(), 500);
    assert_eq!(send_to(&emu, PHONE).await.status(), 503);
    assert_eq!(send_to(&emu, PHONE).await.status(), 201);
    faults(&emu, "*", json!([{"status": 502}])).await;
    assert_eq!(send_to(&emu, OTHER).await.status(), 502);
    assert_eq!(send_to(&emu, OTHER).await.status(), 201);
    let (_, all) = control(&emu, reqwest::Method::GET, "/_emulator/requests", None).await;
    assert_eq!(all["create_requests"], 5);
}

#[tokio::test]
async fn delete_and_reset_clear_faults() {
    let emu = start(base_config()).await;
    faults(&emu, PHONE, json!([{"status": 500}, {"status": 500}])).await;
    faults(&emu, "*", json!([{"delay_ms": 10}])).await;
    let (_, listed) = control(&emu, reqwest::Method::GET, "/_emulator/faults", None).await;
    assert_eq!(
        listed["queued"][PHONE],
        json!([{"status": 500}, {"status": 500}])
    );
    assert_eq!(listed["queued"]["*"], json!([{"delay_ms": 10}]));
    let (status, v) = control(&emu, reqwest::Method::DELETE, "/_emulator/faults", None).await;
    assert_eq!((status, v), (200, json!({"cleared": 3})));
    assert_eq!(send_to(&emu, PHONE).await.status(), 201);

    faults(&emu, PHONE, json!([{"status": 500}])).await;
    let (status, _) = control(&emu, reqwest::Method::POST, "/_emulator/reset", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        requests(&emu, PHONE).await,
        0,
        "reset forgets request counts"
    );
    assert_eq!(send_to(&emu, PHONE).await.status(), 201);
    let (_, listed) = control(&emu, reqwest::Method::GET, "/_emulator/faults", None).await;
    assert_eq!(listed, json!({"queued": {}}));
}

#[tokio::test]
async fn bad_fault_requests_are_400_with_a_reason() {
    let emu = start(base_config()).await;
    let post_raw = |body: &'static str| {
        emu.http
            .post(format!("{}/_emulator/faults", emu.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for (body, needle) in [
        ("{", "invalid JSON"),
        (r#"{"to": "+12025550143"}"#, "`responses` is required"),
        (
            r#"{"to": "12025550143", "responses": [{"status": 500}]}"#,
            "E.164",
        ),
        (
            r#"{"to": "*", "responses": [{"status": 404}]}"#,
            "responses[0].status",
        ),
        (
            r#"{"to": "*", "responses": [{"status": 500, "retry": 1}]}"#,
            "unknown field `retry`",
        ),
    ] {
        let r = post_raw(body).await.unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let v: Value = r.json().await.unwrap();
        assert!(
            v["error"].as_str().unwrap().contains(needle),
            "{body} → {v}"
        );
    }
    let (_, listed) = control(&emu, reqwest::Method::GET, "/_emulator/faults", None).await;
    assert_eq!(
        listed,
        json!({"queued": {}}),
        "nothing queued by bad requests"
    );
    let (status, v) = control(
        &emu,
        reqwest::Method::GET,
        "/_emulator/requests?phone=abc",
        None,
    )
    .await;
    assert_eq!(status, 400, "{v}");
    let (status, v) = control(
        &emu,
        reqwest::Method::GET,
        "/_emulator/requests?to=%2B1202",
        None,
    )
    .await;
    assert_eq!(status, 400, "{v}");
}

#[tokio::test]
async fn rate_limit_is_configurable_at_runtime() {
    let emu = start(base_config()).await; // rate_limit_mps 0: unlimited
    for _ in 0..3 {
        assert_eq!(send_to(&emu, PHONE).await.status(), 201);
    }
    let (status, v) = control(
        &emu,
        reqwest::Method::POST,
        "/_emulator/config",
        Some(json!({"mps": 1})),
    )
    .await;
    assert_eq!((status, v), (200, json!({"mps": 1})));
    assert_eq!(send_to(&emu, PHONE).await.status(), 201);
    let r = send_to(&emu, PHONE).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    assert_error(&r.json().await.unwrap(), 429, 20429);
    let (_, health) = control(&emu, reqwest::Method::GET, "/_emulator/health", None).await;
    assert_eq!(health["rate_limit_mps"], 1);

    for bad in [
        json!({"mps": -1}),
        json!({"mps": 1.5}),
        json!({"rate": 5}),
        json!({}),
        json!([1]),
    ] {
        let (status, v) = control(
            &emu,
            reqwest::Method::POST,
            "/_emulator/config",
            Some(bad.clone()),
        )
        .await;
        assert_eq!(status, 400, "{bad} → {v}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    // Reset restores the rate the emulator started with.
    control(&emu, reqwest::Method::POST, "/_emulator/reset", None).await;
    let (_, v) = control(&emu, reqwest::Method::GET, "/_emulator/config", None).await;
    assert_eq!(v, json!({"mps": 0}));
    for _ in 0..3 {
        assert_eq!(send_to(&emu, PHONE).await.status(), 201);
    }
}

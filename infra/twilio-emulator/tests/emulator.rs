//! End-to-end tests of the emulator over HTTP: REST API errors and resources,
//! rate and concurrency limits, signed status callbacks, the inbound simulator.

mod common;

use std::time::Duration;

use common::{ACCOUNT_SID, AUTH_TOKEN, Captured, PROJECT_NUMBER, Receiver, base_config, start};
use serde_json::{Value, json};
use twilio_emulator::config::parse_fail_numbers;
use twilio_emulator::signature;

const PHONE: &str = "+15551234567";

fn assert_error(v: &Value, status: u16, code: u64) {
    assert_eq!(v["code"], code, "{v}");
    assert_eq!(v["status"], status, "{v}");
    assert_eq!(
        v["more_info"],
        format!("https://www.twilio.com/docs/errors/{code}")
    );
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(
        v.as_object().unwrap().len(),
        4,
        "error JSON has exactly code, message, more_info, status: {v}"
    );
}

fn assert_signed(c: &Captured) {
    let sig = c
        .header("x-twilio-signature")
        .expect("X-Twilio-Signature header");
    assert!(
        signature::validate(AUTH_TOKEN, &c.url, &c.params, sig),
        "bad signature for {}",
        c.url
    );
    assert_eq!(c.header("user-agent"), Some("TwilioProxy/1.1"));
    assert!(
        c.header("content-type")
            .unwrap()
            .starts_with("application/x-www-form-urlencoded")
    );
}

#[tokio::test]
async fn wrong_credentials_are_401_20003() {
    let emu = start(base_config()).await;
    let form = [("To", PHONE), ("From", PROJECT_NUMBER), ("Body", "hi")];

    let r = emu
        .http
        .post(emu.messages_url())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("www-authenticate").is_some());
    assert_error(&r.json().await.unwrap(), 401, 20003);

    let r = emu
        .http
        .post(emu.messages_url())
        .basic_auth(ACCOUNT_SID, Some("wrong"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_error(&r.json().await.unwrap(), 401, 20003);

    // Right credentials, another account in the path.
    let other = format!(
        "{}/2010-04-01/Accounts/ACffffffffffffffffffffffffffffffff/Messages.json",
        emu.base
    );
    let r = emu
        .http
        .post(other)
        .basic_auth(ACCOUNT_SID, Some(AUTH_TOKEN))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_error(&r.json().await.unwrap(), 401, 20003);

    let (status, v) = {
        let r = emu
            .http
            .get(emu.message_url("SM00000000000000000000000000000000"))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(status, 401);
    assert_error(&v, 401, 20003);
}

#[tokio::test]
async fn invalid_requests_get_twilio_codes() {
    let mut cfg = base_config();
    cfg.invalid_numbers.insert("+15005550009".into());
    cfg.landline_numbers.insert("+15005550010".into());
    let emu = start(cfg).await;
    let long = "x".repeat(1601);
    let cases: Vec<(Vec<(&str, &str)>, u64)> = vec![
        (vec![("From", PROJECT_NUMBER), ("Body", "hi")], 21604),
        (vec![("To", PHONE), ("Body", "hi")], 21603),
        (vec![("To", PHONE), ("From", PROJECT_NUMBER)], 21602),
        (
            vec![("To", "555-1234"), ("From", PROJECT_NUMBER), ("Body", "hi")],
            21211,
        ),
        (
            vec![
                ("To", "+15005550009"),
                ("From", PROJECT_NUMBER),
                ("Body", "hi"),
            ],
            21211,
        ),
        (
            vec![
                ("To", PHONE),
                ("From", PROJECT_NUMBER),
                ("Body", long.as_str()),
            ],
            21617,
        ),
        (
            vec![
                ("To", "+15005550010"),
                ("From", PROJECT_NUMBER),
                ("Body", "hi"),
            ],
            21614,
        ),
        (
            vec![("To", PHONE), ("From", "+15559990000"), ("Body", "hi")],
            21606,
        ),
    ];
    for (form, code) in cases {
        let r = emu.send(&form).await;
        assert_eq!(r.status(), 400, "{form:?}");
        assert_error(&r.json().await.unwrap(), 400, code);
    }
    // Exactly 1600 characters is fine.
    let ok = "x".repeat(1600);
    assert_eq!(
        emu.send(&[("To", PHONE), ("From", PROJECT_NUMBER), ("Body", &ok)])
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn created_message_is_a_full_resource() {
    let emu = start(base_config()).await;
    let body = "a".repeat(161);
    let r = emu
        .send(&[("To", PHONE), ("From", PROJECT_NUMBER), ("Body", &body)])
        .await;
    assert_eq!(r.status(), 201);
    let m: Value = r.json().await.unwrap();
    let sid = m["sid"].as_str().unwrap().to_string();
    assert!(
        sid.starts_with("SM")
            && sid.len() == 34
            && sid[2..].bytes().all(|b| b"0123456789abcdef".contains(&b))
    );
    assert_eq!(m["account_sid"], ACCOUNT_SID);
    assert_eq!(m["status"], "queued");
    assert_eq!(m["direction"], "outbound-api");
    assert_eq!(m["api_version"], "2010-04-01");
    assert_eq!(m["num_segments"], "2");
    assert_eq!(m["num_media"], "0");
    assert_eq!(m["from"], PROJECT_NUMBER);
    assert_eq!(m["to"], PHONE);
    assert_eq!(m["body"], body.as_str());
    assert!(m["price"].is_null());
    assert!(m["error_code"].is_null() && m["error_message"].is_null());
    assert!(m["date_sent"].is_null());
    assert!(m["messaging_service_sid"].is_null());
    let date = m["date_created"].as_str().unwrap();
    assert!(
        date.ends_with(" +0000") && date.len() == "Thu, 30 Jul 2015 20:12:31 +0000".len(),
        "{date}"
    );
    assert_eq!(
        m["uri"],
        format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json")
    );
    assert_eq!(
        m["subresource_uris"]["media"],
        format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}/Media.json")
    );

    let (status, fetched) = emu.get_json(&emu.message_url(&sid)).await;
    assert_eq!(status, 200);
    assert_eq!(fetched["sid"], sid.as_str());

    let (status, missing) = emu
        .get_json(&emu.message_url("SMffffffffffffffffffffffffffffffff"))
        .await;
    assert_eq!(status, 404);
    assert_error(&missing, 404, 20404);

    let (status, page) = emu
        .get_json(&format!(
            "{}?To=%2B15551234567&PageSize=10",
            emu.messages_url()
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
    assert_eq!(page["page_size"], 10);
    assert!(page["next_page_uri"].is_null());
    let (_, empty) = emu
        .get_json(&format!("{}?To=%2B15550000000", emu.messages_url()))
        .await;
    assert!(empty["messages"].as_array().unwrap().is_empty());

    // UCS-2: 71 characters of Chinese are two segments.
    let r = emu
        .send(&[
            ("To", PHONE),
            ("From", PROJECT_NUMBER),
            ("Body", &"你".repeat(71)),
        ])
        .await;
    let m: Value = r.json().await.unwrap();
    assert_eq!(m["num_segments"], "2");
}

#[tokio::test]
async fn messaging_service_sends_are_accepted_then_queued() {
    let mg = "MG0123456789abcdef0123456789abcdef";
    let cb = Receiver::start(200, "text/plain", "").await;
    let emu = start(twilio_emulator::Config {
        messaging_service_sid: Some(mg.into()),
        ..base_config()
    })
    .await;
    let status_url = format!("{}/status", cb.base);
    let r = emu
        .send(&[
            ("To", PHONE),
            ("MessagingServiceSid", mg),
            ("Body", "hi"),
            ("StatusCallback", &status_url),
        ])
        .await;
    assert_eq!(r.status(), 201);
    let m: Value = r.json().await.unwrap();
    assert_eq!(m["status"], "accepted");
    assert!(m["from"].is_null());
    assert_eq!(m["messaging_service_sid"], mg);
    let got = cb.wait_for(3).await;
    assert_eq!(got[0].param("MessageStatus"), Some("queued"));
    assert_eq!(got[0].param("From"), Some(PROJECT_NUMBER));
    assert_eq!(got[0].param("MessagingServiceSid"), Some(mg));
    let other_mg = "MGffffffffffffffffffffffffffffffff";
    let r = emu
        .send(&[
            ("To", PHONE),
            ("MessagingServiceSid", other_mg),
            ("Body", "hi"),
        ])
        .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn rate_limit_is_429_20429_with_retry_after() {
    let emu = start(twilio_emulator::Config {
        rate_limit_mps: 2,
        ..base_config()
    })
    .await;
    let form = [("To", PHONE), ("From", PROJECT_NUMBER), ("Body", "hi")];
    assert_eq!(emu.send(&form).await.status(), 201);
    assert_eq!(emu.send(&form).await.status(), 201);
    let r = emu.send(&form).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    assert_error(&r.json().await.unwrap(), 429, 20429);
    // Tokens come back after a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(emu.send(&form).await.status(), 201);
}

#[tokio::test]
async fn concurrency_limit_is_429() {
    let emu = start(twilio_emulator::Config {
        max_concurrency: 1,
        api_latency_ms: 400,
        ..base_config()
    })
    .await;
    let form = [("To", PHONE), ("From", PROJECT_NUMBER), ("Body", "hi")];
    let (a, b) = tokio::join!(emu.send(&form), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        emu.send(&form).await
    });
    assert_eq!(a.status(), 201);
    assert_eq!(b.status(), 429);
    assert!(b.headers().get("retry-after").is_some());
    assert_error(&b.json().await.unwrap(), 429, 20429);
}

#[tokio::test]
async fn status_callbacks_are_signed_and_in_order() {
    let cb = Receiver::start(204, "text/plain", "").await;
    let mut cfg = base_config();
    cfg.fail_numbers = parse_fail_numbers("+15005550001=30003,+15005550003=30001").unwrap();
    let emu = start(cfg).await;
    let url = format!("{}/twilio/status?tenant=a%20b", cb.base);

    let r = emu
        .send(&[
            ("To", PHONE),
            ("From", PROJECT_NUMBER),
            ("Body", "hello"),
            ("StatusCallback", &url),
        ])
        .await;
    let sid = r.json::<Value>().await.unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let got = cb.wait_for(3).await;
    let statuses: Vec<_> = got
        .iter()
        .map(|c| c.param("MessageStatus").unwrap().to_string())
        .collect();
    assert_eq!(statuses, ["queued", "sent", "delivered"]);
    for c in &got {
        assert_signed(c);
        assert_eq!(c.url, url);
        assert_eq!(c.param("MessageSid"), Some(sid.as_str()));
        assert_eq!(c.param("SmsSid"), Some(sid.as_str()));
        assert_eq!(c.param("AccountSid"), Some(ACCOUNT_SID));
        assert_eq!(c.param("From"), Some(PROJECT_NUMBER));
        assert_eq!(c.param("To"), Some(PHONE));
        assert_eq!(c.param("ApiVersion"), Some("2010-04-01"));
        assert_eq!(c.param("SmsStatus"), c.param("MessageStatus"));
        assert_eq!(c.param("ErrorCode"), None);
    }
    let (_, m) = emu.get_json(&emu.message_url(&sid)).await;
    assert_eq!(m["status"], "delivered");
    assert!(m["date_sent"].is_string());

    // Undelivered with the configured error code.
    let r = emu
        .send(&[
            ("To", "+15005550001"),
            ("From", PROJECT_NUMBER),
            ("Body", "x"),
            ("StatusCallback", &url),
        ])
        .await;
    let sid = r.json::<Value>().await.unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let got = cb.wait_for(6).await;
    let mine: Vec<_> = got
        .iter()
        .filter(|c| c.param("MessageSid") == Some(sid.as_str()))
        .collect();
    let statuses: Vec<_> = mine
        .iter()
        .map(|c| c.param("MessageStatus").unwrap())
        .collect();
    assert_eq!(statuses, ["queued", "sent", "undelivered"]);
    assert_eq!(mine[2].param("ErrorCode"), Some("30003"));
    assert_signed(mine[2]);
    let (_, m) = emu.get_json(&emu.message_url(&sid)).await;
    assert_eq!(m["status"], "undelivered");
    assert_eq!(m["error_code"], 30003);

    // Failed before reaching the carrier.
    let r = emu
        .send(&[
            ("To", "+15005550003"),
            ("From", PROJECT_NUMBER),
            ("Body", "x"),
            ("StatusCallback", &url),
        ])
        .await;
    let sid = r.json::<Value>().await.unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let got = cb.wait_for(8).await;
    let mine: Vec<_> = got
        .iter()
        .filter(|c| c.param("MessageSid") == Some(sid.as_str()))
        .collect();
    assert_eq!(
        mine.iter()
            .map(|c| c.param("MessageStatus").unwrap())
            .collect::<Vec<_>>(),
        ["queued", "failed"]
    );
    assert_eq!(mine[1].param("ErrorCode"), Some("30001"));

    let log: Vec<Value> = emu
        .http
        .get(format!("{}/_emulator/callbacks", emu.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(log.len() >= 8);
    assert!(log.iter().all(|c| c["http_status"] == 204));
}

#[tokio::test]
async fn inbound_text_is_signed_posted_and_twiml_parsed() {
    let twiml = r#"<?xml version="1.0" encoding="UTF-8"?>
<Response><Message>Welcome &amp; thanks!</Message><Message><Body>Reply STOP to opt out</Body></Message></Response>"#;
    let hook = Receiver::start(200, "text/xml", twiml).await;
    let webhook_url = format!("{}/sms/inbound", hook.base);
    let emu = start(twilio_emulator::Config {
        sms_webhook_url: webhook_url.clone(),
        ..base_config()
    })
    .await;

    let res = emu.inbound(json!({ "from": PHONE, "body": "JOIN", "from_zip": "94105", "from_city": "SAN FRANCISCO" })).await;
    assert_eq!(res["webhook_status"], 200);
    assert_eq!(res["content_type"], "text/xml");
    assert_eq!(
        res["replies"],
        json!(["Welcome & thanks!", "Reply STOP to opt out"])
    );
    assert!(res["error_code"].is_null());
    let sid = res["message_sid"].as_str().unwrap().to_string();

    let got = hook.wait_for(1).await;
    let c = &got[0];
    assert_signed(c);
    assert_eq!(c.url, webhook_url);
    for (k, v) in [
        ("MessageSid", sid.as_str()),
        ("SmsSid", sid.as_str()),
        ("SmsMessageSid", sid.as_str()),
        ("AccountSid", ACCOUNT_SID),
        ("From", PHONE),
        ("To", PROJECT_NUMBER),
        ("Body", "JOIN"),
        ("NumMedia", "0"),
        ("NumSegments", "1"),
        ("SmsStatus", "received"),
        ("ApiVersion", "2010-04-01"),
        ("FromZip", "94105"),
        ("FromCity", "SAN FRANCISCO"),
        ("FromCountry", "US"),
        ("ToCountry", "US"),
    ] {
        assert_eq!(c.param(k), Some(v), "{k}");
    }
    for k in ["FromState", "ToZip", "ToCity", "ToState"] {
        assert!(c.param(k).is_some(), "{k} missing");
    }
    assert_eq!(c.param("MessagingServiceSid"), None);

    let conv = emu.conversation(PHONE).await;
    let summary: Vec<_> = conv
        .iter()
        .map(|m| {
            (
                m["direction"].as_str().unwrap(),
                m["body"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("inbound", "JOIN"),
            ("outbound-reply", "Welcome & thanks!"),
            ("outbound-reply", "Reply STOP to opt out")
        ]
    );
    assert_eq!(conv[0]["status"], "received");
    assert_eq!(conv[1]["from"], PROJECT_NUMBER);

    // Replaying the same delivery keeps the sid and does not duplicate the inbound message.
    hook.set_reply(200, "application/xml", "<Response/>");
    let res = emu
        .inbound(json!({ "from": PHONE, "body": "JOIN", "message_sid": sid }))
        .await;
    assert_eq!(res["message_sid"], sid.as_str());
    assert_eq!(res["replies"], json!([]));
    let got = hook.wait_for(2).await;
    assert_eq!(got[1].param("MessageSid"), Some(sid.as_str()));
    assert_eq!(
        emu.conversation(PHONE)
            .await
            .iter()
            .filter(|m| m["direction"] == "inbound")
            .count(),
        1
    );

    // Forged and missing signatures, for the project's rejection paths.
    let _ = emu
        .inbound(json!({ "from": PHONE, "body": "hi", "signature": "forged" }))
        .await;
    let _ = emu
        .inbound(json!({ "from": PHONE, "body": "hi", "sign": false }))
        .await;
    let got = hook.wait_for(4).await;
    assert_eq!(got[2].header("x-twilio-signature"), Some("forged"));
    assert!(!signature::validate(
        AUTH_TOKEN,
        &got[2].url,
        &got[2].params,
        "forged"
    ));
    assert_eq!(got[3].header("x-twilio-signature"), None);

    // Webhook errors are reported, not fatal.
    hook.set_reply(403, "text/plain", "forbidden");
    let res = emu.inbound(json!({ "from": PHONE, "body": "hi" })).await;
    assert_eq!(res["webhook_status"], 403);
    assert_eq!(res["error_code"], 11200);
    hook.set_reply(200, "text/xml", "<Response><Message>oops</Response>");
    let res = emu.inbound(json!({ "from": PHONE, "body": "hi" })).await;
    assert_eq!(res["error_code"], 12100);

    // Bad input to the simulator.
    let r = emu
        .http
        .post(format!("{}/_emulator/inbound", emu.base))
        .json(&json!({ "from": "12345", "body": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn stop_opts_out_and_start_opts_back_in() {
    let hook = Receiver::start(
        200,
        "text/xml",
        "<Response><Message>You are unsubscribed.</Message></Response>",
    )
    .await;
    let emu = start(twilio_emulator::Config {
        sms_webhook_url: format!("{}/sms", hook.base),
        ..base_config()
    })
    .await;
    let form = [("To", PHONE), ("From", PROJECT_NUMBER), ("Body", "news")];
    assert_eq!(emu.send(&form).await.status(), 201);

    let res = emu
        .inbound(json!({ "from": PHONE, "body": "  stop " }))
        .await;
    assert_eq!(res["opt_out"], "opted_out");
    assert!(res["auto_reply"].as_str().unwrap().contains("unsubscribed"));
    // The app's own reply to an opted-out phone is blocked with 21610.
    assert_eq!(res["replies"], json!([]));
    assert_eq!(res["blocked_replies"][0]["error_code"], 21610);
    assert_eq!(hook.wait_for(1).await[0].param("Body"), Some("  stop "));

    let r = emu.send(&form).await;
    assert_eq!(r.status(), 400);
    assert_error(&r.json().await.unwrap(), 400, 21610);
    // Other phones are unaffected.
    assert_eq!(
        emu.send(&[
            ("To", "+15557654321"),
            ("From", PROJECT_NUMBER),
            ("Body", "x")
        ])
        .await
        .status(),
        201
    );

    hook.set_reply(200, "text/xml", "<Response/>");
    let res = emu.inbound(json!({ "from": PHONE, "body": "START" })).await;
    assert_eq!(res["opt_out"], "opted_in");
    assert_eq!(emu.send(&form).await.status(), 201);

    // Reset clears messages and opt-outs.
    let _ = emu.inbound(json!({ "from": PHONE, "body": "quit" })).await;
    assert_eq!(emu.send(&form).await.status(), 400);
    let r = emu
        .http
        .post(format!("{}/_emulator/reset", emu.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(emu.conversation(PHONE).await.is_empty());
    assert_eq!(emu.send(&form).await.status(), 201);
}

#[tokio::test]
async fn inspection_and_page() {
    let emu = start(base_config()).await;
    let health: Value = emu
        .http
        .get(format!("{}/_emulator/health", emu.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["phone_number"], PROJECT_NUMBER);
    emu.send(&[("To", PHONE), ("From", PROJECT_NUMBER), ("Body", "one")])
        .await;
    emu.send(&[
        ("To", "+15557654321"),
        ("From", PROJECT_NUMBER),
        ("Body", "two"),
    ])
    .await;
    let all: Vec<Value> = emu
        .http
        .get(format!("{}/_emulator/messages", emu.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    for k in [
        "sid",
        "direction",
        "from",
        "to",
        "body",
        "status",
        "num_segments",
        "date",
    ] {
        assert!(all[0].get(k).is_some(), "{k}");
    }
    // An unencoded `+` in the query still finds the phone.
    let mine: Vec<Value> = emu
        .http
        .get(format!(
            "{}/_emulator/messages?phone=+15551234567",
            emu.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["body"], "one");

    let page = emu.http.get(format!("{}/", emu.base)).send().await.unwrap();
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<label for=\"phone\"")
            && html.contains("<label for=\"body\"")
            && html.contains("viewport")
    );
}

#[tokio::test]
async fn binary_prints_its_address_and_help() {
    use tokio::io::AsyncBufReadExt;
    let exe = env!("CARGO_BIN_EXE_twilio-emulator");

    let help = tokio::process::Command::new(exe)
        .arg("--help")
        .output()
        .await
        .unwrap();
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    assert!(text.contains("--fail-numbers") && text.contains("TWILIO_EMULATOR_LISTEN"));

    let bad = tokio::process::Command::new(exe)
        .args(["--account-sid", "nope"])
        .output()
        .await
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));

    let mut child = tokio::process::Command::new(exe)
        .args(["--listen", "127.0.0.1:0", "--phone-number", "+15005550006"])
        .env("TWILIO_EMULATOR_AUTH_TOKEN", "from-env")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let addr = line
        .strip_prefix("twilio-emulator listening on ")
        .expect(&line);
    assert!(
        addr.starts_with("http://127.0.0.1:") && !addr.ends_with(":0"),
        "{line}"
    );
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let health: Value = client
        .get(format!("{addr}/_emulator/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let r = client
        .post(format!(
            "{addr}/2010-04-01/Accounts/AC00000000000000000000000000000001/Messages.json"
        ))
        .basic_auth("AC00000000000000000000000000000001", Some("from-env"))
        .form(&[("To", PHONE), ("From", "+15005550006"), ("Body", "hi")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    child.kill().await.unwrap();
}

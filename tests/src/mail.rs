//! The emails the stack sent, read back from moto's SES.

use std::time::Duration;

use rand::Rng;

use serde_json::{Value, json};

use crate::Stack;

/// Raw MIME of every email moto's SES accepted for `to` (case-insensitive), oldest first.
pub async fn emails_to(app: &Stack, to: &str) -> Vec<String> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
    let data: serde_json::Value = app
        .http
        .get(format!("{endpoint}/moto-api/data.json"))
        .send()
        .await
        .expect("moto reachable")
        .json()
        .await
        .expect("moto JSON");
    data["ses"]["RawMessage"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| {
            m["destinations"].as_array().is_some_and(|d| {
                d.iter()
                    .any(|x| x.as_str().is_some_and(|x| x.eq_ignore_ascii_case(to)))
            })
        })
        .filter_map(|m| m["raw_data"].as_str().map(str::to_owned))
        .collect()
}

/// Waits (up to 30 s) until at least `count` emails reached `to`, and returns them all.
pub async fn wait_for_emails(app: &Stack, to: &str, count: usize) -> Vec<String> {
    let mut raw = Vec::new();
    for _ in 0..300 {
        raw = emails_to(app, to).await;
        if raw.len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    raw
}

/// The absolute link in the text part of the email `raw` whose path starts with `path`
/// (`/forget?t=`).
pub fn link_in(raw: &str, path: &str) -> String {
    let parsed = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .expect("a MIME message");
    let body = parsed.body_text(0).expect("a text part").into_owned();
    let start = body.find(path).expect("the link in the email");
    let begin = body[..start].rfind("http").expect("an absolute link");
    body[begin..]
        .split_whitespace()
        .next()
        .expect("the link")
        .to_owned()
}

/// Follows the "delete my data" link of the email `raw` and presses the button of the page it
/// opens, as a person would; the answer.
pub async fn erase_through(app: &Stack, raw: &str) -> reqwest::Response {
    let link = link_in(raw, "/forget?t=");
    let path = &link[link.find("/forget?t=").expect("the link's path")..];
    app.http
        .post(format!("{}{path}", app.gateway_url))
        .form(&[("confirm", "page")])
        .send()
        .await
        .expect("gateway reachable")
}

/// An address no other test uses, at example.org (the privacy scan looks for that domain).
pub fn unique_email(prefix: &str) -> String {
    let n: u64 = rand::rng().random();
    format!("{prefix}.{n:x}@example.org")
}

/// A hard bounce as SES event publishing sends it (headers trimmed), tagged with `batch` if given.
pub fn hard_bounce(address: &str, feedback_id: &str, batch: Option<&str>) -> Value {
    let mut tags = json!({
        "ses:configuration-set": ["rising-EmailConfigurationSet"],
        "ses:from-domain": ["rising.example"]
    });
    if let Some(batch) = batch {
        tags["batch"] = json!([batch]);
    }
    json!({
        "eventType": "Bounce",
        "bounce": {
            "feedbackId": feedback_id,
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [{
                "emailAddress": address,
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": format!("smtp; 550 5.1.1 <{address}>... User unknown")
            }],
            "timestamp": "2027-01-15T18:02:04.000Z",
            "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com"
        },
        "mail": {
            "timestamp": "2027-01-15T18:02:02.000Z",
            "source": "hello@rising.example",
            "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/hello@rising.example",
            "sendingAccountId": "123456789012",
            "messageId": "0100018d0a1b2c3d-4e5f6a7b-8c9d-0e1f-2a3b-4c5d6e7f8a9b-000000",
            "destination": [address],
            "headersTruncated": false,
            "tags": tags
        }
    })
}

/// Publishes `message` to the stack's email-events topic, as SES does. Locally, SNS hands it to the
/// function before `Publish` returns.
pub async fn publish_email_event(app: &Stack, message: &Value) {
    let topic = app
        .email_events_topic_arn
        .clone()
        .expect("the stack provides EMAIL_EVENTS_TOPIC_ARN");
    aws_sdk_sns::Client::new(&app.aws)
        .publish()
        .topic_arn(topic)
        .message(message.to_string())
        .send()
        .await
        .expect("SNS Publish");
}

/// A fresh SES feedback id.
pub fn feedback_id() -> String {
    format!("0100018d-{:016x}-000000", rand::random::<u64>())
}

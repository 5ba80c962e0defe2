//! SES bounces and complaints on the local stack: a recorded SES notification, in the shape AWS
//! documents for event publishing, is published to the stack's `EmailEventsTopic` (as SES does);
//! SNS invokes the `email-events` function, which suppresses the address. The next invitation skips
//! it, and a host's dashboard counts the bounces of their batch.

use std::time::Duration;

use reqwest::StatusCode;
use rising_tests::hosts::Host;
use rising_tests::mail::{
    emails_to, feedback_id, hard_bounce, publish_email_event, unique_email, wait_for_emails,
};
use rising_tests::{Item, Stack, s, spawn_app};
use serde_json::{Value, json};

/// Far from the seeded gatherings near 20001 (another test counts those).
const ZIP: &str = "99501";

/// A complaint as SES event publishing sends it.
fn complaint(address: &str, feedback_id: &str) -> Value {
    json!({
        "eventType": "Complaint",
        "complaint": {
            "feedbackId": feedback_id,
            "complaintSubType": null,
            "complainedRecipients": [{"emailAddress": address}],
            "timestamp": "2027-01-15T18:05:00.000Z",
            "userAgent": "Mozilla/5.0 (compatible; Yahoo! Slurp)",
            "complaintFeedbackType": "abuse",
            "arrivalDate": "2027-01-15T18:04:58.000Z"
        },
        "mail": {
            "timestamp": "2027-01-15T18:02:02.000Z",
            "source": "hello@rising.example",
            "messageId": "0100018d0a1b2c3d-4e5f6a7b-8c9d-0e1f-2a3b-4c5d6e7f8a9c-000000",
            "destination": [address],
            "tags": {"ses:configuration-set": ["rising-EmailConfigurationSet"]}
        }
    })
}

async fn contact(app: &Stack, email: &str) -> Vec<Item> {
    app.query_pk(&format!("CONTACT#{}", app.email_hash(email)))
        .await
}

/// Sends `emails` (one per line) as a host's invitations; the batch id from the redirect.
async fn invite(host: &Host, gathering: &str, emails: &[&str]) -> String {
    let contacts: Vec<String> = emails
        .iter()
        .enumerate()
        .map(|(i, e)| format!("Friend{i} <{e}>"))
        .collect();
    let (status, location, body) = host
        .post(
            &format!("/host/gatherings/{gathering}/invite"),
            &[
                ("csrf", host.csrf.as_str()),
                ("action", "send"),
                ("attest", "yes"),
                ("contacts", &contacts.join("\n")),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    location
        .split("sent=")
        .nth(1)
        .expect("the batch id in the redirect")
        .to_owned()
}

/// The gathering page once `needle` shows on it (or after 30 s).
async fn page_showing(host: &Host, gathering: &str, needle: &str) -> String {
    let mut page = String::new();
    for _ in 0..60 {
        page = host.get(&format!("/host/gatherings/{gathering}")).await.1;
        if page.contains(needle) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    page
}

#[tokio::test]
async fn a_recorded_bounce_and_complaint_suppress_the_addresses_and_the_next_invitation_skips_them()
{
    let app = spawn_app().await;
    let (bounced, complained, fresh) = (
        unique_email("bounced"),
        unique_email("complained"),
        unique_email("fresh"),
    );
    let complaint_id = feedback_id();
    publish_email_event(&app, &hard_bounce(&bounced, &feedback_id(), None)).await;
    publish_email_event(&app, &complaint(&complained, &complaint_id)).await;
    // SNS delivers at least once: the same complaint again changes nothing.
    publish_email_event(&app, &complaint(&complained, &complaint_id)).await;

    let items = contact(&app, &bounced).await;
    let card = items
        .iter()
        .find(|i| s(i, "sk") == Some("CONTACT"))
        .expect("the contact");
    assert_eq!(
        card.get("email_undeliverable")
            .and_then(|v| v.as_bool().ok()),
        Some(&true)
    );
    assert_eq!(s(card, "email_undeliverable_reason"), Some("General"));

    let items = contact(&app, &complained).await;
    let card = items
        .iter()
        .find(|i| s(i, "sk") == Some("CONTACT"))
        .expect("the contact");
    assert_eq!(
        card.get("email_suppressed").and_then(|v| v.as_bool().ok()),
        Some(&true)
    );
    assert_eq!(s(card, "email_suppressed_reason"), Some("complaint"));
    let evidence: Vec<&Item> = items
        .iter()
        .filter(|i| s(i, "sk").is_some_and(|sk| sk.starts_with("CONSENT#")))
        .collect();
    assert_eq!(
        evidence.len(),
        1,
        "one opt-out record however often SNS delivers"
    );
    assert_eq!(s(evidence[0], "source"), Some("complaint"));
    assert_eq!(s(evidence[0], "method"), Some("abuse"));
    assert_eq!(s(evidence[0], "action"), Some("opt_out"));

    let host = Host::sign_in(&app, &unique_email("host"), 1).await;
    let gathering = host.create_gathering_at("Kitchen table", "20", ZIP).await;
    // The preview already tells the host (the send worker checks again when it sends).
    let contacts = format!("Ana <{bounced}>\nLuis <{complained}>\nRosa <{fresh}>");
    let (status, _, preview) = host
        .post(
            &format!("/host/gatherings/{gathering}/invite"),
            &[
                ("csrf", host.csrf.as_str()),
                ("action", "preview"),
                ("contacts", &contacts),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for needle in [
        "0 text(s) and 1 email(s) will be sent; 2 will be skipped.",
        "will be skipped: cannot be reached",
        "will be skipped: opted out",
    ] {
        assert!(preview.contains(needle), "missing {needle} in {preview}");
    }
    invite(&host, &gathering, &[&bounced, &complained, &fresh]).await;
    let page = page_showing(&host, &gathering, "1 of 1 done").await;
    assert!(page.contains("1 of 1 done: 1 sent, 0 failed"), "{page}");
    assert_eq!(wait_for_emails(&app, &fresh, 1).await.len(), 1);
    assert!(emails_to(&app, &bounced).await.is_empty());
    assert!(emails_to(&app, &complained).await.is_empty());
}

#[tokio::test]
async fn a_bounced_invitation_counts_in_its_batch_on_the_host_dashboard_once() {
    let app = spawn_app().await;
    let (gone, fine) = (unique_email("gone"), unique_email("fine"));
    let host = Host::sign_in(&app, &unique_email("host"), 1).await;
    let gathering = host.create_gathering_at("Stoop chat", "20", ZIP).await;
    let batch = invite(&host, &gathering, &[&gone, &fine]).await;
    let page = page_showing(&host, &gathering, "2 of 2 done").await;
    assert!(page.contains("2 of 2 done: 2 sent"), "{page}");
    assert!(!page.contains("bounced"), "{page}");

    // SES reports the first address bounced, twice (SNS redelivers), tagged with the batch the send
    // worker put on the email.
    let bounce = hard_bounce(&gone, &feedback_id(), Some(&batch));
    publish_email_event(&app, &bounce).await;
    publish_email_event(&app, &bounce).await;
    let page = page_showing(&host, &gathering, "bounced").await;
    assert!(
        page.contains(
            "1 email address(es) bounced (they do not exist; we will not write to them again)"
        ),
        "{page}"
    );
    let items = contact(&app, &gone).await;
    let events: Vec<&Item> = items
        .iter()
        .filter(|i| s(i, "sk").is_some_and(|sk| sk.starts_with("EMAILEVENT#")))
        .collect();
    assert_eq!(events.len(), 1);
    assert_eq!(s(events[0], "batch_id"), Some(batch.as_str()));
    assert!(
        events[0].contains_key("expires_at"),
        "the record is kept 30 days"
    );
    assert!(
        contact(&app, &fine)
            .await
            .iter()
            .all(|i| !i.contains_key("email_undeliverable"))
    );
}

#[tokio::test]
async fn an_unreadable_notification_changes_nothing_and_the_next_one_is_handled() {
    let app = spawn_app().await;
    let address = unique_email("odd");
    // Not an SES event: acknowledged (SNS would only redeliver it), nothing written.
    let mut broken = hard_bounce(&address, &feedback_id(), None);
    broken["bounce"]["bounceType"] = json!(["Permanent"]);
    publish_email_event(&app, &broken).await;
    assert!(contact(&app, &address).await.is_empty());
    publish_email_event(&app, &hard_bounce(&address, &feedback_id(), None)).await;
    assert_eq!(
        contact(&app, &address).await.len(),
        2,
        "the contact and its event record"
    );
}

//! A host's batch of invitations end to end on the local stack: paste → preview → send → the send
//! worker delivers through the Twilio emulator and SES → the progress reaches done → an invitee
//! RSVPs through their personal link → the dashboard attributes them to the host.

use std::time::Duration;

use reqwest::StatusCode;
use rising_tests::hosts::{self, Host, paste};
use rising_tests::mail::{erase_through, unique_email, wait_for_emails};
use rising_tests::sending::{sent_to, zip_open_for};
use rising_tests::spawn_app;
use serde_json::json;

#[tokio::test]
async fn a_host_invites_fifty_pasted_contacts_and_an_invitee_rsvps_through_their_link() {
    let app = spawn_app().await;
    let paste = paste();
    // One of them texted STOP before.
    app.text(&paste.opted_out, "STOP").await;
    let host = Host::sign_in(&app, &unique_email("host"), 1).await;
    // Invitations respect quiet hours: the gathering (whose ZIP gives invitees' local time) is where
    // sending is open now, if anywhere is (from 11:00 to 12:00 UTC no US time zone is).
    let open = zip_open_for(&paste.phones[0], 20);
    let zip = open.clone().unwrap_or_else(|| "20001".into());
    let id = host.create_gathering_at("Porch talk", "100", &zip).await;
    let path = format!("/host/gatherings/{id}/invite");

    let (status, _, preview) = host
        .post(
            &path,
            &[
                ("csrf", host.csrf.as_str()),
                ("action", "preview"),
                ("contacts", &paste.text),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for needle in [
        "29 text(s) and 12 email(s) will be sent; 1 will be skipped.",
        "5 duplicate(s) merged.",
        "will be skipped: opted out",
        "call me maybe",
        "Bob, 202-555-01",
        "eve@@example",
        "Dana invites you to Porch talk",
        "Reply STOP to opt out",
    ] {
        assert!(preview.contains(needle), "missing {needle} in {preview}");
    }
    let segments = preview
        .split("id=\"sms-info\">")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .expect("the segment count");
    assert!(
        segments == "1" || segments == "2",
        "a short GSM-7 text: {segments}"
    );

    let (status, location, body) = host
        .post(
            &path,
            &[
                ("csrf", host.csrf.as_str()),
                ("action", "send"),
                ("attest", "yes"),
                ("contacts", &paste.text),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert!(location.starts_with(&format!("/host/gatherings/{id}?sent=")));

    if open.is_none() {
        // Every text waits for the morning (emails are not held back: they do not wake anyone).
        let mut page = String::new();
        for _ in 0..120 {
            page = host.get(&format!("/host/gatherings/{id}")).await.1;
            if page.contains("12 of 41 done: 12 sent")
                && page.contains("29 waiting for the morning")
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert!(page.contains("12 of 41 done: 12 sent"), "{page}");
        assert!(page.contains("29 waiting for the morning"), "{page}");
        assert!(
            !page.contains("http-equiv=\"refresh\""),
            "no reloading all night"
        );
        for phone in &paste.phones {
            assert!(sent_to(&app, phone).await.is_empty());
        }
        return;
    }

    // The progress reaches done: 41 sent.
    let mut page = String::new();
    for _ in 0..180 {
        page = host.get(&format!("/host/gatherings/{id}")).await.1;
        if page.contains("41 of 41 done") && page.contains("Done") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        page.contains("41 of 41 done: 41 sent, 0 failed, 0 skipped"),
        "{page}"
    );
    assert!(page.contains("Invited by text: 29, joined: 0. Invited by email: 12, joined: 0."));

    // Every number got exactly one text naming the host, the movement and STOP; the opted-out one none.
    for phone in &paste.phones {
        let texts = sent_to(&app, phone).await;
        if phone == &paste.opted_out {
            assert!(
                texts.iter().all(|t| !t.contains("invites you")),
                "{texts:?}"
            );
        } else {
            assert_eq!(texts.len(), 1, "{phone}: {texts:?}");
            assert!(texts[0].starts_with("Dana invites you to Porch talk"));
            assert!(texts[0].contains("Reply STOP to opt out"));
        }
    }
    for email in &paste.emails {
        assert_eq!(wait_for_emails(&app, email, 1).await.len(), 1, "{email}");
    }

    // An invitee who uses the email's "delete my data" link loses their invitation record too.
    let erased = &paste.emails[0];
    let raw = &wait_for_emails(&app, erased, 1).await[0];
    let response = erase_through(&app, raw).await;
    assert_eq!(response.status(), StatusCode::OK);
    let hash = app.email_hash(erased);
    let invites: Vec<_> = app
        .scan_all()
        .await
        .into_iter()
        .filter(|i| {
            rising_tests::s(i, "pk").is_some_and(|pk| pk.starts_with("INVITE#"))
                && rising_tests::s(i, "contact_hash") == Some(hash.as_str())
        })
        .collect();
    assert!(invites.is_empty(), "{invites:?}");

    // An invitee follows their link and RSVPs.
    let text = sent_to(&app, &paste.phones[0]).await.remove(0);
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/i/"))
        .expect("a personal link")
        .trim_end_matches('.')
        .to_owned();
    let code = link.rsplit('/').next().unwrap().to_owned();
    let response = hosts::client()
        .get(format!("{}/i/{code}", app.gateway_url))
        .send()
        .await
        .expect("gateway reachable");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let target = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        target.starts_with(&format!("/g/{id}?ref={code}")),
        "{target}"
    );
    let response = app
        .http
        .post(format!("{}/register", app.gateway_url))
        .header("content-type", "application/json")
        .body(
            json!({
                "submission_id": rising_core::ids::random_id(),
                "first_name": "Ana",
                "phone": paste.phones[0],
                "sms_consent": true,
                "zip": "20001",
                "language": "en",
                "commitment": true,
                "gathering": id,
                "referral": code,
            })
            .to_string(),
        )
        .send()
        .await
        .expect("gateway reachable");
    assert_eq!(response.status(), StatusCode::OK);
    let (_, page) = host.get(&format!("/host/gatherings/{id}")).await;
    assert!(
        page.contains("<td>Ana</td><td>Going</td><td>Web form</td><td>You (Text)</td>"),
        "{page}"
    );
    assert!(page.contains("Invited by text: 29, joined: 1."), "{page}");
}

#[tokio::test]
async fn a_host_over_the_daily_quota_is_told_and_nothing_is_sent() {
    let app = spawn_app().await;
    let host = Host::sign_in(&app, &unique_email("host"), 1).await;
    let id = host.create_gathering("Porch talk", "10").await;
    // More than the local stack's daily limit (HostInviteDailyLimit, 200 by default).
    let text: String = (0..201)
        .map(|_| format!("Ana, {}\n", unique_email("many")))
        .collect();
    let (status, _, body) = host
        .post(
            &format!("/host/gatherings/{id}/invite"),
            &[
                ("csrf", host.csrf.as_str()),
                ("action", "send"),
                ("attest", "yes"),
                ("contacts", &text),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(body.contains("the daily limit is 200"), "{body}");
    let (_, page) = host.get(&format!("/host/gatherings/{id}")).await;
    assert!(!page.contains("<progress"), "no batch was accepted");
}

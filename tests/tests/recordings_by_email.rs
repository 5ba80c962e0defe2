//! The conversation's optional last step, end to end: after the no-gathering answer a person texts
//! their email address; `sms-inbound` stores it sealed with its consent and the recordings email in the
//! outbox, enqueues it; the stack's SQS event source runs `send-worker`, which sends it through SES
//! (moto). The test reads the raw email back from moto.

use std::time::Duration;

use rising_tests::mail::{emails_to, erase_through, wait_for_emails};
use rising_tests::{item_text, s, spawn_app, unique_phone};

fn unique_email() -> String {
    rising_tests::mail::unique_email("reader")
}

#[tokio::test]
async fn an_email_address_texted_after_the_search_brings_the_recordings_by_email_once() {
    let app = spawn_app().await;
    let phone = unique_phone();
    let email = unique_email();
    app.text(&phone, "RISING").await;
    app.text(&phone, "Quillon").await;
    // 59001 (Montana): no gathering within the radius.
    let none = app.text(&phone, "59001").await;
    assert_eq!(none.replies.len(), 2, "{:?}", none.replies);
    assert!(
        none.replies[1].contains("recordings by email"),
        "{:?}",
        none.replies
    );
    let thanks = app.text(&phone, &email.to_uppercase()).await;
    assert_eq!(
        thanks.replies,
        vec!["Thanks! The recordings are on their way to your inbox.".to_owned()]
    );
    let mut raw = Vec::new();
    for _ in 0..300 {
        raw = emails_to(&app, &email).await;
        if !raw.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(raw.len(), 1, "one email reached SES");
    let mime = &raw[0];
    for needle in [
        "List-Unsubscribe: <",
        "/unsubscribe?t=",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        "/forget?t=",
        "https://rising.invalid/r/overview",
        "https://rising.invalid/safety",
    ] {
        assert!(mime.contains(needle), "missing {needle}");
    }

    // Twilio retries the same text: same answer, no second email.
    let again = app
        .redeliver(&phone, &email.to_uppercase(), &thanks.message_sid)
        .await;
    assert_eq!(again.replies, thanks.replies);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(emails_to(&app, &email).await.len(), 1);

    // The address is stored sealed, with its consent evidence (source: sms).
    let items = app
        .query_pk(&format!("CONTACT#{}", app.email_hash(&email)))
        .await;
    let contact = items
        .iter()
        .find(|i| s(i, "sk") == Some("CONTACT"))
        .expect("the email's contact item");
    assert_eq!(s(contact, "email_status"), Some("opted_in"));
    assert_eq!(s(contact, "email_status_source"), Some("sms"));
    let consent = items
        .iter()
        .find(|i| s(i, "sk").is_some_and(|sk| sk.starts_with("CONSENT#")))
        .expect("consent evidence");
    assert_eq!(s(consent, "channel"), Some("email"));
    assert_eq!(s(consent, "source"), Some("sms"));
    assert_eq!(s(consent, "message_sid"), Some(thanks.message_sid.as_str()));
    // Nowhere in the table, in any case.
    for item in app.scan_all().await {
        assert!(
            !item_text(&item).to_lowercase().contains(&email),
            "no address in clear"
        );
    }
    let outbox = app
        .query_pk(&format!("OUTBOX#sms-{}", thanks.message_sid))
        .await;
    assert_eq!(s(&outbox[0], "status"), Some("sent"));
}

#[tokio::test]
async fn delete_my_data_in_the_recordings_email_also_erases_the_phone_that_asked_for_it() {
    let app = spawn_app().await;
    let phone = unique_phone();
    let email = unique_email();
    for body in ["RISING", "Quillon", "59001"] {
        assert_eq!(app.text(&phone, body).await.webhook_status, 200);
    }
    app.text(&phone, &email).await;
    let raw = wait_for_emails(&app, &email, 1).await;
    assert_eq!(raw.len(), 1, "the recordings email reached SES");

    // The email's "delete my data" link, followed: a page with one button, which erases.
    let page = erase_through(&app, &raw[0]).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Your details are erased")
    );

    // Both contact details are erased: only their suppressed contact items and consent evidence
    // remain, with no language, no conversation and no link between them.
    for pk in [
        format!("CONTACT#{}", app.phone_hash(&phone)),
        format!("CONTACT#{}", app.email_hash(&email)),
    ] {
        let items = app.query_pk(&pk).await;
        let contact = items
            .iter()
            .find(|i| s(i, "sk") == Some("CONTACT"))
            .expect("the contact item stays");
        assert!(contact.contains_key("erased_at"), "{pk}: {contact:?}");
        assert_eq!(
            contact.get("suppressed").and_then(|v| v.as_bool().ok()),
            Some(&true),
            "{pk}"
        );
        for gone in ["language", "linked_contacts", "email_sealed", "person_id"] {
            assert!(!contact.contains_key(gone), "{pk} keeps {gone}");
        }
        for item in &items {
            let sk = s(item, "sk").unwrap_or_default();
            assert!(
                sk == "CONTACT" || sk.starts_with("CONSENT#"),
                "{pk} keeps {sk}"
            );
        }
    }
}

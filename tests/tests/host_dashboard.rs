//! The host dashboard end to end on the local stack: the sign-in link travels through the outbox, the
//! send worker and SES (read back from moto), the session cookie and CSRF token are the ones the pages
//! give, and the checks look at what reached DynamoDB.

use reqwest::StatusCode;
use rising_tests::hosts::{self, Host};
use rising_tests::mail::{erase_through, unique_email, wait_for_emails};
use rising_tests::{item_text, s, spawn_app};
use serde_json::json;

/// The stack's `HOST_LOGIN_WINDOW_SECONDS` (template.yaml; `infra/test.sh` keeps it).
const HOST_LOGIN_WINDOW_SECONDS: i64 = 900;

#[tokio::test]
async fn a_host_signs_in_by_email_creates_a_gathering_and_sees_who_is_coming() {
    let app = spawn_app().await;
    let email = unique_email("host");
    let host = Host::sign_in(&app, &email, 1).await;
    let id = host.create_gathering("Porch talk", "10").await;

    // Somebody signs up through the gathering's share page.
    let guest = unique_email("guest");
    let response = app
        .http
        .post(format!("{}/register", app.gateway_url))
        .header("content-type", "application/json")
        .body(
            json!({
                "submission_id": rising_core::ids::random_id(),
                "first_name": "Noor",
                "email": guest,
                "zip": "20001",
                "language": "en",
                "commitment": true,
                "gathering": id,
            })
            .to_string(),
        )
        .send()
        .await
        .expect("gateway reachable");
    assert_eq!(response.status(), StatusCode::OK);

    let (status, page) = host.get(&format!("/host/gatherings/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("<td>Noor</td><td>Going</td><td>Web form</td>"),
        "{page}"
    );
    assert!(page.contains(&format!("{}/g/{id}", app.public_base_url)));
    assert!(page.contains("1 going"));
    assert!(
        !page.contains(&guest),
        "the host never sees the guest's email"
    );

    // As bytes: a text decoder would drop the byte-order mark this checks.
    let response = hosts::client()
        .get(format!(
            "{}/host/gatherings/{id}/attendees.csv",
            app.gateway_url
        ))
        .header("cookie", &host.cookie)
        .send()
        .await
        .expect("gateway reachable");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let bytes = response.bytes().await.expect("a body");
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "UTF-8 byte-order mark: {:?}",
        &bytes[..bytes.len().min(12)]
    );
    let csv = String::from_utf8_lossy(&bytes);
    assert!(csv.contains("Noor,Going,Web form,"), "{csv}");

    // The download is in the audit log organizers read, with the host's keyed hash, never the email.
    let month = &time::OffsetDateTime::now_utc().to_string()[..7];
    let audits = app.query_pk(&format!("AUDIT#{month}")).await;
    let audit = audits
        .iter()
        .find(|i| s(i, "reference") == Some(id.as_str()))
        .expect("the export is audited");
    assert_eq!(s(audit, "what"), Some("attendee_export"));
    assert_eq!(
        s(audit, "contact_hash"),
        Some(app.email_hash(&email).as_str())
    );

    // The host's items keep their email sealed.
    for item in app
        .query_pk(&format!("HOST#{}", app.email_hash(&email)))
        .await
    {
        assert!(!item_text(&item).contains(&email), "{item:?}");
    }
}

#[tokio::test]
async fn a_used_or_forged_sign_in_link_gets_nobody_in() {
    let app = spawn_app().await;
    let email = unique_email("host");
    assert_eq!(hosts::ask_link(&app, &email).await, StatusCode::SEE_OTHER);
    let link = hosts::link_in(&wait_for_emails(&app, &email, 1).await[0]);
    assert_eq!(
        hosts::use_link(&app, &link).await.status(),
        StatusCode::SEE_OTHER
    );
    let again = hosts::use_link(&app, &link).await;
    assert_eq!(again.status(), StatusCode::GONE);
    assert!(again.headers().get("set-cookie").is_none());
    let forged = format!("{}/host/sign-in?token={}", app.gateway_url, "A".repeat(43));
    assert_eq!(
        hosts::use_link(&app, &forged).await.status(),
        StatusCode::GONE
    );
    // The stored link is its hash only: the token from the email is in no item.
    let token = link.split("token=").nth(1).unwrap();
    for item in app.scan_all().await {
        assert!(!item_text(&item).contains(token));
    }
}

#[tokio::test]
async fn another_host_can_neither_read_nor_change_a_gathering() {
    let app = spawn_app().await;
    let owner = Host::sign_in(&app, &unique_email("owner"), 1).await;
    let intruder = Host::sign_in(&app, &unique_email("intruder"), 1).await;
    let id = owner.create_gathering("Porch talk", "10").await;
    for path in [
        format!("/host/gatherings/{id}"),
        format!("/host/gatherings/{id}/edit"),
        format!("/host/gatherings/{id}/attendees.csv"),
    ] {
        let (status, body) = intruder.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!body.contains("12 Elm St") && !body.contains("Porch talk"));
    }
    let (status, _, _) = intruder
        .post(
            &format!("/host/gatherings/{id}"),
            &[
                ("csrf", intruder.csrf.as_str()),
                ("title", "Taken over"),
                ("date", "2030-01-01"),
                ("starts", "10:00"),
                ("ends", "11:00"),
                ("zip", "20001"),
                ("address", "Elsewhere"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, page) = owner.get(&format!("/host/gatherings/{id}")).await;
    assert!(page.contains("Porch talk") && !page.contains("Taken over"));
}

#[tokio::test]
async fn a_form_without_its_csrf_token_or_from_another_site_changes_nothing() {
    let app = spawn_app().await;
    let host = Host::sign_in(&app, &unique_email("host"), 1).await;
    let (status, _, _) = host
        .post("/host/gatherings", &[("csrf", "forged"), ("title", "Nope")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let response = hosts::client()
        .post(format!("{}/host/gatherings", app.gateway_url))
        .header("cookie", &host.cookie)
        .header("origin", "https://evil.example")
        .form(&[("csrf", host.csrf.as_str()), ("title", "Nope")])
        .send()
        .await
        .expect("gateway reachable");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let (_, dashboard) = host.get("/host").await;
    assert!(dashboard.contains("You have no gatherings yet"));
}

#[tokio::test]
async fn sign_in_links_for_one_address_are_limited_as_deployed() {
    let app = spawn_app().await;
    let email = unique_email("bombed");
    // The limit counts in fixed windows from the epoch: four asks that straddled a window's end would
    // be counted in two.
    rising_tests::in_one_rate_limit_window(HOST_LOGIN_WINDOW_SECONDS, 60).await;
    for _ in 0..3 {
        assert_eq!(hosts::ask_link(&app, &email).await, StatusCode::SEE_OTHER);
    }
    assert_eq!(
        hosts::ask_link(&app, &email).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(wait_for_emails(&app, &email, 3).await.len(), 3);
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = spawn_app().await;
    let host = Host::sign_in(&app, &unique_email("host"), 1).await;
    let (status, _, _) = host
        .post("/host/sign-out", &[("csrf", host.csrf.as_str())])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = host.get("/host/gatherings/new").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the old cookie is refused");
}

#[tokio::test]
async fn the_delete_my_data_link_of_the_sign_in_email_erases_the_hosts_profile() {
    let app = spawn_app().await;
    let email = unique_email("host");
    let _host = Host::sign_in(&app, &email, 1).await;
    let key = format!("HOST#{}", app.email_hash(&email));
    assert!(
        app.query_pk(&key)
            .await
            .iter()
            .any(|i| s(i, "sk") == Some("PROFILE"))
    );
    let raw = &wait_for_emails(&app, &email, 1).await[0];
    let response = erase_through(&app, raw).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        !app.query_pk(&key)
            .await
            .iter()
            .any(|i| s(i, "sk") == Some("PROFILE")),
        "the profile with the sealed email is gone"
    );
}

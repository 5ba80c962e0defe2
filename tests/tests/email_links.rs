//! The links every email carries, end to end through the local gateway: `GET`/`POST /unsubscribe`
//! (RFC 8058 one-click) and `GET`/`POST /forget`. Tokens are signed here from the documented
//! construction with the stack's `EMAIL_LINK_KEY`, for the keyed hash of an address computed here
//! too (HMAC-SHA256 with the contact hash key over `"email\0"` + the lower-case address, `e.`
//! prefix), independently of `rising-core`. The table is read back through the AWS SDK.

use std::collections::HashMap;
use std::path::PathBuf;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::Rng;
use rising_core::domain::{
    AddressDraft, FirstName, GatheringCode, GatheringDraft, GatheringId, GatheringTitle, Language,
    Zip,
};
use rising_core::privacy::{ContactHash, field_context};
use rising_core::store::{
    DynamoGatheringStore, GatheringStore, NewRsvp, RsvpOutcome, RsvpSource, RsvpStore,
};
use rising_tests::{Item, Stack, item_text, s, spawn_app, unique_phone};
use time::OffsetDateTime;

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// A value of the running stack: exported in the environment, else from its env file.
fn stack_var(name: &str) -> String {
    if let Ok(value) = std::env::var(name) {
        return value;
    }
    let file = std::env::var("RISING_STACK_ENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.local/stack.env"));
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    text.lines()
        .filter_map(|line| line.split_once('='))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not in the stack's environment ({})",
                file.display()
            )
        })
}

fn key(name: &str) -> Vec<u8> {
    STANDARD
        .decode(stack_var(name))
        .unwrap_or_else(|_| panic!("{name} is base64"))
}

fn unique_email() -> String {
    let n: u64 = rand::rng().random();
    format!("Links.Test.{n:x}@Example.org")
}

/// `e.` + base64url(HMAC-SHA256(contact hash key, "email\0" || lower-case address)).
fn email_hash(email: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key("CONTACT_HASH_KEY")).unwrap();
    mac.update(b"email\x00");
    mac.update(email.trim().to_ascii_lowercase().as_bytes());
    format!("e.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// `base64url(payload) "." base64url(HMAC-SHA256(link key, "rising-email-link\0" || payload))`,
/// `payload = "v1\n<purpose>\n<contact hash>\n<issued at>"`.
fn sign(purpose: &str, hash: &str, issued_at: i64) -> String {
    let payload = format!("v1\n{purpose}\n{hash}\n{issued_at}");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key("EMAIL_LINK_KEY")).unwrap();
    mac.update(b"rising-email-link\x00");
    mac.update(payload.as_bytes());
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn now_s() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn tampered(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let i = bytes.len() - 4;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

struct Page {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

async fn call(app: &Stack, method: &str, path_and_query: &str, body: Option<&str>) -> Page {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app
        .http
        .request(method, format!("{}{path_and_query}", app.gateway_url));
    if let Some(body) = body {
        request = request
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_string());
    }
    let response = request.send().await.expect("gateway reachable");
    Page {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap_or_default(),
    }
}

/// What a mail client does for RFC 8058 one-click: a POST with this body, no cookies.
async fn one_click(app: &Stack, token: &str) -> Page {
    call(
        app,
        "POST",
        &format!("/unsubscribe?t={token}"),
        Some("List-Unsubscribe=One-Click"),
    )
    .await
}

/// The "Erase my data" button of the page a "delete my data" link opens.
async fn press_erase(app: &Stack, token: &str) -> Page {
    call(
        app,
        "POST",
        &format!("/forget?t={token}"),
        Some("confirm=page"),
    )
    .await
}

fn assert_headers(page: &Page) {
    let header = |name: &str| page.headers.get(name).and_then(|v| v.to_str().ok());
    assert_eq!(
        header("content-security-policy"),
        Some(CSP),
        "status {}",
        page.status
    );
    assert_eq!(
        header("referrer-policy"),
        Some("strict-origin-when-cross-origin")
    );
    assert_eq!(header("x-content-type-options"), Some("nosniff"));
    assert_eq!(header("cache-control"), Some("no-store"));
    assert_eq!(header("content-type"), Some("text/html; charset=utf-8"));
    assert!(!page.body.to_lowercase().contains("<script"));
}

async fn contact_items(app: &Stack, hash: &str) -> Vec<Item> {
    app.query_pk(&format!("CONTACT#{hash}")).await
}

fn by_sk<'a>(items: &'a [Item], sk: &str) -> Option<&'a Item> {
    items.iter().find(|i| s(i, "sk") == Some(sk))
}

fn consents(items: &[Item]) -> Vec<&Item> {
    items
        .iter()
        .filter(|i| s(i, "sk").is_some_and(|sk| sk.starts_with("CONSENT#")))
        .collect()
}

#[tokio::test]
async fn get_unsubscribe_shows_the_button_and_changes_nothing() {
    let app = spawn_app().await;
    let hash = email_hash(&unique_email());
    let token = sign("marketing", &hash, now_s());

    let page = call(&app, "GET", &format!("/unsubscribe?t={token}"), None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_headers(&page);
    assert!(page.body.contains(r#"<html lang="en">"#), "{}", page.body);
    assert!(
        page.body.contains(r#"<form method="post""#),
        "{}",
        page.body
    );
    assert!(page.body.contains("Unsubscribe</button>"), "{}", page.body);

    let spanish = app
        .http
        .get(format!("{}/unsubscribe?t={token}", app.gateway_url))
        .header("accept-language", "es-US,es;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(spanish.contains(r#"<html lang="es">"#), "{spanish}");
    assert!(
        spanish.contains("Cancelar la suscripción</button>"),
        "{spanish}"
    );

    let forget = sign("forget", &hash, now_s());
    let page = call(&app, "GET", &format!("/forget?t={forget}&lang=es"), None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_headers(&page);
    assert!(
        page.body.contains("Borrar mis datos</button>"),
        "{}",
        page.body
    );

    assert!(
        contact_items(&app, &hash).await.is_empty(),
        "a GET writes nothing"
    );
}

#[tokio::test]
async fn a_one_click_post_suppresses_the_address_once_with_its_evidence() {
    let app = spawn_app().await;
    let hash = email_hash(&unique_email());
    let token = sign("marketing", &hash, now_s() - 86_400 * 900);

    let page = one_click(&app, &token).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_headers(&page);
    assert!(page.body.contains("You are unsubscribed"), "{}", page.body);

    let items = contact_items(&app, &hash).await;
    let contact = by_sk(&items, "CONTACT").expect("the contact item");
    assert_eq!(contact["email_suppressed"], AttributeValue::Bool(true));
    assert!(s(contact, "email_suppressed_at").is_some());
    assert_eq!(s(contact, "entity"), Some("contact"));
    let evidence = consents(&items);
    assert_eq!(evidence.len(), 1, "{items:?}");
    let e = evidence[0];
    assert_eq!(
        (
            s(e, "action"),
            s(e, "channel"),
            s(e, "source"),
            s(e, "method"),
            s(e, "entity")
        ),
        (
            Some("opt_out"),
            Some("email"),
            Some("unsubscribe_link"),
            Some("one_click"),
            Some("consent")
        )
    );
    let reference = s(e, "reference").expect("the request id");
    assert!(!reference.is_empty());
    assert!(s(e, "sk").unwrap().ends_with(&format!("#{reference}")));

    // A second POST (a retrying mail client, a second press) changes nothing at all.
    let again = one_click(&app, &token).await;
    assert_eq!(again.status, 200);
    assert_headers(&again);
    assert!(
        again.body.contains("You were already unsubscribed"),
        "{}",
        again.body
    );
    assert_eq!(contact_items(&app, &hash).await, items);
}

#[tokio::test]
async fn a_tampered_token_is_refused_and_nothing_is_written() {
    let app = spawn_app().await;
    let hash = email_hash(&unique_email());
    let marketing = sign("marketing", &hash, now_s());
    let forget = sign("forget", &hash, now_s());
    let cases = [
        format!("/unsubscribe?t={}", tampered(&marketing)),
        format!("/forget?t={}", tampered(&forget)),
        format!("/forget?t={marketing}"),
        format!("/unsubscribe?t={forget}"),
        format!(
            "/forget?t={}",
            sign("forget", &hash, now_s() - 86_400 * 401)
        ),
        "/unsubscribe".to_string(),
    ];
    for path in &cases {
        for method in ["GET", "POST"] {
            let page = call(&app, method, path, Some("List-Unsubscribe=One-Click")).await;
            assert_eq!(page.status, 400, "{method} {path}: {}", page.body);
            assert_headers(&page);
            assert!(!page.body.contains("<form"), "{}", page.body);
        }
    }
    assert!(contact_items(&app, &hash).await.is_empty());
}

#[tokio::test]
async fn wrong_methods_and_large_bodies_get_their_pages_from_the_function() {
    let app = spawn_app().await;
    let hash = email_hash(&unique_email());
    let token = sign("marketing", &hash, now_s());
    let page = call(&app, "PUT", &format!("/unsubscribe?t={token}"), Some("x=1")).await;
    assert_eq!(page.status, 405, "{}", page.body);
    assert_eq!(
        page.headers.get("allow").and_then(|v| v.to_str().ok()),
        Some("GET, HEAD, POST")
    );
    assert_headers(&page);
    let big = format!("List-Unsubscribe=One-Click&pad={}", "x".repeat(9 * 1024));
    let page = call(&app, "POST", &format!("/unsubscribe?t={token}"), Some(&big)).await;
    assert_eq!(page.status, 413, "{}", page.body);
    assert_headers(&page);
    assert!(contact_items(&app, &hash).await.is_empty());
}

/// A gathering nobody is offered (unlisted), in its own remote ZIP code.
async fn gathering(app: &Stack) -> GatheringId {
    let id = GatheringId::random();
    let starts_at = OffsetDateTime::now_utc() + time::Duration::days(3);
    let gathering = GatheringDraft {
        code: GatheringCode::parse(&format!("L{}", &id.as_str()[..8].to_uppercase())).unwrap(),
        title: GatheringTitle::parse("Bismarck library evening").unwrap(),
        starts_at,
        ends_at: starts_at + time::Duration::hours(2),
        zip: Zip::parse("58501").unwrap(),
        timezone: None,
        town: None,
        location: None,
        address: AddressDraft::Public("Public library, room B".into()),
        host_first_name: FirstName::parse("Dana").unwrap(),
        capacity: None,
        language: Language::En,
        listed: false,
        host: None,
        description: String::new(),
        accessibility: String::new(),
    }
    .seal(id.clone(), &app.sealer())
    .await
    .unwrap();
    gatherings(app)
        .put(&gathering, OffsetDateTime::now_utc())
        .await
        .unwrap();
    id
}

fn gatherings(app: &Stack) -> DynamoGatheringStore {
    DynamoGatheringStore::new(app.dynamodb.clone(), app.table_name.clone())
}

async fn going_count(app: &Stack, id: &GatheringId) -> u32 {
    let items = app.query_pk(&format!("GATHERING#{}", id.as_str())).await;
    by_sk(&items, "GATHERING")
        .and_then(|g| g.get("going_count"))
        .and_then(|v| v.as_n().ok())
        .map_or(0, |n| n.parse().unwrap())
}

async fn put(app: &Stack, item: HashMap<&str, AttributeValue>) {
    app.dynamodb
        .put_item()
        .table_name(&app.table_name)
        .set_item(Some(
            item.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        ))
        .send()
        .await
        .expect("PutItem");
}

fn st(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

#[tokio::test]
async fn forget_by_link_erases_the_email_contact_and_leaves_the_phone_contact_alone() {
    let app = spawn_app().await;

    // The person joined by text (their phone is one contact) ...
    let phone = unique_phone();
    for body in ["RISING", "Quillon"] {
        assert_eq!(app.text(&phone, body).await.webhook_status, 200);
    }
    let phone_before = app.contact_items(&phone).await;
    assert!(by_sk(&phone_before, "CONVERSATION").is_some());

    // ... and their email address is another: an RSVP by the web form, an invite claim, a message
    // waiting in the outbox, and the consent evidence of the form.
    let email = unique_email();
    let hash = email_hash(&email);
    let contact = ContactHash::parse(&hash).unwrap();
    let pk = format!("CONTACT#{hash}");
    let at = "2026-01-01T00:00:00.000Z";
    put(
        &app,
        HashMap::from([
            ("pk", st(&pk)),
            ("sk", st("CONTACT")),
            ("entity", st("contact")),
            ("language", st("en")),
            ("email_status", st("opted_in")),
            ("person_id", st("p-links-test")),
            ("created_at", st(at)),
        ]),
    )
    .await;
    put(
        &app,
        HashMap::from([
            ("pk", st(&pk)),
            ("sk", st(&format!("CONSENT#{at}#form-1"))),
            ("entity", st("consent")),
            ("channel", st("email")),
            ("action", st("opt_in")),
            ("source", st("form")),
            ("at", st(at)),
        ]),
    )
    .await;
    put(
        &app,
        HashMap::from([
            ("pk", st(&pk)),
            ("sk", st("INVITED#email")),
            ("message", st("m-links-test")),
            (
                "expires_at",
                AttributeValue::N((now_s() + 86_400).to_string()),
            ),
        ]),
    )
    .await;
    let outbox_pk = format!("OUTBOX#links-{}", &hash[2..14]);
    put(
        &app,
        HashMap::from([
            ("pk", st(&outbox_pk)),
            ("sk", st("OUTBOX")),
            ("status", st("pending")),
            ("to_sealed", st("v1.not-really-sealed")),
            ("gsi1pk", st(&pk)),
            ("gsi1sk", st(&format!("OUTBOX#{at}#links"))),
        ]),
    )
    .await;
    let gathering = gathering(&app).await;
    let name = app
        .sealer()
        .seal(&field_context(&contact, "first_name"), "Quillon")
        .await
        .unwrap();
    let outcome = gatherings(&app)
        .rsvp(
            NewRsvp {
                gathering: &gathering,
                contact: &contact,
                source: RsvpSource::Form,
                language: Language::En,
                first_name: &name,
                referral: None,
            },
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    assert_eq!(outcome, RsvpOutcome::Created);
    assert_eq!(going_count(&app, &gathering).await, 1);

    // They unsubscribe, then follow "delete my data": the page changes nothing, the button erases.
    assert_eq!(
        one_click(&app, &sign("marketing", &hash, now_s()))
            .await
            .status,
        200
    );
    let token = sign("forget", &hash, now_s());
    let page = call(&app, "GET", &format!("/forget?t={token}"), None).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Erase my data</button>"),
        "{}",
        page.body
    );
    assert_eq!(
        going_count(&app, &gathering).await,
        1,
        "a GET erases nothing"
    );

    let page = press_erase(&app, &token).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_headers(&page);
    assert!(
        page.body.contains("Your details are erased"),
        "{}",
        page.body
    );

    // Only the suppressed contact and the evidence remain under the address's key.
    let items = contact_items(&app, &hash).await;
    let contact_item = by_sk(&items, "CONTACT").expect("the contact item stays");
    let mut names: Vec<&str> = contact_item.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "entity",
            "erased_at",
            "pk",
            "sk",
            "sms_status",
            "sms_status_at",
            "suppressed"
        ],
        "no language, no person id"
    );
    assert_eq!(contact_item["suppressed"], AttributeValue::Bool(true));
    let evidence = consents(&items);
    assert_eq!(
        evidence.len() + 1,
        items.len(),
        "only the contact and its evidence: {items:?}"
    );
    let actions: Vec<_> = evidence.iter().map(|c| s(c, "action").unwrap()).collect();
    assert_eq!(actions.len(), 3, "{actions:?}");
    for action in ["opt_in", "opt_out", "erase"] {
        assert!(actions.contains(&action), "{actions:?}");
    }
    let erase = evidence
        .iter()
        .find(|c| s(c, "action") == Some("erase"))
        .unwrap();
    assert_eq!(
        (s(erase, "source"), s(erase, "channel")),
        (Some("email_link"), Some("all"))
    );
    assert!(
        app.query_pk(&outbox_pk).await.is_empty(),
        "the waiting message went"
    );
    assert_eq!(
        going_count(&app, &gathering).await,
        0,
        "the place is given back"
    );
    for item in app.scan_all().await {
        let text = item_text(&item);
        if text.contains(&hash) {
            let sk = s(&item, "sk").unwrap_or_default();
            assert!(
                s(&item, "pk") == Some(pk.as_str())
                    && (sk == "CONTACT" || sk.starts_with("CONSENT#")),
                "an item still refers to the address: {text}"
            );
        }
    }

    // A second POST changes nothing; the phone contact is untouched.
    let again = press_erase(&app, &token).await;
    assert_eq!(again.status, 200);
    assert!(
        again.body.contains("Your details were already erased"),
        "{}",
        again.body
    );
    assert_eq!(contact_items(&app, &hash).await, items);
    assert_eq!(app.contact_items(&phone).await, phone_before);
}

#[tokio::test]
async fn an_erased_host_s_gathering_stays_for_the_people_going_without_the_host_s_name() {
    let app = spawn_app().await;
    let email = unique_email();
    let host = rising_tests::hosts::Host::sign_in(&app, &email, 1).await;
    // Anchorage: far from every search the other tests make.
    let id = host
        .create_gathering_at("Supper after the erasure", "10", "99501")
        .await;
    let hash = email_hash(&email);
    assert_eq!(app.query_pk(&format!("HOST#{hash}")).await.len(), 2);

    // The host follows "delete my data" (their keyed hash is their email's, like anyone's).
    let token = sign("forget", &hash, now_s());
    let page = press_erase(&app, &token).await;
    assert_eq!(page.status, 200, "{}", page.body);

    // No profile, no list of their gatherings; the gathering keeps neither their name nor their
    // keyed hash.
    assert!(app.query_pk(&format!("HOST#{hash}")).await.is_empty());
    let items = app.query_pk(&format!("GATHERING#{id}")).await;
    let gathering = by_sk(&items, "GATHERING").expect("the gathering stays");
    for gone in ["host_first_name_sealed", "host_hash"] {
        assert!(!gathering.contains_key(gone), "the gathering keeps {gone}");
    }
    let (status, dashboard) = host.get("/host").await;
    assert_eq!(status, 200);
    assert!(
        !dashboard.contains("Supper after the erasure"),
        "{dashboard}"
    );

    // Someone who texts its code still joins it; the organizers stand in for the host.
    let code = s(gathering, "code").expect("its code").to_owned();
    let phone = unique_phone();
    app.text(&phone, &code).await;
    let confirmation = app.text(&phone, "Theo").await.replies.join(" ");
    assert!(
        confirmation.starts_with("You're going, Theo! Supper after the erasure")
            && confirmation.contains("Host: the organizers."),
        "{confirmation}"
    );
}

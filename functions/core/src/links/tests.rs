//! Unit tests of the email links: the HTTP handler over the in-memory stores.

use lambda_http::{Body, Request, Response};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::*;
use crate::config::{EmailLinksConfig, ProgramConfig};
use crate::domain::EmailAddress;
use crate::email::{UnsubscribeToken, forget_url, unsubscribe_url};
use crate::privacy::ContactHasher;
use crate::secrets::StaticSecretStore;
use crate::store::MemoryGatheringStore;

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes
const KEY_PARAMETER: &str = "/rising/email-link-key";
const BASE: &str = "https://links.example";
const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

type App = EmailLinks<MemoryLinkStore, MemoryGatheringStore, StaticSecretStore>;

fn config(program: &str) -> EmailLinksConfig {
    EmailLinksConfig {
        table_name: "rising".into(),
        link_key_parameter: KEY_PARAMETER.into(),
        program: ProgramConfig {
            name: program.into(),
            support_contact: "help@example.org".into(),
        },
    }
}

fn app() -> App {
    EmailLinks::new(
        config("rising"),
        MemoryLinkStore::default(),
        MemoryGatheringStore::new(),
        StaticSecretStore::default().with(KEY_PARAMETER, KEY),
    )
}

fn key() -> TokenKey {
    TokenKey::from_base64(KEY).unwrap()
}

fn contact() -> ContactHash {
    ContactHasher::from_base64(KEY)
        .unwrap()
        .email(&EmailAddress::parse("marisol@example.org").unwrap())
}

fn token(purpose: TokenPurpose, issued: OffsetDateTime) -> String {
    UnsubscribeToken::sign(&key(), &contact(), purpose, issued)
        .as_str()
        .to_string()
}

fn unsubscribe_link() -> String {
    unsubscribe_url(
        BASE,
        &UnsubscribeToken::sign(&key(), &contact(), TokenPurpose::Marketing, NOW),
    )
}

fn forget_link() -> String {
    forget_url(
        BASE,
        &UnsubscribeToken::sign(&key(), &contact(), TokenPurpose::Forget, NOW),
    )
}

fn request(method: &str, url: &str, body: &str) -> Request {
    http::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn get(url: &str) -> Request {
    request("GET", url, "")
}

/// RFC 8058: what a mail client posts, with no cookies.
fn one_click(url: &str) -> Request {
    request("POST", url, "List-Unsubscribe=One-Click")
}

fn html(response: &Response<Body>) -> String {
    match response.body() {
        Body::Text(text) => text.clone(),
        Body::Binary(bytes) => String::from_utf8(bytes.clone()).unwrap(),
        Body::Empty => String::new(),
        _ => panic!("unexpected body"),
    }
}

fn assert_security_headers(response: &Response<Body>) {
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(
            response.headers().get(name).and_then(|v| v.to_str().ok()),
            Some(value),
            "{name} on a {} response",
            response.status()
        );
    }
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert_eq!(
        csp,
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(
        response.headers()["referrer-policy"],
        "strict-origin-when-cross-origin"
    );
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let page = html(response);
    if !page.is_empty() {
        assert!(page.starts_with("<!doctype html>"), "{page}");
        assert!(page.contains("<main>") && page.contains("</main>"));
        assert!(!page.to_lowercase().contains("<script"), "no script");
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "nothing from elsewhere: {page}"
        );
    }
}

/// Replaces one character in the signature part of a token.
fn tampered(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let i = bytes.len() - 3;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn get_unsubscribe_shows_a_confirm_button_in_english_and_changes_nothing() {
    let app = app();
    let response = app.handle_at(&get(&unsubscribe_link()), NOW).await;
    assert_eq!(response.status(), 200);
    assert_security_headers(&response);
    let page = html(&response);
    assert!(page.contains(r#"<html lang="en">"#), "{page}");
    assert!(page.contains("Unsubscribe from rising emails?"), "{page}");
    assert!(
        page.contains(r#"<form method="post" action="?t="#),
        "{page}"
    );
    assert!(page.contains(&format!(
        r#"action="?t={}&#38;lang=en""#,
        token(TokenPurpose::Marketing, NOW)
    )));
    assert!(
        page.contains(r#"<button type="submit">Unsubscribe</button>"#),
        "{page}"
    );
    assert!(page.contains(r#"hreflang="es""#) && page.contains("Español"));
    assert_eq!(app.store().writes(), 0, "a GET never writes");
    assert!(app.store().suppression(contact().as_str()).is_none());
}

#[tokio::test]
async fn a_one_click_post_suppresses_marketing_email_once_and_records_the_evidence() {
    let app = app();
    let response = app.handle_at(&one_click(&unsubscribe_link()), NOW).await;
    assert_eq!(response.status(), 200);
    assert_security_headers(&response);
    assert!(html(&response).contains("You are unsubscribed"));
    let suppression = app.store().suppression(contact().as_str()).unwrap();
    assert!(suppression.email_suppressed);
    assert_eq!(suppression.email_suppressed_at, Some(NOW));
    assert_eq!(suppression.consents.len(), 1);
    assert!(
        suppression.consents[0].starts_with("opt_out:email:unsubscribe_link:one_click:"),
        "{:?}",
        suppression.consents
    );

    // Again, later (a mail client retrying, or the person pressing twice): nothing changes.
    let again = app
        .handle_at(&one_click(&unsubscribe_link()), NOW + Duration::hours(1))
        .await;
    assert_eq!(again.status(), 200);
    assert_security_headers(&again);
    assert!(html(&again).contains("You were already unsubscribed"));
    assert_eq!(
        app.store().suppression(contact().as_str()).unwrap(),
        suppression
    );
    assert_eq!(app.store().writes(), 1);
}

#[tokio::test]
async fn the_confirm_button_unsubscribes_too_and_is_recorded_as_the_page() {
    let app = app();
    let url = format!(
        "{BASE}/unsubscribe?t={}&lang=es",
        token(TokenPurpose::Marketing, NOW)
    );
    let response = app
        .handle_at(&request("POST", &url, "confirm=page"), NOW)
        .await;
    assert_eq!(response.status(), 200);
    assert!(html(&response).contains("Tu suscripción está cancelada"));
    let suppression = app.store().suppression(contact().as_str()).unwrap();
    assert!(suppression.consents[0].starts_with("opt_out:email:unsubscribe_link:page:"));
}

#[tokio::test]
async fn an_unsubscribe_link_years_old_still_works() {
    let app = app();
    let old = token(TokenPurpose::Marketing, NOW - Duration::days(3650));
    let response = app
        .handle_at(&one_click(&format!("{BASE}/unsubscribe?t={old}")), NOW)
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        app.store()
            .suppression(contact().as_str())
            .unwrap()
            .email_suppressed
    );
}

#[tokio::test]
async fn bad_tokens_get_a_400_page_and_nothing_is_written() {
    let marketing = token(TokenPurpose::Marketing, NOW);
    let forget = token(TokenPurpose::Forget, NOW);
    let cases = [
        (
            "/unsubscribe",
            tampered(&marketing),
            "This link does not work",
        ),
        ("/forget", tampered(&forget), "This link does not work"),
        (
            "/unsubscribe",
            marketing[..marketing.len() - 5].to_string(),
            "This link does not work",
        ),
        (
            "/unsubscribe",
            "not-a-token".to_string(),
            "This link does not work",
        ),
        (
            "/unsubscribe",
            forget.clone(),
            "This link is not meant for this page",
        ),
        (
            "/forget",
            marketing.clone(),
            "This link is not meant for this page",
        ),
        (
            "/forget",
            token(TokenPurpose::Forget, NOW - Duration::days(401)),
            "This link has expired",
        ),
        (
            "/unsubscribe",
            UnsubscribeToken::sign(
                &TokenKey::from_base64(&"QUFB".repeat(11)).unwrap(),
                &contact(),
                TokenPurpose::Marketing,
                NOW,
            )
            .as_str()
            .to_string(),
            "This link does not work",
        ),
    ];
    let app = app();
    for (path, bad, heading) in &cases {
        for method in ["GET", "POST"] {
            let url = format!("{BASE}{path}?t={bad}");
            let response = app
                .handle_at(&request(method, &url, "List-Unsubscribe=One-Click"), NOW)
                .await;
            assert_eq!(response.status(), 400, "{method} {path} {heading}");
            assert_security_headers(&response);
            let page = html(&response);
            assert!(page.contains(heading), "{method} {path}: {page}");
            assert!(!page.contains("<form"), "no button for a bad link");
            assert!(!page.contains(bad.as_str()), "the bad token is not echoed");
        }
    }
    assert_eq!(app.store().writes(), 0);
    assert!(app.store().suppression(contact().as_str()).is_none());
    assert!(app.store().erasure().contact(contact().as_str()).is_none());
}

#[tokio::test]
async fn a_missing_token_is_a_400_with_a_human_message() {
    let app = app();
    for url in [
        format!("{BASE}/unsubscribe"),
        format!("{BASE}/unsubscribe?t="),
        format!("{BASE}/forget?lang=en"),
    ] {
        for method in ["GET", "POST"] {
            let response = app.handle_at(&request(method, &url, ""), NOW).await;
            assert_eq!(response.status(), 400, "{method} {url}");
            assert_security_headers(&response);
            assert!(html(&response).contains("This link is incomplete"));
        }
    }
    let spanish = app
        .handle_at(&get(&format!("{BASE}/forget?lang=es")), NOW)
        .await;
    assert!(html(&spanish).contains("Este enlace está incompleto"));
    assert_eq!(app.store().writes(), 0);
}

#[tokio::test]
async fn spanish_comes_from_accept_language_and_the_lang_parameter_wins() {
    let app = app();
    let mut spanish = get(&unsubscribe_link());
    spanish.headers_mut().insert(
        "accept-language",
        "es-MX,es;q=0.9,en;q=0.8".parse().unwrap(),
    );
    let page = html(&app.handle_at(&spanish, NOW).await);
    assert!(page.contains(r#"<html lang="es">"#), "{page}");
    assert!(
        page.contains("¿Dejar de recibir correos de rising?"),
        "{page}"
    );
    assert!(page.contains("Cancelar la suscripción</button>"), "{page}");
    assert!(page.contains("&#38;lang=es") && page.contains(">English</a>"));

    let mut switched = get(&format!("{}&lang=en", unsubscribe_link()));
    switched
        .headers_mut()
        .insert("accept-language", "es".parse().unwrap());
    let page = html(&app.handle_at(&switched, NOW).await);
    assert!(page.contains(r#"<html lang="en">"#), "{page}");

    let forget = html(
        &app.handle_at(&get(&format!("{}&lang=es", forget_link())), NOW)
            .await,
    );
    assert!(forget.contains("¿Borrar tus datos de rising?"), "{forget}");
    assert!(forget.contains("Borrar mis datos</button>"), "{forget}");
    assert_eq!(app.store().writes(), 0);
}

#[test]
fn accept_language_picks_the_best_supported_language() {
    assert_eq!(accept_language("es"), Language::Es);
    assert_eq!(accept_language("es-419, en;q=0.5"), Language::Es);
    assert_eq!(accept_language("en-US,en;q=0.9,es;q=0.8"), Language::En);
    assert_eq!(accept_language("fr-FR, es;q=0.4"), Language::Es);
    assert_eq!(accept_language("de, fr;q=0.9"), Language::En);
    assert_eq!(accept_language("es;q=0, en;q=0.1"), Language::En);
    assert_eq!(accept_language("*"), Language::En);
    assert_eq!(accept_language(""), Language::En);
    assert_eq!(accept_language("en;q=0.5, es;q=0.7"), Language::Es);
}

#[tokio::test]
async fn bodies_over_8_kb_are_refused_with_413_and_nothing_changes() {
    let app = app();
    let big = format!(
        "List-Unsubscribe=One-Click&pad={}",
        "x".repeat(LINK_BODY_LIMIT)
    );
    for url in [unsubscribe_link(), forget_link()] {
        let response = app.handle_at(&request("POST", &url, &big), NOW).await;
        assert_eq!(response.status(), 413);
        assert_security_headers(&response);
    }
    let fits = "x".repeat(LINK_BODY_LIMIT);
    let response = app
        .handle_at(&request("POST", &unsubscribe_link(), &fits), NOW)
        .await;
    assert_eq!(response.status(), 200, "8 KB exactly is accepted");
    assert_eq!(app.store().writes(), 1);
}

#[tokio::test]
async fn other_methods_get_405_with_allow_and_change_nothing() {
    let app = app();
    for method in ["PUT", "DELETE", "PATCH", "OPTIONS"] {
        for url in [unsubscribe_link(), forget_link()] {
            let response = app.handle_at(&request(method, &url, ""), NOW).await;
            assert_eq!(response.status(), 405, "{method}");
            assert_eq!(response.headers()["allow"], "GET, HEAD, POST");
            assert_security_headers(&response);
        }
    }
    assert_eq!(app.store().writes(), 0);
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let app = app();
    let response = app
        .handle_at(&request("HEAD", &unsubscribe_link(), ""), NOW)
        .await;
    assert_eq!(response.status(), 200);
    assert_security_headers(&response);
    assert!(html(&response).is_empty());
    assert_eq!(app.store().writes(), 0);
}

#[tokio::test]
async fn an_unknown_path_is_a_404_page() {
    let app = app();
    let response = app
        .handle_at(&get(&format!("{BASE}/elsewhere?t=x")), NOW)
        .await;
    assert_eq!(response.status(), 404);
    assert_security_headers(&response);
}

#[tokio::test]
async fn a_route_under_a_stage_prefix_is_recognised() {
    let app = app();
    let url = unsubscribe_link().replace("/unsubscribe", "/prod/unsubscribe");
    assert_eq!(app.handle_at(&get(&url), NOW).await.status(), 200);
}

#[tokio::test]
async fn get_forget_explains_what_is_erased_and_changes_nothing() {
    let app = app();
    let response = app.handle_at(&get(&forget_link()), NOW).await;
    assert_eq!(response.status(), 200);
    assert_security_headers(&response);
    let page = html(&response);
    assert!(page.contains("Delete your data from rising?"), "{page}");
    assert!(
        page.contains("<li>your email address and your name</li>"),
        "{page}"
    );
    assert!(
        page.contains(r#"<button type="submit">Erase my data</button>"#),
        "{page}"
    );
    assert_eq!(app.store().writes(), 0);
    assert!(app.store().erasure().contact(contact().as_str()).is_none());
}

#[tokio::test]
async fn post_forget_erases_the_contact_once() {
    let app = app();
    // Unsubscribed first; the erasure then suppresses every channel.
    app.handle_at(&one_click(&unsubscribe_link()), NOW).await;
    let response = app
        .handle_at(&request("POST", &forget_link(), "confirm=page"), NOW)
        .await;
    assert_eq!(response.status(), 200);
    assert_security_headers(&response);
    assert!(html(&response).contains("Your details are erased"));
    let erased = app.store().erasure().contact(contact().as_str()).unwrap();
    assert!(erased.erased && erased.suppressed);
    assert_eq!(erased.consents, ["erase::email_link"]);
    assert_eq!(app.store().writes(), 2);

    let again = app
        .handle_at(
            &request("POST", &forget_link(), "confirm=page"),
            NOW + Duration::minutes(1),
        )
        .await;
    assert_eq!(again.status(), 200);
    assert!(html(&again).contains("Your details were already erased"));
    assert_eq!(app.store().writes(), 2, "a second POST writes nothing");
    assert_eq!(
        app.store().erasure().contact(contact().as_str()).unwrap(),
        erased
    );
}

#[tokio::test]
async fn the_link_key_is_fetched_on_first_use_and_a_missing_one_is_a_500_page() {
    let app = EmailLinks::new(
        config("rising"),
        MemoryLinkStore::default(),
        MemoryGatheringStore::new(),
        StaticSecretStore::default(),
    );
    // No token: refused before any secret is needed.
    let response = app
        .handle_at(&get(&format!("{BASE}/unsubscribe")), NOW)
        .await;
    assert_eq!(response.status(), 400);
    let response = app.handle_at(&one_click(&unsubscribe_link()), NOW).await;
    assert_eq!(response.status(), 500);
    assert_security_headers(&response);
    assert!(html(&response).contains("Something went wrong on our side"));
    assert_eq!(app.store().writes(), 0);
}

#[tokio::test]
async fn every_value_on_a_page_is_escaped() {
    let app = EmailLinks::new(
        config("<b>rising</b>"),
        MemoryLinkStore::default(),
        MemoryGatheringStore::new(),
        StaticSecretStore::default().with(KEY_PARAMETER, KEY),
    );
    let page = html(&app.handle_at(&get(&unsubscribe_link()), NOW).await);
    assert!(!page.contains("<b>rising</b>"), "{page}");
    assert!(
        page.contains("&#60;b&#62;rising&#60;/b&#62;") || page.contains("&lt;b&gt;rising"),
        "{page}"
    );
}

#[test]
fn the_one_click_body_of_rfc_8058_is_recognised() {
    assert_eq!(
        UnsubscribeMethod::from_body(b"List-Unsubscribe=One-Click"),
        UnsubscribeMethod::OneClick
    );
    assert_eq!(
        UnsubscribeMethod::from_body(b"confirm=page"),
        UnsubscribeMethod::Page
    );
    assert_eq!(UnsubscribeMethod::from_body(b""), UnsubscribeMethod::Page);
}

#[test]
fn every_error_maps_to_its_status_in_one_place() {
    use crate::email::TokenError;
    assert_eq!(LinkError::TooLarge.status(), 413);
    assert_eq!(LinkError::MethodNotAllowed.status(), 405);
    assert_eq!(LinkError::NotFound.status(), 404);
    assert_eq!(LinkError::MissingToken.status(), 400);
    for e in [
        TokenError::Malformed,
        TokenError::BadSignature,
        TokenError::WrongPurpose,
        TokenError::Expired,
    ] {
        assert_eq!(LinkError::Token(e).status(), 400);
    }
    assert_eq!(
        LinkError::Store(StoreError::Corrupt("x".into())).status(),
        500
    );
    assert_eq!(LinkError::Key(TokenKeyError::TooShort(3)).status(), 500);
}

#[test]
fn the_config_names_the_link_key_parameter_and_the_programme() {
    let vars = std::collections::HashMap::from([
        ("TABLE_NAME", "rising"),
        ("EMAIL_LINK_KEY_PARAMETER", "/rising/email-link-key"),
        ("SUPPORT_CONTACT", "help@example.org"),
    ]);
    let config = EmailLinksConfig::from_lookup(|n| vars.get(n).map(|v| v.to_string())).unwrap();
    assert_eq!(config, self::config("rising"));
    let missing = EmailLinksConfig::from_lookup(|n| {
        (n != "EMAIL_LINK_KEY_PARAMETER")
            .then(|| vars.get(n).map(|v| v.to_string()))
            .flatten()
    });
    assert_eq!(
        missing,
        Err(crate::config::ConfigError::Missing(
            "EMAIL_LINK_KEY_PARAMETER"
        ))
    );
}

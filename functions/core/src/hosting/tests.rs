//! The host dashboard over the in-memory adapters, driven through its HTTP handler.

use http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use time::{Duration, OffsetDateTime};

use super::HostApp;
use crate::admin::{AuditAction, MemoryAdminStore};
use crate::config::HostConfig;
use crate::domain::{GatheringId, Language};
use crate::outbound::body_context;
use crate::privacy::{Sealer, field_context};
use crate::secrets::StaticSecretStore;
use crate::stats::MemoryCampaignStats;
use crate::store::{
    CampaignRulesStore, GatheringStore, KeywordStore, MemoryGatheringStore, MemoryHostStore,
    MemoryInviteStore, MemoryOutbox, MemoryRegistrationStore, MemoryTrainingStore, NewRsvp,
    RsvpSource, RsvpStore, TemplateStore, TrainingStore,
};

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const OTHER_KEY: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

type Queue = crate::outbound::recording_queue::RecordingQueue;

type App = HostApp<
    MemoryHostStore,
    MemoryGatheringStore,
    MemoryRegistrationStore,
    MemoryOutbox,
    Queue,
    MemoryAdminStore,
    MemoryInviteStore,
    MemoryTrainingStore,
    MemoryCampaignStats,
    StaticSecretStore,
>;

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap() // 2026-09-21
}

fn config() -> HostConfig {
    config_with(&[])
}

/// The test configuration, with `extra` settings on top.
fn config_with(extra: &[(&str, &str)]) -> HostConfig {
    HostConfig::from_lookup(|name| {
        if let Some((_, value)) = extra.iter().find(|(n, _)| *n == name) {
            return Some((*value).to_owned());
        }
        let value = match name {
            "TABLE_NAME" => "rising",
            "CONTACT_HASH_KEY_PARAMETER" => "/rising/contact-hash-key",
            "EMAIL_LINK_KEY_PARAMETER" => "/rising/email-link-key",
            "SESSION_KEY_PARAMETER" => "/rising/session-key",
            "ORGANIZER_EMAILS_PARAMETER" => "/rising/organizer-emails",
            "CONTACT_DATA_KEY_ID" => "key",
            "SEND_QUEUE_URL" => "https://sqs.example/q",
            "API_URL" => "https://api.rising.example",
            "SUPPORT_CONTACT" => "help@rising.example",
            "EMAIL_FROM" => "hello@rising.example",
            "TWILIO_PHONE_NUMBER" => "+15550100000",
            "HOST_LOGIN_EMAIL_LIMIT" => "3",
            "HOST_INVITE_DAILY_LIMIT" => "8",
            _ => return None,
        };
        Some(value.to_owned())
    })
    .unwrap()
}

struct World {
    app: App,
    queue: Queue,
    sealer: Sealer,
}

fn world() -> World {
    world_with(config())
}

fn world_with(config: HostConfig) -> World {
    let queue = Queue::default();
    let sealer = Sealer::in_memory();
    let secrets = StaticSecretStore::default()
        .with("/rising/contact-hash-key", KEY)
        .with("/rising/email-link-key", KEY)
        .with("/rising/session-key", OTHER_KEY)
        .with(
            "/rising/organizer-emails",
            "Organizer@Rising.example, not-an-address;\nsecond@rising.example",
        );
    let app = HostApp::new(
        config,
        MemoryHostStore::new(),
        MemoryGatheringStore::new(),
        MemoryRegistrationStore::new(),
        MemoryOutbox::default(),
        queue.clone(),
        MemoryAdminStore::default(),
        MemoryInviteStore::new(),
        MemoryTrainingStore::new(),
        MemoryCampaignStats::default(),
        sealer.clone(),
        secrets,
    );
    World { app, queue, sealer }
}

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Request {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(format!("https://api.rising.example{path}"))
        .header("host", "api.rising.example");
    if method == "POST" {
        builder = builder.header("content-type", "application/x-www-form-urlencoded");
    }
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut context =
        lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
    context.http.source_ip = Some("203.0.113.7".into());
    builder
        .body(Body::from(body.to_owned()))
        .unwrap()
        .with_request_context(RequestContext::ApiGatewayV2(context))
}

fn text(response: &http::Response<Body>) -> String {
    String::from_utf8_lossy(response.body().as_ref()).into_owned()
}

fn location(response: &http::Response<Body>) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn encode(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A signed-in host: the cookie header and the CSRF token of their pages.
struct Host {
    cookie: String,
    csrf: String,
}

impl World {
    async fn at(&self, request: Request, now: OffsetDateTime) -> http::Response<Body> {
        self.app.handle_at(&request, now).await
    }

    /// The sign-in link in the last email queued.
    async fn last_link(&self) -> String {
        let id = self.queue.messages().last().expect("an email").id.clone();
        let message = self.app.outbox().message(&id).expect("stored");
        let mime = self
            .sealer
            .open(&body_context(&id), &message.body)
            .await
            .expect("opens");
        let parsed = mail_parser::MessageParser::default()
            .parse(mime.as_bytes())
            .unwrap();
        let body = parsed.body_text(0).unwrap().into_owned();
        let start = body
            .find("https://api.rising.example/host/sign-in?token=")
            .expect("a link");
        body[start..].split_whitespace().next().unwrap().to_owned()
    }

    async fn ask_link(&self, email: &str, now: OffsetDateTime) -> http::Response<Body> {
        self.at(
            request(
                "POST",
                "/host/sign-in",
                &[],
                &encode(&[("email", email), ("lang", "en")]),
            ),
            now,
        )
        .await
    }

    async fn use_link(&self, link: &str, now: OffsetDateTime) -> http::Response<Body> {
        let token = link.split("token=").nth(1).unwrap();
        self.at(
            request(
                "POST",
                "/host/sign-in/confirm",
                &[],
                &encode(&[("token", token)]),
            ),
            now,
        )
        .await
    }

    async fn sign_in(&self, email: &str) -> Host {
        assert_eq!(
            self.ask_link(email, now()).await.status(),
            StatusCode::SEE_OTHER
        );
        let link = self.last_link().await;
        let response = self.use_link(&link, now()).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let set = response
            .headers()
            .get("set-cookie")
            .expect("a cookie")
            .to_str()
            .unwrap()
            .to_owned();
        let cookie = set.split(';').next().unwrap().to_owned();
        let page = self.get("/host", &cookie).await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = text(&page);
        let csrf = html
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("a CSRF token")
            .to_owned();
        Host { cookie, csrf }
    }

    async fn get(&self, path: &str, cookie: &str) -> http::Response<Body> {
        self.at(request("GET", path, &[("cookie", cookie)], ""), now())
            .await
    }

    async fn post(&self, path: &str, host: &Host, pairs: &[(&str, &str)]) -> http::Response<Body> {
        self.at(
            request("POST", path, &[("cookie", &host.cookie)], &encode(pairs)),
            now(),
        )
        .await
    }

    async fn create(&self, host: &Host, title: &str) -> GatheringId {
        let response = self
            .post("/host/gatherings", host, &gathering_form(&host.csrf, title))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "{}",
            text(&response)
        );
        let location = location(&response);
        let id = location
            .trim_start_matches("/host/gatherings/")
            .split('?')
            .next()
            .unwrap();
        GatheringId::parse(id).unwrap()
    }
}

fn gathering_form<'a>(csrf: &'a str, title: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("first_name", "Dana"),
        ("title", title),
        ("description", "Coffee and a plan."),
        ("date", "2026-10-03"),
        ("starts", "18:30"),
        ("ends", "20:00"),
        ("zip", "20001"),
        ("address", "12 Elm St"),
        ("private", "on"),
        ("capacity", "1"),
        ("accessibility", "Step-free entrance."),
        ("language", "en"),
    ]
}

#[tokio::test]
async fn a_host_signs_in_with_the_emailed_link_and_sees_their_dashboard() {
    let w = world();
    let response = w.ask_link("dana@example.org", now()).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/host/sign-in/sent?lang=en");

    let link = w.last_link().await;
    // Opening the link shows a button; it does not use the link (mail scanners open links).
    let page = w
        .at(
            request(
                "GET",
                link.trim_start_matches("https://api.rising.example"),
                &[],
                "",
            ),
            now(),
        )
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert!(text(&page).contains("action=\"/host/sign-in/confirm\""));

    let response = w.use_link(&link, now()).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("__Host-rising_host="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    let dashboard = w.get("/host", cookie.split(';').next().unwrap()).await;
    assert_eq!(dashboard.status(), StatusCode::OK);
    let html = text(&dashboard);
    assert!(html.contains("Your gatherings"), "{html}");
    assert!(html.contains("/host/sign-out"));
    let csp = dashboard.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self';"));
}

#[tokio::test]
async fn a_sign_in_link_works_once() {
    let w = world();
    w.ask_link("dana@example.org", now()).await;
    let link = w.last_link().await;
    assert_eq!(
        w.use_link(&link, now()).await.status(),
        StatusCode::SEE_OTHER
    );
    let again = w.use_link(&link, now()).await;
    assert_eq!(again.status(), StatusCode::GONE);
    assert!(again.headers().get("set-cookie").is_none());
    assert!(text(&again).contains("expired or was already used"));
}

#[tokio::test]
async fn a_sign_in_link_expires_after_15_minutes() {
    let w = world();
    w.ask_link("dana@example.org", now()).await;
    let link = w.last_link().await;
    let late = w.use_link(&link, now() + Duration::minutes(16)).await;
    assert_eq!(late.status(), StatusCode::GONE);
    assert!(late.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn an_invalid_email_is_refused_and_nothing_is_sent() {
    let w = world();
    for bad in ["", "dana", "dana@example.org\r\nBcc: x@example.org"] {
        let response = w.ask_link(bad, now()).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad:?}"
        );
        assert!(text(&response).contains("valid email address"));
    }
    assert!(w.queue.messages().is_empty());
}

#[tokio::test]
async fn links_for_one_address_are_rate_limited_so_nobody_can_email_bomb_it() {
    let w = world();
    for _ in 0..3 {
        assert_eq!(
            w.ask_link("dana@example.org", now()).await.status(),
            StatusCode::SEE_OTHER
        );
    }
    let refused = w.ask_link("Dana@Example.org", now()).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(w.queue.messages().len(), 3);
    // Another address is not affected, and the window passes.
    assert_eq!(
        w.ask_link("sam@example.org", now()).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        w.ask_link("dana@example.org", now() + Duration::minutes(16))
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_forged_or_unknown_session_cookie_is_signed_out() {
    let w = world();
    let host = w.sign_in("dana@example.org").await;
    let (name, value) = host.cookie.split_once('=').unwrap();
    let (token, _) = value.split_once('.').unwrap();
    for cookie in [
        format!("{name}={token}.AAAAAAAAAAAAAAAAAAAAAA"),
        format!("{name}={token}"),
        format!("{name}=garbage"),
    ] {
        let response = w.get("/host/gatherings/new", &cookie).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{cookie}");
        assert!(location(&response).starts_with("/host"));
    }
    assert_eq!(
        w.get("/host/gatherings/new", &host.cookie).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn signing_out_ends_the_session_for_good() {
    let w = world();
    let host = w.sign_in("dana@example.org").await;
    let response = w
        .post("/host/sign-out", &host, &[("csrf", &host.csrf)])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    // The old cookie no longer works, even if the browser kept it.
    assert_eq!(
        w.get("/host/gatherings/new", &host.cookie).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_form_without_the_right_csrf_token_changes_nothing() {
    let w = world();
    let host = w.sign_in("dana@example.org").await;
    let other = w.sign_in("sam@example.org").await;
    for csrf in ["", "forged", other.csrf.as_str()] {
        let response = w
            .post(
                "/host/gatherings",
                &host,
                &gathering_form(csrf, "Porch talk"),
            )
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{csrf:?}");
    }
    let signed_out = w.post("/host/sign-out", &host, &[("csrf", "forged")]).await;
    assert_eq!(signed_out.status(), StatusCode::FORBIDDEN);
    let html = text(&w.get("/host", &host.cookie).await);
    assert!(html.contains("You have no gatherings yet"), "{html}");
}

#[tokio::test]
async fn a_post_from_another_site_is_refused_before_anything_else() {
    let w = world();
    let host = w.sign_in("dana@example.org").await;
    let response = w
        .at(
            request(
                "POST",
                "/host/gatherings",
                &[("cookie", &host.cookie), ("origin", "https://evil.example")],
                &encode(&gathering_form(&host.csrf, "Porch talk")),
            ),
            now(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let html = text(&w.get("/host", &host.cookie).await);
    assert!(html.contains("You have no gatherings yet"));
}

#[tokio::test]
async fn an_oversized_form_gets_413() {
    let w = world();
    let host = w.sign_in("dana@example.org").await;
    let big = "x".repeat(40 * 1024);
    let response = w
        .post(
            "/host/gatherings",
            &host,
            &[("csrf", &host.csrf), ("description", &big)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_host_creates_a_gathering_and_gets_its_share_link_embed_snippet_and_text_code() {
    let w = world();
    let host = w.sign_in("dana@example.org").await;
    let id = w.create(&host, "Porch talk").await;
    let page = w
        .get(
            &format!("/host/gatherings/{}?created=1", id.as_str()),
            &host.cookie,
        )
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = text(&page);
    for needle in [
        format!("https://api.rising.example/g/{}", id.as_str()),
        format!(
            "&#60;script src=&#34;https://api.rising.example/embed.js&#34; data-gathering=&#34;{}&#34; async&#62;&#60;/script&#62;",
            id.as_str()
        ),
        "+15550100000".to_owned(),
        "12 Elm St".to_owned(),
        "2026-10-03 18:30–20:00 (America/New_York)".to_owned(),
        "Your gathering is ready".to_owned(),
    ] {
        assert!(html.contains(&needle), "missing {needle} in {html}");
    }
    let gathering = w.app.gatherings().get(&id).await.unwrap().unwrap();
    assert!(html.contains(gathering.code.as_str()));
    assert_eq!(gathering.description, "Coffee and a plan.");
    assert_eq!(gathering.capacity, Some(1));
    assert!(gathering.listed, "GATHERING_APPROVAL defaults to auto");
    // The dashboard lists it; the second gathering does not ask for the first name again.
    let dashboard = text(&w.get("/host", &host.cookie).await);
    assert!(dashboard.contains("Porch talk"));
    let form = text(&w.get("/host/gatherings/new", &host.cookie).await);
    assert!(!form.contains("name=\"first_name\""));
}

#[tokio::test]
async fn the_gathering_form_reports_every_problem_and_stores_nothing() {
    let w = world();
    let host = w.sign_in("dana@example.org").await;
    let response = w
        .post(
            "/host/gatherings",
            &host,
            &[
                ("csrf", &host.csrf),
                ("title", ""),
                ("date", "someday"),
                ("starts", "18:30"),
                ("ends", "20:00"),
                ("zip", "123"),
                ("address", ""),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = text(&response);
    for needle in [
        "Please fix 5 thing(s)",
        "href=\"#first_name\"",
        "href=\"#title\"",
        "href=\"#date\"",
        "href=\"#zip\"",
        "href=\"#address\"",
        "aria-invalid=\"true\"",
        "id=\"zip-error\"",
    ] {
        assert!(html.contains(needle), "missing {needle} in {html}");
    }
    assert!(text(&w.get("/host", &host.cookie).await).contains("You have no gatherings yet"));
}

#[tokio::test]
async fn another_host_gets_404_for_a_gathering_its_attendees_its_csv_and_its_edits() {
    let w = world();
    let owner = w.sign_in("dana@example.org").await;
    let intruder = w.sign_in("sam@example.org").await;
    let id = w.create(&owner, "Porch talk").await;
    let base = format!("/host/gatherings/{}", id.as_str());
    for path in [
        base.clone(),
        format!("{base}/edit"),
        format!("{base}/attendees.csv"),
    ] {
        let response = w.get(&path, &intruder.cookie).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(!text(&response).contains("12 Elm St"));
    }
    let mut form = gathering_form(&intruder.csrf, "Taken over");
    form.retain(|(k, _)| *k != "first_name");
    let response = w.post(&base, &intruder, &form).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let gathering = w.app.gatherings().get(&id).await.unwrap().unwrap();
    assert_eq!(gathering.title.as_str(), "Porch talk");
    // An unknown id gets the same answer.
    let unknown = w
        .get(
            "/host/gatherings/0123456789abcdef0123456789abcdef",
            &owner.cookie,
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(w.app.audit().audit_entries().is_empty());
}

#[tokio::test]
async fn a_host_edits_their_gathering() {
    let w = world();
    let host = w.sign_in("dana@example.org").await;
    let id = w.create(&host, "Porch talk").await;
    let base = format!("/host/gatherings/{}", id.as_str());
    let edit = text(&w.get(&format!("{base}/edit"), &host.cookie).await);
    assert!(edit.contains("value=\"Porch talk\"") && edit.contains("value=\"12 Elm St\""));
    assert!(edit.contains("value=\"18:30\"") && edit.contains(" checked"));
    let mut form = gathering_form(&host.csrf, "Porch talk, second round");
    form.retain(|(k, _)| *k != "first_name" && *k != "private");
    form.push(("timezone", "America/Chicago"));
    let response = w.post(&base, &host, &form).await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "{}",
        text(&response)
    );
    let gathering = w.app.gatherings().get(&id).await.unwrap().unwrap();
    assert_eq!(gathering.title.as_str(), "Porch talk, second round");
    assert_eq!(gathering.timezone, "America/Chicago");
    assert!(matches!(
        gathering.address,
        crate::domain::Address::Public(_)
    ));
    assert_eq!(
        gathering.starts_at,
        time::macros::datetime!(2026-10-03 23:30 UTC)
    );
}

#[tokio::test]
async fn the_attendee_list_shows_first_names_and_the_csv_is_spreadsheet_safe_and_audited() {
    let w = world();
    let host = w.sign_in("dana@example.org").await;
    let id = w.create(&host, "=Potluck, with friends").await;
    for (i, name) in ["Ana", "Luis"].iter().enumerate() {
        let contact = crate::privacy::ContactHasher::from_base64(KEY)
            .unwrap()
            .email(&crate::domain::EmailAddress::parse(&format!("{name}@example.org")).unwrap());
        let sealed = w
            .sealer
            .seal(&field_context(&contact, "first_name"), name)
            .await
            .unwrap();
        w.app
            .gatherings()
            .rsvp(
                NewRsvp {
                    gathering: &id,
                    contact: &contact,
                    source: if i == 0 {
                        RsvpSource::Form
                    } else {
                        RsvpSource::Sms
                    },
                    language: Language::En,
                    first_name: &sealed,
                    referral: None,
                },
                now() + Duration::minutes(i as i64),
            )
            .await
            .unwrap();
    }
    let page = text(
        &w.get(&format!("/host/gatherings/{}", id.as_str()), &host.cookie)
            .await,
    );
    assert!(
        page.contains("<td>Ana</td><td>Going</td><td>Web form</td>"),
        "{page}"
    );
    assert!(
        page.contains("<td>Luis</td><td>Waitlist</td><td>Text message</td>"),
        "{page}"
    );
    assert!(page.contains("1 going · 1 on the waitlist"));

    let response = w
        .get(
            &format!("/host/gatherings/{}/attendees.csv", id.as_str()),
            &host.cookie,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let csv = text(&response);
    assert!(csv.starts_with('\u{feff}'), "UTF-8 BOM for Excel");
    assert!(csv.contains("Ana,Going,Web form,,"), "{csv}");
    assert!(
        csv.contains("\"'=Potluck, with friends\""),
        "formula defused: {csv}"
    );
    assert_eq!(csv.lines().count(), 3);
    let audit = w.app.audit().audit_entries();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].what, AuditAction::AttendeeExport);
    assert_eq!(audit[0].rows, 2);
    assert_eq!(audit[0].reference.as_deref(), Some(id.as_str()));
}

#[tokio::test]
async fn the_host_pages_are_in_spanish_when_asked() {
    let w = world();
    let page = w.at(request("GET", "/host?lang=es", &[], ""), now()).await;
    let html = text(&page);
    assert!(html.contains("<html lang=\"es\">"));
    assert!(html.contains("Acceso de anfitriones"));
    assert!(html.contains("?lang=en"));
}

// --- invitations -----------------------------------------------------------------------------------

const PASTE: &str = "Ana Diaz, 202-555-0143, ana@example.org
Luis <luis@example.org>
(202) 555-0188 Maria
not a contact at all
Bea, 202-555-01
Ana D., ana@example.org
Omar, +1 202 555 0177
";

fn keys_hasher() -> crate::privacy::ContactHasher {
    crate::privacy::ContactHasher::from_base64(KEY).unwrap()
}

fn phone_hash(phone: &str) -> crate::privacy::ContactHash {
    keys_hasher().phone(&crate::domain::PhoneNumber::parse(phone).unwrap())
}

fn email_hash(email: &str) -> crate::privacy::ContactHash {
    keys_hasher().email(&crate::domain::EmailAddress::parse(email).unwrap())
}

impl World {
    async fn invite(
        &self,
        host: &Host,
        id: &GatheringId,
        pairs: &[(&str, &str)],
    ) -> http::Response<Body> {
        let mut all = vec![("csrf", host.csrf.as_str()), ("contacts", PASTE)];
        all.extend_from_slice(pairs);
        self.post(
            &format!("/host/gatherings/{}/invite", id.as_str()),
            host,
            &all,
        )
        .await
    }
}

#[tokio::test]
async fn the_preview_shows_who_will_be_invited_who_is_skipped_and_why_and_the_exact_text() {
    let w = world();
    let host = w.sign_in("dana@example.org").await;
    let id = w.create(&host, "Porch talk").await;
    // Omar texted STOP earlier.
    w.app.outbox().set_recipient(
        &phone_hash("+12025550177"),
        crate::outbound::Recipient {
            sms_opted_in: Some(false),
            ..Default::default()
        },
    );
    let form = text(
        &w.get(
            &format!("/host/gatherings/{}/invite", id.as_str()),
            &host.cookie,
        )
        .await,
    );
    assert!(form.contains("name=\"contacts\"") && form.contains("/host/host.js"));

    let response = w.invite(&host, &id, &[("action", "preview")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = text(&response);
    for needle in [
        // Ana (text + email), Luis (email), Maria (text): 2 texts, 2 emails; Omar's text skipped.
        "2 text(s) and 2 email(s) will be sent; 1 will be skipped.",
        "1 duplicate(s) merged.",
        "will be skipped: opted out",
        "not a contact at all",
        "Bea, 202-555-01",
        "Dana invites you to Porch talk",
        "Reply STOP to opt out",
        "https://api.rising.example/i/xxxxxxxxxx",
        "GSM-7",
        "Estimated cost: $",
        "name=\"attest\"",
    ] {
        assert!(html.contains(needle), "missing {needle} in {html}");
    }
    assert!(
        w.queue.messages().len() <= 2,
        "a preview sends nothing (only the sign-in emails)"
    );
    assert!(w.app.invites().all().is_empty());
}

#[tokio::test]
async fn sending_needs_the_attestation_then_queues_one_invitation_per_person_and_channel() {
    let w = world();
    let host = w.sign_in("dana@example.org").await;
    let id = w.create(&host, "Porch talk").await;
    let before = w.queue.messages().len();

    let refused = w.invite(&host, &id, &[("action", "send")]).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&refused).contains("Please confirm that you know these people."));
    assert_eq!(w.queue.messages().len(), before);

    let response = w
        .invite(&host, &id, &[("action", "send"), ("attest", "yes")])
        .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "{}",
        text(&response)
    );
    assert!(location(&response).starts_with(&format!("/host/gatherings/{}?sent=", id.as_str())));
    let queued: Vec<_> = w.queue.messages()[before..].to_vec();
    assert_eq!(queued.len(), 5, "Ana x2, Luis, Maria, Omar");
    let invites = w.app.invites().all();
    assert_eq!(invites.len(), 5);
    for q in &queued {
        let message = w.app.outbox().message(&q.id).expect("stored");
        assert_eq!(message.kind, crate::outbound::Kind::Invite);
        assert_eq!(message.consent, crate::outbound::ConsentBasis::HostAttested);
        assert!(message.batch.is_some());
        let body = w
            .sealer
            .open(&body_context(&q.id), &message.body)
            .await
            .unwrap();
        let invite = invites
            .iter()
            .find(|i| i.message == q.id)
            .expect("an invite per message");
        assert!(
            body.contains(&format!("/i/{}", invite.code)),
            "the personal link"
        );
        if message.channel == crate::outbound::Channel::Sms {
            assert!(body.starts_with("Dana invites you to Porch talk"), "{body}");
            assert!(body.ends_with("Reply STOP to opt out"), "{body}");
            let info = crate::sms::segments::segments(&body);
            assert_eq!(info.encoding, crate::sms::segments::Encoding::Gsm7);
            assert!(info.segments <= 2, "{body}: {info:?}");
        } else {
            assert!(body.contains("List-Unsubscribe"), "{body}");
        }
    }
    assert!(
        invites
            .iter()
            .any(|i| i.contact == phone_hash("+12025550143"))
    );
    assert!(
        invites
            .iter()
            .any(|i| i.contact == email_hash("luis@example.org"))
    );

    // The gathering page shows the batch's progress and reloads itself until it is done.
    let page = text(
        &w.get(
            &format!("/host/gatherings/{}?sent=1", id.as_str()),
            &host.cookie,
        )
        .await,
    );
    assert!(page.contains("<progress"), "{page}");
    assert!(page.contains("0 of 5 done"), "{page}");
    assert!(page.contains("http-equiv=\"refresh\""));
    assert!(
        page.contains("Invited by text: 3, joined: 0. Invited by email: 2, joined: 0."),
        "{page}"
    );
}

#[tokio::test]
async fn the_daily_quota_refuses_a_batch_that_does_not_fit_and_says_how_many_are_left() {
    let w = world();
    let host = w.sign_in("dana@example.org").await;
    let id = w.create(&host, "Porch talk").await;
    let ok = w
        .invite(&host, &id, &[("action", "send"), ("attest", "yes")])
        .await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let before = w.queue.messages().len();
    // 5 of 8 used; the same list again does not fit.
    let again = w
        .invite(&host, &id, &[("action", "send"), ("attest", "yes")])
        .await;
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        text(&again).contains("You can send 3 more invitation(s) today (the daily limit is 8)"),
        "{}",
        text(&again)
    );
    assert_eq!(w.queue.messages().len(), before);
}

#[tokio::test]
async fn a_personal_link_leads_to_the_gathering_and_an_rsvp_through_it_is_attributed_to_the_host() {
    let w = world();
    let host = w.sign_in("dana@example.org").await;
    let id = w.create(&host, "Porch talk").await;
    w.invite(&host, &id, &[("action", "send"), ("attest", "yes")])
        .await;
    let invite = w
        .app
        .invites()
        .all()
        .into_iter()
        .find(|i| i.channel == crate::outbound::Channel::Sms)
        .unwrap();
    let response = w
        .at(
            request("GET", &format!("/i/{}", invite.code), &[], ""),
            now(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        format!("/g/{}?ref={}&lang=en", id.as_str(), invite.code)
    );
    let unknown = w.at(request("GET", "/i/abcdefghij", &[], ""), now()).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    // The form records the code as the RSVP's referral.
    let sealed = w
        .sealer
        .seal(&field_context(&invite.contact, "first_name"), "Maria")
        .await
        .unwrap();
    w.app
        .gatherings()
        .rsvp(
            NewRsvp {
                gathering: &id,
                contact: &invite.contact,
                source: RsvpSource::Form,
                language: Language::En,
                first_name: &sealed,
                referral: Some(&invite.code),
            },
            now(),
        )
        .await
        .unwrap();
    let page = text(
        &w.get(&format!("/host/gatherings/{}", id.as_str()), &host.cookie)
            .await,
    );
    assert!(
        page.contains("<td>Maria</td><td>Going</td><td>Web form</td><td>You (Text)</td>"),
        "{page}"
    );
    assert!(page.contains("Invited by text: 3, joined: 1."), "{page}");
    let csv = text(
        &w.get(
            &format!("/host/gatherings/{}/attendees.csv", id.as_str()),
            &host.cookie,
        )
        .await,
    );
    assert!(csv.contains("Maria,Going,Web form,You (Text),"), "{csv}");
}

#[tokio::test]
async fn another_host_can_neither_preview_nor_send_invitations_for_a_gathering() {
    let w = world();
    let owner = w.sign_in("dana@example.org").await;
    let intruder = w.sign_in("sam@example.org").await;
    let id = w.create(&owner, "Porch talk").await;
    let before = w.queue.messages().len();
    for action in ["preview", "send"] {
        let response = w
            .invite(&intruder, &id, &[("action", action), ("attest", "yes")])
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{action}");
    }
    assert_eq!(
        w.get(
            &format!("/host/gatherings/{}/invite", id.as_str()),
            &intruder.cookie
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(w.queue.messages().len(), before);
    assert!(w.app.invites().all().is_empty());
}

#[test]
fn the_invitation_texts_are_gsm7_and_fit_two_segments_with_long_values() {
    for t in [&super::text::INVITE_EN, &super::text::INVITE_ES] {
        let body = crate::messages::render(
            t.sms_body,
            &[
                ("host", "Guadalupe"),
                ("title", "Neighbors for Democracy: porch talk"),
                ("when", "Sat, Oct 3, 6:30 PM"),
                ("link", "https://rising-example.org/i/abcdefghij"),
                ("program", "rising"),
            ],
        );
        let info = crate::sms::segments::segments(&body);
        assert_eq!(
            info.encoding,
            crate::sms::segments::Encoding::Gsm7,
            "{body}"
        );
        assert!(info.segments <= 2, "{body}: {info:?}");
        assert!(body.contains("STOP"));
    }
}

// --- organizer tools (/admin) --------------------------------------------------------------------

/// A training starting in a week, with `registered` people registered.
async fn training_with_registrants(w: &World, registered: usize) -> crate::domain::TrainingId {
    use crate::domain::{TrainingDraft, TrainingId, TrainingTitle};
    use crate::store::NewTrainingRegistration;
    let id = TrainingId::parse("host-training-1").unwrap();
    let training = TrainingDraft {
        title: TrainingTitle::parse("Host training").unwrap(),
        title_es: None,
        starts_at: now() + Duration::days(7),
        duration: Duration::hours(1),
        time_zone: "America/Chicago".into(),
        join_url: None,
        recording_url: None,
        recording_published_at: None,
    }
    .build(id.clone())
    .unwrap();
    w.app
        .trainings()
        .put_training(&training, now())
        .await
        .unwrap();
    for i in 0..registered {
        let contact = crate::privacy::ContactHash::parse(&format!("e.person{i}")).unwrap();
        let first_name = w
            .sealer
            .seal(&field_context(&contact, "first_name"), "Ana")
            .await
            .unwrap();
        let registration = NewTrainingRegistration {
            training: &id,
            contact: &contact,
            language: Language::En,
            first_name: &first_name,
            source: RsvpSource::Form,
            referral: None,
        };
        w.app
            .trainings()
            .register(registration, now())
            .await
            .unwrap();
    }
    id
}

/// Posts an organizer form with the signed-in person's CSRF token.
async fn publish(
    w: &World,
    path: &str,
    who: &Host,
    pairs: &[(&str, &str)],
) -> http::Response<Body> {
    let mut all = vec![("csrf", who.csrf.as_str())];
    all.extend_from_slice(pairs);
    w.post(path, who, &all).await
}

#[tokio::test]
async fn an_organizer_sees_the_trainings_with_their_registrations_and_a_recording_form() {
    let w = world();
    training_with_registrants(&w, 3).await;
    let organizer = w.sign_in("organizer@rising.example").await;
    let response = w.get("/admin", &organizer.cookie).await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = text(&response);
    assert!(html.contains("Organizer tools"), "{html}");
    assert!(
        html.contains("<th scope=\"row\">Host training</th>"),
        "{html}"
    );
    assert!(html.contains("<td>3</td>"), "{html}");
    assert!(
        html.contains("action=\"/admin/trainings/host-training-1/recording\""),
        "{html}"
    );
    assert!(
        html.contains("<label for=\"url-host-training-1\">"),
        "{html}"
    );
    // The second address of the list is an organizer too; the entry that is not an address is nobody.
    let second = w.sign_in("second@rising.example").await;
    assert_eq!(
        w.get("/admin", &second.cookie).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_host_who_is_not_an_organizer_is_refused_and_someone_signed_out_is_sent_to_sign_in() {
    let w = world();
    let id = training_with_registrants(&w, 1).await;
    let host = w.sign_in("host@rising.example").await;
    let response = w.get("/admin", &host.cookie).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(text(&response).contains("for the campaign&#39;s organizers"));
    let path = format!("/admin/trainings/{}/recording", id.as_str());
    let pairs = [("url", "https://video.example/rec"), ("confirm", "yes")];
    let response = publish(&w, &path, &host, &pairs).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        w.app
            .trainings()
            .get_training(&id)
            .await
            .unwrap()
            .unwrap()
            .recording_url,
        None
    );

    let response = w.get("/admin", "").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(location(&response).starts_with("/host"));
}

#[tokio::test]
async fn publishing_a_recording_is_reviewed_then_confirmed_audited_and_done_once() {
    let w = world();
    let id = training_with_registrants(&w, 2).await;
    let organizer = w.sign_in("organizer@rising.example").await;
    let path = format!("/admin/trainings/{}/recording", id.as_str());

    // Review: nothing is stored yet; the page says what will happen and to how many people.
    let response = publish(
        &w,
        &path,
        &organizer,
        &[("url", " https://video.example/host ")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = text(&response);
    assert!(
        html.contains("the link https://video.example/host goes to the 2 people registered"),
        "{html}"
    );
    assert!(html.contains("name=\"confirm\" value=\"yes\""), "{html}");
    assert_eq!(
        w.app
            .trainings()
            .get_training(&id)
            .await
            .unwrap()
            .unwrap()
            .recording_url,
        None
    );
    assert!(w.app.audit().audit_entries().is_empty());

    // Confirm: published, audited, and the page says so.
    let pairs = [("url", "https://video.example/host"), ("confirm", "yes")];
    let response = publish(&w, &path, &organizer, &pairs).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        format!("/admin?published={}", id.as_str())
    );
    let training = w.app.trainings().get_training(&id).await.unwrap().unwrap();
    assert_eq!(
        training.recording_url.unwrap().as_str(),
        "https://video.example/host"
    );
    assert_eq!(training.recording_published_at, Some(now()));
    let audit = w.app.audit().audit_entries();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].what, AuditAction::RecordingPublication);
    assert_eq!(audit[0].rows, 2);
    assert!(
        !audit[0].who.contains("organizer@"),
        "the audit names no email: {}",
        audit[0].who
    );
    let page = text(&w.get(&location(&response), &organizer.cookie).await);
    assert!(
        page.contains("Published. The link goes to everyone registered"),
        "{page}"
    );
    assert!(page.contains("Published 20"), "{page}");

    // Again (a double click, a second organizer): refused, nothing changed.
    let pairs = [("url", "https://video.example/other"), ("confirm", "yes")];
    let response = publish(&w, &path, &organizer, &pairs).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(text(&response).contains("published already"));
    let training = w.app.trainings().get_training(&id).await.unwrap().unwrap();
    assert_eq!(
        training.recording_url.unwrap().as_str(),
        "https://video.example/host"
    );
}

#[tokio::test]
async fn a_recording_link_that_is_not_https_or_a_forged_form_publishes_nothing() {
    let w = world();
    let id = training_with_registrants(&w, 1).await;
    let organizer = w.sign_in("organizer@rising.example").await;
    let path = format!("/admin/trainings/{}/recording", id.as_str());

    let pairs = [("url", "http://video.example/host"), ("confirm", "yes")];
    let response = publish(&w, &path, &organizer, &pairs).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&response).contains("role=\"alert\""));

    let forged = Host {
        cookie: organizer.cookie.clone(),
        csrf: "forged".into(),
    };
    let pairs = [("url", "https://video.example/host"), ("confirm", "yes")];
    let response = publish(&w, &path, &forged, &pairs).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let response = publish(
        &w,
        "/admin/trainings/no-such-training/recording",
        &organizer,
        &pairs,
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        w.app
            .trainings()
            .get_training(&id)
            .await
            .unwrap()
            .unwrap()
            .recording_url,
        None
    );
    assert!(w.app.audit().audit_entries().is_empty());
}

#[tokio::test]
async fn the_organizer_pages_speak_spanish() {
    let w = world();
    training_with_registrants(&w, 1).await;
    let organizer = w.sign_in("organizer@rising.example").await;
    let html = text(&w.get("/admin?lang=es", &organizer.cookie).await);
    assert!(html.contains("<html lang=\"es\">"), "{html}");
    assert!(html.contains("Herramientas de organización"), "{html}");
}

/// The training form as an organizer fills it in, for a training in December 2026.
fn training_pairs(title: &str) -> Vec<(&str, &str)> {
    vec![
        ("title", title),
        ("title_es", "Capacitación para anfitriones"),
        ("date", "2026-12-10"),
        ("starts", "19:00"),
        ("duration", "90"),
        ("time_zone", "America/Chicago"),
        ("join_url", "https://meet.example.org/host"),
    ]
}

#[tokio::test]
async fn an_organizer_adds_a_training_people_can_then_register_for() {
    let w = world();
    let organizer = w.sign_in("organizer@rising.example").await;
    let form = w.get("/admin/trainings/new", &organizer.cookie).await;
    assert_eq!(form.status(), StatusCode::OK);
    let html = text(&form);
    assert!(html.contains("action=\"/admin/trainings\""), "{html}");
    assert!(html.contains("<label for=\"time_zone\">"), "{html}");

    let response = publish(
        &w,
        "/admin/trainings",
        &organizer,
        &training_pairs("Host training"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(location(&response).starts_with("/admin?created="));
    let trainings = w.app.trainings().trainings().await.unwrap();
    assert_eq!(trainings.len(), 1);
    let training = &trainings[0];
    assert_eq!(training.title.as_str(), "Host training");
    // 19:00 in Chicago (CST) is 01:00 UTC the next day; 90 minutes long.
    assert_eq!(
        training.starts_at,
        time::macros::datetime!(2026-12-11 01:00 UTC)
    );
    assert_eq!(training.duration(), Duration::minutes(90));
    assert_eq!(
        training.join_url.as_ref().map(|u| u.as_str()),
        Some("https://meet.example.org/host")
    );
    assert_eq!(training.recording_url, None);
    let page = text(&w.get(&location(&response), &organizer.cookie).await);
    assert!(page.contains("The training was added."), "{page}");
    assert!(
        page.contains("<th scope=\"row\">Host training</th>"),
        "{page}"
    );
}

#[tokio::test]
async fn a_training_form_with_mistakes_is_shown_again_with_each_one_and_nothing_is_stored() {
    let w = world();
    let organizer = w.sign_in("organizer@rising.example").await;
    let mut pairs = training_pairs("Host training\r\nBcc: x@example.org");
    pairs.retain(|(k, _)| *k != "duration");
    pairs.push(("duration", "0"));
    let response = publish(&w, "/admin/trainings", &organizer, &pairs).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = text(&response);
    assert!(html.contains("role=\"alert\""), "{html}");
    assert!(html.contains("<a href=\"#title\">"), "{html}");
    assert!(html.contains("<a href=\"#duration\">"), "{html}");
    assert!(
        html.contains("id=\"duration\" name=\"duration\" value=\"0\""),
        "{html}"
    );
    assert!(w.app.trainings().trainings().await.unwrap().is_empty());

    // A forged form and a host who is not an organizer store nothing either.
    let forged = Host {
        cookie: organizer.cookie.clone(),
        csrf: "forged".into(),
    };
    let good = training_pairs("Host training");
    let response = publish(&w, "/admin/trainings", &forged, &good).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let host = w.sign_in("host@rising.example").await;
    let response = publish(&w, "/admin/trainings", &host, &good).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(w.app.trainings().trainings().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_organizer_edits_a_training_and_its_published_recording_stays() {
    let w = world();
    let id = training_with_registrants(&w, 1).await;
    let url = crate::domain::TrainingUrl::parse("https://video.example/rec").unwrap();
    w.app
        .trainings()
        .publish_recording(&id, &url, now())
        .await
        .unwrap();
    let organizer = w.sign_in("organizer@rising.example").await;
    let edit = format!("/admin/trainings/{}/edit", id.as_str());
    let html = text(&w.get(&edit, &organizer.cookie).await);
    assert!(
        html.contains("id=\"title\" name=\"title\" value=\"Host training\""),
        "{html}"
    );
    assert!(
        html.contains("<option value=\"America/Chicago\" selected>"),
        "{html}"
    );

    let path = format!("/admin/trainings/{}", id.as_str());
    let response = publish(
        &w,
        &path,
        &organizer,
        &training_pairs("Host training, part 1"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), format!("/admin?saved={}", id.as_str()));
    let training = w.app.trainings().get_training(&id).await.unwrap().unwrap();
    assert_eq!(training.title.as_str(), "Host training, part 1");
    assert_eq!(
        training.title_es.as_ref().map(|t| t.as_str()),
        Some("Capacitación para anfitriones")
    );
    assert_eq!(training.duration(), Duration::minutes(90));
    assert_eq!(training.recording_url, Some(url));
    assert_eq!(training.recording_published_at, Some(now()));

    let response = publish(
        &w,
        "/admin/trainings/no-such-training",
        &organizer,
        &training_pairs("x"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

// --- approval queue and keywords -----------------------------------------------------------------

/// A campaign whose new gatherings wait for an organizer's approval.
fn approval_world() -> World {
    world_with(config_with(&[("GATHERING_APPROVAL", "required")]))
}

#[tokio::test]
async fn an_organizer_approves_a_waiting_gathering_once_and_it_is_listed() {
    let w = approval_world();
    let host = w.sign_in("dana@example.org").await;
    let id = w.create(&host, "Porch talk").await;
    let stored = w.app.gatherings().get(&id).await.unwrap().unwrap();
    assert!(stored.awaiting_review(), "{stored:?}");
    let dashboard = text(&w.get("/host", &host.cookie).await);
    assert!(
        dashboard.contains("Waiting for an organizer"),
        "{dashboard}"
    );
    assert!(
        !dashboard.contains("href=\"/admin\""),
        "hosts get no organizer link"
    );

    let organizer = w.sign_in("organizer@rising.example").await;
    let dashboard = text(&w.get("/host", &organizer.cookie).await);
    assert!(
        dashboard.contains("<a href=\"/admin\">Organizer tools"),
        "{dashboard}"
    );
    let home = text(&w.get("/admin", &organizer.cookie).await);
    assert!(home.contains("href=\"/admin/gatherings\""), "{home}");
    let queue = text(&w.get("/admin/gatherings", &organizer.cookie).await);
    assert!(queue.contains("<h2 id=\"g-"), "{queue}");
    assert!(queue.contains("Porch talk"), "{queue}");
    assert!(queue.contains("Coffee and a plan."), "{queue}");
    assert!(
        !queue.contains("12 Elm St") && !queue.contains("Dana"),
        "neither the private address nor the host's name: {queue}"
    );
    let path = format!("/admin/gatherings/{}/review", id.as_str());
    let response = publish(&w, &path, &organizer, &[("decision", "approve")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin/gatherings?approved=1");
    assert!(w.app.gatherings().get(&id).await.unwrap().unwrap().listed);
    let queue = text(&w.get(&location(&response), &organizer.cookie).await);
    assert!(queue.contains("Approved: it is shown"), "{queue}");
    assert!(queue.contains("No gathering is waiting"), "{queue}");

    // A second decision (another organizer, a double click) changes nothing.
    let response = publish(&w, &path, &organizer, &[("decision", "decline")]).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let gathering = w.app.gatherings().get(&id).await.unwrap().unwrap();
    assert!(gathering.listed && gathering.declined_at.is_none());
}

#[tokio::test]
async fn a_declined_gathering_stays_unlisted_and_its_host_sees_why() {
    let w = approval_world();
    let host = w.sign_in("dana@example.org").await;
    let id = w.create(&host, "Porch talk").await;
    let organizer = w.sign_in("organizer@rising.example").await;
    let path = format!("/admin/gatherings/{}/review", id.as_str());

    // Only an organizer, with the session's token and a decision, may decide.
    let response = publish(&w, &path, &host, &[("decision", "approve")]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let forged = Host {
        cookie: organizer.cookie.clone(),
        csrf: "forged".into(),
    };
    let response = publish(&w, &path, &forged, &[("decision", "approve")]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = publish(&w, &path, &organizer, &[("decision", "maybe")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        w.app
            .gatherings()
            .get(&id)
            .await
            .unwrap()
            .unwrap()
            .awaiting_review()
    );

    let response = publish(&w, &path, &organizer, &[("decision", "decline")]).await;
    assert_eq!(location(&response), "/admin/gatherings?declined=1");
    let gathering = w.app.gatherings().get(&id).await.unwrap().unwrap();
    assert!(!gathering.listed);
    assert_eq!(gathering.declined_at, Some(now()));
    let dashboard = text(&w.get("/host", &host.cookie).await);
    assert!(
        dashboard.contains("Not approved by an organizer"),
        "{dashboard}"
    );
}

#[tokio::test]
async fn an_organizer_adds_and_removes_keywords_and_bad_ones_are_refused() {
    let w = world();
    let organizer = w.sign_in("organizer@rising.example").await;
    let host = w.sign_in("dana@example.org").await;
    let id = w.create(&host, "Porch talk").await;
    let code = w.app.gatherings().get(&id).await.unwrap().unwrap().code;

    let add = |pairs: &[(&str, &str)]| {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let (w, organizer) = (&w, &organizer);
        async move {
            let borrowed: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            publish(w, "/admin/keywords", organizer, &borrowed).await
        }
    };
    let response = add(&[
        ("word", "vamos"),
        ("language", "es"),
        ("target", "campaign"),
    ])
    .await;
    assert_eq!(location(&response), "/admin/keywords?added=1");
    let lower = code.as_str().to_lowercase();
    let response = add(&[("word", "porch"), ("target", "gathering"), ("code", &lower)]).await;
    assert_eq!(location(&response), "/admin/keywords?added=1");
    let page = text(&w.get("/admin/keywords?added=1", &organizer.cookie).await);
    assert!(page.contains("<th scope=\"row\">VAMOS</th>"), "{page}");
    assert!(page.contains("Joining the campaign"), "{page}");
    assert!(
        page.contains(&format!("The gathering Porch talk (code {code})")),
        "{page}"
    );
    assert!(page.contains("+15550100000"), "{page}");

    // Refused, each with the reason by its field, and nothing stored.
    for (word, target, code_text, expected) in [
        ("STOP", "campaign", "", "always mean opt-out"),
        ("VAMOS", "campaign", "", "exists already"),
        (code.as_str(), "campaign", "", "uses this word as its code"),
        ("PARK", "gathering", "NOSUCH1", "No gathering has this code"),
    ] {
        let response = add(&[("word", word), ("target", target), ("code", code_text)]).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{word}"
        );
        let html = text(&response);
        assert!(html.contains(expected), "{word}: {html}");
        assert!(html.contains("aria-invalid=\"true\""), "{word}");
    }
    let words: Vec<String> = w
        .app
        .gatherings()
        .keywords()
        .await
        .unwrap()
        .iter()
        .map(|k| k.word.as_str().to_owned())
        .collect();
    assert_eq!(words, ["PORCH", "VAMOS"]);

    let response = publish(&w, "/admin/keywords/vamos/remove", &organizer, &[]).await;
    assert_eq!(location(&response), "/admin/keywords?removed=1");
    let response = publish(&w, "/admin/keywords/VAMOS/remove", &organizer, &[]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // A gathering's code is not a keyword: it is never removed here.
    let path = format!("/admin/keywords/{code}/remove");
    let response = publish(&w, &path, &organizer, &[]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(w.app.gatherings().by_code(&code).await.unwrap().is_some());
    let response = publish(&w, "/admin/keywords/PORCH/remove", &host, &[]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_campaign_overview_shows_the_counters_as_figures_rates_and_cost() {
    use crate::stats::Counts;
    let w = world();
    let mut today = Counts {
        people: 1_200,
        registrations: 40,
        sms_segments: 1_500,
        hard_bounces: 5,
        complaints: 1,
        ..Counts::default()
    };
    today.rsvps.sms = 300;
    today.rsvps.form = 200;
    today.rsvps.invite = 100;
    today.opt_ins.sms = 1_000;
    today.opt_outs.sms = 20;
    today.sent.invite.sms = 1_000;
    today.sent.invite.email = 500;
    let yesterday = Counts {
        people: 3,
        ..Counts::default()
    };
    {
        let mut days = w.app.stats().days.lock().unwrap();
        days.insert(now().date(), today);
        days.insert(now().date().previous_day().unwrap(), yesterday);
        // Older than the recent table, still in the totals.
        days.insert(now().date() - Duration::days(40), yesterday);
    }
    let organizer = w.sign_in("organizer@rising.example").await;
    let response = w.get("/admin/overview", &organizer.cookie).await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = text(&response);
    for needle in [
        "<dt>People</dt><dd>1,206</dd>",
        "<dd>600 (300 by text, 200 on the web form, 100 from a host&#39;s invitation)</dd>",
        "<th scope=\"row\">Opt-out rate</th><td>2.0%</td>",
        "<th scope=\"row\">Bounce rate (of emails sent)</th><td>—</td><td>1.0%</td>",
        "<th scope=\"row\">Invitations</th><td>1,000</td><td>500</td>",
        "<th scope=\"row\">2026-09-21</th><td>1,200</td><td>600</td>",
        "<th scope=\"row\">2026-09-20</th><td>3</td>",
    ] {
        assert!(html.contains(needle), "missing {needle} in {html}");
    }
    assert!(html.contains("1,500 text segments"), "{html}");
    assert_eq!(
        html.matches("<th scope=\"row\">2026-").count(),
        14,
        "{html}"
    );

    let host = w.sign_in("host@rising.example").await;
    assert_eq!(
        w.get("/admin/overview", &host.cookie).await.status(),
        StatusCode::FORBIDDEN
    );
    let es = text(&w.get("/admin/overview?lang=es", &organizer.cookie).await);
    assert!(es.contains("<dt>Personas</dt><dd>1.206</dd>"), "{es}");
}

#[tokio::test]
async fn the_settings_page_shows_the_campaigns_rules_and_the_parameter_behind_each() {
    let w = approval_world();
    let organizer = w.sign_in("organizer@rising.example").await;
    let response = w.get("/admin/settings", &organizer.cookie).await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = text(&response);
    for needle in [
        "wait for an organizer&#39;s approval",
        "<td>8 a day</td>",
        "at most once per channel in 30 days",
        "<td>HostInviteDailyLimit</td>",
        "<td>GatheringApproval</td>",
        "<td>AllowedPhoneCountries</td>",
        "08:00 to 21:00 in the recipient&#39;s time zone (20:00 at the latest for Florida",
        "<td>the law (TCPA, Florida FTSA)</td>",
        "name=\"window\" value=\"30\"",
        "name=\"countries\" value=\"US\"",
        "<option value=\"8\" selected>08:00</option>",
        "<option value=\"21\" selected>21:00</option>",
    ] {
        assert!(html.contains(needle), "missing {needle} in {html}");
    }
    let host = w.sign_in("host@rising.example").await;
    assert_eq!(
        w.get("/admin/settings", &host.cookie).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn an_organizers_wording_of_the_invitation_is_what_hosts_send_until_it_is_reset() {
    let w = world();
    let organizer = w.sign_in("organizer@rising.example").await;
    let page = text(&w.get("/admin/templates", &organizer.cookie).await);
    assert!(page.contains("{host} invites you to {title}"), "{page}");
    assert!(
        page.contains("Segments in a typical text: 1 (at most 2). GSM-7"),
        "{page}"
    );
    // Every text sent to many at once has its two editors, each counted with its own values.
    for id in [
        "invite_sms-es",
        "reminder_sms-en",
        "follow_up_sms-es",
        "training_reminder_sms-en",
        "recording_sms-es",
    ] {
        assert!(page.contains(&format!("id=\"{id}\"")), "{id}: {page}");
    }
    assert!(
        page.contains("Placeholders: {program} {title} {url}. Keep {url}"),
        "{page}"
    );
    assert!(
        page.contains("data-sample=\"program=rising\ntitle="),
        "{page}"
    );
    assert!(
        page.contains("data-segments=\"invite_sms-en-count\""),
        "{page}"
    );
    assert!(page.contains("/host/host.js"), "{page}");

    // Refused: each problem said, in place, and nothing stored.
    let response = publish(
        &w,
        "/admin/templates/invite_sms/en",
        &organizer,
        &[("action", "save"), ("text", "Come to {title} at {place}!")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = text(&response);
    assert!(
        html.contains("must keep {link}") && html.contains("reply STOP"),
        "{html}"
    );
    assert!(
        html.contains(">Come to {title} at {place}!</textarea>"),
        "{html}"
    );
    assert!(w.app.gatherings().templates().await.unwrap().is_empty());

    let wording =
        "{host} would love you at {title}, {when}. Yes? {link} -{program}. STOP to opt out";
    let response = publish(
        &w,
        "/admin/templates/invite_sms/en",
        &organizer,
        &[("action", "save"), ("text", wording)],
    )
    .await;
    assert_eq!(location(&response), "/admin/templates?saved=1");
    let page = text(&w.get("/admin/templates?saved=1", &organizer.cookie).await);
    assert!(page.contains("Reworded by an organizer."), "{page}");

    // A host's invitation now reads so.
    let host = w.sign_in("dana@example.org").await;
    let id = w.create(&host, "Porch talk").await;
    let preview = text(&w.invite(&host, &id, &[("action", "preview")]).await);
    assert!(
        preview.contains("Dana would love you at Porch talk"),
        "{preview}"
    );

    // Restored: the standard wording again. Only organizers may change it.
    let response = publish(
        &w,
        "/admin/templates/invite_sms/en",
        &host,
        &[("action", "reset")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = publish(
        &w,
        "/admin/templates/invite_sms/en",
        &organizer,
        &[("action", "reset")],
    )
    .await;
    assert_eq!(location(&response), "/admin/templates?reset=1");
    let preview = text(&w.invite(&host, &id, &[("action", "preview")]).await);
    assert!(
        preview.contains("Dana invites you to Porch talk"),
        "{preview}"
    );
}

#[tokio::test]
async fn an_organizer_sets_approval_and_the_daily_quota_on_the_page_and_hosts_follow_them_until_reset()
 {
    let w = world();
    let organizer = w.sign_in("organizer@rising.example").await;
    let page = text(&w.get("/admin/settings", &organizer.cookie).await);
    assert!(
        page.contains("value=\"auto\" checked") && page.contains("name=\"quota\" value=\"8\""),
        "the form starts from the deployed rules: {page}"
    );
    assert!(!page.contains("value=\"reset\""), "nothing to reset yet");

    let response = publish(
        &w,
        "/admin/settings",
        &organizer,
        &[
            ("action", "save"),
            ("approval", "required"),
            ("quota", "2"),
            ("window", "60"),
            ("countries", "us pr"),
            ("send_from", "9"),
            ("send_until", "20"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin/settings?saved=1");
    let page = text(&w.get("/admin/settings?saved=1", &organizer.cookie).await);
    assert!(page.contains("Saved: the next gatherings"), "{page}");
    assert!(
        page.contains("<td>this page; deployed: 8 a day</td>"),
        "{page}"
    );
    assert!(page.contains("<td>2 a day</td>"), "{page}");
    assert!(page.contains("<td>US, PR</td>"), "{page}");
    assert!(page.contains("once per channel in 60 days"), "{page}");
    assert!(
        page.contains("09:00 to 20:00 in the recipient&#39;s time zone"),
        "{page}"
    );
    assert!(page.contains("value=\"reset\""), "{page}");
    assert_eq!(
        w.app.gatherings().campaign_rules().await.unwrap(),
        Some(crate::store::CampaignRules {
            approval_required: true,
            invite_quota: 2,
            invite_window_days: 60,
            phone_countries: vec!["US".into(), "PR".into()],
            sending_hours: crate::outbound::SendingHours::new(9, 20).unwrap(),
        })
    );

    // A host's next gathering waits for approval, and their invitations stop at 2 a day.
    let host = w.sign_in("dana@example.org").await;
    let id = w.create(&host, "Porch talk").await;
    let stored = w.app.gatherings().get(&id).await.unwrap().unwrap();
    assert!(stored.awaiting_review(), "{stored:?}");
    let before = w.queue.messages().len();
    let refused = w
        .invite(&host, &id, &[("action", "send"), ("attest", "yes")])
        .await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        text(&refused).contains("the daily limit is 2"),
        "{}",
        text(&refused)
    );
    assert_eq!(w.queue.messages().len(), before, "nothing sent");
    // A Puerto Rico number may be invited by text now.
    let refuses_puerto_rico = async |id: &GatheringId| {
        let response = w
            .post(
                &format!("/host/gatherings/{}/invite", id.as_str()),
                &host,
                &[
                    ("csrf", host.csrf.as_str()),
                    ("contacts", "Marisol, +1 787 234 5678"),
                    ("action", "preview"),
                ],
            )
            .await;
        text(&response).contains("We can&#39;t send texts to phone numbers in that country")
    };
    assert!(!refuses_puerto_rico(&id).await);

    // Back to the deployed rules: listed at once, 8 a day, no texts to Puerto Rico.
    let response = publish(&w, "/admin/settings", &organizer, &[("action", "reset")]).await;
    assert_eq!(location(&response), "/admin/settings?reset=1");
    assert_eq!(w.app.gatherings().campaign_rules().await.unwrap(), None);
    let page = text(&w.get("/admin/settings?reset=1", &organizer.cookie).await);
    assert!(page.contains("The deployed rules apply again."), "{page}");
    let id = w.create(&host, "Stoop supper").await;
    assert!(w.app.gatherings().get(&id).await.unwrap().unwrap().listed);
    let sent = w
        .invite(&host, &id, &[("action", "send"), ("attest", "yes")])
        .await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER, "{}", text(&sent));
    assert!(refuses_puerto_rico(&id).await);
}

#[tokio::test]
async fn a_rules_form_with_mistakes_or_from_someone_else_changes_nothing() {
    let w = world();
    let organizer = w.sign_in("organizer@rising.example").await;
    let valid = [
        ("action", "save"),
        ("approval", "auto"),
        ("quota", "5"),
        ("window", "30"),
        ("countries", "US"),
        ("send_from", "8"),
        ("send_until", "21"),
    ];
    let cases: [(&str, &str, &str); 13] = [
        (
            "approval",
            "maybe",
            "Choose whether new gatherings wait for approval.",
        ),
        (
            "quota",
            "0",
            "Enter a whole number of invitations from 1 to 10000.",
        ),
        (
            "quota",
            "10001",
            "Enter a whole number of invitations from 1 to 10000.",
        ),
        (
            "quota",
            "ten",
            "Enter a whole number of invitations from 1 to 10000.",
        ),
        ("window", "0", "Enter a whole number of days from 1 to 365."),
        (
            "window",
            "366",
            "Enter a whole number of days from 1 to 365.",
        ),
        ("countries", "", "countries whose numbers start with +1"),
        (
            "countries",
            "US MX",
            "countries whose numbers start with +1",
        ),
        ("countries", "USA", "countries whose numbers start with +1"),
        ("send_from", "7", "Choose a start from 08:00 to 19:00"),
        ("send_until", "22", "Choose a start from 08:00 to 19:00"),
        ("send_until", "8", "Choose a start from 08:00 to 19:00"),
        ("send_from", "20", "Choose a start from 08:00 to 19:00"),
    ];
    for (field, value, message) in cases {
        let pairs: Vec<(&str, &str)> = valid
            .iter()
            .map(|&(name, v)| (name, if name == field { value } else { v }))
            .collect();
        let response = publish(&w, "/admin/settings", &organizer, &pairs).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field} {value}"
        );
        let html = text(&response);
        assert!(html.contains("role=\"alert\""), "{html}");
        assert!(html.contains(message), "{field} {value}: {html}");
        if ["quota", "window", "countries"].contains(&field) {
            assert!(
                html.contains(&format!("name=\"{field}\" value=\"{value}\"")),
                "shown again as typed: {html}"
            );
        }
    }
    assert_eq!(w.app.gatherings().campaign_rules().await.unwrap(), None);

    let forged = w
        .post(
            "/admin/settings",
            &organizer,
            &[("csrf", "forged"), ("approval", "required"), ("quota", "1")],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let host = w.sign_in("dana@example.org").await;
    let response = publish(
        &w,
        "/admin/settings",
        &host,
        &[("action", "save"), ("approval", "required"), ("quota", "1")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(w.app.gatherings().campaign_rules().await.unwrap(), None);

    let es = text(&w.get("/admin/settings?lang=es", &organizer.cookie).await);
    assert!(es.contains("Reglas que puedes cambiar aquí"), "{es}");
}

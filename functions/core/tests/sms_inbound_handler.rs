//! The `sms-inbound` handler fed with real API Gateway HTTP API (payload 2.0) events, with in-memory
//! fakes for storage and secrets. The event is the published example from aws-lambda-rust-runtime
//! (`../shared/reference/aws-events/`), adapted to a Twilio webhook. Where that folder is absent the
//! tests say so loudly and skip.

use base64::Engine as _;
use rising_core::config::{
    CampaignConfig, EmailStepConfig, ProgramConfig, SmsInboundConfig, WebhookConfig,
};
use rising_core::conversation::SmsInbound;
use rising_core::domain::EmailAddress;
use rising_core::outbound::{QueueError, QueuedMessage, SendQueue};
use rising_core::privacy::Sealer;
use rising_core::secrets::StaticSecretStore;
use rising_core::sms::signature;
use rising_core::store::{MemoryGatheringStore, MemoryInboundStore};

const TOKEN: &str = "12345";
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const HASH_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

fn reference_event() -> Option<serde_json::Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/aws-events/example-apigw-v2-request-no-authorizer.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(serde_json::from_str(&text).expect("reference event is JSON")),
        Err(_) => {
            eprintln!(
                "SKIPPED: reference event not found at {} — handler event tests did not run",
                path.display()
            );
            None
        }
    }
}

fn config(public_base_url: Option<&str>) -> SmsInboundConfig {
    SmsInboundConfig {
        table_name: "t".into(),
        webhook: WebhookConfig {
            public_base_url: public_base_url.map(str::to_string),
            account_sid: ACCOUNT.into(),
            auth_token_parameter: "/t".into(),
            contact_hash_key_parameter: "/k".into(),
        },
        program: ProgramConfig {
            name: "rising".into(),
            support_contact: "help@example.org".into(),
        },
        campaign: CampaignConfig {
            overview_recording_url: "https://r.example/overview".into(),
            recordings_url: "https://r.example/all".into(),
            safety_url: "https://r.example/safety".into(),
            host_signup_url: "https://r.example/host".into(),
            search_radius_miles: 25.0,
        },
        email: EmailStepConfig {
            from: EmailAddress::parse("hello@example.org").unwrap(),
            link_key_parameter: "/l".into(),
            links_base_url: "https://example.org".into(),
            send_queue_url: "unused-in-memory".into(),
        },
        contact_data_key_id: "unused-in-memory".into(),
    }
}

/// The send queue, in memory.
#[derive(Clone, Default)]
struct Queue(std::sync::Arc<std::sync::Mutex<Vec<QueuedMessage>>>);

impl SendQueue for Queue {
    async fn send(
        &self,
        messages: &[(QueuedMessage, std::time::Duration)],
    ) -> Result<Vec<bool>, QueueError> {
        let mut queue = self.0.lock().unwrap();
        queue.extend(messages.iter().map(|(m, _)| m.clone()));
        Ok(vec![true; messages.len()])
    }
}

type App = SmsInbound<MemoryInboundStore, MemoryGatheringStore, StaticSecretStore, Queue>;

fn app(public_base_url: Option<&str>) -> App {
    let secrets = StaticSecretStore::default()
        .with("/t", TOKEN)
        .with("/k", HASH_KEY)
        .with("/l", HASH_KEY);
    SmsInbound::new(
        config(public_base_url),
        MemoryInboundStore::default(),
        MemoryGatheringStore::default(),
        Sealer::in_memory(),
        secrets,
        Queue::default(),
    )
}

fn params(body: &str, sid: &str) -> Vec<(String, String)> {
    [
        ("MessageSid", sid),
        ("AccountSid", ACCOUNT),
        ("From", "+12025550143"),
        ("To", "+15550100000"),
        ("Body", body),
        ("NumMedia", "0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// A webhook event as API Gateway builds it, signed for `signed_url`.
fn event(
    mut base: serde_json::Value,
    raw_path: &str,
    raw_query: &str,
    stage: &str,
    params: &[(String, String)],
    signed_url: &str,
    base64_body: bool,
) -> lambda_http::Request {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    let sig = signature::compute_signature(TOKEN, signed_url, params);
    base["routeKey"] = "POST /sms/inbound".into();
    base["rawPath"] = raw_path.into();
    base["rawQueryString"] = raw_query.into();
    base["requestContext"]["http"]["method"] = "POST".into();
    base["requestContext"]["http"]["path"] = raw_path.into();
    base["requestContext"]["stage"] = stage.into();
    base["headers"]["content-type"] = "application/x-www-form-urlencoded".into();
    base["headers"]["x-twilio-signature"] = sig.into();
    if base64_body {
        base["body"] = base64::engine::general_purpose::STANDARD
            .encode(&body)
            .into();
        base["isBase64Encoded"] = true.into();
    } else {
        base["body"] = body.into();
    }
    lambda_http::request::from_str(&base.to_string()).expect("a valid API Gateway v2 event")
}

async fn call(app: &App, request: lambda_http::Request) -> (u16, String) {
    let response = app.handle(request).await;
    let status = response.status().as_u16();
    let body = String::from_utf8_lossy(response.body().as_ref()).into_owned();
    (status, body)
}

const SID: &str = "SM0123456789abcdef0123456789abcdef";

#[tokio::test]
async fn a_signed_join_on_the_execute_api_domain_is_answered_with_twiml() {
    let Some(base) = reference_event() else {
        return;
    };
    let url = "https://aaaaaaaaaa.execute-api.us-west-2.amazonaws.com/sms/inbound";
    let request = event(
        base,
        "/sms/inbound",
        "",
        "$default",
        &params("JOIN", SID),
        url,
        false,
    );

    let (status, body) = call(&app(None), request).await;

    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("<?xml"));
    assert!(
        body.contains("<Response><Message>Welcome to rising! What&apos;s your first name?"),
        "{body}"
    );
}

#[tokio::test]
async fn a_base64_encoded_body_is_decoded_before_the_signature_check() {
    let Some(base) = reference_event() else {
        return;
    };
    let url = "https://aaaaaaaaaa.execute-api.us-west-2.amazonaws.com/sms/inbound";
    let request = event(
        base,
        "/sms/inbound",
        "",
        "$default",
        &params("HELP", SID),
        url,
        true,
    );

    let (status, body) = call(&app(None), request).await;

    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Reply STOP to cancel."), "{body}");
}

#[tokio::test]
async fn a_named_stage_in_the_raw_path_is_part_of_the_signed_url() {
    let Some(base) = reference_event() else {
        return;
    };
    let url = "https://aaaaaaaaaa.execute-api.us-west-2.amazonaws.com/prod/sms/inbound?x=1";
    let request = event(
        base,
        "/prod/sms/inbound",
        "x=1",
        "prod",
        &params("JOIN", SID),
        url,
        false,
    );

    let (status, _) = call(&app(None), request).await;

    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_configured_public_base_url_is_what_the_signature_covers() {
    let Some(base) = reference_event() else {
        return;
    };
    let url = "https://sms.example.org/sms/inbound";
    let request = event(
        base.clone(),
        "/sms/inbound",
        "",
        "$default",
        &params("JOIN", SID),
        url,
        false,
    );
    assert_eq!(
        call(&app(Some("https://sms.example.org")), request).await.0,
        200
    );

    // Signed for the execute-api domain, but Twilio was given the custom domain: refused.
    let wrong = "https://aaaaaaaaaa.execute-api.us-west-2.amazonaws.com/sms/inbound";
    let request = event(
        base,
        "/sms/inbound",
        "",
        "$default",
        &params("JOIN", SID),
        wrong,
        false,
    );
    assert_eq!(
        call(&app(Some("https://sms.example.org")), request).await.0,
        403
    );
}

#[tokio::test]
async fn a_wrong_signature_is_403_and_nothing_is_stored() {
    let Some(base) = reference_event() else {
        return;
    };
    let app = app(None);
    let request = event(
        base,
        "/sms/inbound",
        "",
        "$default",
        &params("JOIN", SID),
        "https://evil.example/",
        false,
    );

    let (status, body) = call(&app, request).await;

    assert_eq!(status, 403);
    assert!(body.contains("X-Twilio-Signature"));
}

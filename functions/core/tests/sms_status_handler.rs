//! The `sms-status` handler fed with real API Gateway HTTP API (payload 2.0) events, with in-memory
//! fakes for storage and secrets. The event is the published example from aws-lambda-rust-runtime
//! (`../shared/reference/aws-events/`), adapted to a Twilio status callback. Where that folder is
//! absent the tests say so loudly and skip.

use base64::Engine as _;
use rising_core::config::{SmsStatusConfig, WebhookConfig};
use rising_core::delivery::SmsStatus;
use rising_core::domain::PhoneNumber;
use rising_core::privacy::ContactHasher;
use rising_core::secrets::StaticSecretStore;
use rising_core::sms::signature;
use rising_core::store::MemoryDeliveryStore;

const TOKEN: &str = "12345";
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const HASH_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const SID: &str = "SM0123456789abcdef0123456789abcdef";
const RECIPIENT: &str = "+12025550143";
const URL: &str = "https://aaaaaaaaaa.execute-api.us-west-2.amazonaws.com/sms/status";

type App = SmsStatus<MemoryDeliveryStore, StaticSecretStore>;

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

fn config(public_base_url: Option<&str>) -> SmsStatusConfig {
    SmsStatusConfig {
        table_name: "t".into(),
        webhook: WebhookConfig {
            public_base_url: public_base_url.map(str::to_string),
            account_sid: ACCOUNT.into(),
            auth_token_parameter: "/t".into(),
            contact_hash_key_parameter: "/k".into(),
        },
    }
}

fn app(public_base_url: Option<&str>) -> App {
    let secrets = StaticSecretStore::default()
        .with("/t", TOKEN)
        .with("/k", HASH_KEY);
    SmsStatus::new(
        config(public_base_url),
        MemoryDeliveryStore::default(),
        secrets,
    )
}

/// The parameters Twilio posts for a status change, as its documentation lists them.
fn params(status: &str, error_code: Option<&str>) -> Vec<(String, String)> {
    let mut params = vec![];
    if let Some(code) = error_code {
        params.push(("ErrorCode", code));
    }
    params.extend([
        ("SmsSid", SID),
        ("SmsStatus", status),
        ("MessageStatus", status),
        ("To", RECIPIENT),
        ("MessageSid", SID),
        ("AccountSid", ACCOUNT),
        ("From", "+15550100000"),
        ("ApiVersion", "2010-04-01"),
    ]);
    params
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn without(mut params: Vec<(String, String)>, name: &str) -> Vec<(String, String)> {
    params.retain(|(k, _)| k != name);
    params
}

fn with(mut params: Vec<(String, String)>, name: &str, value: &str) -> Vec<(String, String)> {
    for (k, v) in params.iter_mut() {
        if k == name {
            *v = value.to_string();
        }
    }
    params
}

/// A status callback event as API Gateway builds it, signed for `signed_url` (form bodies arrive
/// base64-encoded from an HTTP API).
fn event(
    mut base: serde_json::Value,
    raw_query: &str,
    params: &[(String, String)],
    signed_url: &str,
) -> lambda_http::Request {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    let sig = signature::compute_signature(TOKEN, signed_url, params);
    base["routeKey"] = "POST /sms/status".into();
    base["rawPath"] = "/sms/status".into();
    base["rawQueryString"] = raw_query.into();
    base["requestContext"]["http"]["method"] = "POST".into();
    base["requestContext"]["http"]["path"] = "/sms/status".into();
    base["requestContext"]["stage"] = "$default".into();
    base["headers"]["content-type"] = "application/x-www-form-urlencoded".into();
    base["headers"]["x-twilio-signature"] = sig.into();
    base["body"] = base64::engine::general_purpose::STANDARD
        .encode(&body)
        .into();
    base["isBase64Encoded"] = true.into();
    lambda_http::request::from_str(&base.to_string()).expect("a valid API Gateway v2 event")
}

async fn call(app: &App, request: lambda_http::Request) -> (u16, String) {
    let response = app.handle(request).await;
    let status = response.status().as_u16();
    let body = String::from_utf8_lossy(response.body().as_ref()).into_owned();
    (status, body)
}

fn recipient_hash() -> String {
    let hasher = ContactHasher::from_base64(HASH_KEY).unwrap();
    hasher
        .phone(&PhoneNumber::parse(RECIPIENT).unwrap())
        .as_str()
        .to_string()
}

#[tokio::test]
async fn a_signed_delivered_callback_is_answered_204_with_an_empty_body_and_recorded() {
    let Some(base) = reference_event() else {
        return;
    };
    let app = app(None);

    let (status, body) = call(&app, event(base, "", &params("delivered", None), URL)).await;

    assert_eq!(status, 204, "{body}");
    assert_eq!(body, "");
    assert_eq!(app.store().outcome(SID).unwrap().status, "delivered");
}

#[tokio::test]
async fn a_delivered_callback_counts_in_the_batch_its_signed_url_names() {
    let Some(base) = reference_event() else {
        return;
    };
    let app = app(Some("https://sms.example.org"));
    let signed = "https://sms.example.org/sms/status?batch=b-42";

    let (status, body) = call(
        &app,
        event(base, "batch=b-42", &params("delivered", None), signed),
    )
    .await;

    assert_eq!(status, 204, "{body}");
    let batch = rising_core::outbound::BatchId::parse("b-42").unwrap();
    assert_eq!(app.store().delivered(&batch), 1);
}

#[tokio::test]
async fn a_batch_that_is_not_a_batch_id_is_400_and_nothing_is_recorded() {
    let Some(base) = reference_event() else {
        return;
    };
    let app = app(Some("https://sms.example.org"));
    let signed = "https://sms.example.org/sms/status?batch=%2E%2E%2F";

    let (status, body) = call(
        &app,
        event(base, "batch=%2E%2E%2F", &params("delivered", None), signed),
    )
    .await;

    assert_eq!(status, 400);
    assert_eq!(body, "batch in the callback URL is not a batch id");
    assert_eq!(app.store().outcome(SID), None);
}

#[tokio::test]
async fn the_query_string_of_the_status_callback_url_is_part_of_the_signed_url() {
    let Some(base) = reference_event() else {
        return;
    };
    let app = app(Some("https://sms.example.org"));
    let signed = "https://sms.example.org/sms/status?batch=b7&kind=invite";

    let (status, _) = call(
        &app,
        event(
            base.clone(),
            "batch=b7&kind=invite",
            &params("sent", None),
            signed,
        ),
    )
    .await;
    assert_eq!(status, 204);

    // The same callback signed without the query string is not what Twilio would have sent.
    let unsigned_query = "https://sms.example.org/sms/status";
    let (status, _) = call(
        &app,
        event(
            base,
            "batch=b7&kind=invite",
            &params("delivered", None),
            unsigned_query,
        ),
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn an_unsubscribed_error_opts_the_recipient_out() {
    let Some(base) = reference_event() else {
        return;
    };
    let app = app(None);

    let (status, _) = call(&app, event(base, "", &params("failed", Some("21610")), URL)).await;

    assert_eq!(status, 204);
    let contact = app.store().contact(&recipient_hash()).expect("contact");
    assert!(contact.sms_opted_out);
    assert_eq!(contact.consents, vec!["opt_out:carrier:21610"]);
}

#[tokio::test]
async fn a_wrong_signature_is_403_and_nothing_is_recorded() {
    let Some(base) = reference_event() else {
        return;
    };
    let app = app(None);

    let (status, body) = call(
        &app,
        event(
            base,
            "",
            &params("delivered", None),
            "https://evil.example/",
        ),
    )
    .await;

    assert_eq!(status, 403);
    assert!(body.contains("X-Twilio-Signature"), "{body}");
    assert_eq!(app.store().writes(), 0);
}

#[tokio::test]
async fn a_missing_signature_is_403() {
    let Some(base) = reference_event() else {
        return;
    };
    let app = app(None);
    let mut request = event(base, "", &params("delivered", None), URL);
    request.headers_mut().remove("x-twilio-signature");

    let (status, _) = call(&app, request).await;

    assert_eq!(status, 403);
    assert_eq!(app.store().writes(), 0);
}

#[tokio::test]
async fn a_callback_for_another_account_is_403() {
    let Some(base) = reference_event() else {
        return;
    };
    let app = app(None);
    let other = with(
        params("delivered", None),
        "AccountSid",
        "ACffffffffffffffffffffffffffffffff",
    );

    let (status, _) = call(&app, event(base, "", &other, URL)).await;

    assert_eq!(status, 403);
    assert_eq!(app.store().writes(), 0);
}

#[tokio::test]
async fn a_callback_without_message_status_is_400_naming_the_field_and_nothing_is_recorded() {
    let Some(base) = reference_event() else {
        return;
    };
    let app = app(None);

    let (status, body) = call(
        &app,
        event(
            base,
            "",
            &without(params("delivered", None), "MessageStatus"),
            URL,
        ),
    )
    .await;

    assert_eq!(status, 400);
    assert_eq!(body, "missing field MessageStatus");
    assert_eq!(app.store().writes(), 0);
}

#[tokio::test]
async fn malformed_fields_are_400_with_a_message_that_names_the_field_but_not_its_value() {
    let Some(base) = reference_event() else {
        return;
    };
    let app = app(None);
    let cases = [
        (
            with(params("delivered", None), "MessageSid", "not-a-sid"),
            "MessageSid",
        ),
        (
            with(params("delivered", None), "MessageStatus", "received"),
            "MessageStatus",
        ),
        (params("failed", Some("30o7")), "ErrorCode"),
        (with(params("delivered", None), "To", "+1 202 555 01"), "To"),
    ];
    for (params, field) in cases {
        let (status, body) = call(&app, event(base.clone(), "", &params, URL)).await;
        assert_eq!(status, 400, "{field}: {body}");
        assert!(body.contains(field), "{field}: {body}");
        assert!(!body.contains("202"), "the phone is not echoed: {body}");
    }
    assert_eq!(app.store().writes(), 0);
}

#[tokio::test]
async fn an_opt_out_error_without_a_recipient_is_400() {
    let Some(base) = reference_event() else {
        return;
    };
    let app = app(None);

    let (status, body) = call(
        &app,
        event(
            base,
            "",
            &without(params("failed", Some("21610")), "To"),
            URL,
        ),
    )
    .await;

    assert_eq!(status, 400);
    assert!(body.contains("missing field To"), "{body}");
    assert_eq!(app.store().writes(), 0);
}

#[tokio::test]
async fn an_oversized_body_is_413() {
    let Some(base) = reference_event() else {
        return;
    };
    let app = app(None);
    let mut big = params("delivered", None);
    big.push(("Padding".into(), "x".repeat(70 * 1024)));

    let (status, _) = call(&app, event(base, "", &big, URL)).await;

    assert_eq!(status, 413);
    assert_eq!(app.store().writes(), 0);
}

#[test]
fn the_status_function_reads_the_same_settings_as_the_other_webhooks() {
    let vars = std::collections::HashMap::from([
        ("TABLE_NAME", "rising"),
        ("PUBLIC_BASE_URL", ""),
        ("CONTACT_HASH_KEY_PARAMETER", "/rising/contact-hash-key"),
        ("TWILIO_ACCOUNT_SID", ACCOUNT),
        ("TWILIO_AUTH_TOKEN_PARAMETER", "/rising/twilio-auth-token"),
    ]);
    let config =
        SmsStatusConfig::from_lookup(|name| vars.get(name).map(|v| v.to_string())).unwrap();
    assert_eq!(config.table_name, "rising");
    assert_eq!(config.webhook.public_base_url, None);
    assert_eq!(
        config.webhook.contact_hash_key_parameter,
        "/rising/contact-hash-key"
    );
    let missing =
        SmsStatusConfig::from_lookup(|name| (name != "TABLE_NAME").then(|| "x".to_string()));
    assert_eq!(
        missing,
        Err(rising_core::config::ConfigError::Missing("TABLE_NAME"))
    );
}

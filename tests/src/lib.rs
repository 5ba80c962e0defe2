//! `spawn_app()` for rising: a handle on the running local stack (`make test` starts it on free ports
//! and exports its `.local/stack.env`; `make dev` writes the same file). Tests talk to it only from
//! outside: HTTP to the gateway, the Twilio emulator's phone simulator, and DynamoDB through the AWS SDK.
//!
//! Every test uses its own random phone numbers, so tests run in parallel without sharing data.
//! Signatures for hand-made webhook requests are computed here from Twilio's published algorithm,
//! independently of `rising-core`.

pub mod admin;
pub mod browser;
pub mod gatherings;
pub mod hosts;
pub mod mail;
pub mod origin;
pub mod sending;

use std::collections::HashMap;
use std::path::PathBuf;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::Rng;
use serde::Deserialize;

pub type Item = HashMap<String, AttributeValue>;

/// The running stack, as described by its env file.
#[derive(Debug, Clone)]
pub struct Stack {
    pub gateway_url: String,
    pub public_base_url: String,
    pub emulator_url: String,
    pub account_sid: String,
    pub auth_token: String,
    pub phone_number: String,
    pub table_name: String,
    contact_hash_key: Vec<u8>,
    pub http: reqwest::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// The AWS SDK configuration pointing at the stack's moto (for clients other than DynamoDB).
    pub aws: aws_config::SdkConfig,
    /// The KMS key that wraps the data keys of sealed contact data (`CONTACT_DATA_KEY_ID`); `None`
    /// when the stack was started from a template without it.
    pub contact_data_key_id: Option<String>,
    /// The send queue (`SEND_QUEUE_URL`), when the template has one.
    pub send_queue_url: Option<String>,
    /// The send queue's dead-letter queue (`SEND_DEAD_LETTER_QUEUE_URL`).
    pub send_dead_letter_queue_url: Option<String>,
    /// The topic SES publishes bounces and complaints to (`EMAIL_EVENTS_TOPIC_ARN`).
    pub email_events_topic_arn: Option<String>,
    /// The stack's Lambda Invoke API (`LAMBDA_ENDPOINT_URL`).
    pub lambda_endpoint_url: Option<String>,
}

/// What the phone simulator saw when a phone texted the project's number.
#[derive(Debug, Clone, Deserialize)]
pub struct Delivery {
    pub message_sid: String,
    pub webhook_status: u16,
    pub replies: Vec<String>,
    #[serde(default)]
    pub content_type: Option<String>,
}

/// The stack's environment as the tests read it: the env file, then the process environment.
pub(crate) fn stack_env() -> HashMap<String, String> {
    let mut vars = HashMap::new();
    let file = std::env::var("RISING_STACK_ENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.local/stack.env"));
    if let Ok(text) = std::fs::read_to_string(&file) {
        for line in text.lines() {
            if let Some((k, v)) = line.split_once('=')
                && !k.trim_start().starts_with('#')
            {
                vars.insert(k.trim().to_string(), v.trim().to_string());
            }
        }
    }
    // Values exported in the environment win over the file.
    for (k, v) in std::env::vars() {
        vars.insert(k, v);
    }
    vars
}

/// One value of the stack's environment (a resource's name or URL), when the stack has it.
pub fn stack_var(name: &str) -> Option<String> {
    stack_env().remove(name)
}

/// Connects to the running local stack. Panics with instructions when none is running.
pub async fn spawn_app() -> Stack {
    let vars = stack_env();
    let get = |name: &str| -> String {
        vars.get(name).cloned().unwrap_or_else(|| {
            panic!(
                "{name} is not set: integration tests need the local stack. Run them with `make test`, \
                 or start `make dev` in another terminal (it writes .local/stack.env) and then `cargo test`."
            )
        })
    };
    let endpoint = get("AWS_ENDPOINT_URL");
    let region = get("AWS_REGION");
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(rising_core::aws::http_client())
        .endpoint_url(&endpoint)
        .region(aws_config::Region::new(region))
        // moto sometimes answers concurrent transactions with a 500: retry like the functions do.
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(6))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            vars.get("AWS_ACCESS_KEY_ID")
                .cloned()
                .unwrap_or_else(|| "testing".into()),
            vars.get("AWS_SECRET_ACCESS_KEY")
                .cloned()
                .unwrap_or_else(|| "testing".into()),
            None,
            None,
            "rising-tests",
        ))
        .load()
        .await;
    let stack = Stack {
        gateway_url: get("GATEWAY_URL"),
        public_base_url: get("PUBLIC_BASE_URL"),
        emulator_url: get("TWILIO_EMULATOR_URL"),
        account_sid: get("TWILIO_ACCOUNT_SID"),
        auth_token: get("TWILIO_AUTH_TOKEN"),
        phone_number: get("TWILIO_PHONE_NUMBER"),
        table_name: get("TABLE_NAME"),
        contact_hash_key: STANDARD
            .decode(get("CONTACT_HASH_KEY"))
            .expect("CONTACT_HASH_KEY is base64"),
        http: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("HTTP client"),
        dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        contact_data_key_id: vars.get("CONTACT_DATA_KEY_ID").cloned(),
        send_queue_url: vars.get("SEND_QUEUE_URL").cloned(),
        send_dead_letter_queue_url: vars.get("SEND_DEAD_LETTER_QUEUE_URL").cloned(),
        email_events_topic_arn: vars.get("EMAIL_EVENTS_TOPIC_ARN").cloned(),
        lambda_endpoint_url: vars.get("LAMBDA_ENDPOINT_URL").cloned(),
        aws: sdk,
    };
    let health = stack
        .http
        .get(format!("{}/_emulator/health", stack.emulator_url))
        .send()
        .await;
    assert!(
        health.map(|r| r.status().is_success()).unwrap_or(false),
        "the Twilio emulator at {} does not answer; is the stack running (`make dev`)?",
        stack.emulator_url
    );
    stack
}

/// A random, valid US mobile-format number (Washington DC area code), unique per test.
pub fn unique_phone() -> String {
    let mut rng = rand::rng();
    format!(
        "+1202{}{:04}",
        rng.random_range(200..=999),
        rng.random_range(0..10_000)
    )
}

/// A fresh Twilio-shaped MessageSid.
fn uuid_like() -> String {
    let n: u128 = rand::random();
    let h = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

pub fn unique_message_sid() -> String {
    let mut rng = rand::rng();
    let hex: String = (0..32)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect();
    format!("SM{hex}")
}

/// Twilio's webhook signature (HMAC-SHA1 over URL + sorted name/value pairs, base64), computed
/// from Twilio's documentation for hand-made requests.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted: Vec<_> = params.to_vec();
    sorted.sort();
    let mut data = url.to_string();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac =
        Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).expect("any key length");
    mac.update(data.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

impl Stack {
    /// `phone` texts `body` to the project's number through the Twilio emulator's phone simulator.
    /// Invokes a function of the stack (its logical id) with `event`, through the stack's Lambda
    /// Invoke API, and waits for it: its answer, or its error as `Err`.
    pub async fn invoke(
        &self,
        function: &str,
        event: &serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let base = self
            .lambda_endpoint_url
            .as_deref()
            .expect("the stack provides LAMBDA_ENDPOINT_URL");
        let response = self
            .http
            .post(format!(
                "{base}/2015-03-31/functions/{function}/invocations"
            ))
            .timeout(std::time::Duration::from_secs(120))
            .json(event)
            .send()
            .await
            .expect("the Invoke API answers");
        assert_eq!(response.status().as_u16(), 200, "Invoke {function}");
        let failed = response.headers().contains_key("x-amz-function-error");
        let body = response.text().await.unwrap_or_default();
        let payload = serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body));
        if failed {
            Err(payload.to_string())
        } else {
            Ok(payload)
        }
    }

    /// Runs the scheduler as its EventBridge schedule does, with the scheduled event's `time` set to
    /// `at`; what the run did (`jobs`, `sign_ups`, `enqueued`, `requeued`).
    pub async fn run_scheduler(&self, at: time::OffsetDateTime) -> serde_json::Value {
        let time = at
            .to_offset(time::UtcOffset::UTC)
            .replace_nanosecond(0)
            .expect("whole seconds")
            .format(&time::format_description::well_known::Rfc3339)
            .expect("an RFC 3339 time");
        let event = serde_json::json!({
            "version": "0",
            "id": uuid_like(),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": time,
            "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/rising-SchedulerFunction-Every5Minutes"],
            "detail": {}
        });
        self.invoke("SchedulerFunction", &event)
            .await
            .expect("the scheduler run succeeds")
    }

    pub async fn text(&self, phone: &str, body: &str) -> Delivery {
        self.simulate(serde_json::json!({ "from": phone, "body": body }))
            .await
    }

    /// Twilio delivers the same inbound message (same MessageSid) again.
    pub async fn redeliver(&self, phone: &str, body: &str, message_sid: &str) -> Delivery {
        self.simulate(
            serde_json::json!({ "from": phone, "body": body, "message_sid": message_sid }),
        )
        .await
    }

    /// Posts to the emulator's simulator with arbitrary options (e.g. a forged signature).
    pub async fn simulate(&self, request: serde_json::Value) -> Delivery {
        let response = self
            .http
            .post(format!("{}/_emulator/inbound", self.emulator_url))
            .json(&request)
            .send()
            .await
            .expect("emulator reachable");
        assert!(
            response.status().is_success(),
            "simulator answered {}",
            response.status()
        );
        response.json().await.expect("simulator JSON")
    }

    /// Every message to or from `phone` that the Twilio emulator saw, oldest first.
    pub async fn conversation(&self, phone: &str) -> Vec<serde_json::Value> {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("phone", phone)
            .finish();
        self.http
            .get(format!("{}/_emulator/messages?{query}", self.emulator_url))
            .send()
            .await
            .expect("emulator reachable")
            .json()
            .await
            .expect("emulator JSON")
    }

    /// The parameters Twilio posts for an inbound SMS from `phone`.
    pub fn inbound_params(
        &self,
        phone: &str,
        body: &str,
        message_sid: &str,
    ) -> Vec<(String, String)> {
        [
            ("MessageSid", message_sid),
            ("SmsSid", message_sid),
            ("SmsMessageSid", message_sid),
            ("AccountSid", self.account_sid.as_str()),
            ("From", phone),
            ("To", self.phone_number.as_str()),
            ("Body", body),
            ("NumMedia", "0"),
            ("NumSegments", "1"),
            ("SmsStatus", "received"),
            ("ApiVersion", "2010-04-01"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// POSTs a hand-made webhook to the gateway, signed for `signed_url` (unless `signature` is given).
    pub async fn post_webhook(
        &self,
        path_and_query: &str,
        params: &[(String, String)],
        signature: Option<&str>,
    ) -> reqwest::Response {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter())
            .finish();
        let pairs: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let signed_url = format!("{}{}", self.public_base_url, path_and_query);
        let computed = twilio_signature(&self.auth_token, &signed_url, &pairs);
        let mut request = self
            .http
            .post(format!("{}{}", self.gateway_url, path_and_query))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        match signature {
            Some("") => {}
            Some(s) => request = request.header("x-twilio-signature", s),
            None => request = request.header("x-twilio-signature", computed),
        }
        request.send().await.expect("gateway reachable")
    }

    /// The keyed hash the system uses for `phone`, computed independently from the published
    /// construction HMAC-SHA256(key, "phone\0" || E.164), base64url.
    pub fn phone_hash(&self, phone: &str) -> String {
        let mut mac =
            Hmac::<sha2::Sha256>::new_from_slice(&self.contact_hash_key).expect("any key length");
        mac.update(b"phone\x00");
        mac.update(phone.as_bytes());
        format!("p.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    /// The keyed hash the system uses for an email address, computed independently from the published
    /// construction HMAC-SHA256(key, "email\0" || lower-cased address), base64url, prefixed `e.`.
    pub fn email_hash(&self, email: &str) -> String {
        let mut mac =
            Hmac::<sha2::Sha256>::new_from_slice(&self.contact_hash_key).expect("any key length");
        mac.update(b"email\x00");
        mac.update(email.trim().to_lowercase().as_bytes());
        format!("e.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    /// A sealer over the stack's KMS key, as the functions build it.
    pub fn sealer(&self) -> rising_core::privacy::Sealer {
        let key = self
            .contact_data_key_id
            .clone()
            .expect("the stack provides CONTACT_DATA_KEY_ID");
        rising_core::privacy::Sealer::from_sdk(&self.aws, key)
    }

    /// The outbox in the stack's table, as producers write it.
    pub fn outbox(&self) -> rising_core::store::DynamoOutbox {
        rising_core::store::DynamoOutbox::new(self.dynamodb.clone(), self.table_name.clone())
    }

    /// The stack's send queue, as producers use it.
    pub fn send_queue(&self) -> rising_core::outbound::SqsSendQueue {
        rising_core::outbound::SqsSendQueue::from_sdk(
            &self.aws,
            self.send_queue_url
                .clone()
                .expect("the stack provides SEND_QUEUE_URL"),
        )
    }

    /// Every item stored under a phone's contact key.
    pub async fn contact_items(&self, phone: &str) -> Vec<Item> {
        self.query_pk(&format!("CONTACT#{}", self.phone_hash(phone)))
            .await
    }

    pub async fn query_pk(&self, pk: &str) -> Vec<Item> {
        let output = self
            .dynamodb
            .query()
            .table_name(&self.table_name)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_string()))
            .consistent_read(true)
            .send()
            .await
            .expect("DynamoDB query");
        output.items.unwrap_or_default()
    }

    /// Every item in the table (the local table is small).
    pub async fn scan_all(&self) -> Vec<Item> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .dynamodb
                .scan()
                .table_name(&self.table_name)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("DynamoDB scan");
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }
}

/// A string attribute of an item, for assertions.
pub fn s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// All text of an item (keys and values), to check that no contact detail appears in clear.
pub fn item_text(item: &Item) -> String {
    format!("{item:?}")
}

/// An item as text with its sealed values (`v1.…` envelopes) left out, for "no name in clear"
/// checks over many items: a short name turns up in random base64 by chance (the ciphertext of one
/// stored email body once read `…Xip_DanavXL…`). What is sealed is checked sealed elsewhere.
pub fn clear_text(item: &Item) -> String {
    let mut clear = item.clone();
    for value in clear.values_mut() {
        if let aws_sdk_dynamodb::types::AttributeValue::S(text) = value
            && text.starts_with("v1.")
        {
            *value = aws_sdk_dynamodb::types::AttributeValue::S("<sealed>".into());
        }
    }
    format!("{clear:?}")
}

/// Waits, when needed, until the fixed window of `window_seconds` that a rate limit counts in now
/// (windows from the epoch, as `rising_core::store::window_start` counts them) has `room` seconds
/// or more left: a burst made then is counted in one window, never split across two.
pub async fn in_one_rate_limit_window(window_seconds: i64, room: i64) {
    let now = time::OffsetDateTime::now_utc();
    let window = time::Duration::seconds(window_seconds);
    let left =
        rising_core::store::window_start(now, window) + window_seconds - now.unix_timestamp();
    if left < room {
        tokio::time::sleep(std::time::Duration::from_secs(left.unsigned_abs() + 1)).await;
    }
}

//! Helpers shared by the integration tests: an in-process emulator and a
//! small local HTTP receiver standing in for the project's webhooks.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use twilio_emulator::Config;

pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const AUTH_TOKEN: &str = "test-auth-token-1234";
pub const PROJECT_NUMBER: &str = "+15005550006";

pub struct Emulator {
    pub base: String,
    pub cfg: Config,
    pub http: reqwest::Client,
}

impl Emulator {
    pub fn messages_url(&self) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.base, self.cfg.account_sid
        )
    }

    pub fn message_url(&self, sid: &str) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Messages/{sid}.json",
            self.base, self.cfg.account_sid
        )
    }

    /// POSTs a create-message form with the right credentials.
    pub async fn send(&self, params: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.messages_url())
            .basic_auth(&self.cfg.account_sid, Some(&self.cfg.auth_token))
            .form(params)
            .send()
            .await
            .expect("emulator reachable")
    }

    pub async fn get_json(&self, url: &str) -> (u16, serde_json::Value) {
        let r = self
            .http
            .get(url)
            .basic_auth(&self.cfg.account_sid, Some(&self.cfg.auth_token))
            .send()
            .await
            .expect("emulator reachable");
        let status = r.status().as_u16();
        (status, r.json().await.expect("JSON body"))
    }

    pub async fn inbound(&self, body: serde_json::Value) -> serde_json::Value {
        let r = self
            .http
            .post(format!("{}/_emulator/inbound", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "inbound simulator status");
        r.json().await.unwrap()
    }

    pub async fn conversation(&self, phone: &str) -> Vec<serde_json::Value> {
        let url = format!(
            "{}/_emulator/messages?phone={}",
            self.base,
            phone.replace('+', "%2B")
        );
        self.http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

pub fn base_config() -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        account_sid: ACCOUNT_SID.into(),
        auth_token: AUTH_TOKEN.into(),
        phone_number: PROJECT_NUMBER.into(),
        sms_webhook_url: "http://127.0.0.1:9/unused".into(),
        callback_delay_ms: 10,
        rate_limit_mps: 0,
        ..Config::default()
    }
}

pub async fn start(cfg: Config) -> Emulator {
    let (addr, _handle) = twilio_emulator::spawn(cfg.clone())
        .await
        .expect("emulator starts");
    Emulator {
        base: format!("http://{addr}"),
        cfg,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
    }
}

/// One request received by the [`Receiver`].
#[derive(Clone, Debug)]
pub struct Captured {
    /// The full URL the request was sent to (`http://host:port/path?query`).
    pub url: String,
    pub headers: HeaderMap,
    pub params: Vec<(String, String)>,
}

impl Captured {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Clone)]
struct ReceiverState {
    captured: Arc<Mutex<Vec<Captured>>>,
    reply: Arc<Mutex<(u16, String, String)>>,
}

/// A local HTTP server recording every request and answering a fixed reply.
pub struct Receiver {
    pub base: String,
    captured: Arc<Mutex<Vec<Captured>>>,
    reply: Arc<Mutex<(u16, String, String)>>,
}

async fn receive(
    State(st): State<ReceiverState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let params = form_urlencoded::parse(&body).into_owned().collect();
    st.captured.lock().unwrap().push(Captured {
        url: format!("http://{host}{path}"),
        headers,
        params,
    });
    let (status, content_type, body) = st.reply.lock().unwrap().clone();
    (
        StatusCode::from_u16(status).unwrap(),
        [(header::CONTENT_TYPE, content_type)],
        body,
    )
        .into_response()
}

impl Receiver {
    pub async fn start(status: u16, content_type: &str, body: &str) -> Receiver {
        let captured = Arc::new(Mutex::new(Vec::new()));
        let reply = Arc::new(Mutex::new((
            status,
            content_type.to_string(),
            body.to_string(),
        )));
        let state = ReceiverState {
            captured: captured.clone(),
            reply: reply.clone(),
        };
        let app = Router::new().fallback(receive).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            base: format!("http://{addr}"),
            captured,
            reply,
        }
    }

    pub fn set_reply(&self, status: u16, content_type: &str, body: &str) {
        *self.reply.lock().unwrap() = (status, content_type.to_string(), body.to_string());
    }

    pub fn captured(&self) -> Vec<Captured> {
        self.captured.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived (or panics after 5 s).
    pub async fn wait_for(&self, n: usize) -> Vec<Captured> {
        for _ in 0..500 {
            let c = self.captured();
            if c.len() >= n {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("expected {n} requests, got {}", self.captured().len());
    }
}

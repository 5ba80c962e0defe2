//! A host, driven over HTTP like a browser would: the sign-in link read from moto's SES, the session
//! cookie kept by hand (redirects are not followed, so each answer can be checked), the CSRF token
//! read from the pages.

use reqwest::StatusCode;
use reqwest::redirect::Policy;

use crate::mail::{unique_email, wait_for_emails};
use crate::{Stack, unique_phone};

/// A client that does not follow redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// The sign-in link in a raw email (the text part).
pub fn link_in(raw: &str) -> String {
    crate::mail::link_in(raw, "/host/sign-in?token=")
}

/// Asks for a sign-in link for `email`; the status of the answer.
pub async fn ask_link(app: &Stack, email: &str) -> StatusCode {
    client()
        .post(format!("{}/host/sign-in", app.gateway_url))
        .form(&[("email", email), ("lang", "en")])
        .send()
        .await
        .expect("gateway reachable")
        .status()
}

/// Uses a sign-in link (the token of `link`); the answer.
pub async fn use_link(app: &Stack, link: &str) -> reqwest::Response {
    let token = link.split("token=").nth(1).expect("a token");
    client()
        .post(format!("{}/host/sign-in/confirm", app.gateway_url))
        .form(&[("token", token)])
        .send()
        .await
        .expect("gateway reachable")
}

/// A signed-in host.
pub struct Host {
    pub base: String,
    pub cookie: String,
    pub csrf: String,
    http: reqwest::Client,
}

impl Host {
    /// A host whose session is known already (its cookie and CSRF token), with a client of its own:
    /// for tests that share one sign-in, since each test runs on its own runtime.
    pub fn with_session(base: &str, cookie: &str, csrf: &str) -> Host {
        Host {
            base: base.to_owned(),
            cookie: cookie.to_owned(),
            csrf: csrf.to_owned(),
            http: client(),
        }
    }

    /// Signs in as `email`: asks for a link, reads it from SES (the `nth` email to that address,
    /// counting from 1), and uses it.
    pub async fn sign_in(app: &Stack, email: &str, nth: usize) -> Host {
        assert_eq!(ask_link(app, email).await, StatusCode::SEE_OTHER);
        let emails = wait_for_emails(app, email, nth).await;
        assert!(emails.len() >= nth, "the sign-in email reached SES");
        let link = link_in(&emails[nth - 1]);
        let response = use_link(app, &link).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let cookie = response
            .headers()
            .get("set-cookie")
            .expect("a session cookie")
            .to_str()
            .expect("text")
            .split(';')
            .next()
            .expect("name=value")
            .to_owned();
        let mut host = Host {
            base: app.gateway_url.clone(),
            cookie,
            csrf: String::new(),
            http: client(),
        };
        let (status, html) = host.get("/host").await;
        assert_eq!(status, StatusCode::OK);
        host.csrf = html
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("a CSRF token on the dashboard")
            .to_owned();
        host
    }

    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .expect("gateway reachable");
        let status = response.status();
        (status, response.text().await.unwrap_or_default())
    }

    /// Posts a form; the status, the `Location` and the body.
    pub async fn post(&self, path: &str, pairs: &[(&str, &str)]) -> (StatusCode, String, String) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(pairs)
            .send()
            .await
            .expect("gateway reachable");
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, location, response.text().await.unwrap_or_default())
    }

    /// Creates a gathering in 10 days in ZIP 20001; its id.
    pub async fn create_gathering(&self, title: &str, capacity: &str) -> String {
        self.create_gathering_at(title, capacity, "20001").await
    }

    /// Creates a gathering in 10 days in `zip`; its id.
    pub async fn create_gathering_at(&self, title: &str, capacity: &str, zip: &str) -> String {
        let date = (time::OffsetDateTime::now_utc() + time::Duration::days(10)).date();
        let date = format!(
            "{:04}-{:02}-{:02}",
            date.year(),
            u8::from(date.month()),
            date.day()
        );
        let (status, location, body) = self
            .post(
                "/host/gatherings",
                &[
                    ("csrf", self.csrf.as_str()),
                    ("first_name", "Dana"),
                    ("title", title),
                    ("description", "Coffee and a plan."),
                    ("date", &date),
                    ("starts", "18:30"),
                    ("ends", "20:00"),
                    ("zip", zip),
                    ("address", "12 Elm St"),
                    ("private", "on"),
                    ("capacity", capacity),
                    ("language", "en"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
        location
            .trim_start_matches("/host/gatherings/")
            .split('?')
            .next()
            .expect("an id")
            .to_owned()
    }
}

/// 50 lines as a host might paste them: 30 people with a mobile number (one of whom texted STOP),
/// 12 with an email, 5 repeated lines (duplicates), 3 lines that are not contacts.
pub struct Paste {
    pub text: String,
    pub phones: Vec<String>,
    pub emails: Vec<String>,
    /// The number the test should opt out (text STOP) before inviting.
    pub opted_out: String,
}

pub fn paste() -> Paste {
    let names = [
        "Ana", "Luis", "Maria", "Omar", "Bea", "Noor", "Sam", "Lena", "Kai", "Rosa",
    ];
    let mut lines = Vec::new();
    let phones: Vec<String> = (0..30).map(|_| unique_phone()).collect();
    let emails: Vec<String> = (0..12).map(|_| unique_email("invitee")).collect();
    for (i, phone) in phones.iter().enumerate() {
        let digits = &phone[2..];
        let shown = format!("({}) {}-{}", &digits[..3], &digits[3..6], &digits[6..]);
        lines.push(match i % 3 {
            0 => format!("{} Diaz, {shown}", names[i % names.len()]),
            1 => format!("{shown}\t{}", names[i % names.len()]),
            _ => format!("\"{}, Jr.\",{phone}", names[i % names.len()]),
        });
    }
    for (i, email) in emails.iter().enumerate() {
        lines.push(format!("{} <{email}>", names[i % names.len()]));
    }
    for i in 0..5 {
        lines.push(format!("{} again, {}", names[i], phones[i]));
    }
    lines.push("call me maybe".into());
    lines.push("Bob, 202-555-01".into());
    lines.push("eve@@example".into());
    assert_eq!(lines.len(), 50);
    Paste {
        text: lines.join("\n"),
        opted_out: phones[7].clone(),
        phones,
        emails,
    }
}

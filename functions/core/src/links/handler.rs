//! The HTTP side of `/unsubscribe` and `/forget`: route and method, body limit, the token from the
//! query, the page's language, the link key (fetched from SSM on first use, then kept), and the
//! same security headers on every response, errors included.

use http::header::{ACCEPT_LANGUAGE, ALLOW, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use time::OffsetDateTime;
use tokio::sync::OnceCell;

use super::page::{self, ErrorKind, PageKind};
use super::{
    ForgetRequest, LinkError, LinkOutcome, LinkStore, SuppressionEvidence, UnsubscribeMethod,
    forget, unsubscribe, verify,
};
use crate::config::EmailLinksConfig;
use crate::domain::Language;
use crate::email::{TokenKey, TokenPurpose};
use crate::secrets::SecretStore;
use crate::store::ErasureStore;

/// Bodies larger than this are refused (a one-click POST is 26 bytes).
pub const LINK_BODY_LIMIT: usize = 8 * 1024;

/// Sent with every response: inline styles only, no script, nothing from elsewhere, forms only to
/// this site, never framed, no URL (token) in the Referer to other sites, never cached.
pub const SECURITY_HEADERS: [(&str, &str); 7] = [
    ("content-type", "text/html; charset=utf-8"),
    (
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; \
         base-uri 'none'",
    ),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("x-content-type-options", "nosniff"),
    ("cache-control", "no-store"),
    ("x-frame-options", "DENY"),
    ("x-robots-tag", "noindex, nofollow"),
];

/// The methods the link pages answer.
const ALLOWED_METHODS: &str = "GET, HEAD, POST";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Unsubscribe,
    Forget,
}

/// The `email-links` function: its dependencies, built once per cold start.
pub struct EmailLinks<S, G, K> {
    config: EmailLinksConfig,
    store: S,
    gatherings: G,
    secrets: K,
    key: OnceCell<TokenKey>,
}

impl<S, G, K> EmailLinks<S, G, K>
where
    S: LinkStore + ErasureStore<G>,
    G: Send + Sync,
    K: SecretStore,
{
    /// Builds the handler. Does no I/O: the link key is fetched on the first request that needs it.
    pub fn new(config: EmailLinksConfig, store: S, gatherings: G, secrets: K) -> Self {
        Self {
            config,
            store,
            gatherings,
            secrets,
            key: OnceCell::new(),
        }
    }

    /// The store, for tests and tools.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Handles one request; never fails at the Lambda level (errors become pages).
    pub async fn handle(&self, request: Request) -> Response<Body> {
        self.handle_at(&request, OffsetDateTime::now_utc()).await
    }

    /// Handles one request as of `now`.
    pub async fn handle_at(&self, request: &Request, now: OffsetDateTime) -> Response<Body> {
        let lang = language(request);
        let (status, kind, token) = match self.try_handle(request, lang, now).await {
            Ok((outcome, token)) => (StatusCode::OK, PageKind::Outcome(outcome), token),
            Err(error) => {
                let status = error.status();
                if status.is_server_error() {
                    tracing::error!(error = %error, status = status.as_u16(), "email link failed");
                } else {
                    tracing::warn!(error = %error, status = status.as_u16(), "email link refused");
                }
                (status, PageKind::Error(ErrorKind::from(&error)), None)
            }
        };
        let html = page::render(kind, lang, &self.config.program, token.as_deref());
        response(status, html, request.method() == Method::HEAD)
    }

    async fn key(&self) -> Result<&TokenKey, LinkError> {
        self.key
            .get_or_try_init(|| async {
                let key = self.secrets.fetch(&self.config.link_key_parameter).await?;
                Ok::<_, LinkError>(TokenKey::from_base64(&key)?)
            })
            .await
    }

    /// The outcome, and the (verified) token when the page offers a confirm button.
    #[tracing::instrument(name = "email_link", skip_all)]
    async fn try_handle(
        &self,
        request: &Request,
        lang: Language,
        now: OffsetDateTime,
    ) -> Result<(LinkOutcome, Option<String>), LinkError> {
        let body = request.body().as_ref();
        if body.len() > LINK_BODY_LIMIT {
            return Err(LinkError::TooLarge);
        }
        let route = route(request).ok_or(LinkError::NotFound)?;
        let confirm = match *request.method() {
            Method::GET | Method::HEAD => false,
            Method::POST => true,
            _ => return Err(LinkError::MethodNotAllowed),
        };
        let token = query_param(request, "t")
            .filter(|t| !t.trim().is_empty())
            .ok_or(LinkError::MissingToken)?;
        let key = self.key().await?;
        match (route, confirm) {
            (Route::Unsubscribe, false) => {
                verify(key, &token, TokenPurpose::Marketing, now)?;
                Ok((LinkOutcome::ConfirmUnsubscribe, Some(token)))
            }
            (Route::Forget, false) => {
                verify(key, &token, TokenPurpose::Forget, now)?;
                Ok((LinkOutcome::ConfirmForget, Some(token)))
            }
            (Route::Unsubscribe, true) => {
                let reference = request_id(request);
                let evidence = SuppressionEvidence {
                    reference: &reference,
                    method: UnsubscribeMethod::from_body(body),
                    language: lang,
                };
                Ok((
                    unsubscribe(&self.store, key, &token, &evidence, now).await?,
                    None,
                ))
            }
            (Route::Forget, true) => {
                let reference = request_id(request);
                let request = ForgetRequest {
                    reference: &reference,
                    wording: page::erased_heading(lang),
                    language: lang,
                };
                let outcome =
                    forget(&self.store, &self.gatherings, key, &token, &request, now).await?;
                Ok((outcome, None))
            }
        }
    }
}

fn route(request: &Request) -> Option<Route> {
    // The path may carry a stage or a custom-domain mapping before the route's own path.
    let path = request.uri().path().trim_end_matches('/');
    if path.ends_with("/unsubscribe") {
        Some(Route::Unsubscribe)
    } else if path.ends_with("/forget") {
        Some(Route::Forget)
    } else {
        None
    }
}

fn query_param(request: &Request, name: &str) -> Option<String> {
    let query = request.uri().query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The page's language: `?lang=` (`en`/`es`) wins, then the best of `Accept-Language`, else English.
pub fn language(request: &Request) -> Language {
    if let Some(lang) = query_param(request, "lang").and_then(|v| Language::parse(&v)) {
        return lang;
    }
    request
        .headers()
        .get(ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(accept_language)
        .unwrap_or_default()
}

/// The supported language with the highest weight in an `Accept-Language` header (the first on a
/// tie); English when none is supported.
pub fn accept_language(header: &str) -> Language {
    let mut best: Option<(f32, Language)> = None;
    for range in header.split(',') {
        let mut parts = range.split(';');
        let tag = parts.next().unwrap_or_default().trim();
        let Some(lang) = Language::parse(tag.split('-').next().unwrap_or_default()) else {
            continue;
        };
        let weight = parts
            .find_map(|p| p.trim().strip_prefix("q=").map(str::trim))
            .map_or(Some(1.0), |q| q.parse::<f32>().ok())
            .unwrap_or(0.0);
        if weight > 0.0 && best.is_none_or(|(w, _)| weight > w) {
            best = Some((weight, lang));
        }
    }
    best.map(|(_, lang)| lang).unwrap_or_default()
}

/// API Gateway's id of the request (the reference of the evidence); a random one without it.
fn request_id(request: &Request) -> String {
    let from_gateway = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    };
    from_gateway
        .or_else(|| request.lambda_context_ref().map(|c| c.request_id.clone()))
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 128
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_=".contains(c))
        })
        .unwrap_or_else(crate::ids::random_id)
}

fn response(status: StatusCode, html: String, head: bool) -> Response<Body> {
    let mut response = Response::new(if head { Body::Empty } else { Body::Text(html) });
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    if status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
    }
    response
}

//! Small HTTP helpers shared by the functions that serve pages (`register`, `host`): request
//! fields, response headers, redirects. No use-case rules here.

use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, LOCATION};
use http::{Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

/// Headers of every HTML response besides the CSP (which depends on the page).
pub const PAGE_HEADERS: [(&str, &str); 4] = [
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("x-content-type-options", "nosniff"),
    ("cache-control", "no-store"),
    ("x-robots-tag", "noindex"),
];

/// The first value of a query parameter, decoded.
pub fn query_param(request: &Request, name: &str) -> Option<String> {
    let query = request.uri().query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A header's value, trimmed; `None` when absent, empty, not text or `null`.
pub fn header(request: &Request, name: HeaderName) -> Option<String> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && *v != "null")
        .map(str::to_owned)
}

/// The request's content type, lower-cased.
pub fn content_type(request: &Request) -> Option<String> {
    header(request, CONTENT_TYPE).map(|t| t.to_ascii_lowercase())
}

/// The client's address as API Gateway saw it (empty when unknown).
pub fn source_ip(request: &Request) -> String {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

/// Sets a header, skipping a value that is not a valid header value.
pub fn insert(headers: &mut http::HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

/// A same-origin script of the pages (cached 5 minutes, never sniffed as anything else).
pub fn script(source: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::Text(source.to_owned()));
    let headers = response.headers_mut();
    insert(headers, "content-type", "text/javascript; charset=utf-8");
    insert(headers, "cache-control", "public, max-age=300");
    insert(headers, "x-content-type-options", "nosniff");
    response
}

/// `303 See Other` to `location`, not cached.
pub fn see_other(location: &str) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    insert(response.headers_mut(), "cache-control", "no-store");
    response
}

/// An HTML page with its CSP and the [`PAGE_HEADERS`]; a HEAD request gets no body.
pub fn html_page(request: &Request, status: StatusCode, csp: &str, html: String) -> Response<Body> {
    let head = request.method() == Method::HEAD;
    let mut response = Response::new(if head { Body::Empty } else { Body::Text(html) });
    *response.status_mut() = status;
    let headers = response.headers_mut();
    insert(headers, "content-type", "text/html; charset=utf-8");
    insert(headers, "content-security-policy", csp);
    for (name, value) in PAGE_HEADERS {
        insert(headers, name, value);
    }
    response
}

/// Whether `origin` is this site: the origin of `public_base_url`, or the request's own host (the
/// API's domain, as the pages are served from it).
pub fn is_self_origin(request: &Request, origin: &str, public_base_url: &str) -> bool {
    let public: String = public_base_url
        .split('/')
        .take(3)
        .collect::<Vec<_>>()
        .join("/");
    if origin.eq_ignore_ascii_case(&public) {
        return true;
    }
    let Some(host) = header(request, http::header::HOST) else {
        return false;
    };
    let scheme = header(request, HeaderName::from_static("x-forwarded-proto"))
        .unwrap_or_else(|| "https".into());
    origin.eq_ignore_ascii_case(&format!("{scheme}://{host}"))
}

/// The body as bytes, whatever form lambda_http decoded it into.
pub fn body_bytes(request: &Request) -> &[u8] {
    request.body().as_ref()
}

/// This page (path relative: its query only) in `language`: the query kept, `lang` replaced.
pub fn language_href(request: &Request, language: crate::domain::Language) -> String {
    let mut pairs: Vec<(String, String)> = request
        .uri()
        .query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .filter(|(k, _)| k != "lang")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    pairs.push(("lang".into(), language.code().into()));
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("?{query}")
}

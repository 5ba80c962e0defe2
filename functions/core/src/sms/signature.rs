//! Twilio webhook signature validation (`X-Twilio-Signature`).
//!
//! The algorithm is the one Twilio's official helper libraries implement (this module follows
//! twilio-python's `twilio/request_validator.py`, `RequestValidator`):
//!
//! 1. Start from the full URL Twilio requested, byte for byte as configured in Twilio (scheme, host,
//!    optional port, path, query string).
//! 2. For `application/x-www-form-urlencoded` requests, append every POST parameter sorted by name
//!    (and, for a name that repeats, by value), each as `name` immediately followed by `value`, with
//!    no delimiters. Like twilio-python (`sorted(set(values))`), an identical name/value pair that
//!    repeats is appended once.
//! 3. HMAC-SHA1 that string with the account's Auth Token as key, then Base64 the digest.
//! 4. Compare with the header in constant time, for two spellings of the URL: with the scheme's
//!    default port added when none is present (`https` → `:443`, anything else → `:80`), and with
//!    any port removed. twilio-python does the same "since sig generation on back end is
//!    inconsistent" (its comment): whether the port is part of the signed URL varies.
//!
//! For requests with a JSON body (`Content-Type: application/json`; SMS webhooks are form-encoded)
//! Twilio adds a `bodySHA256` query parameter holding the lowercase hex SHA-256 of the raw body; the
//! signature then covers the URL alone (no parameters) and the body is checked against that hash.
//!
//! # Which URL Twilio signed, behind API Gateway
//!
//! Twilio signs the URL *it* was given (the public URL configured on the number or Messaging
//! Service), so the function has to rebuild that URL, never trust a guess from the `Host` header
//! alone. [`webhook_url`] does that from a configured `PUBLIC_BASE_URL`; [`derived_public_base_url`]
//! is the fallback when none is configured, and [`webhook_url_for_request`] does both for a
//! `lambda_http` request. How API Gateway HTTP APIs (payload format 2.0) fill `rawPath`:
//!
//! * **Default `execute-api` endpoint, `$default` stage**: `rawPath` is the path as requested
//!   (`/sms/inbound`), `requestContext.domainName` is `{api-id}.execute-api.{region}.amazonaws.com`.
//! * **Default endpoint, a named stage** (`prod`): the stage segment stays in `rawPath`
//!   (`/prod/sms/inbound`), see aws-powertools/powertools-lambda-python issue #621 "HTTP API
//!   non-`$default` stage includes stage in rawPath as a prefix". So `https://{domainName}{rawPath}`
//!   is exactly what the caller requested.
//! * **Custom domain with an API mapping key** (`https://api.example.org/sms` → stage `prod`): the
//!   mapping key stays at the front of `rawPath` (`/sms/inbound`) and the stage never appears,
//!   because the mapping selects it. API Gateway only strips the key to *select the route*
//!   (AWS Developer Guide, "Map API stages to a custom domain name for HTTP APIs"); the Lambda event
//!   keeps it, which is why Powertools for AWS Lambda documents a `strip_prefixes` option for
//!   "Custom Domain API Mappings" (powertools-lambda-python PR #579, issue #576; the same behaviour
//!   is written up in KensioSoftware/yulin PR #1037: "The base path stays in `rawPath` and in
//!   `requestContext.http.path`, the way a named stage's segment does").
//!
//! One earlier Powertools comment (issue #576) read the v2 payload differently ("for Http api v2,
//! nothing needs to be done"); [`webhook_url`] is right either way as long as `PUBLIC_BASE_URL`
//! carries the mapping key, because it only prepends a base path that `rawPath` lacks. Only the
//! fallback without `PUBLIC_BASE_URL` relies on the key being in `rawPath`; if it is not, the
//! signature check fails closed and `PUBLIC_BASE_URL` must be set.
//!
//! Consequences, all handled by [`webhook_url`]:
//!
//! * `PUBLIC_BASE_URL` may be just an origin (`https://api.example.org`) or carry the mapping key /
//!   stage as a base path (`https://api.example.org/sms`, trailing slash tolerated). When the request
//!   path already starts with that base path (segment-wise), it is **not** prepended a second time;
//!   otherwise (a proxy that strips the prefix before API Gateway) it is.
//! * `lambda_http` rewrites `Request::uri()` to *add* `/{stage}` in front of the path for any
//!   non-`$default` stage (unless `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set), which is wrong for
//!   a custom domain whose mapping already selected the stage. Always use the verbatim `rawPath`
//!   (`RequestExt::raw_http_path`), as [`webhook_url_for_request`] does.
//! * `rawPath` and `rawQueryString` are the percent-encoded bytes the client sent, which is what
//!   Twilio signed; do not decode or re-encode them.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Name of the HTTP header carrying Twilio's request signature.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";

/// Name of the query parameter carrying the hex SHA-256 of a JSON webhook body.
pub const BODY_SHA256_PARAM: &str = "bodySHA256";

type HmacSha1 = Hmac<Sha1>;

/// Why a webhook body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// `isBase64Encoded` was true but the body is not valid standard Base64.
    #[error("request body is flagged as base64 but is not valid base64")]
    InvalidBase64,
}

/// Computes Twilio's signature for `url` and the POST `params` of a form-encoded request.
///
/// `url` is used exactly as given (no port juggling: that is [`validate_form`]'s job). Parameters
/// are sorted by name, then by value; identical name/value pairs count once, like twilio-python.
/// Sorting is by Unicode code point, which is what Python's `sorted` on `str` does.
pub fn compute_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    sorted.sort_unstable();
    sorted.dedup();

    // HMAC accepts keys of any length, so this never fails; an empty string never validates.
    let Ok(mut mac) = HmacSha1::new_from_slice(auth_token.as_bytes()) else {
        return String::new();
    };
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    BASE64.encode(mac.finalize().into_bytes())
}

/// Validates the signature of a form-encoded (`application/x-www-form-urlencoded`) webhook.
///
/// `url` is the public URL Twilio requested (see [`webhook_url`]), `params` the decoded POST body
/// (see [`parse_form`]), `signature` the `X-Twilio-Signature` header. The URL is tried with the
/// default port added and with any port removed; either match is accepted. An empty or missing
/// signature never validates.
pub fn validate_form(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    signature: &str,
) -> bool {
    if signature.is_empty() {
        return false;
    }
    let (with_port, without_port) = port_variants(url);
    // Evaluate both (no short-circuit) so timing does not reveal which spelling matched.
    let a = constant_time_eq(
        &compute_signature(auth_token, &without_port, params),
        signature,
    );
    let b = constant_time_eq(
        &compute_signature(auth_token, &with_port, params),
        signature,
    );
    a | b
}

/// Validates the signature of a JSON webhook (`Content-Type: application/json`).
///
/// Twilio puts the lowercase hex SHA-256 of the raw body in the URL's `bodySHA256` query parameter
/// and signs the URL (including that parameter) with no POST parameters. Both must hold: a valid
/// signature for the URL (with or without default port) **and** a body whose hash equals
/// `bodySHA256`. A URL without `bodySHA256` never validates here (twilio-python would fall back to
/// form semantics, which makes no sense for a JSON body).
pub fn validate_json(auth_token: &str, url: &str, body: &[u8], signature: &str) -> bool {
    let Some(expected_hash) = body_sha256_param(url) else {
        return false;
    };
    let actual_hash = hex::encode(Sha256::digest(body));
    let hash_ok = constant_time_eq(&actual_hash, &expected_hash);
    let signature_ok = validate_form(auth_token, url, &[], signature);
    hash_ok & signature_ok
}

/// Rebuilds the public URL Twilio requested: `public_base_url` + `raw_path` + `?raw_query`.
///
/// * `public_base_url` is an origin, optionally with a base path (`https://x.org`,
///   `https://x.org/sms`, `https://x.org/sms/`); one trailing slash is dropped.
/// * `raw_path` is the request path as received (API Gateway `rawPath`). When the base URL carries a
///   base path and `raw_path` already starts with it at a segment boundary (`/sms` or `/sms/…`, as
///   it does behind an API Gateway custom-domain mapping or a named stage, see the module docs),
///   the base path is not repeated. An empty `raw_path` means `/`. (The one URL this cannot
///   express is a public path that repeats the base path behind a proxy that strips it, e.g.
///   `https://x.org/sms/sms/inbound` arriving as `/sms/inbound`: keep routes distinct from the
///   base path.)
/// * `raw_query` (API Gateway `rawQueryString`, without `?`) is appended after `?` when non-empty;
///   a leading `?` is tolerated.
pub fn webhook_url(public_base_url: &str, raw_path: &str, raw_query: &str) -> String {
    let base = public_base_url.trim();
    let base = base.strip_suffix('/').unwrap_or(base);
    let (origin, base_path) = split_origin(base);

    let path: Cow<'_, str> = if raw_path.is_empty() {
        Cow::Borrowed("/")
    } else if raw_path.starts_with('/') {
        Cow::Borrowed(raw_path)
    } else {
        Cow::Owned(format!("/{raw_path}"))
    };

    let already_prefixed = base_path.is_empty()
        || path == base_path
        || path
            .strip_prefix(base_path)
            .is_some_and(|rest| rest.starts_with('/'));

    let mut url = String::with_capacity(base.len() + path.len() + raw_query.len() + 1);
    url.push_str(origin);
    if !already_prefixed {
        url.push_str(base_path);
    }
    url.push_str(&path);
    let query = raw_query.strip_prefix('?').unwrap_or(raw_query);
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// The public base URL to use when `PUBLIC_BASE_URL` is not configured: `https://{domainName}`
/// from the API Gateway HTTP API request context.
///
/// No path is added: `rawPath` already contains a non-`$default` stage segment on the
/// `execute-api` endpoint and the API mapping key on a custom domain (see the module docs), so
/// `https://{domainName}{rawPath}` is the URL the client requested. API Gateway only serves HTTPS.
pub fn derived_public_base_url(domain_name: &str) -> String {
    format!("https://{}", domain_name.trim().trim_end_matches('/'))
}

/// Picks the configured base URL when non-blank, else derives it from `domain_name`.
/// Returns `None` when neither is available.
pub fn resolve_public_base_url(configured: &str, domain_name: Option<&str>) -> Option<String> {
    let configured = configured.trim();
    if !configured.is_empty() {
        return Some(configured.to_owned());
    }
    domain_name
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(derived_public_base_url)
}

/// Rebuilds the URL Twilio signed for a `lambda_http` request from an API Gateway HTTP API.
///
/// Uses the verbatim `rawPath` (`RequestExt::raw_http_path`, not `uri().path()`, which
/// `lambda_http` may have prefixed with the stage), the raw query string, and
/// `configured_public_base_url` or, when that is blank, `https://{requestContext.domainName}`.
/// Returns `None` when no base URL can be determined (blank configuration and no API Gateway v2
/// request context), in which case the request must be rejected.
pub fn webhook_url_for_request(
    configured_public_base_url: &str,
    request: &lambda_http::Request,
) -> Option<String> {
    use lambda_http::RequestExt as _;
    use lambda_http::request::RequestContext;

    let domain_name = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.domain_name.as_deref(),
        _ => None,
    };
    let base = resolve_public_base_url(configured_public_base_url, domain_name)?;
    let raw_path = match request.raw_http_path() {
        "" => request.uri().path(),
        path => path,
    };
    let raw_query = request.uri().query().unwrap_or("");
    Some(webhook_url(&base, raw_path, raw_query))
}

/// Parses an `application/x-www-form-urlencoded` body into name/value pairs, in order, keeping
/// repeated names. `+` decodes to a space and `%XX` escapes are decoded; invalid UTF-8 is replaced
/// with U+FFFD (such a body will simply fail signature validation).
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// Returns the raw request body, Base64-decoding it when API Gateway flagged it
/// `isBase64Encoded`.
pub fn decode_body(body: &[u8], is_base64_encoded: bool) -> Result<Cow<'_, [u8]>, BodyError> {
    if !is_base64_encoded {
        return Ok(Cow::Borrowed(body));
    }
    let trimmed = body.trim_ascii();
    BASE64
        .decode(trimmed)
        .map(Cow::Owned)
        .map_err(|_| BodyError::InvalidBase64)
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    // `ct_eq` on slices of different lengths is false; the length itself is not secret.
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Splits `scheme://authority/path…` into (`scheme://authority`, `/path…`). Strings without
/// `://` are treated as all path-less origin.
fn split_origin(url: &str) -> (&str, &str) {
    let Some(scheme_end) = url.find("://") else {
        return (url, "");
    };
    let authority_start = scheme_end + 3;
    match url[authority_start..].find(['/', '?', '#']) {
        Some(offset) => url.split_at(authority_start + offset),
        None => (url, ""),
    }
}

/// Returns (URL with the scheme's default port added if it had no port, URL with any port
/// removed), mirroring twilio-python's `add_port` / `remove_port`. A URL that already has a port
/// keeps it in the first variant; one without keeps the original in the second.
fn port_variants(url: &str) -> (String, String) {
    let Some(scheme_end) = url.find("://") else {
        return (url.to_owned(), url.to_owned());
    };
    let scheme = &url[..scheme_end];
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |offset| authority_start + offset);
    let authority = &url[authority_start..authority_end];

    // The port, if any, follows the last ':' after the userinfo and after an IPv6 literal.
    let host_start = authority.rfind('@').map_or(0, |at| at + 1);
    let host_port = &authority[host_start..];
    let ipv6_end = host_port.rfind(']').map_or(0, |b| b + 1);
    let port_colon = host_port[ipv6_end..]
        .rfind(':')
        .map(|c| authority_start + host_start + ipv6_end + c);

    let has_port = port_colon.is_some_and(|colon| {
        let port = &url[colon + 1..authority_end];
        !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
    });

    match port_colon {
        Some(colon) if has_port => {
            let without = format!("{}{}", &url[..colon], &url[authority_end..]);
            (url.to_owned(), without)
        }
        _ => {
            let default_port = if scheme.eq_ignore_ascii_case("https") {
                443
            } else {
                80
            };
            let with = format!(
                "{}:{}{}",
                &url[..authority_end],
                default_port,
                &url[authority_end..]
            );
            (with, url.to_owned())
        }
    }
}

/// First `bodySHA256` value of the URL's query string, percent-decoded.
fn body_sha256_param(url: &str) -> Option<String> {
    let after_question = url.split_once('?')?.1;
    let query = after_question
        .split_once('#')
        .map_or(after_question, |(q, _)| q);
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == BODY_SHA256_PARAM)
        .map(|(_, value)| value.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors from twilio-python tests/unit/test_request_validator.py (reproduced independently with
    // Python's hmac/hashlib before being written here).
    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const EXPECTED: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
    const JSON_BODY: &str = "{\"property\": \"value\", \"boolean\": true}";
    const JSON_BODY_HASH: &str = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    const JSON_SIGNATURE: &str = "a9nBmqA0ju/hNViExpshrM61xv4=";

    fn new_mac(auth_token: &str) -> HmacSha1 {
        HmacSha1::new_from_slice(auth_token.as_bytes()).expect("any key length")
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn voice_params() -> Vec<(String, String)> {
        // Deliberately not in sorted order.
        pairs(&[
            ("To", "+18005551212"),
            ("CallSid", "CA1234567890ABCDE"),
            ("From", "+14158675309"),
            ("Digits", "1234"),
            ("Caller", "+14158675309"),
        ])
    }

    fn json_url() -> String {
        format!("{URL}&bodySHA256={JSON_BODY_HASH}")
    }

    #[test]
    fn signature_matches_twilio_python_vector() {
        assert_eq!(compute_signature(TOKEN, URL, &voice_params()), EXPECTED);
    }

    #[test]
    fn signature_does_not_depend_on_parameter_order() {
        let mut reversed = voice_params();
        reversed.reverse();
        assert_eq!(compute_signature(TOKEN, URL, &reversed), EXPECTED);
    }

    #[test]
    fn signature_of_url_with_port_443_matches_twilio_python_vector() {
        let url = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        assert_eq!(
            compute_signature(TOKEN, url, &voice_params()),
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        );
    }

    #[test]
    fn signature_of_http_url_with_port_1234_matches_twilio_python_vector() {
        let url = "http://mycompany.com:1234/myapp.php?foo=1&bar=2";
        assert_eq!(
            compute_signature(TOKEN, url, &voice_params()),
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
        );
    }

    #[test]
    fn repeated_keys_are_sorted_by_value_like_twilio_python() {
        // test_compute_signature_duplicate_multi_dict in twilio-python.
        let params = pairs(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
        ]);
        assert_eq!(
            compute_signature(TOKEN, URL, &params),
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        );
    }

    #[test]
    fn identical_repeated_pairs_count_once_like_twilio_python() {
        let mut params = voice_params();
        params.push(("Digits".to_owned(), "1234".to_owned()));
        assert_eq!(compute_signature(TOKEN, URL, &params), EXPECTED);
    }

    #[test]
    fn repeated_keys_with_different_values_are_all_signed() {
        let mut params = voice_params();
        params.push(("Digits".to_owned(), "9".to_owned()));
        assert_ne!(compute_signature(TOKEN, URL, &params), EXPECTED);
        assert!(!validate_form(TOKEN, URL, &params, EXPECTED));
    }

    #[test]
    fn valid_form_signature_is_accepted() {
        assert!(validate_form(TOKEN, URL, &voice_params(), EXPECTED));
    }

    #[test]
    fn signature_with_default_https_port_is_accepted_for_url_without_port() {
        // test_validation_adds_port_on_https
        assert!(validate_form(
            TOKEN,
            URL,
            &voice_params(),
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        ));
    }

    #[test]
    fn signature_without_port_is_accepted_for_url_with_default_https_port() {
        let url = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        assert!(validate_form(TOKEN, url, &voice_params(), EXPECTED));
    }

    #[test]
    fn signature_without_port_is_accepted_for_https_url_with_other_port() {
        // test_validation_removes_port_on_https: twilio-python strips any port.
        let url = "https://mycompany.com:1234/myapp.php?foo=1&bar=2";
        assert!(validate_form(TOKEN, url, &voice_params(), EXPECTED));
    }

    #[test]
    fn signature_with_explicit_port_is_accepted_for_http_url_with_that_port() {
        // test_validation_removes_port_on_http
        let url = "http://mycompany.com:1234/myapp.php?foo=1&bar=2";
        assert!(validate_form(
            TOKEN,
            url,
            &voice_params(),
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
        ));
    }

    #[test]
    fn signature_with_default_http_port_is_accepted_for_http_url_without_port() {
        // test_validation_adds_port_on_http
        let url = "http://mycompany.com/myapp.php?foo=1&bar=2";
        assert!(validate_form(
            TOKEN,
            url,
            &voice_params(),
            "0ZXoZLH/DfblKGATFgpif+LLRf4="
        ));
    }

    #[test]
    fn https_signature_is_rejected_for_http_url() {
        let url = "http://mycompany.com/myapp.php?foo=1&bar=2";
        assert!(!validate_form(TOKEN, url, &voice_params(), EXPECTED));
    }

    #[test]
    fn tampered_parameter_value_is_rejected() {
        let mut params = voice_params();
        params[0].1 = "+18005551213".to_owned();
        assert!(!validate_form(TOKEN, URL, &params, EXPECTED));
    }

    #[test]
    fn added_parameter_is_rejected() {
        let mut params = voice_params();
        params.push(("Body".to_owned(), "hello".to_owned()));
        assert!(!validate_form(TOKEN, URL, &params, EXPECTED));
    }

    #[test]
    fn removed_parameter_is_rejected() {
        let mut params = voice_params();
        params.pop();
        assert!(!validate_form(TOKEN, URL, &params, EXPECTED));
    }

    #[test]
    fn parameter_name_and_value_boundary_shift_is_not_distinguished_by_the_algorithm() {
        // Documented weakness of Twilio's scheme (no delimiters): "ab"+"c" == "a"+"bc". Pinned so a
        // change in behaviour is noticed; Twilio's own parameter names make this harmless.
        let a = compute_signature(TOKEN, URL, &pairs(&[("ab", "c")]));
        let b = compute_signature(TOKEN, URL, &pairs(&[("a", "bc")]));
        assert_eq!(a, b);
    }

    #[test]
    fn wrong_token_is_rejected() {
        assert!(!validate_form("54321", URL, &voice_params(), EXPECTED));
    }

    #[test]
    fn wrong_url_is_rejected() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=3";
        assert!(!validate_form(TOKEN, url, &voice_params(), EXPECTED));
        let other_path = "https://mycompany.com/other.php?foo=1&bar=2";
        assert!(!validate_form(TOKEN, other_path, &voice_params(), EXPECTED));
    }

    #[test]
    fn empty_signature_is_rejected() {
        assert!(!validate_form(TOKEN, URL, &voice_params(), ""));
        assert!(!validate_json(TOKEN, &json_url(), JSON_BODY.as_bytes(), ""));
    }

    #[test]
    fn truncated_or_padded_signature_is_rejected() {
        assert!(!validate_form(TOKEN, URL, &voice_params(), &EXPECTED[..27]));
        assert!(!validate_form(
            TOKEN,
            URL,
            &voice_params(),
            &format!("{EXPECTED} ")
        ));
    }

    #[test]
    fn signature_compare_is_case_sensitive() {
        let lower = EXPECTED.to_lowercase();
        assert!(!validate_form(TOKEN, URL, &voice_params(), &lower));
    }

    #[test]
    fn json_body_signature_matches_twilio_python_vector() {
        assert!(validate_json(
            TOKEN,
            &json_url(),
            JSON_BODY.as_bytes(),
            JSON_SIGNATURE
        ));
        assert_eq!(compute_signature(TOKEN, &json_url(), &[]), JSON_SIGNATURE);
    }

    #[test]
    fn json_body_hash_matches_twilio_python_vector() {
        assert_eq!(hex::encode(Sha256::digest(JSON_BODY)), JSON_BODY_HASH);
    }

    #[test]
    fn json_body_with_default_port_in_url_is_accepted() {
        let url = json_url().replace(".com/", ".com:443/");
        assert!(validate_json(
            TOKEN,
            &url,
            JSON_BODY.as_bytes(),
            JSON_SIGNATURE
        ));
    }

    #[test]
    fn tampered_json_body_is_rejected() {
        let tampered = JSON_BODY.replace("true", "false");
        assert!(!validate_json(
            TOKEN,
            &json_url(),
            tampered.as_bytes(),
            JSON_SIGNATURE
        ));
    }

    #[test]
    fn json_body_with_extra_whitespace_is_rejected() {
        let body = format!("{JSON_BODY}\n");
        assert!(!validate_json(
            TOKEN,
            &json_url(),
            body.as_bytes(),
            JSON_SIGNATURE
        ));
    }

    #[test]
    fn json_request_without_body_hash_parameter_is_rejected() {
        let signature = compute_signature(TOKEN, URL, &[]);
        assert!(!validate_json(TOKEN, URL, JSON_BODY.as_bytes(), &signature));
    }

    #[test]
    fn json_request_whose_hash_matches_but_signature_does_not_is_rejected() {
        assert!(!validate_json(
            "54321",
            &json_url(),
            JSON_BODY.as_bytes(),
            JSON_SIGNATURE
        ));
    }

    #[test]
    fn json_request_with_tampered_hash_parameter_is_rejected() {
        // An attacker re-hashing their own body must change the signed URL.
        let body = b"{\"evil\": true}";
        let url = format!("{URL}&bodySHA256={}", hex::encode(Sha256::digest(body)));
        assert!(!validate_json(TOKEN, &url, body, JSON_SIGNATURE));
    }

    #[test]
    fn uppercase_body_hash_is_rejected_because_twilio_sends_lowercase_hex() {
        let url = format!("{URL}&bodySHA256={}", JSON_BODY_HASH.to_uppercase());
        let signature = compute_signature(TOKEN, &url, &[]);
        assert!(!validate_json(
            TOKEN,
            &url,
            JSON_BODY.as_bytes(),
            &signature
        ));
    }

    #[test]
    fn form_values_with_plus_space_quote_and_unicode_sign_their_decoded_form() {
        // Twilio signs decoded values: "+" in the body is a space, "%2B" a plus.
        let body = b"Body=Hello+%22world%22+%E2%80%94+caf%C3%A9+%F0%9F%91%8B&From=%2B14158675309&Quote=it%27s";
        let params = parse_form(body);
        assert_eq!(
            params,
            pairs(&[
                ("Body", "Hello \"world\" \u{2014} caf\u{e9} \u{1f44b}"),
                ("From", "+14158675309"),
                ("Quote", "it's"),
            ])
        );
        let url = "https://example.org/sms/inbound";
        let signature = compute_signature(TOKEN, url, &params);
        assert!(validate_form(TOKEN, url, &params, &signature));

        // The same text with a literal "+" instead of a space is a different message.
        let plus = parse_form(b"Body=Hello%2B%22world%22+%E2%80%94+caf%C3%A9+%F0%9F%91%8B&From=%2B14158675309&Quote=it%27s");
        assert!(!validate_form(TOKEN, url, &plus, &signature));
    }

    #[test]
    fn unicode_parameters_are_signed_as_utf8() {
        // Cross-checked with Python: hmac.new(b"12345", "https://example.org/\u00e9Body\u00e9\U0001f44b".encode(), sha1)
        let params = pairs(&[("Body", "\u{e9}\u{1f44b}")]);
        assert_eq!(
            compute_signature(TOKEN, "https://example.org/\u{e9}", &params),
            "jP8vNYFeyQA8xaNdvemhqPK1SWM="
        );
    }

    #[test]
    fn parameters_sort_by_code_point_so_uppercase_precedes_lowercase() {
        let params = pairs(&[("b", "1"), ("B", "2"), ("a", "3")]);
        let manual = {
            let mut mac = new_mac(TOKEN);
            mac.update(b"https://example.orgB2a3b1");
            BASE64.encode(mac.finalize().into_bytes())
        };
        assert_eq!(
            compute_signature(TOKEN, "https://example.org", &params),
            manual
        );
    }

    #[test]
    fn empty_parameter_list_signs_the_url_alone() {
        let manual = {
            let mut mac = new_mac(TOKEN);
            mac.update(URL.as_bytes());
            BASE64.encode(mac.finalize().into_bytes())
        };
        assert_eq!(compute_signature(TOKEN, URL, &[]), manual);
    }

    #[test]
    fn port_variants_add_and_remove_default_ports() {
        assert_eq!(
            port_variants("https://a.org/x?y=1"),
            (
                "https://a.org:443/x?y=1".to_owned(),
                "https://a.org/x?y=1".to_owned()
            )
        );
        assert_eq!(
            port_variants("http://a.org"),
            ("http://a.org:80".to_owned(), "http://a.org".to_owned())
        );
        assert_eq!(
            port_variants("https://a.org:8443/x"),
            (
                "https://a.org:8443/x".to_owned(),
                "https://a.org/x".to_owned()
            )
        );
        assert_eq!(
            port_variants("https://user:pw@[::1]:443/x"),
            (
                "https://user:pw@[::1]:443/x".to_owned(),
                "https://user:pw@[::1]/x".to_owned()
            )
        );
        assert_eq!(
            port_variants("https://[::1]/x"),
            (
                "https://[::1]:443/x".to_owned(),
                "https://[::1]/x".to_owned()
            )
        );
        assert_eq!(
            port_variants("https://a.org?q=1:2"),
            (
                "https://a.org:443?q=1:2".to_owned(),
                "https://a.org?q=1:2".to_owned()
            )
        );
    }

    #[test]
    fn parse_form_keeps_order_and_repeated_names() {
        assert_eq!(
            parse_form(b"a=1&b=2&a=3&empty=&flag"),
            pairs(&[
                ("a", "1"),
                ("b", "2"),
                ("a", "3"),
                ("empty", ""),
                ("flag", "")
            ])
        );
        assert!(parse_form(b"").is_empty());
    }

    #[test]
    fn parse_form_decodes_plus_as_space_and_percent_escapes() {
        assert_eq!(
            parse_form(b"Body=a+b%20c%2Bd"),
            pairs(&[("Body", "a b c+d")])
        );
    }

    #[test]
    fn parse_form_replaces_invalid_utf8() {
        assert_eq!(parse_form(b"Body=%FF"), pairs(&[("Body", "\u{fffd}")]));
    }

    #[test]
    fn plain_body_is_returned_unchanged() {
        let body = b"Body=hi";
        assert_eq!(decode_body(body, false).as_deref(), Ok(&body[..]));
    }

    #[test]
    fn base64_body_is_decoded() {
        let encoded = BASE64.encode(b"Body=hi+there");
        assert_eq!(
            decode_body(encoded.as_bytes(), true).as_deref(),
            Ok(&b"Body=hi+there"[..])
        );
    }

    #[test]
    fn invalid_base64_body_is_an_error() {
        assert_eq!(decode_body(b"***", true), Err(BodyError::InvalidBase64));
    }

    #[test]
    fn webhook_url_joins_origin_path_and_query() {
        assert_eq!(
            webhook_url("https://x.org", "/sms/inbound", "a=1&b=2"),
            "https://x.org/sms/inbound?a=1&b=2"
        );
        assert_eq!(
            webhook_url("https://x.org/", "/sms/inbound", ""),
            "https://x.org/sms/inbound"
        );
    }

    #[test]
    fn webhook_url_prepends_a_base_path_missing_from_the_request_path() {
        assert_eq!(
            webhook_url("https://x.org/sms", "/inbound", ""),
            "https://x.org/sms/inbound"
        );
        assert_eq!(
            webhook_url("https://x.org/sms/", "/inbound", "q=1"),
            "https://x.org/sms/inbound?q=1"
        );
    }

    #[test]
    fn webhook_url_does_not_repeat_a_base_path_already_in_raw_path() {
        // Custom domain with API mapping key "sms": rawPath keeps the key.
        assert_eq!(
            webhook_url("https://x.org/sms", "/sms/inbound", ""),
            "https://x.org/sms/inbound"
        );
        // Named stage on the execute-api endpoint: rawPath keeps the stage.
        assert_eq!(
            webhook_url(
                "https://abc123.execute-api.eu-west-1.amazonaws.com/prod",
                "/prod/sms/inbound",
                ""
            ),
            "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/sms/inbound"
        );
        assert_eq!(
            webhook_url("https://x.org/sms", "/sms", ""),
            "https://x.org/sms"
        );
    }

    #[test]
    fn webhook_url_only_matches_the_base_path_at_a_segment_boundary() {
        assert_eq!(
            webhook_url("https://x.org/sms", "/smsinbound", ""),
            "https://x.org/sms/smsinbound"
        );
    }

    #[test]
    fn webhook_url_keeps_percent_encoding_verbatim() {
        assert_eq!(
            webhook_url("https://x.org", "/a%20b", "x=%2B1&y=a+b"),
            "https://x.org/a%20b?x=%2B1&y=a+b"
        );
    }

    #[test]
    fn webhook_url_tolerates_empty_path_missing_slash_and_leading_question_mark() {
        assert_eq!(webhook_url("https://x.org", "", ""), "https://x.org/");
        assert_eq!(
            webhook_url("https://x.org", "in", "?a=1"),
            "https://x.org/in?a=1"
        );
    }

    #[test]
    fn derived_base_url_uses_https_and_the_domain_name() {
        assert_eq!(
            derived_public_base_url("abc123.execute-api.eu-west-1.amazonaws.com"),
            "https://abc123.execute-api.eu-west-1.amazonaws.com"
        );
    }

    #[test]
    fn configured_base_url_wins_over_the_derived_one() {
        assert_eq!(
            resolve_public_base_url(" https://x.org/sms ", Some("abc.execute-api")),
            Some("https://x.org/sms".to_owned())
        );
        assert_eq!(
            resolve_public_base_url("", Some("abc.example")),
            Some("https://abc.example".to_owned())
        );
        assert_eq!(resolve_public_base_url("  ", None), None);
        assert_eq!(resolve_public_base_url("", Some(" ")), None);
    }

    fn http_api_event(raw_path: &str, raw_query: &str, stage: &str, domain: &str) -> String {
        serde_json::json!({
            "version": "2.0",
            "routeKey": "POST /sms/inbound",
            "rawPath": raw_path,
            "rawQueryString": raw_query,
            "headers": {
                "content-type": "application/x-www-form-urlencoded",
                "host": domain,
                "x-twilio-signature": "ignored"
            },
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abc123",
                "domainName": domain,
                "domainPrefix": "abc123",
                "http": {
                    "method": "POST",
                    "path": raw_path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "203.0.113.1",
                    "userAgent": "TwilioProxy/1.1"
                },
                "requestId": "id",
                "routeKey": "POST /sms/inbound",
                "stage": stage,
                "time": "12/Mar/2020:19:03:58 +0000",
                "timeEpoch": 1583348638390_i64
            },
            "body": "Body=hi",
            "isBase64Encoded": false
        })
        .to_string()
    }

    #[test]
    fn lambda_request_on_default_stage_derives_url_from_domain_name() {
        let event = http_api_event(
            "/sms/inbound",
            "",
            "$default",
            "abc123.execute-api.eu-west-1.amazonaws.com",
        );
        let request = lambda_http::request::from_str(&event).expect("valid event");
        assert_eq!(
            webhook_url_for_request("", &request).as_deref(),
            Some("https://abc123.execute-api.eu-west-1.amazonaws.com/sms/inbound")
        );
    }

    #[test]
    fn lambda_request_on_named_stage_keeps_the_stage_once() {
        let event = http_api_event(
            "/prod/sms/inbound",
            "a=1",
            "prod",
            "abc123.execute-api.eu-west-1.amazonaws.com",
        );
        let request = lambda_http::request::from_str(&event).expect("valid event");
        assert_eq!(
            webhook_url_for_request("", &request).as_deref(),
            Some("https://abc123.execute-api.eu-west-1.amazonaws.com/prod/sms/inbound?a=1")
        );
    }

    #[test]
    fn lambda_request_on_custom_domain_mapping_ignores_the_stage_lambda_http_adds_to_uri() {
        // Mapping key "twilio" → stage "prod": rawPath has the key but not the stage, while
        // lambda_http's uri() would read /prod/twilio/sms/inbound.
        let event = http_api_event("/twilio/sms/inbound", "", "prod", "api.example.org");
        let request = lambda_http::request::from_str(&event).expect("valid event");
        assert_eq!(request.uri().path(), "/prod/twilio/sms/inbound");
        assert_eq!(
            webhook_url_for_request("", &request).as_deref(),
            Some("https://api.example.org/twilio/sms/inbound")
        );
        assert_eq!(
            webhook_url_for_request("https://api.example.org/twilio/", &request).as_deref(),
            Some("https://api.example.org/twilio/sms/inbound")
        );
    }

    #[test]
    fn lambda_request_without_context_or_configuration_has_no_url() {
        let request = lambda_http::Request::default();
        assert_eq!(webhook_url_for_request("", &request), None);
        assert_eq!(
            webhook_url_for_request("https://x.org", &request).as_deref(),
            Some("https://x.org/")
        );
    }

    #[test]
    fn end_to_end_form_webhook_validates_against_rebuilt_url() {
        let event = http_api_event("/twilio/sms/inbound", "", "prod", "api.example.org");
        let request = lambda_http::request::from_str(&event).expect("valid event");
        let url = webhook_url_for_request("https://api.example.org/twilio", &request).expect("url");
        let params = parse_form(b"Body=hi&From=%2B14158675309");
        let signature =
            compute_signature(TOKEN, "https://api.example.org/twilio/sms/inbound", &params);
        assert!(validate_form(TOKEN, &url, &params, &signature));
    }
}

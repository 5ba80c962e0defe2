//! `X-Twilio-Signature`, as Twilio documents it
//! (https://www.twilio.com/docs/usage/webhooks/webhooks-security):
//!
//! 1. take the full URL of the request, query string included;
//! 2. sort the POST parameters by name (then by value for repeated names)
//!    and append each name immediately followed by its value;
//! 3. sign the string with HMAC-SHA1 keyed by the auth token;
//! 4. Base64-encode the digest.
//!
//! For JSON bodies Twilio adds `bodySHA256` (hex SHA-256 of the body) to the
//! URL's query and signs the URL alone.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

type HmacSha1 = Hmac<Sha1>;

/// The string Twilio signs: the URL then each sorted `name` + `value`.
pub fn string_to_sign(url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut s = String::from(url);
    for (k, v) in sorted {
        s.push_str(k);
        s.push_str(v);
    }
    s
}

/// Base64 HMAC-SHA1 of `data` keyed by `auth_token`.
pub fn hmac_sha1_base64(auth_token: &str, data: &str) -> String {
    let mut mac =
        HmacSha1::new_from_slice(auth_token.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(data.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The `X-Twilio-Signature` of a form-encoded request to `url`.
pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    hmac_sha1_base64(auth_token, &string_to_sign(url, params))
}

/// Hex SHA-256 of a body, the `bodySHA256` query parameter of JSON webhooks.
pub fn body_sha256_hex(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The URL with its default port added (`https://h/` → `https://h:443/`) or
/// removed, as Twilio's helper libraries also try both forms.
fn port_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_string()];
    if let Ok(parsed) = url::Url::parse(url) {
        let default = match parsed.scheme() {
            "https" => Some(443),
            "http" => Some(80),
            _ => None,
        };
        let (Some(default), Some(host)) = (default, parsed.host_str()) else {
            return out;
        };
        let authority_end = url.find("://").map(|i| i + 3).unwrap_or(0);
        let rest = &url[authority_end..];
        let auth_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..auth_len];
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (&authority[..=i], &authority[i + 1..]),
            None => ("", authority),
        };
        let tail = &rest[auth_len..];
        let head = &url[..authority_end];
        let with_port = format!("{head}{userinfo}{host}:{default}{tail}");
        let without_port = format!("{head}{userinfo}{host}{tail}");
        if hostport == host || hostport.ends_with(&format!(":{default}")) {
            out.push(with_port);
            out.push(without_port);
        }
    }
    out.dedup();
    out
}

/// Checks a form-encoded request's signature (trying the URL with and without
/// its default port, like Twilio's helper libraries).
pub fn validate(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    port_variants(url)
        .iter()
        .any(|u| constant_time_eq(sign(auth_token, u, params).as_bytes(), signature.as_bytes()))
}

/// Checks a JSON request's signature: the URL (carrying `bodySHA256`) is
/// signed alone, and the body must hash to that `bodySHA256`.
pub fn validate_with_body(auth_token: &str, url: &str, body: &[u8], signature: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    let Some((_, expected)) = parsed.query_pairs().find(|(k, _)| k == "bodySHA256") else {
        return false;
    };
    validate(auth_token, url, &[], signature)
        && constant_time_eq(
            body_sha256_hex(body).as_bytes(),
            expected.to_ascii_lowercase().as_bytes(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    // Twilio's published example (webhooks-security docs and the helper
    // libraries' request-validator tests).
    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const SIGNATURE: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
    const BODY: &str = r#"{"property": "value", "boolean": true}"#;
    const BODY_HASH: &str = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";

    fn params() -> Vec<(String, String)> {
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn published_vector() {
        assert_eq!(sign(TOKEN, URL, &params()), SIGNATURE);
    }

    #[test]
    fn parameter_order_does_not_matter() {
        let mut p = params();
        p.reverse();
        assert_eq!(sign(TOKEN, URL, &p), SIGNATURE);
        assert_eq!(
            string_to_sign(URL, &p),
            "https://mycompany.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDECaller+14158675309Digits1234From+14158675309To+18005551212"
        );
    }

    #[test]
    fn published_port_vectors() {
        assert_eq!(
            sign(
                TOKEN,
                "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                &params()
            ),
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        );
        assert_eq!(
            sign(
                TOKEN,
                "http://mycompany.com:80/myapp.php?foo=1&bar=2",
                &params()
            ),
            "0ZXoZLH/DfblKGATFgpif+LLRf4="
        );
        assert_eq!(
            sign(
                TOKEN,
                "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
                &params()
            ),
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
        );
        // The validator accepts the signature of either form of the URL.
        assert!(validate(
            TOKEN,
            URL,
            &params(),
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        ));
        assert!(validate(
            TOKEN,
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            &params(),
            SIGNATURE
        ));
        assert!(validate(
            TOKEN,
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            &params(),
            "0ZXoZLH/DfblKGATFgpif+LLRf4="
        ));
    }

    #[test]
    fn published_body_vectors() {
        assert_eq!(body_sha256_hex(BODY.as_bytes()), BODY_HASH);
        let url = format!("{URL}&bodySHA256={BODY_HASH}");
        assert_eq!(sign(TOKEN, &url, &[]), "a9nBmqA0ju/hNViExpshrM61xv4=");
        assert_eq!(
            sign(
                TOKEN,
                &format!("https://mycompany.com/myapp.php?bodySHA256={BODY_HASH}"),
                &[]
            ),
            "y77kIzt2vzLz71DgmJGsen2scGs="
        );
        assert!(validate_with_body(
            TOKEN,
            &url,
            BODY.as_bytes(),
            "a9nBmqA0ju/hNViExpshrM61xv4="
        ));
        assert!(!validate_with_body(
            TOKEN,
            &url,
            br#"{"property": "evil"}"#,
            "a9nBmqA0ju/hNViExpshrM61xv4="
        ));
        assert!(!validate_with_body(TOKEN, URL, BODY.as_bytes(), SIGNATURE));
    }

    #[test]
    fn rejects_wrong_signatures() {
        assert!(validate(TOKEN, URL, &params(), SIGNATURE));
        assert!(!validate(TOKEN, URL, &params(), "FAIL"));
        assert!(!validate("54321", URL, &params(), SIGNATURE));
        let mut p = params();
        p[2].1 = "4321".into();
        assert!(!validate(TOKEN, URL, &p, SIGNATURE));
        assert!(!validate(
            TOKEN,
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            &params(),
            SIGNATURE
        ));
    }
}

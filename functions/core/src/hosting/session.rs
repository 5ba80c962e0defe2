//! Secrets of host sign-in: magic-link tokens, session cookies and CSRF tokens.
//!
//! - **Tokens** (magic link, session) are 32 random bytes, base64url. Only their SHA-256 is stored
//!   ([`token_hash`]), so a copy of the table cannot sign anybody in.
//! - **The session cookie** is `<token>.<mac>`: the token and an HMAC-SHA256 of it under the session
//!   key (SSM), so a forged or altered cookie is refused before any read of the table. The session
//!   item (by token hash) says whose it is and until when; signing out deletes it.
//! - **CSRF tokens** are an HMAC of the session's token hash: one per session, never stored, checked
//!   on every POST of a signed-in host (synchronizer-token pattern, stateless).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Bytes of a random token.
const TOKEN_BYTES: usize = 32;
/// Bytes of a MAC kept in a cookie or a CSRF token (128 bits).
const MAC_BYTES: usize = 16;

/// A random secret token (magic link or session), as given to the browser. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(String);

impl SecretToken {
    /// 32 fresh random bytes.
    pub fn random() -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A token as the browser sent it: exactly the shape [`SecretToken::random`] makes.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let ok = text.len() == 43
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What is stored: SHA-256 of the token, hex.
    pub fn hash(&self) -> String {
        token_hash(&self.0)
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(<redacted>)")
    }
}

/// SHA-256 of a token, hex: the key of its stored item.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The session key could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SessionKeyError {
    #[error("the session key is not base64")]
    NotBase64,
    #[error("the session key has {0} bytes; it needs at least 32")]
    TooShort(usize),
}

/// The key that signs session cookies and CSRF tokens. `Debug` hides it.
#[derive(Clone)]
pub struct SessionKey {
    keyed: Hmac<Sha256>,
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(<key redacted>)")
    }
}

impl SessionKey {
    /// From the base64 value stored in SSM (at least 32 random bytes).
    pub fn from_base64(key: &str) -> Result<Self, SessionKeyError> {
        let key = STANDARD
            .decode(key.trim())
            .map_err(|_| SessionKeyError::NotBase64)?;
        if key.len() < 32 {
            return Err(SessionKeyError::TooShort(key.len()));
        }
        let keyed = Hmac::<Sha256>::new_from_slice(&key)
            .map_err(|_| SessionKeyError::TooShort(key.len()))?;
        Ok(Self { keyed })
    }

    fn mac(&self, purpose: &str, value: &str) -> Vec<u8> {
        let mut mac = self.keyed.clone();
        mac.update(b"rising-host|");
        mac.update(purpose.as_bytes());
        mac.update(b"|");
        mac.update(value.as_bytes());
        mac.finalize().into_bytes()[..MAC_BYTES].to_vec()
    }

    /// The cookie value of a session: `<token>.<mac>`.
    pub fn cookie_value(&self, token: &SecretToken) -> String {
        format!(
            "{}.{}",
            token.as_str(),
            URL_SAFE_NO_PAD.encode(self.mac("session", token.as_str()))
        )
    }

    /// The session token of a cookie value, if its MAC is right.
    pub fn verify_cookie(&self, value: &str) -> Option<SecretToken> {
        let (token, mac) = value.trim().split_once('.')?;
        let token = SecretToken::parse(token)?;
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        let expected = self.mac("session", token.as_str());
        bool::from(mac.ct_eq(&expected)).then_some(token)
    }

    /// The CSRF token of the session whose token hashes to `session_hash`.
    pub fn csrf_token(&self, session_hash: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac("csrf", session_hash))
    }

    /// Whether `token` is the CSRF token of that session (constant time).
    pub fn verify_csrf(&self, session_hash: &str, token: &str) -> bool {
        let expected = self.csrf_token(session_hash);
        token.len() == expected.len() && bool::from(token.as_bytes().ct_eq(expected.as_bytes()))
    }
}

/// The session cookie's name: `__Host-` prefixed (the browser then insists on Secure, Path=/ and no
/// Domain) when the site is served over HTTPS; a plain name on a local `http://` stack.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-rising_host"
    } else {
        "rising_host"
    }
}

/// The `Set-Cookie` header that starts a session lasting `max_age`.
pub fn set_cookie(value: &str, secure: bool, max_age: time::Duration) -> String {
    format!(
        "{}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{}",
        cookie_name(secure),
        max_age.whole_seconds(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` header that removes the session cookie.
pub fn clear_cookie(secure: bool) -> String {
    format!(
        "{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{}",
        cookie_name(secure),
        if secure { "; Secure" } else { "" }
    )
}

/// The value of cookie `name` in a `Cookie` request header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k.trim() == name).then_some(v.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SessionKey {
        SessionKey::from_base64(&STANDARD.encode([7u8; 32])).expect("a key")
    }

    #[test]
    fn a_random_token_parses_back_and_is_stored_only_as_its_hash() {
        let token = SecretToken::random();
        assert_eq!(SecretToken::parse(token.as_str()), Some(token.clone()));
        let hash = token.hash();
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains(token.as_str()));
        assert_ne!(SecretToken::random(), token);
        assert_eq!(format!("{token:?}"), "SecretToken(<redacted>)");
    }

    #[test]
    fn tokens_of_another_shape_are_refused() {
        for bad in [
            "",
            "short",
            &"a".repeat(44),
            &format!("{}!", "a".repeat(42)),
        ] {
            assert_eq!(SecretToken::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_signed_cookie_verifies_and_any_change_to_it_is_refused() {
        let key = key();
        let token = SecretToken::random();
        let value = key.cookie_value(&token);
        assert_eq!(key.verify_cookie(&value), Some(token.clone()));

        let other = SecretToken::random();
        let (_, mac) = value.split_once('.').expect("two parts");
        assert_eq!(
            key.verify_cookie(&format!("{}.{mac}", other.as_str())),
            None
        );
        assert_eq!(key.verify_cookie(token.as_str()), None);
        let mut tampered = value.clone();
        tampered.pop();
        tampered.push(if value.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(key.verify_cookie(&tampered), None);

        let other_key = SessionKey::from_base64(&STANDARD.encode([8u8; 32])).expect("a key");
        assert_eq!(other_key.verify_cookie(&value), None);
    }

    #[test]
    fn a_csrf_token_belongs_to_one_session() {
        let key = key();
        let a = SecretToken::random().hash();
        let b = SecretToken::random().hash();
        let token = key.csrf_token(&a);
        assert!(key.verify_csrf(&a, &token));
        assert!(!key.verify_csrf(&b, &token));
        assert!(!key.verify_csrf(&a, ""));
        assert!(!key.verify_csrf(&a, &token[1..]));
    }

    #[test]
    fn a_short_or_garbled_session_key_is_refused() {
        assert_eq!(
            SessionKey::from_base64(&STANDARD.encode([1u8; 16])).err(),
            Some(SessionKeyError::TooShort(16))
        );
        assert_eq!(
            SessionKey::from_base64("not base64 at all!").err(),
            Some(SessionKeyError::NotBase64)
        );
    }

    #[test]
    fn the_cookie_is_http_only_same_site_lax_and_secure_over_https() {
        let set = set_cookie("v", true, time::Duration::days(7));
        assert!(set.starts_with("__Host-rising_host=v; Path=/; Max-Age=604800"));
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.ends_with("; Secure")
        );
        let local = set_cookie("v", false, time::Duration::days(7));
        assert!(local.starts_with("rising_host=v;") && !local.contains("Secure"));
        assert!(clear_cookie(true).contains("Max-Age=0"));
    }

    #[test]
    fn a_cookie_is_found_among_others() {
        let header = "a=1; rising_host=abc.def ; b=2";
        assert_eq!(cookie(header, "rising_host"), Some("abc.def"));
        assert_eq!(cookie(header, "missing"), None);
    }
}

//! Signed links in emails: one-click unsubscribe (`{base}/unsubscribe?t=…`) and "delete my data"
//! (`{base}/forget?t=…`).
//!
//! A token is `base64url(payload) "." base64url(HMAC-SHA256(key, "rising-email-link\0" || payload))`
//! with `payload = "v1\n<purpose>\n<contact keyed hash>\n<issued at, unix seconds>"`. It carries no
//! address or name: the contact's keyed hash is opaque without the contact hash key. Only URL-safe
//! characters (`A-Z a-z 0-9 - _ .`), so it goes into a query string as is.
//!
//! Expiry ([`TokenPurpose::max_age`]):
//! * `marketing` (unsubscribe) tokens never expire. RFC 8058 one-click links are followed from any
//!   email a person still has, however old, and CAN-SPAM requires the opt-out to keep working for at
//!   least 30 days after sending; Gmail and Yahoo treat a dead unsubscribe link as a reason to
//!   file the sender as spam. Replaying one can only unsubscribe the person it was issued to, which
//!   is idempotent and harmless.
//! * `forget` tokens expire after 400 days: erasing data is destructive, and emails get forwarded.
//!   A page reached with an expired link can offer to email a fresh one.
//!
//! The key is separate from the contact hash key (a leaked link key then lets no one compute keyed
//! hashes of addresses) and is loaded the same way: at least 32 random bytes, base64, from SSM.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use time::{Duration, OffsetDateTime};

use crate::privacy::ContactHash;

/// Domain separator of the MAC, so this key's tags can never be confused with another use of it.
const MAC_DOMAIN: &[u8] = b"rising-email-link\x00";
const VERSION: &str = "v1";
/// Longer input is refused before any decoding (a real token is about 140 characters).
const MAX_TOKEN_LEN: usize = 512;
/// How far in the future `issued_at` may be (clock skew between functions).
const CLOCK_SKEW: Duration = Duration::minutes(5);
/// How long a `forget` link works.
pub const FORGET_MAX_AGE: Duration = Duration::days(400);

/// The link key could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenKeyError {
    #[error("the email link key is not valid base64")]
    NotBase64,
    #[error("the email link key must be at least 32 bytes, got {0}")]
    TooShort(usize),
}

/// Why a link's token was not accepted. The message can be shown to the person who followed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("This link is incomplete or was changed. Please use the link in your email.")]
    Malformed,
    #[error("This link is incomplete or was changed. Please use the link in your email.")]
    BadSignature,
    #[error("This link is not meant for this page.")]
    WrongPurpose,
    #[error("This link has expired. Please use the link in a more recent email.")]
    Expired,
}

/// What a link lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenPurpose {
    /// Stop marketing email (one-click unsubscribe, `List-Unsubscribe`).
    Marketing,
    /// Delete the person's data.
    Forget,
}

impl TokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Marketing => "marketing",
            Self::Forget => "forget",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "marketing" => Some(Self::Marketing),
            "forget" => Some(Self::Forget),
            _ => None,
        }
    }

    /// How long a token of this purpose is accepted; `None` for ever (see the module docs).
    pub fn max_age(self) -> Option<Duration> {
        match self {
            Self::Marketing => None,
            Self::Forget => Some(FORGET_MAX_AGE),
        }
    }
}

/// The key that signs email links. `Debug` hides it.
#[derive(Clone)]
pub struct TokenKey {
    /// HMAC-SHA256 with the key already absorbed; cloned for each token.
    keyed: Hmac<Sha256>,
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(<key redacted>)")
    }
}

impl TokenKey {
    /// Builds a key from the base64 value stored in SSM (at least 32 random bytes).
    pub fn from_base64(key: &str) -> Result<Self, TokenKeyError> {
        let key = STANDARD
            .decode(key.trim())
            .map_err(|_| TokenKeyError::NotBase64)?;
        if key.len() < 32 {
            return Err(TokenKeyError::TooShort(key.len()));
        }
        // HMAC accepts keys of any length: this error cannot happen.
        let keyed =
            Hmac::<Sha256>::new_from_slice(&key).map_err(|_| TokenKeyError::TooShort(key.len()))?;
        Ok(Self { keyed })
    }

    fn mac(&self) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        mac.update(MAC_DOMAIN);
        mac
    }
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    contact_hash: String,
    purpose: TokenPurpose,
    issued_at: OffsetDateTime,
}

impl TokenClaims {
    /// The contact's keyed hash ([`ContactHash::as_str`]), e.g. `e.…` for an email address.
    pub fn contact_hash(&self) -> &str {
        &self.contact_hash
    }

    pub fn purpose(&self) -> TokenPurpose {
        self.purpose
    }

    pub fn issued_at(&self) -> OffsetDateTime {
        self.issued_at
    }
}

/// A signed, URL-safe link token (see the module docs for the format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubscribeToken {
    token: String,
    purpose: TokenPurpose,
}

impl UnsubscribeToken {
    /// Signs a token for `contact` and `purpose`, issued at `issued_at` (whole seconds).
    pub fn sign(
        key: &TokenKey,
        contact: &ContactHash,
        purpose: TokenPurpose,
        issued_at: OffsetDateTime,
    ) -> Self {
        let payload = format!(
            "{VERSION}\n{}\n{}\n{}",
            purpose.as_str(),
            contact.as_str(),
            issued_at.unix_timestamp()
        );
        let mut mac = key.mac();
        mac.update(payload.as_bytes());
        let tag = mac.finalize().into_bytes();
        Self {
            token: format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(payload),
                URL_SAFE_NO_PAD.encode(tag)
            ),
            purpose,
        }
    }

    /// Checks a token from a link: its signature (compared in constant time), that it was issued
    /// for `purpose`, and its age at `now`.
    pub fn verify(
        key: &TokenKey,
        token: &str,
        purpose: TokenPurpose,
        now: OffsetDateTime,
    ) -> Result<TokenClaims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let (payload, tag) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| TokenError::Malformed)?;
        let mut mac = key.mac();
        mac.update(&payload);
        mac.verify_slice(&tag)
            .map_err(|_| TokenError::BadSignature)?;

        let claims = parse_payload(&payload).ok_or(TokenError::Malformed)?;
        if claims.purpose != purpose {
            return Err(TokenError::WrongPurpose);
        }
        if claims.issued_at > now + CLOCK_SKEW {
            return Err(TokenError::Malformed);
        }
        if let Some(max_age) = purpose.max_age()
            && now - claims.issued_at > max_age
        {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    pub fn as_str(&self) -> &str {
        &self.token
    }

    pub fn purpose(&self) -> TokenPurpose {
        self.purpose
    }
}

fn parse_payload(payload: &[u8]) -> Option<TokenClaims> {
    let text = std::str::from_utf8(payload).ok()?;
    let mut fields = text.split('\n');
    let (version, purpose, contact, issued_at) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    if version != VERSION || fields.next().is_some() || contact.is_empty() {
        return None;
    }
    Some(TokenClaims {
        contact_hash: contact.to_string(),
        purpose: TokenPurpose::parse(purpose)?,
        issued_at: OffsetDateTime::from_unix_timestamp(issued_at.parse().ok()?).ok()?,
    })
}

/// The one-click unsubscribe link for a [`TokenPurpose::Marketing`] token:
/// `{base_url}/unsubscribe?t=<token>` (the `List-Unsubscribe` URL and the footer link).
pub fn unsubscribe_url(base_url: &str, token: &UnsubscribeToken) -> String {
    debug_assert_eq!(token.purpose, TokenPurpose::Marketing);
    link(base_url, "unsubscribe", token)
}

/// The "delete my data" link for a [`TokenPurpose::Forget`] token: `{base_url}/forget?t=<token>`.
pub fn forget_url(base_url: &str, token: &UnsubscribeToken) -> String {
    debug_assert_eq!(token.purpose, TokenPurpose::Forget);
    link(base_url, "forget", token)
}

fn link(base_url: &str, path: &str, token: &UnsubscribeToken) -> String {
    format!(
        "{}/{path}?t={}",
        base_url.trim().trim_end_matches('/'),
        token.as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EmailAddress;
    use crate::privacy::ContactHasher;
    use time::macros::datetime;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes
    const ISSUED: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

    fn key() -> TokenKey {
        TokenKey::from_base64(KEY).unwrap()
    }

    fn contact() -> ContactHash {
        ContactHasher::from_base64(KEY)
            .unwrap()
            .email(&EmailAddress::parse("marisol@example.org").unwrap())
    }

    fn marketing() -> UnsubscribeToken {
        UnsubscribeToken::sign(&key(), &contact(), TokenPurpose::Marketing, ISSUED)
    }

    #[test]
    fn a_signed_token_verifies_and_gives_back_its_claims() {
        let claims = UnsubscribeToken::verify(
            &key(),
            marketing().as_str(),
            TokenPurpose::Marketing,
            ISSUED + Duration::days(1),
        )
        .unwrap();
        assert_eq!(claims.contact_hash(), contact().as_str());
        assert_eq!(claims.purpose(), TokenPurpose::Marketing);
        assert_eq!(claims.issued_at(), ISSUED);
    }

    #[test]
    fn the_token_is_url_safe_and_holds_no_address() {
        let token = marketing();
        assert!(
            token
                .as_str()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "{}",
            token.as_str()
        );
        assert!(token.as_str().len() < 200);
        assert!(!token.as_str().contains("marisol"));
    }

    #[test]
    fn a_flipped_character_anywhere_in_the_token_is_refused() {
        let token = marketing().as_str().to_string();
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            if tampered == token {
                continue;
            }
            let result =
                UnsubscribeToken::verify(&key(), &tampered, TokenPurpose::Marketing, ISSUED);
            assert!(
                matches!(
                    result,
                    Err(TokenError::BadSignature | TokenError::Malformed)
                ),
                "position {i}: {result:?}"
            );
        }
    }

    #[test]
    fn a_token_whose_payload_was_swapped_for_another_contact_is_refused() {
        let other = ContactHasher::from_base64(KEY)
            .unwrap()
            .email(&EmailAddress::parse("dana@example.org").unwrap());
        let theirs = UnsubscribeToken::sign(&key(), &other, TokenPurpose::Marketing, ISSUED);
        let mine = marketing();
        let (their_payload, _) = theirs.as_str().split_once('.').unwrap();
        let (_, my_tag) = mine.as_str().split_once('.').unwrap();
        let forged = format!("{their_payload}.{my_tag}");
        assert_eq!(
            UnsubscribeToken::verify(&key(), &forged, TokenPurpose::Marketing, ISSUED),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn a_truncated_token_is_refused() {
        let token = marketing().as_str().to_string();
        for len in [0, 1, 10, token.find('.').unwrap(), token.len() - 1] {
            let result =
                UnsubscribeToken::verify(&key(), &token[..len], TokenPurpose::Marketing, ISSUED);
            assert!(result.is_err(), "length {len}");
        }
        assert_eq!(
            UnsubscribeToken::verify(&key(), &"a".repeat(600), TokenPurpose::Marketing, ISSUED),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let other = TokenKey::from_base64(&STANDARD.encode([7u8; 32])).unwrap();
        assert_eq!(
            UnsubscribeToken::verify(
                &other,
                marketing().as_str(),
                TokenPurpose::Marketing,
                ISSUED
            ),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn a_token_for_the_wrong_purpose_is_refused() {
        assert_eq!(
            UnsubscribeToken::verify(&key(), marketing().as_str(), TokenPurpose::Forget, ISSUED),
            Err(TokenError::WrongPurpose)
        );
        let forget = UnsubscribeToken::sign(&key(), &contact(), TokenPurpose::Forget, ISSUED);
        assert_eq!(
            UnsubscribeToken::verify(&key(), forget.as_str(), TokenPurpose::Marketing, ISSUED),
            Err(TokenError::WrongPurpose)
        );
    }

    #[test]
    fn an_unsubscribe_link_from_an_email_years_old_still_works() {
        let ten_years_later = ISSUED + Duration::days(3650);
        assert!(
            UnsubscribeToken::verify(
                &key(),
                marketing().as_str(),
                TokenPurpose::Marketing,
                ten_years_later
            )
            .is_ok()
        );
    }

    #[test]
    fn a_forget_link_expires_after_400_days() {
        let forget = UnsubscribeToken::sign(&key(), &contact(), TokenPurpose::Forget, ISSUED);
        let verify =
            |now| UnsubscribeToken::verify(&key(), forget.as_str(), TokenPurpose::Forget, now);
        assert!(verify(ISSUED + Duration::days(400)).is_ok());
        assert_eq!(
            verify(ISSUED + Duration::days(401)),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn a_token_issued_in_the_future_is_refused() {
        assert!(
            UnsubscribeToken::verify(
                &key(),
                marketing().as_str(),
                TokenPurpose::Marketing,
                ISSUED - Duration::minutes(4)
            )
            .is_ok()
        );
        assert_eq!(
            UnsubscribeToken::verify(
                &key(),
                marketing().as_str(),
                TokenPurpose::Marketing,
                ISSUED - Duration::hours(1)
            ),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn the_tag_is_the_documented_hmac_construction() {
        // python3 -c 'import hmac,hashlib,base64;p=b"v1\nmarketing\ne.x\n0";print(base64.urlsafe_b64encode(p).rstrip(b"=")+b"."+base64.urlsafe_b64encode(hmac.new(bytes(32),b"rising-email-link\0"+p,hashlib.sha256).digest()).rstrip(b"="))'
        let key = TokenKey::from_base64(&STANDARD.encode([0u8; 32])).unwrap();
        let token = UnsubscribeToken::verify(
            &key,
            "djEKbWFya2V0aW5nCmUueAow.50b1lDU6RzjcKLTSbJGhybSatLSvc6mOR9OvaJBngC0",
            TokenPurpose::Marketing,
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(token.contact_hash(), "e.x");
    }

    #[test]
    fn links_go_to_unsubscribe_and_forget_under_the_base_url() {
        let forget = UnsubscribeToken::sign(&key(), &contact(), TokenPurpose::Forget, ISSUED);
        assert_eq!(
            unsubscribe_url("https://rising.example/", &marketing()),
            format!(
                "https://rising.example/unsubscribe?t={}",
                marketing().as_str()
            )
        );
        assert_eq!(
            forget_url("https://rising.example", &forget),
            format!("https://rising.example/forget?t={}", forget.as_str())
        );
        let url =
            url::Url::parse(&unsubscribe_url("https://rising.example", &marketing())).unwrap();
        let t = url.query_pairs().find(|(k, _)| k == "t").unwrap().1;
        assert!(UnsubscribeToken::verify(&key(), &t, TokenPurpose::Marketing, ISSUED).is_ok());
    }

    #[test]
    fn short_or_malformed_link_keys_are_refused_and_never_printed() {
        assert_eq!(
            TokenKey::from_base64("c2hvcnQ=").unwrap_err(),
            TokenKeyError::TooShort(5)
        );
        assert_eq!(
            TokenKey::from_base64("not base64!").unwrap_err(),
            TokenKeyError::NotBase64
        );
        assert_eq!(format!("{:?}", key()), "TokenKey(<key redacted>)");
    }
}

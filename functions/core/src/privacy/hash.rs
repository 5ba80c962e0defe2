//! Identity without contact details: a person is found by a keyed hash (HMAC-SHA256) of their
//! normalised phone number, never by the number itself. Without the key, which lives in SSM, a leaked
//! table cannot be joined back to phone numbers by hashing every possible number.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

use crate::domain::PhoneNumber;

/// The hash key could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashKeyError {
    #[error("the contact hash key is not valid base64")]
    NotBase64,
    #[error("the contact hash key must be at least 32 bytes, got {0}")]
    TooShort(usize),
}

/// Computes keyed hashes of contact details. `Debug` hides the key.
#[derive(Clone)]
pub struct ContactHasher {
    key: Vec<u8>,
}

impl fmt::Debug for ContactHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ContactHasher(<key redacted>)")
    }
}

/// An opaque, stable identifier of one contact detail (`p.` for phones), safe for keys and logs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContactHash(String);

impl ContactHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContactHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ContactHasher {
    /// Builds a hasher from the base64 key stored in SSM (at least 32 random bytes).
    pub fn from_base64(key: &str) -> Result<Self, HashKeyError> {
        let key = STANDARD
            .decode(key.trim())
            .map_err(|_| HashKeyError::NotBase64)?;
        if key.len() < 32 {
            return Err(HashKeyError::TooShort(key.len()));
        }
        Ok(Self { key })
    }

    /// The keyed hash of a phone number (its E.164 form). Domain-separated from emails, so the same
    /// string can never collide across kinds.
    pub fn phone(&self, phone: &PhoneNumber) -> ContactHash {
        ContactHash(format!(
            "p.{}",
            self.mac(b"phone\x00", phone.as_e164().as_bytes())
        ))
    }

    fn mac(&self, domain: &[u8], value: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts keys of any length");
        mac.update(domain);
        mac.update(value);
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // 32 bytes

    #[test]
    fn the_same_phone_typed_differently_gets_the_same_hash() {
        let hasher = ContactHasher::from_base64(KEY).unwrap();
        let a = hasher.phone(&PhoneNumber::parse("+1 202 555 0143").unwrap());
        let b = hasher.phone(&PhoneNumber::parse("(202) 555-0143").unwrap());
        assert_eq!(a, b);
    }

    #[test]
    fn the_hash_reveals_no_digits_of_the_phone() {
        let hasher = ContactHasher::from_base64(KEY).unwrap();
        let hash = hasher.phone(&PhoneNumber::parse("+12025550143").unwrap());
        assert!(hash.as_str().starts_with("p."));
        assert!(!hash.as_str().contains("2025550143"));
        assert_eq!(hash.as_str().len(), 2 + 43);
    }

    #[test]
    fn a_different_key_gives_a_different_hash() {
        let other = STANDARD.encode([7u8; 32]);
        let phone = PhoneNumber::parse("+12025550143").unwrap();
        let a = ContactHasher::from_base64(KEY).unwrap().phone(&phone);
        let b = ContactHasher::from_base64(&other).unwrap().phone(&phone);
        assert_ne!(a, b);
    }

    #[test]
    fn the_hash_is_the_published_hmac_sha256_construction() {
        // Independent computation: HMAC-SHA256(key, "phone\0" || e164), base64url without padding.
        let hasher = ContactHasher::from_base64(&STANDARD.encode([0u8; 32])).unwrap();
        let hash = hasher.phone(&PhoneNumber::parse("+12025550143").unwrap());
        // python3 -c 'import hmac,hashlib,base64;print(base64.urlsafe_b64encode(hmac.new(bytes(32),b"phone\0+12025550143",hashlib.sha256).digest()).rstrip(b"="))'
        assert_eq!(
            hash.as_str(),
            "p.RszGy9RKKPDpUtrg1zOvfmg3Nte4Vk_kBwtiD2NFauc"
        );
    }

    #[test]
    fn short_or_malformed_keys_are_refused() {
        assert_eq!(
            ContactHasher::from_base64("c2hvcnQ=").unwrap_err(),
            HashKeyError::TooShort(5)
        );
        assert_eq!(
            ContactHasher::from_base64("not base64!").unwrap_err(),
            HashKeyError::NotBase64
        );
    }
}

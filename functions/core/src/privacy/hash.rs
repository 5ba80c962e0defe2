//! Identity without contact details: a person is found by a keyed hash (HMAC-SHA256) of their
//! normalised phone number, never by the number itself. Without the key, which lives in SSM, a leaked
//! table cannot be joined back to phone numbers by hashing every possible number.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

use crate::domain::{EmailAddress, PhoneNumber};

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

    /// Accepts a hash read back from a key, an item or a queue message: a lower-case kind letter,
    /// a dot, and up to 64 URL-safe base64 characters.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        let ok = bytes.len() >= 3
            && bytes.len() <= 66
            && bytes[0].is_ascii_lowercase()
            && bytes[1] == b'.'
            && bytes[2..]
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
        ok.then(|| Self(text.to_owned()))
    }
}

impl serde::Serialize for ContactHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for ContactHash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom("not a contact hash"))
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

    /// The keyed hash of an email address (its normalised, lower-case form), prefixed `e.`.
    /// Domain-separated from phones (`email\0` vs `phone\0`; neither kind can contain a NUL), so a
    /// phone and an email can never share a hash.
    pub fn email(&self, email: &EmailAddress) -> ContactHash {
        ContactHash(format!(
            "e.{}",
            self.mac(b"email\x00", email.as_str().as_bytes())
        ))
    }

    /// The keyed hash of a client's IP address (as API Gateway reports it), prefixed `i.`: rate-limit
    /// counters are kept per address without storing the address.
    pub fn ip(&self, ip: &str) -> ContactHash {
        ContactHash(format!("i.{}", self.mac(b"ip\x00", ip.trim().as_bytes())))
    }

    /// A person's "bring a friend" code: 10 lower-case base32 characters (50 bits) derived from their
    /// keyed hash, so every retry and every later sign-up gives the same code, and nobody can compute
    /// it, or tell whose it is, without the key.
    pub fn referral_code(&self, person: &ContactHash) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts keys of any length");
        mac.update(b"referral\x00");
        mac.update(person.as_str().as_bytes());
        let digest = mac.finalize().into_bytes();
        const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
        let bits = digest[..8]
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        (0..10)
            .map(|i| ALPHABET[((bits >> (59 - 5 * i)) & 31) as usize] as char)
            .collect()
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
    fn referral_codes_are_stable_short_and_differ_per_person() {
        let hasher = ContactHasher::from_base64(KEY).unwrap();
        let a = hasher.phone(&PhoneNumber::parse("+1 202 555 0143").unwrap());
        let b = hasher.phone(&PhoneNumber::parse("+1 202 555 0144").unwrap());
        let code = hasher.referral_code(&a);
        assert_eq!(code.len(), 10);
        assert!(
            code.bytes()
                .all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c))
        );
        assert_eq!(code, hasher.referral_code(&a));
        assert_ne!(code, hasher.referral_code(&b));
        assert!(hasher.ip("203.0.113.7").as_str().starts_with("i."));
        assert_ne!(hasher.ip("203.0.113.7"), hasher.ip("203.0.113.8"));
    }

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
    fn the_same_email_typed_differently_gets_the_same_hash() {
        let hasher = ContactHasher::from_base64(KEY).unwrap();
        let a = hasher.email(&EmailAddress::parse("Marisol@Example.org").unwrap());
        let b = hasher.email(&EmailAddress::parse(" marisol@example.org ").unwrap());
        assert_eq!(a, b);
        assert!(a.as_str().starts_with("e."));
        assert!(!a.as_str().contains("marisol"));
        assert_eq!(a.as_str().len(), 2 + 43);
    }

    #[test]
    fn the_email_hash_is_the_published_hmac_sha256_construction() {
        let hasher = ContactHasher::from_base64(&STANDARD.encode([0u8; 32])).unwrap();
        let hash = hasher.email(&EmailAddress::parse("marisol@example.org").unwrap());
        // python3 -c 'import hmac,hashlib,base64;print(base64.urlsafe_b64encode(hmac.new(bytes(32),b"email\0marisol@example.org",hashlib.sha256).digest()).rstrip(b"="))'
        assert_eq!(
            hash.as_str(),
            "e.BwNNNjzPRzHFIZZpzWeHtBfE7bbj20G_wySw0bArVh8"
        );
    }

    #[test]
    fn the_same_text_hashed_as_phone_and_as_email_never_collides() {
        let hasher = ContactHasher::from_base64(KEY).unwrap();
        for text in ["+12025550143", "marisol@example.org", ""] {
            let as_phone = hasher.mac(b"phone\x00", text.as_bytes());
            let as_email = hasher.mac(b"email\x00", text.as_bytes());
            assert_ne!(as_phone, as_email, "{text}");
        }
        let phone = hasher.phone(&PhoneNumber::parse("+12025550143").unwrap());
        let email = hasher.email(&EmailAddress::parse("marisol@example.org").unwrap());
        assert!(phone.as_str().starts_with("p.") && email.as_str().starts_with("e."));
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

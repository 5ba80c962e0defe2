//! Random identifiers (128 bits from the OS CSPRNG, hex).

use rand::RngCore;

pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_ids_are_32_hex_characters_and_differ() {
        let a = super::random_id();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, super::random_id());
    }
}

//! Privacy. People are *found* by keyed hashes of their contact details (`hash`: HMAC-SHA256, key in
//! SSM), never by the details themselves; their contact details and names are *stored* sealed by
//! envelope encryption (`envelope`: AES-256-GCM under a data key wrapped by KMS), bound to the person
//! and the field they belong to.

pub mod envelope;
mod hash;

pub use envelope::{CryptoError, Sealed, Sealer, field_context};
pub use hash::{ContactHash, ContactHasher, HashKeyError};

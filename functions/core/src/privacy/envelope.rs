//! Envelope encryption of contact details and names.
//!
//! A value is encrypted with AES-256-GCM under a *data key*; the data key is stored next to it,
//! *wrapped* (encrypted) by a KMS key that never leaves KMS. The stored text form is
//!
//! ```text
//! v1.<wrapped data key>.<nonce>.<ciphertext and tag>
//! ```
//!
//! each part base64url without padding: the format version, the data key as KMS `GenerateDataKey`
//! returned it wrapped, a random 96-bit nonce, and the AES-GCM output (ciphertext followed by the
//! 128-bit tag).
//!
//! **Context.** Every value is sealed and opened under a *context*, the AES-GCM associated data: it is
//! not stored, and a value opens only under the context it was sealed with. The convention for a
//! person's field is `"<contact keyed hash>|<field name>"` (see [`field_context`]), e.g.
//! `p.RszGy9RK…|first_name`, so a ciphertext copied to another person or another field does not
//! open. A value must be sealed again when the keyed hash of its person changes.
//!
//! **Keys and KMS calls.** A [`Sealer`] asks its [`DataKeySource`] for ONE data key, on the first
//! `seal`, and keeps it for the life of the execution environment; it keeps the data keys of other
//! environments, once unwrapped, in a bounded map keyed by their wrapped bytes. In steady state,
//! sealing and opening make no KMS call, and a cold start makes none until the first `seal`/`open`.
//! Sealing needs only `kms:GenerateDataKey` (the plaintext data key comes back with it); opening a
//! value sealed by another environment needs `kms:Decrypt`. Both calls carry the encryption context
//! [`KEY_ENCRYPTION_CONTEXT`], which IAM policies can require.
//!
//! One data key seals at most what one execution environment seals in its life, far below the 2³²
//! messages that random 96-bit nonces allow under one key. Plaintext data keys are zeroed when
//! dropped. Neither `Debug` nor any error shows a plaintext, a key or a ciphertext.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::sync::OnceCell;
use zeroize::Zeroizing;

use super::ContactHash;

/// The format version that starts every value this code seals.
pub const FORMAT_VERSION: &str = "v1";

/// The KMS encryption context of every data key: `GenerateDataKey` and `Decrypt` both send it, and
/// KMS refuses to unwrap a data key under any other context.
pub const KEY_ENCRYPTION_CONTEXT: [(&str, &str); 2] =
    [("app", "rising"), ("purpose", "contact-data")];

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// How many unwrapped data keys of other execution environments a [`Sealer`] keeps.
const UNWRAPPED_KEYS_KEPT: usize = 512;

/// The context of a person's field: `"<contact keyed hash>|<field name>"`.
pub fn field_context(contact: &ContactHash, field: &str) -> String {
    format!("{}|{field}", contact.as_str())
}

/// Sealing or opening failed. No variant carries a plaintext, a key or any part of a stored value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// KMS (or the adapter in its place) failed; `reason` is its error code and message.
    #[error("the key service failed on {operation}: {reason}")]
    KeyService {
        operation: &'static str,
        reason: String,
    },
    #[error("the key service returned a data key that is not 256 bits")]
    InvalidDataKey,
    #[error(
        "a context is required to seal or open a value (\"<contact keyed hash>|<field name>\")"
    )]
    EmptyContext,
    #[error("the stored text is not a sealed value: {0}")]
    Malformed(&'static str),
    #[error("the sealed value has a format version this code does not know")]
    UnsupportedVersion,
    /// The AES-GCM tag does not verify: the value was altered, or it belongs to another context.
    #[error("the sealed value does not open: it was altered or belongs to another context")]
    Rejected,
    #[error("the value could not be sealed")]
    SealFailed,
    #[error("the opened value is not UTF-8 text")]
    NotUtf8,
}

/// A sealed value, in its stored text form (`v1.<wrapped key>.<nonce>.<ciphertext>`). Serializes as
/// that string (e.g. a DynamoDB `S` attribute through `serde_dynamo`); deserializing checks the
/// format. `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Sealed(String);

impl Sealed {
    /// Checks the format of a stored text form (not its authenticity: that needs [`Sealer::open`]).
    pub fn parse(text: impl Into<String>) -> Result<Self, CryptoError> {
        let text = text.into();
        Parts::decode(&text)?;
        Ok(Self(text))
    }

    /// The stored text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealed(<redacted>)")
    }
}

impl From<Sealed> for String {
    fn from(sealed: Sealed) -> Self {
        sealed.0
    }
}

impl TryFrom<String> for Sealed {
    type Error = CryptoError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(text)
    }
}

/// The decoded parts of a sealed value.
struct Parts {
    wrapped: Vec<u8>,
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
}

impl Parts {
    fn decode(text: &str) -> Result<Self, CryptoError> {
        let mut fields = text.split('.');
        let version = fields.next().unwrap_or_default();
        if version != FORMAT_VERSION {
            let looks_versioned = version.len() > 1
                && version.starts_with('v')
                && version[1..].bytes().all(|b| b.is_ascii_digit());
            return Err(if looks_versioned {
                CryptoError::UnsupportedVersion
            } else {
                CryptoError::Malformed("it does not start with a format version")
            });
        }
        let (Some(wrapped), Some(nonce), Some(ciphertext), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(CryptoError::Malformed(
                "it does not have four dot-separated parts",
            ));
        };
        let wrapped = decode_part(wrapped, "the wrapped data key is not base64url")?;
        if wrapped.is_empty() {
            return Err(CryptoError::Malformed("the wrapped data key is empty"));
        }
        let nonce = decode_part(nonce, "the nonce is not base64url")?
            .try_into()
            .map_err(|_| CryptoError::Malformed("the nonce is not 96 bits"))?;
        let ciphertext = decode_part(ciphertext, "the ciphertext is not base64url")?;
        if ciphertext.len() < TAG_LEN {
            return Err(CryptoError::Malformed(
                "the ciphertext is shorter than its tag",
            ));
        }
        Ok(Self {
            wrapped,
            nonce,
            ciphertext,
        })
    }
}

fn decode_part(part: &str, reason: &'static str) -> Result<Vec<u8>, CryptoError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| CryptoError::Malformed(reason))
}

/// A plaintext 256-bit data key, zeroed when dropped. `Debug` hides it.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; KEY_LEN]>);

impl DataKey {
    /// A data key from its bytes; anything but 32 bytes is refused.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let bytes: &[u8; KEY_LEN] = bytes.try_into().map_err(|_| CryptoError::InvalidDataKey)?;
        Ok(Self(Zeroizing::new(*bytes)))
    }

    fn random() -> Self {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        OsRng.fill_bytes(&mut key[..]);
        Self(key)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.0[..]))
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// A new data key: in plaintext, to seal with, and wrapped by the master key, to store.
#[derive(Debug)]
pub struct GeneratedDataKey {
    pub plaintext: DataKey,
    pub wrapped: Vec<u8>,
}

/// What the key port returns: a boxed future, so [`Sealer`] holds any adapter as a trait object.
pub type KeyFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, CryptoError>> + Send + 'a>>;

/// Port: where data keys come from. Each call is one call to the key service; [`Sealer`] caches.
pub trait DataKeySource: Send + Sync {
    /// A fresh data key (KMS `GenerateDataKey`, AES-256, under [`KEY_ENCRYPTION_CONTEXT`]).
    fn generate_data_key(&self) -> KeyFuture<'_, GeneratedDataKey>;

    /// The plaintext of a wrapped data key (KMS `Decrypt`, under [`KEY_ENCRYPTION_CONTEXT`]).
    fn decrypt_data_key<'a>(&'a self, wrapped: &'a [u8]) -> KeyFuture<'a, DataKey>;
}

/// Data keys from AWS KMS, under one symmetric KMS key (id, ARN or alias), through
/// [`crate::aws_json::AwsJsonClient`]: two operations did not need the whole KMS SDK.
#[derive(Debug, Clone)]
pub struct KmsDataKeys {
    client: crate::aws_json::AwsJsonClient,
    key_id: String,
}

/// KMS's answer to `GenerateDataKey` and `Decrypt`: blobs in base64.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KmsAnswer {
    plaintext: Option<String>,
    ciphertext_blob: Option<String>,
}

impl Drop for KmsAnswer {
    fn drop(&mut self) {
        if let Some(plaintext) = self.plaintext.as_mut() {
            zeroize::Zeroize::zeroize(plaintext);
        }
    }
}

impl KmsAnswer {
    /// The plaintext data key, decoded (zeroed when dropped).
    fn plaintext(&self) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        base64::engine::general_purpose::STANDARD
            .decode(self.plaintext.as_deref().unwrap_or_default())
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::InvalidDataKey)
    }
}

impl KmsDataKeys {
    pub fn new(client: crate::aws_json::AwsJsonClient, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: key_id.into(),
        }
    }

    async fn call(
        &self,
        operation: &'static str,
        mut body: serde_json::Value,
    ) -> Result<KmsAnswer, CryptoError> {
        body["KeyId"] = self.key_id.as_str().into();
        body["EncryptionContext"] = KEY_ENCRYPTION_CONTEXT
            .iter()
            .map(|(name, value)| ((*name).to_string(), serde_json::Value::from(*value)))
            .collect::<serde_json::Map<_, _>>()
            .into();
        self.client
            .call(operation, &body)
            .await
            .map_err(|e| key_service_error(operation, &e))
    }
}

impl DataKeySource for KmsDataKeys {
    fn generate_data_key(&self) -> KeyFuture<'_, GeneratedDataKey> {
        Box::pin(async move {
            let answer = self
                .call("GenerateDataKey", serde_json::json!({"KeySpec": "AES_256"}))
                .await?;
            let plaintext = answer.plaintext()?;
            let wrapped = base64::engine::general_purpose::STANDARD
                .decode(answer.ciphertext_blob.as_deref().unwrap_or_default())
                .map_err(|_| CryptoError::InvalidDataKey)?;
            if wrapped.is_empty() {
                return Err(CryptoError::InvalidDataKey);
            }
            Ok(GeneratedDataKey {
                plaintext: DataKey::from_slice(&plaintext)?,
                wrapped,
            })
        })
    }

    fn decrypt_data_key<'a>(&'a self, wrapped: &'a [u8]) -> KeyFuture<'a, DataKey> {
        Box::pin(async move {
            let blob = base64::engine::general_purpose::STANDARD.encode(wrapped);
            let answer = self
                .call("Decrypt", serde_json::json!({"CiphertextBlob": blob}))
                .await?;
            DataKey::from_slice(&answer.plaintext()?)
        })
    }
}

/// Describes a KMS failure by its code and message (which name keys and roles, never data), and no
/// more: the body of an answer that could not be read could hold a plaintext data key.
fn key_service_error(
    operation: &'static str,
    error: &crate::aws_json::AwsJsonError,
) -> CryptoError {
    use crate::aws_json::AwsJsonError;
    let reason = match error {
        AwsJsonError::Service { code, message, .. } => format!("{code}: {message}"),
        AwsJsonError::Timeout => "timed out".to_string(),
        AwsJsonError::Transport(_) => "could not reach the key service".to_string(),
        AwsJsonError::Answer => "the response could not be read".to_string(),
        other => other.to_string(),
    };
    CryptoError::KeyService { operation, reason }
}

/// An in-memory stand-in for KMS, for unit tests: a random master key wraps data keys with
/// AES-256-GCM under the same encryption context. Clones share the master key and the call
/// counters, like several execution environments calling one KMS key.
#[derive(Clone)]
pub struct InMemoryDataKeys {
    shared: Arc<InMemoryShared>,
    may_decrypt: bool,
}

struct InMemoryShared {
    master: DataKey,
    generate_calls: AtomicUsize,
    decrypt_calls: AtomicUsize,
}

impl Default for InMemoryDataKeys {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for InMemoryDataKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryDataKeys")
            .field("generate_calls", &self.generate_calls())
            .field("decrypt_calls", &self.decrypt_calls())
            .field("may_decrypt", &self.may_decrypt)
            .finish_non_exhaustive()
    }
}

impl InMemoryDataKeys {
    /// A new master key.
    pub fn new() -> Self {
        Self {
            shared: Arc::new(InMemoryShared {
                master: DataKey::random(),
                generate_calls: AtomicUsize::new(0),
                decrypt_calls: AtomicUsize::new(0),
            }),
            may_decrypt: true,
        }
    }

    /// The same master key, for a caller granted `GenerateDataKey` but not `Decrypt`.
    pub fn without_decrypt(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            may_decrypt: false,
        }
    }

    /// How many data keys were generated, by this handle and its clones.
    pub fn generate_calls(&self) -> usize {
        self.shared.generate_calls.load(Ordering::SeqCst)
    }

    /// How many wrapped data keys were decrypted (or refused), by this handle and its clones.
    pub fn decrypt_calls(&self) -> usize {
        self.shared.decrypt_calls.load(Ordering::SeqCst)
    }

    fn context() -> Vec<u8> {
        KEY_ENCRYPTION_CONTEXT
            .iter()
            .map(|(k, v)| format!("{k}={v};"))
            .collect::<String>()
            .into_bytes()
    }
}

impl DataKeySource for InMemoryDataKeys {
    fn generate_data_key(&self) -> KeyFuture<'_, GeneratedDataKey> {
        Box::pin(async move {
            self.shared.generate_calls.fetch_add(1, Ordering::SeqCst);
            let plaintext = DataKey::random();
            let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
            let aad = Self::context();
            let wrapped_key = self
                .shared
                .master
                .cipher()
                .encrypt(
                    &nonce,
                    Payload {
                        msg: &plaintext.0[..],
                        aad: &aad,
                    },
                )
                .map_err(|_| CryptoError::SealFailed)?;
            let mut wrapped = nonce.to_vec();
            wrapped.extend_from_slice(&wrapped_key);
            Ok(GeneratedDataKey { plaintext, wrapped })
        })
    }

    fn decrypt_data_key<'a>(&'a self, wrapped: &'a [u8]) -> KeyFuture<'a, DataKey> {
        Box::pin(async move {
            self.shared.decrypt_calls.fetch_add(1, Ordering::SeqCst);
            if !self.may_decrypt {
                return Err(CryptoError::KeyService {
                    operation: "Decrypt",
                    reason: "AccessDeniedException: not authorized to perform kms:Decrypt"
                        .to_string(),
                });
            }
            let invalid = || CryptoError::KeyService {
                operation: "Decrypt",
                reason: "InvalidCiphertextException: the wrapped data key does not decrypt"
                    .to_string(),
            };
            if wrapped.len() < NONCE_LEN + TAG_LEN {
                return Err(invalid());
            }
            let (nonce, rest) = wrapped.split_at(NONCE_LEN);
            let aad = Self::context();
            let plaintext = Zeroizing::new(
                self.shared
                    .master
                    .cipher()
                    .decrypt(
                        Nonce::from_slice(nonce),
                        Payload {
                            msg: rest,
                            aad: &aad,
                        },
                    )
                    .map_err(|_| invalid())?,
            );
            DataKey::from_slice(&plaintext)
        })
    }
}

/// This execution environment's data key.
struct CurrentKey {
    key: DataKey,
    wrapped: Vec<u8>,
    wrapped_text: String,
}

/// Unwrapped data keys of other execution environments, by wrapped bytes; the oldest goes first.
struct UnwrappedKeys {
    capacity: usize,
    keys: HashMap<Vec<u8>, DataKey>,
    order: VecDeque<Vec<u8>>,
}

impl UnwrappedKeys {
    fn get(&self, wrapped: &[u8]) -> Option<DataKey> {
        self.keys.get(wrapped).cloned()
    }

    fn insert(&mut self, wrapped: &[u8], key: DataKey) {
        if self.keys.contains_key(wrapped) {
            return;
        }
        while self.keys.len() >= self.capacity {
            match self.order.pop_front() {
                Some(oldest) => self.keys.remove(&oldest),
                None => break,
            };
        }
        self.order.push_back(wrapped.to_vec());
        self.keys.insert(wrapped.to_vec(), key);
    }
}

struct SealerInner {
    source: Arc<dyn DataKeySource>,
    current: OnceCell<CurrentKey>,
    unwrapped: Mutex<UnwrappedKeys>,
}

/// Seals and opens values (see the module documentation). Cheap to clone: clones share the data key
/// and the cache. Build one per execution environment, at init (no network call until first use).
#[derive(Clone)]
pub struct Sealer {
    inner: Arc<SealerInner>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("has_data_key", &self.inner.current.initialized())
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// A sealer over any data key source.
    pub fn new(source: impl DataKeySource + 'static) -> Self {
        Self::with_capacity(Arc::new(source), UNWRAPPED_KEYS_KEPT)
    }

    /// A sealer whose data keys come from the KMS key `key_id` (id, ARN or alias), with the config's
    /// region, credentials and endpoint (no call before the first seal or open).
    pub fn from_sdk(sdk: &crate::aws::SdkConfig, key_id: impl Into<String>) -> Self {
        Self::new(KmsDataKeys::new(
            crate::aws_json::AwsJsonClient::from_sdk(sdk, "kms", "TrentService"),
            key_id,
        ))
    }

    /// A sealer over a fresh in-memory master key, for unit tests.
    pub fn in_memory() -> Self {
        Self::new(InMemoryDataKeys::new())
    }

    fn with_capacity(source: Arc<dyn DataKeySource>, capacity: usize) -> Self {
        Self {
            inner: Arc::new(SealerInner {
                source,
                current: OnceCell::new(),
                unwrapped: Mutex::new(UnwrappedKeys {
                    capacity: capacity.max(1),
                    keys: HashMap::new(),
                    order: VecDeque::new(),
                }),
            }),
        }
    }

    /// Seals `plaintext` under `context` (for a person's field: [`field_context`]).
    pub async fn seal(&self, context: &str, plaintext: &str) -> Result<Sealed, CryptoError> {
        check_context(context)?;
        let current = self.current_key().await?;
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = current
            .key
            .cipher()
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::SealFailed)?;
        Ok(Sealed(format!(
            "{FORMAT_VERSION}.{}.{}.{}",
            current.wrapped_text,
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(ciphertext)
        )))
    }

    /// Opens a value sealed under `context`, by this or any other execution environment.
    pub async fn open(&self, context: &str, sealed: &Sealed) -> Result<String, CryptoError> {
        check_context(context)?;
        let parts = Parts::decode(sealed.as_str())?;
        let key = self.key_for(&parts.wrapped).await?;
        let plaintext = key
            .cipher()
            .decrypt(
                Nonce::from_slice(&parts.nonce),
                Payload {
                    msg: &parts.ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Rejected)?;
        String::from_utf8(plaintext).map_err(|e| {
            drop(Zeroizing::new(e.into_bytes()));
            CryptoError::NotUtf8
        })
    }

    async fn current_key(&self) -> Result<&CurrentKey, CryptoError> {
        self.inner
            .current
            .get_or_try_init(|| async {
                let generated = self.inner.source.generate_data_key().await?;
                tracing::info!(
                    operation = "GenerateDataKey",
                    "data key for this execution environment"
                );
                Ok(CurrentKey {
                    key: generated.plaintext,
                    wrapped_text: URL_SAFE_NO_PAD.encode(&generated.wrapped),
                    wrapped: generated.wrapped,
                })
            })
            .await
    }

    async fn key_for(&self, wrapped: &[u8]) -> Result<DataKey, CryptoError> {
        if let Some(current) = self.inner.current.get()
            && current.wrapped == wrapped
        {
            return Ok(current.key.clone());
        }
        if let Some(key) = self.unwrapped().get(wrapped) {
            return Ok(key);
        }
        let key = self.inner.source.decrypt_data_key(wrapped).await?;
        tracing::debug!(
            operation = "Decrypt",
            "data key of another execution environment"
        );
        self.unwrapped().insert(wrapped, key.clone());
        Ok(key)
    }

    fn unwrapped(&self) -> std::sync::MutexGuard<'_, UnwrappedKeys> {
        self.inner
            .unwrapped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

fn check_context(context: &str) -> Result<(), CryptoError> {
    if context.is_empty() {
        Err(CryptoError::EmptyContext)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::atomic::AtomicBool;

    /// KMS's JSON API played by a local server, as `scripted` answers it.
    mod kms_api {
        use super::*;
        use crate::aws::test_server::scripted;

        fn keys(endpoint: String) -> KmsDataKeys {
            let sdk = crate::aws::test_server::sdk(Some(endpoint), Some("eu-west-1"));
            KmsDataKeys::new(
                crate::aws_json::AwsJsonClient::from_sdk(&sdk, "kms", "TrentService")
                    .with_backoff(std::time::Duration::from_millis(1)),
                "alias/rising-contacts",
            )
        }

        fn answer(status: &str, body: String) -> &'static str {
            format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .leak()
        }

        fn b64(bytes: &[u8]) -> String {
            base64::engine::general_purpose::STANDARD.encode(bytes)
        }

        /// The target and the JSON body of the request the server read.
        fn request(raw: &str) -> (String, serde_json::Value) {
            let (head, body) = raw.split_once("\r\n\r\n").unwrap();
            let target = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("x-amz-target")
                        .then(|| value.trim().to_string())
                })
                .unwrap();
            (target, serde_json::from_str(body).unwrap())
        }

        fn context() -> serde_json::Value {
            KEY_ENCRYPTION_CONTEXT
                .iter()
                .map(|(k, v)| ((*k).to_string(), serde_json::Value::from(*v)))
                .collect::<serde_json::Map<_, _>>()
                .into()
        }

        #[tokio::test]
        async fn a_data_key_is_generated_and_unwrapped_under_the_key_and_its_context() {
            let plaintext = [7u8; KEY_LEN];
            let generated = answer(
                "200 OK",
                serde_json::json!({"CiphertextBlob": b64(b"wrapped-key"), "Plaintext": b64(&plaintext),
                                   "KeyId": "arn:aws:kms:eu-west-1:111122223333:key/k"})
                .to_string(),
            );
            let decrypted = answer(
                "200 OK",
                serde_json::json!({"Plaintext": b64(&plaintext)}).to_string(),
            );
            let (endpoint, _, seen) = scripted(vec![generated, decrypted]).await;
            let keys = keys(endpoint);

            let key = keys.generate_data_key().await.unwrap();
            assert_eq!(key.wrapped, b"wrapped-key");
            let unwrapped = keys.decrypt_data_key(&key.wrapped).await.unwrap();
            assert_eq!(key.plaintext.0.as_slice(), plaintext.as_slice());
            assert_eq!(unwrapped.0.as_slice(), plaintext.as_slice());

            let seen = seen.lock().unwrap();
            let (target, body) = request(&seen[0]);
            assert_eq!(target, "TrentService.GenerateDataKey");
            assert_eq!(
                body,
                serde_json::json!({"KeySpec": "AES_256", "KeyId": "alias/rising-contacts",
                                   "EncryptionContext": context()})
            );
            let (target, body) = request(&seen[1]);
            assert_eq!(target, "TrentService.Decrypt");
            assert_eq!(
                body,
                serde_json::json!({"CiphertextBlob": b64(b"wrapped-key"), "KeyId": "alias/rising-contacts",
                                   "EncryptionContext": context()})
            );
        }

        #[tokio::test]
        async fn a_refusal_is_reported_by_its_code_and_message() {
            let (endpoint, requests, _) = scripted(vec![answer(
                "400 Bad Request",
                r#"{"__type":"AccessDeniedException","message":"not authorized to perform kms:Decrypt"}"#.to_string(),
            )])
            .await;
            let error = keys(endpoint)
                .decrypt_data_key(b"wrapped")
                .await
                .unwrap_err();
            assert_eq!(requests.load(Ordering::SeqCst), 1, "not tried again");
            assert!(
                matches!(
                    &error,
                    CryptoError::KeyService { operation: "Decrypt", reason }
                        if reason == "AccessDeniedException: not authorized to perform kms:Decrypt"
                ),
                "{error:?}"
            );
        }

        #[tokio::test]
        async fn a_malformed_answer_is_an_invalid_key_and_shows_nothing_of_it() {
            let (endpoint, _, _) = scripted(vec![
                answer(
                    "200 OK",
                    serde_json::json!({"Plaintext": b64(&[1u8; 16])}).to_string(),
                ),
                answer("200 OK", r#"{"Plaintext": 12345}"#.to_string()),
            ])
            .await;
            let keys = keys(endpoint);
            let short = keys.decrypt_data_key(b"wrapped").await.unwrap_err();
            assert!(matches!(short, CryptoError::InvalidDataKey), "{short:?}");
            let unreadable = keys.decrypt_data_key(b"wrapped").await.unwrap_err();
            assert!(
                matches!(
                    &unreadable,
                    CryptoError::KeyService { reason, .. } if reason == "the response could not be read"
                ),
                "{unreadable:?}"
            );
            assert!(!format!("{unreadable:?}").contains("12345"));
        }
    }

    const ALICE: &str = "p.RszGy9RKKPDpUtrg1zOvfmg3Nte4Vk_kBwtiD2NFauc|first_name";
    const ALICE_LAST: &str = "p.RszGy9RKKPDpUtrg1zOvfmg3Nte4Vk_kBwtiD2NFauc|last_name";
    const BOB: &str = "p.Aq1pXcVb0ZuT3mB6oKqkq7w2Q9cY1lFf3ZPp4p0fN2E|first_name";
    const NAME: &str = "María José";

    /// The stored text with one decoded part (1: wrapped key, 2: nonce, 3: ciphertext) altered.
    fn tamper(sealed: &Sealed, part: usize, change: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut parts: Vec<String> = sealed.as_str().split('.').map(str::to_string).collect();
        let mut bytes = URL_SAFE_NO_PAD.decode(&parts[part]).unwrap();
        change(&mut bytes);
        parts[part] = URL_SAFE_NO_PAD.encode(bytes);
        parts.join(".")
    }

    fn flip_first_bit(bytes: &mut [u8]) {
        bytes[0] ^= 1;
    }

    #[tokio::test]
    async fn a_sealed_value_opens_to_the_same_text() {
        let sealer = Sealer::in_memory();
        let sealed = sealer.seal(ALICE, NAME).await.unwrap();
        assert_eq!(sealer.open(ALICE, &sealed).await.unwrap(), NAME);
    }

    #[tokio::test]
    async fn a_sealed_value_is_v1_and_four_base64url_parts_with_a_96_bit_nonce() {
        let sealed = Sealer::in_memory().seal(ALICE, NAME).await.unwrap();
        let parts: Vec<&str> = sealed.as_str().split('.').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[0], "v1");
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len(), 12);
        assert_eq!(
            URL_SAFE_NO_PAD.decode(parts[3]).unwrap().len(),
            NAME.len() + 16
        );
        assert!(!sealed.as_str().contains("Mar"));
    }

    #[tokio::test]
    async fn sealing_the_same_text_twice_gives_different_values() {
        let sealer = Sealer::in_memory();
        let a = sealer.seal(ALICE, NAME).await.unwrap();
        let b = sealer.seal(ALICE, NAME).await.unwrap();
        assert_ne!(a, b);
        assert_ne!(
            a.as_str().split('.').nth(2),
            b.as_str().split('.').nth(2),
            "nonces must differ"
        );
    }

    #[tokio::test]
    async fn a_value_does_not_open_for_another_person_or_another_field() {
        let sealer = Sealer::in_memory();
        let sealed = sealer.seal(ALICE, NAME).await.unwrap();
        assert_eq!(sealer.open(BOB, &sealed).await, Err(CryptoError::Rejected));
        assert_eq!(
            sealer.open(ALICE_LAST, &sealed).await,
            Err(CryptoError::Rejected)
        );
    }

    #[tokio::test]
    async fn an_empty_context_is_refused() {
        let sealer = Sealer::in_memory();
        assert_eq!(sealer.seal("", NAME).await, Err(CryptoError::EmptyContext));
        let sealed = sealer.seal(ALICE, NAME).await.unwrap();
        assert_eq!(
            sealer.open("", &sealed).await,
            Err(CryptoError::EmptyContext)
        );
    }

    #[test]
    fn the_field_context_is_the_contact_hash_a_bar_and_the_field_name() {
        let key = base64::engine::general_purpose::STANDARD.encode([0u8; 32]);
        let hasher = crate::privacy::ContactHasher::from_base64(&key).unwrap();
        let contact = hasher.phone(&crate::domain::PhoneNumber::parse("+12025550143").unwrap());
        assert_eq!(field_context(&contact, "first_name"), ALICE);
    }

    #[tokio::test]
    async fn an_altered_ciphertext_does_not_open() {
        let sealer = Sealer::in_memory();
        let sealed = sealer.seal(ALICE, NAME).await.unwrap();
        for change in [
            (|b: &mut Vec<u8>| flip_first_bit(b)) as fn(&mut Vec<u8>),
            |b: &mut Vec<u8>| *b.last_mut().unwrap() ^= 0x80,
            |b| {
                b.pop();
            },
        ] {
            let altered = Sealed::parse(tamper(&sealed, 3, change)).unwrap();
            assert_eq!(
                sealer.open(ALICE, &altered).await,
                Err(CryptoError::Rejected)
            );
        }
    }

    #[tokio::test]
    async fn an_altered_nonce_does_not_open() {
        let sealer = Sealer::in_memory();
        let sealed = sealer.seal(ALICE, NAME).await.unwrap();
        let altered = Sealed::parse(tamper(&sealed, 2, |b| flip_first_bit(b))).unwrap();
        assert_eq!(
            sealer.open(ALICE, &altered).await,
            Err(CryptoError::Rejected)
        );
        let short = tamper(&sealed, 2, |b| {
            b.pop();
        });
        assert_eq!(
            Sealed::parse(short),
            Err(CryptoError::Malformed("the nonce is not 96 bits"))
        );
    }

    #[tokio::test]
    async fn an_altered_wrapped_key_does_not_open() {
        let keys = InMemoryDataKeys::new();
        let sealer = Sealer::new(keys.clone());
        let sealed = sealer.seal(ALICE, NAME).await.unwrap();
        let altered = Sealed::parse(tamper(&sealed, 1, |b| flip_first_bit(b))).unwrap();
        assert!(matches!(
            sealer.open(ALICE, &altered).await,
            Err(CryptoError::KeyService {
                operation: "Decrypt",
                ..
            })
        ));
    }

    #[tokio::test]
    async fn a_wrapped_key_swapped_for_another_environments_does_not_open() {
        let keys = InMemoryDataKeys::new();
        let here = Sealer::new(keys.clone());
        let there = Sealer::new(keys.clone());
        let sealed = here.seal(ALICE, NAME).await.unwrap();
        let other = there.seal(ALICE, NAME).await.unwrap();
        let other_wrapped = other.as_str().split('.').nth(1).unwrap().to_string();
        let mut parts: Vec<&str> = sealed.as_str().split('.').collect();
        parts[1] = &other_wrapped;
        let swapped = Sealed::parse(parts.join(".")).unwrap();
        assert_eq!(here.open(ALICE, &swapped).await, Err(CryptoError::Rejected));
    }

    #[tokio::test]
    async fn an_unknown_version_is_refused() {
        let sealed = Sealer::in_memory().seal(ALICE, NAME).await.unwrap();
        let v2 = sealed.as_str().replacen("v1.", "v2.", 1);
        assert_eq!(Sealed::parse(v2), Err(CryptoError::UnsupportedVersion));
        let none = sealed.as_str().replacen("v1.", "", 1);
        assert!(matches!(
            Sealed::parse(none),
            Err(CryptoError::Malformed(_))
        ));
    }

    #[test]
    fn text_that_is_not_a_sealed_value_is_refused_without_echoing_it() {
        for text in [
            "maria.lopez@example.org",
            "María",
            "",
            "v1.",
            "v1.a.b.c.d",
            "v1.!!.AAAAAAAAAAAAAAAA.AAAA",
        ] {
            let error = Sealed::parse(text).unwrap_err();
            assert!(
                matches!(error, CryptoError::Malformed(_)),
                "{text}: {error:?}"
            );
            for shown in [error.to_string(), format!("{error:?}")] {
                assert!(
                    !shown.contains("maria") && !shown.contains("María"),
                    "{shown}"
                );
            }
        }
    }

    #[tokio::test]
    async fn a_value_sealed_in_one_execution_environment_opens_in_another() {
        let kms = InMemoryDataKeys::new();
        let first = Sealer::new(kms.clone());
        let second = Sealer::new(kms.clone());
        let from_first = first.seal(ALICE, NAME).await.unwrap();
        let from_second = second.seal(BOB, "Beto").await.unwrap();
        assert_ne!(
            from_first.as_str().split('.').nth(1),
            from_second.as_str().split('.').nth(1)
        );

        assert_eq!(second.open(ALICE, &from_first).await.unwrap(), NAME);
        assert_eq!(first.open(BOB, &from_second).await.unwrap(), "Beto");
        assert_eq!(kms.generate_calls(), 2);
        assert_eq!(kms.decrypt_calls(), 2);
    }

    #[tokio::test]
    async fn in_steady_state_sealing_and_opening_make_no_key_calls() {
        let kms = InMemoryDataKeys::new();
        let other = Sealer::new(kms.clone()).seal(BOB, "Beto").await.unwrap();
        let sealer = Sealer::new(kms.clone());
        sealer.seal(ALICE, NAME).await.unwrap();
        sealer.open(BOB, &other).await.unwrap();
        let (generated, decrypted) = (kms.generate_calls(), kms.decrypt_calls());

        for i in 0..100 {
            let text = format!("{NAME} {i}");
            let sealed = sealer.seal(ALICE, &text).await.unwrap();
            assert_eq!(sealer.open(ALICE, &sealed).await.unwrap(), text);
            assert_eq!(sealer.clone().open(BOB, &other).await.unwrap(), "Beto");
        }

        assert_eq!(kms.generate_calls(), generated);
        assert_eq!(kms.decrypt_calls(), decrypted);
    }

    #[test]
    fn nothing_calls_the_key_service_before_the_first_use() {
        let kms = InMemoryDataKeys::new();
        let sealer = Sealer::new(kms.clone());
        let _clone = sealer.clone();
        assert_eq!((kms.generate_calls(), kms.decrypt_calls()), (0, 0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_first_seals_generate_one_data_key() {
        let kms = InMemoryDataKeys::new();
        let sealer = Sealer::new(kms.clone());
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let sealer = sealer.clone();
                tokio::spawn(async move { sealer.seal(ALICE, NAME).await.unwrap() })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(kms.generate_calls(), 1);
    }

    #[tokio::test]
    async fn sealing_needs_no_decrypt_rights() {
        let kms = InMemoryDataKeys::new();
        let elsewhere = Sealer::new(kms.clone()).seal(BOB, "Beto").await.unwrap();
        let seal_only = Sealer::new(kms.without_decrypt());

        let sealed = seal_only.seal(ALICE, NAME).await.unwrap();

        assert_eq!(
            seal_only.open(ALICE, &sealed).await.unwrap(),
            NAME,
            "its own values need no Decrypt"
        );
        assert!(matches!(
            seal_only.open(BOB, &elsewhere).await,
            Err(CryptoError::KeyService {
                operation: "Decrypt",
                ..
            })
        ));
        assert_eq!(
            Sealer::new(kms.clone()).open(ALICE, &sealed).await.unwrap(),
            NAME
        );
    }

    /// A key source whose first `GenerateDataKey` fails, as when KMS throttles once.
    struct FailsOnce {
        inner: InMemoryDataKeys,
        failed: AtomicBool,
    }

    impl DataKeySource for FailsOnce {
        fn generate_data_key(&self) -> KeyFuture<'_, GeneratedDataKey> {
            if self.failed.swap(true, Ordering::SeqCst) {
                self.inner.generate_data_key()
            } else {
                Box::pin(async {
                    Err(CryptoError::KeyService {
                        operation: "GenerateDataKey",
                        reason: "ThrottlingException: rate exceeded".to_string(),
                    })
                })
            }
        }

        fn decrypt_data_key<'a>(&'a self, wrapped: &'a [u8]) -> KeyFuture<'a, DataKey> {
            self.inner.decrypt_data_key(wrapped)
        }
    }

    #[tokio::test]
    async fn a_failed_key_generation_is_tried_again_on_the_next_seal() {
        let sealer = Sealer::new(FailsOnce {
            inner: InMemoryDataKeys::new(),
            failed: AtomicBool::new(false),
        });
        assert!(matches!(
            sealer.seal(ALICE, NAME).await,
            Err(CryptoError::KeyService { .. })
        ));
        let sealed = sealer.seal(ALICE, NAME).await.unwrap();
        assert_eq!(sealer.open(ALICE, &sealed).await.unwrap(), NAME);
    }

    #[tokio::test]
    async fn the_cache_of_unwrapped_keys_is_bounded() {
        let kms = InMemoryDataKeys::new();
        let mut values = Vec::new();
        for _ in 0..3 {
            values.push(Sealer::new(kms.clone()).seal(ALICE, NAME).await.unwrap());
        }
        let reader = Sealer::with_capacity(Arc::new(kms.clone()), 2);
        let start = kms.decrypt_calls();
        for value in &values {
            reader.open(ALICE, value).await.unwrap();
        }
        assert_eq!(kms.decrypt_calls(), start + 3);
        reader.open(ALICE, &values[2]).await.unwrap(); // still kept
        assert_eq!(kms.decrypt_calls(), start + 3);
        reader.open(ALICE, &values[0]).await.unwrap(); // evicted as the oldest
        assert_eq!(kms.decrypt_calls(), start + 4);
        assert_eq!(reader.unwrapped().keys.len(), 2);
    }

    #[tokio::test]
    async fn debug_output_and_errors_show_no_plaintext_key_or_ciphertext() {
        let kms = InMemoryDataKeys::new();
        let sealer = Sealer::new(kms.clone());
        let sealed = sealer.seal(ALICE, NAME).await.unwrap();
        let ciphertext = sealed.as_str().split('.').nth(3).unwrap().to_string();
        let wrapped = sealed.as_str().split('.').nth(1).unwrap().to_string();
        let mut errors = vec![
            sealer.open(BOB, &sealed).await.unwrap_err(),
            Sealed::parse(format!("v9.{wrapped}.x.{ciphertext}")).unwrap_err(),
            Sealed::parse(format!("{NAME}.{ciphertext}")).unwrap_err(),
            sealer.seal("", NAME).await.unwrap_err(),
            DataKey::from_slice(NAME.as_bytes()).unwrap_err(),
        ];
        let altered = Sealed::parse(tamper(&sealed, 1, |b| flip_first_bit(b))).unwrap();
        errors.push(
            Sealer::new(kms.clone())
                .open(ALICE, &altered)
                .await
                .unwrap_err(),
        );

        let mut shown = vec![
            format!("{sealed:?}"),
            format!("{sealer:?}"),
            format!("{kms:?}"),
            format!("{:?}", DataKey::random()),
        ];
        for error in &errors {
            shown.push(error.to_string());
            shown.push(format!("{error:?}"));
        }
        for text in shown {
            for secret in ["María", "Jos", ciphertext.as_str(), wrapped.as_str()] {
                assert!(!text.contains(secret), "{text:?} shows {secret:?}");
            }
        }
    }

    #[tokio::test]
    async fn a_sealed_value_is_stored_as_a_string_and_read_back() {
        let sealer = Sealer::in_memory();
        let sealed = sealer.seal(ALICE, NAME).await.unwrap();

        let json = serde_json::to_string(&sealed).unwrap();
        assert_eq!(json, format!("\"{}\"", sealed.as_str()));
        let attribute: aws_sdk_dynamodb::types::AttributeValue =
            serde_dynamo::to_attribute_value(&sealed).unwrap();
        assert_eq!(attribute.as_s().unwrap(), sealed.as_str());

        let back: Sealed = serde_dynamo::from_attribute_value(attribute).unwrap();
        assert_eq!(sealer.open(ALICE, &back).await.unwrap(), NAME);
        assert!(serde_json::from_str::<Sealed>("\"María\"").is_err());
    }

    proptest! {
        #[test]
        fn any_utf8_text_round_trips(text in any::<String>(), field in "[a-z_]{1,12}") {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let sealer = Sealer::in_memory();
            let context = format!("p.x|{field}");
            let opened = runtime.block_on(async {
                let sealed = sealer.seal(&context, &text).await.unwrap();
                sealer.open(&context, &sealed).await.unwrap()
            });
            prop_assert_eq!(opened, text);
        }
    }
}

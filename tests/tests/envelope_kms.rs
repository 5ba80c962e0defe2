//! Envelope encryption of contact data against the stack's KMS (moto), through the real AWS SDK client:
//! the key `ContactDataKey` of template.yaml, as the stack created it (`CONTACT_DATA_KEY_ID`).

use aws_sdk_kms::primitives::Blob;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rising_core::privacy::envelope::KEY_ENCRYPTION_CONTEXT;
use rising_core::privacy::{CryptoError, Sealed, Sealer};
use rising_tests::{Stack, spawn_app, unique_phone};

const NAME: &str = "María José";

fn key_id(app: &Stack) -> String {
    app.contact_data_key_id.clone().expect(
        "CONTACT_DATA_KEY_ID is not in the stack's env file: restart the stack from the current template.yaml",
    )
}

/// A sealer as a function builds it at init: a KMS client from the shared config and the key id.
fn new_execution_environment(app: &Stack) -> Sealer {
    Sealer::from_sdk(&app.aws, key_id(app))
}

/// The context of a field of a new person: `"<contact keyed hash>|<field>"`.
fn field_of_a_new_person(app: &Stack, field: &str) -> String {
    format!("{}|{field}", app.phone_hash(&unique_phone()))
}

fn wrapped_key(sealed: &Sealed) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(
            sealed
                .as_str()
                .split('.')
                .nth(1)
                .expect("a wrapped key part"),
        )
        .expect("base64url")
}

#[tokio::test]
async fn a_value_sealed_with_a_kms_data_key_opens_to_the_same_text() {
    let app = spawn_app().await;
    let sealer = new_execution_environment(&app);
    let context = field_of_a_new_person(&app, "first_name");

    let sealed = sealer.seal(&context, NAME).await.expect("seal through KMS");

    assert!(sealed.as_str().starts_with("v1."));
    assert!(!sealed.as_str().contains("Mar"));
    assert_eq!(sealer.open(&context, &sealed).await.expect("open"), NAME);
}

#[tokio::test]
async fn a_new_execution_environment_opens_the_values_of_another() {
    let app = spawn_app().await;
    let first = new_execution_environment(&app);
    let second = new_execution_environment(&app);
    let context = field_of_a_new_person(&app, "first_name");
    let from_first = first.seal(&context, NAME).await.expect("seal");
    let from_second = second.seal(&context, "Beto").await.expect("seal");
    assert_ne!(
        wrapped_key(&from_first),
        wrapped_key(&from_second),
        "each environment has its own data key"
    );

    assert_eq!(
        second
            .open(&context, &from_first)
            .await
            .expect("unwrap through KMS Decrypt"),
        NAME
    );
    assert_eq!(
        first
            .open(&context, &from_second)
            .await
            .expect("unwrap through KMS Decrypt"),
        "Beto"
    );
}

#[tokio::test]
async fn a_value_does_not_open_for_another_person_or_another_field() {
    let app = spawn_app().await;
    let sealer = new_execution_environment(&app);
    let context = field_of_a_new_person(&app, "first_name");
    let sealed = sealer.seal(&context, NAME).await.expect("seal");

    let other_person = field_of_a_new_person(&app, "first_name");
    let other_field = context.replace("|first_name", "|last_name");
    assert_eq!(
        sealer.open(&other_person, &sealed).await,
        Err(CryptoError::Rejected)
    );
    assert_eq!(
        new_execution_environment(&app)
            .open(&other_field, &sealed)
            .await,
        Err(CryptoError::Rejected)
    );
}

#[tokio::test]
async fn kms_refuses_a_wrapped_key_it_did_not_issue() {
    let app = spawn_app().await;
    let sealed = new_execution_environment(&app)
        .seal(&field_of_a_new_person(&app, "email"), NAME)
        .await
        .unwrap();
    let mut wrapped = wrapped_key(&sealed);
    let last = wrapped.len() - 1;
    wrapped[last] ^= 1;
    let mut parts: Vec<String> = sealed.as_str().split('.').map(str::to_string).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(&wrapped);
    let altered = Sealed::parse(parts.join(".")).unwrap();

    let error = new_execution_environment(&app)
        .open("p.x|email", &altered)
        .await
        .unwrap_err();

    assert!(
        matches!(
            error,
            CryptoError::KeyService {
                operation: "Decrypt",
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn kms_unwraps_a_data_key_only_under_its_encryption_context() {
    let app = spawn_app().await;
    let sealed = new_execution_environment(&app)
        .seal(&field_of_a_new_person(&app, "email"), NAME)
        .await
        .unwrap();
    let kms = aws_sdk_kms::Client::new(&app.aws);
    let decrypt = |context: &[(&str, &str)]| {
        let mut request = kms
            .decrypt()
            .key_id(key_id(&app))
            .ciphertext_blob(Blob::new(wrapped_key(&sealed)));
        for (name, value) in context {
            request = request.encryption_context(*name, *value);
        }
        request.send()
    };

    let unwrapped = decrypt(&KEY_ENCRYPTION_CONTEXT)
        .await
        .expect("Decrypt under the encryption context");
    assert_eq!(
        unwrapped.plaintext.map(Blob::into_inner).map(|k| k.len()),
        Some(32)
    );
    assert!(
        decrypt(&[]).await.is_err(),
        "KMS unwrapped a data key without its encryption context"
    );
    assert!(
        decrypt(&[("app", "rising"), ("purpose", "other")])
            .await
            .is_err()
    );
}

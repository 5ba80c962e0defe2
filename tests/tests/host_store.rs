//! The DynamoDB adapter of host sign-in (magic links, sessions, profiles), against the running
//! stack's table (moto).
//!
//! Every test uses its own random tokens and email addresses, so tests run in parallel with each other
//! and with anything else in the table. Test emails end in `@example.org`, which the privacy scan
//! (`privacy_scan.rs`) looks for in clear in every item.

use rand::Rng;
use rising_core::domain::Language;
use rising_core::privacy::{ContactHash, Sealed, Sealer, field_context};
use rising_core::store::{DynamoHostStore, HostProfile, HostSession, HostStore, LoginLink};
use rising_tests::{Item, Stack, item_text, s, spawn_app};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

fn store(stack: &Stack) -> DynamoHostStore {
    DynamoHostStore::new(stack.dynamodb.clone(), stack.table_name.clone())
}

/// Now, truncated to whole seconds: times read back from the table compare equal.
fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    OffsetDateTime::from_unix_timestamp(t.unix_timestamp()).expect("a valid time")
}

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

/// The hash of a fresh random token, as the sign-in use case keys links and sessions.
fn token_hash() -> String {
    let token = random_hex(32);
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An email address no stored item could contain by chance.
fn unique_email() -> String {
    format!("host-{}@example.org", random_hex(6))
}

fn host_of(stack: &Stack, email: &str) -> ContactHash {
    ContactHash::parse(&stack.email_hash(email)).expect("an email hash")
}

async fn seal(sealer: &Sealer, host: &ContactHash, field: &str, text: &str) -> Sealed {
    sealer
        .seal(&field_context(host, field), text)
        .await
        .expect("seal")
}

async fn login_link(stack: &Stack, sealer: &Sealer, email: &str, at: OffsetDateTime) -> LoginLink {
    let host = host_of(stack, email);
    LoginLink {
        token_hash: token_hash(),
        email: seal(sealer, &host, "email", email).await,
        host,
        language: Language::Es,
        created_at: at,
        expires_at: at + LoginLink::TTL,
    }
}

fn session(host: &ContactHash, at: OffsetDateTime, lasts: Duration) -> HostSession {
    HostSession {
        token_hash: token_hash(),
        host: host.clone(),
        language: Language::En,
        created_at: at,
        expires_at: at + lasts,
    }
}

async fn item(stack: &Stack, pk: &str) -> Option<Item> {
    let mut items = stack.query_pk(pk).await;
    assert!(items.len() <= 1, "one item under {pk}");
    items.pop()
}

#[tokio::test]
async fn a_login_link_works_once() {
    let stack = spawn_app().await;
    let store = store(&stack);
    let sealer = stack.sealer();
    let link = login_link(&stack, &sealer, &unique_email(), now()).await;
    store.put_login(&link).await.expect("put");

    let stored = item(&stack, &format!("LOGIN#{}", link.token_hash))
        .await
        .expect("the link is stored");
    assert_eq!(s(&stored, "sk"), Some("LOGIN"));
    assert_eq!(s(&stored, "entity"), Some("login_link"));
    assert_eq!(
        stored.get("expires_at").and_then(|v| v.as_n().ok()),
        Some(&link.expires_at.unix_timestamp().to_string()),
        "expires_at is the table's TTL attribute, in unix seconds"
    );

    let taken = store
        .take_login(&link.token_hash, now() + Duration::minutes(1))
        .await
        .expect("take");
    assert_eq!(taken, Some(link.clone()));
    assert_eq!(
        store
            .take_login(&link.token_hash, now() + Duration::minutes(1))
            .await
            .expect("take again"),
        None
    );
    assert!(
        item(&stack, &format!("LOGIN#{}", link.token_hash))
            .await
            .is_none(),
        "a used link is deleted"
    );
}

#[tokio::test]
async fn two_concurrent_uses_of_a_login_link_let_exactly_one_in() {
    let stack = spawn_app().await;
    let store = store(&stack);
    let sealer = stack.sealer();
    for _ in 0..5 {
        let link = login_link(&stack, &sealer, &unique_email(), now()).await;
        store.put_login(&link).await.expect("put");
        let uses: Vec<_> = (0..2)
            .map(|_| {
                let store = store.clone();
                let token = link.token_hash.clone();
                tokio::spawn(async move { store.take_login(&token, now()).await })
            })
            .collect();
        let mut winners = 0;
        for used in uses {
            if let Some(taken) = used.await.expect("join").expect("take") {
                assert_eq!(taken, link);
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "exactly one use of the link succeeds");
    }
}

#[tokio::test]
async fn a_second_link_with_the_same_token_hash_is_refused() {
    let stack = spawn_app().await;
    let store = store(&stack);
    let sealer = stack.sealer();
    let first = login_link(&stack, &sealer, &unique_email(), now()).await;
    store.put_login(&first).await.expect("put");
    let mut second = login_link(&stack, &sealer, &unique_email(), now()).await;
    second.token_hash = first.token_hash.clone();
    assert!(store.put_login(&second).await.is_err());
    assert_eq!(
        store
            .take_login(&first.token_hash, now())
            .await
            .expect("take"),
        Some(first),
        "the first link is untouched"
    );
}

#[tokio::test]
async fn an_expired_login_link_is_refused() {
    let stack = spawn_app().await;
    let store = store(&stack);
    let sealer = stack.sealer();
    let sent = now() - Duration::minutes(20);
    let link = login_link(&stack, &sealer, &unique_email(), sent).await;
    store.put_login(&link).await.expect("put");

    assert_eq!(
        store
            .take_login(&link.token_hash, now())
            .await
            .expect("take"),
        None
    );
    // At the moment it expires, too.
    assert_eq!(
        store
            .take_login(&link.token_hash, link.expires_at)
            .await
            .expect("take"),
        None
    );
    // An unknown link, likewise.
    assert_eq!(
        store.take_login(&token_hash(), now()).await.expect("take"),
        None
    );
    // Still usable the second before (the stored item was never deleted by a refused use).
    assert_eq!(
        store
            .take_login(&link.token_hash, link.expires_at - Duration::seconds(1))
            .await
            .expect("take"),
        Some(link)
    );
}

#[tokio::test]
async fn a_session_is_read_back_then_gone_once_ended() {
    let stack = spawn_app().await;
    let store = store(&stack);
    let host = host_of(&stack, &unique_email());
    let session = session(&host, now(), Duration::days(7));
    store.put_session(&session).await.expect("put");

    let stored = item(&stack, &format!("SESSION#{}", session.token_hash))
        .await
        .expect("the session is stored");
    assert_eq!(s(&stored, "sk"), Some("SESSION"));
    assert_eq!(s(&stored, "entity"), Some("host_session"));
    assert_eq!(s(&stored, "contact_hash"), Some(host.as_str()));

    assert_eq!(
        store
            .session(&session.token_hash, now() + Duration::days(1))
            .await
            .expect("read"),
        Some(session.clone())
    );
    store.end_session(&session.token_hash).await.expect("end");
    assert_eq!(
        store
            .session(&session.token_hash, now())
            .await
            .expect("read"),
        None
    );
    store
        .end_session(&session.token_hash)
        .await
        .expect("ending it again is fine");
    assert!(
        item(&stack, &format!("SESSION#{}", session.token_hash))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn an_expired_session_is_absent() {
    let stack = spawn_app().await;
    let store = store(&stack);
    let host = host_of(&stack, &unique_email());
    let old = session(&host, now() - Duration::days(8), Duration::days(7));
    store.put_session(&old).await.expect("put");
    assert_eq!(
        store.session(&old.token_hash, now()).await.expect("read"),
        None
    );
    assert_eq!(
        store
            .session(&old.token_hash, old.expires_at - Duration::seconds(1))
            .await
            .expect("read"),
        Some(old.clone()),
        "live until it expires"
    );

    // Asked for longer than seven days, a session still ends after seven.
    let long = session(&host, now(), Duration::days(30));
    store.put_session(&long).await.expect("put");
    let read = store
        .session(&long.token_hash, now())
        .await
        .expect("read")
        .expect("live");
    assert_eq!(read.expires_at, long.created_at + HostSession::MAX_TTL);
    assert_eq!(
        store
            .session(&long.token_hash, now() + Duration::days(8))
            .await
            .expect("read"),
        None
    );
}

#[tokio::test]
async fn a_later_sign_in_updates_the_profile_but_keeps_when_it_was_created_and_the_first_name() {
    let stack = spawn_app().await;
    let store = store(&stack);
    let sealer = stack.sealer();
    let email = unique_email();
    let host = host_of(&stack, &email);
    assert_eq!(store.profile(&host).await.expect("read"), None);

    let first_at = now() - Duration::days(3);
    let first = HostProfile {
        host: host.clone(),
        email: seal(&sealer, &host, "email", &email).await,
        first_name: None,
        language: Language::En,
        created_at: first_at,
        signed_in_at: first_at,
    };
    store.signed_in(&first).await.expect("first sign-in");
    assert_eq!(
        store.profile(&host).await.expect("read"),
        Some(first.clone())
    );

    let name = seal(&sealer, &host, "first_name", "Rosa").await;
    store.set_first_name(&host, &name).await.expect("name");

    let later = now();
    let again = HostProfile {
        email: seal(&sealer, &host, "email", &email).await,
        first_name: None,
        language: Language::Es,
        created_at: later,
        signed_in_at: later,
        ..first.clone()
    };
    store.signed_in(&again).await.expect("second sign-in");

    let read = store
        .profile(&host)
        .await
        .expect("read")
        .expect("a profile");
    assert_eq!(
        read,
        HostProfile {
            host: host.clone(),
            email: again.email.clone(),
            first_name: Some(name.clone()),
            language: Language::Es,
            created_at: first_at,
            signed_in_at: later,
        }
    );
    assert_eq!(
        sealer
            .open(
                &field_context(&host, "first_name"),
                read.first_name.as_ref().expect("a name")
            )
            .await
            .expect("open"),
        "Rosa"
    );

    let stored = item(&stack, &format!("HOST#{}", host.as_str()))
        .await
        .expect("the profile is stored");
    assert_eq!(s(&stored, "sk"), Some("PROFILE"));
    assert_eq!(s(&stored, "entity"), Some("host_profile"));
    assert!(
        !stored.contains_key("expires_at"),
        "a profile does not expire"
    );
}

#[tokio::test]
async fn a_first_name_is_set_only_on_an_existing_profile() {
    let stack = spawn_app().await;
    let store = store(&stack);
    let sealer = stack.sealer();
    let host = host_of(&stack, &unique_email());
    let name = seal(&sealer, &host, "first_name", "Dana").await;
    assert!(store.set_first_name(&host, &name).await.is_err());
    assert_eq!(store.profile(&host).await.expect("read"), None);
    assert!(
        item(&stack, &format!("HOST#{}", host.as_str()))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn no_item_holds_the_plain_email() {
    let stack = spawn_app().await;
    let store = store(&stack);
    let sealer = stack.sealer();
    let email = unique_email();
    let host = host_of(&stack, &email);

    let link = login_link(&stack, &sealer, &email, now()).await;
    store.put_login(&link).await.expect("put link");
    let session = session(&host, now(), Duration::days(7));
    store.put_session(&session).await.expect("put session");
    store
        .signed_in(&HostProfile {
            host: host.clone(),
            email: seal(&sealer, &host, "email", &email).await,
            first_name: Some(seal(&sealer, &host, "first_name", "Marisol").await),
            language: Language::Es,
            created_at: now(),
            signed_in_at: now(),
        })
        .await
        .expect("sign in");

    let local_part = email.split('@').next().expect("a local part");
    for pk in [
        format!("LOGIN#{}", link.token_hash),
        format!("SESSION#{}", session.token_hash),
        format!("HOST#{}", host.as_str()),
    ] {
        let stored = item(&stack, &pk).await.expect("stored");
        let text = item_text(&stored);
        assert!(!text.contains(&email), "{pk} holds the email in clear");
        assert!(!text.contains(local_part), "{pk} holds part of the email");
        assert!(!text.contains("Marisol"), "{pk} holds the name in clear");
    }
    let link_item = item(&stack, &format!("LOGIN#{}", link.token_hash))
        .await
        .expect("stored");
    let sealed = s(&link_item, "email_sealed").expect("a sealed email");
    assert_eq!(
        sealer
            .open(
                &field_context(&host, "email"),
                &Sealed::parse(sealed).expect("a sealed value")
            )
            .await
            .expect("open"),
        email
    );
}

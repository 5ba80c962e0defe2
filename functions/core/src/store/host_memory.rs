//! In-memory adapter of [`HostStore`], for unit tests of the host sign-in use case. Same semantics as
//! [`super::DynamoHostStore`]: single-use links, expiry compared in whole seconds, times kept at the
//! precision the table keeps them, a session's expiry capped at [`HostSession::MAX_TTL`].

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use time::OffsetDateTime;

use super::StoreError;
use super::host::{
    HostProfile, HostSession, HostStore, LoginLink, live, login_collision, no_profile,
    whole_millis, whole_seconds,
};
use crate::privacy::{ContactHash, Sealed};

#[derive(Debug, Default)]
struct State {
    logins: HashMap<String, LoginLink>,
    sessions: HashMap<String, HostSession>,
    profiles: HashMap<String, HostProfile>,
}

#[derive(Debug, Default)]
pub struct MemoryHostStore {
    state: Mutex<State>,
}

impl MemoryHostStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Login links stored, used or not, expired or not (as DynamoDB keeps expired items a while).
    pub fn logins(&self) -> usize {
        self.lock().logins.len()
    }

    /// Sessions stored, expired or not.
    pub fn sessions(&self) -> usize {
        self.lock().sessions.len()
    }
}

impl HostStore for MemoryHostStore {
    async fn put_login(&self, link: &LoginLink) -> Result<(), StoreError> {
        let mut state = self.lock();
        if state.logins.contains_key(&link.token_hash) {
            return Err(login_collision());
        }
        let stored = LoginLink {
            created_at: whole_millis(link.created_at),
            expires_at: whole_seconds(link.expires_at),
            ..link.clone()
        };
        state.logins.insert(link.token_hash.clone(), stored);
        Ok(())
    }

    async fn take_login(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<LoginLink>, StoreError> {
        let mut state = self.lock();
        let usable = state
            .logins
            .get(token_hash)
            .is_some_and(|link| live(link.expires_at, now));
        Ok(if usable {
            state.logins.remove(token_hash)
        } else {
            None
        })
    }

    async fn put_session(&self, session: &HostSession) -> Result<(), StoreError> {
        let stored = HostSession {
            created_at: whole_millis(session.created_at),
            expires_at: whole_seconds(session.capped_expiry()),
            ..session.clone()
        };
        self.lock()
            .sessions
            .insert(session.token_hash.clone(), stored);
        Ok(())
    }

    async fn session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<HostSession>, StoreError> {
        Ok(self
            .lock()
            .sessions
            .get(token_hash)
            .filter(|session| live(session.expires_at, now))
            .cloned())
    }

    async fn end_session(&self, token_hash: &str) -> Result<(), StoreError> {
        self.lock().sessions.remove(token_hash);
        Ok(())
    }

    async fn signed_in(&self, profile: &HostProfile) -> Result<(), StoreError> {
        let mut state = self.lock();
        let stored = state
            .profiles
            .entry(profile.host.as_str().to_owned())
            .or_insert_with(|| HostProfile {
                created_at: whole_millis(profile.created_at),
                ..profile.clone()
            });
        stored.email = profile.email.clone();
        stored.language = profile.language;
        stored.signed_in_at = whole_millis(profile.signed_in_at);
        if stored.first_name.is_none() {
            stored.first_name = profile.first_name.clone();
        }
        Ok(())
    }

    async fn profile(&self, host: &ContactHash) -> Result<Option<HostProfile>, StoreError> {
        Ok(self.lock().profiles.get(host.as_str()).cloned())
    }

    async fn set_first_name(
        &self,
        host: &ContactHash,
        first_name: &Sealed,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        let profile = state
            .profiles
            .get_mut(host.as_str())
            .ok_or_else(no_profile)?;
        profile.first_name = Some(first_name.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::{EmailAddress, Language};
    use crate::privacy::{ContactHasher, Sealer, field_context};
    use time::Duration;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn host(n: u8) -> ContactHash {
        let hasher =
            ContactHasher::from_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=").unwrap();
        hasher.email(&EmailAddress::parse(&format!("host{n}@example.org")).unwrap())
    }

    async fn sealed(sealer: &Sealer, host: &ContactHash, field: &str, text: &str) -> Sealed {
        sealer
            .seal(&field_context(host, field), text)
            .await
            .unwrap()
    }

    async fn link(sealer: &Sealer, token_hash: &str, at: OffsetDateTime) -> LoginLink {
        let host = host(1);
        LoginLink {
            token_hash: token_hash.into(),
            email: sealed(sealer, &host, "email", "host1@example.org").await,
            host,
            language: Language::Es,
            created_at: at,
            expires_at: at + LoginLink::TTL,
        }
    }

    fn session(token_hash: &str, at: OffsetDateTime, lasts: Duration) -> HostSession {
        HostSession {
            token_hash: token_hash.into(),
            host: host(1),
            language: Language::En,
            created_at: at,
            expires_at: at + lasts,
        }
    }

    async fn profile(sealer: &Sealer, at: OffsetDateTime, language: Language) -> HostProfile {
        let host = host(1);
        HostProfile {
            email: sealed(sealer, &host, "email", "host1@example.org").await,
            host,
            first_name: None,
            language,
            created_at: at,
            signed_in_at: at,
        }
    }

    #[tokio::test]
    async fn a_login_link_works_once() {
        let store = MemoryHostStore::new();
        let sealer = Sealer::in_memory();
        let link = link(&sealer, "aa11", now()).await;
        store.put_login(&link).await.unwrap();

        let taken = store.take_login("aa11", now() + Duration::minutes(1)).await;
        assert_eq!(taken.unwrap(), Some(link));
        assert_eq!(
            store
                .take_login("aa11", now() + Duration::minutes(2))
                .await
                .unwrap(),
            None
        );
        assert_eq!(store.logins(), 0, "a used link is deleted");
    }

    #[tokio::test]
    async fn an_expired_login_link_is_refused() {
        let store = MemoryHostStore::new();
        let sealer = Sealer::in_memory();
        store
            .put_login(&link(&sealer, "bb22", now()).await)
            .await
            .unwrap();

        assert_eq!(
            store
                .take_login("bb22", now() + LoginLink::TTL)
                .await
                .unwrap(),
            None
        );
        assert_eq!(store.logins(), 1, "an expired link is left for the TTL");
    }

    #[tokio::test]
    async fn a_link_is_live_until_the_second_it_expires() {
        let store = MemoryHostStore::new();
        let sealer = Sealer::in_memory();
        store
            .put_login(&link(&sealer, "bb33", now()).await)
            .await
            .unwrap();
        let last_moment = now() + LoginLink::TTL - Duration::milliseconds(1);
        assert!(
            store
                .take_login("bb33", last_moment)
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn an_unknown_login_link_is_refused() {
        let store = MemoryHostStore::new();
        assert_eq!(store.take_login("cc33", now()).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_second_link_with_the_same_token_hash_is_an_error() {
        let store = MemoryHostStore::new();
        let sealer = Sealer::in_memory();
        let first = link(&sealer, "dd44", now()).await;
        store.put_login(&first).await.unwrap();
        let second = link(&sealer, "dd44", now() + Duration::minutes(1)).await;
        assert!(store.put_login(&second).await.is_err());
        assert_eq!(store.take_login("dd44", now()).await.unwrap(), Some(first));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_concurrent_uses_of_a_link_let_exactly_one_in() {
        let store = Arc::new(MemoryHostStore::new());
        let sealer = Sealer::in_memory();
        store
            .put_login(&link(&sealer, "ee55", now()).await)
            .await
            .unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.take_login("ee55", now()).await.unwrap() })
            })
            .collect();
        let mut taken = 0;
        for task in tasks {
            taken += usize::from(task.await.unwrap().is_some());
        }
        assert_eq!(taken, 1);
    }

    #[tokio::test]
    async fn times_come_back_at_the_precision_the_table_keeps() {
        let store = MemoryHostStore::new();
        let sealer = Sealer::in_memory();
        let at = now() + Duration::nanoseconds(123_456_789);
        store
            .put_login(&link(&sealer, "ff66", at).await)
            .await
            .unwrap();
        let taken = store.take_login("ff66", now()).await.unwrap().unwrap();
        assert_eq!(taken.created_at, now() + Duration::milliseconds(123));
        assert_eq!(taken.expires_at, now() + LoginLink::TTL);
    }

    #[tokio::test]
    async fn a_session_is_read_back_until_it_expires() {
        let store = MemoryHostStore::new();
        let session = session("0a0a", now(), Duration::days(7));
        store.put_session(&session).await.unwrap();

        assert_eq!(
            store
                .session("0a0a", now() + Duration::days(6))
                .await
                .unwrap(),
            Some(session)
        );
        assert_eq!(
            store
                .session("0a0a", now() + Duration::days(7))
                .await
                .unwrap(),
            None,
            "an expired session is absent"
        );
        assert_eq!(store.session("0b0b", now()).await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_ended_session_is_gone() {
        let store = MemoryHostStore::new();
        store
            .put_session(&session("1a1a", now(), Duration::hours(1)))
            .await
            .unwrap();
        store.end_session("1a1a").await.unwrap();
        assert_eq!(store.session("1a1a", now()).await.unwrap(), None);
        store.end_session("1a1a").await.unwrap();
        store.end_session("never-there").await.unwrap();
        assert_eq!(store.sessions(), 0);
    }

    #[tokio::test]
    async fn a_session_never_lives_longer_than_seven_days() {
        let store = MemoryHostStore::new();
        store
            .put_session(&session("2a2a", now(), Duration::days(30)))
            .await
            .unwrap();
        let stored = store.session("2a2a", now()).await.unwrap().unwrap();
        assert_eq!(stored.expires_at, now() + HostSession::MAX_TTL);
        assert_eq!(
            store
                .session("2a2a", now() + Duration::days(8))
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn a_second_sign_in_keeps_when_the_profile_was_created_and_the_first_name() {
        let store = MemoryHostStore::new();
        let sealer = Sealer::in_memory();
        let first = profile(&sealer, now(), Language::En).await;
        store.signed_in(&first).await.unwrap();
        assert_eq!(store.profile(&host(1)).await.unwrap(), Some(first.clone()));

        let name = sealed(&sealer, &host(1), "first_name", "Rosa").await;
        store.set_first_name(&host(1), &name).await.unwrap();

        let later = now() + Duration::days(3);
        let mut again = profile(&sealer, later, Language::Es).await;
        again.first_name = None;
        store.signed_in(&again).await.unwrap();

        let stored = store.profile(&host(1)).await.unwrap().unwrap();
        assert_eq!(stored.created_at, now());
        assert_eq!(stored.signed_in_at, later);
        assert_eq!(stored.language, Language::Es);
        assert_eq!(stored.email, again.email);
        assert_eq!(stored.first_name, Some(name));
    }

    #[tokio::test]
    async fn a_first_name_needs_a_profile() {
        let store = MemoryHostStore::new();
        let sealer = Sealer::in_memory();
        let name = sealed(&sealer, &host(2), "first_name", "Dana").await;
        assert!(store.set_first_name(&host(2), &name).await.is_err());
        assert_eq!(store.profile(&host(2)).await.unwrap(), None);
    }
}

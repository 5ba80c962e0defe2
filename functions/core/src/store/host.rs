//! Port: password-less sign-in of hosts. A host types their email and gets a single-use magic link
//! ([`LoginLink`], valid [`LoginLink::TTL`]); using it starts a [`HostSession`] (a cookie, at most
//! [`HostSession::MAX_TTL`]) and creates or refreshes their [`HostProfile`]. Adapters:
//! [`super::DynamoHostStore`], [`super::MemoryHostStore`].
//!
//! Tokens are random and live only in the email and the cookie: the store keys links and sessions by
//! the SHA-256 of the token (hex). Hosts are keyed by the keyed hash of their email; their email and
//! first name are stored sealed only.
//!
//! **Time precision.** Items keep `expires_at` as a DynamoDB TTL number (whole unix seconds) and
//! `created_at`/`signed_in_at` as RFC 3339 with milliseconds, so times read back are truncated to
//! that precision (both adapters do the same). A link or session is live at `now` while
//! `expires_at > now`, compared in whole seconds.

use std::future::Future;
use time::{Duration, OffsetDateTime};

use super::StoreError;
use crate::domain::Language;
use crate::privacy::{ContactHash, Sealed};

/// A magic sign-in link waiting to be used: `LOGIN#<token hash>` / `LOGIN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginLink {
    /// SHA-256 of the random token, hex (the token itself is only in the email).
    pub token_hash: String,
    /// The host: keyed hash of their email.
    pub host: ContactHash,
    /// Their email, sealed with `field_context(host, "email")`.
    pub email: Sealed,
    pub language: Language,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl LoginLink {
    /// How long a magic link may be used after it was sent.
    pub const TTL: Duration = Duration::minutes(15);
}

/// A signed-in host's session: `SESSION#<token hash>` / `SESSION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSession {
    pub token_hash: String,
    pub host: ContactHash,
    pub language: Language,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl HostSession {
    /// The longest a session may live: adapters store at most `created_at + MAX_TTL` as its expiry.
    pub const MAX_TTL: Duration = Duration::days(7);

    /// The expiry actually stored: the one asked for, capped at `created_at + MAX_TTL`.
    pub fn capped_expiry(&self) -> OffsetDateTime {
        self.expires_at.min(self.created_at + Self::MAX_TTL)
    }
}

/// A host's profile: `HOST#<hash>` / `PROFILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostProfile {
    pub host: ContactHash,
    /// Sealed with `field_context(host, "email")`.
    pub email: Sealed,
    /// Sealed with `field_context(host, "first_name")`; set when they first create a gathering.
    pub first_name: Option<Sealed>,
    pub language: Language,
    pub created_at: OffsetDateTime,
    pub signed_in_at: OffsetDateTime,
}

/// Port: magic links, sessions and profiles of hosts.
pub trait HostStore: Send + Sync {
    /// Stores a new login link (conditional on the token hash being new; a collision is an error).
    fn put_login(&self, link: &LoginLink) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Uses a login link: deletes it and returns it, only if it exists and has not expired at `now`
    /// (DeleteItem with a condition and ReturnValues ALL_OLD). Used or expired or unknown: `None`.
    /// Two concurrent uses of the same token: exactly one gets `Some`.
    fn take_login(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<LoginLink>, StoreError>> + Send;

    /// Stores a session (its expiry capped at [`HostSession::MAX_TTL`] after `created_at`).
    fn put_session(
        &self,
        session: &HostSession,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The session, if it exists and has not expired at `now` (an expired item is absent: moto never
    /// deletes by TTL).
    fn session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<HostSession>, StoreError>> + Send;

    /// Ends a session (sign-out). Idempotent.
    fn end_session(&self, token_hash: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Creates the profile on first sign-in or updates `email`, `language`, `signed_in_at` (keeps
    /// `created_at` and `first_name`; `profile.first_name` is used only when none is stored yet).
    fn signed_in(
        &self,
        profile: &HostProfile,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The host's profile, if they ever signed in.
    fn profile(
        &self,
        host: &ContactHash,
    ) -> impl Future<Output = Result<Option<HostProfile>, StoreError>> + Send;

    /// Records the host's first name (sealed) on their profile, replacing any earlier one. The
    /// profile must exist (the host signed in): otherwise an error, and nothing is written.
    fn set_first_name(
        &self,
        host: &ContactHash,
        first_name: &Sealed,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A time truncated to whole seconds, as a TTL attribute keeps it.
pub(crate) fn whole_seconds(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).unwrap_or(t)
}

/// A time truncated to milliseconds, as [`super::timestamp`] keeps it.
pub(crate) fn whole_millis(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_millisecond(t.millisecond()).unwrap_or(t)
}

/// Whether something expiring at `expires_at` is still live at `now` (whole seconds, as the
/// DynamoDB condition compares them).
pub(crate) fn live(expires_at: OffsetDateTime, now: OffsetDateTime) -> bool {
    expires_at.unix_timestamp() > now.unix_timestamp()
}

/// The error of a new login link whose token hash is already stored (a 256-bit collision: never, in
/// practice, unless a caller reuses a token).
pub(crate) fn login_collision() -> StoreError {
    StoreError::Corrupt("a login link with this token hash is already stored".into())
}

/// The error of a first name set for a host without a profile.
pub(crate) fn no_profile() -> StoreError {
    StoreError::Corrupt("a first name was set for a host who has no profile".into())
}

//! The links every email carries (`email-links` function): one-click unsubscribe
//! (`{base}/unsubscribe?t=…`, RFC 8058) and "delete my data" (`{base}/forget?t=…`), both signed
//! ([`crate::email::UnsubscribeToken`]).
//!
//! | request | does |
//! |---|---|
//! | `GET /unsubscribe?t=` | checks the token (purpose `marketing`); a page with a confirm button. Changes nothing |
//! | `POST /unsubscribe?t=` | RFC 8058 one-click (mail clients post `List-Unsubscribe=One-Click`, no cookies) or the button: suppresses marketing email for the contact ([`unsubscribe`]) |
//! | `GET /forget?t=` | checks the token (purpose `forget`, 400 days); a page saying what is erased, with a confirm button. Changes nothing |
//! | `POST /forget?t=` | erases the contact with the one erasure use case ([`crate::conversation::forget`], source `email_link`) ([`forget`]) |
//!
//! **Suppression** (`CONTACT#<hash>` / `CONTACT`): `email_suppressed` `true` (a BOOL: the send
//! worker's gate reads it), `email_suppressed_at`, `entity` if absent; with, in the same
//! transaction, the evidence `CONSENT#<RFC 3339 ms time>#<request id>` (`action` `opt_out`,
//! `channel` `email`, `source` `unsubscribe_link`, `method` `one_click` or `page`, `language`,
//! `reference` = the API Gateway request id). Idempotent: the update is conditioned on the contact
//! not being suppressed already, so a second POST writes nothing at all (not even a timestamp).
//! Confirmations of the person's own actions (an RSVP) still go out, as the send worker's gate says.
//!
//! **Erasure**: a second POST finds the erasure complete (the contact carries `erased_at` and
//! nothing erasable is left under its key or its index key) and writes nothing. When something was
//! stored for the contact after the erasure, the erasure runs again: a link to delete one's data
//! never leaves data behind.
//!
//! A bad, tampered, expired or wrong-purpose token is a 400 page and nothing is read or written.
//! Errors map to statuses in one place ([`LinkError::status`]); pages are rendered in [`page`];
//! the HTTP side (routes, limits, security headers) is [`EmailLinks`].

mod dynamo;
mod handler;
mod memory;
pub mod page;

pub use dynamo::DynamoLinkStore;
pub use handler::{EmailLinks, LINK_BODY_LIMIT, SECURITY_HEADERS, accept_language, language};
pub use memory::{MemoryLinkStore, MemorySuppression};

use std::future::Future;

use http::StatusCode;
use time::OffsetDateTime;

use crate::conversation::forget::erase_contact;
use crate::domain::Language;
use crate::email::{TokenError, TokenKey, TokenKeyError, TokenPurpose, UnsubscribeToken};
use crate::privacy::ContactHash;
use crate::secrets::SecretError;
use crate::store::{ErasureEvidence, ErasureStore, StoreError};

/// Evidence `source` of an unsubscribe by link.
pub const UNSUBSCRIBE_SOURCE: &str = "unsubscribe_link";
/// Evidence `source` of an erasure by link.
pub const FORGET_SOURCE: &str = "email_link";

/// How the unsubscribe was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsubscribeMethod {
    /// RFC 8058: the body was `List-Unsubscribe=One-Click` (a mail client's unsubscribe button).
    OneClick,
    /// Any other POST: the confirm button of the page.
    Page,
}

impl UnsubscribeMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OneClick => "one_click",
            Self::Page => "page",
        }
    }

    /// Reads a POST body: `List-Unsubscribe=One-Click` anywhere in the form is one-click.
    pub fn from_body(body: &[u8]) -> Self {
        let one_click =
            form_urlencoded::parse(body).any(|(k, v)| k == "List-Unsubscribe" && v == "One-Click");
        if one_click {
            Self::OneClick
        } else {
            Self::Page
        }
    }
}

/// What the evidence of an unsubscribe records (no personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuppressionEvidence<'a> {
    /// The request that asked (API Gateway's request id).
    pub reference: &'a str,
    pub method: UnsubscribeMethod,
    /// The language of the page that answered.
    pub language: Language,
}

/// What a suppression write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suppressed {
    /// Suppressed now, with its evidence.
    Now,
    /// It already was: nothing was written.
    Already,
}

/// Port: what the link pages write and read, besides the erasure itself.
pub trait LinkStore: Send + Sync {
    /// Suppresses marketing email to `contact` and records the evidence, atomically; writes nothing
    /// when the contact is suppressed already.
    fn suppress_email(
        &self,
        contact: &ContactHash,
        evidence: &SuppressionEvidence<'_>,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Suppressed, StoreError>> + Send;

    /// Whether `contact` was erased and nothing an erasure removes is stored for it since.
    fn erasure_complete(
        &self,
        contact: &ContactHash,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// What a link did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOutcome {
    /// A valid unsubscribe link, not followed yet: the confirm page.
    ConfirmUnsubscribe,
    Unsubscribed,
    AlreadyUnsubscribed,
    /// A valid "delete my data" link, not followed yet: the confirm page.
    ConfirmForget,
    Erased,
    AlreadyErased,
}

/// Why a link request was refused or failed. Messages name no personal data and no token.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("request body is larger than {LINK_BODY_LIMIT} bytes")]
    TooLarge,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("no such page")]
    NotFound,
    #[error("the link has no token")]
    MissingToken,
    #[error("the link's token was refused: {0:?}")]
    Token(TokenError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("email link key: {0}")]
    Key(#[from] TokenKeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<TokenError> for LinkError {
    fn from(error: TokenError) -> Self {
        Self::Token(error)
    }
}

impl LinkError {
    /// The one place where errors become HTTP statuses.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MissingToken | Self::Token(_) => StatusCode::BAD_REQUEST,
            Self::Secret(_) | Self::Key(_) | Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Checks a link's token for `purpose`; the contact it was issued to.
pub fn verify(
    key: &TokenKey,
    token: &str,
    purpose: TokenPurpose,
    now: OffsetDateTime,
) -> Result<ContactHash, LinkError> {
    let claims = UnsubscribeToken::verify(key, token, purpose, now)?;
    // Only rising signs tokens; a signed payload whose hash does not parse is still not a link.
    ContactHash::parse(claims.contact_hash()).ok_or(LinkError::Token(TokenError::Malformed))
}

/// `POST /unsubscribe`: verifies a marketing token and suppresses marketing email to its contact.
pub async fn unsubscribe<S: LinkStore>(
    store: &S,
    key: &TokenKey,
    token: &str,
    evidence: &SuppressionEvidence<'_>,
    now: OffsetDateTime,
) -> Result<LinkOutcome, LinkError> {
    let contact = verify(key, token, TokenPurpose::Marketing, now)?;
    let outcome = match store.suppress_email(&contact, evidence, now).await? {
        Suppressed::Now => LinkOutcome::Unsubscribed,
        Suppressed::Already => LinkOutcome::AlreadyUnsubscribed,
    };
    tracing::info!(
        outcome = outcome_name(outcome),
        method = evidence.method.as_str(),
        "email unsubscribe by link"
    );
    Ok(outcome)
}

/// Who asked for an erasure by link, for its evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgetRequest<'a> {
    /// The request that asked (API Gateway's request id).
    pub reference: &'a str,
    /// The confirmation the page gives (our wording).
    pub wording: &'a str,
    pub language: Language,
}

/// `POST /forget`: verifies a forget token and erases its contact (unless that is done already).
pub async fn forget<S, G>(
    store: &S,
    gatherings: &G,
    key: &TokenKey,
    token: &str,
    request: &ForgetRequest<'_>,
    now: OffsetDateTime,
) -> Result<LinkOutcome, LinkError>
where
    S: LinkStore + ErasureStore<G>,
    G: Sync,
{
    let contact = verify(key, token, TokenPurpose::Forget, now)?;
    if store.erasure_complete(&contact).await? {
        tracing::info!(
            outcome = "already_erased",
            source = FORGET_SOURCE,
            "erasure by link already done"
        );
        return Ok(LinkOutcome::AlreadyErased);
    }
    let evidence = ErasureEvidence {
        reference: request.reference,
        source: FORGET_SOURCE,
        keyword: None,
        wording: Some(request.wording),
        language: request.language,
    };
    erase_contact(store, gatherings, &contact, evidence, now).await?;
    Ok(LinkOutcome::Erased)
}

fn outcome_name(outcome: LinkOutcome) -> &'static str {
    match outcome {
        LinkOutcome::ConfirmUnsubscribe | LinkOutcome::ConfirmForget => "confirm_page",
        LinkOutcome::Unsubscribed => "unsubscribed",
        LinkOutcome::AlreadyUnsubscribed => "already_unsubscribed",
        LinkOutcome::Erased => "erased",
        LinkOutcome::AlreadyErased => "already_erased",
    }
}

#[cfg(test)]
mod tests;

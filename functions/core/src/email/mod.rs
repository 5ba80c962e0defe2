//! Email, the layer every sender uses: build a message ([`Email`] → RFC 5322 MIME with
//! `mail-builder`), attach a calendar invite ([`calendar_invite`], `icalendar`), sign the links every
//! email carries ([`UnsubscribeToken`]: one-click unsubscribe and "delete my data"), and send it
//! through SES v2 Raw content ([`SesSender`], behind the [`EmailSender`] port, with
//! [`MemoryEmailSender`] for unit tests).
//!
//! Addresses are [`crate::domain::EmailAddress`]es; people are found by their keyed hash
//! ([`crate::privacy::ContactHasher::email`]), never by the address.

mod calendar;
mod message;
mod sender;
mod token;

pub use calendar::{CALENDAR_METHOD, CalendarError, calendar_invite};
pub use message::{CALENDAR_FILENAME, Email, EmailError, Mailbox};
pub use sender::{
    EmailSender, MemoryEmailSender, SendEmailError, SendOptions, SentEmail, SesMessageId, SesSender,
};
pub use token::{
    FORGET_MAX_AGE, TokenClaims, TokenError, TokenKey, TokenKeyError, TokenPurpose,
    UnsubscribeToken, forget_url, unsubscribe_url,
};

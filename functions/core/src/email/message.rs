//! One email, built as RFC 5322 MIME with `mail-builder` for SES's Raw content.
//!
//! Layout: `multipart/alternative` (text, then HTML); wrapped in `multipart/mixed` when a calendar
//! invite is attached. Headers: `From`, `To`, `Subject` (RFC 2047-encoded when not ASCII),
//! `Message-ID` on a configurable domain, `Date`, `Content-Language`, and for mail people can opt out
//! of, RFC 8058 one-click `List-Unsubscribe` + `List-Unsubscribe-Post`.
//!
//! SES replaces the `Message-ID` and `Date` headers of Raw messages with its own (SES developer guide,
//! "Amazon SES header fields"): to follow an email through SES events, keep the
//! [`super::SesMessageId`] that sending returns. The ones set here are what moto and other relays
//! see, and keep the message well formed on its own.
//!
//! Header injection: the texts that reach headers (subject, sender name) are refused when they hold
//! any control character (CR, LF, NUL, TAB …); addresses are [`EmailAddress`]es, which cannot hold
//! one; the unsubscribe link is re-serialised by the `url` crate; the Message-ID domain is checked as
//! a host name. Bodies may hold anything: they are transfer-encoded.

use std::fmt;

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::headers::raw::Raw;
use mail_builder::headers::text::Text;
use mail_builder::headers::url::URL;
use mail_builder::mime::BodyPart;
use time::OffsetDateTime;

use super::calendar::CALENDAR_METHOD;
use crate::domain::{EmailAddress, Language};

/// The file name calendar invites are attached under.
pub const CALENDAR_FILENAME: &str = "invite.ics";

/// The longest subject accepted (RFC 5322 recommends 78 characters a line; a subject is folded, but
/// long ones are cut by every mail client anyway).
const MAX_SUBJECT_CHARS: usize = 200;
/// The longest sender name accepted.
const MAX_NAME_CHARS: usize = 100;

/// Why an email could not be built. Messages are for operators; they never quote the texts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the subject is empty")]
    EmptySubject,
    #[error("the subject is longer than {MAX_SUBJECT_CHARS} characters")]
    SubjectTooLong,
    #[error("the subject contains a line break or another control character")]
    ControlCharacterInSubject,
    #[error("the sender name is longer than {MAX_NAME_CHARS} characters")]
    SenderNameTooLong,
    #[error("the sender name contains a line break or another control character")]
    ControlCharacterInSenderName,
    #[error("the List-Unsubscribe link is not an absolute https URL")]
    InvalidUnsubscribeUrl,
    #[error("the Message-ID domain is not a host name")]
    InvalidMessageIdDomain,
    #[error("the message could not be serialised")]
    Serialise,
}

/// Who an email is from: a display name (may be empty) and a verified SES identity.
#[derive(Clone, PartialEq, Eq)]
pub struct Mailbox {
    name: String,
    address: EmailAddress,
}

impl Mailbox {
    /// A sender shown as `name <address>` (or just the address when `name` is empty). The name is
    /// checked when the email is built ([`Email::to_mime`]).
    pub fn new(name: &str, address: EmailAddress) -> Self {
        Self {
            name: name.trim().to_string(),
            address,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn address(&self) -> &EmailAddress {
        &self.address
    }
}

impl fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Mailbox(<redacted>)")
    }
}

/// An email to send. Build it with [`Email::new`] and the `with_*` methods, then [`Email::to_mime`].
///
/// `Debug` shows the structure only: no address, subject or body.
#[derive(Clone)]
pub struct Email {
    from: Mailbox,
    to: EmailAddress,
    subject: String,
    text: String,
    html: String,
    language: Language,
    list_unsubscribe: Option<String>,
    calendar: Option<Vec<u8>>,
    message_id_local: String,
    message_id_domain: String,
    date: OffsetDateTime,
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Email")
            .field("language", &self.language)
            .field("list_unsubscribe", &self.list_unsubscribe.is_some())
            .field("calendar", &self.calendar.as_ref().map(Vec::len))
            .field("message_id", &self.message_id())
            .finish_non_exhaustive()
    }
}

impl Email {
    /// An email with a fresh random Message-ID on the sender's domain, dated now.
    pub fn new(
        from: Mailbox,
        to: EmailAddress,
        subject: &str,
        text: impl Into<String>,
        html: impl Into<String>,
        language: Language,
    ) -> Self {
        let message_id_domain = from.address.domain().to_string();
        Self {
            from,
            to,
            subject: subject.trim().to_string(),
            text: text.into(),
            html: html.into(),
            language,
            list_unsubscribe: None,
            calendar: None,
            message_id_local: format!("{:032x}", rand::random::<u128>()),
            message_id_domain,
            date: OffsetDateTime::now_utc(),
        }
    }

    /// Adds RFC 8058 one-click unsubscribe: `List-Unsubscribe: <url>` and
    /// `List-Unsubscribe-Post: List-Unsubscribe=One-Click`. The URL must be https (plain http is
    /// accepted only for `localhost`/`127.0.0.1`, the local stack); Gmail and Yahoo require this pair
    /// on bulk mail.
    pub fn with_list_unsubscribe(mut self, url: &str) -> Self {
        self.list_unsubscribe = Some(url.to_string());
        self
    }

    /// Attaches a calendar invite (see [`super::calendar_invite`]) as `invite.ics`,
    /// `text/calendar; method=PUBLISH; charset=UTF-8`.
    pub fn with_calendar_invite(mut self, ics: Vec<u8>) -> Self {
        self.calendar = Some(ics);
        self
    }

    /// Puts the Message-ID on another domain than the sender's (e.g. the configured mail domain).
    pub fn with_message_id_domain(mut self, domain: &str) -> Self {
        self.message_id_domain = domain.trim().to_ascii_lowercase();
        self
    }

    /// Sets the `Date` header (default: when the email was created).
    pub fn with_date(mut self, date: OffsetDateTime) -> Self {
        self.date = date;
        self
    }

    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    pub fn to(&self) -> &EmailAddress {
        &self.to
    }

    /// The Message-ID, without angle brackets (`<hex>@<domain>`).
    pub fn message_id(&self) -> String {
        format!("{}@{}", self.message_id_local, self.message_id_domain)
    }

    /// The message as RFC 5322 bytes (CRLF line ends), ready for SES `RawMessage.Data`.
    pub fn to_mime(&self) -> Result<Vec<u8>, EmailError> {
        check_subject(&self.subject)?;
        check_sender_name(&self.from.name)?;
        check_message_id_domain(&self.message_id_domain)?;
        let list_unsubscribe = self
            .list_unsubscribe
            .as_deref()
            .map(checked_unsubscribe_url)
            .transpose()?;

        let sender_name = Some(self.from.name.as_str()).filter(|name| !name.is_empty());
        let mut message = MessageBuilder::new()
            .from(Address::new_address(
                sender_name,
                self.from.address.as_str(),
            ))
            .to(Address::new_address(None::<&str>, self.to.as_str()))
            .subject(self.subject.as_str())
            .message_id(self.message_id())
            .date(Date::new(self.date.unix_timestamp()))
            .header("Content-Language", Text::new(self.language.code()))
            .text_body(self.text.as_str())
            .html_body(self.html.as_str());
        if let Some(url) = list_unsubscribe {
            message = message.header("List-Unsubscribe", URL::new(url)).header(
                "List-Unsubscribe-Post",
                Raw::new("List-Unsubscribe=One-Click"),
            );
        }
        if let Some(ics) = &self.calendar {
            message = message.attachment(
                ContentType::new("text/calendar")
                    .attribute("method", CALENDAR_METHOD)
                    .attribute("charset", "UTF-8"),
                CALENDAR_FILENAME,
                BodyPart::Binary(ics.as_slice().into()),
            );
        }
        message.write_to_vec().map_err(|_| EmailError::Serialise)
    }
}

fn check_subject(subject: &str) -> Result<(), EmailError> {
    if subject.is_empty() {
        return Err(EmailError::EmptySubject);
    }
    if subject.chars().any(char::is_control) {
        return Err(EmailError::ControlCharacterInSubject);
    }
    if subject.chars().count() > MAX_SUBJECT_CHARS {
        return Err(EmailError::SubjectTooLong);
    }
    Ok(())
}

fn check_sender_name(name: &str) -> Result<(), EmailError> {
    if name.chars().any(char::is_control) {
        return Err(EmailError::ControlCharacterInSenderName);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(EmailError::SenderNameTooLong);
    }
    Ok(())
}

/// A Message-ID domain must be a host name, checked by the same rules as an address's domain.
fn check_message_id_domain(domain: &str) -> Result<(), EmailError> {
    EmailAddress::parse(&format!("id@{domain}"))
        .ok()
        .filter(|probe| probe.domain() == domain)
        .map(|_| ())
        .ok_or(EmailError::InvalidMessageIdDomain)
}

/// Parses the unsubscribe link and returns the `url` crate's serialisation, which percent-encodes
/// spaces, `<` and `>`. Control characters are refused first (the URL parser would silently drop a
/// tab or line break, hiding a caller's bug).
fn checked_unsubscribe_url(raw: &str) -> Result<String, EmailError> {
    if raw.chars().any(char::is_control) {
        return Err(EmailError::InvalidUnsubscribeUrl);
    }
    let url = url::Url::parse(raw.trim()).map_err(|_| EmailError::InvalidUnsubscribeUrl)?;
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1"));
    let secure = url.scheme() == "https" || (url.scheme() == "http" && local);
    if !secure || url.host_str().is_none() || url.cannot_be_a_base() {
        return Err(EmailError::InvalidUnsubscribeUrl);
    }
    Ok(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::{MessageParser, MimeHeaders as _};

    fn address(text: &str) -> EmailAddress {
        EmailAddress::parse(text).unwrap()
    }

    fn email() -> Email {
        Email::new(
            Mailbox::new("Rising", address("hello@mail.rising.example")),
            address("marisol@example.org"),
            "You're going to Maple Street potluck",
            "See you Saturday.\nThe rising team",
            "<p>See you <b>Saturday</b>.</p>",
            Language::En,
        )
        .with_date(OffsetDateTime::from_unix_timestamp(1_781_000_000).unwrap())
    }

    fn text(mime: &[u8]) -> String {
        String::from_utf8(mime.to_vec()).unwrap()
    }

    /// The header block: everything before the first empty line.
    fn headers(mime: &[u8]) -> String {
        let all = text(mime);
        all.split("\r\n\r\n").next().unwrap().to_string()
    }

    #[test]
    fn the_mime_holds_a_text_and_an_html_alternative() {
        let mime = email().to_mime().unwrap();
        let parsed = MessageParser::default().parse(&mime).unwrap();
        assert!(headers(&mime).contains("Content-Type: multipart/alternative"));
        // Line ends in bodies become CRLF, as RFC 5322 requires.
        assert_eq!(
            parsed.body_text(0).unwrap().trim_end(),
            "See you Saturday.\r\nThe rising team"
        );
        assert_eq!(
            parsed.body_html(0).unwrap().trim_end(),
            "<p>See you <b>Saturday</b>.</p>"
        );
        assert_eq!(parsed.attachment_count(), 0);
    }

    #[test]
    fn the_envelope_headers_are_present() {
        let mime = email().to_mime().unwrap();
        let head = headers(&mime);
        assert!(
            head.contains("From: \"Rising\" <hello@mail.rising.example>"),
            "{head}"
        );
        assert!(head.contains("To: <marisol@example.org>"), "{head}");
        assert!(head.contains("Subject: You're going to Maple Street potluck"));
        assert!(
            head.contains("Date: Tue, 9 Jun 2026 10:13:20 +0000"),
            "{head}"
        );
        assert!(head.contains("Content-Language: en"));
        assert!(head.contains("MIME-Version: 1.0"));
        assert!(!head.contains("List-Unsubscribe"));
        let parsed = MessageParser::default().parse(&mime).unwrap();
        assert_eq!(parsed.message_id(), Some(email_id(&mime).as_str()));
    }

    fn email_id(mime: &[u8]) -> String {
        let head = headers(mime);
        let line = head
            .lines()
            .find(|l| l.starts_with("Message-ID: <"))
            .unwrap();
        line.trim_start_matches("Message-ID: <")
            .trim_end_matches('>')
            .to_string()
    }

    #[test]
    fn the_message_id_is_random_and_on_the_configured_domain() {
        let a = email().with_message_id_domain("Rising.Example");
        let b = email();
        assert!(a.message_id().ends_with("@rising.example"));
        assert!(b.message_id().ends_with("@mail.rising.example"));
        assert_ne!(a.message_id(), b.message_id());
        assert_eq!(email_id(&a.to_mime().unwrap()), a.message_id());
    }

    #[test]
    fn a_message_id_domain_that_is_not_a_host_name_is_refused() {
        for bad in ["", "localhost", "evil.example>\r\nBcc: x@y.org", "a b.org"] {
            assert_eq!(
                email().with_message_id_domain(bad).to_mime(),
                Err(EmailError::InvalidMessageIdDomain),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_spanish_subject_and_sender_name_are_encoded_and_read_back_intact() {
        let spanish = Email::new(
            Mailbox::new("Movimiento Ñandú", address("hola@mail.rising.example")),
            address("marisol@example.org"),
            "Confirmación: ¡vas a la reunión!",
            "Hola",
            "<p>Hola</p>",
            Language::Es,
        );
        let mime = spanish.to_mime().unwrap();
        assert!(mime.is_ascii(), "every header and body is 7-bit encoded");
        let head = headers(&mime);
        assert!(head.contains("Subject: =?utf-8?"), "{head}");
        assert!(head.contains("Content-Language: es"));
        let parsed = MessageParser::default().parse(&mime).unwrap();
        assert_eq!(parsed.subject(), Some("Confirmación: ¡vas a la reunión!"));
        let from = parsed.from().and_then(|f| f.first()).unwrap();
        assert_eq!(from.name(), Some("Movimiento Ñandú"));
        assert_eq!(from.address(), Some("hola@mail.rising.example"));
    }

    #[test]
    fn a_subject_with_a_line_break_is_refused_so_no_header_can_be_injected() {
        for bad in [
            "Hello\r\nBcc: victim@example.org",
            "Hello\nBcc: victim@example.org",
            "Hello\rBcc: victim@example.org",
            "Hello\0",
            "Hello\tthere",
        ] {
            let mut e = email();
            e.subject = bad.to_string();
            assert_eq!(
                e.to_mime(),
                Err(EmailError::ControlCharacterInSubject),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_sender_name_with_a_line_break_is_refused_so_no_header_can_be_injected() {
        let e = Email::new(
            Mailbox::new("Rising\r\nBcc: victim@example.org", address("a@b.org")),
            address("marisol@example.org"),
            "Hi",
            "t",
            "h",
            Language::En,
        );
        assert_eq!(e.to_mime(), Err(EmailError::ControlCharacterInSenderName));
    }

    #[test]
    fn an_empty_or_overlong_subject_is_refused() {
        let mut e = email();
        e.subject = String::new();
        assert_eq!(e.to_mime(), Err(EmailError::EmptySubject));
        e.subject = "a".repeat(MAX_SUBJECT_CHARS + 1);
        assert_eq!(e.to_mime(), Err(EmailError::SubjectTooLong));
    }

    #[test]
    fn a_sender_name_with_quotes_and_commas_stays_one_mailbox() {
        let e = Email::new(
            Mailbox::new("Dana \"Host\", rising", address("a@b.org")),
            address("marisol@example.org"),
            "Hi",
            "t",
            "h",
            Language::En,
        );
        let mime = e.to_mime().unwrap();
        let parsed = MessageParser::default().parse(&mime).unwrap();
        let from = parsed.from().unwrap();
        assert_eq!(from.iter().count(), 1);
        assert_eq!(from.first().unwrap().name(), Some("Dana \"Host\", rising"));
    }

    #[test]
    fn one_click_unsubscribe_adds_both_rfc_8058_headers() {
        let mime = email()
            .with_list_unsubscribe("https://rising.example/unsubscribe?t=abc.DEF-_")
            .to_mime()
            .unwrap();
        let head = headers(&mime);
        assert!(
            head.contains("List-Unsubscribe: <https://rising.example/unsubscribe?t=abc.DEF-_>"),
            "{head}"
        );
        assert!(head.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    }

    #[test]
    fn an_unsubscribe_link_that_is_not_https_or_could_inject_is_refused() {
        for bad in [
            "http://rising.example/unsubscribe",
            "mailto:unsubscribe@rising.example",
            "/unsubscribe?t=abc",
            "https://rising.example/u\r\nBcc: victim@example.org",
            "javascript:alert(1)",
        ] {
            assert_eq!(
                email().with_list_unsubscribe(bad).to_mime(),
                Err(EmailError::InvalidUnsubscribeUrl),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_unsubscribe_link_with_angle_brackets_or_spaces_is_percent_encoded() {
        let mime = email()
            .with_list_unsubscribe("https://rising.example/u?t=a>b c")
            .to_mime()
            .unwrap();
        assert!(headers(&mime).contains("<https://rising.example/u?t=a%3Eb%20c>"));
    }

    #[test]
    fn the_local_stack_may_use_a_plain_http_unsubscribe_link() {
        assert!(
            email()
                .with_list_unsubscribe("http://127.0.0.1:3000/unsubscribe?t=x")
                .to_mime()
                .is_ok()
        );
    }

    #[test]
    fn a_calendar_invite_is_attached_as_invite_ics_in_a_mixed_message() {
        let ics = b"BEGIN:VCALENDAR\r\nMETHOD:PUBLISH\r\nEND:VCALENDAR\r\n".to_vec();
        let mime = email().with_calendar_invite(ics.clone()).to_mime().unwrap();
        assert!(headers(&mime).contains("Content-Type: multipart/mixed"));
        assert!(text(&mime).contains("Content-Type: multipart/alternative"));
        let parsed = MessageParser::default().parse(&mime).unwrap();
        assert!(parsed.body_text(0).is_some() && parsed.body_html(0).is_some());
        assert_eq!(parsed.attachment_count(), 1);
        let attachment = parsed.attachment(0).unwrap();
        assert_eq!(attachment.attachment_name(), Some("invite.ics"));
        let content_type = attachment.content_type().unwrap();
        assert_eq!(content_type.ctype(), "text");
        assert_eq!(content_type.subtype(), Some("calendar"));
        assert_eq!(content_type.attribute("method"), Some("PUBLISH"));
        assert_eq!(content_type.attribute("charset"), Some("UTF-8"));
        assert_eq!(attachment.contents(), ics.as_slice());
    }

    #[test]
    fn debug_output_never_shows_addresses_or_texts() {
        let debug = format!("{:?}", email());
        for secret in ["marisol", "hello@", "Maple", "Saturday"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }
}

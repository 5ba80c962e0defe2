//! An email address rising can send to, normalised to lower case.
//!
//! The accepted form is a strict subset of RFC 5321/5322 that SES and `mail-builder` both take as
//! is: `dot-atom@host.name`, ASCII only. Quoted local parts (`"a b"@x.org`), comments, IP-literal
//! domains (`a@[10.0.0.1]`) and international (non-ASCII) addresses are refused: real people almost
//! never have them, and each is a way to smuggle text into a header or to be rejected by SES after
//! the person was told they were registered.

use std::fmt;

/// The longest address SMTP can carry (RFC 5321 §4.5.3.1.3: a 256-octet path minus `<` and `>`).
const MAX_ADDRESS_LEN: usize = 254;
/// The longest local part (before the `@`), RFC 5321 §4.5.3.1.1.
const MAX_LOCAL_LEN: usize = 64;
/// The longest domain label, RFC 1035 §2.3.4.
const MAX_LABEL_LEN: usize = 63;

/// Why a text is not a usable email address. The message is written for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailAddressError {
    #[error("Please enter an email address.")]
    Empty,
    #[error("That email address is too long.")]
    TooLong,
    #[error("That email address has a line break or an invisible character in it.")]
    ControlCharacter,
    #[error("That email address has a space in it.")]
    Whitespace,
    #[error("That email address is missing an @.")]
    MissingAt,
    #[error("That email address has more than one @.")]
    MoreThanOneAt,
    #[error("That email address is missing the part before the @.")]
    MissingLocalPart,
    #[error("That email address is missing the part after the @.")]
    MissingDomain,
    #[error("The part before the @ is too long.")]
    LocalPartTooLong,
    #[error("The part before the @ has a character that can't be in an email address.")]
    InvalidLocalPart,
    #[error("The part after the @ should be a domain such as example.com.")]
    InvalidDomain,
}

/// A valid email address, stored and compared in lower case (`marisol@example.org`).
///
/// The whole address is lower-cased, local part included: rising identifies people by a keyed hash of
/// the address, and `Marisol@Example.org` must find the same person as `marisol@example.org` (every
/// large provider treats local parts case-insensitively, although RFC 5321 allows them not to).
///
/// `Debug` never prints the address, and there is no `Display`: logs must not carry contact details.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses an address as a person would type it: surrounding spaces are ignored, case is not kept.
    pub fn parse(input: &str) -> Result<Self, EmailAddressError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailAddressError::Empty);
        }
        if trimmed.chars().any(char::is_control) {
            return Err(EmailAddressError::ControlCharacter);
        }
        if trimmed.chars().any(char::is_whitespace) {
            return Err(EmailAddressError::Whitespace);
        }
        if trimmed.len() > MAX_ADDRESS_LEN {
            return Err(EmailAddressError::TooLong);
        }
        let address = trimmed.to_ascii_lowercase();
        let (local, domain) = match address.split_once('@') {
            None => return Err(EmailAddressError::MissingAt),
            Some((_, domain)) if domain.contains('@') => {
                return Err(EmailAddressError::MoreThanOneAt);
            }
            Some(parts) => parts,
        };
        check_local_part(local)?;
        check_domain(domain)?;
        Ok(Self(address))
    }

    /// The normalised address, e.g. `marisol@example.org`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`, e.g. `example.org`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EmailAddress(<redacted>)")
    }
}

/// RFC 5322 `dot-atom-text`: atext runs separated by single dots.
fn check_local_part(local: &str) -> Result<(), EmailAddressError> {
    if local.is_empty() {
        return Err(EmailAddressError::MissingLocalPart);
    }
    if local.len() > MAX_LOCAL_LEN {
        return Err(EmailAddressError::LocalPartTooLong);
    }
    let is_atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    if local
        .split('.')
        .any(|run| run.is_empty() || !run.chars().all(is_atext))
    {
        return Err(EmailAddressError::InvalidLocalPart);
    }
    Ok(())
}

/// A host name of at least two labels (letters, digits, inner hyphens), with a top-level label that is
/// not all digits (so `1.2.3.4` is refused). A trailing root dot is refused too.
fn check_domain(domain: &str) -> Result<(), EmailAddressError> {
    if domain.is_empty() {
        return Err(EmailAddressError::MissingDomain);
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let valid_label = |label: &&str| {
        !label.is_empty()
            && label.len() <= MAX_LABEL_LEN
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let top_is_alphabetic = labels
        .last()
        .is_some_and(|top| top.chars().any(|c| c.is_ascii_alphabetic()));
    if labels.len() < 2 || !labels.iter().all(valid_label) || !top_is_alphabetic {
        return Err(EmailAddressError::InvalidDomain);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_typed_with_capitals_and_spaces_is_trimmed_and_lower_cased() {
        let email = EmailAddress::parse("  Marisol.Diaz+Rising@Example.ORG \n").unwrap();
        assert_eq!(email.as_str(), "marisol.diaz+rising@example.org");
        assert_eq!(email.domain(), "example.org");
    }

    #[test]
    fn common_real_addresses_are_accepted() {
        for ok in [
            "a@b.co",
            "first.last@sub.example.com",
            "o'brien@example.ie",
            "user_name-1@my-domain.org",
            "x@xn--bcher-kva.example",
        ] {
            assert!(EmailAddress::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn empty_input_asks_for_an_address() {
        assert_eq!(EmailAddress::parse(" \t "), Err(EmailAddressError::Empty));
    }

    #[test]
    fn a_missing_at_is_named_in_the_error() {
        let err = EmailAddress::parse("marisol.example.org").unwrap_err();
        assert_eq!(err, EmailAddressError::MissingAt);
        assert_eq!(err.to_string(), "That email address is missing an @.");
    }

    #[test]
    fn a_second_at_is_rejected() {
        assert_eq!(
            EmailAddress::parse("a@b@example.org"),
            Err(EmailAddressError::MoreThanOneAt)
        );
    }

    #[test]
    fn line_breaks_nul_and_other_control_characters_inside_are_rejected() {
        for bad in [
            "a@example.org\r\nBcc: victim@example.org",
            "a\r@example.org",
            "a\n@example.org",
            "a\0@example.org",
            "a@exam\u{7f}ple.org",
            "a@example.org\u{1b}",
        ] {
            assert_eq!(
                EmailAddress::parse(bad),
                Err(EmailAddressError::ControlCharacter),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn whitespace_inside_is_rejected() {
        for bad in ["a b@example.org", "a@exa mple.org", "a@example.org\u{a0}x"] {
            assert_eq!(
                EmailAddress::parse(bad),
                Err(EmailAddressError::Whitespace),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn addresses_longer_than_254_characters_are_rejected() {
        let label = "a".repeat(60);
        let long = format!("x@{label}.{label}.{label}.{label}.{label}.org");
        assert!(long.len() > 254);
        assert_eq!(EmailAddress::parse(&long), Err(EmailAddressError::TooLong));
    }

    #[test]
    fn a_local_part_longer_than_64_characters_is_rejected() {
        let long = format!("{}@example.org", "a".repeat(65));
        assert_eq!(
            EmailAddress::parse(&long),
            Err(EmailAddressError::LocalPartTooLong)
        );
        assert!(EmailAddress::parse(&format!("{}@example.org", "a".repeat(64))).is_ok());
    }

    #[test]
    fn empty_parts_are_named_in_the_error() {
        assert_eq!(
            EmailAddress::parse("@example.org"),
            Err(EmailAddressError::MissingLocalPart)
        );
        assert_eq!(
            EmailAddress::parse("marisol@"),
            Err(EmailAddressError::MissingDomain)
        );
    }

    #[test]
    fn local_parts_that_are_not_a_dot_atom_are_rejected() {
        for bad in [
            ".a@example.org",
            "a.@example.org",
            "a..b@example.org",
            "\"a\"@example.org",
            "a<b@example.org",
            "a>b@example.org",
            "a,b@example.org",
            "a;b@example.org",
            "a:b@example.org",
            "a(b)@example.org",
            "a\\b@example.org",
            "marí@example.org",
        ] {
            assert_eq!(
                EmailAddress::parse(bad),
                Err(EmailAddressError::InvalidLocalPart),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn domains_without_a_dot_or_with_bad_labels_are_rejected() {
        for bad in [
            "a@localhost",
            "a@example.",
            "a@.example.org",
            "a@exa..mple.org",
            "a@-example.org",
            "a@example-.org",
            "a@exam_ple.org",
            "a@[10.0.0.1]",
            "a@10.0.0.1",
            "a@bücher.example",
            "a@example.org>",
        ] {
            assert_eq!(
                EmailAddress::parse(bad),
                Err(EmailAddressError::InvalidDomain),
                "{bad:?}"
            );
        }
        let long_label = format!("a@{}.org", "b".repeat(64));
        assert_eq!(
            EmailAddress::parse(&long_label),
            Err(EmailAddressError::InvalidDomain)
        );
    }

    #[test]
    fn every_error_reads_as_a_sentence() {
        for err in [
            EmailAddressError::Empty,
            EmailAddressError::TooLong,
            EmailAddressError::ControlCharacter,
            EmailAddressError::Whitespace,
            EmailAddressError::MissingAt,
            EmailAddressError::MoreThanOneAt,
            EmailAddressError::MissingLocalPart,
            EmailAddressError::MissingDomain,
            EmailAddressError::LocalPartTooLong,
            EmailAddressError::InvalidLocalPart,
            EmailAddressError::InvalidDomain,
        ] {
            let text = err.to_string();
            assert!(
                text.ends_with('.') && text.starts_with(char::is_uppercase),
                "{text}"
            );
        }
    }

    #[test]
    fn debug_output_never_shows_the_address() {
        let email = EmailAddress::parse("marisol@example.org").unwrap();
        let debug = format!("{email:?}");
        assert!(!debug.contains("marisol") && !debug.contains("example"));
    }
}

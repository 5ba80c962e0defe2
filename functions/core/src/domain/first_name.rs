//! A person's first name, as they give it. Personal data: never in keys, indexes or logs, and sealed
//! (encrypted) before it is stored.

use std::fmt;

/// Why a text is not usable as a first name. The message is written for the person who typed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FirstNameError {
    #[error("Please send your first name.")]
    Empty,
    #[error("That name is too long. Please send just your first name.")]
    TooLong,
    #[error("Please send just your first name, without digits or symbols.")]
    Symbols,
}

/// A first name: 1 to 40 characters of letters, spaces, hyphens, apostrophes and periods, trimmed,
/// inner runs of whitespace collapsed. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct FirstName(String);

impl FirstName {
    pub const MAX_CHARS: usize = 40;

    pub fn parse(input: &str) -> Result<Self, FirstNameError> {
        let name = input.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() {
            return Err(FirstNameError::Empty);
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(FirstNameError::TooLong);
        }
        let allowed = |c: char| c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '’' | '.');
        if !name.chars().all(allowed) || !name.chars().any(char::is_alphabetic) {
            return Err(FirstNameError::Symbols);
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for FirstName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FirstName(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_trimmed_and_its_inner_spaces_collapsed() {
        assert_eq!(
            FirstName::parse("  Mary   Ann ").unwrap().as_str(),
            "Mary Ann"
        );
        assert_eq!(FirstName::parse("José").unwrap().as_str(), "José");
        assert_eq!(FirstName::parse("O'Neil").unwrap().as_str(), "O'Neil");
        assert_eq!(FirstName::parse("Jean-Luc").unwrap().as_str(), "Jean-Luc");
    }

    #[test]
    fn empty_long_or_symbolic_names_are_refused_with_a_clear_message() {
        assert_eq!(FirstName::parse("   "), Err(FirstNameError::Empty));
        assert_eq!(
            FirstName::parse(&"a".repeat(41)),
            Err(FirstNameError::TooLong)
        );
        assert_eq!(FirstName::parse("R2D2"), Err(FirstNameError::Symbols));
        assert_eq!(
            FirstName::parse("me@example.org"),
            Err(FirstNameError::Symbols)
        );
        assert_eq!(FirstName::parse("--"), Err(FirstNameError::Symbols));
        assert_eq!(
            FirstNameError::Empty.to_string(),
            "Please send your first name."
        );
    }

    #[test]
    fn debug_output_never_shows_the_name() {
        assert!(!format!("{:?}", FirstName::parse("Maria").unwrap()).contains("Maria"));
    }
}

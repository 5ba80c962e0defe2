//! Words people text to start a conversation: campaign keywords (`RISING`, `JOIN`, `UNIRME`), which
//! also set the language of the conversation, and extra words that lead straight to one gathering.
//! Organizers configure them; they are stored, not compiled in.

use std::fmt;

use super::{GatheringId, Keyword, Language, is_reserved_word, whole_word};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeywordWordError {
    #[error("A keyword has 2 to 20 letters and digits, like JOIN.")]
    Length,
    #[error("A keyword has only the letters A to Z and the digits 0 to 9, like JOIN.")]
    Characters,
    #[error("{0} always means opt-out, opt-in or help, so it can't be a keyword.")]
    Compliance(String),
}

/// A configured keyword: 2 to 20 of A–Z and 0–9, upper case, never an opt-out, opt-in or help word.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeywordWord(String);

impl KeywordWord {
    /// Parses a word in any case, with surrounding whitespace and punctuation ignored.
    pub fn parse(input: &str) -> Result<Self, KeywordWordError> {
        let word = whole_word(input).to_ascii_uppercase();
        if !word
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            return Err(KeywordWordError::Characters);
        }
        if !(2..=20).contains(&word.len()) {
            return Err(KeywordWordError::Length);
        }
        if Keyword::is_reserved(&word) {
            return Err(KeywordWordError::Compliance(word));
        }
        Ok(Self(word))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether gathering codes may never take this word (the campaign keywords among them).
    pub fn is_reserved_for_codes(&self) -> bool {
        is_reserved_word(&self.0)
    }
}

impl fmt::Display for KeywordWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What texting a keyword leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeywordTarget {
    /// Join the campaign and find a gathering nearby.
    Campaign,
    /// Join this gathering.
    Gathering(GatheringId),
}

/// A configured keyword and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignKeyword {
    pub word: KeywordWord,
    pub target: KeywordTarget,
    /// The language the conversation continues in.
    pub language: Language,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyword_parses_from_any_case_and_surrounding_punctuation() {
        assert_eq!(KeywordWord::parse(" unirme! ").unwrap().as_str(), "UNIRME");
        assert_eq!(KeywordWord::parse("Rising").unwrap().as_str(), "RISING");
    }

    #[test]
    fn opt_out_opt_in_and_help_words_can_never_be_keywords() {
        for word in super::super::keyword::compliance_words().chain(["stop", "Ayuda", "alto"]) {
            assert!(
                matches!(
                    KeywordWord::parse(word),
                    Err(KeywordWordError::Compliance(_))
                ),
                "{word}"
            );
        }
    }

    #[test]
    fn campaign_keywords_are_reserved_for_codes() {
        assert!(KeywordWord::parse("JOIN").unwrap().is_reserved_for_codes());
        assert!(
            !KeywordWord::parse("PARKDC")
                .unwrap()
                .is_reserved_for_codes()
        );
    }

    #[test]
    fn malformed_keywords_are_refused() {
        assert_eq!(KeywordWord::parse("J"), Err(KeywordWordError::Length));
        assert_eq!(
            KeywordWord::parse("JOIN US"),
            Err(KeywordWordError::Characters)
        );
    }
}

//! Whole-message keywords people text to the campaign number.

/// A keyword recognised when it is the whole message, in any case, with surrounding whitespace and
/// punctuation ignored ("join", " JOIN! ", "Join." all mean `Join`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// Join the movement (opt in to texts).
    Join,
    /// Stop all texts (the carrier-standard opt-out words).
    Stop,
    /// Ask what this number is.
    Help,
}

/// Opt-out words carriers and the CTIA expect to be honoured.
const STOP_WORDS: [&str; 8] = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"];
const HELP_WORDS: [&str; 2] = ["HELP", "INFO"];

impl Keyword {
    /// Recognises a keyword in an inbound message body. Anything else, including a keyword inside a
    /// longer sentence, is not a keyword.
    pub fn recognise(body: &str) -> Option<Self> {
        let word = body
            .trim_matches(|c: char| c.is_whitespace() || c.is_ascii_punctuation() || c == '¡' || c == '¿');
        let is = |w: &&str| word.eq_ignore_ascii_case(w);
        if word.eq_ignore_ascii_case("JOIN") {
            Some(Self::Join)
        } else if STOP_WORDS.iter().any(is) {
            Some(Self::Stop)
        } else if HELP_WORDS.iter().any(is) {
            Some(Self::Help)
        } else {
            None
        }
    }

    /// The canonical word, for consent evidence.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Join => "JOIN",
            Self::Stop => "STOP",
            Self::Help => "HELP",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_in_any_case_with_surrounding_whitespace_is_the_join_keyword() {
        for body in ["JOIN", "join", " Join ", "\tjOiN\n", "JOIN!", "join."] {
            assert_eq!(Keyword::recognise(body), Some(Keyword::Join), "{body:?}");
        }
    }

    #[test]
    fn join_inside_a_sentence_is_not_a_keyword() {
        for body in ["I want to join", "JOINED", "JO IN", "", "   "] {
            assert_eq!(Keyword::recognise(body), None, "{body:?}");
        }
    }

    #[test]
    fn every_carrier_opt_out_word_is_stop() {
        for body in ["STOP", "stop", "StopAll", " unsubscribe ", "cancel", "END.", "quit", "optout", "Revoke"] {
            assert_eq!(Keyword::recognise(body), Some(Keyword::Stop), "{body:?}");
        }
        assert_eq!(Keyword::recognise("please stop texting me"), None);
    }

    #[test]
    fn help_and_info_are_help() {
        assert_eq!(Keyword::recognise("help?"), Some(Keyword::Help));
        assert_eq!(Keyword::recognise("INFO"), Some(Keyword::Help));
    }
}

//! What an inbound text means before any conversation state is considered: the compliance keywords
//! every number must honour (STOP, START, HELP and their synonyms, English and Spanish), free-text
//! revocation of consent, the request to be erased (DELETE, BORRAR), and candidate campaign keywords.

use super::Language;

/// A recognised whole-message compliance keyword or a revocation in free text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// Opt out of all texts. `word` is the canonical keyword (or `REVOCATION` for free text).
    Stop {
        word: &'static str,
        language: Option<Language>,
    },
    /// Opt back in.
    Start { word: &'static str },
    /// Ask who we are.
    Help {
        word: &'static str,
        language: Option<Language>,
    },
    /// Ask to be erased (the first time), or confirm it (a second time within the window).
    Delete {
        word: &'static str,
        language: Option<Language>,
    },
}

/// Opt-out words carriers and the CTIA expect to be honoured, and their Spanish equivalents.
const STOP_WORDS: [&str; 8] = [
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
];
const STOP_WORDS_ES: [&str; 3] = ["PARAR", "ALTO", "CANCELAR"];
const START_WORDS: [&str; 3] = ["START", "UNSTOP", "YES"];
const HELP_WORDS: [&str; 2] = ["HELP", "INFO"];
const HELP_WORDS_ES: [&str; 1] = ["AYUDA"];
/// Erasure on request: the whole message, confirmed by sending it a second time.
const DELETE_WORDS: [&str; 1] = ["DELETE"];
const DELETE_WORDS_ES: [&str; 1] = ["BORRAR"];

/// Free-text ways people revoke consent (FCC: "any reasonable means"). Matched against the whole
/// message after normalisation, allowing polite words around them.
const REVOCATION_PHRASES: [&str; 22] = [
    "stop texting me",
    "stop texting",
    "stop messaging me",
    "stop sending me texts",
    "stop sending me messages",
    "stop contacting me",
    "remove me",
    "remove me from this list",
    "remove me from your list",
    "remove my number",
    "unsubscribe me",
    "no more texts",
    "no more messages",
    "wrong number",
    "dont text me",
    "do not text me",
    "take me off this list",
    "take me off your list",
    "opt me out",
    "no me manden mensajes",
    "numero equivocado",
    "borrame de la lista",
];

/// Words that may surround a revocation phrase without changing its meaning.
const FILLER: [&str; 12] = [
    "please", "pls", "plz", "thanks", "thank", "you", "now", "asap", "ok", "por", "favor",
    "gracias",
];

/// Every compliance word (opt-out, opt-in, help and erasure; English and Spanish), upper case. None of
/// them can be a configured keyword or a gathering code.
/// Whether `text` tells people how to stop: it names an opt-out word, in capitals, as a word of its
/// own ("Reply STOP to opt out", "Responde PARAR para cancelar").
pub fn names_an_opt_out_word(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| STOP_WORDS.contains(&word) || STOP_WORDS_ES.contains(&word))
}

pub fn compliance_words() -> impl Iterator<Item = &'static str> {
    STOP_WORDS
        .iter()
        .chain(&STOP_WORDS_ES)
        .chain(&START_WORDS)
        .chain(&HELP_WORDS)
        .chain(&HELP_WORDS_ES)
        .chain(&DELETE_WORDS)
        .chain(&DELETE_WORDS_ES)
        .copied()
}

/// The message reduced to one canonical word: surrounding whitespace and punctuation removed.
pub fn whole_word(body: &str) -> &str {
    body.trim_matches(|c: char| {
        c.is_whitespace() || c.is_ascii_punctuation() || c == '¡' || c == '¿'
    })
}

impl Keyword {
    /// Recognises a compliance keyword (whole message, any case) or a free-text revocation.
    pub fn recognise(body: &str) -> Option<Self> {
        let word = whole_word(body);
        let find =
            |list: &[&'static str]| list.iter().copied().find(|w| word.eq_ignore_ascii_case(w));
        if let Some(w) = find(&STOP_WORDS) {
            return Some(Self::Stop {
                word: w,
                language: None,
            });
        }
        if let Some(w) = find(&STOP_WORDS_ES) {
            return Some(Self::Stop {
                word: w,
                language: Some(Language::Es),
            });
        }
        if let Some(w) = find(&START_WORDS) {
            return Some(Self::Start { word: w });
        }
        if let Some(w) = find(&HELP_WORDS) {
            return Some(Self::Help {
                word: w,
                language: None,
            });
        }
        if let Some(w) = find(&HELP_WORDS_ES) {
            return Some(Self::Help {
                word: w,
                language: Some(Language::Es),
            });
        }
        if let Some(w) = find(&DELETE_WORDS) {
            return Some(Self::Delete {
                word: w,
                language: None,
            });
        }
        if let Some(w) = find(&DELETE_WORDS_ES) {
            return Some(Self::Delete {
                word: w,
                language: Some(Language::Es),
            });
        }
        if is_revocation(body) {
            return Some(Self::Stop {
                word: "REVOCATION",
                language: None,
            });
        }
        None
    }

    /// The canonical word, for consent evidence.
    pub fn word(self) -> &'static str {
        match self {
            Self::Stop { word, .. }
            | Self::Start { word }
            | Self::Help { word, .. }
            | Self::Delete { word, .. } => word,
        }
    }

    /// Whether this is a compliance word, which no campaign keyword or gathering code may be.
    pub fn is_reserved(word: &str) -> bool {
        compliance_words().any(|w| w.eq_ignore_ascii_case(word))
    }
}

/// Lower-cases, strips accents that matter here and punctuation, and splits into words.
fn words(body: &str) -> Vec<String> {
    let folded: String = body
        .chars()
        .map(|c| match c {
            'á' | 'Á' => 'a',
            'é' | 'É' => 'e',
            'í' | 'Í' => 'i',
            'ó' | 'Ó' => 'o',
            'ú' | 'Ú' => 'u',
            'ñ' | 'Ñ' => 'n',
            '\'' | '\u{2019}' => '\0',
            c if c.is_alphanumeric() => c.to_ascii_lowercase(),
            _ => ' ',
        })
        .filter(|c| *c != '\0')
        .collect();
    folded.split_whitespace().map(str::to_string).collect()
}

/// Whether a free-text message revokes consent: the whole message is a revocation phrase, possibly
/// with polite filler words around it ("Please stop texting me, thanks").
fn is_revocation(body: &str) -> bool {
    let words = words(body);
    if words.is_empty() || words.len() > 12 {
        return false;
    }
    let core: Vec<&str> = {
        let start = words
            .iter()
            .position(|w| !FILLER.contains(&w.as_str()))
            .unwrap_or(words.len());
        let end = words
            .iter()
            .rposition(|w| !FILLER.contains(&w.as_str()))
            .map_or(start, |i| i + 1);
        words[start..end.max(start)]
            .iter()
            .map(String::as_str)
            .collect()
    };
    let core = core.join(" ");
    REVOCATION_PHRASES.iter().any(|p| core == *p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_opt_out_instruction_names_a_stop_word_in_capitals_as_a_word() {
        for text in [
            "Reply STOP to opt out",
            "Responde PARAR para cancelar.",
            "(STOP=end)",
        ] {
            assert!(names_an_opt_out_word(text), "{text}");
        }
        for text in ["Reply stop to opt out", "STOPPING by?", "Nonstop fun", ""] {
            assert!(!names_an_opt_out_word(text), "{text}");
        }
    }

    fn stop(body: &str) -> bool {
        matches!(Keyword::recognise(body), Some(Keyword::Stop { .. }))
    }

    #[test]
    fn every_carrier_opt_out_word_is_stop_in_any_case_with_punctuation_ignored() {
        for body in [
            "STOP",
            "stop",
            "StopAll",
            " unsubscribe ",
            "cancel",
            "END.",
            "quit",
            "optout",
            "Revoke",
            "stop!",
        ] {
            assert!(stop(body), "{body:?}");
        }
    }

    #[test]
    fn spanish_opt_out_words_are_stop_in_spanish() {
        for body in ["PARAR", "alto", "Cancelar."] {
            assert_eq!(
                Keyword::recognise(body).map(|k| matches!(
                    k,
                    Keyword::Stop {
                        language: Some(Language::Es),
                        ..
                    }
                )),
                Some(true),
                "{body}"
            );
        }
    }

    #[test]
    fn start_unstop_and_yes_opt_back_in() {
        for body in ["START", "unstop", "Yes"] {
            assert!(
                matches!(Keyword::recognise(body), Some(Keyword::Start { .. })),
                "{body}"
            );
        }
    }

    #[test]
    fn help_info_and_ayuda_ask_for_help() {
        assert!(matches!(
            Keyword::recognise("help?"),
            Some(Keyword::Help { language: None, .. })
        ));
        assert!(matches!(
            Keyword::recognise("INFO"),
            Some(Keyword::Help { .. })
        ));
        assert!(matches!(
            Keyword::recognise("¿Ayuda?"),
            Some(Keyword::Help {
                language: Some(Language::Es),
                ..
            })
        ));
    }

    #[test]
    fn free_text_revocation_is_an_opt_out() {
        for body in [
            "Stop texting me",
            "please stop texting me!!",
            "Remove me",
            "remove me from your list please",
            "Unsubscribe me",
            "No more texts",
            "Wrong number",
            "don't text me",
            "Do not text me.",
            "take me off this list",
            "No me manden mensajes",
            "Número equivocado",
        ] {
            assert!(stop(body), "{body:?}");
        }
    }

    #[test]
    fn near_misses_are_not_opt_outs() {
        for body in [
            "I'll stop by at 7",
            "can't stop now, see you there",
            "don't stop",
            "what's the right number to call?",
            "text me the address",
            "is there room for one more?",
            "stopwatch",
            "Maria",
            "20001",
            "I want to remove my plus-one",
            "this is the best thing, no more waiting for someone else to organize",
        ] {
            assert!(!stop(body), "{body:?}");
        }
    }

    #[test]
    fn reserved_words_cannot_be_campaign_keywords() {
        assert!(Keyword::is_reserved("stop"));
        assert!(Keyword::is_reserved("AYUDA"));
        assert!(Keyword::is_reserved("delete"));
        assert!(Keyword::is_reserved("Borrar"));
        assert!(!Keyword::is_reserved("RISING"));
    }

    #[test]
    fn delete_and_borrar_as_the_whole_message_ask_to_be_erased() {
        for body in ["DELETE", "delete", " Delete. ", "delete!"] {
            assert_eq!(
                Keyword::recognise(body),
                Some(Keyword::Delete {
                    word: "DELETE",
                    language: None
                }),
                "{body:?}"
            );
        }
        for body in ["BORRAR", "¡borrar!"] {
            assert_eq!(
                Keyword::recognise(body),
                Some(Keyword::Delete {
                    word: "BORRAR",
                    language: Some(Language::Es)
                }),
                "{body:?}"
            );
        }
        for body in [
            "delete my plus-one",
            "please delete",
            "deleted",
            "borrame de la lista",
        ] {
            assert!(
                !matches!(Keyword::recognise(body), Some(Keyword::Delete { .. })),
                "{body:?}"
            );
        }
    }
}

//! SMS encoding, segment counting and look-alike normalisation.
//!
//! An SMS body is sent either in the GSM 03.38 7-bit default alphabet (GSM-7: 160 septets in a
//! single message, 153 per part once a concatenation header is needed) or, as soon as one
//! character falls outside it, in UCS-2/UTF-16 (70 code units single, 67 per part). Characters of
//! the GSM-7 extension table (`^ { } \ [ ~ ] | €` and form feed) take two septets (escape + code).
//! A part boundary never falls inside an escape pair or a UTF-16 surrogate pair: the part is
//! closed early instead, as handsets and Twilio's own segment calculator do.
//!
//! [`normalise`] replaces typographic look-alikes with GSM-7 characters, in the spirit of Twilio's
//! Smart Encoding (the table follows the public map in Twilio's `message-segment-calculator`,
//! `SmartEncodingMap.ts`, minus entries that change meaning; see [`normalise`]).
//!
//! Figures for the sample texts in this module's tests (`sample_*` tests pin them):
//!
//! | sample                                     | before normalise            | after normalise              |
//! |--------------------------------------------|-----------------------------|------------------------------|
//! | Word reminder (curly quotes, em dash, `…`) | UCS-2, 142 units, 3 parts   | GSM-7, 144 septets, 1 part   |
//! | Web copy (no-break spaces, zero-width, `’`)| UCS-2, 89 units, 2 parts    | GSM-7, 88 septets, 1 part    |
//! | Long Word paragraph (`’ “ ” – …`)          | UCS-2, 317 units, 5 parts   | GSM-7, 319 septets, 3 parts  |
//! | Price with `€ [ ] { }` and an en dash      | UCS-2, 113 units, 2 parts   | GSM-7, 118 septets, 1 part   |
//! | Emoji and em dash (stays UCS-2)            | UCS-2, 32 units, 1 part     | unchanged                    |
//! | Plain GSM-7 text                           | GSM-7, 43 septets, 1 part   | unchanged                    |

/// Septets in a single-part GSM-7 message.
pub const GSM7_SINGLE_SEGMENT: usize = 160;
/// Septets per part of a concatenated GSM-7 message (7 septets go to the UDH).
pub const GSM7_MULTI_SEGMENT: usize = 153;
/// UTF-16 code units in a single-part UCS-2 message.
pub const UCS2_SINGLE_SEGMENT: usize = 70;
/// UTF-16 code units per part of a concatenated UCS-2 message.
pub const UCS2_MULTI_SEGMENT: usize = 67;

/// How an SMS body is encoded on the air interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// GSM 03.38 default alphabet plus its extension table.
    Gsm7,
    /// UCS-2 (counted as UTF-16 code units, as carriers and Twilio do for astral characters).
    Ucs2,
}

/// Size of an SMS body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SegmentInfo {
    /// The encoding the body needs.
    pub encoding: Encoding,
    /// Septets for GSM-7 (extension characters count 2), UTF-16 code units for UCS-2.
    pub units: usize,
    /// Number of message parts billed; 0 for an empty body.
    pub segments: usize,
}

/// GSM 03.38 basic character set, as Unicode (the escape code 0x1B is not a character).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// GSM 03.38 extension table characters (each sent as escape + code: two septets).
const GSM7_EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// Septets `c` takes in GSM-7, or `None` when `c` is not representable.
pub fn gsm7_septets(c: char) -> Option<usize> {
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Whether every character of `text` is in the GSM-7 basic or extension table.
pub fn is_gsm7(text: &str) -> bool {
    text.chars().all(|c| gsm7_septets(c).is_some())
}

/// The encoding `text` needs: GSM-7 when every character is representable, UCS-2 otherwise.
pub fn encoding(text: &str) -> Encoding {
    if is_gsm7(text) {
        Encoding::Gsm7
    } else {
        Encoding::Ucs2
    }
}

/// Encoding, size in units and number of parts for `text`.
pub fn segments(text: &str) -> SegmentInfo {
    let encoding = encoding(text);
    let (single, multi) = match encoding {
        Encoding::Gsm7 => (GSM7_SINGLE_SEGMENT, GSM7_MULTI_SEGMENT),
        Encoding::Ucs2 => (UCS2_SINGLE_SEGMENT, UCS2_MULTI_SEGMENT),
    };
    let unit_of = |c: char| match encoding {
        Encoding::Gsm7 => gsm7_septets(c).unwrap_or(1),
        Encoding::Ucs2 => c.len_utf16(),
    };

    let units: usize = text.chars().map(unit_of).sum();
    let segments = if units == 0 {
        0
    } else if units <= single {
        1
    } else {
        // Greedy packing; a 2-unit character that does not fit closes the part.
        let mut parts = 1;
        let mut used = 0;
        for size in text.chars().map(unit_of) {
            if used + size > multi {
                parts += 1;
                used = 0;
            }
            used += size;
        }
        parts
    };
    SegmentInfo {
        encoding,
        units,
        segments,
    }
}

/// Replaces typographic look-alikes with GSM-7 characters, like Twilio's Smart Encoding, when that
/// makes the whole text GSM-7 without adding a segment; otherwise returns `text` unchanged.
///
/// So a message that still needs UCS-2 after substitution (an emoji, a non-Latin script, `ç`…)
/// keeps the author's characters: replacing them would save nothing. Text that is already GSM-7 is
/// returned as is.
///
/// Substitutions:
///
/// * double quotes `“ ” „ ‟ « » ″ ＂ ❝ ❞ 〝 〞 ʺ ˮ` → `"`; single quotes and apostrophes
///   `‘ ’ ‚ ‛ ‹ › ′ ‵ ´ \` ʹ ʻ ʼ ʽ ˈ ˊ ˋ ＇ ❛ ❜` → `'`;
/// * hyphens, dashes and minus signs `‐ ‑ ‒ – — ― ⁃ − ﹘ ﹣ －` → `-`; bullets `• ‣ ◦` → `-`;
/// * `…` → `...`, `‼` → `!!`, `⁇` → `??` (these lengthen the text, hence the segment check);
/// * no-break, narrow, thin, en/em and other Unicode spaces and tab → space; line and paragraph
///   separators and NEL → line feed;
/// * soft hyphen, zero-width space, word joiner and BOM are removed (zero-width (non-)joiners are
///   kept: they shape emoji and Indic/Arabic text);
/// * fullwidth and small-form ASCII (`！`, `＠`, `﹖`…) → ASCII; `÷` `⁄` `∕` → `/`, `∗` → `*`,
///   `˜` → `~`, `ˆ` → `^`;
/// * a base letter followed by a combining accent is composed when the result is a GSM-7 letter
///   (`e` + U+0301 → `é`, `n` + U+0303 → `ñ`…), as text from macOS/iOS is often decomposed.
///
/// Deliberately not mapped, although some Smart Encoding tables do: vulgar fractions (`1½` would
/// become `11/2`), combining marks turned into spacing characters (`n` + U+0303 → `n~`), `‹ ›` as
/// `> <`, accented letters outside GSM-7 (`á` → `a` changes words in Spanish or Portuguese) and
/// ideographic punctuation (only ever found in text that stays UCS-2).
pub fn normalise(text: &str) -> String {
    if is_gsm7(text) {
        return text.to_owned();
    }
    let candidate = substitute(text);
    if is_gsm7(&candidate) && segments(&candidate).segments <= segments(text).segments {
        candidate
    } else {
        text.to_owned()
    }
}

/// Applies every substitution of [`normalise`] unconditionally.
fn substitute(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(&next) = chars.peek()
            && let Some(composed) = compose(c, next)
        {
            out.push(composed);
            chars.next();
            continue;
        }
        match lookalike(c) {
            Some(replacement) => out.push_str(replacement),
            None => out.push(c),
        }
    }
    out
}

/// The GSM-7 letter for `base` followed by combining mark `mark`, if there is one.
fn compose(base: char, mark: char) -> Option<char> {
    let composed = match (base, mark) {
        ('a', '\u{300}') => 'à',
        ('e', '\u{300}') => 'è',
        ('i', '\u{300}') => 'ì',
        ('o', '\u{300}') => 'ò',
        ('u', '\u{300}') => 'ù',
        ('e', '\u{301}') => 'é',
        ('E', '\u{301}') => 'É',
        ('n', '\u{303}') => 'ñ',
        ('N', '\u{303}') => 'Ñ',
        ('a', '\u{308}') => 'ä',
        ('o', '\u{308}') => 'ö',
        ('u', '\u{308}') => 'ü',
        ('A', '\u{308}') => 'Ä',
        ('O', '\u{308}') => 'Ö',
        ('U', '\u{308}') => 'Ü',
        ('a', '\u{30a}') => 'å',
        ('A', '\u{30a}') => 'Å',
        ('C', '\u{327}') => 'Ç',
        _ => return None,
    };
    Some(composed)
}

/// The GSM-7 replacement for a non-GSM-7 look-alike character.
fn lookalike(c: char) -> Option<&'static str> {
    let replacement = match c {
        // Double quotation marks and double primes.
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{00AB}' | '\u{00BB}'
        | '\u{2033}' | '\u{FF02}' | '\u{275D}' | '\u{275E}' | '\u{301D}' | '\u{301E}'
        | '\u{02BA}' | '\u{02EE}' => "\"",
        // Single quotation marks, apostrophes, primes and spacing accents used as apostrophes.
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2039}' | '\u{203A}'
        | '\u{2032}' | '\u{2035}' | '\u{00B4}' | '\u{0060}' | '\u{02B9}' | '\u{02BB}'
        | '\u{02BC}' | '\u{02BD}' | '\u{02C8}' | '\u{02CA}' | '\u{02CB}' | '\u{FF07}'
        | '\u{275B}' | '\u{275C}' => "'",
        // Hyphens, dashes, minus signs and list bullets.
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2015}'
        | '\u{2043}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}' | '\u{2022}'
        | '\u{2023}' | '\u{25E6}' => "-",
        // Expansions.
        '\u{2026}' => "...",
        '\u{203C}' => "!!",
        '\u{2047}' => "??",
        // Spaces.
        '\t'
        | '\u{00A0}'
        | '\u{1680}'
        | '\u{2000}'..='\u{200A}'
        | '\u{202F}'
        | '\u{205F}'
        | '\u{3000}' => " ",
        '\u{2028}' | '\u{2029}' | '\u{0085}' => "\n",
        // Invisible characters.
        '\u{00AD}' | '\u{200B}' | '\u{2060}' | '\u{FEFF}' => "",
        // Other symbols.
        '\u{00F7}' | '\u{2044}' | '\u{2215}' => "/",
        '\u{2217}' => "*",
        '\u{02DC}' => "~",
        '\u{02C6}' => "^",
        // Small form variants.
        '\u{FE50}' => ",",
        '\u{FE52}' => ".",
        '\u{FE54}' => ";",
        '\u{FE55}' => ":",
        '\u{FE56}' => "?",
        '\u{FE57}' => "!",
        '\u{FE59}' => "(",
        '\u{FE5A}' => ")",
        '\u{FE5B}' => "{",
        '\u{FE5C}' => "}",
        '\u{FE5F}' => "#",
        '\u{FE60}' => "&",
        '\u{FE61}' => "*",
        '\u{FE62}' => "+",
        '\u{FE64}' => "<",
        '\u{FE65}' => ">",
        '\u{FE66}' => "=",
        '\u{FE68}' => "\\",
        '\u{FE69}' => "$",
        '\u{FE6A}' => "%",
        '\u{FE6B}' => "@",
        // Fullwidth ASCII (U+FF01..U+FF5E is ASCII 0x21..0x7E shifted), except the grave accent,
        // whose ASCII form is not GSM-7 either.
        '\u{FF01}'..='\u{FF5E}' => return fullwidth_to_ascii(c),
        _ => return None,
    };
    Some(replacement)
}

/// ASCII `!`..`~` as static one-character strings, indexed from `!` (0x21).
const PRINTABLE_ASCII: [&str; 94] = [
    "!", "\"", "#", "$", "%", "&", "'", "(", ")", "*", "+", ",", "-", ".", "/", "0", "1", "2", "3",
    "4", "5", "6", "7", "8", "9", ":", ";", "<", "=", ">", "?", "@", "A", "B", "C", "D", "E", "F",
    "G", "H", "I", "J", "K", "L", "M", "N", "O", "P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y",
    "Z", "[", "\\", "]", "^", "_", "`", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l",
    "m", "n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "{", "|", "}", "~",
];

fn fullwidth_to_ascii(c: char) -> Option<&'static str> {
    let index = (c as u32).checked_sub(0xFF01)?;
    let ascii = PRINTABLE_ASCII.get(usize::try_from(index).ok()?)?;
    ascii
        .chars()
        .all(|a| gsm7_septets(a).is_some())
        .then_some(*ascii)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn info(encoding: Encoding, units: usize, segments: usize) -> SegmentInfo {
        SegmentInfo {
            encoding,
            units,
            segments,
        }
    }

    // ----- sample texts (figures reported in the module docs) -----

    const WORD_REMINDER: &str = "Hi Sam, your appointment\u{2019}s confirmed for Tuesday 14 May at 3:30 pm \u{2014} please arrive 10 minutes early. Reply \u{201C}YES\u{201D} to confirm or \u{201C}NO\u{201D} to cancel\u{2026}";

    const WEB_COPY: &str = "Your code is 123\u{a0}456.\u{a0}It expires in 10\u{a0}minutes.\u{200b} Don\u{2019}t share it with anyone, not even us.";

    const LONG_PARAGRAPH: &str = "Thanks for registering with the Riverside food bank \u{2013} we\u{2019}re glad you\u{2019}re here. Collections run Monday\u{2013}Friday, 9am\u{2013}5pm, at the community hall on Mill Lane. Please bring a bag and your reference number. If you can\u{2019}t make it, reply \u{201C}LATER\u{201D} and we\u{2019}ll hold your parcel until Saturday\u{2026} Questions? Just reply to this message.";

    const PRICE: &str = "Total: \u{20ac}12 [incl. VAT] \u{2013} use code {SAVE10} at checkout before Friday. Questions? Reply HELP; to stop, reply STOP.";

    const EMOJI: &str = "See you at 7 \u{1f389} \u{2014} don\u{2019}t be late!";

    const PLAIN: &str = "Your parcel is ready. Reply STOP to opt out";

    #[test]
    fn sample_word_reminder_drops_from_three_segments_to_one() {
        assert_eq!(segments(WORD_REMINDER), info(Encoding::Ucs2, 142, 3));
        let normalised = normalise(WORD_REMINDER);
        assert_eq!(segments(&normalised), info(Encoding::Gsm7, 144, 1));
        assert_eq!(
            normalised,
            "Hi Sam, your appointment's confirmed for Tuesday 14 May at 3:30 pm - please arrive 10 minutes early. Reply \"YES\" to confirm or \"NO\" to cancel..."
        );
    }

    #[test]
    fn sample_web_copy_drops_from_two_segments_to_one() {
        assert_eq!(segments(WEB_COPY), info(Encoding::Ucs2, 89, 2));
        let normalised = normalise(WEB_COPY);
        assert_eq!(segments(&normalised), info(Encoding::Gsm7, 88, 1));
        assert_eq!(
            normalised,
            "Your code is 123 456. It expires in 10 minutes. Don't share it with anyone, not even us."
        );
    }

    #[test]
    fn sample_long_paragraph_drops_from_five_segments_to_three() {
        assert_eq!(segments(LONG_PARAGRAPH), info(Encoding::Ucs2, 317, 5));
        assert_eq!(
            segments(&normalise(LONG_PARAGRAPH)),
            info(Encoding::Gsm7, 319, 3)
        );
    }

    #[test]
    fn sample_price_with_extension_characters_drops_from_two_segments_to_one() {
        assert_eq!(segments(PRICE), info(Encoding::Ucs2, 113, 2));
        let normalised = normalise(PRICE);
        assert_eq!(
            normalised,
            "Total: \u{20ac}12 [incl. VAT] - use code {SAVE10} at checkout before Friday. Questions? Reply HELP; to stop, reply STOP."
        );
        assert_eq!(segments(&normalised), info(Encoding::Gsm7, 118, 1));
    }

    #[test]
    fn sample_with_emoji_stays_ucs2_and_unchanged() {
        assert_eq!(segments(EMOJI), info(Encoding::Ucs2, 32, 1));
        assert_eq!(normalise(EMOJI), EMOJI);
    }

    #[test]
    fn sample_plain_text_is_one_gsm7_segment_and_unchanged() {
        assert_eq!(segments(PLAIN), info(Encoding::Gsm7, 43, 1));
        assert_eq!(normalise(PLAIN), PLAIN);
    }

    // ----- encoding -----

    #[test]
    fn ascii_letters_digits_and_punctuation_are_gsm7() {
        assert_eq!(
            encoding("Hello, World! 123 @ $ _ ? ( ) \" ' #"),
            Encoding::Gsm7
        );
    }

    #[test]
    fn gsm7_accented_letters_and_greek_capitals_are_gsm7() {
        assert_eq!(
            encoding("èéùìòÇØøÅåÆæßÉÄÖÑÜäöñüà¡¿£¥¤§ΔΦΓΛΩΠΨΣΘΞ"),
            Encoding::Gsm7
        );
    }

    #[test]
    fn characters_outside_gsm7_need_ucs2() {
        for text in ["ç", "á", "`", "\u{2019}", "\u{1f600}", "漢", "\t", "\u{a0}"] {
            assert_eq!(encoding(text), Encoding::Ucs2, "{text:?}");
        }
    }

    #[test]
    fn the_basic_table_has_128_characters_minus_the_escape() {
        assert_eq!(GSM7_BASIC.chars().count(), 127);
        assert_eq!(GSM7_EXTENSION.chars().count(), 10);
    }

    #[test]
    fn extension_characters_count_two_septets() {
        for c in "^{}\\[~]|€\u{c}".chars() {
            assert_eq!(gsm7_septets(c), Some(2), "{c:?}");
        }
        assert_eq!(segments("{}").units, 4);
    }

    // ----- segment boundaries -----

    #[test]
    fn empty_text_has_no_segment() {
        assert_eq!(segments(""), info(Encoding::Gsm7, 0, 0));
    }

    #[test]
    fn gsm7_fits_160_septets_in_one_segment() {
        assert_eq!(segments(&"a".repeat(160)), info(Encoding::Gsm7, 160, 1));
        assert_eq!(segments(&"a".repeat(161)), info(Encoding::Gsm7, 161, 2));
        assert_eq!(segments(&"a".repeat(306)), info(Encoding::Gsm7, 306, 2));
        assert_eq!(segments(&"a".repeat(307)), info(Encoding::Gsm7, 307, 3));
    }

    #[test]
    fn gsm7_extension_characters_count_double_toward_the_limit() {
        assert_eq!(segments(&"€".repeat(80)), info(Encoding::Gsm7, 160, 1));
        assert_eq!(segments(&"€".repeat(81)), info(Encoding::Gsm7, 162, 2));
    }

    #[test]
    fn gsm7_escape_pair_is_not_split_across_segments() {
        // 152 septets, then "€" (2): it does not fit in 153, so it opens part 2.
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(152));
        assert_eq!(segments(&text), info(Encoding::Gsm7, 306, 3));
        let aligned = format!("{}€{}", "a".repeat(151), "a".repeat(153));
        assert_eq!(segments(&aligned), info(Encoding::Gsm7, 306, 2));
    }

    #[test]
    fn ucs2_fits_70_code_units_in_one_segment() {
        assert_eq!(segments("é€ç").encoding, Encoding::Ucs2);
        assert_eq!(segments(&"ç".repeat(70)), info(Encoding::Ucs2, 70, 1));
        assert_eq!(segments(&"ç".repeat(71)), info(Encoding::Ucs2, 71, 2));
        assert_eq!(segments(&"ç".repeat(134)), info(Encoding::Ucs2, 134, 2));
        assert_eq!(segments(&"ç".repeat(135)), info(Encoding::Ucs2, 135, 3));
    }

    #[test]
    fn ucs2_counts_astral_characters_as_two_code_units() {
        assert_eq!(
            segments(&"\u{1f600}".repeat(35)),
            info(Encoding::Ucs2, 70, 1)
        );
        assert_eq!(
            segments(&"\u{1f600}".repeat(36)),
            info(Encoding::Ucs2, 72, 2)
        );
    }

    #[test]
    fn ucs2_surrogate_pair_is_not_split_across_segments() {
        // 66 units, then an emoji (2) that does not fit in 67.
        let text = format!("{}\u{1f600}{}", "ç".repeat(66), "ç".repeat(66));
        assert_eq!(segments(&text), info(Encoding::Ucs2, 134, 3));
        let aligned = format!("{}\u{1f600}{}", "ç".repeat(65), "ç".repeat(67));
        assert_eq!(segments(&aligned), info(Encoding::Ucs2, 134, 2));
    }

    #[test]
    fn one_non_gsm_character_switches_the_whole_text_to_ucs2() {
        let text = format!("{}\u{2019}", "a".repeat(100));
        assert_eq!(segments(&text), info(Encoding::Ucs2, 101, 2));
    }

    // ----- normalise -----

    #[test]
    fn curly_quotes_become_straight_quotes() {
        assert_eq!(
            normalise("\u{201C}Hi\u{201D} \u{2018}there\u{2019} \u{201E}x\u{201F}"),
            "\"Hi\" 'there' \"x\""
        );
    }

    #[test]
    fn guillemets_become_double_quotes() {
        assert_eq!(normalise("\u{ab}Bonjour\u{bb}"), "\"Bonjour\"");
        assert_eq!(normalise("\u{2039}oui\u{203a}"), "'oui'");
    }

    #[test]
    fn primes_become_quotes() {
        assert_eq!(normalise("5\u{2032}11\u{2033}"), "5'11\"");
    }

    #[test]
    fn dashes_and_minus_signs_become_hyphens() {
        assert_eq!(
            normalise("a\u{2010}b\u{2011}c\u{2012}d\u{2013}e\u{2014}f\u{2015}g\u{2212}h"),
            "a-b-c-d-e-f-g-h"
        );
    }

    #[test]
    fn ellipsis_becomes_three_dots() {
        assert_eq!(normalise("Wait\u{2026}"), "Wait...");
    }

    #[test]
    fn unicode_spaces_become_spaces_and_separators_become_newlines() {
        assert_eq!(
            normalise("a\u{a0}b\u{2009}c\u{202f}d\u{3000}e\tf\u{2028}g"),
            "a b c d e f\ng"
        );
    }

    #[test]
    fn zero_width_characters_are_removed() {
        assert_eq!(normalise("a\u{200b}b\u{feff}c\u{2060}d\u{ad}e"), "abcde");
    }

    #[test]
    fn zero_width_joiners_are_not_removed() {
        // The family emoji keeps its joiners (and stays UCS-2, so the text is untouched).
        let family = "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467} \u{2019}";
        assert_eq!(normalise(family), family);
    }

    #[test]
    fn bullets_become_hyphens() {
        assert_eq!(normalise("\u{2022} milk\n\u{2022} eggs"), "- milk\n- eggs");
    }

    #[test]
    fn fullwidth_and_small_forms_become_ascii() {
        assert_eq!(
            normalise("\u{ff21}\u{ff22}\u{ff23}\u{ff01}\u{ff1f}\u{fe56}\u{ff5b}\u{ff5d}"),
            "ABC!??{}"
        );
    }

    #[test]
    fn fullwidth_grave_accent_is_not_mapped_to_an_ascii_backtick() {
        assert_eq!(fullwidth_to_ascii('\u{ff40}'), None);
        assert_eq!(normalise("\u{ff40}"), "\u{ff40}");
    }

    #[test]
    fn decomposed_gsm7_letters_are_composed() {
        assert_eq!(
            normalise("Cafe\u{301} man\u{303}ana U\u{308}ber"),
            "Café mañana Über"
        );
    }

    #[test]
    fn decomposed_letters_outside_gsm7_are_left_alone() {
        // a + acute is á, which is not GSM-7; the text stays as written.
        let text = "a\u{301} and \u{2019}";
        assert_eq!(normalise(text), text);
    }

    #[test]
    fn fractions_are_not_expanded() {
        let text = "1\u{bd} hours";
        assert_eq!(normalise(text), text);
    }

    #[test]
    fn accented_letters_outside_gsm7_are_not_stripped() {
        let text = "Gra\u{e7}as, est\u{e1} \u{201C}ok\u{201D}";
        assert_eq!(normalise(text), text);
    }

    #[test]
    fn expansion_that_would_add_a_segment_is_not_applied() {
        // 70 ellipses: 70 UCS-2 units (1 segment) but 210 septets (2 segments) once expanded.
        let text = "\u{2026}".repeat(70);
        assert_eq!(segments(&text).segments, 1);
        assert_eq!(normalise(&text), text);
        // 30 of them expand to 90 septets: 1 segment either way, so it is applied.
        assert_eq!(normalise(&"\u{2026}".repeat(30)), ".".repeat(90));
    }

    #[test]
    fn every_substitution_produces_gsm7_text_from_a_non_gsm7_character() {
        for cp in 0..=0x10FFFF_u32 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            if let Some(replacement) = lookalike(c) {
                assert!(gsm7_septets(c).is_none(), "{c:?} is already GSM-7");
                assert!(
                    is_gsm7(replacement),
                    "{c:?} maps to non-GSM-7 {replacement:?}"
                );
            }
        }
    }

    #[test]
    fn composition_only_produces_gsm7_letters() {
        for base in 'A'..='z' {
            for mark in '\u{300}'..='\u{36f}' {
                if let Some(composed) = compose(base, mark) {
                    assert_eq!(gsm7_septets(composed), Some(1));
                }
            }
        }
    }

    // ----- properties -----

    fn gsm7_char() -> impl Strategy<Value = char> {
        let all: Vec<char> = GSM7_BASIC.chars().chain(GSM7_EXTENSION.chars()).collect();
        proptest::sample::select(all)
    }

    fn mixed_char() -> impl Strategy<Value = char> {
        let lookalikes: Vec<char> = (0..=0xFFFF_u32)
            .filter_map(char::from_u32)
            .filter(|c| lookalike(*c).is_some())
            .chain([
                '\u{301}',
                '\u{303}',
                '\u{308}',
                '\u{1f600}',
                'ç',
                'á',
                '\u{200d}',
            ])
            .collect();
        prop_oneof![
            6 => gsm7_char(),
            3 => proptest::sample::select(lookalikes),
            1 => any::<char>(),
        ]
    }

    proptest! {
        #[test]
        fn normalise_never_increases_the_segment_count(
            text in proptest::collection::vec(mixed_char(), 0..400)
                .prop_map(|v| v.into_iter().collect::<String>())
        ) {
            let normalised = normalise(&text);
            prop_assert!(segments(&normalised).segments <= segments(&text).segments);
        }

        #[test]
        fn normalise_is_identity_on_gsm7_text(
            text in proptest::collection::vec(gsm7_char(), 0..400)
                .prop_map(|v| v.into_iter().collect::<String>())
        ) {
            prop_assert_eq!(normalise(&text), text);
        }

        #[test]
        fn normalise_output_is_gsm7_or_the_input_unchanged(
            text in proptest::collection::vec(mixed_char(), 0..200)
                .prop_map(|v| v.into_iter().collect::<String>())
        ) {
            let normalised = normalise(&text);
            prop_assert!(is_gsm7(&normalised) || normalised == text);
        }

        #[test]
        fn normalise_is_idempotent(
            text in proptest::collection::vec(mixed_char(), 0..200)
                .prop_map(|v| v.into_iter().collect::<String>())
        ) {
            let once = normalise(&text);
            prop_assert_eq!(normalise(&once), once.clone());
        }

        #[test]
        fn segments_is_consistent_with_encoding(
            text in proptest::collection::vec(mixed_char(), 0..400)
                .prop_map(|v| v.into_iter().collect::<String>())
        ) {
            let info = segments(&text);
            prop_assert_eq!(info.encoding, encoding(&text));
            let expected_units: usize = match info.encoding {
                Encoding::Gsm7 => text.chars().map(|c| gsm7_septets(c).unwrap_or(0)).sum(),
                Encoding::Ucs2 => text.encode_utf16().count(),
            };
            prop_assert_eq!(info.units, expected_units);
            let (single, multi) = match info.encoding {
                Encoding::Gsm7 => (GSM7_SINGLE_SEGMENT, GSM7_MULTI_SEGMENT),
                Encoding::Ucs2 => (UCS2_SINGLE_SEGMENT, UCS2_MULTI_SEGMENT),
            };
            if info.units == 0 {
                prop_assert_eq!(info.segments, 0);
            } else if info.units <= single {
                prop_assert_eq!(info.segments, 1);
            } else {
                // At least the plain division, at most one wasted unit per part.
                prop_assert!(info.segments >= info.units.div_ceil(multi));
                prop_assert!(info.segments <= info.units.div_ceil(multi - 1));
            }
        }
    }
}

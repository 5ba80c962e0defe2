//! SMS segment counting (GSM 03.38 / 3GPP TS 23.038).
//!
//! A body made only of GSM-7 characters is sent as GSM-7: one septet per
//! character of the basic table, two (escape + character) per character of
//! the extension table; 160 septets fit one SMS, and a concatenated message
//! carries 153 per segment (the user data header takes the rest). Any other
//! character makes the whole body UCS-2: 70 UTF-16 code units fit one SMS,
//! 67 per segment when concatenated. An escape sequence or a surrogate pair is
//! never split across two segments.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    pub units: usize,
    pub segments: usize,
}

/// The GSM 03.38 default alphabet (basic table), in code order.
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1B}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// Characters of the default extension table (each sent as ESC + code).
const GSM7_EXTENSION: &str = "\u{0C}^{}\\[~]|€";

/// Septets a character takes in GSM-7, or `None` when it is not in GSM-7.
pub fn gsm7_septets(c: char) -> Option<usize> {
    if c != '\u{1B}' && GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Packs units into segments of `per_segment`, never splitting a character.
fn pack(sizes: impl Iterator<Item = usize>, per_segment: usize) -> usize {
    let mut segments = 1;
    let mut used = 0;
    for size in sizes {
        if used + size > per_segment {
            segments += 1;
            used = 0;
        }
        used += size;
    }
    segments
}

/// Counts the segments of a body.
pub fn count(body: &str) -> SegmentInfo {
    let gsm: Option<Vec<usize>> = body.chars().map(gsm7_septets).collect();
    match gsm {
        Some(sizes) => {
            let units: usize = sizes.iter().sum();
            let segments = if units <= 160 {
                1
            } else {
                pack(sizes.into_iter(), 153)
            };
            SegmentInfo {
                encoding: Encoding::Gsm7,
                units,
                segments,
            }
        }
        None => {
            let sizes: Vec<usize> = body.chars().map(char::len_utf16).collect();
            let units: usize = sizes.iter().sum();
            let segments = if units <= 70 {
                1
            } else {
                pack(sizes.into_iter(), 67)
            };
            SegmentInfo {
                encoding: Encoding::Ucs2,
                units,
                segments,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(s: &str) -> usize {
        count(s).segments
    }

    #[test]
    fn tables_have_the_right_sizes() {
        // 128 codes in the basic table, of which 0x1B is the escape.
        assert_eq!(GSM7_BASIC.chars().count(), 128);
        assert_eq!(GSM7_EXTENSION.chars().count(), 10);
    }

    #[test]
    fn gsm7_limits() {
        assert_eq!(segs(""), 1);
        assert_eq!(segs("Hello"), 1);
        assert_eq!(count("Hello").encoding, Encoding::Gsm7);
        assert_eq!(segs(&"a".repeat(160)), 1);
        assert_eq!(segs(&"a".repeat(161)), 2);
        assert_eq!(segs(&"a".repeat(306)), 2);
        assert_eq!(segs(&"a".repeat(307)), 3);
        assert_eq!(segs(&"a".repeat(1600)), 11);
        // Accented letters of the basic table stay GSM-7.
        assert_eq!(
            count("Ça coûte 5€ à Paris? ¡Sí! Ñandú").encoding,
            Encoding::Ucs2
        ); // û is not GSM-7
        assert_eq!(
            count("Ça va à Paris? ¡Sì! Ñandù ÄÖÜ äöü ß").encoding,
            Encoding::Gsm7
        );
    }

    #[test]
    fn extension_characters_count_double() {
        assert_eq!(count("€").units, 2);
        assert_eq!(count("{[]}").units, 8);
        assert_eq!(segs(&"€".repeat(80)), 1); // 160 septets
        assert_eq!(segs(&"€".repeat(81)), 2); // 162 septets
        assert_eq!(segs(&format!("{}^", "a".repeat(158))), 1);
        assert_eq!(segs(&format!("{}^", "a".repeat(159))), 2);
        // 306 septets, but the escape sequence cannot straddle segments 1 and 2.
        assert_eq!(segs(&format!("{}€{}", "a".repeat(152), "a".repeat(152))), 3);
    }

    #[test]
    fn ucs2_limits() {
        assert_eq!(count("你好").encoding, Encoding::Ucs2);
        assert_eq!(segs(&"你".repeat(70)), 1);
        assert_eq!(segs(&"你".repeat(71)), 2);
        assert_eq!(segs(&"你".repeat(134)), 2);
        assert_eq!(segs(&"你".repeat(135)), 3);
        // One non-GSM character turns the whole body into UCS-2.
        assert_eq!(segs(&format!("{}’", "a".repeat(69))), 1);
        assert_eq!(segs(&format!("{}’", "a".repeat(70))), 2);
    }

    #[test]
    fn emoji_are_surrogate_pairs() {
        assert_eq!(count("👍").units, 2);
        assert_eq!(segs(&"👍".repeat(35)), 1);
        assert_eq!(segs(&"👍".repeat(36)), 2);
        // 134 code units, but the pair cannot straddle segments 1 and 2.
        assert_eq!(segs(&format!("{}😀{}", "a".repeat(66), "a".repeat(66))), 3);
    }
}

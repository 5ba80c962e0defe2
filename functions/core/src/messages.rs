//! Participant-facing text. Every SMS here is GSM-7 and one segment (checked by tests), so a text
//! costs as little as possible and displays everywhere.

/// The texts of one language.
#[derive(Debug, Clone, Copy)]
pub struct Catalog {
    /// Reply to JOIN: what they joined, how often, costs, and how to stop.
    pub welcome: &'static str,
    /// Reply to HELP/INFO: who we are and how to stop.
    pub help: &'static str,
}

pub const EN: Catalog = Catalog {
    welcome: "Welcome to rising! We'll text you about gatherings near you, a few msgs/month. \
              Msg & data rates may apply. Reply HELP for help, STOP to opt out.",
    help: "rising: community gatherings near you. A few msgs/month. Msg & data rates may apply. \
           Reply STOP to opt out, JOIN to join.",
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sms::segments;

    #[test]
    fn every_english_text_is_one_gsm7_segment() {
        for text in [EN.welcome, EN.help] {
            let info = segments::segments(text);
            assert_eq!(info.encoding, segments::Encoding::Gsm7, "{text}");
            assert_eq!(info.segments, 1, "{text} ({} chars)", text.chars().count());
        }
    }

    #[test]
    fn the_welcome_tells_people_how_to_opt_out() {
        assert!(EN.welcome.contains("STOP to opt out"));
        assert!(EN.welcome.contains("Msg & data rates may apply"));
    }
}

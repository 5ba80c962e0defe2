//! Participant-facing text, in every language the campaign speaks. No such text lives in code
//! elsewhere. Placeholders are `{name}`-style and filled by [`render`]. Every entry is GSM-7 and fits
//! the fewest segments it can with realistic values (tested below). Spanish keeps é, ñ, ¡ and ¿
//! (they are GSM-7) and writes a, i, o, u without accents: one accented vowel would switch a text to
//! UCS-2 and cost two or three times as much.

use crate::domain::Language;

/// The texts of one language.
#[derive(Debug, Clone, Copy)]
pub struct Catalog {
    /// Reply to a campaign keyword (opt-in). `{program}`.
    pub welcome: &'static str,
    /// Reply to HELP/INFO/AYUDA: who we are, how to reach a person, costs, how to stop.
    /// `{program}`, `{contact}`.
    pub help: &'static str,
    /// The one confirmation of an opt-out; nothing is sent after it. `{program}`.
    pub stopped: &'static str,
    /// Confirmation of START after an opt-out. `{program}`.
    pub restarted: &'static str,
    /// To a stranger whose text we don't understand; at most once a day. `{program}`.
    pub stranger: &'static str,
}

pub const EN: Catalog = Catalog {
    welcome: "Welcome to {program}! We'll text you about gatherings near you, a few msgs/month. \
              Msg & data rates may apply. Reply HELP for help, STOP to opt out.",
    help: "{program}: community gatherings near you. Help: {contact}. A few msgs/month. \
           Msg & data rates may apply. Reply STOP to cancel.",
    stopped: "{program}: You're unsubscribed and will get no more texts. Reply START to rejoin.",
    restarted: "{program}: You're subscribed again, a few msgs/month. Msg & data rates may apply. \
                Reply HELP for help, STOP to opt out.",
    stranger: "{program}: Text JOIN to hear about gatherings near you, HELP for help, STOP to opt out.",
};

pub const ES: Catalog = Catalog {
    welcome: "¡Bienvenido a {program}! Te enviaremos mensajes sobre reuniones cerca de ti, pocos al mes. \
              Pueden aplicar tarifas. Responde AYUDA para ayuda, STOP para cancelar.",
    help: "{program}: reuniones comunitarias cerca de ti. Ayuda: {contact}. Pocos mensajes al mes. \
           Pueden aplicar tarifas. Responde STOP para cancelar.",
    stopped: "{program}: Cancelaste tu suscripcion y no recibiras mas mensajes. Responde START para volver.",
    restarted: "{program}: Te suscribiste de nuevo, pocos mensajes al mes. Pueden aplicar tarifas. \
                Responde AYUDA para ayuda, STOP para cancelar.",
    stranger: "{program}: Envia UNIRME para saber de reuniones cerca de ti, AYUDA para ayuda, STOP para cancelar.",
};

/// The catalog of a language.
pub fn catalog(language: Language) -> &'static Catalog {
    match language {
        Language::En => &EN,
        Language::Es => &ES,
    }
}

/// Fills `{key}` placeholders. Unknown placeholders are left as they are (a test catches them).
pub fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (key, value) in values {
        out = out.replace(&format!("{{{key}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sms::segments::{self, Encoding};

    /// Realistic values: the longest program name and contact we expect organizers to configure.
    const VALUES: [(&str, &str); 2] = [("program", "rising"), ("contact", "help@risingtogether.org")];

    fn entries(c: &Catalog) -> [(&'static str, &'static str); 5] {
        [
            ("welcome", c.welcome),
            ("help", c.help),
            ("stopped", c.stopped),
            ("restarted", c.restarted),
            ("stranger", c.stranger),
        ]
    }

    #[test]
    fn every_english_text_is_gsm7_and_fits_one_segment() {
        for (name, template) in entries(&EN) {
            let text = render(template, &VALUES);
            let info = segments::segments(&text);
            assert_eq!(info.encoding, Encoding::Gsm7, "{name}: {text}");
            assert_eq!(info.segments, 1, "{name}: {text} ({} chars)", text.chars().count());
        }
    }

    #[test]
    fn every_spanish_text_is_gsm7_and_fits_two_segments() {
        for (name, template) in entries(&ES) {
            let text = render(template, &VALUES);
            let info = segments::segments(&text);
            assert_eq!(info.encoding, Encoding::Gsm7, "{name}: {text}");
            assert!(info.segments <= 2, "{name}: {} segments: {text}", info.segments);
        }
    }

    #[test]
    fn no_placeholder_is_left_unfilled() {
        for catalog in [&EN, &ES] {
            for (name, template) in entries(catalog) {
                let text = render(template, &VALUES);
                assert!(!text.contains('{') && !text.contains('}'), "{name}: {text}");
            }
        }
    }

    #[test]
    fn opt_in_and_help_texts_say_how_to_stop_and_what_it_costs() {
        for catalog in [&EN, &ES] {
            for text in [catalog.welcome, catalog.help, catalog.restarted] {
                assert!(text.contains("STOP"), "{text}");
                assert!(text.contains("tarifas") || text.contains("Msg & data rates may apply"), "{text}");
            }
        }
        assert!(EN.help.contains("Reply STOP to cancel."));
    }
}

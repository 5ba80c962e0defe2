//! Minimal TwiML for messaging webhooks: reply with zero or more `<Message>` verbs.
//!
//! Only what the inbound-SMS function needs. Text is XML-escaped (`&`, `<`, `>`, `"`, `'`), and
//! characters XML 1.0 cannot carry at all (C0 controls other than tab, LF and CR, including form
//! feed, plus U+FFFE/U+FFFF) are dropped, since no escape makes them legal and Twilio would reject
//! the document.

/// Content type to send TwiML with.
pub const TWIML_CONTENT_TYPE: &str = "text/xml";

const XML_DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// A TwiML document replying with one `<Message>` per entry of `texts`, in order.
///
/// An empty slice gives the same document as [`empty`].
pub fn messages(texts: &[&str]) -> String {
    if texts.is_empty() {
        return empty();
    }
    let capacity = XML_DECLARATION.len()
        + "<Response></Response>".len()
        + texts
            .iter()
            .map(|t| t.len() + "<Message></Message>".len() + 16)
            .sum::<usize>();
    let mut out = String::with_capacity(capacity);
    out.push_str(XML_DECLARATION);
    out.push_str("<Response>");
    for text in texts {
        out.push_str("<Message>");
        push_escaped(&mut out, text);
        out.push_str("</Message>");
    }
    out.push_str("</Response>");
    out
}

/// A TwiML document that tells Twilio to do nothing (no reply).
pub fn empty() -> String {
    format!("{XML_DECLARATION}<Response/>")
}

/// Appends `text` to `out`, escaped for XML character data and attribute values.
fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if is_xml_char(c) => out.push(c),
            _ => {}
        }
    }
}

/// Whether `c` is allowed in an XML 1.0 document (the `Char` production).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_response_is_a_self_closing_response_with_declaration() {
        assert_eq!(
            empty(),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#
        );
    }

    #[test]
    fn no_messages_is_the_empty_response() {
        assert_eq!(messages(&[]), empty());
    }

    #[test]
    fn one_message_is_wrapped_in_response() {
        assert_eq!(
            messages(&["Thanks, got it."]),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Message>Thanks, got it.</Message></Response>"#
        );
    }

    #[test]
    fn several_messages_keep_their_order() {
        assert_eq!(
            messages(&["one", "two"]),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Message>one</Message><Message>two</Message></Response>"#
        );
    }

    #[test]
    fn all_five_xml_special_characters_are_escaped() {
        assert_eq!(
            messages(&[r#"a & b < c > d "e" 'f'"#]),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Message>a &amp; b &lt; c &gt; d &quot;e&quot; &apos;f&apos;</Message></Response>"#
        );
    }

    #[test]
    fn markup_injection_is_neutralised() {
        let doc = messages(&["</Message><Redirect>https://evil.example</Redirect><Message>"]);
        assert!(!doc.contains("<Redirect>"));
        assert_eq!(doc.matches("<Message>").count(), 1);
    }

    #[test]
    fn existing_entities_are_escaped_again_not_passed_through() {
        assert!(messages(&["&amp;"]).contains("<Message>&amp;amp;</Message>"));
    }

    #[test]
    fn unicode_and_newlines_are_kept_verbatim() {
        assert!(
            messages(&["caf\u{e9} \u{1f44b}\nline 2\r\n\tend"])
                .contains("<Message>caf\u{e9} \u{1f44b}\nline 2\r\n\tend</Message>")
        );
    }

    #[test]
    fn characters_illegal_in_xml_are_dropped() {
        assert!(messages(&["a\u{0}b\u{c}c\u{1b}d\u{fffe}e"]).contains("<Message>abcde</Message>"));
    }

    #[test]
    fn content_type_is_text_xml() {
        assert_eq!(TWIML_CONTENT_TYPE, "text/xml");
    }
}

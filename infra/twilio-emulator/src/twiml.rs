//! A small parser for Messaging TwiML replies:
//! `<Response><Message>text</Message></Response>`,
//! `<Message><Body>text</Body><Media>url</Media></Message>`, `<Response/>`.
//!
//! It reads a well-formed XML subset (prolog, comments, CDATA, character and
//! the five predefined entity references) and rejects malformed documents,
//! which Twilio reports as error 12100 (document parse failure).

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyMessage {
    pub body: String,
    pub media: Vec<String>,
    /// `to` attribute: another recipient than the sender of the inbound text.
    pub to: Option<String>,
    /// `from` attribute.
    pub from: Option<String>,
    /// `action` (or `statusCallback`) attribute: where status callbacks go.
    pub status_callback: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    Element(Element),
    Text(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        let mut s = String::new();
        for c in &self.children {
            match c {
                Node::Text(t) => s.push_str(t),
                Node::Element(e) => s.push_str(&e.text()),
            }
        }
        s
    }
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

fn err<T>(msg: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError(msg.into()))
}

/// Replaces entity and character references.
pub fn unescape(s: &str) -> Result<String, ParseError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let Some(end) = after.find(';') else {
            return err("unterminated entity reference");
        };
        let name = &after[..end];
        let c = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            n if n.starts_with("#x") || n.starts_with("#X") => u32::from_str_radix(&n[2..], 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| ParseError(format!("bad character reference &{n};")))?,
            n if n.starts_with('#') => n[1..]
                .parse::<u32>()
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| ParseError(format!("bad character reference &{n};")))?,
            n => return err(format!("unknown entity &{n};")),
        };
        out.push(c);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn skip_ws(&mut self) {
        let r = self.rest();
        self.pos += r.len() - r.trim_start().len();
    }

    fn skip_until(&mut self, end: &str) -> Result<&'a str, ParseError> {
        let r = self.rest();
        let Some(i) = r.find(end) else {
            return err(format!("missing {end:?}"));
        };
        self.pos += i + end.len();
        Ok(&r[..i])
    }

    /// Skips the prolog and comments / processing instructions / doctype.
    fn skip_misc(&mut self) -> Result<(), ParseError> {
        loop {
            self.skip_ws();
            let r = self.rest();
            if r.starts_with("<?") {
                self.skip_until("?>")?;
            } else if r.starts_with("<!--") {
                self.skip_until("-->")?;
            } else if r.starts_with("<!DOCTYPE") {
                self.skip_until(">")?;
            } else {
                return Ok(());
            }
        }
    }

    fn name(&mut self) -> Result<String, ParseError> {
        let r = self.rest();
        let len = r.find(|c: char| !is_name_char(c)).unwrap_or(r.len());
        if len == 0 {
            return err(format!("expected a name at byte {}", self.pos));
        }
        self.pos += len;
        Ok(r[..len].to_string())
    }

    fn element(&mut self) -> Result<Element, ParseError> {
        if !self.rest().starts_with('<') {
            return err("expected an element");
        }
        self.pos += 1;
        let name = self.name()?;
        let mut attrs = Vec::new();
        loop {
            self.skip_ws();
            let r = self.rest();
            if r.starts_with("/>") {
                self.pos += 2;
                return Ok(Element {
                    name,
                    attrs,
                    children: Vec::new(),
                });
            }
            if r.starts_with('>') {
                self.pos += 1;
                break;
            }
            if r.is_empty() {
                return err(format!("unterminated start tag <{name}>"));
            }
            let key = self.name()?;
            self.skip_ws();
            if !self.rest().starts_with('=') {
                return err(format!("attribute {key} has no value"));
            }
            self.pos += 1;
            self.skip_ws();
            let quote = match self.rest().chars().next() {
                Some(q @ ('"' | '\'')) => q,
                _ => return err(format!("attribute {key} is not quoted")),
            };
            self.pos += 1;
            let raw = self.skip_until(&quote.to_string())?;
            if raw.contains('<') {
                return err(format!("'<' in attribute {key}"));
            }
            attrs.push((key, unescape(raw)?));
        }
        let mut children = Vec::new();
        loop {
            let r = self.rest();
            if r.is_empty() {
                return err(format!("unclosed element <{name}>"));
            }
            if r.starts_with("</") {
                self.pos += 2;
                let close = self.name()?;
                self.skip_ws();
                if !self.rest().starts_with('>') {
                    return err(format!("bad end tag </{close}"));
                }
                self.pos += 1;
                if close != name {
                    return err(format!("</{close}> closes <{name}>"));
                }
                return Ok(Element {
                    name,
                    attrs,
                    children,
                });
            } else if r.starts_with("<!--") {
                self.skip_until("-->")?;
            } else if r.starts_with("<![CDATA[") {
                self.pos += "<![CDATA[".len();
                let text = self.skip_until("]]>")?;
                children.push(Node::Text(text.to_string()));
            } else if r.starts_with("<?") {
                self.skip_until("?>")?;
            } else if r.starts_with('<') {
                children.push(Node::Element(self.element()?));
            } else {
                let len = r.find('<').unwrap_or(r.len());
                let text = unescape(&r[..len])?;
                self.pos += len;
                children.push(Node::Text(text));
            }
        }
    }

    fn document(mut self) -> Result<Element, ParseError> {
        self.skip_misc()?;
        let root = self.element()?;
        self.skip_misc()?;
        if !self.rest().is_empty() {
            return err("content after the root element");
        }
        Ok(root)
    }
}

/// Parses a TwiML document into the messages it sends. Verbs other than
/// `<Message>` (`<Redirect>`, unknown ones) are ignored.
pub fn parse(xml: &str) -> Result<Vec<ReplyMessage>, ParseError> {
    let xml = xml.strip_prefix('\u{FEFF}').unwrap_or(xml);
    let root = Parser { src: xml, pos: 0 }.document()?;
    if root.name != "Response" {
        return err(format!(
            "the root element is <{}>, not <Response>",
            root.name
        ));
    }
    let mut out = Vec::new();
    for child in &root.children {
        let Node::Element(e) = child else { continue };
        if e.name != "Message" {
            continue;
        }
        let has_nouns = e
            .children
            .iter()
            .any(|c| matches!(c, Node::Element(x) if x.name == "Body" || x.name == "Media"));
        let (body, media) = if has_nouns {
            let mut body = String::new();
            let mut media = Vec::new();
            for c in &e.children {
                if let Node::Element(x) = c {
                    match x.name.as_str() {
                        "Body" => body.push_str(&x.text()),
                        "Media" => media.push(x.text().trim().to_string()),
                        _ => {}
                    }
                }
            }
            (body, media)
        } else {
            (e.text(), Vec::new())
        };
        out.push(ReplyMessage {
            body: body.trim().to_string(),
            media,
            to: e.attr("to").map(str::to_string),
            from: e.attr("from").map(str::to_string),
            status_callback: e
                .attr("action")
                .or(e.attr("statusCallback"))
                .map(str::to_string),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bodies(xml: &str) -> Vec<String> {
        parse(xml).unwrap().into_iter().map(|m| m.body).collect()
    }

    #[test]
    fn simple_and_multiple_messages() {
        assert_eq!(
            bodies(
                r#"<?xml version="1.0" encoding="UTF-8"?><Response><Message>Welcome!</Message></Response>"#
            ),
            ["Welcome!"]
        );
        assert_eq!(
            bodies(
                "<Response>\n  <Message>One</Message>\n  <!-- c -->\n  <Message>Two</Message>\n</Response>\n"
            ),
            ["One", "Two"]
        );
    }

    #[test]
    fn body_and_media_nouns() {
        let m = parse("<Response><Message><Body>Hi &amp; bye</Body><Media>https://e.com/a.png</Media></Message></Response>").unwrap();
        assert_eq!(m[0].body, "Hi & bye");
        assert_eq!(m[0].media, ["https://e.com/a.png"]);
    }

    #[test]
    fn entities_and_cdata() {
        assert_eq!(
            bodies(
                "<Response><Message>&lt;b&gt; &quot;x&quot; &apos;y&apos; &#233;&#x1F44D;</Message></Response>"
            ),
            ["<b> \"x\" 'y' é👍"]
        );
        assert_eq!(
            bodies("<Response><Message><![CDATA[a < b & c]]></Message></Response>"),
            ["a < b & c"]
        );
    }

    #[test]
    fn empty_responses() {
        assert!(parse("<Response/>").unwrap().is_empty());
        assert!(
            parse("<?xml version=\"1.0\"?>\n<Response></Response>")
                .unwrap()
                .is_empty()
        );
        assert!(
            parse("<Response><Redirect>/x</Redirect></Response>")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn attributes() {
        let m = parse(r#"<Response><Message to="+15551230000" action='https://e.com/s?a=1&amp;b=2'>x</Message></Response>"#).unwrap();
        assert_eq!(m[0].to.as_deref(), Some("+15551230000"));
        assert_eq!(
            m[0].status_callback.as_deref(),
            Some("https://e.com/s?a=1&b=2")
        );
    }

    #[test]
    fn malformed_documents() {
        assert!(parse("<Response><Message>x</Response>").is_err());
        assert!(parse("<Response><Message>a & b</Message></Response>").is_err());
        assert!(parse("<Reply><Message>x</Message></Reply>").is_err());
        assert!(parse("Thanks!").is_err());
        assert!(parse("<Response/><Response/>").is_err());
        assert!(parse("").is_err());
    }
}

//! The optional last step of a text conversation: "reply with your email to get the recordings by
//! email". The address is validated, stored sealed on its own contact with consent source `sms`, and
//! the recordings email is built here (from the message catalogs) and stored in the outbox in the
//! same transaction as the reply; the send worker delivers it. Its id comes from the MessageSid, so a
//! retry of the same text finds the same message and never builds a second one.

use time::OffsetDateTime;

use crate::config::{CampaignConfig, ProgramConfig};
use crate::domain::{EmailAddress, Language, MessageSid};
use crate::email::{
    Email, EmailError, Mailbox, TokenKey, TokenPurpose, UnsubscribeToken, forget_url,
    unsubscribe_url,
};
use crate::messages::{self, render};
use crate::outbound::{Channel, OutboundId, QueuedMessage};
use crate::privacy::ContactHash;

/// What the email step needs besides the conversation: who emails come from and how their links
/// are signed.
#[derive(Debug, Clone)]
pub struct EmailContext {
    pub from: Mailbox,
    pub link_key: TokenKey,
    /// Base URL of the unsubscribe and forget links (`PUBLIC_BASE_URL`, else the API's URL).
    pub links_base_url: String,
}

/// The outbox id of the email promised in answer to `sid`.
pub fn outbound_id(sid: &MessageSid) -> OutboundId {
    OutboundId::parse(&format!("sms-{}", sid.as_str()))
        .unwrap_or_else(|| OutboundId::parse("sms-unknown").unwrap_or_else(OutboundId::random))
}

/// The queue message of the email promised in answer to `sid`, if `body` was an address: what the
/// webhook enqueues after storing the turn, and again when Twilio retries the same text (the worker
/// acknowledges an id it does not find, so enqueueing for a text that was no email step is harmless).
pub fn queued_for(
    sid: &MessageSid,
    body: &str,
    hasher: &crate::privacy::ContactHasher,
) -> Option<QueuedMessage> {
    let address = EmailAddress::parse(body).ok()?;
    Some(QueuedMessage {
        id: outbound_id(sid),
        contact: hasher.email(&address),
        channel: Channel::Email,
    })
}

/// The recordings email, as MIME text, with its one-click unsubscribe and "delete my data" links.
pub fn recordings_email(
    context: &EmailContext,
    program: &ProgramConfig,
    campaign: &CampaignConfig,
    to: &EmailAddress,
    contact: &ContactHash,
    language: Language,
    now: OffsetDateTime,
) -> Result<String, EmailError> {
    let catalog = messages::catalog(language);
    let unsubscribe = unsubscribe_url(
        &context.links_base_url,
        &UnsubscribeToken::sign(&context.link_key, contact, TokenPurpose::Marketing, now),
    );
    let forget = forget_url(
        &context.links_base_url,
        &UnsubscribeToken::sign(&context.link_key, contact, TokenPurpose::Forget, now),
    );
    let values = [
        ("program", program.name.as_str()),
        ("overview_url", campaign.overview_recording_url.as_str()),
        ("recordings_url", campaign.recordings_url.as_str()),
        ("safety_url", campaign.safety_url.as_str()),
        ("unsubscribe_url", unsubscribe.as_str()),
        ("forget_url", forget.as_str()),
    ];
    let subject = render(catalog.recordings_subject, &values);
    let body = render(catalog.recordings_body, &values);
    let footer = render(catalog.email_footer, &values);
    let (text, html) = letter(&body, &footer, language);
    let email = Email::new(
        context.from.clone(),
        to.clone(),
        &subject,
        text,
        html,
        language,
    )
    .with_list_unsubscribe(&unsubscribe)
    .with_date(now);
    let mime = email.to_mime()?;
    String::from_utf8(mime).map_err(|_| EmailError::Serialise)
}

/// An email's two alternatives from its plain-text body and footer: the text, and HTML paragraphs
/// (links clickable, everything escaped) in the person's language.
pub(crate) fn letter(body: &str, footer: &str, language: Language) -> (String, String) {
    let text = format!("{body}\n\n--\n{footer}\n");
    let html = format!(
        "<!doctype html><html lang=\"{lang}\"><body style=\"font-family:sans-serif;line-height:1.5\">\
         {body}<hr><p style=\"font-size:small;color:#444\">{footer}</p></body></html>",
        lang = language.code(),
        body = paragraphs(body),
        footer = html_lines(footer),
    );
    (text, html)
}

/// Plain text → HTML paragraphs, with links made clickable.
pub(crate) fn paragraphs(text: &str) -> String {
    text.split("\n\n")
        .map(|p| format!("<p>{}</p>", html_lines(p)))
        .collect()
}

/// Escapes a line-broken text for HTML and links its URLs.
pub(crate) fn html_lines(text: &str) -> String {
    text.lines()
        .map(|line| {
            line.split(' ')
                .map(|word| {
                    let escaped = escape(word);
                    if word.starts_with("https://") || word.starts_with("http://") {
                        format!("<a href=\"{escaped}\">{escaped}</a>")
                    } else {
                        escaped
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::ContactHasher;

    fn context() -> EmailContext {
        EmailContext {
            from: Mailbox::new(
                "rising",
                EmailAddress::parse("hello@rising.example").unwrap(),
            ),
            link_key: TokenKey::from_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
                .unwrap(),
            links_base_url: "https://rising.example".into(),
        }
    }

    fn program() -> ProgramConfig {
        ProgramConfig {
            name: "rising".into(),
            support_contact: "help@rising.example".into(),
        }
    }

    fn campaign() -> CampaignConfig {
        CampaignConfig {
            overview_recording_url: "https://r.example/overview".into(),
            recordings_url: "https://r.example/all".into(),
            safety_url: "https://r.example/safety".into(),
            host_signup_url: "https://r.example/host".into(),
            search_radius_miles: 25.0,
        }
    }

    fn hasher() -> ContactHasher {
        ContactHasher::from_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=").unwrap()
    }

    #[test]
    fn the_recordings_email_carries_the_links_and_one_click_unsubscribe() {
        let to = EmailAddress::parse("ana@example.org").unwrap();
        let contact = hasher().email(&to);
        let mime = recordings_email(
            &context(),
            &program(),
            &campaign(),
            &to,
            &contact,
            Language::En,
            OffsetDateTime::now_utc(),
        )
        .unwrap();
        for needle in [
            "https://r.example/overview",
            "https://r.example/all",
            "https://r.example/safety",
            "List-Unsubscribe: <https://rising.example/unsubscribe?t=",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            "https://rising.example/forget?t=",
            "multipart/alternative",
        ] {
            assert!(mime.contains(needle), "missing {needle}");
        }
    }

    #[test]
    fn the_spanish_email_is_in_spanish() {
        let to = EmailAddress::parse("ana@example.org").unwrap();
        let mime = recordings_email(
            &context(),
            &program(),
            &campaign(),
            &to,
            &hasher().email(&to),
            Language::Es,
            OffsetDateTime::now_utc(),
        )
        .unwrap();
        assert!(mime.contains("Content-Language: es"));
    }

    #[test]
    fn only_an_address_makes_a_queue_message_and_its_id_comes_from_the_message_sid() {
        let sid = MessageSid::parse("SM0123456789abcdef0123456789abcdef").unwrap();
        let queued = queued_for(&sid, " Ana@Example.org ", &hasher()).unwrap();
        assert_eq!(queued.id.as_str(), "sms-SM0123456789abcdef0123456789abcdef");
        assert_eq!(queued.channel, Channel::Email);
        assert_eq!(
            queued.contact,
            hasher().email(&EmailAddress::parse("ana@example.org").unwrap())
        );
        assert!(queued_for(&sid, "no thanks", &hasher()).is_none());
    }

    #[test]
    fn html_escapes_and_links() {
        assert_eq!(
            html_lines("a <b> https://x.example/?a=1&b=2"),
            "a &lt;b&gt; <a href=\"https://x.example/?a=1&amp;b=2\">https://x.example/?a=1&amp;b=2</a>"
        );
    }
}

//! Message templates (`/admin/templates`): organizers reword the text a host's invitation sends, in
//! English and in Spanish, and see what it costs as they type: the page counts the segments of a
//! typical invitation with their wording (`host.js` counts live; the server counts again, after the
//! same GSM-7 look-alike replacements the send worker makes, when the wording is saved). A wording is
//! refused unless it keeps the link and the STOP instruction, uses only the known placeholders, and
//! fits [`MAX_SEGMENTS`] segments; then it is stored (`store::TemplateStore`) and used for the next
//! invitation a host sends (already queued ones keep theirs).

use askama::Template;

use super::super::page::{Frame, layout};
use super::super::text::invite_text;
use crate::domain::Language;
use crate::messages::render;
use crate::sms::segments::{self, Encoding};
use crate::store::{StoredTemplate, TemplateMessage};

/// Most segments an invitation may take with typical values (what the catalog's wording takes).
pub const MAX_SEGMENTS: usize = 2;
/// The longest wording, in characters.
pub const MAX_CHARS: usize = 400;
/// The placeholders an invitation's text may use.
pub const PLACEHOLDERS: [&str; 5] = ["host", "title", "when", "link", "program"];

/// A typical invitation's values, to count segments with (`program`: the campaign's name).
pub fn sample_values(program: &str) -> [(&'static str, String); 5] {
    [
        ("host", "Guadalupe".to_owned()),
        ("title", "Neighbors for Democracy: porch talk".to_owned()),
        ("when", "Sat, Oct 3, 6:30 PM".to_owned()),
        ("link", "https://rising-example.org/i/abcdefghij".to_owned()),
        ("program", program.to_owned()),
    ]
}

/// The templates page's wording in one language.
#[derive(Debug)]
pub struct TemplateText {
    pub title: &'static str,
    pub intro: &'static str,
    pub invite_sms: &'static str,
    pub language_en: &'static str,
    pub language_es: &'static str,
    pub hint: &'static str,
    pub count: &'static str,
    pub gsm7: &'static str,
    pub ucs2: &'static str,
    pub reworded: &'static str,
    pub catalog: &'static str,
    pub save: &'static str,
    pub reset: &'static str,
    pub saved: &'static str,
    pub was_reset: &'static str,
    pub err_empty: &'static str,
    pub err_long: &'static str,
    pub err_control: &'static str,
    pub err_placeholder: &'static str,
    pub err_link: &'static str,
    pub err_stop: &'static str,
    pub err_segments: &'static str,
    pub back: &'static str,
}

const EN: TemplateText = TemplateText {
    title: "Message templates",
    intro: "The wording of the text a host's invitation sends. Every text is a cost: the count shows how many segments a typical invitation takes with your wording.",
    invite_sms: "Invitation text",
    language_en: "in English",
    language_es: "in Spanish",
    hint: "Placeholders: {host} {title} {when} {link} {program}. Keep {link} and the STOP instruction. At most 2 segments.",
    count: "Segments in a typical invitation: {segments} (at most 2). {encoding}, {units} characters.",
    gsm7: "GSM-7",
    ucs2: "Unicode: each segment holds 67 characters instead of 153",
    reworded: "Reworded by an organizer.",
    catalog: "The standard wording.",
    save: "Save",
    reset: "Restore the standard wording",
    saved: "Saved: the next invitations hosts send use it.",
    was_reset: "The standard wording is back.",
    err_empty: "Please write the text.",
    err_long: "The text can be at most 400 characters.",
    err_control: "The text can't contain control characters (line breaks are fine).",
    err_placeholder: "Only these placeholders work: {host} {title} {when} {link} {program}.",
    err_link: "The text must keep {link}: it is how people answer.",
    err_stop: "The text must tell people they can reply STOP.",
    err_segments: "A typical invitation would take {segments} segments; at most 2, please.",
    back: "Organizer tools",
};

const ES: TemplateText = TemplateText {
    title: "Plantillas de mensajes",
    intro: "El texto que envía la invitación de un anfitrión. Cada mensaje cuesta: el conteo muestra cuántos segmentos ocupa una invitación típica con tu texto.",
    invite_sms: "Texto de la invitación",
    language_en: "en inglés",
    language_es: "en español",
    hint: "Marcadores: {host} {title} {when} {link} {program}. Conserva {link} y la instrucción STOP. Como máximo 2 segmentos.",
    count: "Segmentos de una invitación típica: {segments} (como máximo 2). {encoding}, {units} caracteres.",
    gsm7: "GSM-7",
    ucs2: "Unicode: cada segmento lleva 67 caracteres en lugar de 153",
    reworded: "Redactado por una persona organizadora.",
    catalog: "El texto estándar.",
    save: "Guardar",
    reset: "Volver al texto estándar",
    saved: "Guardado: las próximas invitaciones de los anfitriones lo usan.",
    was_reset: "Volvió el texto estándar.",
    err_empty: "Escribe el texto.",
    err_long: "El texto puede tener como máximo 400 caracteres.",
    err_control: "El texto no puede tener caracteres de control (los saltos de línea sí).",
    err_placeholder: "Solo funcionan estos marcadores: {host} {title} {when} {link} {program}.",
    err_link: "El texto debe conservar {link}: así responden las personas.",
    err_stop: "El texto debe decir que se puede responder STOP.",
    err_segments: "Una invitación típica ocuparía {segments} segmentos; como máximo 2, por favor.",
    back: "Herramientas de organización",
};

pub fn template_text(language: Language) -> &'static TemplateText {
    match language {
        Language::En => &EN,
        Language::Es => &ES,
    }
}

/// The catalog's wording of a message.
pub fn catalog(message: TemplateMessage, language: Language) -> &'static str {
    match message {
        TemplateMessage::InviteSms => invite_text(language).sms_body,
    }
}

/// The wording in use: the stored one, else the catalog's.
pub fn in_use(stored: &[StoredTemplate], message: TemplateMessage, language: Language) -> &str {
    stored
        .iter()
        .find(|t| t.message == message && t.language == language)
        .map_or_else(|| catalog(message, language), |t| t.text.as_str())
}

/// How big a typical invitation is with `text`, as sent (look-alikes replaced).
pub fn typical_size(text: &str, program: &str) -> segments::SegmentInfo {
    let values = sample_values(program);
    let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    segments::segments(&segments::normalise(&render(text, &values)))
}

/// The `{name}`s a text uses.
fn placeholders(text: &str) -> Vec<&str> {
    text.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect()
}

/// Checks an invitation's wording; every problem at once, worded for the organizer. The wording
/// comes back trimmed, line breaks as LF.
pub fn check_invite_sms(
    text: &str,
    program: &str,
    t: &TemplateText,
) -> Result<String, Vec<String>> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let text = text.trim();
    let mut problems: Vec<String> = Vec::new();
    if text.is_empty() {
        return Err(vec![t.err_empty.to_owned()]);
    }
    if text.chars().count() > MAX_CHARS {
        problems.push(t.err_long.to_owned());
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        problems.push(t.err_control.to_owned());
    }
    let used = placeholders(text);
    if used.iter().any(|p| !PLACEHOLDERS.contains(p)) || text.matches('{').count() != used.len() {
        problems.push(t.err_placeholder.to_owned());
    }
    if !used.contains(&"link") {
        problems.push(t.err_link.to_owned());
    }
    if !text.contains("STOP") {
        problems.push(t.err_stop.to_owned());
    }
    let size = typical_size(text, program);
    if size.segments > MAX_SEGMENTS {
        problems.push(render(
            t.err_segments,
            &[("segments", &size.segments.to_string())],
        ));
    }
    if problems.is_empty() {
        Ok(text.to_owned())
    } else {
        Err(problems)
    }
}

/// The count line for a wording.
pub fn count_line(text: &str, program: &str, t: &TemplateText) -> String {
    let size = typical_size(text, program);
    let encoding = match size.encoding {
        Encoding::Gsm7 => t.gsm7,
        Encoding::Ucs2 => t.ucs2,
    };
    render(
        t.count,
        &[
            ("segments", &size.segments.to_string()),
            ("encoding", encoding),
            ("units", &size.units.to_string()),
        ],
    )
}

/// One form on the page: a message in one language.
pub struct Editor {
    pub message: TemplateMessage,
    pub language: Language,
    /// The wording shown: as posted (with problems), else the one in use.
    pub text: String,
    pub reworded: bool,
    pub problems: Vec<String>,
}

struct EditorView {
    id: String,
    action: String,
    label: String,
    text: String,
    count: String,
    reworded: bool,
    problems: Vec<String>,
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r##"<h1>{{ t.title }}</h1>
{% if let Some(notice) = notice %}<p class="notice" role="status">{{ notice }}</p>
{% endif %}<p>{{ t.intro }} <a href="/admin">{{ t.back }}</a></p>
<p class="hint" id="placeholders">{{ t.hint }}</p>
{% for e in editors %}<form method="post" action="{{ e.action }}" novalidate>
<input type="hidden" name="csrf" value="{{ csrf }}">
{% if !e.problems.is_empty() %}<div class="summary" role="alert" tabindex="-1"><ul>
{% for p in e.problems %}<li><a href="#{{ e.id }}">{{ p }}</a></li>
{% endfor %}</ul></div>
{% endif %}<div class="field">
<label for="{{ e.id }}">{{ e.label }}</label>
<p class="hint">{% if e.reworded %}{{ t.reworded }}{% else %}{{ t.catalog }}{% endif %}</p>
<textarea id="{{ e.id }}" name="text" rows="5" maxlength="400" data-segments="{{ e.id }}-count" data-sample="{{ sample }}" data-format="{{ t.count }}" data-gsm7="{{ t.gsm7 }}" data-ucs2="{{ t.ucs2 }}" aria-describedby="placeholders {{ e.id }}-count"{% if !e.problems.is_empty() %} aria-invalid="true"{% endif %}>{{ e.text }}</textarea>
<p class="hint" id="{{ e.id }}-count" aria-live="polite">{{ e.count }}</p>
</div>
<button type="submit" name="action" value="save">{{ t.save }}</button>
{% if e.reworded %}<button type="submit" name="action" value="reset" class="secondary">{{ t.reset }}</button>
{% endif %}</form>
{% endfor %}<script src="/host/host.js" defer></script>
"##
)]
struct TemplatesHtml<'a> {
    t: &'static TemplateText,
    notice: Option<&'a str>,
    csrf: &'a str,
    /// The typical values, as `name=value` lines, for the live count in `host.js`.
    sample: String,
    editors: Vec<EditorView>,
}

pub fn templates_page(
    frame: &Frame,
    editors: &[Editor],
    program: &str,
    csrf: &str,
    notice: Option<&str>,
) -> String {
    let t = template_text(frame.language);
    let editors = editors
        .iter()
        .map(|e| {
            let id = format!("{}-{}", e.message.as_str(), e.language.code());
            EditorView {
                action: format!(
                    "/admin/templates/{}/{}",
                    e.message.as_str(),
                    e.language.code()
                ),
                label: format!(
                    "{} {}",
                    match e.message {
                        TemplateMessage::InviteSms => t.invite_sms,
                    },
                    match e.language {
                        Language::En => t.language_en,
                        Language::Es => t.language_es,
                    }
                ),
                count: count_line(&e.text, program, t),
                text: e.text.clone(),
                reworded: e.reworded,
                problems: e.problems.clone(),
                id,
            }
        })
        .collect();
    let sample = sample_values(program)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("\n");
    let body = TemplatesHtml {
        t,
        notice,
        csrf,
        sample,
        editors,
    }
    .render();
    layout(frame, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_invitations_pass_their_own_checks() {
        for language in [Language::En, Language::Es] {
            let text = catalog(TemplateMessage::InviteSms, language);
            assert_eq!(check_invite_sms(text, "rising", &EN).as_deref(), Ok(text));
            assert!(typical_size(text, "rising").segments <= MAX_SEGMENTS);
        }
    }

    #[test]
    fn a_wording_without_the_link_or_stop_or_with_unknown_placeholders_is_refused() {
        let problems = check_invite_sms("Come to {title} at {place}!", "rising", &EN).unwrap_err();
        assert!(
            problems.contains(&EN.err_placeholder.to_owned()),
            "{problems:?}"
        );
        assert!(problems.contains(&EN.err_link.to_owned()), "{problems:?}");
        assert!(problems.contains(&EN.err_stop.to_owned()), "{problems:?}");
        assert_eq!(
            check_invite_sms("   ", "rising", &ES),
            Err(vec![ES.err_empty.to_owned()])
        );
        let unclosed = check_invite_sms("{host} asks: {link STOP", "rising", &EN).unwrap_err();
        assert!(
            unclosed.contains(&EN.err_placeholder.to_owned()),
            "{unclosed:?}"
        );
    }

    #[test]
    fn a_wording_that_takes_three_segments_is_refused_with_the_count() {
        let long = format!(
            "{{host}}: {} {{link}} Reply STOP to opt out",
            "word ".repeat(50)
        );
        let problems = check_invite_sms(&long, "rising", &EN).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("A typical invitation would take 3 segments")),
            "{problems:?}"
        );
    }

    #[test]
    fn the_count_says_when_an_emoji_makes_the_text_unicode() {
        let line = count_line("{host}: {title} {link} STOP 🎉", "rising", &EN);
        assert!(line.contains("Unicode"), "{line}");
        let line = count_line("{host}: {title} {link} STOP", "rising", &EN);
        assert!(
            line.starts_with("Segments in a typical invitation: 1 (at most 2). GSM-7"),
            "{line}"
        );
    }

    #[test]
    fn curly_quotes_count_as_the_plain_ones_the_worker_sends() {
        let curly = typical_size("{host}’s “{title}” {link} STOP", "rising");
        let plain = typical_size("{host}'s \"{title}\" {link} STOP", "rising");
        assert_eq!(curly, plain);
    }
}

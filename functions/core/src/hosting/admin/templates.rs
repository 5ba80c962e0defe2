//! Message templates (`/admin/templates`): organizers reword the texts the campaign sends to many
//! people (a host's invitation, the form's confirmations, and the scheduler's reminders, thank-yous,
//! training links and recordings), in English and in Spanish, and see what each costs as they type:
//! the page counts the segments of a typical text with their wording (`host.js` counts live; the
//! server counts again, after the same GSM-7 look-alike replacements the send worker makes, when the
//! wording is saved). A wording is refused unless it keeps the placeholder the message is for (the
//! link, the place, the program's name in a first text) and the STOP instruction, uses only the
//! message's placeholders, and fits [`MAX_SEGMENTS`] segments; then it is stored
//! (`store::TemplateStore`) and used for the next texts written (already queued ones keep theirs).

use askama::Template;

use super::super::page::{Frame, layout};
use crate::domain::Language;
use crate::messages::render;
use crate::sms::segments::{self, Encoding};
use crate::store::TemplateMessage;

/// Most segments a text may take with typical values (what the catalog's wordings take).
pub const MAX_SEGMENTS: usize = 2;
/// The longest wording, in characters.
pub const MAX_CHARS: usize = 400;

/// What a message's wording may use and must keep.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// The placeholders the message fills.
    pub placeholders: &'static [&'static str],
    /// The one a wording must keep: what the text is for (the link to answer, the place).
    pub keep: &'static str,
}

pub fn spec(message: TemplateMessage) -> Spec {
    match message {
        TemplateMessage::InviteSms => Spec {
            placeholders: &["host", "title", "when", "link", "program"],
            keep: "link",
        },
        TemplateMessage::ReminderSms => Spec {
            placeholders: &["program", "title", "when", "place"],
            keep: "place",
        },
        TemplateMessage::FollowUpSms => Spec {
            placeholders: &["program", "title", "host_url"],
            keep: "host_url",
        },
        TemplateMessage::TrainingReminderSms => Spec {
            placeholders: &["program", "title", "when", "join_url"],
            keep: "join_url",
        },
        TemplateMessage::RecordingSms => Spec {
            placeholders: &["program", "title", "url"],
            keep: "url",
        },
        // The first text to a number: it must say who sends it (and how to stop, like every text).
        TemplateMessage::ConfirmGoingSms => Spec {
            placeholders: &["program", "title", "when", "safety_url"],
            keep: "program",
        },
        TemplateMessage::ConfirmWaitlistSms => Spec {
            placeholders: &["program", "title"],
            keep: "program",
        },
        TemplateMessage::ConfirmTrainingSms => Spec {
            placeholders: &["program", "title", "when"],
            keep: "program",
        },
        TemplateMessage::ConfirmJoinedSms => Spec {
            placeholders: &["program", "recordings_url"],
            keep: "program",
        },
    }
}

/// A typical text's values, to count segments with (`program`: the campaign's name): long ones, so a
/// wording that fits with them fits with nearly every real one.
pub fn sample_values(message: TemplateMessage, program: &str) -> Vec<(&'static str, String)> {
    spec(message)
        .placeholders
        .iter()
        .map(|&name| {
            let value = match name {
                "host" => "Guadalupe",
                "title" => "Neighbors for Democracy: porch talk",
                "when" => "Sat, Oct 3, 6:30 PM",
                "link" => "https://rising-example.org/i/abcdefghij",
                "place" => "1234 Magnolia Ave, Apt 5, Springfield, IL",
                "host_url" => "https://rising-example.org/host",
                "join_url" => "https://meet.rising-example.org/abc-defg-hij",
                "url" => "https://youtu.be/abcdefghijk",
                "safety_url" => "https://rising-example.org/safety",
                "recordings_url" => "https://rising-example.org/recordings",
                _ => program,
            };
            (name, value.to_owned())
        })
        .collect()
}

/// The templates page's wording in one language.
#[derive(Debug)]
pub struct TemplateText {
    pub title: &'static str,
    pub intro: &'static str,
    /// Each message's name and when it is sent, in [`TemplateMessage::ALL`]'s order.
    pub messages: [(&'static str, &'static str); 9],
    pub language_en: &'static str,
    pub language_es: &'static str,
    /// `{placeholders}`, `{keep}`, `{max}`.
    pub hint: &'static str,
    /// `{segments}`, `{max}`, `{encoding}`, `{units}`.
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
    /// `{placeholders}`.
    pub err_placeholder: &'static str,
    /// `{keep}`.
    pub err_keep: &'static str,
    pub err_stop: &'static str,
    /// `{segments}`, `{max}`.
    pub err_segments: &'static str,
    pub back: &'static str,
}

const EN: TemplateText = TemplateText {
    title: "Message templates",
    intro: "The wording of the texts the campaign sends: invitations, confirmations of the form, reminders and follow-ups. Every text is a cost: the count under each shows how many segments a typical one takes with your wording.",
    messages: [
        (
            "Invitation text",
            "Sent when a host invites friends and family.",
        ),
        (
            "Confirmation of an RSVP",
            "Sent when someone RSVPs to a gathering on the form and agrees to texts: the first text to their number.",
        ),
        (
            "Waitlist",
            "Sent when someone RSVPs on the form to a gathering that is full.",
        ),
        (
            "Confirmation of a training registration",
            "Sent when someone registers for a training on the form.",
        ),
        (
            "Confirmation of a sign-up",
            "Sent when someone signs up on the form without choosing an event.",
        ),
        (
            "Gathering reminder",
            "Sent the day before a gathering and on the day, to everyone going who agreed to texts.",
        ),
        (
            "Thank-you after a gathering",
            "Sent after a gathering, with the link to host one.",
        ),
        (
            "Training reminder",
            "Sent before a training, with its join link.",
        ),
        (
            "Training recording",
            "Sent once a training's recording is published, to everyone registered.",
        ),
    ],
    language_en: "in English",
    language_es: "in Spanish",
    hint: "Placeholders: {placeholders}. Keep {keep} and the STOP instruction. At most {max} segments.",
    count: "Segments in a typical text: {segments} (at most {max}). {encoding}, {units} characters.",
    gsm7: "GSM-7",
    ucs2: "Unicode: each segment holds 67 characters instead of 153",
    reworded: "Reworded by an organizer.",
    catalog: "The standard wording.",
    save: "Save",
    reset: "Restore the standard wording",
    saved: "Saved: the next texts of this kind use it (those already queued keep theirs).",
    was_reset: "The standard wording is back.",
    err_empty: "Please write the text.",
    err_long: "The text can be at most 400 characters.",
    err_control: "The text can't contain control characters (line breaks are fine).",
    err_placeholder: "Only these placeholders work here: {placeholders}.",
    err_keep: "The text must keep {keep}: it is what people need from it.",
    err_stop: "The text must tell people they can reply STOP (or PARAR, in Spanish).",
    err_segments: "A typical text would take {segments} segments; at most {max}, please.",
    back: "Organizer tools",
};

const ES: TemplateText = TemplateText {
    title: "Plantillas de mensajes",
    intro: "El texto de los mensajes de la campaña: invitaciones, confirmaciones del formulario, recordatorios y seguimientos. Cada mensaje cuesta: el conteo bajo cada uno muestra cuántos segmentos ocupa uno típico con tu texto.",
    messages: [
        (
            "Texto de la invitación",
            "Se envía cuando un anfitrión invita a amistades y familia.",
        ),
        (
            "Confirmación de asistencia",
            "Se envía cuando alguien confirma en el formulario que va a una reunión y acepta mensajes de texto: el primer mensaje a su número.",
        ),
        (
            "Lista de espera",
            "Se envía cuando alguien se inscribe en el formulario a una reunión que está llena.",
        ),
        (
            "Confirmación de inscripción a una capacitación",
            "Se envía cuando alguien se inscribe a una capacitación en el formulario.",
        ),
        (
            "Confirmación de registro",
            "Se envía cuando alguien se registra en el formulario sin elegir un evento.",
        ),
        (
            "Recordatorio de la reunión",
            "Se envía el día antes de una reunión y el mismo día, a quienes van y aceptaron mensajes de texto.",
        ),
        (
            "Agradecimiento después de la reunión",
            "Se envía después de una reunión, con el enlace para organizar una.",
        ),
        (
            "Recordatorio de la capacitación",
            "Se envía antes de una capacitación, con su enlace para unirse.",
        ),
        (
            "Grabación de la capacitación",
            "Se envía cuando se publica la grabación de una capacitación, a todas las personas inscritas.",
        ),
    ],
    language_en: "en inglés",
    language_es: "en español",
    hint: "Marcadores: {placeholders}. Conserva {keep} y la instrucción para darse de baja (STOP o PARAR). Como máximo {max} segmentos.",
    count: "Segmentos de un mensaje típico: {segments} (como máximo {max}). {encoding}, {units} caracteres.",
    gsm7: "GSM-7",
    ucs2: "Unicode: cada segmento lleva 67 caracteres en lugar de 153",
    reworded: "Redactado por una persona organizadora.",
    catalog: "El texto estándar.",
    save: "Guardar",
    reset: "Volver al texto estándar",
    saved: "Guardado: los próximos mensajes de este tipo lo usan (los que ya están en cola conservan el suyo).",
    was_reset: "Volvió el texto estándar.",
    err_empty: "Escribe el texto.",
    err_long: "El texto puede tener como máximo 400 caracteres.",
    err_control: "El texto no puede tener caracteres de control (los saltos de línea sí).",
    err_placeholder: "Aquí solo funcionan estos marcadores: {placeholders}.",
    err_keep: "El texto debe conservar {keep}: es lo que las personas necesitan de él.",
    err_stop: "El texto debe decir que se puede responder STOP o PARAR.",
    err_segments: "Un mensaje típico ocuparía {segments} segmentos; como máximo {max}, por favor.",
    back: "Herramientas de organización",
};

pub fn template_text(language: Language) -> &'static TemplateText {
    match language {
        Language::En => &EN,
        Language::Es => &ES,
    }
}

/// How big a typical text of `message` is with `text`, as sent (look-alikes replaced).
pub fn typical_size(message: TemplateMessage, text: &str, program: &str) -> segments::SegmentInfo {
    let values = sample_values(message, program);
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

/// `{host} {title}`: the placeholders, as an organizer writes them.
fn braced(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("{{{n}}}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks a wording of `message`; every problem at once, worded for the organizer. The wording comes
/// back trimmed, line breaks as LF.
pub fn check(
    message: TemplateMessage,
    text: &str,
    program: &str,
    t: &TemplateText,
) -> Result<String, Vec<String>> {
    let spec = spec(message);
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
    if used.iter().any(|p| !spec.placeholders.contains(p))
        || text.matches('{').count() != used.len()
    {
        problems.push(render(
            t.err_placeholder,
            &[("placeholders", &braced(spec.placeholders))],
        ));
    }
    if !used.contains(&spec.keep) {
        problems.push(render(t.err_keep, &[("keep", &braced(&[spec.keep]))]));
    }
    if !crate::domain::names_an_opt_out_word(text) {
        problems.push(t.err_stop.to_owned());
    }
    let size = typical_size(message, text, program);
    if size.segments > MAX_SEGMENTS {
        problems.push(render(
            t.err_segments,
            &[
                ("segments", &size.segments.to_string()),
                ("max", &MAX_SEGMENTS.to_string()),
            ],
        ));
    }
    if problems.is_empty() {
        Ok(text.to_owned())
    } else {
        Err(problems)
    }
}

/// The count line's format, with the maximum filled in (`host.js` fills the rest as people type).
fn count_format(t: &TemplateText) -> String {
    t.count.replace("{max}", &MAX_SEGMENTS.to_string())
}

/// The count line for a wording.
pub fn count_line(message: TemplateMessage, text: &str, program: &str, t: &TemplateText) -> String {
    let size = typical_size(message, text, program);
    let encoding = match size.encoding {
        Encoding::Gsm7 => t.gsm7,
        Encoding::Ucs2 => t.ucs2,
    };
    render(
        &count_format(t),
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
    /// The typical values, as `name=value` lines, for the live count in `host.js`.
    sample: String,
    reworded: bool,
    problems: Vec<String>,
}

/// A message's section: its name, when it is sent, what it may use, and its two languages.
struct Section {
    id: String,
    name: &'static str,
    when: &'static str,
    hint: String,
    editors: Vec<EditorView>,
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r##"<h1>{{ t.title }}</h1>
{% if let Some(notice) = notice %}<p class="notice" role="status">{{ notice }}</p>
{% endif %}<p>{{ t.intro }} <a href="/admin">{{ t.back }}</a></p>
{% for section in sections %}<section aria-labelledby="{{ section.id }}">
<h2 id="{{ section.id }}">{{ section.name }}</h2>
<p>{{ section.when }}</p>
<p class="hint" id="{{ section.id }}-hint">{{ section.hint }}</p>
{% for e in section.editors %}<form method="post" action="{{ e.action }}" novalidate>
<input type="hidden" name="csrf" value="{{ csrf }}">
{% if !e.problems.is_empty() %}<div class="summary" role="alert" tabindex="-1"><ul>
{% for p in e.problems %}<li><a href="#{{ e.id }}">{{ p }}</a></li>
{% endfor %}</ul></div>
{% endif %}<div class="field">
<label for="{{ e.id }}">{{ e.label }}</label>
<p class="hint">{% if e.reworded %}{{ t.reworded }}{% else %}{{ t.catalog }}{% endif %}</p>
<textarea id="{{ e.id }}" name="text" rows="5" maxlength="400" data-segments="{{ e.id }}-count" data-sample="{{ e.sample }}" data-format="{{ format }}" data-gsm7="{{ t.gsm7 }}" data-ucs2="{{ t.ucs2 }}" aria-describedby="{{ section.id }}-hint {{ e.id }}-count"{% if !e.problems.is_empty() %} aria-invalid="true"{% endif %}>{{ e.text }}</textarea>
<p class="hint" id="{{ e.id }}-count" aria-live="polite">{{ e.count }}</p>
</div>
<button type="submit" name="action" value="save">{{ t.save }}</button>
{% if e.reworded %}<button type="submit" name="action" value="reset" class="secondary">{{ t.reset }}</button>
{% endif %}</form>
{% endfor %}</section>
{% endfor %}<script src="/host/host.js" defer></script>
"##
)]
struct TemplatesHtml<'a> {
    t: &'static TemplateText,
    notice: Option<&'a str>,
    csrf: &'a str,
    format: String,
    sections: Vec<Section>,
}

pub fn templates_page(
    frame: &Frame,
    editors: &[Editor],
    program: &str,
    csrf: &str,
    notice: Option<&str>,
) -> String {
    let t = template_text(frame.language);
    let sections = TemplateMessage::ALL
        .into_iter()
        .zip(t.messages)
        .map(|(message, (name, when))| {
            let spec = spec(message);
            let sample = sample_values(message, program)
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("\n");
            let editors = editors
                .iter()
                .filter(|e| e.message == message)
                .map(|e| {
                    let id = format!("{}-{}", e.message.as_str(), e.language.code());
                    EditorView {
                        action: format!(
                            "/admin/templates/{}/{}",
                            e.message.as_str(),
                            e.language.code()
                        ),
                        label: format!(
                            "{name} {}",
                            match e.language {
                                Language::En => t.language_en,
                                Language::Es => t.language_es,
                            }
                        ),
                        count: count_line(message, &e.text, program, t),
                        sample: sample.clone(),
                        text: e.text.clone(),
                        reworded: e.reworded,
                        problems: e.problems.clone(),
                        id,
                    }
                })
                .collect();
            Section {
                id: message.as_str().replace('_', "-"),
                name,
                when,
                hint: render(
                    t.hint,
                    &[
                        ("placeholders", &braced(spec.placeholders)),
                        ("keep", &braced(&[spec.keep])),
                        ("max", &MAX_SEGMENTS.to_string()),
                    ],
                ),
                editors,
            }
        })
        .collect();
    let body = TemplatesHtml {
        t,
        notice,
        csrf,
        format: count_format(t),
        sections,
    }
    .render();
    layout(frame, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::standard_wording as catalog;

    #[test]
    fn every_standard_wording_passes_its_own_checks_in_both_languages() {
        for message in TemplateMessage::ALL {
            for language in [Language::En, Language::Es] {
                let text = catalog(message, language);
                assert_eq!(
                    check(message, text, "rising", &EN).as_deref(),
                    Ok(text),
                    "{message:?} {language:?}"
                );
                assert!(typical_size(message, text, "rising").segments <= MAX_SEGMENTS);
            }
        }
    }

    #[test]
    fn a_wording_without_what_it_is_for_or_stop_or_with_unknown_placeholders_is_refused() {
        let problems = check(
            TemplateMessage::InviteSms,
            "Come to {title} at {place}!",
            "rising",
            &EN,
        )
        .unwrap_err();
        assert!(
            problems.contains(
                &"Only these placeholders work here: {host} {title} {when} {link} {program}."
                    .to_owned()
            ),
            "{problems:?}"
        );
        assert!(
            problems
                .contains(&"The text must keep {link}: it is what people need from it.".to_owned()),
            "{problems:?}"
        );
        assert!(problems.contains(&EN.err_stop.to_owned()), "{problems:?}");
        // {place} is a reminder's, and what it is for.
        assert_eq!(
            check(
                TemplateMessage::ReminderSms,
                "Tomorrow: {title} at {place}! STOP to opt out",
                "rising",
                &EN
            )
            .as_deref(),
            Ok("Tomorrow: {title} at {place}! STOP to opt out")
        );
        let problems = check(
            TemplateMessage::RecordingSms,
            "{title} is online: {join_url} STOP",
            "rising",
            &EN,
        )
        .unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("{program} {title} {url}")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("must keep {url}")),
            "{problems:?}"
        );
        assert_eq!(
            check(TemplateMessage::InviteSms, "   ", "rising", &ES),
            Err(vec![ES.err_empty.to_owned()])
        );
        let unclosed = check(
            TemplateMessage::InviteSms,
            "{host} asks: {link STOP",
            "rising",
            &EN,
        )
        .unwrap_err();
        assert!(
            unclosed
                .iter()
                .any(|p| p.starts_with("Only these placeholders")),
            "{unclosed:?}"
        );
    }

    #[test]
    fn a_wording_that_takes_three_segments_is_refused_with_the_count() {
        let long = format!(
            "{{host}}: {} {{link}} Reply STOP to opt out",
            "word ".repeat(50)
        );
        let problems = check(TemplateMessage::InviteSms, &long, "rising", &EN).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("A typical text would take 3 segments; at most 2")),
            "{problems:?}"
        );
    }

    #[test]
    fn the_count_says_when_an_emoji_makes_the_text_unicode() {
        let message = TemplateMessage::InviteSms;
        let line = count_line(message, "{host}: {title} {link} STOP 🎉", "rising", &EN);
        assert!(line.contains("Unicode"), "{line}");
        let line = count_line(message, "{host}: {title} {link} STOP", "rising", &EN);
        assert!(
            line.starts_with("Segments in a typical text: 1 (at most 2). GSM-7"),
            "{line}"
        );
    }

    #[test]
    fn curly_quotes_count_as_the_plain_ones_the_worker_sends() {
        let message = TemplateMessage::InviteSms;
        let curly = typical_size(message, "{host}’s “{title}” {link} STOP", "rising");
        let plain = typical_size(message, "{host}'s \"{title}\" {link} STOP", "rising");
        assert_eq!(curly, plain);
    }

    #[test]
    fn each_message_is_counted_with_the_values_of_its_own_placeholders() {
        for message in TemplateMessage::ALL {
            let names: Vec<&str> = sample_values(message, "rising")
                .iter()
                .map(|(k, _)| *k)
                .collect();
            assert_eq!(names, spec(message).placeholders, "{message:?}");
            assert!(spec(message).placeholders.contains(&spec(message).keep));
        }
    }
}

//! Organizer tools at `/admin`, in the host function: the same sign-in (an emailed single-use link),
//! session and CSRF token as hosts. Only hosts whose email is in the organizer list
//! (`OrganizerEmailsParameter`, read with the keys) may use them; anyone else signed in gets 403.
//!
//! The trainings page lists the catalog (with links to add a training and to edit one: the form is
//! [`training_form`], stored with `TrainingStore::put_training` / `update_training`) with how many people registered and where each recording
//! stands. Publishing a recording takes two steps: the organizer types the link and reviews what will
//! happen (the training, the link, how many people get it), then confirms. The publication itself is
//! `admin::recordings::publish_recording`, as `rising-admin publish-recording` does it: audited before
//! it is stored, once per training; the scheduler then sends the link to everyone registered, once.

pub mod gatherings;
pub mod keywords;
pub mod overview;
pub mod settings;
pub mod templates;
pub mod training_form;

use askama::Template;

use super::page::{Frame, layout};
use crate::admin::recordings::{RecordingPreview, TrainingSummary, utc};
use crate::domain::{EmailAddress, Language};
use crate::messages::render;
use crate::privacy::{ContactHash, ContactHasher};

/// The keyed hashes of the organizer list: email addresses separated by commas, semicolons,
/// whitespace or new lines. An entry that is not an email address is left out (and counted in the
/// log, never shown).
pub fn organizer_hashes(hasher: &ContactHasher, list: &str) -> Vec<ContactHash> {
    let entries: Vec<&str> = list
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|e| !e.is_empty())
        .collect();
    let hashes: Vec<ContactHash> = entries
        .iter()
        .filter_map(|e| EmailAddress::parse(e).ok())
        .map(|e| hasher.email(&e))
        .collect();
    if hashes.len() < entries.len() {
        tracing::warn!(
            ignored = entries.len() - hashes.len(),
            "organizer list entries that are not email addresses were ignored"
        );
    }
    hashes
}

/// The organizer pages' wording in one language.
#[derive(Debug)]
pub struct AdminText {
    pub title: &'static str,
    pub intro: &'static str,
    pub trainings: &'static str,
    pub no_trainings: &'static str,
    pub col_training: &'static str,
    pub col_starts: &'static str,
    pub col_registered: &'static str,
    pub col_recording: &'static str,
    pub published_on: &'static str,
    pub recording_label: &'static str,
    pub recording_hint: &'static str,
    pub review: &'static str,
    pub review_title: &'static str,
    pub review_body: &'static str,
    pub review_once: &'static str,
    pub publish: &'static str,
    pub cancel: &'static str,
    pub published_notice: &'static str,
    pub not_organizer: &'static str,
    pub already_published: &'static str,
    pub back_to_dashboard: &'static str,
    pub nav_label: &'static str,
    pub nav_gatherings: &'static str,
    pub nav_keywords: &'static str,
    pub nav_overview: &'static str,
    pub nav_settings: &'static str,
    pub nav_templates: &'static str,
    pub add_training: &'static str,
    pub edit: &'static str,
    pub edit_training_title: &'static str,
    pub label_title: &'static str,
    pub label_title_es: &'static str,
    pub hint_title_es: &'static str,
    pub label_date: &'static str,
    pub hint_date: &'static str,
    pub label_starts: &'static str,
    pub hint_starts: &'static str,
    pub label_duration: &'static str,
    pub label_time_zone: &'static str,
    pub label_join_url: &'static str,
    pub hint_join_url: &'static str,
    pub optional: &'static str,
    pub save: &'static str,
    pub error_summary: &'static str,
    pub err_training_title: &'static str,
    pub err_date: &'static str,
    pub err_time: &'static str,
    pub err_duration: &'static str,
    pub err_time_zone: &'static str,
    pub err_link: &'static str,
    pub err_in_past: &'static str,
    pub training_created: &'static str,
    pub training_saved: &'static str,
}

const EN: AdminText = AdminText {
    title: "Organizer tools",
    intro: "You are signed in as an organizer of this campaign.",
    trainings: "Trainings",
    no_trainings: "There are no trainings yet.",
    col_training: "Training",
    col_starts: "Starts",
    col_registered: "Registered",
    col_recording: "Recording",
    published_on: "Published {when}",
    recording_label: "Recording link for {title}",
    recording_hint: "An https:// link. You will review it before anything is sent.",
    review: "Review",
    review_title: "Publish this recording?",
    review_body: "{title}: the link {url} goes to the {count} people registered, by email and text as each of them agreed, within 5 minutes.",
    review_once: "A recording is published once: it cannot be changed or sent again afterwards.",
    publish: "Publish and send",
    cancel: "Cancel",
    published_notice: "Published. The link goes to everyone registered within 5 minutes, once each.",
    not_organizer: "These tools are for the campaign's organizers. Ask an organizer to add your email address to the list.",
    already_published: "This recording was published already; nothing was changed.",
    back_to_dashboard: "Your gatherings",
    nav_label: "Organizer tools",
    nav_gatherings: "Gatherings to approve",
    nav_keywords: "Keywords",
    nav_overview: "Campaign overview",
    nav_settings: "Campaign settings",
    nav_templates: "Message templates",
    add_training: "Add a training",
    edit: "Edit",
    edit_training_title: "Edit the training",
    label_title: "Title (English)",
    label_title_es: "Title (Spanish)",
    hint_title_es: "Shown on the Spanish pages and messages. Leave it empty to use the English title.",
    label_date: "Date",
    hint_date: "YYYY-MM-DD",
    label_starts: "Start time",
    hint_starts: "HH:MM, 24-hour, in the training's time zone.",
    label_duration: "Length in minutes",
    label_time_zone: "Time zone",
    label_join_url: "Link to join live",
    hint_join_url: "An https:// link. Leave it empty until you have it: people get it in their reminder.",
    optional: "(optional)",
    save: "Save",
    error_summary: "Please fix {count} things:",
    err_training_title: "Please give a title of at most 120 characters, on one line.",
    err_date: "Please give the date as YYYY-MM-DD.",
    err_time: "Please give the time as HH:MM (24-hour), e.g. 19:00.",
    err_duration: "Please give the length in minutes, from 1 to 1440 (24 hours).",
    err_time_zone: "Please pick a time zone from the list.",
    err_link: "Please give a link that starts with https://.",
    err_in_past: "The training must start in the future.",
    training_created: "The training was added. People can register for it now.",
    training_saved: "The training was saved. Reminders and the sign-up pages use the new details.",
};

const ES: AdminText = AdminText {
    title: "Herramientas de organización",
    intro: "Iniciaste sesión como organizador(a) de esta campaña.",
    trainings: "Capacitaciones",
    no_trainings: "Todavía no hay capacitaciones.",
    col_training: "Capacitación",
    col_starts: "Empieza",
    col_registered: "Inscritas",
    col_recording: "Grabación",
    published_on: "Publicada {when}",
    recording_label: "Enlace de la grabación de {title}",
    recording_hint: "Un enlace https://. Lo revisarás antes de enviar nada.",
    review: "Revisar",
    review_title: "¿Publicar esta grabación?",
    review_body: "{title}: el enlace {url} llega a las {count} personas inscritas, por correo y por mensaje de texto según lo que cada una aceptó, en menos de 5 minutos.",
    review_once: "Una grabación se publica una sola vez: después no se puede cambiar ni volver a enviar.",
    publish: "Publicar y enviar",
    cancel: "Cancelar",
    published_notice: "Publicada. El enlace llega a todas las personas inscritas en menos de 5 minutos, una vez a cada una.",
    not_organizer: "Estas herramientas son para quienes organizan la campaña. Pide a una de esas personas que agregue tu correo a la lista.",
    already_published: "Esta grabación ya estaba publicada; no se cambió nada.",
    back_to_dashboard: "Tus reuniones",
    nav_label: "Herramientas de organización",
    nav_gatherings: "Reuniones por aprobar",
    nav_keywords: "Palabras clave",
    nav_overview: "Resumen de la campaña",
    nav_settings: "Configuración de la campaña",
    nav_templates: "Plantillas de mensajes",
    add_training: "Agregar una capacitación",
    edit: "Editar",
    edit_training_title: "Editar la capacitación",
    label_title: "Título (inglés)",
    label_title_es: "Título (español)",
    hint_title_es: "Se muestra en las páginas y mensajes en español. Déjalo vacío para usar el título en inglés.",
    label_date: "Fecha",
    hint_date: "AAAA-MM-DD",
    label_starts: "Hora de inicio",
    hint_starts: "HH:MM, 24 horas, en la zona horaria de la capacitación.",
    label_duration: "Duración en minutos",
    label_time_zone: "Zona horaria",
    label_join_url: "Enlace para unirse en vivo",
    hint_join_url: "Un enlace https://. Déjalo vacío hasta tenerlo: las personas lo reciben en su recordatorio.",
    optional: "(opcional)",
    save: "Guardar",
    error_summary: "Corrige {count} cosas:",
    err_training_title: "Escribe un título de 120 caracteres como máximo, en una sola línea.",
    err_date: "Escribe la fecha como AAAA-MM-DD.",
    err_time: "Escribe la hora como HH:MM (24 horas), por ejemplo 19:00.",
    err_duration: "Escribe la duración en minutos, de 1 a 1440 (24 horas).",
    err_time_zone: "Elige una zona horaria de la lista.",
    err_link: "Escribe un enlace que empiece con https://.",
    err_in_past: "La capacitación debe empezar en el futuro.",
    training_created: "Se agregó la capacitación. Las personas ya pueden inscribirse.",
    training_saved: "Se guardó la capacitación. Los recordatorios y las páginas de inscripción usan los nuevos datos.",
};

pub fn admin_text(language: Language) -> &'static AdminText {
    match language {
        Language::En => &EN,
        Language::Es => &ES,
    }
}

struct Row {
    id: String,
    title: String,
    starts: String,
    registered: usize,
    published: Option<String>,
    label: String,
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r##"<h1>{{ t.title }}</h1>
{% if let Some(notice) = notice %}<p class="notice" role="status">{{ notice }}</p>
{% endif %}{% if let Some(error) = error %}<div class="summary" role="alert"><p>{{ error }}</p></div>
{% endif %}<p>{{ t.intro }} <a href="/host">{{ t.back_to_dashboard }}</a></p>
<nav aria-label="{{ t.nav_label }}"><ul>
<li><a href="/admin/overview">{{ t.nav_overview }}</a></li>
<li><a href="/admin/gatherings">{{ t.nav_gatherings }}</a></li>
<li><a href="/admin/keywords">{{ t.nav_keywords }}</a></li>
<li><a href="/admin/templates">{{ t.nav_templates }}</a></li>
<li><a href="/admin/settings">{{ t.nav_settings }}</a></li>
</ul></nav>
<h2>{{ t.trainings }}</h2>
<p><a class="button" href="/admin/trainings/new">{{ t.add_training }}</a></p>
{% if rows.is_empty() %}<p>{{ t.no_trainings }}</p>
{% else %}<div class="table-wrap"><table>
<thead><tr><th scope="col">{{ t.col_training }}</th><th scope="col">{{ t.col_starts }}</th><th scope="col">{{ t.col_registered }}</th><th scope="col">{{ t.col_recording }}</th><th scope="col">{{ t.edit }}</th></tr></thead>
<tbody>
{% for r in rows %}<tr>
<th scope="row">{{ r.title }}</th>
<td>{{ r.starts }}</td>
<td>{{ r.registered }}</td>
<td>{% if let Some(p) = r.published %}{{ p }}{% else %}<form method="post" action="/admin/trainings/{{ r.id }}/recording" novalidate>
<input type="hidden" name="csrf" value="{{ csrf }}">
<div class="field">
<label for="url-{{ r.id }}">{{ r.label }}</label>
<p class="hint" id="hint-{{ r.id }}">{{ t.recording_hint }}</p>
<input class="text" type="url" id="url-{{ r.id }}" name="url" inputmode="url" required aria-describedby="hint-{{ r.id }}">
</div>
<button type="submit">{{ t.review }}</button>
</form>{% endif %}</td>
<td><a href="/admin/trainings/{{ r.id }}/edit" aria-label="{{ t.edit }}: {{ r.title }}">{{ t.edit }}</a></td>
</tr>
{% endfor %}</tbody>
</table></div>
{% endif %}"##
)]
struct TrainingsHtml<'a> {
    t: &'static AdminText,
    rows: &'a [Row],
    csrf: &'a str,
    notice: Option<&'a str>,
    error: Option<&'a str>,
}

/// The organizer home: the training catalog, with a form per recording not yet published.
pub fn trainings_page(
    frame: &Frame,
    summaries: &[TrainingSummary],
    csrf: &str,
    notice: Option<&str>,
    error: Option<&str>,
) -> String {
    let t = admin_text(frame.language);
    let rows: Vec<Row> = summaries
        .iter()
        .map(|s| {
            let training = &s.training;
            let title = training.title_in(frame.language).as_str().to_owned();
            Row {
                id: training.id.as_str().to_owned(),
                label: render(t.recording_label, &[("title", &title)]),
                title,
                starts: utc(training.starts_at),
                registered: s.registrants,
                published: training
                    .recording_published_at
                    .map(|at| render(t.published_on, &[("when", &utc(at))])),
            }
        })
        .collect();
    let body = TrainingsHtml {
        t,
        rows: &rows,
        csrf,
        notice,
        error,
    }
    .render();
    layout(frame, body)
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r##"<h1>{{ t.review_title }}</h1>
<p>{{ summary }}</p>
<p><strong>{{ t.review_once }}</strong></p>
<form method="post" action="/admin/trainings/{{ id }}/recording">
<input type="hidden" name="csrf" value="{{ csrf }}">
<input type="hidden" name="url" value="{{ url }}">
<input type="hidden" name="confirm" value="yes">
<button type="submit">{{ t.publish }}</button>
<a class="button secondary" href="/admin">{{ t.cancel }}</a>
</form>
"##
)]
struct ReviewHtml<'a> {
    t: &'static AdminText,
    id: &'a str,
    url: &'a str,
    csrf: &'a str,
    summary: String,
}

/// The review step: what publishing this link will do, and one button that does it.
pub fn review_page(frame: &Frame, preview: &RecordingPreview, url: &str, csrf: &str) -> String {
    let t = admin_text(frame.language);
    let summary = render(
        t.review_body,
        &[
            ("title", preview.training.title_in(frame.language).as_str()),
            ("url", url),
            ("count", &preview.registrants.to_string()),
        ],
    );
    let body = ReviewHtml {
        t,
        id: preview.training.id.as_str(),
        url,
        csrf,
        summary,
    }
    .render();
    layout(frame, body)
}

// --- training form -------------------------------------------------------------------------------

use training_form::{TrainingField, TrainingForm, TrainingProblem};

struct Input {
    name: &'static str,
    label: &'static str,
    hint: Option<&'static str>,
    optional: bool,
    kind: &'static str,
    value: String,
    error: Option<&'static str>,
    inputmode: &'static str,
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r##"{% macro input(i) %}<div class="field">
<label for="{{ i.name }}">{{ i.label }}{% if i.optional %} <span class="opt">{{ t.optional }}</span>{% endif %}</label>
{% if let Some(hint) = i.hint %}<p class="hint" id="{{ i.name }}-hint">{{ hint }}</p>
{% endif %}<input class="text" type="{{ i.kind }}" id="{{ i.name }}" name="{{ i.name }}" value="{{ i.value }}"{% if !i.inputmode.is_empty() %} inputmode="{{ i.inputmode }}"{% endif %}{% if !i.optional %} required{% endif %}{% if i.error.is_some() || i.hint.is_some() %} aria-describedby="{% if i.hint.is_some() %}{{ i.name }}-hint {% endif %}{% if i.error.is_some() %}{{ i.name }}-error{% endif %}"{% endif %}{% if i.error.is_some() %} aria-invalid="true"{% endif %}>
{% if let Some(e) = i.error %}<p class="error" id="{{ i.name }}-error">{{ e }}</p>
{% endif %}</div>
{% endmacro %}<h1>{{ heading }}</h1>
{% if !errors.is_empty() %}<div class="summary" role="alert" tabindex="-1" id="summary"><p>{{ summary }}</p><ul>
{% for (field, message) in errors %}<li><a href="#{{ field }}">{{ message }}</a></li>
{% endfor %}</ul></div>
{% endif %}<form method="post" action="{{ action }}" novalidate>
<input type="hidden" name="csrf" value="{{ csrf }}">
{% call input(title) %}{% endcall %}
{% call input(title_es) %}{% endcall %}
<div class="row">{% call input(date) %}{% endcall %}{% call input(starts) %}{% endcall %}{% call input(duration) %}{% endcall %}</div>
<div class="field">
<label for="time_zone">{{ t.label_time_zone }}</label>
<select class="text" id="time_zone" name="time_zone" required{% if let Some(e) = zone_error %} aria-describedby="time_zone-error" aria-invalid="true"{% endif %}>
{% for (z, selected) in zones %}<option value="{{ z }}"{% if *selected %} selected{% endif %}>{{ z }}</option>
{% endfor %}</select>
{% if let Some(e) = zone_error %}<p class="error" id="time_zone-error">{{ e }}</p>
{% endif %}</div>
{% call input(join_url) %}{% endcall %}
<button type="submit">{{ submit }}</button>
<a class="button secondary" href="/admin">{{ t.cancel }}</a>
</form>
"##
)]
struct TrainingFormHtml<'a> {
    t: &'static AdminText,
    heading: &'static str,
    summary: String,
    errors: Vec<(&'static str, &'static str)>,
    action: &'a str,
    csrf: &'a str,
    title: Input,
    title_es: Input,
    date: Input,
    starts: Input,
    duration: Input,
    zones: Vec<(&'static str, bool)>,
    zone_error: Option<&'static str>,
    join_url: Input,
    submit: &'static str,
}

/// The training form: a new training (`editing` `None`) or the training `editing`.
pub fn training_form_page(
    frame: &Frame,
    values: &TrainingForm,
    errors: &[TrainingProblem],
    csrf: &str,
    editing: Option<&str>,
) -> String {
    let t = admin_text(frame.language);
    let error = |field: TrainingField| errors.iter().find(|(f, _)| *f == field).map(|(_, m)| *m);
    let input = |field: TrainingField,
                 label: &'static str,
                 hint: Option<&'static str>,
                 optional: bool,
                 kind: &'static str,
                 value: &str| Input {
        name: field.name(),
        label,
        hint,
        optional,
        kind,
        value: value.to_owned(),
        error: error(field),
        inputmode: match field {
            TrainingField::Duration => "numeric",
            TrainingField::JoinUrl => "url",
            _ => "",
        },
    };
    let action = match editing {
        Some(id) => format!("/admin/trainings/{id}"),
        None => "/admin/trainings".to_owned(),
    };
    let zone = values.time_zone.trim();
    let body = TrainingFormHtml {
        t,
        heading: if editing.is_some() {
            t.edit_training_title
        } else {
            t.add_training
        },
        summary: render(t.error_summary, &[("count", &errors.len().to_string())]),
        errors: errors.iter().map(|(f, m)| (f.name(), *m)).collect(),
        action: &action,
        csrf,
        title: input(
            TrainingField::Title,
            t.label_title,
            None,
            false,
            "text",
            &values.title,
        ),
        title_es: input(
            TrainingField::TitleEs,
            t.label_title_es,
            Some(t.hint_title_es),
            true,
            "text",
            &values.title_es,
        ),
        date: input(
            TrainingField::Date,
            t.label_date,
            Some(t.hint_date),
            false,
            "date",
            &values.date,
        ),
        starts: input(
            TrainingField::Starts,
            t.label_starts,
            Some(t.hint_starts),
            false,
            "time",
            &values.starts,
        ),
        duration: input(
            TrainingField::Duration,
            t.label_duration,
            None,
            false,
            "text",
            &values.duration,
        ),
        zones: crate::hosting::form::TIME_ZONES
            .iter()
            .map(|z| (*z, *z == zone))
            .collect(),
        zone_error: error(TrainingField::TimeZone),
        join_url: input(
            TrainingField::JoinUrl,
            t.label_join_url,
            Some(t.hint_join_url),
            true,
            "url",
            &values.join_url,
        ),
        submit: if editing.is_some() {
            t.save
        } else {
            t.add_training
        },
    }
    .render();
    layout(frame, body)
}

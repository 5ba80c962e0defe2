//! Organizer tools at `/admin`, in the host function: the same sign-in (an emailed single-use link),
//! session and CSRF token as hosts. Only hosts whose email is in the organizer list
//! (`OrganizerEmailsParameter`, read with the keys) may use them; anyone else signed in gets 403.
//!
//! The trainings page lists the catalog with how many people registered and where each recording
//! stands. Publishing a recording takes two steps: the organizer types the link and reviews what will
//! happen (the training, the link, how many people get it), then confirms. The publication itself is
//! `admin::recordings::publish_recording`, as `rising-admin publish-recording` does it: audited before
//! it is stored, once per training; the scheduler then sends the link to everyone registered, once.

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
<h2>{{ t.trainings }}</h2>
{% if rows.is_empty() %}<p>{{ t.no_trainings }}</p>
{% else %}<div class="table-wrap"><table>
<thead><tr><th scope="col">{{ t.col_training }}</th><th scope="col">{{ t.col_starts }}</th><th scope="col">{{ t.col_registered }}</th><th scope="col">{{ t.col_recording }}</th></tr></thead>
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

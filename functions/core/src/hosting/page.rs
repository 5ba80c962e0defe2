//! The host pages, server-rendered (askama) with no script at all: sign-in, the dashboard, the
//! gathering form and the gathering page with its attendee list. Mobile first (one column, large
//! targets), labelled fields with their errors tied to them (`aria-describedby`), an error summary
//! that links to each field, a skip link, and the page's language in `<html lang>`.

use askama::Template;
use time::OffsetDateTime;

use super::form::{FormField, GatheringForm, TIME_ZONES, local_parts};
use super::invites::{BatchProgress, Plan, Preview, encoding_name};
use super::text::{HostText, InviteText, host_text, invite_text};
use super::{Attendee, GatheringSummary, invited_text, source_text, status_text};
use crate::domain::{Address, Gathering, Language};
use crate::messages::render;
use crate::outbound::SkipReason;

/// The Content-Security-Policy of every host page: only our own script (the invite page's file
/// reader), nothing from elsewhere, never framed.
pub const HOST_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; \
                            img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; \
                            base-uri 'none'";

const HOST_CSS: &str = r#"
main{max-width:48rem}
nav.top{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;justify-content:space-between;margin:0 0 1rem}
nav.top form{margin:0}
nav.top button{width:auto;min-height:2.75rem;margin:0;padding:.4rem 1rem;background:#fff;color:var(--accent)}
.skip{position:absolute;left:-10000px}
.skip:focus{position:static}
.notice{border-left:4px solid #15803d;background:#f0fdf4;padding:.75rem 1rem;margin:0 0 1rem}
.cards{list-style:none;padding:0}
.cards li{border:1px solid #d4d4d4;border-radius:.5rem;padding:1rem;margin:0 0 1rem}
.cards h2{margin:0 0 .25rem}
.meta{color:#3d3d3d;margin:0 0 .25rem}
.badge{display:inline-block;font-size:.875rem;border:1px solid #595959;border-radius:1rem;padding:0 .6rem}
a.button{display:inline-block;min-height:3rem;padding:.75rem 1rem;font-weight:600;color:#fff;background:var(--accent);border-radius:.5rem;text-decoration:none}
textarea{display:block;width:100%;min-height:7rem;padding:.5rem .75rem;font:inherit;border:2px solid #595959;border-radius:.5rem}
.hint{color:#3d3d3d;margin:0 0 .25rem;font-size:.9375rem}
.row{display:flex;flex-wrap:wrap;gap:0 1rem}
.row .field{flex:1 1 9rem}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;margin:0 0 1rem}
th,td{text-align:left;padding:.5rem;border-bottom:1px solid #d4d4d4;vertical-align:top}
pre{white-space:pre-wrap;word-break:break-word;background:#f5f5f5;padding:.75rem;border-radius:.5rem}
progress{width:100%;height:1.25rem}
button.secondary{background:#fff;color:var(--accent)}
"#;

/// What every page's frame needs.
pub struct Frame<'a> {
    pub language: Language,
    pub program: &'a str,
    pub title: &'a str,
    /// The sign-out button's CSRF token, when signed in.
    pub csrf: Option<&'a str>,
    /// Link to the same page in the other language.
    pub other_language_href: &'a str,
    /// Reload every few seconds (a batch of invitations is in progress).
    pub refresh: bool,
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r##"<!doctype html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
{% if refresh %}<meta http-equiv="refresh" content="10">
{% endif %}<title>{{ title }} · {{ program }}</title>
<style>{{ base_css|safe }}{{ host_css|safe }}</style>
</head>
<body>
<a class="skip" href="#content">{{ t.skip_to_content }}</a>
<main>
<nav class="top" aria-label="{{ program }}">
<p class="program">{{ program }}</p>
<a href="{{ other_language_href }}" lang="{{ other_lang }}">{{ t.other_language }}</a>
{% if let Some(csrf) = csrf %}<form method="post" action="/host/sign-out"><input type="hidden" name="csrf" value="{{ csrf }}"><button type="submit">{{ t.sign_out }}</button></form>{% endif %}
</nav>
<div id="content" tabindex="-1">
{{ body|safe }}
</div>
</main>
</body>
</html>
"##
)]
struct LayoutHtml<'a> {
    lang: &'static str,
    other_lang: &'static str,
    title: &'a str,
    program: &'a str,
    t: &'static HostText,
    base_css: &'static str,
    host_css: &'static str,
    csrf: Option<&'a str>,
    other_language_href: &'a str,
    body: &'a str,
    refresh: bool,
}

pub(super) fn layout(frame: &Frame, body: Result<String, askama::Error>) -> String {
    let t = host_text(frame.language);
    let body = body.unwrap_or_else(|error| {
        tracing::error!(error = %error, "host page template failed");
        format!("<h1>{}</h1><p>{}</p>", t.error_title, t.unavailable)
    });
    let rendered = LayoutHtml {
        lang: frame.language.code(),
        other_lang: other(frame.language).code(),
        title: frame.title,
        program: frame.program,
        t,
        base_css: crate::registration::page::CSS,
        host_css: HOST_CSS,
        csrf: frame.csrf,
        other_language_href: frame.other_language_href,
        body: &body,
        refresh: frame.refresh,
    }
    .render();
    rendered.unwrap_or(body)
}

fn other(language: Language) -> Language {
    match language {
        Language::En => Language::Es,
        Language::Es => Language::En,
    }
}

// --- sign-in -------------------------------------------------------------------------------------

#[derive(Template)]
#[template(
    ext = "html",
    source = r##"<h1>{{ t.sign_in_title }}</h1>
{% if let Some(notice) = notice %}<p class="notice" role="status">{{ notice }}</p>
{% endif %}{% if let Some(error) = error %}<div class="summary" role="alert"><p>{{ error }}</p></div>
{% endif %}<p>{{ t.sign_in_intro }}</p>
<form method="post" action="/host/sign-in" novalidate>
<input type="hidden" name="lang" value="{{ lang }}">
<div class="field">
<label for="email">{{ t.email_label }}</label>
<p class="hint" id="email-hint">{{ t.email_hint }}</p>
<input class="text" type="email" id="email" name="email" autocomplete="email" required value="{{ email }}" aria-describedby="email-hint"{% if error.is_some() %} aria-invalid="true"{% endif %}>
</div>
<button type="submit">{{ t.send_link }}</button>
</form>
"##
)]
struct SignInHtml<'a> {
    t: &'static HostText,
    lang: &'static str,
    email: &'a str,
    notice: Option<&'a str>,
    error: Option<&'a str>,
}

/// The sign-in page: one email field.
pub fn sign_in_page(
    frame: &Frame,
    email: &str,
    notice: Option<&str>,
    error: Option<&str>,
) -> String {
    let body = SignInHtml {
        t: host_text(frame.language),
        lang: frame.language.code(),
        email,
        notice,
        error,
    }
    .render();
    layout(frame, body)
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r##"<h1>{{ heading }}</h1>
<p role="status">{{ message }}</p>
"##
)]
struct MessageHtml<'a> {
    heading: &'a str,
    message: &'a str,
}

/// A page with a heading and one message (link sent, errors).
pub fn message_page(frame: &Frame, heading: &str, message: &str) -> String {
    layout(frame, MessageHtml { heading, message }.render())
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r##"<h1>{{ t.confirm_title }}</h1>
<p>{{ t.confirm_body }}</p>
<form method="post" action="/host/sign-in/confirm">
<input type="hidden" name="token" value="{{ token }}">
<input type="hidden" name="lang" value="{{ lang }}">
<button type="submit">{{ t.confirm_button }}</button>
</form>
"##
)]
struct ConfirmHtml<'a> {
    t: &'static HostText,
    token: &'a str,
    lang: &'static str,
}

/// The page a sign-in link opens: one button that uses the link.
pub fn confirm_page(frame: &Frame, token: &str) -> String {
    let body = ConfirmHtml {
        t: host_text(frame.language),
        token,
        lang: frame.language.code(),
    }
    .render();
    layout(frame, body)
}

// --- dashboard -----------------------------------------------------------------------------------

struct Card {
    href: String,
    title: String,
    when: String,
    town: String,
    counts: String,
    status: &'static str,
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r##"<h1>{{ t.dashboard_title }}</h1>
<p><a class="button" href="/host/gatherings/new">{{ t.new_gathering }}</a></p>
{% if organizer %}<p><a href="/admin">{{ t.organizer_tools }}</a></p>
{% endif %}{% if cards.is_empty() %}<p>{{ t.no_gatherings }}</p>
{% else %}<ul class="cards">
{% for c in cards %}<li>
<h2><a href="{{ c.href }}">{{ c.title }}</a></h2>
<p class="meta">{{ c.when }} · {{ c.town }}</p>
<p class="meta">{{ c.counts }}</p>
<p><span class="badge">{{ c.status }}</span></p>
</li>
{% endfor %}</ul>
{% endif %}"##
)]
struct DashboardHtml<'a> {
    t: &'static HostText,
    cards: &'a [Card],
    organizer: bool,
}

/// The host's gatherings.
/// The host's dashboard. `organizer`: they are on the organizer list (a link to `/admin`).
pub fn dashboard_page(
    frame: &Frame,
    gatherings: &[GatheringSummary],
    now: OffsetDateTime,
    organizer: bool,
) -> String {
    let t = host_text(frame.language);
    let cards: Vec<Card> = gatherings
        .iter()
        .map(|s| {
            let g = &s.gathering;
            let mut counts = render(t.going_count, &[("count", &s.going.to_string())]);
            if s.waitlist > 0 {
                counts.push_str(" · ");
                counts.push_str(&render(
                    t.waitlist_count,
                    &[("count", &s.waitlist.to_string())],
                ));
            }
            Card {
                href: format!("/host/gatherings/{}", g.id.as_str()),
                title: g.title.as_str().to_owned(),
                when: when(g, frame.language),
                town: format!("{}, {}", g.town, g.state),
                counts,
                status: listing_status(g, now, t),
            }
        })
        .collect();
    layout(
        frame,
        DashboardHtml {
            t,
            cards: &cards,
            organizer,
        }
        .render(),
    )
}

/// Where a gathering stands: past, listed, declined by an organizer, or waiting for one.
fn listing_status(g: &Gathering, now: OffsetDateTime, t: &'static HostText) -> &'static str {
    if g.ends_at <= now {
        t.past
    } else if g.listed {
        t.listed
    } else if g.declined_at.is_some() {
        t.declined
    } else {
        t.awaiting_approval
    }
}

/// When a gathering is, on its own wall clock: `2026-12-05 18:30–20:00 (America/New_York)`.
pub fn when(g: &Gathering, _language: Language) -> String {
    let (date, starts) = local_parts(g.starts_at, &g.timezone);
    let (end_date, ends) = local_parts(g.ends_at, &g.timezone);
    if end_date == date {
        format!("{date} {starts}–{ends} ({})", g.timezone)
    } else {
        format!("{date} {starts} – {end_date} {ends} ({})", g.timezone)
    }
}

// --- gathering form ------------------------------------------------------------------------------

struct Input {
    name: &'static str,
    label: &'static str,
    hint: Option<&'static str>,
    optional: bool,
    kind: &'static str,
    value: String,
    error: Option<&'static str>,
    autocomplete: &'static str,
    inputmode: &'static str,
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r##"{% macro input(i) %}<div class="field">
<label for="{{ i.name }}">{{ i.label }}{% if i.optional %} <span class="opt">{{ t.optional }}</span>{% endif %}</label>
{% if let Some(hint) = i.hint %}<p class="hint" id="{{ i.name }}-hint">{{ hint }}</p>
{% endif %}{% if i.kind == "textarea" %}<textarea id="{{ i.name }}" name="{{ i.name }}"{% if i.error.is_some() || i.hint.is_some() %} aria-describedby="{% if i.hint.is_some() %}{{ i.name }}-hint {% endif %}{% if i.error.is_some() %}{{ i.name }}-error{% endif %}"{% endif %}{% if i.error.is_some() %} aria-invalid="true"{% endif %}>{{ i.value }}</textarea>
{% else %}<input class="text" type="{{ i.kind }}" id="{{ i.name }}" name="{{ i.name }}" value="{{ i.value }}"{% if !i.autocomplete.is_empty() %} autocomplete="{{ i.autocomplete }}"{% endif %}{% if !i.inputmode.is_empty() %} inputmode="{{ i.inputmode }}"{% endif %}{% if !i.optional %} required{% endif %}{% if i.error.is_some() || i.hint.is_some() %} aria-describedby="{% if i.hint.is_some() %}{{ i.name }}-hint {% endif %}{% if i.error.is_some() %}{{ i.name }}-error{% endif %}"{% endif %}{% if i.error.is_some() %} aria-invalid="true"{% endif %}>
{% endif %}{% if let Some(e) = i.error %}<p class="error" id="{{ i.name }}-error">{{ e }}</p>
{% endif %}</div>
{% endmacro %}<h1>{{ heading }}</h1>
{% if !errors.is_empty() %}<div class="summary" role="alert" tabindex="-1" id="summary"><p>{{ summary }}</p><ul>
{% for (field, message) in errors %}<li><a href="#{{ field }}">{{ message }}</a></li>
{% endfor %}</ul></div>
{% endif %}<form method="post" action="{{ action }}" novalidate>
<input type="hidden" name="csrf" value="{{ csrf }}">
{% if let Some(i) = first_name %}{% call input(i) %}{% endcall %}{% endif %}
{% call input(title) %}{% endcall %}
{% call input(description) %}{% endcall %}
<div class="row">{% call input(date) %}{% endcall %}{% call input(starts) %}{% endcall %}{% call input(ends) %}{% endcall %}</div>
{% call input(zip) %}{% endcall %}
<div class="field">
<label for="timezone">{{ t.timezone_label }} <span class="opt">{{ t.optional }}</span></label>
<p class="hint" id="timezone-hint">{{ t.timezone_hint }}</p>
<select class="text" id="timezone" name="timezone" aria-describedby="timezone-hint{% if timezone_error.is_some() %} timezone-error{% endif %}"{% if timezone_error.is_some() %} aria-invalid="true"{% endif %}>
<option value="">—</option>
{% for (z, selected) in zones %}<option value="{{ z }}"{% if *selected %} selected{% endif %}>{{ z }}</option>
{% endfor %}</select>
{% if let Some(e) = timezone_error %}<p class="error" id="timezone-error">{{ e }}</p>
{% endif %}</div>
{% call input(address) %}{% endcall %}
<div class="field check">
<input type="checkbox" id="private" name="private" value="on"{% if private %} checked{% endif %} aria-describedby="private-hint">
<label for="private">{{ t.private_label }}</label>
</div>
<p class="hint more" id="private-hint">{{ t.private_hint }}</p>
{% call input(capacity) %}{% endcall %}
{% call input(accessibility) %}{% endcall %}
<div class="field">
<label for="language">{{ t.language_label }}</label>
<select class="text" id="language" name="language">
<option value="en"{% if language == "en" %} selected{% endif %} lang="en">English</option>
<option value="es"{% if language == "es" %} selected{% endif %} lang="es">Español</option>
</select>
</div>
<button type="submit">{{ submit }}</button>
</form>
<p><a href="{{ cancel_href }}">{{ t.cancel }}</a></p>
"##
)]
struct GatheringFormHtml<'a> {
    t: &'static HostText,
    heading: &'static str,
    summary: String,
    errors: Vec<(&'static str, &'static str)>,
    action: &'a str,
    csrf: &'a str,
    first_name: Option<Input>,
    title: Input,
    description: Input,
    date: Input,
    starts: Input,
    ends: Input,
    zip: Input,
    zones: Vec<(&'static str, bool)>,
    timezone_error: Option<&'static str>,
    address: Input,
    private: bool,
    capacity: Input,
    accessibility: Input,
    language: &'a str,
    submit: &'static str,
    cancel_href: &'a str,
}

/// The gathering form. `editing`: the id of the gathering being edited (else a new one).
pub struct FormPage<'a> {
    pub values: &'a GatheringForm,
    pub errors: &'a [(FormField, &'static str)],
    pub csrf: &'a str,
    pub ask_first_name: bool,
    pub editing: Option<&'a str>,
}

/// Renders the gathering form.
pub fn gathering_form_page(frame: &Frame, page: &FormPage) -> String {
    let t = host_text(frame.language);
    let v = page.values;
    let error = |field: FormField| {
        page.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| *m)
    };
    let input = |field: FormField,
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
        autocomplete: match field {
            FormField::FirstName => "given-name",
            FormField::Zip => "postal-code",
            _ => "",
        },
        inputmode: match field {
            FormField::Zip | FormField::Capacity => "numeric",
            _ => "",
        },
    };
    let (action, cancel_href) = match page.editing {
        Some(id) => (
            format!("/host/gatherings/{id}"),
            format!("/host/gatherings/{id}"),
        ),
        None => ("/host/gatherings".to_owned(), "/host".to_owned()),
    };
    let html = GatheringFormHtml {
        t,
        heading: if page.editing.is_some() {
            t.edit_title
        } else {
            t.create_title
        },
        summary: render(
            t.error_summary,
            &[("count", &page.errors.len().to_string())],
        ),
        errors: page.errors.iter().map(|(f, m)| (f.name(), *m)).collect(),
        action: &action,
        csrf: page.csrf,
        first_name: page.ask_first_name.then(|| {
            input(
                FormField::FirstName,
                t.your_first_name,
                Some(t.your_first_name_hint),
                false,
                "text",
                &v.first_name,
            )
        }),
        title: input(
            FormField::Title,
            t.title_label,
            None,
            false,
            "text",
            &v.title,
        ),
        description: input(
            FormField::Description,
            t.description_label,
            None,
            true,
            "textarea",
            &v.description,
        ),
        date: input(FormField::Date, t.date_label, None, false, "date", &v.date),
        starts: input(
            FormField::Starts,
            t.starts_label,
            None,
            false,
            "time",
            &v.starts,
        ),
        ends: input(FormField::Ends, t.ends_label, None, false, "time", &v.ends),
        zip: input(FormField::Zip, t.zip_label, None, false, "text", &v.zip),
        zones: TIME_ZONES
            .iter()
            .map(|z| (*z, *z == v.timezone.trim()))
            .collect(),
        timezone_error: error(FormField::Timezone),
        address: input(
            FormField::Address,
            t.address_label,
            None,
            false,
            "text",
            &v.address,
        ),
        private: v.is_private(),
        capacity: input(
            FormField::Capacity,
            t.capacity_label,
            Some(t.capacity_hint),
            true,
            "text",
            &v.capacity,
        ),
        accessibility: input(
            FormField::Accessibility,
            t.accessibility_label,
            Some(t.accessibility_hint),
            true,
            "textarea",
            &v.accessibility,
        ),
        language: if v.language == "es" { "es" } else { "en" },
        submit: if page.editing.is_some() {
            t.save_edit
        } else {
            t.save_create
        },
        cancel_href: &cancel_href,
    }
    .render();
    layout(frame, html)
}

// --- gathering page ------------------------------------------------------------------------------

struct Row {
    first_name: String,
    status: &'static str,
    source: &'static str,
    invited: String,
    at: String,
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r##"<p><a href="/host">{{ t.back_to_dashboard }}</a></p>
{% if let Some(notice) = notice %}<p class="notice" role="status">{{ notice }}</p>
{% endif %}<h1>{{ title }}</h1>
<p class="meta">{{ when }}</p>
<p class="meta">{{ place }}</p>
{% if private %}<p class="hint">{{ t.address_private_note }}</p>
{% endif %}<p><span class="badge">{{ status }}</span> <a href="/host/gatherings/{{ id }}/edit">{{ t.edit }}</a></p>
<h2>{{ t.share_heading }}</h2>
<div class="field">
<label for="share">{{ t.share_link_label }}</label>
<input class="text" type="text" id="share" value="{{ share_url }}" readonly>
</div>
<div class="field">
<label for="embed">{{ t.embed_label }}</label>
<textarea id="embed" readonly>{{ embed }}</textarea>
</div>
<p><strong>{{ t.text_code_label }}:</strong> {{ text_line }}</p>
<p><a class="button" href="/host/gatherings/{{ id }}/invite">{{ i.invite_people }}</a></p>
{% if !history.is_empty() %}<h2 id="history">{{ i.history_heading }}</h2>
<ul class="cards">
{% for h in history %}<li><p class="meta">{{ h.label }}</p>
<progress max="{{ h.total }}" value="{{ h.done }}" aria-label="{{ h.label }}">{{ h.done }}/{{ h.total }}</progress>
<p class="batch-status" role="status">{{ h.text }}</p></li>
{% endfor %}</ul>
<p id="funnel">{{ funnel }}</p>
{% endif %}<h2 id="attendees">{{ t.attendees_heading }}</h2>
<p>{{ counts }}</p>
{% if rows.is_empty() %}<p>{{ t.no_attendees }}</p>
{% else %}<div class="table-wrap"><table aria-labelledby="attendees">
<thead><tr><th scope="col">{{ t.col_name }}</th><th scope="col">{{ t.col_status }}</th><th scope="col">{{ t.col_joined_by }}</th><th scope="col">{{ t.col_invited_by }}</th><th scope="col">{{ t.col_rsvp_at }}</th></tr></thead>
<tbody>
{% for r in rows %}<tr><td>{{ r.first_name }}</td><td>{{ r.status }}</td><td>{{ r.source }}</td><td>{{ r.invited }}</td><td>{{ r.at }}</td></tr>
{% endfor %}</tbody></table></div>
<p><a href="/host/gatherings/{{ id }}/attendees.csv" download>{{ t.download_csv }}</a></p>
{% endif %}"##
)]
struct GatheringHtml<'a> {
    t: &'static HostText,
    i: &'static InviteText,
    history: &'a [HistoryLine],
    funnel: String,
    notice: Option<&'a str>,
    id: &'a str,
    title: &'a str,
    when: String,
    place: String,
    private: bool,
    status: &'static str,
    share_url: String,
    embed: String,
    text_line: String,
    counts: String,
    rows: Vec<Row>,
}

/// What the gathering page shows besides the gathering.
pub struct GatheringPage<'a> {
    pub gathering: &'a Gathering,
    /// The address, opened for its host.
    pub address: &'a str,
    pub attendees: &'a [Attendee],
    pub public_base_url: &'a str,
    pub text_number: &'a str,
    pub notice: Option<&'a str>,
    pub now: OffsetDateTime,
    pub history: &'a [HistoryLine],
    pub funnel: super::invites::Funnel,
}

/// The host's view of one gathering: share link, embed snippet, text code and who is coming.
pub fn gathering_page(frame: &Frame, page: &GatheringPage) -> String {
    let t = host_text(frame.language);
    let g = page.gathering;
    let going = page
        .attendees
        .iter()
        .filter(|a| a.status == crate::store::RsvpStatus::Going)
        .count();
    let waitlist = page.attendees.len() - going;
    let mut counts = render(t.going_count, &[("count", &going.to_string())]);
    counts.push_str(" · ");
    counts.push_str(&render(
        t.waitlist_count,
        &[("count", &waitlist.to_string())],
    ));
    let rows = page
        .attendees
        .iter()
        .map(|a| {
            let (date, at) = local_parts(a.rsvp_at, &g.timezone);
            Row {
                first_name: a.first_name.clone(),
                status: status_text(a.status, frame.language),
                source: source_text(a.source, frame.language),
                invited: invited_text(a.invited, frame.language),
                at: format!("{date} {at}"),
            }
        })
        .collect();
    let base = page.public_base_url;
    let i = invite_text(frame.language);
    let f = page.funnel;
    let html = GatheringHtml {
        t,
        i,
        history: page.history,
        funnel: render(
            i.invited_line,
            &[
                ("sms_invited", &f.sms_invited.to_string()),
                ("sms_joined", &f.sms_joined.to_string()),
                ("email_invited", &f.email_invited.to_string()),
                ("email_joined", &f.email_joined.to_string()),
            ],
        ),
        notice: page.notice,
        id: g.id.as_str(),
        title: g.title.as_str(),
        when: when(g, frame.language),
        place: format!(
            "{} · {}, {} {}",
            page.address,
            g.town,
            g.state,
            g.zip.as_str()
        ),
        private: matches!(g.address, Address::Private(_)),
        status: listing_status(g, page.now, t),
        share_url: format!("{base}/g/{}", g.id.as_str()),
        embed: format!(
            "<script src=\"{base}/embed.js\" data-gathering=\"{}\" async></script>",
            g.id.as_str()
        ),
        text_line: render(
            t.text_code_line,
            &[("code", g.code.as_str()), ("number", page.text_number)],
        ),
        counts,
        rows,
    }
    .render();
    layout(frame, html)
}

// --- invitations ---------------------------------------------------------------------------------

/// The script of the invite page: reads a chosen contacts file into the textarea (the page works
/// without it: paste). Served from our origin (`script-src 'self'`); reads nothing else.
pub const HOST_JS: &str = include_str!("host.js");

#[derive(Template)]
#[template(
    ext = "html",
    source = r##"<p><a href="/host/gatherings/{{ id }}">{{ title }}</a></p>
<h1>{{ i.invite_heading }}</h1>
{% if let Some(error) = error %}<div class="summary" role="alert" tabindex="-1"><p>{{ error }}</p></div>
{% endif %}<p>{{ i.invite_intro }}</p>
<form method="post" action="/host/gatherings/{{ id }}/invite" novalidate>
<input type="hidden" name="csrf" value="{{ csrf }}">
<input type="hidden" name="action" value="preview">
<div class="field" id="file-field" hidden>
<label for="file">{{ i.file_label }}</label>
<input type="file" id="file" accept=".csv,.vcf,.txt,text/csv,text/vcard,text/plain">
</div>
<div class="field">
<label for="contacts">{{ i.contacts_label }}</label>
<p class="hint" id="contacts-hint">{{ i.contacts_hint }}</p>
<textarea id="contacts" name="contacts" rows="12" aria-describedby="contacts-hint" autocomplete="off" spellcheck="false">{{ contacts }}</textarea>
</div>
<button type="submit">{{ i.preview_button }}</button>
</form>
<script src="/host/host.js" defer></script>
"##
)]
struct InviteFormHtml<'a> {
    i: &'static InviteText,
    id: &'a str,
    title: &'a str,
    csrf: &'a str,
    contacts: &'a str,
    error: Option<&'a str>,
}

/// The paste-your-contacts page.
pub fn invite_form_page(
    frame: &Frame,
    gathering: &Gathering,
    csrf: &str,
    contacts: &str,
    error: Option<&str>,
) -> String {
    let body = InviteFormHtml {
        i: invite_text(frame.language),
        id: gathering.id.as_str(),
        title: gathering.title.as_str(),
        csrf,
        contacts,
        error,
    }
    .render();
    layout(frame, body)
}

struct PreviewLine {
    line: usize,
    name: String,
    sms: String,
    email: String,
}

struct RejectedLine {
    line: usize,
    excerpt: String,
    reason: &'static str,
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r##"<p><a href="/host/gatherings/{{ id }}">{{ title }}</a></p>
<h1>{{ i.preview_heading }}</h1>
{% if let Some(error) = error %}<div class="summary" role="alert" tabindex="-1" id="summary"><p>{{ error }}</p></div>
{% endif %}<p role="status"><strong>{{ summary }}</strong></p>
{% if merged > 0 %}<p>{{ merged_line }}</p>
{% endif %}{% if !rows.is_empty() %}<div class="table-wrap"><table aria-label="{{ i.preview_heading }}">
<thead><tr><th scope="col">{{ i.col_line }}</th><th scope="col">{{ i.col_channels }}</th><th scope="col">{{ i.channel_sms }}</th><th scope="col">{{ i.channel_email }}</th></tr></thead>
<tbody>
{% for r in rows %}<tr><td>{{ r.line }}</td><td>{{ r.name }}</td><td>{{ r.sms }}</td><td>{{ r.email }}</td></tr>
{% endfor %}</tbody></table></div>
{% endif %}{% if !rejected.is_empty() %}<h2>{{ i.rejected_heading }}</h2>
<div class="table-wrap"><table aria-label="{{ i.rejected_heading }}">
<thead><tr><th scope="col">{{ i.col_line }}</th><th scope="col">{{ i.col_channels }}</th><th scope="col">{{ i.col_reason }}</th></tr></thead>
<tbody>
{% for r in rejected %}<tr><td>{{ r.line }}</td><td>{{ r.excerpt }}</td><td>{{ r.reason }}</td></tr>
{% endfor %}</tbody></table></div>
{% endif %}<h2>{{ i.sms_heading }}</h2>
<pre id="sms-text">{{ sms_text }}</pre>
<p id="sms-info">{{ sms_info }}{% if sms_fixed %} {{ i.sms_fixed }}{% endif %}</p>
<h2>{{ i.email_heading }}</h2>
<p><strong>{{ email_subject }}</strong></p>
<pre>{{ email_text }}</pre>
<p id="cost">{{ cost }}</p>
<form method="post" action="/host/gatherings/{{ id }}/invite" novalidate>
<input type="hidden" name="csrf" value="{{ csrf }}">
<textarea name="contacts" hidden>{{ contacts }}</textarea>
{% if can_send %}<div class="field check">
<input type="checkbox" id="attest" name="attest" value="yes" required{% if error.is_some() %} aria-invalid="true"{% endif %}>
<label for="attest">{{ i.attest_label }}</label>
</div>
<button type="submit" name="action" value="send">{{ i.send_button }}</button>
{% endif %}<button type="submit" name="action" value="edit" class="secondary">{{ i.edit_list }}</button>
</form>
"##
)]
struct PreviewHtml<'a> {
    i: &'static InviteText,
    id: &'a str,
    title: &'a str,
    csrf: &'a str,
    contacts: &'a str,
    error: Option<&'a str>,
    summary: String,
    merged: usize,
    merged_line: String,
    rows: Vec<PreviewLine>,
    rejected: Vec<RejectedLine>,
    sms_text: &'a str,
    sms_info: String,
    sms_fixed: bool,
    email_subject: &'a str,
    email_text: &'a str,
    cost: String,
    can_send: bool,
}

fn plan_text(plan: Option<Plan>, i: &InviteText) -> String {
    match plan {
        None => "—".to_owned(),
        Some(Plan::Send) => i.will_send.to_owned(),
        Some(Plan::Skip(reason)) => format!(
            "{}: {}",
            i.will_skip,
            match reason {
                SkipReason::OptedOut | SkipReason::Suppressed => i.skip_opted_out,
                SkipReason::AlreadyInvited => i.skip_already_invited,
                SkipReason::Undeliverable => i.skip_undeliverable,
                SkipReason::NoConsent => i.skip_other,
            }
        ),
    }
}

/// The preview of a batch: who gets what, who is skipped and why, the texts, the cost.
pub fn preview_page(
    frame: &Frame,
    gathering: &Gathering,
    preview: &Preview,
    csrf: &str,
    contacts: &str,
    error: Option<&str>,
) -> String {
    let i = invite_text(frame.language);
    let body = PreviewHtml {
        i,
        id: gathering.id.as_str(),
        title: gathering.title.as_str(),
        csrf,
        contacts,
        error,
        summary: render(
            i.summary_line,
            &[
                ("sms", &preview.sms_to_send.to_string()),
                ("email", &preview.emails_to_send.to_string()),
                ("skipped", &preview.skipped.to_string()),
            ],
        ),
        merged: preview.merged,
        merged_line: render(i.merged_line, &[("count", &preview.merged.to_string())]),
        rows: preview
            .rows
            .iter()
            .map(|r| PreviewLine {
                line: r.contact.line,
                name: r
                    .contact
                    .first_name
                    .as_ref()
                    .map(|n| n.as_str().to_owned())
                    .unwrap_or_default(),
                sms: plan_text(r.sms, i),
                email: plan_text(r.email, i),
            })
            .collect(),
        rejected: preview
            .rejected
            .iter()
            .map(|r| RejectedLine {
                line: r.line,
                excerpt: r.excerpt.clone(),
                reason: r.reason.text(frame.language),
            })
            .collect(),
        sms_text: &preview.sms_text,
        sms_info: render(
            i.sms_info,
            &[
                ("segments", &preview.sms_info.segments.to_string()),
                ("encoding", encoding_name(preview.sms_info.encoding)),
            ],
        ),
        sms_fixed: preview.sms_fixed,
        email_subject: &preview.email_subject,
        email_text: &preview.email_text,
        cost: render(
            i.cost_line,
            &[("cost", &format!("{:.2}", preview.cost_usd))],
        ),
        can_send: preview.to_send() > 0,
    }
    .render();
    layout(frame, body)
}

/// One batch as the gathering page shows it.
pub struct HistoryLine {
    pub label: String,
    pub done: u64,
    pub total: u64,
    pub text: String,
    pub finished: bool,
    /// Messages are going out now (not all done, and not only waiting for the morning).
    pub sending: bool,
}

/// The invitation history of a gathering, worded.
pub fn history_lines(
    history: &[BatchProgress],
    timezone: &str,
    language: Language,
) -> Vec<HistoryLine> {
    let i = invite_text(language);
    history
        .iter()
        .map(|b| {
            let p = &b.progress;
            let (date, at) = local_parts(b.batch.created_at, timezone);
            let mut text = render(
                i.progress_line,
                &[
                    ("done", &p.done().to_string()),
                    ("total", &p.queued.to_string()),
                    ("sent", &p.sent.to_string()),
                    ("failed", &(p.failed + p.unknown).to_string()),
                    ("skipped", &p.skipped_total().to_string()),
                ],
            );
            let reasons: Vec<String> = p
                .skipped
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(reason, n)| {
                    let why = match reason {
                        SkipReason::OptedOut | SkipReason::Suppressed => i.skip_opted_out,
                        SkipReason::AlreadyInvited => i.skip_already_invited,
                        SkipReason::Undeliverable => i.skip_undeliverable,
                        SkipReason::NoConsent => i.skip_other,
                    };
                    format!("{n} {why}")
                })
                .collect();
            if !reasons.is_empty() {
                text.push_str(&format!(" ({})", reasons.join(", ")));
            }
            text.push_str("; ");
            text.push_str(&render(
                i.delivered_line,
                &[("count", &p.delivered.to_string())],
            ));
            for (count, line) in [
                (p.deferred, i.progress_deferred),
                (p.bounced, i.progress_bounced),
                (p.complained, i.progress_complained),
            ] {
                if count > 0 {
                    text.push_str(". ");
                    text.push_str(&render(line, &[("count", &count.to_string())]));
                }
            }
            let finished = b.is_done();
            if finished {
                text.push_str(". ");
                text.push_str(i.progress_done);
            }
            HistoryLine {
                label: render(
                    i.batch_line,
                    &[
                        ("when", &format!("{date} {at} ({timezone})")),
                        ("sms", &b.batch.sms.to_string()),
                        ("email", &b.batch.email.to_string()),
                    ],
                ),
                done: p.done(),
                total: p.queued.max(1),
                text,
                finished,
                sending: p.done() + p.deferred < p.queued,
            }
        })
        .collect()
}

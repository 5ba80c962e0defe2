//! The registration form's pages: the form (hosted at `/g/{id}`, `/t/{id}`, `/join`, and the same page
//! inside the embed's iframe with `?embed=1`), the thank-you page and the error page, in English and
//! Spanish. Every word comes from [`super::text`]; every value is HTML-escaped by the template engine
//! (askama).
//!
//! # Why an iframe
//!
//! The snippet `<script src="{BASE}/embed.js" data-gathering="{ID}" async></script>` inserts an
//! **iframe** pointing at the hosted form page with `?embed=1`, not a form in a shadow DOM:
//!
//! - An iframe is the only isolation that keeps the host page's CSS and JavaScript fully apart, both
//!   ways. A shadow root still inherits fonts, colours and custom properties, is styled by `::part`
//!   and `!important` rules, and lives in the host's JavaScript realm, where any script on the page
//!   (an analytics tag, an extension, a compromised dependency) can read what a person types or patch
//!   `fetch`. In an iframe from our origin the host page can read nothing, and the person's name,
//!   email and phone never enter the host's realm.
//! - The host page's cookies stay the host's: the form runs on our origin and its script sends
//!   requests with `credentials: "omit"`.
//! - The page keeps a strict Content-Security-Policy of its own ([`page_csp`]: scripts from our
//!   origin only, `form-action 'self'`, `frame-ancestors` limited to the allowed sites), whatever the
//!   host page's policy is.
//! - The same page is the plain hosted form, which works without JavaScript (a form POST and a
//!   redirect to the thank-you page) and is the link people share: one form, one set of tests.
//!
//! The iframe's height follows its content: `form.js` posts `{type: "rising:height", height}` to the
//! parent, and `embed.js` accepts it only from that iframe and our origin.
//!
//! # The pages
//!
//! Mobile-first, no framework, no third-party anything (fonts are system fonts, the CSP allows
//! nothing else), accessible: `lang`, one `<main>` and one `<h1>`, a label for every field, errors
//! next to their fields (`aria-invalid`, `aria-describedby`) and in a summary (`role="alert"`) that
//! takes the focus, visible focus, text contrast above 7:1 and 4.5:1 for the button (a colour the
//! host asks for is used only if white text on it reaches 4.5:1). `form.js` enhances the form
//! (JSON submit, errors without a reload, the copy button, the iframe's height) and is never needed.

use askama::Template;

use super::form::{Field, RawForm};
use super::text::{FormText, form_text};
use crate::domain::Language;
use crate::messages::render;

/// The embed script, served at `{BASE}/embed.js`.
pub const EMBED_JS: &str = include_str!("embed.js");
/// The form page's script, served at the page's `script_src`.
pub const FORM_JS: &str = include_str!("form.js");

/// What the form page says about the event it registers for (already worded: the date and time in
/// the event's own time zone, and the place as it may be shown publicly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSummary {
    pub title: String,
    pub when: String,
    pub place: String,
}

/// What the form registers for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageTarget {
    /// The campaign-wide sign-up (with "I want to host").
    Campaign,
    Gathering {
        id: String,
        summary: EventSummary,
    },
    Training {
        id: String,
        summary: EventSummary,
    },
}

/// The host page's font and colour (`data-font`, `data-color`), validated so that nothing but a
/// font name and a colour can ever reach the page's CSS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Style {
    /// Font families, comma-separated, each a generic name or `[A-Za-z0-9 -]` (without quotes).
    pub font: Option<String>,
    /// `#rrggbb`, lower case, dark enough for white text (4.5:1).
    pub color: Option<String>,
}

/// Generic and system font families that are written without quotes.
const GENERIC_FONTS: &[&str] = &[
    "serif",
    "sans-serif",
    "monospace",
    "system-ui",
    "ui-serif",
    "ui-sans-serif",
    "ui-monospace",
    "ui-rounded",
];
/// The longest family name accepted, in characters.
const MAX_FONT_NAME: usize = 40;
/// The most families accepted in `data-font`.
const MAX_FONTS: usize = 4;
/// What follows the host's font: the system fonts.
const FONT_FALLBACK: &str = r#"system-ui,-apple-system,"Segoe UI",Roboto,sans-serif"#;
/// The contrast white button text needs against the colour (WCAG AA, normal text).
const MIN_CONTRAST: f64 = 4.5;

impl Style {
    /// Reads `font` and `color` from the page's query. Anything that is not plainly a font name or a
    /// `#rgb`/`#rrggbb` colour is dropped, and so is a colour too light for white text.
    pub fn from_query(font: Option<&str>, color: Option<&str>) -> Style {
        Style {
            font: font.and_then(parse_fonts),
            color: color.and_then(parse_color),
        }
    }

    /// The CSS this style adds to the page. Validates again, so a `Style` built by hand cannot
    /// inject anything either.
    fn css(&self) -> String {
        let valid = Style::from_query(self.font.as_deref(), self.color.as_deref());
        let mut css = String::new();
        if let Some(color) = valid.color {
            css.push_str(&format!(":root{{--accent:{color}}}"));
        }
        if let Some(fonts) = valid.font {
            let stack: Vec<String> = fonts
                .split(',')
                .map(|family| {
                    if GENERIC_FONTS.contains(&family) {
                        family.to_owned()
                    } else {
                        format!("\"{family}\"")
                    }
                })
                .collect();
            css.push_str(&format!(
                "body{{font-family:{},{FONT_FALLBACK}}}",
                stack.join(",")
            ));
        }
        css
    }
}

/// `Georgia`, `"Open Sans", sans-serif`: up to [`MAX_FONTS`] families, each a generic name or
/// letters, digits, spaces and hyphens (quotes around one are allowed and dropped).
fn parse_fonts(text: &str) -> Option<String> {
    let families: Vec<&str> = text.split(',').collect();
    if families.len() > MAX_FONTS {
        return None;
    }
    let mut valid = Vec::new();
    for family in families {
        let family = family.trim();
        let family = ['"', '\'']
            .iter()
            .find_map(|q| family.strip_prefix(*q).and_then(|f| f.strip_suffix(*q)))
            .unwrap_or(family);
        let family = family.split_whitespace().collect::<Vec<_>>().join(" ");
        let lower = family.to_ascii_lowercase();
        if let Some(generic) = GENERIC_FONTS.iter().find(|g| **g == lower) {
            valid.push((*generic).to_owned());
            continue;
        }
        let ok = (1..=MAX_FONT_NAME).contains(&family.len())
            && family.bytes().any(|b| b.is_ascii_alphabetic())
            && family
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b' ' || b == b'-');
        if !ok {
            return None;
        }
        valid.push(family);
    }
    Some(valid.join(","))
}

/// `#rgb` or `#rrggbb` → `#rrggbb` when white text on it has enough contrast.
fn parse_color(text: &str) -> Option<String> {
    let hex = text.trim().strip_prefix('#')?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let full: String = match hex.len() {
        3 => hex.chars().flat_map(|c| [c, c]).collect(),
        6 => hex.to_owned(),
        _ => return None,
    };
    let full = full.to_ascii_lowercase();
    let channel = |at: usize| u8::from_str_radix(&full[at..at + 2], 16).ok();
    let (r, g, b) = (channel(0)?, channel(2)?, channel(4)?);
    (contrast_with_white(r, g, b) >= MIN_CONTRAST).then(|| format!("#{full}"))
}

/// WCAG 2 contrast ratio of white against the colour.
fn contrast_with_white(r: u8, g: u8, b: u8) -> f64 {
    let linear = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.040_45 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let luminance = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
    1.05 / (luminance + 0.05)
}

/// The CSS of every page (the host's font and colour come after it).
pub(crate) const CSS: &str = r#"*{box-sizing:border-box}
[hidden]{display:none!important}
:root{--accent:#1d4ed8;color-scheme:light}
body{margin:0;font:1.0625rem/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#fafafa}
main{display:flow-root;max-width:34rem;margin:0 auto;padding:1.5rem 1.25rem 2rem;background:#fff;min-height:100vh}
h1{font-size:1.5rem;line-height:1.25;margin:.5rem 0 1rem}
h2{font-size:1.25rem;line-height:1.3;margin:0 0 .75rem}
p,ul{margin:0 0 1rem}
a{color:#1d4ed8}
.program{font-weight:600;color:#3d3d3d;margin:0}
.event{font-weight:600}
.field{margin:0 0 1.25rem}
label{display:block;font-weight:600;margin:0 0 .25rem}
.opt,legend{font-weight:400;color:#3d3d3d}
fieldset{border:0;margin:0;padding:0;min-width:0}
legend{padding:0;margin:0 0 .75rem}
input,select{font:inherit;color:inherit}
.text{display:block;width:100%;min-height:3rem;padding:.5rem .75rem;background:#fff;border:2px solid #595959;border-radius:.5rem}
.check{display:flex;gap:.75rem;align-items:flex-start}
.check input{flex:none;width:1.5rem;height:1.5rem;margin:.1rem 0 0;accent-color:var(--accent)}
.check label{font-weight:400;margin:0}
.more{margin:.25rem 0 0 2.25rem}
.more a{margin-right:1rem}
[aria-invalid=true]{border-color:#b91c1c}
.error{color:#b91c1c;font-weight:600;margin:.25rem 0 0}
.summary{border:3px solid #b91c1c;border-radius:.5rem;padding:.75rem 1rem;margin:0 0 1.5rem}
.summary p{font-weight:600}
.summary ul,.summary p:last-child{margin:0}
.summary a{color:#b91c1c}
button{display:block;width:100%;min-height:3rem;margin:1.5rem 0 1rem;padding:.75rem 1rem;font:inherit;font-weight:600;color:#fff;background:var(--accent);border:2px solid var(--accent);border-radius:.5rem;cursor:pointer}
button:hover{box-shadow:inset 0 0 0 3rem rgba(0,0,0,.18)}
button:disabled{cursor:progress;box-shadow:inset 0 0 0 3rem rgba(255,255,255,.2)}
:focus-visible,.summary:focus,#rising-thanks:focus{outline:3px solid var(--accent);outline-offset:2px}
.share{display:flex;flex-wrap:wrap;gap:.5rem}
.share .text{flex:1 1 12rem;width:auto;min-width:0}
.share button{width:auto;margin:0}
.hp{position:absolute;left:-10000px;top:0;width:1px;height:1px;overflow:hidden}
footer{margin-top:2rem;border-top:1px solid #d4d4d4;padding-top:1rem;font-size:.9375rem}
@media (min-width:40rem){main{margin-top:2rem;min-height:0;border:1px solid #d4d4d4;border-radius:.75rem}}
.embed body{background:#fff}
.embed main{max-width:none;margin:0;padding:.5rem;min-height:0;border:0}
.embed h1{margin-top:0}
.embed footer{margin-top:1rem}
"#;

/// One text field (or the language menu's error and description).
struct TextInput<'a> {
    name: &'static str,
    label: &'static str,
    optional: bool,
    kind: &'static str,
    autocomplete: &'static str,
    inputmode: Option<&'static str>,
    required: bool,
    value: &'a str,
    error: Option<String>,
    describedby: Option<String>,
}

/// One checkbox.
struct Check {
    name: &'static str,
    label: String,
    checked: bool,
    required: bool,
    error: Option<String>,
    describedby: Option<String>,
}

/// A line of the error summary; `href` when the field is on the page.
struct SummaryItem {
    href: Option<&'static str>,
    message: String,
}

/// A link to the same page in the other language.
struct Switch {
    href: String,
    lang: &'static str,
    label: &'static str,
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r##"{% macro text_input(f) %}<div class="field">
<label for="{{ f.name }}">{{ f.label }}{% if f.optional %} <span class="opt">({{ t.optional }})</span>{% endif %}</label>
<input class="text" type="{{ f.kind }}" id="{{ f.name }}" name="{{ f.name }}" value="{{ f.value }}" autocomplete="{{ f.autocomplete }}"{% if let Some(mode) = f.inputmode %} inputmode="{{ mode }}"{% endif %}{% if f.required %} required{% endif %}{% if f.error.is_some() %} aria-invalid="true"{% endif %}{% if let Some(ids) = f.describedby %} aria-describedby="{{ ids }}"{% endif %}>
<p class="error" id="{{ f.name }}-error"{% if f.error.is_none() %} hidden{% endif %}>{% if let Some(e) = f.error %}{{ e }}{% endif %}</p>
</div>
{% endmacro %}{% macro check(c) %}<div class="field">
<div class="check"><input type="checkbox" id="{{ c.name }}" name="{{ c.name }}" value="on"{% if c.checked %} checked{% endif %}{% if c.required %} required{% endif %}{% if c.error.is_some() %} aria-invalid="true"{% endif %}{% if let Some(ids) = c.describedby %} aria-describedby="{{ ids }}"{% endif %}>
<label for="{{ c.name }}">{{ c.label }}</label></div>
{{ caller() }}<p class="error" id="{{ c.name }}-error"{% if c.error.is_none() %} hidden{% endif %}>{% if let Some(e) = c.error %}{{ e }}{% endif %}</p>
</div>
{% endmacro %}<!doctype html>
<html lang="{{ lang }}"{% if embed %} class="embed"{% endif %}>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{{ heading }} · {{ program }}</title>
<style>{{ CSS|safe }}{{ style_css|safe }}</style>
<script src="{{ script_src }}" defer></script>
</head>
<body>
<main>
{% if !embed %}<p class="program">{{ program }}</p>
{% endif %}<h1 id="heading">{{ heading }}</h1>
{% if let Some(s) = event %}<p class="event">{{ s.when }}<br>{{ s.place }}</p>
{% else %}<p>{{ t.intro_signup }}</p>
{% endif %}<form id="rising-form" method="post" action="{{ action }}" accept-charset="utf-8" aria-labelledby="heading" data-register-url="{{ register_url }}" data-sending="{{ t.sending }}" data-summary="{{ t.error_summary }}" data-network="{{ t.err_network }}" data-unavailable="{{ t.unavailable }}" data-thanks="{{ t.thanks_heading }}" data-share="{{ t.bring_a_friend }}" data-copy="{{ t.copy_link }}" data-copied="{{ t.copied }}">
<div id="rising-errors" class="summary" role="alert" tabindex="-1"{% if summary.is_empty() %} hidden{% endif %}>{% if !summary.is_empty() %}
<p>{{ summary_text }}</p>
<ul>
{% for item in summary %}<li>{% if let Some(href) = item.href %}<a href="#{{ href }}">{{ item.message }}</a>{% else %}{{ item.message }}{% endif %}</li>
{% endfor %}</ul>
{% endif %}</div>
<input type="hidden" name="submission_id" value="{{ submission_id }}">
{% if let Some((name, id)) = event_field %}<input type="hidden" name="{{ name }}" value="{{ id }}">
{% endif %}{% if let Some(code) = referral %}<input type="hidden" name="referral" value="{{ code }}">
{% endif %}{% call text_input(first_name) %}{% endcall %}{% call text_input(last_name) %}{% endcall %}<fieldset>
<legend>{{ t.contact_hint }}</legend>
{% call text_input(email) %}{% endcall %}{% call text_input(phone) %}{% endcall %}</fieldset>
{% call text_input(zip) %}{% endcall %}<div class="field">
<label for="language">{{ t.language }}</label>
<select class="text" id="language" name="language"{% if language.error.is_some() %} aria-invalid="true"{% endif %}{% if let Some(ids) = language.describedby %} aria-describedby="{{ ids }}"{% endif %}>
{% for (code, name) in languages %}<option value="{{ code }}" lang="{{ code }}"{% if *code == language.value %} selected{% endif %}>{{ name }}</option>
{% endfor %}</select>
<p class="error" id="language-error"{% if language.error.is_none() %} hidden{% endif %}>{% if let Some(e) = language.error %}{{ e }}{% endif %}</p>
</div>
{% if let Some(h) = host %}{% call check(h) %}{% endcall %}{% endif %}{% call check(commitment) %}<p class="more" id="commitment-note"><a href="{{ safety_url }}" target="_blank" rel="noopener">{{ t.commitment_link }}</a></p>
{% endcall %}{% call check(sms_consent) %}<p class="more" id="sms_consent-note"><a href="{{ terms_url }}" target="_blank" rel="noopener">{{ t.terms }}</a> <a href="{{ privacy_url }}" target="_blank" rel="noopener">{{ t.privacy }}</a></p>
{% endcall %}<div class="hp" aria-hidden="true"><label for="website">{{ t.honeypot }}</label><input type="text" id="website" name="website" value="" tabindex="-1" autocomplete="off" aria-hidden="true"></div>
<button type="submit">{{ t.submit }}</button>
</form>
<footer>
<p><a href="{{ switch.href }}" hreflang="{{ switch.lang }}" lang="{{ switch.lang }}">{{ switch.label }}</a></p>
</footer>
</main>
</body>
</html>
"##
)]
struct FormHtml<'a> {
    lang: &'static str,
    embed: bool,
    program: &'a str,
    heading: String,
    style_css: String,
    script_src: &'a str,
    t: &'static FormText,
    event: Option<&'a EventSummary>,
    action: &'a str,
    register_url: &'a str,
    summary: Vec<SummaryItem>,
    summary_text: String,
    submission_id: &'a str,
    event_field: Option<(&'static str, &'a str)>,
    referral: Option<&'a str>,
    first_name: TextInput<'a>,
    last_name: TextInput<'a>,
    email: TextInput<'a>,
    phone: TextInput<'a>,
    zip: TextInput<'a>,
    language: TextInput<'a>,
    languages: [(&'static str, &'static str); 2],
    host: Option<Check>,
    commitment: Check,
    sms_consent: Check,
    safety_url: &'a str,
    terms_url: &'a str,
    privacy_url: &'a str,
    switch: Switch,
}

/// Everything the form page shows.
pub struct FormPage<'a> {
    pub language: Language,
    pub program: &'a str,
    /// Where the form POSTs (an absolute path like `/register`).
    pub action: &'a str,
    pub target: &'a PageTarget,
    /// What the person sent, to fill the fields again after errors (the honeypot never is).
    pub values: &'a RawForm,
    /// Already-translated messages per field ([`Field::Form`]: the whole form).
    pub errors: &'a [(Field, String)],
    pub submission_id: &'a str,
    pub referral: Option<&'a str>,
    /// Inside the embed's iframe: no page chrome.
    pub embed: bool,
    pub safety_url: &'a str,
    pub terms_url: &'a str,
    pub privacy_url: &'a str,
    /// The same page in the other language.
    pub other_language_href: String,
    pub style: &'a Style,
    /// The URL of `form.js` (loaded with `defer`; the page works without it).
    pub script_src: &'a str,
    /// Where `form.js` POSTs JSON (the same as `action`).
    pub register_url: &'a str,
}

/// The fields that are shown on the page, so the summary can link to them.
const SHOWN: &[Field] = &[
    Field::FirstName,
    Field::LastName,
    Field::Email,
    Field::Phone,
    Field::Zip,
    Field::Language,
    Field::Commitment,
    Field::SmsConsent,
];

fn other(language: Language) -> Language {
    match language {
        Language::En => Language::Es,
        Language::Es => Language::En,
    }
}

/// The error messages of one field, joined; `None` without any.
fn field_error(errors: &[(Field, String)], field: Field) -> Option<String> {
    let messages: Vec<&str> = errors
        .iter()
        .filter(|(f, _)| *f == field)
        .map(|(_, m)| m.as_str())
        .collect();
    (!messages.is_empty()).then(|| messages.join(" "))
}

/// `aria-describedby`: the given ids, then the error's when there is one.
fn describedby(name: &str, note: Option<&str>, error: bool) -> Option<String> {
    let mut ids: Vec<String> = note.map(str::to_owned).into_iter().collect();
    if error {
        ids.push(format!("{name}-error"));
    }
    (!ids.is_empty()).then(|| ids.join(" "))
}

fn text_input<'a>(
    errors: &[(Field, String)],
    field: Field,
    label: &'static str,
    kind: &'static str,
    autocomplete: &'static str,
    value: &'a Option<String>,
) -> TextInput<'a> {
    let error = field_error(errors, field);
    TextInput {
        name: field.name(),
        label,
        optional: false,
        kind,
        autocomplete,
        inputmode: None,
        required: false,
        value: value.as_deref().unwrap_or(""),
        describedby: describedby(field.name(), None, error.is_some()),
        error,
    }
}

/// A checkbox; `note`: the id of the note after it (its links), read as its description.
fn check(
    errors: &[(Field, String)],
    field: Field,
    label: String,
    checked: bool,
    note: Option<&'static str>,
) -> Check {
    let error = field_error(errors, field);
    Check {
        name: field.name(),
        label,
        checked,
        required: false,
        describedby: describedby(field.name(), note, error.is_some()),
        error,
    }
}

/// Renders the form page.
pub fn form_page(page: &FormPage) -> String {
    let t = form_text(page.language);
    let errors = page.errors;
    let values = page.values;

    let (heading, event, event_field) = match page.target {
        PageTarget::Campaign => (t.heading_signup.to_owned(), None, None),
        PageTarget::Gathering { id, summary } => (
            render(t.heading_gathering, &[("title", &summary.title)]),
            Some(summary),
            Some((Field::Gathering.name(), id.as_str())),
        ),
        PageTarget::Training { id, summary } => (
            render(t.heading_training, &[("title", &summary.title)]),
            Some(summary),
            Some((Field::Training.name(), id.as_str())),
        ),
    };

    let mut first_name = text_input(
        errors,
        Field::FirstName,
        t.first_name,
        "text",
        "given-name",
        &values.first_name,
    );
    first_name.required = true;
    let mut last_name = text_input(
        errors,
        Field::LastName,
        t.last_name,
        "text",
        "family-name",
        &values.last_name,
    );
    last_name.optional = true;
    let email = text_input(
        errors,
        Field::Email,
        t.email,
        "email",
        "email",
        &values.email,
    );
    let phone = text_input(errors, Field::Phone, t.phone, "tel", "tel", &values.phone);
    let mut zip = text_input(
        errors,
        Field::Zip,
        t.zip,
        "text",
        "postal-code",
        &values.zip,
    );
    zip.required = true;
    zip.inputmode = Some("numeric");
    let chosen = values
        .language
        .as_deref()
        .and_then(Language::parse)
        .unwrap_or(page.language);
    let mut language = text_input(errors, Field::Language, t.language, "", "", &None);
    language.value = chosen.code();

    let host = matches!(page.target, PageTarget::Campaign).then(|| {
        // Not a `Field` of its own: it cannot be wrong.
        Check {
            name: "host",
            label: t.want_to_host.to_owned(),
            checked: values.host.0,
            required: false,
            error: None,
            describedby: None,
        }
    });
    let mut commitment = check(
        errors,
        Field::Commitment,
        t.commitment.to_owned(),
        values.commitment.0,
        Some("commitment-note"),
    );
    commitment.required = true;
    let sms_consent = check(
        errors,
        Field::SmsConsent,
        render(t.sms_consent, &[("program", page.program)]),
        values.sms_consent.0,
        Some("sms_consent-note"),
    );

    let summary: Vec<SummaryItem> = errors
        .iter()
        .map(|(field, message)| SummaryItem {
            href: SHOWN.contains(field).then(|| field.name()),
            message: message.clone(),
        })
        .collect();
    let summary_text = render(t.error_summary, &[("count", &summary.len().to_string())]);

    let switch_to = other(page.language);
    let html = FormHtml {
        lang: page.language.code(),
        embed: page.embed,
        program: page.program,
        heading,
        style_css: page.style.css(),
        script_src: page.script_src,
        t,
        event,
        action: page.action,
        register_url: page.register_url,
        summary,
        summary_text,
        submission_id: page.submission_id,
        event_field,
        referral: page.referral,
        first_name,
        last_name,
        email,
        phone,
        zip,
        language,
        languages: [
            (Language::En.code(), form_text(Language::En).language_name),
            (Language::Es.code(), form_text(Language::Es).language_name),
        ],
        host,
        commitment,
        sms_consent,
        safety_url: page.safety_url,
        terms_url: page.terms_url,
        privacy_url: page.privacy_url,
        switch: Switch {
            href: page.other_language_href.clone(),
            lang: switch_to.code(),
            label: form_text(switch_to).language_name,
        },
    };
    html.render()
        .unwrap_or_else(|error| fallback(page.language, page.program, error))
}

/// A page that could not be rendered (it cannot happen with these templates): a bare error page.
fn fallback(language: Language, program: &str, error: askama::Error) -> String {
    tracing::error!(error = %error, "registration page template failed");
    let t = form_text(language);
    format!(
        "<!doctype html><html lang=\"{}\"><title>{}</title><main><h1>{}</h1><p>{}</p></main></html>",
        language.code(),
        program.replace(['<', '>', '&', '"'], ""),
        t.error_heading,
        t.unavailable
    )
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r##"<!doctype html>
<html lang="{{ lang }}"{% if embed %} class="embed"{% endif %}>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{{ t.thanks_heading }} · {{ program }}</title>
<style>{{ CSS|safe }}{{ style_css|safe }}</style>
<script src="{{ script_src }}" defer></script>
</head>
<body>
<main>
{% if !embed %}<p class="program">{{ program }}</p>
{% endif %}<div id="rising-thanks" role="status" tabindex="-1" data-copied="{{ t.copied }}">
<h1>{{ t.thanks_heading }}</h1>
{% for line in lines %}<p>{{ line }}</p>
{% endfor %}{% if let Some(url) = share_url %}<div class="field">
<label for="rising-share">{{ t.bring_a_friend }}</label>
<div class="share"><input class="text" type="text" id="rising-share" value="{{ url }}" readonly><button type="button" id="rising-copy" hidden>{{ t.copy_link }}</button></div>
</div>
{% endif %}</div>
</main>
</body>
</html>
"##
)]
struct ThanksHtml<'a> {
    lang: &'static str,
    embed: bool,
    program: &'a str,
    t: &'static FormText,
    style_css: String,
    script_src: &'a str,
    lines: &'a [String],
    share_url: Option<&'a str>,
}

/// The thank-you page (after the form was sent without JavaScript).
pub struct ThanksPage<'a> {
    pub language: Language,
    pub program: &'a str,
    /// Already worded: the status, the confirmations to expect.
    pub lines: Vec<String>,
    /// The person's "bring a friend" link.
    pub share_url: Option<&'a str>,
    pub embed: bool,
    pub style: &'a Style,
    /// The URL of `form.js` (the copy button, the iframe's height).
    pub script_src: &'a str,
}

/// Renders the thank-you page.
pub fn thanks_page(page: &ThanksPage) -> String {
    ThanksHtml {
        lang: page.language.code(),
        embed: page.embed,
        program: page.program,
        t: form_text(page.language),
        style_css: page.style.css(),
        script_src: page.script_src,
        lines: &page.lines,
        share_url: page.share_url,
    }
    .render()
    .unwrap_or_else(|error| fallback(page.language, page.program, error))
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r##"<!doctype html>
<html lang="{{ lang }}"{% if embed %} class="embed"{% endif %}>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{{ t.error_heading }} · {{ program }}</title>
<style>{{ CSS|safe }}</style>
</head>
<body>
<main>
{% if !embed %}<p class="program">{{ program }}</p>
{% endif %}<h1>{{ t.error_heading }}</h1>
<p>{{ message }}</p>
</main>
</body>
</html>
"##
)]
struct ErrorHtml<'a> {
    lang: &'static str,
    embed: bool,
    program: &'a str,
    t: &'static FormText,
    message: &'a str,
}

/// A page that says the form cannot be shown or sent (unknown or ended event, too many requests, our
/// fault).
pub struct ErrorPage<'a> {
    pub language: Language,
    pub program: &'a str,
    /// Already worded (e.g. [`FormText::not_found`]).
    pub message: &'a str,
    pub embed: bool,
}

/// Renders the error page.
pub fn error_page(page: &ErrorPage) -> String {
    ErrorHtml {
        lang: page.language.code(),
        embed: page.embed,
        program: page.program,
        t: form_text(page.language),
        message: page.message,
    }
    .render()
    .unwrap_or_else(|error| fallback(page.language, page.program, error))
}

/// The Content-Security-Policy of the form, thank-you and error pages. `frame_ancestors`: `'none'`
/// for the hosted page, or `'self' https://a.example https://b.example` for `embed=1`. A source that
/// is not plainly one (a `;` or `,` that would start another directive, a control character) makes
/// the whole list `'none'`, as does an empty one: a broken allowlist embeds nowhere.
pub fn page_csp(frame_ancestors: &str) -> String {
    let plain = |source: &str| {
        source.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b':' | b'/' | b'.' | b'*' | b'\'' | b'-' | b'_' | b'[' | b']'
                )
        })
    };
    let sources: Vec<&str> = frame_ancestors.split_ascii_whitespace().collect();
    let ancestors = if sources.is_empty() || !sources.iter().all(|s| plain(s)) {
        "'none'".to_owned()
    } else {
        sources.join(" ")
    };
    format!(
        "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'; frame-ancestors {ancestors}; base-uri 'none'"
    )
}

#[cfg(test)]
mod tests {
    use super::super::form::Flag;
    use super::super::text::{EN, ES};
    use super::*;

    const SUBMISSION: &str = "0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a";

    /// `text` as the template engine escapes it.
    fn escaped(text: &str) -> String {
        text.replace('&', "&#38;")
            .replace('<', "&#60;")
            .replace('>', "&#62;")
            .replace('"', "&#34;")
            .replace('\'', "&#39;")
    }

    fn gathering() -> PageTarget {
        PageTarget::Gathering {
            id: "g123456789".into(),
            summary: EventSummary {
                title: "Maple Street potluck".into(),
                when: "Sat Jun 13, 6:30 pm".into(),
                place: "Helena, MT".into(),
            },
        }
    }

    /// Renders the form page for `target` in `language`, with `values` and `errors`.
    fn render_form(
        language: Language,
        target: &PageTarget,
        values: &RawForm,
        errors: &[(Field, String)],
        embed: bool,
    ) -> String {
        let style = Style::default();
        form_page(&FormPage {
            language,
            program: "rising",
            action: "/register",
            target,
            values,
            errors,
            submission_id: SUBMISSION,
            referral: Some("abcdefgh23"),
            embed,
            safety_url: "https://example.org/safety",
            terms_url: "https://example.org/terms",
            privacy_url: "https://example.org/privacy",
            other_language_href: "/g/g123456789?lang=es".into(),
            style: &style,
            script_src: "/form.js",
            register_url: "/register",
        })
    }

    fn plain(language: Language, target: &PageTarget) -> String {
        render_form(language, target, &RawForm::default(), &[], false)
    }

    /// The opening tag of the element with `id`.
    fn tag<'h>(html: &'h str, id: &str) -> &'h str {
        let at = html
            .find(&format!(r#"id="{id}""#))
            .unwrap_or_else(|| panic!("no element #{id} in {html}"));
        let start = html[..at].rfind('<').unwrap();
        let end = at + html[at..].find('>').unwrap();
        &html[start..=end]
    }

    #[test]
    fn the_form_has_every_field_with_a_label_and_its_name() {
        let html = plain(Language::En, &PageTarget::Campaign);
        for field in [
            Field::FirstName,
            Field::LastName,
            Field::Email,
            Field::Phone,
            Field::Zip,
            Field::Language,
            Field::Commitment,
            Field::SmsConsent,
        ] {
            let name = field.name();
            assert!(html.contains(&format!(r#"<label for="{name}">"#)), "{name}");
            let input = tag(&html, name);
            assert!(input.contains(&format!(r#"name="{name}""#)), "{input}");
            assert!(
                html.contains(&format!(r#"id="{name}-error""#)),
                "{name} has a place for its error"
            );
        }
        assert!(tag(&html, "host").contains(r#"name="host""#));
        assert!(html.contains(r#"<label for="host">"#));
        assert!(html.contains(r#"id="rising-form""#) && html.contains(r#"id="rising-errors""#));
        assert!(html.contains(&format!(
            r#"<input type="hidden" name="submission_id" value="{SUBMISSION}">"#
        )));
        assert!(html.contains(r#"<input type="hidden" name="referral" value="abcdefgh23">"#));
        assert!(html.contains(r#"action="/register""#) && html.contains(r#"method="post""#));
        assert!(html.contains(r#"<script src="/form.js" defer></script>"#));
        assert_eq!(html.matches("<main>").count(), 1);
        assert_eq!(html.matches("<h1").count(), 1);
        assert!(html.contains(r#"<meta name="viewport""#));
        assert!(
            html.contains(r#"href="/g/g123456789?lang=es" hreflang="es" lang="es">Español</a>"#)
        );
    }

    #[test]
    fn fields_carry_autocomplete_types_and_the_required_marks() {
        let html = plain(Language::En, &PageTarget::Campaign);
        let first = tag(&html, "first_name");
        assert!(first.contains(r#"autocomplete="given-name""#) && first.contains(" required"));
        assert!(tag(&html, "last_name").contains(r#"autocomplete="family-name""#));
        assert!(!tag(&html, "last_name").contains("required"));
        let email = tag(&html, "email");
        assert!(email.contains(r#"type="email""#) && email.contains(r#"autocomplete="email""#));
        let phone = tag(&html, "phone");
        assert!(phone.contains(r#"type="tel""#) && phone.contains(r#"autocomplete="tel""#));
        let zip = tag(&html, "zip");
        assert!(
            zip.contains(r#"inputmode="numeric""#) && zip.contains(r#"autocomplete="postal-code""#)
        );
        assert!(zip.contains(" required"));
        assert!(tag(&html, "commitment").contains(" required"));
    }

    #[test]
    fn the_sms_box_is_unchecked_and_says_the_whole_consent_with_terms_and_privacy() {
        let html = plain(Language::En, &PageTarget::Campaign);
        let consent = tag(&html, "sms_consent");
        assert!(!consent.contains("checked"), "{consent}");
        assert!(html.contains(&escaped(&render(EN.sms_consent, &[("program", "rising")]))));
        assert!(html.contains(r#"<a href="https://example.org/terms""#));
        assert!(html.contains(r#"<a href="https://example.org/privacy""#));
        assert!(html.contains(r#"<a href="https://example.org/safety""#));
        assert!(!tag(&html, "commitment").contains("checked"));
    }

    #[test]
    fn a_gathering_page_shows_the_event_and_sends_its_id_without_the_host_box() {
        let html = plain(Language::En, &gathering());
        assert!(html.contains("<h1 id=\"heading\">RSVP: Maple Street potluck</h1>"));
        assert!(html.contains("Sat Jun 13, 6:30 pm<br>Helena, MT"));
        assert!(html.contains(r#"<input type="hidden" name="gathering" value="g123456789">"#));
        assert!(!html.contains(r#"id="host""#));
        let training = PageTarget::Training {
            id: "overview".into(),
            summary: EventSummary {
                title: "Overview".into(),
                when: "Tue".into(),
                place: "Online".into(),
            },
        };
        let html = plain(Language::En, &training);
        assert!(html.contains(r#"<input type="hidden" name="training" value="overview">"#));
    }

    #[test]
    fn errors_are_shown_next_to_their_fields_and_in_the_summary() {
        let errors = vec![
            (Field::FirstName, EN.err_first_name_empty.to_owned()),
            (Field::Commitment, EN.err_commitment.to_owned()),
            (Field::SubmissionId, EN.err_submission.to_owned()),
        ];
        let html = render_form(
            Language::En,
            &PageTarget::Campaign,
            &RawForm::default(),
            &errors,
            false,
        );
        let first = tag(&html, "first_name");
        assert!(first.contains(r#"aria-invalid="true""#), "{first}");
        assert!(
            first.contains(r#"aria-describedby="first_name-error""#),
            "{first}"
        );
        assert!(html.contains(&format!(
            r#"<p class="error" id="first_name-error">{}</p>"#,
            EN.err_first_name_empty
        )));
        let commitment = tag(&html, "commitment");
        assert!(commitment.contains(r#"aria-invalid="true""#));
        assert!(commitment.contains(r#"aria-describedby="commitment-note commitment-error""#));
        let summary = tag(&html, "rising-errors");
        assert!(summary.contains(r#"role="alert""#) && summary.contains(r#"tabindex="-1""#));
        assert!(!summary.contains("hidden"), "{summary}");
        assert!(html.contains("Please fix 3 thing(s) below."));
        assert!(html.contains(&format!(
            "<li><a href=\"#first_name\">{}</a></li>",
            EN.err_first_name_empty
        )));
        assert!(html.contains(&format!("<li>{}</li>", EN.err_submission)));
        // A field without an error is neither invalid nor described by an empty error.
        let zip = tag(&html, "zip");
        assert!(!zip.contains("aria-invalid") && !zip.contains("aria-describedby"));
        assert!(html.contains(r#"<p class="error" id="zip-error" hidden></p>"#));
    }

    #[test]
    fn without_errors_the_summary_is_hidden_and_empty() {
        let html = plain(Language::En, &PageTarget::Campaign);
        assert!(html.contains(
            r#"<div id="rising-errors" class="summary" role="alert" tabindex="-1" hidden></div>"#
        ));
        assert!(!html.contains(r#"aria-invalid="true""#));
    }

    #[test]
    fn values_are_filled_in_again_and_escaped() {
        let values = RawForm {
            first_name: Some("<script>alert(1)</script>".into()),
            last_name: Some(r#"O"Brien"#.into()),
            email: Some("ana@example.org".into()),
            zip: Some("20001".into()),
            language: Some("es".into()),
            commitment: Flag(true),
            sms_consent: Flag(true),
            host: Flag(true),
            ..RawForm::default()
        };
        let html = render_form(Language::En, &PageTarget::Campaign, &values, &[], false);
        assert!(
            !html.contains("<script>alert"),
            "a name never becomes markup"
        );
        assert!(html.contains(&escaped("<script>alert(1)</script>")));
        assert!(tag(&html, "last_name").contains(r#"value="O&#34;Brien""#));
        assert!(tag(&html, "email").contains(r#"value="ana@example.org""#));
        assert!(tag(&html, "zip").contains(r#"value="20001""#));
        assert!(tag(&html, "commitment").contains(" checked"));
        assert!(tag(&html, "sms_consent").contains(" checked"));
        assert!(tag(&html, "host").contains(" checked"));
        assert!(html.contains(r#"<option value="es" lang="es" selected>Español</option>"#));
        assert!(html.contains(r#"<option value="en" lang="en">English</option>"#));
    }

    #[test]
    fn the_honeypot_is_hidden_from_people_and_its_value_is_never_echoed() {
        let values = RawForm {
            website: Some("https://spam.example/buy".into()),
            ..RawForm::default()
        };
        let html = render_form(Language::En, &PageTarget::Campaign, &values, &[], false);
        assert!(!html.contains("spam.example"));
        let honeypot = tag(&html, "website");
        for attribute in [
            r#"name="website""#,
            r#"value="""#,
            r#"tabindex="-1""#,
            r#"autocomplete="off""#,
            r#"aria-hidden="true""#,
        ] {
            assert!(honeypot.contains(attribute), "{attribute} in {honeypot}");
        }
        assert!(html.contains(r#"<label for="website">Leave this empty</label>"#));
        assert!(html.contains(r#"<div class="hp" aria-hidden="true">"#));
    }

    #[test]
    fn the_spanish_page_is_in_spanish() {
        let html = plain(Language::Es, &gathering());
        assert!(html.starts_with("<!doctype html>\n<html lang=\"es\">"));
        for words in [
            ES.first_name,
            ES.submit,
            ES.commitment,
            ES.contact_hint,
            ES.honeypot,
        ] {
            assert!(html.contains(words), "{words}");
        }
        assert!(html.contains("Confirma: Maple Street potluck"));
        for words in [EN.first_name, EN.submit, EN.commitment, EN.contact_hint] {
            assert!(!html.contains(words), "{words}");
        }
        assert!(html.contains(r#"<option value="es" lang="es" selected>Español</option>"#));
        assert!(html.contains(r#"hreflang="en" lang="en">English</a>"#));
    }

    #[test]
    fn the_embedded_page_has_no_page_chrome() {
        let html = render_form(
            Language::En,
            &PageTarget::Campaign,
            &RawForm::default(),
            &[],
            true,
        );
        assert!(html.contains(r#"<html lang="en" class="embed">"#));
        assert!(!html.contains(r#"<p class="program">"#));
        let hosted = plain(Language::En, &PageTarget::Campaign);
        assert!(hosted.contains(r#"<p class="program">rising</p>"#));
    }

    #[test]
    fn the_form_gives_its_script_every_word_it_needs() {
        let html = plain(Language::Es, &PageTarget::Campaign);
        let form = tag(&html, "rising-form");
        for attribute in [
            r#"data-register-url="/register""#.to_owned(),
            format!(r#"data-sending="{}""#, ES.sending),
            format!(r#"data-summary="{}""#, ES.error_summary),
            format!(r#"data-network="{}""#, ES.err_network),
            format!(r#"data-unavailable="{}""#, ES.unavailable),
            format!(r#"data-thanks="{}""#, ES.thanks_heading),
            format!(r#"data-share="{}""#, ES.bring_a_friend),
            format!(r#"data-copy="{}""#, ES.copy_link),
            format!(r#"data-copied="{}""#, ES.copied),
        ] {
            assert!(form.contains(&attribute), "{attribute} in {form}");
        }
        assert!(FORM_JS.contains("'rising-form'") && FORM_JS.contains("'rising-errors'"));
    }

    #[test]
    fn the_thank_you_page_offers_the_share_link() {
        let style = Style::default();
        let html = thanks_page(&ThanksPage {
            language: Language::En,
            program: "rising",
            lines: vec![
                "You're going to <Maple>, Sat.".into(),
                EN.thanks_check_email.into(),
            ],
            share_url: Some("https://rising.example/g/g123456789?ref=abcdefgh23"),
            embed: false,
            style: &style,
            script_src: "/form.js",
        });
        assert!(html.contains(r#"id="rising-thanks""#));
        assert!(html.contains(&format!(
            "<p>{}</p>",
            escaped("You're going to <Maple>, Sat.")
        )));
        let share = tag(&html, "rising-share");
        assert!(
            share.contains("readonly") && share.contains("ref=abcdefgh23"),
            "{share}"
        );
        assert!(html.contains(
            r#"<label for="rising-share">Bring a friend: share your personal link.</label>"#
        ));
        assert!(
            tag(&html, "rising-copy").contains("hidden"),
            "the copy button needs the script"
        );
        assert_eq!(html.matches("<h1>").count(), 1);
    }

    #[test]
    fn the_error_page_says_the_message_in_the_persons_language() {
        let html = error_page(&ErrorPage {
            language: Language::Es,
            program: "rising",
            message: ES.not_found,
            embed: true,
        });
        assert!(html.contains(r#"<html lang="es" class="embed">"#));
        assert!(html.contains("<h1>Lo sentimos</h1>"));
        assert!(html.contains(ES.not_found));
    }

    #[test]
    fn a_style_takes_plain_fonts_and_dark_enough_colours() {
        let style = Style::from_query(Some("Georgia"), Some("#0B5394"));
        assert_eq!(style.font.as_deref(), Some("Georgia"));
        assert_eq!(style.color.as_deref(), Some("#0b5394"));
        assert_eq!(
            Style::from_query(Some(r#""Open Sans", SANS-SERIF"#), Some("#000")),
            Style {
                font: Some("Open Sans,sans-serif".into()),
                color: Some("#000000".into())
            }
        );
        let css = Style::from_query(Some("'Open Sans', serif"), Some("#123")).css();
        assert_eq!(
            css,
            format!(
                r#":root{{--accent:#112233}}body{{font-family:"Open Sans",serif,{FONT_FALLBACK}}}"#
            )
        );
    }

    #[test]
    fn a_style_drops_anything_that_could_inject_css_and_light_colours() {
        let dropped = Style::default();
        for font in [
            "red;}body{display:none",
            "url(https://evil.example/x)",
            "Arial\"; } body { display:none",
            "Arial</style><script>",
            "a, b, c, d, e",
            "This family name is far longer than forty characters",
            "",
            "  ",
            "\\41rial",
        ] {
            assert_eq!(Style::from_query(Some(font), None), dropped, "{font}");
        }
        for color in [
            "red;}body{display:none",
            "url(https://evil.example/x)",
            "red",
            "#12345",
            "#1234567",
            "rgb(0,0,0)",
            "#ggg",
            // Too light for white text: yellow, light grey, and a mid blue just under 4.5:1.
            "#ff0",
            "#cccccc",
            "#3b82f6",
        ] {
            assert_eq!(Style::from_query(None, Some(color)), dropped, "{color}");
        }
        // A style built by hand is checked again when it is written into the page.
        let forged = Style {
            font: Some("x;}body{display:none".into()),
            color: Some("red;}".into()),
        };
        assert_eq!(forged.css(), "");
    }

    #[test]
    fn the_colour_reaches_the_page_only_through_the_accent() {
        let style = Style::from_query(Some("Georgia"), Some("#0b5394"));
        let values = RawForm::default();
        let html = form_page(&FormPage {
            language: Language::En,
            program: "rising",
            action: "/register",
            target: &PageTarget::Campaign,
            values: &values,
            errors: &[],
            submission_id: SUBMISSION,
            referral: None,
            embed: true,
            safety_url: "/s",
            terms_url: "/t",
            privacy_url: "/p",
            other_language_href: "?lang=es".into(),
            style: &style,
            script_src: "/form.js",
            register_url: "/register",
        });
        assert!(html.contains(r#":root{--accent:#0b5394}body{font-family:"Georgia","#));
        assert!(!html.contains(r#"name="referral""#));
    }

    #[test]
    fn the_policy_allows_only_our_scripts_and_the_given_frame_ancestors() {
        let csp = page_csp("'self' https://a.example https://b.example");
        assert!(csp.contains("frame-ancestors 'self' https://a.example https://b.example;"));
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'unsafe-inline'",
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(directive), "{directive} in {csp}");
        }
        assert!(page_csp("'none'").contains("frame-ancestors 'none';"));
        assert!(page_csp("").contains("frame-ancestors 'none';"));
        let injected = page_csp("https://a.example; script-src *");
        assert!(injected.contains("frame-ancestors 'none';"), "{injected}");
        assert_eq!(injected.matches("script-src").count(), 1);
    }

    #[test]
    fn the_scripts_and_the_page_weigh_less_than_30_kb_together() {
        // `flate2` is not in the lock file: the uncompressed total, which bounds the gzipped one.
        let errors: Vec<(Field, String)> = SHOWN
            .iter()
            .map(|field| (*field, EN.err_phone_without_consent.to_owned()))
            .collect();
        let page = render_form(
            Language::Es,
            &gathering(),
            &RawForm::default(),
            &errors,
            true,
        );
        let total = EMBED_JS.len() + FORM_JS.len() + page.len();
        assert!(total < 30 * 1024, "{total} bytes");
    }

    #[test]
    fn the_scripts_read_no_cookies_and_load_nothing_from_elsewhere() {
        for script in [EMBED_JS, FORM_JS] {
            assert!(!script.contains("document.cookie"));
            assert!(!script.contains("localStorage") && !script.contains("sessionStorage"));
            assert!(!script.contains("http://") && !script.contains("https://"));
        }
        assert!(FORM_JS.contains("credentials: 'omit'"));
        assert!(EMBED_JS.contains("event.origin !== origin"));
        assert!(EMBED_JS.contains("event.source !== frame.contentWindow"));
    }
}

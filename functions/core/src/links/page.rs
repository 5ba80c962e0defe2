//! The pages of the email links, in English and Spanish: small, mobile-first, no script, no
//! third-party anything (the CSP allows inline styles and nothing else), accessible (`lang`, one
//! `<main>` and `<h1>`, a real `<button>`, contrast above 7:1 for text and 4.5:1 for the button,
//! visible focus). Every value is HTML-escaped by the template engine (askama).

use askama::Template;

use crate::config::ProgramConfig;
use crate::domain::Language;
use crate::email::TokenError;

use super::{LinkError, LinkOutcome};

/// Which page to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    Outcome(LinkOutcome),
    Error(ErrorKind),
}

/// The errors a person can be told about, each with its own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Changed, cut short or not ours.
    BadLink,
    MissingToken,
    WrongPurpose,
    Expired,
    NotFound,
    MethodNotAllowed,
    TooLarge,
    /// Our fault.
    Unavailable,
}

impl From<&LinkError> for ErrorKind {
    fn from(error: &LinkError) -> Self {
        match error {
            LinkError::TooLarge => Self::TooLarge,
            LinkError::MethodNotAllowed => Self::MethodNotAllowed,
            LinkError::NotFound => Self::NotFound,
            LinkError::MissingToken => Self::MissingToken,
            LinkError::Token(TokenError::WrongPurpose) => Self::WrongPurpose,
            LinkError::Token(TokenError::Expired) => Self::Expired,
            LinkError::Token(TokenError::Malformed | TokenError::BadSignature) => Self::BadLink,
            LinkError::Secret(_) | LinkError::Key(_) | LinkError::Store(_) => Self::Unavailable,
        }
    }
}

/// A confirm button: a POST form to the same link.
struct Form {
    /// Relative: `?t=<token>&lang=<code>` (same path, so a stage or custom-domain prefix stays).
    action: String,
    button: &'static str,
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
    source = r##"<!doctype html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{{ heading }} · {{ program }}</title>
<style>
*{box-sizing:border-box}
body{margin:0;font:1.0625rem/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#fafafa}
main{max-width:34rem;margin:0 auto;padding:1.5rem 1.25rem 2rem;background:#fff;min-height:100vh}
h1{font-size:1.5rem;line-height:1.25;margin:0.5rem 0 1rem}
p,ul{margin:0 0 1rem}
li{margin-bottom:0.25rem}
.program{font-weight:600;color:#3d3d3d;margin:0}
button{display:block;width:100%;min-height:3rem;margin:1.5rem 0 1rem;padding:0.75rem 1rem;font:inherit;font-weight:600;color:#fff;background:#1d4ed8;border:2px solid #1d4ed8;border-radius:0.5rem;cursor:pointer}
button:hover{background:#1e40af}
button:focus-visible,a:focus-visible{outline:3px solid #111;outline-offset:3px}
a{color:#1d4ed8}
.note,footer{color:#3d3d3d;font-size:0.9375rem}
footer{margin-top:2rem;border-top:1px solid #d4d4d4;padding-top:1rem}
@media (min-width:40rem){main{margin-top:2rem;min-height:0;border:1px solid #d4d4d4;border-radius:0.75rem}}
</style>
</head>
<body>
<main>
<p class="program">{{ program }}</p>
<h1 id="heading">{{ heading }}</h1>
{% for paragraph in paragraphs %}<p>{{ paragraph }}</p>
{% endfor %}{% if !items.is_empty() %}<ul>
{% for item in items %}<li>{{ item }}</li>
{% endfor %}</ul>
{% endif %}{% if let Some(form) = form %}<form method="post" action="{{ form.action }}" aria-labelledby="heading">
<input type="hidden" name="confirm" value="page">
<button type="submit">{{ form.button }}</button>
</form>
{% endif %}{% for note in notes %}<p class="note">{{ note }}</p>
{% endfor %}<footer>
{% if let Some(switch) = switch %}<p><a href="{{ switch.href }}" hreflang="{{ switch.lang }}" lang="{{ switch.lang }}">{{ switch.label }}</a></p>
{% endif %}<p>{{ help }}</p>
</footer>
</main>
</body>
</html>
"##
)]
struct Html<'a> {
    lang: &'static str,
    program: &'a str,
    heading: String,
    paragraphs: Vec<String>,
    items: Vec<&'static str>,
    form: Option<Form>,
    notes: Vec<String>,
    switch: Option<Switch>,
    help: String,
}

/// The words of one page.
struct Words {
    heading: String,
    paragraphs: Vec<String>,
    items: Vec<&'static str>,
    button: Option<&'static str>,
    notes: Vec<String>,
}

impl Words {
    fn new(heading: impl Into<String>, paragraphs: Vec<String>) -> Self {
        Self {
            heading: heading.into(),
            paragraphs,
            items: Vec::new(),
            button: None,
            notes: Vec::new(),
        }
    }
}

/// The heading of the page that confirms an erasure (also recorded as the wording of its evidence).
pub fn erased_heading(lang: Language) -> &'static str {
    match lang {
        Language::En => "Your details are erased",
        Language::Es => "Tus datos están borrados",
    }
}

fn words(kind: PageKind, lang: Language, program: &ProgramConfig) -> Words {
    let p = program.name.as_str();
    let support = program.support_contact.as_str();
    let en = lang == Language::En;
    let still_come = if en {
        "Emails you ask for yourself, like the confirmation of your RSVP, still come.".to_string()
    } else {
        "Los correos que tú pidas, como la confirmación de tu asistencia, seguirán llegando."
            .to_string()
    };
    match kind {
        PageKind::Outcome(LinkOutcome::ConfirmUnsubscribe) => {
            let mut w = if en {
                Words::new(
                    format!("Unsubscribe from {p} emails?"),
                    vec![format!(
                        "You will stop getting invitations, reminders and news from {p} by email."
                    )],
                )
            } else {
                Words::new(
                    format!("¿Dejar de recibir correos de {p}?"),
                    vec![format!(
                        "Ya no recibirás por correo invitaciones, recordatorios ni noticias de {p}."
                    )],
                )
            };
            w.paragraphs.push(still_come);
            w.button = Some(if en {
                "Unsubscribe"
            } else {
                "Cancelar la suscripción"
            });
            w
        }
        PageKind::Outcome(
            outcome @ (LinkOutcome::Unsubscribed | LinkOutcome::AlreadyUnsubscribed),
        ) => {
            let already = outcome == LinkOutcome::AlreadyUnsubscribed;
            let heading = match (en, already) {
                (true, false) => "You are unsubscribed",
                (true, true) => "You were already unsubscribed",
                (false, false) => "Tu suscripción está cancelada",
                (false, true) => "Tu suscripción ya estaba cancelada",
            };
            let said = if en {
                format!("You will get no more invitations, reminders or news from {p} by email.")
            } else {
                format!(
                    "No recibirás más invitaciones, recordatorios ni noticias de {p} por correo."
                )
            };
            Words::new(heading, vec![said, still_come])
        }
        PageKind::Outcome(LinkOutcome::ConfirmForget) => {
            let mut w = if en {
                Words::new(
                    format!("Delete your data from {p}?"),
                    vec!["The button below erases:".to_string()],
                )
            } else {
                Words::new(
                    format!("¿Borrar tus datos de {p}?"),
                    vec!["El botón de abajo borra:".to_string()],
                )
            };
            w.items = if en {
                vec![
                    "your email address and your name",
                    "your RSVPs (your place goes back to the gathering)",
                    "messages waiting to be sent to you",
                ]
            } else {
                vec![
                    "tu correo electrónico y tu nombre",
                    "tus confirmaciones de asistencia (tu lugar queda libre)",
                    "los mensajes que esperan para enviarse",
                ]
            };
            w.notes = vec![if en {
                "What stays cannot name you without our secret key: a record that this address must never \
                 be written to again, and the proof of your consent and of this request that the law asks \
                 us to keep. This cannot be undone."
                    .to_string()
            } else {
                "Lo que queda no puede identificarte sin nuestra clave secreta: un registro de que nunca \
                 debemos volver a escribir a esta dirección, y la prueba de tu consentimiento y de esta \
                 solicitud que la ley nos pide guardar. No se puede deshacer."
                    .to_string()
            }];
            w.button = Some(if en {
                "Erase my data"
            } else {
                "Borrar mis datos"
            });
            w
        }
        PageKind::Outcome(outcome @ (LinkOutcome::Erased | LinkOutcome::AlreadyErased)) => {
            let heading = match (en, outcome == LinkOutcome::AlreadyErased) {
                (true, true) => "Your details were already erased",
                (false, true) => "Tus datos ya estaban borrados",
                (_, false) => erased_heading(lang),
            };
            let said = if en {
                format!("You will get no more emails from {p}.")
            } else {
                format!("No recibirás más correos de {p}.")
            };
            Words::new(heading, vec![said])
        }
        PageKind::Error(error) => {
            let (heading, text) = match (error, en) {
                (ErrorKind::BadLink, true) => (
                    "This link does not work".to_string(),
                    "It is incomplete or was changed. Please open the link in your email again.".to_string(),
                ),
                (ErrorKind::BadLink, false) => (
                    "Este enlace no funciona".to_string(),
                    "Está incompleto o fue modificado. Abre otra vez el enlace de tu correo.".to_string(),
                ),
                (ErrorKind::MissingToken, true) => (
                    "This link is incomplete".to_string(),
                    "This page needs the whole link from your email. Please open it again, or copy all of \
                     it into your browser."
                        .to_string(),
                ),
                (ErrorKind::MissingToken, false) => (
                    "Este enlace está incompleto".to_string(),
                    "Esta página necesita el enlace completo de tu correo. Ábrelo otra vez o cópialo entero \
                     en tu navegador."
                        .to_string(),
                ),
                (ErrorKind::WrongPurpose, true) => (
                    "This link is not meant for this page".to_string(),
                    "Please use the link in your email as it is.".to_string(),
                ),
                (ErrorKind::WrongPurpose, false) => (
                    "Este enlace no es para esta página".to_string(),
                    "Usa el enlace de tu correo tal como está.".to_string(),
                ),
                (ErrorKind::Expired, true) => (
                    "This link has expired".to_string(),
                    format!(
                        "Links to delete your data work for 400 days. Please use the link in a more recent \
                         email from {p}, or write to {support}."
                    ),
                ),
                (ErrorKind::Expired, false) => (
                    "Este enlace ha caducado".to_string(),
                    format!(
                        "Los enlaces para borrar tus datos funcionan 400 días. Usa el enlace de un correo \
                         más reciente de {p} o escribe a {support}."
                    ),
                ),
                (ErrorKind::NotFound, true) => (
                    "Page not found".to_string(),
                    "Please use the link in your email.".to_string(),
                ),
                (ErrorKind::NotFound, false) => (
                    "Página no encontrada".to_string(),
                    "Usa el enlace de tu correo.".to_string(),
                ),
                (ErrorKind::MethodNotAllowed, true) => (
                    "This page opens from the link in your email".to_string(),
                    "Please open the link in your email again.".to_string(),
                ),
                (ErrorKind::MethodNotAllowed, false) => (
                    "Esta página se abre desde el enlace de tu correo".to_string(),
                    "Abre otra vez el enlace de tu correo.".to_string(),
                ),
                (ErrorKind::TooLarge, true) => (
                    "That request was too large".to_string(),
                    "Nothing was changed. Please open the link in your email again.".to_string(),
                ),
                (ErrorKind::TooLarge, false) => (
                    "La solicitud era demasiado grande".to_string(),
                    "No se cambió nada. Abre otra vez el enlace de tu correo.".to_string(),
                ),
                (ErrorKind::Unavailable, true) => (
                    "Something went wrong on our side".to_string(),
                    "Please try again in a few minutes.".to_string(),
                ),
                (ErrorKind::Unavailable, false) => (
                    "Algo falló de nuestro lado".to_string(),
                    "Inténtalo otra vez en unos minutos.".to_string(),
                ),
            };
            Words::new(heading, vec![text])
        }
    }
}

/// Renders a page. `token` (already verified, URL-safe) makes the confirm button and the link to
/// the other language; without it neither is shown.
pub fn render(
    kind: PageKind,
    lang: Language,
    program: &ProgramConfig,
    token: Option<&str>,
) -> String {
    let words = words(kind, lang, program);
    let query = |lang: Language| -> Option<String> {
        token.map(|t| {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("t", t)
                .append_pair("lang", lang.code())
                .finish();
            format!("?{query}")
        })
    };
    let form = words
        .button
        .and_then(|button| query(lang).map(|action| Form { action, button }));
    let other = match lang {
        Language::En => Language::Es,
        Language::Es => Language::En,
    };
    // Only confirm pages offer the other language: a result page has nothing left to do.
    let switch = form.as_ref().and_then(|_| query(other)).map(|href| Switch {
        href,
        lang: other.code(),
        label: match other {
            Language::En => "English",
            Language::Es => "Español",
        },
    });
    let help = match lang {
        Language::En => format!("Questions? Write to {}.", program.support_contact),
        Language::Es => format!("¿Preguntas? Escribe a {}.", program.support_contact),
    };
    let html = Html {
        lang: lang.code(),
        program: &program.name,
        heading: words.heading,
        paragraphs: words.paragraphs,
        items: words.items,
        form,
        notes: words.notes,
        switch,
        help,
    };
    html.render().unwrap_or_else(|error| {
        tracing::error!(error = %error, "page template failed");
        format!(
            "<!doctype html><html lang=\"{}\"><title>{}</title><main><h1>{}</h1></main></html>",
            lang.code(),
            program.name.replace(['<', '>', '&', '"'], ""),
            "Error"
        )
    })
}

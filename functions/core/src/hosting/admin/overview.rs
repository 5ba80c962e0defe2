//! The campaign overview (`/admin/overview`): how many people, RSVPs by how they came, training
//! registrations, opt-outs and bounces as rates, messages sent by kind and channel, and what the
//! sending cost so far. The numbers are the daily counters the events publisher keeps
//! ([`crate::stats`]): one small Query, never a scan. They start when the counters were deployed
//! and may run slightly low (a counter write that failed is not retried), never double.

use askama::Template;
use time::Date;

use super::super::page::{Frame, layout};
use crate::domain::Language;
use crate::messages::render;
use crate::stats::{ByChannel, Counts, Overview};

/// Days shown in the recent-days table.
pub const RECENT_DAYS: u16 = 14;

/// The overview's wording in one language.
#[derive(Debug)]
pub struct OverviewText {
    pub title: &'static str,
    pub intro: &'static str,
    pub people: &'static str,
    pub rsvps: &'static str,
    pub by_text: &'static str,
    pub by_form: &'static str,
    pub by_invite: &'static str,
    pub registrations: &'static str,
    pub consent: &'static str,
    pub col_measure: &'static str,
    pub col_sms: &'static str,
    pub col_email: &'static str,
    pub opted_in: &'static str,
    pub opted_out: &'static str,
    pub opt_out_rate: &'static str,
    pub hard_bounces: &'static str,
    pub bounce_rate: &'static str,
    pub complaints: &'static str,
    pub complaint_rate: &'static str,
    pub messages: &'static str,
    pub col_kind: &'static str,
    pub invites: &'static str,
    pub confirmations: &'static str,
    pub reminders: &'static str,
    pub recordings: &'static str,
    pub follow_ups: &'static str,
    pub total: &'static str,
    pub held_back: &'static str,
    pub failed: &'static str,
    pub unknown: &'static str,
    pub cost: &'static str,
    pub cost_body: &'static str,
    pub recent: &'static str,
    pub col_day: &'static str,
    pub col_people: &'static str,
    pub col_rsvps: &'static str,
    pub col_texts: &'static str,
    pub col_emails: &'static str,
    pub col_opt_outs: &'static str,
    pub not_applicable: &'static str,
    pub back: &'static str,
}

const EN: OverviewText = OverviewText {
    title: "Campaign overview",
    intro: "Counted as things happen, since the counters were switched on; they may run slightly low, never double.",
    people: "People",
    rsvps: "RSVPs",
    by_text: "by text",
    by_form: "on the web form",
    by_invite: "from a host's invitation",
    registrations: "Training registrations",
    consent: "Consent and delivery",
    col_measure: "Measure",
    col_sms: "Texts",
    col_email: "Email",
    opted_in: "Opted in",
    opted_out: "Opted out",
    opt_out_rate: "Opt-out rate",
    hard_bounces: "Hard bounces",
    bounce_rate: "Bounce rate (of emails sent)",
    complaints: "Marked as spam",
    complaint_rate: "Complaint rate (of emails sent)",
    messages: "Messages sent",
    col_kind: "Kind",
    invites: "Invitations",
    confirmations: "Confirmations",
    reminders: "Reminders",
    recordings: "Recordings",
    follow_ups: "Follow-ups",
    total: "Total",
    held_back: "Held back by a check (no consent, opted out, quiet hours passed)",
    failed: "Refused by the provider",
    unknown: "No answer from the provider (may have gone out)",
    cost: "Cost so far",
    cost_body: "{total} US dollars: {segments} text segments at {segment_price} and {emails} emails at {email_price} (the prices set for the host's estimate). AWS usage is extra.",
    recent: "The last 14 days (UTC)",
    col_day: "Day",
    col_people: "People",
    col_rsvps: "RSVPs",
    col_texts: "Texts sent",
    col_emails: "Emails sent",
    col_opt_outs: "Opt-outs",
    not_applicable: "—",
    back: "Organizer tools",
};

const ES: OverviewText = OverviewText {
    title: "Resumen de la campaña",
    intro: "Se cuenta a medida que ocurre, desde que se activaron los contadores; pueden quedar un poco bajos, nunca dobles.",
    people: "Personas",
    rsvps: "Confirmaciones de asistencia",
    by_text: "por mensaje de texto",
    by_form: "en el formulario web",
    by_invite: "por invitación de un anfitrión",
    registrations: "Inscripciones a capacitaciones",
    consent: "Consentimiento y entrega",
    col_measure: "Medida",
    col_sms: "Mensajes de texto",
    col_email: "Correo",
    opted_in: "Aceptaron recibir mensajes",
    opted_out: "Se dieron de baja",
    opt_out_rate: "Tasa de bajas",
    hard_bounces: "Rebotes permanentes",
    bounce_rate: "Tasa de rebote (de los correos enviados)",
    complaints: "Marcados como spam",
    complaint_rate: "Tasa de quejas (de los correos enviados)",
    messages: "Mensajes enviados",
    col_kind: "Tipo",
    invites: "Invitaciones",
    confirmations: "Confirmaciones",
    reminders: "Recordatorios",
    recordings: "Grabaciones",
    follow_ups: "Seguimientos",
    total: "Total",
    held_back: "Retenidos por una verificación (sin consentimiento, baja, horario pasado)",
    failed: "Rechazados por el proveedor",
    unknown: "Sin respuesta del proveedor (pueden haber salido)",
    cost: "Costo hasta ahora",
    cost_body: "{total} dólares estadounidenses: {segments} segmentos de texto a {segment_price} y {emails} correos a {email_price} (los precios fijados para la estimación de los anfitriones). El uso de AWS es aparte.",
    recent: "Los últimos 14 días (UTC)",
    col_day: "Día",
    col_people: "Personas",
    col_rsvps: "Confirmaciones",
    col_texts: "Textos enviados",
    col_emails: "Correos enviados",
    col_opt_outs: "Bajas",
    not_applicable: "—",
    back: "Herramientas de organización",
};

pub fn overview_text(language: Language) -> &'static OverviewText {
    match language {
        Language::En => &EN,
        Language::Es => &ES,
    }
}

/// Prices for the cost line, in US dollars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    pub sms_segment_usd: f64,
    pub email_usd: f64,
}

/// What sending cost: segments and emails at their prices.
pub fn cost_usd(counts: &Counts, prices: Prices) -> f64 {
    counts.sms_segments as f64 * prices.sms_segment_usd
        + counts.emails_sent() as f64 * prices.email_usd
}

/// `0.0123` as `1.2%`; `None` as the not-applicable mark.
fn percent(rate: Option<f64>, t: &OverviewText) -> String {
    rate.map_or_else(
        || t.not_applicable.to_owned(),
        |r| format!("{:.1}%", r * 100.0),
    )
}

/// Whole numbers with thousands separators, as people read them (`12,345`; `12.345` in Spanish).
fn number(n: u64, language: Language) -> String {
    let digits = n.to_string();
    let separator = match language {
        Language::En => ',',
        Language::Es => '.',
    };
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(c);
    }
    out
}

struct Line {
    label: &'static str,
    sms: String,
    email: String,
}

struct Day {
    day: String,
    people: String,
    rsvps: String,
    texts: String,
    emails: String,
    opt_outs: String,
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r##"<h1>{{ t.title }}</h1>
<p>{{ t.intro }} <a href="/admin">{{ t.back }}</a></p>
<dl class="figures">
<dt>{{ t.people }}</dt><dd>{{ people }}</dd>
<dt>{{ t.rsvps }}</dt><dd>{{ rsvps }} ({{ rsvps_text }} {{ t.by_text }}, {{ rsvps_form }} {{ t.by_form }}, {{ rsvps_invite }} {{ t.by_invite }})</dd>
<dt>{{ t.registrations }}</dt><dd>{{ registrations }}</dd>
</dl>
<h2>{{ t.consent }}</h2>
<div class="table-wrap"><table>
<thead><tr><th scope="col">{{ t.col_measure }}</th><th scope="col">{{ t.col_sms }}</th><th scope="col">{{ t.col_email }}</th></tr></thead>
<tbody>
{% for l in consent %}<tr><th scope="row">{{ l.label }}</th><td>{{ l.sms }}</td><td>{{ l.email }}</td></tr>
{% endfor %}</tbody>
</table></div>
<h2>{{ t.messages }}</h2>
<div class="table-wrap"><table>
<thead><tr><th scope="col">{{ t.col_kind }}</th><th scope="col">{{ t.col_sms }}</th><th scope="col">{{ t.col_email }}</th></tr></thead>
<tbody>
{% for l in messages %}<tr><th scope="row">{{ l.label }}</th><td>{{ l.sms }}</td><td>{{ l.email }}</td></tr>
{% endfor %}</tbody>
</table></div>
<h2>{{ t.cost }}</h2>
<p>{{ cost }}</p>
<h2>{{ t.recent }}</h2>
<div class="table-wrap"><table>
<thead><tr><th scope="col">{{ t.col_day }}</th><th scope="col">{{ t.col_people }}</th><th scope="col">{{ t.col_rsvps }}</th><th scope="col">{{ t.col_texts }}</th><th scope="col">{{ t.col_emails }}</th><th scope="col">{{ t.col_opt_outs }}</th></tr></thead>
<tbody>
{% for d in days %}<tr><th scope="row">{{ d.day }}</th><td>{{ d.people }}</td><td>{{ d.rsvps }}</td><td>{{ d.texts }}</td><td>{{ d.emails }}</td><td>{{ d.opt_outs }}</td></tr>
{% endfor %}</tbody>
</table></div>
"##
)]
struct OverviewHtml {
    t: &'static OverviewText,
    people: String,
    rsvps: String,
    rsvps_text: String,
    rsvps_form: String,
    rsvps_invite: String,
    registrations: String,
    consent: Vec<Line>,
    messages: Vec<Line>,
    cost: String,
    days: Vec<Day>,
}

/// The overview page as of `today` (UTC).
pub fn overview_page(frame: &Frame, overview: &Overview, prices: Prices, today: Date) -> String {
    let t = overview_text(frame.language);
    let language = frame.language;
    let n = |v: u64| number(v, language);
    let pair = |label: &'static str, c: ByChannel| Line {
        label,
        sms: n(c.sms),
        email: n(c.email),
    };
    let c = &overview.total;
    let consent = vec![
        pair(t.opted_in, c.opt_ins),
        pair(t.opted_out, c.opt_outs),
        Line {
            label: t.opt_out_rate,
            sms: percent(c.sms_opt_out_rate(), t),
            email: percent(c.email_opt_out_rate(), t),
        },
        Line {
            label: t.hard_bounces,
            sms: t.not_applicable.to_owned(),
            email: n(c.hard_bounces),
        },
        Line {
            label: t.bounce_rate,
            sms: t.not_applicable.to_owned(),
            email: percent(c.bounce_rate(), t),
        },
        Line {
            label: t.complaints,
            sms: t.not_applicable.to_owned(),
            email: n(c.complaints),
        },
        Line {
            label: t.complaint_rate,
            sms: t.not_applicable.to_owned(),
            email: percent(c.complaint_rate(), t),
        },
    ];
    let messages = vec![
        pair(t.invites, c.sent.invite),
        pair(t.confirmations, c.sent.confirmation),
        pair(t.reminders, c.sent.reminder),
        pair(t.recordings, c.sent.recording),
        pair(t.follow_ups, c.sent.follow_up),
        pair(t.total, c.sent.total()),
        pair(t.held_back, c.skipped),
        pair(t.failed, c.failed),
        pair(t.unknown, c.unknown),
    ];
    let cost = render(
        t.cost_body,
        &[
            ("total", &format!("{:.2}", cost_usd(c, prices))),
            ("segments", &n(c.sms_segments)),
            ("segment_price", &format!("${}", prices.sms_segment_usd)),
            ("emails", &n(c.emails_sent())),
            ("email_price", &format!("${}", prices.email_usd)),
        ],
    );
    let days = overview
        .last_days(today, RECENT_DAYS)
        .into_iter()
        .rev()
        .map(|(day, d)| Day {
            day: day.to_string(),
            people: n(d.people),
            rsvps: n(d.rsvps.total()),
            texts: n(d.texts_sent()),
            emails: n(d.emails_sent()),
            opt_outs: n(d.opt_outs.total()),
        })
        .collect();
    let body = OverviewHtml {
        t,
        people: n(c.people),
        rsvps: n(c.rsvps.total()),
        rsvps_text: n(c.rsvps.sms),
        rsvps_form: n(c.rsvps.form),
        rsvps_invite: n(c.rsvps.invite),
        registrations: n(c.registrations),
        consent,
        messages,
        cost,
        days,
    }
    .render();
    layout(frame, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_with_thousands_separators_in_each_language() {
        assert_eq!(number(0, Language::En), "0");
        assert_eq!(number(999, Language::En), "999");
        assert_eq!(number(1_234_567, Language::En), "1,234,567");
        assert_eq!(number(54_000, Language::Es), "54.000");
    }

    #[test]
    fn the_cost_is_segments_and_emails_at_their_prices() {
        let mut counts = Counts {
            sms_segments: 1_500,
            ..Counts::default()
        };
        counts.sent.invite.email = 1_000;
        let prices = Prices {
            sms_segment_usd: 0.0083,
            email_usd: 0.0001,
        };
        assert!((cost_usd(&counts, prices) - 12.55).abs() < 1e-9);
    }
}

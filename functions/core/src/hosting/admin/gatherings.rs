//! The approval queue (`/admin/gatherings`): with `GATHERING_APPROVAL=required`, a host's new
//! gathering is shown to nobody searching nearby until an organizer approves it. The page lists the
//! gatherings waiting, oldest first, with what an organizer needs to decide (title, when, where,
//! description, accessibility, capacity); never the host's name or email, nor a private address.
//! Approving lists it at once; declining keeps it unlisted (its link still works for the people
//! its host shares it with) and its host's dashboard says it was not approved.

use askama::Template;

use super::super::page::{Frame, layout, when};
use crate::domain::{Address, Gathering, Language};
use crate::messages::render;

/// Gatherings shown at once; the queue is read again after each decision.
pub const QUEUE_PAGE: usize = 50;

/// The approval queue's wording in one language.
#[derive(Debug)]
pub struct ReviewText {
    pub title: &'static str,
    pub intro: &'static str,
    pub empty: &'static str,
    pub more: &'static str,
    pub where_label: &'static str,
    pub private_address: &'static str,
    pub capacity_label: &'static str,
    pub no_limit: &'static str,
    pub accessibility_label: &'static str,
    pub approve: &'static str,
    pub decline: &'static str,
    pub approve_label: &'static str,
    pub decline_label: &'static str,
    pub approved: &'static str,
    pub declined: &'static str,
    pub already_reviewed: &'static str,
    pub back: &'static str,
}

const EN: ReviewText = ReviewText {
    title: "Gatherings to approve",
    intro: "New gatherings are shown to people searching nearby only once an organizer approves them. Oldest first.",
    empty: "No gathering is waiting for approval.",
    more: "More are waiting: they appear here as you decide on these.",
    where_label: "Where",
    private_address: "private address, told to people going the day before",
    capacity_label: "Places",
    no_limit: "no limit",
    accessibility_label: "Accessibility",
    approve: "Approve",
    decline: "Decline",
    approve_label: "Approve {title}",
    decline_label: "Decline {title}",
    approved: "Approved: it is shown to people searching nearby.",
    declined: "Declined: it stays unlisted, and its host sees that it was not approved.",
    already_reviewed: "Another organizer decided on this gathering already; nothing was changed.",
    back: "Organizer tools",
};

const ES: ReviewText = ReviewText {
    title: "Reuniones por aprobar",
    intro: "Las reuniones nuevas se muestran a quienes buscan cerca solo cuando una persona organizadora las aprueba. Primero las más antiguas.",
    empty: "Ninguna reunión espera aprobación.",
    more: "Hay más esperando: aparecen aquí a medida que decides sobre estas.",
    where_label: "Dónde",
    private_address: "dirección privada, se comunica a quienes asisten el día anterior",
    capacity_label: "Lugares",
    no_limit: "sin límite",
    accessibility_label: "Accesibilidad",
    approve: "Aprobar",
    decline: "Rechazar",
    approve_label: "Aprobar {title}",
    decline_label: "Rechazar {title}",
    approved: "Aprobada: se muestra a quienes buscan cerca.",
    declined: "Rechazada: sigue sin publicarse, y quien la organiza ve que no fue aprobada.",
    already_reviewed: "Otra persona organizadora ya decidió sobre esta reunión; no se cambió nada.",
    back: "Herramientas de organización",
};

pub fn review_text(language: Language) -> &'static ReviewText {
    match language {
        Language::En => &EN,
        Language::Es => &ES,
    }
}

struct Card {
    id: String,
    title: String,
    when: String,
    place: String,
    capacity: String,
    description: String,
    accessibility: String,
    approve_label: String,
    decline_label: String,
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r##"<h1>{{ t.title }}</h1>
{% if let Some(notice) = notice %}<p class="notice" role="status">{{ notice }}</p>
{% endif %}<p>{{ t.intro }} <a href="/admin">{{ t.back }}</a></p>
{% if cards.is_empty() %}<p>{{ t.empty }}</p>
{% else %}<ul class="cards">
{% endif %}{% for c in cards %}<li aria-labelledby="g-{{ c.id }}">
<h2 id="g-{{ c.id }}">{{ c.title }}</h2>
<p>{{ c.when }}</p>
<dl>
<dt>{{ t.where_label }}</dt><dd>{{ c.place }}</dd>
<dt>{{ t.capacity_label }}</dt><dd>{{ c.capacity }}</dd>
{% if !c.accessibility.is_empty() %}<dt>{{ t.accessibility_label }}</dt><dd>{{ c.accessibility }}</dd>
{% endif %}</dl>
{% if !c.description.is_empty() %}<p class="description">{{ c.description }}</p>
{% endif %}<form method="post" action="/admin/gatherings/{{ c.id }}/review">
<input type="hidden" name="csrf" value="{{ csrf }}">
<button type="submit" name="decision" value="approve" aria-label="{{ c.approve_label }}">{{ t.approve }}</button>
<button type="submit" name="decision" value="decline" class="secondary" aria-label="{{ c.decline_label }}">{{ t.decline }}</button>
</form>
</li>
{% endfor %}{% if !cards.is_empty() %}</ul>
{% endif %}{% if more %}<p>{{ t.more }}</p>
{% endif %}"##
)]
struct QueueHtml<'a> {
    t: &'static ReviewText,
    notice: Option<&'a str>,
    cards: Vec<Card>,
    csrf: &'a str,
    more: bool,
}

/// The queue: `waiting` as read (up to [`QUEUE_PAGE`] + 1, to know whether more are waiting).
pub fn queue_page(
    frame: &Frame,
    waiting: &[Gathering],
    csrf: &str,
    notice: Option<&str>,
) -> String {
    let t = review_text(frame.language);
    let cards = waiting
        .iter()
        .take(QUEUE_PAGE)
        .map(|g| {
            let title = g.title.as_str().to_owned();
            let town = format!("{}, {} {}", g.town, g.state, g.zip.as_str());
            Card {
                id: g.id.as_str().to_owned(),
                when: when(g, frame.language),
                place: match &g.address {
                    Address::Public(address) => format!("{address}, {town}"),
                    Address::Private(_) => format!("{town} ({})", t.private_address),
                },
                capacity: g
                    .capacity
                    .map_or_else(|| t.no_limit.to_owned(), |c| c.to_string()),
                description: g.description.clone(),
                accessibility: g.accessibility.clone(),
                approve_label: render(t.approve_label, &[("title", &title)]),
                decline_label: render(t.decline_label, &[("title", &title)]),
                title,
            }
        })
        .collect();
    let body = QueueHtml {
        t,
        notice,
        cards,
        csrf,
        more: waiting.len() > QUEUE_PAGE,
    }
    .render();
    layout(frame, body)
}

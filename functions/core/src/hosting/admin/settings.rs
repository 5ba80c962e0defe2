//! The campaign settings page (`/admin/settings`): the rules the campaign runs by, in the
//! organizer's language, and a form to change them without a deployment: whether new gatherings
//! wait for approval, how many invitations a host may send a day, the invite window, which
//! countries' mobile numbers may be texted and the hours texts may arrive (stricter than the law,
//! never looser). They are stored by `store::campaign` over the stack's parameters and read where
//! they decide something: the host function, `register` and the send worker. The prices of the cost
//! estimate stay in the host function's environment.

use askama::Template;

use super::super::Settings;
use super::super::page::{Frame, layout};
use crate::domain::{Language, on_plus_one_plan};
use crate::messages::render;
use crate::outbound::SendingHours;
use crate::store::{CampaignRules, INVITE_QUOTA_MAX, INVITE_WINDOW_MAX};

/// The settings page's wording in one language.
#[derive(Debug)]
pub struct SettingsText {
    pub title: &'static str,
    pub intro: &'static str,
    pub col_setting: &'static str,
    pub col_value: &'static str,
    pub col_parameter: &'static str,
    pub approval: &'static str,
    pub approval_required: &'static str,
    pub approval_auto: &'static str,
    pub countries: &'static str,
    pub quota: &'static str,
    pub quota_value: &'static str,
    pub window: &'static str,
    pub window_value: &'static str,
    pub quiet_hours: &'static str,
    pub quiet_hours_value: &'static str,
    pub the_law: &'static str,
    pub prices: &'static str,
    pub prices_value: &'static str,
    pub back: &'static str,
    pub edit_title: &'static str,
    pub edit_intro: &'static str,
    pub label_quota: &'static str,
    pub hint_quota: &'static str,
    pub label_window: &'static str,
    pub hint_window: &'static str,
    pub label_countries: &'static str,
    pub hint_countries: &'static str,
    pub label_from: &'static str,
    pub label_until: &'static str,
    pub hint_hours: &'static str,
    pub as_deployed: &'static str,
    pub set_here: &'static str,
    pub save: &'static str,
    pub reset: &'static str,
    pub saved: &'static str,
    pub was_reset: &'static str,
    pub err_approval: &'static str,
    pub err_quota: &'static str,
    pub err_window: &'static str,
    pub err_countries: &'static str,
    pub err_hours: &'static str,
    pub others_title: &'static str,
}

const EN: SettingsText = SettingsText {
    title: "Campaign settings",
    intro: "Each rule in force, and where it comes from: this page, or the stack parameter that sam deploy --guided sets.",
    col_setting: "Setting",
    col_value: "Now",
    col_parameter: "Set by",
    approval: "New gatherings",
    approval_required: "wait for an organizer's approval before they are listed",
    approval_auto: "are listed as soon as their host creates them",
    countries: "Mobile numbers that may be texted",
    quota: "Invitations per host",
    quota_value: "{count} a day",
    window: "Invite window",
    window_value: "a person is invited at most once per channel in {days} days, by anyone; invitations are deleted {keep} days after that",
    quiet_hours: "Hours texts may arrive",
    quiet_hours_value: "{from} to {until} in the recipient's time zone ({florida} at the latest for Florida numbers and ZIP codes); a text due outside them waits for the next start",
    the_law: "the law (TCPA, Florida FTSA)",
    prices: "Prices for cost estimates",
    prices_value: "{sms} US dollars per text segment, {email} per email",
    back: "Organizer tools",
    edit_title: "Rules you can change here",
    edit_intro: "They apply to the next gathering a host creates, the next invitations a host sends, the next sign-up and the next texts the campaign sends.",
    label_quota: "Invitations a host may send a day",
    hint_quota: "A whole number from 1 to {max}.",
    label_window: "Invite window, in days",
    hint_window: "A person is invited at most once per channel in this many days, by anyone. A whole number from 1 to {max}.",
    label_countries: "Countries whose mobile numbers may be texted",
    hint_countries: "Two-letter codes of countries whose numbers start with +1, separated by spaces, for example US PR.",
    label_from: "Texts may arrive from",
    label_until: "until",
    hint_hours: "In the recipient's time zone, within the law's 08:00 to 21:00. Texts to Florida stop at 20:00 whatever the end (Florida FTSA).",
    as_deployed: "As deployed: new gatherings {approval}; {quota} invitations a day; an invite window of {days} days; numbers of {countries}; texts from 08:00 to 21:00.",
    set_here: "this page; deployed: {value}",
    save: "Save the rules",
    reset: "Go back to the deployed rules",
    saved: "Saved: the next gatherings, invitations, sign-ups and texts follow these rules.",
    was_reset: "The deployed rules apply again.",
    err_approval: "Choose whether new gatherings wait for approval.",
    err_quota: "Enter a whole number of invitations from 1 to {max}.",
    err_window: "Enter a whole number of days from 1 to {max}.",
    err_countries: "Enter two-letter codes of countries whose numbers start with +1, such as US PR.",
    err_hours: "Choose a start from 08:00 to 19:00 and an end after it, by 21:00.",
    others_title: "Rules in force",
};

const ES: SettingsText = SettingsText {
    title: "Configuración de la campaña",
    intro: "Cada regla vigente y de dónde viene: de esta página o del parámetro del despliegue que fija sam deploy --guided.",
    col_setting: "Configuración",
    col_value: "Ahora",
    col_parameter: "Fijada por",
    approval: "Las reuniones nuevas",
    approval_required: "esperan la aprobación de una persona organizadora antes de publicarse",
    approval_auto: "se publican en cuanto quien las organiza las crea",
    countries: "Números móviles a los que se puede enviar mensajes de texto",
    quota: "Invitaciones por anfitrión",
    quota_value: "{count} al día",
    window: "Período de invitación",
    window_value: "cada persona recibe como máximo una invitación por canal cada {days} días, de quien sea; las invitaciones se borran {keep} días después",
    quiet_hours: "Horas en que pueden llegar mensajes de texto",
    quiet_hours_value: "de {from} a {until} en la zona horaria de quien lo recibe (hasta las {florida} como máximo para números y códigos postales de Florida); un mensaje que toca fuera de ese horario espera al próximo inicio",
    the_law: "la ley (TCPA, FTSA de Florida)",
    prices: "Precios para las estimaciones de costo",
    prices_value: "{sms} dólares estadounidenses por segmento de texto, {email} por correo",
    back: "Herramientas de organización",
    edit_title: "Reglas que puedes cambiar aquí",
    edit_intro: "Se aplican a la próxima reunión que cree un anfitrión, a las próximas invitaciones que envíe, a la próxima inscripción y a los próximos mensajes de texto de la campaña.",
    label_quota: "Invitaciones que un anfitrión puede enviar al día",
    hint_quota: "Un número entero de 1 a {max}.",
    label_window: "Período de invitación, en días",
    hint_window: "Cada persona recibe como máximo una invitación por canal en este número de días, de quien sea. Un número entero de 1 a {max}.",
    label_countries: "Países a cuyos números móviles se puede enviar mensajes de texto",
    hint_countries: "Códigos de dos letras de países cuyos números empiezan por +1, separados por espacios, por ejemplo US PR.",
    label_from: "Los mensajes de texto pueden llegar desde las",
    label_until: "hasta las",
    hint_hours: "En la zona horaria de quien lo recibe, dentro del horario legal de 08:00 a 21:00. Los mensajes a Florida terminan a las 20:00 sea cual sea el final (FTSA de Florida).",
    as_deployed: "Según el despliegue: las reuniones nuevas {approval}; {quota} invitaciones al día; un período de invitación de {days} días; números de {countries}; mensajes de 08:00 a 21:00.",
    set_here: "esta página; en el despliegue: {value}",
    save: "Guardar las reglas",
    reset: "Volver a las reglas del despliegue",
    saved: "Guardado: las próximas reuniones, invitaciones, inscripciones y mensajes siguen estas reglas.",
    was_reset: "Vuelven a aplicarse las reglas del despliegue.",
    err_approval: "Elige si las reuniones nuevas esperan aprobación.",
    err_quota: "Escribe un número entero de invitaciones de 1 a {max}.",
    err_window: "Escribe un número entero de días de 1 a {max}.",
    err_countries: "Escribe códigos de dos letras de países cuyos números empiezan por +1, como US PR.",
    err_hours: "Elige un inicio de 08:00 a 19:00 y un final posterior, hasta las 21:00.",
    others_title: "Reglas vigentes",
};

pub fn settings_text(language: Language) -> &'static SettingsText {
    match language {
        Language::En => &EN,
        Language::Es => &ES,
    }
}

struct Row {
    setting: &'static str,
    value: String,
    parameter: String,
}

/// The most country codes the rules may list.
const MAX_COUNTRIES: usize = 30;

/// What an organizer typed in the rules form (also what is shown again with its problems).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulesForm {
    /// `required` or `auto`.
    pub approval: String,
    pub quota: String,
    pub window: String,
    /// Codes separated by spaces or commas.
    pub countries: String,
    /// Hours, `8` to `21`.
    pub send_from: String,
    pub send_until: String,
}

/// `08:00`.
fn hour_text(hour: u8) -> String {
    format!("{hour:02}:00")
}

impl RulesForm {
    pub fn of(rules: &CampaignRules) -> Self {
        Self {
            approval: if rules.approval_required {
                "required"
            } else {
                "auto"
            }
            .to_owned(),
            quota: rules.invite_quota.to_string(),
            window: rules.invite_window_days.to_string(),
            countries: rules.phone_countries.join(" "),
            send_from: rules.sending_hours.start().to_string(),
            send_until: rules.sending_hours.end().to_string(),
        }
    }

    /// The rules, or the fields that are wrong with what to write instead.
    pub fn check(&self, t: &SettingsText) -> Result<CampaignRules, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        let approval_required = match self.approval.as_str() {
            "required" => Some(true),
            "auto" => Some(false),
            _ => {
                problems.push(("approval-required", t.err_approval.to_owned()));
                None
            }
        };
        let mut whole =
            |text: &str, max: u32, field: &'static str, message: &'static str| match text
                .trim()
                .parse::<u32>()
            {
                Ok(n) if (1..=max).contains(&n) => Some(n),
                _ => {
                    problems.push((field, render(message, &[("max", &max.to_string())])));
                    None
                }
            };
        let quota = whole(&self.quota, INVITE_QUOTA_MAX, "quota", t.err_quota);
        let window = whole(&self.window, INVITE_WINDOW_MAX, "window", t.err_window);
        let mut countries: Vec<String> = Vec::new();
        for code in self.countries.split([' ', ',']).filter(|c| !c.is_empty()) {
            let code = code.trim().to_ascii_uppercase();
            if !countries.contains(&code) {
                countries.push(code);
            }
        }
        let countries_ok = !countries.is_empty()
            && countries.len() <= MAX_COUNTRIES
            && countries.iter().all(|c| on_plus_one_plan(c));
        if !countries_ok {
            problems.push(("countries", t.err_countries.to_owned()));
        }
        let hour = |text: &str| text.trim().parse::<u8>().ok();
        let hours = match (hour(&self.send_from), hour(&self.send_until)) {
            (Some(start), Some(end)) => SendingHours::new(start, end),
            _ => None,
        };
        if hours.is_none() {
            problems.push(("send-from", t.err_hours.to_owned()));
        }
        match (approval_required, quota, window, hours) {
            (
                Some(approval_required),
                Some(invite_quota),
                Some(invite_window_days),
                Some(hours),
            ) if problems.is_empty() => Ok(CampaignRules {
                approval_required,
                invite_quota,
                invite_window_days,
                phone_countries: countries,
                sending_hours: hours,
            }),
            _ => Err(problems),
        }
    }
}

/// One hour of a sending-hours menu.
struct HourOption {
    value: u8,
    label: String,
    selected: bool,
}

fn hour_options(hours: std::ops::RangeInclusive<u8>, chosen: &str) -> Vec<HourOption> {
    hours
        .map(|value| HourOption {
            value,
            label: hour_text(value),
            selected: chosen.trim() == value.to_string(),
        })
        .collect()
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r##"<h1>{{ t.title }}</h1>
{% if let Some(notice) = notice %}<p class="notice" role="status">{{ notice }}</p>
{% endif %}{% if !problems.is_empty() %}<div class="summary" role="alert" tabindex="-1" id="summary"><ul>
{% for (field, message) in problems %}<li><a href="#{{ field }}">{{ message }}</a></li>
{% endfor %}</ul></div>
{% endif %}<p><a href="/admin">{{ t.back }}</a></p>
<h2>{{ t.edit_title }}</h2>
<p>{{ t.edit_intro }} {{ deployed }}</p>
<form method="post" action="/admin/settings" novalidate>
<input type="hidden" name="csrf" value="{{ csrf }}">
<fieldset class="field">
<legend>{{ t.approval }}</legend>
<div class="check"><input type="radio" id="approval-required" name="approval" value="required"{% if form.approval == "required" %} checked{% endif %}{% if approval_error.is_some() %} aria-invalid="true"{% endif %}><label for="approval-required">{{ t.approval_required }}</label></div>
<div class="check"><input type="radio" id="approval-auto" name="approval" value="auto"{% if form.approval == "auto" %} checked{% endif %}><label for="approval-auto">{{ t.approval_auto }}</label></div>
{% if let Some(e) = approval_error %}<p class="error" id="approval-error">{{ e }}</p>
{% endif %}</fieldset>
<div class="field">
<label for="quota">{{ t.label_quota }}</label>
<p class="hint" id="quota-hint">{{ quota_hint }}</p>
<input class="text" type="number" inputmode="numeric" min="1" max="{{ quota_max }}" id="quota" name="quota" value="{{ form.quota }}" required aria-describedby="quota-hint{% if quota_error.is_some() %} quota-error{% endif %}"{% if quota_error.is_some() %} aria-invalid="true"{% endif %}>
{% if let Some(e) = quota_error %}<p class="error" id="quota-error">{{ e }}</p>
{% endif %}</div>
<div class="field">
<label for="window">{{ t.label_window }}</label>
<p class="hint" id="window-hint">{{ window_hint }}</p>
<input class="text" type="number" inputmode="numeric" min="1" max="{{ window_max }}" id="window" name="window" value="{{ form.window }}" required aria-describedby="window-hint{% if window_error.is_some() %} window-error{% endif %}"{% if window_error.is_some() %} aria-invalid="true"{% endif %}>
{% if let Some(e) = window_error %}<p class="error" id="window-error">{{ e }}</p>
{% endif %}</div>
<div class="field">
<label for="countries">{{ t.label_countries }}</label>
<p class="hint" id="countries-hint">{{ t.hint_countries }}</p>
<input class="text" type="text" autocapitalize="characters" autocomplete="off" spellcheck="false" maxlength="120" id="countries" name="countries" value="{{ form.countries }}" required aria-describedby="countries-hint{% if countries_error.is_some() %} countries-error{% endif %}"{% if countries_error.is_some() %} aria-invalid="true"{% endif %}>
{% if let Some(e) = countries_error %}<p class="error" id="countries-error">{{ e }}</p>
{% endif %}</div>
<fieldset class="field" aria-describedby="hours-hint{% if hours_error.is_some() %} hours-error{% endif %}">
<legend>{{ t.quiet_hours }}</legend>
<p class="hint" id="hours-hint">{{ t.hint_hours }}</p>
<label for="send-from">{{ t.label_from }}</label>
<select id="send-from" name="send_from"{% if hours_error.is_some() %} aria-invalid="true"{% endif %}>
{% for o in from_options %}<option value="{{ o.value }}"{% if o.selected %} selected{% endif %}>{{ o.label }}</option>
{% endfor %}</select>
<label for="send-until">{{ t.label_until }}</label>
<select id="send-until" name="send_until"{% if hours_error.is_some() %} aria-invalid="true"{% endif %}>
{% for o in until_options %}<option value="{{ o.value }}"{% if o.selected %} selected{% endif %}>{{ o.label }}</option>
{% endfor %}</select>
{% if let Some(e) = hours_error %}<p class="error" id="hours-error">{{ e }}</p>
{% endif %}</fieldset>
<button type="submit" name="action" value="save">{{ t.save }}</button>
{% if set_here %}<button type="submit" name="action" value="reset" class="secondary">{{ t.reset }}</button>
{% endif %}</form>
<h2>{{ t.others_title }}</h2>
<p>{{ t.intro }}</p>
<div class="table-wrap"><table>
<thead><tr><th scope="col">{{ t.col_setting }}</th><th scope="col">{{ t.col_value }}</th><th scope="col">{{ t.col_parameter }}</th></tr></thead>
<tbody>
{% for r in rows %}<tr><th scope="row">{{ r.setting }}</th><td>{{ r.value }}</td><td>{{ r.parameter }}</td></tr>
{% endfor %}</tbody>
</table></div>
"##
)]
struct SettingsHtml<'a> {
    t: &'static SettingsText,
    notice: Option<&'a str>,
    problems: Vec<(&'static str, String)>,
    approval_error: Option<String>,
    quota_error: Option<String>,
    window_error: Option<String>,
    countries_error: Option<String>,
    hours_error: Option<String>,
    deployed: String,
    quota_hint: String,
    window_hint: String,
    quota_max: u32,
    window_max: u32,
    from_options: Vec<HourOption>,
    until_options: Vec<HourOption>,
    form: &'a RulesForm,
    set_here: bool,
    csrf: &'a str,
    rows: Vec<Row>,
}

/// What the settings page shows: the rules as deployed, those organizers set (if any), and the
/// form as typed (the rules in force, or a refused entry with its `problems`).
pub struct SettingsPage<'a> {
    pub deployed: &'a Settings,
    pub set_here: Option<&'a CampaignRules>,
    pub form: &'a RulesForm,
    pub problems: Vec<(&'static str, String)>,
    pub notice: Option<&'a str>,
    pub csrf: &'a str,
}

pub fn settings_page(frame: &Frame, page: SettingsPage<'_>) -> String {
    let t = settings_text(frame.language);
    let settings = page.deployed;
    let deployed_rules = settings.deployed_rules();
    let approval_value = |required: bool| {
        if required {
            t.approval_required
        } else {
            t.approval_auto
        }
    };
    let deployed = render(
        t.as_deployed,
        &[
            ("approval", approval_value(settings.approval_required)),
            ("quota", &settings.invite_quota.to_string()),
            ("days", &settings.invite_window_days.to_string()),
            ("countries", &settings.phone_countries.join(", ")),
        ],
    );
    let quota_text = |rules: &CampaignRules| {
        render(t.quota_value, &[("count", &rules.invite_quota.to_string())])
    };
    let window_text = |rules: &CampaignRules| {
        render(
            t.window_value,
            &[
                ("days", &rules.invite_window_days.to_string()),
                ("keep", &settings.invite_purge_days.to_string()),
            ],
        )
    };
    let hours_text = |rules: &CampaignRules| {
        let hours = rules.sending_hours;
        render(
            t.quiet_hours_value,
            &[
                ("from", &hour_text(hours.start())),
                ("until", &hour_text(hours.end())),
                ("florida", &hour_text(hours.florida_end())),
            ],
        )
    };
    // The rules in force, and where each comes from.
    let now = page.set_here.unwrap_or(&deployed_rules);
    let origin = |parameter: &str, deployed_value: String| match page.set_here {
        Some(_) => render(t.set_here, &[("value", &deployed_value)]),
        None => parameter.to_owned(),
    };
    let rows = vec![
        Row {
            setting: t.approval,
            value: approval_value(now.approval_required).to_owned(),
            parameter: origin(
                "GatheringApproval",
                approval_value(settings.approval_required).to_owned(),
            ),
        },
        Row {
            setting: t.quota,
            value: quota_text(now),
            parameter: origin("HostInviteDailyLimit", quota_text(&deployed_rules)),
        },
        Row {
            setting: t.countries,
            value: now.phone_countries.join(", "),
            parameter: origin("AllowedPhoneCountries", settings.phone_countries.join(", ")),
        },
        Row {
            setting: t.window,
            value: window_text(now),
            parameter: origin(
                "InviteWindowDays, InvitePurgeDays",
                window_text(&deployed_rules),
            ),
        },
        Row {
            setting: t.quiet_hours,
            value: hours_text(now),
            parameter: origin(t.the_law, hours_text(&deployed_rules)),
        },
        Row {
            setting: t.prices,
            value: render(
                t.prices_value,
                &[
                    ("sms", &settings.sms_segment_price_usd.to_string()),
                    ("email", &settings.email_price_usd.to_string()),
                ],
            ),
            parameter: "SMS_SEGMENT_PRICE_USD, EMAIL_PRICE_USD".to_owned(),
        },
    ];
    let field_error = |field: &str| {
        page.problems
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.clone())
    };
    let html = SettingsHtml {
        t,
        notice: page.notice,
        approval_error: field_error("approval-required"),
        quota_error: field_error("quota"),
        window_error: field_error("window"),
        countries_error: field_error("countries"),
        hours_error: field_error("send-from"),
        problems: page.problems.clone(),
        deployed,
        quota_hint: render(t.hint_quota, &[("max", &INVITE_QUOTA_MAX.to_string())]),
        window_hint: render(t.hint_window, &[("max", &INVITE_WINDOW_MAX.to_string())]),
        quota_max: INVITE_QUOTA_MAX,
        window_max: INVITE_WINDOW_MAX,
        from_options: hour_options(SendingHours::STARTS, &page.form.send_from),
        until_options: hour_options(SendingHours::ENDS, &page.form.send_until),
        form: page.form,
        set_here: page.set_here.is_some(),
        csrf: page.csrf,
        rows,
    };
    layout(frame, html.render())
}

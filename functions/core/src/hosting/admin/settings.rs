//! The campaign settings page (`/admin/settings`): the rules the campaign runs by, in the
//! organizer's language. Two of them organizers change here, without a deployment: whether new
//! gatherings wait for approval and how many invitations a host may send a day (stored by
//! `store::campaign` over the stack's `GatheringApproval` and `HostInviteDailyLimit`; the host
//! function reads them where they decide something). The others are shown with the stack parameter
//! that changes them (`sam deploy --guided`): which countries' mobile numbers may be texted, the
//! invite window, the hours texts may arrive (read by other functions too), and the prices of the
//! cost estimate (the host function's environment).

use askama::Template;

use super::super::Settings;
use super::super::page::{Frame, layout};
use crate::domain::Language;
use crate::messages::render;
use crate::store::{CampaignRules, INVITE_QUOTA_MAX};

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
    pub quiet_hours_parameter: &'static str,
    pub prices: &'static str,
    pub prices_value: &'static str,
    pub back: &'static str,
    pub edit_title: &'static str,
    pub edit_intro: &'static str,
    pub label_quota: &'static str,
    pub hint_quota: &'static str,
    pub as_deployed: &'static str,
    pub set_here: &'static str,
    pub save: &'static str,
    pub reset: &'static str,
    pub saved: &'static str,
    pub was_reset: &'static str,
    pub err_approval: &'static str,
    pub err_quota: &'static str,
    pub others_title: &'static str,
}

const EN: SettingsText = SettingsText {
    title: "Campaign settings",
    intro: "The rules this campaign runs by. To change one of those below, run sam deploy --guided and give the parameter named here a new value; the change applies within minutes of the deployment.",
    col_setting: "Setting",
    col_value: "Now",
    col_parameter: "Parameter",
    approval: "New gatherings",
    approval_required: "wait for an organizer's approval before they are listed",
    approval_auto: "are listed as soon as their host creates them",
    countries: "Mobile numbers that may be texted",
    quota: "Invitations per host",
    quota_value: "{count} a day",
    window: "Invite window",
    window_value: "a person is invited at most once per channel in {days} days, by anyone; invitations are deleted {keep} days after that",
    quiet_hours: "Hours texts may arrive",
    quiet_hours_value: "08:00 to 21:00 in the recipient's time zone (08:00 to 20:00 for Florida numbers and ZIP codes); a text due outside them waits for the morning",
    quiet_hours_parameter: "the law (TCPA, Florida FTSA): not a parameter",
    prices: "Prices for cost estimates",
    prices_value: "{sms} US dollars per text segment, {email} per email",
    back: "Organizer tools",
    edit_title: "Rules you can change here",
    edit_intro: "They apply to the next gathering a host creates and the next invitations a host sends.",
    label_quota: "Invitations a host may send a day",
    hint_quota: "A whole number from 1 to {max}.",
    as_deployed: "As deployed: new gatherings {approval}; {quota} invitations a day.",
    set_here: "set on this page; deployed: {value}",
    save: "Save the rules",
    reset: "Go back to the deployed rules",
    saved: "Saved: the next gathering and the next invitations follow these rules.",
    was_reset: "The deployed rules apply again.",
    err_approval: "Choose whether new gatherings wait for approval.",
    err_quota: "Enter a whole number of invitations from 1 to {max}.",
    others_title: "Rules set when the campaign is deployed",
};

const ES: SettingsText = SettingsText {
    title: "Configuración de la campaña",
    intro: "Las reglas de esta campaña. Para cambiar una de las de abajo, ejecuta sam deploy --guided y da un nuevo valor al parámetro indicado aquí; el cambio se aplica minutos después del despliegue.",
    col_setting: "Configuración",
    col_value: "Ahora",
    col_parameter: "Parámetro",
    approval: "Las reuniones nuevas",
    approval_required: "esperan la aprobación de una persona organizadora antes de publicarse",
    approval_auto: "se publican en cuanto quien las organiza las crea",
    countries: "Números móviles a los que se puede enviar mensajes de texto",
    quota: "Invitaciones por anfitrión",
    quota_value: "{count} al día",
    window: "Período de invitación",
    window_value: "cada persona recibe como máximo una invitación por canal cada {days} días, de quien sea; las invitaciones se borran {keep} días después",
    quiet_hours: "Horas en que pueden llegar mensajes de texto",
    quiet_hours_value: "de 08:00 a 21:00 en la zona horaria de quien lo recibe (de 08:00 a 20:00 para números y códigos postales de Florida); un mensaje que toca fuera de ese horario espera a la mañana",
    quiet_hours_parameter: "la ley (TCPA, FTSA de Florida): no es un parámetro",
    prices: "Precios para las estimaciones de costo",
    prices_value: "{sms} dólares estadounidenses por segmento de texto, {email} por correo",
    back: "Herramientas de organización",
    edit_title: "Reglas que puedes cambiar aquí",
    edit_intro: "Se aplican a la próxima reunión que cree un anfitrión y a las próximas invitaciones que envíe.",
    label_quota: "Invitaciones que un anfitrión puede enviar al día",
    hint_quota: "Un número entero de 1 a {max}.",
    as_deployed: "Según el despliegue: las reuniones nuevas {approval}; {quota} invitaciones al día.",
    set_here: "fijado en esta página; en el despliegue: {value}",
    save: "Guardar las reglas",
    reset: "Volver a las reglas del despliegue",
    saved: "Guardado: la próxima reunión y las próximas invitaciones siguen estas reglas.",
    was_reset: "Vuelven a aplicarse las reglas del despliegue.",
    err_approval: "Elige si las reuniones nuevas esperan aprobación.",
    err_quota: "Escribe un número entero de invitaciones de 1 a {max}.",
    others_title: "Reglas fijadas al desplegar la campaña",
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

/// What an organizer typed in the rules form (also what is shown again with its problems).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulesForm {
    /// `required` or `auto`.
    pub approval: String,
    pub quota: String,
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
        let max = INVITE_QUOTA_MAX.to_string();
        let quota = match self.quota.trim().parse::<u32>() {
            Ok(q) if (1..=INVITE_QUOTA_MAX).contains(&q) => Some(q),
            _ => {
                problems.push(("quota", render(t.err_quota, &[("max", &max)])));
                None
            }
        };
        match (approval_required, quota) {
            (Some(approval_required), Some(invite_quota)) if problems.is_empty() => {
                Ok(CampaignRules {
                    approval_required,
                    invite_quota,
                })
            }
            _ => Err(problems),
        }
    }
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
<input class="text" type="number" inputmode="numeric" min="1" max="{{ max }}" id="quota" name="quota" value="{{ form.quota }}" required aria-describedby="quota-hint{% if quota_error.is_some() %} quota-error{% endif %}"{% if quota_error.is_some() %} aria-invalid="true"{% endif %}>
{% if let Some(e) = quota_error %}<p class="error" id="quota-error">{{ e }}</p>
{% endif %}</div>
<button type="submit" name="action" value="save">{{ t.save }}</button>
{% if set_here %}<button type="submit" name="action" value="reset" class="secondary">{{ t.reset }}</button>
{% endif %}</form>
<h2>{{ t.others_title }}</h2>
<p>{{ t.intro }}</p>
<div class="table-wrap"><table>
<thead><tr><th scope="col">{{ t.col_setting }}</th><th scope="col">{{ t.col_value }}</th><th scope="col">{{ t.col_parameter }}</th></tr></thead>
<tbody>
{% for r in rows %}<tr><th scope="row">{{ r.setting }}</th><td>{{ r.value }}</td><td><code>{{ r.parameter }}</code></td></tr>
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
    deployed: String,
    quota_hint: String,
    max: u32,
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
    /// The invite window and how long invitations are kept after it, in days.
    pub window_days: u32,
    pub keep_days: u32,
}

pub fn settings_page(frame: &Frame, page: SettingsPage<'_>) -> String {
    let t = settings_text(frame.language);
    let settings = page.deployed;
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
        ],
    );
    let quota_text = |quota: u32| render(t.quota_value, &[("count", &quota.to_string())]);
    // The rules in force, and where each comes from.
    let (approval_now, quota_now) = match page.set_here {
        Some(rules) => (rules.approval_required, rules.invite_quota),
        None => (settings.approval_required, settings.invite_quota),
    };
    let origin = |parameter: &'static str, deployed_value: String| match page.set_here {
        Some(_) => format!(
            "{parameter}: {}",
            render(t.set_here, &[("value", &deployed_value)])
        ),
        None => parameter.to_owned(),
    };
    let rows = vec![
        Row {
            setting: t.approval,
            value: approval_value(approval_now).to_owned(),
            parameter: origin(
                "GatheringApproval",
                approval_value(settings.approval_required).to_owned(),
            ),
        },
        Row {
            setting: t.quota,
            value: quota_text(quota_now),
            parameter: origin("HostInviteDailyLimit", quota_text(settings.invite_quota)),
        },
        Row {
            setting: t.countries,
            value: settings.phone_countries.join(", "),
            parameter: "AllowedPhoneCountries".to_owned(),
        },
        Row {
            setting: t.window,
            value: render(
                t.window_value,
                &[
                    ("days", &page.window_days.to_string()),
                    ("keep", &page.keep_days.to_string()),
                ],
            ),
            parameter: "InviteWindowDays, InvitePurgeDays".to_owned(),
        },
        Row {
            setting: t.quiet_hours,
            value: t.quiet_hours_value.to_owned(),
            parameter: t.quiet_hours_parameter.to_owned(),
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
    let max = INVITE_QUOTA_MAX;
    let html = SettingsHtml {
        t,
        notice: page.notice,
        approval_error: field_error("approval-required"),
        quota_error: field_error("quota"),
        problems: page.problems.clone(),
        deployed,
        quota_hint: render(t.hint_quota, &[("max", &max.to_string())]),
        max,
        form: page.form,
        set_here: page.set_here.is_some(),
        csrf: page.csrf,
        rows,
    };
    layout(frame, html.render())
}

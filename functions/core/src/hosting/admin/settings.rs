//! The campaign settings page (`/admin/settings`): the rules the campaign runs by, as deployed, in
//! the organizer's language: whether new gatherings wait for approval, which countries' mobile
//! numbers may be texted, how many invitations a host may send a day, the invite window, and the
//! hours texts may arrive. Each is a parameter of the stack: the page names it, and an organizer
//! changes it with `sam deploy --guided` (it is not editable here; see the README). The prices are
//! the host function's environment (list prices by default), not parameters.

use askama::Template;

use super::super::Settings;
use super::super::page::{Frame, layout};
use crate::domain::Language;
use crate::messages::render;

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
}

const EN: SettingsText = SettingsText {
    title: "Campaign settings",
    intro: "The rules this campaign runs by. To change one, run sam deploy --guided and give the parameter named here a new value; the change applies within minutes of the deployment.",
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
};

const ES: SettingsText = SettingsText {
    title: "Configuración de la campaña",
    intro: "Las reglas de esta campaña. Para cambiar una, ejecuta sam deploy --guided y da un nuevo valor al parámetro indicado aquí; el cambio se aplica minutos después del despliegue.",
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
    parameter: &'static str,
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r##"<h1>{{ t.title }}</h1>
<p>{{ t.intro }} <a href="/admin">{{ t.back }}</a></p>
<div class="table-wrap"><table>
<thead><tr><th scope="col">{{ t.col_setting }}</th><th scope="col">{{ t.col_value }}</th><th scope="col">{{ t.col_parameter }}</th></tr></thead>
<tbody>
{% for r in rows %}<tr><th scope="row">{{ r.setting }}</th><td>{{ r.value }}</td><td><code>{{ r.parameter }}</code></td></tr>
{% endfor %}</tbody>
</table></div>
"##
)]
struct SettingsHtml {
    t: &'static SettingsText,
    rows: Vec<Row>,
}

/// The settings as this function runs with them. `window_days` and `keep_days`: the invite window
/// and how long invitations are kept after it.
pub fn settings_page(
    frame: &Frame,
    settings: &Settings,
    window_days: u32,
    keep_days: u32,
) -> String {
    let t = settings_text(frame.language);
    let rows = vec![
        Row {
            setting: t.approval,
            value: if settings.approval_required {
                t.approval_required
            } else {
                t.approval_auto
            }
            .to_owned(),
            parameter: "GatheringApproval",
        },
        Row {
            setting: t.countries,
            value: settings.phone_countries.join(", "),
            parameter: "AllowedPhoneCountries",
        },
        Row {
            setting: t.quota,
            value: render(
                t.quota_value,
                &[("count", &settings.invite_quota.to_string())],
            ),
            parameter: "HostInviteDailyLimit",
        },
        Row {
            setting: t.window,
            value: render(
                t.window_value,
                &[
                    ("days", &window_days.to_string()),
                    ("keep", &keep_days.to_string()),
                ],
            ),
            parameter: "InviteWindowDays, InvitePurgeDays",
        },
        Row {
            setting: t.quiet_hours,
            value: t.quiet_hours_value.to_owned(),
            parameter: t.quiet_hours_parameter,
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
            parameter: "SMS_SEGMENT_PRICE_USD, EMAIL_PRICE_USD",
        },
    ];
    layout(frame, SettingsHtml { t, rows }.render())
}

//! Participant-facing text, in every language the campaign speaks. No such text lives in code
//! elsewhere. Placeholders are `{name}`-style and filled by [`render`]. Every entry is GSM-7 and fits
//! the fewest segments it can with realistic values (tested below). Spanish keeps é, ñ, ¡ and ¿
//! (they are GSM-7) and writes a, i, o, u without accents: one accented vowel would switch a text to
//! UCS-2 and cost two or three times as much.

use crate::domain::Language;
use crate::store::{StoredTemplate, TemplateMessage};

/// The texts of one language.
#[derive(Debug, Clone, Copy)]
pub struct Catalog {
    /// Reply to a campaign keyword (opt-in). `{program}`.
    pub welcome: &'static str,
    /// Reply to HELP/INFO/AYUDA: who we are, how to reach a person, costs, how to stop.
    /// `{program}`, `{contact}`.
    pub help: &'static str,
    /// The one confirmation of an opt-out; nothing is sent after it. `{program}`.
    pub stopped: &'static str,
    /// Confirmation of START after an opt-out. `{program}`.
    pub restarted: &'static str,
    /// To a stranger whose text we don't understand; at most once a day. `{program}`.
    pub stranger: &'static str,
    /// Reply to a campaign keyword: opt-in and the first question. `{program}`.
    pub ask_name: &'static str,
    /// Reply to a gathering's code: opt-in, which gathering, the first question. `{program}`,
    /// `{title}`, `{when}`.
    pub ask_name_for_gathering: &'static str,
    /// A reply that is not a first name.
    pub bad_name: &'static str,
    /// `{name}`.
    pub ask_zip: &'static str,
    /// A reply that is not a known 5-digit ZIP code.
    pub bad_zip: &'static str,
    /// Up to three gatherings, numbered: `{list}` (lines from `choice_line`), `{last}` (2 or 3).
    pub choices: &'static str,
    /// One line of `choices`: `{n}`, `{when}`, `{town}`, `{distance}`.
    pub choice_line: &'static str,
    /// Only one gathering nearby: `{when}`, `{town}`, `{distance}`, `{title}`.
    pub one_choice: &'static str,
    /// A reply that is not one of the numbers offered: `{last}`.
    pub bad_choice: &'static str,
    /// Nothing within the radius: `{radius}` (miles), `{host_url}`, `{recordings_url}`.
    pub none_nearby: &'static str,
    /// The RSVP is stored: `{name}`, `{title}`, `{when}`, `{place}`, `{host}`, `{recording_url}`,
    /// `{safety_url}`.
    pub confirmed: &'static str,
    /// The gathering is full: `{name}`, `{title}`, `{recording_url}`.
    pub waitlisted: &'static str,
    /// The gathering asked for has ended or no longer exists: `{host_url}`.
    pub gathering_gone: &'static str,
    /// `{place}` of a private home before the day before.
    /// `{host}` in `confirmed` for a gathering whose host asked to be erased.
    pub host_unnamed: &'static str,
    pub private_place: &'static str,
    /// Reply to DELETE/BORRAR: what a second one within 10 minutes erases. `{program}`.
    pub confirm_delete: &'static str,
    /// Reply to the confirming DELETE/BORRAR, the last text they get. `{program}`.
    pub erased: &'static str,
    /// Sent after a confirmation or the no-gathering reply, as a second text: the optional last step.
    pub ask_email: &'static str,
    /// An answer to [`Catalog::ask_email`] that looks like an address but is not one.
    pub bad_email: &'static str,
    /// The address was taken and the email is on its way.
    pub email_coming: &'static str,
    /// Subject of the recordings email. `{program}`.
    pub recordings_subject: &'static str,
    /// Body of the recordings email (plain text; the HTML version is built from it). `{program}`,
    /// `{overview_url}`, `{recordings_url}`, `{safety_url}`.
    pub recordings_body: &'static str,
    /// Footer of every email: why they get it and the two links. `{program}`, `{unsubscribe_url}`,
    /// `{forget_url}`.
    pub email_footer: &'static str,
    /// Text confirming a web-form RSVP (consent box ticked): `{program}`, `{title}`, `{when}`,
    /// `{safety_url}`. The first text to a number that signed up on the web: says how to stop.
    pub form_going_sms: &'static str,
    /// Text for a web-form RSVP that landed on the waitlist: `{program}`, `{title}`.
    pub form_waitlist_sms: &'static str,
    /// Text confirming a web-form sign-up without an event: `{program}`, `{recordings_url}`.
    pub form_joined_sms: &'static str,
    /// Text confirming a training registration: `{program}`, `{title}`, `{when}`.
    pub form_training_sms: &'static str,
    /// Email subject, web-form RSVP: `{title}`, `{when}`.
    pub form_going_subject: &'static str,
    /// Email body, web-form RSVP (plain text; HTML is built from it): `{name}`, `{title}`, `{when}`,
    /// `{place}`, `{safety_url}`, `{recordings}` (lines of published recordings), `{share_url}`.
    pub form_going_body: &'static str,
    /// `{title}`.
    pub form_waitlist_subject: &'static str,
    /// `{name}`, `{title}`, `{when}`, `{safety_url}`, `{recordings}`, `{share_url}`.
    pub form_waitlist_body: &'static str,
    /// `{program}`.
    pub form_joined_subject: &'static str,
    /// `{name}`, `{program}`, `{safety_url}`, `{recordings}`, `{share_url}`, `{host_line}`.
    pub form_joined_body: &'static str,
    /// The line added to `form_joined_body` for someone who wants to host: `{host_url}`.
    pub form_host_line: &'static str,
    /// `{title}`, `{when}`.
    pub form_training_subject: &'static str,
    /// `{name}`, `{title}`, `{when}`, `{join_url}`, `{safety_url}`, `{recordings}`, `{share_url}`.
    pub form_training_body: &'static str,
    /// One line of `{recordings}`: `{title}`, `{url}`.
    pub recording_line: &'static str,
    /// `{recordings}` when nothing is published yet: `{recordings_url}`.
    pub no_recordings_yet: &'static str,
    /// Place of a private home: the address comes the day before.
    pub private_place_email: &'static str,
    /// Footer of emails that answer a web sign-up: `{program}`, `{unsubscribe_url}`, `{forget_url}`.
    pub form_email_footer: &'static str,
    /// Subject of the reminder the day before: `{title}`, `{when}`.
    pub reminder_tomorrow_subject: &'static str,
    /// Subject of the reminder on the day: `{title}`, `{when}`.
    pub reminder_today_subject: &'static str,
    /// Body of a gathering's reminders (the private address is told here): `{name}`, `{title}`,
    /// `{when}`, `{place}`, `{notes}` (the accessibility line or nothing), `{safety_url}`.
    pub reminder_body: &'static str,
    /// `{notes}` of `reminder_body`: `{accessibility}`.
    pub accessibility_line: &'static str,
    /// Text reminder of a gathering: `{program}`, `{title}`, `{when}`, `{place}`.
    pub reminder_sms: &'static str,
    /// After a gathering: `{title}`.
    pub follow_up_subject: &'static str,
    /// `{name}`, `{title}`, `{host_url}`, `{next_training}`, `{recordings_url}`, `{safety_url}`.
    pub follow_up_body: &'static str,
    /// `{program}`, `{title}`, `{host_url}`.
    pub follow_up_sms: &'static str,
    /// `{next_training}` of `follow_up_body`: `{title}`, `{when}`, `{url}`.
    pub next_training_line: &'static str,
    /// `{next_training}` when none is planned: `{recordings_url}`.
    pub no_next_training: &'static str,
    /// A training's reminder: `{name}`, `{title}`, `{when}`, `{join_url}`, `{safety_url}`.
    pub training_reminder_body: &'static str,
    /// `{program}`, `{title}`, `{when}`, `{join_url}`.
    pub training_reminder_sms: &'static str,
    /// A training's recording, once published: `{title}`.
    pub recording_subject: &'static str,
    /// `{name}`, `{title}`, `{url}`, `{recordings_url}`.
    pub recording_body: &'static str,
    /// `{program}`, `{title}`, `{url}`.
    pub recording_sms: &'static str,
    /// Short weekday names, Monday first.
    pub weekdays: [&'static str; 7],
    /// Short month names, January first.
    pub months: [&'static str; 12],
}

pub const EN: Catalog = Catalog {
    welcome: "Welcome to {program}! We'll text you about gatherings near you, a few msgs/month. \
              Msg & data rates may apply. Reply HELP for help, STOP to opt out.",
    help: "{program}: community gatherings near you. Help: {contact}. A few msgs/month. \
           Msg & data rates may apply. Reply STOP to cancel.",
    stopped: "{program}: You're unsubscribed and will get no more texts. Reply START to rejoin.",
    restarted: "{program}: You're subscribed again, a few msgs/month. Msg & data rates may apply. \
                Reply HELP for help, STOP to opt out.",
    stranger: "{program}: Text JOIN to hear about gatherings near you, HELP for help, STOP to opt out.",
    ask_name: "Welcome to {program}! What's your first name? A few msgs/month. Msg & data rates may apply. \
               Reply HELP for help, STOP to opt out.",
    ask_name_for_gathering: "Welcome to {program}! You're joining {title}, {when}. What's your first name? \
                             Msg & data rates may apply. Reply STOP to opt out.",
    bad_name: "Please send just your first name.",
    ask_zip: "Thanks, {name}! What's your ZIP code? We'll find gatherings near you.",
    bad_zip: "Please send a 5-digit ZIP code.",
    choices: "Gatherings near you:\n{list}\nReply 1-{last} to RSVP.",
    choice_line: "{n}) {when}, {town} ({distance})",
    one_choice: "Near you: {title}, {when}, {town} ({distance}). Reply 1 to RSVP.",
    bad_choice: "Please reply with a number from 1 to {last}.",
    none_nearby: "No gatherings within {radius} miles yet. Host one: {host_url} Watch the trainings: {recordings_url}",
    confirmed: "You're going, {name}! {title}, {when}, {place}. Host: {host}. Before you go: {recording_url} \
                Safety: {safety_url}",
    waitlisted: "{title} is full, {name}: you're on the waitlist and we'll text you if a spot opens. \
                 Meanwhile: {recording_url}",
    gathering_gone: "That gathering has ended. Text JOIN to find another, or host one: {host_url}",
    private_place: "address sent the day before",
    host_unnamed: "the organizers",
    confirm_delete: "Reply DELETE again within 10 minutes to erase your name, RSVPs and number from {program}. \
                     You will get no more texts.",
    erased: "Your details are erased. You will get no more texts from {program}.",
    ask_email: "Want the training recordings by email? Reply with your email address.",
    bad_email: "That doesn't look like an email address. Please send it again, like name@example.org.",
    email_coming: "Thanks! The recordings are on their way to your inbox.",
    recordings_subject: "{program}: the training recordings",
    recordings_body: "Thank you for joining {program}.\n\n\
                      Start with the overview training: {overview_url}\n\
                      Every training recording: {recordings_url}\n\n\
                      Before any gathering, please read our safety and nonviolence commitment: {safety_url}",
    email_footer: "You get this email because you asked {program} for it by text.\n\
                   Unsubscribe: {unsubscribe_url}\n\
                   Delete my data: {forget_url}",
    form_going_sms: "{program}: you're going to {title}, {when}. Safety first: {safety_url} \
                     Reply HELP for help, STOP to opt out.",
    form_waitlist_sms: "{program}: {title} is full, so you're on the waitlist. We'll text if a \
                        place opens. Reply STOP to opt out.",
    form_joined_sms: "{program}: welcome! Training recordings: {recordings_url} A few msgs/month. \
                      Msg & data rates may apply. Reply HELP for help, STOP to opt out.",
    form_training_sms: "{program}: you're registered for {title}, {when}. We'll text the link \
                        before it starts. Reply STOP to opt out.",
    form_going_subject: "You're going: {title}, {when}",
    form_going_body: "Hi {name},\n\nYou're going to {title}, {when}.\nWhere: {place}\n\n\
                      The calendar invite is attached.\n\n\
                      Before you go, read our safety and nonviolence commitment: {safety_url}\n\n\
                      Training recordings:\n{recordings}\n\n\
                      Bring a friend: {share_url}",
    form_waitlist_subject: "Waitlist: {title}",
    form_waitlist_body: "Hi {name},\n\n{title} ({when}) is full, so you're on the waitlist. \
                         We'll tell you if a place opens.\n\n\
                         Our safety and nonviolence commitment: {safety_url}\n\n\
                         Training recordings:\n{recordings}\n\n\
                         Bring a friend: {share_url}",
    form_joined_subject: "Welcome to {program}",
    form_joined_body: "Hi {name},\n\nWelcome to {program}. You'll hear about gatherings near you.\n\n\
                       Start with the training recordings:\n{recordings}\n\n\
                       Our safety and nonviolence commitment: {safety_url}\n{host_line}\n\
                       Bring a friend: {share_url}",
    form_host_line: "\nYou want to host a gathering: thank you! Start here: {host_url}\n",
    form_training_subject: "You're registered: {title}, {when}",
    form_training_body: "Hi {name},\n\nYou're registered for {title}, {when}.\nJoin: {join_url}\n\n\
                         The calendar invite is attached.\n\n\
                         Our safety and nonviolence commitment: {safety_url}\n\n\
                         Training recordings:\n{recordings}\n\n\
                         Bring a friend: {share_url}",
    recording_line: "- {title}: {url}",
    no_recordings_yet: "- All recordings: {recordings_url}",
    private_place_email: "a private home; we'll send the address the day before",
    form_email_footer: "You get this email because you signed up with {program}.\n\
                        Unsubscribe: {unsubscribe_url}\n\
                        Delete my data: {forget_url}",
    reminder_tomorrow_subject: "Tomorrow: {title}, {when}",
    reminder_today_subject: "Today: {title}, {when}",
    reminder_body: "Hi {name},\n\nA reminder: {title} is {when}.\nWhere: {place}\n{notes}\n\
                    The calendar invite is attached.\n\n\
                    Before you go, read our safety and nonviolence commitment: {safety_url}",
    accessibility_line: "Access: {accessibility}\n",
    reminder_sms: "{program}: reminder, {title} is {when} at {place}. Reply STOP to opt out.",
    follow_up_subject: "Thank you for coming to {title}",
    follow_up_body: "Hi {name},\n\nThank you for coming to {title}. What comes next:\n\n\
                     - Host a gathering of your own: {host_url}\n\
                     - {next_training}\n\
                     - Every training recording: {recordings_url}\n\n\
                     Our safety and nonviolence commitment: {safety_url}",
    follow_up_sms: "{program}: thank you for coming to {title}! Host a gathering of your own: \
                    {host_url} Reply STOP to opt out.",
    next_training_line: "Next training: {title}, {when}: {url}",
    no_next_training: "Training recordings: {recordings_url}",
    training_reminder_body: "Hi {name},\n\nA reminder: {title} is {when}.\nJoin: {join_url}\n\n\
                             Our safety and nonviolence commitment: {safety_url}",
    training_reminder_sms: "{program}: {title} is {when}. Join: {join_url} Reply STOP to opt out.",
    recording_subject: "The recording of {title}",
    recording_body: "Hi {name},\n\nThe recording of {title} is ready: {url}\n\n\
                     Every training recording: {recordings_url}",
    recording_sms: "{program}: the recording of {title} is ready: {url} Reply STOP to opt out.",
    weekdays: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    months: [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ],
};

pub const ES: Catalog = Catalog {
    welcome: "¡Bienvenido a {program}! Te enviaremos mensajes sobre reuniones cerca de ti, pocos al mes. \
              Pueden aplicar tarifas. Responde AYUDA para ayuda, STOP para cancelar.",
    help: "{program}: reuniones comunitarias cerca de ti. Ayuda: {contact}. Pocos mensajes al mes. \
           Pueden aplicar tarifas. Responde STOP para cancelar.",
    stopped: "{program}: Cancelaste tu suscripcion y no recibiras mas mensajes. Responde START para volver.",
    restarted: "{program}: Te suscribiste de nuevo, pocos mensajes al mes. Pueden aplicar tarifas. \
                Responde AYUDA para ayuda, STOP para cancelar.",
    stranger: "{program}: Envia UNIRME para saber de reuniones cerca de ti, AYUDA para ayuda, STOP para cancelar.",
    ask_name: "¡Bienvenido a {program}! ¿Como te llamas? Pocos mensajes al mes. Pueden aplicar tarifas. \
               Responde AYUDA para ayuda, STOP para cancelar.",
    ask_name_for_gathering: "¡Bienvenido a {program}! Te unes a {title}, {when}. ¿Como te llamas? \
                             Pueden aplicar tarifas. Responde STOP para cancelar.",
    bad_name: "Por favor envia solo tu nombre.",
    ask_zip: "¡Gracias, {name}! ¿Cual es tu codigo postal (ZIP)? Buscaremos reuniones cerca de ti.",
    bad_zip: "Por favor envia un codigo postal de 5 digitos.",
    choices: "Reuniones cerca de ti:\n{list}\nResponde 1-{last} para confirmar.",
    choice_line: "{n}) {when}, {town} ({distance})",
    one_choice: "Cerca de ti: {title}, {when}, {town} ({distance}). Responde 1 para confirmar.",
    bad_choice: "Por favor responde con un numero del 1 al {last}.",
    none_nearby: "Aun no hay reuniones a menos de {radius} millas. Organiza una: {host_url} \
                  Mira las capacitaciones: {recordings_url}",
    confirmed: "¡Vas, {name}! {title}, {when}, {place}. Anfitrion: {host}. Antes de ir: {recording_url} \
                Seguridad: {safety_url}",
    waitlisted: "{title} esta lleno, {name}: estas en la lista de espera y te avisaremos si hay lugar. \
                 Mientras tanto: {recording_url}",
    gathering_gone: "Esa reunion ya termino. Envia UNIRME para buscar otra, u organiza una: {host_url}",
    private_place: "direccion enviada el dia antes",
    host_unnamed: "los organizadores",
    confirm_delete: "Responde BORRAR de nuevo en 10 minutos para borrar tu nombre, tus confirmaciones y tu \
                     numero de {program}. No recibiras mas mensajes.",
    erased: "Tus datos fueron borrados. No recibiras mas mensajes de {program}.",
    ask_email: "¿Quieres las grabaciones de las capacitaciones por correo? Responde con tu email.",
    bad_email: "Eso no parece un email. Envialo de nuevo, por ejemplo nombre@ejemplo.org.",
    email_coming: "¡Gracias! Las grabaciones van en camino a tu correo.",
    recordings_subject: "{program}: las grabaciones de las capacitaciones",
    recordings_body: "Gracias por unirte a {program}.\n\n\
                      Empieza con la capacitación general: {overview_url}\n\
                      Todas las grabaciones: {recordings_url}\n\n\
                      Antes de cualquier reunión, lee nuestro compromiso de seguridad y no violencia: {safety_url}",
    email_footer: "Recibes este correo porque se lo pediste a {program} por mensaje de texto.\n\
                   Darte de baja: {unsubscribe_url}\n\
                   Borrar mis datos: {forget_url}",
    form_going_sms: "{program}: vas a {title}, {when}. Seguridad primero: {safety_url} \
                     Responde AYUDA para ayuda, PARAR para cancelar.",
    form_waitlist_sms: "{program}: {title} esta lleno; estas en la lista de espera. Te avisamos \
                        si se abre un lugar. Responde PARAR para cancelar.",
    form_joined_sms: "{program}: ¡bienvenida, bienvenido! Grabaciones: {recordings_url} Pocos msjs/mes. \
                      Pueden aplicarse tarifas. Responde AYUDA para ayuda, PARAR para cancelar.",
    form_training_sms: "{program}: estas inscrito en {title}, {when}. Te enviaremos el enlace \
                        antes. Responde PARAR para cancelar.",
    form_going_subject: "Vas a: {title}, {when}",
    form_going_body: "Hola {name}:\n\nVas a {title}, {when}.\nDónde: {place}\n\n\
                      Adjuntamos la invitación de calendario.\n\n\
                      Antes de ir, lee nuestro compromiso de seguridad y no violencia: {safety_url}\n\n\
                      Grabaciones de los entrenamientos:\n{recordings}\n\n\
                      Trae a alguien: {share_url}",
    form_waitlist_subject: "Lista de espera: {title}",
    form_waitlist_body: "Hola {name}:\n\n{title} ({when}) está lleno; estás en la lista de espera. \
                         Te avisaremos si se abre un lugar.\n\n\
                         Nuestro compromiso de seguridad y no violencia: {safety_url}\n\n\
                         Grabaciones de los entrenamientos:\n{recordings}\n\n\
                         Trae a alguien: {share_url}",
    form_joined_subject: "Bienvenida, bienvenido a {program}",
    form_joined_body: "Hola {name}:\n\nBienvenida, bienvenido a {program}. Te contaremos de reuniones cerca de ti.\n\n\
                       Empieza con las grabaciones de los entrenamientos:\n{recordings}\n\n\
                       Nuestro compromiso de seguridad y no violencia: {safety_url}\n{host_line}\n\
                       Trae a alguien: {share_url}",
    form_host_line: "\nQuieres organizar una reunión: ¡gracias! Empieza aquí: {host_url}\n",
    form_training_subject: "Inscripción: {title}, {when}",
    form_training_body: "Hola {name}:\n\nEstás inscrito en {title}, {when}.\nEnlace: {join_url}\n\n\
                         Adjuntamos la invitación de calendario.\n\n\
                         Nuestro compromiso de seguridad y no violencia: {safety_url}\n\n\
                         Grabaciones de los entrenamientos:\n{recordings}\n\n\
                         Trae a alguien: {share_url}",
    recording_line: "- {title}: {url}",
    no_recordings_yet: "- Todas las grabaciones: {recordings_url}",
    private_place_email: "una casa particular; te enviaremos la dirección el día anterior",
    form_email_footer: "Recibes este correo porque te inscribiste en {program}.\n\
                        Darte de baja: {unsubscribe_url}\n\
                        Borrar mis datos: {forget_url}",
    reminder_tomorrow_subject: "Mañana: {title}, {when}",
    reminder_today_subject: "Hoy: {title}, {when}",
    reminder_body: "Hola {name},\n\nTe recordamos: {title} es {when}.\nDonde: {place}\n{notes}\n\
                    La invitacion de calendario va adjunta.\n\n\
                    Antes de ir, lee nuestro compromiso de seguridad y no violencia: {safety_url}",
    accessibility_line: "Accesibilidad: {accessibility}\n",
    reminder_sms: "{program}: recordatorio, {title} es {when} en {place}. Responde STOP para cancelar.",
    follow_up_subject: "Gracias por venir a {title}",
    follow_up_body: "Hola {name},\n\nGracias por venir a {title}. Lo que sigue:\n\n\
                     - Organiza tu propia reunion: {host_url}\n\
                     - {next_training}\n\
                     - Todas las grabaciones: {recordings_url}\n\n\
                     Nuestro compromiso de seguridad y no violencia: {safety_url}",
    follow_up_sms: "{program}: ¡gracias por venir a {title}! Organiza tu propia reunion: \
                    {host_url} Responde STOP para cancelar.",
    next_training_line: "Proxima capacitacion: {title}, {when}: {url}",
    no_next_training: "Grabaciones de las capacitaciones: {recordings_url}",
    training_reminder_body: "Hola {name},\n\nTe recordamos: {title} es {when}.\nUnete: {join_url}\n\n\
                             Nuestro compromiso de seguridad y no violencia: {safety_url}",
    training_reminder_sms: "{program}: {title} es {when}. Unete: {join_url} Responde STOP para cancelar.",
    recording_subject: "La grabacion de {title}",
    recording_body: "Hola {name},\n\nLa grabacion de {title} ya esta lista: {url}\n\n\
                     Todas las grabaciones: {recordings_url}",
    recording_sms: "{program}: la grabacion de {title} ya esta lista: {url} Responde STOP para cancelar.",
    weekdays: ["lun", "mar", "mie", "jue", "vie", "sab", "dom"],
    months: [
        "ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic",
    ],
};

/// When a gathering starts, in its own time zone and the reader's language: `Sat Jun 6 6:30pm`
/// (`sab 6 jun 18:30` in Spanish). An unknown time zone falls back to UTC (never fails a reply).
pub fn when(starts_at: time::OffsetDateTime, timezone: &str, language: Language) -> String {
    let zoned = jiff::Timestamp::from_second(starts_at.unix_timestamp())
        .ok()
        .map(|ts| {
            ts.to_zoned(crate::domain::time_zone::get(timezone).unwrap_or(jiff::tz::TimeZone::UTC))
        });
    let Some(z) = zoned else { return String::new() };
    let c = catalog(language);
    let weekday = c.weekdays[z.weekday().to_monday_zero_offset() as usize];
    let month = c.months[(z.month() - 1) as usize];
    let (hour, minute, day) = (z.hour(), z.minute(), z.day());
    match language {
        Language::En => {
            let (h12, ampm) = match hour {
                0 => (12, "am"),
                1..=11 => (hour, "am"),
                12 => (12, "pm"),
                _ => (hour - 12, "pm"),
            };
            format!("{weekday} {month} {day} {h12}:{minute:02}{ampm}")
        }
        Language::Es => format!("{weekday} {day} {month} {hour}:{minute:02}"),
    }
}

/// The catalog of a language.
pub fn catalog(language: Language) -> &'static Catalog {
    match language {
        Language::En => &EN,
        Language::Es => &ES,
    }
}

/// The standard wording of a message organizers may reword (`/admin/templates`).
pub fn standard_wording(message: TemplateMessage, language: Language) -> &'static str {
    let texts = catalog(language);
    match message {
        TemplateMessage::InviteSms => crate::hosting::text::invite_text(language).sms_body,
        TemplateMessage::ReminderSms => texts.reminder_sms,
        TemplateMessage::FollowUpSms => texts.follow_up_sms,
        TemplateMessage::TrainingReminderSms => texts.training_reminder_sms,
        TemplateMessage::RecordingSms => texts.recording_sms,
        TemplateMessage::ConfirmGoingSms => texts.form_going_sms,
        TemplateMessage::ConfirmWaitlistSms => texts.form_waitlist_sms,
        TemplateMessage::ConfirmTrainingSms => texts.form_training_sms,
        TemplateMessage::ConfirmJoinedSms => texts.form_joined_sms,
    }
}

/// The wording in use: the one organizers stored, else the standard one.
pub fn wording(stored: &[StoredTemplate], message: TemplateMessage, language: Language) -> &str {
    stored
        .iter()
        .find(|t| t.message == message && t.language == language)
        .map_or_else(|| standard_wording(message, language), |t| t.text.as_str())
}

/// Fills `{key}` placeholders. Unknown placeholders are left as they are (a test catches them).
pub fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (key, value) in values {
        out = out.replace(&format!("{{{key}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sms::segments::{self, Encoding};

    /// Realistic values: the longest program name and contact we expect organizers to configure.
    const VALUES: [(&str, &str); 2] = [
        ("program", "rising"),
        ("contact", "help@risingtogether.org"),
    ];

    fn entries(c: &Catalog) -> Vec<(&'static str, String)> {
        let line = |n: &str| {
            render(
                c.choice_line,
                &[
                    ("n", n),
                    ("when", "Sat Jun 13 6:30pm"),
                    ("town", "Washington"),
                    ("distance", "12 mi"),
                ],
            )
        };
        let list = [line("1"), line("2"), line("3")].join("\n");
        let filled = |t: &str| {
            render(
                t,
                &[
                    ("name", "Alexandria"),
                    ("title", "Maple Street neighbors gathering"),
                    ("when", "Sat Jun 13 6:30pm"),
                    ("place", "Mount Pleasant Library, 3160 16th St NW"),
                    ("host", "Jonathan"),
                    ("recording_url", "https://rising.org/r/overview"),
                    ("recordings_url", "https://rising.org/r/trainings"),
                    ("safety_url", "https://rising.org/safety"),
                    ("host_url", "https://rising.org/host"),
                    ("town", "Washington"),
                    ("distance", "12 mi"),
                    ("radius", "25"),
                    ("last", "3"),
                    ("list", &list),
                    ("join_url", "https://meet.rising.org/j/overview-training"),
                    ("url", "https://rising.org/r/overview-training"),
                ],
            )
        };
        vec![
            ("welcome", filled(c.welcome)),
            ("help", filled(c.help)),
            ("stopped", filled(c.stopped)),
            ("restarted", filled(c.restarted)),
            ("stranger", filled(c.stranger)),
            ("ask_name", filled(c.ask_name)),
            ("ask_name_for_gathering", filled(c.ask_name_for_gathering)),
            ("bad_name", filled(c.bad_name)),
            ("ask_zip", filled(c.ask_zip)),
            ("bad_zip", filled(c.bad_zip)),
            ("choices", filled(c.choices)),
            ("one_choice", filled(c.one_choice)),
            ("bad_choice", filled(c.bad_choice)),
            ("none_nearby", filled(c.none_nearby)),
            ("confirmed", filled(c.confirmed)),
            ("waitlisted", filled(c.waitlisted)),
            ("gathering_gone", filled(c.gathering_gone)),
            ("confirm_delete", filled(c.confirm_delete)),
            ("erased", filled(c.erased)),
            ("ask_email", filled(c.ask_email)),
            ("bad_email", filled(c.bad_email)),
            ("email_coming", filled(c.email_coming)),
            ("form_going_sms", filled(c.form_going_sms)),
            ("form_waitlist_sms", filled(c.form_waitlist_sms)),
            ("form_joined_sms", filled(c.form_joined_sms)),
            ("form_training_sms", filled(c.form_training_sms)),
            ("reminder_sms", filled(c.reminder_sms)),
            ("follow_up_sms", filled(c.follow_up_sms)),
            ("training_reminder_sms", filled(c.training_reminder_sms)),
            ("recording_sms", filled(c.recording_sms)),
        ]
    }

    /// Texts that fit one segment in English; the rest carry links and details and fit two.
    const ONE_SEGMENT_EN: [&str; 14] = [
        "ask_email",
        "bad_email",
        "email_coming",
        "confirm_delete",
        "erased",
        "welcome",
        "help",
        "stopped",
        "restarted",
        "stranger",
        "ask_name",
        "bad_name",
        "ask_zip",
        "bad_zip",
    ];

    #[test]
    fn dates_read_naturally_in_the_gatherings_time_zone_and_the_readers_language() {
        let at = time::macros::datetime!(2026-06-13 22:30 UTC);
        assert_eq!(
            when(at, "America/New_York", Language::En),
            "Sat Jun 13 6:30pm"
        );
        assert_eq!(
            when(at, "America/Los_Angeles", Language::En),
            "Sat Jun 13 3:30pm"
        );
        assert_eq!(
            when(at, "America/Chicago", Language::Es),
            "sab 13 jun 17:30"
        );
        assert_eq!(when(at, "Not/AZone", Language::En), "Sat Jun 13 10:30pm");
    }

    #[test]
    fn every_english_text_is_gsm7_and_fits_its_segments_with_realistic_values() {
        for (name, text) in entries(&EN) {
            let text = render(&text, &VALUES);
            let info = segments::segments(&text);
            assert_eq!(info.encoding, Encoding::Gsm7, "{name}: {text}");
            let most = if ONE_SEGMENT_EN.contains(&name) { 1 } else { 2 };
            assert!(
                info.segments <= most,
                "{name}: {} segments, {} chars: {text}",
                info.segments,
                text.chars().count()
            );
        }
    }

    #[test]
    fn every_spanish_text_is_gsm7_and_fits_two_segments() {
        for (name, text) in entries(&ES) {
            let text = render(&text, &VALUES);
            let info = segments::segments(&text);
            assert_eq!(info.encoding, Encoding::Gsm7, "{name}: {text}");
            assert!(
                info.segments <= 2,
                "{name}: {} segments: {text}",
                info.segments
            );
        }
    }

    #[test]
    fn no_placeholder_is_left_unfilled() {
        for catalog in [&EN, &ES] {
            for (name, text) in entries(catalog) {
                let text = render(&text, &VALUES);
                assert!(!text.contains('{') && !text.contains('}'), "{name}: {text}");
            }
        }
    }

    #[test]
    fn opt_in_and_help_texts_say_how_to_stop_and_what_it_costs() {
        for catalog in [&EN, &ES] {
            for text in [catalog.welcome, catalog.help, catalog.restarted] {
                assert!(text.contains("STOP"), "{text}");
                assert!(
                    text.contains("tarifas") || text.contains("Msg & data rates may apply"),
                    "{text}"
                );
            }
        }
        assert!(EN.help.contains("Reply STOP to cancel."));
    }
}

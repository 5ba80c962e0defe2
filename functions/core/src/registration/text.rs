//! The words of the registration form, its errors and its thank-you state, in every language the
//! campaign speaks. No participant-facing form text lives in code elsewhere (the confirmation email
//! and text are in [`crate::messages`]).

use crate::domain::Language;

/// Everything the form says, in one language. `{…}` placeholders are filled with
/// [`crate::messages::render`].
#[derive(Debug, Clone, Copy)]
pub struct FormText {
    pub heading_signup: &'static str,
    /// `{title}`.
    pub heading_gathering: &'static str,
    /// `{title}`.
    pub heading_training: &'static str,
    pub intro_signup: &'static str,
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub optional: &'static str,
    pub email: &'static str,
    pub phone: &'static str,
    pub contact_hint: &'static str,
    pub zip: &'static str,
    pub language: &'static str,
    pub want_to_host: &'static str,
    /// The commitment box. `{safety_url}` is linked by the page around `commitment_link`.
    pub commitment: &'static str,
    pub commitment_link: &'static str,
    /// The SMS consent box, CTIA wording: `{program}`, `{terms_url}`, `{privacy_url}`.
    pub sms_consent: &'static str,
    pub terms: &'static str,
    pub privacy: &'static str,
    pub submit: &'static str,
    pub sending: &'static str,
    /// Shown above the fields when the form has errors: `{count}`.
    pub error_summary: &'static str,
    pub thanks_heading: &'static str,
    /// `{title}`, `{when}`.
    pub thanks_going: &'static str,
    /// `{title}`.
    pub thanks_waitlist: &'static str,
    pub thanks_signup: &'static str,
    pub thanks_check_email: &'static str,
    pub thanks_check_phone: &'static str,
    pub bring_a_friend: &'static str,
    pub copy_link: &'static str,
    pub copied: &'static str,
    pub not_found: &'static str,
    pub ended: &'static str,
    pub unavailable: &'static str,
    pub too_many: &'static str,
    // Field errors.
    pub err_first_name_empty: &'static str,
    pub err_name_too_long: &'static str,
    pub err_name_symbols: &'static str,
    pub err_contact_missing: &'static str,
    pub err_email: &'static str,
    pub err_phone: &'static str,
    /// `{countries}`.
    pub err_phone_country: &'static str,
    pub err_zip: &'static str,
    pub err_language: &'static str,
    pub err_commitment: &'static str,
    pub err_sms_consent_without_phone: &'static str,
    pub err_phone_without_consent: &'static str,
    pub err_control_characters: &'static str,
    pub err_too_long: &'static str,
    pub err_submission: &'static str,
    pub err_event: &'static str,
    pub err_referral: &'static str,
    pub err_too_large: &'static str,
    pub err_unreadable: &'static str,
    pub err_origin: &'static str,
    // The pages around the form (`registration::page`).
    /// The name of this language, in itself: the language menu and the link to switch to it.
    pub language_name: &'static str,
    /// The label of the honeypot field, which people never see.
    pub honeypot: &'static str,
    /// The script could not reach the server at all.
    pub err_network: &'static str,
    /// The heading of the page shown when the form cannot be shown or sent.
    pub error_heading: &'static str,
}

pub const EN: FormText = FormText {
    heading_signup: "Join the movement",
    heading_gathering: "RSVP: {title}",
    heading_training: "Register: {title}",
    intro_signup: "Sign up to hear about gatherings near you and get the training recordings.",
    first_name: "First name",
    last_name: "Last name",
    optional: "optional",
    email: "Email",
    phone: "Mobile phone",
    contact_hint: "Give an email, a mobile number, or both.",
    zip: "ZIP code",
    language: "Language",
    want_to_host: "I want to host a gathering",
    commitment: "I commit to nonviolent action and to de-escalating confrontation.",
    commitment_link: "Read the safety commitment",
    sms_consent: "Text me about {program} gatherings and trainings. Up to 4 msgs/month. \
                  Msg & data rates may apply. Reply HELP for help, STOP to cancel. \
                  Consent is not a condition of joining.",
    terms: "Terms",
    privacy: "Privacy",
    submit: "Count me in",
    sending: "Sending…",
    error_summary: "Please fix {count} thing(s) below.",
    thanks_heading: "Thank you!",
    thanks_going: "You're going to {title}, {when}.",
    thanks_waitlist: "{title} is full, so you're on the waitlist. We'll tell you if a place opens.",
    thanks_signup: "You're in. Welcome to the movement.",
    thanks_check_email: "We've emailed you a confirmation.",
    thanks_check_phone: "We'll text you a confirmation.",
    bring_a_friend: "Bring a friend: share your personal link.",
    copy_link: "Copy link",
    copied: "Copied",
    not_found: "We couldn't find that gathering. It may have been removed.",
    ended: "That event has already ended.",
    unavailable: "Something went wrong on our side. Please try again in a minute.",
    too_many: "Too many sign-ups from here just now. Please wait a few minutes and try again.",
    err_first_name_empty: "Please enter your first name.",
    err_name_too_long: "That name is too long.",
    err_name_symbols: "Please use letters only, without digits or symbols.",
    err_contact_missing: "Please give an email address or a mobile number.",
    err_email: "That email address doesn't look right. Please check it.",
    err_phone: "That phone number doesn't look right. Please include the area code.",
    err_phone_country: "We can only text numbers in: {countries}.",
    err_zip: "Please enter a valid 5-digit US ZIP code.",
    err_language: "Please choose English or Spanish.",
    err_commitment: "Please tick the nonviolence commitment to join.",
    err_sms_consent_without_phone: "To get texts, please enter a mobile number.",
    err_phone_without_consent: "To use your mobile number, tick the box to get texts, or give an email instead.",
    err_control_characters: "Please remove line breaks and invisible characters.",
    err_too_long: "That is too long.",
    err_submission: "Please reload the page and try again.",
    err_event: "That event link isn't right. Please use the link you were given.",
    err_referral: "That personal link isn't right. You can still sign up.",
    err_too_large: "That is too much text. Please shorten it and try again.",
    err_unreadable: "We couldn't read the form. Please reload the page and try again.",
    err_origin: "This form can't be used from this website.",
    language_name: "English",
    honeypot: "Leave this empty",
    err_network: "We couldn't reach the server. Check your connection and try again.",
    error_heading: "Sorry",
};

pub const ES: FormText = FormText {
    heading_signup: "Únete al movimiento",
    heading_gathering: "Confirma: {title}",
    heading_training: "Inscríbete: {title}",
    intro_signup: "Inscríbete para saber de reuniones cerca de ti y recibir las grabaciones de los entrenamientos.",
    first_name: "Nombre",
    last_name: "Apellido",
    optional: "opcional",
    email: "Correo electrónico",
    phone: "Teléfono móvil",
    contact_hint: "Danos un correo, un móvil, o ambos.",
    zip: "Código postal (ZIP)",
    language: "Idioma",
    want_to_host: "Quiero organizar una reunión",
    commitment: "Me comprometo a la acción no violenta y a calmar las confrontaciones.",
    commitment_link: "Lee el compromiso de seguridad",
    sms_consent: "Envíenme mensajes sobre reuniones y entrenamientos de {program}. Hasta 4 msjs/mes. \
                  Pueden aplicarse tarifas de mensajes y datos. Responde AYUDA para ayuda, PARAR para cancelar. \
                  El consentimiento no es condición para unirse.",
    terms: "Términos",
    privacy: "Privacidad",
    submit: "Cuenten conmigo",
    sending: "Enviando…",
    error_summary: "Corrige {count} cosa(s) abajo, por favor.",
    thanks_heading: "¡Gracias!",
    thanks_going: "Vas a {title}, {when}.",
    thanks_waitlist: "{title} está lleno; estás en la lista de espera. Te avisaremos si se abre un lugar.",
    thanks_signup: "Ya estás dentro. Bienvenida, bienvenido al movimiento.",
    thanks_check_email: "Te enviamos una confirmación por correo.",
    thanks_check_phone: "Te enviaremos una confirmación por mensaje de texto.",
    bring_a_friend: "Trae a alguien: comparte tu enlace personal.",
    copy_link: "Copiar enlace",
    copied: "Copiado",
    not_found: "No encontramos esa reunión. Puede que la hayan quitado.",
    ended: "Ese evento ya terminó.",
    unavailable: "Algo falló de nuestro lado. Inténtalo de nuevo en un minuto.",
    too_many: "Demasiadas inscripciones desde aquí ahora mismo. Espera unos minutos e inténtalo de nuevo.",
    err_first_name_empty: "Escribe tu nombre, por favor.",
    err_name_too_long: "Ese nombre es demasiado largo.",
    err_name_symbols: "Usa solo letras, sin números ni símbolos.",
    err_contact_missing: "Danos un correo electrónico o un número de móvil.",
    err_email: "Ese correo no parece correcto. Revísalo, por favor.",
    err_phone: "Ese número no parece correcto. Incluye el código de área.",
    err_phone_country: "Solo podemos enviar mensajes a números de: {countries}.",
    err_zip: "Escribe un código postal de EE. UU. válido de 5 dígitos.",
    err_language: "Elige inglés o español.",
    err_commitment: "Marca el compromiso de no violencia para unirte.",
    err_sms_consent_without_phone: "Para recibir mensajes, escribe un número de móvil.",
    err_phone_without_consent: "Para usar tu móvil, marca la casilla de mensajes, o danos un correo.",
    err_control_characters: "Quita los saltos de línea y los caracteres invisibles.",
    err_too_long: "Es demasiado largo.",
    err_submission: "Recarga la página e inténtalo de nuevo.",
    err_event: "Ese enlace de evento no es correcto. Usa el enlace que te dieron.",
    err_referral: "Ese enlace personal no es correcto. Igual puedes inscribirte.",
    err_too_large: "Es demasiado texto. Acórtalo e inténtalo de nuevo.",
    err_unreadable: "No pudimos leer el formulario. Recarga la página e inténtalo de nuevo.",
    err_origin: "Este formulario no se puede usar desde este sitio web.",
    language_name: "Español",
    honeypot: "Deja esto vacío",
    err_network: "No pudimos conectar con el servidor. Revisa tu conexión e inténtalo de nuevo.",
    error_heading: "Lo sentimos",
};

/// The form's words in `language`.
pub fn form_text(language: Language) -> &'static FormText {
    match language {
        Language::En => &EN,
        Language::Es => &ES,
    }
}

/// The statement recorded as evidence of consent to email: what submitting the form agrees to.
pub fn email_statement(language: Language) -> &'static str {
    match language {
        Language::En => {
            "Submitting the form: confirmation and campaign emails, each with a one-click unsubscribe."
        }
        Language::Es => {
            "Al enviar el formulario: confirmación y correos de la campaña, cada uno con baja en un clic."
        }
    }
}

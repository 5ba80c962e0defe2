//! What a registration form sends, and its validation into a [`Registration`]. The same fields come as
//! JSON from the embedded form's script and form-encoded from the page that works without JavaScript.
//! Every problem is reported per field, in the person's language, and nothing is stored unless the
//! whole form is valid.

use serde::{Deserialize, Deserializer};

use super::text::{FormText, form_text};
use crate::domain::{
    EmailAddress, FirstName, FirstNameError, GatheringId, Language, PhoneNumber, Zip,
};
use crate::messages::render;

/// The longest value of any one field, in characters (names are shorter: see [`FirstName`]).
pub const MAX_FIELD_CHARS: usize = 200;

/// The form's fields, as named in JSON and in the HTML form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    SubmissionId,
    FirstName,
    LastName,
    Email,
    Phone,
    Zip,
    Language,
    Commitment,
    SmsConsent,
    Gathering,
    Training,
    Referral,
    /// The request as a whole (unreadable, too large).
    Form,
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Self::SubmissionId => "submission_id",
            Self::FirstName => "first_name",
            Self::LastName => "last_name",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Zip => "zip",
            Self::Language => "language",
            Self::Commitment => "commitment",
            Self::SmsConsent => "sms_consent",
            Self::Gathering => "gathering",
            Self::Training => "training",
            Self::Referral => "referral",
            Self::Form => "form",
        }
    }
}

/// Why a field was refused. [`Problem::message`] says it to the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    FirstNameEmpty,
    NameTooLong,
    NameSymbols,
    ContactMissing,
    Email,
    Phone,
    PhoneCountry,
    Zip,
    Language,
    Commitment,
    SmsConsentWithoutPhone,
    PhoneWithoutConsent,
    ControlCharacters,
    TooLong,
    Submission,
    Event,
    Referral,
}

impl Problem {
    /// What to tell the person, in their language. `countries`: the allowed phone countries.
    pub fn message(self, text: &FormText, countries: &str) -> String {
        let words = match self {
            Self::FirstNameEmpty => text.err_first_name_empty,
            Self::NameTooLong => text.err_name_too_long,
            Self::NameSymbols => text.err_name_symbols,
            Self::ContactMissing => text.err_contact_missing,
            Self::Email => text.err_email,
            Self::Phone => text.err_phone,
            Self::PhoneCountry => {
                return render(text.err_phone_country, &[("countries", countries)]);
            }
            Self::Zip => text.err_zip,
            Self::Language => text.err_language,
            Self::Commitment => text.err_commitment,
            Self::SmsConsentWithoutPhone => text.err_sms_consent_without_phone,
            Self::PhoneWithoutConsent => text.err_phone_without_consent,
            Self::ControlCharacters => text.err_control_characters,
            Self::TooLong => text.err_too_long,
            Self::Submission => text.err_submission,
            Self::Event => text.err_event,
            Self::Referral => text.err_referral,
        };
        words.to_owned()
    }
}

/// One refused field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldError {
    pub field: Field,
    pub problem: Problem,
}

/// A checkbox as sent: JSON `true`/`false`, or the strings a form sends (`on`, `true`, `yes`, `1`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Text(String),
        }
        Ok(match Raw::deserialize(deserializer)? {
            Raw::Bool(b) => Flag(b),
            Raw::Text(t) => Flag(is_ticked(&t)),
        })
    }
}

fn is_ticked(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "on" | "true" | "yes" | "1"
    )
}

/// The form as sent, before validation. Unknown fields are ignored (an older cached script may send
/// fewer or more).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RawForm {
    pub submission_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub zip: Option<String>,
    pub language: Option<String>,
    pub commitment: Flag,
    pub sms_consent: Flag,
    pub host: Flag,
    /// The honeypot: hidden from people, filled by bots.
    pub website: Option<String>,
    pub gathering: Option<String>,
    pub training: Option<String>,
    pub referral: Option<String>,
}

impl RawForm {
    /// Reads a form-encoded body (`application/x-www-form-urlencoded`). A repeated field keeps its
    /// last value, as most servers do.
    pub fn from_urlencoded(body: &[u8]) -> Self {
        let mut form = Self::default();
        for (key, value) in form_urlencoded::parse(body) {
            let value = value.into_owned();
            match key.as_ref() {
                "submission_id" => form.submission_id = Some(value),
                "first_name" => form.first_name = Some(value),
                "last_name" => form.last_name = Some(value),
                "email" => form.email = Some(value),
                "phone" => form.phone = Some(value),
                "zip" => form.zip = Some(value),
                "language" => form.language = Some(value),
                "commitment" => form.commitment = Flag(is_ticked(&value)),
                "sms_consent" => form.sms_consent = Flag(is_ticked(&value)),
                "host" => form.host = Flag(is_ticked(&value)),
                "website" => form.website = Some(value),
                "gathering" => form.gathering = Some(value),
                "training" => form.training = Some(value),
                "referral" => form.referral = Some(value),
                _ => {}
            }
        }
        form
    }

    /// The honeypot was filled: a bot.
    pub fn is_bot(&self) -> bool {
        self.website
            .as_deref()
            .is_some_and(|v| !v.trim().is_empty())
    }

    /// The language the person chose, for messages about the form itself; English when unreadable.
    pub fn language_or(&self, fallback: Language) -> Language {
        self.language
            .as_deref()
            .and_then(|l| Language::parse(l.trim()))
            .unwrap_or(fallback)
    }
}

/// A client's id for one submission of the form: 8 to 64 letters, digits, `-` or `_` (a UUID from
/// the script, a random id in the page's hidden field). A retry carries the same id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SubmissionId(String);

impl SubmissionId {
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let ok = (8..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A personal "bring a friend" code: 10 characters of lower-case base32 (`a-z2-7`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReferralCode(String);

impl ReferralCode {
    pub const LEN: usize = 10;

    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase();
        let ok = text.len() == Self::LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
        ok.then_some(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the person signs up for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The campaign: they join the movement (and may want to host).
    Campaign { wants_to_host: bool },
    /// An RSVP to a gathering.
    Gathering(GatheringId),
    /// A registration for a training (its id as given: see the training catalog).
    Training(String),
}

/// A valid registration. `Debug` shows no personal data.
#[derive(Clone, PartialEq)]
pub struct Registration {
    pub submission: SubmissionId,
    pub first_name: FirstName,
    pub last_name: Option<FirstName>,
    pub email: Option<EmailAddress>,
    /// Only with SMS consent: a number without it is not kept.
    pub phone: Option<PhoneNumber>,
    pub zip: Zip,
    pub language: Language,
    pub target: Target,
    pub referral: Option<ReferralCode>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("submission", &self.submission)
            .field("email", &self.email.is_some())
            .field("phone", &self.phone.is_some())
            .field("language", &self.language)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// What validation needs besides the form.
#[derive(Debug, Clone)]
pub struct Rules {
    /// ISO 3166 codes of the countries whose mobile numbers may be texted (`US`).
    pub phone_countries: Vec<String>,
}

impl Rules {
    pub fn countries_text(&self) -> String {
        self.phone_countries.join(", ")
    }
}

/// Validates a whole form: every field's problem at once, or the registration.
///
/// `target` comes from the page's path when the form was served for one event (it wins over the
/// form's own `gathering`/`training` fields).
pub fn validate(
    raw: &RawForm,
    target: Option<Target>,
    rules: &Rules,
) -> Result<Registration, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut fail = |field, problem| errors.push(FieldError { field, problem });

    // Line breaks, NUL and other control characters are refused everywhere, before anything else:
    // nothing that could reach an email header or a log line gets through.
    let text_fields = [
        (Field::SubmissionId, &raw.submission_id),
        (Field::FirstName, &raw.first_name),
        (Field::LastName, &raw.last_name),
        (Field::Email, &raw.email),
        (Field::Phone, &raw.phone),
        (Field::Zip, &raw.zip),
        (Field::Language, &raw.language),
        (Field::Gathering, &raw.gathering),
        (Field::Training, &raw.training),
        (Field::Referral, &raw.referral),
    ];
    let mut unusable = Vec::new();
    for (field, value) in text_fields {
        let Some(value) = value else { continue };
        if value.chars().any(char::is_control) {
            fail(field, Problem::ControlCharacters);
            unusable.push(field);
        } else if value.chars().count() > MAX_FIELD_CHARS {
            fail(field, Problem::TooLong);
            unusable.push(field);
        }
    }
    let usable = |field: Field, value: &Option<String>| -> Option<String> {
        if unusable.contains(&field) {
            return None;
        }
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };

    let submission = usable(Field::SubmissionId, &raw.submission_id);
    let submission = match submission.as_deref().map(SubmissionId::parse) {
        Some(Some(id)) => Some(id),
        _ if unusable.contains(&Field::SubmissionId) => None,
        _ => {
            fail(Field::SubmissionId, Problem::Submission);
            None
        }
    };

    let name = |field: Field,
                value: Option<String>,
                required: bool,
                fail: &mut dyn FnMut(Field, Problem)| {
        match value {
            None if required && !unusable.contains(&field) => {
                fail(field, Problem::FirstNameEmpty);
                None
            }
            None => None,
            Some(v) => match FirstName::parse(&v) {
                Ok(n) => Some(n),
                Err(FirstNameError::Empty) => {
                    if required {
                        fail(field, Problem::FirstNameEmpty);
                    }
                    None
                }
                Err(FirstNameError::TooLong) => {
                    fail(field, Problem::NameTooLong);
                    None
                }
                Err(FirstNameError::Symbols) => {
                    fail(field, Problem::NameSymbols);
                    None
                }
            },
        }
    };
    let first_name = name(
        Field::FirstName,
        usable(Field::FirstName, &raw.first_name),
        true,
        &mut fail,
    );
    let last_name = name(
        Field::LastName,
        usable(Field::LastName, &raw.last_name),
        false,
        &mut fail,
    );

    let email_text = usable(Field::Email, &raw.email);
    let phone_text = usable(Field::Phone, &raw.phone);
    let email = email_text
        .as_deref()
        .and_then(|e| match EmailAddress::parse(e) {
            Ok(address) => Some(address),
            Err(_) => {
                fail(Field::Email, Problem::Email);
                None
            }
        });
    let phone = phone_text
        .as_deref()
        .and_then(|p| match PhoneNumber::parse(p) {
            Ok(phone) if rules.phone_countries.iter().any(|c| phone.is_in_country(c)) => {
                Some(phone)
            }
            Ok(_) => {
                fail(Field::Phone, Problem::PhoneCountry);
                None
            }
            Err(_) => {
                fail(Field::Phone, Problem::Phone);
                None
            }
        });
    let consent = raw.sms_consent.0;
    let no_contact_given = email_text.is_none()
        && phone_text.is_none()
        && !unusable.contains(&Field::Email)
        && !unusable.contains(&Field::Phone);
    if no_contact_given {
        fail(Field::Email, Problem::ContactMissing);
    }
    if consent && phone_text.is_none() && !unusable.contains(&Field::Phone) && !no_contact_given {
        fail(Field::Phone, Problem::SmsConsentWithoutPhone);
    }
    // A number without consent to text it cannot be used: we would have no way to reach them.
    if !consent && phone_text.is_some() && email_text.is_none() {
        fail(Field::SmsConsent, Problem::PhoneWithoutConsent);
    }
    let phone = if consent { phone } else { None };

    let zip = match usable(Field::Zip, &raw.zip) {
        Some(z) => match Zip::parse(&z) {
            Ok(zip) => Some(zip),
            Err(_) => {
                fail(Field::Zip, Problem::Zip);
                None
            }
        },
        None => {
            if !unusable.contains(&Field::Zip) {
                fail(Field::Zip, Problem::Zip);
            }
            None
        }
    };

    let language = match usable(Field::Language, &raw.language) {
        None => Some(Language::En),
        Some(l) => match Language::parse(&l) {
            Some(language) => Some(language),
            None => {
                fail(Field::Language, Problem::Language);
                None
            }
        },
    };

    if !raw.commitment.0 {
        fail(Field::Commitment, Problem::Commitment);
    }

    let target = match target {
        Some(target) => Some(target),
        None => {
            let gathering = usable(Field::Gathering, &raw.gathering);
            let training = usable(Field::Training, &raw.training);
            match (gathering, training) {
                (Some(g), None) => match GatheringId::parse(&g) {
                    Ok(id) => Some(Target::Gathering(id)),
                    Err(_) => {
                        fail(Field::Gathering, Problem::Event);
                        None
                    }
                },
                (None, Some(t)) => {
                    if is_slug(&t) {
                        Some(Target::Training(t))
                    } else {
                        fail(Field::Training, Problem::Event);
                        None
                    }
                }
                (None, None) => Some(Target::Campaign {
                    wants_to_host: raw.host.0,
                }),
                (Some(_), Some(_)) => {
                    fail(Field::Training, Problem::Event);
                    None
                }
            }
        }
    };

    let referral = match usable(Field::Referral, &raw.referral) {
        None => None,
        Some(r) => match ReferralCode::parse(&r) {
            Some(code) => Some(code),
            None => {
                fail(Field::Referral, Problem::Referral);
                None
            }
        },
    };

    match (submission, first_name, zip, language, target) {
        (Some(submission), Some(first_name), Some(zip), Some(language), Some(target))
            if errors.is_empty() =>
        {
            Ok(Registration {
                submission,
                first_name,
                last_name,
                email,
                phone,
                zip,
                language,
                target,
                referral,
            })
        }
        _ => Err(errors),
    }
}

/// A training id as the catalog writes it: 1 to 40 of `a-z`, `0-9`, `-`, `_`.
fn is_slug(text: &str) -> bool {
    (1..=40).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The messages of `errors`, for the person: field name → message, in their language.
pub fn messages(errors: &[FieldError], language: Language, rules: &Rules) -> Vec<(Field, String)> {
    let text = form_text(language);
    let countries = rules.countries_text();
    errors
        .iter()
        .map(|e| (e.field, e.problem.message(text, &countries)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules {
            phone_countries: vec!["US".into()],
        }
    }

    fn valid() -> RawForm {
        RawForm {
            submission_id: Some("0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a".into()),
            first_name: Some("Ana".into()),
            email: Some("ana@example.org".into()),
            zip: Some("20001".into()),
            commitment: Flag(true),
            ..RawForm::default()
        }
    }

    fn problems(raw: &RawForm) -> Vec<(Field, Problem)> {
        validate(raw, None, &rules())
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.problem))
            .collect()
    }

    #[test]
    fn a_complete_form_is_a_campaign_sign_up_in_english() {
        let registration = validate(&valid(), None, &rules()).unwrap();
        assert_eq!(registration.language, Language::En);
        assert_eq!(
            registration.target,
            Target::Campaign {
                wants_to_host: false
            }
        );
        assert!(registration.phone.is_none());
    }

    #[test]
    fn a_line_break_in_a_name_is_refused_with_a_message_about_it() {
        let mut raw = valid();
        raw.first_name = Some("Ana\r\nBcc: x@example.org".into());
        assert_eq!(
            problems(&raw),
            [(Field::FirstName, Problem::ControlCharacters)]
        );
        raw.first_name = Some("Ana\0".into());
        assert_eq!(
            problems(&raw),
            [(Field::FirstName, Problem::ControlCharacters)]
        );
    }

    #[test]
    fn a_control_character_in_any_field_is_refused() {
        for field in [Field::Email, Field::Zip, Field::LastName, Field::Referral] {
            let mut raw = valid();
            let bad = Some("x\ny".to_owned());
            match field {
                Field::Email => raw.email = bad,
                Field::Zip => raw.zip = bad,
                Field::LastName => raw.last_name = bad,
                _ => raw.referral = bad,
            }
            assert!(
                problems(&raw).contains(&(field, Problem::ControlCharacters)),
                "{field:?}"
            );
        }
    }

    #[test]
    fn without_email_or_phone_the_person_is_asked_for_one() {
        let mut raw = valid();
        raw.email = None;
        assert_eq!(problems(&raw), [(Field::Email, Problem::ContactMissing)]);
    }

    #[test]
    fn the_commitment_is_required() {
        let mut raw = valid();
        raw.commitment = Flag(false);
        assert_eq!(problems(&raw), [(Field::Commitment, Problem::Commitment)]);
    }

    #[test]
    fn a_phone_is_kept_only_with_consent_to_text_it() {
        let mut raw = valid();
        raw.phone = Some("(202) 555-0143".into());
        assert!(validate(&raw, None, &rules()).unwrap().phone.is_none());
        raw.sms_consent = Flag(true);
        let registration = validate(&raw, None, &rules()).unwrap();
        assert_eq!(
            registration
                .phone
                .map(|p| p.as_e164().to_owned())
                .as_deref(),
            Some("+12025550143")
        );
        raw.email = None;
        raw.sms_consent = Flag(false);
        assert_eq!(
            problems(&raw),
            [(Field::SmsConsent, Problem::PhoneWithoutConsent)]
        );
    }

    #[test]
    fn consent_without_a_phone_asks_for_the_number() {
        let mut raw = valid();
        raw.sms_consent = Flag(true);
        assert_eq!(
            problems(&raw),
            [(Field::Phone, Problem::SmsConsentWithoutPhone)]
        );
    }

    #[test]
    fn numbers_outside_the_allowed_countries_are_refused() {
        let mut raw = valid();
        raw.sms_consent = Flag(true);
        raw.phone = Some("+52 55 1234 5678".into());
        assert_eq!(problems(&raw), [(Field::Phone, Problem::PhoneCountry)]);
        raw.phone = Some("555".into());
        assert_eq!(problems(&raw), [(Field::Phone, Problem::Phone)]);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let raw = RawForm {
            email: Some("not an email".into()),
            zip: Some("1234".into()),
            ..RawForm::default()
        };
        let found = problems(&raw);
        for expected in [
            (Field::SubmissionId, Problem::Submission),
            (Field::FirstName, Problem::FirstNameEmpty),
            (Field::Email, Problem::Email),
            (Field::Zip, Problem::Zip),
            (Field::Commitment, Problem::Commitment),
        ] {
            assert!(found.contains(&expected), "{expected:?} in {found:?}");
        }
    }

    #[test]
    fn a_form_encoded_body_reads_like_json() {
        let raw = RawForm::from_urlencoded(
            b"submission_id=abcdefgh12&first_name=Luc%C3%ADa&email=lucia%40example.org&zip=20001\
              &commitment=on&language=es&gathering=g123456789&website=",
        );
        assert_eq!(raw.first_name.as_deref(), Some("Lucía"));
        assert!(raw.commitment.0 && !raw.sms_consent.0 && !raw.is_bot());
        let json: RawForm = serde_json::from_str(
            r#"{"submission_id":"abcdefgh12","first_name":"Lucía","commitment":true,"sms_consent":"on","extra":1}"#,
        )
        .unwrap();
        assert!(json.commitment.0 && json.sms_consent.0);
    }

    #[test]
    fn a_filled_honeypot_marks_a_bot() {
        let mut raw = valid();
        raw.website = Some("https://spam.example".into());
        assert!(raw.is_bot());
    }

    #[test]
    fn messages_are_in_the_persons_language() {
        let errors = [FieldError {
            field: Field::Commitment,
            problem: Problem::Commitment,
        }];
        let es = messages(&errors, Language::Es, &rules());
        assert!(es[0].1.starts_with("Marca"));
        let phone = Problem::PhoneCountry.message(form_text(Language::En), "US");
        assert!(phone.ends_with("US."));
    }

    #[test]
    fn referral_codes_and_submission_ids_have_a_strict_shape() {
        assert!(ReferralCode::parse("abcdefgh23").is_some());
        assert!(ReferralCode::parse("ABCDEFGH23").is_some());
        assert!(ReferralCode::parse("abcdefgh19").is_none());
        assert!(SubmissionId::parse("short").is_none());
        assert!(SubmissionId::parse("0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a").is_some());
        assert!(SubmissionId::parse("has space 123").is_none());
    }
}

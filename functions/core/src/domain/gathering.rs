//! Gatherings: an in-person meeting a host organises, found by people nearby and joined by text, by a
//! web form or by the host's invitation.
//!
//! Names and private addresses are personal data: a [`Gathering`] holds them only sealed (encrypted
//! by [`crate::privacy::Sealer`], bound to the gathering and the field), so a gathering can be logged,
//! stored and indexed without exposing them. [`GatheringDraft::seal`] turns what a host typed into a
//! gathering.

use std::fmt;

use rand::Rng;
use time::OffsetDateTime;

use super::keyword::compliance_words;
use super::{FirstName, Language, Zip, whole_word};
use crate::geo::GeoPoint;
use crate::privacy::{ContactHash, CryptoError, Sealed, Sealer};

// ---------------------------------------------------------------------------------------------------------
// Identifier

/// A gathering's identifier: 128 random bits, 32 lower-case hex digits. Opaque; safe in keys and logs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GatheringId(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a gathering id is 32 lower-case hexadecimal characters")]
pub struct GatheringIdError;

impl GatheringId {
    /// A new random identifier.
    pub fn random() -> Self {
        Self(crate::ids::random_id())
    }

    pub fn parse(input: &str) -> Result<Self, GatheringIdError> {
        let valid = input.len() == 32
            && input
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if valid {
            Ok(Self(input.to_string()))
        } else {
            Err(GatheringIdError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The sealing context of the host's first name: `gathering#<id>|host_first_name`.
    pub fn host_first_name_context(&self) -> String {
        format!("gathering#{}|host_first_name", self.0)
    }

    /// The sealing context of a private address: `gathering#<id>|address`.
    pub fn address_context(&self) -> String {
        format!("gathering#{}|address", self.0)
    }
}

impl fmt::Display for GatheringId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ---------------------------------------------------------------------------------------------------------
// Code

/// Words a gathering code can never be besides the compliance words (carrier opt-out, opt-in and help
/// words, English and Spanish): the built-in campaign keywords and DELETE. A person texting one of
/// them must get its standard meaning, never a gathering.
const CODE_ONLY_RESERVED: [&str; 4] = ["JOIN", "RISING", "UNIRME", "DELETE"];

/// Every reserved word, upper case: the compliance words of [`super::Keyword`] and the words above.
pub fn reserved_words() -> impl Iterator<Item = &'static str> {
    compliance_words().chain(CODE_ONLY_RESERVED)
}

/// Whether `word` (upper case) is reserved.
pub fn is_reserved_word(word: &str) -> bool {
    reserved_words().any(|w| w == word)
}

/// Why a text is not a gathering code. Written for the host choosing a code or the person texting one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatheringCodeError {
    #[error("A gathering code has 4 to 10 letters and digits, like MAPLE5.")]
    Length,
    #[error("A gathering code has only the letters A to Z and the digits 0 to 9, like MAPLE5.")]
    Characters,
    #[error("A gathering code needs at least one letter, like MAPLE5.")]
    NoLetter,
    #[error("{0} is a reserved word and can't be a gathering code.")]
    Reserved(String),
}

/// The short code a host prints and people text to join a gathering, e.g. `MAPLE5`: 4 to 10 of
/// A–Z and 0–9, upper case, with at least one letter (so it is never mistaken for a ZIP code) and
/// never one of the [`reserved_words`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GatheringCode(String);

/// Small words skipped when a code is made from a title.
const TITLE_STOPWORDS: [&str; 24] = [
    "THE",
    "AND",
    "FOR",
    "WITH",
    "OUR",
    "YOUR",
    "FROM",
    "INTO",
    "ABOUT",
    "MEET",
    "MEETUP",
    "GATHERING",
    "LOS",
    "LAS",
    "DEL",
    "UNA",
    "CON",
    "PARA",
    "POR",
    "NUESTRA",
    "NUESTRO",
    "REUNION",
    "COMMUNITY",
    "COMUNIDAD",
];

impl GatheringCode {
    pub const MIN_LEN: usize = 4;
    pub const MAX_LEN: usize = 10;

    /// Parses a code in any case, with surrounding whitespace and punctuation ignored (" maple5! ").
    pub fn parse(input: &str) -> Result<Self, GatheringCodeError> {
        let code = whole_word(input).to_ascii_uppercase();
        if !code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            return Err(GatheringCodeError::Characters);
        }
        if is_reserved_word(&code) {
            return Err(GatheringCodeError::Reserved(code));
        }
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&code.len()) {
            return Err(GatheringCodeError::Length);
        }
        if !code.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(GatheringCodeError::NoLetter);
        }
        Ok(Self(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Suggests a code made of a word of `title` (up to 6 letters, accents removed, skipping small
    /// words and reserved words) and random digits 2–9 (no 0 or 1, which read like O and I): "Maple
    /// Street potluck" → `MAPLE5`. `attempt` (0, 1, 2 …) adds a digit per attempt, for retrying when a
    /// code is taken.
    pub fn suggest(title: &str, attempt: u32) -> Self {
        Self::suggest_with(title, attempt, &mut rand::rng())
    }

    /// [`GatheringCode::suggest`] with a given random number generator.
    pub fn suggest_with(title: &str, attempt: u32, rng: &mut impl Rng) -> Self {
        let word = title_words(title)
            .into_iter()
            .find(|w| {
                w.len() >= 3 && !TITLE_STOPWORDS.contains(&w.as_str()) && !is_reserved_word(w)
            })
            .unwrap_or_else(|| "MEET".to_string());
        let mut code: String = word.chars().take(6).collect();
        let digits = (1 + attempt as usize).max(Self::MIN_LEN.saturating_sub(code.len()));
        let digits = digits.min(Self::MAX_LEN - code.len());
        for _ in 0..digits {
            code.push(char::from(b'0' + rng.random_range(2..=9u8)));
        }
        // Letters from a title and at least one digit: valid and never a reserved word.
        Self(code)
    }
}

/// The words of a title in upper-case ASCII, accents removed; other characters separate words.
fn title_words(title: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    for c in title.chars() {
        match fold(c) {
            Some(letter) => word.push(letter),
            None if c.is_alphanumeric() => {} // a letter without an ASCII form is dropped
            None => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// An ASCII capital for Latin letters, with the accents of Spanish, French and Portuguese removed.
fn fold(c: char) -> Option<char> {
    let base = match c {
        'a'..='z' | 'A'..='Z' => c,
        'á' | 'à' | 'â' | 'ä' | 'ã' | 'Á' | 'À' | 'Â' | 'Ä' | 'Ã' => 'A',
        'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => 'E',
        'í' | 'ì' | 'î' | 'ï' | 'Í' | 'Ì' | 'Î' | 'Ï' => 'I',
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'Ó' | 'Ò' | 'Ô' | 'Ö' | 'Õ' => 'O',
        'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Ù' | 'Û' | 'Ü' => 'U',
        'ñ' | 'Ñ' => 'N',
        'ç' | 'Ç' => 'C',
        _ => return None,
    };
    Some(base.to_ascii_uppercase())
}

impl fmt::Display for GatheringCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ---------------------------------------------------------------------------------------------------------
// Title

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GatheringTitleError {
    #[error("Please give the gathering a title.")]
    Empty,
    #[error("A gathering title can be at most 80 characters.")]
    TooLong,
    #[error("A gathering title can't contain control characters.")]
    Control,
}

/// What the gathering is called, as people will read it: 1 to 80 characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatheringTitle(String);

impl GatheringTitle {
    pub const MAX_CHARS: usize = 80;

    pub fn parse(input: &str) -> Result<Self, GatheringTitleError> {
        let title = input.trim();
        if title.is_empty() {
            return Err(GatheringTitleError::Empty);
        }
        if title.chars().any(char::is_control) {
            return Err(GatheringTitleError::Control);
        }
        if title.chars().count() > Self::MAX_CHARS {
            return Err(GatheringTitleError::TooLong);
        }
        Ok(Self(title.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GatheringTitle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ---------------------------------------------------------------------------------------------------------
// Gathering

/// Where a gathering meets.
#[derive(Debug, Clone, PartialEq)]
pub enum Address {
    /// A public place (a library, a park), shown to anyone.
    Public(String),
    /// Someone's home: sealed, and told to people who are going only from the day before
    /// ([`Gathering::address_revealed_from`]).
    Private(Sealed),
}

/// How long before the start a private address is revealed to people who are going.
pub const PRIVATE_ADDRESS_NOTICE: time::Duration = time::Duration::days(1);

/// A gathering as stored. Every field is valid by construction (each is a parsed type, and
/// [`GatheringDraft::seal`] checks how they fit together); personal data is sealed.
#[derive(Debug, Clone, PartialEq)]
pub struct Gathering {
    pub id: GatheringId,
    pub code: GatheringCode,
    pub title: GatheringTitle,
    /// Start and end, in UTC; shown in `timezone`.
    pub starts_at: OffsetDateTime,
    pub ends_at: OffsetDateTime,
    /// IANA time zone name of the place, e.g. `America/New_York`.
    pub timezone: String,
    pub town: String,
    /// USPS two-letter state code.
    pub state: String,
    pub zip: Zip,
    /// Where it is: the address's coordinates, or the ZIP code's centroid.
    pub location: GeoPoint,
    pub address: Address,
    /// Sealed with the context [`GatheringId::host_first_name_context`]. `None` once its host asked
    /// to be erased: the gathering stays for the people going, without their name.
    pub host_first_name: Option<Sealed>,
    /// Most people going; more are waitlisted. `None`: no limit.
    pub capacity: Option<u32>,
    pub language: Language,
    /// An organizer approved it: it is shown to people searching nearby.
    pub listed: bool,
    /// When an organizer declined it (it stays unlisted). `None`: never declined. A host's
    /// gathering that is neither `listed` nor declined is waiting for an organizer's review.
    pub declined_at: Option<OffsetDateTime>,
    /// The keyed hash of the email of the host who made it on the dashboard; `None` for gatherings
    /// made by organizers (and the seed and tests). Only this host may edit it.
    pub host: Option<ContactHash>,
    /// What the gathering is about, in the host's words: trimmed, at most
    /// [`DESCRIPTION_MAX_CHARS`] characters, line breaks `\n`; may be empty.
    pub description: String,
    /// Accessibility notes (step-free access, parking, ASL …): trimmed, at most
    /// [`ACCESSIBILITY_MAX_CHARS`] characters, line breaks `\n`; may be empty.
    pub accessibility: String,
}

/// The most characters a gathering's description may have.
pub const DESCRIPTION_MAX_CHARS: usize = 2000;

/// The most characters a gathering's accessibility notes may have.
pub const ACCESSIBILITY_MAX_CHARS: usize = 500;

impl Gathering {
    /// Waiting for an organizer's review: a host's gathering that is neither listed nor declined
    /// (what `GATHERING_APPROVAL=required` makes of a new one). Organizers' own unlisted gatherings
    /// are never waiting.
    pub fn awaiting_review(&self) -> bool {
        self.host.is_some() && !self.listed && self.declined_at.is_none()
    }

    /// From when a private address may be told to people who are going (the day before it starts).
    pub fn address_revealed_from(&self) -> OffsetDateTime {
        self.starts_at - PRIVATE_ADDRESS_NOTICE
    }

    /// The host's first name, unsealed; `None` once the host was erased.
    pub async fn open_host_first_name(
        &self,
        sealer: &Sealer,
    ) -> Result<Option<String>, CryptoError> {
        match &self.host_first_name {
            Some(sealed) => sealer
                .open(&self.id.host_first_name_context(), sealed)
                .await
                .map(Some),
            None => Ok(None),
        }
    }

    /// The address as it may be told at `now`: a public one always; a private one only from the day
    /// before the gathering (`None` earlier).
    pub async fn open_address(
        &self,
        sealer: &Sealer,
        now: OffsetDateTime,
    ) -> Result<Option<String>, CryptoError> {
        match &self.address {
            Address::Public(address) => Ok(Some(address.clone())),
            Address::Private(_) if now < self.address_revealed_from() => Ok(None),
            Address::Private(sealed) => sealer
                .open(&self.id.address_context(), sealed)
                .await
                .map(Some),
        }
    }
}

/// Where a gathering meets, as the host typed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressDraft {
    Public(String),
    Private(String),
}

/// Why a draft cannot become a gathering. Written for the host.
#[derive(Debug, thiserror::Error)]
pub enum GatheringError {
    #[error("The gathering must end after it starts.")]
    EndsBeforeStart,
    #[error("A gathering can last at most 24 hours.")]
    TooLong,
    #[error("Please give the address where the gathering meets.")]
    NoAddress,
    #[error("The address can be at most 200 characters.")]
    AddressTooLong,
    #[error("A capacity, when given, must be at least 1.")]
    ZeroCapacity,
    #[error("Please give the time zone of the gathering (e.g. America/New_York).")]
    NoTimezone,
    #[error("The description can be at most 2000 characters.")]
    DescriptionTooLong,
    #[error("The accessibility notes can be at most 500 characters.")]
    AccessibilityTooLong,
    #[error("Please remove special control characters from the description or notes.")]
    ControlCharacters,
    #[error("the gathering's personal data could not be sealed: {0}")]
    Sealing(#[from] CryptoError),
}

/// A gathering as a host describes it, before its personal data is sealed. Town, state, time zone
/// and location default to the ZIP code's.
#[derive(Clone)]
pub struct GatheringDraft {
    pub code: GatheringCode,
    pub title: GatheringTitle,
    pub starts_at: OffsetDateTime,
    pub ends_at: OffsetDateTime,
    pub zip: Zip,
    pub timezone: Option<String>,
    pub town: Option<String>,
    pub location: Option<GeoPoint>,
    pub address: AddressDraft,
    pub host_first_name: FirstName,
    pub capacity: Option<u32>,
    pub language: Language,
    pub listed: bool,
    /// See [`Gathering::host`].
    pub host: Option<ContactHash>,
    /// As typed: [`GatheringDraft::seal`] normalises line breaks, trims and checks it.
    pub description: String,
    /// As typed: [`GatheringDraft::seal`] normalises line breaks, trims and checks it.
    pub accessibility: String,
}

impl fmt::Debug for GatheringDraft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatheringDraft")
            .field("code", &self.code)
            .field("title", &self.title)
            .field("starts_at", &self.starts_at)
            .field("zip", &self.zip)
            .finish_non_exhaustive()
    }
}

/// Free text a host wrote (a description, notes): line breaks normalised to `\n` (`\r\n` and a lone
/// `\r` alike), trimmed, at most `max_chars` characters (counted after that), and no control
/// characters but line breaks and tabs.
fn host_text(
    input: &str,
    max_chars: usize,
    too_long: GatheringError,
) -> Result<String, GatheringError> {
    let text = input.replace("\r\n", "\n").replace('\r', "\n");
    let text = text.trim();
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        return Err(GatheringError::ControlCharacters);
    }
    if text.chars().count() > max_chars {
        return Err(too_long);
    }
    Ok(text.to_string())
}

impl GatheringDraft {
    /// Checks the draft and seals its personal data for the gathering `id`. Times are kept to the
    /// second; the description and accessibility notes are trimmed, with line breaks as `\n`.
    pub async fn seal(
        mut self,
        id: GatheringId,
        sealer: &Sealer,
    ) -> Result<Gathering, GatheringError> {
        self.starts_at = self
            .starts_at
            .replace_nanosecond(0)
            .unwrap_or(self.starts_at);
        self.ends_at = self.ends_at.replace_nanosecond(0).unwrap_or(self.ends_at);
        if self.ends_at <= self.starts_at {
            return Err(GatheringError::EndsBeforeStart);
        }
        if self.ends_at - self.starts_at > time::Duration::hours(24) {
            return Err(GatheringError::TooLong);
        }
        if self.capacity == Some(0) {
            return Err(GatheringError::ZeroCapacity);
        }
        let description = host_text(
            &self.description,
            DESCRIPTION_MAX_CHARS,
            GatheringError::DescriptionTooLong,
        )?;
        let accessibility = host_text(
            &self.accessibility,
            ACCESSIBILITY_MAX_CHARS,
            GatheringError::AccessibilityTooLong,
        )?;
        let timezone = match self
            .timezone
            .as_deref()
            .map(str::trim)
            .filter(|tz| !tz.is_empty())
        {
            Some(tz) => tz.to_string(),
            None => self
                .zip
                .timezone()
                .ok_or(GatheringError::NoTimezone)?
                .to_string(),
        };
        let address_text = match &self.address {
            AddressDraft::Public(a) | AddressDraft::Private(a) => a.trim(),
        };
        if address_text.is_empty() {
            return Err(GatheringError::NoAddress);
        }
        if address_text.chars().count() > 200 {
            return Err(GatheringError::AddressTooLong);
        }
        let address = match &self.address {
            AddressDraft::Public(_) => Address::Public(address_text.to_string()),
            AddressDraft::Private(_) => {
                Address::Private(sealer.seal(&id.address_context(), address_text).await?)
            }
        };
        let host_first_name = Some(
            sealer
                .seal(&id.host_first_name_context(), self.host_first_name.as_str())
                .await?,
        );
        let town = self
            .town
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .unwrap_or(self.zip.city())
            .to_string();
        Ok(Gathering {
            code: self.code,
            title: self.title,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            timezone,
            town,
            state: self.zip.state().to_string(),
            location: self.location.unwrap_or(self.zip.centroid()),
            zip: self.zip,
            address,
            host_first_name,
            capacity: self.capacity,
            language: self.language,
            listed: self.listed,
            declined_at: None,
            host: self.host,
            description,
            accessibility,
            id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_code_parses_from_any_case_with_surrounding_whitespace_and_punctuation() {
        for input in [
            "MAPLE5",
            "maple5",
            " Maple5 ",
            "maple5!",
            "¡maple5!",
            "\"MAPLE5\".",
            "\tmaple5\n",
        ] {
            assert_eq!(
                GatheringCode::parse(input).map(|c| c.as_str().to_string()),
                Ok("MAPLE5".into()),
                "{input:?}"
            );
        }
    }

    #[test]
    fn a_code_has_four_to_ten_letters_and_digits() {
        assert!(GatheringCode::parse("ABC1").is_ok());
        assert!(GatheringCode::parse("ABCDEFGH12").is_ok());
        assert_eq!(GatheringCode::parse("AB1"), Err(GatheringCodeError::Length));
        assert_eq!(
            GatheringCode::parse("ABCDEFGH123"),
            Err(GatheringCodeError::Length)
        );
        assert_eq!(
            GatheringCode::parse("MAPLE 5"),
            Err(GatheringCodeError::Characters)
        );
        assert_eq!(
            GatheringCode::parse("MAPLÉ5"),
            Err(GatheringCodeError::Characters)
        );
        assert_eq!(GatheringCode::parse(""), Err(GatheringCodeError::Length));
    }

    #[test]
    fn a_code_of_digits_only_is_refused_so_it_is_never_mistaken_for_a_zip_code() {
        assert_eq!(
            GatheringCode::parse("20001"),
            Err(GatheringCodeError::NoLetter)
        );
    }

    #[test]
    fn every_reserved_word_is_refused_as_a_code() {
        for word in reserved_words() {
            assert_eq!(
                GatheringCode::parse(&word.to_lowercase()),
                Err(GatheringCodeError::Reserved(word.to_string())),
                "{word}"
            );
        }
        assert_eq!(
            GatheringCodeError::Reserved("STOP".into()).to_string(),
            "STOP is a reserved word and can't be a gathering code."
        );
    }

    #[test]
    fn a_suggested_code_is_a_title_word_and_digits() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let code = GatheringCode::suggest_with("Maple Street potluck", 0, &mut rng);
        assert!(code.as_str().starts_with("MAPLE"), "{code}");
        assert_eq!(code.as_str().len(), 6);
        assert!(code.as_str()[5..].chars().all(|c| ('2'..='9').contains(&c)));
        assert_eq!(GatheringCode::parse(code.as_str()), Ok(code));
    }

    #[test]
    fn a_suggested_code_skips_small_words_reserved_words_and_accents() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let code = GatheringCode::suggest_with(
            "The STOP and Join Rising — Reunión en el Parque",
            0,
            &mut rng,
        );
        assert!(code.as_str().starts_with("PARQUE"), "{code}");
        let code = GatheringCode::suggest_with("Café de la Peña", 0, &mut rng);
        assert!(code.as_str().starts_with("CAFE"), "{code}");
        let code = GatheringCode::suggest_with("¡¡!!", 0, &mut rng);
        assert!(code.as_str().starts_with("MEET"), "{code}");
    }

    #[test]
    fn later_attempts_add_digits_and_codes_never_exceed_ten_characters() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        assert_eq!(
            GatheringCode::suggest_with("Maple", 1, &mut rng)
                .as_str()
                .len(),
            7
        );
        assert_eq!(
            GatheringCode::suggest_with("Maple", 2, &mut rng)
                .as_str()
                .len(),
            8
        );
        assert_eq!(
            GatheringCode::suggest_with("Maple", 50, &mut rng)
                .as_str()
                .len(),
            10
        );
        // A short word is padded with digits to the minimum length.
        assert_eq!(
            GatheringCode::suggest_with("Oak", 0, &mut rng)
                .as_str()
                .len(),
            4
        );
    }

    #[test]
    fn suggested_codes_are_always_valid_codes() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for title in [
            "",
            "a",
            "STOP",
            "Help!",
            "Join us",
            "Rising up",
            "Unirme",
            "ñandú",
            "北京",
            "x y z",
            "Potluck",
        ] {
            for attempt in 0..12 {
                let code = GatheringCode::suggest_with(title, attempt, &mut rng);
                assert_eq!(
                    GatheringCode::parse(code.as_str()),
                    Ok(code.clone()),
                    "{title:?} {attempt}"
                );
            }
        }
    }

    #[test]
    fn a_gathering_id_is_32_lower_case_hex_digits() {
        let id = GatheringId::random();
        assert_eq!(GatheringId::parse(id.as_str()), Ok(id.clone()));
        assert_ne!(GatheringId::random(), id);
        assert!(GatheringId::parse("ABCDEF00000000000000000000000000").is_err());
        assert!(GatheringId::parse("abc").is_err());
    }

    #[test]
    fn sealing_contexts_name_the_gathering_and_the_field() {
        let id = GatheringId::parse("0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(
            id.host_first_name_context(),
            "gathering#0123456789abcdef0123456789abcdef|host_first_name"
        );
        assert_eq!(
            id.address_context(),
            "gathering#0123456789abcdef0123456789abcdef|address"
        );
    }

    #[test]
    fn a_title_is_trimmed_and_at_most_80_characters() {
        assert_eq!(
            GatheringTitle::parse("  Maple Street potluck ")
                .unwrap()
                .as_str(),
            "Maple Street potluck"
        );
        assert_eq!(GatheringTitle::parse(" "), Err(GatheringTitleError::Empty));
        assert_eq!(
            GatheringTitle::parse(&"é".repeat(81)),
            Err(GatheringTitleError::TooLong)
        );
        assert_eq!(
            GatheringTitle::parse("a\u{7}b"),
            Err(GatheringTitleError::Control)
        );
    }

    fn draft(address: AddressDraft) -> GatheringDraft {
        let starts_at = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        GatheringDraft {
            code: GatheringCode::parse("MAPLE5").unwrap(),
            title: GatheringTitle::parse("Maple Street potluck").unwrap(),
            starts_at,
            ends_at: starts_at + time::Duration::hours(2),
            zip: Zip::parse("20001").unwrap(),
            timezone: None,
            town: None,
            location: None,
            address,
            host_first_name: FirstName::parse("Rosa").unwrap(),
            capacity: Some(12),
            language: Language::En,
            listed: true,
            host: None,
            description: String::new(),
            accessibility: String::new(),
        }
    }

    #[tokio::test]
    async fn a_sealed_draft_takes_town_state_time_zone_and_location_from_its_zip() {
        let sealer = Sealer::in_memory();
        let id = GatheringId::random();
        let g = draft(AddressDraft::Public("Northwest Library, 1 Main St".into()))
            .seal(id.clone(), &sealer)
            .await
            .unwrap();
        assert_eq!(
            (g.town.as_str(), g.state.as_str(), g.timezone.as_str()),
            ("Washington", "DC", "America/New_York")
        );
        assert_eq!(g.location, Zip::parse("20001").unwrap().centroid());
        assert_eq!(
            g.address,
            Address::Public("Northwest Library, 1 Main St".into())
        );
        assert_eq!(
            g.open_host_first_name(&sealer).await.unwrap().as_deref(),
            Some("Rosa")
        );
        assert!(!format!("{g:?}").contains("Rosa"));
    }

    #[tokio::test]
    async fn a_private_address_is_sealed_and_opens_only_from_the_day_before() {
        let sealer = Sealer::in_memory();
        let g = draft(AddressDraft::Private("12 Elm St, apt 3".into()))
            .seal(GatheringId::random(), &sealer)
            .await
            .unwrap();
        assert!(matches!(g.address, Address::Private(_)));
        assert!(!format!("{g:?}").contains("Elm"));
        let two_days_before = g.starts_at - time::Duration::days(2);
        assert_eq!(
            g.open_address(&sealer, two_days_before).await.unwrap(),
            None
        );
        let evening_before = g.starts_at - time::Duration::hours(20);
        assert_eq!(
            g.open_address(&sealer, evening_before)
                .await
                .unwrap()
                .as_deref(),
            Some("12 Elm St, apt 3")
        );
    }

    #[tokio::test]
    async fn a_draft_that_ends_before_it_starts_or_has_no_room_is_refused() {
        let sealer = Sealer::in_memory();
        let mut d = draft(AddressDraft::Public("Library".into()));
        d.ends_at = d.starts_at;
        assert!(matches!(
            d.seal(GatheringId::random(), &sealer).await,
            Err(GatheringError::EndsBeforeStart)
        ));
        let mut d = draft(AddressDraft::Public("Library".into()));
        d.capacity = Some(0);
        assert!(matches!(
            d.seal(GatheringId::random(), &sealer).await,
            Err(GatheringError::ZeroCapacity)
        ));
        let d = draft(AddressDraft::Public("  ".into()));
        assert!(matches!(
            d.seal(GatheringId::random(), &sealer).await,
            Err(GatheringError::NoAddress)
        ));
    }

    #[tokio::test]
    async fn a_description_and_accessibility_notes_are_trimmed_with_line_breaks_as_newlines() {
        let sealer = Sealer::in_memory();
        let mut d = draft(AddressDraft::Public("Library".into()));
        d.description = "  Bring a dish.\r\n\r\nKids welcome!\tReally.\r ".into();
        d.accessibility = "\n Step-free entrance on Elm St.\n".into();
        let g = d.seal(GatheringId::random(), &sealer).await.unwrap();
        assert_eq!(g.description, "Bring a dish.\n\nKids welcome!\tReally.");
        assert_eq!(g.accessibility, "Step-free entrance on Elm St.");
        assert_eq!(g.host, None);
    }

    #[tokio::test]
    async fn an_empty_description_and_empty_notes_are_fine() {
        let mut d = draft(AddressDraft::Public("Library".into()));
        d.description = " \r\n ".into();
        let g = d
            .seal(GatheringId::random(), &Sealer::in_memory())
            .await
            .unwrap();
        assert_eq!((g.description.as_str(), g.accessibility.as_str()), ("", ""));
    }

    #[tokio::test]
    async fn a_description_longer_than_2000_characters_is_refused() {
        let sealer = Sealer::in_memory();
        let mut d = draft(AddressDraft::Public("Library".into()));
        d.description = "é".repeat(DESCRIPTION_MAX_CHARS);
        assert!(d.seal(GatheringId::random(), &sealer).await.is_ok());
        let mut d = draft(AddressDraft::Public("Library".into()));
        d.description = format!("  {}  ", "é".repeat(DESCRIPTION_MAX_CHARS + 1));
        let err = d.seal(GatheringId::random(), &sealer).await.unwrap_err();
        assert!(matches!(err, GatheringError::DescriptionTooLong));
        assert_eq!(
            err.to_string(),
            "The description can be at most 2000 characters."
        );
    }

    #[tokio::test]
    async fn accessibility_notes_longer_than_500_characters_are_refused() {
        let sealer = Sealer::in_memory();
        let mut d = draft(AddressDraft::Public("Library".into()));
        d.accessibility = "a".repeat(ACCESSIBILITY_MAX_CHARS);
        assert!(d.seal(GatheringId::random(), &sealer).await.is_ok());
        let mut d = draft(AddressDraft::Public("Library".into()));
        d.accessibility = "a".repeat(ACCESSIBILITY_MAX_CHARS + 1);
        let err = d.seal(GatheringId::random(), &sealer).await.unwrap_err();
        assert!(matches!(err, GatheringError::AccessibilityTooLong));
        assert_eq!(
            err.to_string(),
            "The accessibility notes can be at most 500 characters."
        );
    }

    #[tokio::test]
    async fn control_characters_other_than_line_breaks_and_tabs_are_refused() {
        let sealer = Sealer::in_memory();
        for (description, accessibility) in
            [("a\u{7}b", ""), ("", "ramp\u{0}"), ("x\u{1b}[31m", "")]
        {
            let mut d = draft(AddressDraft::Public("Library".into()));
            d.description = description.into();
            d.accessibility = accessibility.into();
            let err = d.seal(GatheringId::random(), &sealer).await.unwrap_err();
            assert!(
                matches!(err, GatheringError::ControlCharacters),
                "{description:?} {accessibility:?}"
            );
            assert_eq!(
                err.to_string(),
                "Please remove special control characters from the description or notes."
            );
        }
    }

    #[tokio::test]
    async fn a_sealed_draft_keeps_its_host() {
        let hasher = crate::privacy::ContactHasher::from_base64(
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        )
        .unwrap();
        let host = hasher.email(&super::super::EmailAddress::parse("rosa@example.org").unwrap());
        let mut d = draft(AddressDraft::Public("Library".into()));
        d.host = Some(host.clone());
        let g = d
            .seal(GatheringId::random(), &Sealer::in_memory())
            .await
            .unwrap();
        assert_eq!(g.host, Some(host));
    }
}

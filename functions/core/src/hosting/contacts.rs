//! Reading the contacts a host pastes to invite friends: pure text in, contacts and reasons out. No I/O,
//! and nothing here is ever logged (the text is personal data of people who have not signed up).
//!
//! Three layouts are understood, chosen from the text itself:
//!
//! - **vCards** (the text has a `BEGIN:VCARD` line, as in an iPhone or Android `.vcf` export): each card
//!   is one contact, from its `N` given name (else the first word of `FN`), its `TEL`s and its
//!   `EMAIL`s. Folded lines are unfolded; vCard 2.1 quoted-printable values (Android) are decoded.
//! - **CSV with a header row** (the first line names a phone or an email column, as in a Google
//!   Contacts, Outlook or spreadsheet export): the columns are used. RFC 4180 quoting; the delimiter
//!   (comma, semicolon or tab) is the one the header uses most.
//! - **Free lines**, one contact a line: tokens are split on commas, semicolons, tabs, pipes and runs
//!   of two or more spaces; an email is any word with an `@` (possibly as `Name <a@b.org>`), a phone any
//!   run of digits, spaces, dots, dashes, parentheses and `+` with 7 or more digits, and the rest is the
//!   name.
//!
//! Everywhere: blank lines and `#` lines are skipped, `\r\n` (or old-Mac `\r`) line ends and a UTF-8
//! BOM are accepted. A number without `+` is read as a US number. Only the first word of a name is
//! kept, and only when [`FirstName`] accepts it (a name it refuses does not reject the contact).
//!
//! Which phone or email is kept, and when a contact is rejected:
//!
//! - A free line is what the host typed, so it must be right as a whole: any phone-like run that is not
//!   a valid number rejects it ([`Rejection::InvalidPhone`]), and so does any `@` word that is not a
//!   valid address ([`Rejection::InvalidEmail`]), even when the line has another good phone or email.
//! - An exported row or card often carries old or odd numbers next to good ones, so there the first
//!   usable value of each kind is kept and the others are ignored; a mobile number (by its column,
//!   Google `Type`/`Label`, or vCard `TYPE=CELL`) is preferred to the others. It is rejected only when
//!   it has values of a kind and none of them is usable.
//! - A phone must be in one of the `countries` given; a valid number elsewhere is not used, and a
//!   contact left without a usable phone because of it is rejected with [`Rejection::PhoneCountry`]
//!   (even if it has a good email: the host is told to remove the number or give an email instead).
//!   An empty `countries` therefore refuses every phone.
//! - Reasons are checked in this order: phone (invalid, then country), email, then nothing usable.
//!
//! At most [`MAX_CONTACTS`] entries (free lines, CSV rows or cards, rejected and duplicate ones
//! included) are read. If there are more, reading stops and a single [`Rejection::TooMany`] is given,
//! at the first entry that was not read.
//!
//! A contact whose phone or email was already seen is folded into the earliest contact that has it:
//! that contact's missing phone, email or first name are filled in (unless another contact already has
//! that phone or email), and the duplicate is counted in [`Parsed::merged`].

use std::collections::HashMap;

use crate::domain::{EmailAddress, FirstName, Language, PhoneNumber};

/// At most this many lines/contacts are read from one paste (more are rejected with TooMany).
pub const MAX_CONTACTS: usize = 500;

/// The longest excerpt of a rejected line shown back to the host, in characters.
const EXCERPT_CHARS: usize = 80;
/// Fewer digits than this are not taken for a phone number in a free line.
const MIN_PHONE_DIGITS: usize = 7;
/// E.164 numbers have at most 15 digits.
const MAX_PHONE_DIGITS: usize = 15;
/// Google Contacts puts several values of one kind in a cell, separated by this.
const GOOGLE_VALUE_SEPARATOR: &str = ":::";

/// One person to invite. `Debug` shows none of the contact details (the field types redact them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// 1-based line (or vCard start line) the contact came from.
    pub line: usize,
    /// The first word of the name, if a usable one was found (FirstName::parse accepted it).
    pub first_name: Option<FirstName>,
    pub phone: Option<PhoneNumber>,
    pub email: Option<EmailAddress>,
}

/// Why a line of the paste did not give a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Neither a phone number nor an email address was found.
    NoPhoneOrEmail,
    /// Something that looks like a phone number (7 or more digits) is not a valid number.
    InvalidPhone,
    /// The phone number is valid but in a country the program does not text.
    PhoneCountry,
    /// A word with an `@` is not a valid email address.
    InvalidEmail,
    /// The paste has more than [`MAX_CONTACTS`] entries; this one and those after it were not read.
    TooMany,
}

impl Rejection {
    /// A sentence for the host, saying what is wrong with the line and how to fix it.
    pub fn text(self, language: Language) -> &'static str {
        match (self, language) {
            (Self::NoPhoneOrEmail, Language::En) => {
                "We couldn't find a phone number or an email address on this line."
            }
            (Self::NoPhoneOrEmail, Language::Es) => {
                "No encontramos un número de teléfono ni un correo electrónico en esta línea."
            }
            (Self::InvalidPhone, Language::En) => {
                "This phone number isn't valid. Please check the digits and include the area code."
            }
            (Self::InvalidPhone, Language::Es) => {
                "Este número de teléfono no es válido. Revisa los dígitos e incluye el código de área."
            }
            (Self::PhoneCountry, Language::En) => {
                "We can't send texts to phone numbers in that country. Remove the number, or give an email address instead."
            }
            (Self::PhoneCountry, Language::Es) => {
                "No podemos enviar mensajes de texto a números de ese país. Quita el número o escribe un correo electrónico en su lugar."
            }
            (Self::InvalidEmail, Language::En) => {
                "This email address isn't valid. Please check it, like name@example.org."
            }
            (Self::InvalidEmail, Language::Es) => {
                "Este correo electrónico no es válido. Revísalo, como nombre@ejemplo.org."
            }
            (Self::TooMany, Language::En) => {
                "Only the first 500 contacts were read, so this one and the ones after it were not. Please add them in another paste."
            }
            (Self::TooMany, Language::Es) => {
                "Solo leímos los primeros 500 contactos, así que este y los siguientes no se leyeron. Agrégalos en otra lista."
            }
        }
    }
}

/// A line of the paste that did not give a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// 1-based line (or vCard start line).
    pub line: usize,
    /// The line as typed, trimmed, at most 80 chars, control chars removed. For a CSV row that spans
    /// lines, the whole row (line breaks shown as spaces); for a vCard, its name, phones and emails
    /// joined by `, `.
    pub excerpt: String,
    pub reason: Rejection,
}

/// What a paste gave: contacts in order of first appearance, and the lines that gave none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub contacts: Vec<Contact>,
    pub rejected: Vec<Rejected>,
    /// Contacts folded into an earlier one because they share its phone or its email.
    pub merged: usize,
}

/// Reads a pasted text of contacts (free lines, a CSV export with a header row, or vCards).
///
/// `countries`: ISO codes whose mobile numbers may be texted (e.g. ["US"]); a phone elsewhere is rejected with PhoneCountry.
pub fn parse(text: &str, countries: &[String]) -> Parsed {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = physical_lines(text);
    let limit = MAX_CONTACTS + 1;
    let entries = if is_vcard(&lines) {
        vcard_entries(&lines, limit)
    } else if let Some((index, columns)) = csv_header(&lines) {
        csv_entries(&lines[index + 1..], &columns, limit)
    } else {
        line_entries(&lines, limit)
    };
    let mut book = Book::default();
    for entry in entries.iter().take(MAX_CONTACTS) {
        match resolve(entry, countries) {
            Ok(contact) => book.add(contact),
            Err(reason) => book.parsed.rejected.push(entry.rejected(reason)),
        }
    }
    if let Some(first_unread) = entries.get(MAX_CONTACTS) {
        book.parsed
            .rejected
            .push(first_unread.rejected(Rejection::TooMany));
    }
    book.parsed
}

// --- one entry, whatever its layout ------------------------------------------------------------

/// One free line, CSV row or vCard, before its values are checked.
#[derive(Debug)]
struct Entry {
    line: usize,
    /// What the host is shown if it is rejected (cleaned by [`excerpt`]).
    raw: String,
    first_name: Option<FirstName>,
    /// Phone candidates, preferred first.
    phones: Vec<String>,
    /// Email candidates, preferred first.
    emails: Vec<String>,
    /// Whether every candidate must be valid (a free line) or the first usable one is enough (an export).
    strict: bool,
}

impl Entry {
    fn rejected(&self, reason: Rejection) -> Rejected {
        Rejected {
            line: self.line,
            excerpt: excerpt(&self.raw),
            reason,
        }
    }
}

fn resolve(entry: &Entry, countries: &[String]) -> Result<Contact, Rejection> {
    let mut phone = None;
    let (mut malformed_phone, mut foreign_phone) = (false, false);
    for candidate in &entry.phones {
        match parse_phone(candidate) {
            None => malformed_phone = true,
            Some(number) if countries.iter().any(|c| number.is_in_country(c)) => {
                phone.get_or_insert(number);
            }
            Some(_) => foreign_phone = true,
        }
    }
    if phone.is_none() || entry.strict {
        if malformed_phone && (entry.strict || !foreign_phone) {
            return Err(Rejection::InvalidPhone);
        }
        if phone.is_none() && foreign_phone {
            return Err(Rejection::PhoneCountry);
        }
    }
    let mut email = None;
    let mut malformed_email = false;
    for candidate in &entry.emails {
        match EmailAddress::parse(candidate) {
            Ok(address) => {
                email.get_or_insert(address);
            }
            Err(_) => malformed_email = true,
        }
    }
    if malformed_email && (entry.strict || email.is_none()) {
        return Err(Rejection::InvalidEmail);
    }
    if phone.is_none() && email.is_none() {
        return Err(Rejection::NoPhoneOrEmail);
    }
    Ok(Contact {
        line: entry.line,
        first_name: entry.first_name.clone(),
        phone,
        email,
    })
}

/// A phone number as typed: 7 to 15 digits, read as a US number unless it starts with `+`.
fn parse_phone(candidate: &str) -> Option<PhoneNumber> {
    let digits = candidate.chars().filter(char::is_ascii_digit).count();
    if !(MIN_PHONE_DIGITS..=MAX_PHONE_DIGITS).contains(&digits) {
        return None;
    }
    PhoneNumber::parse(candidate).ok()
}

/// The contacts kept so far, indexed by phone and email to fold duplicates.
#[derive(Default)]
struct Book {
    parsed: Parsed,
    by_phone: HashMap<PhoneNumber, usize>,
    by_email: HashMap<EmailAddress, usize>,
}

impl Book {
    fn add(&mut self, contact: Contact) {
        let same_phone = contact.phone.as_ref().and_then(|p| self.by_phone.get(p));
        let same_email = contact.email.as_ref().and_then(|e| self.by_email.get(e));
        let earliest = match (same_phone, same_email) {
            (Some(a), Some(b)) => Some(*a.min(b)),
            (a, b) => a.or(b).copied(),
        };
        let index = match earliest {
            Some(index) => {
                self.parsed.merged += 1;
                let kept = &mut self.parsed.contacts[index];
                if kept.first_name.is_none() {
                    kept.first_name = contact.first_name;
                }
                index
            }
            None => {
                self.parsed.contacts.push(Contact {
                    phone: None,
                    email: None,
                    ..contact.clone()
                });
                self.parsed.contacts.len() - 1
            }
        };
        let kept = &mut self.parsed.contacts[index];
        if let Some(phone) = contact.phone
            && kept.phone.is_none()
            && !self.by_phone.contains_key(&phone)
        {
            self.by_phone.insert(phone.clone(), index);
            kept.phone = Some(phone);
        }
        if let Some(email) = contact.email
            && kept.email.is_none()
            && !self.by_email.contains_key(&email)
        {
            self.by_email.insert(email.clone(), index);
            kept.email = Some(email);
        }
    }
}

/// The line as typed, for the host: control and invisible formatting characters removed (line breaks
/// and tabs become spaces), trimmed, and cut to [`EXCERPT_CHARS`] with an ellipsis.
fn excerpt(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .filter_map(|c| match c {
            '\t' | '\n' | '\r' | '\u{2028}' | '\u{2029}' => Some(' '),
            '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => None,
            '\u{feff}' => None,
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.chars().count() <= EXCERPT_CHARS {
        return trimmed.to_owned();
    }
    let mut cut: String = trimmed.chars().take(EXCERPT_CHARS - 1).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

// --- names ---------------------------------------------------------------------------------------

/// Titles skipped before a first name (`Dr. Ana Diaz` → `Ana`). `Don` is left out: it is also a name.
const HONORIFICS: &[&str] = &[
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sr", "sra", "srta", "doña",
];

/// The first word of a name, if [`FirstName`] accepts it. `Diaz, Ana` (family name first) gives `Ana`.
/// Name suffixes that follow a comma ("Ana Diaz, Jr."), never a given name.
const SUFFIXES: [&str; 9] = ["jr", "sr", "ii", "iii", "iv", "phd", "md", "esq", "hijo"];

fn first_name_of(name: &str) -> Option<FirstName> {
    // "Diaz, Ana" is family name first; "Ana Diaz, Jr." only adds a suffix.
    let is_suffix = |part: &str| {
        let part = part.trim().trim_end_matches('.').to_lowercase();
        SUFFIXES.contains(&part.as_str())
    };
    let name = match name.split_once(',') {
        Some((given, suffix)) if is_suffix(suffix) => given,
        Some((_, given)) if given.chars().any(char::is_alphabetic) => given,
        Some((family, _)) => family,
        None => name,
    };
    let is_honorific = |word: &str| {
        let word = word.trim_end_matches('.').to_lowercase();
        HONORIFICS.contains(&word.as_str())
    };
    let word = name
        .split_whitespace()
        .map(|word| {
            word.trim_matches(|c: char| {
                matches!(
                    c,
                    '"' | '\''
                        | '“'
                        | '”'
                        | '('
                        | ')'
                        | '['
                        | ']'
                        | '<'
                        | '>'
                        | ':'
                        | ','
                        | ';'
                        | '*'
                )
            })
        })
        .find(|word| !word.is_empty() && !is_honorific(word))?;
    FirstName::parse(word).ok()
}

// --- lines ---------------------------------------------------------------------------------------

/// The text's lines, numbered from 1, without their `\r\n`, `\n` or (old Mac) `\r` ends.
fn physical_lines(text: &str) -> Vec<(usize, &str)> {
    let separator = if text.contains('\n') { '\n' } else { '\r' };
    text.split(separator)
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .enumerate()
        .map(|(index, line)| (index + 1, line))
        .collect()
}

fn is_skipped(line: &str) -> bool {
    let line = line.trim();
    line.is_empty() || line.starts_with('#')
}

// --- free lines ----------------------------------------------------------------------------------

fn line_entries(lines: &[(usize, &str)], limit: usize) -> Vec<Entry> {
    lines
        .iter()
        .filter(|(_, line)| !is_skipped(line))
        .take(limit)
        .map(|&(number, line)| free_line(number, line))
        .collect()
}

fn free_line(number: usize, line: &str) -> Entry {
    let (mut phones, mut emails, mut names) = (Vec::new(), Vec::new(), Vec::new());
    for token in free_tokens(line) {
        let rest = take_emails(&token, &mut emails);
        let rest = take_phones(&rest, &mut phones);
        let rest = rest.trim();
        if rest.chars().any(char::is_alphabetic) {
            names.push(rest.to_owned());
        }
    }
    Entry {
        line: number,
        raw: line.to_owned(),
        first_name: names.first().and_then(|name| first_name_of(name)),
        phones,
        emails,
        strict: true,
    }
}

/// Splits a free line on `,` `;` tab `|` and runs of 2+ spaces. A token that starts with a double
/// quote (straight or curly) runs to the closing quote, separators included (`"Diaz, Ana"`).
fn free_tokens(line: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut token = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    let mut flush = |token: &mut String| {
        let trimmed = token.trim();
        if !trimmed.is_empty() {
            tokens.push(trimmed.to_owned());
        }
        token.clear();
    };
    while let Some(c) = chars.next() {
        if quoted {
            if matches!(c, '"' | '”') {
                quoted = false;
            } else {
                token.push(c);
            }
        } else if matches!(c, '"' | '“') && token.trim().is_empty() {
            quoted = true;
            token.clear();
        } else if matches!(c, ',' | ';' | '\t' | '|') {
            flush(&mut token);
        } else if c == ' ' && chars.peek() == Some(&' ') {
            while chars.next_if_eq(&' ').is_some() {}
            flush(&mut token);
        } else {
            token.push(c);
        }
    }
    flush(&mut token);
    tokens
}

/// Moves every word with an `@` (`ana@x.org`, `<ana@x.org>`, `mailto:ana@x.org`) into `emails`, and
/// returns the other words.
fn take_emails(token: &str, emails: &mut Vec<String>) -> String {
    if !token.contains('@') {
        return token.to_owned();
    }
    let spaced = token.replace('<', " <").replace('>', "> ");
    let mut rest = Vec::new();
    for word in spaced.split_whitespace() {
        if word.contains('@') {
            emails.push(clean_email(word));
        } else {
            rest.push(word);
        }
    }
    rest.join(" ")
}

/// An address without the brackets, quotes or `mailto:` around it.
fn clean_email(text: &str) -> String {
    let text = text.trim();
    let text = match (text.find('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close && text[open..close].contains('@') => {
            &text[open + 1..close]
        }
        _ => text,
    };
    let text = text
        .trim_matches(|c: char| {
            matches!(
                c,
                '<' | '>' | '(' | ')' | '[' | ']' | '"' | '\'' | '“' | '”'
            )
        })
        .trim_end_matches(['.', ':']);
    let text = match text.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("mailto:") => &text[7..],
        _ => text,
    };
    text.trim().to_owned()
}

/// Moves every run of phone characters with 7 or more digits into `phones`, and returns the rest.
fn take_phones(text: &str, phones: &mut Vec<String>) -> String {
    let is_phone_char =
        |c: char| c.is_ascii_digit() || matches!(c, '+' | '(' | ')' | '-' | '.' | ' ' | '\u{a0}');
    let mut rest = String::with_capacity(text.len());
    let mut run = String::new();
    let mut end_run = |run: &mut String, rest: &mut String| {
        if run.chars().filter(char::is_ascii_digit).count() >= MIN_PHONE_DIGITS {
            let number = run
                .trim_start_matches(|c: char| !(c.is_ascii_digit() || c == '+' || c == '('))
                .trim_end_matches(|c: char| !(c.is_ascii_digit() || c == ')'));
            phones.push(number.to_owned());
            rest.push(' ');
        } else {
            rest.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if is_phone_char(c) {
            run.push(c);
        } else {
            end_run(&mut run, &mut rest);
            rest.push(c);
        }
    }
    end_run(&mut run, &mut rest);
    rest
}

// --- CSV with a header row -----------------------------------------------------------------------

/// Which columns of a CSV export hold what.
#[derive(Debug, Default)]
struct Columns {
    delimiter: char,
    /// Phone columns, mobile ones first.
    phones: Vec<PhoneColumn>,
    emails: Vec<usize>,
    first_names: Vec<usize>,
    full_names: Vec<usize>,
}

#[derive(Debug)]
struct PhoneColumn {
    value: usize,
    /// Google's `Phone N - Type` (or `- Label`) column for this value, whose cell may say `Mobile`.
    kind: Option<usize>,
    /// The header itself says mobile (`Mobile Phone`, `Celular`).
    mobile: bool,
}

/// The index (in `lines`) and columns of the header row, if the first line that is not blank or a
/// comment names a phone or an email column and holds no phone or email itself.
fn csv_header(lines: &[(usize, &str)]) -> Option<(usize, Columns)> {
    let index = lines.iter().position(|(_, line)| !is_skipped(line))?;
    let header = lines[index].1;
    if header.contains('@') {
        return None;
    }
    let delimiter = [',', ';', '\t']
        .into_iter()
        .rev()
        .max_by_key(|&d| header.matches(d).count())
        .unwrap_or(',');
    let (cells, _) = csv_fields(&[lines[index]], delimiter);
    if cells
        .iter()
        .any(|cell| cell.chars().filter(char::is_ascii_digit).count() >= MIN_PHONE_DIGITS)
    {
        return None;
    }
    let keys: Vec<String> = cells.iter().map(|cell| header_key(cell)).collect();
    let mut columns = Columns {
        delimiter,
        ..Columns::default()
    };
    for (i, key) in keys.iter().enumerate() {
        let bare: String = key.chars().filter(|c| !c.is_ascii_digit()).collect();
        if is_phone_header(&bare) {
            let kind = google_number(key, "phone", "value").and_then(|n| {
                keys.iter()
                    .position(|k| *k == format!("phone{n}type") || *k == format!("phone{n}label"))
            });
            let mobile = ["mobile", "cell", "movil", "celular"]
                .iter()
                .any(|word| bare.contains(word));
            columns.phones.push(PhoneColumn {
                value: i,
                kind,
                mobile,
            });
        } else if is_email_header(&bare) {
            columns.emails.push(i);
        } else if FIRST_NAME_HEADERS.contains(&bare.as_str()) {
            columns.first_names.push(i);
        } else if FULL_NAME_HEADERS.contains(&bare.as_str()) {
            columns.full_names.push(i);
        }
    }
    if columns.phones.is_empty() && columns.emails.is_empty() {
        return None;
    }
    columns.phones.sort_by_key(|column| !column.mobile);
    Some((index, columns))
}

const FIRST_NAME_HEADERS: &[&str] = &[
    "firstname",
    "givenname",
    "first",
    "given",
    "nombre",
    "nombres",
    "primernombre",
    "nombredepila",
];
const FULL_NAME_HEADERS: &[&str] = &[
    "name",
    "fullname",
    "displayname",
    "contact",
    "contactname",
    "nombrecompleto",
    "nombreyapellido",
    "nombreyapellidos",
    "contacto",
];

/// A header cell reduced to lower-case ASCII letters and digits, accents dropped: `Teléfono móvil` →
/// `telefonomovil`, `E-mail 1 - Value` → `email1value`.
fn header_key(cell: &str) -> String {
    cell.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'á' | 'à' | 'ä' | 'â' => 'a',
            'é' | 'è' | 'ë' | 'ê' => 'e',
            'í' | 'ì' | 'ï' | 'î' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' => 'o',
            'ú' | 'ù' | 'ü' | 'û' => 'u',
            'ñ' => 'n',
            c => c,
        })
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// `phone`, `Mobile Phone`, `Home Phone 2`, `Phone 1 - Value`, `Teléfono`, `Celular`, … but not
/// `Phone 1 - Type` nor `Phonetic First Name`. `bare` is the header key without digits.
fn is_phone_header(bare: &str) -> bool {
    const EXACT: &[&str] = &[
        "phone",
        "phones",
        "phonenumber",
        "phonevalue",
        "mobile",
        "mobilenumber",
        "cell",
        "cellular",
        "cellnumber",
        "tel",
        "telephone",
        "movil",
        "celular",
        "numerodetelefono",
        "numerodecelular",
        "whatsapp",
    ];
    EXACT.contains(&bare)
        || bare.ends_with("phone")
        || bare.ends_with("phonenumber")
        || bare.starts_with("telefono")
        || bare.starts_with("celular")
}

/// `email`, `e-mail`, `E-mail 1 - Value`, `E-mail Address`, `correo`, … but not `E-mail 1 - Type`
/// nor Outlook's `E-mail Display Name`. `bare` is the header key without digits.
fn is_email_header(bare: &str) -> bool {
    const EXACT: &[&str] = &[
        "email",
        "emails",
        "mail",
        "emailvalue",
        "emailaddress",
        "correo",
        "correos",
        "correoelectronico",
        "direcciondecorreo",
        "direcciondecorreoelectronico",
    ];
    EXACT.contains(&bare)
}

/// The `N` of a Google header key such as `phone2value`.
fn google_number<'a>(key: &'a str, prefix: &str, suffix: &str) -> Option<&'a str> {
    let n = key.strip_prefix(prefix)?.strip_suffix(suffix)?;
    (!n.is_empty() && n.chars().all(|c| c.is_ascii_digit())).then_some(n)
}

fn csv_entries(lines: &[(usize, &str)], columns: &Columns, limit: usize) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut rest = lines;
    while entries.len() < limit {
        let Some(start) = rest.iter().position(|(_, line)| !is_skipped(line)) else {
            break;
        };
        rest = &rest[start..];
        let (cells, used) = csv_fields(rest, columns.delimiter);
        let number = rest[0].0;
        let raw = rest[..used]
            .iter()
            .map(|(_, line)| *line)
            .collect::<Vec<_>>()
            .join("\n");
        rest = &rest[used..];
        if cells.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        entries.push(csv_row(number, raw, &cells, columns));
    }
    entries
}

fn csv_row(number: usize, raw: String, cells: &[String], columns: &Columns) -> Entry {
    let cell = |i: usize| cells.get(i).map_or("", |cell| cell.trim());
    let values = |i: usize| {
        cell(i)
            .split(GOOGLE_VALUE_SEPARATOR)
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let typed_mobile = |column: &PhoneColumn| {
        column.mobile
            || column.kind.is_some_and(|kind| {
                let kind = cell(kind).to_lowercase();
                ["mobile", "cell", "móvil", "movil", "celular", "iphone"]
                    .iter()
                    .any(|word| kind.contains(word))
            })
    };
    let mut phone_columns: Vec<&PhoneColumn> = columns.phones.iter().collect();
    phone_columns.sort_by_key(|column| !typed_mobile(column));
    let first_name = columns
        .first_names
        .iter()
        .chain(&columns.full_names)
        .map(|&i| cell(i))
        .find(|name| !name.is_empty())
        .and_then(first_name_of);
    Entry {
        line: number,
        raw,
        first_name,
        phones: phone_columns
            .iter()
            .flat_map(|column| values(column.value))
            .collect(),
        emails: columns
            .emails
            .iter()
            .flat_map(|&i| values(i))
            .map(|value| clean_email(&value))
            .collect(),
        strict: false,
    }
}

/// Reads one RFC 4180 record from the start of `lines`: its fields, and how many lines it used (a
/// quoted field may hold line breaks). A quote opens a quoted field only at the start of a field;
/// `""` inside one is a quote. A quoted field left open runs to the end of the text.
fn csv_fields(lines: &[(usize, &str)], delimiter: char) -> (Vec<String>, usize) {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut used = 0;
    for (_, line) in lines {
        used += 1;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if quoted {
                if c == '"' {
                    if chars.next_if_eq(&'"').is_some() {
                        field.push('"');
                    } else {
                        quoted = false;
                    }
                } else {
                    field.push(c);
                }
            } else if c == delimiter {
                fields.push(std::mem::take(&mut field));
            } else if c == '"' && field.trim().is_empty() {
                quoted = true;
                field.clear();
            } else {
                field.push(c);
            }
        }
        if !quoted {
            break;
        }
        field.push('\n');
    }
    fields.push(field);
    (fields, used.max(1))
}

// --- vCards --------------------------------------------------------------------------------------

fn is_vcard(lines: &[(usize, &str)]) -> bool {
    lines
        .iter()
        .any(|(_, line)| line.trim().eq_ignore_ascii_case("BEGIN:VCARD"))
}

/// One card being read.
#[derive(Default)]
struct Card {
    line: usize,
    full_name: Option<String>,
    given_name: Option<String>,
    /// (is a mobile, value), in the card's order.
    phones: Vec<(bool, String)>,
    emails: Vec<String>,
}

impl Card {
    fn into_entry(self) -> Entry {
        let first_name = self
            .given_name
            .as_deref()
            .and_then(first_name_of)
            .or_else(|| self.full_name.as_deref().and_then(first_name_of));
        let mut phones = self.phones;
        phones.sort_by_key(|(mobile, _)| !mobile);
        let name = self.full_name.or(self.given_name);
        let raw = name
            .into_iter()
            .chain(phones.iter().map(|(_, phone)| phone.clone()))
            .chain(self.emails.iter().cloned())
            .collect::<Vec<_>>()
            .join(", ");
        Entry {
            line: self.line,
            raw,
            first_name,
            phones: phones.into_iter().map(|(_, phone)| phone).collect(),
            emails: self.emails,
            strict: false,
        }
    }
}

fn vcard_entries(lines: &[(usize, &str)], limit: usize) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut card: Option<Card> = None;
    for (number, line) in unfold(lines) {
        if entries.len() >= limit {
            return entries;
        }
        let Some((head, value)) = split_property(&line) else {
            continue;
        };
        let (name, params) = head.split_once(';').unwrap_or((head, ""));
        let name = name.rsplit('.').next().unwrap_or(name).to_ascii_uppercase();
        let params = params.to_ascii_uppercase();
        if name == "BEGIN" && value.trim().eq_ignore_ascii_case("VCARD") {
            if let Some(open) = card.take() {
                entries.push(open.into_entry());
            }
            card = Some(Card {
                line: number,
                ..Card::default()
            });
            continue;
        }
        let Some(current) = card.as_mut() else {
            continue;
        };
        let value = decode(value, &params);
        match name.as_str() {
            "END" if value.trim().eq_ignore_ascii_case("VCARD") => {
                if let Some(done) = card.take() {
                    entries.push(done.into_entry());
                }
            }
            "FN" => {
                let full = unescape(&value);
                if !full.trim().is_empty() && current.full_name.is_none() {
                    current.full_name = Some(full.trim().to_owned());
                }
            }
            "N" => {
                let given = split_unescaped(&value, ';')
                    .get(1)
                    .map(|given| unescape(given).trim().to_owned());
                if let Some(given) = given.filter(|given| !given.is_empty())
                    && current.given_name.is_none()
                {
                    current.given_name = Some(given);
                }
            }
            "TEL" => {
                let phone = unescape(&value);
                let phone = phone.trim();
                let phone = match phone.get(..4) {
                    Some(scheme) if scheme.eq_ignore_ascii_case("tel:") => &phone[4..],
                    _ => phone,
                };
                if !phone.trim().is_empty() {
                    let mobile = ["CELL", "MOBILE", "IPHONE"]
                        .iter()
                        .any(|kind| params.contains(kind));
                    current.phones.push((mobile, phone.trim().to_owned()));
                }
            }
            "EMAIL" => {
                let email = clean_email(&unescape(&value));
                if !email.is_empty() {
                    current.emails.push(email);
                }
            }
            _ => {}
        }
    }
    if let Some(open) = card
        && entries.len() < limit
    {
        entries.push(open.into_entry());
    }
    entries
}

/// Joins folded lines (a line starting with a space or tab continues the previous one, RFC 6350
/// §3.2) and quoted-printable soft line breaks (a vCard 2.1 value ending with `=`). Each logical line
/// keeps the number of its first physical line.
fn unfold(lines: &[(usize, &str)]) -> Vec<(usize, String)> {
    let mut logical: Vec<(usize, String)> = Vec::new();
    for &(number, line) in lines {
        if let Some((_, last)) = logical.last_mut() {
            if line.starts_with([' ', '\t']) {
                last.push_str(&line[1..]);
                continue;
            }
            if last.ends_with('=') && is_quoted_printable(last) {
                last.pop();
                last.push_str(line);
                continue;
            }
        }
        logical.push((number, line.to_owned()));
    }
    logical
}

fn is_quoted_printable(line: &str) -> bool {
    split_property(line)
        .is_some_and(|(head, _)| head.to_ascii_uppercase().contains("QUOTED-PRINTABLE"))
}

/// `[group.]NAME[;params]:value` split at the first colon outside double quotes.
fn split_property(line: &str) -> Option<(&str, &str)> {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ':' if !quoted => return Some((&line[..i], &line[i + 1..])),
            _ => {}
        }
    }
    None
}

/// The value with vCard 2.1 quoted-printable decoded (as UTF-8), when its parameters say so.
fn decode(value: &str, params: &str) -> String {
    if !params.contains("QUOTED-PRINTABLE") {
        return value.to_owned();
    }
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits on `separator` where it is not escaped with a backslash.
fn split_unescaped(value: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == separator {
            parts.push(&value[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&value[start..]);
    parts
}

/// Undoes vCard escapes: `\,` `\;` `\\`, and `\n` as a space.
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push(' '),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us() -> Vec<String> {
        vec!["US".to_owned()]
    }

    fn read(text: &str) -> Parsed {
        parse(text, &us())
    }

    fn phone(contact: &Contact) -> Option<&str> {
        contact.phone.as_ref().map(PhoneNumber::as_e164)
    }

    fn email(contact: &Contact) -> Option<&str> {
        contact.email.as_ref().map(EmailAddress::as_str)
    }

    fn name(contact: &Contact) -> Option<&str> {
        contact.first_name.as_ref().map(FirstName::as_str)
    }

    /// The first name, phone (E.164) and email expected of a contact.
    type Expected<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>);

    fn only(text: &str) -> Contact {
        let parsed = read(text);
        assert!(
            parsed.rejected.is_empty(),
            "{text:?}: {:?}",
            parsed.rejected
        );
        assert_eq!(parsed.contacts.len(), 1, "{text:?}");
        parsed.contacts[0].clone()
    }

    fn reason(text: &str) -> Rejection {
        let parsed = read(text);
        assert!(parsed.contacts.is_empty(), "{text:?}");
        assert_eq!(parsed.rejected.len(), 1, "{text:?}");
        parsed.rejected[0].reason
    }

    // --- free lines ---

    #[test]
    fn a_line_with_name_phone_and_email_gives_all_three() {
        let c = only("Ana Diaz, 202-555-0143, ana@example.org");
        assert_eq!(c.line, 1);
        assert_eq!(name(&c), Some("Ana"));
        assert_eq!(phone(&c), Some("+12025550143"));
        assert_eq!(email(&c), Some("ana@example.org"));
    }

    #[test]
    fn the_layouts_hosts_type_are_all_understood() {
        let (ana, luis) = (Some("ana@example.org"), Some("luis@example.org"));
        let cases: [(&str, Expected); 9] = [
            ("ana@example.org", (None, None, ana)),
            (
                "(202) 555-0143 Luis",
                (Some("Luis"), Some("+12025550143"), None),
            ),
            ("Luis Ortega <luis@example.org>", (Some("Luis"), None, luis)),
            (
                "Maria\t+1 202 555 0199",
                (Some("Maria"), Some("+12025550199"), None),
            ),
            (
                "\"Diaz, Ana\",2025550143",
                (Some("Ana"), Some("+12025550143"), None),
            ),
            (
                "Jo;jo@example.org;",
                (Some("Jo"), None, Some("jo@example.org")),
            ),
            (
                "Rosa Lopez  202.555.0150  rosa@example.org",
                (Some("Rosa"), Some("+12025550150"), Some("rosa@example.org")),
            ),
            (
                "Pedro | 1-202-555-0161 | mailto:Pedro@Example.org",
                (
                    Some("Pedro"),
                    Some("+12025550161"),
                    Some("pedro@example.org"),
                ),
            ),
            (
                "Dr. Carmen Ruiz 2025550172 carmen@example.org",
                (
                    Some("Carmen"),
                    Some("+12025550172"),
                    Some("carmen@example.org"),
                ),
            ),
        ];
        for (text, expected) in cases {
            let c = only(text);
            assert_eq!((name(&c), phone(&c), email(&c)), expected, "{text:?}");
        }
    }

    #[test]
    fn a_name_first_name_refuses_is_dropped_but_the_contact_is_kept() {
        let c = only("★Star★ 202-555-0143");
        assert_eq!(name(&c), None);
        assert_eq!(phone(&c), Some("+12025550143"));
    }

    #[test]
    fn blank_lines_comments_crlf_and_a_bom_are_handled() {
        let parsed = read(
            "\u{feff}# my friends\r\n\r\nAna, 202-555-0143\r\n   \r\n  # not me\r\nLuis, luis@example.org\r\n",
        );
        assert!(parsed.rejected.is_empty());
        let lines: Vec<usize> = parsed.contacts.iter().map(|c| c.line).collect();
        assert_eq!(lines, [3, 6]);
        assert_eq!(name(&parsed.contacts[0]), Some("Ana"));
    }

    #[test]
    fn old_mac_line_ends_are_handled() {
        let parsed = read("Ana, 202-555-0143\rLuis, luis@example.org\r");
        assert_eq!(parsed.contacts.len(), 2);
        assert_eq!(parsed.contacts[1].line, 2);
    }

    #[test]
    fn a_line_with_an_unparsable_phone_is_rejected_with_the_reason() {
        let parsed = read("Ana, 555-0143, ana@example.org");
        assert!(parsed.contacts.is_empty());
        assert_eq!(
            parsed.rejected,
            [Rejected {
                line: 1,
                excerpt: "Ana, 555-0143, ana@example.org".into(),
                reason: Rejection::InvalidPhone,
            }]
        );
        assert_eq!(reason("Ana 202-555-0143-99999999"), Rejection::InvalidPhone);
        assert_eq!(reason("Ana 12345678"), Rejection::InvalidPhone);
    }

    #[test]
    fn a_good_phone_does_not_excuse_a_bad_one_on_the_same_line() {
        assert_eq!(
            reason("Ana, 202-555-0143, 555-0143"),
            Rejection::InvalidPhone
        );
    }

    #[test]
    fn a_line_with_a_bad_email_is_rejected_even_with_a_good_phone() {
        assert_eq!(
            reason("Ana, 202-555-0143, ana@example"),
            Rejection::InvalidEmail
        );
        assert_eq!(reason("ana@@example.org"), Rejection::InvalidEmail);
        assert_eq!(
            reason("Ana <ana at example.org>"),
            Rejection::NoPhoneOrEmail
        );
    }

    #[test]
    fn a_line_without_phone_or_email_is_rejected() {
        assert_eq!(reason("Ana Diaz"), Rejection::NoPhoneOrEmail);
        assert_eq!(reason("Ana 555-014"), Rejection::NoPhoneOrEmail);
    }

    #[test]
    fn a_phone_outside_the_program_countries_is_rejected() {
        assert_eq!(reason("Lupe, +52 55 1234 5678"), Rejection::PhoneCountry);
        assert_eq!(
            reason("Lupe, +52 55 1234 5678, lupe@example.org"),
            Rejection::PhoneCountry
        );
        let mexico = parse("Lupe, +52 55 1234 5678", &["US".into(), "MX".into()]);
        assert_eq!(phone(&mexico.contacts[0]), Some("+525512345678"));
        let nowhere = parse("Lupe, 202-555-0143", &[]);
        assert_eq!(nowhere.rejected[0].reason, Rejection::PhoneCountry);
    }

    #[test]
    fn a_foreign_phone_next_to_a_local_one_is_skipped() {
        let c = only("Lupe, +52 55 1234 5678, 202-555-0143");
        assert_eq!(phone(&c), Some("+12025550143"));
    }

    #[test]
    fn excerpts_are_trimmed_cleaned_and_cut() {
        let long = format!("  Ana\u{7}\u{202e} {}  ", "x".repeat(200));
        let parsed = read(&long);
        let excerpt = &parsed.rejected[0].excerpt;
        assert!(excerpt.starts_with("Ana x"), "{excerpt}");
        assert_eq!(excerpt.chars().count(), EXCERPT_CHARS);
        assert!(excerpt.ends_with('…'));
        assert!(!excerpt.chars().any(char::is_control));
        assert_eq!(
            read("\tAna,\t555-0143\t").rejected[0].excerpt,
            "Ana, 555-0143"
        );
    }

    // --- duplicates ---

    #[test]
    fn duplicates_by_phone_or_email_are_merged_into_the_first() {
        let parsed = read(
            "Ana, 202-555-0143\n\
             ana@example.org, (202) 555-0143\n\
             Luis, luis@example.org\n\
             Luis Ortega, LUIS@example.org, 202 555 0199\n\
             +1 202 555 0143",
        );
        assert!(parsed.rejected.is_empty());
        assert_eq!(parsed.merged, 3);
        assert_eq!(parsed.contacts.len(), 2);
        let (ana, luis) = (&parsed.contacts[0], &parsed.contacts[1]);
        assert_eq!(ana.line, 1);
        assert_eq!(
            (name(ana), phone(ana), email(ana)),
            (Some("Ana"), Some("+12025550143"), Some("ana@example.org"))
        );
        assert_eq!(luis.line, 3);
        assert_eq!(
            (name(luis), phone(luis), email(luis)),
            (Some("Luis"), Some("+12025550199"), Some("luis@example.org"))
        );
    }

    #[test]
    fn a_merge_fills_a_missing_name_but_keeps_the_first_one() {
        let parsed = read("ana@example.org\nAna, ana@example.org\nAnita, ana@example.org");
        assert_eq!(parsed.merged, 2);
        assert_eq!(name(&parsed.contacts[0]), Some("Ana"));
    }

    #[test]
    fn a_contact_matching_two_earlier_ones_joins_the_earliest_without_stealing() {
        let parsed = read(
            "Ana, ana@example.org\n\
             Luis, 202-555-0199\n\
             Ana, ana@example.org, 202-555-0199",
        );
        assert_eq!(parsed.merged, 1);
        assert_eq!(parsed.contacts.len(), 2);
        assert_eq!(phone(&parsed.contacts[0]), None);
        assert_eq!(phone(&parsed.contacts[1]), Some("+12025550199"));
    }

    // --- too many ---

    #[test]
    fn more_than_the_maximum_stops_reading_with_one_too_many() {
        let mut text = String::from("# header comment\n");
        for i in 0..MAX_CONTACTS + 20 {
            text.push_str(&format!("Friend{i}, friend{i}@example.org\n"));
        }
        let parsed = read(&text);
        assert_eq!(parsed.contacts.len(), MAX_CONTACTS);
        assert_eq!(parsed.rejected.len(), 1);
        let too_many = &parsed.rejected[0];
        assert_eq!(too_many.reason, Rejection::TooMany);
        assert_eq!(too_many.line, MAX_CONTACTS + 2);
        assert_eq!(too_many.excerpt, "Friend500, friend500@example.org");
    }

    #[test]
    fn rejected_and_duplicate_lines_count_toward_the_maximum() {
        let mut text = String::from("Ana, ana@example.org\n");
        for _ in 0..MAX_CONTACTS {
            text.push_str("Ana, ana@example.org\nno contact here\n");
        }
        let parsed = read(&text);
        assert_eq!(parsed.contacts.len(), 1);
        assert_eq!(parsed.merged, MAX_CONTACTS / 2);
        assert_eq!(parsed.rejected.len(), MAX_CONTACTS / 2);
        assert_eq!(parsed.rejected.last().unwrap().reason, Rejection::TooMany);
    }

    #[test]
    fn exactly_the_maximum_is_not_too_many() {
        let text: String = (0..MAX_CONTACTS)
            .map(|i| format!("f{i}@example.org\n"))
            .collect();
        let parsed = read(&text);
        assert_eq!(parsed.contacts.len(), MAX_CONTACTS);
        assert!(parsed.rejected.is_empty());
    }

    // --- reasons ---

    const ALL_REASONS: [Rejection; 5] = [
        Rejection::NoPhoneOrEmail,
        Rejection::InvalidPhone,
        Rejection::PhoneCountry,
        Rejection::InvalidEmail,
        Rejection::TooMany,
    ];

    #[test]
    fn every_reason_reads_as_a_sentence_in_both_languages() {
        for reason in ALL_REASONS {
            for language in [Language::En, Language::Es] {
                let text = reason.text(language);
                assert!(
                    text.ends_with('.') && text.starts_with(char::is_uppercase),
                    "{text}"
                );
            }
            assert_ne!(reason.text(Language::En), reason.text(Language::Es));
        }
    }

    #[test]
    fn spanish_reasons_are_given_in_spanish() {
        assert_eq!(
            Rejection::InvalidPhone.text(Language::Es),
            "Este número de teléfono no es válido. Revisa los dígitos e incluye el código de área."
        );
        assert!(
            Rejection::NoPhoneOrEmail
                .text(Language::Es)
                .contains("correo electrónico")
        );
        assert!(Rejection::PhoneCountry.text(Language::Es).contains("país"));
    }

    #[test]
    fn the_too_many_reason_names_the_maximum() {
        let max = MAX_CONTACTS.to_string();
        assert!(Rejection::TooMany.text(Language::En).contains(&max));
        assert!(Rejection::TooMany.text(Language::Es).contains(&max));
    }

    #[test]
    fn debug_output_never_shows_contact_details() {
        let parsed = read("Ana Diaz, 202-555-0143, ana@example.org");
        let shown = format!("{parsed:?}");
        assert!(!shown.contains("Ana") && !shown.contains("555") && !shown.contains("ana@"));
    }

    // --- CSV ---

    /// The first rows of a Google Contacts export (contacts.google.com → Export → Google CSV).
    const GOOGLE_CSV: &str = "First Name,Middle Name,Last Name,Phonetic First Name,Phonetic Middle Name,Phonetic Last Name,Name Prefix,Name Suffix,Nickname,File As,Organization Name,Organization Title,Organization Department,Birthday,Notes,Photo,Labels,E-mail 1 - Label,E-mail 1 - Value,E-mail 2 - Label,E-mail 2 - Value,Phone 1 - Label,Phone 1 - Value,Phone 2 - Label,Phone 2 - Value\r\n\
Ana,María,Díaz,,,,,,,,,,,,,,* myContacts,* Home,ana.diaz@example.org,,,Home,(202) 555-0100,Mobile,+1 202-555-0143\r\n\
Luis,,Ortega,,,,,,Lucho,,Taller Ortega,,,1990-04-02,\"Met at the park cleanup,\r\nlikes soccer\",,* myContacts ::: Vecinos,* Work,luis@example.org ::: luis.ortega@example.org,,,Mobile,202-555-0199 ::: 202-555-0188,,\r\n\
,,,,,,,,,,Pizzería Sol,,,,,,* myContacts,,,,,Work,202-555-0177,,\r\n\
Jo,,Kim,,,,,,,,,,,,,,* myContacts,* Home,jo@example,,,,,,\r\n";

    #[test]
    fn a_google_contacts_export_is_read_by_its_columns() {
        let parsed = read(GOOGLE_CSV);
        assert_eq!(parsed.contacts.len(), 3, "{:?}", parsed.rejected);
        let ana = &parsed.contacts[0];
        assert_eq!(ana.line, 2);
        assert_eq!(
            (name(ana), phone(ana), email(ana)),
            (
                Some("Ana"),
                Some("+12025550143"),
                Some("ana.diaz@example.org")
            ),
            "the mobile number is preferred to the home one"
        );
        let luis = &parsed.contacts[1];
        assert_eq!(luis.line, 3);
        assert_eq!(
            (name(luis), phone(luis), email(luis)),
            (Some("Luis"), Some("+12025550199"), Some("luis@example.org")),
            "the first of several ::: values is used"
        );
        let shop = &parsed.contacts[2];
        assert_eq!(
            shop.line, 5,
            "the quoted line break in the notes kept the count"
        );
        assert_eq!((name(shop), phone(shop)), (None, Some("+12025550177")));
        assert_eq!(parsed.rejected.len(), 1);
        assert_eq!(parsed.rejected[0].line, 6);
        assert_eq!(parsed.rejected[0].reason, Rejection::InvalidEmail);
        assert!(parsed.rejected[0].excerpt.starts_with("Jo,,Kim,"));
    }

    #[test]
    fn an_older_google_export_with_given_name_and_types_is_read() {
        let csv = "Name,Given Name,Additional Name,Family Name,Yomi Name,Given Name Yomi,Additional Name Yomi,Family Name Yomi,Name Prefix,Name Suffix,Initials,Nickname,Short Name,Maiden Name,Birthday,Gender,Location,Billing Information,Directory Server,Mileage,Occupation,Hobby,Sensitivity,Priority,Subject,Notes,Language,Photo,Group Membership,E-mail 1 - Type,E-mail 1 - Value,Phone 1 - Type,Phone 1 - Value,Phone 2 - Type,Phone 2 - Value\n\
Rosa Lopez,Rosa,,Lopez,,,,,,,,,,,,,,,,,,,,,,,,,* My Contacts,* Other,rosa@example.org,Home,555-0100,Mobile,202 555 0150\n\
Marco Polo,,,,,,,,,,,,,,,,,,,,,,,,,,,,* My Contacts,,,Mobile,+1 (202) 555-0160,,\n";
        let parsed = read(csv);
        assert!(parsed.rejected.is_empty(), "{:?}", parsed.rejected);
        let rosa = &parsed.contacts[0];
        assert_eq!(
            (name(rosa), phone(rosa), email(rosa)),
            (Some("Rosa"), Some("+12025550150"), Some("rosa@example.org")),
            "a bad home number is ignored when the mobile one is good"
        );
        let marco = &parsed.contacts[1];
        assert_eq!(
            (name(marco), phone(marco)),
            (Some("Marco"), Some("+12025550160"))
        );
    }

    #[test]
    fn an_export_row_whose_only_phone_is_bad_is_rejected_even_with_an_email() {
        let parsed = read("Name,Phone,Email\nAna,555-0100,ana@example.org\n");
        assert_eq!(parsed.rejected[0].reason, Rejection::InvalidPhone);
        assert_eq!(parsed.rejected[0].line, 2);
    }

    #[test]
    fn a_spreadsheet_csv_with_spanish_headers_and_semicolons_is_read() {
        let csv = "Nombre;Apellido;Teléfono;Correo electrónico\n\
                   \"Ana; la del 3B\";Díaz;202 555 0143;\n\
                   José Luis;Pérez;;JOSE@example.org\n\
                   ;;;\n\
                   Sin datos;;;\n";
        let parsed = read(csv);
        assert_eq!(parsed.contacts.len(), 2);
        assert_eq!(name(&parsed.contacts[0]), Some("Ana"));
        assert_eq!(phone(&parsed.contacts[0]), Some("+12025550143"));
        assert_eq!(name(&parsed.contacts[1]), Some("José"));
        assert_eq!(email(&parsed.contacts[1]), Some("jose@example.org"));
        assert_eq!(
            parsed.rejected,
            [Rejected {
                line: 5,
                excerpt: "Sin datos;;;".into(),
                reason: Rejection::NoPhoneOrEmail,
            }]
        );
    }

    #[test]
    fn a_tab_separated_export_with_a_full_name_column_is_read() {
        let tsv = "Full Name\tMobile Phone\tE-mail Address\tE-mail Display Name\n\
                   Ana Diaz\t(202) 555-0143\tana@example.org\tAna Diaz (ana@example.org)\n";
        let c = only(tsv);
        assert_eq!(
            (name(&c), phone(&c), email(&c), c.line),
            (
                Some("Ana"),
                Some("+12025550143"),
                Some("ana@example.org"),
                2
            )
        );
    }

    #[test]
    fn a_first_line_with_contact_details_is_not_a_header() {
        let parsed = read("email, ana@example.org\nphone, 202-555-0199\n");
        assert_eq!(parsed.contacts.len(), 2);
        assert_eq!(parsed.contacts[0].line, 1);
        assert_eq!(name(&parsed.contacts[1]), Some("phone"));
    }

    #[test]
    fn a_header_without_phone_or_email_columns_is_read_as_free_lines() {
        let parsed = read("Name, Notes\nAna, 202-555-0143\n");
        assert_eq!(parsed.contacts.len(), 1);
        assert_eq!(parsed.rejected[0].reason, Rejection::NoPhoneOrEmail);
        assert_eq!(parsed.rejected[0].line, 1);
    }

    #[test]
    fn an_unclosed_quote_runs_to_the_end_of_the_text() {
        let parsed = read("name,phone\n\"Ana,2025550143\nLuis,2025550199\n");
        assert_eq!(parsed.contacts.len(), 0);
        assert_eq!(parsed.rejected.len(), 1);
        assert_eq!(parsed.rejected[0].line, 2);
    }

    // --- vCards ---

    /// Two cards as an iPhone exports them (Contacts → Share / iCloud → Export vCard), vCard 3.0.
    const IPHONE_VCF: &str = "BEGIN:VCARD\r\n\
VERSION:3.0\r\n\
PRODID:-//Apple Inc.//iPhone OS 17.4//EN\r\n\
N:Díaz;Ana;María;;\r\n\
FN:Ana María Díaz\r\n\
ORG:Vecinos Unidos;\r\n\
EMAIL;type=INTERNET;type=HOME;type=pref:ana@example.org\r\n\
TEL;type=HOME;type=VOICE;type=pref:(202) 555-0100\r\n\
item1.TEL;type=CELL:+1 (202) 555-0143\r\n\
item1.X-ABLabel:_$!<Mobile>!$_\r\n\
NOTE:Met at the food bank\\, Tuesdays\r\n\
PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAASABIAAD/4QBMRXhpZgAATU0AKgAAAAgAAYdpAAQAAAABAAAA\r\n \
GgAAAAAAA6ABAAMAAAABAAEAAKACAAQAAAABAAAAQKADAAQAAAABAAAAQAAAAAD/7QA4UGhvdG9zaG9w\r\n\
END:VCARD\r\n\
BEGIN:VCARD\r\n\
VERSION:3.0\r\n\
N:Ortega;Luis;;;\r\n\
FN:Luis Ortega\r\n\
EMAIL;type=INTERNET;type=WORK:luis.ortega@exam\r\n ple.org\r\n\
END:VCARD\r\n";

    #[test]
    fn an_iphone_vcard_export_gives_one_contact_per_card() {
        let parsed = read(IPHONE_VCF);
        assert!(parsed.rejected.is_empty(), "{:?}", parsed.rejected);
        assert_eq!(parsed.contacts.len(), 2);
        let ana = &parsed.contacts[0];
        assert_eq!(ana.line, 1);
        assert_eq!(
            (name(ana), phone(ana), email(ana)),
            (Some("Ana"), Some("+12025550143"), Some("ana@example.org")),
            "the cell number is preferred to the home one"
        );
        let luis = &parsed.contacts[1];
        assert_eq!(luis.line, 15);
        assert_eq!(
            (name(luis), phone(luis), email(luis)),
            (Some("Luis"), None, Some("luis.ortega@example.org")),
            "a folded line is unfolded"
        );
    }

    #[test]
    fn an_android_vcard_with_quoted_printable_names_is_decoded() {
        let vcf = "BEGIN:VCARD\n\
VERSION:2.1\n\
N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=50=C3=A9rez;=C3=81ngel;;;\n\
FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=C3=81ngel=20=50=C3=A9rez=20=\n\
=47=C3=B3mez\n\
TEL;CELL:202-555-0111\n\
TEL;HOME:202-555-0122\n\
END:VCARD\n\
BEGIN:VCARD\n\
VERSION:2.1\n\
FN:Solo Nombre\n\
END:VCARD\n\
BEGIN:VCARD\n\
VERSION:2.1\n\
FN:Lupe\n\
TEL;CELL:+52 55 1234 5678\n\
END:VCARD\n";
        let parsed = read(vcf);
        assert_eq!(parsed.contacts.len(), 1);
        let angel = &parsed.contacts[0];
        assert_eq!(name(angel), Some("Ángel"));
        assert_eq!(phone(angel), Some("+12025550111"));
        let reasons: Vec<(usize, Rejection, &str)> = parsed
            .rejected
            .iter()
            .map(|r| (r.line, r.reason, r.excerpt.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                (9, Rejection::NoPhoneOrEmail, "Solo Nombre"),
                (13, Rejection::PhoneCountry, "Lupe, +52 55 1234 5678"),
            ]
        );
    }

    #[test]
    fn a_card_without_n_uses_the_first_word_of_fn_and_a_card_left_open_is_kept() {
        let vcf = "junk before\nBEGIN:VCARD\nVERSION:4.0\nFN:Carmen Ruiz\n\
                   TEL;VALUE=uri;TYPE=\"voice,cell\":tel:+1-202-555-0172\n";
        let c = only(vcf);
        assert_eq!(
            (c.line, name(&c), phone(&c)),
            (2, Some("Carmen"), Some("+12025550172"))
        );
    }

    #[test]
    fn vcards_with_the_same_phone_are_merged() {
        let vcf = "BEGIN:VCARD\nFN:Ana\nTEL:2025550143\nEND:VCARD\n\
                   BEGIN:VCARD\nFN:Ana D\nTEL:+12025550143\nEMAIL:ana@example.org\nEND:VCARD\n";
        let parsed = read(vcf);
        assert_eq!(parsed.merged, 1);
        assert_eq!(email(&parsed.contacts[0]), Some("ana@example.org"));
    }

    // --- any text ---

    fn fragment() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            prop::sample::select(vec![
                "BEGIN:VCARD",
                "END:VCARD",
                "item1.TEL;type=CELL:",
                "N:",
                "FN;ENCODING=QUOTED-PRINTABLE:=C3=81",
                "=",
                "EMAIL:",
                "Phone 1 - Value",
                "E-mail 1 - Value",
                "Teléfono",
                "name",
                ":::",
                "202-555-0143",
                "+52 55 1234 5678",
                "ana@example.org",
                "<",
                ">",
                "mailto:",
                "tel:",
                "\"",
                "“",
                ",",
                ";",
                "|",
                "\t",
                "  ",
                " ",
                "\n",
                "\r\n",
                "\r",
                "#",
                "\u{feff}",
                "\\",
                "Ana",
                "é",
            ])
            .prop_map(str::to_owned),
            any::<char>().prop_map(String::from),
        ]
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_read_without_panicking_and_with_clean_excerpts(
            parts in proptest::collection::vec(fragment(), 0..120)
        ) {
            let text: String = parts.concat();
            let parsed = read(&text);
            let line_count = text.split(['\n', '\r']).count().max(1);
            proptest::prop_assert!(
                parsed.contacts.len() + parsed.rejected.len() + parsed.merged <= MAX_CONTACTS + 1
            );
            for rejected in &parsed.rejected {
                proptest::prop_assert!(rejected.excerpt.chars().count() <= EXCERPT_CHARS);
                proptest::prop_assert!(!rejected.excerpt.chars().any(char::is_control));
                proptest::prop_assert!((1..=line_count).contains(&rejected.line));
            }
            for contact in &parsed.contacts {
                proptest::prop_assert!(contact.phone.is_some() || contact.email.is_some());
                proptest::prop_assert!((1..=line_count).contains(&contact.line));
            }
        }
    }

    // --- a host's paste ---

    #[test]
    fn a_hosts_mixed_paste_of_fifty_lines_gives_exact_counts() {
        let paste = "\
# Friends from the block party
Ana Diaz, 202-555-0143, ana@example.org
Luis Ortega <luis@example.org>
(202) 555-0101 Marta
Maria\t+1 202 555 0199
\"Diaz, Pedro\",2025550102

Jo;jo@example.org;
Carmen Ruiz  202.555.0103  carmen@example.org
Rosa | rosa@example.org | 202-555-0104
Tomás, 202 555 0105
Elena Vega, elena.vega@example.org

beto@example.org
Sofía, (202) 555-0106
Ana, ana@example.org
Marcos, 555-0107
Irene, irene@example
Lupe, +52 55 1234 5678
Quique
Nico, 202-555-0108, nico@example.org
Valeria, valeria@example.org
Dani, 202-555-0109
Luis O., 202-555-0110, LUIS@example.org
Raúl, 202-555-0111
Gabi, gabi@example.org

Chucho, 202-555-0112
Fer, fer@example.org, 202-555-0113
Toño, (202) 555-0114
Paty, paty@example.org
Memo, 202-555-0115
Lili, lili@example.org
# coworkers
Sam Lee, 202-555-0116
Pat Kim, pat@example.org
Alex, 202-555-0117, alex@example.org
Chris, 202555011
Jordan, jordan@example.org
Taylor, 202-555-0118
Morgan, morgan@example.org
Casey, 202-555-0119

Robin, robin@example.org
Jamie, 202-555-0120
Drew, drew@example.org
Sky, 202-555-0121, sky@example.org
Dani Ruiz, 2025550109
Quinn, quinn@example.org
Avery, 202-555-0122
";
        assert_eq!(paste.lines().count(), 50);
        let parsed = read(paste);
        let reasons: Vec<(usize, Rejection)> =
            parsed.rejected.iter().map(|r| (r.line, r.reason)).collect();
        assert_eq!(
            reasons,
            [
                (17, Rejection::InvalidPhone),
                (18, Rejection::InvalidEmail),
                (19, Rejection::PhoneCountry),
                (20, Rejection::NoPhoneOrEmail),
                (38, Rejection::InvalidPhone),
            ]
        );
        // 50 lines - 4 blank - 2 comments = 44 entries; 44 - 5 rejected - 3 merged = 36.
        assert_eq!(parsed.merged, 3);
        assert_eq!(parsed.contacts.len(), 36);
        let ana = &parsed.contacts[0];
        assert_eq!(
            (name(ana), phone(ana), email(ana)),
            (Some("Ana"), Some("+12025550143"), Some("ana@example.org"))
        );
        let luis = &parsed.contacts[1];
        assert_eq!(
            (luis.line, phone(luis), email(luis)),
            (3, Some("+12025550110"), Some("luis@example.org")),
            "Luis's number on line 24 was added to his line 3"
        );
        let dani = parsed
            .contacts
            .iter()
            .find(|c| name(c) == Some("Dani"))
            .unwrap();
        assert_eq!(dani.line, 23);
        assert_eq!(
            parsed
                .contacts
                .iter()
                .filter(|c| c.first_name.is_none())
                .count(),
            1,
            "only beto@example.org has no name"
        );
    }

    #[test]
    fn a_suffix_after_a_comma_is_not_taken_for_a_given_name() {
        let parsed = parse(
            "\"Maria Diaz, Jr.\",2025550143\n\"Diaz, Ana\",2025550144",
            &["US".into()],
        );
        let names: Vec<_> = parsed
            .contacts
            .iter()
            .map(|c| c.first_name.as_ref().map(|n| n.as_str().to_owned()))
            .collect();
        assert_eq!(names, vec![Some("Maria".into()), Some("Ana".into())]);
    }
}

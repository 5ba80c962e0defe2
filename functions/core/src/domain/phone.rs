//! A mobile phone number in E.164 form, parsed with the `phonenumber` crate (Google's libphonenumber data).

use std::fmt;

/// Why a text is not a usable phone number. The message is written for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneNumberError {
    #[error("Please enter a phone number.")]
    Empty,
    #[error("That doesn't look like a phone number. Please include the area code.")]
    Unparseable,
    #[error("That phone number isn't valid. Please check the digits.")]
    Invalid,
}

/// A valid phone number, stored and compared in E.164 (`+15551234567`).
///
/// `Debug` never prints the number: logs must not carry contact details.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses a number as a person would type it. Numbers without a country code are read as US numbers
    /// (the campaign's home country); numbers with `+` keep their own country.
    pub fn parse(input: &str) -> Result<Self, PhoneNumberError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PhoneNumberError::Empty);
        }
        if trimmed.chars().any(|c| c.is_control()) {
            return Err(PhoneNumberError::Unparseable);
        }
        let parsed = phonenumber::parse(Some(phonenumber::country::Id::US), trimmed)
            .map_err(|_| PhoneNumberError::Unparseable)?;
        if !phonenumber::is_valid(&parsed) {
            return Err(PhoneNumberError::Invalid);
        }
        Ok(Self(
            parsed.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    /// Reads a number a machine wrote in E.164: Twilio's webhook fields (`From`, `To`), which Twilio
    /// always gives in E.164, and numbers rising stored after [`PhoneNumber::parse`]. Only the form is
    /// checked (`+`, a non-zero digit, 7 to 15 digits in all), not the numbering plans: a number
    /// Twilio texted with or delivered to exists. The functions that read only such numbers
    /// (`sms-inbound`, `sms-status`, `send-worker`) then carry no phone metadata and no regex engine,
    /// which libphonenumber's plans are written in (0.42 MB of each arm64 zip).
    ///
    /// A number in this form reads as the same `PhoneNumber` as through `parse`, so both hash to the
    /// same contact key.
    pub fn from_e164(text: &str) -> Result<Self, PhoneNumberError> {
        let digits = match text.strip_prefix('+') {
            None if text.trim().is_empty() => return Err(PhoneNumberError::Empty),
            None => return Err(PhoneNumberError::Unparseable),
            Some(digits) => digits,
        };
        let well_formed = (7..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if !well_formed {
            return Err(PhoneNumberError::Unparseable);
        }
        Ok(Self(text.to_owned()))
    }

    /// The E.164 form, e.g. `+15551234567`.
    pub fn as_e164(&self) -> &str {
        &self.0
    }

    /// Whether the number belongs to the country with this ISO 3166 alpha-2 code (`US`, `PR`, …),
    /// by libphonenumber's numbering plans.
    pub fn is_in_country(&self, iso_code: &str) -> bool {
        phonenumber::parse(None, &self.0)
            .ok()
            .and_then(|parsed| parsed.country().id())
            .is_some_and(|id| id.as_ref().eq_ignore_ascii_case(iso_code.trim()))
    }
}

/// Whether `iso_code` (`PR`) names a country on the +1 plan (the North American Numbering Plan):
/// the numbers whose local time quiet hours can place by area code.
pub fn on_plus_one_plan(iso_code: &str) -> bool {
    iso_code.len() == 2
        && iso_code.bytes().all(|b| b.is_ascii_uppercase())
        && phonenumber::metadata::DATABASE
            .by_id(iso_code)
            .is_some_and(|m| m.country_code() == 1)
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PhoneNumber(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_plus_one_plan_holds_the_us_its_territories_and_canada_but_not_mexico() {
        for code in ["US", "PR", "VI", "GU", "MP", "AS", "CA"] {
            assert!(super::on_plus_one_plan(code), "{code}");
        }
        for code in ["MX", "GB", "us", "USA", "", "ZZ"] {
            assert!(!super::on_plus_one_plan(code), "{code}");
        }
    }

    use super::*;

    #[test]
    fn a_us_number_typed_with_punctuation_becomes_e164() {
        let phone = PhoneNumber::parse(" (202) 555-0143 ").unwrap();
        assert_eq!(phone.as_e164(), "+12025550143");
    }

    #[test]
    fn an_e164_number_from_another_country_keeps_its_country() {
        let phone = PhoneNumber::parse("+52 55 1234 5678").unwrap();
        assert_eq!(phone.as_e164(), "+525512345678");
    }

    #[test]
    fn a_number_knows_its_country() {
        let us = PhoneNumber::parse("(202) 555-0143").unwrap();
        assert!(us.is_in_country("US") && us.is_in_country("us"));
        assert!(!us.is_in_country("MX"));
        assert!(
            PhoneNumber::parse("+52 55 1234 5678")
                .unwrap()
                .is_in_country("MX")
        );
    }

    #[test]
    fn an_e164_number_from_twilio_reads_as_the_same_number_as_when_typed() {
        for (typed, e164) in [
            ("(202) 555-0143", "+12025550143"),
            ("+52 55 1234 5678", "+525512345678"),
            ("+44 20 7946 0958", "+442079460958"),
        ] {
            assert_eq!(
                PhoneNumber::from_e164(e164),
                PhoneNumber::parse(typed),
                "{typed}"
            );
        }
    }

    #[test]
    fn only_the_e164_form_is_read_from_machines() {
        assert_eq!(PhoneNumber::from_e164(""), Err(PhoneNumberError::Empty));
        for text in [
            "12025550143",
            "+1 202 555 0143",
            "+1202555014x",
            "+02025550143",
            "+123456",
            "+1234567890123456",
            "+12025550143\r\n",
            "whatsapp:+12025550143",
            "+",
        ] {
            assert_eq!(
                PhoneNumber::from_e164(text),
                Err(PhoneNumberError::Unparseable),
                "{text:?}"
            );
        }
        assert!(PhoneNumber::from_e164("+2901234").is_ok(), "7 digits");
        assert!(
            PhoneNumber::from_e164("+123456789012345").is_ok(),
            "15 digits"
        );
    }

    proptest::proptest! {
        #[test]
        fn every_valid_typed_number_reads_back_from_its_e164_form(
            area in 201u32..990, exchange in 200u32..1000, line in 0u32..10000,
        ) {
            let typed = format!("({area:03}) {exchange:03}-{line:04}");
            if let Ok(phone) = PhoneNumber::parse(&typed) {
                proptest::prop_assert_eq!(PhoneNumber::from_e164(phone.as_e164()), Ok(phone));
            }
        }
    }

    #[test]
    fn empty_input_is_rejected_with_a_clear_message() {
        assert_eq!(PhoneNumber::parse("  "), Err(PhoneNumberError::Empty));
    }

    #[test]
    fn letters_are_not_a_phone_number() {
        assert!(PhoneNumber::parse("call me maybe").is_err());
    }

    #[test]
    fn too_few_digits_are_rejected() {
        assert!(PhoneNumber::parse("555-01").is_err());
    }

    #[test]
    fn control_characters_are_rejected() {
        assert_eq!(
            PhoneNumber::parse("+12025550143\r\n"),
            Ok(PhoneNumber("+12025550143".into()))
        );
        assert_eq!(
            PhoneNumber::parse("+1202\r\n5550143"),
            Err(PhoneNumberError::Unparseable)
        );
    }

    #[test]
    fn debug_output_never_shows_the_number() {
        let phone = PhoneNumber::parse("+12025550143").unwrap();
        assert!(!format!("{phone:?}").contains("555"));
    }
}

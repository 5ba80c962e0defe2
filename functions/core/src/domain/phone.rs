//! A mobile phone number in E.164 form, parsed with `rlibphonenumber` (a port of Google's libphonenumber,
//! with its numbering plans).

use std::fmt;

use rlibphonenumber::{PHONE_NUMBER_UTIL, PhoneNumberFormat, Region};

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
        let parsed = PHONE_NUMBER_UTIL
            .parse(trimmed, Some(Region::US))
            .map_err(|_| PhoneNumberError::Unparseable)?;
        if !parsed.is_valid() {
            return Err(PhoneNumberError::Invalid);
        }
        Ok(Self(parsed.format_as(PhoneNumberFormat::E164).into_owned()))
    }

    /// Reads a number a machine wrote in E.164: Twilio's webhook fields (`From`, `To`), which Twilio
    /// always gives in E.164, and numbers rising stored after [`PhoneNumber::parse`]. Only the form is
    /// checked (`+`, a non-zero digit, 7 to 15 digits in all), not the numbering plans: a number
    /// Twilio texted with or delivered to exists. The functions that read only such numbers
    /// (`sms-inbound`, `sms-status`, `send-worker`) then carry neither libphonenumber's plans nor the
    /// code that runs them.
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
        PHONE_NUMBER_UTIL
            .parse(&self.0, None)
            .ok()
            .and_then(|parsed| parsed.get_region_code())
            .is_some_and(|region| {
                region
                    .as_region_str()
                    .as_str()
                    .eq_ignore_ascii_case(iso_code.trim())
            })
    }
}

/// Whether `iso_code` (`PR`) names a country on the +1 plan (the North American Numbering Plan):
/// the numbers whose local time quiet hours can place by area code.
pub fn on_plus_one_plan(iso_code: &str) -> bool {
    iso_code.len() == 2
        && iso_code.bytes().all(|b| b.is_ascii_uppercase())
        && Region::from_code(iso_code)
            .ok()
            .and_then(|region| PHONE_NUMBER_UTIL.get_country_code_for_region(region))
            == Some(1)
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

    /// The `phonenumber` crate, the port rising used before, with older plans, as a second opinion (tests only).
    fn second_opinion(typed: &str) -> Option<String> {
        let parsed = phonenumber::parse(Some(phonenumber::country::Id::US), typed.trim()).ok()?;
        phonenumber::is_valid(&parsed)
            .then(|| parsed.format().mode(phonenumber::Mode::E164).to_string())
    }

    fn second_opinion_country(e164: &str) -> Option<String> {
        let parsed = phonenumber::parse(None, e164).ok()?;
        parsed.country().id().map(|id| id.as_ref().to_string())
    }

    #[test]
    fn typed_numbers_read_as_libphonenumber_reads_them() {
        let cases: [(&str, Option<&str>); 28] = [
            ("(202) 555-0143", Some("+12025550143")),
            ("202.555.0143", Some("+12025550143")),
            ("1-202-555-0143", Some("+12025550143")),
            ("+1 (202) 555-0143", Some("+12025550143")),
            ("2025550143", Some("+12025550143")),
            ("(787) 555-0199", Some("+17875550199")),
            ("+1 671 555 0123", Some("+16715550123")),
            ("+1 416 555 0199", Some("+14165550199")),
            ("+1 868 620 1234", Some("+18686201234")),
            ("+52 55 1234 5678", Some("+525512345678")),
            ("+44 20 7946 0958", Some("+442079460958")),
            ("+44 7400 123456", Some("+447400123456")),
            ("+34 612 34 56 78", Some("+34612345678")),
            ("+49 30 1234567", Some("+49301234567")),
            ("+33 6 12 34 56 78", Some("+33612345678")),
            ("+81 90-1234-5678", Some("+819012345678")),
            ("+91 98765 43210", Some("+919876543210")),
            // Google's example mobile number for Brazil, which the older `phonenumber` crate refused.
            ("+55 11 96123-4567", Some("+5511961234567")),
            ("+61 412 345 678", Some("+61412345678")),
            // Mexico's mobile `1`, retired in 2019: the older crate still stripped it.
            ("+52 1 55 1234 5678", None),
            ("+1 202 555 014", None),
            ("+1 202 555 01432", None),
            ("(111) 555-0143", None),
            ("(202) 155-0143", None),
            ("+44 20 7946", None),
            ("+999 1234 5678", None),
            ("555-0143", None),
            ("0", None),
        ];
        for (typed, e164) in cases {
            assert_eq!(
                PhoneNumber::parse(typed).ok().map(|p| p.0),
                e164.map(str::to_owned),
                "{typed}"
            );
        }
    }

    #[test]
    fn a_second_port_of_libphonenumber_places_numbers_in_the_same_countries() {
        for (e164, country) in [
            ("+12025550143", "US"),
            ("+17875550199", "PR"),
            ("+16715550123", "GU"),
            ("+14165550199", "CA"),
            ("+18686201234", "TT"),
            ("+525512345678", "MX"),
            ("+442079460958", "GB"),
            ("+34612345678", "ES"),
        ] {
            let phone = PhoneNumber::from_e164(e164).unwrap();
            assert!(phone.is_in_country(country), "{e164} in {country}");
            assert_eq!(second_opinion_country(e164).as_deref(), Some(country));
        }
    }

    proptest::proptest! {
        /// The numbering plans only grow (new area codes such as 472 are valid here, not in the older
        /// crate's data): a North American number the `phonenumber` crate accepted reads the same here.
        #[test]
        fn every_north_american_number_the_phonenumber_crate_accepted_reads_the_same_way(
            area in 0u32..1000, exchange in 0u32..1000, line in 0u32..10000, plus_one in proptest::bool::ANY,
        ) {
            let typed = format!("{}({area:03}) {exchange:03}-{line:04}", if plus_one { "+1 " } else { "" });
            if let Some(e164) = second_opinion(&typed) {
                proptest::prop_assert_eq!(PhoneNumber::parse(&typed).ok().map(|p| p.0), Some(e164), "{}", typed);
            }
        }
    }

    #[test]
    fn debug_output_never_shows_the_number() {
        let phone = PhoneNumber::parse("+12025550143").unwrap();
        assert!(!format!("{phone:?}").contains("555"));
    }
}

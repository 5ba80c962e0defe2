//! The gathering form a host fills in: every field checked at once, each problem worded for the
//! host in their language. Times are typed in the gathering's own time zone (the ZIP code's unless
//! the host picks one) and stored in UTC.

use serde::Deserialize;
use time::OffsetDateTime;

use super::text::HostText;
use crate::domain::{
    AddressDraft, FirstName, Gathering, GatheringCode, GatheringDraft, GatheringTitle, Language,
    Zip,
};
use crate::privacy::ContactHash;

/// The longest description, in characters.
pub const DESCRIPTION_MAX: usize = 2000;
/// The longest accessibility notes, in characters.
pub const ACCESSIBILITY_MAX: usize = 500;
/// The largest capacity a host may set.
pub const CAPACITY_MAX: u32 = 10_000;

/// The time zones a host may pick (US states and territories), in the order shown.
pub const TIME_ZONES: [&str; 9] = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
    "Pacific/Guam",
];

/// The form as posted (`application/x-www-form-urlencoded`); every field optional here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct GatheringForm {
    pub first_name: String,
    pub title: String,
    pub description: String,
    pub date: String,
    pub starts: String,
    pub ends: String,
    pub zip: String,
    pub timezone: String,
    pub address: String,
    /// A ticked checkbox sends any value.
    pub private: Option<String>,
    pub capacity: String,
    pub accessibility: String,
    pub language: String,
    pub csrf: String,
}

impl GatheringForm {
    /// Parses a posted body; unknown fields are ignored, repeated ones keep the last value.
    pub fn from_urlencoded(body: &[u8]) -> Self {
        let mut form = Self::default();
        for (key, value) in form_urlencoded::parse(body) {
            let value = value.into_owned();
            match key.as_ref() {
                "first_name" => form.first_name = value,
                "title" => form.title = value,
                "description" => form.description = value,
                "date" => form.date = value,
                "starts" => form.starts = value,
                "ends" => form.ends = value,
                "zip" => form.zip = value,
                "timezone" => form.timezone = value,
                "address" => form.address = value,
                "private" => form.private = Some(value),
                "capacity" => form.capacity = value,
                "accessibility" => form.accessibility = value,
                "language" => form.language = value,
                "csrf" => form.csrf = value,
                _ => {}
            }
        }
        form
    }

    /// The form filled in with a stored gathering, for editing. `address`: the address opened for
    /// its host.
    pub fn of(gathering: &Gathering, address: String) -> Self {
        let (date, starts) = local_parts(gathering.starts_at, &gathering.timezone);
        let (_, ends) = local_parts(gathering.ends_at, &gathering.timezone);
        let zip_zone = gathering.zip.timezone();
        Self {
            first_name: String::new(),
            title: gathering.title.as_str().to_owned(),
            description: gathering.description.clone(),
            date,
            starts,
            ends,
            zip: gathering.zip.as_str().to_owned(),
            timezone: if zip_zone == Some(gathering.timezone.as_str()) {
                String::new()
            } else {
                gathering.timezone.clone()
            },
            address,
            private: matches!(gathering.address, crate::domain::Address::Private(_))
                .then(|| "on".to_owned()),
            capacity: gathering
                .capacity
                .map(|c| c.to_string())
                .unwrap_or_default(),
            accessibility: gathering.accessibility.clone(),
            language: gathering.language.code().to_owned(),
            csrf: String::new(),
        }
    }

    pub fn is_private(&self) -> bool {
        self.private.is_some()
    }
}

/// A field of the form, named as in the HTML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormField {
    FirstName,
    Title,
    Description,
    Date,
    Starts,
    Ends,
    Zip,
    Timezone,
    Address,
    Capacity,
    Accessibility,
}

impl FormField {
    pub fn name(self) -> &'static str {
        match self {
            Self::FirstName => "first_name",
            Self::Title => "title",
            Self::Description => "description",
            Self::Date => "date",
            Self::Starts => "starts",
            Self::Ends => "ends",
            Self::Zip => "zip",
            Self::Timezone => "timezone",
            Self::Address => "address",
            Self::Capacity => "capacity",
            Self::Accessibility => "accessibility",
        }
    }
}

/// A problem with one field, worded for the host.
pub type Problem = (FormField, &'static str);

/// A form that passed every check.
#[derive(Debug, Clone)]
pub struct ValidGathering {
    pub first_name: Option<FirstName>,
    pub title: GatheringTitle,
    pub description: String,
    pub accessibility: String,
    pub starts_at: OffsetDateTime,
    pub ends_at: OffsetDateTime,
    pub zip: Zip,
    /// The zone the host picked; `None`: the ZIP code's.
    pub timezone: Option<String>,
    pub address: AddressDraft,
    pub capacity: Option<u32>,
    pub language: Language,
}

impl ValidGathering {
    /// The draft of a gathering of `host`.
    pub fn draft(
        self,
        code: GatheringCode,
        host_first_name: FirstName,
        host: ContactHash,
        listed: bool,
    ) -> GatheringDraft {
        GatheringDraft {
            code,
            title: self.title,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            zip: self.zip,
            timezone: self.timezone,
            town: None,
            location: None,
            address: self.address,
            host_first_name,
            capacity: self.capacity,
            language: self.language,
            listed,
            host: Some(host),
            description: self.description,
            accessibility: self.accessibility,
        }
    }
}

/// Checks every field. `needs_first_name`: the host has not told us their first name yet.
/// `starts_after`: the earliest start accepted (now, for a new gathering).
pub fn validate(
    form: &GatheringForm,
    needs_first_name: bool,
    starts_after: Option<OffsetDateTime>,
    t: &HostText,
) -> Result<ValidGathering, Vec<Problem>> {
    let mut problems: Vec<Problem> = Vec::new();
    let first_name = if needs_first_name {
        match FirstName::parse(&form.first_name) {
            Ok(name) => Some(name),
            Err(_) => {
                problems.push((FormField::FirstName, t.err_first_name));
                None
            }
        }
    } else {
        None
    };
    let title = GatheringTitle::parse(&form.title)
        .map_err(|_| problems.push((FormField::Title, t.err_title)))
        .ok();
    let description = free_text(&form.description);
    if description.chars().count() > DESCRIPTION_MAX {
        problems.push((FormField::Description, t.err_description));
    } else if has_control(&description) {
        problems.push((FormField::Description, t.err_control));
    }
    let accessibility = free_text(&form.accessibility);
    if accessibility.chars().count() > ACCESSIBILITY_MAX {
        problems.push((FormField::Accessibility, t.err_accessibility));
    } else if has_control(&accessibility) {
        problems.push((FormField::Accessibility, t.err_control));
    }
    let zip = Zip::parse(&form.zip)
        .map_err(|_| problems.push((FormField::Zip, t.err_zip)))
        .ok();
    let picked = form.timezone.trim();
    let timezone = if picked.is_empty() {
        None
    } else if TIME_ZONES.contains(&picked) {
        Some(picked.to_owned())
    } else {
        problems.push((FormField::Timezone, t.err_timezone));
        None
    };
    let zone = timezone
        .clone()
        .or_else(|| zip.as_ref().and_then(|z| z.timezone()).map(str::to_owned));
    if zone.is_none() && zip.is_some() && picked.is_empty() {
        problems.push((FormField::Timezone, t.err_timezone));
    }
    let date = parse_date(&form.date)
        .map_err(|_| problems.push((FormField::Date, t.err_date)))
        .ok();
    let starts = parse_time(&form.starts)
        .map_err(|_| problems.push((FormField::Starts, t.err_time)))
        .ok();
    let ends = parse_time(&form.ends)
        .map_err(|_| problems.push((FormField::Ends, t.err_time)))
        .ok();
    let address_text = form.address.trim();
    if address_text.is_empty() || address_text.chars().count() > 200 {
        problems.push((FormField::Address, t.err_address));
    } else if address_text.chars().any(char::is_control) {
        problems.push((FormField::Address, t.err_control));
    }
    let capacity = match form.capacity.trim() {
        "" => None,
        text => match text.parse::<u32>() {
            Ok(n) if (1..=CAPACITY_MAX).contains(&n) => Some(n),
            _ => {
                problems.push((FormField::Capacity, t.err_capacity));
                None
            }
        },
    };
    if has_control(&form.first_name) && !needs_first_name {
        problems.push((FormField::FirstName, t.err_control));
    }
    let mut times = None;
    if let (Some(date), Some(starts), Some(ends), Some(zone)) =
        (date, starts, ends, zone.as_deref())
    {
        match (to_utc(date, starts, zone), to_utc(date, ends, zone)) {
            (Some(starts_at), Some(mut ends_at)) => {
                // An end earlier than the start is the next day (19:00 to 01:00).
                if ends_at <= starts_at && ends != starts {
                    ends_at =
                        to_utc(date.tomorrow().unwrap_or(date), ends, zone).unwrap_or(ends_at);
                }
                if ends_at <= starts_at {
                    problems.push((FormField::Ends, t.err_ends_before));
                } else if ends_at - starts_at > time::Duration::hours(24) {
                    problems.push((FormField::Ends, t.err_too_long));
                } else if starts_after.is_some_and(|after| starts_at <= after) {
                    problems.push((FormField::Date, t.err_in_past));
                } else {
                    times = Some((starts_at, ends_at));
                }
            }
            _ => problems.push((FormField::Starts, t.err_time)),
        }
    }
    let language = Language::parse(form.language.trim()).unwrap_or_default();
    match (title, zip, times) {
        (Some(title), Some(zip), Some((starts_at, ends_at))) if problems.is_empty() => {
            Ok(ValidGathering {
                first_name,
                title,
                description,
                accessibility,
                starts_at,
                ends_at,
                zip,
                timezone,
                address: if form.is_private() {
                    AddressDraft::Private(address_text.to_owned())
                } else {
                    AddressDraft::Public(address_text.to_owned())
                },
                capacity,
                language,
            })
        }
        _ => Err(problems),
    }
}

/// Trimmed, with CR LF and lone CR made LF.
fn free_text(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .trim()
        .to_owned()
}

/// Control characters other than line feeds and tabs.
fn has_control(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
}

pub(crate) fn parse_date(text: &str) -> Result<jiff::civil::Date, ()> {
    text.trim().parse::<jiff::civil::Date>().map_err(|_| ())
}

/// `HH:MM` (24-hour), as `<input type="time">` sends it; seconds are ignored.
pub(crate) fn parse_time(text: &str) -> Result<jiff::civil::Time, ()> {
    let mut parts = text.trim().split(':');
    let hour: i8 = parts.next().ok_or(())?.parse().map_err(|_| ())?;
    let minute: i8 = parts.next().ok_or(())?.parse().map_err(|_| ())?;
    jiff::civil::Time::new(hour, minute, 0, 0).map_err(|_| ())
}

/// A wall-clock time in `zone` as UTC (an hour skipped by a DST change moves forward).
pub(crate) fn to_utc(
    date: jiff::civil::Date,
    at: jiff::civil::Time,
    zone: &str,
) -> Option<OffsetDateTime> {
    let tz = crate::domain::time_zone::get(zone)?;
    let zoned = date.to_datetime(at).to_zoned(tz).ok()?;
    OffsetDateTime::from_unix_timestamp(zoned.timestamp().as_second()).ok()
}

/// The date (`YYYY-MM-DD`) and time (`HH:MM`) of `at` in `zone` (UTC if the zone is unknown).
pub fn local_parts(at: OffsetDateTime, zone: &str) -> (String, String) {
    let tz = crate::domain::time_zone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    match jiff::Timestamp::from_second(at.unix_timestamp()) {
        Ok(ts) => {
            let local = ts.to_zoned(tz);
            (
                local.date().to_string(),
                format!("{:02}:{:02}", local.hour(), local.minute()),
            )
        }
        Err(_) => (String::new(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::text::{EN, ES};
    use super::*;
    use time::macros::datetime;

    fn filled() -> GatheringForm {
        GatheringForm {
            first_name: "Dana".into(),
            title: "Porch talk".into(),
            description: "Coffee and a plan.\r\nBring a friend.".into(),
            date: "2026-12-05".into(),
            starts: "18:30".into(),
            ends: "20:00".into(),
            zip: "20001".into(),
            address: "12 Elm St".into(),
            private: Some("on".into()),
            capacity: "12".into(),
            accessibility: "Step-free entrance.".into(),
            language: "es".into(),
            ..GatheringForm::default()
        }
    }

    const NOW: OffsetDateTime = datetime!(2026-11-28 12:00 UTC);

    #[test]
    fn a_filled_form_becomes_a_gathering_in_the_zip_codes_time_zone() {
        let valid = validate(&filled(), true, Some(NOW), &EN).expect("valid");
        // 18:30 in Washington DC (EST, UTC-5) is 23:30 UTC.
        assert_eq!(valid.starts_at, datetime!(2026-12-05 23:30 UTC));
        assert_eq!(valid.ends_at, datetime!(2026-12-06 01:00 UTC));
        assert_eq!(valid.timezone, None);
        assert_eq!(valid.capacity, Some(12));
        assert_eq!(valid.language, Language::Es);
        assert_eq!(valid.description, "Coffee and a plan.\nBring a friend.");
        assert_eq!(valid.address, AddressDraft::Private("12 Elm St".into()));
        assert_eq!(
            valid.first_name.map(|n| n.as_str().to_owned()),
            Some("Dana".into())
        );
    }

    #[test]
    fn a_picked_time_zone_wins_over_the_zip_codes() {
        let form = GatheringForm {
            timezone: "America/Los_Angeles".into(),
            ..filled()
        };
        let valid = validate(&form, false, Some(NOW), &EN).expect("valid");
        assert_eq!(valid.starts_at, datetime!(2026-12-06 02:30 UTC));
        assert_eq!(valid.timezone.as_deref(), Some("America/Los_Angeles"));
    }

    #[test]
    fn an_end_before_the_start_is_the_next_morning() {
        let form = GatheringForm {
            starts: "21:00".into(),
            ends: "01:00".into(),
            ..filled()
        };
        let valid = validate(&form, false, Some(NOW), &EN).expect("valid");
        assert_eq!(valid.ends_at - valid.starts_at, time::Duration::hours(4));
    }

    #[test]
    fn every_bad_field_is_reported_at_once_in_the_hosts_language() {
        let form = GatheringForm {
            first_name: "D4na!".into(),
            title: " ".into(),
            description: "x".repeat(DESCRIPTION_MAX + 1),
            date: "05/12/2026".into(),
            starts: "6pm".into(),
            ends: "25:00".into(),
            zip: "2000".into(),
            timezone: "Europe/Paris".into(),
            address: "".into(),
            capacity: "0".into(),
            accessibility: "ok\u{7}".into(),
            ..GatheringForm::default()
        };
        let problems = validate(&form, true, Some(NOW), &ES).expect_err("invalid");
        let fields: Vec<_> = problems.iter().map(|(f, _)| *f).collect();
        for field in [
            FormField::FirstName,
            FormField::Title,
            FormField::Description,
            FormField::Date,
            FormField::Starts,
            FormField::Ends,
            FormField::Zip,
            FormField::Timezone,
            FormField::Address,
            FormField::Capacity,
            FormField::Accessibility,
        ] {
            assert!(fields.contains(&field), "{field:?} in {fields:?}");
        }
        assert!(problems.iter().any(|(_, m)| *m == ES.err_zip));
    }

    #[test]
    fn a_gathering_in_the_past_is_refused_when_created() {
        let form = GatheringForm {
            date: "2026-11-01".into(),
            ..filled()
        };
        let problems = validate(&form, false, Some(NOW), &EN).expect_err("past");
        assert_eq!(problems, vec![(FormField::Date, EN.err_in_past)]);
        assert!(
            validate(&form, false, None, &EN).is_ok(),
            "editing may keep a past date"
        );
    }

    #[test]
    fn a_cr_or_lf_in_the_address_or_title_is_refused() {
        let form = GatheringForm {
            address: "12 Elm St\r\nBcc: x@example.org".into(),
            title: "Hi\nthere".into(),
            ..filled()
        };
        let problems = validate(&form, false, Some(NOW), &EN).expect_err("invalid");
        assert!(problems.contains(&(FormField::Address, EN.err_control)));
        assert!(problems.iter().any(|(f, _)| *f == FormField::Title));
    }

    #[test]
    fn a_posted_body_parses_with_the_checkbox() {
        let form = GatheringForm::from_urlencoded(
            b"title=Porch+talk&private=on&capacity=12&csrf=abc&unknown=1",
        );
        assert_eq!(form.title, "Porch talk");
        assert!(form.is_private());
        assert_eq!(form.csrf, "abc");
        assert!(!GatheringForm::from_urlencoded(b"title=x").is_private());
    }

    #[test]
    fn local_parts_show_a_utc_time_on_the_places_wall_clock() {
        assert_eq!(
            local_parts(datetime!(2026-12-05 23:30 UTC), "America/New_York"),
            ("2026-12-05".to_owned(), "18:30".to_owned())
        );
    }
}

//! The training form an organizer fills in on `/admin`: every field checked at once, each problem
//! worded in the organizer's language. Times are typed in the training's time zone and stored in UTC.

use time::OffsetDateTime;

use super::AdminText;
use crate::domain::{Training, TrainingDraft, TrainingTitle, TrainingUrl};
use crate::hosting::form::{TIME_ZONES, local_parts, parse_date, parse_time, to_utc};

/// The longest training, in minutes (as [`TrainingDraft::build`] allows).
pub const DURATION_MAX_MINUTES: i64 = 24 * 60;

/// The form as posted (`application/x-www-form-urlencoded`); every field optional here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrainingForm {
    pub title: String,
    pub title_es: String,
    pub date: String,
    pub starts: String,
    /// Minutes.
    pub duration: String,
    pub time_zone: String,
    pub join_url: String,
    pub csrf: String,
}

impl TrainingForm {
    /// Parses a posted body; unknown fields are ignored, repeated ones keep the last value.
    pub fn from_urlencoded(body: &[u8]) -> Self {
        let mut form = Self::default();
        for (key, value) in form_urlencoded::parse(body) {
            let value = value.into_owned();
            match key.as_ref() {
                "title" => form.title = value,
                "title_es" => form.title_es = value,
                "date" => form.date = value,
                "starts" => form.starts = value,
                "duration" => form.duration = value,
                "time_zone" => form.time_zone = value,
                "join_url" => form.join_url = value,
                "csrf" => form.csrf = value,
                _ => {}
            }
        }
        form
    }

    /// The form filled in with a stored training, for editing.
    pub fn of(training: &Training) -> Self {
        let (date, starts) = local_parts(training.starts_at, &training.time_zone);
        Self {
            title: training.title.as_str().to_owned(),
            title_es: training
                .title_es
                .as_ref()
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default(),
            date,
            starts,
            duration: training.duration().whole_minutes().to_string(),
            time_zone: training.time_zone.clone(),
            join_url: training
                .join_url
                .as_ref()
                .map(|u| u.as_str().to_owned())
                .unwrap_or_default(),
            csrf: String::new(),
        }
    }
}

/// A field of the form, named as in the HTML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainingField {
    Title,
    TitleEs,
    Date,
    Starts,
    Duration,
    TimeZone,
    JoinUrl,
}

impl TrainingField {
    pub fn name(self) -> &'static str {
        match self {
            Self::Title => "title",
            Self::TitleEs => "title_es",
            Self::Date => "date",
            Self::Starts => "starts",
            Self::Duration => "duration",
            Self::TimeZone => "time_zone",
            Self::JoinUrl => "join_url",
        }
    }
}

/// A problem with one field, worded for the organizer.
pub type TrainingProblem = (TrainingField, &'static str);

/// Checks every field. `starts_after`: the earliest start accepted (now, for a new training; `None`
/// when editing, so a past training can still be corrected). The recording is never set here: it is
/// published on its own, once.
pub fn validate(
    form: &TrainingForm,
    starts_after: Option<OffsetDateTime>,
    t: &AdminText,
) -> Result<TrainingDraft, Vec<TrainingProblem>> {
    let mut problems: Vec<TrainingProblem> = Vec::new();
    let title = TrainingTitle::parse(&form.title)
        .map_err(|_| problems.push((TrainingField::Title, t.err_training_title)))
        .ok();
    let title_es = match form.title_es.trim() {
        "" => None,
        text => TrainingTitle::parse(text)
            .map_err(|_| problems.push((TrainingField::TitleEs, t.err_training_title)))
            .ok(),
    };
    let date = parse_date(&form.date)
        .map_err(|_| problems.push((TrainingField::Date, t.err_date)))
        .ok();
    let starts = parse_time(&form.starts)
        .map_err(|_| problems.push((TrainingField::Starts, t.err_time)))
        .ok();
    let duration = match form.duration.trim().parse::<i64>() {
        Ok(minutes) if (1..=DURATION_MAX_MINUTES).contains(&minutes) => {
            Some(time::Duration::minutes(minutes))
        }
        _ => {
            problems.push((TrainingField::Duration, t.err_duration));
            None
        }
    };
    let zone = form.time_zone.trim();
    let zone = if TIME_ZONES.contains(&zone) {
        Some(zone.to_owned())
    } else {
        problems.push((TrainingField::TimeZone, t.err_time_zone));
        None
    };
    let join_url = match form.join_url.trim() {
        "" => None,
        text => TrainingUrl::parse(text)
            .map_err(|_| problems.push((TrainingField::JoinUrl, t.err_link)))
            .ok(),
    };
    let mut starts_at = None;
    if let (Some(date), Some(starts), Some(zone)) = (date, starts, zone.as_deref()) {
        match to_utc(date, starts, zone) {
            Some(at) if starts_after.is_some_and(|after| at <= after) => {
                problems.push((TrainingField::Date, t.err_in_past));
            }
            Some(at) => starts_at = Some(at),
            None => problems.push((TrainingField::Starts, t.err_time)),
        }
    }
    match (title, starts_at, duration, zone) {
        (Some(title), Some(starts_at), Some(duration), Some(time_zone)) if problems.is_empty() => {
            Ok(TrainingDraft {
                title,
                title_es,
                starts_at,
                duration,
                time_zone,
                join_url,
                recording_url: None,
                recording_published_at: None,
            })
        }
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::super::admin_text;
    use super::*;
    use crate::domain::{Language, TrainingId};
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-28 12:00 UTC);

    fn filled() -> TrainingForm {
        TrainingForm {
            title: "Host training".into(),
            title_es: "Capacitación para anfitriones".into(),
            date: "2026-12-10".into(),
            starts: "19:00".into(),
            duration: "90".into(),
            time_zone: "America/Chicago".into(),
            join_url: "https://meet.example.org/host".into(),
            csrf: "abc".into(),
        }
    }

    #[test]
    fn a_filled_form_becomes_a_training_in_its_time_zone() {
        let draft = validate(&filled(), Some(NOW), admin_text(Language::En)).expect("valid");
        // 19:00 in Chicago (CST, UTC-6) is 01:00 UTC the next day.
        assert_eq!(draft.starts_at, datetime!(2026-12-11 01:00 UTC));
        assert_eq!(draft.duration, time::Duration::minutes(90));
        assert_eq!(draft.time_zone, "America/Chicago");
        assert_eq!(
            draft.title_es.as_ref().map(TrainingTitle::as_str),
            Some("Capacitación para anfitriones")
        );
        assert_eq!(draft.recording_url, None);
        let training = draft.build(TrainingId::random()).expect("builds");
        assert_eq!(
            TrainingForm::of(&training),
            TrainingForm {
                csrf: String::new(),
                ..filled()
            }
        );
    }

    #[test]
    fn the_spanish_title_and_the_join_link_may_be_left_empty() {
        let form = TrainingForm {
            title_es: " ".into(),
            join_url: "".into(),
            ..filled()
        };
        let draft = validate(&form, Some(NOW), admin_text(Language::En)).expect("valid");
        assert_eq!(draft.title_es, None);
        assert_eq!(draft.join_url, None);
    }

    #[test]
    fn every_bad_field_is_reported_at_once_in_the_organizers_language() {
        let form = TrainingForm {
            title: "Line\r\nBcc: x@example.org".into(),
            title_es: "x".repeat(TrainingTitle::MAX_CHARS + 1),
            date: "10/12/2026".into(),
            starts: "7pm".into(),
            duration: "0".into(),
            time_zone: "Europe/Paris".into(),
            join_url: "http://example.org/join".into(),
            csrf: String::new(),
        };
        let es = admin_text(Language::Es);
        let problems = validate(&form, Some(NOW), es).expect_err("invalid");
        let fields: Vec<_> = problems.iter().map(|(f, _)| *f).collect();
        for field in [
            TrainingField::Title,
            TrainingField::TitleEs,
            TrainingField::Date,
            TrainingField::Starts,
            TrainingField::Duration,
            TrainingField::TimeZone,
            TrainingField::JoinUrl,
        ] {
            assert!(fields.contains(&field), "{field:?} in {fields:?}");
        }
        assert!(problems.contains(&(TrainingField::JoinUrl, es.err_link)));
    }

    #[test]
    fn a_training_in_the_past_is_refused_when_created_but_may_be_corrected() {
        let form = TrainingForm {
            date: "2026-11-01".into(),
            ..filled()
        };
        let en = admin_text(Language::En);
        let problems = validate(&form, Some(NOW), en).expect_err("past");
        assert_eq!(problems, vec![(TrainingField::Date, en.err_in_past)]);
        assert!(validate(&form, None, en).is_ok());
    }

    #[test]
    fn a_training_longer_than_a_day_is_refused() {
        let form = TrainingForm {
            duration: (DURATION_MAX_MINUTES + 1).to_string(),
            ..filled()
        };
        let en = admin_text(Language::En);
        let problems = validate(&form, Some(NOW), en).expect_err("too long");
        assert_eq!(problems, vec![(TrainingField::Duration, en.err_duration)]);
    }

    #[test]
    fn a_posted_body_parses() {
        let form = TrainingForm::from_urlencoded(
            b"title=Host+training&duration=90&time_zone=America%2FChicago&csrf=abc&x=1",
        );
        assert_eq!(form.title, "Host training");
        assert_eq!(form.time_zone, "America/Chicago");
        assert_eq!(form.csrf, "abc");
    }
}

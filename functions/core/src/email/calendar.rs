//! Calendar invites (`.ics`, RFC 5545) for gatherings and trainings, built with `icalendar`.

use icalendar::{Calendar, Component as _, Event, EventLike as _, EventStatus, Property};
use time::OffsetDateTime;

/// The iTIP method of every invite rising sends, also the `method` parameter of the attachment's
/// `Content-Type` (RFC 6047 §2.4 requires the two to match).
///
/// `PUBLISH`, not `REQUEST`: a `REQUEST` must name an `ORGANIZER` and expects an iTIP reply to them
/// (RFC 5546 §3.2.2). rising has no mailbox that reads replies, and the person already said yes, on
/// rising's own form or by text. With `REQUEST` and no organizer, Outlook shows the event as a meeting
/// the recipient organised and Gmail's Yes/No/Maybe buttons would reply to nobody; with `PUBLISH`,
/// Gmail shows the event card with "Add to calendar", and Outlook and Apple Calendar open it as an
/// event to save, without pretending anyone is waiting for an answer.
pub const CALENDAR_METHOD: &str = "PUBLISH";

/// The `PRODID` of rising's invites (RFC 5545 §3.7.3).
const PRODID: &str = "-//rising//gatherings//EN";

/// The longest `UID` accepted (RFC 7986 §5.3 recommends short, opaque, globally unique values).
const MAX_UID_LEN: usize = 255;

/// Why an invite could not be built. For operators; no field value is quoted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("the event UID must be 1 to {MAX_UID_LEN} letters, digits or any of . - _ @ :")]
    InvalidUid,
    #[error("the event must end after it starts")]
    EndsBeforeStart,
    #[error("the event URL is not an absolute http(s) URL")]
    InvalidUrl,
}

/// A one-event calendar (`METHOD:PUBLISH`, see [`CALENDAR_METHOD`]) as `.ics` bytes, CRLF line ends.
///
/// Times are written in UTC (`DTSTART:20260613T223000Z`), so no `VTIMEZONE` is needed and every
/// client shows them in its own zone. `uid` must be stable for the gathering (e.g.
/// `<gathering id>@<mail domain>`), so a second invite updates the event instead of adding a copy.
///
/// Injection: `icalendar` escapes `\`, `;`, `,` and LF in TEXT values but leaves CR as is, and writes
/// URI values (`URL`) verbatim. So here line breaks in `title` and `location` become spaces, CR and
/// CRLF in `description` become LF (escaped as `\n`), other control characters are dropped, `url` is
/// re-serialised by the `url` crate, and `uid` is limited to a safe alphabet: no value can start a
/// new property.
pub fn calendar_invite(
    uid: &str,
    title: &str,
    start_utc: OffsetDateTime,
    end_utc: OffsetDateTime,
    location: Option<&str>,
    description: &str,
    url: Option<&str>,
) -> Result<Vec<u8>, CalendarError> {
    let safe_uid = |c: char| c.is_ascii_alphanumeric() || ".-_@:".contains(c);
    if uid.is_empty() || uid.len() > MAX_UID_LEN || !uid.chars().all(safe_uid) {
        return Err(CalendarError::InvalidUid);
    }
    if end_utc <= start_utc {
        return Err(CalendarError::EndsBeforeStart);
    }
    let url = url.map(checked_url).transpose()?;

    let mut event = Event::new();
    event
        .uid(uid)
        .sequence(0)
        .summary(&one_line(title))
        .description(&multi_line(description))
        .starts(utc(start_utc))
        .ends(utc(end_utc))
        .status(EventStatus::Confirmed);
    if let Some(location) = location {
        event.location(&one_line(location));
    }
    if let Some(url) = &url {
        event.url(url);
    }

    let mut calendar = Calendar::empty();
    for (key, value) in [
        ("VERSION", "2.0"),
        ("PRODID", PRODID),
        ("CALSCALE", "GREGORIAN"),
        ("METHOD", CALENDAR_METHOD),
    ] {
        calendar.append_property(Property::new(key, value));
    }
    calendar.push(event.done());
    Ok(calendar.to_string().into_bytes())
}

/// `time` → `chrono` in UTC, whole seconds (iCalendar has no fractions). Every `OffsetDateTime`
/// (years ±9999) fits chrono's range, so the fallback is never taken.
fn utc(at: OffsetDateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(at.unix_timestamp(), 0).unwrap_or_default()
}

/// A single line: any run of control characters and whitespace becomes one space.
fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Lines kept (CRLF and CR become LF), other control characters dropped.
fn multi_line(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|&c| c == '\n' || !c.is_control())
        .collect::<String>()
        .trim()
        .to_string()
}

fn checked_url(raw: &str) -> Result<String, CalendarError> {
    if raw.chars().any(char::is_control) {
        return Err(CalendarError::InvalidUrl);
    }
    let url = url::Url::parse(raw.trim()).map_err(|_| CalendarError::InvalidUrl)?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(CalendarError::InvalidUrl);
    }
    Ok(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use icalendar::CalendarComponent;
    use time::macros::datetime;

    fn invite(title: &str, location: Option<&str>, description: &str) -> String {
        let bytes = calendar_invite(
            "g-01hzy@rising.example",
            title,
            datetime!(2026-06-13 22:30 UTC),
            datetime!(2026-06-14 00:30 UTC),
            location,
            description,
            Some("https://rising.example/g/01hzy"),
        )
        .unwrap();
        String::from_utf8(bytes).unwrap()
    }

    fn only_event(ics: &str) -> Event {
        let calendar: Calendar = ics.parse().unwrap();
        let events: Vec<Event> = calendar
            .components
            .into_iter()
            .filter_map(|c| match c {
                CalendarComponent::Event(e) => Some(e),
                _ => None,
            })
            .collect();
        assert_eq!(events.len(), 1);
        events.into_iter().next().unwrap()
    }

    #[test]
    fn the_calendar_invite_parses_with_utc_times_uid_and_summary() {
        let ics = invite("Maple Street potluck", Some("Helena, MT"), "Bring a dish.");
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"));
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
        assert!(ics.contains("\r\nMETHOD:PUBLISH\r\n"));
        assert!(ics.contains("\r\nDTSTART:20260613T223000Z\r\n"), "{ics}");
        assert!(ics.contains("\r\nDTEND:20260614T003000Z\r\n"));
        assert!(ics.contains("\r\nUID:g-01hzy@rising.example\r\n"));
        assert!(ics.contains("\r\nSUMMARY:Maple Street potluck\r\n"));
        assert!(ics.contains("\r\nDTSTAMP:"));
        let event = only_event(&ics);
        assert_eq!(event.get_uid(), Some("g-01hzy@rising.example"));
        assert_eq!(event.get_summary(), Some("Maple Street potluck"));
        assert_eq!(event.get_location(), Some("Helena, MT"));
        assert_eq!(event.get_url(), Some("https://rising.example/g/01hzy"));
        let calendar: Calendar = ics.parse().unwrap();
        assert_eq!(calendar.property_value("METHOD"), Some("PUBLISH"));
    }

    #[test]
    fn line_breaks_in_the_title_cannot_inject_calendar_properties() {
        let ics = invite(
            "Potluck\r\nATTENDEE:mailto:victim@example.org\rORGANIZER:mailto:x@evil.example\nX-EVIL:1",
            Some("Park\r\nDTSTART:19700101T000000Z"),
            "Line one\r\nLine two\rEND:VEVENT",
        );
        for line in ics.split("\r\n") {
            assert!(!line.contains('\r') && !line.contains('\n'), "{line:?}");
            for injected in [
                "ATTENDEE",
                "ORGANIZER",
                "X-EVIL",
                "DTSTART:1970",
                "END:VEVENT",
            ] {
                if line.starts_with(injected) {
                    assert_eq!(line, "END:VEVENT", "injected {line:?}");
                }
            }
        }
        assert_eq!(
            ics.matches("END:VEVENT").count(),
            2,
            "one real, one inside the text"
        );
        let event = only_event(&ics);
        assert!(event.get_summary().unwrap().starts_with("Potluck ATTENDEE"));
        assert_eq!(
            event.get_description(),
            Some("Line one\nLine two\nEND:VEVENT")
        );
        assert!(!event.properties().contains_key("ATTENDEE"));
        assert!(!event.properties().contains_key("X-EVIL"));
    }

    #[test]
    fn commas_and_semicolons_in_texts_are_escaped() {
        let ics = invite("Tea; cake, talk", None, "a\\b");
        assert!(ics.contains("SUMMARY:Tea\\; cake\\, talk\r\n"), "{ics}");
        assert!(ics.contains("DESCRIPTION:a\\\\b\r\n"));
        assert!(!ics.contains("LOCATION"));
    }

    #[test]
    fn long_spanish_texts_are_folded_into_lines_of_at_most_75_bytes() {
        let title = "Reunión comunitaria en la Biblioteca Pública de San Antonio, salón principal";
        let ics = invite(title, None, &"Traiga algo para compartir. ".repeat(10));
        for line in ics.split("\r\n") {
            assert!(line.len() <= 75, "{line:?}");
        }
        let event = only_event(&ics);
        assert!(
            event
                .get_summary()
                .unwrap()
                .starts_with("Reunión comunitaria")
        );
    }

    #[test]
    fn an_unsafe_uid_or_url_or_backwards_times_are_refused() {
        let start = datetime!(2026-06-13 22:30 UTC);
        let end = datetime!(2026-06-14 00:30 UTC);
        let build = |uid: &str, start, end, url: Option<&str>| {
            calendar_invite(uid, "t", start, end, None, "d", url)
        };
        assert_eq!(build("", start, end, None), Err(CalendarError::InvalidUid));
        assert_eq!(
            build("a\r\nX-EVIL:1", start, end, None),
            Err(CalendarError::InvalidUid)
        );
        assert_eq!(
            build("a b", start, end, None),
            Err(CalendarError::InvalidUid)
        );
        assert_eq!(
            build("ok", end, start, None),
            Err(CalendarError::EndsBeforeStart)
        );
        assert_eq!(
            build("ok", start, start, None),
            Err(CalendarError::EndsBeforeStart)
        );
        for bad in [
            "https://x.org/\r\nX-EVIL:1",
            "javascript:alert(1)",
            "/relative",
        ] {
            assert_eq!(
                build("ok", start, end, Some(bad)),
                Err(CalendarError::InvalidUrl),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_start_time_given_in_another_offset_is_written_in_utc() {
        let ics = String::from_utf8(
            calendar_invite(
                "u1",
                "t",
                datetime!(2026-06-13 16:30 -06:00),
                datetime!(2026-06-13 18:30 -06:00),
                None,
                "d",
                None,
            )
            .unwrap(),
        )
        .unwrap();
        assert!(ics.contains("DTSTART:20260613T223000Z"), "{ics}");
    }
}

//! Trainings: the movement's online sessions (an overview, a training for hosts …), each with a time,
//! a link to join and, once it is published, the link to its recording. People register for a
//! training with the same form as for a gathering; the recording reaches them once published.
//!
//! Nothing personal lives in a training: titles, times and links are public. (A registration holds a
//! person's sealed first name; see [`crate::store::TrainingStore`].)

use std::fmt;

use time::OffsetDateTime;

use super::Language;

// ---------------------------------------------------------------------------------------------------------
// Identifier

/// A training's identifier: 1 to 40 of `a`–`z`, `0`–`9` and `-`, starting and ending with a letter or
/// digit. A new one is 128 random bits in hex ([`TrainingId::random`]); organizers may give a stable
/// slug instead (`overview`, `host-training`), so seeding the same calendar twice writes nothing new.
/// Never contains `#`: safe in keys, URLs and logs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrainingId(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "a training id is 1 to 40 lower-case letters, digits and hyphens, starting and ending with a letter or digit"
)]
pub struct TrainingIdError;

impl TrainingId {
    pub const MAX_LEN: usize = 40;

    /// A new random identifier (32 lower-case hex digits).
    pub fn random() -> Self {
        Self(crate::ids::random_id())
    }

    pub fn parse(input: &str) -> Result<Self, TrainingIdError> {
        let bytes = input.as_bytes();
        let edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let valid = (1..=Self::MAX_LEN).contains(&bytes.len())
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
            && edge(bytes.first())
            && edge(bytes.last());
        if valid {
            Ok(Self(input.to_string()))
        } else {
            Err(TrainingIdError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrainingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ---------------------------------------------------------------------------------------------------------
// Title

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TrainingTitleError {
    #[error("Please give the training a title.")]
    Empty,
    #[error("A training title can be at most 120 characters.")]
    TooLong,
    #[error("A training title can't contain control characters.")]
    Control,
}

/// What a training is called, as people will read it: 1 to 120 characters, trimmed, no control
/// characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingTitle(String);

impl TrainingTitle {
    pub const MAX_CHARS: usize = 120;

    pub fn parse(input: &str) -> Result<Self, TrainingTitleError> {
        let title = input.trim();
        if title.is_empty() {
            return Err(TrainingTitleError::Empty);
        }
        if title.chars().any(char::is_control) {
            return Err(TrainingTitleError::Control);
        }
        if title.chars().count() > Self::MAX_CHARS {
            return Err(TrainingTitleError::TooLong);
        }
        Ok(Self(title.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrainingTitle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ---------------------------------------------------------------------------------------------------------
// Links

/// Why a text is not a usable link (to join a training or to watch its recording). Written for the
/// organizer who typed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TrainingUrlError {
    #[error("Please give the link.")]
    Empty,
    #[error("A link can be at most 500 characters.")]
    TooLong,
    #[error("A link can't contain spaces or control characters.")]
    Whitespace,
    #[error("That is not a link (it should look like https://example.org/...).")]
    Invalid,
    #[error("A link must start with https:// (http:// only for localhost).")]
    Scheme,
    #[error("A link can't contain a user name or password.")]
    Credentials,
}

/// A link people follow: to join a training, or to watch its recording. `https` with a host (`http`
/// only for `localhost` and `127.0.0.1`, for local development), no user name or password, no
/// whitespace or control characters, at most 500 characters. Kept in the normal form of the URL
/// standard (`https://Example.org` → `https://example.org/`), so two spellings of a link compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TrainingUrl(String);

impl TrainingUrl {
    pub const MAX_LEN: usize = 500;

    /// Parses a link; whitespace around it is ignored.
    pub fn parse(input: &str) -> Result<Self, TrainingUrlError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(TrainingUrlError::Empty);
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(TrainingUrlError::Whitespace);
        }
        if text.chars().count() > Self::MAX_LEN {
            return Err(TrainingUrlError::TooLong);
        }
        let url = url::Url::parse(text).map_err(|_| TrainingUrlError::Invalid)?;
        let host = url.host_str().ok_or(TrainingUrlError::Invalid)?;
        match url.scheme() {
            "https" => {}
            "http" if matches!(host, "localhost" | "127.0.0.1") => {}
            _ => return Err(TrainingUrlError::Scheme),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(TrainingUrlError::Credentials);
        }
        let normal = String::from(url);
        if normal.len() > Self::MAX_LEN {
            // Percent-encoding or punycode made it longer.
            return Err(TrainingUrlError::TooLong);
        }
        Ok(Self(normal))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrainingUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ---------------------------------------------------------------------------------------------------------
// Training

/// A training as stored. Every field is valid by construction: each is a parsed type, and
/// [`TrainingDraft::build`] checks how they fit together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Training {
    pub id: TrainingId,
    /// The title in English.
    pub title: TrainingTitle,
    /// The title in Spanish, when there is one.
    pub title_es: Option<TrainingTitle>,
    /// Start and end, in UTC, to the second; shown in `time_zone`.
    pub starts_at: OffsetDateTime,
    pub ends_at: OffsetDateTime,
    /// IANA time zone name the times are shown in, e.g. `America/New_York` (known to the time zone
    /// database).
    pub time_zone: String,
    /// Where to join it live.
    pub join_url: Option<TrainingUrl>,
    /// Where to watch it afterwards; given to people only once [`Training::is_published`].
    pub recording_url: Option<TrainingUrl>,
    /// When the recording was published (set together with `recording_url`). The scheduler that
    /// sends the recording to everyone registered starts from this.
    pub recording_published_at: Option<OffsetDateTime>,
}

impl Training {
    /// How long it lasts.
    pub fn duration(&self) -> time::Duration {
        self.ends_at - self.starts_at
    }

    /// Its recording is published: people may be given [`Training::published_recording`].
    pub fn is_published(&self) -> bool {
        self.recording_published_at.is_some() && self.recording_url.is_some()
    }

    /// The recording link, once published.
    pub fn published_recording(&self) -> Option<&TrainingUrl> {
        self.recording_published_at.and(self.recording_url.as_ref())
    }

    /// It has not started at `now`.
    pub fn is_upcoming(&self, now: OffsetDateTime) -> bool {
        self.starts_at > now
    }

    /// It is over at `now`: registration is closed.
    pub fn has_ended(&self, now: OffsetDateTime) -> bool {
        now >= self.ends_at
    }

    /// The title to show in `language` (the English one when there is no Spanish one).
    pub fn title_in(&self, language: Language) -> &TrainingTitle {
        match (language, &self.title_es) {
            (Language::Es, Some(title_es)) => title_es,
            _ => &self.title,
        }
    }
}

/// Why a draft cannot become a training. Written for the organizer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrainingError {
    #[error("A training must last at least a minute.")]
    TooShort,
    #[error("A training can last at most 24 hours.")]
    TooLong,
    #[error("{0:?} is not a known time zone (use a name like America/New_York).")]
    UnknownTimeZone(String),
    #[error("A recording can't be published without its link.")]
    PublishedWithoutRecording,
}

/// A training as an organizer describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingDraft {
    pub title: TrainingTitle,
    pub title_es: Option<TrainingTitle>,
    pub starts_at: OffsetDateTime,
    pub duration: time::Duration,
    pub time_zone: String,
    pub join_url: Option<TrainingUrl>,
    pub recording_url: Option<TrainingUrl>,
    pub recording_published_at: Option<OffsetDateTime>,
}

impl TrainingDraft {
    /// Checks the draft and makes it the training `id`. Times are kept to the second, in UTC.
    pub fn build(self, id: TrainingId) -> Result<Training, TrainingError> {
        if self.duration < time::Duration::minutes(1) {
            return Err(TrainingError::TooShort);
        }
        if self.duration > time::Duration::hours(24) {
            return Err(TrainingError::TooLong);
        }
        let time_zone = self.time_zone.trim();
        if super::time_zone::get(time_zone).is_none() {
            return Err(TrainingError::UnknownTimeZone(time_zone.to_string()));
        }
        if self.recording_published_at.is_some() && self.recording_url.is_none() {
            return Err(TrainingError::PublishedWithoutRecording);
        }
        let to_second = |t: OffsetDateTime| {
            let t = t.to_offset(time::UtcOffset::UTC);
            t.replace_nanosecond(0).unwrap_or(t)
        };
        let starts_at = to_second(self.starts_at);
        Ok(Training {
            id,
            title: self.title,
            title_es: self.title_es,
            starts_at,
            ends_at: to_second(starts_at + self.duration),
            time_zone: time_zone.to_string(),
            join_url: self.join_url,
            recording_url: self.recording_url,
            recording_published_at: self.recording_published_at.map(to_second),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> TrainingUrl {
        TrainingUrl::parse(text).unwrap()
    }

    fn draft() -> TrainingDraft {
        TrainingDraft {
            title: TrainingTitle::parse("Overview training").unwrap(),
            title_es: Some(TrainingTitle::parse("Entrenamiento general").unwrap()),
            starts_at: OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap()
                + time::Duration::milliseconds(250),
            duration: time::Duration::minutes(90),
            time_zone: "America/New_York".into(),
            join_url: Some(url("https://rising.invalid/join/overview")),
            recording_url: None,
            recording_published_at: None,
        }
    }

    #[test]
    fn a_training_id_is_a_random_hex_id_or_a_short_slug() {
        let id = TrainingId::random();
        assert_eq!(id.as_str().len(), 32);
        assert_eq!(TrainingId::parse(id.as_str()), Ok(id.clone()));
        assert_ne!(TrainingId::random(), id);
        for slug in ["overview", "host-training", "third-training", "a", "t2"] {
            assert_eq!(TrainingId::parse(slug).unwrap().as_str(), slug);
        }
        assert!(TrainingId::parse(&"a".repeat(40)).is_ok());
    }

    #[test]
    fn a_training_id_refuses_capitals_symbols_edge_hyphens_and_more_than_40_characters() {
        for bad in [
            "",
            "Overview",
            "host_training",
            "host training",
            "-overview",
            "overview-",
            "a#b",
            "é",
            &"a".repeat(41),
        ] {
            assert_eq!(TrainingId::parse(bad), Err(TrainingIdError), "{bad:?}");
        }
    }

    #[test]
    fn a_title_is_trimmed_and_at_most_120_characters_without_control_characters() {
        assert_eq!(
            TrainingTitle::parse("  Host training ").unwrap().as_str(),
            "Host training"
        );
        assert!(TrainingTitle::parse(&"é".repeat(120)).is_ok());
        assert_eq!(
            TrainingTitle::parse(&"é".repeat(121)),
            Err(TrainingTitleError::TooLong)
        );
        assert_eq!(TrainingTitle::parse(" \t"), Err(TrainingTitleError::Empty));
        assert_eq!(
            TrainingTitle::parse("Host\u{0}training"),
            Err(TrainingTitleError::Control)
        );
    }

    #[test]
    fn a_link_is_https_in_normal_form() {
        assert_eq!(
            url(" https://Rising.invalid/r/overview?t=1 ").as_str(),
            "https://rising.invalid/r/overview?t=1"
        );
        assert_eq!(
            url("https://rising.invalid").as_str(),
            "https://rising.invalid/"
        );
        assert_eq!(
            url("https://rising.invalid/r/overview"),
            url("HTTPS://RISING.invalid/r/overview")
        );
    }

    #[test]
    fn a_plain_http_link_is_accepted_only_for_localhost() {
        assert!(TrainingUrl::parse("http://localhost:3000/r/overview").is_ok());
        assert!(TrainingUrl::parse("http://127.0.0.1:3000/r/overview").is_ok());
        assert_eq!(
            TrainingUrl::parse("http://rising.invalid/r/overview"),
            Err(TrainingUrlError::Scheme)
        );
        assert_eq!(
            TrainingUrl::parse("http://localhost.rising.invalid/"),
            Err(TrainingUrlError::Scheme)
        );
    }

    #[test]
    fn a_link_refuses_other_schemes_spaces_credentials_and_excess_length() {
        use TrainingUrlError::*;
        for (bad, why) in [
            ("", Empty),
            ("   ", Empty),
            ("javascript:alert(1)", Invalid),
            ("mailto:someone@rising.invalid", Invalid),
            ("ftp://rising.invalid/r", Scheme),
            ("rising.invalid/r/overview", Invalid),
            ("https://rising.invalid/r/over view", Whitespace),
            ("https://rising.invalid/r/\u{7}", Whitespace),
            ("https://rising.invalid/r\n/x", Whitespace),
            ("https://user:secret@rising.invalid/r", Credentials),
            ("https://user@rising.invalid/r", Credentials),
        ] {
            assert_eq!(TrainingUrl::parse(bad), Err(why), "{bad:?}");
        }
        let long = format!("https://rising.invalid/{}", "a".repeat(500));
        assert_eq!(TrainingUrl::parse(&long), Err(TooLong));
        let at_limit = format!("https://rising.invalid/{}", "a".repeat(500 - 23));
        assert_eq!(at_limit.len(), 500);
        assert!(TrainingUrl::parse(&at_limit).is_ok());
        let grows = format!("https://rising.invalid/{}", "é".repeat(200));
        assert_eq!(TrainingUrl::parse(&grows), Err(TooLong), "percent-encoded");
    }

    #[test]
    fn a_built_training_keeps_its_times_to_the_second_in_utc() {
        let t = draft()
            .build(TrainingId::parse("overview").unwrap())
            .unwrap();
        assert_eq!(t.starts_at.unix_timestamp(), 1_900_000_000);
        assert_eq!(t.starts_at.nanosecond(), 0);
        assert_eq!(t.duration(), time::Duration::minutes(90));
        assert_eq!(t.time_zone, "America/New_York");
        assert!(!t.is_published());
        assert_eq!(t.published_recording(), None);
    }

    #[test]
    fn a_draft_with_an_unknown_time_zone_or_an_odd_length_is_refused() {
        let id = || TrainingId::random();
        let mut d = draft();
        d.time_zone = "Mars/Olympus_Mons".into();
        assert_eq!(
            d.build(id()),
            Err(TrainingError::UnknownTimeZone("Mars/Olympus_Mons".into()))
        );
        let mut d = draft();
        d.duration = time::Duration::ZERO;
        assert_eq!(d.build(id()), Err(TrainingError::TooShort));
        let mut d = draft();
        d.duration = time::Duration::hours(25);
        assert_eq!(d.build(id()), Err(TrainingError::TooLong));
        let mut d = draft();
        d.recording_published_at = Some(d.starts_at);
        assert_eq!(d.build(id()), Err(TrainingError::PublishedWithoutRecording));
    }

    #[test]
    fn a_recording_is_given_out_only_once_published() {
        let mut d = draft();
        d.recording_url = Some(url("https://rising.invalid/r/overview"));
        let staged = d.clone().build(TrainingId::random()).unwrap();
        assert!(!staged.is_published());
        assert_eq!(staged.published_recording(), None);
        d.recording_published_at = Some(d.starts_at + time::Duration::hours(3));
        let published = d.build(TrainingId::random()).unwrap();
        assert!(published.is_published());
        assert_eq!(
            published.published_recording().map(TrainingUrl::as_str),
            Some("https://rising.invalid/r/overview")
        );
    }

    #[test]
    fn a_training_is_upcoming_until_it_starts_and_open_until_it_ends() {
        let t = draft().build(TrainingId::random()).unwrap();
        let before = t.starts_at - time::Duration::seconds(1);
        assert!(t.is_upcoming(before) && !t.has_ended(before));
        assert!(!t.is_upcoming(t.starts_at) && !t.has_ended(t.starts_at));
        assert!(t.has_ended(t.ends_at));
    }

    #[test]
    fn the_spanish_title_is_shown_in_spanish_when_there_is_one() {
        let t = draft().build(TrainingId::random()).unwrap();
        assert_eq!(t.title_in(Language::Es).as_str(), "Entrenamiento general");
        assert_eq!(t.title_in(Language::En).as_str(), "Overview training");
        let mut d = draft();
        d.title_es = None;
        let t = d.build(TrainingId::random()).unwrap();
        assert_eq!(t.title_in(Language::Es).as_str(), "Overview training");
    }
}

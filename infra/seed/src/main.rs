//! `seed --table T --file infra/local/seed/gatherings.json`: writes local development gatherings,
//! keywords and trainings through rising-core's own DynamoDB stores, so seeded items have exactly the
//! shapes the functions write, names and private addresses sealed by KMS like theirs.
//!
//! Reads the AWS environment as the functions do (`AWS_ENDPOINT_URL`, `AWS_REGION`, credentials), the
//! KMS key from `CONTACT_DATA_KEY_ID`, and the table from `--table` or `TABLE_NAME`. Dates in the file
//! of gatherings are relative to today in each gathering's time zone (`"starts_in_days": 5, "at":
//! "18:30"`); trainings are on the movement's calendar, on a fixed date (`"date": "2026-07-16", "at":
//! "20:00"` in their `time_zone`), with a stable `id`. A training's `recording_url` is published (at
//! its end, or now if it has not ended).
//! Running it again changes nothing: a gathering whose code exists, a keyword or a training that
//! exists, is left alone. Prints no names or addresses.

use std::path::PathBuf;
use std::process::ExitCode;

use rising_core::domain::{
    AddressDraft, CampaignKeyword, FirstName, GatheringCode, GatheringDraft, GatheringId,
    GatheringTitle, KeywordTarget, KeywordWord, Language, Training, TrainingDraft, TrainingId,
    TrainingTitle, TrainingUrl, Zip,
};
use rising_core::geo::GeoPoint;
use rising_core::privacy::Sealer;
use rising_core::store::{
    DynamoGatheringStore, DynamoTrainingStore, GatheringStore, KeywordStore, PutGathering,
    PutKeyword, PutTraining, TrainingStore,
};
use serde::Deserialize;
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
enum SeedError {
    #[error("usage: seed [--table TABLE] --file FILE ({0})")]
    Usage(String),
    #[error("{0} is not set")]
    MissingEnv(&'static str),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid seed file: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{entry}: {message}")]
    Entry { entry: String, message: String },
    #[error("{entry}: {source}")]
    Store {
        entry: String,
        source: rising_core::store::StoreError,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    #[serde(default)]
    gatherings: Vec<SeedGathering>,
    #[serde(default)]
    keywords: Vec<SeedKeyword>,
    #[serde(default)]
    trainings: Vec<SeedTraining>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedGathering {
    code: String,
    title: String,
    zip: String,
    /// Days from today (in the gathering's time zone) to the day it meets.
    starts_in_days: i32,
    /// Local start time, `HH:MM`.
    at: String,
    #[serde(default = "default_minutes")]
    duration_minutes: i64,
    address: SeedAddress,
    #[serde(default)]
    location: Option<SeedPoint>,
    #[serde(default)]
    town: Option<String>,
    #[serde(default)]
    timezone: Option<String>,
    host_first_name: String,
    #[serde(default)]
    capacity: Option<u32>,
    #[serde(default)]
    language: Language,
    #[serde(default = "default_listed")]
    listed: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
enum SeedAddress {
    Public(String),
    Private(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedPoint {
    lat: f64,
    lon: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedKeyword {
    word: String,
    kind: SeedKeywordKind,
    language: Language,
    /// For `kind: gathering`: the code of a gathering in this file.
    #[serde(default)]
    gathering: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum SeedKeywordKind {
    Campaign,
    Gathering,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedTraining {
    /// A stable slug (`overview`): the same file seeds the same training every time.
    id: String,
    title: String,
    #[serde(default)]
    title_es: Option<String>,
    /// The day, `YYYY-MM-DD`, in `time_zone`.
    date: String,
    /// Local start time, `HH:MM`.
    at: String,
    time_zone: String,
    #[serde(default = "default_training_minutes")]
    duration_minutes: i64,
    #[serde(default)]
    join_url: Option<String>,
    /// Published when seeded.
    #[serde(default)]
    recording_url: Option<String>,
}

fn default_training_minutes() -> i64 {
    60
}

fn default_minutes() -> i64 {
    120
}

fn default_listed() -> bool {
    true
}

struct Args {
    table: String,
    file: PathBuf,
}

fn parse_args(
    mut args: impl Iterator<Item = String>,
    table_env: Option<String>,
) -> Result<Args, SeedError> {
    let (mut table, mut file) = (table_env, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--table" => {
                table = Some(
                    args.next()
                        .ok_or_else(|| SeedError::Usage("--table needs a value".into()))?,
                )
            }
            "--file" => {
                file =
                    Some(PathBuf::from(args.next().ok_or_else(|| {
                        SeedError::Usage("--file needs a value".into())
                    })?))
            }
            other => return Err(SeedError::Usage(format!("unknown argument {other}"))),
        }
    }
    Ok(Args {
        table: table
            .filter(|t| !t.is_empty())
            .ok_or_else(|| SeedError::Usage("no --table and no TABLE_NAME".into()))?,
        file: file.ok_or_else(|| SeedError::Usage("--file is required".into()))?,
    })
}

/// Today + `days` at local `at` (`HH:MM`) in `timezone`, as a UTC instant.
fn local_start(
    timezone: &str,
    days: i32,
    at: &str,
    today: jiff::Timestamp,
) -> Result<OffsetDateTime, String> {
    let tz = rising_core::domain::time_zone::get(timezone)
        .ok_or_else(|| format!("time zone {timezone}: not a US time zone"))?;
    let time: jiff::civil::Time = at
        .parse()
        .map_err(|e| format!("\"at\" must be HH:MM: {e}"))?;
    let date = today
        .to_zoned(tz.clone())
        .date()
        .checked_add(jiff::Span::new().days(days))
        .map_err(|e| format!("starts_in_days: {e}"))?;
    let zoned = date
        .to_datetime(time)
        .to_zoned(tz)
        .map_err(|e| format!("local time: {e}"))?;
    OffsetDateTime::from_unix_timestamp(zoned.timestamp().as_second()).map_err(|e| e.to_string())
}

/// `date` (`YYYY-MM-DD`) at local `at` (`HH:MM`) in `timezone`, as a UTC instant.
fn local_instant(timezone: &str, date: &str, at: &str) -> Result<OffsetDateTime, String> {
    let tz = rising_core::domain::time_zone::get(timezone)
        .ok_or_else(|| format!("time zone {timezone}: not a US time zone"))?;
    let date: jiff::civil::Date = date
        .parse()
        .map_err(|e| format!("\"date\" must be YYYY-MM-DD: {e}"))?;
    let time: jiff::civil::Time = at
        .parse()
        .map_err(|e| format!("\"at\" must be HH:MM: {e}"))?;
    let zoned = date
        .to_datetime(time)
        .to_zoned(tz)
        .map_err(|e| format!("local time: {e}"))?;
    OffsetDateTime::from_unix_timestamp(zoned.timestamp().as_second()).map_err(|e| e.to_string())
}

fn training(seed: &SeedTraining, now: OffsetDateTime) -> Result<Training, String> {
    let url = |what: &str, text: &Option<String>| {
        text.as_deref()
            .map(|u| TrainingUrl::parse(u).map_err(|e| format!("{what}: {e}")))
            .transpose()
    };
    let title =
        |what: &str, text: &str| TrainingTitle::parse(text).map_err(|e| format!("{what}: {e}"));
    let starts_at = local_instant(&seed.time_zone, &seed.date, &seed.at)?;
    let duration = time::Duration::minutes(seed.duration_minutes);
    let recording_url = url("recording_url", &seed.recording_url)?;
    let recording_published_at = recording_url
        .as_ref()
        .map(|_| (starts_at + duration).min(now));
    TrainingDraft {
        title: title("title", &seed.title)?,
        title_es: seed
            .title_es
            .as_deref()
            .map(|t| title("title_es", t))
            .transpose()?,
        starts_at,
        duration,
        time_zone: seed.time_zone.clone(),
        join_url: url("join_url", &seed.join_url)?,
        recording_url,
        recording_published_at,
    }
    .build(TrainingId::parse(&seed.id).map_err(|e| format!("id: {e}"))?)
    .map_err(|e| e.to_string())
}

fn draft(seed: &SeedGathering, today: jiff::Timestamp) -> Result<GatheringDraft, String> {
    let zip = Zip::parse(&seed.zip).map_err(|e| format!("zip: {e}"))?;
    let timezone = seed
        .timezone
        .clone()
        .or_else(|| zip.timezone().map(str::to_string))
        .ok_or("no time zone: give \"timezone\"")?;
    let starts_at = local_start(&timezone, seed.starts_in_days, &seed.at, today)?;
    let location = match &seed.location {
        Some(p) => Some(GeoPoint::new(p.lat, p.lon).map_err(|e| format!("location: {e}"))?),
        None => None,
    };
    Ok(GatheringDraft {
        code: GatheringCode::parse(&seed.code).map_err(|e| format!("code: {e}"))?,
        title: GatheringTitle::parse(&seed.title).map_err(|e| format!("title: {e}"))?,
        starts_at,
        ends_at: starts_at + time::Duration::minutes(seed.duration_minutes),
        zip,
        timezone: Some(timezone),
        town: seed.town.clone(),
        location,
        address: match &seed.address {
            SeedAddress::Public(a) => AddressDraft::Public(a.clone()),
            SeedAddress::Private(a) => AddressDraft::Private(a.clone()),
        },
        host_first_name: FirstName::parse(&seed.host_first_name)
            .map_err(|e| format!("host_first_name: {e}"))?,
        capacity: seed.capacity,
        language: seed.language,
        listed: seed.listed,
        host: None,
        description: String::new(),
        accessibility: String::new(),
    })
}

async fn seed_gatherings(
    store: &DynamoGatheringStore,
    sealer: &Sealer,
    seeds: &[SeedGathering],
    now: OffsetDateTime,
) -> Result<(), SeedError> {
    let today =
        jiff::Timestamp::from_second(now.unix_timestamp()).map_err(|e| SeedError::Entry {
            entry: "now".into(),
            message: e.to_string(),
        })?;
    for seed in seeds {
        let entry = format!("gathering {}", seed.code);
        let draft = draft(seed, today).map_err(|message| SeedError::Entry {
            entry: entry.clone(),
            message,
        })?;
        let (code, town, state, starts_at) = (
            draft.code.clone(),
            draft.zip.city(),
            draft.zip.state(),
            draft.starts_at,
        );
        let gathering = draft
            .seal(GatheringId::random(), sealer)
            .await
            .map_err(|e| SeedError::Entry {
                entry: entry.clone(),
                message: e.to_string(),
            })?;
        let outcome = store
            .put(&gathering, now)
            .await
            .map_err(|source| SeedError::Store {
                entry: entry.clone(),
                source,
            })?;
        let verb = match outcome {
            PutGathering::Created => "seeded",
            PutGathering::AlreadyExists | PutGathering::CodeTaken => "already there:",
        };
        let starts = starts_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        println!("seed: {verb} gathering {code} ({town} {state}, starts {starts})");
    }
    Ok(())
}

async fn seed_keywords(
    store: &DynamoGatheringStore,
    seeds: &[SeedKeyword],
    now: OffsetDateTime,
) -> Result<(), SeedError> {
    for seed in seeds {
        let entry = format!("keyword {}", seed.word);
        let fail = |message: String| SeedError::Entry {
            entry: entry.clone(),
            message,
        };
        let word = KeywordWord::parse(&seed.word).map_err(|e| fail(e.to_string()))?;
        let target = match (seed.kind, &seed.gathering) {
            (SeedKeywordKind::Campaign, None) => KeywordTarget::Campaign,
            (SeedKeywordKind::Gathering, Some(code)) => {
                let code = GatheringCode::parse(code).map_err(|e| fail(e.to_string()))?;
                let gathering = store
                    .by_code(&code)
                    .await
                    .map_err(|source| SeedError::Store {
                        entry: entry.clone(),
                        source,
                    })?
                    .ok_or_else(|| fail(format!("no gathering has the code {code}")))?;
                KeywordTarget::Gathering(gathering.id)
            }
            (SeedKeywordKind::Campaign, Some(_)) => {
                return Err(fail("a campaign keyword has no \"gathering\"".into()));
            }
            (SeedKeywordKind::Gathering, None) => {
                return Err(fail("a gathering keyword needs \"gathering\"".into()));
            }
        };
        let keyword = CampaignKeyword {
            word,
            target,
            language: seed.language,
        };
        let outcome =
            store
                .put_keyword(&keyword, now)
                .await
                .map_err(|source| SeedError::Store {
                    entry: entry.clone(),
                    source,
                })?;
        match outcome {
            PutKeyword::Created => println!(
                "seed: seeded keyword {} ({})",
                keyword.word,
                keyword.language.code()
            ),
            PutKeyword::AlreadyExists => println!("seed: already there: keyword {}", keyword.word),
            PutKeyword::TakenByGatheringCode => {
                return Err(fail("a gathering uses this word as its code".into()));
            }
        }
    }
    Ok(())
}

async fn seed_trainings(
    store: &DynamoTrainingStore,
    seeds: &[SeedTraining],
    now: OffsetDateTime,
) -> Result<(), SeedError> {
    for seed in seeds {
        let entry = format!("training {}", seed.id);
        let training = training(seed, now).map_err(|message| SeedError::Entry {
            entry: entry.clone(),
            message,
        })?;
        let outcome =
            store
                .put_training(&training, now)
                .await
                .map_err(|source| SeedError::Store {
                    entry: entry.clone(),
                    source,
                })?;
        let verb = match outcome {
            PutTraining::Created => "seeded",
            PutTraining::AlreadyExists => "already there:",
        };
        let starts = training
            .starts_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let recording = if training.is_published() {
            "recording published"
        } else {
            "no recording yet"
        };
        println!(
            "seed: {verb} training {} (starts {starts}, {recording})",
            training.id
        );
    }
    Ok(())
}

async fn run() -> Result<(), SeedError> {
    let args = parse_args(std::env::args().skip(1), std::env::var("TABLE_NAME").ok())?;
    let key_id = std::env::var("CONTACT_DATA_KEY_ID")
        .ok()
        .filter(|k| !k.is_empty())
        .ok_or(SeedError::MissingEnv("CONTACT_DATA_KEY_ID"))?;
    let text = std::fs::read_to_string(&args.file).map_err(|source| SeedError::Read {
        path: args.file.clone(),
        source,
    })?;
    let file: SeedFile = serde_json::from_str(&text).map_err(|source| SeedError::Parse {
        path: args.file.clone(),
        source,
    })?;

    let sdk = rising_core::aws::load_with_profiles().await;
    let dynamodb = rising_core::aws::dynamodb(&sdk);
    let trainings = DynamoTrainingStore::new(dynamodb.clone(), args.table.clone());
    let store = DynamoGatheringStore::new(dynamodb, args.table);
    let sealer = Sealer::from_sdk(&sdk, key_id);
    let now = OffsetDateTime::now_utc();
    seed_gatherings(&store, &sealer, &file.gatherings, now).await?;
    seed_keywords(&store, &file.keywords, now).await?;
    seed_trainings(&trainings, &file.trainings, now).await?;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("seed: error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> jiff::Timestamp {
        // 2030-01-15 12:00 UTC: winter in the northern hemisphere.
        jiff::Timestamp::from_second(1_894_708_800).unwrap()
    }

    #[test]
    fn a_local_start_time_becomes_utc_in_the_gatherings_time_zone() {
        let start = local_start("America/Chicago", 5, "18:30", today()).unwrap();
        assert_eq!(start.to_string(), "2030-01-21 0:30:00.0 +00:00:00");
        let summer = local_start("America/New_York", 180, "09:00", today()).unwrap();
        assert_eq!((summer.hour(), summer.minute()), (13, 0), "EDT is UTC-4");
    }

    #[test]
    fn the_shipped_seed_file_parses_and_every_gathering_is_valid() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../local/seed/gatherings.json");
        let file: SeedFile = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert!(file.gatherings.len() >= 5);
        for seed in &file.gatherings {
            let draft = draft(seed, today()).unwrap();
            assert!(draft.ends_at > draft.starts_at, "{}", seed.code);
        }
        let words: Vec<&str> = file.keywords.iter().map(|k| k.word.as_str()).collect();
        for word in ["RISING", "JOIN", "UNIRME"] {
            assert!(words.contains(&word), "{word}");
        }
    }

    #[test]
    fn a_training_date_is_a_local_time_on_the_calendar() {
        let start = local_instant("America/New_York", "2026-07-16", "20:00").unwrap();
        assert_eq!(start.to_string(), "2026-07-17 0:00:00.0 +00:00:00");
        assert!(local_instant("America/New_York", "16/07/2026", "20:00").is_err());
        assert!(local_instant("America/New_York", "2026-07-16", "8pm").is_err());
    }

    #[test]
    fn the_shipped_trainings_are_the_calendars_three_with_stable_ids() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../local/seed/gatherings.json");
        let file: SeedFile = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let now = OffsetDateTime::from_unix_timestamp(1_894_708_800).unwrap();
        let trainings: Vec<Training> = file
            .trainings
            .iter()
            .map(|seed| training(seed, now).unwrap())
            .collect();
        let ids: Vec<&str> = trainings.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["overview", "host-training", "third-training"]);
        let days: Vec<String> = trainings
            .iter()
            .map(|t| t.starts_at.date().to_string())
            .collect();
        assert_eq!(
            days,
            ["2026-07-17", "2026-07-31", "2026-08-14"],
            "20:00 EDT is 00:00 UTC"
        );
        let published: Vec<bool> = trainings.iter().map(Training::is_published).collect();
        assert_eq!(published, [true, true, false]);
        for t in &trainings {
            assert!(t.title_es.is_some() && t.join_url.is_some(), "{}", t.id);
            assert_eq!(t.time_zone, "America/New_York");
        }
        assert_eq!(
            trainings[0].recording_published_at,
            Some(trainings[0].ends_at),
            "published at its end, once it has ended"
        );
        assert_eq!(
            training(&file.trainings[0], now).unwrap(),
            trainings[0],
            "the same every time"
        );
    }

    #[test]
    fn arguments_name_the_table_and_the_file() {
        let args = |v: &[&str]| {
            v.iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .into_iter()
        };
        let parsed = parse_args(args(&["--table", "T", "--file", "f.json"]), None).unwrap();
        assert_eq!(
            (parsed.table.as_str(), parsed.file),
            ("T", PathBuf::from("f.json"))
        );
        assert_eq!(
            parse_args(args(&["--file", "f.json"]), Some("E".into()))
                .unwrap()
                .table,
            "E"
        );
        assert!(parse_args(args(&["--file", "f.json"]), None).is_err());
        assert!(parse_args(args(&["--table", "T"]), None).is_err());
        assert!(parse_args(args(&["--nope"]), None).is_err());
    }
}

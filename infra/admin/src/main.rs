//! `rising-admin`: organizer tools, run with the organizer's own AWS credentials against a deployed
//! stack (or the local one). Parses arguments, reads the same environment as the functions
//! (`TABLE_NAME`, `CONTACT_HASH_KEY_PARAMETER`, `AWS_REGION`, `AWS_ENDPOINT_URL`, credentials; locally
//! the key itself may be given as `CONTACT_HASH_KEY`), builds the clients, and calls
//! `rising_core::admin`. The phone or email typed is never printed back nor logged. `trainings` and
//! `publish-recording` need only the table.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use rising_core::admin::recordings::utc;
use rising_core::admin::{
    AdminError, CampaignExportRequest, Collection, ConsentExportRequest, ContactDetail,
    DynamoAdminStore, ErasureRequest, ExportFormat, Organizer, PublishError, Reason,
    RecordingRequest, erase_on_request, export_campaign, export_consent, list_audit,
    list_trainings, preview_recording, publish_recording, render_audit, render_trainings,
};
use rising_core::domain::{EmailAddress, PhoneNumber, TrainingId, TrainingUrl};
use rising_core::privacy::{ContactHasher, Sealer};
use rising_core::secrets::{SecretStore, SsmSecretStore};
use rising_core::store::{DynamoGatheringStore, DynamoInboundStore, DynamoTrainingStore};
use time::{Date, OffsetDateTime};

const USAGE: &str = "\
usage:
  rising-admin consent (--phone NUMBER | --email ADDRESS) --by WHO [--format json|csv]
      Prints the person's consent evidence (every opt-in, opt-out and erasure record, oldest first).
  rising-admin forget (--phone NUMBER | --email ADDRESS) --by WHO [--reason TEXT] [--yes]
      Erases the person, as a DELETE text does, for a request received elsewhere. Asks first
      unless --yes.
  rising-admin exports [--since YYYY-MM-DD] [--format json|csv]
      Lists recorded exports and erasures (default: the last 365 days).
  rising-admin osdi --by WHO [--type all|people|events|attendances] [--format json|csv]
      Exports the campaign for Action Network, Mobilize and other OSDI tools: people (names,
      the email and phone they gave, subscription status, consent evidence), events (gatherings;
      private addresses never) and attendances (RSVPs with referrer_data). JSON holds every
      collection (default --type all); a CSV file holds one (--type is required). Recorded first.
  rising-admin trainings
      Lists the trainings, past and upcoming: id, start (UTC), whether the recording is
      published, how many people are registered, title.
  rising-admin publish-recording --training ID --url URL --by WHO [--yes]
      Publishes the training's recording (an https link): the scheduler sends it within 5
      minutes to everyone registered, once each. A recording is published once. Asks first
      unless --yes. Recorded first.

  --by WHO     your name or email (required; at most 100 characters, one line), recorded with
               what you do. consent, forget, osdi and publish-recording are recorded before
               anything is printed, erased or published.
  --table T    the DynamoDB table (default: TABLE_NAME)

environment: TABLE_NAME, CONTACT_HASH_KEY_PARAMETER (SSM name of the contact hash key; locally the
key itself may be given as CONTACT_HASH_KEY), CONTACT_DATA_KEY_ID (osdi: the KMS key that opens
names and contact details), AWS_REGION, AWS_PROFILE or credentials,
AWS_ENDPOINT_URL (local stack only).";

/// How long `exports` looks back without `--since`.
const DEFAULT_LOOKBACK_DAYS: i64 = 365;

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("{0}\n\n{USAGE}")]
    Usage(String),
    #[error("{0} is not set")]
    MissingEnv(&'static str),
    #[error("{0}")]
    Config(String),
    /// What was not done: `erased`, `published`.
    #[error("cancelled: nothing was {0}")]
    Cancelled(&'static str),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error(transparent)]
    Store(#[from] rising_core::store::StoreError),
    #[error("cannot write the output: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Debug, PartialEq, Eq)]
enum Command {
    Consent {
        contact: ContactDetail,
        by: Organizer,
        format: ExportFormat,
    },
    Forget {
        contact: ContactDetail,
        by: Organizer,
        reason: Option<Reason>,
        yes: bool,
    },
    Exports {
        since: Option<Date>,
        format: ExportFormat,
    },
    Osdi {
        by: Organizer,
        collection: Collection,
        format: ExportFormat,
    },
    Trainings,
    PublishRecording {
        training: TrainingId,
        url: TrainingUrl,
        by: Organizer,
        yes: bool,
    },
    Help,
}

#[derive(Debug, PartialEq, Eq)]
struct Args {
    command: Command,
    table: Option<String>,
}

fn usage(message: impl Into<String>) -> CliError {
    CliError::Usage(message.into())
}

/// Parses the arguments. Error messages name flags, never the values given (a value may be a
/// phone number or an email address).
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Args, CliError> {
    let mut args = args.into_iter();
    let command = match args.next().as_deref() {
        None | Some("help" | "--help" | "-h") => {
            return Ok(Args {
                command: Command::Help,
                table: None,
            });
        }
        Some(
            c @ ("consent" | "forget" | "exports" | "osdi" | "trainings" | "publish-recording"),
        ) => c.to_string(),
        Some(_) => return Err(usage("unknown command")),
    };
    let (mut phone, mut email, mut by, mut format, mut reason, mut since, mut table) =
        (None, None, None, None, None, None, None);
    let (mut collection, mut training, mut url) = (None, None, None);
    let mut yes = false;
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (arg, None),
        };
        if flag == "--yes" || flag == "-y" {
            if inline.is_some() {
                return Err(usage("--yes takes no value"));
            }
            yes = true;
            continue;
        }
        if flag == "--help" || flag == "-h" {
            return Ok(Args {
                command: Command::Help,
                table: None,
            });
        }
        let slot = match flag.as_str() {
            "--phone" => &mut phone,
            "--email" => &mut email,
            "--by" => &mut by,
            "--format" => &mut format,
            "--reason" => &mut reason,
            "--since" => &mut since,
            "--table" => &mut table,
            "--type" => &mut collection,
            "--training" => &mut training,
            "--url" => &mut url,
            f if f.starts_with("--") => {
                return Err(usage(format!("unknown option {f}")));
            }
            // Never echoed: it may be the phone or email typed without its flag.
            _ => return Err(usage("unexpected argument (not shown)")),
        };
        let value = match inline {
            Some(v) => v,
            None => args
                .next()
                .ok_or_else(|| usage(format!("{flag} needs a value")))?,
        };
        if slot.replace(value).is_some() {
            return Err(usage(format!("{flag} is given twice")));
        }
    }
    let format = match format {
        None => ExportFormat::Json,
        Some(f) => ExportFormat::parse(&f).ok_or_else(|| usage("--format is json or csv"))?,
    };
    let allowed = |name: &str, present: bool, ok: bool| -> Result<(), CliError> {
        if present && !ok {
            Err(usage(format!("{name} does not apply to {command}")))
        } else {
            Ok(())
        }
    };
    let person = command == "consent" || command == "forget";
    let publish = command == "publish-recording";
    allowed("--phone", phone.is_some(), person)?;
    allowed("--email", email.is_some(), person)?;
    allowed(
        "--by",
        by.is_some(),
        command != "exports" && command != "trainings",
    )?;
    allowed("--type", collection.is_some(), command == "osdi")?;
    allowed("--reason", reason.is_some(), command == "forget")?;
    allowed("--yes", yes, command == "forget" || publish)?;
    allowed("--since", since.is_some(), command == "exports")?;
    allowed("--training", training.is_some(), publish)?;
    allowed("--url", url.is_some(), publish)?;
    allowed(
        "--format",
        format != ExportFormat::Json,
        command != "forget" && command != "trainings" && !publish,
    )?;

    let command = if command == "trainings" {
        Command::Trainings
    } else if publish {
        let training = training
            .ok_or_else(|| usage("--training is required: the training's id (see `trainings`)"))?;
        let training =
            TrainingId::parse(&training).map_err(|e| usage(format!("--training: {e}")))?;
        let url = url.ok_or_else(|| usage("--url is required: the link to the recording"))?;
        let url = TrainingUrl::parse(&url).map_err(|e| usage(format!("--url: {e}")))?;
        Command::PublishRecording {
            training,
            url,
            by: Organizer::parse(by.as_deref().unwrap_or_default())?,
            yes,
        }
    } else if command == "osdi" {
        let collection = match collection {
            None if format == ExportFormat::Csv => {
                return Err(usage(
                    "a CSV file holds one collection: give --type people, events or attendances",
                ));
            }
            None => Collection::All,
            Some(c) => Collection::parse(&c)
                .ok_or_else(|| usage("--type is all, people, events or attendances"))?,
        };
        Command::Osdi {
            by: Organizer::parse(by.as_deref().unwrap_or_default())?,
            collection,
            format,
        }
    } else if person {
        let contact = match (phone, email) {
            (Some(p), None) => ContactDetail::Phone(
                PhoneNumber::parse(&p).map_err(|e| usage(format!("--phone: {e}")))?,
            ),
            (None, Some(e)) => ContactDetail::Email(
                EmailAddress::parse(&e).map_err(|e| usage(format!("--email: {e}")))?,
            ),
            _ => return Err(usage("give exactly one of --phone and --email")),
        };
        let by = Organizer::parse(by.as_deref().unwrap_or_default())?;
        if command == "consent" {
            Command::Consent {
                contact,
                by,
                format,
            }
        } else {
            Command::Forget {
                contact,
                by,
                reason: Reason::parse(reason.as_deref().unwrap_or_default())?,
                yes,
            }
        }
    } else {
        let since = match since {
            None => None,
            Some(s) => Some(
                Date::parse(
                    &s,
                    time::macros::format_description!("[year]-[month]-[day]"),
                )
                .map_err(|_| usage("--since is a date: YYYY-MM-DD"))?,
            ),
        };
        Command::Exports { since, format }
    };
    Ok(Args { command, table })
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The contact hash key: from SSM (`CONTACT_HASH_KEY_PARAMETER`, as the functions read it), or
/// given directly (`CONTACT_HASH_KEY`, local stack). When both are set they must agree: a wrong
/// key finds nobody and would erase a stranger's hash.
async fn contact_hasher(sdk: &rising_core::aws::SdkConfig) -> Result<ContactHasher, CliError> {
    let given = env("CONTACT_HASH_KEY");
    let key = match env("CONTACT_HASH_KEY_PARAMETER") {
        Some(name) => {
            let stored = SsmSecretStore::from_sdk(sdk)
                .fetch(&name)
                .await
                .map_err(|e| CliError::Config(e.to_string()))?;
            if given.as_deref().is_some_and(|g| g.trim() != stored.trim()) {
                return Err(CliError::Config(
                    "CONTACT_HASH_KEY differs from the key in CONTACT_HASH_KEY_PARAMETER; unset one"
                        .into(),
                ));
            }
            stored
        }
        None => given.ok_or(CliError::MissingEnv("CONTACT_HASH_KEY_PARAMETER"))?,
    };
    ContactHasher::from_base64(&key).map_err(|e| CliError::Config(e.to_string()))
}

/// Asks `question` on stderr, reads one line of stdin: only `yes` (or `y`) goes ahead; anything
/// else is cancelled, saying nothing was `undone` (`erased`, `published`).
fn confirm(question: &str, undone: &'static str) -> Result<(), CliError> {
    let mut stderr = std::io::stderr();
    write!(stderr, "{question} Type yes: ")?;
    stderr.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "yes" | "y") {
        Ok(())
    } else {
        Err(CliError::Cancelled(undone))
    }
}

/// `1 registered person`, `3 registered people`.
fn registered_people(count: usize) -> String {
    match count {
        1 => "1 registered person".into(),
        n => format!("{n} registered people"),
    }
}

/// What the scheduler does with a published recording.
fn who_gets_it(registrants: usize) -> String {
    format!(
        "The scheduler sends it within 5 minutes to {}, once each.",
        registered_people(registrants)
    )
}

async fn run(args: Args) -> Result<(), CliError> {
    if args.command == Command::Help {
        println!("{USAGE}");
        return Ok(());
    }
    let table = args
        .table
        .or_else(|| env("TABLE_NAME"))
        .ok_or(CliError::MissingEnv("TABLE_NAME"))?;
    let sdk = rising_core::aws::load_with_profiles().await;
    let dynamodb = rising_core::aws::dynamodb(&sdk);
    let admin = DynamoAdminStore::new(dynamodb.clone(), table.clone());
    let now = OffsetDateTime::now_utc();
    match args.command {
        Command::Help => {}
        Command::Consent {
            contact,
            by,
            format,
        } => {
            let hasher = contact_hasher(&sdk).await?;
            let request = ConsentExportRequest {
                contact: &contact,
                by: &by,
                format,
            };
            let mut stdout = std::io::stdout();
            let exported =
                export_consent(&admin, &admin, &hasher, &request, now, &mut stdout).await?;
            eprintln!(
                "rising-admin: {} consent record(s) exported; recorded as audit {}",
                exported.rows, exported.audit_id
            );
        }
        Command::Forget {
            contact,
            by,
            reason,
            yes,
        } => {
            let hasher = contact_hasher(&sdk).await?;
            if !yes {
                confirm(
                    &format!(
                        "Erase the person with this {} from rising? Their contact details, name, \
                         conversation and RSVPs go; a suppression and the consent evidence stay. \
                         This cannot be undone.",
                        contact.kind()
                    ),
                    "erased",
                )?;
            }
            let inbound = DynamoInboundStore::new(dynamodb.clone(), table.clone());
            let gatherings = DynamoGatheringStore::new(dynamodb, table);
            let request = ErasureRequest {
                contact: &contact,
                by: &by,
                reason: reason.as_ref(),
            };
            let report = erase_on_request(
                &inbound,
                &gatherings,
                &admin,
                &admin,
                &hasher,
                &request,
                now,
            )
            .await?;
            if !report.known {
                println!(
                    "rising knew no one with this {}: recorded as suppressed, so they are never contacted.",
                    contact.kind()
                );
            }
            println!(
                "erased: {} RSVP(s), {} other item(s) removed",
                report.rsvps, report.items
            );
            println!(
                "kept: the suppression and {} consent record(s) (the erasure's included)",
                report.evidence_kept
            );
            println!("request id: {}", report.reference);
            println!("audit: {}", report.audit_id);
        }
        Command::Osdi {
            by,
            collection,
            format,
        } => {
            let key =
                env("CONTACT_DATA_KEY_ID").ok_or(CliError::MissingEnv("CONTACT_DATA_KEY_ID"))?;
            let sealer = Sealer::from_sdk(&sdk, key);
            let request = CampaignExportRequest {
                by: &by,
                format,
                collection,
            };
            let mut stdout = std::io::stdout();
            let exported =
                export_campaign(&admin, &admin, &sealer, &request, now, &mut stdout).await?;
            eprintln!(
                "rising-admin: {} people, {} event(s), {} attendance(s) exported ({} joined by text only: \
                 no stored contact detail); recorded as audit {}",
                exported.people,
                exported.events,
                exported.attendances,
                exported.text_only,
                exported.audit_id
            );
        }
        Command::Trainings => {
            let trainings = DynamoTrainingStore::new(dynamodb, table);
            let summaries = list_trainings(&trainings).await?;
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(render_trainings(&summaries).as_bytes())?;
            stdout.flush()?;
        }
        Command::PublishRecording {
            training,
            url,
            by,
            yes,
        } => {
            let trainings = DynamoTrainingStore::new(dynamodb, table);
            if !yes {
                let preview = preview_recording(&trainings, &training).await?;
                let t = &preview.training;
                let not_over = if t.has_ended(now) {
                    ""
                } else {
                    "\nNote: this training has not ended yet."
                };
                confirm(
                    &format!(
                        "Publish the recording of \"{}\" ({}, starts {})?\n  {url}\n{}{not_over}\n\
                         A recording is published once: this link cannot be changed afterwards.",
                        t.title,
                        t.id,
                        utc(t.starts_at),
                        who_gets_it(preview.registrants),
                    ),
                    "published",
                )?;
            }
            let request = RecordingRequest {
                training: &training,
                url: &url,
                by: &by,
            };
            let published = publish_recording(&trainings, &admin, &request, now).await?;
            let t = &published.training;
            println!(
                "published: the recording of \"{}\" ({}, starts {}): {url}",
                t.title,
                t.id,
                utc(t.starts_at)
            );
            println!("{}", who_gets_it(published.registrants));
            println!("audit: {}", published.audit_id);
        }
        Command::Exports { since, format } => {
            let since =
                since.unwrap_or_else(|| (now - time::Duration::days(DEFAULT_LOOKBACK_DAYS)).date());
            let entries = list_audit(&admin, since, now).await?;
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(render_audit(&entries, since, format).as_bytes())?;
            stdout.flush()?;
        }
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("rising-admin: {e}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rising-admin: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, CliError> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    fn message(result: Result<Args, CliError>) -> String {
        result.expect_err("refused").to_string()
    }

    #[test]
    fn consent_takes_a_phone_or_an_email_and_who_asks() {
        let args = parse(&[
            "consent",
            "--phone",
            "(202) 555-0143",
            "--by",
            "Dana",
            "--format",
            "csv",
        ])
        .unwrap();
        let Command::Consent {
            contact,
            by,
            format,
        } = args.command
        else {
            panic!("consent")
        };
        assert_eq!(contact.kind(), "phone");
        assert_eq!((by.as_str(), format), ("Dana", ExportFormat::Csv));
        let args = parse(&["consent", "--email=Marisol@Example.org", "--by=Dana"]).unwrap();
        assert!(matches!(
            args.command,
            Command::Consent {
                format: ExportFormat::Json,
                ..
            }
        ));
    }

    #[test]
    fn by_is_required_and_one_line() {
        assert!(
            message(parse(&["consent", "--phone", "+12025550143"])).contains("--by is required")
        );
        assert!(
            message(parse(&[
                "consent",
                "--phone",
                "+12025550143",
                "--by",
                "Dana\r\nX"
            ]))
            .contains("one line")
        );
        let long = "x".repeat(101);
        assert!(
            message(parse(&["forget", "--phone", "+12025550143", "--by", &long])).contains("100")
        );
    }

    #[test]
    fn errors_never_repeat_the_phone_or_email_typed() {
        for args in [
            &["consent", "+12025550143", "--by", "Dana"][..],
            &["consent", "--phone", "+1202555014", "--by", "Dana"],
            &[
                "consent",
                "--phone",
                "+12025550143",
                "--email",
                "a@b.org",
                "--by",
                "Dana",
            ],
            &["forget", "--email", "not-an-email@", "--by", "Dana"],
            &[
                "consent",
                "--phone",
                "+12025550143",
                "--phone",
                "+12025550143",
                "--by",
                "D",
            ],
        ] {
            let text = message(parse(args));
            assert!(
                !text.contains("202555014")
                    && !text.contains("a@b.org")
                    && !text.contains("not-an-email"),
                "{text}"
            );
        }
    }

    #[test]
    fn forget_takes_a_reason_and_yes_and_exports_a_date() {
        let args = parse(&[
            "forget",
            "--phone",
            "+12025550143",
            "--by",
            "Dana",
            "--reason",
            "letter",
            "--yes",
        ])
        .unwrap();
        let Command::Forget { reason, yes, .. } = args.command else {
            panic!("forget")
        };
        assert_eq!((reason.unwrap().as_str(), yes), ("letter", true));
        let args = parse(&["exports", "--since", "2026-04-01", "--table", "T"]).unwrap();
        assert_eq!(args.table.as_deref(), Some("T"));
        assert!(
            matches!(args.command, Command::Exports { since: Some(d), .. } if d.to_string() == "2026-04-01")
        );
        assert!(message(parse(&["exports", "--since", "April"])).contains("YYYY-MM-DD"));
        assert!(message(parse(&["exports", "--by", "Dana"])).contains("does not apply"));
        assert!(
            message(parse(&[
                "consent",
                "--phone",
                "+12025550143",
                "--by",
                "D",
                "--yes"
            ]))
            .contains("does not apply")
        );
        assert!(message(parse(&["nuke"])).contains("unknown command"));
        assert_eq!(parse(&[]).unwrap().command, Command::Help);
    }

    #[test]
    fn osdi_takes_who_asks_and_one_collection_per_csv() {
        let args = parse(&["osdi", "--by", "Dana"]).unwrap();
        assert!(matches!(
            args.command,
            Command::Osdi {
                collection: Collection::All,
                format: ExportFormat::Json,
                ..
            }
        ));
        let args = parse(&["osdi", "--by=Dana", "--type=people", "--format=csv"]).unwrap();
        assert!(matches!(
            args.command,
            Command::Osdi {
                collection: Collection::People,
                format: ExportFormat::Csv,
                ..
            }
        ));
        assert!(message(parse(&["osdi"])).contains("--by is required"));
        assert!(message(parse(&["osdi", "--by", "Dana", "--format", "csv"])).contains("--type"));
        assert!(
            message(parse(&["osdi", "--by", "Dana", "--type", "donors"])).contains("--type is")
        );
        assert!(
            message(parse(&["osdi", "--by", "Dana", "--phone", "+12025550143"]))
                .contains("--phone does not apply")
        );
        assert!(
            message(parse(&[
                "consent",
                "--email",
                "a@example.org",
                "--by",
                "D",
                "--type",
                "people"
            ]))
            .contains("--type does not apply")
        );
    }

    #[test]
    fn publish_recording_takes_a_training_a_link_who_publishes_and_yes() {
        let args = parse(&[
            "publish-recording",
            "--training",
            "host-training",
            "--url",
            "https://Video.example.org/host",
            "--by",
            "Dana",
        ])
        .unwrap();
        let Command::PublishRecording {
            training,
            url,
            by,
            yes,
        } = args.command
        else {
            panic!("publish-recording")
        };
        assert_eq!(training.as_str(), "host-training");
        assert_eq!(url.as_str(), "https://video.example.org/host", "normalised");
        assert_eq!((by.as_str(), yes), ("Dana", false));
        let args = parse(&[
            "publish-recording",
            "--training=overview",
            "--url=https://example.org/r",
            "--by=Dana",
            "--yes",
            "--table",
            "T",
        ])
        .unwrap();
        assert!(matches!(
            args.command,
            Command::PublishRecording { yes: true, .. }
        ));
        assert_eq!(args.table.as_deref(), Some("T"));
    }

    #[test]
    fn publish_recording_refuses_a_missing_or_unusable_training_link_or_organizer() {
        let publish = |extra: &[&str]| {
            let mut args = vec!["publish-recording"];
            args.extend_from_slice(extra);
            message(parse(&args))
        };
        let (t, u, b) = (
            ["--training", "overview"],
            ["--url", "https://example.org/r"],
            ["--by", "Dana"],
        );
        assert!(publish(&[&u[..], &b[..]].concat()).contains("--training is required"));
        assert!(publish(&[&t[..], &b[..]].concat()).contains("--url is required"));
        assert!(publish(&[&t[..], &u[..]].concat()).contains("--by is required"));
        let http = publish(&[&t[..], &b[..], &["--url", "http://example.org/r"][..]].concat());
        assert!(
            http.contains("--url: A link must start with https://"),
            "{http}"
        );
        assert!(
            publish(&[&t[..], &b[..], &["--url", "example.org/r"][..]].concat())
                .contains("--url: That is not a link")
        );
        assert!(
            publish(&[&u[..], &b[..], &["--training", "Host Training"][..]].concat())
                .contains("--training: a training id is")
        );
        assert!(
            publish(&[&t[..], &u[..], &b[..], &["--format", "csv"][..]].concat())
                .contains("--format does not apply")
        );
        assert!(
            publish(&[&t[..], &u[..], &b[..], &["--phone", "+12025550143"][..]].concat())
                .contains("--phone does not apply")
        );
        assert!(
            publish(
                &[
                    &t[..],
                    &u[..],
                    &b[..],
                    &["--url", "https://example.org/2"][..]
                ]
                .concat()
            )
            .contains("--url is given twice")
        );
        assert!(
            message(parse(&[
                "forget",
                "--email",
                "a@example.org",
                "--by",
                "D",
                "--url",
                "x"
            ]))
            .contains("--url does not apply")
        );
        assert!(
            message(parse(&["osdi", "--by", "D", "--training", "overview"]))
                .contains("--training does not apply")
        );
    }

    #[test]
    fn trainings_takes_only_the_table() {
        assert_eq!(parse(&["trainings"]).unwrap().command, Command::Trainings);
        let args = parse(&["trainings", "--table=T"]).unwrap();
        assert_eq!(
            (args.command, args.table.as_deref()),
            (Command::Trainings, Some("T"))
        );
        for flag in [
            &["--by", "Dana"][..],
            &["--yes"],
            &["--format", "csv"],
            &["--training", "overview"],
        ] {
            let mut args = vec!["trainings"];
            args.extend_from_slice(flag);
            assert!(message(parse(&args)).contains("does not apply"), "{flag:?}");
        }
    }

    #[test]
    fn the_confirmation_counts_people_in_plain_words() {
        assert_eq!(
            who_gets_it(0),
            "The scheduler sends it within 5 minutes to 0 registered people, once each."
        );
        assert_eq!(
            who_gets_it(1),
            "The scheduler sends it within 5 minutes to 1 registered person, once each."
        );
        assert!(who_gets_it(12).contains("to 12 registered people"));
    }
}

//! `bench-invites`: the producer side of `make bench`. Stores and enqueues host invitations, SMS
//! and email mixed, through rising-core's producer API (`DynamoOutbox::enqueue`,
//! `SqsSendQueue::send`, sealed with `Sealer::from_sdk`, keyed by the stack's `CONTACT_HASH_KEY`) exactly
//! as a producer does (see tests/tests/send_pipeline.rs), then waits until every one is final by
//! polling the batch's progress counters (`DynamoOutbox::progress`). Once every invite is on the queue it
//! prints `{"event": "produced"}` (the driver then switches the queue's event source on), and at the end
//! one JSON object with the outcome.
//!
//! Environment: the stack's (`AWS_ENDPOINT_URL`, `AWS_REGION`, `TABLE_NAME`, `CONTACT_HASH_KEY`,
//! `CONTACT_DATA_KEY_ID`, `SEND_QUEUE_URL`, `EMAIL_FROM`), plus `BENCH_MONITOR_ENDPOINT`: where the
//! progress polling goes (moto itself, so the benchmark's own polling is not counted as rising's
//! requests). Arguments: `--count N` (5000), `--email-every K` (every K-th invite is an email; 5),
//! `--timeout S` (600). Progress lines go to stderr.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{Credentials, Region, SharedCredentialsProvider};
use futures::{StreamExt as _, TryStreamExt as _};
use rand::Rng;
use rising_core::aws::{BehaviorVersion, SdkConfig};
use rising_core::domain::{EmailAddress, Language, PhoneNumber, Zip};
use rising_core::outbound::quiet_hours::{QuietHoursPolicy, SendWindow};
use rising_core::outbound::{
    BatchId, Channel, ConsentBasis, Kind, NewMessage, OutboundId, OutboxStore, SendQueue,
    SqsSendQueue, body_context,
};
use rising_core::privacy::{ContactHasher, Sealer, field_context};
use rising_core::sms::segments::{normalise, segments};
use rising_core::store::DynamoOutbox;
use serde_json::json;
use time::OffsetDateTime;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Invitations as hosts write them: some plain GSM-7, some pasted from a word processor (curly
/// quotes, dashes, ellipsis: UCS-2 unless normalised), some that need UCS-2 whatever is done (an
/// emoji, Spanish accents outside GSM-7). `{host}` is the host's first name.
const SMS_TEXTS: [&str; 6] = [
    "{host} invites you to a rising gathering on Saturday at 6pm. Reply STOP to opt out.",
    "Hi, it\u{2019}s {host}! I\u{2019}m hosting a rising gathering on Saturday \u{2014} would you come? Reply STOP to opt out.",
    "{host} here. We\u{2019}re meeting at my place on Saturday at 6:30pm to talk about what we can do together for our neighbourhood\u{2026} Bring a friend if you like! Details: https://rising.invalid/g/MAPLE5 Reply STOP to opt out.",
    "{host} te invita a una reunión de rising el sábado a las 6pm. ¿Vienes? Responde STOP para no recibir más mensajes.",
    "{host} invites you to a rising gathering on Saturday \u{1F389} Reply STOP to opt out.",
    "\u{201C}Come to our gathering on Saturday,\u{201D} says {host}. Reply STOP to opt out.",
];
const HOSTS: [&str; 6] = ["Dana", "Ana", "Marcus", "Li", "Priya", "José"];
/// ZIP codes in time zones around the clock; the ones inside sending hours for the whole run are used.
/// From 11:00 to 12:00 UTC none is (Guam's 21:00, Puerto Rico's 07:00).
const ZIPS: [&str; 8] = [
    "00901", "20001", "60601", "80202", "90012", "99501", "96813", "96910",
];
/// Invites stored (one transaction per 50) and enqueued (one `SendMessageBatch` per 10) per step.
const CHUNK: usize = 250;
/// Steps run at once (hosts inviting at the same moment): four, so that one step's DynamoDB writes and
/// another's SQS sends (two moto processes) overlap.
const PRODUCERS: usize = 4;

struct Args {
    count: usize,
    email_every: usize,
    timeout: Duration,
}

fn args() -> Result<Args, Error> {
    let mut a = Args {
        count: 5000,
        email_every: 5,
        timeout: Duration::from_secs(600),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--count" => a.count = value.parse()?,
            "--email-every" => a.email_every = value.parse()?,
            "--timeout" => a.timeout = Duration::from_secs(value.parse()?),
            _ => return Err(format!("unknown argument {flag}").into()),
        }
    }
    Ok(a)
}

fn env(name: &str) -> Result<String, Error> {
    std::env::var(name).map_err(|_| format!("{name} is not set (run through bench/run.py)").into())
}

fn sdk(endpoint: &str, region: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(rising_core::aws::http_client())
        .endpoint_url(endpoint)
        .region(Region::new(region.to_owned()))
        // moto sometimes answers concurrent transactions with a 500: retry like the functions do.
        .retry_config(RetryConfig::standard().with_max_attempts(6))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "bench",
        )))
        .build()
}

/// ZIP codes where texts may be sent from now until `horizon` from now.
fn open_zips(horizon: time::Duration) -> Vec<&'static str> {
    let policy = QuietHoursPolicy::default();
    let phone = PhoneNumber::parse("+12025550143").expect("a valid number");
    let now = OffsetDateTime::now_utc();
    ZIPS.iter()
        .copied()
        .filter(|zip| {
            let zip = Zip::parse(zip).expect("a valid ZIP");
            let clock = policy.clock(&phone, Some(&zip));
            [now, now + horizon / 2, now + horizon]
                .iter()
                .all(|t| matches!(clock.window_at(*t), Ok(SendWindow::Open)))
        })
        .collect()
}

fn mime(from: &str, to: &str, host: &str, n: usize) -> String {
    format!(
        "From: rising <{from}>\r\nTo: <{to}>\r\nSubject: {host} invites you to a rising gathering\r\n\
         Message-ID: <bench-{n}@rising.invalid>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         {host} invites you to a rising gathering on Saturday at 6pm.\r\n\r\n\
         Unsubscribe: https://rising.invalid/unsubscribe\r\n"
    )
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args = args()?;
    let region = env("AWS_REGION")?;
    let produce_sdk = sdk(&env("AWS_ENDPOINT_URL")?, &region);
    let monitor_sdk = sdk(&env("BENCH_MONITOR_ENDPOINT")?, &region);
    let table = env("TABLE_NAME")?;
    let hasher = ContactHasher::from_base64(&env("CONTACT_HASH_KEY")?)?;
    let sealer = Sealer::from_sdk(&produce_sdk, env("CONTACT_DATA_KEY_ID")?);
    let outbox = DynamoOutbox::new(aws_sdk_dynamodb::Client::new(&produce_sdk), &table);
    let queue = SqsSendQueue::from_sdk(&produce_sdk, env("SEND_QUEUE_URL")?);
    let monitor = DynamoOutbox::new(aws_sdk_dynamodb::Client::new(&monitor_sdk), &table);
    let from = env("EMAIL_FROM")?;

    let zips = open_zips(time::Duration::seconds(args.timeout.as_secs() as i64));
    if zips.is_empty() {
        return Err("no US time zone is inside sending hours for the whole run".into());
    }
    let batch = BatchId::random();
    let run_tag: u32 = rand::rng().random_range(0..1_000_000);
    let mut rng = rand::rng();
    let mut phones = HashSet::new();

    // Plan every invite first (texts, recipients); seal and store them in chunks.
    struct Planned {
        channel: Channel,
        address: String,
        body: String,
        zip: Option<&'static str>,
        language: Language,
    }
    let mut plan = Vec::with_capacity(args.count);
    let (mut sms, mut emails) = (0usize, 0usize);
    let (mut seg_sent, mut seg_min) = (0usize, 0usize);
    let mut per_text = vec![(0usize, 0usize, 0usize); SMS_TEXTS.len()];
    for i in 0..args.count {
        let host = HOSTS[i % HOSTS.len()];
        if args.email_every > 0 && i % args.email_every == args.email_every - 1 {
            let address = format!("guest-{run_tag}-{i}@example.org");
            plan.push(Planned {
                channel: Channel::Email,
                body: mime(&from, &address, host, i),
                address,
                zip: None,
                language: Language::En,
            });
            emails += 1;
            continue;
        }
        let phone = loop {
            let p = format!(
                "+1202{}{:04}",
                rng.random_range(200..=999),
                rng.random_range(0..10_000)
            );
            if phones.insert(p.clone()) {
                break p;
            }
        };
        let t = sms % SMS_TEXTS.len();
        let text = SMS_TEXTS[t].replace("{host}", host);
        let (sent, min) = (
            segments(&text).segments,
            segments(&normalise(&text)).segments,
        );
        seg_sent += sent;
        seg_min += min;
        per_text[t] = (per_text[t].0 + 1, sent, min);
        plan.push(Planned {
            channel: Channel::Sms,
            address: phone,
            body: text,
            zip: Some(zips[sms % zips.len()]),
            language: if t == 3 { Language::Es } else { Language::En },
        });
        sms += 1;
    }

    let started = Instant::now();
    let mut chunks = Vec::new();
    for chunk in plan.chunks(CHUNK) {
        let mut messages = Vec::with_capacity(chunk.len());
        for p in chunk {
            let contact = match p.channel {
                Channel::Sms => hasher.phone(&PhoneNumber::parse(&p.address)?),
                Channel::Email => hasher.email(&EmailAddress::parse(&p.address)?),
            };
            let id = OutboundId::random();
            messages.push(NewMessage {
                to: sealer
                    .seal(
                        &field_context(&contact, p.channel.address_field()),
                        &p.address,
                    )
                    .await?,
                body: sealer.seal(&body_context(&id), &p.body).await?,
                id,
                channel: p.channel,
                kind: Kind::Invite,
                consent: ConsentBasis::HostAttested,
                contact,
                language: p.language,
                zip: p.zip.map(str::to_owned),
                batch: Some(batch.clone()),
            });
        }
        chunks.push(messages);
    }
    let seal_time = started.elapsed();
    // Stored, then enqueued, a chunk at a time, as a host's invitations are; four chunks at once, as
    // four hosts inviting at the same moment.
    let (outbox, queue) = (&outbox, &queue);
    let steps: Vec<(Duration, Duration)> = futures::stream::iter(chunks)
        .map(|messages| async move {
            let step = Instant::now();
            outbox.enqueue(&messages, OffsetDateTime::now_utc()).await?;
            let stored = step.elapsed();
            let step = Instant::now();
            let queued: Vec<_> = messages
                .iter()
                .map(|m| (m.queued(), Duration::ZERO))
                .collect();
            let accepted = queue.send(&queued).await?;
            if accepted.iter().any(|ok| !ok) {
                return Err::<_, Error>("SQS refused some messages".into());
            }
            Ok((stored, step.elapsed()))
        })
        .buffer_unordered(PRODUCERS)
        .try_collect()
        .await?;
    let store_time: Duration = steps.iter().map(|(stored, _)| *stored).sum();
    let enqueue_time: Duration = steps.iter().map(|(_, enqueued)| *enqueued).sum();
    let produced = started.elapsed();
    // The driver switches the queue's event source on when it reads this line.
    println!(
        "{}",
        json!({"event": "produced", "produce_seconds": produced.as_secs_f64()})
    );
    eprintln!(
        "bench-invites: {} invites stored and enqueued in {:.1}s ({sms} SMS, {emails} email); waiting for outcomes",
        args.count,
        produced.as_secs_f64()
    );

    let mut last = (0u64, Instant::now());
    let progress = loop {
        let p = monitor.progress(&batch).await?;
        if p.done() >= args.count as u64 {
            break p;
        }
        if p.done() != last.0 {
            last = (p.done(), Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(120) {
            eprintln!("bench-invites: no progress for 120 s; giving up at {p:?}");
            break p;
        }
        if started.elapsed() > args.timeout {
            eprintln!("bench-invites: timed out at {p:?}");
            break p;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let finished = started.elapsed();
    let skipped: serde_json::Map<String, serde_json::Value> = progress
        .skipped
        .iter()
        .map(|(reason, n)| (reason.as_str().to_owned(), json!(n)))
        .collect();
    let texts: Vec<_> = per_text
        .iter()
        .enumerate()
        .map(|(i, (n, sent, min))| {
            json!({"template": i, "invites": n, "segments_sent": sent, "segments_min": min})
        })
        .collect();
    println!(
        "{}",
        json!({
            "batch": batch.as_str(),
            "invites": args.count,
            "sms": sms,
            "email": emails,
            "zips": zips,
            "produce_seconds": produced.as_secs_f64(),
            "seal_seconds": seal_time.as_secs_f64(),
            "store_seconds": store_time.as_secs_f64(),
            "enqueue_seconds": enqueue_time.as_secs_f64(),
            "final_seconds": finished.as_secs_f64(),
            "queued": progress.queued,
            "sent": progress.sent,
            "failed": progress.failed,
            "unknown": progress.unknown,
            "deferred": progress.deferred,
            "skipped": skipped,
            "done": progress.done(),
            "segments_sent": seg_sent,
            "segments_min": seg_min,
            "texts": texts,
        })
    );
    Ok(())
}

//! Command-line and environment configuration.
//!
//! Every flag `--some-flag VALUE` (or `--some-flag=VALUE`) can also be given
//! as the environment variable `TWILIO_EMULATOR_SOME_FLAG`; a flag wins over
//! its variable.

use std::collections::{HashMap, HashSet};

use crate::validate::{is_account_sid, is_e164, is_messaging_service_sid};

/// How a configured failing number ends its delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinalFailure {
    /// `queued → sent → undelivered` (the carrier could not deliver).
    Undelivered,
    /// `queued → failed` (the message never left Twilio).
    Failed,
}

impl FinalFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            FinalFailure::Undelivered => "undelivered",
            FinalFailure::Failed => "failed",
        }
    }
}

/// A number whose deliveries fail with a given error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailSpec {
    pub error_code: u32,
    pub status: FinalFailure,
}

impl FailSpec {
    /// The status Twilio reports for a delivery error code when none is given:
    /// codes raised before the message reaches a carrier end `failed`, the
    /// carrier's own delivery errors end `undelivered`.
    pub fn for_code(error_code: u32) -> Self {
        let status = match error_code {
            30001 | 30002 | 30010 | 30032 | 30034 | 30035 | 30036 => FinalFailure::Failed,
            c if (21000..22000).contains(&c) => FinalFailure::Failed,
            _ => FinalFailure::Undelivered,
        };
        FailSpec { error_code, status }
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub listen: String,
    pub account_sid: String,
    pub auth_token: String,
    pub phone_number: String,
    pub sms_webhook_url: String,
    pub messaging_service_sid: Option<String>,
    /// Messages per second per sender; 0 = unlimited.
    pub rate_limit_mps: u32,
    /// Concurrent in-flight API requests; 0 = unlimited.
    pub max_concurrency: usize,
    pub fail_numbers: HashMap<String, FailSpec>,
    pub invalid_numbers: HashSet<String>,
    pub landline_numbers: HashSet<String>,
    /// Delay before each status callback step.
    pub callback_delay_ms: u64,
    /// Artificial processing time of each REST API request.
    pub api_latency_ms: u64,
    /// Timeout of the inbound webhook request (Twilio uses 15 s).
    pub webhook_timeout_ms: u64,
    /// Send Twilio's own confirmation text after STOP / START keywords.
    pub opt_out_auto_reply: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:4010".into(),
            account_sid: "AC00000000000000000000000000000001".into(),
            auth_token: "emulator-auth-token".into(),
            phone_number: "+15005550006".into(),
            sms_webhook_url: "http://127.0.0.1:3000/sms/inbound".into(),
            messaging_service_sid: None,
            rate_limit_mps: 10,
            max_concurrency: 0,
            fail_numbers: HashMap::new(),
            invalid_numbers: HashSet::new(),
            landline_numbers: HashSet::new(),
            callback_delay_ms: 100,
            api_latency_ms: 0,
            webhook_timeout_ms: 15_000,
            opt_out_auto_reply: true,
        }
    }
}

/// What the command line asked for.
#[derive(Debug)]
pub enum Command {
    Run(Box<Config>),
    Help,
}

struct Flag {
    name: &'static str,
    value: &'static str,
    help: &'static str,
}

const FLAGS: &[Flag] = &[
    Flag {
        name: "listen",
        value: "ADDR",
        help: "address to listen on; port 0 picks a free port (default 127.0.0.1:4010)",
    },
    Flag {
        name: "account-sid",
        value: "AC…",
        help: "the account SID clients authenticate as: AC + 32 hex (default AC00000000000000000000000000000001)",
    },
    Flag {
        name: "auth-token",
        value: "TOKEN",
        help: "the auth token: HTTP Basic password and webhook signing key (default emulator-auth-token)",
    },
    Flag {
        name: "phone-number",
        value: "+1…",
        help: "the project's Twilio number, the To of inbound texts and the only valid From (default +15005550006)",
    },
    Flag {
        name: "sms-webhook-url",
        value: "URL",
        help: "where inbound texts are POSTed (default http://127.0.0.1:3000/sms/inbound)",
    },
    Flag {
        name: "messaging-service-sid",
        value: "MG…",
        help: "the account's Messaging Service SID (optional)",
    },
    Flag {
        name: "rate-limit-mps",
        value: "N",
        help: "messages per second per sender before 429/20429; 0 = unlimited (default 10)",
    },
    Flag {
        name: "max-concurrency",
        value: "N",
        help: "concurrent in-flight API requests before 429/20429; 0 = unlimited (default 0)",
    },
    Flag {
        name: "fail-numbers",
        value: "LIST",
        help: "NUMBER=CODE[:failed|:undelivered],… whose deliveries end with that ErrorCode, e.g. +15005550001=30003",
    },
    Flag {
        name: "invalid-numbers",
        value: "LIST",
        help: "comma-separated numbers rejected with 21211",
    },
    Flag {
        name: "landline-numbers",
        value: "LIST",
        help: "comma-separated numbers rejected with 21614",
    },
    Flag {
        name: "callback-delay-ms",
        value: "MS",
        help: "delay before each status step / callback (default 100)",
    },
    Flag {
        name: "api-latency-ms",
        value: "MS",
        help: "artificial processing time of each REST request (default 0)",
    },
    Flag {
        name: "webhook-timeout-ms",
        value: "MS",
        help: "timeout of the inbound webhook request (default 15000)",
    },
    Flag {
        name: "opt-out-auto-reply",
        value: "BOOL",
        help: "reply Twilio's confirmation text to STOP/START keywords (default true)",
    },
];

/// The environment variable of a flag: `rate-limit-mps` → `TWILIO_EMULATOR_RATE_LIMIT_MPS`.
pub fn env_name(flag: &str) -> String {
    format!(
        "TWILIO_EMULATOR_{}",
        flag.replace('-', "_").to_ascii_uppercase()
    )
}

pub fn help_text() -> String {
    let mut s = String::from(
        "twilio-emulator: a local stand-in for Twilio's Messages API, status callbacks and inbound SMS webhooks.\n\n\
         USAGE:\n    twilio-emulator [--flag VALUE]...\n\nFLAGS (each also read from its environment variable):\n",
    );
    for f in FLAGS {
        s.push_str(&format!(
            "    --{} {}\n        {}\n        env: {}\n",
            f.name,
            f.value,
            f.help,
            env_name(f.name)
        ));
    }
    s.push_str("    -h, --help\n        print this help\n");
    s
}

fn split_list(v: &str) -> impl Iterator<Item = String> + '_ {
    v.split([',', ' ', '\n', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn parse_u64(flag: &str, v: &str) -> Result<u64, String> {
    v.trim()
        .parse::<u64>()
        .map_err(|_| format!("--{flag}: expected a non-negative integer, got {v:?}"))
}

fn parse_bool(flag: &str, v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("--{flag}: expected true or false, got {v:?}")),
    }
}

fn parse_numbers(flag: &str, v: &str) -> Result<HashSet<String>, String> {
    let mut out = HashSet::new();
    for n in split_list(v) {
        if !is_e164(&n) {
            return Err(format!("--{flag}: {n:?} is not an E.164 number"));
        }
        out.insert(n);
    }
    Ok(out)
}

/// Parses `+15005550001=30003,+15005550002=30005:failed`.
pub fn parse_fail_numbers(v: &str) -> Result<HashMap<String, FailSpec>, String> {
    let mut out = HashMap::new();
    for item in split_list(v) {
        let (number, rest) = item
            .split_once('=')
            .ok_or_else(|| format!("--fail-numbers: {item:?} is not NUMBER=CODE"))?;
        let number = number.trim();
        if !is_e164(number) {
            return Err(format!("--fail-numbers: {number:?} is not an E.164 number"));
        }
        let (code, status) = match rest.split_once(':') {
            Some((c, s)) => (c, Some(s.trim().to_ascii_lowercase())),
            None => (rest, None),
        };
        let code: u32 = code
            .trim()
            .parse()
            .map_err(|_| format!("--fail-numbers: {code:?} is not an error code"))?;
        let mut spec = FailSpec::for_code(code);
        match status.as_deref() {
            None => {}
            Some("failed") => spec.status = FinalFailure::Failed,
            Some("undelivered") => spec.status = FinalFailure::Undelivered,
            Some(other) => return Err(format!("--fail-numbers: unknown final status {other:?}")),
        }
        out.insert(number.to_string(), spec);
    }
    Ok(out)
}

impl Config {
    /// Parses the command line (without the program name) over the environment.
    pub fn parse<I, E>(args: I, env: E) -> Result<Command, String>
    where
        I: IntoIterator<Item = String>,
        E: Fn(&str) -> Option<String>,
    {
        let mut given: HashMap<&'static str, String> = HashMap::new();
        for f in FLAGS {
            if let Some(v) = env(&env_name(f.name)) {
                given.insert(f.name, v);
            }
        }
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "-h" || arg == "--help" {
                return Ok(Command::Help);
            }
            let Some(stripped) = arg.strip_prefix("--") else {
                return Err(format!("unexpected argument {arg:?} (see --help)"));
            };
            let (name, inline) = match stripped.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (stripped, None),
            };
            let flag = FLAGS
                .iter()
                .find(|f| f.name == name)
                .ok_or_else(|| format!("unknown flag --{name} (see --help)"))?;
            let value = match inline {
                Some(v) => v,
                None => args
                    .next()
                    .ok_or_else(|| format!("--{name} needs a value"))?,
            };
            given.insert(flag.name, value);
        }
        Self::from_values(&given).map(|c| Command::Run(Box::new(c)))
    }

    fn from_values(given: &HashMap<&'static str, String>) -> Result<Config, String> {
        let mut c = Config::default();
        for (&name, v) in given {
            match name {
                "listen" => c.listen = v.trim().to_string(),
                "account-sid" => c.account_sid = v.trim().to_string(),
                "auth-token" => c.auth_token = v.to_string(),
                "phone-number" => c.phone_number = v.trim().to_string(),
                "sms-webhook-url" => c.sms_webhook_url = v.trim().to_string(),
                "messaging-service-sid" => {
                    let v = v.trim();
                    c.messaging_service_sid = (!v.is_empty()).then(|| v.to_string());
                }
                "rate-limit-mps" => {
                    c.rate_limit_mps = u32::try_from(parse_u64(name, v)?)
                        .map_err(|_| "--rate-limit-mps: too large".to_string())?
                }
                "max-concurrency" => c.max_concurrency = parse_u64(name, v)? as usize,
                "fail-numbers" => c.fail_numbers = parse_fail_numbers(v)?,
                "invalid-numbers" => c.invalid_numbers = parse_numbers(name, v)?,
                "landline-numbers" => c.landline_numbers = parse_numbers(name, v)?,
                "callback-delay-ms" => c.callback_delay_ms = parse_u64(name, v)?,
                "api-latency-ms" => c.api_latency_ms = parse_u64(name, v)?,
                "webhook-timeout-ms" => c.webhook_timeout_ms = parse_u64(name, v)?,
                "opt-out-auto-reply" => c.opt_out_auto_reply = parse_bool(name, v)?,
                _ => unreachable!("flag table and match disagree: {name}"),
            }
        }
        c.check()?;
        Ok(c)
    }

    /// Checks the values that must be well-formed.
    pub fn check(&self) -> Result<(), String> {
        if !is_account_sid(&self.account_sid) {
            return Err(format!(
                "--account-sid: {:?} is not AC followed by 32 hex digits",
                self.account_sid
            ));
        }
        if self.auth_token.is_empty() {
            return Err("--auth-token must not be empty".into());
        }
        if !is_e164(&self.phone_number) {
            return Err(format!(
                "--phone-number: {:?} is not an E.164 number",
                self.phone_number
            ));
        }
        match url::Url::parse(&self.sms_webhook_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => {
                return Err(format!(
                    "--sms-webhook-url: {:?} is not an http(s) URL",
                    self.sms_webhook_url
                ));
            }
        }
        if let Some(mg) = &self.messaging_service_sid
            && !is_messaging_service_sid(mg)
        {
            return Err(format!(
                "--messaging-service-sid: {mg:?} is not MG followed by 32 hex digits"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn run(c: Command) -> Config {
        match c {
            Command::Run(c) => *c,
            Command::Help => panic!("expected run"),
        }
    }

    #[test]
    fn flags_override_env() {
        let env = |k: &str| match k {
            "TWILIO_EMULATOR_RATE_LIMIT_MPS" => Some("3".to_string()),
            "TWILIO_EMULATOR_AUTH_TOKEN" => Some("from-env".to_string()),
            _ => None,
        };
        let c = run(Config::parse(
            args(&["--rate-limit-mps", "7", "--listen=127.0.0.1:0"]),
            env,
        )
        .unwrap());
        assert_eq!(c.rate_limit_mps, 7);
        assert_eq!(c.auth_token, "from-env");
        assert_eq!(c.listen, "127.0.0.1:0");
    }

    #[test]
    fn fail_numbers_parse() {
        let m =
            parse_fail_numbers("+15005550001=30003, +15005550002=30005,+15005550003=30007:failed")
                .unwrap();
        assert_eq!(
            m["+15005550001"],
            FailSpec {
                error_code: 30003,
                status: FinalFailure::Undelivered
            }
        );
        assert_eq!(m["+15005550003"].status, FinalFailure::Failed);
        assert!(parse_fail_numbers("15005550001=30003").is_err());
        assert!(parse_fail_numbers("+15005550001=x").is_err());
    }

    #[test]
    fn rejects_bad_values_and_knows_help() {
        assert!(Config::parse(args(&["--account-sid", "AC123"]), |_| None).is_err());
        assert!(Config::parse(args(&["--nope", "1"]), |_| None).is_err());
        assert!(Config::parse(args(&["--listen"]), |_| None).is_err());
        assert!(matches!(
            Config::parse(args(&["--help"]), |_| None),
            Ok(Command::Help)
        ));
        assert!(help_text().contains("TWILIO_EMULATOR_SMS_WEBHOOK_URL"));
        let c = run(Config::parse(Vec::new(), |_| None).unwrap());
        assert_eq!(c.rate_limit_mps, 10);
    }
}

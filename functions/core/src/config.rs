//! Typed configuration read from the environment once per cold start. Reading config does no I/O
//! beyond the environment; secrets are *names* of SSM parameters, fetched on first use.

use std::env;

/// A required variable is missing or malformed. Names the variable so an operator can fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid {
        name: &'static str,
        reason: &'static str,
    },
}

/// Where the Twilio REST API lives, who we are there, and where the secrets are (for senders).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwilioConfig {
    pub api_base_url: String,
    pub account_sid: String,
    pub phone_number: String,
    /// Name of the SSM SecureString parameter holding the Auth Token.
    pub auth_token_parameter: String,
}

/// What a Twilio webhook (`/sms/inbound`, `/sms/status`) needs to authenticate requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Base URL Twilio was given for webhooks (`https://sms.example.org`). `None`: derive it from the
    /// API Gateway request context (the execute-api domain).
    pub public_base_url: Option<String>,
    /// The account whose webhooks are accepted.
    pub account_sid: String,
    /// Name of the SSM SecureString parameter holding the Auth Token (the signing key).
    pub auth_token_parameter: String,
    /// Name of the SSM SecureString parameter holding the key of the contact keyed hash.
    pub contact_hash_key_parameter: String,
}

/// How the programme presents itself in texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramConfig {
    /// Name at the start of compliance texts (`PROGRAM_NAME`, default `rising`).
    pub name: String,
    /// Where a person reaches a human (`SUPPORT_CONTACT`: an email address or URL), sent in HELP replies.
    pub support_contact: String,
}

/// The campaign's links and search settings, as texts give them.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignConfig {
    /// The overview training's recording, sent with every RSVP confirmation (`OVERVIEW_RECORDING_URL`).
    pub overview_recording_url: String,
    /// All training recordings (`RECORDINGS_URL`).
    pub recordings_url: String,
    /// The safety and nonviolence resource (`SAFETY_URL`).
    pub safety_url: String,
    /// Where to sign up to host a gathering (`HOST_SIGNUP_URL`).
    pub host_signup_url: String,
    /// How far to look for gatherings from a ZIP code's centre (`SEARCH_RADIUS_MILES`, default 25).
    pub search_radius_miles: f64,
}

/// What the texting conversation needs to send the recordings by email.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailStepConfig {
    /// The verified SES address emails come from (`EMAIL_FROM`).
    pub from: crate::domain::EmailAddress,
    /// Name of the SSM SecureString parameter holding the key that signs email links
    /// (`EMAIL_LINK_KEY_PARAMETER`).
    pub link_key_parameter: String,
    /// Base of the unsubscribe and forget links: `PUBLIC_BASE_URL`, else `API_URL`.
    pub links_base_url: String,
    /// The send queue (`SEND_QUEUE_URL`).
    pub send_queue_url: String,
}

/// Configuration of the `sms-inbound` function.
#[derive(Debug, Clone, PartialEq)]
pub struct SmsInboundConfig {
    pub table_name: String,
    pub webhook: WebhookConfig,
    pub program: ProgramConfig,
    pub campaign: CampaignConfig,
    pub email: EmailStepConfig,
    /// The KMS key that wraps the data keys of sealed names (`CONTACT_DATA_KEY_ID`).
    pub contact_data_key_id: String,
}

/// Reads variables through a lookup function, so tests need not touch the process environment.
pub struct Env<F>(pub F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    pub fn optional(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    /// A whole number, 1 or more; `default` when unset.
    pub fn number(&self, name: &'static str, default: u32) -> Result<u32, ConfigError> {
        match self.optional(name) {
            None => Ok(default),
            Some(v) => {
                v.trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or(ConfigError::Invalid {
                        name,
                        reason: "must be a whole number, 1 or more",
                    })
            }
        }
    }

    /// A list separated by commas or spaces (empty when unset).
    pub fn list(&self, name: &str) -> Vec<String> {
        self.optional(name)
            .map(|v| {
                v.split([',', ' '])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Countries whose mobile numbers may be texted (`ALLOWED_PHONE_COUNTRIES`, default `US`).
    pub fn phone_countries(&self) -> Vec<String> {
        let list = self.list("ALLOWED_PHONE_COUNTRIES");
        if list.is_empty() {
            vec!["US".into()]
        } else {
            list
        }
    }

    pub fn account_sid(&self) -> Result<String, ConfigError> {
        let sid = self.required("TWILIO_ACCOUNT_SID")?;
        if sid.len() == 34
            && sid.starts_with("AC")
            && sid[2..].chars().all(|c| c.is_ascii_hexdigit())
        {
            Ok(sid)
        } else {
            Err(ConfigError::Invalid {
                name: "TWILIO_ACCOUNT_SID",
                reason: "must be AC followed by 32 hexadecimal characters",
            })
        }
    }

    pub fn webhook(&self) -> Result<WebhookConfig, ConfigError> {
        let public_base_url = match self.optional("PUBLIC_BASE_URL") {
            None => None,
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                Some(url.trim_end_matches('/').to_string())
            }
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "PUBLIC_BASE_URL",
                    reason: "must start with https:// (or http:// for local development)",
                });
            }
        };
        Ok(WebhookConfig {
            public_base_url,
            account_sid: self.account_sid()?,
            auth_token_parameter: self.required("TWILIO_AUTH_TOKEN_PARAMETER")?,
            contact_hash_key_parameter: self.required("CONTACT_HASH_KEY_PARAMETER")?,
        })
    }

    pub fn campaign(&self) -> Result<CampaignConfig, ConfigError> {
        let url = |name: &'static str| {
            let value = self.required(name)?;
            if value.starts_with("https://") || value.starts_with("http://") {
                Ok(value)
            } else {
                Err(ConfigError::Invalid {
                    name,
                    reason: "must be an http(s) URL",
                })
            }
        };
        let search_radius_miles = match self.optional("SEARCH_RADIUS_MILES") {
            None => 25.0,
            Some(v) => v
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|r| *r > 0.0 && *r <= 300.0)
                .ok_or(ConfigError::Invalid {
                    name: "SEARCH_RADIUS_MILES",
                    reason: "must be a number of miles, 1 to 300",
                })?,
        };
        Ok(CampaignConfig {
            overview_recording_url: url("OVERVIEW_RECORDING_URL")?,
            recordings_url: url("RECORDINGS_URL")?,
            safety_url: url("SAFETY_URL")?,
            host_signup_url: url("HOST_SIGNUP_URL")?,
            search_radius_miles,
        })
    }

    pub fn program(&self) -> Result<ProgramConfig, ConfigError> {
        Ok(ProgramConfig {
            name: self
                .optional("PROGRAM_NAME")
                .unwrap_or_else(|| "rising".to_string()),
            support_contact: self.required("SUPPORT_CONTACT")?,
        })
    }

    pub fn email_from(&self) -> Result<crate::domain::EmailAddress, ConfigError> {
        crate::domain::EmailAddress::parse(&self.required("EMAIL_FROM")?).map_err(|_| {
            ConfigError::Invalid {
                name: "EMAIL_FROM",
                reason: "must be an email address",
            }
        })
    }

    pub fn email_step(&self) -> Result<EmailStepConfig, ConfigError> {
        let links_base_url = self
            .optional("PUBLIC_BASE_URL")
            .or_else(|| self.optional("API_URL"))
            .ok_or(ConfigError::Missing("API_URL"))?
            .trim_end_matches('/')
            .to_string();
        Ok(EmailStepConfig {
            from: self.email_from()?,
            link_key_parameter: self.required("EMAIL_LINK_KEY_PARAMETER")?,
            links_base_url,
            send_queue_url: self.required("SEND_QUEUE_URL")?,
        })
    }

    pub fn twilio(&self) -> Result<TwilioConfig, ConfigError> {
        Ok(TwilioConfig {
            api_base_url: self
                .optional("TWILIO_API_BASE_URL")
                .unwrap_or_else(|| crate::sms::client::PRODUCTION_BASE_URL.to_string()),
            account_sid: self.account_sid()?,
            phone_number: self.required("TWILIO_PHONE_NUMBER")?,
            auth_token_parameter: self.required("TWILIO_AUTH_TOKEN_PARAMETER")?,
        })
    }
}

/// The process environment.
pub fn process_env() -> Env<impl Fn(&str) -> Option<String>> {
    Env(|name: &str| env::var(name).ok())
}

impl SmsInboundConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        Ok(Self {
            table_name: env.required("TABLE_NAME")?,
            webhook: env.webhook()?,
            program: env.program()?,
            campaign: env.campaign()?,
            email: env.email_step()?,
            contact_data_key_id: env.required("CONTACT_DATA_KEY_ID")?,
        })
    }
}

/// Configuration of the `sms-status` function (Twilio status callbacks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsStatusConfig {
    pub table_name: String,
    pub webhook: WebhookConfig,
}

impl SmsStatusConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_env_lookup(&process_env())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_env_lookup(&Env(lookup))
    }

    fn from_env_lookup<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: env.required("TABLE_NAME")?,
            webhook: env.webhook()?,
        })
    }
}

/// Configuration of the `email-events` function (SES bounces and complaints, through SNS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailEventsConfig {
    pub table_name: String,
    /// The SSM parameter of the key behind contacts' keyed hashes (`CONTACT_HASH_KEY_PARAMETER`).
    pub contact_hash_key_parameter: String,
}

impl EmailEventsConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        Ok(Self {
            table_name: env.required("TABLE_NAME")?,
            contact_hash_key_parameter: env.required("CONTACT_HASH_KEY_PARAMETER")?,
        })
    }
}

/// Configuration of the `events-publisher` function (the table's stream to rising's event bus).
#[derive(Debug, Clone, PartialEq)]
pub struct EventsPublisherConfig {
    pub table_name: String,
    /// The EventBridge bus the domain events go to (`EVENT_BUS_NAME`).
    pub event_bus_name: String,
}

impl EventsPublisherConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        Ok(Self {
            table_name: env.required("TABLE_NAME")?,
            event_bus_name: env.required("EVENT_BUS_NAME")?,
        })
    }
}

/// Configuration of the `scheduler` function (reminders, follow-ups and recordings, on a schedule).
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulerConfig {
    pub table_name: String,
    /// The SSM parameter of the key that signs email links (`EMAIL_LINK_KEY_PARAMETER`).
    pub link_key_parameter: String,
    /// The KMS key that wraps the data keys of sealed fields (`CONTACT_DATA_KEY_ID`).
    pub contact_data_key_id: String,
    /// The send queue (`SEND_QUEUE_URL`).
    pub send_queue_url: String,
    /// Base of email links and event pages: `PUBLIC_BASE_URL`, else `API_URL`.
    pub public_base_url: String,
    pub program: ProgramConfig,
    pub campaign: CampaignConfig,
    /// The verified SES address emails come from (`EMAIL_FROM`).
    pub email_from: crate::domain::EmailAddress,
}

impl SchedulerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        Ok(Self {
            table_name: env.required("TABLE_NAME")?,
            link_key_parameter: env.required("EMAIL_LINK_KEY_PARAMETER")?,
            contact_data_key_id: env.required("CONTACT_DATA_KEY_ID")?,
            send_queue_url: env.required("SEND_QUEUE_URL")?,
            public_base_url: env
                .optional("PUBLIC_BASE_URL")
                .or_else(|| env.optional("API_URL"))
                .ok_or(ConfigError::Missing("API_URL"))?
                .trim_end_matches('/')
                .to_string(),
            program: env.program()?,
            campaign: env.campaign()?,
            email_from: env.email_from()?,
        })
    }

    /// The use case's settings.
    pub fn settings(&self) -> crate::followups::Settings {
        crate::followups::Settings {
            program: self.program.clone(),
            campaign: self.campaign.clone(),
            from: crate::email::Mailbox::new(&self.program.name, self.email_from.clone()),
            public_base_url: self.public_base_url.clone(),
        }
    }
}

/// Configuration of the `send-worker` function (the one sender of every outbound message).
#[derive(Debug, Clone, PartialEq)]
pub struct SendWorkerConfig {
    pub table_name: String,
    /// The send queue, for putting back messages deferred by quiet hours (`SEND_QUEUE_URL`).
    pub queue_url: String,
    pub twilio: TwilioConfig,
    /// Where Twilio reports delivery: `PUBLIC_BASE_URL` (or else `API_URL`) + `/sms/status`.
    pub status_callback_url: Option<String>,
    /// The KMS key that wraps the data keys of sealed addresses and texts (`CONTACT_DATA_KEY_ID`).
    pub contact_data_key_id: String,
    /// Texts per second for the whole fleet (`SMS_SEND_RATE`).
    pub sms_send_rate: f64,
    /// Emails per second for the whole fleet (`EMAIL_SEND_RATE`).
    pub email_send_rate: f64,
    /// The verified SES address emails come from (`EMAIL_FROM`).
    pub email_from: crate::domain::EmailAddress,
    /// The SES configuration set every email goes through (`EMAIL_CONFIGURATION_SET`, optional):
    /// its event destination reports bounces and complaints.
    pub email_configuration_set: Option<String>,
    /// The send queue's dead-letter queue (`SEND_DEAD_LETTER_QUEUE_ARN`, optional): batches from it
    /// are settled, never sent.
    pub dead_letter_queue_arn: Option<String>,
    /// The SQS event source's maximum concurrency (`SEND_MAX_CONCURRENCY`).
    pub max_concurrency: u32,
    /// Days within which a person is invited at most once per channel (`INVITE_WINDOW_DAYS`).
    pub invite_window_days: u32,
}

impl SendWorkerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        let rate = |name: &'static str| -> Result<f64, ConfigError> {
            let value = env.required(name)?;
            value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v > 0.0)
                .ok_or(ConfigError::Invalid {
                    name,
                    reason: "must be a positive number of messages per second",
                })
        };
        let whole = |name: &'static str, min: u32| -> Result<u32, ConfigError> {
            env.required(name)?
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|v| *v >= min)
                .ok_or(ConfigError::Invalid {
                    name,
                    reason: "must be a whole number in range",
                })
        };
        let base = env
            .optional("PUBLIC_BASE_URL")
            .or_else(|| env.optional("API_URL"))
            .map(|url| url.trim_end_matches('/').to_string());
        Ok(Self {
            table_name: env.required("TABLE_NAME")?,
            queue_url: env.required("SEND_QUEUE_URL")?,
            twilio: env.twilio()?,
            status_callback_url: base.map(|base| format!("{base}/sms/status")),
            contact_data_key_id: env.required("CONTACT_DATA_KEY_ID")?,
            sms_send_rate: rate("SMS_SEND_RATE")?,
            email_send_rate: rate("EMAIL_SEND_RATE")?,
            email_from: env.email_from()?,
            email_configuration_set: env.optional("EMAIL_CONFIGURATION_SET"),
            dead_letter_queue_arn: env.optional("SEND_DEAD_LETTER_QUEUE_ARN"),
            max_concurrency: whole("SEND_MAX_CONCURRENCY", 1)?,
            invite_window_days: whole("INVITE_WINDOW_DAYS", 1)?,
        })
    }
}

/// Configuration of the `email-links` function (`/unsubscribe`, `/forget`: the links every email carries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailLinksConfig {
    pub table_name: String,
    /// Name of the SSM SecureString parameter holding the key that signs email links
    /// (`EMAIL_LINK_KEY_PARAMETER`; at least 32 random bytes, base64).
    pub link_key_parameter: String,
    /// How the pages name the programme, and where a person reaches a human.
    pub program: ProgramConfig,
}

impl EmailLinksConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        Ok(Self {
            table_name: env.required("TABLE_NAME")?,
            link_key_parameter: env.required("EMAIL_LINK_KEY_PARAMETER")?,
            program: env.program()?,
        })
    }
}

/// Configuration of the `register` function (the web form: `POST /register` and its pages).
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterConfig {
    pub table_name: String,
    /// Name of the SSM SecureString parameter holding the key of the contact keyed hash.
    pub contact_hash_key_parameter: String,
    /// Name of the SSM SecureString parameter holding the key that signs email links.
    pub link_key_parameter: String,
    /// The KMS key that wraps the data keys of sealed fields (`CONTACT_DATA_KEY_ID`).
    pub contact_data_key_id: String,
    /// The send queue confirmations go to (`SEND_QUEUE_URL`).
    pub send_queue_url: String,
    /// Base of share links and email links: `PUBLIC_BASE_URL`, else `API_URL`.
    pub public_base_url: String,
    pub program: ProgramConfig,
    pub campaign: CampaignConfig,
    /// The verified SES address emails come from (`EMAIL_FROM`).
    pub email_from: crate::domain::EmailAddress,
    /// Countries whose mobile numbers may be texted (`ALLOWED_PHONE_COUNTRIES`, ISO codes, default `US`).
    pub phone_countries: Vec<String>,
    /// Sites allowed to embed the form and post to `/register` (`EMBED_ORIGINS`, space- or
    /// comma-separated: `https://chapter.example`, `https://*.example.org`, `http://127.0.0.1:*`, `*`).
    pub embed_origins: Vec<String>,
    /// Submissions per client address per window (`REGISTER_IP_LIMIT`, default 30).
    pub ip_limit: u32,
    /// Submissions per person per window (`REGISTER_CONTACT_LIMIT`, default 5).
    pub contact_limit: u32,
    /// The rate-limit window in seconds (`REGISTER_WINDOW_SECONDS`, default 600).
    pub window_seconds: u32,
    /// The SMS programme's terms (`TERMS_URL`) and the privacy policy (`PRIVACY_URL`).
    pub terms_url: String,
    pub privacy_url: String,
}

impl RegisterConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        let url = |name: &'static str| -> Result<String, ConfigError> {
            let value = env.required(name)?;
            if value.starts_with("https://") || value.starts_with("http://") {
                Ok(value)
            } else {
                Err(ConfigError::Invalid {
                    name,
                    reason: "must be an http(s) URL",
                })
            }
        };
        let embed_origins = env.list("EMBED_ORIGINS");
        if let Some(bad) = embed_origins
            .iter()
            .find(|o| *o != "*" && !(o.starts_with("https://") || o.starts_with("http://")))
        {
            let _ = bad;
            return Err(ConfigError::Invalid {
                name: "EMBED_ORIGINS",
                reason: "each origin must start with https:// (or http://), or be *",
            });
        }
        let phone_countries = env.phone_countries();
        let public_base_url = env
            .optional("PUBLIC_BASE_URL")
            .or_else(|| env.optional("API_URL"))
            .ok_or(ConfigError::Missing("API_URL"))?
            .trim_end_matches('/')
            .to_string();
        Ok(Self {
            table_name: env.required("TABLE_NAME")?,
            contact_hash_key_parameter: env.required("CONTACT_HASH_KEY_PARAMETER")?,
            link_key_parameter: env.required("EMAIL_LINK_KEY_PARAMETER")?,
            contact_data_key_id: env.required("CONTACT_DATA_KEY_ID")?,
            send_queue_url: env.required("SEND_QUEUE_URL")?,
            public_base_url,
            program: env.program()?,
            campaign: env.campaign()?,
            email_from: env.email_from()?,
            phone_countries,
            embed_origins,
            ip_limit: env.number("REGISTER_IP_LIMIT", 30)?,
            contact_limit: env.number("REGISTER_CONTACT_LIMIT", 5)?,
            window_seconds: env.number("REGISTER_WINDOW_SECONDS", 600)?,
            terms_url: url("TERMS_URL")?,
            privacy_url: url("PRIVACY_URL")?,
        })
    }

    /// The use case's settings.
    pub fn settings(&self) -> crate::registration::Settings {
        crate::registration::Settings {
            rules: crate::registration::form::Rules {
                phone_countries: self.phone_countries.clone(),
            },
            ip_limit: self.ip_limit,
            contact_limit: self.contact_limit,
            window: time::Duration::seconds(i64::from(self.window_seconds)),
            public_base_url: self.public_base_url.clone(),
            program: self.program.clone(),
            campaign: self.campaign.clone(),
            from: crate::email::Mailbox::new(&self.program.name, self.email_from.clone()),
            wordings: Vec::new(),
        }
    }
}

/// Configuration of the `host` function (the host dashboard).
#[derive(Debug, Clone, PartialEq)]
pub struct HostConfig {
    pub table_name: String,
    pub contact_hash_key_parameter: String,
    /// Signs the "delete my data" link in the sign-in email.
    pub link_key_parameter: String,
    /// Name of the SSM SecureString parameter holding the key that signs session cookies and CSRF
    /// tokens (`SESSION_KEY_PARAMETER`).
    pub session_key_parameter: String,
    /// Name of the SSM parameter listing the organizers' email addresses, who may use `/admin`
    /// (`ORGANIZER_EMAILS_PARAMETER`; absent: nobody may).
    pub organizer_emails_parameter: Option<String>,
    pub contact_data_key_id: String,
    /// The send queue the sign-in email goes to.
    pub send_queue_url: String,
    /// Base of sign-in and share links: `PUBLIC_BASE_URL`, else `API_URL`.
    pub public_base_url: String,
    pub program: ProgramConfig,
    pub email_from: crate::domain::EmailAddress,
    /// The number people text a gathering's code to (`TWILIO_PHONE_NUMBER`).
    pub text_number: String,
    /// Sign-in links per client address per window (`HOST_LOGIN_IP_LIMIT`, default 20).
    pub login_ip_limit: u32,
    /// Sign-in links per email per window (`HOST_LOGIN_EMAIL_LIMIT`, default 3).
    pub login_email_limit: u32,
    /// The window in seconds (`HOST_LOGIN_WINDOW_SECONDS`, default 900).
    pub login_window_seconds: u32,
    /// `required`: new gatherings wait for an organizer before they are listed; `auto` (default):
    /// listed at once (`GATHERING_APPROVAL`).
    pub approval_required: bool,
    /// Countries whose mobile numbers hosts may invite (`ALLOWED_PHONE_COUNTRIES`, default `US`).
    pub phone_countries: Vec<String>,
    /// Invitations a host may send per day (`HOST_INVITE_DAILY_LIMIT`, default 200).
    pub invite_quota: u32,
    /// The invite window (`INVITE_WINDOW_DAYS`, default 30) and how long invitations are kept after
    /// it (`INVITE_PURGE_DAYS`, default 30).
    pub invite_window_days: u32,
    pub invite_purge_days: u32,
    /// Prices for the cost estimate (`SMS_SEGMENT_PRICE_USD`, default 0.0083, Twilio's US long-code
    /// price per segment; `EMAIL_PRICE_USD`, default 0.0001, SES's price per email).
    pub sms_segment_price_usd: f64,
    pub email_price_usd: f64,
}

impl HostConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        let price = |name: &'static str, default: f64| -> Result<f64, ConfigError> {
            match env.optional(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|p| p.is_finite() && *p >= 0.0)
                    .ok_or(ConfigError::Invalid {
                        name,
                        reason: "must be a price in US dollars, 0 or more",
                    }),
            }
        };
        let approval_required = match env.optional("GATHERING_APPROVAL").as_deref().map(str::trim) {
            None | Some("auto") => false,
            Some("required") => true,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "GATHERING_APPROVAL",
                    reason: "must be auto or required",
                });
            }
        };
        let public_base_url = env
            .optional("PUBLIC_BASE_URL")
            .or_else(|| env.optional("API_URL"))
            .ok_or(ConfigError::Missing("API_URL"))?
            .trim_end_matches('/')
            .to_string();
        if !(public_base_url.starts_with("https://") || public_base_url.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                name: "PUBLIC_BASE_URL",
                reason: "must start with https:// (or http:// for local development)",
            });
        }
        Ok(Self {
            table_name: env.required("TABLE_NAME")?,
            contact_hash_key_parameter: env.required("CONTACT_HASH_KEY_PARAMETER")?,
            link_key_parameter: env.required("EMAIL_LINK_KEY_PARAMETER")?,
            session_key_parameter: env.required("SESSION_KEY_PARAMETER")?,
            organizer_emails_parameter: env.optional("ORGANIZER_EMAILS_PARAMETER"),
            contact_data_key_id: env.required("CONTACT_DATA_KEY_ID")?,
            send_queue_url: env.required("SEND_QUEUE_URL")?,
            public_base_url,
            program: env.program()?,
            email_from: env.email_from()?,
            text_number: env.required("TWILIO_PHONE_NUMBER")?,
            login_ip_limit: env.number("HOST_LOGIN_IP_LIMIT", 20)?,
            login_email_limit: env.number("HOST_LOGIN_EMAIL_LIMIT", 3)?,
            login_window_seconds: env.number("HOST_LOGIN_WINDOW_SECONDS", 900)?,
            approval_required,
            phone_countries: env.phone_countries(),
            invite_quota: env.number("HOST_INVITE_DAILY_LIMIT", 200)?,
            invite_window_days: env.number("INVITE_WINDOW_DAYS", 30)?,
            invite_purge_days: env.number("INVITE_PURGE_DAYS", 30)?,
            sms_segment_price_usd: price("SMS_SEGMENT_PRICE_USD", 0.0083)?,
            email_price_usd: price("EMAIL_PRICE_USD", 0.0001)?,
        })
    }

    /// The use case's settings.
    pub fn settings(&self) -> crate::hosting::Settings {
        crate::hosting::Settings {
            public_base_url: self.public_base_url.clone(),
            program: self.program.clone(),
            from: crate::email::Mailbox::new(&self.program.name, self.email_from.clone()),
            secure_cookies: self.public_base_url.starts_with("https://"),
            login_ip_limit: self.login_ip_limit,
            login_email_limit: self.login_email_limit,
            login_window: time::Duration::seconds(i64::from(self.login_window_seconds)),
            approval_required: self.approval_required,
            text_number: self.text_number.clone(),
            phone_countries: self.phone_countries.clone(),
            invite_quota: self.invite_quota,
            invite_window_days: self.invite_window_days,
            invite_purge_days: self.invite_purge_days,
            sms_segment_price_usd: self.sms_segment_price_usd,
            email_price_usd: self.email_price_usd,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn full() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            ("TABLE_NAME", "rising"),
            ("PUBLIC_BASE_URL", "https://sms.example.org/"),
            ("CONTACT_HASH_KEY_PARAMETER", "/rising/contact-hash-key"),
            ("TWILIO_ACCOUNT_SID", "AC00000000000000000000000000000000"),
            ("TWILIO_PHONE_NUMBER", "+15550100000"),
            ("TWILIO_AUTH_TOKEN_PARAMETER", "/rising/twilio-auth-token"),
            ("SUPPORT_CONTACT", "help@example.org"),
            ("OVERVIEW_RECORDING_URL", "https://example.org/r/overview"),
            ("RECORDINGS_URL", "https://example.org/r"),
            ("SAFETY_URL", "https://example.org/safety"),
            ("HOST_SIGNUP_URL", "https://example.org/host"),
            ("EMAIL_FROM", "hello@example.org"),
            ("EMAIL_LINK_KEY_PARAMETER", "/rising/email-link-key"),
            (
                "SEND_QUEUE_URL",
                "https://sqs.us-east-1.amazonaws.com/123456789012/send",
            ),
            ("API_URL", "https://abc.execute-api.us-east-1.amazonaws.com"),
            (
                "CONTACT_DATA_KEY_ID",
                "arn:aws:kms:us-east-1:123456789012:key/abc",
            ),
        ])
    }

    fn load(vars: &HashMap<&'static str, &'static str>) -> Result<SmsInboundConfig, ConfigError> {
        SmsInboundConfig::from_lookup(|name| vars.get(name).map(|v| v.to_string()))
    }

    #[test]
    fn a_complete_environment_gives_a_typed_config_with_production_defaults() {
        let config = load(&full()).unwrap();
        assert_eq!(
            config.webhook.public_base_url.as_deref(),
            Some("https://sms.example.org")
        );
        let twilio = Env(|name: &str| full().get(name).map(|v| v.to_string()))
            .twilio()
            .unwrap();
        assert_eq!(twilio.api_base_url, "https://api.twilio.com");
    }

    #[test]
    fn an_empty_public_base_url_means_derive_it_from_the_request() {
        let mut vars = full();
        vars.insert("PUBLIC_BASE_URL", "");
        assert_eq!(load(&vars).unwrap().webhook.public_base_url, None);
    }

    #[test]
    fn a_missing_variable_is_named_in_the_error() {
        let mut vars = full();
        vars.remove("TABLE_NAME");
        assert_eq!(load(&vars), Err(ConfigError::Missing("TABLE_NAME")));
    }

    #[test]
    fn a_malformed_account_sid_is_rejected() {
        let mut vars = full();
        vars.insert("TWILIO_ACCOUNT_SID", "SK123");
        assert!(matches!(
            load(&vars),
            Err(ConfigError::Invalid {
                name: "TWILIO_ACCOUNT_SID",
                ..
            })
        ));
    }
}

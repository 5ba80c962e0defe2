//! Request validation for `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`,
//! with Twilio's error codes (https://www.twilio.com/docs/api/errors).

use crate::config::Config;
use crate::segments;

/// Twilio's limit on a message body, in characters.
pub const MAX_BODY_CHARS: usize = 1600;
/// Twilio's limit on `MediaUrl` parameters per message.
pub const MAX_MEDIA_URLS: usize = 10;

/// The form parameters of CreateMessageRequest this emulator reads (all of
/// them are in the OpenAPI spec's request schema; the conformance test checks).
pub const ACCEPTED_CREATE_PARAMS: &[&str] = &[
    "To",
    "From",
    "MessagingServiceSid",
    "Body",
    "MediaUrl",
    "StatusCallback",
];

/// The query parameters of the list operation this emulator reads.
pub const ACCEPTED_LIST_PARAMS: &[&str] = &["To", "From", "PageSize", "Page"];

/// `+` then 2 to 15 digits, the first not 0.
pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

fn is_prefixed_hex32(s: &str, prefixes: &[&str]) -> bool {
    s.len() == 34
        && prefixes.iter().any(|p| s.starts_with(p))
        && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

pub fn is_account_sid(s: &str) -> bool {
    is_prefixed_hex32(s, &["AC"])
}

pub fn is_messaging_service_sid(s: &str) -> bool {
    is_prefixed_hex32(s, &["MG"])
}

pub fn is_message_sid(s: &str) -> bool {
    is_prefixed_hex32(s, &["SM", "MM"])
}

/// A Twilio REST error: `{code, message, more_info, status}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: u32,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: u32, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn more_info(&self) -> String {
        format!("https://www.twilio.com/docs/errors/{}", self.code)
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.code,
            "message": self.message,
            "more_info": self.more_info(),
            "status": self.status,
        })
    }
}

/// The parameters of a create-message request.
#[derive(Clone, Debug, Default)]
pub struct CreateRequest {
    pub to: Option<String>,
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub body: Option<String>,
    pub media_urls: Vec<String>,
    pub status_callback: Option<String>,
}

impl CreateRequest {
    /// Reads the form pairs; empty values count as absent, like Twilio.
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        let first = |k: &str| {
            pairs
                .iter()
                .find(|(n, v)| n == k && !v.is_empty())
                .map(|(_, v)| v.clone())
        };
        CreateRequest {
            to: first("To").map(|s| s.trim().to_string()),
            from: first("From").map(|s| s.trim().to_string()),
            messaging_service_sid: first("MessagingServiceSid").map(|s| s.trim().to_string()),
            body: first("Body"),
            media_urls: pairs
                .iter()
                .filter(|(k, v)| k == "MediaUrl" && !v.is_empty())
                .map(|(_, v)| v.clone())
                .collect(),
            status_callback: first("StatusCallback").map(|s| s.trim().to_string()),
        }
    }
}

/// A request that passed validation.
#[derive(Clone, Debug)]
pub struct ValidCreate {
    pub to: String,
    /// The sender given by the caller (`None` when only a Messaging Service was given).
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub body: String,
    pub media_urls: Vec<String>,
    pub status_callback: Option<String>,
    pub num_segments: usize,
}

impl ValidCreate {
    /// The key rate limits are counted under.
    pub fn sender_key(&self) -> &str {
        self.from
            .as_deref()
            .or(self.messaging_service_sid.as_deref())
            .unwrap_or_default()
    }
}

fn valid_callback_url(u: &str) -> bool {
    match url::Url::parse(u) {
        Ok(url) => {
            matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some_and(|h| !h.is_empty())
        }
        Err(_) => false,
    }
}

/// Validates a create-message request in Twilio's order of checks.
/// `opted_out(to, sender)` tells whether `to` has opted out from `sender`.
pub fn validate_create(
    req: &CreateRequest,
    cfg: &Config,
    opted_out: impl Fn(&str, &str) -> bool,
) -> Result<ValidCreate, ApiError> {
    let Some(to) = req.to.clone() else {
        return Err(ApiError::new(
            400,
            21604,
            "A 'To' phone number is required.",
        ));
    };
    if req.from.is_none() && req.messaging_service_sid.is_none() {
        return Err(ApiError::new(
            400,
            21603,
            "A 'From' or 'MessagingServiceSid' parameter is required to send a message.",
        ));
    }
    let body = req.body.clone().unwrap_or_default();
    if body.is_empty() && req.media_urls.is_empty() {
        return Err(ApiError::new(
            400,
            21602,
            "A text message body or media urls must be specified.",
        ));
    }
    if !is_e164(&to) || cfg.invalid_numbers.contains(&to) {
        return Err(ApiError::new(
            400,
            21211,
            format!("Invalid 'To' Phone Number: {to}"),
        ));
    }
    if let Some(mg) = &req.messaging_service_sid {
        let known = cfg.messaging_service_sid.as_deref() == Some(mg.as_str());
        if !is_messaging_service_sid(mg) || !known {
            return Err(ApiError::new(
                400,
                21701,
                format!("The Messaging Service Sid {mg} is invalid."),
            ));
        }
    }
    if let Some(from) = &req.from
        && from != &cfg.phone_number
    {
        return Err(ApiError::new(
            400,
            21606,
            format!(
                "The From phone number {from} is not a valid, SMS-capable inbound phone number or short code for your account."
            ),
        ));
    }
    let sender = req.from.clone().unwrap_or_else(|| cfg.phone_number.clone());
    if sender == to {
        return Err(ApiError::new(
            400,
            21266,
            "'To' and 'From' number cannot be the same",
        ));
    }
    if let Some(cb) = &req.status_callback
        && !valid_callback_url(cb)
    {
        return Err(ApiError::new(
            400,
            21609,
            format!("The StatusCallback URL {cb} is not a valid URL."),
        ));
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(ApiError::new(
            400,
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        ));
    }
    if req.media_urls.len() > MAX_MEDIA_URLS {
        return Err(ApiError::new(
            400,
            21623,
            "The number of media URLs exceeds the limit of 10.",
        ));
    }
    if cfg.landline_numbers.contains(&to) {
        return Err(ApiError::new(
            400,
            21614,
            format!("'To' number {to} is not a valid mobile number"),
        ));
    }
    if opted_out(&to, &sender) {
        return Err(ApiError::new(
            400,
            21610,
            "Attempt to send to unsubscribed recipient",
        ));
    }
    let num_segments = segments::count(&body).segments;
    Ok(ValidCreate {
        to,
        from: req.from.clone(),
        messaging_service_sid: req.messaging_service_sid.clone(),
        body,
        media_urls: req.media_urls.clone(),
        status_callback: req.status_callback.clone(),
        num_segments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROJECT: &str = "+15005550006";
    const MG: &str = "MG0123456789abcdef0123456789abcdef";

    fn cfg() -> Config {
        let mut c = Config {
            messaging_service_sid: Some(MG.into()),
            ..Config::default()
        };
        c.invalid_numbers.insert("+15550000001".into());
        c.landline_numbers.insert("+15550000002".into());
        c
    }

    fn req(pairs: &[(&str, &str)]) -> CreateRequest {
        let v: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        CreateRequest::from_pairs(&v)
    }

    fn code(pairs: &[(&str, &str)]) -> u32 {
        validate_create(&req(pairs), &cfg(), |to, _| to == "+15550000003")
            .unwrap_err()
            .code
    }

    #[test]
    fn e164_and_sids() {
        assert!(is_e164("+14155552671"));
        assert!(!is_e164("14155552671"));
        assert!(!is_e164("+0123"));
        assert!(!is_e164("+1415555267123456"));
        assert!(!is_e164("+1 415"));
        assert!(is_account_sid("ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
        assert!(!is_account_sid("ACzzaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
        assert!(is_message_sid("MM0123456789abcdef0123456789abcdef"));
        assert!(!is_message_sid("SM0123"));
    }

    #[test]
    fn each_error_code() {
        assert_eq!(code(&[("From", PROJECT), ("Body", "hi")]), 21604);
        assert_eq!(code(&[("To", "+15551234567"), ("Body", "hi")]), 21603);
        assert_eq!(code(&[("To", "+15551234567"), ("From", PROJECT)]), 21602);
        assert_eq!(
            code(&[("To", "+15551234567"), ("From", PROJECT), ("Body", "")]),
            21602
        );
        assert_eq!(
            code(&[("To", "5551234567"), ("From", PROJECT), ("Body", "hi")]),
            21211
        );
        assert_eq!(
            code(&[("To", "+15550000001"), ("From", PROJECT), ("Body", "hi")]),
            21211
        );
        assert_eq!(
            code(&[
                ("To", "+15551234567"),
                ("From", "+15559999999"),
                ("Body", "hi")
            ]),
            21606
        );
        assert_eq!(
            code(&[
                ("To", "+15551234567"),
                ("MessagingServiceSid", "MGffffffffffffffffffffffffffffffff"),
                ("Body", "hi")
            ]),
            21701
        );
        assert_eq!(
            code(&[("To", PROJECT), ("From", PROJECT), ("Body", "hi")]),
            21266
        );
        assert_eq!(
            code(&[
                ("To", "+15551234567"),
                ("From", PROJECT),
                ("Body", "hi"),
                ("StatusCallback", "not a url")
            ]),
            21609
        );
        let long = "a".repeat(1601);
        assert_eq!(
            code(&[("To", "+15551234567"), ("From", PROJECT), ("Body", &long)]),
            21617
        );
        assert_eq!(
            code(&[("To", "+15550000002"), ("From", PROJECT), ("Body", "hi")]),
            21614
        );
        assert_eq!(
            code(&[("To", "+15550000003"), ("From", PROJECT), ("Body", "hi")]),
            21610
        );
    }

    #[test]
    fn accepts_valid_requests() {
        let ok = validate_create(
            &req(&[
                ("To", "+15551234567"),
                ("From", PROJECT),
                ("Body", &"a".repeat(1600)),
            ]),
            &cfg(),
            |_, _| false,
        )
        .unwrap();
        assert_eq!(ok.num_segments, 11);
        assert_eq!(ok.sender_key(), PROJECT);
        let ok = validate_create(
            &req(&[
                ("To", "+15551234567"),
                ("MessagingServiceSid", MG),
                ("MediaUrl", "https://example.com/a.png"),
            ]),
            &cfg(),
            |_, _| false,
        )
        .unwrap();
        assert_eq!(ok.from, None);
        assert_eq!(ok.sender_key(), MG);
        assert_eq!(ok.media_urls.len(), 1);
    }

    #[test]
    fn error_json_shape() {
        let e = ApiError::new(400, 21211, "x").to_json();
        assert_eq!(e["code"], 21211);
        assert_eq!(e["status"], 400);
        assert_eq!(e["more_info"], "https://www.twilio.com/docs/errors/21211");
        assert_eq!(e.as_object().unwrap().len(), 4);
    }
}

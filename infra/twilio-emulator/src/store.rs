//! In-memory state: messages, opt-outs, rate-limit buckets, callback log,
//! queued faults.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

pub const API_VERSION: &str = "2010-04-01";

/// `Thu, 30 Jul 2015 20:12:31 +0000` (RFC 2822, GMT), as Twilio dates are.
pub fn rfc2822(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.format(format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] +0000"
    ))
    .expect("formatting a UTC date cannot fail")
}

/// `YYMMDDhhmm`, the `RawDlrDoneDate` of delivery receipts.
pub fn dlr_done_date(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year repr:last_two][month][day][hour][minute]"
        ))
        .expect("formatting a UTC date cannot fail")
}

/// A new SID: two-letter prefix then 32 lowercase hex digits.
pub fn new_sid(prefix: &str) -> String {
    let bytes: [u8; 16] = rand::random();
    format!("{prefix}{}", hex::encode(bytes))
}

#[derive(Clone, Debug)]
pub struct Message {
    pub sid: String,
    pub account_sid: String,
    pub messaging_service_sid: Option<String>,
    pub from: Option<String>,
    pub to: String,
    pub body: String,
    pub media_urls: Vec<String>,
    pub status: &'static str,
    pub direction: &'static str,
    pub num_segments: usize,
    pub error_code: Option<u32>,
    pub error_message: Option<String>,
    pub date_created: OffsetDateTime,
    pub date_updated: OffsetDateTime,
    pub date_sent: Option<OffsetDateTime>,
    pub status_history: Vec<&'static str>,
}

impl Message {
    pub fn uri(&self) -> String {
        format!(
            "/{API_VERSION}/Accounts/{}/Messages/{}.json",
            self.account_sid, self.sid
        )
    }

    pub fn set_status(&mut self, status: &'static str, now: OffsetDateTime) {
        self.status = status;
        self.date_updated = now;
        if status == "sent" && self.date_sent.is_none() {
            self.date_sent = Some(now);
        }
        self.status_history.push(status);
    }

    /// The Message resource (`api.v2010.account.message`), every property present.
    pub fn resource_json(&self) -> Value {
        json!({
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": rfc2822(self.date_created),
            "date_sent": self.date_sent.map(rfc2822),
            "date_updated": rfc2822(self.date_updated),
            "direction": self.direction,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "from": self.from,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": self.media_urls.len().to_string(),
            "num_segments": self.num_segments.to_string(),
            "price": Value::Null,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {
                "media": format!("/{API_VERSION}/Accounts/{}/Messages/{}/Media.json", self.account_sid, self.sid),
            },
            "to": self.to,
            "uri": self.uri(),
        })
    }

    /// The emulator's own, flatter view (`/_emulator/messages`).
    pub fn emulator_json(&self) -> Value {
        json!({
            "sid": self.sid,
            "direction": self.direction,
            "from": self.from,
            "to": self.to,
            "body": self.body,
            "media_urls": self.media_urls,
            "status": self.status,
            "status_history": self.status_history,
            "num_segments": self.num_segments,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "messaging_service_sid": self.messaging_service_sid,
            "date": rfc2822(self.date_created),
            "date_updated": rfc2822(self.date_updated),
        })
    }

    /// Whether this message is part of `phone`'s conversation.
    pub fn involves(&self, phone: &str) -> bool {
        self.to == phone || self.from.as_deref() == Some(phone)
    }
}

/// One status callback POST made by the emulator.
#[derive(Clone, Debug)]
pub struct CallbackRecord {
    pub message_sid: String,
    pub url: String,
    pub message_status: &'static str,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub date: OffsetDateTime,
}

impl CallbackRecord {
    pub fn to_json(&self) -> Value {
        json!({
            "message_sid": self.message_sid,
            "url": self.url,
            "message_status": self.message_status,
            "http_status": self.http_status,
            "error": self.error,
            "date": rfc2822(self.date),
        })
    }
}

/// Token buckets per sender: `mps` tokens a second, bursts of up to `mps`.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: HashMap<String, (f64, Instant)>,
}

impl RateLimiter {
    /// Takes one token for `key`, or tells how long until one is available.
    pub fn take(&mut self, key: &str, mps: u32, now: Instant) -> Result<(), Duration> {
        if mps == 0 {
            return Ok(());
        }
        let rate = f64::from(mps);
        let (tokens, last) = self.buckets.entry(key.to_string()).or_insert((rate, now));
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * rate).min(rate);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / rate))
        }
    }

    pub fn clear(&mut self) {
        self.buckets.clear();
    }
}

#[derive(Debug, Default)]
pub struct Store {
    messages: Vec<Message>,
    by_sid: HashMap<String, usize>,
    /// (phone, sender number) pairs: `phone` texted STOP to `sender`.
    opt_outs: HashSet<(String, String)>,
    pub limiter: RateLimiter,
    /// Queued fault answers and Create Message request counts.
    pub faults: crate::faults::Faults,
    callbacks: Vec<CallbackRecord>,
    /// Bumped by `reset`, so delivery tasks started before it stop.
    pub generation: u64,
}

impl Store {
    pub fn insert(&mut self, m: Message) {
        if let Some(&i) = self.by_sid.get(&m.sid) {
            self.messages[i] = m;
        } else {
            self.by_sid.insert(m.sid.clone(), self.messages.len());
            self.messages.push(m);
        }
    }

    pub fn get(&self, sid: &str) -> Option<&Message> {
        self.by_sid.get(sid).map(|&i| &self.messages[i])
    }

    pub fn get_mut(&mut self, sid: &str) -> Option<&mut Message> {
        self.by_sid
            .get(sid)
            .copied()
            .map(move |i| &mut self.messages[i])
    }

    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    pub fn is_opted_out(&self, phone: &str, sender: &str) -> bool {
        self.opt_outs
            .contains(&(phone.to_string(), sender.to_string()))
    }

    pub fn opt_out(&mut self, phone: &str, sender: &str) {
        self.opt_outs
            .insert((phone.to_string(), sender.to_string()));
    }

    pub fn opt_in(&mut self, phone: &str, sender: &str) {
        self.opt_outs
            .remove(&(phone.to_string(), sender.to_string()));
    }

    pub fn opt_outs(&self) -> impl Iterator<Item = &(String, String)> {
        self.opt_outs.iter()
    }

    pub fn record_callback(&mut self, r: CallbackRecord) {
        self.callbacks.push(r);
    }

    pub fn callbacks(&self) -> &[CallbackRecord] {
        &self.callbacks
    }

    pub fn reset(&mut self) {
        let generation = self.generation + 1;
        *self = Store {
            generation,
            ..Store::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2822_format() {
        let t = time::macros::datetime!(2015-07-30 20:12:31 UTC);
        assert_eq!(rfc2822(t), "Thu, 30 Jul 2015 20:12:31 +0000");
        let t = time::macros::datetime!(2021-11-01 02:03:04 +02:00);
        assert_eq!(rfc2822(t), "Mon, 01 Nov 2021 00:03:04 +0000");
        assert_eq!(dlr_done_date(t), "2111010003");
    }

    #[test]
    fn sids() {
        let s = new_sid("SM");
        assert_eq!(s.len(), 34);
        assert!(
            s[2..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_ne!(new_sid("SM"), s);
    }

    #[test]
    fn token_bucket() {
        let mut r = RateLimiter::default();
        let t0 = Instant::now();
        assert!(r.take("a", 2, t0).is_ok());
        assert!(r.take("a", 2, t0).is_ok());
        let wait = r.take("a", 2, t0).unwrap_err();
        assert!(wait > Duration::from_millis(400) && wait <= Duration::from_millis(500));
        assert!(r.take("b", 2, t0).is_ok(), "buckets are per sender");
        assert!(r.take("a", 2, t0 + Duration::from_millis(500)).is_ok());
        assert!(r.take("a", 0, t0).is_ok(), "0 is unlimited");
    }
}

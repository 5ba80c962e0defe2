//! Fault injection for the Create Message endpoint: queued answers a test
//! sets with `POST /_emulator/faults`, consumed one per request.

use std::collections::{HashMap, VecDeque};

use serde_json::{Map, Value, json};

use crate::validate::{ApiError, is_e164};

/// The recipient key that matches any `To`.
pub const ANY: &str = "*";

/// Upper bound of `delay_ms` (10 minutes).
pub const MAX_DELAY_MS: u64 = 600_000;
/// Upper bound of `retry_after` (1 hour).
pub const MAX_RETRY_AFTER: u64 = 3_600;
/// Upper bound of responses in one `POST /_emulator/faults`.
pub const MAX_RESPONSES: usize = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Handle the request normally (after `delay_ms`).
    Delay,
    /// Answer a Twilio server error (500, 502 or 503); no message is created.
    ServerError(u16),
    /// Answer 429/20429 with `Retry-After: retry_after`; no message is created.
    TooManyRequests { retry_after: u64 },
    /// Create the message, then close the connection without an answer.
    Reset,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    pub delay_ms: u64,
}

impl Fault {
    /// Reads one entry of `responses`; `at` names it in error messages.
    pub fn from_json(v: &Value, at: &str) -> Result<Fault, String> {
        let obj = v
            .as_object()
            .ok_or_else(|| format!("{at} must be an object such as {{\"status\": 500}}"))?;
        if let Some(k) = obj
            .keys()
            .find(|k| !matches!(k.as_str(), "status" | "retry_after" | "delay_ms"))
        {
            return Err(format!(
                "{at}: unknown field `{k}` (expected status, retry_after, delay_ms)"
            ));
        }
        let uint = |name: &str, max: u64| -> Result<Option<u64>, String> {
            match obj.get(name) {
                None => Ok(None),
                Some(x) => match x.as_u64() {
                    Some(n) if n <= max => Ok(Some(n)),
                    _ => Err(format!(
                        "{at}.{name} must be an integer from 0 to {max}, got {x}"
                    )),
                },
            }
        };
        let delay_ms = uint("delay_ms", MAX_DELAY_MS)?;
        let retry_after = uint("retry_after", MAX_RETRY_AFTER)?;
        let kind = match obj.get("status") {
            None if delay_ms.is_some() => FaultKind::Delay,
            None => {
                return Err(format!(
                    "{at} needs `status` (429, 500, 502, 503 or \"reset\") or `delay_ms`"
                ));
            }
            Some(s) => match (s.as_u64(), s.as_str()) {
                (Some(429), _) => FaultKind::TooManyRequests {
                    retry_after: retry_after.unwrap_or(1),
                },
                (Some(c @ (500 | 502 | 503)), _) => FaultKind::ServerError(c as u16),
                (_, Some("reset")) => FaultKind::Reset,
                _ => {
                    return Err(format!(
                        "{at}.status must be 429, 500, 502, 503 or \"reset\", got {s}"
                    ));
                }
            },
        };
        if retry_after.is_some() && !matches!(kind, FaultKind::TooManyRequests { .. }) {
            return Err(format!("{at}.retry_after is only allowed with status 429"));
        }
        Ok(Fault {
            kind,
            delay_ms: delay_ms.unwrap_or(0),
        })
    }

    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        match self.kind {
            FaultKind::Delay => {}
            FaultKind::ServerError(c) => {
                m.insert("status".into(), json!(c));
            }
            FaultKind::TooManyRequests { retry_after } => {
                m.insert("status".into(), json!(429));
                m.insert("retry_after".into(), json!(retry_after));
            }
            FaultKind::Reset => {
                m.insert("status".into(), json!("reset"));
            }
        }
        if self.delay_ms > 0 || self.kind == FaultKind::Delay {
            m.insert("delay_ms".into(), json!(self.delay_ms));
        }
        Value::Object(m)
    }
}

/// The Twilio error a server-error fault answers.
pub fn server_error(status: u16) -> ApiError {
    match status {
        503 => ApiError::new(503, 20503, "Service unavailable"),
        502 => ApiError::new(502, 20500, "Bad Gateway"),
        _ => ApiError::new(500, 20500, "Internal Server Error"),
    }
}

/// A parsed `POST /_emulator/faults` body.
#[derive(Debug, PartialEq, Eq)]
pub struct FaultPlan {
    /// An E.164 number or [`ANY`].
    pub to: String,
    pub responses: Vec<Fault>,
}

impl FaultPlan {
    pub fn parse(body: &[u8]) -> Result<FaultPlan, String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
        let obj = v.as_object().ok_or(
            "expected a JSON object {\"to\": \"+1…\" | \"*\", \"responses\": [{\"status\": 500}, …]}",
        )?;
        if let Some(k) = obj
            .keys()
            .find(|k| !matches!(k.as_str(), "to" | "responses"))
        {
            return Err(format!("unknown field `{k}` (expected to, responses)"));
        }
        let to = match obj.get("to") {
            Some(Value::String(s)) if s == ANY || is_e164(s) => s.clone(),
            Some(x) => {
                return Err(format!(
                    "`to` must be an E.164 number such as +12025550143 or \"*\", got {x}"
                ));
            }
            None => return Err("`to` is required: an E.164 number or \"*\"".into()),
        };
        let list = match obj.get("responses") {
            Some(Value::Array(a)) if !a.is_empty() && a.len() <= MAX_RESPONSES => a,
            Some(Value::Array(a)) if a.is_empty() => {
                return Err("`responses` must not be empty".into());
            }
            Some(Value::Array(_)) => {
                return Err(format!("`responses` has more than {MAX_RESPONSES} entries"));
            }
            Some(x) => return Err(format!("`responses` must be an array, got {x}")),
            None => return Err("`responses` is required: an array of answers".into()),
        };
        let responses = list
            .iter()
            .enumerate()
            .map(|(i, r)| Fault::from_json(r, &format!("responses[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FaultPlan { to, responses })
    }
}

/// Queued faults per recipient, and Create Message requests counted per recipient.
#[derive(Debug, Default)]
pub struct Faults {
    queues: HashMap<String, VecDeque<Fault>>,
    requests: HashMap<String, u64>,
    requests_total: u64,
}

impl Faults {
    /// Appends to `to`'s queue; returns its new length.
    pub fn push(&mut self, plan: FaultPlan) -> usize {
        let q = self.queues.entry(plan.to).or_default();
        q.extend(plan.responses);
        q.len()
    }

    /// Counts a Create Message request to `to` and takes the fault it gets:
    /// `to`'s own queue first, then the `*` queue.
    pub fn on_create(&mut self, to: Option<&str>) -> Option<Fault> {
        self.requests_total += 1;
        if let Some(to) = to {
            *self.requests.entry(to.to_string()).or_default() += 1;
        }
        let own = to.filter(|t| *t != ANY).and_then(|t| self.pop(t));
        own.or_else(|| self.pop(ANY))
    }

    fn pop(&mut self, key: &str) -> Option<Fault> {
        let q = self.queues.get_mut(key)?;
        let f = q.pop_front();
        if q.is_empty() {
            self.queues.remove(key);
        }
        f
    }

    /// Drops every queued fault; returns how many there were.
    pub fn clear(&mut self) -> usize {
        let n = self.queues.values().map(VecDeque::len).sum();
        self.queues.clear();
        n
    }

    /// Create Message requests that arrived for `phone` (all of them when `None`).
    pub fn requests(&self, phone: Option<&str>) -> u64 {
        match phone {
            Some(p) => self.requests.get(p).copied().unwrap_or(0),
            None => self.requests_total,
        }
    }

    pub fn queued_json(&self) -> Value {
        let m: Map<String, Value> = self
            .queues
            .iter()
            .map(|(k, q)| (k.clone(), q.iter().map(Fault::to_json).collect()))
            .collect();
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<FaultPlan, String> {
        FaultPlan::parse(v.to_string().as_bytes())
    }

    #[test]
    fn parses_every_kind() {
        let p = parse(json!({"to": "+12025550143", "responses": [
            {"status": 500}, {"status": 502}, {"status": 503, "delay_ms": 10},
            {"status": 429, "retry_after": 3}, {"status": 429},
            {"delay_ms": 3000}, {"status": "reset"}, {"status": "reset", "delay_ms": 5},
        ]}))
        .unwrap();
        assert_eq!(p.to, "+12025550143");
        let k: Vec<FaultKind> = p.responses.iter().map(|f| f.kind).collect();
        assert_eq!(
            k,
            [
                FaultKind::ServerError(500),
                FaultKind::ServerError(502),
                FaultKind::ServerError(503),
                FaultKind::TooManyRequests { retry_after: 3 },
                FaultKind::TooManyRequests { retry_after: 1 },
                FaultKind::Delay,
                FaultKind::Reset,
                FaultKind::Reset,
            ]
        );
        assert_eq!(p.responses[2].delay_ms, 10);
        assert_eq!(p.responses[5].delay_ms, 3000);
        for f in &p.responses {
            let again = Fault::from_json(&f.to_json(), "x").unwrap();
            assert_eq!(&again, f);
        }
        assert_eq!(
            parse(json!({"to": "*", "responses": [{"status": 500}]}))
                .unwrap()
                .to,
            "*"
        );
    }

    #[test]
    fn rejects_bad_plans_clearly() {
        let bad = |v: Value, needle: &str| {
            let e = parse(v.clone()).unwrap_err();
            assert!(e.contains(needle), "{v} → {e}");
        };
        assert!(
            FaultPlan::parse(b"{not json")
                .unwrap_err()
                .contains("invalid JSON")
        );
        bad(json!([]), "JSON object");
        bad(json!({"responses": [{"status": 500}]}), "`to` is required");
        bad(
            json!({"to": "2025550143", "responses": [{"status": 500}]}),
            "E.164",
        );
        bad(json!({"to": 5, "responses": [{"status": 500}]}), "E.164");
        bad(json!({"to": "*"}), "`responses` is required");
        bad(json!({"to": "*", "responses": []}), "must not be empty");
        bad(json!({"to": "*", "responses": {}}), "must be an array");
        bad(
            json!({"to": "*", "responses": [{"status": 500}], "x": 1}),
            "unknown field `x`",
        );
        bad(json!({"to": "*", "responses": [{}]}), "responses[0] needs");
        bad(json!({"to": "*", "responses": [5]}), "responses[0] must be");
        bad(
            json!({"to": "*", "responses": [{"status": 500}, {"status": 404}]}),
            "responses[1].status",
        );
        bad(
            json!({"to": "*", "responses": [{"status": "500"}]}),
            "responses[0].status",
        );
        bad(
            json!({"to": "*", "responses": [{"status": 500, "retry_after": 1}]}),
            "only allowed with status 429",
        );
        bad(
            json!({"to": "*", "responses": [{"delay_ms": -1}]}),
            "responses[0].delay_ms",
        );
        bad(
            json!({"to": "*", "responses": [{"delay_ms": 600001}]}),
            "responses[0].delay_ms",
        );
        bad(
            json!({"to": "*", "responses": [{"status": 429, "retry_after": 1.5}]}),
            "retry_after",
        );
        bad(
            json!({"to": "*", "responses": [{"status": 500, "code": 1}]}),
            "unknown field `code`",
        );
    }

    #[test]
    fn recipient_queue_before_any_then_normal() {
        let mut f = Faults::default();
        let plan = |to: &str, codes: &[u16]| FaultPlan {
            to: to.into(),
            responses: codes
                .iter()
                .map(|&c| Fault {
                    kind: FaultKind::ServerError(c),
                    delay_ms: 0,
                })
                .collect(),
        };
        assert_eq!(f.push(plan("*", &[503])), 1);
        assert_eq!(f.push(plan("+15550000001", &[500])), 1);
        assert_eq!(f.push(plan("+15550000001", &[502])), 2);
        let code = |f: Option<Fault>| match f.map(|f| f.kind) {
            Some(FaultKind::ServerError(c)) => Some(c),
            _ => None,
        };
        assert_eq!(code(f.on_create(Some("+15550000001"))), Some(500));
        assert_eq!(code(f.on_create(Some("+15550000001"))), Some(502));
        assert_eq!(code(f.on_create(Some("+15550000001"))), Some(503));
        assert_eq!(code(f.on_create(Some("+15550000001"))), None);
        assert_eq!(f.push(plan("*", &[500])), 1);
        assert_eq!(code(f.on_create(None)), Some(500));
        assert_eq!(f.requests(Some("+15550000001")), 4);
        assert_eq!(f.requests(Some("+15550000002")), 0);
        assert_eq!(f.requests(None), 5);
        f.push(plan("+15550000002", &[500, 500]));
        assert_eq!(f.queued_json()["+15550000002"].as_array().unwrap().len(), 2);
        assert_eq!(f.clear(), 2);
        assert_eq!(f.on_create(Some("+15550000002")), None);
    }
}

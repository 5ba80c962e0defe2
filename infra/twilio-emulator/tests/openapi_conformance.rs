//! Checks the emulator's JSON against Twilio's official OpenAPI description
//! of the 2010-04-01 API (`twilio_api_v2010.json`), read from the workspace's
//! sibling `shared/reference/twilio/` folder or from `$TWILIO_OPENAPI_SPEC`.
//!
//! The schema checker below is deliberately small: `$ref`, `type`,
//! `nullable`, `enum`, `properties` (every one required to be present, none
//! extra), `items`, `minLength`/`maxLength`, `pattern` (a tiny regex engine)
//! and the `date-time-rfc-2822` / `phone-number` formats.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{PROJECT_NUMBER, Receiver, base_config, start};
use serde_json::{Value, json};
use twilio_emulator::validate::{ACCEPTED_CREATE_PARAMS, ACCEPTED_LIST_PARAMS};

const MESSAGES: &str = "/2010-04-01/Accounts/{AccountSid}/Messages.json";
const MESSAGE: &str = "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json";
const PHONE: &str = "+15551234567";

fn spec_path() -> PathBuf {
    match std::env::var_os("TWILIO_OPENAPI_SPEC") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/reference/twilio/twilio_api_v2010.json"),
    }
}

/// The spec, or `None` (after a loud notice) when it is not there.
fn load_spec() -> Option<Value> {
    let path = spec_path();
    match read_spec(&path) {
        Ok(spec) => Some(spec),
        Err(e) => {
            // Written to the real stderr (not `eprintln!`, which the test
            // harness captures) so the skip shows in every test run.
            use std::io::Write;
            let bar = "=".repeat(70);
            let _ = writeln!(
                std::io::stderr(),
                "\n{bar}\nSKIPPED: Twilio OpenAPI spec not found at {} ({e})\n         set TWILIO_OPENAPI_SPEC to its path to run the conformance checks\n{bar}",
                path.display()
            );
            None
        }
    }
}

fn read_spec(path: &std::path::Path) -> std::io::Result<Value> {
    let text = std::fs::read_to_string(path)?;
    Ok(serde_json::from_str(&text).expect("the OpenAPI spec is valid JSON"))
}

// ------------------------------------------------------------ tiny regex

#[derive(Debug)]
enum Atom {
    Start,
    End,
    Any,
    Char(char),
    Class(Vec<(char, char)>, bool),
    Group(Vec<Vec<Piece>>),
}

#[derive(Debug)]
struct Piece {
    atom: Atom,
    min: usize,
    max: usize,
}

struct RegexParser<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
}

impl RegexParser<'_> {
    fn alternatives(&mut self) -> Vec<Vec<Piece>> {
        let mut alts = vec![Vec::new()];
        while let Some(&c) = self.chars.peek() {
            match c {
                ')' => break,
                '|' => {
                    self.chars.next();
                    alts.push(Vec::new());
                }
                _ => {
                    let atom = self.atom();
                    let (min, max) = self.quantifier();
                    alts.last_mut().unwrap().push(Piece { atom, min, max });
                }
            }
        }
        alts
    }

    fn escape_class(c: char) -> Option<Vec<(char, char)>> {
        match c {
            'd' => Some(vec![('0', '9')]),
            'w' => Some(vec![('a', 'z'), ('A', 'Z'), ('0', '9'), ('_', '_')]),
            's' => Some(vec![(' ', ' '), ('\t', '\t'), ('\n', '\n'), ('\r', '\r')]),
            _ => None,
        }
    }

    fn atom(&mut self) -> Atom {
        match self.chars.next().unwrap() {
            '^' => Atom::Start,
            '$' => Atom::End,
            '.' => Atom::Any,
            '\\' => {
                let c = self.chars.next().expect("dangling escape");
                Self::escape_class(c)
                    .map(|r| Atom::Class(r, false))
                    .unwrap_or(Atom::Char(c))
            }
            '(' => {
                if self.chars.peek() == Some(&'?') {
                    self.chars.next();
                    assert_eq!(
                        self.chars.next(),
                        Some(':'),
                        "only (?: groups are supported"
                    );
                }
                let alts = self.alternatives();
                assert_eq!(self.chars.next(), Some(')'), "unclosed group");
                Atom::Group(alts)
            }
            '[' => {
                let negated = self.chars.peek() == Some(&'^');
                if negated {
                    self.chars.next();
                }
                let mut ranges = Vec::new();
                loop {
                    let c = self.chars.next().expect("unclosed class");
                    if c == ']' && !ranges.is_empty() {
                        break;
                    }
                    let lo = if c == '\\' {
                        let e = self.chars.next().unwrap();
                        if let Some(r) = Self::escape_class(e) {
                            ranges.extend(r);
                            continue;
                        }
                        e
                    } else {
                        c
                    };
                    let mut lookahead = self.chars.clone();
                    if lookahead.next() == Some('-') && lookahead.peek().is_some_and(|&n| n != ']')
                    {
                        self.chars.next();
                        let hi = self.chars.next().unwrap();
                        ranges.push((lo, hi));
                    } else {
                        ranges.push((lo, lo));
                    }
                }
                Atom::Class(ranges, negated)
            }
            c => Atom::Char(c),
        }
    }

    fn number(&mut self) -> Option<usize> {
        let mut s = String::new();
        while let Some(&c) = self.chars.peek() {
            if !c.is_ascii_digit() {
                break;
            }
            s.push(c);
            self.chars.next();
        }
        s.parse().ok()
    }

    fn quantifier(&mut self) -> (usize, usize) {
        match self.chars.peek() {
            Some('*') => {
                self.chars.next();
                (0, usize::MAX)
            }
            Some('+') => {
                self.chars.next();
                (1, usize::MAX)
            }
            Some('?') => {
                self.chars.next();
                (0, 1)
            }
            Some('{') => {
                self.chars.next();
                let min = self.number().expect("{n}");
                let max = match self.chars.next() {
                    Some('}') => min,
                    Some(',') => {
                        let m = self.number().unwrap_or(usize::MAX);
                        assert_eq!(self.chars.next(), Some('}'));
                        m
                    }
                    other => panic!("bad quantifier at {other:?}"),
                };
                (min, max)
            }
            _ => (1, 1),
        }
    }
}

fn match_atom(a: &Atom, s: &[char], pos: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
    match a {
        Atom::Start => pos == 0 && k(pos),
        Atom::End => pos == s.len() && k(pos),
        Atom::Any => pos < s.len() && k(pos + 1),
        Atom::Char(c) => pos < s.len() && s[pos] == *c && k(pos + 1),
        Atom::Class(ranges, negated) => {
            pos < s.len()
                && (ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&s[pos])) != *negated)
                && k(pos + 1)
        }
        Atom::Group(alts) => alts.iter().any(|alt| match_pieces(alt, s, pos, k)),
    }
}

fn match_repeat(
    p: &Piece,
    count: usize,
    s: &[char],
    pos: usize,
    k: &mut dyn FnMut(usize) -> bool,
) -> bool {
    if count < p.max
        && match_atom(&p.atom, s, pos, &mut |e| {
            (e != pos || count < p.min) && match_repeat(p, count + 1, s, e, k)
        })
    {
        return true;
    }
    count >= p.min && k(pos)
}

fn match_pieces(ps: &[Piece], s: &[char], pos: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
    match ps.split_first() {
        None => k(pos),
        Some((p, rest)) => match_repeat(p, 0, s, pos, &mut |e| match_pieces(rest, s, e, k)),
    }
}

/// Whether `pattern` (an ECMA-style regex subset) matches somewhere in `text`.
fn regex_is_match(pattern: &str, text: &str) -> bool {
    let mut parser = RegexParser {
        chars: pattern.chars().peekable(),
    };
    let alts = parser.alternatives();
    assert!(parser.chars.next().is_none(), "unbalanced ')' in {pattern}");
    let group = Atom::Group(alts);
    let s: Vec<char> = text.chars().collect();
    (0..=s.len()).any(|start| match_atom(&group, &s, start, &mut |_| true))
}

// ------------------------------------------------------- schema checking

struct Checker<'a> {
    spec: &'a Value,
}

impl<'a> Checker<'a> {
    fn resolve(&self, mut schema: &'a Value) -> &'a Value {
        while let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let pointer = r
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("external $ref {r}"));
            schema = self
                .spec
                .pointer(pointer)
                .unwrap_or_else(|| panic!("unresolved $ref {r}"));
        }
        schema
    }

    fn check(&self, schema: &'a Value, value: &Value, path: &str) -> Vec<String> {
        let mut errors = Vec::new();
        self.walk(schema, value, path, &mut errors);
        errors
    }

    fn walk(&self, schema: &'a Value, value: &Value, path: &str, errors: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if value.is_null() {
            if schema.get("nullable") != Some(&Value::Bool(true)) {
                errors.push(format!("{path}: null but the schema is not nullable"));
            }
            return;
        }
        if let Some(t) = schema.get("type").and_then(Value::as_str) {
            let ok = match t {
                "string" => value.is_string(),
                "integer" => value.is_i64() || value.is_u64(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                "object" => value.is_object(),
                "array" => value.is_array(),
                other => panic!("unknown type {other}"),
            };
            if !ok {
                errors.push(format!("{path}: expected {t}, got {value}"));
                return;
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            errors.push(format!("{path}: {value} is not one of {allowed:?}"));
        }
        if let Some(s) = value.as_str() {
            let len = s.chars().count() as u64;
            if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
                && len < min
            {
                errors.push(format!("{path}: shorter than {min}"));
            }
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
                && len > max
            {
                errors.push(format!("{path}: longer than {max}"));
            }
            if let Some(p) = schema.get("pattern").and_then(Value::as_str)
                && !regex_is_match(p, s)
            {
                errors.push(format!("{path}: {s:?} does not match {p}"));
            }
            let format_error = match schema.get("format").and_then(Value::as_str) {
                Some("date-time-rfc-2822") => {
                    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc2822)
                        .is_err()
                        .then_some("an RFC 2822 date")
                }
                Some("phone-number") => {
                    (!twilio_emulator::validate::is_e164(s)).then_some("an E.164 number")
                }
                _ => None,
            };
            if let Some(expected) = format_error {
                errors.push(format!("{path}: {s:?} is not {expected}"));
            }
        }
        if let (Some(props), Some(obj)) = (
            schema.get("properties").and_then(Value::as_object),
            value.as_object(),
        ) {
            for (name, sub) in props {
                match obj.get(name) {
                    Some(v) => self.walk(sub, v, &format!("{path}.{name}"), errors),
                    None => errors.push(format!("{path}.{name}: missing")),
                }
            }
            for name in obj.keys() {
                if !props.contains_key(name) {
                    errors.push(format!("{path}.{name}: not in the schema"));
                }
            }
        }
        if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
            for (i, v) in arr.iter().enumerate() {
                self.walk(items, v, &format!("{path}[{i}]"), errors);
            }
        }
    }
}

fn response_schema<'a>(spec: &'a Value, path: &str, method: &str, status: &str) -> &'a Value {
    let schema =
        &spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "no {status} schema for {method} {path}");
    schema
}

/// The spec's error body schema: a response schema with exactly the
/// properties code, message, more_info and status.
fn error_schema(spec: &Value) -> &Value {
    fn find(v: &Value) -> Option<&Value> {
        match v {
            Value::Object(o) => {
                if let Some(props) = o.get("properties").and_then(Value::as_object) {
                    let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
                    keys.sort();
                    if keys == ["code", "message", "more_info", "status"] {
                        return Some(v);
                    }
                }
                o.values().find_map(find)
            }
            Value::Array(a) => a.iter().find_map(find),
            _ => None,
        }
    }
    find(&spec["paths"]).expect("the spec describes Twilio's error body")
}

fn assert_conforms(checker: &Checker, schema: &Value, value: &Value, what: &str) {
    let errors = checker.check(schema, value, what);
    assert!(
        errors.is_empty(),
        "{what} does not conform to the spec:\n  {}\n{value:#}",
        errors.join("\n  ")
    );
}

#[test]
fn tiny_regex_engine() {
    assert!(regex_is_match(
        "^AC[0-9a-fA-F]{32}$",
        "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    ));
    assert!(!regex_is_match(
        "^AC[0-9a-fA-F]{32}$",
        "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    ));
    assert!(!regex_is_match(
        "^AC[0-9a-fA-F]{32}$",
        "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    ));
    assert!(regex_is_match(
        "^(SM|MM)[0-9a-fA-F]{32}$",
        "MM0123456789abcdef0123456789ABCDEF"
    ));
    assert!(!regex_is_match(
        "^(SM|MM)[0-9a-fA-F]{32}$",
        "MG0123456789abcdef0123456789abcdef"
    ));
    assert!(regex_is_match("^\\+?[1-9]\\d{1,14}$", "+14155552671"));
    assert!(regex_is_match("b+c?", "aaabbb"));
    assert!(!regex_is_match("^[^x]*$", "abxc"));
}

#[tokio::test]
async fn message_resources_conform_to_the_spec() {
    let Some(spec) = load_spec() else { return };
    let checker = Checker { spec: &spec };
    let create_schema = response_schema(&spec, MESSAGES, "post", "201");
    let fetch_schema = response_schema(&spec, MESSAGE, "get", "200");
    let list_schema = response_schema(&spec, MESSAGES, "get", "200");
    assert_eq!(
        checker.resolve(create_schema),
        &spec["components"]["schemas"]["api.v2010.account.message"],
        "the 201 body is the Message resource"
    );

    let mg = "MG0123456789abcdef0123456789abcdef";
    let hook = Receiver::start(
        200,
        "text/xml",
        "<Response><Message>Hi back</Message></Response>",
    )
    .await;
    let mut cfg = base_config();
    cfg.messaging_service_sid = Some(mg.into());
    cfg.sms_webhook_url = format!("{}/sms", hook.base);
    cfg.fail_numbers = twilio_emulator::config::parse_fail_numbers("+15005550001=30003").unwrap();
    let emu = start(cfg).await;

    let mut sids = Vec::new();
    for form in [
        vec![
            ("To", PHONE),
            ("From", PROJECT_NUMBER),
            ("Body", "Hello! 👍"),
        ],
        vec![
            ("To", PHONE),
            ("MessagingServiceSid", mg),
            ("Body", "via service"),
        ],
        vec![
            ("To", PHONE),
            ("From", PROJECT_NUMBER),
            ("MediaUrl", "https://example.com/a.png"),
        ],
        vec![
            ("To", "+15005550001"),
            ("From", PROJECT_NUMBER),
            ("Body", "will fail"),
        ],
    ] {
        let r = emu.send(&form).await;
        assert_eq!(r.status(), 201);
        let body: Value = r.json().await.unwrap();
        assert_conforms(&checker, create_schema, &body, "201 Message");
        sids.push(body["sid"].as_str().unwrap().to_string());
    }
    // Every property of the spec's own 201 example, and no other.
    let example = &spec["paths"][MESSAGES]["post"]["responses"]["201"]["content"]["application/json"]
        ["examples"]["create"]["value"];
    let (_, first) = emu.get_json(&emu.message_url(&sids[0])).await;
    let mut ours: Vec<&String> = first.as_object().unwrap().keys().collect();
    let mut theirs: Vec<&String> = example.as_object().unwrap().keys().collect();
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs);

    let res = emu.inbound(json!({ "from": PHONE, "body": "JOIN" })).await;
    sids.push(res["message_sid"].as_str().unwrap().to_string());
    sids.extend(
        res["reply_sids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string()),
    );

    // Let deliveries finish, then check every status the emulator produced.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut statuses = Vec::new();
    for sid in &sids {
        let (status, body) = emu.get_json(&emu.message_url(sid)).await;
        assert_eq!(status, 200);
        assert_conforms(&checker, fetch_schema, &body, "fetched Message");
        statuses.push((
            body["direction"].as_str().unwrap().to_string(),
            body["status"].as_str().unwrap().to_string(),
        ));
    }
    assert!(
        statuses.contains(&("outbound-api".into(), "delivered".into())),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&("outbound-api".into(), "undelivered".into())),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&("inbound".into(), "received".into())),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&("outbound-reply".into(), "delivered".into())),
        "{statuses:?}"
    );

    let (status, page) = emu
        .get_json(&format!("{}?PageSize=2", emu.messages_url()))
        .await;
    assert_eq!(status, 200);
    assert_conforms(&checker, list_schema, &page, "Message list page");
    assert!(page["next_page_uri"].is_string());
    let (_, page) = emu
        .get_json(&format!("{}?To=%2B15551234567", emu.messages_url()))
        .await;
    assert_conforms(&checker, list_schema, &page, "filtered Message list page");
}

#[test]
fn checker_rejects_broken_messages() {
    let Some(spec) = load_spec() else { return };
    let checker = Checker { spec: &spec };
    let schema = &spec["components"]["schemas"]["api.v2010.account.message"];
    let example = &spec["paths"][MESSAGES]["post"]["responses"]["201"]["content"]["application/json"]
        ["examples"]["createWoService"]["value"];
    assert_conforms(&checker, schema, example, "the spec's own example");
    let breakages: Vec<(&str, Value, &str)> = vec![
        ("status", json!("bogus"), "is not one of"),
        ("direction", json!("sideways"), "is not one of"),
        ("num_segments", json!(1), "expected string"),
        ("error_code", json!("30003"), "expected integer"),
        ("sid", json!("SMnothex"), "does not match"),
        ("account_sid", json!("AC0123"), "shorter than"),
        ("date_created", json!("yesterday"), "RFC 2822"),
        ("subresource_uris", json!([]), "expected object"),
    ];
    for (field, bad, expected) in breakages {
        let mut v = example.clone();
        v[field] = bad;
        let errors = checker.check(schema, &v, "m");
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{field}: {errors:?}"
        );
    }
    let mut v = example.clone();
    v.as_object_mut().unwrap().remove("uri");
    v["extra"] = json!(1);
    let errors = checker.check(schema, &v, "m");
    assert!(errors.iter().any(|e| e == "m.uri: missing"), "{errors:?}");
    assert!(
        errors.iter().any(|e| e == "m.extra: not in the schema"),
        "{errors:?}"
    );
    // `status` is a $ref to an enum without `nullable`, so null is refused.
    let mut v = example.clone();
    v["status"] = Value::Null;
    assert!(!checker.check(schema, &v, "m").is_empty());
}

#[tokio::test]
async fn error_bodies_conform_to_the_spec() {
    let Some(spec) = load_spec() else { return };
    let checker = Checker { spec: &spec };
    let schema = error_schema(&spec);
    let emu = start(twilio_emulator::Config {
        rate_limit_mps: 1,
        ..base_config()
    })
    .await;

    let mut bodies = Vec::new();
    let r = emu
        .http
        .post(emu.messages_url())
        .form(&[("To", PHONE)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    bodies.push(r.json::<Value>().await.unwrap());
    let r = emu.send(&[("From", PROJECT_NUMBER), ("Body", "x")]).await;
    assert_eq!(r.status(), 400);
    bodies.push(r.json().await.unwrap());
    let (status, body) = emu
        .get_json(&emu.message_url("SM00000000000000000000000000000000"))
        .await;
    assert_eq!(status, 404);
    bodies.push(body);
    assert_eq!(
        emu.send(&[("To", PHONE), ("From", PROJECT_NUMBER), ("Body", "x")])
            .await
            .status(),
        201
    );
    let r = emu
        .send(&[("To", PHONE), ("From", PROJECT_NUMBER), ("Body", "x")])
        .await;
    assert_eq!(r.status(), 429);
    bodies.push(r.json().await.unwrap());
    for b in &bodies {
        assert_conforms(&checker, schema, b, "error body");
        assert_eq!(
            b["more_info"],
            format!("https://www.twilio.com/docs/errors/{}", b["code"])
        );
    }
}

#[test]
fn requests_use_the_spec_parameters() {
    let Some(spec) = load_spec() else { return };
    let request = &spec["paths"][MESSAGES]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
        ["schema"];
    let props = request["properties"]
        .as_object()
        .expect("CreateMessageRequest properties");
    for p in ACCEPTED_CREATE_PARAMS {
        assert!(
            props.contains_key(*p),
            "{p} is not a CreateMessageRequest parameter"
        );
    }
    assert_eq!(
        request["required"],
        json!(["To"]),
        "the emulator enforces To (21604)"
    );
    assert_eq!(props["MediaUrl"]["type"], "array");

    let list_params: Vec<&str> = spec["paths"][MESSAGES]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for p in ACCEPTED_LIST_PARAMS {
        assert!(list_params.contains(p), "{p} is not a list parameter");
    }

    let scheme = &spec["components"]["securitySchemes"]["accountSid_authToken"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "basic");
    assert_eq!(
        spec["paths"][MESSAGES]["post"]["security"],
        json!([{ "accountSid_authToken": [] }])
    );

    // The statuses and directions the emulator produces are all in the enums.
    let statuses = spec["components"]["schemas"]["message_enum_status"]["enum"]
        .as_array()
        .unwrap();
    for s in [
        "accepted",
        "queued",
        "sent",
        "delivered",
        "undelivered",
        "failed",
        "received",
    ] {
        assert!(statuses.contains(&json!(s)), "{s}");
    }
    let directions = spec["components"]["schemas"]["message_enum_direction"]["enum"]
        .as_array()
        .unwrap();
    for d in ["inbound", "outbound-api", "outbound-reply"] {
        assert!(directions.contains(&json!(d)), "{d}");
    }
}

#[test]
fn spec_location_and_missing_file() {
    let missing =
        std::env::temp_dir().join("no-such-dir-for-twilio-emulator/twilio_api_v2010.json");
    assert!(read_spec(&missing).is_err());
    assert!(
        spec_path().ends_with("shared/reference/twilio/twilio_api_v2010.json")
            || std::env::var_os("TWILIO_OPENAPI_SPEC").is_some()
    );
}

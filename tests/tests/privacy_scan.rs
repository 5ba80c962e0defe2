//! After the whole suite: no item in the table holds, in clear, any phone number, email address or
//! name the tests used. `infra/test.sh` runs it last, with `--ignored`, while the stack still holds
//! everything every other test wrote (run alone it would scan a table with little in it).
//!
//! Sealed values (`v1.<wrapped key>.<nonce>.<ciphertext>`, base64) are skipped: a short name could
//! turn up in random base64 by chance, and they are ciphertext by construction.

use aws_sdk_dynamodb::types::AttributeValue;
use rising_tests::spawn_app;

/// The names tests give people and hosts (see the tests), matched as whole words.
const NAMES: [&str; 9] = [
    "Marisol",
    "Quillon",
    "Lucía",
    "Lucia",
    "Noor",
    "Haddad",
    "Dana",
    "Rosa",
    "Alexandria",
];

fn strings<'a>(value: &'a AttributeValue, out: &mut Vec<&'a str>) {
    match value {
        AttributeValue::S(s) => out.push(s),
        AttributeValue::Ss(list) => out.extend(list.iter().map(String::as_str)),
        AttributeValue::L(list) => list.iter().for_each(|v| strings(v, out)),
        AttributeValue::M(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// Why `text` is personal data in clear, if it is.
fn finding(text: &str) -> Option<String> {
    if text.to_ascii_lowercase().contains("@example.org") {
        return Some("a test's email address".into());
    }
    // Test phones are +1 202 NXX XXXX (tests/src/lib.rs unique_phone), with or without the plus: a
    // whole run of digits, standing on its own. A run inside a longer run, or touching a letter, is
    // part of something else: a random hex id (a MessageSid, a submission id) holds ten decimal
    // digits starting 202 now and then (a run of 1,471 items once found one).
    let chars: Vec<char> = text.chars().collect();
    for start in 0..chars.len() {
        if start > 0 && chars[start - 1].is_ascii_alphanumeric() {
            continue;
        }
        let run: String = chars[start..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        let touches_a_letter = chars
            .get(start + run.len())
            .is_some_and(|c| c.is_ascii_alphabetic());
        if run.len() >= 10
            && !touches_a_letter
            && (run.starts_with("1202") || run.starts_with("202"))
        {
            return Some("a test's phone number".into());
        }
    }
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .collect();
    NAMES
        .iter()
        .find(|name| words.contains(name))
        .map(|name| format!("the name {name}"))
}

#[test]
fn a_test_phone_in_clear_is_found_and_the_digits_inside_an_id_are_not() {
    for clear in [
        "+12025550143",
        "12025550143",
        "2025550143",
        "tel:+12025550143",
        "{\"to\":\"+12025550143\"}",
        "PHONE#12025550143",
    ] {
        assert!(finding(clear).is_some(), "{clear}");
    }
    for not_a_phone in [
        "SMa2025550143987b1c2d3e4f5a6b7c8d9e",
        "SM2025550143987dbeefbeefbeefbeefbee",
        "fa20255501439871c2d3e4f5a6b7c8d9e0",
        "2026-11-29T13:45:00Z",
        "3120255501439",
    ] {
        assert_eq!(finding(not_a_phone), None, "{not_a_phone}");
    }
}

#[tokio::test]
#[ignore = "run by infra/test.sh after the whole suite"]
async fn after_the_suite_no_item_holds_a_tests_phone_email_or_name_in_clear() {
    let app = spawn_app().await;
    let items = app.scan_all().await;
    assert!(!items.is_empty(), "the suite wrote nothing?");
    let mut found = Vec::new();
    for item in &items {
        let mut texts = Vec::new();
        for (name, value) in item {
            strings(value, &mut texts);
            texts.push(name);
        }
        for text in texts.into_iter().filter(|t| !t.starts_with("v1.")) {
            if let Some(what) = finding(text) {
                let key = |k: &str| {
                    item.get(k)
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .unwrap_or_default()
                };
                found.push(format!("{what} in {} / {}", key("pk"), key("sk")));
            }
        }
    }
    assert!(
        found.is_empty(),
        "{} findings in {} items:\n{}",
        found.len(),
        items.len(),
        found.join("\n")
    );
    println!(
        "{} items scanned: no phone, email or name in clear",
        items.len()
    );
}

#[test]
fn the_scan_recognises_what_it_looks_for() {
    assert!(finding("Reply from Noor").is_some());
    assert!(finding("+12025550143").is_some());
    assert!(finding("tel:12025550143,").is_some());
    assert!(finding("from 2025550143").is_some());
    // The digits inside a random hex id (a run that starts elsewhere) are not a phone number.
    assert!(finding("form-6220c40331d5620276418391a41b2ae3").is_none());
    assert!(finding("reader.1f@Example.org").is_some());
    assert!(finding("Noorland").is_none(), "whole words only");
    assert!(finding("2026-11-28T07:00:00.000Z").is_none());
    assert!(finding("p.RszGy9RKKPDpUtrg1zOvfmg3Nte4Vk").is_none());
}

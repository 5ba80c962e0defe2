//! The organizer tool, end to end: a phone joins and opts out by text through the phone simulator,
//! then the real `rising-admin` binary (built by `cargo build --workspace --bins`) runs against the
//! stack with the stack's environment, as an organizer runs it against a deployed one. The table is
//! read back through the AWS SDK: every export, erasure and recording publication left an audit
//! item, and none holds the phone.

use rising_tests::admin::{ok, run};
use rising_tests::{Item, Stack, item_text, s, spawn_app, unique_phone};

const BY: &str = "Integration test (admin_cli)";

/// Every audit item of this month and the last (a test may straddle a month's end) about `hash`.
async fn audit_items(app: &Stack, hash: &str) -> Vec<Item> {
    audit_where(app, |i| s(i, "contact_hash") == Some(hash)).await
}

/// Every audit item of this month and the last that `keep` keeps, oldest first.
async fn audit_where(app: &Stack, keep: impl Fn(&Item) -> bool) -> Vec<Item> {
    let now = time::OffsetDateTime::now_utc();
    let mut items = Vec::new();
    for t in [now - time::Duration::days(1), now] {
        let pk = format!("AUDIT#{:04}-{:02}", t.year(), u8::from(t.month()));
        if items.iter().any(|i: &Item| s(i, "pk") == Some(pk.as_str())) {
            continue;
        }
        items.extend(app.query_pk(&pk).await);
    }
    items.retain(|i| keep(i));
    items.sort_by(|a, b| s(a, "sk").cmp(&s(b, "sk")));
    items.dedup_by(|a, b| s(a, "sk") == s(b, "sk"));
    items
}

fn n(item: &Item, name: &str) -> Option<u64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

async fn join_and_stop(app: &Stack, phone: &str) -> (String, String, String) {
    let joined = app.text(phone, "RISING").await;
    assert_eq!(joined.webhook_status, 200, "{joined:?}");
    let stopped = app.text(phone, "STOP").await;
    assert_eq!(stopped.webhook_status, 200, "{stopped:?}");
    (
        joined.replies.join("\n"),
        joined.message_sid,
        stopped.message_sid,
    )
}

#[tokio::test]
async fn an_organizer_exports_the_consent_evidence_then_erases_the_person_and_both_are_audited() {
    let app = spawn_app().await;
    let phone = unique_phone();
    let digits = phone.trim_start_matches('+').to_string();
    let hash = app.phone_hash(&phone);
    let (welcome, join_sid, stop_sid) = join_and_stop(&app, &phone).await;
    assert!(welcome.starts_with("Welcome to rising!"), "{welcome}");

    // The consent evidence, oldest first, as JSON.
    let (stdout, stderr) = ok(&["consent", "--phone", &phone, "--by", BY]);
    assert!(
        !stdout.contains(&digits) && !stderr.contains(&digits),
        "the phone is printed back"
    );
    assert!(
        !stdout.contains(&hash),
        "the output names the person by nothing"
    );
    let export: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(export["rows"], 2);
    assert_eq!(export["contact"], "phone");
    let evidence = export["evidence"].as_array().expect("evidence");
    assert_eq!(evidence.len(), 2, "{stdout}");
    let (opt_in, opt_out) = (&evidence[0], &evidence[1]);
    assert_eq!(opt_in["action"], "opt_in");
    assert_eq!(opt_in["keyword"], "RISING");
    assert_eq!(opt_in["wording"], welcome.as_str());
    assert_eq!(opt_in["channel"], "sms");
    assert_eq!(opt_in["language"], "en");
    assert_eq!(opt_in["message_sid"], join_sid.as_str());
    assert_eq!(opt_out["action"], "opt_out");
    assert_eq!(opt_out["keyword"], "STOP");
    assert_eq!(opt_out["message_sid"], stop_sid.as_str());
    assert!(opt_in["at"].as_str() < opt_out["at"].as_str());

    // Recorded: who, what, how many rows, the opaque hash, no phone.
    let audit = audit_items(&app, &hash).await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    let exported = &audit[0];
    assert_eq!(s(exported, "audit_id"), export["audit_id"].as_str());
    assert_eq!(s(exported, "what"), Some("consent_export"));
    assert_eq!(s(exported, "who"), Some(BY));
    assert_eq!(s(exported, "format"), Some("json"));
    assert_eq!(n(exported, "rows"), Some(2));
    assert!(
        s(exported, "sk").is_some_and(|sk| sk.starts_with(export["exported_at"].as_str().unwrap()))
    );
    assert!(!item_text(exported).contains(&digits), "{exported:?}");

    // Erased on a request received elsewhere: only the suppression and the evidence remain.
    let (stdout, stderr) = ok(&[
        "forget",
        "--phone",
        &phone,
        "--by",
        BY,
        "--reason",
        "asked by letter",
        "--yes",
    ]);
    assert!(stdout.contains("erased: 0 RSVP(s)"), "{stdout}");
    assert!(
        stdout.contains("kept: the suppression and 3 consent record(s)"),
        "{stdout}"
    );
    assert!(!stdout.contains(&digits) && !stderr.contains(&digits));
    let items = app.contact_items(&phone).await;
    let contact = items
        .iter()
        .find(|i| s(i, "sk") == Some("CONTACT"))
        .expect("the suppression");
    assert_eq!(contact["suppressed"].as_bool(), Ok(&true));
    assert!(contact.contains_key("erased_at"));
    let consents: Vec<&Item> = items
        .iter()
        .filter(|i| s(i, "sk").is_some_and(|sk| sk.starts_with("CONSENT#")))
        .collect();
    assert_eq!(
        consents.len() + 1,
        items.len(),
        "only the contact and its evidence"
    );
    let erase = consents
        .iter()
        .find(|c| s(c, "action") == Some("erase"))
        .expect("the erasure evidence");
    assert_eq!(s(erase, "source"), Some("organizer"));
    let reference = s(erase, "reference").expect("a request id").to_string();
    assert!(
        reference.starts_with("req-") && stdout.contains(&reference),
        "{stdout}"
    );

    let audit = audit_items(&app, &hash).await;
    assert_eq!(audit.len(), 2, "{audit:?}");
    let erasure = audit
        .iter()
        .find(|i| s(i, "what") == Some("erasure"))
        .expect("the erasure is audited");
    assert_eq!(s(erasure, "who"), Some(BY));
    assert_eq!(s(erasure, "outcome"), Some("done"));
    assert_eq!(s(erasure, "reference"), Some(reference.as_str()));
    assert_eq!(s(erasure, "reason"), Some("asked by letter"));
    assert!(n(erasure, "rows").is_some());
    for item in &audit {
        assert!(!item_text(item).contains(&digits), "{item:?}");
    }

    // Both are listed for organizers.
    let today = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    let since = format!(
        "{:04}-{:02}-{:02}",
        today.year(),
        u8::from(today.month()),
        today.day()
    );
    let (stdout, _) = ok(&["exports", "--since", &since]);
    let listed: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let ids: Vec<&str> = listed["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter(|r| r["contact_hash"] == hash.as_str())
        .map(|r| r["what"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ids, ["consent_export", "erasure"]);
}

#[tokio::test]
async fn a_csv_export_opens_in_a_spreadsheet_and_an_unconfirmed_erasure_does_nothing() {
    let app = spawn_app().await;
    let phone = unique_phone();
    let digits = phone.trim_start_matches('+').to_string();
    let hash = app.phone_hash(&phone);
    join_and_stop(&app, &phone).await;

    let (csv, _) = ok(&[
        "consent",
        "--phone",
        &phone,
        "--by",
        "=Ops desk",
        "--format",
        "csv",
    ]);
    let body = csv.strip_prefix('\u{feff}').expect("a UTF-8 BOM");
    let lines: Vec<&str> = body.split("\r\n").collect();
    assert_eq!(lines.len(), 4, "header, two rows, final CRLF: {csv}");
    assert!(lines[0].starts_with("at,channel,action,source,keyword,wording"));
    assert!(
        lines[1].contains(",opt_in,") && lines[2].contains(",opt_out,"),
        "{csv}"
    );
    assert!(!csv.contains(&digits));
    let audit = audit_items(&app, &hash).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(s(&audit[0], "format"), Some("csv"));
    assert_eq!(s(&audit[0], "who"), Some("=Ops desk"));

    // Without --yes it asks; anything but yes erases nothing and records nothing.
    let before = app.contact_items(&phone).await;
    let output = run(&["forget", "--phone", &phone, "--by", "Ops desk"], "no\n");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cancelled"));
    assert_eq!(app.contact_items(&phone).await, before);
    assert_eq!(audit_items(&app, &hash).await.len(), 1);

    // A --by that is not one line is refused before anything is read or written.
    let output = run(
        &["consent", "--phone", &phone, "--by", "Ops desk\nadmin: yes"],
        "",
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&output.stderr).contains(&digits));
    assert_eq!(audit_items(&app, &hash).await.len(), 1);
}

/// Checks that every key of `value` is an OSDI field for its place (`nested`: lists and objects
/// inside it and their fields).
fn osdi_fields(value: &serde_json::Value, allowed: &[&str], nested: &[(&str, &[&str])]) {
    for (key, inner) in value.as_object().expect("an OSDI resource") {
        assert!(
            allowed.contains(&key.as_str()),
            "{key} is not an OSDI field here"
        );
        if let Some((_, fields)) = nested.iter().find(|(k, _)| k == key) {
            let entries: Vec<&serde_json::Value> = match inner {
                serde_json::Value::Array(list) => list.iter().collect(),
                other => vec![other],
            };
            for entry in entries {
                for field in entry.as_object().expect("an object").keys() {
                    assert!(fields.contains(&field.as_str()), "{key}.{field}");
                }
            }
        }
    }
}

#[tokio::test]
async fn an_organizer_exports_the_campaign_as_osdi_people_events_and_attendances() {
    use rising_core::admin::osdi::{
        ADDRESS_FIELDS, ATTENDANCE_FIELDS, EMAIL_FIELDS, EVENT_FIELDS, PERSON_FIELDS, PHONE_FIELDS,
        REFERRER_FIELDS,
    };
    let app = spawn_app().await;
    // A host's gathering (far from the seeded ones another test counts) and a person who signs up
    // for it through the form with an email, a phone for texts and a name.
    let host =
        rising_tests::hosts::Host::sign_in(&app, &rising_tests::mail::unique_email("osdi.host"), 1)
            .await;
    let gathering = host
        .create_gathering_at("Library steps", "30", "99501")
        .await;
    let (email, phone) = (rising_tests::mail::unique_email("osdi"), unique_phone());
    let response = app
        .http
        .post(format!("{}/register", app.gateway_url))
        .header("content-type", "application/json")
        .header("origin", "http://127.0.0.1:9")
        .body(
            serde_json::json!({
                "submission_id": rising_core::ids::random_id(),
                "first_name": "Imani",
                "last_name": "Okafor",
                "email": email,
                "phone": phone,
                "sms_consent": true,
                "zip": "99501",
                "language": "en",
                "commitment": true,
                "gathering": gathering,
            })
            .to_string(),
        )
        .send()
        .await
        .expect("gateway reachable");
    assert_eq!(
        response.status(),
        200,
        "{}",
        response.text().await.unwrap_or_default()
    );

    let (stdout, stderr) = ok(&["osdi", "--by", BY]);
    let document: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON document");
    assert_eq!(document["export"], "osdi");
    let people = document["_embedded"]["osdi:people"]
        .as_array()
        .expect("people");
    let person = people
        .iter()
        .find(|p| p["email_addresses"][0]["address"] == email.as_str())
        .expect("the person who signed up");
    osdi_fields(
        person,
        &PERSON_FIELDS,
        &[
            ("email_addresses", &EMAIL_FIELDS),
            ("phone_numbers", &PHONE_FIELDS),
            ("postal_addresses", &ADDRESS_FIELDS),
        ],
    );
    assert_eq!(person["given_name"], "Imani");
    assert_eq!(person["family_name"], "Okafor");
    assert_eq!(person["phone_numbers"][0]["number"], phone.as_str());
    assert_eq!(person["phone_numbers"][0]["status"], "subscribed");
    assert_eq!(person["postal_addresses"][0]["postal_code"], "99501");
    assert!(
        person["rising:consent"]
            .as_array()
            .is_some_and(|c| c.iter().any(|r| r["action"] == "opt_in")),
        "{person}"
    );
    let events = document["_embedded"]["osdi:events"]
        .as_array()
        .expect("events");
    let event = events
        .iter()
        .find(|e| e["identifiers"][0] == format!("rising:{gathering}").as_str())
        .expect("the gathering");
    osdi_fields(event, &EVENT_FIELDS, &[("location", &ADDRESS_FIELDS)]);
    assert_eq!(event["title"], "Library steps");
    assert!(
        event["location"].get("address_lines").is_none(),
        "the host's private address is not exported"
    );
    let attendance = document["_embedded"]["osdi:attendances"]
        .as_array()
        .expect("attendances")
        .iter()
        .find(|a| a["_links"]["osdi:event"]["href"] == format!("rising:{gathering}").as_str())
        .expect("the RSVP");
    osdi_fields(
        attendance,
        &ATTENDANCE_FIELDS,
        &[("referrer_data", &REFERRER_FIELDS)],
    );
    assert_eq!(
        attendance["_links"]["osdi:person"]["href"],
        person["identifiers"][0]
    );
    assert_eq!(attendance["referrer_data"]["source"], "form");
    assert_eq!(attendance["status"], "accepted");

    // Recorded before it was printed: who, what, how many.
    let audit_id = document["audit_id"].as_str().expect("its audit id");
    assert!(stderr.contains(audit_id), "{stderr}");
    let now = time::OffsetDateTime::now_utc();
    let items = app
        .query_pk(&format!(
            "AUDIT#{:04}-{:02}",
            now.year(),
            u8::from(now.month())
        ))
        .await;
    let entry = items
        .iter()
        .find(|i| s(i, "audit_id") == Some(audit_id))
        .expect("the audit record");
    assert_eq!(s(entry, "what"), Some("campaign_export"));
    assert_eq!(s(entry, "who"), Some(BY));
    assert_eq!(n(entry, "rows"), document["total_records"].as_u64());
    assert!(
        !item_text(entry).contains(&email),
        "no contact detail in the audit"
    );

    // A CSV holds one collection.
    let (csv, _) = ok(&["osdi", "--by", BY, "--type", "events", "--format", "csv"]);
    assert!(
        csv.starts_with("\u{feff}identifier,title,start_date"),
        "{csv}"
    );
    assert!(csv.contains(&format!("rising:{gathering},Library steps,")));
    let refused = run(&["osdi", "--by", BY, "--format", "csv"], "");
    assert_eq!(refused.status.code(), Some(2));
}

#[tokio::test]
async fn an_organizer_publishes_a_training_recording_once_after_asking_and_it_is_audited() {
    use rising_core::admin::recordings::utc;
    use rising_core::domain::{TrainingDraft, TrainingId, TrainingTitle, TrainingUrl};
    use rising_core::store::{DynamoTrainingStore, PutTraining, TrainingStore};
    use time::format_description::well_known::Rfc3339;

    let app = spawn_app().await;
    // Far in the future and nobody registered: no other test's scheduler run sends anything for it.
    let id = format!("cli-{}", &rising_core::ids::random_id()[..12]);
    let training = TrainingDraft {
        title: TrainingTitle::parse("Admin CLI recording training").expect("a title"),
        title_es: None,
        starts_at: time::OffsetDateTime::now_utc() + time::Duration::days(90),
        duration: time::Duration::hours(1),
        time_zone: "America/Chicago".into(),
        join_url: Some(TrainingUrl::parse(&format!("https://meet.rising.invalid/{id}")).unwrap()),
        recording_url: None,
        recording_published_at: None,
    }
    .build(TrainingId::parse(&id).expect("an id"))
    .expect("a training");
    let store = DynamoTrainingStore::new(app.dynamodb.clone(), app.table_name.clone());
    assert_eq!(
        store
            .put_training(&training, time::OffsetDateTime::now_utc())
            .await
            .expect("stored"),
        PutTraining::Created
    );
    let pk = format!("TRAINING#{id}");
    let training_item = |items: Vec<Item>| {
        items
            .into_iter()
            .find(|i| s(i, "sk") == Some("TRAINING"))
            .expect("the training item")
    };
    let this_training = |i: &Item| {
        s(i, "what") == Some("recording_publication") && s(i, "reference") == Some(id.as_str())
    };
    let listed = |list: &str| -> String {
        list.lines()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("{id} is not listed: {list}"))
            .to_string()
    };
    let starts = utc(training.starts_at);

    // The catalog lists it: its start in UTC, no recording, nobody registered.
    let (list, _) = ok(&["trainings"]);
    let line = listed(&list);
    assert!(
        line.contains(&starts)
            && line.contains(" no ")
            && line.ends_with("Admin CLI recording training"),
        "{line}"
    );

    // Without --yes it asks, saying what and to whom; anything but yes writes nothing.
    let url = format!("https://video.rising.invalid/{id}");
    let publish = |url: &str, yes: bool| {
        let mut args = vec![
            "publish-recording",
            "--training",
            &id,
            "--url",
            url,
            "--by",
            BY,
        ];
        if yes {
            args.push("--yes");
        }
        args.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let args = publish(&url, false);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let before = app.query_pk(&pk).await;
    let output = run(&args, "no\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    for needle in [
        "Admin CLI recording training",
        starts.as_str(),
        url.as_str(),
        "The scheduler sends it within 5 minutes to 0 registered people, once each.",
        "Note: this training has not ended yet.",
        "cancelled: nothing was published",
    ] {
        assert!(stderr.contains(needle), "{needle} in {stderr}");
    }
    assert_eq!(app.query_pk(&pk).await, before);
    assert!(audit_where(&app, this_training).await.is_empty());

    // Published: the link and its time on the training, after an audit record naming the training.
    let (stdout, _) = ok(&args.iter().copied().chain(["--yes"]).collect::<Vec<_>>());
    assert!(stdout.contains(&url), "{stdout}");
    let item = training_item(app.query_pk(&pk).await);
    assert_eq!(s(&item, "recording_url"), Some(url.as_str()));
    let published_at = time::OffsetDateTime::parse(
        s(&item, "recording_published_at").expect("a publication time"),
        &Rfc3339,
    )
    .expect("RFC 3339");
    assert!(time::OffsetDateTime::now_utc() - published_at < time::Duration::minutes(5));
    let audit = audit_where(&app, this_training).await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    let record = &audit[0];
    assert_eq!(s(record, "who"), Some(BY));
    assert_eq!(s(record, "outcome"), Some("done"));
    assert_eq!(n(record, "rows"), Some(0), "the people registered");
    assert!(!record.contains_key("contact_hash"));
    assert!(
        stdout.contains(&format!("audit: {}", s(record, "audit_id").expect("an id"))),
        "{stdout}"
    );
    assert!(
        !item_text(record).contains(&url),
        "the training id only: {record:?}"
    );
    assert_eq!(
        s(record, "at"),
        s(&item, "recording_published_at"),
        "one time for both"
    );

    // A second publication is refused, says which link and when, and changes nothing; asked first
    // or not.
    let published = app.query_pk(&pk).await;
    for yes in [true, false] {
        let args = publish("https://video.rising.invalid/another", yes);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = run(&args, "yes\n");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&url) && stderr.contains(&utc(published_at)),
            "{stderr}"
        );
        assert!(stderr.contains("nothing was changed"), "{stderr}");
        assert_eq!(app.query_pk(&pk).await, published);
        assert_eq!(audit_where(&app, this_training).await.len(), 1);
    }
    let line = listed(&ok(&["trainings"]).0);
    assert!(line.contains(" published "), "{line}");

    // A training that does not exist is refused (exit 1); a link that is not https is refused as a
    // usage error (exit 2). Neither writes anything.
    let unknown = format!("cli-missing-{}", &rising_core::ids::random_id()[..8]);
    let output = run(
        &[
            "publish-recording",
            "--training",
            &unknown,
            "--url",
            &url,
            "--by",
            BY,
            "--yes",
        ],
        "",
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains(&format!("no training has the id {unknown}"))
    );
    assert!(
        app.query_pk(&format!("TRAINING#{unknown}"))
            .await
            .is_empty()
    );
    let output = run(
        &[
            "publish-recording",
            "--training",
            &id,
            "--url",
            "http://video.rising.invalid/x",
            "--by",
            BY,
            "--yes",
        ],
        "",
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--url: A link must start with https://")
    );
    assert_eq!(app.query_pk(&pk).await, published);
    assert_eq!(audit_where(&app, this_training).await.len(), 1);
}

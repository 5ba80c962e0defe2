use super::*;
use crate::config::EmailEventsConfig;
use crate::secrets::StaticSecretStore;
use crate::store::MemoryEmailEventStore;
use aws_lambda_events::sns::SnsEvent;

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const BATCH: &str = "0123456789abcdef0123456789abcdef";

fn hasher() -> ContactHasher {
    ContactHasher::from_base64(KEY).unwrap()
}

fn now() -> OffsetDateTime {
    time::macros::datetime!(2027-03-02 15:00 UTC)
}

/// A hard bounce as SES event publishing documents it (trimmed headers), with the batch tag.
fn hard_bounce(address: &str, feedback_id: &str) -> String {
    serde_json::json!({
        "eventType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [{
                "emailAddress": address,
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": format!("smtp; 550 5.1.1 <{address}>: user unknown")
            }],
            "timestamp": "2027-03-02T14:59:01.000Z",
            "feedbackId": feedback_id,
            "reportingMTA": "dsn; e226-55.smtp-out.us-east-1.amazonses.com"
        },
        "mail": {
            "timestamp": "2027-03-02T14:58:59.012Z",
            "source": "hello@rising.example",
            "sendingAccountId": "123456789012",
            "messageId": "0100017e1b2c3d4e-5f6a7b8c-0000-0000-0000-000000000000-000000",
            "destination": [address],
            "headersTruncated": false,
            "tags": {
                "ses:configuration-set": ["rising-EmailConfigurationSet"],
                "ses:from-domain": ["rising.example"],
                "batch": [BATCH]
            }
        }
    })
    .to_string()
}

fn complaint(address: &str) -> String {
    serde_json::json!({
        "eventType": "Complaint",
        "complaint": {
            "feedbackId": "0100017e-complaint-000001",
            "complaintSubType": null,
            "complainedRecipients": [{"emailAddress": address}],
            "timestamp": "2027-03-02T15:01:00.000Z",
            "userAgent": "Mozilla/5.0",
            "complaintFeedbackType": "abuse",
            "arrivalDate": "2027-03-02T15:00:58.000Z"
        },
        "mail": {"messageId": "0100017e-x", "destination": [address], "tags": {}}
    })
    .to_string()
}

fn sns_event(message: &str) -> SnsEvent {
    serde_json::from_value(serde_json::json!({
        "Records": [{
            "EventVersion": "1.0",
            "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:rising-EmailEventsTopic:2bcfbf39",
            "EventSource": "aws:sns",
            "Sns": {
                "Type": "Notification",
                "MessageId": "82833b5c-8d5d-56d0-b0e1-7511f8253eb8",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:rising-EmailEventsTopic",
                "Subject": null,
                "Message": message,
                "Timestamp": "2027-03-02T14:59:02.111Z",
                "SignatureVersion": "1",
                "Signature": "EXAMPLE",
                "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
                "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
                "MessageAttributes": {}
            }
        }]
    }))
    .unwrap()
}

fn app(store: MemoryEmailEventStore) -> EmailEvents<MemoryEmailEventStore, StaticSecretStore> {
    EmailEvents::new(
        EmailEventsConfig {
            table_name: "t".into(),
            contact_hash_key_parameter: "/rising/contact-hash-key".into(),
        },
        store,
        StaticSecretStore::default().with("/rising/contact-hash-key", KEY),
    )
}

fn address(s: &str) -> EmailAddress {
    EmailAddress::parse(s).unwrap()
}

#[test]
fn a_published_hard_bounce_reads_as_undeliverable_with_its_reason_time_and_batch() {
    let Parsed::Event(event) = parse(&hard_bounce("Gone@Example.org", "fb-1")).unwrap() else {
        panic!("not an event")
    };
    assert_eq!(
        event.kind,
        EmailEventKind::HardBounce {
            reason: "General".into()
        }
    );
    assert_eq!(event.feedback_id, "fb-1");
    assert_eq!(event.at, time::macros::datetime!(2027-03-02 14:59:01 UTC));
    assert_eq!(event.recipients, vec![address("gone@example.org")]);
    assert_eq!(event.batch, BatchId::parse(BATCH));
    assert_eq!(event.unreadable, 0);
}

#[test]
fn an_identity_notification_is_read_like_a_published_event() {
    let message =
        hard_bounce("gone@example.org", "fb-2").replace("\"eventType\"", "\"notificationType\"");
    assert!(matches!(parse(&message), Ok(Parsed::Event(e)) if e.feedback_id == "fb-2"));
}

#[test]
fn transient_and_undetermined_bounces_are_soft() {
    for kind in ["Transient", "Undetermined"] {
        let message = hard_bounce("full@example.org", "fb-3").replace("Permanent", kind);
        let Ok(Parsed::Event(event)) = parse(&message) else {
            panic!("{kind}")
        };
        assert_eq!(event.kind, EmailEventKind::SoftBounce, "{kind}");
    }
    let unknown = hard_bounce("x@example.org", "fb-4").replace("Permanent", "Sideways");
    assert_eq!(
        parse(&unknown),
        Err(EmailEventParseError::UnknownBounceType)
    );
}

#[test]
fn a_complaint_reads_with_the_isp_feedback_type() {
    let Ok(Parsed::Event(event)) = parse(&complaint("angry@example.org")) else {
        panic!()
    };
    assert_eq!(
        event.kind,
        EmailEventKind::Complaint {
            feedback_type: Some("abuse".into())
        }
    );
    assert_eq!(event.batch, None);
}

#[test]
fn deliveries_and_other_event_types_are_ignored_by_name() {
    let delivery =
        r#"{"eventType":"Delivery","mail":{},"delivery":{"recipients":["a@example.org"]}}"#;
    assert_eq!(parse(delivery), Ok(Parsed::Ignored("Delivery".into())));
    let strange = r#"{"eventType":"a@example.org"}"#;
    assert_eq!(parse(strange), Ok(Parsed::Ignored("other".into())));
}

#[test]
fn unreadable_messages_are_refused_without_quoting_them() {
    let cases = [
        ("not json at all: someone@example.org", "not JSON"),
        (
            r#"{"eventType":"Bounce","bounce":{"bounceType":["x@example.org"]}}"#,
            "wrong type",
        ),
    ];
    for (message, expected) in cases {
        let error = parse(message).unwrap_err();
        let text = error.to_string();
        assert!(text.contains(expected), "{text}");
        assert!(!text.contains("example.org"), "{text}");
    }
    assert_eq!(parse(r#"{"mail":{}}"#), Err(EmailEventParseError::NoType));
    assert_eq!(
        parse(r#"{"eventType":"Complaint"}"#),
        Err(EmailEventParseError::MissingDetails("complaint"))
    );
}

#[test]
fn a_missing_or_odd_feedback_id_time_or_batch_is_refused() {
    let no_id = hard_bounce("a@example.org", "");
    assert_eq!(parse(&no_id), Err(EmailEventParseError::InvalidFeedbackId));
    let odd_id = hard_bounce("a@example.org", "fb 1\r\nX: y");
    assert_eq!(parse(&odd_id), Err(EmailEventParseError::InvalidFeedbackId));
    let bad_time =
        hard_bounce("a@example.org", "fb-5").replace("2027-03-02T14:59:01.000Z", "yesterday");
    assert_eq!(
        parse(&bad_time),
        Err(EmailEventParseError::InvalidTimestamp)
    );
    let bad_batch = hard_bounce("a@example.org", "fb-6").replace(BATCH, "not a batch!");
    assert_eq!(parse(&bad_batch), Err(EmailEventParseError::InvalidBatch));
}

#[test]
fn recipients_that_are_not_addresses_are_counted_not_recorded() {
    let message = hard_bounce("not an address", "fb-7");
    let Ok(Parsed::Event(event)) = parse(&message) else {
        panic!()
    };
    assert_eq!((event.recipients.len(), event.unreadable), (0, 1));
}

#[tokio::test]
async fn a_hard_bounce_delivered_twice_marks_the_address_and_counts_in_its_batch_once() {
    let app = app(MemoryEmailEventStore::default());
    let event = sns_event(&hard_bounce("gone@example.org", "fb-8"));
    app.handle(event.clone(), now()).await.unwrap();
    app.handle(event, now()).await.unwrap();
    let contact = app
        .store()
        .contact(hasher().email(&address("gone@example.org")).as_str())
        .unwrap();
    assert_eq!(contact.undeliverable.as_deref(), Some("General"));
    assert!(!contact.suppressed);
    let batch = BatchId::parse(BATCH).unwrap();
    assert_eq!(app.store().counter(&batch, "bounced"), 1);
    assert_eq!(app.store().counter(&batch, "complained"), 0);
}

#[tokio::test]
async fn a_complaint_suppresses_marketing_email_with_its_evidence() {
    let app = app(MemoryEmailEventStore::default());
    app.handle(sns_event(&complaint("angry@example.org")), now())
        .await
        .unwrap();
    let contact = app
        .store()
        .contact(hasher().email(&address("angry@example.org")).as_str())
        .unwrap();
    assert!(contact.suppressed);
    assert_eq!(contact.complaints, vec!["abuse".to_string()]);
    assert_eq!(contact.undeliverable, None);
}

#[tokio::test]
async fn soft_bounces_are_counted_per_report_and_change_nothing_else() {
    let app = app(MemoryEmailEventStore::default());
    for id in ["fb-9", "fb-10", "fb-10"] {
        let message = hard_bounce("full@example.org", id).replace("Permanent", "Transient");
        app.handle(sns_event(&message), now()).await.unwrap();
    }
    let contact = app
        .store()
        .contact(hasher().email(&address("full@example.org")).as_str())
        .unwrap();
    assert_eq!(contact.soft_bounces, 2);
    assert_eq!((contact.undeliverable, contact.suppressed), (None, false));
    assert_eq!(
        app.store()
            .counter(&BatchId::parse(BATCH).unwrap(), "bounced"),
        0
    );
}

#[tokio::test]
async fn an_unreadable_notification_is_acknowledged_and_writes_nothing() {
    let app = app(MemoryEmailEventStore::default());
    app.handle(sns_event("{\"eventType\": \"Bounce\""), now())
        .await
        .unwrap();
    app.handle(sns_event("{\"eventType\":\"Delivery\"}"), now())
        .await
        .unwrap();
    assert_eq!(
        app.store()
            .contact(hasher().email(&address("gone@example.org")).as_str()),
        None
    );
}

#[tokio::test]
async fn without_the_hash_key_the_invocation_fails_so_lambda_tries_again() {
    let app = EmailEvents::new(
        EmailEventsConfig {
            table_name: "t".into(),
            contact_hash_key_parameter: "/missing".into(),
        },
        MemoryEmailEventStore::default(),
        StaticSecretStore::default(),
    );
    let result = app
        .handle(sns_event(&hard_bounce("gone@example.org", "fb-11")), now())
        .await;
    assert!(matches!(result, Err(EmailEventsError::Secret(_))));
}

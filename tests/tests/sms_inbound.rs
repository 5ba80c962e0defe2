//! Text to join, first slice: `POST /sms/inbound` on the running local stack, driven through the
//! Twilio emulator (which signs with its own code) and by hand-made requests.

use rising_tests::{item_text, s, spawn_app, unique_message_sid, unique_phone};

const WELCOME_START: &str = "Welcome to rising!";

#[tokio::test]
async fn texting_join_stores_the_person_opted_in_and_answers_the_welcome_in_twiml() {
    let app = spawn_app().await;
    let phone = unique_phone();

    let delivery = app.text(&phone, "  Join ").await;

    assert_eq!(delivery.webhook_status, 200);
    assert!(
        delivery
            .content_type
            .as_deref()
            .unwrap_or("")
            .starts_with("text/xml"),
        "{delivery:?}"
    );
    assert_eq!(delivery.replies.len(), 1, "{delivery:?}");
    assert!(delivery.replies[0].starts_with(WELCOME_START));
    assert!(delivery.replies[0].contains("Reply HELP for help, STOP to opt out"));

    let items = app.contact_items(&phone).await;
    let contact = items
        .iter()
        .find(|i| s(i, "sk") == Some("CONTACT"))
        .expect("contact record");
    assert_eq!(s(contact, "sms_status"), Some("opted_in"));
    assert_eq!(s(contact, "join_source"), Some("keyword"));
    assert!(s(contact, "created_at").is_some());
    let consent = items
        .iter()
        .find(|i| s(i, "sk").is_some_and(|k| k.starts_with("CONSENT#")))
        .expect("consent");
    assert_eq!(s(consent, "action"), Some("opt_in"));
    assert_eq!(s(consent, "keyword"), Some("JOIN"));
    assert_eq!(
        s(consent, "message_sid"),
        Some(delivery.message_sid.as_str())
    );
    assert!(s(consent, "wording").is_some_and(|w| w.starts_with(WELCOME_START)));
}

#[tokio::test]
async fn no_stored_item_contains_the_phone_number_in_clear() {
    let app = spawn_app().await;
    let phone = unique_phone();
    app.text(&phone, "JOIN").await;

    let national = &phone[2..]; // the ten digits without +1
    for item in app.scan_all().await {
        let text = item_text(&item);
        assert!(
            !text.contains(national),
            "an item holds the phone in clear: {text}"
        );
    }
}

#[tokio::test]
async fn the_same_message_sid_delivered_again_gets_the_same_reply_and_writes_nothing() {
    let app = spawn_app().await;
    let phone = unique_phone();
    let first = app.text(&phone, "JOIN").await;
    let before = app.contact_items(&phone).await;

    let again = app.redeliver(&phone, "JOIN", &first.message_sid).await;

    assert_eq!(again.webhook_status, 200);
    assert_eq!(again.replies, first.replies);
    assert_eq!(
        app.contact_items(&phone).await,
        before,
        "a replay must not write"
    );
}

#[tokio::test]
async fn concurrent_deliveries_of_one_message_are_stored_once() {
    let app = spawn_app().await;
    let phone = unique_phone();
    let sid = unique_message_sid();

    let deliveries =
        futures::future::join_all((0..4).map(|_| app.redeliver(&phone, "JOIN", &sid))).await;

    for d in &deliveries {
        assert_eq!(d.webhook_status, 200);
        assert_eq!(d.replies, deliveries[0].replies);
    }
    let consents = app
        .contact_items(&phone)
        .await
        .into_iter()
        .filter(|i| s(i, "sk").is_some_and(|k| k.starts_with("CONSENT#")))
        .count();
    assert_eq!(consents, 1);
}

#[tokio::test]
async fn a_forged_signature_is_refused_with_403_and_nothing_is_stored() {
    let app = spawn_app().await;
    let phone = unique_phone();

    let delivery = app
        .simulate(serde_json::json!({ "from": phone, "body": "JOIN", "signature": "forged" }))
        .await;

    assert_eq!(delivery.webhook_status, 403);
    assert!(delivery.replies.is_empty());
    assert!(app.contact_items(&phone).await.is_empty());
    assert!(
        app.query_pk(&format!("INBOUND#{}", delivery.message_sid))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_missing_signature_is_refused_with_403() {
    let app = spawn_app().await;
    let phone = unique_phone();
    let params = app.inbound_params(&phone, "JOIN", &unique_message_sid());

    let response = app.post_webhook("/sms/inbound", &params, Some("")).await;

    assert_eq!(response.status(), 403);
    assert!(app.contact_items(&phone).await.is_empty());
}

#[tokio::test]
async fn a_signed_body_that_was_tampered_with_is_refused() {
    let app = spawn_app().await;
    let phone = unique_phone();
    let sid = unique_message_sid();
    let params = app.inbound_params(&phone, "HELP", &sid);
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let signature = rising_tests::twilio_signature(
        &app.auth_token,
        &format!("{}/sms/inbound", app.public_base_url),
        &pairs,
    );
    let tampered = app.inbound_params(&phone, "JOIN", &sid);

    let response = app
        .post_webhook("/sms/inbound", &tampered, Some(&signature))
        .await;

    assert_eq!(response.status(), 403);
    assert!(app.contact_items(&phone).await.is_empty());
}

#[tokio::test]
async fn the_signature_covers_the_query_string_twilio_was_given() {
    let app = spawn_app().await;
    let phone = unique_phone();
    let params = app.inbound_params(&phone, "JOIN", &unique_message_sid());

    let response = app
        .post_webhook("/sms/inbound?campaign=flyer&b=2", &params, None)
        .await;

    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains(WELCOME_START));
}

#[tokio::test]
async fn a_webhook_for_another_twilio_account_is_refused() {
    let app = spawn_app().await;
    let phone = unique_phone();
    let mut params = app.inbound_params(&phone, "JOIN", &unique_message_sid());
    for (k, v) in params.iter_mut() {
        if k == "AccountSid" {
            *v = format!("AC{}", "f".repeat(32));
        }
    }

    let response = app.post_webhook("/sms/inbound", &params, None).await;

    assert_eq!(response.status(), 403);
    assert!(app.contact_items(&phone).await.is_empty());
}

#[tokio::test]
async fn a_malformed_message_sid_is_a_400_and_nothing_is_stored() {
    let app = spawn_app().await;
    let phone = unique_phone();
    let params = app.inbound_params(&phone, "JOIN", "not-a-sid");

    let response = app.post_webhook("/sms/inbound", &params, None).await;

    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("MessageSid"));
    assert!(app.contact_items(&phone).await.is_empty());
}

#[tokio::test]
async fn a_sender_not_in_e164_form_is_a_400_and_nothing_is_stored() {
    let app = spawn_app().await;
    let phone = unique_phone();
    // Twilio always writes From in E.164; the same number in national form is not Twilio's.
    let national = format!("({}) {}-{}", &phone[2..5], &phone[5..8], &phone[8..]);
    let params = app.inbound_params(&national, "JOIN", &unique_message_sid());

    let response = app.post_webhook("/sms/inbound", &params, None).await;

    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("sender"));
    assert!(app.contact_items(&phone).await.is_empty());
    assert!(
        app.conversation(&phone).await.is_empty(),
        "no reply was sent"
    );
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413() {
    let app = spawn_app().await;
    let phone = unique_phone();
    let params = app.inbound_params(&phone, &"x".repeat(70 * 1024), &unique_message_sid());

    let response = app.post_webhook("/sms/inbound", &params, None).await;

    assert_eq!(response.status(), 413);
    assert!(app.contact_items(&phone).await.is_empty());
}

#[tokio::test]
async fn stop_after_join_opts_out_with_exactly_one_confirmation_from_twilio() {
    let app = spawn_app().await;
    let phone = unique_phone();
    app.text(&phone, "JOIN").await;

    let delivery = app.text(&phone, "stop").await;

    assert_eq!(delivery.webhook_status, 200);
    assert!(
        delivery.replies.is_empty(),
        "Twilio's Advanced Opt-Out confirmed; rising must not: {delivery:?}"
    );
    let items = app.contact_items(&phone).await;
    let contact = items
        .iter()
        .find(|i| s(i, "sk") == Some("CONTACT"))
        .expect("contact");
    assert_eq!(s(contact, "sms_status"), Some("opted_out"));
    let evidence: Vec<_> = items
        .iter()
        .filter_map(|i| Some((s(i, "action")?, s(i, "source")?)))
        .collect();
    assert_eq!(
        evidence,
        vec![
            ("opt_in", "keyword"),
            ("opt_out", "twilio_advanced_opt_out")
        ]
    );
    let outbound_after_stop: Vec<_> = app
        .conversation(&phone)
        .await
        .into_iter()
        .skip_while(|m| m["body"] != "stop")
        .filter(|m| m["direction"] != "inbound")
        .collect();
    assert_eq!(
        outbound_after_stop.len(),
        1,
        "one confirmation: {outbound_after_stop:?}"
    );
}

#[tokio::test]
async fn free_text_revocation_opts_out_and_rising_confirms_once() {
    let app = spawn_app().await;
    let phone = unique_phone();
    app.text(&phone, "JOIN").await;

    let first = app.text(&phone, "Please stop texting me").await;
    let second = app.text(&phone, "wrong number").await;

    assert_eq!(first.replies.len(), 1);
    assert!(first.replies[0].contains("no more texts"), "{first:?}");
    assert!(
        second.replies.is_empty(),
        "never another text after an opt-out: {second:?}"
    );
    let items = app.contact_items(&phone).await;
    let contact = items
        .iter()
        .find(|i| s(i, "sk") == Some("CONTACT"))
        .expect("contact");
    assert_eq!(s(contact, "sms_status"), Some("opted_out"));
    assert!(items.iter().any(|i| s(i, "source") == Some("revocation")));
}

#[tokio::test]
async fn start_after_stop_opts_back_in() {
    let app = spawn_app().await;
    let phone = unique_phone();
    app.text(&phone, "JOIN").await;
    app.text(&phone, "STOP").await;

    let delivery = app.text(&phone, "START").await;

    assert_eq!(delivery.webhook_status, 200);
    let items = app.contact_items(&phone).await;
    let contact = items
        .iter()
        .find(|i| s(i, "sk") == Some("CONTACT"))
        .expect("contact");
    assert_eq!(s(contact, "sms_status"), Some("opted_in"));
    assert_eq!(
        items
            .iter()
            .filter(|i| s(i, "action") == Some("opt_in"))
            .count(),
        2
    );
}

#[tokio::test]
async fn help_answers_with_the_program_a_contact_and_how_to_stop() {
    let app = spawn_app().await;
    let phone = unique_phone();

    let delivery = app.text(&phone, "HELP").await;

    assert_eq!(delivery.replies.len(), 1, "{delivery:?}");
    let help = &delivery.replies[0];
    assert!(
        help.starts_with("rising:")
            && help.contains("Msg & data rates may apply. Reply STOP to cancel."),
        "{help}"
    );
    assert!(
        help.contains('@') || help.contains("http"),
        "HELP names a contact: {help}"
    );
}

#[tokio::test]
async fn unirme_opts_in_in_spanish_and_the_language_is_remembered() {
    let app = spawn_app().await;
    let phone = unique_phone();

    let joined = app.text(&phone, "unirme").await;
    let help = app.text(&phone, "help").await;

    assert!(joined.replies[0].starts_with("¡Bienvenido"), "{joined:?}");
    assert!(
        help.replies[0].contains("Responde STOP para cancelar"),
        "{help:?}"
    );
    let items = app.contact_items(&phone).await;
    let contact = items
        .iter()
        .find(|i| s(i, "sk") == Some("CONTACT"))
        .expect("contact");
    assert_eq!(s(contact, "language"), Some("es"));
}

#[tokio::test]
async fn a_stranger_gets_one_pointer_a_day_and_no_contact_is_stored() {
    let app = spawn_app().await;
    let phone = unique_phone();

    let first = app.text(&phone, "who is this?").await;
    let second = app.text(&phone, "hello??").await;

    assert_eq!(first.replies.len(), 1);
    assert!(first.replies[0].contains("Text JOIN"), "{first:?}");
    assert!(second.replies.is_empty(), "{second:?}");
    assert!(
        !app.contact_items(&phone)
            .await
            .iter()
            .any(|i| s(i, "sk") == Some("CONTACT"))
    );
}

#[tokio::test]
async fn an_unknown_route_is_a_404_like_api_gateway() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(format!("{}/nope", app.gateway_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

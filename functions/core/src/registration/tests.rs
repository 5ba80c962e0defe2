//! The registration use case and its HTTP side, over the in-memory adapters.

use http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use time::{Duration, OffsetDateTime};

use super::form::{Flag, RawForm, Target};
use super::{Client, Keys, RegisterError, Registrar, Settings, Status};
use crate::config::{CampaignConfig, ProgramConfig, RegisterConfig};
use crate::domain::{
    AddressDraft, EmailAddress, FirstName, Gathering, GatheringCode, GatheringDraft, GatheringId,
    GatheringTitle, Language, PhoneNumber, Zip,
};
use crate::email::TokenKey;
use crate::outbound::{Channel, Kind, OutboundId, body_context};
use crate::privacy::{ContactHasher, Sealer};
use crate::secrets::StaticSecretStore;
use crate::store::{
    GatheringStore, MemoryGatheringStore, MemoryOutbox, MemoryRegistrationStore,
    MemoryTrainingStore, TrainingStore,
};

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

type Queue = crate::outbound::recording_queue::RecordingQueue;

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap()
}

fn config() -> RegisterConfig {
    RegisterConfig::from_lookup(|name| {
        let value = match name {
            "TABLE_NAME" => "rising",
            "CONTACT_HASH_KEY_PARAMETER" => "/rising/contact-hash-key",
            "EMAIL_LINK_KEY_PARAMETER" => "/rising/email-link-key",
            "CONTACT_DATA_KEY_ID" => "key",
            "SEND_QUEUE_URL" => "https://sqs.example/q",
            "API_URL" => "https://api.rising.example",
            "SUPPORT_CONTACT" => "help@rising.example",
            "OVERVIEW_RECORDING_URL" => "https://rising.example/r/overview",
            "RECORDINGS_URL" => "https://rising.example/r",
            "SAFETY_URL" => "https://rising.example/safety",
            "HOST_SIGNUP_URL" => "https://rising.example/host",
            "EMAIL_FROM" => "hello@rising.example",
            "EMBED_ORIGINS" => "https://chapter.example",
            "REGISTER_IP_LIMIT" => "10",
            "REGISTER_CONTACT_LIMIT" => "3",
            "TERMS_URL" => "https://rising.example/terms",
            "PRIVACY_URL" => "https://rising.example/privacy",
            _ => return None,
        };
        Some(value.to_owned())
    })
    .unwrap()
}

struct World {
    settings: Settings,
    store: MemoryRegistrationStore,
    gatherings: MemoryGatheringStore,
    trainings: MemoryTrainingStore,
    outbox: MemoryOutbox,
    queue: Queue,
    sealer: Sealer,
    keys: Keys,
}

impl World {
    fn new() -> Self {
        Self {
            settings: config().settings(),
            store: MemoryRegistrationStore::new(),
            gatherings: MemoryGatheringStore::new(),
            trainings: MemoryTrainingStore::new(),
            outbox: MemoryOutbox::default(),
            queue: Queue::default(),
            sealer: Sealer::in_memory(),
            keys: Keys {
                hasher: ContactHasher::from_base64(KEY).unwrap(),
                link_key: TokenKey::from_base64(KEY).unwrap(),
            },
        }
    }

    fn registrar(
        &self,
    ) -> Registrar<
        '_,
        MemoryRegistrationStore,
        MemoryGatheringStore,
        MemoryTrainingStore,
        MemoryOutbox,
        Queue,
    > {
        Registrar {
            settings: &self.settings,
            store: &self.store,
            gatherings: &self.gatherings,
            trainings: &self.trainings,
            outbox: &self.outbox,
            queue: &self.queue,
            sealer: &self.sealer,
            keys: &self.keys,
        }
    }

    async fn register(&self, raw: &RawForm, ip: &str) -> Result<super::Answer, RegisterError> {
        let client = Client {
            ip: ip.into(),
            origin: None,
        };
        self.registrar().register(raw, None, &client, now()).await
    }

    async fn gathering(&self, capacity: Option<u32>, starts_in: Duration) -> Gathering {
        let starts_at = now() + starts_in;
        let gathering = GatheringDraft {
            code: GatheringCode::parse("MAPLE5").unwrap(),
            title: GatheringTitle::parse("Maple Street potluck").unwrap(),
            starts_at,
            ends_at: starts_at + Duration::hours(2),
            zip: Zip::parse("20001").unwrap(),
            timezone: None,
            town: None,
            location: None,
            address: AddressDraft::Public("Mount Pleasant Library".into()),
            host_first_name: FirstName::parse("Rosa").unwrap(),
            capacity,
            language: Language::En,
            listed: true,
            host: None,
            description: String::new(),
            accessibility: String::new(),
        }
        .seal(GatheringId::random(), &self.sealer)
        .await
        .unwrap();
        self.gatherings.put(&gathering, now()).await.unwrap();
        gathering
    }

    async fn body_of(&self, id: &OutboundId) -> (Channel, Kind, String) {
        let message = self.outbox.message(id).expect("stored");
        let body = self
            .sealer
            .open(&body_context(id), &message.body)
            .await
            .unwrap();
        (message.channel, message.kind, body)
    }
}

fn form(email: &str) -> RawForm {
    RawForm {
        submission_id: Some(crate::ids::random_id()),
        first_name: Some("Ana".into()),
        email: Some(email.into()),
        zip: Some("20001".into()),
        commitment: Flag(true),
        ..RawForm::default()
    }
}

#[tokio::test]
async fn a_campaign_sign_up_records_the_person_sealed_and_queues_one_confirmation_email() {
    let world = World::new();
    let mut raw = form("ana@example.org");
    raw.host = Flag(true);
    let answer = world.register(&raw, "203.0.113.7").await.unwrap();
    assert_eq!(answer.status, Status::Joined);
    assert!(
        answer
            .share_url
            .starts_with("https://api.rising.example/join?ref=")
    );
    let hash = world
        .keys
        .hasher
        .email(&EmailAddress::parse("ana@example.org").unwrap());
    let contact = world.store.contact(&hash).unwrap();
    assert!(contact.email_opted_in && contact.wants_to_host);
    assert!(!contact.address_sealed.unwrap().contains("ana@"));
    let ids = world.queue.ids();
    assert_eq!(ids.len(), 1);
    let (channel, kind, mime) = world.body_of(&ids[0]).await;
    assert_eq!((channel, kind), (Channel::Email, Kind::Confirmation));
    for needle in [
        "List-Unsubscribe: <https://api.rising.example/unsubscribe?t=",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
    ] {
        assert!(mime.contains(needle), "missing {needle}");
    }
    let parsed = mail_parser::MessageParser::default()
        .parse(mime.as_bytes())
        .unwrap();
    let body = parsed.body_text(0).unwrap();
    for needle in [
        "https://rising.example/host",
        "https://rising.example/safety",
        "https://rising.example/r",
        "https://api.rising.example/forget?t=",
        &answer.share_url,
    ] {
        assert!(body.contains(needle), "missing {needle} in {body}");
    }
}

#[tokio::test]
async fn a_retry_of_the_same_submission_gets_the_same_answer_and_writes_nothing_twice() {
    let world = World::new();
    let gathering = world.gathering(None, Duration::days(3)).await;
    let mut raw = form("ana@example.org");
    raw.gathering = Some(gathering.id.as_str().into());
    let first = world.register(&raw, "203.0.113.7").await.unwrap();
    let again = world.register(&raw, "203.0.113.7").await.unwrap();
    assert_eq!(first, again);
    assert_eq!(first.status, Status::Going);
    assert_eq!(world.gatherings.going_count(&gathering.id), Some(1));
    assert_eq!(world.queue.ids().len(), 1, "the retry queued nothing");
    assert_eq!(world.store.submissions(), 1);
}

#[tokio::test]
async fn a_second_submission_by_the_same_person_is_the_same_rsvp_and_the_same_confirmation() {
    let world = World::new();
    let gathering = world.gathering(None, Duration::days(3)).await;
    for _ in 0..2 {
        let mut raw = form("Ana@Example.org");
        raw.gathering = Some(gathering.id.as_str().into());
        let answer = world.register(&raw, "203.0.113.7").await.unwrap();
        assert_eq!(answer.status, Status::Going);
    }
    assert_eq!(world.gatherings.going_count(&gathering.id), Some(1));
    let ids = world.queue.ids();
    assert_eq!(ids.len(), 2, "enqueued twice");
    assert_eq!(
        ids[0], ids[1],
        "but it is one message, sent once by the worker"
    );
    let (_, _, mime) = world.body_of(&ids[0]).await;
    assert!(mime.contains("text/calendar"), "the .ics is attached");
    assert!(mime.contains("Maple Street potluck"));
}

#[tokio::test]
async fn a_full_gathering_puts_the_person_on_its_waitlist_without_a_calendar_invite() {
    let world = World::new();
    let gathering = world.gathering(Some(1), Duration::days(3)).await;
    for (email, expected) in [
        ("a@example.org", Status::Going),
        ("b@example.org", Status::Waitlist),
    ] {
        let mut raw = form(email);
        raw.gathering = Some(gathering.id.as_str().into());
        assert_eq!(
            world.register(&raw, "203.0.113.7").await.unwrap().status,
            expected
        );
    }
    let ids = world.queue.ids();
    let (_, _, mime) = world.body_of(&ids[1]).await;
    assert!(mime.contains("Waitlist"));
    assert!(!mime.contains("text/calendar"));
}

#[tokio::test]
async fn ticking_the_sms_box_queues_a_text_and_records_the_consent_wording_shown() {
    let world = World::new();
    let mut raw = form("ana@example.org");
    raw.phone = Some("(202) 555-0143".into());
    raw.sms_consent = Flag(true);
    let answer = world.register(&raw, "203.0.113.7").await.unwrap();
    assert!(answer.sms_confirmation && answer.email_confirmation);
    let phone = world
        .keys
        .hasher
        .phone(&PhoneNumber::parse("+12025550143").unwrap());
    assert_eq!(
        world.store.contact(&phone).unwrap().sms_opted_in,
        Some(true)
    );
    let consents = world.store.consents();
    let sms = consents
        .iter()
        .find(|(_, channel, _)| *channel == "sms")
        .unwrap();
    assert!(sms.2.contains("Msg & data rates may apply") && sms.2.contains("STOP"));
    let channels: Vec<Channel> = {
        let mut out = Vec::new();
        for id in world.queue.ids() {
            out.push(world.body_of(&id).await.0);
        }
        out
    };
    assert_eq!(channels, [Channel::Email, Channel::Sms]);
}

#[tokio::test]
async fn the_confirmation_text_says_what_organizers_wrote_in_the_persons_language() {
    let mut world = World::new();
    world.settings.wordings = vec![crate::store::StoredTemplate {
        message: crate::store::TemplateMessage::ConfirmJoinedSms,
        language: crate::domain::Language::Es,
        text: "{program}: bienvenida al movimiento. Grabaciones: {recordings_url} STOP para salir"
            .to_owned(),
    }];
    let text_of = async |email: &str, phone: &str, language: &str| {
        let mut raw = form(email);
        raw.phone = Some(phone.into());
        raw.sms_consent = Flag(true);
        raw.language = Some(language.into());
        world.register(&raw, "203.0.113.7").await.unwrap();
        let mut texts = Vec::new();
        for id in world.queue.ids() {
            let (channel, _, body) = world.body_of(&id).await;
            if channel == Channel::Sms {
                texts.push(body);
            }
        }
        texts.pop().expect("a text")
    };
    let es = text_of("bea@example.org", "(202) 555-0144", "es").await;
    assert!(
        es.starts_with("rising: bienvenida al movimiento. Grabaciones: https://"),
        "{es}"
    );
    let en = text_of("ana@example.org", "(202) 555-0143", "en").await;
    assert_eq!(
        en,
        crate::messages::render(
            crate::messages::catalog(crate::domain::Language::En).form_joined_sms,
            &[
                ("program", "rising"),
                ("recordings_url", &world.settings.campaign.recordings_url),
            ],
        ),
        "English keeps the standard wording"
    );
}

#[tokio::test]
async fn a_stop_by_text_outranks_a_later_form_consent() {
    let world = World::new();
    let phone = world
        .keys
        .hasher
        .phone(&PhoneNumber::parse("+12025550143").unwrap());
    world.store.opt_out(&phone);
    let mut raw = form("ana@example.org");
    raw.phone = Some("2025550143".into());
    raw.sms_consent = Flag(true);
    world.register(&raw, "203.0.113.7").await.unwrap();
    assert_eq!(
        world.store.contact(&phone).unwrap().sms_opted_in,
        Some(false)
    );
}

#[tokio::test]
async fn an_invalid_form_stores_and_queues_nothing() {
    let world = World::new();
    let mut raw = form("ana@example.org");
    raw.first_name = Some("Ana\r\nBcc: everyone@example.org".into());
    raw.commitment = Flag(false);
    let Err(RegisterError::Invalid(errors)) = world.register(&raw, "203.0.113.7").await else {
        panic!("refused");
    };
    assert_eq!(errors.len(), 2);
    assert_eq!(world.store.contacts(), 0);
    assert!(world.queue.ids().is_empty());
}

#[tokio::test]
async fn too_many_submissions_from_one_address_or_for_one_person_are_refused() {
    let world = World::new();
    // Per person: 3 per window.
    for n in 0..5 {
        let result = world
            .register(&form("ana@example.org"), &format!("198.51.100.{n}"))
            .await;
        assert_eq!(result.is_ok(), n < 3, "attempt {n}: {result:?}");
        if n >= 3 {
            assert!(matches!(result, Err(RegisterError::TooMany)));
        }
    }
    // Per address: 10 per window.
    let mut refused = 0;
    for n in 0..12 {
        if let Err(RegisterError::TooMany) = world
            .register(&form(&format!("p{n}@example.org")), "203.0.113.9")
            .await
        {
            refused += 1;
        }
    }
    assert_eq!(refused, 2);
}

#[tokio::test]
async fn an_unknown_or_ended_gathering_cannot_be_registered_for() {
    let world = World::new();
    let mut raw = form("ana@example.org");
    raw.gathering = Some(GatheringId::random().as_str().into());
    assert!(matches!(
        world.register(&raw, "203.0.113.7").await,
        Err(RegisterError::NoSuchEvent)
    ));
    let past = world.gathering(None, -Duration::days(1)).await;
    raw.gathering = Some(past.id.as_str().into());
    raw.submission_id = Some(crate::ids::random_id());
    assert!(matches!(
        world.register(&raw, "203.0.113.7").await,
        Err(RegisterError::Ended)
    ));
    assert!(world.queue.ids().is_empty());
}

impl World {
    async fn training(&self, id: &str, starts_in: Duration, recording: Option<&str>) {
        let training = crate::domain::TrainingDraft {
            title: crate::domain::TrainingTitle::parse(&format!("Training {id}")).unwrap(),
            title_es: None,
            starts_at: now() + starts_in,
            duration: Duration::hours(1),
            time_zone: "America/New_York".into(),
            join_url: Some(crate::domain::TrainingUrl::parse("https://meet.example/join").unwrap()),
            recording_url: recording.map(|u| crate::domain::TrainingUrl::parse(u).unwrap()),
            recording_published_at: recording.map(|_| now() - Duration::days(1)),
        }
        .build(crate::domain::TrainingId::parse(id).unwrap())
        .unwrap();
        self.trainings.put_training(&training, now()).await.unwrap();
    }
}

#[tokio::test]
async fn a_training_registration_is_confirmed_with_its_join_link_and_every_published_recording() {
    let world = World::new();
    world
        .training(
            "overview",
            -Duration::days(30),
            Some("https://rising.example/r/overview"),
        )
        .await;
    world.training("third", -Duration::days(10), None).await;
    world
        .training("host-training", Duration::days(3), None)
        .await;
    let mut raw = form("ana@example.org");
    raw.training = Some("host-training".into());
    let answer = world.register(&raw, "203.0.113.7").await.unwrap();
    assert_eq!(answer.status, Status::Registered);
    assert!(answer.share_url.ends_with(&format!(
        "/t/host-training?ref={}",
        answer.share_url.rsplit('=').next().unwrap()
    )));
    let (_, _, mime) = world.body_of(&world.queue.ids()[0]).await;
    assert!(mime.contains("text/calendar"));
    let parsed = mail_parser::MessageParser::default()
        .parse(mime.as_bytes())
        .unwrap();
    let body = parsed.body_text(0).unwrap();
    assert!(body.contains("https://meet.example/join"), "{body}");
    assert!(
        body.contains("Training overview: https://rising.example/r/overview"),
        "{body}"
    );
    assert!(
        !body.contains("Training third"),
        "unpublished recordings are not listed"
    );
    // A second registration of the same person is the same one.
    raw.submission_id = Some(crate::ids::random_id());
    world.register(&raw, "203.0.113.7").await.unwrap();
    let registrants = world
        .trainings
        .registrants(&crate::domain::TrainingId::parse("host-training").unwrap())
        .await
        .unwrap();
    assert_eq!(registrants.len(), 1);
    // An ended training cannot be registered for.
    raw.training = Some("third".into());
    raw.submission_id = Some(crate::ids::random_id());
    assert!(matches!(
        world.register(&raw, "203.0.113.7").await,
        Err(RegisterError::Ended)
    ));
}

#[tokio::test]
async fn a_spanish_form_gets_a_spanish_email() {
    let world = World::new();
    let mut raw = form("lucia@example.org");
    raw.language = Some("es".into());
    world.register(&raw, "203.0.113.7").await.unwrap();
    let (_, _, mime) = world.body_of(&world.queue.ids()[0]).await;
    assert!(mime.contains("Content-Language: es"));
}

// --- HTTP ---------------------------------------------------------------------------------------

type App = super::Register<
    MemoryRegistrationStore,
    MemoryGatheringStore,
    MemoryTrainingStore,
    MemoryOutbox,
    Queue,
    StaticSecretStore,
>;

fn app() -> (App, Queue) {
    let queue = Queue::default();
    let secrets = StaticSecretStore::default()
        .with("/rising/contact-hash-key", KEY)
        .with("/rising/email-link-key", KEY);
    let app = super::Register::new(
        config(),
        MemoryRegistrationStore::new(),
        MemoryGatheringStore::new(),
        MemoryTrainingStore::new(),
        MemoryOutbox::default(),
        queue.clone(),
        Sealer::in_memory(),
        secrets,
    );
    (app, queue)
}

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Request {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(format!("https://api.rising.example{path}"))
        .header("host", "api.rising.example");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut context =
        lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
    context.http.source_ip = Some("203.0.113.7".into());
    builder
        .body(Body::from(body.to_owned()))
        .unwrap()
        .with_request_context(RequestContext::ApiGatewayV2(context))
}

fn json_body(raw: &RawForm) -> String {
    serde_json::json!({
        "submission_id": raw.submission_id,
        "first_name": raw.first_name,
        "email": raw.email,
        "zip": raw.zip,
        "commitment": true,
    })
    .to_string()
}

fn text(response: &http::Response<Body>) -> String {
    String::from_utf8_lossy(response.body().as_ref()).into_owned()
}

#[tokio::test]
async fn json_from_an_allowed_origin_registers_with_cors_headers() {
    let (app, queue) = app();
    let body = json_body(&form("ana@example.org"));
    let response = app
        .handle_at(
            &request(
                "POST",
                "/register",
                &[
                    ("content-type", "application/json"),
                    ("origin", "https://chapter.example"),
                ],
                &body,
            ),
            now(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "{}", text(&response));
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://chapter.example"
    );
    let answer: serde_json::Value = serde_json::from_str(&text(&response)).unwrap();
    assert_eq!(answer["status"], "joined");
    assert_eq!(queue.ids().len(), 1);
}

#[tokio::test]
async fn a_disallowed_origin_is_refused_before_anything_is_read() {
    let (app, queue) = app();
    let body = json_body(&form("ana@example.org"));
    let response = app
        .handle_at(
            &request(
                "POST",
                "/register",
                &[
                    ("content-type", "application/json"),
                    ("origin", "https://evil.example"),
                ],
                &body,
            ),
            now(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(text(&response).contains("can't be used from this website"));
    assert!(queue.ids().is_empty());
    assert_eq!(app.store().contacts(), 0);
}

#[tokio::test]
async fn an_oversized_body_gets_413_and_a_filled_honeypot_a_quiet_200() {
    let (app, queue) = app();
    let big = format!("{{\"first_name\":\"{}\"}}", "a".repeat(super::BODY_LIMIT));
    let response = app
        .handle_at(
            &request(
                "POST",
                "/register",
                &[("content-type", "application/json")],
                &big,
            ),
            now(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let mut raw = form("bot@example.org");
    raw.website = Some("https://spam.example".into());
    let body = serde_json::json!({
        "submission_id": raw.submission_id, "first_name": "Bot", "email": "bot@example.org",
        "zip": "20001", "commitment": true, "website": "https://spam.example"
    })
    .to_string();
    let response = app
        .handle_at(
            &request(
                "POST",
                "/register",
                &[("content-type", "application/json")],
                &body,
            ),
            now(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(queue.ids().is_empty());
    assert_eq!(app.store().contacts(), 0);
}

#[tokio::test]
async fn invalid_json_fields_get_422_with_a_message_per_field() {
    let (app, _) = app();
    let body = serde_json::json!({
        "submission_id": crate::ids::random_id(), "first_name": "Ana\nBcc: x", "zip": "1",
    })
    .to_string();
    let response = app
        .handle_at(
            &request(
                "POST",
                "/register",
                &[("content-type", "application/json")],
                &body,
            ),
            now(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let answer: serde_json::Value = serde_json::from_str(&text(&response)).unwrap();
    let fields: Vec<&str> = answer["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for field in ["first_name", "email", "zip", "commitment"] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
    assert_eq!(app.store().contacts(), 0);
}

#[tokio::test]
async fn the_countries_organizers_allow_decide_which_numbers_the_form_takes() {
    use crate::store::CampaignRulesStore;
    let (app, queue) = app();
    let post = |phone: &'static str| {
        let body = serde_json::json!({
            "submission_id": crate::ids::random_id(), "first_name": "Marisol",
            "phone": phone, "sms_consent": true, "zip": "00901", "commitment": true,
        })
        .to_string();
        request(
            "POST",
            "/register",
            &[("content-type", "application/json")],
            &body,
        )
    };
    // As deployed (US only), a Puerto Rico number is refused, and the message names the countries.
    let response = app.handle_at(&post("+17872345678"), now()).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&response).contains("US"), "{}", text(&response));
    assert_eq!(app.store().contacts(), 0);

    let rules = crate::store::CampaignRules {
        approval_required: false,
        invite_quota: 200,
        invite_window_days: 30,
        phone_countries: vec!["US".into(), "PR".into()],
        sending_hours: crate::outbound::SendingHours::LAW,
    };
    let organizer = crate::privacy::ContactHash::parse("e.organizer").unwrap();
    app.gatherings()
        .put_campaign_rules(&rules, &organizer, now())
        .await
        .unwrap();
    let response = app.handle_at(&post("+17872345678"), now()).await;
    assert_eq!(response.status(), StatusCode::OK, "{}", text(&response));
    assert_eq!(app.store().contacts(), 1);
    assert_eq!(queue.messages().len(), 1, "the confirmation text");
    // A Mexican number is still refused, and the message names the countries organizers set.
    let response = app.handle_at(&post("+525512345678"), now()).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(&response).contains("US, PR"), "{}", text(&response));
}

#[tokio::test]
async fn the_page_without_javascript_posts_a_form_and_is_redirected_to_its_thank_you_page() {
    let (app, _) = app();
    let page = app
        .handle_at(&request("GET", "/join?lang=es", &[], ""), now())
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = text(&page);
    assert!(html.contains("lang=\"es\""));
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let submission = crate::ids::random_id();
    let body = format!(
        "submission_id={submission}&first_name=Luc%C3%ADa&email=lucia%40example.org&zip=20001&commitment=on&language=es"
    );
    let response = app
        .handle_at(
            &request(
                "POST",
                "/register",
                &[
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("origin", "https://api.rising.example"),
                ],
                &body,
            ),
            now(),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "{}",
        text(&response)
    );
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("join/thanks?s={submission}")),
        "{location}"
    );
    let thanks = app
        .handle_at(&request("GET", &format!("/{location}"), &[], ""), now())
        .await;
    assert_eq!(thanks.status(), StatusCode::OK);
    assert!(
        text(&thanks).contains("/join?ref="),
        "the share link is shown"
    );
}

#[tokio::test]
async fn the_embedded_page_may_be_framed_only_by_allowed_sites_and_the_scripts_are_served() {
    let (app, _) = app();
    let page = app
        .handle_at(&request("GET", "/join?embed=1", &[], ""), now())
        .await;
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors 'self' https://chapter.example"),
        "{csp}"
    );
    for path in ["/embed.js", "/form.js"] {
        let script = app.handle_at(&request("GET", path, &[], ""), now()).await;
        assert_eq!(script.status(), StatusCode::OK);
        assert!(
            script.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/javascript")
        );
    }
    let missing = app
        .handle_at(
            &request(
                "GET",
                &format!("/g/{}", GatheringId::random().as_str()),
                &[],
                "",
            ),
            now(),
        )
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[test]
fn the_campaign_config_reads_its_limits() {
    let config = config();
    assert_eq!((config.ip_limit, config.contact_limit), (10, 3));
    let _: &CampaignConfig = &config.campaign;
    let _: &ProgramConfig = &config.program;
    let _ = Target::Campaign {
        wants_to_host: false,
    };
}

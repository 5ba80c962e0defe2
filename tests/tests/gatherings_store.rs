//! The DynamoDB adapter of gatherings, codes, keywords and RSVPs against the running stack's table
//! (moto), and the seeded local data.
//!
//! Every test uses its own random ids, codes and contact hashes; searches start from a random place
//! on Earth, and assertions about order look only at the test's own gatherings, so tests run in
//! parallel with each other and with anything else in the table.

use aws_sdk_dynamodb::types::AttributeValue;
use rand::Rng;
use rising_core::domain::{
    Address, AddressDraft, CampaignKeyword, EmailAddress, FirstName, Gathering, GatheringCode,
    GatheringDraft, GatheringId, GatheringTitle, KeywordTarget, KeywordWord, Language, PhoneNumber,
    Zip,
};
use rising_core::geo::{EARTH_RADIUS_KM, GeoPoint, SearchRadius};
use rising_core::outbound::{OutboxStore, SendingHours};
use rising_core::privacy::{ContactHash, ContactHasher, Sealer, field_context};
use rising_core::store::{
    CampaignRules, CampaignRulesStore, DynamoGatheringStore, GatheringStore, KeywordStore,
    NearbyGathering, NewRsvp, PutGathering, PutKeyword, RemovedKeyword, ReviewDecision, Reviewed,
    RsvpOutcome, RsvpSource, RsvpStatus, RsvpStore, UpdateGathering,
};
use rising_tests::{Stack, item_text, s, spawn_app, unique_phone};
use time::{Duration, OffsetDateTime};

fn store(stack: &Stack) -> DynamoGatheringStore {
    DynamoGatheringStore::new(stack.dynamodb.clone(), stack.table_name.clone())
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// A code no other test uses: `T` and 8 random letters and digits.
fn unique_code() -> GatheringCode {
    let mut rng = rand::rng();
    let tail: String = (0..8)
        .map(|_| {
            let i = rng.random_range(0..36u8);
            char::from(if i < 26 { b'A' + i } else { b'0' + i - 26 })
        })
        .collect();
    GatheringCode::parse(&format!("T{tail}")).expect("a valid code")
}

/// A first name no stored item could contain by chance.
fn unique_name() -> String {
    let mut rng = rand::rng();
    let tail: String = (0..10)
        .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
        .collect();
    format!("Zy{tail}")
}

/// A random origin between 55° S and 55° N, away from the antimeridian.
fn random_origin() -> GeoPoint {
    let mut rng = rand::rng();
    GeoPoint::new(
        rng.random_range(-55.0..55.0),
        rng.random_range(-170.0..170.0),
    )
    .expect("in range")
}

/// The point `km` from `origin` on `bearing_deg`.
fn destination(origin: GeoPoint, km: f64, bearing_deg: f64) -> GeoPoint {
    let d = km / EARTH_RADIUS_KM;
    let (p1, l1, b) = (
        origin.lat().to_radians(),
        origin.lon().to_radians(),
        bearing_deg.to_radians(),
    );
    let p2 = (p1.sin() * d.cos() + p1.cos() * d.sin() * b.cos()).asin();
    let l2 = l1 + (b.sin() * d.sin() * p1.cos()).atan2(d.cos() - p1.sin() * p2.sin());
    GeoPoint::new(p2.to_degrees(), l2.to_degrees()).expect("in range")
}

struct Spec {
    at: GeoPoint,
    starts_in: Duration,
    listed: bool,
    capacity: Option<u32>,
    host: String,
    address: AddressDraft,
    /// The hosting host's keyed hash (`None`: an organizer's gathering).
    host_hash: Option<ContactHash>,
}

impl Spec {
    fn at(at: GeoPoint) -> Self {
        Self {
            at,
            starts_in: Duration::days(3),
            listed: true,
            capacity: None,
            host: unique_name(),
            address: AddressDraft::Public("Public library, room 2".into()),
            host_hash: None,
        }
    }
}

async fn gathering(sealer: &Sealer, spec: Spec) -> Gathering {
    let starts_at = now() + spec.starts_in;
    GatheringDraft {
        code: unique_code(),
        title: GatheringTitle::parse("Integration potluck").expect("title"),
        starts_at,
        ends_at: starts_at + Duration::hours(2),
        zip: Zip::parse("20001").expect("zip"),
        timezone: None,
        town: None,
        location: Some(spec.at),
        address: spec.address,
        host_first_name: FirstName::parse(&spec.host).expect("name"),
        capacity: spec.capacity,
        language: Language::En,
        listed: spec.listed,
        host: spec.host_hash,
        description: String::new(),
        accessibility: String::new(),
    }
    .seal(GatheringId::random(), sealer)
    .await
    .expect("sealed")
}

async fn put_all(store: &DynamoGatheringStore, gatherings: &[&Gathering]) {
    for g in gatherings {
        assert_eq!(
            store.put(g, now()).await.expect("put"),
            PutGathering::Created
        );
    }
}

/// The ids of `found` that belong to `mine`, in order.
fn own_ids(found: &[NearbyGathering], mine: &[&Gathering]) -> Vec<GatheringId> {
    found
        .iter()
        .filter(|n| mine.iter().any(|g| g.id == n.gathering.id))
        .map(|n| n.gathering.id.clone())
        .collect()
}

fn assert_every_result_qualifies(
    found: &[NearbyGathering],
    origin: GeoPoint,
    radius: SearchRadius,
    at: OffsetDateTime,
) {
    for n in found {
        assert!(n.gathering.listed, "an unlisted gathering was found");
        assert!(
            n.gathering.starts_at > at,
            "a gathering that already started was found"
        );
        assert!(
            radius.contains(n.distance),
            "{} km is beyond the radius",
            n.distance.km()
        );
        assert!((origin.distance_to(n.gathering.location).km() - n.distance.km()).abs() < 1e-6);
    }
    assert!(
        found.windows(2).all(|w| w[0].distance <= w[1].distance),
        "not nearest first"
    );
}

/// A host no other test uses: the keyed hash of a random email address.
fn host() -> ContactHash {
    let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    let email = format!("host-{}@example.org", GatheringId::random());
    ContactHasher::from_base64(key)
        .expect("key")
        .email(&EmailAddress::parse(&email).expect("email"))
}

fn contact() -> ContactHash {
    let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    ContactHasher::from_base64(key)
        .expect("key")
        .phone(&PhoneNumber::parse(&unique_phone()).expect("phone"))
}

#[tokio::test]
async fn a_search_finds_only_nearby_upcoming_listed_gatherings_nearest_first() {
    let stack = spawn_app().await;
    let (store, sealer) = (store(&stack), Sealer::in_memory());
    let origin = random_origin();
    let near = gathering(
        &sealer,
        Spec {
            starts_in: Duration::days(3),
            ..Spec::at(destination(origin, 1.0, 10.0))
        },
    )
    .await;
    let middle = gathering(
        &sealer,
        Spec {
            starts_in: Duration::days(2),
            ..Spec::at(destination(origin, 30.0, 100.0))
        },
    )
    .await;
    let edge = gathering(
        &sealer,
        Spec {
            starts_in: Duration::days(1),
            ..Spec::at(destination(origin, 65.0, 250.0))
        },
    )
    .await;
    let too_far = gathering(&sealer, Spec::at(destination(origin, 90.0, 300.0))).await;
    let started = gathering(
        &sealer,
        Spec {
            starts_in: -Duration::hours(1),
            ..Spec::at(destination(origin, 2.0, 0.0))
        },
    )
    .await;
    let unlisted = gathering(
        &sealer,
        Spec {
            listed: false,
            ..Spec::at(destination(origin, 2.0, 180.0))
        },
    )
    .await;
    let mine = [&near, &middle, &edge, &too_far, &started, &unlisted];
    put_all(&store, &mine).await;

    let radius = SearchRadius::km(70.0).expect("radius");
    let at = now();
    let found = store
        .upcoming_near(origin, radius, at, 20)
        .await
        .expect("search");

    assert_every_result_qualifies(&found, origin, radius, at);
    assert_eq!(
        own_ids(&found, &mine),
        [near.id.clone(), middle.id.clone(), edge.id.clone()]
    );
    let distances: Vec<f64> = found
        .iter()
        .filter(|n| n.gathering.id == near.id || n.gathering.id == edge.id)
        .map(|n| n.distance.km())
        .collect();
    assert!(
        (distances[0] - 1.0).abs() < 0.01 && (distances[1] - 65.0).abs() < 0.05,
        "{distances:?}"
    );
    let first = store
        .upcoming_near(origin, radius, at, 1)
        .await
        .expect("search");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].distance, found[0].distance);
}

#[tokio::test]
async fn a_wide_search_reads_the_coarse_cells_and_still_ranks_nearest_first() {
    let stack = spawn_app().await;
    let (store, sealer) = (store(&stack), Sealer::in_memory());
    let origin = random_origin();
    let a = gathering(&sealer, Spec::at(destination(origin, 40.0, 45.0))).await;
    let b = gathering(&sealer, Spec::at(destination(origin, 230.0, 135.0))).await;
    let c = gathering(&sealer, Spec::at(destination(origin, 380.0, 270.0))).await;
    let beyond = gathering(&sealer, Spec::at(destination(origin, 470.0, 0.0))).await;
    let hidden = gathering(
        &sealer,
        Spec {
            listed: false,
            ..Spec::at(destination(origin, 100.0, 90.0))
        },
    )
    .await;
    let mine = [&c, &beyond, &a, &hidden, &b];
    put_all(&store, &mine).await;

    let radius = SearchRadius::km(400.0).expect("radius");
    let at = now();
    let found = store
        .upcoming_near(origin, radius, at, 50)
        .await
        .expect("search");

    assert_every_result_qualifies(&found, origin, radius, at);
    assert_eq!(
        own_ids(&found, &mine),
        [a.id.clone(), b.id.clone(), c.id.clone()]
    );
}

#[tokio::test]
async fn a_code_belongs_to_one_gathering_and_creating_twice_writes_once() {
    let stack = spawn_app().await;
    let (store, sealer) = (store(&stack), Sealer::in_memory());
    let first = gathering(&sealer, Spec::at(random_origin())).await;
    let mut second = gathering(&sealer, Spec::at(random_origin())).await;
    second.code = first.code.clone();

    assert_eq!(
        store.put(&first, now()).await.expect("put"),
        PutGathering::Created
    );
    assert_eq!(
        store.put(&first, now()).await.expect("put"),
        PutGathering::AlreadyExists
    );
    assert_eq!(
        store.put(&second, now()).await.expect("put"),
        PutGathering::CodeTaken
    );

    assert_eq!(store.get(&second.id).await.expect("get"), None);
    assert!(
        stack
            .query_pk(&format!("GATHERING#{}", second.id))
            .await
            .is_empty(),
        "a refused gathering left items"
    );
    assert_eq!(
        store.by_code(&first.code).await.expect("by code"),
        Some(first.clone())
    );
    assert_eq!(
        store.get(&first.id).await.expect("get"),
        Some(first.clone())
    );
    let code_items = stack.query_pk(&format!("CODE#{}", first.code)).await;
    assert_eq!(code_items.len(), 1);
    assert_eq!(s(&code_items[0], "gathering_id"), Some(first.id.as_str()));
}

#[tokio::test]
async fn a_code_can_never_be_a_configured_keyword() {
    let stack = spawn_app().await;
    let (store, sealer) = (store(&stack), Sealer::in_memory());
    let mut g = gathering(&sealer, Spec::at(random_origin())).await;
    let word = KeywordWord::parse(g.code.as_str()).expect("word");
    let keyword = CampaignKeyword {
        word: word.clone(),
        target: KeywordTarget::Campaign,
        language: Language::Es,
    };

    assert_eq!(
        store.put_keyword(&keyword, now()).await.expect("keyword"),
        PutKeyword::Created
    );
    assert_eq!(
        store.put_keyword(&keyword, now()).await.expect("keyword"),
        PutKeyword::AlreadyExists
    );
    assert_eq!(store.keyword(&word).await.expect("keyword"), Some(keyword));
    assert_eq!(
        store.put(&g, now()).await.expect("put"),
        PutGathering::CodeTaken
    );

    g.code = unique_code();
    store.put(&g, now()).await.expect("put");
    let taken = CampaignKeyword {
        word: KeywordWord::parse(g.code.as_str()).expect("word"),
        target: KeywordTarget::Gathering(g.id.clone()),
        language: Language::En,
    };
    assert_eq!(
        store.put_keyword(&taken, now()).await.expect("keyword"),
        PutKeyword::TakenByGatheringCode
    );
}

#[tokio::test]
async fn an_rsvp_is_recorded_once_and_people_past_the_capacity_are_waitlisted() {
    let stack = spawn_app().await;
    let (store, sealer) = (store(&stack), Sealer::in_memory());
    let g = gathering(
        &sealer,
        Spec {
            capacity: Some(2),
            ..Spec::at(random_origin())
        },
    )
    .await;
    put_all(&store, &[&g]).await;
    let people: Vec<ContactHash> = (0..3).map(|_| contact()).collect();
    let mut outcomes = Vec::new();
    for (i, person) in people.iter().enumerate() {
        let name = sealer
            .seal(&field_context(person, "first_name"), "Ana")
            .await
            .expect("seal");
        let rsvp = NewRsvp {
            gathering: &g.id,
            contact: person,
            source: RsvpSource::Sms,
            language: Language::Es,
            first_name: &name,
            referral: None,
        };
        outcomes.push(store.rsvp(rsvp.clone(), now()).await.expect("rsvp"));
        if i == 0 || i == 2 {
            outcomes.push(store.rsvp(rsvp, now()).await.expect("rsvp again"));
        }
    }
    use RsvpOutcome::*;
    assert_eq!(
        outcomes,
        [
            Created,
            AlreadyGoing,
            Created,
            Waitlisted,
            AlreadyWaitlisted
        ]
    );

    let records = store.rsvps_for(&g.id).await.expect("by gathering");
    assert_eq!(records.len(), 3);
    assert_eq!(
        records
            .iter()
            .filter(|r| r.status == RsvpStatus::Going)
            .count(),
        2
    );
    let items = stack.query_pk(&format!("GATHERING#{}", g.id)).await;
    let gathering_item = items
        .iter()
        .find(|i| s(i, "sk") == Some("GATHERING"))
        .expect("gathering item");
    assert_eq!(
        gathering_item
            .get("going_count")
            .and_then(|v| v.as_n().ok())
            .map(String::as_str),
        Some("2")
    );

    let of_first = store.rsvps_of(&people[0]).await.expect("by person");
    assert_eq!(of_first.len(), 1);
    assert_eq!(
        (
            of_first[0].gathering_id.clone(),
            of_first[0].status,
            of_first[0].source
        ),
        (g.id.clone(), RsvpStatus::Going, RsvpSource::Sms)
    );
    assert_eq!(of_first[0].starts_at, records[0].starts_at);
    assert_eq!(
        sealer
            .open(
                &field_context(&people[0], "first_name"),
                &of_first[0].first_name
            )
            .await
            .expect("open"),
        "Ana"
    );
    let rsvp_item = items
        .iter()
        .find(|i| s(i, "sk") == Some(&format!("RSVP#{}", people[0].as_str())))
        .expect("rsvp item");
    assert_eq!(
        s(rsvp_item, "gsi1pk"),
        Some(format!("CONTACT#{}", people[0].as_str()).as_str())
    );
    assert!(
        s(rsvp_item, "gsi1sk")
            .is_some_and(|k| k.starts_with("RSVP#") && k.ends_with(g.id.as_str()))
    );
}

#[tokio::test]
async fn an_rsvp_to_an_unknown_gathering_writes_nothing() {
    let stack = spawn_app().await;
    let (store, sealer) = (store(&stack), Sealer::in_memory());
    let person = contact();
    let name = sealer
        .seal(&field_context(&person, "first_name"), "Ana")
        .await
        .expect("seal");
    let id = GatheringId::random();
    let rsvp = NewRsvp {
        gathering: &id,
        contact: &person,
        source: RsvpSource::Form,
        language: Language::En,
        first_name: &name,
        referral: None,
    };
    assert_eq!(
        store.rsvp(rsvp, now()).await.expect("rsvp"),
        RsvpOutcome::NoSuchGathering
    );
    assert!(stack.query_pk(&format!("GATHERING#{id}")).await.is_empty());
}

#[tokio::test]
async fn no_host_name_private_address_or_guest_name_is_stored_in_clear() {
    let stack = spawn_app().await;
    let (store, sealer) = (store(&stack), Sealer::in_memory());
    let host = unique_name();
    let address = format!("{} Hidden Lane", rand::rng().random_range(1000..9999));
    let g = gathering(
        &sealer,
        Spec {
            host: host.clone(),
            address: AddressDraft::Private(address.clone()),
            ..Spec::at(random_origin())
        },
    )
    .await;
    put_all(&store, &[&g]).await;
    let guest = unique_name();
    let person = contact();
    let name = sealer
        .seal(&field_context(&person, "first_name"), &guest)
        .await
        .expect("seal");
    let rsvp = NewRsvp {
        gathering: &g.id,
        contact: &person,
        source: RsvpSource::Invite,
        language: Language::En,
        first_name: &name,
        referral: None,
    };
    store.rsvp(rsvp, now()).await.expect("rsvp");

    let mut items = stack.query_pk(&format!("GATHERING#{}", g.id)).await;
    items.extend(stack.query_pk(&format!("CODE#{}", g.code)).await);
    assert_eq!(
        items.len(),
        5,
        "gathering, wide-search and start-day pointers, RSVP and code"
    );
    for item in &items {
        let text = item_text(item);
        for secret in [host.as_str(), address.as_str(), guest.as_str()] {
            assert!(!text.contains(secret), "{secret:?} is in clear in {text}");
        }
    }
    let stored = store.get(&g.id).await.expect("get").expect("found");
    assert_eq!(
        stored.open_host_first_name(&sealer).await.expect("open"),
        Some(host)
    );
    let day_before = stored.starts_at - Duration::hours(12);
    assert_eq!(
        stored
            .open_address(&sealer, day_before)
            .await
            .expect("open"),
        Some(address)
    );
}

#[tokio::test]
async fn the_seeded_gatherings_are_stored_like_the_functions_store_them() {
    let stack = spawn_app().await;
    let store = store(&stack);
    let key_id = stack
        .contact_data_key_id
        .clone()
        .expect("CONTACT_DATA_KEY_ID in the stack env");
    let sealer = Sealer::from_sdk(&stack.aws, key_id);
    let code = |c: &str| GatheringCode::parse(c).expect("code");

    let maple = store.by_code(&code("MAPLE5")).await.expect("by code").expect(
        "the seeded gathering MAPLE5: the stack seeds infra/local/seed/gatherings.json when target/debug/seed exists \
         (cargo build --workspace --bins)",
    );
    assert_eq!(
        maple
            .open_host_first_name(&sealer)
            .await
            .expect("KMS-sealed host name opens")
            .as_deref(),
        Some("Rosa")
    );
    assert!(maple.starts_at > now());
    let cedar = store
        .by_code(&code("CEDAR3"))
        .await
        .expect("by code")
        .expect("CEDAR3");
    assert_eq!(
        cedar
            .open_address(&sealer, cedar.starts_at - Duration::hours(1))
            .await
            .expect("open")
            .as_deref(),
        Some("1400 Example Court, Apt 2 (ring the bell)")
    );

    let dc = Zip::parse("20001").expect("zip").centroid();
    let found = store
        .upcoming_near(dc, SearchRadius::miles(50.0).expect("radius"), now(), 20)
        .await
        .expect("search");
    let codes: Vec<&str> = found
        .iter()
        .map(|n| n.gathering.code.as_str())
        .filter(|c| !c.starts_with('T'))
        .collect();
    assert_eq!(
        codes,
        ["MAPLE5", "CEDAR3", "HARBOR7"],
        "DRAFT8 is unlisted, MISSION4 and ALAMO6 are far away"
    );

    let join = store
        .keyword(&KeywordWord::parse("UNIRME").expect("word"))
        .await
        .expect("keyword")
        .expect("UNIRME");
    assert_eq!(
        (join.target, join.language),
        (KeywordTarget::Campaign, Language::Es)
    );
    let shaw = store
        .keyword(&KeywordWord::parse("SHAW").expect("word"))
        .await
        .expect("keyword")
        .expect("SHAW");
    assert_eq!(shaw.target, KeywordTarget::Gathering(maple.id.clone()));

    let seeded = |item: &rising_tests::Item| {
        s(item, "pk").is_some_and(|pk| {
            ["GATHERING#", "CODE#", "KEYWORD#"]
                .iter()
                .any(|p| pk.starts_with(p))
        })
    };
    for item in stack.scan_all().await.iter().filter(|i| seeded(i)) {
        let text = item_text(item);
        for secret in ["Rosa", "Malik", "Grace", "Tomás", "Example Court"] {
            assert!(!text.contains(secret), "{secret:?} is in clear in {text}");
        }
    }
}

/// `person`'s RSVP (going) to `g`.
async fn rsvp(store: &DynamoGatheringStore, sealer: &Sealer, g: &Gathering, person: &ContactHash) {
    let name = sealer
        .seal(&field_context(person, "first_name"), "Ana")
        .await
        .expect("seal");
    let rsvp = NewRsvp {
        gathering: &g.id,
        contact: person,
        source: RsvpSource::Form,
        language: Language::En,
        first_name: &name,
        referral: None,
    };
    assert_eq!(
        store.rsvp(rsvp, now()).await.expect("rsvp"),
        RsvpOutcome::Created
    );
}

/// The gathering's own item (`GATHERING#<id>` / `GATHERING`) and its wide-search pointer (`GEO2`).
async fn gathering_items(
    stack: &Stack,
    id: &GatheringId,
) -> (rising_tests::Item, rising_tests::Item) {
    let items = stack.query_pk(&format!("GATHERING#{id}")).await;
    let find = |sk: &str| {
        items
            .iter()
            .find(|i| s(i, "sk") == Some(sk))
            .cloned()
            .unwrap_or_else(|| panic!("no {sk} item"))
    };
    (find("GATHERING"), find("GEO2"))
}

#[tokio::test]
async fn a_hosts_gatherings_are_listed_soonest_first_with_what_the_host_wrote() {
    let stack = spawn_app().await;
    let (store, sealer) = (store(&stack), Sealer::in_memory());
    let (rosa, malik) = (host(), host());
    let mut later = gathering(
        &sealer,
        Spec {
            starts_in: Duration::days(9),
            host_hash: Some(rosa.clone()),
            ..Spec::at(random_origin())
        },
    )
    .await;
    later.description = "Bring a dish.\n\nKids welcome.".into();
    later.accessibility = "Step-free entrance on Elm St.".into();
    let sooner = gathering(
        &sealer,
        Spec {
            starts_in: Duration::days(2),
            listed: false,
            host_hash: Some(rosa.clone()),
            ..Spec::at(random_origin())
        },
    )
    .await;
    let theirs = gathering(
        &sealer,
        Spec {
            host_hash: Some(malik.clone()),
            ..Spec::at(random_origin())
        },
    )
    .await;
    let organizers = gathering(&sealer, Spec::at(random_origin())).await;
    put_all(&store, &[&later, &sooner, &theirs, &organizers]).await;

    assert_eq!(
        store.hosted_by(&rosa).await.expect("hosted by"),
        [sooner.clone(), later.clone()]
    );
    assert_eq!(store.hosted_by(&malik).await.expect("hosted by"), [theirs]);
    assert!(
        store
            .hosted_by(&host())
            .await
            .expect("hosted by")
            .is_empty()
    );

    let pointers = stack.query_pk(&format!("HOST#{}", rosa.as_str())).await;
    assert_eq!(pointers.len(), 2);
    let pointer = pointers
        .iter()
        .find(|p| s(p, "sk") == Some(&format!("GATHERING#{}", later.id)))
        .expect("the host pointer of the later one");
    assert_eq!(s(pointer, "entity"), Some("host_gathering"));
    assert_eq!(s(pointer, "gathering_id"), Some(later.id.as_str()));
    let (item, _) = gathering_items(&stack, &later.id).await;
    assert_eq!(s(&item, "host_hash"), Some(rosa.as_str()));
    assert_eq!(s(pointer, "starts_at"), s(&item, "starts_at"));
    let (organizers_item, _) = gathering_items(&stack, &organizers.id).await;
    for name in ["host_hash", "description", "accessibility"] {
        assert!(
            !organizers_item.contains_key(name),
            "{name} is stored empty"
        );
    }
}

#[tokio::test]
async fn an_update_changes_the_fields_and_the_search_index_and_keeps_the_places() {
    let stack = spawn_app().await;
    let (store, sealer) = (store(&stack), Sealer::in_memory());
    let rosa = host();
    let origin = random_origin();
    let g = gathering(
        &sealer,
        Spec {
            capacity: Some(10),
            host_hash: Some(rosa.clone()),
            ..Spec::at(destination(origin, 1.0, 0.0))
        },
    )
    .await;
    put_all(&store, &[&g]).await;
    rsvp(&store, &sealer, &g, &contact()).await;
    let near = || async {
        let found = store
            .upcoming_near(origin, SearchRadius::km(30.0).expect("radius"), now(), 50)
            .await
            .expect("search");
        let wide = store
            .upcoming_near(origin, SearchRadius::km(400.0).expect("radius"), now(), 500)
            .await
            .expect("wide search");
        (own_ids(&found, &[&g]), own_ids(&wide, &[&g]))
    };
    assert_eq!(near().await, (vec![g.id.clone()], vec![g.id.clone()]));

    let mut moved = g.clone();
    moved.title = GatheringTitle::parse("Integration picnic").expect("title");
    moved.description = "In the park this time.".into();
    moved.accessibility = "Paved paths; parking by the gate.".into();
    moved.location = destination(origin, 20.0, 90.0);
    moved.capacity = None;
    moved.address = Address::Public("Park pavilion".into());
    moved.code = unique_code();
    assert_eq!(
        store.update(&moved, now()).await.expect("update"),
        UpdateGathering::Updated
    );
    let stored = store.get(&g.id).await.expect("get").expect("found");
    assert_eq!(
        stored,
        Gathering {
            code: g.code.clone(),
            ..moved.clone()
        },
        "everything but the code changed"
    );
    assert_eq!(
        store.by_code(&g.code).await.expect("by code").map(|g| g.id),
        Some(g.id.clone())
    );
    let (item, geo2) = gathering_items(&stack, &g.id).await;
    assert_eq!(
        item.get("going_count")
            .and_then(|v| v.as_n().ok())
            .map(String::as_str),
        Some("1"),
        "the places taken are kept"
    );
    assert!(!item.contains_key("capacity"), "the capacity was lifted");
    assert!(s(&item, "updated_at").is_some());
    assert_eq!(
        geo2.get("lon")
            .and_then(|v| v.as_n().ok())
            .map(|n| n.parse::<f64>().expect("lon")),
        Some(moved.location.lon())
    );
    assert_eq!(near().await, (vec![g.id.clone()], vec![g.id.clone()]));

    let mut hidden = moved.clone();
    hidden.listed = false;
    assert_eq!(
        store.update(&hidden, now()).await.expect("update"),
        UpdateGathering::Updated
    );
    assert_eq!(
        near().await,
        (vec![g.id.clone()], vec![g.id.clone()]),
        "the listing stays as stored: only an organizer's review changes it"
    );
    let (item, geo2) = gathering_items(&stack, &g.id).await;
    for (what, i) in [("gathering", &item), ("GEO2 pointer", &geo2)] {
        assert!(
            i.contains_key("gsi1pk") && i.contains_key("gsi1sk"),
            "the {what} lost its index keys"
        );
    }
    assert_eq!(
        store.hosted_by(&rosa).await.expect("hosted by"),
        [Gathering {
            code: g.code.clone(),
            ..moved.clone()
        }]
    );
}

#[tokio::test]
async fn an_update_by_another_host_changes_nothing() {
    let stack = spawn_app().await;
    let (store, sealer) = (store(&stack), Sealer::in_memory());
    let g = gathering(
        &sealer,
        Spec {
            host_hash: Some(host()),
            ..Spec::at(random_origin())
        },
    )
    .await;
    let organizers = gathering(&sealer, Spec::at(random_origin())).await;
    put_all(&store, &[&g, &organizers]).await;
    let before = (
        gathering_items(&stack, &g.id).await,
        gathering_items(&stack, &organizers.id).await,
    );

    let intruder = host();
    for (target, claimed) in [
        (&g, Some(intruder.clone())),
        (&g, None),
        (&organizers, Some(intruder.clone())),
    ] {
        let mut edited = target.clone();
        edited.host = claimed;
        edited.title = GatheringTitle::parse("Taken over").expect("title");
        edited.listed = false;
        assert_eq!(
            store.update(&edited, now()).await.expect("update"),
            UpdateGathering::NotFound
        );
    }

    let after = (
        gathering_items(&stack, &g.id).await,
        gathering_items(&stack, &organizers.id).await,
    );
    assert_eq!(before, after, "nothing changed");
    assert!(
        stack
            .query_pk(&format!("HOST#{}", intruder.as_str()))
            .await
            .is_empty(),
        "the intruder got a pointer"
    );
}

#[tokio::test]
async fn an_update_of_a_missing_gathering_writes_nothing() {
    let stack = spawn_app().await;
    let (store, sealer) = (store(&stack), Sealer::in_memory());
    let rosa = host();
    let g = gathering(
        &sealer,
        Spec {
            host_hash: Some(rosa.clone()),
            ..Spec::at(random_origin())
        },
    )
    .await;
    assert_eq!(
        store.update(&g, now()).await.expect("update"),
        UpdateGathering::NotFound
    );
    assert!(
        stack
            .query_pk(&format!("GATHERING#{}", g.id))
            .await
            .is_empty()
    );
    assert!(
        stack
            .query_pk(&format!("HOST#{}", rosa.as_str()))
            .await
            .is_empty()
    );
    assert!(store.hosted_by(&rosa).await.expect("hosted by").is_empty());
}

#[tokio::test]
async fn a_new_start_time_moves_the_rsvps_and_the_hosts_list() {
    let stack = spawn_app().await;
    let (store, sealer) = (store(&stack), Sealer::in_memory());
    let rosa = host();
    let moving = gathering(
        &sealer,
        Spec {
            starts_in: Duration::days(2),
            host_hash: Some(rosa.clone()),
            ..Spec::at(random_origin())
        },
    )
    .await;
    let staying = gathering(
        &sealer,
        Spec {
            starts_in: Duration::days(5),
            host_hash: Some(rosa.clone()),
            ..Spec::at(random_origin())
        },
    )
    .await;
    put_all(&store, &[&moving, &staying]).await;
    let (ana, ben) = (contact(), contact());
    for g in [&moving, &staying] {
        rsvp(&store, &sealer, g, &ana).await;
    }
    rsvp(&store, &sealer, &moving, &ben).await;
    let order = |records: Vec<rising_core::store::RsvpRecord>| {
        records
            .into_iter()
            .map(|r| (r.gathering_id, r.starts_at))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        order(store.rsvps_of(&ana).await.expect("rsvps")),
        [
            (moving.id.clone(), moving.starts_at),
            (staying.id.clone(), staying.starts_at)
        ]
    );

    let mut moved = moving.clone();
    moved.starts_at = moving.starts_at + Duration::days(6);
    moved.ends_at = moved.starts_at + Duration::hours(3);
    assert_eq!(
        store.update(&moved, now()).await.expect("update"),
        UpdateGathering::Updated
    );

    assert_eq!(
        order(store.rsvps_of(&ana).await.expect("rsvps")),
        [
            (staying.id.clone(), staying.starts_at),
            (moved.id.clone(), moved.starts_at)
        ]
    );
    assert_eq!(
        order(store.rsvps_of(&ben).await.expect("rsvps")),
        [(moved.id.clone(), moved.starts_at)]
    );
    assert!(
        store
            .rsvps_for(&moved.id)
            .await
            .expect("rsvps")
            .iter()
            .all(|r| r.starts_at == moved.starts_at)
    );
    assert_eq!(
        store.hosted_by(&rosa).await.expect("hosted by"),
        [staying.clone(), moved.clone()]
    );
    let pointers = stack.query_pk(&format!("HOST#{}", rosa.as_str())).await;
    let (item, geo2) = gathering_items(&stack, &moved.id).await;
    let pointer = pointers
        .iter()
        .find(|p| s(p, "gathering_id") == Some(moved.id.as_str()))
        .expect("pointer");
    assert_eq!(s(pointer, "starts_at"), s(&item, "starts_at"));
    assert_eq!(s(&geo2, "starts_at"), s(&item, "starts_at"));
    assert!(
        s(&item, "gsi1sk").is_some_and(|k| k.starts_with(s(&item, "starts_at").unwrap_or("-"))),
        "the search order follows the new start"
    );
}

// ---------------------------------------------------------------------------------------------------------
// The review queue (GATHERING_APPROVAL=required) and the organizers' keywords

/// A host's gathering made while organizers approve new ones: unlisted, waiting.
async fn waiting(sealer: &Sealer, at: GeoPoint) -> Gathering {
    gathering(
        sealer,
        Spec {
            listed: false,
            host_hash: Some(host()),
            ..Spec::at(at)
        },
    )
    .await
}

/// The ids of the queue (read far enough to hold every test's) that are among `mine`, in order.
async fn queued(store: &DynamoGatheringStore, mine: &[&Gathering]) -> Vec<GatheringId> {
    store
        .awaiting_review(10_000)
        .await
        .expect("queue")
        .into_iter()
        .filter(|g| mine.iter().any(|m| m.id == g.id))
        .map(|g| g.id)
        .collect()
}

/// The ids among `mine` found by a fine (30 km) and a wide (400 km) search from `origin`.
async fn found_near(
    store: &DynamoGatheringStore,
    origin: GeoPoint,
    mine: &[&Gathering],
) -> (Vec<GatheringId>, Vec<GatheringId>) {
    let fine = store
        .upcoming_near(origin, SearchRadius::km(30.0).expect("radius"), now(), 50)
        .await
        .expect("search");
    let wide = store
        .upcoming_near(origin, SearchRadius::km(400.0).expect("radius"), now(), 500)
        .await
        .expect("wide search");
    (own_ids(&fine, mine), own_ids(&wide, mine))
}

#[tokio::test]
async fn a_hosts_waiting_gathering_is_in_the_review_queue_oldest_first_and_not_in_searches() {
    let stack = spawn_app().await;
    let (store, sealer) = (store(&stack), Sealer::in_memory());
    let origin = random_origin();
    let older = waiting(&sealer, destination(origin, 1.0, 0.0)).await;
    let newer = waiting(&sealer, destination(origin, 2.0, 90.0)).await;
    let organizers_private = gathering(
        &sealer,
        Spec {
            listed: false,
            ..Spec::at(destination(origin, 3.0, 180.0))
        },
    )
    .await;
    for (g, at) in [
        (&newer, now()),
        (&older, now() - Duration::minutes(5)),
        (&organizers_private, now() - Duration::minutes(9)),
    ] {
        assert_eq!(store.put(g, at).await.expect("put"), PutGathering::Created);
    }
    let mine = [&older, &newer, &organizers_private];

    assert_eq!(
        queued(&store, &mine).await,
        [older.id.clone(), newer.id.clone()],
        "oldest first; an organizer's unlisted gathering never waits"
    );
    assert_eq!(found_near(&store, origin, &mine).await, (vec![], vec![]));
    let pointer = stack
        .query_pk(&format!("GATHERING#{}", older.id))
        .await
        .into_iter()
        .find(|i| s(i, "sk") == Some("REVIEW"))
        .expect("the review pointer");
    assert_eq!(s(&pointer, "gsi1pk"), Some("REVIEW"));
    assert_eq!(s(&pointer, "gathering_id"), Some(older.id.as_str()));
    assert!(
        stack
            .query_pk(&format!("GATHERING#{}", organizers_private.id))
            .await
            .iter()
            .all(|i| s(i, "sk") != Some("REVIEW"))
    );
    let first = store.awaiting_review(1).await.expect("queue");
    assert_eq!(first.len(), 1);
    assert!(store.awaiting_review(0).await.expect("queue").is_empty());
}

#[tokio::test]
async fn approving_lists_a_gathering_and_takes_it_out_of_the_queue_once() {
    let stack = spawn_app().await;
    let (store, sealer) = (store(&stack), Sealer::in_memory());
    let origin = random_origin();
    let g = waiting(&sealer, destination(origin, 1.0, 45.0)).await;
    put_all(&store, &[&g]).await;

    assert_eq!(
        store
            .review(&g.id, ReviewDecision::Approve, now())
            .await
            .expect("review"),
        Reviewed::Approved
    );
    assert_eq!(
        found_near(&store, origin, &[&g]).await,
        (vec![g.id.clone()], vec![g.id.clone()]),
        "found by the fine and the wide search"
    );
    assert!(queued(&store, &[&g]).await.is_empty());
    let stored = store.get(&g.id).await.expect("get").expect("found");
    assert_eq!(
        stored,
        Gathering {
            listed: true,
            ..g.clone()
        }
    );
    assert!(
        stack
            .query_pk(&format!("GATHERING#{}", g.id))
            .await
            .iter()
            .all(|i| s(i, "sk") != Some("REVIEW")),
        "the pointer is gone"
    );

    for decision in [ReviewDecision::Approve, ReviewDecision::Decline] {
        assert_eq!(
            store.review(&g.id, decision, now()).await.expect("review"),
            Reviewed::NotAwaiting,
            "a second review writes nothing"
        );
    }
    assert_eq!(store.get(&g.id).await.expect("get"), Some(stored));
    assert_eq!(
        store
            .review(&GatheringId::random(), ReviewDecision::Approve, now())
            .await
            .expect("review"),
        Reviewed::NotAwaiting
    );
}

#[tokio::test]
async fn declining_keeps_a_gathering_unlisted_and_out_of_the_queue_and_it_reads_back_declined() {
    let stack = spawn_app().await;
    let (store, sealer) = (store(&stack), Sealer::in_memory());
    let origin = random_origin();
    let g = waiting(&sealer, destination(origin, 1.0, 45.0)).await;
    put_all(&store, &[&g]).await;
    let at = OffsetDateTime::from_unix_timestamp(now().unix_timestamp()).expect("time");

    assert_eq!(
        store
            .review(&g.id, ReviewDecision::Decline, at)
            .await
            .expect("review"),
        Reviewed::Declined
    );
    let stored = store.get(&g.id).await.expect("get").expect("found");
    assert_eq!((stored.listed, stored.declined_at), (false, Some(at)));
    assert!(!stored.awaiting_review());
    assert!(queued(&store, &[&g]).await.is_empty());
    assert_eq!(found_near(&store, origin, &[&g]).await, (vec![], vec![]));
    assert_eq!(
        store
            .review(&g.id, ReviewDecision::Approve, now())
            .await
            .expect("review"),
        Reviewed::NotAwaiting,
        "a late approval does not list a declined gathering"
    );
    assert!(!store.get(&g.id).await.expect("get").expect("found").listed);
}

#[tokio::test]
async fn an_update_by_the_host_keeps_a_waiting_gathering_waiting_and_approval_lists_it_where_it_moved()
 {
    let stack = spawn_app().await;
    let (store, sealer) = (store(&stack), Sealer::in_memory());
    let origin = random_origin();
    let g = waiting(&sealer, destination(origin, 150.0, 0.0)).await;
    put_all(&store, &[&g]).await;
    let pointer_before = stack.query_pk(&format!("GATHERING#{}", g.id)).await;

    let mut edited = g.clone();
    edited.title = GatheringTitle::parse("Integration picnic").expect("title");
    edited.location = destination(origin, 1.0, 0.0);
    edited.listed = true;
    assert_eq!(
        store.update(&edited, now()).await.expect("update"),
        UpdateGathering::Updated
    );
    let stored = store.get(&g.id).await.expect("get").expect("found");
    assert_eq!(stored.title.as_str(), "Integration picnic");
    assert!(
        !stored.listed && stored.awaiting_review(),
        "a host cannot list it"
    );
    assert_eq!(queued(&store, &[&g]).await, [g.id.clone()]);
    assert_eq!(found_near(&store, origin, &[&g]).await, (vec![], vec![]));
    let review_item = |items: &[rising_tests::Item]| {
        items
            .iter()
            .find(|i| s(i, "sk") == Some("REVIEW"))
            .cloned()
            .expect("the review pointer")
    };
    assert_eq!(
        review_item(&stack.query_pk(&format!("GATHERING#{}", g.id)).await),
        review_item(&pointer_before),
        "the pointer is untouched"
    );

    assert_eq!(
        store
            .review(&g.id, ReviewDecision::Approve, now())
            .await
            .expect("review"),
        Reviewed::Approved
    );
    assert_eq!(
        found_near(&store, origin, &[&g]).await,
        (vec![g.id.clone()], vec![g.id.clone()]),
        "listed where the host moved it"
    );
}

#[tokio::test]
async fn keywords_lists_configured_keywords_alphabetically_but_never_gathering_codes() {
    let stack = spawn_app().await;
    let (store, sealer) = (store(&stack), Sealer::in_memory());
    let g = gathering(&sealer, Spec::at(random_origin())).await;
    put_all(&store, &[&g]).await;
    let mut words: Vec<KeywordWord> = (0..3)
        .map(|_| KeywordWord::parse(unique_code().as_str()).expect("word"))
        .collect();
    let configured: Vec<CampaignKeyword> = words
        .iter()
        .enumerate()
        .map(|(i, word)| CampaignKeyword {
            word: word.clone(),
            target: if i == 0 {
                KeywordTarget::Gathering(g.id.clone())
            } else {
                KeywordTarget::Campaign
            },
            language: Language::Es,
        })
        .collect();
    for keyword in configured.iter().rev() {
        assert_eq!(
            store.put_keyword(keyword, now()).await.expect("keyword"),
            PutKeyword::Created
        );
    }
    let code = KeywordWord::parse(g.code.as_str()).expect("word");

    let listed = store.keywords().await.expect("keywords");
    assert!(
        listed
            .windows(2)
            .all(|w| w[0].word.as_str() <= w[1].word.as_str()),
        "alphabetical"
    );
    assert!(!listed.iter().any(|k| k.word == code), "a code is listed");
    let mine: Vec<&CampaignKeyword> = listed.iter().filter(|k| words.contains(&k.word)).collect();
    words.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(
        mine.iter().map(|k| k.word.clone()).collect::<Vec<_>>(),
        words
    );
    for keyword in &configured {
        assert!(mine.contains(&keyword), "{} as put", keyword.word);
    }
}

#[tokio::test]
async fn remove_keyword_removes_a_keyword_and_never_a_gathering_code() {
    let stack = spawn_app().await;
    let (store, sealer) = (store(&stack), Sealer::in_memory());
    let g = gathering(&sealer, Spec::at(random_origin())).await;
    put_all(&store, &[&g]).await;
    let keyword = CampaignKeyword {
        word: KeywordWord::parse(unique_code().as_str()).expect("word"),
        target: KeywordTarget::Campaign,
        language: Language::En,
    };
    store.put_keyword(&keyword, now()).await.expect("keyword");

    assert_eq!(
        store.remove_keyword(&keyword.word).await.expect("remove"),
        RemovedKeyword::Removed
    );
    assert_eq!(
        store.remove_keyword(&keyword.word).await.expect("remove"),
        RemovedKeyword::NoSuchKeyword
    );
    assert_eq!(store.keyword(&keyword.word).await.expect("keyword"), None);
    assert!(
        !store
            .keywords()
            .await
            .expect("keywords")
            .iter()
            .any(|k| k.word == keyword.word)
    );
    assert!(
        stack
            .query_pk(&format!("KEYWORD#{}", keyword.word))
            .await
            .is_empty()
    );

    let code = KeywordWord::parse(g.code.as_str()).expect("word");
    assert_eq!(
        store.remove_keyword(&code).await.expect("remove"),
        RemovedKeyword::NoSuchKeyword
    );
    assert_eq!(
        store.by_code(&g.code).await.expect("by code").map(|g| g.id),
        Some(g.id.clone())
    );
    assert_eq!(
        store
            .put_keyword(
                &CampaignKeyword {
                    word: code,
                    target: KeywordTarget::Campaign,
                    language: Language::En,
                },
                now()
            )
            .await
            .expect("keyword"),
        PutKeyword::TakenByGatheringCode,
        "the code still holds its word"
    );
    assert_eq!(
        store.put_keyword(&keyword, now()).await.expect("keyword"),
        PutKeyword::Created,
        "a removed keyword can be configured again"
    );
}

#[tokio::test]
async fn the_campaign_rules_an_organizer_sets_are_read_back_until_removed() {
    let stack = spawn_app().await;
    let store = store(&stack);
    let organizer = host();
    // One item for the whole campaign: set, read and removed at once, so that the host function's
    // tests (in other binaries, run after this one) meet the deployed rules.
    let rules = CampaignRules {
        approval_required: false,
        invite_quota: 7,
        invite_window_days: 45,
        phone_countries: vec!["US".into(), "PR".into()],
        sending_hours: SendingHours::new(9, 20).expect("hours"),
    };
    store
        .put_campaign_rules(&rules, &organizer, now())
        .await
        .expect("put");
    let read = store.campaign_rules().await;
    // The send worker reads them with its batch's gate lookups (an empty batch: the rules alone).
    let outbox = stack.outbox();
    let (loaded, with_batch) = outbox
        .load_for_sending(&[], now())
        .await
        .expect("load for sending");
    let item = stack
        .dynamodb
        .get_item()
        .table_name(&stack.table_name)
        .key("pk", AttributeValue::S("SETTINGS".into()))
        .key("sk", AttributeValue::S("CAMPAIGN".into()))
        .send()
        .await
        .expect("get")
        .item
        .expect("the item");
    store.reset_campaign_rules().await.expect("reset");
    assert_eq!(read.expect("read"), Some(rules.clone()));
    assert!(loaded.is_empty());
    assert_eq!(with_batch, Some(rules));
    assert_eq!(s(&item, "entity"), Some("campaign_rules"));
    assert_eq!(s(&item, "updated_by"), Some(organizer.as_str()));
    assert_eq!(store.campaign_rules().await.expect("read"), None);
    // Removing rules that are not there is no error (a second click on "go back").
    store.reset_campaign_rules().await.expect("reset again");
}

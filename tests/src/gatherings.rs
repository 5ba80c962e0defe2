//! Gatherings written through rising-core's own store, as a host's would be.

use rising_core::domain::{
    AddressDraft, FirstName, Gathering, GatheringCode, GatheringDraft, GatheringId, GatheringTitle,
    Language, Zip,
};
use rising_core::store::{DynamoGatheringStore, GatheringStore};
use time::OffsetDateTime;

use crate::Stack;

/// The stack's gathering store.
pub fn store(app: &Stack) -> DynamoGatheringStore {
    DynamoGatheringStore::new(app.dynamodb.clone(), app.table_name.clone())
}

/// A listed gathering at a public library in `zip`, starting in `days`, with room for `capacity`.
pub async fn listed(
    app: &Stack,
    title: &str,
    zip: &str,
    days: i64,
    capacity: Option<u32>,
) -> Gathering {
    let starts_at = OffsetDateTime::now_utc() + time::Duration::days(days);
    let mut draft = draft(
        title,
        zip,
        starts_at,
        AddressDraft::Public("Public Library".into()),
    );
    draft.capacity = capacity;
    stored(app, draft).await
}

/// A gathering at a private home in `zip` (its address told from the day before), starting at
/// `starts_at` for two hours, with step-free access.
pub async fn private_home(
    app: &Stack,
    title: &str,
    zip: &str,
    starts_at: OffsetDateTime,
) -> Gathering {
    let mut draft = draft(
        title,
        zip,
        starts_at,
        AddressDraft::Private("12 Maple Street".into()),
    );
    draft.accessibility = "Step-free entrance".into();
    stored(app, draft).await
}

/// A listed two-hour gathering hosted by Dana, in English, without a host account.
fn draft(
    title: &str,
    zip: &str,
    starts_at: OffsetDateTime,
    address: AddressDraft,
) -> GatheringDraft {
    GatheringDraft {
        code: GatheringCode::parse("T00000000").expect("a valid code"),
        title: GatheringTitle::parse(title).expect("a valid title"),
        starts_at,
        ends_at: starts_at + time::Duration::hours(2),
        zip: Zip::parse(zip).expect("a known ZIP"),
        timezone: None,
        town: None,
        location: None,
        address,
        host_first_name: FirstName::parse("Dana").expect("a name"),
        capacity: None,
        language: Language::En,
        listed: true,
        host: None,
        description: String::new(),
        accessibility: String::new(),
    }
}

/// Seals and stores `draft` under a new id, with a code made from it.
async fn stored(app: &Stack, mut draft: GatheringDraft) -> Gathering {
    let id = GatheringId::random();
    draft.code = GatheringCode::parse(&format!("T{}", &id.as_str()[..8].to_uppercase()))
        .expect("a valid code");
    let gathering = draft.seal(id, &app.sealer()).await.expect("sealed");
    store(app)
        .put(&gathering, OffsetDateTime::now_utc())
        .await
        .expect("stored");
    gathering
}

//! Storage behind small port traits: a DynamoDB adapter for production and the local stack, and an
//! in-memory adapter for unit tests of the use cases.
//!
//! One table, opaque keys (see template.yaml for the schema; there is no other copy of it):
//!
//! | item | pk | sk | notes |
//! |---|---|---|---|
//! | contact | `CONTACT#<keyed hash>` | `CONTACT` | SMS status, join source, person id; no phone in clear |
//! | consent evidence | `CONTACT#<keyed hash>` | `CONSENT#<RFC 3339 time>#<MessageSid>` | what was agreed, when, how |
//! | inbound message processed | `INBOUND#<MessageSid>` | `INBOUND` | the reply given; TTL `expires_at` |

mod dynamo;
mod memory;

pub use dynamo::DynamoInboundStore;
pub use memory::MemoryInboundStore;

use std::future::Future;
use time::OffsetDateTime;

use crate::domain::MessageSid;
use crate::privacy::ContactHash;

/// How long the reply to a processed inbound message is kept to answer Twilio's retries identically.
pub const INBOUND_IDEMPOTENCY_TTL: time::Duration = time::Duration::days(7);

/// What an inbound message changes for its sender's contact record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactEffect {
    /// The sender opted in to texts by keyword. `wording` is what they were told they agreed to.
    OptIn { contact: ContactHash, keyword: String, wording: String },
    /// The sender opted out of all texts.
    OptOut { contact: ContactHash, keyword: String },
    /// Nothing changes; only the reply is remembered.
    Nothing,
}

/// The outcome of applying an inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// First delivery: the effect and the reply were stored together.
    Stored,
    /// This MessageSid was processed before; here is the reply given then. Nothing was written.
    AlreadyProcessed { reply: String },
}

/// A storage failure, without personal data.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB {operation} failed: {source}")]
    Dynamo {
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("a stored item has an unexpected shape: {0}")]
    Corrupt(String),
}

/// Port used by the inbound SMS path.
pub trait InboundStore: Send + Sync {
    /// The reply already given to this MessageSid, if it was processed and the record has not expired.
    fn processed_reply(
        &self,
        sid: &MessageSid,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Atomically records that `sid` was processed with `reply` and applies `effect`; a second call
    /// with the same `sid` writes nothing and returns the first reply.
    fn apply(
        &self,
        sid: &MessageSid,
        effect: &ContactEffect,
        reply: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Applied, StoreError>> + Send;
}

/// Formats times stored in items and sort keys: RFC 3339 UTC with fixed millisecond precision, so
/// lexical order is time order.
pub(crate) fn timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_sort_lexically_in_time_order() {
        let a = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let b = a + time::Duration::milliseconds(1);
        assert_eq!(timestamp(a), "2023-11-14T22:13:20.000Z");
        assert!(timestamp(a) < timestamp(b));
    }
}

//! Forget a person on request: the one erasure every path uses (a `DELETE` text now; an email link or
//! an organizer's tool later).
//!
//! What goes: contact details and names (sealed or not), the conversation, every RSVP (a `going` one
//! gives its place back, as a cancellation does), unsent outbound messages, the daily-reply marker,
//! and the replies kept for the person's inbound messages (blanked, so a late retry of one is still
//! recognised and answered with nothing). What stays, with nothing that identifies them without the
//! contact hash key: the contact item as a suppression (`sms_status` `opted_out`, `suppressed` for
//! every channel, `erased_at`) so they are never contacted again, and the consent/opt-out evidence
//! the law requires, plus the evidence of this erasure (`action` `erase`).
//!
//! **Afterwards.** A later opt-in by the person's own text (a campaign keyword, a gathering's code,
//! START) is an explicit new consent: it starts fresh (new consent record, new conversation, new
//! person id) and lifts the SMS suppression. Host invitations respect `suppressed` until then, and
//! other channels stay suppressed until the person opts in on them.

use time::OffsetDateTime;

use crate::privacy::ContactHash;
use crate::store::{Erased, Erasure, ErasureEvidence, ErasureStore, StoreError};

/// Erases `contact` for a request that did not come as an inbound text (nothing to answer).
pub async fn erase_contact<S, G>(
    store: &S,
    gatherings: &G,
    contact: &ContactHash,
    evidence: ErasureEvidence<'_>,
    now: OffsetDateTime,
) -> Result<Erased, StoreError>
where
    S: ErasureStore<G>,
    G: Sync,
{
    let erasure = Erasure {
        contact,
        evidence,
        inbound: None,
    };
    erase(store, gatherings, &erasure, now).await
}

/// Erases as `erasure` says; with an inbound message, its reply is recorded by the last write and a
/// retry of the message writes nothing and gets the same reply.
pub async fn erase<S, G>(
    store: &S,
    gatherings: &G,
    erasure: &Erasure<'_>,
    now: OffsetDateTime,
) -> Result<Erased, StoreError>
where
    S: ErasureStore<G>,
    G: Sync,
{
    let erased = store.erase_contact(gatherings, erasure, now).await?;
    match &erased {
        Erased::Done {
            rsvps,
            items,
            transactions,
        } => tracing::info!(
            outcome = "erased",
            source = erasure.evidence.source,
            rsvps,
            items,
            transactions,
            "contact erased on request"
        ),
        Erased::AlreadyProcessed { .. } => tracing::info!(
            outcome = "duplicate",
            source = erasure.evidence.source,
            "erasure already done for this message"
        ),
    }
    Ok(erased)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Language, PhoneNumber};
    use crate::privacy::ContactHasher;
    use crate::store::{MemoryGatheringStore, MemoryInboundStore};

    #[tokio::test]
    async fn another_path_can_erase_a_contact_without_an_inbound_message() {
        let (store, gatherings) = (MemoryInboundStore::default(), MemoryGatheringStore::new());
        let contact = ContactHasher::from_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
            .unwrap()
            .phone(&PhoneNumber::parse("+12025550177").unwrap());
        let evidence = ErasureEvidence {
            reference: "organizer-request-1",
            source: "organizer",
            keyword: None,
            wording: None,
            language: Language::En,
        };
        let erased = erase_contact(
            &store,
            &gatherings,
            &contact,
            evidence,
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
        assert!(matches!(erased, Erased::Done { rsvps: 0, .. }));
        let stored = store.contact(contact.as_str()).unwrap();
        assert!(stored.erased);
        assert_eq!(stored.consents, ["erase::organizer"]);
    }
}

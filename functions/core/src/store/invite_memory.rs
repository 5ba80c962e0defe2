//! In-memory adapter of [`InviteStore`] for unit tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use time::OffsetDateTime;

use super::StoreError;
use super::invite::{Invite, InviteBatch, InviteStore};
use crate::domain::GatheringId;

#[derive(Debug, Default)]
struct State {
    invites: HashMap<String, Invite>,
    batches: Vec<InviteBatch>,
}

#[derive(Debug, Clone, Default)]
pub struct MemoryInviteStore {
    state: Arc<Mutex<State>>,
}

impl MemoryInviteStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every invite stored, for tests.
    pub fn all(&self) -> Vec<Invite> {
        self.lock().invites.values().cloned().collect()
    }
}

impl InviteStore for MemoryInviteStore {
    async fn put_invites(&self, batch: &InviteBatch, invites: &[Invite]) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.batches.push(batch.clone());
        for invite in invites {
            state.invites.insert(invite.code.clone(), invite.clone());
        }
        Ok(())
    }

    async fn invites(
        &self,
        codes: &[String],
        now: OffsetDateTime,
    ) -> Result<Vec<Invite>, StoreError> {
        let state = self.lock();
        Ok(codes
            .iter()
            .filter_map(|c| state.invites.get(c))
            .filter(|i| i.expires_at > now)
            .cloned()
            .collect())
    }

    async fn batches(
        &self,
        gathering: &GatheringId,
        now: OffsetDateTime,
    ) -> Result<Vec<InviteBatch>, StoreError> {
        let mut found: Vec<_> = self
            .lock()
            .batches
            .iter()
            .filter(|b| &b.gathering == gathering && b.expires_at > now)
            .cloned()
            .collect();
        found.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(found)
    }
}

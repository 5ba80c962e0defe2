//! In-memory counters, for unit tests of the publisher and of pages that show the overview.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use time::Date;

use super::{CampaignStats, Counts, Overview};
use crate::store::StoreError;

/// Days' counters; refuses every write while `refuse` is set, as an unreachable table does.
#[derive(Default)]
pub struct MemoryCampaignStats {
    pub days: Mutex<BTreeMap<Date, Counts>>,
    pub refuse: AtomicBool,
    /// Writes made, as (day, batch).
    pub writes: Mutex<Vec<(Date, String)>>,
}

impl CampaignStats for MemoryCampaignStats {
    async fn add(&self, day: Date, counts: &Counts, batch: &str) -> Result<(), StoreError> {
        if self.refuse.load(Ordering::SeqCst) {
            return Err(StoreError::Dynamo {
                operation: "UpdateItem",
                source: "the table is unreachable".into(),
            });
        }
        let mut writes = self.writes.lock().unwrap_or_else(|e| e.into_inner());
        if writes.iter().any(|(d, b)| *d == day && b == batch) {
            return Ok(());
        }
        writes.push((day, batch.to_owned()));
        self.days
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(day)
            .or_default()
            .add(counts);
        Ok(())
    }

    async fn overview(&self) -> Result<Overview, StoreError> {
        let days = self.days.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Ok(Overview::of_days(days))
    }
}

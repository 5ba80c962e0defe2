//! A send queue for unit tests: accepts everything and remembers what it was given.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{OutboundId, QueueError, QueuedMessage, SendQueue};

#[derive(Clone, Default)]
pub(crate) struct RecordingQueue {
    pub sent: Arc<Mutex<Vec<(QueuedMessage, Duration)>>>,
}

impl RecordingQueue {
    /// The messages enqueued so far, in order.
    pub fn messages(&self) -> Vec<QueuedMessage> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .map(|(m, _)| m.clone())
            .collect()
    }

    /// Their ids.
    pub fn ids(&self) -> Vec<OutboundId> {
        self.messages().into_iter().map(|m| m.id).collect()
    }
}

impl SendQueue for RecordingQueue {
    async fn send(&self, messages: &[(QueuedMessage, Duration)]) -> Result<Vec<bool>, QueueError> {
        self.sent.lock().unwrap().extend(messages.iter().cloned());
        Ok(vec![true; messages.len()])
    }
}

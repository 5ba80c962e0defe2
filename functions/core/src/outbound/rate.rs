//! Send rate limits. Each provider caps the account, not a process: Twilio queues (then fails) what
//! exceeds the sender's messages per second, and SES refuses what exceeds its maximum send rate. The
//! fleet is at most the event source's maximum concurrency of execution environments, so each one
//! takes an equal share: `fleet rate / max concurrency`. However many environments run, together they
//! stay under the limit, with no coordination between them.
//!
//! One [`RateLimiter`] per channel per execution environment (a `static` or a value built during init
//! and shared by reference), shared by every task in it.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Why a rate limiter cannot be built. These are configuration mistakes, found at init.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RateLimitError {
    #[error("the fleet send rate must be a positive number of messages per second, not {0}")]
    InvalidRate(f64),
    #[error("the maximum concurrency must be at least 1")]
    ZeroConcurrency,
    #[error("{fleet_rate_per_second}/s across {max_concurrency} workers is too slow to schedule")]
    TooSlow {
        fleet_rate_per_second: f64,
        max_concurrency: u32,
    },
}

/// Spaces sends at least `1 / per-worker rate` apart: a token bucket holding one token.
///
/// No burst on purpose: a bucket that fills while idle lets every worker fire its whole bucket at the
/// same moment (they all wake on the same batch of invites), and N workers × a burst of B is N·B
/// messages in an instant, over the provider's rate however small the per-worker rate. With one token,
/// no worker ever sends two messages closer than its interval, so the fleet never exceeds N / interval.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    per_worker_rate: f64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The earliest instant the next send may take.
    next_slot: Option<Instant>,
    /// No send before this instant (the provider said 429, Retry-After).
    paused_until: Option<Instant>,
}

impl RateLimiter {
    /// A limiter for this worker's share of `fleet_rate_per_second`, the provider's limit for the
    /// whole account, across `max_concurrency` workers (the event source mapping's maximum
    /// concurrency).
    pub fn new(fleet_rate_per_second: f64, max_concurrency: u32) -> Result<Self, RateLimitError> {
        if !(fleet_rate_per_second.is_finite() && fleet_rate_per_second > 0.0) {
            return Err(RateLimitError::InvalidRate(fleet_rate_per_second));
        }
        if max_concurrency == 0 {
            return Err(RateLimitError::ZeroConcurrency);
        }
        let per_worker_rate = fleet_rate_per_second / f64::from(max_concurrency);
        let interval = Duration::try_from_secs_f64(1.0 / per_worker_rate).map_err(|_| {
            RateLimitError::TooSlow {
                fleet_rate_per_second,
                max_concurrency,
            }
        })?;
        Ok(Self {
            interval,
            per_worker_rate,
            state: Mutex::new(State {
                next_slot: None,
                paused_until: None,
            }),
        })
    }

    /// Messages per second this worker may send.
    pub fn per_worker_rate(&self) -> f64 {
        self.per_worker_rate
    }

    /// The least time between two of this worker's sends.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Waits for this worker's next send slot. Concurrent callers get distinct slots, one interval
    /// apart, in the order they asked. A caller dropped while waiting forfeits its slot (the worker
    /// sends a little slower, never faster).
    pub async fn acquire(&self) {
        loop {
            let slot = {
                let mut state = self.lock();
                let slot = state.earliest(Instant::now());
                state.next_slot = Some(slot + self.interval);
                slot
            };
            tokio::time::sleep_until(slot).await;
            // A penalty that arrived while we waited covers slots already handed out: take a new one.
            let paused_until = self.lock().paused_until;
            if paused_until.is_none_or(|until| until <= slot) {
                return;
            }
        }
    }

    /// How many send slots begin within `budget` from now, counting the slots already handed out
    /// and any pause: what a worker can send before its batch's time runs out.
    pub fn slots_within(&self, budget: Duration) -> usize {
        let now = Instant::now();
        let first = self.lock().earliest(now);
        let end = now + budget;
        if first > end {
            return 0;
        }
        let after_first = (end - first).as_nanos() / self.interval.as_nanos().max(1);
        usize::try_from(after_first).map_or(usize::MAX, |n| n.saturating_add(1))
    }

    /// How long sends are still held back by the last [`RateLimiter::penalize`] (zero if not).
    pub fn pause_remaining(&self) -> Duration {
        self.lock()
            .paused_until
            .map(|until| until.saturating_duration_since(Instant::now()))
            .unwrap_or_default()
    }

    /// Holds every send back for `retry_after` from now, when the provider answers 429: all tasks in
    /// this worker slow down, including those already waiting for a slot.
    pub fn penalize(&self, retry_after: Duration) {
        let mut state = self.lock();
        let until = Instant::now() + retry_after;
        state.paused_until = state.paused_until.max(Some(until));
        state.next_slot = state.next_slot.max(Some(until));
    }

    /// The state is two instants, valid after any panic: a poisoned lock is used as is.
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// The earliest instant the next send may take: now, unless a slot handed out or a pause
    /// holds it later.
    fn earliest(&self, now: Instant) -> Instant {
        [Some(now), self.next_slot, self.paused_until]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(now)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ten_sends_at_five_per_second_across_two_workers_take_three_point_six_seconds() {
        let limiter = RateLimiter::new(5.0, 2).unwrap();
        let started = Instant::now();
        limiter.acquire().await;
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "the first send is immediate"
        );
        for _ in 1..10 {
            limiter.acquire().await;
        }
        assert_eq!(started.elapsed(), Duration::from_millis(3600));
    }

    #[test]
    fn the_fleet_rate_is_divided_across_the_maximum_concurrency() {
        let limiter = RateLimiter::new(100.0, 10).unwrap();
        assert_eq!(limiter.per_worker_rate(), 10.0);
        assert_eq!(limiter.interval(), Duration::from_millis(100));
        let alone = RateLimiter::new(14.0, 1).unwrap();
        assert_eq!(alone.per_worker_rate(), 14.0);
    }

    #[test]
    fn a_rate_that_cannot_be_met_is_refused() {
        assert_eq!(
            RateLimiter::new(0.0, 2).unwrap_err(),
            RateLimitError::InvalidRate(0.0)
        );
        assert!(RateLimiter::new(f64::NAN, 2).is_err());
        assert!(RateLimiter::new(-1.0, 2).is_err());
        assert!(RateLimiter::new(f64::INFINITY, 2).is_err());
        assert_eq!(
            RateLimiter::new(5.0, 0).unwrap_err(),
            RateLimitError::ZeroConcurrency
        );
        assert!(matches!(
            RateLimiter::new(f64::MIN_POSITIVE, 2),
            Err(RateLimitError::TooSlow { .. })
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn slots_within_counts_what_the_budget_allows_after_slots_handed_out_and_pauses() {
        // 5 per second for one worker: slots at 0, 200, 400 … ms.
        let limiter = RateLimiter::new(5.0, 1).unwrap();
        assert_eq!(limiter.slots_within(Duration::from_secs(18)), 91);
        assert_eq!(limiter.slots_within(Duration::ZERO), 1);
        limiter.acquire().await;
        limiter.acquire().await;
        // The next slot is 200 ms away: 400 ms hold it and the one after.
        assert_eq!(limiter.slots_within(Duration::from_millis(400)), 2);
        limiter.penalize(Duration::from_secs(2));
        assert_eq!(limiter.slots_within(Duration::from_secs(1)), 0);
        assert_eq!(limiter.slots_within(Duration::from_secs(3)), 6);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_limiter_does_not_save_up_a_burst() {
        let limiter = RateLimiter::new(2.0, 1).unwrap();
        limiter.acquire().await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        let started = Instant::now();
        limiter.acquire().await;
        limiter.acquire().await;
        assert_eq!(started.elapsed(), Duration::from_millis(500));
    }

    #[tokio::test(start_paused = true)]
    async fn penalize_delays_the_next_acquire() {
        let limiter = RateLimiter::new(5.0, 2).unwrap();
        let started = Instant::now();
        limiter.acquire().await;
        limiter.penalize(Duration::from_secs(5));
        limiter.acquire().await;
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        limiter.acquire().await;
        assert_eq!(started.elapsed(), Duration::from_millis(5400));
    }

    #[tokio::test(start_paused = true)]
    async fn penalize_also_holds_back_a_task_already_waiting_for_its_slot() {
        let limiter = Arc::new(RateLimiter::new(5.0, 2).unwrap());
        let started = Instant::now();
        limiter.acquire().await;
        let waiting = tokio::spawn({
            let limiter = Arc::clone(&limiter);
            async move {
                limiter.acquire().await;
                Instant::now()
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        limiter.penalize(Duration::from_secs(2));
        let sent_at = waiting.await.unwrap();
        assert_eq!(sent_at - started, Duration::from_millis(2100));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_acquirers_never_get_two_slots_closer_than_the_interval() {
        let limiter = Arc::new(RateLimiter::new(50.0, 4).unwrap());
        let interval = limiter.interval();
        let started = Instant::now();
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let limiter = Arc::clone(&limiter);
                tokio::spawn(async move {
                    if i == 20 {
                        limiter.penalize(Duration::from_millis(250));
                    }
                    limiter.acquire().await;
                    Instant::now()
                })
            })
            .collect();
        let mut sent: Vec<Instant> = Vec::new();
        for task in tasks {
            sent.push(task.await.unwrap());
        }
        sent.sort();
        for pair in sent.windows(2) {
            assert!(pair[1] - pair[0] >= interval, "{:?}", pair[1] - pair[0]);
        }
        assert_eq!(sent[0], started);
        assert!(*sent.last().unwrap() - started >= interval * 39);
    }
}

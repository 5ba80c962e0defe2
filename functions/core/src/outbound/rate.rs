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

/// Of one second of a worker's share, what it may send at once after being idle: see [`RateLimiter`].
const BURST_SECONDS: f64 = 0.8;

/// Paces one worker's sends: a token bucket (GCRA) refilled at the worker's share of the fleet
/// rate, holding at most `burst` sends, the whole number of sends in [`BURST_SECONDS`] of that share
/// (at least one).
///
/// A worker is idle between two batches (its last outcomes written, the next batch read and claimed)
/// and a limiter that gave no credit for that time would keep the fleet below its rate by that
/// share of every batch. The burst is bounded so that the fleet still never exceeds the provider's
/// limit: in any L seconds one worker sends at most `burst + share × L`, so `max_concurrency`
/// workers together send at most `0.8 × rate + rate × L`: within the one second's worth a
/// provider's per-second limit allows (Twilio queues what exceeds a sender's messages per second; a
/// token bucket of one second, as the emulator keeps, never runs dry), with a fifth of it left for
/// the time requests take to arrive. With a share under 2.5 per second the burst is one send: the
/// sends are spaced one interval apart, as a bucket of one token spaces them.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    per_worker_rate: f64,
    burst: u32,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The theoretical time of the next send at the steady rate (GCRA's TAT); a send may go up to
    /// `tolerance` before it. `None`: nothing sent yet, the bucket is full.
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
        // A whole number of sends, at least one; the cast saturates for absurd rates.
        let burst = ((per_worker_rate * BURST_SECONDS).floor() as u32).max(1);
        Ok(Self {
            interval,
            per_worker_rate,
            burst,
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

    /// The time between two of this worker's sends at its steady rate.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The most sends this worker makes at once, after it was idle.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// How far ahead of the steady schedule a send may go: `(burst - 1) × interval`.
    fn tolerance(&self) -> Duration {
        self.interval.saturating_mul(self.burst - 1)
    }

    /// Waits for this worker's next send slot. Concurrent callers get distinct slots, in the order
    /// they asked. A caller dropped while waiting forfeits its slot (the worker sends a little
    /// slower, never faster).
    pub async fn acquire(&self) {
        loop {
            let slot = {
                let mut state = self.lock();
                let (base, slot) = state.first_slot(Instant::now(), self.tolerance());
                state.next_slot = Some(base + self.interval);
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
        let (base, first) = self.lock().first_slot(now, self.tolerance());
        let end = now + budget;
        if first > end {
            return 0;
        }
        // The k-th slot from now is at max(first, base + k × interval - tolerance).
        let reach = (end + self.tolerance()).saturating_duration_since(base);
        let after_first = reach.as_nanos() / self.interval.as_nanos().max(1);
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
    /// this worker slow down, including those already waiting for a slot, and the bucket is empty
    /// when the pause ends (one send then, the next an interval later).
    pub fn penalize(&self, retry_after: Duration) {
        let mut state = self.lock();
        let until = Instant::now() + retry_after;
        state.paused_until = state.paused_until.max(Some(until));
        state.next_slot = state.next_slot.max(Some(until + self.tolerance()));
    }

    /// The state is two instants, valid after any panic: a poisoned lock is used as is.
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// GCRA: the steady-schedule time the next send stands for (`base`, never before now or the
    /// pause's end) and the earliest instant it may take, up to `tolerance` ahead of it.
    fn first_slot(&self, now: Instant, tolerance: Duration) -> (Instant, Instant) {
        let earliest = self.paused_until.map_or(now, |until| until.max(now));
        let base = self.next_slot.map_or(earliest, |next| next.max(earliest));
        let ahead = base.checked_sub(tolerance).unwrap_or(earliest);
        (base, ahead.max(earliest))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ten_sends_at_five_per_second_across_two_workers_take_a_burst_of_two_then_an_interval_each()
     {
        // 2.5 per second per worker: a burst of 2 (0.8 s of the share), then 400 ms apart.
        let limiter = RateLimiter::new(5.0, 2).unwrap();
        assert_eq!(limiter.burst(), 2);
        let started = Instant::now();
        limiter.acquire().await;
        limiter.acquire().await;
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "the first two sends are immediate"
        );
        for _ in 2..10 {
            limiter.acquire().await;
        }
        assert_eq!(started.elapsed(), Duration::from_millis(3200));
    }

    #[test]
    fn the_fleet_rate_is_divided_across_the_maximum_concurrency() {
        let limiter = RateLimiter::new(100.0, 10).unwrap();
        assert_eq!(limiter.per_worker_rate(), 10.0);
        assert_eq!(limiter.interval(), Duration::from_millis(100));
        assert_eq!(limiter.burst(), 8);
        let alone = RateLimiter::new(14.0, 1).unwrap();
        assert_eq!(alone.per_worker_rate(), 14.0);
        assert_eq!(alone.burst(), 11);
    }

    #[test]
    fn the_fleet_s_bursts_together_stay_within_one_second_of_its_rate() {
        for (rate, workers) in [
            (50.0, 10),
            (1.0, 1),
            (3.0, 2),
            (100.0, 3),
            (1000.0, 7),
            (7.5, 1),
        ] {
            let limiter = RateLimiter::new(rate, workers).unwrap();
            let fleet_burst = f64::from(limiter.burst()) * f64::from(workers);
            assert!(
                limiter.burst() == 1 || fleet_burst <= 0.8 * rate,
                "{rate}/s over {workers}: {fleet_burst} at once"
            );
        }
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
        // 5 per second for one worker: a burst of 4, then one every 200 ms: slots at 0, 0, 0, 0,
        // 200, 400 … ms.
        let limiter = RateLimiter::new(5.0, 1).unwrap();
        assert_eq!(limiter.slots_within(Duration::from_secs(18)), 94);
        assert_eq!(limiter.slots_within(Duration::ZERO), 4);
        limiter.acquire().await;
        limiter.acquire().await;
        // Two of the burst are left now, then one at 200 and one at 400 ms.
        assert_eq!(limiter.slots_within(Duration::ZERO), 2);
        assert_eq!(limiter.slots_within(Duration::from_millis(400)), 4);
        // After a pause the bucket is empty: slots at 2.0, 2.2 … s.
        limiter.penalize(Duration::from_secs(2));
        assert_eq!(limiter.slots_within(Duration::from_secs(1)), 0);
        assert_eq!(limiter.slots_within(Duration::from_secs(3)), 6);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_limiter_saves_up_no_more_than_its_burst() {
        let limiter = RateLimiter::new(5.0, 1).unwrap();
        limiter.acquire().await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        let started = Instant::now();
        for _ in 0..4 {
            limiter.acquire().await;
        }
        assert_eq!(started.elapsed(), Duration::ZERO, "a burst of four");
        limiter.acquire().await;
        limiter.acquire().await;
        assert_eq!(started.elapsed(), Duration::from_millis(400));
    }

    #[tokio::test(start_paused = true)]
    async fn a_share_under_two_and_a_half_per_second_saves_up_no_burst() {
        let limiter = RateLimiter::new(2.0, 1).unwrap();
        assert_eq!(limiter.burst(), 1);
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
        // 2 per second, no burst: the second send waits for its slot at 500 ms.
        let limiter = Arc::new(RateLimiter::new(4.0, 2).unwrap());
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
    async fn concurrent_acquirers_never_exceed_the_burst_plus_the_rate_in_any_window() {
        let limiter = Arc::new(RateLimiter::new(50.0, 4).unwrap());
        let (interval, burst) = (limiter.interval(), limiter.burst() as usize);
        assert_eq!(burst, 10);
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
        for i in 0..sent.len() {
            for j in i..sent.len() {
                let window = sent[j] - sent[i];
                let allowed = burst + (window.as_nanos() / interval.as_nanos()) as usize;
                assert!(j - i < allowed, "{} sends in {window:?}", j - i + 1);
            }
        }
        assert_eq!(sent[0], started);
        assert!(*sent.last().unwrap() - started >= interval * (40 - burst as u32));
    }
}

//! Per-key request budgets (requests per minute) in this process's memory,
//! behind the domain's `RateLimiter` port (several instances share budgets
//! through Redis instead: `switchboard_store::RedisRateLimiter`). A sliding
//! window ([`switchboard_domain::WindowLog`]): at most N requests accepted in
//! any 60 seconds, which is what "up to 5 requests per minute" says.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_domain::WindowLog;

pub use switchboard_domain::RateLimiter;

/// A monotonic clock: the time since some fixed origin.
pub type Clock = Arc<dyn Fn() -> Duration + Send + Sync>;

/// Budgets in this process's memory: exact for one instance; with several
/// instances behind a balancer each keeps its own (N per instance).
pub struct LocalRateLimiter {
    window: Duration,
    clock: Clock,
    state: Mutex<Budgets>,
}

#[derive(Default)]
struct Budgets {
    /// Per key: the limit the log was kept for, and the log.
    logs: HashMap<String, (u32, WindowLog)>,
    /// Past this many keys, those idle for a whole window are dropped.
    sweep_at: usize,
}

const FIRST_SWEEP: usize = 1024;

impl Default for LocalRateLimiter {
    fn default() -> Self {
        LocalRateLimiter::with_window(switchboard_domain::ratelimit::WINDOW)
    }
}

impl LocalRateLimiter {
    /// Budgets of `per_minute` requests per `window` instead of per minute
    /// (tests: the minute's rule, in seconds).
    pub fn with_window(window: Duration) -> Self {
        let origin = Instant::now();
        LocalRateLimiter::with_clock(window, Arc::new(move || origin.elapsed()))
    }

    /// Budgets on another clock (tests: time that moves when told).
    pub fn with_clock(window: Duration, clock: Clock) -> Self {
        LocalRateLimiter { window, clock, state: Mutex::new(Budgets { logs: HashMap::new(), sweep_at: FIRST_SWEEP }) }
    }

    fn take(&self, key: &str, per_minute: u32) -> Result<(), Duration> {
        if per_minute == 0 {
            return Ok(());
        }
        let now = micros((self.clock)());
        let window = micros(self.window);
        let mut b = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if b.logs.len() >= b.sweep_at {
            b.logs.retain(|_, (_, log)| log.newest().is_some_and(|t| t.saturating_add(window) > now));
            b.sweep_at = (b.logs.len() * 2).max(FIRST_SWEEP);
        }
        let (limit, log) = b.logs.entry(key.to_string()).or_insert_with(|| (per_minute, WindowLog::default()));
        if *limit != per_minute {
            // A changed setting starts a fresh budget.
            *limit = per_minute;
            *log = WindowLog::default();
        }
        log.take(now, per_minute, window).map_err(Duration::from_micros)
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[async_trait::async_trait]
impl RateLimiter for LocalRateLimiter {
    async fn check(&self, key: &str, per_minute: u32) -> Result<(), Duration> {
        self.take(key, per_minute)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A limiter on a clock the test moves, in milliseconds.
    fn limiter() -> (LocalRateLimiter, Arc<AtomicU64>) {
        let ms = Arc::new(AtomicU64::new(0));
        let clock = ms.clone();
        (LocalRateLimiter::with_clock(Duration::from_secs(60), Arc::new(move || Duration::from_millis(clock.load(Ordering::SeqCst)))), ms)
    }

    #[tokio::test]
    async fn five_a_minute_means_five_in_any_sixty_seconds() {
        let (l, ms) = limiter();
        for _ in 0..5 {
            assert!(l.check("1:a", 5).await.is_ok());
        }
        assert_eq!(l.check("1:a", 5).await, Err(Duration::from_secs(60)));
        // Where a bucket refilling every 12 s let a 7th in.
        ms.store(14_500, Ordering::SeqCst);
        assert_eq!(l.check("1:a", 5).await, Err(Duration::from_millis(45_500)));
        ms.store(59_999, Ordering::SeqCst);
        assert_eq!(l.check("1:a", 5).await, Err(Duration::from_millis(1)));
        ms.store(60_000, Ordering::SeqCst);
        for _ in 0..5 {
            assert!(l.check("1:a", 5).await.is_ok());
        }
        assert!(l.check("1:a", 5).await.is_err());
    }

    #[tokio::test]
    async fn budgets_are_per_key_and_follow_the_setting() {
        let (l, _) = limiter();
        for _ in 0..3 {
            assert!(l.check("1:a", 3).await.is_ok());
        }
        assert_eq!(l.check("1:a", 3).await, Err(Duration::from_secs(60)));
        assert!(l.check("2:a", 3).await.is_ok(), "another tenant has its own budget");
        assert!(l.check("1:b", 3).await.is_ok(), "another endpoint has its own budget");
        assert!(l.check("1:a", 10).await.is_ok(), "a changed limit starts afresh");
        assert!(l.check("1:a", 0).await.is_ok(), "0 is no limit");
    }

    #[tokio::test]
    async fn idle_keys_are_dropped() {
        let (l, ms) = limiter();
        for i in 0..FIRST_SWEEP {
            assert!(l.check(&format!("login:{i}"), 30).await.is_ok());
        }
        ms.store(60_000, Ordering::SeqCst);
        assert!(l.check("login:new", 30).await.is_ok());
        assert_eq!(l.state.lock().unwrap().logs.len(), 1, "the idle ones went");
    }
}

//! Per-tenant, per-endpoint request budgets (requests per minute) in this
//! process's memory, behind the domain's `RateLimiter` port (several instances
//! share budgets through Redis instead: `switchboard_store::RedisRateLimiter`).
//! `governor` implements GCRA: a budget of N refills one request every 60/N
//! seconds, so bursts of N are allowed.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use switchboard_domain::RateLimiter;

/// Budgets in this process's memory: exact for one instance; with several
/// instances behind a balancer each keeps its own (N per instance).
#[derive(Default)]
pub struct LocalRateLimiter {
    buckets: Mutex<HashMap<String, (u32, Arc<DefaultDirectRateLimiter>)>>,
}

#[async_trait::async_trait]
impl RateLimiter for LocalRateLimiter {
    async fn check(&self, key: &str, per_minute: u32) -> Result<(), Duration> {
        let Some(n) = NonZeroU32::new(per_minute) else { return Ok(()) };
        let limiter = {
            let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
            match buckets.get(key) {
                // A changed setting starts a fresh budget.
                Some((m, l)) if *m == per_minute => l.clone(),
                _ => {
                    let l = Arc::new(DefaultDirectRateLimiter::direct(Quota::per_minute(n)));
                    buckets.insert(key.to_string(), (per_minute, l.clone()));
                    l
                }
            }
        };
        limiter.check().map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn budgets_are_per_key_and_follow_the_setting() {
        let l = LocalRateLimiter::default();
        for _ in 0..3 {
            assert!(l.check("1:a", 3).await.is_ok());
        }
        let wait = l.check("1:a", 3).await.unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(20), "{wait:?}");
        assert!(l.check("2:a", 3).await.is_ok(), "another tenant has its own budget");
        assert!(l.check("1:b", 3).await.is_ok(), "another endpoint has its own budget");
        assert!(l.check("1:a", 10).await.is_ok(), "a changed limit starts afresh");
    }
}

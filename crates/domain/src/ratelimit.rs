//! The rate-limit port: per-key request budgets (requests per minute). One
//! instance keeps them in memory; several share them (Redis) so that a
//! tenant's limit holds across instances in total.
//!
//! The rule is a sliding window: at most N requests are accepted in any
//! window of 60 seconds (Ozonetel's "up to 5 requests per minute"). A refused
//! request does not count; the next one is allowed once the oldest of the N
//! last accepted ones is 60 seconds old, and the wait returned says exactly
//! when that is. [`WindowLog`] is the rule; the Redis implementation runs the
//! same arithmetic in a script, on Redis's clock.

use std::collections::VecDeque;
use std::time::Duration;

/// The window of a `check(key, per_minute)` budget.
pub const WINDOW: Duration = Duration::from_secs(60);

#[async_trait::async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Takes one request from `key`'s budget of `per_minute`: allowed while
    /// fewer than `per_minute` were accepted in the last 60 seconds. `Err`
    /// holds how long until the next request is allowed (when the oldest
    /// counted one leaves the window).
    async fn check(&self, key: &str, per_minute: u32) -> Result<(), Duration>;
}

/// The times of one key's accepted requests that are still in the window,
/// oldest first (at most `limit`; in microseconds of any monotonic clock).
#[derive(Debug, Clone, Default)]
pub struct WindowLog {
    accepted: VecDeque<u64>,
}

impl WindowLog {
    /// A request at `now`: accepted (and counted) while fewer than `limit`
    /// were accepted in `(now - window, now]`; otherwise the wait, in the
    /// same unit, until one more would be. A time at or before `now - window`
    /// has left the window.
    pub fn take(&mut self, now: u64, limit: u32, window: u64) -> Result<(), u64> {
        while self.accepted.front().is_some_and(|&t| t.saturating_add(window) <= now) {
            self.accepted.pop_front();
        }
        let limit = limit as usize;
        if self.accepted.len() < limit {
            self.accepted.push_back(now);
            return Ok(());
        }
        // The oldest of the last `limit` accepted must leave first.
        let leaves = self.accepted[self.accepted.len() - limit].saturating_add(window);
        Err(leaves.saturating_sub(now).max(1))
    }

    /// The last accepted time, if any is still kept.
    pub fn newest(&self) -> Option<u64> {
        self.accepted.back().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000;

    #[test]
    fn five_per_minute_is_five_in_any_minute() {
        let mut w = WindowLog::default();
        for _ in 0..5 {
            assert_eq!(w.take(0, 5, 60 * S), Ok(()));
        }
        // The 6th at once, and again at 14.5 s (a bucket refilling every 12 s let it in).
        assert_eq!(w.take(0, 5, 60 * S), Err(60 * S));
        assert_eq!(w.take(14_500_000, 5, 60 * S), Err(45_500_000));
        assert_eq!(w.take(59_999_999, 5, 60 * S), Err(1));
        // At 60 s the first five have left: five more.
        for _ in 0..5 {
            assert_eq!(w.take(60 * S, 5, 60 * S), Ok(()));
        }
        assert_eq!(w.take(60 * S, 5, 60 * S), Err(60 * S));
    }

    #[test]
    fn the_window_slides_over_spread_requests() {
        let mut w = WindowLog::default();
        for t in [0, 10, 20, 30, 40] {
            assert_eq!(w.take(t * S, 5, 60 * S), Ok(()));
        }
        // Full until the one at 0 s is 60 s old, then until the one at 10 s is.
        assert_eq!(w.take(50 * S, 5, 60 * S), Err(10 * S));
        assert_eq!(w.take(60 * S, 5, 60 * S), Ok(()));
        assert_eq!(w.take(61 * S, 5, 60 * S), Err(9 * S));
        assert_eq!(w.take(70 * S, 5, 60 * S), Ok(()));
    }

    #[test]
    fn never_more_than_the_limit_in_any_window() {
        // Requests at pseudo-random times over 10 minutes.
        let (limit, window) = (7_u32, 60 * S);
        let mut w = WindowLog::default();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut now = 0;
        let mut accepted = Vec::new();
        for _ in 0..5_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            now += seed % (S / 4);
            match w.take(now, limit, window) {
                Ok(()) => accepted.push(now),
                Err(wait) => {
                    // The wait is exact: refused just before, accepted at it.
                    let mut probe = w.clone();
                    if wait > 1 {
                        assert!(probe.take(now + wait - 1, limit, window).is_err());
                    }
                    assert!(probe.take(now + wait, limit, window).is_ok());
                }
            }
        }
        for (i, &t) in accepted.iter().enumerate() {
            let in_window = accepted[i..].iter().take_while(|&&u| u < t + window).count();
            assert!(in_window <= limit as usize, "{in_window} accepted in the minute from {t}");
        }
        assert!(accepted.len() > 10 * limit as usize - limit as usize);
    }
}

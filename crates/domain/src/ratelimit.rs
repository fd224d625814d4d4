//! The rate-limit port: per-key request budgets (requests per minute). One
//! instance keeps them in memory; several share them (Redis) so that a
//! tenant's limit holds across instances in total.

use std::time::Duration;

#[async_trait::async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Takes one request from `key`'s budget of `per_minute` (a burst of up
    /// to `per_minute`, refilled one every 60/`per_minute` seconds). `Err`
    /// holds how long until the next request is allowed.
    async fn check(&self, key: &str, per_minute: u32) -> Result<(), Duration>;
}

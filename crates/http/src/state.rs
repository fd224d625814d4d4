//! What every handler shares (`AppState`), the HTTP front's settings
//! (`HttpConfig`), and how a limiter's wait is told to clients.

use crate::native;
use crate::telemetry;
use metrics_exporter_prometheus::PrometheusHandle;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_domain::Directory;

/// A rate limiter's wait as `Retry-After` seconds: rounded up, so that a
/// client that waits that long is let in.
pub(crate) fn retry_secs(wait: Duration) -> u64 {
    u64::try_from(wait.as_millis().div_ceil(1000)).unwrap_or(u64::MAX).max(1)
}

/// Settings of the HTTP front (the dialects add theirs here).
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// A client must send a whole request head within this time, or its
    /// connection is closed (slow clients must not hold connections open).
    pub header_read_timeout: Duration,
    /// Sessions (LiveVox `sessionId`, DeepCall `ssid`, native) end after this
    /// long without use.
    pub session_idle: Duration,
    /// Lifetime of an Ozonetel `CAToken/generateToken` token.
    pub ozonetel_token_ttl: Duration,
    /// Replaces every per-minute rate limit (tenant settings and vendor
    /// defaults) when set, e.g. to raise them for a CI suite.
    pub rate_limit_override: Option<u32>,
    /// The console's session cookie gets `Secure`: `Some(true)` always,
    /// `Some(false)` never, `None` when the request came over HTTPS (as a
    /// TLS-terminating proxy says with `X-Forwarded-Proto: https`).
    pub console_secure_cookie: Option<bool>,
    /// `/metrics` is served with the API (default); off when it has a
    /// listener of its own ([`serve_metrics`], `--metrics-listen`).
    pub metrics_on_main: bool,
    /// Webhook deliveries and the outbound address policy (`webhooks.rs`).
    pub webhooks: crate::webhooks::WebhookConfig,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            header_read_timeout: Duration::from_secs(10),
            session_idle: Duration::from_secs(2 * 60 * 60),
            ozonetel_token_ttl: Duration::from_secs(60 * 60),
            rate_limit_override: None,
            console_secure_cookie: None,
            metrics_on_main: true,
            webhooks: crate::webhooks::WebhookConfig::default(),
        }
    }
}

/// What every handler shares, behind one `Arc`: axum clones the state for
/// each extractor and middleware of every request, and a struct of a dozen
/// `Arc`s cost a dozen atomic increments and decrements each time, on
/// reference counts that bounce between the cores (a quarter of a read's
/// CPU at 64 connections).
#[derive(Clone)]
pub struct AppState(Arc<AppShared>);

impl std::ops::Deref for AppState {
    type Target = AppShared;
    fn deref(&self) -> &AppShared {
        &self.0
    }
}

pub struct AppShared {
    pub dir: Directory,
    pub config: Arc<HttpConfig>,
    /// Request budgets (in memory, or shared through Redis).
    pub limiter: Arc<dyn switchboard_domain::RateLimiter>,
    pub metrics: PrometheusHandle,
    pub(crate) openapi: Arc<String>,
    /// When each API key was last stamped as used by this process, so that
    /// `lastUsedAt` costs at most one write per key and minute.
    pub(crate) key_touches: Arc<Mutex<HashMap<i64, Instant>>>,
}

impl AppState {
    pub fn new(dir: Directory) -> Self {
        AppState::with_config(dir, HttpConfig::default())
    }

    pub fn with_config(dir: Directory, config: HttpConfig) -> Self {
        AppState::with_limiter(dir, config, Arc::new(crate::ozonetel::rate_limit::LocalRateLimiter::default()))
    }

    pub fn with_limiter(dir: Directory, config: HttpConfig, limiter: Arc<dyn switchboard_domain::RateLimiter>) -> Self {
        AppState(Arc::new(AppShared {
            dir,
            config: Arc::new(config),
            limiter,
            metrics: telemetry::metrics_handle(),
            openapi: Arc::new(native::openapi_json()),
            key_touches: Arc::new(Mutex::new(HashMap::new())),
        }))
    }
}

//! The application: shared state, the assembled router with its middleware
//! stack, and the server loop with graceful shutdown.

use crate::native;
use crate::telemetry;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_domain::Directory;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

/// Largest request body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

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

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let metrics_route = if state.config.metrics_on_main { Router::new().route("/metrics", get(metrics)) } else { Router::new() };
    let app = Router::new()
        .merge(native::router(&state))
        .merge(crate::ozonetel::router(&state))
        .merge(crate::livevox::router())
        .merge(crate::deepcall::router())
        .merge(crate::console::router(&state))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(metrics_route)
        .route_layer(axum::middleware::from_fn(telemetry::track))
        .fallback(native::not_found)
        .method_not_allowed_fallback(native::method_not_allowed)
        .with_state(state);
    telemetry::with_request_id(
        app.layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(axum::middleware::from_fn(refuse_oversized))
            .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(30)))
            .layer(CatchPanicLayer::custom(native::panic_response)),
    )
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
///
/// A hand-rolled accept loop rather than `axum::serve`, for what that lacks:
/// a deadline for request heads (slow clients holding connections open) and
/// the DeepCall framing repair under every connection.
pub async fn serve(listener: TcpListener, state: AppState, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    use axum::extract::connect_info::ConnectInfo;
    use axum::serve::Listener;
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tower::ServiceExt;

    let head_timeout = state.config.header_read_timeout;
    let app = router(state);
    let mut listener = crate::deepcall::lenient_listener(listener, head_timeout);
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(head_timeout).keep_alive(true);
    builder.http2().timer(TokioTimer::new()).keep_alive_interval(Some(Duration::from_secs(30)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut shutdown => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            app.clone().oneshot(req.map(axum::body::Body::new))
        });
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    // In-flight requests finish; idle keep-alive connections are closed.
    graceful.shutdown().await;
    Ok(())
}

/// Serves `/metrics` alone on `listener` (`--metrics-listen`) until
/// `shutdown` resolves.
pub async fn serve_metrics(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new().route("/metrics", get(metrics)).with_state(state);
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// Refuses a body announced as too large before reading any of it; bodies
/// without a length are cut off at the same limit by the extractors.
async fn refuse_oversized(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return native::problem::Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request bodies are limited to {MAX_BODY_BYTES} bytes"),
        )
        .into_response();
    }
    next.run(req).await
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(s): State<AppState>) -> Response {
    match s.dir.store().ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

async fn metrics(State(s): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], telemetry::render(&s)).into_response()
}

//! The application: the assembled router with its middleware stack, and the
//! server loop with graceful shutdown (the shared state: `state.rs`; the body
//! limit: `body_limit.rs`).

use crate::body_limit::MAX_BODY_BYTES;
use crate::native;
use crate::state::AppState;
use crate::telemetry;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

/// The whole HTTP surface: the routes, and around them the middleware.
///
/// The middleware wraps the router once, not each route (`Router::layer`):
/// that made every layer a boxed service of each route, cloned (an
/// allocation each) by every layer on every request (issue 26).
pub fn router(
    state: AppState,
) -> impl tower::Service<
    axum::extract::Request,
    Response = Response,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<Response, std::convert::Infallible>> + Send + 'static,
> + Clone
       + Send
       + Sync
       + 'static {
    let mut probes = Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz));
    if state.config.metrics_on_main {
        probes = probes.route("/metrics", get(metrics));
    }
    // Each surface's routes note their template for the request's log line
    // and metrics (`telemetry::track`); the native ones in their gate, which
    // already wraps each of them.
    let tracked = |r: Router<AppState>| r.route_layer(tower::util::MapRequestLayer::new(telemetry::track));
    let app = Router::new()
        .merge(native::router(&state))
        .merge(tracked(crate::ozonetel::router(&state)))
        .merge(tracked(crate::livevox::router()))
        .merge(tracked(crate::deepcall::router()))
        .merge(tracked(crate::console::router(&state)))
        .merge(tracked(crate::scim::router(&state)))
        .merge(tracked(probes))
        .fallback(native::not_found)
        .method_not_allowed_fallback(native::method_not_allowed)
        .with_state(state);
    // The request layer also catches panics and times requests out (one
    // future for all of it; `telemetry.rs`).
    tower::ServiceBuilder::new().layer(telemetry::AccessLayer).layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES)).service(app)
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
    // The latency histograms keep every sample until they are folded into
    // their buckets, which a scrape of /metrics does: without scrapes (no
    // Prometheus, or a slow one) that was 8 bytes a request, without bound.
    let metrics = state.metrics.clone();
    let upkeep = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            metrics.run_upkeep();
        }
    });
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
    upkeep.abort();
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

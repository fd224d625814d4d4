//! Request ids, request logs and Prometheus metrics.
//!
//! Every request gets one INFO line (`request` target "switchboard::access")
//! once answered: its id, tenant (when one was authenticated), method, route
//! template (never the path's values or the query, which may carry
//! credentials), status, latency and the client's address; never a body or
//! a header. The same request is counted in `switchboard_http_requests_total`
//! by route template; requests no route matches are counted as
//! `route="unmatched"`, so scanners cannot grow the label set.

use crate::AppState;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Duration;
use std::time::Instant;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request being answered, for every line logged while it is
/// (`with_request`): what a `tracing` span named `request` carried before,
/// kept in the task-local the request has anyway, because a span cost every
/// request a registry slot, its fields formatted into a string, and an
/// enter and exit at each poll, whether anything was logged or not (3–7 % of
/// a read by id, issue 26).
pub struct RequestContext {
    /// The request's `x-request-id`, as received or made up.
    pub id: HeaderValue,
    pub method: Method,
    /// Only its path is logged, never the query (it may carry credentials).
    pub uri: Uri,
}

/// What a request's handling notes for its log line and metrics.
struct Noted {
    request: RequestContext,
    /// The tenant it acted for, once authenticated.
    tenant: Cell<Option<i64>>,
    /// The route template it matched (the router's shared string).
    route: RefCell<Option<MatchedPath>>,
}

tokio::task_local! {
    static NOTED: Noted;
}

/// Calls `f` with the request the current task is answering, if any (for
/// log formatters: see the binary's `logging.rs`).
pub fn with_request<R>(f: impl FnOnce(Option<&RequestContext>) -> R) -> R {
    let mut f = Some(f);
    if let Ok(r) = NOTED.try_with(|n| f.take().expect("not called yet")(Some(&n.request))) {
        return r;
    }
    f.take().expect("not called yet")(None)
}

/// Records the tenant the current request acts for (for its log line).
pub(crate) fn note_tenant(id: i64) {
    let _ = NOTED.try_with(|n| n.tenant.set(Some(id)));
}

static COMMIT: OnceLock<&'static str> = OnceLock::new();

/// The commit the binary was built from, for `switchboard_build_info` (call
/// before the first server starts).
pub fn set_build_commit(commit: &'static str) {
    let _ = COMMIT.set(commit);
}

/// The process-wide metrics recorder (a process has one, however many servers
/// it runs, e.g. in tests), with every metric's `# HELP`.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
                .expect("static buckets are valid")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed by an embedding program;
            // then this handle renders only what it records itself.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            metrics::gauge!("switchboard_build_info", "version" => env!("CARGO_PKG_VERSION"), "commit" => *COMMIT.get_or_init(|| "unknown")).set(1.0);
            handle
        })
        .clone()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_gauge!("switchboard_build_info", "Always 1; the version and commit of the running binary as labels.");
    describe_counter!(
        "switchboard_http_requests_total",
        "HTTP requests answered, by method, route template (unmatched: no route) and status."
    );
    describe_histogram!(
        "switchboard_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by method, route template and status."
    );
    describe_counter!("switchboard_login_failures_total", "Refused password logins, by surface (native, console, livevox, …) and reason.");
    describe_counter!(
        "switchboard_rate_limit_refusals_total",
        "Requests refused by a rate limit, by dialect and limit (api: a vendor's per-tenant budget; login: attempts per user)."
    );
    describe_counter!(
        "switchboard_import_rows_total",
        "Rows of committed imports (API and console), by kind and outcome (created, updated, unchanged, skipped, failed)."
    );
    describe_gauge!("switchboard_db_pool_connections", "Database connections, by pool and state (in_use, idle).");
    describe_gauge!("switchboard_db_pool_max_connections", "Most connections a database pool opens.");
    describe_counter!(
        "switchboard_db_pool_timeouts_total",
        "Waits for a database connection that gave up (the pool stayed full for the busy timeout)."
    );
    describe_counter!(
        "switchboard_agent_cache_requests_total",
        "Lookups of the in-memory read cache, by cache (agents, api_keys; search: agent lists and searches, hit when the search index answered, miss when the database did) and result (hit, miss)."
    );
}

/// Counts a request refused by a rate limit.
pub(crate) fn count_rate_limited(dialect: &'static str, limit: &'static str) {
    metrics::counter!("switchboard_rate_limit_refusals_total", "dialect" => dialect, "limit" => limit).increment(1);
}

/// Counts the rows of a finished import by outcome (committed ones only: a
/// dry run or a rolled-back atomic import changed nothing).
pub(crate) fn count_import(r: &switchboard_domain::ImportReport) {
    if !r.committed {
        return;
    }
    let kind = r.kind.as_str();
    for (outcome, n) in
        [("created", r.created), ("updated", r.updated), ("unchanged", r.unchanged), ("skipped", r.skipped), ("failed", r.failed)]
    {
        metrics::counter!("switchboard_import_rows_total", "kind" => kind, "outcome" => outcome).increment(n as u64);
    }
}

/// Notes the route template of a matched request (in a route layer: only
/// matched routes run it). A plain `map_request` function, not an axum
/// `from_fn` middleware: that one boxes and clones the route's service on
/// every request (issue 26).
pub fn track(req: Request) -> Request {
    if let Some(p) = req.extensions().get::<MatchedPath>() {
        let _ = NOTED.try_with(|n| *n.route.borrow_mut() = Some(p.clone()));
    }
    req
}

/// A random UUID v4 for a request without an `x-request-id`, from the
/// thread's generator: tower-http's `MakeRequestUuid` asked the kernel for
/// each one (a `getrandom` system call per request, issue 26).
fn new_request_id() -> HeaderValue {
    {
        let mut b: [u8; 16] = rand::random();
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = [0u8; 36];
        let mut i = 0;
        for (k, byte) in b.iter().enumerate() {
            if matches!(k, 4 | 6 | 8 | 10) {
                s[i] = b'-';
                i += 1;
            }
            s[i] = HEX[usize::from(byte >> 4)];
            s[i + 1] = HEX[usize::from(byte & 0x0f)];
            i += 2;
        }
        HeaderValue::from_bytes(&s).unwrap_or(HeaderValue::from_static("-"))
    }
}

/// The request counter and latency histogram of one method, route and
/// status, looked up once per thread: building a metric's key (three label
/// strings) and finding it in the registry for each request cost more than
/// recording (issue 26).
type Handles = (metrics::Counter, metrics::Histogram);
/// Per route template: each method and status seen, and its handles.
type ByRoute = std::collections::HashMap<String, Vec<(axum::http::Method, u16, Handles)>>;

thread_local! {
    static HANDLES: RefCell<ByRoute> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

fn record(method: &axum::http::Method, route: &str, status: u16, seconds: f64) {
    HANDLES.with(|h| {
        let mut h = h.borrow_mut();
        let by_route = match h.get_mut(route) {
            Some(v) => v,
            None => h.entry(route.to_owned()).or_default(),
        };
        let found = match by_route.iter().position(|(m, s, _)| s == &status && m == method) {
            Some(i) => &by_route[i].2,
            None => {
                let labels = [("method", method.to_string()), ("route", route.to_owned()), ("status", status.to_string())];
                let handles = (
                    metrics::counter!("switchboard_http_requests_total", &labels),
                    metrics::histogram!("switchboard_http_request_duration_seconds", &labels),
                );
                by_route.push((method.clone(), status, handles));
                &by_route[by_route.len() - 1].2
            }
        };
        found.0.increment(1);
        found.1.record(seconds);
    });
}

/// How long a request may take before it is answered 503 (a stuck database,
/// say); its handler is dropped.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What happens around every request, in one layer and one future (issue
/// 26: it was seven layers, tower-http's request-id setter and propagator,
/// trace, panic catcher and timeout, a response mapper and an axum `from_fn`
/// middleware, each with a future of its own and the last boxing and
/// cloning the whole stack below it on every request):
///
/// - the request keeps the client's `x-request-id` or gets a random one,
///   and the response carries it;
/// - what it logs carries its id, method and path (`with_request`; never
///   the query, which may carry credentials);
/// - a body announced as too large is refused before any of it is read
///   (`body_limit.rs`);
/// - a handler that panics is answered 500 (a problem document), one that
///   takes longer than `REQUEST_TIMEOUT` 503;
/// - once answered, one INFO line (`switchboard::access`) and its count and
///   latency by method, route template and status.
#[derive(Clone, Copy)]
pub struct AccessLayer;

impl<S> tower::Layer<S> for AccessLayer {
    type Service = Access<S>;
    fn layer(&self, inner: S) -> Access<S> {
        Access { inner }
    }
}

#[derive(Clone)]
pub struct Access<S> {
    inner: S,
}

impl<S> tower::Service<Request> for Access<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let start = Instant::now();
        let id = match req.headers().get(&REQUEST_ID) {
            Some(id) => id.clone(),
            None => {
                let id = new_request_id();
                req.headers_mut().insert(REQUEST_ID, id.clone());
                id
            }
        };
        let method = req.method().clone();
        let client = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        let refused = crate::body_limit::refuse_oversized(&req);
        let noted =
            Noted { request: RequestContext { id, method, uri: req.uri().clone() }, tenant: Cell::new(None), route: RefCell::new(None) };
        // The service that was made ready answers this request; a clone stays
        // for the next (tower's rule for services called from a future).
        let ready = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let (mut resp, noted) = match refused {
                Some(r) => (r, noted),
                None => {
                    // Called within the scope: the router notes the route as it
                    // matches (`track`), the gate the tenant.
                    let scope = NOTED.scope(noted, answer(inner, req));
                    tokio::pin!(scope);
                    let resp = scope.as_mut().await;
                    (resp, scope.take_value().expect("the scope keeps its value"))
                }
            };
            let Noted { request: RequestContext { id, method, .. }, tenant, route } = noted;
            if !resp.headers().contains_key(&REQUEST_ID) {
                resp.headers_mut().insert(REQUEST_ID, id.clone());
            }
            let elapsed = start.elapsed();
            let route = route.into_inner();
            let route = route.as_ref().map_or("unmatched", |r| r.as_str());
            let status = resp.status().as_u16();
            tracing::info!(
                target: "switchboard::access",
                request_id = id.to_str().unwrap_or("-"),
                tenant = tenant.get(),
                method = %method,
                route,
                status,
                latency_ms = (elapsed.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
                client = client.map(tracing::field::display),
                "request"
            );
            record(&method, route, status, elapsed.as_secs_f64());
            Ok(resp)
        })
    }
}

/// The handler's answer; 500 if it panicked, 503 if it took longer than
/// `REQUEST_TIMEOUT`.
async fn answer<S>(mut inner: S, req: Request) -> Response
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    use futures_util::FutureExt;
    let called = match std::panic::catch_unwind(AssertUnwindSafe(|| inner.call(req))) {
        Ok(f) => f,
        Err(panic) => return crate::native::panic_response(panic),
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, AssertUnwindSafe(called).catch_unwind()).await {
        Ok(Ok(Ok(resp))) => resp,
        Ok(Ok(Err(never))) => match never {},
        Ok(Err(panic)) => crate::native::panic_response(panic),
        Err(_) => {
            let mut resp = Response::new(axum::body::Body::empty());
            *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            resp
        }
    }
}

/// The Prometheus text of `/metrics`: what was recorded, with the store's
/// pools and cache and the process's figures read now.
pub(crate) fn render(s: &AppState) -> String {
    let stats = s.dir.store().stats();
    for p in &stats.pools {
        metrics::gauge!("switchboard_db_pool_connections", "pool" => p.name, "state" => "in_use").set(p.in_use);
        metrics::gauge!("switchboard_db_pool_connections", "pool" => p.name, "state" => "idle").set(p.idle);
        metrics::gauge!("switchboard_db_pool_max_connections", "pool" => p.name).set(p.max);
    }
    for (cache, hits, misses) in &stats.cache {
        metrics::counter!("switchboard_agent_cache_requests_total", "cache" => *cache, "result" => "hit").absolute(*hits);
        metrics::counter!("switchboard_agent_cache_requests_total", "cache" => *cache, "result" => "miss").absolute(*misses);
    }
    s.metrics.run_upkeep();
    let mut out = s.metrics.render();
    process::render(&mut out);
    out
}

/// The process's figures in the Prometheus client libraries' names, read
/// from /proc (Linux; elsewhere none). Written as text: `metrics` counters
/// are integers, and CPU seconds are not.
mod process {
    pub fn render(out: &mut String) {
        #[cfg(target_os = "linux")]
        linux(out);
        #[cfg(not(target_os = "linux"))]
        let _ = out;
    }

    #[cfg(target_os = "linux")]
    fn linux(out: &mut String) {
        use std::fmt::Write;
        let mut put = |name: &str, kind: &str, help: &str, v: f64| {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n\n");
        };
        // The kernel's USER_HZ, 100 on every Linux architecture that matters.
        const TICKS: f64 = 100.0;
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
            // Fields after the command name, which may hold spaces: (3) state …
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
            let f: Vec<&str> = rest.split_whitespace().collect();
            let num = |i: usize| f.get(i - 3).and_then(|v| v.parse::<f64>().ok());
            if let (Some(utime), Some(stime)) = (num(14), num(15)) {
                put("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", (utime + stime) / TICKS);
            }
            let boot = std::fs::read_to_string("/proc/stat")
                .ok()
                .and_then(|s| s.lines().find_map(|l| l.strip_prefix("btime ").and_then(|v| v.trim().parse::<f64>().ok())));
            if let (Some(boot), Some(start)) = (boot, num(22)) {
                put("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", boot + start / TICKS);
            }
            if let Some(v) = num(23) {
                put("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", v);
            }
            if let Some(v) = num(20) {
                put("process_threads", "gauge", "Number of OS threads in the process.", v);
            }
        }
        if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
            if let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            {
                put("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", kb * 1024.0);
            }
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            put("process_open_fds", "gauge", "Number of open file descriptors.", dir.count() as f64);
        }
        if let Ok(limits) = std::fs::read_to_string("/proc/self/limits") {
            if let Some(max) = limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|v| v.parse::<f64>().ok())
            {
                put("process_max_fds", "gauge", "Maximum number of open file descriptors.", max);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::{Layer, ServiceExt};

    fn request() -> Request {
        Request::builder().uri("/api/v1/agents/1?q=secret").body(Body::empty()).unwrap()
    }

    /// A handler whose `call` panics before it returns a future.
    #[derive(Clone)]
    struct PanicsInCall;

    impl tower::Service<Request> for PanicsInCall {
        type Response = Response;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response, Infallible>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: Request) -> Self::Future {
            panic!("a handler's bug")
        }
    }

    #[tokio::test]
    async fn a_handler_that_panics_is_answered_500_with_the_request_id() {
        let resp = AccessLayer.layer(PanicsInCall).oneshot(request()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(resp.headers()[&REQUEST_ID].len() == 36);
        let polled = tower::service_fn(|req: Request| async move {
            let id: i64 = req.uri().path().rsplit('/').next().unwrap().parse().unwrap();
            assert!(id > 1, "a handler's bug, once polled");
            Ok::<_, Infallible>(Response::new(Body::empty()))
        });
        let resp = AccessLayer.layer(polled).oneshot(request()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(resp.headers()[axum::http::header::CONTENT_TYPE], "application/problem+json");
    }

    #[tokio::test(start_paused = true)]
    async fn a_handler_past_the_deadline_is_answered_503_and_dropped() {
        let (dropped_tx, dropped_rx) = tokio::sync::oneshot::channel::<()>();
        let dropped_tx = std::sync::Arc::new(std::sync::Mutex::new(Some(dropped_tx)));
        let stuck = tower::service_fn(move |_: Request| {
            let guard = dropped_tx.lock().unwrap().take();
            async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                Ok::<Response, Infallible>(Response::new(Body::empty()))
            }
        });
        let started = tokio::time::Instant::now();
        let resp = AccessLayer.layer(stuck).oneshot(request()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(started.elapsed(), REQUEST_TIMEOUT);
        assert!(dropped_rx.await.is_err(), "the handler's future was dropped");
    }

    #[tokio::test]
    async fn the_request_is_known_while_answered_and_only_then() {
        assert!(with_request(|r| r.is_none()));
        let seen = tower::service_fn(|_: Request| async {
            let seen = with_request(|r| r.map(|r| (r.id.clone(), r.method.clone(), r.uri.path().to_owned())));
            let mut resp = Response::new(Body::empty());
            resp.extensions_mut().insert(seen);
            Ok::<_, Infallible>(resp)
        });
        let mut req = request();
        req.headers_mut().insert(REQUEST_ID, HeaderValue::from_static("given-1"));
        let resp = AccessLayer.layer(seen).oneshot(req).await.unwrap();
        assert_eq!(resp.headers()[&REQUEST_ID], "given-1");
        let seen = resp.extensions().get::<Option<(HeaderValue, Method, String)>>().cloned().flatten();
        assert_eq!(seen, Some((HeaderValue::from_static("given-1"), Method::GET, "/api/v1/agents/1".to_owned())));
        assert!(with_request(|r| r.is_none()));
    }
}

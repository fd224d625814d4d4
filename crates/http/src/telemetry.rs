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
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Instant;
use tracing::Instrument;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What a request's handling notes for its log line and metrics.
#[derive(Default)]
struct Noted {
    /// The tenant it acted for, once authenticated.
    tenant: Cell<Option<i64>>,
    /// The route template it matched (the router's shared string).
    route: RefCell<Option<MatchedPath>>,
}

tokio::task_local! {
    static NOTED: Noted;
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

/// Every request's id, span, log line and metrics, in one layer (issue 26:
/// it was four, tower-http's request-id setter and propagator, its trace
/// layer and an axum `from_fn` middleware, each with its own future and the
/// last boxing and cloning the whole stack below it on every request):
///
/// - the request keeps the client's `x-request-id` or gets a random one,
///   and the response carries it;
/// - what it does is logged within a `request` span (id, method, path: never
///   the query, which may carry credentials);
/// - once answered, one INFO line (`switchboard::access`) and its count and
///   latency by method, route template and status;
/// - a body announced as too large is refused before any of it is read
///   (`body_limit.rs`).
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
        let span = tracing::info_span!("request", id = id.to_str().unwrap_or("-"), method = %method, path = %req.uri().path());
        // The service that was made ready answers this request; a clone stays
        // for the next (tower's rule for services called from a future).
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let (mut resp, tenant, route) = match refused {
                Some(r) => (r, None, None),
                None => {
                    NOTED
                        .scope(Noted::default(), async move {
                            let Ok(resp) = inner.call(req).await;
                            NOTED.with(|n| (resp, n.tenant.get(), n.route.borrow_mut().take()))
                        })
                        .instrument(span)
                        .await
                }
            };
            if !resp.headers().contains_key(&REQUEST_ID) {
                resp.headers_mut().insert(REQUEST_ID, id.clone());
            }
            let elapsed = start.elapsed();
            let route = route.as_ref().map_or("unmatched", |r| r.as_str());
            let status = resp.status().as_u16();
            tracing::info!(
                target: "switchboard::access",
                request_id = id.to_str().unwrap_or("-"),
                tenant,
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

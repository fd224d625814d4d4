//! Test harness: a real server on a real socket (port 0) over a real
//! database, and an HTTP client that talks to it.
//!
//! The same tests run twice: the `it` binary on a SQLite file in a temporary
//! directory, the `it_pg` binary (same sources) on PostgreSQL, each test in a
//! schema of its own that is dropped at the end. `SWITCHBOARD_TEST_PG_URL`
//! names the PostgreSQL database (default
//! `postgres://postgres@127.0.0.1:5432/test?sslmode=disable`: plain TCP on
//! loopback, as before TLS was built in. With the default `prefer`, a server
//! with `ssl = on`, as Debian sets it, is spoken to over TLS, and a TLS
//! connection of an unoptimised build costs some 100 ms to open. TLS has
//! its own test, `tls.rs`).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use switchboard_domain::{Directory, SystemClock};
use switchboard_store::StoreOptions;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// True in the `it_pg` test binary, which needs PostgreSQL: without it,
/// every test fails saying so, unless `SWITCHBOARD_TEST_SKIP` names
/// `postgres`; then (printed) its tests run on SQLite instead.
pub fn on_postgres() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    env!("CARGO_CRATE_NAME") == "it_pg"
        && *ON.get_or_init(|| {
            if skip_requested("postgres") {
                say("SKIPPED postgres (SWITCHBOARD_TEST_SKIP): the it_pg tests run on SQLite instead of PostgreSQL");
                return false;
            }
            let url = pg_url();
            assert!(
                reachable(&url, 5432),
                "PostgreSQL is not reachable at {url} (SWITCHBOARD_TEST_PG_URL). {HOW_TO_GET_THEM} {}",
                skip_hint("postgres")
            );
            true
        })
}

const HOW_TO_GET_THEM: &str =
    "scripts/test-deps.sh installs and starts what the tests need (PostgreSQL, Redis, Chromium) on Debian or Ubuntu.";

fn skip_hint(what: &str) -> String {
    format!("To skip these tests instead, set SWITCHBOARD_TEST_SKIP={what}.")
}

/// Whether `SWITCHBOARD_TEST_SKIP` (comma-separated: postgres, redis,
/// browser, tls, container, systemd) names `what`.
pub fn skip_requested(what: &str) -> bool {
    std::env::var("SWITCHBOARD_TEST_SKIP").is_ok_and(|v| v.split(',').any(|s| s.trim() == what))
}

/// A line on the terminal even when the harness captures the test's
/// output (it captures `print!`/`eprint!` only): skips are always seen.
pub fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// `what` cannot run here because of `why`: a skip (printed, `false`) if
/// `SWITCHBOARD_TEST_SKIP` names it, else the test fails saying what to do.
#[track_caller]
pub fn available_or_skipped(what: &str, why: &str) -> bool {
    if skip_requested(what) {
        say(&format!("SKIPPED {what} (SWITCHBOARD_TEST_SKIP): {why}"));
        return false;
    }
    panic!("{why}. {HOW_TO_GET_THEM} {}", skip_hint(what));
}

/// Whether a TCP connection to the URL's host and port opens.
fn reachable(url: &str, default_port: u16) -> bool {
    use std::net::ToSocketAddrs;
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host_port = rest.split(['/', '?']).next().unwrap_or("");
    let host_port = host_port.rsplit_once('@').map_or(host_port, |(_, h)| h);
    let with_port = if host_port.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        host_port.to_string()
    } else {
        format!("{host_port}:{default_port}")
    };
    with_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a| std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_secs(2)).is_ok())
}

/// The Redis of the tests (`SWITCHBOARD_TEST_REDIS_URL`, default
/// redis://127.0.0.1:6379); `None` when it is not there and the skip was
/// asked for (`SWITCHBOARD_TEST_SKIP=redis`).
pub fn redis_url() -> Option<String> {
    let url = std::env::var("SWITCHBOARD_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    if skip_requested("redis") {
        say("SKIPPED redis (SWITCHBOARD_TEST_SKIP): a test that needs Redis");
        return None;
    }
    if reachable(&url, 6379) {
        return Some(url);
    }
    available_or_skipped("redis", &format!("Redis is not reachable at {url} (SWITCHBOARD_TEST_REDIS_URL)")).then_some(url)
}

pub fn pg_url() -> String {
    std::env::var("SWITCHBOARD_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test?sslmode=disable".into())
}

/// A test's own database: a SQLite file or a PostgreSQL schema.
pub struct TestDb {
    pub url: String,
    pub schema: Option<String>,
    // Kept so the SQLite file outlives the server; removed when the test ends.
    pub _tmp: Option<Arc<tempfile::TempDir>>,
}

impl TestDb {
    pub fn new() -> TestDb {
        // reqwest is built without a TLS provider of its own (`rustls-no-provider`)
        // and asks for the process's: without this, a test run alone
        // panicked in `reqwest::Client::new()` unless another had installed it.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tmp = Arc::new(tempfile::tempdir().expect("temp dir"));
        if on_postgres() {
            sweep_stale_schemas();
            let schema = format!("t_{}", hex_id());
            TestDb { url: pg_url(), schema: Some(schema), _tmp: Some(tmp) }
        } else {
            let path: PathBuf = tmp.path().join("switchboard.db");
            TestDb { url: path.to_string_lossy().into_owned(), schema: None, _tmp: Some(tmp) }
        }
    }

    pub fn options(&self) -> StoreOptions {
        // The agent cache on, as `serve` has it: every PostgreSQL test that reads
        // after a write also checks that the write reached the cache.
        StoreOptions {
            pg_schema: self.schema.clone(),
            max_connections: 8,
            agent_cache_entries: 10_000,
            agent_cache_preload: true,
            name_index: true,
            ..StoreOptions::default()
        }
    }

    /// The CLI flags that select this database.
    pub fn cli_args(&self) -> Vec<String> {
        let mut v = vec!["--database-url".to_string(), self.url.clone()];
        if let Some(s) = &self.schema {
            v.push("--db-schema".into());
            v.push(s.clone());
        }
        v
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(schema) = self.schema.take() {
            let url = self.url.clone();
            // Drop runs inside the test's runtime, whose tasks (the server's)
            // may hold locks the DROP waits for: never block it; clean up from
            // a detached thread. What a finished process leaves behind is
            // removed by the next run (see `sweep_stale_schemas`).
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                let _ = rt.block_on(switchboard_store::drop_pg_schema(&url, &schema));
            });
        }
    }
}

/// Drops test schemas (`t_<hex ns timestamp>_…`) older than an hour, left by
/// runs that ended before their clean-up threads did. Once per process.
fn sweep_stale_schemas() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let url = pg_url();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let _ = rt.block_on(switchboard_store::drop_stale_pg_schemas(&url, "t_", std::time::Duration::from_secs(3600)));
        });
    });
}

fn hex_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    format!("{:x}_{}_{}", t, std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

pub struct Server {
    pub addr: SocketAddr,
    pub dir: Directory,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    // Dropped after the server task is gone (field order).
    pub db: Arc<TestDb>,
}

/// A tenant made the way the CLI makes one, with its Sysadmin's key.
pub struct Tenant {
    pub id: i64,
    pub client_id: i64,
    pub admin_user_id: i64,
    pub admin_password: String,
    pub key: String,
}

impl Server {
    /// A server on a fresh database.
    pub async fn start() -> Server {
        Server::start_on(Arc::new(TestDb::new())).await
    }

    /// A server with its own HTTP settings, on a fresh database.
    pub async fn start_with(config: switchboard_http::HttpConfig) -> Server {
        Server::start_on_with(Arc::new(TestDb::new()), config).await
    }

    pub async fn start_on(db: Arc<TestDb>) -> Server {
        Server::start_on_with(db, switchboard_http::HttpConfig::default()).await
    }

    pub async fn start_on_with(db: Arc<TestDb>, config: switchboard_http::HttpConfig) -> Server {
        Server::start_on_with_limiter(db, config, Arc::new(switchboard_http::LocalRateLimiter::default())).await
    }

    /// A server whose rate limits are kept by `limiter` (a short window, Redis).
    pub async fn start_on_with_limiter(
        db: Arc<TestDb>,
        config: switchboard_http::HttpConfig,
        limiter: Arc<dyn switchboard_domain::RateLimiter>,
    ) -> Server {
        let store = switchboard_store::open(&db.url, &db.options()).await.expect("open store");
        let dir = Directory::new(store, Arc::new(SystemClock));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let state = switchboard_http::AppState::with_limiter(dir.clone(), config, limiter);
        let task = tokio::spawn(switchboard_http::serve(listener, state, async move {
            let _ = rx.await;
        }));
        Server { addr, dir, stop: Some(tx), task: Some(task), db }
    }

    /// Stops the server (gracefully) and starts a new one on the same database.
    pub async fn restart(mut self) -> Server {
        self.stop().await;
        Server::start_on(self.db.clone()).await
    }

    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server stopped cleanly");
        }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Creates a tenant through the same domain operation the CLI uses.
    pub async fn tenant(&self, name: &str) -> Tenant {
        self.tenant_with_client(name, None).await
    }

    /// A tenant with a chosen LiveVox clientId.
    pub async fn tenant_with_client(&self, name: &str, client_id: Option<i64>) -> Tenant {
        let issued = self.dir.create_tenant(name, client_id).await.expect("create tenant");
        let (t, u) = issued.value;
        Tenant {
            id: t.id,
            client_id: t.client_id,
            admin_user_id: u.id,
            admin_password: issued.password.unwrap(),
            key: issued.api_key.unwrap(),
        }
    }

    /// GETs a path without credentials and returns the body as text.
    pub async fn http_text(&self, path: &str) -> String {
        reqwest::get(self.url(path)).await.expect("request").text().await.expect("body")
    }

    pub fn client(&self, key: &str) -> Client {
        Client { base: format!("http://{}", self.addr), key: Some(key.to_string()), http: reqwest::Client::new() }
    }

    pub fn anonymous(&self) -> Client {
        Client { base: format!("http://{}", self.addr), key: None, http: reqwest::Client::new() }
    }
}

/// An API caller with one key.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub key: Option<String>,
    pub http: reqwest::Client,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }

    pub fn id(&self) -> i64 {
        self.body["id"].as_i64().unwrap_or_else(|| panic!("no id in {}", self.body))
    }

    /// Asserts the status and, for errors, that the body is a problem document.
    #[track_caller]
    pub fn expect(self, status: u16) -> Resp {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        if status >= 400 {
            assert_eq!(self.header("content-type").as_deref(), Some("application/problem+json"), "{}", self.body);
            assert_eq!(self.body["status"].as_u64(), Some(status as u64));
            assert!(self.body["type"].as_str().unwrap().starts_with("urn:switchboard:problem:"));
        }
        self
    }

    /// Asserts an error with this status and problem `code`.
    #[track_caller]
    pub fn problem(self, status: u16, code: &str) -> Resp {
        let r = self.expect(status);
        assert_eq!(r.body["code"], code, "{}", r.body);
        r
    }
}

impl Client {
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Resp {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(k) = &self.key {
            req = req.bearer_auth(k);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let headers = resp.headers().clone();
        let raw = resp.bytes().await.expect("body").to_vec();
        let body = if raw.is_empty() { Value::Null } else { serde_json::from_slice(&raw).unwrap_or(Value::Null) };
        Resp { status, headers, body, raw }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None, &[]).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(Method::POST, path, Some(body), &[]).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.send(Method::PUT, path, Some(body), &[]).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.send(Method::PATCH, path, Some(body), &[]).await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, None, &[]).await
    }

    /// Follows `nextCursor` to the end; returns every item.
    pub async fn all(&self, path: &str, limit: u32) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        let sep = if path.contains('?') { '&' } else { '?' };
        loop {
            let url = match &cursor {
                Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
                None => format!("{path}{sep}limit={limit}"),
            };
            let r = self.get(&url).await.expect(200);
            items.extend(r.body["items"].as_array().unwrap().iter().cloned());
            match r.body["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return items,
            }
        }
    }

    /// Creates an agent with just the mandatory fields.
    pub async fn agent(&self, login: &str) -> i64 {
        self.post("/api/v1/agents", json!({"loginId": login, "firstName": "Ann", "lastName": "Smith"})).await.expect(201).id()
    }
}

/// Runs the real binary with `args` on `db`; its JSON output.
pub fn admin_cli(db: &TestDb, args: &[&str]) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard")).args(args).args(db.cli_args()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A `switchboard serve` process of the real binary, on a free port.
pub struct Process {
    pub child: std::process::Child,
    pub base: String,
}

impl Process {
    /// Starts `switchboard serve` on `db` with `extra` flags; waits until it listens.
    pub fn serve(cwd: &std::path::Path, db: &TestDb, extra: &[&str]) -> Process {
        Process::serve_with(cwd, db.cli_args(), extra)
    }

    /// Like `serve`, with the log (stderr) kept in `log` for the test to read.
    // The child is waited for by `Process`'s Drop; a start that times out
    // fails the test run.
    #[allow(clippy::zombie_processes)]
    pub fn serve_logged(cwd: &std::path::Path, db: &TestDb, extra: &[&str], log: &std::path::Path, rust_log: &str) -> Process {
        let mut args: Vec<String> = vec!["serve".into(), "--listen".into(), "127.0.0.1:0".into()];
        args.extend(db.cli_args());
        args.extend(extra.iter().map(|s| s.to_string()));
        let file = std::fs::File::create(log).expect("log file");
        // Waited for by `Process`'s Drop (or kill/terminate).
        #[allow(clippy::zombie_processes)]
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(&args)
            .current_dir(cwd)
            .env("RUST_LOG", rust_log)
            .stderr(file)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn serve");
        let started = std::time::Instant::now();
        loop {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if let Some(i) = text.find("listening on http://") {
                // Text or JSON logs: the URL ends at a space or a quote.
                let base = text[i + "listening on ".len()..].split(|c: char| c.is_whitespace() || c == '"').next().unwrap().to_string();
                return Process { child, base };
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(30), "serve did not start: {text}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    pub fn serve_with(cwd: &std::path::Path, db_args: Vec<String>, extra: &[&str]) -> Process {
        use std::io::{BufRead, BufReader};
        let mut args: Vec<String> = vec!["serve".into(), "--listen".into(), "127.0.0.1:0".into()];
        args.extend(db_args);
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(&args)
            .current_dir(cwd)
            .env("RUST_LOG", "info")
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn serve");
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let base = loop {
            let line = lines.next().expect("serve exited before listening").expect("read log");
            if let Some(i) = line.find("listening on http://") {
                break line[i + "listening on ".len()..].split_whitespace().next().unwrap().to_string();
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Process { child, base }
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        std::process::Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill");
        self.child.wait().expect("wait")
    }

    pub fn client(&self, key: &str) -> Client {
        Client { base: self.base.clone(), key: Some(key.to_string()), http: reqwest::Client::new() }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `read` until `done` holds of its answer (10 s at most): a change
/// reaches another PostgreSQL instance's cache by notification, not before
/// the write's answer.
pub async fn eventually<F, Fut>(what: &str, mut read: F, done: impl Fn(&Value) -> bool) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Value>,
{
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let v = read().await;
        if done(&v) {
            return v;
        }
        assert!(std::time::Instant::now() < until, "{what}: still {v}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// SQL run as an operator would, with psql, in the test's schema.
pub fn psql(db: &TestDb, sql: &str) -> String {
    let schema = db.schema.as_deref().unwrap();
    let out = std::process::Command::new("psql")
        .args([db.url.as_str(), "-v", "ON_ERROR_STOP=1", "-Atq", "-c", &format!("SET search_path = {schema}"), "-c", sql])
        .output()
        .expect("psql");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

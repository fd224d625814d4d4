//! Test harness: a real server on a real socket (port 0) over a real SQLite
//! file in a temporary directory, and an HTTP client that talks to it.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use switchboard_domain::{Directory, SystemClock};
use switchboard_store::StoreOptions;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct Server {
    pub addr: SocketAddr,
    pub db_url: String,
    pub dir: Directory,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    // Kept so the database outlives the server; removed when the test ends.
    _tmp: Option<Arc<tempfile::TempDir>>,
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
    /// A server on a fresh database file.
    pub async fn start() -> Server {
        let tmp = Arc::new(tempfile::tempdir().expect("temp dir"));
        let path: PathBuf = tmp.path().join("switchboard.db");
        Server::start_on(path.to_string_lossy().into_owned(), Some(tmp)).await
    }

    pub async fn start_on(db_url: String, tmp: Option<Arc<tempfile::TempDir>>) -> Server {
        let store = switchboard_store::open(&db_url, &StoreOptions::default()).await.expect("open store");
        let dir = Directory::new(store, Arc::new(SystemClock));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let state = switchboard_http::AppState::new(dir.clone());
        let task = tokio::spawn(switchboard_http::serve(listener, state, async move {
            let _ = rx.await;
        }));
        Server { addr, db_url, dir, stop: Some(tx), task: Some(task), _tmp: tmp }
    }

    /// Stops the server (gracefully) and starts a new one on the same file.
    pub async fn restart(mut self) -> Server {
        let tmp = self._tmp.take();
        let url = self.db_url.clone();
        self.stop().await;
        Server::start_on(url, tmp).await
    }

    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server stopped cleanly");
        }
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

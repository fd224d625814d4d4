//! Change events (issue 28): the outbox every write fills in its
//! transaction, the event list and its live stream, and webhooks delivered
//! to a real receiver started here, signed as Standard Webhooks says.

use crate::support::*;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{KeyInit, Mac};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_domain::{Directory, SystemClock};
use switchboard_http::webhooks::{parse_networks, WebhookConfig};

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Got {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

/// An HTTP receiver on port 0: records every request, answers with the
/// status `answer` gives for the n-th request (0-based), after `delay`.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Got>>>,
}

impl Receiver {
    async fn start(answer: impl Fn(usize) -> (u16, Duration) + Send + Sync + 'static) -> Receiver {
        let (got, app) = Receiver::app(answer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, got }
    }

    /// The same over TLS with the certificate chain and key given (PEM), at
    /// `https://localhost:<port>/hook`.
    async fn start_tls(cert_pem: &str, key_pem: &str, answer: impl Fn(usize) -> (u16, Duration) + Send + Sync + 'static) -> Receiver {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let (got, app) = Receiver::app(answer);
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes()).map(Result::unwrap).collect();
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://localhost:{}/hook", listener.local_addr().unwrap().port());
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let (acceptor, app) = (acceptor.clone(), app.clone());
                tokio::spawn(async move {
                    // A handshake the client gives up on is just a closed connection.
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = hyper_util::service::TowerToHyperService::new(app);
                    let _ = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Receiver { url, got }
    }

    fn app(answer: impl Fn(usize) -> (u16, Duration) + Send + Sync + 'static) -> (Arc<Mutex<Vec<Got>>>, axum::Router) {
        let got: Arc<Mutex<Vec<Got>>> = Arc::default();
        let answer = Arc::new(answer);
        let g = got.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |h: axum::http::HeaderMap, body: String| {
                let g = g.clone();
                let answer = answer.clone();
                async move {
                    let header = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                    let n = {
                        let mut v = g.lock().unwrap();
                        v.push(Got {
                            id: header("webhook-id"),
                            timestamp: header("webhook-timestamp"),
                            signature: header("webhook-signature"),
                            body,
                        });
                        v.len() - 1
                    };
                    let (status, delay) = answer(n);
                    tokio::time::sleep(delay).await;
                    axum::http::StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        (got, app)
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    async fn wait_for(&self, what: &str, done: impl Fn(&[Got]) -> bool, secs: u64) -> Vec<Got> {
        let until = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let g = self.got();
            if done(&g) {
                return g;
            }
            assert!(std::time::Instant::now() < until, "{what}: got {} requests: {g:?}", g.len());
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Verifies a delivery as the Standard Webhooks specification says: HMAC-SHA256
/// of `id.timestamp.body` under the base64-decoded secret, among the
/// space-separated `v1,<base64>` signatures.
fn verify(secret: &str, g: &Got) -> bool {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", g.id, g.timestamp, g.body).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    let ts: i64 = g.timestamp.parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    (now - ts).abs() < 300 && g.signature.split(' ').any(|s| s == expected)
}

fn fast_retries() -> WebhookConfig {
    WebhookConfig {
        allow_networks: parse_networks("127.0.0.0/8").unwrap(),
        retry_schedule: switchboard_http::webhooks::parse_schedule("100ms,200ms,300ms").unwrap(),
        timeout: Duration::from_secs(2),
        ..WebhookConfig::default()
    }
}

/// A server (in this process) that also runs the webhook dispatcher.
async fn delivering(db: Arc<TestDb>, webhooks: WebhookConfig) -> (Server, switchboard_http::AppState) {
    let config = switchboard_http::HttpConfig { webhooks, ..Default::default() };
    let server = Server::start_on_with(db.clone(), config.clone()).await;
    // The dispatcher runs on a state of its own over its own store, as a
    // second process would.
    let store = switchboard_store::open(&db.url, &db.options()).await.expect("open store");
    let state = switchboard_http::AppState::with_config(Directory::new(store, Arc::new(SystemClock)), config);
    switchboard_http::webhooks::spawn_dispatcher(state.clone());
    (server, state)
}

async fn all_events(c: &Client, after: i64) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = after;
    loop {
        let page = c.get(&format!("/api/v1/events?after={after}&limit=7")).await.expect(200).body;
        let items = page["items"].as_array().unwrap().clone();
        if items.is_empty() {
            return out;
        }
        after = page["nextAfter"].as_i64().unwrap();
        out.extend(items);
    }
}

#[tokio::test]
async fn every_write_records_one_event_in_commit_order() {
    let s = Server::start().await;
    let t = s.tenant("Acme").await;
    let other = s.tenant("Other").await;
    let c = s.client(&t.key);
    let before = all_events(&c, 0).await.len();

    let skill = c.post("/api/v1/skills", json!({"name": "Spanish"})).await.expect(201).id();
    c.patch(&format!("/api/v1/skills/{skill}"), json!({"description": "es"})).await.expect(200);
    let group = c.post("/api/v1/groups", json!({"name": "Tier 1"})).await.expect(201).id();
    let cc = c.post("/api/v1/call-centers", json!({"name": "Main"})).await.expect(201).id();
    let svc = c.post("/api/v1/services", json!({"name": "Billing", "callCenterId": cc})).await.expect(201).id();
    let agent = c
        .post("/api/v1/agents", json!({"loginId": "jdoe", "firstName": "John", "lastName": "Doe", "password": "secret123"}))
        .await
        .expect(201)
        .id();
    c.patch(&format!("/api/v1/agents/{agent}"), json!({"lastName": "Doe-Smith", "password": "secret456"})).await.expect(200);
    c.put(&format!("/api/v1/agents/{agent}/skills/{skill}"), json!({"proficiency": 4})).await.expect(200);
    c.delete(&format!("/api/v1/agents/{agent}/skills/{skill}")).await.expect(204);
    c.put(&format!("/api/v1/agents/{agent}/groups/{group}"), json!({"receiveCall": true})).await.expect(200);
    c.put(&format!("/api/v1/agents/{agent}/services/{svc}"), json!({})).await.expect(200);
    c.post("/api/v1/dids", json!({"number": "+16505550100"})).await.expect(201);
    let camp = c.post("/api/v1/campaigns", json!({"name": "Renewals", "dynamicDids": [], "fallbackDids": []})).await.expect(201).id();
    c.patch(&format!("/api/v1/campaigns/{camp}"), json!({"dynamicDids": ["+16505550100"]})).await.expect(200);
    let phone = c.post("/api/v1/phones", json!({"number": "+16503517454", "name": "Desk 12"})).await.expect(201).id();
    c.delete(&format!("/api/v1/phones/{phone}")).await.expect(204);
    // Other surfaces write through the same store: LiveVox, SCIM.
    let http = reqwest::Client::new();
    let login = http
        .post(s.url("/session/login"))
        .header("LV-Access", &t.key)
        .json(&json!({"clientName": "Acme", "userName": "admin", "password": t.admin_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let sid = login.json::<Value>().await.unwrap()["sessionId"].as_str().unwrap().to_string();
    let r = http
        .put(s.url(&format!("/configuration/agents/{agent}")))
        .header("LV-Session", &sid)
        .json(&json!({"firstName": "Lv"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text().await);
    let scim_key =
        s.dir.issue_api_key_as_operator(t.id, t.admin_user_id, "okta", switchboard_domain::KeyScope::Scim).await.unwrap().api_key.unwrap();
    let r = http
        .post(s.url("/scim/v2/Users"))
        .bearer_auth(&scim_key)
        .header("content-type", "application/scim+json")
        .body(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "scim.user", "name": {"givenName": "S", "familyName": "U"}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    // A refused write records nothing.
    c.post("/api/v1/skills", json!({"name": "Spanish"})).await.problem(409, "duplicate");
    c.delete(&format!("/api/v1/agents/{agent}")).await.expect(204);

    let events = all_events(&c, 0).await;
    let mine: Vec<&Value> = events[before..].iter().collect();
    let types: Vec<&str> = mine.iter().map(|e| e["type"].as_str().unwrap()).collect();
    let expected_start = [
        "skill.created",
        "skill.updated",
        "group.created",
        "call_center.created",
        "service.created",
        "agent.created",
        "agent.updated",
        "agent.skill.assigned",
        "agent.skill.removed",
        "agent.group.mapped",
        "agent.service.assigned",
    ];
    assert_eq!(&types[..expected_start.len()], &expected_start, "{types:?}");
    for t in ["did.created", "campaign.created", "campaign.dids.updated", "phone.created", "phone.deleted", "agent.deleted"] {
        assert_eq!(types.iter().filter(|x| **x == t).count(), 1, "{t} once in {types:?}");
    }
    assert_eq!(types.last(), Some(&"agent.deleted"));
    // Sequence numbers: 1, 2, 3, … per tenant, without gaps.
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["sequence"], json!(i as i64 + 1), "{e}");
        assert_eq!(e["id"], json!(format!("evt_{}_{}", t.id, i + 1)));
        assert_eq!(e["tenantId"], json!(t.id));
    }
    // Exactly one event per audited write.
    let audit = c.all("/api/v1/audit", 1000).await;
    assert_eq!(audit.len(), events.len());
    // The object after the change and the changed fields, never a secret.
    let updated = mine.iter().find(|e| e["type"] == "agent.updated").unwrap();
    assert_eq!(updated["object"]["lastName"], "Doe-Smith");
    let changed: Vec<&str> = updated["changed"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(changed.contains(&"lastName") && changed.contains(&"passwordLastModified"), "{changed:?}");
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains("secret123") && !text.contains("secret456") && !text.contains("argon2"), "{text}");
    assert_eq!(mine.iter().find(|e| e["type"] == "agent.created").unwrap()["actor"]["label"], "user:admin");
    assert!(
        mine.iter().any(|e| e["type"] == "agent.updated" && e["object"]["firstName"] == "Lv" && e["changed"] == json!(["firstName"])),
        "LiveVox"
    );
    assert!(mine.iter().any(|e| e["type"] == "agent.created" && e["actor"]["label"] == "scim:okta"), "SCIM");
    assert!(mine.iter().any(|e| e["type"] == "api_key.created"), "the SCIM key's creation");
    // Other tenants see only their own.
    let theirs = all_events(&s.client(&other.key), 0).await;
    assert!(theirs.iter().all(|e| e["tenantId"] == json!(other.id)));
}

#[tokio::test]
async fn webhooks_are_signed_retried_in_order_and_logged() {
    let db = Arc::new(TestDb::new());
    let receiver = Receiver::start(|n| (if n < 3 { 500 } else { 200 }, Duration::ZERO)).await;
    let (s, _d) = delivering(db, fast_retries()).await;
    let t = s.tenant("Acme").await;
    let c = s.client(&t.key);
    let w = c.post("/api/v1/webhooks", json!({"url": receiver.url, "events": ["skill.*"]})).await.expect(201);
    let (hook, secret) = (w.id(), w.body["secret"].as_str().unwrap().to_string());
    assert!(secret.starts_with("whsec_"));
    assert!(w.header("location").is_some());
    // The secret is shown once.
    let read = c.get(&format!("/api/v1/webhooks/{hook}")).await.expect(200).body;
    assert!(read.get("secret").is_none() && read["enabled"] == true);

    c.post("/api/v1/agents", json!({"loginId": "jdoe", "firstName": "J", "lastName": "D"})).await.expect(201);
    c.post("/api/v1/skills", json!({"name": "Spanish"})).await.expect(201);
    c.post("/api/v1/skills", json!({"name": "French"})).await.expect(201);

    // 500, 500, 500, 200 for the first event; then the second, in order.
    let got = receiver.wait_for("five deliveries", |g| g.len() >= 5, 20).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got_all = receiver.got();
    assert_eq!(got_all.len(), 5, "{got_all:?}");
    let first = &got[0].id;
    assert!(got[..4].iter().all(|g| &g.id == first), "the same webhook-id on every retry: {got:?}");
    assert_ne!(&got[4].id, first);
    for g in &got {
        assert!(verify(&secret, g), "signature of {g:?}");
        let body: Value = serde_json::from_str(&g.body).unwrap();
        assert_eq!(body["id"], json!(g.id));
        assert!(body["type"].as_str().unwrap().starts_with("skill."), "filtered by events: {body}");
    }
    let b0: Value = serde_json::from_str(&got[0].body).unwrap();
    let b4: Value = serde_json::from_str(&got[4].body).unwrap();
    assert_eq!(b0["object"]["name"], "Spanish");
    assert_eq!(b4["object"]["name"], "French");

    let log = c.get(&format!("/api/v1/webhooks/{hook}/deliveries")).await.expect(200).body;
    let items = log["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{log}");
    let spanish = &items[1];
    assert_eq!(spanish["attempts"], 4, "{log}");
    assert_eq!(spanish["status"], "delivered");
    assert_eq!(spanish["lastStatusCode"], 200);
    assert!(spanish["lastLatencyMs"].as_i64().is_some());
    // Manual redelivery: once more, the same id.
    let d = spanish["id"].as_i64().unwrap();
    c.post(&format!("/api/v1/webhooks/{hook}/deliveries/{d}/redeliver"), json!({})).await.expect(202);
    let got = receiver.wait_for("a redelivery", |g| g.len() >= 6, 10).await;
    assert_eq!(&got[5].id, first);
    // Rotation: a new secret, and later deliveries signed with it.
    let rotated = c.post(&format!("/api/v1/webhooks/{hook}/rotate-secret"), json!({})).await.expect(200).body;
    let secret2 = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(secret2, secret);
    c.post("/api/v1/skills", json!({"name": "German"})).await.expect(201);
    let got = receiver.wait_for("a delivery after rotation", |g| g.len() >= 7, 10).await;
    // For a day, signed with both: receivers still holding the old secret
    // accept it while they switch over.
    assert!(verify(&secret2, &got[6]) && verify(&secret, &got[6]), "{:?}", got[6]);
    assert_eq!(got[6].signature.split(' ').count(), 2, "{:?}", got[6]);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let grace = rotated["previousSecretExpiresAt"].as_i64().unwrap() - now;
    assert!((23 * 3600 * 1000..=24 * 3600 * 1000).contains(&grace), "{rotated}");
    // A second rotation replaces the oldest: the first secret signs no more.
    let rotated = c.post(&format!("/api/v1/webhooks/{hook}/rotate-secret"), json!({})).await.expect(200).body;
    let secret3 = rotated["secret"].as_str().unwrap().to_string();
    c.post("/api/v1/skills", json!({"name": "Dutch"})).await.expect(201);
    let got = receiver.wait_for("a delivery after the second rotation", |g| g.len() >= 8, 10).await;
    assert!(verify(&secret3, &got[7]) && verify(&secret2, &got[7]) && !verify(&secret, &got[7]), "{:?}", got[7]);
    // PATCH and DELETE.
    let patched = c.patch(&format!("/api/v1/webhooks/{hook}"), json!({"enabled": false, "events": null})).await.expect(200).body;
    assert_eq!(patched["enabled"], false);
    assert!(patched["events"].is_null());
    c.delete(&format!("/api/v1/webhooks/{hook}")).await.expect(204);
    c.get(&format!("/api/v1/webhooks/{hook}")).await.problem(404, "not_found");
}

#[tokio::test]
async fn a_subscription_failing_past_its_limit_is_disabled_and_says_so() {
    let db = Arc::new(TestDb::new());
    let receiver = Receiver::start(|_| (503, Duration::ZERO)).await;
    let config = WebhookConfig { give_up_after: Duration::from_millis(700), ..fast_retries() };
    let (s, _d) = delivering(db, config).await;
    let t = s.tenant("Acme").await;
    let c = s.client(&t.key);
    let hook = c.post("/api/v1/webhooks", json!({"url": receiver.url})).await.expect(201).id();
    c.post("/api/v1/skills", json!({"name": "Spanish"})).await.expect(201);
    let w = eventually("disabled", || async { c.get(&format!("/api/v1/webhooks/{hook}")).await.body }, |w| w["enabled"] == false).await;
    assert!(w["disabledReason"].as_str().unwrap().contains("HTTP 503"), "{w}");
    let log = c.get(&format!("/api/v1/webhooks/{hook}/deliveries")).await.expect(200).body;
    assert_eq!(log["items"][0]["status"], "failed", "{log}");
}

#[tokio::test]
async fn webhook_urls_of_internal_addresses_are_refused() {
    let s = Server::start().await;
    let t = s.tenant("Acme").await;
    let c = s.client(&t.key);
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/",
        "http://[::1]/",
        "http://192.168.0.10/",
    ] {
        let r = c.post("/api/v1/webhooks", json!({"url": url})).await.problem(422, "invalid");
        assert_eq!(r.body["field"], "url", "{url}: {}", r.body);
    }
    c.post("/api/v1/webhooks", json!({"url": "ftp://example.com/"})).await.problem(422, "invalid");
    c.post("/api/v1/webhooks", json!({"url": "http://93.184.215.14/hook", "events": ["Agent created"]})).await.problem(422, "invalid");
    let ok =
        c.post("/api/v1/webhooks", json!({"url": "http://93.184.215.14/hook", "events": ["agent.*", "skill.created"]})).await.expect(201);
    c.patch(&format!("/api/v1/webhooks/{}", ok.id()), json!({"url": "http://127.0.0.1/x"})).await.problem(422, "invalid");
}

/// Reads SSE frames from a streaming response until `n` events came.
async fn sse_events(resp: reqwest::Response, n: usize) -> Vec<(i64, String)> {
    let mut resp = resp;
    let mut buf = String::new();
    let mut out = Vec::new();
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while out.len() < n {
        assert!(std::time::Instant::now() < until, "SSE: {out:?} {buf}");
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk()).await.expect("an SSE chunk").unwrap().unwrap();
        buf.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(i) = buf.find("\n\n") {
            let frame: String = buf[..i].to_string();
            buf.drain(..i + 2);
            let mut id = None;
            let mut ty = String::new();
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse().ok();
                } else if let Some(v) = line.strip_prefix("event:") {
                    ty = v.trim().to_string();
                }
            }
            if let Some(id) = id {
                out.push((id, ty));
            }
        }
    }
    out
}

#[tokio::test]
async fn the_event_stream_resumes_from_last_event_id() {
    let s = Server::start().await;
    let t = s.tenant("Acme").await;
    let c = s.client(&t.key);
    for name in ["A", "B", "C"] {
        c.post("/api/v1/skills", json!({"name": name})).await.expect(201);
    }
    let last = all_events(&c, 0).await.last().unwrap()["sequence"].as_i64().unwrap();
    let http = reqwest::Client::new();
    let open = |resume: i64| {
        http.get(s.url("/api/v1/events"))
            .bearer_auth(&t.key)
            .header("accept", "text/event-stream")
            .header("last-event-id", resume.to_string())
            .send()
    };
    let resp = open(last - 2).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let got = sse_events(resp, 2).await;
    assert_eq!(got, vec![(last - 1, "skill.created".to_string()), (last, "skill.created".to_string())]);
    // Live: a write after the stream opened arrives on it.
    let resp = open(last).await.unwrap();
    let c2 = c.clone();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        c2.post("/api/v1/skills", json!({"name": "D"})).await.expect(201);
    });
    let got = sse_events(resp, 1).await;
    writer.await.unwrap();
    assert_eq!(got, vec![(last + 1, "skill.created".to_string())]);
    // Agents may not read events.
    let r = http.get(s.url("/api/v1/events")).header("accept", "text/event-stream").send().await.unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn two_instances_never_deliver_the_same_attempt_twice() {
    let db = Arc::new(TestDb::new());
    let receiver = Receiver::start(|_| (200, Duration::from_millis(5))).await;
    let (s, _d1) = delivering(db.clone(), fast_retries()).await;
    let (_s2, _d2) = delivering(db, fast_retries()).await;
    let t = s.tenant("Acme").await;
    let c = s.client(&t.key);
    // Several subscriptions, so that both instances' workers have work.
    for _ in 0..4 {
        c.post("/api/v1/webhooks", json!({"url": receiver.url, "events": ["skill.*"]})).await.expect(201);
    }
    for i in 0..30 {
        c.post("/api/v1/skills", json!({"name": format!("S{i}")})).await.expect(201);
    }
    let got = receiver.wait_for("120 deliveries", |g| g.len() >= 120, 30).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got_all = receiver.got();
    assert_eq!(got_all.len(), 120, "each event once per subscription");
    let mut per_sig: HashMap<String, usize> = HashMap::new();
    for g in &got {
        *per_sig.entry(format!("{} {}", g.id, g.signature)).or_default() += 1;
    }
    // Each (event, subscription) pair once: an id arrives once per subscription.
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    for g in &got {
        *per_id.entry(g.id.as_str()).or_default() += 1;
    }
    assert!(per_id.values().all(|&n| n == 4), "{per_id:?}");
    assert_eq!(per_id.len(), 30);
}

#[tokio::test]
async fn a_killed_server_loses_no_delivery() {
    let cwd = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    // The first attempt hangs until the server is killed; later ones answer.
    let receiver = Receiver::start(|n| (200, if n == 0 { Duration::from_secs(60) } else { Duration::ZERO })).await;
    let flags = ["--webhook-allow-networks", "127.0.0.0/8", "--webhook-timeout", "1s", "--webhook-retry-schedule", "100ms"];
    let p = Process::serve(cwd.path(), &db, &flags);
    let key = admin_cli(&db, &["admin", "create-tenant", "--name", "Acme"])["apiKey"].as_str().unwrap().to_string();
    let c = p.client(&key);
    c.post("/api/v1/webhooks", json!({"url": receiver.url})).await.expect(201);
    c.post("/api/v1/skills", json!({"name": "Spanish"})).await.expect(201);
    receiver.wait_for("the first attempt", |g| !g.is_empty(), 10).await;
    p.kill();
    let p = Process::serve(cwd.path(), &db, &flags);
    let c = p.client(&key);
    c.post("/api/v1/skills", json!({"name": "French"})).await.expect(201);
    // After the dead instance's lease ends, the event comes again, then the next.
    let got = receiver.wait_for("a redelivery and the next event", |g| g.len() >= 3, 30).await;
    assert_eq!(got[1].id, got[0].id, "the same webhook-id after the kill");
    let b: Value = serde_json::from_str(&got[2].body).unwrap();
    assert_eq!(b["object"]["name"], "French");
}

/// A throwaway CA and a certificate for `localhost` it signed: (CA PEM,
/// chain PEM, key PEM).
fn localhost_certs() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "Webhook test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, "localhost");
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = p.signed_by(&key, &issuer).unwrap();
    (ca_cert.pem(), cert.pem() + &ca_cert.pem(), key.serialize_pem())
}

#[tokio::test]
async fn https_receivers_are_verified_against_the_trusted_cas() {
    let cwd = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let (ca, chain, key_pem) = localhost_certs();
    let ca_file = cwd.path().join("webhook-ca.pem");
    std::fs::write(&ca_file, &ca).unwrap();
    let trusted = Receiver::start_tls(&chain, &key_pem, |_| (200, Duration::ZERO)).await;
    // Another CA's certificate: the same name, signed by nobody trusted.
    let (_, other_chain, other_key) = localhost_certs();
    let untrusted = Receiver::start_tls(&other_chain, &other_key, |_| (200, Duration::ZERO)).await;
    let ca_arg = ca_file.to_str().unwrap();
    let flags = ["--webhook-allow-networks", "127.0.0.0/8", "--webhook-ca-file", ca_arg, "--webhook-retry-schedule", "1h"];
    let p = Process::serve(cwd.path(), &db, &flags);
    let key = admin_cli(&db, &["admin", "create-tenant", "--name", "Acme"])["apiKey"].as_str().unwrap().to_string();
    let c = p.client(&key);
    let good = c.post("/api/v1/webhooks", json!({"url": trusted.url, "events": ["skill.*"]})).await.expect(201).body;
    let bad = c.post("/api/v1/webhooks", json!({"url": untrusted.url})).await.expect(201).body;
    c.post("/api/v1/skills", json!({"name": "Spanish"})).await.expect(201);
    let got = trusted.wait_for("the delivery over TLS", |g| !g.is_empty(), 20).await;
    assert!(verify(good["secret"].as_str().unwrap(), &got[0]), "{got:?}");
    let b: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(b["type"], "skill.created");
    // The untrusted receiver is never sent the event: the handshake fails,
    // the attempt is logged with why, and retried later.
    let log = format!("/api/v1/webhooks/{}/deliveries", bad["id"]);
    let until = std::time::Instant::now() + Duration::from_secs(20);
    let d = loop {
        let items = c.get(&log).await.expect(200).body["items"].clone();
        if items[0]["attempts"].as_i64().unwrap_or(0) >= 1 {
            break items[0].clone();
        }
        assert!(std::time::Instant::now() < until, "no attempt logged: {items}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(d["status"], "pending", "{d}");
    let error = d["lastError"].as_str().unwrap();
    assert!(error.contains("connection failed"), "{error}");
    assert!(untrusted.got().is_empty());

    // A CA file that holds no certificate is refused at start.
    let empty = cwd.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("serve")
        .args(db.cli_args())
        .args(["--listen", "127.0.0.1:0", "--webhook-ca-file", empty.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--webhook-ca-file") && stderr.contains("no PEM certificate"), "{stderr}");
}

#[tokio::test]
async fn webhook_changes_are_audited_and_announced() {
    let db = Arc::new(TestDb::new());
    let receiver = Receiver::start(|_| (200, Duration::ZERO)).await;
    let (s, _d) = delivering(db, fast_retries()).await;
    let t = s.tenant("Acme").await;
    let c = s.client(&t.key);
    let watcher = c.post("/api/v1/webhooks", json!({"url": receiver.url, "events": ["webhook.*"]})).await.expect(201).id();
    // A subscription starts after its own creation: the watcher is not told of itself.
    let other = c.post("/api/v1/webhooks", json!({"url": receiver.url, "events": ["agent.*"]})).await.expect(201);
    let other_id = other.id();
    c.patch(&format!("/api/v1/webhooks/{other_id}"), json!({"events": ["skill.*"]})).await.expect(200);
    c.post(&format!("/api/v1/webhooks/{other_id}/rotate-secret"), json!({})).await.expect(200);
    c.delete(&format!("/api/v1/webhooks/{other_id}")).await.expect(204);
    let got = receiver.wait_for("four webhook events", |g| g.len() >= 4, 20).await;
    let bodies: Vec<Value> = got.iter().map(|g| serde_json::from_str(&g.body).unwrap()).collect();
    let types: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["webhook.created", "webhook.updated", "webhook.updated", "webhook.deleted"], "{bodies:?}");
    assert!(bodies.iter().all(|b| b["objectId"] == json!(other_id)), "{bodies:?}");
    assert_eq!(bodies[1]["changed"], json!(["events"]));
    assert_eq!(bodies[2]["changed"], json!(["previousSecretExpiresAt"]));
    // Never a secret in an event.
    assert!(got.iter().all(|g| !g.body.contains("whsec_")), "{got:?}");
    let audit = c.get("/api/v1/audit?entity=webhook&limit=100").await.expect(200).body;
    let ids: Vec<i64> = audit["items"].as_array().unwrap().iter().map(|e| e["entityId"].as_i64().unwrap()).collect();
    assert_eq!(ids.iter().filter(|&&i| i == other_id).count(), 4, "{audit}");
    assert!(ids.contains(&watcher), "{audit}");
}

#[tokio::test]
async fn events_past_their_retention_are_pruned() {
    let db = Arc::new(TestDb::new());
    // A receiver that is down: the subscription's deliveries wait.
    let receiver = Receiver::start(|_| (503, Duration::ZERO)).await;
    let config = WebhookConfig { retry_schedule: switchboard_http::webhooks::parse_schedule("1h").unwrap(), ..fast_retries() };
    let (s, d) = delivering(db, config).await;
    let t = s.tenant("Acme").await;
    let c = s.client(&t.key);
    let hook = c.post("/api/v1/webhooks", json!({"url": receiver.url})).await.expect(201).id();
    for name in ["Spanish", "French", "German"] {
        c.post("/api/v1/skills", json!({"name": name})).await.expect(201);
    }
    receiver.wait_for("the first attempt", |g| !g.is_empty(), 20).await;
    let before = all_events(&c, 0).await;
    let types: Vec<&str> = before.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types[types.len() - 4..], ["webhook.created", "skill.created", "skill.created", "skill.created"]);
    // Everything older than now goes: events and the delivery log.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let gone = switchboard_http::webhooks::prune(&d, 0).await;
    assert!(gone >= 7, "{gone}");
    assert!(all_events(&c, 0).await.is_empty());
    let log = c.get(&format!("/api/v1/webhooks/{hook}/deliveries")).await.expect(200).body;
    assert_eq!(log["items"], json!([]), "{log}");
    // Numbering goes on after the pruned ones; nothing newer is touched.
    c.post("/api/v1/skills", json!({"name": "Dutch"})).await.expect(201);
    let after = all_events(&c, 0).await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["sequence"], before.last().unwrap()["sequence"].as_i64().unwrap() + 1);
    assert_eq!(switchboard_http::webhooks::prune(&d, 60_000).await, 0);
    assert_eq!(all_events(&c, 0).await.len(), 1);
}

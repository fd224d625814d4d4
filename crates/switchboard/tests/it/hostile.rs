//! Hostile input: every answer is a clear error, the server stays up, and
//! what is stored is exactly what was sent.

use crate::support::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn raw(srv: &Server, request: &[u8]) -> String {
    let mut s = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn malformed_bodies_get_clear_errors_and_the_server_stays_up() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    let post = |body: Vec<u8>| {
        let c = c.clone();
        async move {
            let r = c
                .http
                .post(format!("{}/api/v1/agents", c.base))
                .bearer_auth(c.key.as_ref().unwrap())
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    // Deep nesting, invalid UTF-8, a lone surrogate escape, NUL bytes, not an object.
    for body in [
        "[".repeat(100_000).into_bytes(),
        b"{\"loginId\": \"\xff\xfe\"}".to_vec(),
        br#"{"loginId": "\ud800"}"#.to_vec(),
        b"{\"loginId\": \"a\0b\", \"firstName\": \"x\", \"lastName\": \"y\"}".to_vec(),
        b"42".to_vec(),
    ] {
        let (status, text) = post(body).await;
        assert!(status == 400 || status == 422, "{status} {text}");
        assert!(text.contains("\"code\""), "{text}");
    }
    // A body that is not an object is refused even where every field is
    // optional (serde would read a struct from an array), and writes nothing.
    let keys = c.get("/api/v1/api-keys").await.expect(200).body["items"].as_array().unwrap().len();
    for (path, body) in
        [("/api/v1/api-keys", "[]"), ("/api/v1/api-keys", "[\"x\"]"), ("/api/v1/skills", "[\"s\", \"d\"]"), ("/api/v1/api-keys", "null")]
    {
        let r = c.http.post(format!("{}{path}", c.base)).bearer_auth(c.key.as_ref().unwrap()).body(body).send().await.unwrap();
        assert_eq!(r.status(), 400, "{path} {body}");
        let p: Value = r.json().await.unwrap();
        assert_eq!(
            (p["code"].as_str(), p["detail"].as_str()),
            (Some("bad_request"), Some("invalid JSON body: expected a JSON object")),
            "{p}"
        );
    }
    assert_eq!(c.get("/api/v1/api-keys").await.expect(200).body["items"].as_array().unwrap().len(), keys);
    assert_eq!(c.get("/api/v1/skills").await.expect(200).body["items"].as_array().unwrap().len(), 0);
    // Huge but well-formed lists are checked, not choked on.
    let groups: serde_json::Map<String, Value> = (0..20_000).map(|i| (i.to_string(), json!({"receive_call": "Y"}))).collect();
    let id = c.agent("victim").await;
    let r = reqwest::Client::new()
        .post(format!("{}/api/v2/Agent/updateAgentGroupMapping", srv.base()))
        .body(json!({"userId": t.admin_user_id, "token": t.key, "agentId": id, "group": groups}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 1505);
    // Header floods and oversized heads are refused by the HTTP layer.
    let mut flood = b"GET /healthz HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..2000 {
        flood.extend(format!("X-Flood-{i}: {}\r\n", "v".repeat(50)).as_bytes());
    }
    flood.extend(b"\r\n");
    let answer = raw(&srv, &flood).await;
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 4"), "{answer}");
    // Still serving.
    assert_eq!(c.get("/api/v1/agents").await.status, 200);
    assert_eq!(c.get(&format!("/api/v1/agents/{id}/groups")).await.body, json!([]));
}

#[tokio::test]
async fn quotes_wildcards_and_unicode_are_stored_and_matched_literally() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    let nasty = ["Robert'); DROP TABLE agents;--", "O'Brien \"Bob\" \\ %_*", "名前 Ωμέγα émilie", "مرحبا 👩‍💻 𝔘𝔫𝔦", "x' OR '1'='1"];
    let mut ids = Vec::new();
    for (i, name) in nasty.iter().enumerate() {
        let r = c
            .post("/api/v1/agents", json!({"loginId": format!("n{i}"), "firstName": name, "lastName": name, "email": "a@b.co"}))
            .await
            .expect(201);
        assert_eq!(r.body["lastName"], *name);
        ids.push(r.id());
        let s = c.post("/api/v1/skills", json!({"name": name, "description": name})).await.expect(201);
        assert_eq!(c.get(&format!("/api/v1/skills/{}", s.id())).await.body["description"], *name);
    }
    for (i, name) in nasty.iter().enumerate() {
        assert_eq!(c.get(&format!("/api/v1/agents/{}", ids[i])).await.body["firstName"], *name);
    }
    // Search treats its text literally.
    let q = |s: &str| {
        let c = c.clone();
        let s = s.to_string();
        async move {
            let r = c
                .http
                .get(format!("{}/api/v1/agents", c.base))
                .query(&[("q", s.as_str())])
                .bearer_auth(c.key.as_ref().unwrap())
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()["items"].as_array().unwrap().len()
        }
    };
    assert_eq!(q("%").await, 1, "only the name with a literal %");
    assert_eq!(q("_").await, 1);
    assert_eq!(q("'1'='1").await, 1);
    assert_eq!(q("DROP TABLE").await, 1);
    assert_eq!(q("émilie").await, 1);
    assert_eq!(q("👩‍💻").await, 1);
    assert_eq!(q("\"").await, 1);
    // LiveVox search too.
    let r = reqwest::Client::new()
        .post(format!("{}/configuration/agents/search?count=10&offset=0", srv.base()))
        .bearer_auth(&t.key)
        .body(json!({"lastName": "o'b"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["agent"].as_array().unwrap().len(), 1);
    // The tables are all still there.
    assert_eq!(c.all("/api/v1/agents", 100).await.len(), nasty.len());
}

/// A NUL in a search text matches nothing (no stored field can hold one),
/// and is never handed to the database, whose text search cannot take it
/// (found by contract fuzzing: 500 "unterminated string" from FTS5).
#[tokio::test]
async fn a_nul_in_a_search_text_matches_nothing() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    c.post("/api/v1/agents", json!({"loginId": "abcd", "firstName": "Ab", "lastName": "Abcd", "phone": "5550123"})).await.expect(201);
    for q in ["q=ab%00cd", "loginId=ab%00cd", "lastName=abc%00", "phone=555%000", "q=__main__&loginId=%C3%AA%2Ax%00h&skillId=5530"] {
        let r = c.get(&format!("/api/v1/agents?{q}")).await.expect(200);
        assert_eq!(r.body["items"], json!([]), "{q}");
    }
    let r = reqwest::Client::new()
        .post(format!("{}/configuration/agents/search?count=10&offset=0", srv.base()))
        .bearer_auth(&t.key)
        .body(json!({"lastName": "Ab\u{0}cd"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["agent"], json!([]));
    // Without the NUL, the same texts find the agent.
    assert_eq!(c.get("/api/v1/agents?q=abcd").await.expect(200).body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn password_logins_are_throttled_per_user() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let anon = srv.anonymous();
    let mut statuses = Vec::new();
    for _ in 0..35 {
        let r = anon.post("/api/v1/sessions", json!({"tenant": "acme", "username": "admin", "password": "guess-123456"})).await;
        statuses.push(r.status.as_u16());
    }
    // A burst of 30 is allowed; after that, attempts are refused (the
    // budget refills one every 2 s, so a slow run may see one more 401).
    assert!(statuses[..30].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[30..].iter().filter(|s| **s == 429).count() >= 3, "{statuses:?}");
    // Even the right password waits now (at most one refilled attempt gets through).
    let mut right = Vec::new();
    for _ in 0..3 {
        right.push(
            anon.post("/api/v1/sessions", json!({"tenant": "acme", "username": "admin", "password": t.admin_password}))
                .await
                .status
                .as_u16(),
        );
    }
    assert!(right.iter().filter(|s| **s == 429).count() >= 2, "{right:?}");
    // Another user name is not affected.
    anon.post("/api/v1/sessions", json!({"tenant": "acme", "username": "someone", "password": "guess-123456"}))
        .await
        .problem(401, "unauthenticated");
    // LiveVox logins share the budget.
    let mut lv = Vec::new();
    for _ in 0..3 {
        let r = reqwest::Client::new()
            .post(format!("{}/session/login", srv.base()))
            .header("LV-Access", &t.key)
            .json(&json!({"clientName": "acme", "userName": "admin", "password": t.admin_password}))
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            assert!(r.headers().get("retry-after").is_some());
        }
        lv.push(r.status().as_u16());
    }
    assert!(lv.iter().filter(|s| **s == 429).count() >= 2, "{lv:?}");
}

#[tokio::test]
async fn slow_clients_are_cut_off_and_others_are_served() {
    let srv = Server::start_with(switchboard_http::HttpConfig {
        header_read_timeout: std::time::Duration::from_millis(700),
        ..Default::default()
    })
    .await;
    // A client that sends half a request head and then nothing.
    let mut slow = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
    // Meanwhile others are served.
    assert_eq!(srv.anonymous().get("/healthz").await.status, 200);
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(std::time::Duration::from_secs(5), slow.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "the server closed the slow connection");
    let text = String::from_utf8_lossy(&buf);
    assert!(text.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
}

/// A memory figure of a process from /proc (VmRSS, VmHWM), in MiB.
fn memory_mib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("{field} in {status}"));
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
}

/// One round of hostile load from 64 clients at once: bodies just under and
/// far over the size limit, deep nesting, 20,000-group mappings and password
/// creates (argon2id, 19 MiB of work memory each).
async fn hostile_round(base: &str, key: &str, user: i64, agent: i64, round: usize) {
    let big_string = format!("{{\"loginId\": \"{}\", \"firstName\": \"x\", \"lastName\": \"y\"}}", "a".repeat(1024 * 1024 - 100));
    let nested = "[".repeat(1024 * 1024 - 10);
    let groups: serde_json::Map<String, Value> = (0..20_000).map(|i| (i.to_string(), json!({"receive_call": "Y"}))).collect();
    let mapping = json!({"userId": user, "token": key, "agentId": agent, "group": groups}).to_string();
    let mut tasks = Vec::new();
    for i in 0..64usize {
        let http = reqwest::Client::new();
        let (base, key) = (base.to_string(), key.to_string());
        let body = match i % 5 {
            0 => big_string.clone(),
            1 => nested.clone(),
            2 => mapping.clone(),
            3 => "x".repeat(3 * 1024 * 1024),
            _ => json!({"loginId": format!("mem{round}x{i}"), "firstName": "A", "lastName": "B", "password": format!("Secret{i}pw")})
                .to_string(),
        };
        tasks.push(tokio::spawn(async move {
            let url = if i % 5 == 2 { format!("{base}/api/v2/Agent/updateAgentGroupMapping") } else { format!("{base}/api/v1/agents") };
            let r = http.post(url).bearer_auth(&key).header("content-type", "application/json").body(body).send().await;
            match r {
                // 413 may close the connection before the body is all sent.
                Err(e) => assert!(i % 5 == 3, "request {i}: {e}"),
                Ok(r) => {
                    let status = r.status().as_u16();
                    let expected: &[u16] = match i % 5 {
                        0 | 1 => &[400, 413, 422],
                        2 => &[200],
                        3 => &[413],
                        _ => &[201],
                    };
                    assert!(expected.contains(&status), "request {i}: {status} {}", r.text().await.unwrap_or_default());
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// Memory stays bounded under hostile load: the peak is a bounded multiple
/// of what the requests in flight may hold, and repeated rounds do not grow
/// the process (nothing is kept per bad request).
#[tokio::test]
async fn memory_stays_bounded_under_hostile_load() {
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let t = admin_cli(&db, &["admin", "create-tenant", "--name", "acme"]);
    let key = t["apiKey"].as_str().unwrap().to_string();
    let p = Process::serve(tmp.path(), &db, &["--rate-limit-override", "1000000"]);
    let c = p.client(&key);
    let agent = c.agent("victim").await;
    let user = t["userId"].as_i64().unwrap();
    let pid = p.child.id();
    let idle = memory_mib(pid, "VmRSS");
    hostile_round(&p.base, &key, user, agent, 0).await;
    let after_first = memory_mib(pid, "VmRSS");
    for round in 1..4 {
        hostile_round(&p.base, &key, user, agent, round).await;
    }
    let (after_last, peak) = (memory_mib(pid, "VmRSS"), memory_mib(pid, "VmHWM"));
    eprintln!("memory (MiB): idle {idle}, after round 1 {after_first}, after round 4 {after_last}, peak {peak}");
    // 64 requests of at most 1 MiB each, a few copies each while parsed, and
    // one argon2 memory (19 MiB) per core: well under 400 MiB.
    assert!(peak < 400, "peak RSS {peak} MiB (idle {idle} MiB)");
    assert!(after_last <= after_first + after_first / 4 + 16, "RSS grew from {after_first} to {after_last} MiB over 3 more rounds");
    assert_eq!(c.get("/healthz").await.status, 200);
    p.terminate();
}

/// A NUL in a login's tenant or user name is a failed login (401), not a
/// 500: PostgreSQL refuses NUL in a text parameter, and no stored name holds
/// one (found by the contract fuzzing's stateful phase on PostgreSQL).
#[tokio::test]
async fn a_nul_in_a_login_name_is_a_failed_login() {
    let srv = Server::start().await;
    srv.tenant("acme").await;
    let anon = srv.anonymous();
    for (tenant, user) in [("ac\u{0}me", "admin"), ("acme", "ad\u{0}min"), ("\u{0}", "\u{0}")] {
        anon.post("/api/v1/sessions", json!({"tenant": tenant, "username": user, "password": "Secret123"}))
            .await
            .problem(401, "unauthenticated");
    }
    // Free-form attributes may hold one: stored and read back as sent.
    let t = srv.tenant("beta").await;
    let c = srv.client(&t.key);
    let r =
        c.post("/api/v1/agents", json!({"loginId": "nul", "firstName": "N", "lastName": "Ul", "attributes": {"k\u{0}": "v\u{0}"}})).await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    assert_eq!(r.body["attributes"]["k\u{0}"], "v\u{0}");
}

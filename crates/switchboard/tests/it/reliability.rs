//! Losing nothing and leaking nothing: secrets only as hashes, never in logs;
//! acknowledged writes survive SIGKILL; SIGTERM lets in-flight requests finish.

use crate::support::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Every file of the SQLite database (main file and WAL) as one byte string.
fn sqlite_bytes(db: &TestDb) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        if let Ok(b) = std::fs::read(format!("{}{suffix}", db.url)) {
            all.extend(b);
        }
    }
    all
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn secrets_are_stored_as_hashes_and_never_logged() {
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let t = admin_cli(&db, &["admin", "create-tenant", "--name", "acme"]);
    let (key, admin_pw) = (t["apiKey"].as_str().unwrap().to_string(), t["password"].as_str().unwrap().to_string());
    let log = tmp.path().join("serve.log");
    // The most verbose logging there is, including every SQL statement.
    let p = Process::serve_logged(tmp.path(), &db, &[], &log, "trace");
    let c = p.client(&key);
    let agent_pw = "Sup3rSecretAgentPw";
    let new_pw = "An0therSecretPw";
    let id =
        c.post("/api/v1/agents", json!({"loginId": "sec", "firstName": "S", "lastName": "C", "password": agent_pw})).await.expect(201).id();
    c.patch(&format!("/api/v1/agents/{id}"), json!({"password": new_pw})).await.expect(200);
    let k2 = c.post("/api/v1/api-keys", json!({"name": "second"})).await.expect(201).body["apiKey"].as_str().unwrap().to_string();
    // A LiveVox user login and an agent login, a native session, a bad login.
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/session/login", p.base))
        .header("LV-Access", &key)
        .json(&json!({"clientName": "acme", "userName": "admin", "password": admin_pw}))
        .send()
        .await
        .unwrap();
    let sid = r.json::<Value>().await.unwrap()["sessionId"].as_str().unwrap().to_string();
    let r = http
        .post(format!("{}/session/login", p.base))
        .header("LV-Access", &k2)
        .json(&json!({"clientName": "acme", "userName": "sec", "password": new_pw, "agent": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    http.post(format!("{}/session/login", p.base))
        .header("LV-Access", &key)
        .json(&json!({"clientName": "acme", "userName": "admin", "password": "WrongButSecret9"}))
        .send()
        .await
        .unwrap();
    let ssid = http
        .post(format!("{}/api/v1/sessions", p.base))
        .json(&json!({"tenant": "acme", "username": "admin", "password": admin_pw}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["sessionId"]
        .as_str()
        .unwrap()
        .to_string();
    // Ozonetel with the key in a header and a password in the body.
    http.put(format!("{}/ca_apis/updateAgent", p.base))
        .header("apiKey", &key)
        .json(&json!({"userName": "acme", "agentId": "sec", "agentName": "Sec Agent", "password": "OzPassw0rd", "email": "s@example.com"}))
        .send()
        .await
        .unwrap();
    // DeepCall with the key as token in the body.
    http.post(format!("{}/api/v2/Agent/updateAgentGroupMapping", p.base))
        .body(json!({"userId": t["userId"], "token": key, "agentId": id, "group": {"1": {"receive_call": "Y"}}}).to_string())
        .send()
        .await
        .unwrap();
    assert!(p.terminate().success());

    let secrets =
        [key.as_str(), k2.as_str(), admin_pw.as_str(), agent_pw, new_pw, "WrongButSecret9", "OzPassw0rd", sid.as_str(), ssid.as_str()];
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(logs.len() > 1000 && logs.contains("INSERT INTO agents"), "trace logging was on: {} bytes", logs.len());
    for s in secrets {
        assert!(!logs.contains(s), "a secret ({}…) appears in the log", &s[..4]);
    }
    if !on_postgres() {
        let bytes = sqlite_bytes(&db);
        for s in &secrets[..7] {
            assert!(!contains(&bytes, s), "a secret ({}…) is stored in clear", &s[..4]);
        }
        assert!(contains(&bytes, "$argon2id$v=19$m=19456,t=2,p=1$"), "passwords are argon2id hashes");
    }
}

/// Creates agents (each with two skills, in one request) from several
/// clients until stopped, and raises each one's first proficiency to 4 (a
/// write that SQLite commits in groups); returns what the server
/// acknowledged: login → (id, whether the raise was acknowledged).
async fn writers(base: String, key: String, skills: (i64, i64), round: usize, n: usize) -> BTreeMap<String, (i64, bool)> {
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..4 {
        let c = Client { base: base.clone(), key: Some(key.clone()), http: reqwest::Client::new() };
        tasks.spawn(async move {
            let mut acked = BTreeMap::new();
            for i in 0..n {
                let login = format!("R{round}W{w}N{i}");
                let body = json!({"loginId": login, "firstName": "K", "lastName": "L", "skills": [{"skillId": skills.0, "proficiency": 2}, {"skillId": skills.1, "proficiency": 5}]});
                let Ok(r) = c.http.post(format!("{}/api/v1/agents", c.base)).bearer_auth(c.key.as_ref().unwrap()).json(&body).send().await else { break };
                if r.status() != 201 {
                    continue;
                }
                let Ok(v) = r.json::<Value>().await else { break };
                let id = v["id"].as_i64().unwrap();
                acked.insert(login.clone(), (id, false));
                let raise = c.http.put(format!("{}/api/v1/agents/{id}/skills/{}", c.base, skills.0)).bearer_auth(c.key.as_ref().unwrap()).json(&json!({"proficiency": 4}));
                let Ok(r) = raise.send().await else { break };
                if r.status() == 200 && r.json::<Value>().await.is_ok_and(|v| v["proficiency"] == 4) {
                    acked.insert(login, (id, true));
                }
            }
            acked
        });
    }
    let mut all = BTreeMap::new();
    while let Some(r) = tasks.join_next().await {
        all.extend(r.unwrap());
    }
    all
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let t = admin_cli(&db, &["admin", "create-tenant", "--name", "acme"]);
    let key = t["apiKey"].as_str().unwrap().to_string();
    let mut acked: BTreeMap<String, (i64, bool)> = BTreeMap::new();
    let mut skills = (0, 0);
    for round in 0..3 {
        let p = Process::serve(tmp.path(), &db, &[]);
        let c = p.client(&key);
        if round == 0 {
            skills.0 = c.post("/api/v1/skills", json!({"name": "A"})).await.expect(201).id();
            skills.1 = c.post("/api/v1/skills", json!({"name": "B"})).await.expect(201).id();
        }
        // Everything acknowledged before is still there, whole.
        let listed = c.all("/api/v1/agents", 1000).await;
        let ids: std::collections::BTreeSet<i64> = listed.iter().map(|a| a["id"].as_i64().unwrap()).collect();
        for (login, (id, _)) in &acked {
            assert!(ids.contains(id), "acknowledged agent {login} lost after SIGKILL");
        }
        for a in &listed {
            let skills_of = c.get(&format!("/api/v1/agents/{}/skills", a["id"])).await.expect(200).body;
            assert_eq!(skills_of.as_array().unwrap().len(), 2, "agent {} half-written: {skills_of}", a["loginId"]);
            // Logins are written upper-case already, as they are stored.
            let login = a["loginId"].as_str().unwrap();
            if acked.get(login).is_some_and(|(_, raised)| *raised) {
                let first = skills_of.as_array().unwrap().iter().find(|x| x["skillId"] == skills.0).unwrap();
                assert_eq!(first["proficiency"], 4, "acknowledged raise of {login} lost after SIGKILL");
            }
        }
        // Write from several clients and kill the server in the middle of it.
        let writing = tokio::spawn(writers(p.base.clone(), key.clone(), skills, round, 200));
        // Kill once the writers are well under way (at least 10 new agents,
        // or 5 s): a fixed delay gave a loaded machine no writes to check.
        let before = listed.len();
        let started = std::time::Instant::now();
        tokio::time::sleep(std::time::Duration::from_millis(150 + 100 * round as u64)).await;
        while started.elapsed() < std::time::Duration::from_secs(5) && c.all("/api/v1/agents", 1000).await.len() < before + 10 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        p.kill();
        acked.extend(writing.await.unwrap());
    }
    assert!(acked.len() > 20, "the writers got work done: {}", acked.len());
    let p = Process::serve(tmp.path(), &db, &[]);
    let listed = p.client(&key).all("/api/v1/agents", 1000).await;
    let ids: std::collections::BTreeSet<i64> = listed.iter().map(|a| a["id"].as_i64().unwrap()).collect();
    assert!(acked.values().all(|(id, _)| ids.contains(id)));
    assert!(acked.values().filter(|(_, raised)| *raised).count() > 20, "the raises got done too");
    p.terminate();
    let check = switchboard_store::integrity_check(&db.url, &db.options()).await.unwrap();
    assert_eq!(check, "ok");
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish() {
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let t = admin_cli(&db, &["admin", "create-tenant", "--name", "acme"]);
    let key = t["apiKey"].as_str().unwrap().to_string();
    let p = Process::serve(tmp.path(), &db, &[]);
    // Creates with a password take a while (argon2id), so they are in flight
    // when the signal arrives. Each client first opens its (keep-alive)
    // connection, so the creates reach the server at once.
    let mut tasks = tokio::task::JoinSet::new();
    let ready = std::sync::Arc::new(tokio::sync::Barrier::new(13));
    for i in 0..12 {
        let (base, key, ready) = (p.base.clone(), key.clone(), ready.clone());
        tasks.spawn(async move {
            let http = reqwest::Client::new();
            http.get(format!("{base}/healthz")).send().await.unwrap();
            ready.wait().await;
            let body = json!({"loginId": format!("T{i}"), "firstName": "T", "lastName": "T", "password": "Passw0rd123"});
            http.post(format!("{base}/api/v1/agents")).bearer_auth(key).json(&body).send().await.map(|r| r.status().as_u16())
        });
    }
    ready.wait().await;
    tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    let status = p.terminate();
    assert!(status.success(), "{status:?}");
    let mut done = 0;
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            Ok(s) => {
                assert_eq!(s, 201, "an accepted request must complete");
                done += 1;
            }
            // Requests the server had not started on are refused or their
            // connection closed; none that it processed loses its answer
            // (checked below: stored agents == 201 answers).
            Err(e) => assert!(e.is_connect() || e.is_request(), "{e}"),
        }
    }
    assert!(done > 0, "some requests were in flight");
    let p = Process::serve(tmp.path(), &db, &[]);
    assert_eq!(p.client(&key).all("/api/v1/agents", 100).await.len(), done, "every stored agent was acknowledged");
}

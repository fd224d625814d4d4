//! Several `switchboard serve` processes on one database and one Redis: what
//! one instance writes, another reads; optimistic concurrency, uniqueness,
//! rate limits and sessions hold across instances. PostgreSQL only (the
//! it_pg binary): several processes on one SQLite file is not a deployment
//! we offer. Redis: `SWITCHBOARD_TEST_REDIS_URL` (default redis://127.0.0.1:6379).

use crate::support::*;
use reqwest::Method;
use serde_json::{json, Value};

/// Three instances started at the same moment on a fresh schema (their
/// migrations race; the advisory lock makes that safe).
async fn cluster(db: &TestDb, cwd: &std::path::Path, redis: String) -> Vec<Process> {
    let prefix = format!("sbtest_{}", db.schema.clone().unwrap_or_default());
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let args = db.cli_args();
            let (cwd, prefix, redis) = (cwd.to_path_buf(), prefix.clone(), redis.clone());
            std::thread::spawn(move || Process::serve_with(&cwd, args, &["--redis-url", &redis, "--redis-prefix", &prefix]))
        })
        .collect();
    handles.into_iter().map(|h| h.join().expect("instance started")).collect()
}

#[tokio::test]
async fn instances_share_one_database_and_one_redis() {
    if !on_postgres() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let Some(redis) = redis_url() else { return };
    let nodes = cluster(&db, tmp.path(), redis).await;
    // The tenant is made by the CLI, as an operator would.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["admin", "create-tenant", "--name", "acme"])
        .args(db.cli_args())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let t: Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = t["apiKey"].as_str().unwrap().to_string();
    let (a, b, c) = (nodes[0].client(&key), nodes[1].client(&key), nodes[2].client(&key));

    // Written through one, read through the others.
    let id = a
        .post("/api/v1/agents", json!({"loginId": "shared", "firstName": "S", "lastName": "H", "password": "secret123"}))
        .await
        .expect(201)
        .id();
    assert_eq!(b.get(&format!("/api/v1/agents/{id}")).await.expect(200).body["loginId"], "SHARED");
    assert_eq!(c.get("/api/v1/agents?q=shared").await.expect(200).body["items"].as_array().unwrap().len(), 1);

    // No lost update: two instances write against the same ETag; one wins.
    let etag = a.get(&format!("/api/v1/agents/{id}")).await.header("etag").unwrap();
    b.send(Method::PATCH, &format!("/api/v1/agents/{id}"), Some(json!({"firstName": "B"})), &[("if-match", &etag)]).await.expect(200);
    c.send(Method::PATCH, &format!("/api/v1/agents/{id}"), Some(json!({"firstName": "C"})), &[("if-match", &etag)])
        .await
        .problem(412, "version_mismatch");
    // Another instance hears of the change by notification, after the commit
    // (docs/design.md: "Read your writes"), well under a second even on a
    // loaded machine; the test waits for it rather than racing it.
    let mut first = Value::Null;
    for _ in 0..100 {
        first = a.get(&format!("/api/v1/agents/{id}")).await.body["firstName"].clone();
        if first == "B" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(first, "B");

    // loginId uniqueness under concurrent creates on different instances.
    let mut tasks = tokio::task::JoinSet::new();
    for (i, n) in [a.clone(), b.clone(), c.clone()].into_iter().cycle().take(9).enumerate() {
        let login = if i % 2 == 0 { "race" } else { "RACE" };
        tasks.spawn(
            async move { n.post("/api/v1/agents", json!({"loginId": login, "firstName": "R", "lastName": "C"})).await.status.as_u16() },
        );
    }
    let mut statuses = Vec::new();
    while let Some(s) = tasks.join_next().await {
        statuses.push(s.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [201, 409, 409, 409, 409, 409, 409, 409, 409], "exactly one create wins");

    // A rate limit of 5 a minute holds across the instances in total.
    let update = json!({"userName": "acme", "agentId": "shared", "agentName": "Shared One", "password": "abc", "email": "s@example.com"});
    let mut ok = 0;
    let mut limited = 0;
    for (i, n) in nodes.iter().cycle().take(9).enumerate() {
        let r = reqwest::Client::new()
            .put(format!("{}/ca_apis/updateAgent", n.base))
            .header("apiKey", &key)
            .header("Content-Type", "application/json")
            .body(update.to_string())
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            200 => ok += 1,
            429 => limited += 1,
            s => panic!("request {i}: unexpected {s}: {}", r.text().await.unwrap()),
        }
    }
    assert_eq!((ok, limited), (5, 4));

    // A LiveVox session made on one instance works on the others, and ends everywhere.
    let login = reqwest::Client::new()
        .post(format!("{}/session/login", nodes[0].base))
        .header("LV-Access", &key)
        .json(&json!({"clientName": "acme", "userName": "admin", "password": t["password"], "agent": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let sid = login.json::<Value>().await.unwrap()["sessionId"].as_str().unwrap().to_string();
    let lv = |base: &str, path: &str| reqwest::Client::new().get(format!("{base}{path}")).header("LV-Session", sid.clone()).send();
    assert_eq!(lv(&nodes[1].base, &format!("/configuration/agents/{id}")).await.unwrap().status(), 200);
    assert_eq!(lv(&nodes[2].base, "/configuration/agents/info").await.unwrap().status(), 200);
    let r =
        reqwest::Client::new().delete(format!("{}/session/logout", nodes[2].base)).header("LV-Session", sid.clone()).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(lv(&nodes[0].base, "/configuration/agents/info").await.unwrap().status(), 403);

    // A native session (DeepCall's ssid) made on one works on another.
    let s = reqwest::Client::new()
        .post(format!("{}/api/v1/sessions", nodes[1].base))
        .json(&json!({"tenant": "acme", "username": "admin", "password": t["password"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(s.status(), 201);
    let ssid = s.json::<Value>().await.unwrap()["sessionId"].as_str().unwrap().to_string();
    let group = a.post("/api/v1/groups", json!({"name": "G"})).await.expect(201).id();
    let r = reqwest::Client::new()
        .post(format!("{}/api/v2/Agent/updateAgentGroupMapping", nodes[2].base))
        .body(json!({"ssid": ssid, "agentId": id, "group": {group.to_string(): {"receive_call": "Y"}}}).to_string())
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "success", "{body}");
    assert_eq!(a.get(&format!("/api/v1/agents/{id}/groups")).await.body, json!([{"groupId": group, "receiveCall": true}]));

    for n in nodes {
        assert!(n.terminate().success());
    }
}

/// The agent cache (PostgreSQL): an instance that has an agent or an API key
/// in memory sees every change committed elsewhere — by another instance, by
/// an operator's SQL, by a cascade — and stops serving from memory when its
/// change listener loses its connection.
#[tokio::test]
async fn agent_cache_follows_changes_made_elsewhere() {
    if !on_postgres() {
        return;
    }
    let a = Server::start().await;
    let b = Server::start_on(a.db.clone()).await;
    let t = a.tenant("acme").await;
    let (ca, cb) = (a.client(&t.key), b.client(&t.key));
    let id = ca.post("/api/v1/agents", json!({"loginId": "cached", "firstName": "A", "lastName": "Z"})).await.expect(201).id();
    let skill = ca.post("/api/v1/skills", json!({"name": "Billing"})).await.expect(201).id();
    let path = format!("/api/v1/agents/{id}");
    let read_b = || async { cb.get(&path).await.expect(200).body };
    // B's listener may still be connecting: wait until B serves the agent.
    eventually("agent on B", read_b, |v| v["firstName"] == "A").await;

    // Another instance's writes: a field, a skill, then the skill's deletion
    // (a cascade over every agent that had it).
    ca.patch(&path, json!({"firstName": "Renamed"})).await.expect(200);
    eventually("rename on B", read_b, |v| v["firstName"] == "Renamed").await;
    ca.put(&format!("{path}/skills/{skill}"), json!({"proficiency": 4})).await.expect(200);
    eventually("skill on B", read_b, |v| v["skills"][0]["proficiency"] == 4).await;
    ca.delete(&format!("/api/v1/skills/{skill}")).await.expect(204);
    eventually("cascade on B", read_b, |v| v["skills"].as_array().is_some_and(Vec::is_empty)).await;

    // An operator's SQL, past every Switchboard instance.
    psql(&a.db, &format!("UPDATE agents SET last_name = 'FromSql' WHERE id = {id}"));
    eventually("SQL on B", read_b, |v| v["lastName"] == "FromSql").await;

    // A revoked key stops working on the instance that had it in memory.
    let k = ca.post("/api/v1/api-keys", json!({"name": "short-lived"})).await.expect(201);
    let (kid, key) = (k.id(), k.body["apiKey"].as_str().unwrap().to_string());
    let by_key = b.client(&key);
    by_key.get(&path).await.expect(200);
    ca.delete(&format!("/api/v1/api-keys/{kid}")).await.expect(204);
    // At once: B keeps no copy of its own beyond what the notification
    // clears (there was a 2 s cache in front of it, which nothing could
    // clear from another instance); the pause covers delivery on a busy
    // machine only.
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    assert_eq!(by_key.get(&path).await.status.as_u16(), 401, "the revoked key is refused by B at once");

    // The listener's connection dies, and a change commits while it is down:
    // B must not answer from memory what it can no longer keep up to date.
    let schema = a.db.schema.clone().unwrap();
    let killed = psql(
        &a.db,
        &format!("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'switchboard-listen' AND query LIKE '%sb:{schema}%'"),
    );
    assert_eq!(killed.trim(), "2", "one listener per instance");
    psql(&a.db, &format!("UPDATE agents SET first_name = 'WhileDown' WHERE id = {id}"));
    eventually("change made while the listener was down", read_b, |v| v["firstName"] == "WhileDown").await;
    // It listens again, and keeps following changes.
    let listening = || async {
        json!(psql(
            &a.db,
            &format!("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'switchboard-listen' AND query LIKE '%sb:{schema}%'")
        )
        .trim())
    };
    eventually("listeners back", listening, |v| v == "2").await;
    read_b().await;
    ca.patch(&path, json!({"firstName": "After"})).await.expect(200);
    eventually("rename after reconnect", read_b, |v| v["firstName"] == "After").await;
}

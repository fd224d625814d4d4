//! Integrity and login safety (issue 21): an id names one object forever,
//! every password login is throttled the same way, failed logins are logged
//! and counted, files are private, and commands that only read never create
//! a database.

use crate::support::*;
use reqwest::header::{COOKIE, RETRY_AFTER, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// The audit events that name `entity` `id`.
async fn history(c: &Client, entity: &str, id: i64) -> Vec<Value> {
    c.get(&format!("/api/v1/audit?entity={entity}&entityId={id}&limit=100")).await.expect(200).body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_deleted_objects_id_is_never_given_again() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);

    // Agents: the newest is deleted, then another is created.
    let a1 = c.post("/api/v1/agents", json!({"loginId": "a1", "firstName": "A", "lastName": "One"})).await.expect(201).id();
    let a2 = c.post("/api/v1/agents", json!({"loginId": "a2", "firstName": "A", "lastName": "Two"})).await.expect(201);
    let (a2_id, a2_etag) = (a2.id(), a2.header("etag").unwrap());
    c.delete(&format!("/api/v1/agents/{a2_id}")).await.expect(204);
    let a3 = c.post("/api/v1/agents", json!({"loginId": "a3", "firstName": "A", "lastName": "Three"})).await.expect(201).id();
    assert!(a3 > a2_id && a2_id > a1, "a new id: {a1} {a2_id} {a3}");
    c.get(&format!("/api/v1/agents/{a2_id}")).await.problem(404, "not_found");
    let h = history(&c, "agent", a3).await;
    assert_eq!(h.len(), 1, "only its own creation: {h:?}");
    assert_eq!(h[0]["action"], "create");
    assert_eq!(h[0]["after"]["loginId"], "A3");
    assert_eq!(history(&c, "agent", a2_id).await.len(), 2, "the deleted agent keeps its own history (create, delete)");
    // The deleted agent's ETag matches nothing.
    c.send(Method::PATCH, &format!("/api/v1/agents/{a2_id}"), Some(json!({"lastName": "X"})), &[("if-match", &a2_etag)])
        .await
        .problem(404, "not_found");
    assert_eq!(c.get(&format!("/api/v1/agents/{a3}")).await.body["lastName"], "Three");

    // Skills.
    let s1 = c.post("/api/v1/skills", json!({"name": "Spanish"})).await.expect(201).id();
    c.delete(&format!("/api/v1/skills/{s1}")).await.expect(204);
    let s2 = c.post("/api/v1/skills", json!({"name": "French"})).await.expect(201).id();
    assert!(s2 > s1, "{s1} {s2}");
    let h = history(&c, "skill", s2).await;
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0]["after"]["name"], "French");

    // Users.
    let u1 = c.post("/api/v1/users", json!({"username": "mia", "role": "manager", "password": "Secret12345"})).await.expect(201).id();
    c.delete(&format!("/api/v1/users/{u1}")).await.expect(204);
    let u2 = c.post("/api/v1/users", json!({"username": "noa", "role": "manager", "password": "Secret12345"})).await.expect(201).id();
    assert!(u2 > u1, "{u1} {u2}");
    let h = history(&c, "user", u2).await;
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0]["after"]["username"], "noa");

    // And after a restart (SQLite keeps the high-water mark in the file).
    let srv = srv.restart().await;
    let c = srv.client(&t.key);
    c.delete(&format!("/api/v1/agents/{a3}")).await.expect(204);
    let a4 = c.post("/api/v1/agents", json!({"loginId": "a4", "firstName": "A", "lastName": "Four"})).await.expect(201).id();
    assert!(a4 > a3, "{a3} {a4}");
}

/// The kinds of the release fixture and where the native API serves them.
const KINDS: [(&str, &str); 10] = [
    ("skill", "skills"),
    ("call_center", "call-centers"),
    ("service", "services"),
    ("group", "groups"),
    ("phone", "phones"),
    ("did", "dids"),
    ("campaign", "campaigns"),
    ("agent", "agents"),
    ("user", "users"),
    ("api_key", "api-keys"),
];

fn label(x: &Value) -> Value {
    ["loginId", "name", "username", "number"].iter().map(|k| &x[*k]).find(|v| !v.is_null()).cloned().unwrap_or(Value::Null)
}

/// A database written by the release before migration 0008 (made by
/// `scripts/make-release-fixture.py` with that release's binary: objects
/// created, the newest of each kind deleted), opened by this one.
#[tokio::test]
async fn a_database_of_the_previous_release_keeps_every_id() {
    if on_postgres() {
        return;
    }
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../store/tests/fixtures");
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(fixtures.join("release-0007.json")).unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("switchboard.db");
    std::fs::copy(fixtures.join("release-0007.db"), &db).unwrap();
    let db_args = vec!["--database-url".to_string(), db.to_str().unwrap().to_string()];

    // The operator's first command with the new release migrates the file.
    let out =
        Command::new(BIN).args(["admin", "create-api-key", "--tenant", "acme", "--username", "admin"]).args(&db_args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = serde_json::from_slice::<Value>(&out.stdout).unwrap()["apiKey"].as_str().unwrap().to_string();

    let node = Process::serve_with(tmp.path(), db_args.clone(), &[]);
    let c = node.client(&key);
    // Every id still names its object.
    for (kind, path) in KINDS {
        for (id, name) in manifest["remaining"][kind].as_object().unwrap() {
            let got = c.get(&format!("/api/v1/{path}/{id}")).await.expect(200).body;
            assert_eq!(&label(&got), name, "{kind} {id}");
        }
    }
    // The history is whole: every event of the fixture, plus the new key's.
    let audit = c.all("/api/v1/audit", 1000).await;
    assert_eq!(audit.len() as u64, manifest["audit_events"].as_u64().unwrap() + 1);
    // A new object of each kind gets an id above every id ever given.
    let given = &manifest["given"];
    let skill = c.post("/api/v1/skills", json!({"name": "New skill"})).await.expect(201).id();
    let center = c.post("/api/v1/call-centers", json!({"name": "New center"})).await.expect(201).id();
    let service = c.post("/api/v1/services", json!({"name": "New service", "callCenterId": 1})).await.expect(201).id();
    let group = c.post("/api/v1/groups", json!({"name": "New group"})).await.expect(201).id();
    let phone = c.post("/api/v1/phones", json!({"name": "New phone", "number": "5559999"})).await.expect(201).id();
    let did = c.post("/api/v1/dids", json!({"number": "18005559999"})).await.expect(201).id();
    let campaign = c.post("/api/v1/campaigns", json!({"name": "New campaign"})).await.expect(201).id();
    let agent = c.post("/api/v1/agents", json!({"loginId": "fresh", "firstName": "F", "lastName": "Resh"})).await.expect(201).id();
    let user = c.post("/api/v1/users", json!({"username": "fresh", "role": "agent", "password": "Secret12345"})).await.expect(201).id();
    let api_key = c.post("/api/v1/api-keys", json!({"name": "fresh"})).await.expect(201).id();
    for (kind, id) in [
        ("skill", skill),
        ("call_center", center),
        ("service", service),
        ("group", group),
        ("phone", phone),
        ("did", did),
        ("campaign", campaign),
        ("agent", agent),
        ("user", user),
        ("api_key", api_key),
    ] {
        assert!(id > given[kind].as_i64().unwrap(), "{kind}: {id} is above every id ever given ({})", given[kind]);
        let h = history(&c, kind, id).await;
        assert_eq!(h.len(), 1, "{kind} {id} has only its own history: {h:?}");
    }
    let audit_after = c.get("/api/v1/audit?limit=1").await.expect(200).body["items"][0]["id"].as_i64().unwrap();
    assert!(audit_after > given["audit_event"].as_i64().unwrap());
    drop(node);
    let check = switchboard_store::integrity_check(db.to_str().unwrap(), &switchboard_store::StoreOptions::default()).await.unwrap();
    assert_eq!(check, "ok");
}

// ---- login throttling ----------------------------------------------------------

/// The console's sign-in form, posted once; its status and Retry-After.
async fn console_sign_in(base: &str, tenant: &str, user: &str, password: &str) -> (StatusCode, Option<String>) {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = http.get(format!("{base}/login")).send().await.unwrap();
    let pre = page
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("sb_login_csrf=").map(|r| r.split(';').next().unwrap().to_string()))
        .expect("a sign-in CSRF cookie");
    let r = http
        .post(format!("{base}/login"))
        .header(COOKIE, format!("sb_login_csrf={pre}"))
        .form(&[("_csrf", pre.as_str()), ("tenant", tenant), ("username", user), ("password", password), ("next", "/agents")])
        .send()
        .await
        .unwrap();
    (r.status(), r.headers().get(RETRY_AFTER).map(|v| v.to_str().unwrap().to_string()))
}

async fn native_login(base: &str, tenant: &str, user: &str, password: &str) -> (StatusCode, Option<String>) {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/sessions"))
        .json(&json!({"tenant": tenant, "username": user, "password": password}))
        .send()
        .await
        .unwrap();
    (r.status(), r.headers().get(RETRY_AFTER).map(|v| v.to_str().unwrap().to_string()))
}

async fn livevox_login(base: &str, key: &str, tenant: &str, user: &str, password: &str) -> (StatusCode, Option<String>) {
    let r = reqwest::Client::new()
        .post(format!("{base}/session/login"))
        .header("LV-Access", key)
        .json(&json!({"clientName": tenant, "userName": user, "password": password}))
        .send()
        .await
        .unwrap();
    (r.status(), r.headers().get(RETRY_AFTER).map(|v| v.to_str().unwrap().to_string()))
}

/// 30 refused guesses (`denied`: the path's documented refusal), then 429
/// with Retry-After (the budget refills one attempt every 2 s, so a slow run
/// may see one more refusal than 30).
fn assert_throttled_after_30(path: &str, denied: u16, statuses: &[(StatusCode, Option<String>)]) {
    let codes: Vec<u16> = statuses.iter().map(|(s, _)| s.as_u16()).collect();
    assert!(codes[..30].iter().all(|s| *s == denied), "{path}: {codes:?}");
    let refused: Vec<_> = statuses[30..].iter().filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS).collect();
    assert!(refused.len() >= 3, "{path}: {codes:?}");
    for (_, retry) in refused {
        let secs: u64 = retry.as_deref().expect("Retry-After on 429").parse().unwrap();
        assert!((1..=60).contains(&secs), "{path}: Retry-After {secs}");
    }
}

#[tokio::test]
async fn every_password_login_is_throttled() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    for u in ["carla", "nate", "lena"] {
        c.post("/api/v1/users", json!({"username": u, "role": "manager", "password": "Secret12345"})).await.expect(201);
    }
    let base = srv.base();
    // The console.
    let mut seen = Vec::new();
    for _ in 0..35 {
        seen.push(console_sign_in(&base, "acme", "carla", "guess-123456").await);
    }
    assert_throttled_after_30("console", 401, &seen);
    // Even the right password waits now, on every surface: one budget.
    assert_eq!(console_sign_in(&base, "acme", "carla", "Secret12345").await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(native_login(&base, "acme", "carla", "Secret12345").await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(livevox_login(&base, &t.key, "acme", "carla", "Secret12345").await.0, StatusCode::TOO_MANY_REQUESTS);

    // Native sessions.
    let mut seen = Vec::new();
    for _ in 0..35 {
        seen.push(native_login(&base, "acme", "nate", "guess-123456").await);
    }
    assert_throttled_after_30("native", 401, &seen);
    assert_eq!(console_sign_in(&base, "acme", "nate", "Secret12345").await.0, StatusCode::TOO_MANY_REQUESTS);

    // LiveVox.
    let mut seen = Vec::new();
    for _ in 0..35 {
        seen.push(livevox_login(&base, &t.key, "acme", "lena", "guess-123456").await);
    }
    assert_throttled_after_30("livevox", 403, &seen);
    assert_eq!(native_login(&base, "acme", "lena", "Secret12345").await.0, StatusCode::TOO_MANY_REQUESTS);

    // Guessing tenants is throttled too.
    let mut seen = Vec::new();
    for _ in 0..35 {
        seen.push(native_login(&base, "no-such-tenant", "admin", "guess-123456").await);
    }
    assert_throttled_after_30("unknown tenant", 401, &seen);

    // Other users are not affected.
    assert_eq!(console_sign_in(&base, "acme", "admin", &t.admin_password).await.0, StatusCode::SEE_OTHER);
}

/// Two instances sharing Redis share each user's budget.
#[tokio::test]
async fn the_login_budget_holds_across_instances() {
    if !on_postgres() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let Some(redis) = redis_url() else { return };
    let prefix = format!("sbtest_login_{}", db.schema.clone().unwrap());
    let a = Process::serve(tmp.path(), &db, &["--redis-url", &redis, "--redis-prefix", &prefix]);
    let b = Process::serve(tmp.path(), &db, &["--redis-url", &redis, "--redis-prefix", &prefix]);
    let t = admin_cli(&db, &["admin", "create-tenant", "--name", "acme"]);
    let password = t["password"].as_str().unwrap();
    let mut seen = Vec::new();
    for i in 0..35 {
        let node = if i % 2 == 0 { &a } else { &b };
        seen.push(if i % 3 == 0 {
            console_sign_in(&node.base, "acme", "admin", "guess-123456").await
        } else {
            native_login(&node.base, "acme", "admin", "guess-123456").await
        });
    }
    assert_throttled_after_30("two instances", 401, &seen);
    assert_eq!(native_login(&a.base, "acme", "admin", password).await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(console_sign_in(&b.base, "acme", "admin", password).await.0, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn failed_logins_are_logged_and_counted_never_the_password() {
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let t = admin_cli(&db, &["admin", "create-tenant", "--name", "acme"]);
    let key = t["apiKey"].as_str().unwrap();
    let log = tmp.path().join("serve.log");
    let node = Process::serve_logged(tmp.path(), &db, &[], &log, "info");
    let secret = "Hunter2-never-logged";
    assert_eq!(native_login(&node.base, "acme", "admin", secret).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(console_sign_in(&node.base, "acme", "admin", secret).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(livevox_login(&node.base, key, "acme", "nobody", secret).await.0, StatusCode::FORBIDDEN);
    let metrics = reqwest::get(format!("{}/metrics", node.base)).await.unwrap().text().await.unwrap();
    for surface in ["native", "console", "livevox"] {
        let line = metrics
            .lines()
            .find(|l| {
                l.starts_with("switchboard_login_failures_total{")
                    && l.contains(&format!("surface=\"{surface}\""))
                    && l.contains("reason=\"bad_credentials\"")
            })
            .unwrap_or_else(|| panic!("a {surface} failure counted: {metrics}"));
        assert!(line.ends_with(" 1"), "{line}");
    }
    drop(node);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains(secret), "the password is never logged: {text}");
    let refusals: Vec<&str> = text.lines().filter(|l| l.contains("login refused")).collect();
    assert_eq!(refusals.len(), 3, "{text}");
    for (line, (surface, user)) in refusals.iter().zip([("native", "admin"), ("console", "admin"), ("livevox", "nobody")]) {
        assert!(line.contains("WARN"), "{line}");
        for part in [format!("surface=\"{surface}\""), "tenant=\"acme\"".into(), format!("username=\"{user}\""), "client=127.0.0.1".into()]
        {
            assert!(line.contains(&part), "{part} in {line}");
        }
    }
}

// ---- files -----------------------------------------------------------------------

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o777
}

fn cli(cwd: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).current_dir(cwd).env_remove("SWITCHBOARD_DATABASE_URL").output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_and_what_the_cli_writes_are_private() {
    if on_postgres() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    // serve creates the default file; its WAL and shared-memory files follow.
    let node = Process::serve_with(cwd, vec![], &[]);
    let (ok, out, err) = cli(cwd, &["admin", "create-tenant", "--name", "acme"]);
    assert!(ok, "{err}");
    let key = serde_json::from_str::<Value>(&out).unwrap()["apiKey"].as_str().unwrap().to_string();
    node.client(&key).post("/api/v1/skills", json!({"name": "Spanish"})).await.expect(201);
    for f in ["switchboard.db", "switchboard.db-wal", "switchboard.db-shm"] {
        assert_eq!(mode(&cwd.join(f)), 0o600, "{f}");
    }
    drop(node);
    // Import report, rejected rows and export files.
    std::fs::write(cwd.join("agents.csv"), "loginId,firstName,lastName\njdoe,John,Doe\nbad id,,\n").unwrap();
    let (_, _, err) = cli(cwd, &["import", "agents", "agents.csv", "--tenant", "acme", "--mode", "best-effort"]);
    assert_eq!(mode(&cwd.join("agents.report.json")), 0o600, "{err}");
    assert_eq!(mode(&cwd.join("agents.errors.csv")), 0o600, "{err}");
    // An existing file written again is made private too.
    std::fs::write(cwd.join("out.csv"), "old").unwrap();
    std::fs::set_permissions(cwd.join("out.csv"), std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let (ok, _, err) = cli(cwd, &["export", "agents", "--tenant", "acme", "--output", "out.csv"]);
    assert!(ok, "{err}");
    assert_eq!(mode(&cwd.join("out.csv")), 0o600);
    assert!(std::fs::read_to_string(cwd.join("out.csv")).unwrap().contains("JDOE"));
    // A database made by the CLI is private from its first byte too.
    let (ok, _, err) = cli(cwd, &["admin", "create-tenant", "--name", "beta", "--database-url", "other.db"]);
    assert!(ok, "{err}");
    assert_eq!(mode(&cwd.join("other.db")), 0o600);
}

#[tokio::test]
async fn commands_that_only_read_never_create_a_database() {
    if on_postgres() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    std::fs::write(cwd.join("agents.csv"), "loginId,firstName,lastName\njdoe,John,Doe\n").unwrap();
    for args in [
        vec!["admin", "list-tenants"],
        vec!["export", "agents", "--tenant", "acme"],
        vec!["import", "agents", "agents.csv", "--tenant", "acme"],
        vec!["admin", "create-user", "--tenant", "acme", "--username", "u", "--role", "manager"],
        vec!["admin", "create-api-key", "--tenant", "acme", "--username", "admin"],
    ] {
        let mut args = args.clone();
        args.extend(["--database-url", "./typo.db"]);
        let (ok, out, err) = cli(cwd, &args);
        assert!(!ok, "{args:?} fails: {out}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: one line: {err}");
        assert!(err.starts_with("error: ") && err.contains("typo.db does not exist"), "{args:?}: {err}");
        let left: Vec<_> = std::fs::read_dir(cwd)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("typo"))
            .collect();
        assert!(left.is_empty(), "{args:?} left {left:?}");
    }
    // The commands that start a database may create it.
    let (ok, _, err) = cli(cwd, &["admin", "migrate", "--database-url", "./new.db"]);
    assert!(ok, "{err}");
    assert!(cwd.join("new.db").exists());
    let (ok, out, err) = cli(cwd, &["admin", "list-tenants", "--database-url", "./new.db"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "[]");
}

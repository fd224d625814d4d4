//! The real `switchboard` binary: admin commands against the database file,
//! also while `switchboard serve` runs on it.

use crate::support::{on_postgres, Process, TestDb};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

fn run(cwd: &Path, args: &[&str]) -> (bool, Value, String) {
    let out = Command::new(BIN).args(args).current_dir(cwd).env_remove("SWITCHBOARD_DATABASE_URL").output().expect("run switchboard");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    (out.status.success(), serde_json::from_str(&stdout).unwrap_or(Value::Null), stderr)
}

/// `args` followed by the flags that select the test's database.
fn on(db: &TestDb, args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).chain(db.cli_args()).collect()
}

fn run_on(cwd: &Path, db: &TestDb, args: &[&str]) -> (bool, Value, String) {
    let args = on(db, args);
    run(cwd, &args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn serve(cwd: &Path, db: &TestDb) -> (Process, String) {
    let p = Process::serve(cwd, db, &[]);
    let base = p.base.clone();
    (p, base)
}

fn terminate(p: Process) -> std::process::ExitStatus {
    p.terminate()
}

#[tokio::test]
async fn admin_commands_work_while_serve_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let db = &db;

    let (ok, t, err) = run_on(tmp.path(), db, &["admin", "create-tenant", "--name", "acme", "--client-id", "1001"]);
    assert!(ok, "{err}");
    for k in ["tenantId", "tenantName", "clientId", "userId", "username", "password", "apiKey"] {
        assert!(!t[k].is_null(), "create-tenant prints {k}: {t}");
    }
    assert_eq!(t["tenantName"], "acme");
    assert_eq!(t["clientId"], 1001);
    assert_eq!(t["username"], "admin");
    let admin_key = t["apiKey"].as_str().unwrap().to_string();
    assert!(!err.contains(&admin_key) && !err.contains(t["password"].as_str().unwrap()), "secrets never logged: {err}");

    let (server, base) = serve(tmp.path(), db);
    let http = reqwest::Client::new();
    let r = http.get(format!("{base}/api/v1/tenant")).bearer_auth(&admin_key).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // A user made by the CLI while the server runs can work at once.
    let (ok, u, err) = run_on(
        tmp.path(),
        db,
        &["admin", "create-user", "--tenant", "acme", "--username", "bob", "--role", "manager", "--power", "administer_agents"],
    );
    assert!(ok, "{err}");
    for k in ["userId", "username", "password", "apiKey"] {
        assert!(!u[k].is_null(), "create-user prints {k}: {u}");
    }
    let r = http
        .post(format!("{base}/api/v1/agents"))
        .bearer_auth(u["apiKey"].as_str().unwrap())
        .json(&json!({"loginId": "cli1", "firstName": "C", "lastName": "L"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let (ok, k, err) = run_on(tmp.path(), db, &["admin", "create-api-key", "--tenant", "acme", "--username", "bob"]);
    assert!(ok, "{err}");
    assert_eq!(k.as_object().unwrap().keys().collect::<Vec<_>>(), ["apiKey", "scope"]);
    assert_eq!(k["scope"], "api");
    let r = http.get(format!("{base}/api/v1/agents")).bearer_auth(k["apiKey"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(r.status(), 200);

    let (ok, list, err) = run_on(tmp.path(), db, &["admin", "list-tenants"]);
    assert!(ok, "{err}");
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "acme");

    // Mistakes are clear errors with a failing exit code.
    let (ok, _, err) = run_on(tmp.path(), db, &["admin", "create-tenant", "--name", "ACME"]);
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = run_on(tmp.path(), db, &["admin", "create-user", "--tenant", "nope", "--username", "x", "--role", "agent"]);
    assert!(!ok && err.contains("not found"), "{err}");
    let (ok, _, err) = run_on(tmp.path(), db, &["admin", "create-user", "--tenant", "acme", "--username", "x", "--role", "king"]);
    assert!(!ok && err.contains("sysadmin"), "{err}");

    // SIGTERM stops the server cleanly; the data is there on the next start.
    let status = terminate(server);
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    let (server, base) = serve(tmp.path(), db);
    let r: Value = http.get(format!("{base}/api/v1/agents")).bearer_auth(&admin_key).send().await.unwrap().json().await.unwrap();
    assert_eq!(r["items"][0]["loginId"], "CLI1");
    terminate(server);
}

#[test]
fn default_database_is_switchboard_db_in_the_working_directory() {
    if on_postgres() {
        return; // about the SQLite default only
    }
    let tmp = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(tmp.path(), &["admin", "create-tenant", "--name", "default-db"]);
    assert!(ok, "{err}");
    assert!(tmp.path().join("switchboard.db").exists());
    let (ok, list, _) = run(tmp.path(), &["admin", "list-tenants"]);
    assert!(ok);
    assert_eq!(list[0]["name"], "default-db");
}

#[test]
fn help_is_available_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["admin", "--help"],
        &["admin", "create-tenant", "--help"],
        &["admin", "create-user", "--help"],
        &["admin", "create-api-key", "--help"],
        &["admin", "list-tenants", "--help"],
    ] {
        let out = Command::new(BIN).args(args).current_dir(tmp.path()).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"), "{args:?}");
    }
}

#[test]
fn admin_set_setting_sets_scim_delete_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let db = &db;
    let (ok, _, err) = run_on(tmp.path(), db, &["admin", "create-tenant", "--name", "scimcli"]);
    assert!(ok, "{err}");
    let (ok, s, err) = run_on(tmp.path(), db, &["admin", "set-setting", "--tenant", "scimcli", "scimDeleteMode", "delete"]);
    assert!(ok, "{err}");
    assert_eq!(s["scimDeleteMode"], "delete", "{s}");
    // JSON values too; the same checks as the API's.
    let (ok, s, err) = run_on(tmp.path(), db, &["admin", "set-setting", "--tenant", "scimcli", "agentLockoutThreshold", "7"]);
    assert!(ok, "{err}");
    assert_eq!((s["agentLockoutThreshold"].clone(), s["scimDeleteMode"].clone()), (json!(7), json!("delete")));
    let (ok, _, err) = run_on(tmp.path(), db, &["admin", "set-setting", "--tenant", "scimcli", "scimDeleteMode", "archive"]);
    assert!(!ok && err.contains("settings"), "{err}");
    let (ok, _, err) = run_on(tmp.path(), db, &["admin", "set-setting", "--tenant", "scimcli", "noSuchSetting", "1"]);
    assert!(!ok && err.contains("noSuchSetting"), "{err}");
}

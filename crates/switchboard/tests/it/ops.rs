//! What an operator meets: the configuration (flag > env > file > default,
//! secrets from files, `config show`), logs (one JSON line per request,
//! parsed whole), `/metrics` in Prometheus conventions, and the CLI's polish
//! (completions, man page, version, one-line errors, admin commands).

use crate::support::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// The binary with a clean environment (no SWITCHBOARD_* or RUST_LOG of
/// the caller's).
fn cmd(cwd: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(cwd);
    for (k, _) in std::env::vars() {
        if k.starts_with("SWITCHBOARD_") || k == "RUST_LOG" || k == "RUST_BACKTRACE" {
            c.env_remove(k);
        }
    }
    c
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// The line of `config show` for `key`.
fn shown<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(&format!("{key} = ")) || l.starts_with(&format!("# {key}:")))
        .unwrap_or_else(|| panic!("no {key} in {out}"))
}

#[test]
fn configuration_precedence_is_flag_env_file_default() {
    if on_postgres() {
        return; // no database involved
    }
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("redis_url");
    std::fs::write(&secret, "rediss://default:s3cret-redis@cache.example:6380\n").unwrap();
    let file = tmp.path().join("switchboard.toml");
    std::fs::write(
        &file,
        format!(
            "# every kind of key\nlisten = \"0.0.0.0:7000\"\ndb-max-connections = 3\nsession_idle_minutes = 30\nrate_limit_override = 50\n\
             database_url = \"postgres://sb:s3cret-pg@db.example/sb?sslmode=verify-full\"\nno_name_index = true\nredis_url_file = \"{}\"\nlog_format = \"json\"\n",
            secret.display()
        ),
    )
    .unwrap();
    let o = cmd(tmp.path())
        .args(["--config", file.to_str().unwrap(), "config", "show", "--session-idle-minutes", "5"])
        .env("SWITCHBOARD_DB_MAX_CONNECTIONS", "12")
        .env("SWITCHBOARD_SESSION_IDLE_MINUTES", "60")
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let from_file = format!("# config file {}", file.display());
    // flag > env > file
    assert_eq!(shown(&out, "session_idle_minutes"), "session_idle_minutes = 5  # flag");
    // env > file
    assert_eq!(shown(&out, "db_max_connections"), "db_max_connections = 12  # env SWITCHBOARD_DB_MAX_CONNECTIONS");
    // file > default, for strings, numbers, booleans and dashes in keys
    assert_eq!(shown(&out, "listen"), format!("listen = \"0.0.0.0:7000\"  {from_file}"));
    assert_eq!(shown(&out, "rate_limit_override"), format!("rate_limit_override = 50  {from_file}"));
    assert_eq!(shown(&out, "no_name_index"), format!("no_name_index = true  {from_file}"));
    assert_eq!(shown(&out, "log_format"), format!("log_format = \"json\"  {from_file}"));
    // default
    assert_eq!(shown(&out, "redis_prefix"), "redis_prefix = \"switchboard\"  # default");
    assert_eq!(shown(&out, "metrics_listen"), "# metrics_listen: not set");
    // Secrets: read from the file a `_file` key names; shown redacted.
    assert_eq!(shown(&out, "database_url"), format!("database_url = \"postgres://sb:***@db.example/sb?sslmode=verify-full\"  {from_file}"));
    assert_eq!(shown(&out, "redis_url"), format!("redis_url = \"rediss://default:***@cache.example:6380\"  {from_file}"));
    assert!(!out.contains("s3cret"), "{out}");

    // SWITCHBOARD_CONFIG names the file too; *_FILE in the environment beats the file's value.
    let env_secret = tmp.path().join("db_url");
    std::fs::write(&env_secret, "postgres://ops:env-s3cret@other.example/sb").unwrap();
    let o = cmd(tmp.path())
        .args(["config", "show"])
        .env("SWITCHBOARD_CONFIG", &file)
        .env("SWITCHBOARD_DATABASE_URL_FILE", &env_secret)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(shown(&out, "database_url"), "database_url = \"postgres://ops:***@other.example/sb\"  # env SWITCHBOARD_DATABASE_URL_FILE");
    assert_eq!(shown(&out, "listen"), format!("listen = \"0.0.0.0:7000\"  {from_file}"));

    // The output is itself a configuration file the binary reads.
    let again = tmp.path().join("shown.toml");
    std::fs::write(&again, out.replace("***", "x")).unwrap();
    let o = cmd(tmp.path()).args(["--config", again.to_str().unwrap(), "config", "show"]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o).1);

    // Mistakes in the file are one-line errors naming it.
    for (body, says) in [("bogus = 1\n", "unknown setting `bogus`"), ("listen = [1]\n", "must be a string"), ("listen = \n", "config file")]
    {
        std::fs::write(&file, body).unwrap();
        let o = cmd(tmp.path()).args(["--config", file.to_str().unwrap(), "config", "show"]).output().unwrap();
        let (_, err) = text(&o);
        assert!(!o.status.success() && err.contains(says) && err.trim().lines().count() == 1, "{body}: {err}");
    }
    let o = cmd(tmp.path()).args(["--config", "/nonexistent/switchboard.toml", "config", "show"]).output().unwrap();
    assert!(!o.status.success() && text(&o).1.contains("/nonexistent/switchboard.toml"));
}

#[tokio::test]
async fn json_logs_have_one_line_per_request_and_no_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let t = admin_cli(&db, &["admin", "create-tenant", "--name", "logs"]);
    let (key, password) = (t["apiKey"].as_str().unwrap().to_string(), t["password"].as_str().unwrap().to_string());
    let log = tmp.path().join("serve.log");
    let p = Process::serve_logged(tmp.path(), &db, &["--log-format", "json"], &log, "info");
    let http = reqwest::Client::new();
    let r = http.get(format!("{}/api/v1/agents?limit=5", p.base)).bearer_auth(&key).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let r = http
        .post(format!("{}/api/v1/agents", p.base))
        .bearer_auth(&key)
        .json(&json!({"loginId": "log1", "firstName": "L", "lastName": "Og"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let agent = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    http.get(format!("{}/api/v1/agents/{agent}", p.base)).bearer_auth(&key).send().await.unwrap();
    // A password login and a credential in a query string.
    let r = http
        .post(format!("{}/api/v1/sessions", p.base))
        .json(&json!({"tenant": "logs", "username": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // A line logged while a request is answered names the request.
    let r = http
        .post(format!("{}/api/v1/sessions?via=test", p.base))
        .header("x-request-id", "refused-login-1")
        .json(&json!({"tenant": "logs", "username": "admin", "password": "not-it"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    http.get(format!("{}/no/such/route?token={key}", p.base)).send().await.unwrap();
    http.get(format!("{}/api/v1/agents", p.base)).bearer_auth("sbk_wrong").send().await.unwrap();
    let status = p.terminate();
    assert!(status.success());

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    assert!(lines.iter().all(|l| l["timestamp"].is_string() && l["level"].is_string() && l["target"].is_string()), "{text}");
    assert!(
        !text.contains(&key) && !text.contains(&password) && !text.contains("s3cret") && !text.contains("\"loginId\""),
        "no secrets or bodies in the log: {text}"
    );
    let access: Vec<&Value> = lines.iter().filter(|l| l["target"] == "switchboard::access").collect();
    assert_eq!(access.len(), 7, "one line per request: {text}");
    let refused = lines.iter().find(|l| l["message"] == "login refused").expect("the refused login's line");
    assert_eq!(refused["level"], "WARN");
    assert_eq!(refused["target"], "switchboard_http::login");
    assert_eq!(refused["reason"], "bad_credentials");
    assert_eq!(
        refused["span"],
        json!({"id": "refused-login-1", "method": "POST", "path": "/api/v1/sessions", "name": "request"}),
        "the request's id, method and path, never its query"
    );
    assert!(lines.iter().filter(|l| l["target"] != "switchboard_http::login").all(|l| l.get("span").is_none()), "{text}");
    for a in &access {
        assert_eq!(a["level"], "INFO");
        for k in ["request_id", "method", "route", "status", "latency_ms", "client"] {
            assert!(!a[k].is_null(), "{k} in {a}");
        }
    }
    let first = access.iter().find(|a| a["request_id"] == request_id.as_str()).expect("the request's id");
    assert_eq!(first["route"], "/api/v1/agents");
    assert_eq!(first["status"], 200);
    assert!(first["tenant"].as_i64().is_some(), "{first}");
    assert!(first["client"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(access.iter().any(|a| a["route"] == "/api/v1/agents/{id}" && a["method"] == "GET"), "route templates, not paths");
    assert!(access.iter().any(|a| a["route"] == "/api/v1/sessions" && a["status"] == 201 && a["tenant"].is_i64()));
    assert!(access.iter().any(|a| a["route"] == "unmatched" && a["status"] == 404));
    assert!(access.iter().any(|a| a["status"] == 401 && a["tenant"].is_null()));
}

#[tokio::test]
async fn text_logs_name_the_request_a_line_was_logged_for() {
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    admin_cli(&db, &["admin", "create-tenant", "--name", "textlogs"]);
    let log = tmp.path().join("serve.log");
    let p = Process::serve_logged(tmp.path(), &db, &[], &log, "info");
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/sessions?secret=s3cret", p.base))
        .header("x-request-id", "text-7")
        .json(&json!({"tenant": "textlogs", "username": "admin", "password": "not-it"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(p.terminate().success());
    let text = std::fs::read_to_string(&log).unwrap();
    let line = text.lines().find(|l| l.contains("login refused")).unwrap_or_else(|| panic!("{text}"));
    // `2026-12-05T06:35:01.378775Z  WARN request{…}: target: message fields`, as tracing-subscriber writes a span.
    let (time, rest) = line.split_once(' ').unwrap();
    assert!(time.ends_with('Z') && time.len() == 27, "{line}");
    assert_eq!(
        rest,
        " WARN request{id=\"text-7\" method=POST path=/api/v1/sessions}: switchboard_http::login: login refused \
         surface=\"native\" tenant=\"textlogs\" username=\"admin\" client=127.0.0.1 reason=\"bad_credentials\""
    );
    assert!(!text.contains('\x1b'), "no colours in a file: {text}");
    assert!(!text.contains("s3cret"));
    let started = text.lines().find(|l| l.contains("listening on")).unwrap();
    assert!(started.contains(" INFO switchboard::serve: switchboard listening on http://"), "{started}");
}

#[test]
fn invalid_log_filters_stop_the_start() {
    let tmp = tempfile::tempdir().unwrap();
    for (flag, env) in [(None, Some("verbose")), (Some("info,switchboard_http=loud"), None), (None, Some("switchboard=lots"))] {
        let mut c = cmd(tmp.path());
        c.args(["serve", "--listen", "127.0.0.1:0", "--database-url", tmp.path().join("x.db").to_str().unwrap()]);
        if let Some(f) = flag {
            c.args(["--log-level", f]);
        }
        if let Some(e) = env {
            c.env("RUST_LOG", e);
        }
        let o = c.output().unwrap();
        let (_, err) = text(&o);
        assert!(!o.status.success(), "{flag:?} {env:?}");
        assert!(err.starts_with("error: invalid log filter") && err.trim().lines().count() == 1, "{err}");
    }
    let o = cmd(tmp.path()).args(["serve", "--log-format", "xml"]).output().unwrap();
    assert!(!o.status.success() && text(&o).1.contains("xml"));
    assert!(!tmp.path().join("x.db").exists(), "nothing started");
}

/// Families in a Prometheus text: name -> (has HELP, has TYPE, samples).
fn families(m: &str) -> std::collections::BTreeMap<String, (bool, bool, usize)> {
    let mut f: std::collections::BTreeMap<String, (bool, bool, usize)> = Default::default();
    for l in m.lines() {
        if let Some(rest) = l.strip_prefix("# HELP ") {
            f.entry(rest.split(' ').next().unwrap().into()).or_default().0 = true;
        } else if let Some(rest) = l.strip_prefix("# TYPE ") {
            f.entry(rest.split(' ').next().unwrap().into()).or_default().1 = true;
        } else if !l.is_empty() {
            let name = l.split(['{', ' ']).next().unwrap();
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .filter(|b| m.contains(&format!("# TYPE {b} histogram")))
                .unwrap_or(name);
            f.entry(base.into()).or_default().2 += 1;
        }
    }
    f
}

#[tokio::test]
async fn metrics_follow_prometheus_conventions() {
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let t = admin_cli(&db, &["admin", "create-tenant", "--name", "metrics"]);
    let key = t["apiKey"].as_str().unwrap();
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let p = Process::serve(tmp.path(), &db, &["--metrics-listen", &metrics_addr, "--rate-limit-override", "1"]);
    let c = p.client(key);
    let id = c.agent("m1").await;
    c.get(&format!("/api/v1/agents/{id}")).await.expect(200);
    c.get(&format!("/api/v1/agents/{id}")).await.expect(200);
    c.get("/nothing/here").await;
    c.get("/wp-admin/x.php").await;
    // Refused logins; those past the login budget (30 a minute) are rate-limit refusals too.
    for _ in 0..32 {
        c.post("/api/v1/sessions", json!({"tenant": "metrics", "username": "admin", "password": "wrong-password-1"})).await;
    }
    // An Ozonetel call past its budget (override: 1 a minute).
    let http = reqwest::Client::new();
    for _ in 0..3 {
        http.put(format!("{}/ca_apis/updateAgent", p.base))
            .header("apiKey", key)
            .json(&json!({"userName": "metrics", "agentId": "m1"}))
            .send()
            .await
            .unwrap();
    }
    // A committed import through the API.
    c.post("/api/v1/imports", json!({"kind": "skills", "csv": "name,description\nsk1,x\nsk2,y\n"})).await.expect(202);

    // /metrics moved: not on the API's address.
    c.get("/metrics").await.expect(404);
    let m = eventually(
        "import counted",
        || async { Value::String(reqwest::get(format!("http://{metrics_addr}/metrics")).await.unwrap().text().await.unwrap()) },
        |v| v.as_str().unwrap().contains("switchboard_import_rows_total{"),
    )
    .await;
    let m = m.as_str().unwrap();
    for (name, (help, typ, samples)) in families(m) {
        assert!(help && typ && samples > 0, "{name}: HELP {help}, TYPE {typ}, {samples} samples\n{m}");
    }
    let has = |needle: &str| assert!(m.lines().any(|l| l.starts_with(needle)), "{needle} in\n{m}");
    has(&format!("switchboard_build_info{{version=\"{}\",commit=\"", env!("CARGO_PKG_VERSION")));
    for p in [
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "process_start_time_seconds ",
        "process_max_fds ",
    ] {
        has(p);
    }
    has("switchboard_db_pool_connections{");
    has("switchboard_db_pool_max_connections{");
    has("switchboard_agent_cache_requests_total{cache=\"agents\",result=\"hit\"}");
    has("switchboard_http_requests_total{method=\"GET\",route=\"/api/v1/agents/{id}\",status=\"200\"} 2");
    // Two unknown paths and /metrics, which is not on this address.
    has("switchboard_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 3");
    has("switchboard_login_failures_total{surface=\"native\",reason=\"bad_credentials\"}");
    has("switchboard_rate_limit_refusals_total{dialect=\"native\",limit=\"login\"}");
    has("switchboard_rate_limit_refusals_total{dialect=\"ozonetel\",limit=\"api\"}");
    has("switchboard_import_rows_total{kind=\"skills\",outcome=\"created\"} 2");
    // A read after the first one comes from the cache. Not always the second:
    // on PostgreSQL the create's own notification can arrive after the first
    // read and forget what it kept (the cache's coherence), so read again
    // until a hit is counted.
    let agent_hits = |m: &str| -> u64 {
        m.lines()
            .find(|l| l.starts_with("switchboard_agent_cache_requests_total{cache=\"agents\",result=\"hit\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    if agent_hits(m) == 0 {
        eventually(
            "a read of the agent from the cache",
            || async {
                c.get(&format!("/api/v1/agents/{id}")).await.expect(200);
                Value::String(reqwest::get(format!("http://{metrics_addr}/metrics")).await.unwrap().text().await.unwrap())
            },
            |v| agent_hits(v.as_str().unwrap()) >= 1,
        )
        .await;
    }
}

#[test]
fn cli_polish() {
    let tmp = tempfile::tempdir().unwrap();
    let o = cmd(tmp.path()).arg("--version").output().unwrap();
    let (out, _) = text(&o);
    assert!(out.starts_with(&format!("switchboard {} (commit ", env!("CARGO_PKG_VERSION"))) && !out.contains("(commit )"), "{out}");
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = cmd(tmp.path()).args(["completions", shell]).output().unwrap();
        let (out, err) = text(&o);
        assert!(
            o.status.success() && out.contains("switchboard") && out.contains("create-tenant") && out.contains("database-url"),
            "{shell}: {err}"
        );
    }
    let o = cmd(tmp.path()).arg("man").output().unwrap();
    let (man, _) = text(&o);
    assert!(man.contains(".TH switchboard 1") && man.contains(".SH SUBCOMMANDS"), "{man}");
    for sub in ["serve", "admin", "import", "export", "config", "healthcheck", "completions"] {
        assert!(man.contains(&format!("switchboard\\-{sub}")) || man.contains(&format!("\\fB{sub}\\fR")), "{sub} in the man page");
    }
    // Errors: one line, no backtrace even when asked for one.
    let o = cmd(tmp.path())
        .args(["admin", "list-tenants", "--database-url", "/nonexistent/dir/x.db"])
        .env("RUST_BACKTRACE", "full")
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert!(
        !o.status.success() && err.starts_with("error: ") && err.trim_end().lines().count() == 1 && !err.contains("backtrace"),
        "{err}"
    );
    // A Redis that is not there: one line, the URL without its password.
    let o = cmd(tmp.path())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--redis-url",
            "redis://:hunter2@127.0.0.1:1",
            "--database-url",
            tmp.path().join("r.db").to_str().unwrap(),
        ])
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let (_, err) = text(&o);
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert!(!o.status.success() && last.starts_with("error: connecting to Redis redis://:***@127.0.0.1:1"), "{err}");
    assert!(!err.contains("hunter2") && !err.contains("stack backtrace"), "{err}");
}

#[tokio::test]
async fn admin_commands_for_operators() {
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let t = admin_cli(&db, &["admin", "create-tenant", "--name", "ops"]);
    let key = t["apiKey"].as_str().unwrap().to_string();
    admin_cli(&db, &["admin", "create-user", "--tenant", "ops", "--username", "bob", "--role", "manager"]);
    let users = admin_cli(&db, &["admin", "list-users", "--tenant", "ops"]);
    let names: Vec<&str> = users.as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["admin", "bob"]);
    assert!(users.as_array().unwrap().iter().all(|u| u.get("passwordHash").is_none() && u.get("password").is_none()));

    let p = Process::serve(tmp.path(), &db, &[]);
    let c = p.client(&key);
    c.get("/api/v1/tenant").await.expect(200);

    // reset-password: the new password logs in, the old one no longer does.
    let reset = admin_cli(&db, &["admin", "reset-password", "--tenant", "ops", "--username", "admin"]);
    let new_password = reset["password"].as_str().unwrap();
    assert_ne!(new_password, t["password"].as_str().unwrap());
    let anon = p.client("");
    anon.post("/api/v1/sessions", json!({"tenant": "ops", "username": "admin", "password": t["password"]})).await.expect(401);
    anon.post("/api/v1/sessions", json!({"tenant": "ops", "username": "admin", "password": new_password})).await.expect(201);

    // revoke-api-key, by prefix: the running server refuses the key at once.
    let keys = c.get("/api/v1/api-keys").await.expect(200);
    let prefix = keys.body["items"][0]["prefix"].as_str().unwrap().to_string();
    let revoked = admin_cli(&db, &["admin", "revoke-api-key", "--tenant", "ops", &prefix]);
    assert!(revoked["revokedAt"].is_i64(), "{revoked}");
    eventually("key refused", || async { json!(c.get("/api/v1/tenant").await.status.as_u16()) }, |v| v == 401).await;
    let out = Command::new(BIN).args(["admin", "revoke-api-key", "--tenant", "ops", "sbk_nope_nope"]).args(db.cli_args()).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("not found"));

    // backup: SQLite copies online; PostgreSQL points to pg_dump.
    let copy = tmp.path().join("backup.db");
    let out = Command::new(BIN).args(["admin", "backup", copy.to_str().unwrap()]).args(db.cli_args()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if on_postgres() {
        assert!(!out.status.success() && err.contains("pg_dump") && err.trim().lines().count() == 1, "{err}");
        assert!(!copy.exists());
    } else {
        assert!(out.status.success(), "{err}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777, 0o600);
        let tenants: Value = serde_json::from_slice(
            &Command::new(BIN).args(["admin", "list-tenants", "--database-url", copy.to_str().unwrap()]).output().unwrap().stdout,
        )
        .unwrap();
        assert_eq!(tenants[0]["name"], "ops");
        let check = switchboard_store::integrity_check(
            copy.to_str().unwrap(),
            &switchboard_store::StoreOptions { create: false, ..Default::default() },
        )
        .await
        .unwrap();
        assert_eq!(check, "ok");
        // An existing file is never overwritten.
        let out = Command::new(BIN).args(["admin", "backup", copy.to_str().unwrap()]).args(db.cli_args()).output().unwrap();
        assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("exists"));
    }
    p.terminate();
}

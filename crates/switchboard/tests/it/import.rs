//! Bulk import and export (`switchboard import|export`, `/api/v1/imports`):
//! dry runs, atomic and best-effort modes, conflicts, round trips of every
//! kind, passwords, the HTTP job API and tenant isolation.

use crate::support::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

struct Out {
    code: i32,
    json: Value,
    stdout: String,
    stderr: String,
}

/// Runs the binary in `dir` on the server's database.
/// Runs the CLI without blocking the test's runtime, on which the in-process
/// server runs: a blocked runtime would hold the server's open transactions
/// (and SQLite's write lock) while the CLI waits for them.
async fn cli(srv: &Server, dir: &Path, args: &[&str]) -> Out {
    let out = tokio::process::Command::new(BIN)
        .args(args)
        .args(srv.db.cli_args())
        .current_dir(dir)
        .env_remove("SWITCHBOARD_DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run switchboard");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    Out {
        code: out.status.code().unwrap_or(-1),
        json: serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

async fn import(srv: &Server, dir: &Path, tenant: &str, kind: &str, file: &Path, extra: &[&str]) -> Out {
    let f = file.to_str().unwrap();
    let mut args = vec!["import", kind, f, "--tenant", tenant];
    args.extend_from_slice(extra);
    cli(srv, dir, &args).await
}

async fn export(srv: &Server, dir: &Path, tenant: &str, kind: &str, format: &str) -> String {
    let o = cli(srv, dir, &["export", kind, "--tenant", tenant, "--format", format]).await;
    assert_eq!(o.code, 0, "export {kind}: {}", o.stderr);
    o.stdout
}

async fn logins(c: &Client) -> Vec<String> {
    let mut v: Vec<String> = c.all("/api/v1/agents", 1000).await.iter().map(|a| a["loginId"].as_str().unwrap().to_string()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn dry_run_writes_nothing_and_shows_the_plan() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    c.post("/api/v1/skills", json!({"name": "Spanish"})).await.expect(201);
    c.post("/api/v1/agents", json!({"loginId": "old1", "firstName": "Olga", "lastName": "Old"})).await.expect(201);
    let tmp = tempfile::tempdir().unwrap();
    let f = write(
        tmp.path(),
        "agents.csv",
        "loginId,firstName,lastName,email,skills\nnew1,Nina,New,,spanish:4\nOLD1,Olga,Older,o@x.io,\nbad1,Bad,Row,not-an-email,\n",
    );
    let audit_before = c.get("/api/v1/audit?limit=1000").await.expect(200).body["items"].as_array().unwrap().len();
    let o = import(&srv, tmp.path(), "acme", "agents", &f, &["--dry-run", "--on-conflict", "update"]).await;
    assert_eq!(o.code, 1, "errors give a non-zero exit: {}", o.stderr);
    let r = &o.json;
    assert_eq!((r["created"].as_u64(), r["updated"].as_u64(), r["failed"].as_u64()), (Some(1), Some(1), Some(1)), "{r}");
    assert_eq!(r["dryRun"], true);
    assert_eq!(r["committed"], false);
    let upd = r["changes"].as_array().unwrap().iter().find(|c| c["action"] == "update").unwrap();
    assert_eq!(upd["row"], 3);
    assert_eq!(upd["key"], "OLD1");
    let diff = upd["diff"].as_array().unwrap();
    assert!(diff.contains(&json!({"column": "lastName", "from": "Old", "to": "Older"})), "{diff:?}");
    assert!(diff.contains(&json!({"column": "email", "from": "", "to": "o@x.io"})), "{diff:?}");
    let err = &r["errors"][0];
    assert_eq!((err["row"].as_u64(), err["column"].as_str(), err["key"].as_str()), (Some(4), Some("email"), Some("bad1")), "{err}");
    assert!(err["message"].as_str().unwrap().contains("email"));
    // Report and errors file next to the input.
    assert!(tmp.path().join("agents.report.json").exists());
    let errors = std::fs::read_to_string(tmp.path().join("agents.errors.csv")).unwrap();
    assert!(errors.starts_with("loginId,firstName,lastName,email,skills,_row,_column,_error"), "{errors}");
    assert!(errors.contains("bad1,Bad,Row,not-an-email,,4,email,"), "{errors}");
    // Nothing written: same agents, same names, no audit events.
    assert_eq!(logins(&c).await, vec!["OLD1"]);
    let a = &c.all("/api/v1/agents", 10).await[0];
    assert_eq!(a["lastName"], "Old");
    let audit_after = c.get("/api/v1/audit?limit=1000").await.expect(200).body["items"].as_array().unwrap().len();
    assert_eq!(audit_before, audit_after);
}

#[tokio::test]
async fn atomic_import_is_all_or_nothing() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    c.post("/api/v1/skills", json!({"name": "Billing"})).await.expect(201);
    let tmp = tempfile::tempdir().unwrap();
    let bad =
        write(tmp.path(), "a.csv", "loginId,firstName,lastName,skills\na1,A,One,Billing:2\na2,A,Two,\na3,A,Three,Nope:3\na4,A,Four,\n");
    let o = import(&srv, tmp.path(), "acme", "agents", &bad, &[]).await;
    assert_eq!(o.code, 1);
    assert_eq!(o.json["failed"], 1, "{}", o.json);
    assert_eq!(o.json["committed"], false);
    assert_eq!(o.json["errors"][0]["column"], "skills");
    assert_eq!(o.json["errors"][0]["row"], 4);
    assert!(o.json["outcome"].as_str().unwrap().contains("nothing was written"));
    assert!(logins(&c).await.is_empty(), "one bad row: nothing written");

    let good =
        write(tmp.path(), "b.csv", "loginId,firstName,lastName,skills\na1,A,One,Billing:2\na2,A,Two,\na3,A,Three,billing:3\na4,A,Four,\n");
    let o = import(&srv, tmp.path(), "acme", "agents", &good, &[]).await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.json["created"], 4);
    assert_eq!(o.json["committed"], true);
    assert_eq!(logins(&c).await, vec!["A1", "A2", "A3", "A4"]);
    let a3 = c.all("/api/v1/agents?loginId=A3", 10).await;
    let d = c.get(&format!("/api/v1/agents/{}", a3[0]["id"])).await.expect(200);
    assert_eq!(d.body["skills"][0]["proficiency"], 3);
    // Each created agent has its audit event.
    let ev = c.get("/api/v1/audit?entity=agent&limit=100").await.expect(200);
    assert_eq!(ev.body["items"].as_array().unwrap().iter().filter(|e| e["action"] == "create").count(), 4);
}

#[tokio::test]
async fn best_effort_writes_good_rows_and_the_errors_file_reimports() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    let tmp = tempfile::tempdir().unwrap();
    let f = write(
        tmp.path(),
        "agents.csv",
        "loginId,firstName,lastName,wrapUpTime\ng1,G,One,10\nb1,,Bad,\ng2,G,Two,\nb2,B,Two,forever\ng3,G,Three,-1\n",
    );
    let o = import(&srv, tmp.path(), "acme", "agents", &f, &["--mode", "best-effort"]).await;
    assert_eq!(o.code, 1);
    assert_eq!((o.json["created"].as_u64(), o.json["failed"].as_u64()), (Some(3), Some(2)), "{}", o.json);
    assert_eq!(o.json["committed"], true);
    assert_eq!(logins(&c).await, vec!["G1", "G2", "G3"]);
    let errors_path = tmp.path().join("agents.errors.csv");
    let errors = std::fs::read_to_string(&errors_path).unwrap();
    let lines: Vec<&str> = errors.lines().collect();
    assert_eq!(lines.len(), 3, "{errors}");
    assert!(lines[1].starts_with("b1,,Bad,,3,firstName,"), "{errors}");
    assert!(lines[2].starts_with("b2,B,Two,forever,5,wrapUpTime,"), "{errors}");
    // Fix the two rows in the errors file and import it as it is.
    let fixed = errors.replace("b1,,Bad,", "b1,Bea,Bad,").replace("forever", "30");
    std::fs::write(&errors_path, fixed).unwrap();
    let o = import(&srv, tmp.path(), "acme", "agents", &errors_path, &["--mode", "best-effort"]).await;
    assert_eq!(o.code, 0, "{} {}", o.stdout, o.stderr);
    assert_eq!(o.json["created"], 2);
    assert_eq!(logins(&c).await, vec!["B1", "B2", "G1", "G2", "G3"]);
}

#[tokio::test]
async fn on_conflict_skip_update_fail() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    c.post("/api/v1/skills", json!({"name": "Spanish", "description": "old"})).await.expect(201);
    let tmp = tempfile::tempdir().unwrap();
    let f = write(tmp.path(), "skills.csv", "name,description\nSPANISH,new\nFrench,fr\n");
    let desc = |items: Vec<Value>| {
        items.iter().map(|s| (s["name"].as_str().unwrap().to_string(), s["description"].as_str().unwrap().to_string())).collect::<Vec<_>>()
    };

    let o = import(&srv, tmp.path(), "acme", "skills", &f, &[]).await;
    assert_eq!(o.code, 1);
    assert_eq!(o.json["errors"][0]["code"], "duplicate");
    assert_eq!(o.json["errors"][0]["column"], "name");
    assert_eq!(desc(c.all("/api/v1/skills", 100).await), vec![("Spanish".into(), "old".into())], "fail: nothing written");

    let o = import(&srv, tmp.path(), "acme", "skills", &f, &["--on-conflict", "skip"]).await;
    assert_eq!((o.json["skipped"].as_u64(), o.json["created"].as_u64()), (Some(1), Some(1)), "{}", o.json);
    assert_eq!(desc(c.all("/api/v1/skills", 100).await), vec![("Spanish".into(), "old".into()), ("French".into(), "fr".into())]);

    let o = import(&srv, tmp.path(), "acme", "skills", &f, &["--on-conflict", "update"]).await;
    assert_eq!((o.json["updated"].as_u64(), o.json["unchanged"].as_u64()), (Some(1), Some(1)), "{}", o.json);
    assert_eq!(
        o.json["changes"][0]["diff"],
        json!([{"column": "description", "from": "old", "to": "new"}, {"column": "name", "from": "Spanish", "to": "SPANISH"}])
    );
    assert_eq!(desc(c.all("/api/v1/skills", 100).await), vec![("SPANISH".into(), "new".into()), ("French".into(), "fr".into())]);

    let o = import(&srv, tmp.path(), "acme", "skills", &f, &["--on-conflict", "update"]).await;
    assert_eq!(o.json["unchanged"], 2, "a second update changes nothing: {}", o.json);

    // Unknown columns are an error, not dropped; the key column is required.
    let f = write(tmp.path(), "bad.csv", "name,colour\nX,red\n");
    let o = import(&srv, tmp.path(), "acme", "skills", &f, &[]).await;
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("colour") && o.stderr.contains("unknown column"), "{}", o.stderr);
}

/// A directory with something of every kind.
async fn populate(c: &Client) {
    for (n, d) in [("Spanish", "Speaks Spanish"), ("Billing", "")] {
        c.post("/api/v1/skills", json!({"name": n, "description": d})).await.expect(201);
    }
    let cc = c.post("/api/v1/call-centers", json!({"name": "Main"})).await.expect(201).id();
    c.post("/api/v1/call-centers", json!({"name": "Backup, \"B\""})).await.expect(201);
    let sales = c.post("/api/v1/services", json!({"name": "Sales", "callCenterId": cc})).await.expect(201).id();
    c.post("/api/v1/services", json!({"name": "Outbound", "callCenterId": cc, "acd": false})).await.expect(201);
    let g1 = c.post("/api/v1/groups", json!({"name": "Tier 1"})).await.expect(201).id();
    let g2 = c.post("/api/v1/groups", json!({"name": "Tier 2"})).await.expect(201).id();
    c.post(
        "/api/v1/agents",
        json!({"loginId": "jdoe", "firstName": "John", "lastName": "Doe", "displayName": "John D", "email": "j@x.io",
               "phone": "+15550100", "wrapUpTime": 30, "homeAgent": true, "active": false,
               "skills": [{"skillId": 1, "proficiency": 4}, {"skillId": 2, "proficiency": 1}], "serviceIds": [sales],
               "groups": [{"groupId": g1, "receiveCall": true}, {"groupId": g2, "receiveCall": false}],
               "attributes": {"mode": "blended", "n": 2}}),
    )
    .await
    .expect(201);
    c.post("/api/v1/agents", json!({"loginId": "ann", "firstName": "Ann", "lastName": "Lee, Jr."})).await.expect(201);
    c.post("/api/v1/phones", json!({"number": "+919876543210", "name": "Desk 1", "skills": ["Billing", "Spanish"]})).await.expect(201);
    c.post("/api/v1/dids", json!({"number": "18005550100"})).await.expect(201);
    c.post("/api/v1/dids", json!({"number": "18005550101"})).await.expect(201);
    c.post("/api/v1/campaigns", json!({"name": "Spring", "dynamicDids": ["18005550101", "18005550100"], "fallbackDids": ["18005550100"]}))
        .await
        .expect(201);
}

const KINDS: [&str; 9] = ["skills", "call-centers", "groups", "services", "dids", "agents", "assignments", "phones", "campaigns"];

#[tokio::test]
async fn export_then_import_round_trips_every_kind() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    populate(&srv.client(&t.key)).await;
    let copy = srv.tenant("copy").await;
    let tmp = tempfile::tempdir().unwrap();
    for format in ["csv", "json"] {
        let target = format!("copy{format}");
        let tc = srv.tenant(&target).await;
        for kind in KINDS {
            let original = export(&srv, tmp.path(), "acme", kind, format).await;
            assert!(original.lines().count() > 1, "{kind} {format}: {original}");
            let f = write(tmp.path(), &format!("{kind}.{format}"), &original);
            // Into the same tenant: every row is already as the file says.
            let o = import(&srv, tmp.path(), "acme", kind, &f, &["--on-conflict", "update"]).await;
            assert_eq!(o.code, 0, "{kind} {format}: {}", o.stdout);
            let r = &o.json;
            assert_eq!(
                (r["created"].as_u64(), r["updated"].as_u64(), r["failed"].as_u64()),
                (Some(0), Some(0), Some(0)),
                "{kind} {format}: {r}"
            );
            assert!(r["unchanged"].as_u64().unwrap() > 0);
            // Into an empty tenant: its export is the same file.
            let o = import(&srv, tmp.path(), &target, kind, &f, &[]).await;
            assert_eq!(o.code, 0, "{kind} {format} into {target}: {}", o.stdout);
            assert_eq!(export(&srv, tmp.path(), &target, kind, format).await, original, "{kind} {format}");
        }
        let ca = srv.client(&tc.key);
        assert_eq!(logins(&ca).await, vec!["ANN", "JDOE"]);
    }
    // The untouched tenant saw none of it.
    let o = cli(&srv, tmp.path(), &["export", "agents", "--tenant", "copy"]).await;
    assert_eq!(o.stdout.lines().count(), 1, "header only: {}", o.stdout);
    assert!(logins(&srv.client(&copy.key)).await.is_empty());
}

#[tokio::test]
async fn passwords_plain_none_and_precomputed() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    let tmp = tempfile::tempdir().unwrap();
    let precomputed = switchboard_domain::secret::hash_password("Prehashed42");
    let plain = "Plaintext-Secret-77";
    let f = write(
        tmp.path(),
        "agents.csv",
        &format!(
            "loginId,firstName,lastName,password,passwordHash\np1,P,Plain,{plain},\np2,P,None,,\np3,P,Hash,,\"{precomputed}\"\np4,P,Short,short1,\np5,P,Bcrypt,,$2b$12$abcdefghijklmnopqrstuu5Yk7O4Tc8bLUW2p6Kk0Wq9OQ8Zf5Q6m\n"
        ),
    );
    let o = import(&srv, tmp.path(), "acme", "agents", &f, &["--mode", "best-effort"]).await;
    assert_eq!(o.json["created"], 3, "{}", o.json);
    let cols: Vec<(u64, &str)> =
        o.json["errors"].as_array().unwrap().iter().map(|e| (e["row"].as_u64().unwrap(), e["column"].as_str().unwrap())).collect();
    assert_eq!(cols, vec![(5, "password"), (6, "passwordHash")]);
    let agents = c.all("/api/v1/agents", 100).await;
    let has = |login: &str| agents.iter().find(|a| a["loginId"] == login).unwrap()["hasPassword"].as_bool().unwrap();
    assert!(has("P1") && !has("P2") && has("P3"));
    let id = |login: &str| agents.iter().find(|a| a["loginId"] == login).unwrap()["id"].as_i64().unwrap();
    let store = srv.dir.store();
    let h1 = store.agent_password_hashes(t.id, id("P1"), 1).await.unwrap();
    assert!(h1[0].starts_with("$argon2id$") && switchboard_domain::secret::verify_password(plain, &h1[0]));
    let h3 = store.agent_password_hashes(t.id, id("P3"), 1).await.unwrap();
    assert_eq!(h3[0], precomputed, "a precomputed hash is stored as given");
    assert!(switchboard_domain::secret::verify_password("Prehashed42", &h3[0]));
    // The plaintext is nowhere: not in the output, the report, the errors file or the database file.
    for text in [o.stdout.as_str(), o.stderr.as_str()] {
        assert!(!text.contains(plain));
    }
    for name in ["agents.report.json", "agents.errors.csv"] {
        assert!(!std::fs::read_to_string(tmp.path().join(name)).unwrap().contains("short1"), "{name}");
    }
    if !on_postgres() {
        let dbdir = Path::new(&srv.db.url).parent().unwrap().to_path_buf();
        for entry in std::fs::read_dir(dbdir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(!bytes.windows(plain.len()).any(|w| w == plain.as_bytes()), "plaintext password in the database files");
        }
    }
    // A dry run with a password shows it as set, without its value.
    let f = write(tmp.path(), "again.csv", &format!("loginId,password\np2,{plain}\n"));
    let o = import(&srv, tmp.path(), "acme", "agents", &f, &["--dry-run", "--on-conflict", "update"]).await;
    assert_eq!(o.json["changes"][0]["diff"], json!([{"column": "password", "from": "", "to": "(set)"}]), "{}", o.json);
    assert!(!o.stdout.contains(plain));
}

/// Polls an import job until it is no longer running.
async fn finished(c: &Client, location: &str) -> Value {
    for _ in 0..300 {
        let r = c.get(location).await.expect(200);
        if r.body["status"] != "running" {
            return r.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("import job did not finish");
}

#[tokio::test]
async fn http_import_jobs() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    c.post("/api/v1/skills", json!({"name": "Spanish"})).await.expect(201);

    // JSON body with CSV text, dry run then for real.
    let csv = "loginId,firstName,lastName,skills\nh1,H,One,Spanish:2\nh2,H,Two,\nh3,,Three,\n";
    let body = json!({"kind": "agents", "mode": "best-effort", "dryRun": true, "csv": csv});
    let r = c.post("/api/v1/imports", body).await.expect(202);
    assert_eq!(r.body["status"], "running");
    assert_eq!(r.body["rows"], 3);
    let loc = r.header("location").unwrap();
    assert_eq!(loc, format!("/api/v1/imports/{}", r.id()));
    let job = finished(&c, &loc).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["report"]["created"], 2);
    assert_eq!(job["report"]["errors"][0]["column"], "firstName");
    assert!(logins(&c).await.is_empty());

    let body = json!({"kind": "agents", "mode": "best-effort", "csv": csv});
    let r = c.post("/api/v1/imports", body).await.expect(202);
    let job = finished(&c, &r.header("location").unwrap()).await;
    assert_eq!((job["report"]["created"].as_u64(), job["report"]["failed"].as_u64()), (Some(2), Some(1)), "{job}");
    assert_eq!(job["processed"], 2);
    assert_eq!(logins(&c).await, vec!["H1", "H2"]);

    // JSON rows, atomic, on-conflict update.
    let body = json!({"kind": "agents", "onConflict": "update", "rows": [{"loginId": "h1", "lastName": "Uno"}, {"loginId": "h4", "firstName": "H", "lastName": "Four"}]});
    let r = c.post("/api/v1/imports", body).await.expect(202);
    let job = finished(&c, &r.header("location").unwrap()).await;
    assert_eq!((job["report"]["created"].as_u64(), job["report"]["updated"].as_u64()), (Some(1), Some(1)), "{job}");

    // Multipart with a CSV file.
    let boundary = "XbOuNdArYx";
    let mut mp = String::new();
    for (k, v) in [("kind", "skills"), ("onConflict", "skip")] {
        mp += &format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n");
    }
    mp += &format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"skills.csv\"\r\nContent-Type: text/csv\r\n\r\nname,description\nspanish,x\nFrench,fr\r\n--{boundary}--\r\n");
    let resp = c
        .http
        .post(format!("{}/api/v1/imports", c.base))
        .bearer_auth(&t.key)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(mp)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    let job = finished(&c, &loc).await;
    assert_eq!((job["report"]["created"].as_u64(), job["report"]["skipped"].as_u64()), (Some(1), Some(1)), "{job}");

    // Problems: bad header, unknown kind; only agent administrators; other tenants see no job.
    let r = c.post("/api/v1/imports", json!({"kind": "skills", "csv": "nom\nx\n"})).await.problem(422, "invalid");
    assert_eq!(r.body["field"], "nom");
    c.post("/api/v1/imports", json!({"kind": "robots", "csv": "name\nx\n"})).await.problem(400, "bad_request");
    let mgr = srv.dir.create_user(None, t.id, "mgr", switchboard_domain::Role::Manager, vec![], None, true).await.unwrap();
    let m = srv.client(mgr.api_key.as_deref().unwrap());
    m.post("/api/v1/imports", json!({"kind": "skills", "csv": "name\nx\n"})).await.problem(403, "forbidden");
    m.get(&loc).await.problem(403, "forbidden");
    let other = srv.tenant("other").await;
    srv.client(&other.key).get(&loc).await.problem(404, "not_found");
    c.get("/api/v1/imports/999999").await.problem(404, "not_found");
    // The route is in the OpenAPI document.
    let doc: Value = serde_json::from_str(&srv.http_text("/api/v1/openapi.json").await).unwrap();
    assert!(doc["paths"]["/api/v1/imports"]["post"].is_object() && doc["paths"]["/api/v1/imports/{id}"]["get"].is_object());
}

#[tokio::test]
async fn imports_stay_in_their_tenant() {
    let srv = Server::start().await;
    let a = srv.tenant("alpha").await;
    let b = srv.tenant("beta").await;
    let (ca, cb) = (srv.client(&a.key), srv.client(&b.key));
    cb.post("/api/v1/skills", json!({"name": "OnlyInBeta"})).await.expect(201);
    cb.post("/api/v1/agents", json!({"loginId": "shared", "firstName": "Beta", "lastName": "Agent"})).await.expect(201);
    let tmp = tempfile::tempdir().unwrap();
    // A skill of another tenant is an unknown reference.
    let f = write(tmp.path(), "a.csv", "loginId,firstName,lastName,skills\nshared,Alpha,Agent,OnlyInBeta:2\n");
    let o = import(&srv, tmp.path(), "alpha", "agents", &f, &[]).await;
    assert_eq!(o.json["errors"][0]["column"], "skills", "{}", o.json);
    // The same loginId in another tenant is no conflict.
    let f = write(tmp.path(), "b.csv", "loginId,firstName,lastName\nshared,Alpha,Agent\n");
    let o = import(&srv, tmp.path(), "alpha", "agents", &f, &[]).await;
    assert_eq!(o.json["created"], 1, "{}", o.json);
    assert_eq!(ca.all("/api/v1/agents", 10).await[0]["firstName"], "Alpha");
    assert_eq!(cb.all("/api/v1/agents", 10).await[0]["firstName"], "Beta");
    // Over HTTP the caller's tenant is the only one.
    let r = ca
        .post("/api/v1/imports", json!({"kind": "agents", "onConflict": "update", "csv": "loginId,lastName\nshared,Changed\n"}))
        .await
        .expect(202);
    let job = finished(&ca, &r.header("location").unwrap()).await;
    assert_eq!(job["report"]["updated"], 1);
    assert_eq!(cb.all("/api/v1/agents", 10).await[0]["lastName"], "Agent");
    // Without --tenant and with several tenants, the CLI refuses to guess.
    let o = cli(&srv, tmp.path(), &["import", "agents", f.to_str().unwrap()]).await;
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("--tenant"), "{}", o.stderr);
}

/// The CLI writes the same database as a running server, which keeps agents
/// (and API keys' principals) in memory: the server's next read shows the
/// CLI's change. SQLite: at once here (the CLI bumps `cache_epoch`, which
/// cached reads check when a millisecond has passed since the last check;
/// the CLI takes longer than that). PostgreSQL: when the triggers'
/// notification reaches the server (polled here, 10 s at most).
#[tokio::test]
async fn a_server_reads_what_the_cli_changed_under_it() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    let id = c.post("/api/v1/agents", json!({"loginId": "cached", "firstName": "Before", "lastName": "Z"})).await.expect(201).id();
    let path = format!("/api/v1/agents/{id}");
    // Read twice: the second answer comes from memory where there is a cache.
    for _ in 0..2 {
        assert_eq!(c.get(&path).await.expect(200).body["firstName"], "Before");
    }
    // And last-name searches come from the name index, once it is built.
    let store = srv.dir.store();
    eventually("name index ready", || async { json!(store.name_index_ready()) }, |v| v == true).await;
    let search = || async { c.get("/api/v1/agents?lastName=ebrafis").await.expect(200).body };
    assert_eq!(search().await["items"], json!([]));
    let tmp = tempfile::tempdir().unwrap();
    let f = write(tmp.path(), "a.csv", "loginId,firstName,lastName,skills\ncached,After,Zebrafish,\n");
    let o = import(&srv, tmp.path(), "acme", "agents", &f, &["--on-conflict", "update"]).await;
    assert_eq!(o.json["updated"], 1, "{} {}", o.json, o.stderr);
    let read = || async { c.get(&path).await.expect(200).body };
    if on_postgres() {
        eventually("the CLI's import on the server", read, |v| v["firstName"] == "After").await;
    } else {
        let name = read().await["firstName"].clone();
        assert_eq!(name, "After", "the server still shows {name} after the CLI's import");
    }
    let found = |v: &Value| v["items"][0]["id"] == id;
    if on_postgres() {
        eventually("the CLI's rename in searches", search, found).await;
    } else {
        let v = search().await;
        assert!(found(&v), "a search right after the CLI's import: {v}");
    }
}

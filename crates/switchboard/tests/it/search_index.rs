//! Substring search over agents: right answers on both backends, through
//! SQLite's FTS5 trigram table (shown by its plan).

use crate::support::*;
use switchboard_domain::AgentFilter;

#[tokio::test]
async fn agent_substring_search_plans_use_the_trigram_indexes() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    for i in 0..20 {
        c.post("/api/v1/agents", serde_json::json!({"loginId": format!("ag{i}"), "firstName": "Ann", "lastName": format!("Smith{i}"), "phone": format!("55500{i:03}")}))
            .await
            .expect(201);
    }
    // The plans at scale are checked by the store's tests (tests/search_plans.rs);
    // here, on a small tenant, that search answers right on this backend.
    if !on_postgres() {
        let f = AgentFilter { last_name_contains: Some("mith1".into()), ..Default::default() };
        let plan = switchboard_store::explain_agent_search(&srv.db.url, &srv.db.options(), t.id, &f).await.expect("explain");
        assert!(plan.contains("SCAN f VIRTUAL TABLE INDEX") && !plan.contains("=M"), "the FTS5 index drives: {plan}");
    }
    // And the answers are right (the index is not lossy).
    let found = c.get("/api/v1/agents?lastName=MITH1&limit=100").await.expect(200);
    assert_eq!(found.body["items"].as_array().unwrap().len(), 11, "Smith1 and Smith10..19");
    let found = c.get("/api/v1/agents?q=h19").await.expect(200);
    assert_eq!(found.body["items"].as_array().unwrap().len(), 1);
}

/// Last names of a search's page, in order.
fn last_names(v: &serde_json::Value) -> Vec<String> {
    v["items"].as_array().unwrap().iter().map(|a| a["lastName"].as_str().unwrap().to_string()).collect()
}

/// Last-name searches answered by the in-memory name index
/// (`cache/names.rs`): a write through this server is in the very next
/// search (before the index has re-read it, and after), other tenants' agents
/// never are, and (PostgreSQL) writes made past this server arrive by notification.
#[tokio::test]
async fn name_index_answers_searches_with_every_change_in() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let other = srv.tenant("other").await;
    let c = srv.client(&t.key);
    let mut ids = Vec::new();
    for i in 0..12 {
        let body = serde_json::json!({"loginId": format!("n{i}"), "firstName": "Ann", "lastName": format!("Orsted{i}")});
        ids.push(c.post("/api/v1/agents", body).await.expect(201).id());
    }
    srv.client(&other.key)
        .post("/api/v1/agents", serde_json::json!({"loginId": "x", "firstName": "B", "lastName": "Orsted1"}))
        .await
        .expect(201);
    let store = srv.dir.store();
    eventually("name index ready", || async { serde_json::json!(store.name_index_ready()) }, |v| v == true).await;

    let search = |text: &'static str| {
        let c = &c;
        async move { c.get(&format!("/api/v1/agents?lastName={text}&limit=100")).await.expect(200).body }
    };
    assert_eq!(last_names(&search("RSTED1").await), ["Orsted1", "Orsted10", "Orsted11"]);
    assert!(last_names(&search("orstedx").await).is_empty(), "every trigram there, the text not");
    // Keyset pages: two, then the rest.
    let first = c.get("/api/v1/agents?lastName=rsted1&limit=2").await.expect(200).body;
    assert_eq!(last_names(&first), ["Orsted1", "Orsted10"]);
    let cursor = first["nextCursor"].as_str().expect("a next page").to_string();
    let rest = c.get(&format!("/api/v1/agents?lastName=rsted1&limit=2&cursor={cursor}")).await.expect(200).body;
    assert_eq!(last_names(&rest), ["Orsted11"]);

    // Writes through this server: seen by the next search, before and after
    // the index re-reads them.
    for round in ["before the index re-read them", "after"] {
        if round == "after" {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        } else {
            c.patch(&format!("/api/v1/agents/{}", ids[3]), serde_json::json!({"lastName": "Orsted1x"})).await.expect(200);
            c.patch(&format!("/api/v1/agents/{}", ids[1]), serde_json::json!({"lastName": "Renamed"})).await.expect(200);
            c.delete(&format!("/api/v1/agents/{}", ids[10])).await.expect(204);
            let body = serde_json::json!({"loginId": "late", "firstName": "Ann", "lastName": "Orsted1late"});
            c.post("/api/v1/agents", body).await.expect(201);
        }
        assert_eq!(last_names(&search("rsted1").await), ["Orsted1x", "Orsted11", "Orsted1late"], "{round}");
        assert_eq!(last_names(&search("enamed").await), ["Renamed"], "{round}");
    }
    assert!(srv.dir.store().name_index_ready());

    if on_postgres() {
        // An operator's SQL, past the server: a rename and a new agent.
        psql(&srv.db, &format!("UPDATE agents SET last_name = 'Sqlsted' WHERE id = {}", ids[0]));
        psql(&srv.db, &format!(
            "INSERT INTO agents (tenant_id, login_id, first_name, last_name, phone, wrap_up_time, home_agent, active, locked, \
             failed_logins, attributes, created_at, updated_at) VALUES ({}, 'sql', 'S', 'Sqlsted2', '', 0, false, true, false, 0, '{{}}', 0, 0)",
            t.id
        ));
        eventually("SQL writes in the index", || search("sqlsted"), |v| last_names(v) == ["Sqlsted", "Sqlsted2"]).await;
    }
}

/// Text search (`q`: FTS5 on SQLite, which takes each write transaction's
/// changes in at its commit, migration 0006) after concurrent writes:
/// renames of the same agents from many clients at once (so that one group
/// commit holds several changes of one agent), renames that fail on a
/// duplicate login id (rolled back alone), deletions and creations. Every
/// agent is found by its last values and by none it had before, and the
/// index matches the agents row for row (the integrity check compares them).
#[tokio::test]
async fn text_search_follows_concurrent_renames() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let c = srv.client(&t.key);
    let mut ids = Vec::new();
    for i in 0..24 {
        let body = serde_json::json!({"loginId": format!("tq{i}"), "firstName": format!("Oldname{i}q"), "lastName": "Person", "email": format!("tq{i}@old.example")});
        ids.push(c.post("/api/v1/agents", body).await.expect(201).id());
    }
    let ids = std::sync::Arc::new(ids);
    let mut writers = Vec::new();
    for w in 0..12usize {
        let (c, ids) = (srv.client(&t.key), ids.clone());
        writers.push(tokio::spawn(async move {
            for k in 0..6usize {
                // Agents 0..20 are renamed by two writers each.
                let i = (w + k * 12) % 20;
                let body = serde_json::json!({"firstName": format!("Fresh{i}w{w}k{k}z"), "email": format!("tq{i}@new{w}x{k}.example")});
                c.patch(&format!("/api/v1/agents/{}", ids[i]), body).await.expect(200);
                let taken = serde_json::json!({"loginId": format!("tq{}", (i + 1) % 20), "firstName": "Neverseen"});
                c.patch(&format!("/api/v1/agents/{}", ids[i]), taken).await.problem(409, "duplicate");
            }
        }));
    }
    for i in 20..22 {
        c.delete(&format!("/api/v1/agents/{}", ids[i])).await.expect(204);
    }
    c.post("/api/v1/agents", serde_json::json!({"loginId": "tqnew", "firstName": "Newcomerq", "lastName": "Person"})).await.expect(201);
    for w in writers {
        w.await.unwrap();
    }
    let q = |text: String| {
        let c = &c;
        async move {
            let body = c.get(&format!("/api/v1/agents?q={text}&limit=100")).await.expect(200).body;
            body["items"].as_array().unwrap().iter().map(|a| a["loginId"].as_str().unwrap().to_string()).collect::<Vec<_>>()
        }
    };
    for i in 0..24 {
        let agent = c.get(&format!("/api/v1/agents/{}", ids[i])).await;
        if (20..22).contains(&i) {
            agent.expect(404);
            assert!(q(format!("Oldname{i}q")).await.is_empty(), "deleted agent {i} still found");
            continue;
        }
        let agent = agent.expect(200).body;
        let login = format!("TQ{i}");
        assert_eq!(agent["loginId"], login.as_str());
        let first = agent["firstName"].as_str().unwrap().to_string();
        if i < 20 {
            // Which rename came last depends on timing; none before it is found.
            assert!(first.starts_with(&format!("Fresh{i}w")), "agent {i}: {first}");
            for (w, k) in (0..12usize).flat_map(|w| (0..6usize).map(move |k| (w, k))).filter(|(w, k)| (w + k * 12) % 20 == i) {
                let name = format!("Fresh{i}w{w}k{k}z");
                if name != first {
                    assert!(q(name.clone()).await.is_empty(), "agent {i} found by its earlier first name {name}");
                }
            }
            assert!(q(format!("Oldname{i}q")).await.is_empty(), "agent {i} found by its old first name");
            assert!(q(format!("tq{i}@old")).await.is_empty(), "agent {i} found by its old email");
        }
        assert_eq!(q(first.clone()).await, std::slice::from_ref(&login), "agent {i} by its first name {first}");
        let email = agent["email"].as_str().unwrap().to_string();
        assert_eq!(q(email.clone()).await, [login], "agent {i} by its email {email}");
    }
    assert!(q("Neverseen".into()).await.is_empty(), "a rolled-back rename is not in the index");
    assert_eq!(q("Newcomerq".into()).await, ["TQNEW"]);
    let check = switchboard_store::integrity_check(&srv.db.url, &srv.db.options()).await.unwrap();
    assert_eq!(check, "ok");
}

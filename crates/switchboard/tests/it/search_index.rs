//! Substring search over agents: right answers on both backends, through
//! SQLite's FTS5 trigram table (shown by its plan).

use crate::support::*;
use switchboard_domain::AgentFilter;
use switchboard_store::StoreOptions;

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

/// A small deterministic generator (xorshift64*), so that a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const LAST: &[&str] =
    &["Smith", "Smythe", "Anderson", "Sanders", "Orsted", "McDonald", "Donaldson", "Ander", "Lee", "Leeson", "O'Hara", "Åström"];
const FIRST: &[&str] = &["Ann", "Anna", "Hannah", "Bob", "Bobby", "Rob", "Lee"];

/// A random agent's body (`i` keeps its loginId unique).
fn random_agent(rng: &mut Rng, i: usize, skills: &[i64], services: &[i64], groups: &[i64]) -> serde_json::Value {
    let prefix = *rng.pick(&["AG", "BX", "ag-", "Z", "LEE"]);
    let mut body = serde_json::json!({
        "loginId": format!("{prefix}{:03}{}", rng.below(1000), i),
        "firstName": rng.pick(FIRST),
        "lastName": format!("{}{}", rng.pick(LAST), if rng.chance(30) { rng.below(20).to_string() } else { String::new() }),
        "active": rng.chance(80),
    });
    if rng.chance(85) {
        let plus = if rng.chance(30) { "+" } else { "" };
        body["phone"] = format!("{plus}555{:07}", rng.below(10_000_000)).into();
    }
    if rng.chance(70) {
        body["email"] =
            format!("{}.{}@{}.example", rng.pick(FIRST), rng.below(100), rng.pick(&["acme", "smith", "lee"])).to_lowercase().into();
    }
    if rng.chance(20) {
        body["displayName"] = format!("{} the {}", rng.pick(FIRST), rng.pick(&["Smith", "Lee", "Anderson"])).into();
    }
    let mut pick_some = |ids: &[i64], percent: u64| -> Vec<i64> { ids.iter().copied().filter(|_| rng.chance(percent)).collect() };
    body["skills"] = pick_some(skills, 40).into_iter().map(|s| serde_json::json!({"skillId": s, "proficiency": 3})).collect();
    body["serviceIds"] = pick_some(services, 40).into();
    body["groups"] = pick_some(groups, 40).into_iter().map(|g| serde_json::json!({"groupId": g})).collect();
    body
}

/// Filters to compare, drawn from the agents as they are: pieces of their
/// fields (short and long), whole and partial phone numbers, and the filters
/// alone and combined.
fn random_filters(
    rng: &mut Rng,
    agents: &[switchboard_domain::Agent],
    skills: &[i64],
    services: &[i64],
    groups: &[i64],
) -> Vec<AgentFilter> {
    let piece = |rng: &mut Rng, s: &str| -> String {
        let chars: Vec<char> = s.chars().collect();
        if chars.is_empty() {
            return "zz".into();
        }
        let len = 1 + rng.below(6.min(chars.len()));
        let start = rng.below(chars.len() - len + 1);
        let p: String = chars[start..start + len].iter().collect();
        if rng.chance(50) {
            p.to_uppercase()
        } else {
            p
        }
    };
    let mut out = vec![AgentFilter::default()];
    for _ in 0..40 {
        let a = rng.pick(agents).clone();
        let mut f = AgentFilter::default();
        match rng.below(7) {
            0 => f.q = Some(piece(rng, &a.last_name)),
            1 => f.q = Some(piece(rng, a.email.as_deref().unwrap_or("nobody@x"))),
            2 => f.q = Some(piece(rng, &a.phone)),
            3 => f.login_id_contains = Some(piece(rng, &a.login_id)),
            4 => f.last_name_contains = Some(format!(" {} ", piece(rng, &a.last_name))),
            5 => f.phone_contains = Some(piece(rng, &a.phone)),
            _ => {
                // LiveVox's phone: the whole number, formatted or not, or a part.
                let digits: String = a.phone.chars().filter(char::is_ascii_digit).collect();
                f.phone_number = Some(match rng.below(3) {
                    0 => digits,
                    1 if digits.len() > 6 => format!("({}) {}-{}", &digits[..3], &digits[3..6], &digits[6..]),
                    _ => digits.chars().skip(1).collect(),
                });
            }
        }
        if rng.chance(30) {
            f.active = Some(rng.chance(50));
        }
        if rng.chance(20) {
            f.skill_id = Some(*rng.pick(skills));
        }
        if rng.chance(15) {
            f.service_id = Some(*rng.pick(services));
        }
        if rng.chance(15) {
            f.group_id = Some(*rng.pick(groups));
        }
        out.push(f);
    }
    // Filters alone (exact in the index), and a text with a filter.
    for _ in 0..8 {
        let mut f = AgentFilter { active: rng.chance(50).then(|| rng.chance(50)), ..AgentFilter::default() };
        match rng.below(3) {
            0 => f.skill_id = Some(*rng.pick(skills)),
            1 => f.service_id = Some(*rng.pick(services)),
            _ => f.group_id = Some(*rng.pick(groups)),
        }
        out.push(f);
    }
    out.push(AgentFilter { q: Some("son".into()), last_name_contains: Some("and".into()), ..AgentFilter::default() });
    out.push(AgentFilter { q: Some("Lee".into()), login_id_contains: Some("LE".into()), ..AgentFilter::default() });
    out.push(AgentFilter { skill_id: Some(999_999), ..AgentFilter::default() });
    out
}

/// Every filter, in every order the index serves, at several pages: the
/// serving store (with the search index) and a store without any cache
/// or index on the same database answer the same.
async fn compare_with_database(
    srv: &Server,
    reference: &std::sync::Arc<dyn switchboard_domain::Store>,
    tenant: i64,
    rng: &mut Rng,
    ids: (&[i64], &[i64], &[i64]),
    when: &str,
) {
    use switchboard_domain::{AgentSort, PageRequest};
    let store = srv.dir.store();
    let all = reference.list_agents(tenant, &AgentFilter::default(), PageRequest::first(1000)).await.unwrap().items;
    assert!(!all.is_empty());
    let filters = random_filters(rng, &all, ids.0, ids.1, ids.2);
    let middle = all[all.len() / 2].id;
    for f in filters {
        for sort in [AgentSort::IdAsc, AgentSort::IdDesc, AgentSort::LoginIdAsc, AgentSort::LoginIdDesc] {
            let f = AgentFilter { sort, ..f.clone() };
            for page in [
                PageRequest::first(100),
                PageRequest { after: 0, offset: 2, limit: 3 },
                PageRequest { after: 0, offset: rng.below(all.len()) as u64, limit: 7 },
                PageRequest { after: middle, offset: 0, limit: 5 },
            ] {
                let got = store.list_agents(tenant, &f, page).await.unwrap();
                let want = reference.list_agents(tenant, &f, page).await.unwrap();
                let (g, w): (Vec<i64>, Vec<i64>) = (got.items.iter().map(|a| a.id).collect(), want.items.iter().map(|a| a.id).collect());
                assert_eq!((g, got.has_more), (w, want.has_more), "{when}: {f:?} {page:?}");
                assert_eq!(got.items, want.items, "{when}: rows of {f:?} {page:?}");
            }
        }
    }
}

fn search_counts(srv: &Server) -> (u64, u64) {
    let stats = srv.dir.store().stats();
    stats.cache.iter().find(|(c, _, _)| *c == "search").map(|(_, h, m)| (*h, *m)).unwrap_or_default()
}

/// Issue 26: one search index behind every list and search. On random data,
/// every field's search, every filter alone and combined, in id and loginId
/// order, at offsets and after keyset cursors, answers exactly what the
/// database answers (a store without cache or index on the same database):
/// right after writes through the server (agents pending) and once re-read;
/// after renames of every field, deletions, assignment changes, an import,
/// and writes by another process (a store of its own: on SQLite through
/// `cache_epoch`, on PostgreSQL through the notifications). Other tenants'
/// agents never appear. Most answers come from the index (its counter).
#[tokio::test]
async fn search_index_answers_every_filter_as_the_database_does() {
    let srv = Server::start().await;
    let t = srv.tenant("acme").await;
    let other = srv.tenant("other").await;
    let c = srv.client(&t.key);
    let mut rng = Rng(0x5eed_2026_u64);
    let mut skills = Vec::new();
    for n in ["Spanish", "French", "Billing"] {
        skills.push(c.post("/api/v1/skills", serde_json::json!({"name": n})).await.expect(201).id());
    }
    let mut groups = Vec::new();
    for n in ["G1", "G2", "G3"] {
        groups.push(c.post("/api/v1/groups", serde_json::json!({"name": n})).await.expect(201).id());
    }
    let cc = c.post("/api/v1/call-centers", serde_json::json!({"name": "CC"})).await.expect(201).id();
    let mut services = Vec::new();
    for n in ["S1", "S2"] {
        services.push(c.post("/api/v1/services", serde_json::json!({"name": n, "callCenterId": cc, "acd": true})).await.expect(201).id());
    }
    let mut ids = Vec::new();
    for i in 0..150 {
        let body = random_agent(&mut rng, i, &skills, &services, &groups);
        ids.push(c.post("/api/v1/agents", body).await.expect(201).id());
    }
    let oc = srv.client(&other.key);
    for i in 0..20 {
        let body = random_agent(&mut rng, i, &[], &[], &[]);
        oc.post("/api/v1/agents", body).await.expect(201);
    }
    let reference = switchboard_store::open(&srv.db.url, &StoreOptions { agent_cache_entries: 0, name_index: false, ..srv.db.options() })
        .await
        .expect("open a second store");
    let store = srv.dir.store();
    let ready = || async { serde_json::json!(store.name_index_ready()) };
    eventually("search index ready", ready, |v| v == true).await;
    let settle = || tokio::time::sleep(std::time::Duration::from_millis(200));
    settle().await;
    let cat = (&skills[..], &services[..], &groups[..]);
    let before = search_counts(&srv);
    compare_with_database(&srv, &reference, t.id, &mut rng, cat, "built").await;
    let after = search_counts(&srv);
    // Texts under three characters (a third of those drawn) go to the database.
    assert!(after.0 - before.0 > 2 * (after.1 - before.1), "the index answers most: {before:?} → {after:?}");

    // Writes through the server: every field, assignments, deletions, creations.
    for round in 0..3 {
        for _ in 0..12 {
            let id = *rng.pick(&ids);
            let fresh = random_agent(&mut rng, 1000 + ids.len() + round, &[], &[], &[]);
            let patch = match rng.below(6) {
                0 => serde_json::json!({"lastName": fresh["lastName"]}),
                1 => serde_json::json!({"loginId": fresh["loginId"]}),
                2 => serde_json::json!({"phone": fresh.get("phone").cloned().unwrap_or("5551234".into())}),
                3 => serde_json::json!({"email": fresh.get("email").cloned().unwrap_or(serde_json::Value::Null)}),
                4 => serde_json::json!({"active": rng.chance(50)}),
                _ => serde_json::json!({"firstName": fresh["firstName"], "displayName": "Renamed Smith"}),
            };
            c.patch(&format!("/api/v1/agents/{id}"), patch).await.expect(200);
            let (s, g, v) = (*rng.pick(&skills), *rng.pick(&groups), *rng.pick(&services));
            if rng.chance(50) {
                c.put(&format!("/api/v1/agents/{id}/skills/{s}"), serde_json::json!({"proficiency": 2})).await.expect(200);
            } else {
                c.delete(&format!("/api/v1/agents/{id}/skills/{s}")).await.expect(204);
            }
            if rng.chance(50) {
                c.put(&format!("/api/v1/agents/{id}/groups/{g}"), serde_json::json!({"receiveCall": true})).await.expect(200);
            } else {
                c.delete(&format!("/api/v1/agents/{id}/groups/{g}")).await.expect(204);
            }
            if rng.chance(50) {
                c.put(&format!("/api/v1/agents/{id}/services/{v}"), serde_json::json!({})).await.expect(200);
            } else {
                c.delete(&format!("/api/v1/agents/{id}/services/{v}")).await.expect(204);
            }
        }
        for _ in 0..3 {
            let gone = ids.swap_remove(rng.below(ids.len()));
            c.delete(&format!("/api/v1/agents/{gone}")).await.expect(204);
        }
        for i in 0..3 {
            let body = random_agent(&mut rng, 2000 + round * 10 + i, &skills, &services, &groups);
            ids.push(c.post("/api/v1/agents", body).await.expect(201).id());
        }
        compare_with_database(&srv, &reference, t.id, &mut rng, cat, &format!("round {round}, right after the writes")).await;
        settle().await;
        compare_with_database(&srv, &reference, t.id, &mut rng, cat, &format!("round {round}, re-read")).await;
    }

    // An import (the index is built anew) and writes by another process.
    let csv = "loginId,firstName,lastName,phone\nimp1,Ann,Importedson,5559990001\nimp2,Bob,Smith,+5559990002\n";
    let r = c.post("/api/v1/imports", serde_json::json!({"kind": "agents", "mode": "best-effort", "csv": csv})).await.expect(202);
    let loc = r.header("location").unwrap();
    eventually("import done", || async { c.get(&loc).await.expect(200).body }, |j| j["status"] == "done").await;
    compare_with_database(&srv, &reference, t.id, &mut rng, cat, "right after an import").await;
    {
        let ctx = switchboard_domain::WriteCtx {
            tenant_id: t.id,
            actor: switchboard_domain::Actor { user_id: None, api_key_id: None, label: "test:elsewhere".into() },
            now: 1,
        };
        for (i, id) in ids.iter().take(5).enumerate() {
            let changes = switchboard_domain::AgentChanges {
                last_name: Some(format!("Elsewhere{i}")),
                login_id: Some(format!("ELSE{i}")),
                ..Default::default()
            };
            reference.update_agent(&ctx, *id, changes, None).await.unwrap();
        }
        reference.remove_skill(&ctx, ids[6], skills[0]).await.unwrap();
        reference.assign_skill(&ctx, ids[7], skills[1], 4).await.unwrap();
    }
    // Seen once the other process's change reaches this one (SQLite: the
    // epoch, read at most every millisecond; PostgreSQL: the notification).
    settle().await;
    compare_with_database(&srv, &reference, t.id, &mut rng, cat, "after another process's writes").await;
    eventually("search index ready again", ready, |v| v == true).await;
    settle().await;
    let before = search_counts(&srv);
    compare_with_database(&srv, &reference, t.id, &mut rng, cat, "rebuilt").await;
    let after = search_counts(&srv);
    assert!(after.0 - before.0 > 2 * (after.1 - before.1), "the index answers most: {before:?} → {after:?}");
}

//! The benchmark data generator (`switchboard_store::synthetic`) leaves a
//! database the store reads like any other: counts, consecutive id ranges,
//! assignments within each tenant, the search index, list marks, a working
//! API key, and the database's own consistency checks — on SQLite and on
//! PostgreSQL (`SWITCHBOARD_TEST_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`; a schema of its own).

use switchboard_domain::*;
use switchboard_store::synthetic::{last_names, load_synthetic, Report, Spec};
use switchboard_store::{integrity_check, open, StoreOptions};

fn spec() -> Spec {
    // Two tenants; a batch smaller than the agents, so several transactions.
    Spec {
        tenants: 2,
        agents_per_tenant: 250,
        skills: 7,
        call_centers: 2,
        services: 4,
        groups: 5,
        batch: 100,
        now: 1_700_000_000_000,
        ..Spec::default()
    }
}

async fn check(url: &str, opts: &StoreOptions, report: &Report) {
    let spec = spec();
    assert_eq!(report.tenants.len(), 2);
    let store = open(url, opts).await.unwrap();
    for t in &report.tenants {
        assert_eq!(t.agents.count, 250);
        assert_eq!((t.skills.count, t.call_centers.count, t.services.count, t.groups.count), (7, 2, 4, 5));
        // 1–3 skills, one service, 1–2 groups per agent.
        assert!(t.agent_skills >= 250 && t.agent_skills <= 750, "{}", t.agent_skills);
        assert_eq!(t.agent_services, 250);
        assert!(t.agent_groups >= 250 && t.agent_groups <= 500, "{}", t.agent_groups);

        // The key works and names its tenant's admin.
        let p = store.authenticate_api_key(&secret::hash_api_key(&t.api_key)).await.unwrap().expect("key");
        assert_eq!((p.tenant_id, p.user_id, p.role), (t.tenant_id, t.user_id, Role::Sysadmin));
        let (_, hash) = store.find_user_by_name(t.tenant_id, "admin").await.unwrap();
        assert!(secret::verify_password(&t.password, &hash));

        // Agents read back whole, with assignments from their own tenant.
        for id in [t.agents.first, t.agents.first + 1, t.agents.first + 2, t.agents.last()] {
            let d = store.get_agent(t.tenant_id, id).await.unwrap();
            assert!(!d.agent.has_password);
            assert!(d.agent.login_id.starts_with("AG"));
            assert!((1..=3).contains(&d.skills.len()), "{d:?}");
            assert!(d.skills.iter().all(|s| (t.skills.first..=t.skills.last()).contains(&s.skill_id) && (1..=5).contains(&s.proficiency)));
            assert_eq!(d.service_ids.len(), 1);
            assert!((t.services.first..=t.services.last()).contains(&d.service_ids[0]));
            assert!((1..=2).contains(&d.groups.len()));
            assert!(d.groups.iter().all(|g| (t.groups.first..=t.groups.last()).contains(&g.group_id)));
        }
        // Another tenant's agent is not found.
        let other = report.tenants.iter().find(|o| o.tenant_id != t.tenant_id).unwrap();
        assert!(matches!(store.get_agent(t.tenant_id, other.agents.first).await, Err(Error::NotFound { .. })));

        // List info: the size and the list mark.
        let info = store.agent_list_info(t.tenant_id).await.unwrap();
        assert_eq!(info.size, 250);
        assert_eq!(info.last_modified, Some(spec.now));

        // Substring search by last name goes through the index and finds
        // exactly the agents whose last name contains the text.
        let name = store.get_agent(t.tenant_id, t.agents.first).await.unwrap().agent.last_name;
        assert!(last_names().contains(&name));
        let piece = name[1..5].to_lowercase();
        let f = AgentFilter { last_name_contains: Some(piece.clone()), ..Default::default() };
        let page = store.list_agents(t.tenant_id, &f, PageRequest { after: 0, offset: 0, limit: 500 }).await.unwrap();
        assert!(!page.items.is_empty());
        assert!(page.items.iter().all(|a| a.tenant_id == t.tenant_id && a.last_name.to_lowercase().contains(&piece)));
        let all = store.list_agents(t.tenant_id, &AgentFilter::default(), PageRequest { after: 0, offset: 0, limit: 500 }).await.unwrap();
        assert_eq!(all.items.len(), 250);
        let expected = all.items.iter().filter(|a| a.last_name.to_lowercase().contains(&piece)).count();
        assert_eq!(page.items.len(), expected);
    }
    assert_eq!(integrity_check(url, opts).await.unwrap(), "ok");
}

#[tokio::test]
async fn sqlite_synthetic_data_is_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db").to_string_lossy().into_owned();
    let opts = StoreOptions::default();
    let report = load_synthetic(&path, &opts, &spec()).await.unwrap();
    assert_eq!(report.backend, "sqlite");
    check(&path, &opts, &report).await;
    // The same names again are refused (tenant names are unique).
    assert!(load_synthetic(&path, &opts, &spec()).await.is_err());
}

#[tokio::test]
async fn postgres_synthetic_data_is_consistent() {
    let url = std::env::var("SWITCHBOARD_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("synthetic_{}", std::process::id());
    let opts = StoreOptions { pg_schema: Some(schema.clone()), ..StoreOptions::default() };
    let loaded = load_synthetic(&url, &opts, &spec()).await;
    let result = match loaded {
        Ok(r) => {
            assert_eq!(r.backend, "postgres");
            let (url, opts) = (url.clone(), opts.clone());
            tokio::spawn(async move { check(&url, &opts, &r).await }).await.map_err(|e| e.to_string())
        }
        Err(e) => Err(format!("load failed: {e}")),
    };
    switchboard_store::drop_pg_schema(&url, &schema).await.unwrap();
    result.unwrap();
}

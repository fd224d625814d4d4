//! The console's sorted agent lists are index walks, not sorts of the whole
//! tenant: the database's own plans on a tenant with 20,000 agents, for each
//! order, on SQLite and PostgreSQL (`SWITCHBOARD_TEST_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`; a schema of its own).

use switchboard_domain::*;
use switchboard_store::{explain_agent_search, open, StoreOptions};

const AGENTS: i64 = 20_000;
const COLUMNS: &str = "tenant_id, login_id, first_name, last_name, phone, wrap_up_time, home_agent, active, locked, failed_logins, attributes, created_at, updated_at";

async fn tenant(url: &str, opts: &StoreOptions) -> Id {
    let store = open(url, opts).await.unwrap();
    let t = NewTenant { name: "acme".into(), client_id: None, settings: TenantSettings::default() };
    let admin = NewUser { username: "admin".into(), password_hash: "x".into(), role: Role::Sysadmin, powers: vec![] };
    let key = NewApiKey { name: "k".into(), scope: Default::default(), prefix: "k".into(), hash: format!("h-sort-{url}") };
    store.create_tenant(t, admin, key, Actor::cli(), 1).await.unwrap().0.id
}

/// Each order and the index that serves it.
fn orders() -> [(AgentSort, &'static str); 6] {
    [
        (AgentSort::IdAsc, "ix_agents_tenant"),
        (AgentSort::IdDesc, "ix_agents_tenant"),
        (AgentSort::LoginIdAsc, "ix_agents_tenant_login_order"),
        (AgentSort::LoginIdDesc, "ix_agents_tenant_login_order"),
        (AgentSort::LastNameAsc, "ix_agents_tenant_last_name"),
        (AgentSort::LastNameDesc, "ix_agents_tenant_last_name"),
    ]
}

#[tokio::test]
async fn sqlite_sorted_lists_walk_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db").to_string_lossy().into_owned();
    let opts = StoreOptions::default();
    let t = tenant(&path, &opts).await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{path}")).await.unwrap();
    let sql = format!(
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < {AGENTS}) \
         INSERT INTO agents ({COLUMNS}) SELECT {t}, 'AGENT' || x, 'Ann', 'Smith' || (x * 7919 % {AGENTS}), printf('555%07d', x), -1, 0, x % 2, 0, 0, '{{}}', 1, 1 FROM n"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await.unwrap();
    sqlx::query("ANALYZE").execute(&pool).await.unwrap();
    for (sort, index) in orders() {
        for active in [None, Some(true)] {
            let f = AgentFilter { sort, active, ..Default::default() };
            let plan = explain_agent_search(&path, &opts, t, &f).await.unwrap();
            assert!(!plan.contains("TEMP B-TREE"), "{sort:?} sorts instead of walking an index: {plan}");
            // By id, a single-tenant table may as well walk the table itself
            // (its rowid is the id), as PostgreSQL may walk its primary key.
            let walks_table = index == "ix_agents_tenant" && plan.trim() == "SCAN a";
            if active.is_none() {
                assert!(plan.contains(index) || walks_table, "{sort:?} should use {index}: {plan}");
            }
        }
    }
}

#[tokio::test]
async fn postgres_sorted_lists_walk_an_index() {
    let url = std::env::var("SWITCHBOARD_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("sortplans_{}", std::process::id());
    let opts = StoreOptions { pg_schema: Some(schema.clone()), ..StoreOptions::default() };
    let t = tenant(&url, &opts).await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(url.parse::<sqlx::postgres::PgConnectOptions>().unwrap().options([("search_path", schema.as_str())]))
        .await
        .unwrap();
    let sql = format!(
        "INSERT INTO agents ({COLUMNS}) SELECT {t}, 'AGENT' || x, 'Ann', 'Smith' || (x * 7919 % {AGENTS}), '555' || lpad(x::text, 7, '0'), -1, false, true, false, 0, '{{}}', 1, 1 \
         FROM generate_series(1, {AGENTS}) AS x"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await.unwrap();
    sqlx::query("ANALYZE agents").execute(&pool).await.unwrap();
    let mut plans = Vec::new();
    for (sort, index) in orders() {
        let f = AgentFilter { sort, ..Default::default() };
        plans.push((sort, index, explain_agent_search(&url, &opts, t, &f).await.unwrap()));
    }
    pool.close().await;
    switchboard_store::drop_pg_schema(&url, &schema).await.unwrap();
    for (sort, index, plan) in plans {
        // By id, a single-tenant table may as well walk the primary key.
        let walks = plan.contains(index) || (index == "ix_agents_tenant" && plan.contains("agents_pkey"));
        assert!(walks && plan.contains("Index Scan") && !plan.contains("Sort Key"), "{sort:?} should walk {index}: {plan}");
    }
}

//! Substring search over agents uses an index, shown by the database's own
//! plans on a tenant with 20,000 agents: SQLite's FTS5 trigram table and
//! PostgreSQL's pg_trgm GIN indexes. (PostgreSQL: `SWITCHBOARD_TEST_PG_URL`,
//! default `postgres://postgres@127.0.0.1:5432/test`; a schema of its own.)

use switchboard_domain::*;
use switchboard_store::{explain_agent_search, open, StoreOptions};

const AGENTS: i64 = 20_000;

async fn tenant(url: &str, opts: &StoreOptions) -> Id {
    let store = open(url, opts).await.unwrap();
    let t = NewTenant { name: "acme".into(), client_id: None, settings: TenantSettings::default() };
    let admin = NewUser { username: "admin".into(), password_hash: "x".into(), role: Role::Sysadmin, powers: vec![] };
    let key = NewApiKey { name: "k".into(), scope: Default::default(), prefix: "k".into(), hash: format!("h-{url}") };
    store.create_tenant(t, admin, key, Actor::cli(), 1).await.unwrap().0.id
}

/// Bulk rows: loginId AGENTn, lastName Smithn, phone 555nnnnnnn.
const COLUMNS: &str = "tenant_id, login_id, first_name, last_name, phone, wrap_up_time, home_agent, active, locked, failed_logins, attributes, created_at, updated_at";

fn filters() -> [(AgentFilter, &'static str); 3] {
    [
        (AgentFilter { last_name_contains: Some("ith1234".into()), ..Default::default() }, "last_name"),
        (AgentFilter { login_id_contains: Some("ENT1999".into()), ..Default::default() }, "login_id"),
        (AgentFilter { phone_contains: Some("550019999".into()), ..Default::default() }, "phone"),
    ]
}

#[tokio::test]
async fn sqlite_search_uses_the_fts5_trigram_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db").to_string_lossy().into_owned();
    let opts = StoreOptions::default();
    let t = tenant(&path, &opts).await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{path}")).await.unwrap();
    let sql = format!(
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < {AGENTS}) \
         INSERT INTO agents ({COLUMNS}) SELECT {t}, 'AGENT' || x, 'Ann', 'Smith' || x, printf('555%07d', x), -1, 0, 1, 0, 0, '{{}}', 1, 1 FROM n"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await.unwrap();
    for (f, _) in filters() {
        let plan = explain_agent_search(&path, &opts, t, &f).await.unwrap();
        // The index drives (walked once, in id order), not probed per agent.
        assert!(plan.contains("SCAN f VIRTUAL TABLE INDEX") && !plan.contains("=M"), "{f:?}: {plan}");
    }
    // Fewer than 3 characters cannot use trigrams: a scan, still correct.
    let f = AgentFilter { last_name_contains: Some("h1".into()), ..Default::default() };
    assert!(!explain_agent_search(&path, &opts, t, &f).await.unwrap().contains("agents_fts"));
}

#[tokio::test]
async fn postgres_search_uses_the_trigram_gin_indexes() {
    let url = std::env::var("SWITCHBOARD_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("plans_{}", std::process::id());
    let opts = StoreOptions { pg_schema: Some(schema.clone()), ..StoreOptions::default() };
    let t = tenant(&url, &opts).await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(url.parse::<sqlx::postgres::PgConnectOptions>().unwrap().options([("search_path", schema.as_str())]))
        .await
        .unwrap();
    let sql = format!(
        "INSERT INTO agents ({COLUMNS}) SELECT {t}, 'AGENT' || x, 'Ann', 'Smith' || x, '555' || lpad(x::text, 7, '0'), -1, false, true, false, 0, '{{}}', 1, 1 \
         FROM generate_series(1, {AGENTS}) AS x"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await.unwrap();
    sqlx::query("ANALYZE agents").execute(&pool).await.unwrap();
    let mut plans = Vec::new();
    for (f, col) in filters() {
        let plan = explain_agent_search(&url, &opts, t, &f).await.unwrap();
        plans.push((format!("ix_agents_{col}_trgm"), plan));
    }
    pool.close().await;
    switchboard_store::drop_pg_schema(&url, &schema).await.unwrap();
    for (index, plan) in plans {
        assert!(plan.contains(&index), "{index}: {plan}");
    }
}

//! The PostgreSQL backend: one pool for reads and writes, the same SQL as
//! SQLite (`src/sql/*.rs`), its own migrations. Several Switchboard
//! instances may share one database: sqlx takes an advisory lock while it
//! migrates, so instances starting together apply each migration once.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::ConnectOptions as _;

type Db = sqlx::Postgres;

mod listen;

/// `row_lock_sql` for agents, as a clause of the read that starts their writes.
macro_rules! agent_row_lock {
    () => {
        " FOR NO KEY UPDATE OF agents"
    };
}

include!("sql/common.rs");
include!("sql/accounts.rs");
include!("sql/audit.rs");
include!("sql/catalog.rs");
include!("sql/telephony.rs");
include!("sql/agents.rs");
include!("sql/idempotency.rs");
include!("sql/imports.rs");
include!("sql/events.rs");

/// PostgreSQL's part of the shared SQL's contract (`Backend`, `sql/common.rs`).
struct This;

impl Backend for This {
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";
    const FOR_UPDATE: &'static str = " FOR UPDATE";
    /// Nothing to announce: the triggers of migration 0005 tell every instance's
    /// cache of every write, whoever makes it.
    async fn announce_write(_: &mut DbTx) -> Result<()> {
        Ok(())
    }

    /// Nothing to catch up: the trigram indexes are written with the rows.
    async fn before_commit(_: &mut DbConn) -> Result<()> {
        Ok(())
    }

    /// The triggers keep the cache current; a read need not ask.
    fn cache_epoch(_: &SqlStore) -> Result<Option<i64>> {
        Ok(None)
    }

    /// READ COMMITTED; the shared SQL guards read-modify-write with `version`
    /// checks and relies on unique indexes and foreign keys for races.
    async fn begin_write(pool: &DbPool) -> Result<DbTx> {
        pool.begin().await.map_err(db_err)
    }

    /// Under READ COMMITTED another write to the same row can commit between a
    /// transaction's read and its version-checked UPDATE, which would then answer
    /// `version_mismatch` to a client that sent no precondition. Writers lock the
    /// row first; `NO KEY UPDATE` because the foreign-key checks of rows inserted
    /// beside it (an agent's skills, groups…) need not wait on it.
    fn row_lock_sql(entity: Entity) -> Option<&'static str> {
        Some(match entity {
            Entity::Tenant => "SELECT 1 FROM tenants WHERE id = $1 FOR NO KEY UPDATE",
            Entity::User => "SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE",
            Entity::ApiKey => "SELECT 1 FROM api_keys WHERE id = $1 FOR NO KEY UPDATE",
            Entity::Agent => "SELECT 1 FROM agents WHERE id = $1 FOR NO KEY UPDATE",
            Entity::Skill => "SELECT 1 FROM skills WHERE id = $1 FOR NO KEY UPDATE",
            Entity::CallCenter => "SELECT 1 FROM call_centers WHERE id = $1 FOR NO KEY UPDATE",
            Entity::Service => "SELECT 1 FROM services WHERE id = $1 FOR NO KEY UPDATE",
            Entity::Group => "SELECT 1 FROM agent_group_defs WHERE id = $1 FOR NO KEY UPDATE",
            Entity::Phone => "SELECT 1 FROM phones WHERE id = $1 FOR NO KEY UPDATE",
            Entity::Did => "SELECT 1 FROM dids WHERE id = $1 FOR NO KEY UPDATE",
            Entity::Campaign => "SELECT 1 FROM campaigns WHERE id = $1 FOR NO KEY UPDATE",
            Entity::Webhook => "SELECT 1 FROM webhooks WHERE id = $1 FOR NO KEY UPDATE",
        })
    }

    /// Agents whose `columns` contain `text`, case-insensitively; the
    /// `lower(col) LIKE` form is what the pg_trgm GIN indexes serve.
    fn agent_contains(qb: &mut QueryBuilder, columns: &[&str], text: &str) -> String {
        agent_like(qb, columns, text)
    }

    /// No full-text index to drive a search by (the trigram indexes serve the
    /// row filters of `agent_contains`).
    fn text_index_match(_: &mut QueryBuilder, _: &[(&[&str], String)]) -> Option<String> {
        None
    }

    /// Nothing to tidy: the GIN indexes take their pending entries in as they go.
    async fn after_bulk_agent_load(_: &DbPool) -> Result<()> {
        Ok(())
    }

    /// Whether to find text matches through the trigram indexes first, rather
    /// than let the planner walk the primary key for an id-ordered page. It
    /// over-estimates how many rows a substring matches (1 % where 0.1 % did at
    /// 1M agents) and so walks: 38 ms for a page that the index finds in 7 ms.
    /// A text of 5 characters or more is taken as selective; shorter ones (3
    /// characters: "son") can match a large share, where the walk is faster.
    fn text_filters_first(texts: &[(&[&str], String)]) -> bool {
        texts.iter().any(|(_, t)| t.chars().count() >= 5)
    }

    const EXPLAIN: &'static str = "EXPLAIN ";

    /// Text compared byte by byte, whatever the database's collation (UTF-8
    /// bytes and code points sort alike); ix_agents_tenant_login_order has it.
    const BYTE_ORDER: &'static str = " COLLATE \"C\"";
    const BULK_READS_ON_ONE_CONNECTION: bool = false;

    async fn prepare_explain(_tx: &mut DbTx) -> Result<()> {
        Ok(())
    }

    fn explain_line(r: &DbRow) -> Result<String> {
        col(r, "QUERY PLAN")
    }
}

/// Pool and cache figures for `/metrics`.
fn stats_of(store: &SqlStore) -> switchboard_domain::StoreStats {
    let pool = |name, p: &DbPool| {
        let idle = p.num_idle() as u32;
        switchboard_domain::PoolStats { name, in_use: p.size().saturating_sub(idle), idle, max: p.options().get_max_connections() }
    };
    switchboard_domain::StoreStats {
        pools: [("pool", &store.reader)].into_iter().map(|(n, p)| pool(n, p)).collect(),
        cache: store.cache().map(|c| c.counts()).unwrap_or_default(),
    }
}

fn connect_options(url: &str, opts: &crate::StoreOptions) -> Result<PgConnectOptions> {
    let mut o = PgConnectOptions::from_str(url).map_err(|e| Error::Storage(format!("invalid PostgreSQL URL: {e}")))?;
    let mut settings: Vec<(&str, String)> = vec![("statement_timeout", format!("{}", opts.statement_timeout.as_millis()))];
    if let Some(schema) = &opts.pg_schema {
        settings.push(("search_path", schema.clone()));
    }
    o = o.options(settings);
    // TLS: `sslmode` (and `sslrootcert`) come with the URL; a CA file of
    // the flags' takes the URL's place.
    if let Some(ca) = &opts.pg_ca_file {
        if !ca.is_file() {
            return Err(Error::Storage(format!("CA file {} not found", ca.display())));
        }
        o = o.ssl_root_cert(ca);
    }
    // Statements are logged at debug only, and never with their bound values.
    Ok(o.log_statements(tracing::log::LevelFilter::Debug))
}

pub(crate) async fn open(url: &str, opts: &crate::StoreOptions) -> Result<SqlStore> {
    let base = connect_options(url, opts)?;
    if let Some(schema) = &opts.pg_schema {
        if !schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || schema.is_empty() {
            return Err(Error::Storage("schema names are letters, digits and _".into()));
        }
        // Instances starting together would race on CREATE SCHEMA IF NOT
        // EXISTS; a transaction-scoped advisory lock serialises them.
        let mut conn = base.connect().await.map_err(crate::open_err)?;
        let mut tx = sqlx::Connection::begin(&mut conn).await.map_err(crate::open_err)?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('switchboard:create-schema'))")
            .execute(&mut *tx)
            .await
            .map_err(crate::open_err)?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS {schema}")))
            .execute(&mut *tx)
            .await
            .map_err(crate::open_err)?;
        tx.commit().await.map_err(crate::open_err)?;
    }
    let pool = PgPoolOptions::new()
        .max_connections(opts.max_connections.max(2))
        .acquire_timeout(opts.busy_timeout)
        .connect_with(base.clone())
        .await
        .map_err(crate::open_err)?;
    if opts.migrate {
        // The migrator's advisory lock makes instances that start together
        // apply each migration once; it can be turned off for poolers that
        // do not keep session-level locks (e.g. PgBouncer in transaction mode).
        let mut migrator = sqlx::migrate!("./migrations/postgres");
        migrator.set_locking(opts.migration_lock);
        migrator.run(&pool).await.map_err(|e| Error::Storage(format!("migration failed: {e}")))?;
    }
    let cache = match opts.agent_cache_entries {
        0 => None,
        entries => {
            // The schema the tables are in, as the triggers name it.
            let schema: String = sqlx::query_scalar("SELECT current_schema()::text").fetch_one(&pool).await.map_err(db_err)?;
            let cache = std::sync::Arc::new(crate::cache::ReadCache::new(entries));
            let listener = tokio::spawn(listen::run(base, pool.clone(), listen::channel(&schema), cache.clone())).abort_handle();
            let preload =
                opts.agent_cache_preload.then(|| tokio::spawn(preload_agents(pool.clone(), cache.clone(), entries)).abort_handle());
            let names = opts.name_index.then(|| tokio::spawn(maintain_search(pool.clone(), cache.clone())).abort_handle());
            Some(crate::cache::Listening { cache, tasks: [Some(listener), preload, names].into_iter().flatten().collect() })
        }
    };
    Ok(SqlStore { writer: pool.clone(), reader: pool, direct: None, cache })
}

/// Drops a schema made for a test run.
pub(crate) async fn drop_schema(url: &str, schema: &str) -> Result<()> {
    if !schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || schema.is_empty() {
        return Err(Error::Storage("schema names are letters, digits and _".into()));
    }
    let mut conn = PgConnectOptions::from_str(url).map_err(|e| Error::Storage(e.to_string()))?.connect().await.map_err(db_err)?;
    // Give up rather than wait forever on a connection that still uses it.
    sqlx::query("SET lock_timeout = '10s'").execute(&mut conn).await.map_err(db_err)?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))).execute(&mut conn).await.map_err(db_err)?;
    Ok(())
}

/// Drops schemas named `<prefix><hex ns timestamp>_…` older than `age`.
pub(crate) async fn drop_stale_schemas(url: &str, prefix: &str, age: std::time::Duration) -> Result<()> {
    let mut conn = PgConnectOptions::from_str(url).map_err(|e| Error::Storage(e.to_string()))?.connect().await.map_err(db_err)?;
    let names: Vec<String> = sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1)")
        .bind(prefix)
        .fetch_all(&mut conn)
        .await
        .map_err(db_err)?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    for name in names {
        let stamp = name[prefix.len()..].split('_').next().and_then(|h| u128::from_str_radix(h, 16).ok());
        if stamp.is_some_and(|t| now.saturating_sub(t) > age.as_nanos()) {
            let _ = drop_schema(url, &name).await;
        }
    }
    Ok(())
}

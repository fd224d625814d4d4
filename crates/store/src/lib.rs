//! Switchboard's storage: the domain's [`Store`] port on SQL databases.
//!
//! The SQL is written once, in `src/sql/*.rs` (one file per concern of the
//! port), against a type alias `Db`; each backend module (`sqlite`,
//! `postgres`) sets `Db`, implements the `Backend` contract declared in
//! `sql/common.rs` and `include!`s those files, keeping connection setup, how
//! a write transaction begins and its migrations to itself. The shared SQL therefore sticks to what both
//! engines accept: `$n` placeholders, `lower(..)` for case-insensitivity,
//! `INSERT … RETURNING`, `ON CONFLICT`, BOOLEAN columns and JSON as TEXT.

use std::sync::Arc;
use std::time::Duration;

use switchboard_domain::{Entity, Error, Result, Store};

mod backend;
mod cache;
mod postgres;
mod shared;
mod sqlite;
pub mod synthetic;

pub use shared::{connect_redis, Redis, RedisRateLimiter, RedisSessions};

/// Tuning of the connection pools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Connections of the read pool (SQLite: writes use one more connection).
    pub max_readers: u32,
    /// How long a statement waits for a lock held by another connection or process.
    pub busy_timeout: Duration,
    /// SQLite: `synchronous=FULL` instead of `NORMAL` (durable across power loss).
    pub synchronous_full: bool,
    /// PostgreSQL: connections of the pool (reads and writes).
    pub max_connections: u32,
    /// PostgreSQL: statements running longer are cancelled.
    pub statement_timeout: Duration,
    /// PostgreSQL: use (and create) this schema instead of `public`; lets
    /// tests and several deployments share one database.
    pub pg_schema: Option<String>,
    /// PostgreSQL over TLS: the CA certificates (PEM) the server's
    /// certificate must chain to under `sslmode=verify-ca`/`verify-full`
    /// (as `sslrootcert=` in the URL); without either, the public web CAs.
    pub pg_ca_file: Option<std::path::PathBuf>,
    /// Apply pending migrations at open (default). Off: a deployment runs
    /// them once, e.g. with `switchboard admin migrate`.
    pub migrate: bool,
    /// PostgreSQL: hold an advisory lock while migrating (default), so that
    /// instances starting together are safe.
    pub migration_lock: bool,
    /// Agents kept in memory by id (with API-key principals), kept coherent
    /// with the database (`cache.rs`); 0 turns the cache off.
    pub agent_cache_entries: usize,
    /// Fill the agent cache at start (in the background).
    pub agent_cache_preload: bool,
    /// Keep the in-memory agent search index (`cache/search.rs`: every
    /// searchable field, the filters, the loginId order) that answers agent
    /// lists and searches; needs the cache.
    pub name_index: bool,
    /// SQLite: create the database file when it does not exist (`serve`,
    /// `admin migrate`, `admin create-tenant`). Off, a missing file is an
    /// error: a command that only reads must not leave an empty database
    /// behind a mistyped path.
    pub create: bool,
    /// SQLite: run the hottest agent writes and reads on the rusqlite fast
    /// path (`sqlite/direct.rs`, default). Off, everything takes the shared
    /// SQL, as on PostgreSQL: for the test that compares the two paths.
    pub sqlite_fast_path: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_readers: 8,
            busy_timeout: Duration::from_secs(5),
            synchronous_full: false,
            max_connections: 8,
            statement_timeout: Duration::from_secs(30),
            pg_schema: None,
            pg_ca_file: None,
            migrate: true,
            migration_lock: true,
            agent_cache_entries: 0,
            agent_cache_preload: false,
            name_index: false,
            create: true,
            sqlite_fast_path: true,
        }
    }
}

/// Makes rustls's ring provider the process's default (Redis's TLS asks for
/// the default; sqlx names its own). Idempotent.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Whether `url` names a PostgreSQL database (else SQLite).
pub fn is_postgres_url(url: &str) -> bool {
    let url = url.trim();
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Writes a consistent copy of the SQLite database at `url` to `dest`
/// (`VACUUM INTO`: one read transaction, so writers go on meanwhile), a new
/// file of mode 0600; returns its size in bytes.
pub async fn backup_sqlite(url: &str, dest: &std::path::Path) -> Result<u64> {
    sqlite::backup(url.trim(), dest).await
}

/// Opens the database at `url` and applies pending migrations.
///
/// `sqlite:…` URLs and bare file paths (`./switchboard.db`, `/tmp/x.db`) open
/// SQLite, creating the file (mode 0600) if missing and `opts.create` allows
/// it; `postgres://` and `postgresql://`
/// open PostgreSQL.
pub async fn open(url: &str, opts: &StoreOptions) -> Result<Arc<dyn Store>> {
    install_tls_provider();
    let url = url.trim();
    if is_postgres_url(url) {
        let store = postgres::open(url, opts).await?;
        tracing::info!(schema = opts.pg_schema.as_deref().unwrap_or("public"), "using PostgreSQL");
        return Ok(Arc::new(store));
    }
    if url.is_empty() {
        return Err(Error::Storage("empty database URL".into()));
    }
    if url.starts_with("sqlite:") || !url.contains("://") {
        let store = sqlite::open(url, opts).await?;
        return Ok(Arc::new(store));
    }
    Err(Error::Storage("unsupported database URL: expected sqlite:, a file path or postgres://".into()))
}

/// The query plan of an agent search on the database at `url`, to show
/// (in tests and benchmarks) that substring search uses an index.
pub async fn explain_agent_search(
    url: &str,
    opts: &StoreOptions,
    tenant: switchboard_domain::Id,
    filter: &switchboard_domain::AgentFilter,
) -> Result<String> {
    let url = url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        postgres::open(url, opts).await?.explain_agent_list(tenant, filter).await
    } else {
        sqlite::open(url, opts).await?.explain_agent_list(tenant, filter).await
    }
}

/// The database's own consistency check: SQLite `PRAGMA integrity_check`
/// ("ok" when sound) and the foreign keys; PostgreSQL has no equivalent
/// cheap check, so this verifies the foreign keys there only (via the same
/// query on both: rows whose parent is missing).
pub async fn integrity_check(url: &str, opts: &StoreOptions) -> Result<String> {
    let url = url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        postgres::open(url, opts).await?.integrity_check(false).await
    } else {
        sqlite::open(url, opts).await?.integrity_check(true).await
    }
}

/// Drops PostgreSQL schemas `<prefix><hex ns timestamp>_…` older than `age`
/// (test clean-up of runs that ended early).
pub async fn drop_stale_pg_schemas(url: &str, prefix: &str, age: std::time::Duration) -> Result<()> {
    postgres::drop_stale_schemas(url, prefix, age).await
}

/// Drops a PostgreSQL schema (test clean-up).
pub async fn drop_pg_schema(url: &str, schema: &str) -> Result<()> {
    postgres::drop_schema(url, schema).await
}

// ---- backend-independent helpers used by the shared SQL ----------------------

/// Maps an unexpected database error; logs it (never bound values: sqlx's
/// messages do not contain them).
fn db_err(e: sqlx::Error) -> Error {
    if matches!(e, sqlx::Error::PoolTimedOut) {
        metrics::counter!("switchboard_db_pool_timeouts_total").increment(1);
    }
    tracing::error!(error = %e, "database error");
    Error::Storage(e.to_string())
}

/// Maps an error of opening the database (connecting, migrating): not
/// logged here, as the caller reports it (the CLI in its one error line).
fn open_err(e: sqlx::Error) -> Error {
    Error::Storage(e.to_string())
}

/// A unique index a statement may violate, and how to report it.
struct Unique<'a> {
    index: &'static str,
    entity: Entity,
    field: &'static str,
    value: &'a str,
}

/// Maps a unique violation onto `Duplicate`, choosing among the indexes the
/// statement could break by the index name the database reports (PostgreSQL:
/// the constraint; SQLite: "UNIQUE constraint failed: index 'ux_…'").
fn unique_err(e: sqlx::Error, candidates: &[Unique<'_>]) -> Error {
    let Some(d) = e.as_database_error().filter(|d| d.is_unique_violation()) else {
        return db_err(e);
    };
    duplicate_of(d.message(), d.constraint(), candidates).unwrap_or_else(|| db_err(e))
}

/// The `Duplicate` a unique violation reported as `msg` (and, by PostgreSQL,
/// `constraint`) stands for, if one of `candidates` matches.
fn duplicate_of(msg: &str, constraint: Option<&str>, candidates: &[Unique<'_>]) -> Option<Error> {
    // SQLite names the columns instead ("tenants.client_id") for a plain-column index.
    let by_column = |c: &Unique<'_>| msg.contains(&format!(".{}", snake_case(c.field)));
    let hit = candidates
        .iter()
        .find(|c| constraint == Some(c.index) || msg.contains(c.index))
        .or_else(|| candidates.iter().find(|c| by_column(c)))
        .or(if candidates.len() == 1 { candidates.first() } else { None });
    hit.map(|c| Error::Duplicate { entity: c.entity, field: c.field, value: c.value.to_string() })
}

fn snake_case(field: &str) -> String {
    let mut out = String::with_capacity(field.len() + 4);
    for ch in field.chars() {
        if ch.is_ascii_uppercase() {
            out.push('_');
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Storage(format!("cannot encode JSON: {e}")))
}

fn to_value<T: serde::Serialize + ?Sized>(v: &T) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| Error::Storage(format!("cannot encode JSON: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| {
        tracing::error!(error = %e, column = what, "stored JSON does not decode");
        Error::Storage(format!("stored {what} does not decode: {e}"))
    })
}

/// A `LIKE` pattern matching `s` anywhere, with `\` as the escape character.
fn contains_pattern(s: &str) -> String {
    let mut p = String::with_capacity(s.len() + 2);
    p.push('%');
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

/// Turns `limit + 1` fetched rows into a page.
fn page_of<T>(mut items: Vec<T>, limit: u32) -> switchboard_domain::Page<T> {
    let limit = limit as usize;
    let has_more = items.len() > limit;
    items.truncate(limit);
    switchboard_domain::Page { items, has_more }
}

fn fetch_limit(limit: u32) -> i64 {
    i64::from(limit) + 1
}

fn offset_of(offset: u64) -> i64 {
    i64::try_from(offset).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("a%b_c\\d"), "%a\\%b\\_c\\\\d%");
        assert_eq!(contains_pattern(""), "%%");
        assert_eq!(snake_case("clientId"), "client_id");
    }
}

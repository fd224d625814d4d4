// Shared SQL: what every concern's file uses. `include!`d first by each
// backend module (`sqlite.rs`, `postgres.rs`) after it has defined `type Db`
// and the functions the shared SQL calls (`begin_write`, `row_lock_sql`, …).
// The files after it hold one concern each: its SQL, its row
// decoders and its part of the `Store` port (accounts, audit, catalog,
// telephony, agents, idempotency, imports). They must only use SQL both
// engines accept, and define no inner attributes or module docs (include!
// forbids them).
//
// Every method that writes runs in exactly one transaction begun by
// `begin_write`, including its audit event; returning early with an error
// drops the transaction, which rolls it back. Reads use the reader pool, in a
// (read) transaction when they take more than one statement.

#[allow(unused_imports)]
use sqlx::Row as _;

use switchboard_domain::{
    Actor, Agent, AgentDetail, AgentFilter, AuditAction, Entity, Error, GroupMembership, Id, Millis, PageRequest, Result, Rule,
    SkillAssignment, WriteCtx,
};

#[allow(unused_imports)]
use crate::{contains_pattern, db_err, fetch_limit, from_json, offset_of, page_of, to_json, to_value, unique_err, Unique};

use crate::cache::Cached;
use switchboard_domain::store::traits::*;

use switchboard_domain::{
    AgentChanges, AgentRecord, ApiKeyInfo, AuditEvent, Campaign, CampaignInput, Did, IdempotentResponse, ListInfo, Named, NewApiKey,
    NewTenant, NewUser, Page, Phone, PhoneInput, Principal, Service, ServiceInput, Skill, SkillInput, Store, Tenant, TenantSettings, User,
    UserChanges,
};

use std::collections::{HashMap, HashSet};

use switchboard_domain::{
    AgentImport, AssignmentType, ImportControl, ImportJob, ImportJobUpdate, ImportKind, ImportMode, ImportOptions, ImportRecord, ImportRow,
    ImportRun, ImportRunOptions, NameBook, OnConflict, RowAction, RowChange, RowError, RowOutcome,
};

type DbPool = sqlx::Pool<Db>;

type DbTx = sqlx::Transaction<'static, Db>;

type DbConn = <Db as sqlx::Database>::Connection;

type DbRow = <Db as sqlx::Database>::Row;

use crate::backend::Arg;

/// What a backend provides to the shared SQL, implemented by each backend
/// module for its marker `This` (a missing item is a compile error naming
/// it). Besides this trait, a backend module defines, before including the
/// shared files: `type Db` (its sqlx database), and the macro
/// `agent_row_lock!()`, the clause that locks an agent's row in the read
/// that starts its writes (a macro, because `concat!` needs a literal).
trait Backend {
    /// The clause that locks the rows a `SELECT` picks and skips those other
    /// transactions hold (delivery leases; "" where writers are serialised).
    const SKIP_LOCKED: &'static str;
    /// The clause that locks the rows a `SELECT` reads ("" where writers are serialised).
    const FOR_UPDATE: &'static str;
    /// The prefix that makes a statement show its query plan.
    const EXPLAIN: &'static str;
    /// The collation clause that compares text byte by byte (LiveVox's
    /// List Agents order), whatever the database's default.
    const BYTE_ORDER: &'static str;
    /// Whether the agent cache's preload and the search index's build read
    /// through one connection held throughout (`BulkReads`): SQLite, where
    /// each pooled connection's rows are allocated in a C heap arena of its
    /// own that keeps its high-water mark. PostgreSQL's rows are Rust's, and
    /// its pool serves requests: it lends a connection per batch.
    const BULK_READS_ON_ONE_CONNECTION: bool;
    /// Starts a write transaction (SQLite: `BEGIN IMMEDIATE`, taking the
    /// database's write lock).
    fn begin_write(pool: &DbPool) -> impl std::future::Future<Output = Result<DbTx>> + Send;
    /// The statement that locks one row for the rest of a write transaction
    /// (`$1`: its id), where the engine needs one.
    fn row_lock_sql(entity: Entity) -> Option<&'static str>;
    /// A condition: agents whose `columns` contain `text`, case-insensitively.
    fn agent_contains(qb: &mut QueryBuilder, columns: &[&str], text: &str) -> String;
    /// `FROM … WHERE <match>` driven by a full-text index matching every
    /// text in its columns, where the engine has one (else `None`).
    fn text_index_match(qb: &mut QueryBuilder, texts: &[(&[&str], String)]) -> Option<String>;
    /// Whether selective text filters should drive a list (not the id order).
    fn text_filters_first(texts: &[(&[&str], String)]) -> bool;
    /// Tidies the search index after many agents were written at once.
    fn after_bulk_agent_load(pool: &DbPool) -> impl std::future::Future<Output = Result<()>> + Send;
    /// Readies a transaction for `EXPLAIN` (settings of the planner).
    fn prepare_explain(tx: &mut DbTx) -> impl std::future::Future<Output = Result<()>> + Send;
    /// One line of the plan `EXPLAIN` returned.
    fn explain_line(r: &DbRow) -> Result<String>;
    /// Tells other processes' agent caches that this one wrote (where
    /// nothing else tells them).
    fn announce_write(tx: &mut DbTx) -> impl std::future::Future<Output = Result<()>> + Send;
    /// The last step of every write transaction before its COMMIT.
    fn before_commit(c: &mut DbConn) -> impl std::future::Future<Output = Result<()>> + Send;
    /// Where another process's writes show, if a read must ask.
    fn cache_epoch(store: &SqlStore) -> Result<Option<i64>>;
}

/// The store over one database: writes go through `writer`, reads `reader`.
pub(crate) struct SqlStore {
    writer: DbPool,
    reader: DbPool,
    /// The backend's own path for its hottest operations, if it has one
    /// (SQLite on a file: `sqlite/direct.rs`); these methods defer to it.
    direct: Option<Box<dyn crate::backend::FastPath>>,
    /// Agents and API-key principals kept in memory, with the tasks that
    /// keep them coherent and fill them (`agent_cache_entries`; `crate::cache`).
    cache: Option<crate::cache::Listening>,
}

fn col<'r, T>(r: &'r DbRow, name: &str) -> Result<T>
where
    T: sqlx::Decode<'r, Db> + sqlx::Type<Db>,
{
    r.try_get(name).map_err(db_err)
}

/// Optimistic concurrency: the caller's expected version against the stored one.
fn check_version(entity: Entity, id: Id, current: i64, expected: Option<i64>) -> Result<()> {
    match expected {
        Some(v) if v != current => Err(Error::VersionMismatch { entity, id: id.to_string(), current }),
        _ => Ok(()),
    }
}

/// Locks the row a write transaction is about to read and then change, on a
/// backend whose isolation would otherwise let another write commit in
/// between (`row_lock_sql`); a row that is not there is not an error here
/// (the read that follows answers 404).
async fn lock_row(c: &mut DbConn, entity: Entity, id: Id) -> Result<()> {
    if let Some(sql) = This::row_lock_sql(entity) {
        sqlx::query(sql).bind(id).execute(&mut *c).await.map_err(db_err)?;
    }
    Ok(())
}

/// After an `UPDATE … WHERE id = $ AND version = $` touched no row: someone
/// else changed (or deleted) the row since it was read in this transaction.
fn lost_update(entity: Entity, id: Id, read_version: i64) -> Error {
    Error::VersionMismatch { entity, id: id.to_string(), current: read_version + 1 }
}

fn expect_one(done: u64, entity: Entity, id: Id, read_version: i64) -> Result<()> {
    if done == 1 {
        Ok(())
    } else {
        Err(lost_update(entity, id, read_version))
    }
}

const MARK_LIST_SQL: &str = "INSERT INTO list_marks (tenant_id, entity, shard, modified_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (tenant_id, entity, shard) DO UPDATE SET modified_at = \
     CASE WHEN excluded.modified_at > list_marks.modified_at THEN excluded.modified_at ELSE list_marks.modified_at END";

/// Rows a list's mark is spread over (migration 0007): writes of different
/// objects seldom stamp the same row, so on PostgreSQL they do not queue on
/// its lock until each other's COMMIT.
const LIST_MARK_SHARDS: Id = 16;

fn list_mark_shard(object: Id) -> i64 {
    object.rem_euclid(LIST_MARK_SHARDS)
}

/// Records that a list (agents, skills) changed at `now`, by a write of
/// `object` (its id picks the mark's row; 0 where there is none).
async fn mark_list(c: &mut DbConn, tenant: Id, entity: Entity, object: Id, now: Millis) -> Result<()> {
    sqlx::query(MARK_LIST_SQL)
        .bind(tenant)
        .bind(entity.as_str())
        .bind(list_mark_shard(object))
        .bind(now)
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(())
}

async fn list_info(c: &mut DbConn, tenant: Id, entity: Entity) -> Result<switchboard_domain::ListInfo> {
    let count_sql = match entity {
        Entity::Agent => "SELECT COUNT(*) FROM agents WHERE tenant_id = $1",
        Entity::Skill => "SELECT COUNT(*) FROM skills WHERE tenant_id = $1",
        _ => return Err(Error::Storage(format!("no list info for {entity}"))),
    };
    let size: i64 = sqlx::query_scalar(count_sql).bind(tenant).fetch_one(&mut *c).await.map_err(db_err)?;
    let last_modified: Option<i64> = sqlx::query_scalar("SELECT MAX(modified_at) FROM list_marks WHERE tenant_id = $1 AND entity = $2")
        .bind(tenant)
        .bind(entity.as_str())
        .fetch_one(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(switchboard_domain::ListInfo { size, last_modified })
}

// ---- dynamic SQL -------------------------------------------------------------------

struct QueryBuilder {
    sql: String,
    args: Vec<Arg>,
}

impl QueryBuilder {
    fn new(sql: &str) -> Self {
        QueryBuilder { sql: sql.to_string(), args: Vec::new() }
    }

    /// A query of one tenant's rows: `select_where` ends in `tenant_id = `,
    /// which the tenant's placeholder completes.
    fn for_tenant(select_where: &str, tenant: Id) -> Self {
        let mut qb = QueryBuilder::new(select_where);
        let t = qb.arg(Arg::Int(tenant));
        qb.push(&t);
        qb
    }

    /// Adds a value and returns its placeholder (`$n`).
    fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }

    fn push(&mut self, s: &str) {
        self.sql.push_str(s);
    }

    /// `(p1, p2, …)`: the ids, bound, for an `IN` list.
    fn push_ids(&mut self, ids: &[Id]) {
        let params: Vec<String> = ids.iter().map(|&id| self.arg(Arg::Int(id))).collect();
        self.push(&format!("({})", params.join(", ")));
    }

    /// `(lower(p1), lower(p2), …)`: the texts, bound, lower-cased by the
    /// database as its unique indexes on `lower(…)` are.
    fn push_lower_texts(&mut self, texts: &[String]) {
        let params: Vec<String> = texts.iter().map(|t| format!("lower({})", self.arg(Arg::Text(t.clone())))).collect();
        self.push(&format!("({})", params.join(", ")));
    }

    fn build(self) -> sqlx::query::Query<'static, Db, <Db as sqlx::Database>::Arguments> {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(self.sql));
        for a in self.args {
            q = match a {
                Arg::Int(i) => q.bind(i),
                Arg::Text(s) => q.bind(s),
                Arg::Bool(b) => q.bind(b),
            };
        }
        q
    }
}

impl SqlStore {
    async fn write(&self) -> Result<DbTx> {
        let mut tx = This::begin_write(&self.writer).await?;
        if self.cache.is_none() {
            // Another process may be serving from a cache of the same data.
            This::announce_write(&mut tx).await?;
        }
        Ok(tx)
    }

    /// A write transaction that will read, then change or delete, one row:
    /// the row is locked first where the backend needs it (`lock_row`).
    async fn write_locking(&self, entity: Entity, id: Id) -> Result<DbTx> {
        let mut tx = self.write().await?;
        lock_row(&mut tx, entity, id).await?;
        Ok(tx)
    }

    async fn read(&self) -> Result<DbTx> {
        self.reader.begin().await.map_err(db_err)
    }

    fn cache(&self) -> Option<&crate::cache::ReadCache> {
        self.cache.as_ref().map(|l| &*l.cache)
    }

    /// The cache, once it has heard of what other processes wrote (SQLite:
    /// `cache_epoch`, read at most every millisecond; PostgreSQL's listener
    /// hears of it by itself).
    fn fresh_cache(&self) -> Result<Option<&crate::cache::ReadCache>> {
        let Some(c) = self.cache() else { return Ok(None) };
        if c.epoch_due() {
            if let Some(epoch) = This::cache_epoch(self)? {
                c.observe_epoch(epoch);
            }
        }
        Ok(Some(c))
    }

    /// Taken at the start of a write: forgets what it changes once it returns.
    fn forgets(&self, change: crate::cache::Change) -> crate::cache::ForgetOnDrop<'_> {
        crate::cache::ForgetOnDrop { cache: self.cache(), change, written: None }
    }
}

/// A lookup by a name or number holding a NUL finds nothing: no stored one
/// holds it (names refuse control characters), and PostgreSQL refuses it in a
/// text parameter (which answered 500 to a login with one in the tenant).
fn refuse_nul(entity: Entity, text: &str) -> Result<()> {
    if text.contains('\0') {
        return Err(Error::not_found(entity, text.escape_default()));
    }
    Ok(())
}

async fn commit(mut tx: DbTx) -> Result<()> {
    This::before_commit(&mut tx).await?;
    tx.commit().await.map_err(db_err)
}

fn none() -> Option<&'static ()> {
    None
}

#[async_trait::async_trait]
impl Store for SqlStore {
    fn stats(&self) -> switchboard_domain::StoreStats {
        stats_of(self)
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await.map_err(db_err)?;
        Ok(())
    }

    fn name_index_ready(&self) -> bool {
        self.cache().is_some_and(|c| c.is_live() && c.search.is_ready())
    }

    async fn tenant_of(&self, entity: Entity, id: Id) -> Result<Option<Id>> {
        let sql = match entity {
            Entity::Tenant => "SELECT id FROM tenants WHERE id = $1",
            Entity::User => "SELECT tenant_id FROM users WHERE id = $1",
            Entity::ApiKey => "SELECT u.tenant_id FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.id = $1",
            Entity::Agent => "SELECT tenant_id FROM agents WHERE id = $1",
            Entity::Skill => "SELECT tenant_id FROM skills WHERE id = $1",
            Entity::CallCenter => "SELECT tenant_id FROM call_centers WHERE id = $1",
            Entity::Service => "SELECT tenant_id FROM services WHERE id = $1",
            Entity::Group => "SELECT tenant_id FROM agent_group_defs WHERE id = $1",
            Entity::Phone => "SELECT tenant_id FROM phones WHERE id = $1",
            Entity::Did => "SELECT tenant_id FROM dids WHERE id = $1",
            Entity::Campaign => "SELECT tenant_id FROM campaigns WHERE id = $1",
            Entity::Webhook => "SELECT tenant_id FROM webhooks WHERE id = $1",
        };
        sqlx::query_scalar::<_, i64>(sql).bind(id).fetch_optional(&self.reader).await.map_err(db_err)
    }

    // ---- tenants ------------------------------------------------------------------
}

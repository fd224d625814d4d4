//! The SQLite backend's hottest operations on direct connections (rusqlite).
//!
//! sqlx runs every SQLite connection on a worker thread of its own and hands
//! each statement across threads and back (issue 8's profile: 40–60 % of the
//! CPU in context switches; an agent update of seven statements held the
//! write lock across fourteen hand-offs, each waiting for a busy Tokio
//! worker). Here a read runs on the calling thread — a point lookup in a
//! memory-mapped file takes microseconds — and a write runs whole on one
//! writer thread, which commits the writes queued meanwhile together
//! (`writer_loop`): one hand-off per write. The SQL text is the shared one (`sql/common.rs`); only
//! binding and decoding live here. Everything else stays on sqlx.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use rusqlite::{CachedStatement, Connection, OpenFlags, OptionalExtension, Row, ToSql};
use switchboard_domain::{Agent, AgentChanges, AgentDetail, AuditAction, Entity, Error, GroupMembership, Id, Principal, Result, WriteCtx};

use super::{
    agent_detail_from, check_version, expect_one, first_unknown_group, from_json, key_principal, known_groups_query, list_mark_shard,
    outbox_row, scim_key_of, to_json, to_value, Arg, Unique, ADD_PASSWORD_HISTORY_SQL, API_KEY_LAST_USED_SQL, API_KEY_PRINCIPAL_SQL,
    APPLY_SEARCH_QUEUE_SQL, AUDIT_SQL, BUMP_CACHE_EPOCH_SQL, CACHE_EPOCH_SQL, DELETE_AGENT_SKILL_SQL, INSERT_EVENT_SQL, MARK_LIST_SQL,
    NEXT_EVENT_SEQ_SQL, SEARCH_QUEUED_SQL, SET_PASSWORD_SQL, SKILL_EXISTS_SQL, TOUCH_AGENT_SQL, UPSERT_AGENT_GROUP_SQL,
    UPSERT_AGENT_SKILL_SQL, WRITE_AGENT_SQL,
};
use crate::backend::Written;
use crate::duplicate_of;

/// Memory-mapped bytes of the file per connection: reads of mapped pages
/// take no system call (the default reads every page through `read(2)`),
/// and are not copied into the connection's page cache (the C library's
/// heap: anonymous memory).
pub(super) const MMAP_BYTES: i64 = 1 << 30;

/// The least time the writer waits for another connection's write lock.
const WRITER_BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the checkpointer lets commits gather before it copies them.
const CHECKPOINT_PAUSE: Duration = Duration::from_millis(100);
/// WAL pages past which the WAL is started over (see `checkpointer_loop`).
const WAL_RESTART_PAGES: i64 = 8000;
/// A checkpoint pass that copied fewer pages than this leaves the writer
/// little to copy before it restarts the WAL.
const CAUGHT_UP_PAGES: i64 = 500;
/// SQLite's own checkpoint on the writer thread, at commit: only a bound,
/// should the checkpointer not keep up (it stalls every write queued).
const WAL_AUTOCHECKPOINT_PAGES: i64 = 64000;

/// Most writes committed together (see `writer_loop`).
const MAX_GROUP: usize = 64;

/// A write: runs inside the group's transaction and returns how to answer
/// once the group's COMMIT is known (`Some(error)` if it failed).
type Job = Box<dyn FnOnce(&Connection) -> Answer + Send>;
type Answer = Box<dyn FnOnce(Option<&str>) + Send>;

pub(crate) struct Direct {
    readers: Arc<Readers>,
    /// Bounds the list reads on blocking threads (`max_readers`): more
    /// would only open more connections and compete for the same cores.
    list_permits: tokio::sync::Semaphore,
    writer: mpsc::Sender<Job>,
}

/// Reader connections, opened on demand, kept while idle.
struct Readers {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
    /// Idle connections kept: the list reads' bound plus one per core for
    /// the point reads made on Tokio's threads.
    max_idle: usize,
}

fn err(e: rusqlite::Error) -> Error {
    tracing::error!(error = %e, "database error");
    Error::Storage(e.to_string())
}

fn stopped() -> Error {
    Error::Storage("the write was not carried out: the SQLite writer could not begin a transaction, or has stopped".into())
}

impl Direct {
    /// Opens the writer connection on its thread; readers open on demand.
    /// The file exists and is migrated (sqlx did both).
    /// `announce`: each write group bumps `cache_epoch` (a process without
    /// an agent cache, writing under a server's feet: migration 0005).
    pub(crate) fn open(
        path: PathBuf,
        busy_timeout: Duration,
        synchronous_full: bool,
        max_readers: usize,
        announce: bool,
    ) -> Result<Direct> {
        // This connection's writes wait for the sqlx writer's transactions
        // (an atomic import job holds one for the whole file) as they waited
        // in that pool's queue before they moved here: 30 s at least.
        let conn = connect(&path, busy_timeout.max(WRITER_BUSY_TIMEOUT))?;
        conn.execute_batch(if synchronous_full {
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;"
        } else {
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;"
        })
        .map_err(err)?;
        // Checkpoints on the writer thread (SQLite's rule: every 1,000 WAL
        // pages) cost it a fifth to a quarter of its time at 1M agents,
        // fsyncs included, while the other core idled; and every write
        // queued meanwhile waited 100 ms and more. A thread of its own copies
        // the commits instead (`checkpointer_loop`). A WAL grown past 64 MB
        // is cut back after it restarts.
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES).map_err(err)?;
        conn.pragma_update(None, "journal_size_limit", 64 << 20).map_err(err)?;
        // Pages changed since the last checkpoint are read from the WAL with
        // a system call each unless cached (others come from the memory map):
        // 16 MB holds the WAL up to where the checkpointer asks for a
        // restart (`WAL_RESTART_PAGES` of 1 KiB) and the B-trees' interior
        // pages. Not more: B-tree balancing parks a page at the
        // lock-byte page's number (1 GiB in), so every COMMIT of a file under
        // 1 GiB has SQLite scan the cache's whole hash table to drop pages
        // past the end. With 64 MB that scan was a quarter of the writer's
        // time; with 16 MB writes at 1M agents ran 15-25% faster.
        conn.pragma_update(None, "cache_size", -16384).map_err(err)?;
        // Each write's savepoint journals the pages it changes first, in a
        // temporary file by default: a write(2) per page.
        conn.pragma_update(None, "temp_store", "MEMORY").map_err(err)?;
        let checkpoints = Checkpointer {
            conn: connect(&path, busy_timeout)?,
            database: std::fs::File::open(&path).map_err(|e| Error::Storage(format!("cannot open the database file: {e}")))?,
        };
        let (committed, commits) = mpsc::channel::<()>();
        let restart_due = Arc::new(AtomicBool::new(false));
        let due = restart_due.clone();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpointer_loop(&checkpoints, &commits, &due))
            .map_err(|e| Error::Storage(format!("cannot start the SQLite checkpoint thread: {e}")))?;
        let (tx, rx) = mpsc::channel::<Job>();
        let wal = Wal { committed, restart_due };
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(&conn, &rx, &wal, announce))
            .map_err(|e| Error::Storage(format!("cannot start the SQLite writer thread: {e}")))?;
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let max_readers = max_readers.max(1);
        let readers = Readers { path, busy_timeout, idle: Mutex::new(Vec::new()), max_idle: max_readers + cores };
        Ok(Direct { readers: Arc::new(readers), list_permits: tokio::sync::Semaphore::new(max_readers), writer: tx })
    }
}

/// The writer thread: group commit. The writes queued when it is free run
/// in one transaction, each in a savepoint of its own, so that one that
/// fails rolls back alone; all are answered after the COMMIT, which makes
/// each durable (or none, and all are told). Under load, 64 writers' commits
/// cost one WAL append instead of 64. Each commit is told to the
/// checkpointer. Ends when the store (the last sender) is dropped.
fn writer_loop(conn: &Connection, jobs: &mpsc::Receiver<Job>, wal: &Wal, announce: bool) {
    let mut group: Vec<Job> = Vec::with_capacity(MAX_GROUP);
    while let Ok(job) = jobs.recv() {
        if wal.restart_due.swap(false, Ordering::AcqRel) {
            // The last few commits, which the checkpointer left: then the
            // next write starts the WAL over.
            checkpoint(conn);
        }
        group.push(job);
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let begun = run_sql(conn, "BEGIN IMMEDIATE").and_then(|()| if announce { run_sql(conn, BUMP_CACHE_EPOCH_SQL) } else { Ok(()) });
        if begun.is_err() {
            // Not begun (logged): the writes are dropped unrun, which their
            // callers see as a storage error.
            group.clear();
        }
        let answers: Vec<Answer> = group
            .drain(..)
            .map(|job| match std::panic::catch_unwind(AssertUnwindSafe(|| job(conn))) {
                Ok(answer) => answer,
                // Its answer is lost with it (the caller sees a storage
                // error); what it wrote is undone.
                Err(_) => {
                    let _ = run_sql(conn, "ROLLBACK TO write").and_then(|()| run_sql(conn, "RELEASE write"));
                    Box::new(|_: Option<&str>| {})
                }
            })
            .collect();
        // Outside every write's savepoint: the group's search index changes
        // make one FTS5 segment (migration 0006). If they fail, so does the
        // group.
        let outcome = begun.and_then(|()| apply_search_queue(conn)).and_then(|()| run_sql(conn, "COMMIT"));
        let failure = outcome.err().map(|e| {
            if !conn.is_autocommit() {
                let _ = run_sql(conn, "ROLLBACK");
            }
            e.to_string()
        });
        for answer in answers {
            answer(failure.as_deref());
        }
        let _ = wal.committed.send(());
    }
    checkpoint(conn);
}

/// What the writer and the checkpointer tell each other.
struct Wal {
    /// Each commit (to the checkpointer).
    committed: mpsc::Sender<()>,
    /// The checkpointer has caught up with a long WAL (to the writer).
    restart_due: Arc<AtomicBool>,
}

/// The checkpointer thread: after a commit, waits `CHECKPOINT_PAUSE` for
/// more, then copies what the WAL holds into the database file (PASSIVE:
/// without stopping the writer or readers), fsyncs included, on the core
/// the writer leaves idle. At rest, the WAL is copied 100 ms after the last
/// write, and the next write starts it over.
///
/// Under unbroken load the WAL would only grow: SQLite starts it over when
/// a write begins with every page of it copied, and there is always a
/// commit newer than the last copy. So once it is long, the checkpointer
/// copies again until a pass finds little new, and asks the writer to copy
/// that little itself between two groups (a few milliseconds' pause rather
/// than the 100+ ms of a whole checkpoint). Ends with the writer.
fn checkpointer_loop(c: &Checkpointer, commits: &mpsc::Receiver<()>, restart_due: &AtomicBool) {
    while commits.recv().is_ok() {
        std::thread::sleep(CHECKPOINT_PAUSE);
        while commits.try_recv().is_ok() {}
        let Some((wal_pages, mut copied)) = c.pass() else { continue };
        if wal_pages < WAL_RESTART_PAGES {
            continue;
        }
        for _ in 0..8 {
            let Some((_, now)) = c.pass() else { break };
            let new = now - copied;
            copied = now;
            if new < CAUGHT_UP_PAGES {
                break;
            }
        }
        restart_due.store(true, Ordering::Release);
    }
}

/// The checkpointer's connection, and the database file to fsync.
struct Checkpointer {
    conn: Connection,
    database: std::fs::File,
}

impl Checkpointer {
    /// A PASSIVE checkpoint, then an fsync of the database file: the WAL's
    /// length in pages and how many of them are copied (`None` if it
    /// failed, logged). SQLite syncs the file only when a checkpoint copies
    /// the WAL to its end, which under load only the writer's does: it then
    /// waited for the write-back of every page copied since (50–100 ms at
    /// 8,000 pages). Here the write-back happens as the pages are copied.
    fn pass(&self) -> Option<(i64, i64)> {
        let counts = self.conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)));
        let synced = self.database.sync_data();
        match (counts, synced) {
            (Ok(counts), Ok(())) => Some(counts),
            (Err(e), _) => {
                tracing::warn!(error = %e, "WAL checkpoint failed");
                None
            }
            (_, Err(e)) => {
                tracing::warn!(error = %e, "fsync of the database file failed");
                None
            }
        }
    }
}

/// A connection to the (existing, migrated) file, memory-mapped.
fn connect(path: &std::path::Path, busy_timeout: Duration) -> Result<Connection> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX).map_err(err)?;
    conn.busy_timeout(busy_timeout).map_err(err)?;
    conn.pragma_update(None, "mmap_size", MMAP_BYTES).map_err(err)?;
    Ok(conn)
}

fn run_sql(conn: &Connection, sql: &str) -> Result<()> {
    prepare(conn, sql)?.execute([]).map(|_| ()).map_err(err)
}

/// `before_commit` of the sqlx writes, on this connection.
fn apply_search_queue(conn: &Connection) -> Result<()> {
    let queued: bool = prepare(conn, SEARCH_QUEUED_SQL)?.query_row([], |r| r.get(0)).map_err(err)?;
    if queued {
        for sql in APPLY_SEARCH_QUEUE_SQL {
            run_sql(conn, sql)?;
        }
    }
    Ok(())
}

/// Copies committed pages from the WAL into the database file, without
/// waiting for readers (PASSIVE).
fn checkpoint(conn: &Connection) {
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
        tracing::warn!(error = %e, "WAL checkpoint failed");
    }
}

impl Readers {
    fn open(&self) -> Result<Connection> {
        let conn = connect(&self.path, self.busy_timeout)?;
        conn.execute_batch("PRAGMA query_only = ON;").map_err(err)?;
        Ok(conn)
    }

    /// Runs `f` on an idle reader connection, on this thread.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(c) => c,
            None => self.open()?,
        };
        let out = f(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        // Reads begin no transaction; one left open anyway is not reused.
        if idle.len() < self.max_idle && conn.is_autocommit() {
            idle.push(conn);
        }
        out
    }
}

impl Direct {
    /// Runs `f` on the writer thread, in a transaction of its own as far as
    /// anyone can tell: committed if it returns `Ok` (and answered once
    /// durable), rolled back otherwise (see `writer_loop`).
    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let out = in_savepoint(conn, f);
            Box::new(move |failure: Option<&str>| {
                let _ = answer.send(match failure {
                    Some(e) => Err(Error::Storage(e.to_string())),
                    None => out,
                });
            })
        });
        self.writer.send(job).map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }

    /// On the calling thread: a handful of index lookups.
    pub(crate) fn get_agent(&self, tenant: Id, id: Id) -> Result<AgentDetail> {
        self.readers.read(|c| detail_or_404(c, tenant, id))
    }

    /// What `cache_epoch` says (on the calling thread: one row by its key).
    pub(crate) fn cache_epoch(&self) -> Result<i64> {
        self.readers.read(|c| prepare(c, CACHE_EPOCH_SQL)?.query_row([], |r| r.get(0)).map_err(err))
    }

    /// The principal of a live API key (on the calling thread: one lookup
    /// by a unique index, on every request that presents a key).
    pub(crate) fn authenticate_api_key(&self, key_hash: &str) -> Result<Option<Principal>> {
        let row = self.readers.read(|c| {
            prepare(c, API_KEY_PRINCIPAL_SQL)?
                .query_row([key_hash], |r| {
                    Ok((
                        r.get::<_, Id>(0)?,
                        r.get::<_, Id>(1)?,
                        r.get::<_, Id>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, String>(7)?,
                    ))
                })
                .optional()
                .map_err(err)
        })?;
        let Some((key_id, tenant_id, user_id, username, role, powers, scope, name)) = row else { return Ok(None) };
        key_principal(key_id, tenant_id, user_id, username, &role, &powers, scim_key_of(&scope, name)?).map(Some)
    }

    /// `None`: no such key; `Some(None)`: never used.
    pub(crate) fn api_key_last_used(&self, id: Id) -> Result<Option<Option<i64>>> {
        self.readers.read(|c| prepare(c, API_KEY_LAST_USED_SQL)?.query_row([id], |r| r.get(0)).optional().map_err(err))
    }

    /// A page of the agent list (`agent_list_query`'s SQL and arguments), on
    /// a blocking-pool thread: a deep OFFSET walks an index for milliseconds.
    pub(crate) async fn list_agents(&self, sql: String, args: &[Arg]) -> Result<Vec<Agent>> {
        let params: Vec<rusqlite::types::Value> = args.iter().map(sql_value).collect();
        let readers = self.readers.clone();
        let read = move || {
            readers.read(|c| {
                let mut s = prepare(c, &sql)?;
                let rows = s.query_map(rusqlite::params_from_iter(params), agent_of).map_err(err)?;
                rows.map(|r| r.map_err(err)?.into_agent()).collect()
            })
        };
        let _permit = self.list_permits.acquire().await.map_err(|_| Error::Storage("the store is closing".into()))?;
        tokio::task::spawn_blocking(read).await.map_err(|e| Error::Storage(format!("agent list read failed: {e}")))?
    }

    pub(crate) async fn update_agent(&self, ctx: &WriteCtx, id: Id, c: AgentChanges, expected: Option<i64>) -> Result<Written> {
        let ctx = ctx.clone();
        self.write(move |t| {
            let before = detail_or_404(t, ctx.tenant_id, id)?;
            check_version(Entity::Agent, id, before.agent.version, expected)?;
            c.check_unchanged(&before)?;
            let mut a = before.agent.clone();
            c.apply(&mut a, ctx.now);
            a.updated_at = ctx.now;
            a.version = before.agent.version + 1;
            write_agent(t, &a, before.agent.version)?;
            if let Some(h) = &c.password_hash {
                run(t, SET_PASSWORD_SQL, &[&h.as_str(), &id])?;
                run(t, ADD_PASSWORD_HISTORY_SQL, &[&id, &h.as_str(), &ctx.now])?;
            }
            mark_agents(t, &ctx, id)?;
            let after = detail_or_404(t, ctx.tenant_id, id)?;
            audit(t, &ctx, id, &before, &after)?;
            Ok((before, after))
        })
        .await
    }

    pub(crate) async fn assign_skill(&self, ctx: &WriteCtx, agent: Id, skill: Id, proficiency: i64) -> Result<Written> {
        let ctx = ctx.clone();
        self.write(move |t| {
            let before = detail_or_404(t, ctx.tenant_id, agent)?;
            if !exists(t, SKILL_EXISTS_SQL, ctx.tenant_id, skill)? {
                return Err(Error::not_found(Entity::Skill, skill));
            }
            if before.skills.iter().any(|s| s.skill_id == skill && s.proficiency == proficiency) {
                return Ok((before.clone(), before));
            }
            run(t, UPSERT_AGENT_SKILL_SQL, &[&agent, &skill, &proficiency])?;
            finish_agent_change(t, &ctx, before)
        })
        .await
    }

    pub(crate) async fn remove_skill(&self, ctx: &WriteCtx, agent: Id, skill: Id) -> Result<Written> {
        let ctx = ctx.clone();
        self.write(move |t| {
            let before = detail_or_404(t, ctx.tenant_id, agent)?;
            if !exists(t, SKILL_EXISTS_SQL, ctx.tenant_id, skill)? {
                return Err(Error::not_found(Entity::Skill, skill));
            }
            if run(t, DELETE_AGENT_SKILL_SQL, &[&agent, &skill])? == 0 {
                return Ok((before.clone(), before));
            }
            finish_agent_change(t, &ctx, before)
        })
        .await
    }

    pub(crate) async fn set_group_memberships(&self, ctx: &WriteCtx, agent: Id, groups: &[GroupMembership]) -> Result<Written> {
        let ctx = ctx.clone();
        let groups = groups.to_vec();
        self.write(move |t| {
            let before = detail_or_404(t, ctx.tenant_id, agent)?;
            if !groups.is_empty() {
                let q = known_groups_query(ctx.tenant_id, &groups);
                let known = prepare(t, &q.sql)?
                    .query_map(rusqlite::params_from_iter(q.args.iter().map(sql_value)), |r| r.get::<_, Id>(0))
                    .map_err(err)?
                    .collect::<rusqlite::Result<std::collections::HashSet<Id>>>()
                    .map_err(err)?;
                first_unknown_group(&groups, &known)?;
            }
            if groups.iter().all(|g| before.groups.contains(g)) {
                return Ok((before.clone(), before));
            }
            // Only what changes: each upsert is pages to write and checkpoint.
            for g in groups.iter().filter(|g| !before.groups.contains(g)) {
                run(t, UPSERT_AGENT_GROUP_SQL, &[&agent, &g.group_id, &g.receive_call])?;
            }
            finish_agent_change(t, &ctx, before)
        })
        .await
    }
}

/// A bound value of the shared SQL's query builder, for rusqlite.
fn sql_value(a: &Arg) -> rusqlite::types::Value {
    match a {
        Arg::Int(i) => (*i).into(),
        Arg::Text(t) => t.clone().into(),
        Arg::Bool(b) => i64::from(*b).into(),
    }
}

/// `f` in a savepoint: released if it succeeds, rolled back if it fails.
fn in_savepoint<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    run_sql(conn, "SAVEPOINT write")?;
    let out = f(conn);
    let end = if out.is_ok() {
        run_sql(conn, "RELEASE write")
    } else {
        run_sql(conn, "ROLLBACK TO write").and_then(|()| run_sql(conn, "RELEASE write"))
    };
    match (out, end) {
        (Ok(v), Ok(())) => Ok(v),
        (Err(e), _) | (Ok(_), Err(e)) => Err(e),
    }
}

/// A cached statement of the shared SQL. Its `$n` placeholders are bound by
/// position, which SQLite numbers in order of first appearance: checked here
/// in debug builds (the tests).
fn prepare<'c>(c: &'c Connection, sql: &str) -> Result<CachedStatement<'c>> {
    let s = c.prepare_cached(sql).map_err(err)?;
    // Only for the fixed statements: SQLite finds a parameter's name by a
    // linear scan, so checking a built `IN` list of 20,000 ids this way took
    // seconds (quadratic); the builder numbers those in order anyway.
    debug_assert!(
        s.parameter_count() > 64 || (1..=s.parameter_count()).all(|i| s.parameter_name(i) == Some(format!("${i}").as_str())),
        "placeholders out of order in {sql}"
    );
    Ok(s)
}

/// Executes one statement; the number of rows it changed.
fn run(c: &Connection, sql: &str, params: &[&dyn ToSql]) -> Result<usize> {
    prepare(c, sql)?.execute(params).map_err(err)
}

fn exists(c: &Connection, sql: &str, tenant: Id, id: Id) -> Result<bool> {
    let found: Option<i64> = prepare(c, sql)?.query_row([tenant, id], |r| r.get(0)).optional().map_err(err)?;
    Ok(found.is_some())
}

/// An agent with its assignments in one statement (one snapshot, so no
/// transaction needed): each list aggregated by `group_concat` over its
/// primary-key range, `skill:proficiency,…`, `service,…`, `group:0|1,…`.
/// Unlike the shared `AGENT_DETAIL_SQL`, no `ORDER BY` inside the aggregate
/// (it costs SQLite a temporary b-tree per list, more than the lookups
/// themselves); the lists are sorted here instead.
const AGENT_DETAIL_ONE_SQL: &str = concat!(
    "SELECT ",
    agent_cols!(),
    ", (SELECT group_concat(x.skill_id || ':' || x.proficiency) FROM agent_skills x WHERE x.agent_id = agents.id), \
     (SELECT group_concat(x.service_id) FROM agent_services x WHERE x.agent_id = agents.id), \
     (SELECT group_concat(x.group_id || ':' || CASE WHEN x.receive_call THEN '1' ELSE '0' END) FROM agent_groups x WHERE x.agent_id = agents.id) \
     FROM agents WHERE tenant_id = $1 AND id = $2"
);

fn detail_or_404(c: &Connection, tenant: Id, id: Id) -> Result<AgentDetail> {
    let row = prepare(c, AGENT_DETAIL_ONE_SQL)?
        .query_row([tenant, id], |r| {
            Ok((agent_of(r)?, r.get::<_, Option<String>>(25)?, r.get::<_, Option<String>>(26)?, r.get::<_, Option<String>>(27)?))
        })
        .optional()
        .map_err(err)?;
    let Some((agent, skills, services, groups)) = row else {
        return Err(Error::not_found(Entity::Agent, id));
    };
    let mut d = agent_detail_from(agent.into_agent()?, skills, services, groups)?;
    d.skills.sort_unstable_by_key(|s| s.skill_id);
    d.service_ids.sort_unstable();
    d.groups.sort_unstable_by_key(|g| g.group_id);
    Ok(d)
}

/// An agent row before its `attributes` JSON is decoded (a rusqlite row
/// closure cannot return the domain's decoding error).
struct AgentRow {
    agent: Agent,
    attributes_json: String,
}

impl AgentRow {
    fn into_agent(self) -> Result<Agent> {
        Ok(Agent { attributes: from_json(&self.attributes_json, "agent attributes")?, ..self.agent })
    }
}

/// The columns of `agent_cols!()`, by position (`agent_columns_in_order`
/// pins the order).
fn agent_of(r: &Row<'_>) -> rusqlite::Result<AgentRow> {
    Ok(AgentRow {
        agent: Agent {
            id: r.get(0)?,
            tenant_id: r.get(1)?,
            login_id: r.get(2)?,
            first_name: r.get(3)?,
            last_name: r.get(4)?,
            display_name: r.get(5)?,
            email: r.get(6)?,
            phone: r.get(7)?,
            wrap_up_time: r.get(8)?,
            home_agent: r.get(9)?,
            active: r.get(10)?,
            locked: r.get(11)?,
            failed_logins: r.get(12)?,
            last_login: r.get(13)?,
            last_login_ip: r.get(14)?,
            password_last_modified: r.get(15)?,
            has_password: r.get(16)?,
            external_id: r.get(21)?,
            employee_number: r.get(22)?,
            department: r.get(23)?,
            manager: r.get(24)?,
            attributes: Default::default(),
            created_at: r.get(18)?,
            updated_at: r.get(19)?,
            version: r.get(20)?,
        },
        attributes_json: r.get(17)?,
    })
}

fn write_agent(c: &Connection, a: &Agent, read_version: i64) -> Result<()> {
    let attributes = to_json(&a.attributes)?;
    let done = prepare(c, WRITE_AGENT_SQL)?
        .execute(rusqlite::params![
            a.login_id,
            a.first_name,
            a.last_name,
            a.display_name,
            a.email,
            a.phone,
            a.wrap_up_time,
            a.home_agent,
            a.active,
            a.locked,
            a.failed_logins,
            a.last_login,
            a.last_login_ip,
            a.password_last_modified,
            attributes,
            a.updated_at,
            a.version,
            a.external_id,
            a.employee_number,
            a.department,
            a.manager,
            a.id,
            read_version,
        ])
        .map_err(|e| unique_login(e, &a.login_id))?;
    expect_one(done as u64, Entity::Agent, a.id, read_version)
}

/// A unique violation of the login id as `Duplicate`; anything else as is.
fn unique_login(e: rusqlite::Error, login_id: &str) -> Error {
    if let rusqlite::Error::SqliteFailure(f, Some(msg)) = &e {
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE {
            let candidates = [Unique { index: "ux_agents_login_id", entity: Entity::Agent, field: "loginId", value: login_id }];
            if let Some(d) = duplicate_of(msg, None, &candidates) {
                return d;
            }
        }
    }
    err(e)
}

fn mark_agents(c: &Connection, ctx: &WriteCtx, agent: Id) -> Result<()> {
    run(c, MARK_LIST_SQL, &[&ctx.tenant_id, &Entity::Agent.as_str(), &list_mark_shard(agent), &ctx.now])?;
    Ok(())
}

fn audit(c: &Connection, ctx: &WriteCtx, id: Id, before: &AgentDetail, after: &AgentDetail) -> Result<()> {
    let (before, after) = (to_value(before)?, to_value(after)?);
    let (before_json, after_json) = (to_json(&before)?, to_json(&after)?);
    let audit_id: Id = prepare(c, AUDIT_SQL)?
        .query_row(
            rusqlite::params![
                &ctx.tenant_id,
                &ctx.now,
                &ctx.actor.user_id,
                &ctx.actor.api_key_id,
                &ctx.actor.label.as_str(),
                &Entity::Agent.as_str(),
                &id,
                &AuditAction::Update.as_str(),
                &before_json,
                &after_json,
            ],
            |r| r.get(0),
        )
        .map_err(err)?;
    // The change event, as the shared SQL's `audit` records it (`sql/events.rs`).
    let seq: i64 = prepare(c, NEXT_EVENT_SEQ_SQL)?.query_row([ctx.tenant_id], |r| r.get(0)).map_err(err)?;
    let (ty, changed) = outbox_row(Entity::Agent, AuditAction::Update, Some(&before), Some(&after))?;
    run(c, INSERT_EVENT_SQL, &[&ctx.tenant_id, &seq, &ty, &ctx.now, &audit_id, &changed])?;
    Ok(())
}

/// An assignment changed: version bump, list mark, audit; the agent before
/// and after.
fn finish_agent_change(c: &Connection, ctx: &WriteCtx, before: AgentDetail) -> Result<Written> {
    let id = before.agent.id;
    let done = run(c, TOUCH_AGENT_SQL, &[&ctx.now, &id, &before.agent.version])?;
    expect_one(done as u64, Entity::Agent, id, before.agent.version)?;
    mark_agents(c, ctx, id)?;
    let after = detail_or_404(c, ctx.tenant_id, id)?;
    audit(c, ctx, id, &before, &after)?;
    Ok((before, after))
}

/// The shared store defers to these (`crate::backend::FastPath`).
#[async_trait::async_trait]
impl crate::backend::FastPath for Direct {
    fn get_agent(&self, tenant: Id, id: Id) -> Result<AgentDetail> {
        Direct::get_agent(self, tenant, id)
    }
    fn authenticate_api_key(&self, key_hash: &str) -> Result<Option<Principal>> {
        Direct::authenticate_api_key(self, key_hash)
    }
    fn api_key_last_used(&self, id: Id) -> Result<Option<Option<i64>>> {
        Direct::api_key_last_used(self, id)
    }
    fn cache_epoch(&self) -> Result<i64> {
        Direct::cache_epoch(self)
    }
    async fn list_agents(&self, sql: String, args: &[Arg]) -> Result<Vec<Agent>> {
        Direct::list_agents(self, sql, args).await
    }
    async fn update_agent(&self, ctx: &WriteCtx, id: Id, c: AgentChanges, expected: Option<i64>) -> Result<Written> {
        Direct::update_agent(self, ctx, id, c, expected).await
    }
    async fn assign_skill(&self, ctx: &WriteCtx, agent: Id, skill: Id, proficiency: i64) -> Result<Written> {
        Direct::assign_skill(self, ctx, agent, skill, proficiency).await
    }
    async fn remove_skill(&self, ctx: &WriteCtx, agent: Id, skill: Id) -> Result<Written> {
        Direct::remove_skill(self, ctx, agent, skill).await
    }
    async fn set_group_memberships(&self, ctx: &WriteCtx, agent: Id, groups: &[GroupMembership]) -> Result<Written> {
        Direct::set_group_memberships(self, ctx, agent, groups).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_columns_in_order() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE agents (id, tenant_id, login_id, first_name, last_name, display_name, email, phone, wrap_up_time, \
             home_agent, active, locked, failed_logins, last_login, last_login_ip, password_last_modified, password_hash, \
             attributes, created_at, updated_at, version, external_id, employee_number, department, manager)",
        )
        .unwrap();
        c.execute_batch(
            "CREATE TABLE agent_skills (agent_id, skill_id, proficiency); CREATE TABLE agent_services (agent_id, service_id); \
             CREATE TABLE agent_groups (agent_id, group_id, receive_call);",
        )
        .unwrap();
        let s = c.prepare(AGENT_DETAIL_ONE_SQL).unwrap();
        let expected = [
            "id",
            "tenant_id",
            "login_id",
            "first_name",
            "last_name",
            "display_name",
            "email",
            "phone",
            "wrap_up_time",
            "home_agent",
            "active",
            "locked",
            "failed_logins",
            "last_login",
            "last_login_ip",
            "password_last_modified",
            "has_password",
            "attributes",
            "created_at",
            "updated_at",
            "version",
            "external_id",
            "employee_number",
            "department",
            "manager",
        ];
        assert_eq!(s.column_names()[..25], expected);
        assert_eq!(s.column_count(), 28);
    }
}

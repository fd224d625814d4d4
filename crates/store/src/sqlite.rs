//! The SQLite backend: one writer connection, a pool of readers, WAL.
//!
//! Writes begin with `BEGIN IMMEDIATE`, taking SQLite's write lock up front,
//! so that another process writing the same file (the CLI next to a running
//! server) makes this one wait (up to `busy_timeout`) instead of failing
//! halfway through a transaction.

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

type Db = sqlx::Sqlite;

/// Writers are serialised (`row_lock_sql`): no clause.
macro_rules! agent_row_lock {
    () => {
        ""
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

// After the shared SQL: it uses its column-list macros.
mod direct;
use direct::Direct;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

const CACHE_EPOCH_SQL: &str = "SELECT n FROM cache_epoch WHERE id = 1";
const BUMP_CACHE_EPOCH_SQL: &str = "UPDATE cache_epoch SET n = n + 1 WHERE id = 1";
/// SQLite's part of the shared SQL's contract (`Backend`, `sql/common.rs`).
struct This;

impl Backend for This {
    const SKIP_LOCKED: &'static str = "";
    const FOR_UPDATE: &'static str = "";
    /// A write of a process without an agent cache (the CLI next to a server)
    /// tells the server's cache that something changed (migration 0005).
    async fn announce_write(tx: &mut DbTx) -> Result<()> {
        sqlx::query(BUMP_CACHE_EPOCH_SQL).execute(&mut **tx).await.map_err(db_err).map(|_| ())
    }

    /// Where another process's writes show: one row read on the calling thread.
    fn cache_epoch(store: &SqlStore) -> Result<Option<i64>> {
        store.direct.as_ref().map(|d| d.cache_epoch()).transpose()
    }

    /// Starts a write transaction holding the database's write lock.
    async fn begin_write(pool: &DbPool) -> Result<DbTx> {
        pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_err)
    }

    /// Nothing to lock: `BEGIN IMMEDIATE` holds the database's write lock, so
    /// no other write commits between a transaction's read and its write.
    fn row_lock_sql(_: Entity) -> Option<&'static str> {
        None
    }

    /// Agents whose `columns` contain `text`, case-insensitively: through the
    /// FTS5 trigram index when the text has the 3 characters a trigram needs,
    /// by scanning otherwise.
    fn agent_contains(qb: &mut QueryBuilder, columns: &[&str], text: &str) -> String {
        if text.chars().count() < 3 {
            return agent_like(qb, columns, text);
        }
        let phrase = format!("{{{}}} : \"{}\"", columns.join(" "), text.replace('"', "\"\""));
        let p = qb.arg(Arg::Text(phrase));
        format!("a.id IN (SELECT rowid FROM agents_fts WHERE agents_fts MATCH {p})")
    }

    /// `agents_fts f JOIN agents a … WHERE <match>`: the full-text index
    /// drives, matching every text in its columns, when each text has the 3
    /// characters a trigram needs (else `None`: the caller filters row by row).
    fn text_index_match(qb: &mut QueryBuilder, texts: &[(&[&str], String)]) -> Option<String> {
        if texts.iter().any(|(_, t)| t.chars().count() < 3) {
            return None;
        }
        let phrase = texts
            .iter()
            .map(|(columns, t)| format!("{{{}}} : \"{}\"", columns.join(" "), t.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" AND ");
        let p = qb.arg(Arg::Text(phrase));
        // CROSS JOIN: SQLite keeps this order, the index outside (without
        // statistics it may probe the index once per agent of the tenant).
        Some(format!("agents_fts f CROSS JOIN agents a ON a.id = f.rowid WHERE f.agents_fts MATCH {p}"))
    }

    async fn before_commit(c: &mut DbConn) -> Result<()> {
        before_commit(c).await
    }

    /// Merges the FTS5 index's segments into one: a bulk load leaves many small
    /// ones, which every later write's incremental merge then works through (at
    /// 1M agents, agent updates ran at half speed for their first minute).
    async fn after_bulk_agent_load(pool: &DbPool) -> Result<()> {
        sqlx::query(OPTIMIZE_AGENT_SEARCH_SQL).execute(pool).await.map_err(db_err)?;
        Ok(())
    }

    /// SQLite's FTS5 path (`text_index_match`) already serves the selective texts.
    fn text_filters_first(_: &[(&[&str], String)]) -> bool {
        false
    }

    const EXPLAIN: &'static str = "EXPLAIN QUERY PLAN ";

    /// Text compared byte by byte: SQLite's default (BINARY) collation already is.
    const BYTE_ORDER: &'static str = "";
    const BULK_READS_ON_ONE_CONNECTION: bool = true;

    async fn prepare_explain(_tx: &mut DbTx) -> Result<()> {
        Ok(())
    }

    fn explain_line(r: &DbRow) -> Result<String> {
        col(r, "detail")
    }
}

/// Applies the agent changes queued by the triggers of migration 0006 to the
/// FTS5 index, then empties the queue. Each agent's changes go in the order
/// they were made (a delete names the values it removes); the agents go in
/// id order, because FTS5 writes out what it holds in memory whenever a
/// change comes for a lower rowid than the last. Run in every write
/// transaction that queued something, just before its COMMIT: one FTS5
/// segment per transaction, however many writes it holds.
const APPLY_SEARCH_QUEUE_SQL: [&str; 2] = [
    "INSERT INTO agents_fts (agents_fts, rowid, login_id, first_name, last_name, display_name, email, phone) \
     SELECT CASE WHEN is_delete THEN 'delete' END, agent_id, login_id, first_name, last_name, display_name, email, phone \
     FROM agents_fts_queue ORDER BY agent_id, seq",
    "DELETE FROM agents_fts_queue",
];
/// Whether the transaction queued any (one B-tree page read; emptying an
/// empty queue would still write its root page).
const SEARCH_QUEUED_SQL: &str = "SELECT EXISTS (SELECT 1 FROM agents_fts_queue)";

/// The last step of a write transaction before COMMIT (the store's, and the
/// synthetic loader's): the search index catches up with the agents it
/// changed (migration 0006).
pub(crate) async fn before_commit(c: &mut DbConn) -> Result<()> {
    let queued: bool = sqlx::query_scalar(SEARCH_QUEUED_SQL).fetch_one(&mut *c).await.map_err(db_err)?;
    if queued {
        for sql in APPLY_SEARCH_QUEUE_SQL {
            sqlx::query(sql).execute(&mut *c).await.map_err(db_err)?;
        }
    }
    Ok(())
}

/// `after_bulk_agent_load`'s statement (`synthetic` runs it after its loads too).
pub(crate) const OPTIMIZE_AGENT_SEARCH_SQL: &str = "INSERT INTO agents_fts (agents_fts) VALUES ('optimize')";

/// Pool and cache figures for `/metrics`.
fn stats_of(store: &SqlStore) -> switchboard_domain::StoreStats {
    let pool = |name, p: &DbPool| {
        let idle = p.num_idle() as u32;
        switchboard_domain::PoolStats { name, in_use: p.size().saturating_sub(idle), idle, max: p.options().get_max_connections() }
    };
    switchboard_domain::StoreStats {
        pools: [("writer", &store.writer), ("reader", &store.reader)].into_iter().map(|(n, p)| pool(n, p)).collect(),
        cache: store.cache().map(|c| c.counts()).unwrap_or_default(),
    }
}

fn connect_options(target: &str, opts: &crate::StoreOptions) -> Result<SqliteConnectOptions> {
    let base = if target.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(target).map_err(|e| Error::Storage(format!("invalid SQLite URL: {e}")))?
    } else {
        SqliteConnectOptions::new().filename(target)
    };
    Ok(base
        // A page of up to 1,000 rows crosses from the connection's worker
        // thread without the worker stopping for the reader (default: 50).
        .row_buffer_size(1024)
        .foreign_keys(true)
        .busy_timeout(opts.busy_timeout)
        .synchronous(if opts.synchronous_full { SqliteSynchronous::Full } else { SqliteSynchronous::Normal }))
}

/// The page size of a database file this process creates (a file's page
/// size is fixed when its first table is written; an existing file keeps its
/// own). 1 KiB rather than SQLite's 4 KiB because the writes that matter
/// change a row here and an index entry there on many random pages (a
/// DeepCall mapping of 10 groups dirties ten leaves of the group index): each
/// dirty page is written to the WAL and checkpointed back whole, so smaller
/// pages mean a quarter of the bytes. At 1M agents: DeepCall mappings +17%,
/// write p99 halved; reads by id, search and paging no slower (bench/README).
const NEW_FILE_PAGE_SIZE: u32 = 1024;

/// Makes sure the database file exists before SQLite opens it, private to
/// this user: it holds password and API-key hashes. SQLite gives its `-wal`
/// and `-shm` files the database file's permissions, so they are private
/// too. Without `create`, a missing file is an error (commands that only
/// read must not leave an empty database behind a mistyped path).
fn prepare_file(path: &std::path::Path, create: bool) -> Result<()> {
    use std::io::ErrorKind;
    match std::fs::metadata(path) {
        Ok(meta) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                if meta.permissions().mode() & 0o077 != 0 {
                    tracing::warn!(path = %path.display(), mode = format!("{:o}", meta.permissions().mode() & 0o777), "the database file is readable by other users; it holds password and API-key hashes (chmod 600 it)");
                }
            }
            #[cfg(not(unix))]
            let _ = meta;
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            if !create {
                return Err(Error::Storage(format!(
                    "database file {} does not exist (serve, admin migrate and admin create-tenant create one)",
                    path.display()
                )));
            }
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
            match o.open(path) {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
                Err(e) => Err(Error::Storage(format!("cannot create database file {}: {e}{}", path.display(), dir_hint(path)))),
            }
        }
        Err(e) => Err(Error::Storage(format!("cannot open database file {}: {e}", path.display()))),
    }
}

/// Why a file could not be made in its directory, when that is the reason.
fn dir_hint(path: &std::path::Path) -> String {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    if std::fs::metadata(dir).is_err() {
        return format!(" (the directory {} does not exist)", dir.display());
    }
    // The permission bits do not tell (owner, group, ACLs, a read-only
    // mount): try.
    let probe = dir.join(format!(".switchboard-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            String::new()
        }
        Err(_) => format!(
            "; hint: the directory {} is not writable by this user: run where it is (the container's /data, systemd's StateDirectory=) or give --database-url a path in a writable directory",
            dir.display()
        ),
    }
}

pub(crate) async fn open(target: &str, opts: &crate::StoreOptions) -> Result<SqlStore> {
    let base = connect_options(target, opts)?;
    // An in-memory database lives in its one connection: the writer is then
    // also the reader (meant for tests and demos only).
    let in_memory = target.contains(":memory:") || target.contains("mode=memory");
    if !in_memory {
        prepare_file(base.get_filename(), opts.create)?;
    }
    // The writer sets WAL (a property of the file, kept once set) and creates
    // the file. Its single connection is never recycled.
    // No `test_before_acquire` ping on either pool: a SQLite connection is a
    // file handle that cannot go stale, and the ping is one more round trip
    // to the connection's worker thread on every acquire (issue 8: it cost
    // about a third of a read's time).
    let writer_pool = || {
        SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(base.clone().create_if_missing(opts.create).page_size(NEW_FILE_PAGE_SIZE).journal_mode(SqliteJournalMode::Wal))
    };
    let mut writer = writer_pool().await.map_err(crate::open_err)?;
    if opts.migrate {
        MIGRATOR.run(&writer).await.map_err(|e| Error::Storage(format!("migration failed: {e}")))?;
        // A migration may amend a table's definition in place (0008), which
        // the connection that made the change does not re-read: the writer
        // starts afresh. (An in-memory database lives in its connection.)
        if !in_memory {
            writer.close().await;
            writer = writer_pool().await.map_err(crate::open_err)?;
        }
    }
    if in_memory {
        return Ok(SqlStore { reader: writer.clone(), writer, direct: None, cache: None });
    }
    // Readers only read, enforced with query_only; memory-mapped as the
    // direct readers are: the agent cache's preload and the search index's
    // build read every agent through them, which filled each one's page
    // cache (2 MB of the C library's heap, eight readers).
    let reader = SqlitePoolOptions::new()
        .test_before_acquire(false)
        .max_connections(opts.max_readers.max(1))
        .connect_with(base.clone().pragma("query_only", "ON").pragma("mmap_size", direct::MMAP_BYTES.to_string()))
        .await
        .map_err(crate::open_err)?;
    if !opts.sqlite_fast_path {
        return Ok(SqlStore { writer, reader, direct: None, cache: None });
    }
    // Without a cache of its own, this process's writes must reach the
    // cache of a server on the same file (migration 0005).
    let announce = opts.agent_cache_entries == 0;
    let direct =
        Direct::open(base.get_filename().to_owned(), opts.busy_timeout, opts.synchronous_full, opts.max_readers as usize, announce)?;
    let cache = match opts.agent_cache_entries {
        0 => None,
        entries => {
            let cache = std::sync::Arc::new(crate::cache::ReadCache::new(entries));
            // Nothing to listen to: reads ask `cache_epoch` (`fresh_cache`),
            // from where it stands now.
            cache.observe_epoch(direct.cache_epoch()?);
            cache.go_live();
            let preload =
                opts.agent_cache_preload.then(|| tokio::spawn(preload_agents(reader.clone(), cache.clone(), entries)).abort_handle());
            let names = opts.name_index.then(|| tokio::spawn(maintain_search(reader.clone(), cache.clone())).abort_handle());
            Some(crate::cache::Listening { cache, tasks: [preload, names].into_iter().flatten().collect() })
        }
    };
    Ok(SqlStore { writer, reader, direct: Some(Box::new(direct)), cache })
}

/// `admin backup`: a consistent copy of the database at `target` in a new
/// file `dest` (0600), made by `VACUUM INTO` in one read transaction, so
/// that a server writing the database meanwhile goes on (the copy is the
/// database as of the backup's start). Returns the copy's size.
pub(crate) async fn backup(target: &str, dest: &std::path::Path) -> Result<u64> {
    use sqlx::ConnectOptions as _;
    let opts = crate::StoreOptions { create: false, ..crate::StoreOptions::default() };
    let base = connect_options(target, &opts)?;
    prepare_file(base.get_filename(), false)?;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(dest).map_err(|e| Error::Storage(format!("cannot create {}: {e}", dest.display())))?;
    let copy = async {
        let mut conn = base.connect().await.map_err(crate::open_err)?;
        let dest_name = dest.to_str().ok_or_else(|| Error::Storage("the backup's path is not UTF-8".into()))?;
        sqlx::query("VACUUM INTO $1").bind(dest_name).execute(&mut conn).await.map_err(crate::open_err)?;
        std::fs::metadata(dest).map(|m| m.len()).map_err(|e| Error::Storage(e.to_string()))
    };
    let r = copy.await;
    if r.is_err() {
        let _ = std::fs::remove_file(dest);
    }
    r
}

//! The SQLite backend's hottest operations on direct connections (rusqlite).
//!
//! sqlx runs every SQLite connection on a worker thread of its own and hands
//! each statement across threads and back (issue 8's profile: 40–60 % of the
//! CPU in context switches; an agent update of seven statements held the
//! write lock across fourteen hand-offs, each waiting for a busy Tokio
//! worker). Here a read runs on the calling thread — a point lookup in a
//! memory-mapped file takes microseconds — and a write runs whole, from
//! `BEGIN IMMEDIATE` to `COMMIT`, on one writer thread: one hand-off per
//! transaction. The SQL text is the shared one (`sql/common.rs`); only
//! binding and decoding live here. Everything else stays on sqlx.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use rusqlite::{CachedStatement, Connection, OpenFlags, OptionalExtension, Row, ToSql, Transaction, TransactionBehavior};
use switchboard_domain::{
    Agent, AgentChanges, AgentDetail, AuditAction, Entity, Error, GroupMembership, Id, Result, SkillAssignment, WriteCtx,
};

use crate::duplicate_of;
use super::{
    check_version, Arg, expect_one, from_json, to_json, Unique, ADD_PASSWORD_HISTORY_SQL,
    AGENT_GROUPS_SQL, AGENT_SERVICES_SQL, AGENT_SKILLS_SQL, AGENT_SQL, AUDIT_SQL, DELETE_AGENT_SKILL_SQL, GROUP_EXISTS_SQL, MARK_LIST_SQL, SET_PASSWORD_SQL,
    SKILL_EXISTS_SQL, TOUCH_AGENT_SQL, UPSERT_AGENT_GROUP_SQL, UPSERT_AGENT_SKILL_SQL, WRITE_AGENT_SQL,
};

/// Memory-mapped bytes of the file per connection: reads of mapped pages
/// take no system call (the default reads every page through `read(2)`).
const MMAP_BYTES: i64 = 1 << 30;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

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
    Error::Storage("the SQLite writer thread has stopped".into())
}

impl Direct {
    /// Opens the writer connection on its thread; readers open on demand.
    /// The file exists and is migrated (sqlx did both).
    pub(crate) fn open(path: PathBuf, busy_timeout: Duration, synchronous_full: bool, max_readers: usize) -> Result<Direct> {
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(err)?;
        conn.busy_timeout(busy_timeout).map_err(err)?;
        conn.execute_batch(if synchronous_full {
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;"
        } else {
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;"
        })
        .map_err(err)?;
        conn.pragma_update(None, "mmap_size", MMAP_BYTES).map_err(err)?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let mut conn = conn;
                // Ends when the store (the last sender) is dropped.
                while let Ok(job) = rx.recv() {
                    // A panicking job has already lost its answer; the
                    // transaction it held rolls back when dropped.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut conn)));
                }
            })
            .map_err(|e| Error::Storage(format!("cannot start the SQLite writer thread: {e}")))?;
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let max_readers = max_readers.max(1);
        let readers = Readers { path, busy_timeout, idle: Mutex::new(Vec::new()), max_idle: max_readers + cores };
        Ok(Direct { readers: Arc::new(readers), list_permits: tokio::sync::Semaphore::new(max_readers), writer: tx })
    }
}

impl Readers {
    fn open(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(err)?;
        conn.busy_timeout(self.busy_timeout).map_err(err)?;
        conn.execute_batch("PRAGMA query_only = ON;").map_err(err)?;
        conn.pragma_update(None, "mmap_size", MMAP_BYTES).map_err(err)?;
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
        // One left inside a transaction (its COMMIT failed) is closed.
        if idle.len() < self.max_idle && conn.is_autocommit() {
            idle.push(conn);
        }
        out
    }
}

impl Direct {
    /// Runs `f` in one `BEGIN IMMEDIATE` transaction on the writer thread,
    /// committed if it returns `Ok`, rolled back otherwise.
    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let run = || {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
                let out = f(&tx)?;
                tx.commit().map_err(err)?;
                Ok(out)
            };
            let _ = answer.send(run());
        });
        self.writer.send(job).map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }

    /// On the calling thread: a handful of index lookups.
    pub(crate) fn get_agent(&self, tenant: Id, id: Id) -> Result<AgentDetail> {
        self.readers.read(|c| {
            prepare(c, "BEGIN")?.execute([]).map_err(err)?;
            let out = detail_or_404(c, tenant, id);
            prepare(c, "COMMIT")?.execute([]).map_err(err)?;
            out
        })
    }

    /// A page of the agent list (`agent_list_query`'s SQL and arguments), on
    /// a blocking-pool thread: a deep OFFSET walks an index for milliseconds.
    pub(crate) async fn list_agents(&self, sql: String, args: &[Arg]) -> Result<Vec<Agent>> {
        let params: Vec<rusqlite::types::Value> = args
            .iter()
            .map(|a| match a {
                Arg::Int(i) => (*i).into(),
                Arg::Text(t) => t.clone().into(),
                Arg::Bool(b) => i64::from(*b).into(),
            })
            .collect();
        let readers = self.readers.clone();
        let read = move || {
            readers.read(|c| {
                let mut s = prepare(c, &sql)?;
                let rows = s.query_map(rusqlite::params_from_iter(params), agent_of).map_err(err)?;
                rows.map(|r| {
                    let r = r.map_err(err)?;
                    Ok(Agent { attributes: from_json(&r.attributes_json, "agent attributes")?, ..r.agent })
                })
                .collect()
            })
        };
        let _permit = self.list_permits.acquire().await.map_err(|_| Error::Storage("the store is closing".into()))?;
        tokio::task::spawn_blocking(read).await.map_err(|e| Error::Storage(format!("agent list read failed: {e}")))?
    }

    pub(crate) async fn update_agent(&self, ctx: &WriteCtx, id: Id, c: AgentChanges, expected: Option<i64>) -> Result<AgentDetail> {
        let ctx = ctx.clone();
        self.write(move |t| {
            let before = detail_or_404(t, ctx.tenant_id, id)?;
            check_version(Entity::Agent, id, before.agent.version, expected)?;
            let mut a = before.agent.clone();
            c.apply(&mut a, ctx.now);
            a.updated_at = ctx.now;
            a.version = before.agent.version + 1;
            write_agent(t, &a, before.agent.version)?;
            if let Some(h) = &c.password_hash {
                run(t, SET_PASSWORD_SQL, &[&h.as_str(), &id])?;
                run(t, ADD_PASSWORD_HISTORY_SQL, &[&id, &h.as_str(), &ctx.now])?;
            }
            mark_agents(t, &ctx)?;
            let after = detail_or_404(t, ctx.tenant_id, id)?;
            audit(t, &ctx, id, &before, &after)?;
            Ok(after)
        })
        .await
    }

    pub(crate) async fn assign_skill(&self, ctx: &WriteCtx, agent: Id, skill: Id, proficiency: i64) -> Result<AgentDetail> {
        let ctx = ctx.clone();
        self.write(move |t| {
            let before = detail_or_404(t, ctx.tenant_id, agent)?;
            if !exists(t, SKILL_EXISTS_SQL, ctx.tenant_id, skill)? {
                return Err(Error::not_found(Entity::Skill, skill));
            }
            if before.skills.iter().any(|s| s.skill_id == skill && s.proficiency == proficiency) {
                return Ok(before);
            }
            run(t, UPSERT_AGENT_SKILL_SQL, &[&agent, &skill, &proficiency])?;
            finish_agent_change(t, &ctx, &before)
        })
        .await
    }

    pub(crate) async fn remove_skill(&self, ctx: &WriteCtx, agent: Id, skill: Id) -> Result<AgentDetail> {
        let ctx = ctx.clone();
        self.write(move |t| {
            let before = detail_or_404(t, ctx.tenant_id, agent)?;
            if !exists(t, SKILL_EXISTS_SQL, ctx.tenant_id, skill)? {
                return Err(Error::not_found(Entity::Skill, skill));
            }
            if run(t, DELETE_AGENT_SKILL_SQL, &[&agent, &skill])? == 0 {
                return Ok(before);
            }
            finish_agent_change(t, &ctx, &before)
        })
        .await
    }

    pub(crate) async fn set_group_memberships(&self, ctx: &WriteCtx, agent: Id, groups: &[GroupMembership]) -> Result<AgentDetail> {
        let ctx = ctx.clone();
        let groups = groups.to_vec();
        self.write(move |t| {
            let before = detail_or_404(t, ctx.tenant_id, agent)?;
            for g in &groups {
                if !exists(t, GROUP_EXISTS_SQL, ctx.tenant_id, g.group_id)? {
                    return Err(switchboard_domain::unknown("groups", Entity::Group, g.group_id));
                }
            }
            if groups.iter().all(|g| before.groups.contains(g)) {
                return Ok(before);
            }
            for g in &groups {
                run(t, UPSERT_AGENT_GROUP_SQL, &[&agent, &g.group_id, &g.receive_call])?;
            }
            finish_agent_change(t, &ctx, &before)
        })
        .await
    }
}

/// A cached statement of the shared SQL. Its `$n` placeholders are bound by
/// position, which SQLite numbers in order of first appearance: checked here
/// in debug builds (the tests).
fn prepare<'c>(c: &'c Connection, sql: &str) -> Result<CachedStatement<'c>> {
    let s = c.prepare_cached(sql).map_err(err)?;
    debug_assert!(
        (1..=s.parameter_count()).all(|i| s.parameter_name(i) == Some(format!("${i}").as_str())),
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

/// An agent with its assignments, in four statements: on a direct
/// connection they cost no round trips, and unlike `AGENT_DETAIL_SQL`'s
/// ordered aggregates they need no temporary b-trees. Inside the caller's
/// transaction (one snapshot).
fn detail_or_404(c: &Connection, tenant: Id, id: Id) -> Result<AgentDetail> {
    let agent = prepare(c, AGENT_SQL)?.query_row([tenant, id], agent_of).optional().map_err(err)?;
    let Some(agent) = agent else {
        return Err(Error::not_found(Entity::Agent, id));
    };
    let agent = Agent { attributes: from_json(&agent.attributes_json, "agent attributes")?, ..agent.agent };
    let skills = prepare(c, AGENT_SKILLS_SQL)?
        .query_map([id], |r| Ok(SkillAssignment { skill_id: r.get(0)?, proficiency: r.get(1)? }))
        .map_err(err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(err)?;
    let service_ids = prepare(c, AGENT_SERVICES_SQL)?
        .query_map([id], |r| r.get(0))
        .map_err(err)?
        .collect::<rusqlite::Result<Vec<Id>>>()
        .map_err(err)?;
    let groups = prepare(c, AGENT_GROUPS_SQL)?
        .query_map([id], |r| Ok(GroupMembership { group_id: r.get(0)?, receive_call: r.get(1)? }))
        .map_err(err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(err)?;
    Ok(AgentDetail { agent, skills, service_ids, groups })
}

/// An agent row before its `attributes` JSON is decoded.
struct AgentRow {
    agent: Agent,
    attributes_json: String,
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

fn mark_agents(c: &Connection, ctx: &WriteCtx) -> Result<()> {
    run(c, MARK_LIST_SQL, &[&ctx.tenant_id, &Entity::Agent.as_str(), &ctx.now])?;
    Ok(())
}

fn audit(c: &Connection, ctx: &WriteCtx, id: Id, before: &AgentDetail, after: &AgentDetail) -> Result<()> {
    let (before, after) = (to_json(before)?, to_json(after)?);
    run(
        c,
        AUDIT_SQL,
        &[
            &ctx.tenant_id,
            &ctx.now,
            &ctx.actor.user_id,
            &ctx.actor.api_key_id,
            &ctx.actor.label.as_str(),
            &Entity::Agent.as_str(),
            &id,
            &AuditAction::Update.as_str(),
            &before,
            &after,
        ],
    )?;
    Ok(())
}

/// An assignment changed: version bump, list mark, audit; the new detail.
fn finish_agent_change(c: &Connection, ctx: &WriteCtx, before: &AgentDetail) -> Result<AgentDetail> {
    let id = before.agent.id;
    let done = run(c, TOUCH_AGENT_SQL, &[&ctx.now, &id, &before.agent.version])?;
    expect_one(done as u64, Entity::Agent, id, before.agent.version)?;
    mark_agents(c, ctx)?;
    let after = detail_or_404(c, ctx.tenant_id, id)?;
    audit(c, ctx, id, before, &after)?;
    Ok(after)
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
             attributes, created_at, updated_at, version)",
        )
        .unwrap();
        let s = c.prepare(AGENT_SQL).unwrap();
        let expected = [
            "id", "tenant_id", "login_id", "first_name", "last_name", "display_name", "email", "phone", "wrap_up_time",
            "home_agent", "active", "locked", "failed_logins", "last_login", "last_login_ip", "password_last_modified",
            "has_password", "attributes", "created_at", "updated_at", "version",
        ];
        assert_eq!(s.column_names(), expected);
    }
}

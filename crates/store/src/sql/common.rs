// Shared SQL, part 1: types, row decoding and helpers.
//
// This file is `include!`d by each backend module after it has defined
// `type Db` (sqlx::Sqlite, sqlx::Postgres…). It must only use SQL both engines
// accept. It defines no inner attributes or module docs (include! forbids them).

#[allow(unused_imports)]
use sqlx::Row as _;
use switchboard_domain::{
    Actor, Agent, AgentDetail, AgentFilter, AuditAction, Entity, Error, GroupMembership, Id, Millis, PageRequest, Result,
    Rule, SkillAssignment, WriteCtx,
};

#[allow(unused_imports)]
use crate::{
    contains_pattern, db_err, fetch_limit, from_json, offset_of, page_of, to_json, unique_err,
    Unique,
};

type DbPool = sqlx::Pool<Db>;
type DbTx = sqlx::Transaction<'static, Db>;
type DbConn = <Db as sqlx::Database>::Connection;
type DbRow = <Db as sqlx::Database>::Row;

/// The store over one database: writes go through `writer`, reads `reader`.
pub(crate) struct SqlStore {
    writer: DbPool,
    reader: DbPool,
    /// The backend's own path for its hottest operations, if it has one
    /// (SQLite on a file: `sqlite/direct.rs`); these methods defer to it.
    direct: Option<Direct>,
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

// Column lists, as macros so that `concat!` can build `&'static str` queries.
macro_rules! agent_cols {
    () => {
        "id, tenant_id, login_id, first_name, last_name, display_name, email, phone, wrap_up_time, \
         home_agent, active, locked, failed_logins, last_login, last_login_ip, password_last_modified, \
         (password_hash IS NOT NULL) AS has_password, attributes, created_at, updated_at, version"
    };
}
macro_rules! tenant_cols {
    () => {
        "id, name, COALESCE(client_id, id) AS client_id, settings, created_at, updated_at, version"
    };
}
macro_rules! user_cols {
    () => {
        "id, tenant_id, username, role, powers, created_at, updated_at, version"
    };
}
macro_rules! key_cols {
    () => {
        "id, user_id, name, prefix, created_at, last_used_at, revoked_at"
    };
}
macro_rules! skill_cols {
    () => {
        "id, tenant_id, name, description, created_at, updated_at, version"
    };
}
macro_rules! service_cols {
    () => {
        "id, tenant_id, name, call_center_id, acd, created_at, updated_at, version"
    };
}
macro_rules! named_cols {
    () => {
        "id, tenant_id, name, created_at, updated_at, version"
    };
}
macro_rules! phone_cols {
    () => {
        "id, tenant_id, number, name, created_at, updated_at, version"
    };
}
macro_rules! did_cols {
    () => {
        "id, tenant_id, number, created_at, updated_at, version"
    };
}
macro_rules! campaign_cols {
    () => {
        "id, tenant_id, name, created_at, updated_at, version"
    };
}
macro_rules! audit_cols {
    () => {
        "id, tenant_id, at, actor_user_id, actor_api_key_id, actor, entity, entity_id, action, before_json, after_json"
    };
}

fn agent_of(r: &DbRow) -> Result<Agent> {
    let attributes: String = col(r, "attributes")?;
    Ok(Agent {
        id: col(r, "id")?,
        tenant_id: col(r, "tenant_id")?,
        login_id: col(r, "login_id")?,
        first_name: col(r, "first_name")?,
        last_name: col(r, "last_name")?,
        display_name: col(r, "display_name")?,
        email: col(r, "email")?,
        phone: col(r, "phone")?,
        wrap_up_time: col(r, "wrap_up_time")?,
        home_agent: col(r, "home_agent")?,
        active: col(r, "active")?,
        locked: col(r, "locked")?,
        failed_logins: col(r, "failed_logins")?,
        last_login: col(r, "last_login")?,
        last_login_ip: col(r, "last_login_ip")?,
        password_last_modified: col(r, "password_last_modified")?,
        has_password: col(r, "has_password")?,
        attributes: from_json(&attributes, "agent attributes")?,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
        version: col(r, "version")?,
    })
}

fn tenant_of(r: &DbRow) -> Result<switchboard_domain::Tenant> {
    let settings: String = col(r, "settings")?;
    Ok(switchboard_domain::Tenant {
        id: col(r, "id")?,
        name: col(r, "name")?,
        client_id: col(r, "client_id")?,
        settings: from_json(&settings, "tenant settings")?,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
        version: col(r, "version")?,
    })
}

fn role_of(s: &str) -> Result<switchboard_domain::Role> {
    switchboard_domain::Role::parse(s).ok_or_else(|| Error::Storage(format!("unknown stored role {s:?}")))
}

fn user_of(r: &DbRow) -> Result<switchboard_domain::User> {
    let role: String = col(r, "role")?;
    let powers: String = col(r, "powers")?;
    Ok(switchboard_domain::User {
        id: col(r, "id")?,
        tenant_id: col(r, "tenant_id")?,
        username: col(r, "username")?,
        role: role_of(&role)?,
        powers: from_json(&powers, "user powers")?,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
        version: col(r, "version")?,
    })
}

fn key_of(r: &DbRow) -> Result<switchboard_domain::ApiKeyInfo> {
    Ok(switchboard_domain::ApiKeyInfo {
        id: col(r, "id")?,
        user_id: col(r, "user_id")?,
        name: col(r, "name")?,
        prefix: col(r, "prefix")?,
        created_at: col(r, "created_at")?,
        last_used_at: col(r, "last_used_at")?,
        revoked_at: col(r, "revoked_at")?,
    })
}

fn skill_of(r: &DbRow) -> Result<switchboard_domain::Skill> {
    Ok(switchboard_domain::Skill {
        id: col(r, "id")?,
        tenant_id: col(r, "tenant_id")?,
        name: col(r, "name")?,
        description: col(r, "description")?,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
        version: col(r, "version")?,
    })
}

fn service_of(r: &DbRow) -> Result<switchboard_domain::Service> {
    Ok(switchboard_domain::Service {
        id: col(r, "id")?,
        tenant_id: col(r, "tenant_id")?,
        name: col(r, "name")?,
        call_center_id: col(r, "call_center_id")?,
        acd: col(r, "acd")?,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
        version: col(r, "version")?,
    })
}

fn named_of(r: &DbRow) -> Result<switchboard_domain::Named> {
    Ok(switchboard_domain::Named {
        id: col(r, "id")?,
        tenant_id: col(r, "tenant_id")?,
        name: col(r, "name")?,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
        version: col(r, "version")?,
    })
}

fn did_of(r: &DbRow) -> Result<switchboard_domain::Did> {
    Ok(switchboard_domain::Did {
        id: col(r, "id")?,
        tenant_id: col(r, "tenant_id")?,
        number: col(r, "number")?,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
        version: col(r, "version")?,
    })
}

fn audit_of(r: &DbRow) -> Result<switchboard_domain::AuditEvent> {
    let entity: String = col(r, "entity")?;
    let action: String = col(r, "action")?;
    let before: Option<String> = col(r, "before_json")?;
    let after: Option<String> = col(r, "after_json")?;
    Ok(switchboard_domain::AuditEvent {
        id: col(r, "id")?,
        tenant_id: col(r, "tenant_id")?,
        at: col(r, "at")?,
        actor_user_id: col(r, "actor_user_id")?,
        actor_api_key_id: col(r, "actor_api_key_id")?,
        actor: col(r, "actor")?,
        entity: Entity::parse(&entity).ok_or_else(|| Error::Storage(format!("unknown audited entity {entity:?}")))?,
        entity_id: col(r, "entity_id")?,
        action: AuditAction::parse(&action).ok_or_else(|| Error::Storage(format!("unknown audit action {action:?}")))?,
        before: before.as_deref().map(|s| from_json(s, "audit before")).transpose()?,
        after: after.as_deref().map(|s| from_json(s, "audit after")).transpose()?,
    })
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
    if let Some(sql) = row_lock_sql(entity) {
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
    if done == 1 { Ok(()) } else { Err(lost_update(entity, id, read_version)) }
}

const AUDIT_SQL: &str = "INSERT INTO audit_events (tenant_id, at, actor_user_id, actor_api_key_id, actor, entity, entity_id, action, before_json, after_json) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// Appends one audit event inside the caller's transaction.
#[allow(clippy::too_many_arguments)]
async fn audit(
    c: &mut DbConn,
    tenant: Id,
    actor: &Actor,
    now: Millis,
    entity: Entity,
    entity_id: Id,
    action: AuditAction,
    before: Option<String>,
    after: Option<String>,
) -> Result<()> {
    sqlx::query(AUDIT_SQL)
    .bind(tenant)
    .bind(now)
    .bind(actor.user_id)
    .bind(actor.api_key_id)
    .bind(actor.label.as_str())
    .bind(entity.as_str())
    .bind(entity_id)
    .bind(action.as_str())
    .bind(before)
    .bind(after)
    .execute(&mut *c)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// `audit` for the common case of a `WriteCtx`, with JSON-encoded states.
async fn audit_ctx<B: serde::Serialize, A: serde::Serialize>(
    c: &mut DbConn,
    ctx: &WriteCtx,
    entity: Entity,
    entity_id: Id,
    action: AuditAction,
    before: Option<&B>,
    after: Option<&A>,
) -> Result<()> {
    let before = before.map(|b| to_json(b)).transpose()?;
    let after = after.map(|a| to_json(a)).transpose()?;
    audit(c, ctx.tenant_id, &ctx.actor, ctx.now, entity, entity_id, action, before, after).await
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
    let last_modified: Option<i64> =
        sqlx::query_scalar("SELECT MAX(modified_at) FROM list_marks WHERE tenant_id = $1 AND entity = $2")
            .bind(tenant)
            .bind(entity.as_str())
            .fetch_one(&mut *c)
            .await
            .map_err(db_err)?;
    Ok(switchboard_domain::ListInfo { size, last_modified })
}

// ---- agents -------------------------------------------------------------------

const AGENT_SQL: &str = concat!("SELECT ", agent_cols!(), " FROM agents WHERE tenant_id = $1 AND id = $2");
// In primary-key order: index range scans, nothing to sort.
const AGENT_SKILLS_SQL: &str = "SELECT skill_id, proficiency FROM agent_skills WHERE agent_id = $1 ORDER BY skill_id";
const AGENT_SERVICES_SQL: &str = "SELECT service_id FROM agent_services WHERE agent_id = $1 ORDER BY service_id";
const AGENT_GROUPS_SQL: &str = "SELECT group_id, receive_call FROM agent_groups WHERE agent_id = $1 ORDER BY group_id";

async fn find_agent(c: &mut DbConn, tenant: Id, id: Id) -> Result<Option<Agent>> {
    let row = sqlx::query(AGENT_SQL)
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)?;
    row.as_ref().map(agent_of).transpose()
}

async fn agent_or_404(c: &mut DbConn, tenant: Id, id: Id) -> Result<Agent> {
    find_agent(c, tenant, id).await?.ok_or_else(|| Error::not_found(Entity::Agent, id))
}

async fn agent_detail(c: &mut DbConn, agent: Agent) -> Result<AgentDetail> {
    let rows = sqlx::query(AGENT_SKILLS_SQL)
        .bind(agent.id)
        .fetch_all(&mut *c)
        .await
        .map_err(db_err)?;
    let skills = rows
        .iter()
        .map(|r| Ok(SkillAssignment { skill_id: col(r, "skill_id")?, proficiency: col(r, "proficiency")? }))
        .collect::<Result<Vec<_>>>()?;
    let service_ids: Vec<Id> =
        sqlx::query_scalar(AGENT_SERVICES_SQL)
            .bind(agent.id)
            .fetch_all(&mut *c)
            .await
            .map_err(db_err)?;
    let rows = sqlx::query(AGENT_GROUPS_SQL)
        .bind(agent.id)
        .fetch_all(&mut *c)
        .await
        .map_err(db_err)?;
    let groups = rows
        .iter()
        .map(|r| Ok(GroupMembership { group_id: col(r, "group_id")?, receive_call: col(r, "receive_call")? }))
        .collect::<Result<Vec<_>>>()?;
    Ok(AgentDetail { agent, skills, service_ids, groups })
}

/// An agent with its skills, services and groups in one statement (one
/// round trip to the database instead of four): each list comes aggregated
/// as text, `skill:proficiency,…`, `service,…` and `group:receive_call(1|0),…`,
/// in id order. `string_agg(… ORDER BY …)` is PostgreSQL's and SQLite's (3.44+).
/// Up to `FROM agents`: the callers add the WHERE clause.
macro_rules! agent_detail_select {
    () => {
        concat!(
            "SELECT ",
            agent_cols!(),
    ", (SELECT string_agg(CAST(x.skill_id AS TEXT) || ':' || CAST(x.proficiency AS TEXT), ',' ORDER BY x.skill_id) \
       FROM agent_skills x WHERE x.agent_id = agents.id) AS skill_list, \
     (SELECT string_agg(CAST(x.service_id AS TEXT), ',' ORDER BY x.service_id) \
       FROM agent_services x WHERE x.agent_id = agents.id) AS service_list, \
     (SELECT string_agg(CAST(x.group_id AS TEXT) || ':' || CASE WHEN x.receive_call THEN '1' ELSE '0' END, ',' ORDER BY x.group_id) \
       FROM agent_groups x WHERE x.agent_id = agents.id) AS group_list \
     FROM agents"
        )
    };
}

const AGENT_DETAIL_SQL: &str = concat!(agent_detail_select!(), " WHERE tenant_id = $1 AND id = $2");

fn agent_detail_of(r: &DbRow) -> Result<AgentDetail> {
    agent_detail_from(agent_of(r)?, col(r, "skill_list")?, col(r, "service_list")?, col(r, "group_list")?)
}

/// An agent and the three aggregated lists of `AGENT_DETAIL_SQL`.
fn agent_detail_from(agent: Agent, skill_list: Option<String>, service_list: Option<String>, group_list: Option<String>) -> Result<AgentDetail> {
    fn items(list: Option<&str>) -> impl Iterator<Item = (&str, Option<&str>)> {
        list.unwrap_or_default().split(',').filter(|s| !s.is_empty()).map(|s| match s.split_once(':') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        })
    }
    let bad = |what: &str| Error::Storage(format!("stored agent {what} do not decode"));
    let num = |s: &str, what: &str| s.parse::<i64>().map_err(|_| bad(what));
    let skills = items(skill_list.as_deref())
        .map(|(a, b)| Ok(SkillAssignment { skill_id: num(a, "skills")?, proficiency: num(b.unwrap_or(""), "skills")? }))
        .collect::<Result<Vec<_>>>()?;
    let service_ids = items(service_list.as_deref()).map(|(a, _)| num(a, "services")).collect::<Result<Vec<_>>>()?;
    let groups = items(group_list.as_deref())
        .map(|(a, b)| Ok(GroupMembership { group_id: num(a, "groups")?, receive_call: b == Some("1") }))
        .collect::<Result<Vec<_>>>()?;
    Ok(AgentDetail { agent, skills, service_ids, groups })
}

/// `AGENT_DETAIL_SQL` that also locks the agent's row where the backend needs
/// it (`row_lock_sql`; one round trip instead of two on the hottest writes).
const AGENT_DETAIL_FOR_WRITE_SQL: &str = concat!(agent_detail_select!(), " WHERE tenant_id = $1 AND id = $2", agent_row_lock!());

/// The agent a write transaction is about to change, its row locked.
async fn agent_detail_or_404(c: &mut DbConn, tenant: Id, id: Id) -> Result<AgentDetail> {
    let row = sqlx::query(AGENT_DETAIL_FOR_WRITE_SQL)
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found(Entity::Agent, id))?;
    agent_detail_of(&row)
}

const WRITE_AGENT_SQL: &str = "UPDATE agents SET login_id = $1, first_name = $2, last_name = $3, display_name = $4, email = $5, phone = $6, \
     wrap_up_time = $7, home_agent = $8, active = $9, locked = $10, failed_logins = $11, last_login = $12, \
     last_login_ip = $13, password_last_modified = $14, attributes = $15, updated_at = $16, version = $17 \
     WHERE id = $18 AND version = $19";

/// Writes every column of `a` back (the version check is the caller's).
async fn write_agent(c: &mut DbConn, a: &Agent, read_version: i64) -> Result<()> {
    let done = sqlx::query(WRITE_AGENT_SQL)
    .bind(a.login_id.as_str())
    .bind(a.first_name.as_str())
    .bind(a.last_name.as_str())
    .bind(a.display_name.as_deref())
    .bind(a.email.as_deref())
    .bind(a.phone.as_str())
    .bind(a.wrap_up_time)
    .bind(a.home_agent)
    .bind(a.active)
    .bind(a.locked)
    .bind(a.failed_logins)
    .bind(a.last_login)
    .bind(a.last_login_ip.as_deref())
    .bind(a.password_last_modified)
    .bind(to_json(&a.attributes)?)
    .bind(a.updated_at)
    .bind(a.version)
    .bind(a.id)
    .bind(read_version)
    .execute(&mut *c)
    .await
    .map_err(|e| unique_err(e, &[Unique { index: "ux_agents_login_id", entity: Entity::Agent, field: "loginId", value: &a.login_id }]))?
    .rows_affected();
    expect_one(done, Entity::Agent, a.id, read_version)
}

const TOUCH_AGENT_SQL: &str = "UPDATE agents SET version = version + 1, updated_at = $1 WHERE id = $2 AND version = $3";

/// Bumps an agent's version after a change of its assignments.
async fn touch_agent(c: &mut DbConn, id: Id, read_version: i64, now: Millis) -> Result<()> {
    let done = sqlx::query(TOUCH_AGENT_SQL)
        .bind(now)
        .bind(id)
        .bind(read_version)
        .execute(&mut *c)
        .await
        .map_err(db_err)?
        .rows_affected();
    expect_one(done, Entity::Agent, id, read_version)
}

/// Finishes an assignment change: version bump, list mark, audit; returns the new detail.
async fn finish_agent_change(c: &mut DbConn, ctx: &WriteCtx, before: &AgentDetail) -> Result<AgentDetail> {
    touch_agent(c, before.agent.id, before.agent.version, ctx.now).await?;
    mark_list(c, ctx.tenant_id, Entity::Agent, before.agent.id, ctx.now).await?;
    let after = agent_detail_or_404(c, ctx.tenant_id, before.agent.id).await?;
    audit_ctx(c, ctx, Entity::Agent, after.agent.id, AuditAction::Update, Some(before), Some(&after)).await?;
    Ok(after)
}

/// Bumps the version of every agent selected by `sql` (an `UPDATE agents …`
/// with `$1` = now and `$2` = the id of an object being deleted whose links
/// are about to go), and marks the agent list if any.
async fn bump_linked_agents(c: &mut DbConn, tenant: Id, now: Millis, sql: &'static str, object: Id) -> Result<()> {
    let n = sqlx::query(sql).bind(now).bind(object).execute(&mut *c).await.map_err(db_err)?.rows_affected();
    if n > 0 {
        mark_list(c, tenant, Entity::Agent, object, now).await?;
    }
    Ok(())
}

const SKILL_EXISTS_SQL: &str = "SELECT id FROM skills WHERE tenant_id = $1 AND id = $2";
const GROUP_EXISTS_SQL: &str = "SELECT id FROM agent_group_defs WHERE tenant_id = $1 AND id = $2";

async fn skill_exists(c: &mut DbConn, tenant: Id, id: Id) -> Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(SKILL_EXISTS_SQL)
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(found.is_some())
}

async fn group_exists(c: &mut DbConn, tenant: Id, id: Id) -> Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(GROUP_EXISTS_SQL)
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(found.is_some())
}

/// That every group of `groups` is one of the tenant's, in one statement for
/// the whole list; else `unknown` for the first that is not.
async fn ensure_groups_exist(c: &mut DbConn, tenant: Id, groups: &[GroupMembership]) -> Result<()> {
    if groups.is_empty() {
        return Ok(());
    }
    let mut qb = QueryBuilder::new("SELECT id FROM agent_group_defs WHERE tenant_id = ");
    let t = qb.arg(Arg::Int(tenant));
    qb.push(&t);
    qb.push(" AND id IN ");
    qb.push_ids(&groups.iter().map(|g| g.group_id).collect::<Vec<_>>());
    let rows = qb.build().fetch_all(&mut *c).await.map_err(db_err)?;
    let known = rows.iter().map(|r| col(r, "id")).collect::<Result<std::collections::HashSet<Id>>>()?;
    match groups.iter().find(|g| !known.contains(&g.group_id)) {
        Some(g) => Err(switchboard_domain::unknown("groups", Entity::Group, g.group_id)),
        None => Ok(()),
    }
}

/// An agent's memberships of `groups`, added or changed in one statement (a
/// group given twice: the last one counts, as one upsert after another did).
async fn upsert_agent_groups(c: &mut DbConn, agent: Id, groups: &[GroupMembership]) -> Result<()> {
    let mut last: Vec<&GroupMembership> = Vec::with_capacity(groups.len());
    for g in groups.iter().rev() {
        if !last.iter().any(|l| l.group_id == g.group_id) {
            last.push(g);
        }
    }
    if last.is_empty() {
        return Ok(());
    }
    let mut qb = QueryBuilder::new("INSERT INTO agent_groups (agent_id, group_id, receive_call) VALUES ");
    let a = qb.arg(Arg::Int(agent));
    for (i, g) in last.iter().rev().enumerate() {
        let (id, rc) = (qb.arg(Arg::Int(g.group_id)), qb.arg(Arg::Bool(g.receive_call)));
        qb.push(&format!("{}({a}, {id}, {rc})", if i == 0 { "" } else { ", " }));
    }
    qb.push(" ON CONFLICT (agent_id, group_id) DO UPDATE SET receive_call = excluded.receive_call");
    qb.build().execute(&mut *c).await.map_err(db_err)?;
    Ok(())
}

/// `None` if the service does not exist in the tenant, else whether it is ACD.
async fn service_acd(c: &mut DbConn, tenant: Id, id: Id) -> Result<Option<bool>> {
    sqlx::query_scalar("SELECT acd FROM services WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)
}

const UPSERT_AGENT_SKILL_SQL: &str = "INSERT INTO agent_skills (agent_id, skill_id, proficiency) VALUES ($1, $2, $3) \
     ON CONFLICT (agent_id, skill_id) DO UPDATE SET proficiency = excluded.proficiency";
const DELETE_AGENT_SKILL_SQL: &str = "DELETE FROM agent_skills WHERE agent_id = $1 AND skill_id = $2";
const UPSERT_AGENT_GROUP_SQL: &str = "INSERT INTO agent_groups (agent_id, group_id, receive_call) VALUES ($1, $2, $3) \
     ON CONFLICT (agent_id, group_id) DO UPDATE SET receive_call = excluded.receive_call";
const SET_PASSWORD_SQL: &str = "UPDATE agents SET password_hash = $1 WHERE id = $2";
const ADD_PASSWORD_HISTORY_SQL: &str = "INSERT INTO agent_password_history (agent_id, hash, created_at) VALUES ($1, $2, $3)";

async fn upsert_agent_skill(c: &mut DbConn, agent: Id, skill: Id, proficiency: i64) -> Result<()> {
    sqlx::query(UPSERT_AGENT_SKILL_SQL)
    .bind(agent)
    .bind(skill)
    .bind(proficiency)
    .execute(&mut *c)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn insert_agent_service(c: &mut DbConn, agent: Id, service: Id) -> Result<()> {
    sqlx::query("INSERT INTO agent_services (agent_id, service_id) VALUES ($1, $2) ON CONFLICT (agent_id, service_id) DO NOTHING")
        .bind(agent)
        .bind(service)
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(())
}

async fn upsert_agent_group(c: &mut DbConn, agent: Id, group: Id, receive_call: bool) -> Result<()> {
    sqlx::query(UPSERT_AGENT_GROUP_SQL)
    .bind(agent)
    .bind(group)
    .bind(receive_call)
    .execute(&mut *c)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn add_password_history(c: &mut DbConn, agent: Id, hash: &str, now: Millis) -> Result<()> {
    sqlx::query(ADD_PASSWORD_HISTORY_SQL)
        .bind(agent)
        .bind(hash)
        .bind(now)
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(())
}

// ---- phones and campaigns -------------------------------------------------------

async fn phone_of(c: &mut DbConn, r: &DbRow) -> Result<switchboard_domain::Phone> {
    let id: Id = col(r, "id")?;
    let skills: Vec<String> = sqlx::query_scalar(
        "SELECT s.name FROM phone_skills ps JOIN skills s ON s.id = ps.skill_id WHERE ps.phone_id = $1 ORDER BY ps.position",
    )
    .bind(id)
    .fetch_all(&mut *c)
    .await
    .map_err(db_err)?;
    Ok(switchboard_domain::Phone {
        id,
        tenant_id: col(r, "tenant_id")?,
        number: col(r, "number")?,
        name: col(r, "name")?,
        skills,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
        version: col(r, "version")?,
    })
}

async fn phone_or_404(c: &mut DbConn, tenant: Id, id: Id) -> Result<switchboard_domain::Phone> {
    let row = sqlx::query(concat!("SELECT ", phone_cols!(), " FROM phones WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found(Entity::Phone, id))?;
    phone_of(c, &row).await
}

/// Replaces a phone's skills with `names`, resolved case-insensitively.
async fn set_phone_skills(c: &mut DbConn, tenant: Id, phone: Id, names: &[String]) -> Result<()> {
    let mut ids = Vec::with_capacity(names.len());
    for n in names {
        let id: Option<Id> = sqlx::query_scalar("SELECT id FROM skills WHERE tenant_id = $1 AND lower(name) = lower($2)")
            .bind(tenant)
            .bind(n.as_str())
            .fetch_optional(&mut *c)
            .await
            .map_err(db_err)?;
        ids.push(id.ok_or_else(|| switchboard_domain::unknown("skills", Entity::Skill, n))?);
    }
    sqlx::query("DELETE FROM phone_skills WHERE phone_id = $1").bind(phone).execute(&mut *c).await.map_err(db_err)?;
    for (pos, id) in ids.into_iter().enumerate() {
        sqlx::query("INSERT INTO phone_skills (phone_id, skill_id, position) VALUES ($1, $2, $3) ON CONFLICT (phone_id, skill_id) DO NOTHING")
            .bind(phone)
            .bind(id)
            .bind(pos as i64)
            .execute(&mut *c)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

const DYNAMIC: &str = "dynamic";
const FALLBACK: &str = "fallback";

async fn campaign_of(c: &mut DbConn, r: &DbRow) -> Result<switchboard_domain::Campaign> {
    let id: Id = col(r, "id")?;
    let mut lists = Vec::with_capacity(2);
    for kind in [DYNAMIC, FALLBACK] {
        let numbers: Vec<String> = sqlx::query_scalar(
            "SELECT d.number FROM campaign_dids cd JOIN dids d ON d.id = cd.did_id \
             WHERE cd.campaign_id = $1 AND cd.kind = $2 ORDER BY cd.position",
        )
        .bind(id)
        .bind(kind)
        .fetch_all(&mut *c)
        .await
        .map_err(db_err)?;
        lists.push(numbers);
    }
    let fallback_dids = lists.pop().unwrap_or_default();
    let dynamic_dids = lists.pop().unwrap_or_default();
    Ok(switchboard_domain::Campaign {
        id,
        tenant_id: col(r, "tenant_id")?,
        name: col(r, "name")?,
        dynamic_dids,
        fallback_dids,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
        version: col(r, "version")?,
    })
}

async fn campaign_or_404(c: &mut DbConn, tenant: Id, id: Id) -> Result<switchboard_domain::Campaign> {
    let row = sqlx::query(concat!("SELECT ", campaign_cols!(), " FROM campaigns WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found(Entity::Campaign, id))?;
    campaign_of(c, &row).await
}

/// Resolves DID numbers of the tenant; an unknown one is reported under `field`.
async fn resolve_dids(c: &mut DbConn, tenant: Id, field: &str, numbers: &[String]) -> Result<Vec<Id>> {
    let mut ids = Vec::with_capacity(numbers.len());
    for n in numbers {
        let id: Option<Id> = sqlx::query_scalar("SELECT id FROM dids WHERE tenant_id = $1 AND lower(number) = lower($2)")
            .bind(tenant)
            .bind(n.as_str())
            .fetch_optional(&mut *c)
            .await
            .map_err(db_err)?;
        ids.push(id.ok_or_else(|| switchboard_domain::unknown(field, Entity::Did, n))?);
    }
    Ok(ids)
}

async fn set_campaign_dids(c: &mut DbConn, campaign: Id, kind: &str, ids: &[Id]) -> Result<()> {
    sqlx::query("DELETE FROM campaign_dids WHERE campaign_id = $1 AND kind = $2")
        .bind(campaign)
        .bind(kind)
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
    for (pos, id) in ids.iter().enumerate() {
        sqlx::query("INSERT INTO campaign_dids (campaign_id, did_id, kind, position) VALUES ($1, $2, $3, $4)")
            .bind(campaign)
            .bind(*id)
            .bind(kind)
            .bind(pos as i64)
            .execute(&mut *c)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

// ---- dynamic SQL -------------------------------------------------------------------

/// A bound value of a dynamically shaped query.
enum Arg {
    Int(i64),
    Text(String),
    Bool(bool),
}

/// Builds a query whose *shape* varies (which filters apply); every value is
/// bound as a parameter, never spliced into the text.
/// The agent list query: tenant, keyset/offset paging and filters.
fn agent_list_query(tenant: Id, filter: &AgentFilter, page: PageRequest) -> QueryBuilder {
    use switchboard_domain::AgentSort;
    let text = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    const ALL_TEXT: &[&str] = &["login_id", "first_name", "last_name", "display_name", "email", "phone"];
    let mut texts: Vec<(&[&str], String)> = Vec::new();
    if let Some(t) = text(&filter.q) {
        texts.push((ALL_TEXT, t));
    }
    for (value, column) in [(&filter.login_id_contains, &["login_id"]), (&filter.last_name_contains, &["last_name"]), (&filter.phone_contains, &["phone"])] {
        if let Some(t) = text(value) {
            texts.push((column, t));
        }
    }
    // A whole phone number: its digits are also a text the phone holds, so
    // that the text indexes find the candidates; the exact test is below.
    let phone_number = filter.phone_number.as_deref().map(switchboard_domain::validate::phone_digits);
    if let Some(d) = phone_number.as_ref().filter(|d| !d.is_empty()) {
        texts.push((&["phone"], d.clone()));
    }
    // In id order, a backend with a full-text index (SQLite's FTS5) walks the
    // index's matches in id order and stops at the page's end, instead of
    // collecting every match and sorting them (at 1M agents: 0.5 ms instead
    // of 3 ms for a page of a term matching 1,000).
    let mut qb = QueryBuilder::new("");
    let by_index = matches!(filter.sort, AgentSort::IdAsc | AgentSort::IdDesc) && !texts.is_empty();
    let by_index = if by_index { text_index_match(&mut qb, &texts) } else { None };
    // With an OFFSET (LiveVox paging), the rows skipped are found by ids
    // only, in the subquery, which an index answers by itself (a covering
    // walk); only the page's rows are then read whole. Skipping whole rows
    // made a page at offset 500,000 of 1M agents cost ~20 ms of CPU (issue 8).
    let deep = page.offset > 0 || by_index.is_some();
    let outer = concat!("SELECT ", agent_cols!(), " FROM agents a");
    match &by_index {
        Some(m) => qb.push(&format!("{outer} WHERE a.id IN (SELECT a.id FROM {m} AND a.tenant_id = ")),
        None if deep => qb.push(&format!("{outer} WHERE a.id IN (SELECT a.id FROM agents a WHERE a.tenant_id = ")),
        None => qb.push(&format!("{outer} WHERE a.tenant_id = ")),
    }
    let p = qb.arg(Arg::Int(tenant));
    qb.push(&p);
    if page.after > 0 {
        let p = qb.arg(Arg::Int(page.after));
        qb.push(&format!(" AND a.id > {p}"));
    }
    for (columns, t) in texts.iter().filter(|_| by_index.is_none()) {
        let clause = agent_contains(&mut qb, columns, t);
        qb.push(&format!(" AND {clause}"));
    }
    if let Some(d) = &phone_number {
        // Stored numbers are digits with an optional leading `+`.
        let (bare, plus) = (qb.arg(Arg::Text(d.clone())), qb.arg(Arg::Text(format!("+{d}"))));
        qb.push(&format!(" AND a.phone IN ({bare}, {plus})"));
    }
    if let Some(active) = filter.active {
        let p = qb.arg(Arg::Bool(active));
        qb.push(&format!(" AND a.active = {p}"));
    }
    if let Some(s) = filter.skill_id {
        let p = qb.arg(Arg::Int(s));
        qb.push(&format!(" AND EXISTS (SELECT 1 FROM agent_skills x WHERE x.agent_id = a.id AND x.skill_id = {p})"));
    }
    if let Some(s) = filter.service_id {
        let p = qb.arg(Arg::Int(s));
        qb.push(&format!(" AND EXISTS (SELECT 1 FROM agent_services x WHERE x.agent_id = a.id AND x.service_id = {p})"));
    }
    if let Some(g) = filter.group_id {
        let p = qb.arg(Arg::Int(g));
        qb.push(&format!(" AND EXISTS (SELECT 1 FROM agent_groups x WHERE x.agent_id = a.id AND x.group_id = {p})"));
    }
    let lim = qb.arg(Arg::Int(fetch_limit(page.limit)));
    let off = qb.arg(Arg::Int(offset_of(page.offset)));
    // Each order is an index walk: ix_agents_tenant (id),
    // ix_agents_tenant_login_order (the stored loginId's bytes, id; LiveVox's
    // List Agents) and ix_agents_tenant_last_name (lower(last_name), id).
    let by_login = format!("a.login_id{BYTE_ORDER}, a.id");
    let by_login_desc = format!("a.login_id{BYTE_ORDER} DESC, a.id DESC");
    let order = match filter.sort {
        AgentSort::IdAsc => "a.id",
        AgentSort::IdDesc => "a.id DESC",
        AgentSort::LoginIdAsc => by_login.as_str(),
        AgentSort::LoginIdDesc => by_login_desc.as_str(),
        AgentSort::LastNameAsc => "lower(a.last_name), a.id",
        AgentSort::LastNameDesc => "lower(a.last_name) DESC, a.id DESC",
    };
    // Where the backend judges the text filters selective, the id order is
    // hidden from the planner (`a.id + 0`), so that it finds the matches
    // through the text indexes and sorts the few, instead of walking the
    // primary key and filtering every row (`text_filters_first`).
    let limited = match filter.sort {
        AgentSort::IdAsc if by_index.is_none() && text_filters_first(&texts) => "a.id + 0",
        AgentSort::IdDesc if by_index.is_none() && text_filters_first(&texts) => "a.id + 0 DESC",
        _ => order,
    };
    if by_index.is_some() {
        let inner = if filter.sort == AgentSort::IdDesc { "f.rowid DESC" } else { "f.rowid" };
        qb.push(&format!(" ORDER BY {inner} LIMIT {lim} OFFSET {off}) ORDER BY {order}"));
    } else if deep {
        qb.push(&format!(" ORDER BY {limited} LIMIT {lim} OFFSET {off}) ORDER BY {order}"));
    } else {
        qb.push(&format!(" ORDER BY {limited} LIMIT {lim} OFFSET {off}"));
    }
    qb
}

impl SqlStore {
    /// "ok" when the database is sound; otherwise what is wrong.
    pub(crate) async fn integrity_check(&self, sqlite_pragma: bool) -> Result<String> {
        let mut problems = Vec::new();
        if sqlite_pragma {
            let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check").fetch_all(&self.reader).await.map_err(db_err)?;
            if rows != ["ok"] {
                problems.extend(rows);
            }
            // The search index against the agents (FTS5 compares the two
            // when rank is 1), once it has taken in what is queued for it.
            let mut tx = begin_write(&self.writer).await?;
            before_commit(&mut tx).await?;
            if let Err(e) = sqlx::query("INSERT INTO agents_fts (agents_fts, rank) VALUES ('integrity-check', 1)").execute(&mut *tx).await {
                problems.push(format!("agent search index: {e}"));
            }
            commit(tx).await?;
        }
        // Links whose parent is gone (foreign keys are on, so none expected).
        for (what, sql) in [
            ("agent_skills", "SELECT COUNT(*) FROM agent_skills x WHERE NOT EXISTS (SELECT 1 FROM agents a WHERE a.id = x.agent_id) OR NOT EXISTS (SELECT 1 FROM skills s WHERE s.id = x.skill_id)"),
            ("agent_services", "SELECT COUNT(*) FROM agent_services x WHERE NOT EXISTS (SELECT 1 FROM agents a WHERE a.id = x.agent_id)"),
            ("agent_groups", "SELECT COUNT(*) FROM agent_groups x WHERE NOT EXISTS (SELECT 1 FROM agents a WHERE a.id = x.agent_id)"),
            ("api_keys", "SELECT COUNT(*) FROM api_keys k WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = k.user_id)"),
        ] {
            let n: i64 = sqlx::query_scalar(sql).fetch_one(&self.reader).await.map_err(db_err)?;
            if n > 0 {
                problems.push(format!("{n} orphaned rows in {what}"));
            }
        }
        Ok(if problems.is_empty() { "ok".into() } else { problems.join("; ") })
    }

    /// The database's plan for an agent search (benchmarks and tests show
    /// with it that substring search uses an index).
    pub(crate) async fn explain_agent_list(&self, tenant: Id, filter: &AgentFilter) -> Result<String> {
        let mut qb = agent_list_query(tenant, filter, PageRequest::first(100));
        qb.sql = format!("{}{}", EXPLAIN, qb.sql);
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        prepare_explain(&mut tx).await?;
        let rows = qb.build().fetch_all(&mut *tx).await.map_err(db_err)?;
        let mut out = String::new();
        for r in &rows {
            let line: String = explain_line(r)?;
            out.push_str(&line);
            out.push('\n');
        }
        tx.rollback().await.map_err(db_err)?;
        Ok(out)
    }
}

/// `(lower(a.c1) LIKE '%text%' OR …)`: a substring match of agents' columns
/// by scanning (or, on PostgreSQL, through the pg_trgm indexes).
fn agent_like(qb: &mut QueryBuilder, columns: &[&str], text: &str) -> String {
    let p = qb.arg(Arg::Text(contains_pattern(text)));
    let ors: Vec<String> = columns.iter().map(|c| format!("lower(a.{c}) LIKE lower({p}) ESCAPE '\\'")).collect();
    format!("({})", ors.join(" OR "))
}

struct QueryBuilder {
    sql: String,
    args: Vec<Arg>,
}

impl QueryBuilder {
    fn new(sql: &str) -> Self {
        QueryBuilder { sql: sql.to_string(), args: Vec::new() }
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

// Agents and their assignments: SQL, decoders, the shared-path writes,
// lists and searches (with the name index), the cache preload, and
// `AgentStore`. SQLite's hot path for the same writes is `sqlite/direct.rs`.

// Column lists, as macros so that `concat!` can build `&'static str` queries.
macro_rules! agent_cols {
    () => {
        "id, tenant_id, login_id, first_name, last_name, display_name, email, phone, wrap_up_time, \
         home_agent, active, locked, failed_logins, last_login, last_login_ip, password_last_modified, \
         (password_hash IS NOT NULL) AS has_password, attributes, created_at, updated_at, version, \
         external_id, employee_number, department, manager"
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
        external_id: col(r, "external_id")?,
        employee_number: col(r, "employee_number")?,
        department: col(r, "department")?,
        manager: col(r, "manager")?,
        attributes: from_json(&attributes, "agent attributes")?,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
        version: col(r, "version")?,
    })
}

// ---- agents -------------------------------------------------------------------

const AGENT_SQL: &str = concat!("SELECT ", agent_cols!(), " FROM agents WHERE tenant_id = $1 AND id = $2");

// In primary-key order: index range scans, nothing to sort.
const AGENT_SKILLS_SQL: &str = "SELECT skill_id, proficiency FROM agent_skills WHERE agent_id = $1 ORDER BY skill_id";

const AGENT_SERVICES_SQL: &str = "SELECT service_id FROM agent_services WHERE agent_id = $1 ORDER BY service_id";

const AGENT_GROUPS_SQL: &str = "SELECT group_id, receive_call FROM agent_groups WHERE agent_id = $1 ORDER BY group_id";

async fn find_agent(c: &mut DbConn, tenant: Id, id: Id) -> Result<Option<Agent>> {
    let row = sqlx::query(AGENT_SQL).bind(tenant).bind(id).fetch_optional(&mut *c).await.map_err(db_err)?;
    row.as_ref().map(agent_of).transpose()
}

async fn agent_or_404(c: &mut DbConn, tenant: Id, id: Id) -> Result<Agent> {
    find_agent(c, tenant, id).await?.ok_or_else(|| Error::not_found(Entity::Agent, id))
}

async fn agent_detail(c: &mut DbConn, agent: Agent) -> Result<AgentDetail> {
    let rows = sqlx::query(AGENT_SKILLS_SQL).bind(agent.id).fetch_all(&mut *c).await.map_err(db_err)?;
    let skills = rows
        .iter()
        .map(|r| Ok(SkillAssignment { skill_id: col(r, "skill_id")?, proficiency: col(r, "proficiency")? }))
        .collect::<Result<Vec<_>>>()?;
    let service_ids: Vec<Id> = sqlx::query_scalar(AGENT_SERVICES_SQL).bind(agent.id).fetch_all(&mut *c).await.map_err(db_err)?;
    let rows = sqlx::query(AGENT_GROUPS_SQL).bind(agent.id).fetch_all(&mut *c).await.map_err(db_err)?;
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
fn agent_detail_from(
    agent: Agent,
    skill_list: Option<String>,
    service_list: Option<String>,
    group_list: Option<String>,
) -> Result<AgentDetail> {
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

const INSERT_AGENT_SQL: &str = "INSERT INTO agents (tenant_id, login_id, first_name, last_name, display_name, email, phone, wrap_up_time, \
     home_agent, active, locked, failed_logins, last_login, last_login_ip, password_last_modified, password_hash, \
     attributes, created_at, updated_at, version, external_id, employee_number, department, manager) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, NULL, NULL, $12, $13, $14, $15, $15, 1, $16, $17, $18, $19) RETURNING id";

const WRITE_AGENT_SQL: &str =
    "UPDATE agents SET login_id = $1, first_name = $2, last_name = $3, display_name = $4, email = $5, phone = $6, \
     wrap_up_time = $7, home_agent = $8, active = $9, locked = $10, failed_logins = $11, last_login = $12, \
     last_login_ip = $13, password_last_modified = $14, attributes = $15, updated_at = $16, version = $17, \
     external_id = $18, employee_number = $19, department = $20, manager = $21 \
     WHERE id = $22 AND version = $23";

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
        .bind(a.external_id.as_deref())
        .bind(a.employee_number.as_deref())
        .bind(a.department.as_deref())
        .bind(a.manager.as_deref())
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
    let done = sqlx::query(TOUCH_AGENT_SQL).bind(now).bind(id).bind(read_version).execute(&mut *c).await.map_err(db_err)?.rows_affected();
    expect_one(done, Entity::Agent, id, read_version)
}

/// Finishes an assignment change: version bump, list mark, audit; returns the new detail.
async fn finish_agent_change(c: &mut DbConn, ctx: &WriteCtx, before: &AgentDetail) -> Result<AgentDetail> {
    touch_agent(c, before.agent.id, before.agent.version, ctx.now).await?;
    record_agent_change(c, ctx, before).await
}

/// The end of every agent update whose row was already written (its version
/// moved): the list mark, the agent as it is now, its audit event.
async fn record_agent_change(c: &mut DbConn, ctx: &WriteCtx, before: &AgentDetail) -> Result<AgentDetail> {
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
    let found: Option<i64> = sqlx::query_scalar(SKILL_EXISTS_SQL).bind(tenant).bind(id).fetch_optional(&mut *c).await.map_err(db_err)?;
    Ok(found.is_some())
}

async fn group_exists(c: &mut DbConn, tenant: Id, id: Id) -> Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(GROUP_EXISTS_SQL).bind(tenant).bind(id).fetch_optional(&mut *c).await.map_err(db_err)?;
    Ok(found.is_some())
}

/// That every group of `groups` is one of the tenant's, in one statement for
/// the whole list; else `unknown` for the first that is not.
async fn ensure_groups_exist(c: &mut DbConn, tenant: Id, groups: &[GroupMembership]) -> Result<()> {
    if groups.is_empty() {
        return Ok(());
    }
    let rows = known_groups_query(tenant, groups).build().fetch_all(&mut *c).await.map_err(db_err)?;
    let known = rows.iter().map(|r| col(r, "id")).collect::<Result<std::collections::HashSet<Id>>>()?;
    first_unknown_group(groups, &known)
}

/// Which of `groups` exist in the tenant: one statement (both write paths).
fn known_groups_query(tenant: Id, groups: &[GroupMembership]) -> QueryBuilder {
    let mut qb = QueryBuilder::for_tenant("SELECT id FROM agent_group_defs WHERE tenant_id = ", tenant);
    qb.push(" AND id IN ");
    qb.push_ids(&groups.iter().map(|g| g.group_id).collect::<Vec<_>>());
    qb
}

/// The error for the first of `groups` (in the order given) not `known`.
fn first_unknown_group(groups: &[GroupMembership], known: &std::collections::HashSet<Id>) -> Result<()> {
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
    sqlx::query(UPSERT_AGENT_SKILL_SQL).bind(agent).bind(skill).bind(proficiency).execute(&mut *c).await.map_err(db_err)?;
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
    sqlx::query(UPSERT_AGENT_GROUP_SQL).bind(agent).bind(group).bind(receive_call).execute(&mut *c).await.map_err(db_err)?;
    Ok(())
}

async fn add_password_history(c: &mut DbConn, agent: Id, hash: &str, now: Millis) -> Result<()> {
    sqlx::query(ADD_PASSWORD_HISTORY_SQL).bind(agent).bind(hash).bind(now).execute(&mut *c).await.map_err(db_err)?;
    Ok(())
}

/// Inserts an agent with its password history and assignments: the one
/// INSERT of an agent, for every surface and the importer. The references
/// (skills, services, groups) must have been checked in this transaction.
async fn insert_agent(c: &mut DbConn, ctx: &WriteCtx, a: &AgentRecord) -> Result<Id> {
    let id: Id = sqlx::query_scalar(INSERT_AGENT_SQL)
        .bind(ctx.tenant_id)
        .bind(a.login_id.as_str())
        .bind(a.first_name.as_str())
        .bind(a.last_name.as_str())
        .bind(a.display_name.as_deref())
        .bind(a.email.as_deref())
        .bind(a.phone.as_str())
        .bind(a.wrap_up_time)
        .bind(a.home_agent)
        .bind(a.active)
        .bind(false)
        .bind(a.password_hash.as_ref().map(|_| ctx.now))
        .bind(a.password_hash.as_deref())
        .bind(to_json(&a.attributes)?)
        .bind(ctx.now)
        .bind(profile_text(&a.profile.external_id))
        .bind(profile_text(&a.profile.employee_number))
        .bind(profile_text(&a.profile.department))
        .bind(profile_text(&a.profile.manager))
        .fetch_one(&mut *c)
        .await
        .map_err(|e| {
            unique_err(e, &[Unique { index: "ux_agents_login_id", entity: Entity::Agent, field: "loginId", value: &a.login_id }])
        })?;
    if let Some(h) = &a.password_hash {
        add_password_history(c, id, h, ctx.now).await?;
    }
    for s in &a.skills {
        upsert_agent_skill(c, id, s.skill_id, s.proficiency).await?;
    }
    for &sid in &a.service_ids {
        insert_agent_service(c, id, sid).await?;
    }
    upsert_agent_groups(c, id, &a.groups).await?;
    Ok(id)
}

/// A profile field as `insert_agent` stores it: unset, cleared and empty alike are NULL.
fn profile_text(v: &Option<Option<String>>) -> Option<&str> {
    v.as_ref().and_then(|x| x.as_deref()).filter(|x| !x.is_empty())
}

/// The agent `insert_agent` stored, as a read would return it (for callers
/// that need not read it back).
fn inserted_agent(id: Id, ctx: &WriteCtx, a: AgentRecord) -> AgentDetail {
    AgentDetail {
        agent: Agent {
            id,
            tenant_id: ctx.tenant_id,
            login_id: a.login_id,
            first_name: a.first_name,
            last_name: a.last_name,
            display_name: a.display_name,
            email: a.email,
            phone: a.phone,
            wrap_up_time: a.wrap_up_time,
            home_agent: a.home_agent,
            active: a.active,
            locked: false,
            failed_logins: 0,
            last_login: None,
            last_login_ip: None,
            password_last_modified: a.password_hash.as_ref().map(|_| ctx.now),
            has_password: a.password_hash.is_some(),
            external_id: profile_text(&a.profile.external_id).map(str::to_owned),
            employee_number: profile_text(&a.profile.employee_number).map(str::to_owned),
            department: profile_text(&a.profile.department).map(str::to_owned),
            manager: profile_text(&a.profile.manager).map(str::to_owned),
            attributes: a.attributes,
            created_at: ctx.now,
            updated_at: ctx.now,
            version: 1,
        },
        skills: a.skills,
        service_ids: a.service_ids,
        groups: a.groups,
    }
}

/// Applies field changes to an agent read in this transaction (`before`):
/// the one UPDATE of an agent's own columns, with its password and history,
/// for every surface and the importer. Returns the agent as written.
async fn change_agent(c: &mut DbConn, ctx: &WriteCtx, before: &Agent, changes: &AgentChanges) -> Result<Agent> {
    let mut a = before.clone();
    changes.apply(&mut a, ctx.now);
    a.updated_at = ctx.now;
    a.version = before.version + 1;
    write_agent(c, &a, before.version).await?;
    if let Some(h) = &changes.password_hash {
        sqlx::query(SET_PASSWORD_SQL).bind(h.as_str()).bind(a.id).execute(&mut *c).await.map_err(db_err)?;
        add_password_history(c, a.id, h, ctx.now).await?;
    }
    Ok(a)
}

/// Builds a query whose *shape* varies (which filters apply); every value is
/// bound as a parameter, never spliced into the text.
/// The agent list query: tenant, keyset/offset paging and filters.
fn agent_list_query(tenant: Id, filter: &AgentFilter, page: PageRequest, only: &[Id]) -> QueryBuilder {
    use switchboard_domain::AgentSort;
    let text = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    const ALL_TEXT: &[&str] = &["login_id", "first_name", "last_name", "display_name", "email", "phone"];
    let mut texts: Vec<(&[&str], String)> = Vec::new();
    if let Some(t) = text(&filter.q) {
        texts.push((ALL_TEXT, t));
    }
    for (value, column) in
        [(&filter.login_id_contains, &["login_id"]), (&filter.last_name_contains, &["last_name"]), (&filter.phone_contains, &["phone"])]
    {
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
    let by_index = if by_index { This::text_index_match(&mut qb, &texts) } else { None };
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
    if !only.is_empty() {
        // Among these agents only (the search index's pending ones).
        qb.push(" AND a.id IN ");
        qb.push_ids(only);
    }
    for (columns, t) in texts.iter().filter(|_| by_index.is_none()) {
        let clause = This::agent_contains(&mut qb, columns, t);
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
    let by_login = format!("a.login_id{}, a.id", This::BYTE_ORDER);
    let by_login_desc = format!("a.login_id{} DESC, a.id DESC", This::BYTE_ORDER);
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
        AgentSort::IdAsc if by_index.is_none() && This::text_filters_first(&texts) => "a.id + 0",
        AgentSort::IdDesc if by_index.is_none() && This::text_filters_first(&texts) => "a.id + 0 DESC",
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
            let mut tx = This::begin_write(&self.writer).await?;
            This::before_commit(&mut tx).await?;
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
        let mut qb = agent_list_query(tenant, filter, PageRequest::first(100), &[]);
        qb.sql = format!("{}{}", This::EXPLAIN, qb.sql);
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        This::prepare_explain(&mut tx).await?;
        let rows = qb.build().fetch_all(&mut *tx).await.map_err(db_err)?;
        let mut out = String::new();
        for r in &rows {
            let line: String = This::explain_line(r)?;
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

/// What an agent update changes for the caches: its row (the search index
/// re-reads it).
fn agent_change(id: Id, _: &AgentChanges) -> crate::cache::Change {
    crate::cache::Change::Agent(id)
}

/// The id of the tenant's object named `name` (case-insensitive) by `sql`
/// (`$1` tenant, `$2` name); an unknown name is an invalid reference in `field`.
async fn id_by_name(c: &mut DbConn, sql: &'static str, tenant: Id, field: &str, entity: Entity, name: &str) -> Result<Id> {
    let id: Option<Id> = sqlx::query_scalar(sql).bind(tenant).bind(name).fetch_optional(&mut *c).await.map_err(db_err)?;
    id.ok_or_else(|| switchboard_domain::unknown(field, entity, name))
}

/// A group as audited by SCIM's writes: with its `externalId`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupAudit<'a> {
    #[serde(flatten)]
    named: &'a Named,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<&'a str>,
}

async fn group_external_id(c: &mut DbConn, group: Id) -> Result<Option<String>> {
    sqlx::query_scalar("SELECT external_id FROM agent_group_defs WHERE id = $1").bind(group).fetch_one(&mut *c).await.map_err(db_err)
}

/// A group's members changed as `c` says (add, then remove; or set whole),
/// each agent whose membership changes versioned and audited (SCIM Groups).
/// Sets a group's members; returns the agents added or removed.
async fn set_group_members(tx: &mut DbConn, ctx: &WriteCtx, group: Id, c: &switchboard_domain::GroupChange) -> Result<Vec<Id>> {
    let current: Vec<Id> = sqlx::query_scalar("SELECT agent_id FROM agent_groups WHERE group_id = $1 ORDER BY agent_id")
        .bind(group)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
    let mut target: std::collections::BTreeSet<Id> = match &c.set_members {
        Some(m) => m.iter().copied().collect(),
        None => current.iter().copied().collect(),
    };
    target.extend(c.add_members.iter().copied());
    for r in &c.remove_members {
        target.remove(r);
    }
    let current: std::collections::BTreeSet<Id> = current.into_iter().collect();
    for &agent in target.difference(&current) {
        let before_a = match agent_detail_or_404(&mut *tx, ctx.tenant_id, agent).await {
            Err(Error::NotFound { .. }) => return Err(switchboard_domain::unknown("members", Entity::Agent, agent)),
            r => r?,
        };
        upsert_agent_group(&mut *tx, agent, group, true).await?;
        finish_agent_change(&mut *tx, ctx, &before_a).await?;
    }
    for &agent in current.difference(&target) {
        let before_a = agent_detail_or_404(&mut *tx, ctx.tenant_id, agent).await?;
        sqlx::query("DELETE FROM agent_groups WHERE agent_id = $1 AND group_id = $2")
            .bind(agent)
            .bind(group)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        finish_agent_change(&mut *tx, ctx, &before_a).await?;
    }
    Ok(target.symmetric_difference(&current).copied().collect())
}

const AGENT_PRELOAD_SQL: &str = concat!(agent_detail_select!(), " WHERE id > $1 ORDER BY id LIMIT $2");

/// Where the preload and the index build read their batches from: one
/// connection held throughout on SQLite (`Backend::BULK_READS_ON_ONE_CONNECTION`):
/// sqlx's SQLite rows copy their values with SQLite's allocator (glibc's
/// `malloc`) on the connection's worker thread, glibc keeps an arena per
/// thread at its high-water mark, and the pool hands its connections out in
/// turn, so batches read through all of them left one batch's worth in each
/// of eight arenas. Elsewhere the pool, a connection per batch.
enum BulkReads {
    One(sqlx::pool::PoolConnection<Db>),
    Pool(DbPool),
}

impl BulkReads {
    async fn open(pool: &DbPool) -> Result<BulkReads> {
        // Not with a pool of one or two (`--db-max-readers`): holding one
        // for the whole preload would leave the other reads waiting.
        Ok(if This::BULK_READS_ON_ONE_CONNECTION && pool.options().get_max_connections() > 2 {
            BulkReads::One(pool.acquire().await.map_err(db_err)?)
        } else {
            BulkReads::Pool(pool.clone())
        })
    }

    /// The rows of `sql` with its two parameters.
    async fn fetch(&mut self, sql: &'static str, a: i64, b: i64) -> Result<Vec<DbRow>> {
        let q = sqlx::query(sql).bind(a).bind(b);
        match self {
            BulkReads::One(c) => q.fetch_all(&mut **c).await,
            BulkReads::Pool(p) => q.fetch_all(&*p).await,
        }
        .map_err(db_err)
    }
}

/// Fills the agent cache at start, in id order, in batches, while the server
/// already serves (reads that miss go to the database meanwhile): a cache
/// that fills only as agents are read leaves most reads of a large directory
/// to the database for a long time.
async fn preload_agents(pool: DbPool, cache: std::sync::Arc<crate::cache::ReadCache>, entries: usize) {
    // Small batches: sqlx's SQLite rows copy their values with the C
    // library's allocator, whose arenas keep their high-water mark (see
    // `build_search`).
    const BATCH: i64 = 1_000;
    let started = std::time::Instant::now();
    // The cache serves, and keeps, nothing until it is live (PostgreSQL:
    // once its listener hears its own heartbeat).
    while !cache.is_live() {
        if started.elapsed() > std::time::Duration::from_secs(60) {
            tracing::warn!("agent cache: not preloaded (no change listener)");
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut reads = match BulkReads::open(&pool).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "agent cache: preload stopped");
            return;
        }
    };
    let (mut after, mut kept, mut seen) = (0i64, 0usize, 0usize);
    while seen < entries {
        let generations = cache.agent_generations();
        let rows = match reads.fetch(AGENT_PRELOAD_SQL, after, BATCH).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, kept, "agent cache: preload stopped");
                return;
            }
        };
        let Some(last) = rows.last() else { break };
        after = col(last, "id").unwrap_or(i64::MAX);
        seen += rows.len();
        let batch: Vec<AgentDetail> = rows.iter().filter_map(|r| agent_detail_of(r).ok()).collect();
        kept += cache.preload_agents(&generations, &batch);
    }
    let megabytes = cache.agent_bytes() as f64 / 1048576.0;
    tracing::info!(agents = kept, megabytes, seconds = started.elapsed().as_secs_f64(), "agent cache preloaded");
}

// ---- the search index (cache/search.rs) -------------------------------------------------

impl SqlStore {
    /// A list or search answered by the search index (only the page's rows
    /// are read, from the agent cache or by id; pending agents from the
    /// database with the whole filter), or None where the database answers:
    /// the index off or not ready, a last-name order, texts without a
    /// trigram, too many agents pending, an offset too deep.
    async fn list_agents_indexed(&self, tenant: Id, filter: &AgentFilter, page: PageRequest) -> Result<Option<Page<Agent>>> {
        let Some(cache) = self.fresh_cache()?.filter(|c| c.is_live()) else { return Ok(None) };
        let Some(compiled) = crate::cache::Compiled::of(filter) else { return Ok(None) };
        // The whole list in id order from its start or after a cursor is one
        // short walk of the primary key: the database answers it, and so sees
        // at once what another process just wrote (the index hears of that a
        // moment later), as a client paging through every agent expects.
        if compiled.is_unfiltered() && matches!(compiled.order, crate::cache::search::Order::Id { .. }) && page.offset == 0 {
            return Ok(None);
        }
        let exact = compiled.texts.is_empty();
        let skip = usize::try_from(page.offset).unwrap_or(usize::MAX);
        let take = page.limit as usize + 1;
        let need = skip.saturating_add(take);
        if !exact && need > 20_000 {
            return Ok(None);
        }
        let mut ask = crate::cache::Ask {
            tenant,
            filter: &compiled,
            after: page.after,
            skip: if exact { page.offset } else { 0 },
            resume: None,
            known_pending: &[],
            want: if exact { take } else { need.min(1_000) },
        };
        let Some(first) = cache.search.ask(&ask) else { return Ok(None) };
        let skipped = first.skipped;
        // Changed since the index last read them: the database decides with
        // the whole filter, merged in order with the index's matches below.
        let pending =
            if first.pending.is_empty() { Vec::new() } else { self.agents_matching(tenant, filter, page, &first.pending).await? };
        let known_pending = first.pending.clone();
        ask.known_pending = &known_pending;
        let mut found: Vec<Agent> = Vec::new();
        let mut batch = first;
        loop {
            let rows = self.agent_rows(cache, tenant, &batch.ids).await?;
            // Without texts the index is exact: an agent deleted since leaves
            // its page one short, as if read a moment earlier.
            found.extend(rows.into_iter().filter(|a| exact || compiled.matches(a)));
            let want_more = !exact && !batch.exhausted && found.len() < need;
            let (Some(resume), true) = (batch.resume.take(), want_more) else { break };
            // Most candidates match: ask for what is missing and a little more.
            ask.resume = Some(resume);
            ask.want = (need - found.len()).saturating_add(16).min(1_000);
            match cache.search.ask(&ask) {
                Some(next) => batch = next,
                // Invalidated meanwhile: the database answers the whole page.
                None => return Ok(None),
            }
        }
        if !pending.is_empty() {
            found.extend(pending);
            compiled.sort(&mut found);
        }
        let items = found.into_iter().skip(if skipped { 0 } else { skip }).take(take).collect();
        Ok(Some(page_of(items, page.limit)))
    }

    /// These agents' rows in the order given, from the agent cache where it
    /// has them, read by id otherwise; an id without a row is left out.
    async fn agent_rows(&self, cache: &crate::cache::ReadCache, tenant: Id, ids: &[Id]) -> Result<Vec<Agent>> {
        // In place, in order: through a map, each row was moved twice more.
        let mut rows: Vec<Option<Agent>> = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        for &id in ids {
            match cache.agent_row(id) {
                Some(a) if a.tenant_id == tenant => rows.push(Some(a)),
                Some(_) => rows.push(None),
                None => {
                    missing.push(id);
                    rows.push(None);
                }
            }
        }
        if !missing.is_empty() {
            let mut read: std::collections::HashMap<Id, Agent> =
                self.agents_by_ids(tenant, &missing).await?.into_iter().map(|a| (a.id, a)).collect();
            for (row, id) in rows.iter_mut().zip(ids) {
                if row.is_none() {
                    *row = read.remove(id);
                }
            }
        }
        Ok(rows.into_iter().flatten().collect())
    }

    /// A tenant's agents with these ids, in no particular order.
    async fn agents_by_ids(&self, tenant: Id, ids: &[Id]) -> Result<Vec<Agent>> {
        let mut qb = QueryBuilder::for_tenant(concat!("SELECT ", agent_cols!(), " FROM agents a WHERE a.tenant_id = "), tenant);
        qb.push(" AND a.id IN ");
        qb.push_ids(ids);
        if let Some(d) = &self.direct {
            return d.list_agents(qb.sql, &qb.args).await;
        }
        let rows = qb.build().fetch_all(&self.reader).await.map_err(db_err)?;
        rows.iter().map(agent_of).collect()
    }

    /// Those of these agents (at most `MAX_PENDING`) that the filter matches
    /// in the database, as the list query itself decides (keyset bound
    /// included, no offset).
    async fn agents_matching(&self, tenant: Id, filter: &AgentFilter, page: PageRequest, ids: &[Id]) -> Result<Vec<Agent>> {
        let all = PageRequest { after: page.after, offset: 0, limit: 1_000 };
        let qb = agent_list_query(tenant, filter, all, ids);
        if let Some(d) = &self.direct {
            return d.list_agents(qb.sql, &qb.args).await;
        }
        let rows = qb.build().fetch_all(&self.reader).await.map_err(db_err)?;
        rows.iter().map(agent_of).collect()
    }
}

const SEARCH_ROWS_SQL: &str =
    "SELECT id, tenant_id, login_id, first_name, last_name, display_name, email, phone, active, version FROM agents WHERE id > $1 ORDER BY id LIMIT $2";
const SEARCH_ASSIGNMENTS_SQL: [&str; 3] = [
    "SELECT agent_id, skill_id FROM agent_skills WHERE agent_id > $1 AND agent_id <= $2",
    "SELECT agent_id, service_id FROM agent_services WHERE agent_id > $1 AND agent_id <= $2",
    "SELECT agent_id, group_id FROM agent_groups WHERE agent_id > $1 AND agent_id <= $2",
];

fn search_row_of(r: &DbRow) -> Result<crate::cache::Row> {
    Ok(crate::cache::Row {
        id: col(r, "id")?,
        tenant: col(r, "tenant_id")?,
        texts: [
            Some(col(r, "login_id")?),
            Some(col(r, "first_name")?),
            Some(col(r, "last_name")?),
            col(r, "display_name")?,
            col(r, "email")?,
            col(r, "phone")?,
        ],
        active: col(r, "active")?,
        version: col(r, "version")?,
        ..Default::default()
    })
}

/// Adds each assignment row (agent id, object id) to its agent's row.
fn add_assignments(rows: &mut std::collections::HashMap<Id, crate::cache::Row>, kind: usize, found: &[DbRow]) -> Result<()> {
    for r in found {
        let (agent, object): (Id, Id) = (r.try_get(0).map_err(db_err)?, r.try_get(1).map_err(db_err)?);
        if let Some(row) = rows.get_mut(&agent) {
            match kind {
                0 => row.skills.push(object),
                1 => row.services.push(object),
                _ => row.groups.push(object),
            }
        }
    }
    Ok(())
}

/// Keeps the search index: builds it whenever it is not ready while the
/// cache is live, and re-reads the rows of pending agents (`cache/search.rs`).
async fn maintain_search(pool: DbPool, cache: std::sync::Arc<crate::cache::ReadCache>) {
    use std::time::Duration;
    let search = &cache.search;
    let mut gather = Duration::from_millis(1);
    loop {
        search.wake.notified().await;
        loop {
            if !search.is_ready() && cache.is_live() {
                match build_search(&pool, &cache).await {
                    Ok(true) => {}
                    // Invalidated while building: again.
                    Ok(false) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "search index: build failed; searches read the database meanwhile");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                }
            }
            // Writes come in bursts: a millisecond gathers them in one read;
            // under a steady stream of writes, 10 ms do (the re-reads of a
            // pass are four statements whatever its size: gathered thinly,
            // they cost the writes a third of their rate at 6,000/s).
            tokio::time::sleep(gather).await;
            let marks = search.pending_marks();
            if marks.is_empty() {
                break;
            }
            gather = if marks.len() > 1 { Duration::from_millis(10) } else { Duration::from_millis(1) };
            let ids: Vec<Id> = marks.iter().map(|(id, _)| *id).collect();
            match search_rows(&pool, &ids).await {
                Ok(rows) => search.reconcile(&marks, &rows),
                Err(e) => {
                    tracing::warn!(error = %e, "search index: cannot re-read changed agents; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
}

/// Reads every agent into a new index; false if it was invalidated
/// meanwhile (or cannot serve).
async fn build_search(pool: &DbPool, cache: &crate::cache::ReadCache) -> Result<bool> {
    // Batches of 2,000: sqlx's SQLite rows hold copies of their values made
    // by SQLite's allocator (the C library's, one arena per sqlx worker
    // thread), which keeps its high-water mark resident: 20,000-row batches
    // left ~20 MB in each reader's arena.
    const BATCH: i64 = 2_000;
    let started = std::time::Instant::now();
    let seen = cache.search.begin_build();
    // One thread of its own turns the rows into the index: its allocator
    // heap (mimalloc's are per thread) then holds the build alone, freed
    // there (`Search::relocate`), instead of among the agent cache's or the
    // requests' blocks on the async workers.
    let (rows_tx, mut rows_rx) = tokio::sync::mpsc::channel::<[Vec<DbRow>; 4]>(2);
    let (built_tx, built_rx) = tokio::sync::oneshot::channel::<Result<crate::cache::Search>>();
    std::thread::Builder::new()
        .name("search-build".into())
        .spawn(move || {
            let mut built = crate::cache::Search::default();
            let mut add = |[found, skills, services, groups]: [Vec<DbRow>; 4]| -> Result<()> {
                let mut rows =
                    found.iter().map(|r| search_row_of(r).map(|row| (row.id, row))).collect::<Result<std::collections::HashMap<_, _>>>()?;
                drop(found);
                for (kind, found) in [skills, services, groups].iter().enumerate() {
                    add_assignments(&mut rows, kind, found)?;
                }
                rows.values().for_each(|r| built.add(r));
                Ok(())
            };
            let mut outcome = Ok(());
            while let Some(batch) = rows_rx.blocking_recv() {
                if outcome.is_ok() {
                    outcome = add(batch);
                }
            }
            // Finished only if the reads were (else the receiver is gone).
            if built_tx.is_closed() {
                return;
            }
            let _ = built_tx.send(outcome.map(|()| {
                built.finish();
                built
            }));
            // What the build freed is given back to the system when this
            // thread ends, if mimalloc's purge delays (10 ms for pages,
            // 100 ms for the buffer of `relocate`) have run out by then:
            // an idle thread never purges otherwise.
            std::thread::sleep(std::time::Duration::from_millis(250));
        })
        .map_err(|e| Error::Storage(format!("search index build: cannot start its thread: {e}")))?;
    let stopped = || Error::Storage("search index build: its thread stopped".into());
    let mut reads = BulkReads::open(pool).await?;
    let mut after = 0i64;
    loop {
        let found = reads.fetch(SEARCH_ROWS_SQL, after, BATCH).await?;
        let Some(last) = found.last() else { break };
        let last: Id = col(last, "id")?;
        let mut batch: [Vec<DbRow>; 4] = [found, Vec::new(), Vec::new(), Vec::new()];
        for (kind, sql) in SEARCH_ASSIGNMENTS_SQL.iter().enumerate() {
            batch[kind + 1] = reads.fetch(sql, after, last).await?;
        }
        after = last;
        rows_tx.send(batch).await.map_err(|_| stopped())?;
    }
    drop(rows_tx);
    let built = built_rx.await.map_err(|_| stopped())??;
    let parts = built.bytes();
    let (agents, bytes) = (built.agents(), parts.iter().map(|(_, b)| b).sum::<usize>());
    let ready = cache.search.finish_build(built, seen);
    if ready {
        let memory = parts.iter().map(|(what, b)| format!("{what} {:.1} MB", *b as f64 / 1048576.0)).collect::<Vec<_>>().join(", ");
        tracing::info!(agents, megabytes = bytes >> 20, memory, seconds = started.elapsed().as_secs_f64(), "search index built");
    }
    Ok(ready)
}

/// Pending agents as they are now; an id absent is an agent gone.
async fn search_rows(pool: &DbPool, ids: &[Id]) -> Result<std::collections::HashMap<Id, crate::cache::Row>> {
    let mut out = std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        let mut qb = QueryBuilder::new(
            "SELECT id, tenant_id, login_id, first_name, last_name, display_name, email, phone, active, version FROM agents WHERE id IN ",
        );
        qb.push_ids(chunk);
        let mut rows = qb
            .build()
            .fetch_all(pool)
            .await
            .map_err(db_err)?
            .iter()
            .map(|r| search_row_of(r).map(|row| (row.id, row)))
            .collect::<Result<std::collections::HashMap<_, _>>>()?;
        for (kind, table) in [
            (0, "SELECT agent_id, skill_id FROM agent_skills"),
            (1, "SELECT agent_id, service_id FROM agent_services"),
            (2, "SELECT agent_id, group_id FROM agent_groups"),
        ] {
            let mut qb = QueryBuilder::new(&format!("{table} WHERE agent_id IN "));
            qb.push_ids(chunk);
            let found = qb.build().fetch_all(pool).await.map_err(db_err)?;
            add_assignments(&mut rows, kind, &found)?;
        }
        out.extend(rows);
    }
    Ok(out)
}

#[async_trait::async_trait]
impl AgentStore for SqlStore {
    async fn create_agent(&self, ctx: &WriteCtx, a: AgentRecord) -> Result<AgentDetail> {
        let tenant = ctx.tenant_id;
        let mut tx = self.write().await?;
        for s in &a.skills {
            if !skill_exists(&mut tx, tenant, s.skill_id).await? {
                return Err(switchboard_domain::unknown("skills", Entity::Skill, s.skill_id));
            }
        }
        for &sid in &a.service_ids {
            match service_acd(&mut tx, tenant, sid).await? {
                None => return Err(switchboard_domain::unknown("serviceIds", Entity::Service, sid)),
                Some(false) => return Err(Error::invalid("serviceIds", Rule::NotAcdService)),
                Some(true) => {}
            }
        }
        ensure_groups_exist(&mut tx, tenant, &a.groups).await?;
        let id = insert_agent(&mut tx, ctx, &a).await?;
        mark_list(&mut tx, tenant, Entity::Agent, id, ctx.now).await?;
        let detail = agent_detail_or_404(&mut tx, tenant, id).await?;
        audit_ctx(&mut tx, ctx, Entity::Agent, id, AuditAction::Create, none(), Some(&detail)).await?;
        commit(tx).await?;
        if let Some(c) = self.cache() {
            c.search.mark([id]);
        }
        Ok(detail)
    }

    async fn get_agent(&self, tenant: Id, id: Id) -> Result<AgentDetail> {
        let cache = self.fresh_cache()?;
        let ticket = match cache.map(|c| (c, c.agent(id))) {
            Some((_, Cached::Hit(a))) if a.agent.tenant_id == tenant => return Ok(a),
            Some((_, Cached::Hit(_))) => return Err(Error::not_found(Entity::Agent, id)),
            Some((c, Cached::Miss(t))) => Some((c, t)),
            Some((_, Cached::Off)) | None => None,
        };
        let a = match &self.direct {
            Some(d) => d.get_agent(tenant, id)?,
            // One statement: no transaction needed for a consistent answer.
            None => {
                let row = sqlx::query(AGENT_DETAIL_SQL)
                    .bind(tenant)
                    .bind(id)
                    .fetch_optional(&self.reader)
                    .await
                    .map_err(db_err)?
                    .ok_or_else(|| Error::not_found(Entity::Agent, id))?;
                agent_detail_of(&row)?
            }
        };
        if let Some((c, t)) = ticket {
            c.keep_agent(t, &a);
        }
        Ok(a)
    }

    async fn find_agent_by_login_id(&self, tenant: Id, login_id: &str) -> Result<AgentDetail> {
        refuse_nul(Entity::Agent, login_id)?;
        let mut tx = self.read().await?;
        let row = sqlx::query(concat!("SELECT ", agent_cols!(), " FROM agents WHERE tenant_id = $1 AND lower(login_id) = lower($2)"))
            .bind(tenant)
            .bind(login_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?
            .ok_or_else(|| Error::not_found(Entity::Agent, login_id))?;
        let d = agent_detail(&mut tx, agent_of(&row)?).await?;
        commit(tx).await?;
        Ok(d)
    }

    async fn list_agents(&self, tenant: Id, filter: &AgentFilter, page: PageRequest) -> Result<Page<Agent>> {
        let indexed = self.list_agents_indexed(tenant, filter, page).await?;
        if let Some(c) = self.cache() {
            c.search.count(indexed.is_some());
        }
        if let Some(found) = indexed {
            return Ok(found);
        }
        let qb = agent_list_query(tenant, filter, page, &[]);
        if let Some(d) = &self.direct {
            return Ok(page_of(d.list_agents(qb.sql, &qb.args).await?, page.limit));
        }
        let rows = qb.build().fetch_all(&self.reader).await.map_err(db_err)?;
        Ok(page_of(rows.iter().map(agent_of).collect::<Result<Vec<_>>>()?, page.limit))
    }

    async fn agent_list_info(&self, tenant: Id) -> Result<ListInfo> {
        let mut tx = self.read().await?;
        let i = list_info(&mut tx, tenant, Entity::Agent).await?;
        commit(tx).await?;
        Ok(i)
    }

    async fn agent_password_hashes(&self, tenant: Id, id: Id, n: usize) -> Result<Vec<String>> {
        let mut tx = self.read().await?;
        agent_or_404(&mut tx, tenant, id).await?;
        let hashes: Vec<String> =
            sqlx::query_scalar("SELECT hash FROM agent_password_history WHERE agent_id = $1 ORDER BY id DESC LIMIT $2")
                .bind(id)
                .bind(i64::try_from(n).unwrap_or(i64::MAX))
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;
        commit(tx).await?;
        Ok(hashes)
    }

    async fn update_agent(&self, ctx: &WriteCtx, id: Id, c: AgentChanges, expected_version: Option<i64>) -> Result<AgentDetail> {
        let mut forget = self.forgets(agent_change(id, &c));
        if let Some(d) = &self.direct {
            return Ok(forget.settled_with(d.update_agent(ctx, id, c, expected_version).await?));
        }
        let mut tx = self.write().await?;
        let before = agent_detail_or_404(&mut tx, ctx.tenant_id, id).await?;
        check_version(Entity::Agent, id, before.agent.version, expected_version)?;
        c.check_unchanged(&before)?;
        change_agent(&mut tx, ctx, &before.agent, &c).await?;
        let after = record_agent_change(&mut tx, ctx, &before).await?;
        commit(tx).await?;
        forget.settled(&before, &after);
        Ok(after)
    }

    async fn delete_agent(&self, ctx: &WriteCtx, id: Id, expected_version: Option<i64>) -> Result<()> {
        let _forget = self.forgets(crate::cache::Change::Agent(id));
        let mut tx = self.write().await?;
        let before = agent_detail_or_404(&mut tx, ctx.tenant_id, id).await?;
        check_version(Entity::Agent, id, before.agent.version, expected_version)?;
        for sql in [
            "DELETE FROM agent_skills WHERE agent_id = $1",
            "DELETE FROM agent_services WHERE agent_id = $1",
            "DELETE FROM agent_groups WHERE agent_id = $1",
            "DELETE FROM agent_password_history WHERE agent_id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await.map_err(db_err)?;
        }
        let done = sqlx::query("DELETE FROM agents WHERE id = $1 AND version = $2")
            .bind(id)
            .bind(before.agent.version)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        expect_one(done, Entity::Agent, id, before.agent.version)?;
        mark_list(&mut tx, ctx.tenant_id, Entity::Agent, id, ctx.now).await?;
        audit_ctx(&mut tx, ctx, Entity::Agent, id, AuditAction::Delete, Some(&before), none()).await?;
        commit(tx).await
    }

    async fn record_agent_login(&self, tenant: Id, id: Id, success: bool, ip: Option<&str>, lock_after: i64, now: Millis) -> Result<Agent> {
        let _forget = self.forgets(crate::cache::Change::LoginState(id));
        let mut tx = self.write_locking(Entity::Agent, id).await?;
        let before = agent_or_404(&mut tx, tenant, id).await?;
        if success && before.locked {
            // The caller refuses the login; a locked agent's record stays as it is.
            commit(tx).await?;
            return Ok(before);
        }
        let mut a = before.clone();
        if success {
            a.last_login = Some(now);
            a.last_login_ip = ip.map(str::to_string);
            a.failed_logins = 0;
        } else {
            a.failed_logins += 1;
            if a.failed_logins >= lock_after {
                a.locked = true;
            }
        }
        a.updated_at = now;
        a.version = before.version + 1;
        write_agent(&mut tx, &a, before.version).await?;
        mark_list(&mut tx, tenant, Entity::Agent, id, now).await?;
        if a.locked && !before.locked {
            let before_d = agent_detail(&mut tx, before).await?;
            let after_d = agent_detail(&mut tx, a.clone()).await?;
            let actor = Actor { user_id: None, api_key_id: None, label: "system:login".into() };
            let ctx = WriteCtx { tenant_id: tenant, actor, now };
            audit_ctx(&mut tx, &ctx, Entity::Agent, id, AuditAction::Update, Some(&before_d), Some(&after_d)).await?;
        }
        commit(tx).await?;
        Ok(a)
    }

    async fn assign_skill(&self, ctx: &WriteCtx, agent: Id, skill: Id, proficiency: i64) -> Result<AgentDetail> {
        let mut forget = self.forgets(crate::cache::Change::Agent(agent));
        if let Some(d) = &self.direct {
            return Ok(forget.settled_with(d.assign_skill(ctx, agent, skill, proficiency).await?));
        }
        let mut tx = self.write().await?;
        let before = agent_detail_or_404(&mut tx, ctx.tenant_id, agent).await?;
        if !skill_exists(&mut tx, ctx.tenant_id, skill).await? {
            return Err(Error::not_found(Entity::Skill, skill));
        }
        if before.skills.iter().any(|s| s.skill_id == skill && s.proficiency == proficiency) {
            commit(tx).await?;
            return Ok(before);
        }
        upsert_agent_skill(&mut tx, agent, skill, proficiency).await?;
        let after = finish_agent_change(&mut tx, ctx, &before).await?;
        commit(tx).await?;
        forget.settled(&before, &after);
        Ok(after)
    }

    async fn remove_skill(&self, ctx: &WriteCtx, agent: Id, skill: Id) -> Result<AgentDetail> {
        let mut forget = self.forgets(crate::cache::Change::Agent(agent));
        if let Some(d) = &self.direct {
            return Ok(forget.settled_with(d.remove_skill(ctx, agent, skill).await?));
        }
        let mut tx = self.write().await?;
        let before = agent_detail_or_404(&mut tx, ctx.tenant_id, agent).await?;
        if !skill_exists(&mut tx, ctx.tenant_id, skill).await? {
            return Err(Error::not_found(Entity::Skill, skill));
        }
        let n = sqlx::query(DELETE_AGENT_SKILL_SQL).bind(agent).bind(skill).execute(&mut *tx).await.map_err(db_err)?.rows_affected();
        let after = if n == 0 { before.clone() } else { finish_agent_change(&mut tx, ctx, &before).await? };
        commit(tx).await?;
        forget.settled(&before, &after);
        Ok(after)
    }

    async fn assign_service(&self, ctx: &WriteCtx, agent: Id, service: Id) -> Result<AgentDetail> {
        let mut forget = self.forgets(crate::cache::Change::Agent(agent));
        let mut tx = self.write().await?;
        let before = agent_detail_or_404(&mut tx, ctx.tenant_id, agent).await?;
        match service_acd(&mut tx, ctx.tenant_id, service).await? {
            None => return Err(Error::not_found(Entity::Service, service)),
            Some(false) => return Err(Error::invalid("serviceId", Rule::NotAcdService)),
            Some(true) => {}
        }
        if before.service_ids.contains(&service) {
            commit(tx).await?;
            return Ok(before);
        }
        insert_agent_service(&mut tx, agent, service).await?;
        let after = finish_agent_change(&mut tx, ctx, &before).await?;
        commit(tx).await?;
        forget.settled(&before, &after);
        Ok(after)
    }

    async fn remove_service(&self, ctx: &WriteCtx, agent: Id, service: Id) -> Result<AgentDetail> {
        let mut forget = self.forgets(crate::cache::Change::Agent(agent));
        let mut tx = self.write().await?;
        let before = agent_detail_or_404(&mut tx, ctx.tenant_id, agent).await?;
        if service_acd(&mut tx, ctx.tenant_id, service).await?.is_none() {
            return Err(Error::not_found(Entity::Service, service));
        }
        let n = sqlx::query("DELETE FROM agent_services WHERE agent_id = $1 AND service_id = $2")
            .bind(agent)
            .bind(service)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        let after = if n == 0 { before.clone() } else { finish_agent_change(&mut tx, ctx, &before).await? };
        commit(tx).await?;
        forget.settled(&before, &after);
        Ok(after)
    }

    async fn set_group_memberships(&self, ctx: &WriteCtx, agent: Id, groups: &[GroupMembership]) -> Result<AgentDetail> {
        let mut forget = self.forgets(crate::cache::Change::Agent(agent));
        if let Some(d) = &self.direct {
            return Ok(forget.settled_with(d.set_group_memberships(ctx, agent, groups).await?));
        }
        let mut tx = self.write().await?;
        let before = agent_detail_or_404(&mut tx, ctx.tenant_id, agent).await?;
        ensure_groups_exist(&mut tx, ctx.tenant_id, groups).await?;
        if groups.iter().all(|g| before.groups.contains(g)) {
            commit(tx).await?;
            return Ok(before);
        }
        let new: Vec<GroupMembership> = groups.iter().filter(|g| !before.groups.contains(g)).cloned().collect();
        upsert_agent_groups(&mut tx, agent, &new).await?;
        let after = finish_agent_change(&mut tx, ctx, &before).await?;
        commit(tx).await?;
        forget.settled(&before, &after);
        Ok(after)
    }

    async fn remove_group_membership(&self, ctx: &WriteCtx, agent: Id, group: Id) -> Result<AgentDetail> {
        let mut forget = self.forgets(crate::cache::Change::Agent(agent));
        let mut tx = self.write().await?;
        let before = agent_detail_or_404(&mut tx, ctx.tenant_id, agent).await?;
        if !group_exists(&mut tx, ctx.tenant_id, group).await? {
            return Err(Error::not_found(Entity::Group, group));
        }
        let n = sqlx::query("DELETE FROM agent_groups WHERE agent_id = $1 AND group_id = $2")
            .bind(agent)
            .bind(group)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        let after = if n == 0 { before.clone() } else { finish_agent_change(&mut tx, ctx, &before).await? };
        commit(tx).await?;
        forget.settled(&before, &after);
        Ok(after)
    }

    async fn update_agent_with_assignments(
        &self,
        ctx: &WriteCtx,
        id: Id,
        c: AgentChanges,
        a: &switchboard_domain::AgentAssignments,
        expected_version: Option<i64>,
    ) -> Result<AgentDetail> {
        let _forget = self.forgets(agent_change(id, &c));
        const SKILL_BY_NAME: &str = "SELECT id FROM skills WHERE tenant_id = $1 AND lower(name) = lower($2)";
        const GROUP_BY_NAME: &str = "SELECT id FROM agent_group_defs WHERE tenant_id = $1 AND lower(name) = lower($2)";
        let mut tx = self.write().await?;
        let before = agent_detail_or_404(&mut tx, ctx.tenant_id, id).await?;
        check_version(Entity::Agent, id, before.agent.version, expected_version)?;
        c.check_unchanged(&before)?;
        let mut add_skills = Vec::with_capacity(a.assign_skills.len());
        for (name, proficiency) in &a.assign_skills {
            add_skills.push((id_by_name(&mut tx, SKILL_BY_NAME, ctx.tenant_id, "assignSkills", Entity::Skill, name).await?, *proficiency));
        }
        let mut remove_skills = Vec::with_capacity(a.unassign_skills.len());
        for name in &a.unassign_skills {
            remove_skills.push(id_by_name(&mut tx, SKILL_BY_NAME, ctx.tenant_id, "unAssignSkills", Entity::Skill, name).await?);
        }
        let mut add_groups = Vec::with_capacity(a.assign_groups.len());
        for name in &a.assign_groups {
            add_groups.push(id_by_name(&mut tx, GROUP_BY_NAME, ctx.tenant_id, "assignAgentGroups", Entity::Group, name).await?);
        }
        let mut remove_groups = Vec::with_capacity(a.unassign_groups.len());
        for name in &a.unassign_groups {
            remove_groups.push(id_by_name(&mut tx, GROUP_BY_NAME, ctx.tenant_id, "unAssignAgentGroups", Entity::Group, name).await?);
        }
        change_agent(&mut tx, ctx, &before.agent, &c).await?;
        for skill in remove_skills {
            sqlx::query(DELETE_AGENT_SKILL_SQL).bind(id).bind(skill).execute(&mut *tx).await.map_err(db_err)?;
        }
        for (skill, proficiency) in add_skills {
            upsert_agent_skill(&mut tx, id, skill, proficiency).await?;
        }
        for group in remove_groups {
            sqlx::query("DELETE FROM agent_groups WHERE agent_id = $1 AND group_id = $2")
                .bind(id)
                .bind(group)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        for group in add_groups {
            // A membership that exists keeps its receiveCall.
            sqlx::query(
                "INSERT INTO agent_groups (agent_id, group_id, receive_call) VALUES ($1, $2, $3) \
                 ON CONFLICT (agent_id, group_id) DO NOTHING",
            )
            .bind(id)
            .bind(group)
            .bind(true)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        let after = record_agent_change(&mut tx, ctx, &before).await?;
        commit(tx).await?;
        Ok(after)
    }

    async fn replace_agent(
        &self,
        ctx: &WriteCtx,
        id: Id,
        c: AgentChanges,
        sets: &switchboard_domain::AssignmentSets,
        expected_version: Option<i64>,
    ) -> Result<AgentDetail> {
        let _forget = self.forgets(crate::cache::Change::Agent(id));
        let mut tx = self.write().await?;
        let before = agent_detail_or_404(&mut tx, ctx.tenant_id, id).await?;
        check_version(Entity::Agent, id, before.agent.version, expected_version)?;
        if let Some(skills) = &sets.skills {
            for s in skills {
                if !skill_exists(&mut tx, ctx.tenant_id, s.skill_id).await? {
                    return Err(switchboard_domain::unknown("skills", Entity::Skill, s.skill_id));
                }
            }
        }
        if let Some(services) = &sets.service_ids {
            for &sid in services {
                match service_acd(&mut tx, ctx.tenant_id, sid).await? {
                    None => return Err(switchboard_domain::unknown("services", Entity::Service, sid)),
                    Some(false) => return Err(Error::invalid("services", Rule::NotAcdService)),
                    Some(true) => {}
                }
            }
        }
        if let Some(groups) = &sets.groups {
            ensure_groups_exist(&mut tx, ctx.tenant_id, groups).await?;
        }
        // Nothing to change: nothing written, no version, no audit event.
        let mut same = before.agent.clone();
        c.apply(&mut same, before.agent.updated_at);
        let sorted = |mut v: Vec<(Id, i64)>| {
            v.sort_unstable();
            v
        };
        let skills_same = sets.skills.as_ref().is_none_or(|s| {
            sorted(s.iter().map(|x| (x.skill_id, x.proficiency)).collect())
                == sorted(before.skills.iter().map(|x| (x.skill_id, x.proficiency)).collect())
        });
        let services_same = sets
            .service_ids
            .as_ref()
            .is_none_or(|s| sorted(s.iter().map(|&x| (x, 0)).collect()) == sorted(before.service_ids.iter().map(|&x| (x, 0)).collect()));
        let groups_same = sets.groups.as_ref().is_none_or(|g| {
            sorted(g.iter().map(|x| (x.group_id, i64::from(x.receive_call))).collect())
                == sorted(before.groups.iter().map(|x| (x.group_id, i64::from(x.receive_call))).collect())
        });
        if same == before.agent && c.password_hash.is_none() && skills_same && services_same && groups_same {
            commit(tx).await?;
            return Ok(before);
        }
        change_agent(&mut tx, ctx, &before.agent, &c).await?;
        if let (Some(skills), false) = (&sets.skills, skills_same) {
            sqlx::query("DELETE FROM agent_skills WHERE agent_id = $1").bind(id).execute(&mut *tx).await.map_err(db_err)?;
            for s in skills {
                upsert_agent_skill(&mut tx, id, s.skill_id, s.proficiency).await?;
            }
        }
        if let (Some(services), false) = (&sets.service_ids, services_same) {
            sqlx::query("DELETE FROM agent_services WHERE agent_id = $1").bind(id).execute(&mut *tx).await.map_err(db_err)?;
            for &sid in services {
                insert_agent_service(&mut tx, id, sid).await?;
            }
        }
        if let (Some(groups), false) = (&sets.groups, groups_same) {
            sqlx::query("DELETE FROM agent_groups WHERE agent_id = $1").bind(id).execute(&mut *tx).await.map_err(db_err)?;
            upsert_agent_groups(&mut tx, id, groups).await?;
        }
        let after = record_agent_change(&mut tx, ctx, &before).await?;
        commit(tx).await?;
        Ok(after)
    }

    async fn change_group(
        &self,
        ctx: &WriteCtx,
        group: Id,
        c: &switchboard_domain::GroupChange,
        expected_version: Option<i64>,
    ) -> Result<Named> {
        // Only the members added or removed change (the index holds groups
        // by id, not by name): known once read, marked after the COMMIT.
        let mut forget = self.forgets(crate::cache::Change::AgentList(vec![]));
        let kind = Entity::Group;
        let sql = named_sql(kind)?;
        let mut tx = self.write_locking(kind, group).await?;
        let before = named_or_404(&mut tx, &sql, kind, ctx.tenant_id, group).await?;
        check_version(kind, group, before.version, expected_version)?;
        let before_ext = group_external_id(&mut tx, group).await?;
        let name = c.name.as_ref().unwrap_or(&before.name);
        let ext = c.external_id.as_ref().unwrap_or(&before_ext);
        let mut after = before.clone();
        if *name != before.name || *ext != before_ext {
            let done = sqlx::query(
                "UPDATE agent_group_defs SET name = $1, external_id = $2, updated_at = $3, version = version + 1 WHERE id = $4 AND version = $5",
            )
            .bind(name.as_str())
            .bind(ext.as_deref())
            .bind(ctx.now)
            .bind(group)
            .bind(before.version)
            .execute(&mut *tx)
            .await
            .map_err(|e| unique_err(e, &[Unique { index: sql.unique_index, entity: kind, field: "name", value: name }]))?
            .rows_affected();
            expect_one(done, kind, group, before.version)?;
            after = named_or_404(&mut tx, &sql, kind, ctx.tenant_id, group).await?;
            let (b, a) = (
                GroupAudit { named: &before, external_id: before_ext.as_deref() },
                GroupAudit { named: &after, external_id: ext.as_deref() },
            );
            audit_ctx(&mut tx, ctx, kind, group, AuditAction::Update, Some(&b), Some(&a)).await?;
        }
        forget.change = crate::cache::Change::AgentList(set_group_members(&mut tx, ctx, group, c).await?);
        commit(tx).await?;
        Ok(after)
    }

    async fn create_group(&self, ctx: &WriteCtx, name: String, external_id: Option<String>, members: &[Id]) -> Result<Named> {
        let mut forget = self.forgets(crate::cache::Change::AgentList(vec![]));
        let kind = Entity::Group;
        let sql = named_sql(kind)?;
        let mut tx = self.write().await?;
        let id: Id = sqlx::query_scalar(
            "INSERT INTO agent_group_defs (tenant_id, name, external_id, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $4, 1) RETURNING id",
        )
        .bind(ctx.tenant_id)
        .bind(name.as_str())
        .bind(external_id.as_deref())
        .bind(ctx.now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unique_err(e, &[Unique { index: sql.unique_index, entity: kind, field: "name", value: &name }]))?;
        let n = named_or_404(&mut tx, &sql, kind, ctx.tenant_id, id).await?;
        let audited = GroupAudit { named: &n, external_id: external_id.as_deref() };
        audit_ctx(&mut tx, ctx, kind, id, AuditAction::Create, none(), Some(&audited)).await?;
        let c = switchboard_domain::GroupChange { add_members: members.to_vec(), ..Default::default() };
        forget.change = crate::cache::Change::AgentList(set_group_members(&mut tx, ctx, id, &c).await?);
        commit(tx).await?;
        Ok(n)
    }

    async fn group_external_ids(&self, tenant: Id, group: Option<Id>) -> Result<Vec<(Id, String)>> {
        let rows: Vec<(Id, String)> = sqlx::query_as(
            "SELECT id, external_id FROM agent_group_defs WHERE tenant_id = $1 AND ($2 = 0 OR id = $2) AND external_id IS NOT NULL ORDER BY id",
        )
        .bind(tenant)
        .bind(group.unwrap_or(0))
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        Ok(rows)
    }

    async fn group_members(&self, tenant: Id, group: Id) -> Result<Vec<Id>> {
        let mut tx = self.read().await?;
        let ids: Vec<Id> = sqlx::query_scalar(
            "SELECT x.agent_id FROM agent_groups x JOIN agents a ON a.id = x.agent_id WHERE a.tenant_id = $1 AND x.group_id = $2 ORDER BY x.agent_id",
        )
        .bind(tenant)
        .bind(group)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        commit(tx).await?;
        Ok(ids)
    }

    async fn agent_call_centers(&self, tenant: Id, agent: Id) -> Result<Vec<Id>> {
        let mut tx = self.read().await?;
        agent_or_404(&mut tx, tenant, agent).await?;
        let ids: Vec<Id> = sqlx::query_scalar(
            "SELECT DISTINCT s.call_center_id FROM agent_services x JOIN services s ON s.id = x.service_id \
             WHERE x.agent_id = $1 ORDER BY s.call_center_id",
        )
        .bind(agent)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        commit(tx).await?;
        Ok(ids)
    }

    // ---- skills -----------------------------------------------------------------------------
}

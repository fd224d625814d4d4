// Bulk import and export (the domain's `ops_import`) and `ImportStore`.
// `include!`d last; uses the other concerns' helpers and `SqlStore::write`.
//
// How rows run:
// - atomic: one transaction; a row that fails its checks is reported and the
//   next row checked; any failure (or a cancel) rolls everything back.
// - dry run: the same transaction with a savepoint per row, always rolled
//   back, so the plan is exactly what a real run would do.
// - best-effort: a transaction per batch of rows and a savepoint per row,
//   so a bad row never half-applies and a cancel stops at a row boundary.
// Every object written gets its audit event in the same transaction.

/// Rows per transaction in best-effort mode.
const IMPORT_BATCH: usize = 500;

/// What the rows refer to, loaded once: names (lower-case) → ids, and the
/// keys of the objects of the imported kind that exist.
#[derive(Default)]
struct ImportRefs {
    names: NameBook,
    skills: HashMap<String, Id>,
    services: HashMap<String, (Id, bool)>,
    groups: HashMap<String, Id>,
    call_centers: HashMap<String, Id>,
    /// Existing objects of the imported kind (agents for assignments): lower key → id.
    existing: HashMap<String, Id>,
    phone_count: i64,
    phone_limit: i64,
    /// Lists whose "last modified" mark is due at commit.
    marks: HashSet<&'static str>,
}

async fn name_ids(c: &mut DbConn, sql: &'static str, tenant: Id) -> Result<Vec<(Id, String)>> {
    let rows = sqlx::query(sql).bind(tenant).fetch_all(&mut *c).await.map_err(db_err)?;
    rows.iter().map(|r| Ok((col(r, "id")?, col(r, "name")?))).collect()
}

async fn load_refs(c: &mut DbConn, tenant: Id, kind: ImportKind) -> Result<ImportRefs> {
    let mut r = ImportRefs::default();
    if matches!(kind, ImportKind::Agents | ImportKind::Assignments | ImportKind::Phones) {
        for (id, name) in name_ids(c, "SELECT id, name FROM skills WHERE tenant_id = $1", tenant).await? {
            r.skills.insert(name.to_lowercase(), id);
            r.names.skills.insert(id, name);
        }
    }
    if matches!(kind, ImportKind::Agents | ImportKind::Assignments) {
        let rows =
            sqlx::query("SELECT id, name, acd FROM services WHERE tenant_id = $1").bind(tenant).fetch_all(&mut *c).await.map_err(db_err)?;
        for row in &rows {
            let (id, name, acd): (Id, String, bool) = (col(row, "id")?, col(row, "name")?, col(row, "acd")?);
            r.services.insert(name.to_lowercase(), (id, acd));
            r.names.services.insert(id, name);
        }
        for (id, name) in name_ids(c, "SELECT id, name FROM agent_group_defs WHERE tenant_id = $1", tenant).await? {
            r.groups.insert(name.to_lowercase(), id);
            r.names.groups.insert(id, name);
        }
    }
    if kind == ImportKind::Services {
        for (id, name) in name_ids(c, "SELECT id, name FROM call_centers WHERE tenant_id = $1", tenant).await? {
            r.call_centers.insert(name.to_lowercase(), id);
            r.names.call_centers.insert(id, name);
        }
    }
    let existing_sql = match kind {
        ImportKind::Agents | ImportKind::Assignments => "SELECT id, login_id AS name FROM agents WHERE tenant_id = $1",
        ImportKind::Skills => "SELECT id, name FROM skills WHERE tenant_id = $1",
        ImportKind::CallCenters => "SELECT id, name FROM call_centers WHERE tenant_id = $1",
        ImportKind::Groups => "SELECT id, name FROM agent_group_defs WHERE tenant_id = $1",
        ImportKind::Services => "SELECT id, name FROM services WHERE tenant_id = $1",
        ImportKind::Phones => "SELECT id, name FROM phones WHERE tenant_id = $1",
        ImportKind::Dids => "SELECT id, number AS name FROM dids WHERE tenant_id = $1",
        ImportKind::Campaigns => "SELECT id, name FROM campaigns WHERE tenant_id = $1",
    };
    let existing = name_ids(c, existing_sql, tenant).await?;
    r.existing.reserve(existing.len());
    for (id, key) in existing {
        r.existing.insert(key.to_lowercase(), id);
    }
    if kind == ImportKind::Phones {
        r.phone_count = r.existing.len() as i64;
        r.phone_limit = tenant_or_404(c, tenant).await?.settings.phone_number_limit;
    }
    Ok(r)
}

impl ImportRefs {
    fn skill(&self, field: &str, name: &str) -> Result<(Id, String)> {
        let id = *self.skills.get(&name.to_lowercase()).ok_or_else(|| switchboard_domain::unknown(field, Entity::Skill, name))?;
        Ok((id, self.names.skills.get(&id).cloned().unwrap_or_default()))
    }
    fn service(&self, field: &str, name: &str) -> Result<(Id, String)> {
        let (id, acd) =
            *self.services.get(&name.to_lowercase()).ok_or_else(|| switchboard_domain::unknown(field, Entity::Service, name))?;
        if !acd {
            return Err(Error::invalid(field, Rule::NotAcdService));
        }
        Ok((id, self.names.services.get(&id).cloned().unwrap_or_default()))
    }
    fn group(&self, field: &str, name: &str) -> Result<(Id, String)> {
        let id = *self.groups.get(&name.to_lowercase()).ok_or_else(|| switchboard_domain::unknown(field, Entity::Group, name))?;
        Ok((id, self.names.groups.get(&id).cloned().unwrap_or_default()))
    }
}

fn change(row: usize, key: &str, action: RowAction, diff: Vec<switchboard_domain::FieldDiff>) -> RowChange {
    RowChange { row, key: key.to_string(), action, diff }
}

/// The resolved assignments of an agent row (ids), and the row with names
/// in their stored spelling (for diffs).
#[allow(clippy::type_complexity)]
fn resolve_agent(
    refs: &ImportRefs,
    a: &AgentImport,
) -> Result<(AgentImport, Option<Vec<SkillAssignment>>, Option<Vec<Id>>, Option<Vec<GroupMembership>>)> {
    let mut canon = a.clone();
    let skills = match &a.skills {
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            let mut names = Vec::with_capacity(list.len());
            for (n, p) in list {
                let (id, name) = refs.skill("skills", n)?;
                out.push(SkillAssignment { skill_id: id, proficiency: *p });
                names.push((name, *p));
            }
            canon.skills = Some(names);
            out.sort_by_key(|s| s.skill_id);
            Some(out)
        }
        None => None,
    };
    let services = match &a.services {
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            let mut names = Vec::with_capacity(list.len());
            for n in list {
                let (id, name) = refs.service("services", n)?;
                out.push(id);
                names.push(name);
            }
            canon.services = Some(names);
            out.sort_unstable();
            Some(out)
        }
        None => None,
    };
    let groups = match &a.groups {
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            let mut names = Vec::with_capacity(list.len());
            for (n, rc) in list {
                let (id, name) = refs.group("groups", n)?;
                out.push(GroupMembership { group_id: id, receive_call: *rc });
                names.push((name, *rc));
            }
            canon.groups = Some(names);
            out.sort_by_key(|g| g.group_id);
            Some(out)
        }
        None => None,
    };
    Ok((canon, skills, services, groups))
}

async fn import_agent(
    c: &mut DbConn,
    ctx: &WriteCtx,
    refs: &mut ImportRefs,
    row: usize,
    a: &AgentImport,
    oc: OnConflict,
) -> Result<(RowChange, Option<Id>)> {
    let tenant = ctx.tenant_id;
    let key = a.login_id.as_str();
    let (canon, skills, services, groups) = resolve_agent(refs, a)?;
    let Some(&id) = refs.existing.get(&key.to_lowercase()) else {
        let record = AgentRecord {
            login_id: key.to_string(),
            first_name: a.first_name.clone().ok_or_else(|| Error::invalid("firstName", Rule::Required))?,
            last_name: a.last_name.clone().ok_or_else(|| Error::invalid("lastName", Rule::Required))?,
            display_name: a.display_name.clone().flatten(),
            email: a.email.clone().flatten(),
            phone: a.phone.clone().unwrap_or_default(),
            wrap_up_time: a.wrap_up_time.unwrap_or(-1),
            home_agent: a.home_agent.unwrap_or(false),
            active: a.active.unwrap_or(true),
            password_hash: a.password_hash.clone(),
            skills: skills.unwrap_or_default(),
            service_ids: services.unwrap_or_default(),
            groups: groups.unwrap_or_default(),
            attributes: a.attributes.clone().unwrap_or_default(),
            profile: Default::default(),
        };
        let id = insert_agent(c, ctx, &record).await?;
        // The stored agent, built from what was just inserted (no read back).
        let detail = inserted_agent(id, ctx, record);
        audit_ctx(c, ctx, Entity::Agent, id, AuditAction::Create, none(), Some(&detail)).await?;
        refs.marks.insert("agent");
        return Ok((change(row, key, RowAction::Create, vec![]), Some(id)));
    };
    match oc {
        OnConflict::Fail => return Err(Error::Duplicate { entity: Entity::Agent, field: "loginId", value: key.to_string() }),
        OnConflict::Skip => return Ok((change(row, key, RowAction::Skip, vec![]), None)),
        OnConflict::Update => {}
    }
    let before = agent_detail_or_404(c, tenant, id).await?;
    let (diff, changes) = switchboard_domain::agent_update(&before, &refs.names, &canon);
    if diff.is_empty() {
        return Ok((change(row, key, RowAction::Unchanged, vec![]), None));
    }
    change_agent(c, ctx, &before.agent, &changes).await?;
    if let Some(list) = skills.filter(|l| *l != before.skills) {
        sqlx::query("DELETE FROM agent_skills WHERE agent_id = $1").bind(id).execute(&mut *c).await.map_err(db_err)?;
        for s in &list {
            upsert_agent_skill(c, id, s.skill_id, s.proficiency).await?;
        }
    }
    if let Some(list) = services.filter(|l| *l != before.service_ids) {
        sqlx::query("DELETE FROM agent_services WHERE agent_id = $1").bind(id).execute(&mut *c).await.map_err(db_err)?;
        for sid in &list {
            insert_agent_service(c, id, *sid).await?;
        }
    }
    if let Some(list) = groups.filter(|l| *l != before.groups) {
        sqlx::query("DELETE FROM agent_groups WHERE agent_id = $1").bind(id).execute(&mut *c).await.map_err(db_err)?;
        upsert_agent_groups(c, id, &list).await?;
    }
    let after = agent_detail_or_404(c, tenant, id).await?;
    audit_ctx(c, ctx, Entity::Agent, id, AuditAction::Update, Some(&before), Some(&after)).await?;
    refs.marks.insert("agent");
    Ok((change(row, key, RowAction::Update, diff), None))
}

/// One assignment row: an agent's skill, service or group.
async fn import_assignment(
    c: &mut DbConn,
    ctx: &WriteCtx,
    refs: &mut ImportRefs,
    row: usize,
    a: &switchboard_domain::AssignmentImport,
    oc: OnConflict,
) -> Result<RowChange> {
    let key = ImportRecord::Assignment(a.clone()).key();
    let agent =
        *refs.existing.get(&a.login_id.to_lowercase()).ok_or_else(|| switchboard_domain::unknown("loginId", Entity::Agent, &a.login_id))?;
    let before = agent_detail_or_404(c, ctx.tenant_id, agent).await?;
    let (current, wanted): (Option<String>, String) = match a.kind {
        AssignmentType::Skill => {
            let (id, _) = refs.skill("name", &a.name)?;
            let p = a.proficiency.unwrap_or(1);
            (before.skills.iter().find(|s| s.skill_id == id).map(|s| s.proficiency.to_string()), p.to_string())
        }
        AssignmentType::Service => {
            let (id, _) = refs.service("name", &a.name)?;
            (before.service_ids.contains(&id).then(String::new), String::new())
        }
        AssignmentType::Group => {
            let (id, _) = refs.group("name", &a.name)?;
            let rc = a.receive_call.unwrap_or(true);
            (before.groups.iter().find(|g| g.group_id == id).map(|g| g.receive_call.to_string()), rc.to_string())
        }
    };
    let column = if a.kind == AssignmentType::Skill { "proficiency" } else { "receiveCall" };
    let diff = match &current {
        Some(cur) if *cur == wanted => return Ok(change(row, &key, RowAction::Unchanged, vec![])),
        Some(cur) => {
            match oc {
                OnConflict::Fail => return Err(Error::Duplicate { entity: Entity::Agent, field: "name", value: a.name.clone() }),
                OnConflict::Skip => return Ok(change(row, &key, RowAction::Skip, vec![])),
                OnConflict::Update => {}
            }
            vec![switchboard_domain::FieldDiff { column: column.into(), from: cur.clone(), to: wanted.clone() }]
        }
        None => vec![],
    };
    match a.kind {
        AssignmentType::Skill => upsert_agent_skill(c, agent, refs.skill("name", &a.name)?.0, a.proficiency.unwrap_or(1)).await?,
        AssignmentType::Service => insert_agent_service(c, agent, refs.service("name", &a.name)?.0).await?,
        AssignmentType::Group => upsert_agent_group(c, agent, refs.group("name", &a.name)?.0, a.receive_call.unwrap_or(true)).await?,
    }
    finish_agent_change(c, ctx, &before).await?;
    Ok(change(row, &key, if current.is_some() { RowAction::Update } else { RowAction::Create }, diff))
}

/// What a row of a catalog kind finds: the existing id, or nothing.
fn conflict(refs: &ImportRefs, entity: Entity, field: &'static str, key: &str, oc: OnConflict) -> Result<Option<Option<Id>>> {
    match refs.existing.get(&key.to_lowercase()) {
        None => Ok(Some(None)),
        Some(&id) => match oc {
            OnConflict::Fail => Err(Error::Duplicate { entity, field, value: key.to_string() }),
            OnConflict::Skip => Ok(None),
            OnConflict::Update => Ok(Some(Some(id))),
        },
    }
}

/// One row of a catalog kind (skills, call centers, groups, services, phones, DIDs, campaigns).
async fn import_catalog(
    c: &mut DbConn,
    ctx: &WriteCtx,
    refs: &mut ImportRefs,
    kind: ImportKind,
    row: usize,
    rec: &ImportRecord,
    oc: OnConflict,
) -> Result<(RowChange, Option<Id>)> {
    let tenant = ctx.tenant_id;
    let key = rec.key();
    let field = if kind == ImportKind::Dids { "number" } else { "name" };
    let Some(found) = conflict(refs, kind.entity(), field, &key, oc)? else {
        return Ok((change(row, &key, RowAction::Skip, vec![]), None));
    };
    let desired = switchboard_domain::record_row(rec);
    match (rec, found) {
        (ImportRecord::Skill { name, description }, None) => {
            let s = switchboard_domain::SkillInput { name: Some(name.clone()), description: Some(description.clone().unwrap_or_default()) };
            let id = insert_skill(c, ctx, &s).await?;
            refs.marks.insert("skill");
            Ok((change(row, &key, RowAction::Create, vec![]), Some(id)))
        }
        (ImportRecord::Skill { name, description }, Some(id)) => {
            let before = skill_or_404(c, tenant, id).await?;
            let diff = switchboard_domain::diff_rows(&switchboard_domain::skill_row(&before), &desired);
            if diff.is_empty() {
                return Ok((change(row, &key, RowAction::Unchanged, vec![]), None));
            }
            let d = description.clone().unwrap_or_else(|| before.description.clone());
            sqlx::query("UPDATE skills SET name = $1, description = $2, updated_at = $3, version = version + 1 WHERE id = $4")
                .bind(name.as_str())
                .bind(d.as_str())
                .bind(ctx.now)
                .bind(id)
                .execute(&mut *c)
                .await
                .map_err(|e| unique_err(e, &[Unique { index: "ux_skills_name", entity: Entity::Skill, field: "name", value: name }]))?;
            let after = skill_or_404(c, tenant, id).await?;
            audit_ctx(c, ctx, Entity::Skill, id, AuditAction::Update, Some(&before), Some(&after)).await?;
            refs.marks.insert("skill");
            Ok((change(row, &key, RowAction::Update, diff), None))
        }
        (ImportRecord::Named { name }, found) => {
            let entity = kind.entity();
            let sql = named_sql(entity)?;
            match found {
                None => {
                    let id: Id = sqlx::query_scalar(sql.insert)
                        .bind(tenant)
                        .bind(name.as_str())
                        .bind(ctx.now)
                        .fetch_one(&mut *c)
                        .await
                        .map_err(|e| unique_err(e, &[Unique { index: sql.unique_index, entity, field: "name", value: name }]))?;
                    let n = named_or_404(c, &sql, entity, tenant, id).await?;
                    audit_ctx(c, ctx, entity, id, AuditAction::Create, none(), Some(&n)).await?;
                    Ok((change(row, &key, RowAction::Create, vec![]), Some(id)))
                }
                Some(id) => {
                    let before = named_or_404(c, &sql, entity, tenant, id).await?;
                    let diff = switchboard_domain::diff_rows(&switchboard_domain::named_row(&before), &desired);
                    if diff.is_empty() {
                        return Ok((change(row, &key, RowAction::Unchanged, vec![]), None));
                    }
                    sqlx::query(sql.rename)
                        .bind(name.as_str())
                        .bind(ctx.now)
                        .bind(id)
                        .bind(before.version)
                        .execute(&mut *c)
                        .await
                        .map_err(db_err)?;
                    let after = named_or_404(c, &sql, entity, tenant, id).await?;
                    audit_ctx(c, ctx, entity, id, AuditAction::Update, Some(&before), Some(&after)).await?;
                    Ok((change(row, &key, RowAction::Update, diff), None))
                }
            }
        }
        (ImportRecord::Service { name, call_center, acd }, found) => {
            let cc = match call_center {
                Some(n) => Some(
                    *refs
                        .call_centers
                        .get(&n.to_lowercase())
                        .ok_or_else(|| switchboard_domain::unknown("callCenter", Entity::CallCenter, n))?,
                ),
                None => None,
            };
            match found {
                None => {
                    let cc = cc.ok_or_else(|| Error::invalid("callCenter", Rule::Required))?;
                    let id: Id = sqlx::query_scalar(
                        "INSERT INTO services (tenant_id, name, call_center_id, acd, created_at, updated_at, version) \
                         VALUES ($1, $2, $3, $4, $5, $5, 1) RETURNING id",
                    )
                    .bind(tenant)
                    .bind(name.as_str())
                    .bind(cc)
                    .bind(acd.unwrap_or(true))
                    .bind(ctx.now)
                    .fetch_one(&mut *c)
                    .await
                    .map_err(|e| {
                        unique_err(e, &[Unique { index: "ux_services_name", entity: Entity::Service, field: "name", value: name }])
                    })?;
                    let svc = service_or_404(c, tenant, id).await?;
                    audit_ctx(c, ctx, Entity::Service, id, AuditAction::Create, none(), Some(&svc)).await?;
                    Ok((change(row, &key, RowAction::Create, vec![]), Some(id)))
                }
                Some(id) => {
                    let before = service_or_404(c, tenant, id).await?;
                    let diff = switchboard_domain::diff_rows(&switchboard_domain::service_row(&before, &refs.names), &desired);
                    if diff.is_empty() {
                        return Ok((change(row, &key, RowAction::Unchanged, vec![]), None));
                    }
                    let new_acd = acd.unwrap_or(before.acd);
                    if before.acd && !new_acd {
                        let assigned: Option<i64> = sqlx::query_scalar("SELECT agent_id FROM agent_services WHERE service_id = $1 LIMIT 1")
                            .bind(id)
                            .fetch_optional(&mut *c)
                            .await
                            .map_err(db_err)?;
                        if assigned.is_some() {
                            return Err(Error::InUse { entity: Entity::Service, id: id.to_string(), by: Entity::Agent });
                        }
                    }
                    sqlx::query("UPDATE services SET name = $1, call_center_id = $2, acd = $3, updated_at = $4, version = version + 1 WHERE id = $5")
                        .bind(name.as_str())
                        .bind(cc.unwrap_or(before.call_center_id))
                        .bind(new_acd)
                        .bind(ctx.now)
                        .bind(id)
                        .execute(&mut *c)
                        .await
                        .map_err(|e| unique_err(e, &[Unique { index: "ux_services_name", entity: Entity::Service, field: "name", value: name }]))?;
                    let after = service_or_404(c, tenant, id).await?;
                    audit_ctx(c, ctx, Entity::Service, id, AuditAction::Update, Some(&before), Some(&after)).await?;
                    Ok((change(row, &key, RowAction::Update, diff), None))
                }
            }
        }
        (ImportRecord::Phone { name, number, skills }, found) => {
            // Unknown skill names are reported before anything is written.
            for s in skills.iter().flatten() {
                refs.skill("skills", s)?;
            }
            let skills: Option<Vec<String>> =
                skills.as_ref().map(|l| l.iter().map(|s| refs.names.skills[&refs.skills[&s.to_lowercase()]].clone()).collect());
            match found {
                None => {
                    let number = number.clone().ok_or_else(|| Error::invalid("number", Rule::Required))?;
                    if refs.phone_count >= refs.phone_limit {
                        return Err(Error::LimitExceeded { what: "phone number", limit: refs.phone_limit });
                    }
                    let id: Id = sqlx::query_scalar(
                        "INSERT INTO phones (tenant_id, number, name, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $4, 1) RETURNING id",
                    )
                    .bind(tenant)
                    .bind(number.as_str())
                    .bind(name.as_str())
                    .bind(ctx.now)
                    .fetch_one(&mut *c)
                    .await
                    .map_err(|e| {
                        unique_err(
                            e,
                            &[
                                Unique { index: "ux_phones_number", entity: Entity::Phone, field: "number", value: &number },
                                Unique { index: "ux_phones_name", entity: Entity::Phone, field: "name", value: name },
                            ],
                        )
                    })?;
                    set_phone_skills(c, tenant, id, skills.as_deref().unwrap_or(&[])).await?;
                    let phone = phone_or_404(c, tenant, id).await?;
                    audit_ctx(c, ctx, Entity::Phone, id, AuditAction::Create, none(), Some(&phone)).await?;
                    refs.phone_count += 1;
                    Ok((change(row, &key, RowAction::Create, vec![]), Some(id)))
                }
                Some(id) => {
                    let before = phone_or_404(c, tenant, id).await?;
                    let mut want = desired.clone();
                    if let Some(s) = &skills {
                        want.insert("skills".into(), s.join(";"));
                    }
                    let diff = switchboard_domain::diff_rows(&switchboard_domain::phone_row(&before), &want);
                    if diff.is_empty() {
                        return Ok((change(row, &key, RowAction::Unchanged, vec![]), None));
                    }
                    let number = number.clone().unwrap_or_else(|| before.number.clone());
                    sqlx::query("UPDATE phones SET number = $1, name = $2, updated_at = $3, version = version + 1 WHERE id = $4")
                        .bind(number.as_str())
                        .bind(name.as_str())
                        .bind(ctx.now)
                        .bind(id)
                        .execute(&mut *c)
                        .await
                        .map_err(|e| {
                            unique_err(e, &[Unique { index: "ux_phones_number", entity: Entity::Phone, field: "number", value: &number }])
                        })?;
                    if let Some(s) = &skills {
                        set_phone_skills(c, tenant, id, s).await?;
                    }
                    let after = phone_or_404(c, tenant, id).await?;
                    audit_ctx(c, ctx, Entity::Phone, id, AuditAction::Update, Some(&before), Some(&after)).await?;
                    Ok((change(row, &key, RowAction::Update, diff), None))
                }
            }
        }
        (ImportRecord::Did { number }, found) => match found {
            None => {
                let id: Id = sqlx::query_scalar(
                    "INSERT INTO dids (tenant_id, number, created_at, updated_at, version) VALUES ($1, $2, $3, $3, 1) RETURNING id",
                )
                .bind(tenant)
                .bind(number.as_str())
                .bind(ctx.now)
                .fetch_one(&mut *c)
                .await
                .map_err(|e| unique_err(e, &[Unique { index: "ux_dids_number", entity: Entity::Did, field: "number", value: number }]))?;
                let did = did_or_404(c, tenant, id).await?;
                audit_ctx(c, ctx, Entity::Did, id, AuditAction::Create, none(), Some(&did)).await?;
                Ok((change(row, &key, RowAction::Create, vec![]), Some(id)))
            }
            // A DID is only its number: an existing one is already as asked.
            Some(_) => Ok((change(row, &key, RowAction::Unchanged, vec![]), None)),
        },
        (ImportRecord::Campaign { name, dynamic_dids, fallback_dids }, found) => {
            let dynamic = match dynamic_dids {
                Some(d) => Some(resolve_dids(c, tenant, "dynamicDids", d).await?),
                None => None,
            };
            let fallback = match fallback_dids {
                Some(d) => Some(resolve_dids(c, tenant, "fallbackDids", d).await?),
                None => None,
            };
            let (id, before, action, diff) = match found {
                None => {
                    let id: Id = sqlx::query_scalar(
                        "INSERT INTO campaigns (tenant_id, name, created_at, updated_at, version) VALUES ($1, $2, $3, $3, 1) RETURNING id",
                    )
                    .bind(tenant)
                    .bind(name.as_str())
                    .bind(ctx.now)
                    .fetch_one(&mut *c)
                    .await
                    .map_err(|e| {
                        unique_err(e, &[Unique { index: "ux_campaigns_name", entity: Entity::Campaign, field: "name", value: name }])
                    })?;
                    (id, None, RowAction::Create, vec![])
                }
                Some(id) => {
                    let before = campaign_or_404(c, tenant, id).await?;
                    let diff = switchboard_domain::diff_rows(&switchboard_domain::campaign_row(&before), &desired);
                    if diff.is_empty() {
                        return Ok((change(row, &key, RowAction::Unchanged, vec![]), None));
                    }
                    sqlx::query("UPDATE campaigns SET name = $1, updated_at = $2, version = version + 1 WHERE id = $3")
                        .bind(name.as_str())
                        .bind(ctx.now)
                        .bind(id)
                        .execute(&mut *c)
                        .await
                        .map_err(db_err)?;
                    (id, Some(before), RowAction::Update, diff)
                }
            };
            if let Some(d) = dynamic {
                set_campaign_dids(c, id, DYNAMIC, &d).await?;
            }
            if let Some(f) = fallback {
                set_campaign_dids(c, id, FALLBACK, &f).await?;
            }
            let after = campaign_or_404(c, tenant, id).await?;
            let act = if before.is_some() { AuditAction::Update } else { AuditAction::Create };
            audit_ctx(c, ctx, Entity::Campaign, id, act, before.as_ref(), Some(&after)).await?;
            let new_id = before.is_none().then_some(id);
            Ok((change(row, &key, action, diff), new_id))
        }
        (ImportRecord::Agent(_) | ImportRecord::Assignment(_), _) => Err(Error::Storage("agent rows are not catalog rows".into())),
    }
}

async fn insert_skill(c: &mut DbConn, ctx: &WriteCtx, s: &switchboard_domain::SkillInput) -> Result<Id> {
    let name = s.name.clone().unwrap_or_default();
    let id: Id = sqlx::query_scalar(
        "INSERT INTO skills (tenant_id, name, description, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $4, 1) RETURNING id",
    )
    .bind(ctx.tenant_id)
    .bind(name.as_str())
    .bind(s.description.clone().unwrap_or_default())
    .bind(ctx.now)
    .fetch_one(&mut *c)
    .await
    .map_err(|e| unique_err(e, &[Unique { index: "ux_skills_name", entity: Entity::Skill, field: "name", value: &name }]))?;
    let skill = skill_or_404(c, ctx.tenant_id, id).await?;
    audit_ctx(c, ctx, Entity::Skill, id, AuditAction::Create, none(), Some(&skill)).await?;
    Ok(id)
}

/// Applies one row; the id of an object it created (to know it exists for later rows).
async fn import_one(
    c: &mut DbConn,
    ctx: &WriteCtx,
    refs: &mut ImportRefs,
    kind: ImportKind,
    row: &ImportRow,
    oc: OnConflict,
) -> Result<(RowChange, Option<Id>)> {
    match &row.record {
        ImportRecord::Agent(a) => import_agent(c, ctx, refs, row.row, a, oc).await,
        ImportRecord::Assignment(a) => Ok((import_assignment(c, ctx, refs, row.row, a, oc).await?, None)),
        rec => import_catalog(c, ctx, refs, kind, row.row, rec, oc).await,
    }
}

async fn flush_marks(c: &mut DbConn, ctx: &WriteCtx, refs: &mut ImportRefs) -> Result<()> {
    for m in refs.marks.drain() {
        let entity = if m == "agent" { Entity::Agent } else { Entity::Skill };
        mark_list(c, ctx.tenant_id, entity, 0, ctx.now).await?;
    }
    Ok(())
}

async fn exec(c: &mut DbConn, sql: &'static str) -> Result<()> {
    sqlx::query(sql).execute(&mut *c).await.map_err(db_err)?;
    Ok(())
}

fn job_of(r: &DbRow) -> Result<ImportJob> {
    let kind: String = col(r, "kind")?;
    let mode: String = col(r, "mode")?;
    let on_conflict: String = col(r, "on_conflict")?;
    let report: Option<String> = col(r, "report")?;
    Ok(ImportJob {
        id: col(r, "id")?,
        kind: ImportKind::parse(&kind).ok_or_else(|| Error::Storage(format!("unknown import kind {kind:?}")))?,
        mode: switchboard_domain::ImportMode::parse(&mode).ok_or_else(|| Error::Storage(format!("unknown import mode {mode:?}")))?,
        on_conflict: OnConflict::parse(&on_conflict).ok_or_else(|| Error::Storage(format!("unknown on-conflict {on_conflict:?}")))?,
        dry_run: col(r, "dry_run")?,
        status: col(r, "status")?,
        rows: col(r, "rows_total")?,
        processed: col(r, "processed")?,
        report: report.as_deref().map(|s| from_json(s, "import report")).transpose()?,
        error: col(r, "error")?,
        created_by: col(r, "created_by")?,
        created_at: col(r, "created_at")?,
        updated_at: col(r, "updated_at")?,
    })
}

/// An agent import at least this large is followed by the backend's
/// `after_bulk_agent_load`.
const BULK_LOAD_ROWS: usize = 10_000;

impl SqlStore {
    pub(crate) async fn import_rows_impl(
        &self,
        ctx: &WriteCtx,
        kind: ImportKind,
        rows: Vec<ImportRow>,
        o: ImportRunOptions,
        ctl: ImportControl,
    ) -> Result<ImportRun> {
        let total = rows.len();
        let savepoints = o.dry_run || o.mode == ImportMode::BestEffort;
        let batch = if o.dry_run || o.mode == ImportMode::Atomic { usize::MAX } else { IMPORT_BATCH };
        let mut run = ImportRun { outcomes: Vec::with_capacity(total), ..Default::default() };
        let mut tx = self.write().await?;
        let mut refs = load_refs(&mut tx, ctx.tenant_id, kind).await?;
        let mut failed = false;
        let mut in_batch = 0usize;
        let mut last_row = None;
        for (i, row) in rows.iter().enumerate() {
            if ctl.cancelled() {
                run.interrupted = true;
                break;
            }
            if savepoints {
                exec(&mut tx, "SAVEPOINT sb_import_row").await?;
            }
            match import_one(&mut tx, ctx, &mut refs, kind, row, o.on_conflict).await {
                Ok((ch, created)) => {
                    if savepoints {
                        exec(&mut tx, "RELEASE SAVEPOINT sb_import_row").await?;
                    }
                    if let Some(id) = created {
                        let key = match &row.record {
                            ImportRecord::Agent(a) => a.login_id.to_lowercase(),
                            r => r.key().to_lowercase(),
                        };
                        refs.existing.insert(key, id);
                    }
                    run.outcomes.push(RowOutcome::Done(ch));
                }
                Err(e) => {
                    failed = true;
                    run.outcomes.push(RowOutcome::Failed(RowError::of(row.row, Some(&row.record.key()), &e)));
                    if savepoints {
                        exec(&mut tx, "ROLLBACK TO SAVEPOINT sb_import_row").await?;
                        exec(&mut tx, "RELEASE SAVEPOINT sb_import_row").await?;
                    } else if sqlx::query("SELECT 1").execute(&mut *tx).await.is_err() {
                        // PostgreSQL refuses everything after a failed
                        // statement: later rows cannot be checked.
                        run.outcomes.push(RowOutcome::Failed(RowError {
                            row: row.row,
                            key: None,
                            column: None,
                            code: "not_checked".into(),
                            message: "rows after this one were not checked (the database refused the transaction after this error)".into(),
                        }));
                        break;
                    }
                }
            }
            last_row = Some(row.row);
            in_batch += 1;
            if (i + 1) % 256 == 0 || i + 1 == total {
                (ctl.progress)("writing", i + 1, total);
            }
            if in_batch >= batch && i + 1 < total {
                flush_marks(&mut tx, ctx, &mut refs).await?;
                commit(tx).await?;
                run.committed = true;
                run.applied_through_row = last_row;
                in_batch = 0;
                tx = self.write().await?;
            }
        }
        let keep = !o.dry_run
            && match o.mode {
                ImportMode::Atomic => !failed && !run.interrupted,
                ImportMode::BestEffort => true,
            };
        if keep {
            flush_marks(&mut tx, ctx, &mut refs).await?;
            commit(tx).await?;
            run.committed = true;
            run.applied_through_row = last_row;
            if kind == ImportKind::Agents && total >= BULK_LOAD_ROWS {
                // Done and committed: a failure here only costs speed.
                if let Err(e) = This::after_bulk_agent_load(&self.writer).await {
                    tracing::warn!(error = %e, "tidying the search index after a bulk load failed");
                }
            }
        } else {
            tx.rollback().await.map_err(db_err)?;
            if o.mode == ImportMode::Atomic || o.dry_run {
                run.committed = false;
                run.applied_through_row = None;
            }
        }
        Ok(run)
    }

    /// Every agent of a tenant with its assignments, in id order (4 queries).
    pub(crate) async fn export_agents_impl(&self, tenant: Id) -> Result<Vec<AgentDetail>> {
        let mut tx = self.read().await?;
        let rows = sqlx::query(concat!("SELECT ", agent_cols!(), " FROM agents WHERE tenant_id = $1 ORDER BY id"))
            .bind(tenant)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        let mut out: Vec<AgentDetail> = Vec::with_capacity(rows.len());
        let mut at: HashMap<Id, usize> = HashMap::with_capacity(rows.len());
        for r in &rows {
            let a = agent_of(r)?;
            at.insert(a.id, out.len());
            out.push(AgentDetail { agent: a, skills: vec![], service_ids: vec![], groups: vec![] });
        }
        drop(rows);
        let skills = sqlx::query(
            "SELECT x.agent_id, x.skill_id, x.proficiency FROM agent_skills x JOIN agents a ON a.id = x.agent_id \
             WHERE a.tenant_id = $1 ORDER BY x.agent_id, x.skill_id",
        )
        .bind(tenant)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        for r in &skills {
            if let Some(&i) = at.get(&col::<i64>(r, "agent_id")?) {
                out[i].skills.push(SkillAssignment { skill_id: col(r, "skill_id")?, proficiency: col(r, "proficiency")? });
            }
        }
        let services = sqlx::query(
            "SELECT x.agent_id, x.service_id FROM agent_services x JOIN agents a ON a.id = x.agent_id \
             WHERE a.tenant_id = $1 ORDER BY x.agent_id, x.service_id",
        )
        .bind(tenant)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        for r in &services {
            if let Some(&i) = at.get(&col::<i64>(r, "agent_id")?) {
                out[i].service_ids.push(col(r, "service_id")?);
            }
        }
        let groups = sqlx::query(
            "SELECT x.agent_id, x.group_id, x.receive_call FROM agent_groups x JOIN agents a ON a.id = x.agent_id \
             WHERE a.tenant_id = $1 ORDER BY x.agent_id, x.group_id",
        )
        .bind(tenant)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        for r in &groups {
            if let Some(&i) = at.get(&col::<i64>(r, "agent_id")?) {
                out[i].groups.push(GroupMembership { group_id: col(r, "group_id")?, receive_call: col(r, "receive_call")? });
            }
        }
        commit(tx).await?;
        Ok(out)
    }

    pub(crate) async fn create_import_job_impl(&self, ctx: &WriteCtx, o: ImportOptions, rows: usize) -> Result<ImportJob> {
        let mut tx = self.write().await?;
        let id: Id = sqlx::query_scalar(
            "INSERT INTO import_jobs (tenant_id, kind, mode, on_conflict, dry_run, status, rows_total, processed, report, error, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'running', $6, 0, NULL, NULL, $7, $8, $8) RETURNING id",
        )
        .bind(ctx.tenant_id)
        .bind(o.kind.as_str())
        .bind(mode_str(o.mode))
        .bind(conflict_str(o.on_conflict))
        .bind(o.dry_run)
        .bind(rows as i64)
        .bind(ctx.actor.label.as_str())
        .bind(ctx.now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let job = self.job_in(&mut tx, ctx.tenant_id, id).await?;
        commit(tx).await?;
        Ok(job)
    }

    async fn job_in(&self, c: &mut DbConn, tenant: Id, id: Id) -> Result<ImportJob> {
        let row = sqlx::query(
            "SELECT id, kind, mode, on_conflict, dry_run, status, rows_total, processed, report, error, created_by, created_at, updated_at \
             FROM import_jobs WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::NotFound { entity: Entity::Tenant, id: format!("import job {id}") })?;
        job_of(&row)
    }

    pub(crate) async fn get_import_job_impl(&self, tenant: Id, id: Id) -> Result<ImportJob> {
        let mut tx = self.read().await?;
        let j = self.job_in(&mut tx, tenant, id).await?;
        commit(tx).await?;
        Ok(j)
    }

    pub(crate) async fn update_import_job_impl(&self, tenant: Id, id: Id, u: ImportJobUpdate) -> Result<()> {
        let report = u.report.as_ref().map(to_json).transpose()?;
        sqlx::query(
            "UPDATE import_jobs SET processed = $1, status = COALESCE($2, status), report = COALESCE($3, report), \
             error = COALESCE($4, error), updated_at = $5 WHERE tenant_id = $6 AND id = $7",
        )
        .bind(u.processed)
        .bind(u.status.as_deref())
        .bind(report)
        .bind(u.error.as_deref())
        .bind(u.now)
        .bind(tenant)
        .bind(id)
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }
}

fn mode_str(m: ImportMode) -> &'static str {
    match m {
        ImportMode::Atomic => "atomic",
        ImportMode::BestEffort => "best-effort",
    }
}

fn conflict_str(c: OnConflict) -> &'static str {
    match c {
        OnConflict::Skip => "skip",
        OnConflict::Update => "update",
        OnConflict::Fail => "fail",
    }
}

#[async_trait::async_trait]
impl ImportStore for SqlStore {
    async fn import_rows(
        &self,
        ctx: &WriteCtx,
        kind: switchboard_domain::ImportKind,
        rows: Vec<switchboard_domain::ImportRow>,
        opts: switchboard_domain::ImportRunOptions,
        ctl: switchboard_domain::ImportControl,
    ) -> Result<switchboard_domain::ImportRun> {
        let _forget = self.forgets(crate::cache::Change::AgentRows);
        self.import_rows_impl(ctx, kind, rows, opts, ctl).await
    }

    async fn export_agents(&self, tenant: Id) -> Result<Vec<AgentDetail>> {
        self.export_agents_impl(tenant).await
    }

    async fn create_import_job(
        &self,
        ctx: &WriteCtx,
        opts: switchboard_domain::ImportOptions,
        rows: usize,
    ) -> Result<switchboard_domain::ImportJob> {
        self.create_import_job_impl(ctx, opts, rows).await
    }

    async fn get_import_job(&self, tenant: Id, id: Id) -> Result<switchboard_domain::ImportJob> {
        self.get_import_job_impl(tenant, id).await
    }

    async fn update_import_job(&self, tenant: Id, id: Id, u: switchboard_domain::ImportJobUpdate) -> Result<()> {
        self.update_import_job_impl(tenant, id, u).await
    }
}

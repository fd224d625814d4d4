// Skills, call centers, groups and services: their SQL, decoders and
// `CatalogStore`.

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

async fn skill_or_404(c: &mut DbConn, tenant: Id, id: Id) -> Result<Skill> {
    let row = sqlx::query(concat!("SELECT ", skill_cols!(), " FROM skills WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found(Entity::Skill, id))?;
    skill_of(&row)
}

async fn service_or_404(c: &mut DbConn, tenant: Id, id: Id) -> Result<Service> {
    let row = sqlx::query(concat!("SELECT ", service_cols!(), " FROM services WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found(Entity::Service, id))?;
    service_of(&row)
}

async fn call_center_exists(c: &mut DbConn, tenant: Id, id: Id) -> Result<bool> {
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM call_centers WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(found.is_some())
}

/// SQL of one of the name-only tables.
struct NamedSql {
    insert: &'static str,
    get: &'static str,
    list: &'static str,
    rename: &'static str,
    delete: &'static str,
    unique_index: &'static str,
}

macro_rules! named_sql {
    ($table:literal) => {
        NamedSql {
            insert: concat!(
                "INSERT INTO ",
                $table,
                " (tenant_id, name, created_at, updated_at, version) VALUES ($1, $2, $3, $3, 1) RETURNING id"
            ),
            get: concat!("SELECT ", named_cols!(), " FROM ", $table, " WHERE tenant_id = $1 AND id = $2"),
            list: concat!("SELECT ", named_cols!(), " FROM ", $table, " WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3 OFFSET $4"),
            rename: concat!("UPDATE ", $table, " SET name = $1, updated_at = $2, version = version + 1 WHERE id = $3 AND version = $4"),
            delete: concat!("DELETE FROM ", $table, " WHERE id = $1"),
            unique_index: concat!("ux_", $table, "_name"),
        }
    };
}

fn named_sql(kind: Entity) -> Result<NamedSql> {
    match kind {
        Entity::CallCenter => Ok(named_sql!("call_centers")),
        Entity::Group => Ok(named_sql!("agent_group_defs")),
        other => Err(Error::Storage(format!("{other} is not a name-only object"))),
    }
}

async fn named_or_404(c: &mut DbConn, sql: &NamedSql, kind: Entity, tenant: Id, id: Id) -> Result<Named> {
    let row = sqlx::query(sql.get)
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found(kind, id))?;
    named_of(&row)
}

#[async_trait::async_trait]
impl CatalogStore for SqlStore {
    async fn create_skill(&self, ctx: &WriteCtx, s: SkillInput) -> Result<Skill> {
        let name = s.name.unwrap_or_default();
        let description = s.description.unwrap_or_default();
        let mut tx = self.write().await?;
        let id: Id = sqlx::query_scalar(
            "INSERT INTO skills (tenant_id, name, description, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $4, 1) RETURNING id",
        )
        .bind(ctx.tenant_id)
        .bind(name.as_str())
        .bind(description.as_str())
        .bind(ctx.now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unique_err(e, &[Unique { index: "ux_skills_name", entity: Entity::Skill, field: "name", value: &name }]))?;
        mark_list(&mut tx, ctx.tenant_id, Entity::Skill, id, ctx.now).await?;
        let skill = skill_or_404(&mut tx, ctx.tenant_id, id).await?;
        audit_ctx(&mut tx, ctx, Entity::Skill, id, AuditAction::Create, none(), Some(&skill)).await?;
        commit(tx).await?;
        Ok(skill)
    }

    async fn get_skill(&self, tenant: Id, id: Id) -> Result<Skill> {
        let mut tx = self.read().await?;
        let s = skill_or_404(&mut tx, tenant, id).await?;
        commit(tx).await?;
        Ok(s)
    }

    async fn skills_named(&self, tenant: Id, names: &[String]) -> Result<Vec<Skill>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::for_tenant(concat!("SELECT ", skill_cols!(), " FROM skills WHERE tenant_id = "), tenant);
        qb.push(" AND lower(name) IN ");
        qb.push_lower_texts(names);
        qb.push(" ORDER BY id");
        let rows = qb.build().fetch_all(&self.reader).await.map_err(db_err)?;
        rows.iter().map(skill_of).collect()
    }

    async fn list_skills(&self, tenant: Id, page: PageRequest) -> Result<Page<Skill>> {
        let rows =
            sqlx::query(concat!("SELECT ", skill_cols!(), " FROM skills WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3 OFFSET $4"))
                .bind(tenant)
                .bind(page.after)
                .bind(fetch_limit(page.limit))
                .bind(offset_of(page.offset))
                .fetch_all(&self.reader)
                .await
                .map_err(db_err)?;
        Ok(page_of(rows.iter().map(skill_of).collect::<Result<Vec<_>>>()?, page.limit))
    }

    async fn skill_list_info(&self, tenant: Id) -> Result<ListInfo> {
        let mut tx = self.read().await?;
        let i = list_info(&mut tx, tenant, Entity::Skill).await?;
        commit(tx).await?;
        Ok(i)
    }

    async fn skill_assignments(&self, tenant: Id, skill: Id) -> Result<Vec<(Id, i64)>> {
        let mut tx = self.read().await?;
        skill_or_404(&mut tx, tenant, skill).await?;
        let rows = sqlx::query("SELECT agent_id, proficiency FROM agent_skills WHERE skill_id = $1 ORDER BY agent_id")
            .bind(skill)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        commit(tx).await?;
        rows.iter().map(|r| Ok((col(r, "agent_id")?, col(r, "proficiency")?))).collect()
    }

    async fn update_skill(&self, ctx: &WriteCtx, id: Id, s: SkillInput, expected_version: Option<i64>) -> Result<Skill> {
        let mut tx = self.write_locking(Entity::Skill, id).await?;
        let before = skill_or_404(&mut tx, ctx.tenant_id, id).await?;
        check_version(Entity::Skill, id, before.version, expected_version)?;
        let name = s.name.unwrap_or_else(|| before.name.clone());
        let description = s.description.unwrap_or_else(|| before.description.clone());
        let done = sqlx::query(
            "UPDATE skills SET name = $1, description = $2, updated_at = $3, version = version + 1 WHERE id = $4 AND version = $5",
        )
        .bind(name.as_str())
        .bind(description.as_str())
        .bind(ctx.now)
        .bind(id)
        .bind(before.version)
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_err(e, &[Unique { index: "ux_skills_name", entity: Entity::Skill, field: "name", value: &name }]))?
        .rows_affected();
        expect_one(done, Entity::Skill, id, before.version)?;
        mark_list(&mut tx, ctx.tenant_id, Entity::Skill, id, ctx.now).await?;
        let after = skill_or_404(&mut tx, ctx.tenant_id, id).await?;
        audit_ctx(&mut tx, ctx, Entity::Skill, id, AuditAction::Update, Some(&before), Some(&after)).await?;
        commit(tx).await?;
        Ok(after)
    }

    async fn delete_skill(&self, ctx: &WriteCtx, id: Id, expected_version: Option<i64>) -> Result<()> {
        let _forget = self.forgets(crate::cache::Change::Agents);
        let mut tx = self.write_locking(Entity::Skill, id).await?;
        let before = skill_or_404(&mut tx, ctx.tenant_id, id).await?;
        check_version(Entity::Skill, id, before.version, expected_version)?;
        bump_linked_agents(
            &mut tx,
            ctx.tenant_id,
            ctx.now,
            "UPDATE agents SET version = version + 1, updated_at = $1 WHERE id IN (SELECT agent_id FROM agent_skills WHERE skill_id = $2)",
            id,
        )
        .await?;
        sqlx::query(
            "UPDATE phones SET version = version + 1, updated_at = $1 WHERE id IN (SELECT phone_id FROM phone_skills WHERE skill_id = $2)",
        )
        .bind(ctx.now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        for sql in ["DELETE FROM agent_skills WHERE skill_id = $1", "DELETE FROM phone_skills WHERE skill_id = $1"] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await.map_err(db_err)?;
        }
        let done = sqlx::query("DELETE FROM skills WHERE id = $1 AND version = $2")
            .bind(id)
            .bind(before.version)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        expect_one(done, Entity::Skill, id, before.version)?;
        mark_list(&mut tx, ctx.tenant_id, Entity::Skill, id, ctx.now).await?;
        audit_ctx(&mut tx, ctx, Entity::Skill, id, AuditAction::Delete, Some(&before), none()).await?;
        commit(tx).await
    }

    // ---- call centers and groups --------------------------------------------------------

    async fn create_named(&self, ctx: &WriteCtx, kind: Entity, name: String) -> Result<Named> {
        let sql = named_sql(kind)?;
        let mut tx = self.write().await?;
        let id: Id = sqlx::query_scalar(sql.insert)
            .bind(ctx.tenant_id)
            .bind(name.as_str())
            .bind(ctx.now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| unique_err(e, &[Unique { index: sql.unique_index, entity: kind, field: "name", value: &name }]))?;
        let n = named_or_404(&mut tx, &sql, kind, ctx.tenant_id, id).await?;
        audit_ctx(&mut tx, ctx, kind, id, AuditAction::Create, none(), Some(&n)).await?;
        commit(tx).await?;
        Ok(n)
    }

    async fn get_named(&self, tenant: Id, kind: Entity, id: Id) -> Result<Named> {
        let sql = named_sql(kind)?;
        let mut tx = self.read().await?;
        let n = named_or_404(&mut tx, &sql, kind, tenant, id).await?;
        commit(tx).await?;
        Ok(n)
    }

    async fn list_named(&self, tenant: Id, kind: Entity, page: PageRequest) -> Result<Page<Named>> {
        let sql = named_sql(kind)?;
        let rows = sqlx::query(sql.list)
            .bind(tenant)
            .bind(page.after)
            .bind(fetch_limit(page.limit))
            .bind(offset_of(page.offset))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        Ok(page_of(rows.iter().map(named_of).collect::<Result<Vec<_>>>()?, page.limit))
    }

    async fn rename_named(&self, ctx: &WriteCtx, kind: Entity, id: Id, name: String, expected_version: Option<i64>) -> Result<Named> {
        let sql = named_sql(kind)?;
        let mut tx = self.write_locking(kind, id).await?;
        let before = named_or_404(&mut tx, &sql, kind, ctx.tenant_id, id).await?;
        check_version(kind, id, before.version, expected_version)?;
        let done = sqlx::query(sql.rename)
            .bind(name.as_str())
            .bind(ctx.now)
            .bind(id)
            .bind(before.version)
            .execute(&mut *tx)
            .await
            .map_err(|e| unique_err(e, &[Unique { index: sql.unique_index, entity: kind, field: "name", value: &name }]))?
            .rows_affected();
        expect_one(done, kind, id, before.version)?;
        let after = named_or_404(&mut tx, &sql, kind, ctx.tenant_id, id).await?;
        audit_ctx(&mut tx, ctx, kind, id, AuditAction::Update, Some(&before), Some(&after)).await?;
        commit(tx).await?;
        Ok(after)
    }

    async fn delete_named(&self, ctx: &WriteCtx, kind: Entity, id: Id, expected_version: Option<i64>) -> Result<()> {
        let _forget = self.forgets(crate::cache::Change::Agents);
        let sql = named_sql(kind)?;
        let mut tx = self.write_locking(kind, id).await?;
        let before = named_or_404(&mut tx, &sql, kind, ctx.tenant_id, id).await?;
        check_version(kind, id, before.version, expected_version)?;
        if kind == Entity::CallCenter {
            let used: Option<i64> = sqlx::query_scalar("SELECT id FROM services WHERE call_center_id = $1 LIMIT 1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
            if used.is_some() {
                return Err(Error::InUse { entity: kind, id: id.to_string(), by: Entity::Service });
            }
        } else {
            bump_linked_agents(
                &mut tx,
                ctx.tenant_id,
                ctx.now,
                "UPDATE agents SET version = version + 1, updated_at = $1 WHERE id IN (SELECT agent_id FROM agent_groups WHERE group_id = $2)",
                id,
            )
            .await?;
            sqlx::query("DELETE FROM agent_groups WHERE group_id = $1").bind(id).execute(&mut *tx).await.map_err(db_err)?;
        }
        sqlx::query(sql.delete).bind(id).execute(&mut *tx).await.map_err(db_err)?;
        audit_ctx(&mut tx, ctx, kind, id, AuditAction::Delete, Some(&before), none()).await?;
        commit(tx).await
    }

    // ---- services ---------------------------------------------------------------------------

    async fn create_service(&self, ctx: &WriteCtx, s: ServiceInput) -> Result<Service> {
        let name = s.name.unwrap_or_default();
        let cc = s.call_center_id.ok_or_else(|| Error::invalid("callCenterId", Rule::Required))?;
        let mut tx = self.write().await?;
        if !call_center_exists(&mut tx, ctx.tenant_id, cc).await? {
            return Err(switchboard_domain::unknown("callCenterId", Entity::CallCenter, cc));
        }
        let id: Id = sqlx::query_scalar(
            "INSERT INTO services (tenant_id, name, call_center_id, acd, created_at, updated_at, version) \
             VALUES ($1, $2, $3, $4, $5, $5, 1) RETURNING id",
        )
        .bind(ctx.tenant_id)
        .bind(name.as_str())
        .bind(cc)
        .bind(s.acd.unwrap_or(true))
        .bind(ctx.now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unique_err(e, &[Unique { index: "ux_services_name", entity: Entity::Service, field: "name", value: &name }]))?;
        let svc = service_or_404(&mut tx, ctx.tenant_id, id).await?;
        audit_ctx(&mut tx, ctx, Entity::Service, id, AuditAction::Create, none(), Some(&svc)).await?;
        commit(tx).await?;
        Ok(svc)
    }

    async fn get_service(&self, tenant: Id, id: Id) -> Result<Service> {
        let mut tx = self.read().await?;
        let s = service_or_404(&mut tx, tenant, id).await?;
        commit(tx).await?;
        Ok(s)
    }

    async fn list_services(&self, tenant: Id, call_center: Option<Id>, page: PageRequest) -> Result<Page<Service>> {
        let q = match call_center {
            Some(cc) => sqlx::query(concat!(
                "SELECT ",
                service_cols!(),
                " FROM services WHERE tenant_id = $1 AND id > $2 AND call_center_id = $5 ORDER BY id LIMIT $3 OFFSET $4"
            ))
            .bind(tenant)
            .bind(page.after)
            .bind(fetch_limit(page.limit))
            .bind(offset_of(page.offset))
            .bind(cc),
            None => sqlx::query(concat!(
                "SELECT ",
                service_cols!(),
                " FROM services WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3 OFFSET $4"
            ))
            .bind(tenant)
            .bind(page.after)
            .bind(fetch_limit(page.limit))
            .bind(offset_of(page.offset)),
        };
        let rows = q.fetch_all(&self.reader).await.map_err(db_err)?;
        Ok(page_of(rows.iter().map(service_of).collect::<Result<Vec<_>>>()?, page.limit))
    }

    async fn update_service(&self, ctx: &WriteCtx, id: Id, s: ServiceInput, expected_version: Option<i64>) -> Result<Service> {
        let mut tx = self.write_locking(Entity::Service, id).await?;
        let before = service_or_404(&mut tx, ctx.tenant_id, id).await?;
        check_version(Entity::Service, id, before.version, expected_version)?;
        let name = s.name.unwrap_or_else(|| before.name.clone());
        let cc = s.call_center_id.unwrap_or(before.call_center_id);
        let acd = s.acd.unwrap_or(before.acd);
        if cc != before.call_center_id && !call_center_exists(&mut tx, ctx.tenant_id, cc).await? {
            return Err(switchboard_domain::unknown("callCenterId", Entity::CallCenter, cc));
        }
        if before.acd && !acd {
            let assigned: Option<i64> = sqlx::query_scalar("SELECT agent_id FROM agent_services WHERE service_id = $1 LIMIT 1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
            if assigned.is_some() {
                return Err(Error::InUse { entity: Entity::Service, id: id.to_string(), by: Entity::Agent });
            }
        }
        let done = sqlx::query(
            "UPDATE services SET name = $1, call_center_id = $2, acd = $3, updated_at = $4, version = version + 1 \
             WHERE id = $5 AND version = $6",
        )
        .bind(name.as_str())
        .bind(cc)
        .bind(acd)
        .bind(ctx.now)
        .bind(id)
        .bind(before.version)
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_err(e, &[Unique { index: "ux_services_name", entity: Entity::Service, field: "name", value: &name }]))?
        .rows_affected();
        expect_one(done, Entity::Service, id, before.version)?;
        let after = service_or_404(&mut tx, ctx.tenant_id, id).await?;
        audit_ctx(&mut tx, ctx, Entity::Service, id, AuditAction::Update, Some(&before), Some(&after)).await?;
        commit(tx).await?;
        Ok(after)
    }

    async fn delete_service(&self, ctx: &WriteCtx, id: Id, expected_version: Option<i64>) -> Result<()> {
        let _forget = self.forgets(crate::cache::Change::Agents);
        let mut tx = self.write_locking(Entity::Service, id).await?;
        let before = service_or_404(&mut tx, ctx.tenant_id, id).await?;
        check_version(Entity::Service, id, before.version, expected_version)?;
        bump_linked_agents(
            &mut tx,
            ctx.tenant_id,
            ctx.now,
            "UPDATE agents SET version = version + 1, updated_at = $1 WHERE id IN (SELECT agent_id FROM agent_services WHERE service_id = $2)",
            id,
        )
        .await?;
        sqlx::query("DELETE FROM agent_services WHERE service_id = $1").bind(id).execute(&mut *tx).await.map_err(db_err)?;
        let done = sqlx::query("DELETE FROM services WHERE id = $1 AND version = $2")
            .bind(id)
            .bind(before.version)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        expect_one(done, Entity::Service, id, before.version)?;
        audit_ctx(&mut tx, ctx, Entity::Service, id, AuditAction::Delete, Some(&before), none()).await?;
        commit(tx).await
    }

    // ---- phones ---------------------------------------------------------------------------------
}

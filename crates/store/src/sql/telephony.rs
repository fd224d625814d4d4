// Phones, DIDs and campaigns: their SQL, decoders and `TelephonyStore`.

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
        sqlx::query(
            "INSERT INTO phone_skills (phone_id, skill_id, position) VALUES ($1, $2, $3) ON CONFLICT (phone_id, skill_id) DO NOTHING",
        )
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

async fn did_or_404(c: &mut DbConn, tenant: Id, id: Id) -> Result<Did> {
    let row = sqlx::query(concat!("SELECT ", did_cols!(), " FROM dids WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found(Entity::Did, id))?;
    did_of(&row)
}

#[async_trait::async_trait]
impl TelephonyStore for SqlStore {
    async fn create_phone(&self, ctx: &WriteCtx, p: PhoneInput, limit: i64) -> Result<Phone> {
        let number = p.number.unwrap_or_default();
        let name = p.name.unwrap_or_default();
        let mut tx = self.write().await?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM phones WHERE tenant_id = $1")
            .bind(ctx.tenant_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        if count >= limit {
            return Err(Error::LimitExceeded { what: "phone number", limit });
        }
        let id: Id = sqlx::query_scalar(
            "INSERT INTO phones (tenant_id, number, name, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $4, 1) RETURNING id",
        )
        .bind(ctx.tenant_id)
        .bind(number.as_str())
        .bind(name.as_str())
        .bind(ctx.now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            unique_err(
                e,
                &[
                    Unique { index: "ux_phones_number", entity: Entity::Phone, field: "number", value: &number },
                    Unique { index: "ux_phones_name", entity: Entity::Phone, field: "name", value: &name },
                ],
            )
        })?;
        set_phone_skills(&mut tx, ctx.tenant_id, id, p.skills.as_deref().unwrap_or(&[])).await?;
        let phone = phone_or_404(&mut tx, ctx.tenant_id, id).await?;
        audit_ctx(&mut tx, ctx, Entity::Phone, id, AuditAction::Create, none(), Some(&phone)).await?;
        commit(tx).await?;
        Ok(phone)
    }

    async fn get_phone(&self, tenant: Id, id: Id) -> Result<Phone> {
        let mut tx = self.read().await?;
        let p = phone_or_404(&mut tx, tenant, id).await?;
        commit(tx).await?;
        Ok(p)
    }

    async fn find_phone_by_number(&self, tenant: Id, number: &str) -> Result<Phone> {
        refuse_nul(Entity::Phone, number)?;
        let mut tx = self.read().await?;
        let row = sqlx::query(concat!("SELECT ", phone_cols!(), " FROM phones WHERE tenant_id = $1 AND lower(number) = lower($2)"))
            .bind(tenant)
            .bind(number)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?
            .ok_or_else(|| Error::not_found(Entity::Phone, number))?;
        let p = phone_of(&mut tx, &row).await?;
        commit(tx).await?;
        Ok(p)
    }

    async fn list_phones(&self, tenant: Id, page: PageRequest) -> Result<Page<Phone>> {
        let mut tx = self.read().await?;
        let rows =
            sqlx::query(concat!("SELECT ", phone_cols!(), " FROM phones WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3 OFFSET $4"))
                .bind(tenant)
                .bind(page.after)
                .bind(fetch_limit(page.limit))
                .bind(offset_of(page.offset))
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;
        let mut items = Vec::with_capacity(rows.len());
        for r in rows.iter().take(page.limit as usize) {
            items.push(phone_of(&mut tx, r).await?);
        }
        commit(tx).await?;
        Ok(Page { items, has_more: rows.len() > page.limit as usize })
    }

    async fn update_phone(&self, ctx: &WriteCtx, id: Id, p: PhoneInput, expected_version: Option<i64>) -> Result<Phone> {
        let mut tx = self.write_locking(Entity::Phone, id).await?;
        let before = phone_or_404(&mut tx, ctx.tenant_id, id).await?;
        check_version(Entity::Phone, id, before.version, expected_version)?;
        let number = p.number.unwrap_or_else(|| before.number.clone());
        let name = p.name.unwrap_or_else(|| before.name.clone());
        let done =
            sqlx::query("UPDATE phones SET number = $1, name = $2, updated_at = $3, version = version + 1 WHERE id = $4 AND version = $5")
                .bind(number.as_str())
                .bind(name.as_str())
                .bind(ctx.now)
                .bind(id)
                .bind(before.version)
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    unique_err(
                        e,
                        &[
                            Unique { index: "ux_phones_number", entity: Entity::Phone, field: "number", value: &number },
                            Unique { index: "ux_phones_name", entity: Entity::Phone, field: "name", value: &name },
                        ],
                    )
                })?
                .rows_affected();
        expect_one(done, Entity::Phone, id, before.version)?;
        if let Some(skills) = &p.skills {
            set_phone_skills(&mut tx, ctx.tenant_id, id, skills).await?;
        }
        let after = phone_or_404(&mut tx, ctx.tenant_id, id).await?;
        audit_ctx(&mut tx, ctx, Entity::Phone, id, AuditAction::Update, Some(&before), Some(&after)).await?;
        commit(tx).await?;
        Ok(after)
    }

    async fn delete_phone(&self, ctx: &WriteCtx, id: Id, expected_version: Option<i64>) -> Result<()> {
        let mut tx = self.write_locking(Entity::Phone, id).await?;
        let before = phone_or_404(&mut tx, ctx.tenant_id, id).await?;
        check_version(Entity::Phone, id, before.version, expected_version)?;
        sqlx::query("DELETE FROM phone_skills WHERE phone_id = $1").bind(id).execute(&mut *tx).await.map_err(db_err)?;
        let done = sqlx::query("DELETE FROM phones WHERE id = $1 AND version = $2")
            .bind(id)
            .bind(before.version)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        expect_one(done, Entity::Phone, id, before.version)?;
        audit_ctx(&mut tx, ctx, Entity::Phone, id, AuditAction::Delete, Some(&before), none()).await?;
        commit(tx).await
    }

    // ---- DIDs and campaigns -------------------------------------------------------------------

    async fn create_did(&self, ctx: &WriteCtx, number: String) -> Result<Did> {
        let mut tx = self.write().await?;
        let id: Id = sqlx::query_scalar(
            "INSERT INTO dids (tenant_id, number, created_at, updated_at, version) VALUES ($1, $2, $3, $3, 1) RETURNING id",
        )
        .bind(ctx.tenant_id)
        .bind(number.as_str())
        .bind(ctx.now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unique_err(e, &[Unique { index: "ux_dids_number", entity: Entity::Did, field: "number", value: &number }]))?;
        let did = did_or_404(&mut tx, ctx.tenant_id, id).await?;
        audit_ctx(&mut tx, ctx, Entity::Did, id, AuditAction::Create, none(), Some(&did)).await?;
        commit(tx).await?;
        Ok(did)
    }

    async fn get_did(&self, tenant: Id, id: Id) -> Result<Did> {
        let mut tx = self.read().await?;
        let d = did_or_404(&mut tx, tenant, id).await?;
        commit(tx).await?;
        Ok(d)
    }

    async fn dids_numbered(&self, tenant: Id, numbers: &[String]) -> Result<Vec<Did>> {
        if numbers.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::for_tenant(concat!("SELECT ", did_cols!(), " FROM dids WHERE tenant_id = "), tenant);
        qb.push(" AND lower(number) IN ");
        qb.push_lower_texts(numbers);
        qb.push(" ORDER BY id");
        let rows = qb.build().fetch_all(&self.reader).await.map_err(db_err)?;
        rows.iter().map(did_of).collect()
    }

    async fn list_dids(&self, tenant: Id, page: PageRequest) -> Result<Page<Did>> {
        let rows =
            sqlx::query(concat!("SELECT ", did_cols!(), " FROM dids WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3 OFFSET $4"))
                .bind(tenant)
                .bind(page.after)
                .bind(fetch_limit(page.limit))
                .bind(offset_of(page.offset))
                .fetch_all(&self.reader)
                .await
                .map_err(db_err)?;
        Ok(page_of(rows.iter().map(did_of).collect::<Result<Vec<_>>>()?, page.limit))
    }

    async fn update_did(&self, ctx: &WriteCtx, id: Id, number: String, expected_version: Option<i64>) -> Result<Did> {
        let mut tx = self.write_locking(Entity::Did, id).await?;
        let before = did_or_404(&mut tx, ctx.tenant_id, id).await?;
        check_version(Entity::Did, id, before.version, expected_version)?;
        let done = sqlx::query("UPDATE dids SET number = $1, updated_at = $2, version = version + 1 WHERE id = $3 AND version = $4")
            .bind(number.as_str())
            .bind(ctx.now)
            .bind(id)
            .bind(before.version)
            .execute(&mut *tx)
            .await
            .map_err(|e| unique_err(e, &[Unique { index: "ux_dids_number", entity: Entity::Did, field: "number", value: &number }]))?
            .rows_affected();
        expect_one(done, Entity::Did, id, before.version)?;
        let after = did_or_404(&mut tx, ctx.tenant_id, id).await?;
        audit_ctx(&mut tx, ctx, Entity::Did, id, AuditAction::Update, Some(&before), Some(&after)).await?;
        commit(tx).await?;
        Ok(after)
    }

    async fn delete_did(&self, ctx: &WriteCtx, id: Id, expected_version: Option<i64>) -> Result<()> {
        let mut tx = self.write_locking(Entity::Did, id).await?;
        let before = did_or_404(&mut tx, ctx.tenant_id, id).await?;
        check_version(Entity::Did, id, before.version, expected_version)?;
        let used: Option<i64> = sqlx::query_scalar("SELECT campaign_id FROM campaign_dids WHERE did_id = $1 LIMIT 1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        if used.is_some() {
            return Err(Error::InUse { entity: Entity::Did, id: id.to_string(), by: Entity::Campaign });
        }
        let done = sqlx::query("DELETE FROM dids WHERE id = $1 AND version = $2")
            .bind(id)
            .bind(before.version)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        expect_one(done, Entity::Did, id, before.version)?;
        audit_ctx(&mut tx, ctx, Entity::Did, id, AuditAction::Delete, Some(&before), none()).await?;
        commit(tx).await
    }

    async fn create_campaign(&self, ctx: &WriteCtx, c: CampaignInput) -> Result<Campaign> {
        let name = c.name.unwrap_or_default();
        let mut tx = self.write().await?;
        let dynamic = resolve_dids(&mut tx, ctx.tenant_id, "dynamicDids", c.dynamic_dids.as_deref().unwrap_or(&[])).await?;
        let fallback = resolve_dids(&mut tx, ctx.tenant_id, "fallbackDids", c.fallback_dids.as_deref().unwrap_or(&[])).await?;
        let id: Id = sqlx::query_scalar(
            "INSERT INTO campaigns (tenant_id, name, created_at, updated_at, version) VALUES ($1, $2, $3, $3, 1) RETURNING id",
        )
        .bind(ctx.tenant_id)
        .bind(name.as_str())
        .bind(ctx.now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unique_err(e, &[Unique { index: "ux_campaigns_name", entity: Entity::Campaign, field: "name", value: &name }]))?;
        set_campaign_dids(&mut tx, id, DYNAMIC, &dynamic).await?;
        set_campaign_dids(&mut tx, id, FALLBACK, &fallback).await?;
        let camp = campaign_or_404(&mut tx, ctx.tenant_id, id).await?;
        audit_ctx(&mut tx, ctx, Entity::Campaign, id, AuditAction::Create, none(), Some(&camp)).await?;
        commit(tx).await?;
        Ok(camp)
    }

    async fn get_campaign(&self, tenant: Id, id: Id) -> Result<Campaign> {
        let mut tx = self.read().await?;
        let c = campaign_or_404(&mut tx, tenant, id).await?;
        commit(tx).await?;
        Ok(c)
    }

    async fn find_campaign_by_name(&self, tenant: Id, name: &str) -> Result<Campaign> {
        refuse_nul(Entity::Campaign, name)?;
        let mut tx = self.read().await?;
        let row = sqlx::query(concat!("SELECT ", campaign_cols!(), " FROM campaigns WHERE tenant_id = $1 AND lower(name) = lower($2)"))
            .bind(tenant)
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?
            .ok_or_else(|| Error::not_found(Entity::Campaign, name))?;
        let c = campaign_of(&mut tx, &row).await?;
        commit(tx).await?;
        Ok(c)
    }

    async fn list_campaigns(&self, tenant: Id, page: PageRequest) -> Result<Page<Campaign>> {
        let mut tx = self.read().await?;
        let rows = sqlx::query(concat!(
            "SELECT ",
            campaign_cols!(),
            " FROM campaigns WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3 OFFSET $4"
        ))
        .bind(tenant)
        .bind(page.after)
        .bind(fetch_limit(page.limit))
        .bind(offset_of(page.offset))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        let mut items = Vec::with_capacity(rows.len());
        for r in rows.iter().take(page.limit as usize) {
            items.push(campaign_of(&mut tx, r).await?);
        }
        commit(tx).await?;
        Ok(Page { items, has_more: rows.len() > page.limit as usize })
    }

    async fn update_campaign(&self, ctx: &WriteCtx, id: Id, c: CampaignInput, expected_version: Option<i64>) -> Result<Campaign> {
        let mut tx = self.write_locking(Entity::Campaign, id).await?;
        let before = campaign_or_404(&mut tx, ctx.tenant_id, id).await?;
        check_version(Entity::Campaign, id, before.version, expected_version)?;
        let dynamic = match &c.dynamic_dids {
            Some(d) => Some(resolve_dids(&mut tx, ctx.tenant_id, "dynamicDids", d).await?),
            None => None,
        };
        let fallback = match &c.fallback_dids {
            Some(d) => Some(resolve_dids(&mut tx, ctx.tenant_id, "fallbackDids", d).await?),
            None => None,
        };
        let name = c.name.clone().unwrap_or_else(|| before.name.clone());
        let done = sqlx::query("UPDATE campaigns SET name = $1, updated_at = $2, version = version + 1 WHERE id = $3 AND version = $4")
            .bind(name.as_str())
            .bind(ctx.now)
            .bind(id)
            .bind(before.version)
            .execute(&mut *tx)
            .await
            .map_err(|e| unique_err(e, &[Unique { index: "ux_campaigns_name", entity: Entity::Campaign, field: "name", value: &name }]))?
            .rows_affected();
        expect_one(done, Entity::Campaign, id, before.version)?;
        if let Some(d) = dynamic {
            set_campaign_dids(&mut tx, id, DYNAMIC, &d).await?;
        }
        if let Some(f) = fallback {
            set_campaign_dids(&mut tx, id, FALLBACK, &f).await?;
        }
        let after = campaign_or_404(&mut tx, ctx.tenant_id, id).await?;
        audit_ctx(&mut tx, ctx, Entity::Campaign, id, AuditAction::Update, Some(&before), Some(&after)).await?;
        commit(tx).await?;
        Ok(after)
    }

    async fn delete_campaign(&self, ctx: &WriteCtx, id: Id, expected_version: Option<i64>) -> Result<()> {
        let mut tx = self.write_locking(Entity::Campaign, id).await?;
        let before = campaign_or_404(&mut tx, ctx.tenant_id, id).await?;
        check_version(Entity::Campaign, id, before.version, expected_version)?;
        sqlx::query("DELETE FROM campaign_dids WHERE campaign_id = $1").bind(id).execute(&mut *tx).await.map_err(db_err)?;
        let done = sqlx::query("DELETE FROM campaigns WHERE id = $1 AND version = $2")
            .bind(id)
            .bind(before.version)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        expect_one(done, Entity::Campaign, id, before.version)?;
        audit_ctx(&mut tx, ctx, Entity::Campaign, id, AuditAction::Delete, Some(&before), none()).await?;
        commit(tx).await
    }

    // ---- audit and idempotency -------------------------------------------------------------------
}

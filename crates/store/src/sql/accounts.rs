// Tenants, users and API keys: their SQL, decoders and `AccountStore`.

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
        "id, user_id, name, prefix, scope, created_at, last_used_at, revoked_at"
    };
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

fn scope_of(s: &str) -> Result<switchboard_domain::KeyScope> {
    switchboard_domain::KeyScope::parse(s).ok_or_else(|| Error::Storage(format!("unknown API key scope {s:?}")))
}

fn key_of(r: &DbRow) -> Result<switchboard_domain::ApiKeyInfo> {
    Ok(switchboard_domain::ApiKeyInfo {
        id: col(r, "id")?,
        user_id: col(r, "user_id")?,
        name: col(r, "name")?,
        prefix: col(r, "prefix")?,
        scope: scope_of(&col::<String>(r, "scope")?)?,
        created_at: col(r, "created_at")?,
        last_used_at: col(r, "last_used_at")?,
        revoked_at: col(r, "revoked_at")?,
    })
}

/// `touch_api_key` writes at most this often per key.
const TOUCH_INTERVAL_MS: i64 = 60 * 1000;

const API_KEY_PRINCIPAL_SQL: &str = "SELECT k.id AS key_id, k.tenant_id, u.id AS user_id, u.username, u.role, u.powers, k.scope, k.name \
     FROM api_keys k JOIN users u ON u.id = k.user_id \
     WHERE k.hash = $1 AND k.revoked_at IS NULL";

const API_KEY_LAST_USED_SQL: &str = "SELECT last_used_at FROM api_keys WHERE id = $1";

/// The principal of an `API_KEY_PRINCIPAL_SQL` row.
/// `scim_key`: the key's name when its scope is `scim`, else `None`.
fn key_principal(
    key_id: Id,
    tenant_id: Id,
    user_id: Id,
    username: String,
    role: &str,
    powers: &str,
    scim_key: Option<String>,
) -> Result<Principal> {
    Ok(Principal {
        tenant_id,
        user_id,
        username,
        role: role_of(role)?,
        powers: from_json(powers, "user powers")?,
        api_key_id: Some(key_id),
        agent_id: None,
        scim_key,
    })
}

/// A principal's `scim_key` from its key's scope and name.
fn scim_key_of(scope: &str, name: String) -> Result<Option<String>> {
    Ok((scope_of(scope)? == switchboard_domain::KeyScope::Scim).then_some(name))
}

async fn tenant_or_404(c: &mut DbConn, id: Id) -> Result<Tenant> {
    let row = sqlx::query(concat!("SELECT ", tenant_cols!(), " FROM tenants WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found(Entity::Tenant, id))?;
    tenant_of(&row)
}

async fn user_or_404(c: &mut DbConn, tenant: Id, id: Id) -> Result<User> {
    let row = sqlx::query(concat!("SELECT ", user_cols!(), " FROM users WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found(Entity::User, id))?;
    user_of(&row)
}

async fn key_or_404(c: &mut DbConn, tenant: Id, id: Id) -> Result<ApiKeyInfo> {
    let row = sqlx::query(concat!("SELECT ", key_cols!(), " FROM api_keys WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found(Entity::ApiKey, id))?;
    key_of(&row)
}

async fn insert_api_key(c: &mut DbConn, tenant: Id, user: Id, key: &NewApiKey, now: Millis) -> Result<ApiKeyInfo> {
    let id: Id = sqlx::query_scalar(
        "INSERT INTO api_keys (tenant_id, user_id, name, prefix, hash, created_at, scope) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(tenant)
    .bind(user)
    .bind(key.name.as_str())
    .bind(key.prefix.as_str())
    .bind(key.hash.as_str())
    .bind(now)
    .bind(key.scope.as_str())
    .fetch_one(&mut *c)
    .await
    .map_err(db_err)?;
    Ok(ApiKeyInfo {
        id,
        user_id: user,
        name: key.name.clone(),
        prefix: key.prefix.clone(),
        scope: key.scope,
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    })
}

async fn insert_user(c: &mut DbConn, tenant: Id, u: &NewUser, now: Millis) -> Result<User> {
    let id: Id = sqlx::query_scalar(
        "INSERT INTO users (tenant_id, username, password_hash, role, powers, created_at, updated_at, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $6, 1) RETURNING id",
    )
    .bind(tenant)
    .bind(u.username.as_str())
    .bind(u.password_hash.as_str())
    .bind(u.role.as_str())
    .bind(to_json(&u.powers)?)
    .bind(now)
    .fetch_one(&mut *c)
    .await
    .map_err(|e| unique_err(e, &[Unique { index: "ux_users_username", entity: Entity::User, field: "username", value: &u.username }]))?;
    Ok(User {
        id,
        tenant_id: tenant,
        username: u.username.clone(),
        role: u.role,
        powers: u.powers.clone(),
        created_at: now,
        updated_at: now,
        version: 1,
    })
}

#[async_trait::async_trait]
impl AccountStore for SqlStore {
    async fn create_tenant(&self, t: NewTenant, admin: NewUser, key: NewApiKey, actor: Actor, now: Millis) -> Result<(Tenant, User)> {
        let mut tx = self.write().await?;
        let settings = to_json(&t.settings)?;
        let client_str = t.client_id.map(|c| c.to_string()).unwrap_or_default();
        let dup = |e: sqlx::Error| {
            unique_err(
                e,
                &[
                    Unique { index: "ux_tenants_name", entity: Entity::Tenant, field: "name", value: &t.name },
                    Unique { index: "ux_tenants_client_id", entity: Entity::Tenant, field: "clientId", value: &client_str },
                ],
            )
        };
        let id: Id = sqlx::query_scalar(
            "INSERT INTO tenants (name, client_id, settings, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $4, 1) RETURNING id",
        )
        .bind(t.name.as_str())
        .bind(t.client_id)
        .bind(settings)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(dup)?;
        if t.client_id.is_none() {
            // The client id defaults to the tenant's own id.
            sqlx::query("UPDATE tenants SET client_id = id WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(|e| {
                unique_err(
                    e,
                    &[Unique { index: "ux_tenants_client_id", entity: Entity::Tenant, field: "clientId", value: &id.to_string() }],
                )
            })?;
        }
        let tenant = tenant_or_404(&mut tx, id).await?;
        let user = insert_user(&mut tx, id, &admin, now).await?;
        let info = insert_api_key(&mut tx, id, user.id, &key, now).await?;
        let ctx = WriteCtx { tenant_id: id, actor, now };
        audit_ctx(&mut tx, &ctx, Entity::Tenant, id, AuditAction::Create, none(), Some(&tenant)).await?;
        audit_ctx(&mut tx, &ctx, Entity::User, user.id, AuditAction::Create, none(), Some(&user)).await?;
        audit_ctx(&mut tx, &ctx, Entity::ApiKey, info.id, AuditAction::Create, none(), Some(&info)).await?;
        commit(tx).await?;
        Ok((tenant, user))
    }

    async fn get_tenant(&self, id: Id) -> Result<Tenant> {
        // One statement (LiveVox checks the client on every list and search):
        // no BEGIN/COMMIT round trips around it.
        let mut c = self.reader.acquire().await.map_err(db_err)?;
        tenant_or_404(&mut c, id).await
    }

    async fn find_tenant_by_name(&self, name: &str) -> Result<Tenant> {
        refuse_nul(Entity::Tenant, name)?;
        let row = sqlx::query(concat!("SELECT ", tenant_cols!(), " FROM tenants WHERE lower(name) = lower($1)"))
            .bind(name)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?
            .ok_or_else(|| Error::not_found(Entity::Tenant, name))?;
        tenant_of(&row)
    }

    async fn find_tenant_by_client_id(&self, client_id: i64) -> Result<Tenant> {
        let row = sqlx::query(concat!("SELECT ", tenant_cols!(), " FROM tenants WHERE client_id = $1"))
            .bind(client_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?
            .ok_or_else(|| Error::not_found(Entity::Tenant, client_id))?;
        tenant_of(&row)
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        let rows =
            sqlx::query(concat!("SELECT ", tenant_cols!(), " FROM tenants ORDER BY id")).fetch_all(&self.reader).await.map_err(db_err)?;
        rows.iter().map(tenant_of).collect()
    }

    async fn update_tenant_settings(&self, ctx: &WriteCtx, settings: TenantSettings, expected_version: Option<i64>) -> Result<Tenant> {
        let mut tx = self.write_locking(Entity::Tenant, ctx.tenant_id).await?;
        let before = tenant_or_404(&mut tx, ctx.tenant_id).await?;
        check_version(Entity::Tenant, before.id, before.version, expected_version)?;
        let done = sqlx::query("UPDATE tenants SET settings = $1, updated_at = $2, version = version + 1 WHERE id = $3 AND version = $4")
            .bind(to_json(&settings)?)
            .bind(ctx.now)
            .bind(before.id)
            .bind(before.version)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        expect_one(done, Entity::Tenant, before.id, before.version)?;
        let after = tenant_or_404(&mut tx, ctx.tenant_id).await?;
        audit_ctx(&mut tx, ctx, Entity::Tenant, after.id, AuditAction::Update, Some(&before), Some(&after)).await?;
        commit(tx).await?;
        Ok(after)
    }

    // ---- users and keys -------------------------------------------------------------

    async fn create_user(&self, ctx: &WriteCtx, u: NewUser, key: Option<NewApiKey>) -> Result<User> {
        let mut tx = self.write().await?;
        tenant_or_404(&mut tx, ctx.tenant_id).await?;
        let user = insert_user(&mut tx, ctx.tenant_id, &u, ctx.now).await?;
        audit_ctx(&mut tx, ctx, Entity::User, user.id, AuditAction::Create, none(), Some(&user)).await?;
        if let Some(k) = key {
            let info = insert_api_key(&mut tx, ctx.tenant_id, user.id, &k, ctx.now).await?;
            audit_ctx(&mut tx, ctx, Entity::ApiKey, info.id, AuditAction::Create, none(), Some(&info)).await?;
        }
        commit(tx).await?;
        Ok(user)
    }

    async fn get_user(&self, tenant: Id, id: Id) -> Result<User> {
        let mut tx = self.read().await?;
        let u = user_or_404(&mut tx, tenant, id).await?;
        commit(tx).await?;
        Ok(u)
    }

    async fn find_user_by_name(&self, tenant: Id, username: &str) -> Result<(User, String)> {
        refuse_nul(Entity::User, username)?;
        let row = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            ", password_hash FROM users WHERE tenant_id = $1 AND lower(username) = lower($2)"
        ))
        .bind(tenant)
        .bind(username)
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found(Entity::User, username))?;
        Ok((user_of(&row)?, col(&row, "password_hash")?))
    }

    async fn list_users(&self, tenant: Id, page: PageRequest) -> Result<Page<User>> {
        let rows =
            sqlx::query(concat!("SELECT ", user_cols!(), " FROM users WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3 OFFSET $4"))
                .bind(tenant)
                .bind(page.after)
                .bind(fetch_limit(page.limit))
                .bind(offset_of(page.offset))
                .fetch_all(&self.reader)
                .await
                .map_err(db_err)?;
        Ok(page_of(rows.iter().map(user_of).collect::<Result<Vec<_>>>()?, page.limit))
    }

    async fn update_user(&self, ctx: &WriteCtx, id: Id, c: UserChanges, expected_version: Option<i64>) -> Result<User> {
        let _forget = self.forgets(crate::cache::Change::Principals);
        let mut tx = self.write_locking(Entity::User, id).await?;
        let before = user_or_404(&mut tx, ctx.tenant_id, id).await?;
        check_version(Entity::User, id, before.version, expected_version)?;
        let role = c.role.unwrap_or(before.role);
        let powers = c.powers.clone().unwrap_or_else(|| before.powers.clone());
        let done = sqlx::query(
            "UPDATE users SET role = $1, powers = $2, password_hash = COALESCE($3, password_hash), updated_at = $4, \
             version = version + 1 WHERE id = $5 AND version = $6",
        )
        .bind(role.as_str())
        .bind(to_json(&powers)?)
        .bind(c.password_hash.as_deref())
        .bind(ctx.now)
        .bind(id)
        .bind(before.version)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        expect_one(done, Entity::User, id, before.version)?;
        let after = user_or_404(&mut tx, ctx.tenant_id, id).await?;
        audit_ctx(&mut tx, ctx, Entity::User, id, AuditAction::Update, Some(&before), Some(&after)).await?;
        commit(tx).await?;
        Ok(after)
    }

    async fn delete_user(&self, ctx: &WriteCtx, id: Id, expected_version: Option<i64>) -> Result<()> {
        let _forget = self.forgets(crate::cache::Change::Principals);
        let mut tx = self.write_locking(Entity::User, id).await?;
        let before = user_or_404(&mut tx, ctx.tenant_id, id).await?;
        check_version(Entity::User, id, before.version, expected_version)?;
        sqlx::query("DELETE FROM api_keys WHERE user_id = $1").bind(id).execute(&mut *tx).await.map_err(db_err)?;
        let done = sqlx::query("DELETE FROM users WHERE id = $1 AND version = $2")
            .bind(id)
            .bind(before.version)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        expect_one(done, Entity::User, id, before.version)?;
        audit_ctx(&mut tx, ctx, Entity::User, id, AuditAction::Delete, Some(&before), none()).await?;
        commit(tx).await
    }

    async fn create_api_key(&self, ctx: &WriteCtx, user_id: Id, key: NewApiKey) -> Result<ApiKeyInfo> {
        let mut tx = self.write().await?;
        user_or_404(&mut tx, ctx.tenant_id, user_id).await?;
        let info = insert_api_key(&mut tx, ctx.tenant_id, user_id, &key, ctx.now).await?;
        audit_ctx(&mut tx, ctx, Entity::ApiKey, info.id, AuditAction::Create, none(), Some(&info)).await?;
        commit(tx).await?;
        Ok(info)
    }

    async fn list_api_keys(&self, tenant: Id, user_id: Option<Id>, page: PageRequest) -> Result<Page<ApiKeyInfo>> {
        let q = match user_id {
            Some(u) => sqlx::query(concat!(
                "SELECT ",
                key_cols!(),
                " FROM api_keys WHERE tenant_id = $1 AND id > $2 AND user_id = $5 ORDER BY id LIMIT $3 OFFSET $4"
            ))
            .bind(tenant)
            .bind(page.after)
            .bind(fetch_limit(page.limit))
            .bind(offset_of(page.offset))
            .bind(u),
            None => sqlx::query(concat!(
                "SELECT ",
                key_cols!(),
                " FROM api_keys WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3 OFFSET $4"
            ))
            .bind(tenant)
            .bind(page.after)
            .bind(fetch_limit(page.limit))
            .bind(offset_of(page.offset)),
        };
        let rows = q.fetch_all(&self.reader).await.map_err(db_err)?;
        Ok(page_of(rows.iter().map(key_of).collect::<Result<Vec<_>>>()?, page.limit))
    }

    async fn get_api_key(&self, tenant: Id, id: Id) -> Result<ApiKeyInfo> {
        let mut tx = self.read().await?;
        let k = key_or_404(&mut tx, tenant, id).await?;
        commit(tx).await?;
        Ok(k)
    }

    async fn revoke_api_key(&self, ctx: &WriteCtx, id: Id) -> Result<ApiKeyInfo> {
        let _forget = self.forgets(crate::cache::Change::Principals);
        let mut tx = self.write().await?;
        let before = key_or_404(&mut tx, ctx.tenant_id, id).await?;
        if before.revoked_at.is_some() {
            // Already revoked: nothing changes, nothing to audit.
            commit(tx).await?;
            return Ok(before);
        }
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2").bind(ctx.now).bind(id).execute(&mut *tx).await.map_err(db_err)?;
        let after = key_or_404(&mut tx, ctx.tenant_id, id).await?;
        audit_ctx(&mut tx, ctx, Entity::ApiKey, id, AuditAction::Update, Some(&before), Some(&after)).await?;
        commit(tx).await?;
        Ok(after)
    }

    async fn authenticate_api_key(&self, key_hash: &str) -> Result<Option<Principal>> {
        let cache = self.fresh_cache()?;
        let ticket = match cache.map(|c| (c, c.principal(key_hash))) {
            Some((_, Cached::Hit(p))) => return Ok(Some(p)),
            Some((c, Cached::Miss(t))) => Some((c, t)),
            Some((_, Cached::Off)) | None => None,
        };
        let p = match &self.direct {
            Some(d) => d.authenticate_api_key(key_hash)?,
            None => {
                let row = sqlx::query(API_KEY_PRINCIPAL_SQL).bind(key_hash).fetch_optional(&self.reader).await.map_err(db_err)?;
                let Some(r) = row else { return Ok(None) };
                let (role, powers): (String, String) = (col(&r, "role")?, col(&r, "powers")?);
                let scim_key = scim_key_of(&col::<String>(&r, "scope")?, col(&r, "name")?)?;
                Some(key_principal(
                    col(&r, "key_id")?,
                    col(&r, "tenant_id")?,
                    col(&r, "user_id")?,
                    col(&r, "username")?,
                    &role,
                    &powers,
                    scim_key,
                )?)
            }
        };
        if let (Some((c, t)), Some(p)) = (ticket, &p) {
            c.keep_principal(t, key_hash, p);
        }
        Ok(p)
    }

    async fn touch_api_key(&self, id: Id, now: Millis) -> Result<()> {
        // Runs on every request: check on a reader first, so that the single
        // writer is taken at most once a minute per key.
        let cutoff = now - TOUCH_INTERVAL_MS;
        let stale: Option<Option<i64>> = match &self.direct {
            Some(d) => d.api_key_last_used(id)?,
            None => sqlx::query_scalar(API_KEY_LAST_USED_SQL).bind(id).fetch_optional(&self.reader).await.map_err(db_err)?,
        };
        match stale {
            None => return Ok(()),
            Some(Some(t)) if t >= cutoff => return Ok(()),
            _ => {}
        }
        let mut tx = self.write().await?;
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)")
            .bind(now)
            .bind(id)
            .bind(cutoff)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        commit(tx).await
    }

    // ---- agents -------------------------------------------------------------------------
}

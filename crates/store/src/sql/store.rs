// Shared SQL, part 2: the `Store` implementation. `include!`d after
// `common.rs`; the backend supplies `begin_write`.
//
// Every method that writes runs in exactly one transaction begun by
// `begin_write`, including its audit event; returning early with an error
// drops the transaction, which rolls it back. Reads use the reader pool, in a
// (read) transaction when they take more than one statement.

use crate::cache::Cached;
use switchboard_domain::{
    AgentChanges, AgentRecord, ApiKeyInfo, AuditEvent, Campaign, CampaignInput,
    Did, IdempotentResponse, ListInfo, Named, NewApiKey, NewTenant, NewUser, Page, Phone, PhoneInput,
    Principal, Service, ServiceInput, Skill, SkillInput, Store, Tenant, TenantSettings, User, UserChanges,
};

/// Idempotency records older than this are forgotten.
const IDEMPOTENCY_TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// `touch_api_key` writes at most this often per key.
const TOUCH_INTERVAL_MS: i64 = 60 * 1000;

const API_KEY_PRINCIPAL_SQL: &str = "SELECT k.id AS key_id, k.tenant_id, u.id AS user_id, u.username, u.role, u.powers \
     FROM api_keys k JOIN users u ON u.id = k.user_id \
     WHERE k.hash = $1 AND k.revoked_at IS NULL";
const API_KEY_LAST_USED_SQL: &str = "SELECT last_used_at FROM api_keys WHERE id = $1";

/// The principal of an `API_KEY_PRINCIPAL_SQL` row.
fn key_principal(key_id: Id, tenant_id: Id, user_id: Id, username: String, role: &str, powers: &str) -> Result<Principal> {
    Ok(Principal {
        tenant_id,
        user_id,
        username,
        role: role_of(role)?,
        powers: from_json(powers, "user powers")?,
        api_key_id: Some(key_id),
        agent_id: None,
    })
}

impl SqlStore {
    async fn write(&self) -> Result<DbTx> {
        let mut tx = begin_write(&self.writer).await?;
        if self.cache.is_none() {
            // Another process may be serving from a cache of the same data.
            announce_write(&mut tx).await?;
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
            if let Some(epoch) = cache_epoch(self)? {
                c.observe_epoch(epoch);
            }
        }
        Ok(Some(c))
    }

    /// Taken at the start of a write: forgets what it changes once it returns.
    fn forgets(&self, change: crate::cache::Change) -> crate::cache::ForgetOnDrop<'_> {
        crate::cache::ForgetOnDrop { cache: self.cache(), change }
    }
}

/// What an agent update changes for the caches: its row for the name index
/// only if it sets a last name (the index then re-reads it).
fn agent_change(id: Id, c: &AgentChanges) -> crate::cache::Change {
    if c.last_name.is_some() { crate::cache::Change::AgentRow(id) } else { crate::cache::Change::Agent(id) }
}

async fn commit(mut tx: DbTx) -> Result<()> {
    before_commit(&mut tx).await?;
    tx.commit().await.map_err(db_err)
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

async fn call_center_exists(c: &mut DbConn, tenant: Id, id: Id) -> Result<bool> {
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM call_centers WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(found.is_some())
}

async fn insert_api_key(c: &mut DbConn, tenant: Id, user: Id, key: &NewApiKey, now: Millis) -> Result<ApiKeyInfo> {
    let id: Id = sqlx::query_scalar(
        "INSERT INTO api_keys (tenant_id, user_id, name, prefix, hash, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(tenant)
    .bind(user)
    .bind(key.name.as_str())
    .bind(key.prefix.as_str())
    .bind(key.hash.as_str())
    .bind(now)
    .fetch_one(&mut *c)
    .await
    .map_err(db_err)?;
    Ok(ApiKeyInfo {
        id,
        user_id: user,
        name: key.name.clone(),
        prefix: key.prefix.clone(),
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
                "INSERT INTO ", $table, " (tenant_id, name, created_at, updated_at, version) VALUES ($1, $2, $3, $3, 1) RETURNING id"
            ),
            get: concat!("SELECT ", named_cols!(), " FROM ", $table, " WHERE tenant_id = $1 AND id = $2"),
            list: concat!(
                "SELECT ", named_cols!(), " FROM ", $table,
                " WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3 OFFSET $4"
            ),
            rename: concat!(
                "UPDATE ", $table, " SET name = $1, updated_at = $2, version = version + 1 WHERE id = $3 AND version = $4"
            ),
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
        self.cache().is_some_and(|c| c.is_live() && c.names.is_ready())
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
        };
        sqlx::query_scalar::<_, i64>(sql).bind(id).fetch_optional(&self.reader).await.map_err(db_err)
    }

    // ---- tenants ------------------------------------------------------------------

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
            sqlx::query("UPDATE tenants SET client_id = id WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    unique_err(e, &[Unique { index: "ux_tenants_client_id", entity: Entity::Tenant, field: "clientId", value: &id.to_string() }])
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
        let rows = sqlx::query(concat!("SELECT ", tenant_cols!(), " FROM tenants ORDER BY id"))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
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
        let row = sqlx::query(concat!(
            "SELECT ", user_cols!(), ", password_hash FROM users WHERE tenant_id = $1 AND lower(username) = lower($2)"
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
        let rows = sqlx::query(concat!(
            "SELECT ", user_cols!(), " FROM users WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3 OFFSET $4"
        ))
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
                "SELECT ", key_cols!(),
                " FROM api_keys WHERE tenant_id = $1 AND id > $2 AND user_id = $5 ORDER BY id LIMIT $3 OFFSET $4"
            ))
            .bind(tenant)
            .bind(page.after)
            .bind(fetch_limit(page.limit))
            .bind(offset_of(page.offset))
            .bind(u),
            None => sqlx::query(concat!(
                "SELECT ", key_cols!(), " FROM api_keys WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3 OFFSET $4"
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
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2")
            .bind(ctx.now)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
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
                Some(key_principal(col(&r, "key_id")?, col(&r, "tenant_id")?, col(&r, "user_id")?, col(&r, "username")?, &role, &powers)?)
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
        let id: Id = sqlx::query_scalar(
            "INSERT INTO agents (tenant_id, login_id, first_name, last_name, display_name, email, phone, wrap_up_time, \
             home_agent, active, locked, failed_logins, last_login, last_login_ip, password_last_modified, password_hash, \
             attributes, created_at, updated_at, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, NULL, NULL, $12, $13, $14, $15, $15, 1) RETURNING id",
        )
        .bind(tenant)
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
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unique_err(e, &[Unique { index: "ux_agents_login_id", entity: Entity::Agent, field: "loginId", value: &a.login_id }]))?;
        if let Some(h) = &a.password_hash {
            add_password_history(&mut tx, id, h, ctx.now).await?;
        }
        for s in &a.skills {
            upsert_agent_skill(&mut tx, id, s.skill_id, s.proficiency).await?;
        }
        for &sid in &a.service_ids {
            insert_agent_service(&mut tx, id, sid).await?;
        }
        upsert_agent_groups(&mut tx, id, &a.groups).await?;
        mark_list(&mut tx, tenant, Entity::Agent, id, ctx.now).await?;
        let detail = agent_detail_or_404(&mut tx, tenant, id).await?;
        audit_ctx(&mut tx, ctx, Entity::Agent, id, AuditAction::Create, none(), Some(&detail)).await?;
        commit(tx).await?;
        if let Some(c) = self.cache() {
            c.names.mark([id]);
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
        if let Some(found) = self.list_agents_by_name(tenant, filter, page).await? {
            return Ok(found);
        }
        if let Some(found) = self.list_agents_by_rank(tenant, filter, page).await? {
            return Ok(found);
        }
        let qb = agent_list_query(tenant, filter, page);
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
        let _forget = self.forgets(agent_change(id, &c));
        if let Some(d) = &self.direct {
            return d.update_agent(ctx, id, c, expected_version).await;
        }
        let mut tx = self.write().await?;
        let before = agent_detail_or_404(&mut tx, ctx.tenant_id, id).await?;
        check_version(Entity::Agent, id, before.agent.version, expected_version)?;
        let mut a = before.agent.clone();
        c.apply(&mut a, ctx.now);
        a.updated_at = ctx.now;
        a.version = before.agent.version + 1;
        write_agent(&mut tx, &a, before.agent.version).await?;
        if let Some(h) = &c.password_hash {
            sqlx::query(SET_PASSWORD_SQL)
                .bind(h.as_str())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            add_password_history(&mut tx, id, h, ctx.now).await?;
        }
        mark_list(&mut tx, ctx.tenant_id, Entity::Agent, id, ctx.now).await?;
        let after = agent_detail_or_404(&mut tx, ctx.tenant_id, id).await?;
        audit_ctx(&mut tx, ctx, Entity::Agent, id, AuditAction::Update, Some(&before), Some(&after)).await?;
        commit(tx).await?;
        Ok(after)
    }

    async fn delete_agent(&self, ctx: &WriteCtx, id: Id, expected_version: Option<i64>) -> Result<()> {
        let _forget = self.forgets(crate::cache::Change::AgentRow(id));
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
        let _forget = self.forgets(crate::cache::Change::Agent(id));
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
        let _forget = self.forgets(crate::cache::Change::Agent(agent));
        if let Some(d) = &self.direct {
            return d.assign_skill(ctx, agent, skill, proficiency).await;
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
        Ok(after)
    }

    async fn remove_skill(&self, ctx: &WriteCtx, agent: Id, skill: Id) -> Result<AgentDetail> {
        let _forget = self.forgets(crate::cache::Change::Agent(agent));
        if let Some(d) = &self.direct {
            return d.remove_skill(ctx, agent, skill).await;
        }
        let mut tx = self.write().await?;
        let before = agent_detail_or_404(&mut tx, ctx.tenant_id, agent).await?;
        if !skill_exists(&mut tx, ctx.tenant_id, skill).await? {
            return Err(Error::not_found(Entity::Skill, skill));
        }
        let n = sqlx::query(DELETE_AGENT_SKILL_SQL)
            .bind(agent)
            .bind(skill)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        let after = if n == 0 { before } else { finish_agent_change(&mut tx, ctx, &before).await? };
        commit(tx).await?;
        Ok(after)
    }

    async fn assign_service(&self, ctx: &WriteCtx, agent: Id, service: Id) -> Result<AgentDetail> {
        let _forget = self.forgets(crate::cache::Change::Agent(agent));
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
        Ok(after)
    }

    async fn remove_service(&self, ctx: &WriteCtx, agent: Id, service: Id) -> Result<AgentDetail> {
        let _forget = self.forgets(crate::cache::Change::Agent(agent));
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
        let after = if n == 0 { before } else { finish_agent_change(&mut tx, ctx, &before).await? };
        commit(tx).await?;
        Ok(after)
    }

    async fn set_group_memberships(&self, ctx: &WriteCtx, agent: Id, groups: &[GroupMembership]) -> Result<AgentDetail> {
        let _forget = self.forgets(crate::cache::Change::Agent(agent));
        if let Some(d) = &self.direct {
            return d.set_group_memberships(ctx, agent, groups).await;
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
        Ok(after)
    }

    async fn remove_group_membership(&self, ctx: &WriteCtx, agent: Id, group: Id) -> Result<AgentDetail> {
        let _forget = self.forgets(crate::cache::Change::Agent(agent));
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
        let after = if n == 0 { before } else { finish_agent_change(&mut tx, ctx, &before).await? };
        commit(tx).await?;
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
        let mut agent = before.agent.clone();
        c.apply(&mut agent, ctx.now);
        agent.updated_at = ctx.now;
        agent.version = before.agent.version + 1;
        write_agent(&mut tx, &agent, before.agent.version).await?;
        if let Some(h) = &c.password_hash {
            sqlx::query(SET_PASSWORD_SQL)
                .bind(h.as_str())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            add_password_history(&mut tx, id, h, ctx.now).await?;
        }
        for skill in remove_skills {
            sqlx::query(DELETE_AGENT_SKILL_SQL)
                .bind(id)
                .bind(skill)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
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
        mark_list(&mut tx, ctx.tenant_id, Entity::Agent, id, ctx.now).await?;
        let after = agent_detail_or_404(&mut tx, ctx.tenant_id, id).await?;
        audit_ctx(&mut tx, ctx, Entity::Agent, id, AuditAction::Update, Some(&before), Some(&after)).await?;
        commit(tx).await?;
        Ok(after)
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

    async fn list_skills(&self, tenant: Id, page: PageRequest) -> Result<Page<Skill>> {
        let rows = sqlx::query(concat!(
            "SELECT ", skill_cols!(), " FROM skills WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3 OFFSET $4"
        ))
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
        sqlx::query("UPDATE phones SET version = version + 1, updated_at = $1 WHERE id IN (SELECT phone_id FROM phone_skills WHERE skill_id = $2)")
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
                "SELECT ", service_cols!(),
                " FROM services WHERE tenant_id = $1 AND id > $2 AND call_center_id = $5 ORDER BY id LIMIT $3 OFFSET $4"
            ))
            .bind(tenant)
            .bind(page.after)
            .bind(fetch_limit(page.limit))
            .bind(offset_of(page.offset))
            .bind(cc),
            None => sqlx::query(concat!(
                "SELECT ", service_cols!(), " FROM services WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3 OFFSET $4"
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

    async fn list_phones(&self, tenant: Id, page: PageRequest) -> Result<Page<Phone>> {
        let mut tx = self.read().await?;
        let rows = sqlx::query(concat!(
            "SELECT ", phone_cols!(), " FROM phones WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3 OFFSET $4"
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
        let done = sqlx::query("UPDATE phones SET number = $1, name = $2, updated_at = $3, version = version + 1 WHERE id = $4 AND version = $5")
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

    async fn list_dids(&self, tenant: Id, page: PageRequest) -> Result<Page<Did>> {
        let rows = sqlx::query(concat!(
            "SELECT ", did_cols!(), " FROM dids WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3 OFFSET $4"
        ))
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

    async fn list_campaigns(&self, tenant: Id, page: PageRequest) -> Result<Page<Campaign>> {
        let mut tx = self.read().await?;
        let rows = sqlx::query(concat!(
            "SELECT ", campaign_cols!(), " FROM campaigns WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3 OFFSET $4"
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

    async fn list_audit(&self, tenant: Id, entity: Option<Entity>, entity_id: Option<Id>, page: PageRequest) -> Result<Page<AuditEvent>> {
        // Newest first, so audit pages go backwards: `after` (when > 0) is the
        // last id of the previous page and the next page holds smaller ids.
        let mut qb = QueryBuilder::new(concat!("SELECT ", audit_cols!(), " FROM audit_events WHERE tenant_id = "));
        let p = qb.arg(Arg::Int(tenant));
        qb.push(&p);
        if let Some(e) = entity {
            let p = qb.arg(Arg::Text(e.as_str().to_string()));
            qb.push(&format!(" AND entity = {p}"));
        }
        if let Some(id) = entity_id {
            let p = qb.arg(Arg::Int(id));
            qb.push(&format!(" AND entity_id = {p}"));
        }
        if page.after > 0 {
            let p = qb.arg(Arg::Int(page.after));
            qb.push(&format!(" AND id < {p}"));
        }
        let lim = qb.arg(Arg::Int(fetch_limit(page.limit)));
        let off = qb.arg(Arg::Int(offset_of(page.offset)));
        qb.push(&format!(" ORDER BY id DESC LIMIT {lim} OFFSET {off}"));
        let rows = qb.build().fetch_all(&self.reader).await.map_err(db_err)?;
        Ok(page_of(rows.iter().map(audit_of).collect::<Result<Vec<_>>>()?, page.limit))
    }

    async fn claim_idempotency_key(&self, tenant: Id, key: &str, fingerprint: &str, now: Millis) -> Result<Option<IdempotentResponse>> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM idempotency_keys WHERE tenant_id = $1 AND created_at < $2")
            .bind(tenant)
            .bind(now - IDEMPOTENCY_TTL_MS)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (tenant_id, key, fingerprint, status, body, headers, created_at) \
             VALUES ($1, $2, $3, NULL, $4, '[]', $5) ON CONFLICT (tenant_id, key) DO NOTHING",
        )
        .bind(tenant)
        .bind(key)
        .bind(fingerprint)
        .bind(Vec::<u8>::new())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if inserted == 1 {
            commit(tx).await?;
            return Ok(None);
        }
        let row = sqlx::query("SELECT fingerprint, status, body, headers FROM idempotency_keys WHERE tenant_id = $1 AND key = $2")
            .bind(tenant)
            .bind(key)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        commit(tx).await?;
        let status: Option<i64> = col(&row, "status")?;
        let headers: String = col(&row, "headers")?;
        Ok(Some(IdempotentResponse {
            fingerprint: col(&row, "fingerprint")?,
            status: status.map(|s| u16::try_from(s).map_err(|_| Error::Storage(format!("stored status {s} out of range")))).transpose()?,
            body: col(&row, "body")?,
            headers: from_json(&headers, "idempotent response headers")?,
        }))
    }

    async fn complete_idempotency_key(&self, tenant: Id, key: &str, resp: &IdempotentResponse) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE idempotency_keys SET status = $1, body = $2, headers = $3 WHERE tenant_id = $4 AND key = $5")
            .bind(resp.status.map(i64::from))
            .bind(resp.body.clone())
            .bind(to_json(&resp.headers)?)
            .bind(tenant)
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        commit(tx).await
    }

    // ---- bulk import and export (sql/import.rs) ---------------------------------------------

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

    async fn create_import_job(&self, ctx: &WriteCtx, opts: switchboard_domain::ImportOptions, rows: usize) -> Result<switchboard_domain::ImportJob> {
        self.create_import_job_impl(ctx, opts, rows).await
    }

    async fn get_import_job(&self, tenant: Id, id: Id) -> Result<switchboard_domain::ImportJob> {
        self.get_import_job_impl(tenant, id).await
    }

    async fn update_import_job(&self, tenant: Id, id: Id, u: switchboard_domain::ImportJobUpdate) -> Result<()> {
        self.update_import_job_impl(tenant, id, u).await
    }

    async fn release_idempotency_key(&self, tenant: Id, key: &str) -> Result<()> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2")
            .bind(tenant)
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        commit(tx).await
    }
}

/// The id of the tenant's object named `name` (case-insensitive) by `sql`
/// (`$1` tenant, `$2` name); an unknown name is an invalid reference in `field`.
async fn id_by_name(c: &mut DbConn, sql: &'static str, tenant: Id, field: &str, entity: Entity, name: &str) -> Result<Id> {
    let id: Option<Id> = sqlx::query_scalar(sql).bind(tenant).bind(name).fetch_optional(&mut *c).await.map_err(db_err)?;
    id.ok_or_else(|| switchboard_domain::unknown(field, entity, name))
}

const AGENT_PRELOAD_SQL: &str = concat!(agent_detail_select!(), " WHERE id > $1 ORDER BY id LIMIT $2");

/// Fills the agent cache at start, in id order, in batches, while the server
/// already serves (reads that miss go to the database meanwhile): a cache
/// that fills only as agents are read leaves most reads of a large directory
/// to the database for a long time.
async fn preload_agents(pool: DbPool, cache: std::sync::Arc<crate::cache::ReadCache>, entries: usize) {
    const BATCH: i64 = 5_000;
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
    let (mut after, mut kept, mut seen) = (0i64, 0usize, 0usize);
    while seen < entries {
        let generations = cache.agent_generations();
        let rows = match sqlx::query(AGENT_PRELOAD_SQL).bind(after).bind(BATCH).fetch_all(&pool).await {
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
    tracing::info!(agents = kept, seconds = started.elapsed().as_secs_f64(), "agent cache preloaded");
}

// ---- the name index (cache/names.rs) ---------------------------------------------------

impl SqlStore {
    /// The name index's cache, and whether the order is descending, where
    /// the index can serve `sort` (id order) now.
    fn index_in_id_order(&self, sort: switchboard_domain::AgentSort) -> Result<Option<(&crate::cache::ReadCache, bool)>> {
        use switchboard_domain::AgentSort;
        let descending = match sort {
            AgentSort::IdAsc => false,
            AgentSort::IdDesc => true,
            _ => return Ok(None),
        };
        Ok(self.fresh_cache()?.filter(|c| c.is_live()).map(|c| (c, descending)))
    }

    /// A last-name search in id order, answered by the name index (only the
    /// page's rows are read, from the agent cache or by id), or None where
    /// the database's text indexes must answer: other filters, another
    /// order, a text shorter than a trigram, an index not ready.
    async fn list_agents_by_name(&self, tenant: Id, filter: &AgentFilter, page: PageRequest) -> Result<Option<Page<Agent>>> {
        let blank = |s: &Option<String>| s.as_deref().is_none_or(|s| s.trim().is_empty());
        let Some(text) = filter.last_name_contains.as_deref().map(str::trim).filter(|t| !t.is_empty()) else { return Ok(None) };
        let only_name = blank(&filter.q) && blank(&filter.login_id_contains) && blank(&filter.phone_contains);
        if !only_name || filter.active.is_some() || filter.skill_id.is_some() || filter.service_id.is_some() || filter.group_id.is_some() {
            return Ok(None);
        }
        let Some((cache, descending)) = self.index_in_id_order(filter.sort)? else { return Ok(None) };
        let skip = usize::try_from(page.offset).unwrap_or(usize::MAX);
        let need = skip.saturating_add(page.limit as usize + 1);
        let mut query = crate::cache::NameQuery { tenant, text, descending, after: page.after, resume: None, known_pending: &[], want: need.min(1_000) };
        let Some(first) = cache.names.search(&query) else { return Ok(None) };
        let lower = first.lower.clone();
        let matches = |a: &Agent| a.tenant_id == tenant && a.id > page.after && crate::cache::contains_lower(&a.last_name, &lower);
        // Changed since the index last read them: their rows decide, merged
        // in order with the index's matches below.
        let pending: Vec<Agent> =
            if first.pending.is_empty() { Vec::new() } else { self.agents_by_ids(tenant, &first.pending).await?.into_iter().filter(|a| matches(a)).collect() };
        let known_pending = first.pending.clone();
        query.known_pending = &known_pending;
        // Candidates in order, each checked against its row (the agent cache's,
        // or read by id), until `need` match or the candidates run out.
        let mut found: Vec<Agent> = Vec::new();
        let mut batch = first;
        loop {
            found.extend(self.agent_rows(cache, tenant, &batch.ids).await?.into_iter().filter(|a| matches(a)));
            let (Some(&last), false) = (batch.ids.last(), batch.exhausted || found.len() >= need) else { break };
            // Most candidates match: ask for what is missing and a little more.
            query.resume = Some(last);
            query.want = (need - found.len()).saturating_add(16).min(1_000);
            match cache.names.search(&query) {
                Some(next) => batch = next,
                // Invalidated meanwhile: the database answers the whole page.
                None => return Ok(None),
            }
        }
        if !pending.is_empty() {
            found.extend(pending);
            found.sort_unstable_by_key(|a| a.id);
            if descending {
                found.reverse();
            }
        }
        let items = found.into_iter().skip(skip).take(page.limit as usize + 1).collect();
        Ok(Some(page_of(items, page.limit)))
    }

    /// A page of the whole list (no filter) at an offset, in id order, by
    /// rank in the name index's member bitmaps (`NameIndex::page`): a
    /// database walks past every agent before the offset (at 1M agents,
    /// LiveVox's random-offset paging ran at 153/s on SQLite, 66/s on
    /// PostgreSQL). None where the database answers.
    async fn list_agents_by_rank(&self, tenant: Id, filter: &AgentFilter, page: PageRequest) -> Result<Option<Page<Agent>>> {
        let unfiltered = AgentFilter { sort: filter.sort, ..AgentFilter::default() };
        if page.offset == 0 || *filter != unfiltered {
            return Ok(None);
        }
        let Some((cache, descending)) = self.index_in_id_order(filter.sort)? else { return Ok(None) };
        let Some(ids) = cache.names.page(tenant, descending, page.after, page.offset, page.limit as usize + 1) else { return Ok(None) };
        // An agent deleted since leaves its page one short: as if read a moment earlier.
        Ok(Some(page_of(self.agent_rows(cache, tenant, &ids).await?, page.limit)))
    }

    /// These agents' rows in the order given, from the agent cache where it
    /// has them, read by id otherwise; an id without a row is left out.
    async fn agent_rows(&self, cache: &crate::cache::ReadCache, tenant: Id, ids: &[Id]) -> Result<Vec<Agent>> {
        let mut rows: std::collections::HashMap<Id, Agent> = std::collections::HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        for &id in ids {
            match cache.agent_row(id) {
                Some(a) if a.tenant_id == tenant => {
                    rows.insert(id, a);
                }
                Some(_) => {}
                None => missing.push(id),
            }
        }
        if !missing.is_empty() {
            rows.extend(self.agents_by_ids(tenant, &missing).await?.into_iter().map(|a| (a.id, a)));
        }
        Ok(ids.iter().filter_map(|id| rows.remove(id)).collect())
    }

    /// A tenant's agents with these ids, in no particular order.
    async fn agents_by_ids(&self, tenant: Id, ids: &[Id]) -> Result<Vec<Agent>> {
        let mut qb = QueryBuilder::new(concat!("SELECT ", agent_cols!(), " FROM agents a WHERE a.tenant_id = "));
        let p = qb.arg(Arg::Int(tenant));
        qb.push(&p);
        qb.push(" AND a.id IN ");
        qb.push_ids(ids);
        if let Some(d) = &self.direct {
            return d.list_agents(qb.sql, &qb.args).await;
        }
        let rows = qb.build().fetch_all(&self.reader).await.map_err(db_err)?;
        rows.iter().map(agent_of).collect()
    }
}

const NAME_ROWS_SQL: &str = "SELECT id, tenant_id, last_name FROM agents WHERE id > $1 ORDER BY id LIMIT $2";

/// Keeps the name index: builds it whenever it is not ready while the cache
/// is live, and re-reads the rows of pending agents (`cache/names.rs`).
async fn maintain_names(pool: DbPool, cache: std::sync::Arc<crate::cache::ReadCache>) {
    use std::time::Duration;
    let names = &cache.names;
    loop {
        names.wake.notified().await;
        loop {
            if !names.is_ready() && cache.is_live() {
                match build_names(&pool, &cache).await {
                    Ok(true) => {}
                    // Invalidated while building: again.
                    Ok(false) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "name index: build failed; searches read the database meanwhile");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                }
            }
            // Writes come in bursts: a millisecond gathers them in one read.
            tokio::time::sleep(Duration::from_millis(1)).await;
            let marks = names.pending_marks();
            if marks.is_empty() {
                break;
            }
            let ids: Vec<Id> = marks.iter().map(|(id, _)| *id).collect();
            match name_rows(&pool, &ids).await {
                Ok(rows) => names.reconcile(&marks, &rows),
                Err(e) => {
                    tracing::warn!(error = %e, "name index: cannot re-read changed agents; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
}

/// Reads every agent's name into a new index; false if it was invalidated
/// meanwhile (or cannot serve).
async fn build_names(pool: &DbPool, cache: &crate::cache::ReadCache) -> Result<bool> {
    const BATCH: i64 = 20_000;
    let started = std::time::Instant::now();
    let seen = cache.names.begin_build();
    let mut built = crate::cache::Names::default();
    let mut after = 0i64;
    loop {
        let rows = sqlx::query(NAME_ROWS_SQL).bind(after).bind(BATCH).fetch_all(pool).await.map_err(db_err)?;
        let Some(last) = rows.last() else { break };
        after = col(last, "id")?;
        let batch = rows.iter().map(|r| Ok((col(r, "id")?, col(r, "tenant_id")?, col(r, "last_name")?))).collect::<Result<Vec<(Id, Id, String)>>>()?;
        // Off the async workers: a batch is ~10 ms of hashing.
        built = tokio::task::spawn_blocking(move || {
            crate::cache::names_build(batch, &mut built);
            built
        })
        .await
        .map_err(|e| Error::Storage(format!("name index build: {e}")))?;
    }
    let (agents, bytes) = (built.agents(), built.bytes());
    let ready = cache.names.finish_build(built, seen);
    if ready {
        tracing::info!(agents, megabytes = bytes >> 20, seconds = started.elapsed().as_secs_f64(), "name index built");
    }
    Ok(ready)
}

/// Pending agents' rows as they are now: id → (tenant, last name); an id
/// absent is an agent gone.
async fn name_rows(pool: &DbPool, ids: &[Id]) -> Result<std::collections::HashMap<Id, (Id, String)>> {
    let mut found = std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        let mut qb = QueryBuilder::new("SELECT id, tenant_id, last_name FROM agents WHERE id IN ");
        qb.push_ids(chunk);
        for r in qb.build().fetch_all(pool).await.map_err(db_err)? {
            found.insert(col(&r, "id")?, (col(&r, "tenant_id")?, col(&r, "last_name")?));
        }
    }
    Ok(found)
}

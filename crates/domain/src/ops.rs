//! The operations every API calls: each checks who may do it, validates, and
//! makes exactly one store call (one transaction). Dialects only translate.

use crate::error::{Entity, Error, Result, Rule};
use crate::input::*;
use crate::model::*;
use crate::secret::{self, blocking, PasswordPolicy};
use crate::session::{new_session_id, MemorySessions, Session, SessionStore};
use crate::store::traits::*;
use crate::store::{Named, WriteCtx};
use crate::validate as v;
use std::sync::Arc;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Millis;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    }
}

impl Principal {
    /// LiveVox: Sysadmin, IT User, Superuser, or Manager with "Administer Agents".
    pub fn can_administer_agents(&self) -> bool {
        match self.role {
            Role::Sysadmin | Role::ItUser | Role::Superuser => self.agent_id.is_none(),
            Role::Manager => self.powers.contains(&Power::AdministerAgents) && self.agent_id.is_none(),
            Role::Agent => false,
        }
    }

    pub fn require_agent_admin(&self) -> Result<()> {
        if self.can_administer_agents() {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }

    /// Users, tenant settings and everyone's keys: Sysadmin only.
    pub fn require_sysadmin(&self) -> Result<()> {
        if self.role == Role::Sysadmin && self.agent_id.is_none() {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }

    /// The audit trail: any administrator, not the Agent role.
    pub fn require_staff(&self) -> Result<()> {
        if self.role != Role::Agent && self.agent_id.is_none() {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }
}

/// What creating a tenant (or user) hands back once: secrets in clear.
#[derive(Debug, Clone)]
pub struct Issued<T> {
    pub value: T,
    pub password: Option<String>,
    pub api_key: Option<String>,
}

#[derive(Clone)]
pub struct Directory {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    sessions: Arc<dyn SessionStore>,
    /// What names each tenant, fixed when it is created (no operation
    /// renames a tenant or changes its client id, and none deletes one):
    /// read once each. LiveVox checks the caller's client id on every list
    /// and search, and the console shows the tenant's name on every page:
    /// a read of the tenant each.
    identities: Arc<std::sync::RwLock<std::collections::HashMap<Id, TenantIdentity>>>,
}

/// A tenant's name and LiveVox client id.
#[derive(Clone)]
struct TenantIdentity {
    name: Arc<str>,
    client_id: Id,
}

/// How a session lives: sliding idle expiry and/or a fixed lifetime.
#[derive(Debug, Clone)]
pub struct SessionTerms {
    pub kind: &'static str,
    pub idle_ttl: Millis,
    pub lifetime: Option<Millis>,
    /// Logins with the same key get the same still-valid session back.
    pub reuse_key: Option<String>,
}

impl Directory {
    /// A directory with sessions kept in this process's memory.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Directory { store, clock, sessions: Arc::new(MemorySessions::default()), identities: Arc::default() }
    }

    /// Keeps sessions elsewhere (e.g. shared by several instances).
    pub fn with_sessions(mut self, sessions: Arc<dyn SessionStore>) -> Self {
        self.sessions = sessions;
        self
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    pub(crate) fn ctx(&self, p: &Principal) -> WriteCtx {
        WriteCtx { tenant_id: p.tenant_id, actor: Actor::of(p), now: self.clock.now() }
    }

    // ---- authentication ------------------------------------------------

    /// Resolves an API key to its principal; unknown and revoked keys fail alike.
    pub async fn authenticate_key(&self, key: &str) -> Result<Principal> {
        if key.is_empty() || key.len() > 200 {
            return Err(Error::Unauthenticated);
        }
        // The store keeps principals in memory, coherent across instances
        // (docs/design.md): no second cache here, which could not be told
        // of a key revoked elsewhere.
        let p = self.authenticate_any_key(key).await?;
        // A SCIM key serves /scim/v2 only (`authenticate_scim_key`).
        if p.scim_key.is_some() {
            return Err(Error::Forbidden);
        }
        Ok(p)
    }

    /// Resolves a key of scope `scim` (SCIM provisioning); another key of
    /// the tenant is refused (`Forbidden`), an unknown one `Unauthenticated`.
    pub async fn authenticate_scim_key(&self, key: &str) -> Result<Principal> {
        let p = self.authenticate_any_key(key).await?;
        if p.scim_key.is_none() {
            return Err(Error::Forbidden);
        }
        Ok(p)
    }

    async fn authenticate_any_key(&self, key: &str) -> Result<Principal> {
        if key.is_empty() || key.len() > 200 {
            return Err(Error::Unauthenticated);
        }
        let hash = secret::hash_api_key(key);
        self.store.authenticate_api_key(&hash).await?.ok_or(Error::Unauthenticated)
    }

    /// Checks a user's password; unknown user and wrong password fail alike.
    pub async fn authenticate_user(&self, tenant: Id, username: &str, password: &str) -> Result<User> {
        let (user, hash) = match self.store.find_user_by_name(tenant, username).await {
            Ok(found) => found,
            Err(Error::NotFound { .. }) => {
                // Same work as a real check, so timing does not reveal which users exist.
                let pw = password.to_string();
                blocking(move || secret::verify_password(&pw, DUMMY_HASH)).await;
                return Err(Error::Unauthenticated);
            }
            Err(e) => return Err(e),
        };
        let pw = password.to_string();
        if blocking(move || secret::verify_password(&pw, &hash)).await {
            Ok(user)
        } else {
            Err(Error::Unauthenticated)
        }
    }

    /// A user's login: the username is case-sensitive (LiveVox), the password
    /// checked against its argon2id hash.
    pub async fn login_user(&self, tenant: Id, username: &str, password: &str) -> Result<Principal> {
        let user = self.authenticate_user(tenant, username, password).await?;
        if user.username != username {
            return Err(Error::Unauthenticated);
        }
        Ok(Principal {
            tenant_id: tenant,
            user_id: user.id,
            username: user.username,
            role: user.role,
            powers: user.powers,
            api_key_id: None,
            agent_id: None,
            scim_key: None,
        })
    }

    /// An agent's login (loginId case-insensitive). Stamps lastLogin and its
    /// IP on success; counts failures and locks the agent after the tenant's
    /// threshold. A locked agent cannot log in, even with the right password.
    pub async fn login_agent(&self, tenant: Id, login_id: &str, password: &str, ip: Option<&str>) -> Result<Principal> {
        let threshold = self.store.get_tenant(tenant).await?.settings.agent_lockout_threshold;
        let agent = match self.store.find_agent_by_login_id(tenant, &login_id.trim().to_uppercase()).await {
            Ok(a) => a.agent,
            Err(Error::NotFound { .. }) => {
                let pw = password.to_string();
                blocking(move || secret::verify_password(&pw, DUMMY_HASH)).await;
                return Err(Error::Unauthenticated);
            }
            Err(e) => return Err(e),
        };
        let current = self.store.agent_password_hashes(tenant, agent.id, 1).await?.into_iter().next();
        let pw = password.to_string();
        let ok = blocking(move || secret::verify_password(&pw, current.as_deref().unwrap_or(DUMMY_HASH))).await && agent.has_password;
        if agent.locked {
            return Err(Error::Locked);
        }
        let now = self.clock.now();
        let after = self.store.record_agent_login(tenant, agent.id, ok, ip, threshold, now).await?;
        if !ok {
            return Err(if after.locked { Error::Locked } else { Error::Unauthenticated });
        }
        Ok(Principal {
            tenant_id: tenant,
            user_id: 0,
            username: after.login_id,
            role: Role::Agent,
            powers: vec![],
            api_key_id: None,
            agent_id: Some(agent.id),
            scim_key: None,
        })
    }

    /// Opens a session for a principal (or returns the live one with the same
    /// reuse key).
    pub async fn open_session(&self, principal: Principal, terms: SessionTerms) -> Result<Session> {
        let now = self.clock.now();
        if let Some(k) = &terms.reuse_key {
            if let Some(s) = self.sessions.find_reusable(k, now).await? {
                if s.principal == principal {
                    return Ok(s);
                }
            }
        }
        let s = Session {
            id: new_session_id(),
            kind: terms.kind.to_string(),
            principal,
            created_at: now,
            last_seen: now,
            idle_ttl: terms.idle_ttl,
            expires_at: terms.lifetime.map(|l| now + l),
            reuse_key: terms.reuse_key,
        };
        self.sessions.insert(s.clone()).await?;
        Ok(s)
    }

    /// The principal of a live session (its idle timer restarts).
    pub async fn session(&self, id: &str) -> Result<Session> {
        if id.is_empty() || id.len() > 200 {
            return Err(Error::Unauthenticated);
        }
        self.sessions.touch(id, self.clock.now()).await?.ok_or(Error::Unauthenticated)
    }

    pub async fn end_session(&self, id: &str) -> Result<bool> {
        self.sessions.remove(id).await
    }

    // ---- tenants ----------------------------------------------------------

    /// Creates a tenant with its first Sysadmin user and API key (operator only).
    pub async fn create_tenant(&self, name: &str, client_id: Option<i64>) -> Result<Issued<(Tenant, User)>> {
        let t = NewTenant::validate(name, client_id)?;
        let password = secret::generate_password();
        let api_key = secret::generate_api_key();
        let pw = password.clone();
        let admin = NewUser {
            username: "admin".into(),
            password_hash: blocking(move || secret::hash_password(&pw)).await,
            role: Role::Sysadmin,
            powers: vec![Power::AdministerAgents],
        };
        let key = new_key("initial", &api_key);
        let (tenant, user) = self.store.create_tenant(t, admin, key, Actor::cli(), self.clock.now()).await?;
        Ok(Issued { value: (tenant, user), password: Some(password), api_key: Some(api_key) })
    }

    pub async fn get_tenant(&self, p: &Principal) -> Result<Tenant> {
        self.store.get_tenant(p.tenant_id).await
    }

    /// The caller's tenant's client id (LiveVox `client`).
    pub async fn client_id(&self, p: &Principal) -> Result<Id> {
        Ok(self.identity(p.tenant_id).await?.client_id)
    }

    /// The caller's tenant's name.
    pub async fn tenant_name(&self, p: &Principal) -> Result<Arc<str>> {
        Ok(self.identity(p.tenant_id).await?.name)
    }

    async fn identity(&self, tenant: Id) -> Result<TenantIdentity> {
        if let Some(i) = self.identities.read().unwrap_or_else(|e| e.into_inner()).get(&tenant) {
            return Ok(i.clone());
        }
        let t = self.store.get_tenant(tenant).await?;
        let i = TenantIdentity { name: t.name.into(), client_id: t.client_id };
        self.identities.write().unwrap_or_else(|e| e.into_inner()).insert(tenant, i.clone());
        Ok(i)
    }

    pub async fn update_tenant_settings(&self, p: &Principal, patch: serde_json::Value, expected: Option<i64>) -> Result<Tenant> {
        p.require_sysadmin()?;
        let settings = self.merged_settings(p.tenant_id, patch).await?;
        self.store.update_tenant_settings(&self.ctx(p), settings, expected).await
    }

    /// Operator path (CLI): settings of a tenant changed as `patch` says
    /// (the same merge and checks as `PATCH /api/v1/tenant`).
    pub async fn update_tenant_settings_as_operator(&self, tenant: Id, patch: serde_json::Value) -> Result<Tenant> {
        let settings = self.merged_settings(tenant, patch).await?;
        let ctx = WriteCtx { tenant_id: tenant, actor: Actor::cli(), now: self.clock.now() };
        self.store.update_tenant_settings(&ctx, settings, None).await
    }

    /// A tenant's settings with the known settings of `patch` replaced.
    async fn merged_settings(&self, tenant: Id, patch: serde_json::Value) -> Result<TenantSettings> {
        let current = self.store.get_tenant(tenant).await?;
        let mut merged = serde_json::to_value(&current.settings).map_err(|e| Error::Storage(e.to_string()))?;
        let serde_json::Value::Object(patch) = patch else {
            return Err(Error::invalid("body", Rule::Format { expected: "a JSON object" }));
        };
        if patch.is_empty() {
            return Err(Error::invalid("body", Rule::NothingToUpdate));
        }
        for (k, val) in patch {
            if merged.get(&k).is_none() {
                return Err(Error::invalid(k, Rule::Format { expected: "a known setting" }));
            }
            merged[k] = val;
        }
        let settings: TenantSettings = serde_json::from_value(merged)
            .map_err(|_| Error::invalid("settings", Rule::Format { expected: "settings of the documented types" }))?;
        validate_settings(&settings)?;
        Ok(settings)
    }

    // ---- users and keys -------------------------------------------------

    /// Creates a user with a generated password and, if asked, an API key.
    // Each argument is a field of the request (the CLI and the API each pass them).
    #[allow(clippy::too_many_arguments)]
    pub async fn create_user(
        &self,
        p: Option<&Principal>,
        tenant: Id,
        username: &str,
        role: Role,
        powers: Vec<Power>,
        password: Option<String>,
        with_key: bool,
    ) -> Result<Issued<User>> {
        let ctx = match p {
            Some(p) => {
                p.require_sysadmin()?;
                self.ctx(p)
            }
            None => WriteCtx { tenant_id: tenant, actor: Actor::cli(), now: self.clock.now() },
        };
        let username = v::username(username)?;
        let generated = password.is_none();
        let password = match password {
            Some(pw) => {
                PasswordPolicy::ON_CREATE.check(&pw)?;
                pw
            }
            None => secret::generate_password(),
        };
        let pw = password.clone();
        let hash = blocking(move || secret::hash_password(&pw)).await;
        let api_key = with_key.then(secret::generate_api_key);
        let user = self
            .store
            .create_user(
                &ctx,
                NewUser { username, password_hash: hash, role, powers: dedup(powers) },
                api_key.as_deref().map(|k| new_key("initial", k)),
            )
            .await?;
        Ok(Issued { value: user, password: generated.then_some(password), api_key })
    }

    pub async fn get_user(&self, p: &Principal, id: Id) -> Result<User> {
        if p.user_id != id {
            p.require_sysadmin()?;
        }
        self.store.get_user(p.tenant_id, id).await
    }

    pub async fn list_users(&self, p: &Principal, page: PageRequest) -> Result<Page<User>> {
        p.require_sysadmin()?;
        self.store.list_users(p.tenant_id, page).await
    }

    pub async fn update_user(&self, p: &Principal, id: Id, patch: UserPatch, expected: Option<i64>) -> Result<User> {
        p.require_sysadmin()?;
        if patch.role.is_none() && patch.powers.is_none() && patch.password.is_none() {
            return Err(Error::invalid("body", Rule::NothingToUpdate));
        }
        let password_hash = match patch.password {
            Some(pw) => {
                PasswordPolicy::ON_UPDATE.check(&pw)?;
                Some(blocking(move || secret::hash_password(&pw)).await)
            }
            None => None,
        };
        let c = UserChanges { role: patch.role, powers: patch.powers.map(dedup), password_hash };
        let r = self.store.update_user(&self.ctx(p), id, c, expected).await;
        r
    }

    pub async fn delete_user(&self, p: &Principal, id: Id, expected: Option<i64>) -> Result<()> {
        p.require_sysadmin()?;
        if id == p.user_id {
            return Err(Error::invalid("id", Rule::Format { expected: "another user than the caller" }));
        }
        let r = self.store.delete_user(&self.ctx(p), id, expected).await;
        r
    }

    /// Issues a key for the caller, or (Sysadmin) for another user.
    pub async fn create_api_key(&self, p: &Principal, user_id: Option<Id>, name: Option<String>) -> Result<Issued<ApiKeyInfo>> {
        self.create_scoped_api_key(p, user_id, name, KeyScope::Api).await
    }

    /// [`Directory::create_api_key`] with a scope: a `scim` key serves
    /// `/scim/v2` only, and only a Sysadmin issues one.
    pub async fn create_scoped_api_key(
        &self,
        p: &Principal,
        user_id: Option<Id>,
        name: Option<String>,
        scope: KeyScope,
    ) -> Result<Issued<ApiKeyInfo>> {
        if scope == KeyScope::Scim {
            p.require_sysadmin()?;
        }
        let owner = user_id.unwrap_or(p.user_id);
        if owner != p.user_id {
            p.require_sysadmin()?;
        }
        if p.agent_id.is_some() {
            return Err(Error::Forbidden);
        }
        let name = v::name("name", Some(name.as_deref().unwrap_or("api key")))?;
        let key = secret::generate_api_key();
        let info = self.store.create_api_key(&self.ctx(p), owner, new_key(&name, &key).scoped(scope)).await?;
        Ok(Issued { value: info, password: None, api_key: Some(key) })
    }

    /// Operator path (CLI): a key for a user of a tenant.
    pub async fn issue_api_key_as_operator(&self, tenant: Id, user_id: Id, name: &str, scope: KeyScope) -> Result<Issued<ApiKeyInfo>> {
        let key = secret::generate_api_key();
        let ctx = WriteCtx { tenant_id: tenant, actor: Actor::cli(), now: self.clock.now() };
        let info = self.store.create_api_key(&ctx, user_id, new_key(name, &key).scoped(scope)).await?;
        Ok(Issued { value: info, password: None, api_key: Some(key) })
    }

    /// Operator path (CLI): a new generated password for a user of a tenant.
    pub async fn reset_password_as_operator(&self, tenant: Id, user_id: Id) -> Result<Issued<User>> {
        let password = secret::generate_password();
        let pw = password.clone();
        let hash = blocking(move || secret::hash_password(&pw)).await;
        let ctx = WriteCtx { tenant_id: tenant, actor: Actor::cli(), now: self.clock.now() };
        let c = UserChanges { role: None, powers: None, password_hash: Some(hash) };
        let user = self.store.update_user(&ctx, user_id, c, None).await?;
        Ok(Issued { value: user, password: Some(password), api_key: None })
    }

    /// Operator path (CLI): revokes a key of a tenant named by its id or by
    /// its prefix (which must name one key).
    pub async fn revoke_api_key_as_operator(&self, tenant: Id, key: &str) -> Result<ApiKeyInfo> {
        let id = match key.parse::<Id>() {
            Ok(id) => self.store.get_api_key(tenant, id).await?.id,
            Err(_) => {
                let mut found = Vec::new();
                let mut page = PageRequest::first(500);
                loop {
                    let p = self.store.list_api_keys(tenant, None, page).await?;
                    page.after = p.items.last().map_or(page.after, |k| k.id);
                    found.extend(p.items.into_iter().filter(|k| k.prefix == key || (key.len() >= 6 && k.prefix.starts_with(key))));
                    if !p.has_more {
                        break;
                    }
                }
                match found.as_slice() {
                    [k] => k.id,
                    [] => return Err(Error::not_found(Entity::ApiKey, key)),
                    _ => {
                        return Err(Error::invalid(
                            "key",
                            Rule::Format { expected: "a prefix that names one key (several match; give the id)" },
                        ))
                    }
                }
            }
        };
        let ctx = WriteCtx { tenant_id: tenant, actor: Actor::cli(), now: self.clock.now() };
        self.store.revoke_api_key(&ctx, id).await
    }

    pub async fn list_api_keys(&self, p: &Principal, page: PageRequest) -> Result<Page<ApiKeyInfo>> {
        let only = if p.role == Role::Sysadmin { None } else { Some(p.user_id) };
        self.store.list_api_keys(p.tenant_id, only, page).await
    }

    pub async fn get_api_key(&self, p: &Principal, id: Id) -> Result<ApiKeyInfo> {
        let k = self.store.get_api_key(p.tenant_id, id).await?;
        if k.user_id != p.user_id && p.role != Role::Sysadmin {
            return Err(Error::not_found(Entity::ApiKey, id));
        }
        Ok(k)
    }

    pub async fn revoke_api_key(&self, p: &Principal, id: Id) -> Result<ApiKeyInfo> {
        self.get_api_key(p, id).await?;
        let r = self.store.revoke_api_key(&self.ctx(p), id).await;
        r
    }

    // ---- agents -----------------------------------------------------------

    pub async fn create_agent(&self, p: &Principal, a: NewAgent) -> Result<AgentDetail> {
        p.require_agent_admin()?;
        let mut rec = a.validate(&PasswordPolicy::ON_CREATE)?;
        if let Some(pw) = a.password {
            rec.password_hash = Some(blocking(move || secret::hash_password(&pw)).await);
        }
        self.store.create_agent(&self.ctx(p), rec).await
    }

    pub async fn get_agent(&self, p: &Principal, id: Id) -> Result<AgentDetail> {
        self.store.get_agent(p.tenant_id, id).await
    }

    pub async fn list_agents(&self, p: &Principal, f: &AgentFilter, page: PageRequest) -> Result<Page<Agent>> {
        if f.matches_nothing() {
            return Ok(Page { items: Vec::new(), has_more: false });
        }
        self.store.list_agents(p.tenant_id, f, page).await
    }

    pub async fn agent_list_info(&self, p: &Principal) -> Result<ListInfo> {
        self.store.agent_list_info(p.tenant_id).await
    }

    pub async fn agent_call_centers(&self, p: &Principal, id: Id) -> Result<Vec<Id>> {
        self.store.agent_call_centers(p.tenant_id, id).await
    }

    /// Updates an agent. A new password must not repeat the last 4. Values
    /// sent back unchanged (`patch.unchanged`) must still be the agent's;
    /// with nothing else to change, that is all there is to do.
    pub async fn update_agent(&self, p: &Principal, id: Id, patch: AgentPatch, expected: Option<i64>) -> Result<AgentDetail> {
        p.require_agent_admin()?;
        if let (true, Some(unchanged)) = (patch.is_empty(), &patch.unchanged) {
            let d = self.store.get_agent(p.tenant_id, id).await?;
            unchanged.check(&d)?;
            return Ok(d);
        }
        let policy = PasswordPolicy::ON_UPDATE;
        let mut changes = patch.validate(&policy)?;
        if let Some(pw) = patch.password {
            let previous = self.store.agent_password_hashes(p.tenant_id, id, policy.history).await?;
            changes.password_hash = Some(
                blocking(move || {
                    policy.check_history(&pw, &previous)?;
                    Ok::<_, Error>(secret::hash_password(&pw))
                })
                .await?,
            );
        }
        self.store.update_agent(&self.ctx(p), id, changes, expected).await
    }

    pub async fn delete_agent(&self, p: &Principal, id: Id, expected: Option<i64>) -> Result<()> {
        p.require_agent_admin()?;
        self.store.delete_agent(&self.ctx(p), id, expected).await
    }

    pub async fn unlock_agent(&self, p: &Principal, id: Id) -> Result<AgentDetail> {
        let patch = AgentPatch { locked: Some(false), ..Default::default() };
        self.update_agent(p, id, patch, None).await
    }

    pub async fn assign_skill(&self, p: &Principal, agent: Id, skill: Id, proficiency: i64) -> Result<AgentDetail> {
        p.require_agent_admin()?;
        v::proficiency(proficiency)?;
        self.store.assign_skill(&self.ctx(p), agent, skill, proficiency).await
    }

    pub async fn remove_skill(&self, p: &Principal, agent: Id, skill: Id) -> Result<AgentDetail> {
        p.require_agent_admin()?;
        self.store.remove_skill(&self.ctx(p), agent, skill).await
    }

    pub async fn assign_service(&self, p: &Principal, agent: Id, service: Id) -> Result<AgentDetail> {
        p.require_agent_admin()?;
        self.store.assign_service(&self.ctx(p), agent, service).await
    }

    pub async fn remove_service(&self, p: &Principal, agent: Id, service: Id) -> Result<AgentDetail> {
        p.require_agent_admin()?;
        self.store.remove_service(&self.ctx(p), agent, service).await
    }

    pub async fn set_group_memberships(&self, p: &Principal, agent: Id, groups: &[GroupMembership]) -> Result<AgentDetail> {
        p.require_agent_admin()?;
        if groups.is_empty() {
            return Err(Error::invalid("groups", Rule::Required));
        }
        v::no_duplicates("groups", groups.iter().map(|g| g.group_id))?;
        self.store.set_group_memberships(&self.ctx(p), agent, groups).await
    }

    /// One membership, for APIs that name the group in the path: an unknown
    /// group is "not found" there rather than a bad reference in a body.
    pub async fn assign_group(&self, p: &Principal, agent: Id, group: Id, receive_call: bool) -> Result<AgentDetail> {
        let m = GroupMembership { group_id: group, receive_call };
        match self.set_group_memberships(p, agent, &[m]).await {
            Err(Error::Invalid { rule: Rule::UnknownReference { entity: Entity::Group, id }, .. }) => {
                Err(Error::NotFound { entity: Entity::Group, id })
            }
            r => r,
        }
    }

    pub async fn remove_group_membership(&self, p: &Principal, agent: Id, group: Id) -> Result<AgentDetail> {
        p.require_agent_admin()?;
        self.store.remove_group_membership(&self.ctx(p), agent, group).await
    }

    // ---- skills -------------------------------------------------------------

    pub async fn create_skill(&self, p: &Principal, s: SkillInput) -> Result<Skill> {
        p.require_agent_admin()?;
        self.store.create_skill(&self.ctx(p), s.validate_new()?).await
    }

    pub async fn get_skill(&self, p: &Principal, id: Id) -> Result<Skill> {
        self.store.get_skill(p.tenant_id, id).await
    }

    pub async fn list_skills(&self, p: &Principal, page: PageRequest) -> Result<Page<Skill>> {
        self.store.list_skills(p.tenant_id, page).await
    }

    pub async fn skill_list_info(&self, p: &Principal) -> Result<ListInfo> {
        self.store.skill_list_info(p.tenant_id).await
    }

    pub async fn skill_assignments(&self, p: &Principal, id: Id) -> Result<Vec<(Id, i64)>> {
        self.store.skill_assignments(p.tenant_id, id).await
    }

    pub async fn update_skill(&self, p: &Principal, id: Id, s: SkillInput, expected: Option<i64>) -> Result<Skill> {
        p.require_agent_admin()?;
        self.store.update_skill(&self.ctx(p), id, s.validate_patch()?, expected).await
    }

    pub async fn delete_skill(&self, p: &Principal, id: Id, expected: Option<i64>) -> Result<()> {
        p.require_agent_admin()?;
        self.store.delete_skill(&self.ctx(p), id, expected).await
    }

    // ---- call centers and groups ------------------------------------------

    pub async fn create_named(&self, p: &Principal, kind: Entity, n: NamedInput) -> Result<Named> {
        p.require_agent_admin()?;
        self.store.create_named(&self.ctx(p), kind, n.validate()?).await
    }

    pub async fn get_named(&self, p: &Principal, kind: Entity, id: Id) -> Result<Named> {
        self.store.get_named(p.tenant_id, kind, id).await
    }

    pub async fn list_named(&self, p: &Principal, kind: Entity, page: PageRequest) -> Result<Page<Named>> {
        self.store.list_named(p.tenant_id, kind, page).await
    }

    pub async fn rename_named(&self, p: &Principal, kind: Entity, id: Id, n: NamedInput, expected: Option<i64>) -> Result<Named> {
        p.require_agent_admin()?;
        self.store.rename_named(&self.ctx(p), kind, id, n.validate()?, expected).await
    }

    pub async fn delete_named(&self, p: &Principal, kind: Entity, id: Id, expected: Option<i64>) -> Result<()> {
        p.require_agent_admin()?;
        self.store.delete_named(&self.ctx(p), kind, id, expected).await
    }

    // ---- services -------------------------------------------------------------

    pub async fn create_service(&self, p: &Principal, s: ServiceInput) -> Result<Service> {
        p.require_agent_admin()?;
        self.store.create_service(&self.ctx(p), s.validate_new()?).await
    }

    pub async fn get_service(&self, p: &Principal, id: Id) -> Result<Service> {
        self.store.get_service(p.tenant_id, id).await
    }

    pub async fn list_services(&self, p: &Principal, call_center: Option<Id>, page: PageRequest) -> Result<Page<Service>> {
        self.store.list_services(p.tenant_id, call_center, page).await
    }

    pub async fn update_service(&self, p: &Principal, id: Id, s: ServiceInput, expected: Option<i64>) -> Result<Service> {
        p.require_agent_admin()?;
        self.store.update_service(&self.ctx(p), id, s.validate_patch()?, expected).await
    }

    pub async fn delete_service(&self, p: &Principal, id: Id, expected: Option<i64>) -> Result<()> {
        p.require_agent_admin()?;
        self.store.delete_service(&self.ctx(p), id, expected).await
    }

    // ---- phones ---------------------------------------------------------------

    pub async fn create_phone(&self, p: &Principal, ph: PhoneInput) -> Result<Phone> {
        p.require_agent_admin()?;
        let ph = ph.validate_new()?;
        let limit = self.store.get_tenant(p.tenant_id).await?.settings.phone_number_limit;
        self.store.create_phone(&self.ctx(p), ph, limit).await
    }

    pub async fn get_phone(&self, p: &Principal, id: Id) -> Result<Phone> {
        self.store.get_phone(p.tenant_id, id).await
    }

    pub async fn list_phones(&self, p: &Principal, page: PageRequest) -> Result<Page<Phone>> {
        self.store.list_phones(p.tenant_id, page).await
    }

    pub async fn update_phone(&self, p: &Principal, id: Id, ph: PhoneInput, expected: Option<i64>) -> Result<Phone> {
        p.require_agent_admin()?;
        self.store.update_phone(&self.ctx(p), id, ph.validate_patch()?, expected).await
    }

    pub async fn delete_phone(&self, p: &Principal, id: Id, expected: Option<i64>) -> Result<()> {
        p.require_agent_admin()?;
        self.store.delete_phone(&self.ctx(p), id, expected).await
    }

    // ---- DIDs and campaigns ---------------------------------------------------

    pub async fn create_did(&self, p: &Principal, number: Option<String>) -> Result<Did> {
        p.require_agent_admin()?;
        let n = v::phone_number("number", number.as_deref().unwrap_or(""))?;
        self.store.create_did(&self.ctx(p), n).await
    }

    pub async fn get_did(&self, p: &Principal, id: Id) -> Result<Did> {
        self.store.get_did(p.tenant_id, id).await
    }

    pub async fn list_dids(&self, p: &Principal, page: PageRequest) -> Result<Page<Did>> {
        self.store.list_dids(p.tenant_id, page).await
    }

    pub async fn update_did(&self, p: &Principal, id: Id, number: Option<String>, expected: Option<i64>) -> Result<Did> {
        p.require_agent_admin()?;
        let n = v::phone_number("number", number.as_deref().unwrap_or(""))?;
        self.store.update_did(&self.ctx(p), id, n, expected).await
    }

    pub async fn delete_did(&self, p: &Principal, id: Id, expected: Option<i64>) -> Result<()> {
        p.require_agent_admin()?;
        self.store.delete_did(&self.ctx(p), id, expected).await
    }

    pub async fn create_campaign(&self, p: &Principal, c: CampaignInput) -> Result<Campaign> {
        p.require_agent_admin()?;
        self.store.create_campaign(&self.ctx(p), c.validate_new()?).await
    }

    pub async fn get_campaign(&self, p: &Principal, id: Id) -> Result<Campaign> {
        self.store.get_campaign(p.tenant_id, id).await
    }

    pub async fn list_campaigns(&self, p: &Principal, page: PageRequest) -> Result<Page<Campaign>> {
        self.store.list_campaigns(p.tenant_id, page).await
    }

    pub async fn update_campaign(&self, p: &Principal, id: Id, c: CampaignInput, expected: Option<i64>) -> Result<Campaign> {
        p.require_agent_admin()?;
        self.store.update_campaign(&self.ctx(p), id, c.validate_patch()?, expected).await
    }

    pub async fn delete_campaign(&self, p: &Principal, id: Id, expected: Option<i64>) -> Result<()> {
        p.require_agent_admin()?;
        self.store.delete_campaign(&self.ctx(p), id, expected).await
    }

    // ---- audit ----------------------------------------------------------------

    pub async fn list_audit(
        &self,
        p: &Principal,
        entity: Option<Entity>,
        entity_id: Option<Id>,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>> {
        p.require_staff()?;
        self.store.list_audit(p.tenant_id, entity, entity_id, page).await
    }
}

fn new_key(name: &str, key: &str) -> NewApiKey {
    NewApiKey { name: name.to_string(), scope: KeyScope::Api, prefix: secret::api_key_prefix(key), hash: secret::hash_api_key(key) }
}

fn dedup(mut powers: Vec<Power>) -> Vec<Power> {
    powers.sort();
    powers.dedup();
    powers
}

/// A valid argon2id hash of a random password, verified against when a user
/// does not exist so that both paths cost the same.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2ZCmQnJ/ZxXXqFNWRIJqtHjv4bm5zzw3L2Oh7zZRB9s";

//! The storage port. Every method that writes is one transaction: it either
//! applies entirely, with its audit event, or not at all. All methods are
//! scoped to a tenant; an object of another tenant is reported as not found.

use crate::error::{Entity, Result};
use crate::input::*;
use crate::model::*;

/// A write's context: who does it and when.
#[derive(Debug, Clone)]
pub struct WriteCtx {
    pub tenant_id: Id,
    pub actor: Actor,
    pub now: Millis,
}

/// A stored idempotent response.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotentResponse {
    pub fingerprint: String,
    /// `None` while the first request is still being processed.
    pub status: Option<u16>,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

/// The result of authenticating a secret.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub principal: Principal,
    pub password_hash: Option<String>,
}

/// What a store reports for `/metrics`, read when it is scraped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreStats {
    pub pools: Vec<PoolStats>,
    /// Lookups of the in-memory read cache: `(cache, hits, misses)`, counted
    /// since the store was opened (`agents`, `api_keys`; `search`: agent lists answered by the search index, and by the database).
    pub cache: Vec<(&'static str, u64, u64)>,
}

/// A connection pool's state.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolStats {
    /// `reader`, `writer` (SQLite) or `pool` (PostgreSQL).
    pub name: &'static str,
    pub in_use: u32,
    pub idle: u32,
    pub max: u32,
}

/// The storage port, by concern: every backend implements each sub-trait
/// (`crates/store/src/sql/<concern>.rs`), and `Store` is all of them, so
/// callers keep one `Arc<dyn Store>`. Call a sub-trait's methods on it with
/// the sub-trait in scope (`use switchboard_domain::store::traits::*`).
#[async_trait::async_trait]
pub trait Store:
    AccountStore
    + AgentStore
    + CatalogStore
    + TelephonyStore
    + AuditStore
    + IdempotencyStore
    + ImportStore
    + crate::events::EventStore
    + Send
    + Sync
    + 'static
{
    /// Pools and cache counters for `/metrics`.
    fn stats(&self) -> StoreStats {
        StoreStats::default()
    }

    /// Cheap check that the database answers (for readiness probes).
    async fn ping(&self) -> Result<()>;

    /// Whether last-name searches are answered from memory now (an index
    /// built and following changes); status and tests.
    fn name_index_ready(&self) -> bool {
        false
    }

    /// The tenant an object belongs to, if it exists at all. Only for dialects
    /// whose documents answer "access denied" (not "not found") for objects
    /// of another client.
    async fn tenant_of(&self, entity: Entity, id: Id) -> Result<Option<Id>>;
}

/// Tenants, users and API keys.
#[async_trait::async_trait]
pub trait AccountStore: Send + Sync {
    // Tenants and their first administrator.
    async fn create_tenant(&self, t: NewTenant, admin: NewUser, key: NewApiKey, actor: Actor, now: Millis) -> Result<(Tenant, User)>;
    async fn get_tenant(&self, id: Id) -> Result<Tenant>;
    async fn find_tenant_by_name(&self, name: &str) -> Result<Tenant>;
    async fn find_tenant_by_client_id(&self, client_id: i64) -> Result<Tenant>;
    async fn list_tenants(&self) -> Result<Vec<Tenant>>;
    async fn update_tenant_settings(&self, ctx: &WriteCtx, settings: TenantSettings, expected_version: Option<i64>) -> Result<Tenant>;

    // Users and keys.
    async fn create_user(&self, ctx: &WriteCtx, u: NewUser, key: Option<NewApiKey>) -> Result<User>;
    async fn get_user(&self, tenant: Id, id: Id) -> Result<User>;
    async fn find_user_by_name(&self, tenant: Id, username: &str) -> Result<(User, String)>;
    async fn list_users(&self, tenant: Id, page: PageRequest) -> Result<Page<User>>;
    async fn update_user(&self, ctx: &WriteCtx, id: Id, c: UserChanges, expected_version: Option<i64>) -> Result<User>;
    async fn delete_user(&self, ctx: &WriteCtx, id: Id, expected_version: Option<i64>) -> Result<()>;
    async fn create_api_key(&self, ctx: &WriteCtx, user_id: Id, key: NewApiKey) -> Result<ApiKeyInfo>;
    async fn list_api_keys(&self, tenant: Id, user_id: Option<Id>, page: PageRequest) -> Result<Page<ApiKeyInfo>>;
    async fn get_api_key(&self, tenant: Id, id: Id) -> Result<ApiKeyInfo>;
    async fn revoke_api_key(&self, ctx: &WriteCtx, id: Id) -> Result<ApiKeyInfo>;
    /// Resolves a key hash to its principal; `None` if unknown or revoked.
    async fn authenticate_api_key(&self, key_hash: &str) -> Result<Option<Principal>>;
    async fn touch_api_key(&self, id: Id, now: Millis) -> Result<()>;
}

/// Agents and their skill, service and group assignments.
#[async_trait::async_trait]
pub trait AgentStore: Send + Sync {
    async fn create_agent(&self, ctx: &WriteCtx, a: AgentRecord) -> Result<AgentDetail>;
    async fn get_agent(&self, tenant: Id, id: Id) -> Result<AgentDetail>;
    async fn find_agent_by_login_id(&self, tenant: Id, login_id: &str) -> Result<AgentDetail>;
    async fn list_agents(&self, tenant: Id, filter: &AgentFilter, page: PageRequest) -> Result<Page<Agent>>;
    async fn agent_list_info(&self, tenant: Id) -> Result<ListInfo>;
    /// Newest first; at most `n`.
    async fn agent_password_hashes(&self, tenant: Id, id: Id, n: usize) -> Result<Vec<String>>;
    async fn update_agent(&self, ctx: &WriteCtx, id: Id, c: AgentChanges, expected_version: Option<i64>) -> Result<AgentDetail>;
    async fn delete_agent(&self, ctx: &WriteCtx, id: Id, expected_version: Option<i64>) -> Result<()>;
    /// Records a login attempt: success stamps lastLogin/IP and resets the
    /// failure count; failure counts and locks at `lock_after`.
    async fn record_agent_login(&self, tenant: Id, id: Id, success: bool, ip: Option<&str>, lock_after: i64, now: Millis) -> Result<Agent>;
    async fn assign_skill(&self, ctx: &WriteCtx, agent: Id, skill: Id, proficiency: i64) -> Result<AgentDetail>;
    async fn remove_skill(&self, ctx: &WriteCtx, agent: Id, skill: Id) -> Result<AgentDetail>;
    async fn assign_service(&self, ctx: &WriteCtx, agent: Id, service: Id) -> Result<AgentDetail>;
    async fn remove_service(&self, ctx: &WriteCtx, agent: Id, service: Id) -> Result<AgentDetail>;
    /// Creates or overwrites each listed membership; all or nothing.
    async fn set_group_memberships(&self, ctx: &WriteCtx, agent: Id, groups: &[GroupMembership]) -> Result<AgentDetail>;
    async fn remove_group_membership(&self, ctx: &WriteCtx, agent: Id, group: Id) -> Result<AgentDetail>;
    /// An agent's field changes plus skill and group (un)assignments named
    /// by name (resolved case-insensitively; unknown names are invalid
    /// references), all in one transaction. Unassignments apply first.
    async fn update_agent_with_assignments(
        &self,
        ctx: &WriteCtx,
        id: Id,
        c: AgentChanges,
        a: &AgentAssignments,
        expected_version: Option<i64>,
    ) -> Result<AgentDetail>;
    /// An agent's field changes and, for each list given, its skills,
    /// services or groups set to exactly that list (SCIM's PUT and PATCH),
    /// in one transaction with one audit event. Unknown references are
    /// invalid; a change that changes nothing writes nothing.
    async fn replace_agent(
        &self,
        ctx: &WriteCtx,
        id: Id,
        c: AgentChanges,
        sets: &crate::AssignmentSets,
        expected_version: Option<i64>,
    ) -> Result<AgentDetail>;
    /// A group's rename and member changes (SCIM Groups), in one
    /// transaction: each agent whose membership changes gets its version
    /// bumped and an audit event, the group one if renamed.
    async fn change_group(&self, ctx: &WriteCtx, group: Id, c: &crate::GroupChange, expected_version: Option<i64>) -> Result<Named>;
    /// A new group with its first members, in one transaction (SCIM).
    async fn create_group(&self, ctx: &WriteCtx, name: String, external_id: Option<String>, members: &[Id]) -> Result<Named>;
    /// The agents of a group, in id order.
    async fn group_members(&self, tenant: Id, group: Id) -> Result<Vec<Id>>;
    /// The groups' SCIM `externalId`s (those that have one), in group id
    /// order: of one group, or of all the tenant's.
    async fn group_external_ids(&self, tenant: Id, group: Option<Id>) -> Result<Vec<(Id, String)>>;
    /// Call centers of the agent's services, in id order.
    async fn agent_call_centers(&self, tenant: Id, agent: Id) -> Result<Vec<Id>>;
}

/// What agents are assigned to: skills, call centers, groups and services.
#[async_trait::async_trait]
pub trait CatalogStore: Send + Sync {
    // Skills.
    async fn create_skill(&self, ctx: &WriteCtx, s: SkillInput) -> Result<Skill>;
    async fn get_skill(&self, tenant: Id, id: Id) -> Result<Skill>;
    async fn list_skills(&self, tenant: Id, page: PageRequest) -> Result<Page<Skill>>;
    async fn skill_list_info(&self, tenant: Id) -> Result<ListInfo>;
    /// The tenant's skills with these names (case-insensitive), in id order;
    /// names that match none are left out. One indexed query.
    async fn skills_named(&self, tenant: Id, names: &[String]) -> Result<Vec<Skill>>;
    async fn skill_assignments(&self, tenant: Id, skill: Id) -> Result<Vec<(Id, i64)>>;
    async fn update_skill(&self, ctx: &WriteCtx, id: Id, s: SkillInput, expected_version: Option<i64>) -> Result<Skill>;
    async fn delete_skill(&self, ctx: &WriteCtx, id: Id, expected_version: Option<i64>) -> Result<()>;

    // Name-only objects: call centers and groups.
    async fn create_named(&self, ctx: &WriteCtx, kind: Entity, name: String) -> Result<Named>;
    async fn get_named(&self, tenant: Id, kind: Entity, id: Id) -> Result<Named>;
    async fn list_named(&self, tenant: Id, kind: Entity, page: PageRequest) -> Result<Page<Named>>;
    async fn rename_named(&self, ctx: &WriteCtx, kind: Entity, id: Id, name: String, expected_version: Option<i64>) -> Result<Named>;
    async fn delete_named(&self, ctx: &WriteCtx, kind: Entity, id: Id, expected_version: Option<i64>) -> Result<()>;

    // Services.
    async fn create_service(&self, ctx: &WriteCtx, s: ServiceInput) -> Result<Service>;
    async fn get_service(&self, tenant: Id, id: Id) -> Result<Service>;
    async fn list_services(&self, tenant: Id, call_center: Option<Id>, page: PageRequest) -> Result<Page<Service>>;
    async fn update_service(&self, ctx: &WriteCtx, id: Id, s: ServiceInput, expected_version: Option<i64>) -> Result<Service>;
    async fn delete_service(&self, ctx: &WriteCtx, id: Id, expected_version: Option<i64>) -> Result<()>;
}

/// Phones, DIDs and campaigns.
#[async_trait::async_trait]
pub trait TelephonyStore: Send + Sync {
    // Phones.
    async fn create_phone(&self, ctx: &WriteCtx, p: PhoneInput, limit: i64) -> Result<Phone>;
    async fn get_phone(&self, tenant: Id, id: Id) -> Result<Phone>;
    async fn list_phones(&self, tenant: Id, page: PageRequest) -> Result<Page<Phone>>;
    /// The tenant's phone with this number (case-insensitive, as unique).
    async fn find_phone_by_number(&self, tenant: Id, number: &str) -> Result<Phone>;
    async fn update_phone(&self, ctx: &WriteCtx, id: Id, p: PhoneInput, expected_version: Option<i64>) -> Result<Phone>;
    async fn delete_phone(&self, ctx: &WriteCtx, id: Id, expected_version: Option<i64>) -> Result<()>;

    // DIDs and campaigns.
    async fn create_did(&self, ctx: &WriteCtx, number: String) -> Result<Did>;
    async fn get_did(&self, tenant: Id, id: Id) -> Result<Did>;
    async fn list_dids(&self, tenant: Id, page: PageRequest) -> Result<Page<Did>>;
    /// The tenant's DIDs with these numbers (case-insensitive), in id order;
    /// numbers that match none are left out. One indexed query.
    async fn dids_numbered(&self, tenant: Id, numbers: &[String]) -> Result<Vec<Did>>;
    async fn update_did(&self, ctx: &WriteCtx, id: Id, number: String, expected_version: Option<i64>) -> Result<Did>;
    async fn delete_did(&self, ctx: &WriteCtx, id: Id, expected_version: Option<i64>) -> Result<()>;
    async fn create_campaign(&self, ctx: &WriteCtx, c: CampaignInput) -> Result<Campaign>;
    async fn get_campaign(&self, tenant: Id, id: Id) -> Result<Campaign>;
    async fn list_campaigns(&self, tenant: Id, page: PageRequest) -> Result<Page<Campaign>>;
    /// The tenant's campaign with this name (case-insensitive, as unique).
    async fn find_campaign_by_name(&self, tenant: Id, name: &str) -> Result<Campaign>;
    async fn update_campaign(&self, ctx: &WriteCtx, id: Id, c: CampaignInput, expected_version: Option<i64>) -> Result<Campaign>;
    async fn delete_campaign(&self, ctx: &WriteCtx, id: Id, expected_version: Option<i64>) -> Result<()>;
}

/// The audit trail (written by every write; read here).
#[async_trait::async_trait]
pub trait AuditStore: Send + Sync {
    async fn list_audit(&self, tenant: Id, entity: Option<Entity>, entity_id: Option<Id>, page: PageRequest) -> Result<Page<AuditEvent>>;
}

/// Idempotency keys of the native API.
#[async_trait::async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for a request with `fingerprint`. Returns `None` when the
    /// claim is new (the caller proceeds), or the stored record otherwise.
    async fn claim_idempotency_key(&self, tenant: Id, key: &str, fingerprint: &str, now: Millis) -> Result<Option<IdempotentResponse>>;
    async fn complete_idempotency_key(&self, tenant: Id, key: &str, resp: &IdempotentResponse) -> Result<()>;
    async fn release_idempotency_key(&self, tenant: Id, key: &str) -> Result<()>;
}

/// Bulk import and export (`ops_import`) and import jobs.
#[async_trait::async_trait]
pub trait ImportStore: Send + Sync {
    /// Applies validated rows: atomic (one transaction), best-effort (a
    /// transaction per batch, a savepoint per row) or a dry run (rolled back).
    async fn import_rows(
        &self,
        ctx: &WriteCtx,
        kind: crate::ImportKind,
        rows: Vec<crate::ImportRow>,
        opts: crate::ImportRunOptions,
        ctl: crate::ImportControl,
    ) -> Result<crate::ImportRun>;
    /// Every agent of a tenant with its assignments, in id order.
    async fn export_agents(&self, tenant: Id) -> Result<Vec<AgentDetail>>;
    async fn create_import_job(&self, ctx: &WriteCtx, opts: crate::ImportOptions, rows: usize) -> Result<crate::ImportJob>;
    async fn get_import_job(&self, tenant: Id, id: Id) -> Result<crate::ImportJob>;
    async fn update_import_job(&self, tenant: Id, id: Id, u: crate::ImportJobUpdate) -> Result<()>;
}

/// The port's traits, to bring into scope where a `dyn Store`'s methods are
/// called: `use switchboard_domain::store::traits::*;`.
pub mod traits {
    pub use super::{AccountStore, AgentStore, AuditStore, CatalogStore, IdempotencyStore, ImportStore, Store, TelephonyStore};
    pub use crate::events::EventStore;
}

/// A call center or a group: objects with only a name.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Named {
    pub id: Id,
    pub tenant_id: Id,
    pub name: String,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub version: i64,
}

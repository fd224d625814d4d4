//! The directory's objects, as every API sees them. Secrets (password and key
//! hashes) are never part of these types, so serialising one (for an API
//! response or an audit event) cannot leak them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub type Id = i64;
/// Milliseconds since the Unix epoch (UTC); the unit LiveVox reports dates in.
pub type Millis = i64;

/// Ozonetel's "API Authentication" admin setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ApiAuthMode {
    #[default]
    BasicAuth,
    TokenAuth,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", default)]
pub struct TenantSettings {
    pub api_authentication: ApiAuthMode,
    /// Ozonetel "Phone Number Creation Limit".
    pub phone_number_limit: i64,
    /// Failed agent logins in a row before the agent is locked.
    pub agent_lockout_threshold: i64,
    /// Requests per minute, per endpoint name (e.g. `ozonetel.updateAgent`).
    pub rate_limits: BTreeMap<String, u32>,
    /// What a SCIM `DELETE /Users/{id}` does: deactivate the agent (default;
    /// its history, assignments and loginId stay) or delete it.
    pub scim_delete_mode: ScimDeleteMode,
}

/// The tenant setting `scimDeleteMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ScimDeleteMode {
    #[default]
    Deactivate,
    Delete,
}

/// The vendors' documented limits, applied unless a tenant overrides them.
pub fn default_rate_limits() -> BTreeMap<String, u32> {
    BTreeMap::from([("ozonetel.updateAgent".to_string(), 5)])
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            api_authentication: ApiAuthMode::BasicAuth,
            phone_number_limit: 100,
            agent_lockout_threshold: 5,
            rate_limits: default_rate_limits(),
            scim_delete_mode: ScimDeleteMode::Deactivate,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub id: Id,
    pub name: String,
    /// The LiveVox `clientId` of this tenant.
    pub client_id: i64,
    pub settings: TenantSettings,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub version: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Sysadmin,
    ItUser,
    Superuser,
    Manager,
    Agent,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Sysadmin => "sysadmin",
            Role::ItUser => "it_user",
            Role::Superuser => "superuser",
            Role::Manager => "manager",
            Role::Agent => "agent",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "sysadmin" => Role::Sysadmin,
            "it_user" => Role::ItUser,
            "superuser" => Role::Superuser,
            "manager" => Role::Manager,
            "agent" => Role::Agent,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Power {
    /// LiveVox "Administer Agents" / "Access to Agent Editor".
    AdministerAgents,
}

impl Power {
    pub fn as_str(self) -> &'static str {
        match self {
            Power::AdministerAgents => "administer_agents",
        }
    }
    pub fn parse(s: &str) -> Option<Power> {
        match s {
            "administer_agents" => Some(Power::AdministerAgents),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: Id,
    pub tenant_id: Id,
    pub username: String,
    pub role: Role,
    pub powers: Vec<Power>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyInfo {
    pub id: Id,
    pub user_id: Id,
    pub name: String,
    /// The first characters of the key, enough to recognise it in a list.
    pub prefix: String,
    /// `api` (the native API and the vendor dialects) or `scim` (`/scim/v2` only).
    pub scope: KeyScope,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

/// What an API key may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum KeyScope {
    /// Every API but SCIM.
    #[default]
    Api,
    /// SCIM 2.0 provisioning (`/scim/v2`) only.
    Scim,
}

impl KeyScope {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyScope::Api => "api",
            KeyScope::Scim => "scim",
        }
    }
    pub fn parse(s: &str) -> Option<KeyScope> {
        match s {
            "api" => Some(KeyScope::Api),
            "scim" => Some(KeyScope::Scim),
            _ => None,
        }
    }
}

/// Who is calling: resolved from an API key or a session, scoped to one tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Principal {
    pub tenant_id: Id,
    pub user_id: Id,
    pub username: String,
    pub role: Role,
    pub powers: Vec<Power>,
    pub api_key_id: Option<Id>,
    /// Set when the caller is an agent logged in through a vendor session.
    pub agent_id: Option<Id>,
    /// The key's name when the caller presented an API key of scope `scim`
    /// (accepted on `/scim/v2` only; its writes are audited as `scim:<name>`).
    #[serde(default)]
    pub scim_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    pub id: Id,
    pub tenant_id: Id,
    pub login_id: String,
    pub first_name: String,
    pub last_name: String,
    /// Ozonetel `agentName`.
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub phone: String,
    pub wrap_up_time: i64,
    pub home_agent: bool,
    pub active: bool,
    pub locked: bool,
    pub failed_logins: i64,
    pub last_login: Option<Millis>,
    pub last_login_ip: Option<String>,
    pub password_last_modified: Option<Millis>,
    pub has_password: bool,
    /// The identity provider's id of this person (SCIM `externalId`).
    pub external_id: Option<String>,
    /// SCIM enterprise `employeeNumber`.
    pub employee_number: Option<String>,
    /// SCIM enterprise `department`.
    pub department: Option<String>,
    /// SCIM enterprise `manager.value`: the manager's id as the identity
    /// provider sent it (kept as given; not checked against the agents).
    pub manager: Option<String>,
    /// Vendor attributes with no place in the model (Ozonetel mode flags…).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SkillAssignment {
    pub skill_id: Id,
    pub proficiency: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct GroupMembership {
    pub group_id: Id,
    pub receive_call: bool,
}

/// An agent with everything assigned to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AgentDetail {
    #[serde(flatten)]
    pub agent: Agent,
    pub skills: Vec<SkillAssignment>,
    pub service_ids: Vec<Id>,
    pub groups: Vec<GroupMembership>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Skill {
    pub id: Id,
    pub tenant_id: Id,
    pub name: String,
    pub description: String,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Service {
    pub id: Id,
    pub tenant_id: Id,
    pub name: String,
    pub call_center_id: Id,
    /// Only ACD services may be assigned to agents.
    pub acd: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Phone {
    pub id: Id,
    pub tenant_id: Id,
    pub number: String,
    pub name: String,
    /// Skill names, in the order they were assigned.
    pub skills: Vec<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Did {
    pub id: Id,
    pub tenant_id: Id,
    pub number: String,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Campaign {
    pub id: Id,
    pub tenant_id: Id,
    pub name: String,
    /// DID numbers, in order.
    pub dynamic_dids: Vec<String>,
    pub fallback_dids: Vec<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub version: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Create,
    Update,
    Delete,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Create => "create",
            AuditAction::Update => "update",
            AuditAction::Delete => "delete",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "create" => AuditAction::Create,
            "update" => AuditAction::Update,
            "delete" => AuditAction::Delete,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub id: Id,
    pub tenant_id: Id,
    pub at: Millis,
    pub actor_user_id: Option<Id>,
    pub actor_api_key_id: Option<Id>,
    /// Human-readable actor, e.g. `user:admin` or `cli`.
    pub actor: String,
    pub entity: crate::Entity,
    pub entity_id: Id,
    pub action: AuditAction,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// Who performed a write, recorded in its audit event.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    pub user_id: Option<Id>,
    pub api_key_id: Option<Id>,
    pub label: String,
}

impl Actor {
    pub fn of(p: &Principal) -> Actor {
        let label = match &p.scim_key {
            Some(key) => format!("scim:{key}"),
            None => format!("user:{}", p.username),
        };
        Actor { user_id: Some(p.user_id), api_key_id: p.api_key_id, label }
    }
    /// An operator at the command line, acting with direct database access.
    pub fn cli() -> Actor {
        Actor { user_id: None, api_key_id: None, label: "cli".into() }
    }
}

/// A page request. `after` is keyset paging (ids strictly greater), `offset`
/// is positional paging (LiveVox); both may be zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Id,
    pub offset: u64,
    pub limit: u32,
}

impl PageRequest {
    pub fn first(limit: u32) -> Self {
        PageRequest { after: 0, offset: 0, limit }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// True when at least one more item follows this page.
    pub has_more: bool,
}

impl<T> Page<T> {
    pub fn last_id(&self, id: impl Fn(&T) -> Id) -> Option<Id> {
        self.items.last().map(id)
    }
}

/// Filters of the agent list. `q` is a case-insensitive substring match over
/// loginId, names, email and phone; the `*_contains` fields match one column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentFilter {
    pub q: Option<String>,
    pub login_id_contains: Option<String>,
    pub last_name_contains: Option<String>,
    pub phone_contains: Option<String>,
    /// The agent's phone is this number: digits compared, formatting (and a
    /// stored leading `+`) ignored (LiveVox Find Matching Agents by phone).
    pub phone_number: Option<String>,
    pub active: Option<bool>,
    pub skill_id: Option<Id>,
    pub service_id: Option<Id>,
    pub group_id: Option<Id>,
    /// Order of the list (default: by id, which keyset paging needs; the
    /// other orders page by offset and are served by indexes).
    pub sort: AgentSort,
}

impl AgentFilter {
    /// Whether no agent can match, known without asking the store: a phone
    /// number without a digit is no agent's number, and no searchable field
    /// holds a NUL (validation refuses control characters in every one).
    /// Neither engine could be asked the latter anyway: FTS5's query syntax
    /// ends a string at a NUL, PostgreSQL refuses one in text.
    pub fn matches_nothing(&self) -> bool {
        let texts = [&self.q, &self.login_id_contains, &self.last_name_contains, &self.phone_contains, &self.phone_number];
        self.phone_number.as_deref().is_some_and(|n| crate::validate::phone_digits(n).is_empty())
            || texts.iter().any(|t| t.as_deref().is_some_and(|t| t.contains('\0')))
    }
}

/// Orders of the agent list (the console's sortable columns; LiveVox's List
/// Agents is `LoginIdAsc`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AgentSort {
    #[default]
    IdAsc,
    IdDesc,
    /// By the bytes of the stored (upper-case) loginId, ties by id.
    LoginIdAsc,
    LoginIdDesc,
    LastNameAsc,
    LastNameDesc,
}

/// Summary of a list: how many entries and when any last changed (LiveVox "info").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListInfo {
    pub size: i64,
    pub last_modified: Option<Millis>,
}

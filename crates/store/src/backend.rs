//! What the shared SQL (`sql/*.rs`) needs of a backend besides SQL both
//! engines accept. The contract itself is the `Backend` trait at the top of
//! `sql/common.rs`: it is declared there, inside each backend module,
//! because its items speak of that module's `Db` types; each backend
//! implements it for its marker type `This`, so a missing item is a compile
//! error that names it. This module holds the backend-independent part:
//! the optional fast path, and the values a query binds.

use switchboard_domain::{Agent, AgentChanges, AgentDetail, GroupMembership, Id, Principal, Result, WriteCtx};

/// A value bound to a placeholder of a built query.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Int(i64),
    Text(String),
    Bool(bool),
}

/// A backend's own path for its hottest operations, beside the shared SQL
/// (SQLite on a file: `sqlite/direct.rs`, rusqlite on the calling thread
/// and one writer thread with group commit). Where a backend has one, the
/// shared store defers these operations to it; the results must be the same
/// rows and audit events as the shared SQL's (`tests/sqlite.rs` runs one
/// scenario through both and compares).
#[async_trait::async_trait]
pub(crate) trait FastPath: Send + Sync {
    fn get_agent(&self, tenant: Id, id: Id) -> Result<AgentDetail>;
    fn authenticate_api_key(&self, key_hash: &str) -> Result<Option<Principal>>;
    /// `None`: no such key; `Some(t)`: when it was last stamped as used.
    fn api_key_last_used(&self, id: Id) -> Result<Option<Option<i64>>>;
    /// Where another process's writes show (SQLite: the `cache_epoch` row,
    /// migration 0005).
    fn cache_epoch(&self) -> Result<i64>;
    async fn list_agents(&self, sql: String, args: &[Arg]) -> Result<Vec<Agent>>;
    async fn update_agent(&self, ctx: &WriteCtx, id: Id, c: AgentChanges, expected: Option<i64>) -> Result<Written>;
    async fn assign_skill(&self, ctx: &WriteCtx, agent: Id, skill: Id, proficiency: i64) -> Result<Written>;
    async fn remove_skill(&self, ctx: &WriteCtx, agent: Id, skill: Id) -> Result<Written>;
    async fn set_group_memberships(&self, ctx: &WriteCtx, agent: Id, groups: &[GroupMembership]) -> Result<Written>;
}

/// An agent write's outcome: the agent before and after it (the same when
/// nothing changed), for the search index (`ForgetOnDrop::settled`).
pub(crate) type Written = (AgentDetail, AgentDetail);

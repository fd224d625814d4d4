//! Users, API keys, tenant settings and the audit trail.

use super::extract::{json, no_content, tagged, tagged_get, Caller, Ids, IfMatch, IfNoneMatch, JsonBody, Params};
use super::paging::{self, ListParams, Paged};
use super::problem::{ApiResult, Problem};
use super::schema;
use super::wire::not_null;
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use switchboard_domain::{ApiKeyInfo, AuditEvent, Entity, Error, Id, Power, Role, Rule, Tenant, User, UserPatch};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_user, list_users))
        .routes(routes!(get_user, update_user, delete_user))
        .routes(routes!(create_api_key, list_api_keys))
        .routes(routes!(get_api_key, revoke_api_key))
        .routes(routes!(get_tenant, update_tenant))
        .routes(routes!(list_audit))
}

// ---- users -------------------------------------------------------------------

/// A new user of the tenant (Sysadmin only).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"username": "mgr.north", "role": "manager", "powers": ["administer_agents"], "withApiKey": true}))]
pub struct UserCreate {
    /// Unique per tenant.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = schema::username, required = true)]
    pub username: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = Role, required = true)]
    pub role: Option<Role>,
    #[serde(default)]
    pub powers: Vec<Power>,
    /// If left out, a password is generated and returned once.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = schema::password)]
    pub password: Option<String>,
    /// Also issue an API key for the user (returned once).
    #[serde(default)]
    pub with_api_key: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserCreated {
    #[serde(flatten)]
    pub user: User,
    /// The generated password, shown only in this response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The API key, shown only in this response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
}

/// A change to a user: only the fields sent change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(min_properties = 1, example = json!({"role": "superuser"}))]
pub struct UserUpdate {
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = Role)]
    pub role: Option<Role>,
    /// Replaces the user's powers.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = Vec<Power>)]
    pub powers: Option<Vec<Power>>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = schema::password)]
    pub password: Option<String>,
}

/// Create a user.
///
/// Creates a user of the caller's tenant with a role and powers (Sysadmin only). Without `password`, one is generated and returned once in `password`; with `withApiKey`, an API key is issued and returned once in `apiKey`.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = UserCreate,
    responses((status = 201, body = UserCreated)))]
async fn create_user(State(s): State<AppState>, Caller(p): Caller, JsonBody(b): JsonBody<UserCreate>) -> ApiResult<Response> {
    let role = b.role.ok_or_else(|| Problem::from(Error::invalid("role", Rule::Required)))?;
    let username = b.username.unwrap_or_default();
    let issued = s.dir.create_user(Some(&p), p.tenant_id, &username, role, b.powers, b.password, b.with_api_key).await?;
    let version = issued.value.version;
    let id = issued.value.id;
    let body = UserCreated { user: issued.value, password: issued.password, api_key: issued.api_key };
    let mut resp = tagged(StatusCode::CREATED, version, &body);
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/users/{id}")) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// List users.
///
/// The tenant's users in id order, a page at a time (Sysadmin; other roles see only themselves).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(ListParams),
    responses((status = 200, body = Paged<User>)))]
async fn list_users(State(s): State<AppState>, Caller(p): Caller, Params(q): Params<ListParams>) -> ApiResult<Response> {
    let page = s.dir.list_users(&p, q.page()?).await?;
    Ok(json(StatusCode::OK, &paging::paged(page, |x| x.id, |x| x)))
}

/// Read a user.
///
/// One user of the tenant, with its `ETag`.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = Id, Path)),
    responses((status = 200, body = User)))]
async fn get_user(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, h: IfNoneMatch) -> ApiResult<Response> {
    let x = s.dir.get_user(&p, id).await?;
    Ok(tagged_get(&h, x.version, &x))
}

/// Change a user.
///
/// Changes a user's role, powers or password; the fields sent change, the others stay. Sysadmin for role and powers; any user for its own password.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", request_body = UserUpdate,
    params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = User)))]
async fn update_user(
    State(s): State<AppState>,
    Caller(p): Caller,
    Ids(id): Ids<Id>,
    IfMatch(v): IfMatch,
    JsonBody(b): JsonBody<UserUpdate>,
) -> ApiResult<Response> {
    let x = s.dir.update_user(&p, id, UserPatch { role: b.role, powers: b.powers, password: b.password }, v).await?;
    Ok(tagged(StatusCode::OK, x.version, &x))
}

/// Delete a user.
///
/// Deletes a user and revokes its API keys (Sysadmin only; not the caller's own user).
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204)))]
async fn delete_user(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, IfMatch(v): IfMatch) -> ApiResult<Response> {
    s.dir.delete_user(&p, id, v).await?;
    Ok(no_content())
}

// ---- API keys ------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"name": "payroll sync"}))]
pub struct ApiKeyCreate {
    /// A label to recognise the key by (default `api key`).
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = schema::name)]
    pub name: Option<String>,
    /// Whose key (Sysadmin only); default the caller.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = Id)]
    pub user_id: Option<Id>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyCreated {
    #[serde(flatten)]
    pub info: ApiKeyInfo,
    /// The key itself, shown only in this response.
    pub api_key: String,
}

/// Issue an API key.
///
/// Issues an API key for the caller or (Sysadmin) another user of the tenant. The key is in `apiKey`, shown only in this answer; the server keeps only its SHA-256 hash.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api keys", request_body = ApiKeyCreate,
    responses((status = 201, body = ApiKeyCreated)))]
async fn create_api_key(State(s): State<AppState>, Caller(p): Caller, JsonBody(b): JsonBody<ApiKeyCreate>) -> ApiResult<Response> {
    let issued = s.dir.create_api_key(&p, b.user_id, b.name).await?;
    let body = ApiKeyCreated { info: issued.value, api_key: issued.api_key.unwrap_or_default() };
    let mut resp = json(StatusCode::CREATED, &body);
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/api-keys/{}", body.info.id)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// List API keys.
///
/// The API keys the caller may see, by prefix, with `createdAt`, `lastUsedAt` and `revokedAt`; never the keys themselves.
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api keys", params(ListParams),
    responses((status = 200, body = Paged<ApiKeyInfo>)))]
async fn list_api_keys(State(s): State<AppState>, Caller(p): Caller, Params(q): Params<ListParams>) -> ApiResult<Response> {
    let page = s.dir.list_api_keys(&p, q.page()?).await?;
    Ok(json(StatusCode::OK, &paging::paged(page, |x| x.id, |x| x)))
}

/// Read an API key.
///
/// One API key's record (prefix, owner, times); never the key itself.
#[utoipa::path(get, path = "/api/v1/api-keys/{id}", tag = "api keys", params(("id" = Id, Path)),
    responses((status = 200, body = ApiKeyInfo)))]
async fn get_api_key(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>) -> ApiResult<Response> {
    Ok(json(StatusCode::OK, &s.dir.get_api_key(&p, id).await?))
}

/// Revoke an API key.
///
/// Revokes the key: it is refused at once, on every instance, and stays listed as revoked.
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "api keys", params(("id" = Id, Path)),
    responses((status = 204)))]
async fn revoke_api_key(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>) -> ApiResult<Response> {
    s.dir.revoke_api_key(&p, id).await?;
    Ok(no_content())
}

// ---- tenant --------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"settings": {"agentLockoutThreshold": 3}}))]
pub struct TenantUpdate {
    /// Settings to change; the others keep their values.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = schema::settings_patch, required = true)]
    pub settings: Option<serde_json::Value>,
}

/// Read the tenant.
///
/// The caller's tenant and its settings, with its `ETag`.
#[utoipa::path(get, path = "/api/v1/tenant", tag = "tenant",
    responses((status = 200, body = Tenant)))]
async fn get_tenant(State(s): State<AppState>, Caller(p): Caller, h: IfNoneMatch) -> ApiResult<Response> {
    let t = s.dir.get_tenant(&p).await?;
    Ok(tagged_get(&h, t.version, &t))
}

/// Change tenant settings.
///
/// Changes the settings sent in `settings`; the others keep their values (Sysadmin only).
#[utoipa::path(patch, path = "/api/v1/tenant", tag = "tenant", request_body = TenantUpdate,
    params(("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Tenant)))]
async fn update_tenant(
    State(s): State<AppState>,
    Caller(p): Caller,
    IfMatch(v): IfMatch,
    JsonBody(b): JsonBody<TenantUpdate>,
) -> ApiResult<Response> {
    let settings = b.settings.ok_or_else(|| Problem::from(Error::invalid("settings", Rule::Required)))?;
    let t = s.dir.update_tenant_settings(&p, settings, v).await?;
    Ok(tagged(StatusCode::OK, t.version, &t))
}

// ---- audit ---------------------------------------------------------------------

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Items per page (default 100).
    #[serde(default, deserialize_with = "super::wire::query_int")]
    #[param(minimum = 1, maximum = 1000, example = 100)]
    pub limit: Option<u32>,
    /// `nextCursor` of the previous page; empty or left out for the first page.
    #[param(pattern = "^([1-9][0-9]{0,17})?$", example = "1042")]
    pub cursor: Option<String>,
    /// Only events about this kind of object.
    #[param(value_type = Option<Entity>, example = "agent")]
    pub entity: Option<Entity>,
    /// Only events about this object (with `entity`).
    #[serde(default, deserialize_with = "super::wire::query_int")]
    pub entity_id: Option<Id>,
}

/// List the audit trail.
///
/// Every change made in the tenant, newest first, with its actor, the object and its state before and after (never a password or key). Filter by `entity` and `entityId`.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Paged<AuditEvent>)))]
async fn list_audit(State(s): State<AppState>, Caller(p): Caller, Params(q): Params<AuditQuery>) -> ApiResult<Response> {
    let page = paging::request(q.limit, q.cursor.as_deref())?;
    let page = s.dir.list_audit(&p, q.entity, q.entity_id, page).await?;
    Ok(json(StatusCode::OK, &paging::paged(page, |x| x.id, |x| x)))
}

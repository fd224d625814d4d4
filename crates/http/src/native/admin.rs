//! Users, API keys, tenant settings and the audit trail.

use super::extract::{json, no_content, tagged, tagged_get, Caller, Ids, IfMatch, JsonBody, Params};
use super::paging::{self, ListParams, Paged};
use super::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserCreate {
    pub username: Option<String>,
    pub role: Option<Role>,
    #[serde(default)]
    pub powers: Vec<Power>,
    /// If absent, a password is generated and returned once.
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserUpdate {
    pub role: Option<Role>,
    pub powers: Option<Vec<Power>>,
    pub password: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = UserCreate,
    responses((status = 201, body = UserCreated), (status = "default", body = Problem, content_type = "application/problem+json")))]
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

#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(ListParams),
    responses((status = 200, body = Paged<User>), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn list_users(State(s): State<AppState>, Caller(p): Caller, Params(q): Params<ListParams>) -> ApiResult<Response> {
    let page = s.dir.list_users(&p, q.page()?).await?;
    Ok(json(StatusCode::OK, &paging::paged(page, |x| x.id, |x| x)))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = Id, Path)),
    responses((status = 200, body = User), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn get_user(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, h: HeaderMap) -> ApiResult<Response> {
    let x = s.dir.get_user(&p, id).await?;
    Ok(tagged_get(&h, x.version, &x))
}

#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", request_body = UserUpdate,
    params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = User), (status = "default", body = Problem, content_type = "application/problem+json")))]
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

#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn delete_user(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, IfMatch(v): IfMatch) -> ApiResult<Response> {
    s.dir.delete_user(&p, id, v).await?;
    Ok(no_content())
}

// ---- API keys ------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiKeyCreate {
    /// A label to recognise the key by.
    pub name: Option<String>,
    /// Whose key (Sysadmin only); default the caller.
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

#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api keys", request_body = ApiKeyCreate,
    responses((status = 201, body = ApiKeyCreated), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn create_api_key(State(s): State<AppState>, Caller(p): Caller, JsonBody(b): JsonBody<ApiKeyCreate>) -> ApiResult<Response> {
    let issued = s.dir.create_api_key(&p, b.user_id, b.name).await?;
    let body = ApiKeyCreated { info: issued.value, api_key: issued.api_key.unwrap_or_default() };
    Ok(json(StatusCode::CREATED, &body))
}

#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api keys", params(ListParams),
    responses((status = 200, body = Paged<ApiKeyInfo>), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn list_api_keys(State(s): State<AppState>, Caller(p): Caller, Params(q): Params<ListParams>) -> ApiResult<Response> {
    let page = s.dir.list_api_keys(&p, q.page()?).await?;
    Ok(json(StatusCode::OK, &paging::paged(page, |x| x.id, |x| x)))
}

#[utoipa::path(get, path = "/api/v1/api-keys/{id}", tag = "api keys", params(("id" = Id, Path)),
    responses((status = 200, body = ApiKeyInfo), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn get_api_key(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>) -> ApiResult<Response> {
    Ok(json(StatusCode::OK, &s.dir.get_api_key(&p, id).await?))
}

/// Revokes the key: it stops working at once and stays listed as revoked.
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "api keys", params(("id" = Id, Path)),
    responses((status = 204), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn revoke_api_key(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>) -> ApiResult<Response> {
    s.dir.revoke_api_key(&p, id).await?;
    Ok(no_content())
}

// ---- tenant --------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantUpdate {
    /// Settings to change; the others keep their values.
    #[schema(value_type = Object)]
    pub settings: Option<serde_json::Value>,
}

#[utoipa::path(get, path = "/api/v1/tenant", tag = "tenant",
    responses((status = 200, body = Tenant), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn get_tenant(State(s): State<AppState>, Caller(p): Caller, h: HeaderMap) -> ApiResult<Response> {
    let t = s.dir.get_tenant(&p).await?;
    Ok(tagged_get(&h, t.version, &t))
}

#[utoipa::path(patch, path = "/api/v1/tenant", tag = "tenant", request_body = TenantUpdate,
    params(("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Tenant), (status = "default", body = Problem, content_type = "application/problem+json")))]
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
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    /// Only events about this kind of object.
    #[param(value_type = Option<String>, example = "agent")]
    pub entity: Option<Entity>,
    /// Only events about this object (with `entity`).
    pub entity_id: Option<Id>,
}

/// Newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Paged<AuditEvent>), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn list_audit(State(s): State<AppState>, Caller(p): Caller, Params(q): Params<AuditQuery>) -> ApiResult<Response> {
    let page = paging::request(q.limit, q.cursor.as_deref())?;
    let page = s.dir.list_audit(&p, q.entity, q.entity_id, page).await?;
    Ok(json(StatusCode::OK, &paging::paged(page, |x| x.id, |x| x)))
}

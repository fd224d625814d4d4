//! The tenant's catalog: skills, call centers, groups, services, phones, DIDs
//! and campaigns. Each is create / list / get / PATCH / DELETE; the same body
//! type serves create (required fields checked by the domain) and PATCH.

use super::extract::{json, no_content, tagged, tagged_get, Caller, Ids, IfMatch, JsonBody, Params};
use super::paging::{self, ListParams, Paged};
use super::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use switchboard_domain::{
    Campaign, CampaignInput, Did, Entity, Id, Named, NamedInput, Phone, PhoneInput, Service, ServiceInput, Skill, SkillInput,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_skill, list_skills))
        .routes(routes!(get_skill, update_skill, delete_skill))
        .routes(routes!(create_call_center, list_call_centers))
        .routes(routes!(get_call_center, update_call_center, delete_call_center))
        .routes(routes!(create_group, list_groups))
        .routes(routes!(get_group, update_group, delete_group))
        .routes(routes!(create_service, list_services))
        .routes(routes!(get_service, update_service, delete_service))
        .routes(routes!(create_phone, list_phones))
        .routes(routes!(get_phone, update_phone, delete_phone))
        .routes(routes!(create_did, list_dids))
        .routes(routes!(get_did, update_did, delete_did))
        .routes(routes!(create_campaign, list_campaigns))
        .routes(routes!(get_campaign, update_campaign, delete_campaign))
}

/// 201 with the new resource, its ETag and its Location.
fn created<T: Serialize>(collection: &str, id: Id, version: i64, body: &T) -> Response {
    let mut resp = tagged(StatusCode::CREATED, version, body);
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/{collection}/{id}")) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

// ---- skills ----------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SkillBody {
    /// 1–100 characters, unique per tenant (case-insensitive).
    pub name: Option<String>,
    /// Up to 1000 characters.
    pub description: Option<String>,
}

impl From<SkillBody> for SkillInput {
    fn from(b: SkillBody) -> Self {
        SkillInput { name: b.name, description: b.description }
    }
}

#[utoipa::path(post, path = "/api/v1/skills", tag = "skills", request_body = SkillBody,
    responses((status = 201, body = Skill), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn create_skill(State(s): State<AppState>, Caller(p): Caller, JsonBody(b): JsonBody<SkillBody>) -> ApiResult<Response> {
    let x = s.dir.create_skill(&p, b.into()).await?;
    Ok(created("skills", x.id, x.version, &x))
}

#[utoipa::path(get, path = "/api/v1/skills", tag = "skills", params(ListParams),
    responses((status = 200, body = Paged<Skill>), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn list_skills(State(s): State<AppState>, Caller(p): Caller, Params(q): Params<ListParams>) -> ApiResult<Response> {
    let page = s.dir.list_skills(&p, q.page()?).await?;
    Ok(json(StatusCode::OK, &paging::paged(page, |x| x.id, |x| x)))
}

#[utoipa::path(get, path = "/api/v1/skills/{id}", tag = "skills", params(("id" = Id, Path)),
    responses((status = 200, body = Skill), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn get_skill(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, h: HeaderMap) -> ApiResult<Response> {
    let x = s.dir.get_skill(&p, id).await?;
    Ok(tagged_get(&h, x.version, &x))
}

#[utoipa::path(patch, path = "/api/v1/skills/{id}", tag = "skills", request_body = SkillBody,
    params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Skill), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn update_skill(
    State(s): State<AppState>,
    Caller(p): Caller,
    Ids(id): Ids<Id>,
    IfMatch(v): IfMatch,
    JsonBody(b): JsonBody<SkillBody>,
) -> ApiResult<Response> {
    let x = s.dir.update_skill(&p, id, b.into(), v).await?;
    Ok(tagged(StatusCode::OK, x.version, &x))
}

#[utoipa::path(delete, path = "/api/v1/skills/{id}", tag = "skills", params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn delete_skill(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, IfMatch(v): IfMatch) -> ApiResult<Response> {
    s.dir.delete_skill(&p, id, v).await?;
    Ok(no_content())
}

// ---- call centers and groups (name-only objects) -----------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NameBody {
    /// 1–100 characters, unique per tenant (case-insensitive).
    pub name: Option<String>,
}

async fn named_create(s: &AppState, p: &switchboard_domain::Principal, kind: Entity, collection: &str, b: NameBody) -> ApiResult<Response> {
    let x = s.dir.create_named(p, kind, NamedInput { name: b.name }).await?;
    Ok(created(collection, x.id, x.version, &x))
}

async fn named_list(s: &AppState, p: &switchboard_domain::Principal, kind: Entity, q: ListParams) -> ApiResult<Response> {
    let page = s.dir.list_named(p, kind, q.page()?).await?;
    Ok(json(StatusCode::OK, &paging::paged(page, |x| x.id, |x| x)))
}

async fn named_get(s: &AppState, p: &switchboard_domain::Principal, kind: Entity, id: Id, h: &HeaderMap) -> ApiResult<Response> {
    let x = s.dir.get_named(p, kind, id).await?;
    Ok(tagged_get(h, x.version, &x))
}

async fn named_update(
    s: &AppState,
    p: &switchboard_domain::Principal,
    kind: Entity,
    id: Id,
    v: Option<i64>,
    b: NameBody,
) -> ApiResult<Response> {
    let x = s.dir.rename_named(p, kind, id, NamedInput { name: b.name }, v).await?;
    Ok(tagged(StatusCode::OK, x.version, &x))
}

#[utoipa::path(post, path = "/api/v1/call-centers", tag = "call centers", request_body = NameBody,
    responses((status = 201, body = Named), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn create_call_center(State(s): State<AppState>, Caller(p): Caller, JsonBody(b): JsonBody<NameBody>) -> ApiResult<Response> {
    named_create(&s, &p, Entity::CallCenter, "call-centers", b).await
}

#[utoipa::path(get, path = "/api/v1/call-centers", tag = "call centers", params(ListParams),
    responses((status = 200, body = Paged<Named>), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn list_call_centers(State(s): State<AppState>, Caller(p): Caller, Params(q): Params<ListParams>) -> ApiResult<Response> {
    named_list(&s, &p, Entity::CallCenter, q).await
}

#[utoipa::path(get, path = "/api/v1/call-centers/{id}", tag = "call centers", params(("id" = Id, Path)),
    responses((status = 200, body = Named), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn get_call_center(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, h: HeaderMap) -> ApiResult<Response> {
    named_get(&s, &p, Entity::CallCenter, id, &h).await
}

#[utoipa::path(patch, path = "/api/v1/call-centers/{id}", tag = "call centers", request_body = NameBody,
    params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Named), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn update_call_center(
    State(s): State<AppState>,
    Caller(p): Caller,
    Ids(id): Ids<Id>,
    IfMatch(v): IfMatch,
    JsonBody(b): JsonBody<NameBody>,
) -> ApiResult<Response> {
    named_update(&s, &p, Entity::CallCenter, id, v, b).await
}

#[utoipa::path(delete, path = "/api/v1/call-centers/{id}", tag = "call centers", params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn delete_call_center(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, IfMatch(v): IfMatch) -> ApiResult<Response> {
    s.dir.delete_named(&p, Entity::CallCenter, id, v).await?;
    Ok(no_content())
}

#[utoipa::path(post, path = "/api/v1/groups", tag = "groups", request_body = NameBody,
    responses((status = 201, body = Named), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn create_group(State(s): State<AppState>, Caller(p): Caller, JsonBody(b): JsonBody<NameBody>) -> ApiResult<Response> {
    named_create(&s, &p, Entity::Group, "groups", b).await
}

#[utoipa::path(get, path = "/api/v1/groups", tag = "groups", params(ListParams),
    responses((status = 200, body = Paged<Named>), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn list_groups(State(s): State<AppState>, Caller(p): Caller, Params(q): Params<ListParams>) -> ApiResult<Response> {
    named_list(&s, &p, Entity::Group, q).await
}

#[utoipa::path(get, path = "/api/v1/groups/{id}", tag = "groups", params(("id" = Id, Path)),
    responses((status = 200, body = Named), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn get_group(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, h: HeaderMap) -> ApiResult<Response> {
    named_get(&s, &p, Entity::Group, id, &h).await
}

#[utoipa::path(patch, path = "/api/v1/groups/{id}", tag = "groups", request_body = NameBody,
    params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Named), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn update_group(
    State(s): State<AppState>,
    Caller(p): Caller,
    Ids(id): Ids<Id>,
    IfMatch(v): IfMatch,
    JsonBody(b): JsonBody<NameBody>,
) -> ApiResult<Response> {
    named_update(&s, &p, Entity::Group, id, v, b).await
}

#[utoipa::path(delete, path = "/api/v1/groups/{id}", tag = "groups", params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn delete_group(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, IfMatch(v): IfMatch) -> ApiResult<Response> {
    s.dir.delete_named(&p, Entity::Group, id, v).await?;
    Ok(no_content())
}

// ---- services --------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceBody {
    pub name: Option<String>,
    /// Only ACD services can be assigned to agents (default true).
    pub acd: Option<bool>,
    pub call_center_id: Option<Id>,
}

impl From<ServiceBody> for ServiceInput {
    fn from(b: ServiceBody) -> Self {
        ServiceInput { name: b.name, call_center_id: b.call_center_id, acd: b.acd }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ServiceQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    /// Only the services of this call center.
    pub call_center_id: Option<Id>,
}

#[utoipa::path(post, path = "/api/v1/services", tag = "services", request_body = ServiceBody,
    responses((status = 201, body = Service), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn create_service(State(s): State<AppState>, Caller(p): Caller, JsonBody(b): JsonBody<ServiceBody>) -> ApiResult<Response> {
    let x = s.dir.create_service(&p, b.into()).await?;
    Ok(created("services", x.id, x.version, &x))
}

#[utoipa::path(get, path = "/api/v1/services", tag = "services", params(ServiceQuery),
    responses((status = 200, body = Paged<Service>), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn list_services(State(s): State<AppState>, Caller(p): Caller, Params(q): Params<ServiceQuery>) -> ApiResult<Response> {
    let page = paging::request(q.limit, q.cursor.as_deref())?;
    let page = s.dir.list_services(&p, q.call_center_id, page).await?;
    Ok(json(StatusCode::OK, &paging::paged(page, |x| x.id, |x| x)))
}

#[utoipa::path(get, path = "/api/v1/services/{id}", tag = "services", params(("id" = Id, Path)),
    responses((status = 200, body = Service), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn get_service(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, h: HeaderMap) -> ApiResult<Response> {
    let x = s.dir.get_service(&p, id).await?;
    Ok(tagged_get(&h, x.version, &x))
}

#[utoipa::path(patch, path = "/api/v1/services/{id}", tag = "services", request_body = ServiceBody,
    params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Service), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn update_service(
    State(s): State<AppState>,
    Caller(p): Caller,
    Ids(id): Ids<Id>,
    IfMatch(v): IfMatch,
    JsonBody(b): JsonBody<ServiceBody>,
) -> ApiResult<Response> {
    let x = s.dir.update_service(&p, id, b.into(), v).await?;
    Ok(tagged(StatusCode::OK, x.version, &x))
}

#[utoipa::path(delete, path = "/api/v1/services/{id}", tag = "services", params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn delete_service(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, IfMatch(v): IfMatch) -> ApiResult<Response> {
    s.dir.delete_service(&p, id, v).await?;
    Ok(no_content())
}

// ---- phones ----------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PhoneBody {
    /// 3–20 digits, optional leading +.
    pub number: Option<String>,
    /// Unique per tenant (case-insensitive).
    pub name: Option<String>,
    /// Skill names; on PATCH, replaces the list.
    pub skills: Option<Vec<String>>,
}

impl From<PhoneBody> for PhoneInput {
    fn from(b: PhoneBody) -> Self {
        PhoneInput { number: b.number, name: b.name, skills: b.skills }
    }
}

#[utoipa::path(post, path = "/api/v1/phones", tag = "phones", request_body = PhoneBody,
    responses((status = 201, body = Phone), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn create_phone(State(s): State<AppState>, Caller(p): Caller, JsonBody(b): JsonBody<PhoneBody>) -> ApiResult<Response> {
    let x = s.dir.create_phone(&p, b.into()).await?;
    Ok(created("phones", x.id, x.version, &x))
}

#[utoipa::path(get, path = "/api/v1/phones", tag = "phones", params(ListParams),
    responses((status = 200, body = Paged<Phone>), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn list_phones(State(s): State<AppState>, Caller(p): Caller, Params(q): Params<ListParams>) -> ApiResult<Response> {
    let page = s.dir.list_phones(&p, q.page()?).await?;
    Ok(json(StatusCode::OK, &paging::paged(page, |x| x.id, |x| x)))
}

#[utoipa::path(get, path = "/api/v1/phones/{id}", tag = "phones", params(("id" = Id, Path)),
    responses((status = 200, body = Phone), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn get_phone(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, h: HeaderMap) -> ApiResult<Response> {
    let x = s.dir.get_phone(&p, id).await?;
    Ok(tagged_get(&h, x.version, &x))
}

#[utoipa::path(patch, path = "/api/v1/phones/{id}", tag = "phones", request_body = PhoneBody,
    params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Phone), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn update_phone(
    State(s): State<AppState>,
    Caller(p): Caller,
    Ids(id): Ids<Id>,
    IfMatch(v): IfMatch,
    JsonBody(b): JsonBody<PhoneBody>,
) -> ApiResult<Response> {
    let x = s.dir.update_phone(&p, id, b.into(), v).await?;
    Ok(tagged(StatusCode::OK, x.version, &x))
}

#[utoipa::path(delete, path = "/api/v1/phones/{id}", tag = "phones", params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn delete_phone(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, IfMatch(v): IfMatch) -> ApiResult<Response> {
    s.dir.delete_phone(&p, id, v).await?;
    Ok(no_content())
}

// ---- DIDs --------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DidBody {
    /// 3–20 digits, optional leading +; unique per tenant.
    pub number: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/dids", tag = "dids", request_body = DidBody,
    responses((status = 201, body = Did), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn create_did(State(s): State<AppState>, Caller(p): Caller, JsonBody(b): JsonBody<DidBody>) -> ApiResult<Response> {
    let x = s.dir.create_did(&p, b.number).await?;
    Ok(created("dids", x.id, x.version, &x))
}

#[utoipa::path(get, path = "/api/v1/dids", tag = "dids", params(ListParams),
    responses((status = 200, body = Paged<Did>), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn list_dids(State(s): State<AppState>, Caller(p): Caller, Params(q): Params<ListParams>) -> ApiResult<Response> {
    let page = s.dir.list_dids(&p, q.page()?).await?;
    Ok(json(StatusCode::OK, &paging::paged(page, |x| x.id, |x| x)))
}

#[utoipa::path(get, path = "/api/v1/dids/{id}", tag = "dids", params(("id" = Id, Path)),
    responses((status = 200, body = Did), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn get_did(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, h: HeaderMap) -> ApiResult<Response> {
    let x = s.dir.get_did(&p, id).await?;
    Ok(tagged_get(&h, x.version, &x))
}

#[utoipa::path(patch, path = "/api/v1/dids/{id}", tag = "dids", request_body = DidBody,
    params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Did), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn update_did(
    State(s): State<AppState>,
    Caller(p): Caller,
    Ids(id): Ids<Id>,
    IfMatch(v): IfMatch,
    JsonBody(b): JsonBody<DidBody>,
) -> ApiResult<Response> {
    let x = s.dir.update_did(&p, id, b.number, v).await?;
    Ok(tagged(StatusCode::OK, x.version, &x))
}

#[utoipa::path(delete, path = "/api/v1/dids/{id}", tag = "dids", params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn delete_did(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, IfMatch(v): IfMatch) -> ApiResult<Response> {
    s.dir.delete_did(&p, id, v).await?;
    Ok(no_content())
}

// ---- campaigns ---------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CampaignBody {
    pub name: Option<String>,
    /// DID numbers from the tenant's inventory, in order.
    pub dynamic_dids: Option<Vec<String>>,
    /// DID numbers from the tenant's inventory, in order.
    pub fallback_dids: Option<Vec<String>>,
}

impl From<CampaignBody> for CampaignInput {
    fn from(b: CampaignBody) -> Self {
        CampaignInput { name: b.name, dynamic_dids: b.dynamic_dids, fallback_dids: b.fallback_dids }
    }
}

#[utoipa::path(post, path = "/api/v1/campaigns", tag = "campaigns", request_body = CampaignBody,
    responses((status = 201, body = Campaign), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn create_campaign(State(s): State<AppState>, Caller(p): Caller, JsonBody(b): JsonBody<CampaignBody>) -> ApiResult<Response> {
    let x = s.dir.create_campaign(&p, b.into()).await?;
    Ok(created("campaigns", x.id, x.version, &x))
}

#[utoipa::path(get, path = "/api/v1/campaigns", tag = "campaigns", params(ListParams),
    responses((status = 200, body = Paged<Campaign>), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn list_campaigns(State(s): State<AppState>, Caller(p): Caller, Params(q): Params<ListParams>) -> ApiResult<Response> {
    let page = s.dir.list_campaigns(&p, q.page()?).await?;
    Ok(json(StatusCode::OK, &paging::paged(page, |x| x.id, |x| x)))
}

#[utoipa::path(get, path = "/api/v1/campaigns/{id}", tag = "campaigns", params(("id" = Id, Path)),
    responses((status = 200, body = Campaign), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn get_campaign(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, h: HeaderMap) -> ApiResult<Response> {
    let x = s.dir.get_campaign(&p, id).await?;
    Ok(tagged_get(&h, x.version, &x))
}

#[utoipa::path(patch, path = "/api/v1/campaigns/{id}", tag = "campaigns", request_body = CampaignBody,
    params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Campaign), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn update_campaign(
    State(s): State<AppState>,
    Caller(p): Caller,
    Ids(id): Ids<Id>,
    IfMatch(v): IfMatch,
    JsonBody(b): JsonBody<CampaignBody>,
) -> ApiResult<Response> {
    let x = s.dir.update_campaign(&p, id, b.into(), v).await?;
    Ok(tagged(StatusCode::OK, x.version, &x))
}

#[utoipa::path(delete, path = "/api/v1/campaigns/{id}", tag = "campaigns", params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn delete_campaign(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, IfMatch(v): IfMatch) -> ApiResult<Response> {
    s.dir.delete_campaign(&p, id, v).await?;
    Ok(no_content())
}

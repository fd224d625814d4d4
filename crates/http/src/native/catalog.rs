//! The tenant's catalog: skills, call centers, groups, services, phones, DIDs
//! and campaigns. Each is create / list / get / PATCH / DELETE; the same body
//! type serves create (required fields checked by the domain) and PATCH.

use super::extract::{json, no_content, tagged, tagged_get, Caller, Ids, IfMatch, IfNoneMatch, JsonBody, Params};
use super::paging::{self, ListParams, Paged};
use super::problem::ApiResult;
use super::schema;
use super::wire::not_null;
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
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

/// A skill: `SkillCreate` to create one; `SkillUpdate` (the same fields, none
/// required, at least one) to change one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = SkillCreate, example = json!({"name": "Spanish", "description": "Spanish-speaking callers"}))]
pub struct SkillBody {
    /// Unique per tenant, ignoring case.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = schema::name, required = true)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = schema::description)]
    pub description: Option<String>,
}

impl From<SkillBody> for SkillInput {
    fn from(b: SkillBody) -> Self {
        SkillInput { name: b.name, description: b.description }
    }
}

/// Create a skill.
///
/// Creates a skill; its name is unique in the tenant ignoring case.
#[utoipa::path(post, path = "/api/v1/skills", tag = "skills", request_body = SkillBody,
    responses((status = 201, body = Skill)))]
async fn create_skill(State(s): State<AppState>, Caller(p): Caller, JsonBody(b): JsonBody<SkillBody>) -> ApiResult<Response> {
    let x = s.dir.create_skill(&p, b.into()).await?;
    Ok(created("skills", x.id, x.version, &x))
}

/// List skills.
///
/// The tenant's skills in id order, a page at a time.
#[utoipa::path(get, path = "/api/v1/skills", tag = "skills", params(ListParams),
    responses((status = 200, body = Paged<Skill>)))]
async fn list_skills(State(s): State<AppState>, Caller(p): Caller, Params(q): Params<ListParams>) -> ApiResult<Response> {
    let page = s.dir.list_skills(&p, q.page()?).await?;
    Ok(json(StatusCode::OK, &paging::paged(page, |x| x.id, |x| x)))
}

/// Read a skill.
///
/// One skill, with its `ETag`.
#[utoipa::path(get, path = "/api/v1/skills/{id}", tag = "skills", params(("id" = Id, Path)),
    responses((status = 200, body = Skill)))]
async fn get_skill(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, h: IfNoneMatch) -> ApiResult<Response> {
    let x = s.dir.get_skill(&p, id).await?;
    Ok(tagged_get(&h, x.version, &x))
}

/// Change a skill.
///
/// Renames a skill or changes its description.
#[utoipa::path(patch, path = "/api/v1/skills/{id}", tag = "skills", request_body = SkillBody,
    params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Skill)))]
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

/// Delete a skill.
///
/// Deletes the skill and removes it from every agent.
#[utoipa::path(delete, path = "/api/v1/skills/{id}", tag = "skills", params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204)))]
async fn delete_skill(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, IfMatch(v): IfMatch) -> ApiResult<Response> {
    s.dir.delete_skill(&p, id, v).await?;
    Ok(no_content())
}

// ---- call centers and groups (name-only objects) -----------------------------

/// A call center or group: its name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NameCreate, example = json!({"name": "Tier 1"}))]
pub struct NameBody {
    /// Unique per tenant, ignoring case.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = schema::name, required = true)]
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

async fn named_get(s: &AppState, p: &switchboard_domain::Principal, kind: Entity, id: Id, h: &IfNoneMatch) -> ApiResult<Response> {
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

/// Create a call center.
///
/// Creates a call center; its name is unique in the tenant ignoring case.
#[utoipa::path(post, path = "/api/v1/call-centers", tag = "call centers", request_body = NameBody,
    responses((status = 201, body = Named)))]
async fn create_call_center(State(s): State<AppState>, Caller(p): Caller, JsonBody(b): JsonBody<NameBody>) -> ApiResult<Response> {
    named_create(&s, &p, Entity::CallCenter, "call-centers", b).await
}

/// List call centers.
///
/// The tenant's call centers in id order, a page at a time.
#[utoipa::path(get, path = "/api/v1/call-centers", tag = "call centers", params(ListParams),
    responses((status = 200, body = Paged<Named>)))]
async fn list_call_centers(State(s): State<AppState>, Caller(p): Caller, Params(q): Params<ListParams>) -> ApiResult<Response> {
    named_list(&s, &p, Entity::CallCenter, q).await
}

/// Read a call center.
///
/// One call center, with its `ETag`.
#[utoipa::path(get, path = "/api/v1/call-centers/{id}", tag = "call centers", params(("id" = Id, Path)),
    responses((status = 200, body = Named)))]
async fn get_call_center(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, h: IfNoneMatch) -> ApiResult<Response> {
    named_get(&s, &p, Entity::CallCenter, id, &h).await
}

/// Rename a call center.
///
/// Renames the call center.
#[utoipa::path(patch, path = "/api/v1/call-centers/{id}", tag = "call centers", request_body = NameBody,
    params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Named)))]
async fn update_call_center(
    State(s): State<AppState>,
    Caller(p): Caller,
    Ids(id): Ids<Id>,
    IfMatch(v): IfMatch,
    JsonBody(b): JsonBody<NameBody>,
) -> ApiResult<Response> {
    named_update(&s, &p, Entity::CallCenter, id, v, b).await
}

/// Delete a call center.
///
/// Deletes the call center; refused (409 `in_use`) while it has services.
#[utoipa::path(delete, path = "/api/v1/call-centers/{id}", tag = "call centers", params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204)))]
async fn delete_call_center(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, IfMatch(v): IfMatch) -> ApiResult<Response> {
    s.dir.delete_named(&p, Entity::CallCenter, id, v).await?;
    Ok(no_content())
}

/// Create a group.
///
/// Creates an agent group; its name is unique in the tenant ignoring case.
#[utoipa::path(post, path = "/api/v1/groups", tag = "groups", request_body = NameBody,
    responses((status = 201, body = Named)))]
async fn create_group(State(s): State<AppState>, Caller(p): Caller, JsonBody(b): JsonBody<NameBody>) -> ApiResult<Response> {
    named_create(&s, &p, Entity::Group, "groups", b).await
}

/// List groups.
///
/// The tenant's groups in id order, a page at a time.
#[utoipa::path(get, path = "/api/v1/groups", tag = "groups", params(ListParams),
    responses((status = 200, body = Paged<Named>)))]
async fn list_groups(State(s): State<AppState>, Caller(p): Caller, Params(q): Params<ListParams>) -> ApiResult<Response> {
    named_list(&s, &p, Entity::Group, q).await
}

/// Read a group.
///
/// One group, with its `ETag`.
#[utoipa::path(get, path = "/api/v1/groups/{id}", tag = "groups", params(("id" = Id, Path)),
    responses((status = 200, body = Named)))]
async fn get_group(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, h: IfNoneMatch) -> ApiResult<Response> {
    named_get(&s, &p, Entity::Group, id, &h).await
}

/// Rename a group.
///
/// Renames the group.
#[utoipa::path(patch, path = "/api/v1/groups/{id}", tag = "groups", request_body = NameBody,
    params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Named)))]
async fn update_group(
    State(s): State<AppState>,
    Caller(p): Caller,
    Ids(id): Ids<Id>,
    IfMatch(v): IfMatch,
    JsonBody(b): JsonBody<NameBody>,
) -> ApiResult<Response> {
    named_update(&s, &p, Entity::Group, id, v, b).await
}

/// Delete a group.
///
/// Deletes the group and takes every agent out of it.
#[utoipa::path(delete, path = "/api/v1/groups/{id}", tag = "groups", params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204)))]
async fn delete_group(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, IfMatch(v): IfMatch) -> ApiResult<Response> {
    s.dir.delete_named(&p, Entity::Group, id, v).await?;
    Ok(no_content())
}

// ---- services --------------------------------------------------------------

/// A service of a call center.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = ServiceCreate, example = json!({"name": "Billing", "callCenterId": 1, "acd": true}))]
pub struct ServiceBody {
    /// Unique per tenant, ignoring case.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = schema::name, required = true)]
    pub name: Option<String>,
    /// Only ACD services can be assigned to agents (default true).
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = bool)]
    pub acd: Option<bool>,
    /// The call center the service belongs to.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = Id, required = true)]
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
    /// Items per page (default 100).
    #[serde(default, deserialize_with = "super::wire::query_int")]
    #[param(minimum = 1, maximum = 1000, example = 100)]
    pub limit: Option<u32>,
    /// `nextCursor` of the previous page; empty or left out for the first page.
    #[param(pattern = "^([1-9][0-9]{0,17})?$", example = "1042")]
    pub cursor: Option<String>,
    /// Only the services of this call center.
    #[serde(default, deserialize_with = "super::wire::query_int")]
    pub call_center_id: Option<Id>,
}

/// Create a service.
///
/// Creates a service of a call center. Only ACD services (`acd`, the default) can be assigned to agents.
#[utoipa::path(post, path = "/api/v1/services", tag = "services", request_body = ServiceBody,
    responses((status = 201, body = Service)))]
async fn create_service(State(s): State<AppState>, Caller(p): Caller, JsonBody(b): JsonBody<ServiceBody>) -> ApiResult<Response> {
    let x = s.dir.create_service(&p, b.into()).await?;
    Ok(created("services", x.id, x.version, &x))
}

/// List services.
///
/// The tenant's services in id order, a page at a time; `callCenterId` keeps one call center's.
#[utoipa::path(get, path = "/api/v1/services", tag = "services", params(ServiceQuery),
    responses((status = 200, body = Paged<Service>)))]
async fn list_services(State(s): State<AppState>, Caller(p): Caller, Params(q): Params<ServiceQuery>) -> ApiResult<Response> {
    let page = paging::request(q.limit, q.cursor.as_deref())?;
    let page = s.dir.list_services(&p, q.call_center_id, page).await?;
    Ok(json(StatusCode::OK, &paging::paged(page, |x| x.id, |x| x)))
}

/// Read a service.
///
/// One service, with its `ETag`.
#[utoipa::path(get, path = "/api/v1/services/{id}", tag = "services", params(("id" = Id, Path)),
    responses((status = 200, body = Service)))]
async fn get_service(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, h: IfNoneMatch) -> ApiResult<Response> {
    let x = s.dir.get_service(&p, id).await?;
    Ok(tagged_get(&h, x.version, &x))
}

/// Change a service.
///
/// Renames a service, moves it to another call center or changes whether it is ACD.
#[utoipa::path(patch, path = "/api/v1/services/{id}", tag = "services", request_body = ServiceBody,
    params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Service)))]
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

/// Delete a service.
///
/// Deletes the service and removes it from every agent.
#[utoipa::path(delete, path = "/api/v1/services/{id}", tag = "services", params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204)))]
async fn delete_service(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, IfMatch(v): IfMatch) -> ApiResult<Response> {
    s.dir.delete_service(&p, id, v).await?;
    Ok(no_content())
}

// ---- phones ----------------------------------------------------------------

/// A phone (Ozonetel's PhoneManageV2 objects).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = PhoneCreate, example = json!({"number": "+16503517454", "name": "Desk 12", "skills": ["Spanish"]}))]
pub struct PhoneBody {
    /// Unique per tenant.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = schema::phone_number, required = true)]
    pub number: Option<String>,
    /// Unique per tenant, ignoring case.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = schema::name, required = true)]
    pub name: Option<String>,
    /// Names of the tenant's skills, each once (ignoring case); on PATCH, replaces the list.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = schema::skill_names)]
    pub skills: Option<Vec<String>>,
}

impl From<PhoneBody> for PhoneInput {
    fn from(b: PhoneBody) -> Self {
        PhoneInput { number: b.number, name: b.name, skills: b.skills }
    }
}

/// Create a phone.
///
/// Creates a phone with its skills (by name); counted against the tenant's `phoneNumberLimit`.
#[utoipa::path(post, path = "/api/v1/phones", tag = "phones", request_body = PhoneBody,
    responses((status = 201, body = Phone)))]
async fn create_phone(State(s): State<AppState>, Caller(p): Caller, JsonBody(b): JsonBody<PhoneBody>) -> ApiResult<Response> {
    let x = s.dir.create_phone(&p, b.into()).await?;
    Ok(created("phones", x.id, x.version, &x))
}

/// List phones.
///
/// The tenant's phones in id order, a page at a time.
#[utoipa::path(get, path = "/api/v1/phones", tag = "phones", params(ListParams),
    responses((status = 200, body = Paged<Phone>)))]
async fn list_phones(State(s): State<AppState>, Caller(p): Caller, Params(q): Params<ListParams>) -> ApiResult<Response> {
    let page = s.dir.list_phones(&p, q.page()?).await?;
    Ok(json(StatusCode::OK, &paging::paged(page, |x| x.id, |x| x)))
}

/// Read a phone.
///
/// One phone, with its `ETag`.
#[utoipa::path(get, path = "/api/v1/phones/{id}", tag = "phones", params(("id" = Id, Path)),
    responses((status = 200, body = Phone)))]
async fn get_phone(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, h: IfNoneMatch) -> ApiResult<Response> {
    let x = s.dir.get_phone(&p, id).await?;
    Ok(tagged_get(&h, x.version, &x))
}

/// Change a phone.
///
/// Changes a phone's number, name or skills (the list sent replaces the old one).
#[utoipa::path(patch, path = "/api/v1/phones/{id}", tag = "phones", request_body = PhoneBody,
    params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Phone)))]
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

/// Delete a phone.
///
/// Deletes the phone.
#[utoipa::path(delete, path = "/api/v1/phones/{id}", tag = "phones", params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204)))]
async fn delete_phone(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, IfMatch(v): IfMatch) -> ApiResult<Response> {
    s.dir.delete_phone(&p, id, v).await?;
    Ok(no_content())
}

// ---- DIDs --------------------------------------------------------------------

/// A DID (caller id number) of the tenant's inventory.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = DidCreate, example = json!({"number": "+16505550100"}))]
pub struct DidBody {
    /// Unique per tenant.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = schema::phone_number, required = true)]
    pub number: Option<String>,
}

/// Add a DID.
///
/// Adds a DID (caller id number) to the tenant's inventory.
#[utoipa::path(post, path = "/api/v1/dids", tag = "dids", request_body = DidBody,
    responses((status = 201, body = Did)))]
async fn create_did(State(s): State<AppState>, Caller(p): Caller, JsonBody(b): JsonBody<DidBody>) -> ApiResult<Response> {
    let x = s.dir.create_did(&p, b.number).await?;
    Ok(created("dids", x.id, x.version, &x))
}

/// List DIDs.
///
/// The tenant's DIDs in id order, a page at a time.
#[utoipa::path(get, path = "/api/v1/dids", tag = "dids", params(ListParams),
    responses((status = 200, body = Paged<Did>)))]
async fn list_dids(State(s): State<AppState>, Caller(p): Caller, Params(q): Params<ListParams>) -> ApiResult<Response> {
    let page = s.dir.list_dids(&p, q.page()?).await?;
    Ok(json(StatusCode::OK, &paging::paged(page, |x| x.id, |x| x)))
}

/// Read a DID.
///
/// One DID, with its `ETag`.
#[utoipa::path(get, path = "/api/v1/dids/{id}", tag = "dids", params(("id" = Id, Path)),
    responses((status = 200, body = Did)))]
async fn get_did(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, h: IfNoneMatch) -> ApiResult<Response> {
    let x = s.dir.get_did(&p, id).await?;
    Ok(tagged_get(&h, x.version, &x))
}

/// Change a DID.
///
/// Changes the DID's number.
#[utoipa::path(patch, path = "/api/v1/dids/{id}", tag = "dids", request_body = DidBody,
    params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Did)))]
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

/// Delete a DID.
///
/// Deletes the DID; refused (409 `in_use`) while a campaign uses it.
#[utoipa::path(delete, path = "/api/v1/dids/{id}", tag = "dids", params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204)))]
async fn delete_did(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, IfMatch(v): IfMatch) -> ApiResult<Response> {
    s.dir.delete_did(&p, id, v).await?;
    Ok(no_content())
}

// ---- campaigns ---------------------------------------------------------------

/// A campaign and the caller ids (DIDs) it dials with.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CampaignCreate, example = json!({"name": "Renewals", "dynamicDids": ["+16505550100"], "fallbackDids": []}))]
pub struct CampaignBody {
    /// Unique per tenant, ignoring case.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = schema::name, required = true)]
    pub name: Option<String>,
    /// DID numbers from the tenant's inventory, in order, each once.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = schema::did_numbers)]
    pub dynamic_dids: Option<Vec<String>>,
    /// DID numbers from the tenant's inventory, in order, each once.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = schema::did_numbers)]
    pub fallback_dids: Option<Vec<String>>,
}

impl From<CampaignBody> for CampaignInput {
    fn from(b: CampaignBody) -> Self {
        CampaignInput { name: b.name, dynamic_dids: b.dynamic_dids, fallback_dids: b.fallback_dids }
    }
}

/// Create a campaign.
///
/// Creates a campaign with its dynamic and fallback DIDs (numbers of the tenant's inventory, in order).
#[utoipa::path(post, path = "/api/v1/campaigns", tag = "campaigns", request_body = CampaignBody,
    responses((status = 201, body = Campaign)))]
async fn create_campaign(State(s): State<AppState>, Caller(p): Caller, JsonBody(b): JsonBody<CampaignBody>) -> ApiResult<Response> {
    let x = s.dir.create_campaign(&p, b.into()).await?;
    Ok(created("campaigns", x.id, x.version, &x))
}

/// List campaigns.
///
/// The tenant's campaigns in id order, a page at a time.
#[utoipa::path(get, path = "/api/v1/campaigns", tag = "campaigns", params(ListParams),
    responses((status = 200, body = Paged<Campaign>)))]
async fn list_campaigns(State(s): State<AppState>, Caller(p): Caller, Params(q): Params<ListParams>) -> ApiResult<Response> {
    let page = s.dir.list_campaigns(&p, q.page()?).await?;
    Ok(json(StatusCode::OK, &paging::paged(page, |x| x.id, |x| x)))
}

/// Read a campaign.
///
/// One campaign, with its `ETag`.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}", tag = "campaigns", params(("id" = Id, Path)),
    responses((status = 200, body = Campaign)))]
async fn get_campaign(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, h: IfNoneMatch) -> ApiResult<Response> {
    let x = s.dir.get_campaign(&p, id).await?;
    Ok(tagged_get(&h, x.version, &x))
}

/// Change a campaign.
///
/// Renames a campaign or replaces its DID lists.
#[utoipa::path(patch, path = "/api/v1/campaigns/{id}", tag = "campaigns", request_body = CampaignBody,
    params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Campaign)))]
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

/// Delete a campaign.
///
/// Deletes the campaign.
#[utoipa::path(delete, path = "/api/v1/campaigns/{id}", tag = "campaigns", params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204)))]
async fn delete_campaign(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, IfMatch(v): IfMatch) -> ApiResult<Response> {
    s.dir.delete_campaign(&p, id, v).await?;
    Ok(no_content())
}

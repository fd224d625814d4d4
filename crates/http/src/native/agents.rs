//! `/api/v1/agents` and an agent's skills, services, groups and unlock.

use super::extract::{json, no_content, tagged, tagged_get, Caller, Ids, IfMatch, JsonBody, Params};
use super::paging::{self, Paged};
use super::problem::{ApiResult, Problem};
use super::wire::double_option;
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use switchboard_domain::{Agent, AgentDetail, AgentFilter, AgentPatch, GroupMembership, Id, NewAgent, ProfileInput, SkillAssignment};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_agent, list_agents))
        .routes(routes!(get_agent, update_agent, delete_agent))
        .routes(routes!(unlock_agent))
        .routes(routes!(list_agent_skills))
        .routes(routes!(assign_skill, remove_skill))
        .routes(routes!(list_agent_services))
        .routes(routes!(assign_service, remove_service))
        .routes(routes!(list_agent_groups))
        .routes(routes!(set_group, remove_group))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentCreate {
    /// Unique per tenant, case-insensitive; stored upper-case.
    pub login_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Seconds; -1 means unlimited (the default).
    pub wrap_up_time: Option<i64>,
    pub home_agent: Option<bool>,
    pub active: Option<bool>,
    /// 8–128 characters with at least one digit.
    pub password: Option<String>,
    #[serde(default)]
    pub skills: Vec<SkillRef>,
    #[serde(default)]
    pub service_ids: Vec<Id>,
    #[serde(default)]
    pub groups: Vec<GroupRef>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// The identity provider's id (SCIM `externalId`).
    pub external_id: Option<String>,
    pub employee_number: Option<String>,
    pub department: Option<String>,
    /// The manager's id as the identity provider gave it.
    pub manager: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SkillRef {
    pub skill_id: Id,
    /// 1–5.
    pub proficiency: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupRef {
    pub group_id: Id,
    #[serde(default = "yes")]
    pub receive_call: bool,
}

impl From<AgentCreate> for NewAgent {
    fn from(b: AgentCreate) -> Self {
        NewAgent {
            login_id: b.login_id,
            first_name: b.first_name,
            last_name: b.last_name,
            display_name: b.display_name,
            email: b.email,
            phone: b.phone,
            wrap_up_time: b.wrap_up_time,
            home_agent: b.home_agent,
            active: b.active,
            password: b.password,
            skills: b.skills.into_iter().map(|s| SkillAssignment { skill_id: s.skill_id, proficiency: s.proficiency }).collect(),
            service_ids: b.service_ids,
            groups: b.groups.into_iter().map(|g| GroupMembership { group_id: g.group_id, receive_call: g.receive_call }).collect(),
            attributes: b.attributes,
            profile: ProfileInput {
                external_id: b.external_id.map(Some),
                employee_number: b.employee_number.map(Some),
                department: b.department.map(Some),
                manager: b.manager.map(Some),
            },
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentUpdate {
    pub login_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// null clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub display_name: Option<Option<String>>,
    /// null clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// "" clears it.
    pub phone: Option<String>,
    pub wrap_up_time: Option<i64>,
    pub home_agent: Option<bool>,
    pub active: Option<bool>,
    /// Must not repeat any of the last 4 passwords; also unlocks the agent.
    pub password: Option<String>,
    pub locked: Option<bool>,
    /// Merged into the stored attributes; a null value removes a key.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// null clears it (also employeeNumber, department, manager).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub external_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub employee_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub department: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub manager: Option<Option<String>>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AgentQuery {
    /// Items per page, 1–1000 (default 100).
    pub limit: Option<u32>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// Case-insensitive substring of loginId, names, email or phone.
    pub q: Option<String>,
    /// Case-insensitive substring of loginId.
    pub login_id: Option<String>,
    /// Case-insensitive substring of lastName.
    pub last_name: Option<String>,
    /// Substring of phone.
    pub phone: Option<String>,
    pub active: Option<bool>,
    pub skill_id: Option<Id>,
    pub service_id: Option<Id>,
    pub group_id: Option<Id>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProficiencyBody {
    /// 1–5.
    pub proficiency: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReceiveCallBody {
    /// Default true.
    pub receive_call: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRef {
    pub service_id: Id,
}

fn location(resp: &mut Response, path: String) {
    if let Ok(v) = HeaderValue::from_str(&path) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
}

#[utoipa::path(post, path = "/api/v1/agents", tag = "agents", request_body = AgentCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create safe")),
    responses((status = 201, body = AgentDetail), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn create_agent(State(s): State<AppState>, Caller(p): Caller, JsonBody(b): JsonBody<AgentCreate>) -> ApiResult<Response> {
    let agent = s.dir.create_agent(&p, b.into()).await?;
    let mut resp = tagged(StatusCode::CREATED, agent.agent.version, &agent);
    location(&mut resp, format!("/api/v1/agents/{}", agent.agent.id));
    Ok(resp)
}

#[utoipa::path(get, path = "/api/v1/agents", tag = "agents", params(AgentQuery),
    responses((status = 200, body = Paged<Agent>), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn list_agents(State(s): State<AppState>, Caller(p): Caller, Params(q): Params<AgentQuery>) -> ApiResult<Response> {
    let page = paging::request(q.limit, q.cursor.as_deref())?;
    let filter = AgentFilter {
        q: q.q,
        login_id_contains: q.login_id,
        last_name_contains: q.last_name,
        phone_contains: q.phone,
        active: q.active,
        skill_id: q.skill_id,
        service_id: q.service_id,
        group_id: q.group_id,
        ..Default::default()
    };
    let page = s.dir.list_agents(&p, &filter, page).await?;
    Ok(json(StatusCode::OK, &paging::paged(page, |a| a.id, |a| a)))
}

#[utoipa::path(get, path = "/api/v1/agents/{id}", tag = "agents", params(("id" = Id, Path)),
    responses((status = 200, body = AgentDetail, headers(("ETag" = String))), (status = 304), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn get_agent(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, headers: HeaderMap) -> ApiResult<Response> {
    let a = s.dir.get_agent(&p, id).await?;
    Ok(tagged_get(&headers, a.agent.version, &a))
}

#[utoipa::path(patch, path = "/api/v1/agents/{id}", tag = "agents", request_body = AgentUpdate,
    params(("id" = Id, Path), ("If-Match" = Option<String>, Header, description = "ETag last read; 412 if the agent changed since")),
    responses((status = 200, body = AgentDetail), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn update_agent(
    State(s): State<AppState>,
    Caller(p): Caller,
    Ids(id): Ids<Id>,
    IfMatch(v): IfMatch,
    JsonBody(b): JsonBody<AgentUpdate>,
) -> ApiResult<Response> {
    let patch = AgentPatch {
        login_id: b.login_id,
        first_name: b.first_name,
        last_name: b.last_name,
        display_name: b.display_name,
        email: b.email,
        phone: b.phone,
        wrap_up_time: b.wrap_up_time,
        home_agent: b.home_agent,
        active: b.active,
        password: b.password,
        locked: b.locked,
        attributes: b.attributes,
        profile: ProfileInput {
            external_id: b.external_id,
            employee_number: b.employee_number,
            department: b.department,
            manager: b.manager,
        },
        unchanged: None,
    };
    let a = s.dir.update_agent(&p, id, patch, v).await?;
    Ok(tagged(StatusCode::OK, a.agent.version, &a))
}

#[utoipa::path(delete, path = "/api/v1/agents/{id}", tag = "agents",
    params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn delete_agent(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, IfMatch(v): IfMatch) -> ApiResult<Response> {
    s.dir.delete_agent(&p, id, v).await?;
    Ok(no_content())
}

#[utoipa::path(post, path = "/api/v1/agents/{id}/unlock", tag = "agents", params(("id" = Id, Path)),
    responses((status = 200, body = AgentDetail), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn unlock_agent(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>) -> ApiResult<Response> {
    let a = s.dir.unlock_agent(&p, id).await?;
    Ok(tagged(StatusCode::OK, a.agent.version, &a))
}

#[utoipa::path(get, path = "/api/v1/agents/{id}/skills", tag = "agents", params(("id" = Id, Path)),
    responses((status = 200, body = Vec<SkillAssignment>), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn list_agent_skills(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>) -> ApiResult<Response> {
    Ok(json(StatusCode::OK, &s.dir.get_agent(&p, id).await?.skills))
}

#[utoipa::path(put, path = "/api/v1/agents/{id}/skills/{skillId}", tag = "agents", request_body = ProficiencyBody,
    params(("id" = Id, Path), ("skillId" = Id, Path)),
    responses((status = 200, body = SkillAssignment), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn assign_skill(
    State(s): State<AppState>,
    Caller(p): Caller,
    Ids((id, skill)): Ids<(Id, Id)>,
    JsonBody(b): JsonBody<ProficiencyBody>,
) -> ApiResult<Response> {
    let proficiency = b
        .proficiency
        .ok_or_else(|| Problem::from(switchboard_domain::Error::invalid("proficiency", switchboard_domain::Rule::Required)))?;
    let a = s.dir.assign_skill(&p, id, skill, proficiency).await?;
    Ok(json(
        StatusCode::OK,
        &SkillAssignment {
            skill_id: skill,
            proficiency: a.skills.iter().find(|x| x.skill_id == skill).map_or(proficiency, |x| x.proficiency),
        },
    ))
}

#[utoipa::path(delete, path = "/api/v1/agents/{id}/skills/{skillId}", tag = "agents",
    params(("id" = Id, Path), ("skillId" = Id, Path)),
    responses((status = 204), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn remove_skill(State(s): State<AppState>, Caller(p): Caller, Ids((id, skill)): Ids<(Id, Id)>) -> ApiResult<Response> {
    s.dir.remove_skill(&p, id, skill).await?;
    Ok(no_content())
}

#[utoipa::path(get, path = "/api/v1/agents/{id}/services", tag = "agents", params(("id" = Id, Path)),
    responses((status = 200, body = Vec<ServiceRef>), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn list_agent_services(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>) -> ApiResult<Response> {
    let a = s.dir.get_agent(&p, id).await?;
    let refs: Vec<ServiceRef> = a.service_ids.into_iter().map(|service_id| ServiceRef { service_id }).collect();
    Ok(json(StatusCode::OK, &refs))
}

#[utoipa::path(put, path = "/api/v1/agents/{id}/services/{serviceId}", tag = "agents",
    params(("id" = Id, Path), ("serviceId" = Id, Path)),
    responses((status = 200, body = ServiceRef), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn assign_service(State(s): State<AppState>, Caller(p): Caller, Ids((id, service)): Ids<(Id, Id)>) -> ApiResult<Response> {
    s.dir.assign_service(&p, id, service).await?;
    Ok(json(StatusCode::OK, &ServiceRef { service_id: service }))
}

#[utoipa::path(delete, path = "/api/v1/agents/{id}/services/{serviceId}", tag = "agents",
    params(("id" = Id, Path), ("serviceId" = Id, Path)),
    responses((status = 204), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn remove_service(State(s): State<AppState>, Caller(p): Caller, Ids((id, service)): Ids<(Id, Id)>) -> ApiResult<Response> {
    s.dir.remove_service(&p, id, service).await?;
    Ok(no_content())
}

#[utoipa::path(get, path = "/api/v1/agents/{id}/groups", tag = "agents", params(("id" = Id, Path)),
    responses((status = 200, body = Vec<GroupMembership>), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn list_agent_groups(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>) -> ApiResult<Response> {
    Ok(json(StatusCode::OK, &s.dir.get_agent(&p, id).await?.groups))
}

#[utoipa::path(put, path = "/api/v1/agents/{id}/groups/{groupId}", tag = "agents", request_body = ReceiveCallBody,
    params(("id" = Id, Path), ("groupId" = Id, Path)),
    responses((status = 200, body = GroupMembership), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn set_group(
    State(s): State<AppState>,
    Caller(p): Caller,
    Ids((id, group)): Ids<(Id, Id)>,
    JsonBody(b): JsonBody<ReceiveCallBody>,
) -> ApiResult<Response> {
    let m = GroupMembership { group_id: group, receive_call: b.receive_call.unwrap_or(true) };
    s.dir.assign_group(&p, id, group, m.receive_call).await?;
    Ok(json(StatusCode::OK, &m))
}

#[utoipa::path(delete, path = "/api/v1/agents/{id}/groups/{groupId}", tag = "agents",
    params(("id" = Id, Path), ("groupId" = Id, Path)),
    responses((status = 204), (status = "default", body = Problem, content_type = "application/problem+json")))]
async fn remove_group(State(s): State<AppState>, Caller(p): Caller, Ids((id, group)): Ids<(Id, Id)>) -> ApiResult<Response> {
    s.dir.remove_group_membership(&p, id, group).await?;
    Ok(no_content())
}

#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_body(data: &[u8]) {
    if let Ok(b) = serde_json::from_slice::<AgentCreate>(data) {
        let _ = NewAgent::from(b).validate(&switchboard_domain::PasswordPolicy::ON_CREATE);
    }
    let _ = serde_json::from_slice::<AgentUpdate>(data);
}

//! `/api/v1/agents` and an agent's skills, services, groups and unlock.

use super::extract::{json, no_content, tagged, tagged_get, Caller, Ids, IfMatch, IfNoneMatch, JsonBody, Params};
use super::paging::{self, Paged};
use super::problem::{ApiResult, Problem};
use super::schema;
use super::wire::{double_option, not_null};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use switchboard_domain::{
    Agent, AgentDetail, AgentFilter, AgentPatch, Error, GroupMembership, Id, NewAgent, ProfileInput, Rule, SkillAssignment,
};
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

/// A new agent. `null` in an optional field is the same as leaving it out.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "loginId": "JDOE", "firstName": "John", "lastName": "Doe", "email": "jdoe@example.com", "phone": "+16503517454",
    "password": "Secret123", "skills": [{"skillId": 3, "proficiency": 4}], "serviceIds": [7], "groups": [{"groupId": 2, "receiveCall": true}]
}))]
pub struct AgentCreate {
    #[schema(schema_with = schema::login_id, required = true)]
    pub login_id: Option<String>,
    #[schema(schema_with = schema::name, required = true)]
    pub first_name: Option<String>,
    #[schema(schema_with = schema::name, required = true)]
    pub last_name: Option<String>,
    #[schema(schema_with = schema::display_name_or_null)]
    pub display_name: Option<String>,
    #[schema(schema_with = schema::email_or_null)]
    pub email: Option<String>,
    #[schema(schema_with = schema::agent_phone_or_null)]
    pub phone: Option<String>,
    /// Seconds of wrap-up after a call; -1 (the default) means unlimited.
    #[schema(minimum = -1, maximum = 86400, example = 30)]
    pub wrap_up_time: Option<i64>,
    /// Default false.
    pub home_agent: Option<bool>,
    /// Default true.
    pub active: Option<bool>,
    #[schema(schema_with = schema::password_or_null)]
    pub password: Option<String>,
    /// Skills with proficiency; each skill once.
    #[serde(default)]
    pub skills: Vec<SkillRef>,
    /// ACD services (`"acd": true`); each once.
    #[serde(default)]
    #[schema(schema_with = schema::unique_ids)]
    pub service_ids: Vec<Id>,
    /// Groups; each once.
    #[serde(default)]
    pub groups: Vec<GroupRef>,
    /// Vendor fields that have no place in the model, kept as given.
    #[serde(default)]
    #[schema(value_type = Object, example = json!({"team": "blue"}))]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// The identity provider's id (SCIM `externalId`).
    #[schema(schema_with = schema::identity_text_or_null)]
    pub external_id: Option<String>,
    #[schema(schema_with = schema::identity_text_or_null)]
    pub employee_number: Option<String>,
    #[schema(schema_with = schema::identity_text_or_null)]
    pub department: Option<String>,
    /// The manager's id as the identity provider gave it.
    #[schema(schema_with = schema::identity_text_or_null)]
    pub manager: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"skillId": 3, "proficiency": 4}))]
pub struct SkillRef {
    #[schema(minimum = 1)]
    pub skill_id: Id,
    /// 1 (lowest) to 5 (highest).
    #[schema(minimum = 1, maximum = 5)]
    pub proficiency: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"groupId": 2, "receiveCall": true}))]
pub struct GroupRef {
    #[schema(minimum = 1)]
    pub group_id: Id,
    /// Whether the agent takes the group's calls (default true).
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

/// A change to an agent: only the fields sent change. `displayName` and
/// `email` are cleared with `null`, `phone` with `""`; the other fields
/// cannot be null.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(min_properties = 1, example = json!({"lastName": "Doe-Smith", "active": false}))]
pub struct AgentUpdate {
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = schema::login_id)]
    pub login_id: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = schema::name)]
    pub first_name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = schema::name)]
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = schema::display_name_or_clear)]
    pub display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = schema::email_or_clear)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = schema::agent_phone)]
    pub phone: Option<String>,
    /// Seconds; -1 means unlimited.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = i64, minimum = -1, maximum = 86400)]
    pub wrap_up_time: Option<i64>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = bool)]
    pub home_agent: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = bool)]
    pub active: Option<bool>,
    /// Must not repeat any of the agent's last 4 passwords; also unlocks the agent.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = schema::password)]
    pub password: Option<String>,
    /// false unlocks the agent (and resets its failed logins); true locks it.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = bool)]
    pub locked: Option<bool>,
    /// Merged into the stored attributes; a null value removes a key.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = schema::attributes_patch)]
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
    /// The identity provider's id (SCIM `externalId`).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = schema::identity_text_or_null)]
    pub external_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = schema::identity_text_or_null)]
    pub employee_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = schema::identity_text_or_null)]
    pub department: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = schema::identity_text_or_null)]
    pub manager: Option<Option<String>>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AgentQuery {
    /// Items per page (default 100).
    #[serde(default, deserialize_with = "super::wire::query_int")]
    #[param(minimum = 1, maximum = 1000, example = 100)]
    pub limit: Option<u32>,
    /// `nextCursor` of the previous page; empty or left out for the first page.
    #[param(pattern = "^([1-9][0-9]{0,17})?$", example = "1042")]
    pub cursor: Option<String>,
    /// Case-insensitive substring of loginId, first name, last name, display name, email or phone.
    #[param(example = "smith")]
    pub q: Option<String>,
    /// Case-insensitive substring of loginId.
    pub login_id: Option<String>,
    /// Case-insensitive substring of lastName.
    pub last_name: Option<String>,
    /// Digits of the phone number (formatting characters are ignored).
    pub phone: Option<String>,
    pub active: Option<bool>,
    /// Agents with this skill.
    #[serde(default, deserialize_with = "super::wire::query_int")]
    pub skill_id: Option<Id>,
    /// Agents assigned to this service.
    #[serde(default, deserialize_with = "super::wire::query_int")]
    pub service_id: Option<Id>,
    /// Agents in this group.
    #[serde(default, deserialize_with = "super::wire::query_int")]
    pub group_id: Option<Id>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"proficiency": 4}))]
pub struct ProficiencyBody {
    /// 1 (lowest) to 5 (highest).
    #[schema(minimum = 1, maximum = 5, required = true, nullable = false)]
    pub proficiency: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"receiveCall": false}))]
pub struct ReceiveCallBody {
    /// Whether the agent takes the group's calls (default true).
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = bool)]
    pub receive_call: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"serviceId": 7}))]
pub struct ServiceRef {
    pub service_id: Id,
}

fn location(resp: &mut Response, path: String) {
    if let Ok(v) = HeaderValue::from_str(&path) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
}

/// Create an agent.
///
/// Creates an agent with its skills, services and groups in one transaction: either all of it is stored or nothing is. Answers the agent with its `ETag` and `Location`.
#[utoipa::path(post, path = "/api/v1/agents", tag = "agents", request_body = AgentCreate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried create safe")),
    responses((status = 201, body = AgentDetail)))]
async fn create_agent(State(s): State<AppState>, Caller(p): Caller, JsonBody(b): JsonBody<AgentCreate>) -> ApiResult<Response> {
    let agent = s.dir.create_agent(&p, b.into()).await?;
    let mut resp = tagged(StatusCode::CREATED, agent.agent.version, &agent);
    location(&mut resp, format!("/api/v1/agents/{}", agent.agent.id));
    Ok(resp)
}

/// List and search agents.
///
/// The tenant's agents in id order, a page at a time (`limit`, `cursor`). `q` searches loginId, names, display name, email and phone; the other parameters filter, and all combine.
#[utoipa::path(get, path = "/api/v1/agents", tag = "agents", params(AgentQuery),
    responses((status = 200, body = Paged<Agent>)))]
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

/// Read an agent.
///
/// An agent with its skills, services and groups, and its `ETag`. With `If-None-Match` naming the current version, 304.
#[utoipa::path(get, path = "/api/v1/agents/{id}", tag = "agents", params(("id" = Id, Path)),
    responses((status = 200, body = AgentDetail, headers(("ETag" = String))), (status = 304)))]
async fn get_agent(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, headers: IfNoneMatch) -> ApiResult<Response> {
    let a = s.dir.get_agent(&p, id).await?;
    Ok(tagged_get(&headers, a.agent.version, &a))
}

/// Change an agent.
///
/// Changes the fields sent; the others stay. With `If-Match`, refused (412) if the agent changed since it was read.
#[utoipa::path(patch, path = "/api/v1/agents/{id}", tag = "agents", request_body = AgentUpdate,
    params(("id" = Id, Path), ("If-Match" = Option<String>, Header, description = "ETag last read; 412 if the agent changed since")),
    responses((status = 200, body = AgentDetail)))]
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
        attributes: match b.attributes {
            // As the document says (minProperties): a merge of nothing is not a change.
            Some(m) if m.is_empty() => return Err(Error::invalid("attributes", Rule::NothingToUpdate).into()),
            m => m.unwrap_or_default(),
        },
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

/// Delete an agent.
///
/// Deletes the agent and its assignments. Its id is never given to another agent.
#[utoipa::path(delete, path = "/api/v1/agents/{id}", tag = "agents",
    params(("id" = Id, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204)))]
async fn delete_agent(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>, IfMatch(v): IfMatch) -> ApiResult<Response> {
    s.dir.delete_agent(&p, id, v).await?;
    Ok(no_content())
}

/// Unlock an agent.
///
/// Clears the lockout after too many failed logins (and the failed-login count).
#[utoipa::path(post, path = "/api/v1/agents/{id}/unlock", tag = "agents", params(("id" = Id, Path)),
    responses((status = 200, body = AgentDetail)))]
async fn unlock_agent(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>) -> ApiResult<Response> {
    let a = s.dir.unlock_agent(&p, id).await?;
    Ok(tagged(StatusCode::OK, a.agent.version, &a))
}

/// List an agent's skills.
///
/// The agent's skills with their proficiency.
#[utoipa::path(get, path = "/api/v1/agents/{id}/skills", tag = "agents", params(("id" = Id, Path)),
    responses((status = 200, body = Vec<SkillAssignment>)))]
async fn list_agent_skills(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>) -> ApiResult<Response> {
    Ok(json(StatusCode::OK, &s.dir.get_agent(&p, id).await?.skills))
}

/// Assign a skill.
///
/// Assigns the skill to the agent with a proficiency, or changes the proficiency of one already assigned.
#[utoipa::path(put, path = "/api/v1/agents/{id}/skills/{skillId}", tag = "agents", request_body = ProficiencyBody,
    params(("id" = Id, Path), ("skillId" = Id, Path)),
    responses((status = 200, body = SkillAssignment)))]
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

/// Remove a skill.
///
/// Removes the skill from the agent.
#[utoipa::path(delete, path = "/api/v1/agents/{id}/skills/{skillId}", tag = "agents",
    params(("id" = Id, Path), ("skillId" = Id, Path)),
    responses((status = 204)))]
async fn remove_skill(State(s): State<AppState>, Caller(p): Caller, Ids((id, skill)): Ids<(Id, Id)>) -> ApiResult<Response> {
    s.dir.remove_skill(&p, id, skill).await?;
    Ok(no_content())
}

/// List an agent's services.
///
/// The services the agent is assigned to.
#[utoipa::path(get, path = "/api/v1/agents/{id}/services", tag = "agents", params(("id" = Id, Path)),
    responses((status = 200, body = Vec<ServiceRef>)))]
async fn list_agent_services(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>) -> ApiResult<Response> {
    let a = s.dir.get_agent(&p, id).await?;
    let refs: Vec<ServiceRef> = a.service_ids.into_iter().map(|service_id| ServiceRef { service_id }).collect();
    Ok(json(StatusCode::OK, &refs))
}

/// Assign a service.
///
/// Assigns an ACD service to the agent (no change if already assigned).
#[utoipa::path(put, path = "/api/v1/agents/{id}/services/{serviceId}", tag = "agents",
    params(("id" = Id, Path), ("serviceId" = Id, Path)),
    responses((status = 200, body = ServiceRef)))]
async fn assign_service(State(s): State<AppState>, Caller(p): Caller, Ids((id, service)): Ids<(Id, Id)>) -> ApiResult<Response> {
    s.dir.assign_service(&p, id, service).await?;
    Ok(json(StatusCode::OK, &ServiceRef { service_id: service }))
}

/// Remove a service.
///
/// Removes the service from the agent.
#[utoipa::path(delete, path = "/api/v1/agents/{id}/services/{serviceId}", tag = "agents",
    params(("id" = Id, Path), ("serviceId" = Id, Path)),
    responses((status = 204)))]
async fn remove_service(State(s): State<AppState>, Caller(p): Caller, Ids((id, service)): Ids<(Id, Id)>) -> ApiResult<Response> {
    s.dir.remove_service(&p, id, service).await?;
    Ok(no_content())
}

/// List an agent's groups.
///
/// The groups the agent is in, and whether it takes each group's calls.
#[utoipa::path(get, path = "/api/v1/agents/{id}/groups", tag = "agents", params(("id" = Id, Path)),
    responses((status = 200, body = Vec<GroupMembership>)))]
async fn list_agent_groups(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>) -> ApiResult<Response> {
    Ok(json(StatusCode::OK, &s.dir.get_agent(&p, id).await?.groups))
}

/// Put an agent in a group.
///
/// Adds the agent to the group, or changes whether it takes the group's calls.
#[utoipa::path(put, path = "/api/v1/agents/{id}/groups/{groupId}", tag = "agents", request_body = ReceiveCallBody,
    params(("id" = Id, Path), ("groupId" = Id, Path)),
    responses((status = 200, body = GroupMembership)))]
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

/// Take an agent out of a group.
///
/// Removes the agent from the group.
#[utoipa::path(delete, path = "/api/v1/agents/{id}/groups/{groupId}", tag = "agents",
    params(("id" = Id, Path), ("groupId" = Id, Path)),
    responses((status = 204)))]
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

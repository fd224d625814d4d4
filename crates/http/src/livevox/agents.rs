//! LiveVox Agent methods: create, read, update, delete, list, info, search,
//! related, and the skill and service assignments.

use super::auth::LvCaller;
use super::error::{LvError, LvResult};
use super::wire::{next_link, page_request, Fields, LvJson, PathParams, QueryParams};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use switchboard_domain::{Agent, AgentFilter, AgentPatch, Error, Id, ListInfo, Millis, NewAgent, SkillAssignment};

pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let mut resp = (status, serde_json::to_vec(body).unwrap_or_default()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Serialize)]
pub struct IdOnly {
    pub id: Id,
}

#[derive(Serialize)]
struct SkillRef {
    id: Id,
    proficiency: i64,
}

/// Read Agent, in the document's key order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AgentOut {
    assigned_service: Vec<IdOnly>,
    assigned_agent_skill: Vec<SkillRef>,
    login_id: String,
    first_name: String,
    last_name: String,
    phone: String,
    wrap_up_time: i64,
    home_agent: bool,
    active: bool,
    locked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_last_modified: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_login: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_login_ip: Option<String>,
}

/// An entry of List Agents / Find Matching Agents.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AgentEntry {
    id: Id,
    login_id: String,
    first_name: String,
    last_name: String,
    phone: String,
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_login: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_login_ip: Option<String>,
}

impl From<Agent> for AgentEntry {
    fn from(a: Agent) -> Self {
        AgentEntry {
            id: a.id,
            login_id: a.login_id,
            first_name: a.first_name,
            last_name: a.last_name,
            phone: a.phone,
            active: a.active,
            last_login: a.last_login,
            last_login_ip: a.last_login_ip,
        }
    }
}

#[derive(Serialize)]
struct AgentPage {
    agent: Vec<AgentEntry>,
    next: Option<String>,
}

/// Find Matching Agents answers without `next` when there is no next page.
#[derive(Serialize)]
struct SearchPage {
    agent: Vec<AgentEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InfoOut {
    size: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_modified: Option<Millis>,
}

impl From<ListInfo> for InfoOut {
    fn from(i: ListInfo) -> Self {
        InfoOut { size: i.size, last_modified: i.last_modified }
    }
}

const AGENT: &str = "Agent";

pub async fn create(State(s): State<AppState>, caller: LvCaller, q: QueryParams, LvJson(body): LvJson) -> LvResult<Response> {
    let f = Fields::new(
        body,
        &["clientId", "loginId", "firstName", "lastName", "password", "phone", "wrapUpTime", "homeAgent", "active", "assignedService", "assignedAgentSkill"],
    )?;
    // The document's mandatory keys, in its order.
    let client_id: i64 = f.required("clientId")?;
    let own = caller.check_client(&s, &q).await?;
    if client_id != own {
        return Err(LvError::AccessDenied);
    }
    let login_id: String = f.required("loginId")?;
    let first_name: String = f.required("firstName")?;
    let last_name: String = f.required("lastName")?;
    let password: String = f.get("password")?.unwrap_or_default();
    let phone: String = f.required("phone")?;
    let wrap_up_time: i64 = f.required("wrapUpTime")?;
    let home_agent = f.required_flag("homeAgent")?;
    let active = f.required_flag("active")?;
    let services: Vec<serde_json::Value> = f.get("assignedService")?.unwrap_or_default();
    let skills: Vec<serde_json::Value> = f.get("assignedAgentSkill")?.unwrap_or_default();
    let service_ids = services.iter().map(|v| entry_id(v, "assignedService")).collect::<LvResult<Vec<_>>>()?;
    let skills = skills
        .iter()
        .map(|v| {
            let id = entry_id(v, "assignedAgentSkill")?;
            let proficiency = v.get("proficiency").and_then(serde_json::Value::as_i64).ok_or_else(|| LvError::Missing("proficiency".into()))?;
            Ok(SkillAssignment { skill_id: id, proficiency })
        })
        .collect::<LvResult<Vec<_>>>()?;
    let a = NewAgent {
        login_id: Some(login_id),
        first_name: Some(first_name),
        last_name: Some(last_name),
        phone: Some(phone),
        wrap_up_time: Some(wrap_up_time),
        home_agent: Some(home_agent),
        active: Some(active),
        // The domain's password policy reports an empty one as missing.
        password: Some(password),
        skills,
        service_ids,
        ..Default::default()
    };
    let created = s.dir.create_agent(&caller.0, a).await?;
    Ok(json(StatusCode::CREATED, &IdOnly { id: created.agent.id }))
}

/// `{"id": n}` entries of assignedService / assignedAgentSkill.
fn entry_id(v: &serde_json::Value, field: &str) -> LvResult<Id> {
    v.get("id").and_then(serde_json::Value::as_i64).ok_or_else(|| LvError::invalid_input(format!("{field} entries must be objects with a numeric id")))
}

pub async fn read(State(s): State<AppState>, caller: LvCaller, path: PathParams) -> LvResult<Response> {
    let id = path.id("id", AGENT)?;
    let d = caller.check(&s, s.dir.get_agent(&caller.0, id).await).await?;
    let a = d.agent;
    let out = AgentOut {
        assigned_service: d.service_ids.into_iter().map(|id| IdOnly { id }).collect(),
        assigned_agent_skill: d.skills.into_iter().map(|x| SkillRef { id: x.skill_id, proficiency: x.proficiency }).collect(),
        login_id: a.login_id,
        first_name: a.first_name,
        last_name: a.last_name,
        phone: a.phone,
        wrap_up_time: a.wrap_up_time,
        home_agent: a.home_agent,
        active: a.active,
        locked: a.locked,
        password_last_modified: a.password_last_modified,
        last_login: a.last_login,
        last_login_ip: a.last_login_ip,
    };
    Ok(json(StatusCode::OK, &out))
}

pub async fn update(State(s): State<AppState>, caller: LvCaller, path: PathParams, LvJson(body): LvJson) -> LvResult<Response> {
    let id = path.id("id", AGENT)?;
    let f = Fields::new(body, &["firstName", "lastName", "password", "phone", "wrapUpTime", "homeAgent", "active", "unlock"])?;
    if f.is_empty() {
        return Err(Error::invalid("body", switchboard_domain::Rule::NothingToUpdate).into());
    }
    let patch = AgentPatch {
        first_name: f.get("firstName")?,
        last_name: f.get("lastName")?,
        password: f.get("password")?,
        phone: f.get("phone")?,
        wrap_up_time: f.get("wrapUpTime")?,
        home_agent: f.flag("homeAgent")?,
        active: f.flag("active")?,
        locked: f.flag("unlock")?.and_then(|u| u.then_some(false)),
        ..Default::default()
    };
    if patch.is_empty() {
        // Only `"unlock": false` (or nulls): nothing to change, but the
        // caller must still be allowed to and the agent must exist.
        caller.0.require_agent_admin()?;
        caller.check(&s, s.dir.get_agent(&caller.0, id).await).await?;
        return Ok(no_content());
    }
    caller.check(&s, s.dir.update_agent(&caller.0, id, patch, None).await).await?;
    Ok(no_content())
}

pub async fn delete(State(s): State<AppState>, caller: LvCaller, path: PathParams) -> LvResult<Response> {
    let id = path.id("id", AGENT).map_err(|_| LvError::NotFoundEmpty)?;
    match s.dir.delete_agent(&caller.0, id, None).await {
        Ok(()) => Ok(no_content()),
        Err(e @ Error::NotFound { .. }) => match caller.refusal(&s, e).await {
            LvError::AccessDenied => Err(LvError::AccessDenied),
            _ => Err(LvError::NotFoundEmpty),
        },
        Err(e) => Err(e.into()),
    }
}

pub async fn list(State(s): State<AppState>, caller: LvCaller, q: QueryParams) -> LvResult<Response> {
    let client = caller.check_client(&s, &q).await?;
    let (count, offset) = q.page()?;
    let page = s.dir.list_agents(&caller.0, &AgentFilter::default(), page_request(count, offset)).await?;
    let next = page.has_more.then(|| next_link("agents/", client, &[], offset, count));
    Ok(json(StatusCode::OK, &AgentPage { agent: page.items.into_iter().map(AgentEntry::from).collect(), next }))
}

pub async fn info(State(s): State<AppState>, caller: LvCaller, q: QueryParams) -> LvResult<Response> {
    caller.check_client(&s, &q).await?;
    Ok(json(StatusCode::OK, &InfoOut::from(s.dir.agent_list_info(&caller.0).await?)))
}

pub async fn search(State(s): State<AppState>, caller: LvCaller, q: QueryParams, LvJson(body): LvJson) -> LvResult<Response> {
    let client = caller.check_client(&s, &q).await?;
    let (count, offset) = q.page()?;
    let f = Fields::new(body, &["loginId", "lastName", "phoneNumber"])?;
    let text = |k: &str| -> LvResult<Option<String>> { Ok(f.get::<String>(k)?.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())) };
    let (login_id, last_name, phone) = (text("loginId")?, text("lastName")?, text("phoneNumber")?);
    if [&login_id, &last_name, &phone].iter().filter(|v| v.is_some()).count() != 1 {
        return Err(LvError::invalid_input("exactly one of phone, loginId or lastName is required"));
    }
    let filter = AgentFilter { login_id_contains: login_id, last_name_contains: last_name, phone_contains: phone, ..Default::default() };
    let page = s.dir.list_agents(&caller.0, &filter, page_request(count, offset)).await?;
    let next = page.has_more.then(|| next_link("agents/search", client, &[], offset, count));
    Ok(json(StatusCode::OK, &SearchPage { agent: page.items.into_iter().map(AgentEntry::from).collect(), next }))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Related {
    call_center: Vec<IdOnly>,
    service: Vec<IdOnly>,
}

pub async fn related(State(s): State<AppState>, caller: LvCaller, path: PathParams) -> LvResult<Response> {
    let id = path.id("id", AGENT)?;
    let d = caller.check(&s, s.dir.get_agent(&caller.0, id).await).await?;
    let centers = caller.check(&s, s.dir.agent_call_centers(&caller.0, id).await).await?;
    Ok(json(
        StatusCode::OK,
        &Related { call_center: centers.into_iter().map(|id| IdOnly { id }).collect(), service: d.service_ids.into_iter().map(|id| IdOnly { id }).collect() },
    ))
}

pub async fn add_skill(State(s): State<AppState>, caller: LvCaller, path: PathParams, q: QueryParams) -> LvResult<Response> {
    let agent = path.id("agent", AGENT)?;
    let skill = path.id("id", "Agent skill")?;
    let proficiency = q.required_int("proficiency")?;
    caller.check(&s, s.dir.assign_skill(&caller.0, agent, skill, proficiency).await).await?;
    Ok(no_content())
}

pub async fn remove_skill(State(s): State<AppState>, caller: LvCaller, path: PathParams) -> LvResult<Response> {
    let agent = path.id("agent", AGENT)?;
    let skill = path.id("id", "Agent skill")?;
    caller.check(&s, s.dir.remove_skill(&caller.0, agent, skill).await).await?;
    Ok(no_content())
}

pub async fn add_service(State(s): State<AppState>, caller: LvCaller, path: PathParams) -> LvResult<Response> {
    let agent = path.id("agent", AGENT)?;
    let service = path.id("id", "Service")?;
    caller.check(&s, s.dir.assign_service(&caller.0, agent, service).await).await?;
    Ok(no_content())
}

pub async fn remove_service(State(s): State<AppState>, caller: LvCaller, path: PathParams) -> LvResult<Response> {
    let agent = path.id("agent", AGENT)?;
    let service = path.id("id", "Service")?;
    caller.check(&s, s.dir.remove_service(&caller.0, agent, service).await).await?;
    Ok(no_content())
}

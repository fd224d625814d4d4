//! LiveVox Agent methods: create, read, update, delete, list, info, search,
//! related, and the skill and service assignments.

use super::auth::{LvAdmin, LvCaller};
use super::error::{LvError, LvResult};
use super::reply::{deleted, json, no_content, IdOnly, InfoOut};
use super::wire::{lenient_int, next_link, page_request, Fields, LvJson, PathParams, QueryParams};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use switchboard_domain::{Agent, AgentFilter, AgentPatch, AgentSort, Error, Id, Millis, NewAgent, ReadOnlyFields, Rule, SkillAssignment};

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

const AGENT: &str = "Agent";

pub async fn create(State(s): State<AppState>, LvAdmin(caller): LvAdmin, q: QueryParams, LvJson(body): LvJson) -> LvResult<Response> {
    let f = Fields::new(
        body,
        &[
            "clientId",
            "loginId",
            "firstName",
            "lastName",
            "password",
            "phone",
            "wrapUpTime",
            "homeAgent",
            "active",
            "assignedService",
            "assignedAgentSkill",
        ],
    )?;
    // The document's mandatory keys, in its order. Without a clientId (as
    // public clients send it) the agent is the caller's client's; another
    // client's is refused like every other access to it.
    let own = caller.check_client(&s, &q).await?;
    let client_id = if f.blank("clientId") { None } else { f.int("clientId")? };
    if client_id.is_some_and(|c| c != own) {
        return Err(LvError::AccessDenied);
    }
    let login_id = f.required_text("loginId")?;
    let first_name = f.required_text("firstName")?;
    let last_name = f.required_text("lastName")?;
    let password: String = f.text("password")?.unwrap_or_default();
    let phone = f.required_text("phone")?;
    let wrap_up_time = f.required_int("wrapUpTime")?;
    let home_agent = f.required_flag("homeAgent")?;
    let active = f.required_flag("active")?;
    let services: Vec<serde_json::Value> = f.get("assignedService")?.unwrap_or_default();
    let skills: Vec<serde_json::Value> = f.get("assignedAgentSkill")?.unwrap_or_default();
    let service_ids = services.iter().map(|v| entry_id(v, "assignedService")).collect::<LvResult<Vec<_>>>()?;
    let skills = skills.iter().map(skill_entry).collect::<LvResult<Vec<_>>>()?;
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

/// `{"id": n}` entries of assignedService / assignedAgentSkill (the id also as a string).
fn entry_id(v: &serde_json::Value, field: &str) -> LvResult<Id> {
    v.get("id").and_then(lenient_int).ok_or_else(|| LvError::invalid_input(format!("{field} entries must be objects with a numeric id")))
}

/// `{"id": n, "proficiency": p}` of assignedAgentSkill; `p` also as a string.
fn skill_entry(v: &serde_json::Value) -> LvResult<SkillAssignment> {
    let id = entry_id(v, "assignedAgentSkill")?;
    let proficiency = match v.get("proficiency") {
        None | Some(serde_json::Value::Null) => return Err(LvError::Missing("proficiency".into())),
        Some(serde_json::Value::String(p)) if p.trim().is_empty() => return Err(LvError::Missing("proficiency".into())),
        Some(p) => lenient_int(p).ok_or_else(|| LvError::invalid_input("proficiency must be an integer"))?,
    };
    Ok(SkillAssignment { skill_id: id, proficiency })
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

/// The keys Update Agent changes that Create Agent makes mandatory, in the
/// document's order: an update may leave them out, not empty them.
const MANDATORY_KEYS: [&str; 7] = ["firstName", "lastName", "password", "phone", "wrapUpTime", "homeAgent", "active"];
/// The keys Read Agent answers with that Update Agent does not change: a
/// body read, edited and sent back (read-modify-write) has them.
const READ_ONLY_KEYS: [&str; 7] =
    ["assignedService", "assignedAgentSkill", "loginId", "locked", "passwordLastModified", "lastLogin", "lastLoginIp"];

pub async fn update(State(s): State<AppState>, LvAdmin(caller): LvAdmin, path: PathParams, LvJson(body): LvJson) -> LvResult<Response> {
    let id = path.id("id", AGENT)?;
    let keys: Vec<&str> = MANDATORY_KEYS.iter().chain(&["unlock"]).chain(READ_ONLY_KEYS.iter()).copied().collect();
    let f = Fields::new(body, &keys)?;
    if f.is_empty() {
        return Err(Error::invalid("body", Rule::NothingToUpdate).into());
    }
    if let Some(k) = MANDATORY_KEYS.iter().find(|k| f.blank(k)) {
        return Err(LvError::Missing(k.to_string()));
    }
    let patch = AgentPatch {
        first_name: f.text("firstName")?,
        last_name: f.text("lastName")?,
        password: f.text("password")?,
        phone: f.text("phone")?,
        wrap_up_time: f.int("wrapUpTime")?,
        home_agent: f.flag("homeAgent")?,
        active: f.flag("active")?,
        locked: f.flag("unlock")?.and_then(|u| u.then_some(false)),
        // Also when there is nothing else: a body of keys that change
        // nothing (`"unlock": false`, values sent back as read) is answered
        // 204 once they are checked, without writing.
        unchanged: Some(read_back(&f)?),
        ..Default::default()
    };
    caller.check(&s, s.dir.update_agent(&caller.0, id, patch, None).await).await?;
    Ok(no_content())
}

/// The Read Agent keys of an Update Agent body, for the domain to compare
/// with the agent's (ignored when equal, refused by name when not). A value
/// of the wrong shape cannot be the agent's: refused the same way.
fn read_back(f: &Fields) -> LvResult<ReadOnlyFields> {
    use serde_json::Value;
    let refused = |field: &str| -> LvError { Error::invalid(field, Rule::ReadOnly).into() };
    let millis = |key: &str| -> LvResult<Option<Option<Millis>>> {
        match f.value(key) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(v) => lenient_int(v).map(|n| Some(Some(n))).ok_or_else(|| refused(key)),
        }
    };
    let list = |key: &str, domain: &str| -> LvResult<Option<Vec<serde_json::Value>>> {
        match f.value(key) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(Vec::new())),
            Some(Value::Array(a)) => Ok(Some(a.clone())),
            Some(_) => Err(refused(domain)),
        }
    };
    Ok(ReadOnlyFields {
        login_id: match f.value("loginId") {
            None => None,
            Some(Value::String(l)) => Some(l.clone()),
            Some(_) => return Err(refused("loginId")),
        },
        locked: match f.value("locked") {
            None => None,
            Some(_) => Some(f.flag("locked").ok().flatten().ok_or_else(|| refused("locked"))?),
        },
        password_last_modified: millis("passwordLastModified")?,
        last_login: millis("lastLogin")?,
        last_login_ip: match f.value("lastLoginIp") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(ip)) => Some(Some(ip.clone())),
            Some(_) => return Err(refused("lastLoginIp")),
        },
        service_ids: match list("assignedService", "serviceIds")? {
            None => None,
            Some(a) => Some(a.iter().map(|v| entry_id(v, "assignedService")).collect::<LvResult<_>>().map_err(|_| refused("serviceIds"))?),
        },
        skills: match list("assignedAgentSkill", "skills")? {
            None => None,
            Some(a) => Some(a.iter().map(skill_entry).collect::<LvResult<_>>().map_err(|_| refused("skills"))?),
        },
    })
}

pub async fn delete(State(s): State<AppState>, LvAdmin(caller): LvAdmin, path: PathParams) -> LvResult<Response> {
    let id = path.id("id", AGENT).map_err(|_| LvError::NotFoundEmpty)?;
    deleted(&s, &caller, s.dir.delete_agent(&caller.0, id, None).await).await
}

/// In loginId order, as the document's example page is (its ids are not in
/// order): the bytes of the stored, upper-case loginId, ties by id.
pub async fn list(State(s): State<AppState>, caller: LvCaller, q: QueryParams) -> LvResult<Response> {
    let client = caller.check_client(&s, &q).await?;
    let (count, offset) = q.page()?;
    let by_login = AgentFilter { sort: AgentSort::LoginIdAsc, ..AgentFilter::default() };
    let page = s.dir.list_agents(&caller.0, &by_login, page_request(count, offset)).await?;
    let next = page.has_more.then(|| next_link("agents/", client, &[], offset, count));
    Ok(json(StatusCode::OK, &AgentPage { agent: page.items.into_iter().map(AgentEntry::from).collect(), next }))
}

pub async fn info(State(s): State<AppState>, LvAdmin(caller): LvAdmin, q: QueryParams) -> LvResult<Response> {
    caller.check_client(&s, &q).await?;
    Ok(json(StatusCode::OK, &InfoOut::from(s.dir.agent_list_info(&caller.0).await?)))
}

pub async fn search(State(s): State<AppState>, caller: LvCaller, q: QueryParams, LvJson(body): LvJson) -> LvResult<Response> {
    let client = caller.check_client(&s, &q).await?;
    let (count, offset) = q.page()?;
    // `phone` is the name the document's own search error uses: the same
    // criterion as `phoneNumber` (both at once are two criteria).
    let f = Fields::new(body, &["loginId", "lastName", "phoneNumber", "phone"])?;
    let text = |k: &str| -> LvResult<Option<String>> { Ok(f.text(k)?.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())) };
    let (login_id, last_name, phone_number, phone) = (text("loginId")?, text("lastName")?, text("phoneNumber")?, text("phone")?);
    if [&login_id, &last_name, &phone_number, &phone].iter().filter(|v| v.is_some()).count() != 1 {
        return Err(LvError::invalid_input("exactly one of phone, loginId or lastName is required"));
    }
    // Partial matches for loginId and lastName (the document's words); a
    // phone number matches whole, its formatting ignored.
    let filter = AgentFilter {
        login_id_contains: login_id,
        last_name_contains: last_name,
        phone_number: phone_number.or(phone),
        ..Default::default()
    };
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
        &Related {
            call_center: centers.into_iter().map(|id| IdOnly { id }).collect(),
            service: d.service_ids.into_iter().map(|id| IdOnly { id }).collect(),
        },
    ))
}

pub async fn add_skill(State(s): State<AppState>, LvAdmin(caller): LvAdmin, path: PathParams, q: QueryParams) -> LvResult<Response> {
    let agent = path.id("agent", AGENT)?;
    let skill = path.id("id", "Agent skill")?;
    let proficiency = q.required_int("proficiency")?;
    caller.check(&s, s.dir.assign_skill(&caller.0, agent, skill, proficiency).await).await?;
    Ok(no_content())
}

pub async fn remove_skill(State(s): State<AppState>, LvAdmin(caller): LvAdmin, path: PathParams) -> LvResult<Response> {
    let agent = path.id("agent", AGENT)?;
    let skill = path.id("id", "Agent skill")?;
    caller.check(&s, s.dir.remove_skill(&caller.0, agent, skill).await).await?;
    Ok(no_content())
}

pub async fn add_service(State(s): State<AppState>, LvAdmin(caller): LvAdmin, path: PathParams) -> LvResult<Response> {
    let agent = path.id("agent", AGENT)?;
    let service = path.id("id", "Service")?;
    caller.check(&s, s.dir.assign_service(&caller.0, agent, service).await).await?;
    Ok(no_content())
}

pub async fn remove_service(State(s): State<AppState>, LvAdmin(caller): LvAdmin, path: PathParams) -> LvResult<Response> {
    let agent = path.id("agent", AGENT)?;
    let service = path.id("id", "Service")?;
    caller.check(&s, s.dir.remove_service(&caller.0, agent, service).await).await?;
    Ok(no_content())
}

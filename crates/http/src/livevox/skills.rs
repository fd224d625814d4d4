//! LiveVox Agent Skill methods (all under the document's opening rule:
//! [`LvAdmin`]), and the call centers and services that Get Agent Related
//! Objects points to (readable by whoever may call that: [`LvCaller`]).

use super::auth::{LvAdmin, LvCaller};
use super::error::{LvError, LvResult};
use super::reply::{deleted, json, no_content, IdOnly, InfoOut};
use super::wire::{next_link, page_request, Fields, LvJson, PathParams, QueryParams};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use switchboard_domain::{Entity, Id, SkillInput};

const SKILL: &str = "Agent skill";

pub async fn create(State(s): State<AppState>, LvAdmin(caller): LvAdmin, q: QueryParams, LvJson(body): LvJson) -> LvResult<Response> {
    caller.check_client(&s, &q).await?;
    let f = Fields::new(body, &["name", "description"])?;
    let input = SkillInput { name: Some(f.get::<String>("name")?.unwrap_or_default()), description: f.get("description")? };
    let skill = s.dir.create_skill(&caller.0, input).await?;
    Ok(json(StatusCode::CREATED, &IdOnly { id: skill.id }))
}

#[derive(Serialize)]
struct Proficiency {
    id: Id,
    proficiency: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SkillOut {
    agent: Vec<Proficiency>,
    name: String,
    description: String,
    client_id: i64,
}

pub async fn read(State(s): State<AppState>, LvAdmin(caller): LvAdmin, path: PathParams) -> LvResult<Response> {
    let id = path.id("id", SKILL)?;
    let skill = caller.check(&s, s.dir.get_skill(&caller.0, id).await).await?;
    let agents = caller.check(&s, s.dir.skill_assignments(&caller.0, id).await).await?;
    let client_id = caller.client_id(&s).await?;
    let out = SkillOut {
        agent: agents.into_iter().map(|(id, proficiency)| Proficiency { id, proficiency }).collect(),
        name: skill.name,
        description: skill.description,
        client_id,
    };
    Ok(json(StatusCode::OK, &out))
}

pub async fn update(State(s): State<AppState>, LvAdmin(caller): LvAdmin, path: PathParams, LvJson(body): LvJson) -> LvResult<Response> {
    let id = path.id("id", SKILL)?;
    let f = Fields::new(body, &["name", "description"])?;
    caller
        .check(&s, s.dir.update_skill(&caller.0, id, SkillInput { name: f.get("name")?, description: f.get("description")? }, None).await)
        .await?;
    Ok(no_content())
}

pub async fn delete(State(s): State<AppState>, LvAdmin(caller): LvAdmin, path: PathParams) -> LvResult<Response> {
    let id = path.id("id", SKILL).map_err(|_| LvError::NotFoundEmpty)?;
    deleted(&s, &caller, s.dir.delete_skill(&caller.0, id, None).await).await
}

#[derive(Serialize)]
struct Entry {
    id: Id,
    name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SkillPage {
    agent_skill: Vec<Entry>,
    next: Option<String>,
}

pub async fn list(State(s): State<AppState>, LvAdmin(caller): LvAdmin, q: QueryParams) -> LvResult<Response> {
    let client = caller.check_client(&s, &q).await?;
    let (count, offset) = q.page()?;
    let page = s.dir.list_skills(&caller.0, page_request(count, offset)).await?;
    let next = page.has_more.then(|| next_link("agents/skills", client, &[], offset, count));
    Ok(json(StatusCode::OK, &SkillPage { agent_skill: page.items.into_iter().map(|x| Entry { id: x.id, name: x.name }).collect(), next }))
}

pub async fn info(State(s): State<AppState>, LvAdmin(caller): LvAdmin, q: QueryParams) -> LvResult<Response> {
    caller.check_client(&s, &q).await?;
    Ok(json(StatusCode::OK, &InfoOut::from(s.dir.skill_list_info(&caller.0).await?)))
}

// ---- call centers and services -------------------------------------------------

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CallCenterPage {
    call_center: Vec<Entry>,
    next: Option<String>,
}

pub async fn list_call_centers(State(s): State<AppState>, caller: LvCaller, q: QueryParams) -> LvResult<Response> {
    let client = caller.check_client(&s, &q).await?;
    let (count, offset) = q.page()?;
    let page = s.dir.list_named(&caller.0, Entity::CallCenter, page_request(count, offset)).await?;
    let next = page.has_more.then(|| next_link("callCenters", client, &[], offset, count));
    Ok(json(
        StatusCode::OK,
        &CallCenterPage { call_center: page.items.into_iter().map(|x| Entry { id: x.id, name: x.name }).collect(), next },
    ))
}

pub async fn read_call_center(State(s): State<AppState>, caller: LvCaller, path: PathParams) -> LvResult<Response> {
    let id = path.id("id", "Call center")?;
    let cc = caller.check(&s, s.dir.get_named(&caller.0, Entity::CallCenter, id).await).await?;
    Ok(json(StatusCode::OK, &Entry { id: cc.id, name: cc.name }))
}

#[derive(Serialize)]
struct ServicePage {
    service: Vec<Entry>,
    next: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceOut {
    id: Id,
    name: String,
    call_center: IdOnly,
    /// `ACD` (assignable to agents) or `NON_ACD`.
    service_type: &'static str,
}

pub async fn list_services(State(s): State<AppState>, caller: LvCaller, q: QueryParams) -> LvResult<Response> {
    let client = caller.check_client(&s, &q).await?;
    let (count, offset) = q.page()?;
    let call_center = q.int("callCenter")?;
    let page = s.dir.list_services(&caller.0, call_center, page_request(count, offset)).await?;
    let extra: Vec<(&str, String)> = call_center.map(|c| ("callCenter", c.to_string())).into_iter().collect();
    let next = page.has_more.then(|| next_link("services", client, &extra, offset, count));
    Ok(json(StatusCode::OK, &ServicePage { service: page.items.into_iter().map(|x| Entry { id: x.id, name: x.name }).collect(), next }))
}

pub async fn read_service(State(s): State<AppState>, caller: LvCaller, path: PathParams) -> LvResult<Response> {
    let id = path.id("id", "Service")?;
    let x = caller.check(&s, s.dir.get_service(&caller.0, id).await).await?;
    let out = ServiceOut {
        id: x.id,
        name: x.name,
        call_center: IdOnly { id: x.call_center_id },
        service_type: if x.acd { "ACD" } else { "NON_ACD" },
    };
    Ok(json(StatusCode::OK, &out))
}

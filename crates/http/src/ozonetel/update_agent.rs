//! `PUT /ca_apis/updateAgent` (rate limited as `ozonetel.updateAgent`).

use super::errors::{error, not_json, rate_limited, reply, Api, AGENT_UPDATED};
use super::{body_map, credentials, text, Ozonetel};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use switchboard_domain::{
    AgentDetail, Entity, OzonetelAgentUpdate, OzonetelSkill, PageRequest, Principal, OZONETEL_AGENT_FLAGS, OZONETEL_AGENT_SETTINGS,
};

pub const ENDPOINT: &str = "ozonetel.updateAgent";

pub async fn handle(
    State(s): State<AppState>,
    Extension(oz): Extension<Arc<Ozonetel>>,
    RawQuery(q): RawQuery,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    let b = match body_map(&body) {
        Ok(b) => b,
        Err(_) => return not_json(Api::UpdateAgent, s.dir.now()),
    };
    let caller = match s.dir.ozonetel_authenticate(&credentials(&h, &b, "userName")).await {
        Ok(c) => c,
        Err(e) => return error(Api::UpdateAgent, &e),
    };
    if let Err(wait) = oz.check_rate(&caller.tenant, ENDPOINT).await {
        return rate_limited(Api::UpdateAgent, wait);
    }
    let update = parse(&b);
    match s.dir.ozonetel_update_agent(&caller.principal, &update).await {
        Ok(d) if detailed(q.as_deref()) => match details(&s, &caller.principal, &d).await {
            Ok(data) => reply(StatusCode::OK, format!(r#"{{"status":"success","message":"Agent Updated Successfully","data":{data}}}"#)),
            Err(e) => error(Api::UpdateAgent, &e),
        },
        Ok(_) => reply(StatusCode::OK, AGENT_UPDATED),
        Err(e) => error(Api::UpdateAgent, &e),
    }
}

/// `?detailedResponse=true`.
fn detailed(q: Option<&str>) -> bool {
    q.unwrap_or("").split('&').any(|kv| match kv.split_once('=') {
        Some((k, v)) => k == "detailedResponse" && v.eq_ignore_ascii_case("true"),
        None => false,
    })
}

fn parse(b: &Map<String, Value>) -> OzonetelAgentUpdate {
    let attributes = b
        .iter()
        .filter(|(k, _)| OZONETEL_AGENT_FLAGS.contains(&k.as_str()) || OZONETEL_AGENT_SETTINGS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    OzonetelAgentUpdate {
        agent_id: text(b, "agentId"),
        agent_name: text(b, "agentName"),
        password: text(b, "password"),
        email: text(b, "email"),
        agent_id_new: text(b, "agentIdNew"),
        agent_name_new: text(b, "agentNameNew"),
        assign_skills: skills(b.get("assignSkills")),
        unassign_skills: skills(b.get("unAssignSkills")),
        assign_groups: text(b, "assignAgentGroups"),
        unassign_groups: text(b, "unAssignAgentGroups"),
        locked: b.get("locked").cloned(),
        attributes,
    }
}

/// Skill objects `{"skillName": "…", "priority": n}` (also `name` /
/// `proficiency`), plain names, or one comma-separated string. A shape that
/// names no skill becomes a nameless item, which the domain refuses.
fn skills(v: Option<&Value>) -> Vec<OzonetelSkill> {
    let item = |v: &Value| match v {
        Value::String(s) => OzonetelSkill { name: Some(s.clone()), priority: None },
        Value::Object(o) => {
            let name = ["skillName", "name", "skill"].iter().find_map(|k| o.get(*k).and_then(Value::as_str)).map(str::to_string);
            let priority = ["priority", "proficiency", "skillPriority"].iter().find_map(|k| o.get(*k)).map(|p| match p {
                Value::Number(n) => n.as_i64().unwrap_or(0),
                Value::String(s) => s.trim().parse().unwrap_or(0),
                _ => 0,
            });
            OzonetelSkill { name, priority }
        }
        _ => OzonetelSkill::default(),
    };
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().map(item).collect(),
        Some(Value::String(s)) => {
            switchboard_domain::comma_list(Some(s)).into_iter().map(|n| OzonetelSkill { name: Some(n), priority: None }).collect()
        }
        Some(other) => vec![item(other)],
    }
}

/// The agent as `detailedResponse` shows it, skills and groups by name.
async fn details(s: &AppState, p: &Principal, d: &AgentDetail) -> switchboard_domain::Result<String> {
    let skills = s.dir.list_skills(p, PageRequest::first(1000)).await?.items;
    let groups = s.dir.list_named(p, Entity::Group, PageRequest::first(1000)).await?.items;
    let a = &d.agent;
    let data = json!({
        "agentId": a.login_id,
        "agentName": a.display_name,
        "email": a.email,
        "locked": a.locked,
        "skills": d.skills.iter().map(|x| json!({
            "skillName": skills.iter().find(|s| s.id == x.skill_id).map(|s| s.name.clone()),
            "priority": x.proficiency,
        })).collect::<Vec<_>>(),
        "agentGroups": d.groups.iter().filter_map(|g| groups.iter().find(|n| n.id == g.group_id).map(|n| n.name.clone())).collect::<Vec<_>>(),
        "attributes": a.attributes,
    });
    Ok(data.to_string())
}

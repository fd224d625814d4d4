//! `/scim/v2/Groups` ↔ Switchboard groups; `members` are agents (a
//! membership made here receives calls). PATCH of members adds and
//! removes (one transaction, each agent changed audited); a group's ETag
//! is its own version (its name), as in the native API.

use super::filter::{self, get_ci};
use super::patch::{Kind, PatchRequest};
use super::{
    base_url, list_response, meta, parse_filter, parse_id, project, resource, Body, Client, IfMatch, ListQuery, Projection, ScimError,
    ScimResult, GROUP_SCHEMA,
};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use switchboard_domain::{Entity, GroupChange, Id, Named, Principal};

/// Each group's members, from the agents.
async fn memberships(s: &AppState, p: &Principal) -> ScimResult<BTreeMap<Id, Vec<Id>>> {
    let mut out: BTreeMap<Id, Vec<Id>> = BTreeMap::new();
    for d in s.dir.all_agents(p).await? {
        for g in &d.groups {
            out.entry(g.group_id).or_default().push(d.agent.id);
        }
    }
    Ok(out)
}

/// A group as SCIM's Group. Members carry `value`, `$ref` and `type`, the
/// sub-attributes RFC 7643 §8.7.1 defines (no `display`).
fn to_scim(g: &Named, external_id: Option<&str>, members: Option<&[Id]>, base: &str) -> Value {
    let mut v = json!({
        "schemas": [GROUP_SCHEMA],
        "id": scim_group_id(g.id),
        "displayName": g.name,
        "meta": meta("Group", format!("{base}/Groups/{}", scim_group_id(g.id)), g.created_at, g.updated_at, g.version),
    });
    if let Some(x) = external_id {
        v["externalId"] = json!(x);
    }
    if let Some(m) = members {
        v["members"] =
            m.iter().map(|id| json!({ "value": id.to_string(), "type": "User", "$ref": format!("{base}/Users/{id}") })).collect();
    }
    v
}

/// `externalId` of a body: a string, or null/absent (none).
fn external_id_of(body: &Value) -> ScimResult<Option<String>> {
    match get_ci(body, "externalId") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(x)) => Ok(Some(x.clone())),
        Some(_) => Err(ScimError::bad("invalidValue", "externalId must be a string")),
    }
}

/// Whether a request leaves `members` out (`excludedAttributes=members`,
/// or `attributes` without it): then they are not read at all.
fn wants_members(attributes: Option<&str>, excluded: Option<&str>) -> bool {
    let has = |s: Option<&str>| s.unwrap_or("").split(',').any(|a| a.trim().eq_ignore_ascii_case("members"));
    match attributes.filter(|a| !a.trim().is_empty()) {
        Some(_) => has(attributes),
        None => !has(excluded),
    }
}

/// A group's SCIM id: `g<id>`. RFC 7643 §3.1 wants an id unique across all
/// of a service provider's resources, and agents and groups are numbered
/// apart (a User and a Group could both be `12`). Users keep the agent's id.
/// (The Switchboard extension's `groups` hold the native group ids, as its
/// skills and services hold theirs.)
pub(super) fn scim_group_id(id: Id) -> String {
    format!("g{id}")
}

fn group_id(id: &str) -> ScimResult<Id> {
    id.strip_prefix('g').and_then(parse_id).ok_or_else(|| ScimError::not_found(format!("Group {id} not found")))
}

fn member_ids(v: &Value) -> ScimResult<Vec<Id>> {
    let items = match v {
        Value::Null => return Ok(vec![]),
        Value::Array(a) => a.iter().collect::<Vec<_>>(),
        Value::Object(_) => vec![v],
        _ => return Err(ScimError::bad("invalidValue", "members must be a list of {\"value\": \"<user id>\"}")),
    };
    items
        .into_iter()
        .map(|e| {
            let id = match get_ci(e, "value") {
                Some(Value::String(s)) => parse_id(s),
                Some(Value::Number(n)) => n.as_i64(),
                _ => None,
            };
            id.ok_or_else(|| ScimError::bad("invalidValue", "members.value must be the id of a User"))
        })
        .collect()
}

/// Every group the list's filter matches, as SCIM (in id order).
pub async fn matching(s: &AppState, p: &Principal, headers: &HeaderMap, q: &ListQuery) -> ScimResult<Vec<Value>> {
    let f = parse_filter(q)?;
    let base = base_url(headers);
    let groups = s.dir.all_named(p, Entity::Group).await?;
    // A filter may name members: read them whenever one is given.
    let need = f.is_some() || wants_members(q.attributes.as_deref(), q.excluded_attributes.as_deref());
    let members = if need { Some(memberships(s, p).await?) } else { None };
    let external: BTreeMap<Id, String> = s.dir.group_external_ids(p, None).await?.into_iter().collect();
    let all: Vec<Value> = groups
        .iter()
        .map(|g| {
            to_scim(
                g,
                external.get(&g.id).map(String::as_str),
                members.as_ref().map(|m| m.get(&g.id).map_or(&[][..], Vec::as_slice)),
                &base,
            )
        })
        .filter(|g| f.as_ref().is_none_or(|f| filter::matches(f, g, GROUP_SCHEMA)))
        .collect();
    Ok(all)
}

pub async fn list(State(s): State<AppState>, Client(p): Client, headers: HeaderMap, Query(q): Query<ListQuery>) -> ScimResult<Response> {
    let all = matching(&s, &p, &headers, &q).await?;
    list_response(all, &q, GROUP_SCHEMA, &[])
}

async fn group_json(s: &AppState, p: &Principal, g: &Named, base: &str, q: &Projection) -> ScimResult<Value> {
    let members = if wants_members(q.attributes.as_deref(), q.excluded_attributes.as_deref()) {
        Some(memberships(s, p).await?.remove(&g.id).unwrap_or_default())
    } else {
        None
    };
    let external = s.dir.group_external_ids(p, Some(g.id)).await?.into_iter().next().map(|(_, x)| x);
    Ok(project(to_scim(g, external.as_deref(), members.as_deref(), base), q.attributes.as_deref(), q.excluded_attributes.as_deref(), &[]))
}

pub async fn get_one(
    State(s): State<AppState>,
    Client(p): Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<Projection>,
) -> ScimResult<Response> {
    let g = s.dir.get_group(&p, group_id(&id)?).await?;
    Ok(resource(StatusCode::OK, g.version, &group_json(&s, &p, &g, &base_url(&headers), &q).await?))
}

pub async fn create(State(s): State<AppState>, Client(p): Client, headers: HeaderMap, Body(body): Body<Value>) -> ScimResult<Response> {
    let name = match get_ci(&body, "displayName") {
        Some(Value::String(n)) => Some(n.clone()),
        None | Some(Value::Null) => None,
        Some(_) => return Err(ScimError::bad("invalidValue", "displayName must be a string")),
    };
    let members = member_ids(get_ci(&body, "members").unwrap_or(&Value::Null))?;
    let g = s.dir.create_group(&p, name, external_id_of(&body)?, members).await?;
    Ok(resource(StatusCode::CREATED, g.version, &group_json(&s, &p, &g, &base_url(&headers), &Projection::default()).await?))
}

pub async fn replace(
    State(s): State<AppState>,
    Client(p): Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    IfMatch(v): IfMatch,
    Body(body): Body<Value>,
) -> ScimResult<Response> {
    let id = group_id(&id)?;
    let name = match get_ci(&body, "displayName") {
        Some(Value::String(n)) => Some(n.clone()),
        _ => return Err(ScimError::bad("invalidValue", "displayName is required")),
    };
    let c = GroupChange {
        name,
        external_id: Some(external_id_of(&body)?),
        set_members: Some(member_ids(get_ci(&body, "members").unwrap_or(&Value::Null))?),
        ..Default::default()
    };
    let g = s.dir.change_group(&p, id, c, v).await?;
    Ok(resource(StatusCode::OK, g.version, &group_json(&s, &p, &g, &base_url(&headers), &Projection::default()).await?))
}

fn apply_members(kind: Kind, value: Option<&Value>, c: &mut GroupChange, members: &mut Option<Vec<Id>>, current: &[Id]) -> ScimResult<()> {
    let ids = value.map(member_ids).transpose()?;
    let set = members.get_or_insert_with(|| current.to_vec());
    match (kind, ids) {
        (Kind::Add, Some(ids)) => {
            for i in ids {
                if !set.contains(&i) {
                    set.push(i);
                }
            }
        }
        (Kind::Replace, Some(ids)) => *set = ids,
        (Kind::Remove, Some(ids)) if !ids.is_empty() => set.retain(|m| !ids.contains(m)),
        (Kind::Remove, _) => set.clear(),
        (_, None) => return Err(ScimError::bad("invalidValue", "members needs a value")),
    }
    c.set_members = Some(set.clone());
    Ok(())
}

/// A group's PATCH as a [`GroupChange`]: `displayName` replaced, `members`
/// added, removed (by value, by `members[value eq "…"]`, or all) or replaced.
fn group_change(body: &PatchRequest, current: &[Id]) -> ScimResult<GroupChange> {
    let mut c = GroupChange::default();
    let mut members: Option<Vec<Id>> = None;
    for op in &body.operations {
        let kind = op.kind()?;
        match op.path.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            None => {
                let Some(Value::Object(m)) = &op.value else {
                    return Err(ScimError::bad("invalidValue", "without a path, the value must be an object"));
                };
                for (k, v) in m {
                    match k.to_ascii_lowercase().as_str() {
                        "displayname" => {
                            c.name = Some(v.as_str().ok_or_else(|| ScimError::bad("invalidValue", "displayName must be a string"))?.into())
                        }
                        "members" => apply_members(kind, Some(v), &mut c, &mut members, current)?,
                        "externalid" if kind == Kind::Remove => c.external_id = Some(None),
                        "externalid" => c.external_id = Some(external_id_of(&json!({ "externalId": v }))?),
                        "id" | "meta" => return Err(ScimError::bad("mutability", format!("{k} is read-only"))),
                        _ => {}
                    }
                }
            }
            Some(path) => {
                let pp = filter::parse_path(path).map_err(|e| ScimError::bad("invalidPath", format!("invalid path {path:?}: {e}")))?;
                match pp.attr.name.to_ascii_lowercase().as_str() {
                    "displayname" if kind != Kind::Remove => {
                        c.name = Some(
                            op.value
                                .as_ref()
                                .and_then(Value::as_str)
                                .ok_or_else(|| ScimError::bad("invalidValue", "displayName must be a string"))?
                                .into(),
                        )
                    }
                    "displayname" => return Err(ScimError::bad("mutability", "displayName is required")),
                    "members" => match &pp.filter {
                        None => apply_members(kind, op.value.as_ref(), &mut c, &mut members, current)?,
                        Some(f) if kind == Kind::Remove => {
                            let set = members.get_or_insert_with(|| current.to_vec());
                            set.retain(|m| !filter::matches(f, &json!({ "value": m.to_string() }), GROUP_SCHEMA));
                            c.set_members = Some(set.clone());
                        }
                        Some(_) => return Err(ScimError::bad("invalidPath", "members[…] paths are for remove only")),
                    },
                    "id" | "meta" => return Err(ScimError::bad("mutability", format!("{} is read-only", pp.attr.name))),
                    "externalid" if kind == Kind::Remove => c.external_id = Some(None),
                    "externalid" => c.external_id = Some(external_id_of(&json!({ "externalId": op.value }))?),
                    _ => return Err(ScimError::bad("invalidPath", format!("Groups have no attribute {}", pp.attr.name))),
                }
            }
        }
    }
    Ok(c)
}

pub async fn patch(
    State(s): State<AppState>,
    Client(p): Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    IfMatch(v): IfMatch,
    Body(body): Body<PatchRequest>,
) -> ScimResult<Response> {
    body.check()?;
    let id = group_id(&id)?;
    let current = s.dir.group_members(&p, id).await?;
    let mut c = group_change(&body, &current)?;
    // Members as adds and removes against what was read (a concurrent change
    // of other members stays).
    if let Some(target) = c.set_members.take() {
        c.add_members = target.iter().filter(|m| !current.contains(m)).copied().collect();
        c.remove_members = current.iter().filter(|m| !target.contains(m)).copied().collect();
    }
    let g = s.dir.change_group(&p, id, c, v).await?;
    Ok(resource(StatusCode::OK, g.version, &group_json(&s, &p, &g, &base_url(&headers), &Projection::default()).await?))
}

pub async fn delete(State(s): State<AppState>, Client(p): Client, Path(id): Path<String>, IfMatch(v): IfMatch) -> ScimResult<Response> {
    s.dir.delete_named(&p, Entity::Group, group_id(&id)?, v).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

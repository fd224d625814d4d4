//! `/scim/v2/Users` ↔ agents. userName is the loginId (stored upper-case,
//! compared ignoring case), name.givenName/familyName the first and last
//! names, the first (or primary) of emails and phoneNumbers the agent's
//! email and phone; externalId and the enterprise extension are columns of
//! the agent; the Switchboard extension carries skills (with proficiency),
//! services and groups by id, with their names as `display`.

use super::filter::{self, get_ci};
use super::patch::{self, PatchRequest};
use super::{
    base_url, list_response, meta, parse_filter, parse_id, project, resource, Body, Client, IfMatch, ListQuery, Projection, ScimError,
    ScimResult, AGENT_SCHEMA, ENTERPRISE_SCHEMA, USER_SCHEMA,
};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use switchboard_domain::{
    validate, AgentDetail, AgentPatch, AssignmentSets, Entity, GroupMembership, Id, NewAgent, Principal, ProfileInput, SkillAssignment,
};

pub const EXTENSIONS: &[&str] = &[ENTERPRISE_SCHEMA, AGENT_SCHEMA];

pub const RULES: patch::Rules<'static> = patch::Rules {
    core_urn: USER_SCHEMA,
    extensions: EXTENSIONS,
    read_only: &["id", "meta", "groups"],
    required: &["username", "name", "active"],
    canonical: &[
        "userName",
        "name",
        "givenName",
        "familyName",
        "displayName",
        "emails",
        "phoneNumbers",
        "value",
        "type",
        "primary",
        "active",
        "password",
        "externalId",
        "employeeNumber",
        "department",
        "manager",
        "skills",
        "services",
        "groups",
        "proficiency",
        "receiveCall",
    ],
};

/// Names of the tenant's groups, for the `display` of `groups`.
pub struct Names {
    groups: HashMap<Id, String>,
}

impl Names {
    pub async fn load(s: &AppState, p: &Principal) -> ScimResult<Names> {
        Ok(Names { groups: s.dir.all_named(p, Entity::Group).await?.into_iter().map(|x| (x.id, x.name)).collect() })
    }
}

/// `name.formatted` as the identity provider sent it, while the first and
/// last names are still those it was sent with (else it is derived).
fn formatted_sent(a: &switchboard_domain::Agent) -> Option<&str> {
    let name = a.attributes.get(ECHO_KEY)?.get("name")?;
    let same = |k: &str, v: &str| name.get(k).and_then(Value::as_str) == Some(v);
    (same("givenName", &a.first_name) && same("familyName", &a.last_name)).then(|| name.get("formatted").and_then(Value::as_str)).flatten()
}

/// An agent as a SCIM User.
pub fn to_scim(d: &AgentDetail, names: &Names, base: &str) -> Value {
    let a = &d.agent;
    let location = format!("{base}/Users/{}", a.id);
    let echo = a.attributes.get(ECHO_KEY);
    let sent = |k: &str| echo.and_then(|e| e.get(k));
    // What the identity provider sent, while the agent still holds it.
    let user_name = sent("userName")
        .and_then(Value::as_str)
        .filter(|u| validate::login_id("userName", Some(u)).is_ok_and(|l| l == a.login_id))
        .unwrap_or(&a.login_id);
    let formatted = match formatted_sent(a) {
        Some(f) => f.to_string(),
        None => format!("{} {}", a.first_name, a.last_name).trim().to_string(),
    };
    let mut u = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA, AGENT_SCHEMA],
        "id": a.id.to_string(),
        "userName": user_name,
        "name": {
            "givenName": a.first_name,
            "familyName": a.last_name,
            "formatted": formatted,
        },
        "active": a.active,
        "meta": meta("User", location, a.created_at, a.updated_at, a.version),
    });
    let o = u.as_object_mut().expect("object");
    if let Some(x) = &a.external_id {
        o.insert("externalId".into(), json!(x));
    }
    if let Some(x) = &a.display_name {
        o.insert("displayName".into(), json!(x));
    }
    if let Some(x) = &a.email {
        let kept = sent("emails").filter(|e| e.get("value").and_then(Value::as_str) == Some(x.as_str()));
        o.insert("emails".into(), json!([kept.cloned().unwrap_or_else(|| json!({ "value": x, "type": "work", "primary": true }))]));
    }
    if !a.phone.is_empty() {
        let kept =
            sent("phoneNumbers").filter(|e| e.get("value").and_then(Value::as_str).is_some_and(|v| phone_of(v.to_string()) == a.phone));
        o.insert(
            "phoneNumbers".into(),
            json!([kept.cloned().unwrap_or_else(|| json!({ "value": a.phone, "type": "work", "primary": true }))]),
        );
    }
    let group = |g: &GroupMembership| {
        let id = super::groups::scim_group_id(g.group_id);
        json!({ "value": id, "display": names.groups.get(&g.group_id), "$ref": format!("{base}/Groups/{id}") })
    };
    if !d.groups.is_empty() {
        o.insert("groups".into(), Value::Array(d.groups.iter().map(group).collect()));
    }
    let mut ent = Map::new();
    for (k, v) in [("employeeNumber", &a.employee_number), ("department", &a.department)] {
        if let Some(v) = v {
            ent.insert(k.into(), json!(v));
        }
    }
    if let Some(m) = &a.manager {
        let mut mv = json!({ "value": m });
        if parse_id(m).is_some() {
            mv["$ref"] = json!(format!("{base}/Users/{m}"));
        }
        ent.insert("manager".into(), mv);
    }
    if !ent.is_empty() {
        o.insert(ENTERPRISE_SCHEMA.into(), Value::Object(ent));
    }
    // Empty lists left out, as an empty `groups` is (RFC 7643 §2.5: the same
    // state as an unassigned attribute).
    let mut ext = Map::new();
    for (k, items) in [
        ("skills", d.skills.iter().map(|s| json!({ "value": s.skill_id.to_string(), "proficiency": s.proficiency })).collect::<Vec<_>>()),
        ("services", d.service_ids.iter().map(|s| json!({ "value": s.to_string() })).collect()),
        ("groups", d.groups.iter().map(|g| json!({ "value": g.group_id.to_string(), "receiveCall": g.receive_call })).collect()),
    ] {
        if !items.is_empty() {
            ext.insert(k.into(), Value::Array(items));
        }
    }
    if !ext.is_empty() {
        o.insert(AGENT_SCHEMA.into(), Value::Object(ext));
    }
    u
}

/// What a SCIM User body says of an agent (PUT, POST, and a PATCH's result).
#[derive(Debug, Default)]
struct UserInput {
    user_name: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    display_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    active: Option<bool>,
    password: Option<String>,
    profile: ProfileInput,
    sets: AssignmentSets,
    echo: Value,
}

fn invalid(attr: &str, what: &str) -> ScimError {
    ScimError::bad("invalidValue", format!("{attr} must be {what}"))
}

fn text(v: Option<&Value>, attr: &str) -> ScimResult<Option<String>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(attr, "a string")),
    }
}

/// A boolean, or the strings "True"/"False" (Entra ID sends those).
fn boolean(v: Option<&Value>, attr: &str) -> ScimResult<Option<bool>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(invalid(attr, "a boolean")),
    }
}

/// The value of a multi-valued attribute's primary element (else its
/// first), and that element as sent (`value`, `type`, `primary`) for the
/// echo.
fn primary_value(v: Option<&Value>, attr: &str) -> ScimResult<(Option<String>, Option<Value>)> {
    let items = match v {
        None | Some(Value::Null) => return Ok((None, None)),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(invalid(attr, "a list")),
    };
    let pick = items
        .iter()
        .find(|e| get_ci(e, "primary").is_some_and(|p| p == &json!(true) || p == &json!("true") || p == &json!("True")))
        .or_else(|| items.first());
    let Some(e) = pick else { return Ok((None, None)) };
    let value = text(get_ci(e, "value"), &format!("{attr}.value"))?;
    let mut sent = Map::new();
    if let Some(v) = &value {
        sent.insert("value".into(), json!(v));
        if let Some(Value::String(t)) = get_ci(e, "type") {
            sent.insert("type".into(), json!(t));
        }
        if let Some(p) = boolean(get_ci(e, "primary"), &format!("{attr}.primary"))? {
            sent.insert("primary".into(), json!(p));
        }
    }
    let sent = value.is_some().then_some(Value::Object(sent));
    Ok((value, sent))
}

/// What a User body says that the agent's fields do not keep (userName's
/// case, `name.formatted`, the kept e-mail's and phone's `type` and
/// `primary`): stored under the agent's attribute `scim`, and read back
/// only while the agent's own fields still match it (`to_scim`).
const ECHO_KEY: &str = "scim";

fn id_of(e: &Value, attr: &str) -> ScimResult<Id> {
    let v = get_ci(e, "value").ok_or_else(|| invalid(&format!("{attr}.value"), "present"))?;
    match v {
        Value::String(s) => parse_id(s),
        Value::Number(n) => n.as_i64().filter(|n| *n > 0),
        _ => None,
    }
    .ok_or_else(|| invalid(&format!("{attr}.value"), "the id of one of the tenant's objects"))
}

fn list_of<'a>(v: Option<&'a Value>, attr: &str) -> ScimResult<Option<&'a Vec<Value>>> {
    match v {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(const { &Vec::new() })),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(_) => Err(invalid(attr, "a list")),
    }
}

/// Separators IdPs write in phone numbers ("+1 (555) 010-0100"), dropped;
/// the domain checks what is left.
fn phone_of(s: String) -> String {
    s.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.')).collect()
}

impl UserInput {
    fn from_json(u: &Value) -> ScimResult<UserInput> {
        if !u.is_object() {
            return Err(ScimError::bad("invalidSyntax", "a User must be a JSON object"));
        }
        let name = get_ci(u, "name");
        let ent = get_ci(u, ENTERPRISE_SCHEMA);
        let ext = get_ci(u, AGENT_SCHEMA);
        let clear = |x: Option<String>| Some(x.filter(|s| !s.trim().is_empty()));
        let manager = match ent.and_then(|e| get_ci(e, "manager")) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(m @ Value::Object(_)) => text(get_ci(m, "value"), "manager.value")?,
            Some(_) => return Err(invalid("manager", "an object with a value")),
        };
        let mut sets = AssignmentSets::default();
        if let Some(ext) = ext.filter(|e| !e.is_null()) {
            if let Some(items) = list_of(get_ci(ext, "skills"), "skills")? {
                let mut out = Vec::new();
                for e in items {
                    let proficiency = match get_ci(e, "proficiency") {
                        None | Some(Value::Null) => 1,
                        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| invalid("skills.proficiency", "an integer from 1 to 5"))?,
                        Some(Value::String(s)) => s.parse().map_err(|_| invalid("skills.proficiency", "an integer from 1 to 5"))?,
                        Some(_) => return Err(invalid("skills.proficiency", "an integer from 1 to 5")),
                    };
                    out.push(SkillAssignment { skill_id: id_of(e, "skills")?, proficiency });
                }
                sets.skills = Some(out);
            }
            if let Some(items) = list_of(get_ci(ext, "services"), "services")? {
                sets.service_ids = Some(items.iter().map(|e| id_of(e, "services")).collect::<ScimResult<_>>()?);
            }
            if let Some(items) = list_of(get_ci(ext, "groups"), "groups")? {
                let mut out = Vec::new();
                for e in items {
                    let receive_call = boolean(get_ci(e, "receiveCall"), "groups.receiveCall")?.unwrap_or(true);
                    out.push(GroupMembership { group_id: id_of(e, "groups")?, receive_call });
                }
                sets.groups = Some(out);
            }
        }
        let user_name = text(get_ci(u, "userName"), "userName")?;
        let given_name = text(name.and_then(|n| get_ci(n, "givenName")), "name.givenName")?;
        let family_name = text(name.and_then(|n| get_ci(n, "familyName")), "name.familyName")?;
        let formatted = text(name.and_then(|n| get_ci(n, "formatted")), "name.formatted")?;
        let (email, sent_email) = primary_value(get_ci(u, "emails"), "emails")?;
        let (phone, sent_phone) = primary_value(get_ci(u, "phoneNumbers"), "phoneNumbers")?;
        let mut echo = Map::new();
        if let Some(x) = &user_name {
            echo.insert("userName".into(), json!(x));
        }
        if let Some(f) = formatted {
            echo.insert("name".into(), json!({ "formatted": f, "givenName": given_name, "familyName": family_name }));
        }
        for (k, x) in [("emails", sent_email), ("phoneNumbers", sent_phone)] {
            if let Some(x) = x {
                echo.insert(k.into(), x);
            }
        }
        Ok(UserInput {
            user_name,
            given_name,
            family_name,
            display_name: text(get_ci(u, "displayName"), "displayName")?,
            email,
            phone: phone.map(phone_of),
            active: boolean(get_ci(u, "active"), "active")?,
            password: text(get_ci(u, "password"), "password")?,
            profile: ProfileInput {
                external_id: clear(text(get_ci(u, "externalId"), "externalId")?),
                employee_number: clear(text(ent.and_then(|e| get_ci(e, "employeeNumber")), "employeeNumber")?),
                department: clear(text(ent.and_then(|e| get_ci(e, "department")), "department")?),
                manager: clear(manager),
            },
            sets,
            echo: Value::Object(echo),
        })
    }

    fn into_new_agent(self) -> NewAgent {
        let profile = ProfileInput {
            external_id: self.profile.external_id,
            employee_number: self.profile.employee_number,
            department: self.profile.department,
            manager: self.profile.manager,
        };
        NewAgent {
            login_id: self.user_name,
            first_name: self.given_name,
            last_name: self.family_name,
            display_name: self.display_name,
            email: self.email,
            phone: self.phone,
            active: self.active,
            password: self.password,
            skills: self.sets.skills.unwrap_or_default(),
            service_ids: self.sets.service_ids.unwrap_or_default(),
            groups: self.sets.groups.unwrap_or_default(),
            profile,
            attributes: Map::from_iter([(ECHO_KEY.to_string(), self.echo)]),
            ..Default::default()
        }
    }

    /// The replacement of every SCIM attribute (absent optional ones are
    /// cleared; `active` and `password` absent are left as they are).
    fn into_patch(self) -> ScimResult<(AgentPatch, AssignmentSets)> {
        let login = self.user_name.ok_or_else(|| ScimError::bad("invalidValue", "userName is required"))?;
        let patch = AgentPatch {
            login_id: Some(login),
            first_name: self.given_name,
            last_name: self.family_name,
            display_name: Some(self.display_name),
            email: Some(self.email),
            phone: Some(self.phone.unwrap_or_default()),
            active: self.active,
            password: self.password,
            profile: self.profile,
            attributes: Map::from_iter([(ECHO_KEY.to_string(), self.echo)]),
            ..Default::default()
        };
        Ok((patch, self.sets))
    }
}

fn user_id(id: &str) -> ScimResult<Id> {
    parse_id(id).ok_or_else(|| ScimError::not_found(format!("User {id} not found")))
}

/// A `userName eq "x"` filter alone (what Okta and Entra ID send before
/// each create): answered by the loginId index instead of a scan.
fn user_name_eq(f: &filter::Filter) -> Option<&str> {
    match f {
        filter::Filter::Compare(p, filter::Op::Eq, Value::String(v))
            if p.sub.is_none()
                && p.name.eq_ignore_ascii_case("userName")
                && p.urn.as_deref().is_none_or(|u| u.eq_ignore_ascii_case(USER_SCHEMA)) =>
        {
            Some(v)
        }
        _ => None,
    }
}

/// Every user the list's filter matches, as SCIM (in id order).
pub async fn matching(s: &AppState, p: &Principal, headers: &HeaderMap, q: &ListQuery) -> ScimResult<Vec<Value>> {
    let f = parse_filter(q)?;
    let base = base_url(headers);
    let names = Names::load(s, p).await?;
    let agents = match f.as_ref().and_then(user_name_eq) {
        Some(login) => s.dir.agent_by_login_id(p, login).await?.into_iter().collect(),
        None => s.dir.all_agents(p).await?,
    };
    Ok(agents.iter().map(|d| to_scim(d, &names, &base)).filter(|u| f.as_ref().is_none_or(|f| filter::matches(f, u, USER_SCHEMA))).collect())
}

pub async fn list(State(s): State<AppState>, Client(p): Client, headers: HeaderMap, Query(q): Query<ListQuery>) -> ScimResult<Response> {
    let all = matching(&s, &p, &headers, &q).await?;
    list_response(all, &q, USER_SCHEMA, EXTENSIONS)
}

pub async fn get_one(
    State(s): State<AppState>,
    Client(p): Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<Projection>,
) -> ScimResult<Response> {
    let d = s.dir.get_agent(&p, user_id(&id)?).await?;
    let names = Names::load(&s, &p).await?;
    let u = to_scim(&d, &names, &base_url(&headers));
    Ok(resource(StatusCode::OK, d.agent.version, &project(u, q.attributes.as_deref(), q.excluded_attributes.as_deref(), EXTENSIONS)))
}

pub async fn create(State(s): State<AppState>, Client(p): Client, headers: HeaderMap, Body(body): Body<Value>) -> ScimResult<Response> {
    let input = UserInput::from_json(&body)?;
    if input.user_name.as_deref().is_none_or(|u| u.trim().is_empty()) {
        return Err(ScimError::bad("invalidValue", "userName is required"));
    }
    let d = s.dir.create_agent(&p, input.into_new_agent()).await?;
    let names = Names::load(&s, &p).await?;
    Ok(resource(StatusCode::CREATED, d.agent.version, &to_scim(&d, &names, &base_url(&headers))))
}

pub async fn replace(
    State(s): State<AppState>,
    Client(p): Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    IfMatch(v): IfMatch,
    Body(body): Body<Value>,
) -> ScimResult<Response> {
    let id = user_id(&id)?;
    let (patch, sets) = UserInput::from_json(&body)?.into_patch()?;
    let d = s.dir.replace_agent(&p, id, patch, sets, v).await?;
    let names = Names::load(&s, &p).await?;
    Ok(resource(StatusCode::OK, d.agent.version, &to_scim(&d, &names, &base_url(&headers))))
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
    let id = user_id(&id)?;
    let base = base_url(&headers);
    let current = s.dir.get_agent(&p, id).await?;
    if v.is_some_and(|v| v != current.agent.version) {
        return Err(switchboard_domain::Error::VersionMismatch {
            entity: Entity::Agent,
            id: id.to_string(),
            current: current.agent.version,
        }
        .into());
    }
    let names = Names::load(&s, &p).await?;
    let mut u = to_scim(&current, &names, &base);
    if formatted_sent(&current.agent).is_none() {
        // Derived, not sent: not kept as if sent (a changed name re-derives it).
        if let Some(n) = u.get_mut("name").and_then(Value::as_object_mut) {
            n.remove("formatted");
        }
    }
    let before = u.get("name").cloned().unwrap_or(Value::Null);
    patch::apply(&mut u, &body.operations, &RULES)?;
    // A name changed without a new formatted one: the old one no longer says it.
    if let Some(n) = u.get_mut("name").and_then(Value::as_object_mut) {
        let same = |k: &str| n.get(k) == before.get(k);
        if same("formatted") && !(same("givenName") && same("familyName")) {
            n.remove("formatted");
        }
    }
    let mut input = UserInput::from_json(&u)?;
    // The patched user is whole: a list it lacks (removed, or left out as
    // empty) is empty.
    input.sets.skills.get_or_insert_with(Vec::new);
    input.sets.service_ids.get_or_insert_with(Vec::new);
    input.sets.groups.get_or_insert_with(Vec::new);
    let (patch, sets) = input.into_patch()?;
    // The version read is the one patched: a write in between is a 412.
    let d = s.dir.replace_agent(&p, id, patch, sets, Some(current.agent.version)).await?;
    Ok(resource(StatusCode::OK, d.agent.version, &to_scim(&d, &names, &base)))
}

pub async fn delete(State(s): State<AppState>, Client(p): Client, Path(id): Path<String>, IfMatch(v): IfMatch) -> ScimResult<Response> {
    s.dir.retire_agent(&p, user_id(&id)?, v).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

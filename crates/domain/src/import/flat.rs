//! Objects as flat rows of named columns: what an export writes, and what
//! an update's diff compares.

use super::*;
use crate::input::*;
use crate::model::*;
use crate::store::Named;
use std::collections::{BTreeMap, HashMap};

/// A row as columns → cell text: what export writes and diffs compare.
pub type FlatRow = BTreeMap<String, String>;

/// Names of the objects agents refer to, by id.
#[derive(Debug, Clone, Default)]
pub struct NameBook {
    pub skills: HashMap<Id, String>,
    pub services: HashMap<Id, String>,
    pub groups: HashMap<Id, String>,
    pub call_centers: HashMap<Id, String>,
}

pub(super) fn bool_str(b: bool) -> String {
    if b {
        "true".into()
    } else {
        "false".into()
    }
}

/// Attributes with sorted keys, so that equal maps print equally.
pub fn attributes_str(m: &serde_json::Map<String, serde_json::Value>) -> String {
    if m.is_empty() {
        return String::new();
    }
    let sorted: BTreeMap<&String, &serde_json::Value> = m.iter().collect();
    serde_json::to_string(&sorted).unwrap_or_default()
}

pub(super) fn sorted_join(mut items: Vec<String>) -> String {
    items.sort_by_key(|s| s.to_lowercase());
    items.join(";")
}

pub fn skills_str(items: &[(String, i64)]) -> String {
    sorted_join(items.iter().map(|(n, p)| format!("{n}:{p}")).collect())
}

pub fn groups_str(items: &[(String, bool)]) -> String {
    sorted_join(items.iter().map(|(n, rc)| if *rc { n.clone() } else { format!("{n}:false") }).collect())
}

pub(super) fn name_of(map: &HashMap<Id, String>, id: Id) -> String {
    map.get(&id).cloned().unwrap_or_else(|| id.to_string())
}

/// An agent as an export row.
pub fn agent_row(d: &AgentDetail, names: &NameBook) -> FlatRow {
    let a = &d.agent;
    let skills: Vec<(String, i64)> = d.skills.iter().map(|s| (name_of(&names.skills, s.skill_id), s.proficiency)).collect();
    let services: Vec<String> = d.service_ids.iter().map(|id| name_of(&names.services, *id)).collect();
    let groups: Vec<(String, bool)> = d.groups.iter().map(|g| (name_of(&names.groups, g.group_id), g.receive_call)).collect();
    let mut r = FlatRow::new();
    r.insert("loginId".into(), a.login_id.clone());
    r.insert("firstName".into(), a.first_name.clone());
    r.insert("lastName".into(), a.last_name.clone());
    r.insert("displayName".into(), a.display_name.clone().unwrap_or_default());
    r.insert("email".into(), a.email.clone().unwrap_or_default());
    r.insert("phone".into(), a.phone.clone());
    r.insert("wrapUpTime".into(), a.wrap_up_time.to_string());
    r.insert("homeAgent".into(), bool_str(a.home_agent));
    r.insert("active".into(), bool_str(a.active));
    r.insert("skills".into(), skills_str(&skills));
    r.insert("services".into(), sorted_join(services));
    r.insert("groups".into(), groups_str(&groups));
    r.insert("attributes".into(), attributes_str(&a.attributes));
    r
}

/// The cells an agent row sets (names already in their stored spelling).
pub(super) fn agent_import_row(a: &AgentImport) -> FlatRow {
    let mut r = FlatRow::new();
    r.insert("loginId".into(), a.login_id.clone());
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            r.insert(k.into(), v);
        }
    };
    put("firstName", a.first_name.clone());
    put("lastName", a.last_name.clone());
    put("displayName", a.display_name.clone().map(Option::unwrap_or_default));
    put("email", a.email.clone().map(Option::unwrap_or_default));
    put("phone", a.phone.clone());
    put("wrapUpTime", a.wrap_up_time.map(|x| x.to_string()));
    put("homeAgent", a.home_agent.map(bool_str));
    put("active", a.active.map(bool_str));
    put("skills", a.skills.as_deref().map(skills_str));
    put("services", a.services.clone().map(sorted_join));
    put("groups", a.groups.as_deref().map(groups_str));
    put("attributes", a.attributes.as_ref().map(attributes_str));
    r
}

pub fn skill_row(s: &Skill) -> FlatRow {
    FlatRow::from([("name".into(), s.name.clone()), ("description".into(), s.description.clone())])
}

pub fn named_row(n: &Named) -> FlatRow {
    FlatRow::from([("name".into(), n.name.clone())])
}

pub fn service_row(s: &Service, names: &NameBook) -> FlatRow {
    FlatRow::from([
        ("name".into(), s.name.clone()),
        ("callCenter".into(), name_of(&names.call_centers, s.call_center_id)),
        ("acd".into(), bool_str(s.acd)),
    ])
}

pub fn phone_row(p: &Phone) -> FlatRow {
    FlatRow::from([("name".into(), p.name.clone()), ("number".into(), p.number.clone()), ("skills".into(), p.skills.join(";"))])
}

pub fn did_row(d: &Did) -> FlatRow {
    FlatRow::from([("number".into(), d.number.clone())])
}

pub fn campaign_row(c: &Campaign) -> FlatRow {
    FlatRow::from([
        ("name".into(), c.name.clone()),
        ("dynamicDids".into(), c.dynamic_dids.join(";")),
        ("fallbackDids".into(), c.fallback_dids.join(";")),
    ])
}

/// An agent's assignments as rows of the `assignments` kind.
pub fn assignment_rows(d: &AgentDetail, names: &NameBook) -> Vec<FlatRow> {
    let login = d.agent.login_id.clone();
    let row = |t: &str, name: String, prof: String, rc: String| {
        FlatRow::from([
            ("loginId".into(), login.clone()),
            ("type".into(), t.to_string()),
            ("name".into(), name),
            ("proficiency".into(), prof),
            ("receiveCall".into(), rc),
        ])
    };
    let mut out = Vec::new();
    for s in &d.skills {
        out.push(row("skill", name_of(&names.skills, s.skill_id), s.proficiency.to_string(), String::new()));
    }
    for id in &d.service_ids {
        out.push(row("service", name_of(&names.services, *id), String::new(), String::new()));
    }
    for g in &d.groups {
        out.push(row("group", name_of(&names.groups, g.group_id), String::new(), bool_str(g.receive_call)));
    }
    out
}

/// The cells of `desired` that differ from `current` (a missing current cell is empty).
pub fn diff_rows(current: &FlatRow, desired: &FlatRow) -> Vec<FieldDiff> {
    desired
        .iter()
        .filter_map(|(k, to)| {
            let from = current.get(k).cloned().unwrap_or_default();
            (from != *to).then(|| FieldDiff { column: k.clone(), from, to: to.clone() })
        })
        .collect()
}

/// The changes an agent row makes to a stored agent: the field diff (the
/// password shows as `(set)`, never its value) and the validated change.
pub fn agent_update(before: &AgentDetail, names: &NameBook, a: &AgentImport) -> (Vec<FieldDiff>, AgentChanges) {
    let mut diff = diff_rows(&agent_row(before, names), &agent_import_row(a));
    if a.password_hash.is_some() {
        diff.push(FieldDiff { column: "password".into(), from: String::new(), to: "(set)".into() });
    }
    let mut attributes = serde_json::Map::new();
    if let Some(want) = &a.attributes {
        for k in before.agent.attributes.keys() {
            if !want.contains_key(k) {
                attributes.insert(k.clone(), serde_json::Value::Null);
            }
        }
        for (k, val) in want {
            attributes.insert(k.clone(), val.clone());
        }
    }
    let changes = AgentChanges {
        login_id: None,
        first_name: a.first_name.clone(),
        last_name: a.last_name.clone(),
        display_name: a.display_name.clone(),
        email: a.email.clone(),
        phone: a.phone.clone(),
        wrap_up_time: a.wrap_up_time,
        home_agent: a.home_agent,
        active: a.active,
        password_hash: a.password_hash.clone(),
        locked: None,
        attributes,
        profile: Default::default(),
        unchanged: None,
    };
    (diff, changes)
}

/// The desired cells of a non-agent record (for diffs against the stored row).
pub fn record_row(r: &ImportRecord) -> FlatRow {
    let mut out = FlatRow::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            out.insert(k.into(), v);
        }
    };
    match r {
        ImportRecord::Agent(a) => return agent_import_row(a),
        ImportRecord::Skill { name, description } => {
            put("name", Some(name.clone()));
            put("description", description.clone());
        }
        ImportRecord::Named { name } => put("name", Some(name.clone())),
        ImportRecord::Service { name, call_center, acd } => {
            put("name", Some(name.clone()));
            put("callCenter", call_center.clone());
            put("acd", acd.map(bool_str));
        }
        ImportRecord::Phone { name, number, skills } => {
            put("name", Some(name.clone()));
            put("number", number.clone());
            put("skills", skills.as_ref().map(|s| s.join(";")));
        }
        ImportRecord::Did { number } => put("number", Some(number.clone())),
        ImportRecord::Campaign { name, dynamic_dids, fallback_dids } => {
            put("name", Some(name.clone()));
            put("dynamicDids", dynamic_dids.as_ref().map(|s| s.join(";")));
            put("fallbackDids", fallback_dids.as_ref().map(|s| s.join(";")));
        }
        ImportRecord::Assignment(a) => {
            put("proficiency", a.proficiency.map(|p| p.to_string()));
            put("receiveCall", a.receive_call.map(bool_str));
        }
    }
    out
}

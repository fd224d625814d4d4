//! Typed rows, and a file's cells parsed into them (the columns of
//! `docs/import.md`).

use super::*;
use crate::error::{Error, Result, Rule};
use crate::input::*;
use crate::secret::PasswordPolicy;
use crate::validate as v;

/// A validated agent row. `None` fields were not in the file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentImport {
    pub login_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub phone: Option<String>,
    pub wrap_up_time: Option<i64>,
    pub home_agent: Option<bool>,
    pub active: Option<bool>,
    /// argon2id PHC string (hashed from a plaintext password, or given).
    pub password_hash: Option<String>,
    /// Skill name and proficiency.
    pub skills: Option<Vec<(String, i64)>>,
    pub services: Option<Vec<String>>,
    /// Group name and receiveCall.
    pub groups: Option<Vec<(String, bool)>>,
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentType {
    Skill,
    Service,
    Group,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AssignmentImport {
    pub login_id: String,
    pub kind: AssignmentType,
    pub name: String,
    pub proficiency: Option<i64>,
    pub receive_call: Option<bool>,
}

/// A validated row of any kind, as the store applies it.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportRecord {
    Agent(Box<AgentImport>),
    Skill {
        name: String,
        description: Option<String>,
    },
    /// A call center or a group.
    Named {
        name: String,
    },
    Service {
        name: String,
        call_center: Option<String>,
        acd: Option<bool>,
    },
    Phone {
        name: String,
        number: Option<String>,
        skills: Option<Vec<String>>,
    },
    Did {
        number: String,
    },
    Campaign {
        name: String,
        dynamic_dids: Option<Vec<String>>,
        fallback_dids: Option<Vec<String>>,
    },
    Assignment(AssignmentImport),
}

impl ImportRecord {
    /// The key identifying the object (compared case-insensitively).
    pub fn key(&self) -> String {
        match self {
            ImportRecord::Agent(a) => a.login_id.clone(),
            ImportRecord::Skill { name, .. }
            | ImportRecord::Named { name }
            | ImportRecord::Service { name, .. }
            | ImportRecord::Phone { name, .. }
            | ImportRecord::Campaign { name, .. } => name.clone(),
            ImportRecord::Did { number } => number.clone(),
            ImportRecord::Assignment(a) => format!("{}/{}/{}", a.login_id, assignment_type_str(a.kind), a.name),
        }
    }
}

/// A row ready for the store.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    pub row: usize,
    pub record: ImportRecord,
}

pub(super) fn assignment_type_str(t: AssignmentType) -> &'static str {
    match t {
        AssignmentType::Skill => "skill",
        AssignmentType::Service => "service",
        AssignmentType::Group => "group",
    }
}

// ---- cell parsing -----------------------------------------------------------------

pub(super) fn cell<'a>(r: &'a SourceRow, col: &str) -> Option<&'a str> {
    r.cells.get(col).map(String::as_str)
}

/// A cell that is present and not blank.
pub(super) fn filled<'a>(r: &'a SourceRow, col: &str) -> Option<&'a str> {
    cell(r, col).filter(|s| !s.trim().is_empty())
}

pub fn parse_bool(col: &str, s: &str) -> Result<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "y" => Ok(true),
        "false" | "0" | "no" | "n" => Ok(false),
        _ => Err(Error::invalid(col, Rule::Format { expected: "true or false" })),
    }
}

pub(super) fn parse_int(col: &str, s: &str) -> Result<i64> {
    s.trim().parse().map_err(|_| Error::invalid(col, Rule::Format { expected: "an integer" }))
}

/// `A;B;C` → names (blank items ignored).
pub fn split_list(s: &str) -> Vec<String> {
    s.split(';').map(str::trim).filter(|x| !x.is_empty()).map(str::to_string).collect()
}

/// `Name:4` → (Name, Some(4)); the suffix is taken after the last colon.
pub(super) fn split_suffix(item: &str) -> (&str, Option<&str>) {
    match item.rsplit_once(':') {
        Some((n, s)) => (n.trim(), Some(s.trim())),
        None => (item.trim(), None),
    }
}

pub(super) fn names_list(col: &str, s: &str) -> Result<Vec<String>> {
    let names = split_list(s).iter().map(|n| v::name(col, Some(n))).collect::<Result<Vec<_>>>()?;
    v::no_duplicates(col, names.iter().map(|n| n.to_lowercase()))?;
    Ok(names)
}

/// Whether `s` is an argon2id PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
pub fn is_argon2id_phc(s: &str) -> bool {
    use argon2::password_hash::phc::PasswordHash;
    match PasswordHash::new(s) {
        Ok(h) => h.algorithm.as_str() == "argon2id" && h.hash.is_some() && h.salt.is_some(),
        Err(_) => false,
    }
}

/// Turns a source row into a validated record (same rules as the API).
/// Agent plaintext passwords are checked here and returned for hashing.
pub(super) fn parse_row(kind: ImportKind, r: &SourceRow) -> Result<(ImportRecord, Option<String>)> {
    let text = |c: &str| cell(r, c).map(str::to_string);
    Ok(match kind {
        ImportKind::Agents => {
            let patch = AgentPatch {
                login_id: Some(cell(r, "loginId").unwrap_or("").to_string()),
                first_name: text("firstName"),
                last_name: text("lastName"),
                display_name: cell(r, "displayName").map(|s| Some(s.to_string())),
                email: cell(r, "email").map(|s| Some(s.to_string())),
                phone: text("phone"),
                wrap_up_time: filled(r, "wrapUpTime").map(|s| parse_int("wrapUpTime", s)).transpose()?,
                home_agent: filled(r, "homeAgent").map(|s| parse_bool("homeAgent", s)).transpose()?,
                active: filled(r, "active").map(|s| parse_bool("active", s)).transpose()?,
                password: filled(r, "password").map(str::to_string),
                locked: None,
                attributes: Default::default(),
                profile: Default::default(),
                unchanged: None,
            };
            if patch.login_id.as_deref().unwrap_or("").trim().is_empty() {
                return Err(Error::invalid("loginId", Rule::Required));
            }
            let c = patch.validate(&PasswordPolicy::ON_CREATE)?;
            let skills = cell(r, "skills")
                .map(|s| {
                    let list = split_list(s)
                        .iter()
                        .map(|item| {
                            let (name, prof) = split_suffix(item);
                            let name = v::name("skills", Some(name))?;
                            let prof = match prof {
                                Some(p) => parse_int("skills", p)?,
                                None => {
                                    return Err(Error::invalid(
                                        "skills",
                                        Rule::Format { expected: "Name:proficiency items separated by ;" },
                                    ))
                                }
                            };
                            v::proficiency(prof).map_err(|_| Error::invalid("skills", Rule::OutOfRange { min: 1, max: 5 }))?;
                            Ok((name, prof))
                        })
                        .collect::<Result<Vec<_>>>()?;
                    v::no_duplicates("skills", list.iter().map(|(n, _)| n.to_lowercase()))?;
                    Ok::<_, Error>(list)
                })
                .transpose()?;
            let services = cell(r, "services").map(|s| names_list("services", s)).transpose()?;
            let groups = cell(r, "groups")
                .map(|s| {
                    let list = split_list(s)
                        .iter()
                        .map(|item| {
                            let (name, rc) = match split_suffix(item) {
                                (n, Some(rc)) if parse_bool("groups", rc).is_ok() => (n, parse_bool("groups", rc)?),
                                _ => (item.trim(), true),
                            };
                            Ok((v::name("groups", Some(name))?, rc))
                        })
                        .collect::<Result<Vec<_>>>()?;
                    v::no_duplicates("groups", list.iter().map(|(n, _)| n.to_lowercase()))?;
                    Ok::<_, Error>(list)
                })
                .transpose()?;
            let attributes = cell(r, "attributes")
                .map(|s| {
                    if s.trim().is_empty() {
                        return Ok(serde_json::Map::new());
                    }
                    match serde_json::from_str::<serde_json::Value>(s) {
                        Ok(serde_json::Value::Object(m)) => Ok(m),
                        _ => Err(Error::invalid("attributes", Rule::Format { expected: "a JSON object" })),
                    }
                })
                .transpose()?;
            let hash = filled(r, "passwordHash").map(str::trim);
            if hash.is_some() && patch.password.is_some() {
                return Err(Error::invalid("passwordHash", Rule::Format { expected: "empty when password is given" }));
            }
            if let Some(h) = hash {
                if !is_argon2id_phc(h) {
                    return Err(Error::invalid("passwordHash", Rule::Format { expected: "an argon2id PHC string ($argon2id$v=19$…)" }));
                }
            }
            // A complete agent (both names) must also pass the create rules.
            if c.first_name.is_some() && c.last_name.is_some() {
                NewAgent {
                    login_id: patch.login_id.clone(),
                    first_name: patch.first_name.clone(),
                    last_name: patch.last_name.clone(),
                    ..Default::default()
                }
                .validate(&PasswordPolicy::ON_CREATE)?;
            }
            let a = AgentImport {
                login_id: c.login_id.unwrap_or_default(),
                first_name: c.first_name,
                last_name: c.last_name,
                display_name: c.display_name,
                email: c.email,
                phone: c.phone,
                wrap_up_time: c.wrap_up_time,
                home_agent: c.home_agent,
                active: c.active,
                password_hash: hash.map(str::to_string),
                skills,
                services,
                groups,
                attributes,
            };
            (ImportRecord::Agent(Box::new(a)), patch.password)
        }
        ImportKind::Skills => {
            let s =
                SkillInput { name: Some(cell(r, "name").unwrap_or("").to_string()), description: text("description") }.validate_patch()?;
            (ImportRecord::Skill { name: s.name.unwrap_or_default(), description: s.description }, None)
        }
        ImportKind::CallCenters | ImportKind::Groups => (ImportRecord::Named { name: NamedInput { name: text("name") }.validate()? }, None),
        ImportKind::Services => {
            let s =
                ServiceInput { name: Some(cell(r, "name").unwrap_or("").to_string()), call_center_id: None, acd: None }.validate_patch()?;
            let call_center = cell(r, "callCenter").map(|c| v::name("callCenter", Some(c))).transpose()?;
            let acd = filled(r, "acd").map(|s| parse_bool("acd", s)).transpose()?;
            (ImportRecord::Service { name: s.name.unwrap_or_default(), call_center, acd }, None)
        }
        ImportKind::Phones => {
            let p = PhoneInput {
                name: Some(cell(r, "name").unwrap_or("").to_string()),
                number: text("number"),
                skills: cell(r, "skills").map(split_list),
            }
            .validate_patch()?;
            (ImportRecord::Phone { name: p.name.unwrap_or_default(), number: p.number, skills: p.skills }, None)
        }
        ImportKind::Dids => (ImportRecord::Did { number: v::phone_number("number", cell(r, "number").unwrap_or(""))? }, None),
        ImportKind::Campaigns => {
            let c = CampaignInput {
                name: Some(cell(r, "name").unwrap_or("").to_string()),
                dynamic_dids: cell(r, "dynamicDids").map(split_list),
                fallback_dids: cell(r, "fallbackDids").map(split_list),
            }
            .validate_patch()?;
            (
                ImportRecord::Campaign { name: c.name.unwrap_or_default(), dynamic_dids: c.dynamic_dids, fallback_dids: c.fallback_dids },
                None,
            )
        }
        ImportKind::Assignments => {
            let login_id = v::login_id("loginId", cell(r, "loginId"))?;
            let kind = match cell(r, "type").unwrap_or("").trim().to_ascii_lowercase().as_str() {
                "skill" => AssignmentType::Skill,
                "service" => AssignmentType::Service,
                "group" => AssignmentType::Group,
                _ => return Err(Error::invalid("type", Rule::Format { expected: "skill, service or group" })),
            };
            let name = v::name("name", cell(r, "name"))?;
            let proficiency = filled(r, "proficiency").map(|s| parse_int("proficiency", s).and_then(v::proficiency)).transpose()?;
            let receive_call = filled(r, "receiveCall").map(|s| parse_bool("receiveCall", s)).transpose()?;
            match kind {
                AssignmentType::Skill if proficiency.is_none() => return Err(Error::invalid("proficiency", Rule::Required)),
                AssignmentType::Skill if receive_call.is_some() => {
                    return Err(Error::invalid("receiveCall", Rule::Format { expected: "empty for a skill" }))
                }
                AssignmentType::Service if proficiency.is_some() || receive_call.is_some() => {
                    let col = if proficiency.is_some() { "proficiency" } else { "receiveCall" };
                    return Err(Error::invalid(col, Rule::Format { expected: "empty for a service" }));
                }
                AssignmentType::Group if proficiency.is_some() => {
                    return Err(Error::invalid("proficiency", Rule::Format { expected: "empty for a group" }))
                }
                _ => {}
            }
            (ImportRecord::Assignment(AssignmentImport { login_id, kind, name, proficiency, receive_call }), None)
        }
    })
}

/// The key cell of a raw row, for error reports.
pub(super) fn raw_key(kind: ImportKind, r: &SourceRow) -> Option<String> {
    let k: Vec<&str> = kind.key_columns().iter().filter_map(|c| cell(r, c)).map(str::trim).collect();
    (!k.is_empty()).then(|| k.join("/"))
}

//! Bulk import and export: every kind of directory object as flat rows of
//! named columns (the CSV/JSON file format of `docs/import.md`).
//!
//! A row is validated with the same rules as the API (the `input` types'
//! `validate` functions), then the store applies all rows of an import in one
//! call: one transaction for `atomic` (and for a dry run, rolled back), one
//! transaction per batch with a savepoint per row for `best-effort`. Plaintext
//! passwords are hashed (argon2id) on every core before the store call.

use crate::error::{Entity, Error, Result, Rule};
use crate::input::*;
use crate::model::*;
use crate::ops::Directory;
use crate::secret::{self, blocking, PasswordPolicy};
use crate::store::{Named, WriteCtx};
use crate::validate as v;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum ImportKind {
    #[default]
    Agents,
    Skills,
    CallCenters,
    Services,
    Groups,
    Phones,
    Dids,
    Campaigns,
    /// Skill, service and group assignments of agents, one per row.
    Assignments,
}

impl ImportKind {
    pub const ALL: [ImportKind; 9] = [
        ImportKind::Agents,
        ImportKind::Skills,
        ImportKind::CallCenters,
        ImportKind::Services,
        ImportKind::Groups,
        ImportKind::Phones,
        ImportKind::Dids,
        ImportKind::Campaigns,
        ImportKind::Assignments,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Agents => "agents",
            ImportKind::Skills => "skills",
            ImportKind::CallCenters => "call-centers",
            ImportKind::Services => "services",
            ImportKind::Groups => "groups",
            ImportKind::Phones => "phones",
            ImportKind::Dids => "dids",
            ImportKind::Campaigns => "campaigns",
            ImportKind::Assignments => "assignments",
        }
    }

    pub fn parse(s: &str) -> Option<ImportKind> {
        ImportKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Every column a file of this kind may have, in export order.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            ImportKind::Agents => &[
                "loginId", "firstName", "lastName", "displayName", "email", "phone", "wrapUpTime", "homeAgent", "active", "skills",
                "services", "groups", "attributes", "password", "passwordHash",
            ],
            ImportKind::Skills => &["name", "description"],
            ImportKind::CallCenters | ImportKind::Groups => &["name"],
            ImportKind::Services => &["name", "callCenter", "acd"],
            ImportKind::Phones => &["name", "number", "skills"],
            ImportKind::Dids => &["number"],
            ImportKind::Campaigns => &["name", "dynamicDids", "fallbackDids"],
            ImportKind::Assignments => &["loginId", "type", "name", "proficiency", "receiveCall"],
        }
    }

    /// The columns an export writes (never passwords or their hashes).
    pub fn export_columns(self) -> Vec<&'static str> {
        self.columns().iter().copied().filter(|c| *c != "password" && *c != "passwordHash").collect()
    }

    /// Columns every file of this kind must have (they identify the object).
    pub fn key_columns(self) -> &'static [&'static str] {
        match self {
            ImportKind::Agents => &["loginId"],
            ImportKind::Dids => &["number"],
            ImportKind::Assignments => &["loginId", "type", "name"],
            _ => &["name"],
        }
    }

    pub fn entity(self) -> Entity {
        match self {
            ImportKind::Agents | ImportKind::Assignments => Entity::Agent,
            ImportKind::Skills => Entity::Skill,
            ImportKind::CallCenters => Entity::CallCenter,
            ImportKind::Services => Entity::Service,
            ImportKind::Groups => Entity::Group,
            ImportKind::Phones => Entity::Phone,
            ImportKind::Dids => Entity::Did,
            ImportKind::Campaigns => Entity::Campaign,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum ImportMode {
    /// All rows or none, in one transaction.
    #[default]
    Atomic,
    /// Good rows are written, bad ones reported.
    BestEffort,
}

impl ImportMode {
    pub fn parse(s: &str) -> Option<ImportMode> {
        match s {
            "atomic" => Some(ImportMode::Atomic),
            "best-effort" => Some(ImportMode::BestEffort),
            _ => None,
        }
    }
}

/// What to do with a row whose object already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum OnConflict {
    Skip,
    Update,
    /// The row is an error (`duplicate`).
    #[default]
    Fail,
}

impl OnConflict {
    pub fn parse(s: &str) -> Option<OnConflict> {
        match s {
            "skip" => Some(OnConflict::Skip),
            "update" => Some(OnConflict::Update),
            "fail" => Some(OnConflict::Fail),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ImportOptions {
    pub kind: ImportKind,
    #[serde(default)]
    pub mode: ImportMode,
    #[serde(default)]
    pub on_conflict: OnConflict,
    #[serde(default)]
    pub dry_run: bool,
}

/// One row of a file: its number (CSV line, or position in a JSON array)
/// and its cells by column name. A column missing from the row is left as
/// it is on update (and defaulted on create).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceRow {
    pub row: usize,
    pub cells: BTreeMap<String, String>,
}

/// A row that cannot be applied: where and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RowError {
    pub row: usize,
    /// The object's key (loginId, name or number) when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The column at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The domain error code (`invalid`, `duplicate`, …) and, for `invalid`, the rule.
    pub code: String,
    pub message: String,
}

impl RowError {
    pub fn of(row: usize, key: Option<&str>, e: &Error) -> RowError {
        let (column, code) = match e {
            Error::Invalid { field, rule } => (Some(field.clone()), format!("invalid:{}", rule.code())),
            Error::Duplicate { field, .. } => (Some((*field).to_string()), "duplicate".into()),
            other => (None, other.code().to_string()),
        };
        RowError { row, key: key.map(str::to_string), column, code, message: e.to_string() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FieldDiff {
    pub column: String,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RowAction {
    Create,
    Update,
    Unchanged,
    Skip,
}

/// What happened (or, in a dry run, would happen) to a row.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RowChange {
    pub row: usize,
    pub key: String,
    pub action: RowAction,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diff: Vec<FieldDiff>,
}

/// The store's answer for one row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowOutcome {
    Done(RowChange),
    Failed(RowError),
}

/// What the store did with the rows it was given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportRun {
    pub outcomes: Vec<RowOutcome>,
    /// Whether anything was committed (false for a dry run and a failed atomic import).
    pub committed: bool,
    /// Stopped early by a cancel request.
    pub interrupted: bool,
    /// Best-effort: the last row whose effect is in the database.
    pub applied_through_row: Option<usize>,
}

/// The report of an import: the plan of a dry run, or what was done.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    pub kind: ImportKind,
    pub mode: ImportMode,
    pub on_conflict: OnConflict,
    pub dry_run: bool,
    /// Rows in the file.
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub skipped: usize,
    pub failed: usize,
    /// True when the rows' effects are in the database.
    pub committed: bool,
    /// Stopped by a cancel request (Ctrl-C).
    pub interrupted: bool,
    /// Best-effort: rows up to this one (in file order) were processed and committed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied_through_row: Option<usize>,
    /// One sentence on the state the database was left in.
    pub outcome: String,
    pub changes: Vec<RowChange>,
    pub errors: Vec<RowError>,
}

/// Progress and cancellation of a running import.
#[derive(Clone)]
pub struct ImportControl {
    pub cancel: Arc<AtomicBool>,
    /// Called with (stage, done, total); stages are `hashing` and `writing`.
    pub progress: Arc<dyn Fn(&'static str, usize, usize) + Send + Sync>,
}

impl Default for ImportControl {
    fn default() -> Self {
        ImportControl { cancel: Arc::new(AtomicBool::new(false)), progress: Arc::new(|_, _, _| {}) }
    }
}

impl ImportControl {
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// How the store runs the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportRunOptions {
    pub mode: ImportMode,
    pub on_conflict: OnConflict,
    pub dry_run: bool,
}

// ---- typed rows -----------------------------------------------------------------

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
    Skill { name: String, description: Option<String> },
    /// A call center or a group.
    Named { name: String },
    Service { name: String, call_center: Option<String>, acd: Option<bool> },
    Phone { name: String, number: Option<String>, skills: Option<Vec<String>> },
    Did { number: String },
    Campaign { name: String, dynamic_dids: Option<Vec<String>>, fallback_dids: Option<Vec<String>> },
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

fn assignment_type_str(t: AssignmentType) -> &'static str {
    match t {
        AssignmentType::Skill => "skill",
        AssignmentType::Service => "service",
        AssignmentType::Group => "group",
    }
}

// ---- cell parsing -----------------------------------------------------------------

fn cell<'a>(r: &'a SourceRow, col: &str) -> Option<&'a str> {
    r.cells.get(col).map(String::as_str)
}

/// A cell that is present and not blank.
fn filled<'a>(r: &'a SourceRow, col: &str) -> Option<&'a str> {
    cell(r, col).filter(|s| !s.trim().is_empty())
}

pub fn parse_bool(col: &str, s: &str) -> Result<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "y" => Ok(true),
        "false" | "0" | "no" | "n" => Ok(false),
        _ => Err(Error::invalid(col, Rule::Format { expected: "true or false" })),
    }
}

fn parse_int(col: &str, s: &str) -> Result<i64> {
    s.trim().parse().map_err(|_| Error::invalid(col, Rule::Format { expected: "an integer" }))
}

/// `A;B;C` → names (blank items ignored).
pub fn split_list(s: &str) -> Vec<String> {
    s.split(';').map(str::trim).filter(|x| !x.is_empty()).map(str::to_string).collect()
}

/// `Name:4` → (Name, Some(4)); the suffix is taken after the last colon.
fn split_suffix(item: &str) -> (&str, Option<&str>) {
    match item.rsplit_once(':') {
        Some((n, s)) => (n.trim(), Some(s.trim())),
        None => (item.trim(), None),
    }
}

fn names_list(col: &str, s: &str) -> Result<Vec<String>> {
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
fn parse_row(kind: ImportKind, r: &SourceRow) -> Result<(ImportRecord, Option<String>)> {
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
                                None => return Err(Error::invalid("skills", Rule::Format { expected: "Name:proficiency items separated by ;" })),
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
            let s = SkillInput { name: Some(cell(r, "name").unwrap_or("").to_string()), description: text("description") }.validate_patch()?;
            (ImportRecord::Skill { name: s.name.unwrap_or_default(), description: s.description }, None)
        }
        ImportKind::CallCenters | ImportKind::Groups => {
            (ImportRecord::Named { name: NamedInput { name: text("name") }.validate()? }, None)
        }
        ImportKind::Services => {
            let s = ServiceInput { name: Some(cell(r, "name").unwrap_or("").to_string()), call_center_id: None, acd: None }.validate_patch()?;
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
            (ImportRecord::Campaign { name: c.name.unwrap_or_default(), dynamic_dids: c.dynamic_dids, fallback_dids: c.fallback_dids }, None)
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
fn raw_key(kind: ImportKind, r: &SourceRow) -> Option<String> {
    let k: Vec<&str> = kind.key_columns().iter().filter_map(|c| cell(r, c)).map(str::trim).collect();
    (!k.is_empty()).then(|| k.join("/"))
}

// ---- flat rows (export and diffs) ---------------------------------------------------

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

fn bool_str(b: bool) -> String {
    if b { "true".into() } else { "false".into() }
}

/// Attributes with sorted keys, so that equal maps print equally.
pub fn attributes_str(m: &serde_json::Map<String, serde_json::Value>) -> String {
    if m.is_empty() {
        return String::new();
    }
    let sorted: BTreeMap<&String, &serde_json::Value> = m.iter().collect();
    serde_json::to_string(&sorted).unwrap_or_default()
}

fn sorted_join(mut items: Vec<String>) -> String {
    items.sort_by_key(|s| s.to_lowercase());
    items.join(";")
}

pub fn skills_str(items: &[(String, i64)]) -> String {
    sorted_join(items.iter().map(|(n, p)| format!("{n}:{p}")).collect())
}

pub fn groups_str(items: &[(String, bool)]) -> String {
    sorted_join(items.iter().map(|(n, rc)| if *rc { n.clone() } else { format!("{n}:false") }).collect())
}

fn name_of(map: &HashMap<Id, String>, id: Id) -> String {
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
fn agent_import_row(a: &AgentImport) -> FlatRow {
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

// ---- the operations ---------------------------------------------------------------

/// Validates every row; returns the good ones (with plaintext passwords
/// still to hash) and the errors. Keys repeated within the file are errors.
fn validate_rows(kind: ImportKind, rows: &[SourceRow]) -> (Vec<(ImportRow, Option<String>)>, Vec<RowError>) {
    let mut good = Vec::with_capacity(rows.len());
    let mut errors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(rows.len());
    for r in rows {
        match parse_row(kind, r) {
            Ok((record, password)) => {
                let key = record.key();
                if let Some(first) = seen.get(&key.to_lowercase()) {
                    let col = kind.key_columns()[0];
                    errors.push(RowError {
                        row: r.row,
                        key: Some(key),
                        column: Some(col.into()),
                        code: "invalid:duplicate_item".into(),
                        message: format!("{col} repeats row {first} of this file"),
                    });
                    continue;
                }
                seen.insert(key.to_lowercase(), r.row);
                good.push((ImportRow { row: r.row, record }, password));
            }
            Err(e) => errors.push(RowError::of(r.row, raw_key(kind, r).as_deref(), &e)),
        }
    }
    (good, errors)
}

/// Hashes passwords on every core (argon2id is deliberately slow: one hash
/// per core at a time). A password equal to one of the agent's last
/// `history` passwords is refused, as on the API's update.
fn hash_all(jobs: Vec<(usize, String, Vec<String>)>, ctl: &ImportControl) -> Vec<(usize, Result<String>)> {
    let total = jobs.len();
    if total == 0 {
        return Vec::new();
    }
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(total);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::with_capacity(total));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                if ctl.cancelled() {
                    return;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((index, pw, previous)) = jobs.get(i) else { return };
                let r = PasswordPolicy::ON_UPDATE.check_history(pw, previous).map(|()| secret::hash_password(pw));
                results.lock().unwrap_or_else(|e| e.into_inner()).push((*index, r));
                let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                (ctl.progress)("hashing", d, total);
            });
        }
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner())
}

fn outcome_sentence(o: &ImportOptions, run: &ImportRun, failed: usize) -> String {
    if o.dry_run {
        return "dry run: nothing was written".into();
    }
    match (o.mode, run.committed, run.interrupted) {
        (ImportMode::Atomic, true, _) => "all rows were written in one transaction".into(),
        (ImportMode::Atomic, false, true) => "interrupted: nothing was written (the transaction was rolled back)".into(),
        (ImportMode::Atomic, false, false) => format!("{failed} row(s) failed: nothing was written (the transaction was rolled back)"),
        (ImportMode::BestEffort, _, true) => match run.applied_through_row {
            Some(r) => format!("interrupted: rows up to row {r} were processed and committed; later rows were not"),
            None => "interrupted before any row was committed".into(),
        },
        (ImportMode::BestEffort, _, false) => format!("good rows were written; {failed} row(s) failed and were not"),
    }
}

impl Directory {
    /// Imports rows of one kind into a tenant. `p` is the API caller (who
    /// must administer agents), or `None` for the operator at the CLI.
    pub async fn import(&self, p: Option<&Principal>, tenant: Id, opts: ImportOptions, rows: Vec<SourceRow>, ctl: ImportControl) -> Result<ImportReport> {
        let ctx = match p {
            Some(p) => {
                p.require_agent_admin()?;
                if p.tenant_id != tenant {
                    return Err(Error::Forbidden);
                }
                WriteCtx { tenant_id: tenant, actor: Actor::of(p), now: self.now() }
            }
            None => WriteCtx { tenant_id: tenant, actor: Actor::cli(), now: self.now() },
        };
        let total = rows.len();
        let (good, mut errors) = validate_rows(opts.kind, &rows);
        drop(rows);
        // Passwords: hashed before the transaction, on every core; skipped in
        // a dry run (the plan does not need them; their rules are checked).
        let mut ready: Vec<ImportRow> = Vec::with_capacity(good.len());
        let mut jobs = Vec::new();
        for (i, (mut row, pw)) in good.into_iter().enumerate() {
            if let (Some(pw), false) = (pw.clone(), opts.dry_run) {
                let previous = match &row.record {
                    ImportRecord::Agent(a) if opts.on_conflict == OnConflict::Update => {
                        match self.store().find_agent_by_login_id(tenant, &a.login_id).await {
                            Ok(d) => self.store().agent_password_hashes(tenant, d.agent.id, PasswordPolicy::ON_UPDATE.history).await?,
                            Err(Error::NotFound { .. }) => Vec::new(),
                            Err(e) => return Err(e),
                        }
                    }
                    _ => Vec::new(),
                };
                jobs.push((i, pw, previous));
            } else if pw.is_some() {
                // Dry run: the row sets a password; the plan shows "(set)",
                // and the rolled-back transaction never keeps this marker.
                if let ImportRecord::Agent(a) = &mut row.record {
                    a.password_hash = Some(DRY_RUN_HASH.into());
                }
            }
            ready.push(row);
        }
        if !jobs.is_empty() {
            let c = ctl.clone();
            let hashed = blocking(move || hash_all(jobs, &c)).await;
            if ctl.cancelled() {
                let run = ImportRun { interrupted: true, ..Default::default() };
                return Ok(report(opts, total, run, errors));
            }
            let mut failed_rows = HashSet::new();
            for (i, r) in hashed {
                match r {
                    Ok(h) => {
                        if let ImportRecord::Agent(a) = &mut ready[i].record {
                            a.password_hash = Some(h);
                        }
                    }
                    Err(e) => {
                        let row = &ready[i];
                        errors.push(RowError::of(row.row, Some(&row.record.key()), &e));
                        failed_rows.insert(i);
                    }
                }
            }
            if !failed_rows.is_empty() {
                ready = ready.into_iter().enumerate().filter(|(i, _)| !failed_rows.contains(i)).map(|(_, r)| r).collect();
            }
        }
        let run_opts = ImportRunOptions { mode: opts.mode, on_conflict: opts.on_conflict, dry_run: opts.dry_run };
        // An atomic import with bad rows still runs (as a check of the rest) but commits nothing.
        let atomic_doomed = opts.mode == ImportMode::Atomic && !errors.is_empty();
        let run_opts = if atomic_doomed { ImportRunOptions { dry_run: true, ..run_opts } } else { run_opts };
        let run = self.store().import_rows(&ctx, opts.kind, ready, run_opts, ctl).await?;
        Ok(report(opts, total, run, errors))
    }

    /// Every object of a kind in a tenant, as export rows.
    pub async fn export(&self, p: Option<&Principal>, tenant: Id, kind: ImportKind) -> Result<Vec<FlatRow>> {
        if let Some(p) = p {
            p.require_agent_admin()?;
            if p.tenant_id != tenant {
                return Err(Error::Forbidden);
            }
        }
        let s = self.store();
        let mut names = NameBook::default();
        let mut out = Vec::new();
        macro_rules! all {
            ($list:expr, $f:expr) => {{
                let mut after = 0;
                loop {
                    let page = $list(PageRequest { after, offset: 0, limit: 1000 }).await?;
                    for x in &page.items {
                        $f(x);
                    }
                    match page.items.last() {
                        Some(last) if page.has_more => after = last.id,
                        _ => break,
                    }
                }
            }};
        }
        if matches!(kind, ImportKind::Agents | ImportKind::Assignments) {
            all!(|pg| s.list_skills(tenant, pg), |x: &Skill| {
                names.skills.insert(x.id, x.name.clone());
            });
            all!(|pg| s.list_services(tenant, None, pg), |x: &Service| {
                names.services.insert(x.id, x.name.clone());
            });
            all!(|pg| s.list_named(tenant, Entity::Group, pg), |x: &Named| {
                names.groups.insert(x.id, x.name.clone());
            });
        }
        match kind {
            ImportKind::Agents => {
                out = s.export_agents(tenant).await?.iter().map(|d| agent_row(d, &names)).collect();
            }
            ImportKind::Assignments => {
                out = s.export_agents(tenant).await?.iter().flat_map(|d| assignment_rows(d, &names)).collect();
            }
            ImportKind::Skills => all!(|pg| s.list_skills(tenant, pg), |x: &Skill| out.push(skill_row(x))),
            ImportKind::CallCenters => all!(|pg| s.list_named(tenant, Entity::CallCenter, pg), |x: &Named| out.push(named_row(x))),
            ImportKind::Groups => all!(|pg| s.list_named(tenant, Entity::Group, pg), |x: &Named| out.push(named_row(x))),
            ImportKind::Services => {
                all!(|pg| s.list_named(tenant, Entity::CallCenter, pg), |x: &Named| {
                    names.call_centers.insert(x.id, x.name.clone());
                });
                all!(|pg| s.list_services(tenant, None, pg), |x: &Service| out.push(service_row(x, &names)));
            }
            ImportKind::Phones => all!(|pg| s.list_phones(tenant, pg), |x: &Phone| out.push(phone_row(x))),
            ImportKind::Dids => all!(|pg| s.list_dids(tenant, pg), |x: &Did| out.push(did_row(x))),
            ImportKind::Campaigns => all!(|pg| s.list_campaigns(tenant, pg), |x: &Campaign| out.push(campaign_row(x))),
        }
        Ok(out)
    }

    /// Starts recording an import job (HTTP): visible to every instance.
    pub async fn create_import_job(&self, p: &Principal, opts: ImportOptions, rows: usize) -> Result<ImportJob> {
        p.require_agent_admin()?;
        self.store().create_import_job(&self.ctx_of(p), opts, rows).await
    }

    pub async fn get_import_job(&self, p: &Principal, id: Id) -> Result<ImportJob> {
        p.require_agent_admin()?;
        self.store().get_import_job(p.tenant_id, id).await
    }

    fn ctx_of(&self, p: &Principal) -> WriteCtx {
        WriteCtx { tenant_id: p.tenant_id, actor: Actor::of(p), now: self.now() }
    }
}

/// What a dry run puts where a password hash would go (never committed).
const DRY_RUN_HASH: &str = "(dry run)";

fn report(opts: ImportOptions, total: usize, run: ImportRun, mut errors: Vec<RowError>) -> ImportReport {
    let mut changes = Vec::new();
    let (mut created, mut updated, mut unchanged, mut skipped) = (0, 0, 0, 0);
    for o in &run.outcomes {
        match o {
            RowOutcome::Done(c) => {
                match c.action {
                    RowAction::Create => created += 1,
                    RowAction::Update => updated += 1,
                    RowAction::Unchanged => unchanged += 1,
                    RowAction::Skip => skipped += 1,
                }
                changes.push(c.clone());
            }
            RowOutcome::Failed(e) => errors.push(e.clone()),
        }
    }
    errors.sort_by_key(|e| e.row);
    changes.sort_by_key(|c| c.row);
    let failed = errors.len();
    let outcome = outcome_sentence(&opts, &run, failed);
    ImportReport {
        kind: opts.kind,
        mode: opts.mode,
        on_conflict: opts.on_conflict,
        dry_run: opts.dry_run,
        rows: total,
        created,
        updated,
        unchanged,
        skipped,
        failed,
        committed: run.committed,
        interrupted: run.interrupted,
        applied_through_row: run.applied_through_row,
        outcome,
        changes,
        errors,
    }
}

/// An import started over HTTP, as every instance sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ImportJob {
    pub id: Id,
    pub kind: ImportKind,
    pub mode: ImportMode,
    pub on_conflict: OnConflict,
    pub dry_run: bool,
    /// `running`, `done` or `failed`.
    pub status: String,
    pub rows: i64,
    /// Rows written (or checked) so far.
    pub processed: i64,
    /// The import report, once done.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub report: Option<serde_json::Value>,
    /// Why the job failed as a whole (e.g. the database went away).
    pub error: Option<String>,
    pub created_by: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A change of an import job's recorded state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportJobUpdate {
    pub processed: i64,
    /// `done` or `failed` when the job ends.
    pub status: Option<String>,
    pub report: Option<serde_json::Value>,
    pub error: Option<String>,
    pub now: Millis,
}

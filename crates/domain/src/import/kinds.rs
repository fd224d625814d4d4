//! What an import is asked to do and what it answers: kinds of rows,
//! modes, conflict handling, per-row outcomes, the report and its controls.

use crate::error::{Entity, Error};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
                "loginId",
                "firstName",
                "lastName",
                "displayName",
                "email",
                "phone",
                "wrapUpTime",
                "homeAgent",
                "active",
                "skills",
                "services",
                "groups",
                "attributes",
                "password",
                "passwordHash",
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

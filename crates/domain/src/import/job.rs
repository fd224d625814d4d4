//! An import started over HTTP, as every instance sees it.

use super::*;
use crate::model::*;
use serde::Serialize;

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

//! `/api/v1/imports`: bulk imports over HTTP, as jobs. `POST` validates the
//! file's shape, records a job and answers 202 at once; the import runs in
//! this instance and its state (progress, then the report) is kept in the
//! database, so `GET /api/v1/imports/{id}` answers from any instance.
//! The rows, modes and report are those of `switchboard import`
//! (`docs/import.md`). Agent administrators only.

use super::extract::{json, Caller, Ids};
use super::problem::{ApiResult, Problem};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use switchboard_bulk::Format;
use switchboard_domain::{
    Error, Id, ImportControl, ImportJob, ImportJobUpdate, ImportKind, ImportMode, ImportOptions, OnConflict, Principal, SourceRow,
};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_import)).routes(routes!(get_import))
}

/// An import as JSON: the rows either as CSV text (`csv`) or as objects (`rows`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportRequest {
    pub kind: ImportKind,
    /// `atomic` (default) or `best-effort`.
    #[serde(default)]
    pub mode: ImportMode,
    /// `skip`, `update` or `fail` (default).
    #[serde(default)]
    pub on_conflict: OnConflict,
    #[serde(default)]
    pub dry_run: bool,
    /// The file as CSV text, header row first (give `csv` or `rows`).
    #[serde(default, deserialize_with = "super::wire::not_null")]
    #[schema(value_type = String)]
    pub csv: Option<String>,
    /// The rows as JSON objects, the JSON file format (give `csv` or `rows`).
    #[serde(default, deserialize_with = "super::wire::not_null")]
    #[schema(value_type = Vec<Object>)]
    pub rows: Option<Vec<serde_json::Value>>,
}

/// An import as `multipart/form-data`: `kind`, `mode`, `onConflict`, `dryRun`
/// and the `file` (`.csv` or `.json`; `format` overrides the file name).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ImportForm {
    pub kind: ImportKind,
    /// `atomic` (default) or `best-effort`.
    #[schema(nullable = false)]
    pub mode: Option<ImportMode>,
    /// `skip`, `update` or `fail` (default).
    #[schema(nullable = false)]
    pub on_conflict: Option<OnConflict>,
    /// Validate and report without writing (default false).
    #[schema(nullable = false)]
    pub dry_run: Option<bool>,
    /// The file's format; by default, from the file name's extension (`.csv`, `.json`), else CSV.
    #[schema(schema_with = super::schema::file_format)]
    pub format: Option<String>,
    /// The file: CSV with a header row, or a JSON array of row objects (`docs/import.md`).
    #[schema(format = Binary, value_type = String)]
    pub file: Vec<u8>,
}

/// Progress of the jobs running in this process (the database has it too,
/// but a SQLite writer busy with the import cannot record it meanwhile).
type Running = Mutex<HashMap<(Id, Id), Arc<AtomicUsize>>>;

fn local_progress() -> &'static Running {
    static P: OnceLock<Running> = OnceLock::new();
    P.get_or_init(Default::default)
}

fn file_problem(e: switchboard_bulk::FileError) -> Problem {
    let p = Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", e.to_string());
    match e.column {
        Some(c) => p.with_field(c),
        None => p,
    }
}

fn bad_field(field: &str, expected: &str) -> Problem {
    Problem::bad_request(format!("{field} must be {expected}")).with_field(field)
}

async fn from_multipart(req: Request, s: &AppState) -> ApiResult<(ImportOptions, Vec<SourceRow>)> {
    let mut mp = Multipart::from_request(req, s).await.map_err(|e| Problem::bad_request(e.body_text()))?;
    let (mut kind, mut mode, mut oc, mut dry, mut format, mut file) = (None, ImportMode::Atomic, OnConflict::Fail, false, None, None);
    while let Some(field) = mp.next_field().await.map_err(|e| Problem::bad_request(e.body_text()))? {
        let name = field.name().unwrap_or("").to_string();
        let file_name = field.file_name().map(str::to_string);
        let data = field.bytes().await.map_err(|e| Problem::bad_request(e.body_text()))?;
        let text = || String::from_utf8_lossy(&data).trim().to_string();
        match name.as_str() {
            "kind" => kind = Some(ImportKind::parse(&text()).ok_or_else(|| bad_field("kind", "a kind of import (agents, skills, …)"))?),
            "mode" => mode = ImportMode::parse(&text()).ok_or_else(|| bad_field("mode", "atomic or best-effort"))?,
            "onConflict" => oc = OnConflict::parse(&text()).ok_or_else(|| bad_field("onConflict", "skip, update or fail"))?,
            // A form's boolean is the text `true` or `false` (as the document's `boolean` is encoded).
            "dryRun" => {
                dry = match text().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad_field("dryRun", "true or false")),
                }
            }
            "format" => format = Some(Format::parse(&text()).ok_or_else(|| bad_field("format", "csv or json"))?),
            "file" => {
                if format.is_none() {
                    format = file_name.as_deref().and_then(|n| Format::of_path(std::path::Path::new(n)));
                }
                file = Some(data);
            }
            other => return Err(Problem::bad_request(format!("unknown form field {other}")).with_field(other)),
        }
    }
    let kind = kind.ok_or_else(|| bad_field("kind", "given"))?;
    let file = file.ok_or_else(|| bad_field("file", "given"))?;
    let rows = switchboard_bulk::read(kind, format.unwrap_or(Format::Csv), &file).map_err(file_problem)?;
    Ok((ImportOptions { kind, mode, on_conflict: oc, dry_run: dry }, rows))
}

async fn from_json(req: Request, s: &AppState) -> ApiResult<(ImportOptions, Vec<SourceRow>)> {
    let bytes = Bytes::from_request(req, s).await.map_err(|e| Problem::new(e.status(), "bad_request", e.body_text()))?;
    let b: ImportRequest = super::extract::parse_json(&bytes)?;
    let opts = ImportOptions { kind: b.kind, mode: b.mode, on_conflict: b.on_conflict, dry_run: b.dry_run };
    let rows = match (b.csv, b.rows) {
        (Some(csv), None) => switchboard_bulk::read(b.kind, Format::Csv, csv.as_bytes()).map_err(file_problem)?,
        (None, Some(rows)) => rows
            .into_iter()
            .enumerate()
            .map(|(i, r)| switchboard_bulk::json_row(b.kind, i + 1, r))
            .collect::<Result<Vec<_>, _>>()
            .map_err(file_problem)?,
        _ => return Err(Problem::bad_request("give the rows either as csv or as rows").with_field("csv")),
    };
    Ok((opts, rows))
}

/// Start an import.
///
/// Validates the file's shape, records an import job and answers 202 at once; the import runs on, and `GET` on the job's `Location` gives its progress, then its report. As JSON (`csv` text or `rows` objects) or as `multipart/form-data` with a `file`. Agent administrators only; modes, conflicts and report as `switchboard import` (docs/import.md).
#[utoipa::path(post, path = "/api/v1/imports", tag = "imports",
    request_body(content((ImportRequest = "application/json"), (ImportForm = "multipart/form-data"))),
    responses((status = 202, body = ImportJob)))]
async fn create_import(State(s): State<AppState>, Caller(p): Caller, req: Request) -> ApiResult<Response> {
    p.require_agent_admin()?;
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    let (opts, rows) = if multipart { from_multipart(req, &s).await? } else { from_json(req, &s).await? };
    let job = s.dir.create_import_job(&p, opts, rows.len()).await?;
    spawn_job(s.clone(), p, job.id, opts, rows);
    let mut resp = json(StatusCode::ACCEPTED, &job);
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/imports/{}", job.id)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

fn spawn_job(s: AppState, p: Principal, id: Id, opts: ImportOptions, rows: Vec<SourceRow>) {
    let tenant = p.tenant_id;
    let done = Arc::new(AtomicUsize::new(0));
    local_progress().lock().unwrap_or_else(|e| e.into_inner()).insert((tenant, id), done.clone());
    let d = done.clone();
    let ctl = ImportControl {
        progress: Arc::new(move |stage, n, _total| {
            if stage == "writing" {
                d.store(n, Ordering::Relaxed);
            }
        }),
        ..ImportControl::default()
    };
    // Records progress every second where the database can take it (always
    // on PostgreSQL; on SQLite the import holds the one writer meanwhile).
    let ticker = {
        let (s, done) = (s.clone(), done.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let u = ImportJobUpdate { processed: done.load(Ordering::Relaxed) as i64, now: s.dir.now(), ..Default::default() };
                let _ = tokio::time::timeout(Duration::from_millis(500), s.dir.store().update_import_job(tenant, id, u)).await;
            }
        })
    };
    tokio::spawn(async move {
        let result = s.dir.import(Some(&p), tenant, opts, rows, ctl).await;
        ticker.abort();
        if let Ok(r) = &result {
            crate::telemetry::count_import(r);
        }
        let mut u = ImportJobUpdate { processed: done.load(Ordering::Relaxed) as i64, now: s.dir.now(), ..Default::default() };
        match result.and_then(|r| serde_json::to_value(&r).map_err(|e| Error::Storage(e.to_string()))) {
            Ok(report) => {
                u.status = Some("done".into());
                u.report = Some(report);
            }
            Err(e) => {
                tracing::error!(job = id, error = %e, "import job failed");
                u.status = Some("failed".into());
                u.error = Some(e.to_string());
            }
        }
        if let Err(e) = s.dir.store().update_import_job(tenant, id, u).await {
            tracing::error!(job = id, error = %e, "could not record the end of an import job");
        }
        local_progress().lock().unwrap_or_else(|e| e.into_inner()).remove(&(tenant, id));
    });
}

/// Read an import job.
///
/// An import job: its progress while it runs, then its report (or its error).
#[utoipa::path(get, path = "/api/v1/imports/{id}", tag = "imports", params(("id" = Id, Path)),
    responses((status = 200, body = ImportJob)))]
async fn get_import(State(s): State<AppState>, Caller(p): Caller, Ids(id): Ids<Id>) -> ApiResult<Response> {
    let mut job = match s.dir.get_import_job(&p, id).await {
        Err(Error::NotFound { .. }) => return Err(Problem::new(StatusCode::NOT_FOUND, "not_found", format!("import job {id} not found"))),
        r => r?,
    };
    if job.status == "running" {
        if let Some(n) = local_progress().lock().unwrap_or_else(|e| e.into_inner()).get(&(p.tenant_id, id)) {
            job.processed = job.processed.max(n.load(Ordering::Relaxed) as i64);
        }
    }
    Ok(json(StatusCode::OK, &job))
}

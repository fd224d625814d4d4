//! Bulk import of a CSV file: the plan of a dry run first, then, on
//! confirmation, the import itself. Both run the domain operation behind
//! `POST /api/v1/imports` (`Directory::import`, same rows, modes and report)
//! within the request: a console upload is bounded by the 1 MiB body limit.
//!
//! The upload is a multipart form sent by htmx (which adds the CSRF header);
//! the confirmation carries the file's text back in a hidden field.

use super::ui::{self, Errs, Field, Input, Nav};
use super::{Console, FormData};
use crate::AppState;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use switchboard_bulk::Format;
use switchboard_domain::{Error, ImportControl, ImportKind, ImportMode, ImportOptions, ImportReport, OnConflict, RowAction};

pub fn routes() -> Router<AppState> {
    Router::new().route("/import", get(page).post(plan)).route("/import/apply", post(apply))
}

fn kinds() -> Vec<(String, String)> {
    ImportKind::ALL.into_iter().map(|k| (k.as_str().to_string(), k.as_str().replace('-', " "))).collect()
}

fn modes() -> Vec<(String, String)> {
    vec![("atomic".into(), "atomic: all rows or none".into()), ("best-effort".into(), "best effort: write the good rows".into())]
}

fn conflicts() -> Vec<(String, String)> {
    vec![
        ("fail".into(), "fail the row".into()),
        ("skip".into(), "skip the row".into()),
        ("update".into(), "update the existing object".into()),
    ]
}

async fn page(c: Console) -> Response {
    if !c.can_edit() {
        return ui::error_page(Some(&c), Error::Forbidden);
    }
    let none = Errs::none();
    let (k, m, o) = (kinds(), modes(), conflicts());
    let body = html! {
        p { "Upload a CSV file (header row first; columns as in " code { "docs/import.md" } "). "
            "You see what the import would do before anything is written." }
        form #import-form .stack method="post" action="/import" enctype="multipart/form-data"
            hx-post="/import" hx-encoding="multipart/form-data" hx-target="#import-plan" hx-swap="innerHTML" {
            (Field::new("import", "kind", "What the file holds", "agents").input(Input::Select(&k)).render(&none))
            (Field::new("import", "mode", "Mode", "atomic").input(Input::Select(&m)).render(&none))
            (Field::new("import", "onConflict", "When an object already exists", "fail").input(Input::Select(&o)).render(&none))
            div.field {
                label for="import-file" { "CSV file" }
                input #import-file type="file" name="file" accept=".csv,text/csv" required;
            }
            div.actions { button type="submit" { "Show the plan" } span.htmx-indicator aria-hidden="true" { "Checking…" } }
        }
        div #import-plan aria-live="polite" {}
    };
    ui::html_response(StatusCode::OK, ui::page(&c, Nav::Import, "Import", body))
}

struct Upload {
    opts: ImportOptions,
    csv: String,
}

fn parse_opts(kind: &str, mode: &str, on_conflict: &str) -> Result<ImportOptions, String> {
    Ok(ImportOptions {
        kind: ImportKind::parse(kind).ok_or("choose what the file holds")?,
        mode: ImportMode::parse(mode).ok_or("choose a mode")?,
        on_conflict: OnConflict::parse(on_conflict).ok_or("choose what happens to existing objects")?,
        dry_run: true,
    })
}

async fn read_upload(req: Request, s: &AppState) -> Result<Upload, String> {
    let mut mp = Multipart::from_request(req, s).await.map_err(|e| e.body_text())?;
    let (mut kind, mut mode, mut oc, mut csv) = (String::new(), String::new(), String::new(), None);
    while let Some(field) = mp.next_field().await.map_err(|e| e.body_text())? {
        let name = field.name().unwrap_or("").to_string();
        let data = field.bytes().await.map_err(|e| e.body_text())?;
        let text = String::from_utf8(data.to_vec()).map_err(|_| "the file must be UTF-8 text".to_string())?;
        match name.as_str() {
            "kind" => kind = text,
            "mode" => mode = text,
            "onConflict" => oc = text,
            "file" => csv = Some(text),
            _ => {}
        }
    }
    let opts = parse_opts(&kind, &mode, &oc)?;
    let csv = csv.filter(|c| !c.trim().is_empty()).ok_or("choose a CSV file")?;
    Ok(Upload { opts, csv })
}

/// Runs the import (dry or not) on the CSV text.
async fn run(s: &AppState, c: &Console, opts: ImportOptions, csv: &str) -> Result<ImportReport, String> {
    let rows = switchboard_bulk::read(opts.kind, Format::Csv, csv.as_bytes()).map_err(|e| e.to_string())?;
    let r = s.dir.import(Some(&c.p), c.p.tenant_id, opts, rows, ImportControl::default()).await.map_err(|e| ui::message_of(&e))?;
    crate::telemetry::count_import(&r);
    Ok(r)
}

async fn plan(State(s): State<AppState>, c: Console, req: Request) -> Response {
    if !c.can_edit() {
        return ui::error_page(Some(&c), Error::Forbidden);
    }
    let up = match read_upload(req, &s).await {
        Ok(u) => u,
        Err(e) => return (StatusCode::UNPROCESSABLE_ENTITY, html! { p.alert role="alert" { (e) } }).into_response(),
    };
    match run(&s, &c, up.opts, &up.csv).await {
        Ok(report) => html! {
            h2 { "Plan" }
            (summary(&report))
            @if report.failed == 0 || up.opts.mode == ImportMode::BestEffort {
                form method="post" action="/import/apply" {
                    (ui::csrf(&c))
                    input type="hidden" name="kind" value=(up.opts.kind.as_str());
                    input type="hidden" name="mode" value=(mode_str(up.opts.mode));
                    input type="hidden" name="onConflict" value=(conflict_str(up.opts.on_conflict));
                    input type="hidden" name="csv" value=(up.csv);
                    div.actions { button type="submit" { "Apply this import" } }
                }
            } @else {
                p { "Correct the file and upload it again: an atomic import writes nothing while a row fails." }
            }
        }
        .into_response(),
        Err(e) => (StatusCode::UNPROCESSABLE_ENTITY, html! { p.alert role="alert" { (e) } }).into_response(),
    }
}

fn mode_str(m: ImportMode) -> &'static str {
    match m {
        ImportMode::Atomic => "atomic",
        ImportMode::BestEffort => "best-effort",
    }
}

fn conflict_str(o: OnConflict) -> &'static str {
    match o {
        OnConflict::Skip => "skip",
        OnConflict::Update => "update",
        OnConflict::Fail => "fail",
    }
}

async fn apply(State(s): State<AppState>, c: Console, f: FormData) -> Response {
    let opts = match parse_opts(f.get("kind").unwrap_or(""), f.get("mode").unwrap_or(""), f.get("onConflict").unwrap_or("")) {
        Ok(o) => ImportOptions { dry_run: false, ..o },
        Err(e) => {
            return ui::html_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                ui::page(&c, Nav::Import, "Import", html! { p.alert role="alert" { (e) } }),
            )
        }
    };
    let csv = f.raw("csv").unwrap_or_default();
    let body = match run(&s, &c, opts, &csv).await {
        Ok(report) => html! { (summary(&report)) p { a href="/import" { "Import another file" } } },
        Err(e) => html! { p.alert role="alert" { (e) } p { a href="/import" { "Back to the import" } } },
    };
    ui::html_response(StatusCode::OK, ui::page(&c, Nav::Import, "Import result", body))
}

/// Counts, the outcome sentence, the changes (with their field diffs) and the errors.
fn summary(r: &ImportReport) -> Markup {
    let action = |a: RowAction| match a {
        RowAction::Create => "create",
        RowAction::Update => "update",
        RowAction::Unchanged => "unchanged",
        RowAction::Skip => "skip",
    };
    html! {
        p role="status" {
            (r.rows) " rows: " (r.created) " to create, " (r.updated) " to update, " (r.unchanged) " unchanged, "
            (r.skipped) " skipped, " (r.failed) " failing. " (r.outcome)
        }
        @if !r.errors.is_empty() {
            div.table-wrap { table {
                caption { "Rows with errors" }
                thead { tr { th scope="col" { "Row" } th scope="col" { "Key" } th scope="col" { "Column" } th scope="col" { "Error" } } }
                tbody { @for e in &r.errors { tr {
                    td { (e.row) } td { (e.key.as_deref().unwrap_or("")) } td { (e.column.as_deref().unwrap_or("")) } td { (e.message) }
                } } }
            } }
        }
        @if !r.changes.is_empty() {
            div.table-wrap { table {
                caption { @if r.dry_run { "What the import would do" } @else { "What the import did" } }
                thead { tr { th scope="col" { "Row" } th scope="col" { "Key" } th scope="col" { "Action" } th scope="col" { "Changes" } } }
                tbody { @for ch in r.changes.iter().take(500) { tr {
                    td { (ch.row) } td { (ch.key) } td { (action(ch.action)) }
                    td { @for d in &ch.diff { div { (d.column) ": " (d.from) " → " (d.to) } } }
                } } }
            } }
            @if r.changes.len() > 500 { p.help { "First 500 rows shown." } }
        }
    }
}

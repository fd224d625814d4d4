//! `switchboard import` and `switchboard export`: bulk files on the command
//! line (format in `docs/import.md`). The domain validates and the store
//! writes; this module reads and writes files, shows progress and turns
//! Ctrl-C into a clean stop.

use crate::db::{open, DbArgs};
use anyhow::{bail, Context, Result};
use clap::Args;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_bulk::Format;
use switchboard_domain::{Directory, ImportControl, ImportKind, ImportMode, ImportOptions, OnConflict};

fn parse_kind(s: &str) -> Result<ImportKind, String> {
    ImportKind::parse(s)
        .ok_or_else(|| format!("expected one of: {}", ImportKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")))
}

fn parse_mode(s: &str) -> Result<ImportMode, String> {
    ImportMode::parse(s).ok_or_else(|| "expected atomic or best-effort".into())
}

fn parse_on_conflict(s: &str) -> Result<OnConflict, String> {
    OnConflict::parse(s).ok_or_else(|| "expected skip, update or fail".into())
}

fn parse_format(s: &str) -> Result<Format, String> {
    Format::parse(s).ok_or_else(|| "expected csv or json".into())
}

#[derive(Args)]
pub struct ImportArgs {
    /// agents, skills, call-centers, services, groups, phones, dids, campaigns or assignments.
    #[arg(value_parser = parse_kind)]
    kind: ImportKind,
    /// A .csv or .json file (see docs/import.md for the columns).
    file: PathBuf,
    /// Tenant name (may be left out when the database holds one tenant).
    #[arg(long)]
    tenant: Option<String>,
    /// Validate every row and print the plan; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// atomic: all rows or none; best-effort: the good rows, the bad ones reported.
    #[arg(long, value_parser = parse_mode, default_value = "atomic")]
    mode: ImportMode,
    /// What to do with a row whose object exists: skip, update or fail.
    #[arg(long, value_parser = parse_on_conflict, default_value = "fail")]
    on_conflict: OnConflict,
    /// The file's format, when its extension does not say (csv or json).
    #[arg(long, value_parser = parse_format)]
    format: Option<Format>,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Args)]
pub struct ExportArgs {
    /// agents, skills, call-centers, services, groups, phones, dids, campaigns or assignments.
    #[arg(value_parser = parse_kind)]
    kind: ImportKind,
    #[arg(long, value_parser = parse_format, default_value = "csv")]
    format: Format,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Tenant name (may be left out when the database holds one tenant).
    #[arg(long)]
    tenant: Option<String>,
    #[command(flatten)]
    db: DbArgs,
}

async fn tenant_id(dir: &Directory, name: Option<&str>) -> Result<i64> {
    if let Some(n) = name {
        return Ok(dir.store().find_tenant_by_name(n).await.with_context(|| format!("tenant {n}"))?.id);
    }
    let all = dir.store().list_tenants().await?;
    match all.as_slice() {
        [only] => Ok(only.id),
        [] => bail!("the database has no tenant (admin create-tenant makes one)"),
        _ => bail!("the database has several tenants: name one with --tenant"),
    }
}

/// A file next to `input`: `agents.csv` → `agents.<suffix>`.
fn beside(input: &Path, suffix: &str) -> PathBuf {
    let stem = input.file_stem().and_then(|s| s.to_str()).unwrap_or("import");
    input.with_file_name(format!("{stem}.{suffix}"))
}

/// Progress on a terminal (a bar with rows/s and ETA) or as log lines.
fn progress() -> Arc<dyn Fn(&'static str, usize, usize) + Send + Sync> {
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg:8} [{bar:40.cyan/blue}] {pos}/{len} rows  {per_sec}  ETA {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Arc::new(move |stage, done, total| {
            if bar.length() != Some(total as u64) || bar.message() != stage {
                bar.set_message(stage);
                bar.set_length(total as u64);
                bar.reset_elapsed();
                bar.reset_eta();
            }
            bar.set_position(done as u64);
            if done >= total {
                bar.finish();
            }
        })
    } else {
        let state: Mutex<(Instant, Instant, &'static str)> = Mutex::new((Instant::now(), Instant::now(), ""));
        Arc::new(move |stage, done, total| {
            let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
            if s.2 != stage {
                *s = (Instant::now(), Instant::now(), stage);
            }
            if s.1.elapsed() >= Duration::from_secs(2) || done >= total {
                let secs = s.0.elapsed().as_secs_f64().max(0.001);
                eprintln!("import: {stage} {done}/{total} rows ({:.0} rows/s)", done as f64 / secs);
                s.1 = Instant::now();
            }
        })
    }
}

/// A file this command writes (import report, rejected rows, export): they
/// hold directory data (an export of agents carries password hashes), so
/// only this user may read them, like the database itself. An existing file
/// is truncated and made private too.
fn private_file(path: &Path) -> Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let f = o.open(path).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600)).with_context(|| format!("making {} private", path.display()))?;
    }
    Ok(f)
}

pub async fn import(a: ImportArgs) -> Result<i32> {
    let format = match a.format.or_else(|| Format::of_path(&a.file)) {
        Some(f) => f,
        None => bail!("cannot tell the format of {}: use a .csv or .json file, or --format", a.file.display()),
    };
    let data = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let rows = switchboard_bulk::read(a.kind, format, &data).map_err(|e| anyhow::anyhow!("{}: {e}", a.file.display()))?;
    drop(data);
    let dir = open(&a.db, a.db.options()).await?;
    let tenant = tenant_id(&dir, a.tenant.as_deref()).await?;
    let ctl = ImportControl { progress: progress(), ..ImportControl::default() };
    let cancel = ctl.cancel.clone();
    let mode = a.mode;
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.store(true, Ordering::Relaxed);
            match mode {
                ImportMode::Atomic => eprintln!("\ninterrupted: rolling back; the database stays as it was (Ctrl-C again to quit at once)"),
                ImportMode::BestEffort => eprintln!("\ninterrupted: stopping after the current row (Ctrl-C again to quit at once)"),
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let opts = ImportOptions { kind: a.kind, mode: a.mode, on_conflict: a.on_conflict, dry_run: a.dry_run };
    let report = dir.import(None, tenant, opts, rows, ctl).await?;
    let json = serde_json::to_string_pretty(&report)?;
    let report_path = beside(&a.file, "report.json");
    std::io::Write::write_all(&mut private_file(&report_path)?, json.as_bytes())
        .with_context(|| format!("writing {}", report_path.display()))?;
    let errors_path = beside(&a.file, "errors.csv");
    if !report.errors.is_empty() {
        // The failed rows come from the file again (it was read before, so it parses).
        let data = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
        let rows = switchboard_bulk::read(a.kind, format, &data).map_err(|e| anyhow::anyhow!("{}: {e}", a.file.display()))?;
        let f = private_file(&errors_path)?;
        switchboard_bulk::write_errors(a.kind, &rows, &report.errors, f)?;
    }
    crate::print_out(&json)?;
    let verb = if report.dry_run { "would be " } else { "" };
    eprintln!(
        "{} rows: {} {verb}created, {} {verb}updated, {} unchanged, {} skipped, {} failed. {}.",
        report.rows, report.created, report.updated, report.unchanged, report.skipped, report.failed, report.outcome
    );
    eprintln!("report: {}", report_path.display());
    if !report.errors.is_empty() {
        eprintln!("errors: {} (fix the rows and import that file again)", errors_path.display());
    }
    Ok(if report.failed > 0 || report.interrupted { 1 } else { 0 })
}

pub async fn export(a: ExportArgs) -> Result<()> {
    let dir = open(&a.db, a.db.options()).await?;
    let tenant = tenant_id(&dir, a.tenant.as_deref()).await?;
    let rows = dir.export(None, tenant, a.kind).await?;
    match &a.output {
        Some(p) => {
            let f = private_file(p)?;
            switchboard_bulk::write(a.kind, a.format, &rows, std::io::BufWriter::new(f))?;
            eprintln!("exported {} {} to {}", rows.len(), a.kind.as_str(), p.display());
        }
        None => switchboard_bulk::write(a.kind, a.format, &rows, std::io::stdout().lock())?,
    }
    Ok(())
}

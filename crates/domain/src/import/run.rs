//! The operations: validate every row, hash passwords on every core, one
//! store call; and export.

use super::*;
use crate::error::{Entity, Error, Result};
use crate::model::*;
use crate::ops::Directory;
use crate::secret::{self, blocking, PasswordPolicy};
use crate::store::{Named, WriteCtx};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

/// Validates every row; returns the good ones (with plaintext passwords
/// still to hash) and the errors. Keys repeated within the file are errors.
pub(super) fn validate_rows(kind: ImportKind, rows: &[SourceRow]) -> (Vec<(ImportRow, Option<String>)>, Vec<RowError>) {
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
pub(super) fn hash_all(jobs: Vec<(usize, String, Vec<String>)>, ctl: &ImportControl) -> Vec<(usize, Result<String>)> {
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

pub(super) fn outcome_sentence(o: &ImportOptions, run: &ImportRun, failed: usize) -> String {
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
    pub async fn import(
        &self,
        p: Option<&Principal>,
        tenant: Id,
        opts: ImportOptions,
        rows: Vec<SourceRow>,
        ctl: ImportControl,
    ) -> Result<ImportReport> {
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
pub(super) const DRY_RUN_HASH: &str = "(dry run)";

pub(super) fn report(opts: ImportOptions, total: usize, run: ImportRun, mut errors: Vec<RowError>) -> ImportReport {
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

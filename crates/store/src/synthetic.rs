//! Synthetic data for benchmarks (`bench/`): N tenants, each with agents,
//! skills, call centers, services and groups, and realistic assignments
//! (1–3 skills with a proficiency, one service, 1–2 groups per agent).
//!
//! Bulk rows are written with set-based SQL — one `INSERT … SELECT` over a
//! number series per table and batch (a recursive CTE on SQLite,
//! `generate_series` on PostgreSQL) — so that a million agents load in
//! minutes, not the hours the HTTP API would take. Everything stays as the
//! store itself would leave it:
//!
//! - each tenant, its Sysadmin user and its API key are made by the normal
//!   [`Store::create_tenant`] (argon2id password, SHA-256 key, audit events);
//! - agents go through the same table, triggers and indexes (SQLite: the FTS5
//!   trigram index is filled by its triggers; PostgreSQL: the non-unique
//!   indexes on `agents` are dropped for the load and rebuilt from their own
//!   definitions, which is what a bulk load into PostgreSQL should do);
//! - `list_marks` are stamped for agents and skills; agents get no password
//!   (so no password history); bulk rows get no audit events (as a restore
//!   would not).
//!
//! Values are deterministic functions of the row number: names come from
//! fixed lists through a multiplicative hash, so each of the 1,000 last names
//! (see [`last_names`]) is shared by about 1 agent in 1,000.

use std::str::FromStr;
use std::time::Instant;

use serde::Serialize;
use sqlx::{ConnectOptions as _, Connection as _};
use switchboard_domain::{secret, Actor, Error, Id, NewApiKey, NewTenant, NewUser, Power, Result, Role, TenantSettings};

use crate::{db_err, StoreOptions};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// Tenants to create; their names are `<name_prefix>-<n>`, n from 1.
    pub tenants: u32,
    /// Agents of each tenant.
    pub agents_per_tenant: u64,
    /// Catalog of each tenant (each at least 3, 1, 1 and 2).
    pub skills: u32,
    pub call_centers: u32,
    pub services: u32,
    pub groups: u32,
    pub name_prefix: String,
    /// Agents written per transaction.
    pub batch: u64,
    /// `created_at`/`updated_at` of the rows (ms since the epoch).
    pub now: i64,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            tenants: 1,
            agents_per_tenant: 1_000,
            skills: 50,
            call_centers: 5,
            services: 20,
            groups: 30,
            name_prefix: "bench".into(),
            batch: 100_000,
            now: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0),
        }
    }
}

/// Ids are consecutive within each kind and tenant: `first..first+count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdRange {
    pub first: Id,
    pub count: i64,
}

impl IdRange {
    pub fn last(&self) -> Id {
        self.first + self.count - 1
    }
}

/// One generated tenant and how to act as its administrator.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantReport {
    pub tenant_id: Id,
    pub name: String,
    pub client_id: i64,
    pub user_id: Id,
    pub username: String,
    pub password: String,
    pub api_key: String,
    pub agents: IdRange,
    pub skills: IdRange,
    pub call_centers: IdRange,
    pub services: IdRange,
    pub groups: IdRange,
    pub agent_skills: i64,
    pub agent_services: i64,
    pub agent_groups: i64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub backend: &'static str,
    pub tenants: Vec<TenantReport>,
    pub seconds: f64,
    /// The last names agents are given (about one agent in 1,000 each).
    pub last_names: Vec<String>,
}

const FIRST_NAMES: [&str; 64] = [
    "Aaron", "Abigail", "Adam", "Aisha", "Alan", "Alice", "Amir", "Ana", "Andrew", "Anna", "Ben", "Bianca", "Carlos", "Carmen", "Chen",
    "Chloe", "Daniel", "Diana", "David", "Elena", "Emma", "Ethan", "Fatima", "Felix", "Grace", "Hana", "Henry", "Ines", "Isaac", "Ivy",
    "Jack", "Jana", "John", "Julia", "Kai", "Karen", "Leo", "Lina", "Lucas", "Maria", "Mark", "Maya", "Mohamed", "Nadia", "Noah", "Nora",
    "Omar", "Olivia", "Paul", "Priya", "Quinn", "Rosa", "Ryan", "Sara", "Sean", "Sofia", "Tariq", "Tess", "Umar", "Vera", "Victor", "Wei",
    "Yusuf", "Zoe",
];
const LAST_PREFIXES: [&str; 40] = [
    "Abb", "Ash", "Bar", "Bell", "Brad", "Brook", "Cal", "Carl", "Chad", "Clay", "Cran", "Dal", "Dun", "East", "Ell", "Fair", "Fern",
    "Gold", "Graf", "Hal", "Hart", "Hol", "Kent", "King", "Lang", "Lind", "Marsh", "Mill", "Nor", "Oak", "Pen", "Rad", "Rich", "Rock",
    "Stan", "Sum", "Thorn", "Wal", "West", "Wood",
];
const LAST_SUFFIXES: [&str; 25] = [
    "ton", "ley", "ford", "field", "man", "son", "well", "wood", "worth", "by", "den", "ham", "more", "stead", "ridge", "brook", "ings",
    "ett", "ard", "ock", "hurst", "combe", "wick", "shaw", "ner",
];

/// Every last name the generator gives, in index order.
pub fn last_names() -> Vec<String> {
    (0..LAST_PREFIXES.len() * LAST_SUFFIXES.len()).map(|i| format!("{}{}", LAST_PREFIXES[i % 40], LAST_SUFFIXES[i / 40])).collect()
}

/// The SQL differences between the engines that the generator meets.
#[derive(Clone, Copy)]
struct Dialect {
    pg: bool,
}

impl Dialect {
    /// A CTE `n(x)` of the integers lo..=hi (64-bit), for `WITH {..} INSERT …`.
    fn series(self, lo: u64, hi: u64) -> String {
        if self.pg {
            format!("n(x) AS (SELECT generate_series({lo}::bigint, {hi}::bigint))")
        } else {
            format!("RECURSIVE n(x) AS (SELECT {lo} UNION ALL SELECT x + 1 FROM n WHERE x < {hi})")
        }
    }

    fn pad7(self, e: &str) -> String {
        if self.pg {
            format!("lpad(({e})::text, 7, '0')")
        } else {
            format!("printf('%07d', {e})")
        }
    }
}

/// `list[idx]` in SQL: the names packed at a fixed width, cut out by offset.
fn pick(list: &[&str], idx: &str) -> String {
    let w = list.iter().map(|s| s.len()).max().unwrap_or(1);
    let packed: String = list.iter().map(|s| format!("{s:<w$}")).collect();
    format!("rtrim(substr('{packed}', CAST(({idx}) * {w} + 1 AS INTEGER), {w}))")
}

/// A connection to either engine, running generated SQL.
enum Conn {
    Sqlite(sqlx::SqliteConnection),
    Pg(sqlx::PgConnection),
}

impl Conn {
    async fn exec(&mut self, sql: &str) -> Result<u64> {
        match self {
            Conn::Sqlite(c) => sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).execute(c).await.map(|r| r.rows_affected()),
            Conn::Pg(c) => sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).execute(c).await.map(|r| r.rows_affected()),
        }
        .map_err(db_err)
    }

    /// `SELECT min(id), count(*) …` of one kind and tenant, as a checked range.
    async fn range(&mut self, table: &str, tenant: Id) -> Result<IdRange> {
        let sql = format!("SELECT COALESCE(min(id), 0), COALESCE(max(id), 0), count(*) FROM {table} WHERE tenant_id = {tenant}");
        let (min, max, count) = match self {
            Conn::Sqlite(c) => sqlx::query_as::<_, (i64, i64, i64)>(sqlx::AssertSqlSafe(sql)).fetch_one(c).await,
            Conn::Pg(c) => sqlx::query_as::<_, (i64, i64, i64)>(sqlx::AssertSqlSafe(sql)).fetch_one(c).await,
        }
        .map_err(db_err)?;
        if count > 0 && max - min + 1 != count {
            return Err(Error::Storage(format!("{table} of tenant {tenant} are not consecutive ids (another writer?)")));
        }
        Ok(IdRange { first: min, count })
    }

    async fn count(&mut self, sql: &str) -> Result<i64> {
        match self {
            Conn::Sqlite(c) => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(c).await,
            Conn::Pg(c) => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(c).await,
        }
        .map_err(db_err)
    }

    async fn rows(&mut self, sql: &str) -> Result<Vec<(String, String)>> {
        match self {
            Conn::Sqlite(c) => sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql.to_string())).fetch_all(c).await,
            Conn::Pg(c) => sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql.to_string())).fetch_all(c).await,
        }
        .map_err(db_err)
    }

    async fn begin(&mut self) -> Result<()> {
        self.exec(if matches!(self, Conn::Sqlite(_)) { "BEGIN IMMEDIATE" } else { "BEGIN" }).await.map(|_| ())
    }

    /// As every store write ends: on SQLite, the search index takes in the
    /// agents queued for it (migration 0006) first.
    async fn commit(&mut self) -> Result<()> {
        if let Conn::Sqlite(c) = self {
            crate::sqlite::before_commit(c).await?;
        }
        self.exec("COMMIT").await.map(|_| ())
    }
}

/// Creates `spec.tenants` tenants with their data in the database at `url`
/// (applying migrations first, as every open does).
pub async fn load_synthetic(url: &str, opts: &StoreOptions, spec: &Spec) -> Result<Report> {
    let started = Instant::now();
    if spec.tenants == 0 || spec.skills < 3 || spec.call_centers < 1 || spec.services < 1 || spec.groups < 2 || spec.batch == 0 {
        return Err(Error::Storage("synthetic spec: at least 1 tenant, 3 skills, 1 call center, 1 service, 2 groups, batch > 0".into()));
    }
    let url = url.trim();
    let pg = url.starts_with("postgres://") || url.starts_with("postgresql://");
    let store = crate::open(url, opts).await?;
    let mut conn = if pg {
        let mut o = sqlx::postgres::PgConnectOptions::from_str(url).map_err(|e| Error::Storage(format!("invalid PostgreSQL URL: {e}")))?;
        let mut settings = vec![("synchronous_commit", "off".to_string()), ("maintenance_work_mem", "512MB".to_string())];
        if let Some(schema) = &opts.pg_schema {
            settings.push(("search_path", schema.clone()));
        }
        o = o
            .options(settings)
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Off, std::time::Duration::from_secs(3600));
        Conn::Pg(o.connect().await.map_err(db_err)?)
    } else {
        let base = if url.starts_with("sqlite:") {
            sqlx::sqlite::SqliteConnectOptions::from_str(url).map_err(|e| Error::Storage(format!("invalid SQLite URL: {e}")))?
        } else {
            sqlx::sqlite::SqliteConnectOptions::new().filename(url)
        };
        let o = base
            .foreign_keys(true)
            .busy_timeout(opts.busy_timeout)
            // A load that dies half-way is started again; no need to sync each batch.
            .synchronous(sqlx::sqlite::SqliteSynchronous::Off)
            .pragma("cache_size", "-262144")
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Off, std::time::Duration::from_secs(3600));
        Conn::Sqlite(o.connect().await.map_err(db_err)?)
    };
    let d = Dialect { pg };
    let big = u64::from(spec.tenants) * spec.agents_per_tenant >= 50_000;
    // PostgreSQL: rebuilding the non-unique indexes of agents after a large
    // load is several times faster than maintaining them row by row.
    let mut dropped = Vec::new();
    if pg && big {
        dropped = conn
            .rows(
                "SELECT c.relname::text, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                 WHERE i.indrelid = 'agents'::regclass AND NOT i.indisunique AND NOT i.indisprimary",
            )
            .await?;
        for (name, _) in &dropped {
            conn.exec(&format!("DROP INDEX IF EXISTS {name}")).await?;
        }
    }
    let mut tenants = Vec::new();
    let loaded = load_tenants(&*store, &mut conn, d, spec, &mut tenants).await;
    for (_, def) in &dropped {
        conn.exec(def).await?;
    }
    loaded?;
    if !pg && big {
        // As after a large `switchboard import` (`after_bulk_agent_load`):
        // one FTS5 segment instead of the many small ones a bulk load leaves.
        conn.exec(crate::sqlite::OPTIMIZE_AGENT_SEARCH_SQL).await?;
    }
    if pg {
        for t in ["agents", "agent_skills", "agent_services", "agent_groups", "skills", "services", "agent_group_defs", "call_centers"] {
            // What autovacuum would soon do: statistics, and the visibility
            // map that index-only scans need.
            conn.exec(&format!("VACUUM ANALYZE {t}")).await?;
        }
    }
    match conn {
        Conn::Sqlite(c) => c.close().await.map_err(db_err)?,
        Conn::Pg(c) => c.close().await.map_err(db_err)?,
    }
    Ok(Report {
        backend: if pg { "postgres" } else { "sqlite" },
        tenants,
        seconds: started.elapsed().as_secs_f64(),
        last_names: last_names(),
    })
}

async fn load_tenants(
    store: &dyn switchboard_domain::Store,
    conn: &mut Conn,
    d: Dialect,
    spec: &Spec,
    out: &mut Vec<TenantReport>,
) -> Result<()> {
    let now = spec.now;
    for n in 1..=spec.tenants {
        let name = format!("{}-{n}", spec.name_prefix);
        let password = secret::generate_password();
        let api_key = secret::generate_api_key();
        let pw = password.clone();
        let admin = NewUser {
            username: "admin".into(),
            password_hash: secret::blocking(move || secret::hash_password(&pw)).await,
            role: Role::Sysadmin,
            powers: vec![Power::AdministerAgents],
        };
        let key = NewApiKey {
            name: "bench".into(),
            scope: Default::default(),
            prefix: secret::api_key_prefix(&api_key),
            hash: secret::hash_api_key(&api_key),
        };
        let t = NewTenant { name: name.clone(), client_id: None, settings: TenantSettings::default() };
        let (tenant, user) = store.create_tenant(t, admin, key, Actor::cli(), now).await?;
        let tid = tenant.id;

        // The catalog.
        conn.begin().await?;
        let catalog = [
            ("skills", spec.skills, "name, description", "'Skill ' || x, 'Synthetic skill ' || x".to_string()),
            ("call_centers", spec.call_centers, "name", "'Center ' || x".to_string()),
            ("agent_group_defs", spec.groups, "name", "'Group ' || x".to_string()),
        ];
        for (table, count, cols, values) in catalog {
            conn.exec(&format!(
                "WITH {} INSERT INTO {table} (tenant_id, {cols}, created_at, updated_at, version) SELECT {tid}, {values}, {now}, {now}, 1 FROM n",
                d.series(1, u64::from(count))
            ))
            .await?;
        }
        let skills = conn.range("skills", tid).await?;
        let centers = conn.range("call_centers", tid).await?;
        let groups = conn.range("agent_group_defs", tid).await?;
        conn.exec(&format!(
            "WITH {} INSERT INTO services (tenant_id, name, call_center_id, acd, created_at, updated_at, version) \
             SELECT {tid}, 'Service ' || x, {} + x % {}, TRUE, {now}, {now}, 1 FROM n",
            d.series(1, u64::from(spec.services)),
            centers.first,
            centers.count
        ))
        .await?;
        let services = conn.range("services", tid).await?;
        for entity in ["agent", "skill"] {
            conn.exec(&format!(
                "INSERT INTO list_marks (tenant_id, entity, modified_at) VALUES ({tid}, '{entity}', {now}) \
                 ON CONFLICT (tenant_id, entity, shard) DO UPDATE SET modified_at = excluded.modified_at"
            ))
            .await?;
        }
        conn.commit().await?;

        // Agents and their assignments, a batch per transaction.
        let first_name = pick(&FIRST_NAMES, "(h / 1000) % 64");
        let last_name = format!("{} || {}", pick(&LAST_PREFIXES, "(h % 1000) % 40"), pick(&LAST_SUFFIXES, "(h % 1000) / 40"));
        let mut lo = 1;
        while lo <= spec.agents_per_tenant {
            let hi = (lo + spec.batch - 1).min(spec.agents_per_tenant);
            conn.begin().await?;
            let before: i64 = conn.count(&format!("SELECT COALESCE(max(id), 0) FROM agents WHERE tenant_id = {tid}")).await?;
            let login = format!("'AG' || {}", d.pad7("x"));
            conn.exec(&format!(
                "WITH {series}, m(x, h) AS (SELECT x, (x * 2654435761) % 1000003 FROM n) \
                 INSERT INTO agents (tenant_id, login_id, first_name, last_name, display_name, email, phone, wrap_up_time, \
                   home_agent, active, locked, failed_logins, attributes, created_at, updated_at, version) \
                 SELECT {tid}, {login}, {first_name}, {last_name}, NULL, lower({login}) || '@t{tid}.example.com', '555' || {phone}, \
                   (x % 7) * 10, (x % 10 = 0), (x % 20 <> 0), FALSE, 0, '{{}}', {now}, {now}, 1 FROM m",
                series = d.series(lo, hi),
                phone = d.pad7("x"),
            ))
            .await?;
            let agents = format!("FROM agents a WHERE a.tenant_id = {tid} AND a.id > {before}");
            // 1–3 distinct skills (proficiency 1–5), one service, 1–2 groups.
            let step = (skills.count / 3).max(1);
            conn.exec(&format!(
                "INSERT INTO agent_skills (agent_id, skill_id, proficiency) \
                 SELECT a.id, {} + (a.id * 7 + k.k * {step}) % {}, 1 + (a.id * 31 + k.k) % 5 \
                 {agents} AND k.k <= a.id % 3 ORDER BY 1, 2",
                skills.first,
                skills.count,
                agents = agents.replacen(
                    "FROM agents a",
                    "FROM agents a JOIN (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2) k ON TRUE",
                    1
                ),
            ))
            .await?;
            conn.exec(&format!(
                "INSERT INTO agent_services (agent_id, service_id) SELECT a.id, {} + (a.id * 13) % {} {agents}",
                services.first, services.count
            ))
            .await?;
            let gstep = (groups.count / 2).max(1);
            conn.exec(&format!(
                "INSERT INTO agent_groups (agent_id, group_id, receive_call) \
                 SELECT a.id, {} + (a.id * 11 + k.k * {gstep}) % {}, (a.id % 3 <> 0) {agents} ORDER BY 1, 2",
                groups.first,
                groups.count,
                agents = agents.replacen("FROM agents a", "FROM agents a JOIN (SELECT 0 AS k UNION ALL SELECT 1) k ON k.k <= a.id % 2", 1),
            ))
            .await?;
            conn.commit().await?;
            tracing::info!(tenant = tid, agents = hi, "synthetic agents loaded");
            lo = hi + 1;
        }
        let agents = conn.range("agents", tid).await?;
        let within = format!("IN (SELECT id FROM agents WHERE tenant_id = {tid})");
        let agent_skills = conn.count(&format!("SELECT count(*) FROM agent_skills WHERE agent_id {within}")).await?;
        let agent_services = conn.count(&format!("SELECT count(*) FROM agent_services WHERE agent_id {within}")).await?;
        let agent_groups = conn.count(&format!("SELECT count(*) FROM agent_groups WHERE agent_id {within}")).await?;
        out.push(TenantReport {
            tenant_id: tid,
            name,
            client_id: tenant.client_id,
            user_id: user.id,
            username: user.username,
            password,
            api_key,
            agents,
            skills,
            call_centers: centers,
            services,
            groups,
            agent_skills,
            agent_services,
            agent_groups,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_names_are_distinct() {
        let names = last_names();
        let set: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!((names.len(), set.len()), (1000, 1000));
    }

    #[test]
    fn pick_cuts_fixed_width_fields() {
        assert!(pick(&["Ann", "Bob"], "x").contains("'AnnBob'"));
    }
}

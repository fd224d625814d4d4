//! The database flags every command shares, and opening the store they name.

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use switchboard_domain::{Directory, SystemClock};
use switchboard_store::StoreOptions;

#[derive(Args, Clone, Serialize)]
pub struct DbArgs {
    /// SQLite file path or URL (sqlite:…); postgres://… for PostgreSQL
    /// (TLS: ?sslmode=require, verify-ca or verify-full).
    #[arg(long, env = "SWITCHBOARD_DATABASE_URL", default_value = "./switchboard.db")]
    pub database_url: String,
    /// PostgreSQL: the CA certificate(s) (PEM) that sign the server's
    /// certificate, for sslmode=verify-ca/verify-full (like `sslrootcert=`
    /// in the URL). Without it, the public web CAs built into the binary.
    #[arg(long, env = "SWITCHBOARD_DB_CA_FILE")]
    pub db_ca_file: Option<PathBuf>,
    /// PostgreSQL: use (and create) this schema instead of `public`.
    #[arg(long, env = "SWITCHBOARD_DB_SCHEMA")]
    pub db_schema: Option<String>,
    /// PostgreSQL: connections in the pool. More than the database server's
    /// cores can use only queue inside it (on 2 cores, 8 instead of 16 kept
    /// reads' throughput and halved their p99).
    #[arg(long, env = "SWITCHBOARD_DB_MAX_CONNECTIONS", default_value_t = 8)]
    pub db_max_connections: u32,
    /// PostgreSQL: cancel statements running longer than this many seconds.
    #[arg(long, env = "SWITCHBOARD_DB_STATEMENT_TIMEOUT_SECS", default_value_t = 30)]
    pub db_statement_timeout_secs: u64,
    /// Do not apply pending migrations at start (run `admin migrate` once instead).
    #[arg(long, env = "SWITCHBOARD_DB_NO_MIGRATE")]
    pub db_no_migrate: bool,
    /// PostgreSQL: migrate without the advisory lock (for poolers without session locks).
    #[arg(long, env = "SWITCHBOARD_DB_NO_MIGRATION_LOCK")]
    pub db_no_migration_lock: bool,
}

impl DbArgs {
    /// For commands that work on an existing database: a missing SQLite file
    /// is an error, not a new empty database.
    pub fn options(&self) -> StoreOptions {
        StoreOptions {
            create: false,
            pg_schema: self.db_schema.clone(),
            pg_ca_file: self.db_ca_file.clone(),
            max_connections: self.db_max_connections,
            statement_timeout: std::time::Duration::from_secs(self.db_statement_timeout_secs),
            migrate: !self.db_no_migrate,
            migration_lock: !self.db_no_migration_lock,
            ..StoreOptions::default()
        }
    }

    /// For the commands that may start a database (`serve`, `admin migrate`,
    /// `admin create-tenant`).
    pub fn creating_options(&self) -> StoreOptions {
        StoreOptions { create: true, ..self.options() }
    }

    pub fn is_postgres(&self) -> bool {
        switchboard_store::is_postgres_url(&self.database_url)
    }
}

/// A database URL fit for logs: any password replaced.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            let password = userinfo.contains(':');
            format!("{}{user}{}{}", &url[..scheme + 3], if password { ":***" } else { "" }, &url[at..])
        }
        _ => url.to_string(),
    }
}

/// Opens the database `db` names; a failure says which database (redacted).
pub async fn open(db: &DbArgs, opts: StoreOptions) -> Result<Directory> {
    let store =
        switchboard_store::open(&db.database_url, &opts).await.with_context(|| format!("opening database {}", redact(&db.database_url)))?;
    Ok(Directory::new(store, Arc::new(SystemClock)))
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_shown() {
        assert_eq!(redact("postgres://sb:s3cret@db:5432/sb?sslmode=require"), "postgres://sb:***@db:5432/sb?sslmode=require");
        assert_eq!(redact("rediss://:pw@cache:6380"), "rediss://:***@cache:6380");
        assert_eq!(redact("postgres://sb@db/sb"), "postgres://sb@db/sb");
        assert_eq!(redact("./switchboard.db"), "./switchboard.db");
    }
}

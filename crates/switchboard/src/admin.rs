//! `switchboard admin …`: operator commands that work directly on the
//! database (also while `serve` runs on it).

use crate::db::{open, DbArgs};
use anyhow::{bail, Result};
use clap::Subcommand;
use serde_json::json;
use std::path::PathBuf;
use switchboard_domain::{PageRequest, Power, Role};

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create a tenant with its first Sysadmin user and API key; prints them once.
    CreateTenant {
        #[arg(long)]
        name: String,
        /// The LiveVox clientId (default: the tenant's id).
        #[arg(long)]
        client_id: Option<i64>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Create a user with a generated password and an API key; prints them once.
    CreateUser {
        /// Tenant name.
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        username: String,
        /// sysadmin, it_user, superuser, manager or agent.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Repeatable; e.g. administer_agents.
        #[arg(long = "power", value_parser = parse_power)]
        powers: Vec<Power>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Print a tenant's users as a JSON array.
    ListUsers {
        /// Tenant name.
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Give a user a new generated password; prints it once.
    ResetPassword {
        /// Tenant name.
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        username: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Issue another API key for a user; prints it once.
    CreateApiKey {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        username: String,
        /// A label for the key.
        #[arg(long, default_value = "cli")]
        name: String,
        /// What the key serves: `api` (the native API and the vendor
        /// dialects) or `scim` (`/scim/v2` only, for an identity provider).
        #[arg(long, default_value = "api", value_parser = ["api", "scim"])]
        scope: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke an API key, named by its id or by its prefix (as listed by the
    /// API's /api/v1/api-keys and shown in the console).
    RevokeApiKey {
        /// Tenant name.
        #[arg(long)]
        tenant: String,
        /// The key's id or prefix (the first characters of the key).
        key: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Change one of a tenant's settings (as `PATCH /api/v1/tenant`'s
    /// `settings` does), e.g. `set-setting --tenant acme scimDeleteMode delete`;
    /// prints the tenant's settings.
    SetSetting {
        /// Tenant name.
        #[arg(long)]
        tenant: String,
        /// The setting's name (scimDeleteMode, agentLockoutThreshold, …).
        name: String,
        /// Its value: JSON (5, true, {"…": 1}), or else taken as text (delete).
        value: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Print all tenants as a JSON array.
    ListTenants {
        #[command(flatten)]
        db: DbArgs,
    },
    /// SQLite: write a consistent copy of the database to FILE while it is
    /// in use (VACUUM INTO; FILE must not exist). PostgreSQL: use pg_dump.
    Backup {
        /// The copy to write (created 0600).
        file: PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "expected one of: sysadmin, it_user, superuser, manager, agent".into())
}

fn parse_power(s: &str) -> Result<Power, String> {
    Power::parse(s).ok_or_else(|| "expected: administer_agents".into())
}

pub async fn admin(cmd: AdminCommand) -> Result<()> {
    let out = match cmd {
        AdminCommand::CreateTenant { name, client_id, db } => {
            let dir = open(&db, db.creating_options()).await?;
            let issued = dir.create_tenant(&name, client_id).await?;
            let (t, u) = issued.value;
            json!({
                "tenantId": t.id,
                "tenantName": t.name,
                "clientId": t.client_id,
                "userId": u.id,
                "username": u.username,
                "password": issued.password,
                "apiKey": issued.api_key,
            })
        }
        AdminCommand::CreateUser { tenant, username, role, powers, db } => {
            let dir = open(&db, db.options()).await?;
            let t = dir.store().find_tenant_by_name(&tenant).await?;
            let issued = dir.create_user(None, t.id, &username, role, powers, None, true).await?;
            json!({
                "userId": issued.value.id,
                "username": issued.value.username,
                "password": issued.password,
                "apiKey": issued.api_key,
            })
        }
        AdminCommand::ListUsers { tenant, db } => {
            let dir = open(&db, db.options()).await?;
            let t = dir.store().find_tenant_by_name(&tenant).await?;
            let mut users = Vec::new();
            let mut page = PageRequest::first(500);
            loop {
                let p = dir.store().list_users(t.id, page).await?;
                page.after = p.items.last().map_or(page.after, |u| u.id);
                users.extend(p.items);
                if !p.has_more {
                    break;
                }
            }
            serde_json::to_value(users)?
        }
        AdminCommand::ResetPassword { tenant, username, db } => {
            let dir = open(&db, db.options()).await?;
            let t = dir.store().find_tenant_by_name(&tenant).await?;
            let (user, _) = dir.store().find_user_by_name(t.id, &username).await?;
            let issued = dir.reset_password_as_operator(t.id, user.id).await?;
            json!({ "userId": user.id, "username": user.username, "password": issued.password })
        }
        AdminCommand::CreateApiKey { tenant, username, name, scope, db } => {
            let dir = open(&db, db.options()).await?;
            let t = dir.store().find_tenant_by_name(&tenant).await?;
            let (user, _) = dir.store().find_user_by_name(t.id, &username).await?;
            let scope = switchboard_domain::KeyScope::parse(&scope).unwrap_or_default();
            let issued = dir.issue_api_key_as_operator(t.id, user.id, &name, scope).await?;
            json!({ "apiKey": issued.api_key, "scope": scope.as_str() })
        }
        AdminCommand::RevokeApiKey { tenant, key, db } => {
            let dir = open(&db, db.options()).await?;
            let t = dir.store().find_tenant_by_name(&tenant).await?;
            let revoked = dir.revoke_api_key_as_operator(t.id, &key).await?;
            serde_json::to_value(revoked)?
        }
        AdminCommand::SetSetting { tenant, name, value, db } => {
            let dir = open(&db, db.options()).await?;
            let t = dir.store().find_tenant_by_name(&tenant).await?;
            let value = serde_json::from_str(&value).unwrap_or(serde_json::Value::String(value));
            let t = dir.update_tenant_settings_as_operator(t.id, json!({ name: value })).await?;
            serde_json::to_value(t.settings)?
        }
        AdminCommand::Migrate { mut db } => {
            db.db_no_migrate = false;
            open(&db, db.creating_options()).await?;
            json!({ "migrated": true })
        }
        AdminCommand::ListTenants { db } => {
            let dir = open(&db, db.options()).await?;
            serde_json::to_value(dir.store().list_tenants().await?)?
        }
        AdminCommand::Backup { file, db } => {
            if db.is_postgres() {
                bail!("admin backup copies SQLite databases; for PostgreSQL use pg_dump (e.g. pg_dump --format=custom --file=switchboard.dump \"$DATABASE_URL\"{})",
                    db.db_schema.as_deref().map(|s| format!(" --schema={s}")).unwrap_or_default());
            }
            let bytes = switchboard_store::backup_sqlite(&db.database_url, &file)
                .await
                .map_err(anyhow::Error::from)
                .map_err(|e| e.context(format!("backing up to {}", file.display())))?;
            json!({ "backup": file, "bytes": bytes })
        }
    };
    crate::print_out(&serde_json::to_string_pretty(&out)?)
}

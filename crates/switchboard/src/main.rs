//! The `switchboard` command: the server and the operator's tools.

mod bulk;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use switchboard_domain::{Directory, Power, Role, SystemClock};
use switchboard_store::StoreOptions;

/// mimalloc: a list or search page builds and drops some 800 small strings;
/// glibc's allocator spent a quarter of a search's CPU on them (issue 8).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "switchboard", version, about = "Contact-center agent administration server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve(ServeArgs),
    /// Operator commands that work directly on the database (also while serve runs).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Import a CSV or JSON file of agents, skills, … (docs/import.md).
    Import(bulk::ImportArgs),
    /// Export agents, skills, … as CSV or JSON that `import` reads back.
    Export(bulk::ExportArgs),
}

#[derive(Args, Clone)]
struct DbArgs {
    /// SQLite file path or URL (sqlite:…); postgres://… for PostgreSQL.
    #[arg(long, env = "SWITCHBOARD_DATABASE_URL", default_value = "./switchboard.db")]
    database_url: String,
    /// PostgreSQL: use (and create) this schema instead of `public`.
    #[arg(long, env = "SWITCHBOARD_DB_SCHEMA")]
    db_schema: Option<String>,
    /// PostgreSQL: connections in the pool. More than the database server's
    /// cores can use only queue inside it (on 2 cores, 8 instead of 16 kept
    /// reads' throughput and halved their p99).
    #[arg(long, env = "SWITCHBOARD_DB_MAX_CONNECTIONS", default_value_t = 8)]
    db_max_connections: u32,
    /// PostgreSQL: cancel statements running longer than this many seconds.
    #[arg(long, env = "SWITCHBOARD_DB_STATEMENT_TIMEOUT_SECS", default_value_t = 30)]
    db_statement_timeout_secs: u64,
    /// Do not apply pending migrations at start (run `admin migrate` once instead).
    #[arg(long, env = "SWITCHBOARD_DB_NO_MIGRATE")]
    db_no_migrate: bool,
    /// PostgreSQL: migrate without the advisory lock (for poolers without session locks).
    #[arg(long, env = "SWITCHBOARD_DB_NO_MIGRATION_LOCK")]
    db_no_migration_lock: bool,
}

impl DbArgs {
    /// For commands that work on an existing database: a missing SQLite file
    /// is an error, not a new empty database.
    fn options(&self) -> StoreOptions {
        StoreOptions {
            create: false,
            pg_schema: self.db_schema.clone(),
            max_connections: self.db_max_connections,
            statement_timeout: std::time::Duration::from_secs(self.db_statement_timeout_secs),
            migrate: !self.db_no_migrate,
            migration_lock: !self.db_no_migration_lock,
            ..StoreOptions::default()
        }
    }

    /// For the commands that may start a database (`serve`, `admin migrate`,
    /// `admin create-tenant`).
    fn creating_options(&self) -> StoreOptions {
        StoreOptions { create: true, ..self.options() }
    }
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "SWITCHBOARD_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    db: DbArgs,
    /// Readers in the database connection pool.
    #[arg(long, env = "SWITCHBOARD_DB_MAX_READERS", default_value_t = 8)]
    db_max_readers: u32,
    /// fsync every commit (SQLite synchronous=FULL) instead of at checkpoints.
    #[arg(long, env = "SWITCHBOARD_DB_SYNC_FULL")]
    db_sync_full: bool,
    /// Agents kept in memory by id (about 200 bytes each), with the
    /// principals of the API keys in use; kept coherent with the database
    /// (PostgreSQL: across instances, by LISTEN/NOTIFY; SQLite: with the CLI,
    /// by a counter row; docs/design.md). 0: off.
    #[arg(long, env = "SWITCHBOARD_AGENT_CACHE_ENTRIES", default_value_t = 100_000)]
    agent_cache_entries: usize,
    /// Do not fill the agent cache at start (it then fills as agents are
    /// read).
    #[arg(long, env = "SWITCHBOARD_NO_AGENT_CACHE_PRELOAD")]
    no_agent_cache_preload: bool,
    /// Do not keep agents' last names in memory (about 40 bytes an agent)
    /// for last-name searches; the database's text indexes answer them.
    /// Without the agent cache there is no name index either.
    #[arg(long, env = "SWITCHBOARD_NO_NAME_INDEX")]
    no_name_index: bool,
    /// Vendor sessions (LiveVox, DeepCall) end after this many minutes without use.
    #[arg(long, env = "SWITCHBOARD_SESSION_IDLE_MINUTES", default_value_t = 120)]
    session_idle_minutes: u64,
    /// Share sessions and rate-limit budgets between instances through Redis
    /// (redis://host:6379). Without it they live in this process.
    #[arg(long, env = "SWITCHBOARD_REDIS_URL")]
    redis_url: Option<String>,
    /// Prefix of every Redis key (lets deployments share one Redis).
    #[arg(long, env = "SWITCHBOARD_REDIS_PREFIX", default_value = "switchboard")]
    redis_prefix: String,
    /// Lifetime in seconds of Ozonetel tokens (CAToken/generateToken).
    #[arg(long, env = "SWITCHBOARD_OZONETEL_TOKEN_TTL", default_value_t = 3600)]
    ozonetel_token_ttl: u64,
    /// Requests per minute replacing every per-tenant rate limit (e.g. for CI).
    #[arg(long, env = "SWITCHBOARD_RATE_LIMIT_OVERRIDE")]
    rate_limit_override: Option<u32>,
    /// The console's session cookie is `Secure`: `auto` when the request came
    /// over HTTPS (`X-Forwarded-Proto: https` from a proxy), or `always`/`never`.
    #[arg(long, env = "SWITCHBOARD_CONSOLE_SECURE_COOKIE", default_value = "auto", value_parser = ["auto", "always", "never"])]
    console_secure_cookie: String,
}

#[derive(Subcommand)]
enum AdminCommand {
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
    /// Issue another API key for a user; prints it once.
    CreateApiKey {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        username: String,
        /// A label for the key.
        #[arg(long, default_value = "cli")]
        name: String,
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
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "expected one of: sysadmin, it_user, superuser, manager, agent".into())
}

fn parse_power(s: &str) -> Result<Power, String> {
    Power::parse(s).ok_or_else(|| "expected: administer_agents".into())
}

/// Settings that may hold secrets can also come from a file named by
/// `<NAME>_FILE` (Docker/systemd secrets), so they stay out of the
/// environment listing and shell history.
const SECRET_SETTINGS: [&str; 2] = ["SWITCHBOARD_DATABASE_URL", "SWITCHBOARD_REDIS_URL"];

/// A database URL fit for logs: any password replaced.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

fn load_secret_files() -> Result<()> {
    for name in SECRET_SETTINGS {
        let file_var = format!("{name}_FILE");
        if std::env::var_os(name).is_some() {
            continue;
        }
        if let Some(path) = std::env::var_os(&file_var) {
            let value = std::fs::read_to_string(&path).with_context(|| format!("reading {file_var}"))?;
            std::env::set_var(name, value.trim());
        }
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line, causes joined ("opening database x: …"), no backtrace.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    load_secret_files()?;
    let cli = Cli::parse();
    init_logging();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::Admin(cmd) => admin(cmd).await,
            Command::Import(args) => match bulk::import(args).await? {
                0 => Ok(()),
                code => std::process::exit(code),
            },
            Command::Export(args) => bulk::export(args).await,
        }
    })
}

/// Logs to stderr (stdout is for command output). `RUST_LOG` sets the filter,
/// e.g. `RUST_LOG=debug` or `RUST_LOG=switchboard_http=debug,info`.
fn init_logging() {
    use tracing_subscriber::filter::Targets;
    let filter: Targets = std::env::var("RUST_LOG").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| "info".parse().expect("static filter"));
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use std::io::IsTerminal;
    let ansi = std::io::stderr().is_terminal();
    tracing_subscriber::registry().with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(ansi)).with(filter).init();
}

async fn open(db: &DbArgs, opts: StoreOptions) -> Result<Directory> {
    let store = switchboard_store::open(&db.database_url, &opts).await.with_context(|| format!("opening database {}", redact(&db.database_url)))?;
    Ok(Directory::new(store, Arc::new(SystemClock)))
}

async fn serve(args: ServeArgs) -> Result<()> {
    let opts = StoreOptions {
        max_readers: args.db_max_readers,
        synchronous_full: args.db_sync_full,
        agent_cache_entries: args.agent_cache_entries,
        agent_cache_preload: !args.no_agent_cache_preload,
        name_index: !args.no_name_index,
        ..args.db.creating_options()
    };
    let dir = open(&args.db, opts).await?;
    let shutdown = shutdown_signal()?;
    let listener = tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(database = %redact(&args.db.database_url), "switchboard listening on http://{addr}");
    let config = switchboard_http::HttpConfig { session_idle: std::time::Duration::from_secs(args.session_idle_minutes * 60), ..Default::default() };
    let config = switchboard_http::HttpConfig { ozonetel_token_ttl: std::time::Duration::from_secs(args.ozonetel_token_ttl), rate_limit_override: args.rate_limit_override, ..config };
    let console_secure_cookie = match args.console_secure_cookie.as_str() {
        "always" => Some(true),
        "never" => Some(false),
        _ => None,
    };
    let config = switchboard_http::HttpConfig { console_secure_cookie, ..config };
    let state = match &args.redis_url {
        Some(url) => {
            let redis = switchboard_store::connect_redis(url, &args.redis_prefix).await.context("connecting to Redis")?;
            tracing::info!(prefix = %args.redis_prefix, "shared mode: sessions and rate limits in Redis");
            switchboard_http::AppState::with_limiter(dir.with_sessions(redis.sessions()), config, redis.rate_limiter())
        }
        None => {
            tracing::info!("single-instance mode: sessions and rate limits in this process (use --redis-url to share them)");
            switchboard_http::AppState::with_config(dir, config)
        }
    };
    switchboard_http::serve(listener, state, shutdown).await?;
    tracing::info!("switchboard stopped");
    Ok(())
}

/// Registers the Ctrl-C and SIGTERM handlers now (before the server says it
/// listens, so no signal can find the default action still in place) and
/// returns a future that resolves on either; in-flight requests then finish.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    #[cfg(unix)]
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing in-flight requests");
    })
}

async fn admin(cmd: AdminCommand) -> Result<()> {
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
        AdminCommand::CreateApiKey { tenant, username, name, db } => {
            let dir = open(&db, db.options()).await?;
            let t = dir.store().find_tenant_by_name(&tenant).await?;
            let (user, _) = dir.store().find_user_by_name(t.id, &username).await?;
            let issued = dir.issue_api_key_as_operator(t.id, user.id, &name).await?;
            json!({ "apiKey": issued.api_key })
        }
        AdminCommand::Migrate { mut db } => {
            db.db_no_migrate = false;
            open(&db, db.creating_options()).await?;
            serde_json::json!({ "migrated": true })
        }
        AdminCommand::ListTenants { db } => {
            let dir = open(&db, db.options()).await?;
            serde_json::to_value(dir.store().list_tenants().await?)?
        }
    };
    print_out(&serde_json::to_string_pretty(&out)?)
}

/// Prints a command's output; a reader that went away (`| head`) is not an
/// error worth a panic.
fn print_out(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

//! `switchboard serve` and `switchboard healthcheck`.

use crate::db::{open, redact, DbArgs};
use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use switchboard_store::StoreOptions;

#[derive(Args, Serialize)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "SWITCHBOARD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Serve /metrics on this address only (not on --listen), e.g. an
    /// address only the monitoring network reaches.
    #[arg(long, env = "SWITCHBOARD_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    #[command(flatten)]
    #[serde(flatten)]
    pub db: DbArgs,
    /// Readers in the database connection pool.
    #[arg(long, env = "SWITCHBOARD_DB_MAX_READERS", default_value_t = 8)]
    pub db_max_readers: u32,
    /// fsync every commit (SQLite synchronous=FULL) instead of at checkpoints.
    #[arg(long, env = "SWITCHBOARD_DB_SYNC_FULL")]
    pub db_sync_full: bool,
    /// Agents kept in memory by id (about 200 bytes each), with the
    /// principals of the API keys in use; kept coherent with the database
    /// (PostgreSQL: across instances, by LISTEN/NOTIFY; SQLite: with the CLI,
    /// by a counter row; docs/design.md). 0: off.
    #[arg(long, env = "SWITCHBOARD_AGENT_CACHE_ENTRIES", default_value_t = 100_000)]
    pub agent_cache_entries: usize,
    /// Do not fill the agent cache at start (it then fills as agents are
    /// read).
    #[arg(long, env = "SWITCHBOARD_NO_AGENT_CACHE_PRELOAD")]
    pub no_agent_cache_preload: bool,
    /// Do not keep the agent search index in memory (every searchable field,
    /// the filters and the loginId order: about 60–70 bytes an agent) that
    /// answers agent lists and searches; the database answers them. Without
    /// the agent cache there is no search index either.
    #[arg(long, env = "SWITCHBOARD_NO_NAME_INDEX")]
    pub no_name_index: bool,
    /// Vendor sessions (LiveVox, DeepCall) end after this many minutes without use.
    #[arg(long, env = "SWITCHBOARD_SESSION_IDLE_MINUTES", default_value_t = 120)]
    pub session_idle_minutes: u64,
    /// Share sessions and rate-limit budgets between instances through Redis
    /// (redis://host:6379, or rediss://… over TLS). Without it they live in
    /// this process.
    #[arg(long, env = "SWITCHBOARD_REDIS_URL")]
    pub redis_url: Option<String>,
    /// rediss://: the CA certificate(s) (PEM) that sign the Redis server's
    /// certificate. Without it, the system's trusted CAs.
    #[arg(long, env = "SWITCHBOARD_REDIS_CA_FILE")]
    pub redis_ca_file: Option<PathBuf>,
    /// Prefix of every Redis key (lets deployments share one Redis).
    #[arg(long, env = "SWITCHBOARD_REDIS_PREFIX", default_value = "switchboard")]
    pub redis_prefix: String,
    /// Lifetime in seconds of Ozonetel tokens (CAToken/generateToken).
    #[arg(long, env = "SWITCHBOARD_OZONETEL_TOKEN_TTL", default_value_t = 3600)]
    pub ozonetel_token_ttl: u64,
    /// Requests per minute replacing every per-tenant rate limit (e.g. for CI).
    #[arg(long, env = "SWITCHBOARD_RATE_LIMIT_OVERRIDE")]
    pub rate_limit_override: Option<u32>,
    /// The console's session cookie is `Secure`: `auto` when the request came
    /// over HTTPS (`X-Forwarded-Proto: https` from a proxy), or `always`/`never`.
    #[arg(long, env = "SWITCHBOARD_CONSOLE_SECURE_COOKIE", default_value = "auto", value_parser = ["auto", "always", "never"])]
    pub console_secure_cookie: String,
    /// Networks webhook URLs may resolve into although they are loopback,
    /// private, link-local or metadata addresses (comma-separated CIDRs,
    /// e.g. 127.0.0.0/8,10.0.0.0/8). Checked when a URL is set and at every
    /// delivery.
    #[arg(long, env = "SWITCHBOARD_WEBHOOK_ALLOW_NETWORKS", default_value = "")]
    pub webhook_allow_networks: String,
    /// Waits between a webhook delivery's attempts (the last one repeats).
    #[arg(long, env = "SWITCHBOARD_WEBHOOK_RETRY_SCHEDULE", default_value = "1s,5s,30s,2m,10m,1h")]
    pub webhook_retry_schedule: String,
    /// A delivery still failing this long after its first attempt is given
    /// up, and its subscription disabled (e.g. 24h, 90m).
    #[arg(long, env = "SWITCHBOARD_WEBHOOK_GIVE_UP_AFTER", default_value = "24h")]
    pub webhook_give_up_after: String,
    /// Time allowed for one delivery attempt (connect and answer).
    #[arg(long, env = "SWITCHBOARD_WEBHOOK_TIMEOUT", default_value = "10s")]
    pub webhook_timeout: String,
    /// Concurrent webhook delivery workers of this instance (0: deliver none).
    #[arg(long, env = "SWITCHBOARD_WEBHOOK_WORKERS", default_value_t = 4)]
    pub webhook_workers: usize,
    /// How long change events and webhook delivery logs are kept (e.g.
    /// 30d, 72h; 0: forever). Older ones are deleted hourly.
    #[arg(long, env = "SWITCHBOARD_EVENT_RETENTION", default_value = "30d")]
    pub event_retention: String,
    /// CA certificate(s) (PEM) trusted for https:// webhook receivers, in
    /// addition to the system's (a private CA on an allowed network).
    #[arg(long, env = "SWITCHBOARD_WEBHOOK_CA_FILE")]
    pub webhook_ca_file: Option<PathBuf>,
}

pub async fn serve(args: ServeArgs) -> Result<()> {
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
    let metrics_listener = match args.metrics_listen {
        Some(a) => Some(tokio::net::TcpListener::bind(a).await.with_context(|| format!("binding {a} (--metrics-listen)"))?),
        None => None,
    };
    let addr = listener.local_addr()?;
    let console_secure_cookie = match args.console_secure_cookie.as_str() {
        "always" => Some(true),
        "never" => Some(false),
        _ => None,
    };
    let webhooks = switchboard_http::webhooks::WebhookConfig {
        allow_networks: switchboard_http::webhooks::parse_networks(&args.webhook_allow_networks)
            .map_err(|e| anyhow::anyhow!("--webhook-allow-networks: {e}"))?,
        retry_schedule: switchboard_http::webhooks::parse_schedule(&args.webhook_retry_schedule)
            .map_err(|e| anyhow::anyhow!("--webhook-retry-schedule: {e}"))?,
        give_up_after: switchboard_http::webhooks::parse_duration(&args.webhook_give_up_after)
            .map_err(|e| anyhow::anyhow!("--webhook-give-up-after: {e}"))?,
        timeout: switchboard_http::webhooks::parse_duration(&args.webhook_timeout)
            .map_err(|e| anyhow::anyhow!("--webhook-timeout: {e}"))?,
        workers: args.webhook_workers,
        event_retention: match switchboard_http::webhooks::parse_duration(&args.event_retention)
            .map_err(|e| anyhow::anyhow!("--event-retention: {e}"))?
        {
            d if d.is_zero() => None,
            d => Some(d),
        },
        tls: switchboard_http::webhooks::tls_roots(args.webhook_ca_file.as_deref())
            .map_err(|e| anyhow::anyhow!("--webhook-ca-file: {e}"))?,
        ..Default::default()
    };
    let config = switchboard_http::HttpConfig {
        webhooks,
        session_idle: Duration::from_secs(args.session_idle_minutes * 60),
        ozonetel_token_ttl: Duration::from_secs(args.ozonetel_token_ttl),
        rate_limit_override: args.rate_limit_override,
        console_secure_cookie,
        metrics_on_main: metrics_listener.is_none(),
        ..Default::default()
    };
    let state = match &args.redis_url {
        Some(url) => {
            let redis = switchboard_store::connect_redis(url, &args.redis_prefix, args.redis_ca_file.as_deref())
                .await
                .with_context(|| format!("connecting to Redis {}", redact(url)))?;
            tracing::info!(prefix = %args.redis_prefix, "shared mode: sessions and rate limits in Redis");
            switchboard_http::AppState::with_limiter(dir.with_sessions(redis.sessions()), config, redis.rate_limiter())
        }
        None => {
            tracing::info!("single-instance mode: sessions and rate limits in this process (use --redis-url to share them)");
            switchboard_http::AppState::with_config(dir, config)
        }
    };
    switchboard_http::webhooks::spawn_pruner(state.clone());
    if state.config.webhooks.workers > 0 {
        switchboard_http::webhooks::spawn_dispatcher(state.clone());
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };
    let metrics_task = match metrics_listener {
        Some(l) => {
            tracing::info!("metrics on http://{}/metrics", l.local_addr()?);
            Some(tokio::spawn(switchboard_http::serve_metrics(l, state.clone(), stopped(stop_rx.clone()))))
        }
        None => None,
    };
    tracing::info!(database = %redact(&args.db.database_url), version = crate::VERSION, "switchboard listening on http://{addr}");
    switchboard_http::serve(listener, state, stopped(stop_rx)).await?;
    if let Some(t) = metrics_task {
        t.await??;
    }
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

#[derive(Args)]
pub struct HealthArgs {
    /// The server's address, as given to `serve` (0.0.0.0 and [::] are
    /// asked on the loopback).
    #[arg(long, env = "SWITCHBOARD_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The path to ask: /readyz (the database answers) or /healthz (the
    /// process serves).
    #[arg(long, default_value = "/readyz")]
    path: String,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 5)]
    timeout: u64,
}

/// `switchboard healthcheck`: a container's HEALTHCHECK without curl. Exits
/// 0 when the server answers 200.
pub fn healthcheck(a: HealthArgs) -> Result<()> {
    use std::io::{Read, Write};
    let mut addr = a.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() { std::net::Ipv4Addr::LOCALHOST.into() } else { std::net::Ipv6Addr::LOCALHOST.into() });
    }
    let timeout = Duration::from_secs(a.timeout.max(1));
    let mut s = std::net::TcpStream::connect_timeout(&addr, timeout).with_context(|| format!("connecting to {addr}"))?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(s, "GET {} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: switchboard-healthcheck\r\nConnection: close\r\n\r\n", a.path)?;
    let mut head = Vec::new();
    s.take(4096).read_to_end(&mut head).with_context(|| format!("reading the answer of {addr}"))?;
    let text = String::from_utf8_lossy(&head);
    let status = text.lines().next().unwrap_or_default().to_string();
    if status.split_whitespace().nth(1) != Some("200") {
        bail!("http://{addr}{} answered {status:?}", a.path);
    }
    crate::print_out(&format!("ok: http://{addr}{} answered 200", a.path))
}

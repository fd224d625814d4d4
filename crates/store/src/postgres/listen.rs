//! Keeps the read cache (`crate::cache`) coherent with the database: one
//! connection of its own LISTENs on the schema's change channel and applies
//! every notification the triggers of migration 0005 send.
//!
//! The cache serves only while notifications are known to arrive: after
//! `LISTEN`, the listener sends itself a heartbeat through the store's pool
//! and goes live only when it comes back; it sends one every 2 s and goes
//! dark if one has not come back within 10 s, or at once if its connection
//! fails. That also keeps the cache off behind something that accepts LISTEN
//! but does not deliver (a pooler in transaction mode) and bounds how long a
//! silently dropped connection can go unnoticed. When dark, the cache neither
//! serves nor keeps anything; going live again forgets everything first.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};

use crate::cache::ReadCache;

const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);
const HEARTBEAT_DEADLINE: Duration = Duration::from_secs(10);

/// The channel the triggers notify: `sb:<schema>`, cut to PostgreSQL's 63
/// bytes as the triggers' `left(…, 63)` does (schemas are ASCII here).
pub(super) fn channel(schema: &str) -> String {
    format!("sb:{schema}").chars().take(63).collect()
}

/// Runs until aborted (the store's drop aborts it). `store_pool` sends the
/// heartbeats, as writes send their notifications.
pub(super) async fn run(options: PgConnectOptions, store_pool: PgPool, channel: String, cache: Arc<ReadCache>) {
    // A pool of one: PgListener takes its connection from a pool, and this
    // one must not be taken from (or count against) the store's.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy_with(options.application_name("switchboard-listen"));
    // Tells this instance's heartbeats from other instances' on the channel.
    let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let me = format!("{:x}.{:x}.{:x}", std::process::id(), started, Arc::as_ptr(&cache) as usize);
    let mut retry = Duration::from_millis(100);
    let mut beat = 0u64;
    loop {
        match listen(&pool, &channel).await {
            Ok(mut listener) => {
                retry = Duration::from_millis(100);
                let why = follow(&mut listener, &store_pool, &channel, &cache, &me, &mut beat).await;
                cache.go_dark();
                tracing::warn!(reason = %why, "agent cache: not following changes; reading through to the database until it is back");
            }
            Err(e) => tracing::warn!(error = %e, "agent cache: cannot listen for changes; reading through to the database"),
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(Duration::from_secs(5));
    }
}

/// Applies notifications until the connection fails or a heartbeat is late;
/// why it stopped.
async fn follow(listener: &mut PgListener, store_pool: &PgPool, channel: &str, cache: &ReadCache, me: &str, beat: &mut u64) -> String {
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    let mut awaited: Option<(String, Instant)> = None;
    loop {
        tokio::select! {
            n = listener.try_recv() => match n {
                Ok(Some(n)) => match n.payload().strip_prefix("h:") {
                    Some(h) => {
                        if awaited.as_ref().is_some_and(|(want, _)| want == h) {
                            awaited = None;
                            if !cache.is_live() {
                                cache.go_live();
                                tracing::info!(channel, "agent cache: following changes");
                            }
                        }
                    }
                    None => cache.apply(n.payload()),
                },
                Ok(None) => return "connection lost".into(),
                Err(e) => return e.to_string(),
            },
            _ = tick.tick() => match &awaited {
                Some((_, sent)) if sent.elapsed() > HEARTBEAT_DEADLINE => return "heartbeat not received in time".into(),
                Some(_) => {}
                None => {
                    *beat += 1;
                    let payload = format!("{me}:{beat}");
                    awaited = Some((payload.clone(), Instant::now()));
                    let (pool, channel) = (store_pool.clone(), channel.to_string());
                    // Off this loop: a busy pool must not hold up notifications.
                    tokio::spawn(async move {
                        let sent = sqlx::query("SELECT pg_notify($1, $2)").bind(channel).bind(format!("h:{payload}")).execute(&pool).await;
                        if let Err(e) = sent {
                            tracing::warn!(error = %e, "agent cache: heartbeat not sent");
                        }
                    });
                }
            },
        }
    }
}

async fn listen(pool: &PgPool, channel: &str) -> Result<PgListener, sqlx::Error> {
    let mut l = PgListener::connect_with(pool).await?;
    // Report a lost connection at once (the cache must stop serving), and
    // reconnect here, not inside `try_recv`.
    l.eager_reconnect(false);
    l.ignore_pool_close_event(true);
    l.listen(channel).await?;
    Ok(l)
}

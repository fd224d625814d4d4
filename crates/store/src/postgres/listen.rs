//! Keeps the read cache (`crate::cache`) coherent with the database: one
//! connection of its own LISTENs on the schema's change channel and applies
//! every notification the triggers of migration 0005 send. While that
//! connection is down the cache neither serves nor keeps anything: changes
//! committed meanwhile would go unseen. When it is back, everything cached
//! before is forgotten, then the cache serves again.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};

use crate::cache::ReadCache;

/// The channel the triggers notify: `sb:<schema>`, cut to PostgreSQL's 63
/// bytes as the triggers' `left(…, 63)` does (schemas are ASCII here).
pub(super) fn channel(schema: &str) -> String {
    format!("sb:{schema}").chars().take(63).collect()
}

/// Runs until aborted (the store's drop aborts it).
pub(super) async fn run(options: PgConnectOptions, channel: String, cache: Arc<ReadCache>) {
    // A pool of one: PgListener takes its connection from a pool, and this
    // one must not be taken from (or count against) the store's.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy_with(options.application_name("switchboard-listen"));
    let mut retry = Duration::from_millis(100);
    loop {
        match listen(&pool, &channel).await {
            Ok(mut listener) => {
                cache.go_live();
                tracing::info!(channel = %channel, "agent cache: listening for changes");
                retry = Duration::from_millis(100);
                let why = loop {
                    match listener.try_recv().await {
                        Ok(Some(n)) => cache.apply(n.payload()),
                        Ok(None) => break "connection lost".to_string(),
                        Err(e) => break e.to_string(),
                    }
                };
                cache.go_dark();
                tracing::warn!(reason = %why, "agent cache: change listener stopped; reading through to the database until it is back");
            }
            Err(e) => {
                tracing::warn!(error = %e, "agent cache: cannot listen for changes; reading through to the database")
            }
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(Duration::from_secs(5));
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

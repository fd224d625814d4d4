//! State that several Switchboard instances share through Redis: sessions
//! (LiveVox `sessionId`, DeepCall `ssid`, Ozonetel tokens) and rate-limit
//! budgets. Every key starts with a prefix, so deployments (and test runs)
//! can share one Redis.

use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use std::sync::Arc;
use std::time::Duration;
use switchboard_domain::{Error, Millis, RateLimiter, Result, Session, SessionStore};

/// A connection to Redis with a key prefix.
#[derive(Clone)]
pub struct Redis {
    conn: ConnectionManager,
    prefix: String,
}

/// Connects (and checks the connection with a PING). `rediss://` URLs
/// connect over TLS, verifying the server's certificate against the CAs in
/// `ca_file` (PEM) if given, else the system's.
pub async fn connect_redis(url: &str, prefix: &str, ca_file: Option<&std::path::Path>) -> Result<Redis> {
    crate::install_tls_provider();
    let client = match ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| Error::Storage(format!("reading Redis CA file {}: {e}", path.display())))?;
            redis::Client::build_with_tls(url, redis::TlsCertificates { client_tls: None, root_cert: Some(pem) })
        }
        None => redis::Client::open(url),
    }
    .map_err(|e| Error::Storage(format!("invalid Redis URL: {e}")))?;
    // Not logged: the caller reports a failure to connect.
    let open_err = |e: redis::RedisError| Error::Storage(format!("redis: {e}"));
    // One plain connection first: the manager retries for seconds, which
    // does not help a wrong address, password or certificate at start.
    let mut probe = client.get_multiplexed_async_connection().await.map_err(open_err)?;
    let _: String = redis::cmd("PING").query_async(&mut probe).await.map_err(open_err)?;
    drop(probe);
    let mut conn = client.get_connection_manager().await.map_err(open_err)?;
    let _: String = redis::cmd("PING").query_async(&mut conn).await.map_err(open_err)?;
    Ok(Redis { conn, prefix: prefix.to_string() })
}

fn redis_err(e: redis::RedisError) -> Error {
    tracing::error!(error = %e, "redis error");
    Error::Storage(format!("redis: {e}"))
}

impl Redis {
    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}:{kind}:{id}", self.prefix)
    }

    pub fn sessions(&self) -> Arc<dyn SessionStore> {
        Arc::new(RedisSessions { r: self.clone() })
    }

    pub fn rate_limiter(&self) -> Arc<dyn RateLimiter> {
        self.rate_limiter_with_window(switchboard_domain::ratelimit::WINDOW)
    }

    /// Budgets of `per_minute` requests per `window` instead of per minute
    /// (tests: the minute's rule, in seconds).
    pub fn rate_limiter_with_window(&self, window: Duration) -> Arc<dyn RateLimiter> {
        Arc::new(RedisRateLimiter { r: self.clone(), script: redis::Script::new(SLIDING_WINDOW), window })
    }
}

/// Sessions as JSON under `<prefix>:session:<id>`, expiring in Redis when
/// their idle time or lifetime runs out; a login's reuse key points to its id.
pub struct RedisSessions {
    r: Redis,
}

/// How long a session has left at `now`, in ms (None: no expiry).
fn remaining(s: &Session, now: Millis) -> Option<i64> {
    let idle = (s.idle_ttl > 0).then(|| s.idle_ttl - (now - s.last_seen));
    let abs = s.expires_at.map(|t| t - now);
    match (idle, abs) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl RedisSessions {
    async fn save(&self, s: &Session, now: Millis) -> Result<()> {
        let json = serde_json::to_string(s).map_err(|e| Error::Storage(e.to_string()))?;
        let mut c = self.r.conn.clone();
        let mut pipe = redis::pipe();
        pipe.atomic();
        match remaining(s, now) {
            Some(ms) if ms <= 0 => return Ok(()),
            Some(ms) => {
                pipe.cmd("SET").arg(self.r.key("session", &s.id)).arg(&json).arg("PX").arg(ms).ignore();
                if let Some(k) = &s.reuse_key {
                    pipe.cmd("SET").arg(self.r.key("session-reuse", k)).arg(&s.id).arg("PX").arg(ms).ignore();
                }
            }
            None => {
                pipe.cmd("SET").arg(self.r.key("session", &s.id)).arg(&json).ignore();
                if let Some(k) = &s.reuse_key {
                    pipe.cmd("SET").arg(self.r.key("session-reuse", k)).arg(&s.id).ignore();
                }
            }
        }
        pipe.query_async::<()>(&mut c).await.map_err(redis_err)
    }
}

#[async_trait::async_trait]
impl SessionStore for RedisSessions {
    async fn insert(&self, s: Session) -> Result<()> {
        let now = s.created_at;
        self.save(&s, now).await
    }

    async fn touch(&self, id: &str, now: Millis) -> Result<Option<Session>> {
        let mut c = self.r.conn.clone();
        let raw: Option<String> = c.get(self.r.key("session", id)).await.map_err(redis_err)?;
        let Some(raw) = raw else { return Ok(None) };
        let Ok(mut s) = serde_json::from_str::<Session>(&raw) else { return Ok(None) };
        if !s.is_live(now) {
            self.remove(id).await?;
            return Ok(None);
        }
        s.last_seen = now;
        self.save(&s, now).await?;
        Ok(Some(s))
    }

    async fn find_reusable(&self, reuse_key: &str, now: Millis) -> Result<Option<Session>> {
        let mut c = self.r.conn.clone();
        let id: Option<String> = c.get(self.r.key("session-reuse", reuse_key)).await.map_err(redis_err)?;
        match id {
            Some(id) => self.touch(&id, now).await,
            None => Ok(None),
        }
    }

    async fn remove(&self, id: &str) -> Result<bool> {
        let mut c = self.r.conn.clone();
        let raw: Option<String> = c.get(self.r.key("session", id)).await.map_err(redis_err)?;
        let Some(raw) = raw else { return Ok(false) };
        let mut keys = vec![self.r.key("session", id)];
        if let Some(k) = serde_json::from_str::<Session>(&raw).ok().and_then(|s| s.reuse_key) {
            keys.push(self.r.key("session-reuse", &k));
        }
        let n: i64 = c.del(keys).await.map_err(redis_err)?;
        Ok(n > 0)
    }

    async fn remove_for(&self, tenant_id: i64, user_id: Option<i64>, agent_id: Option<i64>) -> Result<()> {
        let mut c = self.r.conn.clone();
        let pattern = self.r.key("session", "*");
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut c)
                .await
                .map_err(redis_err)?;
            for k in keys {
                let raw: Option<String> = c.get(&k).await.map_err(redis_err)?;
                let Some(s) = raw.and_then(|r| serde_json::from_str::<Session>(&r).ok()) else { continue };
                let p = &s.principal;
                let hit = p.tenant_id == tenant_id
                    && ((user_id.is_some() && p.agent_id.is_none() && Some(p.user_id) == user_id)
                        || (agent_id.is_some() && p.agent_id == agent_id));
                if hit {
                    self.remove(&s.id).await?;
                }
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}

/// The sliding window of `switchboard_domain::WindowLog`, in one atomic
/// step on Redis's clock (microseconds): the key is a sorted set of the
/// accepted requests' times. Those at or before `now - window` have left;
/// with fewer than `limit` left in, the request is added and allowed (0),
/// otherwise the answer is the wait until the oldest of the last `limit`
/// leaves. Members are `<time>:<count>`, unique within a key.
const SLIDING_WINDOW: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n < limit then
  redis.call('ZADD', KEYS[1], now, string.format('%.0f:%d', now, n))
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
local wait = tonumber(oldest[2]) + window - now
if wait < 1 then wait = 1 end
return wait
";

/// Rate-limit budgets shared by every instance using the same Redis and prefix.
pub struct RedisRateLimiter {
    r: Redis,
    script: redis::Script,
    window: Duration,
}

#[async_trait::async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn check(&self, key: &str, per_minute: u32) -> std::result::Result<(), Duration> {
        if per_minute == 0 {
            return Ok(());
        }
        let window = i64::try_from(self.window.as_micros()).unwrap_or(i64::MAX);
        // The limit is part of the key: a changed setting starts afresh, as in
        // memory. ("window": a new name, as the sliding window's keys hold
        // sorted sets where the token bucket's held strings.)
        let k = self.r.key("window", &format!("{key}:{per_minute}"));
        let mut c = self.r.conn.clone();
        match self.script.key(k).arg(window).arg(per_minute).invoke_async::<i64>(&mut c).await {
            Ok(0) => Ok(()),
            Ok(wait) => Err(Duration::from_micros(wait.max(1) as u64)),
            Err(e) => {
                // Fail open: an unreachable Redis must not take the API down.
                tracing::error!(error = %e, "rate limiter unavailable; request allowed");
                Ok(())
            }
        }
    }
}

//! Sessions: what a vendor login (LiveVox `sessionId`, DeepCall `ssid`,
//! Ozonetel token) hands out and later calls present. A session carries the
//! principal it was opened for and expires after a time without use (sliding)
//! and/or at a fixed time. The port is a trait so that several instances can
//! share sessions (Redis) while a single instance keeps them in memory.

use crate::error::Result;
use crate::model::{Millis, Principal};
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Session {
    /// The secret the client presents; 256 random bits, hex.
    pub id: String,
    /// What opened it: `livevox`, `native`, `ozonetel-token`…
    pub kind: String,
    pub principal: Principal,
    pub created_at: Millis,
    pub last_seen: Millis,
    /// Ends this long after the last use (0: no sliding expiry).
    pub idle_ttl: Millis,
    /// Ends at this time whatever the use (None: never).
    pub expires_at: Option<Millis>,
    /// Logins with the same key get the same still-valid session back.
    pub reuse_key: Option<String>,
}

impl Session {
    pub fn is_live(&self, now: Millis) -> bool {
        let idle_ok = self.idle_ttl <= 0 || now - self.last_seen < self.idle_ttl;
        let abs_ok = self.expires_at.is_none_or(|t| now < t);
        idle_ok && abs_ok
    }
}

#[async_trait::async_trait]
pub trait SessionStore: Send + Sync + 'static {
    async fn insert(&self, s: Session) -> Result<()>;
    /// The live session with this id, its `last_seen` moved to `now`.
    async fn touch(&self, id: &str, now: Millis) -> Result<Option<Session>>;
    /// A live session opened with this reuse key, touched.
    async fn find_reusable(&self, reuse_key: &str, now: Millis) -> Result<Option<Session>>;
    /// Ends a session; false if there was none.
    async fn remove(&self, id: &str) -> Result<bool>;
    /// Ends every session of a tenant's agent or user (e.g. on delete).
    async fn remove_for(&self, tenant_id: i64, user_id: Option<i64>, agent_id: Option<i64>) -> Result<()>;
}

/// Sessions in this process's memory: right for one instance.
#[derive(Default)]
pub struct MemorySessions {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_id: HashMap<String, Session>,
    by_reuse: HashMap<String, String>,
    inserts: u64,
}

impl Inner {
    fn purge(&mut self, now: Millis) {
        self.by_id.retain(|_, s| s.is_live(now));
        let live = &self.by_id;
        self.by_reuse.retain(|_, id| live.contains_key(id));
    }

    fn touch(&mut self, id: &str, now: Millis) -> Option<Session> {
        let s = self.by_id.get_mut(id)?;
        if !s.is_live(now) {
            let reuse = s.reuse_key.clone();
            self.by_id.remove(id);
            if let Some(k) = reuse {
                self.by_reuse.remove(&k);
            }
            return None;
        }
        s.last_seen = now;
        Some(s.clone())
    }
}

#[async_trait::async_trait]
impl SessionStore for MemorySessions {
    async fn insert(&self, s: Session) -> Result<()> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.inserts += 1;
        // Expired sessions are dropped now and then, so memory stays bounded.
        if g.inserts.is_multiple_of(1024) {
            g.purge(s.created_at);
        }
        if let Some(k) = &s.reuse_key {
            g.by_reuse.insert(k.clone(), s.id.clone());
        }
        g.by_id.insert(s.id.clone(), s);
        Ok(())
    }

    async fn touch(&self, id: &str, now: Millis) -> Result<Option<Session>> {
        Ok(self.inner.lock().unwrap_or_else(|e| e.into_inner()).touch(id, now))
    }

    async fn find_reusable(&self, reuse_key: &str, now: Millis) -> Result<Option<Session>> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let Some(id) = g.by_reuse.get(reuse_key).cloned() else { return Ok(None) };
        Ok(g.touch(&id, now))
    }

    async fn remove(&self, id: &str) -> Result<bool> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let Some(s) = g.by_id.remove(id) else { return Ok(false) };
        if let Some(k) = s.reuse_key {
            g.by_reuse.remove(&k);
        }
        Ok(true)
    }

    async fn remove_for(&self, tenant_id: i64, user_id: Option<i64>, agent_id: Option<i64>) -> Result<()> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.by_id.retain(|_, s| {
            let p = &s.principal;
            !(p.tenant_id == tenant_id
                && ((user_id.is_some() && p.agent_id.is_none() && Some(p.user_id) == user_id)
                    || (agent_id.is_some() && p.agent_id == agent_id)))
        });
        let live = &g.by_id;
        let keep: Vec<String> = g.by_reuse.iter().filter(|(_, id)| live.contains_key(*id)).map(|(k, _)| k.clone()).collect();
        g.by_reuse.retain(|k, _| keep.contains(k));
        Ok(())
    }
}

/// A new session secret: 256 random bits as 64 hex characters.
pub fn new_session_id() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

//! The in-process read cache of a serving process: agents by id (what Read
//! Agent and the native GET return) and API-key principals by key hash (what
//! every native call authenticates with). A read by id otherwise costs a
//! round trip to PostgreSQL, or a SQLite read transaction; from here it costs
//! a lock and the unpacking of a short byte string (`packed.rs`).
//!
//! Coherence: writes made through this process forget what they changed right
//! after their COMMIT, before they answer, so a client reads its own writes.
//! Writes made elsewhere: on PostgreSQL the cache serves only while its
//! listener is connected (`postgres/listen.rs`), which applies the
//! notifications that triggers send on every commit that changes an agent, an
//! API key or a user, whoever wrote it (another instance drops the entry when
//! the notification reaches it: on loopback, well under a millisecond); on
//! SQLite, processes without a cache (the CLI) bump `cache_epoch` and readers
//! here check it at most every millisecond (`observe_epoch`).
//!
//! A read that missed races with writes: it may fetch a row, a write commit
//! and forget the entry, and the read then store what it fetched, now stale.
//! Generations, bumped by every forget (64 slots per shard, a key in one), let
//! a fetched value be kept only if its slot's did not move while it was fetched.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_domain::{AgentDetail, Id, Principal};

mod arena;
mod packed;
pub(crate) mod search;

pub(crate) use search::{Ask, Compiled, Row, Search, SearchIndex};

const SHARDS: usize = 64;
/// Generations per shard: a forget moves one slot's, so a fetch (above all a
/// preload batch) is dropped only for the keys that share that slot.
const SLOTS: usize = 64;
/// API-key principals kept at most (one per key in use).
const PRINCIPALS: usize = 10_000;

struct Shard<M> {
    map: M,
    generations: [u64; SLOTS],
    /// Lookups that found their key, and that did not (for `/metrics`;
    /// counted under the lock a lookup holds anyway).
    hits: u64,
    misses: u64,
}

/// What a shard keeps its entries in: a map of API-key principals, or the
/// agents' byte arena (`arena.rs`).
trait Entries {
    /// Empty, meant to hold at most `room` entries, for shard `shard`.
    fn with_room(room: usize, shard: usize) -> Self;
    /// What places a key in a shard and a generation slot (a hash).
    fn spread(key: &Self::Lookup) -> usize {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        BuildHasherDefault::<DefaultHasher>::default().hash_one(key) as usize
    }
    /// What a lookup names (`str` for a `String` key).
    type Lookup: Hash + Eq + ?Sized;
    type Key: Borrow<Self::Lookup>;
    type Value: ?Sized;
    /// What is stored for a value.
    type Stored;
    fn find(&self, key: &Self::Lookup) -> Option<&Self::Value>;
    fn has(&self, key: &Self::Lookup) -> bool;
    fn put(&mut self, key: Self::Key, value: Self::Stored);
    fn take_out(&mut self, key: &Self::Lookup);
    fn evict_one(&mut self);
    fn count(&self) -> usize;
    fn empty(&mut self);
}

impl<V> Entries for HashMap<String, V> {
    fn with_room(_: usize, _: usize) -> Self {
        HashMap::new()
    }
    type Lookup = str;
    type Key = String;
    type Value = V;
    type Stored = V;
    fn find(&self, key: &str) -> Option<&V> {
        self.get(key)
    }
    fn has(&self, key: &str) -> bool {
        self.contains_key(key)
    }
    fn put(&mut self, key: String, value: V) {
        self.insert(key, value);
    }
    fn take_out(&mut self, key: &str) {
        self.remove(key);
    }
    fn evict_one(&mut self) {
        // An arbitrary entry (the map's hasher is keyed per process):
        // random eviction, which keeps what is read often coming back.
        if let Some(victim) = self.keys().next().cloned() {
            self.remove(&victim);
        }
    }
    fn count(&self) -> usize {
        self.len()
    }
    fn empty(&mut self) {
        self.clear();
        self.shrink_to_fit();
    }
}

impl Entries for arena::Arena {
    fn with_room(room: usize, shard: usize) -> Self {
        arena::Arena::with_room(room, SHARDS, shard)
    }
    /// By id: a shard holds every 64th id (`arena.rs` indexes them directly).
    fn spread(key: &Id) -> usize {
        *key as usize
    }
    type Lookup = Id;
    type Key = Id;
    type Value = [u8];
    type Stored = Box<[u8]>;
    fn find(&self, key: &Id) -> Option<&[u8]> {
        self.get(*key)
    }
    fn has(&self, key: &Id) -> bool {
        self.contains(*key)
    }
    fn put(&mut self, key: Id, value: Box<[u8]>) {
        self.insert(key, &value);
    }
    fn take_out(&mut self, key: &Id) {
        self.remove(*key);
    }
    fn evict_one(&mut self) {
        arena::Arena::evict_one(self);
    }
    fn count(&self) -> usize {
        self.len()
    }
    fn empty(&mut self) {
        self.clear();
    }
}

/// A map split in shards, each behind its own lock, bounded in entries.
struct Sharded<M> {
    shards: Vec<Mutex<Shard<M>>>,
    per_shard: usize,
}

/// Where a key lives: its shard and its generation slot in that shard.
#[derive(Clone, Copy)]
struct Place {
    shard: usize,
    slot: usize,
}

/// Proof of what a key's generation was when a fetch began.
pub(crate) struct Ticket {
    place: Place,
    generation: u64,
}

impl<M: Entries> Sharded<M> {
    fn new(capacity: usize) -> Self {
        // Keys do not spread evenly: room for four standard deviations over
        // the mean, so that a cache sized to a directory holds all of it.
        let mean = capacity.div_ceil(SHARDS);
        let per_shard = if capacity == 0 { 0 } else { mean + 4 * mean.isqrt() + 4 };
        let shards = (0..SHARDS)
            .map(|i| Mutex::new(Shard { map: M::with_room(per_shard, i), generations: [0; SLOTS], hits: 0, misses: 0 }))
            .collect();
        Sharded { shards, per_shard }
    }

    /// Where `key` lives; the same for a key and its borrowed form (a
    /// `String` and its `str` hash alike), so lookups need no owned key.
    fn place(key: &M::Lookup) -> Place {
        let h = M::spread(key);
        Place { shard: h % SHARDS, slot: (h / SHARDS) % SLOTS }
    }

    fn lock(&self, i: usize) -> std::sync::MutexGuard<'_, Shard<M>> {
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value, or a ticket to store one fetched after this call.
    fn get(&self, key: &M::Lookup) -> Result<M::Value, Ticket>
    where
        M::Value: Clone + Sized,
    {
        self.read(key, |v| Some(v.clone()))
    }

    /// What `f` makes of the value, or a ticket as `get` gives (also when
    /// `f` makes nothing of it).
    fn read<R>(&self, key: &M::Lookup, f: impl FnOnce(&M::Value) -> Option<R>) -> Result<R, Ticket> {
        let place = Self::place(key);
        let mut shard = self.lock(place.shard);
        match shard.map.find(key).and_then(f) {
            Some(r) => {
                shard.hits += 1;
                Ok(r)
            }
            None => {
                shard.misses += 1;
                Err(Ticket { place, generation: shard.generations[place.slot] })
            }
        }
    }

    /// Lookups so far: (hits, misses).
    fn counts(&self) -> (u64, u64) {
        (0..SHARDS)
            .map(|i| {
                let s = self.lock(i);
                (s.hits, s.misses)
            })
            .fold((0, 0), |(h, m), (a, b)| (h + a, m + b))
    }

    /// Keeps a value fetched after `ticket` was given, unless its slot was
    /// forgotten since (which also covers a cache that went dark and live
    /// again meanwhile: both forget everything).
    fn put(&self, ticket: Ticket, key: M::Key, value: M::Stored) {
        if self.per_shard == 0 {
            return;
        }
        let mut shard = self.lock(ticket.place.shard);
        if shard.generations[ticket.place.slot] != ticket.generation {
            return;
        }
        if shard.map.count() >= self.per_shard && !shard.map.has(key.borrow()) {
            shard.map.evict_one();
        }
        shard.map.put(key, value);
    }

    /// Every slot's generation, before fetching a batch to `fill`.
    fn generations(&self) -> Vec<[u64; SLOTS]> {
        (0..SHARDS).map(|i| self.lock(i).generations).collect()
    }

    /// Adds an entry fetched after `generations` were taken, unless its slot
    /// moved since or its shard is full (a fill evicts nothing); whether it
    /// was added.
    fn fill(&self, generations: &[[u64; SLOTS]], key: M::Key, value: M::Stored) -> bool {
        let place = Self::place(key.borrow());
        let mut shard = self.lock(place.shard);
        if shard.generations[place.slot] != generations[place.shard][place.slot] || shard.map.count() >= self.per_shard {
            return false;
        }
        shard.map.put(key, value);
        true
    }

    fn forget(&self, key: &M::Lookup) {
        let place = Self::place(key);
        let mut shard = self.lock(place.shard);
        shard.generations[place.slot] += 1;
        shard.map.take_out(key);
    }

    fn forget_all(&self) {
        for i in 0..SHARDS {
            let mut shard = self.lock(i);
            shard.generations.iter_mut().for_each(|g| *g += 1);
            shard.map.empty();
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        (0..SHARDS).map(|i| self.lock(i).map.count()).sum()
    }
}

pub(crate) struct ReadCache {
    /// Packed (`packed.rs`) in byte arenas (`arena.rs`).
    agents: Sharded<arena::Arena>,
    principals: Sharded<HashMap<String, Principal>>,
    /// The agent search index (`search.rs`); built and kept only where the
    /// store runs its maintainer.
    pub(crate) search: SearchIndex,
    /// Whether notifications are being received: until they are, nothing is
    /// served from (or kept in) the cache.
    live: AtomicBool,
    /// The last `cache_epoch` seen (SQLite), `i64::MIN` before the first.
    epoch: AtomicI64,
    epoch_change: Mutex<()>,
    /// When `cache_epoch` was last read, in ns after `born`.
    epoch_read_at: AtomicU64,
    born: Instant,
}

/// How long another process's writes may go unseen (SQLite): reading
/// `cache_epoch` on every read cost a quarter of a cached read (a read
/// transaction takes file locks, system calls contended between threads).
const EPOCH_READ_EVERY: Duration = Duration::from_millis(1);

/// What a cache lookup found.
pub(crate) enum Cached<T> {
    Hit(T),
    /// Not cached: fetch, then offer it back with this ticket.
    Miss(Ticket),
    /// The cache is not serving: fetch and do not offer it back.
    Off,
}

impl ReadCache {
    pub(crate) fn new(agent_entries: usize) -> Self {
        ReadCache {
            agents: Sharded::new(agent_entries),
            principals: Sharded::new(PRINCIPALS),
            search: SearchIndex::new(),
            live: AtomicBool::new(false),
            epoch: AtomicI64::new(i64::MIN),
            epoch_change: Mutex::new(()),
            epoch_read_at: AtomicU64::new(0),
            born: Instant::now(),
        }
    }

    pub(crate) fn agent(&self, id: Id) -> Cached<AgentDetail> {
        if !self.is_live() {
            return Cached::Off;
        }
        match self.agents.read(&id, packed::unpack) {
            Ok(a) => Cached::Hit(a),
            Err(t) => Cached::Miss(t),
        }
    }

    /// An agent's own fields (a list row), if cached and serving.
    pub(crate) fn agent_row(&self, id: Id) -> Option<switchboard_domain::Agent> {
        if !self.is_live() {
            return None;
        }
        self.agents.read(&id, packed::unpack_agent).ok()
    }

    /// Lookups so far, for `/metrics`: (cache, hits, misses).
    pub(crate) fn counts(&self) -> Vec<(&'static str, u64, u64)> {
        let (ah, am) = self.agents.counts();
        let (kh, km) = self.principals.counts();
        let (sa, sd) = self.search.counts();
        vec![("agents", ah, am), ("api_keys", kh, km), ("search", sa, sd)]
    }

    pub(crate) fn keep_agent(&self, ticket: Ticket, a: &AgentDetail) {
        self.agents.put(ticket, a.agent.id, packed::pack(a));
    }

    /// Bytes the cached agents take (arenas as written, and slots).
    pub(crate) fn agent_bytes(&self) -> usize {
        (0..SHARDS).map(|i| self.agents.lock(i).map.used()).sum()
    }

    /// Before fetching a batch to `preload_agents`.
    pub(crate) fn agent_generations(&self) -> Vec<[u64; SLOTS]> {
        self.agents.generations()
    }

    /// Keeps agents fetched after `generations` were taken (see
    /// `Sharded::fill`); how many it kept.
    pub(crate) fn preload_agents(&self, generations: &[[u64; SLOTS]], batch: &[AgentDetail]) -> usize {
        if !self.is_live() {
            return 0;
        }
        batch.iter().filter(|a| self.agents.fill(generations, a.agent.id, packed::pack(a))).count()
    }

    pub(crate) fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    pub(crate) fn principal(&self, key_hash: &str) -> Cached<Principal> {
        if !self.is_live() {
            return Cached::Off;
        }
        match self.principals.get(key_hash) {
            Ok(p) => Cached::Hit(p),
            Err(t) => Cached::Miss(t),
        }
    }

    pub(crate) fn keep_principal(&self, ticket: Ticket, key_hash: &str, p: &Principal) {
        self.principals.put(ticket, key_hash.to_string(), p.clone());
    }

    pub(crate) fn forget_agent(&self, id: Id) {
        self.agents.forget(&id);
    }

    pub(crate) fn forget_agents(&self) {
        self.agents.forget_all();
    }

    pub(crate) fn forget_principals(&self) {
        self.principals.forget_all();
    }

    /// Also throws the name index away: what changed is unknown.
    fn forget_everything(&self) {
        self.forget_agents();
        self.forget_principals();
        self.search.invalidate();
    }

    /// Applies one change notification (see the PostgreSQL migration 0005).
    pub(crate) fn apply(&self, payload: &str) {
        match payload.split_once(':') {
            Some(("a" | "r", "*")) => {
                self.forget_agents();
                self.search.invalidate();
            }
            Some(("a" | "r", ids)) => {
                let mut rows = Vec::new();
                for id in ids.split(',') {
                    match id.parse::<Id>() {
                        Ok(id) => {
                            self.forget_agent(id);
                            rows.push(id);
                        }
                        Err(_) => {
                            tracing::warn!(payload, "change notification does not decode; forgetting all agents");
                            self.forget_agents();
                            self.search.invalidate();
                            return;
                        }
                    }
                }
                // Either kind may change what a search finds: a row's fields
                // (`r:` for creations, deletions and last names; `a:` for
                // every other update) or its assignments (`a:`).
                self.search.mark(rows);
            }
            Some(("k", _)) => self.forget_principals(),
            _ => {
                tracing::warn!(payload, "unknown change notification; forgetting everything");
                self.forget_everything();
            }
        }
    }

    /// Whether this reader should read `cache_epoch` now: at most one reader
    /// a millisecond does (`EPOCH_READ_EVERY`).
    pub(crate) fn epoch_due(&self) -> bool {
        let now = self.born.elapsed().as_nanos() as u64;
        let last = self.epoch_read_at.load(Ordering::Acquire);
        now.saturating_sub(last) >= EPOCH_READ_EVERY.as_nanos() as u64
            && self.epoch_read_at.compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed).is_ok()
    }

    /// Another process wrote if `epoch` moved since last seen (SQLite,
    /// migration 0005): what it changed is unknown, so everything goes.
    /// The new epoch is recorded only once everything is forgotten, so that
    /// a reader who sees it recorded finds nothing from before.
    pub(crate) fn observe_epoch(&self, epoch: i64) {
        if self.epoch.load(Ordering::Acquire) == epoch {
            return;
        }
        let _one_at_a_time = self.epoch_change.lock().unwrap_or_else(|e| e.into_inner());
        if self.epoch.load(Ordering::Acquire) != epoch {
            self.forget_everything();
            self.epoch.store(epoch, Ordering::Release);
        }
    }

    /// The listener is connected again: whatever changed while it was not is
    /// unknown, so everything is forgotten before serving again.
    pub(crate) fn go_live(&self) {
        self.forget_everything();
        self.live.store(true, Ordering::Release);
    }

    /// The listener lost its connection: stop serving at once.
    pub(crate) fn go_dark(&self) {
        self.live.store(false, Ordering::Release);
        self.forget_everything();
    }
}

/// A cache and the tasks that keep it coherent and fill it, stopped with
/// the store.
pub(crate) struct Listening {
    pub(crate) cache: Arc<ReadCache>,
    pub(crate) tasks: Vec<tokio::task::AbortHandle>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.tasks.iter().for_each(tokio::task::AbortHandle::abort);
    }
}

/// What a write may change, as far as the cache is concerned.
pub(crate) enum Change {
    /// An agent's row or assignments (the search index re-reads it).
    Agent(Id),
    /// Only an agent's login state (failed logins, lock, last login): nothing
    /// the search index holds.
    LoginState(Id),
    /// Some agents' rows or assignments (a group's members changed through
    /// SCIM): each is re-read, as for `Agent`.
    AgentList(Vec<Id>),
    /// Many agents' assignments at once (a deleted skill, group or service):
    /// the search index is built anew.
    Agents,
    /// Many agents' rows at once (an import).
    AgentRows,
    /// API keys or users.
    Principals,
}

/// Forgets a change when dropped: taken at the start of a write, it acts
/// when the write returns, after its COMMIT (or rollback), whichever way it
/// returns, so that the instance that took a write answers it only once its
/// cache no longer holds what the write replaced.
pub(crate) struct ForgetOnDrop<'a> {
    pub(crate) cache: Option<&'a ReadCache>,
    pub(crate) change: Change,
    /// The agent before and after a committed `Change::Agent` (`settled`).
    pub(crate) written: Option<(Row, Row)>,
}

impl ForgetOnDrop<'_> {
    /// The write committed: the agent as it was and as it is. The search
    /// index then takes the change as a difference (`SearchIndex::settle`)
    /// instead of re-reading the agent, and nothing if nothing changed.
    pub(crate) fn settled(&mut self, before: &AgentDetail, after: &AgentDetail) {
        if self.cache.is_some() {
            self.written = Some((Row::of(before), Row::of(after)));
        }
    }

    /// `settled` with a fast path's outcome; the agent after the write.
    pub(crate) fn settled_with(&mut self, (before, after): crate::backend::Written) -> AgentDetail {
        self.settled(&before, &after);
        after
    }
}

impl Drop for ForgetOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.cache {
            match self.change {
                Change::Agent(id) => {
                    c.forget_agent(id);
                    match &self.written {
                        Some((before, after)) if after.version == before.version => {}
                        Some((before, after)) if c.search.settle(before, after) => {}
                        _ => c.search.mark([id]),
                    }
                }
                Change::AgentList(ref ids) => {
                    ids.iter().for_each(|id| c.forget_agent(*id));
                    c.search.mark(ids.iter().copied());
                }
                Change::LoginState(id) => c.forget_agent(id),
                Change::Agents => {
                    c.forget_agents();
                    c.search.invalidate();
                }
                Change::AgentRows => {
                    c.forget_agents();
                    c.search.invalidate();
                }
                Change::Principals => c.forget_principals(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fetch_that_raced_a_forget_is_not_kept() {
        let s: Sharded<HashMap<String, &str>> = Sharded::new(100);
        let t = s.get("1").unwrap_err();
        s.forget("1");
        s.put(t, "1".into(), "stale");
        assert!(s.get("1").is_err());
        let t = s.get("1").unwrap_err();
        s.put(t, "1".into(), "fresh");
        assert_eq!(s.get("1").ok(), Some("fresh"));
        s.forget_all();
        assert!(s.get("1").is_err());
        // The agents' arenas alike.
        let a: Sharded<arena::Arena> = Sharded::new(100);
        let t = a.read(&1, |_| Some(())).unwrap_err();
        a.forget(&1);
        a.put(t, 1, Box::new(*b"stale"));
        assert!(a.read(&1, |v| Some(v.to_vec())).is_err());
        let t = a.read(&1, |_| Some(())).unwrap_err();
        a.put(t, 1, Box::new(*b"fresh"));
        assert_eq!(a.read(&1, |v| Some(v.to_vec())).ok(), Some(b"fresh".to_vec()));
    }

    #[test]
    fn entries_stay_bounded() {
        let s: Sharded<arena::Arena> = Sharded::new(SHARDS * 2);
        for k in 0..10_000 {
            if let Err(t) = s.read(&k, |_| Some(())) {
                s.put(t, k, Box::new(*b"v"));
            }
        }
        assert_eq!(s.len(), SHARDS * (2 + 4 + 4));
        // A cache sized to what it holds holds all of it.
        for n in [1_000i64, 100_000] {
            let s: Sharded<arena::Arena> = Sharded::new(n as usize);
            let generations = s.generations();
            assert!((0..n).all(|k| s.fill(&generations, k, Box::new(*b"v"))), "{n}");
        }
    }

    #[test]
    fn nothing_is_served_until_live() {
        let c = ReadCache::new(100);
        assert!(matches!(c.agent(1), Cached::Off));
        c.go_live();
        assert!(matches!(c.agent(1), Cached::Miss(_)));
        c.apply("k:*");
        c.apply("a:1,2,3");
        c.apply("a:*");
        c.go_dark();
        assert!(matches!(c.principal("h"), Cached::Off));
    }
}

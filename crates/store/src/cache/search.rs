//! The in-memory agent search index: every searchable field and every filter
//! of an agent list (issue 26), so that the native `q=` and per-field filters,
//! the console's search and LiveVox's Find Matching Agents and List Agents are
//! answered without the database (issue 8 did it for last names only).
//!
//! Per tenant:
//! - for each text field (loginId, first name, last name, display name,
//!   email, phone), each trigram of its lowercased values and the agents whose
//!   value holds it (a Roaring bitmap): a text of three or more characters
//!   gives candidates, a superset of the matches (the store checks each
//!   candidate's row); `q` is the union over the six fields, as the databases
//!   match it. Bits are only ever added: a renamed agent leaves its old bits,
//!   which the row check sees through; once such stale bits could be many,
//!   the index is built anew.
//! - exact bitmaps: the tenant's agents (`members`), the active ones, and per
//!   skill, service and group its agents. A list filtered by these alone is
//!   their intersection, exact, and a page at an offset is found by rank.
//! - the agents in loginId order (the bytes of the stored loginId, ties by
//!   id: LiveVox List Agents and the console's default order), a sorted vector
//!   of ids whose keys live in one arena (`Logins`): a page at an offset is a
//!   slice of it.
//!
//! Coherence rides on the agent cache's (`cache.rs`): the index serves only
//! while the cache does (PostgreSQL: while its listener follows changes), and
//! after a full build made once it was. A change to an agent (its row or its
//! assignments) marks its id *pending* (in-process writes after their COMMIT,
//! before they answer; other instances' through the `a:` and `r:`
//! notifications); a search reads the pending agents from the database with
//! its whole filter and merges those that match, leaving what the index holds
//! for them aside, so it never misses a change it was told of. The
//! maintainer (`maintain_search` in `sql/agents.rs`) re-reads pending agents
//! into the index and clears each id whose mark did not move meanwhile. What
//! it cannot know the extent of (another process's writes to a SQLite file, a
//! lost listener, a bulk change, a deleted skill, group or service) throws the
//! index away: searches go to the database until it is built again.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use roaring::RoaringBitmap;
use switchboard_domain::{Agent, AgentFilter, AgentSort, Id};

/// Pending agents above which a search goes to the database instead (it
/// would read them all).
pub(crate) const MAX_PENDING: usize = 64;

/// Ids the index holds at most (the loginId arena is addressed by id).
const MAX_ID: u32 = 1 << 26;

/// A trigram: three characters, 21 bits each.
type Gram = u64;

/// The text fields, in the order of `Row::texts`.
const LOGIN: usize = 0;
const LAST: usize = 2;
const PHONE: usize = 5;
const FIELDS: usize = 6;
const ALL: &[usize] = &[0, 1, 2, 3, 4, 5];

/// An agent as the index reads it (the maintainer's rows).
#[derive(Debug, Clone, Default)]
pub(crate) struct Row {
    pub(crate) id: Id,
    pub(crate) tenant: Id,
    /// loginId, first name, last name, display name, email, phone, as stored.
    pub(crate) texts: [Option<String>; FIELDS],
    pub(crate) active: bool,
    pub(crate) skills: Vec<Id>,
    pub(crate) services: Vec<Id>,
    pub(crate) groups: Vec<Id>,
    /// The agent's version (moved by every change of its row or assignments).
    pub(crate) version: i64,
}

impl Row {
    /// The index's view of an agent a write returned.
    pub(crate) fn of(d: &switchboard_domain::AgentDetail) -> Row {
        let a = &d.agent;
        Row {
            id: a.id,
            tenant: a.tenant_id,
            texts: [
                Some(a.login_id.clone()),
                Some(a.first_name.clone()),
                Some(a.last_name.clone()),
                a.display_name.clone(),
                a.email.clone(),
                Some(a.phone.clone()),
            ],
            active: a.active,
            skills: d.skills.iter().map(|s| s.skill_id).collect(),
            services: d.service_ids.clone(),
            groups: d.groups.iter().map(|g| g.group_id).collect(),
            version: a.version,
        }
    }
}

/// `Search::versions` of an agent deleted.
const GONE: u32 = u32::MAX;

/// One tenant's agents.
#[derive(Default)]
struct Tenant {
    /// Every agent of the tenant, exactly.
    members: RoaringBitmap,
    active: RoaringBitmap,
    skills: HashMap<Id, RoaringBitmap>,
    services: HashMap<Id, RoaringBitmap>,
    groups: HashMap<Id, RoaringBitmap>,
    grams: [HashMap<Gram, RoaringBitmap>; FIELDS],
    /// The members in loginId order (unsorted while a build adds).
    by_login: Vec<u32>,
}

/// Every agent's stored loginId, by id: `at[id]` is the offset in `arena` of
/// a two-byte length and the bytes (`u32::MAX`: none).
#[derive(Default)]
struct Logins {
    at: Vec<u32>,
    /// `head` of each id's loginId: ordering a search's matches reads one
    /// number per match, where the key took two reads that miss the cache.
    heads: Vec<u64>,
    arena: Vec<u8>,
    /// Bytes of replaced entries.
    garbage: usize,
}

impl Logins {
    fn get(&self, id: u32) -> Option<&[u8]> {
        let off = *self.at.get(id as usize)?;
        if off == u32::MAX {
            return None;
        }
        let o = off as usize;
        let len = u16::from_le_bytes([self.arena[o], self.arena[o + 1]]) as usize;
        Some(&self.arena[o + 2..o + 2 + len])
    }

    /// False if it cannot be held (an id or a loginId too large).
    fn set(&mut self, id: u32, login: &[u8]) -> bool {
        let (Ok(len), true) = (u16::try_from(login.len()), id < MAX_ID) else { return false };
        if self.at.len() <= id as usize {
            self.at.resize(id as usize + 1, u32::MAX);
            self.heads.resize(id as usize + 1, 0);
        }
        self.heads[id as usize] = head(login);
        if let Some(old) = self.get(id) {
            self.garbage += old.len() + 2;
        }
        let Ok(off) = u32::try_from(self.arena.len()) else { return false };
        self.arena.extend_from_slice(&len.to_le_bytes());
        self.arena.extend_from_slice(login);
        self.at[id as usize] = off;
        true
    }

    fn clear(&mut self, id: u32) {
        if let Some(old) = self.get(id) {
            self.garbage += old.len() + 2;
            self.at[id as usize] = u32::MAX;
        }
    }

    /// Each id's `head`, beside the id.
    fn heads(&self, ids: &[u32]) -> Vec<(u64, u32)> {
        ids.iter().map(|&id| (self.heads.get(id as usize).copied().unwrap_or(0), id)).collect()
    }

    /// The order of `key`, deciding by the heads where they differ.
    fn order(&self, a: (u64, u32), b: (u64, u32)) -> std::cmp::Ordering {
        a.0.cmp(&b.0).then_with(|| self.key(a.1).cmp(&self.key(b.1)))
    }

    /// The order of List Agents: the loginId's bytes, then the id.
    fn key(&self, id: u32) -> (&[u8], u32) {
        (self.get(id).unwrap_or_default(), id)
    }

    fn bytes(&self) -> usize {
        self.at.capacity() * 4 + self.heads.capacity() * 8 + self.arena.capacity()
    }
}

/// The index: every tenant's agents.
#[derive(Default)]
pub(crate) struct Search {
    tenants: HashMap<Id, Tenant>,
    logins: Logins,
    /// Agents indexed, and changes since the build that may have left stale
    /// bits (renames, deletions).
    agents: usize,
    stale: usize,
    /// An id or a value the index cannot hold was met: it cannot serve.
    overflow: bool,
    /// Each agent's version as the index holds it, by id (0: unknown;
    /// `GONE`: deleted): a write's change is applied as a difference only
    /// onto the version it changed (`settle`), and a re-read older than
    /// what is held is not applied. 4 bytes an agent.
    versions: Vec<u32>,
}

fn bitmap_add(map: &mut HashMap<Id, RoaringBitmap>, keys: &[Id], id: u32) {
    for k in keys {
        map.entry(*k).or_default().insert(id);
    }
}

impl Search {
    fn version_of(&self, id: u32) -> u32 {
        self.versions.get(id as usize).copied().unwrap_or(0)
    }

    /// Ids the index cannot hold (`MAX_ID` and beyond) get no version: the
    /// vector would otherwise grow to the id (16 GB for an id near 2^32).
    fn set_version(&mut self, id: u32, version: u32) {
        if id >= MAX_ID {
            return;
        }
        let i = id as usize;
        if self.versions.len() <= i {
            self.versions.resize(i + 1, 0);
        }
        self.versions[i] = version;
    }

    /// A version as held (those beyond u32 are not compared: 0, unknown).
    fn held(version: i64) -> u32 {
        u32::try_from(version).ok().filter(|v| *v != GONE).unwrap_or(0)
    }

    /// Adds an agent during a build (ids in any order; `finish` sorts).
    pub(crate) fn add(&mut self, row: &Row) {
        let Ok(id) = u32::try_from(row.id) else {
            self.overflow = true;
            return;
        };
        self.set_version(id, Self::held(row.version));
        self.agents += 1;
        let login = row.texts[LOGIN].as_deref().unwrap_or_default().as_bytes();
        if !self.logins.set(id, login) {
            self.overflow = true;
            return;
        }
        let t = self.tenants.entry(row.tenant).or_default();
        t.members.insert(id);
        t.by_login.push(id);
        Self::add_fields(t, id, row);
    }

    /// The row's bits (all but members and the loginId order); whether a
    /// text bit was new.
    fn add_fields(t: &mut Tenant, id: u32, row: &Row) -> bool {
        if row.active {
            t.active.insert(id);
        } else {
            t.active.remove(id);
        }
        bitmap_add(&mut t.skills, &row.skills, id);
        bitmap_add(&mut t.services, &row.services, id);
        bitmap_add(&mut t.groups, &row.groups, id);
        let mut new = false;
        for (f, text) in row.texts.iter().enumerate() {
            if let Some(text) = text {
                new |= Self::add_grams(t, f, text, id);
            }
        }
        new
    }

    /// The grams of one field's text; whether a bit was new.
    fn add_grams(t: &mut Tenant, field: usize, text: &str, id: u32) -> bool {
        let mut new = false;
        for g in grams(&text.to_lowercase()) {
            new |= t.grams[field].entry(g).or_default().insert(id);
        }
        new
    }

    /// After a build's last `add`: sorts the loginId orders, then moves
    /// every bitmap into blocks of its exact size allocated after all the
    /// build's are freed (`relocate`).
    pub(crate) fn finish(&mut self) {
        let logins = &self.logins;
        for t in self.tenants.values_mut() {
            let mut keyed = logins.heads(&t.by_login);
            keyed.sort_unstable_by(|a, b| logins.order(*a, *b));
            t.by_login = keyed.into_iter().map(|(_, id)| id).collect();
        }
        self.logins.arena.shrink_to_fit();
        self.logins.heads.shrink_to_fit();
        self.versions.shrink_to_fit();
        self.relocate();
    }

    /// Rewrites every bitmap (runs where they are smaller) through one
    /// buffer: all are serialized, the build's dropped, then all read back.
    /// Bits added one at a time leave a container's vector up to twice its
    /// length, and the blocks it grew out of free among the live ones; a
    /// bitmap rewritten in place lands in those holes, pinning the pages
    /// the build used (at 1M agents 147 MB resident for ~75 MB of bitmaps).
    /// Read back after the whole build is freed, the bitmaps fill fresh
    /// pages one after another. Meant for the thread that built (its
    /// allocator heap then holds nothing else of the build).
    fn relocate(&mut self) {
        fn put(out: &mut Vec<u8>, b: &mut RoaringBitmap) {
            b.optimize();
            // Writing into a Vec cannot fail.
            let _ = b.serialize_into(out);
        }
        fn take(r: &mut &[u8]) -> Option<RoaringBitmap> {
            RoaringBitmap::deserialize_unchecked_from(r).ok()
        }
        fn key(r: &mut &[u8]) -> Option<u64> {
            let (k, rest) = r.split_first_chunk::<8>()?;
            *r = rest;
            Some(u64::from_le_bytes(*k))
        }
        struct Shape {
            tenant: Id,
            by_login: Vec<u32>,
            /// Bitmaps of skills, services, groups, then of each field.
            counts: [usize; 3 + FIELDS],
        }
        let size: usize = self
            .tenants
            .values()
            .map(|t| {
                let n = |m: &HashMap<u64, RoaringBitmap>| m.values().map(|b| b.serialized_size() + 8).sum::<usize>();
                let e = |m: &HashMap<Id, RoaringBitmap>| m.values().map(|b| b.serialized_size() + 8).sum::<usize>();
                t.members.serialized_size()
                    + t.active.serialized_size()
                    + e(&t.skills)
                    + e(&t.services)
                    + e(&t.groups)
                    + t.grams.iter().map(n).sum::<usize>()
            })
            .sum();
        let mut blob = Vec::with_capacity(size);
        let mut shapes = Vec::with_capacity(self.tenants.len());
        for (tenant, mut t) in self.tenants.drain() {
            put(&mut blob, &mut t.members);
            put(&mut blob, &mut t.active);
            let mut counts = [0; 3 + FIELDS];
            for (i, m) in [&mut t.skills, &mut t.services, &mut t.groups].into_iter().enumerate() {
                counts[i] = m.len();
                for (k, b) in m.iter_mut() {
                    blob.extend_from_slice(&k.to_le_bytes());
                    put(&mut blob, b);
                }
            }
            for (f, m) in t.grams.iter_mut().enumerate() {
                counts[3 + f] = m.len();
                for (g, b) in m.iter_mut() {
                    blob.extend_from_slice(&g.to_le_bytes());
                    put(&mut blob, b);
                }
            }
            shapes.push(Shape { tenant, by_login: std::mem::take(&mut t.by_login), counts });
        }
        self.tenants.shrink_to_fit();
        let mut r = &blob[..];
        let mut read = |shape: Shape| -> Option<Tenant> {
            let mut t = Tenant { members: take(&mut r)?, active: take(&mut r)?, by_login: shape.by_login, ..Tenant::default() };
            for (i, m) in [&mut t.skills, &mut t.services, &mut t.groups].into_iter().enumerate() {
                m.reserve(shape.counts[i]);
                for _ in 0..shape.counts[i] {
                    let k = key(&mut r)? as Id;
                    m.insert(k, take(&mut r)?);
                }
            }
            for (f, m) in t.grams.iter_mut().enumerate() {
                m.reserve(shape.counts[3 + f]);
                for _ in 0..shape.counts[3 + f] {
                    let g = key(&mut r)?;
                    m.insert(g, take(&mut r)?);
                }
            }
            Some(t)
        };
        for shape in shapes {
            let tenant = shape.tenant;
            match read(shape) {
                Some(t) => {
                    self.tenants.insert(tenant, t);
                }
                // Not from bytes it wrote itself; the index cannot serve.
                None => self.overflow = true,
            }
        }
    }

    /// Where `id` is in the tenant's loginId order, by its recorded key.
    fn login_position(t: &Tenant, logins: &Logins, id: u32) -> Option<usize> {
        let key = logins.key(id);
        t.by_login.binary_search_by(|x| logins.key(*x).cmp(&key)).ok()
    }

    /// A row re-read after a change: its exact bits are set, its text bits
    /// added (if any was new, old ones may be stale).
    fn reread(&mut self, row: &Row) {
        let Ok(id) = u32::try_from(row.id) else {
            self.overflow = true;
            return;
        };
        // Older than what a write already applied (`settle`): not applied.
        let held = self.version_of(id);
        if held != 0 && held != GONE && Self::held(row.version) < held {
            return;
        }
        self.set_version(id, Self::held(row.version));
        // An agent never changes tenant; a new one may be in another's index
        // only if an id were reused, which it never is.
        let login = row.texts[LOGIN].as_deref().unwrap_or_default().as_bytes();
        let t = self.tenants.entry(row.tenant).or_default();
        let was_member = t.members.contains(id);
        if !Self::place_login(t, &mut self.logins, id, login, was_member) {
            self.overflow = true;
            return;
        }
        t.members.insert(id);
        for m in [&mut t.skills, &mut t.services, &mut t.groups] {
            m.values_mut().for_each(|b| {
                b.remove(id);
            });
        }
        if Self::add_fields(t, id, row) || !was_member {
            self.stale += 1;
        }
    }

    /// Puts `id` at its place in the tenant's loginId order, if it is not
    /// there with this loginId already; false if the loginId cannot be held.
    fn place_login(t: &mut Tenant, logins: &mut Logins, id: u32, login: &[u8], was_member: bool) -> bool {
        if was_member && logins.get(id) == Some(login) {
            return true;
        }
        if was_member {
            if let Some(p) = Self::login_position(t, logins, id) {
                t.by_login.remove(p);
            }
        }
        if !logins.set(id, login) {
            return false;
        }
        let key = logins.key(id);
        let p = t.by_login.partition_point(|x| logins.key(*x) < key);
        t.by_login.insert(p, id);
        true
    }

    /// A write's change of one agent, applied as the difference between
    /// the agent before and after it: only the bitmaps of what changed are
    /// touched, where a re-read takes the agent out of every skill, service
    /// and group bitmap of its tenant and adds every text's grams again
    /// (issue 26: that cost DeepCall's group mapping 28 % of its rate).
    /// Only onto the version the write changed; false otherwise (a write
    /// applied out of order, an agent the index does not hold): the caller
    /// then marks the agent for a re-read.
    fn settle(&mut self, before: &Row, after: &Row) -> bool {
        let Ok(id) = u32::try_from(after.id) else { return false };
        let held = self.version_of(id);
        if held == 0 || held == GONE || held != Self::held(before.version) || Self::held(after.version) <= held {
            return false;
        }
        if before.id != after.id || before.tenant != after.tenant {
            return false;
        }
        let Some(t) = self.tenants.get_mut(&after.tenant) else { return false };
        if !t.members.contains(id) {
            return false;
        }
        let login = after.texts[LOGIN].as_deref().unwrap_or_default().as_bytes();
        if !Self::place_login(t, &mut self.logins, id, login, true) {
            self.overflow = true;
            return true;
        }
        if after.active {
            t.active.insert(id);
        } else {
            t.active.remove(id);
        }
        for (map, was, is) in [
            (&mut t.skills, &before.skills, &after.skills),
            (&mut t.services, &before.services, &after.services),
            (&mut t.groups, &before.groups, &after.groups),
        ] {
            for k in was.iter().filter(|k| !is.contains(k)) {
                if let Some(b) = map.get_mut(k) {
                    b.remove(id);
                }
            }
            for k in is.iter().filter(|k| !was.contains(k)) {
                map.entry(*k).or_default().insert(id);
            }
        }
        let mut renamed = false;
        for (f, (was, is)) in before.texts.iter().zip(&after.texts).enumerate() {
            if was != is {
                renamed = true;
                if let Some(text) = is {
                    Self::add_grams(t, f, text, id);
                }
            }
        }
        // The old text's bits stay: stale, as after a re-read.
        if renamed {
            self.stale += 1;
        }
        self.set_version(id, Self::held(after.version));
        true
    }

    /// An agent deleted: out of every exact set; its text bits stay. An id
    /// the index does not hold (a write to an agent that does not exist is
    /// marked and re-read like any other) changes nothing and is not
    /// recorded: ids are never reused, so no re-read can bring it back, and
    /// a client can name any id up to 2^32 (recording it once grew the
    /// versions to 16 GB, and each counted towards a rebuild).
    fn gone(&mut self, id: Id) {
        let Ok(id) = u32::try_from(id) else { return };
        let Some(t) = self.tenants.values_mut().find(|t| t.members.contains(id)) else { return };
        t.members.remove(id);
        if let Some(p) = Self::login_position(t, &self.logins, id) {
            t.by_login.remove(p);
        }
        t.active.remove(id);
        for m in [&mut t.skills, &mut t.services, &mut t.groups] {
            m.values_mut().for_each(|b| {
                b.remove(id);
            });
        }
        self.logins.clear(id);
        self.stale += 1;
        self.set_version(id, GONE);
    }

    /// Whether stale bits may now be so many that building anew is worth it
    /// (a quarter of the agents, at least 10,000).
    fn worn(&self) -> bool {
        self.stale > (self.agents / 4).max(10_000) || self.logins.garbage > (self.logins.arena.len() / 2).max(1 << 20)
    }

    pub(crate) fn agents(&self) -> usize {
        self.agents
    }

    /// About how much memory each structure holds: (what, bytes).
    pub(crate) fn bytes(&self) -> Vec<(&'static str, usize)> {
        let map = |m: &HashMap<Id, RoaringBitmap>| {
            m.capacity() * (size_of::<Id>() + size_of::<RoaringBitmap>() + 1)
                + m.values().map(RoaringBitmap::serialized_size).sum::<usize>()
        };
        let grams = |m: &HashMap<Gram, RoaringBitmap>| {
            m.capacity() * (size_of::<Gram>() + size_of::<RoaringBitmap>() + 1)
                + m.values().map(RoaringBitmap::serialized_size).sum::<usize>()
        };
        let sum = |f: &dyn Fn(&Tenant) -> usize| self.tenants.values().map(f).sum::<usize>();
        let names =
            ["loginId trigrams", "firstName trigrams", "lastName trigrams", "displayName trigrams", "email trigrams", "phone trigrams"];
        let mut out: Vec<(&'static str, usize)> = names.iter().enumerate().map(|(f, n)| (*n, sum(&|t| grams(&t.grams[f])))).collect();
        out.push(("members and active", sum(&|t| t.members.serialized_size() + t.active.serialized_size())));
        out.push(("skills, services, groups", sum(&|t| map(&t.skills) + map(&t.services) + map(&t.groups))));
        out.push(("loginId order", sum(&|t| t.by_login.capacity() * 4) + self.logins.bytes()));
        out.push(("versions", self.versions.capacity() * 4));
        out
    }
}

/// The distinct trigrams of a lowercased text.
fn grams(lower: &str) -> HashSet<Gram> {
    let chars: Vec<u64> = lower.chars().map(u64::from).collect();
    chars.windows(3).map(|w| (w[0] << 42) | (w[1] << 21) | w[2]).collect()
}

/// One text condition of a filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Text {
    /// One of these fields holds the (lowercased) text.
    Contains { fields: &'static [usize], lower: String },
    /// The phone is these digits, with or without a leading `+`.
    PhoneIs { digits: String },
}

impl Text {
    /// The text whose trigrams find candidates, if it has one.
    fn gram_text(&self) -> (&'static [usize], &str) {
        match self {
            Text::Contains { fields, lower } => (fields, lower),
            Text::PhoneIs { digits } => (&[PHONE], digits),
        }
    }

    fn drives(&self) -> bool {
        self.gram_text().1.chars().count() >= 3
    }

    /// Whether an agent's row meets it, as the databases match.
    fn matches(&self, a: &Agent) -> bool {
        match self {
            Text::Contains { fields, lower } => fields.iter().any(|f| {
                let v = match *f {
                    0 => Some(a.login_id.as_str()),
                    1 => Some(a.first_name.as_str()),
                    2 => Some(a.last_name.as_str()),
                    3 => a.display_name.as_deref(),
                    4 => a.email.as_deref(),
                    _ => Some(a.phone.as_str()),
                };
                v.is_some_and(|v| contains_lower(v, lower))
            }),
            Text::PhoneIs { digits } => a.phone.strip_prefix('+').unwrap_or(&a.phone) == digits,
        }
    }
}

/// A filter as the index answers it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Compiled {
    pub(crate) texts: Vec<Text>,
    active: Option<bool>,
    skill: Option<Id>,
    service: Option<Id>,
    group: Option<Id>,
    pub(crate) order: Order,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Order {
    Id { descending: bool },
    Login { descending: bool },
}

impl Compiled {
    /// The filter as the index answers it, or None where the database must:
    /// a last-name order, or text conditions none of which has a trigram.
    pub(crate) fn of(f: &AgentFilter) -> Option<Compiled> {
        let order = match f.sort {
            AgentSort::IdAsc => Order::Id { descending: false },
            AgentSort::IdDesc => Order::Id { descending: true },
            AgentSort::LoginIdAsc => Order::Login { descending: false },
            AgentSort::LoginIdDesc => Order::Login { descending: true },
            AgentSort::LastNameAsc | AgentSort::LastNameDesc => return None,
        };
        // As `agent_list_query` reads them: trimmed, blank ones ignored.
        let text = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_lowercase);
        let mut texts = Vec::new();
        for (value, fields) in
            [(&f.q, ALL), (&f.login_id_contains, &[LOGIN][..]), (&f.last_name_contains, &[LAST]), (&f.phone_contains, &[PHONE])]
        {
            if let Some(lower) = text(value) {
                texts.push(Text::Contains { fields, lower });
            }
        }
        if let Some(n) = &f.phone_number {
            texts.push(Text::PhoneIs { digits: switchboard_domain::validate::phone_digits(n) });
        }
        if !texts.is_empty() && !texts.iter().any(Text::drives) {
            return None;
        }
        Some(Compiled { texts, active: f.active, skill: f.skill_id, service: f.service_id, group: f.group_id, order })
    }

    /// No condition at all (the whole list).
    pub(crate) fn is_unfiltered(&self) -> bool {
        self.texts.is_empty() && self.active.is_none() && self.skill.is_none() && self.service.is_none() && self.group.is_none()
    }

    /// Whether a row meets the text conditions (the rest is exact in the index).
    pub(crate) fn matches(&self, a: &Agent) -> bool {
        self.texts.iter().all(|t| t.matches(a))
    }

    /// The order's key of a row, to merge pending rows in.
    pub(crate) fn sort(&self, rows: &mut [Agent]) {
        match self.order {
            Order::Id { .. } => rows.sort_unstable_by_key(|a| a.id),
            Order::Login { .. } => rows.sort_unstable_by(|a, b| (a.login_id.as_bytes(), a.id).cmp(&(b.login_id.as_bytes(), b.id))),
        }
        if matches!(self.order, Order::Id { descending: true } | Order::Login { descending: true }) {
            rows.reverse();
        }
    }
}

/// Where a batch of candidates resumes: after this candidate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resume {
    Id(u32),
    Login(Box<[u8]>, u32),
}

/// A search's request for candidates.
pub(crate) struct Ask<'a> {
    pub(crate) tenant: Id,
    pub(crate) filter: &'a Compiled,
    /// Only ids above this (keyset paging).
    pub(crate) after: Id,
    /// Skip this many matches (only without text conditions, where the
    /// index's answer is exact, and only if no agent is pending).
    pub(crate) skip: u64,
    pub(crate) resume: Option<Resume>,
    /// Pending agents the caller already reads (from the first answer).
    pub(crate) known_pending: &'a [Id],
    pub(crate) want: usize,
}

/// What the index answers.
#[derive(Debug)]
pub(crate) struct Candidates {
    /// In order: without text conditions, exactly the matches (not pending);
    /// with them, a superset of the matches, to check against their rows.
    pub(crate) ids: Vec<Id>,
    /// Fewer than wanted: there are no more.
    pub(crate) exhausted: bool,
    /// Whether `skip` was applied.
    pub(crate) skipped: bool,
    /// Pending agents (first answer only): to read, check and merge.
    pub(crate) pending: Vec<Id>,
    pub(crate) resume: Option<Resume>,
}

struct Pending {
    marks: HashMap<Id, u64>,
    next: u64,
}

/// The index and what keeps it coherent.
pub(crate) struct SearchIndex {
    search: RwLock<Search>,
    /// Built since the last invalidation, and not overflowed.
    ready: AtomicBool,
    /// Moved by every invalidation: a build that began before one is not
    /// made ready.
    invalidations: AtomicU64,
    pending: Mutex<Pending>,
    /// Wakes the maintainer.
    pub(crate) wake: tokio::sync::Notify,
    /// Lists and searches answered here, and left to the database (`/metrics`).
    answered: AtomicU64,
    declined: AtomicU64,
}

impl SearchIndex {
    /// Counts a list or search: answered here or by the database.
    pub(crate) fn count(&self, answered: bool) {
        let c = if answered { &self.answered } else { &self.declined };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// (answered here, by the database).
    pub(crate) fn counts(&self) -> (u64, u64) {
        (self.answered.load(Ordering::Relaxed), self.declined.load(Ordering::Relaxed))
    }

    pub(crate) fn new() -> Self {
        SearchIndex {
            search: RwLock::new(Search::default()),
            ready: AtomicBool::new(false),
            invalidations: AtomicU64::new(0),
            pending: Mutex::new(Pending { marks: HashMap::new(), next: 0 }),
            wake: tokio::sync::Notify::new(),
            answered: AtomicU64::new(0),
            declined: AtomicU64::new(0),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// These agents changed (or may have): searches read them from the
    /// database until the maintainer has them.
    pub(crate) fn mark(&self, ids: impl IntoIterator<Item = Id>) {
        let mut p = self.pending();
        for id in ids {
            p.next += 1;
            let n = p.next;
            p.marks.insert(id, n);
        }
        drop(p);
        self.wake.notify_one();
    }

    /// What changed is unknown: stop serving; the maintainer builds anew.
    pub(crate) fn invalidate(&self) {
        self.ready.store(false, Ordering::Release);
        self.invalidations.fetch_add(1, Ordering::AcqRel);
        self.wake.notify_one();
    }

    /// A write's committed change of one agent (`Search::settle`); false
    /// where it cannot be applied as a difference: the caller marks it.
    pub(crate) fn settle(&self, before: &Row, after: &Row) -> bool {
        if !self.is_ready() {
            return false;
        }
        let worn = {
            let mut s = self.search.write().unwrap_or_else(|e| e.into_inner());
            if !s.settle(before, after) {
                return false;
            }
            s.worn() || s.overflow
        };
        self.rebuild_if(worn);
        true
    }

    /// After changes were applied: builds anew once stale bits may be many
    /// (or a value could not be held).
    fn rebuild_if(&self, worn: bool) {
        if worn && self.is_ready() {
            tracing::info!("search index: many agents changed since it was built; building anew");
            self.invalidate();
        }
    }

    /// The pending marks, to re-read.
    pub(crate) fn pending_marks(&self) -> Vec<(Id, u64)> {
        self.pending().marks.iter().map(|(&id, &n)| (id, n)).collect()
    }

    /// Applies rows re-read for `marks` (an id absent is an agent gone) and
    /// clears each mark that did not move since. Builds anew once stale bits
    /// may be many.
    pub(crate) fn reconcile(&self, marks: &[(Id, u64)], rows: &HashMap<Id, Row>) {
        let worn = {
            let mut s = self.search.write().unwrap_or_else(|e| e.into_inner());
            for (id, _) in marks {
                match rows.get(id) {
                    Some(row) => s.reread(row),
                    None => s.gone(*id),
                }
            }
            s.worn() || s.overflow
        };
        let mut p = self.pending();
        for (id, n) in marks {
            if p.marks.get(id) == Some(n) {
                p.marks.remove(id);
            }
        }
        drop(p);
        self.rebuild_if(worn);
    }

    /// Starts a build: forgets the old index; the build's own `Search` is
    /// installed by `finish_build`. Returns the invalidation count it saw.
    pub(crate) fn begin_build(&self) -> u64 {
        let seen = self.invalidations.load(Ordering::Acquire);
        // Freed after the lock is let go: at 1M agents that is ~100 MB of
        // bitmaps, which searches (on async workers) would wait for.
        let old = std::mem::take(&mut *self.search.write().unwrap_or_else(|e| e.into_inner()));
        drop(old);
        seen
    }

    /// Installs a build; it serves only if nothing invalidated it meanwhile
    /// (then the maintainer builds again).
    pub(crate) fn finish_build(&self, built: Search, seen: u64) -> bool {
        let overflow = built.overflow;
        *self.search.write().unwrap_or_else(|e| e.into_inner()) = built;
        if overflow {
            tracing::warn!("search index: agent ids beyond 2^26 or loginIds beyond 64 KiB; searches read the database");
            return false;
        }
        if self.invalidations.load(Ordering::Acquire) != seen {
            return false;
        }
        self.ready.store(true, Ordering::Release);
        // An invalidation between the check and the store must win.
        if self.invalidations.load(Ordering::Acquire) != seen {
            self.ready.store(false, Ordering::Release);
            return false;
        }
        true
    }

    /// Candidates for a search, or None where the database must answer (not
    /// ready, too many pending agents, an offset too deep to merge).
    pub(crate) fn ask(&self, a: &Ask<'_>) -> Option<Candidates> {
        if !self.is_ready() {
            return None;
        }
        let (current, pending): (Vec<Id>, Vec<Id>) = {
            let p = self.pending();
            if p.marks.len() > MAX_PENDING {
                return None;
            }
            let current: Vec<Id> = p.marks.keys().copied().collect();
            let pending = if a.resume.is_none() && a.known_pending.is_empty() { current.clone() } else { Vec::new() };
            (current, pending)
        };
        let exact = a.filter.texts.is_empty();
        // Skipping by rank needs every match in the index: none pending.
        let skip = if exact && current.is_empty() && a.known_pending.is_empty() { a.skip } else { 0 };
        let s = self.search.read().unwrap_or_else(|e| e.into_inner());
        let none = || Some(Candidates { ids: Vec::new(), exhausted: true, skipped: skip > 0, pending: pending.clone(), resume: None });
        let Some(t) = s.tenants.get(&a.tenant) else { return none() };
        let unfiltered =
            exact && a.filter.active.is_none() && a.filter.skill.is_none() && a.filter.service.is_none() && a.filter.group.is_none();
        let excluded = |id: u32| {
            let id = i64::from(id);
            current.contains(&id) || a.known_pending.contains(&id)
        };
        let after = u32::try_from(a.after.max(0)).ok()?;
        // Without a skip by rank, the caller skips: it needs that many more.
        let want = if exact && skip < a.skip { usize::try_from(a.skip).ok()?.saturating_add(a.want) } else { a.want };
        if want > 20_000 {
            return None;
        }
        let (ids, resume): (Vec<u32>, Option<Resume>) = match a.filter.order {
            // The whole list in loginId order: a slice of the order.
            Order::Login { descending } if unfiltered && a.after <= 0 && current.is_empty() && a.known_pending.is_empty() => {
                let n = t.by_login.len();
                let start = match &a.resume {
                    None => 0,
                    Some(Resume::Login(k, id)) => {
                        let key = (&k[..], *id);
                        if descending {
                            n - t.by_login.partition_point(|x| s.logins.key(*x) < key)
                        } else {
                            t.by_login.partition_point(|x| s.logins.key(*x) <= key)
                        }
                    }
                    Some(Resume::Id(_)) => return None,
                };
                let from = start.saturating_add(usize::try_from(skip).unwrap_or(usize::MAX)).min(n);
                let ids: Vec<u32> = if descending {
                    t.by_login[..n - from].iter().rev().take(want).copied().collect()
                } else {
                    t.by_login[from..].iter().take(want).copied().collect()
                };
                let resume = ids.last().map(|&id| Resume::Login(s.logins.get(id).unwrap_or_default().into(), id));
                (ids, resume)
            }
            order => {
                let mut set = candidates(t, a.filter);
                if after > 0 {
                    set.remove_range(..=after);
                }
                for &id in current.iter().chain(a.known_pending) {
                    if let Ok(id) = u32::try_from(id) {
                        set.remove(id);
                    }
                }
                match order {
                    Order::Id { descending } => {
                        let ids: Vec<u32> = match (descending, &a.resume) {
                            (false, None) => match u32::try_from(skip).ok().and_then(|k| set.select(k)) {
                                Some(first) => set.range(first..).take(want).collect(),
                                None => Vec::new(),
                            },
                            (true, None) => {
                                match set.len().checked_sub(skip + 1).and_then(|k| u32::try_from(k).ok()).and_then(|k| set.select(k)) {
                                    Some(first) => set.range(..=first).rev().take(want).collect(),
                                    None => Vec::new(),
                                }
                            }
                            (false, Some(Resume::Id(r))) => set.range(r.saturating_add(1)..).take(want).collect(),
                            (true, Some(Resume::Id(r))) => set.range(..*r).rev().take(want).collect(),
                            (_, Some(Resume::Login(..))) => return None,
                        };
                        let resume = ids.last().map(|&id| Resume::Id(id));
                        (ids, resume)
                    }
                    Order::Login { descending } => {
                        let (ids, resume) = in_login_order(t, &s.logins, &set, descending, &a.resume, skip, want, &excluded);
                        (ids, resume)
                    }
                }
            }
        };
        let ids: Vec<Id> = ids.into_iter().filter(|&id| !excluded(id)).map(i64::from).collect();
        Some(Candidates { exhausted: ids.len() < want, ids, skipped: skip > 0, pending, resume })
    }
}

/// The tenant's agents that may match: the intersection of each driving
/// text's trigram bitmaps (the union over its fields), and the exact sets.
fn candidates(t: &Tenant, f: &Compiled) -> RoaringBitmap {
    let mut set: Option<RoaringBitmap> = None;
    for text in f.texts.iter().filter(|t| t.drives()) {
        let (fields, s) = text.gram_text();
        let want = grams(s);
        let mut union = RoaringBitmap::new();
        for &field in fields {
            let mut maps: Vec<&RoaringBitmap> = Vec::with_capacity(want.len());
            for g in &want {
                match t.grams[field].get(g) {
                    Some(b) => maps.push(b),
                    None => {
                        maps.clear();
                        break;
                    }
                }
            }
            if maps.is_empty() {
                continue;
            }
            // Rarest first; the first intersection allocates only its result
            // (cloning the rarest bitmap, tens of KB, was a search's largest cost).
            maps.sort_by_key(|b| b.len());
            let (mut hit, done) = match (&set, maps.get(1)) {
                (Some(s), _) => (maps[0] & s, 1),
                // The second is taken: intersecting with it again cost a
                // scan of both (issue 26).
                (None, Some(second)) => (maps[0] & *second, 2),
                (None, None) => (maps[0].clone(), 1),
            };
            for b in &maps[done..] {
                if hit.is_empty() {
                    break;
                }
                hit &= *b;
            }
            union |= hit;
        }
        set = Some(union);
    }
    let mut set = match set {
        Some(mut s) => {
            s &= &t.members;
            s
        }
        None => t.members.clone(),
    };
    match f.active {
        Some(true) => set &= &t.active,
        Some(false) => set -= &t.active,
        None => {}
    }
    for (want, map) in [(f.skill, &t.skills), (f.service, &t.services), (f.group, &t.groups)] {
        if let Some(k) = want {
            match map.get(&k) {
                Some(b) => set &= b,
                None => set.clear(),
            }
        }
    }
    set
}

/// A set's members in loginId order, from `resume` on, skipping `skip`: the
/// set sorted when it is small, else the tenant's order walked and filtered
/// (whichever costs fewer steps).
#[allow(clippy::too_many_arguments)]
fn in_login_order(
    t: &Tenant,
    logins: &Logins,
    set: &RoaringBitmap,
    descending: bool,
    resume: &Option<Resume>,
    skip: u64,
    want: usize,
    excluded: &dyn Fn(u32) -> bool,
) -> (Vec<u32>, Option<Resume>) {
    let resume_key = match resume {
        Some(Resume::Login(k, id)) => Some((&k[..], *id)),
        _ => None,
    };
    let past = |id: u32| match resume_key {
        None => true,
        Some(k) if descending => logins.key(id) < k,
        Some(k) => logins.key(id) > k,
    };
    let skip = usize::try_from(skip).unwrap_or(usize::MAX);
    let n = set.len().max(1) as f64;
    let total = t.by_login.len().max(1) as f64;
    let end = skip.saturating_add(want);
    // Selecting the page's rows is linear in the set; only they are sorted.
    let sort_cost = 3.0 * n + (end as f64) * (end as f64).log2().max(1.0);
    let walk_cost = end as f64 * total / n;
    let ids: Vec<u32> = if sort_cost < walk_cost {
        // Ordered by the heads (the keys only where they tie): reading both
        // keys at each comparison missed the cache twice each time, a third
        // of a console search at 1M agents.
        let ids: Vec<u32> = set.iter().filter(|&id| !excluded(id) && past(id)).collect();
        let mut v = logins.heads(&ids);
        let in_order = |a: &(u64, u32), b: &(u64, u32)| {
            let o = logins.order(*a, *b);
            if descending {
                o.reverse()
            } else {
                o
            }
        };
        if end < v.len() {
            v.select_nth_unstable_by(end, in_order);
            v.truncate(end);
        }
        v.sort_unstable_by(in_order);
        v.into_iter().skip(skip).map(|(_, id)| id).collect()
    } else {
        let start = match resume_key {
            None if descending => t.by_login.len(),
            None => 0,
            Some(k) if descending => t.by_login.partition_point(|x| logins.key(*x) < k),
            Some(k) => t.by_login.partition_point(|x| logins.key(*x) <= k),
        };
        let keep = |id: &u32| set.contains(*id) && !excluded(*id);
        if descending {
            t.by_login[..start].iter().rev().copied().filter(keep).skip(skip).take(want).collect()
        } else {
            t.by_login[start..].iter().copied().filter(keep).skip(skip).take(want).collect()
        }
    };
    let resume = ids.last().map(|&id| Resume::Login(logins.get(id).unwrap_or_default().into(), id));
    (ids, resume)
}

/// A loginId's first 8 bytes as a number that orders as the bytes do
/// (shorter ones padded with zeros: equal heads still compare the keys).
fn head(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = key.len().min(8);
    b[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(b)
}

/// Whether `name` contains `lower` (a lowercased text) case-insensitively,
/// as the index matches: without allocating where both are ASCII.
pub(crate) fn contains_lower(name: &str, lower: &str) -> bool {
    if name.is_ascii() && lower.is_ascii() {
        let (h, n) = (name.as_bytes(), lower.as_bytes());
        return n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    name.to_lowercase().contains(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: Id, tenant: Id, login: &str, last: &str, phone: &str) -> Row {
        Row {
            id,
            tenant,
            texts: [
                Some(login.into()),
                Some("Ann".into()),
                Some(last.into()),
                None,
                Some(format!("{}@x.example", login.to_lowercase())),
                Some(phone.into()),
            ],
            active: id % 2 == 1,
            skills: vec![id % 3],
            services: vec![],
            groups: vec![],
            version: 1,
        }
    }

    fn ready_index(rows: &[Row]) -> SearchIndex {
        let ix = SearchIndex::new();
        let seen = ix.begin_build();
        let mut s = Search::default();
        rows.iter().for_each(|r| s.add(r));
        s.finish();
        assert!(ix.finish_build(s, seen));
        ix
    }

    fn filter(f: AgentFilter) -> Compiled {
        Compiled::of(&f).expect("the index answers")
    }

    fn ids(ix: &SearchIndex, f: &Compiled, want: usize) -> Vec<Id> {
        ix.ask(&Ask { tenant: 1, filter: f, after: 0, skip: 0, resume: None, known_pending: &[], want }).expect("answers").ids
    }

    fn sample() -> Vec<Row> {
        vec![
            row(3, 1, "B1", "Anderson", "5551234"),
            row(1, 1, "C1", "Sanders", "+5559876"),
            row(2, 1, "A1", "Smith", "5550000"),
            row(4, 2, "A2", "Anders", "5551234"),
            row(5, 1, "A10", "ÅNDERSSON", ""),
        ]
    }

    #[test]
    fn candidates_by_field_and_filters() {
        let ix = ready_index(&sample());
        let last = |t: &str| filter(AgentFilter { last_name_contains: Some(t.into()), ..Default::default() });
        assert_eq!(ids(&ix, &last("ander"), 10), vec![1, 3]);
        assert_eq!(ids(&ix, &last("NDE"), 10), vec![1, 3, 5]);
        assert_eq!(ids(&ix, &last("åndersson"), 10), vec![5]);
        assert!(Compiled::of(&AgentFilter { last_name_contains: Some("an".into()), ..Default::default() }).is_none());
        let q = filter(AgentFilter { q: Some("123".into()), ..Default::default() });
        assert_eq!(ids(&ix, &q, 10), vec![3], "the phone, by q");
        let phone = filter(AgentFilter { phone_number: Some("(555) 9876".into()), ..Default::default() });
        assert_eq!(ids(&ix, &phone, 10), vec![1], "candidates by the phone's digits");
        let active = filter(AgentFilter { active: Some(true), ..Default::default() });
        assert_eq!(ids(&ix, &active, 10), vec![1, 3, 5]);
        let skill = filter(AgentFilter { skill_id: Some(2), active: Some(false), ..Default::default() });
        assert_eq!(ids(&ix, &skill, 10), vec![2]);
        let by_login = filter(AgentFilter { sort: AgentSort::LoginIdAsc, ..Default::default() });
        assert_eq!(ids(&ix, &by_login, 10), vec![2, 5, 3, 1], "bytes: A1 < A10 < B1 < C1");
        let desc = filter(AgentFilter { sort: AgentSort::LoginIdDesc, active: Some(true), ..Default::default() });
        assert_eq!(ids(&ix, &desc, 10), vec![1, 3, 5]);
        let lastname_order = AgentFilter { sort: AgentSort::LastNameAsc, ..Default::default() };
        assert!(Compiled::of(&lastname_order).is_none());
    }

    #[test]
    fn writes_apply_as_differences_in_version_order() {
        let ix = ready_index(&sample());
        let by = |f: AgentFilter| ids(&ix, &filter(f), 10);
        let skill = |k| AgentFilter { skill_id: Some(k), ..Default::default() };
        let group = |k| AgentFilter { group_id: Some(k), ..Default::default() };
        let last = |t: &str| AgentFilter { last_name_contains: Some(t.into()), ..Default::default() };
        let by_login = AgentFilter { sort: AgentSort::LoginIdAsc, ..Default::default() };
        let v1 = sample().into_iter().find(|r| r.id == 2).unwrap();
        let mut v2 = v1.clone();
        (v2.version, v2.skills, v2.groups, v2.active) = (2, vec![1], vec![7], true);
        v2.texts[LOGIN] = Some("D1".into());
        v2.texts[LAST] = Some("Pedersen".into());
        assert!(ix.settle(&v1, &v2));
        assert_eq!(by(skill(2)), vec![5]);
        assert_eq!((by(skill(1)), by(group(7))), (vec![1, 2], vec![2]));
        assert_eq!(by(last("derse")), vec![2]);
        assert_eq!(by(by_login.clone()), vec![5, 3, 1, 2], "A1 became D1");
        assert_eq!(by(AgentFilter { active: Some(true), ..Default::default() }), vec![1, 2, 3, 5]);
        // A write applied out of order is refused (its caller marks the agent).
        let mut v3 = v2.clone();
        (v3.version, v3.groups) = (3, vec![8]);
        assert!(!ix.settle(&v1, &v3), "not onto the version it changed");
        assert!(!ix.settle(&v2, &v2), "nothing newer");
        // A re-read older than what a write applied is not applied.
        ix.reconcile(&[(2, 1)], &HashMap::from([(2, v1.clone())]));
        assert_eq!(by(group(7)), vec![2]);
        // A newer re-read is, and later writes follow it.
        ix.reconcile(&[(2, 1)], &HashMap::from([(2, v3.clone())]));
        assert!(by(group(7)).is_empty());
        assert_eq!(by(group(8)), vec![2]);
        let mut v4 = v3.clone();
        (v4.version, v4.groups) = (4, vec![]);
        assert!(ix.settle(&v3, &v4));
        assert!(by(group(8)).is_empty());
        // Once deleted, no write is applied to it.
        ix.reconcile(&[(2, 1)], &HashMap::new());
        let mut v5 = v4.clone();
        v5.version = 5;
        assert!(!ix.settle(&v4, &v5));
        assert_eq!(by(by_login), vec![5, 3, 1]);
    }

    #[test]
    fn ids_the_index_does_not_hold_cost_nothing() {
        let ix = ready_index(&sample());
        let held = |ix: &SearchIndex| {
            let s = ix.search.read().unwrap();
            (s.versions.capacity(), s.stale)
        };
        let before = held(&ix);
        // A write to an agent that does not exist is marked; its re-read
        // finds nothing. Any client can name such ids.
        // (The smaller ids first: were they recorded, the test fails before
        // it asks for 16 GB.)
        for ids in [&[999, (1 << 26) + 5][..], &[4_000_000_000, Id::from(u32::MAX) - 1]] {
            ix.reconcile(&ids.iter().map(|&id| (id, 1)).collect::<Vec<_>>(), &HashMap::new());
            assert_eq!(held(&ix), before, "no version recorded, nothing counted stale");
        }
        // Nor does a row the index cannot hold grow it (it stops serving).
        let mut far = sample().into_iter().next().unwrap();
        far.id = 4_000_000_000;
        ix.reconcile(&[(far.id, 1)], &HashMap::from([(far.id, far)]));
        assert_eq!(ix.search.read().unwrap().versions.capacity(), before.0);
    }

    #[test]
    fn relocating_keeps_every_bitmap() {
        let snapshot = |s: &Search| {
            let mut out = Vec::new();
            for (tenant, t) in &s.tenants {
                let mut maps: Vec<(usize, u64, Vec<u32>)> = Vec::new();
                for (i, m) in [&t.skills, &t.services, &t.groups].into_iter().enumerate() {
                    maps.extend(m.iter().map(|(k, b)| (i, *k as u64, b.iter().collect())));
                }
                for (f, m) in t.grams.iter().enumerate() {
                    maps.extend(m.iter().map(|(g, b)| (3 + f, *g, b.iter().collect())));
                }
                maps.sort();
                out.push((*tenant, t.members.iter().collect::<Vec<_>>(), t.active.iter().collect::<Vec<_>>(), t.by_login.clone(), maps));
            }
            out.sort();
            out
        };
        let mut s = Search::default();
        let mut rows = sample();
        rows.extend((10..3_000).map(|id| row(id, 1 + id % 3, &format!("L{id}"), "Name", &format!("555{id}"))));
        rows.iter().for_each(|r| s.add(r));
        let before = snapshot(&s);
        s.relocate();
        assert!(!s.overflow);
        assert_eq!(snapshot(&s), before);
    }

    #[test]
    fn offsets_resumes_and_pending() {
        let ix = ready_index(&sample());
        let by_login = filter(AgentFilter { sort: AgentSort::LoginIdAsc, ..Default::default() });
        let ask =
            |skip, resume| ix.ask(&Ask { tenant: 1, filter: &by_login, after: 0, skip, resume, known_pending: &[], want: 2 }).unwrap();
        let page = ask(1, None);
        assert_eq!((page.ids.clone(), page.skipped), (vec![5, 3], true));
        assert_eq!(ask(0, page.resume).ids, vec![1]);
        // A rename moves the agent in the order once re-read; pending meanwhile.
        ix.mark([2]);
        let p = ask(1, None);
        assert!(!p.skipped && p.pending == vec![2] && !p.ids.contains(&2), "{p:?}");
        let mut renamed = row(2, 1, "Z9", "Smith", "5550000");
        renamed.active = true;
        ix.reconcile(&ix.pending_marks(), &HashMap::from([(2, renamed)]));
        assert_eq!(ask(0, None).ids, vec![5, 3]);
        assert_eq!(ask(3, None).ids, vec![2]);
        // A deletion likewise.
        ix.mark([3]);
        ix.reconcile(&ix.pending_marks(), &HashMap::new());
        assert_eq!(ask(0, None).ids, vec![5, 1]);
        let active = filter(AgentFilter { active: Some(true), ..Default::default() });
        assert_eq!(ids(&ix, &active, 10), vec![1, 2, 5]);
        let id_desc = filter(AgentFilter { sort: AgentSort::IdDesc, ..Default::default() });
        let page = ix.ask(&Ask { tenant: 1, filter: &id_desc, after: 1, skip: 1, resume: None, known_pending: &[], want: 10 }).unwrap();
        assert_eq!(page.ids, vec![2], "above 1, skipping 1");
    }

    #[test]
    fn renames_add_bits_that_rows_see_through() {
        let ix = ready_index(&sample());
        let mut r = row(2, 1, "A1", "Jones", "5550000");
        r.skills = vec![7];
        ix.mark([2]);
        ix.reconcile(&ix.pending_marks(), &HashMap::from([(2, r)]));
        let smith = filter(AgentFilter { last_name_contains: Some("smi".into()), ..Default::default() });
        assert_eq!(ids(&ix, &smith, 10), vec![2], "a stale bit: the row check sees through it");
        assert_eq!(ids(&ix, &filter(AgentFilter { skill_id: Some(7), ..Default::default() }), 10), vec![2]);
        assert!(ids(&ix, &filter(AgentFilter { skill_id: Some(2), active: Some(false), ..Default::default() }), 10).is_empty(), "exact");
    }

    #[test]
    fn many_stale_bits_build_anew() {
        let ix = ready_index(&sample());
        let row = sample().into_iter().next().unwrap();
        // Agents added after the build, then deleted: each leaves text bits.
        for id in 10..5_012 {
            ix.mark([id]);
            ix.reconcile(&ix.pending_marks(), &HashMap::from([(id, Row { id, ..row.clone() })]));
            ix.mark([id]);
            ix.reconcile(&ix.pending_marks(), &HashMap::new());
            assert!(ix.is_ready() || id > 5_000, "{id}");
        }
        assert!(!ix.is_ready(), "worn out: invalidated");
    }

    #[test]
    fn an_invalidated_build_does_not_serve_and_many_pending_go_to_the_database() {
        let ix = SearchIndex::new();
        let seen = ix.begin_build();
        ix.invalidate();
        assert!(!ix.finish_build(Search::default(), seen));
        let f = filter(AgentFilter::default());
        let ask = Ask { tenant: 1, filter: &f, after: 0, skip: 0, resume: None, known_pending: &[], want: 1 };
        assert!(ix.ask(&ask).is_none());
        let seen = ix.begin_build();
        assert!(ix.finish_build(Search::default(), seen));
        assert!(ix.ask(&ask).is_some());
        ix.mark(0..=MAX_PENDING as Id);
        assert!(ix.ask(&ask).is_none());
    }

    #[test]
    fn rows_match_as_the_databases_do() {
        let a = Agent {
            id: 1,
            tenant_id: 1,
            login_id: "AG0000001".into(),
            first_name: "Ann".into(),
            last_name: "McDonald".into(),
            display_name: None,
            email: Some("ag0000001@t1.example.com".into()),
            phone: "+5550000001".into(),
            wrap_up_time: 0,
            home_agent: false,
            active: true,
            locked: false,
            failed_logins: 0,
            last_login: None,
            last_login_ip: None,
            password_last_modified: None,
            has_password: false,
            external_id: None,
            employee_number: None,
            department: None,
            manager: None,
            attributes: Default::default(),
            created_at: 0,
            updated_at: 0,
            version: 1,
        };
        let f = |f: AgentFilter| Compiled::of(&f).unwrap();
        assert!(f(AgentFilter { q: Some("DONAL".into()), ..Default::default() }).matches(&a));
        assert!(f(AgentFilter { q: Some("@t1.ex".into()), ..Default::default() }).matches(&a));
        assert!(!f(AgentFilter { login_id_contains: Some("donal".into()), ..Default::default() }).matches(&a));
        assert!(f(AgentFilter { phone_number: Some("555-000-0001".into()), ..Default::default() }).matches(&a));
        assert!(!f(AgentFilter { phone_number: Some("55500000".into()), ..Default::default() }).matches(&a), "the whole number");
        assert!(f(AgentFilter { phone_contains: Some("+555".into()), ..Default::default() }).matches(&a));
        assert!(contains_lower("ÅNDERS", "ånd"));
    }
}

#[cfg(test)]
mod memory {
    use super::*;

    fn rss_kb() -> usize {
        let s = std::fs::read_to_string("/proc/self/status").unwrap();
        s.lines().find(|l| l.starts_with("RssAnon")).unwrap().split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// `cargo test --release -p switchboard-store --lib memory -- --ignored --nocapture`:
    /// the index of 1M agents shaped as bench-gen makes them.
    #[test]
    #[ignore]
    fn memory_at_a_million() {
        let pre = crate::synthetic::last_names();
        let before = rss_kb();
        let mut s = Search::default();
        for x in 1..=1_000_000i64 {
            let h = (x * 2_654_435_761) % 1_000_003;
            let login = format!("AG{x:07}");
            let row = Row {
                id: x,
                tenant: 1,
                texts: [
                    Some(login.clone()),
                    Some(format!("First{}", (h / 1000) % 64)),
                    Some(pre[(h % 1000) as usize].clone()),
                    None,
                    Some(format!("{}@t1.example.com", login.to_lowercase())),
                    Some(format!("555{x:07}")),
                ],
                active: x % 20 != 0,
                skills: vec![h % 50, (h + 17) % 50],
                services: vec![h % 20],
                groups: vec![h % 30],
                version: 1,
            };
            s.add(&row);
        }
        eprintln!("before finish: RssAnon +{} MB", (rss_kb() - before) >> 10);
        let time = |s: &Search, what: &str, f: AgentFilter| {
            let c = Compiled::of(&f).unwrap();
            let t = &s.tenants[&1];
            let started = std::time::Instant::now();
            let mut n = 0;
            for _ in 0..200 {
                n += candidates(t, &c).len();
            }
            eprintln!("{what}: {:.0} us a search ({} candidates)", started.elapsed().as_secs_f64() * 1e6 / 200.0, n / 200);
        };
        let login = || AgentFilter { login_id_contains: Some("G01234".into()), ..Default::default() };
        let phone = || AgentFilter { phone_number: Some("5550123456".into()), ..Default::default() };
        let name = || AgentFilter { q: Some(pre[10][1..6].to_string()), ..Default::default() };
        time(&s, "loginId piece, before optimize", login());
        time(&s, "phone, before optimize", phone());
        time(&s, "q name piece, before optimize", name());
        s.finish();
        time(&s, "loginId piece, compacted", login());
        time(&s, "phone, compacted", phone());
        time(&s, "q name piece, compacted", name());
        eprintln!("RssAnon +{} MB", (rss_kb() - before) >> 10);
        for (what, bytes) in s.bytes() {
            eprintln!("{what}: {:.1} MB", bytes as f64 / 1048576.0);
        }
        for (f, m) in s.tenants[&1].grams.iter().enumerate() {
            let (mut containers, mut arrays, mut runs, mut bitsets, mut array_bytes, mut run_bytes) = (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
            for b in m.values() {
                let st = b.statistics();
                containers += u64::from(st.n_containers);
                arrays += u64::from(st.n_array_containers);
                runs += u64::from(st.n_run_containers);
                bitsets += u64::from(st.n_bitset_containers);
                array_bytes += st.n_bytes_array_containers;
                run_bytes += st.n_bytes_run_containers;
            }
            eprintln!("field {f}: {} grams, {containers} containers ({arrays} arrays {array_bytes} B, {runs} runs {run_bytes} B, {bitsets} bitsets)", m.len());
        }
    }
}

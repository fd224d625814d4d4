//! An in-memory index of agents' last names, by trigram: what LiveVox's Find
//! Matching Agents by lastName and the native `lastNameContains` ask, in id
//! order, answered without the database (issue 8: at 1M agents, PostgreSQL
//! visited ~1,000 heap rows and sorted them for each page, SQLite walked its
//! FTS5 doclists and read each row of the page from its B-tree).
//!
//! Per tenant: for each trigram of the lowercased names, the ids of the agents
//! whose name holds it (a Roaring bitmap, in id order), and each agent's
//! lowercased name, to check a longer text against. A text of three or more
//! characters is looked up by intersecting its trigrams' bitmaps, then
//! checking the names of the candidates in id order until the page is full.
//!
//! Coherence rides on the agent cache's (`cache.rs`): the index serves only
//! while the cache does (PostgreSQL: while its listener follows changes), and
//! after a full build made once it was. A change to an agent's own row marks
//! its id *pending* (in-process writes after their COMMIT, before they answer;
//! other instances' through the `r:` notifications); a search reads the
//! pending agents from the database and merges those that match, ignoring
//! what the index holds for them, so it never misses a change it was told of.
//! The maintainer (`maintain_names` in `sql/store.rs`) re-reads pending rows
//! into the index and clears each id whose mark did not move meanwhile.
//! What it cannot know of (another process's writes to a SQLite file, a lost
//! listener, a bulk change) throws the index away: searches go to the
//! database until it is built again.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use roaring::RoaringBitmap;
use switchboard_domain::Id;

/// Pending agents above which a search goes to the database instead (it
/// would read them all).
pub(crate) const MAX_PENDING: usize = 64;

/// A trigram: three characters, 21 bits each.
type Gram = u64;

/// The names of one tenant's agents.
#[derive(Default)]
struct TenantNames {
    grams: HashMap<Gram, RoaringBitmap>,
    /// Agent id → where its lowercased name starts in `arena`.
    at: HashMap<u32, u32>,
    /// Names, each a 2-byte length and its UTF-8 bytes (16 bytes a name
    /// less than a `String` each; replaced names stay until compacted).
    arena: Vec<u8>,
    garbage: usize,
}

impl TenantNames {
    fn name(&self, id: u32) -> Option<&str> {
        let at = *self.at.get(&id)? as usize;
        let len = u16::from_le_bytes([self.arena[at], self.arena[at + 1]]) as usize;
        std::str::from_utf8(&self.arena[at + 2..at + 2 + len]).ok()
    }

    fn set(&mut self, id: u32, lower: &str) {
        if self.name(id) == Some(lower) {
            return;
        }
        self.remove(id);
        for g in grams(lower) {
            self.grams.entry(g).or_default().insert(id);
        }
        // Names are at most a few hundred bytes (the domain validates them);
        // a longer one is cut at a character boundary, as the check
        // against it only needs what a search text can be.
        let mut end = lower.len().min(u16::MAX as usize);
        while !lower.is_char_boundary(end) {
            end -= 1;
        }
        let Ok(at) = u32::try_from(self.arena.len()) else { return };
        self.arena.extend_from_slice(&(end as u16).to_le_bytes());
        self.arena.extend_from_slice(&lower.as_bytes()[..end]);
        self.at.insert(id, at);
    }

    fn remove(&mut self, id: u32) -> bool {
        let Some(old) = self.name(id).map(str::to_owned) else { return false };
        for g in grams(&old) {
            if let Some(b) = self.grams.get_mut(&g) {
                b.remove(id);
                if b.is_empty() {
                    self.grams.remove(&g);
                }
            }
        }
        self.at.remove(&id);
        self.garbage += old.len() + 2;
        if self.garbage > 4096 && self.garbage * 2 > self.arena.len() {
            self.compact();
        }
        true
    }

    /// Copies the live names to a new arena.
    fn compact(&mut self) {
        let mut arena = Vec::with_capacity(self.arena.len() - self.garbage);
        for at in self.at.values_mut() {
            let a = *at as usize;
            let len = u16::from_le_bytes([self.arena[a], self.arena[a + 1]]) as usize;
            *at = arena.len() as u32;
            arena.extend_from_slice(&self.arena[a..a + 2 + len]);
        }
        self.arena = arena;
        self.garbage = 0;
    }
}

/// Every tenant's names.
#[derive(Default)]
pub(crate) struct Names {
    tenants: HashMap<Id, TenantNames>,
    /// An id beyond what a bitmap holds (u32) was met: the index cannot serve.
    overflow: bool,
}

impl Names {
    /// Sets an agent's name (`name` as stored; it is lowercased here).
    pub(crate) fn set(&mut self, tenant: Id, id: Id, name: &str) {
        match u32::try_from(id) {
            Ok(id) => self.tenants.entry(tenant).or_default().set(id, &name.to_lowercase()),
            Err(_) => self.overflow = true,
        }
    }

    /// Forgets an agent, whichever tenant it was in.
    pub(crate) fn remove(&mut self, id: Id) {
        if let Ok(id) = u32::try_from(id) {
            for t in self.tenants.values_mut() {
                if t.remove(id) {
                    return;
                }
            }
        }
    }

    pub(crate) fn agents(&self) -> usize {
        self.tenants.values().map(|t| t.at.len()).sum()
    }
}

/// The distinct trigrams of a lowercased text.
fn grams(lower: &str) -> HashSet<Gram> {
    let chars: Vec<u64> = lower.chars().map(u64::from).collect();
    chars.windows(3).map(|w| (w[0] << 42) | (w[1] << 21) | w[2]).collect()
}

/// A search: agents of a tenant whose last name contains `text`.
pub(crate) struct NameQuery<'a> {
    pub(crate) tenant: Id,
    pub(crate) text: &'a str,
    pub(crate) descending: bool,
    /// Only ids above this (keyset paging).
    pub(crate) after: Id,
    /// How many matches, in order, from the first (a page's offset, its
    /// limit and one more).
    pub(crate) want: usize,
}

/// What the index answers.
pub(crate) struct NameMatches {
    /// The first `want` matches among agents not pending, in order.
    pub(crate) ids: Vec<Id>,
    /// Pending agents: to read from the database, check and merge.
    pub(crate) pending: Vec<Id>,
    /// The lowercased text, to check rows against.
    pub(crate) lower: String,
}

struct Pending {
    marks: HashMap<Id, u64>,
    next: u64,
}

/// The index and what keeps it coherent.
pub(crate) struct NameIndex {
    names: RwLock<Names>,
    /// Built since the last invalidation, and not overflowed.
    ready: AtomicBool,
    /// Moved by every invalidation: a build that began before one is not
    /// made ready.
    invalidations: AtomicU64,
    pending: Mutex<Pending>,
    /// Wakes the maintainer.
    pub(crate) wake: tokio::sync::Notify,
}

impl NameIndex {
    pub(crate) fn new() -> Self {
        NameIndex {
            names: RwLock::new(Names::default()),
            ready: AtomicBool::new(false),
            invalidations: AtomicU64::new(0),
            pending: Mutex::new(Pending { marks: HashMap::new(), next: 0 }),
            wake: tokio::sync::Notify::new(),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// These agents' rows changed (or may have): searches read them from the
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

    /// The pending marks, to re-read.
    pub(crate) fn pending_marks(&self) -> Vec<(Id, u64)> {
        self.pending().marks.iter().map(|(&id, &n)| (id, n)).collect()
    }

    /// Applies rows re-read for `marks`: (id, Some((tenant, name))) for a row
    /// found, None for one gone; clears each mark that did not move since.
    pub(crate) fn reconcile(&self, marks: &[(Id, u64)], rows: &HashMap<Id, (Id, String)>) {
        {
            let mut names = self.names.write().unwrap_or_else(|e| e.into_inner());
            for (id, _) in marks {
                match rows.get(id) {
                    Some((tenant, name)) => names.set(*tenant, *id, name),
                    None => names.remove(*id),
                }
            }
        }
        let mut p = self.pending();
        for (id, n) in marks {
            if p.marks.get(id) == Some(n) {
                p.marks.remove(id);
            }
        }
    }

    /// Starts a build: forgets the old index; the build's own `Names` is
    /// installed by `finish_build`. Returns the invalidation count it saw.
    pub(crate) fn begin_build(&self) -> u64 {
        let seen = self.invalidations.load(Ordering::Acquire);
        *self.names.write().unwrap_or_else(|e| e.into_inner()) = Names::default();
        seen
    }

    /// Installs a build; it serves only if nothing invalidated it meanwhile
    /// (then the maintainer builds again).
    pub(crate) fn finish_build(&self, built: Names, seen: u64) -> bool {
        let overflow = built.overflow;
        *self.names.write().unwrap_or_else(|e| e.into_inner()) = built;
        if overflow {
            tracing::warn!("name index: agent ids beyond 2^32; searches read the database");
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

    #[cfg(test)]
    fn agents(&self) -> usize {
        self.names.read().unwrap_or_else(|e| e.into_inner()).agents()
    }

    /// The matches, or None where the database must answer (not ready, a
    /// text shorter than a trigram, too many pending agents).
    pub(crate) fn search(&self, q: &NameQuery<'_>) -> Option<NameMatches> {
        if !self.is_ready() {
            return None;
        }
        let lower = q.text.to_lowercase();
        let want_grams = grams(&lower);
        if want_grams.is_empty() {
            return None;
        }
        let pending: Vec<Id> = {
            let p = self.pending();
            if p.marks.len() > MAX_PENDING {
                return None;
            }
            p.marks.keys().copied().collect()
        };
        let names = self.names.read().unwrap_or_else(|e| e.into_inner());
        let mut ids = Vec::new();
        if let Some(t) = names.tenants.get(&q.tenant) {
            let mut bitmaps = Vec::with_capacity(want_grams.len());
            for g in &want_grams {
                match t.grams.get(g) {
                    Some(b) => bitmaps.push(b),
                    None => return Some(NameMatches { ids, pending, lower }),
                }
            }
            bitmaps.sort_by_key(|b| b.len());
            let mut found = bitmaps[0].clone();
            for b in &bitmaps[1..] {
                found &= *b;
            }
            // Three characters are one trigram: every candidate matches.
            let exact = lower.chars().count() == 3;
            let keep = |id: &u32| {
                i64::from(*id) > q.after
                    && !pending.contains(&i64::from(*id))
                    && (exact || t.name(*id).is_some_and(|n| n.contains(lower.as_str())))
            };
            let it: Box<dyn Iterator<Item = u32>> = if q.descending { Box::new(found.iter().rev()) } else { Box::new(found.iter()) };
            ids.extend(it.filter(keep).take(q.want).map(i64::from));
        }
        Some(NameMatches { ids, pending, lower })
    }
}

/// Builds an index from rows read in any order (the maintainer's build).
pub(crate) fn build(rows: impl IntoIterator<Item = (Id, Id, String)>, into: &mut Names) {
    for (id, tenant, name) in rows {
        into.set(tenant, id, &name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready_index(rows: &[(Id, Id, &str)]) -> NameIndex {
        let ix = NameIndex::new();
        let seen = ix.begin_build();
        let mut n = Names::default();
        build(rows.iter().map(|&(id, t, name)| (id, t, name.to_string())), &mut n);
        assert!(ix.finish_build(n, seen));
        ix
    }

    fn q(tenant: Id, text: &str) -> NameQuery<'_> {
        NameQuery { tenant, text, descending: false, after: 0, want: 10 }
    }

    #[test]
    fn finds_substrings_in_id_order_within_the_tenant() {
        let ix = ready_index(&[(3, 1, "Anderson"), (1, 1, "Sanders"), (2, 1, "Smith"), (4, 2, "Anders"), (5, 1, "ÅNDERSSON")]);
        assert_eq!(ix.search(&q(1, "ander")).unwrap().ids, vec![1, 3]);
        assert_eq!(ix.search(&q(1, "NDE")).unwrap().ids, vec![1, 3, 5]);
        assert_eq!(ix.search(&q(1, "åndersson")).unwrap().ids, vec![5]);
        assert_eq!(ix.search(&q(2, "ander")).unwrap().ids, vec![4]);
        assert!(ix.search(&q(1, "zzz")).unwrap().ids.is_empty());
        // Every trigram present, the text not: "son" and "and" but not "sonand".
        assert!(ix.search(&q(1, "sonand")).unwrap().ids.is_empty());
        assert!(ix.search(&q(1, "an")).is_none(), "shorter than a trigram: the database answers");
        let desc = NameQuery { descending: true, ..q(1, "ers") };
        assert_eq!(ix.search(&desc).unwrap().ids, vec![5, 3, 1]);
        let after = NameQuery { after: 1, want: 1, ..q(1, "ers") };
        assert_eq!(ix.search(&after).unwrap().ids, vec![3]);
    }

    #[test]
    fn renames_and_removals_move_the_trigrams() {
        let ix = ready_index(&[(1, 1, "Smith"), (2, 1, "Smythe")]);
        ix.mark([1, 2]);
        let marks = ix.pending_marks();
        let found = ix.search(&q(1, "smi")).unwrap();
        assert!(found.ids.is_empty() && found.pending.len() == 2, "pending agents are the caller's to read");
        let rows = HashMap::from([(1, (1, "Jones".to_string()))]);
        ix.reconcile(&marks, &rows);
        assert!(ix.pending_marks().is_empty());
        assert!(ix.search(&q(1, "smi")).unwrap().ids.is_empty());
        assert_eq!(ix.search(&q(1, "one")).unwrap().ids, vec![1]);
        assert!(ix.search(&q(1, "myt")).unwrap().ids.is_empty(), "agent 2 is gone");
        assert_eq!(ix.agents(), 1);
    }

    #[test]
    fn a_mark_that_moved_while_reading_stays_pending() {
        let ix = ready_index(&[(1, 1, "Smith")]);
        ix.mark([1]);
        let marks = ix.pending_marks();
        ix.mark([1]);
        ix.reconcile(&marks, &HashMap::from([(1, (1, "Smith".to_string()))]));
        assert_eq!(ix.pending_marks().len(), 1);
    }

    #[test]
    fn an_invalidated_build_does_not_serve() {
        let ix = NameIndex::new();
        let seen = ix.begin_build();
        ix.invalidate();
        assert!(!ix.finish_build(Names::default(), seen));
        assert!(ix.search(&q(1, "abc")).is_none());
        let seen = ix.begin_build();
        assert!(ix.finish_build(Names::default(), seen));
        assert!(ix.search(&q(1, "abc")).is_some());
        ix.invalidate();
        assert!(ix.search(&q(1, "abc")).is_none());
    }

    #[test]
    fn too_many_pending_agents_go_to_the_database() {
        let ix = ready_index(&[(1, 1, "Smith")]);
        ix.mark(0..=MAX_PENDING as Id);
        assert!(ix.search(&q(1, "smi")).is_none());
    }

    #[test]
    fn the_arena_is_compacted_as_names_are_replaced() {
        let mut t = TenantNames::default();
        for round in 0..200 {
            for id in 0..100u32 {
                t.set(id, &format!("name{round}x{id}{}", "y".repeat(30)));
            }
        }
        assert!(t.arena.len() < 3 * 100 * 45, "arena {} bytes", t.arena.len());
        assert_eq!(t.name(7).unwrap(), format!("name199x7{}", "y".repeat(30)));
    }
}

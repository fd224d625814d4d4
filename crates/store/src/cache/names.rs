//! An in-memory index of agents' last names, by trigram: what LiveVox's Find
//! Matching Agents by lastName and the native `lastNameContains` ask, in id
//! order, answered without the database (issue 8: at 1M agents, PostgreSQL
//! visited ~1,000 heap rows and sorted them for each page, SQLite walked its
//! FTS5 doclists and read each row of the page from its B-tree).
//!
//! Per tenant: for each trigram of the lowercased names, the ids of the agents
//! whose name holds it (a Roaring bitmap, in id order): about 15 bytes an
//! agent. A text of three or more characters gives the agents in every one of
//! its trigrams' bitmaps, walked in id order from the rarest, as candidates;
//! the store checks each candidate's row (from the agent cache, or read by
//! id) until the page is full. Bits are only ever added: a renamed or deleted
//! agent leaves its old bits, which the row check sees through; once such
//! stale bits could be many, the index is built anew.
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
    /// Every agent of the tenant, exactly (deletions remove theirs): the
    /// n-th agent in id order, for LiveVox's offset paging.
    members: RoaringBitmap,
}

impl TenantNames {
    /// Adds a name's bits; whether any was new (the name changed, or is new).
    fn add(&mut self, id: u32, lower: &str) -> bool {
        let mut new = self.members.insert(id);
        for g in grams(lower) {
            new |= self.grams.entry(g).or_default().insert(id);
        }
        new
    }
}

/// Every tenant's names.
#[derive(Default)]
pub(crate) struct Names {
    tenants: HashMap<Id, TenantNames>,
    /// Agents indexed, and changes since the build that may have left stale
    /// bits (renames, deletions).
    agents: usize,
    stale: usize,
    /// An id beyond what a bitmap holds (u32) was met: the index cannot serve.
    overflow: bool,
}

impl Names {
    /// Indexes an agent's name (as stored; it is lowercased here).
    pub(crate) fn add(&mut self, tenant: Id, id: Id, name: &str) {
        let Ok(id) = u32::try_from(id) else {
            self.overflow = true;
            return;
        };
        self.agents += 1;
        self.tenants.entry(tenant).or_default().add(id, &name.to_lowercase());
    }

    /// A row re-read after a change: its bits are added, and if any was new
    /// (a rename, a new agent) old ones may be stale.
    fn reread(&mut self, tenant: Id, id: Id, name: &str) {
        match u32::try_from(id) {
            Ok(id) => {
                if self.tenants.entry(tenant).or_default().add(id, &name.to_lowercase()) {
                    self.stale += 1;
                }
            }
            Err(_) => self.overflow = true,
        }
    }

    /// An agent deleted: out of its tenant's members; its name's bits stay.
    fn gone(&mut self, id: Id) {
        self.stale += 1;
        if let Ok(id) = u32::try_from(id) {
            self.tenants.values_mut().for_each(|t| {
                t.members.remove(id);
            });
        }
    }

    /// After a build: whether stale bits may now be so many that building
    /// anew is worth it (a quarter of the agents, at least 10,000).
    fn worn(&self) -> bool {
        self.stale > (self.agents / 4).max(10_000)
    }

    pub(crate) fn agents(&self) -> usize {
        self.agents
    }

    /// About how much memory the index holds.
    pub(crate) fn bytes(&self) -> usize {
        let per_tenant = |t: &TenantNames| {
            let grams = t.grams.capacity() * (size_of::<Gram>() + size_of::<RoaringBitmap>() + 1);
            grams + t.grams.values().map(RoaringBitmap::serialized_size).sum::<usize>() + t.members.serialized_size()
        };
        self.tenants.values().map(per_tenant).sum()
    }
}

/// The distinct trigrams of a lowercased text.
fn grams(lower: &str) -> HashSet<Gram> {
    let chars: Vec<u64> = lower.chars().map(u64::from).collect();
    chars.windows(3).map(|w| (w[0] << 42) | (w[1] << 21) | w[2]).collect()
}

/// A search: agents of a tenant whose last name may contain `text`.
pub(crate) struct NameQuery<'a> {
    pub(crate) tenant: Id,
    pub(crate) text: &'a str,
    pub(crate) descending: bool,
    /// Only ids above this (keyset paging).
    pub(crate) after: Id,
    /// Continue past this candidate (in the walk's order).
    pub(crate) resume: Option<Id>,
    /// Pending agents the caller already reads (from the first answer).
    pub(crate) known_pending: &'a [Id],
    /// How many candidates.
    pub(crate) want: usize,
}

/// What the index answers.
pub(crate) struct NameCandidates {
    /// Agents in every trigram's bitmap, not pending, in order: a superset
    /// of the matches among them, to check against their rows.
    pub(crate) ids: Vec<Id>,
    /// Fewer than wanted: there are no more.
    pub(crate) exhausted: bool,
    /// Pending agents (first answer only): to read, check and merge.
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

    /// Applies rows re-read for `marks` (id → tenant and name; an id absent
    /// is an agent gone, whose stale bits the row checks see through) and
    /// clears each mark that did not move since. Builds anew once stale bits
    /// may be many.
    pub(crate) fn reconcile(&self, marks: &[(Id, u64)], rows: &HashMap<Id, (Id, String)>) {
        let worn = {
            let mut names = self.names.write().unwrap_or_else(|e| e.into_inner());
            for (id, _) in marks {
                match rows.get(id) {
                    Some((tenant, name)) => names.reread(*tenant, *id, name),
                    None => names.gone(*id),
                }
            }
            names.worn()
        };
        let mut p = self.pending();
        for (id, n) in marks {
            if p.marks.get(id) == Some(n) {
                p.marks.remove(id);
            }
        }
        drop(p);
        if worn && self.is_ready() {
            tracing::info!("name index: many agents renamed or deleted since it was built; building anew");
            self.invalidate();
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

    /// A page of a tenant's agents in id order (ids above `after`, skipping
    /// `offset`, at most `take`), found by rank instead of by walking an
    /// index past `offset` entries; None where the database must answer (not
    /// ready, or agents pending: whether they count is unknown here).
    pub(crate) fn page(&self, tenant: Id, descending: bool, after: Id, offset: u64, take: usize) -> Option<Vec<Id>> {
        if !self.is_ready() || !self.pending().marks.is_empty() {
            return None;
        }
        let names = self.names.read().unwrap_or_else(|e| e.into_inner());
        let Some(m) = names.tenants.get(&tenant).map(|t| &t.members) else { return Some(Vec::new()) };
        // Ranks: agents at or below `after` come first in id order.
        let below = match u32::try_from(after.max(0)) {
            Ok(a) => m.rank(a),
            Err(_) => return Some(Vec::new()),
        };
        let above = m.len() - below;
        if offset >= above {
            return Some(Vec::new());
        }
        let ids: Vec<Id> = if descending {
            let first = m.select(u32::try_from(m.len() - 1 - offset).ok()?)?;
            m.range(..=first).rev().take_while(|&id| i64::from(id) > after).take(take).map(i64::from).collect()
        } else {
            let first = m.select(u32::try_from(below + offset).ok()?)?;
            m.range(first..).take(take).map(i64::from).collect()
        };
        Some(ids)
    }

    /// The candidates, or None where the database must answer (not ready, a
    /// text shorter than a trigram, too many pending agents).
    pub(crate) fn search(&self, q: &NameQuery<'_>) -> Option<NameCandidates> {
        if !self.is_ready() {
            return None;
        }
        let lower = q.text.to_lowercase();
        let want_grams = grams(&lower);
        if want_grams.is_empty() {
            return None;
        }
        let (current, pending): (Vec<Id>, Vec<Id>) = {
            let p = self.pending();
            if p.marks.len() > MAX_PENDING {
                return None;
            }
            let current: Vec<Id> = p.marks.keys().copied().collect();
            let pending = if q.resume.is_none() { current.clone() } else { Vec::new() };
            (current, pending)
        };
        let none = |lower| Some(NameCandidates { ids: Vec::new(), exhausted: true, pending: pending.clone(), lower });
        let names = self.names.read().unwrap_or_else(|e| e.into_inner());
        let Some(t) = names.tenants.get(&q.tenant) else { return none(lower) };
        let mut bitmaps = Vec::with_capacity(want_grams.len());
        for g in &want_grams {
            match t.grams.get(g) {
                Some(b) => bitmaps.push(b),
                None => return none(lower),
            }
        }
        // The rarest trigram's agents, in order, each checked against the
        // others' bitmaps: no intersection is built, and a page stops early.
        bitmaps.sort_by_key(|b| b.len());
        let (rarest, others) = bitmaps.split_first().expect("a text has a trigram");
        let keep = |id: &u32| {
            let id64 = i64::from(*id);
            id64 > q.after && others.iter().all(|b| b.contains(*id)) && !current.contains(&id64) && !q.known_pending.contains(&id64)
        };
        let ids: Vec<Id> = match (q.descending, q.resume.and_then(|r| u32::try_from(r).ok())) {
            (false, None) => rarest.iter().filter(keep).take(q.want).map(i64::from).collect(),
            (true, None) => rarest.iter().rev().filter(keep).take(q.want).map(i64::from).collect(),
            (false, Some(r)) => rarest.range(r.saturating_add(1)..).filter(keep).take(q.want).map(i64::from).collect(),
            (true, Some(r)) => rarest.range(..r).rev().filter(keep).take(q.want).map(i64::from).collect(),
        };
        Some(NameCandidates { exhausted: ids.len() < q.want, ids, pending, lower })
    }
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

/// Builds an index from rows read in any order (the maintainer's build).
pub(crate) fn build(rows: impl IntoIterator<Item = (Id, Id, String)>, into: &mut Names) {
    for (id, tenant, name) in rows {
        into.add(tenant, id, &name);
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
        NameQuery { tenant, text, descending: false, after: 0, resume: None, known_pending: &[], want: 10 }
    }

    fn ids(ix: &NameIndex, q: &NameQuery<'_>) -> Vec<Id> {
        ix.search(q).expect("the index answers").ids
    }

    #[test]
    fn candidates_come_in_id_order_within_the_tenant() {
        let ix = ready_index(&[(3, 1, "Anderson"), (1, 1, "Sanders"), (2, 1, "Smith"), (4, 2, "Anders"), (5, 1, "ÅNDERSSON")]);
        assert_eq!(ids(&ix, &q(1, "ander")), vec![1, 3]);
        assert_eq!(ids(&ix, &q(1, "NDE")), vec![1, 3, 5]);
        assert_eq!(ids(&ix, &q(1, "åndersson")), vec![5]);
        assert_eq!(ids(&ix, &q(2, "ander")), vec![4]);
        assert!(ids(&ix, &q(1, "zzz")).is_empty());
        assert!(ix.search(&q(1, "an")).is_none(), "shorter than a trigram: the database answers");
        let desc = NameQuery { descending: true, ..q(1, "ers") };
        assert_eq!(ids(&ix, &desc), vec![5, 3, 1]);
        let after = NameQuery { after: 1, want: 1, ..q(1, "ers") };
        let first = ix.search(&after).unwrap();
        assert_eq!((first.ids.clone(), first.exhausted), (vec![3], false));
        assert_eq!(ids(&ix, &NameQuery { resume: Some(3), ..after }), vec![5]);
        assert_eq!(ids(&ix, &NameQuery { resume: Some(3), ..desc }), vec![1]);
    }

    #[test]
    fn renames_add_bits_and_deletions_count_as_stale() {
        let ix = ready_index(&[(1, 1, "Smith"), (2, 1, "Smythe")]);
        ix.mark([1, 2]);
        let marks = ix.pending_marks();
        let found = ix.search(&q(1, "smi")).unwrap();
        assert!(found.ids.is_empty() && found.pending.len() == 2, "pending agents are the caller's to read");
        ix.reconcile(&marks, &HashMap::from([(1, (1, "Jones".to_string()))]));
        assert!(ix.pending_marks().is_empty());
        assert_eq!(ids(&ix, &q(1, "one")), vec![1]);
        // The old bits stay: the caller's row check sees through them.
        assert_eq!(ids(&ix, &q(1, "smi")), vec![1]);
        let names = ix.names.read().unwrap();
        assert_eq!((names.agents, names.stale), (2, 2));
    }

    #[test]
    fn many_stale_bits_build_anew() {
        let ix = ready_index(&[(1, 1, "Smith")]);
        for id in 2..10_003 {
            ix.mark([id]);
            // Gone (an agent deleted): its bits, had it any, would stay.
            ix.reconcile(&ix.pending_marks(), &HashMap::new());
        }
        assert!(!ix.is_ready(), "worn out: invalidated");
    }

    #[test]
    fn pages_by_rank_count_exactly_the_tenants_agents() {
        let ix = ready_index(&[(1, 1, "A"), (2, 1, "B"), (3, 2, "C"), (5, 1, "D"), (8, 1, "E"), (9, 1, "F")]);
        assert_eq!(ix.page(1, false, 0, 0, 2), Some(vec![1, 2]));
        assert_eq!(ix.page(1, false, 0, 2, 2), Some(vec![5, 8]));
        assert_eq!(ix.page(1, false, 0, 4, 2), Some(vec![9]));
        assert_eq!(ix.page(1, false, 0, 5, 2), Some(vec![]));
        assert_eq!(ix.page(1, false, 2, 1, 10), Some(vec![8, 9]), "after 2, skip 1");
        assert_eq!(ix.page(1, true, 0, 1, 2), Some(vec![8, 5]));
        assert_eq!(ix.page(1, true, 2, 2, 10), Some(vec![5]), "above 2 only");
        assert_eq!(ix.page(2, false, 0, 0, 10), Some(vec![3]));
        assert_eq!(ix.page(7, false, 0, 0, 10), Some(vec![]));
        // A deletion counts at once once re-read; while pending, the database answers.
        ix.mark([2]);
        assert_eq!(ix.page(1, false, 0, 0, 2), None);
        ix.reconcile(&ix.pending_marks(), &HashMap::new());
        assert_eq!(ix.page(1, false, 0, 0, 2), Some(vec![1, 5]));
        // A new agent likewise.
        ix.mark([4]);
        ix.reconcile(&ix.pending_marks(), &HashMap::from([(4, (1, "G".to_string()))]));
        assert_eq!(ix.page(1, false, 0, 1, 2), Some(vec![4, 5]));
    }

    #[test]
    fn a_mark_that_moved_while_reading_stays_pending() {
        let ix = ready_index(&[(1, 1, "Smith")]);
        ix.mark([1]);
        let marks = ix.pending_marks();
        ix.mark([1]);
        ix.reconcile(&marks, &HashMap::from([(1, (1, "Smith".to_string()))]));
        assert_eq!(ix.pending_marks().len(), 1);
        // Pending agents are left out of the candidates, also past the first answer.
        assert!(ids(&ix, &q(1, "smi")).is_empty());
        assert!(ids(&ix, &NameQuery { known_pending: &[1], resume: Some(0), ..q(1, "smi") }).is_empty());
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
    fn contains_lower_folds_like_the_index() {
        assert!(contains_lower("McDonald", "donal"));
        assert!(contains_lower("ÅNDERS", "ånd"));
        assert!(!contains_lower("Smith", "smyth"));
        assert!(contains_lower("Smith", ""));
    }
}

#[cfg(test)]
mod memory {
    use super::*;

    fn rss_kb() -> usize {
        let s = std::fs::read_to_string("/proc/self/status").unwrap();
        s.lines().find(|l| l.starts_with("VmRSS")).unwrap().split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// `cargo test --release -p switchboard-store --lib memory -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn memory_at_a_million() {
        let pre = crate::synthetic::last_names();
        let before = rss_kb();
        let mut n = Names::default();
        let mut batch = Vec::new();
        for i in 0..1_000_000i64 {
            batch.push((i + 1, 1, pre[(i.wrapping_mul(2_654_435_761) % 1000) as usize].clone()));
            if batch.len() == 20_000 {
                build(std::mem::take(&mut batch), &mut n);
            }
        }
        eprintln!("rss +{} MB, accounted {} MB", (rss_kb() - before) >> 10, n.bytes() >> 20);
    }
}

//! The agent cache's storage (issue 26): per shard, the packed agents
//! (`packed.rs`) one after another in one byte arena, and where each is.
//! A `HashMap<Id, Box<[u8]>>` cost an allocation per agent (rounded up to
//! the allocator's size class) and a 24-byte slot per bucket, at most half
//! of them used once the table doubled; here each agent costs its bytes and
//! a 4-byte length in the arena, and a 4-byte slot.
//!
//! Agents are spread over the shards by id (`id % SHARDS`, `Arena::place`),
//! so a shard's agents are every 64th id and a slot table indexed by
//! `id / SHARDS` finds one with a single memory access (ids are dense: they
//! come from a sequence). A hash map needed three dependent cache misses per
//! lookup (control bytes, bucket, data): with the arena's own, a quarter of
//! a 100-row search's CPU at 1M agents. Ids beyond the table's reach
//! (`MAX_DIRECT`) go to a map.
//!
//! Replaced and forgotten entries leave holes, compacted once they are half
//! the arena.

use std::collections::HashMap;

/// Slot meaning "not here".
const EMPTY: u32 = u32::MAX;
/// The slot table covers `id / SHARDS` below this (ids up to ~67M with 64
/// shards: 4 MB of slots per shard at most); beyond, a map.
const MAX_DIRECT: usize = 1 << 20;

/// Bytes reserved per agent at the first insert (a packed agent is about
/// 100–150 bytes). Reserving is not using: pages not yet written are not
/// resident. Growing an arena by steps instead left the blocks it grew out
/// of to the allocator, as much again as the arenas while a preload ran.
const RESERVE_PER_AGENT: usize = 160;

/// One shard's packed agents.
#[derive(Default)]
pub(super) struct Arena {
    /// Agents it is meant to hold (its shard's bound): room for them is
    /// reserved at the first insert.
    room: usize,
    shards: usize,
    /// This shard's ids are those with `id % shards == residue`.
    residue: usize,
    /// `id / shards` → offset of its entry (a 4-byte length, then the bytes).
    slots: Vec<u32>,
    /// Ids beyond the slot table.
    far: HashMap<u32, u32>,
    len: usize,
    bytes: Vec<u8>,
    /// Bytes of entries no longer indexed.
    holes: usize,
    /// Where the last eviction looked.
    cursor: usize,
}

impl Arena {
    /// An arena for the ids with `id % shards == residue`.
    pub(super) fn with_room(room: usize, shards: usize, residue: usize) -> Arena {
        Arena { room, shards: shards.max(1), residue, ..Arena::default() }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Where an id's offset lives: its slot, or the far map; None for an id
    /// the cache does not keep (negative or beyond u32).
    fn at(&self, id: i64) -> Option<Where> {
        let id = u32::try_from(id).ok()?;
        let k = id as usize / self.shards.max(1);
        Some(if k < MAX_DIRECT { Where::Slot(k) } else { Where::Far(id) })
    }

    fn offset(&self, w: Where) -> Option<usize> {
        let off = match w {
            Where::Slot(k) => *self.slots.get(k)?,
            Where::Far(id) => *self.far.get(&id)?,
        };
        (off != EMPTY).then_some(off as usize)
    }

    fn entry(&self, off: usize) -> &[u8] {
        let len = u32::from_le_bytes([self.bytes[off], self.bytes[off + 1], self.bytes[off + 2], self.bytes[off + 3]]) as usize;
        &self.bytes[off + 4..off + 4 + len]
    }

    pub(super) fn get(&self, id: i64) -> Option<&[u8]> {
        let off = self.offset(self.at(id)?)?;
        Some(self.entry(off))
    }

    pub(super) fn contains(&self, id: i64) -> bool {
        self.at(id).and_then(|w| self.offset(w)).is_some()
    }

    fn set(&mut self, w: Where, off: u32) {
        match w {
            Where::Slot(k) => {
                if self.slots.len() <= k {
                    self.slots.resize(k + 1, EMPTY);
                }
                self.slots[k] = off;
            }
            Where::Far(id) => {
                if off == EMPTY {
                    self.far.remove(&id);
                } else {
                    self.far.insert(id, off);
                }
            }
        }
    }

    /// Keeps `value` for `id` (ids beyond u32 are not kept).
    pub(super) fn insert(&mut self, id: i64, value: &[u8]) {
        let (Some(w), Ok(len)) = (self.at(id), u32::try_from(value.len())) else { return };
        self.remove(id);
        if self.bytes.len() + value.len() + 4 > EMPTY as usize {
            return;
        }
        if self.bytes.capacity() == 0 && self.room > 0 {
            self.bytes.reserve_exact(self.room.saturating_mul(RESERVE_PER_AGENT));
        }
        self.bytes.reserve(value.len() + 4);
        let off = self.bytes.len() as u32;
        self.bytes.extend_from_slice(&len.to_le_bytes());
        self.bytes.extend_from_slice(value);
        self.set(w, off);
        self.len += 1;
    }

    pub(super) fn remove(&mut self, id: i64) {
        let Some(w) = self.at(id) else { return };
        let Some(off) = self.offset(w) else { return };
        self.holes += self.entry(off).len() + 4;
        self.set(w, EMPTY);
        self.len -= 1;
        if self.holes > 64 * 1024 && self.holes * 2 > self.bytes.len() {
            self.compact();
        }
    }

    /// Some entry out (an arbitrary one: the next after the last evicted,
    /// which keeps what is read often coming back).
    pub(super) fn evict_one(&mut self) {
        if let Some(&id) = self.far.keys().next() {
            self.remove(i64::from(id));
            return;
        }
        let n = self.slots.len();
        for i in 0..n {
            let k = (self.cursor + i) % n;
            if self.slots[k] != EMPTY {
                self.cursor = k + 1;
                self.remove((k * self.shards + self.residue) as i64);
                return;
            }
        }
    }

    /// Forgets every entry; the room stays reserved.
    pub(super) fn clear(&mut self) {
        self.slots.clear();
        self.far.clear();
        self.bytes.clear();
        self.len = 0;
        self.holes = 0;
    }

    /// Copies the live entries into an arena of their size.
    fn compact(&mut self) {
        let mut bytes = Vec::with_capacity(self.bytes.capacity());
        let old = std::mem::take(&mut self.bytes);
        let mut move_one = |off: &mut u32| {
            if *off != EMPTY {
                let o = *off as usize;
                let len = u32::from_le_bytes([old[o], old[o + 1], old[o + 2], old[o + 3]]) as usize;
                *off = bytes.len() as u32;
                bytes.extend_from_slice(&old[o..o + 4 + len]);
            }
        };
        self.slots.iter_mut().for_each(&mut move_one);
        self.far.values_mut().for_each(&mut move_one);
        self.bytes = bytes;
        self.holes = 0;
    }

    /// Bytes written (entries, holes included, and slots): what is
    /// resident of the arena, whose reserved room is not until used.
    pub(super) fn used(&self) -> usize {
        self.bytes.len() + self.slots.len() * 4 + self.far.len() * 9
    }

    /// Bytes held (arena capacity and slots).
    #[cfg(test)]
    pub(super) fn footprint(&self) -> usize {
        self.bytes.capacity() + self.slots.capacity() * 4 + self.far.capacity() * 9
    }
}

#[derive(Clone, Copy)]
enum Where {
    Slot(usize),
    Far(u32),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_replacements_removals_and_compaction() {
        // One shard of 4: ids 3, 7, 11, …
        let mut a = Arena::with_room(100, 4, 3);
        let ids: Vec<i64> = (0..5_000i64).map(|i| i * 4 + 3).collect();
        for &id in &ids {
            a.insert(id, &vec![id as u8; (id % 300) as usize]);
        }
        for &id in ids.iter().step_by(2) {
            a.remove(id);
        }
        for &id in ids.iter().skip(1).step_by(4) {
            a.insert(id, b"replaced");
        }
        assert_eq!(a.len(), 2_500);
        for (i, &id) in ids.iter().enumerate() {
            match (i % 2, i % 4) {
                (0, _) => assert!(a.get(id).is_none()),
                (_, 1) => assert_eq!(a.get(id), Some(&b"replaced"[..])),
                _ => assert_eq!(a.get(id), Some(&vec![id as u8; (id % 300) as usize][..])),
            }
        }
        assert!(a.holes * 2 <= a.bytes.len() + 64 * 1024, "compacted");
        a.insert(i64::from(u32::MAX) + 1, b"x");
        assert!(a.get(i64::from(u32::MAX) + 1).is_none(), "ids beyond u32 are not kept");
        let far = (MAX_DIRECT as i64 + 10) * 4 + 3;
        a.insert(far, b"far");
        assert_eq!(a.get(far), Some(&b"far"[..]), "ids beyond the slot table, in the map");
        assert_eq!(a.len(), 2_501);
        a.evict_one();
        a.evict_one();
        assert_eq!(a.len(), 2_499);
        assert!(a.get(far).is_none(), "the far map is evicted first");
        assert!(a.footprint() > 0);
        a.clear();
        assert!(a.get(ids[1]).is_none() && a.len() == 0);
    }
}

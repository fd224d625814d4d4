//! The agent cache's storage (issue 26): per shard, the packed agents
//! (`packed.rs`) one after another in one byte arena, and a map from id to
//! offset. A `HashMap<Id, Box<[u8]>>` cost an allocation per agent (rounded
//! up to the allocator's size class) and a 24-byte slot per bucket, at most
//! half of them used once the table doubled: about 230 MB for 1M agents of
//! ~100 packed bytes; here each agent costs its bytes, a 4-byte length and
//! an 8-byte slot (about 120 MB for the same). Replaced and forgotten entries
//! leave holes, compacted once they are half the arena.

use std::collections::HashMap;

/// One shard's packed agents.
#[derive(Default)]
pub(super) struct Arena {
    /// Agents it is meant to hold (its shard's bound): room for them is
    /// reserved at the first insert.
    room: usize,
    /// Agent id → offset of its entry (a 4-byte length, then the bytes).
    index: HashMap<u32, u32>,
    bytes: Vec<u8>,
    /// Bytes of entries no longer indexed.
    holes: usize,
}

/// Bytes reserved per agent at the first insert (a packed agent is about
/// 100–150 bytes). Reserving is not using: pages not yet written are not
/// resident. Growing an arena by steps instead left the blocks it grew out
/// of to the allocator, as much again as the arenas while a preload ran.
const RESERVE_PER_AGENT: usize = 160;

impl Arena {
    pub(super) fn with_room(room: usize) -> Arena {
        Arena { room, ..Arena::default() }
    }

    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    pub(super) fn get(&self, id: i64) -> Option<&[u8]> {
        let off = *self.index.get(&u32::try_from(id).ok()?)? as usize;
        let len = u32::from_le_bytes(self.bytes[off..off + 4].try_into().ok()?) as usize;
        Some(&self.bytes[off + 4..off + 4 + len])
    }

    pub(super) fn contains(&self, id: i64) -> bool {
        u32::try_from(id).is_ok_and(|id| self.index.contains_key(&id))
    }

    /// Keeps `value` for `id` (ids beyond u32 are not kept).
    pub(super) fn insert(&mut self, id: i64, value: &[u8]) {
        let (Ok(id), Ok(len)) = (u32::try_from(id), u32::try_from(value.len())) else { return };
        self.remove(i64::from(id));
        if self.bytes.len() + value.len() + 4 > u32::MAX as usize {
            return;
        }
        let need = value.len() + 4;
        if self.bytes.capacity() == 0 && self.room > 0 {
            self.bytes.reserve_exact(self.room.saturating_mul(RESERVE_PER_AGENT));
            self.index.reserve(self.room);
        }
        self.bytes.reserve(need);
        let off = self.bytes.len() as u32;
        self.bytes.extend_from_slice(&len.to_le_bytes());
        self.bytes.extend_from_slice(value);
        self.index.insert(id, off);
    }

    pub(super) fn remove(&mut self, id: i64) {
        let Ok(id) = u32::try_from(id) else { return };
        if let Some(off) = self.index.remove(&id) {
            let off = off as usize;
            let len = u32::from_le_bytes(self.bytes[off..off + 4].try_into().unwrap_or_default()) as usize;
            self.holes += len + 4;
            if self.holes > 64 * 1024 && self.holes * 2 > self.bytes.len() {
                self.compact();
            }
        }
    }

    /// Any one entry out (random eviction: the map's hasher is keyed per
    /// process).
    pub(super) fn evict_one(&mut self) {
        if let Some(&victim) = self.index.keys().next() {
            self.remove(i64::from(victim));
        }
    }

    /// Forgets every entry; the room stays reserved.
    pub(super) fn clear(&mut self) {
        self.index.clear();
        self.bytes.clear();
        self.holes = 0;
    }

    /// Copies the live entries into an arena of their size.
    fn compact(&mut self) {
        let mut bytes = Vec::with_capacity(self.bytes.capacity());
        for off in self.index.values_mut() {
            let o = *off as usize;
            let len = u32::from_le_bytes(self.bytes[o..o + 4].try_into().unwrap_or_default()) as usize;
            *off = bytes.len() as u32;
            bytes.extend_from_slice(&self.bytes[o..o + 4 + len]);
        }
        self.bytes = bytes;
        self.holes = 0;
    }

    /// Bytes held (arena capacity and map slots).
    #[cfg(test)]
    pub(super) fn footprint(&self) -> usize {
        self.bytes.capacity() + self.index.capacity() * 9
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_replacements_removals_and_compaction() {
        let mut a = Arena::default();
        for id in 0..5_000i64 {
            a.insert(id, &vec![id as u8; (id % 300) as usize]);
        }
        for id in (0..5_000i64).step_by(2) {
            a.remove(id);
        }
        for id in (1..5_000i64).step_by(4) {
            a.insert(id, b"replaced");
        }
        assert_eq!(a.len(), 2_500);
        for id in 0..5_000i64 {
            match (id % 2, id % 4) {
                (0, _) => assert!(a.get(id).is_none()),
                (_, 1) => assert_eq!(a.get(id), Some(&b"replaced"[..])),
                _ => assert_eq!(a.get(id), Some(&vec![id as u8; (id % 300) as usize][..])),
            }
        }
        assert!(a.holes * 2 <= a.bytes.len() + 64 * 1024, "compacted");
        a.insert(i64::from(u32::MAX) + 1, b"x");
        assert!(a.get(i64::from(u32::MAX) + 1).is_none(), "ids beyond u32 are not kept");
        a.evict_one();
        assert_eq!(a.len(), 2_499);
        assert!(a.footprint() > 0);
    }
}

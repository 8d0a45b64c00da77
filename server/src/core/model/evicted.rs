//! The ids of evicted orders, kept after their orders leave memory: an
//! order's owner is decided for good by its `order.created` (§1.5 of
//! docs/PROTOCOL.md), and eviction must not undo that while the order's
//! events can still be read again (the order topics' retention). A created
//! event for an evicted id is then refused: `duplicate_created` from the
//! same buyer (a producer's re-send: never a resurrection as `pending`),
//! `conflicting_created` from another (never a change of owner).
//!
//! A few bytes an id: the order id and the owner are kept as 64-bit
//! FNV-1a hashes, in generations of an eighth of the keep time each, so
//! expiry drops whole maps and never scans. Two ids collide with
//! probability about n²/2⁶⁵ (one in 3·10⁷ for a million kept ids); a
//! collision can only refuse a new order's created event, never show an
//! order to the wrong buyer.

use std::collections::{HashMap, VecDeque};

use protocol::Timestamp;

/// Generations per keep time.
const GENERATIONS: i64 = 8;

/// The 64-bit FNV-1a hash: stable across versions and machines, since it
/// travels in checkpoints.
pub fn id_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// One generation: ids evicted within one span, and the latest time one
/// was added.
#[derive(Debug)]
struct Generation {
    newest: Timestamp,
    owners: HashMap<u64, u64>,
}

/// Evicted order ids and their owners' hashes, kept for a while.
#[derive(Debug, Default)]
pub struct EvictedIds {
    generations: VecDeque<Generation>,
}

/// What the model answers about an id it no longer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// Evicted, and owned by the buyer asked about.
    SameOwner,
    /// Evicted, and owned by someone else.
    OtherOwner,
}

impl EvictedIds {
    /// Remembers an evicted order, at `now`; `keep_ms` sets the span of a
    /// generation.
    pub fn insert(&mut self, order_id: &str, owner: &str, now: Timestamp, keep_ms: i64) {
        self.insert_hashed(id_hash(order_id), id_hash(owner), now, keep_ms);
    }

    fn insert_hashed(&mut self, id: u64, owner: u64, now: Timestamp, keep_ms: i64) {
        let span = (keep_ms / GENERATIONS).max(1);
        let fresh = match self.generations.back() {
            Some(last) => now.0.saturating_sub(last.newest.0) >= span && now > last.newest,
            None => true,
        };
        if fresh {
            self.generations.push_back(Generation {
                newest: now,
                owners: HashMap::new(),
            });
        }
        if let Some(last) = self.generations.back_mut() {
            last.newest = last.newest.max(now);
            last.owners.insert(id, owner);
        }
    }

    /// Whether `order_id` was evicted, and whether `buyer` owned it.
    pub fn known(&self, order_id: &str, buyer: &str) -> Option<Known> {
        let id = id_hash(order_id);
        let owner = self
            .generations
            .iter()
            .rev()
            .find_map(|generation| generation.owners.get(&id))?;
        Some(if *owner == id_hash(buyer) {
            Known::SameOwner
        } else {
            Known::OtherOwner
        })
    }

    /// Forgets the ids evicted before `before` (a generation goes when its
    /// newest id is older).
    pub fn forget_before(&mut self, before: Timestamp) {
        while self
            .generations
            .front()
            .is_some_and(|generation| generation.newest < before)
        {
            self.generations.pop_front();
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.generations.iter().map(|g| g.owners.len()).sum()
    }

    /// Heap bytes the maps hold (capacity, not length): what an id costs.
    #[cfg(test)]
    fn heap_bytes(&self) -> usize {
        let slot = std::mem::size_of::<(u64, u64)>() + 1;
        self.generations
            .iter()
            .map(|g| g.owners.capacity() * slot)
            .sum()
    }

    /// `(id hash, owner hash, evicted at)` for a checkpoint, oldest first.
    pub fn export(&self) -> Vec<(u64, u64, Timestamp)> {
        self.generations
            .iter()
            .flat_map(|g| g.owners.iter().map(|(id, owner)| (*id, *owner, g.newest)))
            .collect()
    }

    /// Starts from a checkpoint's list.
    pub fn restore(&mut self, mut ids: Vec<(u64, u64, Timestamp)>, keep_ms: i64) {
        *self = EvictedIds::default();
        ids.sort_unstable_by_key(|(_, _, at)| *at);
        for (id, owner, at) in ids {
            self.insert_hashed(id, owner, at, keep_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 24 * 3600 * 1000;

    #[test]
    fn an_evicted_id_keeps_its_owner_until_forgotten() {
        let mut ids = EvictedIds::default();
        ids.insert("ord-1", "alice", Timestamp(0), 7 * DAY);
        assert_eq!(ids.known("ord-1", "alice"), Some(Known::SameOwner));
        assert_eq!(ids.known("ord-1", "mallory"), Some(Known::OtherOwner));
        assert_eq!(ids.known("ord-2", "alice"), None);
        ids.insert("ord-2", "bob", Timestamp(3 * DAY), 7 * DAY);
        ids.forget_before(Timestamp(DAY));
        assert_eq!(ids.known("ord-1", "alice"), None, "its generation expired");
        assert_eq!(ids.known("ord-2", "bob"), Some(Known::SameOwner));
    }

    #[test]
    fn export_and_restore_keep_every_id() {
        let mut ids = EvictedIds::default();
        for i in 0..100 {
            ids.insert(
                &format!("ord-{i}"),
                "alice",
                Timestamp(i * DAY / 10),
                7 * DAY,
            );
        }
        let mut restored = EvictedIds::default();
        restored.restore(ids.export(), 7 * DAY);
        assert_eq!(restored.len(), 100);
        assert!(
            restored.generations.len() <= 10,
            "{}",
            restored.generations.len()
        );
        for i in 0..100 {
            assert_eq!(
                restored.known(&format!("ord-{i}"), "alice"),
                Some(Known::SameOwner)
            );
        }
    }

    #[test]
    fn the_hash_is_stable() {
        // It travels in checkpoints: these values must never change.
        assert_eq!(id_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(id_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }

    /// What an evicted id costs: printed, and bounded.
    #[test]
    fn a_million_evicted_ids_cost_a_few_bytes_each() {
        let mut ids = EvictedIds::default();
        for i in 0..1_000_000u64 {
            let at = Timestamp((i * 600) as i64); // ~7 days over the run
            ids.insert(
                &format!("ord-{i:016x}"),
                &format!("user-{}", i % 5000),
                at,
                7 * DAY,
            );
        }
        let per_id = ids.heap_bytes() as f64 / ids.len() as f64;
        println!(
            "evicted ids: {} in {} generations, {per_id:.1} heap bytes each",
            ids.len(),
            ids.generations.len()
        );
        assert!(per_id < 40.0, "{per_id}");
    }
}

//! The recent order events, in consumption order, for resume by cursor.
//!
//! Bounded: past `limit` entries the oldest are dropped, and the history
//! remembers how far it has dropped in each partition so that a cursor older
//! than that gets a snapshot instead of a partial replay. Offsets Kafka itself
//! no longer has (its log start, after retention) count as dropped too.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use protocol::checkpoint::HistoryEntry;
use protocol::OrderEvent;

use crate::core::cursor::{Cursor, PartitionId, Pos};
use crate::core::model::ReadModel;
use crate::core::viewer::Viewer;

/// One consumed order event.
#[derive(Debug, Clone)]
pub struct Entry {
    pub seq: u64,
    pub pos: Pos,
    /// With the buyer filled in when it was known at consumption time.
    pub event: Arc<OrderEvent>,
}

#[derive(Debug)]
pub struct History {
    entries: VecDeque<Entry>,
    limit: usize,
    next_seq: u64,
    /// For each partition, the offsets below this were dropped.
    dropped: Cursor,
}

impl History {
    pub fn new(limit: usize) -> History {
        History {
            entries: VecDeque::new(),
            limit: limit.max(1),
            next_seq: 0,
            dropped: Cursor::default(),
        }
    }

    /// The sequence number the next pushed entry will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    pub fn push(&mut self, pos: Pos, event: Arc<OrderEvent>) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.entries.push_back(Entry { seq, pos, event });
        while self.entries.len() > self.limit {
            if let Some(old) = self.entries.pop_front() {
                self.dropped.advance(old.pos);
            }
        }
        seq
    }

    /// Kafka no longer has the offsets below `first` in `part` (retention,
    /// compaction): a cursor from before them gets a snapshot, as if this
    /// history had dropped them.
    pub fn log_starts_at(&mut self, part: PartitionId, first: i64) {
        if first > 0 {
            self.dropped.advance(Pos {
                part,
                offset: first - 1,
            });
        }
    }

    /// What a checkpoint keeps: the entries in order, and the floor below
    /// which cursors get a snapshot.
    pub fn export(&self) -> (Cursor, Vec<HistoryEntry>) {
        let entries = self
            .entries
            .iter()
            .map(|entry| HistoryEntry {
                at: entry.pos.into(),
                event: (*entry.event).clone().into(),
            })
            .collect();
        (self.dropped.clone(), entries)
    }

    /// Where the entry `seq` was consumed, while it is kept.
    pub fn position_of(&self, seq: u64) -> Option<Pos> {
        Some(self.get(seq)?.pos)
    }

    /// The sequence numbers of the kept entries, by where they were
    /// consumed.
    pub fn seqs_by_position(&self) -> HashMap<Pos, u64> {
        self.entries.iter().map(|e| (e.pos, e.seq)).collect()
    }

    /// Starts again from a checkpoint's history (the limit still applies).
    pub fn restore(&mut self, dropped: Cursor, entries: Vec<HistoryEntry>) {
        self.entries.clear();
        self.dropped = dropped;
        for entry in entries {
            self.push(entry.at.into(), Arc::new(entry.event.into()));
        }
    }

    pub fn get(&self, seq: u64) -> Option<&Entry> {
        // Sorted by seq, with gaps where orders were evicted.
        let index = self.entries.binary_search_by_key(&seq, |e| e.seq).ok()?;
        self.entries.get(index)
    }

    /// Drops every entry of these orders (evicted from the read model): a
    /// cursor from before any of them gets a snapshot from now on, never a
    /// replay with a hole in it.
    pub fn forget_orders(&mut self, order_ids: &std::collections::HashSet<&str>) {
        if order_ids.is_empty() {
            return;
        }
        let dropped = &mut self.dropped;
        self.entries.retain(|entry| {
            let keep = !order_ids.contains(entry.event.order_id());
            if !keep {
                dropped.advance(entry.pos);
            }
            keep
        });
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The events `viewer` has not seen since `from`, each with the cursor
    /// that resumes right after it; `None` when some of them were dropped
    /// (the caller sends a snapshot instead).
    ///
    /// An event counts as unseen when its own position is past the cursor, or
    /// when its order became visible (its created event) past the cursor:
    /// events consumed before their order's created event are delivered
    /// again with it, so a replay must include them too. Which events came
    /// before the created event depends on the order the partitions were
    /// read in, which differs between relays and between runs of one, so
    /// this looks at the created event's position, not at what was early.
    pub fn replay(
        &self,
        from: &Cursor,
        viewer: Viewer<'_>,
        model: &ReadModel,
    ) -> Option<Vec<(&Entry, Cursor)>> {
        if self
            .dropped
            .iter()
            .any(|(part, next)| from.next(part) < next)
        {
            return None;
        }
        // The orders that became visible (their created event) past the
        // cursor. An order's created event older than this history is
        // covered by any cursor that gets a replay at all.
        let visible_since: HashSet<&str> = self
            .entries
            .iter()
            .filter(|e| matches!(*e.event, OrderEvent::Created(_)) && !from.covers(e.pos))
            .map(|e| e.event.order_id())
            .collect();
        let mut running = from.clone();
        let mut out = Vec::new();
        for entry in &self.entries {
            running.advance(entry.pos);
            let order_id = entry.event.order_id();
            // Routing first: for a user, most entries are other users' orders
            // and cost one lookup.
            if !model.may_see(&entry.event, viewer) {
                continue;
            }
            let fresh = !from.covers(entry.pos) || visible_since.contains(order_id);
            if fresh {
                out.push((entry, running.clone()));
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests;

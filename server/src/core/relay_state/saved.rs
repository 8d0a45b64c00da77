//! The relay's state in and out of a checkpoint (§1.9 of
//! docs/PROTOCOL.md).

use std::collections::HashMap;

use protocol::checkpoint::{EarlyStatus, HistoryEntry, KeptOrder};

use super::RelayState;
use crate::core::cursor::{Cursor, Pos};

/// Everything a checkpoint holds: the orders kept, statuses waiting for
/// their order, the recent history and the position they cover.
#[derive(Debug, Default)]
pub struct Saved {
    /// Every order message before this is in the state.
    pub position: Cursor,
    /// The history's floor: cursors from before it get a snapshot.
    pub history_from: Cursor,
    pub orders: Vec<KeptOrder>,
    pub early: Vec<EarlyStatus>,
    pub history: Vec<HistoryEntry>,
}

impl RelayState {
    /// The state a checkpoint holds.
    pub fn save(&self) -> Saved {
        let history = &self.history;
        let (orders, early) = self
            .model
            .export(|seq| history.position_of(seq).map(Into::into));
        let (history_from, history) = self.history.export();
        Saved {
            position: self.position.clone(),
            history_from,
            orders,
            early,
            history,
        }
    }

    /// Starts from a checkpoint: the consumer goes on from its position, and
    /// resume by cursor works as before the restart (within the history it
    /// kept).
    pub fn restore(&mut self, saved: Saved) {
        self.history.restore(saved.history_from, saved.history);
        let seqs = if saved.early.is_empty() {
            HashMap::new()
        } else {
            self.history.seqs_by_position()
        };
        self.model.restore(saved.orders, saved.early, |at| {
            seqs.get(&Pos::from(at)).copied()
        });
        self.position = saved.position;
    }
}

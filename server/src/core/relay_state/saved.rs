//! The relay's state in and out of a checkpoint (§1.9 of
//! docs/PROTOCOL.md).

use std::collections::HashMap;

use protocol::checkpoint::{EarlyStatus, EvictedId, HistoryEntry, KeptOrder};

use protocol::kafka::TopicKind;

use super::RelayState;
use crate::core::cursor::{Cursor, PartitionId, Pos};

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
    /// Evicted orders' ids and owners.
    pub evicted: Vec<EvictedId>,
}

/// Why a checkpoint read back was not used. Each variant is one `reason`
/// label of `relay_checkpoints_refused_total`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::EnumDiscriminants)]
#[strum_discriminants(
    name(RefusedCheckpointReason),
    derive(strum::VariantArray, strum::IntoStaticStr, Hash),
    strum(serialize_all = "snake_case")
)]
pub enum RefusedCheckpoint {
    #[error("it covers {topic} partition {partition} up to offset {next}, but that partition's log ends at {end}: a checkpoint ahead of the log would make the relay skip every new event")]
    AheadOfLog {
        topic: &'static str,
        partition: i32,
        next: i64,
        end: i64,
    },
    #[error("it names {topic} partition {partition}, which does not exist")]
    UnknownPartition { topic: &'static str, partition: i32 },
    #[error("its commit names {expected} parts, {found} sealed ones were found")]
    MissingParts { expected: u32, found: usize },
    #[error("it does not hold together: {0}")]
    Inconsistent(String),
}

/// Where each order partition's log ends (its high watermark), or `None`
/// when the partition does not exist.
pub type LogEnds<'a> = &'a dyn Fn(PartitionId) -> Option<i64>;

impl Saved {
    /// Whether this state may be started from: its position within the log
    /// as it is now, every history entry covered by it, its counts those of
    /// what was read (`claimed_orders`: the commit's count). A checkpoint
    /// is input like any other: it is checked before it replaces anything.
    pub fn check(
        &self,
        claimed_orders: u64,
        log_ends: LogEnds<'_>,
    ) -> Result<(), RefusedCheckpoint> {
        let name = |part: PartitionId| {
            TopicKind::from_order_topic(part.topic)
                .map_or("an unknown topic", TopicKind::default_name)
        };
        for (part, next) in self.position.iter() {
            let Some(end) = log_ends(part) else {
                return Err(RefusedCheckpoint::UnknownPartition {
                    topic: name(part),
                    partition: part.partition,
                });
            };
            if next > end {
                return Err(RefusedCheckpoint::AheadOfLog {
                    topic: name(part),
                    partition: part.partition,
                    next,
                    end,
                });
            }
        }
        let inconsistent = |what: String| Err(RefusedCheckpoint::Inconsistent(what));
        if self.history_from.is_ahead_of(&self.position) {
            return inconsistent("the history starts past the position".into());
        }
        if u64::try_from(self.orders.len()) != Ok(claimed_orders) {
            return inconsistent(format!(
                "the commit claims {claimed_orders} orders, its parts hold {}",
                self.orders.len()
            ));
        }
        for entry in &self.history {
            let pos = Pos::from(entry.at);
            if TopicKind::from_order_topic(pos.part.topic).is_none()
                || pos.part.partition < 0
                || pos.offset < 0
                || !self.position.covers(pos)
            {
                return inconsistent(format!(
                    "a history entry at {}/{}/{} is not covered by the position",
                    pos.part.topic, pos.part.partition, pos.offset
                ));
            }
        }
        Ok(())
    }
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
            evicted: self.model.export_evicted(),
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
        self.model
            .restore_evicted(saved.evicted, self.keep_evicted_ids_ms);
        self.position = saved.position;
    }
}

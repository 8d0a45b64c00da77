//! The read model in and out of a checkpoint (§1.9 of docs/PROTOCOL.md).

use std::collections::HashMap;

use protocol::checkpoint::{EarlyStatus, EvictedId, KeptOrder, Position};
use protocol::{StatusAt, Timestamp};

use super::{Early, ReadModel, Record, RESTORED};

impl ReadModel {
    /// What a checkpoint holds: every kept order (its status time as
    /// `updatedAt`) with its finish time, and the statuses still waiting for
    /// their order's created event.
    /// `position_of` says where a history entry (by sequence number) was
    /// consumed, while the history holds it.
    pub fn export(
        &self,
        position_of: impl Fn(u64) -> Option<Position>,
    ) -> (Vec<KeptOrder>, Vec<EarlyStatus>) {
        let finished: HashMap<&str, Timestamp> = self
            .finished
            .iter()
            .map(|(at, id)| (id.as_str(), *at))
            .collect();
        let orders = self
            .book
            .newest_first()
            .map(|order| KeptOrder {
                order: order.clone(),
                finished_at: finished.get(order.order_id.as_str()).copied(),
            })
            .collect();
        let early = self
            .records
            .iter()
            .flat_map(|(order_id, record)| {
                record.early.iter().map(|early| EarlyStatus {
                    order_id: order_id.clone(),
                    named: early.named.clone(),
                    status: early.status.status,
                    at: early.status.at,
                    position: position_of(early.seq),
                    held_since: Some(record.since),
                })
            })
            .collect();
        (orders, early)
    }

    /// The evicted ids a checkpoint carries.
    pub fn export_evicted(&self) -> Vec<EvictedId> {
        self.evicted
            .export()
            .into_iter()
            .map(|(id, owner, at)| EvictedId(id, owner, at.0))
            .collect()
    }

    /// Starts from a checkpoint's evicted ids (after [`ReadModel::restore`]).
    pub fn restore_evicted(&mut self, ids: Vec<EvictedId>, keep_ms: i64) {
        let ids = ids
            .into_iter()
            .map(|EvictedId(id, owner, at)| (id, owner, Timestamp(at)))
            .collect();
        self.evicted.restore(ids, keep_ms);
    }

    /// Starts from a checkpoint: the model becomes exactly its orders and
    /// waiting statuses. `seq_of` finds the restored history entry consumed
    /// at a position, so a waiting status is still sent to the owner when
    /// its order's created event comes, as without the restart (one the
    /// history no longer holds is merged, and sent to no one, as then too).
    pub fn restore(
        &mut self,
        orders: Vec<KeptOrder>,
        early: Vec<EarlyStatus>,
        seq_of: impl Fn(Position) -> Option<u64>,
    ) {
        *self = ReadModel::default();
        let mut finished: Vec<(Timestamp, String)> = Vec::new();
        let mut book = Vec::with_capacity(orders.len());
        for kept in orders {
            let order_id = kept.order.order_id.clone();
            self.by_buyer
                .entry(kept.order.buyer_id.clone())
                .or_default()
                .push(order_id.clone());
            if let Some(at) = kept.finished_at {
                finished.push((at, order_id.clone()));
            }
            book.push(kept.order);
        }
        // A checkpoint's orders carry their status time as `updatedAt`, as a
        // snapshot's do.
        self.book.load(book);
        finished.sort_unstable();
        self.finished = finished.into();
        for waiting in early {
            let since = waiting.held_since.unwrap_or(waiting.at);
            self.records
                .entry(waiting.order_id)
                .or_insert_with(|| Record {
                    since,
                    early: Vec::new(),
                })
                .early
                .push(Early {
                    seq: waiting.position.and_then(&seq_of).unwrap_or(RESTORED),
                    named: waiting.named,
                    status: StatusAt {
                        status: waiting.status,
                        at: waiting.at,
                    },
                });
        }
        self.waiting = self
            .records
            .iter()
            .map(|(order_id, record)| (record.since, order_id.clone()))
            .collect();
    }
}

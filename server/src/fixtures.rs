//! Builders for unit tests: positions, and order events over
//! `protocol::fixtures` with times in plain milliseconds.

use protocol::fixtures::{cancellation, order, update};
use protocol::{OrderEvent, OrderStatus, Timestamp};

use crate::core::cursor::{PartitionId, Pos};

/// A bound on event times that accepts every event (no clock skew check).
pub const ANY_TIME: Timestamp = Timestamp(i64::MAX);

/// Offset `offset` of partition 0 of topic `topic` (0 created, 1 updated, 2 cancelled).
pub fn pos(topic: u8, offset: i64) -> Pos {
    Pos {
        part: PartitionId {
            topic,
            partition: 0,
        },
        offset,
    }
}

/// A pending order of `buyer`, created at `at` ms.
pub fn created(id: &str, buyer: &str, at: i64) -> OrderEvent {
    OrderEvent::Created(order(id, buyer, Timestamp(at)))
}

/// A status change at `at` ms, naming its buyer or not.
pub fn updated(id: &str, buyer: Option<&str>, status: OrderStatus, at: i64) -> OrderEvent {
    OrderEvent::Updated(update(id, buyer, status, Timestamp(at)))
}

/// A cancellation at `at` ms, without its buyer.
pub fn cancelled(id: &str, at: i64) -> OrderEvent {
    OrderEvent::Cancelled(cancellation(id, None, Timestamp(at)))
}

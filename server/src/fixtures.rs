//! Builders for unit tests: positions and order events with few fields.

use protocol::{Order, OrderCancellation, OrderEvent, OrderStatus, OrderUpdate, Timestamp};

use crate::cursor::{PartitionId, Pos};

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
    OrderEvent::Created(Order {
        order_id: id.into(),
        buyer_id: buyer.into(),
        items: vec![],
        subtotal: 1.0,
        tax: 0.0,
        total: 1.0,
        status: OrderStatus::Pending,
        shipping_address: protocol::RawJson::null(),
        created_at: Timestamp(at),
        updated_at: Timestamp(at),
    })
}

/// A status change at `at` ms, naming its buyer or not.
pub fn updated(id: &str, buyer: Option<&str>, status: OrderStatus, at: i64) -> OrderEvent {
    OrderEvent::Updated(OrderUpdate {
        order_id: id.into(),
        buyer_id: buyer.map(Into::into),
        status,
        previous_status: None,
        updated_at: Timestamp(at),
        message: None,
    })
}

/// A cancellation at `at` ms, without its buyer.
pub fn cancelled(id: &str, at: i64) -> OrderEvent {
    OrderEvent::Cancelled(OrderCancellation {
        order_id: id.into(),
        buyer_id: None,
        reason: None,
        cancelled_at: Timestamp(at),
    })
}

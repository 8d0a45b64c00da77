//! Builders for the client's unit tests: times, orders and order actions.

use protocol::frames::OrdersSnapshot;
use protocol::{Order, OrderCancellation, OrderItem, OrderStatus, OrderUpdate, Timestamp};

use crate::state::Action;

use OrderStatus::Pending;

pub fn t(secs: i64) -> Timestamp {
    Timestamp(1_762_943_400_000 + secs * 1000)
}

pub fn order(id: &str, created: i64) -> Order {
    Order {
        order_id: id.into(),
        buyer_id: "alice".into(),
        items: vec![OrderItem {
            product_id: "p1".into(),
            name: "Kettle".into(),
            quantity: 1,
            price: 20.0,
        }],
        subtotal: 20.0,
        tax: 2.0,
        total: 22.0,
        status: Pending,
        shipping_address: protocol::RawJson::null(),
        created_at: t(created),
        updated_at: t(created),
    }
}

pub fn created(id: &str, at: i64) -> Action {
    Action::AddOrder {
        order: order(id, at),
        cursor: format!("c-created-{id}"),
    }
}

pub fn updated(id: &str, status: OrderStatus, at: i64) -> Action {
    Action::UpdateOrderStatus {
        update: OrderUpdate {
            order_id: id.into(),
            buyer_id: Some("alice".into()),
            status,
            previous_status: None,
            updated_at: t(at),
            message: None,
        },
        cursor: format!("c-updated-{id}-{at}"),
    }
}

pub fn cancelled(id: &str, at: i64) -> Action {
    Action::CancelOrder {
        cancellation: OrderCancellation {
            order_id: id.into(),
            buyer_id: Some("alice".into()),
            reason: None,
            cancelled_at: t(at),
        },
        cursor: format!("c-cancelled-{id}-{at}"),
    }
}

pub fn snapshot(orders: Vec<Order>) -> Action {
    Action::OrdersLoaded(OrdersSnapshot {
        orders,
        cursor: "c-snapshot".into(),
    })
}

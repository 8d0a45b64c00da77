//! Builders of protocol values for tests, the relay's and the client's
//! alike: an order, a status change and a cancellation, from the few fields
//! a test cares about. Only in this crate's tests and with the `fixtures`
//! feature, so no release build carries them.

use crate::order::{Order, OrderItem, OrderStatus};
use crate::time::Timestamp;
use crate::RawJson;
use crate::{OrderCancellation, OrderUpdate};

/// A pending order of `buyer` created at `at`: two kettles, 87.80 with tax.
pub fn order(id: &str, buyer: &str, at: Timestamp) -> Order {
    Order {
        order_id: id.into(),
        buyer_id: buyer.into(),
        items: vec![OrderItem {
            product_id: "p-kettle".into(),
            name: "Electric kettle".into(),
            quantity: 2,
            price: 39.9,
        }],
        subtotal: 79.8,
        tax: 8.0,
        total: 87.8,
        status: OrderStatus::Pending,
        shipping_address: RawJson::null(),
        created_at: at,
        updated_at: at,
    }
}

/// Order `id` moving to `status` at `at`, naming its buyer or not.
pub fn update(id: &str, buyer: Option<&str>, status: OrderStatus, at: Timestamp) -> OrderUpdate {
    OrderUpdate {
        order_id: id.into(),
        buyer_id: buyer.map(Into::into),
        status,
        previous_status: None,
        updated_at: at,
        message: None,
    }
}

/// Order `id` cancelled at `at`, with no reason, naming its buyer or not.
pub fn cancellation(id: &str, buyer: Option<&str>, at: Timestamp) -> OrderCancellation {
    OrderCancellation {
        order_id: id.into(),
        buyer_id: buyer.map(Into::into),
        reason: None,
        cancelled_at: at,
    }
}

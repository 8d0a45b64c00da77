//! How a checkout becomes an order (§4.2 of docs/PROTOCOL.md): its prices,
//! and the id a keyed checkout's order gets. The relay places orders with
//! these; the browser uses them to show a checkout before its
//! `order:created` event returns, under the id and with the total the
//! relay will give it.

use crate::{Order, OrderItem, OrderStatus, RawJson, Timestamp};

/// The tax rate applied at checkout.
pub const TAX_RATE: f64 = 0.10;

/// A pending order with its money fields rounded to cents: subtotal =
/// Σ quantity × price, tax = 10 % of it, total = subtotal + tax.
pub fn price(
    order_id: String,
    buyer: &str,
    items: Vec<OrderItem>,
    address: RawJson,
    at: Timestamp,
) -> Order {
    let cents = |x: f64| (x * 100.0).round() / 100.0;
    let subtotal = cents(items.iter().map(|i| f64::from(i.quantity) * i.price).sum());
    let tax = cents(subtotal * TAX_RATE);
    Order {
        order_id,
        buyer_id: buyer.to_owned(),
        items,
        subtotal,
        tax,
        total: cents(subtotal + tax),
        status: OrderStatus::Pending,
        shipping_address: address,
        created_at: at,
        updated_at: at,
    }
}

/// What a keyed checkout's order id is the SHA-256 of: the user, a zero
/// byte, the `Idempotency-Key`.
pub fn keyed_id_input(user_id: &str, key: &str) -> String {
    format!("{user_id}\0{key}")
}

/// The order id from that digest, in lower-case hex: `ord-` and its first
/// 16 digits. `None` for a digest too short to be SHA-256's.
pub fn keyed_id_from_digest(hex: &str) -> Option<String> {
    hex.get(..16)
        .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|h| format!("ord-{}", h.to_ascii_lowercase()))
}

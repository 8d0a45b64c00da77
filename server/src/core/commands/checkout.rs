//! Checkout: what a cart may hold, how it is priced, and which id the order
//! gets (§4.2 of docs/PROTOCOL.md).

use protocol::http::CheckoutRequest;
use protocol::{Order, OrderEvent, OrderItem, RawJson, Timestamp};
use rand::Rng;

use super::CommandError;

pub use protocol::checkout::{price, TAX_RATE};

/// Checkout limits. With them the biggest order's event is about 40 KB,
/// under the default 64 KiB message limit; a relay run with a lower
/// `--max-message-bytes` refuses bigger orders as too large.
pub use protocol::limits::{
    MAX_ADDRESS_BYTES, MAX_ITEMS, MAX_NAME_CHARS, MAX_PRICE, MAX_PRODUCT_ID_CHARS, MAX_QUANTITY,
};
pub const MAX_IDEMPOTENCY_KEY: usize = 128;

/// A checked cart: its lines and shipping address.
pub type Cart = (Vec<OrderItem>, RawJson);

/// The order a checkout places, once its cart passes the limits and its
/// `order.created` event fits in `max_message_bytes` (the relay's own limit
/// for consuming it): an order this returns is one the relay will show.
pub fn new_order(
    request: CheckoutRequest,
    order_id: String,
    buyer: &str,
    at: Timestamp,
    max_message_bytes: usize,
) -> Result<Order, CommandError> {
    let (items, address) = check_cart(request)?;
    let order = price(order_id, buyer, items, address, at);
    let size = OrderEvent::Created(order.clone()).to_json().len();
    if size > max_message_bytes {
        return Err(CommandError::TooLarge {
            size,
            limit: max_message_bytes,
        });
    }
    Ok(order)
}

/// A keyed checkout whose order the relay already has: the same cart is a
/// retry (answer with the order), another cart is a reused key.
pub fn replay(existing: Order, placed: &Order) -> Result<Order, CommandError> {
    if crate::core::model::same_order(&existing, placed) {
        Ok(existing)
    } else {
        Err(CommandError::IdempotencyKeyReused)
    }
}

fn invalid(message: impl Into<String>) -> CommandError {
    CommandError::Invalid(message.into())
}

/// The cart's lines and address, if they keep to the limits.
pub fn check_cart(request: CheckoutRequest) -> Result<Cart, CommandError> {
    if request.items.is_empty() {
        return Err(invalid("the cart is empty: send at least one item"));
    }
    protocol::limits::check_items(&request.items).map_err(invalid)?;
    protocol::limits::check_address(&request.shipping_address).map_err(invalid)?;
    Ok((request.items, request.shipping_address))
}

/// A fresh order id: `ord-` and 16 random hex digits.
pub fn new_order_id() -> String {
    format!("ord-{:016x}", rand::rng().random::<u64>())
}

/// An `Idempotency-Key` header's value, checked: 1-128 visible ASCII
/// characters. `None` (no header) is a checkout without a key.
pub fn idempotency_key(value: Option<&[u8]>) -> Result<Option<&str>, CommandError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let key = std::str::from_utf8(value).map_err(|_| CommandError::InvalidIdempotencyKey)?;
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(CommandError::InvalidIdempotencyKey);
    }
    Ok(Some(key))
}

/// The order id a keyed checkout gets: `ord-` and 16 hex digits of
/// SHA-256(user, key). The same caller and key always give the same id; no
/// one can aim at another caller's id without knowing their key.
pub fn keyed_order_id(user_id: &str, key: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(protocol::checkout::keyed_id_input(user_id, key));
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    protocol::checkout::keyed_id_from_digest(&hex).expect("SHA-256 has 64 hex digits")
}

//! The order API (§4): list, checkout, cancel, admin status change.
//!
//! Commands never change state here. Each one checks the rules against the
//! read model, publishes its Kafka event and answers once the broker has
//! acknowledged it; the change reaches every page, including the caller's,
//! when the relay consumes that event. One path for every change, whoever
//! made it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::Json;
use protocol::http::{CancelRequest, CheckoutRequest, OrdersResponse, StatusChange};
use protocol::{
    Order, OrderCancellation, OrderEvent, OrderItem, OrderStatus, OrderUpdate, RawJson, Timestamp,
};
use rand::Rng;

use super::error::{AppError, Body, Caller};
use crate::app::AppState;

/// The tax rate applied at checkout.
pub const TAX_RATE: f64 = 0.10;

/// Checkout limits (§4.2 of docs/PROTOCOL.md). With them the biggest order's
/// event is about 40 KB, under the default 64 KiB message limit; a relay run
/// with a lower `--max-message-bytes` refuses bigger orders with 413.
pub const MAX_ITEMS: usize = 100;
pub const MAX_QUANTITY: u32 = 1000;
/// The highest unit price: keeps every total a finite number of cents.
pub const MAX_PRICE: f64 = 1_000_000.0;
pub const MAX_PRODUCT_ID_CHARS: usize = 64;
pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_ADDRESS_BYTES: usize = 4096;

/// `GET /api/orders`: the same content as `orders:snapshot`. Served from
/// memory once the read model is loaded, also while the broker is away.
pub async fn list(
    State(app): State<Arc<AppState>>,
    Caller(user): Caller,
) -> Result<Json<OrdersResponse>, AppError> {
    if !app.hub.is_loaded() {
        return Err(AppError::not_ready());
    }
    Ok(Json(app.hub.snapshot(&user)))
}

/// `POST /api/orders`: checkout. The server assigns the id, the status and
/// the money fields.
///
/// With an `Idempotency-Key` header (§4.2 of docs/PROTOCOL.md) the order id
/// is derived from the caller and the key, so a retry, on this relay or
/// another, after a restart or not, names the same order: if the relay
/// already has it, the retry answers `200` with it and publishes nothing; if
/// not (the first attempt never reached the broker, or is not consumed yet),
/// the event is published again and the relay applies whichever copy comes
/// first (a repeated `order.created` is a duplicate, §1.5).
pub async fn checkout(
    State(app): State<Arc<AppState>>,
    Caller(user): Caller,
    headers: HeaderMap,
    Body(request): Body<CheckoutRequest>,
) -> Result<(StatusCode, HeaderMap, Json<Order>), AppError> {
    let key = idempotency_key(&headers)?;
    let order_id = match &key {
        Some(key) => keyed_order_id(&user.id, key),
        None => new_order_id(),
    };
    let order = new_order(
        request,
        order_id,
        &user.id,
        now(),
        app.config.max_message_bytes,
    )?;
    let mut answer = HeaderMap::new();
    if key.is_some() {
        // A keyed retry needs the whole model to know whether it is one.
        if !app.hub.is_ready() {
            return Err(AppError::not_ready());
        }
        if let Some(existing) = app.hub.order_for(&user, &order.order_id) {
            if !crate::model::same_order(&existing, &order) {
                return Err(AppError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used for another order: use a new key for a new order",
                ));
            }
            answer.insert("idempotent-replayed", HeaderValue::from_static("true"));
            return Ok((StatusCode::OK, answer, Json(existing)));
        }
    }
    publish(&app, &OrderEvent::Created(order.clone())).await?;
    tracing::info!(order_id = %order.order_id, buyer = %user.id, total = order.total, "order placed");
    Ok((StatusCode::CREATED, answer, Json(order)))
}

/// The longest `Idempotency-Key` accepted.
pub const MAX_IDEMPOTENCY_KEY: usize = 128;

/// The `Idempotency-Key` header, if sent: 1-128 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bad = || {
        AppError::new(
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            format!("Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} visible ASCII characters, such as a UUID"),
        )
    };
    let key = value.to_str().map_err(|_| bad())?;
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(bad());
    }
    Ok(Some(key.to_owned()))
}

/// The order id a keyed checkout gets: `ord-` and 16 hex digits of
/// SHA-256(user, key). The same caller and key always give the same id; no
/// one can aim at another caller's id without knowing their key.
pub fn keyed_order_id(user_id: &str, key: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(user_id.as_bytes())
        .chain_update([0])
        .chain_update(key.as_bytes())
        .finalize();
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("ord-{hex}")
}

/// `POST /api/orders/{id}/cancel`: by the owner or an admin, from pending or
/// processing only.
pub async fn cancel(
    State(app): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(order_id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<OrderCancellation>), AppError> {
    let body = body.map_err(|e| {
        AppError::new(
            e.status(),
            protocol::frames::codes::TOO_LARGE,
            e.body_text(),
        )
    })?;
    // The body is optional: no body means no reason.
    let request: CancelRequest = if body.iter().all(u8::is_ascii_whitespace) {
        CancelRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => AppError::invalid(e.to_string()),
            _ => AppError::new(
                StatusCode::BAD_REQUEST,
                protocol::frames::codes::BAD_JSON,
                e.to_string(),
            ),
        })?
    };
    let order = current(&app, &user, &order_id)?;
    if !order.status.is_cancellable() {
        return Err(AppError::conflict(format!(
            "order is {}: only pending or processing orders can be cancelled",
            order.status.as_str()
        )));
    }
    let reason = request.reason.filter(|r| !r.trim().is_empty());
    let cancellation = OrderCancellation {
        order_id: order.order_id.clone(),
        buyer_id: Some(order.buyer_id.clone()),
        reason,
        cancelled_at: after(order.updated_at),
    };
    publish(&app, &OrderEvent::Cancelled(cancellation.clone())).await?;
    Ok((StatusCode::ACCEPTED, Json(cancellation)))
}

/// The order a command acts on, as the caller may see it. Commands act only
/// on a caught-up read model: while the relay is loading or behind Kafka
/// (`/readyz` 503), the order's status may be stale, and a cancel of an
/// order that has shipped, or a move from a status it has left, would be
/// accepted. So they answer 503 `not_ready` then, as listing does.
fn current(app: &AppState, user: &crate::auth::User, order_id: &str) -> Result<Order, AppError> {
    if !app.hub.is_ready() {
        return Err(AppError::not_ready());
    }
    app.hub
        .order_for(user, order_id)
        .ok_or_else(|| AppError::not_found("order"))
}

/// `PATCH /api/admin/orders/{id}`: admins move an order forward.
pub async fn advance(
    State(app): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(order_id): Path<String>,
    Body(change): Body<StatusChange>,
) -> Result<(StatusCode, Json<OrderUpdate>), AppError> {
    if !user.is_admin() {
        return Err(AppError::forbidden(
            "only admins can change an order's status",
        ));
    }
    let order = current(&app, &user, &order_id)?;
    if !order.status.can_advance_to(change.status) {
        return Err(AppError::conflict(format!(
            "cannot move an order from {} to {}: only forward moves along pending → processing → shipped → delivered",
            order.status.as_str(),
            change.status.as_str()
        )));
    }
    let update = OrderUpdate {
        order_id: order.order_id.clone(),
        buyer_id: Some(order.buyer_id.clone()),
        status: change.status,
        previous_status: Some(order.status),
        updated_at: after(order.updated_at),
        message: Some(change.status.message().to_owned()),
    };
    publish(&app, &OrderEvent::Updated(update.clone())).await?;
    Ok((StatusCode::ACCEPTED, Json(update)))
}

async fn publish(app: &AppState, event: &OrderEvent) -> Result<(), AppError> {
    use std::sync::atomic::Ordering::Relaxed;
    match app.publisher.publish(event).await {
        Ok(()) => {
            app.metrics.published.fetch_add(1, Relaxed);
            Ok(())
        }
        Err(e) => {
            app.metrics.publish_failures.fetch_add(1, Relaxed);
            tracing::error!(order_id = event.order_id(), "publish failed: {e}");
            Err(AppError::broker_unavailable())
        }
    }
}

/// The order a checkout places, once its cart passes the limits and its
/// `order.created` event fits in `max_message_bytes` (the relay's own limit
/// for consuming it): an order this returns is one the relay will show.
pub fn new_order(
    request: CheckoutRequest,
    order_id: String,
    buyer: &str,
    at: Timestamp,
    max_message_bytes: usize,
) -> Result<Order, AppError> {
    let (items, address) = validate_items(request)?;
    let order = price(order_id, buyer, items, address, at);
    let size = OrderEvent::Created(order.clone()).to_json().len();
    if size > max_message_bytes {
        return Err(AppError::too_large(format!(
            "this order's event would be {size} bytes, over the {max_message_bytes}-byte limit of the order topics: send fewer or shorter lines"
        )));
    }
    Ok(order)
}

type Cart = (Vec<OrderItem>, RawJson);

fn validate_items(request: CheckoutRequest) -> Result<Cart, AppError> {
    if request.items.is_empty() {
        return Err(AppError::invalid(
            "the cart is empty: send at least one item",
        ));
    }
    if request.items.len() > MAX_ITEMS {
        return Err(AppError::invalid(format!(
            "at most {MAX_ITEMS} lines per order"
        )));
    }
    let mut items = Vec::with_capacity(request.items.len());
    for (i, item) in request.items.into_iter().enumerate() {
        if item.product_id.trim().is_empty() || item.name.trim().is_empty() {
            return Err(AppError::invalid(format!(
                "items[{i}]: productId and name are required"
            )));
        }
        if item.product_id.chars().count() > MAX_PRODUCT_ID_CHARS
            || item.name.chars().count() > MAX_NAME_CHARS
        {
            return Err(AppError::invalid(format!(
                "items[{i}]: productId is at most {MAX_PRODUCT_ID_CHARS} characters and name at most {MAX_NAME_CHARS}"
            )));
        }
        if item.quantity == 0 || item.quantity > MAX_QUANTITY {
            return Err(AppError::invalid(format!(
                "items[{i}]: quantity must be 1-{MAX_QUANTITY}"
            )));
        }
        if !(item.price.is_finite() && (0.0..=MAX_PRICE).contains(&item.price)) {
            return Err(AppError::invalid(format!(
                "items[{i}]: price must be a number from 0 to {MAX_PRICE}"
            )));
        }
        items.push(item);
    }
    if !(request.shipping_address.is_object() || request.shipping_address.is_null()) {
        return Err(AppError::invalid("shippingAddress must be an object"));
    }
    if request.shipping_address.get().len() > MAX_ADDRESS_BYTES {
        return Err(AppError::invalid(format!(
            "shippingAddress is at most {MAX_ADDRESS_BYTES} bytes of JSON"
        )));
    }
    Ok((items, request.shipping_address))
}

/// Builds a pending order with its money fields rounded to cents.
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

/// A fresh order id: `ord-` and 16 random hex digits.
pub fn new_order_id() -> String {
    format!("ord-{:016x}", rand::rng().random::<u64>())
}

/// The current time.
pub fn now() -> Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    Timestamp(i64::try_from(millis).unwrap_or(i64::MAX))
}

/// Now, but strictly after `previous`: a command's event must win over the
/// state it was checked against, even within one millisecond or with a
/// producer clock that runs behind.
pub fn after(previous: Timestamp) -> Timestamp {
    now().max(Timestamp(previous.0 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkout_prices_to_the_cent() {
        let items = vec![
            OrderItem {
                product_id: "p1".into(),
                name: "Mug".into(),
                quantity: 3,
                price: 4.99,
            },
            OrderItem {
                product_id: "p2".into(),
                name: "Tea".into(),
                quantity: 1,
                price: 12.5,
            },
        ];
        let order = price("o".into(), "alice", items, RawJson::null(), Timestamp(0));
        assert_eq!(
            (order.subtotal, order.tax, order.total),
            (27.47, 2.75, 30.22)
        );
        assert_eq!(order.status, OrderStatus::Pending);
    }

    /// Found by the checkout_body fuzz target: a price written as a
    /// 107-digit number. The relay parsed the order's event back with that
    /// price one unit in the last place off (serde_json's default float
    /// parser reads `1.3333333333333331e106` as `1.333333333333333e106`), so the order it consumed
    /// differed from the one placed. Such prices are now refused, and floats
    /// parse exactly (`float_roundtrip`).
    #[test]
    fn the_fuzzers_checkout_is_refused_and_floats_parse_exactly() {
        let literal = "13333333333333330000000000000000000000000000000000000000000000000000000000000000000000006148914691236517204";
        let exact: f64 = literal.parse().unwrap();
        let written = serde_json::to_string(&exact).unwrap();
        assert_eq!(serde_json::from_str::<f64>(&written).unwrap(), exact);
        let body = format!(
            r#"{{"items":[{{"productId":"p","name":"n","quantity":6,"price":{literal}}}]}}"#
        );
        let request: CheckoutRequest = serde_json::from_str(&body).unwrap();
        assert!(new_order(request, "ord-0".into(), "b", Timestamp(0), 65_536).is_err());
    }

    #[test]
    fn an_accepted_checkout_is_consumed_as_the_very_same_order() {
        let body = r#"{"items":[{"productId":"p","name":"n","quantity":7,"price":0.1}],"shippingAddress":{"city":"Lyon"}}"#;
        let request: CheckoutRequest = serde_json::from_str(body).unwrap();
        let order = new_order(request, "ord-0".into(), "b", Timestamp(0), 65_536).unwrap();
        let event = OrderEvent::Created(order);
        let consumed = protocol::kafka::decode(
            protocol::kafka::TopicKind::Created,
            event.to_json().as_bytes(),
            65_536,
        );
        assert_eq!(consumed, Ok(protocol::kafka::Input::Order(event)));
    }

    #[test]
    fn command_times_move_forward() {
        let future = Timestamp(now().0 + 60_000);
        assert_eq!(after(future), Timestamp(future.0 + 1));
        assert!(after(Timestamp(0)) > Timestamp(0));
        assert!(new_order_id().starts_with("ord-"));
    }
}

//! One test per rule, no broker: the commands are plain functions.

use protocol::http::CheckoutRequest;
use protocol::{Order, OrderEvent, OrderStatus, RawJson, Timestamp};

use super::checkout::{self, idempotency_key, keyed_order_id, price, replay};
use super::*;

fn admin() -> Admin {
    Admin::check(true).unwrap()
}

const LIMIT: usize = 65_536;

fn cart(json: &str) -> CheckoutRequest {
    serde_json::from_str(json).unwrap()
}

fn place(json: &str) -> Result<Order, CommandError> {
    new_order(cart(json), "ord-0".into(), "bob", Timestamp(5), LIMIT)
}

fn order(status: OrderStatus, updated: i64) -> Order {
    let mut order =
        place(r#"{"items":[{"productId":"p","name":"Mug","quantity":1,"price":2}]}"#).unwrap();
    order.status = status;
    order.updated_at = Timestamp(updated);
    order
}

#[test]
fn checkout_prices_to_the_cent() {
    let order = place(
        r#"{"items":[{"productId":"p1","name":"Mug","quantity":3,"price":4.99},
                     {"productId":"p2","name":"Tea","quantity":1,"price":12.5}]}"#,
    )
    .unwrap();
    assert_eq!(
        (order.subtotal, order.tax, order.total),
        (27.47, 2.75, 30.22)
    );
    assert_eq!(order.status, OrderStatus::Pending);
    assert_eq!(
        (order.created_at, order.updated_at),
        (Timestamp(5), Timestamp(5))
    );
    assert_eq!(order.buyer_id, "bob");
}

#[test]
fn every_cart_limit_is_a_named_refusal() {
    let long_id = "p".repeat(checkout::MAX_PRODUCT_ID_CHARS + 1);
    let long_address = format!(r#"{{"a":"{}"}}"#, "x".repeat(checkout::MAX_ADDRESS_BYTES));
    let many: Vec<String> = (0..=checkout::MAX_ITEMS)
        .map(|i| format!(r#"{{"productId":"p{i}","name":"n","quantity":1,"price":1}}"#))
        .collect();
    let cases = [
        (r#"{"items":[]}"#.to_owned(), "the cart is empty"),
        (format!(r#"{{"items":[{}]}}"#, many.join(",")), "at most 100 lines"),
        (r#"{"items":[{"productId":" ","name":"n","quantity":1,"price":1}]}"#.to_owned(), "productId and name are required"),
        (format!(r#"{{"items":[{{"productId":"{long_id}","name":"n","quantity":1,"price":1}}]}}"#), "at most 64 characters"),
        (r#"{"items":[{"productId":"p","name":"n","quantity":0,"price":1}]}"#.to_owned(), "quantity must be 1-1000"),
        (r#"{"items":[{"productId":"p","name":"n","quantity":1001,"price":1}]}"#.to_owned(), "quantity must be 1-1000"),
        (r#"{"items":[{"productId":"p","name":"n","quantity":1,"price":-1}]}"#.to_owned(), "price must be a number"),
        (r#"{"items":[{"productId":"p","name":"n","quantity":1,"price":1e7}]}"#.to_owned(), "price must be a number"),
        (r#"{"items":[{"productId":"p","name":"n","quantity":1,"price":1}],"shippingAddress":[1]}"#.to_owned(), "must be an object"),
        (format!(r#"{{"items":[{{"productId":"p","name":"n","quantity":1,"price":1}}],"shippingAddress":{long_address}}}"#), "at most 4096 bytes"),
    ];
    for (body, says) in cases {
        let error = place(&body).unwrap_err();
        assert_eq!(error.code(), protocol::ErrorCode::InvalidData, "{body}");
        assert!(error.to_string().contains(says), "{error} / {says}");
    }
}

#[test]
fn an_event_over_the_message_limit_is_too_large() {
    let body = r#"{"items":[{"productId":"p","name":"n","quantity":1,"price":1}]}"#;
    let size = place(body)
        .map(|o| OrderEvent::Created(o).to_json().len())
        .unwrap();
    let at_limit = new_order(cart(body), "ord-0".into(), "bob", Timestamp(5), size);
    assert!(at_limit.is_ok());
    let over = new_order(cart(body), "ord-0".into(), "bob", Timestamp(5), size - 1);
    assert_eq!(
        over.unwrap_err(),
        CommandError::TooLarge {
            size,
            limit: size - 1
        }
    );
}

/// Found by the checkout_body fuzz target: a price written as a 107-digit
/// number. The relay parsed the order's event back with that price one unit
/// in the last place off (serde_json's default float parser reads
/// `1.3333333333333331e106` as `1.333333333333333e106`), so the order it
/// consumed differed from the one placed. Such prices are now refused, and
/// floats parse exactly (`float_roundtrip`).
#[test]
fn the_fuzzers_checkout_is_refused_and_floats_parse_exactly() {
    let literal = "13333333333333330000000000000000000000000000000000000000000000000000000000000000000000006148914691236517204";
    let exact: f64 = literal.parse().unwrap();
    let written = serde_json::to_string(&exact).unwrap();
    assert_eq!(serde_json::from_str::<f64>(&written).unwrap(), exact);
    let body =
        format!(r#"{{"items":[{{"productId":"p","name":"n","quantity":6,"price":{literal}}}]}}"#);
    assert!(place(&body).is_err());
}

#[test]
fn an_accepted_checkout_is_consumed_as_the_very_same_order() {
    let order = place(r#"{"items":[{"productId":"p","name":"n","quantity":7,"price":0.1}],"shippingAddress":{"city":"Lyon"}}"#).unwrap();
    let event = OrderEvent::Created(order);
    let consumed = protocol::kafka::decode(
        protocol::kafka::TopicKind::Created,
        event.to_json().as_bytes(),
        LIMIT,
    );
    assert_eq!(consumed, Ok(protocol::kafka::Input::Order(event)));
}

#[test]
fn idempotency_keys_are_visible_ascii_up_to_128() {
    let long = "k".repeat(checkout::MAX_IDEMPOTENCY_KEY + 1);
    type Case<'a> = (Option<&'a [u8]>, Result<Option<&'a str>, CommandError>);
    let cases: [Case; 5] = [
        (None, Ok(None)),
        (Some(b"3f2a-9c"), Ok(Some("3f2a-9c"))),
        (Some(b""), Err(CommandError::InvalidIdempotencyKey)),
        (Some(b"has space"), Err(CommandError::InvalidIdempotencyKey)),
        (
            Some(long.as_bytes()),
            Err(CommandError::InvalidIdempotencyKey),
        ),
    ];
    for (header, expected) in cases {
        assert_eq!(idempotency_key(header), expected, "{header:?}");
    }
}

#[test]
fn a_key_names_one_order_per_caller() {
    let id = keyed_order_id("alice", "k1");
    assert_eq!(id, keyed_order_id("alice", "k1"));
    assert_ne!(id, keyed_order_id("bob", "k1"));
    assert_ne!(id, keyed_order_id("alice", "k2"));
    assert!(id.starts_with("ord-") && id.len() == 20);
    assert!(checkout::new_order_id().starts_with("ord-"));
}

#[test]
fn a_keyed_retry_replays_and_another_cart_is_a_reused_key() {
    let placed = order(OrderStatus::Pending, 5);
    let mut shipped_since = placed.clone();
    shipped_since.status = OrderStatus::Shipped;
    assert_eq!(replay(shipped_since.clone(), &placed), Ok(shipped_since));
    let other = price(
        "ord-0".into(),
        "bob",
        Vec::new(),
        RawJson::null(),
        Timestamp(5),
    );
    assert_eq!(
        replay(other, &placed),
        Err(CommandError::IdempotencyKeyReused)
    );
}

#[test]
fn only_pending_or_processing_orders_cancel() {
    use OrderStatus::*;
    for (status, cancellable) in [
        (Pending, true),
        (Processing, true),
        (Shipped, false),
        (Delivered, false),
        (Cancelled, false),
    ] {
        let result = cancel(&order(status, 10), None, Timestamp(50));
        assert_eq!(result.is_ok(), cancellable, "{status:?}");
    }
    let cancelled = cancel(&order(Pending, 10), Some("  ".into()), Timestamp(50)).unwrap();
    assert_eq!(
        (cancelled.reason, cancelled.cancelled_at),
        (None, Timestamp(50))
    );
    assert_eq!(cancelled.buyer_id.as_deref(), Some("bob"));
    let refused = cancel(&order(Shipped, 10), None, Timestamp(50)).unwrap_err();
    assert_eq!(refused.code(), protocol::ErrorCode::Conflict);
}

#[test]
fn admins_move_orders_forward_only() {
    use OrderStatus::*;
    let cases = [
        (Pending, Processing, true),
        (Pending, Delivered, true),
        (Shipped, Processing, false),
        (Shipped, Shipped, false),
        (Cancelled, Delivered, false),
    ];
    for (from, to, allowed) in cases {
        let result = advance(admin(), &order(from, 10), to, Timestamp(50));
        assert_eq!(result.is_ok(), allowed, "{from:?} -> {to:?}");
    }
    let update = advance(admin(), &order(Processing, 10), Shipped, Timestamp(50)).unwrap();
    assert_eq!(update.previous_status, Some(Processing));
    assert_eq!(update.message.as_deref(), Some(Shipped.message()));
    assert_eq!(Admin::check(false).map(|_| ()), Err(CommandError::NotAdmin));
}

/// A command's event must win over the state it was checked against, even
/// when the order's time is ahead of this relay's clock.
#[test]
fn command_times_are_strictly_after_the_order() {
    let ahead = order(OrderStatus::Pending, 90);
    assert_eq!(
        cancel(&ahead, None, Timestamp(50)).unwrap().cancelled_at,
        Timestamp(91)
    );
    let update = advance(admin(), &ahead, OrderStatus::Processing, Timestamp(50)).unwrap();
    assert_eq!(update.updated_at, Timestamp(91));
    assert_eq!(
        after(Timestamp(i64::MAX), Timestamp(0)),
        Timestamp(i64::MAX)
    );
    assert!(crate::clock::now() > Timestamp(0));
}

use super::*;

const LIMIT: usize = 64 * 1024;

// The seed's example payloads, copied from the seed document. The seed elides
// the item list and the address as `[...]` and `{...}`, which is not JSON;
// those two placeholders are the only change.
const SEED_CREATED: &str = r#"{
  "orderId": "abc123",
  "buyerId": "user456",
  "items": [],
  "subtotal": 99.99,
  "tax": 10.00,
  "total": 109.99,
  "status": "pending",
  "shippingAddress": {},
  "createdAt": "2025-11-12T10:30:00.000Z"
}"#;

const SEED_UPDATED: &str = r#"{
  "orderId": "abc123",
  "status": "shipped",
  "previousStatus": "processing",
  "updatedAt": "2025-11-12T11:00:00.000Z",
  "message": "Your order has been shipped"
}"#;

const SEED_CANCELLED: &str = r#"{
  "orderId": "abc123",
  "reason": "Customer requested cancellation",
  "cancelledAt": "2025-11-12T11:15:00.000Z"
}"#;

fn order_event(kind: TopicKind, json: &str) -> OrderEvent {
    match decode(kind, json.as_bytes(), LIMIT) {
        Ok(Input::Order(event)) => event,
        other => panic!("expected an order event from {json}, got {other:?}"),
    }
}

fn reject(kind: TopicKind, json: &[u8]) -> Reject {
    decode(kind, json, LIMIT).expect_err("expected a reject")
}

#[test]
fn seed_created_payload_decodes() {
    let OrderEvent::Created(order) = order_event(TopicKind::Created, SEED_CREATED) else {
        panic!("not a created event")
    };
    assert_eq!(order.order_id, "abc123");
    assert_eq!(order.buyer_id, "user456");
    assert_eq!(order.total, 109.99);
    assert_eq!(order.subtotal, 99.99);
    assert_eq!(order.tax, 10.0);
    assert_eq!(order.status, OrderStatus::Pending);
    assert_eq!(order.created_at.to_string(), "2025-11-12T10:30:00.000Z");
    // No updatedAt: the order was last updated when it was created.
    assert_eq!(order.updated_at, order.created_at);
}

#[test]
fn seed_updated_payload_decodes_without_buyer() {
    let OrderEvent::Updated(update) = order_event(TopicKind::Updated, SEED_UPDATED) else {
        panic!("not an updated event")
    };
    assert_eq!(update.order_id, "abc123");
    assert_eq!(update.buyer_id, None);
    assert_eq!(update.status, OrderStatus::Shipped);
    assert_eq!(update.previous_status, Some(OrderStatus::Processing));
    assert_eq!(
        update.message.as_deref(),
        Some("Your order has been shipped")
    );
}

#[test]
fn seed_cancelled_payload_decodes() {
    let event = order_event(TopicKind::Cancelled, SEED_CANCELLED);
    assert_eq!(event.status(), OrderStatus::Cancelled);
    let OrderEvent::Cancelled(c) = event else {
        panic!("not a cancelled event")
    };
    assert_eq!(c.reason.as_deref(), Some("Customer requested cancellation"));
    assert_eq!(c.cancelled_at.to_string(), "2025-11-12T11:15:00.000Z");
}

#[test]
fn created_defaults_and_total_amount_fallback() {
    let json =
        r#"{"orderId":"o1","buyerId":"u1","totalAmount":42.5,"createdAt":"2025-11-12T10:30:00Z"}"#;
    let OrderEvent::Created(order) = order_event(TopicKind::Created, json) else {
        panic!()
    };
    assert_eq!(order.total, 42.5);
    assert_eq!(order.items, vec![]);
    assert_eq!((order.subtotal, order.tax), (0.0, 0.0));
    assert_eq!(order.status, OrderStatus::Pending);
    assert!(order.shipping_address.is_null());
}

#[test]
fn total_wins_over_total_amount_when_both_are_present() {
    let json = r#"{"orderId":"o1","buyerId":"u1","total":1,"totalAmount":2,"createdAt":"2025-11-12T10:30:00Z"}"#;
    let OrderEvent::Created(order) = order_event(TopicKind::Created, json) else {
        panic!()
    };
    assert_eq!(order.total, 1.0);
}

#[test]
fn unknown_fields_are_ignored() {
    let json = r#"{"orderId":"o1","status":"shipped","updatedAt":"2025-11-12T10:30:00Z","carrier":{"name":"DHL"},"x":[1,2]}"#;
    assert_eq!(
        order_event(TopicKind::Updated, json).status(),
        OrderStatus::Shipped
    );
}

#[test]
fn notification_decodes_with_default_priority() {
    let json = r#"{"userId":"u1","type":"order","message":"Your parcel is near"}"#;
    let Ok(Input::Notification {
        user_id,
        notification,
    }) = decode(TopicKind::Notifications, json.as_bytes(), LIMIT)
    else {
        panic!()
    };
    assert_eq!(user_id, "u1");
    assert_eq!(notification.kind, NotificationType::Order);
    assert_eq!(notification.priority, Priority::Normal);
}

#[test]
fn each_kind_of_bad_message_is_a_typed_reject() {
    use TopicKind::*;
    let cases: &[(TopicKind, &[u8], &str)] = &[
        (Created, b"not json at all", "not_json"),
        (Created, b"{\"orderId\":", "not_json"),
        (Updated, &[0xff, 0xfe, 0x00], "not_json"),
        (Updated, br#"{"status":"shipped","updatedAt":"2025-11-12T10:30:00Z"}"#, "missing_order_id"),
        (Cancelled, br#"{"orderId":"  ","cancelledAt":"2025-11-12T10:30:00Z"}"#, "missing_order_id"),
        (Updated, br#"{"orderId":"o1","status":"lost","updatedAt":"2025-11-12T10:30:00Z"}"#, "unknown_status"),
        (Created, br#"{"orderId":"o1","buyerId":"u","status":"teleported","createdAt":"2025-11-12T10:30:00Z"}"#, "unknown_status"),
        (Updated, br#"{"orderId":"o1","status":"shipped","previousStatus":"lost","updatedAt":"2025-11-12T10:30:00Z"}"#, "unknown_status"),
        (Updated, br#"{"orderId":42,"status":"shipped","updatedAt":"2025-11-12T10:30:00Z"}"#, "invalid"),
        (Updated, br#"{"orderId":"o1","status":"shipped"}"#, "invalid"),
        (Updated, br#"{"orderId":"o1","status":"shipped","updatedAt":"tuesday"}"#, "invalid"),
        (Created, br#"{"orderId":"o1","createdAt":"2025-11-12T10:30:00Z"}"#, "invalid"),
        (Created, br#"{"orderId":"o1","buyerId":"u","items":"many","createdAt":"2025-11-12T10:30:00Z"}"#, "invalid"),
        (Created, b"[1,2,3]", "invalid"),
        (Notifications, br#"{"userId":"u1","type":"gossip","message":"hi"}"#, "invalid"),
        (Notifications, br#"{"type":"info","message":"hi"}"#, "invalid"),
    ];
    for (kind, payload, reason) in cases {
        let got = reject(*kind, payload);
        assert_eq!(
            got.reason(),
            *reason,
            "{} -> {got}",
            String::from_utf8_lossy(payload)
        );
    }
}

#[test]
fn oversize_is_rejected_before_parsing() {
    let big = vec![b'x'; LIMIT + 1];
    assert_eq!(
        reject(TopicKind::Created, &big),
        Reject::Oversize {
            size: LIMIT + 1,
            limit: LIMIT
        }
    );
}

#[test]
fn produced_events_decode_back_to_themselves() {
    for (kind, json) in [
        (TopicKind::Created, SEED_CREATED),
        (TopicKind::Updated, SEED_UPDATED),
        (TopicKind::Cancelled, SEED_CANCELLED),
    ] {
        let event = order_event(kind, json);
        assert_eq!(order_event(kind, &event.to_json()), event);
    }
}

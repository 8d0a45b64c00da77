use super::*;
use crate::order::{NotificationType, OrderItem, OrderStatus, Priority};
use crate::report::ReconnectCause;
use crate::time::Timestamp;

fn t(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

fn order() -> Order {
    Order {
        order_id: "abc123".into(),
        buyer_id: "user456".into(),
        items: vec![OrderItem {
            product_id: "p1".into(),
            name: "Kettle".into(),
            quantity: 2,
            price: 49.995,
        }],
        subtotal: 99.99,
        tax: 10.0,
        total: 109.99,
        status: OrderStatus::Pending,
        shipping_address: crate::RawJson::to_raw(&serde_json::json!({"city": "Lyon"})).unwrap(),
        created_at: t("2025-11-12T10:30:00.000Z"),
        updated_at: t("2025-11-12T10:30:00.000Z"),
    }
}

fn every_server_event() -> Vec<ServerEvent> {
    vec![
        ServerEvent::ConnectionSuccess(ConnectionInfo {
            heartbeat_ms: None,
            user_id: "user456".into(),
            socket_id: "s-1".into(),
            role: Role::User,
        }),
        ServerEvent::OrdersSnapshot(OrdersSnapshot::new(vec![order()], "c1".into())),
        ServerEvent::Order {
            event: OrderEvent::Created(order()),
            cursor: "c2".into(),
        },
        ServerEvent::Order {
            event: OrderEvent::Updated(OrderUpdate {
                order_id: "abc123".into(),
                buyer_id: Some("user456".into()),
                status: OrderStatus::Shipped,
                previous_status: Some(OrderStatus::Processing),
                updated_at: t("2025-11-12T11:00:00.000Z"),
                message: Some("Your order has been shipped".into()),
            }),
            cursor: "c3".into(),
        },
        ServerEvent::Order {
            event: OrderEvent::Cancelled(OrderCancellation {
                order_id: "abc123".into(),
                buyer_id: Some("user456".into()),
                reason: None,
                cancelled_at: t("2025-11-12T11:15:00.000Z"),
            }),
            cursor: "c4".into(),
        },
        ServerEvent::Notification(Notification {
            kind: NotificationType::Order,
            priority: Priority::High,
            title: Some("Heads up".into()),
            message: "Your parcel is near".into(),
        }),
        ServerEvent::Error(ErrorBody::new(ErrorCode::BadJson, "oops")),
        ServerEvent::Pong,
        ServerEvent::Draining(Draining::new(10_000)),
        ServerEvent::ClockSync(ClockAnswer {
            sent: 1_700_000_000_123,
            relay: 1_700_000_000_125.25,
        }),
    ]
}

#[test]
fn every_server_frame_round_trips() {
    for event in every_server_event() {
        let json = event.to_json();
        assert_eq!(ServerEvent::from_json(&json).unwrap(), event, "{json}");
    }
}

#[test]
fn every_client_frame_round_trips() {
    for event in [
        ClientEvent::SubscribeOrders { cursor: None },
        ClientEvent::SubscribeOrders {
            cursor: Some("c9".into()),
        },
        ClientEvent::AuthRefresh {
            token: "jwt".into(),
        },
        ClientEvent::Auth {
            token: "jwt".into(),
        },
        ClientEvent::Ping,
        ClientEvent::ClockSync(ClockSync {
            sent: 1_700_000_000_123,
        }),
        ClientEvent::DeliveryReport(DeliveryReport::default()),
        ClientEvent::DeliveryReport(DeliveryReport {
            latencies_us: vec![0, 1250, u32::MAX],
            reconnects: vec![ReconnectCause::Network, ReconnectCause::Silence],
        }),
    ] {
        assert_eq!(ClientEvent::from_json(&event.to_json()).unwrap(), event);
    }
}

#[test]
fn hand_written_report_frames_are_what_serde_writes() {
    let report = DeliveryReport {
        latencies_us: vec![7, 12_500],
        reconnects: vec![ReconnectCause::GoingAway],
    };
    let by_serde = format!(
        r#"{{"event":"delivery:report","data":{}}}"#,
        serde_json::to_string(&report).unwrap()
    );
    assert_eq!(ClientEvent::DeliveryReport(report).to_json(), by_serde);
    let sync = ClockSync { sent: 42 };
    let by_serde = format!(
        r#"{{"event":"clock:sync","data":{}}}"#,
        serde_json::to_string(&sync).unwrap()
    );
    assert_eq!(ClientEvent::ClockSync(sync).to_json(), by_serde);
}

#[test]
fn hand_written_client_frames_are_what_serde_writes() {
    let odd = "a\"b\\c\u{1}é";
    for cursor in [None, Some("c9"), Some(odd)] {
        let event = ClientEvent::SubscribeOrders {
            cursor: cursor.map(str::to_owned),
        };
        let data = SubscribeData {
            cursor: cursor.map(str::to_owned),
        };
        assert_eq!(event.to_json(), frame(event.name(), &data, None));
    }
    for token in ["jwt", odd] {
        for event in [
            ClientEvent::Auth {
                token: token.into(),
            },
            ClientEvent::AuthRefresh {
                token: token.into(),
            },
        ] {
            let data = RefreshData {
                token: token.into(),
            };
            assert_eq!(event.to_json(), frame(event.name(), &data, None));
        }
    }
    assert_eq!(ClientEvent::Ping.to_json(), frame("ping", &Empty {}, None));
}

#[test]
fn only_live_order_frames_carry_the_relays_send_time() {
    let event = OrderEvent::Created(order());
    let live = live_order_frame(&event, "c1", Some(1_700_000_000_000));
    let (decoded, sent_at) = ServerEvent::from_json_timed(&live).unwrap();
    assert_eq!(sent_at, Some(1_700_000_000_000));
    assert_eq!(
        decoded,
        ServerEvent::from_json(&order_frame(&event, "c1")).unwrap()
    );
    assert_eq!(
        ServerEvent::from_json_timed(&order_frame(&event, "c1"))
            .unwrap()
            .1,
        None
    );
}

#[test]
fn a_report_from_a_newer_client_is_still_read() {
    let text = r#"{"event":"delivery:report","data":{"latenciesUs":[5],"reconnects":["warp_drive"],"more":1}}"#;
    let ClientEvent::DeliveryReport(report) = ClientEvent::from_json(text).unwrap() else {
        panic!("a report")
    };
    assert_eq!(report.reconnects, [ReconnectCause::Other]);
}

#[test]
fn a_ping_may_carry_any_data_or_none_and_is_answered_by_an_empty_pong() {
    for text in [
        r#"{"event":"ping"}"#,
        r#"{"event":"ping","data":{}}"#,
        r#"{"event":"ping","data":7}"#,
    ] {
        assert_eq!(
            ClientEvent::from_json(text).unwrap(),
            ClientEvent::Ping,
            "{text}"
        );
    }
    assert_eq!(ServerEvent::Pong.to_json(), r#"{"event":"pong","data":{}}"#);
}

#[test]
fn a_draining_relay_says_how_long_the_socket_still_delivers() {
    let frame = ServerEvent::Draining(Draining::new(10_000));
    let text = r#"{"event":"server:draining","data":{"reconnectWithinMs":10000}}"#;
    assert_eq!(frame.to_json(), text);
    let ServerEvent::Draining(read) = ServerEvent::from_json(text).unwrap() else {
        panic!("not a draining frame")
    };
    assert_eq!(read.reconnect_within_ms(), Some(10_000));
    // The event is what matters: without data it is still a drain.
    let bare = ServerEvent::from_json(r#"{"event":"server:draining"}"#).unwrap();
    let ServerEvent::Draining(bare) = bare else {
        panic!("not a draining frame")
    };
    assert_eq!(bare.reconnect_within_ms(), None);
}

#[test]
fn frames_have_the_contract_shape() {
    let json: serde_json::Value = serde_json::from_str(&every_server_event()[4].to_json()).unwrap();
    assert_eq!(json["event"], "order:cancelled");
    assert_eq!(json["cursor"], "c4");
    assert_eq!(json["data"]["status"], "cancelled");
    assert_eq!(json["data"]["cancelledAt"], "2025-11-12T11:15:00.000Z");
    assert_eq!(json["data"]["buyerId"], "user456");
    assert!(json["data"].get("reason").is_none());

    let json: serde_json::Value = serde_json::from_str(&every_server_event()[0].to_json()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"event": "connection:success", "data": {"userId": "user456", "socketId": "s-1", "role": "user"}})
    );
}

#[test]
fn bare_subscribe_means_no_cursor() {
    assert_eq!(
        ClientEvent::from_json(r#"{"event":"subscribe:orders"}"#).unwrap(),
        ClientEvent::SubscribeOrders { cursor: None }
    );
    assert_eq!(
        ClientEvent::from_json(r#"{"event":"subscribe:orders","data":{"cursor":null}}"#).unwrap(),
        ClientEvent::SubscribeOrders { cursor: None }
    );
}

#[test]
fn unknown_fields_in_frames_are_ignored() {
    let json = r#"{"event":"auth:refresh","data":{"token":"t","extra":1},"meta":{}}"#;
    assert_eq!(
        ClientEvent::from_json(json).unwrap(),
        ClientEvent::AuthRefresh { token: "t".into() }
    );
}

#[test]
fn bad_frames_are_typed_errors() {
    let cases = [
        ("hello", ErrorCode::BadJson),
        ("[]", ErrorCode::BadJson),
        (r#"{"data":{}}"#, ErrorCode::BadJson),
        (
            r#"{"event":"orders:delete","data":{}}"#,
            ErrorCode::UnknownEvent,
        ),
        (r#"{"event":"auth:refresh"}"#, ErrorCode::InvalidData),
        (
            r#"{"event":"auth:refresh","data":{"token":5}}"#,
            ErrorCode::InvalidData,
        ),
        (
            r#"{"event":"subscribe:orders","data":{"cursor":7}}"#,
            ErrorCode::InvalidData,
        ),
    ];
    for (text, code) in cases {
        assert_eq!(
            ClientEvent::from_json(text).unwrap_err().code(),
            code,
            "{text}"
        );
    }
    let wrong_type = r#"{"event":"order:updated","data":{"orderId":"o","status":"shipped","updatedAt":"2025-11-12T11:00:00Z"}}"#;
    assert_eq!(
        ServerEvent::from_json(wrong_type).unwrap_err().code(),
        ErrorCode::InvalidData,
        "order events without a cursor are invalid"
    );
}

#[test]
fn a_big_snapshot_is_sent_in_parts_that_reassemble_to_the_whole() {
    let orders: Vec<Order> = (0..10)
        .map(|i| Order {
            order_id: format!("o{i}"),
            ..order()
        })
        .collect();
    let one = serde_json::to_string(&orders[0]).unwrap().len();
    let whole = snapshot_frames(&orders, "c9", usize::MAX);
    assert_eq!(whole.len(), 1);
    assert_eq!(
        ServerEvent::from_json(&whole[0]).unwrap(),
        ServerEvent::OrdersSnapshot(OrdersSnapshot::new(orders.clone(), "c9".into())),
        "one part is exactly the plain snapshot frame"
    );

    let frames = snapshot_frames(&orders, "c9", 3 * one + 3);
    assert_eq!(frames.len(), 4, "3 + 3 + 3 + 1 orders");
    let mut seen = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        assert!(frame.len() <= 3 * one + 100, "part {i} is bounded");
        let ServerEvent::OrdersSnapshot(part) = ServerEvent::from_json(frame).unwrap() else {
            panic!("part {i} is a snapshot")
        };
        assert_eq!(part.more, i < 3, "only the last part has no `more`");
        assert_eq!(part.cursor, "c9");
        seen.extend(part.orders);
    }
    assert_eq!(seen, orders, "in order, none lost, none repeated");

    let mut parts = SnapshotParts::default();
    let mut whole = None;
    for (i, frame) in frames.iter().enumerate() {
        let ServerEvent::OrdersSnapshot(part) = ServerEvent::from_json(frame).unwrap() else {
            unreachable!()
        };
        whole = parts.add(part);
        assert_eq!(
            whole.is_some(),
            i == 3,
            "nothing to show before the last part"
        );
    }
    assert_eq!(
        whole,
        Some(OrdersSnapshot::new(orders.clone(), "c9".into()))
    );

    let tiny = snapshot_frames(&orders, "c9", 1);
    assert_eq!(tiny.len(), 10, "an order bigger than a part gets its own");
    let empty = snapshot_frames(&[], "c0", 10);
    assert_eq!(
        ServerEvent::from_json(&empty[0]).unwrap(),
        ServerEvent::OrdersSnapshot(OrdersSnapshot::new(vec![], "c0".into()))
    );
}

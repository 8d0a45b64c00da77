//! The frame path without a browser: text frame → `ServerEvent::from_json` →
//! the variant's callback → `dispatch(Action)`.

use std::cell::RefCell;
use std::rc::Rc;

use client_core::fixtures;
use client_core::state::{Action, Connection};
use client_core::toast::{Toast, ToastKind};
use protocol::frames::{ConnectionInfo, ErrorBody, OrdersSnapshot, SnapshotParts};
use protocol::{
    Notification, NotificationType, Order, OrderEvent, OrderStatus, OrderUpdate, Priority, Role,
    ServerEvent,
};

use super::{handle_frame, ConnectionEvent, OrderCallbacks, EXPIRED_NOTICE};

const ID: &str = "ord-0123456789abcdef";

fn order() -> Order {
    fixtures::order(ID, 1)
}

fn recorder() -> (OrderCallbacks, Rc<RefCell<Vec<Action>>>) {
    let log = Rc::new(RefCell::new(Vec::new()));
    let sink = log.clone();
    let callbacks =
        OrderCallbacks::dispatching(move |action| sink.borrow_mut().push(action), || None);
    (callbacks, log)
}

fn dispatched(frame: &str) -> Vec<Action> {
    let (callbacks, log) = recorder();
    handle_frame(frame, &callbacks, &mut SnapshotParts::default());
    let actions = log.borrow().clone();
    actions
}

#[test]
fn each_frame_kind_ends_in_its_actions() {
    let update = OrderUpdate {
        previous_status: Some(OrderStatus::Processing),
        ..fixtures::update(ID, OrderStatus::Shipped, 2)
    };
    let cancellation = fixtures::cancellation(ID, 3);
    let info = ConnectionInfo {
        heartbeat_ms: None,
        user_id: "alice".into(),
        socket_id: "s1".into(),
        role: Role::User,
    };
    let snapshot = OrdersSnapshot {
        more: false,
        orders: vec![order()],
        cursor: "c0".into(),
    };
    let notification = Notification {
        kind: NotificationType::Success,
        priority: Priority::Normal,
        title: None,
        message: "Paid".into(),
    };
    let order_frame = |event: OrderEvent| ServerEvent::Order {
        event,
        cursor: "c9".into(),
    };
    let cases: Vec<(ServerEvent, Vec<Action>)> = vec![
        (
            order_frame(OrderEvent::Created(order())),
            vec![
                Action::Order {
                    event: OrderEvent::Created(order()),
                    cursor: "c9".into(),
                },
                Action::PushToast(Toast::new(
                    "created:ord-0123456789abcdef",
                    ToastKind::Success,
                    "Order #89ABCDEF created successfully!",
                )),
            ],
        ),
        (
            order_frame(OrderEvent::Updated(update.clone())),
            vec![
                Action::Order {
                    event: OrderEvent::Updated(update),
                    cursor: "c9".into(),
                },
                Action::PushToast(Toast::new(
                    "updated:ord-0123456789abcdef:shipped",
                    ToastKind::Info,
                    "Order #89ABCDEF - Your order has been shipped",
                )),
            ],
        ),
        (
            order_frame(OrderEvent::Cancelled(cancellation.clone())),
            vec![
                Action::Order {
                    event: OrderEvent::Cancelled(cancellation),
                    cursor: "c9".into(),
                },
                Action::PushToast(Toast::new(
                    "cancelled:ord-0123456789abcdef",
                    ToastKind::Warning,
                    "Order #89ABCDEF has been cancelled",
                )),
            ],
        ),
        (
            ServerEvent::OrdersSnapshot(snapshot.clone()),
            vec![Action::OrdersLoaded(snapshot)],
        ),
        (
            ServerEvent::ConnectionSuccess(info.clone()),
            vec![Action::Identified(info)],
        ),
        (
            ServerEvent::Notification(notification),
            vec![Action::PushToast(Toast::new(
                "notification:1",
                ToastKind::Success,
                "Paid",
            ))],
        ),
        (
            ServerEvent::Error(ErrorBody::new(protocol::ErrorCode::BadJson, "nope")),
            vec![],
        ),
    ];
    for (event, expected) in cases {
        assert_eq!(dispatched(&event.to_json()), expected, "{}", event.name());
    }
}

#[test]
fn malformed_or_unknown_frames_are_dropped() {
    for frame in [
        "",
        "not json",
        "[1,2]",
        r#"{"event":"order:teleported","data":{}}"#,
        r#"{"event":"order:updated","data":{"orderId":"a"}}"#,
        r#"{"event":"order:created","data":{"orderId":"a"},"cursor":"c"}"#,
        r#"{"event":"order:updated","data":{"orderId":"a","status":"shipped","updatedAt":"2025-11-12T10:30:00Z"}}"#,
    ] {
        assert_eq!(dispatched(frame), vec![], "{frame:?}");
    }
}

#[test]
fn the_relays_message_is_used_in_the_update_toast() {
    let frame = r#"{"event":"order:updated","cursor":"c1","data":{"orderId":"abc123","buyerId":"alice","status":"processing","updatedAt":"2025-11-12T10:30:00Z","message":"Packed with care"}}"#;
    let actions = dispatched(frame);
    assert_eq!(
        actions.last(),
        Some(&Action::PushToast(Toast::new(
            "updated:abc123:processing",
            ToastKind::Info,
            "Order #ABC123 - Packed with care",
        )))
    );
}

#[test]
fn notifications_are_styled_like_the_seed() {
    let cases = [
        (
            NotificationType::Order,
            Priority::High,
            ToastKind::Warning,
            5_000,
        ),
        (
            NotificationType::Order,
            Priority::Normal,
            ToastKind::Info,
            4_000,
        ),
        (
            NotificationType::Error,
            Priority::Low,
            ToastKind::Error,
            // Errors stay until dismissed (an alert).
            client_core::toast::STAYS,
        ),
        (
            NotificationType::Warning,
            Priority::Normal,
            ToastKind::Warning,
            4_000,
        ),
        (
            NotificationType::Success,
            Priority::High,
            ToastKind::Success,
            4_000,
        ),
        (
            NotificationType::Info,
            Priority::High,
            ToastKind::Info,
            4_000,
        ),
    ];
    for (kind, priority, style, auto_close_ms) in cases {
        let toast = Toast::notification(
            &Notification {
                kind,
                priority,
                title: Some("Title".into()),
                message: "Body".into(),
            },
            7,
        );
        assert_eq!(
            (toast.kind, toast.auto_close_ms),
            (style, auto_close_ms),
            "{kind:?} {priority:?}"
        );
        assert_eq!(
            (toast.id.as_str(), toast.text.as_str()),
            ("notification:7", "Body")
        );
    }
    let untitled = |title: Option<&str>| Notification {
        kind: NotificationType::Info,
        priority: Priority::Normal,
        title: title.map(str::to_owned),
        message: String::new(),
    };
    assert_eq!(
        Toast::notification(&untitled(Some("Heads up")), 1).text,
        "Heads up"
    );
    assert_eq!(
        Toast::notification(&untitled(None), 1).text,
        "New notification"
    );
}

#[test]
fn notifications_get_distinct_ids() {
    let (callbacks, log) = recorder();
    let frame = ServerEvent::Notification(Notification {
        kind: NotificationType::Info,
        priority: Priority::Normal,
        title: None,
        message: "Hi".into(),
    })
    .to_json();
    let mut parts = SnapshotParts::default();
    handle_frame(&frame, &callbacks, &mut parts);
    handle_frame(&frame, &callbacks, &mut parts);
    let ids: Vec<String> = log
        .borrow()
        .iter()
        .filter_map(|a| match a {
            Action::PushToast(t) => Some(t.id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(ids, ["notification:1", "notification:2"]);
}

#[test]
fn connection_events_become_connection_actions() {
    let cases = [
        (
            ConnectionEvent::Connecting,
            Action::ConnectionChanged(Connection::Connecting),
        ),
        (
            ConnectionEvent::Connected,
            Action::ConnectionChanged(Connection::Connected),
        ),
        (
            ConnectionEvent::Reconnecting { in_secs: 4 },
            Action::ConnectionChanged(Connection::Reconnecting { in_secs: 4 }),
        ),
        (
            ConnectionEvent::TokenExpired,
            Action::SignedOut {
                notice: Some(EXPIRED_NOTICE.into()),
            },
        ),
    ];
    for (event, action) in cases {
        let (callbacks, log) = recorder();
        (callbacks.on_connection)(event);
        assert_eq!(*log.borrow(), vec![action], "{event:?}");
    }
}

#[test]
fn a_renewed_token_is_dispatched_for_the_session() {
    let (callbacks, log) = recorder();
    (callbacks.on_token)("t-fresh".into());
    assert_eq!(*log.borrow(), [Action::TokenRefreshed("t-fresh".into())]);
}

#[test]
fn tokens_start_with_the_given_token() {
    let fixed = super::Tokens::fixed("t-1");
    assert_eq!(fixed.current(), "t-1");
    let renewable = super::Tokens::renewable("t-2", Rc::new(|| Box::pin(async { None })));
    let clone = renewable.clone();
    clone.set("t-3".into());
    // Clones share the newest token: the loop renews, the app reads it.
    assert_eq!(renewable.current(), "t-3");
}

#[test]
fn a_snapshot_in_parts_is_dispatched_once_whole_after_its_last_part() {
    let orders: Vec<Order> = (0..5)
        .map(|i| fixtures::order(&format!("o{i}"), i))
        .collect();
    let frames = protocol::frames::snapshot_frames(&orders, "c7", 1);
    assert_eq!(frames.len(), 5);
    let (callbacks, log) = recorder();
    let mut parts = SnapshotParts::default();
    for (i, frame) in frames.iter().enumerate() {
        handle_frame(frame, &callbacks, &mut parts);
        let loaded = log
            .borrow()
            .iter()
            .filter(|a| matches!(a, Action::OrdersLoaded(_)))
            .count();
        assert_eq!(loaded, usize::from(i == 4), "no half state after part {i}");
    }
    let log = log.borrow();
    let Some(Action::OrdersLoaded(whole)) =
        log.iter().find(|a| matches!(a, Action::OrdersLoaded(_)))
    else {
        panic!("the snapshot was dispatched")
    };
    assert_eq!(whole.orders, orders);
    assert_eq!(whole.cursor, "c7");
}

#[test]
fn a_draining_frame_asks_the_loop_to_move() {
    let frame = ServerEvent::Draining(protocol::frames::Draining::new(10_000)).to_json();
    let (callbacks, log) = recorder();
    assert_eq!(
        handle_frame(&frame, &callbacks, &mut SnapshotParts::default()),
        Some(super::frames::Control::Move)
    );
    assert_eq!(*log.borrow(), vec![], "nothing to dispatch");
}

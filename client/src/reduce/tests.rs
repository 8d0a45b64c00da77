//! Table-driven tests of the reducer: one table per concern, each row a
//! named scenario of actions and the state it must end in.

use protocol::frames::ConnectionInfo;
use protocol::{Order, OrderStatus, Role};

use super::reduce;
use crate::fixtures::{cancelled, created, order, snapshot, t, updated};
use crate::state::{Action, AppState, Connection, Session};
use crate::toast::{Toast, ToastKind};

use OrderStatus::{Cancelled, Delivered, Pending, Processing, Shipped};

fn with_status(mut order: Order, status: OrderStatus, updated: i64) -> Order {
    order.status = status;
    order.updated_at = t(updated);
    order
}

fn signed_in() -> AppState {
    AppState::signed_in(Session::new("token", "alice", Role::User))
}

fn run(actions: impl IntoIterator<Item = Action>) -> AppState {
    let mut state = signed_in();
    for action in actions {
        reduce(&mut state, action);
    }
    state
}

/// The orders as the page lists them: id and status, newest first.
fn rows(state: &AppState) -> Vec<(&str, OrderStatus)> {
    state
        .orders_newest_first()
        .map(|o| (o.order_id.as_str(), o.status))
        .collect()
}

#[test]
fn order_rules() {
    struct Case {
        name: &'static str,
        actions: Vec<Action>,
        rows: Vec<(&'static str, OrderStatus)>,
    }
    let cases = vec![
        Case {
            name: "a created order is listed with its status",
            actions: vec![created("a", 1)],
            rows: vec![("a", Pending)],
        },
        Case {
            name: "a newer order goes on top",
            actions: vec![created("a", 1), created("b", 2)],
            rows: vec![("b", Pending), ("a", Pending)],
        },
        Case {
            name: "an older order arriving late goes below newer ones",
            actions: vec![created("b", 2), created("a", 1), created("c", 3)],
            rows: vec![("c", Pending), ("b", Pending), ("a", Pending)],
        },
        Case {
            name: "orders created at the same time are ordered by id",
            actions: vec![created("a", 1), created("b", 1)],
            rows: vec![("b", Pending), ("a", Pending)],
        },
        Case {
            name: "an update moves the status forward",
            actions: vec![created("a", 1), updated("a", Processing, 2)],
            rows: vec![("a", Processing)],
        },
        Case {
            name: "an update older than the current status is ignored",
            actions: vec![
                created("a", 1),
                updated("a", Shipped, 3),
                updated("a", Processing, 2),
            ],
            rows: vec![("a", Shipped)],
        },
        Case {
            name: "the latest time wins even when it goes back in life order",
            actions: vec![
                created("a", 1),
                updated("a", Shipped, 2),
                updated("a", Processing, 3),
            ],
            rows: vec![("a", Processing)],
        },
        Case {
            name: "on equal times the later life status wins (forward arrival)",
            actions: vec![
                created("a", 1),
                updated("a", Processing, 2),
                updated("a", Shipped, 2),
            ],
            rows: vec![("a", Shipped)],
        },
        Case {
            name: "on equal times the later life status wins (backward arrival)",
            actions: vec![
                created("a", 1),
                updated("a", Shipped, 2),
                updated("a", Processing, 2),
            ],
            rows: vec![("a", Shipped)],
        },
        Case {
            name: "cancelled is final against later updates",
            actions: vec![created("a", 1), cancelled("a", 2), updated("a", Shipped, 5)],
            rows: vec![("a", Cancelled)],
        },
        Case {
            name: "a cancellation wins over a newer status",
            actions: vec![
                created("a", 1),
                updated("a", Delivered, 5),
                cancelled("a", 2),
            ],
            rows: vec![("a", Cancelled)],
        },
        Case {
            name: "an update before its order is not shown on its own",
            actions: vec![updated("a", Shipped, 2)],
            rows: vec![],
        },
        Case {
            name: "an update before its order is applied when the order arrives",
            actions: vec![updated("a", Shipped, 2), created("a", 1)],
            rows: vec![("a", Shipped)],
        },
        Case {
            name: "a cancellation before its order is applied when the order arrives",
            actions: vec![
                cancelled("a", 2),
                updated("a", Processing, 3),
                created("a", 1),
            ],
            rows: vec![("a", Cancelled)],
        },
        Case {
            name: "a pending update older than the created status is dropped",
            actions: vec![
                updated("a", Processing, 1),
                Action::AddOrder {
                    order: with_status(order("a", 2), Pending, 2),
                    cursor: "c".into(),
                },
            ],
            rows: vec![("a", Pending)],
        },
        Case {
            name: "a re-sent created does not undo an update",
            actions: vec![created("a", 1), updated("a", Shipped, 2), created("a", 1)],
            rows: vec![("a", Shipped)],
        },
        Case {
            name: "a snapshot replaces the orders",
            actions: vec![
                created("gone", 5),
                snapshot(vec![order("a", 1), with_status(order("b", 2), Shipped, 3)]),
            ],
            rows: vec![("b", Shipped), ("a", Pending)],
        },
        Case {
            name: "a snapshot is sorted newest first whatever its order",
            actions: vec![snapshot(vec![order("a", 1), order("c", 3), order("b", 2)])],
            rows: vec![("c", Pending), ("b", Pending), ("a", Pending)],
        },
        Case {
            name: "a snapshot keeps newer pending info",
            actions: vec![updated("a", Delivered, 9), snapshot(vec![order("a", 1)])],
            rows: vec![("a", Delivered)],
        },
        Case {
            name: "a snapshot drops older pending info",
            actions: vec![
                updated("a", Processing, 2),
                snapshot(vec![with_status(order("a", 1), Shipped, 3)]),
            ],
            rows: vec![("a", Shipped)],
        },
        Case {
            name: "a snapshot does not move a known order back in time",
            actions: vec![
                created("a", 1),
                updated("a", Shipped, 4),
                snapshot(vec![with_status(order("a", 1), Processing, 2)]),
            ],
            rows: vec![("a", Shipped)],
        },
        Case {
            name: "pending info for an order missing from a snapshot waits on",
            actions: vec![
                cancelled("b", 4),
                snapshot(vec![order("a", 1)]),
                created("b", 2),
            ],
            rows: vec![("b", Cancelled), ("a", Pending)],
        },
        Case {
            name: "order events are ignored once signed out",
            actions: vec![
                created("a", 1),
                Action::SignedOut { notice: None },
                created("b", 2),
            ],
            rows: vec![],
        },
    ];
    for case in cases {
        let state = run(case.actions);
        assert_eq!(rows(&state), case.rows, "{}", case.name);
    }
}

#[test]
fn applying_any_event_twice_changes_nothing() {
    let events = [
        created("a", 1),
        updated("a", Processing, 2),
        updated("b", Shipped, 3),
        created("b", 1),
        cancelled("a", 4),
        snapshot(vec![order("a", 1), order("c", 2)]),
        updated("c", Delivered, 5),
    ];
    let once = run(events.clone());
    let twice = run(events.iter().flat_map(|e| [e.clone(), e.clone()]));
    assert_eq!(once, twice);
}

#[test]
fn any_interleaving_of_one_orders_events_ends_in_the_same_state() {
    // The three order topics are not ordered against each other (§1): every
    // permutation of these events must leave the same row.
    let events = [
        created("a", 1),
        updated("a", Processing, 2),
        updated("a", Shipped, 3),
        updated("a", Delivered, 3),
        cancelled("a", 2),
    ];
    let mut seen = Vec::new();
    permutations(&events, &mut Vec::new(), &mut |order| {
        let state = run(order.iter().cloned());
        let listed: Vec<(String, OrderStatus)> = rows(&state)
            .into_iter()
            .map(|(id, status)| (id.to_owned(), status))
            .collect();
        seen.push((listed, state.orders["a"].updated_at));
    });
    assert_eq!(seen.len(), 120);
    assert!(seen.iter().all(|s| s == &seen[0]), "{:?}", seen[0]);
    assert_eq!(seen[0].0, vec![("a".to_owned(), Cancelled)]);
}

fn permutations<T: Clone>(rest: &[T], prefix: &mut Vec<T>, visit: &mut dyn FnMut(&[T])) {
    if rest.is_empty() {
        visit(prefix);
        return;
    }
    for i in 0..rest.len() {
        let mut remaining = rest.to_vec();
        prefix.push(remaining.remove(i));
        permutations(&remaining, prefix, visit);
        prefix.pop();
    }
}

#[test]
fn the_cursor_of_each_order_event_and_snapshot_is_recorded() {
    let cases: Vec<(&str, Vec<Action>, Option<&str>)> = vec![
        ("nothing yet", vec![], None),
        ("created", vec![created("a", 1)], Some("c-created-a")),
        (
            "updated",
            vec![updated("a", Shipped, 2)],
            Some("c-updated-a-2"),
        ),
        (
            "cancelled",
            vec![cancelled("a", 3)],
            Some("c-cancelled-a-3"),
        ),
        (
            "snapshot",
            vec![created("a", 1), snapshot(vec![])],
            Some("c-snapshot"),
        ),
        (
            "a stale event still moves the cursor",
            vec![
                created("a", 1),
                updated("a", Shipped, 5),
                updated("a", Pending, 2),
            ],
            Some("c-updated-a-2"),
        ),
        (
            "toasts and connection changes do not",
            vec![
                created("a", 1),
                Action::PushToast(Toast::new("x", ToastKind::Info, "x")),
                Action::ConnectionChanged(Connection::Connected),
            ],
            Some("c-created-a"),
        ),
    ];
    for (name, actions, cursor) in cases {
        assert_eq!(run(actions).cursor.as_deref(), cursor, "{name}");
    }
}

#[test]
fn session_and_connection_actions() {
    let admin = ConnectionInfo {
        heartbeat_ms: None,
        user_id: "root".into(),
        socket_id: "s1".into(),
        role: Role::Admin,
    };
    let cases: Vec<(&str, Vec<Action>, AppState)> = vec![
        (
            "signing in starts from an empty, loading state",
            vec![
                created("a", 1),
                Action::SignedIn(Session::new("t2", "bob", Role::User)),
            ],
            AppState::signed_in(Session::new("t2", "bob", Role::User)),
        ),
        (
            "signing out forgets everything and keeps the notice",
            vec![
                created("a", 1),
                Action::ConnectionChanged(Connection::Connected),
                Action::SignedOut {
                    notice: Some("expired".into()),
                },
            ],
            AppState {
                notice: Some("expired".into()),
                ..AppState::default()
            },
        ),
        (
            "connection:success names the user and role",
            vec![Action::Identified(admin.clone())],
            AppState::signed_in(Session::new("token", "root", Role::Admin)),
        ),
        (
            "a refreshed token replaces the session's token and keeps the orders",
            vec![created("a", 1), Action::TokenRefreshed("t-fresh".into())],
            {
                let mut state = run([created("a", 1)]);
                if let Some(session) = state.session.as_mut() {
                    session.token = "t-fresh".into();
                }
                state
            },
        ),
        (
            "a refreshed token after signing out signs nobody in",
            vec![
                Action::SignedOut { notice: None },
                Action::TokenRefreshed("t-late".into()),
            ],
            AppState::default(),
        ),
        (
            "the connection state follows the socket",
            vec![Action::ConnectionChanged(Connection::Reconnecting {
                in_secs: 3,
            })],
            AppState {
                connection: Connection::Reconnecting { in_secs: 3 },
                ..signed_in()
            },
        ),
        (
            "a socket report after sign-out is ignored",
            vec![
                Action::SignedOut { notice: None },
                Action::ConnectionChanged(Connection::Connected),
                Action::Identified(admin),
            ],
            AppState::default(),
        ),
    ];
    for (name, actions, expected) in cases {
        assert_eq!(run(actions), expected, "{name}");
    }
}

#[test]
fn a_snapshot_marks_the_orders_loaded() {
    assert!(!signed_in().loaded);
    assert!(run([snapshot(vec![])]).loaded);
    assert!(!run([created("a", 1)]).loaded);
}

//! Table-driven tests of the reducer beyond the order rules (those are in
//! `orders/tests.rs`): the cursor, the session and the connection.

use protocol::frames::ConnectionInfo;
use protocol::Role;

use crate::fixtures::{cancelled, created, run, signed_in, snapshot, updated};
use crate::state::{Action, AppState, Connection, Session};
use crate::toast::{Toast, ToastKind};

use protocol::OrderStatus::{Pending, Shipped};

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

#[test]
fn cached_orders_are_marked_until_the_relay_answers() {
    let shown = Action::CacheShown(1_000.0);
    let cached = Connection::Cached { saved_at: 1_000 };
    let cases: Vec<(&str, Vec<Action>, Connection)> = vec![
        ("shown from the cache", vec![shown.clone()], cached),
        (
            "still while reconnecting",
            vec![
                shown.clone(),
                Action::ConnectionChanged(Connection::Reconnecting { in_secs: 3 }),
                Action::ConnectionChanged(Connection::Connecting),
            ],
            cached,
        ),
        (
            "connected: the relay answers from here",
            vec![
                shown.clone(),
                Action::ConnectionChanged(Connection::Connected),
            ],
            Connection::Connected,
        ),
        (
            "a cache read that ends after the socket connected says nothing",
            vec![
                Action::ConnectionChanged(Connection::Connected),
                shown.clone(),
            ],
            Connection::Connected,
        ),
        (
            "signed out",
            vec![shown, Action::SignedOut { notice: None }],
            Connection::Offline,
        ),
    ];
    for (name, actions, want) in cases {
        assert_eq!(run(actions).connection, want, "{name}");
    }
}

//! The store publishes after each action only what that action can change.
//! These tests check that this incremental publishing always shows exactly
//! the reducer's state: every row, and the id list.

use client_core::fixtures::{cancelled, created, order, snapshot, updated};
use client_core::state::{Action, AppState, Connection, Session};
use client_core::toast::{Toast, ToastKind};
use leptos::prelude::*;
use protocol::{OrderStatus, Role};

use super::Store;

/// What the view would read equals the reducer's state.
fn assert_shows_state(store: &Store, after: &str) {
    store.with_state(|state| {
        assert_eq!(
            store.order_ids().get_untracked(),
            state.shown_ids().cloned().collect::<Vec<_>>(),
            "id list after {after}"
        );
        let shown = store.rows.with_value(|rows| rows.len());
        assert_eq!(shown, state.shown_ids().count(), "row count after {after}");
        for order in state.orders().newest_first() {
            let id = &order.order_id;
            let row = store
                .row(id)
                .unwrap_or_else(|| panic!("no row {id} after {after}"));
            assert_eq!(&row.get_untracked().order, order, "row {id} after {after}");
        }
        assert_eq!(store.loaded().get_untracked(), state.loaded);
        assert_eq!(store.toasts().get_untracked(), state.toasts.visible());
        assert_eq!(store.connection().get_untracked(), state.connection);
        assert_eq!(store.session().get_untracked(), state.session);
        assert_eq!(store.notice().get_untracked(), state.notice);
    });
}

#[test]
fn publishing_what_each_action_touches_shows_the_whole_state() {
    let alice = Session::new("token-a", "alice", Role::User);
    let steps = [
        (
            "update before its order",
            updated("o2", OrderStatus::Shipped, 9),
        ),
        ("cancel of an unknown order", cancelled("o9", 4)),
        ("snapshot", snapshot(vec![order("o1", 1), order("o3", 3)])),
        ("created, newest", created("o4", 4)),
        ("created with a pending update", created("o2", 2)),
        ("update", updated("o1", OrderStatus::Processing, 5)),
        (
            "same update again",
            updated("o1", OrderStatus::Processing, 5),
        ),
        ("older update", updated("o1", OrderStatus::Pending, 2)),
        ("re-sent created", created("o4", 4)),
        ("cancel", cancelled("o3", 6)),
        (
            "update after cancel",
            updated("o3", OrderStatus::Delivered, 8),
        ),
        (
            "toast",
            Action::PushToast(Toast::new("n1", ToastKind::Info, "hello")),
        ),
        (
            "connection",
            Action::ConnectionChanged(Connection::Connected),
        ),
        ("smaller snapshot", snapshot(vec![order("o4", 4)])),
        ("created after snapshot", created("o5", 5)),
        ("signed out", Action::SignedOut { notice: None }),
        ("created while signed out", created("o6", 6)),
        ("signed in", Action::SignedIn(alice.clone())),
        ("created after sign-in", created("o7", 7)),
    ];
    let owner = Owner::new();
    owner.with(|| {
        let store = Store::new(AppState::signed_in(alice));
        assert_shows_state(&store, "start");
        for (name, action) in steps {
            store.dispatch(action);
            assert_shows_state(&store, name);
        }
    });
}

#[test]
fn an_update_sets_only_its_own_row() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let owner = Owner::new();
    owner.with(|| {
        let store = Store::new(AppState::signed_in(Session::new("t", "alice", Role::User)));
        store.dispatch(snapshot(vec![order("o1", 1), order("o2", 2)]));
        let (o1, o2) = (store.row("o1").unwrap(), store.row("o2").unwrap());
        // A memo over the other row runs again only if that row is set.
        let runs = Arc::new(AtomicUsize::new(0));
        let watched = {
            let (o2, runs) = (o2.clone(), runs.clone());
            Memo::new(move |_| {
                runs.fetch_add(1, Ordering::Relaxed);
                o2.with(|o| o.order.status)
            })
        };
        assert_eq!(watched.get_untracked(), OrderStatus::Pending);
        let ids = store.order_ids().get_untracked();

        store.dispatch(updated("o1", OrderStatus::Processing, 3));

        assert_eq!(o1.get_untracked().order.status, OrderStatus::Processing);
        assert_eq!(watched.get_untracked(), OrderStatus::Pending);
        assert_eq!(runs.load(Ordering::Relaxed), 1, "the other row was set");
        assert!(store.row("o2").unwrap() == o2);
        assert_eq!(store.order_ids().get_untracked(), ids);
    });
}

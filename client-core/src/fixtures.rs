//! Builders for the client's tests (unit, browser and bench alike): times,
//! orders, order events and order actions, and a signed-in state to run them
//! through. Only in this crate's tests and with the `test-support` feature.

use protocol::frames::OrdersSnapshot;
use protocol::{Order, OrderCancellation, OrderEvent, OrderStatus, OrderUpdate, Role, Timestamp};

use crate::reduce::reduce;
use crate::state::{Action, AppState, Session};

/// `secs` seconds into the tests' epoch (2025-11-12T10:30:00Z).
pub fn t(secs: i64) -> Timestamp {
    Timestamp(1_762_943_400_000 + secs * 1000)
}

/// An order of alice's, created `created` seconds into the tests' epoch.
pub fn order(id: &str, created: i64) -> Order {
    protocol::fixtures::order(id, "alice", t(created))
}

pub fn created(id: &str, at: i64) -> Action {
    Action::Order {
        event: OrderEvent::Created(order(id, at)),
        cursor: format!("c-created-{id}"),
    }
}

/// alice's order `id` moving to `status` at `at`.
pub fn update(id: &str, status: OrderStatus, at: i64) -> OrderUpdate {
    protocol::fixtures::update(id, Some("alice"), status, t(at))
}

pub fn updated(id: &str, status: OrderStatus, at: i64) -> Action {
    Action::Order {
        event: OrderEvent::Updated(update(id, status, at)),
        cursor: format!("c-updated-{id}-{at}"),
    }
}

/// alice's order `id` cancelled at `at`.
pub fn cancellation(id: &str, at: i64) -> OrderCancellation {
    protocol::fixtures::cancellation(id, Some("alice"), t(at))
}

pub fn cancelled(id: &str, at: i64) -> Action {
    Action::Order {
        event: OrderEvent::Cancelled(cancellation(id, at)),
        cursor: format!("c-cancelled-{id}-{at}"),
    }
}

pub fn snapshot(orders: Vec<Order>) -> Action {
    Action::OrdersLoaded(OrdersSnapshot {
        more: false,
        orders,
        cursor: "c-snapshot".into(),
    })
}

/// alice, signed in, before anything arrived.
pub fn signed_in() -> AppState {
    AppState::signed_in(Session::new("token", "alice", Role::User))
}

/// The state after `actions`, starting from [`signed_in`].
pub fn run(actions: impl IntoIterator<Item = Action>) -> AppState {
    let mut state = signed_in();
    for action in actions {
        reduce(&mut state, action);
    }
    state
}

//! The reducer: the only code that changes an [`AppState`].
//!
//! `reduce` is a pure function of the state and one [`Action`]: no IO, no
//! clock, no randomness. Its order rules are the relay's (§1 of the
//! contract), shared through [`StatusAt::supersedes`]:
//!
//! - an order's current status is the one with the latest event time
//!   (`createdAt`, `updatedAt`, `cancelledAt`); on equal times the status
//!   further along in life wins; `cancelled` is final;
//! - an update or cancellation for an order not known yet is kept in
//!   `pending` and applied when the order arrives (event or snapshot);
//! - a snapshot replaces the set of orders, but no order's status moves back
//!   in time because of it;
//! - applying any action twice changes nothing the second time.
//!
//! Because the rule is a total order on `(status, time)` pairs, the end
//! state does not depend on the order events arrive in.

use std::cmp::Ordering;
use std::collections::HashMap;

use protocol::{Order, OrderStatus, StatusAt};

use crate::state::{Action, AppState, Connection};

/// Applies one action.
pub fn reduce(state: &mut AppState, action: Action) {
    match action {
        Action::SignedIn(session) => {
            let toasts = std::mem::take(&mut state.toasts);
            *state = AppState {
                session: Some(session),
                toasts,
                ..AppState::default()
            };
        }
        Action::SignedOut { notice } => {
            *state = AppState {
                notice,
                ..AppState::default()
            };
        }
        Action::Identified(info) => {
            if let Some(session) = state.session.as_mut() {
                session.user_id = Some(info.user_id);
                session.role = info.role;
            }
        }
        Action::TokenRefreshed(token) => {
            if let Some(session) = state.session.as_mut() {
                session.token = token;
            }
        }
        Action::ConnectionChanged(connection) => {
            // A late report from a socket that belonged to a previous session
            // must not make the sign-in screen look connected.
            state.connection = if state.session.is_some() {
                connection
            } else {
                Connection::Offline
            };
        }
        Action::OrdersLoaded(snapshot) => {
            if state.session.is_none() {
                return;
            }
            load_snapshot(state, snapshot.orders);
            state.cursor = Some(snapshot.cursor);
        }
        Action::AddOrder { order, cursor } => {
            if state.session.is_none() {
                return;
            }
            add_order(state, order);
            state.cursor = Some(cursor);
        }
        Action::UpdateOrderStatus { update, cursor } => {
            if state.session.is_none() {
                return;
            }
            let candidate = StatusAt {
                status: update.status,
                at: update.updated_at,
            };
            apply_status(state, &update.order_id, candidate);
            state.cursor = Some(cursor);
        }
        Action::CancelOrder {
            cancellation,
            cursor,
        } => {
            if state.session.is_none() {
                return;
            }
            let candidate = StatusAt {
                status: OrderStatus::Cancelled,
                at: cancellation.cancelled_at,
            };
            apply_status(state, &cancellation.order_id, candidate);
            state.cursor = Some(cursor);
        }
        Action::PushToast(toast) => state.toasts.push(toast),
        Action::DismissToast(id) => state.toasts.dismiss(&id),
    }
}

/// Newest first: by `createdAt` descending, then by id descending, so the
/// list order is total and the same on every client.
fn newest_first(a: &Order, b: &Order) -> Ordering {
    (b.created_at, &b.order_id).cmp(&(a.created_at, &a.order_id))
}

/// The later of two statuses by the §1 rule.
fn later(current: StatusAt, candidate: Option<StatusAt>) -> StatusAt {
    match candidate {
        Some(candidate) if candidate.supersedes(current) => candidate,
        _ => current,
    }
}

/// Writes the winning status into the order the view shows. `updatedAt`
/// becomes the time of that status, so it too depends only on which event
/// won, never on the order events arrived in (a cancellation older than the
/// last update still wins, and then its time is shown).
fn show_status(order: &mut Order, status: StatusAt) {
    order.status = status.status;
    order.updated_at = status.at;
}

fn add_order(state: &mut AppState, mut order: Order) {
    let id = order.order_id.clone();
    let incoming = StatusAt {
        status: order.status,
        at: order.created_at,
    };
    if state.orders.contains_key(&id) {
        // A re-sent `order:created`: only its status can matter, by the rule.
        apply_status(state, &id, incoming);
        return;
    }
    let status = later(incoming, state.pending.remove(&id));
    if status != incoming {
        show_status(&mut order, status);
    }
    let position = state
        .order_list
        .partition_point(|other| newest_first(&state.orders[other], &order) == Ordering::Less);
    state.order_list.insert(position, id.clone());
    state.statuses.insert(id.clone(), status);
    state.orders.insert(id, order);
}

fn apply_status(state: &mut AppState, order_id: &str, candidate: StatusAt) {
    match (
        state.orders.get_mut(order_id),
        state.statuses.get_mut(order_id),
    ) {
        (Some(order), Some(current)) => {
            if candidate.supersedes(*current) {
                *current = candidate;
                show_status(order, candidate);
            }
        }
        _ => {
            let kept = state.pending.get(order_id).copied();
            let merged = match kept {
                Some(kept) => later(kept, Some(candidate)),
                None => candidate,
            };
            state.pending.insert(order_id.to_owned(), merged);
        }
    }
}

fn load_snapshot(state: &mut AppState, snapshot: Vec<Order>) {
    let mut orders: HashMap<String, Order> = HashMap::with_capacity(snapshot.len());
    let mut statuses: HashMap<String, StatusAt> = HashMap::with_capacity(snapshot.len());
    for mut order in snapshot {
        let id = order.order_id.clone();
        let listed = StatusAt {
            status: order.status,
            at: order.updated_at,
        };
        // What this client already knew about the order, from earlier events
        // or a pending update, wins where the rule says it is newer.
        let mut status = later(listed, state.statuses.get(&id).copied());
        status = later(status, state.pending.remove(&id));
        if let Some(seen) = statuses.get(&id) {
            status = later(status, Some(*seen));
        }
        if status != listed {
            show_status(&mut order, status);
        }
        statuses.insert(id.clone(), status);
        orders.insert(id, order);
    }
    let mut list: Vec<String> = orders.keys().cloned().collect();
    // Ids are unique, so the order is total and an unstable sort is exact.
    sort_strings(&mut list, &mut |a, b| newest_first(&orders[a], &orders[b]));
    state.orders = orders;
    state.statuses = statuses;
    state.order_list = list;
    state.loaded = true;
}

/// Sorts strings with a comparator behind `dyn`: every sort of strings in
/// the client is this one instantiation (each comparator type would
/// otherwise compile its own copy of the sort into the bundle).
pub(crate) fn sort_strings(
    list: &mut [String],
    compare: &mut dyn FnMut(&String, &String) -> Ordering,
) {
    list.sort_unstable_by(|a, b| compare(a, b));
}

#[cfg(test)]
mod tests;

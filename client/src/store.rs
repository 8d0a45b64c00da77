//! The store: the reducer's [`AppState`] behind `dispatch`, projected into
//! signals the view reads.
//!
//! The state itself is plain data in a `StoredValue`. After every action the
//! store publishes only what changed: each order has its own signal, set
//! only when that order changed, and the newest-first id list is set only
//! when membership or order changed. A keyed `<For>` over the ids with one
//! signal per row means a status update touches exactly one row's badge.

use std::collections::HashMap;

use leptos::prelude::*;
use protocol::Order;

use crate::reduce::reduce;
use crate::state::{Action, AppState, Connection, Session};
use crate::toast::Toast;

/// The app's state container, provided to every component by context.
/// `Copy`: every field is an arena handle.
#[derive(Clone, Copy)]
pub struct Store {
    state: StoredValue<AppState>,
    rows: StoredValue<HashMap<String, ArcRwSignal<Order>>>,
    order_ids: RwSignal<Vec<String>>,
    loaded: RwSignal<bool>,
    toasts: RwSignal<Vec<Toast>>,
    connection: RwSignal<Connection>,
    session: RwSignal<Option<Session>>,
    notice: RwSignal<Option<String>>,
    /// Numbers error toasts, which have no natural id.
    errors: StoredValue<u64>,
}

/// Sets a signal only when the value differs, so readers are not woken for
/// nothing.
fn publish<T: PartialEq + Send + Sync + 'static>(signal: RwSignal<T>, value: T) {
    if signal.with_untracked(|current| current != &value) {
        signal.set(value);
    }
}

impl Store {
    pub fn new(initial: AppState) -> Store {
        let store = Store {
            state: StoredValue::new(initial),
            rows: StoredValue::new(HashMap::new()),
            order_ids: RwSignal::new(Vec::new()),
            loaded: RwSignal::new(false),
            toasts: RwSignal::new(Vec::new()),
            connection: RwSignal::new(Connection::Offline),
            session: RwSignal::new(None),
            notice: RwSignal::new(None),
            errors: StoredValue::new(0),
        };
        store.publish(true);
        store
    }

    /// Applies an action through the reducer and publishes the result.
    pub fn dispatch(&self, action: Action) {
        let orders_may_change = action.touches_orders();
        self.state.update_value(|state| reduce(state, action));
        self.publish(orders_may_change);
    }

    /// Shows an error toast.
    pub fn error(&self, text: impl Into<String>) {
        let seq = self.errors.get_value() + 1;
        self.errors.set_value(seq);
        self.dispatch(Action::PushToast(Toast::error(text, seq)));
    }

    fn publish(&self, orders: bool) {
        self.state.with_value(|state| {
            if orders {
                self.publish_orders(state);
            }
            publish(self.loaded, state.loaded);
            publish(self.toasts, state.toasts.visible().to_vec());
            publish(self.connection, state.connection);
            publish(self.session, state.session.clone());
            publish(self.notice, state.notice.clone());
        });
    }

    fn publish_orders(&self, state: &AppState) {
        self.rows.update_value(|rows| {
            rows.retain(|id, _| state.orders.contains_key(id));
            for (id, order) in &state.orders {
                match rows.get(id) {
                    Some(row) => {
                        if row.with_untracked(|shown| shown != order) {
                            row.set(order.clone());
                        }
                    }
                    None => {
                        rows.insert(id.clone(), ArcRwSignal::new(order.clone()));
                    }
                }
            }
        });
        if self
            .order_ids
            .with_untracked(|ids| ids != &state.order_list)
        {
            self.order_ids.set(state.order_list.clone());
        }
    }

    /// The order ids, newest first.
    pub fn order_ids(&self) -> ReadSignal<Vec<String>> {
        self.order_ids.read_only()
    }

    /// One order's own signal, for its row.
    pub fn row(&self, order_id: &str) -> Option<ArcRwSignal<Order>> {
        self.rows.with_value(|rows| rows.get(order_id).cloned())
    }

    /// Whether the first snapshot has arrived.
    pub fn loaded(&self) -> ReadSignal<bool> {
        self.loaded.read_only()
    }

    /// The toasts on screen.
    pub fn toasts(&self) -> ReadSignal<Vec<Toast>> {
        self.toasts.read_only()
    }

    pub fn connection(&self) -> ReadSignal<Connection> {
        self.connection.read_only()
    }

    pub fn session(&self) -> ReadSignal<Option<Session>> {
        self.session.read_only()
    }

    /// Why the sign-in screen is showing, if not by choice.
    pub fn notice(&self) -> ReadSignal<Option<String>> {
        self.notice.read_only()
    }

    /// The token of the signed-in user, read without tracking (for commands).
    pub fn token(&self) -> Option<String> {
        self.state
            .with_value(|s| s.session.as_ref().map(|s| s.token.clone()))
    }

    /// Where a reconnect resumes.
    pub fn cursor(&self) -> Option<String> {
        self.state.with_value(|s| s.cursor.clone())
    }

    /// Reads the whole state (tests and debugging).
    pub fn with_state<R>(&self, f: impl FnOnce(&AppState) -> R) -> R {
        self.state.with_value(f)
    }
}

//! The store: the reducer's [`AppState`] behind `dispatch`, projected into
//! signals the view reads.
//!
//! The state itself is plain data in a `StoredValue`. After every action the
//! store publishes only what changed: each order has its own signal, set
//! only when that order changed, and the newest-first id list is announced
//! only when membership or order may have changed. A keyed `<For>` over the
//! ids with one signal per row means a status update touches exactly one
//! row's badge.
//!
//! Publishing costs what the action touched, not what the page holds: an
//! order event looks at its own order only (the reducer changes no other),
//! and the id list is a memo read from the state when the view asks for it,
//! so a burst of `order:created` frames copies the list once per render,
//! not once per frame. Only a snapshot, signing in or signing out compares
//! every order.

use std::borrow::Borrow;
use std::collections::HashMap;

use client_core::reduce::reduce;
use client_core::state::{Action, AppState, Connection, Session};
use client_core::toast::Toast;
use leptos::prelude::*;
use protocol::Order;

/// The app's state container, provided to every component by context.
/// `Copy`: every field is an arena handle.
#[derive(Clone, Copy)]
pub struct Store {
    state: StoredValue<AppState>,
    rows: StoredValue<HashMap<String, ArcRwSignal<Order>>>,
    /// Notified when the id list may have changed.
    list_changed: Trigger,
    /// The id list, copied out of the state when a reader asks after a
    /// change.
    order_ids: Memo<Vec<String>>,
    loaded: RwSignal<bool>,
    toasts: RwSignal<Vec<Toast>>,
    connection: RwSignal<Connection>,
    session: RwSignal<Option<Session>>,
    notice: RwSignal<Option<String>>,
    /// Numbers error toasts, which have no natural id.
    errors: StoredValue<u64>,
    /// Redux DevTools, when the extension is there (debug builds).
    #[cfg(all(debug_assertions, target_arch = "wasm32"))]
    devtools: StoredValue<Option<std::rc::Rc<crate::devtools::DevTools>>, LocalStorage>,
}

/// Sets a signal only when the value differs, so readers are not woken for
/// nothing (and nothing is cloned for nothing).
fn publish<T, V>(signal: RwSignal<T>, value: &V)
where
    T: Borrow<V> + Send + Sync + 'static,
    V: PartialEq + ToOwned<Owned = T> + ?Sized,
{
    if signal.with_untracked(|current| current.borrow() != value) {
        signal.set(value.to_owned());
    }
}

/// Shows `order` in its row: sets the row's signal if the order changed,
/// or adds the row. Returns whether the row is new.
fn show_row(rows: &mut HashMap<String, ArcRwSignal<Order>>, order: &Order) -> bool {
    match rows.get(order.order_id.as_str()) {
        Some(row) => {
            if row.with_untracked(|shown| shown != order) {
                row.set(order.clone());
            }
            false
        }
        None => {
            rows.insert(order.order_id.clone(), ArcRwSignal::new(order.clone()));
            true
        }
    }
}

/// Which orders an action can change.
enum Reach {
    /// None (toasts, connection, identity).
    Nothing,
    /// An order event: this order alone, and the id list only by adding it.
    One(String),
    /// Any (a snapshot, signing in or out).
    All,
}

impl Reach {
    fn of(action: &Action) -> Reach {
        if !action.touches_orders() {
            Reach::Nothing
        } else if let Some(id) = action.order_id() {
            Reach::One(id.to_owned())
        } else {
            Reach::All
        }
    }
}

impl Store {
    pub fn new(initial: AppState) -> Store {
        let state = StoredValue::new(initial);
        let list_changed = Trigger::new();
        let order_ids = Memo::new(move |_| {
            list_changed.track();
            state.with_value(|state| state.orders().ids().cloned().collect())
        });
        let store = Store {
            state,
            rows: StoredValue::new(HashMap::new()),
            list_changed,
            order_ids,
            loaded: RwSignal::new(false),
            toasts: RwSignal::new(Vec::new()),
            connection: RwSignal::new(Connection::Offline),
            session: RwSignal::new(None),
            notice: RwSignal::new(None),
            errors: StoredValue::new(0),
            #[cfg(all(debug_assertions, target_arch = "wasm32"))]
            devtools: StoredValue::new_local(None),
        };
        store.publish(Reach::All);
        #[cfg(all(debug_assertions, target_arch = "wasm32"))]
        store.connect_devtools();
        store
    }

    /// Applies an action through the reducer and publishes the result.
    pub fn dispatch(&self, action: Action) {
        let reach = Reach::of(&action);
        #[cfg(all(debug_assertions, target_arch = "wasm32"))]
        let devtools = self.devtools.with_value(|d| {
            d.as_ref().map(|d| {
                (
                    std::rc::Rc::clone(d),
                    crate::devtools::DevTools::describe(&action),
                )
            })
        });
        self.state.update_value(|state| reduce(state, action));
        #[cfg(all(debug_assertions, target_arch = "wasm32"))]
        if let Some((devtools, action)) = devtools {
            self.state.with_value(|state| devtools.send(&action, state));
        }
        self.publish(reach);
    }

    /// Connects the store to Redux DevTools, if the extension is there; a
    /// jump there puts that state on the page.
    #[cfg(all(debug_assertions, target_arch = "wasm32"))]
    fn connect_devtools(&self) {
        let store = *self;
        let connected = self.state.with_value(|initial| {
            crate::devtools::DevTools::connect(initial, move |state| store.replace(state))
        });
        self.devtools.set_value(connected.map(std::rc::Rc::new));
    }

    /// Puts a whole state on the page (a DevTools jump).
    #[cfg(all(debug_assertions, target_arch = "wasm32"))]
    fn replace(&self, state: AppState) {
        if self.state.try_update_value(|s| *s = state).is_some() {
            self.publish(Reach::All);
        }
    }

    /// Shows an error toast.
    pub fn error(&self, text: impl Into<String>) {
        let seq = self.errors.get_value() + 1;
        self.errors.set_value(seq);
        self.dispatch(Action::PushToast(Toast::error(text, seq)));
    }

    fn publish(&self, reach: Reach) {
        self.state.with_value(|state| {
            match reach {
                Reach::Nothing => {}
                Reach::One(id) => self.publish_order(state, &id),
                Reach::All => self.publish_orders(state),
            }
            publish(self.loaded, &state.loaded);
            publish(self.toasts, state.toasts.visible());
            publish(self.connection, &state.connection);
            publish(self.session, &state.session);
            publish(self.notice, &state.notice);
        });
    }

    /// After an order event: that order's row, and the list if the event
    /// added the order. An order event changes its own order only, and
    /// never moves or removes one (`client_core::orders`' invariant), so
    /// the list changed exactly when this order's row is new.
    fn publish_order(&self, state: &AppState, id: &str) {
        let Some(order) = state.orders().get(id) else {
            // Still pending (its `order:created` has not arrived): not shown.
            return;
        };
        let added = self
            .rows
            .try_update_value(|rows| show_row(rows, order))
            .unwrap_or_default();
        if added {
            self.list_changed.notify();
        }
    }

    /// After a snapshot or a new session: every row, and the list.
    fn publish_orders(&self, state: &AppState) {
        self.rows.update_value(|rows| {
            let orders = state.orders();
            rows.retain(|id, _| orders.contains(id));
            for order in orders.newest_first() {
                show_row(rows, order);
            }
        });
        // The memo compares the new list with the one it holds and wakes its
        // readers only if they differ.
        self.list_changed.notify();
    }

    /// The order ids, newest first.
    pub fn order_ids(&self) -> Memo<Vec<String>> {
        self.order_ids
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

#[cfg(test)]
mod tests;

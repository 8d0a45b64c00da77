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

use client_core::commands::{Change, Command, Pending, CONFIRM_WITHIN_MS};
use client_core::reduce::reduce;
use client_core::state::{Action, AppState, Connection, Session};
use client_core::toast::Toast;
use leptos::prelude::*;
use protocol::Order;

/// One row as the page shows it: the confirmed order (or the one being
/// placed), and the command in flight on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub order: Order,
    pub pending: Option<Pending>,
}

/// The app's state container, provided to every component by context.
/// `Copy`: every field is an arena handle.
#[derive(Clone, Copy)]
pub struct Store {
    state: StoredValue<AppState>,
    rows: StoredValue<HashMap<String, ArcRwSignal<Row>>>,
    /// Notified when the id list may have changed.
    list_changed: Trigger,
    /// Notified when any order or command may have changed (the admin
    /// table re-reads its page).
    orders_changed: Trigger,
    /// The id list, copied out of the state when a reader asks after a
    /// change.
    order_ids: Memo<Vec<String>>,
    loaded: RwSignal<bool>,
    toasts: RwSignal<Vec<Toast>>,
    /// Whether the user looks at this tab (toasts count down only then).
    looking: RwSignal<bool>,
    connection: RwSignal<Connection>,
    session: RwSignal<Option<Session>>,
    notice: RwSignal<Option<String>>,
    /// Numbers error toasts and commands, which have no natural id.
    errors: StoredValue<u64>,
    /// The deadline the commands' timer is set for (ms since the epoch), or
    /// 0 when none is: a `u64` like `errors`, since a stored value of a type
    /// the app keeps nowhere else brings its own arena code.
    timer_at: StoredValue<u64>,
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

/// Shows `order` in its row, with the command in flight on it: sets the
/// row's signal if either changed, or adds the row. Returns whether the row
/// is new.
fn show_row(
    rows: &mut HashMap<String, ArcRwSignal<Row>>,
    order: &Order,
    pending: Option<Pending>,
) -> bool {
    match rows.get(order.order_id.as_str()) {
        Some(row) => {
            if row.with_untracked(|shown| &shown.order != order || shown.pending != pending) {
                row.set(Row {
                    order: order.clone(),
                    pending,
                });
            }
            false
        }
        None => {
            let row = Row {
                order: order.clone(),
                pending,
            };
            rows.insert(order.order_id.clone(), ArcRwSignal::new(row));
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

/// How many orders being placed the page shows above the list.
fn placing_count(state: &AppState) -> usize {
    state.commands().placing(state.orders()).count()
}

impl Store {
    pub fn new(initial: AppState) -> Store {
        let state = StoredValue::new(initial);
        let list_changed = Trigger::new();
        let order_ids = Memo::new(move |_| {
            list_changed.track();
            state.with_value(|state| state.shown_ids().cloned().collect())
        });
        let store = Store {
            state,
            rows: StoredValue::new(HashMap::new()),
            list_changed,
            orders_changed: Trigger::new(),
            order_ids,
            loaded: RwSignal::new(false),
            toasts: RwSignal::new(Vec::new()),
            looking: RwSignal::new(true),
            connection: RwSignal::new(Connection::Offline),
            session: RwSignal::new(None),
            notice: RwSignal::new(None),
            errors: StoredValue::new(0),
            timer_at: StoredValue::new(0),
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
        let mut reach = Reach::of(&action);
        // An order event that confirms a checkout in flight may move its
        // row (from above the list to its place in it).
        let placing = self.state.with_value(placing_count);
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
        if matches!(reach, Reach::One(_)) && self.state.with_value(placing_count) != placing {
            reach = Reach::All;
        }
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
        let seq = self.next_seq();
        self.dispatch(Action::PushToast(Toast::error(text, seq)));
    }

    fn next_seq(&self) -> u64 {
        let seq = self.errors.get_value() + 1;
        self.errors.set_value(seq);
        seq
    }

    /// Shows `change` on `order_id` at once, as pending, until the relay's
    /// event confirms it, [`Store::refused`] ends it, or
    /// [`CONFIRM_WITHIN_MS`] pass. Returns the command's id, or `None` when
    /// the order already has a command in flight.
    pub fn command(&self, order_id: &str, change: Change) -> Option<u64> {
        let id = self.next_seq();
        let deadline = js_sys::Date::now() + CONFIRM_WITHIN_MS;
        self.dispatch(Action::CommandSent(Command {
            id,
            order_id: order_id.to_owned(),
            change,
            deadline,
        }));
        let started = self
            .state
            .with_value(|s| s.commands().on(order_id).is_some());
        self.watch_deadlines();
        started.then_some(id)
    }

    /// Ends command `id`: the relay refused it, or could not be reached.
    pub fn refused(&self, id: u64, why: impl Into<String>) {
        self.dispatch(Action::CommandRefused {
            id,
            why: why.into(),
        });
    }

    /// Keeps one timer set for the earliest deadline of the commands in
    /// flight; when it fires, the commands due end.
    fn watch_deadlines(&self) {
        let Some(next) = self.state.with_value(|s| s.commands().next_deadline()) else {
            return;
        };
        let at = self.timer_at.get_value();
        if at != 0 && at as f64 <= next {
            return;
        }
        // Deadlines are whole milliseconds (`Date.now()` plus a constant).
        self.timer_at.set_value(next as u64);
        let store = *self;
        let wait = (next - js_sys::Date::now()).max(0.0) as u64 + 1;
        set_timeout(
            move || {
                // The app may be gone (tests mount several): `try_update_value`
                // answers `None` then (`try_set_value` answers `None` on
                // success, so it cannot tell).
                if store.timer_at.try_update_value(|at| *at = 0).is_some() {
                    store.dispatch(Action::CommandsDue {
                        now: js_sys::Date::now(),
                    });
                    store.watch_deadlines();
                }
            },
            std::time::Duration::from_millis(wait),
        );
    }

    fn publish(&self, reach: Reach) {
        self.state.with_value(|state| {
            let touched = !matches!(reach, Reach::Nothing);
            match reach {
                Reach::Nothing => {}
                Reach::One(id) => self.publish_order(state, &id),
                Reach::All => self.publish_orders(state),
            }
            if touched {
                self.orders_changed.notify();
            }
            publish(self.loaded, &state.loaded);
            publish(self.toasts, state.toasts.visible());
            let looking = state.toasts.attention() == client_core::toast::Attention::Looking;
            publish(self.looking, &looking);
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
        let Some((order, pending)) = state.shown(id) else {
            // Still pending (its `order:created` has not arrived): not shown.
            return;
        };
        let added = self
            .rows
            .try_update_value(|rows| show_row(rows, order, pending))
            .unwrap_or_default();
        if added {
            self.list_changed.notify();
        }
    }

    /// After a snapshot or a new session: every row, and the list.
    fn publish_orders(&self, state: &AppState) {
        self.rows.update_value(|rows| {
            rows.retain(|id, _| state.shown(id).is_some());
            for id in state.shown_ids() {
                if let Some((order, pending)) = state.shown(id) {
                    show_row(rows, order, pending);
                }
            }
        });
        // The memo compares the new list with the one it holds and wakes its
        // readers only if they differ.
        self.list_changed.notify();
    }

    /// Makes the caller re-run when any order or command changes.
    pub fn track_orders(&self) {
        self.orders_changed.track();
    }

    /// The order ids, newest first.
    pub fn order_ids(&self) -> Memo<Vec<String>> {
        self.order_ids
    }

    /// One order's own signal, for its row.
    pub fn row(&self, order_id: &str) -> Option<ArcRwSignal<Row>> {
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

    /// Whether the user looks at this tab.
    pub fn looking(&self) -> ReadSignal<bool> {
        self.looking.read_only()
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

//! The reducer: the only code that changes an [`AppState`].
//!
//! `reduce` is a pure function of the state and one [`Action`]: no IO, no
//! clock, no randomness. Order events go to [`crate::orders::Orders`],
//! which holds the order rules (§1 of the contract, the relay's, shared
//! through `StatusAt::supersedes`); the reducer adds who is signed in, the
//! cursor, the connection and the toasts:
//!
//! - order events and snapshots are ignored once signed out (a late frame
//!   from the previous session's socket);
//! - every order event and snapshot moves the cursor, even one whose status
//!   lost by the rule;
//! - signing in or out forgets every order and every command in flight;
//! - a command in flight never changes the confirmed orders: it ends when
//!   an event or snapshot confirms it, the relay refuses it, or its deadline
//!   passes ([`crate::commands`]);
//! - applying any action twice changes nothing the second time.
//!
//! Because the rule is a total order on `(status, time)` pairs, the end
//! state does not depend on the order events arrive in.

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
            state.connection = match (state.session.is_some(), state.connection) {
                (false, _) => Connection::Offline,
                // Cached orders stay marked as such until connected.
                (true, cached @ Connection::Cached { .. })
                    if connection != Connection::Connected =>
                {
                    cached
                }
                (true, _) => connection,
            };
        }
        Action::OrdersLoaded(snapshot) => {
            if state.session.is_none() {
                return;
            }
            state.orders.load(snapshot.orders);
            state.commands.confirm(&state.orders);
            state.loaded = true;
            state.cursor = Some(snapshot.cursor);
        }
        Action::Order { event, cursor } => {
            if state.session.is_none() {
                return;
            }
            state.orders.apply(event);
            state.commands.confirm(&state.orders);
            state.cursor = Some(cursor);
        }
        Action::PushToast(toast) => state.toasts.push(toast),
        Action::DismissToast(id) => state.toasts.dismiss(&id),
        Action::Attention(attention) => state.toasts.attend(attention),
        Action::CacheShown(saved_at) => {
            if state.session.is_some() && state.connection != Connection::Connected {
                state.connection = Connection::Cached {
                    saved_at: saved_at as u64,
                };
            }
        }
        Action::CommandSent(command) => {
            if state.session.is_some() {
                state.commands.begin(command);
            }
        }
        Action::CommandRefused { id, why } => {
            if let Some(toast) = state.commands.refuse(id, &why) {
                state.toasts.push(toast);
            }
        }
        Action::CommandsDue { now } => {
            for toast in state.commands.expire(now) {
                state.toasts.push(toast);
            }
        }
    }
}

#[cfg(test)]
mod tests;

//! The browser client of the realtime order system: a Leptos CSR app that
//! lists a user's orders and applies the relay's live events to them.
//!
//! The pure core (state, actions, reducer, order rules, toasts, formatting,
//! token reading, the reconnect policy) is the `client_core` crate; its
//! modules are re-exported here under their old paths (`client::state`,
//! `client::reduce`, ...). This crate is what needs a browser.
//!
//! Layout (IO at the edges):
//! - [`socket`]: the socket service: `subscribe_to_orders`, the per-event
//!   callbacks (each ends in `dispatch(Action)`), reconnect with backoff and
//!   heartbeat ([`socket::policy`], from the core), and the swappable link
//!   (the service is generic over a `Transport`: `LiveTransport`, a
//!   WebSocket, in the app; `TestTransport`, a channel, in tests only).
//! - `time`: the browser's clock, timer and random number, for the socket
//!   loop and the HTTP retries.
//! - [`api`]: the HTTP commands (login, cancel, advance, checkout).
//! - [`session`]: where a token comes from (`?token=`, `<meta>`, this tab's
//!   `sessionStorage`) and where it is kept; [`host`]: the host page's hook
//!   (`window.orderRelayToken()`) that signs a shopper in and renews the
//!   token.
//! - [`tabs`]: one socket per browser: the tabs of a user elect a leader
//!   that alone holds the socket (`socket::Shared`); [`cache`]: the offline
//!   cache of the orders in IndexedDB. Their browser side is
//!   `client/js/tabs.js`; the service worker is `client/js/sw.js`.
//! - [`store`]: the reducer behind `dispatch`, projected into signals (one
//!   per order row) for the view; provided by context.
//! - [`ui`]: the components: app shell, sign-in, orders page, toasts.
//! - [`intl`]: money and times in the shopper's locale and time zone.
//! - [`url`]: the address's parameters (the admin table's query).
//!
//! Invariants: only the `protocol` crate knows the JSON wire format; the
//! reducer never does IO; the view never changes state except by
//! `dispatch`; an HTTP command never edits the confirmed orders: it shows
//! as pending over them until the event that comes back over the socket
//! confirms it (`client_core::commands`).
#![forbid(unsafe_code)]

pub mod api;
pub mod cache;
#[cfg(all(debug_assertions, target_arch = "wasm32"))]
pub mod devtools;
pub mod host;
pub mod intl;
pub mod session;
pub mod socket;
pub mod store;
pub mod tabs;
mod time;
pub mod ui;
pub mod url;

#[cfg(any(test, feature = "test-support"))]
pub use client_core::fixtures;
pub use client_core::state::Renewal;
pub use client_core::{format, reduce, state, table, toast, token};
pub use client_core::{Action, AppState, Connection, Session};
pub use store::Store;
pub use ui::{mount, start, AppConfig};

//! The browser client of the realtime order system: a Leptos CSR app that
//! lists a user's orders and applies the relay's live events to them.
//!
//! Layout (pure core first, IO at the edges):
//! - [`state`]: `AppState` (orders by id, newest-first list, pending
//!   updates, toasts, connection, cursor, session) and the closed `Action`
//!   enum. Plain data.
//! - [`reduce`]: `reduce(&mut AppState, Action)`, the only code that changes
//!   the state. No IO, no clock, no randomness; the §1 order rules live here.
//! - [`toast`]: what each event says as a toast (the seed's texts) and the
//!   capped, de-duplicated toast queue.
//! - [`format`]: how money, items, times and the connection state read.
//! - [`socket`]: the socket service: `subscribe_to_orders`, the per-event
//!   callbacks (each ends in `dispatch(Action)`), reconnect with backoff and
//!   heartbeat ([`socket::policy`]), and the swappable link (`Transport::Live`
//!   WebSocket or `Transport::Test` channel).
//! - [`token`]: reads a token's `exp` and says when to refresh it. Pure.
//! - [`api`]: the HTTP commands (login, cancel, advance, checkout).
//! - [`session`]: where a token comes from (`?token=`, `<meta>`, this tab's
//!   `sessionStorage`) and where it is kept.
//! - [`store`]: the reducer behind `dispatch`, projected into signals (one
//!   per order row) for the view; provided by context.
//! - [`ui`]: the components: app shell, sign-in, orders page, toasts.
//!
//! Invariants: only the `protocol` crate knows the JSON wire format; the
//! reducer never does IO; the view never changes state except by
//! `dispatch`; an HTTP command never edits the page itself, the event that
//! comes back over the socket does.
#![forbid(unsafe_code)]

pub mod api;
#[cfg(any(test, feature = "test-support"))]
pub mod fixtures;
pub mod format;
pub mod reduce;
pub mod session;
pub mod socket;
pub mod state;
pub mod store;
pub mod toast;
pub mod token;
pub mod ui;

pub use state::{Action, AppState, Connection, Session};
pub use store::Store;
pub use ui::{mount, start, AppConfig};

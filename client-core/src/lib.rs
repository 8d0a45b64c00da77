//! The browser client's pure core: its state, the actions that change it,
//! the reducer, and the decisions the socket and the page take from plain
//! data. No leptos, web-sys, js-sys, gloo or wasm-bindgen: everything here
//! runs and is tested natively, and the relay's chaos test runs its clients
//! through this crate without compiling the browser stack.
//!
//! Layout:
//! - [`state`]: `AppState` (who is signed in, the orders, the cursor, the
//!   connection, the toasts) and the closed `Action` enum. Plain data.
//! - [`orders`]: `Orders`, the known orders newest first and the updates
//!   waiting for theirs; the one module that merges order events (the §1
//!   rules, through `StatusAt::supersedes`). Read-only outside this crate.
//! - [`commands`]: optimistic commands: the cancels, status changes and
//!   checkouts in flight, shown over the confirmed orders until the relay
//!   confirms, refuses, or says nothing in time.
//! - [`reduce`]: `reduce(&mut AppState, Action)`, the only code that changes
//!   the state. No IO, no clock, no randomness.
//! - [`toast`]: what each event says as a toast (the seed's texts) and the
//!   capped, de-duplicated toast queue.
//! - [`format`]: how money, items, times and the connection state read.
//! - [`token`]: reads a token's `exp` and says when to refresh it.
//! - [`policy`]: the socket's decisions: reconnect or sign in again, backoff
//!   with jitter, the reconnect countdown, the heartbeat window.
//! - [`report`]: delivery measurements: the relay's clock estimated from
//!   `clock:sync`, each live event's latency, batched `delivery:report`s.
//! - [`tabs`]: one socket per browser: the messages between a user's tabs
//!   and the frame log that rebuilds a tab's orders (the offline cache's
//!   content too).
//! - [`table`]: the admin's table: search, filters, sort and pages, and
//!   their URL parameters.
//! - [`sort`]: the one string sort (one copy in the bundle).
//! - [`devtools`]: the actions and state as Redux DevTools shows them
//!   (debug builds of the client).
//! - `fixtures`: builders for tests (this crate's own, and the client's with
//!   the `test-support` feature).
//!
//! Invariants: nothing here does IO, reads a clock or draws a random number
//! (times, jitter and ids arrive as arguments); only [`reduce`] changes an
//! `AppState`, and only through [`orders::Orders`]' methods do its orders
//! change, so the id list, the orders and their statuses cannot drift apart.
#![forbid(unsafe_code)]

pub mod commands;
pub mod devtools;
#[cfg(any(test, feature = "test-support"))]
pub mod fixtures;
pub mod format;
pub mod orders;
pub mod policy;
pub mod reduce;
pub mod report;
pub mod sort;
pub mod state;
pub mod table;
pub mod tabs;
pub mod toast;
pub mod token;

pub use orders::Orders;
pub use state::{Action, AppState, Connection, Session};

//! The socket service: one live subscription to the relay's order events.
//!
//! Layout, one job per module:
//! - `service`: [`subscribe_to_orders`] runs the loop: open a link, send
//!   `subscribe:orders` with the last cursor, hand every frame on, keep the
//!   heartbeat, and when the link ends decide ([`policy`], from the core)
//!   whether to reconnect, when, or to send the user back to sign-in.
//! - `frames`: [`handle_frame`]: frames are decoded only by
//!   `protocol::ServerEvent::from_json`; each variant calls its own callback.
//! - `callbacks`: [`OrderCallbacks`], one per kind of frame; the app's
//!   ([`OrderCallbacks::dispatching`]) pick each event's toast and each ends
//!   in `dispatch(Action)`.
//! - `renew`: [`Tokens`]: while a link is open, a renewable token (a demo
//!   login's) is renewed before it expires and sent on the link as
//!   `auth:refresh`; reconnects use the newest token, renewed first if it
//!   expired while the link was down.
//! - `shared`: [`Shared`], one socket per browser as a transport: the
//!   leader tab's link to the relay passes every frame on to the other
//!   tabs; theirs is the tab channel ([`crate::tabs`]).
//! - `link`: the [`Transport`] and [`Link`] traits and the live WebSocket
//!   ([`LiveTransport`]); `test_link`: `TestTransport`, a channel fed by the
//!   test, only with the `test-support` feature.
//! - `log`: the console lines.
//!
//! The link is the only part that differs between production and tests: the
//! service is generic over the transport, so the release bundle carries the
//! live one only, and the loop, the decoding and the callbacks are the same
//! code in both.
//!
//! Imports go one way: `service` uses the other modules; `frames` and
//! `renew` use `callbacks` and `log`; `link` uses the HTTP API (whether a
//! refused token is dead); nothing here is imported back by them.

mod callbacks;
mod frames;
mod link;
mod log;
mod renew;
mod service;
mod shared;
#[cfg(any(test, feature = "test-support"))]
mod test_link;
#[cfg(test)]
mod tests;

pub use client_core::policy;

pub use callbacks::{ConnectionEvent, OrderCallbacks, EXPIRED_NOTICE};
pub use frames::{handle_frame, handle_history};
pub use link::{Incoming, Link, LiveTransport, Transport};
pub(crate) use log::warn;
pub use renew::{Renew, Tokens};
pub use service::{subscribe_to_orders, Subscription};
pub use shared::{Shared, SharedLink};
#[cfg(any(test, feature = "test-support"))]
pub use test_link::{TestServer, TestTransport, TestWire};

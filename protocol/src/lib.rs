//! The wire format of the realtime order system, shared by the relay (`server`)
//! and the browser client (`client`). This crate is the only place that knows
//! the JSON shape of anything that crosses a process boundary; see
//! `PROTOCOL.md` (the external contract) and `docs/ARCHITECTURE.md`.
//!
//! Layout:
//! - [`time`]: RFC 3339 timestamps as milliseconds, parsed and printed without
//!   a date library (the client ships as WASM, every KB counts).
//! - [`order`]: the `Order` read model, its items, statuses, roles and the
//!   human texts attached to a status.
//! - [`kafka`]: what the order service publishes (§1 of the contract) and the
//!   validating decoder that turns a raw message into a typed [`kafka::Input`]
//!   or a typed [`kafka::Reject`].
//! - [`book`]: the order book: how order events merge (status, times,
//!   newest first), one implementation for the relay and the browser.
//! - [`checkpoint`]: the records of the relays' state topic (checkpoints).
//! - [`error`]: the closed set of error codes (frames, HTTP, metrics).
//! - [`frames`]: WebSocket frames (§3): one closed enum per direction.
//! - [`http`]: HTTP request and response bodies (§2, §4).
//! - [`raw_json`]: JSON carried without being read (shipping addresses).
//! - [`report`]: what a browser reports about delivery (clock, latencies).
//! - `fixtures` (tests and the `fixtures` feature only): builders of orders
//!   and events for the relay's and the client's tests.
#![forbid(unsafe_code)]

pub mod book;
pub mod checkout;
pub mod checkpoint;
pub mod demo;
pub mod error;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod frames;
pub mod http;
pub mod kafka;
pub mod limits;
pub mod order;
pub mod raw_json;
pub mod report;
pub mod time;

pub use error::ErrorCode;
pub use frames::{ClientEvent, FrameError, ServerEvent};
pub use kafka::{Input, OrderCancellation, OrderEvent, OrderUpdate, Reject};
pub use order::{
    Notification, NotificationType, Order, OrderItem, OrderStatus, Priority, Role, StatusAt,
};
pub use raw_json::RawJson;
pub use time::Timestamp;

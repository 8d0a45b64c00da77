//! The relay: consumes the order topics from Kafka, keeps a read model of
//! every order, and pushes each event to the WebSocket connections allowed to
//! see it. It also serves the order HTTP API, health, readiness and metrics.
//!
//! Layout (pure core first, IO adapters after):
//! - [`config`]: settings from flags and environment, validated once.
//! - [`auth`]: JWT verification and issuing; the only reader of tokens.
//! - [`commands`]: checkout, cancel and status change as pure functions
//!   of the current order and the time; the clock (pure but for `now`).
//! - [`cursor`]: Kafka-position cursors and their opaque text form.
//! - [`model`]: the read model: orders, owners, current status (pure).
//! - [`history`]: recent events and resume-by-cursor selection (pure).
//! - [`watchdog`]: when a consumer counts as stalled, and when as unhealthy (pure).
//! - [`queue`]: a connection's bounded, collapsing outbound queue.
//! - [`relay_state`]: read model + history + position as plain data:
//!   `apply(event) -> Fanout`, `answer(viewer, cursor) -> replay | snapshot`,
//!   eviction of finished orders, a checkpoint's save and restore.
//! - [`registry`]: the live connections and delivery to their queues.
//! - [`parking`]: subscriptions waiting for the relay to load or catch up
//!   (given the time, never reading it).
//! - [`hub`]: the three behind one lock, readiness, metrics: a thin shell.
//! - [`limits`]: connection caps and the client frame rate (pure).
//! - [`drain`]: graceful drain on SIGTERM: whether the relay is draining.
//! - [`serve`]: the HTTP server loop, with header and keep-alive timeouts.
//! - [`metrics`]: counters and gauges, Prometheus text.
//! - [`kafka`]: the rdkafka adapters: topic set-up, the reader thread and its
//!   supervisor, the producer for commands, checkpoints in the state topic
//!   (the elected writer, the read at start), the embedded broker.
//! - [`ws`]: the WebSocket endpoint: one task per connection.
//! - [`http`]: the HTTP API, health, readiness and metrics routes, errors.
//! - [`sink`]: the `EventSink` commands publish through (Kafka, or a
//!   recording sink in tests).
//! - [`state`]: `AppState`, what every handler shares (a leaf).
//! - [`simulator`]: the demo's stand-in order service (`--demo` only).
//! - [`app`]: wires it all together and runs until shutdown.
#![forbid(unsafe_code)]

pub mod app;
pub mod auth;
pub mod commands;
pub mod config;
pub mod cursor;
pub mod drain;
#[cfg(test)]
mod fixtures;
pub mod history;
pub mod http;
pub mod hub;
pub mod kafka;
pub mod limits;
pub mod metrics;
pub mod model;
pub mod parking;
pub mod queue;
pub mod registry;
pub mod relay_state;
pub mod serve;
pub mod simulator;
pub mod sink;
pub mod state;
pub mod watchdog;
pub mod ws;

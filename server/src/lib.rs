//! The relay: consumes the order topics from Kafka, keeps a read model of
//! every order, and pushes each event to the WebSocket connections allowed to
//! see it. It also serves the order HTTP API, health, readiness and metrics.
//!
//! The folders are the layers; imports only run down this list
//! (`.ci/check-layers` checks it):
//! - [`app`]: wires it all together and runs until shutdown.
//! - [`web`]: the HTTP API, the WebSocket endpoint, auth, drain, the server.
//! - [`demo`]: the demo's stand-in order service (`--demo` only).
//! - [`kafka`]: the rdkafka adapters: topics, the reader and its supervisor,
//!   the producer, checkpoints (reader and elected writer), the embedded broker.
//! - [`fanout`]: the hub (the core's state + connections behind one lock),
//!   the registry of connections, their bounded queues.
//! - [`core`]: pure: viewer rule, cursor, read model, history, relay state,
//!   delivery frames, parking, commands, limits, watchdog. No IO, no clock.
//!
//! Beside them, used by the layers above `core`: [`config`] (settings,
//! validated once), [`metrics`] (counters, Prometheus text), [`clock`] (the
//! one clock), [`sink`] (the `EventSink` commands publish through).
#![forbid(unsafe_code)]

pub mod app;
pub mod clock;
pub mod config;
pub mod core;
pub(crate) mod demo;
pub(crate) mod fanout;
#[cfg(test)]
mod fixtures;
pub mod kafka;
pub mod metrics;
pub(crate) mod sink;
pub mod web;

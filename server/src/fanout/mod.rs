//! Fan-out: where consumed events meet connections. The [`hub`] holds the
//! core's `RelayState`, the [`registry`] of connections and the parked
//! subscriptions behind one lock; each connection has a bounded [`queue`].
//! Uses the core; used by the Kafka reader and the web layer.

pub mod hub;
pub mod queue;
pub mod registry;

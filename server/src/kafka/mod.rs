//! The Kafka adapters. Everything that talks to a broker lives here; what to
//! do with a message is the hub's business.
//!
//! - [`topics`]: creating missing topics and listing their partitions.
//! - [`consumer`]: the reader: a consumer polled on its own thread, reading
//!   every partition of the four topics into the hub.
//! - [`supervisor`]: lag, readiness, and the watchdog that replaces a reader
//!   that stalls or dies.
//! - [`producer`]: publishes the events of HTTP commands, acknowledged.
//! - [`checkpoint_reader`]: the newest complete checkpoint in the state topic, read at start.
//! - [`checkpoint_writer`]: the relay elected to write them, and the writing.
//! - [`checkpoint_seal`]: the HMAC that proves a state record is a relay's.
//! - [`embedded`]: librdkafka's mock cluster, for `relay --demo` with no broker.

pub(crate) mod checkpoint_reader;
pub mod checkpoint_seal;
pub(crate) mod checkpoint_writer;
pub(crate) mod consumer;
pub mod embedded;
pub(crate) mod producer;
pub(crate) mod supervisor;
pub(crate) mod topics;

use std::time::Duration;

use rdkafka::ClientConfig;

/// How long a metadata or admin request may take before it counts as failed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The client settings every adapter starts from.
pub fn client_config(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        // Small requests (a fetch, one event) must not wait for Nagle's
        // algorithm: that alone adds tens of milliseconds of latency.
        .set("socket.nagle.disable", "true")
        .set("log_level", "4");
    config
}

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
//! - [`status`]: what the clients say went wrong (for `/readyz` and the log).
//! - [`embedded`]: librdkafka's mock cluster, for `relay --demo` with no broker.

pub(crate) mod checkpoint_reader;
pub mod checkpoint_seal;
pub(crate) mod checkpoint_writer;
pub(crate) mod consumer;
pub mod embedded;
pub(crate) mod producer;
pub mod status;
pub(crate) mod supervisor;
pub(crate) mod topics;

use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientConfig;

use crate::config::KafkaClient;
use status::{KafkaStatus, RelayContext};

/// A consumer of the relay (its errors reported to the [`KafkaStatus`]).
pub type RelayConsumer = rdkafka::consumer::BaseConsumer<RelayContext>;
/// A producer of the relay.
pub type RelayProducer = rdkafka::producer::FutureProducer<RelayContext>;

/// How long a metadata or admin request may take before it counts as failed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How every client of the relay reaches Kafka: the brokers, the connection
/// properties (TLS, SASL, `--kafka-config`), and the status their errors are
/// reported to.
#[derive(Debug, Clone)]
pub struct Connection {
    brokers: String,
    client: KafkaClient,
    pub status: Arc<KafkaStatus>,
}

impl Connection {
    pub fn new(brokers: &str, client: &KafkaClient, status: Arc<KafkaStatus>) -> Connection {
        Connection {
            brokers: brokers.to_owned(),
            client: client.clone(),
            status,
        }
    }

    /// The client settings every adapter starts from; each then sets what
    /// its own job needs (those settings win over `--kafka-config`).
    pub fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            // Small requests (a fetch, one event) must not wait for Nagle's
            // algorithm: that alone adds tens of milliseconds of latency.
            .set("socket.nagle.disable", "true")
            .set("log_level", "4");
        for property in self.client.properties() {
            config.set(&property.key, &property.value);
        }
        config
    }

    /// The context every client is created with (errors to [`Self::status`]).
    pub fn context(&self) -> RelayContext {
        RelayContext {
            status: Arc::clone(&self.status),
        }
    }

    /// One line for the start-up log (no secret).
    pub fn describe(&self) -> String {
        format!("{} ({})", self.brokers, self.client.describe())
    }
}

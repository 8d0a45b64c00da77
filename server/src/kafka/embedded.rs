//! The embedded broker for `relay --demo` without `KAFKA_BROKERS`:
//! librdkafka's mock cluster, listening on a random loopback port. It speaks
//! the Kafka protocol to this process and to others, and lives as long as
//! this process. It cannot create topics through the admin API, so the
//! topics are created here directly.

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

/// A running mock cluster. Keep it alive for as long as the relay runs.
pub struct EmbeddedBroker {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl EmbeddedBroker {
    pub fn start(topics: &[&str], partitions: i32) -> anyhow::Result<EmbeddedBroker> {
        let cluster = MockCluster::new(1)?;
        for topic in topics {
            cluster.create_topic(topic, partitions, 1)?;
        }
        Ok(EmbeddedBroker { cluster })
    }

    /// The `host:port` list to give Kafka clients.
    pub fn bootstrap_servers(&self) -> String {
        self.cluster.bootstrap_servers()
    }
}

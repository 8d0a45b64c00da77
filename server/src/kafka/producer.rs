//! The producer behind the HTTP commands: the relay's [`EventSink`]. A command answers 2xx only after
//! the broker acknowledged its event; when the broker cannot be reached in
//! time the command fails and nothing is published.

use std::time::Duration;

use protocol::kafka::OrderEvent;
use rdkafka::error::KafkaError;
use rdkafka::producer::FutureRecord;

use super::{Connection, RelayProducer};
use crate::config::Config;
use crate::sink::{EventSink, Publishing, SinkError};

/// How long a command waits for the broker's acknowledgement.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Publisher {
    producer: RelayProducer,
    created: String,
    updated: String,
    cancelled: String,
}

impl Publisher {
    pub fn new(config: &Config, connection: &Connection) -> Result<Publisher, KafkaError> {
        let producer = connection
            .config()
            .set("acks", "all")
            // With idempotence (the default), librdkafka's own retries never
            // write an event twice. The relay is safe without it too: a
            // repeated order.created is refused as a duplicate, and a
            // repeated status event changes nothing.
            .set(
                "enable.idempotence",
                if config.kafka_idempotence {
                    "true"
                } else {
                    "false"
                },
            )
            .set("linger.ms", "0")
            .set(
                "message.timeout.ms",
                DELIVERY_TIMEOUT.as_millis().to_string(),
            )
            .create_with_context(connection.context())?;
        Ok(Publisher {
            producer,
            created: config.topic_created.clone(),
            updated: config.topic_updated.clone(),
            cancelled: config.topic_cancelled.clone(),
        })
    }

    /// Publishes an order event keyed by its order id; resolves once acknowledged.
    pub async fn publish(&self, event: &OrderEvent) -> Result<(), KafkaError> {
        let topic = match event {
            OrderEvent::Created(_) => &self.created,
            OrderEvent::Updated(_) => &self.updated,
            OrderEvent::Cancelled(_) => &self.cancelled,
        };
        self.send(topic, event.order_id(), &event.to_json()).await
    }

    async fn send(&self, topic: &str, key: &str, payload: &str) -> Result<(), KafkaError> {
        let record = FutureRecord::to(topic).key(key).payload(payload);
        self.producer
            .send(record, DELIVERY_TIMEOUT)
            .await
            .map(|_| ())
            .map_err(|(e, _)| e)
    }
}

impl EventSink for Publisher {
    fn publish<'a>(&'a self, event: &'a OrderEvent) -> Publishing<'a> {
        Box::pin(async move {
            Publisher::publish(self, event)
                .await
                .map_err(|e| SinkError(e.to_string()))
        })
    }
}

//! Topic set-up: create what is missing (where the broker allows it) and list
//! partitions.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::Consumer;
use rdkafka::types::RDKafkaErrorCode;

use super::{Connection, RelayConsumer, REQUEST_TIMEOUT};

/// Creates each topic that does not exist yet, replicated as the broker's
/// `default.replication.factor` says. A broker that refuses (no rights, no
/// CreateTopics support) or cannot be reached is logged, not fatal: the
/// topics may be managed by someone else, and [`partitions`] waits for them.
/// `settings` are topic configs (`retention.ms`…) for the topics it creates.
pub async fn ensure(
    connection: &Connection,
    topics: &[&str],
    partitions: i32,
    settings: &[(&str, &str)],
) {
    let admin: AdminClient<_> = match connection
        .config()
        .create_with_context(connection.context())
    {
        Ok(admin) => admin,
        Err(e) => {
            tracing::warn!(
                "cannot create a Kafka admin client ({e}); expecting the topics to exist"
            );
            return;
        }
    };
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|name| {
            settings.iter().fold(
                NewTopic::new(name, partitions, TopicReplication::Fixed(-1)),
                |topic, (key, value)| topic.set(key, value),
            )
        })
        .collect();
    let options = AdminOptions::new()
        .operation_timeout(Some(REQUEST_TIMEOUT))
        .request_timeout(Some(REQUEST_TIMEOUT));
    match admin.create_topics(&new, &options).await {
        Ok(results) => {
            for result in results {
                match result {
                    Ok(name) => tracing::info!(topic = %name, partitions, "created topic"),
                    Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                    Err((name, code)) => {
                        tracing::warn!(topic = %name, "could not create topic: {code}")
                    }
                }
            }
        }
        Err(e) => {
            tracing::warn!("broker refused CreateTopics ({e}); expecting the topics to exist")
        }
    }
}

/// Waits until the brokers answer a metadata request for `topic` (and it
/// exists): until then nothing else is worth asking.
pub async fn wait_for_brokers(connection: &Connection, topic: &str) {
    match connection
        .config()
        .create_with_context::<_, RelayConsumer>(connection.context())
    {
        Ok(probe) => {
            partitions(&probe, topic).await;
        }
        Err(e) => tracing::warn!("cannot create a Kafka client to wait for the brokers: {e}"),
    }
}

/// The partition ids of `topic`, waiting (with a log line every few tries)
/// until the topic exists and the broker answers.
pub async fn partitions(consumer: &RelayConsumer, topic: &str) -> Vec<i32> {
    let mut attempt = 0u32;
    loop {
        match consumer.fetch_metadata(Some(topic), REQUEST_TIMEOUT) {
            Ok(metadata) => {
                if let Some(t) = metadata.topics().iter().find(|t| t.name() == topic) {
                    if t.error().is_none() && !t.partitions().is_empty() {
                        return t.partitions().iter().map(|p| p.id()).collect();
                    }
                }
                if attempt.is_multiple_of(10) {
                    tracing::warn!(topic, "topic does not exist yet; waiting for it");
                }
            }
            // Why is the Kafka status's business (one log line a cause).
            Err(e) => tracing::debug!(topic, "cannot read topic metadata: {e}; retrying"),
        }
        attempt += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

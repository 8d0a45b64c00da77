//! Topic set-up: create what is missing (where the broker allows it) and list
//! partitions.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use super::{client_config, REQUEST_TIMEOUT};

/// Creates each topic that does not exist yet. A broker that refuses (no
/// rights, no CreateTopics support) is logged, not fatal: the topics may be
/// managed by someone else, and [`partitions`] waits for them.
pub async fn ensure(brokers: &str, topics: &[&str], partitions: i32) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> = client_config(brokers).create()?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|name| NewTopic::new(name, partitions, TopicReplication::Fixed(1)))
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
    Ok(())
}

/// The partition ids of `topic`, waiting (with a log line every few tries)
/// until the topic exists and the broker answers.
pub async fn partitions<C: Consumer>(consumer: &C, topic: &str) -> Vec<i32> {
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
            Err(e) => {
                if attempt.is_multiple_of(10) {
                    tracing::warn!(topic, "cannot read topic metadata: {e}; retrying");
                }
            }
        }
        attempt += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

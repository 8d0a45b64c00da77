//! The consumer: reads every partition of the four topics, validates each
//! message and hands it to the hub; tracks lag and readiness.
//!
//! Each relay node must see every event (any node may hold any user's
//! connection), so partitions are assigned, not balanced through the group.
//! The order topics are read from the beginning at every start: that rebuilds
//! the read model and the history, and makes cursors from before a restart
//! valid after it. Notifications are live-only and read from the end.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use protocol::kafka::{decode, Input, TopicKind};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{client_config, topics, REQUEST_TIMEOUT};
use crate::config::Config;
use crate::cursor::{PartitionId, Pos};
use crate::hub::Hub;

/// One partition of an order topic, by name and by cursor id.
#[derive(Debug, Clone)]
struct OrderPartition {
    topic: String,
    partition: i32,
    id: PartitionId,
}

/// Assigns every partition and starts the consume and lag loops.
pub async fn start(
    config: &Config,
    brokers: &str,
    hub: Arc<Hub>,
    shutdown: watch::Receiver<bool>,
) -> Result<Vec<JoinHandle<()>>, KafkaError> {
    let consumer: StreamConsumer = client_config(brokers)
        .set("group.id", &config.kafka_group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        // Deliver a message as soon as it is there: latency matters more than
        // fetch batching for a relay.
        .set("fetch.wait.max.ms", config.kafka_fetch_wait_ms.to_string())
        .set("fetch.error.backoff.ms", "100")
        .create()?;

    let mut assignment = TopicPartitionList::new();
    let mut order_partitions = Vec::new();
    let mut kinds = HashMap::new();
    for (name, kind) in config.topics() {
        kinds.insert(name.to_owned(), kind);
        for partition in topics::partitions(&consumer, name).await {
            let offset = match PartitionId::new(kind, partition) {
                Some(id) => {
                    order_partitions.push(OrderPartition {
                        topic: name.to_owned(),
                        partition,
                        id,
                    });
                    Offset::Beginning
                }
                None => Offset::End,
            };
            assignment.add_partition_offset(name, partition, offset)?;
        }
    }
    consumer.assign(&assignment)?;
    tracing::info!(
        partitions = assignment.count(),
        "Kafka consumer connected successfully; subscribed to topics"
    );

    let consumer = Arc::new(consumer);
    let limit = config.max_message_bytes;
    let consume = tokio::spawn(consume(
        Arc::clone(&consumer),
        Arc::clone(&hub),
        kinds,
        limit,
        shutdown.clone(),
    ));
    let lag = tokio::spawn(track_lag(consumer, hub, order_partitions, shutdown));
    Ok(vec![consume, lag])
}

async fn consume(
    consumer: Arc<StreamConsumer>,
    hub: Arc<Hub>,
    kinds: HashMap<String, TopicKind>,
    limit: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            message = consumer.recv() => match message {
                Ok(message) => handle(&hub, &kinds, limit, &message),
                Err(e) => {
                    tracing::warn!("Kafka consumer error: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}

/// Validates one message and routes it. Total: a bad message is logged with
/// its topic, partition and offset, counted, and skipped.
fn handle(
    hub: &Hub,
    kinds: &HashMap<String, TopicKind>,
    limit: usize,
    message: &BorrowedMessage<'_>,
) {
    let (topic, partition, offset) = (message.topic(), message.partition(), message.offset());
    let Some(&kind) = kinds.get(topic) else {
        return;
    };
    hub.metrics().consumed(kind);
    let pos = PartitionId::new(kind, partition).map(|part| Pos { part, offset });
    match decode(kind, message.payload().unwrap_or_default(), limit) {
        Ok(Input::Order(event)) => {
            tracing::info!(
                topic,
                partition,
                offset,
                "Order {} event received - OrderID: {}, Status: {}",
                event.frame_name().trim_start_matches("order:"),
                event.order_id(),
                event.status().as_str()
            );
            if let Some(pos) = pos {
                hub.apply_order(event, pos);
            }
        }
        Ok(Input::Notification {
            user_id,
            notification,
        }) => {
            tracing::info!(topic, partition, offset, "Notification for user {user_id}");
            hub.notify(&user_id, &notification);
        }
        Err(reject) => {
            tracing::warn!(
                topic,
                partition,
                offset,
                reason = reject.reason(),
                "rejected Kafka message: {reject}"
            );
            hub.metrics().rejected(&reject);
            if let Some(pos) = pos {
                hub.advance(pos);
            }
        }
    }
}

/// Compares the relay's position with the brokers' high watermarks: sets the
/// lag gauge, and readiness. Ready means keeping up: nothing left to read, or
/// everything read that was in the log at the previous check (under steady
/// traffic a few messages are always in flight; they must not flap
/// `/readyz`). Checks often until ready, then less often. A broker that
/// cannot be asked makes the relay not ready: it cannot know it is caught up.
async fn track_lag(
    consumer: Arc<StreamConsumer>,
    hub: Arc<Hub>,
    partitions: Vec<OrderPartition>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut previous: Option<Vec<(PartitionId, i64)>> = None;
    loop {
        let probe = Arc::clone(&consumer);
        let list = partitions.clone();
        // The end of each log as the broker lists it. (tansu 0.6 lists the
        // start of its newest record batch, so it may say "caught up" a few
        // messages early; nothing is lost by that: a snapshot and the live
        // stream join without a gap, and a resume waits for its cursor. See
        // docs/DECISIONS.md.)
        let highs = tokio::task::spawn_blocking(move || {
            list.iter()
                .map(|p| {
                    probe
                        .fetch_watermarks(&p.topic, p.partition, REQUEST_TIMEOUT)
                        .map(|(low, high)| (p.id, low, high))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await;
        let ready = match highs {
            Ok(Ok(marks)) => {
                let lows: Vec<_> = marks.iter().map(|(id, low, _)| (*id, *low)).collect();
                hub.log_starts(&lows);
                let highs: Vec<_> = marks.iter().map(|(id, _, high)| (*id, *high)).collect();
                let position = hub.position();
                let lag: i64 = highs
                    .iter()
                    .map(|(id, high)| (high - position.next(*id)).max(0))
                    .sum();
                hub.metrics()
                    .consumer_lag
                    .store(lag, std::sync::atomic::Ordering::Relaxed);
                let kept_up = previous.as_ref().is_some_and(|before| {
                    before.iter().all(|(id, high)| position.next(*id) >= *high)
                });
                previous = Some(highs);
                lag == 0 || kept_up
            }
            Ok(Err(e)) => {
                tracing::warn!("cannot read high watermarks: {e}");
                previous = None;
                false
            }
            Err(_) => {
                previous = None;
                false
            }
        };
        if ready != hub.is_ready() {
            tracing::info!(ready, "readiness changed");
        }
        hub.set_ready(ready);
        let pause = if ready {
            Duration::from_secs(2)
        } else {
            Duration::from_millis(200)
        };
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

//! The checkpoint writer: one relay, elected through a Kafka consumer group
//! on the state topic, writes a checkpoint every interval (see
//! [`super::checkpoint_reader`] for the format and the reader).

use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::checkpoint::{encode_parts, Commit, StateRecord};
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use tokio::sync::watch;

use super::checkpoint_reader::PART_BYTES;
use super::checkpoint_seal::{self, SealKey};
use super::{Connection, RelayConsumer, RelayProducer, REQUEST_TIMEOUT};
use crate::fanout::hub::Hub;
use crate::metrics::Metrics;

/// Where and how often the elected writer writes.
#[derive(Debug, Clone)]
pub struct WriterSettings {
    pub connection: Connection,
    pub topic: String,
    /// The consumer group whose single member with the partition writes.
    pub group: String,
    pub interval: Duration,
    /// Names this relay's checkpoints (ids are `<writer>-<n>`).
    pub writer: String,
    /// Seals every record (see [`super::checkpoint_seal`]).
    pub key: SealKey,
}

/// Writes a checkpoint every `interval` while this relay holds the state
/// topic's partition in the writers' group, until shutdown. Leaving the
/// group at shutdown hands the job over at once.
pub async fn run_writer(
    settings: WriterSettings,
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let (consumer, producer) = match clients(&settings) {
        Ok(clients) => clients,
        Err(e) => {
            tracing::error!(
                "checkpoint writer cannot start: {e}; this relay will not write checkpoints"
            );
            return;
        }
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last = Instant::now();
    let mut written = 0u64;
    let mut writer = false;
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = tick.tick() => {}
        }
        // Serves the group protocol (joins, rebalances); the partition is
        // paused, so no record is fetched. Bounded: while the broker is away
        // every poll may return an error, and this must not spin.
        for _ in 0..64 {
            match consumer.poll(Duration::ZERO) {
                None => break,
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::debug!("checkpoint writer's group client: {e}");
                    break;
                }
            }
        }
        let assignment = consumer.assignment().unwrap_or_default();
        let elected = assignment.count() > 0;
        if elected {
            let _ = consumer.pause(&assignment);
        }
        if elected != writer {
            writer = elected;
            metrics.checkpoint_writer.set(i64::from(writer));
            tracing::info!(
                writer,
                "checkpoint writer role {}",
                if writer { "taken" } else { "released" }
            );
        }
        if writer && hub.is_ready() && last.elapsed() >= settings.interval {
            last = Instant::now();
            written += 1;
            let id = format!("{}-{written}", settings.writer);
            match write(&settings, &producer, &hub, id).await {
                Ok(()) => {
                    metrics.checkpoints.inc();
                }
                Err(e) => {
                    metrics.checkpoint_failures.inc();
                    tracing::warn!("checkpoint not written: {e}; retrying at the next interval");
                }
            }
        }
    }
    metrics.checkpoint_writer.set(0);
    // Leaving the group hands the job over at once. librdkafka's close can
    // block for good while the broker is away, so it runs on a thread of its
    // own, waited for 2 s at most: not a runtime's blocking thread, which the
    // runtime waits for when it is dropped (the process would never exit).
    let (left, leave) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("checkpoint-writer-leave".into())
        .spawn(move || {
            consumer.unsubscribe();
            drop(consumer);
            let _ = left.send(());
        });
    if spawned.is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(2), leave).await;
    }
}

fn clients(settings: &WriterSettings) -> Result<(RelayConsumer, RelayProducer), KafkaError> {
    let consumer: RelayConsumer = settings
        .connection
        .config()
        .set("group.id", &settings.group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "latest")
        // A dead writer is replaced within about this long.
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "2000")
        .create_with_context(settings.connection.context())?;
    consumer.subscribe(&[&settings.topic])?;
    let producer: RelayProducer = settings
        .connection
        .config()
        .set("acks", "all")
        .set("linger.ms", "5")
        // Checkpoints are repetitive JSON: a fraction of the bytes to store
        // and to read back at start.
        .set("compression.type", "lz4")
        .set("message.timeout.ms", "30000")
        .create_with_context(settings.connection.context())?;
    Ok((consumer, producer))
}

/// The header that carries a record's seal.
fn sealed(seal: &str) -> OwnedHeaders {
    OwnedHeaders::new().insert(Header {
        key: checkpoint_seal::HEADER,
        value: Some(seal),
    })
}

/// One checkpoint: the parts, then the commit that names them.
async fn write(
    settings: &WriterSettings,
    producer: &RelayProducer,
    hub: &Hub,
    id: String,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let saved = hub.save();
    let count = saved.orders.len();
    let (position, history_from) = (saved.position.to_string(), saved.history_from.to_string());
    let encode_id = id.clone();
    let parts = tokio::task::spawn_blocking(move || {
        encode_parts(
            &encode_id,
            &saved.orders,
            &saved.early,
            &saved.history,
            &saved.evicted,
            PART_BYTES,
        )
    })
    .await?;
    let key = format!("part:{id}");
    let mut first_offset = None;
    let mut bytes = 0;
    for part in &parts {
        bytes += part.len();
        let seal = settings.key.seal(part.as_bytes());
        let record = FutureRecord::to(&settings.topic)
            .key(&key)
            .payload(part)
            .headers(sealed(&seal))
            .partition(0);
        let delivered = producer
            .send(record, REQUEST_TIMEOUT)
            .await
            .map_err(|(e, _)| e)?;
        first_offset.get_or_insert(delivered.offset);
    }
    let commit = StateRecord::Commit(Commit {
        id: id.clone(),
        parts: u32::try_from(parts.len()).unwrap_or(u32::MAX),
        first_offset: first_offset.unwrap_or(0),
        position,
        history_from,
        taken_at: crate::clock::now(),
        orders: count as u64,
    })
    .to_json();
    let commit_key = format!("commit:{id}");
    let seal = settings.key.seal(commit.as_bytes());
    let record = FutureRecord::to(&settings.topic)
        .key(&commit_key)
        .payload(&commit)
        .headers(sealed(&seal))
        .partition(0);
    producer
        .send(record, REQUEST_TIMEOUT)
        .await
        .map_err(|(e, _)| e)?;
    tracing::info!(
        checkpoint = id,
        orders = count,
        parts = parts.len(),
        bytes,
        ms = started.elapsed().as_millis() as u64,
        "checkpoint written"
    );
    Ok(())
}

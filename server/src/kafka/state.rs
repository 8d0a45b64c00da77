//! The state topic (`--topic-state`, one partition): checkpoints of the
//! relay's state, so that a relay starts from the newest one and reads only
//! the order events after it, however long the history behind it, and an
//! open order outlives Kafka's retention of its `order.created`
//! (docs/DEPLOY.md, "State and start-up").
//!
//! - [`load`]: the newest complete checkpoint (its commit and the parts it
//!   names), read at start before the consumer.
//! - [`Writer`]: one relay writes, elected by Kafka's own group
//!   coordination: every relay joins one consumer group on the state topic,
//!   and the member the single partition is assigned to is the writer. If it
//!   dies, the group gives the partition, and the job, to another.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::checkpoint::{encode_parts, Commit, Part, StateRecord};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::sync::watch;

use super::{client_config, REQUEST_TIMEOUT};
use crate::cursor::Cursor;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::relay_state::Saved;

/// The largest part written, in bytes of JSON: well under Kafka's default
/// 1 MiB message limit.
pub const PART_BYTES: usize = 256 * 1024;

/// How far back, in messages, each step of the search for the newest commit
/// looks.
const SEARCH_WINDOW: i64 = 256;

/// Why no checkpoint could be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("Kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("checkpoint {id} names {expected} parts, {found} were found")]
    MissingParts {
        id: String,
        expected: u32,
        found: usize,
    },
}

/// A checkpoint as read back.
#[derive(Debug)]
pub struct Loaded {
    pub commit: Commit,
    pub saved: Saved,
}

/// Reads the newest complete checkpoint in `topic`; `None` when there is
/// none (a new shop, or only checkpoints whose writer died before the
/// commit). Blocking: run it off the async runtime.
pub fn load(brokers: &str, topic: &str, group: &str) -> Result<Option<Loaded>, LoadError> {
    let consumer: BaseConsumer = client_config(brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("max.partition.fetch.bytes", "8388608")
        .set("fetch.max.bytes", "67108864")
        .set("fetch.wait.max.ms", "10")
        .set("queued.max.messages.kbytes", "32768")
        .create()?;
    let (low, high) = consumer.fetch_watermarks(topic, 0, REQUEST_TIMEOUT)?;
    if high <= low {
        return Ok(None);
    }
    // Usually the last record is a commit: read it alone.
    let last = read(&consumer, topic, high - 1, high, |_| true)?;
    if let Some((offset, StateRecord::Commit(commit))) = last.into_iter().next() {
        return assemble(&consumer, topic, offset, commit).map(Some);
    }
    let mut end = high - 1;
    while end > low {
        let start = (end - SEARCH_WINDOW).max(low);
        let commit = read(&consumer, topic, start, end, |key| {
            key.starts_with(b"commit:")
        })?
        .into_iter()
        .rev()
        .find_map(|(offset, record)| match record {
            StateRecord::Commit(commit) => Some((offset, commit)),
            StateRecord::Part(_) => None,
        });
        if let Some((offset, commit)) = commit {
            return assemble(&consumer, topic, offset, commit).map(Some);
        }
        end = start;
    }
    Ok(None)
}

/// The parts a commit (at `at`) names, joined.
fn assemble(
    consumer: &BaseConsumer,
    topic: &str,
    at: i64,
    commit: Commit,
) -> Result<Loaded, LoadError> {
    let key = format!("part:{}", commit.id);
    let mut parts: BTreeMap<u32, Part> = BTreeMap::new();
    for (_, record) in read(consumer, topic, commit.first_offset, at, |k| {
        k == key.as_bytes()
    })? {
        if let StateRecord::Part(part) = record {
            if part.id == commit.id {
                parts.insert(part.index, part);
            }
        }
    }
    if parts.len() != commit.parts as usize {
        return Err(LoadError::MissingParts {
            id: commit.id,
            expected: commit.parts,
            found: parts.len(),
        });
    }
    let mut saved = Saved {
        position: Cursor::parse(&commit.position).unwrap_or_default(),
        history_from: Cursor::parse(&commit.history_from).unwrap_or_default(),
        orders: Vec::with_capacity(usize::try_from(commit.orders).unwrap_or(0)),
        ..Saved::default()
    };
    for part in parts.into_values() {
        saved.orders.extend(part.orders);
        saved.early.extend(part.early);
        saved.history.extend(part.history);
    }
    Ok(Loaded { commit, saved })
}

/// The records in `[start, end)` whose key passes `wanted` (others are
/// skipped without being decoded). Decoding runs on threads of their own
/// while this one fetches: a big checkpoint's start-up is the longer of the
/// two, not their sum.
fn read(
    consumer: &BaseConsumer,
    topic: &str,
    start: i64,
    end: i64,
    wanted: impl Fn(&[u8]) -> bool,
) -> Result<Vec<(i64, StateRecord)>, KafkaError> {
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(topic, 0, Offset::Offset(start))?;
    consumer.assign(&assignment)?;
    // Two decoders, records dealt to them in turn; their outputs are merged
    // back into offset order.
    let (senders, inputs): (Vec<_>, Vec<_>) = (0..DECODERS)
        .map(|_| std::sync::mpsc::sync_channel::<(i64, Vec<u8>)>(8))
        .unzip();
    std::thread::scope(|scope| {
        let decoders: Vec<_> = inputs
            .into_iter()
            .map(|input| {
                scope.spawn(move || {
                    let mut out = Vec::new();
                    for (offset, payload) in input {
                        match StateRecord::from_json(&payload) {
                            Ok(record) => out.push((offset, record)),
                            Err(e) => {
                                tracing::warn!(offset, "unreadable state record skipped: {e}")
                            }
                        }
                    }
                    out
                })
            })
            .collect();
        let fetched = fetch(consumer, end, &wanted, &senders);
        drop(senders);
        let mut decoded: Vec<(i64, StateRecord)> = decoders
            .into_iter()
            .flat_map(|decoder| decoder.join().unwrap_or_default())
            .collect();
        decoded.sort_unstable_by_key(|(offset, _)| *offset);
        fetched.map(|()| decoded)
    })
}

/// Threads decoding checkpoint parts at start.
const DECODERS: usize = 2;

/// Polls records up to `end`, handing the wanted ones' payloads on.
fn fetch(
    consumer: &BaseConsumer,
    end: i64,
    wanted: impl Fn(&[u8]) -> bool,
    decoders: &[std::sync::mpsc::SyncSender<(i64, Vec<u8>)>],
) -> Result<(), KafkaError> {
    let mut turn = 0;
    // Gives up after this long without a record (not after a total time:
    // a big checkpoint takes as long as it takes).
    let mut quiet_until = Instant::now() + REQUEST_TIMEOUT;
    while Instant::now() < quiet_until {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                quiet_until = Instant::now() + REQUEST_TIMEOUT;
                let offset = message.offset();
                if offset >= end {
                    return Ok(());
                }
                if message.key().is_some_and(&wanted) {
                    let payload = message.payload().unwrap_or_default().to_vec();
                    turn = (turn + 1) % decoders.len();
                    if decoders[turn].send((offset, payload)).is_err() {
                        return Ok(());
                    }
                }
                if offset + 1 >= end {
                    return Ok(());
                }
            }
            Some(Err(KafkaError::PartitionEOF(_))) => return Ok(()),
            Some(Err(e)) => return Err(e),
            None => {}
        }
    }
    Ok(())
}

/// Where and how often the elected writer writes.
#[derive(Debug, Clone)]
pub struct WriterSettings {
    pub brokers: String,
    pub topic: String,
    /// The consumer group whose single member with the partition writes.
    pub group: String,
    pub interval: Duration,
    /// Names this relay's checkpoints (ids are `<writer>-<n>`).
    pub writer: String,
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
            metrics
                .checkpoint_writer
                .store(i64::from(writer), std::sync::atomic::Ordering::Relaxed);
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
                    metrics
                        .checkpoints
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Err(e) => {
                    metrics
                        .checkpoint_failures
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::warn!("checkpoint not written: {e}; retrying at the next interval");
                }
            }
        }
    }
    metrics
        .checkpoint_writer
        .store(0, std::sync::atomic::Ordering::Relaxed);
    // Leaving the group hands the job over at once; it can block while the
    // broker is away, so not on the runtime's threads, and not for long.
    let leave = tokio::task::spawn_blocking(move || {
        consumer.unsubscribe();
        drop(consumer);
    });
    let _ = tokio::time::timeout(Duration::from_secs(2), leave).await;
}

fn clients(settings: &WriterSettings) -> Result<(BaseConsumer, FutureProducer), KafkaError> {
    let consumer: BaseConsumer = client_config(&settings.brokers)
        .set("group.id", &settings.group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "latest")
        // A dead writer is replaced within about this long.
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "2000")
        .create()?;
    consumer.subscribe(&[&settings.topic])?;
    let producer: FutureProducer = client_config(&settings.brokers)
        .set("acks", "all")
        .set("linger.ms", "5")
        // Checkpoints are repetitive JSON: a fraction of the bytes to store
        // and to read back at start.
        .set("compression.type", "lz4")
        .set("message.timeout.ms", "30000")
        .create()?;
    Ok((consumer, producer))
}

/// One checkpoint: the parts, then the commit that names them.
async fn write(
    settings: &WriterSettings,
    producer: &FutureProducer,
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
            PART_BYTES,
        )
    })
    .await?;
    let key = format!("part:{id}");
    let mut first_offset = None;
    let mut bytes = 0;
    for part in &parts {
        bytes += part.len();
        let record = FutureRecord::to(&settings.topic)
            .key(&key)
            .payload(part)
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
        taken_at: crate::commands::now(),
        orders: count as u64,
    })
    .to_json();
    let commit_key = format!("commit:{id}");
    let record = FutureRecord::to(&settings.topic)
        .key(&commit_key)
        .payload(&commit)
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

//! The state topic (`--topic-state`, one partition): checkpoints of the
//! relay's state, so that a relay starts from the newest one and reads only
//! the order events after it, however long the history behind it, and an
//! open order outlives Kafka's retention of its `order.created`
//! (docs/DEPLOY.md, "State and start-up").
//!
//! - [`load`]: the newest complete checkpoint (its commit and the parts it
//!   names), read at start before the consumer.
//! - [`super::checkpoint_writer`]: one relay writes, elected by Kafka's own
//!   group coordination: every relay joins one consumer group on the state
//!   topic, and the member the single partition is assigned to is the
//!   writer. If it dies, the group gives the partition, and the job, to
//!   another.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use protocol::checkpoint::{Commit, Part, StateRecord};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Message, Offset, TopicPartitionList};

use super::{client_config, REQUEST_TIMEOUT};
use crate::core::cursor::Cursor;
use crate::core::relay_state::Saved;

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

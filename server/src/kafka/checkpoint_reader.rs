//! The state topic (`--topic-state`, one partition): checkpoints of the
//! relay's state, so that a relay starts from the newest one and reads only
//! the order events after it, however long the history behind it, and an
//! open order outlives Kafka's retention of its `order.created`
//! (docs/DEPLOY.md, "State and start-up").
//!
//! - [`load`]: the newest sealed, complete checkpoint (its commit and the
//!   parts it names) whose position is within the order topics' logs, read
//!   at start before the consumer. Every record is input: unsealed ones are
//!   skipped unread ([`super::checkpoint_seal`]), counts are those of what
//!   was read, and a refused checkpoint falls back to the one before it.
//! - [`super::checkpoint_writer`]: one relay writes, elected by Kafka's own
//!   group coordination: every relay joins one consumer group on the state
//!   topic, and the member the single partition is assigned to is the
//!   writer. If it dies, the group gives the partition, and the job, to
//!   another.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use protocol::checkpoint::{Commit, Part, StateRecord};
use protocol::kafka::TopicKind;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::Headers;
use rdkafka::{Message, Offset, TopicPartitionList};

use super::checkpoint_seal::{self, SealKey};
use super::{Connection, RelayConsumer, REQUEST_TIMEOUT};
use crate::core::cursor::{Cursor, PartitionId};
use crate::core::relay_state::{RefusedCheckpoint, Saved};

/// The largest part written, in bytes of JSON: well under Kafka's default
/// 1 MiB message limit.
pub const PART_BYTES: usize = 256 * 1024;

/// How far back, in messages, each step of the search for the newest commit
/// looks.
const SEARCH_WINDOW: i64 = 256;

/// Why the state topic could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("Kafka: {0}")]
    Kafka(#[from] KafkaError),
}

/// A checkpoint as read back, checked.
#[derive(Debug)]
pub struct Loaded {
    pub commit: Commit,
    pub saved: Saved,
}

/// What reading the state topic found: the checkpoint to start from, if
/// any, and what was not trusted on the way.
#[derive(Debug, Default)]
pub struct Report {
    pub loaded: Option<Loaded>,
    /// Records without a valid seal (written by someone other than a relay
    /// with this key): skipped unread.
    pub unsealed: u64,
    /// Newer checkpoints that were refused, newest first, with why.
    pub refused: Vec<(String, RefusedCheckpoint)>,
}

/// Where to read checkpoints from, and what they must agree with.
pub struct Source<'a> {
    pub connection: &'a Connection,
    /// The state topic.
    pub topic: &'a str,
    pub group: &'a str,
    pub key: &'a SealKey,
    /// The order topics' names by kind: a checkpoint's position is checked
    /// against where their logs end.
    pub order_topics: &'a [(&'a str, TopicKind)],
}

/// Sealed complete checkpoints tried before giving up and reading the order
/// topics from the beginning.
const MAX_TRIES: usize = 8;

/// Reads the newest sealed, complete checkpoint in the state topic whose
/// position is within the order topics' logs; a refused one is reported and
/// the one before it is tried. `loaded` is `None` when there is none (a new
/// shop, only checkpoints whose writer died before the commit, or only
/// refused ones). Blocking: run it off the async runtime.
pub fn load(source: &Source<'_>) -> Result<Report, LoadError> {
    let consumer: RelayConsumer = source
        .connection
        .config()
        .set("group.id", source.group)
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("max.partition.fetch.bytes", "8388608")
        .set("fetch.max.bytes", "67108864")
        .set("fetch.wait.max.ms", "10")
        .set("queued.max.messages.kbytes", "32768")
        .create_with_context(source.connection.context())?;
    let mut report = Report::default();
    let (low, high) = consumer.fetch_watermarks(source.topic, 0, REQUEST_TIMEOUT)?;
    let log_ends = |part: PartitionId| {
        let kind = TopicKind::from_order_topic(part.topic)?;
        let (name, _) = source.order_topics.iter().find(|(_, k)| *k == kind)?;
        consumer
            .fetch_watermarks(name, part.partition, REQUEST_TIMEOUT)
            .ok()
            .map(|(_, high)| high)
    };
    let mut end = high;
    while end > low && report.refused.len() < MAX_TRIES {
        let Some((at, commit)) = newest_commit(&consumer, source, low, end, &mut report)? else {
            break;
        };
        let id = commit.id.clone();
        match assemble(&consumer, source, low, at, commit, &mut report)? {
            Ok(loaded) => match loaded.saved.check(loaded.commit.orders, &log_ends) {
                Ok(()) => {
                    report.loaded = Some(loaded);
                    break;
                }
                Err(refused) => report.refused.push((id, refused)),
            },
            Err(refused) => report.refused.push((id, refused)),
        }
        end = at;
    }
    Ok(report)
}

/// The newest sealed commit in `[low, end)`: the last record alone first
/// (usually a commit), then windows further back.
fn newest_commit(
    consumer: &RelayConsumer,
    source: &Source<'_>,
    low: i64,
    end: i64,
    report: &mut Report,
) -> Result<Option<(i64, Commit)>, KafkaError> {
    let mut window_end = end;
    let mut size = 1;
    while window_end > low {
        let start = (window_end - size).max(low);
        let read = read(consumer, source, start, window_end, |key| {
            key.starts_with(b"commit:")
        })?;
        report.unsealed += read.unsealed;
        let commit = read
            .records
            .into_iter()
            .rev()
            .find_map(|(offset, record)| match record {
                StateRecord::Commit(commit) => Some((offset, commit)),
                StateRecord::Part(_) => None,
            });
        if commit.is_some() {
            return Ok(commit);
        }
        window_end = start;
        size = SEARCH_WINDOW;
    }
    Ok(None)
}

/// The parts a commit (at `at`) names, joined; `Err(refused)` when they
/// are not all there.
fn assemble(
    consumer: &RelayConsumer,
    source: &Source<'_>,
    low: i64,
    at: i64,
    commit: Commit,
    report: &mut Report,
) -> Result<Result<Loaded, RefusedCheckpoint>, KafkaError> {
    let inconsistent = |what: &str| Ok(Err(RefusedCheckpoint::Inconsistent(what.into())));
    if commit.first_offset > at {
        return inconsistent("its first part is after its commit");
    }
    let (Some(position), Some(history_from)) = (
        Cursor::parse(&commit.position),
        Cursor::parse(&commit.history_from),
    ) else {
        return inconsistent("its position is not a cursor");
    };
    let key = format!("part:{}", commit.id);
    let mut parts: BTreeMap<u32, Part> = BTreeMap::new();
    let read = read(consumer, source, commit.first_offset.max(low), at, |k| {
        k == key.as_bytes()
    })?;
    report.unsealed += read.unsealed;
    for (_, record) in read.records {
        if let StateRecord::Part(part) = record {
            if part.id == commit.id && part.index < commit.parts {
                parts.insert(part.index, part);
            }
        }
    }
    if parts.len() != commit.parts as usize {
        return Ok(Err(RefusedCheckpoint::MissingParts {
            expected: commit.parts,
            found: parts.len(),
        }));
    }
    // Sized by what was read, never by what the commit claims.
    let mut saved = Saved {
        position,
        history_from,
        ..Saved::default()
    };
    for part in parts.into_values() {
        saved.orders.extend(part.orders);
        saved.early.extend(part.early);
        saved.history.extend(part.history);
    }
    Ok(Ok(Loaded { commit, saved }))
}

/// What one read of the state topic returned.
struct Read {
    records: Vec<(i64, StateRecord)>,
    unsealed: u64,
}

/// The records in `[start, end)` whose key passes `wanted` (others are
/// skipped without being decoded). Decoding runs on threads of their own
/// while this one fetches: a big checkpoint's start-up is the longer of the
/// two, not their sum.
fn read(
    consumer: &RelayConsumer,
    source: &Source<'_>,
    start: i64,
    end: i64,
    wanted: impl Fn(&[u8]) -> bool,
) -> Result<Read, KafkaError> {
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(source.topic, 0, Offset::Offset(start))?;
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
        let fetched = fetch(consumer, end, &wanted, source.key, &senders);
        drop(senders);
        let mut decoded: Vec<(i64, StateRecord)> = decoders
            .into_iter()
            .flat_map(|decoder| decoder.join().unwrap_or_default())
            .collect();
        decoded.sort_unstable_by_key(|(offset, _)| *offset);
        fetched.map(|unsealed| Read {
            records: decoded,
            unsealed,
        })
    })
}

/// Threads decoding checkpoint parts at start.
const DECODERS: usize = 2;

/// Polls records up to `end`, handing the wanted ones' payloads on when
/// their seal holds; returns how many wanted ones did not.
fn fetch(
    consumer: &RelayConsumer,
    end: i64,
    wanted: impl Fn(&[u8]) -> bool,
    key: &SealKey,
    decoders: &[std::sync::mpsc::SyncSender<(i64, Vec<u8>)>],
) -> Result<u64, KafkaError> {
    let mut turn = 0;
    let mut unsealed = 0;
    // Gives up after this long without a record (not after a total time:
    // a big checkpoint takes as long as it takes).
    let mut quiet_until = Instant::now() + REQUEST_TIMEOUT;
    while Instant::now() < quiet_until {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                quiet_until = Instant::now() + REQUEST_TIMEOUT;
                let offset = message.offset();
                if offset >= end {
                    return Ok(unsealed);
                }
                if message.key().is_some_and(&wanted) {
                    let payload = message.payload().unwrap_or_default();
                    let seal = message.headers().and_then(|headers| {
                        headers
                            .iter()
                            .find(|h| h.key == checkpoint_seal::HEADER)
                            .and_then(|h| h.value)
                    });
                    if key.verify(payload, seal) {
                        turn = (turn + 1) % decoders.len();
                        if decoders[turn].send((offset, payload.to_vec())).is_err() {
                            return Ok(unsealed);
                        }
                    } else {
                        unsealed += 1;
                        tracing::warn!(
                            offset,
                            "state record without a valid seal skipped: only relays with the checkpoint key may write the state topic"
                        );
                    }
                }
                if offset + 1 >= end {
                    return Ok(unsealed);
                }
            }
            Some(Err(KafkaError::PartitionEOF(_))) => return Ok(unsealed),
            Some(Err(e)) => return Err(e),
            None => {}
        }
    }
    Ok(unsealed)
}

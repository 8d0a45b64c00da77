//! The reader: one `BaseConsumer` polled on a dedicated OS thread, handing
//! each message to the hub.
//!
//! Why a thread and not rdkafka's `StreamConsumer`: the stream sleeps until
//! librdkafka calls it back on its queue's empty → non-empty transition, and
//! a wake-up that is missed (fede1024/rust-rdkafka#665) leaves it asleep for
//! good while messages pile up behind it: the stall of docs/DECISIONS.md
//! ("The consumer polls on its own thread"). A blocking `poll` with a short
//! timeout cannot miss one: it returns as soon as a message is queued, and
//! at worst re-checks after the timeout. The hub is synchronous, so the
//! thread applies messages itself, in order, with no channel in between.
//!
//! Each relay node must see every event (any node may hold any user's
//! connection), so partitions are assigned, not balanced through the group.
//! A reader starts where it is told ([`Start`]): from the beginning at
//! start-up (that rebuilds the read model and the history, and keeps cursors
//! from before a restart valid), or at the relay's own position when the
//! supervisor replaces a stalled reader.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use protocol::kafka::{decode, Input, RejectReason, TopicKind};
use protocol::Timestamp;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};

use super::{Connection, RelayConsumer};
use crate::config::Config;
use crate::core::cursor::{PartitionId, Pos};
use crate::fanout::hub::Hub;
use crate::metrics::{Rejected, Stage};

/// How long one `poll` blocks when nothing arrives; also how quickly the
/// thread notices it was asked to stop.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);

/// One partition of one of the four topics.
#[derive(Debug, Clone)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
    pub kind: TopicKind,
}

impl TopicPartition {
    /// The cursor id of an order partition; `None` for notifications.
    pub fn id(&self) -> Option<PartitionId> {
        PartitionId::new(self.kind, self.partition)
    }
}

/// Injected faults, for the watchdog's tests (hidden flags).
#[derive(Debug, Clone, Copy, Default)]
pub struct Fault {
    /// Pause every partition after this many messages (0: at once), as if
    /// librdkafka had stopped delivering.
    pub stall_after: Option<u64>,
}

/// The consumer settings and topics every reader is built from.
#[derive(Debug, Clone)]
pub struct Settings {
    pub connection: Connection,
    pub group_id: String,
    pub fetch_wait_ms: u32,
    pub max_message_bytes: usize,
    pub max_event_skew: Duration,
    pub partitions: Vec<TopicPartition>,
}

impl Settings {
    pub fn new(
        config: &Config,
        connection: &Connection,
        partitions: Vec<TopicPartition>,
    ) -> Settings {
        Settings {
            connection: connection.clone(),
            group_id: config.kafka_group_id.clone(),
            fetch_wait_ms: config.kafka_fetch_wait_ms,
            max_message_bytes: config.max_message_bytes,
            max_event_skew: Duration::from_secs(config.max_event_skew_secs),
            partitions,
        }
    }

    fn consumer(&self) -> Result<RelayConsumer, KafkaError> {
        self.connection
            .config()
            .set("group.id", &self.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            // Deliver a message as soon as it is there: latency matters more
            // than fetch batching for a relay.
            .set("fetch.wait.max.ms", self.fetch_wait_ms.to_string())
            .set("fetch.error.backoff.ms", "100")
            .create_with_context(self.connection.context())
    }
}

/// The next offset of each notification partition read so far, so that a
/// replacement reader neither repeats nor skips a notification.
#[derive(Debug, Default)]
pub struct NotificationPositions(Mutex<HashMap<i32, i64>>);

impl NotificationPositions {
    fn record(&self, partition: i32, offset: i64) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let next = map.entry(partition).or_insert(0);
        *next = (*next).max(offset + 1);
    }

    /// Starts a partition at `next` (its log end at start-up), unless
    /// something was read there already.
    pub fn start_at(&self, partition: i32, next: i64) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(partition).or_insert(next);
    }

    fn next(&self, partition: i32) -> Option<i64> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&partition).copied()
    }
}

/// A running reader thread.
pub struct Reader {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Reader {
    /// Creates a consumer, assigns every partition from `start`, and starts
    /// polling it on a new thread.
    pub fn spawn(
        settings: &Settings,
        hub: Arc<Hub>,
        notifications: Arc<NotificationPositions>,
        fault: Fault,
    ) -> Result<Reader, KafkaError> {
        let consumer = settings.consumer()?;
        let mut assignment = TopicPartitionList::new();
        let position = hub.position();
        for tp in &settings.partitions {
            // The order topics from the hub's position (the beginning, or
            // where a checkpoint left off); notifications from
            // [`NotificationPositions`]: the log's end as the supervisor
            // found it at start-up, then after the last one read.
            let offset = match tp.id() {
                Some(id) => match position.next(id) {
                    0 => Offset::Beginning,
                    next => Offset::Offset(next),
                },
                None => notifications
                    .next(tp.partition)
                    .map_or(Offset::End, Offset::Offset),
            };
            assignment.add_partition_offset(&tp.topic, tp.partition, offset)?;
        }
        consumer.assign(&assignment)?;
        let kinds: HashMap<String, TopicKind> = settings
            .partitions
            .iter()
            .map(|tp| (tp.topic.clone(), tp.kind))
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let poll = Poll {
            loaded: Cell::new(false),
            consumer,
            hub,
            notifications,
            kinds,
            limit: settings.max_message_bytes,
            skew: settings.max_event_skew,
            stop: Arc::clone(&stop),
            fault,
        };
        let thread = std::thread::Builder::new()
            .name("kafka-reader".into())
            .spawn(move || poll.run())
            .map_err(|e| {
                tracing::error!("cannot start the Kafka reader thread: {e}");
                KafkaError::Subscription(format!("cannot start the reader thread: {e}"))
            })?;
        Ok(Reader { stop, thread })
    }

    /// False once the thread has ended (it only ends when asked to, or by a
    /// panic).
    pub fn is_running(&self) -> bool {
        !self.thread.is_finished()
    }

    /// Asks the thread to stop and waits for it (at most one poll timeout
    /// plus the message being applied). Returns false if it panicked.
    pub fn stop(self) -> bool {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().is_ok()
    }
}

/// What the reader thread owns.
struct Poll {
    /// Latched from [`Hub::is_loaded`] (which never turns back): once set,
    /// the hot path no longer takes the hub's lock to choose a log level.
    loaded: Cell<bool>,
    consumer: RelayConsumer,
    hub: Arc<Hub>,
    notifications: Arc<NotificationPositions>,
    kinds: HashMap<String, TopicKind>,
    limit: usize,
    skew: Duration,
    stop: Arc<AtomicBool>,
    fault: Fault,
}

impl Poll {
    fn run(self) {
        let mut handled = 0u64;
        if self.fault.stall_after == Some(0) {
            self.inject_stall();
        }
        while !self.stop.load(Ordering::Relaxed) {
            match self.consumer.poll(POLL_TIMEOUT) {
                None => {}
                Some(Ok(message)) => {
                    self.handle(&message);
                    handled += 1;
                    if self.fault.stall_after == Some(handled) {
                        self.inject_stall();
                    }
                }
                Some(Err(e)) => {
                    tracing::warn!("Kafka consumer error: {e}");
                    std::thread::sleep(POLL_TIMEOUT);
                }
            }
        }
    }

    fn inject_stall(&self) {
        match self.consumer.assignment() {
            Ok(assignment) => match self.consumer.pause(&assignment) {
                Ok(()) => tracing::warn!("fault injection: every partition paused"),
                Err(e) => tracing::error!("fault injection failed: {e}"),
            },
            Err(e) => tracing::error!("fault injection failed: {e}"),
        }
    }

    /// The latest event time accepted for `message`: the earlier of the
    /// relay's clock and the message's Kafka timestamp, plus the allowed
    /// skew. The Kafka timestamp makes the answer the same when the message
    /// is read again after a restart (an event that was "future" when it was
    /// written stays refused), and the relay's clock bounds a producer whose
    /// own clock, and so its message timestamps, runs ahead.
    fn latest_allowed(&self, message: &BorrowedMessage<'_>) -> Timestamp {
        let now = crate::clock::now().millis();
        let written = message.timestamp().to_millis().unwrap_or(now);
        let skew = i64::try_from(self.skew.as_millis()).unwrap_or(i64::MAX);
        Timestamp(now.min(written).saturating_add(skew))
    }

    /// Times a live message's way from its Kafka timestamp to this read.
    /// Not the read from the beginning at start: those ages are the log's.
    /// A producer's clock ahead of the relay's counts as no time at all.
    fn time_since_written(&self, message: &BorrowedMessage<'_>) {
        if !(self.loaded.get() || self.hub.is_loaded()) {
            return;
        }
        self.loaded.set(true);
        if let Some(written) = message.timestamp().to_millis() {
            let age = crate::clock::now().millis().saturating_sub(written).max(0);
            self.hub.metrics().delivery.observe(
                Stage::KafkaToRelay,
                Duration::from_millis(age.unsigned_abs()),
            );
        }
    }

    /// Validates one message and routes it. Total: a bad message is logged
    /// with its topic, partition and offset, counted, and skipped.
    fn handle(&self, message: &BorrowedMessage<'_>) {
        let (topic, partition, offset) = (message.topic(), message.partition(), message.offset());
        let Some(&kind) = self.kinds.get(topic) else {
            return;
        };
        let hub = &*self.hub;
        hub.metrics().consumed(kind);
        let pos = PartitionId::new(kind, partition).map(|part| Pos { part, offset });
        match decode(kind, message.payload().unwrap_or_default(), self.limit) {
            Ok(Input::Order(event)) => {
                tracing::debug!(
                    topic,
                    partition,
                    offset,
                    order_id = event.order_id(),
                    status = event.status().as_str(),
                    "order event received"
                );
                self.time_since_written(message);
                if let Some(pos) = pos {
                    hub.apply_order(event, pos, self.latest_allowed(message));
                }
            }
            Ok(Input::Notification {
                user_id,
                notification,
            }) => {
                tracing::debug!(topic, partition, offset, user_id, "notification received");
                self.time_since_written(message);
                self.notifications.record(partition, offset);
                hub.notify(&user_id, &notification);
            }
            Err(reject) => {
                tracing::warn!(
                    topic,
                    partition,
                    offset,
                    reason = reject.reason(),
                    "rejected Kafka message: {}",
                    reject.to_string().escape_debug()
                );
                hub.metrics()
                    .rejected(Rejected::Decoder(RejectReason::from(&reject)));
                match pos {
                    Some(pos) => hub.skip(pos),
                    None => self.notifications.record(partition, offset),
                }
            }
        }
    }
}

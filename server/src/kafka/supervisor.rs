//! The supervisor: watches the reader from outside and replaces it when it
//! stalls or dies.
//!
//! Every check it asks the broker for each order partition's watermarks
//! (through its own client: nothing is shared with the reader), and from
//! them sets the lag gauge, readiness, and the hub's log starts. Then it asks
//! the [`Watchdog`] whether the reader is stalled: something to read, and no
//! progress for `--kafka-stall-timeout-ms`. A stalled or dead reader is
//! stopped and a new one starts at the relay's own position (the hub ignores
//! a position it has been through, so nothing is applied twice, and nothing
//! is skipped). If a replacement makes no progress either, `/healthz`
//! answers 503 until one does, so that an orchestrator restarts the relay.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use protocol::kafka::TopicKind;

use super::consumer::{Fault, NotificationPositions, Reader, Settings, TopicPartition};
use super::status::Problem;
use super::{topics, Connection, RelayConsumer, REQUEST_TIMEOUT};
use crate::config::Config;
use crate::core::cursor::PartitionId;
use crate::core::watchdog::{Verdict, Watchdog};
use crate::fanout::hub::Hub;
use crate::metrics::{KafkaProblem, Rebuild};

/// How often (in supervisor checks, about a second each) the topics are
/// listed again for partitions added while the relay runs.
const PARTITION_CHECK_EVERY: u64 = 5;

/// The consumer's health, as `/healthz` reports it.
#[derive(Debug)]
pub struct ConsumerHealth {
    healthy: AtomicBool,
}

impl ConsumerHealth {
    /// A consumer reported healthy (before its first check, and in tests
    /// that run without one).
    pub fn healthy() -> ConsumerHealth {
        ConsumerHealth {
            healthy: AtomicBool::new(true),
        }
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Relaxed)
    }

    fn set(&self, healthy: bool) {
        if self.healthy.swap(healthy, Relaxed) != healthy {
            if healthy {
                tracing::info!("Kafka consumer healthy again");
            } else {
                tracing::error!("Kafka consumer cannot recover: /healthz answers 503");
            }
        }
    }
}

/// Sets the health to false if the supervisor task ends for any reason but
/// shutdown (a panic included): a relay with no one watching its consumer
/// must not look healthy.
struct Unhealthy<'a> {
    health: &'a ConsumerHealth,
    shutdown: &'a watch::Receiver<bool>,
}

impl Drop for Unhealthy<'_> {
    fn drop(&mut self) {
        if !*self.shutdown.borrow() {
            self.health.set(false);
        }
    }
}

/// Lists the partitions, starts the first reader from the beginning, and
/// the supervisor task that watches it.
pub async fn start(
    config: &Config,
    connection: &Connection,
    hub: Arc<Hub>,
    health: Arc<ConsumerHealth>,
    shutdown: watch::Receiver<bool>,
) -> Result<JoinHandle<()>, KafkaError> {
    let probe = probe(connection, &config.kafka_group_id)?;
    let mut partitions = Vec::new();
    for (name, kind) in config.topics() {
        for partition in topics::partitions(&probe, name).await {
            partitions.push(TopicPartition {
                topic: name.to_owned(),
                partition,
                kind,
            });
        }
    }
    let settings = Settings::new(config, connection, partitions);
    let notifications = Arc::new(NotificationPositions::default());
    notifications_from_now(&probe, &settings, &notifications).await;
    let fault = Fault {
        stall_after: config.fault_stall_consumer_after,
    };
    // From the hub's position: the beginning, or where a checkpoint the hub
    // started from left off.
    let reader = Reader::spawn(
        &settings,
        Arc::clone(&hub),
        Arc::clone(&notifications),
        fault,
    )?;
    tracing::info!(
        partitions = settings.partitions.len(),
        "Kafka consumer connected successfully; subscribed to topics"
    );
    let supervisor = Supervisor {
        probe: Arc::new(probe),
        settings,
        hub,
        notifications,
        reader: Some(reader),
        watchdog: Watchdog::new(config.kafka_stall_timeout(), Instant::now()),
        health,
        fault_every_reader: config.fault_stall_every_consumer.then_some(Fault {
            stall_after: Some(0),
        }),
    };
    Ok(tokio::spawn(supervisor.run(shutdown)))
}

/// Notifications are live-only: each partition starts at its end as the
/// broker lists it now, so that every notification produced after the relay
/// started is delivered. (Assigning `Offset::End` instead resolves the end
/// later, asynchronously: a notification produced in between was lost.) A
/// partition whose end cannot be read starts at `Offset::End`.
async fn notifications_from_now(
    probe: &RelayConsumer,
    settings: &Settings,
    positions: &NotificationPositions,
) {
    for tp in settings.partitions.iter().filter(|tp| tp.id().is_none()) {
        match probe.fetch_watermarks(&tp.topic, tp.partition, REQUEST_TIMEOUT) {
            Ok((_, high)) => positions.start_at(tp.partition, high),
            Err(e) => tracing::warn!(
                topic = tp.topic,
                partition = tp.partition,
                "cannot read the end of the notifications log ({e}); starting at its end when assigned"
            ),
        }
    }
}

/// The client that lists partitions and reads watermarks: its own
/// connections, so a wedged reader connection cannot hide the lag.
fn probe(connection: &Connection, group_id: &str) -> Result<RelayConsumer, KafkaError> {
    connection
        .config()
        .set("group.id", group_id)
        .create_with_context(connection.context())
}

struct Supervisor {
    probe: Arc<RelayConsumer>,
    settings: Settings,
    hub: Arc<Hub>,
    notifications: Arc<NotificationPositions>,
    /// `None` only while a replacement could not be created.
    reader: Option<Reader>,
    watchdog: Watchdog,
    health: Arc<ConsumerHealth>,
    /// Fault injection for replacements too: they stall at once (tests of a
    /// stall that rebuilding cannot fix).
    fault_every_reader: Option<Fault>,
}

impl Supervisor {
    async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let health = Arc::clone(&self.health);
        let watching = shutdown.clone();
        let _guard = Unhealthy {
            health: &health,
            shutdown: &watching,
        };
        let mut orders: Vec<TopicPartition> = self
            .settings
            .partitions
            .iter()
            .filter(|tp| tp.id().is_some())
            .cloned()
            .collect();
        let mut previous: Option<Vec<(PartitionId, i64)>> = None;
        let mut committed: Vec<i64> = Vec::new();
        let mut checks = 0u64;
        loop {
            checks += 1;
            if checks.is_multiple_of(PARTITION_CHECK_EVERY) && self.grow().await {
                orders = self.order_partitions();
                previous = None;
                committed.clear();
            }
            let lag = self.check_lag(&orders, &mut previous).await;
            self.commit_positions(&orders, &mut committed);
            self.watch(lag).await;
            let pause = if self.hub.is_ready() {
                Duration::from_secs(1)
            } else {
                Duration::from_millis(200)
            };
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
        if let Some(reader) = self.reader.take() {
            let _ = tokio::task::spawn_blocking(move || reader.stop()).await;
        }
    }

    /// Compares the relay's position with the brokers' high watermarks: sets
    /// the lag gauge and readiness; returns the lag (`None` when the broker
    /// could not be asked). Ready means keeping up: nothing left to read, or
    /// everything read that was in the log at the previous check (under
    /// steady traffic a few messages are always in flight; they must not flap
    /// `/readyz`). A broker that cannot be asked makes the relay not ready:
    /// it cannot know it is caught up.
    async fn check_lag(
        &self,
        orders: &[TopicPartition],
        previous: &mut Option<Vec<(PartitionId, i64)>>,
    ) -> Option<i64> {
        let probe = Arc::clone(&self.probe);
        let list = orders.to_vec();
        // The end of each log as the broker lists it. (tansu 0.6 lists the
        // start of its newest record batch, so it may say "caught up" a few
        // messages early; nothing is lost by that: a snapshot and the live
        // stream join without a gap, and a resume waits for its cursor. See
        // docs/DECISIONS.md.)
        let marks = tokio::task::spawn_blocking(move || {
            list.iter()
                .filter_map(|tp| tp.id().map(|id| (tp, id)))
                .map(|(tp, id)| {
                    probe
                        .fetch_watermarks(&tp.topic, tp.partition, REQUEST_TIMEOUT)
                        .map(|(low, high)| (id, low, high))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await;
        let hub = &self.hub;
        let (ready, lag) = match marks {
            Ok(Ok(marks)) => {
                self.settings.connection.status.clear();
                let lows: Vec<_> = marks.iter().map(|(id, low, _)| (*id, *low)).collect();
                hub.log_starts(&lows);
                let highs: Vec<_> = marks.iter().map(|(id, _, high)| (*id, *high)).collect();
                let position = hub.position();
                let lag: i64 = highs
                    .iter()
                    .map(|(id, high)| (high - position.next(*id)).max(0))
                    .sum();
                hub.metrics().consumer_lag.set(lag);
                let lags: Vec<_> = orders
                    .iter()
                    .filter_map(|tp| tp.id().map(|id| (tp, id)))
                    .zip(&highs)
                    .map(|((tp, id), (_, high))| {
                        (
                            tp.topic.clone(),
                            tp.partition,
                            (high - position.next(id)).max(0),
                        )
                    })
                    .collect();
                hub.metrics().partition_lag(&lags);
                let kept_up = previous.as_ref().is_some_and(|before| {
                    before.iter().all(|(id, high)| position.next(*id) >= *high)
                });
                *previous = Some(highs);
                (lag == 0 || kept_up, Some(lag))
            }
            Ok(Err(e)) => {
                let missing = matches!(
                    e.rdkafka_error_code(),
                    Some(
                        RDKafkaErrorCode::UnknownTopicOrPartition
                            | RDKafkaErrorCode::UnknownTopic
                            | RDKafkaErrorCode::UnknownPartition
                    )
                );
                if missing {
                    // A topic deleted under the relay: an alarm, not a
                    // silent stop (/readyz says so; one log line).
                    let topics: Vec<&str> = orders.iter().map(|tp| tp.topic.as_str()).collect();
                    self.settings.connection.status.report(Problem {
                        kind: KafkaProblem::TopicMissing,
                        detail: format!("a partition of {topics:?} is gone from the brokers ({e})"),
                    });
                } else {
                    tracing::warn!("cannot read high watermarks: {e}");
                }
                *previous = None;
                (false, None)
            }
            Err(_) => {
                *previous = None;
                (false, None)
            }
        };
        if ready != hub.is_ready() {
            tracing::info!(ready, "readiness changed");
        }
        hub.set_ready(ready);
        lag
    }

    fn order_partitions(&self) -> Vec<TopicPartition> {
        self.settings
            .partitions
            .iter()
            .filter(|tp| tp.id().is_some())
            .cloned()
            .collect()
    }

    /// Picks up partitions added to the topics while the relay runs: lists
    /// them, and if there are new ones, replaces the reader with one that
    /// reads them too, from their start (an order partition's position is 0
    /// until read; a cursor from before says nothing of it, which means
    /// "nothing seen", so a resume replays it). Whether any were added.
    async fn grow(&mut self) -> bool {
        let probe = Arc::clone(&self.probe);
        let mut names: Vec<(String, TopicKind)> = self
            .settings
            .partitions
            .iter()
            .map(|tp| (tp.topic.clone(), tp.kind))
            .collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        names.dedup_by(|a, b| a.0 == b.0);
        let listed = tokio::task::spawn_blocking(move || {
            let mut listed = Vec::new();
            for (topic, kind) in names {
                let Ok(metadata) = probe.fetch_metadata(Some(&topic), REQUEST_TIMEOUT) else {
                    continue;
                };
                for t in metadata
                    .topics()
                    .iter()
                    .filter(|t| t.name() == topic && t.error().is_none())
                {
                    for partition in t.partitions() {
                        listed.push(TopicPartition {
                            topic: topic.clone(),
                            partition: partition.id(),
                            kind,
                        });
                    }
                }
            }
            listed
        })
        .await
        .unwrap_or_default();
        let new: Vec<TopicPartition> = listed
            .into_iter()
            .filter(|tp| {
                !self
                    .settings
                    .partitions
                    .iter()
                    .any(|known| known.topic == tp.topic && known.partition == tp.partition)
            })
            .collect();
        if new.is_empty() {
            return false;
        }
        for tp in &new {
            tracing::info!(
                topic = tp.topic,
                partition = tp.partition,
                "a partition was added to a topic: reading it from its start"
            );
            if tp.id().is_none() {
                self.notifications.start_at(tp.partition, 0);
            }
        }
        self.settings.partitions.extend(new);
        self.replace().await;
        true
    }

    /// Commits the relay's position in each order partition to
    /// `--kafka-group-id` when it moved, so that Kafka's own lag tools
    /// (`kafka-consumer-groups --describe`, kafka-exporter, Burrow) see how
    /// far behind the relay is. For monitoring only: the relay never reads
    /// them back (it starts from a checkpoint or the beginning). Asynchronous
    /// and never waited for: a broker that is away must not slow the
    /// watchdog; the zero-time poll serves the previous commit's answer.
    fn commit_positions(&self, orders: &[TopicPartition], committed: &mut Vec<i64>) {
        let _ = self.probe.poll(Duration::ZERO);
        let position = self.hub.position();
        let mut list = TopicPartitionList::new();
        let mut now = Vec::new();
        for tp in orders {
            let Some(id) = tp.id() else { continue };
            let next = position.next(id);
            now.push(next);
            if next > 0 {
                let _ = list.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(next));
            }
        }
        if now == *committed || list.count() == 0 {
            return;
        }
        match self.probe.commit(&list, CommitMode::Async) {
            Ok(()) => *committed = now,
            Err(e) => tracing::debug!("cannot commit the relay's positions for lag tools: {e}"),
        }
    }

    /// Replaces the reader if it died or stalled.
    async fn watch(&mut self, lag: Option<i64>) {
        let position: i64 = self.hub.position().iter().map(|(_, next)| next).sum();
        let verdict = self.watchdog.observe(Instant::now(), position, lag);
        let dead = self.reader.as_ref().is_none_or(|r| !r.is_running());
        if dead {
            tracing::error!("the Kafka reader thread is gone; starting a new one");
            self.hub.metrics().rebuild(Rebuild::Died);
            self.replace().await;
        } else if let Verdict::Stalled { healthy } = verdict {
            tracing::error!(
                lag = lag.unwrap_or_default(),
                position,
                "Kafka consumer stalled: nothing consumed while messages wait; \
                 rebuilding it at the relay's position"
            );
            self.hub.metrics().rebuild(Rebuild::Stalled);
            self.health.set(healthy);
            self.replace().await;
        } else if verdict == Verdict::Blind {
            tracing::warn!(
                position,
                "the broker has not answered a lag check for the whole stall timeout and \
                 nothing was consumed: rebuilding the consumer and its connections"
            );
            self.hub.metrics().rebuild(Rebuild::Blind);
            self.replace().await;
        } else if self.watchdog.is_healthy() {
            self.health.set(true);
        }
    }

    /// Stops the current reader and starts one at the relay's position; the
    /// lag client is replaced too (its connections may be the wedged ones).
    async fn replace(&mut self) {
        match probe(&self.settings.connection, &self.settings.group_id) {
            Ok(probe) => self.probe = Arc::new(probe),
            Err(e) => tracing::error!("cannot rebuild the Kafka lag client: {e}"),
        }
        if let Some(old) = self.reader.take() {
            // The thread notices within one poll timeout.
            let _ = tokio::task::spawn_blocking(move || old.stop()).await;
        }
        let fault = self.fault_every_reader.unwrap_or_default();
        match Reader::spawn(
            &self.settings,
            Arc::clone(&self.hub),
            Arc::clone(&self.notifications),
            fault,
        ) {
            Ok(reader) => {
                tracing::info!("Kafka consumer rebuilt at the relay's position");
                self.reader = Some(reader);
            }
            Err(e) => {
                tracing::error!("cannot rebuild the Kafka consumer: {e}");
                self.health.set(false);
            }
        }
    }
}

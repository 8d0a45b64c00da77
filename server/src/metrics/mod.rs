//! The relay's metrics, registered once on a `prometheus` registry and
//! rendered by its text encoder at `/metrics`.
//!
//! Every label value is known up front (label enums, the configured topic
//! names), so each series is resolved once at start: the hot path is a
//! relaxed atomic add, or a lock-free histogram observation, never a label
//! lookup, a lock or an allocation.

use std::marker::PhantomData;
use std::sync::Mutex;
use std::time::Duration;

use prometheus::core::{MetricVec, MetricVecBuilder};
use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};
use protocol::kafka::{RejectReason, TopicKind};
use protocol::report::ReconnectCause;
use protocol::ErrorCode;

use crate::core::delivery::Pushes;
use crate::core::limits::CapReached;
use crate::core::model::RefusedReason;
use crate::core::relay_state::RefusedCheckpointReason;

pub mod series;
mod stages;
use series::{Reading, Series};
pub use stages::Stages;

/// Kinds of resume, for `relay_resumes_total{kind}`.
#[derive(Debug, Clone, Copy, PartialEq, strum::VariantArray, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Resume {
    Replay,
    Snapshot,
}

/// Why the consumer was rebuilt, for `relay_kafka_consumer_rebuilds_total{reason}`.
#[derive(Debug, Clone, Copy, PartialEq, strum::VariantArray, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Rebuild {
    Stalled,
    Died,
    Blind,
}

/// What kept the relay from Kafka, for `relay_kafka_problems_total{kind}`
/// (and the reason `/readyz` gives).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::VariantArray, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum KafkaProblem {
    /// SASL refused the credentials.
    Authentication,
    /// A TLS handshake failed (unknown CA, expired or wrong certificate).
    Tls,
    /// No broker could be reached.
    Unreachable,
    /// A topic the relay reads does not exist (deleted under it).
    TopicMissing,
}

/// How a fetch of the identity provider's keys went, for
/// `relay_jwks_fetches_total{result}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::VariantArray, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum JwksFetch {
    /// A usable key set, now the relay's.
    Ok,
    /// The provider could not be reached, answered an error or a document
    /// with no usable key: the last good set stays.
    Failed,
}

/// The stages of an event's way to a browser, for
/// `relay_delivery_seconds{stage}`. Each is timed on one clock, or with the
/// browser's clock difference removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::VariantArray, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Stage {
    /// The Kafka message's timestamp → the relay read it (live messages
    /// only: not the read from the beginning at start).
    KafkaToRelay,
    /// The relay read it → written to one socket (once per socket).
    RelayToSocket,
    /// The relay sent it → applied in a browser's store, as browsers
    /// report it (`delivery:report`).
    RelayToBrowser,
}

/// How a WebSocket connection ended, for `relay_ws_closes_total{reason}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::VariantArray, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Closed {
    /// The browser closed it, or the network dropped it.
    Client,
    /// 4001: its token expired.
    TokenExpired,
    /// 4002: it read too slowly and its queue overflowed.
    Resync,
    /// 1008: too many bad frames.
    Policy,
    /// 1001: it answered no ping for three intervals.
    Heartbeat,
    /// 1001: the relay stopped.
    Shutdown,
}

/// Why a Kafka message was refused: by the decoder, or by the read model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rejected {
    Decoder(RejectReason),
    Model(RefusedReason),
}

/// Bad client frames are counted by these codes only (what
/// `ClientEvent::decode` and the size check answer).
const FRAME_ERROR_LABELS: [&str; 4] = [
    ErrorCode::BadJson.as_str(),
    ErrorCode::UnknownEvent.as_str(),
    ErrorCode::InvalidData.as_str(),
    ErrorCode::TooLarge.as_str(),
];

/// Buckets of the delivery stages, in seconds: a tenth of a millisecond (a
/// socket write on an idle relay) to a minute (a consumer far behind).
const DELIVERY_BUCKETS: [f64; 18] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0, 60.0,
];

/// Buckets of HTTP request durations, in seconds (a command waits for the
/// broker's acknowledgement: up to its timeout).
const HTTP_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// A label enum: the compiler derives its list of values and their names
/// (`strum`), so a new variant is counted and rendered with no other change.
pub trait Label: Copy + PartialEq + Into<&'static str> + strum::VariantArray + 'static {}
impl<L: Copy + PartialEq + Into<&'static str> + strum::VariantArray + 'static> Label for L {}

/// One series per value of a label enum, resolved at start.
#[derive(Debug)]
pub struct ByLabel<L, M = IntCounter> {
    series: Box<[M]>,
    label: PhantomData<L>,
}

impl<L: Label, M> ByLabel<L, M> {
    /// Every value's series of `family`, labelled by `name(value)`.
    fn of<B>(family: &MetricVec<B>, name: impl Fn(L) -> String) -> ByLabel<L, M>
    where
        B: MetricVecBuilder<M = M>,
    {
        ByLabel {
            series: L::VARIANTS
                .iter()
                .map(|value| family.with_label_values(&[name(*value).as_str()]))
                .collect(),
            label: PhantomData,
        }
    }

    fn series(&self, label: L) -> Option<&M> {
        let index = L::VARIANTS.iter().position(|v| *v == label)?;
        self.series.get(index)
    }
}

impl<L: Label> ByLabel<L> {
    pub fn add(&self, label: L) {
        if let Some(counter) = self.series(label) {
            counter.inc();
        }
    }

    pub fn get(&self, label: L) -> u64 {
        self.series(label).map_or(0, IntCounter::get)
    }
}

/// Running totals, read for the periodic summary line (see
/// [`Metrics::activity`]); `since` turns two readings into the interval's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Activity {
    /// Kafka messages read.
    pub read: u64,
    /// Kafka messages refused.
    pub rejected: u64,
    /// Frames queued to sockets.
    pub delivered: u64,
    /// Sockets accepted.
    pub opened: u64,
    /// Sockets ended.
    pub closed: u64,
    /// Sockets open now (a gauge, not a total).
    pub open: i64,
}

impl Activity {
    /// What happened between `before` and this reading.
    pub fn since(self, before: Activity) -> Activity {
        Activity {
            read: self.read.saturating_sub(before.read),
            rejected: self.rejected.saturating_sub(before.rejected),
            delivered: self.delivered.saturating_sub(before.delivered),
            opened: self.opened.saturating_sub(before.opened),
            closed: self.closed.saturating_sub(before.closed),
            open: self.open,
        }
    }

    /// Whether anything but the gauge moved.
    pub fn is_quiet(&self) -> bool {
        self.read == 0
            && self.rejected == 0
            && self.delivered == 0
            && self.opened == 0
            && self.closed == 0
    }
}

/// Registers families on one registry. A name registered twice is a bug in
/// this file, caught by its tests: every `Metrics` is built the same way.
struct Families(Registry);

impl Families {
    fn register<M: prometheus::core::Collector + Clone + 'static>(&self, metric: M) -> M {
        self.0
            .register(Box::new(metric.clone()))
            .expect("metric names are unique and valid");
        metric
    }

    fn counter(&self, name: &str, help: &str) -> IntCounter {
        self.register(IntCounter::new(name, help).expect("valid metric name"))
    }

    fn gauge(&self, name: &str, help: &str) -> IntGauge {
        self.register(IntGauge::new(name, help).expect("valid metric name"))
    }

    fn counter_vec(&self, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
        self.register(IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric name"))
    }

    fn by<L: Label>(&self, name: &str, help: &str, label: &str) -> ByLabel<L> {
        ByLabel::of(&self.counter_vec(name, help, &[label]), |v: L| {
            let name: &str = v.into();
            name.to_owned()
        })
    }

    fn histogram_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        buckets: &[f64],
    ) -> HistogramVec {
        let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
        self.register(HistogramVec::new(opts, labels).expect("valid metric name"))
    }
}

/// Every metric of the relay. Shared (`Arc<Metrics>`) by whoever counts.
pub struct Metrics {
    registry: Registry,
    /// The recent past, for the admin Delivery panel ([`Metrics::sample`]).
    series: Mutex<Series>,
    consumed: ByLabel<TopicKind>,
    rejected_by_decoder: ByLabel<RejectReason>,
    rejected_by_model: ByLabel<RefusedReason>,
    bad_frames: [IntCounter; 4],
    refused: ByLabel<CapReached>,
    resumes: ByLabel<Resume>,
    rebuilds: ByLabel<Rebuild>,
    partition_lag: IntGaugeVec,
    http: HistogramVec,
    /// How long each stage of an event's way to a browser took.
    pub delivery: Stages,
    /// How connections ended, by reason.
    pub closes: ByLabel<Closed>,
    /// Events sent by replays (`relay_resumes_total{kind="replay"}` counts
    /// the replays).
    pub replayed_events: IntCounter,
    /// Browsers' reconnects, by the cause they report.
    pub browser_reconnects: ByLabel<ReconnectCause>,
    /// Values of browsers' reports not counted (see `core::report`).
    pub report_values_dropped: IntCounter,
    pub unroutable: IntCounter,
    pub deliveries: IntCounter,
    pub connections: IntGauge,
    pub connections_total: IntCounter,
    pub throttled_frames: IntCounter,
    pub auth_failures: IntCounter,
    pub coalesced: IntCounter,
    pub slow_disconnects: IntCounter,
    pub expiry_closes: IntCounter,
    pub consumer_lag: IntGauge,
    pub ready: IntGauge,
    /// 1 once SIGTERM started the drain (`/readyz` answers 503 then).
    pub draining: IntGauge,
    pub orders: IntGauge,
    pub evicted: IntCounter,
    /// Held events dropped because their order was never created.
    pub held_expired: IntCounter,
    pub history: IntGauge,
    pub published: IntCounter,
    pub publish_failures: IntCounter,
    pub checkpoint_writer: IntGauge,
    pub checkpoints: IntCounter,
    pub checkpoint_failures: IntCounter,
    pub restored_orders: IntGauge,
    /// Checkpoints read back at start and not used, by why.
    pub checkpoints_refused: ByLabel<RefusedCheckpointReason>,
    /// State records without a valid seal, skipped unread.
    pub state_records_unsealed: IntCounter,
    /// Problems reaching Kafka, by kind (each client's each report).
    pub kafka_problems: ByLabel<KafkaProblem>,
    /// Fetches of the identity provider's JWKS, by result.
    pub jwks_fetches: ByLabel<JwksFetch>,
    /// Keys in the JWKS the relay verifies with (0 before the first fetch).
    pub jwks_keys: IntGauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    /// The metrics of a relay reading the default topic names.
    fn default() -> Metrics {
        Metrics::new(|kind| <&str>::from(kind).to_owned())
    }
}

impl Metrics {
    /// Registers every family; `topic` names each topic kind as configured
    /// (the `topic` label).
    pub fn new(topic: impl Fn(TopicKind) -> String) -> Metrics {
        let r = Families(Registry::new());
        let rejected = r.counter_vec(
            "relay_kafka_messages_rejected_total",
            "Kafka messages refused and skipped, by reason.",
            &["reason"],
        );
        let bad_frames = r.counter_vec(
            "relay_ws_bad_frames_total",
            "Client frames answered with an error frame, by code.",
            &["code"],
        );
        let label = |v: &'static str| v.to_owned();
        let metrics = Metrics {
            consumed: ByLabel::of(
                &r.counter_vec(
                    "relay_kafka_messages_consumed_total",
                    "Kafka messages read, by topic (the configured topic name).",
                    &["topic"],
                ),
                topic,
            ),
            rejected_by_decoder: ByLabel::of(&rejected, |v: RejectReason| label(v.into())),
            rejected_by_model: ByLabel::of(&rejected, |v: RefusedReason| label(v.into())),
            bad_frames: FRAME_ERROR_LABELS.map(|code| bad_frames.with_label_values(&[code])),
            partition_lag: r.register(
                IntGaugeVec::new(
                    Opts::new(
                        "relay_kafka_partition_lag",
                        "Messages behind the high watermark, per order topic partition (the relay also commits its positions to --kafka-group-id for Kafka's own lag tools).",
                    ),
                    &["topic", "partition"],
                )
                .expect("valid metric name"),
            ),
            http: r.histogram_vec(
                "relay_http_request_duration_seconds",
                "HTTP requests by route (the matched pattern), method and status: time to the response's head.",
                &["route", "method", "status"],
                &HTTP_BUCKETS,
            ),
            delivery: r.register(Stages::new(
                "relay_delivery_seconds",
                "How long each stage of an event's way to a browser took: kafka_to_relay (the message's Kafka timestamp to the relay reading it, live messages only), relay_to_socket (read to written on each socket), relay_to_browser (sent to applied in a browser's store, clock difference removed, as browsers report it).",
                &DELIVERY_BUCKETS,
            )),
            closes: r.by(
                "relay_ws_closes_total",
                "WebSocket connections ended, by reason (client: closed by the browser or the network; heartbeat: no answer to pings).",
                "reason",
            ),
            browser_reconnects: r.by(
                "relay_browser_reconnects_total",
                "Reconnects browsers reported, by cause (resync, draining, going_away, network, silence, closed, other).",
                "cause",
            ),
            report_values_dropped: r.counter(
                "relay_browser_report_values_dropped_total",
                "Values of browsers' delivery reports not counted: past the per-report cap, out of range, or in a report sent too soon.",
            ),
            replayed_events: r.counter(
                "relay_resume_events_replayed_total",
                "Order events sent by replays to resuming clients.",
            ),
            refused: r.by("relay_ws_refused_total", "WebSocket upgrades refused by a connection cap, by which (per_user: 429, total: 503).", "limit"),
            resumes: r.by("relay_resumes_total", "subscribe:orders answered by replay or by snapshot.", "kind"),
            rebuilds: r.by("relay_kafka_consumer_rebuilds_total", "Kafka consumers replaced by the watchdog: stalled (messages waiting, none read), died, or blind (no lag readable and nothing read).", "reason"),
            jwks_fetches: r.by("relay_jwks_fetches_total", "Fetches of the identity provider's keys (JWKS), by result; a failed one keeps the last good keys.", "result"),
            kafka_problems: r.by("relay_kafka_problems_total", "Reports of a problem reaching Kafka, by kind (authentication, tls, unreachable, topic_missing); /readyz names the current one.", "kind"),
            checkpoints_refused: r.by("relay_checkpoints_refused_total", "Checkpoints read at start and not used, by reason (ahead_of_log, unknown_partition, missing_parts, inconsistent): the one before was tried.", "reason"),
            unroutable: r.counter("relay_events_unroutable_total", "Order events whose buyer was unknown: delivered to admins only."),
            deliveries: r.counter("relay_ws_deliveries_total", "Frames queued to WebSocket connections."),
            connections_total: r.counter("relay_ws_connections_total", "WebSocket connections accepted."),
            throttled_frames: r.counter("relay_ws_throttled_frames_total", "Client frames dropped for exceeding --client-frames-per-sec."),
            auth_failures: r.counter("relay_auth_failures_total", "Requests and upgrades refused for a missing or bad token."),
            coalesced: r.counter("relay_coalesced_updates_total", "Status events collapsed into a newer one for the same order in a full queue."),
            slow_disconnects: r.counter("relay_slow_disconnects_total", "Connections closed because their queue overflowed."),
            expiry_closes: r.counter("relay_token_expiry_closes_total", "Connections closed with 4001 because their token expired."),
            evicted: r.counter("relay_orders_evicted_total", "Finished orders evicted after --keep-finished-secs."),
            held_expired: r.counter("relay_held_events_expired_total", "Events held for an order.created that did not come within --keep-finished-secs (or beyond --max-waiting-orders), dropped."),
            published: r.counter("relay_commands_published_total", "Order events published by the HTTP API."),
            publish_failures: r.counter("relay_commands_publish_failures_total", "HTTP commands answered 503 because the broker did not acknowledge."),
            checkpoints: r.counter("relay_checkpoints_written_total", "Checkpoints written to the state topic."),
            checkpoint_failures: r.counter("relay_checkpoint_failures_total", "Checkpoints that could not be written."),
            state_records_unsealed: r.counter("relay_state_records_unsealed_total", "State-topic records without a valid seal (not written by a relay with the checkpoint key): skipped unread."),
            connections: r.gauge("relay_ws_connections", "Open client connections: /ws WebSockets and /socket.io/ sockets."),
            consumer_lag: r.gauge("relay_kafka_consumer_lag", "Messages behind the high watermark, summed over the order topics."),
            ready: r.gauge("relay_ready", "1 when caught up with Kafka."),
            draining: r.gauge("relay_draining", "1 while the relay drains after SIGTERM: /readyz and new WebSockets get 503."),
            orders: r.gauge("relay_orders", "Orders in the read model: open ones, and finished ones within their keep time."),
            history: r.gauge("relay_history_events", "Order events kept for resume."),
            checkpoint_writer: r.gauge("relay_checkpoint_writer", "1 while this relay is the elected checkpoint writer."),
            restored_orders: r.gauge("relay_checkpoint_restored_orders", "Orders this relay started from, out of a checkpoint (0: it read the order topics from the beginning)."),
            jwks_keys: r.gauge("relay_jwks_keys", "Keys in the identity provider's key set the relay verifies tokens with."),
            registry: r.0,
            series: Mutex::default(),
        };
        metrics.register_process();
        metrics
    }

    /// `relay_build_info` and, on Linux, the `process_*` family (RSS, CPU,
    /// open file descriptors, threads, start time).
    fn register_process(&self) {
        let info = IntGaugeVec::new(
            Opts::new(
                "relay_build_info",
                "Always 1: the relay's version, librdkafka's version and the build profile.",
            ),
            &["version", "rdkafka", "profile"],
        )
        .expect("valid metric name");
        let profile = if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        };
        let (_, rdkafka) = rdkafka::util::get_rdkafka_version();
        info.with_label_values(&[env!("CARGO_PKG_VERSION"), rdkafka.as_str(), profile])
            .set(1);
        let _ = self.registry.register(Box::new(info));
        #[cfg(target_os = "linux")]
        let _ = self.registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ));
    }

    pub fn consumed(&self, kind: TopicKind) {
        self.consumed.add(kind);
    }

    /// Counts a refused Kafka message by its reason.
    pub fn rejected(&self, why: Rejected) {
        match why {
            Rejected::Decoder(reason) => self.rejected_by_decoder.add(reason),
            Rejected::Model(reason) => self.rejected_by_model.add(reason),
        }
    }

    /// Counts a bad client frame by its error code.
    pub fn bad_frame(&self, code: ErrorCode) {
        if let Some(index) = FRAME_ERROR_LABELS.iter().position(|c| *c == code.as_str()) {
            self.bad_frames[index].inc();
        }
    }

    /// Counts what one delivery's pushes did (see [`Pushes`]).
    pub fn pushed(&self, pushes: &Pushes) {
        for (counter, n) in [
            (&self.deliveries, pushes.queued),
            (&self.coalesced, pushes.collapsed),
            (&self.slow_disconnects, pushes.overflowed),
        ] {
            if n > 0 {
                counter.inc_by(n);
            }
        }
    }

    pub fn resume(&self, kind: Resume) {
        self.resumes.add(kind);
    }

    /// Counts a connection refused before the upgrade by a cap.
    pub fn refused(&self, why: CapReached) {
        self.refused.add(why);
    }

    pub fn rebuild(&self, why: Rebuild) {
        self.rebuilds.add(why);
    }

    /// Each order partition's lag, `(topic, partition, lag)`, replacing the
    /// last check's (a partition gone is gone from `/metrics` too).
    pub fn partition_lag(&self, lags: &[(String, i32, i64)]) {
        self.partition_lag.reset();
        for (topic, partition, lag) in lags {
            self.partition_lag
                .with_label_values(&[topic.as_str(), partition.to_string().as_str()])
                .set(*lag);
        }
    }

    /// Times one HTTP request; `route` is the matched pattern (`/api/orders/{id}`),
    /// never the raw path, so the label values stay few.
    pub fn http_request(&self, route: &str, method: &str, status: u16, took: Duration) {
        self.http
            .with_label_values(&[route, method, status.to_string().as_str()])
            .observe(took.as_secs_f64());
    }

    /// The running totals the `info` summary line reports the change of.
    pub fn activity(&self) -> Activity {
        let sum = |series: &[IntCounter]| series.iter().map(IntCounter::get).sum::<u64>();
        Activity {
            read: sum(&self.consumed.series),
            rejected: sum(&self.rejected_by_decoder.series) + sum(&self.rejected_by_model.series),
            delivered: self.deliveries.get(),
            opened: self.connections_total.get(),
            closed: sum(&self.closes.series),
            open: self.connections.get(),
        }
    }

    /// Adds the interval since the last call to the recent past (every
    /// [`series::SAMPLE_SECS`], from a task; `at_ms` is the wall clock).
    pub fn sample(&self, at_ms: i64) {
        let stages = <Stage as strum::VariantArray>::VARIANTS
            .iter()
            .map(|stage| self.delivery.buckets(*stage))
            .collect();
        let rejected = <RejectReason as strum::VariantArray>::VARIANTS
            .iter()
            .map(|v| <&str>::from(*v))
            .zip(self.rejected_by_decoder.series.iter().map(IntCounter::get))
            .chain(
                <RefusedReason as strum::VariantArray>::VARIANTS
                    .iter()
                    .map(|v| <&str>::from(*v))
                    .zip(self.rejected_by_model.series.iter().map(IntCounter::get)),
            )
            .collect();
        let reading = Reading {
            stages,
            connections: self.connections.get(),
            lag: self.consumer_lag.get(),
            reconnects: self
                .browser_reconnects
                .series
                .iter()
                .map(IntCounter::get)
                .sum(),
            rejected,
        };
        self.series
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(reading, at_ms);
    }

    /// Reads the recent past (the panel renders it under this lock: a few
    /// hundred points, never on the delivery path).
    pub fn with_series<T>(&self, read: impl FnOnce(&Series) -> T) -> T {
        read(&self.series.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Reads one rejected-message counter (tests and logs).
    pub fn rejected_count(&self, why: Rejected) -> u64 {
        match why {
            Rejected::Decoder(reason) => self.rejected_by_decoder.get(reason),
            Rejected::Model(reason) => self.rejected_by_model.get(reason),
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        prometheus::TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_else(|e| format!("# metrics could not be encoded: {e}\n"))
    }
}

#[cfg(test)]
mod tests {
    use strum::VariantArray;

    use super::*;

    #[test]
    fn renders_every_family_with_labels() {
        let metrics = Metrics::default();
        metrics.consumed(TopicKind::Updated);
        let missing = Rejected::Decoder(RejectReason::MissingOrderId);
        metrics.rejected(missing);
        metrics.rejected(missing);
        metrics.rejected(Rejected::Model(RefusedReason::FutureTime));
        let text = metrics.render();
        assert!(text.contains("relay_kafka_messages_consumed_total{topic=\"order.updated\"} 1"));
        assert!(text.contains("relay_kafka_messages_rejected_total{reason=\"missing_order_id\"} 2"));
        assert!(text.contains("relay_kafka_messages_rejected_total{reason=\"oversize\"} 0"));
        assert!(text.contains("# TYPE relay_ws_connections gauge"));
        assert!(text.contains("relay_kafka_messages_rejected_total{reason=\"future_time\"} 1"));
        assert_eq!(metrics.rejected_count(missing), 2);
    }

    #[test]
    fn every_label_value_has_its_series() {
        let text = Metrics::default().render();
        let reasons = RejectReason::VARIANTS
            .iter()
            .map(|r| <&str>::from(*r))
            .chain(RefusedReason::VARIANTS.iter().map(|r| <&str>::from(*r)));
        for reason in reasons {
            let series = format!("relay_kafka_messages_rejected_total{{reason=\"{reason}\"}} 0");
            assert!(text.contains(&series), "{series}");
        }
        for (family, label, value) in [
            ("relay_ws_refused_total", "limit", "per_user"),
            ("relay_ws_refused_total", "limit", "total"),
            ("relay_resumes_total", "kind", "replay"),
            ("relay_resumes_total", "kind", "snapshot"),
            ("relay_kafka_consumer_rebuilds_total", "reason", "blind"),
            (
                "relay_kafka_messages_consumed_total",
                "topic",
                "notifications",
            ),
        ] {
            let series = format!("{family}{{{label}=\"{value}\"}} 0");
            assert!(text.contains(&series), "{series}");
        }
    }

    #[test]
    fn the_topic_label_is_the_configured_name() {
        let metrics = Metrics::new(|kind| format!("shop.{}", <&str>::from(kind)));
        metrics.consumed(TopicKind::Created);
        let text = metrics.render();
        assert!(
            text.contains("relay_kafka_messages_consumed_total{topic=\"shop.order.created\"} 1")
        );
    }

    #[test]
    fn stages_are_histograms_with_every_stage_present() {
        let metrics = Metrics::default();
        metrics
            .delivery
            .observe(Stage::RelayToSocket, Duration::from_micros(300));
        metrics.http_request("/api/orders", "GET", 200, Duration::from_millis(3));
        let text = metrics.render();
        assert!(text.contains("# TYPE relay_delivery_seconds histogram"));
        for stage in Stage::VARIANTS {
            let name: &str = (*stage).into();
            let count = format!("relay_delivery_seconds_count{{stage=\"{name}\"}}");
            assert!(text.contains(&count), "{count}");
        }
        assert!(text
            .contains("relay_delivery_seconds_bucket{stage=\"relay_to_socket\",le=\"0.0005\"} 1"));
        assert!(text
            .contains("relay_delivery_seconds_bucket{stage=\"relay_to_socket\",le=\"0.00025\"} 0"));
        assert!(text.contains(
            "relay_http_request_duration_seconds_count{method=\"GET\",route=\"/api/orders\",status=\"200\"} 1"
        ));
        assert_eq!(metrics.delivery.count(Stage::RelayToSocket), 1);
    }

    #[test]
    fn build_info_and_process_metrics_are_there() {
        let text = Metrics::default().render();
        let version = env!("CARGO_PKG_VERSION");
        assert!(text.contains("relay_build_info{profile=\""), "{text}");
        assert!(text.contains(&format!("version=\"{version}\"}} 1")));
        for family in [
            "process_resident_memory_bytes",
            "process_cpu_seconds_total",
            "process_open_fds",
        ] {
            assert!(text.contains(&format!("# TYPE {family}")), "{family}");
        }
    }

    #[test]
    fn activity_is_what_moved_in_the_interval() {
        let metrics = Metrics::default();
        let before = metrics.activity();
        assert!(metrics.activity().since(before).is_quiet());
        metrics.consumed(TopicKind::Updated);
        metrics.connections_total.inc();
        metrics.connections.inc();
        metrics.closes.add(Closed::Heartbeat);
        let moved = metrics.activity().since(before);
        assert_eq!(
            (moved.read, moved.opened, moved.closed, moved.open),
            (1, 1, 1, 1)
        );
        assert!(!moved.is_quiet());
    }
}

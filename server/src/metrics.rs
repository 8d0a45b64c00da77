//! Counters and gauges, rendered in the Prometheus text format at `/metrics`.
//!
//! Plain atomics with fixed label sets: every label value is known up front,
//! so each series is one field and the hot path is a relaxed `fetch_add`.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use protocol::kafka::{RejectReason, TopicKind};
use protocol::ErrorCode;

use crate::core::delivery::Pushes;
use crate::core::limits::CapReached;
use crate::core::model::RefusedReason;
use crate::core::relay_state::RefusedCheckpointReason;

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

/// A label enum: the compiler derives its list of values and their names
/// (`strum`), so a new variant is counted and rendered with no other change.
pub trait Label: Copy + PartialEq + Into<&'static str> + strum::VariantArray + 'static {}
impl<L: Copy + PartialEq + Into<&'static str> + strum::VariantArray + 'static> Label for L {}

/// One counter per value of a label enum.
#[derive(Debug)]
pub struct ByLabel<L> {
    counts: Box<[AtomicU64]>,
    label: std::marker::PhantomData<L>,
}

impl<L: Label> Default for ByLabel<L> {
    fn default() -> Self {
        ByLabel {
            counts: L::VARIANTS.iter().map(|_| AtomicU64::new(0)).collect(),
            label: std::marker::PhantomData,
        }
    }
}

impl<L: Label> ByLabel<L> {
    fn counter(&self, label: L) -> Option<&AtomicU64> {
        let index = L::VARIANTS.iter().position(|v| *v == label)?;
        self.counts.get(index)
    }

    pub fn add(&self, label: L) {
        if let Some(counter) = self.counter(label) {
            counter.fetch_add(1, Relaxed);
        }
    }

    pub fn get(&self, label: L) -> u64 {
        self.counter(label).map_or(0, |c| c.load(Relaxed))
    }

    /// `(label value, count)` for every value, zeros included.
    fn series(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        L::VARIANTS
            .iter()
            .zip(self.counts.iter())
            .map(|(label, count)| ((*label).into(), count.load(Relaxed)))
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    consumed: ByLabel<TopicKind>,
    rejected_by_decoder: ByLabel<RejectReason>,
    rejected_by_model: ByLabel<RefusedReason>,
    pub unroutable: AtomicU64,
    pub deliveries: AtomicU64,
    pub connections: AtomicI64,
    pub connections_total: AtomicU64,
    refused: ByLabel<CapReached>,
    pub throttled_frames: AtomicU64,
    pub auth_failures: AtomicU64,
    bad_frames: [AtomicU64; 4],
    resumes: ByLabel<Resume>,
    pub coalesced: AtomicU64,
    pub slow_disconnects: AtomicU64,
    pub expiry_closes: AtomicU64,
    pub consumer_lag: AtomicI64,
    rebuilds: ByLabel<Rebuild>,
    pub ready: AtomicI64,
    /// 1 once SIGTERM started the drain (`/readyz` answers 503 then).
    pub draining: AtomicI64,
    pub orders: AtomicI64,
    pub evicted: AtomicU64,
    /// Held events dropped because their order was never created.
    pub held_expired: AtomicU64,
    pub history: AtomicI64,
    pub published: AtomicU64,
    pub publish_failures: AtomicU64,
    pub checkpoint_writer: AtomicI64,
    pub checkpoints: AtomicU64,
    pub checkpoint_failures: AtomicU64,
    pub restored_orders: AtomicI64,
    /// Checkpoints read back at start and not used, by why.
    pub checkpoints_refused: ByLabel<RefusedCheckpointReason>,
    /// State records without a valid seal, skipped unread.
    pub state_records_unsealed: AtomicU64,
    /// Problems reaching Kafka, by kind (each client's each report).
    pub kafka_problems: ByLabel<KafkaProblem>,
    /// Each order partition's lag, `(topic, partition, lag)`, as of the
    /// supervisor's last check.
    pub partition_lag: std::sync::Mutex<Vec<(String, i32, i64)>>,
    /// Fetches of the identity provider's JWKS, by result.
    pub jwks_fetches: ByLabel<JwksFetch>,
    /// Keys in the JWKS the relay verifies with (0 before the first fetch).
    pub jwks_keys: AtomicI64,
}

impl Metrics {
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
            self.bad_frames[index].fetch_add(1, Relaxed);
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
                counter.fetch_add(n, Relaxed);
            }
        }
    }

    pub fn resume(&self, kind: Resume) {
        self.resumes.add(kind);
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// Counts a connection refused before the upgrade by a cap.
    pub fn refused(&self, why: CapReached) {
        self.refused.add(why);
    }

    pub fn rebuild(&self, why: Rebuild) {
        self.rebuilds.add(why);
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
        let mut out = String::with_capacity(4096);
        let mut family = |name: &str, kind: &str, help: &str, series: &[(String, i128)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in series {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let plain = |v: i128| vec![(String::new(), v)];
        let u = |a: &AtomicU64| i128::from(a.load(Relaxed));
        let i = |a: &AtomicI64| i128::from(a.load(Relaxed));
        let by = |label: &str, counts: &mut dyn Iterator<Item = (&'static str, u64)>| {
            counts
                .map(|(n, v)| (format!("{{{label}=\"{n}\"}}"), i128::from(v)))
                .collect::<Vec<_>>()
        };
        let labelled = |label: &str, names: &[&str], values: &[AtomicU64]| {
            names
                .iter()
                .zip(values)
                .map(|(n, v)| (format!("{{{label}=\"{n}\"}}"), u(v)))
                .collect::<Vec<_>>()
        };
        family(
            "relay_kafka_messages_consumed_total",
            "counter",
            "Kafka messages read, by topic kind (default topic names).",
            &by("topic", &mut self.consumed.series()),
        );
        family(
            "relay_kafka_messages_rejected_total",
            "counter",
            "Kafka messages refused and skipped, by reason.",
            &by(
                "reason",
                &mut self
                    .rejected_by_decoder
                    .series()
                    .chain(self.rejected_by_model.series()),
            ),
        );
        family(
            "relay_events_unroutable_total",
            "counter",
            "Order events whose buyer was unknown: delivered to admins only.",
            &plain(u(&self.unroutable)),
        );
        family(
            "relay_ws_deliveries_total",
            "counter",
            "Frames queued to WebSocket connections.",
            &plain(u(&self.deliveries)),
        );
        family(
            "relay_ws_connections",
            "gauge",
            "Open WebSocket connections.",
            &plain(i(&self.connections)),
        );
        family(
            "relay_ws_connections_total",
            "counter",
            "WebSocket connections accepted.",
            &plain(u(&self.connections_total)),
        );
        family(
            "relay_ws_refused_total",
            "counter",
            "WebSocket upgrades refused by a connection cap, by which (per_user: 429, total: 503).",
            &by("limit", &mut self.refused.series()),
        );
        family(
            "relay_ws_throttled_frames_total",
            "counter",
            "Client frames dropped for exceeding --client-frames-per-sec.",
            &plain(u(&self.throttled_frames)),
        );
        family(
            "relay_auth_failures_total",
            "counter",
            "Requests and upgrades refused for a missing or bad token.",
            &plain(u(&self.auth_failures)),
        );
        family(
            "relay_jwks_fetches_total",
            "counter",
            "Fetches of the identity provider's keys (JWKS), by result; a failed one keeps the last good keys.",
            &by("result", &mut self.jwks_fetches.series()),
        );
        family(
            "relay_jwks_keys",
            "gauge",
            "Keys in the identity provider's key set the relay verifies tokens with.",
            &plain(i(&self.jwks_keys)),
        );
        family(
            "relay_ws_bad_frames_total",
            "counter",
            "Client frames answered with an error frame, by code.",
            &labelled("code", &FRAME_ERROR_LABELS, &self.bad_frames),
        );
        family(
            "relay_resumes_total",
            "counter",
            "subscribe:orders answered by replay or by snapshot.",
            &by("kind", &mut self.resumes.series()),
        );
        family(
            "relay_coalesced_updates_total",
            "counter",
            "Status events collapsed into a newer one for the same order in a full queue.",
            &plain(u(&self.coalesced)),
        );
        family(
            "relay_slow_disconnects_total",
            "counter",
            "Connections closed because their queue overflowed.",
            &plain(u(&self.slow_disconnects)),
        );
        family(
            "relay_token_expiry_closes_total",
            "counter",
            "Connections closed with 4001 because their token expired.",
            &plain(u(&self.expiry_closes)),
        );
        family(
            "relay_kafka_consumer_lag",
            "gauge",
            "Messages behind the high watermark, summed over the order topics.",
            &plain(i(&self.consumer_lag)),
        );
        let partitions: Vec<(String, i128)> = self
            .partition_lag
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(topic, partition, lag)| {
                let topic = topic.escape_debug();
                (
                    format!("{{topic=\"{topic}\",partition=\"{partition}\"}}"),
                    i128::from(*lag),
                )
            })
            .collect();
        family(
            "relay_kafka_partition_lag",
            "gauge",
            "Messages behind the high watermark, per order topic partition (the relay also commits its positions to --kafka-group-id for Kafka's own lag tools).",
            &partitions,
        );
        family(
            "relay_kafka_problems_total",
            "counter",
            "Reports of a problem reaching Kafka, by kind (authentication, tls, unreachable, topic_missing); /readyz names the current one.",
            &by("kind", &mut self.kafka_problems.series()),
        );
        family(
            "relay_kafka_consumer_rebuilds_total",
            "counter",
            "Kafka consumers replaced by the watchdog: stalled (messages waiting, none read), died, or blind (no lag readable and nothing read).",
            &by("reason", &mut self.rebuilds.series()),
        );
        family(
            "relay_ready",
            "gauge",
            "1 when caught up with Kafka.",
            &plain(i(&self.ready)),
        );
        family(
            "relay_draining",
            "gauge",
            "1 while the relay drains after SIGTERM: /readyz and new WebSockets get 503.",
            &plain(i(&self.draining)),
        );
        family(
            "relay_orders",
            "gauge",
            "Orders in the read model: open ones, and finished ones within their keep time.",
            &plain(i(&self.orders)),
        );
        family(
            "relay_orders_evicted_total",
            "counter",
            "Finished orders evicted after --keep-finished-secs.",
            &plain(u(&self.evicted)),
        );
        family(
            "relay_held_events_expired_total",
            "counter",
            "Events held for an order.created that did not come within --keep-finished-secs (or beyond --max-waiting-orders), dropped.",
            &plain(u(&self.held_expired)),
        );
        family(
            "relay_history_events",
            "gauge",
            "Order events kept for resume.",
            &plain(i(&self.history)),
        );
        family(
            "relay_checkpoint_writer",
            "gauge",
            "1 while this relay is the elected checkpoint writer.",
            &plain(i(&self.checkpoint_writer)),
        );
        family(
            "relay_checkpoints_written_total",
            "counter",
            "Checkpoints written to the state topic.",
            &plain(u(&self.checkpoints)),
        );
        family(
            "relay_checkpoint_failures_total",
            "counter",
            "Checkpoints that could not be written.",
            &plain(u(&self.checkpoint_failures)),
        );
        family(
            "relay_checkpoint_restored_orders",
            "gauge",
            "Orders this relay started from, out of a checkpoint (0: it read the order topics from the beginning).",
            &plain(i(&self.restored_orders)),
        );
        family(
            "relay_checkpoints_refused_total",
            "counter",
            "Checkpoints read at start and not used, by reason (ahead_of_log, unknown_partition, missing_parts, inconsistent): the one before was tried.",
            &by("reason", &mut self.checkpoints_refused.series()),
        );
        family(
            "relay_state_records_unsealed_total",
            "counter",
            "State-topic records without a valid seal (not written by a relay with the checkpoint key): skipped unread.",
            &plain(u(&self.state_records_unsealed)),
        );
        family(
            "relay_commands_published_total",
            "counter",
            "Order events published by the HTTP API.",
            &plain(u(&self.published)),
        );
        family(
            "relay_commands_publish_failures_total",
            "counter",
            "HTTP commands answered 503 because the broker did not acknowledge.",
            &plain(u(&self.publish_failures)),
        );
        out
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
}

//! What the relay's Kafka clients say about the connection, in one place:
//! the problem that keeps the relay from Kafka (a refused password, a
//! certificate that does not verify, brokers out of reach, a topic gone), for
//! `/readyz` to give as its reason and for one log line each time it
//! changes; and whether the relay has started reading (before that its
//! order routes answer 503).
//!
//! Every client is created with a [`RelayContext`], which hands librdkafka's
//! error callbacks here.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::metrics::{KafkaProblem, Metrics};

/// A problem between the relay and Kafka, with the broker's or librdkafka's
/// own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: KafkaProblem,
    pub detail: String,
}

impl Problem {
    /// What an operator should check, for the log line and `/readyz`.
    fn advice(&self) -> &'static str {
        match self.kind {
            KafkaProblem::Authentication => {
                "check --kafka-sasl-mechanism, --kafka-sasl-username and --kafka-sasl-password"
            }
            KafkaProblem::Tls => {
                "check --kafka-ca-file (it must sign the brokers' certificates), the certificates' dates, and --kafka-cert-file/--kafka-key-file"
            }
            KafkaProblem::Unreachable => {
                "check --kafka-brokers, --kafka-security-protocol and that the brokers run"
            }
            KafkaProblem::TopicMissing => {
                "a topic the relay reads is gone: recreate it, or fix the --topic-* settings"
            }
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind: &str = self.kind.into();
        write!(f, "kafka {kind}: {} ({})", self.detail, self.advice())
    }
}

/// The relay's view of its Kafka connection.
#[derive(Debug)]
pub struct KafkaStatus {
    problem: Mutex<Option<Problem>>,
    started: tokio::sync::watch::Sender<bool>,
    metrics: Arc<Metrics>,
}

impl KafkaStatus {
    pub fn new(metrics: Arc<Metrics>) -> KafkaStatus {
        KafkaStatus {
            problem: Mutex::new(None),
            started: tokio::sync::watch::Sender::new(false),
            metrics,
        }
    }

    /// Records a problem; logs it (one line) when its kind differs from
    /// the one before, so clients retrying every second (each in its own
    /// words) do not flood the log.
    pub fn report(&self, problem: Problem) {
        self.metrics.kafka_problems.add(problem.kind);
        let mut current = self.problem.lock().unwrap_or_else(|p| p.into_inner());
        if current.as_ref().map(|p| p.kind) != Some(problem.kind) {
            tracing::error!("{problem}");
        }
        *current = Some(problem);
    }

    /// The brokers answered: whatever was wrong is over.
    pub fn clear(&self) {
        let mut current = self.problem.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(problem) = current.take() {
            let kind: &str = problem.kind.into();
            tracing::info!(was = kind, "connected to Kafka again");
        }
    }

    /// Clears a problem of this kind only (a topic back, say), leaving others.
    pub fn clear_kind(&self, kind: KafkaProblem) {
        let mut current = self.problem.lock().unwrap_or_else(|p| p.into_inner());
        if current.as_ref().is_some_and(|p| p.kind == kind) {
            *current = None;
            let kind: &str = kind.into();
            tracing::info!(was = kind, "Kafka problem over");
        }
    }

    /// The current problem, as `/readyz` says it.
    pub fn problem(&self) -> Option<String> {
        let current = self.problem.lock().unwrap_or_else(|p| p.into_inner());
        current.as_ref().map(Problem::to_string)
    }

    /// Set once the relay has restored its state and its reader runs.
    pub fn set_started(&self) {
        self.started.send_replace(true);
    }

    pub fn is_started(&self) -> bool {
        *self.started.borrow()
    }

    /// Waits up to `patience` for the relay to start reading; whether it did.
    pub async fn started_within(&self, patience: Duration) -> bool {
        let mut started = self.started.subscribe();
        tokio::time::timeout(patience, started.wait_for(|started| *started))
            .await
            .is_ok_and(|result| result.is_ok())
    }

    /// Reads a librdkafka error: what kind of problem it is, if it is one
    /// the operator must act on.
    pub fn client_error(&self, error: &KafkaError, reason: &str) {
        let kind = match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::Authentication) => KafkaProblem::Authentication,
            Some(RDKafkaErrorCode::SSL) => KafkaProblem::Tls,
            Some(
                RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::Resolve,
            ) => KafkaProblem::Unreachable,
            Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic) => {
                KafkaProblem::TopicMissing
            }
            _ => {
                tracing::warn!("Kafka client: {reason} ({error})");
                return;
            }
        };
        // "AllBrokersDown" follows every failed connection: it must not
        // hide the reason the connections failed.
        if kind == KafkaProblem::Unreachable {
            let current = self.problem.lock().unwrap_or_else(|p| p.into_inner());
            if current
                .as_ref()
                .is_some_and(|p| matches!(p.kind, KafkaProblem::Authentication | KafkaProblem::Tls))
            {
                return;
            }
        }
        self.report(Problem {
            kind,
            detail: reason.to_owned(),
        });
    }
}

/// The context every relay client is created with: librdkafka's errors go
/// to the [`KafkaStatus`]; its log lines go to the relay's log at debug
/// level (the errors that matter arrive through the error callback, once).
#[derive(Clone)]
pub struct RelayContext {
    pub status: Arc<KafkaStatus>,
}

impl ClientContext for RelayContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::debug!(target: "librdkafka", facility, "{message}")
            }
            _ => tracing::trace!(target: "librdkafka", facility, "{message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.status.client_error(&error, reason);
    }
}

impl ConsumerContext for RelayContext {}

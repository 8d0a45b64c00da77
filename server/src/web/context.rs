//! What every handler shares: the relay's parts, built once by
//! [`crate::app`] and handed to the HTTP routes, the WebSocket endpoint and
//! the simulator. A leaf: it imports the parts, nothing imports it back
//! except their users.

use std::sync::Arc;

use tokio::sync::watch;

use crate::config::Config;
use crate::core::limits::Connections;
use crate::fanout::hub::Hub;
use crate::kafka::status::KafkaStatus;
use crate::kafka::supervisor::ConsumerHealth;
use crate::metrics::Metrics;
use crate::sink::EventSink;
use crate::web::auth::Verifier;
use crate::web::drain::Drain;

pub struct AppState {
    pub config: Config,
    /// Verifies every token (and signs the demo login's).
    pub auth: Verifier,
    pub hub: Arc<Hub>,
    pub metrics: Arc<Metrics>,
    /// Where commands publish their events (Kafka in the relay).
    pub sink: Arc<dyn EventSink>,
    /// Open WebSocket connections per user and in total, against the caps.
    pub connections: Arc<Connections>,
    /// False when the consumer is stuck beyond repair (`/healthz` 503).
    pub consumer: Arc<ConsumerHealth>,
    /// What keeps the relay from Kafka, if anything (`/readyz`'s reason),
    /// and whether it reads yet (the order routes answer 503 before).
    pub kafka: Arc<KafkaStatus>,
    /// Flips to `true` once at shutdown; connection tasks watch it.
    pub shutdown: watch::Receiver<bool>,
    /// Set on SIGTERM, before shutdown: new sockets refused, open ones told
    /// to move.
    pub drain: Drain,
}

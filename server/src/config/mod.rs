//! The relay's settings: one struct, parsed from flags and environment
//! variables (§5 of the contract), checked once at start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use protocol::kafka::TopicKind;

use crate::core::relay_state::Retention;

pub mod auth;
pub mod kafka;
pub mod observe;
pub use auth::AuthSettings;
pub use kafka::KafkaClient;
pub use observe::{LogFormat, Observability};

/// Relays Kafka order events to each user's browsers over WebSocket, and
/// serves the order HTTP API.
#[derive(Debug, Clone, Parser)]
#[command(name = "relay", version, about)]
pub struct Config {
    /// Address to serve HTTP and WebSocket on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:3009")]
    pub listen: SocketAddr,

    /// Kafka bootstrap servers (host:port,…). Unset: start the embedded broker.
    #[arg(long, env = "KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,

    /// Kafka consumer group id. The relay reads every partition itself (each
    /// relay node must see every event), so the group only names the client
    /// and where the relay commits its positions for lag monitoring.
    #[arg(long, env = "KAFKA_GROUP_ID", default_value = "order-relay")]
    pub kafka_group_id: String,

    /// TLS, SASL and librdkafka properties.
    #[command(flatten)]
    pub kafka: KafkaClient,

    /// HS256 secret that signs user tokens. Required unless --demo or an
    /// identity provider (--jwt-issuer, --jwt-jwks-url) signs them.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Secret rotation, the identity provider, claims, socket tokens, CORS.
    #[command(flatten)]
    pub auth: AuthSettings,

    /// Demo mode: enables /api/dev/login, generates a secret if none is given,
    /// and runs the order simulator.
    #[arg(long, env = "DEMO")]
    pub demo: bool,

    /// Lets --demo listen on a non-loopback address. The demo login mints a
    /// token for anyone, admins included: only for a throwaway demo machine.
    #[arg(long, env = "DEMO_PUBLIC")]
    pub demo_public: bool,

    /// Topic of `order.created` events.
    #[arg(long = "topic-order-created", env = "TOPIC_ORDER_CREATED", default_value = protocol::kafka::ORDER_CREATED)]
    pub topic_created: String,
    /// Topic of `order.updated` events.
    #[arg(long = "topic-order-updated", env = "TOPIC_ORDER_UPDATED", default_value = protocol::kafka::ORDER_UPDATED)]
    pub topic_updated: String,
    /// Topic of `order.cancelled` events.
    #[arg(long = "topic-order-cancelled", env = "TOPIC_ORDER_CANCELLED", default_value = protocol::kafka::ORDER_CANCELLED)]
    pub topic_cancelled: String,
    /// Topic of user notifications (live only, never replayed).
    #[arg(long = "topic-notifications", env = "TOPIC_NOTIFICATIONS", default_value = protocol::kafka::NOTIFICATIONS)]
    pub topic_notifications: String,

    /// Longest time the broker may hold a fetch when there is nothing new, in
    /// ms. Some brokers answer only when it runs out, so it bounds delivery
    /// latency; lower costs more idle polling.
    #[arg(long, env = "KAFKA_FETCH_WAIT_MS", default_value_t = 10)]
    pub kafka_fetch_wait_ms: u32,

    /// How long the consumer may read nothing while messages wait before the
    /// watchdog rebuilds it at the relay's position, in ms. A rebuilt one
    /// that stalls as long again makes /healthz answer 503.
    #[arg(long, env = "KAFKA_STALL_TIMEOUT_MS", default_value_t = 30_000)]
    pub kafka_stall_timeout_ms: u64,

    /// The relay's producer is idempotent (Kafka's `enable.idempotence`):
    /// its retries to the broker never store an event twice. Every Apache
    /// Kafka since 0.11 supports it (and MSK, Confluent Cloud, Aiven); say
    /// false for a broker that does not keep it working across restarts
    /// (tansu 0.6).
    #[arg(long, env = "KAFKA_IDEMPOTENCE", default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub kafka_idempotence: bool,

    /// Fault injection for tests: the first consumer pauses every partition
    /// after this many messages, as if it had stopped being woken.
    #[arg(long, hide = true)]
    pub fault_stall_consumer_after: Option<u64>,

    /// Fault injection for tests: every rebuilt consumer stalls at once.
    #[arg(long, hide = true)]
    pub fault_stall_every_consumer: bool,

    /// Partitions for topics the relay creates.
    #[arg(long, env = "TOPIC_PARTITIONS", default_value_t = 3)]
    pub topic_partitions: i32,

    /// Largest Kafka message accepted, in bytes; bigger ones are rejected.
    #[arg(long, env = "MAX_MESSAGE_BYTES", default_value_t = 64 * 1024)]
    pub max_message_bytes: usize,

    /// How far in the future an order event may be dated, in seconds, against
    /// the earlier of the relay's clock and the message's Kafka timestamp.
    /// Later ones are refused (`future_time`): one bad date would otherwise
    /// freeze the order's status.
    #[arg(long, env = "MAX_EVENT_SKEW_SECS", default_value_t = 300)]
    pub max_event_skew_secs: u64,

    /// Largest client WebSocket frame accepted, in bytes.
    #[arg(long, env = "MAX_FRAME_BYTES", default_value_t = 16 * 1024)]
    pub max_frame_bytes: usize,

    /// Largest HTTP request body, in bytes.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,

    /// Order events kept in memory for resume by cursor.
    #[arg(long, env = "HISTORY_LIMIT", default_value_t = 50_000)]
    pub history_limit: usize,

    /// The topic relays keep checkpoints of their state in (one partition;
    /// created if missing). See docs/DEPLOY.md.
    #[arg(long, env = "TOPIC_STATE", default_value = "order.state")]
    pub topic_state: String,

    /// How often the elected relay writes a checkpoint, in seconds; 0 turns
    /// checkpoints off (no writing, and every start reads the order topics
    /// from the beginning).
    #[arg(long, env = "CHECKPOINT_INTERVAL_SECS", default_value_t = 60)]
    pub checkpoint_interval_secs: u64,

    /// The key checkpoints are sealed with (HMAC-SHA256; every relay of a
    /// shop shares it, nobody else has it). Unset: a key derived from
    /// --jwt-secret. A state record without this key's seal is never read.
    #[arg(long, env = "CHECKPOINT_KEY", hide_env_values = true)]
    pub checkpoint_key: Option<String>,

    /// How long a finished order (delivered or cancelled) stays in memory,
    /// snapshots and `GET /api/orders` after the relay saw it finish; then
    /// it is evicted. Open orders are always kept.
    #[arg(long, env = "KEEP_FINISHED_SECS", default_value_t = 7 * 24 * 3600)]
    pub keep_finished_secs: u64,

    /// Most orders not created yet that the relay holds events for (events
    /// consumed before their `order.created`). Beyond it the oldest are
    /// dropped; so are any after --keep-finished-secs.
    #[arg(long, env = "MAX_WAITING_ORDERS", default_value_t = 100_000)]
    pub max_waiting_orders: usize,

    /// How long an evicted order's id keeps its owner and its finished
    /// state, in seconds: set it to the order topics' `retention.ms` (Kafka's
    /// default, 7 days), the time its events can still be read again. A
    /// created event for a remembered id is refused (`duplicate_created`
    /// from its owner, `conflicting_created` from anyone else). About 20-40
    /// bytes an id.
    #[arg(long, env = "KEEP_EVICTED_IDS_SECS", default_value_t = 7 * 24 * 3600)]
    pub keep_evicted_ids_secs: u64,

    /// Most orders an admin snapshot holds (newest first).
    #[arg(long, env = "SNAPSHOT_LIMIT", default_value_t = 1_000)]
    pub snapshot_limit: usize,

    /// Events queued per connection before it counts as too slow. Bursts are
    /// normal (a fetch brings thousands of messages; an admin sees them all),
    /// so this is generous; memory is only used while a queue is full.
    #[arg(long, env = "CLIENT_QUEUE", default_value_t = 4096)]
    pub client_queue: usize,

    /// Most WebSocket connections one user may hold at once (tabs, devices);
    /// one more is refused before the upgrade with 429
    /// `too_many_connections`.
    #[arg(long, env = "MAX_CONNECTIONS_PER_USER", default_value_t = 20)]
    pub max_connections_per_user: usize,

    /// Most WebSocket connections the relay holds at once; one more is
    /// refused before the upgrade with 503 `too_many_connections`.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 100_000)]
    pub max_connections: usize,

    /// Client frames one connection may send per second (bursts of a
    /// second's worth allowed); more are answered with `rate_limited` error
    /// frames and dropped.
    #[arg(long, env = "CLIENT_FRAMES_PER_SEC", default_value_t = 20)]
    pub client_frames_per_sec: u32,

    /// Time a client has to send a request's head (request line and
    /// headers), in ms; also how long a kept-alive HTTP connection may sit
    /// idle. Like nginx's `client_header_timeout`.
    #[arg(long, env = "HTTP_HEADER_TIMEOUT_MS", default_value_t = 10_000)]
    pub http_header_timeout_ms: u64,

    /// Time the relay has to answer one HTTP request, in ms (408 after).
    #[arg(long, env = "HTTP_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    pub http_request_timeout_ms: u64,

    /// Seconds between WebSocket pings; a client silent for three of them is dropped.
    #[arg(long, env = "PING_INTERVAL_SECS", default_value_t = 15)]
    pub ping_interval_secs: u64,

    /// On SIGTERM, how long open sockets keep delivering after being told
    /// to move (`server:draining`) while new ones and `/readyz` get 503;
    /// then what is left is closed with 1001. 0: close at once.
    #[arg(long, env = "DRAIN_SECS", default_value_t = 10)]
    pub drain_secs: u64,

    /// When set, `GET /metrics` needs `Authorization: Bearer <this>`
    /// (Prometheus: `authorization: { credentials: … }`). Unset: open.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Directory of the built browser client, served at `/` when given.
    #[arg(long, env = "STATIC_DIR")]
    pub static_dir: Option<PathBuf>,

    /// Logs and who they name.
    #[command(flatten)]
    pub observe: Observability,

    /// Demo simulator: order events per second (0 = off; demo mode only).
    #[arg(long, env = "SIMULATOR_RATE", default_value_t = 0.5)]
    pub simulator_rate: f64,
}

/// The demo simulator's slowest and fastest pace, in events per second.
pub const MIN_SIMULATOR_RATE: f64 = 0.001;
pub const MAX_SIMULATOR_RATE: f64 = 10_000.0;

/// A setting that cannot work, said in one line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("JWT_SECRET (--jwt-secret) is required unless --demo is set or an identity provider signs the tokens (--jwt-issuer or --jwt-jwks-url)")]
    MissingSecret,
    #[error("without --jwt-secret, checkpoints need their own key: set CHECKPOINT_KEY (--checkpoint-key), the same on every relay, or turn checkpoints off with --checkpoint-interval-secs 0")]
    MissingCheckpointKey,
    #[error("JWT_SECRET must be at least 16 bytes long")]
    WeakSecret,
    #[error("--demo lets anyone mint admin tokens, so it listens on loopback only; --listen {0} needs --demo-public (DEMO_PUBLIC=true) to say that is meant")]
    DemoExposed(SocketAddr),
    #[error("--topic-partitions must be at least 1")]
    Partitions,
    #[error("--{0} must be greater than 0")]
    Zero(&'static str),
    #[error("the five topic names (four order and notification topics, and --topic-state) must be different")]
    SameTopics,
    #[error("--simulator-rate must be 0 (off) or between {MIN_SIMULATOR_RATE} and {MAX_SIMULATOR_RATE} events per second")]
    SimulatorRate,
    #[error(transparent)]
    Kafka(#[from] kafka::KafkaSettingError),
    #[error(transparent)]
    Auth(#[from] auth::AuthSettingError),
}

impl Config {
    /// Checks what clap cannot: cross-field rules and sane ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match (&self.jwt_secret, self.demo) {
            (None, false) if !self.auth.has_provider() => return Err(ConfigError::MissingSecret),
            (None, false) if self.checkpoint_key.is_none() && self.checkpoint_interval_secs > 0 => {
                return Err(ConfigError::MissingCheckpointKey)
            }
            (Some(secret), _) if secret.len() < 16 => return Err(ConfigError::WeakSecret),
            _ => {}
        }
        self.auth.validate()?;
        if self.demo && !self.demo_public && !self.listen.ip().is_loopback() {
            return Err(ConfigError::DemoExposed(self.listen));
        }
        if self.topic_partitions < 1 {
            return Err(ConfigError::Partitions);
        }
        for (name, value) in [
            ("max-message-bytes", self.max_message_bytes),
            ("max-frame-bytes", self.max_frame_bytes),
            ("max-body-bytes", self.max_body_bytes),
            ("history-limit", self.history_limit),
            ("max-waiting-orders", self.max_waiting_orders),
            ("client-queue", self.client_queue),
            ("ping-interval-secs", self.ping_interval_secs as usize),
            (
                "kafka-stall-timeout-ms",
                self.kafka_stall_timeout_ms as usize,
            ),
            ("max-connections-per-user", self.max_connections_per_user),
            ("max-connections", self.max_connections),
            ("client-frames-per-sec", self.client_frames_per_sec as usize),
            (
                "http-header-timeout-ms",
                self.http_header_timeout_ms as usize,
            ),
            (
                "http-request-timeout-ms",
                self.http_request_timeout_ms as usize,
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero(name));
            }
        }
        let mut topics: Vec<&str> = self.topics().into_iter().map(|(name, _)| name).collect();
        topics.push(&self.topic_state);
        topics.sort();
        if topics.windows(2).any(|w| w[0] == w[1]) {
            return Err(ConfigError::SameTopics);
        }
        self.kafka.validate()?;
        let rate = self.simulator_rate;
        if !(rate == 0.0 || (MIN_SIMULATOR_RATE..=MAX_SIMULATOR_RATE).contains(&rate)) {
            return Err(ConfigError::SimulatorRate);
        }
        Ok(())
    }

    /// The configured name of each topic kind.
    pub fn topic(&self, kind: TopicKind) -> &str {
        match kind {
            TopicKind::Created => &self.topic_created,
            TopicKind::Updated => &self.topic_updated,
            TopicKind::Cancelled => &self.topic_cancelled,
            TopicKind::Notifications => &self.topic_notifications,
        }
    }

    /// Every topic and the payload it carries.
    pub fn topics(&self) -> Vec<(&str, TopicKind)> {
        <TopicKind as strum::VariantArray>::VARIANTS
            .iter()
            .map(|kind| (self.topic(*kind), *kind))
            .collect()
    }

    pub fn kafka_stall_timeout(&self) -> Duration {
        Duration::from_millis(self.kafka_stall_timeout_ms)
    }

    /// What the relay keeps in memory, and for how long.
    pub fn retention(&self) -> Retention {
        Retention {
            history: self.history_limit,
            keep_finished: Duration::from_secs(self.keep_finished_secs),
            max_waiting_orders: self.max_waiting_orders,
            keep_evicted_ids: Duration::from_secs(self.keep_evicted_ids_secs),
        }
    }

    pub fn ping_interval(&self) -> Duration {
        Duration::from_secs(self.ping_interval_secs)
    }

    pub fn drain(&self) -> Duration {
        Duration::from_secs(self.drain_secs)
    }

    /// Settings for tests and embedding: demo off, a fixed secret, everything
    /// else at its default, listening on a random loopback port.
    pub fn for_tests(brokers: &str, secret: &str) -> Config {
        let mut config = Config::parse_from(["relay"]);
        config.listen = "127.0.0.1:0".parse().expect("valid address");
        config.kafka_brokers = Some(brokers.to_owned());
        config.jwt_secret = Some(secret.to_owned());
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Config {
        Config::try_parse_from(std::iter::once("relay").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn a_secret_is_required_outside_demo_mode() {
        assert!(matches!(
            parse(&[]).validate(),
            Err(ConfigError::MissingSecret)
        ));
        assert!(parse(&["--demo"]).validate().is_ok());
        assert!(matches!(
            parse(&["--jwt-secret", "short"]).validate(),
            Err(ConfigError::WeakSecret)
        ));
        assert!(parse(&["--jwt-secret", "0123456789abcdef"])
            .validate()
            .is_ok());
        // An identity provider instead of a secret: checkpoints then need
        // their own key (it is derived from the secret otherwise).
        let issuer = ["--jwt-issuer", "https://id.shop.example"];
        assert!(matches!(
            parse(&issuer).validate(),
            Err(ConfigError::MissingCheckpointKey)
        ));
        let with_key = [&issuer[..], &["--checkpoint-key", "k"]].concat();
        assert!(parse(&with_key).validate().is_ok());
        let no_checkpoints = [&issuer[..], &["--checkpoint-interval-secs", "0"]].concat();
        assert!(parse(&no_checkpoints).validate().is_ok());
    }

    #[test]
    fn nonsense_values_are_refused() {
        let base = ["--jwt-secret", "0123456789abcdef"];
        let with = |extra: &[&str]| {
            let args: Vec<&str> = base.iter().chain(extra).copied().collect();
            parse(&args).validate()
        };
        assert!(with(&["--topic-partitions", "0"]).is_err());
        assert!(with(&["--client-queue", "0"]).is_err());
        assert!(with(&["--topic-order-updated", "order.created"]).is_err());
        assert!(with(&["--kafka-stall-timeout-ms", "0"]).is_err());
        for rate in ["1e-300", "0.0001", "-1", "NaN", "inf", "20000"] {
            let flag = format!("--simulator-rate={rate}");
            assert!(
                matches!(with(&[&flag]), Err(ConfigError::SimulatorRate)),
                "{rate}"
            );
        }
        for rate in ["0", "0.001", "0.5", "10000"] {
            assert!(with(&["--simulator-rate", rate]).is_ok(), "{rate}");
        }
        assert!(Config::try_parse_from(["relay", "--listen", "nowhere"]).is_err());
    }

    #[test]
    fn demo_mode_listens_on_loopback_unless_told_otherwise() {
        assert!(parse(&["--demo", "--listen", "127.0.0.1:80"])
            .validate()
            .is_ok());
        assert!(parse(&["--demo", "--listen", "[::1]:80"])
            .validate()
            .is_ok());
        assert!(matches!(
            parse(&["--demo", "--listen", "0.0.0.0:80"]).validate(),
            Err(ConfigError::DemoExposed(_))
        ));
        assert!(
            parse(&["--demo", "--demo-public", "--listen", "0.0.0.0:80"])
                .validate()
                .is_ok()
        );
        // Outside demo mode any address is fine.
        let secret = ["--jwt-secret", "0123456789abcdef", "--listen", "0.0.0.0:80"];
        assert!(parse(&secret).validate().is_ok());
    }

    #[test]
    fn defaults_match_the_contract() {
        let config = parse(&["--demo"]);
        assert_eq!(config.listen.to_string(), "127.0.0.1:3009");
        assert_eq!(config.topic_created, "order.created");
        assert_eq!(config.topic_notifications, "notifications");
        assert_eq!(config.kafka_brokers, None);
    }
}

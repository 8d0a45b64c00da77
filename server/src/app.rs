//! Wiring: builds the shared state, starts the Kafka consumer and the HTTP
//! server, and stops them all on shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use protocol::kafka::TopicKind;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::core::limits::Connections;
use crate::core::relay_state::RefusedCheckpointReason;
use crate::fanout::hub::Hub;
use crate::kafka::checkpoint_seal::SealKey;
use crate::kafka::status::KafkaStatus;
use crate::kafka::supervisor::{self, ConsumerHealth};
use crate::kafka::{checkpoint_reader, checkpoint_writer, producer::Publisher, topics, Connection};
use crate::metrics::Metrics;
use crate::web::auth::{Keys, Provider, ProviderRules, ProviderSettings, Verifier};
use crate::web::context::AppState;

/// A started relay.
pub struct Running {
    /// The address actually bound (useful with port 0).
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    tasks: Vec<JoinHandle<()>>,
}

/// Starts the relay against `brokers`: binds the listener and starts
/// [`run_kafka`]. Returns once it accepts connections; its order routes open
/// once it reads Kafka, and it is ready for subscribers once `/readyz` says
/// so.
pub async fn start(config: Config, brokers: &str) -> anyhow::Result<Running> {
    if config.demo && config.demo_public {
        tracing::warn!(
            listen = %config.listen,
            "DEMO MODE ON A PUBLIC ADDRESS: anyone who reaches /api/dev/login can mint an admin token"
        );
    }
    let secret = match &config.jwt_secret {
        Some(secret) if config.demo => {
            tracing::warn!(
                "demo mode with JWT_SECRET: /api/dev/login signs tokens with it; \
                 never run --demo with a production secret"
            );
            Some(secret.clone().into_bytes())
        }
        Some(secret) => Some(secret.clone().into_bytes()),
        None if config.demo => {
            tracing::warn!(
                "demo mode: no JWT_SECRET given, using a random one (tokens die with this process)"
            );
            Some(rand::random::<[u8; 32]>().to_vec())
        }
        // Only the identity provider's tokens (`Config::validate`).
        None => None,
    };
    let seal = match (&config.checkpoint_key, &secret) {
        (Some(key), _) => SealKey::new(key.as_bytes()),
        (None, Some(secret)) => SealKey::derived_from(secret),
        // Checkpoints are off (`Config::validate`): a key nobody shares.
        (None, None) => SealKey::new(&rand::random::<[u8; 32]>()),
    };
    let metrics = Arc::new(Metrics::new(|kind| config.topic(kind).to_owned()));
    let auth = verifier(&config, secret.as_deref(), &metrics)?;
    let status = Arc::new(KafkaStatus::new(Arc::clone(&metrics)));
    let connection = Connection::new(brokers, &config.kafka, Arc::clone(&status));
    tracing::info!("Kafka: {}", connection.describe());
    let hub = Arc::new(Hub::new(
        Arc::clone(&metrics),
        config.retention(),
        config.client_queue,
        config.snapshot_limit,
    ));
    // Creating a client checks the librdkafka properties: a wrong one is a
    // setting to fix, so it stops the relay here, before it listens.
    let publisher =
        Publisher::new(&config, &connection).context("cannot create the Kafka producer")?;

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let connections = Connections::new(config.max_connections_per_user, config.max_connections);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let state = Arc::new(AppState {
        config,
        auth,
        hub,
        metrics,
        sink: Arc::new(publisher),
        consumer: Arc::new(ConsumerHealth::healthy()),
        kafka: status,
        connections,
        shutdown: shutdown_rx.clone(),
        drain: Default::default(),
    });
    let mut tasks = vec![tokio::spawn(run_kafka(
        Arc::clone(&state),
        connection,
        seal,
        shutdown_rx.clone(),
    ))];
    if state.config.demo {
        tasks.push(tokio::spawn(crate::demo::simulator::run(
            Arc::clone(&state),
            shutdown_rx.clone(),
        )));
    }
    tasks.push(tokio::spawn(sample_metrics(
        Arc::clone(&state.metrics),
        shutdown_rx.clone(),
    )));
    if state.config.observe.log_summary_secs > 0 {
        tasks.push(tokio::spawn(log_summaries(
            Arc::clone(&state.metrics),
            Duration::from_secs(state.config.observe.log_summary_secs),
            shutdown_rx.clone(),
        )));
    }
    let router = crate::web::router::router(Arc::clone(&state));
    let header_timeout = Duration::from_millis(state.config.http_header_timeout_ms);
    let server = tokio::spawn(crate::web::serve::serve(
        listener,
        router,
        header_timeout,
        shutdown_rx,
    ));
    tracing::info!("relay listening on http://{addr}");
    Ok(Running {
        addr,
        state,
        shutdown: shutdown_tx,
        server,
        tasks,
    })
}

/// Reads the relay's own metrics every `SAMPLE_SECS` into the recent past
/// the admin Delivery panel draws.
async fn sample_metrics(metrics: Arc<Metrics>, mut shutdown: watch::Receiver<bool>) {
    let every = Duration::from_secs(crate::metrics::series::SAMPLE_SECS);
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|stopping| *stopping) => return,
            _ = tick.tick() => metrics.sample(crate::clock::now().millis()),
        }
    }
}

/// One `info` line per interval with what happened in it, in place of a
/// line per event and per socket (those are `debug`): a reconnect storm of
/// any size writes one line a minute. A quiet interval writes none.
async fn log_summaries(
    metrics: Arc<Metrics>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut before = metrics.activity();
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|stopping| *stopping) => return,
            _ = tick.tick() => {}
        }
        let now = metrics.activity();
        let interval = now.since(before);
        before = now;
        if interval.is_quiet() {
            continue;
        }
        tracing::info!(
            secs = every.as_secs(),
            events_read = interval.read,
            events_rejected = interval.rejected,
            frames_delivered = interval.delivered,
            sockets_opened = interval.opened,
            sockets_closed = interval.closed,
            sockets_open = interval.open,
            "activity"
        );
    }
}

/// Who the relay believes: its own secret (and the previous ones) and the
/// shop's identity provider, read by the configured claim rules. The
/// provider's keys are fetched in the background from now on, so the
/// first token does not wait for them.
fn verifier(
    config: &Config,
    secret: Option<&[u8]>,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<Verifier> {
    let settings = &config.auth;
    let keys = secret.map(|secret| {
        let previous: Vec<&[u8]> = settings
            .jwt_previous_secrets
            .iter()
            .map(|s| s.expose().as_bytes())
            .collect();
        Keys::new(secret).with_previous(&previous)
    });
    let provider = settings.has_provider().then(|| {
        let provider = Arc::new(Provider::new(
            ProviderSettings {
                issuer: settings.jwt_issuer.clone(),
                jwks_url: settings.jwt_jwks_url.clone(),
                min_refresh: settings.jwks_refresh_min(),
            },
            Arc::clone(metrics),
        ));
        let warming = Arc::clone(&provider);
        tokio::spawn(async move { warming.warm_up().await });
        tracing::info!(
            issuer = settings.jwt_issuer.as_deref().unwrap_or("-"),
            jwks = settings.jwt_jwks_url.as_deref().unwrap_or("(from discovery)"),
            audience = ?settings.jwt_audience,
            "accepting tokens from the identity provider"
        );
        let rules = ProviderRules {
            issuer: settings.jwt_issuer.clone(),
            audience: settings.jwt_audience.clone(),
            leeway_secs: settings.jwt_leeway_secs,
        };
        (provider, rules)
    });
    Ok(Verifier::new(keys, provider, settings.claim_rules()?))
}

/// Everything the relay does with Kafka, in order, until shutdown: create
/// missing topics, start from the newest checkpoint, start the reader and
/// its supervisor (then the order routes open: [`KafkaStatus::is_started`]),
/// and the checkpoint writer. Nothing here gives up while the brokers cannot
/// be reached or refuse the relay's credentials: `/readyz` answers 503 with
/// the reason ([`KafkaStatus`]) and the relay keeps trying, so a wrong
/// password is one log line and a fix, not a crash loop.
async fn run_kafka(
    state: Arc<AppState>,
    connection: Connection,
    seal: SealKey,
    shutdown: watch::Receiver<bool>,
) {
    let config = &state.config;
    let mut stop = shutdown.clone();
    // The embedded broker (no KAFKA_BROKERS) has its topics made at start and
    // would hang on CreateTopics; it keeps no checkpoints either.
    let checkpoints = config.kafka_brokers.is_some() && config.checkpoint_interval_secs > 0;
    let setup = async {
        if config.kafka_brokers.is_some() {
            let names: Vec<&str> = config.topics().iter().map(|(name, _)| *name).collect();
            topics::ensure(&connection, &names, config.topic_partitions, &[]).await;
            if checkpoints {
                let retention = state_retention(config).as_millis().to_string();
                let settings = [("cleanup.policy", "delete"), ("retention.ms", &retention)];
                topics::ensure(&connection, &[&config.topic_state], 1, &settings).await;
            }
        }
        // A checkpoint is only worth reading once the brokers answer.
        topics::wait_for_brokers(&connection, &config.topic_created).await;
        if checkpoints {
            restore(config, &connection, &seal, &state.hub, &state.metrics).await;
        }
        supervisor::start(
            config,
            &connection,
            Arc::clone(&state.hub),
            Arc::clone(&state.consumer),
            shutdown.clone(),
        )
        .await
    };
    let supervisor = tokio::select! {
        _ = stop.changed() => return,
        started = setup => match started {
            Ok(supervisor) => supervisor,
            Err(e) => {
                tracing::error!("cannot start the Kafka consumer: {e}");
                return;
            }
        },
    };
    state.kafka.set_started();
    let writer = checkpoints.then(|| {
        let settings = checkpoint_writer::WriterSettings {
            connection: connection.clone(),
            topic: config.topic_state.clone(),
            group: format!("{}-checkpoint", config.kafka_group_id),
            interval: Duration::from_secs(config.checkpoint_interval_secs),
            writer: format!("{:08x}", rand::random::<u32>()),
            key: seal,
        };
        tokio::spawn(checkpoint_writer::run_writer(
            settings,
            Arc::clone(&state.hub),
            Arc::clone(&state.metrics),
            shutdown,
        ))
    });
    let _ = supervisor.await;
    if let Some(writer) = writer {
        let _ = writer.await;
    }
}

/// How long the state topic the relay creates keeps its records: at least
/// ten checkpoints and at least an hour, so that the newest complete one is
/// always there (docs/DEPLOY.md, "Kafka settings").
pub fn state_retention(config: &Config) -> Duration {
    Duration::from_secs((10 * config.checkpoint_interval_secs).max(3600))
}

/// Starts the hub from the newest checkpoint in the state topic, if there
/// is one; the consumer then reads only what came after it. Without one
/// (or if it cannot be read) the relay reads the order topics from the
/// beginning, as before checkpoints existed.
async fn restore(
    config: &Config,
    connection: &Connection,
    key: &SealKey,
    hub: &Hub,
    metrics: &Metrics,
) {
    let started = std::time::Instant::now();
    let (connection, topic, key) = (connection.clone(), config.topic_state.clone(), key.clone());
    let group = format!("{}-checkpoint-reader", config.kafka_group_id);
    let names: Vec<(String, TopicKind)> = config
        .topics()
        .into_iter()
        .map(|(name, kind)| (name.to_owned(), kind))
        .collect();
    let report = tokio::task::spawn_blocking(move || {
        let order_topics: Vec<(&str, TopicKind)> = names
            .iter()
            .map(|(name, kind)| (name.as_str(), *kind))
            .collect();
        checkpoint_reader::load(&checkpoint_reader::Source {
            connection: &connection,
            topic: &topic,
            group: &group,
            key: &key,
            order_topics: &order_topics,
        })
    })
    .await;
    let report = match report {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => {
            tracing::warn!(
                "cannot read the state topic ({e}): reading the order topics from the beginning"
            );
            return;
        }
        Err(e) => {
            tracing::warn!(
                "checkpoint reader failed ({e}): reading the order topics from the beginning"
            );
            return;
        }
    };
    if report.unsealed > 0 {
        metrics.state_records_unsealed.inc_by(report.unsealed);
        tracing::warn!(
            records = report.unsealed,
            "state records without a valid seal were skipped: only relays with the checkpoint key may write the state topic (see docs/DEPLOY.md, ACLs)"
        );
    }
    for (id, refused) in &report.refused {
        metrics.checkpoints_refused.add(refused.into());
        tracing::warn!(checkpoint = ?id, reason = <&str>::from(RefusedCheckpointReason::from(refused)), "checkpoint refused: {refused}; trying the one before it");
    }
    let Some(loaded) = report.loaded else {
        tracing::info!("no usable checkpoint: reading the order topics from the beginning");
        return;
    };
    let count = loaded.saved.orders.len();
    tracing::info!(
        checkpoint = ?loaded.commit.id,
        orders = count,
        history = loaded.saved.history.len(),
        position = %loaded.saved.position,
        ms = started.elapsed().as_millis() as u64,
        "starting from a checkpoint"
    );
    let restoring = std::time::Instant::now();
    hub.restore(loaded.saved);
    tracing::info!(
        ms = restoring.elapsed().as_millis() as u64,
        "state restored"
    );
    metrics.restored_orders.set(count as i64);
}

impl Running {
    /// Drains for `--drain-secs` (see [`crate::web::drain`]): new sockets and
    /// `/readyz` get 503, open ones are told `server:draining` and keep
    /// delivering until they have all left, the time is up, or `interrupt`
    /// resolves (a second signal); then [`Running::stop`]. With 0 seconds it
    /// stops at once.
    pub async fn drain_and_stop(
        self,
        interrupt: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let grace = self.state.config.drain();
        if !grace.is_zero() {
            tracing::info!(secs = grace.as_secs(), "draining: sockets told to move");
            self.state.drain.start(grace);
            let metrics = &self.state.metrics;
            metrics.draining.set(1);
            let all_left = async {
                while metrics.connections.get() > 0 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(grace) => {}
                _ = all_left => tracing::info!("drained: every socket has left"),
                _ = interrupt => {}
            }
        }
        self.stop().await
    }

    /// Stops accepting, closes every WebSocket with 1001, stops the consumer,
    /// and waits for in-flight HTTP requests to finish.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        self.server.await.context("server task failed")??;
        Ok(())
    }
}

//! Test harness: a real broker (Apache Kafka, or tansu when asked: [`Kind`])
//! on random loopback ports, the relay started in-process on port 0, a real
//! Kafka producer and real WebSocket clients.
#![allow(dead_code)]

pub mod kafka;
pub mod nginx;
pub mod view;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::frames::OrdersSnapshot;
use protocol::{ClientEvent, OrderEvent, Role, ServerEvent};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use server::app::Running;
use server::config::Config;
use server::web::auth::Keys;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const SECRET: &str = "integration-test-secret-0123456789";

/// `GET /api/orders` on the relay at `base` (`http://host:port`).
pub async fn orders_at(base: &str, token: &str) -> OrdersSnapshot {
    reqwest::Client::new()
        .get(format!("{base}/api/orders"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A minimal `order.created` payload (§1.2) for `buyer`.
pub fn created(order_id: &str, buyer: &str) -> String {
    format!(
        r#"{{"orderId":"{order_id}","buyerId":"{buyer}","total":5,"createdAt":"2025-11-12T10:30:00.000Z"}}"#
    )
}

/// The biggest `order.created` the order limits allow (docs/PROTOCOL.md
/// §1.3), about 91 KB: 100 items, each with a 200-character name of
/// 4-byte characters. For tests that need big frames.
pub fn big_created(order_id: &str, buyer: &str) -> String {
    let items: Vec<String> = (0..100)
        .map(|i| {
            format!(
                r#"{{"productId":"p{i:03}-{}","name":"{}","quantity":1,"price":1}}"#,
                "p".repeat(59),
                "𝄞".repeat(200)
            )
        })
        .collect();
    format!(
        r#"{{"orderId":"{order_id}","buyerId":"{buyer}","items":[{}],"total":100,"createdAt":"2025-11-12T10:30:00.000Z"}}"#,
        items.join(",")
    )
}

/// How long any single expected thing may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Polls `done` every 50 ms until it holds; fails the test after
/// [`PATIENCE`], saying `what` never happened.
pub async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !done().await {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A loopback port nothing listens on, never one this process was given
/// before: the kernel may hand the same ephemeral port to two binds in a
/// row once the first is released, and a broker told to listen twice on one
/// port exits at start (a CI run failed so: its broker and controller got
/// the same port).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// The brokers the tests run on: Apache Kafka, what shops run, unless
/// `TEST_BROKER=tansu` asks for tansu (`bash .ci/install-tansu`), a quicker
/// Kafka-protocol broker for a developer's loop. Suites that need Apache
/// Kafka's own features (TLS and SASL, its tools, DeleteRecords) say so when
/// run on tansu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// tansu 0.6 with in-memory storage: starts in milliseconds.
    Tansu,
    /// Apache Kafka, one KRaft node ([`kafka::ApacheKafka`]): what shops run.
    Apache,
}

/// The broker the tests run on.
pub fn suite_broker() -> Kind {
    match std::env::var("TEST_BROKER").as_deref() {
        Ok("tansu") => Kind::Tansu,
        Ok("apache") | Ok("kafka") | Err(_) => Kind::Apache,
        Ok(other) => panic!("TEST_BROKER={other}: say apache or tansu"),
    }
}

/// A broker on random loopback ports, killed on drop.
pub struct Broker {
    pub bootstrap: String,
    process: Process,
}

enum Process {
    Tansu(Child),
    Apache(kafka::ApacheKafka),
}

impl Broker {
    /// The suite's broker ([`suite_broker`]).
    pub async fn start() -> Broker {
        match suite_broker() {
            Kind::Tansu => Broker::tansu().await,
            Kind::Apache => Broker::apache("broker").await,
        }
    }

    /// Apache Kafka, whatever the suite's broker.
    pub async fn apache(name: &str) -> Broker {
        let kafka = kafka::ApacheKafka::start(name).await;
        Broker {
            bootstrap: kafka.bootstrap.clone(),
            process: Process::Apache(kafka),
        }
    }

    /// tansu with in-memory storage, whatever the suite's broker.
    pub async fn tansu() -> Broker {
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let bin = std::env::var("TANSU_BIN").unwrap_or_else(|_| "tansu".into());
        let child = Command::new(&bin)
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start the tansu broker `{bin}` ({e}). Install it: cargo install tansu \
                     --version 0.6.0 --locked --no-default-features --features dynostore (or run .ci/run)"
                )
            });
        let bootstrap = format!("127.0.0.1:{port}");
        wait_for_port(&bootstrap).await;
        Broker {
            bootstrap,
            process: Process::Tansu(child),
        }
    }

    /// The Apache Kafka broker, for what only it can do (restarts with its
    /// data, its command-line tools); panics on tansu.
    pub fn apache_kafka(&mut self) -> &mut kafka::ApacheKafka {
        match &mut self.process {
            Process::Apache(kafka) => kafka,
            Process::Tansu(_) => panic!("this test needs Apache Kafka (TEST_BROKER=tansu?)"),
        }
    }

    /// A producer that waits for the broker's acknowledgement.
    pub fn producer(&self) -> Producer {
        Producer::connect(&self.bootstrap)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Process::Tansu(child) = &mut self.process {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A broker whose data survives [`DurableBroker::stop`] and
/// [`DurableBroker::restart`] on the same port: Apache Kafka.
pub type DurableBroker = kafka::ApacheKafka;

/// The relay binary, to run as its own process (so it can be SIGKILLed, or
/// started as a user would): warnings only on stderr, nothing on stdout,
/// killed when the handle drops. Add flags and environment, then spawn.
pub fn relay_command() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_relay"));
    command
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    command
}

/// The relay as a process on `listen`, reading the broker at `kafka`, with
/// the test secret; returns once it listens.
pub async fn spawn_relay(kafka: &str, listen: &str, env: &[(&str, &str)]) -> tokio::process::Child {
    let child = relay_command()
        .env("KAFKA_BROKERS", kafka)
        .env("JWT_SECRET", SECRET)
        .env("LISTEN_ADDR", listen)
        .envs(env.iter().copied())
        .spawn()
        .expect("relay binary");
    wait_for_port(listen).await;
    child
}

/// `GET /readyz`'s status on the relay at `listen`; 0 when it does not answer.
pub async fn readyz(listen: &str) -> u16 {
    match reqwest::get(format!("http://{listen}/readyz")).await {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    }
}

/// Waits until `/readyz` on the relay at `listen` answers `status`.
pub async fn until_readyz(listen: &str, status: u16) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    while readyz(listen).await != status {
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz never answered {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until something listens on `addr`.
pub async fn wait_for_port(addr: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while TcpStream::connect(addr).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing listens on {addr}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every record of `topic` (all partitions) as `(key, payload)`, read from
/// the log's start to its current end with a plain consumer.
pub async fn records(bootstrap: &str, topic: &str) -> Vec<(String, String)> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::Message;
    let (bootstrap, topic) = (bootstrap.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", "test-reader")
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer");
        let metadata = consumer
            .fetch_metadata(Some(&topic), PATIENCE)
            .expect("metadata");
        let mut assignment = rdkafka::TopicPartitionList::new();
        let mut ends = std::collections::HashMap::new();
        for partition in metadata.topics()[0].partitions() {
            let (low, high) = consumer
                .fetch_watermarks(&topic, partition.id(), PATIENCE)
                .expect("watermarks");
            if high > low {
                assignment
                    .add_partition_offset(&topic, partition.id(), rdkafka::Offset::Offset(low))
                    .unwrap();
                ends.insert(partition.id(), high);
            }
        }
        consumer.assign(&assignment).unwrap();
        let mut found = Vec::new();
        let deadline = std::time::Instant::now() + PATIENCE;
        while !ends.is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "{topic} not read to its end"
            );
            if let Some(message) = consumer.poll(Duration::from_millis(100)) {
                let message = message.expect("record");
                let key = String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned();
                let payload =
                    String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned();
                found.push((key, payload));
                if ends.get(&message.partition()) == Some(&(message.offset() + 1)) {
                    ends.remove(&message.partition());
                }
            }
        }
        found
    })
    .await
    .unwrap()
}

/// Partition 0's `(low, high)` watermarks of `topic`.
pub async fn watermarks(bootstrap: &str, topic: &str) -> (i64, i64) {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let (bootstrap, topic) = (bootstrap.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .create()
            .expect("consumer");
        consumer
            .fetch_watermarks(&topic, 0, PATIENCE)
            .expect("watermarks")
    })
    .await
    .unwrap()
}

pub struct Producer(FutureProducer);

impl Producer {
    /// A producer that keeps retrying through a broker restart, without
    /// writing a message twice: idempotent, as an order service on Apache
    /// Kafka would be (librdkafka's default is not; a retry after a broker
    /// restart then wrote a second copy, which the chaos test saw as an
    /// event delivered twice). tansu 0.6 does not keep idempotence across
    /// its restarts, so not there.
    pub fn connect(bootstrap: &str) -> Producer {
        let idempotent = suite_broker() == Kind::Apache;
        let producer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("enable.idempotence", idempotent.to_string())
            .set("linger.ms", "0")
            .set("message.timeout.ms", "60000")
            .set("message.max.bytes", "10000000")
            .create()
            .expect("producer");
        Producer(producer)
    }

    pub async fn send(&self, topic: &str, key: &str, payload: impl AsRef<[u8]>) {
        let record = FutureRecord::to(topic).key(key).payload(payload.as_ref());
        self.0
            .send(record, PATIENCE)
            .await
            .map_err(|(e, _)| e)
            .expect("broker acknowledged");
    }
}

impl Producer {
    /// A message with headers (a sealed state record, say).
    pub async fn send_with_headers(
        &self,
        topic: &str,
        key: &str,
        payload: impl AsRef<[u8]>,
        headers: &[(&str, &str)],
    ) {
        let mut owned = rdkafka::message::OwnedHeaders::new();
        for (key, value) in headers {
            owned = owned.insert(rdkafka::message::Header {
                key,
                value: Some(*value),
            });
        }
        let record = FutureRecord::to(topic)
            .key(key)
            .payload(payload.as_ref())
            .headers(owned);
        self.0
            .send(record, PATIENCE)
            .await
            .map_err(|(e, _)| e)
            .expect("broker acknowledged");
    }

    /// A message with a key and no value (a Kafka tombstone).
    pub async fn send_tombstone(&self, topic: &str, key: &str) {
        let record: FutureRecord<'_, str, [u8]> = FutureRecord::to(topic).key(key);
        self.0
            .send(record, PATIENCE)
            .await
            .map_err(|(e, _)| e)
            .expect("broker acknowledged");
    }
}

/// The value of one sample (`name` with its labels, as rendered) in a
/// Prometheus text page.
pub fn metric(page: &str, sample: &str) -> f64 {
    page.lines()
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no `{sample}` in\n{page}"))
        .trim()
        .parse()
        .unwrap()
}

/// A relay started in-process against a broker.
pub struct Relay {
    pub running: Option<Running>,
    pub base: String,
    pub keys: Keys,
}

/// A broker, a ready relay on it and a producer to the broker: how most
/// tests begin.
pub async fn relay_and_producer() -> (Broker, Relay, Producer) {
    let broker = Broker::start().await;
    let relay = Relay::start(&broker).await;
    let producer = broker.producer();
    (broker, relay, producer)
}

/// A broker and a ready relay on it, with the test settings changed by
/// `tune`.
pub async fn relay_with(tune: impl FnOnce(&mut Config)) -> (Broker, Relay) {
    let broker = Broker::start().await;
    let mut config = config(&broker);
    tune(&mut config);
    let relay = Relay::start_with(&broker, config).await;
    (broker, relay)
}

/// Test settings: one partition per topic, so events of different orders
/// keep their publish order too.
pub fn config(broker: &Broker) -> Config {
    config_at(&broker.bootstrap)
}

/// [`config`] for the broker at `bootstrap`.
pub fn config_at(bootstrap: &str) -> Config {
    let mut config = Config::for_tests(bootstrap, SECRET);
    config.topic_partitions = 1;
    config.ping_interval_secs = 5;
    config
}

impl Relay {
    pub async fn start(broker: &Broker) -> Relay {
        Relay::start_with(broker, config(broker)).await
    }

    pub async fn start_with(broker: &Broker, config: Config) -> Relay {
        let relay = Relay::launch(broker, config).await;
        relay.wait_ready().await;
        relay
    }

    /// Starts the relay on the broker at `bootstrap` and waits until it is ready.
    pub async fn start_at(bootstrap: &str) -> Relay {
        let relay = Relay::launch_at(bootstrap, config_at(bootstrap)).await;
        relay.wait_ready().await;
        relay
    }

    /// Starts the relay without waiting for it to catch up with Kafka.
    pub async fn launch(broker: &Broker, config: Config) -> Relay {
        Relay::launch_at(&broker.bootstrap, config).await
    }

    pub async fn launch_at(bootstrap: &str, config: Config) -> Relay {
        let running = server::app::start(config, bootstrap)
            .await
            .expect("relay starts");
        Relay {
            base: format!("127.0.0.1:{}", running.addr.port()),
            running: Some(running),
            keys: Keys::new(SECRET.as_bytes()),
        }
    }

    /// `GET /readyz`'s status.
    pub async fn readyz(&self) -> u16 {
        reqwest::get(self.http("/readyz"))
            .await
            .expect("the relay answers")
            .status()
            .as_u16()
    }

    pub async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Ok(response) = reqwest::get(self.http("/readyz")).await {
                if response.status() == 200 {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "relay never became ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.base)
    }

    pub fn token(&self, user: &str, role: Role) -> String {
        self.keys.issue(user, role, Duration::from_secs(3600))
    }

    /// `GET /api/orders` as `user`.
    pub async fn orders(&self, user: &str, role: Role) -> OrdersSnapshot {
        orders_at(&self.http(""), &self.token(user, role)).await
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(self.http("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Connects as `user` and reads `connection:success`.
    pub async fn connect(&self, user: &str, role: Role) -> Client {
        let url = format!("ws://{}/ws?token={}", self.base, self.token(user, role));
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("upgrade");
        let mut client = Client { ws };
        match client.next().await {
            ServerEvent::ConnectionSuccess(info) => assert_eq!(info.user_id, user),
            other => panic!("expected connection:success, got {other:?}"),
        }
        client
    }

    /// Connects, subscribes with no cursor and returns the client with its
    /// snapshot (its parts joined, if it came in parts).
    pub async fn subscribed(
        &self,
        user: &str,
        role: Role,
    ) -> (Client, protocol::frames::OrdersSnapshot) {
        let mut client = self.connect(user, role).await;
        let snapshot = client.subscribe_fresh().await;
        (client, snapshot)
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.unwrap();
        }
    }
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub async fn send(&mut self, event: &ClientEvent) {
        self.send_text(&event.to_json()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    /// Subscribes with no cursor and returns the snapshot (its parts joined,
    /// if it came in parts).
    pub async fn subscribe_fresh(&mut self) -> OrdersSnapshot {
        self.send(&ClientEvent::SubscribeOrders { cursor: None })
            .await;
        let mut parts = protocol::frames::SnapshotParts::default();
        loop {
            match self.next().await {
                ServerEvent::OrdersSnapshot(part) => {
                    if let Some(whole) = parts.add(part) {
                        return whole;
                    }
                }
                other => panic!("expected orders:snapshot, got {other:?}"),
            }
        }
    }

    /// The next frame, as a typed event; pings are skipped (the relay's
    /// pings do not extend the wait).
    pub async fn next(&mut self) -> ServerEvent {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let message = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .expect("a frame in time")
                .expect("connection open")
                .expect("valid frame");
            match message {
                Message::Text(text) => {
                    return ServerEvent::from_json(&text).expect("a valid server frame")
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected message {other:?}"),
            }
        }
    }

    /// The next frame, which must be an order event: the event and its
    /// cursor.
    pub async fn next_order(&mut self) -> (OrderEvent, String) {
        match self.next().await {
            ServerEvent::Order { event, cursor } => (event, cursor),
            other => panic!("expected an order event, got {other:?}"),
        }
    }

    /// The next frame, which must be `order:created`.
    pub async fn next_created(&mut self) -> protocol::Order {
        match self.next_order().await.0 {
            OrderEvent::Created(order) => order,
            other => panic!("expected order:created, got {other:?}"),
        }
    }

    /// The next frame, which must be `order:updated`.
    pub async fn next_updated(&mut self) -> protocol::OrderUpdate {
        match self.next_order().await.0 {
            OrderEvent::Updated(update) => update,
            other => panic!("expected order:updated, got {other:?}"),
        }
    }

    /// The next frame, which must be `order:cancelled`.
    pub async fn next_cancelled(&mut self) -> protocol::OrderCancellation {
        match self.next_order().await.0 {
            OrderEvent::Cancelled(cancellation) => cancellation,
            other => panic!("expected order:cancelled, got {other:?}"),
        }
    }

    /// The close frame's code, skipping anything before it.
    pub async fn closed_with(&mut self) -> u16 {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("close in time");
            match message {
                Some(Ok(Message::Close(Some(frame)))) => return frame.code.into(),
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    }
}

/// An event's short description: `order:updated:abc123:shipped`.
pub fn describe(event: &ServerEvent) -> String {
    match event {
        ServerEvent::Order { event, .. } => {
            format!(
                "{}:{}:{}",
                event.frame_name(),
                event.order_id(),
                event.status().as_str()
            )
        }
        ServerEvent::Notification(n) => format!("notification:{}", n.message),
        other => other.name().to_owned(),
    }
}

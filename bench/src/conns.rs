//! Many authenticated, subscribed WebSocket connections, each read by its
//! own task that counts deliveries and records publish → receive latency.
//! They speak the relay's `/ws` frames or Socket.IO v4 over WebSocket
//! ([`Framing`]): Engine.IO's open packet, a CONNECT with the token, pings
//! answered, events as `42[name, data, cursor]`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use protocol::{ClientEvent, Role};
use server::web::auth::Keys;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::publish::{self, now_micros};

type Ws = WebSocketStream<TcpStream>;

/// Loopback source addresses to spread connections over, past the
/// ephemeral-port limit of one address.
const SOURCES: u8 = 16;

/// Engine.IO's heartbeat: the server's ping, the client's answer.
const ENGINE_PING: &str = "2";
const ENGINE_PONG: &str = "3";

/// How a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Framing {
    /// `/ws`: one JSON frame per event.
    Ws,
    /// `/socket.io/`, Engine.IO 4 over WebSocket.
    Socketio,
}

impl Framing {
    pub fn name(self) -> &'static str {
        match self {
            Framing::Ws => "ws",
            Framing::Socketio => "socketio",
        }
    }
}

/// One delivery: when it was published (seconds since the connections
/// opened) and how long it took to arrive (µs).
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    pub published_s: u32,
    pub micros: u32,
}

pub struct Conns {
    delivered: Arc<AtomicUsize>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Vec<Latency>>>,
}

impl Conns {
    pub fn delivered(&self) -> usize {
        self.delivered.load(Relaxed)
    }

    /// Stops every reader and returns every delivery's latency.
    pub async fn finish(self) -> Vec<Latency> {
        let _ = self.stop.send(true);
        let mut all = Vec::new();
        for task in self.tasks {
            all.extend(task.await.unwrap_or_default());
        }
        all
    }
}

/// Connects as `user`, from source address number `source`, and subscribes.
async fn connect(
    relay: &str,
    keys: &Keys,
    user: &str,
    role: Role,
    source: u8,
    cursor: Option<String>,
    framing: Framing,
) -> anyhow::Result<Ws> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, source)),
        0,
    ))?;
    let stream = socket
        .connect(relay.parse().context("relay must be ip:port")?)
        .await?;
    let token = keys.issue(user, role, Duration::from_secs(3600));
    // Small buffers: thousands of connections live in this one process.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let url = match framing {
        Framing::Ws => format!("ws://{relay}/ws?token={token}"),
        Framing::Socketio => format!("ws://{relay}/socket.io/?EIO=4&transport=websocket"),
    };
    let (mut ws, _) =
        tokio_tungstenite::client_async_with_config(url, stream, Some(config)).await?;
    match framing {
        Framing::Ws => {
            ws.send(Message::text(
                ClientEvent::SubscribeOrders { cursor }.to_json(),
            ))
            .await?;
        }
        Framing::Socketio => {
            // Engine.IO's open packet, then Socket.IO's CONNECT with the
            // token (ours subscribes at connect; the Node server too).
            loop {
                match ws.next().await {
                    Some(Ok(Message::Text(text))) if text.starts_with('0') => break,
                    Some(Ok(_)) => {}
                    other => bail!("no Engine.IO open packet: {other:?}"),
                }
            }
            let auth = serde_json::json!({ "token": token, "cursor": cursor });
            ws.send(Message::text(format!("40{auth}"))).await?;
        }
    }
    Ok(ws)
}

/// The cursor of an `orders:snapshot` in either framing.
fn snapshot_cursor(text: &str) -> anyhow::Result<Option<String>> {
    let cursor = match text.strip_prefix("42") {
        Some(packet) => serde_json::from_str::<serde_json::Value>(packet)?[1]["cursor"].clone(),
        None => serde_json::from_str::<serde_json::Value>(text)?["data"]["cursor"].clone(),
    };
    Ok(cursor.as_str().map(str::to_owned))
}

/// Reads until the `orders:snapshot` (or the first replayed event) arrives.
async fn until_subscribed(ws: &mut Ws) -> anyhow::Result<Option<String>> {
    while let Some(message) = ws.next().await {
        if let Message::Text(text) = message? {
            if text.contains("\"orders:snapshot\"") {
                return snapshot_cursor(&text);
            }
            if text.as_str() == ENGINE_PING {
                ws.send(Message::text(ENGINE_PONG)).await?;
            }
            if text.starts_with("44") {
                bail!("Socket.IO connect_error: {text}");
            }
        }
    }
    bail!("connection closed before the snapshot")
}

/// The publish time stamped in an order id `<tag>-<seq>-<micros>`.
fn stamped(text: &str, tag: &str) -> Option<u64> {
    let start = text.find("\"orderId\":\"")? + 11;
    let id = &text[start..start + text[start..].find('"')?];
    let rest = id.strip_prefix(tag)?.strip_prefix('-')?;
    rest.rsplit('-').next()?.parse().ok()
}

/// Opens `n` connections for users `u0..users`, all subscribed, and starts
/// reading them. With `heartbeat`, each also sends the protocol's `ping`
/// that often, as a browser's page does (docs/PROTOCOL.md §3.6).
pub async fn open(
    relay: &str,
    keys: &Keys,
    n: usize,
    users: usize,
    tag: &str,
    heartbeat: Option<Duration>,
    framing: Framing,
) -> anyhow::Result<Conns> {
    let delivered = Arc::new(AtomicUsize::new(0));
    let ready = Arc::new(AtomicUsize::new(0));
    let (stop, stopped) = watch::channel(false);
    let gate = Arc::new(Semaphore::new(128));
    let started = Instant::now();
    let opened_micros = now_micros();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let (relay, keys, tag) = (relay.to_owned(), keys.clone(), tag.to_owned());
        let (delivered, ready, gate, mut stopped) = (
            delivered.clone(),
            ready.clone(),
            gate.clone(),
            stopped.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let user = format!("u{}", i % users);
            let source = 1 + (i % SOURCES as usize) as u8;
            let mut ws = {
                let _permit = gate.acquire().await;
                let mut attempt = 0;
                loop {
                    let result = match connect(&relay, &keys, &user, Role::User, source, None, framing).await {
                        Ok(mut ws) => until_subscribed(&mut ws).await.map(|_| ws),
                        Err(e) => Err(e),
                    };
                    match result {
                        Ok(ws) => break ws,
                        Err(_) if attempt < 5 => attempt += 1,
                        Err(e) => {
                            eprintln!("connection {i} failed: {e}");
                            return Vec::new();
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            };
            ready.fetch_add(1, Relaxed);
            let mut latencies = Vec::new();
            let period = heartbeat.unwrap_or(Duration::from_secs(3600));
            // Spread the first pings over the period, as pages opened at
            // different times would.
            let first = period.mul_f64((i % 1000) as f64 / 1000.0);
            let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + first, period);
            let ping = Message::text(ClientEvent::Ping.to_json());
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    _ = beat.tick(), if heartbeat.is_some() => {
                        if ws.send(ping.clone()).await.is_err() {
                            break;
                        }
                    }
                    message = ws.next() => match message {
                        Some(Ok(Message::Text(text))) if text.as_str() == ENGINE_PING => {
                            if ws.send(Message::text(ENGINE_PONG)).await.is_err() {
                                break;
                            }
                        }
                        Some(Ok(Message::Text(text))) => {
                            if let Some(at) = stamped(&text, &tag) {
                                latencies.push(Latency {
                                    published_s: (at.saturating_sub(opened_micros) / 1_000_000) as u32,
                                    micros: now_micros().saturating_sub(at).min(u64::from(u32::MAX)) as u32,
                                });
                                delivered.fetch_add(1, Relaxed);
                            }
                        }
                        Some(Ok(_)) => {}
                        _ => break,
                    }
                }
            }
            latencies
        }));
    }
    while ready.load(Relaxed) < n {
        if started.elapsed() > Duration::from_secs(180) {
            bail!("only {} of {n} connections subscribed", ready.load(Relaxed));
        }
        if tasks.iter().all(JoinHandle::is_finished) {
            bail!(
                "connections failed: {} of {n} subscribed",
                ready.load(Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "{n} connections subscribed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(Conns {
        delivered,
        stop,
        tasks,
    })
}

/// A client that missed `missed` events resumes by cursor: the time from
/// sending `subscribe:orders` to having all of them.
pub async fn resume(
    relay: &str,
    kafka: &str,
    keys: &Keys,
    missed: usize,
) -> anyhow::Result<Duration> {
    let mut watcher = connect(
        relay,
        keys,
        "bench-admin",
        Role::Admin,
        1,
        None,
        Framing::Ws,
    )
    .await?;
    until_subscribed(&mut watcher).await?;
    let mut client = connect(relay, keys, "resumer", Role::User, 2, None, Framing::Ws).await?;
    let cursor = until_subscribed(&mut client).await?;
    drop(client);

    // An admin reads along, so we know when the relay has consumed them all.
    let watching = tokio::spawn(async move {
        let mut seen = 0;
        while seen < missed {
            match tokio::time::timeout(Duration::from_secs(30), watcher.next()).await {
                Ok(Some(Ok(Message::Text(text)))) if stamped(&text, "resume").is_some() => seen += 1,
                Ok(Some(Ok(_))) => {}
                other => bail!("the relay delivered {seen} of the {missed} published events to an admin: {other:?}"),
            }
        }
        Ok(())
    });
    let producer = publish::producer(kafka)?;
    for seq in 0..missed {
        let (id, json) = publish::created("resume", seq as u64, "resumer");
        producer
            .send(
                rdkafka::producer::BaseRecord::to("order.created")
                    .key(&id)
                    .payload(&json),
            )
            .map_err(|(e, _)| e)?;
    }
    rdkafka::producer::Producer::flush(&producer, Duration::from_secs(30))?;
    watching.await??;

    let started = Instant::now();
    let mut client = connect(relay, keys, "resumer", Role::User, 2, cursor, Framing::Ws).await?;
    let mut got = 0;
    while got < missed {
        match tokio::time::timeout(Duration::from_secs(10), client.next()).await {
            Ok(Some(Ok(Message::Text(text)))) if stamped(&text, "resume").is_some() => got += 1,
            Ok(Some(Ok(_))) => {}
            _ => bail!("resume delivered {got} of {missed} missed events (no replay?)"),
        }
    }
    Ok(started.elapsed())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_snapshot_cursor_is_read_in_either_framing() {
        let ws = r#"{"event":"orders:snapshot","data":{"orders":[],"cursor":"v1.0-0-3"}}"#;
        let sio = r#"42["orders:snapshot",{"orders":[],"cursor":"v1.0-0-3"}]"#;
        for text in [ws, sio] {
            assert_eq!(
                super::snapshot_cursor(text).unwrap().as_deref(),
                Some("v1.0-0-3")
            );
        }
    }

    #[test]
    fn publish_time_is_read_from_the_order_id() {
        let frame = r#"{"event":"order:created","data":{"orderId":"load-42-1700000000123456","buyerId":"u1"},"cursor":"v1"}"#;
        assert_eq!(super::stamped(frame, "load"), Some(1_700_000_000_123_456));
        assert_eq!(super::stamped(frame, "other"), None);
    }
}

//! The Socket.IO endpoint behind `deploy/nginx.conf`, over HTTP long-polling:
//! three relays, Debian's nginx running the shipped file, Apache Kafka, and
//! the real socket.io-client 4 (from npm, in Node) with polling as its only
//! transport. Every poll must reach the relay that holds the client's
//! Engine.IO session; spread over the relays as sockets are, the client
//! would fail at its second request ("Session ID unknown").
//!
//! And a Socket.IO client that stops reading is cut off as a `/ws` one is,
//! without slowing another of the same user.
//!
//! The rest of the endpoint (the seed's payloads, bob never seeing alice's,
//! resume by cursor, a relay restart) is client/e2e/socketio.cjs.

mod common;

use std::process::Stdio;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::Role;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

use common::nginx::Nginx;
use common::{created, Broker, Relay};

/// The client: polling only, through the proxy; one line per thing heard.
const CLIENT: &str = r#"
const { io } = require(process.env.SIO_CLIENT);
const socket = io(process.env.SIO_URL, { auth: { token: process.env.SIO_TOKEN }, transports: ['polling'] });
socket.on('connection:success', (data) => console.log('hello ' + JSON.stringify(data)));
socket.on('order:created', (data) => console.log('created ' + JSON.stringify(data)));
socket.on('connect_error', (e) => console.log('connect_error ' + e.message));
socket.on('disconnect', (why) => console.log('disconnect ' + why));
setTimeout(() => process.exit(0), 30000);
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_polling_socket_io_client_through_nginx_stays_with_one_relay() {
    let broker = Broker::start().await;
    let mut relays = Vec::new();
    for _ in 0..3 {
        relays.push(Relay::start(&broker).await);
    }
    let addrs: Vec<String> = relays.iter().map(|r| r.base.clone()).collect();
    let nginx = Nginx::start(&addrs).await;
    let producer = broker.producer();

    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut node = tokio::process::Command::new("node")
        .args(["-e", CLIENT])
        .env(
            "SIO_CLIENT",
            format!("{root}/bench/baseline-node/node_modules/socket.io-client"),
        )
        .env("SIO_URL", format!("http://{}", nginx.addr))
        .env("SIO_TOKEN", relays[0].token("alice", Role::User))
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs (.ci/install)");
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the client said nothing for 20 s\nnginx: {}",
                    nginx.error_log()
                )
            })
            .unwrap()
            .expect("the client is gone")
    };

    let hello = next().await;
    assert!(
        hello.starts_with("hello ") && hello.contains(r#""userId":"alice""#),
        "{hello}"
    );
    // Several polls go by (the subscription's snapshot, then waiting).
    tokio::time::sleep(Duration::from_secs(2)).await;
    producer
        .send("order.created", "sio-1", created("sio-1", "alice"))
        .await;
    producer
        .send("order.created", "sio-2", created("sio-2", "bob"))
        .await;
    producer
        .send("order.created", "sio-3", created("sio-3", "alice"))
        .await;
    let mut heard = Vec::new();
    while heard.len() < 2 {
        let line = next().await;
        assert!(line.starts_with("created "), "{line}");
        heard.push(line);
    }
    assert!(heard[0].contains(r#""orderId":"sio-1""#), "{heard:?}");
    assert!(heard[1].contains(r#""orderId":"sio-3""#), "{heard:?}");
    // Every request went through nginx (none straight to a relay).
    let log = nginx.access_log();
    assert!(log.contains("/socket.io/"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_io_client_that_stops_reading_is_cut_off_without_slowing_others() {
    let (broker, relay) = common::relay_with(|config| {
        config.client_queue = 4;
        config.max_message_bytes = 128 * 1024;
    })
    .await;
    let producer = broker.producer();
    // The hostile client: Engine.IO's handshake and a CONNECT by hand, then
    // it never reads again.
    let (mut stalled, _) = tokio_tungstenite::connect_async(format!(
        "ws://{}/socket.io/?EIO=4&transport=websocket",
        relay.base
    ))
    .await
    .unwrap();
    let Some(Ok(Message::Text(open))) = stalled.next().await else {
        panic!("no Engine.IO open packet")
    };
    assert!(open.starts_with("0{"), "{open}");
    let auth = serde_json::json!({ "token": relay.token("alice", Role::User) });
    stalled
        .send(Message::text(format!("40{auth}")))
        .await
        .unwrap();
    // Socket.IO's CONNECT answer (Engine.IO may ping first).
    loop {
        match stalled.next().await {
            Some(Ok(Message::Text(text))) if text.starts_with("40{") => break,
            Some(Ok(Message::Text(text))) if text.as_str() == "2" => {}
            other => panic!("no CONNECT answer: {other:?}"),
        }
    }
    let (mut reader, _) = relay.subscribed("alice", Role::User).await;

    // Big events (~91 KB) fill the stalled client's socket buffers, then
    // socketioxide's buffer, then its queue.
    for i in 0..120 {
        let id = format!("a{i}");
        producer
            .send("order.created", &id, common::big_created(&id, "alice"))
            .await;
        let order = reader.next_created().await;
        assert_eq!(order.order_id, id, "the other connection keeps up");
    }
    common::eventually("the stalled client cut off", || async {
        let metrics = relay.metrics().await;
        metrics.contains("relay_slow_disconnects_total 1")
            && metrics.contains("relay_ws_connections 1")
    })
    .await;
    relay.stop().await;
}

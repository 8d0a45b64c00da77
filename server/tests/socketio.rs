//! The Socket.IO endpoint behind `deploy/nginx.conf`, over HTTP long-polling:
//! three relays, Debian's nginx running the shipped file, Apache Kafka, and
//! the real socket.io-client 4 (from npm, in Node) with polling as its only
//! transport. Every poll must reach the relay that holds the client's
//! Engine.IO session; spread over the relays as sockets are, the client
//! would fail at its second request ("Session ID unknown").
//!
//! The rest of the endpoint (the seed's payloads, bob never seeing alice's,
//! resume by cursor, a relay restart) is client/e2e/socketio.cjs.

mod common;

use std::process::Stdio;
use std::time::Duration;

use protocol::Role;
use tokio::io::{AsyncBufReadExt, BufReader};

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

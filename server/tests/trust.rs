//! What the relay reads back is input too (issue #21): each test is the
//! attack, run against a real broker and a real relay, and each ends with
//! the relay alive, ready and delivering a new real event.
//!
//! - the state topic: an absurd count, a position past the end of the log,
//!   a forged (unsealed) checkpoint that gives alice an order;
//! - eviction: an evicted order's id reused by another buyer, or re-sent;
//! - Kafka payloads: an address nested 30,000 levels deep;
//! - logs: ids carrying a newline cannot write a line of their own.

mod common;

use std::time::Duration;

use common::{eventually, metric, Broker, Producer, Relay};
use protocol::Role;
use server::config::Config;
use server::kafka::checkpoint_seal::{SealKey, HEADER};
use tokio::io::AsyncBufReadExt;

const STATE: &str = "order.state";

fn with_checkpoints(broker: &Broker) -> Config {
    let mut config = common::config(broker);
    // Checkpoints on (so they are read at start), none written in the test.
    config.checkpoint_interval_secs = 3600;
    config
}

/// The relay's own seal key: what a relay with the shop's secret writes.
fn relay_key() -> SealKey {
    SealKey::derived_from(common::SECRET.as_bytes())
}

fn part(id: &str) -> String {
    format!(
        r#"{{"kind":"part","id":"{id}","index":0,"orders":[],"history":[],"early":[],"evicted":[]}}"#
    )
}

fn commit(id: &str, position: &str, orders: u64) -> String {
    format!(
        r#"{{"kind":"commit","id":"{id}","parts":1,"firstOffset":0,"position":"{position}","historyFrom":"v1","takenAt":"2025-11-12T10:30:00.000Z","orders":{orders}}}"#
    )
}

/// Writes a checkpoint's part and commit, sealed with `key` (or not).
async fn write_checkpoint(
    producer: &Producer,
    id: &str,
    part: &str,
    commit: &str,
    key: Option<&SealKey>,
) {
    for (record_key, payload) in [
        (format!("part:{id}"), part),
        (format!("commit:{id}"), commit),
    ] {
        match key {
            Some(key) => {
                let seal = key.seal(payload.as_bytes());
                producer
                    .send_with_headers(STATE, &record_key, payload, &[(HEADER, &seal)])
                    .await
            }
            None => producer.send(STATE, &record_key, payload).await,
        }
    }
}

/// Starts a relay once so that every topic (the state topic too) exists,
/// with one order of alice's in it.
async fn shop(broker: &Broker) -> Producer {
    let producer = broker.producer();
    let first = Relay::start_with(broker, with_checkpoints(broker)).await;
    producer
        .send(
            "order.created",
            "real-1",
            common::created("real-1", "alice"),
        )
        .await;
    eventually("the first relay saw alice's order", || async {
        first.orders("alice", Role::User).await.orders.len() == 1
    })
    .await;
    first.stop().await;
    producer
}

/// The relay is ready, and a new real event reaches alice's socket.
async fn still_delivers(relay: &Relay, producer: &Producer, id: &str) {
    relay.wait_ready().await;
    let mut alice = relay.connect("alice", Role::User).await;
    alice.subscribe_fresh().await;
    producer
        .send("order.created", id, common::created(id, "alice"))
        .await;
    let order = alice.next_created().await;
    assert_eq!(order.order_id, id);
}

/// Writes a checkpoint sealed with the relays' own key, claiming
/// `position` and `orders`; a relay started after it must refuse it with
/// `reason`, read the topics instead, and deliver.
async fn sealed_checkpoint_is_refused(id: &str, position: &str, orders: u64, reason: &str) {
    let broker = Broker::start().await;
    let producer = shop(&broker).await;
    let key = relay_key();
    write_checkpoint(
        &producer,
        id,
        &part(id),
        &commit(id, position, orders),
        Some(&key),
    )
    .await;
    let relay = Relay::start_with(&broker, with_checkpoints(&broker)).await;
    let page = relay.metrics().await;
    let refused = format!("relay_checkpoints_refused_total{{reason=\"{reason}\"}}");
    assert_eq!(metric(&page, &refused), 1.0);
    assert_eq!(metric(&page, "relay_checkpoint_restored_orders"), 0.0);
    still_delivers(&relay, &producer, "real-2").await;
    let orders = relay.orders("alice", Role::User).await.orders;
    assert_eq!(orders.len(), 2, "re-read from the topics");
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_commit_claiming_absurd_counts_is_refused_not_allocated() {
    // Before the fix: `Vec::with_capacity(u64::MAX)` aborted every relay
    // that started, again at every restart.
    sealed_checkpoint_is_refused("huge", "v1", u64::MAX, "inconsistent").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_past_the_end_of_the_log_cannot_make_the_relay_deaf() {
    // Sealed (a relay's key leaked, or a relay of a recreated topic): the
    // position check is what stands between it and a deaf relay.
    sealed_checkpoint_is_refused("ahead", "v1.0-0-1000000", 0, "ahead_of_log").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_checkpoint_is_never_served_as_truth() {
    let broker = Broker::start().await;
    let producer = shop(&broker).await;
    let forged_order = r#"{"order":{"orderId":"forged-1","buyerId":"alice","items":[],"subtotal":1,"tax":0,"total":1,"status":"pending","createdAt":"2025-11-12T10:30:00Z","updatedAt":"2025-11-12T10:30:00Z"}}"#;
    let forged_part = format!(
        r#"{{"kind":"part","id":"forged","index":0,"orders":[{forged_order}],"history":[],"early":[],"evicted":[]}}"#
    );
    // Well-formed, consistent, within the log; sealed with nothing, or with
    // a key that is not the relays'.
    let position = "v1.0-0-1";
    write_checkpoint(
        &producer,
        "forged",
        &forged_part,
        &commit("forged", position, 1),
        None,
    )
    .await;
    let other = SealKey::new(b"not the shop's key");
    write_checkpoint(
        &producer,
        "forged2",
        &forged_part.replace("\"forged\"", "\"forged2\""),
        &commit("forged2", position, 1),
        Some(&other),
    )
    .await;
    let relay = Relay::start_with(&broker, with_checkpoints(&broker)).await;
    let page = relay.metrics().await;
    assert!(
        // Both commits; their parts are never even read.
        metric(&page, "relay_state_records_unsealed_total") >= 2.0,
        "{page}"
    );
    assert_eq!(metric(&page, "relay_checkpoint_restored_orders"), 0.0);
    relay.wait_ready().await;
    let ids: Vec<String> = relay
        .orders("alice", Role::User)
        .await
        .orders
        .into_iter()
        .map(|o| o.order_id)
        .collect();
    assert_eq!(ids, ["real-1"], "her real order, and no forged one");
    still_delivers(&relay, &producer, "real-2").await;
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evicted_order_keeps_its_owner_and_never_comes_back() {
    let broker = Broker::start().await;
    let producer = broker.producer();
    let mut config = common::config(&broker);
    config.keep_finished_secs = 1;
    let relay = Relay::start_with(&broker, config).await;
    relay.wait_ready().await;
    let mut alice = relay.connect("alice", Role::User).await;
    alice.subscribe_fresh().await;
    let original = common::created("ord-1", "alice");
    producer.send("order.created", "ord-1", &original).await;
    alice.next_created().await;
    producer
        .send(
            "order.updated",
            "ord-1",
            r#"{"orderId":"ord-1","status":"delivered","updatedAt":"2025-11-12T10:31:00.000Z"}"#,
        )
        .await;
    alice.next_updated().await;
    eventually("the delivered order was evicted", || async {
        metric(&relay.metrics().await, "relay_orders_evicted_total") >= 1.0
    })
    .await;
    let mut mallory = relay.connect("mallory", Role::User).await;
    mallory.subscribe_fresh().await;
    // Another buyer claims the id; then the original is sent again.
    producer
        .send(
            "order.created",
            "ord-1",
            common::created("ord-1", "mallory"),
        )
        .await;
    producer.send("order.created", "ord-1", &original).await;
    eventually("both refused", || async {
        let page = relay.metrics().await;
        metric(
            &page,
            "relay_kafka_messages_rejected_total{reason=\"conflicting_created\"}",
        ) == 1.0
            && metric(
                &page,
                "relay_kafka_messages_rejected_total{reason=\"duplicate_created\"}",
            ) == 1.0
    })
    .await;
    assert!(
        relay.orders("mallory", Role::User).await.orders.is_empty(),
        "not mallory's"
    );
    assert!(
        relay.orders("alice", Role::User).await.orders.is_empty(),
        "not back as pending"
    );
    // Neither reached a socket: the next frame each gets is the new order.
    producer
        .send("order.created", "ord-2", common::created("ord-2", "alice"))
        .await;
    assert_eq!(alice.next_created().await.order_id, "ord-2");
    producer
        .send(
            "order.created",
            "ord-3",
            common::created("ord-3", "mallory"),
        )
        .await;
    assert_eq!(mallory.next_created().await.order_id, "ord-3");
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deeply_nested_address_from_kafka_reaches_nobody() {
    let broker = Broker::start().await;
    let producer = broker.producer();
    let relay = Relay::start(&broker).await;
    relay.wait_ready().await;
    let mut admin = relay.connect("root", Role::Admin).await;
    admin.subscribe_fresh().await;
    let depth = 30_000;
    // Arrays nest in 2 bytes a level: 30,000 levels in about 60 KB.
    let address = format!(r#"{{"a":{}{}}}"#, "[".repeat(depth), "]".repeat(depth));
    let bomb = format!(
        r#"{{"orderId":"deep-1","buyerId":"alice","total":5,"shippingAddress":{address},"createdAt":"2025-11-12T10:30:00.000Z"}}"#
    );
    assert!(
        bomb.len() < 64 * 1024,
        "fits under the message limit: {}",
        bomb.len()
    );
    producer.send("order.created", "deep-1", bomb).await;
    producer
        .send("order.created", "ok-1", common::created("ok-1", "alice"))
        .await;
    let order = admin.next_created().await;
    assert_eq!(order.order_id, "ok-1", "the bomb reached the admin first");
    let page = relay.metrics().await;
    assert_eq!(
        metric(
            &page,
            "relay_kafka_messages_rejected_total{reason=\"invalid\"}"
        ),
        1.0
    );
    let listed = reqwest::Client::new()
        .get(relay.http("/api/orders"))
        .bearer_auth(relay.token("root", Role::Admin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!listed.contains("deep-1"), "not in GET /api/orders");
    let value: serde_json::Value = serde_json::from_str(&listed).expect("a parseable answer");
    assert!(value["orders"].is_array());
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_with_a_newline_cannot_forge_a_log_line() {
    let broker = Broker::start().await;
    let producer = broker.producer();
    let listen = format!("127.0.0.1:{}", common::free_port());
    let mut child = common::relay_command()
        .env("KAFKA_BROKERS", &broker.bootstrap)
        .env("JWT_SECRET", common::SECRET)
        .env("LISTEN_ADDR", &listen)
        .env("TOPIC_PARTITIONS", "1")
        // Per-event and per-socket lines are debug: the ones ids reach.
        .env("RUST_LOG", "info,server=debug")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("relay binary");
    let stdout = child.stdout.take().unwrap();
    let lines = tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let mut all = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            all.push(line);
        }
        all
    });
    common::until_readyz(&listen, 200).await;
    let forged = "FORGED INFO admin granted";
    // A token whose user id carries a newline (a careless identity
    // provider), and Kafka messages naming such ids.
    let keys = server::web::auth::Keys::new(common::SECRET.as_bytes());
    let token = keys.issue(
        &format!("eve\n{forged}"),
        Role::User,
        Duration::from_secs(600),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{listen}/ws?token={token}"))
        .await
        .expect("upgrade");
    use futures_util::StreamExt;
    let first = tokio::time::timeout(common::PATIENCE, ws.next())
        .await
        .expect("connection:success in time")
        .unwrap()
        .unwrap();
    assert!(first.to_text().unwrap().contains("connection:success"));
    let evil_id = format!("ord-x\n{forged}");
    let payload = serde_json::json!({
        "orderId": evil_id, "buyerId": "alice", "total": 5,
        "createdAt": "2025-11-12T10:30:00.000Z"
    });
    producer
        .send("order.created", "x", payload.to_string())
        .await;
    let note =
        serde_json::json!({"userId": format!("bob\n{forged}"), "type": "info", "message": "hi"});
    producer.send("notifications", "n", note.to_string()).await;
    producer
        .send("order.created", "after", common::created("after", "alice"))
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(ws);
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().await.ok();
    let lines = tokio::time::timeout(common::PATIENCE, lines)
        .await
        .expect("the relay's output ended with it")
        .unwrap();
    assert!(
        lines.iter().any(|l| l.contains("after")),
        "the relay logged the real event:\n{}",
        lines.join("\n")
    );
    let forged_lines: Vec<&String> = lines.iter().filter(|l| l.starts_with(forged)).collect();
    assert!(forged_lines.is_empty(), "forged lines: {forged_lines:?}");
    assert!(
        lines.iter().any(|l| l.contains(r"eve\nFORGED")),
        "the id is logged escaped:\n{}",
        lines.join("\n")
    );
}

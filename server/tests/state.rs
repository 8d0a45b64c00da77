//! State bounded by what is live, and a start-up that does not depend on
//! the length of history (issue #14): checkpoints in the state topic, the
//! elected writer and its replacement, eviction of finished orders.
//!
//! Kafka deleting records under the relay (DeleteRecords, `retention.ms`)
//! is tested in kafka_ops.rs; it needs Apache Kafka (tansu 0.6 answers
//! `DeleteRecords` with `todo!()`), while this suite also runs on tansu
//! (`TEST_BROKER=tansu`). The first test shows the equivalent: a relay
//! started after a checkpoint reads **no** message the checkpoint covers
//! (counted by its own consumption metric), so deleting them would change
//! nothing, and it still shows the open order and applies its next update.

mod common;

use std::time::Duration;

use common::{config, eventually, metric, Broker, Relay};
use protocol::{OrderEvent, OrderStatus, Role, ServerEvent};
use server::config::Config;

fn with_checkpoints(broker: &Broker, secs: u64) -> Config {
    let mut config = config(broker);
    config.checkpoint_interval_secs = secs;
    config
}

fn updated(order_id: &str, status: &str, minute: u32) -> String {
    format!(
        r#"{{"orderId":"{order_id}","status":"{status}","updatedAt":"2025-11-12T11:{minute:02}:00.000Z"}}"#
    )
}

/// Order messages (created, updated, cancelled) this relay has read.
fn order_messages_read(page: &str) -> f64 {
    ["order.created", "order.updated", "order.cancelled"]
        .iter()
        .map(|topic| {
            metric(
                page,
                &format!("relay_kafka_messages_consumed_total{{topic=\"{topic}\"}}"),
            )
        })
        .sum()
}

async fn sample(relay: &Relay, name: &str) -> f64 {
    metric(&relay.metrics().await, name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_relay_starts_from_the_checkpoint_and_never_reads_what_it_covers() {
    let broker = Broker::start().await;
    let producer = broker.producer();
    let first = Relay::start_with(&broker, with_checkpoints(&broker, 1)).await;
    for i in 0..200 {
        let id = format!("o-{i}");
        producer
            .send("order.created", &id, common::created(&id, "alice"))
            .await;
    }
    for i in 100..200 {
        let id = format!("o-{i}");
        producer
            .send("order.updated", &id, updated(&id, "delivered", 1))
            .await;
    }
    eventually("the first relay read all 300 messages", || async {
        order_messages_read(&first.metrics().await) == 300.0
    })
    .await;
    let before = sample(&first, "relay_checkpoints_written_total").await;
    eventually("a checkpoint covering all 300 was written", || async {
        sample(&first, "relay_checkpoints_written_total").await > before
    })
    .await;
    first.stop().await;

    // After the checkpoint: the one message the next relay must read.
    producer
        .send("order.updated", "o-0", updated("o-0", "shipped", 2))
        .await;
    let second = Relay::start_with(&broker, with_checkpoints(&broker, 1)).await;
    let page = second.metrics().await;
    assert_eq!(metric(&page, "relay_checkpoint_restored_orders"), 200.0);
    assert_eq!(
        order_messages_read(&page),
        1.0,
        "nothing the checkpoint covers was read"
    );
    let (mut alice, snapshot) = second.subscribed("alice", Role::User).await;
    assert_eq!(snapshot.orders.len(), 200);
    let o0 = snapshot
        .orders
        .iter()
        .find(|o| o.order_id == "o-0")
        .unwrap();
    assert_eq!(o0.status, OrderStatus::Shipped);
    producer
        .send("order.updated", "o-0", updated("o-0", "delivered", 3))
        .await;
    match alice.next().await {
        ServerEvent::Order {
            event: OrderEvent::Updated(update),
            ..
        } => assert_eq!(
            (update.order_id.as_str(), update.status),
            ("o-0", OrderStatus::Delivered)
        ),
        other => panic!("expected o-0's update, got {other:?}"),
    }
    second.stop().await;
}

/// A cursor handed out before a restart still replays after it: the
/// checkpoint carries the recent history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_from_before_a_restart_from_checkpoint_still_replays() {
    let broker = Broker::start().await;
    let producer = broker.producer();
    let first = Relay::start_with(&broker, with_checkpoints(&broker, 1)).await;
    let (mut bob, _) = first.subscribed("bob", Role::User).await;
    producer
        .send("order.created", "b1", common::created("b1", "bob"))
        .await;
    let ServerEvent::Order { cursor, .. } = bob.next().await else {
        panic!("bob expected his order")
    };
    producer
        .send("order.updated", "b1", updated("b1", "processing", 1))
        .await;
    bob.next().await;
    let before = sample(&first, "relay_checkpoints_written_total").await;
    eventually("a checkpoint after both events", || async {
        sample(&first, "relay_checkpoints_written_total").await > before
    })
    .await;
    first.stop().await;

    let second = Relay::start_with(&broker, with_checkpoints(&broker, 1)).await;
    assert_eq!(
        sample(&second, "relay_checkpoint_restored_orders").await,
        1.0
    );
    let mut bob = second.connect("bob", Role::User).await;
    bob.send(&protocol::ClientEvent::SubscribeOrders {
        cursor: Some(cursor),
    })
    .await;
    assert_eq!(
        common::describe(&bob.next().await),
        "order:updated:b1:processing",
        "replayed from the restored history, not a snapshot"
    );
    second.stop().await;
}

/// Relays as processes, so the writer can die without a goodbye.
async fn spawn(broker: &Broker) -> (tokio::process::Child, String) {
    let listen = format!("127.0.0.1:{}", common::free_port());
    let env = [("CHECKPOINT_INTERVAL_SECS", "1"), ("TOPIC_PARTITIONS", "1")];
    let child = common::spawn_relay(&broker.bootstrap, &listen, &env).await;
    (child, listen)
}

async fn process_metric(listen: &str, name: &str) -> f64 {
    let page = match reqwest::get(format!("http://{listen}/metrics")).await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => return 0.0,
    };
    page.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Kafka's group coordination elects one writer among the relays; when it
/// is SIGKILLed, the group gives the job to another within its session
/// timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_relay_writes_checkpoints_and_another_takes_over_when_it_dies() {
    let broker = Broker::start().await;
    let mut relays = vec![spawn(&broker).await, spawn(&broker).await];
    let writers = |relays: &[(tokio::process::Child, String)]| {
        let addresses: Vec<String> = relays.iter().map(|(_, a)| a.clone()).collect();
        async move {
            let mut elected = Vec::new();
            for address in &addresses {
                if process_metric(address, "relay_checkpoint_writer").await == 1.0 {
                    elected.push(address.clone());
                }
            }
            elected
        }
    };
    let mut elected = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while elected.len() != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no single writer: {elected:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        elected = writers(&relays).await;
    }
    let index = relays.iter().position(|(_, a)| *a == elected[0]).unwrap();
    let (mut writer, _) = relays.remove(index);
    writer.kill().await.unwrap();
    let survivor = relays[0].1.clone();
    let written = process_metric(&survivor, "relay_checkpoints_written_total").await;
    let started = tokio::time::Instant::now();
    let deadline = started + Duration::from_secs(60);
    while process_metric(&survivor, "relay_checkpoints_written_total").await <= written {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the survivor never took over"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        process_metric(&survivor, "relay_checkpoint_writer").await,
        1.0
    );
    eprintln!(
        "the survivor wrote a checkpoint {:?} after the writer died",
        started.elapsed()
    );
}

/// Finished orders leave memory, snapshots and the API after the keep
/// time; open ones stay; a cursor into what was evicted gets a snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_orders_are_evicted_after_the_keep_time() {
    let broker = Broker::start().await;
    let producer = broker.producer();
    let mut config = config(&broker);
    config.keep_finished_secs = 1;
    let relay = Relay::start_with(&broker, config).await;
    let (mut alice, snapshot) = relay.subscribed("alice", Role::User).await;
    let old_cursor = snapshot.cursor;
    for i in 0..50 {
        let id = format!("o-{i}");
        producer
            .send("order.created", &id, common::created(&id, "alice"))
            .await;
    }
    for i in 0..40 {
        let id = format!("o-{i}");
        let status = if i % 2 == 0 { "delivered" } else { "cancelled" };
        if status == "cancelled" {
            let cancel =
                format!(r#"{{"orderId":"{id}","cancelledAt":"2025-11-12T11:00:00.000Z"}}"#);
            producer.send("order.cancelled", &id, cancel).await;
        } else {
            producer
                .send("order.updated", &id, updated(&id, status, 1))
                .await;
        }
    }
    for _ in 0..90 {
        alice.next().await;
    }
    eventually("40 finished orders evicted, 10 open ones kept", || async {
        let page = relay.metrics().await;
        metric(&page, "relay_orders") == 10.0 && metric(&page, "relay_orders_evicted_total") == 40.0
    })
    .await;
    let admin = relay.orders("root", Role::Admin).await;
    let mut kept: Vec<String> = admin.orders.into_iter().map(|o| o.order_id).collect();
    kept.sort();
    let open: Vec<String> = {
        let mut open: Vec<String> = (40..50).map(|i| format!("o-{i}")).collect();
        open.sort();
        open
    };
    assert_eq!(kept, open);
    let page = relay.metrics().await;
    assert!(
        metric(&page, "relay_history_events") <= 10.0,
        "their history went too"
    );

    let mut late = relay.connect("alice", Role::User).await;
    late.send(&protocol::ClientEvent::SubscribeOrders {
        cursor: Some(old_cursor),
    })
    .await;
    match late.next().await {
        ServerEvent::OrdersSnapshot(snapshot) => assert_eq!(snapshot.orders.len(), 10),
        other => panic!("a cursor into the evicted range needs a snapshot, got {other:?}"),
    }
    relay.stop().await;
}

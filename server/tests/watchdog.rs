//! The consumer watchdog, against a real broker: a consumer made to stall
//! underneath the relay (its partitions paused after some messages, as if
//! librdkafka had stopped waking it) is rebuilt at the relay's own position,
//! and every client ends with every event exactly once.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{created, describe, metric};
use protocol::Role;

fn updated(order_id: &str) -> String {
    format!(
        r#"{{"orderId":"{order_id}","status":"processing","previousStatus":"pending","updatedAt":"2025-11-12T11:00:00.000Z"}}"#
    )
}

const STALL_TIMEOUT: Duration = Duration::from_millis(1500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_consumer_is_rebuilt_at_its_position_and_every_client_gets_every_event_once() {
    let (broker, relay) = common::relay_with(|config| {
        config.kafka_stall_timeout_ms = STALL_TIMEOUT.as_millis() as u64;
        config.fault_stall_consumer_after = Some(10);
    })
    .await;
    let users = ["ann", "ben", "cat"];
    let mut clients = Vec::new();
    for user in users {
        clients.push((user, relay.subscribed(user, Role::User).await.0));
    }
    let (mut admin, _) = relay.subscribed("root", Role::Admin).await;

    let producer = broker.producer();
    let mut expected: HashMap<&str, Vec<String>> = HashMap::new();
    for i in 0..30 {
        let user = users[i % users.len()];
        let id = format!("o{i}");
        producer
            .send("order.created", &id, created(&id, user))
            .await;
        producer.send("order.updated", &id, updated(&id)).await;
        let mine = expected.entry(user).or_default();
        mine.push(format!("order:created:{id}:pending"));
        mine.push(format!("order:updated:{id}:processing"));
    }
    let published = Instant::now();

    // Every user gets exactly their 20 events, once each; the admin all 60.
    // (An update read before its order's created event reaches the buyer
    // just before it: docs/PROTOCOL.md §1.5. So compare as sets.)
    for (user, client) in &mut clients {
        let mut seen = Vec::new();
        while seen.len() < expected[user].len() {
            seen.push(describe(&client.next().await));
        }
        seen.sort();
        let mut want = expected[user].clone();
        want.sort();
        assert_eq!(seen, want, "{user}'s events");
    }
    let recovered = published.elapsed();
    eprintln!("every user had every event {recovered:?} after the last publish");
    // The stall is noticed after the timeout; checks run every 200 ms while
    // behind; the rebuilt consumer then needs a fetch or two.
    assert!(
        recovered < STALL_TIMEOUT + Duration::from_secs(8),
        "recovered after {recovered:?}"
    );

    // Nothing more for anyone: one more event shows what comes next.
    producer
        .send("order.created", "last", created("last", "ann"))
        .await;
    assert_eq!(
        describe(&clients[0].1.next().await),
        "order:created:last:pending"
    );
    // The admin saw all 60 events; each created event once (an update that
    // overtook its created event is sent again just before it, §1.5).
    let mut admin_saw: HashMap<String, usize> = HashMap::new();
    loop {
        let seen = describe(&admin.next().await);
        if seen == "order:created:last:pending" {
            break;
        }
        *admin_saw.entry(seen).or_default() += 1;
    }
    assert_eq!(admin_saw.len(), 60, "{admin_saw:?}");
    for (event, times) in &admin_saw {
        let limit = if event.starts_with("order:created") {
            1
        } else {
            2
        };
        assert!(*times <= limit, "{event} {times} times");
    }

    let page = relay.metrics().await;
    assert_eq!(
        metric(
            &page,
            "relay_kafka_consumer_rebuilds_total{reason=\"stalled\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &page,
            "relay_kafka_consumer_rebuilds_total{reason=\"died\"}"
        ),
        0.0
    );
    // The lag gauge follows at the next check.
    common::eventually("the lag never went back to 0", || async {
        metric(&relay.metrics().await, "relay_kafka_consumer_lag") == 0.0
    })
    .await;
    let health = reqwest::get(relay.http("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    // The read model holds each order once, at its latest status.
    let orders = relay.orders("root", Role::Admin).await;
    assert_eq!(orders.orders.len(), 31);
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_that_rebuilding_cannot_fix_turns_healthz_503() {
    let (broker, relay) = common::relay_with(|config| {
        config.kafka_stall_timeout_ms = 1000;
        config.fault_stall_consumer_after = Some(2);
        config.fault_stall_every_consumer = true;
    })
    .await;
    let producer = broker.producer();
    for i in 0..5 {
        let id = format!("o{i}");
        producer
            .send("order.created", &id, created(&id, "ann"))
            .await;
    }
    common::eventually("/healthz never turned 503", || async {
        reqwest::get(relay.http("/healthz")).await.unwrap().status() == 503
    })
    .await;
    let body = reqwest::get(relay.http("/healthz"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("restart the relay"), "{body}");
    assert_eq!(relay.readyz().await, 503);
    let page = relay.metrics().await;
    assert!(
        metric(
            &page,
            "relay_kafka_consumer_rebuilds_total{reason=\"stalled\"}"
        ) >= 2.0
    );
    relay.stop().await;
}

//! Faulty and hostile producers, on a real broker: each test is the attack
//! as someone with write access to the order topics would run it (§1.5 of
//! docs/PROTOCOL.md). The rule under test: ownership is decided once, by the
//! order's `order.created`, and an event time cannot run ahead of the clock.

mod common;

use common::{created, describe, metric, Client};
use protocol::{ClientEvent, Role};

/// Publishes a marker order for `user` and checks it is the next thing the
/// client sees: nothing else reached it before.
async fn nothing_else_reached(client: &mut Client, relay_producer: &common::Producer, user: &str) {
    let marker = format!("marker-{user}");
    relay_producer
        .send("order.created", &marker, created(&marker, user))
        .await;
    assert_eq!(
        describe(&client.next().await),
        format!("order:created:{marker}:pending"),
        "{user} saw something before their marker"
    );
}

fn ids(snapshot: &protocol::frames::OrdersSnapshot) -> Vec<(String, String)> {
    snapshot
        .orders
        .iter()
        .map(|o| (o.order_id.clone(), o.status.as_str().to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_naming_another_buyer_before_the_created_event_reaches_nobody_and_the_owner_gets_his_order(
) {
    let (_broker, relay, producer) = common::relay_and_producer().await;
    let (mut hal, before) = relay.subscribed("hal", Role::User).await;
    let (mut mallory, _) = relay.subscribed("mallory", Role::User).await;
    let (mut admin, _) = relay.subscribed("root", Role::Admin).await;

    // Mallory's update comes first and claims hal's order.
    producer
        .send(
            "order.updated",
            "h1",
            r#"{"orderId":"h1","buyerId":"mallory","status":"delivered","updatedAt":"2025-11-12T11:00:00.000Z"}"#,
        )
        .await;
    producer
        .send(
            "order.created",
            "h1",
            r#"{"orderId":"h1","buyerId":"hal","total":5,"shippingAddress":{"street":"1 Hal Road"},"createdAt":"2025-11-12T10:30:00.000Z"}"#,
        )
        .await;

    let order = hal.next_created().await;
    assert_eq!(
        (order.order_id.as_str(), order.buyer_id.as_str()),
        ("h1", "hal")
    );
    assert_eq!(
        describe(&admin.next().await),
        "order:created:h1:pending",
        "admins get the order, not the refused update"
    );
    // The admin first: admins see every marker.
    nothing_else_reached(&mut admin, &producer, "root").await;
    nothing_else_reached(&mut hal, &producer, "hal").await;
    nothing_else_reached(&mut mallory, &producer, "mallory").await;

    // The same in the read model, the API and a replay from before the attack.
    let page = relay.metrics().await;
    assert_eq!(
        metric(
            &page,
            r#"relay_kafka_messages_rejected_total{reason="buyer_mismatch"}"#
        ),
        1.0
    );
    let hal_orders = ids(&relay.orders("hal", Role::User).await);
    assert!(
        hal_orders.contains(&("h1".into(), "pending".into())),
        "{hal_orders:?}"
    );
    let mallory_orders = ids(&relay.orders("mallory", Role::User).await);
    assert!(
        !mallory_orders.iter().any(|(id, _)| id == "h1"),
        "{mallory_orders:?}"
    );
    let mut resumed = relay.connect("hal", Role::User).await;
    resumed
        .send(&ClientEvent::SubscribeOrders {
            cursor: Some(before.cursor),
        })
        .await;
    assert_eq!(describe(&resumed.next().await), "order:created:h1:pending");
    assert_eq!(
        describe(&resumed.next().await),
        "order:created:marker-hal:pending",
        "the replay holds no refused event"
    );
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_created_event_reusing_an_order_id_reaches_nobody() {
    let (_broker, relay, producer) = common::relay_and_producer().await;
    let (mut hal, _) = relay.subscribed("hal", Role::User).await;
    let (mut mallory, _) = relay.subscribed("mallory", Role::User).await;
    let (mut admin, _) = relay.subscribed("root", Role::Admin).await;

    producer
        .send("order.created", "d1", created("d1", "hal"))
        .await;
    assert_eq!(describe(&hal.next().await), "order:created:d1:pending");
    assert_eq!(describe(&admin.next().await), "order:created:d1:pending");
    // Another buyer's order under hal's id, address included.
    producer
        .send(
            "order.created",
            "d1",
            r#"{"orderId":"d1","buyerId":"mallory","total":7,"shippingAddress":{"street":"2 Mallory Lane"},"createdAt":"2025-11-12T10:31:00.000Z"}"#,
        )
        .await;
    // Hal's own payload changed (another total): also refused.
    producer
        .send(
            "order.created",
            "d1",
            r#"{"orderId":"d1","buyerId":"hal","total":1000,"createdAt":"2025-11-12T10:30:00.000Z"}"#,
        )
        .await;
    // And a plain producer retry of the original: a duplicate, not delivered again.
    producer
        .send("order.created", "d1", created("d1", "hal"))
        .await;
    // The admin first: admins see every marker.
    nothing_else_reached(&mut admin, &producer, "root").await;
    nothing_else_reached(&mut hal, &producer, "hal").await;
    nothing_else_reached(&mut mallory, &producer, "mallory").await;

    let page = relay.metrics().await;
    for (reason, count) in [("conflicting_created", 2.0), ("duplicate_created", 1.0)] {
        let sample = format!(r#"relay_kafka_messages_rejected_total{{reason="{reason}"}}"#);
        assert_eq!(metric(&page, &sample), count, "{reason}");
    }
    let all = relay.orders("root", Role::Admin).await;
    let d1 = all.orders.iter().find(|o| o.order_id == "d1").unwrap();
    assert_eq!((d1.buyer_id.as_str(), d1.total), ("hal", 5.0));
    assert!(!ids(&relay.orders("mallory", Role::User).await)
        .iter()
        .any(|(id, _)| id == "d1"));
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_dated_year_9999_is_refused_and_the_next_real_update_applies() {
    let (_broker, relay, producer) = common::relay_and_producer().await;
    let (mut alice, _) = relay.subscribed("alice", Role::User).await;

    producer
        .send("order.created", "f1", created("f1", "alice"))
        .await;
    assert_eq!(describe(&alice.next().await), "order:created:f1:pending");
    producer
        .send(
            "order.updated",
            "f1",
            r#"{"orderId":"f1","status":"delivered","updatedAt":"9999-12-31T23:59:59.000Z"}"#,
        )
        .await;
    producer
        .send(
            "order.updated",
            "f1",
            r#"{"orderId":"f1","status":"processing","updatedAt":"2025-11-12T11:00:00.000Z"}"#,
        )
        .await;
    assert_eq!(
        describe(&alice.next().await),
        "order:updated:f1:processing",
        "the year-9999 update reaches nobody; the real one applies"
    );
    let page = relay.metrics().await;
    assert_eq!(
        metric(
            &page,
            r#"relay_kafka_messages_rejected_total{reason="future_time"}"#
        ),
        1.0
    );
    // A command made now is stamped now, not after year 9999.
    let response = reqwest::Client::new()
        .post(relay.http("/api/orders/f1/cancel"))
        .bearer_auth(relay.token("alice", Role::User))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let cancel = alice.next_cancelled().await;
    assert!(
        cancel.cancelled_at.to_string().starts_with("20"),
        "{cancel:?}"
    );
    relay.stop().await;
}

/// A producer that updates orders that never existed (or keeps updating
/// orders long gone) cannot grow the relay without bound: events for at most
/// `--max-waiting-orders` orders are held, the oldest are dropped and
/// counted, and the relay goes on delivering to everyone else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_for_orders_that_never_existed_are_held_for_at_most_the_cap() {
    let (broker, relay) = common::relay_with(|config| config.max_waiting_orders = 10).await;
    let producer = broker.producer();
    let (mut alice, _) = relay.subscribed("alice", Role::User).await;
    for i in 0..50 {
        let id = format!("ghost-{i}");
        let update = format!(
            r#"{{"orderId":"{id}","buyerId":"alice","status":"shipped","updatedAt":"2025-11-12T11:00:00.000Z"}}"#
        );
        producer.send("order.updated", &id, update).await;
    }
    common::eventually("40 held events were never dropped", || async {
        metric(&relay.metrics().await, "relay_held_events_expired_total") == 40.0
    })
    .await;
    nothing_else_reached(&mut alice, &producer, "alice").await;
    let page = relay.metrics().await;
    assert_eq!(metric(&page, "relay_held_events_expired_total"), 40.0);
    assert_eq!(
        metric(&page, "relay_history_events"),
        11.0,
        "10 held, 1 marker"
    );

    // A dropped ghost that turns out to exist starts from its own status;
    // a ghost still held is released with its order.
    producer
        .send("order.created", "ghost-0", created("ghost-0", "alice"))
        .await;
    assert_eq!(
        describe(&alice.next().await),
        "order:created:ghost-0:pending"
    );
    producer
        .send("order.created", "ghost-49", created("ghost-49", "alice"))
        .await;
    assert_eq!(
        describe(&alice.next().await),
        "order:updated:ghost-49:shipped"
    );
    assert_eq!(
        describe(&alice.next().await),
        "order:created:ghost-49:pending"
    );
    relay.stop().await;
}

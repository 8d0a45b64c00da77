//! Checkout as a shop's clients and attackers use it, on a real broker:
//! retries with an `Idempotency-Key` (while the broker is down, across a
//! relay restart), the limits that make a 2xx mean "the order will appear",
//! and snapshots of many big orders (§4.2 and §3.2 of docs/PROTOCOL.md).

mod common;

use common::{describe, metric, Broker, Client, DurableBroker, Relay};
use protocol::frames::{OrdersSnapshot, SnapshotParts};
use protocol::{ClientEvent, Order, Role, ServerEvent};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

fn cart() -> Value {
    json!({"items": [{"productId": "p1", "name": "Mug", "quantity": 2, "price": 4.5}], "shippingAddress": {"city": "Lyon"}})
}

async fn checkout(relay: &Relay, user: &str, key: Option<&str>, body: &Value) -> Response {
    let mut request = reqwest::Client::new()
        .post(relay.http("/api/orders"))
        .bearer_auth(relay.token(user, Role::User))
        .json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.unwrap()
}

/// A keyed checkout retried while it answers 503, as a client does.
async fn retried(relay: &Relay, user: &str, key: &str, body: &Value) -> Response {
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    loop {
        let response = checkout(relay, user, Some(key), body).await;
        if response.status() != StatusCode::SERVICE_UNAVAILABLE
            || tokio::time::Instant::now() > deadline
        {
            return response;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn error_code(response: Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    (status, body["error"]["code"].as_str().unwrap().to_owned())
}

async fn published(relay: &Relay) -> f64 {
    metric(&relay.metrics().await, "relay_commands_published_total")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_retried_with_its_key_while_the_broker_is_down_makes_one_order() {
    let mut broker = DurableBroker::start("idempotency").await;
    // Pings every 60 s: this test's client reads nothing during the outage
    // (a browser would answer the relay's pings meanwhile).
    let mut config = common::config_at(&broker.bootstrap);
    config.ping_interval_secs = 60;
    let relay = Relay::launch_at(&broker.bootstrap, config).await;
    relay.wait_ready().await;
    let (mut alice, _) = relay.subscribed("alice", Role::User).await;

    broker.stop().await;
    for attempt in 0..2 {
        let (status, code) =
            error_code(checkout(&relay, "alice", Some("k-1"), &cart()).await).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "attempt {attempt}");
        assert!(
            ["broker_unavailable", "not_ready"].contains(&code.as_str()),
            "{code}"
        );
    }
    broker.restart().await;
    relay.wait_ready().await;
    let first = retried(&relay, "alice", "k-1", &cart()).await;
    if first.status() != StatusCode::CREATED {
        panic!("after the broker's return: {:?}", error_code(first).await);
    }
    let order: Order = first.json().await.unwrap();
    assert_eq!(
        describe(&alice.next().await),
        format!("order:created:{}:pending", order.order_id)
    );
    // Just after the broker's return, readiness may take one more lag check.
    let again = retried(&relay, "alice", "k-1", &cart()).await;
    assert_eq!(again.status(), StatusCode::OK, "a retry of a placed order");
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let same: Order = again.json().await.unwrap();
    assert_eq!(same.order_id, order.order_id);
    assert_eq!(published(&relay).await, 1.0, "the retry published nothing");

    // Nothing else reached alice, and she has one order.
    let marker = checkout(&relay, "alice", None, &cart()).await;
    let marker: Order = marker.json().await.unwrap();
    assert_eq!(
        describe(&alice.next().await),
        format!("order:created:{}:pending", marker.order_id)
    );
    assert_eq!(relay.orders("alice", Role::User).await.orders.len(), 2);
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_retried_with_its_key_after_a_relay_restart_gets_the_same_order_and_publishes_nothing(
) {
    let broker = Broker::start().await;
    let relay = Relay::start(&broker).await;
    let (mut alice, _) = relay.subscribed("alice", Role::User).await;
    let placed = checkout(&relay, "alice", Some("order-2025-11-12-a"), &cart()).await;
    assert_eq!(placed.status(), StatusCode::CREATED);
    let order: Order = placed.json().await.unwrap();
    alice.next().await;
    relay.stop().await;

    let restarted = Relay::start(&broker).await;
    let retry = checkout(&restarted, "alice", Some("order-2025-11-12-a"), &cart()).await;
    assert_eq!(retry.status(), StatusCode::OK);
    let same: Order = retry.json().await.unwrap();
    assert_eq!(same.order_id, order.order_id);
    assert_eq!(published(&restarted).await, 0.0);

    // The same key for another cart is a client bug: said so, nothing placed.
    let other = json!({"items": [{"productId": "p2", "name": "Tea", "quantity": 1, "price": 3}]});
    assert_eq!(
        error_code(checkout(&restarted, "alice", Some("order-2025-11-12-a"), &other).await).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused".into()
        )
    );
    // Keys are per caller: bob's same key is bob's own order.
    let bob = checkout(&restarted, "bob", Some("order-2025-11-12-a"), &cart()).await;
    assert_eq!(bob.status(), StatusCode::CREATED);
    let bob: Order = bob.json().await.unwrap();
    assert_ne!(bob.order_id, order.order_id);
    // Keys that are not 1-128 visible ASCII characters.
    for key in ["", &"k".repeat(129), "with space", "naïve"] {
        let response = reqwest::Client::new()
            .post(restarted.http("/api/orders"))
            .bearer_auth(restarted.token("alice", Role::User))
            .header(
                "Idempotency-Key",
                reqwest::header::HeaderValue::from_bytes(key.as_bytes()).unwrap(),
            )
            .json(&cart())
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_code(response).await,
            (StatusCode::BAD_REQUEST, "invalid_idempotency_key".into()),
            "{key:?}"
        );
    }
    assert_eq!(published(&restarted).await, 1.0, "bob's order only");
    let admin = restarted.orders("root", Role::Admin).await;
    assert_eq!(
        admin
            .orders
            .iter()
            .filter(|o| o.order_id == order.order_id)
            .count(),
        1
    );
    restarted.stop().await;
}

/// The biggest cart the limits allow: 100 lines, 64-character product ids,
/// 200-character names, a 4096-byte address.
fn biggest_cart(tag: &str) -> Value {
    let items: Vec<Value> = (0..100)
        .map(|i| {
            json!({
                "productId": format!("{tag}-{i:03}-{}", "p".repeat(64 - tag.len() - 5)),
                "name": "n".repeat(200),
                "quantity": 1000,
                "price": 99999.99
            })
        })
        .collect();
    let street = "s".repeat(4096 - r#"{"street":""}"#.len());
    json!({"items": items, "shippingAddress": {"street": street}})
}

fn with(mut cart: Value, pointer: &str, value: Value) -> Value {
    *cart.pointer_mut(pointer).unwrap() = value;
    cart
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_limits_keep_every_accepted_order_deliverable_walked_at_the_edge() {
    let broker = Broker::start().await;
    let relay = Relay::start(&broker).await;
    let (mut alice, _) = relay.subscribed("alice", Role::User).await;

    // Each limit at its edge is accepted; one past it is refused, unpublished.
    let biggest = biggest_cart("a");
    let response = checkout(&relay, "alice", None, &biggest).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let order: Order = response.json().await.unwrap();
    let size = protocol::OrderEvent::Created(order.clone()).to_json().len();
    assert!(
        size < 64 * 1024,
        "the biggest order's event is {size} bytes"
    );
    assert_eq!(
        describe(&alice.next().await),
        format!("order:created:{}:pending", order.order_id),
        "the biggest order appears"
    );
    let too_long_name = json!("n".repeat(201));
    let too_long_id = json!("p".repeat(65));
    let mut too_many = biggest_cart("b");
    too_many["items"]
        .as_array_mut()
        .unwrap()
        .push(biggest["items"][0].clone());
    let too_big_address = json!({"street": "s".repeat(4096 - r#"{"street":""}"#.len() + 1)});
    for (what, cart) in [
        (
            "a 201-character name",
            with(biggest_cart("c"), "/items/0/name", too_long_name),
        ),
        (
            "a 65-character product id",
            with(biggest_cart("d"), "/items/0/productId", too_long_id),
        ),
        ("101 lines", too_many),
        (
            "a 4097-byte address",
            with(biggest_cart("e"), "/shippingAddress", too_big_address),
        ),
    ] {
        assert_eq!(
            error_code(checkout(&relay, "alice", None, &cart).await).await,
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_data".into()),
            "{what}"
        );
    }
    assert_eq!(published(&relay).await, 1.0);
    relay.stop().await;

    // A relay with a smaller message limit: an order whose event is exactly
    // at the limit is placed and appears; one byte more is refused with 413.
    let limit = 16 * 1024;
    let mut config = common::config(&broker);
    config.max_message_bytes = limit;
    let small = Relay::start_with(&broker, config).await;
    let (mut bob, _) = small.subscribed("bob", Role::User).await;
    let probe = json!({"items": [{"productId": "p", "name": "x", "quantity": 1, "price": 1}]});
    let placed: Order = checkout(&small, "bob", None, &probe)
        .await
        .json()
        .await
        .unwrap();
    bob.next().await;
    let base = protocol::OrderEvent::Created(placed).to_json().len();
    let lines = (limit - base) / 250 + 1;
    let mut cart = json!({"items": []});
    for i in 0..lines {
        cart["items"]
            .as_array_mut()
            .unwrap()
            .push(json!({"productId": format!("p{i:03}"), "name": "x", "quantity": 1, "price": 1}));
    }
    // Pad the names until the event is exactly at the limit.
    let measure = |cart: &Value| {
        let items: Vec<protocol::OrderItem> =
            serde_json::from_value(cart["items"].clone()).unwrap();
        let order = server::core::commands::checkout::price(
            "ord-0123456789abcdef".into(),
            "bob",
            items,
            protocol::RawJson::null(),
            protocol::Timestamp(placed_at()),
        );
        protocol::OrderEvent::Created(order).to_json().len()
    };
    let mut i = 0;
    while measure(&cart) < limit {
        let name = cart["items"][i % lines]["name"]
            .as_str()
            .unwrap()
            .to_owned();
        if name.len() < 200 {
            cart["items"][i % lines]["name"] = json!(format!("{name}x"));
        }
        i += 1;
    }
    assert_eq!(measure(&cart), limit, "built to the byte");
    let at_limit = checkout(&small, "bob", None, &cart).await;
    assert_eq!(at_limit.status(), StatusCode::CREATED);
    let at_limit: Order = at_limit.json().await.unwrap();
    assert_eq!(
        describe(&bob.next().await),
        format!("order:created:{}:pending", at_limit.order_id),
        "an event exactly at the limit is consumed"
    );
    let over = with(cart.clone(), "/items/0/productId", json!("p000x"));
    assert_eq!(
        error_code(checkout(&small, "bob", None, &over).await).await,
        (StatusCode::PAYLOAD_TOO_LARGE, "too_large".into())
    );
    assert_eq!(
        published(&small).await,
        2.0,
        "the probe and the one at the limit"
    );
    small.stop().await;
}

/// A timestamp with as many digits as any checkout's (they are all 24
/// characters of RFC 3339): the measured size does not depend on it.
fn placed_at() -> i64 {
    server::clock::now().millis()
}

/// Subscribes and reads the whole snapshot, parts joined.
async fn whole_snapshot(relay: &Relay, user: &str, role: Role) -> (Client, OrdersSnapshot, usize) {
    let mut client = relay.connect(user, role).await;
    client
        .send(&ClientEvent::SubscribeOrders { cursor: None })
        .await;
    let mut parts = SnapshotParts::default();
    let mut count = 0;
    loop {
        let ServerEvent::OrdersSnapshot(part) = client.next().await else {
            panic!("expected orders:snapshot parts")
        };
        count += 1;
        if let Some(whole) = parts.add(part) {
            return (client, whole, count);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_120_of_the_biggest_checkouts_an_admin_and_the_buyer_get_complete_snapshots() {
    let broker = Broker::start().await;
    let relay = Relay::start(&broker).await;
    let (mut watcher, _) = relay.subscribed("root", Role::Admin).await;
    // The admin reads while the checkouts run, as a browser does: a socket
    // left unread for three ping intervals is dropped by the heartbeat.
    let watching = tokio::spawn(async move {
        for _ in 0..120 {
            watcher.next().await;
        }
    });
    let mut ids = Vec::new();
    for i in 0..120 {
        let response = checkout(&relay, "heavy", None, &biggest_cart(&format!("{i:03}"))).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let order: Order = response.json().await.unwrap();
        ids.push(order.order_id);
    }
    watching.await.expect("the admin saw all 120 orders");
    for (user, role) in [("root", Role::Admin), ("heavy", Role::User)] {
        let (mut client, snapshot, parts) = whole_snapshot(&relay, user, role).await;
        assert_eq!(snapshot.orders.len(), ids.len(), "{user}");
        let bytes: usize = snapshot
            .orders
            .iter()
            .map(|o| serde_json::to_string(o).unwrap().len())
            .sum();
        assert!(
            bytes > 4 << 20,
            "{bytes} bytes: more than the socket's write buffer"
        );
        assert!(parts > 1, "sent in {parts} parts");
        let mut got: Vec<&str> = snapshot
            .orders
            .iter()
            .map(|o| o.order_id.as_str())
            .collect();
        let mut want: Vec<&str> = ids.iter().map(String::as_str).collect();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "{user}: every order, once");
        // And the connection is alive: the next event arrives.
        let next = checkout(&relay, "heavy", None, &cart()).await;
        let next: Order = next.json().await.unwrap();
        assert_eq!(
            describe(&client.next().await),
            format!("order:created:{}:pending", next.order_id)
        );
        ids.push(next.order_id);
    }
    relay.stop().await;
}

/// The idempotent producer (on by default) on Apache Kafka: the broker is
/// killed and restarted in the middle of a burst of checkouts from eight
/// clients, each retrying its own key on 503 as a client does. Every
/// accepted order is in `order.created` exactly once, and nothing else is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_in_a_burst_of_checkouts_leaves_each_order_published_exactly_once() {
    const CLIENTS: usize = 8;
    const EACH: usize = 30;
    let mut broker = DurableBroker::start("exactly-once").await;
    let mut config = common::config_at(&broker.bootstrap);
    config.ping_interval_secs = 60;
    assert!(
        config.kafka_idempotence,
        "the idempotent producer is the default"
    );
    let relay = std::sync::Arc::new(Relay::launch_at(&broker.bootstrap, config).await);
    relay.wait_ready().await;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (relay, done) = (std::sync::Arc::clone(&relay), std::sync::Arc::clone(&done));
        clients.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in 0..EACH {
                let key = format!("burst-{client}-{n}");
                let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(90);
                let order: Order = loop {
                    let response = checkout(&relay, "alice", Some(&key), &cart()).await;
                    if response.status().is_success() {
                        break response.json().await.unwrap();
                    }
                    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{key}");
                    assert!(tokio::time::Instant::now() < deadline, "{key} never placed");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                };
                ids.push(order.order_id);
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            ids
        }));
    }
    // A third of the way in, the broker dies and comes back.
    while done.load(std::sync::atomic::Ordering::Relaxed) < CLIENTS * EACH / 3 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    broker.restart().await;
    let mut placed = Vec::new();
    for client in clients {
        placed.extend(client.await.unwrap());
    }
    assert_eq!(placed.len(), CLIENTS * EACH);

    let mut stored: Vec<String> = common::records(&broker.bootstrap, "order.created")
        .await
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    stored.sort();
    let mut expected = placed.clone();
    expected.sort();
    let mut twice = stored.clone();
    twice.dedup();
    assert_eq!(
        stored.len() - twice.len(),
        0,
        "orders stored more than once"
    );
    assert_eq!(
        stored, expected,
        "order.created holds each placed order once"
    );
    match std::sync::Arc::try_unwrap(relay) {
        Ok(relay) => relay.stop().await,
        Err(_) => panic!("a client still holds the relay"),
    }
}

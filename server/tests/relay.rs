//! The spine, end to end: Kafka broker → relay → WebSocket clients.

mod common;

use common::{created, describe, Broker, Client, Relay};
use protocol::frames::close;
use protocol::ErrorCode;
use protocol::{ClientEvent, OrderEvent, Role, ServerEvent};

const SEED_CREATED: &str = r#"{"orderId":"abc123","buyerId":"alice","items":[{"productId":"p1","name":"Kettle","quantity":1,"price":99.99}],"subtotal":99.99,"tax":10.00,"total":109.99,"status":"pending","shippingAddress":{"city":"Lyon"},"createdAt":"2025-11-12T10:30:00.000Z"}"#;
const SEED_UPDATED: &str = r#"{"orderId":"abc123","status":"shipped","previousStatus":"processing","updatedAt":"2025-11-12T11:00:00.000Z","message":"Your order has been shipped"}"#;
const SEED_CANCELLED: &str = r#"{"orderId":"abc123","reason":"Customer requested cancellation","cancelledAt":"2025-11-12T11:15:00.000Z"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_receives_exactly_their_events_in_order_others_none_admin_all() {
    let (_broker, relay, producer) = common::relay_and_producer().await;
    let (mut alice, _) = relay.subscribed("alice", Role::User).await;
    let (mut bob, _) = relay.subscribed("bob", Role::User).await;
    let (mut admin, _) = relay.subscribed("root", Role::Admin).await;

    producer.send("order.created", "abc123", SEED_CREATED).await;
    let (event, cursor) = alice.next_order().await;
    let OrderEvent::Created(order) = event else {
        panic!("alice expected order:created, got {event:?}")
    };
    assert_eq!(
        (
            order.order_id.as_str(),
            order.buyer_id.as_str(),
            order.total
        ),
        ("abc123", "alice", 109.99)
    );
    assert_eq!(order.items.len(), 1);
    assert!(cursor.starts_with("v1"));

    // The seed's update and cancel carry no buyerId: the relay knows it.
    producer.send("order.updated", "abc123", SEED_UPDATED).await;
    let update = alice.next_updated().await;
    assert_eq!(update.buyer_id.as_deref(), Some("alice"));
    assert_eq!(
        update.message.as_deref(),
        Some("Your order has been shipped")
    );
    assert_eq!(update.updated_at.to_string(), "2025-11-12T11:00:00.000Z");

    producer
        .send("order.cancelled", "abc123", SEED_CANCELLED)
        .await;
    let cancel = alice.next_cancelled().await;
    assert_eq!(
        cancel.reason.as_deref(),
        Some("Customer requested cancellation")
    );
    assert_eq!(cancel.buyer_id.as_deref(), Some("alice"));

    // Bob's own order is the first thing bob sees: none of alice's came before it.
    producer
        .send("order.created", "b1", created("b1", "bob"))
        .await;
    assert_eq!(describe(&bob.next().await), "order:created:b1:pending");

    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(describe(&admin.next().await));
    }
    assert_eq!(
        seen,
        [
            "order:created:abc123:pending",
            "order:updated:abc123:shipped",
            "order:cancelled:abc123:cancelled",
            "order:created:b1:pending"
        ]
    );
    // And nothing more reached alice: her next frame is her next event.
    producer
        .send("order.created", "a2", created("a2", "alice"))
        .await;
    assert_eq!(describe(&alice.next().await), "order:created:a2:pending");
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_bad_token_gets_401_and_no_upgrade() {
    let broker = Broker::start().await;
    let relay = Relay::start(&broker).await;
    let wrong_key = server::web::auth::Keys::new(b"some-other-secret-0123456789");
    let expired = relay
        .keys
        .issue_until("alice", Role::User, server::web::auth::now_secs() - 5);
    let cases = [
        ("missing", String::new()),
        ("malformed", "not.a.jwt".to_owned()),
        (
            "wrongly signed",
            wrong_key.issue("alice", Role::Admin, std::time::Duration::from_secs(60)),
        ),
        ("expired", expired),
    ];
    for (kind, token) in cases {
        let url = format!("ws://{}/ws?token={token}", relay.base);
        // No `token` parameter at all is the same as an empty one.
        let url = if kind == "missing" {
            format!("ws://{}/ws", relay.base)
        } else {
            url
        };
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 401, "{kind} token over WebSocket");
            }
            other => panic!(
                "{kind} token: expected HTTP 401, got {:?}",
                other.map(|_| ())
            ),
        }
        let response = reqwest::Client::new()
            .get(relay.http("/api/orders"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{kind} token over HTTP");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["error"]["code"].is_string(), "{body}");
    }
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_messages_are_counted_and_skipped_and_the_next_is_delivered() {
    let (broker, relay) = common::relay_with(|config| config.max_message_bytes = 2048).await;
    let producer = broker.producer();
    let (mut alice, _) = relay.subscribed("alice", Role::User).await;

    producer
        .send("order.created", "x", "this is not json")
        .await;
    producer
        .send(
            "order.updated",
            "x",
            r#"{"status":"shipped","updatedAt":"2025-11-12T11:00:00Z"}"#,
        )
        .await;
    producer
        .send(
            "order.updated",
            "x",
            r#"{"orderId":"x","status":"teleported","updatedAt":"2025-11-12T11:00:00Z"}"#,
        )
        .await;
    let oversize = format!(
        r#"{{"orderId":"big","buyerId":"alice","createdAt":"2025-11-12T10:30:00Z","pad":"{}"}}"#,
        "x".repeat(4096)
    );
    producer.send("order.created", "big", oversize).await;
    producer.send_tombstone("order.created", "gone").await;
    producer
        .send("order.cancelled", "x", [0xff, 0xfe, 0x00, 0x80])
        .await;
    producer
        .send("order.created", "a1", created("a1", "alice"))
        .await;

    assert_eq!(describe(&alice.next().await), "order:created:a1:pending");
    let metrics = relay.metrics().await;
    for (reason, count) in [
        ("not_json", 3.0), // text, a tombstone, bytes that are not UTF-8
        ("missing_order_id", 1.0),
        ("unknown_status", 1.0),
        ("oversize", 1.0),
    ] {
        let sample = format!("relay_kafka_messages_rejected_total{{reason=\"{reason}\"}}");
        assert_eq!(common::metric(&metrics, &sample), count, "{reason}");
    }
    // What was consumed, connected and delivered is counted too.
    let consumed = |topic: &str| {
        common::metric(
            &metrics,
            &format!("relay_kafka_messages_consumed_total{{topic=\"{topic}\"}}"),
        )
    };
    assert_eq!(consumed("order.created"), 4.0);
    assert_eq!(consumed("order.updated"), 2.0);
    assert_eq!(consumed("order.cancelled"), 1.0);
    assert_eq!(common::metric(&metrics, "relay_ws_connections"), 1.0);
    // The snapshot and a1: nothing rejected was delivered.
    assert_eq!(common::metric(&metrics, "relay_ws_deliveries_total"), 2.0);
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_for_an_unknown_buyer_reaches_admins_only_then_its_buyer_once_known() {
    let (_broker, relay, producer) = common::relay_and_producer().await;
    let (mut alice, _) = relay.subscribed("alice", Role::User).await;
    let (mut admin, _) = relay.subscribed("root", Role::Admin).await;

    // The update is consumed before its order's created event.
    let early = r#"{"orderId":"o9","status":"processing","updatedAt":"2025-11-12T10:40:00.000Z"}"#;
    producer.send("order.updated", "o9", early).await;
    assert_eq!(describe(&admin.next().await), "order:updated:o9:processing");
    assert!(relay
        .metrics()
        .await
        .contains("relay_events_unroutable_total 1"));

    producer
        .send("order.created", "o9", created("o9", "alice"))
        .await;
    // The released update comes first, then the created event whose cursor
    // marks both as received.
    let update = alice.next_updated().await;
    assert_eq!(update.buyer_id.as_deref(), Some("alice"));
    assert_eq!(describe(&alice.next().await), "order:created:o9:pending");
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_reaches_only_its_user() {
    let (_broker, relay, producer) = common::relay_and_producer().await;
    // Notifications flow from connect; no subscribe needed.
    let mut alice = relay.connect("alice", Role::User).await;
    let mut bob = relay.connect("bob", Role::User).await;
    let mut admin = relay.connect("root", Role::Admin).await;

    let note = r#"{"userId":"alice","type":"order","priority":"high","title":"Heads up","message":"Your parcel is near"}"#;
    producer.send("notifications", "alice", note).await;
    let ServerEvent::Notification(n) = alice.next().await else {
        panic!("alice expected a notification")
    };
    assert_eq!(
        (n.message.as_str(), n.priority),
        ("Your parcel is near", protocol::Priority::High)
    );

    producer
        .send(
            "notifications",
            "bob",
            r#"{"userId":"bob","type":"info","message":"for bob"}"#,
        )
        .await;
    producer
        .send(
            "notifications",
            "root",
            r#"{"userId":"root","type":"info","message":"for root"}"#,
        )
        .await;
    assert_eq!(describe(&bob.next().await), "notification:for bob");
    assert_eq!(describe(&admin.next().await), "notification:for root");
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_on_subscribe_holds_the_users_current_orders() {
    let (_broker, relay, producer) = common::relay_and_producer().await;
    let (mut admin, _) = relay.subscribed("root", Role::Admin).await;
    producer.send("order.created", "abc123", SEED_CREATED).await;
    producer
        .send("order.created", "b1", created("b1", "bob"))
        .await;
    producer.send("order.updated", "abc123", SEED_UPDATED).await;
    for _ in 0..3 {
        admin.next().await;
    }

    let (_, snapshot) = relay.subscribed("alice", Role::User).await;
    assert_eq!(snapshot.orders.len(), 1);
    assert_eq!(snapshot.orders[0].order_id, "abc123");
    assert_eq!(snapshot.orders[0].status, protocol::OrderStatus::Shipped);
    assert!(snapshot.cursor.starts_with("v1."));
    let (_, all) = relay.subscribed("root", Role::Admin).await;
    assert_eq!(all.orders.len(), 2);

    let http = relay.orders("alice", Role::User).await;
    assert_eq!(http.orders, snapshot.orders);
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_client_frames_get_error_frames_and_the_connection_stays_open() {
    let broker = Broker::start().await;
    let relay = Relay::start(&broker).await;
    let mut alice = relay.connect("alice", Role::User).await;
    let oversize = format!(
        r#"{{"event":"subscribe:orders","data":{{"cursor":"{}"}}}}"#,
        "x".repeat(20_000)
    );
    for (frame, code) in [
        ("hello", "bad_json"),
        (r#"{"event":"orders:delete","data":{}}"#, "unknown_event"),
        (
            r#"{"event":"auth:refresh","data":{"token":7}}"#,
            "invalid_data",
        ),
        (oversize.as_str(), "too_large"),
    ] {
        alice.send_text(frame).await;
        let ServerEvent::Error(error) = alice.next().await else {
            panic!("expected an error frame for {frame:.40}")
        };
        assert_eq!(error.code, code);
    }
    alice
        .send(&ClientEvent::SubscribeOrders { cursor: None })
        .await;
    assert_eq!(describe(&alice.next().await), "orders:snapshot");
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics_answer() {
    let broker = Broker::start().await;
    let relay = Relay::start(&broker).await;
    assert_eq!(
        reqwest::get(relay.http("/healthz")).await.unwrap().status(),
        200
    );
    assert_eq!(
        reqwest::get(relay.http("/readyz")).await.unwrap().status(),
        200
    );
    let metrics = relay.metrics().await;
    for family in [
        "relay_kafka_messages_consumed_total",
        "relay_ws_connections",
        "relay_kafka_consumer_lag",
        "relay_ready 1",
    ] {
        assert!(metrics.contains(family), "{family} missing");
    }
    let unknown = reqwest::get(relay.http("/api/nothing")).await.unwrap();
    assert_eq!(unknown.status(), 404);
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_waits_for_the_backlog_and_an_early_subscriber_gets_all_of_it() {
    let broker = Broker::start().await;
    // A first relay creates the topics; then a backlog builds up.
    Relay::start(&broker).await.stop().await;
    let producer = broker.producer();
    let backlog = 3000;
    let ids: Vec<String> = (0..backlog).map(|i| format!("b{i}")).collect();
    futures_util::future::join_all(
        ids.iter()
            .map(|id| producer.send("order.created", id, created(id, "alice"))),
    )
    .await;

    let relay = Relay::launch(&broker, common::config(&broker)).await;
    assert_eq!(
        relay.readyz().await,
        503,
        "ready before reading the backlog"
    );
    // Subscribed while the relay is still loading: answered once it has
    // caught up. The snapshot and the events after it hold the whole
    // backlog, each order once: no gap, no overlap. (Against tansu
    // (`TEST_BROKER=tansu`), whose listed log end can trail the real one,
    // the last few may come live.)
    let (mut alice, snapshot) = relay.subscribed("alice", Role::User).await;
    let mut seen: Vec<String> = snapshot.orders.into_iter().map(|o| o.order_id).collect();
    while seen.len() < backlog {
        match alice.next().await {
            ServerEvent::Order { event, .. } => seen.push(event.order_id().to_owned()),
            other => panic!("expected order events, got {other:?}"),
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), backlog, "each order exactly once");
    relay.wait_ready().await;
    let metrics = relay.metrics().await;
    assert_eq!(common::metric(&metrics, "relay_kafka_consumer_lag"), 0.0);
    assert_eq!(common::metric(&metrics, "relay_ready"), 1.0);
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_that_overtook_their_created_events_reach_the_buyer_once_each() {
    let (_broker, relay, producer) = common::relay_and_producer().await;
    let (mut ann, _) = relay.subscribed("ann", Role::User).await;
    let update = |id: &str| {
        format!(
            r#"{{"orderId":"{id}","status":"processing","previousStatus":"pending","updatedAt":"2025-11-12T11:00:00.000Z"}}"#
        )
    };
    let users = ["ann", "ben", "cat"];
    for i in 0..30 {
        let id = format!("o{i}");
        producer.send("order.updated", &id, update(&id)).await;
    }
    for i in 0..30 {
        let id = format!("o{i}");
        producer
            .send("order.created", &id, created(&id, users[i % 3]))
            .await;
    }
    let mut want: Vec<String> = (0..30)
        .step_by(3)
        .flat_map(|i| {
            [
                format!("order:created:o{i}:pending"),
                format!("order:updated:o{i}:processing"),
            ]
        })
        .collect();
    // The two topics are read in no set order: an update read after its
    // created event comes live, one read before it comes with it. Either
    // way ann gets each once.
    let mut seen = Vec::new();
    while seen.len() < want.len() {
        seen.push(describe(&ann.next().await));
    }
    seen.sort();
    want.sort();
    assert_eq!(seen, want);
    // And nothing more: her next frame is her next event.
    producer
        .send("order.created", "last", created("last", "ann"))
        .await;
    assert_eq!(describe(&ann.next().await), "order:created:last:pending");
    relay.stop().await;
}

/// Opens `/ws?auth=message` (no token in the URL) and sends `first`.
async fn first_frame_socket(relay: &Relay, first: Option<&str>) -> Client {
    let url = format!("ws://{}/ws?auth=message", relay.base);
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("upgraded before authenticating");
    let mut client = Client { ws };
    if let Some(first) = first {
        client.send_text(first).await;
    }
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_in_the_first_frame_keeps_it_out_of_the_url_and_bad_ones_close_4003() {
    let broker = Broker::start().await;
    let producer = broker.producer();
    let relay = Relay::start(&broker).await;
    let auth = |token: &str| {
        ClientEvent::Auth {
            token: token.into(),
        }
        .to_json()
    };

    // A good token: the same connection as `?token=`, events included.
    let mut alice =
        first_frame_socket(&relay, Some(&auth(&relay.token("alice", Role::User)))).await;
    match alice.next().await {
        ServerEvent::ConnectionSuccess(info) => assert_eq!(info.user_id, "alice"),
        other => panic!("expected connection:success, got {other:?}"),
    }
    alice.subscribe_fresh().await;
    producer
        .send("order.created", "f1", created("f1", "alice"))
        .await;
    assert_eq!(describe(&alice.next().await), "order:created:f1:pending");
    // `auth` again later is a refresh, not an error.
    alice
        .send_text(&auth(&relay.token("alice", Role::User)))
        .await;
    alice.send(&ClientEvent::Ping).await;
    assert!(matches!(alice.next().await, ServerEvent::Pong));

    // What a hostile or broken client sends first: an error frame saying
    // why, then 4003.
    let expired = relay
        .keys
        .issue_until("alice", Role::User, server::web::auth::now_secs() - 5);
    let wrong = server::web::auth::Keys::new(b"some-other-secret-0123456789").issue(
        "alice",
        Role::Admin,
        std::time::Duration::from_secs(60),
    );
    let subscribe = ClientEvent::SubscribeOrders { cursor: None }.to_json();
    for (first, code) in [
        (auth(&expired), ErrorCode::TokenExpired),
        (auth(&wrong), ErrorCode::InvalidToken),
        (auth(""), ErrorCode::MissingToken),
        (subscribe, ErrorCode::InvalidToken),
        ("{not json".to_owned(), ErrorCode::InvalidToken),
    ] {
        let mut client = first_frame_socket(&relay, Some(&first)).await;
        match client.next().await {
            ServerEvent::Error(body) => assert_eq!(body.code, code.as_str(), "{first}"),
            other => panic!("{first}: expected an error frame, got {other:?}"),
        }
        assert_eq!(client.closed_with().await, close::UNAUTHORIZED, "{first}");
    }
    // A ping before the token is answered; the token may follow.
    let mut patient = first_frame_socket(&relay, Some(&ClientEvent::Ping.to_json())).await;
    assert!(matches!(patient.next().await, ServerEvent::Pong));
    patient
        .send_text(&auth(&relay.token("bob", Role::User)))
        .await;
    assert!(matches!(
        patient.next().await,
        ServerEvent::ConnectionSuccess(_)
    ));

    // The token never shows up in the URL, and the contract's forms stand:
    // no token and no `auth=message` is still a 401 before any upgrade.
    let bare = tokio_tungstenite::connect_async(format!("ws://{}/ws", relay.base)).await;
    match bare {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401)
        }
        other => panic!("expected 401, got {other:?}"),
    }
    let failures = common::metric(&relay.metrics().await, "relay_auth_failures_total");
    assert!(failures >= 6.0, "{failures}");
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_never_authenticates_is_closed_and_the_url_form_can_be_turned_off() {
    let broker = Broker::start().await;
    let relay = Relay::start_with(&broker, {
        let mut config = common::config(&broker);
        config.auth.ws_query_token = false;
        config
    })
    .await;
    let started = std::time::Instant::now();
    let mut silent = first_frame_socket(&relay, None).await;
    match silent.next().await {
        ServerEvent::Error(body) => {
            assert_eq!(body.code, ErrorCode::MissingToken.as_str());
            assert!(
                body.message.contains("no `auth` frame within 10 s"),
                "{}",
                body.message
            );
        }
        other => panic!("expected an error frame, got {other:?}"),
    }
    assert_eq!(silent.closed_with().await, close::UNAUTHORIZED);
    assert!(started.elapsed() >= std::time::Duration::from_secs(10));
    // `?token=` with a valid token: refused, with the way to do it instead.
    let url = format!(
        "ws://{}/ws?token={}",
        relay.base,
        relay.token("alice", Role::User)
    );
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401);
            let body = String::from_utf8(response.body().clone().unwrap_or_default()).unwrap();
            assert!(body.contains("auth=message"), "{body}");
        }
        other => panic!("expected 401, got {other:?}"),
    }
    relay.stop().await;
}

//! Gap-free delivery: resume by cursor after a disconnect and after a relay
//! restart, snapshots for unusable cursors, slow clients, live token expiry.

mod common;

use common::{created, describe, Broker, Client, Relay};
use protocol::frames::close;
use protocol::{ClientEvent, Role, ServerEvent};

fn shipped(order_id: &str) -> String {
    format!(
        r#"{{"orderId":"{order_id}","status":"shipped","updatedAt":"2025-11-12T11:00:00.000Z"}}"#
    )
}

fn cancelled(order_id: &str) -> String {
    format!(r#"{{"orderId":"{order_id}","cancelledAt":"2025-11-12T11:15:00.000Z"}}"#)
}

fn cursor_of(event: &ServerEvent) -> String {
    match event {
        ServerEvent::Order { cursor, .. } => cursor.clone(),
        ServerEvent::OrdersSnapshot(snapshot) => snapshot.cursor.clone(),
        other => panic!("no cursor on {other:?}"),
    }
}

async fn resume(relay: &Relay, user: &str, cursor: &str) -> Client {
    let mut client = relay.connect(user, Role::User).await;
    client
        .send(&ClientEvent::SubscribeOrders {
            cursor: Some(cursor.to_owned()),
        })
        .await;
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_reconnect_replays_exactly_the_missed_events() {
    let (_broker, relay, producer) = common::relay_and_producer().await;
    let (mut admin, _) = relay.subscribed("root", Role::Admin).await;
    let (mut alice, _) = relay.subscribed("alice", Role::User).await;
    producer
        .send("order.created", "a1", created("a1", "alice"))
        .await;
    let cursor = cursor_of(&alice.next().await);
    drop(alice);

    producer.send("order.updated", "a1", shipped("a1")).await;
    producer
        .send("order.created", "b1", created("b1", "bob"))
        .await;
    producer
        .send("order.created", "a2", created("a2", "alice"))
        .await;
    producer
        .send("order.cancelled", "a2", cancelled("a2"))
        .await;
    // The admin's stream proves the relay consumed all four before alice resumes.
    for _ in 0..5 {
        admin.next().await;
    }
    let mut alice = resume(&relay, "alice", &cursor).await;
    let mut replayed: Vec<String> = [alice.next().await, alice.next().await, alice.next().await]
        .iter()
        .map(describe)
        .collect();
    // Kafka does not order the three topics against each other: compare as sets.
    replayed.sort();
    assert_eq!(
        replayed,
        [
            "order:cancelled:a2:cancelled",
            "order:created:a2:pending",
            "order:updated:a1:shipped",
        ]
    );
    // Nothing else was replayed: the next frame is the next live event.
    producer
        .send("order.created", "a3", created("a3", "alice"))
        .await;
    assert_eq!(describe(&alice.next().await), "order:created:a3:pending");
    assert!(relay
        .metrics()
        .await
        .contains("relay_resumes_total{kind=\"replay\"} 1"));
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_from_before_a_relay_restart_still_resumes() {
    let broker = Broker::start().await;
    let producer = broker.producer();
    let relay = Relay::start(&broker).await;
    let (mut alice, _) = relay.subscribed("alice", Role::User).await;
    producer
        .send("order.created", "a1", created("a1", "alice"))
        .await;
    let cursor = cursor_of(&alice.next().await);
    relay.stop().await;
    assert_eq!(alice.closed_with().await, close::GOING_AWAY);

    // Events published while no relay runs.
    producer.send("order.updated", "a1", shipped("a1")).await;
    producer
        .send("order.created", "a2", created("a2", "alice"))
        .await;
    let relay = Relay::start(&broker).await;
    let mut alice = resume(&relay, "alice", &cursor).await;
    let mut replayed = vec![describe(&alice.next().await), describe(&alice.next().await)];
    replayed.sort();
    assert_eq!(
        replayed,
        ["order:created:a2:pending", "order:updated:a1:shipped"]
    );
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_cursor_gets_a_snapshot() {
    let (_broker, relay, producer) = common::relay_and_producer().await;
    let (mut admin, _) = relay.subscribed("root", Role::Admin).await;
    producer
        .send("order.created", "a1", created("a1", "alice"))
        .await;
    admin.next().await;
    // Garbage at once; a cursor ahead of the relay after waiting 5 s for the
    // relay to reach it.
    for cursor in ["garbage", "v1.0-0-999"] {
        let mut alice = resume(&relay, "alice", cursor).await;
        let ServerEvent::OrdersSnapshot(snapshot) = alice.next().await else {
            panic!("expected a snapshot for cursor {cursor}")
        };
        assert_eq!(snapshot.orders.len(), 1);
    }
    // The admin's first subscribe and the two above.
    let metrics = relay.metrics().await;
    assert_eq!(
        common::metric(&metrics, "relay_resumes_total{kind=\"snapshot\"}"),
        3.0
    );
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_client_is_cut_off_without_slowing_others_and_recovers_by_cursor() {
    let (broker, relay) = common::relay_with(|config| {
        config.client_queue = 4;
        config.max_message_bytes = 128 * 1024;
    })
    .await;
    let producer = broker.producer();
    let (mut stalled, _) = relay.subscribed("alice", Role::User).await;
    let (mut reader, _) = relay.subscribed("alice", Role::User).await;

    // Big events (~91 KB, the biggest the order limits allow) fill the
    // stalled client's socket buffers, then its queue.
    let total = 120;
    for i in 0..total {
        let id = format!("a{i}");
        let payload = common::big_created(&id, "alice");
        producer.send("order.created", &id, payload).await;
        assert_eq!(
            describe(&reader.next().await),
            format!("order:created:{id}:pending"),
            "the reader keeps up"
        );
    }
    assert!(relay
        .metrics()
        .await
        .contains("relay_slow_disconnects_total 1"));

    // The stalled client reads again: a contiguous prefix, then 4002.
    let mut last_cursor = None;
    let mut seen = 0;
    loop {
        match tokio::time::timeout(
            common::PATIENCE,
            futures_util::StreamExt::next(&mut stalled.ws),
        )
        .await
        {
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text)))) => {
                let event = ServerEvent::from_json(&text).unwrap();
                assert_eq!(describe(&event), format!("order:created:a{seen}:pending"));
                last_cursor = Some(cursor_of(&event));
                seen += 1;
            }
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(frame))))) => {
                assert_eq!(u16::from(frame.code), close::RESYNC);
                break;
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected frames then a 4002 close, got {other:?}"),
        }
    }
    assert!(
        seen < total,
        "the stalled client was cut off before the end"
    );
    let mut resumed = resume(&relay, "alice", &last_cursor.unwrap()).await;
    for i in seen..total {
        assert_eq!(
            describe(&resumed.next().await),
            format!("order:created:a{i}:pending")
        );
    }
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_closes_the_connection_unless_refreshed() {
    let (_broker, relay, producer) = common::relay_and_producer().await;
    let soon = server::web::auth::now_secs() + 2;
    let connect = |user: &str| {
        let url = format!(
            "ws://{}/ws?token={}",
            relay.base,
            relay.keys.issue_until(user, Role::User, soon)
        );
        async move {
            let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
            let mut client = Client { ws };
            client.next().await; // connection:success
            client
                .send(&ClientEvent::SubscribeOrders { cursor: None })
                .await;
            client.next().await; // snapshot
            client
        }
    };
    let mut expiring = connect("alice").await;
    let mut refreshed = connect("alice").await;
    refreshed
        .send(&ClientEvent::AuthRefresh {
            token: relay.token("alice", Role::User),
        })
        .await;
    // A refresh for someone else is refused and changes nothing.
    expiring
        .send(&ClientEvent::AuthRefresh {
            token: relay.token("mallory", Role::User),
        })
        .await;
    let ServerEvent::Error(error) = expiring.next().await else {
        panic!("expected an error frame")
    };
    assert_eq!(error.code, "forbidden");
    // So is a refresh with a token that is not valid, or already expired.
    let stale = relay
        .keys
        .issue_until("alice", Role::User, server::web::auth::now_secs() - 5);
    for (token, code) in [
        ("not-a-jwt", "invalid_token"),
        (stale.as_str(), "token_expired"),
    ] {
        expiring
            .send(&ClientEvent::AuthRefresh {
                token: token.to_owned(),
            })
            .await;
        let ServerEvent::Error(error) = expiring.next().await else {
            panic!("expected an error frame")
        };
        assert_eq!(error.code, code);
    }

    assert_eq!(expiring.closed_with().await, close::TOKEN_EXPIRED);
    producer
        .send("order.created", "a1", created("a1", "alice"))
        .await;
    assert_eq!(
        describe(&refreshed.next().await),
        "order:created:a1:pending"
    );
    assert!(relay
        .metrics()
        .await
        .contains("relay_token_expiry_closes_total 1"));
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_collapses_updates_to_one_order_into_the_latest() {
    let (broker, relay) = common::relay_with(|config| {
        config.client_queue = 80;
        config.max_message_bytes = 1024 * 1024;
    })
    .await;
    let producer = broker.producer();
    let (mut reader, _) = relay.subscribed("alice", Role::User).await;

    // A client that stops reading, with a small receive buffer. 6 MB of big
    // frames (67 of ~91 KB, the biggest the order limits allow) stop its
    // socket (more than the relay's send buffer can take, 4 MB at most);
    // wherever that happens the rest fit in its queue (80), and the 100
    // updates after them fill the queue and then collapse.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(relay.base.parse().unwrap()).await.unwrap();
    let url = format!(
        "ws://{}/ws?token={}",
        relay.base,
        relay.token("alice", Role::User)
    );
    let (ws, _) =
        tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
            .unwrap();
    let mut stalled = Client { ws };
    stalled.next().await; // connection:success
    stalled
        .send(&ClientEvent::SubscribeOrders { cursor: None })
        .await;
    stalled.next().await; // snapshot

    producer
        .send("order.created", "hot", created("hot", "alice"))
        .await;
    reader.next().await;
    for i in 0..67 {
        let id = format!("big{i}");
        producer
            .send("order.created", &id, common::big_created(&id, "alice"))
            .await;
        reader.next().await;
    }
    // A hundred updates to one order while the stalled client's queue fills.
    let updates = 100;
    for i in 0..updates {
        let update = format!(
            r#"{{"orderId":"hot","status":"processing","updatedAt":"2025-11-12T11:{:02}:{:02}.000Z"}}"#,
            i / 60,
            i % 60
        );
        producer.send("order.updated", "hot", update).await;
        reader.next().await;
    }
    let metrics = relay.metrics().await;
    let coalesced = common::metric(&metrics, "relay_coalesced_updates_total");
    assert!(coalesced > 0.0, "nothing collapsed:\n{metrics}");
    assert_eq!(
        common::metric(&metrics, "relay_slow_disconnects_total"),
        0.0
    );

    // Reading again, it gets every frame it was owed except the superseded
    // updates, and the last one it gets is the latest.
    let mut last = None;
    let mut hot_updates = 0;
    while last.as_deref() != Some("2025-11-12T11:01:39.000Z") {
        if let ServerEvent::Order { event, .. } = stalled.next().await {
            if event.order_id() == "hot" && event.frame_name() == "order:updated" {
                hot_updates += 1;
                last = Some(event.time().to_string());
            }
        }
    }
    println!("{updates} updates to one order: {hot_updates} delivered, {coalesced} collapsed");
    assert_eq!(hot_updates as f64 + coalesced, updates as f64);
    relay.stop().await;
}

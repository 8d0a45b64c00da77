//! Operating limits and hardening, against a real broker and real clients:
//! what an operator meets in the first week.

mod common;

use std::time::Duration;

use common::{metric, Broker, Relay};
use protocol::{ClientEvent, Role, ServerEvent};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_never_expires_connects_and_its_connection_is_counted_down_on_close() {
    let broker = Broker::start().await;
    let relay = Relay::start(&broker).await;
    let token = relay.keys.issue_until("eve", Role::User, u64::MAX);
    let url = format!("ws://{}/ws?token={token}", relay.base);
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("upgrade");
    let mut client = common::Client { ws };
    assert!(matches!(
        client.next().await,
        ServerEvent::ConnectionSuccess(_)
    ));
    client.subscribe_fresh().await;
    assert_eq!(metric(&relay.metrics().await, "relay_ws_connections"), 1.0);
    drop(client);
    common::eventually("the gauge never went down", || async {
        metric(&relay.metrics().await, "relay_ws_connections") == 0.0
    })
    .await;
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_behind_a_token_refuse_anyone_without_it() {
    let (_broker, relay) =
        common::relay_with(|config| config.metrics_token = Some("scrape-secret-0123".into())).await;
    let http = reqwest::Client::new();
    let url = relay.http("/metrics");
    for bearer in [None, Some("wrong"), Some("scrape-secret-012"), Some("")] {
        let mut request = http.get(&url);
        if let Some(b) = bearer {
            request = request.bearer_auth(b);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{bearer:?}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_token", "{body}");
    }
    let page = http
        .get(&url)
        .bearer_auth("scrape-secret-0123")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("relay_ws_connections"));
    relay.stop().await;
}

/// Tries an upgrade as `user`; the HTTP status and JSON body of a refusal.
async fn refused(relay: &Relay, user: &str) -> Option<(u16, serde_json::Value, Option<String>)> {
    let url = format!(
        "ws://{}/ws?token={}",
        relay.base,
        relay.token(user, Role::User)
    );
    match tokio_tungstenite::connect_async(url).await {
        Ok(_) => None,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let status = response.status().as_u16();
            let retry = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let body = response.body().clone().unwrap_or_default();
            Some((status, serde_json::from_slice(&body).unwrap(), retry))
        }
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_past_the_cap_is_refused_before_the_upgrade_while_others_connect() {
    let (_broker, relay) = common::relay_with(|config| {
        config.max_connections_per_user = 3;
        config.max_connections = 5;
    })
    .await;
    let mut mallory = Vec::new();
    for _ in 0..3 {
        mallory.push(relay.connect("mallory", Role::User).await);
    }
    for _ in 0..50 {
        let (status, body, retry) = refused(&relay, "mallory").await.expect("refused");
        assert_eq!(status, 429);
        assert_eq!(body["error"]["code"], "too_many_connections", "{body}");
        assert_eq!(retry.as_deref(), Some("5"));
    }
    // Others still get in, up to the relay's total.
    let _alice = relay.connect("alice", Role::User).await;
    let _bob = relay.connect("bob", Role::User).await;
    let (status, body, _) = refused(&relay, "carol").await.expect("refused");
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "too_many_connections");
    // A closed connection gives its slot back.
    drop(mallory.pop());
    common::eventually("the slot never came back", || async {
        refused(&relay, "mallory").await.is_none()
    })
    .await;
    let page = relay.metrics().await;
    assert!(metric(&page, "relay_ws_refused_total{limit=\"per_user\"}") >= 50.0);
    assert!(metric(&page, "relay_ws_refused_total{limit=\"total\"}") >= 1.0);
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_closed_within_the_header_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (_broker, relay) = common::relay_with(|config| config.http_header_timeout_ms = 1000).await;
    let started = tokio::time::Instant::now();
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut stream = tokio::net::TcpStream::connect(&relay.base).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: relay\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(stream);
    }
    // The relay still answers everyone else meanwhile.
    assert_eq!(
        reqwest::get(relay.http("/healthz")).await.unwrap().status(),
        200
    );
    for mut stream in slow {
        let mut buf = [0u8; 512];
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("the relay closed the half-sent request");
        // Closed (0 bytes), reset, or a 408 before closing.
        if let Ok(n) = read {
            let text = String::from_utf8_lossy(&buf[..n]);
            assert!(n == 0 || text.starts_with("HTTP/1.1 408"), "{text}");
        }
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(6), "closed after {took:?}");
    // An idle kept-alive connection is closed the same way.
    let mut idle = tokio::net::TcpStream::connect(&relay.base).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match idle.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the idle keep-alive connection stayed open");
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_client_frames_is_throttled_and_does_not_slow_another_users_delivery() {
    let (broker, relay) = common::relay_with(|config| config.client_frames_per_sec = 10).await;
    let (mut flooder, _) = relay.subscribed("mallory", Role::User).await;
    let (mut ann, _) = relay.subscribed("ann", Role::User).await;
    let producer = broker.producer();
    let subscribe = ClientEvent::SubscribeOrders { cursor: None }.to_json();
    let flood = tokio::spawn(async move {
        // Each subscribe would cost a snapshot under the hub's lock.
        for _ in 0..3000 {
            flooder.send_text(&subscribe).await;
        }
        let mut limited = 0;
        let mut snapshots = 0;
        while let Ok(Some(Ok(message))) = tokio::time::timeout(
            Duration::from_millis(1500),
            futures_util::StreamExt::next(&mut flooder.ws),
        )
        .await
        {
            if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
                match ServerEvent::from_json(&text).unwrap() {
                    ServerEvent::Error(e) if e.code == "rate_limited" => limited += 1,
                    ServerEvent::OrdersSnapshot(_) => snapshots += 1,
                    _ => {}
                }
            }
        }
        (limited, snapshots)
    });
    for i in 0..20 {
        let id = format!("a{i}");
        let sent = tokio::time::Instant::now();
        producer
            .send("order.created", &id, common::created(&id, "ann"))
            .await;
        match ann.next().await {
            ServerEvent::Order { .. } => {}
            other => panic!("ann got {other:?}"),
        }
        let took = sent.elapsed();
        assert!(
            took < Duration::from_secs(2),
            "ann's event took {took:?} during the flood"
        );
    }
    let (limited, snapshots) = flood.await.unwrap();
    assert!(limited >= 1, "no rate_limited error frame");
    assert!(
        snapshots <= 40,
        "{snapshots} snapshots answered out of 3000 subscribes"
    );
    let page = relay.metrics().await;
    assert!(metric(&page, "relay_ws_throttled_frames_total") >= 2900.0);
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_frame_is_answered_with_a_pong_frame() {
    let broker = Broker::start().await;
    let relay = Relay::start(&broker).await;
    let (mut client, _) = relay.subscribed("ann", Role::User).await;
    for data in [r#"{"event":"ping"}"#, r#"{"event":"ping","data":{}}"#] {
        client.send_text(data).await;
        assert_eq!(client.next().await, ServerEvent::Pong);
    }
    relay.stop().await;
}

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
    let (ws, _) = tokio_tungstenite::connect_async(url).await.expect("upgrade");
    let mut client = common::Client { ws };
    assert!(matches!(client.next().await, ServerEvent::ConnectionSuccess(_)));
    client
        .send(&ClientEvent::SubscribeOrders { cursor: None })
        .await;
    assert!(matches!(client.next().await, ServerEvent::OrdersSnapshot(_)));
    assert_eq!(metric(&relay.metrics().await, "relay_ws_connections"), 1.0);
    drop(client);
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    while metric(&relay.metrics().await, "relay_ws_connections") != 0.0 {
        assert!(tokio::time::Instant::now() < deadline, "the gauge never went down");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_behind_a_token_refuse_anyone_without_it() {
    let broker = Broker::start().await;
    let mut config = common::config(&broker);
    config.metrics_token = Some("scrape-secret-0123".into());
    let relay = Relay::start_with(&broker, config).await;
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

//! `relay --demo` as a new user runs it: the real binary, no `KAFKA_BROKERS`
//! (so the embedded broker), demo sign-in, the seeded orders, the order
//! simulator at a given rate (and off at 0), and the built client served at
//! `/`.

mod common;

use std::process::Stdio;
use std::time::Duration;

use protocol::http::{LoginResponse, OrdersResponse};
use protocol::{Role, ServerEvent};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

/// A demo relay and the URL it printed.
struct Demo {
    _child: Child,
    url: String,
}

impl Demo {
    async fn start(simulator_rate: &str, static_dir: &std::path::Path) -> Demo {
        let mut child = common::relay_command()
            .args(["--demo", "--listen", "127.0.0.1:0"])
            .args(["--simulator-rate", simulator_rate])
            .arg("--static-dir")
            .arg(static_dir)
            .env_remove("KAFKA_BROKERS")
            .env_remove("JWT_SECRET")
            .stdout(Stdio::piped())
            .spawn()
            .expect("relay binary");
        // The line a user reads among the logs: where to open the app.
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let line = lines.next_line().await.unwrap().expect("the relay exited");
                if let Some(url) = line.strip_prefix("relay ready on ") {
                    return url.trim_end_matches('/').to_owned();
                }
            }
        })
        .await
        .expect("the relay printed its URL in time");
        // Keep reading its stdout, so the relay never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Demo { _child: child, url }
    }

    /// Signs in the way the sign-in screen does.
    async fn login(&self, user: &str, role: Role) -> String {
        let response = reqwest::Client::new()
            .post(format!("{}/api/dev/login", self.url))
            .json(&json!({ "userId": user, "role": role }))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "demo login for {user}");
        response.json::<LoginResponse>().await.unwrap().token
    }

    /// `GET /api/orders`, once the seeded orders are there.
    async fn seeded_orders(&self, token: &str, at_least: usize) -> OrdersResponse {
        let deadline = tokio::time::Instant::now() + common::PATIENCE;
        loop {
            let response = reqwest::Client::new()
                .get(format!("{}/api/orders", self.url))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            if response.status().is_success() {
                let orders: OrdersResponse = response.json().await.unwrap();
                if orders.orders.len() >= at_least {
                    return orders;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the demo never seeded {at_least} orders"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn subscribe(&self, token: &str) -> common::Client {
        let ws_url = self.url.replace("http://", "ws://");
        let (ws, _) = tokio_tungstenite::connect_async(format!("{ws_url}/ws?token={token}"))
            .await
            .expect("upgrade");
        let mut client = common::Client { ws };
        client.next().await; // connection:success
        client.subscribe_fresh().await;
        client
    }
}

fn static_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("demo-dist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><title>Orders</title>",
    )
    .unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_seeds_orders_serves_the_client_and_simulates_live_traffic() {
    let dir = static_dir();
    let demo = Demo::start("20", &dir).await;

    let page = reqwest::get(format!("{}/orders", demo.url)).await.unwrap();
    assert!(page.status().is_success());
    assert!(page.text().await.unwrap().contains("<title>Orders</title>"));

    let alice = demo.login("alice", Role::User).await;
    let mine = demo.seeded_orders(&alice, 2).await;
    assert!(mine.orders.iter().all(|o| o.buyer_id == "alice"));
    let admin = demo.login("admin", Role::Admin).await;
    let all = demo.seeded_orders(&admin, 4).await;
    for user in ["alice", "bob"] {
        assert!(
            all.orders.iter().any(|o| o.buyer_id == user),
            "{user} seeded"
        );
    }

    // The simulator plays the order service: events keep coming.
    let mut watching = demo.subscribe(&admin).await;
    for _ in 0..3 {
        assert!(
            matches!(watching.next().await, ServerEvent::Order { .. }),
            "simulated order events"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_rate_zero_seeds_and_then_stays_quiet() {
    let dir = static_dir();
    let demo = Demo::start("0", &dir).await;
    let admin = demo.login("admin", Role::Admin).await;
    demo.seeded_orders(&admin, 4).await;
    let mut watching = demo.subscribe(&admin).await;
    let quiet = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match futures_util::StreamExt::next(&mut watching.ws).await {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) => return text,
                Some(Ok(_)) => continue,
                other => panic!("connection ended: {other:?}"),
            }
        }
    })
    .await;
    assert!(
        quiet.is_err(),
        "no events with the simulator off, got {quiet:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

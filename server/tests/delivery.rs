//! Delivery analytics end to end: Kafka → relay → 10 WebSocket clients that
//! report what they measured, as the browser does (client-core's clock
//! estimate and report batching), one of them with a clock 30 s fast.
//! `/metrics` then has every stage's histogram, with counts that add up.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use client_core::report::{ClockOffset, Reports};
use futures_util::{SinkExt, StreamExt};
use protocol::report::{ClockSync, DeliveryReport};
use protocol::{ClientEvent, Role, ServerEvent};
use tokio_tungstenite::tungstenite::Message;

use common::{created, metric, Client};

const CLIENTS: usize = 10;
const EVENTS: usize = 1000;
/// The last client's clock runs this far ahead of everyone's (ms).
const SKEW_MS: f64 = 30_000.0;

/// This client's clock, in ms since the epoch.
fn clock(skew: f64) -> f64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    now.as_secs_f64() * 1000.0 + skew
}

async fn send(client: &mut Client, event: ClientEvent) {
    client
        .ws
        .send(Message::text(event.to_json()))
        .await
        .expect("send");
}

/// Reads `EVENTS` live order events, measuring and reporting them as the
/// browser's socket service does; returns every latency (ms) it reported once
/// nothing is left to report.
async fn reporting_client(mut client: Client, skew: f64) -> Vec<f64> {
    let mut offset = ClockOffset::default();
    let mut reports = Reports::default();
    let mut reported = Vec::new();
    let mut seen = 0;
    let sync = |skew| {
        ClientEvent::ClockSync(ClockSync {
            sent: clock(skew) as u64,
        })
    };
    // A few samples first, as a connection's reports would have made.
    for _ in 0..5 {
        send(&mut client, sync(skew)).await;
    }
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while seen < EVENTS || !reports.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "{seen} events seen");
        tokio::select! {
            message = client.ws.next() => {
                let Message::Text(text) = message.expect("open").expect("frame") else {
                    continue;
                };
                match ServerEvent::from_json_timed(&text).expect("a valid frame") {
                    (ServerEvent::ClockSync(answer), _) => offset.sample(answer, clock(skew)),
                    (ServerEvent::Order { .. }, Some(sent_at)) => {
                        seen += 1;
                        reports.applied(sent_at as f64, clock(skew), &offset);
                    }
                    (other, sent_at) => panic!("unexpected {other:?} (sentAt {sent_at:?})"),
                }
            }
            _ = tick.tick() => {}
        }
        if let Some(report) = reports.due(clock(skew)) {
            reported.extend(report.latencies_us.iter().map(|us| f64::from(*us) / 1000.0));
            send(&mut client, ClientEvent::DeliveryReport(report)).await;
            send(&mut client, sync(skew)).await;
        }
    }
    reported
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stage_is_measured_and_a_skewed_clock_reports_true_latencies() {
    let (_broker, relay, producer) = common::relay_and_producer().await;
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let (client, _) = relay.subscribed(&format!("admin{i}"), Role::Admin).await;
        let skew = if i == CLIENTS - 1 { SKEW_MS } else { 0.0 };
        tasks.push(tokio::spawn(reporting_client(client, skew)));
    }
    // 200 events a second: under what a browser reports unsampled (256 a
    // second), so every value can be accounted for.
    let mut pace = tokio::time::interval(Duration::from_millis(5));
    for i in 0..EVENTS {
        pace.tick().await;
        let id = format!("o{i}");
        producer
            .send("order.created", &id, created(&id, &format!("u{}", i % 7)))
            .await;
    }
    let mut reported = Vec::new();
    for task in tasks {
        reported.push(task.await.unwrap());
    }

    let page = relay.metrics().await;
    let count = |stage: &str| {
        metric(
            &page,
            &format!("relay_delivery_seconds_count{{stage=\"{stage}\"}}"),
        )
    };
    let sum = |stage: &str| {
        metric(
            &page,
            &format!("relay_delivery_seconds_sum{{stage=\"{stage}\"}}"),
        )
    };
    assert_eq!(count("kafka_to_relay"), EVENTS as f64, "one per event read");
    assert_eq!(
        count("relay_to_socket"),
        (EVENTS * CLIENTS) as f64,
        "one per event and socket"
    );
    let values: usize = reported.iter().map(Vec::len).sum();
    assert_eq!(
        values,
        EVENTS * CLIENTS,
        "every client reported every event"
    );
    assert_eq!(
        count("relay_to_browser"),
        values as f64,
        "the relay counted every value"
    );
    assert_eq!(
        metric(&page, "relay_browser_report_values_dropped_total"),
        0.0
    );
    let browser_mean_ms = sum("relay_to_browser") / count("relay_to_browser") * 1000.0;
    assert!(
        browser_mean_ms < 1000.0,
        "mean {browser_mean_ms} ms: a skewed clock got in"
    );
    // Buckets add up: the +Inf bucket of each stage is its count.
    for stage in ["kafka_to_relay", "relay_to_socket", "relay_to_browser"] {
        let inf = metric(
            &page,
            &format!("relay_delivery_seconds_bucket{{stage=\"{stage}\",le=\"+Inf\"}}"),
        );
        assert_eq!(inf, count(stage), "{stage}");
    }

    // The skewed client measured what the others did.
    let (skewed, right) = reported.split_last().unwrap();
    let right: Vec<f64> = right.iter().flatten().copied().collect();
    let (skewed_ms, right_ms) = (mean(skewed), mean(&right));
    println!("mean latency: skewed client {skewed_ms:.3} ms, the others {right_ms:.3} ms");
    assert!(
        (skewed_ms - right_ms).abs() < 5.0,
        "skewed {skewed_ms:.3} ms against {right_ms:.3} ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_client_is_bounded_and_its_bad_values_counted() {
    let (_broker, relay, _producer) = common::relay_and_producer().await;
    let mut client = relay.connect("mallory", Role::User).await;
    let flood = DeliveryReport {
        latencies_us: vec![1000; 3000],
        reconnects: Vec::new(),
    };
    // The first report counts up to its cap; the ones right after it not at all.
    for _ in 0..3 {
        send(&mut client, ClientEvent::DeliveryReport(flood.clone())).await;
    }
    let hostile = r#"{"event":"delivery:report","data":{"latenciesUs":[-5,1e300,"x"]}}"#;
    client.send_text(hostile).await;
    match client.next().await {
        ServerEvent::Error(body) => assert_eq!(body.code, "invalid_data", "{}", body.message),
        other => panic!("expected an error frame, got {other:?}"),
    }
    common::eventually("the flood counted", || async {
        let page = relay.metrics().await;
        let counted = metric(
            &page,
            "relay_delivery_seconds_count{stage=\"relay_to_browser\"}",
        );
        let dropped = metric(&page, "relay_browser_report_values_dropped_total");
        counted == protocol::report::MAX_REPORT_VALUES as f64
            && dropped == (3 * 3000 - protocol::report::MAX_REPORT_VALUES) as f64
    })
    .await;
    // The socket is still open and served.
    send(&mut client, ClientEvent::Ping).await;
    assert_eq!(client.next().await, ServerEvent::Pong);
}

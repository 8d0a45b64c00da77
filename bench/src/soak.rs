//! The soak: a steady publish rate to thousands of connections for minutes,
//! sampling the relay every 10 s. It is how a stall that needs minutes of
//! traffic shows up (and how its absence is shown): delivered/expected at
//! the end, latency percentiles per minute, and the relay's memory, consumed
//! count, lag and deliveries over time.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::conns::{self, Latency};
use crate::{probe, publish, stats};

pub struct Soak<'a> {
    pub relay: &'a str,
    pub kafka: &'a str,
    pub pid: Option<u32>,
    pub label: &'a str,
    pub keys: &'a server::web::auth::Keys,
    pub connections: usize,
    pub per_user: usize,
    pub rate: u64,
    pub duration: Duration,
    pub sample_every: Duration,
}

/// One sample of the relay's state.
fn sample(soak: &Soak<'_>, t: f64, delivered: usize, page: &str) -> Value {
    let rss_kb = soak.pid.and_then(|pid| probe::rss_kb(pid).ok());
    json!({
        "t_s": t,
        "rss_kb": rss_kb,
        "consumed": consumed(page),
        "lag": metric_sum(page, "relay_kafka_consumer_lag"),
        "delivered": delivered,
    })
}

/// Kafka messages the relay has read, from its /metrics page (ours, or the
/// Node baseline's `baseline_consumed`).
fn consumed(page: &str) -> Option<f64> {
    metric_sum(page, "relay_kafka_messages_consumed_total")
        .or_else(|| metric_sum(page, "baseline_consumed"))
}

/// The sum of every sample of `name` (all label sets) in a Prometheus page.
fn metric_sum(page: &str, name: &str) -> Option<f64> {
    let values: Vec<f64> = page
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let value = match rest.strip_prefix('{') {
                Some(labelled) => labelled.split_once("} ")?.1,
                None => rest.strip_prefix(' ')?,
            };
            value.trim().parse().ok()
        })
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

async fn metrics_page(relay: &str) -> String {
    let url = format!("http://{relay}/metrics");
    match reqwest::get(&url).await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Latency percentiles (ms) per minute of publishing.
fn per_minute(latencies: &[Latency]) -> Vec<Value> {
    let minutes = latencies
        .iter()
        .map(|l| l.published_s / 60)
        .max()
        .map_or(0, |m| m + 1);
    let mut buckets: Vec<Vec<u32>> = vec![Vec::new(); minutes as usize];
    for l in latencies {
        buckets[(l.published_s / 60) as usize].push(l.micros);
    }
    buckets
        .into_iter()
        .enumerate()
        .filter(|(_, b)| !b.is_empty())
        .map(|(minute, bucket)| {
            let count = bucket.len();
            let p = stats::percentiles(bucket, &[50.0, 99.0, 99.9]);
            json!({"minute": minute, "deliveries": count, "p50_ms": p[0], "p99_ms": p[1], "p999_ms": p[2]})
        })
        .collect()
}

pub async fn run(soak: Soak<'_>) -> anyhow::Result<Value> {
    let users = (soak.connections / soak.per_user.max(1)).max(1);
    let conns = conns::open(
        soak.relay,
        soak.keys,
        soak.connections,
        users,
        "soak",
        None,
        conns::Framing::Ws,
    )
    .await?;
    let started = Instant::now();
    let publisher = tokio::spawn({
        let (kafka, rate, duration) = (soak.kafka.to_owned(), soak.rate, soak.duration);
        async move { publish::run(&kafka, users, rate, duration, "soak").await }
    });
    let mut samples = Vec::new();
    let mut next = soak.sample_every;
    while !publisher.is_finished() {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let t = started.elapsed();
        if t >= next {
            next += soak.sample_every;
            let page = metrics_page(soak.relay).await;
            let s = sample(&soak, t.as_secs_f64(), conns.delivered(), &page);
            eprintln!("[{}] {s}", soak.label);
            samples.push(s);
        }
    }
    let published = publisher.await??;
    let expected = published as usize * soak.per_user;
    let settle = Instant::now();
    while conns.delivered() < expected && settle.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = metrics_page(soak.relay).await;
    samples.push(sample(
        &soak,
        started.elapsed().as_secs_f64(),
        conns.delivered(),
        &page,
    ));
    let delivered = conns.delivered();
    let latencies = conns.finish().await;
    let overall = stats::percentiles(
        latencies.iter().map(|l| l.micros).collect(),
        &[50.0, 99.0, 99.9],
    );
    Ok(json!({
        "scenario": "soak", "label": soak.label, "connections": soak.connections,
        "users": users, "rate": soak.rate, "seconds": soak.duration.as_secs(),
        "published": published, "expected": expected, "delivered": delivered,
        "delivered_ratio": delivered as f64 / expected.max(1) as f64,
        "p50_ms": overall[0], "p99_ms": overall[1], "p999_ms": overall[2],
        "per_minute": per_minute(&latencies), "samples": samples,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_a_metric_over_its_labels() {
        let page = "# HELP x\nrelay_kafka_messages_consumed_total{topic=\"a\"} 3\nrelay_kafka_messages_consumed_total{topic=\"b\"} 4\nrelay_kafka_consumer_lag 7\n";
        assert_eq!(consumed(page), Some(7.0));
        assert_eq!(metric_sum(page, "relay_kafka_consumer_lag"), Some(7.0));
        assert_eq!(consumed("baseline_consumed 12\n"), Some(12.0));
        assert_eq!(metric_sum("", "relay_kafka_consumer_lag"), None);
    }

    #[test]
    fn percentiles_are_grouped_by_the_minute_of_publishing() {
        let l = |published_s, ms: u32| Latency {
            published_s,
            micros: ms * 1000,
        };
        let minutes = per_minute(&[l(0, 1), l(59, 3), l(60, 10), l(185, 7)]);
        assert_eq!(minutes.len(), 3);
        assert_eq!(minutes[0]["deliveries"], 2);
        assert_eq!(minutes[0]["p99_ms"], 3.0);
        assert_eq!(minutes[2]["minute"], 3);
    }
}

//! The operator's tools against a real relay: Debian's Prometheus scrapes
//! it with the repository's alert rules loaded (deploy/prometheus), a
//! delivery p99 query returns a number, every query of the Grafana
//! dashboard (deploy/grafana) runs, and promtool checks and unit-tests the
//! rules. Then the logs: a reconnect storm of 10,000 sockets against the
//! relay binary writes a bounded number of `info` lines, each one JSON, and
//! the access log names the client a trusted proxy forwarded.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt;
use protocol::Role;
use serde_json::Value;

use common::{created, free_port, Broker};

/// The repository's `deploy/` folder.
fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// A binary of Debian's `prometheus` package.
fn tool(name: &str) -> Command {
    let found = Command::new(name).arg("--version").output();
    assert!(
        found.is_ok_and(|out| out.status.success()),
        "`{name}` is not installed: run `bash .ci/install` (Debian's prometheus package)"
    );
    Command::new(name)
}

/// A Prometheus server scraping `target` every second with the repository's
/// alert rules; killed when dropped.
struct Prometheus {
    child: std::process::Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    async fn start(target: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let rules = deploy().join("prometheus/alerts.yml");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: order-relay\n    static_configs:\n      - targets: [\"{target}\"]\n",
            rules.canonicalize().unwrap().display()
        );
        let file = dir.path().join("prometheus.yml");
        std::fs::write(&file, config).unwrap();
        let listen = format!("127.0.0.1:{}", free_port());
        let child = tool("prometheus")
            .arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={listen}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts");
        let prometheus = Prometheus {
            child,
            base: format!("http://{listen}"),
            _dir: dir,
        };
        common::eventually("Prometheus is ready", || async {
            reqwest::get(format!("{}/-/ready", prometheus.base))
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
        prometheus
    }

    /// An instant query's answer, as Prometheus' JSON.
    async fn query(&self, promql: &str) -> Value {
        reqwest::Client::new()
            .get(format!("{}/api/v1/query", self.base))
            .query(&[("query", promql)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The first sample of a query, if it has a finite one.
    async fn number(&self, promql: &str) -> Option<f64> {
        let answer = self.query(promql).await;
        let value = answer["data"]["result"][0]["value"][1].as_str()?;
        value.parse::<f64>().ok().filter(|v| v.is_finite())
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every metric family a PromQL expression names.
fn families(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    for start in ["relay_", "process_"] {
        for (i, _) in expr.match_indices(start) {
            let name: String = expr[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let family = name.strip_suffix("_bucket").unwrap_or(&name).to_owned();
            names.push(family);
        }
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_relay_with_the_alert_rules_and_the_dashboard_queries_run() {
    let (_broker, relay, producer) = common::relay_and_producer().await;
    let prometheus = Prometheus::start(&relay.base).await;
    let mut admins = Vec::new();
    for i in 0..3 {
        let (admin, _) = relay.subscribed(&format!("root{i}"), Role::Admin).await;
        // Read, as a browser does, so the socket stays open and fast.
        admins.push(tokio::spawn(async move {
            let mut ws = admin.ws;
            while let Some(Ok(_)) = ws.next().await {}
        }));
    }

    // Orders keep coming until Prometheus has the delivery p99.
    let p99 = r#"histogram_quantile(0.99, sum by (le) (rate(relay_delivery_seconds_bucket{job="order-relay", stage="relay_to_socket"}[30s])))"#;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut sent = 0;
    let seconds = loop {
        for _ in 0..20 {
            let id = format!("o{sent}");
            producer
                .send("order.created", &id, created(&id, "alice"))
                .await;
            sent += 1;
        }
        if let Some(seconds) = prometheus.number(p99).await {
            break seconds;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no p99 from Prometheus"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    println!(
        "delivery p99 (Kafka read → socket) from Prometheus: {:.3} ms",
        seconds * 1000.0
    );
    assert!(seconds > 0.0 && seconds < 5.0, "{seconds}");

    // The rules are loaded and evaluate without error.
    common::eventually("every rule evaluated", || async {
        let rules: Value = reqwest::get(format!("{}/api/v1/rules", prometheus.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let rules = rules["data"]["groups"][0]["rules"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        rules.len() == 9 && rules.iter().all(|r| r["health"] == "ok")
    })
    .await;

    // Every dashboard query is valid PromQL, and names families the relay has.
    let page = relay.metrics().await;
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(deploy().join("grafana/order-relay.json")).unwrap(),
    )
    .unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    let mut queries = 0;
    for panel in panels {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for family in families(expr) {
                assert!(
                    page.contains(&format!("# TYPE {family} ")),
                    "{} names {family}, which /metrics lacks",
                    panel["title"]
                );
            }
            let promql = expr
                .replace("$__rate_interval", "30s")
                .replace("$instance", ".*");
            let answer = prometheus.query(&promql).await;
            assert_eq!(answer["status"], "success", "{promql}: {answer}");
            queries += 1;
        }
    }
    assert!(queries >= 14, "{queries} queries");
    for admin in admins {
        admin.abort();
    }
}

#[test]
fn promtool_checks_and_unit_tests_the_alert_rules() {
    for args in [
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts_test.yml"],
        ["check", "config", "prometheus.yml"],
    ] {
        let run = tool("promtool")
            .args(args)
            .current_dir(deploy().join("prometheus"))
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "promtool {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_storm_writes_a_few_info_lines_all_json() {
    const SOCKETS: usize = 10_000;
    const WAVE: usize = 1_000;
    let broker = Broker::start().await;
    let listen = format!("127.0.0.1:{}", free_port());
    let log = tempfile::NamedTempFile::new().unwrap();
    let relay = common::relay_command()
        .env("KAFKA_BROKERS", &broker.bootstrap)
        .env("JWT_SECRET", common::SECRET)
        .env("LISTEN_ADDR", &listen)
        .env("LOG_FORMAT", "json")
        .env("LOG_SUMMARY_SECS", "1")
        .env("RUST_LOG", "info,rdkafka=warn")
        // The test is the proxy: what it says in X-Forwarded-For is believed.
        .env("TRUSTED_PROXIES", "127.0.0.1")
        .stdout(log.reopen().unwrap())
        .spawn()
        .expect("relay binary");
    common::wait_for_port(&listen).await;
    common::until_readyz(&listen, 200).await;
    let keys = server::web::auth::Keys::new(common::SECRET.as_bytes());
    let lines_before = std::fs::read_to_string(log.path()).unwrap().lines().count();

    let started = std::time::Instant::now();
    for wave in 0..SOCKETS / WAVE {
        let mut sockets = Vec::with_capacity(WAVE);
        for i in 0..WAVE {
            let user = format!("u{}", wave * WAVE + i);
            let token = keys.issue(&user, Role::User, Duration::from_secs(600));
            let url = format!("ws://{listen}/ws?token={token}");
            sockets.push(tokio_tungstenite::connect_async(url));
        }
        // Opened together, then all gone at once: a relay restart's storm.
        let opened = futures_util::future::join_all(sockets).await;
        assert!(opened.iter().all(Result::is_ok), "every socket opens");
        drop(opened);
    }
    let storm = started.elapsed();
    // Two API requests through "the proxy": one names its client.
    let token = keys.issue("shopper", Role::User, Duration::from_secs(600));
    for forwarded in [Some("6.6.6.6, 198.51.100.7"), None] {
        let mut request = reqwest::Client::new()
            .get(format!("http://{listen}/api/orders"))
            .bearer_auth(&token);
        if let Some(forwarded) = forwarded {
            request = request.header("x-forwarded-for", forwarded);
        }
        assert!(request.send().await.unwrap().status().is_success());
    }
    // Wait for a summary line that saw every socket close.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    drop(relay);

    let text = std::fs::read_to_string(log.path()).unwrap();
    let mut info = 0;
    let mut closed = 0u64;
    for line in text.lines() {
        let entry: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if entry["level"] == "INFO" {
            info += 1;
            if entry["fields"]["message"] == "activity" {
                closed += entry["fields"]["sockets_closed"].as_u64().unwrap();
            }
        }
    }
    // The access log names each client: the address the trusted proxy saw
    // (not the one the client wrote before it), else the peer's.
    let clients: Vec<String> = text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|entry| entry["target"] == "access")
        .map(|entry| {
            entry["fields"]["client"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        clients,
        ["198.51.100.7", "127.0.0.1"],
        "access lines: {clients:?}"
    );
    let storm_lines = text.lines().count() - lines_before;
    println!(
        "reconnect storm: {SOCKETS} sockets in {:.1} s wrote {storm_lines} log lines ({info} info in the whole log)",
        storm.as_secs_f64()
    );
    assert_eq!(closed, SOCKETS as u64, "the summaries count every socket");
    // One summary a second, and the start-up lines: never a line per socket.
    let bound = storm.as_secs() as usize + 3 + lines_before;
    assert!(
        info <= bound + 20,
        "{info} info lines for {SOCKETS} sockets (bound {bound})"
    );
}

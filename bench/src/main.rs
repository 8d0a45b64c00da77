//! `loadgen`: drives a relay (ours or the Node baseline) with real WebSocket
//! connections and real Kafka traffic, and prints what it measured as one
//! JSON object per scenario on stdout. `bench/run.sh` runs the scenarios
//! against both relays and writes the report.
//!
//! Layout:
//! - [`conns`]: opening many authenticated, subscribed connections from
//!   several loopback source addresses, and reading their frames.
//! - [`publish`]: a rate-limited Kafka producer that stamps publish times.
//! - [`probe`]: RSS and CPU time of the relay process, from /proc.
//! - [`soak`]: minutes of steady load, sampled every 10 s.
//! - [`stats`]: latency percentiles.
#![forbid(unsafe_code)]

mod conns;
mod probe;
mod publish;
mod soak;
mod stats;

use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use serde_json::json;

#[derive(Parser)]
#[command(name = "loadgen", about = "Load generator for the order relay")]
struct Args {
    /// The relay's host:port.
    #[arg(long, default_value = "127.0.0.1:3009")]
    relay: String,
    /// Kafka bootstrap servers the relay consumes from.
    #[arg(long, default_value = "127.0.0.1:9092")]
    kafka: String,
    /// The relay's JWT secret.
    #[arg(long, env = "JWT_SECRET")]
    secret: String,
    /// The relay's process id, for memory and CPU figures.
    #[arg(long)]
    pid: Option<u32>,
    /// A label for the output (e.g. "rust" or "node").
    #[arg(long, default_value = "relay")]
    label: String,
    /// How the idle and load connections speak: the relay's `/ws` frames, or
    /// Socket.IO v4 at `/socket.io/` (ours or the seed's Node server).
    #[arg(long, value_enum, default_value = "ws")]
    framing: conns::Framing,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Open N idle connections, hold them, and report the relay's memory per
    /// connection and its CPU while they idle.
    Idle {
        #[arg(long, default_value_t = 10_000)]
        connections: usize,
        /// How long to hold them, measuring the relay's CPU.
        #[arg(long, default_value_t = 30)]
        hold_secs: u64,
        /// Each connection sends the protocol's heartbeat `ping` this often,
        /// in ms, as a page does (15000 for the relay's default 45 s window);
        /// 0 sends none.
        #[arg(long, default_value_t = 15_000)]
        ping_ms: u64,
    },
    /// Publish at a fixed rate to N connections and report deliveries/s and latency.
    Load {
        #[arg(long, default_value_t = 10_000)]
        connections: usize,
        /// Connections per user: each event is delivered to this many.
        #[arg(long, default_value_t = 10)]
        per_user: usize,
        /// Events published per second (0 = as fast as possible).
        #[arg(long)]
        rate: u64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Publish at a steady rate for minutes, sampling the relay's memory,
    /// consumed count, lag and deliveries; report latency per minute.
    Soak {
        #[arg(long, default_value_t = 5_000)]
        connections: usize,
        #[arg(long, default_value_t = 10)]
        per_user: usize,
        /// Events published per second.
        #[arg(long, default_value_t = 400)]
        rate: u64,
        #[arg(long, default_value_t = 1800)]
        seconds: u64,
        /// Seconds between samples.
        #[arg(long, default_value_t = 10)]
        sample_secs: u64,
    },
    /// Publish N orders of three events each as fast as the broker takes
    /// them (the start-up benchmark's history).
    Fill {
        #[arg(long)]
        orders: u64,
        #[arg(long, default_value_t = 1_000)]
        users: u64,
    },
    /// Time a resume by cursor after missing N events.
    Resume {
        #[arg(long, default_value_t = 1_000)]
        missed: usize,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let keys = server::web::auth::Keys::new(args.secret.as_bytes());
    let report = match args.scenario {
        Scenario::Idle {
            connections,
            hold_secs,
            ping_ms,
        } => {
            let before = args.pid.map(probe::rss_kb).transpose()?;
            let heartbeat = (ping_ms > 0).then(|| Duration::from_millis(ping_ms));
            let conns = conns::open(
                &args.relay,
                &keys,
                connections,
                connections.max(1),
                "idle",
                heartbeat,
                args.framing,
            )
            .await?;
            let cpu_before = args.pid.map(probe::cpu_ticks).transpose()?;
            tokio::time::sleep(Duration::from_secs(hold_secs)).await;
            let cpu_after = args.pid.map(probe::cpu_ticks).transpose()?;
            let after = args.pid.map(probe::rss_kb).transpose()?;
            let per_conn = match (before, after) {
                (Some(b), Some(a)) => Some((a.saturating_sub(b)) as f64 / connections as f64),
                _ => None,
            };
            // Percent of one core while the connections idle (and ping).
            let cpu_percent = match (cpu_before, cpu_after) {
                (Some(b), Some(a)) if hold_secs > 0 => Some(
                    (a - b) as f64 * 100.0 / probe::ticks_per_second() as f64 / hold_secs as f64,
                ),
                _ => None,
            };
            drop(conns);
            json!({"scenario": "idle", "label": args.label, "framing": args.framing.name(), "connections": connections,
                   "hold_secs": hold_secs, "ping_ms": ping_ms,
                   "rss_before_kb": before, "rss_after_kb": after, "kb_per_connection": per_conn,
                   "cpu_percent_idle": cpu_percent})
        }
        Scenario::Load {
            connections,
            per_user,
            rate,
            seconds,
        } => {
            let users = (connections / per_user.max(1)).max(1);
            let conns = conns::open(
                &args.relay,
                &keys,
                connections,
                users,
                "load",
                None,
                args.framing,
            )
            .await?;
            let cpu_before = args.pid.map(probe::cpu_ticks).transpose()?;
            let started = Instant::now();
            let published = publish::run(
                &args.kafka,
                users,
                rate,
                Duration::from_secs(seconds),
                "load",
            )
            .await?;
            // Let in-flight deliveries land before counting.
            let expected = published as usize * per_user;
            let settle = Instant::now();
            while conns.delivered() < expected && settle.elapsed() < Duration::from_secs(10) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let elapsed = started.elapsed().as_secs_f64();
            let cpu = match (cpu_before, args.pid.map(probe::cpu_ticks).transpose()?) {
                (Some(b), Some(a)) => {
                    Some((a - b) as f64 / probe::ticks_per_second() as f64 / elapsed)
                }
                _ => None,
            };
            let delivered = conns.delivered();
            let latencies = conns.finish().await.iter().map(|l| l.micros).collect();
            let p = stats::percentiles(latencies, &[50.0, 99.0, 99.9]);
            json!({"scenario": "load", "label": args.label, "framing": args.framing.name(), "connections": connections, "users": users,
                   "rate": rate, "seconds": seconds, "published": published, "expected": expected,
                   "delivered": delivered, "deliveries_per_s": delivered as f64 / elapsed,
                   "p50_ms": p[0], "p99_ms": p[1], "p999_ms": p[2], "relay_cpu_cores": cpu})
        }
        Scenario::Soak {
            connections,
            per_user,
            rate,
            seconds,
            sample_secs,
        } => {
            soak::run(soak::Soak {
                relay: &args.relay,
                kafka: &args.kafka,
                pid: args.pid,
                label: &args.label,
                keys: &keys,
                connections,
                per_user,
                rate,
                duration: Duration::from_secs(seconds),
                sample_every: Duration::from_secs(sample_secs.max(1)),
            })
            .await?
        }
        Scenario::Fill { orders, users } => {
            let started = Instant::now();
            let kafka = args.kafka.clone();
            let events =
                tokio::task::spawn_blocking(move || publish::fill(&kafka, orders, users)).await??;
            json!({"scenario": "fill", "orders": orders, "events": events,
                   "secs": started.elapsed().as_secs_f64()})
        }
        Scenario::Resume { missed } => {
            let took = conns::resume(&args.relay, &args.kafka, &keys, missed).await?;
            json!({"scenario": "resume", "label": args.label, "missed": missed, "caught_up_ms": took.as_secs_f64() * 1000.0})
        }
    };
    println!("{report}");
    Ok(())
}

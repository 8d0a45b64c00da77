//! `relay`: see `relay --help` and the README.
#![forbid(unsafe_code)]

use clap::Parser;
use server::config::{Config, LogFormat};
use server::kafka::embedded::EmbeddedBroker;
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    let mut config = match Config::try_parse() {
        Ok(config) => config,
        // --help and --version print and exit 0, as clap does.
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => return invalid_setting(e.to_string().lines().next().unwrap_or_default()),
    };
    if let Err(e) = config.kafka.add_environment(std::env::vars()) {
        return invalid_setting(&e);
    }
    if let Err(e) = config.validate() {
        return invalid_setting(&e.to_string());
    }
    init_logging(config.observe.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("relay: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("relay: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Log lines to stdout, as text or one JSON object per line; levels from
/// `RUST_LOG`.
fn init_logging(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,rdkafka=warn"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => logs.json().with_current_span(false).init(),
        // Colours for a terminal, plain text for a log file or a pipe.
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .init(),
    }
}

/// One line on stderr, exit status 2.
fn invalid_setting(what: &str) -> std::process::ExitCode {
    let what = what.trim_start_matches("error: ");
    eprintln!("relay: invalid setting: {what} (relay --help lists the settings)");
    std::process::ExitCode::from(2)
}

async fn run(config: Config) -> anyhow::Result<()> {
    // Signals are caught from the first instant: a SIGTERM that arrives
    // while the relay is still starting (its port already open) must stop
    // it cleanly, not kill it with the default action.
    let mut signals = Signals::install()?;
    // The embedded broker must outlive the relay: keep it on this stack.
    let (embedded, brokers) = match &config.kafka_brokers {
        Some(brokers) => (None, brokers.clone()),
        None => {
            let names: Vec<&str> = config.topics().iter().map(|(name, _)| *name).collect();
            let broker = EmbeddedBroker::start(&names, config.topic_partitions)?;
            let brokers = broker.bootstrap_servers();
            tracing::info!(%brokers, "KAFKA_BROKERS unset: started the embedded Kafka broker");
            (Some(broker), brokers)
        }
    };
    let json_logs = config.observe.log_format == LogFormat::Json;
    let running = server::app::start(config, &brokers).await?;
    // Where to point a browser, on stdout; with JSON logs, stdout is only
    // JSON lines, and the address is in the `relay listening` log line.
    if !json_logs {
        println!("relay ready on http://{}/", running.addr);
    }
    signals.next().await;
    tracing::info!("shutting down");
    // A second signal cuts the drain short.
    running.drain_and_stop(signals.next()).await?;
    drop(embedded);
    Ok(())
}

/// SIGTERM and SIGINT, each a stream: a second signal is caught too.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Self> {
        use anyhow::Context as _;
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
        })
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

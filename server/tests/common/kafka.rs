//! Apache Kafka for the tests: the broker's own jars (`.ci/install-kafka`
//! puts them in `$KAFKA_HOME/libs`) run as a one-node KRaft cluster, broker
//! and controller in one small JVM, on free loopback ports, in a directory
//! of its own. Its data survives [`ApacheKafka::stop`] and
//! [`ApacheKafka::restart`]. Dropped, it is killed and its directory removed,
//! unless the test is failing: then the directory (with `logs/server.log`)
//! is kept and its path printed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

use super::{free_port, wait_for_port, Producer};

/// Where `.ci/install-kafka` put the broker (`.ci/env` exports it).
fn home() -> PathBuf {
    let home = std::env::var("KAFKA_HOME").unwrap_or_else(|_| {
        panic!("KAFKA_HOME is not set: run `bash .ci/install-kafka` and `source .ci/env`")
    });
    let home = PathBuf::from(home);
    assert!(
        home.join("libs").is_dir(),
        "no Apache Kafka in {}: run `bash .ci/install-kafka`",
        home.display()
    );
    home
}

/// `java` with the broker's classpath and a small footprint: a 384 MB heap
/// at most, the serial collector and the first JIT tier only (the tests
/// start many short-lived brokers on two cores).
fn java(main: &str, logs: &Path) -> Command {
    let home = home();
    let mut command = Command::new("java");
    command
        .args([
            "-Xms64m",
            "-Xmx384m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
        ])
        .args(["-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true"])
        .arg(format!(
            "-Dlog4j2.configurationFile={}",
            home.join("log4j2.properties").display()
        ))
        .arg(format!("-Dkafka.logs.dir={}", logs.display()))
        .arg("-cp")
        .arg(format!("{}/libs/*", home.display()))
        .arg(main);
    command
}

/// The SASL_SSL listener of a secured broker: its certificates and users.
#[derive(Debug, Clone)]
pub struct Secured {
    /// The broker's certificate chain and key, one PEM file.
    pub keystore_pem: String,
    /// CAs whose client certificates the broker trusts (mutual TLS is
    /// requested, not required).
    pub truststore_pem: String,
    /// `(user, password)` for SASL/PLAIN.
    pub plain_users: Vec<(String, String)>,
    /// `(user, password)` for SCRAM-SHA-256 and SCRAM-SHA-512.
    pub scram_users: Vec<(String, String)>,
}

pub struct ApacheKafka {
    child: Option<Child>,
    dir: PathBuf,
    /// The PLAINTEXT listener, `127.0.0.1:port`.
    pub bootstrap: String,
    /// The SASL_SSL listener of a broker started with [`ApacheKafka::secured`].
    pub secure_bootstrap: Option<String>,
}

impl ApacheKafka {
    /// A new broker in a fresh directory named after `name`.
    pub async fn start(name: &str) -> ApacheKafka {
        let mut kafka = ApacheKafka::prepare(name, None);
        copy_dir(template(), &kafka.dir.join("data"));
        kafka.restart().await;
        kafka
    }

    /// A broker with a SASL_SSL listener too (PLAIN and SCRAM), besides its
    /// PLAINTEXT one.
    pub async fn secured(name: &str, secured: &Secured) -> ApacheKafka {
        let mut kafka = ApacheKafka::prepare(name, Some(secured));
        let mut format = java("kafka.tools.StorageTool", &kafka.dir.join("logs"));
        format
            .args(["format", "--ignore-formatted", "-t", CLUSTER_ID, "-c"])
            .arg(kafka.dir.join("server.properties"));
        for (user, password) in &secured.scram_users {
            for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
                format
                    .arg("--add-scram")
                    .arg(format!("{mechanism}=[name={user},password={password}]"));
            }
        }
        run(&mut format, "format the secured broker's storage");
        kafka.restart().await;
        kafka
    }

    fn prepare(name: &str, secured: Option<&Secured>) -> ApacheKafka {
        let port = free_port();
        let controller = free_port();
        let dir = std::env::temp_dir().join(format!("kafka-{name}-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        let secure_port = secured.map(|_| free_port());
        let properties = properties(&dir, port, controller, secure_port, secured);
        std::fs::write(dir.join("server.properties"), properties).unwrap();
        if let Some(secured) = secured {
            std::fs::write(dir.join("keystore.pem"), &secured.keystore_pem).unwrap();
            std::fs::write(dir.join("truststore.pem"), &secured.truststore_pem).unwrap();
        }
        ApacheKafka {
            child: None,
            dir,
            bootstrap: format!("127.0.0.1:{port}"),
            secure_bootstrap: secure_port.map(|port| format!("127.0.0.1:{port}")),
        }
    }

    /// Kills the broker (as a crash would: no clean shutdown).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = tokio::task::spawn_blocking(move || child.wait()).await;
        }
    }

    /// Starts it again (killing it first if it runs), with the same data and
    /// ports; returns once it listens.
    pub async fn restart(&mut self) {
        self.stop().await;
        let logs = self.dir.join("logs");
        let stdout = std::fs::File::create(logs.join("stdout.log")).unwrap();
        let child = java("kafka.Kafka", &logs)
            .arg(self.dir.join("server.properties"))
            .stdout(stdout.try_clone().unwrap())
            .stderr(stdout)
            .spawn()
            .expect("java (Java 17 or later) on PATH");
        self.child = Some(child);
        let mut listeners = vec![self.bootstrap.clone()];
        listeners.extend(self.secure_bootstrap.clone());
        for addr in listeners {
            tokio::select! {
                () = wait_for_port(&addr) => {}
                () = self.exited() => {}
            }
        }
    }

    /// Fails the test at once, with the broker's own last words, if it exits
    /// (a bad property, a port taken); never returns while it runs.
    async fn exited(&mut self) {
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                let said =
                    std::fs::read_to_string(self.dir.join("logs/stdout.log")).unwrap_or_default();
                let tail: Vec<&str> = said.lines().rev().take(5).collect();
                panic!(
                    "Apache Kafka exited at start ({status}); it said:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// A producer that waits for the broker's acknowledgement.
    pub fn producer(&self) -> Producer {
        Producer::connect(&self.bootstrap)
    }

    /// Runs one of Kafka's command-line tools (`main`, e.g.
    /// `org.apache.kafka.tools.consumer.group.ConsumerGroupCommand`) against
    /// this broker, as `kafka-consumer-groups.sh` would; returns its output.
    pub async fn tool(&self, main: &str, args: &[&str]) -> Output {
        let mut command = java(main, &self.dir.join("logs"));
        command
            .args(["--bootstrap-server", &self.bootstrap])
            .args(args)
            .stdin(Stdio::null());
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .unwrap()
            .expect("java runs");
        assert!(
            output.status.success(),
            "{main} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }
}

impl Drop for ApacheKafka {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "Apache Kafka's directory is kept for the failing test: {} (logs/server.log)",
                self.dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Every test broker's cluster id (each is its own one-node cluster).
const CLUSTER_ID: &str = "b3JkZXItcmVsYXktdGVzdA";

/// The broker's settings, shared with the benchmarks' broker script: one
/// node, replication factor 1 everywhere, no initial rebalance delay, a
/// one-second retention check (the retention tests).
const TEMPLATE: &str = include_str!("../../../.ci/kafka/server.properties");

/// [`TEMPLATE`] for these ports, with a SASL_SSL listener if `secured`.
fn properties(
    dir: &Path,
    port: u16,
    controller: u16,
    secure_port: Option<u16>,
    secured: Option<&Secured>,
) -> String {
    let mut text = TEMPLATE
        .replace("@PORT@", &port.to_string())
        .replace("@CONTROLLER@", &controller.to_string())
        .replace("@DATA@", &dir.join("data").display().to_string());
    // A later key wins in a properties file.
    if let Some(secure) = secure_port {
        text += &format!(
            "listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller},SASL_SSL://127.0.0.1:{secure}
advertised.listeners=PLAINTEXT://127.0.0.1:{port},SASL_SSL://127.0.0.1:{secure}
"
        );
    }
    if let Some(secured) = secured {
        let plain_users: String = secured
            .plain_users
            .iter()
            .map(|(user, password)| format!(" user_{user}=\"{password}\""))
            .collect();
        text += &format!(
            "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required{plain_users};
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location={keystore}
ssl.truststore.type=PEM
ssl.truststore.location={truststore}
ssl.client.auth=requested
",
            keystore = dir.join("keystore.pem").display(),
            truststore = dir.join("truststore.pem").display(),
        );
    }
    text
}

/// Formatted KRaft storage, made once per test process (a JVM start) and
/// copied into each plain broker's directory: the format does not depend on
/// the ports.
fn template() -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("kafka-template-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        let properties = properties(&dir, free_port(), free_port(), None, None);
        std::fs::write(dir.join("server.properties"), properties).unwrap();
        run(
            java("kafka.tools.StorageTool", &dir.join("logs"))
                .args(["format", "-t", CLUSTER_ID, "-c"])
                .arg(dir.join("server.properties")),
            "format the template storage",
        );
        dir.join("data")
    })
}

fn run(command: &mut Command, what: &str) {
    let output = command.output().expect("java (Java 17 or later) on PATH");
    assert!(
        output.status.success(),
        "cannot {what}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

//! The relay on a secured Apache Kafka: a SASL_SSL listener with
//! certificates this test makes (a CA, the broker's certificate, an expired
//! one, another CA nobody trusts), SASL PLAIN and SCRAM users. The relay
//! connects and relays with each mechanism; a wrong password, an unknown CA
//! and an expired certificate each give one clear log line and `/readyz` 503
//! with the reason, and the relay keeps running (no crash loop).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::kafka::{ApacheKafka, Secured};
use common::{config_at, describe, Relay, PATIENCE};
use protocol::Role;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use server::config::kafka::SaslMechanism;

const USER: &str = "relay";
const PASSWORD: &str = "relay-pa55word";

/// A certificate authority that signs broker certificates.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Ca {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// The broker's certificate chain and key in one PEM (Kafka's PEM
    /// keystore), for 127.0.0.1; `expired`: valid only in 2020.
    fn broker_keystore(&self, expired: bool) -> String {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        params.distinguished_name.push(DnType::CommonName, "broker");
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 12, 31);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        format!("{}{}{}", key.serialize_pem(), cert.pem(), self.pem)
    }
}

fn secured(ca: &Ca, expired: bool) -> Secured {
    Secured {
        keystore_pem: ca.broker_keystore(expired),
        truststore_pem: ca.pem.clone(),
        plain_users: vec![(USER.to_owned(), PASSWORD.to_owned())],
        scram_users: vec![(USER.to_owned(), PASSWORD.to_owned())],
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("kafka-security-{name}-{}", std::process::id()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_connects_over_sasl_ssl_with_each_mechanism_and_relays() {
    let ca = Ca::new("shop CA");
    let kafka = ApacheKafka::secured("sasl", &secured(&ca, false)).await;
    let secure = kafka.secure_bootstrap.clone().unwrap();
    let ca_file = write(&scratch("ok"), "ca.pem", &ca.pem);

    let mut relays = Vec::new();
    for mechanism in [
        SaslMechanism::ScramSha512,
        SaslMechanism::ScramSha256,
        SaslMechanism::Plain,
    ] {
        let mut config = config_at(&secure);
        config.kafka.kafka_ca_file = Some(ca_file.clone());
        config.kafka.kafka_sasl_mechanism = Some(mechanism);
        config.kafka.kafka_sasl_username = Some(USER.to_owned());
        config.kafka.kafka_sasl_password = Some(PASSWORD.parse().unwrap());
        config.validate().unwrap();
        let relay = Relay::launch_at(&secure, config).await;
        relay.wait_ready().await;
        relays.push(relay);
    }
    let mut clients = Vec::new();
    for relay in &relays {
        clients.push(relay.subscribed("alice", Role::User).await.0);
    }
    // The shop's order service writes through the plain listener; every
    // relay reads it through TLS and SASL.
    kafka
        .producer()
        .send("order.created", "s1", common::created("s1", "alice"))
        .await;
    for client in &mut clients {
        assert_eq!(describe(&client.next().await), "order:created:s1:pending");
    }
    for relay in relays {
        relay.stop().await;
    }
    let _ = std::fs::remove_dir_all(scratch("ok"));
}

/// A relay process against `bootstrap` with `env`, its log in `log`.
async fn relay_process(
    bootstrap: &str,
    env: &[(&str, &str)],
    log: &Path,
) -> (tokio::process::Child, String) {
    let listen = format!("127.0.0.1:{}", common::free_port());
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_relay"))
        .env("KAFKA_BROKERS", bootstrap)
        .env("JWT_SECRET", common::SECRET)
        .env("LISTEN_ADDR", &listen)
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(std::fs::File::create(log.with_extension("stderr")).unwrap())
        .kill_on_drop(true)
        .spawn()
        .expect("relay binary");
    common::wait_for_port(&listen).await;
    (child, listen)
}

async fn readyz(listen: &str) -> (u16, String) {
    let response = reqwest::get(format!("http://{listen}/readyz"))
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Runs a relay that cannot get in; checks that `/readyz` says `reason`,
/// that the log says it once (with `log_says`), that the password is in no
/// log line, and that the relay is still up 5 s later.
async fn refused(name: &str, bootstrap: &str, env: &[(&str, &str)], reason: &str, log_says: &str) {
    let dir = scratch(name);
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("relay.log");
    let (mut child, listen) = relay_process(bootstrap, env, &log).await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (status, body) = readyz(&listen).await;
        assert_eq!(status, 503, "{name}: {body}");
        if body.contains(reason) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name}: /readyz never said {reason:?}; it says {body:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "{name}: the relay exited"
    );
    let (status, body) = readyz(&listen).await;
    assert_eq!(status, 503, "{name}");
    assert!(body.contains(reason), "{name}: {body}");
    // Sockets are told why too.
    let ws = reqwest::get(format!("http://{listen}/ws?token=x"))
        .await
        .unwrap();
    assert_eq!(ws.status().as_u16(), 503, "{name}");
    let text = std::fs::read_to_string(&log).unwrap();
    let errors: Vec<&str> = text.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(
        errors.len(),
        1,
        "{name}: one error line, not {errors:#?} in\n{text}"
    );
    assert!(errors[0].contains(log_says), "{name}: {}", errors[0]);
    assert!(
        !text.contains(PASSWORD),
        "{name}: the password is in the log"
    );
    child.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_and_an_unknown_ca_are_one_log_line_and_a_reason() {
    let ca = Ca::new("shop CA");
    let kafka = ApacheKafka::secured("refused", &secured(&ca, false)).await;
    let secure = kafka.secure_bootstrap.clone().unwrap();
    let dir = scratch("files");
    let ca_file = write(&dir, "ca.pem", &ca.pem);
    let stranger = write(&dir, "other-ca.pem", &Ca::new("someone else").pem);
    let ca_file = ca_file.to_str().unwrap();

    refused(
        "wrong-password",
        &secure,
        &[
            ("KAFKA_CA_FILE", ca_file),
            ("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
            ("KAFKA_SASL_USERNAME", USER),
            ("KAFKA_SASL_PASSWORD", "not-the-password"),
        ],
        "kafka authentication",
        "check --kafka-sasl-mechanism",
    )
    .await;
    refused(
        "unknown-ca",
        &secure,
        &[
            ("KAFKA_CA_FILE", stranger.to_str().unwrap()),
            ("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
            ("KAFKA_SASL_USERNAME", USER),
            ("KAFKA_SASL_PASSWORD", PASSWORD),
        ],
        "kafka tls",
        "certificate verify failed",
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_broker_certificate_is_one_log_line_and_a_reason() {
    let ca = Ca::new("shop CA");
    let kafka = ApacheKafka::secured("expired", &secured(&ca, true)).await;
    let secure = kafka.secure_bootstrap.clone().unwrap();
    let dir = scratch("expired-files");
    let ca_file = write(&dir, "ca.pem", &ca.pem);
    refused(
        "expired",
        &secure,
        &[
            ("KAFKA_CA_FILE", ca_file.to_str().unwrap()),
            ("KAFKA_SASL_MECHANISM", "PLAIN"),
            ("KAFKA_SASL_USERNAME", USER),
            ("KAFKA_SASL_PASSWORD", PASSWORD),
        ],
        "kafka tls",
        // librdkafka does not say which check failed; the advice names the
        // certificates' dates.
        "certificate verify failed",
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}

//! The `relay` binary as an operator meets it: `--help` lists every setting
//! with its environment variable, a bad setting is one line on stderr and
//! exit status 2, and SIGTERM or SIGINT stops it cleanly (status 0).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn relay() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_relay"));
    for var in ["KAFKA_BROKERS", "JWT_SECRET", "DEMO", "LISTEN_ADDR"] {
        command.env_remove(var);
    }
    command
}

#[test]
fn help_lists_every_setting_of_the_contract_with_its_environment_variable() {
    let out = relay().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for (flag, env) in [
        ("--listen", "LISTEN_ADDR"),
        ("--kafka-brokers", "KAFKA_BROKERS"),
        ("--kafka-group-id", "KAFKA_GROUP_ID"),
        ("--jwt-secret", "JWT_SECRET"),
        ("--demo", "DEMO"),
        ("--topic-order-created", "TOPIC_ORDER_CREATED"),
        ("--topic-order-updated", "TOPIC_ORDER_UPDATED"),
        ("--topic-order-cancelled", "TOPIC_ORDER_CANCELLED"),
        ("--topic-notifications", "TOPIC_NOTIFICATIONS"),
        ("--max-message-bytes", "MAX_MESSAGE_BYTES"),
        ("--history-limit", "HISTORY_LIMIT"),
        ("--client-queue", "CLIENT_QUEUE"),
        ("--static-dir", "STATIC_DIR"),
        ("--simulator-rate", "SIMULATOR_RATE"),
        ("--kafka-stall-timeout-ms", "KAFKA_STALL_TIMEOUT_MS"),
        ("--demo-public", "DEMO_PUBLIC"),
        ("--drain-secs", "DRAIN_SECS"),
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
        assert!(help.contains(&format!("env: {env}")), "--help lacks {env}");
    }
}

/// What is wrong, the arguments, the environment.
type BadSetting = (
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

#[test]
fn a_bad_setting_is_one_line_and_status_2() {
    let cases: [BadSetting; 7] = [
        ("no secret outside demo mode", &[], &[]),
        (
            "an address that is not one",
            &["--demo", "--listen", "nowhere"],
            &[],
        ),
        ("a short secret", &[], &[("JWT_SECRET", "short")]),
        (
            "a negative simulator rate",
            &["--demo", "--simulator-rate", "-1"],
            &[],
        ),
        (
            "a tiny positive simulator rate (it used to panic)",
            &["--demo", "--simulator-rate", "1e-300"],
            &[],
        ),
        (
            "demo mode on a public address without --demo-public",
            &["--demo", "--listen", "0.0.0.0:0"],
            &[],
        ),
        (
            "a stall timeout of zero",
            &["--demo", "--kafka-stall-timeout-ms", "0"],
            &[],
        ),
    ];
    for (what, args, env) in cases {
        let out = relay()
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{what}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
        assert!(
            stderr.starts_with("relay: invalid setting: "),
            "{what}: {stderr}"
        );
    }
}

#[test]
fn sigterm_and_sigint_stop_the_relay_cleanly() {
    for signal in ["TERM", "INT"] {
        let listen = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        // The embedded broker: no KAFKA_BROKERS.
        let mut child = relay()
            .args(["--listen", &listen.to_string()])
            .env("JWT_SECRET", "cli-test-secret-0123456789")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(listen).is_err() {
            assert!(Instant::now() < deadline, "the relay never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
        let sent = Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("SIG{signal}: the relay did not stop within 20 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "SIG{signal}: exit {status}");
    }
}

//! Tokens from a real OpenID provider (oidc-provider, `tests/oidc/provider.mjs`,
//! run by Node): the relay finds the provider's keys by discovery, verifies
//! RS256 and ES256 access tokens by `kid`, checks issuer and audience, reads
//! admins from a claim, follows a key rotation and keeps working while the
//! provider is down.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{Broker, Relay};
use protocol::{ClientEvent, Role, ServerEvent};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const AUDIENCE: &str = "order-relay";

/// The provider process, its issuer URL and its directory.
struct Provider {
    child: Child,
    issuer: String,
    port: u16,
    dir: PathBuf,
}

impl Provider {
    /// Starts the provider on `port` (0: any) with the keys in `dir`
    /// (made on first start; `rotate` adds new signing keys in front).
    async fn start(dir: &Path, port: u16, rotate: bool) -> Provider {
        let node_modules = PathBuf::from(
            std::env::var("NODE_PATH").expect("NODE_PATH (source .ci/env): where oidc-provider is"),
        );
        let script = dir.join("provider.mjs");
        std::fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc/provider.mjs"),
            &script,
        )
        .unwrap();
        // ES modules ignore NODE_PATH: they find packages in a node_modules
        // beside the script.
        let link = dir.join("node_modules");
        if !link.exists() {
            std::os::unix::fs::symlink(&node_modules, &link).unwrap();
        }
        let mut command = Command::new("node");
        command
            .arg(&script)
            .args(["--port", &port.to_string(), "--keys"])
            .arg(dir.join("keys.json"))
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if rotate {
            command.arg("--rotate");
        }
        let mut child = command.spawn().expect("node runs");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the provider starts in time")
            .unwrap()
            .expect("the provider's ready line");
        let ready: serde_json::Value = serde_json::from_str(&ready).unwrap();
        Provider {
            child,
            issuer: ready["issuer"].as_str().unwrap().to_owned(),
            port: ready["port"].as_u64().unwrap() as u16,
            dir: dir.to_owned(),
        }
    }

    async fn stop(mut self) -> (PathBuf, u16) {
        let _ = self.child.kill().await;
        (self.dir, self.port)
    }

    /// An access token for `client` (alice, bob, admin) from the token
    /// endpoint, signed with `alg` (rs256, es256) for `audience`.
    async fn token(&self, client: &str, alg: &str, audience: &str) -> String {
        let body = format!("grant_type=client_credentials&resource=urn:{audience}:{alg}");
        let response = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .basic_auth(client, Some(format!("{client}-secret")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let json: serde_json::Value = response.json().await.unwrap();
        json["access_token"].as_str().unwrap().to_owned()
    }
}

/// `GET /api/orders` with `token`: the status.
async fn orders_status(relay: &Relay, token: &str) -> u16 {
    reqwest::Client::new()
        .get(relay.http("/api/orders"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_providers_tokens_are_verified_rotated_and_survive_its_outage() {
    let dir = tempfile_dir();
    let provider = Provider::start(&dir, 0, false).await;
    let broker = Broker::start().await;
    let mut config = common::config(&broker);
    config.auth.jwt_issuer = Some(provider.issuer.clone());
    config.auth.jwt_audience = vec![AUDIENCE.into()];
    config.auth.jwt_jwks_refresh_min_secs = 1;
    let relay = Relay::start_with(&broker, config).await;

    // RS256 for alice, ES256 for the admin client (its `role: admin` claim).
    let alice = provider.token("alice", "rs256", AUDIENCE).await;
    let admin = provider.token("admin", "es256", AUDIENCE).await;
    assert_eq!(orders_status(&relay, &alice).await, 200);
    assert_eq!(orders_status(&relay, &admin).await, 200);
    for (token, user, role) in [
        (&alice, "alice", Role::User),
        (&admin, "admin", Role::Admin),
    ] {
        let url = format!("ws://{}/ws?auth=message", relay.base);
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut client = common::Client { ws };
        client
            .send(&ClientEvent::Auth {
                token: token.clone(),
            })
            .await;
        match client.next().await {
            ServerEvent::ConnectionSuccess(info) => {
                assert_eq!((info.user_id.as_str(), info.role), (user, role))
            }
            other => panic!("expected connection:success, got {other:?}"),
        }
    }
    // A token for another API is not for this relay; nor is one from the
    // relay's own secret pretending to be alice's with the provider's kid.
    let other_api = provider.token("alice", "rs256", "another-api").await;
    assert_eq!(orders_status(&relay, &other_api).await, 401);
    assert_eq!(
        orders_status(
            &relay,
            "eyJhbGciOiJub25lIiwia2lkIjoieCJ9.eyJzdWIiOiJhbGljZSJ9."
        )
        .await,
        401
    );

    // Rotation: the provider restarts on the same address with new signing
    // keys in front (the old ones still published). The first token with a
    // new kid makes the relay fetch the keys again.
    let (dir, port) = provider.stop().await;
    let rotated = Provider::start(&dir, port, true).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let fresh = rotated.token("bob", "rs256", AUDIENCE).await;
    assert_ne!(
        kid(&fresh),
        kid(&alice),
        "the provider signs with a new key"
    );
    assert_eq!(orders_status(&relay, &fresh).await, 200);
    assert_eq!(
        orders_status(&relay, &alice).await,
        200,
        "old tokens live on"
    );

    // The provider goes away: every key the relay has still verifies; a
    // made-up kid is refused after one failed fetch.
    rotated.stop().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(orders_status(&relay, &fresh).await, 200);
    assert_eq!(orders_status(&relay, &admin).await, 200);
    let metrics = relay.metrics().await;
    assert!(
        common::metric(&metrics, "relay_jwks_fetches_total{result=\"ok\"}") >= 2.0,
        "{metrics}"
    );
    relay.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "relay-oidc-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

//! Relays behind a real proxy: three relay processes on one Apache Kafka broker,
//! Debian's nginx in front of them running `deploy/nginx.conf`, and 30 real
//! WebSocket clients (ten buyers' tabs and two admins) connecting through
//! nginx while a producer streams a few hundred order events. Mid-stream one
//! relay is SIGKILLed (and restarted, as an orchestrator would) and another
//! is drained with SIGTERM.
//!
//! The clients behave like the browser client: a lost socket reconnects
//! through nginx and resumes with its last cursor; on `server:draining` a
//! client opens a new socket (same URL: nginx sends it to another relay),
//! keeps applying the old socket's frames until the new one is open,
//! subscribes there with the cursor of the last event it applied, and from
//! then on ignores the old socket, which it closes.
//!
//! At the end every client equals the truth (its state goes through the
//! browser's reducer) and `GET /api/orders` through nginx; every event it
//! may see arrived exactly once (no resume fell back to a snapshot); every
//! client of the drained relay moved before its old socket closed, and none
//! was cut off with 1001. The drained relay answered 503 on `/readyz` and on
//! `/ws`, kept delivering to a socket that stayed, closed it with 1001 after
//! `DRAIN_SECS`, and exited cleanly.

mod common;

use std::collections::HashMap;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::{ClientEvent, Role, ServerEvent, Timestamp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpStream;
use tokio::process::Child;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use common::nginx::Nginx;
use common::view::{truth, truth_for, Tally, View};
use common::{free_port, spawn_relay, until_readyz, Broker, SECRET};

const BUYERS: usize = 10;
const BUYER_TABS: usize = 28;
const ADMIN_TABS: usize = 2;
const ORDERS: usize = 120;
/// The drained relay's grace (`DRAIN_SECS`).
const DRAIN_SECS: u64 = 3;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
/// (topic, key, JSON value) in publish order.
type Events = Vec<(&'static str, String, String)>;

/// One move off a draining relay.
#[derive(Debug, Clone, Copy)]
struct Move {
    /// From `server:draining` to `subscribe:orders` sent on the new socket.
    took: Duration,
    /// Whether the old socket was still open when the client subscribed on
    /// the new one (it must be: no gap between the two).
    old_still_open: bool,
}

/// What one tab saw.
struct Tab {
    view: View,
    moves: Vec<Move>,
    /// Sockets lost (closed by the relay or the network) and resumed.
    lost: u32,
    /// Of those, closes with 1001 (a relay stopping under the client).
    going_away: u32,
}

/// A frame read from a socket, or its end.
enum Read {
    Frame(ServerEvent),
    Gone(Option<u16>),
    Skip,
}

fn read(message: Option<Result<Message, tungstenite::Error>>) -> Read {
    match message {
        Some(Ok(Message::Text(text))) => {
            Read::Frame(ServerEvent::from_json(&text).expect("a valid server frame"))
        }
        Some(Ok(Message::Close(frame))) => Read::Gone(frame.map(|f| f.code.into())),
        Some(Ok(_)) => Read::Skip,
        _ => Read::Gone(None),
    }
}

/// A socket through nginx, retried until one opens.
async fn open(url: &str) -> Ws {
    loop {
        match tokio_tungstenite::connect_async(url).await {
            Ok((ws, _)) => return ws,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// `subscribe:orders` with the cursor of the last event applied.
async fn subscribe(ws: &mut Ws, tab: &Mutex<Tab>) {
    let cursor = tab.lock().unwrap().view.state.cursor.clone();
    // A socket that died meanwhile says so at the next read.
    let _ = ws
        .send(Message::text(
            ClientEvent::SubscribeOrders { cursor }.to_json(),
        ))
        .await;
}

/// One browser tab behind the proxy, for ever (the test drops it).
async fn browse(
    url: String,
    me: String,
    tab: Arc<Mutex<Tab>>,
    owner: Arc<HashMap<String, String>>,
) {
    let apply = |frame: ServerEvent| tab.lock().unwrap().view.on_frame(frame, &owner, &me);
    let mut ws = open(&url).await;
    subscribe(&mut ws, &tab).await;
    loop {
        match read(ws.next().await) {
            Read::Skip => {}
            Read::Frame(ServerEvent::Draining(_)) => {
                let told = Instant::now();
                // The old socket keeps delivering while the new one opens.
                let mut fresh = pin!(open(&url));
                let mut old_still_open = true;
                let mut moved = loop {
                    tokio::select! {
                        ws = &mut fresh => break ws,
                        message = ws.next(), if old_still_open => match read(message) {
                            Read::Frame(frame) => apply(frame),
                            Read::Gone(_) => old_still_open = false,
                            Read::Skip => {}
                        },
                    }
                };
                // From this subscribe on, the old socket is ignored: what it
                // would still deliver comes again after this cursor.
                subscribe(&mut moved, &tab).await;
                tab.lock().unwrap().moves.push(Move {
                    took: told.elapsed(),
                    old_still_open,
                });
                let _ = ws.close(None).await;
                ws = moved;
            }
            Read::Frame(frame) => apply(frame),
            Read::Gone(code) => {
                {
                    let mut tab = tab.lock().unwrap();
                    tab.lost += 1;
                    tab.going_away += u32::from(code == Some(1001));
                }
                ws = open(&url).await;
                subscribe(&mut ws, &tab).await;
            }
        }
    }
}

/// Orders and their events, each order's events in life order, different
/// orders interleaved; a few hundred events in all.
fn workload(rng: &mut StdRng) -> (Events, HashMap<String, String>) {
    let base = Timestamp::parse("2025-11-12T10:00:00Z").unwrap().millis();
    let mut owner = HashMap::new();
    let mut lives: Vec<Vec<(&'static str, String, String)>> = Vec::new();
    for i in 0..ORDERS {
        let id = format!("o{i}");
        let buyer = format!("u{}", rng.random_range(0..BUYERS));
        owner.insert(id.clone(), buyer.clone());
        let mut at = base + i as i64 * 1_000;
        let mut life = vec![(
            "order.created",
            id.clone(),
            format!(
                r#"{{"orderId":"{id}","buyerId":"{buyer}","total":1,"createdAt":"{}"}}"#,
                Timestamp(at)
            ),
        )];
        for status in ["processing", "shipped", "delivered"]
            .iter()
            .take(rng.random_range(0..=3))
        {
            at += 10_000;
            life.push((
                "order.updated",
                id.clone(),
                format!(
                    r#"{{"orderId":"{id}","buyerId":"{buyer}","status":"{status}","updatedAt":"{}"}}"#,
                    Timestamp(at)
                ),
            ));
        }
        if rng.random_bool(0.3) {
            at += 10_000;
            life.push((
                "order.cancelled",
                id.clone(),
                format!(
                    r#"{{"orderId":"{id}","buyerId":"{buyer}","cancelledAt":"{}"}}"#,
                    Timestamp(at)
                ),
            ));
        }
        life.reverse();
        lives.push(life);
    }
    // Start orders in turn; between starts, move random started orders on.
    let mut events = Vec::new();
    let mut started = 0;
    while lives.iter().any(|life| !life.is_empty()) {
        let next = if started < ORDERS && (started == 0 || rng.random_bool(0.35)) {
            started += 1;
            started - 1
        } else {
            rng.random_range(0..started)
        };
        if let Some(event) = lives[next].pop() {
            events.push(event);
        }
    }
    (events, owner)
}

/// The relay's open sockets, from its metrics.
async fn sockets(relay: &str) -> f64 {
    let page = reqwest::get(format!("http://{relay}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    common::metric(&page, "relay_ws_connections")
}

fn signal(child: &Child, name: &str) {
    let pid = child.id().expect("the relay runs").to_string();
    let status = std::process::Command::new("kill")
        .args([name, &pid])
        .status()
        .unwrap();
    assert!(status.success(), "kill {name} {pid}");
}

/// A socket straight to the relay about to drain (not through nginx) that
/// stays on it: what it hears after `server:draining`, and how it ends.
struct Stayer {
    grace_ms: Option<u32>,
    events_after: usize,
    closed_with: Option<u16>,
}

async fn stay(mut ws: Ws) -> Stayer {
    let mut stayer = Stayer {
        grace_ms: None,
        events_after: 0,
        closed_with: None,
    };
    loop {
        match read(ws.next().await) {
            Read::Frame(ServerEvent::Draining(draining)) => {
                stayer.grace_ms = draining.reconnect_within_ms()
            }
            Read::Frame(ServerEvent::Order { .. }) if stayer.grace_ms.is_some() => {
                stayer.events_after += 1
            }
            Read::Frame(_) | Read::Skip => {}
            Read::Gone(code) => {
                stayer.closed_with = code;
                return stayer;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_behind_nginx_resume_after_a_kill_and_move_off_a_draining_relay() {
    let mut rng = StdRng::seed_from_u64(14);
    let (events, owner) = workload(&mut rng);
    let expected = truth(&events);
    let owner = Arc::new(owner);
    let keys = server::web::auth::Keys::new(SECRET.as_bytes());
    let token = |user: &str, role| keys.issue(user, role, Duration::from_secs(3600));

    let broker = Broker::start().await;
    let drain_secs = DRAIN_SECS.to_string();
    let env = [("DRAIN_SECS", drain_secs.as_str())];
    let addrs: Vec<String> = (0..3)
        .map(|_| format!("127.0.0.1:{}", free_port()))
        .collect();
    let mut relays = Vec::new();
    // One after the other: the first creates the topics.
    for addr in &addrs {
        relays.push(spawn_relay(&broker.bootstrap, addr, &env).await);
        until_readyz(addr, 200).await;
    }
    let nginx = Nginx::start(&addrs).await;
    let (killed, drained) = (0, 1);

    // The socket that stays on the relay to be drained, opened first.
    let (mut stayer, _) = tokio_tungstenite::connect_async(format!(
        "ws://{}/ws?token={}",
        addrs[drained],
        token("stayer", Role::Admin)
    ))
    .await
    .unwrap();
    stayer
        .send(Message::text(
            ClientEvent::SubscribeOrders { cursor: None }.to_json(),
        ))
        .await
        .unwrap();
    let stayer = tokio::spawn(stay(stayer));

    let mut tabs = Vec::new();
    for i in 0..BUYER_TABS + ADMIN_TABS {
        let (user, role, me) = if i < BUYER_TABS {
            let user = format!("u{}", i % BUYERS);
            (user.clone(), Role::User, user)
        } else {
            (format!("ops{i}"), Role::Admin, "admin".to_owned())
        };
        let state = Arc::new(Mutex::new(Tab {
            view: View::new(&user, role),
            moves: Vec::new(),
            lost: 0,
            going_away: 0,
        }));
        let url = format!("ws://{}/ws?token={}", nginx.addr, token(&user, role));
        let task = tokio::spawn(browse(
            url,
            me.clone(),
            Arc::clone(&state),
            Arc::clone(&owner),
        ));
        tabs.push((user, role, me, state, task));
    }
    let all_subscribed = || tabs.iter().all(|t| t.3.lock().unwrap().view.snapshots > 0);
    common::eventually("every tab subscribed through nginx", || async {
        all_subscribed()
    })
    .await;
    let spread = [
        sockets(&addrs[0]).await,
        sockets(&addrs[1]).await,
        sockets(&addrs[2]).await,
    ];

    let producer = broker.producer();
    let total = events.len();
    let (mut on_killed, mut on_drained) = (0.0, 0.0);
    let mut drain_started = None;
    let mut old = None;
    for (i, (topic, key, json)) in events.iter().enumerate() {
        producer.send(topic, key, json).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        if i == total / 3 {
            on_killed = sockets(&addrs[killed]).await;
            relays[killed].kill().await.unwrap(); // SIGKILL
                                                  // Restarted, as an orchestrator would; nginx skips it meanwhile.
            old = Some(std::mem::replace(
                &mut relays[killed],
                spawn_relay(&broker.bootstrap, &addrs[killed], &env).await,
            ));
        }
        if i == total * 3 / 5 {
            // Every tab is back on a socket (30, plus the stayer) and the
            // restarted relay is ready before the drain starts.
            until_readyz(&addrs[killed], 200).await;
            common::eventually("every tab reconnected after the kill", || async {
                let mut open = 0.0;
                for addr in &addrs {
                    open += sockets(addr).await;
                }
                open == (BUYER_TABS + ADMIN_TABS + 1) as f64
            })
            .await;
            on_drained = sockets(&addrs[drained]).await - 1.0;
            signal(&relays[drained], "-TERM");
            drain_started = Some(Instant::now());
            // Draining: not ready, and no new socket, whatever the token.
            until_readyz(&addrs[drained], 503).await;
            let refused =
                tokio_tungstenite::connect_async(format!("ws://{}/ws?token=bad", addrs[drained]))
                    .await;
            let Err(tungstenite::Error::Http(response)) = refused else {
                panic!("a draining relay took an upgrade: {refused:?}")
            };
            assert_eq!(response.status(), 503);
            let body: serde_json::Value =
                serde_json::from_slice(response.body().as_deref().unwrap_or_default()).unwrap();
            assert_eq!(body["error"]["code"], "draining", "{body}");
        }
    }
    drop(old);

    // The drained relay waits out its grace for the socket that stayed,
    // closes it with 1001 and exits cleanly.
    let exit = tokio::time::timeout(common::PATIENCE, relays[drained].wait())
        .await
        .expect("the drained relay exits")
        .unwrap();
    let drain_took = drain_started.unwrap().elapsed();
    assert!(exit.success(), "the drained relay exited with {exit}");
    let stayer = stayer.await.unwrap();
    assert_eq!(stayer.grace_ms, Some(DRAIN_SECS as u32 * 1000));
    assert!(
        stayer.events_after > 0,
        "the draining relay stopped delivering before its grace ran out"
    );
    assert_eq!(stayer.closed_with, Some(1001));
    assert!(drain_took >= Duration::from_secs(DRAIN_SECS));

    // Converge: every tab's state equals the truth for what it may see.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let behind: Vec<&str> = tabs
            .iter()
            .filter(|(_, _, me, tab, _)| {
                tab.lock().unwrap().view.state() != truth_for(me, &expected, &owner)
            })
            .map(|(user, ..)| user.as_str())
            .collect();
        if behind.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "tabs never reached the truth: {behind:?}\nnginx: {}",
            nginx.error_log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (mut tally, mut wrong, mut resume_snapshots) = (Tally::default(), 0, 0);
    let (mut moves, mut lost, mut going_away) = (Vec::new(), 0, 0);
    for (user, role, me, state, _) in &tabs {
        if *role == Role::User {
            let mine: Vec<_> = {
                let tab = state.lock().unwrap();
                tab.view.state.orders_newest_first().cloned().collect()
            };
            let listed = common::orders_at(&format!("http://{}", nginx.addr), &token(user, *role))
                .await
                .orders;
            assert_eq!(mine, listed, "{user}: differs from GET /api/orders");
        }
        let tab = state.lock().unwrap();
        tally += tab.view.tally(me, &events, &owner);
        wrong += tab.view.wrong_user;
        resume_snapshots += tab.view.snapshots.saturating_sub(1);
        moves.extend(tab.moves.iter().copied());
        lost += tab.lost;
        going_away += tab.going_away;
    }
    for (.., task) in &tabs {
        task.abort();
    }
    let mut took: Vec<Duration> = moves.iter().map(|m| m.took).collect();
    took.sort();
    let moved_in_time = moves.iter().filter(|m| m.old_still_open).count();
    println!(
        "proxy: {} tabs ({BUYER_TABS} of {BUYERS} buyers, {ADMIN_TABS} admins) through nginx over 3 relays \
         (spread {spread:?}), {total} events, {} orders; SIGKILL with {on_killed} sockets on the relay: \
         {lost} sockets lost and resumed; SIGTERM with {on_drained} tabs on the relay: {} moved \
         ({moved_in_time} before their old socket closed), time to move median {:?} max {:?}, \
         drain ended after {drain_took:?}; {} missed, {} received twice, {} early re-sends, \
         {resume_snapshots} resumes answered by a snapshot, {going_away} tabs cut off with 1001",
        tabs.len(),
        expected.len(),
        moves.len(),
        took.get(took.len() / 2).copied().unwrap_or_default(),
        took.last().copied().unwrap_or_default(),
        tally.missed,
        tally.twice,
        tally.resent,
    );
    assert!(on_killed > 0.0 && on_drained > 0.0, "spread {spread:?}");
    assert!(
        lost as f64 >= on_killed,
        "every socket of the killed relay resumed"
    );
    assert_eq!(
        moves.len() as f64,
        on_drained,
        "every tab of the drained relay moved"
    );
    assert_eq!(
        moved_in_time,
        moves.len(),
        "a tab moved after its old socket closed"
    );
    assert_eq!(
        going_away, 0,
        "a tab was cut off by the drain instead of moving"
    );
    assert_eq!(
        tally.missed, 0,
        "events never reached a tab that may see them"
    );
    assert_eq!(tally.twice, 0, "events reached a tab twice");
    assert_eq!(
        resume_snapshots, 0,
        "a resume by cursor fell back to a snapshot"
    );
    assert_eq!(wrong, 0, "a tab saw another user's order");
    // The tabs opened `/ws?token=…` (the contract's form): the access log
    // has their sockets, and not one token.
    let log = nginx.access_log();
    assert!(log.contains("\"GET /ws HTTP/1.1\" 101"), "{log}");
    assert!(
        !log.contains("token="),
        "a token reached nginx's access log"
    );
    // /metrics is not served through the public proxy.
    let metrics = reqwest::get(format!("http://{}/metrics", nginx.addr))
        .await
        .unwrap();
    assert_eq!(metrics.status(), 404);
    drop(nginx);
}

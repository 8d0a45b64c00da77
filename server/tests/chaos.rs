//! The chaos test: 20 users and an admin stay connected while thousands of
//! order events are published in random interleavings across the three
//! topics; clients are disconnected at random 100 times and resume by cursor;
//! the relay is SIGKILLed and restarted mid-stream, and the broker (Apache
//! Kafka, which keeps its data on disk) is restarted mid-stream.
//!
//! Each client's state goes through the browser client's own reducer. At the
//! end every client's state must equal the truth computed from what was
//! published and the relay's `GET /api/orders`; every event must have reached
//! every client that may see it (every resume was a replay, none a snapshot),
//! none twice except the documented re-send of early events, and no client
//! may have seen another user's order.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::{ClientEvent, OrderStatus, Role, ServerEvent, Timestamp};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use tokio::process::Child;
use tokio_tungstenite::tungstenite::Message;

use common::view::{truth, truth_for, Tally, View};
use common::{free_port, DurableBroker};

const USERS: usize = 20;
const ORDERS: usize = 1000;
const DISCONNECTS: usize = 100;

/// The relay as a separate process, so that it can be SIGKILLed.
async fn spawn_relay(kafka: &str, listen: &str, ping_secs: u64) -> Child {
    let ping = ping_secs.to_string();
    common::spawn_relay(kafka, listen, &[("PING_INTERVAL_SECS", &ping)]).await
}

/// Someone who can produce to the state topic but has no checkpoint key
/// writes, just before the relay restarts: a well-formed unsealed
/// checkpoint giving `u0` an order, one sealed with another key whose
/// position is past the log, and garbage under a commit key. The restarted
/// relay must read none of it.
async fn hostile_state_writer(producer: &common::Producer) {
    let forged = r#"{"order":{"orderId":"forged-1","buyerId":"u0","items":[],"subtotal":1,"tax":0,"total":1,"status":"pending","createdAt":"2025-11-12T10:30:00Z","updatedAt":"2025-11-12T10:30:00Z"}}"#;
    let part = |id: &str| {
        format!(
            r#"{{"kind":"part","id":"{id}","index":0,"orders":[{forged}],"history":[],"early":[],"evicted":[]}}"#
        )
    };
    let commit = |id: &str, position: &str| {
        format!(
            r#"{{"kind":"commit","id":"{id}","parts":1,"firstOffset":0,"position":"{position}","historyFrom":"v1","takenAt":"2025-11-12T10:30:00.000Z","orders":1}}"#
        )
    };
    producer
        .send("order.state", "part:evil", part("evil"))
        .await;
    producer
        .send("order.state", "commit:evil", commit("evil", "v1"))
        .await;
    let other = server::kafka::checkpoint_seal::SealKey::new(b"not the relays' key");
    for (key, payload) in [
        ("part:evil2", part("evil2")),
        ("commit:evil2", commit("evil2", "v1.0-0-99999999")),
    ] {
        let seal = other.seal(payload.as_bytes());
        producer
            .send_with_headers(
                "order.state",
                key,
                &payload,
                &[(server::kafka::checkpoint_seal::HEADER, &seal)],
            )
            .await;
    }
    producer
        .send("order.state", "commit:junk", [0xff, 0x00, b'{'])
        .await;
}

/// The relay's `/metrics` page.
async fn metrics_page(listen: &str) -> String {
    reqwest::get(format!("http://{listen}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// `relay_kafka_messages_rejected_total{reason}` on a metrics page.
fn rejected(page: &str, reason: &str) -> f64 {
    common::metric(
        page,
        &format!(r#"relay_kafka_messages_rejected_total{{reason="{reason}"}}"#),
    )
}

/// A kick: the client drops its socket and resumes from its cursor.
type Kick = tokio::sync::mpsc::UnboundedSender<()>;

/// One browser tab: connects, resumes from its cursor, applies, reconnects.
async fn client(
    user: String,
    role: Role,
    base: String,
    view: Arc<Mutex<View>>,
    owner: Arc<HashMap<String, String>>,
    mut kicks: tokio::sync::mpsc::UnboundedReceiver<()>,
    reconnects: Arc<AtomicUsize>,
) {
    let keys = server::web::auth::Keys::new(common::SECRET.as_bytes());
    let token = keys.issue(&user, role, Duration::from_secs(3600));
    let me = if role == Role::Admin {
        "admin"
    } else {
        user.as_str()
    };
    loop {
        let url = format!("ws://{base}/ws?token={token}");
        let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let cursor = {
            let mut view = view.lock().unwrap();
            view.connections += 1;
            view.state.cursor.clone()
        };
        if ws
            .send(Message::text(
                ClientEvent::SubscribeOrders { cursor }.to_json(),
            ))
            .await
            .is_err()
        {
            continue;
        }
        loop {
            let message = tokio::select! {
                _ = kicks.recv() => {
                    view.lock().unwrap().kicked += 1;
                    break;
                }
                m = ws.next() => m,
            };
            let Some(Ok(Message::Text(text))) = message else {
                match message {
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    _ => break,
                }
            };
            let frame = ServerEvent::from_json(&text).expect("valid frame");
            view.lock().unwrap().on_frame(frame, &owner, me);
        }
        reconnects.fetch_add(1, Relaxed);
    }
}

/// Random orders and their events, shuffled: the truth is computed from them.
/// (topic, key, JSON value) in publish order.
type Events = Vec<(&'static str, String, String)>;

fn workload(rng: &mut StdRng) -> (Events, HashMap<String, String>) {
    let mut events = Vec::new();
    let mut owner = HashMap::new();
    let base = Timestamp::parse("2025-11-12T10:00:00Z").unwrap().millis();
    for i in 0..ORDERS {
        let id = format!("o{i}");
        let buyer = format!("u{}", rng.random_range(0..USERS));
        owner.insert(id.clone(), buyer.clone());
        let mut at = base + rng.random_range(0..1_000_000);
        events.push((
            "order.created",
            id.clone(),
            format!(
                r#"{{"orderId":"{id}","buyerId":"{buyer}","total":1,"createdAt":"{}"}}"#,
                Timestamp(at)
            ),
        ));
        let buyer_field = |rng: &mut StdRng| {
            if rng.random_bool(0.5) {
                format!(r#","buyerId":"{buyer}""#)
            } else {
                String::new()
            }
        };
        for status in ["processing", "shipped", "delivered"]
            .iter()
            .take(rng.random_range(0..=3))
        {
            at += rng.random_range(1..10_000);
            let b = buyer_field(rng);
            events.push((
                "order.updated",
                id.clone(),
                format!(
                    r#"{{"orderId":"{id}"{b},"status":"{status}","updatedAt":"{}"}}"#,
                    Timestamp(at)
                ),
            ));
        }
        if rng.random_bool(0.2) {
            at += rng.random_range(1..10_000);
            let b = buyer_field(rng);
            events.push((
                "order.cancelled",
                id.clone(),
                format!(
                    r#"{{"orderId":"{id}"{b},"cancelledAt":"{}"}}"#,
                    Timestamp(at)
                ),
            ));
        }
    }
    events.shuffle(rng);
    (events, owner)
}

/// What the faulty producer published, by the reason the relay must give.
#[derive(Debug, Default)]
struct Faults {
    buyer_mismatch: usize,
    conflicting_created: usize,
    duplicate_created: usize,
    future_time: usize,
    /// The event keys of faulty events no client may ever receive (a
    /// duplicate has its original's key: the "twice" count catches it).
    keys: HashSet<String>,
}

/// Mixes a faulty producer into `events`: for about one order in ten each,
/// an update that names another buyer (anywhere in the stream, before or
/// after the order's created event), a second created event with another
/// buyer, an exact copy of the created event (both right after the real one:
/// Kafka keeps their order within the partition), and an update dated a day
/// ahead. None of them may change what any client sees.
fn with_faults(
    rng: &mut StdRng,
    events: Events,
    owner: &HashMap<String, String>,
) -> (Events, Faults) {
    let mut faults = Faults::default();
    let tomorrow = Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
            + 86_400_000,
    );
    let far = Timestamp::parse("2025-11-12T10:00:00Z").unwrap().millis() + 5_000_000;
    let mut stray = Vec::new();
    let mut out = Vec::new();
    for (topic, key, json) in events {
        let is_created = topic == "order.created";
        out.push((topic, key.clone(), json.clone()));
        if !is_created {
            continue;
        }
        let buyer = &owner[&key];
        let other = if buyer == "u0" { "u1" } else { "u0" };
        if rng.random_bool(0.1) {
            let at = Timestamp(far + out.len() as i64);
            faults
                .keys
                .insert(format!("order:created:{key}:{}", at.millis()));
            out.push((
                "order.created",
                key.clone(),
                format!(
                    r#"{{"orderId":"{key}","buyerId":"{other}","total":666,"createdAt":"{at}"}}"#
                ),
            ));
            faults.conflicting_created += 1;
        }
        if rng.random_bool(0.1) {
            out.push(("order.created", key.clone(), json));
            faults.duplicate_created += 1;
        }
        if rng.random_bool(0.1) {
            let at = Timestamp(far + 1_000_000 + out.len() as i64);
            faults
                .keys
                .insert(format!("order:updated:{key}:{}", at.millis()));
            stray.push((
                "order.updated",
                key.clone(),
                format!(r#"{{"orderId":"{key}","buyerId":"{other}","status":"delivered","updatedAt":"{at}"}}"#),
            ));
            faults.buyer_mismatch += 1;
        }
        if rng.random_bool(0.1) {
            faults
                .keys
                .insert(format!("order:updated:{key}:{}", tomorrow.millis()));
            stray.push((
                "order.updated",
                key.clone(),
                format!(r#"{{"orderId":"{key}","status":"delivered","updatedAt":"{tomorrow}"}}"#),
            ));
            faults.future_time += 1;
        }
    }
    for event in stray {
        let at = rng.random_range(0..=out.len());
        out.insert(at, event);
    }
    (out, faults)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_converges_to_the_truth_through_disconnects_and_restarts() {
    let seed = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let mut rng = StdRng::seed_from_u64(seed);
    let (events, owner) = workload(&mut rng);
    let expected = truth(&events);
    let (published, faults) = with_faults(&mut rng, events.clone(), &owner);
    let owner = Arc::new(owner);

    let mut broker = DurableBroker::start("chaos").await;
    let kafka = broker.bootstrap.clone();
    let listen = format!("127.0.0.1:{}", free_port());
    let mut relay = spawn_relay(&kafka, &listen, 2).await;
    let producer = common::Producer::connect(&kafka);

    let reconnects = Arc::new(AtomicUsize::new(0));
    let mut views = Vec::new();
    let mut kicks = Vec::new();
    let users: Vec<(String, Role)> = (0..USERS)
        .map(|i| (format!("u{i}"), Role::User))
        .chain([("admin".to_owned(), Role::Admin)])
        .collect();
    for (user, role) in &users {
        let view = Arc::new(Mutex::new(View::new(user, *role)));
        let (kick, kicked): (Kick, _) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(client(
            user.clone(),
            *role,
            listen.clone(),
            Arc::clone(&view),
            Arc::clone(&owner),
            kicked,
            Arc::clone(&reconnects),
        ));
        views.push((user.clone(), view));
        kicks.push(kick);
    }

    // Everyone subscribed (an empty snapshot) before the first event: from
    // here on every event must reach each client that may see it.
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    while views.iter().any(|(_, v)| v.lock().unwrap().snapshots == 0) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "clients never subscribed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let total = published.len();
    let kick_every = total / DISCONNECTS;
    let mut kicks_sent = 0;
    for (i, (topic, key, json)) in published.iter().enumerate() {
        producer.send(topic, key, json).await;
        if i % kick_every == 0 && kicks_sent < DISCONNECTS {
            kicks[rng.random_range(0..kicks.len())].send(()).unwrap();
            kicks_sent += 1;
        }
        if i == total * 3 / 10 {
            hostile_state_writer(&producer).await;
            relay.kill().await.unwrap(); // SIGKILL
            for (_, view) in &views {
                view.lock().unwrap().relay_epoch += 1;
            }
            relay = spawn_relay(&kafka, &listen, 2).await;
        }
        if i == total * 6 / 10 {
            broker.restart().await;
        }
    }

    // Converge: every client's state equals the truth for what it may see.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let mut behind = Vec::new();
        for (user, view) in &views {
            if view.lock().unwrap().state() != truth_for(user, &expected, &owner) {
                behind.push(user.clone());
            }
        }
        let kicked: u32 = views.iter().map(|(_, v)| v.lock().unwrap().kicked).sum();
        if kicked < DISCONNECTS as u32 {
            behind.push(format!(
                "{} kicks not handled yet",
                DISCONNECTS as u32 - kicked
            ));
        }
        if behind.is_empty() {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            let user = &behind[0];
            let view = views
                .iter()
                .find(|(u, _)| u == user)
                .unwrap()
                .1
                .lock()
                .unwrap()
                .state();
            let keys = server::web::auth::Keys::new(common::SECRET.as_bytes());
            let role = if user == "admin" {
                Role::Admin
            } else {
                Role::User
            };
            let token = keys.issue(user, role, Duration::from_secs(60));
            let relay_view = common::orders_at(&format!("http://{listen}"), &token).await;
            let relay_state: HashMap<String, OrderStatus> = relay_view
                .orders
                .iter()
                .map(|o| (o.order_id.clone(), o.status))
                .collect();
            let mut diff = Vec::new();
            for (id, want) in expected
                .iter()
                .filter(|(id, _)| user == "admin" || owner[*id] == *user)
            {
                let (got, relay) = (view.get(id), relay_state.get(id));
                if got != Some(want) {
                    diff.push(format!(
                        "{id}: truth {want:?}, client {got:?}, relay {relay:?}"
                    ));
                }
            }
            let first = diff[0].split(':').next().unwrap().to_owned();
            let seen: Vec<_> = views
                .iter()
                .find(|(u, _)| u == user)
                .unwrap()
                .1
                .lock()
                .unwrap()
                .seen
                .keys()
                .filter(|k| k.contains(&format!(":{first}:")))
                .cloned()
                .collect();
            let published: Vec<_> = events
                .iter()
                .enumerate()
                .filter(|(_, (_, k, _))| *k == first)
                .map(|(i, (t, _, j))| format!("#{i}/{total} {t} {j}"))
                .collect();
            eprintln!("{first}: client saw {seen:?}\npublished: {published:#?}");
            panic!(
                "clients never converged to the truth: {behind:?}; {user}: {} differences: {:?}",
                diff.len(),
                &diff[..diff.len().min(10)]
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Every client received every event of every order it may see (no
    // resume fell back to a snapshot, so none was skipped), no event twice
    // except the documented re-send of early events, nothing of another
    // user's, and holds exactly the relay's current orders.
    let (mut tally, mut wrong, mut resume_snapshots) = (Tally::default(), 0, 0);
    let mut faulty_seen = 0;
    for (user, view) in &views {
        let role = if user == "admin" {
            Role::Admin
        } else {
            Role::User
        };
        let token = server::web::auth::Keys::new(common::SECRET.as_bytes()).issue(
            user,
            role,
            Duration::from_secs(60),
        );
        let relay_orders = common::orders_at(&format!("http://{listen}"), &token)
            .await
            .orders;
        let view = view.lock().unwrap();
        if role == Role::User {
            let mine: Vec<_> = view.state.orders_newest_first().cloned().collect();
            assert_eq!(
                mine, relay_orders,
                "{user}: client orders differ from GET /api/orders"
            );
        }
        tally += view.tally(user, &events, &owner);
        wrong += view.wrong_user;
        faulty_seen += view
            .seen
            .keys()
            .filter(|k| faults.keys.contains(*k))
            .count();
        resume_snapshots += view.snapshots.saturating_sub(1);
    }
    let kicked: u32 = views.iter().map(|(_, v)| v.lock().unwrap().kicked).sum();
    let Tally {
        missed,
        collapsed,
        twice,
        resent,
        restart_resent,
    } = tally;
    println!(
        "chaos (seed {seed}): {total} events ({} of them faulty), {USERS} users + admin, {kicked} kicks, {} reconnects in all, \
         relay SIGKILLed once, broker restarted once: {missed} missed, {collapsed} collapsed into a later update, {twice} received twice, \
         {resent} early events re-sent before their order's created event and {restart_resent} after it by the restarted relay (by design), {wrong} seen by the wrong user, \
         {resume_snapshots} resumes answered by a snapshot",
        total - events.len(),
        reconnects.load(Relaxed)
    );
    assert_eq!(kicked, DISCONNECTS as u32, "the chaos did not happen");
    assert_eq!(
        resume_snapshots, 0,
        "a resume by cursor fell back to a snapshot"
    );
    assert_eq!(missed, 0, "events never reached a client that may see them");
    assert_eq!(twice, 0, "events reached a client twice");
    assert_eq!(wrong, 0, "a client saw another user's order");
    assert_eq!(faulty_seen, 0, "a faulty event reached a client");
    let forged_seen = views
        .iter()
        .filter(|(_, v)| v.lock().unwrap().state.orders().contains("forged-1"))
        .count();
    assert_eq!(
        forged_seen, 0,
        "a forged checkpoint's order reached a client"
    );
    // Every faulty event was refused with its reason. (At least: the test's
    // producer is not idempotent, so a broker restart may store a real
    // created event twice, which is one more duplicate.)
    let page = metrics_page(&listen).await;
    let refused = |reason: &str| rejected(&page, reason) as usize;
    let unsealed = common::metric(&page, "relay_state_records_unsealed_total");
    println!("hostile state writer: {unsealed} unsealed records skipped, 0 read");
    assert!(
        unsealed >= 3.0,
        "the restarted relay skipped {unsealed} unsealed records"
    );
    println!("faulty producer, refused by reason:");
    for (reason, sent) in [
        ("buyer_mismatch", faults.buyer_mismatch),
        ("conflicting_created", faults.conflicting_created),
        ("duplicate_created", faults.duplicate_created),
        ("future_time", faults.future_time),
    ] {
        let counted = refused(reason);
        println!("  {reason}: {sent} published, {counted} refused");
        assert!(sent > 0, "the faulty producer sent no {reason}");
        assert!(
            counted >= sent,
            "{reason}: {sent} published, {counted} refused"
        );
        assert!(
            counted <= sent + 3,
            "{reason}: {sent} published, {counted} refused"
        );
    }

    // Phase 2: eviction, then every evicted id reused. The relay restarts
    // keeping finished orders 1 s; once they are evicted, a created event
    // for each finished id is published again: half naming another buyer,
    // half the original re-sent. None may reach anyone, none may come back
    // (in any GET /api/orders), and a new real order still reaches every
    // user.
    relay.kill().await.unwrap();
    relay = common::spawn_relay(
        &kafka,
        &listen,
        &[("PING_INTERVAL_SECS", "2"), ("KEEP_FINISHED_SECS", "1")],
    )
    .await;
    common::until_readyz(&listen, 200).await;
    let finished: Vec<&String> = expected
        .iter()
        .filter(|(_, status)| matches!(status, OrderStatus::Delivered | OrderStatus::Cancelled))
        .map(|(id, _)| id)
        .collect();
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    while common::metric(&metrics_page(&listen).await, "relay_orders_evicted_total")
        < finished.len() as f64
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "finished orders were not evicted"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let page = metrics_page(&listen).await;
    let (conflicts_before, duplicates_before) = (
        rejected(&page, "conflicting_created"),
        rejected(&page, "duplicate_created"),
    );
    let seen_of = |id: &str| -> u32 {
        views
            .iter()
            .map(|(_, v)| {
                let v = v.lock().unwrap();
                v.seen
                    .iter()
                    .filter(|(k, _)| k.starts_with(&format!("order:created:{id}:")))
                    .map(|(_, receipts)| receipts.len() as u32)
                    .sum::<u32>()
            })
            .sum()
    };
    let seen_before: Vec<u32> = finished.iter().map(|id| seen_of(id)).collect();
    let originals: HashMap<&String, &String> = events
        .iter()
        .filter(|(topic, _, _)| *topic == "order.created")
        .map(|(_, key, json)| (key, json))
        .collect();
    let (mut conflicts, mut duplicates) = (0, 0);
    for (i, id) in finished.iter().enumerate() {
        let json = if i % 2 == 0 {
            conflicts += 1;
            let thief = format!(
                "u{}",
                (owner[*id][1..].parse::<usize>().unwrap() + 1) % USERS
            );
            originals[*id].replace(
                &format!(r#""buyerId":"{}""#, owner[*id]),
                &format!(r#""buyerId":"{thief}""#),
            )
        } else {
            duplicates += 1;
            originals[*id].to_string()
        };
        producer.send("order.created", id, json).await;
    }
    for (user, role) in &users {
        if *role == Role::User {
            let id = format!("p2-{user}");
            let json = format!(
                r#"{{"orderId":"{id}","buyerId":"{user}","total":1,"createdAt":"2025-11-12T12:00:00.000Z"}}"#
            );
            producer.send("order.created", &id, json).await;
        }
    }
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    for (user, view) in &views {
        let want: Vec<String> = if user == "admin" {
            (0..USERS).map(|i| format!("p2-u{i}")).collect()
        } else {
            vec![format!("p2-{user}")]
        };
        while !want
            .iter()
            .all(|id| view.lock().unwrap().state.orders().contains(id))
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{user} missed a new order after eviction"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let page = metrics_page(&listen).await;
    let seen_after: Vec<u32> = finished.iter().map(|id| seen_of(id)).collect();
    let reached = seen_before
        .iter()
        .zip(&seen_after)
        .filter(|(b, a)| b != a)
        .count();
    let mut resurrected = 0;
    for (user, role) in &users {
        let token = server::web::auth::Keys::new(common::SECRET.as_bytes()).issue(
            user,
            *role,
            Duration::from_secs(60),
        );
        let listed = common::orders_at(&format!("http://{listen}"), &token)
            .await
            .orders;
        resurrected += listed
            .iter()
            .filter(|o| finished.contains(&&o.order_id))
            .count();
    }
    let wrong: u32 = views
        .iter()
        .map(|(_, v)| v.lock().unwrap().wrong_user)
        .sum();
    println!(
        "eviction: {} finished orders evicted; {conflicts} ids reused by another buyer, {duplicates} re-sent: \
         {reached} reached a client, {resurrected} came back, {wrong} seen by the wrong user",
        finished.len()
    );
    assert_eq!(reached, 0, "a reused id's created event reached a client");
    assert_eq!(resurrected, 0, "an evicted order came back");
    assert_eq!(wrong, 0, "a client saw another user's order");
    assert_eq!(
        rejected(&page, "conflicting_created") - conflicts_before,
        conflicts as f64
    );
    assert_eq!(
        rejected(&page, "duplicate_created") - duplicates_before,
        duplicates as f64
    );

    drop(relay);
    drop(broker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_keeps_clients_connected_and_readiness_follows_the_broker() {
    let mut broker = DurableBroker::start("outage").await;
    let kafka = broker.bootstrap.clone();
    let listen = format!("127.0.0.1:{}", free_port());
    // Pings every 15 s: this test client does not read (so does not answer
    // pings) while it waits out the outage; a browser would.
    let _relay = spawn_relay(&kafka, &listen, 15).await;
    common::until_readyz(&listen, 200).await;
    let producer = common::Producer::connect(&kafka);
    let keys = server::web::auth::Keys::new(common::SECRET.as_bytes());
    let url = format!(
        "ws://{listen}/ws?token={}",
        keys.issue("alice", Role::User, Duration::from_secs(600))
    );
    let connect = || async {
        let (ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        let mut client = common::Client { ws };
        client.next().await; // connection:success
        client
    };
    let mut alice = connect().await;
    alice
        .send(&ClientEvent::SubscribeOrders { cursor: None })
        .await;
    let ServerEvent::OrdersSnapshot(before) = alice.next().await else {
        panic!("expected a snapshot")
    };
    let created = |id: &str| {
        format!(r#"{{"orderId":"{id}","buyerId":"alice","createdAt":"2025-11-12T10:30:00.000Z"}}"#)
    };
    producer.send("order.created", "a1", created("a1")).await;
    assert_eq!(
        common::describe(&alice.next().await),
        "order:created:a1:pending"
    );

    broker.stop().await;
    common::until_readyz(&listen, 503).await;
    // The client is still connected: the relay keeps pinging it, nothing closes it.
    let quiet = tokio::time::timeout(Duration::from_secs(3), alice.ws.next()).await;
    assert!(
        matches!(quiet, Err(_) | Ok(Some(Ok(Message::Ping(_))))),
        "expected silence or pings during the outage, got {quiet:?}"
    );
    // New subscribers are answered from memory during the outage: a resume
    // replays what they missed, a fresh one gets the snapshot, and the HTTP
    // snapshot still answers.
    let mut resumed = connect().await;
    resumed
        .send(&ClientEvent::SubscribeOrders {
            cursor: Some(before.cursor.clone()),
        })
        .await;
    assert_eq!(
        common::describe(&resumed.next().await),
        "order:created:a1:pending"
    );
    let mut fresh = connect().await;
    fresh
        .send(&ClientEvent::SubscribeOrders { cursor: None })
        .await;
    let ServerEvent::OrdersSnapshot(during) = fresh.next().await else {
        panic!("expected a snapshot during the outage")
    };
    assert_eq!(during.orders.len(), 1);
    let token = keys.issue("alice", Role::User, Duration::from_secs(600));
    let listed = common::orders_at(&format!("http://{listen}"), &token).await;
    assert_eq!(listed.orders.len(), 1, "GET /api/orders during the outage");

    broker.restart().await;
    producer.send("order.created", "a2", created("a2")).await;
    assert_eq!(
        common::describe(&alice.next().await),
        "order:created:a2:pending"
    );
    common::until_readyz(&listen, 200).await;
    drop(broker);
}

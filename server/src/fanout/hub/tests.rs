use std::collections::HashMap;
use std::time::Duration;

use protocol::{OrderStatus, OrderUpdate, Role, ServerEvent, Timestamp};

use super::*;
use crate::fixtures::{created as created_at, pos, updated, ANY_TIME};

const KEEP: Duration = Duration::from_secs(3600);

fn created(id: &str, buyer: &str) -> OrderEvent {
    created_at(id, buyer, 1)
}

fn shipped(id: &str) -> OrderEvent {
    updated(id, None, OrderStatus::Shipped, 2)
}

fn user(id: &str, role: Role) -> User {
    User {
        id: id.into(),
        role,
        expires_at: u64::MAX,
    }
}

/// A hub whose read model counts as loaded.
fn hub(queue: usize) -> Hub {
    let hub = Hub::new(
        Arc::new(Metrics::default()),
        Retention::new(1000, KEEP),
        queue,
        100,
    );
    hub.set_ready(true);
    hub
}

/// Every frame queued so far, as parsed events.
fn drain(queue: &mut Arc<Queue>) -> Vec<ServerEvent> {
    queue
        .take()
        .iter()
        .map(|f| ServerEvent::from_json(f.as_str()).unwrap())
        .collect()
}

fn names(events: &[ServerEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            ServerEvent::Order { event, .. } => {
                format!("{}:{}", event.frame_name(), event.order_id())
            }
            other => other.name().to_owned(),
        })
        .collect()
}

#[test]
fn user_never_receives_another_users_order_and_admin_receives_all() {
    let hub = hub(16);
    let (alice, bob, admin) = (
        user("alice", Role::User),
        user("bob", Role::User),
        user("root", Role::Admin),
    );
    let mut rx = HashMap::new();
    for u in [&alice, &bob, &admin] {
        let (id, r) = hub.register(u);
        hub.subscribe(u, id, None).unwrap();
        rx.insert(u.id.clone(), r);
    }
    hub.apply_order(created("a1", "alice"), pos(0, 0), ANY_TIME);
    hub.apply_order(shipped("a1"), pos(1, 0), ANY_TIME);
    hub.apply_order(created("b1", "bob"), pos(0, 1), ANY_TIME);
    let got =
        |id: &str, rx: &mut HashMap<String, Arc<Queue>>| names(&drain(rx.get_mut(id).unwrap()));
    assert_eq!(
        got("alice", &mut rx),
        ["orders:snapshot", "order:created:a1", "order:updated:a1"]
    );
    assert_eq!(got("bob", &mut rx), ["orders:snapshot", "order:created:b1"]);
    assert_eq!(
        got("root", &mut rx),
        [
            "orders:snapshot",
            "order:created:a1",
            "order:updated:a1",
            "order:created:b1"
        ]
    );
}

#[test]
fn order_events_wait_for_subscribe_but_notifications_do_not() {
    let hub = hub(16);
    let alice = user("alice", Role::User);
    let (id, mut rx) = hub.register(&alice);
    hub.apply_order(created("a1", "alice"), pos(0, 0), ANY_TIME);
    let note = Notification {
        kind: protocol::NotificationType::Info,
        priority: protocol::Priority::Normal,
        title: None,
        message: "hello".into(),
    };
    hub.notify("alice", &note);
    hub.notify("bob", &note);
    assert_eq!(names(&drain(&mut rx)), ["notification"]);
    hub.subscribe(&alice, id, None).unwrap();
    let ServerEvent::OrdersSnapshot(snapshot) = &drain(&mut rx)[0] else {
        panic!("expected a snapshot")
    };
    assert_eq!(snapshot.orders.len(), 1);
}

#[test]
fn resume_by_cursor_replays_only_what_was_missed() {
    let hub = hub(16);
    let alice = user("alice", Role::User);
    let (id, mut rx) = hub.register(&alice);
    hub.subscribe(&alice, id, None).unwrap();
    hub.apply_order(created("a1", "alice"), pos(0, 0), ANY_TIME);
    let first = drain(&mut rx);
    let ServerEvent::Order { cursor, .. } = first.last().unwrap() else {
        panic!()
    };
    hub.unregister(&alice, id);
    hub.apply_order(shipped("a1"), pos(1, 0), ANY_TIME);
    hub.apply_order(created("b1", "bob"), pos(0, 1), ANY_TIME);
    let (id, mut rx) = hub.register(&alice);
    assert_eq!(
        hub.subscribe(&alice, id, Cursor::parse(cursor)),
        Some(Subscribed::Replayed(1))
    );
    assert_eq!(names(&drain(&mut rx)), ["order:updated:a1"]);
    let (id, mut rx) = hub.register(&alice);
    assert_eq!(
        hub.subscribe(&alice, id, Cursor::parse("junk")),
        Some(Subscribed::Snapshot)
    );
    assert_eq!(names(&drain(&mut rx)), ["orders:snapshot"]);
    // A cursor ahead of the relay waits for it (snapshot after PARK_LIMIT).
    let (id, mut rx) = hub.register(&alice);
    assert_eq!(
        hub.subscribe(&alice, id, Cursor::parse("v1.0-0-99")),
        Some(Subscribed::Deferred)
    );
    assert!(drain(&mut rx).is_empty());
}

#[test]
fn a_slow_connection_is_dropped_without_blocking_others() {
    let hub = hub(2);
    let (alice, admin) = (user("alice", Role::User), user("root", Role::Admin));
    let (slow, mut slow_rx) = hub.register(&admin);
    hub.subscribe(&admin, slow, None).unwrap();
    let (fast, mut fast_rx) = hub.register(&alice);
    hub.subscribe(&alice, fast, None).unwrap();
    drain(&mut fast_rx);
    for i in 0..5 {
        hub.apply_order(created(&format!("a{i}"), "alice"), pos(0, i), ANY_TIME);
        assert_eq!(
            drain(&mut fast_rx).len(),
            1,
            "the fast client keeps receiving"
        );
    }
    assert_eq!(hub.metrics().slow_disconnects.get(), 1);
    // The slow one got a contiguous prefix, then its queue was closed.
    assert_eq!(
        names(&drain(&mut slow_rx)),
        ["orders:snapshot", "order:created:a0"]
    );
    assert!(slow_rx.is_closed());
}

#[test]
fn when_a_queue_is_full_updates_to_one_order_collapse_to_the_latest() {
    let hub = hub(2);
    let alice = user("alice", Role::User);
    let (id, mut rx) = hub.register(&alice);
    hub.subscribe(&alice, id, None).unwrap();
    hub.apply_order(created("a1", "alice"), pos(0, 0), ANY_TIME);
    assert_eq!(
        names(&drain(&mut rx)),
        ["orders:snapshot", "order:created:a1"]
    );
    let status = |status: OrderStatus, at: i64| {
        OrderEvent::Updated(OrderUpdate {
            order_id: "a1".into(),
            buyer_id: None,
            status,
            previous_status: None,
            updated_at: Timestamp(at),
            message: None,
        })
    };
    hub.apply_order(status(OrderStatus::Processing, 2), pos(1, 0), ANY_TIME);
    hub.apply_order(status(OrderStatus::Shipped, 3), pos(1, 1), ANY_TIME);
    hub.apply_order(status(OrderStatus::Delivered, 4), pos(1, 2), ANY_TIME);
    let events = drain(&mut rx);
    let statuses: Vec<_> = events
        .iter()
        .map(|e| match e {
            ServerEvent::Order { event, .. } => event.status(),
            _ => panic!(),
        })
        .collect();
    assert_eq!(statuses, [OrderStatus::Processing, OrderStatus::Delivered]);
    assert_eq!(hub.metrics().coalesced.get(), 1);
    assert!(!rx.is_closed());
}

#[test]
fn an_update_consumed_before_a_snapshot_that_could_not_show_it_comes_with_the_created_event() {
    let hub = hub(16);
    let alice = user("alice", Role::User);
    // The update names its buyer but the order is not created yet: a snapshot
    // taken now cannot show it.
    let mut early = shipped("a1");
    early.set_buyer_id("alice");
    hub.apply_order(early, pos(1, 0), ANY_TIME);
    let (id, mut rx) = hub.register(&alice);
    hub.subscribe(&alice, id, None).unwrap();
    let ServerEvent::OrdersSnapshot(snapshot) = &drain(&mut rx)[0] else {
        panic!("expected a snapshot")
    };
    assert!(snapshot.orders.is_empty());
    hub.apply_order(created("a1", "alice"), pos(0, 0), ANY_TIME);
    // The early update comes first: the created event's cursor marks both received.
    assert_eq!(
        names(&drain(&mut rx)),
        ["order:updated:a1", "order:created:a1"]
    );
}

#[test]
fn a_subscription_before_the_initial_load_is_answered_once_caught_up() {
    let hub = Hub::new(
        Arc::new(Metrics::default()),
        Retention::new(1000, KEEP),
        16,
        100,
    );
    let alice = user("alice", Role::User);
    let (id, mut rx) = hub.register(&alice);
    let (gone, _) = hub.register(&alice);
    hub.apply_order(created("a1", "alice"), pos(0, 0), ANY_TIME);
    assert_eq!(hub.subscribe(&alice, id, None), Some(Subscribed::Deferred));
    assert_eq!(
        hub.subscribe(&alice, gone, None),
        Some(Subscribed::Deferred)
    );
    hub.unregister(&alice, gone);
    assert!(drain(&mut rx).is_empty(), "nothing before the load");
    assert!(!hub.is_loaded());

    hub.set_ready(true);
    let frames = drain(&mut rx);
    let [ServerEvent::OrdersSnapshot(snapshot)] = &frames[..] else {
        panic!("one snapshot, got {frames:?}")
    };
    assert_eq!(snapshot.orders.len(), 1);
    hub.apply_order(shipped("a1"), pos(0, 1), ANY_TIME);
    assert_eq!(names(&drain(&mut rx)), ["order:updated:a1"]);

    // Loaded stays loaded: a broker outage does not park new subscribers.
    hub.set_ready(false);
    assert!(hub.is_loaded());
    let (again, mut rx) = hub.register(&alice);
    assert_eq!(
        hub.subscribe(&alice, again, None),
        Some(Subscribed::Snapshot)
    );
    assert_eq!(names(&drain(&mut rx)), ["orders:snapshot"]);
}

#[test]
fn a_cursor_ahead_of_the_relay_waits_for_it_then_gets_a_replay() {
    // A relay restarted and still reading: the client's cursor came from the
    // previous one, which had read further.
    let first = hub(16);
    let alice = user("alice", Role::User);
    let (id, mut rx) = first.register(&alice);
    first.subscribe(&alice, id, None).unwrap();
    first.apply_order(created("a1", "alice"), pos(0, 0), ANY_TIME);
    first.apply_order(created("a2", "alice"), pos(0, 1), ANY_TIME);
    let ServerEvent::Order { cursor, .. } = drain(&mut rx).pop().unwrap() else {
        panic!()
    };
    let restarted = hub(16);
    restarted.apply_order(created("a1", "alice"), pos(0, 0), ANY_TIME);
    let (id, mut rx) = restarted.register(&alice);
    assert_eq!(
        restarted.subscribe(&alice, id, Cursor::parse(&cursor)),
        Some(Subscribed::Deferred)
    );
    assert!(drain(&mut rx).is_empty());
    restarted.apply_order(created("a2", "alice"), pos(0, 1), ANY_TIME);
    restarted.apply_order(created("a3", "alice"), pos(0, 2), ANY_TIME);
    assert_eq!(names(&drain(&mut rx)), ["order:created:a3"]);
}

#[test]
fn a_partition_emptied_by_retention_counts_as_read_up_to_its_log_start() {
    let hub = hub(16);
    let part = PartitionId {
        topic: 1,
        partition: 0,
    };
    hub.log_starts(&[(part, 7)]);
    assert_eq!(hub.position().next(part), 7);
    // A cursor from this relay resumes with a replay, not a snapshot.
    let alice = user("alice", Role::User);
    let (id, mut rx) = hub.register(&alice);
    hub.subscribe(&alice, id, None).unwrap();
    let ServerEvent::OrdersSnapshot(snapshot) = drain(&mut rx).pop().unwrap() else {
        panic!()
    };
    let (again, _) = hub.register(&alice);
    assert_eq!(
        hub.subscribe(&alice, again, Cursor::parse(&snapshot.cursor)),
        Some(Subscribed::Replayed(0))
    );
}

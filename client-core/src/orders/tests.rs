//! Table-driven tests of the order rules, driven through the reducer as the
//! app drives them: one table of named scenarios and the rows they must end
//! in, plus idempotence and independence from arrival order.

use protocol::{Order, OrderEvent, OrderStatus};

use crate::fixtures::{cancelled, created, order, run, snapshot, t, updated};
use crate::state::{Action, AppState};

use OrderStatus::{Cancelled, Delivered, Pending, Processing, Shipped};

fn with_status(mut order: Order, status: OrderStatus, updated: i64) -> Order {
    order.status = status;
    order.updated_at = t(updated);
    order
}

/// The orders as the page lists them: id and status, newest first.
fn rows(state: &AppState) -> Vec<(&str, OrderStatus)> {
    state
        .orders_newest_first()
        .map(|o| (o.order_id.as_str(), o.status))
        .collect()
}

#[test]
fn order_rules() {
    struct Case {
        name: &'static str,
        actions: Vec<Action>,
        rows: Vec<(&'static str, OrderStatus)>,
    }
    let cases = vec![
        Case {
            name: "a created order is listed with its status",
            actions: vec![created("a", 1)],
            rows: vec![("a", Pending)],
        },
        Case {
            name: "a newer order goes on top",
            actions: vec![created("a", 1), created("b", 2)],
            rows: vec![("b", Pending), ("a", Pending)],
        },
        Case {
            name: "an older order arriving late goes below newer ones",
            actions: vec![created("b", 2), created("a", 1), created("c", 3)],
            rows: vec![("c", Pending), ("b", Pending), ("a", Pending)],
        },
        Case {
            name: "orders created at the same time are ordered by id",
            actions: vec![created("a", 1), created("b", 1)],
            rows: vec![("b", Pending), ("a", Pending)],
        },
        Case {
            name: "an update moves the status forward",
            actions: vec![created("a", 1), updated("a", Processing, 2)],
            rows: vec![("a", Processing)],
        },
        Case {
            name: "an update older than the current status is ignored",
            actions: vec![
                created("a", 1),
                updated("a", Shipped, 3),
                updated("a", Processing, 2),
            ],
            rows: vec![("a", Shipped)],
        },
        Case {
            name: "the latest time wins even when it goes back in life order",
            actions: vec![
                created("a", 1),
                updated("a", Shipped, 2),
                updated("a", Processing, 3),
            ],
            rows: vec![("a", Processing)],
        },
        Case {
            name: "on equal times the later life status wins (forward arrival)",
            actions: vec![
                created("a", 1),
                updated("a", Processing, 2),
                updated("a", Shipped, 2),
            ],
            rows: vec![("a", Shipped)],
        },
        Case {
            name: "on equal times the later life status wins (backward arrival)",
            actions: vec![
                created("a", 1),
                updated("a", Shipped, 2),
                updated("a", Processing, 2),
            ],
            rows: vec![("a", Shipped)],
        },
        Case {
            name: "cancelled is final against later updates",
            actions: vec![created("a", 1), cancelled("a", 2), updated("a", Shipped, 5)],
            rows: vec![("a", Cancelled)],
        },
        Case {
            name: "a cancellation wins over a newer status",
            actions: vec![
                created("a", 1),
                updated("a", Delivered, 5),
                cancelled("a", 2),
            ],
            rows: vec![("a", Cancelled)],
        },
        Case {
            name: "an update before its order is not shown on its own",
            actions: vec![updated("a", Shipped, 2)],
            rows: vec![],
        },
        Case {
            name: "an update before its order is applied when the order arrives",
            actions: vec![updated("a", Shipped, 2), created("a", 1)],
            rows: vec![("a", Shipped)],
        },
        Case {
            name: "a cancellation before its order is applied when the order arrives",
            actions: vec![
                cancelled("a", 2),
                updated("a", Processing, 3),
                created("a", 1),
            ],
            rows: vec![("a", Cancelled)],
        },
        Case {
            name: "a pending update older than the created status is dropped",
            actions: vec![
                updated("a", Processing, 1),
                Action::Order {
                    event: OrderEvent::Created(with_status(order("a", 2), Pending, 2)),
                    cursor: "c".into(),
                },
            ],
            rows: vec![("a", Pending)],
        },
        Case {
            name: "a re-sent created does not undo an update",
            actions: vec![created("a", 1), updated("a", Shipped, 2), created("a", 1)],
            rows: vec![("a", Shipped)],
        },
        Case {
            name: "a snapshot replaces the orders",
            actions: vec![
                created("gone", 5),
                snapshot(vec![order("a", 1), with_status(order("b", 2), Shipped, 3)]),
            ],
            rows: vec![("b", Shipped), ("a", Pending)],
        },
        Case {
            name: "a snapshot is sorted newest first whatever its order",
            actions: vec![snapshot(vec![order("a", 1), order("c", 3), order("b", 2)])],
            rows: vec![("c", Pending), ("b", Pending), ("a", Pending)],
        },
        Case {
            name: "a snapshot keeps newer pending info",
            actions: vec![updated("a", Delivered, 9), snapshot(vec![order("a", 1)])],
            rows: vec![("a", Delivered)],
        },
        Case {
            name: "a snapshot drops older pending info",
            actions: vec![
                updated("a", Processing, 2),
                snapshot(vec![with_status(order("a", 1), Shipped, 3)]),
            ],
            rows: vec![("a", Shipped)],
        },
        Case {
            name: "a snapshot does not move a known order back in time",
            actions: vec![
                created("a", 1),
                updated("a", Shipped, 4),
                snapshot(vec![with_status(order("a", 1), Processing, 2)]),
            ],
            rows: vec![("a", Shipped)],
        },
        Case {
            name: "pending info for an order missing from a snapshot waits on",
            actions: vec![
                cancelled("b", 4),
                snapshot(vec![order("a", 1)]),
                created("b", 2),
            ],
            rows: vec![("b", Cancelled), ("a", Pending)],
        },
        Case {
            name: "order events are ignored once signed out",
            actions: vec![
                created("a", 1),
                Action::SignedOut { notice: None },
                created("b", 2),
            ],
            rows: vec![],
        },
    ];
    for case in cases {
        let state = run(case.actions);
        assert_eq!(rows(&state), case.rows, "{}", case.name);
    }
}

#[test]
fn applying_any_event_twice_changes_nothing() {
    let events = [
        created("a", 1),
        updated("a", Processing, 2),
        updated("b", Shipped, 3),
        created("b", 1),
        cancelled("a", 4),
        snapshot(vec![order("a", 1), order("c", 2)]),
        updated("c", Delivered, 5),
    ];
    let once = run(events.clone());
    let twice = run(events.iter().flat_map(|e| [e.clone(), e.clone()]));
    assert_eq!(once, twice);
}

#[test]
fn any_interleaving_of_one_orders_events_ends_in_the_same_state() {
    // The three order topics are not ordered against each other (§1): every
    // permutation of these events must leave the same row.
    let events = [
        created("a", 1),
        updated("a", Processing, 2),
        updated("a", Shipped, 3),
        updated("a", Delivered, 3),
        cancelled("a", 2),
    ];
    let mut seen = Vec::new();
    permutations(&events, &mut Vec::new(), &mut |order| {
        let state = run(order.iter().cloned());
        let listed: Vec<(String, OrderStatus)> = rows(&state)
            .into_iter()
            .map(|(id, status)| (id.to_owned(), status))
            .collect();
        seen.push((listed, state.orders().get("a").map(|o| o.updated_at)));
    });
    assert_eq!(seen.len(), 120);
    assert!(seen.iter().all(|s| s == &seen[0]), "{:?}", seen[0]);
    assert_eq!(seen[0].0, vec![("a".to_owned(), Cancelled)]);
}

fn permutations<T: Clone>(rest: &[T], prefix: &mut Vec<T>, visit: &mut dyn FnMut(&[T])) {
    if rest.is_empty() {
        visit(prefix);
        return;
    }
    for i in 0..rest.len() {
        let mut remaining = rest.to_vec();
        prefix.push(remaining.remove(i));
        permutations(&remaining, prefix, visit);
        prefix.pop();
    }
}

#[test]
fn the_id_list_and_the_orders_agree() {
    let state = run([
        updated("b", Shipped, 5),
        created("a", 1),
        snapshot(vec![order("c", 2), order("a", 1)]),
        created("b", 4),
        updated("d", Processing, 5),
    ]);
    let orders = state.orders();
    assert_eq!(orders.ids().collect::<Vec<_>>(), ["b", "c", "a"]);
    assert_eq!(orders.len(), 3);
    assert!(orders.ids().all(|id| orders.contains(id)));
    assert_eq!(orders.get("b").map(|o| o.status), Some(Shipped));
    assert_eq!(orders.status("b").map(|s| s.status), Some(Shipped));
    assert_eq!(orders.pending_len(), 1, "d waits for its order");
    assert!(!orders.contains("d"));
}

/// The case that once made relay and page disagree for good: an
/// `order.created` whose `updatedAt` is later than the next update's time.
/// Its status dates from `createdAt` on the page as in the relay (whose
/// side is `server/src/model/tests.rs`), so the update applies whether the
/// page saw the created event live or loaded the relay's snapshot of it
/// (which carries `updatedAt` = the status time).
#[test]
fn a_created_with_a_later_updated_at_still_takes_the_next_update() {
    let mut live = order("a", 10);
    live.updated_at = t(20);
    let from_relay = order("a", 10);
    for first in [
        Action::Order {
            event: OrderEvent::Created(live),
            cursor: "c1".into(),
        },
        snapshot(vec![from_relay]),
    ] {
        let state = run([first, updated("a", Processing, 15)]);
        let shown = state.orders().get("a").unwrap();
        assert_eq!((shown.status, shown.updated_at), (Processing, t(15)));
    }
}

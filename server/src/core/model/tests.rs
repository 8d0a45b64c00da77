use protocol::OrderStatus;

use super::*;
use crate::fixtures::{cancelled, created, updated, ANY_TIME};

/// The relay's clock in these tests: held events' keep time starts then.
const NOW: Timestamp = Timestamp(0);

fn apply_all(events: &[OrderEvent]) -> ReadModel {
    let mut model = ReadModel::default();
    for (seq, event) in events.iter().enumerate() {
        // Repeats and refusals change nothing, which is what tests check.
        let _ = model.apply(&mut event.clone(), seq as u64, ANY_TIME, NOW);
    }
    model
}

fn apply(model: &mut ReadModel, event: OrderEvent, seq: u64) -> Result<Applied, Refused> {
    model.apply(&mut event.clone(), seq, ANY_TIME, NOW)
}

fn owned_by(buyer: &str, released: Vec<u64>) -> Applied {
    Applied {
        route: Route::Owner(buyer.into()),
        released,
        restored: vec![],
        refused: vec![],
    }
}

#[test]
fn buyer_is_filled_in_from_the_created_event() {
    let mut model = ReadModel::default();
    apply(&mut model, created("o1", "alice", 1), 0).unwrap();
    let mut update = updated("o1", None, OrderStatus::Shipped, 2);
    let applied = model.apply(&mut update, 1, ANY_TIME, NOW).unwrap();
    assert_eq!(applied, owned_by("alice", vec![]));
    assert_eq!(update.buyer_id(), Some("alice"));
    assert_eq!(model.order("o1").unwrap().status, OrderStatus::Shipped);
}

#[test]
fn an_update_before_its_created_goes_to_admins_and_is_released_to_the_buyer_later() {
    let mut model = ReadModel::default();
    let early = apply(
        &mut model,
        updated("o1", None, OrderStatus::Processing, 5),
        7,
    );
    assert_eq!(
        early,
        Ok(Applied {
            route: Route::Admins,
            released: vec![],
            restored: vec![],
            refused: vec![],
        })
    );
    assert_eq!(model.order("o1"), None, "no payload yet: not in snapshots");
    assert_eq!(model.status("o1"), None, "no owner yet: no commands");
    let late = apply(&mut model, created("o1", "alice", 1), 8);
    assert_eq!(late, Ok(owned_by("alice", vec![7])));
    let order = model.order("o1").unwrap();
    assert_eq!(
        order.status,
        OrderStatus::Processing,
        "the later event time wins"
    );
    assert_eq!(order.updated_at, Timestamp(5));
}

#[test]
fn an_early_event_that_names_a_buyer_is_held_until_the_created_event_confirms_them() {
    let mut model = ReadModel::default();
    let early = apply(
        &mut model,
        updated("o1", Some("hal"), OrderStatus::Shipped, 5),
        1,
    );
    assert_eq!(early.unwrap().route, Route::Held, "nobody sees it yet");
    assert_eq!(model.owner("o1"), None);
    let late = apply(&mut model, created("o1", "hal", 1), 2).unwrap();
    assert_eq!(late, owned_by("hal", vec![1]));
    assert_eq!(model.order("o1").unwrap().status, OrderStatus::Shipped);
}

#[test]
fn an_early_event_that_names_another_buyer_is_refused_when_the_created_event_arrives() {
    let mut model = ReadModel::default();
    let mallory = apply(
        &mut model,
        updated("o1", Some("mallory"), OrderStatus::Delivered, 5),
        1,
    );
    assert_eq!(mallory.unwrap().route, Route::Held);
    let late = apply(&mut model, created("o1", "hal", 1), 2).unwrap();
    assert_eq!(late.route, Route::Owner("hal".into()));
    assert_eq!(late.released, Vec::<u64>::new(), "not released to hal");
    assert_eq!(
        late.refused,
        vec![(
            1,
            Refused::BuyerMismatch {
                owner: "hal".into(),
                named: "mallory".into()
            }
        )]
    );
    assert_eq!(model.owner("o1"), Some("hal"));
    assert_eq!(
        model.order("o1").unwrap().status,
        OrderStatus::Pending,
        "the refused status is not applied"
    );
    assert!(model.orders_of("mallory").is_empty());
}

#[test]
fn an_event_that_names_another_buyer_than_the_owner_is_refused() {
    let mut model = ReadModel::default();
    apply(&mut model, created("o1", "hal", 1), 0).unwrap();
    let refused = apply(&mut model, cancelled_by("o1", "mallory", 5), 1);
    assert_eq!(
        refused,
        Err(Refused::BuyerMismatch {
            owner: "hal".into(),
            named: "mallory".into()
        })
    );
    assert_eq!(model.status("o1"), Some(OrderStatus::Pending));
}

#[test]
fn a_second_created_event_with_another_buyer_or_contents_is_refused_and_an_identical_one_is_a_duplicate(
) {
    let mut model = ReadModel::default();
    apply(&mut model, created("o1", "hal", 1), 0).unwrap();
    assert_eq!(
        apply(&mut model, created("o1", "mallory", 1), 1),
        Err(Refused::ConflictingCreated)
    );
    let OrderEvent::Created(mut other) = created("o1", "hal", 1) else {
        unreachable!()
    };
    other.total = 999.0;
    assert_eq!(
        apply(&mut model, OrderEvent::Created(other), 2),
        Err(Refused::ConflictingCreated)
    );
    assert_eq!(
        apply(&mut model, created("o1", "hal", 77), 3),
        Err(Refused::DuplicateCreated),
        "a retry stamped at another time is the same order"
    );
    assert_eq!(model.owner("o1"), Some("hal"));
    assert_eq!(model.order("o1").unwrap().total, 87.8);
    assert!(model.orders_of("mallory").is_empty());
}

#[test]
fn an_event_dated_after_the_latest_allowed_time_is_refused_and_changes_nothing() {
    let mut model = ReadModel::default();
    let latest = Timestamp(1_000);
    let mut create = created("o1", "alice", 1);
    model.apply(&mut create, 0, latest, NOW).unwrap();
    let mut future = updated("o1", None, OrderStatus::Delivered, 1_001);
    assert_eq!(
        model.apply(&mut future, 1, latest, NOW),
        Err(Refused::FutureTime {
            at: Timestamp(1_001),
            latest
        })
    );
    let mut real = updated("o1", None, OrderStatus::Processing, 500);
    model.apply(&mut real, 2, latest, NOW).unwrap();
    assert_eq!(
        model.status("o1"),
        Some(OrderStatus::Processing),
        "a later real update still applies"
    );
    let mut future_create = created("o2", "bob", 2_000);
    assert!(model.apply(&mut future_create, 3, latest, NOW).is_err());
    assert_eq!(model.order("o2"), None);
}

#[test]
fn who_may_see_an_entry() {
    let mut model = ReadModel::default();
    apply(&mut model, created("o1", "hal", 1), 0).unwrap();
    let named = |buyer| updated("o1", Some(buyer), OrderStatus::Shipped, 2);
    let unnamed = updated("o1", None, OrderStatus::Shipped, 2);
    assert!(model.may_see(&named("hal"), Viewer::Admin));
    assert!(model.may_see(&named("hal"), Viewer::Buyer("hal")));
    assert!(model.may_see(&unnamed, Viewer::Buyer("hal")));
    assert!(
        !model.may_see(&named("mallory"), Viewer::Admin),
        "refused: nobody"
    );
    assert!(!model.may_see(&named("mallory"), Viewer::Buyer("mallory")));
    assert!(!model.may_see(&unnamed, Viewer::Buyer("mallory")));
    let orphan = |buyer: Option<&str>| updated("o9", buyer, OrderStatus::Shipped, 2);
    assert!(
        model.may_see(&orphan(None), Viewer::Admin),
        "unroutable: admins"
    );
    assert!(
        !model.may_see(&orphan(Some("hal")), Viewer::Admin),
        "held: nobody yet"
    );
}

fn cancelled_by(id: &str, buyer: &str, at: i64) -> OrderEvent {
    let mut event = cancelled(id, at);
    event.set_buyer_id(buyer);
    event
}

#[test]
fn the_state_does_not_depend_on_interleaving() {
    let events = [
        created("o1", "alice", 1),
        updated("o1", None, OrderStatus::Processing, 2),
        updated("o1", None, OrderStatus::Shipped, 3),
        cancelled("o2", 4),
        created("o2", "bob", 1),
        updated("o2", None, OrderStatus::Processing, 9),
    ];
    let expected = [("o1", OrderStatus::Shipped), ("o2", OrderStatus::Cancelled)];
    // Every rotation and the reverse: all must agree.
    let mut orders: Vec<Vec<OrderEvent>> = (0..events.len())
        .map(|k| {
            events
                .iter()
                .cycle()
                .skip(k)
                .take(events.len())
                .cloned()
                .collect()
        })
        .collect();
    orders.push(events.iter().rev().cloned().collect());
    for sequence in orders {
        let model = apply_all(&sequence);
        for (id, status) in expected {
            assert_eq!(model.status(id), Some(status), "{sequence:?}");
        }
    }
}

#[test]
fn applying_an_event_twice_changes_nothing() {
    let once = apply_all(&[
        created("o1", "alice", 1),
        updated("o1", None, OrderStatus::Shipped, 2),
    ]);
    let twice = apply_all(&[
        created("o1", "alice", 1),
        updated("o1", None, OrderStatus::Shipped, 2),
        created("o1", "alice", 1),
        updated("o1", None, OrderStatus::Shipped, 2),
    ]);
    assert_eq!(once.order("o1"), twice.order("o1"));
    assert_eq!(twice.orders_of("alice").len(), 1);
}

#[test]
fn snapshots_are_newest_first_and_per_buyer() {
    let model = apply_all(&[
        created("o1", "alice", 1),
        created("o2", "bob", 2),
        created("o3", "alice", 3),
    ]);
    let ids = |orders: Vec<Order>| orders.into_iter().map(|o| o.order_id).collect::<Vec<_>>();
    assert_eq!(ids(model.orders_of("alice")), ["o3", "o1"]);
    assert_eq!(ids(model.orders_of("carol")), Vec::<String>::new());
    assert_eq!(ids(model.all_orders(10)), ["o3", "o2", "o1"]);
    assert_eq!(ids(model.all_orders(2)), ["o3", "o2"]);
}

/// The case that once made relay and browser disagree for good: an
/// `order.created` whose `updatedAt` is later than the next update's time.
/// The status dates from `createdAt`, the update applies, and the order a
/// snapshot carries says so (`updatedAt` is the status time), so a browser
/// that loads it judges the next event exactly as the relay did (the
/// browser's side: client-core's reducer tests).
#[test]
fn a_created_with_a_later_updated_at_still_takes_the_next_update() {
    let OrderEvent::Created(mut order) = created("o1", "alice", 10) else {
        unreachable!()
    };
    order.updated_at = Timestamp(20);
    let mut model = ReadModel::default();
    apply(&mut model, OrderEvent::Created(order), 0).unwrap();
    assert_eq!(model.order("o1").unwrap().updated_at, Timestamp(10));
    apply(
        &mut model,
        updated("o1", None, OrderStatus::Processing, 15),
        1,
    )
    .unwrap();
    let shown = model.order("o1").unwrap();
    assert_eq!(
        (shown.status, shown.updated_at),
        (OrderStatus::Processing, Timestamp(15))
    );
}

/// Updates read before their created events (as on a re-read of the topics)
/// leave no lasting trace: an order leaves the waiting ones when it is
/// created.
#[test]
fn waiting_entries_of_created_orders_do_not_pile_up() {
    let mut model = ReadModel::default();
    for i in 0..5_000u64 {
        let id = format!("o{i}");
        let update = updated(&id, None, OrderStatus::Shipped, 2);
        apply(&mut model, update, 2 * i).unwrap();
        apply(&mut model, created(&id, "alice", 1), 2 * i + 1).unwrap();
        model.evict(
            Timestamp(i64::MIN),
            usize::MAX,
            KeepIds {
                now: Timestamp(0),
                keep_ms: 0,
            },
        );
    }
    assert!(model.records.is_empty());
    assert!(model.waiting.is_empty(), "{:?}", model.waiting);
    assert_eq!(model.len(), 5_000);
}

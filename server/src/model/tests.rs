use super::*;
use crate::fixtures::{cancelled, created, updated};

fn pos(offset: i64) -> Pos {
    crate::fixtures::pos(0, offset)
}

fn apply_all(events: &[OrderEvent]) -> ReadModel {
    let mut model = ReadModel::default();
    for (seq, event) in events.iter().enumerate() {
        model.apply(&mut event.clone(), pos(seq as i64), seq as u64);
    }
    model
}

#[test]
fn buyer_is_filled_in_from_the_created_event() {
    let mut model = ReadModel::default();
    model.apply(&mut created("o1", "alice", 1), pos(0), 0);
    let mut update = updated("o1", None, OrderStatus::Shipped, 2);
    let applied = model.apply(&mut update, pos(1), 1);
    assert_eq!(applied.buyer.as_deref(), Some("alice"));
    assert_eq!(update.buyer_id(), Some("alice"));
    assert_eq!(model.order("o1").unwrap().status, OrderStatus::Shipped);
}

#[test]
fn an_update_before_its_created_is_released_to_the_buyer_later() {
    let mut model = ReadModel::default();
    let early = model.apply(
        &mut updated("o1", None, OrderStatus::Processing, 5),
        pos(0),
        7,
    );
    assert_eq!(
        early,
        Applied {
            buyer: None,
            released: vec![]
        }
    );
    assert_eq!(model.order("o1"), None, "no payload yet: not in snapshots");
    let late = model.apply(&mut created("o1", "alice", 1), pos(1), 8);
    assert_eq!(
        late,
        Applied {
            buyer: Some("alice".into()),
            released: vec![7]
        }
    );
    let order = model.order("o1").unwrap();
    assert_eq!(
        order.status,
        OrderStatus::Processing,
        "the later event time wins"
    );
    assert_eq!(order.updated_at, Timestamp(5));
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

use super::*;
use crate::order::OrderStatus::{self, *};
use crate::time::Timestamp;

fn order(id: &str, created: i64) -> Order {
    crate::fixtures::order(id, "alice", Timestamp(created))
}

fn at(status: OrderStatus, millis: i64) -> StatusAt {
    StatusAt {
        status,
        at: Timestamp(millis),
    }
}

fn ids(book: &OrderBook) -> Vec<&str> {
    book.ids_newest_first().map(String::as_str).collect()
}

#[test]
fn lists_newest_first_by_creation_then_id() {
    let mut book = OrderBook::default();
    for (id, created) in [("b", 20), ("a", 10), ("c", 20), ("d", 5)] {
        assert_eq!(book.add(order(id, created)), Change::Added);
    }
    assert_eq!(ids(&book), ["c", "b", "a", "d"]);
    assert_eq!(book.newest_first().count(), 4);
}

#[test]
fn a_status_moves_only_forward_by_the_rule() {
    let mut book = OrderBook::default();
    book.add(order("a", 10));
    assert_eq!(book.apply("a", at(Shipped, 30)), Change::Moved);
    assert_eq!(book.apply("a", at(Processing, 20)), Change::Unchanged);
    assert_eq!(book.apply("a", at(Shipped, 30)), Change::Unchanged);
    assert_eq!(book.status("a"), Some(at(Shipped, 30)));
    // Cancelled is final, whatever its time.
    assert_eq!(book.apply("a", at(Cancelled, 25)), Change::Moved);
    assert_eq!(book.apply("a", at(Delivered, 99)), Change::Unchanged);
    let shown = book.get("a").unwrap();
    assert_eq!((shown.status, shown.updated_at), (Cancelled, Timestamp(25)));
}

#[test]
fn a_status_before_its_order_waits_and_merges() {
    let mut book = OrderBook::default();
    assert_eq!(book.apply("a", at(Shipped, 30)), Change::Pending);
    assert_eq!(book.apply("a", at(Processing, 20)), Change::Pending);
    assert_eq!(book.pending("a"), Some(at(Shipped, 30)));
    assert_eq!(book.add(order("a", 10)), Change::Added);
    assert_eq!(book.status("a"), Some(at(Shipped, 30)));
    assert_eq!(book.pending_len(), 0);
}

#[test]
fn a_second_created_only_counts_for_its_status() {
    let mut book = OrderBook::default();
    book.add(order("a", 10));
    book.apply("a", at(Processing, 20));
    assert_eq!(book.add(order("a", 10)), Change::Unchanged);
    assert_eq!(book.status("a"), Some(at(Processing, 20)));
    assert_eq!(book.len(), 1);
}

/// The case that made the relay and the browser disagree for good: an
/// `order.created` whose `updatedAt` is later than the next update's time.
/// The status of a created order dates from `createdAt`, in every book, and
/// a snapshot carries that time as `updatedAt`.
#[test]
fn created_with_a_later_updated_at_agrees_across_a_snapshot() {
    let mut created = order("a", 10);
    created.updated_at = Timestamp(20);
    let update = at(Processing, 15);

    let mut relay = OrderBook::default();
    relay.add(created.clone());
    let snapshot: Vec<Order> = relay.newest_first().cloned().collect();
    assert_eq!(snapshot[0].updated_at, Timestamp(10));
    assert_eq!(relay.apply("a", update), Change::Moved);

    let mut page = OrderBook::default();
    page.load(snapshot);
    assert_eq!(page.apply("a", update), Change::Moved);
    assert_eq!(page, relay);

    let mut live = OrderBook::default();
    live.add(created);
    live.apply("a", update);
    assert_eq!(live, relay);
}

#[test]
fn a_snapshot_replaces_the_set_but_never_moves_a_status_back() {
    let mut book = OrderBook::default();
    book.add(order("old", 1));
    book.add(order("a", 10));
    book.apply("a", at(Shipped, 40));
    book.apply("later", at(Delivered, 50));

    let mut listed = order("a", 10);
    listed.status = Processing;
    listed.updated_at = Timestamp(20);
    book.load(vec![listed, order("later", 30), order("b", 20)]);

    assert_eq!(ids(&book), ["later", "b", "a"]);
    assert_eq!(book.status("a"), Some(at(Shipped, 40)));
    assert_eq!(book.status("later"), Some(at(Delivered, 50)));
    assert_eq!(book.pending_len(), 0);
}

#[test]
fn remove_takes_the_order_out_of_the_list() {
    let mut book = OrderBook::default();
    for (id, created) in [("a", 10), ("b", 10), ("c", 30)] {
        book.add(order(id, created));
    }
    assert_eq!(book.remove("b").map(|o| o.order_id), Some("b".into()));
    assert_eq!(book.remove("b"), None);
    assert_eq!(ids(&book), ["c", "a"]);
    assert_eq!(book.len(), 2);
}

#[test]
fn arrival_order_does_not_matter() {
    let events = [at(Processing, 20), at(Shipped, 30), at(Cancelled, 25)];
    let mut expected = None;
    for rotation in 0..events.len() {
        for add_first in [true, false] {
            let mut book = OrderBook::default();
            if add_first {
                book.add(order("a", 10));
            }
            for i in 0..events.len() {
                book.apply("a", events[(rotation + i) % events.len()]);
            }
            book.add(order("a", 10));
            let end = book.get("a").cloned();
            assert_eq!(*expected.get_or_insert(end.clone()), end);
        }
    }
}

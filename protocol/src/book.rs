//! The order book: the one implementation of how order events merge, used by
//! the relay's read model and the browser's reducer alike, so "the same rule
//! everywhere" holds because there is only one (§1.4 of docs/PROTOCOL.md).
//!
//! - An order's current status is the one with the latest event time
//!   (`createdAt` for `order.created`, `updatedAt`, `cancelledAt`); on equal
//!   times the status further along in life wins; `cancelled` is final
//!   ([`StatusAt::supersedes`]).
//! - **An order's `updatedAt` is the time of its current status**, always.
//!   So an order copied out of one book (a snapshot) and loaded into another
//!   carries its status time with it, and both books judge the next event
//!   the same way. (An `order.created` whose `updatedAt` is later than its
//!   `createdAt` is shown with `updatedAt = createdAt`: its status dates from
//!   `createdAt`, which is what the next update is compared with.)
//! - A status for an order not in the book is kept as *pending* and merged
//!   in when the order arrives.
//! - Orders are listed newest first: by `createdAt`, then by id, both
//!   descending, so the list is total and the same in every book.
//!
//! Applying anything twice changes nothing the second time, and because the
//! rule is a total order the end state does not depend on arrival order.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::order::{Order, StatusAt};

/// What an operation did to the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A new order entered the book.
    Added,
    /// A known order's status moved.
    Moved,
    /// Nothing: the status was not newer by the rule.
    Unchanged,
    /// The order is not in the book: the status is kept for when it comes.
    Pending,
}

/// Orders by id, newest first, each showing its current status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrderBook {
    orders: HashMap<String, Order>,
    /// The ids of `orders`, oldest first (new orders are usually the newest,
    /// so they are pushed at the end).
    oldest_first: Vec<String>,
    /// Statuses of orders not in the book yet.
    pending: HashMap<String, StatusAt>,
}

/// The order in which the book lists orders, oldest first.
fn by_age(a: &Order, b: &Order) -> Ordering {
    (a.created_at, &a.order_id).cmp(&(b.created_at, &b.order_id))
}

/// The status an order in the book shows, with its time.
pub fn status_of(order: &Order) -> StatusAt {
    StatusAt {
        status: order.status,
        at: order.updated_at,
    }
}

/// Writes a status into an order: its `updatedAt` is the status time.
fn show(order: &mut Order, status: StatusAt) {
    order.status = status.status;
    order.updated_at = status.at;
}

/// The later of a status and an optional other, by the rule.
fn later(current: StatusAt, other: Option<StatusAt>) -> StatusAt {
    match other {
        Some(other) if other.supersedes(current) => other,
        _ => current,
    }
}

impl OrderBook {
    /// An `order.created`: adds the order, with any pending status merged
    /// in. For an order already in the book only its status can matter.
    pub fn add(&mut self, mut order: Order) -> Change {
        let created = StatusAt {
            status: order.status,
            at: order.created_at,
        };
        if self.orders.contains_key(order.order_id.as_str()) {
            return self.apply(&order.order_id, created);
        }
        let status = later(created, self.pending.remove(order.order_id.as_str()));
        show(&mut order, status);
        let position = self
            .oldest_first
            .partition_point(|id| by_age(&self.orders[id.as_str()], &order) == Ordering::Less);
        self.oldest_first.insert(position, order.order_id.clone());
        self.orders.insert(order.order_id.clone(), order);
        Change::Added
    }

    /// An update or a cancellation: moves the order's status if the rule
    /// says the candidate is newer; keeps it as pending for an unknown order.
    pub fn apply(&mut self, order_id: &str, candidate: StatusAt) -> Change {
        let Some(order) = self.orders.get_mut(order_id) else {
            let merged = later(candidate, self.pending.get(order_id).copied());
            self.pending.insert(order_id.to_owned(), merged);
            return Change::Pending;
        };
        if candidate.supersedes(status_of(order)) {
            show(order, candidate);
            Change::Moved
        } else {
            Change::Unchanged
        }
    }

    /// A snapshot: the book's orders become exactly these, but no order's
    /// status moves back because of it (what the book already knew, and
    /// pending statuses, win where the rule says they are newer).
    pub fn load(&mut self, snapshot: Vec<Order>) {
        let mut orders: HashMap<String, Order> = HashMap::with_capacity(snapshot.len());
        let mut ids: Vec<String> = Vec::with_capacity(snapshot.len());
        for mut order in snapshot {
            let id = &order.order_id;
            let mut status = later(status_of(&order), self.status(id));
            status = later(status, self.pending.remove(id.as_str()));
            match orders.get(id.as_str()) {
                Some(seen) => status = later(status, Some(status_of(seen))),
                None => ids.push(id.clone()),
            }
            show(&mut order, status);
            orders.insert(order.order_id.clone(), order);
        }
        // Snapshots and checkpoints list orders newest first: then this is
        // already the order, and checking it is cheaper than sorting.
        ids.reverse();
        let sorted = ids
            .windows(2)
            .all(|w| by_age(&orders[w[0].as_str()], &orders[w[1].as_str()]) == Ordering::Less);
        if !sorted {
            // Ids are unique, so the order is total and an unstable sort is
            // exact.
            sort_ids(&mut ids, &mut |a, b| {
                by_age(&orders[a.as_str()], &orders[b.as_str()])
            });
        }
        self.orders = orders;
        self.oldest_first = ids;
    }

    /// Removes an order (and any pending status for it).
    pub fn remove(&mut self, order_id: &str) -> Option<Order> {
        self.pending.remove(order_id);
        let order = self.orders.get(order_id)?;
        let position = self
            .oldest_first
            .partition_point(|id| by_age(&self.orders[id.as_str()], order) == Ordering::Less);
        self.oldest_first.remove(position);
        self.orders.remove(order_id)
    }

    /// The order as it shows now.
    pub fn get(&self, order_id: &str) -> Option<&Order> {
        self.orders.get(order_id)
    }

    /// An order's current status and its time.
    pub fn status(&self, order_id: &str) -> Option<StatusAt> {
        self.orders.get(order_id).map(status_of)
    }

    /// Every order, newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &Order> {
        self.oldest_first
            .iter()
            .rev()
            .map(|id| &self.orders[id.as_str()])
    }

    /// Every order id, newest first.
    pub fn ids_newest_first(&self) -> impl Iterator<Item = &String> {
        self.oldest_first.iter().rev()
    }

    pub fn contains(&self, order_id: &str) -> bool {
        self.orders.contains_key(order_id)
    }

    /// How many orders are in the book.
    pub fn len(&self) -> usize {
        self.orders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    /// The pending status of an order not in the book.
    pub fn pending(&self, order_id: &str) -> Option<StatusAt> {
        self.pending.get(order_id).copied()
    }

    /// How many orders have a pending status.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }
}

/// Sorts ids with a comparator behind `dyn`: the browser bundle then holds
/// one copy of the sort, whatever the comparators.
pub fn sort_ids(ids: &mut [String], compare: &mut dyn FnMut(&String, &String) -> Ordering) {
    ids.sort_unstable_by(|a, b| compare(a, b));
}

#[cfg(test)]
mod tests;

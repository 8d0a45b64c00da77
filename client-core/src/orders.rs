//! The orders the page shows: the one place that merges order events.
//!
//! [`Orders`] holds every known order, the ids newest first, the status of
//! each order and the event time it came from, and the updates still waiting
//! for their order. Its fields are private and only the reducer calls its
//! mutating methods, so these invariants hold by construction:
//!
//! - the newest-first list holds exactly the known orders' ids, once each,
//!   ordered by `createdAt` descending, then by id descending;
//! - every known order has a status, and the order shows that status (and
//!   its time as `updatedAt` whenever an event other than the order's own
//!   listing won);
//! - an id is either known or pending, never both;
//! - an order event changes its own order only: it adds that order to the
//!   list or leaves the list as it was. Only a snapshot ([`Orders::load`])
//!   removes or reorders orders.
//!
//! The rules (§1 of the contract, shared with the relay through
//! [`StatusAt::supersedes`]): the status with the latest event time wins; on
//! equal times the status further along in life wins; `cancelled` is final;
//! an update or cancellation for an order not known yet waits in `pending`
//! and is applied when the order arrives; a snapshot replaces the set of
//! orders but moves no order's status back in time.

use std::cmp::Ordering;
use std::collections::HashMap;

use protocol::{Order, OrderCancellation, OrderStatus, OrderUpdate, StatusAt};

use crate::sort::sort_strings;

/// Every known order and every update waiting for its order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Orders {
    /// Every known order, by id.
    by_id: HashMap<String, Order>,
    /// The ids of `by_id`, newest first.
    list: Vec<String>,
    /// The status of each known order and the event time it came from. This
    /// is what the §1 rule compares against; `Order::updated_at` is only
    /// shown.
    statuses: HashMap<String, StatusAt>,
    /// Updates and cancellations for orders not known yet (their
    /// `order:created` has not arrived), merged by the same rule.
    pending: HashMap<String, StatusAt>,
}

impl Orders {
    /// A known order.
    pub fn get(&self, id: &str) -> Option<&Order> {
        self.by_id.get(id)
    }

    /// Whether the order is known (its `order:created` or a snapshot with
    /// it has arrived).
    pub fn contains(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// A known order's status and the event time the rule compares against.
    pub fn status(&self, id: &str) -> Option<StatusAt> {
        self.statuses.get(id).copied()
    }

    /// The ids of the known orders, newest first.
    pub fn ids(&self) -> &[String] {
        &self.list
    }

    /// The known orders, newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &Order> {
        self.list.iter().filter_map(|id| self.by_id.get(id))
    }

    /// The known orders with their ids, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Order)> {
        self.by_id.iter()
    }

    /// How many orders are known.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// How many orders have updates waiting for their `order:created`.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// `order:created`. A re-sent one can only change the status, by the
    /// rule.
    pub(crate) fn created(&mut self, mut order: Order) {
        let id = order.order_id.clone();
        let incoming = StatusAt {
            status: order.status,
            at: order.created_at,
        };
        if self.by_id.contains_key(&id) {
            self.apply(&id, incoming);
            return;
        }
        let status = later(incoming, self.pending.remove(&id));
        if status != incoming {
            show_status(&mut order, status);
        }
        let position = self
            .list
            .partition_point(|other| newest_first(&self.by_id[other], &order) == Ordering::Less);
        self.list.insert(position, id.clone());
        self.statuses.insert(id.clone(), status);
        self.by_id.insert(id, order);
    }

    /// `order:updated`.
    pub(crate) fn updated(&mut self, update: &OrderUpdate) {
        let candidate = StatusAt {
            status: update.status,
            at: update.updated_at,
        };
        self.apply(&update.order_id, candidate);
    }

    /// `order:cancelled`.
    pub(crate) fn cancelled(&mut self, cancellation: &OrderCancellation) {
        let candidate = StatusAt {
            status: OrderStatus::Cancelled,
            at: cancellation.cancelled_at,
        };
        self.apply(&cancellation.order_id, candidate);
    }

    /// `orders:snapshot`: the snapshot's orders replace the known ones.
    /// What was already known about an order, from earlier events or a
    /// pending update, wins where the rule says it is newer; pending updates
    /// for orders the snapshot lacks wait on.
    pub(crate) fn load(&mut self, snapshot: Vec<Order>) {
        let mut by_id: HashMap<String, Order> = HashMap::with_capacity(snapshot.len());
        let mut statuses: HashMap<String, StatusAt> = HashMap::with_capacity(snapshot.len());
        for mut order in snapshot {
            let id = order.order_id.clone();
            let listed = StatusAt {
                status: order.status,
                at: order.updated_at,
            };
            let mut status = later(listed, self.statuses.get(&id).copied());
            status = later(status, self.pending.remove(&id));
            if let Some(seen) = statuses.get(&id) {
                status = later(status, Some(*seen));
            }
            if status != listed {
                show_status(&mut order, status);
            }
            statuses.insert(id.clone(), status);
            by_id.insert(id, order);
        }
        let mut list: Vec<String> = by_id.keys().cloned().collect();
        // Ids are unique, so the order is total and an unstable sort is exact.
        sort_strings(&mut list, &mut |a, b| newest_first(&by_id[a], &by_id[b]));
        self.by_id = by_id;
        self.statuses = statuses;
        self.list = list;
    }

    /// Applies a status to a known order, or keeps it for an order not
    /// known yet.
    fn apply(&mut self, order_id: &str, candidate: StatusAt) {
        match (
            self.by_id.get_mut(order_id),
            self.statuses.get_mut(order_id),
        ) {
            (Some(order), Some(current)) => {
                if candidate.supersedes(*current) {
                    *current = candidate;
                    show_status(order, candidate);
                }
            }
            _ => {
                let kept = self.pending.get(order_id).copied();
                let merged = match kept {
                    Some(kept) => later(kept, Some(candidate)),
                    None => candidate,
                };
                self.pending.insert(order_id.to_owned(), merged);
            }
        }
    }
}

/// Newest first: by `createdAt` descending, then by id descending, so the
/// list order is total and the same on every client.
fn newest_first(a: &Order, b: &Order) -> Ordering {
    (b.created_at, &b.order_id).cmp(&(a.created_at, &a.order_id))
}

/// The later of two statuses by the §1 rule.
fn later(current: StatusAt, candidate: Option<StatusAt>) -> StatusAt {
    match candidate {
        Some(candidate) if candidate.supersedes(current) => candidate,
        _ => current,
    }
}

/// Writes the winning status into the order the view shows. `updatedAt`
/// becomes the time of that status, so it too depends only on which event
/// won, never on the order events arrived in (a cancellation older than the
/// last update still wins, and then its time is shown).
fn show_status(order: &mut Order, status: StatusAt) {
    order.status = status.status;
    order.updated_at = status.at;
}

#[cfg(test)]
mod tests;

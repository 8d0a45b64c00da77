//! The orders the page shows: the browser's [`OrderBook`], the same type the
//! relay keeps its orders in, so one implementation merges order events on
//! both sides (§1.4 of docs/PROTOCOL.md).
//!
//! Its fields are private and only the reducer calls its mutating methods,
//! so these invariants hold by construction (the book's own):
//!
//! - the newest-first list holds exactly the known orders' ids, once each,
//!   ordered by `createdAt` descending, then by id descending;
//! - every known order shows its current status, and `updatedAt` is that
//!   status's event time, so a snapshot from the relay and the page judge
//!   the next event alike;
//! - an id is either known or pending, never both;
//! - an order event changes its own order only: it adds that order to the
//!   list or leaves the list as it was. Only a snapshot ([`Orders::load`])
//!   removes or reorders orders.

use protocol::book::OrderBook;
use protocol::{Order, OrderEvent, OrderStatus, StatusAt};

/// Every order this client knows, newest first, and the statuses waiting
/// for their order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Orders {
    book: OrderBook,
}

impl Orders {
    pub fn get(&self, id: &str) -> Option<&Order> {
        self.book.get(id)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.book.contains(id)
    }

    /// The order's current status and the event time it came from.
    pub fn status(&self, id: &str) -> Option<StatusAt> {
        self.book.status(id)
    }

    /// The known order ids, newest first.
    pub fn ids(&self) -> impl Iterator<Item = &String> {
        self.book.ids_newest_first()
    }

    /// The known orders, newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &Order> {
        self.book.newest_first()
    }

    pub fn len(&self) -> usize {
        self.book.len()
    }

    pub fn is_empty(&self) -> bool {
        self.book.is_empty()
    }

    /// How many orders have a status waiting for their `order:created`.
    pub fn pending_len(&self) -> usize {
        self.book.pending_len()
    }

    /// One order event: a created event adds its order (or completes a
    /// waiting status); any other is a status at a time, merged by the rule.
    pub(crate) fn apply(&mut self, event: OrderEvent) {
        let (order_id, candidate) = match event {
            OrderEvent::Created(order) => {
                self.book.add(order);
                return;
            }
            OrderEvent::Updated(update) => (
                update.order_id,
                StatusAt {
                    status: update.status,
                    at: update.updated_at,
                },
            ),
            OrderEvent::Cancelled(cancellation) => (
                cancellation.order_id,
                StatusAt {
                    status: OrderStatus::Cancelled,
                    at: cancellation.cancelled_at,
                },
            ),
        };
        self.book.apply(&order_id, candidate);
    }

    /// `orders:snapshot`: the set of orders becomes the snapshot's, but no
    /// order's status moves back in time because of it.
    pub(crate) fn load(&mut self, snapshot: Vec<Order>) {
        self.book.load(snapshot);
    }
}

#[cfg(test)]
mod tests;

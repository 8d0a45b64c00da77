//! The read model: every order the relay has seen, who owns it, and its
//! current status. Pure data; the hub owns one and feeds it events in
//! consumption order.
//!
//! Events can arrive in any order across the three topics (§1 of the
//! contract), so an order's record may start with an update or a cancel. Its
//! status moves only through [`StatusAt::supersedes`]; its owner is the first
//! buyer any of its events names.

use std::collections::{BTreeSet, HashMap};

use protocol::{Order, OrderEvent, OrderStatus, StatusAt, Timestamp};

use crate::cursor::Pos;

#[derive(Debug, Default)]
struct Record {
    /// The `order.created` payload, once seen.
    order: Option<Order>,
    buyer: Option<String>,
    status: Option<StatusAt>,
    /// Where the created event was consumed: from there on the order is in
    /// snapshots. Events before it may have reached nobody (a snapshot taken
    /// then does not show the order), so they are delivered again with it.
    visible_at: Option<Pos>,
    /// History sequence numbers of events consumed before the created event.
    early: Vec<u64>,
}

/// What routing needs to know after an event was applied.
#[derive(Debug, PartialEq, Eq)]
pub struct Applied {
    /// The buyer to deliver to, if known (admins always get it).
    pub buyer: Option<String>,
    /// Set when this event made the order visible (its created event): the
    /// events of this order consumed before it, to deliver again right after
    /// it (to admins and the buyer). Re-sending is harmless: applying an
    /// event twice changes nothing.
    pub released: Vec<u64>,
}

/// Current orders, their owners and statuses.
#[derive(Debug, Default)]
pub struct ReadModel {
    orders: HashMap<String, Record>,
    /// Orders with a created payload, newest first when iterated in reverse.
    by_time: BTreeSet<(Timestamp, String)>,
    by_buyer: HashMap<String, Vec<String>>,
}

impl ReadModel {
    /// Applies one event consumed at `pos` and stored in history as `seq`.
    /// Fills in the event's buyer when the model knows it.
    pub fn apply(&mut self, event: &mut OrderEvent, pos: Pos, seq: u64) -> Applied {
        let record = self.orders.entry(event.order_id().to_owned()).or_default();
        let mut released = Vec::new();
        match (event.buyer_id(), &record.buyer) {
            (Some(buyer), None) => {
                record.buyer = Some(buyer.to_owned());
                self.by_buyer
                    .entry(buyer.to_owned())
                    .or_default()
                    .push(event.order_id().to_owned());
            }
            (_, Some(known)) => event.set_buyer_id(known),
            (None, None) => {}
        }
        let candidate = StatusAt {
            status: event.status(),
            at: event.time(),
        };
        if record
            .status
            .is_none_or(|current| candidate.supersedes(current))
        {
            record.status = Some(candidate);
        }
        if let OrderEvent::Created(order) = event {
            // A repeated created event (a producer retry) changes nothing.
            if record.order.is_none() {
                self.by_time
                    .insert((order.created_at, order.order_id.clone()));
                record.order = Some(order.clone());
                record.visible_at = Some(pos);
                released = std::mem::take(&mut record.early);
            }
        } else if record.order.is_none() {
            record.early.push(seq);
        }
        Applied {
            buyer: record.buyer.clone(),
            released,
        }
    }

    pub fn owner(&self, order_id: &str) -> Option<&str> {
        self.orders.get(order_id)?.buyer.as_deref()
    }

    /// Where the order's created event was consumed, if it was.
    pub fn visible_at(&self, order_id: &str) -> Option<Pos> {
        self.orders.get(order_id)?.visible_at
    }

    /// The current status, if any event of the order was seen.
    pub fn status(&self, order_id: &str) -> Option<OrderStatus> {
        Some(self.orders.get(order_id)?.status?.status)
    }

    /// The order as users see it now, once its created event was seen.
    pub fn order(&self, order_id: &str) -> Option<Order> {
        let record = self.orders.get(order_id)?;
        let mut order = record.order.clone()?;
        if let Some(current) = record.status {
            order.status = current.status;
            order.updated_at = order.updated_at.max(current.at);
        }
        Some(order)
    }

    /// One buyer's orders, newest first.
    pub fn orders_of(&self, buyer: &str) -> Vec<Order> {
        let mut orders: Vec<Order> = self
            .by_buyer
            .get(buyer)
            .into_iter()
            .flatten()
            .filter_map(|id| self.order(id))
            .collect();
        orders.sort_by(|a, b| (b.created_at, &b.order_id).cmp(&(a.created_at, &a.order_id)));
        orders
    }

    /// Everyone's orders, newest first, at most `limit`.
    pub fn all_orders(&self, limit: usize) -> Vec<Order> {
        self.by_time
            .iter()
            .rev()
            .take(limit)
            .filter_map(|(_, id)| self.order(id))
            .collect()
    }

    /// How many orders have been created.
    pub fn len(&self) -> usize {
        self.by_time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_time.is_empty()
    }
}

#[cfg(test)]
mod tests;

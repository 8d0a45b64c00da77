//! The read model: every order the relay has seen, who owns it, and its
//! current status. Pure data; the hub owns one and feeds it events in
//! consumption order.
//!
//! Events can arrive in any order across the three topics (§1 of the
//! contract), so an order's record may start with an update or a cancel.
//! The rules a faulty or hostile producer cannot break (§1.5 of
//! docs/PROTOCOL.md):
//!
//! - **Ownership is decided once, by the order's `order.created`.** An event
//!   consumed before it is held ("early"): it reaches admins now only if it
//!   names no buyer, and the buyer only once the created event confirms them.
//!   An event that names another buyer than the owner is refused, and so is
//!   a second `order.created` with another buyer or other contents.
//! - **Event times are bounded**: an event dated after `latest` (the caller's
//!   clock plus the allowed skew) is refused, so one bad date cannot freeze
//!   an order.
//! - A status moves only through the order book ([`OrderBook`], shared with
//!   the browser's reducer): one merge rule, one implementation.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use protocol::book::OrderBook;
use protocol::{Order, OrderEvent, StatusAt, Timestamp};

use crate::core::viewer::Viewer;
use evicted::{EvictedIds, Known};

/// Why the model refused an event. Each variant is one `reason` label of
/// `relay_kafka_messages_rejected_total`, beside the decoder's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::EnumDiscriminants)]
#[strum_discriminants(
    name(RefusedReason),
    doc = "Why the read model refused an event, as a label (`Refused::reason`).",
    derive(strum::VariantArray, strum::IntoStaticStr, Hash),
    strum(serialize_all = "snake_case")
)]
pub enum Refused {
    #[error("names buyer `{named}`, but the order belongs to `{owner}`")]
    BuyerMismatch { owner: String, named: String },
    #[error("a second order.created for this order id with another buyer or other contents")]
    ConflictingCreated,
    #[error("the same order.created again (a producer retry): already applied")]
    DuplicateCreated,
    #[error("dated {at}, after the latest time allowed ({latest}): check the producer's clock")]
    FutureTime { at: Timestamp, latest: Timestamp },
}

impl Refused {
    /// The stable `reason` label used in logs and `/metrics`.
    pub fn reason(&self) -> &'static str {
        RefusedReason::from(self).into()
    }
}

/// The history sequence number of a waiting status restored from a
/// checkpoint: it has no history entry.
const RESTORED: u64 = u64::MAX;

/// An event consumed before its order's created event.
#[derive(Debug)]
struct Early {
    seq: u64,
    /// The buyer the event names, unconfirmed.
    named: Option<String>,
    status: StatusAt,
}

/// An order not created yet: the events consumed before its created event,
/// in consumption order. Gone once the created event comes (memory per
/// order stays the book's), or after the keep time if it never comes.
#[derive(Debug)]
struct Record {
    /// When the relay held the first of them, by its own clock.
    since: Timestamp,
    early: Vec<Early>,
}

/// Who an applied event goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Admins and the order's owner.
    Owner(String),
    /// Admins only: the event names no buyer and the order has no owner yet
    /// (unroutable, §1 of the contract).
    Admins,
    /// Nobody yet: an early event that names a buyer waits for the created
    /// event to confirm them.
    Held,
}

/// What routing needs to know after an event was applied.
#[derive(Debug, PartialEq, Eq)]
pub struct Applied {
    pub route: Route,
    /// Set when this event made the order visible (its created event): the
    /// history sequence numbers of the early events it confirmed, to deliver
    /// right before it (to admins and the owner). Re-sending is harmless:
    /// applying an event twice changes nothing.
    pub released: Vec<u64>,
    /// Early statuses the created event confirmed that came from a
    /// checkpoint: they have no history entry (their event was consumed
    /// before the relay restarted), so the caller delivers them as status
    /// events of their own, before the `released` ones.
    pub restored: Vec<StatusAt>,
    /// Early events the created event showed to name another buyer: refused
    /// now, delivered to nobody, for the caller to log and count.
    pub refused: Vec<(u64, Refused)>,
}

/// Two `order.created` for one id are the same order when everything but
/// their times and status agrees (a retried checkout is stamped anew).
pub fn same_order(a: &Order, b: &Order) -> bool {
    a.buyer_id == b.buyer_id
        && a.items == b.items
        && a.subtotal == b.subtotal
        && a.tax == b.tax
        && a.total == b.total
        && a.shipping_address == b.shipping_address
}

/// Current orders, their owners and statuses.
#[derive(Debug, Default)]
pub struct ReadModel {
    /// The orders whose created event was seen, with their current status:
    /// the same book, and so the same merge rule, as the browser's.
    book: OrderBook,
    records: HashMap<String, Record>,
    by_buyer: HashMap<String, Vec<String>>,
    /// Finished orders with when the relay saw them finish (by its own
    /// clock), in that order: the front is evicted first.
    finished: VecDeque<(Timestamp, String)>,
    /// The keys of `records` by age: when each record started, and its
    /// order. A record whose created event never comes (a late event for an
    /// evicted order, or a producer's mistake) expires like a finished
    /// order, so held events cannot pile up.
    waiting: BTreeSet<(Timestamp, String)>,
    /// Evicted orders' ids and owners, so eviction never frees an id for
    /// another buyer or for a second life.
    evicted: EvictedIds,
}

/// How long evicted ids are remembered: from `now`, for `keep_ms`.
#[derive(Debug, Clone, Copy)]
pub struct KeepIds {
    pub now: Timestamp,
    pub keep_ms: i64,
}

/// What one eviction pass removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Evicted {
    /// Finished orders past their keep time.
    pub orders: Vec<String>,
    /// Orders never created within the keep time, whose held events expired.
    pub waiting: Vec<String>,
    /// How many held events those were.
    pub held_events: usize,
}

impl ReadModel {
    /// Applies one consumed event, to be stored in history as `seq` if it is
    /// accepted. `latest` is the latest event time accepted; `now` is the
    /// relay's clock (a held event's keep time starts then). Fills in the
    /// event's buyer when the model knows it. A refused event changes
    /// nothing.
    pub fn apply(
        &mut self,
        event: &mut OrderEvent,
        seq: u64,
        latest: Timestamp,
        now: Timestamp,
    ) -> Result<Applied, Refused> {
        let candidate = StatusAt {
            status: event.status(),
            at: event.time(),
        };
        if candidate.at > latest {
            return Err(Refused::FutureTime {
                at: candidate.at,
                latest,
            });
        }
        let order_id = event.order_id().to_owned();
        if let OrderEvent::Created(order) = event {
            if let Some(existing) = self.book.get(&order_id) {
                return Err(if same_order(existing, order) {
                    Refused::DuplicateCreated
                } else {
                    Refused::ConflictingCreated
                });
            }
            match self.evicted.known(&order_id, &order.buyer_id) {
                Some(Known::SameOwner) => return Err(Refused::DuplicateCreated),
                Some(Known::OtherOwner) => return Err(Refused::ConflictingCreated),
                None => {}
            }
            return Ok(self.create(order.clone()));
        }
        let named = event.buyer_id().map(str::to_owned);
        let Some(owner) = self.owner(&order_id).map(str::to_owned) else {
            let route = if named.is_some() {
                Route::Held
            } else {
                Route::Admins
            };
            let record = self.records.entry(order_id).or_insert_with_key(|order_id| {
                self.waiting.insert((now, order_id.clone()));
                Record {
                    since: now,
                    early: Vec::new(),
                }
            });
            record.early.push(Early {
                seq,
                named,
                status: candidate,
            });
            return Ok(Applied {
                route,
                released: Vec::new(),
                restored: Vec::new(),
                refused: Vec::new(),
            });
        };
        if let Some(named) = named.filter(|named| *named != owner) {
            return Err(Refused::BuyerMismatch { owner, named });
        }
        event.set_buyer_id(&owner);
        self.book.apply(&order_id, candidate);
        Ok(Applied {
            route: Route::Owner(owner),
            released: Vec::new(),
            restored: Vec::new(),
            refused: Vec::new(),
        })
    }

    /// An order's created event: the order enters the book with the early
    /// events that name its owner (or no one); those naming another buyer
    /// are refused now.
    fn create(&mut self, order: Order) -> Applied {
        let owner = order.buyer_id.clone();
        let order_id = order.order_id.clone();
        let early = match self.records.remove(&order_id) {
            Some(record) => {
                self.waiting.remove(&(record.since, order_id.clone()));
                record.early
            }
            None => Vec::new(),
        };
        let mut released = Vec::new();
        let mut restored = Vec::new();
        let mut refused = Vec::new();
        let mut confirmed = Vec::new();
        for early in early {
            match early.named {
                Some(named) if named != owner => refused.push((
                    early.seq,
                    Refused::BuyerMismatch {
                        owner: owner.clone(),
                        named,
                    },
                )),
                _ => {
                    confirmed.push(early.status);
                    if early.seq == RESTORED {
                        restored.push(early.status);
                    } else {
                        released.push(early.seq);
                    }
                }
            }
        }
        self.book.add(order);
        for status in confirmed {
            self.book.apply(&order_id, status);
        }
        self.by_buyer
            .entry(owner.clone())
            .or_default()
            .push(order_id);
        Applied {
            route: Route::Owner(owner),
            released,
            restored,
            refused,
        }
    }

    /// Whether the order is finished (delivered or cancelled): from then on
    /// it stays finished (both are final by the status rule).
    pub fn is_finished(&self, order_id: &str) -> bool {
        self.book
            .get(order_id)
            .is_some_and(|order| order.status.next().is_none())
    }

    /// Notes that an order which was not finished before an event may be
    /// now: if so, it counts down to its eviction from `now` on.
    pub fn note_finished(&mut self, order_id: &str, now: Timestamp) {
        if self.is_finished(order_id) {
            self.finished.push_back((now, order_id.to_owned()));
        }
    }

    /// Evicts the orders that finished at or before `before`: they leave
    /// the book, their owner's list and every lookup. Also drops the held
    /// events of orders not created since `before`, and of the oldest
    /// waiting orders beyond `max_waiting`.
    /// Evicted orders' ids are remembered from `now` until `ids.forget`.
    pub fn evict(&mut self, before: Timestamp, max_waiting: usize, ids: KeepIds) -> Evicted {
        let mut evicted = Evicted::default();
        while let Some((since, _)) = self.waiting.first() {
            if *since > before && self.waiting.len() <= max_waiting {
                break;
            }
            let Some((_, order_id)) = self.waiting.pop_first() else {
                break;
            };
            if let Some(record) = self.records.remove(&order_id) {
                evicted.held_events += record.early.len();
                evicted.waiting.push(order_id);
            }
        }
        let mut buyers = HashSet::new();
        while self.finished.front().is_some_and(|(at, _)| *at <= before) {
            let Some((_, order_id)) = self.finished.pop_front() else {
                break;
            };
            if let Some(order) = self.book.remove(&order_id) {
                self.evicted
                    .insert(&order_id, &order.buyer_id, ids.now, ids.keep_ms);
                buyers.insert(order.buyer_id);
            }
            evicted.orders.push(order_id);
        }
        self.evicted
            .forget_before(Timestamp(ids.now.0.saturating_sub(ids.keep_ms)));
        // Each buyer's list once per call, not once per order.
        for buyer in buyers {
            if let Some(ids) = self.by_buyer.get_mut(&buyer) {
                ids.retain(|id| self.book.contains(id));
                if ids.is_empty() {
                    self.by_buyer.remove(&buyer);
                }
            }
        }
        evicted
    }

    /// The order's owner: the buyer of its `order.created`, once seen.
    pub fn owner(&self, order_id: &str) -> Option<&str> {
        Some(&self.book.get(order_id)?.buyer_id)
    }

    /// Whether `viewer` may ever see this history entry: an event naming a
    /// buyer other than the owner (or naming one before the owner is known)
    /// reaches nobody; anything else reaches admins, and the owner once known.
    pub fn may_see(&self, event: &OrderEvent, viewer: Viewer<'_>) -> bool {
        let owner = self.owner(event.order_id());
        let named_ok = match event.buyer_id() {
            None => true,
            Some(named) => owner == Some(named),
        };
        named_ok && viewer.sees(owner)
    }

    /// The current status of an order whose created event was seen.
    #[cfg(test)]
    pub fn status(&self, order_id: &str) -> Option<protocol::OrderStatus> {
        Some(self.book.get(order_id)?.status)
    }

    /// The order as users see it now (its `updatedAt` is the time of its
    /// current status), once its created event was seen.
    pub fn order(&self, order_id: &str) -> Option<Order> {
        self.book.get(order_id).cloned()
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
        self.book.newest_first().take(limit).cloned().collect()
    }

    /// How many orders have been created.
    pub fn len(&self) -> usize {
        self.book.len()
    }
}

mod evicted;
mod saved;
#[cfg(test)]
mod tests;

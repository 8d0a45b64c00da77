//! The relay's state as plain data: the read model, the history and the
//! relay's Kafka position, with the two questions the hub asks of them.
//!
//! - [`RelayState::apply`]: one consumed event in; who it goes to and the
//!   frames to send out ([`Fanout`]), or why it was refused.
//! - [`RelayState::answer`]: a `subscribe:orders` in; a replay from the
//!   client's cursor when one is known and complete, else a snapshot.
//!
//! No lock, no clock, no metrics: the hub holds this behind its lock and
//! does the counting and the delivery.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use protocol::frames::{live_order_frame, order_frame, snapshot_frames, OrdersSnapshot};
use protocol::{
    Order, OrderCancellation, OrderEvent, OrderStatus, OrderUpdate, StatusAt, Timestamp,
};

use crate::core::cursor::{Cursor, PartitionId, Pos};
use crate::core::delivery::{Collapse, Delivery, Frame, Frames};
use crate::core::history::History;
use crate::core::model::{Evicted, KeepIds, ReadModel, Refused, Route};
use crate::core::viewer::{User, Viewer};

/// The most order bytes in one `orders:snapshot` frame: a bigger snapshot
/// goes in parts (§3.2 of docs/PROTOCOL.md), so any snapshot fits the
/// socket's write buffer, however big its orders and however many.
pub const SNAPSHOT_PART_BYTES: usize = 1024 * 1024;

/// How a `subscribe:orders` was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscribed {
    Replayed(usize),
    Snapshot,
    /// The relay is still loading its read model, or has not reached the
    /// client's cursor: the answer comes through the connection's queue
    /// later (see `Hub::set_ready`).
    Deferred,
}

/// An event the read model refused, with where it was consumed.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub pos: Pos,
    pub order_id: String,
    pub refused: Refused,
}

/// Where an applied event goes, and what is sent.
#[derive(Debug, Clone)]
pub struct Fanout {
    pub order_id: String,
    /// The order's owner; `None`: admins only (unroutable, §1.6).
    pub buyer: Option<String>,
    pub delivery: Delivery,
}

/// What applying one consumed event did.
#[derive(Debug, Default)]
pub struct Step {
    /// Refused events: this one, or early ones its created event refused.
    pub refused: Vec<Refusal>,
    /// `None`: nothing to deliver (refused, held, or already applied).
    pub fanout: Option<Fanout>,
}

/// What the relay keeps in memory, and for how long: the
/// `--history-limit`, `--keep-finished-secs` and `--max-waiting-orders`
/// settings.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Order events kept for resume by cursor.
    pub history: usize,
    /// How long a finished order stays after it finished, and events held
    /// for an order not created yet after they were held.
    pub keep_finished: Duration,
    /// Most orders not created yet with events held for them; beyond it the
    /// oldest are dropped.
    pub max_waiting_orders: usize,
    /// How long an evicted order's id keeps its owner: as long as its
    /// events can be read again (the order topics' retention).
    pub keep_evicted_ids: Duration,
}

impl Retention {
    /// `history` events and finished orders for `keep_finished`, with no
    /// cap on waiting orders.
    pub fn new(history: usize, keep_finished: Duration) -> Retention {
        Retention {
            history,
            keep_finished,
            max_waiting_orders: usize::MAX,
            keep_evicted_ids: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

#[derive(Debug)]
pub struct RelayState {
    model: ReadModel,
    history: History,
    position: Cursor,
    /// Set the first time the consumer catches up, and never unset: from
    /// then on the read model is complete up to `position`, even while the
    /// broker is unreachable, and subscribers are answered from it at once.
    loaded: bool,
    /// How long a finished order stays after it finished, in ms.
    keep_finished_ms: i64,
    max_waiting_orders: usize,
    /// How long an evicted order's id keeps its owner, in ms.
    keep_evicted_ids_ms: i64,
}

impl RelayState {
    pub fn new(retention: Retention) -> RelayState {
        RelayState {
            model: ReadModel::default(),
            history: History::new(retention.history),
            position: Cursor::default(),
            loaded: false,
            keep_finished_ms: i64::try_from(retention.keep_finished.as_millis())
                .unwrap_or(i64::MAX),
            max_waiting_orders: retention.max_waiting_orders,
            keep_evicted_ids_ms: i64::try_from(retention.keep_evicted_ids.as_millis())
                .unwrap_or(i64::MAX),
        }
    }

    /// Evicts the orders that finished more than the keep time before
    /// `now`, and the held events of orders not created within it (or
    /// beyond the cap on waiting orders), with their history entries (a
    /// cursor that would need one gets a snapshot).
    pub fn evict(&mut self, now: Timestamp) -> Evicted {
        let before = Timestamp(now.0.saturating_sub(self.keep_finished_ms));
        let keep = KeepIds {
            now,
            keep_ms: self.keep_evicted_ids_ms,
        };
        let evicted = self.model.evict(before, self.max_waiting_orders, keep);
        let ids: HashSet<&str> = evicted
            .orders
            .iter()
            .chain(&evicted.waiting)
            .map(String::as_str)
            .collect();
        self.history.forget_orders(&ids);
        evicted
    }

    pub fn is_loaded(&self) -> bool {
        self.loaded
    }

    /// Marks the read model loaded; `true` the first time.
    pub fn set_loaded(&mut self) -> bool {
        !std::mem::replace(&mut self.loaded, true)
    }

    pub fn position(&self) -> &Cursor {
        &self.position
    }

    /// How many orders and history entries are kept (the gauges).
    pub fn sizes(&self) -> (usize, usize) {
        (self.model.len(), self.history.len())
    }

    /// Whether a client's cursor is ahead of this relay's position.
    pub fn is_ahead(&self, cursor: Option<&Cursor>) -> bool {
        cursor.is_some_and(|c| c.is_ahead_of(&self.position))
    }

    /// Where each partition's log starts in Kafka (its low watermark): older
    /// cursors get a snapshot, never a partial replay. A partition that
    /// retention has emptied has nothing to consume: the position starts at
    /// its log start, or the relay would never catch up.
    pub fn log_starts(&mut self, starts: &[(PartitionId, i64)]) {
        for (part, first) in starts {
            self.history.log_starts_at(*part, *first);
            if *first > 0 && self.position.next(*part) < *first {
                self.position.advance(Pos {
                    part: *part,
                    offset: first - 1,
                });
            }
        }
    }

    /// A message consumed without producing an event (a rejected message):
    /// the position still moves past it.
    pub fn skip(&mut self, pos: Pos) {
        self.position.advance(pos);
    }

    /// Applies one consumed order event. `latest` is the latest event time
    /// accepted (see [`ReadModel::apply`]). A position already passed is
    /// ignored: a replacement consumer starts where its predecessor stopped,
    /// and this makes "applied once" hold even if they overlapped.
    /// `now` is the relay's clock: a finished order's keep time starts then.
    pub fn apply(
        &mut self,
        mut event: OrderEvent,
        pos: Pos,
        latest: Timestamp,
        now: Timestamp,
    ) -> Step {
        if self.position.covers(pos) {
            return Step::default();
        }
        let seq = self.history.next_seq();
        let was_finished = self.model.is_finished(event.order_id());
        let applied = match self.model.apply(&mut event, seq, latest, now) {
            Ok(applied) => applied,
            Err(refused) => {
                self.position.advance(pos);
                let order_id = event.order_id().to_owned();
                return Step {
                    refused: vec![Refusal {
                        pos,
                        order_id,
                        refused,
                    }],
                    fanout: None,
                };
            }
        };
        if !was_finished {
            self.model.note_finished(event.order_id(), now);
        }
        let refused = applied
            .refused
            .into_iter()
            .filter_map(|(seq, refused)| {
                let entry = self.history.get(seq)?;
                let order_id = entry.event.order_id().to_owned();
                Some(Refusal {
                    pos: entry.pos,
                    order_id,
                    refused,
                })
            })
            .collect();
        // Released events carry the cursor from before this event: a client
        // that gets them but not the created event after them must still be
        // owed both on resume.
        let releases = !applied.released.is_empty() || !applied.restored.is_empty();
        let before = releases.then(|| self.position.to_string());
        self.position.advance(pos);
        // Early statuses restored from a checkpoint have no history entry
        // (their events were consumed before the relay restarted): each
        // gets one now, as a status event of its own, placed just before the
        // created event with a position the cursor from before it covers, so
        // a live delivery and a later replay both carry it.
        let owner = match &applied.route {
            Route::Owner(buyer) => Some(buyer.as_str()),
            _ => None,
        };
        let mut released = Vec::with_capacity(applied.restored.len() + applied.released.len());
        for status in &applied.restored {
            let earlier = status_event(event.order_id(), owner, *status);
            released.push(self.history.push(just_before(pos), Arc::new(earlier)));
        }
        released.extend(&applied.released);
        let event = Arc::new(event);
        self.history.push(pos, Arc::clone(&event));
        let buyer = match applied.route {
            Route::Held => {
                return Step {
                    refused,
                    fanout: None,
                }
            }
            Route::Admins => None,
            Route::Owner(buyer) => Some(buyer),
        };
        let cursor = self.position.to_string();
        // Stamped with the relay's clock: browsers time their delivery from it.
        let sent_at = Some(now.millis());
        let frame = Frame::from(live_order_frame(&event, &cursor, sent_at));
        let delivery = if !releases {
            let collapse = match &*event {
                OrderEvent::Created(_) => None,
                _ => Some(Collapse {
                    order_id: Arc::from(event.order_id()),
                    status: StatusAt {
                        status: event.status(),
                        at: event.time(),
                    },
                }),
            };
            Delivery {
                frames: Frames::One(frame),
                collapse,
                read_at: None,
            }
        } else {
            // Events consumed before this order's created event, delivered
            // again now that the order is visible (see
            // `model::Applied::released`), in one batch *before* the created
            // event: its cursor is the one that marks them as received.
            let mut batch: Vec<Frame> = released
                .iter()
                .filter_map(|seq| self.history.get(*seq))
                .map(|entry| (*entry.event).clone())
                .map(|mut earlier| {
                    if let Some(buyer) = &buyer {
                        earlier.set_buyer_id(buyer);
                    }
                    let cursor = before.as_deref().unwrap_or(&cursor);
                    Frame::from(live_order_frame(&earlier, cursor, sent_at))
                })
                .collect();
            batch.push(frame);
            Delivery {
                frames: Frames::Batch(batch),
                collapse: None,
                read_at: None,
            }
        };
        let order_id = event.order_id().to_owned();
        Step {
            refused,
            fanout: Some(Fanout {
                order_id,
                buyer,
                delivery,
            }),
        }
    }

    /// The first frames of a subscription: a replay from `cursor` when it is
    /// known and complete, else a snapshot (in parts when big).
    pub fn answer(
        &self,
        user: &User,
        cursor: Option<&Cursor>,
        snapshot_limit: usize,
    ) -> (Frames, Subscribed) {
        let viewer = user.viewer();
        let from = cursor.filter(|c| !c.is_ahead_of(&self.position));
        if let Some(entries) = from.and_then(|from| self.history.replay(from, viewer, &self.model))
        {
            let frames: Vec<Frame> = entries
                .into_iter()
                .map(|(entry, cursor)| {
                    let mut event = (*entry.event).clone();
                    if let Some(owner) = self.model.owner(event.order_id()) {
                        event.set_buyer_id(owner);
                    }
                    Frame::from(order_frame(&event, &cursor.to_string()))
                })
                .collect();
            let count = frames.len();
            return (Frames::Batch(frames), Subscribed::Replayed(count));
        }
        let snapshot = self.snapshot(user, snapshot_limit);
        let frames = snapshot_frames(&snapshot.orders, &snapshot.cursor, SNAPSHOT_PART_BYTES)
            .into_iter()
            .map(Frame::from)
            .collect();
        (Frames::Batch(frames), Subscribed::Snapshot)
    }

    /// The current state `user` may see: every order for an admin (at most
    /// `limit`, newest first), their own for a user.
    pub fn snapshot(&self, user: &User, limit: usize) -> OrdersSnapshot {
        let viewer = user.viewer();
        let orders = match viewer {
            Viewer::Admin => self.model.all_orders(limit),
            // The per-buyer list is an index on the rule; the rule decides.
            Viewer::Buyer(buyer) => self.model.orders_of(buyer),
        }
        .into_iter()
        .filter(|order| viewer.sees(Some(&order.buyer_id)))
        .collect();
        OrdersSnapshot::new(orders, self.position.to_string())
    }

    /// An order as `user` may see it: `None` for unknown orders and for
    /// other users' orders alike, so existence is not revealed.
    pub fn order_for(&self, user: &User, order_id: &str) -> Option<Order> {
        let order = self.model.order(order_id)?;
        user.viewer().sees(Some(&order.buyer_id)).then_some(order)
    }
}

mod saved;
#[cfg(test)]
mod tests;

pub use saved::{LogEnds, RefusedCheckpoint, RefusedCheckpointReason, Saved};

/// A position before `pos` in its partition: covered by any cursor that
/// does not cover `pos` yet.
fn just_before(pos: Pos) -> Pos {
    Pos {
        part: pos.part,
        offset: pos.offset - 1,
    }
}

/// An order event that says only `status` at its time: an early status the
/// checkpoint kept without its event.
fn status_event(order_id: &str, buyer: Option<&str>, status: StatusAt) -> OrderEvent {
    let buyer_id = buyer.map(str::to_owned);
    if status.status == OrderStatus::Cancelled {
        OrderEvent::Cancelled(OrderCancellation {
            order_id: order_id.to_owned(),
            buyer_id,
            reason: None,
            cancelled_at: status.at,
        })
    } else {
        OrderEvent::Updated(OrderUpdate {
            order_id: order_id.to_owned(),
            buyer_id,
            status: status.status,
            previous_status: None,
            updated_at: status.at,
            message: None,
        })
    }
}

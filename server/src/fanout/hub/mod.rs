//! The hub: the one place where consumed events meet connections. A thin
//! shell: the state is [`RelayState`] (read model, history, position), the
//! connections are a [`Registry`], waiting subscriptions a [`Parking`]; the
//! hub holds the three behind one lock, keeps readiness in a watch channel,
//! and counts and logs what they report.
//!
//! Applying an event and registering a subscriber both happen under that
//! lock, so a subscriber's snapshot (or replay) and its live stream join
//! with no gap and no overlap.
//!
//! Routing rule: an order event goes to every admin connection and to the
//! connections of the order's buyer; a notification goes to its user only.
//! Nothing else decides who sees what.
//!
//! Delivery never blocks: each connection has a bounded [`Queue`]. When it is
//! full, superseded status events collapse; when nothing collapses, the
//! connection is dropped from the registry, its task drains what was queued
//! and closes with 4002 (resync), and the client resumes from its last cursor.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use protocol::frames::{notification_frame, OrdersSnapshot};
use protocol::{Notification, Order, OrderEvent, Timestamp};
use tokio::sync::watch;

use crate::core::cursor::{Cursor, PartitionId, Pos};
use crate::core::delivery::{Frame, Frames};
use crate::core::model::RefusedReason;
use crate::core::parking::Parking;
pub use crate::core::relay_state::Subscribed;
use crate::core::relay_state::{Refusal, RelayState, Retention, Saved, Step};
use crate::core::viewer::User;
use crate::fanout::queue::Queue;
use crate::fanout::registry::Registry;
use crate::metrics::{Metrics, Rejected, Resume};

#[derive(Debug)]
struct Core {
    state: RelayState,
    registry: Registry,
    parking: Parking,
}

/// Shared by the consumer, the WebSocket handlers and the HTTP API.
pub struct Hub {
    core: Mutex<Core>,
    metrics: Arc<Metrics>,
    queue: usize,
    snapshot_limit: usize,
    next_conn: AtomicU64,
    ready: watch::Sender<bool>,
}

impl Hub {
    pub fn new(
        metrics: Arc<Metrics>,
        retention: Retention,
        queue: usize,
        snapshot_limit: usize,
    ) -> Hub {
        Hub {
            core: Mutex::new(Core {
                state: RelayState::new(retention),
                registry: Registry::default(),
                parking: Parking::default(),
            }),
            metrics,
            queue: queue.max(1),
            snapshot_limit,
            next_conn: AtomicU64::new(1),
            ready: watch::Sender::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Core> {
        // A panic while holding the lock cannot leave the core half-updated in
        // a way later events could not repair, so keep serving.
        self.core
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Readiness: true while the consumer is caught up with Kafka. The first
    /// time, the read model counts as loaded and parked subscriptions are
    /// answered. Called after every lag check, so it also answers parked
    /// subscriptions that have waited too long.
    pub fn set_ready(&self, ready: bool) {
        {
            let mut guard = self.lock();
            let core = &mut *guard;
            if ready && core.state.set_loaded() {
                // The wait for a cursor starts now, not before the load.
                core.parking.restart_clocks(Instant::now());
            }
            self.evict(core);
            self.unpark(core);
        }
        self.metrics.ready.set(i64::from(ready));
        self.ready
            .send_if_modified(|current| std::mem::replace(current, ready) != ready);
    }

    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// True once the read model has been loaded (the consumer caught up at
    /// least once): snapshots are complete up to the relay's position, even
    /// while the broker is unreachable.
    pub fn is_loaded(&self) -> bool {
        self.lock().state.is_loaded()
    }

    /// Resolves once the relay is ready (immediately if it is).
    pub async fn wait_ready(&self) {
        let mut rx = self.ready.subscribe();
        // The sender lives in `self`, so this cannot fail while we borrow it.
        let _ = rx.wait_for(|ready| *ready).await;
    }

    /// Adds a connection; it receives notifications at once and order events
    /// after [`Hub::subscribe`].
    pub fn register(&self, user: &User) -> (u64, Arc<Queue>) {
        let id = self.next_conn.fetch_add(1, Relaxed);
        let queue = Arc::new(Queue::new(self.queue));
        self.lock().registry.add(user, id, Arc::clone(&queue));
        (id, queue)
    }

    pub fn unregister(&self, user: &User, id: u64) {
        let mut core = self.lock();
        core.parking.forget(id);
        core.registry.remove(user, id);
    }

    /// Answers `subscribe:orders`: a replay from `cursor` when it is known and
    /// complete, else a snapshot; then live events. Before the initial load
    /// (or while the relay is behind the cursor) the subscription is parked
    /// and answered later: the connection keeps its pings and expiry
    /// meanwhile. Returns `None` when the connection is gone.
    pub fn subscribe(&self, user: &User, id: u64, cursor: Option<Cursor>) -> Option<Subscribed> {
        let mut guard = self.lock();
        let core = &mut *guard;
        if !core.state.is_loaded() || core.state.is_ahead(cursor.as_ref()) {
            core.registry.pause(user, id);
            core.parking.park(user, id, cursor, Instant::now());
            return Some(Subscribed::Deferred);
        }
        core.parking.forget(id);
        self.answer(core, user, id, cursor.as_ref())
    }

    fn answer(
        &self,
        core: &mut Core,
        user: &User,
        id: u64,
        cursor: Option<&Cursor>,
    ) -> Option<Subscribed> {
        let (frames, answer) = core.state.answer(user, cursor, self.snapshot_limit);
        match answer {
            Subscribed::Replayed(events) => {
                self.metrics.resume(Resume::Replay);
                self.metrics.replayed_events.inc_by(events as u64);
            }
            _ => self.metrics.resume(Resume::Snapshot),
        }
        let pushes = core.registry.subscribe(user, id, frames)?;
        self.metrics.pushed(&pushes);
        (pushes.overflowed == 0).then_some(answer)
    }

    /// Answers the parked subscriptions that can be answered now.
    fn unpark(&self, core: &mut Core) {
        if !core.state.is_loaded() {
            return;
        }
        for parked in core.parking.due(core.state.position(), Instant::now()) {
            let answer = self.answer(core, &parked.user, parked.conn, parked.cursor.as_ref());
            tracing::debug!(user = ?parked.user.id, conn = parked.conn, ?answer, "subscribed to orders after waiting for the relay to catch up");
        }
    }

    /// The current state for `GET /api/orders`.
    pub fn snapshot(&self, user: &User) -> OrdersSnapshot {
        self.lock().state.snapshot(user, self.snapshot_limit)
    }

    /// An order as `user` may see it: `None` for unknown orders and for
    /// other users' orders alike, so existence is not revealed.
    pub fn order_for(&self, user: &User, order_id: &str) -> Option<Order> {
        self.lock().state.order_for(user, order_id)
    }

    /// How far the relay has read the order topics.
    pub fn position(&self) -> Cursor {
        self.lock().state.position().clone()
    }

    /// Where each partition's log starts in Kafka (see
    /// [`RelayState::log_starts`]).
    pub fn log_starts(&self, starts: &[(PartitionId, i64)]) {
        self.lock().state.log_starts(starts);
    }

    /// A copy of the state for a checkpoint. (Copied under the lock;
    /// encoding happens outside it.)
    pub fn save(&self) -> Saved {
        self.lock().state.save()
    }

    /// Starts from a checkpoint (before the consumer starts).
    pub fn restore(&self, saved: Saved) {
        let mut guard = self.lock();
        guard.state.restore(saved);
        self.evict(&mut guard);
    }

    /// Records that a message was consumed without producing an event (a
    /// rejected message): the position still moves past it.
    pub fn skip(&self, pos: Pos) {
        let mut guard = self.lock();
        guard.state.skip(pos);
        self.unpark(&mut guard);
    }

    /// Applies one consumed order event and delivers it; then answers the
    /// subscriptions that were waiting for this position (after delivery:
    /// their replay holds the event unless their cursor already covers it).
    /// A refused event is logged, counted and skipped.
    pub fn apply_order(&self, event: OrderEvent, pos: Pos, latest: Timestamp) {
        let read_at = std::time::Instant::now();
        let mut guard = self.lock();
        let core = &mut *guard;
        let Step { refused, fanout } = core.state.apply(event, pos, latest, crate::clock::now());
        for refusal in &refused {
            self.refuse(refusal);
        }
        self.evict(core);
        if let Some(mut fanout) = fanout {
            fanout.delivery.read_at = Some(read_at);
            let buyer = fanout.buyer.as_deref();
            // Counted before it is pushed, so that whoever receives it can
            // already read the count.
            if buyer.is_none() {
                self.metrics.unroutable.inc();
            }
            let pushes = core.registry.deliver_order(buyer, &fanout.delivery);
            self.metrics.pushed(&pushes);
            let reached = pushes.reached_buyer;
            match buyer {
                None => {
                    tracing::warn!(
                        order_id = fanout.order_id,
                        "buyer unknown: delivered to admins only"
                    );
                }
                Some(buyer) if reached => {
                    tracing::debug!(
                        order_id = fanout.order_id,
                        buyer,
                        "order event sent to its buyer"
                    );
                }
                Some(_) => {}
            }
        }
        self.unpark(core);
    }

    /// Evicts finished orders past their keep time; updates the gauges.
    fn evict(&self, core: &mut Core) {
        let evicted = core.state.evict(crate::clock::now());
        if !evicted.orders.is_empty() {
            let count = evicted.orders.len();
            self.metrics.evicted.inc_by(count as u64);
            tracing::debug!(count, "finished orders evicted");
        }
        if !evicted.waiting.is_empty() {
            self.metrics.held_expired.inc_by(evicted.held_events as u64);
            tracing::warn!(
                orders = evicted.waiting.len(),
                events = evicted.held_events,
                "held events dropped: their orders' order.created did not come within --keep-finished-secs, or more orders than --max-waiting-orders were waiting"
            );
        }
        let (orders, history) = core.state.sizes();
        self.metrics.orders.set(orders as i64);
        self.metrics.history.set(history as i64);
    }

    fn refuse(&self, refusal: &Refusal) {
        let Refusal {
            pos,
            order_id,
            refused,
        } = refusal;
        tracing::warn!(
            topic_kind = pos.part.kind(),
            partition = pos.part.partition,
            offset = pos.offset,
            order_id,
            reason = refused.reason(),
            "refused order event: {}",
            refused.to_string().escape_debug()
        );
        self.metrics
            .rejected(Rejected::Model(RefusedReason::from(refused)));
    }

    /// Delivers a notification to its user's connections only.
    pub fn notify(&self, user_id: &str, notification: &Notification) {
        let read_at = std::time::Instant::now();
        let frame = Frames::One(Frame::from(notification_frame(notification)));
        let pushes = self
            .lock()
            .registry
            .deliver_notification(user_id, frame, Some(read_at));
        self.metrics.pushed(&pushes);
    }
}

#[cfg(test)]
mod tests;

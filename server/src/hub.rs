//! The hub: the one place where consumed events meet connections.
//!
//! It owns the read model, the history, the relay's Kafka position and the
//! registry of connections, all behind one lock. Applying an event and
//! registering a subscriber both happen under that lock, so a subscriber's
//! snapshot (or replay) and its live stream join with no gap and no overlap.
//!
//! Routing rule: an order event goes to every admin connection and to the
//! connections of the order's buyer; a notification goes to its user only.
//! Nothing else decides who sees what.
//!
//! Delivery never blocks: each connection has a bounded [`Queue`]. When it is
//! full, superseded status events collapse; when nothing collapses, the
//! connection is dropped from the registry, its task drains what was queued
//! and closes with 4002 (resync), and the client resumes from its last cursor.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use protocol::frames::{notification_frame, order_frame, snapshot_frames, OrdersSnapshot};
use protocol::{Notification, Order, OrderEvent, Role, StatusAt, Timestamp};
use tokio::sync::watch;

use crate::auth::User;
use crate::cursor::{Cursor, PartitionId, Pos};
use crate::history::{History, Viewer};
use crate::metrics::{Metrics, Resume};
use crate::model::{ReadModel, Refused, Route};
use crate::queue::{Collapse, Frames, Pushed, Queue};

#[derive(Debug)]
struct Conn {
    id: u64,
    queue: Arc<Queue>,
    /// Set by `subscribe:orders`: order events flow only after it.
    orders: bool,
}

impl Conn {
    /// Queues without waiting; `false` when the connection must be dropped.
    fn push(
        &self,
        frames: impl Into<Frames>,
        collapse: Option<Collapse>,
        metrics: &Metrics,
    ) -> bool {
        match self.queue.push(frames, collapse) {
            Pushed::Queued => {
                metrics.deliveries.fetch_add(1, Relaxed);
                true
            }
            Pushed::Collapsed => {
                metrics.coalesced.fetch_add(1, Relaxed);
                true
            }
            Pushed::Overflow => {
                metrics.slow_disconnects.fetch_add(1, Relaxed);
                tracing::warn!(
                    conn = self.id,
                    "client too slow: queue full, closing for resync"
                );
                false
            }
            Pushed::Closed => false,
        }
    }
}

#[derive(Debug)]
struct Core {
    model: ReadModel,
    history: History,
    position: Cursor,
    users: HashMap<String, Vec<Conn>>,
    admins: HashMap<String, Vec<Conn>>,
    /// Set the first time the consumer catches up, and never unset: from
    /// then on the read model is complete up to `position`, even while the
    /// broker is unreachable, and subscribers are answered from it at once.
    loaded: bool,
    /// Subscriptions made before `loaded`: answered when it is set.
    parked: Vec<Parked>,
}

impl Core {
    /// The connections of `user`'s kind: admins and users are kept apart.
    fn registry(&mut self, user: &User) -> &mut HashMap<String, Vec<Conn>> {
        if user.is_admin() {
            &mut self.admins
        } else {
            &mut self.users
        }
    }
}

/// A `subscribe:orders` waiting for the initial load, or for the relay to
/// reach a cursor handed out by a relay that had read further (one that ran
/// before a restart).
#[derive(Debug)]
struct Parked {
    user: User,
    id: u64,
    cursor: Option<String>,
    since: Instant,
}

/// How long a subscription waits for the relay to reach its cursor before
/// it gets a snapshot instead (a cursor from a relay on other data, or made
/// up).
const PARK_LIMIT: Duration = Duration::from_secs(5);

/// The most order bytes in one `orders:snapshot` frame: a bigger snapshot
/// goes in parts (§3.2 of docs/PROTOCOL.md), so any snapshot fits the
/// socket's write buffer, however big its orders and however many.
pub const SNAPSHOT_PART_BYTES: usize = 1024 * 1024;

/// How a `subscribe:orders` was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscribed {
    Replayed(usize),
    Snapshot,
    /// The relay is still loading its read model: the answer comes through
    /// the connection's queue once it has caught up (see [`Hub::set_ready`]).
    Deferred,
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
        history_limit: usize,
        queue: usize,
        snapshot_limit: usize,
    ) -> Hub {
        Hub {
            core: Mutex::new(Core {
                model: ReadModel::default(),
                history: History::new(history_limit),
                position: Cursor::default(),
                users: HashMap::new(),
                admins: HashMap::new(),
                loaded: false,
                parked: Vec::new(),
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
    /// answered.
    /// Called after every lag check, so it also answers parked
    /// subscriptions that have waited too long.
    pub fn set_ready(&self, ready: bool) {
        {
            let mut guard = self.lock();
            let core = &mut *guard;
            if ready && !core.loaded {
                core.loaded = true;
                // The wait for a cursor starts now, not before the load.
                let now = Instant::now();
                for parked in &mut core.parked {
                    parked.since = now;
                }
            }
            self.unpark(core);
        }
        self.metrics.ready.store(i64::from(ready), Relaxed);
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
        self.lock().loaded
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
        let conn = Conn {
            id,
            queue: Arc::clone(&queue),
            orders: false,
        };
        let mut core = self.lock();
        let registry = core.registry(user);
        registry.entry(user.id.clone()).or_default().push(conn);
        (id, queue)
    }

    pub fn unregister(&self, user: &User, id: u64) {
        let mut core = self.lock();
        core.parked.retain(|p| p.id != id);
        let registry = core.registry(user);
        if let Some(conns) = registry.get_mut(&user.id) {
            conns.retain(|c| c.id != id);
            if conns.is_empty() {
                registry.remove(&user.id);
            }
        }
    }

    /// Answers `subscribe:orders`: a replay from `cursor` when it is known and
    /// complete, else a snapshot; then live events. Before the initial load
    /// the subscription is parked and answered by [`Hub::set_ready`]: the
    /// connection keeps its pings and expiry meanwhile. Returns `None` when
    /// the connection is gone.
    pub fn subscribe(&self, user: &User, id: u64, cursor: Option<&str>) -> Option<Subscribed> {
        let mut guard = self.lock();
        let core = &mut *guard;
        let ahead = cursor
            .and_then(Cursor::parse)
            .is_some_and(|c| c.is_ahead_of(&core.position));
        // One answer per connection: a second subscribe replaces the first.
        core.parked.retain(|p| p.id != id);
        if !core.loaded || ahead {
            Self::pause(core, user, id);
            core.parked.push(Parked {
                user: user.clone(),
                id,
                cursor: cursor.map(str::to_owned),
                since: Instant::now(),
            });
            return Some(Subscribed::Deferred);
        }
        self.subscribe_in(core, user, id, cursor)
    }

    /// Stops live order events to a connection whose subscription is parked:
    /// its replay or snapshot will cover them.
    fn pause(core: &mut Core, user: &User, id: u64) {
        let registry = core.registry(user);
        if let Some(conn) = registry
            .get_mut(&user.id)
            .and_then(|conns| conns.iter_mut().find(|c| c.id == id))
        {
            conn.orders = false;
        }
    }

    /// Answers the parked subscriptions that can be answered now: once the
    /// read model is loaded, those whose cursor the relay has reached (a
    /// replay), and those that waited [`PARK_LIMIT`] (a snapshot).
    fn unpark(&self, core: &mut Core) {
        if core.parked.is_empty() || !core.loaded {
            return;
        }
        let position = &core.position;
        let (due, waiting): (Vec<Parked>, Vec<Parked>) =
            std::mem::take(&mut core.parked).into_iter().partition(|p| {
                p.since.elapsed() >= PARK_LIMIT
                    || p.cursor
                        .as_deref()
                        .and_then(Cursor::parse)
                        .is_none_or(|c| !c.is_ahead_of(position))
            });
        core.parked = waiting;
        for parked in due {
            let answer = self.subscribe_in(core, &parked.user, parked.id, parked.cursor.as_deref());
            tracing::info!(user = %parked.user.id, conn = parked.id, ?answer, "subscribed to orders after waiting for the relay to catch up");
        }
    }

    fn subscribe_in(
        &self,
        core: &mut Core,
        user: &User,
        id: u64,
        cursor: Option<&str>,
    ) -> Option<Subscribed> {
        let viewer = if user.is_admin() {
            Viewer::Admin
        } else {
            Viewer::User(&user.id)
        };
        let from = cursor
            .and_then(Cursor::parse)
            .filter(|c| !c.is_ahead_of(&core.position));
        let replay = from.and_then(|from| core.history.replay(&from, viewer, &core.model));
        let (frames, answer) = match replay {
            Some(entries) => {
                let frames: Vec<Utf8Bytes> = entries
                    .into_iter()
                    .map(|(entry, cursor)| {
                        let mut event = (*entry.event).clone();
                        if let Some(owner) = core.model.owner(event.order_id()) {
                            event.set_buyer_id(owner);
                        }
                        order_frame(&event, &cursor.to_string()).into()
                    })
                    .collect();
                self.metrics.resume(Resume::Replay);
                let count = frames.len();
                (Frames::Batch(frames), Subscribed::Replayed(count))
            }
            None => {
                let snapshot = Self::snapshot_of(core, user, self.snapshot_limit);
                let frames: Vec<Utf8Bytes> =
                    snapshot_frames(&snapshot.orders, &snapshot.cursor, SNAPSHOT_PART_BYTES)
                        .into_iter()
                        .map(Utf8Bytes::from)
                        .collect();
                self.metrics.resume(Resume::Snapshot);
                (Frames::Batch(frames), Subscribed::Snapshot)
            }
        };
        let registry = core.registry(user);
        let conn = registry
            .get_mut(&user.id)?
            .iter_mut()
            .find(|c| c.id == id)?;
        conn.orders = true;
        if conn.push(frames, None, &self.metrics) {
            Some(answer)
        } else {
            registry.get_mut(&user.id)?.retain(|c| c.id != id);
            None
        }
    }

    fn snapshot_of(core: &Core, user: &User, limit: usize) -> OrdersSnapshot {
        let orders = match user.role {
            Role::Admin => core.model.all_orders(limit),
            Role::User => core.model.orders_of(&user.id),
        };
        OrdersSnapshot::new(orders, core.position.to_string())
    }

    /// The current state for `GET /api/orders`.
    pub fn snapshot(&self, user: &User) -> OrdersSnapshot {
        Self::snapshot_of(&self.lock(), user, self.snapshot_limit)
    }

    /// An order as `user` may see it: `None` for unknown orders and for
    /// other users' orders alike, so existence is not revealed.
    pub fn order_for(&self, user: &User, order_id: &str) -> Option<Order> {
        let core = self.lock();
        let order = core.model.order(order_id)?;
        (user.is_admin() || order.buyer_id == user.id).then_some(order)
    }

    /// How far the relay has read the order topics.
    pub fn position(&self) -> Cursor {
        self.lock().position.clone()
    }

    /// Where each partition's log starts in Kafka (its low watermark): older
    /// cursors get a snapshot, never a partial replay.
    /// A partition that retention has emptied has nothing to consume: the
    /// relay's position starts at its log start, or it would never catch up.
    pub fn log_starts(&self, starts: &[(PartitionId, i64)]) {
        let mut core = self.lock();
        for (part, first) in starts {
            core.history.log_starts_at(*part, *first);
            if *first > 0 && core.position.next(*part) < *first {
                core.position.advance(Pos {
                    part: *part,
                    offset: first - 1,
                });
            }
        }
    }

    /// Records that a message was consumed without producing an event (a
    /// rejected message): the position still moves past it.
    pub fn skip(&self, pos: Pos) {
        let mut guard = self.lock();
        guard.position.advance(pos);
        self.unpark(&mut guard);
    }

    /// Applies one consumed order event and delivers it; then answers the
    /// subscriptions that were waiting for this position (after delivery:
    /// their replay holds the event unless their cursor already covers it).
    /// `latest` is the latest event time accepted (see [`ReadModel::apply`]).
    /// A position the relay has already been through is ignored: a
    /// replacement consumer (see `kafka::supervisor`) starts where its
    /// predecessor stopped, and this makes "applied once" hold even if they
    /// overlapped. A refused event is logged, counted and skipped.
    pub fn apply_order(&self, event: OrderEvent, pos: Pos, latest: Timestamp) {
        let mut guard = self.lock();
        if guard.position.covers(pos) {
            return;
        }
        self.apply_in(&mut guard, event, pos, latest);
        self.unpark(&mut guard);
    }

    fn refuse(&self, pos: Pos, order_id: &str, refused: &Refused) {
        tracing::warn!(
            topic_kind = pos.part.kind(),
            partition = pos.part.partition,
            offset = pos.offset,
            order_id,
            reason = refused.reason(),
            "refused order event: {refused}"
        );
        self.metrics.rejected(refused.reason());
    }

    fn apply_in(&self, core: &mut Core, mut event: OrderEvent, pos: Pos, latest: Timestamp) {
        let seq = core.history.next_seq();
        let applied = match core.model.apply(&mut event, pos, seq, latest) {
            Ok(applied) => applied,
            Err(refused) => {
                self.refuse(pos, event.order_id(), &refused);
                core.position.advance(pos);
                return;
            }
        };
        for (seq, refused) in &applied.refused {
            if let Some(entry) = core.history.get(*seq) {
                self.refuse(entry.pos, entry.event.order_id(), refused);
            }
        }
        // Released events carry the cursor from before this event: a client
        // that gets them but not the created event after them must still be
        // owed both on resume.
        let before = (!applied.released.is_empty()).then(|| core.position.to_string());
        core.position.advance(pos);
        let event = Arc::new(event);
        core.history.push(pos, Arc::clone(&event));
        self.metrics.orders.store(core.model.len() as i64, Relaxed);
        self.metrics
            .history
            .store(core.history.len() as i64, Relaxed);

        let cursor = core.position.to_string();
        let frame: Utf8Bytes = order_frame(&event, &cursor).into();
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
        let buyer = match applied.route {
            Route::Held => return,
            Route::Admins => None,
            Route::Owner(buyer) => Some(buyer),
        };
        // Events consumed before this order's created event, delivered again
        // now that the order is visible (see `model::Applied::released`),
        // in one batch *before* the created event: its cursor is the one that
        // marks them as received.
        let mut released: Vec<Utf8Bytes> = applied
            .released
            .iter()
            .filter_map(|seq| core.history.get(*seq))
            .map(|entry| {
                let mut earlier = (*entry.event).clone();
                if let Some(buyer) = &buyer {
                    earlier.set_buyer_id(buyer);
                }
                order_frame(&earlier, before.as_deref().unwrap_or(&cursor)).into()
            })
            .collect();
        let batch = (!released.is_empty()).then(|| {
            released.push(frame.clone());
            released
        });
        let metrics = &*self.metrics;
        let deliver = |c: &Conn| match &batch {
            _ if !c.orders => true,
            Some(batch) => c.push(batch.clone(), None, metrics),
            None => c.push(frame.clone(), collapse.clone(), metrics),
        };
        for conns in core.admins.values_mut() {
            conns.retain(deliver);
        }
        let Some(buyer) = buyer else {
            metrics.unroutable.fetch_add(1, Relaxed);
            tracing::warn!(
                order_id = event.order_id(),
                "buyer unknown: delivered to admins only"
            );
            return;
        };
        if let Some(conns) = core.users.get_mut(&buyer) {
            conns.retain(deliver);
            // Only subscribed connections got it; the others wait for theirs.
            if conns.iter().any(|c| c.orders) {
                tracing::info!(
                    order_id = event.order_id(),
                    "Order update notification sent to user {buyer}"
                );
            }
        }
    }

    /// Delivers a notification to its user's connections only.
    pub fn notify(&self, user_id: &str, notification: &Notification) {
        let frame: Utf8Bytes = notification_frame(notification).into();
        let mut guard = self.lock();
        let core = &mut *guard;
        let metrics = &*self.metrics;
        for registry in [&mut core.users, &mut core.admins] {
            if let Some(conns) = registry.get_mut(user_id) {
                conns.retain(|c| c.push(frame.clone(), None, metrics));
            }
        }
    }
}

#[cfg(test)]
mod tests;

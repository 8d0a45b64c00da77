//! The registry of live connections: who is connected, whether each
//! connection has subscribed to order events, and delivery to their queues.
//!
//! Admins and users are kept apart, so "every admin" is one map and "this
//! buyer" is one lookup. Delivery never waits: a connection whose queue
//! overflows is dropped from the registry here; its task drains what was
//! queued and closes with 4002 (resync).

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use crate::auth::User;
use crate::metrics::Metrics;
use crate::queue::{Collapse, Frames, Pushed, Queue};

#[derive(Debug)]
struct Conn {
    id: u64,
    queue: Arc<Queue>,
    /// Set by `subscribe:orders`: order events flow only after it.
    subscribed: bool,
}

impl Conn {
    /// Queues without waiting; `false` when the connection must be dropped.
    fn push(&self, frames: Frames, collapse: Option<Collapse>, metrics: &Metrics) -> bool {
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

/// One order event's delivery: what to queue for each subscribed connection.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub frames: Frames,
    /// Set for a status event that may replace a queued one when full.
    pub collapse: Option<Collapse>,
}

#[derive(Debug, Default)]
pub struct Registry {
    users: HashMap<String, Vec<Conn>>,
    admins: HashMap<String, Vec<Conn>>,
}

impl Registry {
    /// The connections of `user`'s kind.
    fn of_kind(&mut self, user: &User) -> &mut HashMap<String, Vec<Conn>> {
        if user.is_admin() {
            &mut self.admins
        } else {
            &mut self.users
        }
    }

    /// Adds a connection, not yet subscribed to order events.
    pub fn add(&mut self, user: &User, id: u64, queue: Arc<Queue>) {
        let conn = Conn {
            id,
            queue,
            subscribed: false,
        };
        self.of_kind(user)
            .entry(user.id.clone())
            .or_default()
            .push(conn);
    }

    pub fn remove(&mut self, user: &User, id: u64) {
        let registry = self.of_kind(user);
        if let Some(conns) = registry.get_mut(&user.id) {
            conns.retain(|c| c.id != id);
            if conns.is_empty() {
                registry.remove(&user.id);
            }
        }
    }

    /// Stops live order events to a connection (its subscription is parked:
    /// the replay or snapshot it will get covers them).
    pub fn pause(&mut self, user: &User, id: u64) {
        if let Some(conn) = self.find(user, id) {
            conn.subscribed = false;
        }
    }

    fn find(&mut self, user: &User, id: u64) -> Option<&mut Conn> {
        self.of_kind(user)
            .get_mut(&user.id)?
            .iter_mut()
            .find(|c| c.id == id)
    }

    /// Subscribes a connection with its first frames (a replay or a
    /// snapshot); live order events follow. `false` when the connection is
    /// gone or was just dropped for overflowing.
    pub fn subscribe(&mut self, user: &User, id: u64, first: Frames, metrics: &Metrics) -> bool {
        let Some(conn) = self.find(user, id) else {
            return false;
        };
        conn.subscribed = true;
        if conn.push(first, None, metrics) {
            return true;
        }
        self.remove(user, id);
        false
    }

    /// Delivers an order event to every subscribed admin connection and, if
    /// it has one, to the buyer's. Returns whether a connection of the buyer
    /// got it.
    pub fn deliver_order(
        &mut self,
        buyer: Option<&str>,
        delivery: &Delivery,
        metrics: &Metrics,
    ) -> bool {
        let deliver = |c: &Conn| {
            !c.subscribed || c.push(delivery.frames.clone(), delivery.collapse.clone(), metrics)
        };
        for conns in self.admins.values_mut() {
            conns.retain(deliver);
        }
        let Some(conns) = buyer.and_then(|buyer| self.users.get_mut(buyer)) else {
            return false;
        };
        conns.retain(deliver);
        conns.iter().any(|c| c.subscribed)
    }

    /// Delivers a notification to one user's connections, subscribed or not.
    pub fn deliver_notification(&mut self, user_id: &str, frames: Frames, metrics: &Metrics) {
        for registry in [&mut self.users, &mut self.admins] {
            if let Some(conns) = registry.get_mut(user_id) {
                conns.retain(|c| c.push(frames.clone(), None, metrics));
            }
        }
    }
}

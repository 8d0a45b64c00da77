//! The registry of live connections: who is connected, whether each
//! connection has subscribed to order events, and delivery to their queues.
//!
//! Admins and users are kept apart, so "every admin" is one map and "this
//! buyer" is one lookup. Delivery never waits: a connection whose queue
//! overflows is dropped from the registry here; its task drains what was
//! queued and closes with 4002 (resync). It counts what happened and returns
//! the counts ([`Pushes`]); the hub turns them into metrics.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use crate::core::delivery::{Collapse, Delivery, Frames, Pushes};
use crate::core::viewer::{User, Viewer};
use crate::fanout::queue::{Pushed, Queue};

#[derive(Debug)]
struct Conn {
    id: u64,
    queue: Arc<Queue>,
    /// Set by `subscribe:orders`: order events flow only after it.
    subscribed: bool,
}

impl Conn {
    /// Queues without waiting; `false` when the connection must be dropped.
    fn push(
        &self,
        frames: Frames,
        collapse: Option<Collapse>,
        read_at: Option<Instant>,
        pushes: &mut Pushes,
    ) -> bool {
        match self.queue.push(frames, collapse, read_at) {
            Pushed::Queued => {
                pushes.queued += 1;
                true
            }
            Pushed::Collapsed => {
                pushes.collapsed += 1;
                true
            }
            Pushed::Overflow => {
                pushes.overflowed += 1;
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

#[derive(Debug, Default)]
pub struct Registry {
    users: HashMap<String, Vec<Conn>>,
    admins: HashMap<String, Vec<Conn>>,
}

impl Registry {
    /// The connections of `user`'s kind.
    fn of_kind(&mut self, user: &User) -> &mut HashMap<String, Vec<Conn>> {
        match user.viewer() {
            Viewer::Admin => &mut self.admins,
            Viewer::Buyer(_) => &mut self.users,
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
    /// snapshot); live order events follow. `None` when the connection is
    /// gone; `Some` with `overflowed` set when it was just dropped.
    pub fn subscribe(&mut self, user: &User, id: u64, first: Frames) -> Option<Pushes> {
        let conn = self.find(user, id)?;
        conn.subscribed = true;
        let mut pushes = Pushes::default();
        if !conn.push(first, None, None, &mut pushes) {
            self.remove(user, id);
        }
        Some(pushes)
    }

    /// Delivers an order event to the subscribed connections whose viewer
    /// sees an order owned by `owner` (`None`: admins only): every admin,
    /// and the owner's. The two maps are the index of [`Viewer::sees`]
    /// (admins see all, a buyer the orders keyed by their id), so the rule
    /// costs no check per connection.
    pub fn deliver_order(&mut self, owner: Option<&str>, delivery: &Delivery) -> Pushes {
        let mut pushes = Pushes::default();
        let mut deliver = |c: &Conn| {
            !c.subscribed
                || c.push(
                    delivery.frames.clone(),
                    delivery.collapse.clone(),
                    delivery.read_at,
                    &mut pushes,
                )
        };
        for conns in self.admins.values_mut() {
            conns.retain(&mut deliver);
        }
        if let Some(buyer) = owner {
            if let Some(conns) = self.users.get_mut(buyer) {
                conns.retain(&mut deliver);
                pushes.reached_buyer = conns.iter().any(|c| c.subscribed);
            }
        }
        pushes
    }

    /// Delivers a notification to one user's connections, subscribed or not.
    pub fn deliver_notification(
        &mut self,
        user_id: &str,
        frames: Frames,
        read_at: Option<Instant>,
    ) -> Pushes {
        let mut pushes = Pushes::default();
        for registry in [&mut self.users, &mut self.admins] {
            if let Some(conns) = registry.get_mut(user_id) {
                conns.retain(|c| c.push(frames.clone(), None, read_at, &mut pushes));
            }
        }
        pushes
    }
}

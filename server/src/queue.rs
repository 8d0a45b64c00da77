//! A connection's outbound queue: bounded, never blocks the producer, and
//! collapses superseded updates when full.
//!
//! The hub pushes while holding its lock, so a push must never wait. When the
//! queue is full, a status event for an order that already has one queued
//! replaces it (or is dropped, if the queued one wins by the status rule):
//! the client ends in the same state with fewer frames. Only when nothing can
//! be collapsed does the queue close; the connection then sends what is
//! queued and closes with 4002, and the client resumes from its last cursor.
//! A dropped or replaced event is still replayed on resume if needed: the
//! cursor only moves past what the client actually received.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use axum::extract::ws::Utf8Bytes;
use protocol::StatusAt;
use tokio::sync::Notify;

/// What may collapse: the order and the status an event claims for it.
/// Created events and batches carry no key and never collapse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collapse {
    pub order_id: String,
    pub status: StatusAt,
}

/// The outcome of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// Full, but the event collapsed with a queued one for the same order.
    Collapsed,
    /// Full and nothing to collapse: the queue is now closed.
    Overflow,
    /// The queue was already closed.
    Closed,
}

#[derive(Debug)]
struct State {
    items: VecDeque<(Option<Collapse>, Vec<Utf8Bytes>)>,
    closed: bool,
}

#[derive(Debug)]
pub struct Queue {
    state: Mutex<State>,
    capacity: usize,
    ready: Notify,
}

impl Queue {
    pub fn new(capacity: usize) -> Queue {
        Queue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: false,
            }),
            capacity: capacity.max(1),
            ready: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues frames that must stay together and in order (one slot).
    pub fn push(&self, frames: Vec<Utf8Bytes>, collapse: Option<Collapse>) -> Pushed {
        let mut state = self.lock();
        if state.closed {
            return Pushed::Closed;
        }
        let outcome = if state.items.len() < self.capacity {
            state.items.push_back((collapse, frames));
            Pushed::Queued
        } else if let Some(new) = collapse {
            let same = state
                .items
                .iter()
                .rposition(|(key, _)| key.as_ref().is_some_and(|k| k.order_id == new.order_id));
            match same {
                Some(index) => {
                    let queued = state.items[index].0.as_ref().map(|k| k.status);
                    if queued.is_some_and(|queued| new.status.supersedes(queued)) {
                        // Drop the superseded one; the newer goes last so
                        // cursors keep increasing along the stream.
                        state.items.remove(index);
                        state.items.push_back((Some(new), frames));
                    }
                    Pushed::Collapsed
                }
                None => {
                    state.closed = true;
                    Pushed::Overflow
                }
            }
        } else {
            state.closed = true;
            Pushed::Overflow
        };
        drop(state);
        self.ready.notify_one();
        outcome
    }

    /// Closes the queue: the receiver gets what is queued, then `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }

    /// Everything queued, in order, waiting until there is something; `None`
    /// once closed and empty. One receiver only.
    pub async fn recv(&self) -> Option<Vec<Utf8Bytes>> {
        loop {
            {
                let mut state = self.lock();
                if !state.items.is_empty() {
                    return Some(
                        state
                            .items
                            .drain(..)
                            .flat_map(|(_, frames)| frames)
                            .collect(),
                    );
                }
                if state.closed {
                    return None;
                }
            }
            // `notify_one` stores a permit when nobody waits: no lost wake-up.
            self.ready.notified().await;
        }
    }

    /// Takes whatever is queued without waiting (tests and diagnostics).
    pub fn take(&self) -> Vec<Utf8Bytes> {
        self.lock()
            .items
            .drain(..)
            .flat_map(|(_, frames)| frames)
            .collect()
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use protocol::{OrderStatus, Timestamp};

    use super::*;

    fn key(order: &str, status: OrderStatus, at: i64) -> Option<Collapse> {
        Some(Collapse {
            order_id: order.into(),
            status: StatusAt {
                status,
                at: Timestamp(at),
            },
        })
    }

    fn frame(text: &'static str) -> Vec<Utf8Bytes> {
        vec![Utf8Bytes::from_static(text)]
    }

    fn texts(frames: Option<Vec<Utf8Bytes>>) -> Vec<String> {
        frames
            .unwrap()
            .iter()
            .map(|f| f.as_str().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn when_full_a_newer_update_replaces_the_queued_one() {
        let queue = Queue::new(2);
        assert_eq!(
            queue.push(
                frame("o1 processing"),
                key("o1", OrderStatus::Processing, 1)
            ),
            Pushed::Queued
        );
        assert_eq!(queue.push(frame("o2 created"), None), Pushed::Queued);
        assert_eq!(
            queue.push(frame("o1 shipped"), key("o1", OrderStatus::Shipped, 2)),
            Pushed::Collapsed
        );
        // An older one for the same order loses and is dropped.
        assert_eq!(
            queue.push(frame("o1 stale"), key("o1", OrderStatus::Pending, 0)),
            Pushed::Collapsed
        );
        assert_eq!(texts(queue.recv().await), ["o2 created", "o1 shipped"]);
    }

    #[tokio::test]
    async fn when_nothing_collapses_the_queue_closes_after_draining() {
        let queue = Queue::new(1);
        assert_eq!(queue.push(frame("a"), None), Pushed::Queued);
        assert_eq!(
            queue.push(frame("b"), key("o9", OrderStatus::Shipped, 1)),
            Pushed::Overflow
        );
        assert_eq!(queue.push(frame("c"), None), Pushed::Closed);
        assert_eq!(texts(queue.recv().await), ["a"]);
        assert_eq!(queue.recv().await, None);
    }

    #[tokio::test]
    async fn recv_waits_for_a_push() {
        let queue = std::sync::Arc::new(Queue::new(4));
        let waiter = tokio::spawn({
            let queue = queue.clone();
            async move { queue.recv().await }
        });
        tokio::task::yield_now().await;
        queue.push(frame("x"), None);
        assert_eq!(texts(waiter.await.unwrap()), ["x"]);
        queue.close();
        assert_eq!(queue.recv().await, None);
    }
}

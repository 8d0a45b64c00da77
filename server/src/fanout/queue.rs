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
//!
//! Memory: an idle connection's queue holds no buffer (the receiver takes
//! the whole deque), and the usual slot, one frame, is stored inline.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::Notify;

use crate::core::delivery::{Collapse, Frame, Frames};

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
struct Slot {
    key: Option<Collapse>,
    frames: Frames,
    /// When the relay read the event (live deliveries only).
    read_at: Option<Instant>,
}

/// Everything that was queued, in order, as [`Queue::recv`] hands it over.
#[derive(Debug, Default)]
pub struct Drained(VecDeque<Slot>);

impl Drained {
    /// Takes every frame out, in order; the slots keep their `read_at`.
    pub fn take_frames(&mut self) -> impl Iterator<Item = Frame> + '_ {
        self.0.iter_mut().flat_map(|slot| {
            let frames = std::mem::replace(&mut slot.frames, Frames::Batch(Vec::new()));
            let (one, batch) = match frames {
                Frames::One(frame) => (Some(frame), Vec::new()),
                Frames::Batch(frames) => (None, frames),
            };
            one.into_iter().chain(batch)
        })
    }

    /// When the relay read each live event of this batch.
    pub fn read_at(&self) -> impl Iterator<Item = Instant> + '_ {
        self.0.iter().filter_map(|slot| slot.read_at)
    }
}

#[derive(Debug)]
struct State {
    slots: VecDeque<Slot>,
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
                slots: VecDeque::new(),
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

    /// Queues frames that must stay together and in order (one slot);
    /// `read_at` is when the relay read a live event from Kafka.
    pub fn push(
        &self,
        frames: impl Into<Frames>,
        collapse: Option<Collapse>,
        read_at: Option<Instant>,
    ) -> Pushed {
        let frames = frames.into();
        let mut state = self.lock();
        if state.closed {
            return Pushed::Closed;
        }
        let outcome = if state.slots.len() < self.capacity {
            state.slots.push_back(Slot {
                key: collapse,
                frames,
                read_at,
            });
            Pushed::Queued
        } else if let Some(new) = collapse {
            let same = state.slots.iter().rposition(|slot| {
                slot.key
                    .as_ref()
                    .is_some_and(|k| k.order_id == new.order_id)
            });
            match same {
                Some(index) => {
                    let queued = state.slots[index].key.as_ref().map(|k| k.status);
                    if queued.is_some_and(|queued| new.status.supersedes(queued)) {
                        // Drop the superseded one; the newer goes last so
                        // cursors keep increasing along the stream.
                        state.slots.remove(index);
                        state.slots.push_back(Slot {
                            key: Some(new),
                            frames,
                            read_at,
                        });
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
    pub async fn recv(&self) -> Option<Drained> {
        loop {
            {
                let mut state = self.lock();
                if !state.slots.is_empty() {
                    // The deque goes with its frames: an idle queue keeps no
                    // buffer.
                    return Some(Drained(std::mem::take(&mut state.slots)));
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
    pub fn take(&self) -> Vec<Frame> {
        Drained(std::mem::take(&mut self.lock().slots))
            .take_frames()
            .collect()
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    pub fn len(&self) -> usize {
        self.lock().slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use protocol::{OrderStatus, StatusAt, Timestamp};

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

    fn frame(text: &'static str) -> Frame {
        Frame::from_static(text)
    }

    fn texts(drained: Option<Drained>) -> Vec<String> {
        drained
            .unwrap()
            .take_frames()
            .map(|f| f.as_str().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn when_full_a_newer_update_replaces_the_queued_one() {
        let queue = Queue::new(2);
        assert_eq!(
            queue.push(
                frame("o1 processing"),
                key("o1", OrderStatus::Processing, 1),
                None
            ),
            Pushed::Queued
        );
        assert_eq!(queue.push(frame("o2 created"), None, None), Pushed::Queued);
        assert_eq!(
            queue.push(
                frame("o1 shipped"),
                key("o1", OrderStatus::Shipped, 2),
                None
            ),
            Pushed::Collapsed
        );
        // An older one for the same order loses and is dropped.
        assert_eq!(
            queue.push(frame("o1 stale"), key("o1", OrderStatus::Pending, 0), None),
            Pushed::Collapsed
        );
        assert_eq!(texts(queue.recv().await), ["o2 created", "o1 shipped"]);
    }

    #[tokio::test]
    async fn when_nothing_collapses_the_queue_closes_after_draining() {
        let queue = Queue::new(1);
        assert_eq!(queue.push(frame("a"), None, None), Pushed::Queued);
        assert_eq!(
            queue.push(frame("b"), key("o9", OrderStatus::Shipped, 1), None),
            Pushed::Overflow
        );
        assert_eq!(queue.push(frame("c"), None, None), Pushed::Closed);
        assert_eq!(texts(queue.recv().await), ["a"]);
        assert!(queue.recv().await.is_none());
    }

    #[tokio::test]
    async fn batches_stay_together_and_in_order() {
        let queue = Queue::new(4);
        queue.push(frame("a"), None, None);
        queue.push(vec![frame("b1"), frame("b2")], None, None);
        queue.push(frame("c"), key("o1", OrderStatus::Shipped, 1), None);
        assert_eq!(texts(queue.recv().await), ["a", "b1", "b2", "c"]);
        assert!(queue.is_empty());
    }

    #[tokio::test]
    async fn recv_waits_for_a_push() {
        let queue = std::sync::Arc::new(Queue::new(4));
        let waiter = tokio::spawn({
            let queue = queue.clone();
            async move { queue.recv().await }
        });
        tokio::task::yield_now().await;
        queue.push(frame("x"), None, None);
        assert_eq!(texts(waiter.await.unwrap()), ["x"]);
        queue.close();
        assert!(queue.recv().await.is_none());
    }
}

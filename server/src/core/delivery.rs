//! What the relay sends, as plain data: encoded frames shared by every
//! connection they go to, and what one applied event delivers. The core
//! builds them; the fan-out queues them; the WebSocket task writes them.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use protocol::StatusAt;

/// What may collapse: the order and the status an event claims for it.
/// Created events and batches carry no key and never collapse. The id is
/// shared by every connection the event goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collapse {
    pub order_id: Arc<str>,
    pub status: StatusAt,
}

/// One encoded text frame, shared by every connection it goes to. Built
/// from strings only, so it is always UTF-8; the WebSocket layer turns it
/// into its own text type without copying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame(Bytes);

impl Frame {
    pub const fn from_static(text: &'static str) -> Frame {
        Frame(Bytes::from_static(text.as_bytes()))
    }

    /// The frame's text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Frame {
    fn from(text: String) -> Frame {
        Frame(Bytes::from(text))
    }
}

/// The frames of one slot: sent together and in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frames {
    One(Frame),
    Batch(Vec<Frame>),
}

impl From<Frame> for Frames {
    fn from(frame: Frame) -> Frames {
        Frames::One(frame)
    }
}

impl From<Vec<Frame>> for Frames {
    fn from(frames: Vec<Frame>) -> Frames {
        Frames::Batch(frames)
    }
}

/// One order event's delivery: what to queue for each subscribed connection.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub frames: Frames,
    /// Set for a status event that may replace a queued one when full.
    pub collapse: Option<Collapse>,
    /// When the relay read the event from Kafka, for the time to each
    /// socket: set by the shell that reads the clock (the core leaves it
    /// `None`, as replays and snapshots have).
    pub read_at: Option<Instant>,
}

/// What the pushes of one delivery did, for the hub's metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pushes {
    /// Queued as they were.
    pub queued: u64,
    /// Collapsed with a queued status event of the same order.
    pub collapsed: u64,
    /// Connections dropped for overflowing their queue (close 4002).
    pub overflowed: u64,
    /// Whether a connection of the order's buyer got it.
    pub reached_buyer: bool,
}

//! One socket per browser: what the tabs of one user say to each other, and
//! the frames a tab keeps so that another tab (or the next page load) can
//! rebuild its orders without asking the relay.
//!
//! Pure data; the client's `tabs` module carries it over a BroadcastChannel
//! and the client's `cache` module keeps the [`FrameLog`] in IndexedDB.
//!
//! - [`TabMessage`]: the tab channel's messages. The relay's frames travel
//!   inside them unchanged, as the text the relay sent: the channel adds a
//!   one-letter tag, never a second encoding of orders.
//! - [`FrameLog`]: the last complete `orders:snapshot` (its parts, as sent)
//!   and every order event frame since, in arrival order. Replaying them
//!   through the one frame decoder and reducer gives the orders and the
//!   cursor the tab had: the order book's rule makes the result independent
//!   of overlaps (a frame applied twice changes nothing the second time).
//!   Bounded: past [`REBASE_EVENTS`] events the leader asks the relay for a
//!   fresh snapshot on its open socket, which becomes the new base.

/// What one tab tells the others (of the same user, on the same origin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TabMessage {
    /// The leader read this frame from the relay: apply it.
    Frame(String),
    /// A tab joined and asks the leader for its [`FrameLog`].
    Hello,
    /// The leader's log, for tabs that asked ([`FrameLog::lines`]).
    Log(String),
    /// The leader's socket is down: wait for it (or take over).
    Down,
    /// The user is looking at the sending tab: its toasts are shown there.
    Looking,
    /// The user signed out in the sending tab.
    SignedOut,
}

impl TabMessage {
    pub fn encode(&self) -> String {
        match self {
            TabMessage::Frame(text) => format!("F{text}"),
            TabMessage::Hello => "H".to_owned(),
            TabMessage::Log(lines) => format!("L{lines}"),
            TabMessage::Down => "D".to_owned(),
            TabMessage::Looking => "A".to_owned(),
            TabMessage::SignedOut => "O".to_owned(),
        }
    }

    /// `None` for anything another version of the page might send.
    pub fn decode(text: &str) -> Option<TabMessage> {
        let rest = text.get(1..)?;
        Some(match text.as_bytes().first()? {
            b'F' => TabMessage::Frame(rest.to_owned()),
            b'H' => TabMessage::Hello,
            b'L' => TabMessage::Log(rest.to_owned()),
            b'D' => TabMessage::Down,
            b'A' => TabMessage::Looking,
            b'O' => TabMessage::SignedOut,
            _ => return None,
        })
    }
}

/// Events kept after the base before the leader asks for a fresh snapshot.
pub const REBASE_EVENTS: usize = 1_000;

/// What a frame was, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// One part of `orders:snapshot`; `last` when it completes the snapshot.
    SnapshotPart { last: bool },
    /// `order:created`, `order:updated` or `order:cancelled`.
    Event,
}

/// The frames that rebuild a tab's orders: the last whole snapshot, then the
/// order events since.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameLog {
    base: Vec<String>,
    /// Parts of a snapshot still arriving.
    parts: Vec<String>,
    events: Vec<String>,
    /// A fresh snapshot was asked for and has not arrived.
    asked: bool,
}

impl FrameLog {
    /// Keeps one frame the tab applied.
    pub fn keep(&mut self, text: &str, kept: Kept) {
        match kept {
            Kept::SnapshotPart { last } => {
                self.parts.push(text.to_owned());
                if last {
                    self.base = std::mem::take(&mut self.parts);
                    self.events.clear();
                    self.asked = false;
                }
            }
            // Before any snapshot there is nothing to replay them onto.
            Kept::Event if !self.base.is_empty() => self.events.push(text.to_owned()),
            Kept::Event => {}
        }
    }

    /// Whether to ask for a fresh snapshot now: the events since the base
    /// are many, and none was asked for since the last one arrived. `true`
    /// once per snapshot.
    pub fn wants_rebase(&mut self) -> bool {
        let wants = self.events.len() >= REBASE_EVENTS && !self.asked;
        self.asked |= wants;
        wants
    }

    pub fn is_empty(&self) -> bool {
        self.base.is_empty()
    }

    /// A new link starts: parts of a snapshot the old one did not finish
    /// will never be completed.
    pub fn restart(&mut self) {
        self.parts.clear();
    }

    /// The frames, one per line (frames are JSON: a newline inside one is
    /// always escaped): the base, the events, then the parts of a snapshot
    /// still arriving, so that a tab joining in the middle of one completes
    /// it with the parts that follow.
    pub fn lines(&self) -> String {
        let mut out = String::new();
        for frame in self.base.iter().chain(&self.events).chain(&self.parts) {
            out.push_str(frame);
            out.push('\n');
        }
        out
    }

    pub fn clear(&mut self) {
        *self = FrameLog::default();
    }
}

/// The frames of [`FrameLog::lines`], in order.
pub fn frames(lines: &str) -> impl Iterator<Item = &str> {
    lines.split('\n').filter(|line| !line.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_survives_the_channel() {
        for message in [
            TabMessage::Frame(r#"{"event":"pong"}"#.to_owned()),
            TabMessage::Hello,
            TabMessage::Log("a\nb\n".to_owned()),
            TabMessage::Down,
            TabMessage::Looking,
            TabMessage::SignedOut,
        ] {
            assert_eq!(TabMessage::decode(&message.encode()), Some(message));
        }
        assert_eq!(TabMessage::decode(""), None);
        assert_eq!(TabMessage::decode("Zzz"), None);
    }

    #[test]
    fn the_log_is_the_last_snapshot_and_the_events_since() {
        let mut log = FrameLog::default();
        log.keep("e0", Kept::Event);
        assert!(log.is_empty(), "an event before any snapshot has no base");
        log.keep("s1a", Kept::SnapshotPart { last: false });
        log.keep("s1b", Kept::SnapshotPart { last: true });
        log.keep("e1", Kept::Event);
        log.keep("e2", Kept::Event);
        assert_eq!(log.lines(), "s1a\ns1b\ne1\ne2\n");
        assert_eq!(
            frames(&log.lines()).collect::<Vec<_>>(),
            ["s1a", "s1b", "e1", "e2"]
        );
        log.keep("s2", Kept::SnapshotPart { last: true });
        assert_eq!(log.lines(), "s2\n", "a new snapshot is the new base");
    }

    #[test]
    fn a_snapshot_cut_by_a_new_link_is_dropped_not_mixed_with_the_next() {
        let mut log = FrameLog::default();
        log.keep("s1", Kept::SnapshotPart { last: true });
        log.keep("s2a", Kept::SnapshotPart { last: false });
        assert_eq!(log.lines(), "s1\ns2a\n", "a joining tab completes it");
        log.restart();
        assert_eq!(log.lines(), "s1\n", "a snapshot the old link cut is gone");
        log.keep("s3a", Kept::SnapshotPart { last: false });
        log.keep("s3b", Kept::SnapshotPart { last: true });
        assert_eq!(log.lines(), "s3a\ns3b\n");
    }

    #[test]
    fn a_long_log_asks_for_a_fresh_base_once() {
        let mut log = FrameLog::default();
        log.keep("s", Kept::SnapshotPart { last: true });
        for _ in 0..REBASE_EVENTS - 1 {
            log.keep("e", Kept::Event);
        }
        assert!(!log.wants_rebase());
        log.keep("e", Kept::Event);
        assert!(log.wants_rebase());
        log.keep("e", Kept::Event);
        assert!(!log.wants_rebase(), "asked once");
        log.keep("s2a", Kept::SnapshotPart { last: false });
        log.keep("s2b", Kept::SnapshotPart { last: true });
        assert_eq!(log.lines(), "s2a\ns2b\n");
        for _ in 0..REBASE_EVENTS {
            log.keep("e", Kept::Event);
        }
        assert!(log.wants_rebase(), "asked again after the new base grew");
    }
}

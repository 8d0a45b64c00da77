//! Cursors: how far into the order topics a client has seen, as Kafka
//! positions.
//!
//! A cursor is, for each partition of the three order topics, the next offset
//! to read. Kafka offsets outlive the relay, so a cursor handed out before a
//! restart means the same thing after it: the restarted relay rebuilds its
//! history from the same offsets. The text form is opaque to clients:
//! `v1.<topic>-<partition>-<next offset>.…`, topic 0/1/2 = created / updated /
//! cancelled (by kind, so renaming a topic keeps cursors meaningful).

use std::collections::BTreeMap;
use std::fmt;

use protocol::kafka::TopicKind;

/// One partition of one of the three order topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionId {
    pub topic: u8,
    pub partition: i32,
}

impl PartitionId {
    /// `None` for the notifications topic, which has no cursor: notifications
    /// are live-only.
    pub fn new(kind: TopicKind, partition: i32) -> Option<PartitionId> {
        Some(PartitionId {
            topic: kind.order_topic()?,
            partition,
        })
    }

    /// Which order topic, by kind (topic names are configurable).
    pub fn kind(&self) -> &'static str {
        TopicKind::from_order_topic(self.topic).map_or("unknown", TopicKind::default_name)
    }
}

/// The place of one message: partition and offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pos {
    pub part: PartitionId,
    pub offset: i64,
}

/// For each partition, the next offset to read. A missing partition means
/// "nothing read yet".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor(BTreeMap<PartitionId, i64>);

impl Cursor {
    /// Moves past `pos` (never backwards).
    pub fn advance(&mut self, pos: Pos) {
        let next = self.0.entry(pos.part).or_insert(0);
        *next = (*next).max(pos.offset.saturating_add(1));
    }

    /// Whether the holder of this cursor has already been through `pos`.
    pub fn covers(&self, pos: Pos) -> bool {
        self.next(pos.part) > pos.offset
    }

    /// The next offset to read in a partition (0 when never read).
    pub fn next(&self, part: PartitionId) -> i64 {
        self.0.get(&part).copied().unwrap_or(0)
    }

    /// Whether this cursor claims any position that `other` has not reached:
    /// a cursor from the future (e.g. from before the topics were recreated)
    /// cannot be trusted for a replay.
    pub fn is_ahead_of(&self, other: &Cursor) -> bool {
        self.0.iter().any(|(part, next)| *next > other.next(*part))
    }

    /// Every partition with its next offset.
    pub fn iter(&self) -> impl Iterator<Item = (PartitionId, i64)> + '_ {
        self.0.iter().map(|(part, next)| (*part, *next))
    }

    /// Reads the text form; `None` for anything this relay did not write.
    pub fn parse(text: &str) -> Option<Cursor> {
        let mut parts = text.split('.');
        if parts.next()? != "v1" {
            return None;
        }
        let mut cursor = Cursor::default();
        for part in parts {
            let mut fields = part.splitn(3, '-');
            let topic: u8 = fields.next()?.parse().ok()?;
            let partition: i32 = fields.next()?.parse().ok()?;
            let next: i64 = fields.next()?.parse().ok()?;
            if TopicKind::from_order_topic(topic).is_none() || partition < 0 || next < 0 {
                return None;
            }
            cursor.0.insert(PartitionId { topic, partition }, next);
        }
        Some(cursor)
    }
}

impl From<Pos> for protocol::checkpoint::Position {
    fn from(pos: Pos) -> Self {
        protocol::checkpoint::Position {
            topic: pos.part.topic,
            partition: pos.part.partition,
            offset: pos.offset,
        }
    }
}

impl From<protocol::checkpoint::Position> for Pos {
    fn from(at: protocol::checkpoint::Position) -> Pos {
        Pos {
            part: PartitionId {
                topic: at.topic,
                partition: at.partition,
            },
            offset: at.offset,
        }
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("v1")?;
        for (part, next) in &self.0 {
            write!(f, ".{}-{}-{}", part.topic, part.partition, next)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(topic: u8, partition: i32, offset: i64) -> Pos {
        Pos {
            part: PartitionId { topic, partition },
            offset,
        }
    }

    #[test]
    fn text_form_round_trips() {
        let mut cursor = Cursor::default();
        assert_eq!(cursor.to_string(), "v1");
        cursor.advance(pos(0, 0, 14));
        cursor.advance(pos(1, 2, 8));
        cursor.advance(pos(2, 0, 2));
        assert_eq!(cursor.to_string(), "v1.0-0-15.1-2-9.2-0-3");
        assert_eq!(Cursor::parse(&cursor.to_string()), Some(cursor));
    }

    #[test]
    fn foreign_text_is_not_a_cursor() {
        for bad in [
            "",
            "v2",
            "v1.3-0-1",
            "v1.0-0",
            "v1.0--1-3",
            "v1.a-b-c",
            "v1.0-0-1.",
            "abc",
        ] {
            assert_eq!(Cursor::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn advance_never_goes_back_and_covers_what_was_read() {
        let mut cursor = Cursor::default();
        cursor.advance(pos(0, 0, 5));
        cursor.advance(pos(0, 0, 2));
        assert!(cursor.covers(pos(0, 0, 5)));
        assert!(!cursor.covers(pos(0, 0, 6)));
        assert!(!cursor.covers(pos(1, 0, 0)));
    }

    #[test]
    fn a_cursor_beyond_the_relay_is_ahead() {
        let mut relay = Cursor::default();
        relay.advance(pos(0, 0, 9));
        let mut client = Cursor::default();
        client.advance(pos(0, 0, 3));
        assert!(!client.is_ahead_of(&relay));
        client.advance(pos(1, 0, 0));
        assert!(client.is_ahead_of(&relay));
    }
}

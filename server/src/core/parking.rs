//! Parked subscriptions: a `subscribe:orders` that cannot be answered yet,
//! because the relay is still loading its read model, or because its cursor
//! is ahead of what this relay has read (a cursor from a relay that had read
//! further, such as this one before a restart). Plain data: the caller gives
//! the time.

use std::time::{Duration, Instant};

use crate::core::cursor::Cursor;
use crate::core::viewer::User;

/// How long a subscription waits for the relay to reach its cursor before
/// it gets a snapshot instead (a cursor from a relay on other data, or made
/// up).
pub const PARK_LIMIT: Duration = Duration::from_secs(5);

/// A subscription waiting for an answer.
#[derive(Debug)]
pub struct Parked {
    pub user: User,
    pub conn: u64,
    pub cursor: Option<Cursor>,
    since: Instant,
}

#[derive(Debug, Default)]
pub struct Parking {
    parked: Vec<Parked>,
}

impl Parking {
    /// Parks a connection's subscription (replacing an earlier one of the
    /// same connection: one answer per connection).
    pub fn park(&mut self, user: &User, conn: u64, cursor: Option<Cursor>, now: Instant) {
        self.forget(conn);
        self.parked.push(Parked {
            user: user.clone(),
            conn,
            cursor,
            since: now,
        });
    }

    /// Drops a connection's parked subscription, if any.
    pub fn forget(&mut self, conn: u64) {
        self.parked.retain(|p| p.conn != conn);
    }

    /// The wait for a cursor starts when the read model is loaded, not
    /// before.
    pub fn restart_clocks(&mut self, now: Instant) {
        for parked in &mut self.parked {
            parked.since = now;
        }
    }

    /// Takes the subscriptions that can be answered at `position`: those
    /// whose cursor the relay has reached (or that have none), and those
    /// that waited [`PARK_LIMIT`].
    pub fn due(&mut self, position: &Cursor, now: Instant) -> Vec<Parked> {
        if self.parked.is_empty() {
            return Vec::new();
        }
        let (due, waiting) = std::mem::take(&mut self.parked).into_iter().partition(|p| {
            now.saturating_duration_since(p.since) >= PARK_LIMIT
                || p.cursor.as_ref().is_none_or(|c| !c.is_ahead_of(position))
        });
        self.parked = waiting;
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Role;

    fn alice() -> User {
        User {
            id: "alice".into(),
            role: Role::User,
            expires_at: u64::MAX,
        }
    }

    #[test]
    fn a_cursor_ahead_waits_until_reached_or_too_long() {
        let start = Instant::now();
        let mut parking = Parking::default();
        let ahead = "v1.0-0-9";
        parking.park(&alice(), 1, Cursor::parse(ahead), start);
        parking.park(&alice(), 2, None, start);
        let here = Cursor::default();
        let due: Vec<u64> = parking.due(&here, start).iter().map(|p| p.conn).collect();
        assert_eq!(due, [2], "no cursor: answered at once");
        assert!(parking.due(&here, start + PARK_LIMIT / 2).is_empty());
        parking.restart_clocks(start + PARK_LIMIT / 2);
        assert!(parking.due(&here, start + PARK_LIMIT).is_empty());
        let late = parking.due(&here, start + PARK_LIMIT * 2);
        assert_eq!(late.iter().map(|p| p.conn).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn one_parked_answer_per_connection() {
        let now = Instant::now();
        let mut parking = Parking::default();
        parking.park(&alice(), 1, Cursor::parse("v1.0-0-9"), now);
        parking.park(&alice(), 1, None, now);
        parking.park(&alice(), 2, None, now);
        parking.forget(2);
        let due = parking.due(&Cursor::default(), now);
        assert_eq!((due.len(), due[0].cursor.as_ref()), (1, None));
    }
}

//! The consumer watchdog's rule, as plain data: given the relay's position
//! and its lag over time, is the consumer stalled, and has rebuilding it
//! helped? No clock is read here; the supervisor passes the time in.
//!
//! A consumer is *stalled* when there is something to read (lag above zero)
//! and its position has not moved for the stall timeout. It is *blind* when
//! the broker could not be asked for the lag for that long while the
//! position did not move: that is an outage, or the relay's own connections
//! wedged (tansu stops answering a long-lived connection; see
//! docs/DECISIONS.md), and only new connections tell which. An idle topic
//! (lag zero) is neither.
//!
//! Both are answered by rebuilding the consumer (and the client that asks
//! for the lag). When a rebuilt consumer makes no progress within another
//! timeout either, while the lag is known to be above zero, the relay is
//! unhealthy (`/healthz` 503) so that an orchestrator restarts it; the
//! watchdog keeps rebuilding meanwhile. Blindness alone never makes the
//! relay unhealthy: restarting it during a broker outage would only throw
//! away its read model.

use std::time::{Duration, Instant};

/// What the supervisor should do after an observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Consuming, idle, or not stalled for long enough yet.
    Fine,
    /// Rebuild the consumer. `healthy` is false when a rebuild already
    /// failed to restore progress.
    Stalled { healthy: bool },
    /// No lag could be read for a whole timeout, and no progress: rebuild
    /// the consumer and the lag client, staying healthy.
    Blind,
}

#[derive(Debug)]
pub struct Watchdog {
    timeout: Duration,
    /// The last position seen, and since when it has not moved while there
    /// was something to read.
    position: i64,
    since: Instant,
    /// Stalls in a row with no progress in between.
    stalls: u32,
}

impl Watchdog {
    pub fn new(timeout: Duration, now: Instant) -> Watchdog {
        Watchdog {
            timeout,
            position: 0,
            since: now,
            stalls: 0,
        }
    }

    /// `position` is the sum of the next offsets of every order partition
    /// (it only grows); `lag` the messages left to read, `None` when the
    /// broker could not be asked.
    pub fn observe(&mut self, now: Instant, position: i64, lag: Option<i64>) -> Verdict {
        if position != self.position {
            self.position = position;
            self.since = now;
            self.stalls = 0;
            return Verdict::Fine;
        }
        if lag == Some(0) {
            self.since = now;
            return Verdict::Fine;
        }
        if now.duration_since(self.since) < self.timeout {
            return Verdict::Fine;
        }
        self.since = now;
        if lag.is_none() {
            return Verdict::Blind;
        }
        self.stalls += 1;
        Verdict::Stalled {
            healthy: self.stalls < 2,
        }
    }

    /// Whether the consumer is making progress (no stall since the last).
    pub fn is_healthy(&self) -> bool {
        self.stalls < 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(30);

    fn at(start: Instant, secs: u64) -> Instant {
        start + Duration::from_secs(secs)
    }

    #[test]
    fn progress_is_never_a_stall() {
        let start = Instant::now();
        let mut dog = Watchdog::new(T, start);
        for s in 0..100 {
            assert_eq!(
                dog.observe(at(start, s * 10), s as i64, Some(500)),
                Verdict::Fine
            );
        }
    }

    #[test]
    fn an_idle_topic_is_not_a_stall() {
        let start = Instant::now();
        let mut dog = Watchdog::new(T, start);
        assert_eq!(dog.observe(at(start, 0), 7, Some(0)), Verdict::Fine);
        assert_eq!(dog.observe(at(start, 100), 7, Some(0)), Verdict::Fine);
        assert_eq!(dog.observe(at(start, 200), 7, Some(0)), Verdict::Fine);
        // Lag appears: the clock starts now, not at the last progress.
        assert_eq!(dog.observe(at(start, 201), 7, Some(3)), Verdict::Fine);
        assert_eq!(dog.observe(at(start, 229), 7, Some(3)), Verdict::Fine);
        assert_eq!(
            dog.observe(at(start, 230), 7, Some(3)),
            Verdict::Stalled { healthy: true }
        );
    }

    #[test]
    fn an_unreadable_lag_without_progress_rebuilds_but_stays_healthy() {
        let start = Instant::now();
        let mut dog = Watchdog::new(T, start);
        assert_eq!(dog.observe(at(start, 0), 7, Some(0)), Verdict::Fine);
        assert_eq!(dog.observe(at(start, 10), 7, None), Verdict::Fine);
        assert_eq!(dog.observe(at(start, 30), 7, None), Verdict::Blind);
        assert_eq!(dog.observe(at(start, 59), 7, None), Verdict::Fine);
        for minute in 1..10 {
            assert_eq!(
                dog.observe(at(start, 30 + 30 * minute), 7, None),
                Verdict::Blind
            );
            assert!(dog.is_healthy());
        }
    }

    #[test]
    fn a_stall_that_a_rebuild_does_not_fix_turns_unhealthy_until_progress() {
        let start = Instant::now();
        let mut dog = Watchdog::new(T, start);
        assert_eq!(dog.observe(at(start, 0), 10, Some(5)), Verdict::Fine);
        assert_eq!(
            dog.observe(at(start, 30), 10, Some(5)),
            Verdict::Stalled { healthy: true }
        );
        assert!(dog.is_healthy());
        // The rebuilt consumer gets its own full timeout.
        assert_eq!(dog.observe(at(start, 59), 10, Some(9)), Verdict::Fine);
        assert_eq!(
            dog.observe(at(start, 60), 10, Some(9)),
            Verdict::Stalled { healthy: false }
        );
        assert!(!dog.is_healthy());
        assert_eq!(
            dog.observe(at(start, 90), 10, Some(9)),
            Verdict::Stalled { healthy: false }
        );
        assert_eq!(dog.observe(at(start, 91), 11, Some(8)), Verdict::Fine);
        assert!(dog.is_healthy());
    }
}

//! Operating limits as plain data: how many WebSocket connections one user
//! and everyone together may hold, and how fast one connection may send
//! frames. The WebSocket endpoint asks before upgrading and keeps the
//! returned [`Slot`] for the connection's life; dropping it gives the slot
//! back, whatever way the connection ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::VariantArray, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum CapReached {
    /// This user holds `--max-connections-per-user` already.
    PerUser,
    /// The relay holds `--max-connections` already.
    Total,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_user: HashMap<String, usize>,
}

/// Counts open connections, per user and in total.
#[derive(Debug)]
pub struct Connections {
    per_user: usize,
    total: usize,
    counts: Mutex<Counts>,
}

impl Connections {
    pub fn new(per_user: usize, total: usize) -> Arc<Connections> {
        Arc::new(Connections {
            per_user,
            total,
            counts: Mutex::new(Counts::default()),
        })
    }

    /// Takes a slot for `user`, or says which limit refuses it.
    pub fn acquire(self: &Arc<Self>, user: &str) -> Result<Slot, CapReached> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.total >= self.total {
            return Err(CapReached::Total);
        }
        let mine = counts.per_user.get(user).copied().unwrap_or(0);
        if mine >= self.per_user {
            return Err(CapReached::PerUser);
        }
        counts.total += 1;
        counts.per_user.insert(user.to_owned(), mine + 1);
        Ok(Slot {
            owner: Arc::clone(self),
            user: user.to_owned(),
        })
    }

    /// Whether the relay-wide cap is reached (checked before upgrading a
    /// socket whose user is not known yet).
    pub fn total_full(&self) -> bool {
        self.open() >= self.total
    }

    /// Open connections in total (tests and gauges).
    pub fn open(&self) -> usize {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).total
    }

    fn release(&self, user: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_user.get_mut(user) {
            *n -= 1;
            if *n == 0 {
                counts.per_user.remove(user);
            }
        }
    }
}

/// One held connection slot; given back on drop.
#[derive(Debug)]
pub struct Slot {
    owner: Arc<Connections>,
    user: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.owner.release(&self.user);
    }
}

/// A token bucket: `rate` frames per second on average, bursts up to
/// `burst`. The caller passes the time in.
#[derive(Debug)]
pub struct FrameRate {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl FrameRate {
    pub fn new(rate: u32, now: Instant) -> FrameRate {
        let rate = f64::from(rate.max(1));
        // A second's worth of frames may come at once (a reconnect sends a
        // subscribe and a refresh together, a tab wakes up…).
        let burst = rate.max(4.0);
        FrameRate {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Whether one more frame is allowed now.
    pub fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now;
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How long until the next frame is allowed (for the error message).
    pub fn retry_after(&self) -> Duration {
        Duration::from_secs_f64(((1.0 - self.tokens) / self.rate).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_past_the_cap_is_refused_while_others_connect() {
        let conns = Connections::new(2, 5);
        let a1 = conns.acquire("alice").unwrap();
        let _a2 = conns.acquire("alice").unwrap();
        assert_eq!(conns.acquire("alice").unwrap_err(), CapReached::PerUser);
        let _b = conns.acquire("bob").unwrap();
        drop(a1);
        let _a3 = conns.acquire("alice").unwrap();
        assert_eq!(conns.open(), 3);
    }

    #[test]
    fn the_total_cap_holds_across_users_and_slots_come_back() {
        let conns = Connections::new(10, 3);
        let slots: Vec<Slot> = ["a", "b", "c"]
            .iter()
            .map(|u| conns.acquire(u).unwrap())
            .collect();
        assert_eq!(conns.acquire("d").unwrap_err(), CapReached::Total);
        drop(slots);
        assert_eq!(conns.open(), 0);
        assert!(conns.acquire("d").is_ok());
    }

    #[test]
    fn frames_beyond_the_rate_are_refused_and_allowed_again_later() {
        let start = Instant::now();
        let mut rate = FrameRate::new(10, start);
        let allowed = (0..100).filter(|_| rate.allow(start)).count();
        assert_eq!(allowed, 10, "a burst of one second's worth");
        assert!(!rate.allow(start));
        assert!(rate.retry_after() > Duration::ZERO);
        // Half a second later, five more.
        let later = start + Duration::from_millis(500);
        let allowed = (0..100).filter(|_| rate.allow(later)).count();
        assert_eq!(allowed, 5);
        // A steady 10/s is never refused.
        let mut steady = FrameRate::new(10, start);
        for i in 1..=1000 {
            assert!(steady.allow(start + Duration::from_millis(100 * i)));
        }
    }
}

//! When to reconnect, and how long to wait: the socket's decisions as plain
//! functions, so they are tested natively and the async loop only follows
//! them.

use protocol::frames::close;

/// A connection with no frame for this long is taken as dead. Browsers
/// answer the relay's WebSocket pings without telling the page, so the page
/// asks itself: after a third of the window with nothing heard it sends
/// `ping`, and the relay's `pong` counts as a sign of life. This window is
/// also the longest a half-open socket can go unnoticed.
pub const HEARTBEAT_MS: u32 = 45_000;

/// Exponential backoff with jitter between reconnect attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait before the first retry (before jitter).
    pub initial_ms: u32,
    /// The longest wait.
    pub max_ms: u32,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            initial_ms: 500,
            max_ms: 15_000,
        }
    }
}

impl Backoff {
    /// The wait before retry number `attempt` (1 for the first retry).
    /// `jitter` is a random number in `[0, 1)`: half of the wait is fixed,
    /// half random, so clients dropped together do not come back together,
    /// and no wait is shorter than half its step.
    pub fn delay_ms(&self, attempt: u32, jitter: f64) -> u32 {
        let doublings = attempt.saturating_sub(1).min(16);
        let step = self
            .initial_ms
            .saturating_mul(1 << doublings)
            .min(self.max_ms);
        let half = step / 2;
        let jitter = jitter.clamp(0.0, 1.0);
        half + (f64::from(step - half) * jitter) as u32
    }
}

/// Settings of the socket loop. Tests shrink the waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketConfig {
    pub backoff: Backoff,
    pub heartbeat_ms: u32,
}

impl Default for SocketConfig {
    fn default() -> SocketConfig {
        SocketConfig {
            backoff: Backoff::default(),
            heartbeat_ms: HEARTBEAT_MS,
        }
    }
}

/// The close code a follower tab's link reports when the leader tab's
/// socket went down (a code no relay sends): wait and join again.
pub const LEADER_DOWN: u16 = 4999;

/// How one connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The socket closed (or never opened) with this close code.
    Closed { code: u16, reason: String },
    /// Nothing was heard for the heartbeat window; the client dropped it.
    Silent,
    /// The relay is draining (`server:draining`): the link still delivers
    /// for a while, and the client moves to another relay now.
    Draining,
    /// This tab became the leader of its user's tabs: it opens the relay's
    /// socket now, from the last cursor it applied.
    Lead,
}

/// What the loop does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The token expired (4001) or was refused in the `auth` frame (4003):
    /// stop and show the sign-in screen.
    SignIn,
    /// The relay asked for a resync (4002), or is draining: reconnect at
    /// once with the cursor; nothing is lost, so there is nothing to wait
    /// for.
    ReconnectNow,
    /// Anything else: wait ([`Backoff`]) and reconnect with the cursor.
    Backoff,
}

/// Decides what follows the end of a connection.
pub fn next_step(ended: &Ended) -> Next {
    match ended {
        Ended::Closed { code, .. }
            if *code == close::TOKEN_EXPIRED || *code == close::UNAUTHORIZED =>
        {
            Next::SignIn
        }
        Ended::Closed { code, .. } if *code == close::RESYNC => Next::ReconnectNow,
        // Moving off a draining relay: at once, to another relay (the
        // proxy's choice), with the cursor; the old link closes after.
        Ended::Draining | Ended::Lead => Next::ReconnectNow,
        _ => Next::Backoff,
    }
}

/// Splits a wait into one-second steps for the "reconnecting in N s" chip:
/// each item is the whole seconds left (rounded up) and how long to sleep
/// before the next item.
pub fn countdown(delay_ms: u32) -> Vec<(u32, u32)> {
    let mut steps = Vec::new();
    let mut left = delay_ms;
    while left > 0 {
        let secs = left.div_ceil(1000);
        let sleep = left - (secs - 1) * 1000;
        steps.push((secs, sleep));
        left -= sleep;
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_half_a_second_up_to_fifteen() {
        let backoff = Backoff::default();
        let cases = [
            // (attempt, jitter, delay)
            (1, 0.0, 250),
            (1, 0.999_999, 499),
            (2, 0.0, 500),
            (3, 0.5, 1_500),
            (5, 0.0, 4_000),
            (6, 0.0, 7_500),
            (7, 0.0, 7_500),
            (7, 1.0, 15_000),
            (40, 1.0, 15_000),
            (u32::MAX, 0.5, 11_250),
        ];
        for (attempt, jitter, delay) in cases {
            assert_eq!(
                backoff.delay_ms(attempt, jitter),
                delay,
                "attempt {attempt} jitter {jitter}"
            );
        }
    }

    #[test]
    fn close_codes_decide_what_follows() {
        let closed = |code: u16| Ended::Closed {
            code,
            reason: String::new(),
        };
        let cases = [
            (closed(close::TOKEN_EXPIRED), Next::SignIn),
            (closed(close::UNAUTHORIZED), Next::SignIn),
            (closed(close::TRY_AGAIN_LATER), Next::Backoff),
            (closed(close::RESYNC), Next::ReconnectNow),
            (closed(close::GOING_AWAY), Next::Backoff),
            (closed(close::POLICY), Next::Backoff),
            (closed(1006), Next::Backoff),
            (closed(1000), Next::Backoff),
            (Ended::Silent, Next::Backoff),
            (Ended::Draining, Next::ReconnectNow),
        ];
        for (ended, next) in cases {
            assert_eq!(next_step(&ended), next, "{ended:?}");
        }
    }

    #[test]
    fn the_countdown_ticks_whole_seconds() {
        assert_eq!(countdown(0), vec![]);
        assert_eq!(countdown(250), vec![(1, 250)]);
        assert_eq!(countdown(1_000), vec![(1, 1_000)]);
        assert_eq!(countdown(2_300), vec![(3, 300), (2, 1_000), (1, 1_000)]);
        let total: u32 = countdown(14_321).iter().map(|(_, ms)| ms).sum();
        assert_eq!(total, 14_321);
    }
}

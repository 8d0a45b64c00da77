//! What the browser measures of delivery, and when it tells the relay: the
//! relay's clock estimated from `clock:sync` (NTP's way: the sample with the
//! shortest round trip wins, half the round trip is taken as the way out),
//! each live event's latency from the relay's `sentAt` to applied in the
//! store with that difference removed, and the reasons of reconnects.
//! Batched: one `delivery:report` a few seconds at most, within the
//! relay's per-connection bounds (`protocol::report`).

use protocol::report::{
    ClockAnswer, DeliveryReport, ReconnectCause, MAX_REPORT_RECONNECTS, MAX_REPORT_VALUES,
    MIN_REPORT_INTERVAL_MS,
};

use crate::policy::Ended;

/// A report goes out when it is full or this old (ms), whichever first.
pub const REPORT_EVERY_MS: f64 = 5_000.0;

/// Most latencies kept while waiting to report; a browser flooded with
/// events reports a sample, not a backlog.
const MAX_PENDING: usize = 2 * MAX_REPORT_VALUES;

/// The relay's clock against this browser's: `relay − browser`, in ms.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ClockOffset {
    /// `(round trip, offset)` of the best sample so far.
    best: Option<(f64, f64)>,
}

impl ClockOffset {
    /// Takes the relay's answer to a `clock:sync` sent at `answer.sent`,
    /// received at `received` (both on the browser's clock).
    pub fn sample(&mut self, answer: ClockAnswer, received: f64) {
        let (sent, relay) = (answer.sent as f64, answer.relay);
        let round_trip = received - sent;
        if !(round_trip >= 0.0 && relay.is_finite()) {
            return;
        }
        let offset = relay - (sent + received) / 2.0;
        if self.best.is_none_or(|(best, _)| round_trip <= best) {
            self.best = Some((round_trip, offset));
        }
    }

    /// `relay − browser` in ms, once a sample came back.
    pub fn offset(&self) -> Option<f64> {
        self.best.map(|(_, offset)| offset)
    }
}

/// Why a connection ended, as a reconnect cause to report; `None` for the
/// end of a link to the leader tab, which is no connection to a relay.
pub fn cause(ended: &Ended) -> Option<ReconnectCause> {
    use protocol::frames::close;
    Some(match ended {
        Ended::Closed { code, .. } if *code == crate::policy::LEADER_DOWN => return None,
        Ended::Lead => return None,
        Ended::Closed { code, .. } => match *code {
            close::RESYNC => ReconnectCause::Resync,
            close::GOING_AWAY => ReconnectCause::GoingAway,
            1006 => ReconnectCause::Network,
            _ => ReconnectCause::Closed,
        },
        Ended::Silent => ReconnectCause::Silence,
        Ended::Draining => ReconnectCause::Draining,
    })
}

/// Measurements waiting to be reported.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reports {
    pending: DeliveryReport,
    /// When the first pending value came (browser ms).
    since: Option<f64>,
    /// When the last report went out (browser ms).
    last_sent: Option<f64>,
}

impl Reports {
    /// A live event sent by the relay at `sent_at` (its clock) was applied
    /// at `applied_at` (this browser's). Not measured before the clock is
    /// known.
    pub fn applied(&mut self, sent_at: f64, applied_at: f64, clock: &ClockOffset) {
        let Some(offset) = clock.offset() else {
            return;
        };
        if self.pending.latencies_us.len() >= MAX_PENDING {
            return;
        }
        // An estimate off by up to half a round trip can make a fast
        // delivery look a little negative: it took no time. (`as` saturates.)
        let latency_ms = (applied_at + offset - sent_at).max(0.0);
        self.pending
            .latencies_us
            .push((latency_ms * 1000.0).round() as u32);
        self.since.get_or_insert(applied_at);
    }

    /// The last connection ended this way; reported with the next values.
    pub fn reconnected(&mut self, ended: &Ended, now: f64) {
        let Some(cause) = cause(ended) else { return };
        if self.pending.reconnects.len() < MAX_REPORT_RECONNECTS {
            self.pending.reconnects.push(cause);
            self.since.get_or_insert(now);
        }
    }

    /// Whether nothing waits to be reported.
    pub fn is_empty(&self) -> bool {
        self.since.is_none()
    }

    /// The report to send at `now`, if one is due: something is waiting,
    /// the relay's interval has passed since the last report, and it is
    /// full or has waited [`REPORT_EVERY_MS`]. At most
    /// `MAX_REPORT_VALUES` values; the rest wait for the next one.
    pub fn due(&mut self, now: f64) -> Option<DeliveryReport> {
        let since = self.since?;
        let interval = MIN_REPORT_INTERVAL_MS as f64;
        if self.last_sent.is_some_and(|last| now - last < interval) {
            return None;
        }
        let full = self.pending.latencies_us.len() >= MAX_REPORT_VALUES;
        if !full && now - since < REPORT_EVERY_MS {
            return None;
        }
        let pending = &mut self.pending.latencies_us;
        let rest = pending.split_off(pending.len().min(MAX_REPORT_VALUES));
        let report = DeliveryReport {
            latencies_us: std::mem::replace(pending, rest),
            reconnects: std::mem::take(&mut self.pending.reconnects),
        };
        self.since = (!self.pending.latencies_us.is_empty()).then_some(now);
        self.last_sent = Some(now);
        Some(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sync(sent: u64, relay: f64) -> ClockAnswer {
        ClockAnswer { sent, relay }
    }

    #[test]
    fn the_offset_comes_from_the_shortest_round_trip() {
        let mut clock = ClockOffset::default();
        assert_eq!(clock.offset(), None);
        // The relay's clock is 30 s behind; the way out took 40 ms, the way
        // back 10 ms: a 25 ms error, from a 50 ms round trip.
        clock.sample(sync(100_000, 70_040.0), 100_050.0);
        assert_eq!(clock.offset(), Some(-30_000.0 + 15.0));
        // A 4 ms round trip, symmetric: exact, and it wins.
        clock.sample(sync(200_000, 170_002.0), 200_004.0);
        assert_eq!(clock.offset(), Some(-30_000.0));
        // A slower one later does not replace it.
        clock.sample(sync(300_000, 270_100.0), 300_200.0);
        assert_eq!(clock.offset(), Some(-30_000.0));
    }

    #[test]
    fn answers_that_cannot_be_right_are_ignored() {
        let mut clock = ClockOffset::default();
        clock.sample(sync(10, 100.0), 5.0);
        clock.sample(sync(10, f64::NAN), 12.0);
        assert_eq!(clock.offset(), None);
    }

    #[test]
    fn a_skewed_browser_measures_what_a_correct_one_does() {
        // Both see the relay's event 7 ms after it was sent, with 2 ms
        // round trips; one browser's clock is 30 s fast.
        let mut right = (ClockOffset::default(), Reports::default());
        let mut skewed = (ClockOffset::default(), Reports::default());
        for (browser, skew) in [(&mut right, 0.0), (&mut skewed, 30_000.0)] {
            browser
                .0
                .sample(sync(1_000 + skew as u64, 1_001.0), 1_002.0 + skew);
            browser.1.applied(5_000.0, 5_007.0 + skew, &browser.0);
        }
        let right = right.1.due(20_000.0).unwrap().latencies_us;
        let skewed = skewed.1.due(20_000.0 + 30_000.0).unwrap().latencies_us;
        assert_eq!(right, [7_000]);
        assert_eq!(skewed, [7_000]);
    }

    #[test]
    fn nothing_is_measured_before_the_clock_is_known() {
        let mut reports = Reports::default();
        reports.applied(1.0, 2.0, &ClockOffset::default());
        assert_eq!(reports.due(1e9), None);
    }

    #[test]
    fn reports_are_batched_and_spaced() {
        let mut clock = ClockOffset::default();
        clock.sample(sync(0, 0.0), 0.0);
        let mut reports = Reports::default();
        reports.applied(0.0, 3.0, &clock);
        assert_eq!(reports.due(100.0), None, "not full, not old");
        let first = reports.due(REPORT_EVERY_MS + 3.0).unwrap();
        assert_eq!(first.latencies_us, [3_000]);
        assert_eq!(reports.due(REPORT_EVERY_MS * 10.0), None, "nothing waits");

        // A burst: full reports, one per interval, the rest after.
        let start = 100_000.0;
        for _ in 0..(MAX_REPORT_VALUES + 10) {
            reports.applied(start, start + 1.0, &clock);
        }
        assert_eq!(
            reports.due(start + 1.0).unwrap().latencies_us.len(),
            MAX_REPORT_VALUES
        );
        assert_eq!(
            reports.due(start + 2.0),
            None,
            "within the relay's interval"
        );
        let later = start + 2.0 + REPORT_EVERY_MS;
        assert_eq!(reports.due(later).unwrap().latencies_us.len(), 10);
    }

    #[test]
    fn a_flood_is_sampled_not_kept() {
        let mut clock = ClockOffset::default();
        clock.sample(sync(0, 0.0), 0.0);
        let mut reports = Reports::default();
        for i in 0..100_000 {
            reports.applied(0.0, f64::from(i), &clock);
        }
        assert_eq!(reports.pending.latencies_us.len(), MAX_PENDING);
    }

    #[test]
    fn reconnects_are_reported_with_their_cause() {
        let mut reports = Reports::default();
        let closed = |code| Ended::Closed {
            code,
            reason: String::new(),
        };
        reports.reconnected(&closed(1006), 0.0);
        reports.reconnected(&Ended::Silent, 0.0);
        reports.reconnected(&closed(4002), 0.0);
        let report = reports.due(REPORT_EVERY_MS).unwrap();
        assert_eq!(
            report.reconnects,
            [
                ReconnectCause::Network,
                ReconnectCause::Silence,
                ReconnectCause::Resync
            ]
        );
    }
}

//! What the relay takes from a browser's `delivery:report`: bounded per
//! connection, so a client cannot flood the histograms. Pure: the time
//! comes in, what to count goes out.

use std::time::{Duration, Instant};

use protocol::report::{
    DeliveryReport, ReconnectCause, MAX_REPORTED_US, MAX_REPORT_RECONNECTS, MAX_REPORT_VALUES,
    MIN_REPORT_INTERVAL_MS,
};

/// One connection's last accepted report.
#[derive(Debug, Default)]
pub struct ReportGate(Option<Instant>);

/// A report, as the relay counts it.
#[derive(Debug, Default, PartialEq)]
pub struct Taken {
    /// Latencies to fold into the histogram.
    pub latencies: Vec<Duration>,
    /// Causes of reconnects to count.
    pub reconnects: Vec<ReconnectCause>,
    /// Values left out: past the per-report cap, out of range, or the
    /// whole report, when it came too soon after the last.
    pub dropped: usize,
}

impl ReportGate {
    /// Takes what may be counted of `report`, received at `now`.
    pub fn take(&mut self, report: DeliveryReport, now: Instant) -> Taken {
        let all = report.latencies_us.len() + report.reconnects.len();
        let soon = self.0.is_some_and(|last| {
            now.duration_since(last) < Duration::from_millis(MIN_REPORT_INTERVAL_MS)
        });
        if soon {
            return Taken {
                dropped: all,
                ..Taken::default()
            };
        }
        self.0 = Some(now);
        let latencies: Vec<Duration> = report
            .latencies_us
            .iter()
            .take(MAX_REPORT_VALUES)
            .filter(|us| **us <= MAX_REPORTED_US)
            .map(|us| Duration::from_micros(u64::from(*us)))
            .collect();
        let mut reconnects = report.reconnects;
        reconnects.truncate(MAX_REPORT_RECONNECTS);
        Taken {
            dropped: all - latencies.len() - reconnects.len(),
            latencies,
            reconnects,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(latencies_us: Vec<u32>, reconnects: usize) -> DeliveryReport {
        DeliveryReport {
            latencies_us,
            reconnects: vec![ReconnectCause::Network; reconnects],
        }
    }

    #[test]
    fn a_report_becomes_durations() {
        let mut gate = ReportGate::default();
        let taken = gate.take(report(vec![1500, 20_000], 1), Instant::now());
        assert_eq!(
            taken.latencies,
            [Duration::from_micros(1500), Duration::from_millis(20)]
        );
        assert_eq!(taken.reconnects, [ReconnectCause::Network]);
        assert_eq!(taken.dropped, 0);
    }

    #[test]
    fn values_out_of_range_or_past_the_cap_are_dropped() {
        let mut gate = ReportGate::default();
        let hostile = vec![u32::MAX, MAX_REPORTED_US + 1, 3000];
        let taken = gate.take(report(hostile, 40), Instant::now());
        assert_eq!(taken.latencies, [Duration::from_millis(3)]);
        assert_eq!(taken.reconnects.len(), MAX_REPORT_RECONNECTS);
        assert_eq!(taken.dropped, 2 + 40 - MAX_REPORT_RECONNECTS);

        let mut gate = ReportGate::default();
        let flood = gate.take(report(vec![1000; 10_000], 0), Instant::now());
        assert_eq!(flood.latencies.len(), MAX_REPORT_VALUES);
        assert_eq!(flood.dropped, 10_000 - MAX_REPORT_VALUES);
    }

    #[test]
    fn a_report_too_soon_after_the_last_is_dropped_whole() {
        let mut gate = ReportGate::default();
        let start = Instant::now();
        assert_eq!(gate.take(report(vec![1000], 0), start).dropped, 0);
        let soon = gate.take(
            report(vec![1000, 2000], 1),
            start + Duration::from_millis(10),
        );
        assert_eq!((soon.latencies.len(), soon.dropped), (0, 3));
        let later = start + Duration::from_millis(MIN_REPORT_INTERVAL_MS);
        assert_eq!(gate.take(report(vec![1000], 0), later).latencies.len(), 1);
    }
}

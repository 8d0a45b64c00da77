//! The relay's recent past, for the admin Delivery panel: every
//! [`SAMPLE_SECS`] the relay reads its own metrics ([`Reading`]) and keeps
//! what changed since the last reading as one [`Point`] (quantiles of each
//! delivery stage over the interval, connections, reconnects, rejects,
//! lag), for the last [`KEPT_POINTS`] intervals. Pure: readings in, points
//! out; no clock, no registry.

use std::collections::VecDeque;

/// Seconds between two readings.
pub const SAMPLE_SECS: u64 = 10;
/// Points kept: 30 minutes.
pub const KEPT_POINTS: usize = 180;

/// One histogram as read: finite upper bounds and cumulative counts (the
/// `+Inf` bucket is `count`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Buckets {
    pub bounds: Vec<f64>,
    pub cumulative: Vec<u64>,
    pub count: u64,
}

impl Buckets {
    /// The `q` quantile (0..1) of what was observed between `before` and
    /// `self`, interpolated within its bucket as Prometheus'
    /// `histogram_quantile` does; `None` when nothing was.
    pub fn quantile_since(&self, before: &Buckets, q: f64) -> Option<f64> {
        let total = self.count.checked_sub(before.count).filter(|n| *n > 0)?;
        let rank = q.clamp(0.0, 1.0) * total as f64;
        let mut below = 0u64;
        let mut lower = 0.0;
        for (i, upper) in self.bounds.iter().enumerate() {
            let now = self.cumulative.get(i).copied().unwrap_or(0);
            let then = before.cumulative.get(i).copied().unwrap_or(0);
            let cumulative = now.saturating_sub(then);
            if cumulative as f64 >= rank && cumulative > below {
                let inside = (cumulative - below) as f64;
                return Some(lower + (upper - lower) * (rank - below as f64) / inside);
            }
            below = cumulative;
            lower = *upper;
        }
        // In the +Inf bucket: the highest finite bound is all we know.
        Some(lower)
    }
}

/// Everything the panel shows, read at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    /// Each delivery stage's histogram, in `Stage` order.
    pub stages: Vec<Buckets>,
    pub connections: i64,
    pub lag: i64,
    /// Totals: reconnects browsers reported, and sockets the relay closed.
    pub reconnects: u64,
    /// Totals of rejected Kafka messages, by reason.
    pub rejected: Vec<(&'static str, u64)>,
}

/// One stage over one interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantiles {
    pub p50: f64,
    pub p99: f64,
    pub count: u64,
}

/// One interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The end of the interval, ms since the epoch.
    pub at_ms: i64,
    /// Per stage, in `Stage` order; `None` when nothing passed it.
    pub stages: Vec<Option<Quantiles>>,
    pub connections: i64,
    pub lag: i64,
    pub reconnects: u64,
    /// Rejects in the interval, by reason (reasons with none left out).
    pub rejected: Vec<(&'static str, u64)>,
}

/// The last [`KEPT_POINTS`] intervals, oldest first.
#[derive(Debug, Default)]
pub struct Series {
    last: Option<Reading>,
    points: VecDeque<Point>,
}

impl Series {
    /// Takes a reading made at `at_ms`; from the second one on, adds the
    /// interval since the last.
    pub fn record(&mut self, reading: Reading, at_ms: i64) {
        if let Some(before) = &self.last {
            let stages = reading
                .stages
                .iter()
                .enumerate()
                .map(|(i, now)| {
                    let then = before.stages.get(i).cloned().unwrap_or_default();
                    Some(Quantiles {
                        p50: now.quantile_since(&then, 0.5)?,
                        p99: now.quantile_since(&then, 0.99)?,
                        count: now.count.saturating_sub(then.count),
                    })
                })
                .collect();
            let rejected = reading
                .rejected
                .iter()
                .map(|(reason, now)| {
                    let then = before
                        .rejected
                        .iter()
                        .find(|(r, _)| r == reason)
                        .map_or(0, |(_, n)| *n);
                    (*reason, now.saturating_sub(then))
                })
                .filter(|(_, n)| *n > 0)
                .collect();
            if self.points.len() == KEPT_POINTS {
                self.points.pop_front();
            }
            self.points.push_back(Point {
                at_ms,
                stages,
                connections: reading.connections,
                lag: reading.lag,
                reconnects: reading.reconnects.saturating_sub(before.reconnects),
                rejected,
            });
        }
        self.last = Some(reading);
    }

    /// The intervals kept, oldest first.
    pub fn points(&self) -> impl ExactSizeIterator<Item = &Point> + DoubleEndedIterator {
        self.points.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(cumulative: &[u64], count: u64) -> Buckets {
        Buckets {
            bounds: vec![0.001, 0.01, 0.1, 1.0],
            cumulative: cumulative.to_vec(),
            count,
        }
    }

    #[test]
    fn quantiles_interpolate_within_the_bucket_of_the_interval() {
        let before = buckets(&[0, 0, 0, 0], 0);
        // 100 observations, all between 1 and 10 ms.
        let after = buckets(&[0, 100, 100, 100], 100);
        let p50 = after.quantile_since(&before, 0.5).unwrap();
        assert!((p50 - 0.0055).abs() < 1e-9, "{p50}");
        let p99 = after.quantile_since(&before, 0.99).unwrap();
        assert!((p99 - 0.00991).abs() < 1e-9, "{p99}");
        // Only what happened since `before` counts.
        let later = buckets(&[100, 200, 200, 200], 200);
        let p50 = later.quantile_since(&after, 0.5).unwrap();
        assert!(p50 <= 0.001, "{p50}");
    }

    #[test]
    fn no_observation_is_no_quantile_and_overflow_is_the_top_bound() {
        let same = buckets(&[1, 1, 1, 1], 1);
        assert_eq!(same.quantile_since(&same, 0.5), None);
        let slow = buckets(&[0, 0, 0, 0], 10);
        assert_eq!(slow.quantile_since(&Buckets::default(), 0.99), Some(1.0));
    }

    #[test]
    fn a_series_keeps_intervals_and_forgets_the_oldest() {
        let mut series = Series::default();
        let reading = |n: u64| Reading {
            stages: vec![buckets(&[n, n, n, n], n)],
            connections: 3,
            lag: 0,
            reconnects: n / 10,
            rejected: vec![("invalid", n / 100), ("oversize", 0)],
        };
        series.record(reading(0), 0);
        assert_eq!(series.points().len(), 0, "one reading is no interval yet");
        series.record(reading(100), 10_000);
        let point = series.points().last().unwrap();
        assert_eq!(point.stages[0].unwrap().count, 100);
        assert_eq!(
            (point.reconnects, point.rejected.clone()),
            (10, vec![("invalid", 1)])
        );
        series.record(reading(100), 20_000);
        let quiet = series.points().last().unwrap();
        assert_eq!((quiet.stages[0], quiet.reconnects), (None, 0));
        for i in 0..KEPT_POINTS as i64 {
            series.record(reading(100), 30_000 + i * 10_000);
        }
        assert_eq!(series.points().len(), KEPT_POINTS);
    }
}

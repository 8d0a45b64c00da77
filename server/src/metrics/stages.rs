//! `relay_delivery_seconds{stage}`: one lean histogram per delivery stage,
//! observed on the delivery path (once per event and socket).
//!
//! The `prometheus` crate's histogram makes four atomic read-modify-writes
//! per observation (a shard switch with ordering fences, the bucket, a
//! compare-and-swap loop on a float sum, the count), on cache lines every
//! connection task shares. This one makes two relaxed adds: the bucket, and
//! the sum in nanoseconds; the count is the buckets' total, read when
//! scraped. It renders through the crate's encoder as an ordinary
//! histogram (it is a `Collector`).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use prometheus::core::{Collector, Desc};
use prometheus::proto;

use strum::VariantArray;

use super::series::Buckets;
use super::Stage;

/// One stage: a counter per bucket (the last one past every bound) and the
/// sum of what was observed.
#[derive(Debug)]
struct Series {
    buckets: Box<[AtomicU64]>,
    sum_ns: AtomicU64,
}

#[derive(Debug)]
struct Inner {
    desc: Desc,
    /// Upper bounds, in seconds (as rendered) and as durations (compared).
    bounds: Vec<f64>,
    limits: Vec<Duration>,
    series: Vec<Series>,
}

/// The delivery stages' histograms. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct Stages(Arc<Inner>);

impl Stages {
    pub fn new(name: &str, help: &str, bounds: &[f64]) -> Stages {
        let desc = Desc::new(
            name.to_owned(),
            help.to_owned(),
            vec!["stage".to_owned()],
            Default::default(),
        )
        .expect("a valid metric name");
        let series = Stage::VARIANTS
            .iter()
            .map(|_| Series {
                buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
                sum_ns: AtomicU64::new(0),
            })
            .collect();
        Stages(Arc::new(Inner {
            desc,
            bounds: bounds.to_vec(),
            limits: bounds.iter().map(|b| Duration::from_secs_f64(*b)).collect(),
            series,
        }))
    }

    fn series(&self, stage: Stage) -> Option<&Series> {
        let index = Stage::VARIANTS.iter().position(|s| *s == stage)?;
        self.0.series.get(index)
    }

    /// Counts one event that took `took` at `stage`: two relaxed adds.
    pub fn observe(&self, stage: Stage, took: Duration) {
        let Some(series) = self.series(stage) else {
            return;
        };
        let limits = &self.0.limits;
        let bucket = limits
            .iter()
            .position(|limit| took <= *limit)
            .unwrap_or(limits.len());
        series.buckets[bucket].fetch_add(1, Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        series.sum_ns.fetch_add(nanos, Relaxed);
    }

    /// What `stage` holds now, bucket by bucket (the panel's readings).
    pub fn buckets(&self, stage: Stage) -> Buckets {
        let Some(series) = self.series(stage) else {
            return Buckets::default();
        };
        let mut total = 0;
        let mut cumulative = Vec::with_capacity(self.0.bounds.len());
        for (i, counter) in series.buckets.iter().enumerate() {
            total += counter.load(Relaxed);
            if i < self.0.bounds.len() {
                cumulative.push(total);
            }
        }
        Buckets {
            bounds: self.0.bounds.clone(),
            cumulative,
            count: total,
        }
    }

    /// How many events `stage` counted (tests).
    pub fn count(&self, stage: Stage) -> u64 {
        self.buckets(stage).count
    }
}

impl Collector for Stages {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.0.desc]
    }

    fn collect(&self) -> Vec<proto::MetricFamily> {
        let mut family = proto::MetricFamily::default();
        family.set_name(self.0.desc.fq_name.clone());
        family.set_help(self.0.desc.help.clone());
        family.set_field_type(proto::MetricType::HISTOGRAM);
        for (stage, series) in Stage::VARIANTS.iter().zip(&self.0.series) {
            let read = self.buckets(*stage);
            let mut histogram = proto::Histogram::default();
            histogram.set_sample_count(read.count);
            histogram.set_sample_sum(series.sum_ns.load(Relaxed) as f64 / 1e9);
            histogram.set_bucket(
                read.bounds
                    .iter()
                    .zip(&read.cumulative)
                    .map(|(bound, count)| {
                        let mut bucket = proto::Bucket::default();
                        bucket.set_upper_bound(*bound);
                        bucket.set_cumulative_count(*count);
                        bucket
                    })
                    .collect(),
            );
            let mut label = proto::LabelPair::default();
            label.set_name("stage".to_owned());
            label.set_value(<&str>::from(*stage).to_owned());
            let mut metric = proto::Metric::default();
            metric.set_label(vec![label]);
            metric.set_histogram(histogram);
            family.mut_metric().push(metric);
        }
        vec![family]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_their_bucket_and_add_up() {
        let stages = Stages::new("t_seconds", "test", &[0.001, 0.01]);
        stages.observe(Stage::RelayToSocket, Duration::from_micros(500));
        stages.observe(Stage::RelayToSocket, Duration::from_millis(1));
        stages.observe(Stage::RelayToSocket, Duration::from_millis(5));
        stages.observe(Stage::RelayToSocket, Duration::from_secs(3));
        let read = stages.buckets(Stage::RelayToSocket);
        assert_eq!((read.cumulative.clone(), read.count), (vec![2, 3], 4));
        assert_eq!(stages.count(Stage::KafkaToRelay), 0);
        let family = &stages.collect()[0];
        let metric = &family.get_metric()[1];
        assert_eq!(metric.get_histogram().get_sample_count(), 4);
        let sum = metric.get_histogram().get_sample_sum();
        assert!((sum - 3.0065).abs() < 1e-9, "{sum}");
    }
}

//! Latency percentiles.

/// Percentiles of latencies in microseconds, returned in milliseconds.
pub fn percentiles(mut micros: Vec<u32>, at: &[f64]) -> Vec<Option<f64>> {
    micros.sort_unstable();
    at.iter()
        .map(|p| {
            if micros.is_empty() {
                return None;
            }
            // The small tolerance keeps 99.9 % of 1000 at rank 999 despite float error.
            let rank = (p * micros.len() as f64 / 100.0 - 1e-9).ceil() as usize;
            let index = rank.clamp(1, micros.len()) - 1;
            Some(f64::from(micros[index]) / 1000.0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn nearest_rank_percentiles() {
        let p = super::percentiles(
            (1..=1000).map(|ms| ms * 1000).collect(),
            &[50.0, 99.0, 99.9, 100.0],
        );
        assert_eq!(p, [Some(500.0), Some(990.0), Some(999.0), Some(1000.0)]);
        assert_eq!(super::percentiles(vec![], &[50.0]), [None]);
    }
}

//! Latency summaries (nearest-rank percentiles) and how durations are printed.

use std::time::Duration;

use serde_json::{Value, json};

/// Percentiles of a set of samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub mean: Duration,
}

impl Summary {
    /// `None` for no samples.
    pub fn of(samples: &[Duration]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let total: Duration = sorted.iter().sum();
        Some(Self {
            count: sorted.len(),
            p50: percentile(&sorted, 50.0),
            p95: percentile(&sorted, 95.0),
            p99: percentile(&sorted, 99.0),
            max: sorted[sorted.len() - 1],
            mean: total / sorted.len() as u32,
        })
    }

    pub fn json(&self) -> Value {
        json!({
            "count": self.count,
            "p50_ms": ms(self.p50),
            "p95_ms": ms(self.p95),
            "p99_ms": ms(self.p99),
            "max_ms": ms(self.max),
            "mean_ms": ms(self.mean),
        })
    }
}

/// Nearest-rank percentile of ascending `sorted` (non-empty): the smallest sample with at
/// least `p`% of the samples at or below it.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Milliseconds with microsecond precision, for JSON.
pub fn ms(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

/// `0.84 ms`, `41.2 ms`, `412 ms`, `12.3 s`.
pub fn human(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else if ms < 10_000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|m| Duration::from_millis(*m)).collect()
    }

    #[test]
    fn nearest_rank_percentiles() {
        // GIVEN 1..=20 ms in a shuffled order
        let mut samples = millis(&(1..=20).collect::<Vec<_>>());
        samples.reverse();
        // WHEN summarised
        let s = Summary::of(&samples).unwrap();
        // THEN p50 is the 10th, p95 the 19th, p99 and max the 20th sample
        assert_eq!(s.count, 20);
        assert_eq!(s.p50, Duration::from_millis(10));
        assert_eq!(s.p95, Duration::from_millis(19));
        assert_eq!(s.p99, Duration::from_millis(20));
        assert_eq!(s.max, Duration::from_millis(20));
        assert_eq!(s.mean, Duration::from_micros(10_500));
    }

    #[test]
    fn one_sample_is_every_percentile_and_none_is_nothing() {
        let s = Summary::of(&millis(&[7])).unwrap();
        assert_eq!(
            (s.p50, s.p99, s.max),
            (
                Duration::from_millis(7),
                Duration::from_millis(7),
                Duration::from_millis(7)
            )
        );
        assert_eq!(Summary::of(&[]), None);
    }

    #[test]
    fn durations_print_with_sensible_precision() {
        assert_eq!(human(Duration::from_micros(840)), "0.84 ms");
        assert_eq!(human(Duration::from_micros(41_240)), "41.2 ms");
        assert_eq!(human(Duration::from_micros(412_400)), "412 ms");
        assert_eq!(human(Duration::from_millis(12_345)), "12.3 s");
        assert_eq!(ms(Duration::from_micros(41_240)), 41.24);
    }
}

//! Summaries of timed iterations, one JSON line per case.

use std::time::Duration;

use serde::Serialize;

/// What `warm-overhead` prints for a case, in microseconds.
#[derive(Debug, PartialEq, Serialize)]
pub struct Summary {
    pub case: String,
    pub function: &'static str,
    pub iterations: usize,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub mean_us: f64,
    pub max_us: f64,
}

impl Summary {
    /// Summarizes the measured iterations (at least one) of a case.
    pub fn of(case: String, function: &'static str, mut samples: Vec<Duration>) -> Self {
        assert!(!samples.is_empty(), "{case}: nothing was measured");
        samples.sort_unstable();
        let total: Duration = samples.iter().sum();
        let mean = total / u32::try_from(samples.len()).expect("fewer than 2^32 iterations");
        Self {
            case,
            function,
            iterations: samples.len(),
            p50_us: micros(percentile(&samples, 0.50)),
            p90_us: micros(percentile(&samples, 0.90)),
            p99_us: micros(percentile(&samples, 0.99)),
            mean_us: micros(mean),
            max_us: micros(samples[samples.len() - 1]),
        }
    }

    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("summaries serialize")
    }
}

/// The nearest-rank percentile of sorted samples: the smallest sample that at least
/// `fraction` of all samples are less than or equal to.
fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let rank = (fraction * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Microseconds, to the nanosecond.
fn micros(duration: Duration) -> f64 {
    duration.as_nanos() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).rev().map(Duration::from_micros).collect();
        let summary = Summary::of("case".into(), "function", samples);
        assert_eq!((summary.p50_us, summary.p90_us, summary.p99_us), (50.0, 90.0, 99.0));
        assert_eq!((summary.mean_us, summary.max_us), (50.5, 100.0));
        let one = Summary::of("case".into(), "function", vec![Duration::from_nanos(1500)]);
        assert_eq!((one.p50_us, one.p99_us, one.max_us), (1.5, 1.5, 1.5));
    }
}

//! Summaries of timed iterations, one JSON line per case.

use std::time::Duration;

use serde::Serialize;

/// What `warm-overhead` prints for a case, in microseconds. The top-level percentiles are
/// CPU time of the thread that ran the invocation (`clock`); `wall` is elapsed time, which
/// for a case over the SDK also holds the loopback round trip and the stub's answer.
#[derive(Debug, PartialEq, Serialize)]
pub struct Summary {
    pub case: String,
    pub function: &'static str,
    /// What the handler's ports are backed by (`runner::Over`).
    pub over: &'static str,
    pub clock: &'static str,
    pub iterations: usize,
    #[serde(flatten)]
    pub cpu: Percentiles,
    pub wall: Percentiles,
}

#[derive(Debug, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub mean_us: f64,
    pub max_us: f64,
}

/// One measured invocation.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub cpu: Duration,
    pub wall: Duration,
}

impl Summary {
    /// Summarizes the measured iterations (at least one) of a case.
    pub fn of(case: String, function: &'static str, over: &'static str, samples: &[Sample]) -> Self {
        assert!(!samples.is_empty(), "{case}: nothing was measured");
        Self {
            case,
            function,
            over,
            clock: "thread CPU",
            iterations: samples.len(),
            cpu: Percentiles::of(samples.iter().map(|s| s.cpu).collect()),
            wall: Percentiles::of(samples.iter().map(|s| s.wall).collect()),
        }
    }

    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("summaries serialize")
    }
}

impl Percentiles {
    fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        let total: Duration = samples.iter().sum();
        let mean = total / u32::try_from(samples.len()).expect("fewer than 2^32 iterations");
        Self {
            p50_us: micros(percentile(&samples, 0.50)),
            p90_us: micros(percentile(&samples, 0.90)),
            p99_us: micros(percentile(&samples, 0.99)),
            mean_us: micros(mean),
            max_us: micros(samples[samples.len() - 1]),
        }
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

    fn samples(micros: impl Iterator<Item = u64>) -> Vec<Sample> {
        micros.map(|us| Sample { cpu: Duration::from_micros(us), wall: Duration::from_micros(2 * us) }).collect()
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let summary = Summary::of("case".into(), "function", "ports", &samples((1..=100).rev()));
        let cpu = &summary.cpu;
        assert_eq!((cpu.p50_us, cpu.p90_us, cpu.p99_us), (50.0, 90.0, 99.0));
        assert_eq!((cpu.mean_us, cpu.max_us), (50.5, 100.0));
        assert_eq!((summary.wall.p50_us, summary.wall.max_us), (100.0, 200.0));
        let one = Summary::of(
            "case".into(),
            "function",
            "ports",
            &[Sample { cpu: Duration::from_nanos(1500), wall: Duration::from_nanos(1600) }],
        );
        assert_eq!((one.cpu.p50_us, one.cpu.p99_us, one.cpu.max_us), (1.5, 1.5, 1.5));
    }

    #[test]
    fn cpu_percentiles_are_top_level_and_wall_ones_nested() {
        let line = Summary::of("case".into(), "function", "ports", &samples(1..=4)).to_json_line();
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!((json["p99_us"].as_f64(), json["wall"]["p99_us"].as_f64()), (Some(4.0), Some(8.0)));
        assert_eq!(json["clock"], "thread CPU");
    }
}

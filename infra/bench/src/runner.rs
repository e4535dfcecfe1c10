//! Runs a case: warm-up iterations, then measured ones, each timed on its own.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::stats::{Sample, Summary};

pub const USAGE: &str = "\
usage: warm-overhead [--iterations N] [--warmup N] [--case SUBSTRING]

Times each Bookish Lambda handler (CPU time of the thread it runs on, and wall time), over
in-memory stores and, for some routes, through the AWS SDK against a stub DynamoDB on
loopback. One JSON line per case on stdout.
  --iterations N      measured iterations per case (default 20000)
  --warmup N          untimed iterations before them (default 2000)
  --case SUBSTRING    only the cases whose name contains SUBSTRING";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub warmup: usize,
    pub iterations: usize,
    /// Only the cases whose name contains this.
    pub case: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self { warmup: 2_000, iterations: 20_000, case: None }
    }
}

impl Options {
    /// Parses the command line (without the program name).
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut options = Self::default();
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--iterations" => options.iterations = count(&flag, &value()?)?,
                "--warmup" => options.warmup = count(&flag, &value()?)?,
                "--case" => options.case = Some(value()?),
                _ => return Err(format!("unknown argument {flag:?}")),
            }
        }
        if options.iterations == 0 {
            return Err("--iterations must be at least 1".into());
        }
        Ok(options)
    }

    pub fn selects(&self, case: &str) -> bool {
        self.case.as_deref().is_none_or(|wanted| case.contains(wanted))
    }
}

fn count(flag: &str, value: &str) -> Result<usize, String> {
    value.parse().map_err(|_| format!("{flag} takes a whole number; got {value:?}"))
}

/// What a case's response must be: we never time an error path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Success {
    /// An API Gateway response with this status.
    Status(u16),
    /// An SQS or DynamoDB stream batch response that reports no failed record.
    NoBatchItemFailures,
}

impl Success {
    /// Whether the serialized response is this success; if not, why.
    pub fn check(self, response: &[u8]) -> Result<(), String> {
        let json: Value = serde_json::from_slice(response).map_err(|err| format!("the response is not JSON: {err}"))?;
        match self {
            Self::Status(expected) if json["statusCode"] == expected => Ok(()),
            Self::Status(expected) => Err(format!("expected status {expected}, got {}", json["statusCode"])),
            Self::NoBatchItemFailures if json["batchItemFailures"].as_array().is_some_and(Vec::is_empty) => Ok(()),
            Self::NoBatchItemFailures => {
                Err(format!("expected no batch item failures, got {}", json["batchItemFailures"]))
            }
        }
    }
}

/// A route or queue consumer of one function, with its own in-memory state.
// Cases run one at a time on a current-thread runtime: their futures need not be Send.
#[allow(async_fn_in_trait)]
pub trait Case {
    fn meta(&self) -> &Meta;
    /// Untimed, before each invocation: puts back what the previous one changed, so every
    /// iteration does the same work, and returns the event to send.
    async fn next_event(&mut self) -> Vec<u8>;
    /// Timed: one invocation, from the event's JSON to the response's.
    async fn invoke(&self, event: &[u8]) -> Vec<u8>;
    /// Untimed, after each invocation: checks the effect a response cannot show (an email
    /// sent, stock reserved), so a consumer that quietly skipped its work is caught.
    fn check_effect(&self) -> Result<(), String> {
        Ok(())
    }

    /// What the handler's stores are.
    fn over(&self) -> Over {
        Over::MemoryPorts
    }

    fn name(&self) -> String {
        let meta = self.meta();
        match self.over() {
            Over::MemoryPorts => format!("{} {}", meta.function, meta.route),
            Over::SdkStub => format!("{} {} [sdk+stub]", meta.function, meta.route),
        }
    }
}

/// What a case's handler talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Over {
    /// The in-memory adapters its crate's tests use: no I/O, no SDK.
    MemoryPorts,
    /// Its DynamoDB adapter over a real SDK client whose endpoint is a stub on loopback
    /// (`stub_dynamodb`): request building, serialization, signing, the HTTP exchange and
    /// response parsing are all on the measured thread.
    SdkStub,
}

impl Over {
    pub fn label(self) -> &'static str {
        match self {
            Self::MemoryPorts => "in-memory ports",
            Self::SdkStub => "AWS SDK, stub DynamoDB",
        }
    }
}

/// What names a case, and what its every response must be.
pub struct Meta {
    /// The function (binary) that serves it, e.g. `catalog-read`.
    pub function: &'static str,
    /// The route or event, e.g. `GET /v1/books/{id}`.
    pub route: &'static str,
    pub success: Success,
}

/// Runs `options.warmup` then `options.iterations` invocations of the case and summarizes
/// the measured ones. Panics, naming the case, when a response is not the success it must be.
///
/// Call it from a current-thread runtime: every task of the invocation (the SDK's
/// connection included) then runs on this thread, which is the one whose CPU clock is read.
pub async fn run<C: Case>(case: &mut C, options: &Options) -> Summary {
    let name = case.name();
    let mut samples = Vec::with_capacity(options.iterations);
    for iteration in 0..options.warmup + options.iterations {
        let event = case.next_event().await;
        let (cpu, wall) = (thread_cpu_time(), Instant::now());
        let response = case.invoke(&event).await;
        let sample = Sample { cpu: thread_cpu_time() - cpu, wall: wall.elapsed() };
        if let Err(problem) = case.meta().success.check(&response).and_then(|()| case.check_effect()) {
            panic!("{name}: iteration {iteration} failed: {problem}\nresponse: {}", String::from_utf8_lossy(&response));
        }
        if iteration >= options.warmup {
            samples.push(sample);
        }
    }
    Summary::of(name, case.meta().function, case.over().label(), &samples)
}

/// CPU time this thread has used: the invocation's work, without time spent waiting for
/// I/O nor the stub's or other processes' work.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid, writable timespec for the call to fill in.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "the thread CPU clock is readable");
    let seconds = u64::try_from(now.tv_sec).expect("a thread's CPU time is positive");
    Duration::new(seconds, u32::try_from(now.tv_nsec).expect("nanoseconds below a second"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        Options::parse(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn parses_the_flags() {
        assert_eq!(parse(&[]), Ok(Options::default()));
        let options = parse(&["--iterations", "5", "--warmup", "0", "--case", "order-api"]).unwrap();
        assert_eq!(options, Options { warmup: 0, iterations: 5, case: Some("order-api".into()) });
        assert!(options.selects("order-api GET /v1/orders") && !options.selects("cart GET /v1/cart"));
        assert!(parse(&["--iterations", "0"]).is_err());
        assert!(parse(&["--warmup", "many"]).is_err());
        assert!(parse(&["--case"]).is_err());
        assert!(parse(&["--fast"]).is_err());
    }

    #[test]
    fn checks_the_response_is_the_success() {
        assert!(Success::Status(201).check(br#"{"statusCode":201}"#).is_ok());
        assert!(Success::Status(201).check(br#"{"statusCode":409}"#).is_err());
        assert!(Success::NoBatchItemFailures.check(br#"{"batchItemFailures":[]}"#).is_ok());
        assert!(Success::NoBatchItemFailures.check(br#"{"batchItemFailures":[{"itemIdentifier":"m1"}]}"#).is_err());
        assert!(Success::Status(200).check(b"not json").is_err());
    }
}

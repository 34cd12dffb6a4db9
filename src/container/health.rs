//! Health checks as Docker runs them (HEALTHCHECK, `--health-*`), the pure part: the image's
//! and the container's settings merged and checked, the probe's command, and the state
//! machine a probe's result drives (`State.Health`: status, failing streak, the last five
//! results). `health_monitor` runs the probes.
//!
//! Docker's rules, kept here: a success makes the container healthy and ends its start period;
//! a failure within the start period (while still `starting`) does not count; `Retries`
//! failures in a row make it unhealthy. A start resets the status to `starting` and the streak
//! to zero but keeps the log; when the container stops (or is paused) the status becomes
//! `unhealthy` (moby's `CloseMonitorChannel`, "for compatibility reasons").

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::store::config::Healthcheck;

/// Longest probe output kept; more is cut and `...` appended (moby's `maxOutputLen`).
pub const MAX_OUTPUT: usize = 4096;
/// Results kept in `Log` (moby's `maxLogEntries`).
pub const MAX_LOG: usize = 5;

const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: u32 = 3;
/// The shortest non-zero duration a healthcheck takes (Docker's `MinimumDuration`), in ns.
const MINIMUM_NS: i64 = 1_000_000;

/// Docker's `State.Health.Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }

    /// How `ps` shows it after `Up …`: `(health: starting)`, `(healthy)`, `(unhealthy)`.
    pub fn ps_suffix(self) -> &'static str {
        match self {
            HealthStatus::Starting => " (health: starting)",
            HealthStatus::Healthy => " (healthy)",
            HealthStatus::Unhealthy => " (unhealthy)",
        }
    }
}

/// A container's health, recorded in its state and shown by `inspect` as Docker's
/// `State.Health` (hence the field names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: HealthStatus,
    pub failing_streak: u32,
    /// The last `MAX_LOG` results, oldest first.
    pub log: Vec<ProbeResult>,
}

/// One probe's outcome (Docker's `HealthcheckResult`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProbeResult {
    /// RFC 3339 with nanoseconds.
    pub start: String,
    pub end: String,
    /// 0 is healthy; anything else a failure (-1: timed out or could not run).
    pub exit_code: i32,
    pub output: String,
}

/// A healthcheck's durations and retries with Docker's defaults for the zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub start_interval: Duration,
    pub retries: u32,
}

impl Timing {
    pub fn of(h: &Healthcheck) -> Timing {
        let or = |ns: i64, default: Duration| {
            if ns > 0 {
                Duration::from_nanos(ns as u64)
            } else {
                default
            }
        };
        Timing {
            interval: or(h.interval, DEFAULT_INTERVAL),
            timeout: or(h.timeout, DEFAULT_TIMEOUT),
            start_period: or(h.start_period, Duration::ZERO),
            start_interval: or(h.start_interval, DEFAULT_START_INTERVAL),
            retries: if h.retries > 0 {
                h.retries.min(u32::MAX as i64) as u32
            } else {
                DEFAULT_RETRIES
            },
        }
    }

    /// How long to wait before the next probe, `since_start` after the container started:
    /// the start interval while it is still starting within its start period, else the
    /// interval (the first probe too waits one of them).
    pub fn next_delay(&self, since_start: Duration, status: HealthStatus) -> Duration {
        if status == HealthStatus::Starting && since_start < self.start_period {
            self.start_interval
        } else {
            self.interval
        }
    }
}

/// The container's healthcheck: the one given at create over the image's, as Docker merges
/// them (an empty `Test` and each zero field inherit the image's).
pub fn merge(image: Option<&Healthcheck>, given: Option<Healthcheck>) -> Option<Healthcheck> {
    let Some(mut h) = given else {
        return image.cloned();
    };
    if let Some(img) = image {
        if h.test.as_ref().is_none_or(|t| t.is_empty()) {
            h.test = img.test.clone();
        }
        for (mine, theirs) in [
            (&mut h.interval, img.interval),
            (&mut h.timeout, img.timeout),
            (&mut h.start_period, img.start_period),
            (&mut h.start_interval, img.start_interval),
            (&mut h.retries, img.retries),
        ] {
            if *mine == 0 {
                *mine = theirs;
            }
        }
    }
    Some(h)
}

/// Docker's checks of a create's healthcheck (its messages, as the daemon's 400 says them).
pub fn validate(h: &Healthcheck) -> Result<(), String> {
    for (ns, what) in [(h.interval, "Interval"), (h.timeout, "Timeout")] {
        if ns != 0 && ns < MINIMUM_NS {
            return Err(format!("{what} in Healthcheck cannot be less than 1ms"));
        }
    }
    if h.retries < 0 {
        return Err("Retries in Healthcheck cannot be negative".into());
    }
    for (ns, what) in [
        (h.start_period, "StartPeriod"),
        (h.start_interval, "StartInterval"),
    ] {
        if ns != 0 && ns < MINIMUM_NS {
            return Err(format!("{what} in Healthcheck cannot be less than 1ms"));
        }
    }
    Ok(())
}

/// The command a probe runs, or `None` when nothing is probed (no healthcheck, `NONE`, an
/// empty or unknown `Test`): `CMD` runs its arguments, `CMD-SHELL` its string through the
/// container's shell (`/bin/sh -c` unless the image set `SHELL`).
pub fn probe_command(h: Option<&Healthcheck>, shell: &[String]) -> Option<Vec<String>> {
    let test = h?.test.as_ref()?;
    let (kind, args) = test.split_first()?;
    let argv: Vec<String> = match kind.as_str() {
        "CMD" => args.to_vec(),
        "CMD-SHELL" if shell.is_empty() => ["/bin/sh", "-c"]
            .iter()
            .map(|s| s.to_string())
            .chain(args.iter().cloned())
            .collect(),
        "CMD-SHELL" => shell.iter().chain(args).cloned().collect(),
        _ => return None,
    };
    (!argv.is_empty()).then_some(argv)
}

impl Health {
    /// The health of a container that has just started: `starting`, no failures, the log of
    /// earlier runs kept.
    pub fn starting(previous: Option<Health>) -> Health {
        Health {
            status: HealthStatus::Starting,
            failing_streak: 0,
            log: previous.map(|h| h.log).unwrap_or_default(),
        }
    }

    /// Takes a probe's result, started `since_start` after the container. Returns the new
    /// status when it changed (Docker then logs a `health_status: …` event).
    pub fn record(
        &mut self,
        result: ProbeResult,
        since_start: Duration,
        timing: &Timing,
    ) -> Option<HealthStatus> {
        let before = self.status;
        let healthy = result.exit_code == 0;
        if self.log.len() >= MAX_LOG {
            self.log.drain(..=self.log.len() - MAX_LOG);
        }
        self.log.push(result);
        if healthy {
            self.failing_streak = 0;
            self.status = HealthStatus::Healthy;
        } else {
            let in_start_period =
                self.status == HealthStatus::Starting && since_start < timing.start_period;
            if !in_start_period {
                self.failing_streak += 1;
                if self.failing_streak >= timing.retries {
                    self.status = HealthStatus::Unhealthy;
                }
            }
        }
        (self.status != before).then_some(self.status)
    }

    /// The container stopped, or was paused: nothing vouches for it any more.
    pub fn stopped(&mut self) {
        self.status = HealthStatus::Unhealthy;
    }
}

/// A probe's stdout and stderr as they arrive, cut at `MAX_OUTPUT` bytes.
#[derive(Debug, Default)]
pub struct Output {
    kept: Vec<u8>,
    truncated: bool,
}

impl Output {
    pub fn push(&mut self, data: &[u8]) {
        let room = MAX_OUTPUT - self.kept.len();
        let keep = room.min(data.len());
        self.kept.extend_from_slice(&data[..keep]);
        self.truncated |= keep < data.len();
    }

    /// What was kept, `...` after it when more came.
    pub fn text(&self) -> String {
        let mut s = String::from_utf8_lossy(&self.kept).into_owned();
        if self.truncated {
            s.push_str("...");
        }
        s
    }
}

/// The `Output` of a probe that ran out of time, as Docker words it.
pub fn timeout_output(timeout: Duration, output: &str) -> String {
    let d = go_duration(timeout);
    if output.is_empty() {
        format!("Health check exceeded timeout ({d})")
    } else {
        format!("Health check exceeded timeout ({d}): {output}")
    }
}

/// Go's `time.Duration.String`: `30s`, `1.5s`, `1m30s`, `1h0m0s`, `200ms`, `1µs`.
pub fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    // A whole part and a fraction of `div` with its trailing zeros dropped.
    let decimal = |n: u128, div: u128| {
        let (whole, rest) = (n / div, n % div);
        if rest == 0 {
            return whole.to_string();
        }
        let width = div.ilog10() as usize;
        let frac = format!("{rest:0width$}");
        format!("{whole}.{}", frac.trim_end_matches('0'))
    };
    const S: u128 = 1_000_000_000;
    if ns < S {
        let (div, unit) = match ns {
            n if n < 1_000 => (1, "ns"),
            n if n < 1_000_000 => (1_000, "µs"),
            _ => (1_000_000, "ms"),
        };
        return format!("{}{unit}", decimal(ns, div));
    }
    let (h, m, s) = (ns / (3600 * S), ns / (60 * S) % 60, ns % (60 * S));
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{}s", decimal(s, S)));
    out
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;

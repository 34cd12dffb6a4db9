//! The healthcheck flags of `run`/`create` (`--health-*`, `--no-healthcheck`): held as typed,
//! then turned into Docker's `Config.Healthcheck` as the docker CLI does (Go durations,
//! negative values refused, `--no-healthcheck` alone). The daemon's own checks (at least 1ms)
//! are the engine's, so the API gets them too.

use anyhow::{bail, Result};
use clap::Args;

use crate::store::config::Healthcheck;
use crate::util::go_duration;

#[derive(Debug, Clone, Default, Args)]
pub struct HealthArgs {
    /// Command to run to check health.
    #[arg(long = "health-cmd", value_name = "string")]
    pub cmd: Option<String>,
    /// Time between running the check (ms|s|m|h).
    #[arg(
        long = "health-interval",
        value_name = "duration",
        allow_hyphen_values = true
    )]
    pub interval: Option<String>,
    /// Consecutive failures needed to report unhealthy.
    #[arg(
        long = "health-retries",
        value_name = "int",
        allow_hyphen_values = true
    )]
    pub retries: Option<String>,
    /// Time between running the check during the start period (ms|s|m|h).
    #[arg(
        long = "health-start-interval",
        value_name = "duration",
        allow_hyphen_values = true
    )]
    pub start_interval: Option<String>,
    /// Start period for the container to initialize before counting retries towards
    /// unstable (ms|s|m|h).
    #[arg(
        long = "health-start-period",
        value_name = "duration",
        allow_hyphen_values = true
    )]
    pub start_period: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h).
    #[arg(
        long = "health-timeout",
        value_name = "duration",
        allow_hyphen_values = true
    )]
    pub timeout: Option<String>,
    /// Disable any container-specified HEALTHCHECK.
    #[arg(long = "no-healthcheck", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set, default_value = "false")]
    pub no_healthcheck: bool,
}

/// A duration flag's value in nanoseconds (0 when not given), in the docker CLI's words when
/// it is not one.
fn duration(flag: &str, value: Option<&str>) -> Result<i64> {
    let Some(v) = value else { return Ok(0) };
    match go_duration::parse(v) {
        Some(ns) => Ok(ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64),
        None => bail!("invalid argument {v:?} for \"--{flag}\" flag: time: invalid duration {v:?}"),
    }
}

impl HealthArgs {
    /// The healthcheck these flags ask for: `None` when they set nothing (the image's stays),
    /// `Test: ["NONE"]` for `--no-healthcheck`.
    pub fn healthcheck(&self) -> Result<Option<Healthcheck>> {
        let interval = duration("health-interval", self.interval.as_deref())?;
        let timeout = duration("health-timeout", self.timeout.as_deref())?;
        let start_period = duration("health-start-period", self.start_period.as_deref())?;
        let start_interval = duration("health-start-interval", self.start_interval.as_deref())?;
        let retries = match self.retries.as_deref() {
            None => 0,
            Some(v) => v.parse::<i64>().map_err(|_| {
                anyhow::anyhow!(
                    "invalid argument {v:?} for \"--health-retries\" flag: strconv.ParseInt: \
                     parsing {v:?}: invalid syntax"
                )
            })?,
        };
        let cmd = self.cmd.as_deref().filter(|c| !c.is_empty());
        let any = cmd.is_some()
            || [interval, timeout, start_period, start_interval, retries]
                .iter()
                .any(|n| *n != 0);
        if self.no_healthcheck {
            if any {
                bail!("--no-healthcheck conflicts with --health-* options");
            }
            return Ok(Some(Healthcheck {
                test: Some(vec!["NONE".into()]),
                ..Healthcheck::default()
            }));
        }
        if !any {
            return Ok(None);
        }
        for (n, flag) in [
            (interval, "--health-interval"),
            (timeout, "--health-timeout"),
            (retries, "--health-retries"),
            (start_period, "--health-start-period"),
            (start_interval, "--health-start-interval"),
        ] {
            if n < 0 {
                bail!("{flag} cannot be negative");
            }
        }
        Ok(Some(Healthcheck {
            test: cmd.map(|c| vec!["CMD-SHELL".to_string(), c.to_string()]),
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(cmd: Option<&str>, interval: Option<&str>, retries: Option<&str>) -> HealthArgs {
        HealthArgs {
            cmd: cmd.map(String::from),
            interval: interval.map(String::from),
            retries: retries.map(String::from),
            ..HealthArgs::default()
        }
    }

    #[test]
    fn flags_become_dockers_healthcheck() {
        let shell = |c: &str| Some(vec!["CMD-SHELL".to_string(), c.to_string()]);
        // (flags, Ok(test, interval ns, retries) or Err(message))
        type Want = std::result::Result<Option<(Option<Vec<String>>, i64, i64)>, &'static str>;
        let cases: Vec<(HealthArgs, Want)> = vec![
            (HealthArgs::default(), Ok(None)),
            (args(Some(""), None, None), Ok(None)),
            (
                args(Some("true"), None, None),
                Ok(Some((shell("true"), 0, 0))),
            ),
            (
                args(Some("curl -f x"), Some("1.5s"), Some("2")),
                Ok(Some((shell("curl -f x"), 1_500_000_000, 2))),
            ),
            // Settings without a command keep the image's command (merged at create).
            (
                args(None, Some("200ms"), None),
                Ok(Some((None, 200_000_000, 0))),
            ),
            (args(None, Some("0s"), None), Ok(None)),
            (
                args(None, Some("-1s"), None),
                Err("--health-interval cannot be negative"),
            ),
            (
                args(None, None, Some("-2")),
                Err("--health-retries cannot be negative"),
            ),
            (
                args(None, Some("soon"), None),
                Err(
                    r#"invalid argument "soon" for "--health-interval" flag: time: invalid duration "soon""#,
                ),
            ),
            (
                args(None, None, Some("x")),
                Err(
                    r#"invalid argument "x" for "--health-retries" flag: strconv.ParseInt: parsing "x": invalid syntax"#,
                ),
            ),
        ];
        for (a, want) in cases {
            let got = a
                .healthcheck()
                .map(|h| h.map(|h| (h.test, h.interval, h.retries)))
                .map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(String::from), "{a:?}");
        }
    }

    #[test]
    fn no_healthcheck_stands_alone() {
        let none = HealthArgs {
            no_healthcheck: true,
            ..HealthArgs::default()
        };
        let h = none.healthcheck().unwrap().unwrap();
        assert_eq!(h.test, Some(vec!["NONE".to_string()]));
        let both = HealthArgs {
            no_healthcheck: true,
            timeout: Some("3s".into()),
            ..HealthArgs::default()
        };
        assert_eq!(
            both.healthcheck().unwrap_err().to_string(),
            "--no-healthcheck conflicts with --health-* options"
        );
    }
}

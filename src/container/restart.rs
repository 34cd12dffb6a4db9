//! Restart policies (`--restart no|on-failure[:N]|always|unless-stopped`) as Docker applies
//! them: the decision after each exit and the back-off between restarts. Pure; the detached
//! supervisor's keeper (`cli/supervise`) acts on it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `HostConfig.RestartPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestartPolicy {
    /// `no` (Docker shows `""` as `no` too), `on-failure`, `always` or `unless-stopped`.
    pub name: String,
    /// `on-failure:N`; 0 means no limit.
    pub maximum_retry_count: u32,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            name: "no".into(),
            maximum_retry_count: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("invalid restart policy {0:?}: expected no, on-failure[:max-retries], always or unless-stopped")]
    Unknown(String),
    #[error("invalid restart policy {0:?}: maximum retry count must be a number")]
    BadCount(String),
    #[error(
        "invalid restart policy {0:?}: maximum retry count can only be used with 'on-failure'"
    )]
    CountNotAllowed(String),
}

impl RestartPolicy {
    /// Parses the `--restart` value.
    pub fn parse(s: &str) -> Result<RestartPolicy, PolicyError> {
        let (name, count) = match s.split_once(':') {
            Some((n, c)) => (n, Some(c)),
            None => (s, None),
        };
        let name = match name {
            "" | "no" => "no",
            "on-failure" | "always" | "unless-stopped" => name,
            _ => return Err(PolicyError::Unknown(s.into())),
        };
        let maximum_retry_count = match count {
            None => 0,
            Some(_) if name != "on-failure" => return Err(PolicyError::CountNotAllowed(s.into())),
            Some(c) => c.parse().map_err(|_| PolicyError::BadCount(s.into()))?,
        };
        Ok(RestartPolicy {
            name: name.into(),
            maximum_retry_count,
        })
    }

    pub fn is_none(&self) -> bool {
        self.name == "no" || self.name.is_empty()
    }

    /// Whether a container that exited with `exit_code` after `restarts` restarts so far is
    /// started again. A container stopped by the user (`stop`, `kill`) never is.
    pub fn should_restart(&self, exit_code: i32, restarts: u32, manually_stopped: bool) -> bool {
        if manually_stopped {
            return false;
        }
        match self.name.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => {
                exit_code != 0
                    && (self.maximum_retry_count == 0 || restarts < self.maximum_retry_count)
            }
            _ => false,
        }
    }
}

/// Docker's back-off: the delay doubles from 100 ms with every restart, and starts over once
/// a run lasted 10 s or more.
pub fn next_delay(previous: Option<Duration>, ran_for: Duration) -> Duration {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(60);
    match previous {
        Some(p) if ran_for < Duration::from_secs(10) => (p * 2).min(MAX),
        _ => FIRST,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_policies() {
        let ok = [
            ("no", "no", 0),
            ("", "no", 0),
            ("always", "always", 0),
            ("unless-stopped", "unless-stopped", 0),
            ("on-failure", "on-failure", 0),
            ("on-failure:2", "on-failure", 2),
        ];
        for (s, name, n) in ok {
            let p = RestartPolicy::parse(s).unwrap();
            assert_eq!((p.name.as_str(), p.maximum_retry_count), (name, n), "{s}");
        }
        let bad = [
            ("sometimes", PolicyError::Unknown("sometimes".into())),
            ("on-failure:x", PolicyError::BadCount("on-failure:x".into())),
            ("always:3", PolicyError::CountNotAllowed("always:3".into())),
        ];
        for (s, err) in bad {
            assert_eq!(RestartPolicy::parse(s).unwrap_err(), err, "{s}");
        }
    }

    #[test]
    fn decides_like_docker() {
        let p = |s| RestartPolicy::parse(s).unwrap();
        // (policy, exit code, restarts so far, manually stopped, restart?)
        let cases = [
            ("no", 1, 0, false, false),
            ("on-failure", 0, 0, false, false),
            ("on-failure", 1, 0, false, true),
            ("on-failure", 1, 100, false, true),
            ("on-failure:2", 1, 1, false, true),
            ("on-failure:2", 1, 2, false, false),
            ("always", 0, 5, false, true),
            ("always", 137, 0, true, false),
            ("unless-stopped", 0, 0, false, true),
            ("unless-stopped", 1, 0, true, false),
        ];
        for (s, code, n, stopped, want) in cases {
            assert_eq!(
                p(s).should_restart(code, n, stopped),
                want,
                "{s} {code} {n} {stopped}"
            );
        }
    }

    #[test]
    fn back_off_doubles_and_resets() {
        let short = Duration::from_secs(1);
        let long = Duration::from_secs(11);
        assert_eq!(next_delay(None, short), Duration::from_millis(100));
        assert_eq!(
            next_delay(Some(Duration::from_millis(100)), short),
            Duration::from_millis(200)
        );
        assert_eq!(
            next_delay(Some(Duration::from_millis(800)), long),
            Duration::from_millis(100)
        );
        assert_eq!(
            next_delay(Some(Duration::from_secs(50)), short),
            Duration::from_secs(60)
        );
    }
}

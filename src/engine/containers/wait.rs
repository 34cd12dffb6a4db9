//! `wait`: blocks until a container reaches one of Docker's wait conditions and returns its
//! exit code. `not-running` (the CLI's) returns at once for a container that does not run;
//! `next-exit` waits for the end of the next run (of the one under way, if it runs);
//! `removed` waits until the container is gone (`run --rm`, `rm`).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use super::error::{Error, Result};
use crate::container::{Container, ContainerError, Containers, Status};
use crate::store::events;
use crate::util::backoff::Backoff;

/// Docker's `condition` of `POST /containers/{id}/wait`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WaitCondition {
    #[default]
    NotRunning,
    NextExit,
    Removed,
}

impl FromStr for WaitCondition {
    type Err = Error;

    /// The API's spelling; empty is the default, `not-running`.
    fn from_str(s: &str) -> Result<WaitCondition> {
        match s {
            "" | "not-running" => Ok(WaitCondition::NotRunning),
            "next-exit" => Ok(WaitCondition::NextExit),
            "removed" => Ok(WaitCondition::Removed),
            other => Err(Error::WaitCondition(other.to_string())),
        }
    }
}

/// How a wait ended: the exit code of the container's last run, and the error its start
/// failed with (Docker's `Error.Message`) if it did not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitOutcome {
    pub status_code: i32,
    pub error: Option<String>,
}

/// A wait looks again after 1 ms, backing off to 20 ms: a short run's end is answered at
/// once, a long one's costs few wake-ups.
const POLL: (Duration, Duration) = (Duration::from_millis(1), Duration::from_millis(20));

/// Waits for the container `query` names (found once, before waiting) to meet `condition`.
pub fn wait(root: &Path, query: &str, condition: WaitCondition) -> Result<WaitOutcome> {
    begin(root, query)?.until(condition, || true)
}

/// A wait that has found its container: the API answers with its headers at this point
/// (the docker CLI starts the container only once they arrive), and with the outcome later.
pub struct Waiter {
    cs: Containers,
    root: PathBuf,
    first: Container,
    /// Unix nanoseconds when the wait began.
    began: i128,
}

/// Finds the container `query` names, as it is when the wait begins.
pub fn begin(root: &Path, query: &str) -> Result<Waiter> {
    let cs = Containers::new(root);
    let first = cs.find(query)?;
    Ok(Waiter {
        cs,
        root: root.to_path_buf(),
        first,
        began: events::now_ns(),
    })
}

impl Waiter {
    /// Polls until the container meets `condition`, or `wanted` says the waiter is gone
    /// (then the outcome is the container as last seen).
    pub fn until(self, condition: WaitCondition, wanted: impl Fn() -> bool) -> Result<WaitOutcome> {
        let Waiter {
            cs,
            root,
            first,
            began,
        } = self;
        let id = first.id.clone();
        let mut last = first.clone();
        let mut poll = Backoff::new(POLL.0, POLL.1);
        loop {
            match cs.get_reconciled(&id) {
                Ok(c) if met(condition, &first, &c) => return Ok(outcome(&c)),
                Ok(c) => last = c,
                // Gone. A `--rm` container is removed right after its run ends, often
                // between two polls: its exit code is then in its `die` event.
                Err(ContainerError::NotFound(_)) => {
                    if let Some(code) = died_since(&root, &id, began) {
                        return Ok(WaitOutcome {
                            status_code: code,
                            error: None,
                        });
                    }
                    if condition == WaitCondition::Removed {
                        return Ok(outcome(&last));
                    }
                    return Err(ContainerError::NotFound(id).into());
                }
                Err(e) => return Err(e.into()),
            }
            if !wanted() {
                return Ok(outcome(&last));
            }
            poll.sleep();
        }
    }
}

/// Whether `now` meets `condition`, for a wait that began when the container was `first`.
fn met(condition: WaitCondition, first: &Container, now: &Container) -> bool {
    let running = now.state.status == Status::Running;
    match condition {
        WaitCondition::NotRunning => !running,
        // A run ended after the wait began: its end time is not the one the wait saw.
        WaitCondition::NextExit => !running && now.state.finished_at != first.state.finished_at,
        WaitCondition::Removed => false,
    }
}

/// The exit code in the last `die` event of container `id` at or after `since`.
fn died_since(root: &Path, id: &str, since: i128) -> Option<i32> {
    let q = events::Query {
        since: Some(since),
        ..events::Query::default()
    };
    let log = events::EventLog::new(root).read(&q).ok()?;
    log.iter()
        .rev()
        .find(|e| e.actor.id == id && e.action == "die")
        .and_then(|e| e.actor.attributes.get("exitCode")?.parse().ok())
}

fn outcome(c: &Container) -> WaitOutcome {
    WaitOutcome {
        status_code: c.state.exit_code.unwrap_or(0),
        error: c.state.error.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse_as_the_api_spells_them() {
        let cases: &[(&str, Option<WaitCondition>)] = &[
            ("", Some(WaitCondition::NotRunning)),
            ("not-running", Some(WaitCondition::NotRunning)),
            ("next-exit", Some(WaitCondition::NextExit)),
            ("removed", Some(WaitCondition::Removed)),
            ("Removed", None),
            ("stopped", None),
        ];
        for (s, want) in cases {
            assert_eq!(s.parse::<WaitCondition>().ok(), *want, "{s:?}");
        }
    }

    fn with(status: Status, finished: Option<&str>) -> Container {
        crate::container::record::test_record(status, finished)
    }

    #[test]
    fn conditions_are_met_as_docker_meets_them() {
        use Status::*;
        use WaitCondition::*;
        let t1 = Some("2026-01-01T00:00:01Z");
        let t2 = Some("2026-01-01T00:00:02Z");
        // (condition, at the start, now, met)
        let cases = [
            (NotRunning, (Running, None), (Running, None), false),
            (NotRunning, (Running, None), (Exited, t1), true),
            (NotRunning, (Created, None), (Created, None), true),
            (NotRunning, (Exited, t1), (Exited, t1), true),
            (NextExit, (Exited, t1), (Exited, t1), false),
            (NextExit, (Exited, t1), (Running, t1), false),
            (NextExit, (Exited, t1), (Exited, t2), true),
            (NextExit, (Running, None), (Exited, t1), true),
            (NextExit, (Created, None), (Created, None), false),
            (Removed, (Exited, t1), (Exited, t1), false),
            (Removed, (Running, None), (Exited, t1), false),
        ];
        for (cond, (s0, f0), (s1, f1), want) in cases {
            let got = met(cond, &with(s0, f0), &with(s1, f1));
            assert_eq!(got, want, "{cond:?} {s0:?}/{f0:?} -> {s1:?}/{f1:?}");
        }
    }
}

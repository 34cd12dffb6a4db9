//! `stop`, `kill` and `restart`: the container's StopSignal (or the one asked for), then
//! SIGKILL after the timeout; a signal to PID 1; a stop then a start in the background.

use std::path::Path;
use std::time::Duration;

use super::error::Result;
use super::supervise::spawn_monitor;
use crate::container::{events, lifecycle, Container, Containers};
use crate::store::Store;

/// Docker's default grace period before SIGKILL.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How to stop a container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StopRequest {
    /// The grace period before SIGKILL; the container's own (`StopTimeout`), else Docker's
    /// 10 s, when `None`.
    pub timeout: Option<Duration>,
    /// A signal (`SIGINT`, `INT`, `2`) instead of the container's StopSignal.
    pub signal: Option<String>,
}

/// The grace period a stop of `c` gets.
pub fn grace_period(c: &Container, req: &StopRequest) -> Duration {
    req.timeout.unwrap_or_else(|| {
        c.config
            .stop_timeout
            .map_or(DEFAULT_STOP_TIMEOUT, Duration::from_secs)
    })
}

/// Stops the container `query` names; returns it and whether it was running (Docker's API
/// answers 304 when it was not).
pub fn stop(store: &Store, query: &str, req: &StopRequest) -> Result<(Container, bool)> {
    let c = Containers::new(store.root()).find(query)?;
    let timeout = grace_period(&c, req);
    let was_running = lifecycle::stop_with(store, &c, timeout, req.signal.as_deref())?;
    Ok((c, was_running))
}

/// How long a SIGKILL is given to take the container down before `kill` returns anyway.
const KILL_SETTLE: Duration = Duration::from_secs(10);

/// Sends `signal` (a name or number; Docker's default is `KILL`) to the container `query`
/// names. Like dockerd, a SIGKILL returns once the container no longer runs, so an inspect
/// right after it sees it stopped.
pub fn kill(store: &Store, query: &str, signal: &str) -> Result<Container> {
    let cs = Containers::new(store.root());
    let c = cs.find(query)?;
    lifecycle::send_signal(store, &c, signal)?;
    if crate::container::command::parse_signal(signal)? == libc::SIGKILL {
        let deadline = std::time::Instant::now() + KILL_SETTLE;
        let mut poll =
            crate::util::backoff::Backoff::new(Duration::from_millis(1), Duration::from_millis(20));
        while std::time::Instant::now() < deadline
            && cs
                .get_reconciled(&c.id)
                .is_ok_and(|now| now.state.status == crate::container::Status::Running)
        {
            poll.sleep();
        }
    }
    Ok(c)
}

/// Stops the container `query` names (if it runs), then starts it in the background.
pub fn restart(root: &Path, query: &str, req: &StopRequest) -> Result<Container> {
    let c = {
        let store = Store::open(root)?;
        stop(&store, query, req)?.0
    };
    spawn_monitor(root, &c.id)?;
    events::emit(root, &c, "restart", &[]);
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grace_period_is_the_request_s_then_the_container_s_then_ten_seconds() {
        let s = Duration::from_secs;
        // (asked for, the container's StopTimeout, the grace period)
        let cases = [
            (None, None, s(10)),
            (None, Some(3), s(3)),
            (Some(s(1)), Some(3), s(1)),
            (Some(s(0)), None, s(0)),
        ];
        for (asked, own, want) in cases {
            let mut c = crate::container::record::test_record(Default::default(), None);
            c.config.stop_timeout = own;
            let req = StopRequest {
                timeout: asked,
                signal: None,
            };
            assert_eq!(grace_period(&c, &req), want, "{asked:?} {own:?}");
        }
    }
}

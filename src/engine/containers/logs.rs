//! `logs` and the output side of `attach`: a container's log as an iterator of typed frames
//! ({stream, time, bytes}), selected by stream, `since`/`until` and `tail`, and, when
//! following, continued as the container writes until it stops. The iterator blocks while it
//! waits for new output (it polls the log every 100 ms): an async front door drives it from a
//! blocking thread.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::{Error, Result};
use crate::container::logfile::{self, Entry, Query, Stream};
use crate::container::{Container, Containers, Status};
use crate::store::events::parse_time;
use crate::util::backoff::Backoff;

/// Which part of the log to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogsRequest {
    pub stdout: bool,
    pub stderr: bool,
    /// Keep going as the container writes, until it stops.
    pub follow: bool,
    /// Unix nanoseconds: frames at or after `since`, before `until`.
    pub since: Option<i128>,
    pub until: Option<i128>,
    /// Only the last N of the frames selected so far (the followed ones all come).
    pub tail: Option<usize>,
}

/// One record of a container's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFrame {
    pub stream: Stream,
    /// RFC 3339 with nanoseconds, UTC, as recorded.
    pub time: String,
    /// The line with its newline (a partial last line has none).
    pub bytes: Vec<u8>,
}

impl LogFrame {
    fn of(e: &Entry) -> LogFrame {
        LogFrame {
            stream: e.stream,
            time: e.time.clone(),
            bytes: e.log.as_bytes().to_vec(),
        }
    }

    /// The bytes `logs` shows for the frame: with `timestamps` its time first, with
    /// `details` the (empty) extra attributes Docker prints as a lone space.
    pub fn render(&self, timestamps: bool, details: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes.len() + 32);
        if timestamps {
            out.extend_from_slice(self.time.as_bytes());
            out.push(b' ');
        }
        if details {
            out.push(b' ');
        }
        out.extend_from_slice(&self.bytes);
        out
    }
}

/// `--tail` as given: `all` (or nothing) for every frame, else a count.
pub fn parse_tail(s: Option<&str>) -> Result<Option<usize>> {
    match s {
        None | Some("all") => Ok(None),
        Some(n) => n
            .parse::<usize>()
            .map(Some)
            .map_err(|source| Error::LogTail {
                value: n.to_string(),
                source,
            }),
    }
}

/// `--since`/`--until` as given (`2026-01-02T15:04:05Z`, a Unix time, or relative to `now_ns`:
/// `42m`), as Unix nanoseconds; `flag` names it in the error.
pub fn parse_log_time(flag: &'static str, s: Option<&str>, now_ns: i128) -> Result<Option<i128>> {
    s.map(|s| parse_time(s, now_ns).map_err(|source| Error::LogTime { flag, source }))
        .transpose()
}

/// The log driver `c` was created with, when it is one whose logs cannot be read back.
/// strata keeps the output either way (an attached client streams it from there), but a
/// `logs` answers as dockerd's would.
fn unreadable_driver(c: &Container) -> Option<String> {
    let driver = c
        .config
        .host_config
        .as_ref()?
        .get("LogConfig")?
        .get("Type")?
        .as_str()?;
    UNREADABLE_LOG_DRIVERS
        .contains(&driver)
        .then(|| driver.to_string())
}

/// The log drivers strata accepts whose logs dockerd cannot read back.
pub const UNREADABLE_LOG_DRIVERS: &[&str] = &["none"];

/// The frames of the container `query` names that `req` selects.
pub fn logs(root: &Path, query: &str, req: &LogsRequest) -> Result<LogFrames> {
    let cs = Containers::new(root);
    let c = cs.find(query)?;
    if let Some(driver) = unreadable_driver(&c) {
        return Err(Error::LogsUnreadable { id: c.id, driver });
    }
    let path = cs.log_path(&c.id);
    let mut tail =
        logfile::Tail::open(&path).map_err(Error::io(format!("reading {}", path.display())))?;
    let entries = tail.as_mut().map(|t| t.read_new()).unwrap_or_default();
    let q = query_of(req);
    let pending = logfile::select(&entries, &q)
        .into_iter()
        .map(LogFrame::of)
        .collect();
    Ok(LogFrames {
        cs,
        container: c,
        path,
        query: q,
        tail,
        pending,
        follow: req.follow,
        finished: false,
        stop: None,
        end: FollowEnd::NotRunning,
        poll: Backoff::new(FOLLOW_POLL.0, FOLLOW_POLL.1),
    })
}

/// The frames a container writes from now on (for `attach`), until it stops: a running one
/// when it stops, one not started yet once it has started and stopped. The log is opened
/// here, so the frames of a `--rm` container removed as soon as it stopped still come.
pub fn from_now(root: &Path, c: &Container) -> Result<LogFrames> {
    attached(root, c, false, true)
}

/// What the API's attach sends: with `replay` (`logs=1`) the frames written so far, with
/// `follow` (`stream=1`) then those written from now on, as `from_now`. Neither is nothing.
pub fn attached(root: &Path, c: &Container, replay: bool, follow: bool) -> Result<LogFrames> {
    let cs = Containers::new(root);
    let path = cs.log_path(&c.id);
    let mut tail = logfile::Tail::open_at_end(&path)
        .map_err(Error::io(format!("opening {}", path.display())))?;
    let mut pending = VecDeque::new();
    if replay {
        tail.rewind()
            .map_err(Error::io(format!("reading {}", path.display())))?;
        pending.extend(tail.read_new().iter().map(LogFrame::of));
    }
    Ok(LogFrames {
        cs,
        container: c.clone(),
        path,
        query: query_of(&LogsRequest {
            stdout: true,
            stderr: true,
            ..LogsRequest::default()
        }),
        tail: Some(tail),
        pending,
        follow,
        finished: false,
        stop: None,
        poll: Backoff::new(FOLLOW_POLL.0, FOLLOW_POLL.1),
        end: FollowEnd::NextExit {
            seen_running: c.state.status == Status::Running,
            finished_at: c.state.finished_at.clone(),
        },
    })
}

/// When a follow is over.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FollowEnd {
    /// As soon as the container does not run (`logs -f`).
    NotRunning,
    /// Once a run ended: it was seen running and no longer is, or its end time changed from
    /// the one the follow began with (a run too short to be seen).
    NextExit {
        seen_running: bool,
        finished_at: Option<String>,
    },
}

impl FollowEnd {
    /// Whether the container, as it is `now` (`None`: gone), ends the follow; notes a run
    /// seen.
    fn over(&mut self, now: Option<&Container>) -> bool {
        let Some(c) = now else { return true };
        let running = c.state.status == Status::Running;
        match self {
            FollowEnd::NotRunning => !running,
            FollowEnd::NextExit {
                seen_running,
                finished_at,
            } => {
                if running {
                    *seen_running = true;
                    return false;
                }
                *seen_running || c.state.finished_at != *finished_at
            }
        }
    }
}

fn query_of(req: &LogsRequest) -> Query {
    Query {
        stdout: req.stdout,
        stderr: req.stderr,
        since: req.since,
        until: req.until,
        tail: req.tail,
        timestamps: false,
        details: false,
    }
}

/// The frames of a log, in order; see `logs`.
pub struct LogFrames {
    cs: Containers,
    container: Container,
    path: PathBuf,
    query: Query,
    /// The log, open; `None` until the container has one.
    tail: Option<logfile::Tail>,
    pending: VecDeque<LogFrame>,
    follow: bool,
    finished: bool,
    stop: Option<Box<dyn FnMut() -> bool + Send>>,
    end: FollowEnd,
    poll: Backoff,
}

/// A follow looks again after 2 ms, backing off to 100 ms while nothing is written: a
/// foreground `docker run` of a short command ends as soon as it does.
const FOLLOW_POLL: (Duration, Duration) = (Duration::from_millis(2), Duration::from_millis(100));

impl LogFrames {
    /// The container whose log this is (as found when the read began).
    pub fn container(&self) -> &Container {
        &self.container
    }

    /// Also ends a follow as soon as `stop()` says so (a client that detached).
    pub fn until(mut self, stop: impl FnMut() -> bool + Send + 'static) -> LogFrames {
        self.stop = Some(Box::new(stop));
        self
    }

    fn stopped(&mut self) -> bool {
        if self.stop.as_mut().is_some_and(|s| s()) {
            return true;
        }
        let now = self.cs.get_reconciled(&self.container.id).ok();
        self.end.over(now.as_ref())
    }

    /// Reads the records written since the last look into `pending`; returns whether the
    /// follow is over (the container stopped before this read, or `until` passed).
    fn poll(&mut self) -> bool {
        let finished = self.stopped();
        if self.tail.is_none() {
            self.tail = logfile::Tail::open(&self.path).ok().flatten();
        }
        let entries = self.tail.as_mut().map(|t| t.read_new()).unwrap_or_default();
        for e in &entries {
            if self.query.wants(e) {
                self.pending.push_back(LogFrame::of(e));
            }
        }
        let past_until = self.query.until.is_some_and(|u| u <= now_ns());
        finished || past_until
    }
}

impl Iterator for LogFrames {
    type Item = LogFrame;

    fn next(&mut self) -> Option<LogFrame> {
        loop {
            if let Some(f) = self.pending.pop_front() {
                return Some(f);
            }
            if !self.follow || self.finished {
                return None;
            }
            if self.stop.as_mut().is_some_and(|s| s()) {
                return None;
            }
            self.finished = self.poll();
            if !self.pending.is_empty() {
                self.poll.reset();
            } else if !self.finished {
                self.poll.sleep();
            }
        }
    }
}

/// Now as Unix nanoseconds.
pub fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(log: &str, stream: Stream, secs: u32) -> Entry {
        Entry {
            log: log.into(),
            stream,
            time: format!("2026-01-01T00:00:{secs:02}.000000000Z"),
        }
    }

    #[test]
    fn frames_are_selected_by_stream_time_and_tail() {
        use Stream::*;
        let log = [
            entry("a\n", Stdout, 1),
            entry("b\n", Stderr, 2),
            entry("c\n", Stdout, 3),
            entry("d\n", Stderr, 4),
            entry("e", Stdout, 5),
        ];
        let t = |s: u32| logfile::parse_time_ns(&format!("2026-01-01T00:00:{s:02}Z"));
        let all = LogsRequest {
            stdout: true,
            stderr: true,
            ..Default::default()
        };
        // (request, the lines selected)
        let cases: Vec<(LogsRequest, &str)> = vec![
            (all.clone(), "abcde"),
            (
                LogsRequest {
                    stderr: false,
                    ..all.clone()
                },
                "ace",
            ),
            (
                LogsRequest {
                    stdout: false,
                    ..all.clone()
                },
                "bd",
            ),
            (
                LogsRequest {
                    since: t(3),
                    ..all.clone()
                },
                "cde",
            ),
            (
                LogsRequest {
                    until: t(3),
                    ..all.clone()
                },
                "ab",
            ),
            (
                LogsRequest {
                    since: t(2),
                    until: t(5),
                    ..all.clone()
                },
                "bcd",
            ),
            (
                LogsRequest {
                    tail: Some(2),
                    ..all.clone()
                },
                "de",
            ),
            (
                LogsRequest {
                    tail: Some(0),
                    ..all.clone()
                },
                "",
            ),
            (
                LogsRequest {
                    tail: Some(1),
                    stderr: false,
                    until: t(5),
                    ..all.clone()
                },
                "c",
            ),
        ];
        for (req, want) in cases {
            let q = query_of(&req);
            let got: String = logfile::select(&log, &q)
                .into_iter()
                .map(|e| LogFrame::of(e).bytes[0] as char)
                .collect();
            assert_eq!(got, want, "{req:?}");
        }
    }

    #[test]
    fn a_follow_ends_as_docker_s_does() {
        use Status::*;
        let ctr = crate::container::record::test_record;
        let next_exit = |seen_running: bool, finished: Option<&str>| FollowEnd::NextExit {
            seen_running,
            finished_at: finished.map(String::from),
        };
        const T1: Option<&str> = Some("2026-01-01T00:00:01Z");
        const T2: Option<&str> = Some("2026-01-01T00:00:02Z");
        // (how it ends, the container at each poll (None: gone), over at each poll)
        type Polls<'a> = &'a [(Option<(Status, Option<&'a str>)>, bool)];
        let cases: Vec<(FollowEnd, Polls)> = vec![
            (
                FollowEnd::NotRunning,
                &[(Some((Running, None)), false), (Some((Exited, T1)), true)],
            ),
            (FollowEnd::NotRunning, &[(Some((Created, None)), true)]),
            (FollowEnd::NotRunning, &[(None, true)]),
            // Attached to a running container: over when it stops.
            (
                next_exit(true, T1),
                &[(Some((Running, T1)), false), (Some((Exited, T1)), true)],
            ),
            // Attached before its start: over only once it has run.
            (
                next_exit(false, None),
                &[
                    (Some((Created, None)), false),
                    (Some((Running, None)), false),
                    (Some((Exited, T1)), true),
                ],
            ),
            // A run too short to be seen still ends it.
            (
                next_exit(false, T1),
                &[(Some((Exited, T1)), false), (Some((Exited, T2)), true)],
            ),
            (next_exit(false, None), &[(None, true)]),
        ];
        for (mut end, polls) in cases {
            let start = end.clone();
            for (now, want) in polls {
                let now = now.map(|(s, f)| ctr(s, f));
                assert_eq!(end.over(now.as_ref()), *want, "{start:?} at {now:?}");
            }
        }
    }

    #[test]
    fn frames_render_as_logs_prints_them() {
        let f = LogFrame::of(&entry("hi\n", Stream::Stdout, 7));
        let cases: &[(bool, bool, &str)] = &[
            (false, false, "hi\n"),
            (true, false, "2026-01-01T00:00:07.000000000Z hi\n"),
            (false, true, " hi\n"),
            (true, true, "2026-01-01T00:00:07.000000000Z  hi\n"),
        ];
        for (ts, details, want) in cases {
            assert_eq!(f.render(*ts, *details), want.as_bytes(), "{ts} {details}");
        }
    }

    #[test]
    fn tail_values_parse() {
        let cases: &[(Option<&str>, Option<Option<usize>>)] = &[
            (None, Some(None)),
            (Some("all"), Some(None)),
            (Some("3"), Some(Some(3))),
            (Some("0"), Some(Some(0))),
            (Some("-1"), None),
            (Some("x"), None),
        ];
        for (given, want) in cases {
            assert_eq!(parse_tail(*given).ok(), *want, "{given:?}");
        }
    }
}

//! Build progress renderers for `strata build --progress auto|tty|plain|rawjson`: mode choice,
//! the clock they read, and the line splitting they share. Each renderer turns executor
//! [`Event`]s into output on one writer.

#![allow(dead_code)] // until `cli::build` wires the renderers in

mod encoding;
mod plain;
mod rawjson;
mod term;
#[cfg(test)]
mod testing;
mod tty;

pub(crate) use term::fd_size;

use std::fmt;
use std::io::{IsTerminal, Write};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::exec::events::{Event, Progress};

/// How build progress is shown; `Auto` picks `Tty` or `Plain` by whether stderr is a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProgressMode {
    Auto,
    Tty,
    Plain,
    RawJson,
}

const MODE_NAMES: &str = "auto, tty, plain, rawjson";

/// An unknown `--progress` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid progress mode {0:?} (valid: {MODE_NAMES})")]
pub(crate) struct BadProgressMode(pub String);

impl FromStr for ProgressMode {
    type Err = BadProgressMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "tty" => Ok(Self::Tty),
            "plain" => Ok(Self::Plain),
            "rawjson" => Ok(Self::RawJson),
            other => Err(BadProgressMode(other.to_string())),
        }
    }
}

impl fmt::Display for ProgressMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Tty => "tty",
            Self::Plain => "plain",
            Self::RawJson => "rawjson",
        })
    }
}

impl ProgressMode {
    /// The mode asked for: `--progress` if given (an unknown value is an error), else
    /// `BUILDKIT_PROGRESS` if it names a mode, else `Auto`. Still to be resolved.
    pub(crate) fn chosen(flag: Option<&str>) -> Result<Self, BadProgressMode> {
        match flag {
            Some(value) => value.parse(),
            None => Ok(Self::from_env().unwrap_or(Self::Auto)),
        }
    }

    /// `BUILDKIT_PROGRESS`, as docker reads it when `--progress` is not given. Unset, empty or
    /// unknown values yield `None` (docker ignores them too and falls back to auto).
    pub(crate) fn from_env() -> Option<Self> {
        Self::from_env_value(std::env::var("BUILDKIT_PROGRESS").ok().as_deref())
    }

    fn from_env_value(value: Option<&str>) -> Option<Self> {
        value.and_then(|v| v.trim().parse().ok())
    }

    /// The concrete mode: `Auto` becomes `Tty` on a terminal, else `Plain`; others stay.
    pub(crate) fn resolve(self, stderr_is_tty: bool) -> Self {
        match self {
            Self::Auto if stderr_is_tty => Self::Tty,
            Self::Auto => Self::Plain,
            other => other,
        }
    }
}

/// A progress sink the build command drives; `finish` is called once at the end, on success
/// and on failure, to flush buffered lines and take down live bars.
pub(crate) trait Renderer: Progress {
    fn finish(&self);
    /// `self` as the executor's sink (no trait upcasting under our MSRV of 1.85).
    fn as_progress(&self) -> &dyn Progress;
}

/// A renderer that shows nothing (`--quiet`).
pub(crate) fn quiet() -> Box<dyn Renderer> {
    Box::new(Quiet)
}

struct Quiet;

impl Progress for Quiet {
    fn event(&self, _: Event) {}
}

impl Renderer for Quiet {
    fn finish(&self) {}
    fn as_progress(&self) -> &dyn Progress {
        self
    }
}

/// The renderer for `mode`, writing to `out`. `Auto` is resolved against stderr here.
pub(crate) fn renderer(mode: ProgressMode, out: Box<dyn Write + Send>) -> Box<dyn Renderer> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    match mode.resolve(std::io::stderr().is_terminal()) {
        ProgressMode::Tty => Box::new(tty::TtyRenderer::new(out, clock, term::stderr_size)),
        ProgressMode::RawJson => Box::new(rawjson::RawJsonRenderer::new(out, clock)),
        ProgressMode::Plain | ProgressMode::Auto => Box::new(plain::PlainRenderer::new(out, clock)),
    }
}

/// Where renderers read time, so tests can script it.
pub(crate) trait Clock: Send + Sync {
    /// Monotonic time since the renderer was created.
    fn elapsed(&self) -> Duration;
    /// Wall-clock time at which `elapsed` was zero.
    fn origin(&self) -> SystemTime;
}

pub(crate) struct SystemClock {
    start: Instant,
    wall: SystemTime,
}

impl SystemClock {
    pub(crate) fn new() -> Self {
        Self {
            start: Instant::now(),
            wall: SystemTime::now(),
        }
    }
}

impl Clock for SystemClock {
    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
    fn origin(&self) -> SystemTime {
        self.wall
    }
}

/// Splits a step's output chunks into lines, keeping a partial last line until its newline
/// (or the end of the step) arrives. Each line carries the time its first byte arrived.
#[derive(Default)]
struct LineBuf {
    partial: Vec<u8>,
    since: Duration,
}

impl LineBuf {
    fn push(&mut self, data: &[u8], now: Duration) -> Vec<(Duration, String)> {
        let mut lines = Vec::new();
        for piece in data.split_inclusive(|&b| b == b'\n') {
            if self.partial.is_empty() {
                self.since = now;
            }
            match piece.strip_suffix(b"\n") {
                Some(body) => {
                    self.partial.extend_from_slice(body);
                    lines.push((self.since, take_line(&mut self.partial)));
                }
                None => self.partial.extend_from_slice(piece),
            }
        }
        lines
    }

    fn flush(&mut self) -> Option<(Duration, String)> {
        (!self.partial.is_empty()).then(|| (self.since, take_line(&mut self.partial)))
    }
}

fn take_line(buf: &mut Vec<u8>) -> String {
    let bytes = std::mem::take(buf);
    let line = bytes.strip_suffix(b"\r").unwrap_or(&bytes);
    String::from_utf8_lossy(line).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_resolve() {
        let cases = [
            (
                "auto",
                ProgressMode::Auto,
                ProgressMode::Tty,
                ProgressMode::Plain,
            ),
            (
                "tty",
                ProgressMode::Tty,
                ProgressMode::Tty,
                ProgressMode::Tty,
            ),
            (
                "plain",
                ProgressMode::Plain,
                ProgressMode::Plain,
                ProgressMode::Plain,
            ),
            (
                "rawjson",
                ProgressMode::RawJson,
                ProgressMode::RawJson,
                ProgressMode::RawJson,
            ),
        ];
        for (text, mode, on_tty, off_tty) in cases {
            assert_eq!(text.parse::<ProgressMode>(), Ok(mode), "{text}");
            assert_eq!(mode.to_string(), text);
            assert_eq!(mode.resolve(true), on_tty, "{text} on a tty");
            assert_eq!(mode.resolve(false), off_tty, "{text} off a tty");
        }
        let err = "fancy".parse::<ProgressMode>().unwrap_err().to_string();
        assert_eq!(
            err,
            r#"invalid progress mode "fancy" (valid: auto, tty, plain, rawjson)"#
        );
    }

    #[test]
    fn env_value_is_a_mode_or_ignored() {
        assert_eq!(
            ProgressMode::from_env_value(Some("plain")),
            Some(ProgressMode::Plain)
        );
        assert_eq!(
            ProgressMode::from_env_value(Some(" rawjson\n")),
            Some(ProgressMode::RawJson)
        );
        assert_eq!(ProgressMode::from_env_value(Some("")), None);
        assert_eq!(ProgressMode::from_env_value(Some("quiet")), None);
        assert_eq!(ProgressMode::from_env_value(None), None);
    }

    #[test]
    fn line_buf_splits_and_keeps_partials() {
        let ms = Duration::from_millis;
        let mut b = LineBuf::default();
        assert_eq!(b.push(b"ab", ms(1)), vec![]);
        assert_eq!(
            b.push(b"c\r\nd\n\ne", ms(2)),
            vec![
                (ms(1), "abc".to_string()),
                (ms(2), "d".to_string()),
                (ms(2), String::new()),
            ]
        );
        assert_eq!(b.push(b"f\n", ms(3)), vec![(ms(2), "ef".to_string())]);
        assert_eq!(b.flush(), None);
        b.push(b"tail", ms(4));
        assert_eq!(b.flush(), Some((ms(4), "tail".to_string())));
        assert_eq!(b.flush(), None);
    }
}

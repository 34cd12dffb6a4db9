//! Test support shared by the renderer tests: a hand-moved clock, a readable writer, the
//! scripted build every renderer is fed, and a tiny terminal to read tty output back.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::{Clock, Renderer};
use crate::exec::events::{Event, LogStream};

/// A clock tests move by hand; its origin is 2024-01-02T03:04:05Z.
#[derive(Default)]
pub(crate) struct FakeClock(AtomicU64);

impl FakeClock {
    pub(crate) fn set_ms(&self, ms: u64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn elapsed(&self) -> Duration {
        Duration::from_millis(self.0.load(Ordering::SeqCst))
    }
    fn origin(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_164_645)
    }
}

/// A writer whose bytes the test can read after handing it to a renderer.
#[derive(Clone, Default)]
pub(crate) struct SharedBuf(pub Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedBuf {
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// The scripted build every renderer test feeds: at `ms`, `event` arrives. Step 1 is a
/// cache hit, steps 2 and 3 run at once (3's output split mid-line), 3 fails, 4 is cancelled.
pub(crate) fn script() -> Vec<(u64, Event)> {
    let log = |step, stream, data: &str| Event::StepLog {
        step,
        stream,
        data: data.into(),
    };
    let label = |s: &str| s.to_string();
    vec![
        (
            0,
            Event::Phase {
                name: label("[internal] load build definition from Dockerfile"),
            },
        ),
        (
            100,
            Event::StepCached {
                step: 1,
                label: label("[base 1/3] FROM alpine"),
            },
        ),
        (
            200,
            Event::StepStarted {
                step: 2,
                label: label("[base 2/3] RUN make"),
            },
        ),
        (
            300,
            Event::StepStarted {
                step: 3,
                label: label("[other 1/1] RUN test"),
            },
        ),
        (512, log(2, LogStream::Stdout, "cc -o app\nlinking")),
        (700, log(3, LogStream::Stderr, "warn: a\n")),
        (900, log(2, LogStream::Stdout, " done\npartial")),
        (
            1400,
            Event::StepDone {
                step: 2,
                label: label("[base 2/3] RUN make"),
                elapsed: Duration::from_millis(1200),
            },
        ),
        (
            1500,
            Event::StepFailed {
                step: 3,
                label: label("[other 1/1] RUN test"),
                error: label("exit code: 1"),
            },
        ),
        (
            1600,
            Event::StepCancelled {
                step: 4,
                label: label("[base 3/3] COPY . /"),
            },
        ),
        (
            1700,
            Event::Exported {
                digest: label("sha256:abc"),
                tags: vec![label("app:latest")],
            },
        ),
    ]
}

/// Feeds `script()` to `r`, moving `clock` before each event.
pub(crate) fn play(r: &dyn Renderer, clock: &FakeClock) {
    for (ms, event) in script() {
        clock.set_ms(ms);
        r.event(event);
    }
    clock.set_ms(1800);
    r.finish();
}

/// The screen a terminal `width` columns wide shows after `raw`: just the control sequences
/// `TermOut` emits, with autowrap at the last column as a VT100 does it. No scrolling: the
/// grid grows downwards.
pub(crate) fn screen(raw: &str, width: usize) -> Vec<String> {
    let mut grid: Vec<Vec<char>> = vec![Vec::new()];
    let (mut row, mut col, mut wrap) = (0usize, 0usize, false);
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\n' => (row, col, wrap) = (row + 1, 0, false),
            '\r' => (col, wrap) = (0, false),
            '\x1b' => {
                assert_eq!(chars.next(), Some('['), "only CSI sequences");
                let mut digits = String::new();
                let code = loop {
                    match chars.next().expect("complete CSI") {
                        d if d.is_ascii_digit() => digits.push(d),
                        code => break code,
                    }
                };
                let n: usize = digits.parse().unwrap_or(1);
                wrap = false;
                match code {
                    'A' => row = row.checked_sub(n).expect("cursor above the output"),
                    'B' => row += n,
                    'C' => col = (col + n).min(width - 1),
                    'D' => col = col.saturating_sub(n),
                    'K' => grid[row].clear(),
                    other => panic!("unexpected CSI {other}"),
                }
            }
            c => {
                if wrap {
                    (row, col, wrap) = (row + 1, 0, false);
                }
                grid.resize(grid.len().max(row + 1), Vec::new());
                let line = &mut grid[row];
                line.resize(line.len().max(col + 1), ' ');
                line[col] = c;
                if col + 1 == width {
                    wrap = true;
                } else {
                    col += 1;
                }
            }
        }
        grid.resize(grid.len().max(row + 1), Vec::new());
    }
    let mut lines: Vec<String> = grid
        .iter()
        .map(|l| l.iter().collect::<String>().trim_end().to_string())
        .collect();
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

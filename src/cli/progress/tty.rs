//! `--progress=tty`: live indicatif bars, one per running step with its last log lines, under
//! a `[+] Building 3.4s (5/7)` header; finished steps scroll up as permanent lines.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use super::term::TermOut;
use super::{Clock, LineBuf, Renderer};
use crate::exec::events::{Event, LogStream, Progress};

/// Log lines shown under a running step.
const TAIL: usize = 6;
/// Log lines kept to show in a failed step's box at the end.
const ERROR_TAIL: usize = 10;
const TICK: Duration = Duration::from_millis(100);

pub(crate) struct TtyRenderer {
    clock: Arc<dyn Clock>,
    multi: MultiProgress,
    header: ProgressBar,
    size: fn() -> (u16, u16),
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    live: HashMap<usize, Live>,
    /// The open phase: name, start and bar. A phase ends at the next other event.
    phase: Option<(String, Duration, ProgressBar)>,
    seen: usize,
    done: usize,
    /// Failed steps' labels and last log lines, shown in boxes at the end like docker.
    failures: Vec<(String, Vec<String>)>,
}

struct Live {
    bar: ProgressBar,
    label: String,
    logs: [LineBuf; 2],
    tail: VecDeque<String>,
}

/// `{secs}`: a bar's elapsed time as `1.2s`.
fn secs(state: &ProgressState, w: &mut dyn fmt::Write) {
    let _ = write!(w, "{:.1}s", state.elapsed().as_secs_f64());
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("static template")
        .with_key("secs", secs)
        .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ")
}

impl TtyRenderer {
    pub(crate) fn new(
        out: Box<dyn Write + Send>,
        clock: Arc<dyn Clock>,
        size: fn() -> (u16, u16),
    ) -> Self {
        let term = TermOut::new(out, size);
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::term_like(Box::new(term)));
        let header =
            multi.add(ProgressBar::new_spinner().with_style(style("[+] Building {secs} ({msg})")));
        header.set_message("0/0");
        header.enable_steady_tick(TICK);
        Self {
            clock,
            multi,
            header,
            size,
            state: Mutex::new(State::default()),
        }
    }

    fn start_bar(&self, label: &str) -> ProgressBar {
        let bar = self
            .multi
            .add(ProgressBar::new_spinner().with_style(style(" {spinner} {prefix} {secs}{msg}")));
        bar.set_prefix(label.to_string());
        bar.enable_steady_tick(TICK);
        bar
    }

    /// Replaces a live bar by a permanent line above the live area.
    fn settle(&self, bar: Option<ProgressBar>, line: &str) {
        if let Some(bar) = bar {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        let _ = self.multi.println(line);
    }

    fn end_phase(&self, state: &mut State, now: Duration) {
        if let Some((name, started, bar)) = state.phase.take() {
            state.done += 1;
            let took = now.saturating_sub(started).as_secs_f64();
            self.settle(Some(bar), &format!(" => {name} DONE {took:.1}s"));
        }
    }

    /// Ends step `step` with `line`, counting it done.
    fn end_step(&self, state: &mut State, step: usize, line: String) -> Option<Live> {
        let live = state.live.remove(&step);
        if live.is_none() {
            state.seen += 1;
        }
        state.done += 1;
        self.settle(live.as_ref().map(|l| l.bar.clone()), &line);
        live
    }

    fn log(&self, state: &mut State, step: usize, stream: LogStream, data: &[u8], now: Duration) {
        let Some(live) = state.live.get_mut(&step) else {
            return;
        };
        let index = usize::from(stream == LogStream::Stderr);
        let width = usize::from((self.size)().0).saturating_sub(4).max(10);
        for (_, line) in live.logs[index].push(data, now) {
            let clean: String = line
                .chars()
                .filter(|c| !c.is_control())
                .take(width)
                .collect();
            live.tail.push_back(clean);
            if live.tail.len() > ERROR_TAIL {
                live.tail.pop_front();
            }
        }
        let shown = live.tail.iter().skip(live.tail.len().saturating_sub(TAIL));
        let msg: String = shown.map(|l| format!("\n   {l}")).collect();
        live.bar.set_message(msg);
    }
}

impl Progress for TtyRenderer {
    fn event(&self, event: Event) {
        let now = self.clock.elapsed();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = &mut *state;
        if !matches!(event, Event::StepLog { .. }) {
            self.end_phase(state, now);
        }
        match event {
            Event::Phase { name } => {
                state.seen += 1;
                state.phase = Some((name.clone(), now, self.start_bar(&name)));
            }
            Event::StepStarted { step, label } => {
                state.seen += 1;
                let bar = self.start_bar(&label);
                let live = Live {
                    bar,
                    label,
                    logs: Default::default(),
                    tail: VecDeque::new(),
                };
                state.live.insert(step, live);
            }
            Event::StepCached { step, label } => {
                self.end_step(state, step, format!(" => CACHED {label}"));
            }
            Event::StepLog { step, stream, data } => self.log(state, step, stream, &data, now),
            Event::StepDone {
                step,
                label,
                elapsed,
            } => {
                let took = elapsed.as_secs_f64();
                self.end_step(state, step, format!(" => {label} DONE {took:.1}s"));
            }
            Event::StepFailed { step, label, error } => {
                let live = self.end_step(state, step, format!(" => ERROR {label}: {error}"));
                let tail = live.map(|mut l| {
                    let rest = l.logs.iter_mut().filter_map(LineBuf::flush).map(|(_, s)| s);
                    l.tail.extend(rest);
                    Vec::from(l.tail)
                });
                state.failures.push((label, tail.unwrap_or_default()));
            }
            Event::StepCancelled { step, label } => {
                self.end_step(state, step, format!(" => CANCELED {label}"));
            }
            Event::Exported { digest, tags } => {
                state.seen += 1;
                state.done += 1;
                self.settle(None, " => exporting to image");
                self.settle(None, &format!(" => => writing image {digest} done"));
                for tag in tags {
                    self.settle(None, &format!(" => => naming to {tag} done"));
                }
            }
        }
        self.header
            .set_message(format!("{}/{}", state.done, state.seen));
    }
}

impl Renderer for TtyRenderer {
    fn as_progress(&self) -> &dyn Progress {
        self
    }

    fn finish(&self) {
        let now = self.clock.elapsed();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = &mut *state;
        self.end_phase(state, now);
        // Steps still running when the build ends were abandoned by it.
        let mut abandoned: Vec<_> = state.live.drain().collect();
        abandoned.sort_by_key(|(step, _)| *step);
        for (_, live) in abandoned {
            self.settle(Some(live.bar), &format!(" => CANCELED {}", live.label));
        }
        let took = self.header.elapsed().as_secs_f64();
        let verdict = if state.failures.is_empty() {
            " FINISHED"
        } else {
            ""
        };
        let (done, seen) = (state.done, state.seen);
        self.settle(
            Some(self.header.clone()),
            &format!("[+] Building {took:.1}s ({done}/{seen}){verdict}"),
        );
        for (label, tail) in state.failures.drain(..) {
            let mut block = format!("------\n > {label}:\n");
            for line in tail {
                block.push_str(&line);
                block.push('\n');
            }
            block.push_str("------");
            let _ = self.multi.println(block);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{play, screen, FakeClock, SharedBuf};
    use super::*;

    #[test]
    fn scripted_build_leaves_one_line_per_step_and_an_error_box() {
        let clock = Arc::new(FakeClock::default());
        let buf = SharedBuf::default();
        let r = TtyRenderer::new(Box::new(buf.clone()), clock.clone(), || (100, 24));
        play(&r, &clock);
        let lines = screen(&buf.text(), 100);
        let last = lines
            .iter()
            .rposition(|l| l.starts_with("[+] Building"))
            .unwrap();
        assert!(lines[last].ends_with("s (6/6)"), "{lines:#?}");
        assert_eq!(
            lines[..last],
            [
                " => [internal] load build definition from Dockerfile DONE 0.1s",
                " => CACHED [base 1/3] FROM alpine",
                " => [base 2/3] RUN make DONE 1.2s",
                " => ERROR [other 1/1] RUN test: exit code: 1",
                " => CANCELED [base 3/3] COPY . /",
                " => exporting to image",
                " => => writing image sha256:abc done",
                " => => naming to app:latest done",
            ]
        );
        assert_eq!(
            lines[last + 1..],
            ["------", " > [other 1/1] RUN test:", "warn: a", "------"]
        );
    }

    #[test]
    fn running_step_shows_its_last_log_lines_under_the_header() {
        let clock = Arc::new(FakeClock::default());
        let buf = SharedBuf::default();
        let r = TtyRenderer::new(Box::new(buf.clone()), clock.clone(), || (80, 24));
        let log = |data: &str| Event::StepLog {
            step: 5,
            stream: LogStream::Stdout,
            data: data.into(),
        };
        r.event(Event::StepStarted {
            step: 5,
            label: "[1/1] RUN make".into(),
        });
        r.event(log("l1\nl2\nl3\nl4\nl"));
        r.event(log("5\nl6\nl7\n"));
        // Past indicatif's rate limit, so the next update draws at once.
        std::thread::sleep(Duration::from_millis(120));
        r.event(log("l8\n"));
        let lines = screen(&buf.text(), 80);
        assert_eq!(lines.len(), 8, "{lines:#?}");
        assert!(lines[0].starts_with("[+] Building ") && lines[0].ends_with("s (0/1)"));
        assert!(lines[1].contains(" [1/1] RUN make "), "{lines:#?}");
        assert_eq!(
            lines[2..],
            ["   l3", "   l4", "   l5", "   l6", "   l7", "   l8"]
        );
        r.finish();
    }

    #[test]
    fn finish_settles_running_steps_and_reports_success() {
        let clock = Arc::new(FakeClock::default());
        let buf = SharedBuf::default();
        let r = TtyRenderer::new(Box::new(buf.clone()), clock.clone(), || (80, 24));
        r.event(Event::StepStarted {
            step: 1,
            label: "[1/1] RUN sleep".into(),
        });
        r.event(Event::StepLog {
            step: 1,
            stream: LogStream::Stdout,
            data: b"\x1b[31mred\n".to_vec(),
        });
        r.finish();
        let lines = screen(&buf.text(), 80);
        assert_eq!(lines.len(), 2, "{lines:#?}");
        assert_eq!(lines[0], " => CANCELED [1/1] RUN sleep");
        assert!(lines[1].starts_with("[+] Building ") && lines[1].ends_with("s (0/1) FINISHED"));
    }
}

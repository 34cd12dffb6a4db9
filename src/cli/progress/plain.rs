//! `--progress=plain`: BuildKit's numbered text log (`#3 [build 2/4] RUN make`, `#3 0.512 out`,
//! `#3 DONE 1.2s`), one block per step, re-headed when output from another step interleaves.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Clock, LineBuf, Renderer};
use crate::exec::events::{Event, LogStream, Progress};

pub(crate) struct PlainRenderer {
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

struct State {
    out: Box<dyn Write + Send>,
    /// The text of the current event, written to `out` in one call.
    text: String,
    last_number: usize,
    steps: HashMap<usize, Step>,
    /// The open phase: its number, name and start. A phase ends at the next other event.
    phase: Option<(usize, Duration)>,
    /// The block whose header is the last one printed and which has not ended.
    current: Option<usize>,
    /// When the last block ended, so export can report its own duration.
    last_end: Duration,
    /// Whether any header was printed: every later header gets a blank line before it.
    headed: bool,
}

struct Step {
    number: usize,
    label: String,
    started: Duration,
    logs: [LineBuf; 2],
}

impl PlainRenderer {
    pub(crate) fn new(out: Box<dyn Write + Send>, clock: Arc<dyn Clock>) -> Self {
        let state = State {
            out,
            text: String::new(),
            last_number: 0,
            steps: HashMap::new(),
            phase: None,
            current: None,
            last_end: Duration::ZERO,
            headed: false,
        };
        Self {
            clock,
            state: Mutex::new(state),
        }
    }
}

impl Progress for PlainRenderer {
    fn event(&self, event: Event) {
        let now = self.clock.elapsed();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.apply(event, now);
        state.write_out();
    }
}

impl Renderer for PlainRenderer {
    fn as_progress(&self) -> &dyn Progress {
        self
    }

    fn finish(&self) {
        let now = self.clock.elapsed();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.end_phase(now);
        state.flush_partials();
        state.write_out();
        // Progress output is best effort: a closed stderr must not fail the build.
        let _ = state.out.flush();
    }
}

impl State {
    fn apply(&mut self, event: Event, now: Duration) {
        self.end_phase(now);
        match event {
            Event::Phase { name } => {
                let number = self.next_number();
                self.head(number, &name);
                self.phase = Some((number, now));
            }
            Event::StepStarted { step, label } => {
                let (number, _) = self.step(step, Some(label.clone()), now);
                self.steps.get_mut(&step).expect("just added").started = now;
                self.head(number, &label);
            }
            Event::StepCached { step, label } => self.end_step(step, label, "CACHED".into(), now),
            Event::StepLog { step, stream, data } => {
                let (number, label) = self.step(step, None, now);
                let s = self.steps.get_mut(&step).expect("just added");
                let lines = s.logs[stream_index(stream)].push(&data, now.saturating_sub(s.started));
                if !lines.is_empty() {
                    self.head(number, &label);
                    self.log_lines(number, lines);
                }
            }
            Event::StepDone {
                step,
                label,
                elapsed,
            } => {
                let line = format!("DONE {:.1}s", elapsed.as_secs_f64());
                self.end_step(step, label, line, now);
            }
            Event::StepFailed { step, label, error } => {
                self.end_step(step, label, format!("ERROR: {error}"), now)
            }
            Event::StepCancelled { step, label } => {
                self.end_step(step, label, "CANCELED".into(), now)
            }
            Event::Exported { digest, tags } => {
                let number = self.next_number();
                self.head(number, "exporting to image");
                let _ = writeln!(self.text, "#{number} writing image {digest} done");
                for tag in tags {
                    let _ = writeln!(self.text, "#{number} naming to {tag} done");
                }
                let took = now.saturating_sub(self.last_end);
                self.end(number, &format!("DONE {:.1}s", took.as_secs_f64()), now);
            }
        }
    }

    fn next_number(&mut self) -> usize {
        self.last_number += 1;
        self.last_number
    }

    /// The step's number and label, numbering it on first sight. A log for a step never
    /// announced gets a stand-in label.
    fn step(&mut self, step: usize, label: Option<String>, now: Duration) -> (usize, String) {
        if !self.steps.contains_key(&step) {
            let number = self.next_number();
            let label = label.unwrap_or_else(|| format!("step {step}"));
            let logs = Default::default();
            self.steps.insert(
                step,
                Step {
                    number,
                    label,
                    started: now,
                    logs,
                },
            );
        }
        let s = &self.steps[&step];
        (s.number, s.label.clone())
    }

    fn end_step(&mut self, step: usize, label: String, line: String, now: Duration) {
        let (number, _) = self.step(step, Some(label.clone()), now);
        let s = self.steps.get_mut(&step).expect("just added");
        let rest: Vec<_> = s.logs.iter_mut().filter_map(LineBuf::flush).collect();
        self.head(number, &label);
        self.log_lines(number, rest);
        self.end(number, &line, now);
    }

    /// Makes `number` the current block, printing its header unless it already is; a block
    /// left open gets BuildKit's `#N ...` marker first.
    fn head(&mut self, number: usize, label: &str) {
        if self.current == Some(number) {
            return;
        }
        if let Some(old) = self.current {
            let _ = writeln!(self.text, "#{old} ...");
        }
        if self.headed {
            self.text.push('\n');
        }
        self.headed = true;
        let _ = writeln!(self.text, "#{number} {label}");
        self.current = Some(number);
    }

    fn log_lines(&mut self, number: usize, lines: Vec<(Duration, String)>) {
        for (at, line) in lines {
            let _ = writeln!(self.text, "#{number} {:.3} {line}", at.as_secs_f64());
        }
    }

    fn end(&mut self, number: usize, line: &str, now: Duration) {
        let _ = writeln!(self.text, "#{number} {line}");
        self.current = None;
        self.last_end = now;
    }

    fn end_phase(&mut self, now: Duration) {
        if let Some((number, started)) = self.phase.take() {
            let took = now.saturating_sub(started);
            self.end(number, &format!("DONE {:.1}s", took.as_secs_f64()), now);
        }
    }

    /// Prints the unfinished last lines of steps that never ended (the build was cut short).
    fn flush_partials(&mut self) {
        let mut steps: Vec<_> = self.steps.values_mut().collect();
        steps.sort_by_key(|s| s.number);
        let mut pending = Vec::new();
        for s in steps {
            let lines: Vec<_> = s.logs.iter_mut().filter_map(LineBuf::flush).collect();
            if !lines.is_empty() {
                pending.push((s.number, s.label.clone(), lines));
            }
        }
        for (number, label, lines) in pending {
            self.head(number, &label);
            self.log_lines(number, lines);
        }
    }

    fn write_out(&mut self) {
        if !self.text.is_empty() {
            let _ = self.out.write_all(self.text.as_bytes());
            self.text.clear();
        }
    }
}

fn stream_index(stream: LogStream) -> usize {
    match stream {
        LogStream::Stdout => 0,
        LogStream::Stderr => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{play, FakeClock, SharedBuf};
    use super::*;

    const EXPECTED: &str = "\
#1 [internal] load build definition from Dockerfile
#1 DONE 0.1s

#2 [base 1/3] FROM alpine
#2 CACHED

#3 [base 2/3] RUN make
#3 ...

#4 [other 1/1] RUN test
#4 ...

#3 [base 2/3] RUN make
#3 0.312 cc -o app
#3 ...

#4 [other 1/1] RUN test
#4 0.400 warn: a
#4 ...

#3 [base 2/3] RUN make
#3 0.312 linking done
#3 0.700 partial
#3 DONE 1.2s

#4 [other 1/1] RUN test
#4 ERROR: exit code: 1

#5 [base 3/3] COPY . /
#5 CANCELED

#6 exporting to image
#6 writing image sha256:abc done
#6 naming to app:latest done
#6 DONE 0.1s
";

    #[test]
    fn scripted_build_prints_buildkit_blocks() {
        let clock = Arc::new(FakeClock::default());
        let buf = SharedBuf::default();
        let r = PlainRenderer::new(Box::new(buf.clone()), clock.clone());
        play(&r, &clock);
        assert_eq!(buf.text(), EXPECTED);
    }

    #[test]
    fn finish_ends_the_phase_and_prints_partial_lines_of_unended_steps() {
        let clock = Arc::new(FakeClock::default());
        let buf = SharedBuf::default();
        let r = PlainRenderer::new(Box::new(buf.clone()), clock.clone());
        r.event(Event::Phase {
            name: "load context".into(),
        });
        assert_eq!(
            buf.text(),
            "#1 load context\n",
            "written per event, not at finish"
        );
        clock.set_ms(300);
        r.finish();
        assert_eq!(buf.text(), "#1 load context\n#1 DONE 0.3s\n");

        let buf = SharedBuf::default();
        let r = PlainRenderer::new(Box::new(buf.clone()), clock.clone());
        r.event(Event::StepLog {
            step: 7,
            stream: LogStream::Stdout,
            data: b"a\nb".to_vec(),
        });
        clock.set_ms(900);
        r.finish();
        assert_eq!(buf.text(), "#1 step 7\n#1 0.000 a\n#1 0.000 b\n");
    }

    #[test]
    fn events_from_many_threads_keep_lines_whole() {
        let clock = Arc::new(FakeClock::default());
        let buf = SharedBuf::default();
        let r = PlainRenderer::new(Box::new(buf.clone()), clock);
        std::thread::scope(|s| {
            for step in 1..=4 {
                let r = &r;
                s.spawn(move || {
                    let label = format!("[{step}/4] RUN work");
                    r.event(Event::StepStarted {
                        step,
                        label: label.clone(),
                    });
                    for i in 0..50 {
                        let data = format!("line {i} of {step}\n").into_bytes();
                        r.event(Event::StepLog {
                            step,
                            stream: LogStream::Stdout,
                            data,
                        });
                    }
                    r.event(Event::StepDone {
                        step,
                        label,
                        elapsed: Duration::ZERO,
                    });
                });
            }
        });
        r.finish();
        // Numbers follow first appearance, so learn each number's step from its header.
        let text = buf.text();
        let mut step_of = HashMap::new();
        let mut logs = HashMap::new();
        for line in text.lines().filter(|l| !l.is_empty()) {
            let (number, rest) = line[1..].split_once(' ').expect("#N then text");
            let number: usize = number.parse().expect("numbered");
            if let Some(label) = rest.strip_prefix('[') {
                step_of.insert(number, label[..1].to_string());
            } else if rest != "..." && rest != "DONE 0.0s" {
                let step = &step_of[&number];
                assert!(rest.ends_with(&format!(" of {step}")), "{line}");
                *logs.entry(number).or_insert(0) += 1;
            }
        }
        assert_eq!(step_of.len(), 4);
        assert!(logs.values().all(|&n| n == 50), "{logs:?}");
        assert_eq!(text.matches(" DONE 0.0s\n").count(), 4);
    }
}

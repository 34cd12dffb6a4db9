//! Progress events the executor emits while it runs a build graph. Renderers (tty, plain,
//! rawjson) live in the CLI; the executor only calls [`Progress::event`], from several threads.

use std::time::Duration;

use serde::Serialize;

/// Which output stream of a step a log chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// One thing that happened during a build. `step` is the graph node id; `label` is BuildKit's
/// vertex name (`[build 2/4] RUN make`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Loading the Dockerfile, the context, a base image: work outside any step.
    Phase { name: String },
    /// A step began (not emitted for cache hits, which go straight to `StepCached`).
    StepStarted { step: usize, label: String },
    /// A step's result came from the cache.
    StepCached { step: usize, label: String },
    /// A line or chunk of a step's output (RUN's stdout/stderr, warnings).
    StepLog {
        step: usize,
        stream: LogStream,
        data: Vec<u8>,
    },
    /// A step finished successfully.
    StepDone {
        step: usize,
        label: String,
        #[serde(with = "secs")]
        elapsed: Duration,
    },
    /// A step failed; `error` is the one-line message.
    StepFailed {
        step: usize,
        label: String,
        error: String,
    },
    /// A step was cancelled because another one failed.
    StepCancelled { step: usize, label: String },
    /// The image was written: manifest digest and the tags given.
    Exported { digest: String, tags: Vec<String> },
}

mod secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

/// Receives progress events; called from any executor thread.
pub trait Progress: Send + Sync {
    fn event(&self, event: Event);
}

/// Discards everything (library use, tests).
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _: Event) {}
}

/// Collects events in memory (tests).
#[derive(Default)]
pub struct Collect(pub std::sync::Mutex<Vec<Event>>);

impl Progress for Collect {
    fn event(&self, event: Event) {
        self.0.lock().expect("progress lock").push(event);
    }
}

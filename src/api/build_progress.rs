//! A build's progress as Docker's classic builder streams it: `Step N/M : INSTRUCTION`,
//! ` ---> Using cache`, the steps' output, then `{"aux":{"ID":…}}` and `Successfully built` /
//! `Successfully tagged` — what the docker CLI prints with `DOCKER_BUILDKIT=0` (and without
//! buildx) and what the SDKs parse.

use std::sync::Mutex;

use serde_json::{json, Value};

use super::stream::Sender;
use crate::engine::build::BuildNotice;
use crate::exec::events::{Event, LogStream, Progress};
use crate::plan::graph::{BuildGraph, Op};
use crate::store::{Image, Store};

/// The classic builder's messages, sent as the build goes.
pub struct Classic<'a> {
    out: &'a Sender,
    /// `q`: only the image ID (and errors) are sent.
    quiet: bool,
    /// Each step's instruction, by node id, once the graph is planned.
    steps: Mutex<Vec<Step>>,
    store: &'a Store,
}

/// What the stream says of one step.
#[derive(Default)]
struct Step {
    text: String,
    /// `FROM`: the classic builder names the image it starts from (` ---> <id>`), where other
    /// steps say ` ---> Using cache`; clients count those lines.
    from: Option<String>,
    /// Its `Step N/M` line went out (config steps that run send no start event).
    announced: bool,
}

fn stream(text: impl Into<String>) -> Value {
    json!({ "stream": text.into() })
}

impl<'a> Classic<'a> {
    pub fn new(out: &'a Sender, quiet: bool, store: &'a Store) -> Classic<'a> {
        Classic {
            out,
            quiet,
            steps: Mutex::new(Vec::new()),
            store,
        }
    }

    fn send(&self, v: Value) {
        if !self.quiet {
            // A client that went away is noticed by the build's interrupt.
            let _ = self.out.send(v);
        }
    }

    pub fn planned(&self, graph: &BuildGraph) {
        let from = |op: &Op| match op {
            Op::Base { image, .. } => Some(
                (self.store.resolve(image))
                    .map(|i| i.id.short())
                    .unwrap_or_default(),
            ),
            Op::Scratch { .. } | Op::StageRef { .. } => Some(String::new()),
            _ => None,
        };
        *self.steps.lock().unwrap_or_else(|e| e.into_inner()) = (graph.nodes.iter())
            .map(|n| Step {
                text: n.meta.text.clone(),
                from: from(&n.op),
                announced: false,
            })
            .collect();
    }

    /// The step's `Step N/M : …` line, once.
    fn announce(&self, step: usize) {
        let line = {
            let mut steps = self.steps.lock().unwrap_or_else(|e| e.into_inner());
            let total = steps.len();
            match steps.get_mut(step) {
                Some(s) if s.announced => return,
                Some(s) => {
                    s.announced = true;
                    format!("Step {}/{total} : {}\n", step + 1, s.text)
                }
                None => format!("Step {}/{total} : \n", step + 1),
            }
        };
        self.send(stream(line));
    }

    fn base_image(&self, step: usize) -> Option<String> {
        let steps = self.steps.lock().unwrap_or_else(|e| e.into_inner());
        steps.get(step).and_then(|s| s.from.clone())
    }

    pub fn notice(&self, n: BuildNotice) {
        match n {
            BuildNotice::Pulling(name) => self.send(json!({
                "status": format!("Pulling {name}"),
            })),
            BuildNotice::Info(m) => self.send(stream(format!("{m}\n"))),
            BuildNotice::Warning(w) => self.send(stream(format!("[Warning] {w}\n"))),
        }
    }

    /// The end of a successful build.
    pub fn built(&self, image: &Image, tags: &[String]) {
        let id = image.id.to_string();
        let _ = self.out.send(json!({ "aux": { "ID": id } }));
        if self.quiet {
            // What the docker CLI prints for `-q`: the daemon's output, only the ID.
            let _ = self.out.send(stream(format!("{id}\n")));
            return;
        }
        let short = image.id.short();
        self.send(stream(format!("Successfully built {short}\n")));
        for t in tags {
            self.send(stream(format!("Successfully tagged {t}\n")));
        }
    }
}

impl Progress for Classic<'_> {
    fn event(&self, event: Event) {
        match event {
            Event::StepStarted { step, .. } => self.announce(step),
            Event::StepCached { step, .. } => {
                self.announce(step);
                match self.base_image(step) {
                    Some(id) => self.send(stream(format!(" ---> {id}\n"))),
                    None => self.send(stream(" ---> Using cache\n")),
                }
            }
            Event::StepLog {
                data, stream: s, ..
            } => {
                let text = String::from_utf8_lossy(&data);
                // The classic builder's stderr writer colours each chunk red.
                self.send(stream(match s {
                    LogStream::Stdout => text.into_owned(),
                    LogStream::Stderr => format!("\x1b[91m{text}\x1b[0m"),
                }))
            }
            Event::StepDone { step, elapsed, .. } => {
                self.announce(step);
                self.send(stream(format!(
                    " ---> Done in {:.1}s\n",
                    elapsed.as_secs_f64()
                )))
            }
            Event::Phase { .. }
            | Event::StepFailed { .. }
            | Event::StepCancelled { .. }
            | Event::Exported { .. } => {}
        }
    }
}

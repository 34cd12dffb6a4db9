//! A build's progress as Docker's classic builder streams it: `Step N/M : INSTRUCTION`,
//! ` ---> Using cache`, the steps' output, then `{"aux":{"ID":…}}` and `Successfully built` /
//! `Successfully tagged` — what the docker CLI prints with `DOCKER_BUILDKIT=0` (and without
//! buildx) and what the SDKs parse.

use std::sync::Mutex;

use serde_json::{json, Value};

use super::stream::Sender;
use crate::engine::build::BuildNotice;
use crate::exec::events::{Event, Progress};
use crate::plan::graph::BuildGraph;
use crate::store::Image;

/// The classic builder's messages, sent as the build goes.
pub struct Classic<'a> {
    out: &'a Sender,
    /// `q`: only the image ID (and errors) are sent.
    quiet: bool,
    /// Each step's instruction, by node id, once the graph is planned.
    steps: Mutex<Vec<String>>,
}

fn stream(text: impl Into<String>) -> Value {
    json!({ "stream": text.into() })
}

impl<'a> Classic<'a> {
    pub fn new(out: &'a Sender, quiet: bool) -> Classic<'a> {
        Classic {
            out,
            quiet,
            steps: Mutex::new(Vec::new()),
        }
    }

    fn send(&self, v: Value) {
        if !self.quiet {
            // A client that went away is noticed by the build's interrupt.
            let _ = self.out.send(v);
        }
    }

    pub fn planned(&self, graph: &BuildGraph) {
        *self.steps.lock().unwrap_or_else(|e| e.into_inner()) =
            graph.nodes.iter().map(|n| n.meta.text.clone()).collect();
    }

    fn step_line(&self, step: usize) -> String {
        let steps = self.steps.lock().unwrap_or_else(|e| e.into_inner());
        let text = steps.get(step).map_or("", String::as_str);
        format!("Step {}/{} : {text}\n", step + 1, steps.len())
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
            Event::StepStarted { step, .. } => self.send(stream(self.step_line(step))),
            Event::StepCached { step, .. } => {
                self.send(stream(self.step_line(step)));
                self.send(stream(" ---> Using cache\n"));
            }
            Event::StepLog { data, .. } => {
                self.send(stream(String::from_utf8_lossy(&data).into_owned()))
            }
            Event::StepDone { elapsed, .. } => self.send(stream(format!(
                " ---> Done in {:.1}s\n",
                elapsed.as_secs_f64()
            ))),
            Event::Phase { .. }
            | Event::StepFailed { .. }
            | Event::StepCancelled { .. }
            | Event::Exported { .. } => {}
        }
    }
}

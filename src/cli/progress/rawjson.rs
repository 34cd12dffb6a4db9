//! `--progress=rawjson`: one JSON object per line in the shape of BuildKit's `SolveStatus`
//! (`vertexes`, `statuses`, `logs`), for tools that parse build progress.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::encoding::{base64, rfc3339};
use super::{Clock, Renderer};
use crate::exec::events::{Event, LogStream, Progress};

/// What BuildKit's plain printer recognises as a cancelled vertex.
const CANCELED: &str = "context canceled";

pub(crate) struct RawJsonRenderer {
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

struct State {
    out: Box<dyn Write + Send>,
    /// Start times of running steps, by step id.
    started: HashMap<usize, String>,
    phases: usize,
    /// The open phase: digest, name, start. A phase ends at the next other event.
    phase: Option<(String, String, String)>,
    /// When the last vertex ended: the export vertex starts there.
    last_end: Option<String>,
}

#[derive(Serialize, Default)]
struct SolveStatus {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    vertexes: Vec<Vertex>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    statuses: Vec<VertexStatus>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logs: Vec<VertexLog>,
}

#[derive(Serialize, Default)]
struct Vertex {
    digest: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    started: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    completed: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    cached: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
struct VertexStatus {
    id: String,
    vertex: String,
    name: String,
    current: u64,
    timestamp: String,
    started: String,
    completed: String,
}

#[derive(Serialize)]
struct VertexLog {
    vertex: String,
    stream: u8,
    data: String,
    timestamp: String,
}

impl RawJsonRenderer {
    pub(crate) fn new(out: Box<dyn Write + Send>, clock: Arc<dyn Clock>) -> Self {
        let state = State {
            out,
            started: HashMap::new(),
            phases: 0,
            phase: None,
            last_end: None,
        };
        Self {
            clock,
            state: Mutex::new(state),
        }
    }

    fn now(&self) -> String {
        rfc3339(self.clock.origin() + self.clock.elapsed())
    }
}

impl Progress for RawJsonRenderer {
    fn event(&self, event: Event) {
        let now = self.now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.end_phase(&now);
        let status = state.status(event, now);
        state.emit(&status);
    }
}

impl Renderer for RawJsonRenderer {
    fn as_progress(&self) -> &dyn Progress {
        self
    }

    fn finish(&self) {
        let now = self.now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.end_phase(&now);
        // Progress output is best effort: a closed pipe must not fail the build.
        let _ = state.out.flush();
    }
}

impl State {
    fn status(&mut self, event: Event, now: String) -> SolveStatus {
        let vertex = |step: usize, name: String| Vertex {
            digest: step_digest(step),
            name,
            ..Vertex::default()
        };
        let mut status = SolveStatus::default();
        match event {
            Event::Phase { name } => {
                self.phases += 1;
                let digest = format!("phase-{}", self.phases);
                let v = Vertex {
                    digest: digest.clone(),
                    name: name.clone(),
                    ..Vertex::default()
                };
                status.vertexes.push(Vertex {
                    started: Some(now.clone()),
                    ..v
                });
                self.phase = Some((digest, name, now));
            }
            Event::StepStarted { step, label } => {
                self.started.insert(step, now.clone());
                status.vertexes.push(Vertex {
                    started: Some(now),
                    ..vertex(step, label)
                });
            }
            Event::StepCached { step, label } => {
                let v = Vertex {
                    cached: true,
                    ..vertex(step, label)
                };
                status.vertexes.push(self.ended(step, v, now));
            }
            Event::StepLog { step, stream, data } => status.logs.push(VertexLog {
                vertex: step_digest(step),
                stream: match stream {
                    LogStream::Stdout => 1,
                    LogStream::Stderr => 2,
                },
                data: base64(&data),
                timestamp: now,
            }),
            Event::StepDone {
                step,
                label,
                elapsed: _,
            } => {
                status
                    .vertexes
                    .push(self.ended(step, vertex(step, label), now));
            }
            Event::StepFailed { step, label, error } => {
                let v = Vertex {
                    error: Some(error),
                    ..vertex(step, label)
                };
                status.vertexes.push(self.ended(step, v, now));
            }
            Event::StepCancelled { step, label } => {
                let v = Vertex {
                    error: Some(CANCELED.into()),
                    ..vertex(step, label)
                };
                status.vertexes.push(self.ended(step, v, now));
            }
            Event::Exported { digest, tags } => {
                let started = self.last_end.clone().unwrap_or_else(|| now.clone());
                let names = std::iter::once(format!("writing image {digest}"))
                    .chain(tags.iter().map(|t| format!("naming to {t}")));
                status.statuses = names
                    .map(|name| VertexStatus {
                        id: name.clone(),
                        vertex: "export".into(),
                        name,
                        current: 0,
                        timestamp: now.clone(),
                        started: now.clone(),
                        completed: now.clone(),
                    })
                    .collect();
                status.vertexes.push(Vertex {
                    digest: "export".into(),
                    name: "exporting to image".into(),
                    started: Some(started),
                    completed: Some(now.clone()),
                    ..Vertex::default()
                });
                self.last_end = Some(now);
            }
        }
        status
    }

    /// `v` completed now; it started when its `StepStarted` came, or now if none did.
    fn ended(&mut self, step: usize, v: Vertex, now: String) -> Vertex {
        let started = self.started.remove(&step).unwrap_or_else(|| now.clone());
        self.last_end = Some(now.clone());
        Vertex {
            started: Some(started),
            completed: Some(now),
            ..v
        }
    }

    fn end_phase(&mut self, now: &str) {
        if let Some((digest, name, started)) = self.phase.take() {
            let completed = Some(now.to_string());
            let v = Vertex {
                digest,
                name,
                started: Some(started),
                completed,
                ..Vertex::default()
            };
            self.last_end = Some(now.to_string());
            self.emit(&SolveStatus {
                vertexes: vec![v],
                ..SolveStatus::default()
            });
        }
    }

    fn emit(&mut self, status: &SolveStatus) {
        let mut line = serde_json::to_vec(status).expect("plain structs serialize");
        line.push(b'\n');
        let _ = self.out.write_all(&line);
    }
}

fn step_digest(step: usize) -> String {
    format!("step-{step}")
}

#[cfg(test)]
mod tests {
    use super::super::testing::{play, FakeClock, SharedBuf};
    use super::*;

    const EXPECTED: &[&str] = &[
        r#"{"vertexes":[{"digest":"phase-1","name":"[internal] load build definition from Dockerfile","started":"2024-01-02T03:04:05Z"}]}"#,
        r#"{"vertexes":[{"digest":"phase-1","name":"[internal] load build definition from Dockerfile","started":"2024-01-02T03:04:05Z","completed":"2024-01-02T03:04:05.1Z"}]}"#,
        r#"{"vertexes":[{"digest":"step-1","name":"[base 1/3] FROM alpine","started":"2024-01-02T03:04:05.1Z","completed":"2024-01-02T03:04:05.1Z","cached":true}]}"#,
        r#"{"vertexes":[{"digest":"step-2","name":"[base 2/3] RUN make","started":"2024-01-02T03:04:05.2Z"}]}"#,
        r#"{"vertexes":[{"digest":"step-3","name":"[other 1/1] RUN test","started":"2024-01-02T03:04:05.3Z"}]}"#,
        r#"{"logs":[{"vertex":"step-2","stream":1,"data":"Y2MgLW8gYXBwCmxpbmtpbmc=","timestamp":"2024-01-02T03:04:05.512Z"}]}"#,
        r#"{"logs":[{"vertex":"step-3","stream":2,"data":"d2FybjogYQo=","timestamp":"2024-01-02T03:04:05.7Z"}]}"#,
        r#"{"logs":[{"vertex":"step-2","stream":1,"data":"IGRvbmUKcGFydGlhbA==","timestamp":"2024-01-02T03:04:05.9Z"}]}"#,
        r#"{"vertexes":[{"digest":"step-2","name":"[base 2/3] RUN make","started":"2024-01-02T03:04:05.2Z","completed":"2024-01-02T03:04:06.4Z"}]}"#,
        r#"{"vertexes":[{"digest":"step-3","name":"[other 1/1] RUN test","started":"2024-01-02T03:04:05.3Z","completed":"2024-01-02T03:04:06.5Z","error":"exit code: 1"}]}"#,
        r#"{"vertexes":[{"digest":"step-4","name":"[base 3/3] COPY . /","started":"2024-01-02T03:04:06.6Z","completed":"2024-01-02T03:04:06.6Z","error":"context canceled"}]}"#,
        r#"{"vertexes":[{"digest":"export","name":"exporting to image","started":"2024-01-02T03:04:06.6Z","completed":"2024-01-02T03:04:06.7Z"}],"statuses":[{"id":"writing image sha256:abc","vertex":"export","name":"writing image sha256:abc","current":0,"timestamp":"2024-01-02T03:04:06.7Z","started":"2024-01-02T03:04:06.7Z","completed":"2024-01-02T03:04:06.7Z"},{"id":"naming to app:latest","vertex":"export","name":"naming to app:latest","current":0,"timestamp":"2024-01-02T03:04:06.7Z","started":"2024-01-02T03:04:06.7Z","completed":"2024-01-02T03:04:06.7Z"}]}"#,
    ];

    #[test]
    fn scripted_build_emits_solve_status_lines() {
        let clock = Arc::new(FakeClock::default());
        let buf = SharedBuf::default();
        let r = RawJsonRenderer::new(Box::new(buf.clone()), clock.clone());
        play(&r, &clock);
        let text = buf.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines, EXPECTED);
        assert!(text.ends_with('\n'));
    }
}

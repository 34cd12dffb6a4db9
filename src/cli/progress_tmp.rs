//! Stand-in progress printer until the renderers land.
use std::io::Write;
use std::sync::Mutex;

use anyhow::Result;

use crate::exec::events::{Event, Progress};

pub struct ProgressMode;
impl ProgressMode {
    pub fn chosen(_: Option<&str>) -> Result<ProgressMode> {
        Ok(ProgressMode)
    }
}
pub struct Plain(Mutex<Box<dyn Write + Send>>, bool);
impl Progress for Plain {
    fn event(&self, e: Event) {
        if self.1 {
            return;
        }
        let mut w = self.0.lock().unwrap();
        let _ = match e {
            Event::StepStarted { step, label } => writeln!(w, "#{step} {label}"),
            Event::StepCached { step, label } => writeln!(w, "#{step} {label}\n#{step} CACHED"),
            Event::StepDone { step, elapsed, .. } => {
                writeln!(w, "#{step} DONE {:.1}s", elapsed.as_secs_f64())
            }
            Event::StepFailed { step, error, .. } => writeln!(w, "#{step} ERROR: {error}"),
            Event::StepLog { step, data, .. } => {
                writeln!(w, "#{step} {}", String::from_utf8_lossy(&data).trim_end())
            }
            Event::Exported { digest, .. } => writeln!(w, "writing image {digest} done"),
            _ => Ok(()),
        };
    }
}
impl Plain {
    pub fn as_progress(&self) -> &dyn Progress {
        self
    }
    pub fn finish(&self) {}
}
pub fn quiet() -> Box<Plain> {
    Box::new(Plain(Mutex::new(Box::new(std::io::sink())), true))
}
pub fn renderer(_: ProgressMode, out: Box<dyn Write + Send>) -> Box<Plain> {
    Box::new(Plain(Mutex::new(out), false))
}

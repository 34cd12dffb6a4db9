//! Stopping a build from outside (SIGINT/SIGTERM in the CLI) or from inside (a failed step
//! cancels the others): a flag every node checks before it starts, plus the cancellers of the
//! sandboxes running right now.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::sandbox::Canceller;

#[derive(Default)]
pub struct Interrupt {
    requested: AtomicBool,
    running: Mutex<Vec<Canceller>>,
}

impl Interrupt {
    pub const fn new() -> Self {
        Interrupt {
            requested: AtomicBool::new(false),
            running: Mutex::new(Vec::new()),
        }
    }

    /// Stops every running sandbox; nodes not started yet give up.
    pub fn trigger(&self) {
        self.requested.store(true, Ordering::SeqCst);
        for c in self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            c.cancel();
        }
    }

    /// Clears a trigger left by a failed build, so the same interrupt can stop a retry.
    pub fn reset(&self) {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.requested.store(false, Ordering::SeqCst);
    }

    pub fn is_triggered(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// Tracks a sandbox about to run; one registered after `trigger` is cancelled at once.
    pub fn register(&self, c: &Canceller) {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(c.clone());
        if self.is_triggered() {
            c.cancel();
        }
    }

    pub fn unregister(&self, c: &Canceller) {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|x| !x.same(c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trigger_cancels_registered_and_later_sandboxes() {
        let i = Interrupt::new();
        let early = Canceller::new();
        i.register(&early);
        assert!(!early.is_cancelled());
        i.trigger();
        assert!(early.is_cancelled());
        let late = Canceller::new();
        i.register(&late);
        assert!(late.is_cancelled());
        i.unregister(&late);
        i.unregister(&early);
        assert!(i.running.lock().unwrap().is_empty());
    }
}

//! SIGINT and SIGTERM during a build: taken by a dedicated thread (the signals are blocked in
//! every other thread), which triggers the build's [`Interrupt`] so sandboxes are killed, mounts
//! and temp dirs are released by their guards, and strata exits 130 instead of dying midway.

use std::sync::OnceLock;

use nix::sys::signal::{SigSet, SigmaskHow, Signal};

use crate::exec::Interrupt;

static INTERRUPT: Interrupt = Interrupt::new();
static WATCHER: OnceLock<()> = OnceLock::new();

/// The interrupt that SIGINT/SIGTERM trigger; installs the watcher on first use. Must be called
/// before the build starts its threads, so they inherit the blocked mask.
pub fn build_interrupt() -> &'static Interrupt {
    WATCHER.get_or_init(|| {
        let mut set = SigSet::empty();
        set.add(Signal::SIGINT);
        set.add(Signal::SIGTERM);
        // Blocked here (the main thread) and so in every thread spawned after; the sandbox
        // resets the mask before it executes a command.
        let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
        std::thread::spawn(move || loop {
            if set.wait().is_ok() {
                INTERRUPT.trigger();
            }
        });
    });
    &INTERRUPT
}

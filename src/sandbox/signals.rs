//! The signals the sandbox's own processes (the helper, PID 1, `exec`'s joiner) pass on to
//! their child, and the raw `sigwait`/`waitpid` they use. Raw because nix's `Signal` has no
//! realtime signals: a container's `StopSignal` may be `SIGRTMIN+3` (systemd's), and a
//! command killed by one must still be reaped.

use super::spec::ExitStatus;

/// Whether the sandbox's processes forward `sig` to their child: every signal a process can
/// catch but SIGCHLD (theirs to reap), the faults the kernel raises in the faulting process
/// itself, and glibc's two internal realtime signals (32 and 33; `SIGRTMIN` is 34 for
/// glibc programs and for Docker).
pub fn forwarded(sig: i32) -> bool {
    (1..=libc::SIGRTMAX()).contains(&sig)
        && !matches!(
            sig,
            libc::SIGKILL
                | libc::SIGSTOP
                | libc::SIGCHLD
                | libc::SIGSEGV
                | libc::SIGBUS
                | libc::SIGILL
                | libc::SIGFPE
                | libc::SIGTRAP
                | libc::SIGSYS
                | 32
                | 33
        )
}

/// The signals a process blocked to take them with `wait`.
pub struct WaitSet(libc::sigset_t);

extern "C" fn ignore_signal(_: libc::c_int) {}

/// Blocks SIGCHLD and the forwarded signals and gives them a no-op handler, so `wait` gets
/// them (a PID 1 with default handlers would never see SIGTERM at all).
pub fn block_for_sigwait() -> WaitSet {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::sigemptyset(&mut set) };
    // SAFETY: zeroed is a valid `sigaction` (no flags, empty mask) before the fields are set.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = ignore_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    action.sa_flags = libc::SA_RESTART;
    for sig in (1..=libc::SIGRTMAX()).filter(|s| forwarded(*s) || *s == libc::SIGCHLD) {
        // SAFETY: the handler does nothing, so it is trivially async-signal-safe; `set` is
        // initialised.
        unsafe {
            libc::sigaddset(&mut set, sig);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
    // SAFETY: blocks an initialised set in this thread.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    WaitSet(set)
}

impl WaitSet {
    /// The next pending signal of the set (`None` if interrupted).
    pub fn wait(&self) -> Option<i32> {
        let mut sig = 0;
        // SAFETY: the set is initialised; sigwait writes one int.
        (unsafe { libc::sigwait(&self.0, &mut sig) } == 0).then_some(sig)
    }
}

/// Undoes what a forked process inherited before it executes the command: Rust ignores
/// SIGPIPE, and the sandbox's processes blocked and caught the forwarded signals.
pub fn reset() {
    // SAFETY: zeroed is SIG_DFL with no flags and an empty mask.
    let dfl: libc::sigaction = unsafe { std::mem::zeroed() };
    for sig in (1..=libc::SIGRTMAX()).filter(|s| !matches!(*s, libc::SIGKILL | libc::SIGSTOP)) {
        // SAFETY: installing SIG_DFL has no handler-safety requirements; glibc refuses its
        // internal signals, which is fine.
        unsafe { libc::sigaction(sig, &dfl, std::ptr::null_mut()) };
    }
    // SAFETY: sigset_t is plain data; sigemptyset initialises it before use.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
}

/// What `reap` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaped {
    /// `pid` ended so.
    Ended(i32, ExitStatus),
    /// Children remain, none has ended.
    StillAlive,
    /// No such child (or none at all).
    None,
}

/// Reaps one ended child (`pid`, or any with -1) without waiting.
pub fn reap(pid: i32) -> Reaped {
    let mut status = 0;
    // SAFETY: waitpid writes one int.
    let got = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    match got {
        0 => Reaped::StillAlive,
        p if p < 0 => {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                Reaped::StillAlive
            } else {
                Reaped::None
            }
        }
        p => Reaped::Ended(p, decode(status)),
    }
}

/// A `waitpid` status of a process that ended (neither stop nor continue is asked for).
pub fn decode(status: i32) -> ExitStatus {
    if libc::WIFSIGNALED(status) {
        ExitStatus::Signaled(libc::WTERMSIG(status))
    } else {
        ExitStatus::Exited(libc::WEXITSTATUS(status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_forwarded() {
        for (sig, fwd) in [
            (libc::SIGTERM, true),
            (libc::SIGALRM, true),
            (libc::SIGWINCH, true),
            (libc::SIGTSTP, true),
            (34, true),
            (37, true),
            (64, true),
            (libc::SIGKILL, false),
            (libc::SIGSTOP, false),
            (libc::SIGCHLD, false),
            (libc::SIGSEGV, false),
            (libc::SIGSYS, false),
            (32, false),
            (33, false),
            (0, false),
            (65, false),
        ] {
            assert_eq!(forwarded(sig), fwd, "{sig}");
        }
    }

    #[test]
    fn statuses_decode_realtime_signals_too() {
        // waitpid's encoding: exit code in bits 8..16, else the signal in the low 7 bits.
        assert_eq!(decode(3 << 8), ExitStatus::Exited(3));
        assert_eq!(decode(15), ExitStatus::Signaled(15));
        assert_eq!(decode(37), ExitStatus::Signaled(37));
    }
}

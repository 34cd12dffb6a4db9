//! Ending what a command left behind when the sandbox shares a pid namespace (the host's, or
//! another container's): there the kernel kills nothing when PID 1 exits, so init, made a
//! child subreaper, inherits every orphan of the command and kills its children until none
//! is left.

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

/// Makes the calling process the reaper of its descendants' orphans, so none escapes to the
/// host's init before `kill_children` sees it.
pub fn become_subreaper() -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments.
    let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    Errno::result(r).map(drop)
}

/// Kills every child (and, as they are reparented here, every later descendant) of the
/// calling single-threaded process, reaping each, until it has none.
pub fn kill_children() {
    let me = nix::unistd::getpid().as_raw();
    let list = format!("/proc/{me}/task/{me}/children");
    loop {
        let kids = std::fs::read_to_string(&list)
            .map(|t| parse_children(&t))
            .unwrap_or_default();
        if kids.is_empty() {
            // The list can miss a child whose exit is pending: reap what is left.
            while !matches!(waitpid(None::<Pid>, None), Err(Errno::ECHILD)) {}
            return;
        }
        for k in kids {
            let _ = kill(Pid::from_raw(k), Signal::SIGKILL);
        }
        // One reaped per round; a killed one's own children are ours by the next.
        let _ = waitpid(None::<Pid>, None);
    }
}

/// The pids of `/proc/PID/task/TID/children` (space-separated).
pub fn parse_children(text: &str) -> Vec<i32> {
    text.split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_lists() {
        let cases: &[(&str, &[i32])] = &[
            ("", &[]),
            ("12 ", &[12]),
            ("12 345 6\n", &[12, 345, 6]),
            ("x 7", &[7]),
        ];
        for (text, want) in cases {
            assert_eq!(parse_children(text), *want, "{text:?}");
        }
    }
}

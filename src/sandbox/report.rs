//! Messages the sandbox's own processes send back to the caller over one pipe, one JSON line
//! each (every line fits in a single atomic pipe write).

use std::io::{BufRead, BufReader};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::spec::ExitStatus;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Report {
    /// The helper has its namespaces; the caller may attach networking, then say go.
    Unshared,
    /// The pid (in the caller's namespace) of the sandbox's PID 1.
    Init(i32),
    Created(Vec<PathBuf>),
    Failed {
        step: String,
        detail: String,
    },
    ExecFailed {
        detail: String,
    },
    /// The main process has executed its command (or failed to: then `ExecFailed` came first).
    Started,
    Status(ExitStatus),
}

/// Sends one report; used in forked children, so failures are ignored (the caller then sees
/// a missing status instead).
pub fn send(fd: BorrowedFd<'_>, report: &Report) {
    if let Ok(mut line) = serde_json::to_vec(report) {
        line.push(b'\n');
        let _ = nix::unistd::write(fd, &line);
    }
}

/// Reads reports until every writer has closed the pipe, calling `each` as they arrive.
pub fn read_all(fd: OwnedFd, mut each: impl FnMut(Report)) {
    let reader = BufReader::new(std::fs::File::from(fd));
    for line in reader.lines() {
        let Ok(line) = line else { break };
        if let Ok(r) = serde_json::from_str(&line) {
            each(r);
        }
    }
}

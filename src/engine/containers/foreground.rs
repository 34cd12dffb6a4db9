//! A container run in the foreground of the calling process (`run` without `-d`, `start -a`):
//! its output recorded in its log and shown on the caller's own stdout and stderr, the
//! caller's stdin forwarded with `-i`, its exit code returned. The caller owns its terminal
//! and its signals: it opens the pty (so it can resize it on SIGWINCH), puts its terminal in
//! raw mode and forwards signals to `cancel`.

use std::os::fd::{AsRawFd, OwnedFd};

use super::error::{Error, Result};
use super::stdio::{dup_file, output_to_log, own_stdin, pump, Pty};
use crate::container::logfile::LogSink;
use crate::container::{lifecycle, Container, Containers, RunIo};
use crate::sandbox::{Canceller, Stdio};
use crate::store::Store;

/// Runs the created container `c` until it exits; `pty` is its terminal when it has `-t`.
/// Returns its exit code (128+N when killed by signal N).
pub fn run_foreground(
    store: Store,
    c: &Container,
    pty: Option<Pty>,
    cancel: &Canceller,
) -> Result<i32> {
    // Docker logs a foreground container too (`docker logs` works after it ran); one that is
    // removed when it exits has no log to keep, and keeps our descriptors.
    let sink = if c.config.auto_remove {
        None
    } else {
        let path = Containers::new(store.root()).log_path(&c.id);
        Some(LogSink::open(&path).map_err(Error::io(path.display().to_string()))?)
    };
    let mut pumps = Vec::new();
    let mut keep = Vec::new();
    let mut _slave: Option<OwnedFd> = None;
    let io = if let Some(pty) = pty {
        let fd = pty.slave.as_raw_fd();
        match &sink {
            Some(sink) => {
                let (_, _, copiers, _) = output_to_log(Some(&pty), sink, true)?;
                pumps.extend(copiers);
            }
            None => {
                if let Ok(out) = dup_file(&pty.master) {
                    pumps.push(std::thread::spawn(move || pump(out, std::io::stdout())));
                }
            }
        }
        if c.config.interactive {
            if let Ok(input) = dup_file(&pty.master) {
                // Not joined: it blocks on our stdin until the process exits.
                std::thread::spawn(move || pump(own_stdin(), input));
            }
        }
        _slave = Some(pty.slave);
        drop(pty.master);
        RunIo {
            stdin: Stdio::Fd(fd),
            stdout: Stdio::Fd(fd),
            stderr: Stdio::Fd(fd),
        }
    } else {
        let stdin = if c.config.interactive {
            Stdio::Inherit
        } else {
            Stdio::Null
        };
        match &sink {
            Some(sink) => {
                let (stdout, stderr, copiers, fds) = output_to_log(None, sink, true)?;
                pumps.extend(copiers);
                keep = fds;
                RunIo {
                    stdin,
                    stdout,
                    stderr,
                }
            }
            None => RunIo {
                stdin,
                stdout: Stdio::Inherit,
                stderr: Stdio::Inherit,
            },
        }
    };
    let result = lifecycle::run(store, &c.id, io, cancel, &mut |_| {}, &mut || {});
    drop(keep);
    drop(_slave);
    for p in pumps {
        let _ = p.join();
    }
    Ok(result?)
}

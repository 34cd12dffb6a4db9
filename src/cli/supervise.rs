//! `strata container-supervise ID` (hidden): the monitor of a detached container. Started by
//! `run -d` and `start` in its own session; runs the container with its output appended to the
//! container's log, tells its starter on the ready pipe whether the command runs
//! (`ok` / `err CODE MESSAGE`), records the exit and ends with the container.
//!
//! With a restart policy it is the container's keeper instead: it runs each start in a monitor
//! of its own (`--once`) and applies the policy when that one ends, so a monitor that was
//! killed, taking the container with it, is restarted too.

use std::fs::File;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;

use std::os::fd::AsRawFd;

use super::ctr_common::{forward_signals, output_to_log, ready_pipe, Pty};
use super::Settings;
use crate::container::logfile::LogSink;
use crate::container::record::{ProcRef, Status};
use crate::container::restart;
use crate::container::{lifecycle, Containers, RunIo};
use crate::sandbox::{Canceller, Stdio};
use crate::store::Store;

#[derive(Debug, Args)]
pub struct SuperviseArgs {
    /// The descriptor to report readiness on.
    #[arg(long = "ready-fd")]
    pub ready_fd: Option<i32>,
    /// Run the container once, whatever its restart policy (the keeper's monitor).
    #[arg(long)]
    pub once: bool,
    pub id: String,
}

pub fn run(settings: &Settings, args: SuperviseArgs) -> Result<ExitCode> {
    let cs = Containers::new(&settings.root);
    let policy = cs
        .load(&args.id)
        .map(|c| c.config.restart)
        .unwrap_or_default();
    if args.once || policy.is_none() {
        return once(settings, args);
    }
    keep(settings, &args.id, args.ready_fd.map(ready_pipe))
}

fn once(settings: &Settings, args: SuperviseArgs) -> Result<ExitCode> {
    let mut ready = args.ready_fd.map(ready_pipe);
    let mut tell = |line: String| {
        if let Some(mut r) = ready.take() {
            let _ = writeln!(r, "{line}");
        }
    };
    let result = supervise(settings, &args.id, &mut tell);
    match result {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            tell(format!("err {} {}", e.0, e.1));
            Ok(ExitCode::from(125))
        }
    }
}

fn supervise(
    settings: &Settings,
    id: &str,
    tell: &mut dyn FnMut(String),
) -> std::result::Result<i32, (i32, String)> {
    let store = Store::open(&settings.root).map_err(|e| (125, e.to_string()))?;
    let cs = Containers::new(&settings.root);
    let c = cs.load(id).map_err(|e| (125, e.to_string()))?;
    let log_path = cs.log_path(id);
    let sink = LogSink::open(&log_path)
        .map_err(|e| (125, format!("opening {}: {e}", log_path.display())))?;
    let cancel = Canceller::new();
    let fwd = cancel.clone();
    forward_signals(move |sig| fwd.forward(sig));
    let pty = if c.config.tty {
        Some(Pty::open().map_err(|e| (125, e.to_string()))?)
    } else {
        None
    };
    let (stdout, stderr, copiers, keep) =
        output_to_log(pty.as_ref(), &sink, false).map_err(|e| (125, e.to_string()))?;
    // `-i`: what `attach` writes into the container's stdin FIFO goes to its stdin (through
    // the pty's master with `-t`). Held open for writing here too, so the container never sees
    // end of file when an attached client leaves.
    let mut stdin_pipe = None;
    if c.config.interactive {
        let fifo = stdin_fifo(&cs, id).map_err(|e| (125, e))?;
        let (to, read_end) = match &pty {
            Some(p) => (
                File::from(p.master.try_clone().map_err(|e| (125, e.to_string()))?),
                None,
            ),
            None => {
                let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                    .map_err(|e| (125, format!("pipe: {e}")))?;
                (File::from(w), Some(r))
            }
        };
        // Not joined: it blocks reading the FIFO for the life of this process.
        std::thread::spawn(move || super::ctr_common::pump(fifo, to));
        stdin_pipe = read_end;
    }
    let stdin = match (&pty, &stdin_pipe) {
        (Some(p), _) => Stdio::Fd(p.slave.as_raw_fd()),
        (None, Some(r)) => Stdio::Fd(r.as_raw_fd()),
        (None, None) => Stdio::Null,
    };
    let io = RunIo {
        stdin,
        stdout,
        stderr,
    };
    let result = lifecycle::run(store, id, io, &cancel, &mut |_| tell("ok".into()));
    // Our copies of the write ends (or the pty slave) go, so the copiers see end of file.
    drop(keep);
    // The slave goes; the master stays open in the copier until it reads EIO, so the slave
    // never saw a hang-up while the container ran.
    drop(pty.map(|p| p.slave));
    for c in copiers {
        let _ = c.join();
    }
    result.map_err(|e| (e.exit_code(), e.to_string()))
}

/// The container's stdin FIFO (`attach` writes to it), made afresh and opened for reading and
/// writing so it never reads end of file.
fn stdin_fifo(cs: &Containers, id: &str) -> std::result::Result<File, String> {
    let path = cs.stdin_fifo(id);
    let _ = std::fs::remove_file(&path);
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .map_err(|e| format!("mkfifo {}: {e}", path.display()))?;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| format!("opening {}: {e}", path.display()))
}

/// The keeper: runs the container in a monitor process, and again after each exit for as long
/// as its restart policy asks, with Docker's back-off; a `stop`, `kill` or `rm` in the meantime
/// ends it.
fn keep(settings: &Settings, id: &str, ready: Option<File>) -> Result<ExitCode> {
    let cs = Containers::new(&settings.root);
    // A new start counts restarts from zero and forgets an earlier `stop`.
    cs.update(id, |c| {
        c.state.keeper = ProcRef::current();
        c.state.restart_count = 0;
        c.state.manually_stopped = false;
        c.state.restarting = false;
    })?;
    let mut ready = ready;
    let mut delay = None;
    loop {
        let began = Instant::now();
        let ran = run_monitor(&settings.root, id, ready.take());
        let c = match cs.get_reconciled(id) {
            Ok(c) if ran.is_ok() => c,
            _ => break,
        };
        // Never started (its start failed): there is nothing to restart.
        if c.state.status != Status::Exited {
            break;
        }
        let code = c.state.exit_code.unwrap_or(0);
        let policy = &c.config.restart;
        if !policy.should_restart(code, c.state.restart_count, c.state.manually_stopped) {
            break;
        }
        let d = restart::next_delay(delay, began.elapsed());
        delay = Some(d);
        if cs.update(id, |c| c.state.restarting = true).is_err() || !wait_unless_stopped(&cs, id, d)
        {
            break;
        }
        let go = cs.update(id, |c| {
            c.state.restarting = false;
            if !c.state.manually_stopped {
                c.state.restart_count += 1;
            }
        });
        match go {
            Ok(c) if !c.state.manually_stopped => {}
            _ => break,
        }
    }
    let _ = cs.update(id, |c| {
        c.state.keeper = None;
        c.state.restarting = false;
    });
    Ok(ExitCode::SUCCESS)
}

/// Sleeps `d`, returning false early when the container was stopped or removed.
fn wait_unless_stopped(cs: &Containers, id: &str, d: Duration) -> bool {
    let end = Instant::now() + d;
    loop {
        match cs.load(id) {
            Ok(c) if !c.state.manually_stopped => {}
            _ => return false,
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

/// One run in a monitor of its own (`container-supervise --once`), handed the starter's ready
/// pipe on the first run; waits for it.
fn run_monitor(root: &Path, id: &str, ready: Option<File>) -> std::io::Result<()> {
    let exe = std::env::current_exe()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--root")
        .arg(root)
        .arg("container-supervise")
        .arg("--once");
    if let Some(r) = &ready {
        let fd = r.as_raw_fd();
        cmd.arg("--ready-fd").arg("3");
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                // dup2 onto itself keeps close-on-exec set; clear it instead.
                let ok = if fd == 3 {
                    libc::fcntl(3, libc::F_SETFD, 0) >= 0
                } else {
                    libc::dup2(fd, 3) >= 0
                };
                if !ok {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    cmd.arg(id);
    let mut child = cmd.spawn()?;
    drop(ready);
    child.wait().map(drop)
}

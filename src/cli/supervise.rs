//! `strata container-supervise ID` (hidden): the monitor of a detached container. Started by
//! `run -d` and `start` in its own session; runs the container with its output appended to the
//! container's log, tells its starter on the ready pipe whether the command runs
//! (`ok` / `err CODE MESSAGE`), records the exit and ends with the container.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::ctr_common::{dup_file, forward_signals, pump, ready_pipe, Pty};
use super::Settings;
use crate::container::{lifecycle, Containers, RunIo};
use crate::sandbox::{Canceller, Stdio};
use crate::store::Store;

#[derive(Debug, Args)]
pub struct SuperviseArgs {
    /// The descriptor to report readiness on.
    #[arg(long = "ready-fd")]
    pub ready_fd: i32,
    pub id: String,
}

pub fn run(settings: &Settings, args: SuperviseArgs) -> Result<ExitCode> {
    let mut ready = Some(ready_pipe(args.ready_fd));
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
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| (125, format!("opening {}: {e}", log_path.display())))?;
    let cancel = Canceller::new();
    let fwd = cancel.clone();
    forward_signals(move |sig| fwd.forward(sig));
    let mut pumper = None;
    let mut _slave = None;
    let io = if c.config.tty {
        let pty = Pty::open().map_err(|e| (125, e.to_string()))?;
        let fd = pty.slave.as_raw_fd();
        let out = dup_file(&pty.master).map_err(|e| (125, e.to_string()))?;
        let log = log.try_clone().map_err(|e| (125, e.to_string()))?;
        pumper = Some(std::thread::spawn(move || pump(out, log)));
        _slave = Some(pty.slave);
        // The master stays open (in `out`) so the slave never sees a hang-up while it runs.
        RunIo {
            stdin: Stdio::Fd(fd),
            stdout: Stdio::Fd(fd),
            stderr: Stdio::Fd(fd),
        }
    } else {
        RunIo {
            stdin: Stdio::Null,
            stdout: Stdio::Fd(log.as_raw_fd()),
            stderr: Stdio::Fd(log.as_raw_fd()),
        }
    };
    let result = lifecycle::run(store, id, io, &cancel, &mut |_| tell("ok".into()));
    drop(_slave);
    if let Some(p) = pumper {
        let _ = p.join();
    }
    drop(log);
    result.map_err(|e| (e.exit_code(), e.to_string()))
}

//! The monitor of a detached container: a process of its own (this binary's hidden
//! `container-supervise ID` entry, in its own session) that runs the container with its output
//! appended to the container's log, tells its starter on the ready pipe whether the command
//! runs (`ok` / `err CODE MESSAGE`), records the exit and ends with the container.
//!
//! With a restart policy it is the container's keeper instead: it runs each start in a monitor
//! of its own (`--once`) and applies the policy when that one ends, so a monitor that was
//! killed, taking the container with it, is restarted too.
//!
//! `spawn_monitor` is what `run -d`, `start` and `restart` (and the API's start) call; the
//! rest runs inside the monitor process.

use std::fs::File;
use std::io::{BufRead, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::{Duration, Instant};

use super::error::{Error, Result};
use super::stdio::{forward_signals, output_to_log, pump, Pty};
use crate::container::logfile::LogSink;
use crate::container::record::{ProcRef, Status};
use crate::container::restart;
use crate::container::{lifecycle, Containers, RunIo};
use crate::sandbox::{Canceller, Stdio};
use crate::store::Store;

/// The hidden subcommand of this binary that runs a monitor.
pub const SUPERVISE_COMMAND: &str = "container-supervise";

/// Starts the detached monitor of container `id` (this binary, in its own session, its stdio
/// on /dev/null) and waits until the command runs or fails to start. The monitor's report of
/// a failure is `Error::Start` with the exit code a `run` gives for it.
pub fn spawn_monitor(root: &Path, id: &str) -> Result<()> {
    let start_err = |code: i32, message: String| Error::Start {
        id: id.to_string(),
        code,
        message,
    };
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| start_err(125, format!("pipe: {e}")))?;
    let exe =
        std::env::current_exe().map_err(|e| start_err(125, format!("own executable: {e}")))?;
    let wfd = w.as_raw_fd();
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--root")
        .arg(root)
        .arg(SUPERVISE_COMMAND)
        .arg("--ready-fd")
        .arg("3")
        .arg(id)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(wfd, 3) < 0 || libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| start_err(125, format!("starting the supervisor: {e}")))?;
    drop(w);
    let mut answer = String::new();
    let _ = std::io::BufReader::new(File::from(r)).read_line(&mut answer);
    // Reap it in the background when it ends (it normally outlives us).
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    parse_ready(answer.lines().next().unwrap_or("")).map_err(|(code, msg)| start_err(code, msg))
}

/// The monitor's one-line answer on the ready pipe.
fn parse_ready(line: &str) -> std::result::Result<(), (i32, String)> {
    if line == "ok" {
        return Ok(());
    }
    if let Some(rest) = line.strip_prefix("err ") {
        let (code, msg) = rest.split_once(' ').unwrap_or((rest, ""));
        return Err((code.parse().unwrap_or(125), msg.to_string()));
    }
    Err((
        125,
        "the container's supervisor ended before the container started".into(),
    ))
}

/// The monitor's side of `spawn_monitor`'s pipe, from the descriptor number it was given.
pub fn ready_pipe(fd: i32) -> File {
    // Close-on-exec, so no process the supervisor starts (slirp4netns) keeps the starter waiting.
    // SAFETY: fcntl on a descriptor number; the result is ignored if it is not open.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    // SAFETY: the descriptor was installed for us by `spawn_monitor` and nothing else owns it.
    unsafe { File::from_raw_fd(fd) }
}

/// Runs in the monitor process: the container `id` once (`once`, or it has no restart
/// policy), else as its keeper. A failure to start is told on `ready` and returned.
pub fn supervise(root: &Path, id: &str, once: bool, ready: Option<File>) -> Result<()> {
    let cs = Containers::new(root);
    let policy = cs.load(id).map(|c| c.config.restart).unwrap_or_default();
    if once || policy.is_none() {
        return run_once(root, id, ready);
    }
    keep(root, id, ready)
}

fn run_once(root: &Path, id: &str, ready: Option<File>) -> Result<()> {
    let mut ready = ready;
    let mut tell = |line: String| {
        if let Some(mut r) = ready.take() {
            let _ = writeln!(r, "{line}");
        }
    };
    let result = monitor(root, id, &mut tell);
    if let Err(e) = &result {
        tell(format!(
            "err {} {}",
            e.exit_code(),
            super::error::one_line(e)
        ));
    }
    result.map(drop)
}

fn monitor(root: &Path, id: &str, tell: &mut dyn FnMut(String)) -> Result<i32> {
    let store = Store::open(root)?;
    let cs = Containers::new(root);
    let c = cs.load(id)?;
    let log_path = cs.log_path(id);
    let sink =
        LogSink::open(&log_path).map_err(Error::io(format!("opening {}", log_path.display())))?;
    let cancel = Canceller::new();
    let fwd = cancel.clone();
    forward_signals(move |sig| fwd.forward(sig));
    let pty = if c.config.tty {
        Some(Pty::open()?)
    } else {
        None
    };
    let (stdout, stderr, copiers, keep) = output_to_log(pty.as_ref(), &sink, false)?;
    // `-i`: what `attach` writes into the container's stdin FIFO goes to its stdin (through
    // the pty's master with `-t`). Held open for writing here too, so the container never sees
    // end of file when an attached client leaves.
    let mut stdin_pipe = None;
    if c.config.interactive {
        let once = c.config.stdin_once;
        let fifo = stdin_fifo(&cs, id, once)?;
        let (to, read_end) = match &pty {
            Some(p) => (
                File::from(p.master.try_clone().map_err(Error::io("dup"))?),
                None,
            ),
            None => {
                let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                    .map_err(Error::errno("pipe"))?;
                (File::from(w), Some(r))
            }
        };
        // Not joined: it blocks reading the FIFO for the life of this process (or, with
        // `stdin_once`, until the first client's input ends: the container's then ends too).
        std::thread::spawn(move || {
            if let Ok(fifo) = fifo.open() {
                pump(fifo, to)
            }
        });
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
    // Once the container has ended, and before its record says so: whoever follows its log
    // until it stops (`attach`, `logs -f`; for a `--rm` one, until it is gone) then reads all
    // of its output.
    let mut drain = Some(move || {
        // Our copies of the write ends (or the pty slave) go, so the copiers see end of file.
        drop(keep);
        // The slave goes; the master stays open in the copier until it reads EIO, so the
        // slave never saw a hang-up while the container ran.
        drop(pty.map(|p| p.slave));
        for c in copiers {
            let _ = c.join();
        }
    });
    let mut ended = || {
        if let Some(d) = drain.take() {
            d()
        }
    };
    let result = lifecycle::run(
        store,
        id,
        io,
        &cancel,
        &mut |_| tell("ok".into()),
        &mut ended,
    );
    ended();
    Ok(result?)
}

/// The container's stdin FIFO (`attach` writes to it), made afresh. Opened for reading and
/// writing so it never reads end of file; with `once` it is opened for reading only, by the
/// copier (the open waits for the first writer), and reads end of file when that one leaves.
fn stdin_fifo(cs: &Containers, id: &str, once: bool) -> Result<StdinFifo> {
    let path = cs.stdin_fifo(id);
    let _ = std::fs::remove_file(&path);
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .map_err(Error::errno(format!("mkfifo {}", path.display())))?;
    if once {
        return Ok(StdinFifo::Once(path));
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map(StdinFifo::Open)
        .map_err(Error::io(format!("opening {}", path.display())))
}

enum StdinFifo {
    Open(File),
    Once(std::path::PathBuf),
}

impl StdinFifo {
    fn open(self) -> std::io::Result<File> {
        match self {
            StdinFifo::Open(f) => Ok(f),
            StdinFifo::Once(path) => File::open(path),
        }
    }
}

/// The keeper: runs the container in a monitor process, and again after each exit for as long
/// as its restart policy asks, with Docker's back-off; a `stop`, `kill` or `rm` in the meantime
/// ends it.
fn keep(root: &Path, id: &str, ready: Option<File>) -> Result<()> {
    let cs = Containers::new(root);
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
        let ran = run_monitor(root, id, ready.take());
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
    Ok(())
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
        .arg(SUPERVISE_COMMAND)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_answers_parse() {
        let lost = "the container's supervisor ended before the container started";
        type Answer<'a> = std::result::Result<(), (i32, &'a str)>;
        let cases: &[(&str, Answer)] = &[
            ("ok", Ok(())),
            ("err 127 exec: not found", Err((127, "exec: not found"))),
            ("err 125", Err((125, ""))),
            ("err x msg", Err((125, "msg"))),
            ("", Err((125, lost))),
            ("garbage", Err((125, lost))),
        ];
        for (line, want) in cases {
            let got = parse_ready(line);
            let want = want.map_err(|(c, m)| (c, m.to_string()));
            assert_eq!(got, want, "{line:?}");
        }
    }
}

//! Exec instances, the API's two-step exec: `create` checks the container and records what
//! to run under an ID; `launch` (the exec start) runs it later, maybe from another request;
//! `find` answers inspect and resize meanwhile. A record lives in its container's directory
//! (`execs/<id>.json`, written atomically), so it goes when the container goes, and any
//! process on the store finds it. The process runs as `strata exec` runs it (`exec::prepare`:
//! the container's seccomp, capabilities and limits, nothing of ours left open).

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::exec::{self, ExecRequest};
use super::stdio::{dup_file, Pty};
use crate::container::store::new_id;
use crate::container::{lifecycle, ContainerError, Containers, Status};
use crate::sandbox::join::exec_in;
use crate::sandbox::security_flags::SecurityFlags;

/// What an exec create asks for (Docker's `ExecConfig`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecConfig {
    pub cmd: Vec<String>,
    /// `K=V` over the container's environment.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub tty: bool,
    pub privileged: bool,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub detach_keys: Option<String>,
    /// `[height, width]`.
    pub console_size: Option<[u16; 2]>,
}

/// One exec instance as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecInstance {
    pub id: String,
    pub container_id: String,
    pub config: ExecConfig,
    pub running: bool,
    /// Set once it has run.
    pub exit_code: Option<i32>,
    /// The host pid of the process that stands for it (it passes on signals and resizes);
    /// 0 before it starts.
    pub pid: i32,
}

fn dir(cs: &Containers, container_id: &str) -> PathBuf {
    cs.dir(container_id).join("execs")
}

fn path(cs: &Containers, container_id: &str, id: &str) -> PathBuf {
    dir(cs, container_id).join(format!("{id}.json"))
}

fn save(cs: &Containers, e: &ExecInstance) -> Result<()> {
    let p = path(cs, &e.container_id, &e.id);
    let data = serde_json::to_vec(e).expect("an exec record serialises");
    crate::util::atomic::write_atomic(&p, &data)
        .map_err(Error::io(format!("writing {}", p.display())))
}

/// Records a new exec in the running container `query` names; returns its ID.
pub fn create(root: &Path, query: &str, config: ExecConfig) -> Result<String> {
    if config.cmd.is_empty() {
        return Err(Error::ExecNoCommand);
    }
    // The same checks as the start will make: running, not paused, an absolute workdir.
    let prepared = exec::prepare(root, query, &request(&config), |_| None)?;
    let cs = Containers::new(root);
    let e = ExecInstance {
        id: new_id(),
        container_id: prepared.container.id.clone(),
        config,
        running: false,
        exit_code: None,
        pid: 0,
    };
    let d = dir(&cs, &e.container_id);
    std::fs::create_dir_all(&d).map_err(Error::io(format!("creating {}", d.display())))?;
    save(&cs, &e)?;
    crate::container::events::emit(
        root,
        &prepared.container,
        &format!("exec_create: {}", e.config.cmd.join(" ")),
        &[("execID", e.id.clone())],
    );
    Ok(e.id)
}

fn request(c: &ExecConfig) -> ExecRequest {
    ExecRequest {
        cmd: c.cmd.clone(),
        env: c.env.clone(),
        workdir: c.workdir.clone().filter(|w| !w.is_empty()),
        user: c.user.clone().filter(|u| !u.is_empty()),
        tty: c.tty,
        attach_stdin: c.attach_stdin,
        security: SecurityFlags {
            privileged: c.privileged,
            ..SecurityFlags::default()
        },
    }
}

/// The exec with ID `id` (Docker takes only full IDs here).
pub fn find(root: &Path, id: &str) -> Result<ExecInstance> {
    let cs = Containers::new(root);
    let valid = id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit());
    if valid {
        for c in cs.list()? {
            let p = path(&cs, &c.id, id);
            if let Ok(data) = std::fs::read(&p) {
                return serde_json::from_slice(&data)
                    .map_err(|e| Error::io(format!("reading {}", p.display()))(e.into()));
            }
        }
    }
    Err(Error::NoSuchExec(id.to_string()))
}

/// The client's ends of a started exec's streams: with a tty, `stdout` and `stdin` are the
/// terminal (and `stderr` is `None`); without, pipes. `None` for a stream not attached.
pub struct ExecStreams {
    pub stdin: Option<File>,
    pub stdout: Option<File>,
    pub stderr: Option<File>,
}

/// A started exec, ready to run on the caller's thread (`run`) while others copy `streams`.
pub struct Launch {
    root: PathBuf,
    exec: ExecInstance,
    prepared: exec::PreparedExec,
    /// The process's ends, closed once it has ended so the copiers see end of file.
    child_ends: Vec<OwnedFd>,
}

/// Starts the exec `id`: checks it is not running and its container still runs, and makes
/// its streams (`attach`: false for a detached start, whose output is discarded).
pub fn launch(root: &Path, id: &str, attach: bool) -> Result<(Launch, ExecStreams)> {
    let e = find(root, id)?;
    let mut prepared = exec::prepare(root, &e.container_id, &request(&e.config), |_| None)?;
    // An exec runs once: the first start to make its marker runs it, two at once included.
    let cs = Containers::new(root);
    let marker = dir(&cs, &e.container_id).join(format!("{id}.started"));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&marker)
    {
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            let now = find(root, id)?;
            return Err(if now.exit_code.is_some() {
                Error::ExecRan(now.id)
            } else {
                Error::ExecRunning(now.id)
            });
        }
        Err(err) => return Err(Error::io(format!("creating {}", marker.display()))(err)),
    }
    let c = &e.config;
    let mut child_ends = Vec::new();
    let mut streams = ExecStreams {
        stdin: None,
        stdout: None,
        stderr: None,
    };
    let null = || -> Result<OwnedFd> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map_err(Error::io("/dev/null"))?;
        Ok(f.into())
    };
    if c.tty {
        let pty = Pty::open()?;
        if let Some([h, w]) = c.console_size {
            set_size(&pty.master, h, w);
        }
        if attach {
            streams.stdout = Some(dup_file(&pty.master)?);
            if c.attach_stdin {
                streams.stdin = Some(dup_file(&pty.master)?);
            }
        }
        let fd = pty.slave.as_raw_fd();
        prepared.spec.stdio = [Some(fd), Some(fd), Some(fd)];
        // Both kept until the process ends: the copiers' duplicates of the master then read
        // EIO, and a detached one's terminal never sees a hang-up while it runs.
        child_ends.extend([pty.slave, pty.master]);
    } else {
        let stdin = if attach && c.attach_stdin {
            let (r, w) = pipe()?;
            streams.stdin = Some(File::from(w));
            r
        } else {
            null()?
        };
        let out = |wanted: bool, slot: &mut Option<File>| -> Result<OwnedFd> {
            if attach && wanted {
                let (r, w) = pipe()?;
                *slot = Some(File::from(r));
                Ok(w)
            } else {
                null()
            }
        };
        let stdout = out(c.attach_stdout, &mut streams.stdout)?;
        let stderr = out(c.attach_stderr, &mut streams.stderr)?;
        prepared.spec.stdio = [
            Some(stdin.as_raw_fd()),
            Some(stdout.as_raw_fd()),
            Some(stderr.as_raw_fd()),
        ];
        child_ends.extend([stdin, stdout, stderr]);
    }
    Ok((
        Launch {
            root: root.to_path_buf(),
            exec: e,
            prepared,
            child_ends,
        },
        streams,
    ))
}

/// A pipe whose ends no other child of this (threaded) process inherits.
fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(Error::errno("pipe"))
}

impl Launch {
    /// Runs the process until it ends, recording it as running (with its pid) and then its
    /// exit code (126, as Docker's, when it could not be executed). Returns the exit code
    /// and, for a command that could not run, the message.
    pub fn run(self) -> (i32, Option<String>) {
        let Launch {
            root,
            mut exec,
            prepared,
            child_ends,
        } = self;
        let cs = Containers::new(&root);
        let container = prepared.container.clone();
        let init_pid = prepared.init_pid;
        let spec = prepared.spec;
        let action = format!("exec_start: {}", exec.config.cmd.join(" "));
        let mut running = exec.clone();
        let result = exec_in(init_pid, &spec, &mut |pid| {
            running.running = true;
            running.pid = pid;
            let _ = save(&cs, &running);
            crate::container::events::emit(
                &root,
                &container,
                &action,
                &[("execID", running.id.clone())],
            );
        });
        let (code, message) = match result {
            Ok(status) => (lifecycle::exit_code(status), None),
            // dockerd records 126 for any exec that could not start, a missing command
            // included (a container's own command that is missing exits 127).
            Err(e) => (
                EXEC_START_FAILED,
                Some(super::error::one_line(&Error::Exec(e))),
            ),
        };
        exec.running = false;
        exec.pid = running.pid;
        exec.exit_code = Some(code);
        // Recorded before the streams end: a client reads the exit code once they do.
        let _ = save(&cs, &exec);
        crate::container::events::emit(
            &root,
            &container,
            "exec_die",
            &[("execID", exec.id.clone()), ("exitCode", code.to_string())],
        );
        drop(child_ends);
        (code, message)
    }
}

/// The exit code dockerd records for an exec whose process could not start.
pub const EXEC_START_FAILED: i32 = 126;

/// How long a resize waits for an exec just started to have its process.
const RESIZE_WAIT: Duration = Duration::from_secs(2);

/// Gives the terminal of exec `id` the size `h`×`w` (nothing for one without a tty, or one
/// that has ended).
pub fn resize(root: &Path, id: &str, h: u16, w: u16) -> Result<()> {
    let deadline = Instant::now() + RESIZE_WAIT;
    loop {
        let e = find(root, id)?;
        if e.running && e.pid > 0 {
            if e.config.tty {
                resize_process(e.pid, h, w);
            }
            return Ok(());
        }
        if e.exit_code.is_some() || Instant::now() > deadline {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Gives the running container `query` names the terminal size `h`×`w` (`POST
/// /containers/{id}/resize`); nothing for one without a tty.
pub fn resize_container(root: &Path, query: &str, h: u16, w: u16) -> Result<()> {
    let c = Containers::new(root).find(query)?;
    let pid = match (c.state.status, c.state.pid) {
        (Status::Running, Some(p)) if p.alive() => p.pid,
        _ => return Err(ContainerError::NotRunning { id: c.id }.into()),
    };
    if c.config.tty {
        resize_process(pid, h, w);
    }
    Ok(())
}

/// The terminal on `pid`'s stdin gets the size; `pid` (the sandbox's init or an exec's
/// joiner) passes it on to the terminal inside on SIGWINCH.
fn resize_process(pid: i32, h: u16, w: u16) {
    // O_NOCTTY: a service that leads its session (systemd starts it so) would otherwise take
    // the terminal as its own and get its SIGHUP when the process ends.
    let terminal = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOCTTY)
        .open(format!("/proc/{pid}/fd/0"));
    if let Ok(f) = terminal {
        set_size(&f, h, w);
    }
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGWINCH,
    );
}

fn set_size(fd: &impl AsRawFd, h: u16, w: u16) {
    let ws = libc::winsize {
        ws_row: h,
        ws_col: w,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize we own.
    unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
}

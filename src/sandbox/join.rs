//! A second process in a running sandbox (`exec`): join the namespaces of its PID 1 in a fixed
//! order (the mount namespace last, since it changes what `/proc` and paths mean), fork once
//! more so the process lands in the pid namespace, then become the user and execute.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::signal::kill;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};

use super::error::{SandboxError, StepError};
use super::init::{exec_candidates, NOT_FOUND_IN_PATH, NO_SUCH_FILE};
use super::report::{self, send, Report};
use super::security::Security;
use super::signals::{self, block_for_sigwait};
use super::spec::ExitStatus;
use super::syscalls::{RealSyscalls, Syscalls};
use super::user;

/// The namespaces a joining process enters, in order.
pub const JOIN_ORDER: [(&str, CloneFlags); 5] = [
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// The process to start in a running sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinSpec {
    pub argv: Vec<String>,
    pub env: Vec<String>,
    pub cwd: PathBuf,
    /// Docker `USER` syntax, resolved against the sandbox's own passwd and group files.
    pub user: String,
    /// The container's `GroupAdd`, as its main process has them.
    pub group_add: Vec<String>,
    /// Standard streams: `None` inherits the caller's, `Some(fd)` installs that descriptor.
    pub stdio: [Option<RawFd>; 3],
    /// Make stdin (a pty slave) the controlling terminal of a new session.
    pub tty: bool,
    /// The container's (or, for `exec --privileged`, a wider) set of privileges.
    pub security: Security,
    /// The sandbox's own `Spec::rlimits`, so the process has the limits its main one has.
    pub rlimits: Vec<super::rlimits::Rlimit>,
}

/// The open namespace files of a running sandbox's PID 1, in `JOIN_ORDER`.
pub fn open_namespaces(init_pid: i32) -> Result<Vec<(OwnedFd, CloneFlags)>, SandboxError> {
    JOIN_ORDER
        .iter()
        .map(|(name, flag)| {
            let path = PathBuf::from(format!("/proc/{init_pid}/ns/{name}"));
            std::fs::File::open(&path)
                .map(|f| (OwnedFd::from(f), *flag))
                .map_err(|source| SandboxError::State { path, source })
        })
        .collect()
}

/// Joins each namespace in order; stops at the first failure.
pub fn join(sys: &impl Syscalls, namespaces: &[(OwnedFd, CloneFlags)]) -> Result<(), StepError> {
    for (fd, flag) in namespaces {
        sys.setns(fd.as_fd(), *flag)
            .map_err(|e| StepError::new("setns", format!("{flag:?}"), e))?;
    }
    Ok(())
}

/// Runs `spec` inside the sandbox whose PID 1 is `init_pid` (a host pid) and waits for it.
/// `on_spawn` gets the pid of the process to signal (it forwards `init::FORWARDED` to the
/// command). An unexecutable command is `SandboxError::Exec` (see `exec_exit_code`).
pub fn exec_in(
    init_pid: i32,
    spec: &JoinSpec,
    on_spawn: &mut dyn FnMut(i32),
) -> Result<ExitStatus, SandboxError> {
    if spec.argv.is_empty() {
        return Err(SandboxError::InvalidSpec("argv is empty".into()));
    }
    let seccomp = spec.security.filters()?;
    // The command counts against the container's limits and obeys its devices cgroup.
    let cgroups = super::cgroup_of::of_process(init_pid);
    let namespaces = open_namespaces(init_pid)?;
    let (report_r, report_w) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|source| SandboxError::Sys {
            step: "report pipe",
            source,
        })?;
    // SAFETY: the child only runs `joiner` and `_exit`s (as in `launch`).
    let child = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let code = joiner(spec, &seccomp, &cgroups, &namespaces, report_w.as_fd());
            // SAFETY: leave without running the caller's destructors in this copy.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(source) => {
            return Err(SandboxError::Sys {
                step: "fork",
                source,
            })
        }
    };
    drop((report_w, namespaces));
    on_spawn(child.as_raw());
    let mut failed = None;
    let mut exec_failed = None;
    report::read_all(report_r, |r| match r {
        Report::Failed { step, detail } => failed = Some(SandboxError::Setup { step, detail }),
        Report::ExecFailed { detail } => exec_failed = Some(detail),
        _ => {}
    });
    let status = loop {
        match waitpid(child, None) {
            Err(Errno::EINTR) => continue,
            other => break other,
        }
    };
    if let Some(e) = failed {
        return Err(e);
    }
    if let Some(detail) = exec_failed {
        return Err(SandboxError::Exec {
            argv0: spec.argv[0].clone(),
            detail,
        });
    }
    match status {
        Ok(WaitStatus::Exited(_, code)) => Ok(ExitStatus::Exited(code)),
        Ok(WaitStatus::Signaled(_, sig, _)) => Ok(ExitStatus::Signaled(sig as i32)),
        _ => Err(SandboxError::Lost(-1)),
    }
}

/// The forked joiner: stdio, namespaces, then fork the process (now in the pid namespace)
/// and wait for it, forwarding signals; exits with its code (128+N for signal N).
fn joiner(
    spec: &JoinSpec,
    seccomp: &[Vec<libc::sock_filter>],
    cgroups: &[PathBuf],
    namespaces: &[(OwnedFd, CloneFlags)],
    report: std::os::fd::BorrowedFd<'_>,
) -> i32 {
    let fail = |step: &str, detail: String| {
        send(
            report,
            &Report::Failed {
                step: step.to_string(),
                detail,
            },
        );
        1
    };
    for (target, fd) in spec.stdio.iter().enumerate() {
        if let Some(fd) = fd {
            // SAFETY: dup2 onto a standard descriptor; both are plain integers.
            if unsafe { libc::dup2(*fd, target as RawFd) } < 0 {
                return fail("set up stdio", Errno::last().to_string());
            }
        }
    }
    for procs in cgroups {
        if let Err(e) = std::fs::write(procs, std::process::id().to_string()) {
            return fail(
                "join the container's cgroup",
                format!("{}: {e}", procs.display()),
            );
        }
    }
    let sys = RealSyscalls;
    if let Err(e) = join(&sys, namespaces) {
        return fail("join namespaces", e.to_string());
    }
    // Nothing the caller had open reaches the container (a directory of the host's would be
    // a way out of its root), only stdio and our report pipe.
    super::cleanup::close_fds_except(&[report.as_raw_fd()]);
    let user = match user::lookup(Path::new("/"), &spec.user, &spec.group_add) {
        Ok(u) => u,
        Err(e) => return fail("user", e.to_string()),
    };
    let c = |s: &str| CString::new(s).unwrap_or_default();
    let argv: Vec<CString> = spec.argv.iter().map(|a| c(a)).collect();
    let env_list = user::environment(&spec.env, &user);
    let candidates = exec_candidates(&spec.argv[0], &env_list);
    let env: Vec<CString> = env_list.iter().map(|e| c(e)).collect();
    // `-t`: a terminal of the container's own devpts (we are in its mount namespace now), as
    // for `run -t`.
    let console = if spec.tty {
        // SAFETY: descriptor 0 is the terminal the caller handed in; it outlives this borrow.
        match super::console::open(unsafe { std::os::fd::BorrowedFd::borrow_raw(0) }) {
            Ok(c) => Some(c),
            Err(e) => return fail("terminal", e),
        }
    } else {
        None
    };
    let waitset = block_for_sigwait();
    // SAFETY: single-threaded forked child.
    let pid = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let code = run_command(
                &sys,
                spec,
                seccomp,
                &user,
                &argv,
                &env,
                &candidates,
                report,
                console.as_ref(),
            );
            // SAFETY: leaving a forked child.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => return fail("fork", e.to_string()),
    };
    // SAFETY: our copy of the report pipe; the command has its own until it executes.
    unsafe { libc::close(report.as_raw_fd()) };
    let relay = match &console {
        // SAFETY: single-threaded forked child.
        Some(c) => match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                signals::reset();
                let code = super::console::relay(&c.master);
                // SAFETY: leaving a forked child.
                unsafe { libc::_exit(code) }
            }
            Ok(ForkResult::Parent { child }) => Some(child),
            Err(e) => return fail("fork terminal relay", e.to_string()),
        },
        None => None,
    };
    let code = loop {
        let Some(sig) = waitset.wait() else { continue };
        if let (libc::SIGWINCH, Some(c)) = (sig, &console) {
            super::console::copy_size(0, c.master.as_raw_fd());
            continue;
        }
        if signals::forwarded(sig) {
            // SAFETY: a plain kill(2) of our child.
            unsafe { libc::kill(pid.as_raw(), sig) };
            continue;
        }
        match signals::reap(pid.as_raw()) {
            signals::Reaped::Ended(_, ExitStatus::Exited(code)) => break code,
            signals::Reaped::Ended(_, ExitStatus::Signaled(sig)) => break 128 + sig,
            _ => {}
        }
    };
    if let Some(relay) = relay {
        drop(console);
        super::init::wait_a_while(relay, std::time::Duration::from_millis(500));
        let _ = kill(relay, nix::sys::signal::Signal::SIGKILL);
        let _ = waitpid(relay, None);
    }
    code
}

#[allow(clippy::too_many_arguments)]
fn run_command(
    sys: &RealSyscalls,
    spec: &JoinSpec,
    seccomp: &[Vec<libc::sock_filter>],
    user: &crate::util::passwd::ExecUser,
    argv: &[CString],
    env: &[CString],
    candidates: &[PathBuf],
    report: std::os::fd::BorrowedFd<'_>,
    console: Option<&super::console::Console>,
) -> i32 {
    signals::reset();
    let fail = |detail: String, code: i32| {
        send(report, &Report::ExecFailed { detail });
        code
    };
    if let Some(c) = console {
        if let Err(e) = super::console::attach_main(&c.slave_path) {
            return fail(format!("terminal {:?}: {e}", c.slave_path), 126);
        }
    } else if spec.tty {
        // SAFETY: setsid and ioctl with integer arguments on our own stdin.
        let ok = unsafe { libc::setsid() >= 0 && libc::ioctl(0, libc::TIOCSCTTY, 0) >= 0 };
        if !ok {
            return fail(format!("controlling terminal: {}", Errno::last()), 126);
        }
    } else if let Err(e) = sys.setsid() {
        // Out of the caller's session, a terminal inherited on stdio is not ours to control.
        return fail(format!("setsid: {e}"), 126);
    }
    if let Err(e) = sys.chdir(&spec.cwd) {
        return fail(format!("chdir {}: {e}", spec.cwd.display()), 126);
    }
    if let Err(e) = super::rlimits::apply(&spec.rlimits) {
        return fail(e.to_string(), 126);
    }
    let privs = spec.security.privileges(seccomp);
    if let Err(e) = user::switch_to(sys, user, true, &privs) {
        return fail(e.to_string(), 126);
    }
    let mut denied = false;
    for candidate in candidates {
        let Ok(path) = CString::new(candidate.as_os_str().as_bytes()) else {
            continue;
        };
        match nix::unistd::execve(&path, argv, env) {
            Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => {}
            Err(Errno::EACCES) => denied = true,
            Err(e) => return fail(format!("{}: {e}", candidate.display()), 126),
        }
    }
    if denied {
        fail("permission denied".into(), 126)
    } else if spec.argv[0].contains('/') {
        fail(NO_SUCH_FILE.into(), 127)
    } else {
        fail(NOT_FOUND_IN_PATH.into(), 127)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::recording::{Call, Recording};

    #[test]
    fn namespaces_are_joined_in_order_mount_last() {
        let fds: Vec<(OwnedFd, CloneFlags)> = JOIN_ORDER
            .iter()
            .map(|(_, f)| (OwnedFd::from(std::fs::File::open("/dev/null").unwrap()), *f))
            .collect();
        let sys = Recording::new();
        join(&sys, &fds).unwrap();
        let calls = sys.calls();
        assert_eq!(calls.len(), 5);
        assert_eq!(calls.last(), Some(&Call::Setns(CloneFlags::CLONE_NEWNS)));
        assert_eq!(calls[3], Call::Setns(CloneFlags::CLONE_NEWPID));
    }

    #[test]
    fn a_failing_setns_stops_the_join() {
        let fds: Vec<(OwnedFd, CloneFlags)> = JOIN_ORDER
            .iter()
            .map(|(_, f)| (OwnedFd::from(std::fs::File::open("/dev/null").unwrap()), *f))
            .collect();
        let sys = Recording::new()
            .fail_on(|c| matches!(c, Call::Setns(f) if *f == CloneFlags::CLONE_NEWNET));
        assert!(join(&sys, &fds).is_err());
        assert!(!sys.calls().contains(&Call::Setns(CloneFlags::CLONE_NEWNS)));
    }
}

//! The sandbox's PID 1 (a forked child of ours, not a separate binary): builds the root,
//! starts the main process, reaps every zombie, forwards SIGTERM/SIGINT/SIGHUP to the main
//! process, and once it exits kills whatever is left in the namespace and reports its status.

use std::ffi::CString;
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use super::console;
use super::mount_plan::MountOp;
use super::mounts;
use super::report::{send, Report};
use super::spec::{ExitStatus, Spec, DEFAULT_PATH};
use super::syscalls::{RealSyscalls, Syscalls};
use super::user;
use crate::util::passwd::ExecUser;

/// Signals the sandbox's own processes pass on to their child (a container's `StopSignal` may
/// be any of them; `SIGWINCH` follows a resized terminal).
pub const FORWARDED: [Signal; 7] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// What the main process reports when `argv[0]` is not found (exit code 127).
pub const NOT_FOUND_IN_PATH: &str = "executable file not found in $PATH";
/// What the main process reports when a path `argv[0]` does not exist (exit code 127).
pub const NO_SUCH_FILE: &str = "no such file or directory";

/// Everything PID 1 needs, prepared by the caller before forking.
#[derive(Clone, Copy)]
pub struct InitArgs<'a> {
    pub spec: &'a Spec,
    pub plan: &'a [MountOp],
    pub new_root: &'a Path,
    pub own_netns: bool,
    /// Whether init is PID 1 of a pid namespace of its own (not sharing the host's or
    /// another container's), so that killing everything it can see kills only the run's.
    pub own_pidns: bool,
    /// False in a user namespace with a self-written single-id map.
    pub setgroups: bool,
    /// The spec's seccomp programs, compiled before the fork.
    pub seccomp: &'a [Vec<libc::sock_filter>],
    pub report: BorrowedFd<'a>,
}

/// PID 1's body; returns its exit code (the main process's, or 128+signal).
pub fn init_main(args: &InitArgs<'_>) -> i32 {
    let sys = RealSyscalls;
    let fail = |step: &str, detail: String| {
        send(
            args.report,
            &Report::Failed {
                step: step.to_string(),
                detail,
            },
        );
        1
    };
    // Docker runs every process with umask 0022 whatever the builder's own umask is, so what
    // RUN creates (and the mountpoints and working directory made here) has the same modes on
    // every host.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    if !args.own_pidns {
        if let Err(e) = super::orphans::become_subreaper() {
            return fail("become subreaper", e.to_string());
        }
    }
    if args.own_netns {
        if let Err(e) = sys.set_loopback_up() {
            return fail("bring up lo", e.to_string());
        }
    }
    if let Err(e) = sys.sethostname(&args.spec.hostname) {
        return fail("sethostname", e.to_string());
    }
    let created = match mounts::apply(args.plan, args.new_root, &sys) {
        Ok(c) => c,
        Err(e) => return fail("mount", e.to_string()),
    };
    send(args.report, &Report::Created(created));
    let user = match user::lookup(Path::new("/"), &args.spec.user, &args.spec.group_add) {
        Ok(u) => u,
        Err(e) => return fail("user", e.to_string()),
    };
    if let Err(e) = std::fs::create_dir_all(&args.spec.cwd) {
        return fail(
            "create working directory",
            format!("{}: {e}", args.spec.cwd.display()),
        );
    }
    let prepared = match Prepared::new(args.spec, &user) {
        Ok(p) => p,
        Err(detail) => return fail("prepare command", detail),
    };

    let console = if args.spec.tty {
        // SAFETY: descriptor 0 is the terminal the caller handed in; it outlives this borrow.
        match console::open(unsafe { BorrowedFd::borrow_raw(0) }) {
            Ok(c) => Some(c),
            Err(e) => return fail("terminal", e),
        }
    } else {
        None
    };
    let waitset = super::signals::block_for_sigwait();
    // Closed by the main process's exec (close-on-exec) or exit: then it has started.
    let Ok((exec_r, exec_w)) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) else {
        return fail("exec pipe", Errno::last().to_string());
    };
    // SAFETY: we are single-threaded (a forked child), so fork is sound.
    let main_pid = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            drop(exec_r);
            let code = main_process(&sys, args, &user, &prepared, console.as_ref());
            // SAFETY: leaving the forked child without running the parent's destructors.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => return fail("fork main process", e.to_string()),
    };
    drop(exec_w);
    let relay = match &console {
        // SAFETY: single-threaded (a forked child), so fork is sound.
        Some(c) => match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                super::signals::reset();
                let code = console::relay(&c.master);
                // SAFETY: leaving the forked child without running the parent's destructors.
                unsafe { libc::_exit(code) }
            }
            Ok(ForkResult::Parent { child }) => Some(child),
            Err(e) => return fail("fork terminal relay", e.to_string()),
        },
        None => None,
    };
    let mut byte = [0u8; 1];
    while let Err(Errno::EINTR) = nix::unistd::read(&exec_r, &mut byte) {}
    drop(exec_r);
    send(args.report, &Report::Started);
    let status = reap_until_main_exits(&waitset, main_pid, console.as_ref());
    if let Some(relay) = relay {
        // The relay ends once it has copied the last output and every holder of the terminal
        // is gone; a background process still holding it is not waited for long.
        drop(console);
        wait_a_while(relay, std::time::Duration::from_millis(500));
    }
    // Anything the command left behind dies with it. In a shared pid namespace `kill(-1)`
    // would reach far beyond the run: there only our own descendants go.
    if args.own_pidns {
        let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
        loop {
            match waitpid(None::<Pid>, None) {
                Err(Errno::ECHILD) => break,
                _ => continue,
            }
        }
    } else {
        super::orphans::kill_children();
    }
    send(args.report, &Report::Status(status));
    match status {
        ExitStatus::Exited(code) => code,
        ExitStatus::Signaled(sig) => 128 + sig,
    }
}

fn reap_until_main_exits(
    waitset: &super::signals::WaitSet,
    main_pid: Pid,
    console: Option<&console::Console>,
) -> ExitStatus {
    use super::signals::Reaped;
    loop {
        let Some(sig) = waitset.wait() else { continue };
        if let (libc::SIGWINCH, Some(c)) = (sig, console) {
            // The outer terminal was resized: the inner one follows, and the kernel signals
            // its foreground process group.
            console::copy_size(0, std::os::fd::AsRawFd::as_raw_fd(&c.master));
            continue;
        }
        if sig != libc::SIGCHLD {
            // SAFETY: a plain kill(2) of our child.
            unsafe { libc::kill(main_pid.as_raw(), sig) };
            continue;
        }
        let mut main_status = None;
        loop {
            match super::signals::reap(-1) {
                Reaped::Ended(pid, status) if pid == main_pid.as_raw() => {
                    main_status = Some(status)
                }
                Reaped::Ended(..) => {}
                Reaped::StillAlive | Reaped::None => break,
            }
        }
        if let Some(s) = main_status {
            return s;
        }
    }
}

/// Reaps `pid` if it exits within `limit`.
pub(crate) fn wait_a_while(pid: Pid, limit: std::time::Duration) {
    let end = std::time::Instant::now() + limit;
    while std::time::Instant::now() < end {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => std::thread::sleep(std::time::Duration::from_millis(2)),
            _ => return,
        }
    }
}

/// The command's argv/env as C strings and where to look for `argv[0]`, built before the
/// fork so the main process only has to exec.
struct Prepared {
    argv: Vec<CString>,
    env: Vec<CString>,
    candidates: Vec<PathBuf>,
}

impl Prepared {
    fn new(spec: &Spec, user: &ExecUser) -> Result<Self, String> {
        let c = |s: &str| CString::new(s).map_err(|_| format!("{s:?} contains a NUL byte"));
        let argv = spec
            .argv
            .iter()
            .map(|a| c(a))
            .collect::<Result<Vec<_>, _>>()?;
        let env = user::environment(&spec.env, user);
        let candidates = exec_candidates(&spec.argv[0], &env);
        let env = env.iter().map(|e| c(e)).collect::<Result<Vec<_>, _>>()?;
        Ok(Prepared {
            argv,
            env,
            candidates,
        })
    }
}

/// Where `argv0` may be, in order: itself when it names a path, else each `PATH` entry.
pub fn exec_candidates(argv0: &str, env: &[String]) -> Vec<PathBuf> {
    if argv0.contains('/') {
        return vec![PathBuf::from(argv0)];
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    path.split(':')
        .map(|dir| if dir.is_empty() { "." } else { dir })
        .map(|dir| Path::new(dir).join(argv0))
        .collect()
}

/// The main process: default signals, working directory, user, then exec.
fn main_process(
    sys: &RealSyscalls,
    args: &InitArgs<'_>,
    user: &ExecUser,
    p: &Prepared,
    console: Option<&console::Console>,
) -> i32 {
    super::signals::reset();
    let fail = |detail: String, code: i32| {
        send(args.report, &Report::ExecFailed { detail });
        code
    };
    if let Some(c) = console {
        if let Err(e) = console::attach_main(&c.slave_path) {
            return fail(format!("terminal {:?}: {e}", c.slave_path), 126);
        }
    } else if args.spec.tty {
        // SAFETY: setsid and ioctl with integer arguments on our own stdin.
        let ok = unsafe { libc::setsid() >= 0 && libc::ioctl(0, libc::TIOCSCTTY, 0) >= 0 };
        if !ok {
            return fail(format!("controlling terminal: {}", Errno::last()), 126);
        }
    } else if let Err(e) = sys.setsid() {
        // Out of the caller's session, a terminal inherited on stdio is not ours to control.
        return fail(format!("setsid: {e}"), 126);
    }
    if let Err(e) = sys.chdir(&args.spec.cwd) {
        return fail(format!("chdir {}: {e}", args.spec.cwd.display()), 126);
    }
    if let Err(e) = super::rlimits::apply(&args.spec.rlimits) {
        return fail(e.to_string(), 126);
    }
    let privs = args.spec.security.privileges(args.seccomp);
    if let Err(e) = user::switch_to(sys, user, args.setgroups, &privs) {
        return fail(e.to_string(), 126);
    }
    let mut denied = false;
    for candidate in &p.candidates {
        let Ok(path) = CString::new(candidate.as_os_str().as_bytes()) else {
            continue;
        };
        match nix::unistd::execve(&path, &p.argv, &p.env) {
            Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => {}
            Err(Errno::EACCES) => denied = true,
            Err(e) => return fail(format!("{}: {e}", candidate.display()), 126),
        }
    }
    if denied {
        fail("permission denied".into(), 126)
    } else if args.spec.argv[0].contains('/') {
        fail(NO_SUCH_FILE.into(), 127)
    } else {
        fail(NOT_FOUND_IN_PATH.into(), 127)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_candidates_table() {
        let env = |p: &str| vec![format!("PATH={p}")];
        let cases: &[(&str, Vec<String>, &[&str])] = &[
            ("/bin/sh", env("/x"), &["/bin/sh"]),
            ("./run", env("/x"), &["./run"]),
            ("sh", env("/a:/b"), &["/a/sh", "/b/sh"]),
            ("sh", env("/a::/b"), &["/a/sh", "./sh", "/b/sh"]),
            (
                "sh",
                vec![],
                &[
                    "/usr/local/sbin/sh",
                    "/usr/local/bin/sh",
                    "/usr/sbin/sh",
                    "/usr/bin/sh",
                    "/sbin/sh",
                    "/bin/sh",
                ],
            ),
        ];
        for (argv0, env, want) in cases {
            let got = exec_candidates(argv0, env);
            let want: Vec<PathBuf> = want.iter().map(PathBuf::from).collect();
            assert_eq!(got, want, "{argv0} {env:?}");
        }
    }
}

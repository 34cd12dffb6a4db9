//! Starting a sandbox and waiting for it. The caller forks a helper, which unshares the
//! namespaces and forks PID 1 (`init`); the caller attaches networking in between and
//! collects the reports. Mounts are all made inside the new mount namespace, so they go
//! away with its last process: nothing is ever mounted on the host.

use std::fs::{File, OpenOptions};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use super::cleanup::{close_fds_except, remove_created_mountpoints};
use super::error::SandboxError;
use super::init::{init_main, InitArgs};
use super::mount_plan::{self, PlanInput};
use super::network::{hosts_file, resolv_conf, start_slirp, Slirp};
use super::report::{self, send, Report};
use super::rootless::write_id_maps;
use super::signals::{self, block_for_sigwait};
use super::spec::{ExitStatus, NetworkMode, Outcome, PidNamespace, RootFs, Spec, Stdio};
use super::syscalls::{RealSyscalls, Syscalls};

/// How long to wait for the namespace's last processes after its helper is gone.
const TEARDOWN_WAIT_MS: u16 = 5000;

/// Stops a running sandbox from another thread. Cloneable; one per run.
/// (It takes a lock, so call it from a signal-handling thread, not an async signal handler.)
#[derive(Clone, Default)]
pub struct Canceller(Arc<CancelState>);

#[derive(Default)]
struct CancelState {
    cancelled: AtomicBool,
    /// A pidfd of the helper while the run is live: immune to pid reuse.
    helper: Mutex<Option<OwnedFd>>,
}

impl Canceller {
    pub fn new() -> Self {
        Self::default()
    }

    /// Kills the whole sandbox now (its helper dies, PID 1 gets SIGKILL as parent-death
    /// signal, and the kernel kills the rest of the pid namespace). The run returns
    /// `SandboxError::Cancelled`. Calling it before the run starts cancels it at once.
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
        self.signal(Signal::SIGKILL);
    }

    /// Asks politely: SIGTERM is forwarded to the main process, which may ignore it.
    pub fn terminate(&self) {
        self.signal(Signal::SIGTERM);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }

    /// Whether two handles stop the same run.
    pub fn same(&self, other: &Canceller) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Sends `sig` to the sandbox's helper, which forwards the ones in `init::FORWARDED`
    /// to PID 1 and so to the main process (any other kills the helper and the sandbox).
    pub fn forward(&self, sig: Signal) {
        self.signal(sig);
    }

    fn signal(&self, sig: Signal) {
        let guard = self.0.helper.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(fd) = guard.as_ref() {
            pidfd_send_signal(fd.as_fd(), sig);
        }
    }

    fn attach(&self, pid: Pid) {
        let mut guard = self.0.helper.lock().unwrap_or_else(|e| e.into_inner());
        *guard = pidfd_open(pid);
        if self.is_cancelled() {
            if let Some(fd) = guard.as_ref() {
                pidfd_send_signal(fd.as_fd(), Signal::SIGKILL);
            }
        }
    }

    fn detach(&self) {
        *self.0.helper.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

fn pidfd_open(pid: Pid) -> Option<OwnedFd> {
    // SAFETY: plain integer arguments; the result is checked before being owned.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    // SAFETY: a fresh descriptor nothing else owns.
    (ret >= 0).then(|| unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
}

fn pidfd_send_signal(fd: BorrowedFd<'_>, sig: Signal) {
    // SAFETY: plain integer arguments and a null siginfo, as the man page allows.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig as libc::c_int,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
}

/// Runs `spec` to completion.
pub fn run(spec: &Spec) -> Result<Outcome, SandboxError> {
    run_cancellable(spec, &Canceller::new())
}

/// Runs `spec` to completion unless `cancel` is used.
pub fn run_cancellable(spec: &Spec, cancel: &Canceller) -> Result<Outcome, SandboxError> {
    run_observed(spec, cancel, &mut |_| {})
}

/// Runs like `run_cancellable`; `on_start` is called with the host pid of the sandbox's PID 1
/// once the command has been executed (not when it could not be), e.g. to record it so
/// other processes can join the sandbox's namespaces (`join::exec_in`).
pub fn run_observed(
    spec: &Spec,
    cancel: &Canceller,
    on_start: &mut dyn FnMut(i32),
) -> Result<Outcome, SandboxError> {
    run_observed_in(spec, cancel, on_start, &std::env::temp_dir())
}

/// Runs like `run_observed`, keeping the run's state (the root's mountpoint, the files bound
/// on `/etc/hosts` & co, slirp4netns's socket) in a new directory under `state_parent`
/// rather than `$TMPDIR`. strata passes a directory it owns in its store's temp area, so what
/// a killed run leaves there is reclaimed with it (`util::owned_tmp`).
pub fn run_observed_in(
    spec: &Spec,
    cancel: &Canceller,
    on_start: &mut dyn FnMut(i32),
    state_parent: &Path,
) -> Result<Outcome, SandboxError> {
    run_gated(spec, cancel, on_start, state_parent, &mut || Ok(true))
}

/// Whether the sandbox joins `Spec::cgroup_procs`, asked once its helper process has
/// unshared its namespaces and before it forks PID 1 (never asked if the launch fails
/// first). The caller makes the cgroups meanwhile, on another thread: the mkdirs in every
/// hierarchy overlap the helper's fork and unshare instead of preceding them. `Ok(false)`:
/// they could not be made and are optional; `Err`: the launch stops with that error.
pub type CgroupGate<'a> = &'a mut dyn FnMut() -> Result<bool, SandboxError>;

/// Runs like `run_observed_in`, joining the cgroups only once `cgroups_ready` says so.
pub fn run_gated(
    spec: &Spec,
    cancel: &Canceller,
    on_start: &mut dyn FnMut(i32),
    state_parent: &Path,
    cgroups_ready: CgroupGate<'_>,
) -> Result<Outcome, SandboxError> {
    validate(spec)?;
    // The overlay is mounted `volatile`, which marks its workdir; the kernel refuses to mount
    // a marked workdir again until the mark is removed. A run over the same upper and work
    // dirs as an earlier one (a container started again) found its upperdir as that run left
    // it, so the mark can go.
    if let RootFs::Overlay { workdir, .. } = &spec.rootfs {
        let _ = std::fs::remove_dir_all(workdir.join("work/incompat"));
    }
    // Not root: the helper makes a user namespace of its own. Root of a user namespace strata
    // entered (a rootless build) needs no nested one, but mounts like any user namespace.
    let rootless = !nix::unistd::geteuid().is_root();
    let in_userns = rootless || crate::util::userns::in_user_namespace();
    let state = tempfile::Builder::new()
        .prefix("strata-sandbox-")
        .tempdir_in(state_parent)
        .map_err(|source| SandboxError::State {
            path: state_parent.to_path_buf(),
            source,
        })?;
    let new_root = state.path().join("root");
    let etc_dir = state.path().join("etc");
    write_state(&new_root, &etc_dir, spec)?;
    let plan = mount_plan::plan(
        spec,
        &PlanInput {
            new_root: new_root.clone(),
            etc_dir,
            rootless: in_userns,
        },
    )?;
    let seccomp = spec.security.filters()?;
    let stdio = [
        open_stdio(&spec.stdin, "stdin")?,
        open_stdio(&spec.stdout, "stdout")?,
        open_stdio(&spec.stderr, "stderr")?,
    ];
    let pipe = |step| {
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|source| SandboxError::Sys { step, source })
    };
    let (report_r, report_w) = pipe("report pipe")?;
    let (sync_r, sync_w) = pipe("sync pipe")?;

    let own_netns = matches!(spec.network, NetworkMode::Default | NetworkMode::None);
    let netns = match &spec.network {
        NetworkMode::Join(path) => {
            Some(File::open(path).map_err(|source| SandboxError::State {
                path: path.clone(),
                source,
            })?)
        }
        _ => None,
    };
    let pidns = match &spec.pid {
        PidNamespace::Join(path) => {
            Some(File::open(path).map_err(|source| SandboxError::State {
                path: path.clone(),
                source,
            })?)
        }
        _ => None,
    };
    let own_pidns = spec.pid == PidNamespace::Own;
    let mut flags = CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWIPC;
    flags.set(CloneFlags::CLONE_NEWPID, own_pidns);
    flags.set(CloneFlags::CLONE_NEWNET, own_netns);
    flags.set(CloneFlags::CLONE_NEWUSER, rootless);
    let helper = HelperArgs {
        parent: nix::unistd::getpid(),
        stdio: [stdio[0].raw(), stdio[1].raw(), stdio[2].raw()],
        netns: netns.as_ref().map(|f| f.as_raw_fd()),
        pidns: pidns.as_ref().map(|f| f.as_raw_fd()),
        flags,
        sync: sync_r.as_fd(),
        init: InitArgs {
            spec,
            plan: &plan,
            new_root: &new_root,
            own_netns,
            own_pidns,
            setgroups: true,
            seccomp: &seccomp,
            report: report_w.as_fd(),
        },
    };
    // SAFETY: the child only runs `helper_main` and `_exit`s; glibc keeps malloc usable
    // after fork, and the child never touches locks other threads could hold.
    let child = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let code = helper_main(&helper);
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
    drop((report_w, sync_r, stdio, netns, pidns));
    cancel.attach(child);

    let mut sync_w = Some(sync_w);
    let mut slirp = None;
    let mut got = Reports::default();
    report::read_all(report_r, |r| match r {
        Report::Unshared => {
            let api = state.path().join("slirp.sock");
            let go = attach_outside(child, spec, rootless, cancel, &api).and_then(|(go, s)| {
                slirp = s;
                let join = cgroups_ready()?;
                Ok([go, if join { JOIN_CGROUPS } else { b'-' }])
            });
            // Without the go bytes the helper sees end-of-file and gives up.
            match (sync_w.take(), go) {
                (Some(w), Ok(go)) => {
                    let _ = nix::unistd::write(&w, &go);
                }
                (_, Err(e)) => got.failed = Some(e),
                (None, Ok(_)) => {}
            }
        }
        Report::Init(pid) => {
            got.init = pidfd_open(Pid::from_raw(pid));
            got.init_pid = Some(pid);
        }
        Report::Started => {
            if let (None, Some(pid)) = (&got.exec_failed, got.init_pid) {
                on_start(pid);
            }
        }
        Report::Created(c) => got.created = c,
        Report::Failed { step, detail } => got.failed = Some(SandboxError::Setup { step, detail }),
        Report::ExecFailed { detail } => got.exec_failed = Some(detail),
        Report::Status(s) => got.status = Some(s),
    });
    drop(sync_w);
    let helper_status = loop {
        match waitpid(child, None) {
            Err(Errno::EINTR) => continue,
            other => break other,
        }
    };
    cancel.detach();
    if let Some(fd) = &got.init {
        // When PID 1 has exited the kernel has already killed and reaped the rest of its
        // namespace, and with it the mount namespace holding the overlay.
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        let _ = poll(&mut fds, PollTimeout::from(TEARDOWN_WAIT_MS));
    }
    drop(slirp);
    match &spec.rootfs {
        RootFs::Overlay { upperdir, .. } => remove_created_mountpoints(upperdir, &got.created),
        RootFs::Dir(dir) => remove_created_mountpoints(dir, &got.created),
    }
    drop(state);

    if cancel.is_cancelled() {
        return Err(SandboxError::Cancelled);
    }
    if let Some(e) = got.failed {
        return Err(e);
    }
    if let Some(detail) = got.exec_failed {
        return Err(SandboxError::Exec {
            argv0: spec.argv[0].clone(),
            detail,
        });
    }
    match got.status {
        Some(status) => Ok(Outcome {
            status,
            created_mountpoints: got.created,
        }),
        None => Err(SandboxError::Lost(match helper_status {
            Ok(WaitStatus::Exited(_, code)) => code,
            Ok(WaitStatus::Signaled(_, sig, _)) => 128 + sig as i32,
            _ => -1,
        })),
    }
}

/// What the sandbox's processes reported while the caller waited.
#[derive(Default)]
struct Reports {
    /// A pidfd of PID 1, to wait for the namespace's teardown.
    init: Option<OwnedFd>,
    init_pid: Option<i32>,
    created: Vec<PathBuf>,
    failed: Option<SandboxError>,
    exec_failed: Option<String>,
    status: Option<ExitStatus>,
}

/// What the caller does from outside once the helper has its namespaces: id maps for a
/// user namespace, slirp4netns for the network. Returns the go byte for the helper
/// (`g`, or `s` when setgroups is denied inside) and the running slirp4netns.
fn attach_outside(
    helper: Pid,
    spec: &Spec,
    rootless: bool,
    cancel: &Canceller,
    api_socket: &Path,
) -> Result<(u8, Option<Slirp>), SandboxError> {
    let setgroups_denied = if rootless {
        !write_id_maps(helper)?
    } else {
        // A single-id namespace strata entered denies setgroups, to its nested ones too.
        !crate::util::userns::setgroups_allowed()
    };
    let go = if setgroups_denied { b's' } else { b'g' };
    let mut slirp = None;
    if spec.network == NetworkMode::Default && !cancel.is_cancelled() {
        slirp = Some(start_slirp(
            helper.as_raw(),
            rootless,
            api_socket,
            &spec.forwards,
        )?);
    }
    Ok((go, slirp))
}

fn validate(spec: &Spec) -> Result<(), SandboxError> {
    let bad = |m: String| Err(SandboxError::InvalidSpec(m));
    if spec.argv.is_empty() {
        return bad("argv is empty".into());
    }
    if !spec.cwd.is_absolute() {
        return bad(format!(
            "working directory {} is not absolute",
            spec.cwd.display()
        ));
    }
    if matches!(spec.network, NetworkMode::Join(_)) && !nix::unistd::geteuid().is_root() {
        return bad("joining a network namespace needs root".into());
    }
    // Without root there is no user namespace that may mount a /proc of the host's or
    // another sandbox's pid namespace.
    if spec.pid != PidNamespace::Own && !nix::unistd::geteuid().is_root() {
        return bad("sharing a pid namespace needs root".into());
    }
    if spec.hostname.is_empty() || spec.hostname.len() > 64 {
        return bad(format!(
            "hostname {:?} must be 1 to 64 bytes",
            spec.hostname
        ));
    }
    Ok(())
}

/// The empty mountpoint for the root and the files bound on `/etc/hosts` & co, kept outside
/// the root so they never land in the upperdir.
fn write_state(new_root: &Path, etc_dir: &Path, spec: &Spec) -> Result<(), SandboxError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SandboxError::State { path, source }
    };
    std::fs::create_dir(new_root).map_err(io(new_root))?;
    std::fs::create_dir(etc_dir).map_err(io(etc_dir))?;
    let (hosts, resolv) = match &spec.etc {
        Some(etc) => (etc.hosts.clone(), etc.resolv_conf.clone()),
        None => {
            let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
            (
                hosts_file(&spec.hostname),
                resolv_conf(&spec.network, &host_resolv),
            )
        }
    };
    let files = [
        ("hosts", hosts),
        ("resolv.conf", resolv),
        ("hostname", format!("{}\n", spec.hostname)),
    ];
    for (name, text) in files {
        let path = etc_dir.join(name);
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    Ok(())
}

/// A standard stream for the sandbox: the caller's own, or a descriptor to install.
enum StdioFd {
    Inherit,
    Borrowed(RawFd),
    Owned(File),
}

impl StdioFd {
    fn raw(&self) -> Option<RawFd> {
        match self {
            StdioFd::Inherit => None,
            StdioFd::Borrowed(fd) => Some(*fd),
            StdioFd::Owned(f) => Some(f.as_raw_fd()),
        }
    }
}

fn open_stdio(s: &Stdio, stream: &'static str) -> Result<StdioFd, SandboxError> {
    let open = |path: &Path| {
        let mut o = OpenOptions::new();
        if stream == "stdin" {
            o.read(true);
        } else {
            o.write(true).create(true).truncate(true);
        }
        o.open(path)
            .map(StdioFd::Owned)
            .map_err(|source| SandboxError::Stdio {
                stream,
                path: path.to_path_buf(),
                source,
            })
    };
    match s {
        Stdio::Inherit => Ok(StdioFd::Inherit),
        Stdio::Fd(fd) => Ok(StdioFd::Borrowed(*fd)),
        Stdio::Null => open(Path::new("/dev/null")),
        Stdio::File(p) => open(p),
    }
}

struct HelperArgs<'a> {
    parent: Pid,
    stdio: [Option<RawFd>; 3],
    /// A network namespace to join instead of making one.
    netns: Option<RawFd>,
    /// A pid namespace for PID 1 to be forked into instead of a new one.
    pidns: Option<RawFd>,
    flags: CloneFlags,
    sync: BorrowedFd<'a>,
    init: InitArgs<'a>,
}

/// The helper: outside the new pid namespace but inside the others. Forks PID 1, forwards
/// signals to it and exits with its code.
fn helper_main(a: &HelperArgs<'_>) -> i32 {
    // SAFETY: prctl with integer arguments. We die with the thread that forked us.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    if nix::unistd::getppid() != a.parent {
        return 1;
    }
    let report = a.init.report;
    for (target, fd) in a.stdio.iter().enumerate() {
        if let Some(fd) = fd {
            // SAFETY: dup2 onto a standard descriptor; both are plain integers.
            if unsafe { libc::dup2(*fd, target as RawFd) } < 0 {
                send_failed(report, "set up stdio", Errno::last().to_string());
                return 1;
            }
        }
    }
    if let Some(fd) = a.netns {
        // SAFETY: inherited across fork; nothing in this process closes it before this.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        if let Err(e) = RealSyscalls.setns(fd, CloneFlags::CLONE_NEWNET) {
            send_failed(report, "join network namespace", e.to_string());
            return 1;
        }
    }
    if let Some(fd) = a.pidns {
        // SAFETY: as the network namespace's above.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        if let Err(e) = RealSyscalls.setns(fd, CloneFlags::CLONE_NEWPID) {
            send_failed(report, "join pid namespace", e.to_string());
            return 1;
        }
    }
    close_fds_except(&[report.as_raw_fd(), a.sync.as_raw_fd()]);
    if let Err(e) = RealSyscalls.unshare(a.flags) {
        send_failed(report, "unshare", e.to_string());
        return 1;
    }
    send(report, &Report::Unshared);
    // [setgroups allowed (`g`) or denied, cgroups to join (`JOIN_CGROUPS`) or none]
    let mut go = [0u8; 2];
    let mut got = 0;
    while got < go.len() {
        match nix::unistd::read(a.sync, &mut go[got..]) {
            Ok(0) => return 1,
            Ok(n) => got += n,
            Err(Errno::EINTR) => {}
            Err(_) => return 1,
        }
    }
    // SAFETY: closing our copy of the sync pipe; nothing uses it after this.
    unsafe { libc::close(a.sync.as_raw_fd()) };
    // Before PID 1 is forked, so everything in the sandbox is counted in the cgroups.
    let jr = match go[1] {
        JOIN_CGROUPS => join_cgroups(&a.init.spec.cgroup_procs),
        _ => Ok(()),
    };
    if let Err(detail) = jr {
        send_failed(report, "join cgroup", detail);
        return 1;
    }
    let init_args = InitArgs {
        setgroups: go[0] == b'g',
        ..a.init
    };
    let Ok((alive_r, alive_w)) = nix::unistd::pipe2(OFlag::O_CLOEXEC) else {
        return 1;
    };
    let waitset = block_for_sigwait();
    // SAFETY: single-threaded forked child.
    let init = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            // SAFETY: as above; PID 1 dies with the helper, and with it the namespace.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
            drop(alive_w);
            if helper_gone(&alive_r) {
                // SAFETY: leaving a forked child.
                unsafe { libc::_exit(1) }
            }
            drop(alive_r);
            let code = init_main(&init_args);
            // SAFETY: leaving a forked child.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => {
            send_failed(report, "fork init", e.to_string());
            return 1;
        }
    };
    drop(alive_r);
    send(report, &Report::Init(init.as_raw()));
    // SAFETY: the helper sends nothing more; PID 1 has its own copy.
    unsafe { libc::close(report.as_raw_fd()) };
    loop {
        let Some(sig) = waitset.wait() else { continue };
        if signals::forwarded(sig) {
            // SAFETY: a plain kill(2) of our child.
            unsafe { libc::kill(init.as_raw(), sig) };
            continue;
        }
        match waitpid(init, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            _ => {}
        }
    }
}

/// The helper's second go byte when it is to join `Spec::cgroup_procs`.
const JOIN_CGROUPS: u8 = b'c';

/// Moves the helper into each cgroup (`cgroup.procs` files). It is single-threaded, so on v1
/// it writes `0` (itself) to the sibling `tasks`: moving one's own thread skips the kernel's
/// global threadgroup lock, whose RCU wait made the caller's write of the pid to
/// `cgroup.procs` cost ~2 ms per hierarchy on a busy host. v2 has no `tasks`; `cgroup.procs`
/// takes `0` too.
fn join_cgroups(procs: &[PathBuf]) -> Result<(), String> {
    for path in procs {
        let tasks = path.with_file_name("tasks");
        let file = if tasks.exists() { &tasks } else { path };
        std::fs::write(file, "0").map_err(|e| format!("{}: {e}", file.display()))?;
    }
    Ok(())
}

/// Whether the helper died before PID 1 set its parent-death signal (its pipe end closed).
fn helper_gone(alive_r: &OwnedFd) -> bool {
    let mut fds = [PollFd::new(alive_r.as_fd(), PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
}

fn send_failed(report: BorrowedFd<'_>, step: &str, detail: String) {
    send(
        report,
        &Report::Failed {
            step: step.to_string(),
            detail,
        },
    );
}

//! Running, stopping, removing and waiting for containers. The process that runs a container
//! (a foreground `strata run`, or the detached supervisor) is its *monitor*: it records the
//! sandbox's PID 1 once the command runs and the exit code when it ends. Others only read the
//! record and signal PID 1; no lock is held while the container runs.

use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::command::parse_signal;
use super::create::now_precise;
use super::error::ContainerError;
use super::health::{self, Health};
use super::health_monitor::HealthMonitor;
use super::record::{Container, ProcRef, Status};
use super::rootfs::{rootfs, sandbox_mounts};
use super::store::Containers;
use super::volumes;
use crate::sandbox::{self, Canceller, ExitStatus, Spec, Stdio};
use crate::store::Store;

/// Where the container's standard streams go for this run.
#[derive(Debug, Clone)]
pub struct RunIo {
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
}

/// The sandbox spec for a container.
pub fn spec(store: &Store, c: &Container, io: RunIo) -> Result<Spec, ContainerError> {
    let mut spec = Spec::new(c.config.argv.clone(), rootfs(store, c)?);
    spec.env = super::command::process_env(
        &c.config.env,
        &c.config.hostname,
        c.config.tty,
        &super::links::env(store.root(), c),
    );
    spec.cwd = c.config.cwd.clone().into();
    spec.user = c.config.user.clone();
    spec.group_add = c.config.group_add.clone();
    spec.hostname = c.config.hostname.clone();
    spec.mounts = sandbox_mounts(store, c)?;
    spec.network = c.config.network.clone();
    spec.readonly_root = c.config.readonly_root;
    spec.stdin = io.stdin;
    spec.stdout = io.stdout;
    spec.stderr = io.stderr;
    spec.tty = c.config.tty;
    spec.security = c.config.security.clone();
    spec.rlimits = c.config.resources.rlimits();
    spec.shm_size = c.config.resources.shm_bytes();
    Ok(spec)
}

/// Makes the container's cgroup with its limits and device rules (on the thread `run`
/// starts); `Ok(false)` when it could not be made and is optional.
fn make_cgroup(
    id: &str,
    resources: &super::resources::Resources,
    security: &crate::sandbox::security::Security,
    procs: &[std::path::PathBuf],
) -> Result<bool, ContainerError> {
    if !super::cgroups::make(id, resources)? {
        return Ok(false);
    }
    crate::sandbox::device_rules::restrict(procs, security).map_err(|source| {
        ContainerError::Io {
            op: "restricting devices in the cgroup of",
            path: id.into(),
            source,
        }
    })?;
    Ok(true)
}

/// Runs container `id` in this process until it exits; returns its exit code (128+N when
/// killed by signal N). `on_start` is called once the command has been executed. A container
/// that could not start is left `created` with the error recorded (and removed if `--rm`).
///
/// The store is taken and closed once the sandbox spec is ready: its shared gc lock must not
/// be held for the life of a container (a prune would be refused all that time).
pub fn run(
    store: Store,
    id: &str,
    io: RunIo,
    cancel: &Canceller,
    on_start: &mut dyn FnMut(&Container),
    ended: &mut dyn FnMut(),
) -> Result<i32, ContainerError> {
    let cs = Containers::new(store.root());
    let c = {
        let _l = cs.lock(id)?;
        let mut c = cs.get_reconciled_locked(id)?;
        if c.state.status == Status::Running {
            return Err(ContainerError::AlreadyRunning { id: id.to_string() });
        }
        c.state.status = Status::Running;
        c.state.monitor = ProcRef::current();
        c.state.pid = None;
        c.state.exit_code = None;
        c.state.error = None;
        c.state.started_at = Some(now_precise());
        c.state.finished_at = None;
        c.state.oom_killed = false;
        cs.save(&c)?;
        c
    };
    let root = store.root().to_path_buf();
    // Making the cgroup in every v1 hierarchy is most of a millisecond of mkdirs and writes
    // in the kernel: a thread does it while the network, the rootfs and the sandbox's
    // namespaces are prepared, and the sandbox waits for it only before forking PID 1.
    let procs = super::cgroups::planned(&c.id, &c.config.resources);
    let mut making = match &procs {
        Ok(procs) if !procs.is_empty() => {
            let (id, procs) = (c.id.clone(), procs.clone());
            let (resources, security) = (c.config.resources.clone(), c.config.security.clone());
            Some(std::thread::spawn(move || {
                make_cgroup(&id, &resources, &security, &procs)
            }))
        }
        _ => None,
    };
    let net = procs.and_then(|procs| Ok((procs, super::net::up(&root, &cs, &c)?)));
    let spec = net.and_then(|(procs, up)| {
        let mut spec = spec(&store, &c, io)?;
        crate::sandbox::device_rules::check_cgroup_rules(&c.config.security.device_cgroup_rules)
            .map_err(|detail| ContainerError::DeviceCgroupRule { detail })?;
        spec.pid = super::host_options::pid_namespace(&cs, &c)?;
        // Compiled (and kept) while the cgroup is made; the launch finds it.
        let _ = spec.security.filters();
        spec.cgroup_procs = procs;
        spec.network = up.mode.clone();
        spec.etc = up.etc.clone();
        spec.forwards = up.forwards.clone();
        Ok((spec, up))
    });
    // The sandbox's state goes in a temp dir this process owns for the run: a killed monitor
    // leaves it for the next strata to reclaim, never in $TMPDIR.
    let state = spec.and_then(|s| Ok((s, store.temp_dir_named("run-")?)));
    drop(store);
    let mut started = false;
    let mut cgroup_failure = None;
    let probed = health::probe_command(c.config.healthcheck.as_ref(), &c.config.shell).is_some();
    let mut health_monitor = None;
    let result = state.and_then(|((spec, _ports_held), state)| {
        let mut on_started = |pid: i32| {
            started = true;
            let ran = cs.update(id, |c| {
                c.state.pid = ProcRef::of(pid);
                // As Docker's start: `starting` again, no failures, the old log kept.
                if probed {
                    c.state.health = Some(Health::starting(c.state.health.take()));
                }
            });
            if let Ok(c) = ran {
                super::events::emit(&root, &c, "start", &[]);
                if probed {
                    health_monitor = HealthMonitor::start(&root, &c, pid);
                }
                on_start(&c);
            }
        };
        let mut cgroups_ready = || match making.take().map(|t| t.join()) {
            None => Ok(false),
            Some(Ok(Ok(made))) => Ok(made),
            Some(Ok(Err(e))) => {
                let failed = sandbox::SandboxError::Setup {
                    step: "make cgroup".to_string(),
                    detail: e.to_string(),
                };
                cgroup_failure = Some(e);
                Err(failed)
            }
            Some(Err(panic)) => std::panic::resume_unwind(panic),
        };
        let r = sandbox::run_gated(
            &spec,
            cancel,
            &mut on_started,
            state.path(),
            &mut cgroups_ready,
        );
        if let Some(m) = health_monitor.take() {
            m.stop();
        }
        if let Some(e) = cgroup_failure.take() {
            return Err(e);
        }
        match r {
            Ok(o) => Ok(exit_code(o.status)),
            // PID 1 was killed (`stop` after its timeout, `rm -f`): the helper exits with
            // 128+N and no status report comes.
            Err(sandbox::SandboxError::Lost(code)) if started && code > 0 => Ok(code),
            Err(source) => Err(ContainerError::Sandbox {
                id: id.to_string(),
                source,
            }),
        }
    });
    ended();
    // Never asked for when the launch failed first: done before the removal starts.
    if let Some(thread) = making.take() {
        let _ = thread.join();
    }
    let oom_killed = super::cgroups::oom_killed(id);
    // The rmdirs in every hierarchy overlap the rest of the teardown; they are done before
    // the record says stopped (a `start` then makes the cgroup afresh), or, for `--rm`,
    // before this returns.
    let cgroup_removal = {
        let id = id.to_string();
        std::thread::spawn(move || super::cgroups::remove(&id))
    };
    let mut cgroup_removal = Some(cgroup_removal);
    let mut await_cgroup_removal = || {
        if let Some(thread) = cgroup_removal.take() {
            let _ = thread.join();
        }
    };
    let net_down = super::net::down(&root, &cs, id);
    // Tried even when the start failed: any volume mounted before the failure goes again.
    let _ = volumes::deactivate(&root, &c);
    if !c.config.auto_remove {
        // The overlay is volatile (no sync of the whole upper filesystem at unmount); the
        // container's own writes are made durable here instead, once, when it stops.
        sync_fs(&cs.upperdir(id));
    }
    // A teardown that failed stays recorded in `state.net`, and the next `rm`, `start` or
    // `system prune` tries again; it never replaces the run's own result.
    drop(net_down);
    let code = match &result {
        Ok(code) => Ok(*code),
        Err(e) => Err(e.exit_code()),
    };
    let error = result.as_ref().err().map(|e| e.to_string());
    // Before the record says stopped: whoever waits for that (`rm -f`) logs its own events
    // after this one, as Docker orders them.
    if let (Ok(code), true) = (code, started) {
        let now = cs.load(id).unwrap_or_else(|_| c.clone());
        super::events::emit(&root, &now, "die", &[("exitCode", code.to_string())]);
    }
    if !c.config.auto_remove {
        await_cgroup_removal();
    }
    let _ = cs.update(id, |c| {
        c.state.monitor = None;
        c.state.pid = None;
        c.state.paused = false;
        c.state.oom_killed = oom_killed;
        c.state.finished_at = Some(now_precise());
        if let Some(h) = &mut c.state.health {
            h.stopped();
        }
        match code {
            Ok(code) => {
                c.state.status = Status::Exited;
                c.state.exit_code = Some(code);
            }
            Err(code) => {
                c.state.status = Status::Created;
                c.state.exit_code = Some(code);
                c.state.error = error.clone();
            }
        }
    });
    if c.config.auto_remove {
        if let (Ok(c), Ok(store)) = (cs.load(id), Store::open(&root)) {
            let _ = volumes::release(&store, &c, true);
            let _ = super::net::release(&root, &c);
        }
        if cs.remove(id).is_ok() {
            super::events::emit(&root, &c, "destroy", &[]);
        }
    }
    await_cgroup_removal();
    result
}

/// Docker's exit code for a status: the code, or 128+N for signal N.
pub fn exit_code(s: ExitStatus) -> i32 {
    match s {
        ExitStatus::Exited(c) => c,
        ExitStatus::Signaled(n) => 128 + n,
    }
}

fn sync_fs(dir: &Path) {
    if let Ok(f) = std::fs::File::open(dir) {
        // SAFETY: syncfs on a descriptor we own.
        unsafe { libc::syncfs(f.as_raw_fd()) };
    }
}

/// Sends `sig` to the container's PID 1 (which forwards it to the command), if it runs.
fn signal(c: &Container, sig: i32) -> bool {
    let sent = match c.state.pid {
        // SAFETY: a plain kill(2); nix's `Signal` has no realtime signals.
        Some(p) if p.alive() => (unsafe { libc::kill(p.pid, sig) } == 0),
        _ => false,
    };
    // A frozen process handles the signal (or dies of it) once thawed, as Docker's `stop` of
    // a paused container does.
    if sent {
        let _ = super::cgroups::thaw(c);
    }
    sent
}

/// Polls the record until the container no longer runs or `limit` passes.
fn wait_stopped(cs: &Containers, id: &str, limit: Duration) -> Result<bool, ContainerError> {
    let end = Instant::now() + limit;
    loop {
        match cs.get_reconciled(id) {
            Ok(c) if c.state.status == Status::Running => {}
            Ok(_) | Err(ContainerError::NotFound(_)) => return Ok(true),
            Err(e) => return Err(e),
        }
        if Instant::now() >= end {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `stop`: the container's StopSignal, then SIGKILL after `timeout`. Returns whether it was
/// running.
pub fn stop(store: &Store, c: &Container, timeout: Duration) -> Result<bool, ContainerError> {
    stop_with(store, c, timeout, None)
}

/// `stop -s SIGNAL`: as `stop`, with `signal` instead of the container's StopSignal.
pub fn stop_with(
    store: &Store,
    c: &Container,
    timeout: Duration,
    signal: Option<&str>,
) -> Result<bool, ContainerError> {
    let was_running = stop_inner(store, c, timeout, signal)?;
    if was_running {
        super::events::emit(store.root(), c, "stop", &[]);
    }
    Ok(was_running)
}

fn stop_inner(
    store: &Store,
    c: &Container,
    timeout: Duration,
    signal_override: Option<&str>,
) -> Result<bool, ContainerError> {
    let cs = Containers::new(store.root());
    // First, so a keeper between two runs of a restart policy starts no new one.
    cs.update(&c.id, |c| c.state.manually_stopped = true)?;
    let c = cs.get_reconciled(&c.id)?;
    if c.state.status != Status::Running {
        return Ok(false);
    }
    let sig = parse_signal(signal_override.unwrap_or(&c.config.stop_signal))?;
    let start = Instant::now();
    // A container still starting has no PID 1 recorded yet; wait for it within the timeout.
    let mut current = c;
    while current.state.pid.is_none() && current.state.status == Status::Running {
        if start.elapsed() >= timeout {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        current = cs.get_reconciled(&current.id)?;
    }
    super::events::emit(
        store.root(),
        &current,
        "kill",
        &[("signal", sig.to_string())],
    );
    if signal(&current, sig)
        && wait_stopped(&cs, &current.id, timeout.saturating_sub(start.elapsed()))?
    {
        return Ok(true);
    }
    kill_and_wait(&cs, &current.id)?;
    Ok(true)
}

/// SIGKILL to PID 1 (the kernel then kills its whole pid namespace); if there is none, to the
/// monitor (the sandbox dies with it). Waits for the record to say it stopped.
fn kill_and_wait(cs: &Containers, id: &str) -> Result<(), ContainerError> {
    const LIMIT: Duration = Duration::from_secs(10);
    let c = match cs.get_reconciled(id) {
        Ok(c) => c,
        Err(ContainerError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    if c.state.status != Status::Running {
        return Ok(());
    }
    super::events::emit(cs.store_root(), &c, "kill", &[("signal", "9".into())]);
    if !signal(&c, libc::SIGKILL) {
        if let Some(m) = c.state.monitor.filter(|m| m.alive()) {
            let _ = kill(Pid::from_raw(m.pid), Signal::SIGKILL);
        }
    }
    if wait_stopped(cs, id, LIMIT)? {
        Ok(())
    } else {
        Err(ContainerError::StopTimeout {
            id: id.to_string(),
            secs: LIMIT.as_secs(),
        })
    }
}

/// `kill [-s SIGNAL]`: sends `sig` (a name or number; Docker's default is SIGKILL) to the
/// container's PID 1, which forwards it to the command.
pub fn send_signal(store: &Store, c: &Container, sig: &str) -> Result<(), ContainerError> {
    let sig = parse_signal(sig)?;
    let cs = Containers::new(store.root());
    let c = cs.get_reconciled(&c.id)?;
    if c.state.status == Status::Running && c.state.paused {
        return Err(ContainerError::KillPaused { id: c.id.clone() });
    }
    if c.state.status == Status::Running {
        // Docker's restart policies leave a killed container stopped, as a stopped one.
        cs.update(&c.id, |c| c.state.manually_stopped = true)?;
    }
    if c.state.status != Status::Running || !signal(&c, sig) {
        return Err(ContainerError::NotRunning { id: c.id.clone() });
    }
    super::events::emit(store.root(), &c, "kill", &[("signal", sig.to_string())]);
    Ok(())
}

/// `rm [-f]`: refuses a running container unless `force` (then kills it), releases its
/// volumes and removes its directory.
pub fn remove(
    store: &Store,
    c: &Container,
    force: bool,
    volumes_too: bool,
) -> Result<(), ContainerError> {
    let cs = Containers::new(store.root());
    let mut c = cs.get_reconciled(&c.id)?;
    // Between an exit and the restart its policy asks for, Docker counts it as running (from
    // the exit on: the keeper may not have marked it restarting yet).
    let s = &c.state;
    let restarting = s.keeper.is_some_and(|k| k.alive())
        && !s.manually_stopped
        && (s.restarting
            || (s.status == Status::Exited
                && c.config.restart.should_restart(
                    s.exit_code.unwrap_or(0),
                    s.restart_count,
                    false,
                )));
    if c.state.status == Status::Running || restarting {
        if !force {
            return Err(ContainerError::IsRunning {
                id: c.id.clone(),
                name: c.name.clone(),
            });
        }
        // The keeper leaves a manually stopped container alone: it restarts nothing now.
        cs.update(&c.id, |c| c.state.manually_stopped = true)?;
        c = cs.get_reconciled(&c.id)?;
        if c.state.status == Status::Running {
            kill_and_wait(&cs, &c.id)?;
        }
    }
    // Its monitor removes the cgroup when the container ends, unless the monitor was
    // killed first.
    super::cgroups::remove(&c.id);
    super::net::down(store.root(), &cs, &c.id)?;
    volumes::release(store, &c, volumes_too)?;
    super::net::release(store.root(), &c)?;
    match cs.remove(&c.id) {
        Err(ContainerError::NotFound(_)) => Ok(()),
        Ok(()) => {
            super::events::emit(store.root(), &c, "destroy", &[]);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// `wait`: blocks until the container is not running; returns its exit code.
pub fn wait(cs: &Containers, id: &str) -> Result<i32, ContainerError> {
    loop {
        let c = cs.get_reconciled(id)?;
        if c.state.status != Status::Running {
            return Ok(c.state.exit_code.unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

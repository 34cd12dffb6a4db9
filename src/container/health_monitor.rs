//! Runs a container's health probes from the process that runs the container (its monitor:
//! the foreground `strata run` or the detached supervisor), on a thread started once PID 1
//! runs and stopped before the run's end is recorded. A container without a healthcheck
//! starts no thread and pays nothing.
//!
//! Each probe is a process in the container as `exec` starts one (`sandbox::join::exec_in`:
//! its namespaces and cgroups, user, environment, working directory and privileges), with
//! stdout and stderr captured into one `health::Output`, killed (its process group, by
//! SIGKILL) at the healthcheck's timeout. Each result goes into the container's record under
//! its lock (`Containers::update`, an atomic replace), and a change of status is logged as
//! Docker's `health_status: STATUS` event; each probe is logged as dockerd logs its probe
//! execs (`exec_create: CMD`, `exec_start: CMD`, `exec_die`). One concurrency model: a thread per monitor, one
//! more per probe (it blocks in `exec_in`), talking over one channel.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::create::now_precise;
use super::health::{self, HealthStatus, Output, ProbeResult, Timing};
use super::record::Container;
use super::store::Containers;
use crate::sandbox::join::{exec_in, JoinSpec};
use crate::sandbox::security_flags::SecurityFlags;

/// How long a probe's output may still come after its process ended (a background child can
/// hold the pipe open), and how long a killed probe is waited for.
const GRACE: Duration = Duration::from_secs(2);

/// A running health monitor; `stop` ends it.
pub struct HealthMonitor {
    tx: Sender<Msg>,
    thread: JoinHandle<()>,
}

/// What the monitor thread hears. Probe messages carry the probe's number, so the late end
/// of one that was given up on is never taken for the next one's.
enum Msg {
    Stop,
    /// The probe's joiner process (its parent in the container).
    Spawned(u64, i32),
    /// The probe ended: its exit code, or why it could not run.
    Done(u64, Result<i32, String>),
}

/// What a probe runs and where.
struct Probe {
    root: PathBuf,
    id: String,
    init_pid: i32,
    spec: JoinSpec,
    timing: Timing,
}

impl HealthMonitor {
    /// Starts probing `c`, whose PID 1 is `init_pid` (a host pid), if its healthcheck runs a
    /// command; `None` otherwise.
    pub fn start(root: &Path, c: &Container, init_pid: i32) -> Option<HealthMonitor> {
        let argv = health::probe_command(c.config.healthcheck.as_ref(), &c.config.shell)?;
        let timing = Timing::of(c.config.healthcheck.as_ref()?);
        // As Docker's probe: the container's own user, directory, environment and privileges.
        let security = SecurityFlags::default()
            .for_exec(&c.config.security)
            .unwrap_or_else(|_| c.config.security.clone());
        let spec = JoinSpec {
            argv,
            env: c.config.env.clone(),
            cwd: c.config.cwd.clone().into(),
            user: c.config.user.clone(),
            group_add: c.config.group_add.clone(),
            stdio: [None, None, None],
            tty: false,
            security,
            rlimits: c.config.resources.rlimits(),
        };
        let probe = Probe {
            root: root.to_path_buf(),
            id: c.id.clone(),
            init_pid,
            spec,
            timing,
        };
        let (tx, rx) = channel();
        let probe_tx = tx.clone();
        let thread = std::thread::Builder::new()
            .name("health".into())
            .spawn(move || monitor(probe, rx, probe_tx))
            .ok()?;
        Some(HealthMonitor { tx, thread })
    }

    /// Stops probing (a probe under way is killed, its result dropped) and waits for that.
    pub fn stop(self) {
        let _ = self.tx.send(Msg::Stop);
        let _ = self.thread.join();
    }
}

fn monitor(probe: Probe, rx: Receiver<Msg>, tx: Sender<Msg>) {
    let cs = Containers::new(&probe.root);
    let started = Instant::now();
    let mut status = HealthStatus::Starting;
    for seq in 0.. {
        let delay = probe.timing.next_delay(started.elapsed(), status);
        match rx.recv_timeout(delay) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            // Left from a probe that was given up on.
            Ok(_) => continue,
        }
        // Docker stops probing a paused container (its probes could not run anyway).
        let c = match cs.load(&probe.id) {
            Ok(c) if c.state.paused => continue,
            Ok(c) => c,
            Err(_) => return,
        };
        let since_start = started.elapsed();
        let events = ProbeEvents::new(&probe, &c);
        let Some(result) = run_probe(&probe, &events, seq, &rx, &tx) else {
            return;
        };
        let mut changed = None;
        let saved = cs.update(&probe.id, |c| {
            // Paused meanwhile: the probe was frozen with the container and proves nothing.
            if c.state.paused {
                return;
            }
            if let Some(h) = &mut c.state.health {
                changed = h.record(result, since_start, &probe.timing);
                status = h.status;
            }
        });
        if let (Ok(c), Some(now)) = (saved, changed) {
            let action = format!("health_status: {}", now.as_str());
            super::events::emit(&probe.root, &c, &action, &[]);
        }
    }
}

/// A probe as dockerd logs it: an exec of the container, with an id of its own, whose
/// `exec_create: CMD`, `exec_start: CMD` and `exec_die` (with its `exitCode`) are container
/// events like those of `docker exec`.
struct ProbeEvents<'a> {
    root: &'a Path,
    container: &'a Container,
    exec_id: String,
    command: String,
}

impl<'a> ProbeEvents<'a> {
    fn new(probe: &'a Probe, container: &'a Container) -> Self {
        ProbeEvents {
            root: &probe.root,
            container,
            exec_id: crate::util::random_id(),
            command: probe.spec.argv.join(" "),
        }
    }

    fn emit(&self, action: &str, extra: &[(&str, String)]) {
        let mut attrs = vec![("execID", self.exec_id.clone())];
        attrs.extend(extra.iter().cloned());
        super::events::emit(self.root, self.container, action, &attrs);
    }

    fn created(&self) {
        self.emit(&format!("exec_create: {}", self.command), &[]);
    }

    fn started(&self) {
        self.emit(&format!("exec_start: {}", self.command), &[]);
    }

    /// The probe's process ended (by itself, or killed at its timeout or a stop).
    fn died(&self, ended: &Result<i32, String>) {
        if let Ok(code) = ended {
            self.emit("exec_die", &[("exitCode", code.to_string())]);
        }
    }
}

/// Runs one probe to its end or its timeout; `None` when told to stop meanwhile.
fn run_probe(
    probe: &Probe,
    events: &ProbeEvents<'_>,
    seq: u64,
    rx: &Receiver<Msg>,
    tx: &Sender<Msg>,
) -> Option<ProbeResult> {
    let start = now_precise();
    let output = Arc::new(Mutex::new(Output::default()));
    let result = |exit_code: i32, text: String| ProbeResult {
        start: start.clone(),
        end: now_precise(),
        exit_code,
        output: text,
    };
    events.created();
    let spawned = spawn_probe(probe, seq, tx.clone(), Arc::clone(&output));
    if let Err(e) = spawned {
        return Some(result(-1, e));
    }
    let deadline = Instant::now() + probe.timing.timeout;
    let mut joiner = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Msg::Spawned(n, pid)) if n == seq => {
                joiner = Some(pid);
                events.started();
            }
            Ok(Msg::Done(n, ended)) if n == seq => {
                events.died(&ended);
                return Some(match ended {
                    Ok(code) => result(code, text_of(&output)),
                    Err(e) => result(-1, e),
                });
            }
            Ok(Msg::Spawned(..) | Msg::Done(..)) => {}
            Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => {
                kill_and_wait(rx, events, seq, joiner);
                return None;
            }
            Err(RecvTimeoutError::Timeout) => {
                let stop = kill_and_wait(rx, events, seq, joiner);
                let text = health::timeout_output(probe.timing.timeout, &text_of(&output));
                return (!stop).then(|| result(-1, text));
            }
        }
    }
}

fn text_of(output: &Mutex<Output>) -> String {
    output.lock().map(|o| o.text()).unwrap_or_default()
}

/// Kills probe `seq` and waits (a while) for its end; whether a stop came meanwhile. A probe
/// whose process was not reported yet (a slow fork on a busy host) is killed once it is.
fn kill_and_wait(
    rx: &Receiver<Msg>,
    events: &ProbeEvents<'_>,
    seq: u64,
    joiner: Option<i32>,
) -> bool {
    kill_probe(joiner);
    let deadline = Instant::now() + GRACE;
    let mut stop = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Msg::Done(n, ended)) if n == seq => {
                events.died(&ended);
                return stop;
            }
            Ok(Msg::Spawned(n, pid)) if n == seq => {
                events.started();
                kill_probe(Some(pid));
            }
            Err(_) => return stop,
            Ok(Msg::Stop) => stop = true,
            Ok(Msg::Spawned(..) | Msg::Done(..)) => {}
        }
    }
}

/// SIGKILL to the probe's command and everything in its process group (it is a session
/// leader: `sh -c 'sleep 60'` takes its `sleep` along); the joiner then reaps it and ends.
/// Without the command's pid, the joiner itself is killed.
fn kill_probe(joiner: Option<i32>) {
    let Some(joiner) = joiner else { return };
    let children = std::fs::read_to_string(format!("/proc/{joiner}/task/{joiner}/children"))
        .unwrap_or_default();
    let pids: Vec<i32> = children
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    for pid in &pids {
        // SAFETY: plain kill(2) calls with integer arguments.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
            libc::kill(*pid, libc::SIGKILL);
        }
    }
    if pids.is_empty() {
        // SAFETY: as above.
        unsafe { libc::kill(joiner, libc::SIGKILL) };
    }
}

/// Starts the probe's process on a thread of its own, its stdout and stderr copied into
/// `output`; it reports on `tx` (`Spawned`, then `Done`).
fn spawn_probe(
    probe: &Probe,
    seq: u64,
    tx: Sender<Msg>,
    output: Arc<Mutex<Output>>,
) -> Result<(), String> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| format!("health check output pipe: {e}"))?;
    let null = File::open("/dev/null").map_err(|e| format!("/dev/null: {e}"))?;
    let reader = std::thread::spawn(move || {
        let mut r = File::from(r);
        let mut buf = [0u8; 4096];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut o) = output.lock() {
                o.push(&buf[..n]);
            }
        }
    });
    let mut spec = probe.spec.clone();
    spec.stdio = [
        Some(null.as_raw_fd()),
        Some(w.as_raw_fd()),
        Some(w.as_raw_fd()),
    ];
    let init_pid = probe.init_pid;
    let spawned = std::thread::Builder::new()
        .name("health-probe".into())
        .spawn(move || {
            let ran = exec_in(init_pid, &spec, &mut |pid| {
                let _ = tx.send(Msg::Spawned(seq, pid));
            });
            drop((w, null));
            // The output is complete once every writer is gone; a probe's background child
            // that keeps the pipe is not waited for long.
            let until = Instant::now() + GRACE;
            while !reader.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = tx.send(Msg::Done(
                seq,
                ran.map(super::lifecycle::exit_code)
                    .map_err(|e| e.to_string()),
            ));
        });
    spawned
        .map(drop)
        .map_err(|e| format!("starting the health check: {e}"))
}

//! RUN as a build step: the sandbox over a writable overlay of the parent's snapshots, its
//! output streamed to progress, and the upperdir's changes as the layer.

use std::collections::VecDeque;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Mutex;

use super::error::StepError;
use super::events::{Event, LogStream, Progress};
use super::interrupt::Interrupt;
use super::step_mounts::PreparedMounts;
use super::step_network::StepNetworks;
use crate::plan::graph::{Command, ExecOp, HeredocData};
use crate::sandbox::{
    run_observed_in, Canceller, ExitStatus, Mount, NetworkMode, RootFs, Spec, Stdio,
};

/// Lines of output kept for the error message of a failing RUN.
const TAIL_LINES: usize = 10;

/// The argv a RUN executes, as BuildKit builds it: a RUN that is exactly one heredoc runs its
/// body with the shell (or, with a `#!` line, as a script file mounted at `/dev/pipes/NAME`);
/// otherwise the heredoc bodies are handed to the shell after the command line, so the shell
/// does the redirection as it would in a script. Returns the argv and any script to mount.
pub fn argv(op: &ExecOp) -> (Vec<String>, Option<(String, String)>) {
    match (&op.command, op.heredocs.as_slice()) {
        (Command::Shell(cmd), [h]) if is_only_heredoc(cmd, h) => {
            if h.content.starts_with("#!") {
                let path = format!("/dev/pipes/{}", h.name);
                (vec![path.clone()], Some((path, h.content.clone())))
            } else {
                (Command::Shell(h.content.clone()).argv(&op.shell), None)
            }
        }
        (Command::Shell(cmd), hs) if !hs.is_empty() => {
            let mut script = cmd.clone();
            for h in hs {
                script.push('\n');
                script.push_str(&h.content);
                script.push_str(&h.name);
            }
            (Command::Shell(script).argv(&op.shell), None)
        }
        (c, _) => (c.argv(&op.shell), None),
    }
}

fn is_only_heredoc(cmd: &str, h: &HeredocData) -> bool {
    let rest = cmd.trim().trim_start_matches("<<").trim_start_matches('-');
    let rest = rest.trim_matches(|c| c == '"' || c == '\'');
    rest == h.name
}

/// What the executor hands a RUN besides the op.
pub struct RunContext<'a> {
    pub step: usize,
    pub progress: &'a dyn Progress,
    pub interrupt: &'a Interrupt,
    pub defaults: &'a RunDefaults,
    /// The build's user network or container namespace, for RUNs without `--network`.
    pub networks: Option<&'a dyn StepNetworks>,
}

/// What every RUN of a build gets unless its own flags say otherwise: the classic builder's
/// `networkmode`, `extrahosts` and `shmsize`. Like Docker's, they are not in the cache key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunDefaults {
    /// `host` or `none` (another mode is given to RUNs through [`StepNetworks`]); `None`: the
    /// sandbox's own network.
    pub network: Option<String>,
    /// `(name, address)` lines added to `/etc/hosts`.
    pub extra_hosts: Vec<(String, String)>,
    /// The size of `/dev/shm` in bytes; `None`: Docker's 64 MiB.
    pub shm_size: Option<u64>,
}

/// Runs the op over `lowers` + `upper`/`work` (the upperdir receives its changes). `scratch`
/// is the step's owned temp directory, which also holds the sandbox's state.
pub fn run(
    op: &ExecOp,
    lowers: Vec<PathBuf>,
    upper: PathBuf,
    work: PathBuf,
    scratch: &std::path::Path,
    rc: &RunContext<'_>,
    mounts: &PreparedMounts,
) -> Result<(), StepError> {
    let (argv, script) = argv(op);
    let mut spec = Spec::new(
        argv.clone(),
        RootFs::Overlay {
            lowerdirs: lowers,
            upperdir: upper.clone(),
            workdir: work,
        },
    );
    spec.env = op
        .process_env()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    // As in Docker, a RUN whose image sets no PATH gets the default one.
    if !spec.env.iter().any(|e| e.starts_with("PATH=")) {
        spec.env
            .push(format!("PATH={}", crate::sandbox::spec::DEFAULT_PATH));
    }
    spec.cwd = PathBuf::from(if op.workdir.is_empty() {
        "/"
    } else {
        &op.workdir
    });
    spec.user = if op.user.is_empty() {
        "0".into()
    } else {
        op.user.clone()
    };
    spec.hostname = "buildkitsandbox".into();
    // Undoes the step's endpoint (if it has one) when the step ends, whichever way.
    let attached = match (op.network.as_deref(), rc.networks) {
        (None, Some(n)) => Some(n.attach(&spec.hostname).map_err(StepError::Network)?),
        _ => None,
    };
    let mut etc = None;
    spec.network = match (
        &attached,
        op.network.as_deref().or(rc.defaults.network.as_deref()),
    ) {
        (Some(a), _) => {
            etc = a.etc.clone();
            a.mode.clone()
        }
        (None, Some("none")) => NetworkMode::None,
        (None, Some("host")) => NetworkMode::Host,
        _ => NetworkMode::Default,
    };
    if let Some(size) = rc.defaults.shm_size {
        spec.shm_size = size;
    }
    if !rc.defaults.extra_hosts.is_empty() {
        let mut files = etc.take().unwrap_or_else(|| {
            let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
            crate::sandbox::spec::EtcFiles {
                hosts: crate::sandbox::network::hosts_file(&spec.hostname),
                resolv_conf: crate::sandbox::network::resolv_conf(&spec.network, &host_resolv),
            }
        });
        for (name, addr) in &rc.defaults.extra_hosts {
            files.hosts.push_str(&format!("{addr}\t{name}\n"));
        }
        etc = Some(files);
    }
    spec.etc = etc;
    // `--security=insecure` (allowed only with `--allow security.insecure`) is BuildKit's
    // privileged RUN: every capability, no seccomp filter, devices and `/proc` unmasked.
    if op.security.as_deref() == Some("insecure") {
        spec.security.privileged = true;
        spec.security.caps = crate::sandbox::security::Security::all_caps();
    }
    spec.mounts.extend(mounts.mounts.iter().cloned());
    spec.env
        .extend(mounts.env.iter().map(|(k, v)| format!("{k}={v}")));
    if let Some((target, content)) = &script {
        let host = scratch.join("script");
        std::fs::write(&host, content).map_err(StepError::io("write", &host))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&host, std::fs::Permissions::from_mode(0o755))
            .map_err(StepError::io("chmod", &host))?;
        spec.mounts.push(Mount::Bind {
            source: host,
            target: PathBuf::from(target),
            readonly: true,
        });
    }

    let (out_r, out_w) =
        nix::unistd::pipe().map_err(|e| StepError::io("pipe", &upper)(e.into()))?;
    let (err_r, err_w) =
        nix::unistd::pipe().map_err(|e| StepError::io("pipe", &upper)(e.into()))?;
    spec.stdout = Stdio::Fd(out_w.as_raw_fd());
    spec.stderr = Stdio::Fd(err_w.as_raw_fd());
    // Removed when this returns, whichever way.
    let cgroup = super::step_cgroup::StepCgroup::create();
    spec.cgroup_procs = cgroup.procs();
    let tail = Mutex::new(VecDeque::new());
    let canceller = Canceller::new();
    rc.interrupt.register(&canceller);

    let outcome = std::thread::scope(|s| {
        s.spawn(|| pump(out_r, LogStream::Stdout, rc, &tail));
        s.spawn(|| pump(err_r, LogStream::Stderr, rc, &tail));
        // Once the command runs, the sandbox has bound its secrets: they leave the host.
        let r = run_observed_in(
            &spec,
            &canceller,
            &mut |_| mounts.sandbox_started(),
            scratch,
        );
        // Our copies of the write ends go, so the readers see EOF once the process is gone.
        drop(out_w);
        drop(err_w);
        r
    });
    rc.interrupt.unregister(&canceller);
    let outcome = match outcome {
        Err(crate::sandbox::SandboxError::Cancelled) => return Err(StepError::Cancelled),
        r => r?,
    };
    crate::sandbox::cleanup::remove_created_mountpoints(&upper, &outcome.created_mountpoints);
    if canceller.is_cancelled() {
        return Err(StepError::Cancelled);
    }
    if !outcome.status.success() {
        let status = match outcome.status {
            ExitStatus::Exited(c) => format!("exit code: {c}"),
            ExitStatus::Signaled(s) => format!("killed by signal {s}"),
        };
        let lines: Vec<String> = tail.into_inner().expect("tail").into_iter().collect();
        let tail = if lines.is_empty() {
            String::new()
        } else {
            format!("\n  last output:\n    {}", lines.join("\n    "))
        };
        let exit_code = match outcome.status {
            ExitStatus::Exited(c) => Some(c),
            ExitStatus::Signaled(_) => None,
        };
        return Err(StepError::RunFailed {
            command: argv.join(" "),
            status,
            exit_code,
            tail,
        });
    }
    Ok(())
}

/// Streams one pipe into progress events and the tail buffer.
fn pump(fd: OwnedFd, stream: LogStream, rc: &RunContext<'_>, tail: &Mutex<VecDeque<String>>) {
    let mut f = std::fs::File::from(fd);
    let mut buf = vec![0u8; 16 << 10];
    let mut partial: Vec<u8> = Vec::new();
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        rc.progress.event(Event::StepLog {
            step: rc.step,
            stream,
            data: buf[..n].to_vec(),
        });
        partial.extend_from_slice(&buf[..n]);
        while let Some(i) = partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = partial.drain(..=i).collect();
            push_tail(tail, &line[..line.len() - 1]);
        }
    }
    if !partial.is_empty() {
        push_tail(tail, &partial);
    }
}

fn push_tail(tail: &Mutex<VecDeque<String>>, line: &[u8]) {
    let mut t = tail.lock().expect("tail");
    if t.len() == TAIL_LINES {
        t.pop_front();
    }
    t.push_back(String::from_utf8_lossy(line).into_owned());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(cmd: &str, heredocs: Vec<(&str, &str)>) -> ExecOp {
        ExecOp {
            command: Command::Shell(cmd.into()),
            shell: vec!["/bin/sh".into(), "-c".into()],
            env: vec![],
            proxy_env: vec![],
            user: String::new(),
            workdir: "/".into(),
            mounts: vec![],
            network: None,
            security: None,
            heredocs: heredocs
                .into_iter()
                .map(|(n, c)| HeredocData {
                    name: n.into(),
                    fd: 0,
                    expand: true,
                    content: c.into(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_lone_heredoc_is_the_script() {
        let (a, s) = argv(&op("<<EOF", vec![("EOF", "echo a\necho b\n")]));
        assert_eq!(a, vec!["/bin/sh", "-c", "echo a\necho b\n"]);
        assert!(s.is_none());
    }

    #[test]
    fn a_shebang_heredoc_runs_as_a_file() {
        let (a, s) = argv(&op(
            "<<EOF",
            vec![("EOF", "#!/usr/bin/env python3\nprint(1)\n")],
        ));
        assert_eq!(a, vec!["/dev/pipes/EOF"]);
        assert_eq!(s.unwrap().0, "/dev/pipes/EOF");
    }

    #[test]
    fn a_heredoc_fed_to_a_command_goes_to_the_shell_with_its_body() {
        let (a, _) = argv(&op("<<-EOT bash", vec![("EOT", "set -e\necho x\n")]));
        assert_eq!(a, vec!["/bin/sh", "-c", "<<-EOT bash\nset -e\necho x\nEOT"]);
    }

    #[test]
    fn exec_form_is_left_alone() {
        let mut o = op("", vec![]);
        o.command = Command::Exec(vec!["/bin/true".into()]);
        assert_eq!(argv(&o).0, vec!["/bin/true"]);
    }
}

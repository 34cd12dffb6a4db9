//! What to run and how (`Spec`) and what came of it (`Outcome`): plain serialisable data, no I/O.

use std::os::fd::RawFd;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::security::Security;

/// The `PATH` used to find `argv[0]` when the spec's environment has none (Docker's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One process to run in fresh mount, uts, ipc, pid (unless `pid` says otherwise) and net
/// (unless `Host`) namespaces.
///
/// When the main process exits, everything else left in its pid namespace (or, sharing one,
/// every process it left behind) is killed: a background process never outlives the run.
/// That rule is fixed, not a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    /// The command; `argv[0]` without a `/` is looked up in the spec's `PATH` inside the root.
    pub argv: Vec<String>,
    /// `KEY=value` entries, passed as is; `HOME` is added from passwd when missing.
    pub env: Vec<String>,
    /// Absolute path inside the root; created (as root, `mkdir -p`) when missing.
    pub cwd: PathBuf,
    /// Docker `USER` syntax (`name`, `uid`, `name:group`, `uid:gid`), resolved against the
    /// root's own `/etc/passwd` and `/etc/group`.
    pub user: String,
    /// Docker's `GroupAdd`: more supplementary groups (names from the root's `/etc/group`, or
    /// numeric ids) for the process.
    #[serde(default)]
    pub group_add: Vec<String>,
    pub hostname: String,
    pub rootfs: RootFs,
    /// Applied in order, after the system mounts (`/proc`, `/dev`, `/sys`, `/etc/hosts`, …).
    pub mounts: Vec<Mount>,
    pub network: NetworkMode,
    /// Whose processes the sandbox sees: its own pid namespace unless told otherwise.
    #[serde(default)]
    pub pid: PidNamespace,
    /// The sandbox's `/etc/hosts` and `/etc/resolv.conf` when the caller wrote them (a
    /// container on a bridge network); `None` gives the defaults for `network`.
    #[serde(default)]
    pub etc: Option<EtcFiles>,
    /// Host ports slirp4netns forwards into the sandbox (`NetworkMode::Default` only).
    #[serde(default)]
    pub forwards: Vec<Forward>,
    /// Remount `/` read-only once every mountpoint exists.
    pub readonly_root: bool,
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
    /// The main process starts a session with its stdin (a pty's slave end the caller opened)
    /// as its controlling terminal, as `docker run -t` does.
    #[serde(default)]
    pub tty: bool,
    /// `cgroup.procs` files the sandbox joins before its command starts (the container's own
    /// cgroup, for `pause`, `stats` and `top`).
    #[serde(default)]
    pub cgroup_procs: Vec<PathBuf>,
    /// Capabilities, seccomp, no_new_privs, privileged mode and devices (Docker's defaults).
    #[serde(default)]
    pub security: Security,
    /// `setrlimit`s of the command (Docker's `--ulimit`), set before it becomes the user.
    #[serde(default)]
    pub rlimits: Vec<super::rlimits::Rlimit>,
    /// The size of the `/dev/shm` tmpfs (Docker's `--shm-size`, 64 MiB unless given).
    #[serde(default = "default_shm_size")]
    pub shm_size: u64,
}

/// Docker's `/dev/shm` size when `--shm-size` is not given.
pub const DEFAULT_SHM_SIZE: u64 = 64 << 20;

fn default_shm_size() -> u64 {
    DEFAULT_SHM_SIZE
}

impl Spec {
    /// A spec with Docker's RUN defaults: root, `/`, no env, stdin from `/dev/null`, network on.
    pub fn new(argv: Vec<String>, rootfs: RootFs) -> Self {
        Spec {
            argv,
            env: Vec::new(),
            cwd: PathBuf::from("/"),
            user: "0".to_string(),
            group_add: Vec::new(),
            hostname: "strata".to_string(),
            rootfs,
            mounts: Vec::new(),
            network: NetworkMode::Default,
            pid: PidNamespace::Own,
            etc: None,
            forwards: Vec::new(),
            readonly_root: false,
            stdin: Stdio::Null,
            stdout: Stdio::Inherit,
            stderr: Stdio::Inherit,
            tty: false,
            cgroup_procs: Vec::new(),
            security: Security::default(),
            rlimits: Vec::new(),
            shm_size: DEFAULT_SHM_SIZE,
        }
    }
}

/// The root filesystem the process sees as `/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RootFs {
    /// An overlay: `lowerdirs` top first (as overlayfs wants them); writes land in `upperdir`.
    Overlay {
        lowerdirs: Vec<PathBuf>,
        upperdir: PathBuf,
        workdir: PathBuf,
    },
    /// A plain directory, bind-mounted as the root; writes land in it.
    Dir(PathBuf),
}

/// An extra mount (what `RUN --mount` and `run -v` turn into).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mount {
    /// A host file or directory at `target` (absolute, inside the root).
    Bind {
        source: PathBuf,
        target: PathBuf,
        readonly: bool,
    },
    /// A fresh tmpfs; `size_bytes: None` means the kernel default (half of RAM).
    Tmpfs {
        target: PathBuf,
        size_bytes: Option<u64>,
    },
}

impl Mount {
    pub fn target(&self) -> &PathBuf {
        match self {
            Mount::Bind { target, .. } | Mount::Tmpfs { target, .. } => target,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NetworkMode {
    /// Own network namespace with user-mode networking (slirp4netns): outside access like
    /// Docker's build network, DNS through 10.0.2.3; the host's loopback is not reachable.
    Default,
    /// Own network namespace with only `lo` up.
    None,
    /// The host's network namespace.
    Host,
    /// An existing network namespace (a bind-mounted nsfs file or `/proc/PID/ns/net`) that
    /// the caller set up: a bridge endpoint, or another container's namespace.
    Join(PathBuf),
}

/// The pid namespace of the sandbox's processes (Docker's `PidMode`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PidNamespace {
    /// A new one, whose PID 1 is the sandbox's init: everything in it dies with the run.
    #[default]
    Own,
    /// The host's: the command sees (and may signal) every process of the host.
    Host,
    /// An existing one (`/proc/PID/ns/pid` of another container's PID 1); needs root.
    Join(PathBuf),
}

/// One port slirp4netns forwards: `host_addr:host_port` on the host to `guest_port` inside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forward {
    /// `tcp` or `udp`.
    pub proto: String,
    /// `0.0.0.0` for every address.
    pub host_addr: String,
    pub host_port: u16,
    pub guest_port: u16,
}

/// `/etc` files the caller wrote for the sandbox; bound over the root's own as Docker binds
/// them, so they are never part of a layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtcFiles {
    pub hosts: String,
    pub resolv_conf: String,
}

/// Where one of the standard streams goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stdio {
    /// The caller's own stream.
    Inherit,
    /// `/dev/null`.
    Null,
    /// A descriptor the caller keeps open for the whole run (e.g. a pipe's write end).
    Fd(RawFd),
    /// A host file: opened for reading (stdin) or created/truncated (stdout, stderr).
    File(PathBuf),
}

/// How the main process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExitStatus {
    Exited(i32),
    Signaled(i32),
}

impl ExitStatus {
    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }
}

/// The result of a run whose sandbox was set up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: ExitStatus,
    /// Mountpoints the sandbox had to create on the root filesystem (paths inside the root,
    /// parents before children), e.g. `/etc/hosts` when the image has none. Those still empty
    /// after the run were removed again from the upperdir (or root dir), so a layer diff only
    /// sees their parent directories' copy-up; listed so the diff can drop those too.
    pub created_mountpoints: Vec<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_round_trips_through_json() {
        let mut spec = Spec::new(
            vec!["/bin/sh".into(), "-c".into(), "true".into()],
            RootFs::Overlay {
                lowerdirs: vec!["/l2".into(), "/l1".into()],
                upperdir: "/u".into(),
                workdir: "/w".into(),
            },
        );
        spec.mounts = vec![
            Mount::Bind {
                source: "/h".into(),
                target: "/c".into(),
                readonly: true,
            },
            Mount::Tmpfs {
                target: "/t".into(),
                size_bytes: Some(1024),
            },
        ];
        spec.stdout = Stdio::File("/out".into());
        spec.stderr = Stdio::Fd(7);
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(serde_json::from_str::<Spec>(&json).unwrap(), spec);
    }
}

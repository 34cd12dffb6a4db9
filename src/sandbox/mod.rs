//! Run one process in Linux namespaces over a root filesystem: `Spec` in, exit status out. Knows nothing of images or build plans.
//!
//! `spec` is the data; `mount_plan` turns it into ordered mount operations (pure);
//! `mounts` carries them out through the `syscalls::Syscalls` seam (`recording` is its fake);
//! `launch` forks the helper that unshares the namespaces, `init` is the namespace's PID 1.

pub mod capset;
pub mod cgroup;
pub mod cgroup_of;
pub mod cleanup;
pub mod console;
pub mod device_filter;
pub mod device_filter_attach;
pub mod device_rules;
pub mod devices;
pub mod emulation;
pub mod error;
pub mod idmap;
pub mod init;
pub mod join;
pub mod launch;
pub mod mount_plan;
pub mod mounts;
pub mod network;
pub mod orphans;
pub mod recording;
pub mod report;
pub mod rlimits;
pub mod rootless;
pub mod seccomp;
pub mod security;
pub mod security_flags;
pub mod signals;
pub mod spec;
pub mod syscalls;
pub mod user;
pub mod userns;

pub use error::SandboxError;
pub use launch::{
    run, run_cancellable, run_gated, run_observed, run_observed_in, Canceller, CgroupGate,
};
pub use spec::{
    ExitStatus, Forward, Mount, NetworkMode, Outcome, PidNamespace, RootFs, Spec, Stdio,
};

//! What the `ctr_settings` tests probe inside containers, through `strata run` and through
//! the docker CLI alike.
#![allow(dead_code)]

/// A shell line printing `seen` when `/proc` inside shows the test's own process.
pub fn sees_pid(pid: u32) -> String {
    format!("[ -d /proc/{pid} ] && echo seen || echo unseen")
}

/// `Cpus_allowed_list` and `Mems_allowed_list` of the command, as the kernel applies the
/// container's cpuset (on cgroup v1 and v2 alike).
pub const ALLOWED: &str =
    "grep -E '^(Cpus|Mems)_allowed_list' /proc/self/status | awk '{print $2}' | tr '\\n' ' '";

/// The CPUs the host offers containers, as strata reads them.
pub fn available_cpus() -> String {
    strata::container::cpuset::Available::detect().cpus
}

/// Opens `/dev/f` (the host's /dev/fuse, 10:229) for writing.
pub const WRITE_F: &str = "exec 4>/dev/f && echo write-ok";

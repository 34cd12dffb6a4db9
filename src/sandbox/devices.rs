//! The minimal `/dev` every sandbox gets and what of `/proc` and `/sys` it hides, as data.
//! which symlinks are made. Binding host nodes (rather than `mknod`) also works in a user
//! namespace.

/// Character devices bind-mounted from the host's `/dev`.
pub const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// `(link inside /dev, what it points to)`.
pub const DEV_SYMLINKS: &[(&str, &str)] = &[
    ("/dev/ptmx", "pts/ptmx"),
    ("/dev/fd", "/proc/self/fd"),
    ("/dev/stdin", "/proc/self/fd/0"),
    ("/dev/stdout", "/proc/self/fd/1"),
    ("/dev/stderr", "/proc/self/fd/2"),
    ("/dev/core", "/proc/kcore"),
];

/// Docker's default capability set for containers and RUN steps (the seccomp module's table,
/// which also gates syscalls on it); every other capability is dropped from the bounding set.
pub const DEFAULT_CAPS: &[u32] = &super::seccomp::DOCKER_DEFAULT_CAPS;

/// Paths hidden from the command, as Docker does: `/dev/null` over files, an empty
/// read-only tmpfs over directories. Missing ones are skipped.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths made read-only, as Docker does: root in the sandbox must not reach the host's
/// kernel knobs (`/proc/sys`) or `/proc/sysrq-trigger`.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

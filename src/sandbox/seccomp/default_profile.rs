//! Docker's default seccomp profile (the one Docker 28 applies when no
//! `--security-opt seccomp=…` is given), kept as data in Docker's own JSON format in
//! `default_profile.json`.
//!
//! It is an allowlist: EPERM for anything not listed, `socket` refused only for
//! `AF_VSOCK`, `personality` only for the five personas Docker allows, namespace-creating
//! `clone` flags and the `CAP_SYS_ADMIN` syscalls (mount, unshare, setns, …) only with that
//! capability, `clone3` answered with ENOSYS so libc falls back to `clone`, and per-capability
//! extras (`CAP_SYS_PTRACE` → kcmp, `CAP_SYS_TIME` → settimeofday, …).

use std::sync::OnceLock;

use super::profile::Profile;

pub(super) const DEFAULT_PROFILE_JSON: &str = include_str!("default_profile.json");

impl Profile {
    /// Docker's default profile. Parsed once per process; later calls clone the result.
    pub fn docker_default() -> Profile {
        static PARSED: OnceLock<Profile> = OnceLock::new();
        PARSED
            .get_or_init(|| {
                Profile::from_json(DEFAULT_PROFILE_JSON)
                    .expect("the built-in default seccomp profile is valid")
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::super::profile::{Action, CmpOp};
    use super::*;

    fn rules_naming<'p>(
        profile: &'p Profile,
        name: &'p str,
    ) -> impl Iterator<Item = &'p super::super::profile::SyscallRule> {
        profile
            .syscalls
            .iter()
            .filter(move |rule| rule.names.iter().any(|n| n == name))
    }

    #[test]
    fn parses_and_round_trips() {
        let profile = Profile::docker_default();
        assert_eq!(profile.default_action, Action::Errno(libc::EPERM as u16));
        let again = Profile::from_json(&profile.to_json()).unwrap();
        assert_eq!(again, profile);
    }

    #[test]
    fn names_blocked_without_capabilities_have_only_capability_gated_rules() {
        let profile = Profile::docker_default();
        // Docker's documented "significant syscalls blocked by the default profile" that
        // no capability re-enables.
        for name in [
            "add_key",
            "keyctl",
            "request_key",
            "create_module",
            "get_kernel_syms",
            "query_module",
            "kexec_file_load",
            "kexec_load",
            "nfsservctl",
            "pivot_root",
            "swapon",
            "swapoff",
            "sysfs",
            "_sysctl",
            "uselib",
            "userfaultfd",
            "ustat",
            "vm86",
            "vm86old",
            "move_pages",
        ] {
            assert_eq!(rules_naming(&profile, name).count(), 0, "{name} is allowed");
        }
        // Re-enabled only by a capability.
        for name in [
            "acct",
            "bpf",
            "clock_settime",
            "delete_module",
            "finit_module",
            "get_mempolicy",
            "init_module",
            "ioperm",
            "iopl",
            "kcmp",
            "lookup_dcookie",
            "mbind",
            "mount",
            "open_by_handle_at",
            "perf_event_open",
            "quotactl",
            "reboot",
            "set_mempolicy",
            "setns",
            "settimeofday",
            "stime",
            "umount",
            "umount2",
            "unshare",
        ] {
            let rules: Vec<_> = rules_naming(&profile, name).collect();
            assert!(!rules.is_empty(), "{name} has no rule");
            for rule in rules {
                assert!(
                    !rule.includes.caps.is_empty(),
                    "{name} allowed without a cap"
                );
            }
        }
    }

    /// Guards the syscall table: a Docker name it cannot resolve would be silently
    /// skipped, so every miss must be a syscall x86_64 really lacks (32-bit, `time64`
    /// and other architectures' calls).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn every_name_x86_64_has_resolves() {
        let not_on_x86_64 = [
            "_llseek",
            "_newselect",
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "breakpoint",
            "cacheflush",
            "chown32",
            "clock_adjtime64",
            "clock_getres_time64",
            "clock_gettime64",
            "clock_nanosleep_time64",
            "clock_settime64",
            "fadvise64_64",
            "fchown32",
            "fcntl64",
            "fstat64",
            "fstatat64",
            "fstatfs64",
            "ftruncate64",
            "futex_time64",
            "getegid32",
            "geteuid32",
            "getgid32",
            "getgroups32",
            "getresgid32",
            "getresuid32",
            "getuid32",
            "io_pgetevents_time64",
            "ipc",
            "lchown32",
            "lstat64",
            "mmap2",
            "mq_timedreceive_time64",
            "mq_timedsend_time64",
            "ppoll_time64",
            "pselect6_time64",
            "recv",
            "recvmmsg_time64",
            "riscv_flush_icache",
            "riscv_hwprobe",
            "rt_sigtimedwait_time64",
            "s390_pci_mmio_read",
            "s390_pci_mmio_write",
            "s390_runtime_instr",
            "sched_rr_get_interval_time64",
            "semtimedop_time64",
            "send",
            "sendfile64",
            "set_tls",
            "setfsgid32",
            "setfsuid32",
            "setgid32",
            "setgroups32",
            "setregid32",
            "setresgid32",
            "setresuid32",
            "setreuid32",
            "setuid32",
            "sigprocmask",
            "sigreturn",
            "socketcall",
            "stat64",
            "statfs64",
            "stime",
            "swapcontext",
            "sync_file_range2",
            "timer_gettime64",
            "timer_settime64",
            "timerfd_gettime64",
            "timerfd_settime64",
            "truncate64",
            "ugetrlimit",
            "umount",
            "utimensat_time64",
            "waitpid",
        ];
        let profile = Profile::docker_default();
        let mut missing: Vec<&str> = profile
            .syscalls
            .iter()
            .flat_map(|rule| rule.names.iter())
            .map(String::as_str)
            .filter(|name| super::super::syscall_table::syscall_number(name).is_none())
            .collect();
        missing.sort_unstable();
        missing.dedup();
        assert_eq!(missing, not_on_x86_64);
    }

    #[test]
    fn argument_rules_are_dockers() {
        let profile = Profile::docker_default();
        let personas: Vec<u64> = rules_naming(&profile, "personality")
            .map(|rule| {
                assert_eq!(rule.args.len(), 1);
                assert_eq!(rule.args[0].op, CmpOp::Eq);
                rule.args[0].value
            })
            .collect();
        assert_eq!(personas, [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff]);

        let socket: Vec<_> = rules_naming(&profile, "socket").collect();
        assert_eq!(socket.len(), 1);
        assert_eq!(socket[0].args[0].op, CmpOp::Ne);
        const AF_VSOCK: u64 = 40; // not in libc's musl tables
        assert_eq!(socket[0].args[0].value, AF_VSOCK);

        let namespace_flags = (libc::CLONE_NEWNS
            | libc::CLONE_NEWUTS
            | libc::CLONE_NEWIPC
            | libc::CLONE_NEWUSER
            | libc::CLONE_NEWPID
            | libc::CLONE_NEWNET
            | libc::CLONE_NEWCGROUP) as u64;
        let masked: Vec<_> = rules_naming(&profile, "clone")
            .filter(|rule| !rule.args.is_empty())
            .collect();
        assert_eq!(
            masked.len(),
            2,
            "one rule for s390 argument order, one for the rest"
        );
        for rule in masked {
            assert_eq!(rule.args[0].op, CmpOp::MaskedEq);
            assert_eq!(rule.args[0].value, namespace_flags);
            assert_eq!(rule.args[0].value_two, 0);
            assert_eq!(rule.excludes.caps, ["CAP_SYS_ADMIN"]);
        }

        let clone3: Vec<_> = rules_naming(&profile, "clone3")
            .filter(|rule| rule.action != Action::Allow)
            .collect();
        assert_eq!(clone3.len(), 1);
        assert_eq!(clone3[0].action, Action::Errno(libc::ENOSYS as u16));
    }
}

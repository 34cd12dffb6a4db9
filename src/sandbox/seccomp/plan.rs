//! Which of a profile's rules bind this container, as concrete per-syscall rules: Docker's
//! `includes`/`excludes` (caps, arches, minKernel), names resolved to this architecture's
//! numbers, and runc's reading of `args`. Pure; `compile` turns the result into BPF.

use libc::c_long;

use super::caps::cap_number;
use super::profile::{Action, ArgCmp, CmpOp, Condition, KernelVersion, Profile};
use super::syscall_table::syscall_number;

/// What `includes`/`excludes` are evaluated against besides the capabilities.
#[derive(Debug, Clone, Copy)]
pub(super) struct Target {
    /// Go's name for the architecture (`amd64`, `arm64`), which Docker profiles use.
    pub goarch: &'static str,
    pub kernel: KernelVersion,
}

/// The profile reduced to what the kernel will be asked to do for this container.
#[derive(Debug)]
pub(super) struct Plan {
    pub default: Action,
    /// In profile order. Never holds a rule whose action is `default`.
    pub rules: Vec<PlannedRule>,
}

/// "If syscall `nr` is called and all `conds` hold, take `action`."
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PlannedRule {
    pub nr: c_long,
    pub action: Action,
    /// Empty: matches every call of `nr`.
    pub conds: Vec<Cond>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cond {
    pub index: u8,
    pub op: CmpOp,
    pub value: u64,
    pub value_two: u64,
    pub width: Width,
}

/// How much of the 64-bit argument register a comparison looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Width {
    /// Low 32 bits: the argument is an `int` to the kernel, so the upper half is whatever
    /// the caller's register held and the kernel ignores it.
    Dword,
    Qword,
}

/// Arguments the kernel reads as 32-bit (`int`/`unsigned int`, or `clone`'s flags, cut with
/// `lower_32_bits`), as (syscall, bitmask of argument indexes). libseccomp (and so Docker)
/// compares all 64 bits, which lets a caller slip past `socket`'s `arg0 != AF_VSOCK` by
/// setting an upper bit the kernel then drops; comparing the low half closes that and
/// otherwise decides exactly as Docker does for any value a libc passes.
const INT_ARGS: &[(&str, u8)] = &[
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    ("clone", 0b1),
    ("copy_file_range", 0b10_0000),
    ("fcntl", 0b10),
    ("getsockopt", 0b110),
    ("ioctl", 0b10),
    ("kill", 0b10),
    ("madvise", 0b100),
    ("personality", 0b1),
    ("prctl", 0b1),
    ("setns", 0b10),
    ("setsockopt", 0b110),
    ("socket", 0b111),
    ("socketpair", 0b111),
];

/// Which syscall ABI of the machine a plan is for: Docker filters the compat ABIs of an
/// x86_64 kernel (`archMap` sub-architectures) with the same rules as the native one, each
/// name resolved to that ABI's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Abi {
    Native,
    #[cfg(target_arch = "x86_64")]
    I386,
    #[cfg(target_arch = "x86_64")]
    X32,
}

impl Abi {
    fn number(self, name: &str) -> Option<c_long> {
        match self {
            Abi::Native => syscall_number(name),
            #[cfg(target_arch = "x86_64")]
            Abi::I386 => super::syscall_table_compat::i386_number(name),
            #[cfg(target_arch = "x86_64")]
            Abi::X32 => super::syscall_table_compat::x32_number(name),
        }
    }

    /// Whether every argument is 32 bits wide (the kernel zero-extends the registers).
    fn narrow(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        if self == Abi::I386 {
            return true;
        }
        false
    }
}

pub(super) fn plan(profile: &Profile, caps: &[u32], target: &Target) -> Plan {
    plan_abi(profile, caps, target, Abi::Native)
}

/// `plan` for one ABI. The rules chosen are the same for every ABI (Docker compares
/// `includes.arches` with the native architecture only); only the numbers differ.
pub(super) fn plan_abi(profile: &Profile, caps: &[u32], target: &Target, abi: Abi) -> Plan {
    let default = profile.default_action;
    let mut rules = Vec::new();
    for rule in &profile.syscalls {
        // runc drops rules that say what the default already says, which also means such a
        // rule cannot override a conflicting rule for the same syscall.
        if rule.action == default || !applies(&rule.includes, &rule.excludes, caps, target) {
            continue;
        }
        for name in &rule.names {
            // Names this architecture lacks are skipped, as libseccomp does.
            let Some(nr) = abi.number(name) else {
                continue;
            };
            for group in condition_groups(&rule.args) {
                let conds: Vec<Cond> = group
                    .iter()
                    .map(|arg| cond(name, arg, abi.narrow()))
                    .collect();
                if conds.iter().all(satisfiable) {
                    rules.push(PlannedRule {
                        nr,
                        action: rule.action,
                        conds,
                    });
                }
            }
        }
    }
    Plan { default, rules }
}

/// Docker's reading: every `includes` part must hold (all listed caps held, the arch
/// listed, kernel at least `minKernel`); any `excludes` part holding drops the rule.
/// A capability name strata does not know counts as not held, as in Docker.
pub(super) fn applies(
    includes: &Condition,
    excludes: &Condition,
    caps: &[u32],
    target: &Target,
) -> bool {
    let held = |name: &String| cap_number(name).is_some_and(|number| caps.contains(&number));
    let arch_listed = |arches: &[String]| arches.iter().any(|arch| arch == target.goarch);

    let excluded = excludes.caps.iter().any(held)
        || arch_listed(&excludes.arches)
        || excludes.min_kernel.is_some_and(|min| target.kernel >= min);
    let included = includes.caps.iter().all(held)
        && (includes.arches.is_empty() || arch_listed(&includes.arches))
        && includes.min_kernel.is_none_or(|min| target.kernel >= min);
    included && !excluded
}

/// runc's reading of `args`: ANDed as one rule when every argument index is distinct,
/// but when an index repeats, each comparison becomes a rule of its own (ORed).
fn condition_groups(args: &[ArgCmp]) -> Vec<Vec<ArgCmp>> {
    let mut seen = 0u8;
    let repeats = args.iter().any(|arg| {
        let bit = 1 << arg.index;
        let repeated = seen & bit != 0;
        seen |= bit;
        repeated
    });
    if repeats {
        args.iter().map(|arg| vec![*arg]).collect()
    } else {
        vec![args.to_vec()]
    }
}

fn cond(name: &str, arg: &ArgCmp, narrow_abi: bool) -> Cond {
    let is_int = narrow_abi
        || INT_ARGS
            .iter()
            .any(|(int_name, mask)| *int_name == name && mask & (1 << arg.index) != 0);
    let fits = |value: u64| value <= u64::from(u32::MAX);
    let width = if is_int && fits(arg.value) && fits(arg.value_two) {
        Width::Dword
    } else {
        Width::Qword
    };
    Cond {
        index: arg.index,
        op: arg.op,
        value: arg.value,
        value_two: arg.value_two,
        width,
    }
}

/// libseccomp's `MASKED_EQ` compares `arg & mask` with `valueTwo` unmasked, so bits of
/// `valueTwo` outside the mask make it never match; seccompiler would mask them away and
/// match, so such rules are dropped here instead.
fn satisfiable(cond: &Cond) -> bool {
    cond.op != CmpOp::MaskedEq || cond.value_two & !cond.value == 0
}

#[cfg(test)]
mod tests {
    use super::super::caps::DOCKER_DEFAULT_CAPS;
    use super::*;

    const AMD64: Target = Target {
        goarch: "amd64",
        kernel: KernelVersion {
            major: 6,
            minor: 1,
            patch: 0,
        },
    };

    fn nr(name: &str) -> c_long {
        syscall_number(name).unwrap()
    }

    fn with_cap(extra: &str) -> Vec<u32> {
        let mut caps = DOCKER_DEFAULT_CAPS.to_vec();
        caps.push(cap_number(extra).unwrap());
        caps
    }

    fn rules_for(plan: &Plan, name: &str) -> Vec<PlannedRule> {
        let number = nr(name);
        plan.rules
            .iter()
            .filter(|rule| rule.nr == number)
            .cloned()
            .collect()
    }

    #[test]
    fn capability_gated_syscalls_appear_only_with_their_capability() {
        let profile = Profile::docker_default();
        // (capability, syscalls it unlocks that exist on both x86_64 and aarch64)
        let cases: &[(&str, &[&str])] = &[
            (
                "CAP_SYS_ADMIN",
                &["mount", "umount2", "unshare", "setns", "sethostname", "bpf"],
            ),
            (
                "CAP_SYS_PTRACE",
                &["kcmp", "pidfd_getfd", "process_madvise"],
            ),
            ("CAP_SYS_TIME", &["settimeofday", "clock_settime"]),
            (
                "CAP_SYS_MODULE",
                &["init_module", "finit_module", "delete_module"],
            ),
            ("CAP_SYS_BOOT", &["reboot"]),
            ("CAP_SYS_PACCT", &["acct"]),
            ("CAP_SYS_NICE", &["mbind", "set_mempolicy", "get_mempolicy"]),
            ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
            ("CAP_SYSLOG", &["syslog"]),
            ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
            ("CAP_BPF", &["bpf"]),
            ("CAP_PERFMON", &["perf_event_open"]),
        ];
        let without = plan(&profile, &DOCKER_DEFAULT_CAPS, &AMD64);
        for (cap, names) in cases {
            let with = plan(&profile, &with_cap(cap), &AMD64);
            for name in *names {
                assert!(rules_for(&without, name).is_empty(), "{name} without {cap}");
                let rules = rules_for(&with, name);
                assert!(
                    rules
                        .iter()
                        .any(|rule| rule.action == Action::Allow && rule.conds.is_empty()),
                    "{name} with {cap}: {rules:?}"
                );
            }
        }
        // Docker's default set already holds CAP_SYS_CHROOT.
        assert_eq!(rules_for(&without, "chroot").len(), 1);
    }

    #[test]
    fn sys_admin_swaps_the_clone_rules() {
        let profile = Profile::docker_default();
        let without = plan(&profile, &DOCKER_DEFAULT_CAPS, &AMD64);
        let clone = rules_for(&without, "clone");
        assert_eq!(clone.len(), 1);
        assert_eq!(
            clone[0].conds,
            [Cond {
                index: 0,
                op: CmpOp::MaskedEq,
                value: 0x7e02_0000,
                value_two: 0,
                width: Width::Dword,
            }]
        );
        let clone3 = rules_for(&without, "clone3");
        assert_eq!(clone3.len(), 1);
        assert_eq!(clone3[0].action, Action::Errno(libc::ENOSYS as u16));

        let with = plan(&profile, &with_cap("SYS_ADMIN"), &AMD64);
        let clone = rules_for(&with, "clone");
        assert_eq!(clone.len(), 1);
        assert!(clone[0].conds.is_empty());
        let clone3 = rules_for(&with, "clone3");
        assert_eq!(clone3.len(), 1);
        assert_eq!(clone3[0].action, Action::Allow);
    }

    #[test]
    fn includes_and_excludes() {
        let caps = [21u32];
        let arm64 = Target {
            goarch: "arm64",
            ..AMD64
        };
        let old = Target {
            kernel: KernelVersion::parse("4.7").unwrap(),
            ..AMD64
        };
        let condition = |caps: &[&str], arches: &[&str], min: Option<&str>| Condition {
            caps: caps.iter().map(|c| c.to_string()).collect(),
            arches: arches.iter().map(|a| a.to_string()).collect(),
            min_kernel: min.map(|m| KernelVersion::parse(m).unwrap()),
        };
        let none = Condition::default();
        // (includes, excludes, target, applies?)
        let cases = [
            (none.clone(), none.clone(), AMD64, true),
            (
                condition(&["CAP_SYS_ADMIN"], &[], None),
                none.clone(),
                AMD64,
                true,
            ),
            (
                condition(&["sys_admin"], &[], None),
                none.clone(),
                AMD64,
                true,
            ),
            (
                condition(&["CAP_SYS_ADMIN", "CAP_BPF"], &[], None),
                none.clone(),
                AMD64,
                false,
            ),
            (
                condition(&["CAP_NOT_A_CAP"], &[], None),
                none.clone(),
                AMD64,
                false,
            ),
            (
                none.clone(),
                condition(&["CAP_SYS_ADMIN"], &[], None),
                AMD64,
                false,
            ),
            (
                none.clone(),
                condition(&["CAP_BPF"], &[], None),
                AMD64,
                true,
            ),
            (
                none.clone(),
                condition(&["CAP_NOT_A_CAP"], &[], None),
                AMD64,
                true,
            ),
            (
                condition(&[], &["amd64", "x32"], None),
                none.clone(),
                AMD64,
                true,
            ),
            (
                condition(&[], &["amd64", "x32"], None),
                none.clone(),
                arm64,
                false,
            ),
            (
                condition(&[], &["arm", "arm64"], None),
                none.clone(),
                arm64,
                true,
            ),
            (
                none.clone(),
                condition(&[], &["s390", "s390x"], None),
                AMD64,
                true,
            ),
            (none.clone(), condition(&[], &["arm64"], None), arm64, false),
            (condition(&[], &[], Some("4.8")), none.clone(), AMD64, true),
            (condition(&[], &[], Some("4.8")), none.clone(), old, false),
            (condition(&[], &[], Some("6.1")), none.clone(), AMD64, true),
            (
                condition(&[], &[], Some("6.1.1")),
                none.clone(),
                AMD64,
                false,
            ),
            (none.clone(), condition(&[], &[], Some("4.8")), AMD64, false),
            (none.clone(), condition(&[], &[], Some("4.8")), old, true),
        ];
        for (index, (includes, excludes, target, want)) in cases.iter().enumerate() {
            assert_eq!(
                applies(includes, excludes, &caps, target),
                *want,
                "case {index}: includes {includes:?} excludes {excludes:?} on {target:?}"
            );
        }
    }

    #[test]
    fn arch_conditions_select_rules_in_a_plan() {
        let profile = Profile::from_json(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["getpid"], "action": "SCMP_ACT_ALLOW",
                 "includes": {"arches": ["arm64"]}},
                {"names": ["getppid"], "action": "SCMP_ACT_ALLOW",
                 "excludes": {"arches": ["arm64"]}}]}"#,
        )
        .unwrap();
        let arm64 = Target {
            goarch: "arm64",
            ..AMD64
        };
        let on_amd64 = plan(&profile, &[], &AMD64);
        let on_arm64 = plan(&profile, &[], &arm64);
        assert!(rules_for(&on_amd64, "getpid").is_empty());
        assert_eq!(rules_for(&on_amd64, "getppid").len(), 1);
        assert_eq!(rules_for(&on_arm64, "getpid").len(), 1);
        assert!(rules_for(&on_arm64, "getppid").is_empty());
    }

    #[test]
    fn minimum_kernel_gates_ptrace_in_the_default_profile() {
        let profile = Profile::docker_default();
        let old = Target {
            kernel: KernelVersion::parse("4.4").unwrap(),
            ..AMD64
        };
        assert_eq!(rules_for(&plan(&profile, &[], &AMD64), "ptrace").len(), 1);
        assert!(rules_for(&plan(&profile, &[], &old), "ptrace").is_empty());
    }

    #[test]
    fn args_follow_runc() {
        let profile = Profile::from_json(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "args": [
                    {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                    {"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]},
                {"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "args": [
                    {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                    {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
                {"names": ["mmap"], "action": "SCMP_ACT_ERRNO", "args": [
                    {"index": 2, "value": 4, "valueTwo": 4, "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["mprotect"], "action": "SCMP_ACT_ERRNO", "args": [
                    {"index": 2, "value": 4, "valueTwo": 5, "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [
                    {"index": 0, "value": 4294967296, "op": "SCMP_CMP_EQ"}]},
                {"names": ["no_such_syscall", "getcwd"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["uname"], "action": "SCMP_ACT_ALLOW"}]}"#,
        )
        .unwrap();
        let planned = plan(&profile, &[], &AMD64);

        let socket = rules_for(&planned, "socket");
        assert_eq!(socket.len(), 1, "distinct indexes AND into one rule");
        assert_eq!(socket[0].conds.len(), 2);
        assert!(socket[0].conds.iter().all(|c| c.width == Width::Dword));

        let getpriority = rules_for(&planned, "getpriority");
        assert_eq!(getpriority.len(), 2, "a repeated index ORs its comparisons");
        assert!(getpriority.iter().all(|rule| rule.conds.len() == 1));
        assert!(getpriority[0].conds[0].width == Width::Qword);

        assert_eq!(rules_for(&planned, "mmap").len(), 1);
        assert!(
            rules_for(&planned, "mprotect").is_empty(),
            "valueTwo outside the mask never matches"
        );

        let personality = rules_for(&planned, "personality");
        assert_eq!(
            personality[0].conds[0].width,
            Width::Qword,
            "value needs 64 bits"
        );

        assert_eq!(
            rules_for(&planned, "getcwd").len(),
            1,
            "unknown names are skipped"
        );
        assert!(
            rules_for(&planned, "uname").is_empty(),
            "rules repeating the default action are dropped"
        );
    }
}

//! The typed form of a Docker seccomp profile: `Profile` and its rules, actions,
//! comparisons and conditions, as validated by `profile_json` and read by `plan`.

use std::fmt;

/// A Docker seccomp profile, validated: every action and operator is known, argument
/// indexes are in range and errno values fit. Which rules apply to a container (caps,
/// arches, kernel) is decided later by `compile`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// What happens to a syscall no rule matches (`defaultAction` + `defaultErrnoRet`).
    pub default_action: Action,
    /// `architectures`: `SCMP_ARCH_*` names; on x86_64, `SCMP_ARCH_X86`/`SCMP_ARCH_X32` here
    /// have those ABIs filtered too (see `compile`).
    pub architectures: Vec<String>,
    /// `archMap`: per-architecture sub-architectures; x86_64's are filtered with it.
    pub arch_map: Vec<ArchMap>,
    /// `syscalls`, in file order.
    pub syscalls: Vec<SyscallRule>,
}

/// What the kernel does with a syscall. Errno and trace values are resolved at parse
/// time: runc turns a missing `errnoRet` into `EPERM`, and so do we.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Allow,
    Errno(u16),
    /// `SCMP_ACT_KILL` and `SCMP_ACT_KILL_THREAD`.
    KillThread,
    KillProcess,
    Trap,
    /// The value is handed to the tracer; with no tracer the syscall fails with `ENOSYS`.
    Trace(u16),
    Log,
}

/// One `syscalls[]` entry. Docker's singular `name` is folded into `names`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyscallRule {
    pub names: Vec<String>,
    pub action: Action,
    pub args: Vec<ArgCmp>,
    pub includes: Condition,
    pub excludes: Condition,
    pub comment: String,
}

/// One `args[]` entry: compare syscall argument `index` against `value` (and, for
/// `MASKED_EQ`, check `arg & value == value_two`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgCmp {
    pub index: u8,
    pub value: u64,
    pub value_two: u64,
    pub op: CmpOp,
}

/// libseccomp's comparison operators, all unsigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    MaskedEq,
}

/// `includes` / `excludes`: a rule applies when every `includes` part holds and no
/// `excludes` part does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Condition {
    /// Capability names as written (`CAP_SYS_ADMIN`).
    pub caps: Vec<String>,
    /// Go architecture names (`amd64`, `arm64`, `s390x`, …), as Docker compares them.
    pub arches: Vec<String>,
    pub min_kernel: Option<KernelVersion>,
}

/// `archMap[]`: a native architecture and the compat ABIs Docker also filters with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchMap {
    pub architecture: String,
    pub sub_architectures: Vec<String>,
}

/// A kernel release reduced to `major.minor.patch`, as `minKernel` compares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KernelVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl KernelVersion {
    /// Strict form used in profiles: `4.8` or `5.10.3`.
    pub fn parse(text: &str) -> Option<KernelVersion> {
        let mut parts = text.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = match parts.next() {
            Some(patch) => patch.parse().ok()?,
            None => 0,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(KernelVersion {
            major,
            minor,
            patch,
        })
    }

    /// Lenient form for `uname -r` (`6.18.44-fc-v1300`, `6.1.0-13-amd64`): the leading
    /// digits of the first three dot-separated parts, a missing patch being 0.
    pub fn from_release(release: &str) -> Option<KernelVersion> {
        fn leading_number(part: Option<&str>) -> Option<u32> {
            let part = part?;
            let end = part
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(part.len());
            part[..end].parse().ok()
        }
        let mut parts = release.split('.');
        let major = leading_number(parts.next())?;
        let minor = leading_number(parts.next())?;
        let patch = leading_number(parts.next()).unwrap_or(0);
        Some(KernelVersion {
            major,
            minor,
            patch,
        })
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.patch == 0 {
            write!(f, "{}.{}", self.major, self.minor)
        } else {
            write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
        }
    }
}

impl Profile {
    /// No filtering at all (`--security-opt seccomp=unconfined`): compiles to no programs.
    pub fn unconfined() -> Profile {
        Profile {
            default_action: Action::Allow,
            architectures: Vec::new(),
            arch_map: Vec::new(),
            syscalls: Vec::new(),
        }
    }

    /// True when nothing this profile says can ever refuse a syscall.
    pub fn is_unconfined(&self) -> bool {
        self.default_action == Action::Allow
            && self
                .syscalls
                .iter()
                .all(|rule| rule.action == Action::Allow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (text, parsed as major.minor.patch)
    type VersionCase = (&'static str, Option<(u32, u32, u32)>);

    #[test]
    fn kernel_versions() {
        let strict: &[VersionCase] = &[
            ("4.8", Some((4, 8, 0))),
            ("5.10.3", Some((5, 10, 3))),
            ("4", None),
            ("4.8.1.2", None),
            ("4.x", None),
            ("", None),
        ];
        for (text, want) in strict {
            let got = KernelVersion::parse(text).map(|v| (v.major, v.minor, v.patch));
            assert_eq!(got, *want, "{text:?}");
        }
        let release: &[VersionCase] = &[
            ("6.18.44-fc-v1300", Some((6, 18, 44))),
            ("6.1.0-13-amd64", Some((6, 1, 0))),
            ("5.15", Some((5, 15, 0))),
            ("6.9-rc1", Some((6, 9, 0))),
            ("linux", None),
        ];
        for (text, want) in release {
            let got = KernelVersion::from_release(text).map(|v| (v.major, v.minor, v.patch));
            assert_eq!(got, *want, "{text:?}");
        }
        assert!(KernelVersion::parse("4.10").unwrap() > KernelVersion::parse("4.8").unwrap());
    }

    #[test]
    fn unconfined_is_unconfined() {
        assert!(Profile::unconfined().is_unconfined());
        let denies = Profile::from_json(
            r#"{"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]}"#,
        )
        .unwrap();
        assert!(!denies.is_unconfined());
    }
}

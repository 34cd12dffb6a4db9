//! Profile + capabilities → BPF programs for this architecture, through seccompiler.
//!
//! A seccompiler filter has one match action and one mismatch action, while a profile
//! may use several actions. So a profile becomes a stack of filters, relying on the
//! kernel running every installed filter and keeping the highest-precedence result
//! (KILL_PROCESS > KILL_THREAD > TRAP > ERRNO > USER_NOTIF > TRACE > LOG > ALLOW;
//! between equal actions, the most recently installed filter's data wins):
//!
//! - the main filter, present unless the default is ALLOW: every planned rule, whatever
//!   its action, matches to ALLOW; anything else gets the default action;
//! - one filter per other non-ALLOW action: its rules match to that action, anything
//!   else is ALLOW.
//!
//! A syscall matching no rule thus gets the default; one matching rules of one action
//! gets that action. Where Docker's rules never overlap (its default profile) this is
//! exactly Docker's meaning. Where a custom profile gives one call several actions, the
//! most restrictive wins, and between two of equal rank (e.g. two errnos) the one
//! written first in the profile, since its filter is installed last.

use std::collections::BTreeMap;

use libc::c_long;
use seccompiler::{
    SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    TargetArch,
};

use super::plan::{plan, Cond, PlannedRule, Target, Width};
use super::profile::{Action, CmpOp, KernelVersion, Profile};
use super::SeccompError;

/// One classic-BPF program, ready for `install`.
pub type Program = Vec<libc::sock_filter>;

/// Compiles `profile` for a container holding the capabilities `caps` (Linux numbers, see
/// `cap_number`), on this machine's architecture and kernel. Returns the programs in
/// installation order; an unconfined profile gives none. Pure apart from reading the
/// kernel release with `uname(2)`, so it belongs in the parent, before fork.
pub fn compile(profile: &Profile, caps: &[u32]) -> Result<Vec<Program>, SeccompError> {
    compile_for(profile, caps, &native_target()?)
}

pub(super) fn compile_for(
    profile: &Profile,
    caps: &[u32],
    target: &Target,
) -> Result<Vec<Program>, SeccompError> {
    let arch = native_arch()?;
    let plan = plan(profile, caps, target);
    let mut programs = Vec::new();

    if plan.default != Action::Allow {
        programs.push(build(&plan.rules, Action::Allow, plan.default, arch)?);
    }

    let mut actions: Vec<Action> = Vec::new();
    for rule in &plan.rules {
        if rule.action != Action::Allow && !actions.contains(&rule.action) {
            actions.push(rule.action);
        }
    }
    // Reversed so that the action written first in the profile is installed last and so
    // wins among equal-precedence actions.
    for action in actions.iter().rev() {
        let rules: Vec<PlannedRule> = plan
            .rules
            .iter()
            .filter(|rule| rule.action == *action)
            .cloned()
            .collect();
        programs.push(build(&rules, *action, Action::Allow, arch)?);
    }
    Ok(programs)
}

fn native_target() -> Result<Target, SeccompError> {
    let goarch = if cfg!(target_arch = "x86_64") {
        "amd64"
    } else if cfg!(target_arch = "aarch64") {
        "arm64"
    } else {
        return Err(SeccompError::UnsupportedArch(std::env::consts::ARCH));
    };
    let release = kernel_release();
    let kernel =
        KernelVersion::from_release(&release).ok_or(SeccompError::KernelVersion { release })?;
    Ok(Target { goarch, kernel })
}

fn kernel_release() -> String {
    // SAFETY: `utsname` is plain bytes, so all-zero is a valid value.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is a valid, writable `utsname` for the duration of the call.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return String::new();
    }
    // `c_char` is i8 on x86_64 and u8 on aarch64; `to_ne_bytes` suits both.
    let bytes: Vec<u8> = uts
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|c| c.to_ne_bytes()[0])
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn native_arch() -> Result<TargetArch, SeccompError> {
    if cfg!(target_arch = "x86_64") {
        Ok(TargetArch::x86_64)
    } else if cfg!(target_arch = "aarch64") {
        Ok(TargetArch::aarch64)
    } else {
        Err(SeccompError::UnsupportedArch(std::env::consts::ARCH))
    }
}

/// One filter: `rules` match to `on_match`, everything else gets `on_mismatch`.
fn build(
    rules: &[PlannedRule],
    on_match: Action,
    on_mismatch: Action,
    arch: TargetArch,
) -> Result<Program, SeccompError> {
    // `None`: some rule matches every call of the syscall, which makes the others moot.
    let mut by_syscall: BTreeMap<c_long, Option<Vec<SeccompRule>>> = BTreeMap::new();
    for rule in rules {
        let entry = by_syscall
            .entry(rule.nr)
            .or_insert_with(|| Some(Vec::new()));
        match entry {
            Some(chain) if !rule.conds.is_empty() => chain.push(seccomp_rule(&rule.conds)?),
            _ => *entry = None,
        }
    }
    // seccompiler reads an empty chain as "match on the syscall number alone".
    let by_syscall = by_syscall
        .into_iter()
        .map(|(nr, chain)| (nr, chain.unwrap_or_default()))
        .collect();
    let filter = SeccompFilter::new(
        by_syscall,
        seccomp_action(on_mismatch),
        seccomp_action(on_match),
        arch,
    )
    .map_err(SeccompError::Backend)?;
    let bpf: seccompiler::BpfProgram = filter.try_into().map_err(SeccompError::Backend)?;

    let mut program = foreign_abi_guard();
    program.extend(bpf.into_iter().map(|insn| libc::sock_filter {
        code: insn.code,
        jt: insn.jt,
        jf: insn.jf,
        k: insn.k,
    }));
    Ok(program)
}

/// seccompiler checks `seccomp_data.arch` (killing the process for i386 or arm32 calls)
/// but not the x32 ABI, whose calls carry the x86_64 arch with bit 30 set in the number.
/// Such a number matches no rule, so an allow-by-default profile would let x32 calls past
/// its deny rules; they are killed instead, like the other foreign ABIs.
fn foreign_abi_guard() -> Program {
    if !cfg!(target_arch = "x86_64") {
        return Vec::new();
    }
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;
    const NR_OFFSET: u32 = 0; // offsetof(struct seccomp_data, nr)
    vec![
        bpf(
            (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
            0,
            0,
            NR_OFFSET,
        ),
        bpf(
            (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16,
            0,
            1,
            X32_SYSCALL_BIT,
        ),
        bpf(
            (libc::BPF_RET | libc::BPF_K) as u16,
            0,
            0,
            libc::SECCOMP_RET_KILL_PROCESS,
        ),
    ]
}

fn bpf(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

fn seccomp_rule(conds: &[Cond]) -> Result<SeccompRule, SeccompError> {
    let conditions = conds
        .iter()
        .map(|cond| {
            let width = match cond.width {
                Width::Dword => SeccompCmpArgLen::Dword,
                Width::Qword => SeccompCmpArgLen::Qword,
            };
            // libseccomp's MASKED_EQ takes the mask as `value` and the expected bits as
            // `valueTwo`; seccompiler takes the mask in the operator.
            let (op, value) = match cond.op {
                CmpOp::Ne => (SeccompCmpOp::Ne, cond.value),
                CmpOp::Lt => (SeccompCmpOp::Lt, cond.value),
                CmpOp::Le => (SeccompCmpOp::Le, cond.value),
                CmpOp::Eq => (SeccompCmpOp::Eq, cond.value),
                CmpOp::Ge => (SeccompCmpOp::Ge, cond.value),
                CmpOp::Gt => (SeccompCmpOp::Gt, cond.value),
                CmpOp::MaskedEq => (SeccompCmpOp::MaskedEq(cond.value), cond.value_two),
            };
            SeccompCondition::new(cond.index, width, op, value)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(SeccompError::Backend)?;
    SeccompRule::new(conditions).map_err(SeccompError::Backend)
}

fn seccomp_action(action: Action) -> SeccompAction {
    match action {
        Action::Allow => SeccompAction::Allow,
        Action::Errno(errno) => SeccompAction::Errno(u32::from(errno)),
        Action::KillThread => SeccompAction::KillThread,
        Action::KillProcess => SeccompAction::KillProcess,
        Action::Trap => SeccompAction::Trap,
        Action::Trace(data) => SeccompAction::Trace(u32::from(data)),
        Action::Log => SeccompAction::Log,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::super::caps::DOCKER_DEFAULT_CAPS;
    use super::*;

    const SYS_ADMIN: u32 = 21;

    /// libc's `sock_filter` has no `PartialEq` without libc's `extra_traits`.
    fn fields(program: &[libc::sock_filter]) -> Vec<(u16, u8, u8, u32)> {
        program
            .iter()
            .map(|insn| (insn.code, insn.jt, insn.jf, insn.k))
            .collect()
    }

    fn ret(program: &Program) -> Vec<u32> {
        program
            .iter()
            .filter(|insn| insn.code == (libc::BPF_RET | libc::BPF_K) as u16)
            .map(|insn| insn.k)
            .collect()
    }

    #[test]
    fn default_profile_is_a_main_filter_plus_one_for_clone3() {
        let profile = Profile::docker_default();
        let programs = compile(&profile, &DOCKER_DEFAULT_CAPS).unwrap();
        assert_eq!(programs.len(), 2);
        let errno = |e: i32| libc::SECCOMP_RET_ERRNO | e as u32;
        assert!(ret(&programs[0]).contains(&errno(libc::EPERM)));
        assert!(!ret(&programs[0]).contains(&errno(libc::ENOSYS)));
        assert!(ret(&programs[1]).contains(&errno(libc::ENOSYS)));
        assert!(!ret(&programs[1]).contains(&errno(libc::EPERM)));
        for program in &programs {
            assert!(program.len() < 4096);
        }
        println!(
            "default profile, Docker's default caps: {} programs of {:?} BPF instructions",
            programs.len(),
            programs.iter().map(Vec::len).collect::<Vec<_>>()
        );
    }

    /// Whether the program compares the syscall number with `nr` (the default profile's
    /// argument values never collide with the numbers asked about here).
    fn mentions(program: &Program, nr: c_long) -> bool {
        program.iter().any(|insn| {
            insn.code == (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16
                && i64::from(insn.k) == nr
        })
    }

    #[test]
    fn capability_gated_syscalls_reach_the_bpf_only_with_the_capability() {
        use super::super::syscall_table::syscall_number;
        let profile = Profile::docker_default();
        // (capability, a syscall it unlocks)
        let cases = [
            (21, "mount"),
            (19, "kcmp"),
            (25, "settimeofday"),
            (22, "reboot"),
        ];
        for (cap, name) in cases {
            let nr = syscall_number(name).unwrap();
            let mut caps = DOCKER_DEFAULT_CAPS.to_vec();
            let without = compile(&profile, &caps).unwrap();
            caps.push(cap);
            let with = compile(&profile, &caps).unwrap();
            assert!(
                !without.iter().any(|p| mentions(p, nr)),
                "{name} without cap {cap}"
            );
            assert!(mentions(&with[0], nr), "{name} with cap {cap}");
        }
    }

    #[test]
    fn sys_admin_needs_no_clone3_filter() {
        let mut caps = DOCKER_DEFAULT_CAPS.to_vec();
        caps.push(SYS_ADMIN);
        let programs = compile(&Profile::docker_default(), &caps).unwrap();
        assert_eq!(programs.len(), 1);
    }

    #[test]
    fn filter_counts() {
        // (profile, number of programs)
        let cases: &[(&str, usize)] = &[
            (r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#, 0),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": ["getcwd"], "action": "SCMP_ACT_ALLOW"}]}"#,
                0,
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#,
                1,
            ),
            (r#"{"defaultAction": "SCMP_ACT_ERRNO"}"#, 1),
            (
                r#"{"defaultAction": "SCMP_ACT_LOG", "syscalls": [
                    {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"},
                    {"names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 2},
                    {"names": ["getpid"], "action": "SCMP_ACT_ERRNO"},
                    {"names": ["getppid"], "action": "SCMP_ACT_KILL"},
                    {"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#,
                4,
            ),
        ];
        for (text, want) in cases {
            let profile = Profile::from_json(text).unwrap();
            let programs = compile(&profile, &[]).unwrap();
            assert_eq!(programs.len(), *want, "{text}");
        }
        assert!(compile(&Profile::unconfined(), &[]).unwrap().is_empty());
    }

    #[test]
    fn equal_actions_install_first_written_last() {
        let profile = Profile::from_json(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22}]}"#,
        )
        .unwrap();
        let programs = compile(&profile, &[]).unwrap();
        let errno = |e: u32| libc::SECCOMP_RET_ERRNO | e;
        assert!(ret(&programs[0]).contains(&errno(22)));
        assert!(ret(&programs[1]).contains(&errno(13)));
    }

    #[test]
    fn every_program_starts_with_the_x32_guard_on_x86_64() {
        let programs = compile(&Profile::docker_default(), &DOCKER_DEFAULT_CAPS).unwrap();
        for program in programs {
            let guard = foreign_abi_guard();
            assert_eq!(fields(&program[..guard.len()]), fields(&guard));
            assert_eq!(guard.is_empty(), !cfg!(target_arch = "x86_64"));
        }
    }

    #[test]
    fn compile_speed() {
        let profile = Profile::docker_default();
        let caps = DOCKER_DEFAULT_CAPS;
        let target = native_target().unwrap();
        let rounds = 200;
        let start = Instant::now();
        for _ in 0..rounds {
            compile_for(&profile, &caps, &target).unwrap();
        }
        let per_compile = start.elapsed() / rounds;
        let start = Instant::now();
        for _ in 0..rounds {
            Profile::from_json(super::super::default_profile::DEFAULT_PROFILE_JSON).unwrap();
        }
        let per_parse = start.elapsed() / rounds;
        println!("default profile: compile {per_compile:?}, JSON parse {per_parse:?}");
        // Generous so unoptimized builds on a loaded machine pass; release is far below.
        assert!(per_compile.as_millis() < 50, "{per_compile:?}");
    }
}

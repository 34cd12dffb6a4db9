//! The layout against an independent compiler: seccompiler (rust-vmm's BPF compiler,
//! linear layout) builds the same plan as a stack of filters, one per action, which the
//! kernel combines by precedence. For many profiles, every syscall number and argument
//! values around every compared constant, both must give the same answer.

use std::collections::BTreeMap;

use libc::c_long;
use seccompiler::{
    SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    TargetArch,
};

use super::bpf_eval::{run, run_all, Call};
use super::caps::{cap_number, DOCKER_DEFAULT_CAPS};
use super::layout::{assemble, Program};
use super::plan::{plan, Cond, Plan, PlannedRule, Target, Width};
use super::profile::{Action, CmpOp, KernelVersion, Profile};

const AMD64: Target = Target {
    goarch: "amd64",
    kernel: KernelVersion {
        major: 6,
        minor: 1,
        patch: 0,
    },
};
const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;

/// The plan as seccompiler filters: a main filter (every rule → ALLOW, else the default)
/// and one per other action (its rules → it, else ALLOW), first-written action last.
fn stack(plan: &Plan) -> Vec<Program> {
    let mut programs = Vec::new();
    if plan.default != Action::Allow {
        programs.push(filter(&plan.rules, Action::Allow, plan.default));
    }
    let mut actions: Vec<Action> = Vec::new();
    for rule in &plan.rules {
        if rule.action != Action::Allow && !actions.contains(&rule.action) {
            actions.push(rule.action);
        }
    }
    for action in actions.iter().rev() {
        let rules: Vec<PlannedRule> = plan
            .rules
            .iter()
            .filter(|rule| rule.action == *action)
            .cloned()
            .collect();
        programs.push(filter(&rules, *action, Action::Allow));
    }
    programs
}

fn filter(rules: &[PlannedRule], on_match: Action, on_mismatch: Action) -> Program {
    let mut by_syscall: BTreeMap<c_long, Option<Vec<SeccompRule>>> = BTreeMap::new();
    for rule in rules {
        let entry = by_syscall
            .entry(rule.nr)
            .or_insert_with(|| Some(Vec::new()));
        match entry {
            Some(chain) if !rule.conds.is_empty() => chain.push(seccomp_rule(&rule.conds)),
            _ => *entry = None,
        }
    }
    let by_syscall = by_syscall
        .into_iter()
        .map(|(nr, chain)| (nr, chain.unwrap_or_default()))
        .collect();
    let filter = SeccompFilter::new(
        by_syscall,
        seccomp_action(on_mismatch),
        seccomp_action(on_match),
        TargetArch::x86_64,
    )
    .unwrap();
    let bpf: seccompiler::BpfProgram = filter.try_into().unwrap();
    // seccompiler does not look at x32 numbers; the kernel answer for them is compared
    // separately.
    bpf.into_iter()
        .map(|insn| libc::sock_filter {
            code: insn.code,
            jt: insn.jt,
            jf: insn.jf,
            k: insn.k,
        })
        .collect()
}

fn seccomp_rule(conds: &[Cond]) -> SeccompRule {
    let conditions = conds
        .iter()
        .map(|cond| {
            let width = match cond.width {
                Width::Dword => SeccompCmpArgLen::Dword,
                Width::Qword => SeccompCmpArgLen::Qword,
            };
            let (op, value) = match cond.op {
                CmpOp::Ne => (SeccompCmpOp::Ne, cond.value),
                CmpOp::Lt => (SeccompCmpOp::Lt, cond.value),
                CmpOp::Le => (SeccompCmpOp::Le, cond.value),
                CmpOp::Eq => (SeccompCmpOp::Eq, cond.value),
                CmpOp::Ge => (SeccompCmpOp::Ge, cond.value),
                CmpOp::Gt => (SeccompCmpOp::Gt, cond.value),
                CmpOp::MaskedEq => (SeccompCmpOp::MaskedEq(cond.value), cond.value_two),
            };
            SeccompCondition::new(cond.index, width, op, value).unwrap()
        })
        .collect();
    SeccompRule::new(conditions).unwrap()
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

/// Argument values around every constant a rule for `nr` compares with: the value, its
/// neighbours, the upper half set or cleared, and the masked bits.
fn interesting_args(plan: &Plan, nr: c_long) -> Vec<[u64; 6]> {
    let mut calls = vec![[0u64; 6], [u64::MAX; 6]];
    for rule in plan.rules.iter().filter(|rule| rule.nr == nr) {
        let mut all_hold = [0u64; 6];
        for cond in &rule.conds {
            let index = usize::from(cond.index);
            let v = cond.value;
            let mut values = vec![
                v,
                v.wrapping_add(1),
                v.wrapping_sub(1),
                v | 1 << 40,
                v & 0xffff_ffff,
                (v & 0xffff_ffff) | 0xffff_ffff_0000_0000,
                v.wrapping_add(1 << 32),
                v.wrapping_sub(1 << 32),
                cond.value_two,
                cond.value_two | !cond.value,
                cond.value_two ^ 1,
                cond.value_two | 1 << 63,
            ];
            values.dedup();
            for value in values {
                let mut args = [0u64; 6];
                args[index] = value;
                calls.push(args);
                let mut others = all_hold;
                others[index] = value;
                calls.push(others);
            }
            all_hold[index] = if cond.op == CmpOp::MaskedEq {
                cond.value_two
            } else {
                v
            };
        }
        calls.push(all_hold);
    }
    calls
}

fn assert_same(name: &str, profile: &Profile, caps: &[u32]) {
    let plan = plan(profile, caps, &AMD64);
    let ours = assemble(&plan, AUDIT_ARCH_X86_64).unwrap();
    let reference = stack(&plan);
    let Some(ours) = ours else {
        assert!(
            reference.is_empty(),
            "{name}: no program, yet seccompiler built one"
        );
        return;
    };
    let mut checked = 0;
    for nr in 0..1100u32 {
        for args in interesting_args(&plan, c_long::from(nr)) {
            let call = Call {
                nr,
                arch: AUDIT_ARCH_X86_64,
                args,
            };
            let want = run_all(&reference, &call);
            let got = run(&ours, &call);
            assert_eq!(got, want, "{name}: syscall {nr} with args {args:x?}");
            checked += 1;
        }
    }
    // Foreign ABIs are killed, whatever the profile.
    for call in [
        Call {
            nr: 0x4000_0000,
            arch: AUDIT_ARCH_X86_64,
            args: [0; 6],
        },
        Call {
            nr: 0x4000_0000 + 39,
            arch: AUDIT_ARCH_X86_64,
            args: [0; 6],
        },
        Call {
            nr: 20,
            arch: AUDIT_ARCH_I386,
            args: [0; 6],
        },
    ] {
        assert_eq!(
            run(&ours, &call),
            libc::SECCOMP_RET_KILL_PROCESS,
            "{name}: {call:?}"
        );
    }
    assert!(checked > 1100);
}

fn profile(text: &str) -> Profile {
    Profile::from_json(text).unwrap()
}

#[test]
fn docker_default_matches_seccompiler_for_every_capability_set() {
    let default = Profile::docker_default();
    assert_same("default caps", &default, &DOCKER_DEFAULT_CAPS);
    assert_same("no caps", &default, &[]);
    let all: Vec<u32> = (0..=40).collect();
    assert_same("every cap", &default, &all);
    for extra in [
        "CAP_SYS_ADMIN",
        "CAP_SYS_PTRACE",
        "CAP_SYS_BOOT",
        "CAP_SYS_TIME",
    ] {
        let mut caps = DOCKER_DEFAULT_CAPS.to_vec();
        caps.push(cap_number(extra).unwrap());
        assert_same(extra, &default, &caps);
    }
}

#[test]
fn custom_profiles_match_seccompiler() {
    let cases = [
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#,
        r#"{"defaultAction": "SCMP_ACT_ERRNO"}"#,
        r#"{"defaultAction": "SCMP_ACT_LOG", "syscalls": [
            {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 2},
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["getppid"], "action": "SCMP_ACT_KILL"},
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22},
            {"names": ["getcwd"], "action": "SCMP_ACT_TRAP"}]}"#,
        // Every operator, on 32- and 64-bit arguments, with values that straddle halves.
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
            {"names": ["mmap"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 1, "value": 4294967296, "op": "SCMP_CMP_GT"},
                {"index": 2, "value": 7, "op": "SCMP_CMP_LE"}]},
            {"names": ["mmap"], "action": "SCMP_ACT_TRACE", "args": [
                {"index": 0, "value": 18446744069414584320, "op": "SCMP_CMP_GE"}]},
            {"names": ["lseek"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 1, "value": 4294967297, "op": "SCMP_CMP_LT"},
                {"index": 2, "value": 2, "op": "SCMP_CMP_NE"}]},
            {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 1, "value": 4294901760, "valueTwo": 21504, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["ioctl"], "action": "SCMP_ACT_KILL_PROCESS", "args": [
                {"index": 1, "value": 21522, "op": "SCMP_CMP_EQ"}]},
            {"names": ["pread64"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 3, "value": 18446744073709551615, "valueTwo": 4294967296, "op": "SCMP_CMP_MASKED_EQ"},
                {"index": 2, "value": 4096, "op": "SCMP_CMP_EQ"}]},
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"},
                {"index": 0, "value": 10, "op": "SCMP_CMP_EQ"}]},
            {"names": ["read", "write", "close", "exit_group"], "action": "SCMP_ACT_ALLOW"}]}"#,
    ];
    for (index, text) in cases.iter().enumerate() {
        assert_same(&format!("case {index}"), &profile(text), &[]);
    }
    assert!(assemble(
        &plan(&Profile::unconfined(), &[], &AMD64),
        AUDIT_ARCH_X86_64
    )
    .unwrap()
    .is_none());
}

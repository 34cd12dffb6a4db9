//! Plan → one classic-BPF program, laid out as a binary search over syscall numbers.
//!
//! Why not a BPF library's linear layout: when a filter is installed, the kernel runs it
//! once for every syscall number to build its per-filter allow cache, and JIT-compiles it.
//! Both cost time in proportion to the work per syscall. A linear chain (one compare per
//! listed syscall, as seccompiler emits) made Docker's profile 1,585 instructions and its
//! installation about 1 ms, on every RUN step, `run` and `exec`. Here runs of syscall
//! numbers that end in the same plain return collapse into ranges, and a balanced tree of
//! `>=` tests finds the range in about log2(ranges) steps; only syscalls whose rules look at
//! arguments get code of their own, after the tree.
//!
//! Meaning, for one syscall number: the rules of the most restrictive action are tried
//! first (KILL_PROCESS > KILL_THREAD > TRAP > ERRNO > TRACE > LOG > ALLOW), and between
//! rules of equal rank the one written first in the profile; the first rule whose
//! conditions all hold decides; if none does, the profile's default. That is what the
//! kernel makes of libseccomp's (and so Docker's) filters.
//!
//! ABIs: the program first dispatches on `seccomp_data.arch` to one body per ABI the
//! profile filters (on x86_64: native with x32 by bit 30 of the number in the same tree,
//! and i386); any other arch, and x32 when not filtered, is killed.

use std::collections::BTreeMap;

use super::plan::{Cond, Plan, PlannedRule, Width};
use super::profile::{Action, CmpOp};
use super::SeccompError;

/// One classic-BPF program, ready for `install`.
pub type Program = Vec<libc::sock_filter>;

/// The kernel refuses longer programs (`BPF_MAXINSNS`).
const MAX_INSNS: usize = 4096;

/// Where the fields of `struct seccomp_data` are; arguments are 64-bit little-endian.
const NR: u32 = 0;
const ARCH: u32 = 4;
fn arg_low(index: u8) -> u32 {
    16 + 8 * u32::from(index)
}
fn arg_high(index: u8) -> u32 {
    arg_low(index) + 4
}

const LD_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const AND_K: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
const JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
const JEQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGT: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;
const JGE: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// One ABI's part of the program: calls whose `seccomp_data.arch` is `audit_arch` are
/// decided by `plan`; on x86_64, numbers with the x32 bit by `x32` (killed without it).
pub(super) struct Section<'a> {
    pub audit_arch: u32,
    pub plan: &'a Plan,
    pub x32: Option<&'a Plan>,
}

/// Builds the program for `plan` on the architecture `audit_arch` (`AUDIT_ARCH_*`) alone,
/// or `None` when the plan allows everything.
#[cfg(test)]
pub(super) fn assemble(plan: &Plan, audit_arch: u32) -> Result<Option<Program>, SeccompError> {
    assemble_sections(&[Section {
        audit_arch,
        plan,
        x32: None,
    }])
}

/// Builds one program over every section (the first is the native ABI, tested first);
/// calls of any other arch are killed. `None` when every plan allows everything.
pub(super) fn assemble_sections(sections: &[Section<'_>]) -> Result<Option<Program>, SeccompError> {
    let allows_all = |plan: &Plan| plan.default == Action::Allow && plan.rules.is_empty();
    if sections
        .iter()
        .all(|s| allows_all(s.plan) && s.x32.is_none_or(allows_all))
    {
        return Ok(None);
    }
    // Header: per section `jeq arch; ja body`, then a kill; the bodies follow in order.
    let mut program = vec![insn(LD_ABS, 0, 0, ARCH)];
    let header_len = 1 + 2 * sections.len() + 1;
    let bodies: Vec<Program> = sections.iter().map(body).collect();
    let mut body_start = header_len;
    for (section, code) in sections.iter().zip(&bodies) {
        program.push(insn(JEQ, 0, 1, section.audit_arch));
        let from = program.len() + 1;
        let offset = u32::try_from(body_start - from).expect("short program");
        program.push(insn(JA, 0, 0, offset));
        body_start += code.len();
    }
    program.push(insn(RET_K, 0, 0, libc::SECCOMP_RET_KILL_PROCESS));
    for code in bodies {
        program.extend(code);
    }
    if program.len() > MAX_INSNS {
        return Err(SeccompError::TooLong {
            len: program.len(),
            max: MAX_INSNS,
        });
    }
    Ok(Some(program))
}

/// One section's code, position-independent (every jump is relative and stays inside).
fn body(section: &Section<'_>) -> Program {
    let plan = section.plan;
    let mut leaves = leaves(plan);
    if let Some(x32) = section.x32 {
        // x32 numbers all carry the x32 bit, so they never meet native ones.
        leaves.extend(self::leaves(x32));
    }
    let ranges = ranges(&leaves, ret_value(plan.default), section.x32.is_some());

    let mut program = vec![insn(LD_ABS, 0, 0, NR)];
    let mut tree = Vec::new();
    emit_tree(&ranges, &mut tree);

    // Blocks follow the tree, in order of their index; a leaf jumps to its block.
    let tree_start = program.len();
    let mut block_starts = Vec::new();
    let mut blocks = Vec::new();
    for leaf in leaves.values() {
        if let Leaf::Block(rules) = leaf {
            block_starts.push(tree_start + tree.len() + blocks.len());
            emit_block(rules, ret_value(plan.default), &mut blocks);
        }
    }
    for (at, step) in tree.into_iter().enumerate() {
        program.push(match step {
            Step::Insn(insn) => insn,
            Step::ToBlock(index) => {
                let from = tree_start + at + 1;
                let offset = u32::try_from(block_starts[index] - from).expect("short program");
                insn(JA, 0, 0, offset)
            }
        });
    }
    program.extend(blocks);
    program
}

/// What one syscall number gets.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Leaf {
    /// The same answer whatever the arguments: a `SECCOMP_RET_*` value.
    Ret(u32),
    /// Rules to try in order, then the default.
    Block(Vec<PlannedRule>),
}

/// A leaf per syscall number named by some rule.
fn leaves(plan: &Plan) -> BTreeMap<u32, Leaf> {
    let mut by_nr: BTreeMap<u32, Vec<PlannedRule>> = BTreeMap::new();
    for rule in &plan.rules {
        // Negative numbers name nothing (the syscall tables hold none).
        if let Ok(nr) = u32::try_from(rule.nr) {
            by_nr.entry(nr).or_default().push(rule.clone());
        }
    }
    by_nr
        .into_iter()
        .map(|(nr, mut rules)| {
            // Stable: equal ranks keep profile order.
            rules.sort_by_key(|rule| std::cmp::Reverse(rank(rule.action)));
            // A rule without conditions always decides; those after it never run.
            if let Some(always) = rules.iter().position(|rule| rule.conds.is_empty()) {
                rules.truncate(always + 1);
            }
            let leaf = match rules.as_slice() {
                [only] if only.conds.is_empty() => Leaf::Ret(ret_value(only.action)),
                _ => Leaf::Block(rules),
            };
            (nr, leaf)
        })
        .collect()
}

/// Where a run of syscall numbers starts, and what the whole run gets; each run ends where
/// the next starts, the last at the x32 boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    start: u32,
    leaf: RangeLeaf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeLeaf {
    Ret(u32),
    /// Index among the `Leaf::Block`s, in syscall order.
    Block(usize),
}

/// Numbers on x86_64 with this bit set are x32 calls, which share the native arch value.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// `x32_filtered`: the leaves include x32 numbers; otherwise, on x86_64, every number with
/// the x32 bit is killed.
fn ranges(leaves: &BTreeMap<u32, Leaf>, default: u32, x32_filtered: bool) -> Vec<Range> {
    let mut ranges = vec![Range {
        start: 0,
        leaf: RangeLeaf::Ret(default),
    }];
    let mut push = |start: u32, leaf: RangeLeaf| {
        let last = ranges.last_mut().expect("never empty");
        if last.leaf == leaf && matches!(leaf, RangeLeaf::Ret(_)) {
            return;
        }
        if last.start == start {
            last.leaf = leaf;
        } else {
            ranges.push(Range { start, leaf });
        }
    };
    let mut blocks = 0;
    for (&nr, leaf) in leaves {
        if nr >= X32_SYSCALL_BIT && !x32_filtered {
            break;
        }
        let leaf = match leaf {
            Leaf::Ret(value) => RangeLeaf::Ret(*value),
            Leaf::Block(_) => {
                blocks += 1;
                RangeLeaf::Block(blocks - 1)
            }
        };
        push(nr, leaf);
        push(nr + 1, RangeLeaf::Ret(default));
    }
    if !x32_filtered {
        let foreign = if cfg!(target_arch = "x86_64") {
            libc::SECCOMP_RET_KILL_PROCESS
        } else {
            default
        };
        push(X32_SYSCALL_BIT, RangeLeaf::Ret(foreign));
    }
    // A merge can leave two equal neighbours only through `last.start == start`
    // replacement; merge once more so the tree has no redundant tests.
    ranges.dedup_by(|next, prev| next.leaf == prev.leaf && matches!(next.leaf, RangeLeaf::Ret(_)));
    ranges
}

/// A tree step before blocks have addresses.
enum Step {
    Insn(libc::sock_filter),
    ToBlock(usize),
}

/// Appends code that, with the syscall number in A, reaches the leaf of its range.
fn emit_tree(ranges: &[Range], out: &mut Vec<Step>) {
    if let [range] = ranges {
        out.push(match range.leaf {
            RangeLeaf::Ret(value) => Step::Insn(insn(RET_K, 0, 0, value)),
            RangeLeaf::Block(index) => Step::ToBlock(index),
        });
        return;
    }
    let mid = ranges.len() / 2;
    let mut low = Vec::new();
    emit_tree(&ranges[..mid], &mut low);
    let split = ranges[mid].start;
    match u8::try_from(low.len()) {
        Ok(skip) => out.push(Step::Insn(insn(JGE, skip, 0, split))),
        Err(_) => {
            // A conditional jump reaches 255 instructions at most; go through a JA.
            out.push(Step::Insn(insn(JGE, 0, 1, split)));
            let skip = u32::try_from(low.len()).expect("short program");
            out.push(Step::Insn(insn(JA, 0, 0, skip)));
        }
    }
    out.extend(low);
    emit_tree(&ranges[mid..], out);
}

/// A jump target inside one rule's code, before the rule's length is known.
#[derive(Clone, Copy)]
enum Target {
    /// This many instructions ahead (0: the next one).
    Skip(u8),
    /// The first instruction after the rule: its conditions did not all hold.
    Fail,
}

struct RuleInsn {
    code: u16,
    jt: Target,
    jf: Target,
    k: u32,
}

fn emit_block(rules: &[PlannedRule], default: u32, out: &mut Program) {
    for rule in rules {
        let mut code = Vec::new();
        for cond in &rule.conds {
            emit_cond(cond, &mut code);
        }
        let end = code.len();
        for (at, step) in code.into_iter().enumerate() {
            let resolve = |target| match target {
                Target::Skip(n) => n,
                // The rule's return sits at `end`; failing skips past it.
                Target::Fail => u8::try_from(end - at).expect("a rule has at most 6 conditions"),
            };
            out.push(insn(step.code, resolve(step.jt), resolve(step.jf), step.k));
        }
        out.push(insn(RET_K, 0, 0, ret_value(rule.action)));
    }
    out.push(insn(RET_K, 0, 0, default));
}

/// Appends code that falls through when `cond` holds and jumps to `Fail` otherwise.
fn emit_cond(cond: &Cond, out: &mut Vec<RuleInsn>) {
    use Target::{Fail, Skip};
    let mut put = |code, jt, jf, k| out.push(RuleInsn { code, jt, jf, k });
    let ld = |offset| (LD_ABS, Skip(0), Skip(0), offset);
    let low_value = cond.value as u32;
    let high_value = (cond.value >> 32) as u32;
    let index = cond.index;

    if cond.width == Width::Dword {
        let (code, jt, jf, k) = ld(arg_low(index));
        put(code, jt, jf, k);
        match cond.op {
            CmpOp::Eq => put(JEQ, Skip(0), Fail, low_value),
            CmpOp::Ne => put(JEQ, Fail, Skip(0), low_value),
            CmpOp::Gt => put(JGT, Skip(0), Fail, low_value),
            CmpOp::Ge => put(JGE, Skip(0), Fail, low_value),
            CmpOp::Lt => put(JGE, Fail, Skip(0), low_value),
            CmpOp::Le => put(JGT, Fail, Skip(0), low_value),
            CmpOp::MaskedEq => {
                put(AND_K, Skip(0), Skip(0), low_value);
                put(JEQ, Skip(0), Fail, cond.value_two as u32);
            }
        }
        return;
    }

    let (code, jt, jf, k) = ld(arg_high(index));
    put(code, jt, jf, k);
    let (ld_low, _, _, low_offset) = ld(arg_low(index));
    match cond.op {
        CmpOp::Eq => {
            put(JEQ, Skip(0), Fail, high_value);
            put(ld_low, Skip(0), Skip(0), low_offset);
            put(JEQ, Skip(0), Fail, low_value);
        }
        CmpOp::Ne => {
            // Halves differ: holds, skip the low compare.
            put(JEQ, Skip(0), Skip(2), high_value);
            put(ld_low, Skip(0), Skip(0), low_offset);
            put(JEQ, Fail, Skip(0), low_value);
        }
        CmpOp::Gt | CmpOp::Ge => {
            // high > v.high: holds; high < v.high: fails; equal: the low halves decide.
            put(JGT, Skip(3), Skip(0), high_value);
            put(JEQ, Skip(0), Fail, high_value);
            put(ld_low, Skip(0), Skip(0), low_offset);
            let code = if cond.op == CmpOp::Gt { JGT } else { JGE };
            put(code, Skip(0), Fail, low_value);
        }
        CmpOp::Lt | CmpOp::Le => {
            put(JGT, Fail, Skip(0), high_value);
            put(JEQ, Skip(0), Skip(2), high_value);
            put(ld_low, Skip(0), Skip(0), low_offset);
            // a < v  ⇔ !(a >= v);  a <= v  ⇔ !(a > v)
            let code = if cond.op == CmpOp::Lt { JGE } else { JGT };
            put(code, Fail, Skip(0), low_value);
        }
        CmpOp::MaskedEq => {
            let mask = cond.value;
            let want = cond.value_two;
            put(AND_K, Skip(0), Skip(0), (mask >> 32) as u32);
            put(JEQ, Skip(0), Fail, (want >> 32) as u32);
            put(ld_low, Skip(0), Skip(0), low_offset);
            put(AND_K, Skip(0), Skip(0), mask as u32);
            put(JEQ, Skip(0), Fail, want as u32);
        }
    }
}

/// How the kernel ranks an action when several filters answer (higher wins).
fn rank(action: Action) -> u8 {
    match action {
        Action::KillProcess => 7,
        Action::KillThread => 6,
        Action::Trap => 5,
        Action::Errno(_) => 4,
        Action::Trace(_) => 2,
        Action::Log => 1,
        Action::Allow => 0,
    }
}

fn ret_value(action: Action) -> u32 {
    match action {
        Action::Allow => libc::SECCOMP_RET_ALLOW,
        Action::Errno(errno) => libc::SECCOMP_RET_ERRNO | u32::from(errno),
        Action::KillThread => libc::SECCOMP_RET_KILL_THREAD,
        Action::KillProcess => libc::SECCOMP_RET_KILL_PROCESS,
        Action::Trap => libc::SECCOMP_RET_TRAP,
        Action::Trace(data) => libc::SECCOMP_RET_TRACE | u32::from(data),
        Action::Log => libc::SECCOMP_RET_LOG,
    }
}

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

//! Test support: runs a seccomp BPF program on a `seccomp_data` the way the kernel does,
//! and combines several installed programs by the kernel's precedence, so layouts can be
//! compared without installing anything.

use super::layout::Program;

/// The fields of `struct seccomp_data` a filter can load.
#[derive(Debug, Clone, Copy)]
pub(super) struct Call {
    pub nr: u32,
    pub arch: u32,
    pub args: [u64; 6],
}

impl Call {
    fn word(&self, offset: u32) -> u32 {
        match offset {
            0 => self.nr,
            4 => self.arch,
            // instruction_pointer (8..16) is never loaded by strata's programs.
            16..=63 if offset % 4 == 0 => {
                let arg = self.args[(offset as usize - 16) / 8];
                if offset % 8 == 0 {
                    arg as u32
                } else {
                    (arg >> 32) as u32
                }
            }
            _ => panic!("load from offset {offset}"),
        }
    }
}

/// The program's return value for `call`. Panics on anything the kernel's checker would
/// refuse (a jump out of the program, an unknown instruction, falling off the end).
pub(super) fn run(program: &Program, call: &Call) -> u32 {
    let mut pc = 0usize;
    let mut a: u32 = 0;
    loop {
        let insn = program.get(pc).expect("jumped or fell off the end");
        let code = u32::from(insn.code);
        let k = insn.k;
        let jump = |taken: bool| 1 + usize::from(if taken { insn.jt } else { insn.jf });
        pc += match code {
            c if c == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS => {
                a = call.word(k);
                1
            }
            c if c == libc::BPF_ALU | libc::BPF_AND | libc::BPF_K => {
                a &= k;
                1
            }
            c if c == libc::BPF_JMP | libc::BPF_JA => 1 + k as usize,
            c if c == libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K => jump(a == k),
            c if c == libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K => jump(a > k),
            c if c == libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K => jump(a >= k),
            c if c == libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K => jump(a & k != 0),
            c if c == libc::BPF_RET | libc::BPF_K => return k,
            other => panic!("instruction code {other:#x} at {pc}"),
        };
    }
}

/// What the kernel returns with `programs` installed in order: every filter runs, the
/// lowest action as a signed number wins (KILL_PROCESS first, ALLOW last), and between
/// equal actions the most recently installed filter's.
pub(super) fn run_all(programs: &[Program], call: &Call) -> u32 {
    let action = |ret: u32| (ret & libc::SECCOMP_RET_ACTION_FULL) as i32;
    let mut result = libc::SECCOMP_RET_ALLOW;
    for program in programs.iter().rev() {
        let ret = run(program, call);
        if action(ret) < action(result) {
            result = ret;
        }
    }
    result
}

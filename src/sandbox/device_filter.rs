//! The devices allow-list as an eBPF program (`BPF_PROG_TYPE_CGROUP_DEVICE`), what a v2
//! cgroup uses where v1 had the `devices` controller (runc and Docker do the same). Built
//! from the same rule lines `device_rules` writes to v1's `devices.allow`; pure, so it is
//! unit-tested by running it in `eval` below. `device_filter_attach` loads and attaches it.

/// One allow-list line (`c 1:3 rwm`, `b *:* m`, `a *:* rwm`): `None` matches any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRule {
    /// `BPF_DEVCG_DEV_BLOCK` (1) or `BPF_DEVCG_DEV_CHAR` (2).
    pub kind: Option<u32>,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// `BPF_DEVCG_ACC_*` bits: mknod 1, read 2, write 4.
    pub access: u32,
}

pub const DEV_BLOCK: u32 = 1;
pub const DEV_CHAR: u32 = 2;
pub const ACC_MKNOD: u32 = 1;
pub const ACC_READ: u32 = 2;
pub const ACC_WRITE: u32 = 4;

/// Parses one `devices.allow` line.
pub fn parse_rule(line: &str) -> Result<DeviceRule, String> {
    let bad = || format!("device rule {line:?}: expected `TYPE MAJOR:MINOR ACCESS`");
    let mut words = line.split_whitespace();
    let (Some(kind), Some(numbers), Some(letters), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(bad());
    };
    let kind = match kind {
        "a" => None,
        "b" => Some(DEV_BLOCK),
        "c" => Some(DEV_CHAR),
        _ => return Err(bad()),
    };
    let number = |s: &str| match s {
        "*" => Ok(None),
        n => n.parse().map(Some).map_err(|_| bad()),
    };
    let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
    let mut access = 0;
    for letter in letters.chars() {
        access |= match letter {
            'm' => ACC_MKNOD,
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            _ => return Err(bad()),
        };
    }
    Ok(DeviceRule {
        kind,
        major: number(major)?,
        minor: number(minor)?,
        access,
    })
}

/// One eBPF instruction (`struct bpf_insn`): registers packed as `dst | src << 4`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

const LDX_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const MOV64_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const MOV32_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const AND32_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const RSH32_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

/// The program: returns 1 (allow) when some rule matches the access, 0 (deny) otherwise.
/// A rule matches when its type and numbers match and it grants every access asked for.
///
/// Registers: r1 the `struct bpf_cgroup_dev_ctx *` (`access_type`, `major`, `minor`, u32
/// each); r2 the device type, r3 the access bits, r4 major, r5 minor, r6 scratch.
pub fn program(rules: &[DeviceRule]) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(AND32_K, 2, 0, 0, 0xffff),
        insn(LDX_W, 3, 1, 0, 0),
        insn(RSH32_K, 3, 0, 0, 16),
        insn(LDX_W, 4, 1, 4, 0),
        insn(LDX_W, 5, 1, 8, 0),
    ];
    for rule in rules {
        // Each test jumps past the rest of this rule when it fails; `skip` is filled in.
        let mut tests: Vec<Insn> = Vec::new();
        if let Some(kind) = rule.kind {
            tests.push(insn(JNE_K, 2, 0, 0, kind as i32));
        }
        if rule.access & (ACC_MKNOD | ACC_READ | ACC_WRITE) != (ACC_MKNOD | ACC_READ | ACC_WRITE) {
            // Asked-for bits outside the rule's: r6 = access & !granted must be 0.
            tests.push(insn(MOV32_X, 6, 3, 0, 0));
            tests.push(insn(AND32_K, 6, 0, 0, !(rule.access as i32)));
            tests.push(insn(JNE_K, 6, 0, 0, 0));
        }
        if let Some(major) = rule.major {
            tests.push(insn(JNE_K, 4, 0, 0, major as i32));
        }
        if let Some(minor) = rule.minor {
            tests.push(insn(JNE_K, 5, 0, 0, minor as i32));
        }
        let len = tests.len();
        for (at, mut t) in tests.into_iter().enumerate() {
            if t.code == JNE_K {
                // Past the remaining tests and the rule's two-instruction "allow".
                t.off = i16::try_from(len - at - 1 + 2).expect("a rule is a few instructions");
            }
            p.push(t);
        }
        p.push(insn(MOV64_K, 0, 0, 0, 1));
        p.push(insn(EXIT, 0, 0, 0, 0));
    }
    p.push(insn(MOV64_K, 0, 0, 0, 0));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

/// Runs `program` the way the kernel would on one access (the subset of eBPF it uses).
#[cfg(test)]
fn eval(program: &[Insn], kind: u32, access: u32, major: u32, minor: u32) -> u64 {
    let ctx = [kind | (access << 16), major, minor];
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    loop {
        let i = program[pc];
        let (dst, src) = (usize::from(i.regs & 0xf), usize::from(i.regs >> 4));
        pc += 1;
        match i.code {
            LDX_W => {
                assert_eq!(src, 1, "loads only from the context");
                r[dst] = u64::from(ctx[usize::try_from(i.off).unwrap() / 4]);
            }
            MOV64_K => r[dst] = i.imm as i64 as u64,
            MOV32_X => r[dst] = r[src] & 0xffff_ffff,
            AND32_K => r[dst] = (r[dst] as u32 & i.imm as u32).into(),
            RSH32_K => r[dst] = ((r[dst] as u32) >> i.imm).into(),
            JNE_K => {
                // 64-bit compare against the sign-extended immediate, as the kernel does.
                if r[dst] != i.imm as i64 as u64 {
                    pc = pc.checked_add_signed(i.off.into()).unwrap();
                }
            }
            EXIT => return r[0],
            other => panic!("opcode {other:#x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::device_rules::DEFAULT_ALLOWED;

    fn rules(lines: &[&str]) -> Vec<DeviceRule> {
        lines.iter().map(|l| parse_rule(l).unwrap()).collect()
    }

    #[test]
    fn parses_the_lines_v1_takes() {
        assert_eq!(
            parse_rule("c 136:* rwm").unwrap(),
            DeviceRule {
                kind: Some(DEV_CHAR),
                major: Some(136),
                minor: None,
                access: 7
            }
        );
        assert_eq!(parse_rule("a *:* r").unwrap().kind, None);
        for bad in [
            "", "a", "c 1:3", "x 1:3 r", "c 1-3 r", "c 1:3 rx", "c a:3 r",
        ] {
            assert!(parse_rule(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_default_list_allows_exactly_its_devices() {
        let p = program(&rules(DEFAULT_ALLOWED));
        let (r, w, m) = (ACC_READ, ACC_WRITE, ACC_MKNOD);
        // (type, access, major, minor, allowed)
        let cases = [
            (DEV_CHAR, r | w, 1, 3, 1),   // null
            (DEV_CHAR, r, 1, 9, 1),       // urandom
            (DEV_CHAR, r | w, 5, 2, 1),   // ptmx
            (DEV_CHAR, r | w, 136, 7, 1), // a pty
            (DEV_CHAR, m, 10, 237, 1),    // mknod of anything
            (DEV_BLOCK, m, 7, 0, 1),
            (DEV_CHAR, r, 10, 237, 0),     // loop-control
            (DEV_CHAR, r | w, 10, 232, 0), // kvm
            (DEV_CHAR, r, 1, 1, 0),        // mem
            (DEV_BLOCK, r, 7, 0, 0),       // loop0
            (DEV_BLOCK, r, 1, 3, 0),       // a block device with null's numbers
            (DEV_CHAR, r | m, 10, 237, 0),
        ];
        for (kind, access, major, minor, want) in cases {
            assert_eq!(
                eval(&p, kind, access, major, minor),
                want,
                "{kind} {major}:{minor} access {access}"
            );
        }
    }

    #[test]
    fn partial_access_and_wildcards() {
        let p = program(&rules(&["b 8:0 r", "a 42:* rw"]));
        assert_eq!(eval(&p, DEV_BLOCK, ACC_READ, 8, 0), 1);
        assert_eq!(eval(&p, DEV_BLOCK, ACC_READ | ACC_WRITE, 8, 0), 0);
        assert_eq!(eval(&p, DEV_CHAR, ACC_READ, 8, 0), 0);
        assert_eq!(eval(&p, DEV_CHAR, ACC_WRITE, 42, 9), 1);
        assert_eq!(eval(&p, DEV_BLOCK, ACC_READ, 42, 0), 1);
        assert_eq!(eval(&p, DEV_BLOCK, ACC_MKNOD, 42, 0), 0);
        assert_eq!(eval(&program(&[]), DEV_CHAR, ACC_READ, 1, 3), 0);
    }
}

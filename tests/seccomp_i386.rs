//! The seccomp filter covers the i386 ABI of an x86_64 kernel as Docker's default profile
//! does (`archMap`: SCMP_ARCH_X86 is a sub-architecture of x86_64): a static i386 binary in
//! `run` gets the allowlist with i386 numbers and argument filters, and is not killed.
//! The probe is an ELF written byte by byte here (no 32-bit toolchain needed). Needs root
//! and a kernel with IA32 emulation (CI's has it).
#![cfg(target_arch = "x86_64")]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::Strata;

/// i386 syscall numbers (arch/x86/entry/syscalls/syscall_32.tbl).
const WRITE: u32 = 4;
const KEYCTL: u32 = 288;
const UNSHARE: u32 = 310;
const PERSONALITY: u32 = 136;
const PERSONALITY_QUERY: u32 = 0xffff_ffff;
const ADDR_NO_RANDOMIZE: u32 = 0x40_0000;
const KEYCTL_GET_KEYRING_ID: u32 = 0;
const KEY_SPEC_SESSION_KEYRING: u32 = -3i32 as u32;
const CLONE_NEWUSER: u32 = 0x1000_0000;

/// Machine code that writes "ok\n" with i386 `write`, makes the i386 syscall `nr` with
/// `args` in ebx/ecx/edx and exits with the negated result: 0 for success, the errno for a
/// refusal (a positive result shows as 256 minus it).
fn code(nr: u32, args: [u32; 3]) -> Vec<u8> {
    let mov = |opcode: u8, value: u32| {
        let mut v = vec![opcode];
        v.extend(value.to_le_bytes());
        v
    };
    let int80 = [0xcd, 0x80];
    let mut c = Vec::new();
    c.extend(mov(0xb8, WRITE)); // mov $4, %eax
    c.extend(mov(0xbb, 1)); // mov $1, %ebx
    c.extend([0xe8, 3, 0, 0, 0]); // call over the string: its address is pushed
    c.extend(b"ok\n");
    c.push(0x59); // pop %ecx
    c.extend(mov(0xba, 3)); // mov $3, %edx
    c.extend(int80);
    c.extend(mov(0xb8, nr));
    c.extend(mov(0xbb, args[0]));
    c.extend(mov(0xb9, args[1]));
    c.extend(mov(0xba, args[2]));
    c.extend(int80);
    c.extend([0xf7, 0xd8]); // neg %eax
    c.extend([0x89, 0xc3]); // mov %eax, %ebx
    c.extend(mov(0xb8, 1)); // exit
    c.extend(int80);
    c
}

/// A static ELF32 executable for i386 whose one loadable segment is `code`.
fn elf32(code: &[u8]) -> Vec<u8> {
    const BASE: u32 = 0x0804_8000;
    const HEADERS: u32 = 52 + 32;
    let size = HEADERS + code.len() as u32;
    let mut e = Vec::new();
    e.extend(b"\x7fELF");
    e.extend([1, 1, 1, 0]); // 32-bit, little-endian, version 1, System V
    e.extend([0; 8]);
    e.extend(2u16.to_le_bytes()); // ET_EXEC
    e.extend(3u16.to_le_bytes()); // EM_386
    e.extend(1u32.to_le_bytes());
    e.extend((BASE + HEADERS).to_le_bytes()); // entry: the code after the headers
    e.extend(52u32.to_le_bytes()); // program headers right after this one
    e.extend(0u32.to_le_bytes()); // no section headers
    e.extend(0u32.to_le_bytes());
    e.extend(52u16.to_le_bytes());
    e.extend(32u16.to_le_bytes());
    e.extend(1u16.to_le_bytes());
    e.extend(40u16.to_le_bytes());
    e.extend([0; 4]);
    // PT_LOAD of the whole file, read + execute.
    for word in [1, 0, BASE, BASE, size, size, 5, 0x1000] {
        e.extend(u32::to_le_bytes(word));
    }
    e.extend(code);
    e
}

fn write_probe(dir: &Path, name: &str, nr: u32, args: [u32; 3]) {
    let path = dir.join(name);
    std::fs::write(&path, elf32(&code(nr, args))).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// (probe, syscall, arguments, exit code wanted in `run`): 0 allowed, 1 refused with EPERM.
/// `personality` has argument filters (only queries and a few personas are let through).
const CASES: &[(&str, u32, [u32; 3], i32)] = &[
    (
        "keyctl",
        KEYCTL,
        [KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0],
        1,
    ),
    ("unshare-user", UNSHARE, [CLONE_NEWUSER, 0, 0], 1),
    (
        "personality-query",
        PERSONALITY,
        [PERSONALITY_QUERY, 0, 0],
        0,
    ),
    (
        "personality-aslr",
        PERSONALITY,
        [ADDR_NO_RANDOMIZE, 0, 0],
        1,
    ),
];

#[test]
fn i386_calls_get_the_allowlist_in_run() {
    let s = Strata::new();
    s.import_busybox("busybox");
    let dir = s.scratch("i386-probes");
    for (name, nr, args, _) in CASES {
        write_probe(&dir, name, *nr, *args);
    }
    // The probes outside any filter: i386 runs here, and the calls refused inside succeed
    // (keyctl returns a serial, so its code is not 0), so a refusal inside is the filter's.
    for (name, ..) in CASES {
        let out = std::process::Command::new(dir.join(name)).output().unwrap();
        assert_eq!(out.stdout, b"ok\n", "{name} outside: {out:?}");
        let code = out.status.code().expect("not killed");
        if *name != "keyctl" {
            assert_eq!(code, 0, "{name} outside: {out:?}");
        }
    }
    let bind = format!("{}:/probes:ro", dir.display());
    for (name, _, _, want) in CASES {
        let probe = format!("/probes/{name}");
        let args = ["run", "--rm", "-v", &bind, "busybox", &probe];
        let out = s.run_cmd(s.command(&args));
        let report = s.report(name, &args, &out);
        // Killed (SIGSYS, 159) before: every i386 call was.
        assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n", "{report}");
        assert_eq!(out.status.code(), Some(*want), "{report}");
    }
}

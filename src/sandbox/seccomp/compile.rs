//! Profile + capabilities → one BPF program for this architecture (see `layout` for how
//! the program is laid out and why it is not a BPF library's).

use super::layout::{assemble_sections, Program, Section};
use super::plan::{plan, Target};
use super::profile::{KernelVersion, Profile};
use super::SeccompError;

/// Compiles `profile` for a container holding the capabilities `caps` (Linux numbers, see
/// `cap_number`), on this machine's architecture and kernel. Returns the programs in
/// installation order: one, or none for a profile that allows everything. Pure apart from
/// reading the kernel release with `uname(2)`, so it belongs in the parent, before fork.
pub fn compile(profile: &Profile, caps: &[u32]) -> Result<Vec<Program>, SeccompError> {
    compile_for(profile, caps, &native_target()?)
}

/// Docker's default profile for `caps`, from the runtime cache when this binary compiled it
/// before on this kernel (`disk_cache`).
pub fn compile_default(caps: &[u32]) -> Result<Vec<Program>, SeccompError> {
    super::disk_cache::load_or_compile(caps, &kernel_release(), || {
        compile(&Profile::docker_default(), caps)
    })
}

pub(super) fn compile_for(
    profile: &Profile,
    caps: &[u32],
    target: &Target,
) -> Result<Vec<Program>, SeccompError> {
    let native = plan(profile, caps, target);
    #[cfg(target_arch = "x86_64")]
    {
        use super::plan::{plan_abi, Abi};
        let wants = |scmp: &str| compat_abis(profile).contains(&scmp);
        let i386 = wants("SCMP_ARCH_X86").then(|| plan_abi(profile, caps, target, Abi::I386));
        let x32 = wants("SCMP_ARCH_X32").then(|| plan_abi(profile, caps, target, Abi::X32));
        let mut sections = vec![Section {
            audit_arch: native_audit_arch()?,
            plan: &native,
            x32: x32.as_ref(),
        }];
        if let Some(plan) = &i386 {
            sections.push(Section {
                audit_arch: AUDIT_ARCH_I386,
                plan,
                x32: None,
            });
        }
        Ok(assemble_sections(&sections)?.into_iter().collect())
    }
    #[cfg(not(target_arch = "x86_64"))]
    Ok(assemble_sections(&[Section {
        audit_arch: native_audit_arch()?,
        plan: &native,
        x32: None,
    }])?
    .into_iter()
    .collect())
}

/// `AUDIT_ARCH_I386`: EM_386 with the little-endian flag.
#[cfg(target_arch = "x86_64")]
pub(super) const AUDIT_ARCH_I386: u32 = 0x4000_0000 | 3;

/// The `SCMP_ARCH_*` names besides the native one that the profile asks to filter: the
/// sub-architectures `archMap` gives x86_64, and any listed in `architectures`. Docker
/// installs one filter for all of them; ABIs not named are killed.
#[cfg(target_arch = "x86_64")]
fn compat_abis(profile: &Profile) -> Vec<&str> {
    let mapped = profile
        .arch_map
        .iter()
        .filter(|map| map.architecture == "SCMP_ARCH_X86_64")
        .flat_map(|map| map.sub_architectures.iter());
    mapped
        .chain(profile.architectures.iter())
        .map(String::as_str)
        .collect()
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

/// `seccomp_data.arch` for native calls: `AUDIT_ARCH_*` from linux/audit.h (the ELF
/// machine, with the 64-bit and little-endian flags).
fn native_audit_arch() -> Result<u32, SeccompError> {
    const AUDIT_ARCH_64BIT_LE: u32 = 0x8000_0000 | 0x4000_0000;
    if cfg!(target_arch = "x86_64") {
        Ok(AUDIT_ARCH_64BIT_LE | 62) // EM_X86_64
    } else if cfg!(target_arch = "aarch64") {
        Ok(AUDIT_ARCH_64BIT_LE | 183) // EM_AARCH64
    } else {
        Err(SeccompError::UnsupportedArch(std::env::consts::ARCH))
    }
}

#[cfg(test)]
mod tests {
    use super::super::bpf_eval::{run, Call};
    use super::super::caps::DOCKER_DEFAULT_CAPS;
    use super::super::syscall_table::syscall_number;
    use super::*;

    const SYS_ADMIN: u32 = 21;

    fn answer(program: &Program, name: &str, args: [u64; 6]) -> u32 {
        let nr = u32::try_from(syscall_number(name).unwrap()).unwrap();
        let arch = native_audit_arch().unwrap();
        run(program, &Call { nr, arch, args })
    }

    fn errno(e: i32) -> u32 {
        libc::SECCOMP_RET_ERRNO | e as u32
    }

    fn only(programs: Vec<Program>) -> Program {
        assert_eq!(programs.len(), 1);
        programs.into_iter().next().unwrap()
    }

    #[test]
    fn default_profile_is_one_short_program() {
        let program = only(compile(&Profile::docker_default(), &DOCKER_DEFAULT_CAPS).unwrap());
        assert_eq!(answer(&program, "clone3", [0; 6]), errno(libc::ENOSYS));
        assert_eq!(answer(&program, "keyctl", [0; 6]), errno(libc::EPERM));
        assert_eq!(answer(&program, "getpid", [0; 6]), libc::SECCOMP_RET_ALLOW);
        // The linear layout was 1,585 instructions for the native ABI alone; the point of
        // the tree is to stay far below that, since installation cost grows with the
        // length. x86_64's program covers i386 and x32 too.
        let bound = if cfg!(target_arch = "x86_64") {
            800
        } else {
            400
        };
        assert!(program.len() < bound, "{} instructions", program.len());
        println!(
            "default profile, Docker's default caps: {} BPF instructions",
            program.len()
        );
    }

    #[test]
    fn capability_gated_syscalls_are_allowed_only_with_the_capability() {
        let profile = Profile::docker_default();
        // (capability, a syscall it unlocks)
        let cases = [
            (21, "mount"),
            (19, "kcmp"),
            (25, "settimeofday"),
            (22, "reboot"),
        ];
        for (cap, name) in cases {
            let mut caps = DOCKER_DEFAULT_CAPS.to_vec();
            let without = only(compile(&profile, &caps).unwrap());
            caps.push(cap);
            let with = only(compile(&profile, &caps).unwrap());
            assert_eq!(answer(&without, name, [0; 6]), errno(libc::EPERM), "{name}");
            assert_eq!(
                answer(&with, name, [0; 6]),
                libc::SECCOMP_RET_ALLOW,
                "{name} with cap {cap}"
            );
        }
    }

    #[test]
    fn sys_admin_lets_clone3_through() {
        let mut caps = DOCKER_DEFAULT_CAPS.to_vec();
        caps.push(SYS_ADMIN);
        let program = only(compile(&Profile::docker_default(), &caps).unwrap());
        assert_eq!(answer(&program, "clone3", [0; 6]), libc::SECCOMP_RET_ALLOW);
    }

    #[test]
    fn allow_everything_needs_no_program() {
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
        ];
        for (text, want) in cases {
            let profile = Profile::from_json(text).unwrap();
            let programs = compile(&profile, &[]).unwrap();
            assert_eq!(programs.len(), *want, "{text}");
        }
        assert!(compile(&Profile::unconfined(), &[]).unwrap().is_empty());
    }

    #[test]
    fn equal_actions_first_written_wins() {
        let profile = Profile::from_json(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22}]}"#,
        )
        .unwrap();
        let program = only(compile(&profile, &[]).unwrap());
        assert_eq!(answer(&program, "getcwd", [0; 6]), errno(13));
    }

    #[test]
    fn foreign_abis_are_killed() {
        // A profile that names no sub-architecture filters the native ABI alone.
        let profile = Profile::from_json(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}]}"#,
        )
        .unwrap();
        let program = only(compile(&profile, &DOCKER_DEFAULT_CAPS).unwrap());
        let arch = native_audit_arch().unwrap();
        let foreign_arch = Call {
            nr: 39,
            arch: arch ^ 0x8000_0000,
            args: [0; 6],
        };
        assert_eq!(run(&program, &foreign_arch), libc::SECCOMP_RET_KILL_PROCESS);
        let x32 = Call {
            nr: 0x4000_0000 | 39,
            arch,
            args: [0; 6],
        };
        let want = if cfg!(target_arch = "x86_64") {
            libc::SECCOMP_RET_KILL_PROCESS
        } else {
            errno(libc::EPERM)
        };
        assert_eq!(run(&program, &x32), want);
        #[cfg(target_arch = "x86_64")]
        {
            let i386 = Call {
                nr: 20,
                arch: AUDIT_ARCH_I386,
                args: [0; 6],
            };
            assert_eq!(run(&program, &i386), libc::SECCOMP_RET_KILL_PROCESS);
        }
    }

    /// Docker's default profile maps i386 and x32 under x86_64 (`archMap`): each gets the
    /// allowlist and argument filters with its own numbers; other arches are killed.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn dockers_sub_architectures_get_the_allowlist() {
        const CLONE_NEWUSER: u64 = libc::CLONE_NEWUSER as u64;
        let program = only(compile(&Profile::docker_default(), &DOCKER_DEFAULT_CAPS).unwrap());
        let native = native_audit_arch().unwrap();
        let x32 = |nr: u32| 0x4000_0000 | nr;
        let allow = libc::SECCOMP_RET_ALLOW;
        let eperm = errno(libc::EPERM);
        // (arch, number, first argument, answer)
        let cases = [
            (AUDIT_ARCH_I386, 4, 0, allow),               // write
            (AUDIT_ARCH_I386, 1, 0, allow),               // exit
            (AUDIT_ARCH_I386, 102, 0, allow),             // socketcall
            (AUDIT_ARCH_I386, 288, 0, eperm),             // keyctl
            (AUDIT_ARCH_I386, 286, 0, eperm),             // add_key
            (AUDIT_ARCH_I386, 21, 0, eperm),              // mount
            (AUDIT_ARCH_I386, 310, CLONE_NEWUSER, eperm), // unshare
            (AUDIT_ARCH_I386, 310, 0x200, eperm),         // unshare needs CAP_SYS_ADMIN
            (AUDIT_ARCH_I386, 120, CLONE_NEWUSER, eperm), // clone
            (AUDIT_ARCH_I386, 120, 0x11, allow),          // clone(SIGCHLD)
            (AUDIT_ARCH_I386, 136, 0xffff_ffff, allow),   // personality query
            (AUDIT_ARCH_I386, 136, 0x40_0000, eperm),     // personality(ADDR_NO_RANDOMIZE)
            (AUDIT_ARCH_I386, 384, 0, allow),             // arch_prctl (amd64 rule)
            (AUDIT_ARCH_I386, 999, 0, eperm),             // no such syscall
            (native, x32(1), 0, allow),                   // x32 write
            (native, x32(250), 0, eperm),                 // x32 keyctl
            (native, x32(272), CLONE_NEWUSER, eperm),     // x32 unshare
            (native, x32(514), 0, allow),                 // x32 ioctl
            (native, x32(13), 0, eperm),                  // no x32 rt_sigaction here
            (native, 250, 0, eperm),                      // native keyctl
            (native, 1, 0, allow),                        // native write
            (native ^ 0x8000_0000, 1, 0, libc::SECCOMP_RET_KILL_PROCESS),
            (0x4000_0028, 4, 0, libc::SECCOMP_RET_KILL_PROCESS), // arm
        ];
        for (arch, nr, arg0, want) in cases {
            let call = Call {
                nr,
                arch,
                args: [arg0, 0, 0, 0, 0, 0],
            };
            assert_eq!(run(&program, &call), want, "{call:x?}");
        }
    }
}

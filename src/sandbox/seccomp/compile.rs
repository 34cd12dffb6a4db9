//! Profile + capabilities → one BPF program for this architecture (see `layout` for how
//! the program is laid out and why it is not a BPF library's).

use super::layout::{assemble, Program};
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
    let plan = plan(profile, caps, target);
    Ok(assemble(&plan, native_audit_arch()?)?.into_iter().collect())
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
        // The linear layout was 1,585 instructions; the point of the tree is to stay far
        // below that, since installation cost grows with the length.
        assert!(program.len() < 400, "{} instructions", program.len());
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
        let program = only(compile(&Profile::docker_default(), &DOCKER_DEFAULT_CAPS).unwrap());
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
    }
}

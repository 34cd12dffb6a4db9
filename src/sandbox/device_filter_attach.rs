//! Loads the `device_filter` program and attaches it to a v2 cgroup (`BPF_CGROUP_DEVICE`),
//! with the raw `bpf(2)` call. Attached with `BPF_F_ALLOW_MULTI`, it runs alongside any
//! program an ancestor holds (every one must allow), and lives as long as the cgroup does.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use super::device_filter::{parse_rule, program, DeviceRule, Insn};
use super::device_rules::{rules, stat_node};
use super::security::Security;

const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The head of `union bpf_attr` for `BPF_PROG_LOAD`; the kernel takes a shorter struct
/// than its own and reads the rest as zero.
#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

#[repr(C)]
#[derive(Default)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

fn bpf<T>(cmd: libc::c_int, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, initialised `bpf_attr` prefix of the size passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// The allow rules for `sec` (Docker's defaults and `--device`s); `None` when every device
/// is allowed (`--privileged`), where no program is needed.
pub fn allow_rules(sec: &Security) -> io::Result<Option<Vec<DeviceRule>>> {
    let (_, allow) = rules(sec, stat_node);
    if allow.iter().any(|l| l == "a *:* rwm") {
        return Ok(None);
    }
    allow
        .iter()
        .map(|l| parse_rule(l).map_err(io::Error::other))
        .collect::<io::Result<_>>()
        .map(Some)
}

/// Loads the program for `rules`; its log on failure says what the verifier refused.
pub fn load(rules: &[DeviceRule]) -> io::Result<OwnedFd> {
    let insns: Vec<Insn> = program(rules);
    let license = b"Apache-2.0\0";
    let mut log = vec![0u8; 4096];
    let mut attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: u32::try_from(insns.len()).map_err(io::Error::other)?,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..ProgLoad::default()
    };
    attr.prog_name[..7].copy_from_slice(b"strata\0");
    let fd = match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => fd,
        Err(first) => {
            // Again with the verifier's log, for the message only.
            attr.log_level = 1;
            attr.log_size = log.len() as u32;
            attr.log_buf = log.as_mut_ptr() as u64;
            let _ = bpf(BPF_PROG_LOAD, &mut attr);
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            return Err(io::Error::new(
                first.kind(),
                format!(
                    "loading the device filter: {first}; verifier: {}",
                    text.trim()
                ),
            ));
        }
    };
    // SAFETY: `bpf` returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Attaches the device filter for `sec` to the v2 cgroup directory `dir` (before any process
/// joins it). Nothing for `--privileged`.
pub fn attach(dir: &Path, sec: &Security) -> io::Result<()> {
    let Some(rules) = allow_rules(sec)? else {
        return Ok(());
    };
    let prog = load(&rules)?;
    let cgroup = std::fs::File::open(dir)
        .map_err(|e| io::Error::new(e.kind(), format!("opening {}: {e}", dir.display())))?;
    let mut attr = ProgAttach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("attaching the device filter to {}: {e}", dir.display()),
        )
    })?;
    Ok(())
}

//! Installing compiled programs in the calling thread with the raw `seccomp(2)` call.
//!
//! Not seccompiler's `apply_filter`, which always sets `PR_SET_NO_NEW_PRIVS` first:
//! strata sets that only for `--security-opt no-new-privileges`, and otherwise installs
//! the filter while the process still holds `CAP_SYS_ADMIN`, which the kernel accepts
//! instead.

use std::io;

use super::layout::Program;

/// Installs `programs` in order on the calling thread (no `SECCOMP_FILTER_FLAG_TSYNC`:
/// strata calls this in a single-threaded forked child). Safe to call between fork and
/// exec: no allocation, no locks, one syscall per program.
///
/// Fails with `EINVAL` for an empty or oversized program, `EACCES` without
/// no_new_privs or `CAP_SYS_ADMIN`, or whatever else the kernel says. The filters
/// installed before a failure stay installed, so the caller must not go on to exec.
pub fn install(programs: &[Program]) -> io::Result<()> {
    for program in programs {
        let len = match u16::try_from(program.len()) {
            Ok(len) if len > 0 => len,
            _ => return Err(io::Error::from_raw_os_error(libc::EINVAL)),
        };
        let fprog = libc::sock_fprog {
            len,
            filter: program.as_ptr().cast_mut(),
        };
        // SAFETY: `fprog` points at `program`'s `len` instructions, alive for the call;
        // the kernel copies the program and does not write through the pointer.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &fprog as *const libc::sock_fprog,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

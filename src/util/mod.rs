//! Small helpers shared by every layer: atomic writes, safe joins inside a root, hashing readers
//! and writers, and the image's passwd/group resolution.

pub mod atomic;
pub mod backoff;
pub mod go_duration;
pub mod hashing;
pub mod owned_tmp;
pub mod passwd;
pub mod read_full;
pub mod safe_path;
pub mod signal;
pub mod tar_fields;
pub mod userns;

/// 64 random lowercase hex digits: the id of a container, network or endpoint.
pub fn random_id() -> String {
    let mut bytes = [0u8; 32];
    // SAFETY: getrandom fills the buffer it is given, at most its length.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if n != bytes.len() as isize {
        // No entropy source: time and pid still make clashes practically impossible.
        let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
        bytes = *blake3::hash(seed.as_bytes()).as_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Docker's rule for container, network and volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// Makes `cmd` start with no signal blocked. A child inherits the signal mask, and strata's
/// threads block the signals they forward: a daemon started from one (aardvark-dns) would
/// never see the SIGHUP that tells it to reload.
pub fn unblock_signals_in(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: sigemptyset and pthread_sigmask are async-signal-safe and touch only a local set.
    unsafe {
        cmd.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
}

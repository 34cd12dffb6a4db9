//! Moving the whole process, when it is not root, into a user namespace of its own (and a mount
//! namespace that namespace owns), where it is root: a rootless build then mounts its overlays
//! and writes any owner into its snapshots like a root one. A forked child, still outside,
//! gives the namespace its id maps (see [`super::rootless::write_id_maps`]) and exits.
//!
//! Done in place with `unshare` rather than by re-executing: the process stays one (signals,
//! exit code and the terminal need no forwarding), it just must not run threads yet.

use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use super::error::SandboxError;
use super::rootless::write_id_maps;
use super::syscalls::{RealSyscalls, Syscalls};

/// Which ids the namespace maps besides the user's own (which is root inside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdMapping {
    /// Ranges from `/etc/subuid` and `/etc/subgid`: files may belong to those ids too.
    Delegated,
    /// Only the user's own id (no delegated ranges): everything belongs to root inside, and
    /// `setgroups` is denied.
    Single,
}

fn setup_err(detail: impl Into<String>) -> SandboxError {
    SandboxError::Setup {
        step: "entering a user namespace".into(),
        detail: detail.into(),
    }
}

/// What the id-map child sends back: `d`, `s`, or `e` and the error.
fn reply(result: &Result<bool, SandboxError>) -> Vec<u8> {
    match result {
        Ok(true) => b"d".to_vec(),
        Ok(false) => b"s".to_vec(),
        Err(e) => format!("e{e}").into_bytes(),
    }
}

fn parse_reply(bytes: &[u8]) -> Result<IdMapping, String> {
    match bytes.split_first() {
        Some((b'd', [])) => Ok(IdMapping::Delegated),
        Some((b's', [])) => Ok(IdMapping::Single),
        Some((b'e', detail)) => Err(String::from_utf8_lossy(detail).into_owned()),
        _ => Err("the id-map helper ended without a reply".into()),
    }
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

/// Unshares a user and a mount namespace for this process and has its id maps written; the
/// process is uid 0 inside afterwards and its mounts stay private to it. Must be called while
/// the process has a single thread (the kernel refuses `CLONE_NEWUSER` otherwise).
pub fn enter() -> Result<IdMapping, SandboxError> {
    if threads() != 1 {
        return Err(setup_err(
            "the process already runs several threads (CLONE_NEWUSER needs one)",
        ));
    }
    let pipe = |step| {
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|source| SandboxError::Sys { step, source })
    };
    let (go_r, go_w) = pipe("user namespace go pipe")?;
    let (reply_r, reply_w) = pipe("user namespace reply pipe")?;
    let parent = nix::unistd::getpid();
    // SAFETY: the process is single-threaded (checked above), so the child may run anything;
    // it leaves with `_exit`.
    let child = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            drop((go_w, reply_r));
            id_map_child(parent, go_r, reply_w);
            // SAFETY: leave the forked copy without running the parent's destructors.
            unsafe { libc::_exit(0) }
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(source) => {
            return Err(SandboxError::Sys {
                step: "fork the id-map helper",
                source,
            })
        }
    };
    drop((go_r, reply_w));
    let unshared = RealSyscalls.unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS);
    if unshared.is_ok() {
        let _ = nix::unistd::write(&go_w, b"g");
    }
    // Closed either way: without a go byte the child sees end-of-file and gives up.
    drop(go_w);
    let bytes = read_all(reply_r);
    loop {
        match waitpid(child, None) {
            Err(Errno::EINTR) => continue,
            Ok(WaitStatus::StillAlive) => continue,
            _ => break,
        }
    }
    if let Err(e) = unshared {
        return Err(setup_err(format!(
            "unshare(CLONE_NEWUSER|CLONE_NEWNS): {e} (are unprivileged user namespaces \
             disabled? see /proc/sys/user/max_user_namespaces)"
        )));
    }
    let mapping = parse_reply(&bytes).map_err(setup_err)?;
    // Nothing mounted from here on may reach the namespace we came from.
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|source| SandboxError::Sys {
        step: "make / rprivate in the new mount namespace",
        source,
    })?;
    Ok(mapping)
}

/// The child: waits until the parent has unshared, writes its maps, replies, and returns.
fn id_map_child(parent: Pid, go: OwnedFd, reply_w: OwnedFd) {
    // SAFETY: prctl with integer arguments; the child must not outlive a parent that died.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    let mut b = [0u8; 1];
    if !matches!(nix::unistd::read(go.as_fd(), &mut b), Ok(1)) {
        return;
    }
    let msg = reply(&write_id_maps(parent));
    let _ = nix::unistd::write(&reply_w, &msg);
}

fn read_all(fd: OwnedFd) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    let _ = std::fs::File::from(fd).read_to_end(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_round_trip() {
        let err = SandboxError::Setup {
            step: "user namespace id maps".into(),
            detail: "newuidmap failed: nope".into(),
        };
        assert_eq!(parse_reply(&reply(&Ok(true))), Ok(IdMapping::Delegated));
        assert_eq!(parse_reply(&reply(&Ok(false))), Ok(IdMapping::Single));
        assert_eq!(
            parse_reply(&reply(&Err(err))),
            Err("sandbox setup, user namespace id maps: newuidmap failed: nope".into())
        );
        assert!(parse_reply(b"").is_err());
        assert!(parse_reply(b"dx").is_err());
    }
}

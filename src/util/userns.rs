//! Running in a user namespace other than the initial one (a rootless strata that entered its
//! own): how to tell, which overlayfs xattr namespace applies, and the ownership changes and
//! device nodes such a namespace cannot make, counted instead of failing.
//!
//! Inside that namespace strata is uid 0, so `geteuid()` cannot tell it apart from real root;
//! `/proc/self/uid_map` can.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The opaque-directory xattr overlayfs reads on a normal mount.
pub const TRUSTED_OPAQUE: &str = "trusted.overlay.opaque";
/// The one it reads on a `userxattr` mount (the only kind a user namespace may make).
pub const USER_OPAQUE: &str = "user.overlay.opaque";

static SKIPPED_CHOWNS: AtomicU64 = AtomicU64::new(0);
static SKIPPED_DEVICES: AtomicU64 = AtomicU64::new(0);

/// Whether `uid_map` text is the initial namespace's identity map of every id.
pub fn is_initial_map(uid_map: &str) -> bool {
    let lines: Vec<Vec<&str>> = uid_map
        .lines()
        .map(|l| l.split_whitespace().collect())
        .filter(|f: &Vec<&str>| !f.is_empty())
        .collect();
    matches!(lines.as_slice(), [f] if f.as_slice() == ["0", "0", "4294967295"])
}

/// Whether this process runs in a user namespace other than the initial one. Read each time
/// (it is cheap and rare): the process may enter one after start-up.
pub fn in_user_namespace() -> bool {
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(text) => !is_initial_map(&text),
        // No /proc: nothing else would work either; assume the ordinary case.
        Err(_) => false,
    }
}

/// Whether `setgroups(2)` is allowed here (a namespace with a self-written single-id map
/// denies it, and so do the namespaces nested in it).
pub fn setgroups_allowed() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").map_or(true, |s| s.trim() != "deny")
}

/// The xattr that marks an overlayfs directory opaque for mounts this process makes.
pub fn opaque_xattr() -> &'static str {
    if in_user_namespace() {
        USER_OPAQUE
    } else {
        TRUSTED_OPAQUE
    }
}

/// `lchown`, except that in a user namespace an id without a mapping (`EINVAL`: the single-id
/// map, or an id past the delegated range) leaves the file as it is and is counted: the file
/// keeps the namespace's root as owner, as podman's `ignore_chown_errors` does.
pub fn lchown(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    match std::os::unix::fs::lchown(path, Some(uid), Some(gid)) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) && in_user_namespace() => {
            SKIPPED_CHOWNS.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        other => other,
    }
}

/// Whether a failed `mknod` of a device node is the user namespace's refusal (`EPERM`), which
/// the caller then skips; counts it when so.
pub fn device_refused(err: &io::Error) -> bool {
    let refused = err.raw_os_error() == Some(libc::EPERM) && in_user_namespace();
    if refused {
        SKIPPED_DEVICES.fetch_add(1, Ordering::Relaxed);
    }
    refused
}

/// What a user namespace made this process leave out so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Ownership changes to ids the namespace does not map.
    pub chowns: u64,
    /// Device nodes not created.
    pub devices: u64,
}

pub fn skipped() -> Skipped {
    Skipped {
        chowns: SKIPPED_CHOWNS.load(Ordering::Relaxed),
        devices: SKIPPED_DEVICES.load(Ordering::Relaxed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_map_table() {
        let cases = [
            ("         0          0 4294967295\n", true),
            ("0 0 4294967295", true),
            ("         0       1000          1\n", false),
            ("0 1000 1\n1 600000 65536\n", false),
            ("0 0 4294967294\n", false),
            ("", false),
        ];
        for (text, want) in cases {
            assert_eq!(is_initial_map(text), want, "{text:?}");
        }
    }

    #[test]
    fn outside_a_namespace_nothing_is_skipped() {
        // The test suite runs as real root in the initial namespace.
        assert!(!in_user_namespace());
        assert_eq!(opaque_xattr(), TRUSTED_OPAQUE);
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, "").unwrap();
        lchown(&f, 1234, 5678).unwrap();
        use std::os::unix::fs::MetadataExt;
        let md = std::fs::metadata(&f).unwrap();
        assert_eq!((md.uid(), md.gid()), (1234, 5678));
        assert_eq!(skipped(), Skipped::default());
    }
}

//! Mounts under a path, as `/proc/self/mountinfo` lists them, and their lazy detachment: a
//! killed strata leaves its overlays (and a secret's tmpfs) mounted in the host's namespace
//! under its temp items, and they must go before the items can.

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{umount2, MntFlags};

/// Mount points at or below `dir` in this process's mount namespace, deepest first (so a
/// mount goes before the one it sits on). A point mounted twice is listed twice.
pub fn mounts_under(mountinfo: &str, dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|mp| PathBuf::from(unescape(mp)))
        .filter(|mp| mp.starts_with(dir))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out
}

/// Detaches (`umount2(MNT_DETACH)`) every mount at or below `dir`, which must be canonical.
/// Fails on the first mount that cannot be detached: the caller must then leave `dir` alone,
/// since deleting through a live mount would delete what is mounted there.
pub fn detach_mounts_under(mountinfo: &str, dir: &Path) -> io::Result<usize> {
    let mut n = 0;
    for mp in mounts_under(mountinfo, dir) {
        match umount2(&mp, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW) {
            Ok(()) => n += 1,
            // Not (or no longer) a mount point: a point listed twice, already detached.
            Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
            Err(e) => {
                return Err(io::Error::new(
                    io::Error::from(e).kind(),
                    format!("cannot detach the mount at {}: {e}", mp.display()),
                ))
            }
        }
    }
    Ok(n)
}

/// mountinfo escapes space, tab, newline and backslash as octal (`\040`).
fn unescape(s: &str) -> OsString {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    OsString::from_vec(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "\
22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
80 22 0:50 / /s/tmp/step-a/merged rw,relatime - overlay overlay rw,lowerdir=/x
81 80 0:51 / /s/tmp/step-a/merged/proc rw - proc proc rw
82 22 0:52 / /s/tmp/step-ab rw - tmpfs tmpfs rw
83 22 0:53 / /s/tmp/with\\040space rw - tmpfs tmpfs rw
84 22 0:54 / /s/tmp/step-a rw - tmpfs tmpfs rw
";

    #[test]
    fn mounts_under_a_dir_deepest_first_and_not_its_namesakes() {
        for (dir, want) in [
            (
                "/s/tmp/step-a",
                vec![
                    "/s/tmp/step-a/merged/proc",
                    "/s/tmp/step-a/merged",
                    "/s/tmp/step-a",
                ],
            ),
            ("/s/tmp/step-ab", vec!["/s/tmp/step-ab"]),
            ("/s/tmp/with space", vec!["/s/tmp/with space"]),
            ("/s/tmp/none", vec![]),
        ] {
            let want: Vec<PathBuf> = want.into_iter().map(PathBuf::from).collect();
            assert_eq!(mounts_under(INFO, Path::new(dir)), want, "{dir}");
        }
    }

    #[test]
    fn octal_escapes() {
        for (raw, want) in [
            (r"/a\040b\134c", "/a b\\c"),
            ("/plain", "/plain"),
            (r"/trailing\04", r"/trailing\04"),
            (r"/tab\011", "/tab\t"),
        ] {
            assert_eq!(unescape(raw), OsString::from(want), "{raw}");
        }
    }
}

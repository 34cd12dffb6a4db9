//! The minimal busybox root the benches import or unpack as their image (shared by `run`, `net`,
//! `cli` and `platforms`), from Debian's busybox-static.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

/// The applets, root's passwd and group entries, and empty /etc, /tmp, /root, /proc, /sys and
/// /dev under `dir`.
pub fn busybox_rootfs(dir: &Path) {
    busybox_rootfs_from(dir, Path::new("/bin/busybox"));
}

/// `busybox_rootfs` with another busybox binary, e.g. Debian's arm64 busybox-static (the applet
/// list is the host's: Debian builds every architecture's busybox-static from one
/// configuration).
#[allow(dead_code)]
pub fn busybox_rootfs_from(dir: &Path, busybox: &Path) {
    fs::create_dir_all(dir.join("bin")).unwrap();
    fs::copy(busybox, dir.join("bin/busybox"))
        .unwrap_or_else(|e| panic!("{} (busybox-static): {e}", busybox.display()));
    let list = Command::new("/bin/busybox").arg("--list").output();
    let list = list.expect("/bin/busybox --list").stdout;
    for applet in String::from_utf8_lossy(&list).lines() {
        if applet != "busybox" {
            let _ = symlink("busybox", dir.join("bin").join(applet));
        }
    }
    for d in ["etc", "tmp", "root", "proc", "sys", "dev"] {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
    fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    fs::write(dir.join("etc/group"), "root:x:0:\n").unwrap();
}

//! The minimal busybox root the benches import or unpack as their image (shared by `run`, `net`
//! and `cli`), from Debian's busybox-static.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

/// The applets, root's passwd and group entries, and empty /etc, /tmp, /root, /proc, /sys and
/// /dev under `dir`.
pub fn busybox_rootfs(dir: &Path) {
    fs::create_dir_all(dir.join("bin")).unwrap();
    fs::copy("/bin/busybox", dir.join("bin/busybox")).expect("/bin/busybox (busybox-static)");
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

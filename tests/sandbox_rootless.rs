//! The sandbox without root: a forked copy of the test drops to uid 1000 (which has no
//! /etc/subuid ranges, so the single-id map) and runs a command. Networking is `None`:
//! rootless slirp4netns needs /dev/net/tun to be 0666, and on this machine it is 0600.

mod sandbox_common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Gid, Uid};
use sandbox_common::fixture;
use strata::sandbox::ExitStatus;

fn chown_tree(root: &Path, id: u32) {
    for entry in walkdir::WalkDir::new(root) {
        let entry = entry.unwrap();
        std::os::unix::fs::lchown(entry.path(), Some(id), Some(id)).unwrap();
    }
}

#[test]
fn rootless_single_id_map() {
    let fx = fixture();
    chown_tree(fx.dir.path(), 1000);
    let mut spec = fx.spec(
        "id -u; echo hi > /tmp/w; awk '{print $1, $2, $3}' /proc/self/uid_map; \
         grep -c ' /proc .* - proc ' /proc/self/mountinfo; hostname; \
         touch /sys/x 2>/dev/null || echo sys-ro",
    );
    spec.hostname = "rootless".into();
    let err_file = fx.path("err");
    // SAFETY: the child only drops privileges, runs the sandbox and `_exit`s.
    match unsafe { fork() }.unwrap() {
        ForkResult::Child => {
            let code = (|| {
                nix::unistd::setgroups(&[]).ok()?;
                nix::unistd::setresgid(
                    Gid::from_raw(1000),
                    Gid::from_raw(1000),
                    Gid::from_raw(1000),
                )
                .ok()?;
                nix::unistd::setresuid(
                    Uid::from_raw(1000),
                    Uid::from_raw(1000),
                    Uid::from_raw(1000),
                )
                .ok()?;
                // A process started as uid 1000 is dumpable; one that switched to it is not
                // until told so, and its /proc files would stay root's.
                // SAFETY: prctl with integer arguments.
                unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1) };
                let result = strata::sandbox::run(&spec);
                let _ = std::fs::write(&err_file, format!("{result:?}"));
                Some(matches!(result, Ok(o) if o.status == ExitStatus::Exited(0)))
            })();
            // SAFETY: leave the forked copy of the test without running anything else.
            unsafe { libc::_exit(if code == Some(true) { 0 } else { 1 }) }
        }
        ForkResult::Parent { child } => {
            let status = waitpid(child, None).unwrap();
            assert_eq!(
                status,
                WaitStatus::Exited(child, 0),
                "run: {}\nstderr: {}",
                std::fs::read_to_string(&err_file).unwrap_or_default(),
                fx.stderr()
            );
        }
    }
    assert_eq!(
        fx.stdout(),
        "0\n0 1000 1\n1\nrootless\nsys-ro\n",
        "{}",
        fx.stderr()
    );
    // Written as root inside, owned by uid 1000 outside.
    assert_eq!(
        std::fs::metadata(fx.upper.join("tmp/w")).unwrap().uid(),
        1000
    );
}

//! Giving the helper's fresh user namespace its id maps when we are not root: delegated
//! ranges from `/etc/subuid`/`/etc/subgid` through the setuid `newuidmap`/`newgidmap`, or,
//! without any, the single map (our own ids as 0) an unprivileged process may write itself.

use std::process::Command;

use nix::unistd::{Gid, Pid, Uid, User};

use super::error::SandboxError;
use super::idmap::{id_maps, newidmap_args, subid_ranges};

fn setup_err(detail: String) -> SandboxError {
    SandboxError::Setup {
        step: "user namespace id maps".into(),
        detail,
    }
}

/// Maps ids for process `pid`'s user namespace. Returns whether `setgroups` stays allowed
/// inside (it must be denied for a self-written single map).
pub fn write_id_maps(pid: Pid) -> Result<bool, SandboxError> {
    let (uid, gid) = (Uid::current().as_raw(), Gid::current().as_raw());
    let name = User::from_uid(Uid::current())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_default();
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let sub_u = subid_ranges(&read("/etc/subuid"), &name, uid);
    let sub_g = subid_ranges(&read("/etc/subgid"), &name, uid);
    if !sub_u.is_empty() && !sub_g.is_empty() {
        for (tool, maps) in [
            ("newuidmap", id_maps(uid, &sub_u)),
            ("newgidmap", id_maps(gid, &sub_g)),
        ] {
            let out = Command::new(tool)
                .args(newidmap_args(pid.as_raw(), &maps))
                .output()
                .map_err(|e| setup_err(format!("running {tool}: {e}")))?;
            if !out.status.success() {
                let err = String::from_utf8_lossy(&out.stderr);
                return Err(setup_err(format!("{tool} failed: {}", err.trim())));
            }
        }
        return Ok(true);
    }
    let proc = format!("/proc/{}", pid.as_raw());
    for (file, text) in [
        ("setgroups", "deny".to_string()),
        ("uid_map", format!("0 {uid} 1\n")),
        ("gid_map", format!("0 {gid} 1\n")),
    ] {
        std::fs::write(format!("{proc}/{file}"), text)
            .map_err(|e| setup_err(format!("writing {proc}/{file}: {e}")))?;
    }
    Ok(false)
}

//! A volume made with the local driver's `type`/`device`/`o` options is mounted on its
//! `_data` when the first container using it starts and unmounted when the last one stops,
//! as dockerd refcounts it (so a tmpfs volume's contents end with its last user).
//!
//! strata has no daemon to hold the count: each container that has the volume mounted is an
//! `active/<container id>` file beside it holding its monitor's pid and start time. A file
//! whose monitor is gone (a killed strata) counts for nothing, so a mount it left behind is
//! taken for stale: replaced at the next start, detached at the next `rm` or `volume rm`.

use std::path::Path;

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};

use super::record::ProcRef;
use super::volume_opts::{mount_error, needs_mount, plan, MountPlan};
use super::volume_store::{io_err, Volume, VolumeError, Volumes};
use crate::util::owned_tmp::{detach_mounts_under, mounts_under};

impl Volumes {
    /// Container `user`, run by `monitor`, starts with volume `name`: mounts it unless a live
    /// user has it mounted already. A volume without a mount of its own needs nothing.
    pub fn activate(&self, name: &str, user: &str, monitor: ProcRef) -> Result<(), VolumeError> {
        let _l = self.lock()?;
        let v = self.get(name)?;
        self.activate_locked(&v, user, monitor)
    }

    /// Container `user` stopped: the volume is unmounted if no live user is left.
    pub fn deactivate(&self, name: &str, user: &str) -> Result<(), VolumeError> {
        let _l = self.lock()?;
        match self.get(name) {
            Ok(v) => self.deactivate_locked(&v, user),
            Err(VolumeError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub(super) fn activate_locked(
        &self,
        v: &Volume,
        user: &str,
        monitor: ProcRef,
    ) -> Result<(), VolumeError> {
        if !needs_mount(&v.options) {
            return Ok(());
        }
        let active = self.vol_dir(&v.name).join("active");
        std::fs::create_dir_all(&active).map_err(io_err("create", &active))?;
        let others = live_users(&active, user)?;
        let data = canonical(&self.data_dir(&v.name))?;
        let mounted = is_mounted(&data)?;
        if !mounted || others == 0 {
            if mounted {
                self.detach_all(&v.name)?;
            }
            let failed = |detail: String| VolumeError::Mount {
                path: data.clone(),
                detail,
            };
            let p = plan(&v.options).map_err(|e| failed(e.to_string()))?;
            mount_plan(&p, &data)
                .map_err(|e| failed(format!("failed to mount local volume: {e}")))?;
        }
        let marker = active.join(user);
        let rec = format!("{} {}\n", monitor.pid, monitor.start);
        std::fs::write(&marker, rec).map_err(io_err("write", &marker))
    }

    pub(super) fn deactivate_locked(&self, v: &Volume, user: &str) -> Result<(), VolumeError> {
        let active = self.vol_dir(&v.name).join("active");
        let marker = active.join(user);
        match std::fs::remove_file(&marker) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("remove", &marker)(e)),
        }
        if !needs_mount(&v.options) || live_users(&active, user)? > 0 {
            return Ok(());
        }
        self.detach_all(&v.name)
    }

    /// Detaches whatever is mounted at or under volume `name`'s directory.
    pub(super) fn detach_all(&self, name: &str) -> Result<(), VolumeError> {
        let dir = self.vol_dir(name);
        let Ok(dir) = std::fs::canonicalize(&dir) else {
            return Ok(());
        };
        let info = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(io_err("read", Path::new("/proc/self/mountinfo")))?;
        detach_mounts_under(&info, &dir)
            .map(drop)
            .map_err(io_err("detach the mounts under", &dir))
    }
}

/// How many users other than `me` recorded in `active` still have a live monitor; the
/// records of dead ones are dropped on the way.
fn live_users(active: &Path, me: &str) -> Result<usize, VolumeError> {
    let rd = match std::fs::read_dir(active) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_err("read directory", active)(e)),
    };
    let mut n = 0;
    for e in rd {
        let e = e.map_err(io_err("read directory", active))?;
        if e.file_name() == me {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        if parse_monitor(&text).is_some_and(|m| m.alive()) {
            n += 1;
        } else {
            let _ = std::fs::remove_file(e.path());
        }
    }
    Ok(n)
}

fn parse_monitor(text: &str) -> Option<ProcRef> {
    let (pid, start) = text.trim().split_once(' ')?;
    Some(ProcRef {
        pid: pid.parse().ok()?,
        start: start.parse().ok()?,
    })
}

fn canonical(p: &Path) -> Result<std::path::PathBuf, VolumeError> {
    std::fs::canonicalize(p).map_err(io_err("resolve", p))
}

fn is_mounted(dir: &Path) -> Result<bool, VolumeError> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(io_err("read", Path::new("/proc/self/mountinfo")))?;
    Ok(mounts_under(&info, dir).iter().any(|m| m == dir))
}

/// The calls dockerd's mount package makes for one mount: the mount, then the propagation,
/// then a remount for a read-only bind. The error in its words.
fn mount_plan(p: &MountPlan, target: &Path) -> Result<(), String> {
    let fstype = Some(p.fstype.as_str()).filter(|t| !t.is_empty());
    let data = Some(p.data.as_str()).filter(|d| !d.is_empty());
    mount(Some(p.device.as_str()), target, fstype, p.flags, data)
        .map_err(|e| mount_error("mount", &p.device, target, p.flags, &p.data, e))?;
    let undo = |msg: String| {
        let _ = umount2(target, MntFlags::MNT_DETACH);
        msg
    };
    if !p.propagation.is_empty() {
        mount(
            None::<&str>,
            target,
            None::<&str>,
            p.propagation,
            None::<&str>,
        )
        .map_err(|e| undo(mount_error("remount", "", target, p.propagation, "", e)))?;
    }
    if p.remount_readonly() {
        let flags = p.flags | MsFlags::MS_REMOUNT;
        mount(None::<&str>, target, None::<&str>, flags, None::<&str>)
            .map_err(|e: Errno| undo(mount_error("remount-ro", "", target, flags, "", e)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_records() {
        assert_eq!(
            parse_monitor("12 345\n"),
            Some(ProcRef {
                pid: 12,
                start: 345
            })
        );
        assert_eq!(parse_monitor(""), None);
        assert_eq!(parse_monitor("12"), None);
        assert_eq!(parse_monitor("x 1"), None);
    }

    #[test]
    fn dead_monitors_count_for_nothing() {
        let dir = std::env::temp_dir().join(format!("strata-vm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let me = ProcRef::current().unwrap();
        std::fs::write(dir.join("live"), format!("{} {}", me.pid, me.start)).unwrap();
        std::fs::write(dir.join("dead"), format!("{} {}", me.pid, me.start + 1)).unwrap();
        std::fs::write(dir.join("self"), format!("{} {}", me.pid, me.start)).unwrap();
        assert_eq!(live_users(&dir, "self").unwrap(), 1);
        assert!(
            !dir.join("dead").exists(),
            "a dead user's record is dropped"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

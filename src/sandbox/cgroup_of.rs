//! The cgroups a running process is in, as `cgroup.procs` files: what an `exec` joins so its
//! command is limited, frozen and device-restricted like the container's own processes.

use std::path::PathBuf;

use super::cgroup::Layout;

/// The `cgroup.procs` files of the cgroups listed in a `/proc/PID/cgroup` text, under the
/// hierarchies of `layout`; hierarchies the layout does not have are skipped, and `/` (the
/// root cgroup, shared with the host) is never joined.
pub fn procs_files(layout: &Layout, proc_cgroup: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let rel = path.trim_start_matches('/');
        if rel.is_empty() {
            continue;
        }
        let base = match layout {
            Layout::V2 { root } if controllers.is_empty() => Some(root.clone()),
            Layout::V1 {
                controllers: mounted,
            } => controllers.split(',').find_map(|c| mounted.get(c)).cloned(),
            _ => None,
        };
        if let Some(base) = base {
            let file = base.join(rel).join("cgroup.procs");
            if !out.contains(&file) {
                out.push(file);
            }
        }
    }
    out
}

/// The `cgroup.procs` files of process `pid`'s cgroups on this host (none when cgroups are
/// not mounted or the process is gone).
pub fn of_process(pid: i32) -> Vec<PathBuf> {
    let Ok(layout) = Layout::detect() else {
        return Vec::new();
    };
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .map(|text| procs_files(&layout, &text))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_and_v2_lines_map_to_their_hierarchies() {
        let v1 = Layout::V1 {
            controllers: [
                (
                    "cpu".to_string(),
                    PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"),
                ),
                (
                    "cpuacct".to_string(),
                    PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"),
                ),
                ("memory".to_string(), PathBuf::from("/sys/fs/cgroup/memory")),
                (
                    "devices".to_string(),
                    PathBuf::from("/sys/fs/cgroup/devices"),
                ),
            ]
            .into(),
        };
        let text = "9:name=systemd:/\n5:devices:/strata/abc\n4:memory:/strata/abc\n\
                    2:cpu,cpuacct:/strata/abc\n3:cpuset:/\n0::/\n";
        assert_eq!(
            procs_files(&v1, text),
            [
                "/sys/fs/cgroup/devices/strata/abc/cgroup.procs",
                "/sys/fs/cgroup/memory/strata/abc/cgroup.procs",
                "/sys/fs/cgroup/cpu,cpuacct/strata/abc/cgroup.procs",
            ]
            .map(PathBuf::from)
        );
        let v2 = Layout::V2 {
            root: PathBuf::from("/sys/fs/cgroup"),
        };
        assert_eq!(
            procs_files(&v2, "0::/strata/abc\n"),
            [PathBuf::from("/sys/fs/cgroup/strata/abc/cgroup.procs")]
        );
        assert!(procs_files(&v2, "0::/\n").is_empty());
    }
}

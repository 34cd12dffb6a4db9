//! The devices cgroup of a sandbox (v1's `devices` controller): which device nodes its
//! processes may open, as Docker allows them — the standard character devices, ptys, and each
//! `--device` with its `rwm` letters; every device for `--privileged`. A second line of defence
//! behind `nodev` mounts. v2 has no such controller: there the same rules become an eBPF
//! program (`device_filter`).

use std::os::unix::fs::FileTypeExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::security::Security;

/// Docker's default allow list: `mknod` of anything (opening is what is checked), and the
/// nodes every sandbox gets in `/dev`.
pub const DEFAULT_ALLOWED: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",   // null
    "c 1:5 rwm",   // zero
    "c 1:7 rwm",   // full
    "c 1:8 rwm",   // random
    "c 1:9 rwm",   // urandom
    "c 5:0 rwm",   // tty
    "c 5:1 rwm",   // console
    "c 5:2 rwm",   // ptmx
    "c 136:* rwm", // the container's ptys
];

/// A node's type letter and numbers, from the host.
pub type NodeId = (char, u64, u64);

/// What to write to `devices.deny` (first) and `devices.allow` (then, line by line).
/// `stat` finds a host device's type and numbers.
pub fn rules(sec: &Security, stat: impl Fn(&Path) -> Option<NodeId>) -> (Vec<String>, Vec<String>) {
    if sec.privileged {
        return (Vec::new(), vec!["a *:* rwm".to_string()]);
    }
    let mut allow: Vec<String> = DEFAULT_ALLOWED.iter().map(|s| s.to_string()).collect();
    for dev in &sec.devices {
        if let Some((kind, major, minor)) = stat(&dev.host) {
            allow.push(format!("{kind} {major}:{minor} {}", dev.permissions));
        }
    }
    // Invalid ones never get this far: the start refuses them first.
    let valid = sec
        .device_cgroup_rules
        .iter()
        .filter(|r| cgroup_rule_valid(r));
    allow.extend(valid.cloned());
    (vec!["a".to_string()], allow)
}

/// Docker's pattern for a `--device-cgroup-rule`: `^[acb] ([0-9]+|\*):([0-9]+|\*) [rwm]{1,3}$`.
pub fn cgroup_rule_valid(rule: &str) -> bool {
    let number = |s: &str| s == "*" || (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    let parts: Vec<&str> = rule.split(' ').collect();
    let [kind, numbers, access] = parts.as_slice() else {
        return false;
    };
    let Some((major, minor)) = numbers.split_once(':') else {
        return false;
    };
    matches!(*kind, "a" | "b" | "c")
        && number(major)
        && number(minor)
        && (1..=3).contains(&access.len())
        && access.bytes().all(|b| matches!(b, b'r' | b'w' | b'm'))
}

/// dockerd's check when it builds the container's spec at start: the first invalid rule, in
/// its words.
pub fn check_cgroup_rules(rules: &[String]) -> Result<(), String> {
    match rules.iter().find(|r| !cgroup_rule_valid(r)) {
        Some(r) => Err(format!("invalid device cgroup rule format: '{r}'")),
        None => Ok(()),
    }
}

/// The type letter and numbers of a host device node; `None` for anything else.
pub fn stat_node(path: &Path) -> Option<NodeId> {
    let md = std::fs::metadata(path).ok()?;
    let kind = if md.file_type().is_char_device() {
        'c'
    } else if md.file_type().is_block_device() {
        'b'
    } else {
        return None;
    };
    let rdev = md.rdev();
    Some((kind, libc::major(rdev) as u64, libc::minor(rdev) as u64))
}

/// Writes the rules into a v1 devices cgroup directory (before any process joins it).
pub fn apply_v1(dir: &Path, sec: &Security) -> std::io::Result<()> {
    use std::io::Write;
    let (deny, allow) = rules(sec, stat_node);
    // The kernel takes one rule per write(2); each file is opened once for all of them.
    for (file, lines) in [("devices.deny", deny), ("devices.allow", allow)] {
        if lines.is_empty() {
            continue;
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join(file))?;
        for line in lines {
            let n = f.write(line.as_bytes())?;
            if n != line.len() {
                return Err(std::io::Error::other(format!(
                    "{file}: short write of {line:?}"
                )));
            }
        }
    }
    Ok(())
}

/// Restricts the devices of every cgroup among a sandbox's `cgroup.procs` files (the cgroups
/// it will join): v1's devices controller gets the rules, a v2 cgroup (it has
/// `cgroup.controllers`) the eBPF program built from the same rules; others are left alone.
pub fn restrict(cgroup_procs: &[std::path::PathBuf], sec: &Security) -> std::io::Result<()> {
    for dir in cgroup_procs.iter().filter_map(|p| p.parent()) {
        if dir.join("devices.deny").exists() {
            apply_v1(dir, sec)?;
        } else if dir.join("cgroup.controllers").exists() {
            super::device_filter_attach::attach(dir, sec)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::security::Device;

    #[test]
    fn defaults_devices_and_privileged() {
        let fake = |p: &Path| match p.to_str() {
            Some("/dev/fuse") => Some(('c', 10, 229)),
            Some("/dev/sda") => Some(('b', 8, 0)),
            _ => None,
        };
        let mut sec = Security::default();
        let (deny, allow) = rules(&sec, fake);
        assert_eq!(deny, ["a"]);
        assert_eq!(allow.len(), DEFAULT_ALLOWED.len());
        sec.devices = vec![
            Device {
                host: "/dev/fuse".into(),
                container: "/dev/fuse".into(),
                permissions: "rwm".into(),
            },
            Device {
                host: "/dev/sda".into(),
                container: "/dev/xvda".into(),
                permissions: "r".into(),
            },
        ];
        let (_, allow) = rules(&sec, fake);
        assert_eq!(allow[allow.len() - 2..], ["c 10:229 rwm", "b 8:0 r"]);
        sec.privileged = true;
        assert_eq!(rules(&sec, fake), (vec![], vec!["a *:* rwm".to_string()]));
    }

    #[test]
    fn cgroup_rules_are_dockers() {
        let cases = [
            ("c 1:3 rwm", true),
            ("a *:* r", true),
            ("b 8:* m", true),
            ("c 1:3 rrr", true),
            ("", false),
            ("a", false),
            ("c 1:3", false),
            ("c 1:3 rwmr", false),
            ("c  1:3 rwm", false),
            (" c 1:3 rwm", false),
            ("c 1:3 rwm ", false),
            ("x 1:3 rwm", false),
            ("c a:3 rwm", false),
            ("c 1: rwm", false),
            ("c 1:3 x", false),
        ];
        for (rule, ok) in cases {
            assert_eq!(cgroup_rule_valid(rule), ok, "{rule:?}");
        }
        let given = vec!["c 1:3 r".to_string(), "bad".into()];
        assert_eq!(
            check_cgroup_rules(&given),
            Err("invalid device cgroup rule format: 'bad'".into())
        );
        let sec = Security {
            device_cgroup_rules: given,
            ..Security::default()
        };
        let (_, allow) = rules(&sec, |_| None);
        assert_eq!(allow.last().map(String::as_str), Some("c 1:3 r"));
        assert_eq!(allow.len(), DEFAULT_ALLOWED.len() + 1);
    }

    #[test]
    fn host_nodes_are_read_from_the_host() {
        assert_eq!(stat_node(Path::new("/dev/null")), Some(('c', 1, 3)));
        assert_eq!(stat_node(Path::new("/")), None);
    }
}

//! Docker's security flags (`--cap-add`, `--cap-drop`, `--privileged`, `--security-opt`,
//! `--device`) resolved into a `Security`, for `run`/`create` and for `exec` over a container's
//! own; both front doors pass the flags as typed and get a checked value or a typed error.

use super::devices::DEFAULT_CAPS;
use super::seccomp::{self, Profile};
use super::security::{Device, SeccompPolicy, Security};

/// The flags as the user gave them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityFlags {
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub security_opt: Vec<String>,
    pub device: Vec<String>,
    pub device_cgroup_rules: Vec<String>,
}

impl SecurityFlags {
    /// The sandbox's security for a new container; a `--device` must exist on the host.
    pub fn resolve(&self) -> Result<Security, SecurityError> {
        let mut sec = Security {
            caps: resolve_caps(&self.cap_add, &self.cap_drop)?,
            device_cgroup_rules: self.device_cgroup_rules.clone(),
            ..Security::default()
        };
        for opt in &self.security_opt {
            apply_opt(&mut sec, opt)?;
        }
        for d in &self.device {
            let dev = parse_device(d)?;
            if !dev.host.exists() {
                return Err(SecurityError::MissingDevice(dev.host.display().to_string()));
            }
            sec.devices.push(dev);
        }
        if self.privileged {
            sec.privileged = true;
            sec.caps = Security::all_caps();
        }
        Ok(sec)
    }

    /// An exec's security over the container's own: `--privileged` gives every capability and
    /// no filter; `--cap-add`/`--cap-drop` change the container's set.
    pub fn for_exec(&self, container: &Security) -> Result<Security, SecurityError> {
        let mut sec = container.clone();
        if self.privileged {
            sec.privileged = true;
            sec.caps = Security::all_caps();
        } else {
            sec.caps = adjust_caps(&sec.caps, &self.cap_add, &self.cap_drop)?;
        }
        Ok(sec)
    }
}

/// Why `--cap-add`/`--cap-drop`/`--security-opt`/`--device` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecurityError {
    #[error("invalid {flag}: unknown capability: {name:?}")]
    UnknownCap { flag: &'static str, name: String },
    #[error("invalid --security-opt: {0:?}")]
    BadOpt(String),
    #[error("opening seccomp profile ({path}) failed: {detail}")]
    Profile { path: String, detail: String },
    #[error("invalid device mode: {0}")]
    BadDeviceMode(String),
    #[error("invalid device specification: {0}")]
    BadDevice(String),
    #[error("error gathering device information while adding custom device {0:?}: no such file or directory")]
    MissingDevice(String),
}

/// The capability set Docker gives for `--cap-add`/`--cap-drop` (names case-insensitive, with
/// or without `CAP_`, `ALL` for every one): drops apply to the default set, adds after, so
/// `--cap-drop ALL --cap-add NET_RAW` leaves exactly NET_RAW.
pub fn resolve_caps(add: &[String], drop: &[String]) -> Result<Vec<u32>, SecurityError> {
    adjust_caps(DEFAULT_CAPS, add, drop)
}

/// `base` with `drop` removed, then `add` added (the same rules as `resolve_caps`).
pub fn adjust_caps(
    base: &[u32],
    add: &[String],
    drop: &[String],
) -> Result<Vec<u32>, SecurityError> {
    let is_all = |s: &String| s.eq_ignore_ascii_case("all");
    let number = |flag, name: &String| {
        seccomp::cap_number(name).ok_or_else(|| SecurityError::UnknownCap {
            flag,
            name: name.clone(),
        })
    };
    let mut caps: Vec<u32> = if drop.iter().any(is_all) {
        Vec::new()
    } else {
        base.to_vec()
    };
    for name in drop.iter().filter(|n| !is_all(n)) {
        let n = number("CapDrop", name)?;
        caps.retain(|c| *c != n);
    }
    if add.iter().any(is_all) {
        return Ok(Security::all_caps());
    }
    for name in add {
        let n = number("CapAdd", name)?;
        if !caps.contains(&n) {
            caps.push(n);
        }
    }
    caps.sort_unstable();
    Ok(caps)
}

/// Applies one `--security-opt` value (`seccomp=unconfined|PATH`, `no-new-privileges[=true]`,
/// `apparmor=…` and `label=…` accepted and ignored as on a host without those LSMs).
pub fn apply_opt(sec: &mut Security, opt: &str) -> Result<(), SecurityError> {
    let (key, value) = opt
        .split_once(['=', ':'])
        .map_or((opt, None), |(k, v)| (k, Some(v)));
    match (key, value) {
        ("no-new-privileges", None | Some("true")) => sec.no_new_privileges = true,
        ("no-new-privileges", Some("false")) => sec.no_new_privileges = false,
        ("seccomp", Some("unconfined")) => sec.seccomp = SeccompPolicy::Unconfined,
        ("seccomp", Some(path)) if !path.is_empty() => {
            let text = std::fs::read_to_string(path).map_err(|e| SecurityError::Profile {
                path: path.to_string(),
                detail: e.to_string(),
            })?;
            Profile::from_json(&text).map_err(|e| SecurityError::Profile {
                path: path.to_string(),
                detail: e.to_string(),
            })?;
            sec.seccomp = SeccompPolicy::Profile(text);
        }
        ("apparmor" | "label" | "systempaths", Some(_)) => {}
        _ => return Err(SecurityError::BadOpt(opt.to_string())),
    }
    Ok(())
}

/// Parses `--device HOST[:CONTAINER][:PERMISSIONS]` as Docker does.
pub fn parse_device(spec: &str) -> Result<Device, SecurityError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let valid_mode =
        |m: &str| !m.is_empty() && m.len() <= 3 && m.chars().all(|c| "rwm".contains(c));
    let (host, container, permissions) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, m] if valid_mode(m) => (*h, *h, *m),
        [h, c] => (*h, *c, "rwm"),
        [h, c, m] => {
            if !valid_mode(m) {
                return Err(SecurityError::BadDeviceMode(m.to_string()));
            }
            (*h, *c, *m)
        }
        _ => return Err(SecurityError::BadDevice(spec.to_string())),
    };
    if !host.starts_with('/') || !container.starts_with('/') {
        return Err(SecurityError::BadDevice(spec.to_string()));
    }
    Ok(Device {
        host: host.into(),
        container: container.into(),
        permissions: permissions.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn cap_flags_resolve_as_docker_does() {
        let d = DEFAULT_CAPS.to_vec();
        let with = |extra: &[u32]| {
            let mut v: Vec<u32> = d.iter().chain(extra).copied().collect();
            v.sort_unstable();
            v
        };
        let without = |gone: u32| d.iter().copied().filter(|c| *c != gone).collect::<Vec<_>>();
        let cases: &[(&[&str], &[&str], Vec<u32>)] = &[
            (&[], &[], d.clone()),
            (&["SYS_ADMIN"], &[], with(&[21])),
            (&["cap_sys_admin"], &[], with(&[21])),
            (&["CAP_NET_ADMIN", "sys_ptrace"], &[], with(&[12, 19])),
            (&[], &["NET_RAW"], without(13)),
            (&[], &["ALL"], vec![]),
            (&["NET_RAW"], &["all"], vec![13]),
            (&["ALL"], &[], Security::all_caps()),
            (&["CHOWN"], &[], d.clone()),
        ];
        for (add, drop, want) in cases {
            assert_eq!(
                resolve_caps(&names(add), &names(drop)).unwrap(),
                *want,
                "add {add:?} drop {drop:?}"
            );
        }
        let err = resolve_caps(&names(&["CAP_BOGUS"]), &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid CapAdd: unknown capability: \"CAP_BOGUS\""
        );
    }

    #[test]
    fn security_opts() {
        let mut s = Security::default();
        apply_opt(&mut s, "no-new-privileges").unwrap();
        assert!(s.no_new_privileges);
        apply_opt(&mut s, "no-new-privileges=false").unwrap();
        assert!(!s.no_new_privileges);
        apply_opt(&mut s, "no-new-privileges:true").unwrap();
        assert!(s.no_new_privileges);
        apply_opt(&mut s, "seccomp=unconfined").unwrap();
        assert_eq!(s.seccomp, SeccompPolicy::Unconfined);
        apply_opt(&mut s, "apparmor=unconfined").unwrap();
        for bad in ["seccomp", "bogus=1", "no-new-privileges=maybe"] {
            assert!(apply_opt(&mut s, bad).is_err(), "{bad}");
        }
        let err = apply_opt(&mut s, "seccomp=/nonexistent/profile.json").unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/profile.json"),
            "{err}"
        );
    }

    #[test]
    fn device_specs() {
        let dev = |h: &str, c: &str, p: &str| Device {
            host: h.into(),
            container: c.into(),
            permissions: p.into(),
        };
        let cases: &[(&str, Device)] = &[
            ("/dev/fuse", dev("/dev/fuse", "/dev/fuse", "rwm")),
            ("/dev/fuse:r", dev("/dev/fuse", "/dev/fuse", "r")),
            ("/dev/sda:/dev/xvda", dev("/dev/sda", "/dev/xvda", "rwm")),
            ("/dev/sda:/dev/xvda:rw", dev("/dev/sda", "/dev/xvda", "rw")),
        ];
        for (spec, want) in cases {
            assert_eq!(parse_device(spec).unwrap(), *want, "{spec}");
        }
        for bad in ["fuse", "/dev/sda:/dev/xvda:rwx", "/a:/b:/c:r"] {
            assert!(parse_device(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn exec_flags_change_the_containers_set() {
        let container = Security {
            caps: vec![0, 21],
            ..Security::default()
        };
        let flags = |add: &[&str], drop: &[&str], privileged| SecurityFlags {
            cap_add: names(add),
            cap_drop: names(drop),
            privileged,
            ..SecurityFlags::default()
        };
        assert_eq!(
            flags(&[], &[], false).for_exec(&container).unwrap(),
            container
        );
        assert_eq!(
            flags(&["NET_RAW"], &["chown"], false)
                .for_exec(&container)
                .unwrap()
                .caps,
            [13, 21]
        );
        let p = flags(&[], &[], true).for_exec(&container).unwrap();
        assert!(p.privileged && p.caps == Security::all_caps());
        let err = flags(&[], &[], false);
        let err = SecurityFlags {
            device: vec!["/dev/nonexistent-x".into()],
            ..err
        }
        .resolve()
        .unwrap_err();
        assert!(err.to_string().contains("/dev/nonexistent-x"), "{err}");
    }
}

//! What a sandbox's processes may do, as data in the spec: capabilities, the seccomp policy,
//! no_new_privs, privileged mode and extra devices. Compiling the policy is pure and done by the
//! caller before any fork; the forked side only installs it (`user::switch_to`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::devices::DEFAULT_CAPS;
use super::error::SandboxError;
use super::seccomp::{self, Profile};

use super::seccomp::CAP_LAST_CAP as LAST_CAP;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Security {
    /// Root's capabilities in the sandbox: bounding, permitted and effective set. Inheritable
    /// and ambient sets are always empty, whatever the caller had.
    pub caps: Vec<u32>,
    /// `--privileged`: every capability, no seccomp filter, no masked paths, devices allowed.
    pub privileged: bool,
    /// `--security-opt no-new-privileges`: setuid binaries and file capabilities grant nothing.
    pub no_new_privileges: bool,
    pub seccomp: SeccompPolicy,
    /// `--device`: host device nodes bound into the sandbox's `/dev`.
    pub devices: Vec<Device>,
}

impl Default for Security {
    fn default() -> Self {
        Security {
            caps: DEFAULT_CAPS.to_vec(),
            privileged: false,
            no_new_privileges: false,
            seccomp: SeccompPolicy::Default,
            devices: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SeccompPolicy {
    /// Docker's default profile, with the rules the capability set enables.
    Default,
    /// `seccomp=unconfined`: no filter.
    Unconfined,
    /// A profile in Docker's JSON format (the file's text, so the spec is self-contained).
    Profile(String),
}

/// `--device HOST[:CONTAINER][:PERMISSIONS]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub host: PathBuf,
    pub container: PathBuf,
    /// Some of `rwm`: `w` missing makes the node read-only in the sandbox.
    pub permissions: String,
}

impl Security {
    /// Every capability (`--privileged`).
    pub fn all_caps() -> Vec<u32> {
        (0..=LAST_CAP).collect()
    }

    /// The seccomp programs to install, compiled for this capability set; none when
    /// unconfined or privileged.
    pub fn filters(&self) -> Result<Vec<Vec<libc::sock_filter>>, SandboxError> {
        if bench_unhardened() {
            return Ok(Vec::new());
        }
        let profile = match (&self.seccomp, self.privileged) {
            (_, true) | (SeccompPolicy::Unconfined, _) => return Ok(Vec::new()),
            (SeccompPolicy::Default, _) => Profile::docker_default(),
            (SeccompPolicy::Profile(text), _) => Profile::from_json(text)
                .map_err(|e| SandboxError::InvalidSpec(format!("seccomp profile: {e}")))?,
        };
        seccomp::compile(&profile, &self.caps)
            .map_err(|e| SandboxError::InvalidSpec(format!("seccomp profile: {e}")))
    }
}

/// `STRATA_BENCH_UNHARDENED=1`: no seccomp filter and no per-sandbox cgroup, for
/// `benches/hardening.rs` to measure what they cost. Never set outside that bench.
pub fn bench_unhardened() -> bool {
    std::env::var_os("STRATA_BENCH_UNHARDENED").is_some_and(|v| v == "1")
}

/// What the forked side applies when dropping privileges (borrowed, computed before the fork).
#[derive(Debug, Clone, Copy)]
pub struct Privileges<'a> {
    pub caps: &'a [u32],
    pub no_new_privs: bool,
    pub seccomp: &'a [Vec<libc::sock_filter>],
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
    fn privileged_and_unconfined_compile_to_no_filter() {
        let mut s = Security {
            seccomp: SeccompPolicy::Unconfined,
            ..Security::default()
        };
        assert!(s.filters().unwrap().is_empty());
        s.seccomp = SeccompPolicy::Default;
        assert!(!s.filters().unwrap().is_empty());
        s.privileged = true;
        assert!(s.filters().unwrap().is_empty());
    }
}

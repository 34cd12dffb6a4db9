//! The `HostConfig` settings about how a container is run rather than what it runs:
//! `PidMode` (acted on at start: the sandbox's pid namespace), `Runtime` and `Isolation`
//! (recorded; refused unless they name what strata is), and `StorageOpt` (refused: strata's
//! overlays have no project quotas). Checked at create as dockerd checks them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::ContainerError;
use super::record::{Container, Status};
use super::store::Containers;
use crate::sandbox::PidNamespace;

/// The runtime dockerd runs containers with unless told otherwise, and what inspect shows.
pub const DEFAULT_RUNTIME: &str = "runc";
/// The runtimes a Docker 28 daemon knows without configuration: strata stands in for both.
const RUNTIMES: &[&str] = &[DEFAULT_RUNTIME, "io.containerd.runc.v2"];

/// What the record keeps of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostOptions {
    /// Docker's `PidMode` as given: `""` (a namespace of its own), `host`, or
    /// `container:NAME|ID`, resolved at each start.
    pub pid_mode: String,
    /// `""` (recorded before this field) is the default runtime.
    pub runtime: String,
    /// `""` or `default` (any case): the only isolation on Linux.
    pub isolation: String,
}

/// The settings as given at create.
#[derive(Debug, Clone, Default)]
pub struct HostRequest {
    pub pid_mode: Option<String>,
    pub runtime: Option<String>,
    pub isolation: Option<String>,
    pub storage_opt: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostOptionError {
    #[error("invalid PID mode: {0}")]
    PidMode(String),
    #[error("unknown or invalid runtime name: {0}")]
    Runtime(String),
    #[error("invalid isolation '{0}' on linux")]
    Isolation(String),
    /// What overlay2 says when the filesystem under it has no project quotas.
    #[error("--storage-opt is supported only for overlay over xfs with 'pquota' mount option")]
    StorageSize,
    #[error("Unknown option {0}")]
    StorageOption(String),
}

impl HostOptionError {
    /// Whether dockerd answers it as a bad request (its create checks) rather than as a
    /// failure of the storage driver (500).
    pub fn is_invalid_request(&self) -> bool {
        !matches!(
            self,
            HostOptionError::StorageSize | HostOptionError::StorageOption(_)
        )
    }
}

/// dockerd's checks at create (`verifyPlatformContainerSettings`, the runtime lookup, the
/// overlay2 driver's `CreateReadWrite`), in its order; the record's settings.
pub fn check(req: &HostRequest) -> Result<HostOptions, HostOptionError> {
    let pid_mode = req.pid_mode.clone().unwrap_or_default();
    if !pid_mode_valid(&pid_mode) {
        return Err(HostOptionError::PidMode(pid_mode));
    }
    let runtime = match req.runtime.as_deref() {
        None | Some("") => DEFAULT_RUNTIME.to_string(),
        Some(r) if RUNTIMES.contains(&r) => r.to_string(),
        Some(r) => return Err(HostOptionError::Runtime(r.to_string())),
    };
    let isolation = req.isolation.clone().unwrap_or_default();
    if !(isolation.is_empty() || isolation.eq_ignore_ascii_case("default")) {
        return Err(HostOptionError::Isolation(isolation));
    }
    if req.storage_opt.contains_key("size") {
        return Err(HostOptionError::StorageSize);
    }
    if let Some(key) = req.storage_opt.keys().next() {
        return Err(HostOptionError::StorageOption(key.clone()));
    }
    Ok(HostOptions {
        pid_mode,
        runtime,
        isolation,
    })
}

/// Docker's `PidMode.Valid`: empty, `host`, or `container:` and a name.
fn pid_mode_valid(mode: &str) -> bool {
    let parts: Vec<&str> = mode.split(':').collect();
    match parts.as_slice() {
        [""] | ["host"] => true,
        ["container", name] => !name.is_empty(),
        _ => false,
    }
}

/// The docker CLI's own check of `--pid`, before it asks the daemon.
pub fn check_pid_flag(mode: &str) -> Result<(), String> {
    if pid_mode_valid(mode) {
        Ok(())
    } else {
        Err("--pid: invalid PID mode".to_string())
    }
}

/// At start: the pid namespace `c`'s `PidMode` names. Another container's must be running
/// (dockerd: "failed to join PID namespace: container ID is not running").
pub fn pid_namespace(cs: &Containers, c: &Container) -> Result<PidNamespace, ContainerError> {
    let mode = c.config.host.pid_mode.as_str();
    if mode == "host" {
        return Ok(PidNamespace::Host);
    }
    let Some(other) = mode.strip_prefix("container:") else {
        return Ok(PidNamespace::Own);
    };
    let join_err = |detail: String| ContainerError::PidNamespace { detail };
    let o = cs
        .find(other)
        .and_then(|o| cs.get_reconciled(&o.id))
        .map_err(|e| join_err(e.to_string()))?;
    match (o.state.status, o.state.pid) {
        (Status::Running, Some(p)) if p.alive() && o.id != c.id => {
            Ok(PidNamespace::Join(format!("/proc/{}/ns/pid", p.pid).into()))
        }
        _ => Err(join_err(format!("container {} is not running", o.id))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(pid: &str, runtime: &str, isolation: &str, storage: &[(&str, &str)]) -> HostRequest {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        HostRequest {
            pid_mode: some(pid),
            runtime: some(runtime),
            isolation: some(isolation),
            storage_opt: storage
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// (pid mode, runtime, isolation) as recorded, or the refusal.
    type Checked = Result<(&'static str, &'static str, &'static str), HostOptionError>;

    #[test]
    fn create_checks_as_dockerd() {
        use HostOptionError as E;
        // (pid mode, runtime, isolation, storage options, result)
        let cases: Vec<(HostRequest, Checked)> = vec![
            (req("", "", "", &[]), Ok(("", "runc", ""))),
            (
                req("host", "runc", "default", &[]),
                Ok(("host", "runc", "default")),
            ),
            (
                req("container:web", "io.containerd.runc.v2", "Default", &[]),
                Ok(("container:web", "io.containerd.runc.v2", "Default")),
            ),
            (
                req("container:", "", "", &[]),
                Err(E::PidMode("container:".into())),
            ),
            (
                req("container", "", "", &[]),
                Err(E::PidMode("container".into())),
            ),
            (req("bogus", "", "", &[]), Err(E::PidMode("bogus".into()))),
            (
                req("container:a:b", "", "", &[]),
                Err(E::PidMode("container:a:b".into())),
            ),
            (req("", "nvidia", "", &[]), Err(E::Runtime("nvidia".into()))),
            (
                req("", "", "hyperv", &[]),
                Err(E::Isolation("hyperv".into())),
            ),
            (
                req("", "", "process", &[]),
                Err(E::Isolation("process".into())),
            ),
            (req("", "", "", &[("size", "1G")]), Err(E::StorageSize)),
            (
                req("", "", "", &[("zsize", "1"), ("size", "1G")]),
                Err(E::StorageSize),
            ),
            (
                req("", "", "", &[("foo", "1")]),
                Err(E::StorageOption("foo".into())),
            ),
        ];
        for (r, want) in cases {
            let got = check(&r).map(|h| (h.pid_mode, h.runtime, h.isolation));
            let want = want.map(|(p, r, i)| (p.to_string(), r.to_string(), i.to_string()));
            assert_eq!(got, want, "{r:?}");
        }
        assert_eq!(
            E::Isolation("hyperv".into()).to_string(),
            "invalid isolation 'hyperv' on linux"
        );
        assert!(E::Runtime("x".into()).is_invalid_request());
        assert!(!E::StorageSize.is_invalid_request());
        assert_eq!(check_pid_flag("host"), Ok(()));
        assert_eq!(
            check_pid_flag("nope"),
            Err("--pid: invalid PID mode".to_string())
        );
    }
}

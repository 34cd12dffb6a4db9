//! A build's `networkmode` beyond the sandbox's own, host and none: a user network, on which
//! each RUN gets a short-lived endpoint (so it reaches the network's containers by name), or
//! `container:X`, whose namespace each RUN joins. Both are resolved when a RUN starts, as
//! dockerd's classic builder resolves each step container's network when it starts it: an
//! unknown network fails the first RUN, and a build without RUN never looks.

use std::path::{Path, PathBuf};

use crate::container::net;
use crate::container::store::Containers;
use crate::exec::step_network::{Attached, NetworkFailure, StepNetworks};

/// The network modes RUN steps take without help: the sandbox's own (`default`, `bridge`;
/// strata's steps keep user-mode networking), `host` and `none`.
pub fn is_sandbox_mode(mode: &str) -> bool {
    matches!(mode, "" | "default" | "bridge" | "host" | "none")
}

/// `networkmode` (or `build --network`) as [`RunDefaults::network`](super::RunDefaults)
/// keeps it: `None` for the sandbox's own network.
pub fn run_default(mode: Option<&str>) -> Option<String> {
    match mode {
        None | Some("" | "default" | "bridge") => None,
        Some(m) => Some(m.to_string()),
    }
}

/// What a `networkmode` outside [`is_sandbox_mode`] names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A user network, by name or id.
    Network(String),
    /// A container (name or id) whose namespace the steps join.
    Container(String),
}

impl Target {
    /// `None` for the modes the sandbox makes by itself.
    pub fn parse(mode: &str) -> Option<Target> {
        if is_sandbox_mode(mode) {
            return None;
        }
        Some(match mode.strip_prefix("container:") {
            Some(c) => Target::Container(c.to_string()),
            None => Target::Network(mode.to_string()),
        })
    }
}

/// [`StepNetworks`] over the store's networks and containers.
pub struct RunNetwork {
    root: PathBuf,
    target: Target,
}

impl RunNetwork {
    pub fn new(root: &Path, target: Target) -> RunNetwork {
        RunNetwork {
            root: root.to_path_buf(),
            target,
        }
    }
}

impl StepNetworks for RunNetwork {
    fn attach(&self, hostname: &str) -> Result<Attached, NetworkFailure> {
        match &self.target {
            Target::Network(name) => {
                let ep = net::step_endpoint(&self.root, name, hostname)?;
                Ok(Attached {
                    mode: ep.mode(),
                    etc: Some(ep.etc().clone()),
                    hold: Some(Box::new(ep)),
                })
            }
            Target::Container(name) => {
                let path = net::container_namespace(&Containers::new(&self.root), name)?;
                Ok(Attached {
                    mode: crate::sandbox::NetworkMode::Join(path),
                    etc: None,
                    hold: None,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_modes_need_the_engine() {
        for (mode, want) in [
            ("", None),
            ("default", None),
            ("bridge", None),
            ("host", None),
            ("none", None),
            ("app", Some(Target::Network("app".into()))),
            ("0123abcd", Some(Target::Network("0123abcd".into()))),
            ("container:db", Some(Target::Container("db".into()))),
        ] {
            assert_eq!(Target::parse(mode), want, "{mode:?}");
            let kept = run_default(Some(mode));
            assert_eq!(
                kept.is_none(),
                matches!(mode, "" | "default" | "bridge"),
                "{mode:?}"
            );
        }
    }
}

//! Settings resolution: flags, then environment, then built-in defaults, into typed settings.
//!
//! Precedence for the store root: `--root` > `STRATA_ROOT` (both handled by clap) >
//! `/var/lib/strata` when running as root > `$XDG_DATA_HOME/strata` > `$HOME/.local/share/strata`.

use std::path::PathBuf;

use anyhow::{bail, Result};

use super::args::GlobalArgs;

#[derive(Debug, Clone)]
pub struct Settings {
    pub root: PathBuf,
}

impl Settings {
    pub fn resolve(global: &GlobalArgs) -> Result<Self> {
        let root = match &global.root {
            Some(r) => r.clone(),
            None => default_root()?,
        };
        // Absolute, because overlay mount options and sandbox specs need absolute paths.
        let root = std::path::absolute(&root)
            .map_err(|e| anyhow::anyhow!("store root {}: {e}", root.display()))?;
        Ok(Settings { root })
    }
}

fn default_root() -> Result<PathBuf> {
    if nix::unistd::geteuid().is_root() {
        return Ok(PathBuf::from("/var/lib/strata"));
    }
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(x).join("strata"));
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(h) => Ok(PathBuf::from(h).join(".local/share/strata")),
        None => bail!("cannot pick a store directory: set --root, STRATA_ROOT or HOME"),
    }
}

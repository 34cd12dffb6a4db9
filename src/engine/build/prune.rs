//! Build cache garbage collection (`strata builder prune`, `POST /build/prune`): by default
//! what can give no cache hit; with `all`, every entry and the contents of RUN cache mounts.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::engine::EngineError;
use crate::exec::mounts::cache_mount_dirs;
use crate::store::build_prune::{BuildPruneOptions, BuildPruneReport};
use crate::store::Store;

/// What to prune.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildPruneRequest {
    pub all: bool,
    /// Keep at most this many bytes, least recently used removed first.
    pub keep_storage: Option<u64>,
    /// Only cache unused for this long.
    pub until: Option<Duration>,
}

/// An invalid Go-style duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {0:?}: expected e.g. 24h, 90m or 1h30m")]
pub struct BadDuration(pub String);

pub fn prune(root: &Path, req: &BuildPruneRequest) -> Result<BuildPruneReport, EngineError> {
    let mut opts = BuildPruneOptions {
        all: req.all,
        keep_storage: req.keep_storage,
        unused_since: req.until.map(|age| SystemTime::now() - age),
        ..Default::default()
    };
    // Cache mounts hold what RUN steps chose to keep; only an explicit request removes them.
    if req.all || req.keep_storage.is_some() {
        opts.extra = cache_mount_dirs(root);
    }
    opts.keep_manifests = crate::engine::system::container_manifests(root)?;
    // The kept contexts of API builds are a cache of uploads, gone with the rest on `--all`.
    if req.all {
        crate::engine::context_mirror::prune(root);
    }
    let store = Store::open(root)?;
    Ok(store.prune_build_cache(&opts)?)
}

/// Go-style durations as Docker takes them (`24h`, `90m`, `1h30m`, `500ms`); not negative.
pub fn parse_duration(s: &str) -> Result<Duration, BadDuration> {
    crate::util::go_duration::parse(s.trim())
        .and_then(|ns| u64::try_from(ns).ok())
        .map(Duration::from_nanos)
        .ok_or_else(|| BadDuration(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (s, secs) in [
            ("24h", 86400.0),
            ("90m", 5400.0),
            ("1h30m", 5400.0),
            ("45s", 45.0),
        ] {
            assert_eq!(
                parse_duration(s).unwrap(),
                Duration::from_secs_f64(secs),
                "{s}"
            );
        }
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        for bad in ["", "h", "10", "10d", "1h-3m", "-1h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}

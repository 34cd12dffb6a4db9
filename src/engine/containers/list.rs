//! `ps`: the containers a listing selects, newest first, each a typed row (the record, its
//! sizes when asked for, and the values Docker derives from it); formatting them is the front
//! door's.

use std::collections::HashMap;
use std::path::Path;

use super::error::Result;
use crate::container::filter::Filters;
use crate::container::record::MountSpec;
use crate::container::record_cache::RecordCache;
use crate::container::volume_store::anonymous_name;
use crate::container::{Container, Containers, Status};
use crate::digest::Digest;
use crate::network::ports::PortBinding;
use crate::store::time::{human_duration, parse_rfc3339};
use crate::store::Store;

/// Which containers to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListRequest {
    /// Every container, not only running ones.
    pub all: bool,
    /// `KEY=VALUE` filters as `ps --filter` takes them; the same key twice matches either.
    pub filters: Vec<String>,
    /// Only the N last created (any state).
    pub last: Option<usize>,
    /// Compute each container's sizes.
    pub size: bool,
}

/// One container of a listing.
#[derive(Debug, Clone)]
pub struct ContainerSummary {
    pub container: Container,
    /// The bytes of its own writes (Docker's `SizeRw`), when asked for.
    pub size_rw: Option<u64>,
    /// Those plus its image's (Docker's `SizeRootFs`, "virtual"), when asked for.
    pub size_root_fs: Option<u64>,
}

/// The containers `req` selects, newest first.
pub fn list(root: &Path, req: &ListRequest) -> Result<Vec<ContainerSummary>> {
    list_with(root, None, req)
}

/// [`list`] for a long-lived caller, which keeps parsed records in `cache` between calls.
pub fn list_with(
    root: &Path,
    cache: Option<&RecordCache>,
    req: &ListRequest,
) -> Result<Vec<ContainerSummary>> {
    let cs = Containers::new(root);
    let all = cs.list_with(cache)?;
    let filters = Filters::parse(&req.filters)?;
    // As Docker: a status filter or a count looks at every container, not only running ones.
    let every = req.all
        || req.last.is_some()
        || !filters.values("status").is_empty()
        || !filters.values("exited").is_empty();
    let created_of = |q: &str| {
        all.iter()
            .find(|c| c.name == q || c.id.starts_with(q))
            .map(|c| c.created.clone())
    };
    let selected: Vec<bool> = (all.iter())
        .map(|c| (every || c.state.status == Status::Running) && filters.matches(c, &created_of))
        .collect();
    // Taken out of `all` rather than cloned: a listing of many containers is mostly copying.
    let mut list: Vec<Container> = (all.into_iter().zip(selected))
        .filter_map(|(c, keep)| keep.then_some(c))
        .collect();
    list.reverse();
    if let Some(n) = req.last {
        list.truncate(n);
    }
    let store = if req.size {
        Some(Store::open(root)?)
    } else {
        None
    };
    // Many containers share an image: each image's size is looked up once.
    let mut image_sizes: HashMap<Digest, u64> = HashMap::new();
    Ok(list
        .into_iter()
        .map(|c| {
            let sizes = store.as_ref().map(|store| {
                let own = crate::container::diff::upper_size(&cs.upperdir(&c.id));
                let image = *image_sizes.entry(c.manifest_digest).or_insert_with(|| {
                    store
                        .image(&c.manifest_digest)
                        .map(|i| i.size())
                        .unwrap_or(0)
                });
                (own, own + image)
            });
            ContainerSummary {
                container: c,
                size_rw: sizes.map(|s| s.0),
                size_root_fs: sizes.map(|s| s.1),
            }
        })
        .collect())
}

impl ContainerSummary {
    /// Its published ports, as bound (none when it does not run).
    pub fn ports(&self) -> &[PortBinding] {
        self.container.published_ports()
    }
}

/// The command a container runs, entrypoint and arguments joined by spaces.
pub fn command(c: &Container) -> String {
    c.config.argv.join(" ")
}

/// How many volumes (named or anonymous) a container mounts (Docker's `LocalVolumes`).
pub fn local_volumes(c: &Container) -> usize {
    c.config
        .mounts
        .iter()
        .filter(|m| matches!(m, MountSpec::Volume { .. }))
        .count()
}

/// Each mount's volume name or bind source (tmpfs mounts have none).
pub fn mount_names(c: &Container) -> Vec<String> {
    c.config
        .mounts
        .iter()
        .filter_map(|m| match m {
            MountSpec::Volume { name, target, .. } => Some(
                name.clone()
                    .unwrap_or_else(|| anonymous_name(&c.id, target)),
            ),
            MountSpec::Bind { source, .. } => Some(source.display().to_string()),
            MountSpec::Tmpfs { .. } => None,
        })
        .collect()
}

/// A container's networks' names, or its network mode when it has none.
pub fn networks(c: &Container) -> Vec<String> {
    let net = &c.config.net;
    if net.endpoints.is_empty() {
        return vec![net.mode.clone()];
    }
    net.endpoints.iter().map(|e| e.network.clone()).collect()
}

/// Docker's STATUS column: `Up 3 seconds`, `Up 1 minute (healthy)`, `Exited (0) 2 minutes
/// ago`, `Created`.
pub fn status_text(c: &Container, now: i64) -> String {
    let since = |t: &Option<String>| t.as_deref().and_then(parse_rfc3339).map(|t| now - t);
    match c.state.status {
        Status::Running => format!(
            "Up {}{}",
            human_duration(since(&c.state.started_at).unwrap_or(0)),
            match &c.state.health {
                _ if c.state.paused => " (Paused)",
                Some(h) => h.status.ps_suffix(),
                None => "",
            }
        ),
        Status::Exited if c.state.restarting => format!(
            "Restarting ({}) {} ago",
            c.state.exit_code.unwrap_or(0),
            human_duration(since(&c.state.finished_at).unwrap_or(0))
        ),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            c.state.exit_code.unwrap_or(0),
            human_duration(since(&c.state.finished_at).unwrap_or(0))
        ),
        Status::Created => "Created".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::health::{Health, HealthStatus};
    use crate::container::record::test_record;

    #[test]
    fn the_status_column_shows_health_while_up() {
        let mut c = test_record(Status::Running, None);
        c.state.started_at = Some("2026-01-01T00:00:00Z".into());
        let now = parse_rfc3339("2026-01-01T00:00:03Z").unwrap();
        let health = |status| {
            Some(Health {
                status,
                failing_streak: 0,
                log: vec![],
            })
        };
        // (health, paused, column)
        let cases = [
            (None, false, "Up 3 seconds"),
            (
                health(HealthStatus::Starting),
                false,
                "Up 3 seconds (health: starting)",
            ),
            (
                health(HealthStatus::Healthy),
                false,
                "Up 3 seconds (healthy)",
            ),
            (
                health(HealthStatus::Unhealthy),
                false,
                "Up 3 seconds (unhealthy)",
            ),
            (health(HealthStatus::Healthy), true, "Up 3 seconds (Paused)"),
        ];
        for (h, paused, want) in cases {
            c.state.health = h;
            c.state.paused = paused;
            assert_eq!(status_text(&c, now), want);
        }
        // Stopped, the health stays recorded but the column does not show it.
        c.state.status = Status::Exited;
        c.state.exit_code = Some(0);
        c.state.finished_at = Some("2026-01-01T00:00:01Z".into());
        assert_eq!(status_text(&c, now), "Exited (0) 2 seconds ago");
    }
}

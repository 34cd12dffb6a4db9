//! `container prune`: every stopped container the filters select goes, with how much space
//! its own writes took.

use super::error::ContainerError;
use super::filter::has_label;
use super::record::Status;
use super::store::Containers;
use super::{diff, lifecycle, logfile};
use crate::store::events::{now_ns, parse_time};
use crate::store::Store;

/// `--filter until=TIME`, `label=KEY[=VALUE]` and `label!=KEY[=VALUE]`, all of which must hold.
#[derive(Debug, Clone, Default)]
pub struct PruneFilters {
    /// Unix nanoseconds: only containers created before.
    pub until: Option<i128>,
    /// (wanted, spec): `label=` wants the label, `label!=` wants it absent.
    pub labels: Vec<(bool, String)>,
}

impl PruneFilters {
    pub fn parse(specs: &[String]) -> Result<PruneFilters, ContainerError> {
        let mut f = PruneFilters::default();
        for s in specs {
            match s.split_once('=') {
                Some(("until", t)) => {
                    f.until = Some(parse_time(t, now_ns()).map_err(|e| {
                        ContainerError::Filter(format!("invalid filter {s:?}: {e}"))
                    })?)
                }
                Some(("label", l)) => f.labels.push((true, l.to_string())),
                Some(("label!", l)) => f.labels.push((false, l.to_string())),
                _ => {
                    return Err(ContainerError::Filter(format!(
                        "invalid filter {s:?}: expected until=TIME or label=KEY[=VALUE]"
                    )))
                }
            }
        }
        Ok(f)
    }
}

/// Removes the stopped containers `filters` select; returns their IDs and the bytes their
/// upper directories held.
pub fn prune(store: &Store, filters: &PruneFilters) -> Result<(Vec<String>, u64), ContainerError> {
    let cs = Containers::new(store.root());
    let mut removed = Vec::new();
    let mut reclaimed = 0u64;
    for c in cs.list()? {
        if c.state.status == Status::Running || c.state.restarting {
            continue;
        }
        let created = logfile::parse_time_ns(&c.created).unwrap_or(0);
        if filters.until.is_some_and(|u| created >= u) {
            continue;
        }
        if !filters
            .labels
            .iter()
            .all(|(want, l)| has_label(&c, l) == *want)
        {
            continue;
        }
        let size = diff::upper_size(&cs.upperdir(&c.id));
        if lifecycle::remove(store, &c, false, false).is_ok() {
            reclaimed += size;
            removed.push(c.id);
        }
    }
    Ok((removed, reclaimed))
}

//! `volume ls --filter KEY=VALUE` as Docker reads it (pure), and which volumes the containers
//! use (what `dangling` and `volume prune` ask). The same key given twice matches either value,
//! except `label`, where every value must match; different keys must all match.

use std::collections::{BTreeMap, BTreeSet};

use super::record::{Container, MountSpec};
use super::volume_store::{anonymous_name, Volume};
use crate::store::image_filter::{
    bool_value, filter_values, label_spec, labels_match, split_filters, FilterError,
};

/// The filter keys `volume ls` takes.
pub const KEYS: &[&str] = &["dangling", "driver", "label", "name"];

/// The only volume driver strata has.
pub const DRIVER: &str = "local";

/// Parsed `volume ls --filter` values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeFilters {
    dangling: Option<bool>,
    drivers: Vec<String>,
    labels: Vec<(String, Option<String>)>,
    names: Vec<String>,
}

impl VolumeFilters {
    pub fn parse(specs: &[String]) -> Result<VolumeFilters, FilterError> {
        let pairs = split_filters(specs, KEYS)?;
        let values = |key: &str| filter_values(&pairs, key);
        Ok(VolumeFilters {
            dangling: bool_value("dangling", &values("dangling"))?,
            drivers: values("driver").iter().map(|s| s.to_string()).collect(),
            labels: values("label").into_iter().map(label_spec).collect(),
            names: values("name").iter().map(|s| s.to_string()).collect(),
        })
    }

    /// Whether `v` passes; `in_use` is whether any container uses it.
    pub fn matches(&self, v: &Volume, in_use: bool) -> bool {
        // Docker matches `name` as a regular expression; strata as a substring, which is what
        // a plain name given as a regular expression matches too.
        (self.names.is_empty() || self.names.iter().any(|n| v.name.contains(n.as_str())))
            && (self.drivers.is_empty() || self.drivers.iter().any(|d| d == DRIVER))
            && (self.labels.is_empty() || labels_match(&self.labels, &v.docker_labels()))
            && self.dangling.is_none_or(|d| d != in_use)
    }
}

/// The volumes `containers` mount, each with the IDs of the containers mounting it: named
/// ones by name, anonymous ones by the name they get for that container and target.
pub fn volume_users(containers: &[Container]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for c in containers {
        for m in &c.config.mounts {
            if let MountSpec::Volume { name, target, .. } = m {
                let name = name
                    .clone()
                    .unwrap_or_else(|| anonymous_name(&c.id, target));
                out.entry(name).or_default().insert(c.id.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vol(name: &str, anonymous: bool, labels: &[(&str, &str)]) -> Volume {
        Volume {
            name: name.into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            anonymous,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            options: Default::default(),
            mountpoint: Default::default(),
        }
    }

    #[test]
    fn filters_match_as_dockers() {
        let data = vol("data", false, &[("env", "prod"), ("team", "")]);
        let anon = vol(&"ab".repeat(32), true, &[]);
        // (filters, data in use?, data listed, anonymous (unused) listed)
        let cases: &[(&[&str], bool, bool, bool)] = &[
            (&[], false, true, true),
            (&["name=dat"], false, true, false),
            (&["name=xyz", "name=ata"], false, true, false),
            (&["driver=local"], false, true, true),
            (&["driver=nfs"], false, false, false),
            (&["label=env"], false, true, false),
            (&["label=env=prod"], false, true, false),
            (&["label=env=dev"], false, false, false),
            (&["label=env", "label=team="], false, true, false),
            (&["label=env", "label=owner"], false, false, false),
            (&["label=com.docker.volume.anonymous"], false, false, true),
            (&["dangling=true"], false, true, true),
            (&["dangling=true"], true, false, true),
            (&["dangling=false"], true, true, false),
            (&["dangling=false", "name=data"], false, false, false),
        ];
        for (specs, in_use, want_data, want_anon) in cases {
            let specs: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
            let f = VolumeFilters::parse(&specs).unwrap();
            assert_eq!(f.matches(&data, *in_use), *want_data, "{specs:?} data");
            assert_eq!(f.matches(&anon, false), *want_anon, "{specs:?} anonymous");
        }
        for (spec, msg) in [
            ("colour=red", "invalid filter 'colour'"),
            ("dangling=yes", "invalid filter 'dangling=yes'"),
            ("name", "expected name=value"),
        ] {
            let e = VolumeFilters::parse(&[spec.to_string()])
                .unwrap_err()
                .to_string();
            assert!(e.contains(msg), "{spec}: {e}");
        }
    }
}

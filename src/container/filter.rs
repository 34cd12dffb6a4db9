//! `ps --filter KEY=VALUE` as Docker reads it (pure): the same key given twice matches
//! either value, different keys must all match. `before`/`since` name another container,
//! resolved by the caller.

use super::error::ContainerError;
use super::record::{Container, MountSpec, Status};

/// The filter keys `ps` takes (`restart-policy` is strata's, for `start --all` after a
/// reboot).
pub const KEYS: &[&str] = &[
    "id",
    "name",
    "label",
    "status",
    "exited",
    "ancestor",
    "before",
    "since",
    "volume",
    "network",
    "restart-policy",
    "health",
];

/// Parsed `--filter` values: (key, value) pairs, keys checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters(Vec<(String, String)>);

impl Filters {
    pub fn parse(specs: &[String]) -> Result<Filters, ContainerError> {
        let mut out = Vec::new();
        for s in specs {
            let Some((k, v)) = s.split_once('=') else {
                return Err(ContainerError::Filter(format!(
                    "bad format of filter (expected name=value): {s}"
                )));
            };
            if !KEYS.contains(&k) {
                return Err(ContainerError::Filter(format!("invalid filter '{k}'")));
            }
            if k == "status"
                && ![
                    "created",
                    "restarting",
                    "running",
                    "removing",
                    "paused",
                    "exited",
                    "dead",
                ]
                .contains(&v)
            {
                return Err(ContainerError::Filter(format!(
                    "invalid filter 'status={v}': expected created, restarting, running, \
                     removing, paused, exited or dead"
                )));
            }
            if k == "health" && !["starting", "healthy", "unhealthy", "none"].contains(&v) {
                return Err(ContainerError::Filter(format!(
                    "Unrecognised filter value for health: {v}"
                )));
            }
            if k == "exited" && v.parse::<i32>().is_err() {
                return Err(ContainerError::Filter(format!(
                    "invalid filter 'exited={v}': expected an exit code"
                )));
            }
            out.push((k.to_string(), v.to_string()));
        }
        Ok(Filters(out))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The values given for `key`.
    pub fn values(&self, key: &str) -> Vec<&str> {
        crate::store::image_filter::filter_values(&self.0, key)
    }

    /// Whether `c` passes. `created_of` gives the creation time of the container a
    /// `before`/`since` value names (None: no such container, which matches nothing).
    pub fn matches(&self, c: &Container, created_of: &dyn Fn(&str) -> Option<String>) -> bool {
        KEYS.iter().all(|key| {
            let vals = self.values(key);
            // Docker requires every label filter; other keys match any of their values.
            if *key == "label" {
                return vals.iter().all(|v| matches_one(c, key, v, created_of));
            }
            vals.is_empty() || vals.iter().any(|v| matches_one(c, key, v, created_of))
        })
    }
}

/// Docker's `label=KEY` (has it) or `label=KEY=VALUE` (has it with that value).
pub fn has_label(c: &Container, spec: &str) -> bool {
    match spec.split_once('=') {
        Some((k, want)) => c.config.labels.get(k).is_some_and(|have| have == want),
        None => c.config.labels.contains_key(spec),
    }
}

fn matches_one(
    c: &Container,
    key: &str,
    v: &str,
    created_of: &dyn Fn(&str) -> Option<String>,
) -> bool {
    match key {
        "id" => c.id.starts_with(v),
        "name" => c.name.contains(v.trim_start_matches('/')),
        "label" => has_label(c, v),
        "status" => c.docker_status() == v,
        "restart-policy" => c.config.restart.name == v,
        // A container that never ran a probe has no health: `none`.
        "health" => {
            c.state
                .health
                .as_ref()
                .map_or("none", |h| h.status.as_str())
                == v
        }
        "exited" => {
            c.state.status == Status::Exited
                && c.state.exit_code.map(|e| e.to_string()) == Some(v.to_string())
        }
        "ancestor" => {
            c.image == v
                || c.image.split(':').next() == Some(v)
                || c.image_id.to_string() == v
                || c.image_id
                    .hex()
                    .starts_with(v.trim_start_matches("sha256:"))
        }
        "before" => created_of(v).is_some_and(|t| c.created < t),
        "since" => created_of(v).is_some_and(|t| c.created > t),
        "volume" => c.config.mounts.iter().any(|m| match m {
            MountSpec::Volume { name, target, .. } => {
                name.as_deref() == Some(v) || target.to_str() == Some(v)
            }
            MountSpec::Bind { source, target, .. } => {
                source.to_str() == Some(v) || target.to_str() == Some(v)
            }
            MountSpec::Tmpfs { target, .. } => target.to_str() == Some(v),
        }),
        "network" => {
            c.config.net.mode == v
                || c.config
                    .net
                    .endpoints
                    .iter()
                    .any(|e| e.network == v || e.network_id.starts_with(v))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::record::{Endpoint, NetConfig, RunConfig, State, SCHEMA};
    use crate::digest::Digest;

    fn ctr(name: &str, created: &str, status: Status, code: Option<i32>) -> Container {
        Container {
            schema: SCHEMA,
            id: format!("{name:0<64}").replace(|c: char| !c.is_ascii_hexdigit(), "a"),
            name: name.into(),
            image: "busybox:latest".into(),
            image_id: Digest::of(b"img"),
            manifest_digest: Digest::of(b"m"),
            layers: vec![],
            created: created.into(),
            config: RunConfig {
                argv: vec!["sh".into()],
                hostname: "h".into(),
                net: NetConfig {
                    mode: "app".into(),
                    endpoints: vec![Endpoint {
                        network_id: "feed".repeat(16),
                        network: "app".into(),
                        ip: "10.89.0.2".parse().unwrap(),
                        aliases: vec![],
                        driver_opts: Default::default(),
                        static_ip: false,
                        mac: String::new(),
                        static_mac: false,
                    }],
                    ..Default::default()
                },
                mounts: vec![MountSpec::Volume {
                    name: Some("data".into()),
                    target: "/data".into(),
                    readonly: false,
                }],
                ..Default::default()
            },
            state: State {
                status,
                exit_code: code,
                ..Default::default()
            },
        }
    }

    #[test]
    fn filters_match_as_dockers() {
        let mut c = ctr("web", "2026-01-02T00:00:00Z", Status::Exited, Some(3));
        c.config.labels.insert("a".into(), "1".into());
        let created = |q: &str| match q {
            "older" => Some("2026-01-01T00:00:00Z".to_string()),
            "newer" => Some("2026-01-03T00:00:00Z".to_string()),
            _ => None,
        };
        for (specs, want) in [
            (vec![], true),
            (vec!["name=we"], true),
            (vec!["name=db"], false),
            (vec!["name=db", "name=web"], true),
            (vec!["status=exited"], true),
            (vec!["restart-policy=no"], true),
            (vec!["restart-policy=always"], false),
            (vec!["status=running"], false),
            (vec!["status=exited", "name=db"], false),
            (vec!["exited=3"], true),
            (vec!["exited=0"], false),
            (vec!["ancestor=busybox"], true),
            (vec!["ancestor=busybox:latest"], true),
            (vec!["ancestor=alpine"], false),
            (vec!["since=older"], true),
            (vec!["before=older"], false),
            (vec!["before=newer"], true),
            (vec!["before=missing"], false),
            (vec!["volume=data"], true),
            (vec!["volume=/data"], true),
            (vec!["volume=other"], false),
            (vec!["network=app"], true),
            (vec!["network=feedfeed"], true),
            (vec!["network=bridge"], false),
            (vec!["id=web"], false),
            (vec!["label=a"], true),
            (vec!["label=a=1"], true),
            (vec!["label=a=2"], false),
            (vec!["label=a", "label=b"], false),
            (vec!["label=zz"], false),
        ] {
            let specs: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
            let f = Filters::parse(&specs).unwrap();
            assert_eq!(f.matches(&c, &created), want, "{specs:?}");
        }
    }

    #[test]
    fn health_filters_match_the_recorded_status() {
        use crate::container::health::{Health, HealthStatus};
        let created = |_: &str| None;
        let mut c = ctr("web", "2026-01-02T00:00:00Z", Status::Running, None);
        let with = |c: &Container, v: &str| {
            Filters::parse(&[format!("health={v}")])
                .unwrap()
                .matches(c, &created)
        };
        assert!(with(&c, "none") && !with(&c, "healthy"), "no health: none");
        for status in [
            HealthStatus::Starting,
            HealthStatus::Healthy,
            HealthStatus::Unhealthy,
        ] {
            c.state.health = Some(Health {
                status,
                failing_streak: 0,
                log: vec![],
            });
            for v in ["starting", "healthy", "unhealthy", "none"] {
                assert_eq!(with(&c, v), v == status.as_str(), "{status:?} health={v}");
            }
        }
    }

    #[test]
    fn bad_filters_are_named() {
        for (spec, msg) in [
            ("nonsense", "expected name=value"),
            ("colour=red", "invalid filter 'colour'"),
            ("status=sleeping", "expected created"),
            ("exited=x", "expected an exit code"),
            ("health=fine", "Unrecognised filter value for health: fine"),
        ] {
            let e = Filters::parse(&[spec.to_string()]).unwrap_err().to_string();
            assert!(e.contains(msg), "{spec}: {e}");
        }
    }
}

//! A container's `Config` as Docker keeps it: the image's config with the create's settings
//! over it. `inspect` shows it; `commit` starts the new image's config from it, as dockerd's
//! commit merges the container's Config into the image it writes.

use std::collections::BTreeMap;

use super::record::RunConfig;
use crate::store::config::{Empty, RuntimeConfig};

/// The exposed ports (`80/tcp`): the image's and every published one, sorted, as Docker adds
/// `-p` ports to the container's `ExposedPorts`.
pub fn exposed_ports(rc: &RunConfig) -> Vec<String> {
    let mut exposed = rc.exposed.clone();
    for p in &rc.net.publish {
        let key = format!("{}/{}", p.container_port, p.protocol);
        if !exposed.contains(&key) {
            exposed.push(key);
        }
    }
    exposed.sort();
    exposed
}

/// Whether `signal` is the one every container stops with unless told otherwise.
pub fn is_default_stop_signal(signal: &str) -> bool {
    matches!(signal, "SIGTERM" | "TERM" | "15" | "")
}

/// The image-config fields of the container's Config (those dockerd's commit takes from the
/// container): user, exposed ports, environment, entrypoint and command, volumes, working
/// directory, labels, stop signal and healthcheck. An empty one is `None`.
pub fn image_fields(rc: &RunConfig) -> RuntimeConfig {
    let set = |m: Vec<String>| -> Option<BTreeMap<String, Empty>> {
        (!m.is_empty()).then(|| m.into_iter().map(|k| (k, Empty {})).collect())
    };
    let list = |v: &[String]| (!v.is_empty()).then(|| v.to_vec());
    let (entrypoint, cmd) = rc.argv.split_at(rc.entrypoint_len.min(rc.argv.len()));
    RuntimeConfig {
        user: (!rc.user.is_empty()).then(|| rc.user.clone()),
        exposed_ports: set(exposed_ports(rc)),
        env: list(&rc.env),
        entrypoint: list(entrypoint),
        cmd: list(cmd),
        volumes: set(rc.image_volumes.clone()),
        working_dir: (rc.cwd != "/" && !rc.cwd.is_empty()).then(|| rc.cwd.clone()),
        labels: (!rc.labels.is_empty()).then(|| rc.labels.clone()),
        stop_signal: (!is_default_stop_signal(&rc.stop_signal)).then(|| rc.stop_signal.clone()),
        healthcheck: rc.healthcheck.clone(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::ports::parse_publish;
    use crate::store::config::Healthcheck;

    #[test]
    fn a_containers_config_as_image_fields() {
        let hc = Healthcheck {
            test: Some(vec!["CMD-SHELL".into(), "true".into()]),
            interval: 1_000_000_000,
            ..Default::default()
        };
        let mut rc = RunConfig {
            argv: vec!["/entry".into(), "run".into(), "-v".into()],
            entrypoint_len: 1,
            env: vec!["PATH=/bin".into(), "A=1".into()],
            user: "app".into(),
            cwd: "/srv".into(),
            exposed: vec!["80/tcp".into()],
            image_volumes: vec!["/data".into()],
            stop_signal: "SIGINT".into(),
            healthcheck: Some(hc.clone()),
            ..Default::default()
        };
        rc.net.publish = parse_publish("8443:443/udp").unwrap();
        rc.labels.insert("team".into(), "web".into());
        let f = image_fields(&rc);
        assert_eq!(f.entrypoint, Some(vec!["/entry".to_string()]));
        assert_eq!(f.cmd, Some(vec!["run".to_string(), "-v".to_string()]));
        assert_eq!(f.env, Some(rc.env.clone()));
        assert_eq!(f.user.as_deref(), Some("app"));
        assert_eq!(f.working_dir.as_deref(), Some("/srv"));
        let ports: Vec<&String> = f.exposed_ports.as_ref().unwrap().keys().collect();
        assert_eq!(ports, ["443/udp", "80/tcp"]);
        let vols: Vec<&String> = f.volumes.as_ref().unwrap().keys().collect();
        assert_eq!(vols, ["/data"]);
        assert_eq!(f.labels.unwrap()["team"], "web");
        assert_eq!(f.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(f.healthcheck, Some(hc));

        // What a container leaves at Docker's defaults is not set.
        let f = image_fields(&RunConfig {
            argv: vec!["sh".into()],
            ..Default::default()
        });
        assert_eq!(f.cmd, Some(vec!["sh".to_string()]));
        assert_eq!(
            (f.entrypoint, f.user, f.working_dir, f.stop_signal),
            (None, None, None, None)
        );
        assert_eq!((f.exposed_ports, f.volumes, f.env), (None, None, None));
        assert!(f.healthcheck.is_none() && f.labels.is_none());
    }
}

//! How each Dockerfile step changes the image config and its history, as pure functions over
//! [`ImageConfig`]: ENV replaces by name, LABEL/EXPOSE/VOLUME merge, ENTRYPOINT drops a CMD the
//! stage inherited (Docker: "If CMD is defined from the base image, setting ENTRYPOINT will reset
//! CMD to an empty value"), and each step appends one history entry as BuildKit writes it.

use std::collections::BTreeMap;

use oci_spec::image::{History, HistoryBuilder};

use crate::plan::graph::{ConfigChange, HealthcheckConfig};
use crate::store::config::{Empty, Healthcheck, ImageConfig, RuntimeConfig};

/// The history comment BuildKit's Dockerfile frontend writes; tools key on it.
pub const HISTORY_COMMENT: &str = "buildkit.dockerfile.v0";

/// Applies one config change. `cmd_set` says whether the current stage set CMD itself (an
/// ENTRYPOINT then keeps it); CMD sets it.
pub fn apply_change(cfg: &mut RuntimeConfig, change: &ConfigChange, cmd_set: &mut bool) {
    match change {
        ConfigChange::Env(vars) => {
            let env = cfg.env.get_or_insert_with(Vec::new);
            for (k, v) in vars {
                set_env(env, k, v);
            }
        }
        ConfigChange::Label(labels) => {
            let map = cfg.labels.get_or_insert_with(BTreeMap::new);
            for (k, v) in labels {
                map.insert(k.clone(), v.clone());
            }
        }
        ConfigChange::Workdir { path, .. } => cfg.working_dir = Some(path.clone()),
        ConfigChange::User(u) => cfg.user = Some(u.clone()),
        ConfigChange::Expose(ports) => {
            let map = cfg.exposed_ports.get_or_insert_with(BTreeMap::new);
            for p in ports {
                map.insert(port_key(p), Empty {});
            }
        }
        ConfigChange::Volume(vols) => {
            let map = cfg.volumes.get_or_insert_with(BTreeMap::new);
            for v in vols {
                map.insert(v.clone(), Empty {});
            }
        }
        ConfigChange::Cmd(argv) => {
            cfg.cmd = Some(argv.clone());
            *cmd_set = true;
        }
        ConfigChange::Entrypoint(argv) => {
            cfg.entrypoint = Some(argv.clone());
            if !*cmd_set {
                cfg.cmd = None;
            }
        }
        ConfigChange::Shell(argv) => cfg.shell = Some(argv.clone()),
        ConfigChange::StopSignal(s) => cfg.stop_signal = Some(s.clone()),
        ConfigChange::Healthcheck(h) => cfg.healthcheck = Some(healthcheck(h)),
        ConfigChange::Onbuild(t) => cfg.on_build.get_or_insert_with(Vec::new).push(t.clone()),
        ConfigChange::Arg(_) | ConfigChange::Maintainer(_) => {}
    }
}

/// MAINTAINER sets the image's `author`; everything else lives in `config`.
pub fn apply_to_image(img: &mut ImageConfig, change: &ConfigChange, cmd_set: &mut bool) {
    if let ConfigChange::Maintainer(m) = change {
        img.author = Some(m.clone());
    }
    apply_change(&mut img.config, change, cmd_set);
}

/// Sets `key=value` in a Docker env list, replacing an earlier entry of the same name in place.
pub fn set_env(env: &mut Vec<String>, key: &str, value: &str) {
    let entry = format!("{key}={value}");
    match env
        .iter_mut()
        .find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key)
    {
        Some(slot) => *slot = entry,
        None => env.push(entry),
    }
}

/// `EXPOSE 80` means `80/tcp`; protocols are lower-cased as Docker stores them.
fn port_key(p: &str) -> String {
    match p.split_once('/') {
        Some((port, proto)) => format!("{port}/{}", proto.to_ascii_lowercase()),
        None => format!("{p}/tcp"),
    }
}

fn healthcheck(h: &HealthcheckConfig) -> Healthcheck {
    let o = &h.options;
    let ns = |v: Option<u64>| v.map_or(0, |n| n as i64);
    Healthcheck {
        test: Some(h.test.clone()),
        interval: ns(o.interval),
        timeout: ns(o.timeout),
        start_period: ns(o.start_period),
        start_interval: ns(o.start_interval),
        retries: o.retries.map_or(0, i64::from),
    }
}

/// One history entry: `created_by` as BuildKit spells it, `empty_layer` for steps without a
/// layer.
pub fn history_entry(created: &str, created_by: &str, empty_layer: bool) -> History {
    let mut b = HistoryBuilder::default()
        .created(created.to_string())
        .created_by(created_by.to_string())
        .comment(HISTORY_COMMENT.to_string());
    if empty_layer {
        b = b.empty_layer(true);
    }
    b.build().expect("every history field is optional")
}

/// BuildKit's `created_by` for a RUN: `RUN |2 A=1 B=2 /bin/sh -c make # buildkit`, the ARG
/// prefix listing the build args the step saw.
pub fn run_created_by(argv: &[String], args: &[(String, String)]) -> String {
    let mut s = String::from("RUN ");
    if !args.is_empty() {
        s.push_str(&format!("|{} ", args.len()));
        for (k, v) in args {
            s.push_str(&format!("{k}={v} "));
        }
    }
    s.push_str(&argv.join(" "));
    s.push_str(" # buildkit");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(kv: &[(&str, &str)]) -> ConfigChange {
        ConfigChange::Env(
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn env_replaces_in_place_and_appends_new_names() {
        let mut cfg = RuntimeConfig {
            env: Some(vec!["PATH=/bin".into(), "A=1".into()]),
            ..Default::default()
        };
        let mut set = false;
        apply_change(
            &mut cfg,
            &env(&[("PATH", "/usr/bin:/bin"), ("B", "x=y")]),
            &mut set,
        );
        assert_eq!(cfg.env.unwrap(), vec!["PATH=/usr/bin:/bin", "A=1", "B=x=y"]);
    }

    #[test]
    fn entrypoint_resets_an_inherited_cmd_but_keeps_one_set_in_the_stage() {
        let base = RuntimeConfig {
            cmd: Some(vec!["/bin/sh".into()]),
            ..Default::default()
        };
        let ep = ConfigChange::Entrypoint(vec!["/app".into()]);

        let mut cfg = base.clone();
        let mut set = false;
        apply_change(&mut cfg, &ep, &mut set);
        assert_eq!(cfg.cmd, None);
        assert_eq!(cfg.entrypoint, Some(vec!["/app".to_string()]));

        let mut cfg = base;
        let mut set = false;
        apply_change(
            &mut cfg,
            &ConfigChange::Cmd(vec!["--help".into()]),
            &mut set,
        );
        apply_change(&mut cfg, &ep, &mut set);
        assert_eq!(cfg.cmd, Some(vec!["--help".to_string()]));
    }

    #[test]
    fn maps_merge_and_ports_default_to_tcp() {
        let mut cfg = RuntimeConfig::default();
        let mut set = false;
        apply_change(
            &mut cfg,
            &ConfigChange::Expose(vec!["80".into(), "53/UDP".into()]),
            &mut set,
        );
        apply_change(
            &mut cfg,
            &ConfigChange::Expose(vec!["443".into()]),
            &mut set,
        );
        let ports: Vec<_> = cfg.exposed_ports.clone().unwrap().into_keys().collect();
        assert_eq!(ports, vec!["443/tcp", "53/udp", "80/tcp"]);

        apply_change(
            &mut cfg,
            &ConfigChange::Label(vec![("a".into(), "1".into()), ("b".into(), "2".into())]),
            &mut set,
        );
        apply_change(
            &mut cfg,
            &ConfigChange::Label(vec![("a".into(), "3".into())]),
            &mut set,
        );
        let labels = cfg.labels.unwrap();
        assert_eq!(labels["a"], "3");
        assert_eq!(labels["b"], "2");
    }

    #[test]
    fn onbuild_accumulates_and_maintainer_sets_author() {
        let mut img = ImageConfig::new_for_host();
        let mut set = false;
        apply_to_image(&mut img, &ConfigChange::Onbuild("RUN a".into()), &mut set);
        apply_to_image(&mut img, &ConfigChange::Onbuild("RUN b".into()), &mut set);
        apply_to_image(&mut img, &ConfigChange::Maintainer("me".into()), &mut set);
        assert_eq!(img.config.on_build.unwrap(), vec!["RUN a", "RUN b"]);
        assert_eq!(img.author.as_deref(), Some("me"));
    }

    #[test]
    fn run_history_lists_the_args_it_saw() {
        let argv = vec!["/bin/sh".to_string(), "-c".into(), "make".into()];
        assert_eq!(run_created_by(&argv, &[]), "RUN /bin/sh -c make # buildkit");
        assert_eq!(
            run_created_by(&argv, &[("V".into(), "1".into())]),
            "RUN |1 V=1 /bin/sh -c make # buildkit"
        );
    }
}

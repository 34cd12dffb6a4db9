//! Docker's legacy links (`--link NAME[:ALIAS]`, `HostConfig.Links`): from the linking
//! container, the linked one answers to its name and alias (lines in /etc/hosts), and on the
//! default bridge its ports and environment show as `ALIAS_*` variables, as dockerd sets them.
//! `parse` and `link_env` are pure; `hosts` and `env` read the linked containers' records.

use std::path::Path;

use super::error::ContainerError;
use super::record::{Container, Status};
use super::store::Containers;
use crate::network::etc_files::ExtraHost;

/// One link as given: the linked container and the name it goes by here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub container: String,
    pub alias: String,
}

/// `NAME[:ALIAS]` (either may carry Docker's leading `/`); without an alias the name is it.
pub fn parse(spec: &str) -> Link {
    let (name, alias) = spec.split_once(':').unwrap_or((spec, spec));
    let clean = |s: &str| s.rsplit('/').next().unwrap_or(s).to_string();
    Link {
        container: clean(name),
        alias: clean(alias),
    }
}

/// A link's own name, `/PARENT/ALIAS` (the leading `/` optional), as (parent, alias);
/// `None` for a name with no parent part, which can only be a container's own name.
pub fn split_link_name(name: &str) -> Option<(&str, &str)> {
    let name = name.strip_prefix('/').unwrap_or(name);
    let (parent, alias) = name.rsplit_once('/')?;
    (!parent.is_empty() && !alias.is_empty()).then_some((parent, alias))
}

/// Drops the link known as `alias` from `c`'s links; whether there was one.
pub fn unlink(c: &mut Container, alias: &str) -> bool {
    let before = c.config.net.links.len();
    c.config.net.links.retain(|l| parse(l).alias != alias);
    c.config.net.links.len() != before
}

/// The linked containers must exist and run when the link is made (dockerd checks at
/// create, and again at each start).
pub fn check(cs: &Containers, name: &str, links: &[String]) -> Result<(), ContainerError> {
    for l in links {
        let link = parse(l);
        let other = cs.get_reconciled(&cs.find(&link.container)?.id)?;
        if other.state.status != Status::Running {
            return Err(ContainerError::LinkNotRunning {
                name: other.name,
                alias: format!("/{name}/{}", link.alias),
            });
        }
    }
    Ok(())
}

/// The variables a link gives the linking container `parent`, as Docker's `Link.ToEnv`:
/// `ALIAS_PORT*` for each exposed port, `ALIAS_NAME=/parent/alias`, and `ALIAS_ENV_K=V` for
/// each of the linked container's own variables but `HOME` and `PATH`.
pub fn link_env(
    parent: &str,
    alias: &str,
    ip: Option<&str>,
    ports: &[String],
    child_env: &[String],
) -> Vec<String> {
    let prefix = alias.to_ascii_uppercase().replace('-', "_");
    let mut out = Vec::new();
    if let Some(ip) = ip {
        let mut sorted: Vec<(u16, &str)> = ports
            .iter()
            .filter_map(|p| {
                let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
                Some((port.parse().ok()?, proto))
            })
            .collect();
        sorted.sort();
        if let Some((port, proto)) = sorted.first() {
            out.push(format!("{prefix}_PORT={proto}://{ip}:{port}"));
        }
        for (port, proto) in &sorted {
            let p = format!("{prefix}_PORT_{port}_{}", proto.to_ascii_uppercase());
            out.push(format!("{p}={proto}://{ip}:{port}"));
            out.push(format!("{p}_ADDR={ip}"));
            out.push(format!("{p}_PORT={port}"));
            out.push(format!("{p}_PROTO={proto}"));
        }
    }
    out.push(format!("{prefix}_NAME=/{parent}/{alias}"));
    for e in child_env {
        let Some((k, v)) = e.split_once('=') else {
            continue;
        };
        if k != "HOME" && k != "PATH" {
            out.push(format!("{prefix}_ENV_{k}={v}"));
        }
    }
    out
}

/// The linked containers of `c`, each running, with the address `c` reaches it at (on a
/// network they share, else its first).
fn linked(
    cs: &Containers,
    c: &Container,
) -> Result<Vec<(Link, Container, Option<String>)>, ContainerError> {
    let mut out = Vec::new();
    for spec in &c.config.net.links {
        let link = parse(spec);
        let other = cs.get_reconciled(&cs.find(&link.container)?.id)?;
        if other.state.status != Status::Running {
            return Err(ContainerError::LinkNotRunning {
                name: other.name.clone(),
                alias: format!("/{}/{}", c.name, link.alias),
            });
        }
        let endpoints = &other.config.net.endpoints;
        let shared = endpoints.iter().find(|e| {
            c.config
                .net
                .endpoints
                .iter()
                .any(|mine| mine.network_id == e.network_id)
        });
        let ip = shared.or(endpoints.first()).map(|e| e.ip.to_string());
        out.push((link, other, ip));
    }
    Ok(out)
}

/// The /etc/hosts lines for `c`'s links: the alias and the linked container's name.
pub fn hosts(root: &Path, c: &Container) -> Result<Vec<ExtraHost>, ContainerError> {
    let mut out = Vec::new();
    for (link, other, ip) in linked(&Containers::new(root), c)? {
        let Some(ip) = ip else { continue };
        for name in [link.alias, other.name] {
            if !out.iter().any(|h: &ExtraHost| h.name == name) {
                out.push(ExtraHost {
                    name,
                    ip: ip.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// The links' variables for `c`'s processes: only on the default bridge, as in Docker (a
/// link on a user-defined network is a name, not an environment). A link that cannot be
/// followed gives none here; `hosts` reports it when the container starts.
pub fn env(root: &Path, c: &Container) -> Vec<String> {
    if !matches!(c.config.net.mode.as_str(), "bridge" | "default") {
        return Vec::new();
    }
    let Ok(links) = linked(&Containers::new(root), c) else {
        return Vec::new();
    };
    links
        .iter()
        .flat_map(|(link, other, ip)| {
            let mut ports = other.config.exposed.clone();
            for p in &other.config.net.publish {
                let key = format!("{}/{}", p.container_port, p.protocol);
                if !ports.contains(&key) {
                    ports.push(key);
                }
            }
            link_env(
                &c.name,
                &link.alias,
                ip.as_deref(),
                &ports,
                &other.config.env,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_names() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("/web/db", Some(("web", "db"))),
            ("web/db", Some(("web", "db"))),
            ("/web", None),
            ("web", None),
            ("/web/", None),
            ("//db", None),
        ];
        for (name, want) in cases {
            assert_eq!(split_link_name(name), *want, "{name}");
        }
    }

    #[test]
    fn unlink_drops_only_that_alias() {
        let mut c = super::super::record::test_record(Status::Created, None);
        c.config.net.links = vec!["db:data".into(), "/cache:/web/cache".into(), "db".into()];
        assert!(unlink(&mut c, "cache"));
        assert_eq!(c.config.net.links, vec!["db:data".to_string(), "db".into()]);
        assert!(unlink(&mut c, "db"));
        assert_eq!(c.config.net.links, vec!["db:data".to_string()]);
        assert!(!unlink(&mut c, "nope"));
    }

    #[test]
    fn links_parse_with_and_without_alias() {
        let cases = [
            ("db", ("db", "db")),
            ("db:data", ("db", "data")),
            ("/db:/web/data", ("db", "data")),
        ];
        for (spec, (container, alias)) in cases {
            let want = Link {
                container: container.into(),
                alias: alias.into(),
            };
            assert_eq!(parse(spec), want, "{spec}");
        }
    }

    #[test]
    fn link_env_is_dockers() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let got = link_env(
            "web",
            "my-db",
            Some("10.88.0.2"),
            &s(&["6379/tcp", "53/udp"]),
            &s(&["PATH=/bin", "FOO=1", "HOME=/root", "BARE"]),
        );
        assert_eq!(
            got,
            s(&[
                "MY_DB_PORT=udp://10.88.0.2:53",
                "MY_DB_PORT_53_UDP=udp://10.88.0.2:53",
                "MY_DB_PORT_53_UDP_ADDR=10.88.0.2",
                "MY_DB_PORT_53_UDP_PORT=53",
                "MY_DB_PORT_53_UDP_PROTO=udp",
                "MY_DB_PORT_6379_TCP=tcp://10.88.0.2:6379",
                "MY_DB_PORT_6379_TCP_ADDR=10.88.0.2",
                "MY_DB_PORT_6379_TCP_PORT=6379",
                "MY_DB_PORT_6379_TCP_PROTO=tcp",
                "MY_DB_NAME=/web/my-db",
                "MY_DB_ENV_FOO=1",
            ])
        );
        assert_eq!(
            link_env("w", "x", None, &s(&["80/tcp"]), &[]),
            s(&["X_NAME=/w/x"])
        );
    }
}

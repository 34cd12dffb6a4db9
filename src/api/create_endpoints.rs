//! `NetworkingConfig.EndpointsConfig` of a create, split as dockerd reads it: the entry for
//! the container's own network (`HostConfig.NetworkMode`; `bridge` when it names none) sets
//! that endpoint's aliases, address, MAC and driver options; every other entry names a
//! network the container joins as well (API 1.44 takes several).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::engine::containers::MoreNetwork;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkingConfig {
    endpoints_config: Option<BTreeMap<String, Option<Endpoint>>>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Endpoint {
    pub aliases: Option<Vec<String>>,
    pub mac_address: Option<String>,
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<EndpointIpam>,
    pub driver_opts: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct EndpointIpam {
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: Option<String>,
}

impl Endpoint {
    pub fn ipv4_address(&self) -> Option<String> {
        self.ipam_config
            .as_ref()
            .and_then(|i| i.ipv4_address.clone())
            .filter(|a| !a.is_empty())
    }
}

/// The endpoints of a create: the container's own network's (empty when none was sent), and
/// the other networks to connect it to once it exists (`container` left empty).
#[derive(Debug, Default, PartialEq)]
pub struct Endpoints {
    pub own: Endpoint,
    pub extra: Vec<MoreNetwork>,
}

/// A network's name as the daemon reads it: `""` and `default` (the docker CLI's key when no
/// `--network` was given) are `bridge`.
fn network_name(name: &str) -> &str {
    match name {
        "" | "default" => "bridge",
        n => n,
    }
}

/// Splits `config` by the network `mode` names (`None` is the default network).
pub fn split(config: Option<NetworkingConfig>, mode: Option<&str>) -> Endpoints {
    let own_name = network_name(mode.unwrap_or_default());
    let mut out = Endpoints::default();
    let all = config.and_then(|c| c.endpoints_config).unwrap_or_default();
    for (name, e) in all {
        let e = e.unwrap_or_default();
        if network_name(&name) == own_name {
            out.own = e;
            continue;
        }
        out.extra.push(MoreNetwork {
            ipv4_address: e.ipv4_address(),
            network: name,
            aliases: e.aliases.unwrap_or_default(),
            mac_address: e.mac_address,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Option<NetworkingConfig> {
        Some(serde_json::from_str(raw).unwrap())
    }

    #[test]
    fn the_mode_picks_the_own_endpoint_and_the_rest_are_joined() {
        let raw = r#"{"EndpointsConfig": {
            "front": {"Aliases": ["web"], "IPAMConfig": {"IPv4Address": "10.1.0.5"},
                      "DriverOpts": {"k": "v"}},
            "back": {"Aliases": ["db"]},
            "other": null}}"#;
        let got = split(parse(raw), Some("front"));
        assert_eq!(got.own.aliases, Some(vec!["web".to_string()]));
        assert_eq!(got.own.ipv4_address().as_deref(), Some("10.1.0.5"));
        assert_eq!(
            got.own.driver_opts,
            Some(BTreeMap::from([("k".to_string(), "v".to_string())]))
        );
        let extra: Vec<(&str, &[String])> = got
            .extra
            .iter()
            .map(|c| (c.network.as_str(), c.aliases.as_slice()))
            .collect();
        assert_eq!(
            extra,
            [("back", &["db".to_string()][..]), ("other", &[][..])]
        );
    }

    #[test]
    fn no_mode_is_the_default_bridge() {
        // (the entry's key, the mode, whether the entry is the container's own)
        let cases = [
            ("bridge", None, true),
            ("bridge", Some(""), true),
            ("bridge", Some("default"), true),
            ("bridge", Some("net1"), false),
            // The docker CLI's `run` without `--network`.
            ("default", Some("default"), true),
            ("default", None, true),
            ("default", Some("bridge"), true),
        ];
        for (key, mode, own) in cases {
            let raw = format!(r#"{{"EndpointsConfig": {{"{key}": {{"Aliases": ["a"]}}}}}}"#);
            let got = split(parse(&raw), mode);
            assert_eq!(got.own.aliases.is_some(), own, "{key} {mode:?}");
            assert_eq!(got.extra.len(), usize::from(!own), "{key} {mode:?}");
        }
        assert_eq!(split(None, None), Endpoints::default());
    }
}

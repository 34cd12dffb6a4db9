//! A network as the store keeps it (`networks-v1/<id>.json`): plain serialisable data, bumped
//! `schema` on incompatible changes. Docker's JSON shape for `network inspect` is rendered from
//! it elsewhere; these field names are strata's own.

use std::collections::BTreeMap;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

pub const SCHEMA: u32 = 1;

/// The name of the network every store has, as Docker's default network.
pub const DEFAULT_NETWORK: &str = "bridge";
/// Names that are network modes, not networks a user may create.
pub const RESERVED_NAMES: &[&str] = &["bridge", "host", "none", "default"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub schema: u32,
    /// 64 lowercase hex digits.
    pub id: String,
    pub name: String,
    /// Always `bridge` for now (the only driver).
    pub driver: String,
    pub subnet: Ipv4Net,
    pub gateway: std::net::Ipv4Addr,
    /// No route out and no NAT: containers reach only each other.
    pub internal: bool,
    /// Container names resolve on it (every user-defined network; not the default one, as
    /// with Docker).
    pub dns: bool,
    pub labels: BTreeMap<String, String>,
    /// RFC 3339.
    pub created: String,
    /// Docker's flag for swarm services; kept so inspect shows what was asked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub attachable: bool,
    /// The driver options given at create, shown by inspect (none changes the bridge).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    /// `--ip-range`: where addresses are picked from (a static one may be anywhere in the
    /// subnet, as with Docker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<Ipv4Net>,
    /// IPAM's auxiliary addresses (`--aux-address NAME=IP`): never given to a container.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aux_addresses: BTreeMap<String, std::net::Ipv4Addr>,
}

impl Network {
    /// The Linux bridge of this network: one per network, unique per host because the id is.
    pub fn bridge(&self) -> String {
        bridge_name(&self.id)
    }

    pub fn short_id(&self) -> &str {
        &self.id[..12.min(self.id.len())]
    }

    pub fn is_default(&self) -> bool {
        self.name == DEFAULT_NETWORK
    }
}

/// The common prefix of strata's bridges (the isolation rules match it with `strata-+`).
pub const BRIDGE_PREFIX: &str = "strata-";

/// `strata-` and 8 hex digits of the id: 15 bytes, the kernel's limit for interface names.
pub fn bridge_name(id: &str) -> String {
    format!("{BRIDGE_PREFIX}{}", &id[..8.min(id.len())])
}

/// Docker's `EndpointID` of a container on a network: stable for the pair, 64 hex digits.
pub fn endpoint_id(container: &str, network: &str) -> String {
    crate::digest::Digest::of(format!("{container}\n{network}").as_bytes()).hex()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridge_names_fit_the_kernel_limit() {
        let n = bridge_name(&"ab".repeat(32));
        assert_eq!(n, "strata-abababab");
        assert!(n.len() <= 15);
    }

    #[test]
    fn round_trips_through_json() {
        let n = Network {
            schema: SCHEMA,
            id: "cd".repeat(32),
            name: "app".into(),
            driver: "bridge".into(),
            subnet: "10.89.3.0/24".parse().unwrap(),
            gateway: "10.89.3.1".parse().unwrap(),
            internal: true,
            dns: true,
            labels: [("a".to_string(), "b".to_string())].into(),
            created: "2026-01-01T00:00:00Z".into(),
            attachable: false,
            options: BTreeMap::new(),
            ip_range: None,
            aux_addresses: BTreeMap::new(),
        };
        let json = serde_json::to_string(&n).unwrap();
        assert!(json.contains(r#""subnet":"10.89.3.0/24""#), "{json}");
        assert_eq!(serde_json::from_str::<Network>(&json).unwrap(), n);
    }
}

//! The network module's error type: one variant per failing step, naming the network,
//! container, address or path at fault, in Docker's words where Docker has them.

use std::path::PathBuf;

use crate::store::error::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid network record {path}: {source}")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("network {0} not found")]
    NotFound(String),
    #[error("network with name {0} already exists")]
    NameInUse(String),
    #[error("invalid network name {0:?}: at least 2 of [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    InvalidName(String),
    #[error("{0} is a pre-defined network and cannot be created")]
    Predefined(String),
    #[error("{0} is a pre-defined network and cannot be removed")]
    RemoveDefault(String),
    #[error("error while removing network: network {name} id {id} has active endpoints")]
    ActiveEndpoints { name: String, id: String },
    #[error("invalid subnet {0:?}: expected an IPv4 CIDR such as 10.90.0.0/24")]
    InvalidSubnet(String),
    #[error("invalid ip range {range:?}: expected an IPv4 subnet inside {subnet}")]
    InvalidRange { range: String, subnet: String },
    #[error("invalid auxiliary address {name}={ip:?}: expected an IPv4 address inside {subnet}")]
    InvalidAux {
        name: String,
        ip: String,
        subnet: String,
    },
    #[error("invalid gateway {gateway:?}: expected an IPv4 address inside {subnet}")]
    InvalidGateway { gateway: String, subnet: String },
    #[error("--gateway needs --subnet")]
    GatewayWithoutSubnet,
    #[error("Pool overlaps with other one on this address space: {subnet} overlaps {other}")]
    SubnetOverlap { subnet: String, other: String },
    #[error("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")]
    PoolExhausted,
    #[error("unsupported network driver {0:?}: only bridge")]
    Driver(String),
    #[error("invalid label {0:?}: expected KEY=VALUE")]
    Label(String),
    #[error("no available IPv4 address on network {0}")]
    AddressesExhausted(String),
    #[error("Address already in use: {ip} on network {network}")]
    AddressInUse { ip: String, network: String },
    #[error("invalid address {ip}: not an assignable address of {subnet} on network {network}")]
    AddressOutside {
        ip: String,
        subnet: String,
        network: String,
    },
    #[error("user specified IP address is supported only when connecting to networks with user configured subnets")]
    StaticIpOnDefault,
    #[error("{tool} failed ({status}): {stderr}")]
    Tool {
        tool: String,
        status: String,
        stderr: String,
    },
    #[error("cannot run {tool}: {source} (install the Debian packages netavark, aardvark-dns and iptables)")]
    ToolMissing {
        tool: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid answer from netavark: {0}")]
    ToolOutput(String),
    #[error("network namespace {path}: {step}: {source}")]
    Netns {
        path: PathBuf,
        step: &'static str,
        #[source]
        source: nix::Error,
    },
    #[error("Bind for {addr} failed: port is already allocated")]
    PortInUse { addr: String },
    #[error("no free host port for {what}")]
    NoFreePort { what: String },
    #[error(transparent)]
    Netlink(#[from] super::netlink::NetlinkError),
    #[error(transparent)]
    Port(#[from] super::ports::PortError),
    #[error(transparent)]
    Etc(#[from] super::etc_files::EtcError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl NetworkError {
    pub(crate) fn io(
        op: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| NetworkError::Io { op, path, source }
    }
}

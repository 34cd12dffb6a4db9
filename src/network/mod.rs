//! Container networks: networks as store objects (`store`, `record`), address and subnet
//! allocation (`ipam`, pure), published ports (`ports`, pure; `hostports` holds the host
//! side), the `/etc` files containers see (`etc_files`, pure), and the bridge backend:
//! strata's own (`native`: `netlink`, `rules`, `aardvark`) or podman's netavark behind the
//! `netavark::Backend` seam, pinned network namespaces (`netns`) and the isolation rules
//! netavark does not make (`firewall`).

pub mod aardvark;
pub mod error;
pub mod etc_files;
pub mod firewall;
pub mod hostports;
pub mod ipam;
pub mod native;
pub mod netavark;
pub mod netlink;
pub mod netns;
pub mod ports;
pub mod record;
pub mod rules;
pub mod store;

pub use error::NetworkError;
pub use record::Network;
pub use store::{CreateRequest, Networks};

/// The bridge backend: strata's own (`native`, the default) or netavark
/// (`STRATA_NETWORK_BACKEND=netavark`), for the store at `root`.
pub fn backend(root: &std::path::Path) -> Box<dyn netavark::Backend> {
    let dir = Networks::new(root).aardvark_dir();
    if std::env::var("STRATA_NETWORK_BACKEND").is_ok_and(|b| b == "netavark") {
        return Box::new(netavark::Netavark::new(dir));
    }
    Box::new(native::Native {
        aardvark: aardvark::Aardvark {
            binary: netavark::find_tool("aardvark-dns", "STRATA_AARDVARK"),
            dir,
            upstream: netavark::daemon_dns(),
        },
    })
}

//! Container networks: networks as store objects (`store`, `record`), address and subnet
//! allocation (`ipam`, pure), published ports (`ports`, pure; `hostports` holds the host
//! side), the `/etc` files containers see (`etc_files`, pure), and the bridge backend:
//! podman's netavark and aardvark-dns behind the `netavark::Backend` seam, pinned network
//! namespaces (`netns`) and the isolation rules netavark does not make (`firewall`).

pub mod error;
pub mod etc_files;
pub mod firewall;
pub mod hostports;
pub mod ipam;
pub mod netavark;
pub mod netns;
pub mod ports;
pub mod record;
pub mod store;

pub use error::NetworkError;
pub use record::Network;
pub use store::{CreateRequest, Networks};

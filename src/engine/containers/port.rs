//! `port`: a container's published ports, as bound.

use std::path::Path;

use super::error::{Error, Result};
use crate::container::Containers;
use crate::network::ports::{self, PortBinding};

/// The published ports of the container `query` names (none unless it runs).
pub fn port_bindings(root: &Path, query: &str) -> Result<Vec<PortBinding>> {
    let cs = Containers::new(root);
    let c = cs.get_reconciled(&cs.find(query)?.id)?;
    Ok(c.published_ports().to_vec())
}

/// `docker port`'s lines (`80/tcp -> 0.0.0.0:8080`) for every binding, or the host
/// addresses of the container port `port` (`80`, `80/udp`).
pub fn port_lines(
    container: &str,
    bindings: &[PortBinding],
    port: Option<&str>,
) -> Result<Vec<String>> {
    match port {
        None => Ok(ports::port_lines(bindings)),
        Some(p) => ports::port_filter(bindings, p).map_err(|source| Error::PortSpec {
            container: container.to_string(),
            source,
        }),
    }
}

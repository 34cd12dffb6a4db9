//! Host ports of published container ports: picked and held for the life of the container.
//! Holding a bound (not listening) socket on each one is what keeps another program from
//! taking the port while the DNAT rules send its traffic to the container, and makes a port
//! in use a clear error before anything starts, as Docker's proxy does.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::OwnedFd;

use nix::sys::socket::{bind, getsockname, socket, AddressFamily, SockFlag, SockType, SockaddrIn};

use super::error::NetworkError;
use super::ports::{PortBinding, PortRequest, Proto};

/// Sockets holding the host ports, released on drop.
#[derive(Debug, Default)]
pub struct Reserved {
    _sockets: Vec<OwnedFd>,
    pub bindings: Vec<PortBinding>,
}

fn try_bind(ip: Ipv4Addr, port: u16, proto: Proto) -> nix::Result<(OwnedFd, u16)> {
    let ty = match proto {
        Proto::Tcp => SockType::Stream,
        Proto::Udp => SockType::Datagram,
    };
    let fd = socket(AddressFamily::Inet, ty, SockFlag::SOCK_CLOEXEC, None)?;
    bind(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &SockaddrIn::from(SocketAddrV4::new(ip, port)),
    )?;
    let got: SockaddrIn = getsockname(std::os::fd::AsRawFd::as_raw_fd(&fd))?;
    Ok((fd, got.port()))
}

/// Binds every requested host port (free ones picked by the kernel, a range tried in order).
pub fn reserve(reqs: &[PortRequest]) -> Result<Reserved, NetworkError> {
    let mut out = Reserved::default();
    for r in reqs {
        let ip: Ipv4Addr = if r.host_ip.is_empty() {
            Ipv4Addr::UNSPECIFIED
        } else {
            r.host_ip.parse().map_err(|_| NetworkError::PortInUse {
                addr: r.host_ip.clone(),
            })?
        };
        let shown = |port: u16| SocketAddr::from((ip, port)).to_string();
        let (fd, port) = if r.host_port_start == r.host_port_end {
            try_bind(ip, r.host_port_start, r.protocol).map_err(|e| match e {
                nix::Error::EADDRINUSE | nix::Error::EACCES => NetworkError::PortInUse {
                    addr: shown(r.host_port_start),
                },
                _ => NetworkError::NoFreePort {
                    what: format!("{}/{}: {e}", shown(r.host_port_start), r.protocol),
                },
            })?
        } else {
            (r.host_port_start..=r.host_port_end)
                .find_map(|p| try_bind(ip, p, r.protocol).ok())
                .ok_or_else(|| NetworkError::NoFreePort {
                    what: format!(
                        "{}-{}/{}",
                        shown(r.host_port_start),
                        r.host_port_end,
                        r.protocol
                    ),
                })?
        };
        out._sockets.push(fd);
        out.bindings.push(PortBinding {
            host_ip: r.host_ip.clone(),
            host_port: port,
            container_port: r.container_port,
            protocol: r.protocol,
        });
    }
    Ok(out)
}

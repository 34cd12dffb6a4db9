//! A minimal rtnetlink client: the link, address and route requests a bridge network makes
//! (bridge, veth pair into a container's namespace, addresses, default route), with the byte
//! encoding (pure, testable without root) kept apart from the socket round trips.

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU32, Ordering};

use libc::{IFA_ADDRESS, IFA_LOCAL, IFLA_ADDRESS, IFLA_IFNAME, IFLA_INFO_DATA, IFLA_INFO_KIND};
use libc::{IFLA_LINKINFO, IFLA_MASTER, IFLA_NET_NS_FD, RTA_GATEWAY};
use libc::{RTM_DELLINK, RTM_GETLINK, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE, RTM_SETLINK};
use nix::errno::Errno;
use nix::sched::{setns, CloneFlags};
use nix::sys::socket::{
    recv, send, socket, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType,
};

const REQUEST_ACK: u16 = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
const CREATE_EXCL: u16 = (libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16;
const NLMSG_ERROR: u16 = libc::NLMSG_ERROR as u16;
/// Attribute type bits, without NLA_F_NESTED and NLA_F_NET_BYTEORDER.
const NLA_TYPE_MASK: u16 = libc::NLA_TYPE_MASK as u16;
/// From linux/veth.h, which libc lacks.
const VETH_INFO_PEER: u16 = 1;
const IFF_UP: u32 = libc::IFF_UP as u32;
const AF_INET: u8 = libc::AF_INET as u8;
/// rtmsg: AF_INET, dst_len 0, table main, protocol boot, scope universe, type unicast.
const DEFAULT_ROUTE: [u8; 12] = [AF_INET, 0, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0];
/// sizeof(struct nlmsghdr) and sizeof(struct ifinfomsg).
const HDR_LEN: usize = 16;
const IFINFO_LEN: usize = 16;
/// Fits any one RTM_NEWLINK reply, statistics included.
const RECV_BUF: usize = 32 * 1024;

/// A failed request, naming the operation and the link (or gateway) it was for.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error("{op} {name}: {errno}")]
    Kernel {
        op: &'static str,
        name: String,
        #[source]
        errno: Errno,
    },
    #[error("{op} {name}: {source}")]
    Io {
        op: &'static str,
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("network interface {0} not found")]
    NoSuchLink(String),
    #[error("{op} {name}: malformed netlink reply: {what}")]
    Malformed {
        op: &'static str,
        name: String,
        what: &'static str,
    },
}

/// Interface index of `name` in the calling thread's network namespace, None if absent.
pub fn link_index(name: &str) -> Option<u32> {
    index("find link", name).ok()
}

/// Creates a bridge `name`: Ok(true) when created, Ok(false) when a link of that name exists.
pub fn create_bridge(name: &str) -> Result<bool, NetlinkError> {
    created(call("create bridge", name, new_bridge(name)))
}

/// Adds IPv4 address `addr/prefix` to link `name`; an address already there is fine.
pub fn add_address(name: &str, addr: Ipv4Addr, prefix: u8) -> Result<(), NetlinkError> {
    let op = "add address to";
    let req = new_addr(index(op, name)?, addr, prefix);
    created(call(op, name, req)).map(drop)
}

/// Sets link `name` up.
pub fn set_up(name: &str) -> Result<(), NetlinkError> {
    call("set up", name, set_link(name, true, None)).map(drop)
}

/// Makes `name` a port of bridge `master`.
pub fn set_master(name: &str, master: &str) -> Result<(), NetlinkError> {
    let op = "set master of";
    let req = set_link(name, false, Some(index(op, master)?));
    call(op, name, req).map(drop)
}

/// Creates a veth pair: `host` in the calling thread's namespace, its peer `peer_name` made
/// directly inside the network namespace open at `peer_netns`, so it never appears here.
pub fn create_veth(
    host: &str,
    peer_name: &str,
    peer_netns: BorrowedFd<'_>,
) -> Result<(), NetlinkError> {
    let req = new_veth(host, peer_name, peer_netns.as_raw_fd());
    call("create veth", host, req).map(drop)
}

/// Deletes link `name` (a veth takes its peer along); absent is Ok.
pub fn delete_link(name: &str) -> Result<(), NetlinkError> {
    match call("delete link", name, by_name(RTM_DELLINK, name)) {
        Err(NetlinkError::NoSuchLink(_)) => Ok(()),
        done => done.map(drop),
    }
}

/// Adds a default IPv4 route via `gateway`; an existing default route is fine.
pub fn add_default_route(gateway: Ipv4Addr) -> Result<(), NetlinkError> {
    let via = gateway.to_string();
    let req = new_default_route(gateway);
    created(call("add default route via", &via, req)).map(drop)
}

/// Sets the MAC address of link `name` (while it is down: a veth takes it either way).
pub fn set_mac_address(name: &str, mac: &[u8; 6]) -> Result<(), NetlinkError> {
    let req = Request::new(RTM_SETLINK, 0, &ifinfomsg(0, 0)).name(name);
    call("set MAC address of", name, req.attr(IFLA_ADDRESS, mac)).map(drop)
}

/// `aa:bb:cc:dd:ee:ff` (or with `-`), as Go's `net.ParseMAC` reads a 48-bit address.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return None;
    }
    let mut out = [0u8; 6];
    for (o, p) in out.iter_mut().zip(parts) {
        if p.len() != 2 {
            return None;
        }
        *o = u8::from_str_radix(p, 16).ok()?;
    }
    Some(out)
}

/// `parse_mac`'s address written back as "aa:bb:cc:dd:ee:ff" (how records keep it).
pub fn canonical_mac(s: &str) -> Option<String> {
    parse_mac(s).map(|b| format_mac(&b))
}

/// The MAC address of link `name` as "aa:bb:cc:dd:ee:ff".
pub fn mac_address(name: &str) -> Result<String, NetlinkError> {
    let op = "read MAC address of";
    let link = call(op, name, by_name(RTM_GETLINK, name))?;
    let attrs = link.get(IFINFO_LEN..).unwrap_or_default();
    let mac = find_attr(attrs, IFLA_ADDRESS).ok_or_else(|| malformed(op, name, "no MAC"))?;
    Ok(format_mac(mac))
}

/// Runs `f` on a short-lived thread that has joined the network namespace at `netns`: setns
/// moves only the calling thread, and the caller's own must stay where it is.
pub fn in_netns<T: Send>(
    netns: BorrowedFd<'_>,
    f: impl FnOnce() -> Result<T, NetlinkError> + Send,
) -> Result<T, NetlinkError> {
    let name = format!("fd {}", netns.as_raw_fd());
    std::thread::scope(|scope| {
        let builder = std::thread::Builder::new().name("netns".into());
        let worker = builder.spawn_scoped(scope, || {
            let joined = setns(netns, CloneFlags::CLONE_NEWNET);
            joined.map_err(|e| io_error("join network namespace", &name, e))?;
            f()
        });
        let worker = worker.map_err(|e| io_error("spawn thread for netns", &name, e))?;
        let done = worker.join();
        done.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

type Res<T> = Result<T, NetlinkError>;

/// Ok(true) when done, Ok(false) on EEXIST, which the creations here count as done.
fn created<T>(done: Res<T>) -> Res<bool> {
    match done {
        Ok(_) => Ok(true),
        Err(NetlinkError::Kernel {
            errno: Errno::EEXIST,
            ..
        }) => Ok(false),
        Err(e) => Err(e),
    }
}

fn io_error(op: &'static str, name: &str, e: impl Into<std::io::Error>) -> NetlinkError {
    let (name, source) = (name.to_string(), e.into());
    NetlinkError::Io { op, name, source }
}

fn malformed(op: &'static str, name: &str, what: &'static str) -> NetlinkError {
    let name = name.to_string();
    NetlinkError::Malformed { op, name, what }
}

/// One request being encoded. Every piece is a multiple of 4 bytes long, so the buffer's end
/// is always attribute-aligned and a nest's length is simply the distance to it.
struct Request {
    buf: Vec<u8>,
    /// A name with a NUL inside: the kernel would act on its prefix, another link.
    bad: Option<String>,
}

impl Request {
    /// `header` is the family header: ifinfomsg, ifaddrmsg or rtmsg.
    fn new(ty: u16, flags: u16, header: &[u8]) -> Self {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&[0; 4]); // nlmsg_len, set by finish
        buf.extend_from_slice(&ty.to_ne_bytes());
        buf.extend_from_slice(&(flags | REQUEST_ACK).to_ne_bytes());
        buf.extend_from_slice(&[0; 8]); // seq, set by finish; port 0, the kernel
        Self { buf, bad: None }.raw(header)
    }

    /// Bytes that are no attribute: a family header.
    fn raw(mut self, bytes: &[u8]) -> Self {
        debug_assert_eq!(bytes.len() % 4, 0);
        self.buf.extend_from_slice(bytes);
        self
    }

    fn attr(mut self, ty: u16, payload: &[u8]) -> Self {
        let len = 4 + payload.len() as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.buf.resize(self.buf.len().next_multiple_of(4), 0);
        self
    }

    fn name(mut self, name: &str) -> Self {
        if name.contains('\0') {
            self.bad = Some(name.escape_debug().to_string());
        }
        self.attr(IFLA_IFNAME, format!("{name}\0").as_bytes())
    }

    fn nest(self, ty: u16, inner: impl FnOnce(Self) -> Self) -> Self {
        let start = self.buf.len();
        let mut done = inner(self.attr(ty, &[]));
        let len = (done.buf.len() - start) as u16;
        done.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        done
    }

    fn finish(mut self, seq: u32) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf
    }
}

/// struct ifinfomsg, AF_UNSPEC, index 0: the kernel finds the link by IFLA_IFNAME instead.
fn ifinfomsg(flags: u32, change: u32) -> [u8; IFINFO_LEN] {
    let mut out = [0; IFINFO_LEN];
    out[8..12].copy_from_slice(&flags.to_ne_bytes());
    out[12..16].copy_from_slice(&change.to_ne_bytes());
    out
}

fn new_bridge(name: &str) -> Request {
    let kind = |r: Request| r.attr(IFLA_INFO_KIND, b"bridge\0");
    let req = Request::new(RTM_NEWLINK, CREATE_EXCL, &ifinfomsg(0, 0));
    req.name(name).nest(IFLA_LINKINFO, kind)
}

fn new_veth(host: &str, peer: &str, peer_netns: i32) -> Request {
    // The peer is described like a link of its own: an ifinfomsg, then its attributes.
    let fd = (peer_netns as u32).to_ne_bytes();
    let peer = |r: Request| r.raw(&ifinfomsg(0, 0)).name(peer).attr(IFLA_NET_NS_FD, &fd);
    let data = |r: Request| r.nest(VETH_INFO_PEER, peer);
    let info = |r: Request| r.attr(IFLA_INFO_KIND, b"veth\0").nest(IFLA_INFO_DATA, data);
    let req = Request::new(RTM_NEWLINK, CREATE_EXCL, &ifinfomsg(0, 0));
    req.name(host).nest(IFLA_LINKINFO, info)
}

/// RTM_GETLINK or RTM_DELLINK.
fn by_name(ty: u16, name: &str) -> Request {
    Request::new(ty, 0, &ifinfomsg(0, 0)).name(name)
}

fn set_link(name: &str, up: bool, master: Option<u32>) -> Request {
    let flags = if up { IFF_UP } else { 0 };
    let req = Request::new(RTM_SETLINK, 0, &ifinfomsg(flags, flags)).name(name);
    let Some(master) = master else { return req };
    req.attr(IFLA_MASTER, &master.to_ne_bytes())
}

fn new_addr(index: u32, addr: Ipv4Addr, prefix: u8) -> Request {
    // ifaddrmsg: family, prefixlen, flags, scope universe, u32 index.
    let mut ifaddrmsg = [AF_INET, prefix, 0, 0, 0, 0, 0, 0];
    ifaddrmsg[4..].copy_from_slice(&index.to_ne_bytes());
    let req = Request::new(RTM_NEWADDR, CREATE_EXCL, &ifaddrmsg);
    let addr = addr.octets();
    req.attr(IFA_LOCAL, &addr).attr(IFA_ADDRESS, &addr)
}

fn new_default_route(gateway: Ipv4Addr) -> Request {
    let req = Request::new(RTM_NEWROUTE, CREATE_EXCL, &DEFAULT_ROUTE);
    req.attr(RTA_GATEWAY, &gateway.octets())
}

fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(buf.get(at..at + 4)?.try_into().ok()?))
}

/// Splits a received datagram into its netlink messages: (type, sequence number, payload).
fn messages(mut rest: &[u8]) -> impl Iterator<Item = Result<(u16, u32, &[u8]), &'static str>> {
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let len = u32_at(rest, 0).map_or(0, |len| len as usize);
        if len < HDR_LEN || len > rest.len() {
            rest = &[];
            return Some(Err("bad message length"));
        }
        let ty = u16::from_ne_bytes([rest[4], rest[5]]);
        let msg = (ty, u32_at(rest, 8)?, &rest[HDR_LEN..len]);
        rest = &rest[len.next_multiple_of(4).min(rest.len())..];
        Some(Ok(msg))
    })
}

/// Attributes as (type, payload), stopping at the first that does not fit.
fn attrs(mut rest: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = u16::from_ne_bytes(rest.get(0..2)?.try_into().ok()?);
        let ty = u16::from_ne_bytes(rest.get(2..4)?.try_into().ok()?) & NLA_TYPE_MASK;
        let payload = rest.get(4..usize::from(len))?;
        let next = usize::from(len).next_multiple_of(4);
        rest = rest.get(next..).unwrap_or(&[]);
        Some((ty, payload))
    })
}

fn find_attr(buf: &[u8], ty: u16) -> Option<&[u8]> {
    attrs(buf).find(|&(t, _)| t == ty).map(|(_, v)| v)
}

fn format_mac(bytes: &[u8]) -> String {
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex.join(":")
}

/// Retries a syscall a signal interrupted.
fn retry<T>(mut call: impl FnMut() -> nix::Result<T>) -> nix::Result<T> {
    loop {
        match call() {
            Err(Errno::EINTR) => continue,
            done => return done,
        }
    }
}

/// Numbers requests process-wide, so that an answer cannot be mistaken for another's.
static SEQ: AtomicU32 = AtomicU32::new(1);

/// Sends `req` on a fresh NETLINK_ROUTE socket and reads up to its ack; returns any reply.
fn call(op: &'static str, name: &str, req: Request) -> Res<Vec<u8>> {
    if let Some(name) = req.bad {
        let errno = Errno::EINVAL;
        return Err(NetlinkError::Kernel { op, name, errno });
    }
    let (flags, route) = (SockFlag::SOCK_CLOEXEC, SockProtocol::NetlinkRoute);
    let sock = socket(AddressFamily::Netlink, SockType::Raw, flags, route);
    let sock = sock.map_err(|e| io_error(op, name, e))?;
    let fd = sock.as_raw_fd();
    let want = SEQ.fetch_add(1, Ordering::Relaxed);
    let msg = req.finish(want);
    let sent = retry(|| send(fd, &msg, MsgFlags::empty()));
    sent.map_err(|e| io_error(op, name, e))?;
    let (mut buf, mut reply) = (vec![0; RECV_BUF], Vec::new());
    loop {
        // MSG_TRUNC has recv report a datagram's full length even when it did not fit.
        let n = retry(|| recv(fd, &mut buf, MsgFlags::MSG_TRUNC));
        let n = n.map_err(|e| io_error(op, name, e))?;
        if n > buf.len() {
            return Err(malformed(op, name, "truncated"));
        }
        for msg in messages(&buf[..n]) {
            let (ty, seq, payload) = msg.map_err(|what| malformed(op, name, what))?;
            if seq != want {
                continue;
            } else if ty != NLMSG_ERROR {
                reply = payload.to_vec(); // a GET's answer, which precedes the ack
                continue;
            }
            let code = u32_at(payload, 0).ok_or_else(|| malformed(op, name, "short"))?;
            if code == 0 {
                return Ok(reply);
            }
            let (errno, name) = (Errno::from_raw(-(code as i32)), name.to_string());
            return Err(match errno {
                Errno::ENODEV => NetlinkError::NoSuchLink(name),
                errno => NetlinkError::Kernel { op, name, errno },
            });
        }
    }
}

fn index(op: &'static str, name: &str) -> Res<u32> {
    let link = call(op, name, by_name(RTM_GETLINK, name))?; // ifinfomsg, then attributes
    u32_at(&link, 4).ok_or_else(|| malformed(op, name, "no link in reply"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::os::fd::AsFd;
    use std::process::Command;
    use std::time::Instant;

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_ne_bytes([b[at], b[at + 1]])
    }

    #[test]
    fn macs_parse_as_go_reads_them() {
        let cases: &[(&str, Option<[u8; 6]>)] = &[
            ("02:42:ac:11:00:0a", Some([2, 0x42, 0xac, 0x11, 0, 0x0a])),
            ("02-42-AC-11-00-0A", Some([2, 0x42, 0xac, 0x11, 0, 0x0a])),
            ("02:42:ac:11:00", None),
            ("02:42:ac:11:00:0a:01", None),
            ("2:42:ac:11:00:0a", None),
            ("zz:42:ac:11:00:0a", None),
            ("", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_mac(s), *want, "{s}");
        }
        assert_eq!(
            canonical_mac("02-42-AC-11-00-0A").as_deref(),
            Some("02:42:ac:11:00:0a")
        );
        assert_eq!(canonical_mac("nope"), None);
    }

    #[test]
    fn attributes_pad_to_four_bytes() {
        // (payload length, rta_len, bytes taken)
        for (n, rta_len, taken) in [(0, 4, 4), (1, 5, 8), (3, 7, 8), (4, 8, 8), (5, 9, 12)] {
            let msg = Request::new(0, 0, &[]).attr(7, &vec![0xaa; n]).finish(1);
            assert_eq!(msg.len(), HDR_LEN + taken, "payload {n}");
            assert_eq!(u16_at(&msg, HDR_LEN), rta_len, "payload {n}");
            assert!(msg[HDR_LEN + 4 + n..].iter().all(|&b| b == 0), "{n}");
        }
    }

    #[test]
    fn requests_have_expected_header_and_length() {
        let gw = Ipv4Addr::new(10, 0, 0, 1);
        let (ack, new) = (REQUEST_ACK, REQUEST_ACK | CREATE_EXCL);
        let table = [
            (new_bridge("br0"), RTM_NEWLINK, new, 56),
            (new_veth("v0", "eth0", 7), RTM_NEWLINK, new, 100),
            (by_name(RTM_GETLINK, "lo"), RTM_GETLINK, ack, 40),
            (set_link("eth0", true, None), RTM_SETLINK, ack, 44),
            (set_link("v0", false, Some(3)), RTM_SETLINK, ack, 48),
            (by_name(RTM_DELLINK, "v0"), RTM_DELLINK, ack, 40),
            (new_addr(2, gw, 24), RTM_NEWADDR, new, 40),
            (new_default_route(gw), RTM_NEWROUTE, new, 36),
        ];
        for (i, (req, ty, flags, len)) in table.into_iter().enumerate() {
            let msg = req.finish(42);
            let head = (u32_at(&msg, 0), u16_at(&msg, 4), u16_at(&msg, 6));
            let want = (Some(len as u32), ty, flags);
            assert_eq!((msg.len(), head), (len, want), "row {i}");
            assert_eq!((u32_at(&msg, 8), u32_at(&msg, 12)), (Some(42), Some(0)));
        }
        let nul = create_bridge("a\0b").unwrap_err().to_string();
        assert_eq!(nul, r"create bridge a\0b: EINVAL: Invalid argument");
    }

    #[test]
    fn nested_and_family_layouts() {
        let msg = new_veth("v0", "eth0", 7).finish(1);
        let top = &msg[HDR_LEN + IFINFO_LEN..];
        assert_eq!(find_attr(top, IFLA_IFNAME), Some(&b"v0\0"[..]));
        let info = find_attr(top, IFLA_LINKINFO).unwrap();
        assert_eq!(find_attr(info, IFLA_INFO_KIND), Some(&b"veth\0"[..]));
        let data = find_attr(info, IFLA_INFO_DATA).unwrap();
        let peer = find_attr(data, VETH_INFO_PEER).unwrap();
        assert_eq!((info.len(), data.len(), peer.len()), (56, 40, 36));
        assert_eq!(peer[..IFINFO_LEN], [0; IFINFO_LEN]);
        let peer: Vec<_> = attrs(&peer[IFINFO_LEN..]).collect();
        let fd = 7u32.to_ne_bytes();
        let want = [(IFLA_IFNAME, &b"eth0\0"[..]), (IFLA_NET_NS_FD, &fd[..])];
        assert_eq!(peer, want);

        let ip = [10, 250, 0, 2];
        let msg = new_addr(5, ip.into(), 24).finish(1);
        let head = (msg[16..20].to_vec(), u32_at(&msg, 20));
        assert_eq!(head, (vec![2, 24, 0, 0], Some(5)));
        let addrs: Vec<_> = attrs(&msg[24..]).collect();
        assert_eq!(addrs, [(IFA_LOCAL, &ip[..]), (IFA_ADDRESS, &ip[..])]);
        let msg = new_default_route(ip.into()).finish(1);
        assert_eq!(msg[16..28], [2, 0, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0]);
        assert_eq!(find_attr(&msg[28..], RTA_GATEWAY), Some(&ip[..]));
        let msg = set_link("eth0", true, None).finish(1);
        assert_eq!(msg[16..32], ifinfomsg(IFF_UP, IFF_UP));
    }

    #[test]
    fn replies_split_into_messages() {
        let mut link = ifinfomsg(0, 0);
        link[4..8].copy_from_slice(&5u32.to_ne_bytes());
        let mac = [2, 0, 0, 0xaa, 0xbb, 0xcc];
        let link = Request::new(RTM_NEWLINK, 0, &link).attr(IFLA_ADDRESS, &mac);
        let mut datagram = link.finish(3);
        datagram.extend(Request::new(NLMSG_ERROR, 0, &[0; 4]).finish(3));
        let got: Vec<_> = messages(&datagram).collect::<Result<_, _>>().unwrap();
        let first = (got[0].0, got[0].1, u32_at(got[0].2, 4));
        assert_eq!(first, (RTM_NEWLINK, 3, Some(5)));
        let mac = find_attr(&got[0].2[IFINFO_LEN..], IFLA_ADDRESS).unwrap();
        assert_eq!(format_mac(mac), "02:00:00:aa:bb:cc");
        assert_eq!(got[1..], [(NLMSG_ERROR, 3, &[0; 4][..])]);
        let cut = &datagram[..datagram.len() - 2];
        assert_eq!(messages(cut).nth(1), Some(Err("bad message length")));
        assert!(messages(&[1, 0, 0]).next().unwrap().is_err(), "no header");
        assert_eq!(attrs(&[8, 0, 1, 0, 1]).count(), 0, "attribute overruns");
    }

    /// A network namespace pinned by `ip netns add`, deleted on drop; None when not root.
    struct Ns(String, File);

    impl Ns {
        fn new(tag: &str) -> Option<Ns> {
            if !nix::unistd::geteuid().is_root() {
                return None; // needs root
            }
            let name = format!("nlt-{}-{tag}", std::process::id());
            run(&["ip", "netns", "add", &name]);
            let file = File::open(format!("/run/netns/{name}")).unwrap();
            Some(Ns(name, file))
        }
    }

    impl Drop for Ns {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }

    fn run(args: &[&str]) -> String {
        let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {err}");
        String::from_utf8(out.stdout).unwrap()
    }

    fn assert_has(haystack: &str, needle: &str) {
        assert!(haystack.contains(needle), "{needle:?} not in {haystack}");
    }

    #[test]
    fn container_start_sequence() {
        // A private namespace stands in for the host's, so the test touches nothing real.
        let (Some(host), Some(ctr)) = (Ns::new("host"), Ns::new("ctr")) else {
            return;
        };
        let (gw, ip) = (Ipv4Addr::new(10, 250, 0, 1), Ipv4Addr::new(10, 250, 0, 2));
        let setup = in_netns(host.1.as_fd(), || {
            let started = Instant::now();
            assert!(create_bridge("nlt-br0")?);
            add_address("nlt-br0", gw, 24)?;
            set_up("nlt-br0")?;
            create_veth("nlt-veth0", "eth0", ctr.1.as_fd())?;
            set_master("nlt-veth0", "nlt-br0")?;
            set_up("nlt-veth0")?;
            in_netns(ctr.1.as_fd(), || {
                add_address("eth0", ip, 24)?;
                set_up("eth0")?;
                set_up("lo")?;
                add_default_route(gw)
            })?;
            Ok(started.elapsed())
        });
        eprintln!("setup sequence: {:?}", setup.unwrap());

        let addrs = run(&["ip", "-n", &ctr.0, "-4", "addr", "show", "eth0"]);
        assert_has(&addrs, "inet 10.250.0.2/24");
        let routes = run(&["ip", "-n", &ctr.0, "route"]);
        assert_has(&routes, "default via 10.250.0.1 dev eth0");
        let port = run(&["ip", "-n", &host.0, "link", "show", "nlt-veth0"]);
        assert_has(&port, "master nlt-br0 state UP");
        let ping = "command -v ping >/dev/null || exec busybox ping -c1 -W2 $0; ping -c1 -W2 $0";
        let gw = gw.to_string();
        run(&["ip", "netns", "exec", &ctr.0, "sh", "-c", ping, &gw]);

        let times = in_netns(host.1.as_fd(), || {
            let started = Instant::now();
            delete_link("nlt-veth0")?;
            let veth = started.elapsed();
            delete_link("nlt-br0")?;
            Ok((veth, started.elapsed() - veth))
        });
        eprintln!("delete_link (veth, bridge): {:?}", times.unwrap());
        assert!(!run(&["ip", "-n", &host.0, "link"]).contains("nlt-"));
        assert!(!run(&["ip", "-n", &ctr.0, "link"]).contains("eth0"));
    }

    #[test]
    fn repeats_absent_links_and_kernel_errors() {
        let Some(ns) = Ns::new("misc") else {
            return;
        };
        let fails = |r: Result<(), NetlinkError>| r.unwrap_err().to_string();
        let addr = Ipv4Addr::new(10, 251, 0, 1);
        in_netns(ns.1.as_fd(), || {
            assert_eq!((link_index("lo"), link_index("nlt-none")), (Some(1), None));
            assert!(create_bridge("nlt-br1")? && !create_bridge("nlt-br1")?);
            let shown = run(&["ip", "-n", &ns.0, "link", "show", "nlt-br1"]);
            let mac = mac_address("nlt-br1")?;
            assert_has(&shown, &format!("link/ether {mac} brd"));
            add_address("nlt-br1", addr, 24)?;
            add_address("nlt-br1", addr, 24)?;
            let gone = "network interface nlt-none not found";
            assert_eq!(fails(set_up("nlt-none")), gone);
            assert_eq!(fails(set_master("lo", "nlt-none")), gone);
            assert_eq!(fails(add_address("nlt-none", addr, 24)), gone);
            let unreachable = fails(add_default_route(Ipv4Addr::new(192, 0, 2, 1)));
            assert_has(&unreachable, "add default route via 192.0.2.1: ENETUNREACH");
            delete_link("nlt-br1")?;
            delete_link("nlt-br1")?;
            assert_eq!(link_index("nlt-br1"), None);
            Ok(())
        })
        .unwrap();
    }
}

//! Address management, pure: which subnet a new network gets, which address a new endpoint
//! gets. The callers hold the locks and pass in everything already taken.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// The pool new networks are cut from when no `--subnet` is given: /24s of 10.89.0.0/16, as
/// podman's pool (Docker's 172.17–31 ranges are left to a Docker on the same host).
pub const POOL: &str = "10.89.0.0/16";
pub const POOL_PREFIX: u8 = 24;

/// The IPv4 routes of the host from `/proc/net/route` (destination and mask, in the kernel's
/// native-endian hex), default routes left out: a subnet overlapping one of these is in use.
pub fn parse_routes(proc_net_route: &str) -> Vec<Ipv4Net> {
    let mut out = Vec::new();
    for line in proc_net_route.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let (Ok(dst), Ok(mask)) = (u32::from_str_radix(f[1], 16), u32::from_str_radix(f[7], 16))
        else {
            continue;
        };
        // The file holds the bytes in network order read as a native (little-endian) u32.
        let dst = Ipv4Addr::from(u32::from_be(dst.to_le()));
        let prefix = u32::from_be(mask.to_le()).leading_ones() as u8;
        if prefix == 0 {
            continue;
        }
        if let Ok(net) = Ipv4Net::new(dst, prefix) {
            out.push(net.trunc());
        }
    }
    out
}

pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The first /24 of the pool that overlaps nothing in `taken`.
pub fn pick_subnet(taken: &[Ipv4Net]) -> Option<Ipv4Net> {
    let pool: Ipv4Net = POOL.parse().expect("the pool is a valid CIDR");
    pool.subnets(POOL_PREFIX)
        .ok()?
        .find(|s| !taken.iter().any(|t| overlaps(s, t)))
}

/// The gateway Docker gives a subnet: its first host address.
pub fn default_gateway(subnet: &Ipv4Net) -> Option<Ipv4Addr> {
    subnet.hosts().next()
}

/// Whether `ip` may be given to an endpoint: a host address of the subnet, not the gateway.
pub fn assignable(subnet: &Ipv4Net, gateway: Ipv4Addr, ip: Ipv4Addr) -> bool {
    subnet.contains(&ip)
        && ip != gateway
        && ip != subnet.network()
        && (subnet.prefix_len() >= 31 || ip != subnet.broadcast())
}

/// The lowest assignable address of `pool` (the subnet or an IP range in it) not in `used`.
pub fn pick_ip(
    subnet: &Ipv4Net,
    pool: &Ipv4Net,
    gateway: Ipv4Addr,
    used: &BTreeSet<Ipv4Addr>,
) -> Option<Ipv4Addr> {
    pool.hosts()
        .find(|ip| assignable(subnet, gateway, *ip) && !used.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn routes_from_proc() {
        let text =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
br0\t0000590A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        assert_eq!(
            parse_routes(text),
            vec![net("192.0.2.0/24"), net("10.89.0.0/16")]
        );
    }

    #[test]
    fn subnets_skip_what_is_taken() {
        for (taken, want) in [
            (vec![], Some("10.89.0.0/24")),
            (vec!["10.89.0.0/24"], Some("10.89.1.0/24")),
            (vec!["10.89.0.0/23", "10.89.2.0/24"], Some("10.89.3.0/24")),
            (vec!["10.0.0.0/8"], None),
            (vec!["10.89.0.128/25"], Some("10.89.1.0/24")),
        ] {
            let taken: Vec<Ipv4Net> = taken.iter().map(|s| net(s)).collect();
            assert_eq!(pick_subnet(&taken), want.map(net), "{taken:?}");
        }
    }

    #[test]
    fn addresses_skip_gateway_and_used() {
        let s = net("10.89.4.0/24");
        let gw: Ipv4Addr = "10.89.4.1".parse().unwrap();
        let mut used = BTreeSet::new();
        assert_eq!(
            pick_ip(&s, &s, gw, &used),
            Some("10.89.4.2".parse().unwrap())
        );
        used.insert("10.89.4.2".parse().unwrap());
        assert_eq!(
            pick_ip(&s, &s, gw, &used),
            Some("10.89.4.3".parse().unwrap())
        );
        let tiny = net("10.89.5.0/30");
        let gw2: Ipv4Addr = "10.89.5.1".parse().unwrap();
        let used2 = BTreeSet::from(["10.89.5.2".parse().unwrap()]);
        assert_eq!(pick_ip(&tiny, &tiny, gw2, &used2), None);
        // An IP range narrows the pool; the subnet still decides what is assignable.
        let range = net("10.89.4.128/30");
        assert_eq!(
            pick_ip(&s, &range, gw, &used),
            Some("10.89.4.129".parse().unwrap())
        );
    }

    #[test]
    fn assignable_addresses() {
        let s = net("10.89.4.0/24");
        let gw: Ipv4Addr = "10.89.4.1".parse().unwrap();
        for (ip, ok) in [
            ("10.89.4.0", false),
            ("10.89.4.1", false),
            ("10.89.4.2", true),
            ("10.89.4.254", true),
            ("10.89.4.255", false),
            ("10.89.5.2", false),
        ] {
            assert_eq!(assignable(&s, gw, ip.parse().unwrap()), ok, "{ip}");
        }
    }

    #[test]
    fn overlap_both_ways() {
        assert!(overlaps(&net("10.0.0.0/8"), &net("10.89.1.0/24")));
        assert!(overlaps(&net("10.89.1.0/24"), &net("10.0.0.0/8")));
        assert!(!overlaps(&net("10.89.1.0/24"), &net("10.89.2.0/24")));
        assert_eq!(
            default_gateway(&net("10.89.1.0/24")),
            Some("10.89.1.1".parse().unwrap())
        );
    }
}

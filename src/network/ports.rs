//! Container port publishing as Docker spells it: parsing `-p`/`-P`/EXPOSE values and rendering
//! bindings for `ps`, `port` and `inspect`. Picking free ports and binding sockets live elsewhere.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

impl FromStr for Proto {
    type Err = PortError;

    fn from_str(s: &str) -> Result<Self, PortError> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            _ => Err(proto_error(s, s)),
        }
    }
}

/// One published port as the user asked for it (before free ports are picked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRequest {
    /// "" = every address of the host; otherwise a validated IPv4 address as given.
    pub host_ip: String,
    /// 0 together with `host_port_end` 0 = pick a free port.
    pub host_port_start: u16,
    /// Equal to the start for a single port; a wider range means any one free port of it.
    pub host_port_end: u16,
    pub container_port: u16,
    pub protocol: Proto,
}

/// A published port as bound (the host port chosen).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PortBinding {
    /// "" = every address.
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Proto,
}

/// `spec` is always the whole text the caller handed in, so a message stands on its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    #[error("no port specified: {spec:?}: expected [IP:][HOSTPORT:]CONTAINERPORT[/PROTO]")]
    Empty { spec: String },
    #[error("invalid containerPort: {port:?} in {spec:?}: expected a port 1-65535 or START-END")]
    InvalidContainerPort { spec: String, port: String },
    #[error("invalid hostPort: {port:?} in {spec:?}: expected a port 0-65535 or START-END")]
    InvalidHostPort { spec: String, port: String },
    #[error("invalid range specified for port: {range:?} in {spec:?}: expected START <= END")]
    InvalidRange { spec: String, range: String },
    #[error(
        "invalid ranges specified for container and host Ports: {container} and {host} \
         in {spec:?}: expected ranges of equal length, or a single container port"
    )]
    UnequalRanges {
        spec: String,
        container: String,
        host: String,
    },
    #[error("invalid IP address: {ip:?} in {spec:?}: expected an IPv4 address such as 127.0.0.1")]
    InvalidIp { spec: String, ip: String },
    #[error("IPv6 host address {ip:?} in {spec:?} is not supported yet: use an IPv4 address")]
    Ipv6Unsupported { spec: String, ip: String },
    #[error("invalid proto: {proto:?} in {spec:?}: expected tcp or udp")]
    InvalidProto { spec: String, proto: String },
    /// Carries e.g. "80/tcp"; the caller appends " for <ctr>" to match Docker's wording.
    #[error("No public port '{port}' published")]
    NoPublicPort { port: String },
}

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Container,
    Host,
}

fn port_error(side: Side, spec: &str, port: &str) -> PortError {
    let (spec, port) = (spec.into(), port.into());
    match side {
        Side::Container => PortError::InvalidContainerPort { spec, port },
        Side::Host => PortError::InvalidHostPort { spec, port },
    }
}

fn proto_error(spec: &str, proto: &str) -> PortError {
    let (spec, proto) = (spec.into(), proto.into());
    PortError::InvalidProto { spec, proto }
}

/// Docker reads a missing or empty `/PROTO` as tcp.
fn split_proto(spec: &str) -> Result<(&str, Proto), PortError> {
    let (port, proto) = spec.split_once('/').unwrap_or((spec, ""));
    if port.is_empty() {
        return Err(PortError::Empty { spec: spec.into() });
    }
    if proto.is_empty() {
        return Ok((port, Proto::Tcp));
    }
    let proto = proto.parse().map_err(|_| proto_error(spec, proto))?;
    Ok((port, proto))
}

fn parse_range(spec: &str, text: &str, side: Side) -> Result<(u16, u16), PortError> {
    let bad = || port_error(side, spec, text);
    // `u16::from_str` would also take "+80", which Docker rejects.
    let num = |s: &str| match s.bytes().all(|b| b.is_ascii_digit()) {
        true => s.parse::<u16>().ok(),
        false => None,
    };
    let (start, end) = match text.split_once('-') {
        None => num(text).map(|p| (p, p)).ok_or_else(bad)?,
        Some((a, b)) => (num(a).ok_or_else(bad)?, num(b).ok_or_else(bad)?),
    };
    if end < start {
        let (spec, range) = (spec.into(), text.into());
        return Err(PortError::InvalidRange { spec, range });
    }
    // A lone host port 0 is Docker's "any free port"; elsewhere 0 names no port.
    if start == 0 && (side == Side::Container || text.contains('-')) {
        return Err(bad());
    }
    Ok((start, end))
}

fn check_ip(spec: &str, ip: &str) -> Result<String, PortError> {
    let inner = ip.strip_prefix('[').and_then(|s| s.strip_suffix(']'));
    let v6 = inner.unwrap_or(ip).parse::<Ipv6Addr>().is_ok();
    if !v6 && (ip.is_empty() || (inner.is_none() && ip.parse::<Ipv4Addr>().is_ok())) {
        return Ok(ip.into());
    }
    let (spec, ip) = (spec.into(), ip.into());
    Err(match v6 {
        true => PortError::Ipv6Unsupported { spec, ip },
        false => PortError::InvalidIp { spec, ip },
    })
}

/// Parses one `-p`/`--publish` value, Docker's syntax `[IP:][HOSTPORT:]CONTAINERPORT[/PROTO]`.
pub fn parse_publish(spec: &str) -> Result<Vec<PortRequest>, PortError> {
    let (addr, protocol) = split_proto(spec)?;
    // Splitting from the right keeps an IPv6 address, colons and all, in the IP part.
    let mut parts = addr.rsplitn(3, ':');
    let container = parts.next().unwrap_or_default();
    let host = parts.next().unwrap_or_default();
    let host_ip = check_ip(spec, parts.next().unwrap_or_default())?;
    if container.is_empty() {
        return Err(PortError::Empty { spec: spec.into() });
    }
    let (c_start, c_end) = parse_range(spec, container, Side::Container)?;
    let request = |host_port_start, host_port_end, container_port| PortRequest {
        host_ip: host_ip.clone(),
        host_port_start,
        host_port_end,
        container_port,
        protocol,
    };
    if host.is_empty() {
        return Ok((c_start..=c_end).map(|c| request(0, 0, c)).collect());
    }
    let (h_start, h_end) = parse_range(spec, host, Side::Host)?;
    // A host range against one container port is a pool to pick a free port from.
    if c_start == c_end {
        return Ok(vec![request(h_start, h_end, c_start)]);
    }
    if h_end - h_start != c_end - c_start {
        let (spec, container, host) = (spec.into(), container.into(), host.into());
        return Err(PortError::UnequalRanges {
            spec,
            container,
            host,
        });
    }
    let pairs = (c_start..=c_end).zip(h_start..=h_end);
    Ok(pairs.map(|(c, h)| request(h, h, c)).collect())
}

/// Parses an image ExposedPorts key or EXPOSE value: "80", "80/tcp", "53/udp", "8000-8002/tcp".
pub fn parse_exposed(key: &str) -> Result<Vec<(u16, Proto)>, PortError> {
    let (port, proto) = split_proto(key)?;
    let (start, end) = parse_range(key, port, Side::Container)?;
    Ok((start..=end).map(|p| (p, proto)).collect())
}

/// `-P`: every exposed port gets a free host port on every address.
pub fn publish_all(exposed: &[String]) -> Result<Vec<PortRequest>, PortError> {
    let mut ports = BTreeSet::new();
    for key in exposed {
        ports.extend(parse_exposed(key)?);
    }
    let request = |(container_port, protocol)| PortRequest {
        host_ip: String::new(),
        host_port_start: 0,
        host_port_end: 0,
        container_port,
        protocol,
    };
    Ok(ports.into_iter().map(request).collect())
}

fn span(first: u16, last: u16) -> String {
    match first == last {
        true => first.to_string(),
        false => format!("{first}-{last}"),
    }
}

fn shown_ip(ip: &str) -> &str {
    match ip {
        "" => "0.0.0.0",
        ip => ip,
    }
}

fn host_addr(b: &PortBinding) -> String {
    format!("{}:{}", shown_ip(&b.host_ip), b.host_port)
}

fn sorted_bindings(bindings: &[PortBinding]) -> Vec<&PortBinding> {
    let key = |b: &PortBinding| (b.container_port, b.protocol, b.host_ip.clone(), b.host_port);
    let mut sorted: Vec<&PortBinding> = bindings.iter().collect();
    sorted.sort_by_cached_key(|b| key(b));
    sorted.dedup();
    sorted
}

/// A collapsed `ps` entry: (first container, proto, ip, first host, last container, last host).
/// Field order is display order; ip `None` marks an exposed-only port.
type Run<'a> = (u16, Proto, Option<&'a str>, u16, u16, u16);

/// The PORTS column of `docker ps`, with consecutive runs collapsed into ranges.
pub fn ps_column(bindings: &[PortBinding], exposed_unpublished: &[(u16, Proto)]) -> String {
    // Ordering by group (proto, ip) and then ports means a run only ever grows at its end, and
    // only runs of the current group can take the next item.
    let mut items = BTreeSet::new();
    let mut published = BTreeSet::new();
    for b in bindings {
        let ip = Some(b.host_ip.as_str());
        items.insert((b.protocol, ip, b.container_port, b.host_port));
        published.insert((b.container_port, b.protocol));
    }
    for &(c, p) in exposed_unpublished {
        // Pairing an exposed port with itself lets one collapsing rule serve both kinds.
        if !published.contains(&(c, p)) {
            items.insert((p, None, c, c));
        }
    }
    let mut runs: Vec<Run> = Vec::new();
    for (proto, ip, c, h) in items {
        let same = |r: &&mut Run| (r.1, r.2) == (proto, ip);
        let next = |r: &&mut Run| r.4.checked_add(1) == Some(c) && r.5.checked_add(1) == Some(h);
        match runs.iter_mut().rev().take_while(same).find(next) {
            Some(run) => (run.4, run.5) = (c, h),
            None => runs.push((c, proto, ip, h, c, h)),
        }
    }
    runs.sort();
    let show = |&(c0, proto, ip, h0, c1, h1): &Run| {
        let (c, h) = (span(c0, c1), span(h0, h1));
        match ip {
            Some(ip) => format!("{}:{h}->{c}/{proto}", shown_ip(ip)),
            None => format!("{c}/{proto}"),
        }
    };
    runs.iter().map(show).collect::<Vec<_>>().join(", ")
}

/// `docker port CTR` output lines, one per binding, sorted: "80/tcp -> 0.0.0.0:8080".
pub fn port_lines(bindings: &[PortBinding]) -> Vec<String> {
    let line = |b: &PortBinding| format!("{}/{} -> {}", b.container_port, b.protocol, host_addr(b));
    sorted_bindings(bindings).into_iter().map(line).collect()
}

/// `docker port CTR PORT[/PROTO]`: the "IP:PORT" lines of bindings for that one container port.
pub fn port_filter(bindings: &[PortBinding], filter: &str) -> Result<Vec<String>, PortError> {
    let (port, proto) = split_proto(filter)?;
    let (start, end) = parse_range(filter, port, Side::Container)?;
    if start != end {
        return Err(port_error(Side::Container, filter, port));
    }
    let lines: Vec<String> = sorted_bindings(bindings)
        .into_iter()
        .filter(|b| (b.container_port, b.protocol) == (start, proto))
        .map(host_addr)
        .collect();
    if lines.is_empty() {
        let port = format!("{start}/{proto}");
        return Err(PortError::NoPublicPort { port });
    }
    Ok(lines)
}

/// Docker's `NetworkSettings.Ports` map; exposed-only ports map to null.
pub fn inspect_ports(bindings: &[PortBinding], exposed_unpublished: &[(u16, Proto)]) -> Value {
    // A port listed both ways ends up with its bindings, in whichever order it is seen.
    let mut ports: BTreeMap<(u16, Proto), Option<Vec<Value>>> = BTreeMap::new();
    for &key in exposed_unpublished {
        ports.entry(key).or_default();
    }
    for b in sorted_bindings(bindings) {
        let (ip, port) = (shown_ip(&b.host_ip), b.host_port.to_string());
        let binding = json!({ "HostIp": ip, "HostPort": port });
        let entry = ports.entry((b.container_port, b.protocol)).or_default();
        entry.get_or_insert_with(Vec::new).push(binding);
    }
    // Numeric key order relies on serde_json's `preserve_order`, which the crate enables.
    let mut map = Map::new();
    for ((port, proto), list) in ports {
        map.insert(format!("{port}/{proto}"), json!(list));
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Errors shown as "!Variant" so each table case fits on one line.
    fn outcome<T>(r: Result<T, PortError>, show: impl Fn(T) -> String) -> String {
        let variant = |e: PortError| format!("!{e:?}").split(' ').next().unwrap().to_string();
        r.map(show).unwrap_or_else(variant)
    }

    /// Requests as "IP:HOST[-HOSTEND]:CONTAINER/PROTO", space separated.
    fn show(reqs: Vec<PortRequest>) -> String {
        let one = |r: &PortRequest| {
            let host = span(r.host_port_start, r.host_port_end);
            format!("{}:{host}:{}/{}", r.host_ip, r.container_port, r.protocol)
        };
        reqs.iter().map(one).collect::<Vec<_>>().join(" ")
    }

    /// Bindings written as space-separated `-p` specs with explicit host ports.
    fn binds(specs: &str) -> Vec<PortBinding> {
        let bind = |r: PortRequest| PortBinding {
            host_ip: r.host_ip,
            host_port: r.host_port_start,
            container_port: r.container_port,
            protocol: r.protocol,
        };
        let reqs = specs.split_whitespace().map(|s| parse_publish(s).unwrap());
        reqs.flatten().map(bind).collect()
    }

    fn exposed(keys: &str) -> Vec<(u16, Proto)> {
        let ports = keys.split_whitespace().map(|k| parse_exposed(k).unwrap());
        ports.flatten().collect()
    }

    #[test]
    fn proto_from_str_display_serde() {
        let cases = [
            ("tcp", "tcp"),
            ("UDP", "udp"),
            ("Tcp", "tcp"),
            ("sctp", "!InvalidProto"),
        ];
        for (input, want) in cases {
            assert_eq!(outcome(input.parse::<Proto>(), |p| p.to_string()), want);
        }
        let err = "sctp".parse::<Proto>().unwrap_err().to_string();
        assert_eq!(
            err,
            r#"invalid proto: "sctp" in "sctp": expected tcp or udp"#
        );
        assert_eq!(serde_json::to_value(Proto::Udp).unwrap(), json!("udp"));
        assert_eq!(
            serde_json::from_value::<Proto>(json!("tcp")).unwrap(),
            Proto::Tcp
        );
    }

    #[test]
    fn parse_publish_table() {
        #[rustfmt::skip]
        let cases = [
            ("80", ":0:80/tcp"),
            ("8080:80", ":8080:80/tcp"),
            ("127.0.0.1:8080:80", "127.0.0.1:8080:80/tcp"),
            ("127.0.0.1::80", "127.0.0.1:0:80/tcp"),
            ("::80", ":0:80/tcp"),
            ("0:80", ":0:80/tcp"),
            ("8080:80/udp", ":8080:80/udp"),
            ("8080:80/UDP", ":8080:80/udp"),
            ("80/", ":0:80/tcp"),
            ("8000-8002:80-82", ":8000:80/tcp :8001:81/tcp :8002:82/tcp"),
            ("65534-65535:1-2", ":65534:1/tcp :65535:2/tcp"),
            ("8000-8010:80", ":8000-8010:80/tcp"),
            ("80-82", ":0:80/tcp :0:81/tcp :0:82/tcp"),
            ("", "!Empty"),
            ("8080:", "!Empty"),
            ("abc", "!InvalidContainerPort"),
            ("+80", "!InvalidContainerPort"),
            ("0", "!InvalidContainerPort"),
            ("65536", "!InvalidContainerPort"),
            ("80-81-82", "!InvalidContainerPort"),
            ("x:80", "!InvalidHostPort"),
            ("0-5:80", "!InvalidHostPort"),
            ("82-80", "!InvalidRange"),
            ("8010-8000:80", "!InvalidRange"),
            ("8000-8001:80-82", "!UnequalRanges"),
            ("8000:80-82", "!UnequalRanges"),
            ("1.2.3:8080:80", "!InvalidIp"),
            ("1.2.3.4:5:8080:80", "!InvalidIp"),
            ("[1.2.3.4]:8080:80", "!InvalidIp"),
            ("[::1]:8080:80", "!Ipv6Unsupported"),
            ("::1:8080:80", "!Ipv6Unsupported"),
            ("8080:80/sctp", "!InvalidProto"),
        ];
        for (spec, want) in cases {
            assert_eq!(outcome(parse_publish(spec), show), want, "{spec}");
        }
    }

    #[test]
    fn error_messages_keep_docker_wording() {
        #[rustfmt::skip]
        let cases = [
            ("", r#"no port specified: "": expected [IP:][HOSTPORT:]CONTAINERPORT[/PROTO]"#),
            ("a", r#"invalid containerPort: "a" in "a": expected a port 1-65535 or START-END"#),
            ("x:80", r#"invalid hostPort: "x" in "x:80": expected a port 0-65535 or START-END"#),
            ("2-1", r#"invalid range specified for port: "2-1" in "2-1": expected START <= END"#),
            ("1-2:3-5", "invalid ranges specified for container and host Ports: 3-5 and 1-2 in"),
            ("a:1:2", r#"invalid IP address: "a" in "a:1:2": expected an IPv4 address"#),
            ("[::1]:1:2", r#"IPv6 host address "[::1]" in "[::1]:1:2" is not supported yet"#),
            ("1/x", r#"invalid proto: "x" in "1/x": expected tcp or udp"#),
        ];
        for (spec, want) in cases {
            let got = parse_publish(spec).unwrap_err().to_string();
            assert!(got.starts_with(want), "{spec}: {got}");
        }
    }

    #[test]
    fn parse_exposed_table() {
        let cases = [
            ("80", "80/tcp"),
            ("53/udp", "53/udp"),
            ("8000-8002/tcp", "8000/tcp 8001/tcp 8002/tcp"),
            ("", "!Empty"),
            ("0/tcp", "!InvalidContainerPort"),
            ("8080:80", "!InvalidContainerPort"),
            ("90-80/tcp", "!InvalidRange"),
            ("80/icmp", "!InvalidProto"),
        ];
        let show = |v: Vec<(u16, Proto)>| {
            let keys: Vec<String> = v.iter().map(|(p, proto)| format!("{p}/{proto}")).collect();
            keys.join(" ")
        };
        for (key, want) in cases {
            assert_eq!(outcome(parse_exposed(key), show), want, "{key}");
        }
    }

    #[test]
    fn publish_all_table() {
        #[rustfmt::skip]
        let cases = [
            ("", ""),
            ("443/tcp 80/tcp 80/tcp 53/udp 53", ":0:53/tcp :0:53/udp :0:80/tcp :0:443/tcp"),
            ("81-82/tcp 81", ":0:81/tcp :0:82/tcp"),
            ("80/tcp x/tcp", "!InvalidContainerPort"),
        ];
        for (keys, want) in cases {
            let keys: Vec<String> = keys.split_whitespace().map(String::from).collect();
            assert_eq!(outcome(publish_all(&keys), show), want, "{keys:?}");
        }
    }

    #[test]
    fn ps_column_table() {
        #[rustfmt::skip]
        let cases = [
            ("", "", ""),
            ("8080:80", "", "0.0.0.0:8080->80/tcp"),
            ("127.0.0.1:32768:80", "", "127.0.0.1:32768->80/tcp"),
            ("8002:82 8000:80 8001:81", "", "0.0.0.0:8000-8002->80-82/tcp"),
            ("8000:80 9000:81", "", "0.0.0.0:8000->80/tcp, 0.0.0.0:9000->81/tcp"),
            ("8000:80 8001:81/udp", "", "0.0.0.0:8000->80/tcp, 0.0.0.0:8001->81/udp"),
            ("8000:80 1.2.3.4:8001:81", "", "0.0.0.0:8000->80/tcp, 1.2.3.4:8001->81/tcp"),
            ("1.2.3.4:9:80 8:80 9:81", "", "0.0.0.0:8-9->80-81/tcp, 1.2.3.4:9->80/tcp"),
            ("8:80 20:80 9:81", "", "0.0.0.0:8-9->80-81/tcp, 0.0.0.0:20->80/tcp"),
            ("65535:80 0:81", "", "0.0.0.0:65535->80/tcp, 0.0.0.0:0->81/tcp"),
            ("", "82 80 81 81 53/udp", "53/udp, 80-82/tcp"),
            ("8443:443", "80 443", "80/tcp, 0.0.0.0:8443->443/tcp"),
        ];
        for (b, e, want) in cases {
            assert_eq!(ps_column(&binds(b), &exposed(e)), want, "{b} / {e}");
        }
    }

    #[test]
    fn port_lines_table() {
        #[rustfmt::skip]
        let cases = [
            ("", ""),
            ("8080:80 8080:80", "80/tcp -> 0.0.0.0:8080"),
            ("53:53/udp 1.2.3.4:9:80", "53/udp -> 0.0.0.0:53, 80/tcp -> 1.2.3.4:9"),
            ("1.2.3.4:9:80 8:80", "80/tcp -> 0.0.0.0:8, 80/tcp -> 1.2.3.4:9"),
        ];
        for (b, want) in cases {
            assert_eq!(port_lines(&binds(b)).join(", "), want, "{b}");
        }
    }

    #[test]
    fn port_filter_table() {
        let b = binds("127.0.0.1:9000:80 8080:80 5353:53/udp");
        let cases = [
            ("80", "0.0.0.0:8080 127.0.0.1:9000"),
            ("80/tcp", "0.0.0.0:8080 127.0.0.1:9000"),
            ("53/UDP", "0.0.0.0:5353"),
            ("53", "!NoPublicPort"),
            ("", "!Empty"),
            ("http", "!InvalidContainerPort"),
            ("80-81", "!InvalidContainerPort"),
            ("80/sctp", "!InvalidProto"),
        ];
        for (filter, want) in cases {
            let got = outcome(port_filter(&b, filter), |v| v.join(" "));
            assert_eq!(got, want, "{filter}");
        }
        let err = port_filter(&b, "81/udp").unwrap_err();
        assert_eq!(err.to_string(), "No public port '81/udp' published");
    }

    #[test]
    fn inspect_ports_table() {
        #[rustfmt::skip]
        let cases = [
            ("", "", "{}"),
            ("", "53/udp", r#"{"53/udp":null}"#),
            ("8080:80", "", r#"{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]}"#),
            ("1.2.3.4:9:80", "80", r#"{"80/tcp":[{"HostIp":"1.2.3.4","HostPort":"9"}]}"#),
        ];
        for (b, e, want) in cases {
            let got = inspect_ports(&binds(b), &exposed(e)).to_string();
            assert_eq!(got, want, "{b} / {e}");
        }
        let two = inspect_ports(&binds("1.2.3.4:9:80 8:80"), &[]);
        let want =
            json!([{"HostIp": "0.0.0.0", "HostPort": "8"}, {"HostIp": "1.2.3.4", "HostPort": "9"}]);
        assert_eq!(two["80/tcp"], want);
        let mixed = inspect_ports(&binds("9:443 8:53/udp"), &exposed("80 53 8080"));
        let keys: Vec<&String> = mixed.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["53/tcp", "53/udp", "80/tcp", "443/tcp", "8080/tcp"]);
    }
}

//! Owns the text of a container's `/etc/hosts`, `/etc/resolv.conf` and `/etc/hostname`, as Docker writes them; callers do the file I/O.

use std::net::IpAddr;

/// The `--add-host` word that stands for the network's gateway address.
pub const HOST_GATEWAY: &str = "host-gateway";

/// Docker's fallback when the host leaves the container no usable nameserver.
const DEFAULT_NAMESERVERS: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

const HOSTS_PREAMBLE: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EtcError {
    #[error("invalid --add-host {spec:?}: expected NAME:IP or NAME=IP, NAME non-empty without ':' or whitespace")]
    AddHostFormat { spec: String },
    #[error("invalid IP address {ip:?} in --add-host {spec:?}: expected an IPv4 or IPv6 address or \"host-gateway\"")]
    AddHostIp { spec: String, ip: String },
    #[error("--add-host {spec:?} uses \"host-gateway\": expected a network gateway, but the container has none")]
    NoHostGateway { spec: String },
    #[error("invalid --dns {value:?}: expected an IPv4 or IPv6 address")]
    Dns { value: String },
    #[error("invalid --dns-search {value:?}: expected a domain name (letters, digits, inner hyphens) or \".\"")]
    DnsSearch { value: String },
    #[error("invalid --dns-option {value:?}: expected a non-empty option without whitespace")]
    DnsOption { value: String },
}

/// One `--add-host NAME:IP` entry (Docker also accepts `NAME=IP`; IP may be IPv6, e.g. `h:::1` or `h=::1`; or the special word `host-gateway`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraHost {
    pub name: String,
    pub ip: String,
}

/// Parses one --add-host value. `host_gateway` is the address the word `host-gateway` stands for (the network's gateway); None when the container has no gateway (then `host-gateway` is an error saying so). Validates the IP (v4 or v6) and that the name is non-empty.
pub fn parse_add_host(spec: &str, host_gateway: Option<&str>) -> Result<ExtraHost, EtcError> {
    let owned = || spec.to_string();
    // `=` wins because an IPv6 address is full of colons; with `:` only the first one separates.
    let pair = spec.split_once('=').or_else(|| spec.split_once(':'));
    // Whitespace in the name would split or break the hosts line it ends up on.
    let valid_name =
        |n: &str| !n.is_empty() && !n.contains(|c: char| c == ':' || c.is_whitespace());
    let Some((name, ip)) = pair.filter(|(name, _)| valid_name(name)) else {
        return Err(EtcError::AddHostFormat { spec: owned() });
    };
    let (name, ip) = (name.to_string(), ip.trim());
    let ip = if ip == HOST_GATEWAY {
        let no_gateway = || EtcError::NoHostGateway { spec: owned() };
        let gateway = host_gateway.ok_or_else(no_gateway)?;
        gateway.to_string()
    } else {
        // Docker accepts a bracketed address, which reads better for IPv6.
        let bare = ip.strip_prefix('[').and_then(|s| s.strip_suffix(']'));
        let parsed = bare.unwrap_or(ip).parse::<IpAddr>();
        let ip = ip.to_string();
        let addr = parsed.map_err(|_| EtcError::AddHostIp { spec: owned(), ip })?;
        addr.to_string()
    };
    Ok(ExtraHost { name, ip })
}

pub struct HostsInput<'a> {
    pub hostname: &'a str,
    pub domainname: Option<&'a str>,
    /// The container's own IPv4 addresses (empty on `--network none` or `host`); only the first is listed.
    pub addresses: &'a [String],
    /// Extra names for the container's own line; Docker uses none on the default bridge.
    pub aliases: &'a [String],
    /// `--add-host` entries, in order.
    pub extra: &'a [ExtraHost],
}

fn push_extra(out: &mut String, extra: &[ExtraHost]) {
    for host in extra {
        out.push_str(&format!("{}\t{}\n", host.ip, host.name));
    }
}

/// Docker's /etc/hosts: the fixed localhost/IPv6 block, an "IP\tNAME" line per extra host, then the container's
/// first address with its names ("IP\thost.domain host alias…"). Without an address (`--network none`) Docker
/// writes no line for the container, and neither does this.
pub fn hosts(input: &HostsInput<'_>) -> String {
    let mut out = String::from(HOSTS_PREAMBLE);
    push_extra(&mut out, input.extra);
    let Some(ip) = input.addresses.first() else {
        return out;
    };
    let fqdn = match input.domainname.filter(|d| !d.is_empty()) {
        Some(domain) => format!("{}.{domain}", input.hostname),
        None => input.hostname.to_string(),
    };
    // As in Docker, a dotted name (whole or via --domainname) also answers to its first label.
    let short = fqdn.split_once('.').map(|(s, _)| s.to_string());
    let mut names: Vec<String> = Vec::new();
    let aliases = input.aliases.iter().cloned();
    for name in std::iter::once(fqdn).chain(short).chain(aliases) {
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    if !names.is_empty() {
        out.push_str(&format!("{ip}\t{}\n", names.join(" ")));
    }
    out
}

/// /etc/hosts for `--network host`: Docker copies the host's /etc/hosts and appends the --add-host lines.
pub fn hosts_for_host_network(host_hosts: &str, extra: &[ExtraHost]) -> String {
    let mut out = host_hosts.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    push_extra(&mut out, extra);
    out
}

pub struct ResolvInput<'a> {
    /// The host's /etc/resolv.conf text.
    pub host_resolv_conf: &'a str,
    /// The embedded DNS server (user-defined networks): then the only nameserver. None on the default bridge.
    pub embedded_dns: Option<&'a str>,
    pub dns: &'a [String],
    /// `--dns-search` domains; "." means no search list.
    pub dns_search: &'a [String],
    pub dns_options: &'a [String],
}

/// What Docker takes from a resolv.conf.
#[derive(Default)]
struct Parsed<'a> {
    nameservers: Vec<&'a str>,
    search: Vec<&'a str>,
    options: Vec<&'a str>,
    other: Vec<&'a str>,
}

fn parse_resolv(text: &str) -> Parsed<'_> {
    let mut parsed = Parsed::default();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        // A blank line is as good as a comment.
        let key = fields.next().unwrap_or("#");
        match key {
            _ if key.starts_with('#') || key.starts_with(';') => {}
            "nameserver" => parsed.nameservers.extend(fields.next()),
            // `domain` is the obsolete spelling of `search`; the resolver honours only the last of either.
            "search" | "domain" => {
                let list: Vec<&str> = fields.collect();
                if !list.is_empty() {
                    parsed.search = list;
                }
            }
            "options" => parsed.options.extend(fields),
            _ => parsed.other.push(line.trim_end()),
        }
    }
    parsed
}

/// Host files may list link-local IPv6 servers with a `%zone`, which std's parser refuses.
fn parse_ns(addr: &str) -> Option<IpAddr> {
    addr.split('%').next()?.parse().ok()
}

/// The host's non-loopback nameservers, else Docker's defaults: a host-side loopback resolver
/// (systemd-resolved, dnsmasq) is unreachable from the container's namespace. Like Docker, this
/// also drops entries that are not addresses.
fn usable_host_nameservers(parsed: &Parsed<'_>) -> Vec<String> {
    let mut servers = Vec::new();
    for &addr in &parsed.nameservers {
        // Canonical form catches IPv4-mapped loopback (::ffff:127.0.0.1) too.
        if parse_ns(addr).is_some_and(|ip| !ip.to_canonical().is_loopback()) {
            servers.push(addr.to_string());
        }
    }
    if servers.is_empty() {
        servers = DEFAULT_NAMESERVERS.map(String::from).to_vec();
    }
    servers
}

/// Docker's resolv.conf rules: host nameservers minus localhost ones (IPv6 kept), falling back to 8.8.8.8 and
/// 8.8.4.4; --dns, --dns-search and --dns-option each replace their part; unrecognised host directives are kept,
/// comments dropped. With an embedded DNS server it is the only nameserver and `ndots:0` joins the options
/// unless an ndots is already set. Lines: "search", "nameserver"s, "options", then kept host directives.
pub fn resolv_conf(input: &ResolvInput<'_>) -> String {
    let parsed = parse_resolv(input.host_resolv_conf);
    let nameservers = match (input.embedded_dns, input.dns) {
        (Some(ip), _) => vec![ip.to_string()],
        // Docker trusts --dns as given: 127.0.0.1 there means the container's own loopback.
        (None, [_, ..]) => input.dns.to_vec(),
        (None, []) => usable_host_nameservers(&parsed),
    };
    let mut search: Vec<&str> = match input.dns_search {
        [] => parsed.search.clone(),
        flags => flags.iter().map(String::as_str).collect(),
    };
    search.retain(|s| *s != ".");
    let wanted: Vec<&str> = match input.dns_options {
        [] => parsed.options.clone(),
        flags => flags.iter().map(String::as_str).collect(),
    };
    let mut options: Vec<&str> = Vec::new();
    for option in wanted {
        // A malformed ndots would be ignored by the resolver, so Docker drops it and supplies its own.
        let ndots = option.strip_prefix("ndots:");
        let dropped =
            input.embedded_dns.is_some() && ndots.is_some_and(|n| n.parse::<u32>().is_err());
        if !dropped && !options.contains(&option) {
            options.push(option);
        }
    }
    // The embedded server answers container names only if bare names reach it unqualified first;
    // a user's own ndots is respected.
    if input.embedded_dns.is_some() && !options.iter().any(|o| o.starts_with("ndots:")) {
        options.push("ndots:0");
    }

    let mut out = String::new();
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    for server in &nameservers {
        out.push_str(&format!("nameserver {server}\n"));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    for line in &parsed.other {
        out.push_str(&format!("{line}\n"));
    }
    out
}

/// The upstream servers the embedded DNS forwards to: --dns when given, else the host's non-localhost
/// nameservers, else (as Docker does) 8.8.8.8 and 8.8.4.4.
pub fn upstream_servers(host_resolv_conf: &str, dns: &[String]) -> Vec<String> {
    if dns.is_empty() {
        usable_host_nameservers(&parse_resolv(host_resolv_conf))
    } else {
        dns.to_vec()
    }
}

/// /etc/hostname: the hostname and a newline.
pub fn hostname_file(hostname: &str) -> String {
    format!("{hostname}\n")
}

/// Docker's rule: dot-separated labels of letters, digits and inner hyphens, at least one letter,
/// optionally a trailing dot; labels are also held to DNS's 63-byte limit.
fn is_domain(value: &str) -> bool {
    let body = value.strip_suffix('.').unwrap_or(value);
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    body.len() < 255
        && body.chars().any(|c| c.is_ascii_alphabetic())
        && body.split('.').all(label_ok)
}

/// Validates --dns (IP), --dns-search (domain), --dns-option (non-empty, no whitespace) values; errors name the flag and value.
pub fn validate_dns(dns: &[String], search: &[String], options: &[String]) -> Result<(), EtcError> {
    if let Some(bad) = dns.iter().find(|d| d.parse::<IpAddr>().is_err()) {
        return Err(EtcError::Dns { value: bad.clone() });
    }
    if let Some(bad) = search.iter().find(|s| s.as_str() != "." && !is_domain(s)) {
        return Err(EtcError::DnsSearch { value: bad.clone() });
    }
    let bad_option = |o: &&String| o.is_empty() || o.contains(char::is_whitespace);
    if let Some(bad) = options.iter().find(bad_option) {
        return Err(EtcError::DnsOption { value: bad.clone() });
    }
    Ok(())
}

// Tables keep one case per line, which rustfmt would unfold.
#[rustfmt::skip]
#[cfg(test)]
mod tests {
    use super::*;

    fn strs(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn eh(name: &str, ip: &str) -> ExtraHost {
        ExtraHost { name: name.into(), ip: ip.into() }
    }

    #[test]
    fn add_host_parsing() {
        let gw = Some("172.17.0.1");
        let format = |s: &str| Err(EtcError::AddHostFormat { spec: s.into() });
        let bad_ip = |s: &str, ip: &str| Err(EtcError::AddHostIp { spec: s.into(), ip: ip.into() });
        let cases = [
            ("db:10.0.0.5", gw, Ok(eh("db", "10.0.0.5"))),
            ("db=10.0.0.5", gw, Ok(eh("db", "10.0.0.5"))),
            ("h:::1", gw, Ok(eh("h", "::1"))),
            ("h=::1", gw, Ok(eh("h", "::1"))),
            ("h:[2001:db8::1]", gw, Ok(eh("h", "2001:db8::1"))),
            ("h=2001:DB8:0::1", gw, Ok(eh("h", "2001:db8::1"))),
            ("gw:host-gateway", gw, Ok(eh("gw", "172.17.0.1"))),
            ("gw=host-gateway", None, Err(EtcError::NoHostGateway { spec: "gw=host-gateway".into() })),
            (":1.2.3.4", gw, format(":1.2.3.4")),
            ("noseparator", gw, format("noseparator")),
            ("a b:1.2.3.4", gw, format("a b:1.2.3.4")),
            ("h:", gw, bad_ip("h:", "")),
            ("h:999.1.1.1", gw, bad_ip("h:999.1.1.1", "999.1.1.1")),
            ("h=gateway", gw, bad_ip("h=gateway", "gateway")),
        ];
        for (spec, gateway, want) in cases {
            assert_eq!(parse_add_host(spec, gateway), want, "spec {spec:?}");
        }
    }

    #[test]
    fn hosts_files() {
        let (one, two, none) = (strs(&["172.17.0.2"]), strs(&["10.1.0.3", "10.2.0.3"]), vec![]);
        let (aliases, extra) = (strs(&["web", "abc"]), vec![eh("db", "10.0.0.5"), eh("v6", "::1")]);
        let (pre, x) = (HOSTS_PREAMBLE, "10.0.0.5\tdb\n::1\tv6\n");
        let cases = [
            ("abc", None, &one, &[][..], &[][..], format!("{pre}172.17.0.2\tabc\n")),
            ("abc", Some("ex.com"), &one, &[], &[], format!("{pre}172.17.0.2\tabc.ex.com abc\n")),
            ("abc", Some(""), &one, &[], &[], format!("{pre}172.17.0.2\tabc\n")),
            ("abc.corp", None, &one, &[], &[], format!("{pre}172.17.0.2\tabc.corp abc\n")),
            ("abc", None, &two, &aliases, &[], format!("{pre}10.1.0.3\tabc web\n")),
            ("abc", None, &one, &[], &extra, format!("{pre}{x}172.17.0.2\tabc\n")),
            ("abc", None, &none, &[], &[], pre.to_string()),
            ("abc", None, &none, &aliases, &extra, format!("{pre}{x}")),
        ];
        for (hostname, domainname, addresses, aliases, extra, want) in cases {
            let input = HostsInput { hostname, domainname, addresses, aliases, extra };
            assert_eq!(hosts(&input), want, "hostname {hostname:?} domain {domainname:?}");
        }
    }

    #[test]
    fn host_network_and_hostname_files() {
        let ex = [eh("db", "10.0.0.5")];
        let cases = [
            ("127.0.0.1 localhost\n", &ex[..], "127.0.0.1 localhost\n10.0.0.5\tdb\n"),
            ("127.0.0.1 localhost", &ex, "127.0.0.1 localhost\n10.0.0.5\tdb\n"),
            ("# empty\n", &[], "# empty\n"),
            ("", &ex, "10.0.0.5\tdb\n"),
        ];
        for (host, extra, want) in cases {
            assert_eq!(hosts_for_host_network(host, extra), want, "host {host:?}");
        }
        assert_eq!(hostname_file("abc123"), "abc123\n");
    }

    #[test]
    fn resolv_conf_files() {
        let host = "# generated\nnameserver 127.0.0.53\nnameserver 1.1.1.1\nnameserver 2606:4700::1111\n\
            domain old.lan\nsearch corp.lan\noptions edns0\n  options edns0 timeout:2\n\nsortlist 10.0.0.0\n";
        let local = "nameserver 127.0.0.53\nnameserver ::1\nnameserver ::ffff:127.0.0.1\nsearch lan\n";
        let zoned = "; only one usable\nnameserver fe80::1%eth0\nnameserver bogus\n";
        let host_ns = "nameserver 1.1.1.1\nnameserver 2606:4700::1111\n";
        let google = "nameserver 8.8.8.8\nnameserver 8.8.4.4\n";
        let (opts, tail) = ("options edns0 timeout:2\n", "sortlist 10.0.0.0\n");
        let (lan, emb, v, s) = ("search lan\nnameserver 127.0.0.11\n", Some("127.0.0.11"), Vec::new, strs);
        let cases = [
            (host, None, v(), v(), v(), format!("search corp.lan\n{host_ns}{opts}{tail}")),
            (local, None, v(), v(), v(), format!("search lan\n{google}")),
            ("", None, v(), v(), v(), google.to_string()),
            (zoned, None, v(), v(), v(), "nameserver fe80::1%eth0\n".to_string()),
            (host, None, s(&["9.9.9.9", "127.0.0.1"]), v(), v(), format!("search corp.lan\nnameserver 9.9.9.9\nnameserver 127.0.0.1\n{opts}{tail}")),
            (host, None, v(), s(&["a.com", "b.com"]), v(), format!("search a.com b.com\n{host_ns}{opts}{tail}")),
            (host, None, v(), s(&["."]), s(&["rotate", "rotate"]), format!("{host_ns}options rotate\n{tail}")),
            (local, None, v(), v(), s(&["ndots:x"]), format!("search lan\n{google}options ndots:x\n")),
            (local, emb, v(), v(), v(), format!("{lan}options ndots:0\n")),
            (host, emb, s(&["9.9.9.9"]), v(), v(), format!("search corp.lan\nnameserver 127.0.0.11\n{}{tail}", "options edns0 timeout:2 ndots:0\n")),
            (local, emb, v(), v(), s(&["ndots:2", "edns0"]), format!("{lan}options ndots:2 edns0\n")),
            (local, emb, v(), v(), s(&["ndots:0", "ndots:0"]), format!("{lan}options ndots:0\n")),
            (local, emb, v(), v(), s(&["ndots:x"]), format!("{lan}options ndots:0\n")),
        ];
        for (i, (host_resolv_conf, embedded_dns, dns, search, options, want)) in cases.into_iter().enumerate() {
            let (dns, dns_search, dns_options) = (&dns[..], &search[..], &options[..]);
            let input = ResolvInput { host_resolv_conf, embedded_dns, dns, dns_search, dns_options };
            assert_eq!(resolv_conf(&input), want, "case {i}");
        }
    }

    #[test]
    fn upstreams() {
        let mixed = "nameserver 127.0.0.53\nnameserver 1.1.1.1\nnameserver 2606:4700::1111\n";
        let google = ["8.8.8.8", "8.8.4.4"];
        let cases = [
            (mixed, &[][..], &["1.1.1.1", "2606:4700::1111"][..]),
            ("nameserver 1.1.1.1\n", &["9.9.9.9", "127.0.0.1"], &["9.9.9.9", "127.0.0.1"]),
            ("nameserver 127.0.0.53\n", &[], &google),
            ("# nameserver 1.1.1.1\n", &[], &google),
        ];
        for (host, dns, want) in cases {
            assert_eq!(upstream_servers(host, &strs(dns)), strs(want), "host {host:?}");
        }
    }

    #[test]
    fn dns_validation() {
        let dns = |v: &str| Err(EtcError::Dns { value: v.into() });
        let search = |v: &str| Err(EtcError::DnsSearch { value: v.into() });
        let opt = |v: &str| Err(EtcError::DnsOption { value: v.into() });
        let (long, good_search) = (format!("{}.com", "a".repeat(64)), ["example.com", "corp.lan.", ".", "a-b.x1"]);
        let cases = [
            (&["8.8.8.8", "2001:4860:4860::8888"][..], &good_search[..], &["ndots:2"][..], Ok(())),
            (&[], &[], &[], Ok(())),
            (&["8.8.8"], &[], &[], dns("8.8.8")),
            (&["dns.google"], &[], &[], dns("dns.google")),
            (&[" 8.8.8.8"], &[], &[], dns(" 8.8.8.8")),
            (&[], &["-bad.com"], &[], search("-bad.com")),
            (&[], &["a..com"], &[], search("a..com")),
            (&[], &["123.456"], &[], search("123.456")),
            (&[], &["under_score.com"], &[], search("under_score.com")),
            (&[], &[""], &[], search("")),
            (&[], &[long.as_str()], &[], search(&long)),
            (&[], &[], &[""], opt("")),
            (&[], &[], &["ndots: 2"], opt("ndots: 2")),
        ];
        for (d, s, o, want) in cases {
            assert_eq!(validate_dns(&strs(d), &strs(s), &strs(o)), want, "dns {d:?} search {s:?} options {o:?}");
        }
    }

    #[test]
    fn error_messages_name_flag_value_and_expectation() {
        let cases = [
            (parse_add_host("h=nope", None), ["--add-host", "\"nope\"", "expected"]),
            (parse_add_host("h=host-gateway", None), ["host-gateway", "\"h=host-gateway\"", "expected"]),
            (validate_dns(&[], &[], &strs(&["a b"])).map(|_| eh("", "")), ["--dns-option", "\"a b\"", "expected"]),
        ];
        for (result, needles) in cases {
            let msg = result.unwrap_err().to_string();
            assert!(needles.iter().all(|n| msg.contains(n)), "{msg}");
        }
    }
}

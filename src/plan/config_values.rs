//! Docker's reading of the expanded EXPOSE and STOPSIGNAL values: what BuildKit's dispatcher
//! accepts, what it stores, and its messages for what it refuses. Pure functions; the resolver
//! turns an error into a diagnostic located on the word at fault.

use std::net::IpAddr;

/// Why a value is refused; the messages are BuildKit's (its EXPOSE port parser, and
/// moby/sys/signal's ParseSignal).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("no port specified: {spec}<empty>")]
    NoPort { spec: String },
    #[error("invalid proto: {proto}")]
    InvalidProto { proto: String },
    #[error("invalid IP address: {ip}")]
    InvalidIp { ip: String },
    #[error("invalid containerPort: {port}")]
    InvalidContainerPort { port: String },
    #[error("invalid hostPort: {port}")]
    InvalidHostPort { port: String },
    #[error("invalid ranges specified for container and host Ports: {container} and {host}")]
    UnequalRanges { container: String, host: String },
    #[error("invalid signal: {signal}")]
    InvalidSignal { signal: String },
}

/// The image `ExposedPorts` keys one EXPOSE word stands for: `80` → `80/tcp`,
/// `8000-8002/UDP` → `8000/udp 8001/udp 8002/udp`. As in BuildKit, `[IP:][HOSTPORT:]` in front
/// is checked and then dropped, and port 0 is a port.
pub fn exposed_ports(spec: &str) -> Result<Vec<String>, ValueError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let n = parts.len();
    let container = parts[n - 1];
    let host = if n >= 2 { parts[n - 2] } else { "" };
    let joined_ip = if n >= 3 {
        parts[..n - 2].join(":")
    } else {
        String::new()
    };

    let (port, proto) = container.split_once('/').unwrap_or((container, ""));
    if port.is_empty() {
        // BuildKit names the container part, not the whole word.
        return Err(ValueError::NoPort {
            spec: container.into(),
        });
    }
    let proto = match proto.to_lowercase() {
        p if p.is_empty() => "tcp".to_string(),
        p if matches!(p.as_str(), "tcp" | "udp" | "sctp") => p,
        p => return Err(ValueError::InvalidProto { proto: p }),
    };

    if !joined_ip.is_empty() {
        let ip = match joined_ip.strip_prefix('[') {
            Some(rest) => rest.strip_suffix(']').unwrap_or("\u{0}"),
            None => joined_ip.as_str(),
        };
        if ip.parse::<IpAddr>().is_err() {
            return Err(ValueError::InvalidIp { ip: joined_ip });
        }
    }

    let bad_container = || ValueError::InvalidContainerPort { port: port.into() };
    let (start, end) = port_range(port).ok_or_else(bad_container)?;
    if !host.is_empty() {
        let bad_host = || ValueError::InvalidHostPort { port: host.into() };
        let (h_start, h_end) = port_range(host).ok_or_else(bad_host)?;
        // A host range against one container port is a pool; otherwise the lengths must agree.
        if end - start != h_end - h_start && end != start {
            return Err(ValueError::UnequalRanges {
                container: port.into(),
                host: host.into(),
            });
        }
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

/// `N` or `START-END`, each a decimal 0–65535 (Go's `strconv.ParseUint(s, 10, 16)`).
fn port_range(text: &str) -> Option<(u32, u32)> {
    let num = |s: &str| match !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        true => s.parse::<u16>().ok().map(u32::from),
        false => None,
    };
    let Some((a, b)) = text.split_once('-') else {
        let p = num(text)?;
        return Some((p, p));
    };
    let (start, end) = (num(a)?, num(b)?);
    (start <= end).then_some((start, end))
}

/// STOPSIGNAL as BuildKit checks it: a non-zero integer (Go's `Atoi`: an optional sign, then
/// decimal digits), or a name with or without `SIG` in any case: `TERM`, `sigkill`, `RTMIN+3`,
/// `SIGRTMAX-2`.
pub fn check_stop_signal(signal: &str) -> Result<(), ValueError> {
    let bad = || ValueError::InvalidSignal {
        signal: signal.into(),
    };
    let digits = signal.strip_prefix(['+', '-']).unwrap_or(signal);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        // Out of Go's int range is not a number, and no name either.
        return match signal.parse::<i64>() {
            Ok(0) | Err(_) => Err(bad()),
            Ok(_) => Ok(()),
        };
    }
    // BuildKit's names are Docker's (`kill -s`); its `to_uppercase` and ours agree on them.
    crate::util::signal::by_name(signal)
        .map(|_| ())
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expose_table() {
        #[rustfmt::skip]
        let cases: &[(&str, &str)] = &[
            ("80", "80/tcp"),
            ("80/tcp", "80/tcp"),
            ("53/udp", "53/udp"),
            ("53/UDP", "53/udp"),
            ("132/sctp", "132/sctp"),
            ("80/", "80/tcp"),
            ("8000-8002/tcp", "8000/tcp 8001/tcp 8002/tcp"),
            ("7-7", "7/tcp"),
            ("0", "0/tcp"),
            ("65535", "65535/tcp"),
            ("080", "80/tcp"),
            ("8080:80", "80/tcp"),
            ("127.0.0.1:8080:80/udp", "80/udp"),
            ("[::1]:8080:80", "80/tcp"),
            ("::1:8080:80", "80/tcp"),
            ("9000-9001:80", "80/tcp"),
            ("9000-9001:80-81", "80/tcp 81/tcp"),
            ("", "no port specified: <empty>"),
            ("/tcp", "no port specified: /tcp<empty>"),
            ("8080:", "no port specified: <empty>"),
            ("80/icmp", "invalid proto: icmp"),
            ("80/TCPX", "invalid proto: tcpx"),
            ("80/tcp/x", "invalid proto: tcp/x"),
            ("65536", "invalid containerPort: 65536"),
            ("99999/udp", "invalid containerPort: 99999"),
            ("-1", "invalid containerPort: -1"),
            ("+80", "invalid containerPort: +80"),
            ("abc", "invalid containerPort: abc"),
            ("8010-8000/tcp", "invalid containerPort: 8010-8000"),
            ("1-2-3", "invalid containerPort: 1-2-3"),
            ("80-", "invalid containerPort: 80-"),
            ("x:80", "invalid hostPort: x"),
            ("1-2:3-5", "invalid ranges specified for container and host Ports: 3-5 and 1-2"),
            ("a.b:1:2", "invalid IP address: a.b"),
            ("[::1:1:2", "invalid IP address: [::1"),
        ];
        for (spec, want) in cases {
            let got = match exposed_ports(spec) {
                Ok(keys) => keys.join(" "),
                Err(e) => e.to_string(),
            };
            assert_eq!(got, *want, "{spec:?}");
        }
    }

    #[test]
    fn stop_signal_table() {
        let ok = [
            "SIGTERM",
            "TERM",
            "term",
            "SigKill",
            "9",
            "15",
            "+15",
            "64",
            "99",
            "-1",
            "SIGRTMIN",
            "RTMIN+1",
            "rtmin+15",
            "SIGRTMAX-14",
            "RTMAX",
            "SIGCLD",
            "IOT",
            "SIGWINCH",
        ];
        for s in ok {
            assert_eq!(check_stop_signal(s), Ok(()), "{s}");
        }
        let bad = [
            "",
            "0",
            "-0",
            "SIG",
            "SIGFOO",
            "KILLME",
            "SIGSIGTERM",
            "RTMIN+16",
            "RTMIN+0",
            "RTMIN+01",
            "RTMAX-15",
            "RTMAX+1",
            "RTMIN-1",
            "1.5",
            "9x",
            "99999999999999999999",
            " TERM",
        ];
        for s in bad {
            assert_eq!(
                check_stop_signal(s).unwrap_err().to_string(),
                format!("invalid signal: {s}"),
                "{s}"
            );
        }
    }
}

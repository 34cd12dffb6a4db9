//! Transport trust for registries: extra CA certificates from Docker's
//! `/etc/docker/certs.d/<host[:port]>/*.crt` convention, and which registries may be spoken to
//! over plain HTTP (loopback, and the `--insecure-registry` list).
//!
//! `STRATA_CERTS_D` replaces `/etc/docker/certs.d` as the base directory (tests point it at a
//! temp dir; users can keep strata's CAs apart from Docker's).

use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};

use ureq::tls::{Certificate, PemItem, RootCerts};

pub const DEFAULT_CERTS_D: &str = "/etc/docker/certs.d";
pub const CERTS_D_ENV: &str = "STRATA_CERTS_D";

/// Where the system's CA bundle is looked for when certs.d adds CAs to it (`SSL_CERT_FILE`
/// first, as OpenSSL does), Debian/Ubuntu's path first.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading CA certificate {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("CA certificate {path}: {message}")]
    Pem { path: PathBuf, message: String },
    #[error("{path}: no certificate in it")]
    Empty { path: PathBuf },
}

/// The certs.d base directory: `$STRATA_CERTS_D`, else `/etc/docker/certs.d`.
pub fn certs_d() -> PathBuf {
    std::env::var_os(CERTS_D_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CERTS_D))
}

/// The extra CA files trusted for `host_port` (the registry as written in references, e.g.
/// `127.0.0.1:5000`), sorted by name.
pub fn ca_files(host_port: &str) -> Vec<PathBuf> {
    ca_files_in(&certs_d(), host_port)
}

/// [`ca_files`] under an explicit base directory.
pub fn ca_files_in(base: &Path, host_port: &str) -> Vec<PathBuf> {
    // A registry name never holds `/` or `..`; refuse them rather than read outside `base`.
    if host_port.is_empty() || host_port.contains('/') || host_port.starts_with('.') {
        return Vec::new();
    }
    let Ok(entries) = std::fs::read_dir(base.join(host_port)) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "crt") && p.is_file())
        .collect();
    files.sort();
    files
}

/// The roots to verify `host_port` with: the platform's verifier when certs.d has nothing for it;
/// otherwise the system bundle plus the certs.d CAs (rustls cannot add roots to the platform
/// verifier, and Docker adds them to the system pool rather than replacing it).
pub fn root_certs(host_port: &str) -> Result<RootCerts, TlsError> {
    root_certs_from(&ca_files(host_port))
}

pub fn root_certs_from(extra: &[PathBuf]) -> Result<RootCerts, TlsError> {
    if extra.is_empty() {
        return Ok(RootCerts::PlatformVerifier);
    }
    let mut certs = Vec::new();
    if let Some(bundle) = system_bundle() {
        // A broken system bundle must not stop the registry's own CA from working.
        certs.extend(read_pem_certs(&bundle).unwrap_or_default());
    }
    for path in extra {
        let found = read_pem_certs(path)?;
        if found.is_empty() {
            return Err(TlsError::Empty { path: path.clone() });
        }
        certs.extend(found);
    }
    Ok(RootCerts::new_with_certs(&certs))
}

fn system_bundle() -> Option<PathBuf> {
    if let Some(f) = std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(f));
    }
    SYSTEM_BUNDLES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

fn read_pem_certs(path: &Path) -> Result<Vec<Certificate<'static>>, TlsError> {
    let data = std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&data) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(TlsError::Pem {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })
            }
        }
    }
    Ok(certs)
}

/// Whether `host` (`name[:port]`, `[v6]:port`) may be reached over plain HTTP: loopback always
/// (`localhost`, 127.0.0.0/8, ::1), and whatever `insecure` lists — `host`, `host:port`, or a
/// CIDR that contains the host's IP literal.
pub fn plain_http_allowed(host: &str, insecure: &[String]) -> bool {
    let name = host_name(host);
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let ip = name.parse::<IpAddr>().ok();
    if ip.is_some_and(|ip| ip.is_loopback()) {
        return true;
    }
    insecure.iter().map(|e| e.trim()).any(|entry| {
        if entry.eq_ignore_ascii_case(host) || entry.eq_ignore_ascii_case(name) {
            return true;
        }
        match (ip, parse_cidr(entry)) {
            (Some(ip), Some((net, bits))) => cidr_contains(net, bits, ip),
            _ => false,
        }
    })
}

/// `host:port` → `host`, `[::1]:5000` → `::1`, a bare IPv6 literal as is.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    if host.parse::<Ipv6Addr>().is_ok() {
        return host;
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, bits) = s.split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((addr, bits))
}

fn cidr_contains(net: IpAddr, bits: u8, ip: IpAddr) -> bool {
    let (net, ip, width) = match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            (u128::from(u32::from(n)), u128::from(u32::from(i)), 32u32)
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => (u128::from(n), u128::from(i), 128),
        (IpAddr::V4(n), IpAddr::V6(i)) => match i.to_ipv4_mapped() {
            Some(i) => return cidr_contains(IpAddr::V4(n), bits, IpAddr::V4(i)),
            None => return false,
        },
        (IpAddr::V6(_), IpAddr::V4(i)) => {
            return cidr_contains(net, bits, IpAddr::V6(i.to_ipv6_mapped()))
        }
    };
    if bits == 0 {
        return true;
    }
    let shift = width - u32::from(bits);
    (net >> shift) == (ip >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_table() {
        let insecure: Vec<String> = [
            "reg.lan:5000",
            "bare.lan",
            "10.1.0.0/16",
            "fd00::/8",
            "192.168.7.7",
        ]
        .map(String::from)
        .to_vec();
        for (host, want) in [
            ("localhost", true),
            ("localhost:5000", true),
            ("LOCALHOST:5000", true),
            ("127.0.0.1", true),
            ("127.0.0.1:5000", true),
            ("127.200.3.4:80", true),
            ("[::1]", true),
            ("[::1]:5000", true),
            ("::1", true),
            ("128.0.0.1:5000", false),
            ("localhost.example.com", false),
            ("docker.io", false),
            ("reg.lan:5000", true),
            ("reg.lan:5001", false),
            ("reg.lan", false),
            ("bare.lan", true),
            ("bare.lan:443", true),
            ("10.1.2.3:5000", true),
            ("10.2.0.1:5000", false),
            ("[fd12::1]:5000", true),
            ("[fe80::1]:5000", false),
            ("192.168.7.7:5000", true),
            ("192.168.7.8:5000", false),
        ] {
            assert_eq!(plain_http_allowed(host, &insecure), want, "{host}");
        }
        assert!(!plain_http_allowed("reg.lan:5000", &[]));
    }

    #[test]
    fn cidr_edges() {
        for (cidr, ip, want) in [
            ("0.0.0.0/0", "8.8.8.8", true),
            ("10.0.0.0/8", "10.255.255.255", true),
            ("10.0.0.0/8", "11.0.0.0", false),
            ("10.0.0.1/32", "10.0.0.1", true),
            ("10.0.0.1/32", "10.0.0.2", false),
            ("10.0.0.0/8", "::ffff:10.0.0.1", true),
            ("::/0", "10.0.0.1", true),
        ] {
            let (net, bits) = parse_cidr(cidr).unwrap();
            assert_eq!(
                cidr_contains(net, bits, ip.parse().unwrap()),
                want,
                "{cidr} {ip}"
            );
        }
        for bad in ["10.0.0.0/33", "10.0.0.0", "x/8", "::/129"] {
            assert_eq!(parse_cidr(bad), None, "{bad}");
        }
    }

    #[test]
    fn ca_files_follow_certs_d() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("reg.lan:5000");
        std::fs::create_dir_all(&dir).unwrap();
        for f in [
            "ca.crt",
            "extra.crt",
            "client.cert",
            "client.key",
            "notes.txt",
        ] {
            std::fs::write(dir.join(f), "x").unwrap();
        }
        std::fs::create_dir(dir.join("sub.crt")).unwrap();
        std::fs::create_dir_all(base.path().join("reg.lan")).unwrap();
        std::fs::write(base.path().join("reg.lan/ca.crt"), "y").unwrap();
        for (host, want) in [
            ("reg.lan:5000", vec!["ca.crt", "extra.crt"]),
            ("reg.lan", vec!["ca.crt"]),
            ("reg.lan:5001", vec![]),
            ("../etc", vec![]),
            ("a/b", vec![]),
            ("", vec![]),
        ] {
            let got: Vec<String> = ca_files_in(base.path(), host)
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect();
            assert_eq!(got, want, "{host:?}");
        }
    }

    #[test]
    fn root_certs_reject_files_without_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ca.crt");
        std::fs::write(&p, "not a certificate\n").unwrap();
        let err = root_certs_from(std::slice::from_ref(&p)).unwrap_err();
        assert!(err.to_string().contains("no certificate"), "{err}");
        assert!(matches!(
            root_certs_from(&[]).unwrap(),
            RootCerts::PlatformVerifier
        ));
        let missing = dir.path().join("missing.crt");
        let err = root_certs_from(&[missing]).unwrap_err();
        assert!(err.to_string().contains("missing.crt"), "{err}");
    }
}

//! `strata system service --tlsverify … tcp://127.0.0.1:PORT`: the Engine API over mutual TLS,
//! driven by the real docker CLI and curl with certificates from a throwaway CA (openssl). A
//! client without a certificate signed by that CA, or speaking plain HTTP, gets nothing.

mod common;
mod registry_tls_support;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::Strata;
use registry_tls_support::{free_port, make_certs, make_client_cert};

struct TlsService {
    child: Child,
    port: u16,
}

impl Drop for TlsService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(s: &Strata, certs: &Path) -> TlsService {
    let port = free_port();
    let at = |f: &str| certs.join(f).display().to_string();
    let mut c = s.command(&[
        "system".to_string(),
        "service".into(),
        "--time".into(),
        "0".into(),
        "--tlsverify".into(),
        "--tlscacert".into(),
        at("ca.crt"),
        "--tlscert".into(),
        at("server.crt"),
        "--tlskey".into(),
        at("server.key"),
        format!("tcp://127.0.0.1:{port}"),
    ]);
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut svc = TlsService {
        child: c.spawn().expect("strata system service"),
        port,
    };
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = svc.child.try_wait() {
            let out = svc.child.stderr.take().map(std::io::read_to_string);
            panic!("the service exited ({status}): {out:?}");
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "no listener on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    svc
}

fn docker(certs: &Path, port: u16, cfg: &Path, args: &[&str]) -> Output {
    let program = if Path::new("/usr/local/bin/docker").exists() {
        "/usr/local/bin/docker"
    } else {
        "docker"
    };
    Command::new(program)
        .arg("--tlsverify")
        .arg("--tlscacert")
        .arg(certs.join("ca.crt"))
        .arg("--tlscert")
        .arg(certs.join("client.crt"))
        .arg("--tlskey")
        .arg(certs.join("client.key"))
        .args(["-H", &format!("tcp://127.0.0.1:{port}")])
        .args(args)
        .env("DOCKER_CONFIG", cfg)
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .output()
        .expect("docker")
}

fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["-s", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl")
}

#[test]
fn docker_cli_over_mutual_tls_and_strangers_refused() {
    let s = Strata::new();
    let certs = s.scratch("certs");
    make_certs(&certs);
    make_client_cert(&certs);
    let svc = start(&s, &certs);
    let cfg = s.scratch("docker-config");

    let out = docker(
        &certs,
        svc.port,
        &cfg,
        &["version", "--format", "{{.Server.APIVersion}}"],
    );
    assert!(
        out.status.success(),
        "docker version over TLS: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1.50");
    let out = docker(&certs, svc.port, &cfg, &["ps", "-a", "--format", "{{.ID}}"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let url = format!("https://127.0.0.1:{}/_ping", svc.port);
    let at = |f: &str| certs.join(f).display().to_string();
    let with_cert = curl(&[
        "--cacert",
        &at("ca.crt"),
        "--cert",
        &at("client.crt"),
        "--key",
        &at("client.key"),
        &url,
    ]);
    assert_eq!(String::from_utf8_lossy(&with_cert.stdout), "OK");

    // No client certificate: the handshake fails.
    let no_cert = curl(&["--cacert", &at("ca.crt"), &url]);
    assert!(
        !no_cert.status.success(),
        "a client without a certificate got in"
    );
    assert!(no_cert.stdout.is_empty());
    // A certificate the CA did not sign (self-signed by the client): refused too.
    let rogue = s.scratch("rogue");
    make_certs(&rogue);
    let rogue_at = |f: &str| rogue.join(f).display().to_string();
    let stranger = curl(&[
        "--cacert",
        &at("ca.crt"),
        "--cert",
        &rogue_at("server.crt"),
        "--key",
        &rogue_at("server.key"),
        &url,
    ]);
    assert!(!stranger.status.success(), "a foreign certificate got in");
    // Plain HTTP on the TLS port: no answer from the API.
    let plain = curl(&[&format!("http://127.0.0.1:{}/_ping", svc.port)]);
    assert_ne!(String::from_utf8_lossy(&plain.stdout), "OK");

    // The service is still up for the good client.
    let out = docker(&certs, svc.port, &cfg, &["info", "--format", "{{.OSType}}"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "linux");
}

#[test]
fn unreadable_certificates_are_named() {
    let s = Strata::new();
    let dir = s.scratch("certs");
    let missing = dir.join("missing.pem").display().to_string();
    let err = s.fails(&[
        "system",
        "service",
        "--tlsverify",
        "--tlscacert",
        &missing,
        "--tlscert",
        &missing,
        "--tlskey",
        &missing,
        "tcp://127.0.0.1:1",
    ]);
    assert!(
        err.contains("--tlscacert") && err.contains("missing.pem"),
        "{err}"
    );
}

//! A real registry for login tests: Debian's `docker-registry` on 127.0.0.1 with TLS from a
//! throwaway CA (made here with the `openssl` CLI) and htpasswd (bcrypt) auth. Killed on drop.
#![allow(dead_code)]

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
pub const USER: &str = "strata-user";
pub const PASSWORD: &str = "s3cret-Passw0rd";

pub struct TlsRegistry {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// The throwaway CA that signed the server's certificate.
    pub ca_cert: PathBuf,
    child: Child,
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const EC: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

/// A CA and a server certificate for 127.0.0.1 (IP SAN) signed by it, as PEM files in `dir`:
/// `ca.crt`, `ca.key`, `server.crt`, `server.key`.
pub fn make_certs(dir: &Path) {
    let ec = EC;
    run(Command::new("openssl")
        .current_dir(dir)
        .args(["req", "-x509"])
        .args(ec)
        .args(["-keyout", "ca.key", "-out", "ca.crt", "-days", "2"])
        .args(["-subj", "/CN=strata test CA"])
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]));
    run(Command::new("openssl")
        .current_dir(dir)
        .arg("req")
        .args(ec)
        .args(["-keyout", "server.key", "-out", "server.csr"])
        .args(["-subj", "/CN=127.0.0.1"]));
    fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(Command::new("openssl")
        .current_dir(dir)
        .args(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt"])
        .args(["-CAkey", "ca.key", "-CAcreateserial", "-days", "2"])
        .args(["-out", "server.crt", "-extfile", "server.ext"]));
}

/// A client certificate (`client.crt`, `client.key`) signed by the CA `make_certs` made in `dir`.
pub fn make_client_cert(dir: &Path) {
    run(Command::new("openssl")
        .current_dir(dir)
        .arg("req")
        .args(EC)
        .args(["-keyout", "client.key", "-out", "client.csr"])
        .args(["-subj", "/CN=strata test client"]));
    fs::write(
        dir.join("client.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    run(Command::new("openssl")
        .current_dir(dir)
        .args(["x509", "-req", "-in", "client.csr", "-CA", "ca.crt"])
        .args(["-CAkey", "ca.key", "-CAcreateserial", "-days", "2"])
        .args(["-out", "client.crt", "-extfile", "client.ext"]));
}

impl TlsRegistry {
    pub fn start() -> TlsRegistry {
        let dir = tempfile::Builder::new()
            .prefix("strata-tls-registry-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        make_certs(d);
        let out = Command::new("htpasswd")
            .args(["-Bbn", USER, PASSWORD])
            .output()
            .expect("htpasswd (apache2-utils) must be installed");
        assert!(out.status.success(), "htpasswd failed");
        fs::write(d.join("htpasswd"), &out.stdout).unwrap();
        fs::create_dir(d.join("storage")).unwrap();
        let port = free_port();
        let config = format!(
            "version: 0.1\n\
             log:\n  level: info\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: {storage}\n\
             http:\n  addr: 127.0.0.1:{port}\n  tls:\n    certificate: {dir}/server.crt\n    key: {dir}/server.key\n\
             auth:\n  htpasswd:\n    realm: strata-test\n    path: {dir}/htpasswd\n",
            storage = d.join("storage").display(),
            dir = d.display(),
        );
        fs::write(d.join("config.yml"), config).unwrap();
        let log = fs::File::create(d.join("registry.log")).unwrap();
        let child = Command::new(REGISTRY_BIN)
            .args(["serve", "config.yml"])
            .current_dir(d)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting docker-registry");
        let reg = TlsRegistry {
            ca_cert: d.join("ca.crt"),
            dir,
            port,
            child,
        };
        reg.wait_ready();
        reg
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("registry did not listen on {}:\n{}", self.port, self.log());
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for TlsRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

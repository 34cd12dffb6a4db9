//! A real registry for the tests: Debian's `docker-registry` (distribution) on 127.0.0.1 with a
//! free port and temp storage, its request log captured to count what a push sent, and a
//! loopback proxy that kills the registry once a given number of request bytes went through.
#![allow(dead_code)]

pub mod scripted;

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

pub struct Registry {
    dir: tempfile::TempDir,
    child: Option<Child>,
    pub port: u16,
    /// The pid of the running registry, for the killing proxy.
    pid: Arc<AtomicU32>,
}

/// One request from the registry's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub method: String,
    pub uri: String,
}

/// A CA (`ca.pem`) and a server certificate for IP 127.0.0.1 (`cert.pem`, `key.pem`) in `dir`.
fn make_certs(dir: &std::path::Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=strata test CA",
    ]);
    openssl(&ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "key.pem",
        "-out",
        "srv.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(&csr);
    fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "1",
        "-extfile",
        "san.ext",
    ]);
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Registry {
    pub fn start() -> Registry {
        Self::start_with(false)
    }

    /// A registry serving HTTPS with a certificate for 127.0.0.1 from a throwaway CA, whose
    /// PEM file `ca()` names.
    pub fn start_tls() -> Registry {
        Self::start_with(true)
    }

    /// The throwaway CA of a TLS registry.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn start_with(tls: bool) -> Registry {
        let dir = tempfile::Builder::new()
            .prefix("strata-registry-")
            .tempdir()
            .unwrap();
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if tls {
            make_certs(dir.path());
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                dir.path().join("cert.pem").display(),
                dir.path().join("key.pem").display()
            ));
        }
        fs::write(dir.path().join("config.yml"), config).unwrap();
        let mut r = Registry {
            dir,
            child: None,
            port,
            pid: Arc::new(AtomicU32::new(0)),
        };
        r.spawn();
        r
    }

    fn spawn(&mut self) {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let child = Command::new("/usr/bin/docker-registry")
            .arg("serve")
            .arg(self.dir.path().join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("/usr/bin/docker-registry (apt-get install docker-registry)");
        self.pid.store(child.id(), Ordering::SeqCst);
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "registry did not start:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Restarts the registry (after it was killed) on the same port and storage.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The filesystem storage root (`docker/registry/v2/…` below it).
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The data file of a blob in the registry's storage.
    pub fn blob_file(&self, hex: &str) -> PathBuf {
        self.storage()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("registry.log")
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Every request the registry answered so far, in order. The registry logs a request just
    /// after answering it, so this waits until the log has been still for a moment.
    pub fn requests(&self) -> Vec<Logged> {
        let mut last = self.parse_requests();
        loop {
            thread::sleep(Duration::from_millis(60));
            let now = self.parse_requests();
            if now.len() == last.len() {
                return now;
            }
            last = now;
        }
    }

    fn parse_requests(&self) -> Vec<Logged> {
        self.log()
            .lines()
            .filter(|l| l.contains("msg=\"response completed"))
            .filter_map(|l| {
                let field = |k: &str| {
                    let start = l.find(k)? + k.len();
                    let rest = &l[start..];
                    let v = match rest.strip_prefix('"') {
                        Some(q) => &q[..q.find('"')?],
                        None => rest.split(' ').next()?,
                    };
                    Some(v.to_string())
                };
                Some(Logged {
                    method: field("http.request.method=")?,
                    uri: field("http.request.uri=")?,
                })
            })
            .collect()
    }

    /// A proxy on a fresh loopback port forwarding to the registry; once `limit` request bytes
    /// went through it, it kills the registry (SIGKILL) and drops that connection, once.
    pub fn killing_proxy(&self, limit: u64) -> u16 {
        let pid = Arc::clone(&self.pid);
        let sent = Arc::new(AtomicU64::new(0));
        let fired = Arc::new(AtomicBool::new(false));
        let kill = move |data: &[u8]| {
            let total = sent.fetch_add(data.len() as u64, Ordering::SeqCst) + data.len() as u64;
            if total > limit && !fired.swap(true, Ordering::SeqCst) {
                kill_pid(&pid);
                return false;
            }
            true
        };
        proxy(self.port, Arc::new(kill), Arc::new(|_: &[u8]| true))
    }

    /// Like `killing_proxy`, counting response bytes: kills the registry in mid-download. The
    /// flag tells whether a `Range` request went through it.
    pub fn killing_download_proxy(&self, limit: u64) -> (u16, Arc<AtomicBool>) {
        let pid = Arc::clone(&self.pid);
        let received = Arc::new(AtomicU64::new(0));
        let fired = Arc::new(AtomicBool::new(false));
        let kill = move |data: &[u8]| {
            let total = received.fetch_add(data.len() as u64, Ordering::SeqCst) + data.len() as u64;
            if total > limit && !fired.swap(true, Ordering::SeqCst) {
                kill_pid(&pid);
                return false;
            }
            true
        };
        let (watch, saw_range) = range_watch();
        (proxy(self.port, watch, Arc::new(kill)), saw_range)
    }

    /// A proxy that cuts the connection whose response bytes push the total past `limit`,
    /// once. The flag tells whether a `Range` request went through it.
    pub fn cutting_proxy(&self, limit: u64) -> (u16, Arc<AtomicBool>) {
        let (watch, saw_range) = range_watch();
        let received = Arc::new(AtomicU64::new(0));
        let fired = Arc::new(AtomicBool::new(false));
        let cut = move |data: &[u8]| {
            let total = received.fetch_add(data.len() as u64, Ordering::SeqCst) + data.len() as u64;
            total <= limit || fired.swap(true, Ordering::SeqCst)
        };
        (proxy(self.port, watch, Arc::new(cut)), saw_range)
    }
}

/// A request filter that raises the flag when a `Range` header goes through.
fn range_watch() -> (Filter, Arc<AtomicBool>) {
    let saw_range = Arc::new(AtomicBool::new(false));
    let range = Arc::clone(&saw_range);
    let watch = move |data: &[u8]| {
        if String::from_utf8_lossy(data)
            .to_ascii_lowercase()
            .contains("range: bytes=")
        {
            range.store(true, Ordering::SeqCst);
        }
        true
    };
    (Arc::new(watch), saw_range)
}

fn kill_pid(pid: &AtomicU32) {
    let p = pid.load(Ordering::SeqCst) as i32;
    // SAFETY: plain kill(2) of the registry child this test started.
    unsafe {
        libc::kill(p, libc::SIGKILL);
    }
}

type Filter = Arc<dyn Fn(&[u8]) -> bool + Send + Sync>;

/// Forwards loopback connections to `upstream`, showing each request chunk to `on_request` and
/// each response chunk to `on_response`; a filter answering false drops the connection.
fn proxy(upstream: u16, on_request: Filter, on_response: Filter) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let f = Arc::clone(&on_request);
            thread::spawn(move || pump(c2, s2, f));
            let f = Arc::clone(&on_response);
            thread::spawn(move || pump(server, client, f));
        }
    });
    port
}

fn pump(mut from: TcpStream, mut to: TcpStream, filter: Filter) {
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || !filter(&buf[..n]) || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Writes `len` pseudo-random (incompressible) bytes to `path`.
pub fn random_file(path: &std::path::Path, len: usize) {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut data = Vec::with_capacity(len);
    while data.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data.truncate(len);
    File::create(path).unwrap().write_all(&data).unwrap();
}

//! The Engine API service under test: `strata system service` as a child process on a
//! socket of the test's own, the docker CLI and curl pointed at it. Shared by the `api_*`
//! tests (each uses only some of it).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read as _;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::Strata;

/// The service as a child process, killed when the test ends.
pub struct Service {
    pub child: Child,
    pub sock: PathBuf,
    /// Where the docker CLI keeps its config: never the host's.
    pub docker_config: PathBuf,
}

/// Docker 28's CLI where installed, else the `docker` on PATH.
pub fn docker_program() -> &'static str {
    if Path::new("/usr/local/bin/docker").exists() {
        "/usr/local/bin/docker"
    } else {
        "docker"
    }
}

/// A store with `busybox` imported and a service over it that never times out.
pub fn busybox_service() -> (Strata, Service) {
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);
    s.import_busybox("busybox");
    (s, svc)
}

impl Service {
    pub fn start(s: &Strata, extra: &[&str]) -> Service {
        Service::start_with_env(s, extra, &[])
    }

    pub fn start_with_env(s: &Strata, extra: &[&str], env: &[(&str, &Path)]) -> Service {
        let dir = s.scratch("svc");
        let sock = dir.join("s.sock");
        let uri = format!("unix://{}", sock.display());
        let mut args = vec!["system", "service", uri.as_str()];
        args.extend_from_slice(extra);
        let mut c = s.command(&args);
        c.envs(env.iter().copied());
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = c.spawn().expect("start strata system service");
        let mut svc = Service {
            child,
            sock,
            docker_config: s.scratch("docker-config"),
        };
        svc.wait_for_socket();
        svc
    }

    pub fn wait_for_socket(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if UnixStream::connect(&self.sock).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the service exited early ({status}):\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no socket at {} after 20 s", self.sock.display());
    }

    /// What the service printed (only once it has exited).
    pub fn output(&mut self) -> String {
        let mut out = String::new();
        if let Some(e) = self.child.stderr.as_mut() {
            let _ = e.read_to_string(&mut out);
        }
        out
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        self.docker_stdin(args, "")
    }

    /// The docker CLI (Docker 28's where installed) pointed at this service, with a config
    /// directory of its own.
    pub fn docker_command(&self) -> Command {
        let mut c = Command::new(docker_program());
        c.env("DOCKER_HOST", format!("unix://{}", self.sock.display()))
            .env("DOCKER_CONFIG", &self.docker_config)
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_API_VERSION")
            .env("STRATA_DNS", "127.0.0.1");
        c
    }

    pub fn docker_stdin(&self, args: &[&str], input: &str) -> Output {
        self.docker_command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write as _;
                let mut stdin = child.stdin.take().expect("piped stdin");
                stdin.write_all(input.as_bytes())?;
                drop(stdin);
                child.wait_with_output()
            })
            .expect("run the docker CLI")
    }

    /// `docker ARGS`, asserting success; its stdout.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {} failed: {}\n--- stdout\n{}\n--- stderr\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `docker ARGS`, asserting failure; its stderr.
    pub fn docker_fails(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            !out.status.success(),
            "docker {} succeeded:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    pub fn curl(&self, extra: &[&str], path: &str) -> Reply {
        curl(&self.sock, extra, path)
    }

    /// `POST path` with a JSON `body`.
    pub fn post_json(&self, path: &str, body: &str) -> Reply {
        let args = [
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            body,
        ];
        curl(&self.sock, &args, path)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP reply as curl saw it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// Header names as sent (their case matters to nobody, but we check Docker's).
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

pub fn curl(sock: &Path, extra: &[&str], path: &str) -> Reply {
    let url = format!("http://strata{path}");
    let out = Command::new("curl")
        .args(["-s", "-i", "--max-time", "20", "--unix-socket"])
        .arg(sock)
        .args(extra)
        .arg(&url)
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {url} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    parse_reply(&String::from_utf8_lossy(&out.stdout))
}

pub fn parse_reply(raw: &str) -> Reply {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {raw:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// VmRSS of a process, in kB.
pub fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// The venv `.ci/test.sh` makes for the Python SDK, else `python3` on PATH.
pub fn python() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    cache
        .map(|c| c.join("strata-test-venv/bin/python3"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("python3"))
}

impl Service {
    /// Runs a Python SDK script against this service (`docker.from_env()` finds it), asserting
    /// success; its stdout.
    pub fn python_ok(&self, script: &str) -> String {
        let out = Command::new(python())
            .args(["-c", script])
            .env("DOCKER_HOST", format!("unix://{}", self.sock.display()))
            .env("DOCKER_CONFIG", &self.docker_config)
            .env_remove("DOCKER_API_VERSION")
            .output()
            .expect("python3 with the docker SDK (bash .ci/test.sh makes its venv)");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "the SDK script failed: {}\n--- stdout\n{stdout}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Runs a Python SDK script that prints its results as one JSON object on its last
    /// line; that object.
    pub fn python_json(&self, script: &str) -> serde_json::Value {
        let out = self.python_ok(script);
        let last = out.lines().last().unwrap_or_default();
        serde_json::from_str(last).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
    }
}

/// A docker-compose project (Debian's `docker-compose` 1.29) in `dir`, named `name`, against
/// the service.
pub struct Project<'a> {
    pub svc: &'a Service,
    pub dir: PathBuf,
    pub name: String,
}

impl Project<'_> {
    pub fn compose(&self, args: &[&str]) -> Output {
        Command::new("docker-compose")
            .args(args)
            .current_dir(&self.dir)
            .env("DOCKER_HOST", format!("unix://{}", self.svc.sock.display()))
            .env("DOCKER_CONFIG", &self.svc.docker_config)
            .env("COMPOSE_PROJECT_NAME", &self.name)
            .env("COMPOSE_INTERACTIVE_NO_CLI", "1")
            .env_remove("DOCKER_CONTEXT")
            .output()
            .expect("docker-compose (apt-get install docker-compose)")
    }

    /// `docker-compose ARGS`, asserting success; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.compose(args);
        assert!(
            out.status.success(),
            "docker-compose {} failed: {}\n--- stdout\n{}\n--- stderr\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// What an SDK script starts with: the modules the tests use, an alarm so a hang fails
/// instead of blocking the suite, and a low-level client (`api`) for this service.
pub const SDK_PRELUDE: &str = r#"
import io, json, signal, socket, tarfile, time
import docker
from docker.utils import kwargs_from_env

def hung(*_):
    raise TimeoutError("no answer within 90 s")
signal.signal(signal.SIGALRM, hung)
signal.alarm(90)
api = docker.APIClient(timeout=60, **kwargs_from_env())
"#;

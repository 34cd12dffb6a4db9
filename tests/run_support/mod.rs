//! Shared by the `strata run` tests: a store with busybox imported (plus variants with config
//! changes), runs with piped stdin, and checks that nothing of a container is left behind.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::Strata;

pub struct Env {
    pub s: Strata,
}

/// A failed test still removes its containers and networks: no sandbox, veth, lease or
/// firewall rule outlives it.
impl Drop for Env {
    fn drop(&mut self) {
        let ids = self.container_dirs();
        if !ids.is_empty() {
            let mut args = vec!["rm".to_string(), "-f".to_string()];
            args.extend(ids);
            let _ = self.s.command(&args).output();
        }
        if self.s.root.join("networks-v1").is_dir() {
            let _ = self.s.command(&["network", "prune", "-f"]).output();
        }
    }
}

impl Env {
    pub fn new() -> Env {
        let s = Strata::new();
        s.import_busybox("busybox");
        Env { s }
    }

    /// Imports the busybox rootfs again as `name` with Dockerfile-style `changes`.
    pub fn image_with(&self, name: &str, changes: &[&str]) {
        let rootfs = self.s.scratch("busybox-rootfs");
        let mut args: Vec<String> = vec!["import".into()];
        for c in changes {
            args.push("-c".into());
            args.push(c.to_string());
        }
        args.push(rootfs.display().to_string());
        args.push(name.into());
        self.s.ok(&args);
    }

    /// Runs strata with `stdin` piped in; returns the output whatever the status.
    pub fn output(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut c = self.s.command(args);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn strata");
        let mut input = child.stdin.take().unwrap();
        let data = stdin.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(&data);
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        out
    }

    /// Runs and expects exit `code`; returns (stdout, stderr).
    pub fn code(&self, args: &[&str], code: i32) -> (String, String) {
        let out = self.output(args, b"");
        if out.status.code() != Some(code) {
            panic!(
                "{}",
                self.s.report(&format!("expected exit {code}"), args, &out)
            );
        }
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn containers_dir(&self) -> PathBuf {
        self.s.root.join("containers")
    }

    /// Container directories in the store (the `lock` file aside).
    pub fn container_dirs(&self) -> Vec<String> {
        match std::fs::read_dir(self.containers_dir()) {
            Ok(rd) => rd
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n != "lock")
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Host mounts under the store (there must never be any).
    pub fn store_mounts(&self) -> Vec<String> {
        let root = self.s.root.display().to_string();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| l.contains(&root))
            .map(String::from)
            .collect()
    }

    /// (name, state, exit code) per container, from `inspect` (Docker's `ps` has no exit
    /// code field); the exit code is `None` while it runs.
    pub fn ps(&self) -> Vec<(String, String, Option<i64>)> {
        let ids = self.s.ok(&["ps", "-aq", "--no-trunc"]);
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if ids.is_empty() {
            return Vec::new();
        }
        let mut args = vec![
            "inspect",
            "-f",
            "{{.Name}}|{{.State.Status}}|{{.State.ExitCode}}",
        ];
        args.extend(ids);
        self.s
            .ok(&args)
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.splitn(3, '|').collect();
                let code = (f[1] != "running").then(|| f[2].parse().unwrap());
                (
                    f[0].trim_start_matches('/').to_string(),
                    f[1].to_string(),
                    code,
                )
            })
            .collect()
    }

    pub fn state_of(&self, name: &str) -> Option<(String, Option<i64>)> {
        self.ps()
            .into_iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, s, c)| (s, c))
    }

    /// Polls `cond` every 20 ms for up to `secs` seconds.
    pub fn eventually(&self, secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            if cond() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("timed out waiting for {what}\n{}", self.s.listing());
    }
}

//! What the benches that stand strata next to dockerd share (`net`, `cli`): the bench's own
//! Debian dockerd under a temporary directory, with the host put back when it stops; each
//! engine's CLI and busybox image; timing; and the strata-vs-dockerd table.
//!
//! The dockerd has a config file, data root, exec root and socket of its own and the `--bip`
//! its bench gives, so its `docker0` stays out of the usual ranges. When it stops, the FORWARD
//! policy, `ip_forward`, a `docker0` it made and the DOCKER iptables rules it added are put back,
//! and mounts left under its directory are lazily unmounted. It is skipped (with the reason) when
//! `STRATA_BENCH_DOCKER=0`, when dockerd is not installed, or while another dockerd runs.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// `STRATA_BIN`, else the strata this `cargo bench` built.
pub fn strata_bin() -> String {
    std::env::var("STRATA_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_strata").to_string())
}

/// Under `cargo bench` (as opposed to the smoke run of `cargo test --benches`).
pub fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

pub fn env_or(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Timed runs per measurement: 30 under `cargo bench`, 3 as a smoke test, or
/// `STRATA_BENCH_RUNS`.
pub fn iterations() -> usize {
    env_or("STRATA_BENCH_RUNS", if bench_mode() { 30 } else { 3 })
}

/// Runs `cmd` and returns its stdout; panics with the command, status, stdout and stderr.
pub fn output(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?}: {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs `cmd` and tells whether it succeeded, its output discarded (probes and cleanup).
pub fn quiet(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Wall time of one run of `cmd`, which must succeed.
pub fn timed(mut cmd: Command) -> Duration {
    let t = Instant::now();
    output(&mut cmd);
    t.elapsed()
}

/// Wall time of each of `n` runs of `cmd()` (after one untimed warm-up run).
pub fn time_runs(n: usize, cmd: impl Fn() -> Command) -> Vec<Duration> {
    timed(cmd());
    (0..n).map(|_| timed(cmd())).collect()
}

/// One side of the comparison: its CLI (up to the subcommand) and the busybox image's name in
/// its store.
pub struct Engine {
    pub label: &'static str,
    pub argv: Vec<String>,
    pub image: &'static str,
}

impl Engine {
    /// strata with its store at `store`, `rootfs` imported into it as `busybox`.
    pub fn strata(store: &Path, rootfs: &Path) -> Engine {
        let e = Engine {
            label: "strata",
            argv: vec![strata_bin(), "--root".into(), store.display().to_string()],
            image: "busybox",
        };
        let mut import = e.cmd("import -c");
        output(import.arg(r#"CMD ["sh"]"#).arg(rootfs).arg(e.image));
        e
    }

    /// The CLI with `words` (split at whitespace) after it.
    pub fn cmd(&self, words: &str) -> Command {
        let mut c = Command::new(&self.argv[0]);
        c.args(&self.argv[1..]).args(words.split_whitespace());
        c
    }

    pub fn must(&self, words: &str) -> String {
        output(&mut self.cmd(words))
    }
}

/// CLI commands (as for [`Engine::cmd`]) run quietly when dropped, after a panic too: removing
/// what a measurement made.
pub struct Cleanup<'a>(pub &'a Engine, pub Vec<String>);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for words in &self.1 {
            quiet(&mut self.0.cmd(words));
        }
    }
}

/// The iptables tables whose DOCKER rules and chains are taken out again.
const TABLES: [&str; 2] = ["filter", "nat"];

/// The bench's own dockerd, and the host state to put back when it stops.
pub struct Dockerd {
    child: Child,
    dir: PathBuf,
    forward_policy: Option<String>,
    ip_forward: Option<String>,
    docker0_existed: bool,
    rules_before: Vec<String>,
}

fn iptables_save(table: &str) -> String {
    let out = Command::new("iptables-save").args(["-t", table]).output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Debian's dockerd, unless turned off, not installed, or another dockerd runs (the two would
/// share the DOCKER iptables chains).
fn find_dockerd() -> Result<PathBuf, String> {
    if std::env::var("STRATA_BENCH_DOCKER").as_deref() == Ok("0") {
        return Err("STRATA_BENCH_DOCKER=0".into());
    }
    let bin = ["/usr/sbin/dockerd", "/usr/bin/dockerd"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or("dockerd is not installed (apt-get install docker.io)")?;
    let procs = fs::read_dir("/proc").map_err(|e| format!("/proc: {e}"))?;
    let comm = |p: fs::DirEntry| fs::read_to_string(p.path().join("comm")).unwrap_or_default();
    if procs.flatten().any(|p| comm(p) == "dockerd\n") {
        return Err("another dockerd is running".into());
    }
    Ok(bin)
}

fn ping(sock: &Path) -> bool {
    let Ok(mut s) = UnixStream::connect(sock) else {
        return false;
    };
    let mut reply = String::new();
    s.set_read_timeout(Some(Duration::from_secs(2))).is_ok()
        && s.write_all(b"GET /_ping HTTP/1.0\r\n\r\n").is_ok()
        && s.read_to_string(&mut reply).is_ok()
        && reply.starts_with("HTTP/1.0 200")
}

/// Starts dockerd under `dir` with `--bip bip`; returns it, once it answers, with the engine that
/// talks to it.
fn start_dockerd(bin: &Path, dir: &Path, bip: &str) -> Result<(Dockerd, Engine), String> {
    let at = |name: &str| dir.join(name).display().to_string();
    let sock = format!("unix://{}", at("docker.sock"));
    // Names that are not containers' go to loopback, never to this machine's resolver.
    fs::write(at("daemon.json"), "{\"dns\": [\"127.0.0.1\"]}\n").map_err(|e| e.to_string())?;
    let log = fs::File::create(at("dockerd.log")).map_err(|e| e.to_string())?;
    let policy = output(Command::new("iptables").args(["-S", "FORWARD"]));
    let policy = policy
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("-P FORWARD "));
    let path = std::env::var("PATH").unwrap_or_default();
    let mut d = Dockerd {
        forward_policy: policy.map(|p| p.trim().to_string()),
        ip_forward: fs::read_to_string("/proc/sys/net/ipv4/ip_forward").ok(),
        docker0_existed: Path::new("/sys/class/net/docker0").exists(),
        rules_before: TABLES.iter().map(|t| iptables_save(t)).collect(),
        dir: dir.to_path_buf(),
        child: Command::new(bin)
            .args(["--config-file", &at("daemon.json")])
            .args(["--data-root", &at("data"), "--exec-root", &at("exec")])
            .args(["--pidfile", &at("docker.pid"), "-H", &sock])
            .args(["--bip", bip, "--iptables=true"])
            .env("PATH", format!("{path}:/usr/sbin:/usr/bin:/sbin:/bin"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("{}: {e}", bin.display()))?,
    };
    let t = Instant::now();
    while !ping(&dir.join("docker.sock")) {
        let log = || fs::read_to_string(at("dockerd.log")).unwrap_or_default();
        if let Ok(Some(status)) = d.child.try_wait() {
            return Err(format!("dockerd exited ({status}):\n{}", log()));
        }
        if t.elapsed() > Duration::from_secs(60) {
            return Err(format!("dockerd did not answer /_ping in 60 s:\n{}", log()));
        }
        sleep(Duration::from_millis(100));
    }
    // Debian's client, of dockerd's own version, when there.
    let client = Some("/usr/bin/docker").filter(|p| Path::new(p).is_file());
    let engine = Engine {
        label: "dockerd",
        argv: vec![client.unwrap_or("docker").into(), "-H".into(), sock],
        image: "bench-busybox",
    };
    Ok((d, engine))
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        quiet(Command::new("kill").args(["-TERM", &self.child.id().to_string()]));
        let t = Instant::now();
        while matches!(self.child.try_wait(), Ok(None)) && t.elapsed() < Duration::from_secs(30) {
            sleep(Duration::from_millis(100));
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            eprintln!(
                "dockerd under {} ignored SIGTERM for 30 s; killing it",
                self.dir.display()
            );
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(p) = &self.forward_policy {
            quiet(Command::new("iptables").args(["-P", "FORWARD", p]));
        }
        if let Some(v) = &self.ip_forward {
            let _ = fs::write("/proc/sys/net/ipv4/ip_forward", v);
        }
        if !self.docker0_existed && Path::new("/sys/class/net/docker0").exists() {
            quiet(Command::new("ip").args(["link", "delete", "docker0"]));
        }
        // The DOCKER rules and chains that appeared while it ran, and nothing else.
        for (table, before) in TABLES.iter().zip(&self.rules_before) {
            let before: Vec<&str> = before.lines().collect();
            let after = iptables_save(table);
            let added: Vec<&str> = (after.lines())
                .filter(|l| !before.contains(l) && (l.contains("DOCKER") || l.contains("docker0")))
                .collect();
            for rule in added.iter().rev().filter_map(|l| l.strip_prefix("-A ")) {
                if !rule.contains('"') {
                    let mut del = Command::new("iptables");
                    quiet(del.args(["-t", table, "-D"]).args(rule.split_whitespace()));
                }
            }
            for chain in added.iter().filter_map(|l| l.strip_prefix(':')) {
                let chain = chain.split_whitespace().next().unwrap_or_default();
                quiet(Command::new("iptables").args(["-t", table, "-F", chain]));
                quiet(Command::new("iptables").args(["-t", table, "-X", chain]));
            }
        }
        // Mounts left under its roots, innermost first, so the temporary directory can go.
        let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut under: Vec<&str> = (mounts.lines())
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| Path::new(m).starts_with(&self.dir))
            .collect();
        under.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in under {
            quiet(Command::new("umount").args(["-l", m]));
        }
    }
}

/// `tar -C ROOTFS -c . | docker import -c 'CMD ["sh"]' - IMAGE`.
fn docker_import(e: &Engine, rootfs: &Path) {
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(rootfs)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .expect("tar");
    let mut import = e.cmd("import -c");
    import.args([r#"CMD ["sh"]"#, "-", e.image]);
    import.stdin(tar.stdout.take().unwrap());
    output(&mut import);
    assert!(tar.wait().unwrap().success(), "tar -C {rootfs:?} -c .");
}

/// The peer: dockerd started under `dir` (made here) with `--bip bip` and `rootfs` imported into
/// it, or why there is none. Keep the `Dockerd` alive while the engine is used; dropping it stops
/// dockerd and puts the host back.
pub fn start_peer(dir: &Path, bip: &str, rootfs: &Path) -> Result<(Dockerd, Engine), String> {
    let bin = find_dockerd()?;
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (dockerd, engine) = start_dockerd(&bin, dir, bip)?;
    docker_import(&engine, rootfs);
    Ok((dockerd, engine))
}

/// Median and p90, in milliseconds.
fn stats(v: &[Duration]) -> (f64, f64) {
    let mut v = v.to_vec();
    v.sort();
    let at = |q: usize| v[(v.len() * q / 100).min(v.len() - 1)].as_secs_f64() * 1000.0;
    (at(50), at(90))
}

/// The table's first line, `title` and the load average, and its column titles.
pub fn header(title: &str) {
    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("{title} (load average: {})", load.trim());
    let head = ["", "strata", "dockerd", "ratio", "target", "met"];
    println!(
        "  {:<34} {:>12} {:>12} {:>7} {:>8} {:>4}",
        head[0], head[1], head[2], head[3], head[4], head[5]
    );
}

/// One table row: strata's value, dockerd's, their ratio, and whether it meets `target`
/// (`<= F` or `>= F` times dockerd's, or none).
pub fn row(label: &str, (s, d): (f64, Option<f64>), unit: &str, target: &str) {
    let val = |v: f64| match v {
        v if v >= 100.0 => format!("{v:.0} {unit}"),
        v => format!("{v:.3} {unit}"),
    };
    let ratio = d.map(|d| s / d);
    let factor: Option<f64> = target
        .get(3..)
        .and_then(|f| f.trim_end_matches('x').parse().ok());
    let met = (ratio.zip(factor)).map(|(r, f)| {
        if target.starts_with("<=") {
            r <= f
        } else {
            r >= f
        }
    });
    println!(
        "  {label:<34} {:>12} {:>12} {:>7} {target:>8} {:>4}",
        val(s),
        d.map_or("-".into(), val),
        ratio.map_or("-".into(), |r| format!("{r:.2}x")),
        met.map_or("", |m| if m { "yes" } else { "NO" }),
    );
}

/// Median and p90 rows of times, strata's `s` and dockerd's `d` if it ran; the median row is
/// `median` and carries `target`.
pub fn time_rows(median: &str, s: &[Duration], d: Option<&[Duration]>, target: &str) {
    let (s, d) = (stats(s), d.map(stats));
    row(median, (s.0, d.map(|d| d.0)), "ms", target);
    row("  p90", (s.1, d.map(|d| d.1)), "ms", "");
}

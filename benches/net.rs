//! Container networking next to dockerd, on the same machine and the same busybox image:
//!
//! - (a) `run --rm -p PORT:80 IMAGE true`, start to exit (target ≤ 0.25× dockerd);
//! - (b) `wrk -t2 -c32 --latency http://127.0.0.1:PORT/` against busybox `httpd -f` behind a
//!   published port: requests per second (target ≥ 1.0× dockerd) and p99 latency (≤ 1.0×);
//! - (c) a name lookup (busybox `nslookup`) from one container to another on a user-defined
//!   network (≤ dockerd): 200 lookups inside one `exec`, less an `exec … true` timed next to
//!   it, divided by 200.
//!
//! The dockerd is Debian's docker.io, started by the bench when `dockerd` is installed, with a
//! config file, data root, exec root and socket of its own under a temporary directory and
//! `--bip 172.31.250.1/24`; its userland proxy stays on, as by default. When it stops, the
//! FORWARD policy, `ip_forward`, a `docker0` it made and the DOCKER iptables rules it added are
//! put back. Without dockerd (or with `STRATA_BENCH_DOCKER=0`, or while another dockerd runs)
//! the peer is skipped, and without `wrk` the throughput rows are; both are said so. Traffic
//! stays on 127.0.0.1 and the bridges; host ports 28080 (strata) and 28081 (dockerd) must be
//! free. Needs root.
//!
//! `cargo bench --bench net` times 30 runs each and 10 s of wrk; `cargo test --benches` runs 3
//! and 1 s as a smoke test (`STRATA_BENCH_RUNS` and `STRATA_BENCH_WRK_SECS` override them;
//! `STRATA_BIN` runs another strata binary).

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::symlink;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

fn strata_bin() -> String {
    std::env::var("STRATA_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_strata").to_string())
}

const STRATA_PORT: u16 = 28080;
const DOCKER_PORT: u16 = 28081;
const NET: &str = "netbench";
const WEB: &str = "netbench-web";
const SRV: &str = "netbench-srv";
const CLI: &str = "netbench-cli";
const LOOKUPS: u32 = 200;
/// dockerd's default bridge and its `netbench` network, away from the usual ranges.
const DOCKER_BIP: &str = "172.31.250.1/24";
const DOCKER_SUBNET: &str = "172.31.251.0/24";
const TABLES: [&str; 2] = ["filter", "nat"];

fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn env_or(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn iterations() -> usize {
    env_or("STRATA_BENCH_RUNS", if bench_mode() { 30 } else { 3 })
}

/// Runs `cmd` and returns its stdout; panics with the command, status, stdout and stderr.
fn output(cmd: &mut Command) -> String {
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
fn quiet(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Wall time of one run of `cmd`, which must succeed.
fn timed(mut cmd: Command) -> Duration {
    let t = Instant::now();
    output(&mut cmd);
    t.elapsed()
}

/// Wall time of each of `n` runs of `cmd()` (after one untimed warm-up run).
fn time_runs(n: usize, cmd: impl Fn() -> Command) -> Vec<Duration> {
    timed(cmd());
    (0..n).map(|_| timed(cmd())).collect()
}

/// A minimal busybox root from Debian's busybox-static, with a ~600-byte /www/index.html.
fn busybox_rootfs(dir: &Path) {
    fs::create_dir_all(dir.join("bin")).unwrap();
    fs::copy("/bin/busybox", dir.join("bin/busybox")).expect("/bin/busybox (busybox-static)");
    let list = output(Command::new("/bin/busybox").arg("--list"));
    for applet in list.lines().filter(|a| *a != "busybox") {
        let _ = symlink("busybox", dir.join("bin").join(applet));
    }
    for d in ["etc", "tmp", "root", "proc", "sys", "dev", "www"] {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
    fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    fs::write(dir.join("etc/group"), "root:x:0:\n").unwrap();
    let line = "<p>strata net bench: a static page served by busybox httpd.</p>\n";
    let page = format!(
        "<!doctype html>\n<html><body>\n{}</body></html>\n",
        line.repeat(9)
    );
    fs::write(dir.join("www/index.html"), page).unwrap();
}

/// One side of the comparison: its CLI (up to the subcommand), image, host port and any extra
/// `network create` arguments.
struct Engine {
    label: &'static str,
    argv: Vec<String>,
    image: &'static str,
    port: u16,
    net_args: String,
}

impl Engine {
    /// The CLI with `words` (split at whitespace) after it.
    fn cmd(&self, words: &str) -> Command {
        let mut c = Command::new(&self.argv[0]);
        c.args(&self.argv[1..]).args(words.split_whitespace());
        c
    }

    fn must(&self, words: &str) -> String {
        output(&mut self.cmd(words))
    }
}

/// Removes the bench's containers and network when dropped, after a panic too.
struct Leftovers<'a>(&'a Engine);

impl Drop for Leftovers<'_> {
    fn drop(&mut self) {
        for name in [WEB, SRV, CLI] {
            quiet(&mut self.0.cmd(&format!("rm -f {name}")));
        }
        quiet(&mut self.0.cmd(&format!("network rm {NET}")));
    }
}

/// GETs / from 127.0.0.1:`port` until it answers 200 (a bare connect is not enough: a
/// userland proxy accepts before the server listens).
fn wait_http(port: u16, timeout: Duration) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let get = || -> std::io::Result<String> {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        s.write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut reply = Vec::new();
        s.read_to_end(&mut reply)?;
        let reply = String::from_utf8_lossy(&reply);
        Ok(reply.lines().next().unwrap_or("(empty reply)").to_string())
    };
    let start = Instant::now();
    loop {
        let last = match get() {
            Ok(status) if status.starts_with("HTTP/1.") && status.contains(" 200") => return Ok(()),
            Ok(status) => status,
            Err(e) => e.to_string(),
        };
        if start.elapsed() > timeout {
            return Err(format!("no HTTP 200 from {addr} in {timeout:?}: {last}"));
        }
        sleep(Duration::from_millis(50));
    }
}

struct Wrk {
    rps: f64,
    p99: Duration,
    errors: Option<String>,
}

/// wrk's times: `812.00us`, `3.28ms`, `1.15s`, `1.02m`.
fn parse_wrk_time(s: &str) -> Option<Duration> {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic())?);
    let scale = match unit {
        "us" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(num.parse::<f64>().ok()? * scale))
}

/// Requests/sec, the 99% line and the error lines of `wrk --latency` output.
fn parse_wrk(out: &str) -> Option<Wrk> {
    let field = |key: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(key).map(|v| v.trim().to_string()))
    };
    let errors: Vec<String> = [field("Socket errors:"), field("Non-2xx or 3xx responses:")]
        .into_iter()
        .flatten()
        .collect();
    Some(Wrk {
        rps: field("Requests/sec:")?.parse().ok()?,
        p99: parse_wrk_time(&field("99%")?)?,
        errors: (!errors.is_empty()).then(|| errors.join("; ")),
    })
}

fn run_wrk(port: u16, secs: usize) -> Wrk {
    let mut wrk = Command::new("wrk");
    wrk.args(["-t2", "-c32", &format!("-d{secs}s"), "--latency"])
        .arg(format!("http://127.0.0.1:{port}/"));
    let out = output(&mut wrk);
    parse_wrk(&out).unwrap_or_else(|| panic!("{wrk:?}: unparsable output:\n{out}"))
}

struct Results {
    start: Vec<Duration>,
    wrk: Option<Wrk>,
    lookup: Vec<Duration>,
}

/// Measures (a), (b) and (c) on one engine, removing what it made, after a panic too.
fn measure(e: &Engine, n: usize, wrk_secs: Option<usize>) -> Results {
    let _leftovers = Leftovers(e);
    let (image, port) = (e.image, e.port);
    let say = |what: &str| eprintln!("net: {}: {what}", e.label);

    say("run --rm -p … true");
    let start = time_runs(n, || e.cmd(&format!("run --rm -p {port}:80 {image} true")));

    say("httpd behind a published port");
    e.must(&format!(
        "run -d --name {WEB} -p {port}:80 {image} httpd -f -p 80 -h /www"
    ));
    if let Err(msg) = wait_http(port, Duration::from_secs(20)) {
        panic!("{}: {msg}", e.label);
    }
    let wrk = wrk_secs.map(|secs| run_wrk(port, secs));
    e.must(&format!("rm -f {WEB}"));

    say("name lookups on a user-defined network");
    e.must(&format!("network create {} {NET}", e.net_args));
    for name in [SRV, CLI] {
        e.must(&format!(
            "run -d --network {NET} --name {name} {image} sleep 600"
        ));
    }
    // The name may take a moment to appear.
    let t = Instant::now();
    while !quiet(&mut e.cmd(&format!("exec {CLI} nslookup {SRV}"))) {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{}: {CLI} cannot resolve {SRV} (`exec {CLI} nslookup {SRV}` fails)",
            e.label
        );
        sleep(Duration::from_millis(100));
    }
    let script = format!(
        "i=0; while [ $i -lt {LOOKUPS} ]; do nslookup {SRV} >/dev/null || exit 1; i=$((i+1)); done"
    );
    let lookups = || {
        let mut c = e.cmd(&format!("exec {CLI} sh -c"));
        c.arg(&script);
        c
    };
    timed(lookups());
    let lookup = (0..n)
        .map(|_| {
            let exec = timed(e.cmd(&format!("exec {CLI} true")));
            timed(lookups()).saturating_sub(exec) / LOOKUPS
        })
        .collect();
    e.must(&format!("rm -f {SRV} {CLI}"));
    e.must(&format!("network rm {NET}"));
    Results { start, wrk, lookup }
}

/// The bench's own dockerd, and the host state to put back when it stops.
struct Dockerd {
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

/// Starts dockerd under `dir`; returns it, once it answers, with the engine that talks to it.
fn start_dockerd(bin: &Path, dir: &Path) -> Result<(Dockerd, Engine), String> {
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
            .args(["--bip", DOCKER_BIP, "--iptables=true"])
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
        port: DOCKER_PORT,
        net_args: format!("--subnet {DOCKER_SUBNET}"),
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
            eprintln!("net: dockerd ignored SIGTERM for 30 s; killing it");
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

/// `tar -C ROOTFS -c . | docker import -c 'CMD ["sh"]' - bench-busybox`.
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

/// Median and p90, in milliseconds.
fn stats(v: &[Duration]) -> (f64, f64) {
    let mut v = v.to_vec();
    v.sort();
    let at = |q: usize| v[(v.len() * q / 100).min(v.len() - 1)].as_secs_f64() * 1000.0;
    (at(50), at(90))
}

/// One table row: strata's value, dockerd's, their ratio, and whether it meets `target`
/// (`<= F` or `>= F` times dockerd's, or none).
fn row(label: &str, (s, d): (f64, Option<f64>), unit: &str, target: &str) {
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

fn main() {
    let n = iterations();
    let wrk_secs = env_or("STRATA_BENCH_WRK_SECS", if bench_mode() { 10 } else { 1 });
    let has_wrk = Command::new("wrk").arg("--version").output().is_ok();
    let wrk = has_wrk.then_some(wrk_secs);
    let dir = tempfile::Builder::new()
        .prefix("strata-net-bench-")
        .tempdir()
        .unwrap();
    let rootfs = dir.path().join("rootfs");
    busybox_rootfs(&rootfs);
    // As dockerd's "dns" above: other names go to loopback, never to this machine's resolver.
    std::env::set_var("STRATA_DNS", "127.0.0.1");
    let strata = Engine {
        label: "strata",
        argv: vec![
            strata_bin(),
            "--root".into(),
            dir.path().join("store").display().to_string(),
        ],
        image: "busybox",
        port: STRATA_PORT,
        net_args: String::new(),
    };
    let mut import = strata.cmd("import -c");
    output(import.arg(r#"CMD ["sh"]"#).arg(&rootfs).arg("busybox"));
    let s = measure(&strata, n, wrk);

    let mut notes = Vec::new();
    let docker = find_dockerd().and_then(|bin| {
        let ddir = dir.path().join("docker");
        fs::create_dir_all(&ddir).map_err(|e| e.to_string())?;
        let (_dockerd, engine) = start_dockerd(&bin, &ddir)?;
        docker_import(&engine, &rootfs);
        Ok(measure(&engine, n, wrk))
    });
    let d = (docker.map_err(|why| notes.push(format!("dockerd skipped: {why}")))).ok();
    if wrk.is_none() {
        notes.push("wrk rows skipped: wrk is not installed (apt-get install wrk)".into());
    }

    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "net: strata vs dockerd, {n} runs each, wrk -t2 -c32 -d{wrk_secs}s (load average: {})",
        load.trim()
    );
    let head = ["", "strata", "dockerd", "ratio", "target", "met"];
    println!(
        "  {:<34} {:>12} {:>12} {:>7} {:>8} {:>4}",
        head[0], head[1], head[2], head[3], head[4], head[5]
    );
    let (sa, da) = (stats(&s.start), d.as_ref().map(|d| stats(&d.start)));
    let (sl, dl) = (stats(&s.lookup), d.as_ref().map(|d| stats(&d.lookup)));
    let dw = d.as_ref().and_then(|d| d.wrk.as_ref());
    let (start50, start90) = ((sa.0, da.map(|x| x.0)), (sa.1, da.map(|x| x.1)));
    let (lookup50, lookup90) = ((sl.0, dl.map(|x| x.0)), (sl.1, dl.map(|x| x.1)));
    row(
        "run --rm -p PORT:80 true, median",
        start50,
        "ms",
        "<= 0.25x",
    );
    row("  p90", start90, "ms", "");
    if let Some(sw) = &s.wrk {
        let p99 = |w: &Wrk| w.p99.as_secs_f64() * 1000.0;
        row(
            "wrk requests/sec",
            (sw.rps, dw.map(|w| w.rps)),
            "/s",
            ">= 1.00x",
        );
        row("wrk p99 latency", (p99(sw), dw.map(p99)), "ms", "<= 1.00x");
    }
    row("name lookup, median per lookup", lookup50, "ms", "<= 1.00x");
    row("  p90", lookup90, "ms", "");
    for (who, w) in [("strata", s.wrk.as_ref()), ("dockerd", dw)] {
        if let Some(errors) = w.and_then(|w| w.errors.as_ref()) {
            notes.push(format!("wrk against {who}: {errors}"));
        }
    }
    for note in notes {
        println!("  note: {note}");
    }
}

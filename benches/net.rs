//! Container networking next to dockerd, on the same machine and the same busybox image:
//!
//! - (a) `run --rm -p PORT:80 IMAGE true`, start to exit (target ≤ 0.25× dockerd);
//! - (b) `wrk -t2 -c32 --latency http://127.0.0.1:PORT/` against busybox `httpd -f` behind a
//!   published port: requests per second (target ≥ 1.0× dockerd) and p99 latency (≤ 1.0×);
//! - (c) a name lookup (busybox `nslookup`) from one container to another on a user-defined
//!   network (≤ dockerd): 200 lookups inside one `exec`, less an `exec … true` timed next to
//!   it, divided by 200.
//!
//! The dockerd is Debian's docker.io, started by the bench (`shared/dockerd.rs`) when `dockerd`
//! is installed, with a config file, data root, exec root and socket of its own under a
//! temporary directory and `--bip 172.31.250.1/24`; its userland proxy stays on, as by default.
//! When it stops, the FORWARD policy, `ip_forward`, a `docker0` it made and the DOCKER iptables
//! rules it added are put back. Without dockerd (or with `STRATA_BENCH_DOCKER=0`, or while
//! another dockerd runs) the peer is skipped, and without `wrk` the throughput rows are; both are
//! said so. Traffic stays on 127.0.0.1 and the bridges; host ports 28080 (strata) and 28081
//! (dockerd) must be free. Needs root.
//!
//! `cargo bench --bench net` times 30 runs each and 10 s of wrk; `cargo test --benches` runs 3
//! and 1 s as a smoke test (`STRATA_BENCH_RUNS` and `STRATA_BENCH_WRK_SECS` override them;
//! `STRATA_BIN` runs another strata binary).

#[path = "shared/busybox.rs"]
mod busybox;
#[path = "shared/dockerd.rs"]
mod dockerd;

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use busybox::busybox_rootfs;
use dockerd::{
    bench_mode, env_or, header, iterations, output, quiet, row, start_peer, time_rows, time_runs,
    timed, Cleanup, Engine,
};

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

/// A busybox root (see [`busybox_rootfs`]) with a ~600-byte /www/index.html for httpd.
fn web_rootfs(dir: &Path) {
    busybox_rootfs(dir);
    fs::create_dir_all(dir.join("www")).unwrap();
    let line = "<p>strata net bench: a static page served by busybox httpd.</p>\n";
    let page = format!(
        "<!doctype html>\n<html><body>\n{}</body></html>\n",
        line.repeat(9)
    );
    fs::write(dir.join("www/index.html"), page).unwrap();
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

/// Measures (a), (b) and (c) on one engine, publishing on host port `port` and creating its
/// network with `net_args`, and removes what it made, after a panic too.
fn measure(e: &Engine, port: u16, net_args: &str, n: usize, wrk_secs: Option<usize>) -> Results {
    let mut leftovers: Vec<String> = [WEB, SRV, CLI].map(|c| format!("rm -f {c}")).into();
    leftovers.push(format!("network rm {NET}"));
    let _leftovers = Cleanup(e, leftovers);
    let image = e.image;
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
    e.must(&format!("network create {net_args} {NET}"));
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
    web_rootfs(&rootfs);
    // As dockerd's "dns": other names go to loopback, never to this machine's resolver.
    std::env::set_var("STRATA_DNS", "127.0.0.1");
    let strata = Engine::strata(&dir.path().join("store"), &rootfs);
    let s = measure(&strata, STRATA_PORT, "", n, wrk);

    let mut notes = Vec::new();
    let docker = start_peer(&dir.path().join("docker"), DOCKER_BIP, &rootfs);
    let docker = docker.map(|(_dockerd, engine)| {
        let net_args = format!("--subnet {DOCKER_SUBNET}");
        measure(&engine, DOCKER_PORT, &net_args, n, wrk)
    });
    let d = (docker.map_err(|why| notes.push(format!("dockerd skipped: {why}")))).ok();
    if wrk.is_none() {
        notes.push("wrk rows skipped: wrk is not installed (apt-get install wrk)".into());
    }

    header(&format!(
        "net: strata vs dockerd, {n} runs each, wrk -t2 -c32 -d{wrk_secs}s"
    ));
    let dw = d.as_ref().and_then(|d| d.wrk.as_ref());
    time_rows(
        "run --rm -p PORT:80 true, median",
        &s.start,
        d.as_ref().map(|d| &d.start[..]),
        "<= 0.25x",
    );
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
    time_rows(
        "name lookup, median per lookup",
        &s.lookup,
        d.as_ref().map(|d| &d.lookup[..]),
        "<= 1.00x",
    );
    for (who, w) in [("strata", s.wrk.as_ref()), ("dockerd", dw)] {
        if let Some(errors) = w.and_then(|w| w.errors.as_ref()) {
            notes.push(format!("wrk against {who}: {errors}"));
        }
    }
    for note in notes {
        println!("  note: {note}");
    }
}

//! The Engine API next to dockerd, as issue #17 asks: the same docker client (Debian's, of
//! dockerd's own version, when there) talks once to `strata system service` and once to the
//! bench's own dockerd, on the same busybox image:
//!
//! - (a) `docker run --rm busybox true`, start to exit (target ≤ 0.3× dockerd);
//! - (b) `docker ps -a` with 200 containers in the store (target ≤ 0.3× dockerd), and the
//!   request it makes, `GET /containers/json?all=1`, timed alone with curl: the Go client's own
//!   start-up (~15 ms here) is more than 0.3× of dockerd's whole `ps -a`, so the endpoint row
//!   tells the servers apart;
//! - (c) 50 `docker run --rm busybox true` clients started at once: every one must succeed; the
//!   wall time of the whole batch is shown next to dockerd's, and the service's peak RSS
//!   (`VmHWM` of its process at the end) must stay under 100 MB;
//! - (d) `docker build` of the s1 and s2 scenarios through strata's socket next to `strata
//!   build` of the same context plus the context's upload (its tar piped to a sink): within
//!   10% (see `api/build.rs`; no dockerd involved).
//!
//! The same client is also timed against a sink (`api/sink.rs`) that answers at once with the
//! listing the service gave and drains build contexts: the client's own floor, which bounds
//! every ratio any server could reach with it.
//!
//! strata's service runs on a socket and store of its own under a temporary directory, with
//! `STRATA_DNS=127.0.0.1` (nothing leaves the machine). dockerd is started as the other benches
//! start it (`shared/dockerd.rs`: its own data root and socket, `--bip 172.31.251.1/24`, the host
//! put back when it stops); without it the peer column is empty, and said so. Needs root.
//!
//! `cargo bench --bench api [-- GROUP…]` times 30 runs of (a) and (b) and of s1 in (d), 3 of s2
//! (`STRATA_BENCH_SLOW_RUNS`); GROUP is `run` (a, c), `ps` (b) or `build` (d), all when none is
//! named. `cargo test --benches` (or `cargo bench --bench api -- --quick build`, with the
//! service's own store) runs 3, a batch of 5 clients and s1 only, as a smoke test
//! (`STRATA_BENCH_RUNS`, `STRATA_BENCH_CLIENTS` override).

#[path = "api/build.rs"]
mod build;
#[path = "shared/busybox.rs"]
mod busybox;
#[path = "shared/dockerd.rs"]
mod dockerd;
// Only the fixtures' paths and generation are used here.
#[allow(dead_code)]
#[path = "e2e/setup.rs"]
mod setup;
#[path = "../tests/shared_dir/mod.rs"]
mod shared_dir;
#[path = "api/sink.rs"]
mod sink;

use std::fs;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use busybox::busybox_rootfs;
use dockerd::{
    bench_mode, env_or, header, iterations, output, row, start_peer, strata_bin, time_rows,
    time_runs, Cleanup, Engine,
};

const CONTAINERS: usize = 200;
const PREFIX: &str = "apibench-";
const PS: &str = "ps -a";
/// dockerd's default bridge, away from the usual ranges (and from the other benches').
const DOCKER_BIP: &str = "172.31.251.1/24";
const RSS_LIMIT_MB: f64 = 100.0;

/// `strata system service` on `dir/s.sock` over the store `store`, killed when dropped.
struct Service(Child);

impl Service {
    fn start(store: &Path, dir: &Path) -> (Service, Engine) {
        let sock = dir.join("s.sock");
        let uri = format!("unix://{}", sock.display());
        let log = fs::File::create(dir.join("service.log")).unwrap();
        let child = Command::new(strata_bin())
            .arg("--root")
            .arg(store)
            // Never idle out: a timed `strata build` beside it may send nothing for seconds.
            .args(["system", "service", "--time", "0", &uri])
            .env("STRATA_DNS", "127.0.0.1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("strata system service");
        let mut svc = Service(child);
        let t = Instant::now();
        while UnixStream::connect(&sock).is_err() {
            if let Ok(Some(status)) = svc.0.try_wait() {
                panic!("the service exited ({status}); see {}", dir.display());
            }
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "no socket after 20 s"
            );
            sleep(Duration::from_millis(20));
        }
        let engine = Engine {
            label: "strata",
            argv: vec![client().into(), "-H".into(), uri],
            image: "busybox",
        };
        (svc, engine)
    }

    /// The peak resident set of the service process so far, in MB.
    fn peak_rss_mb(&self) -> f64 {
        let status = fs::read_to_string(format!("/proc/{}/status", self.0.id())).unwrap();
        let kb: f64 = (status.lines())
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/PID/status");
        kb / 1024.0
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The client both engines are driven with: Debian's, the one dockerd's own bench uses.
fn client() -> &'static str {
    ["/usr/bin/docker", "/usr/local/bin/docker"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .unwrap_or("docker")
}

/// `run --rm IMAGE true`, with the engine's own name for the busybox image.
fn run(e: &Engine) -> String {
    format!("run --rm {} true", e.image)
}

/// `GET /containers/json?all=1` by curl on the engine's socket: the server's share of `ps -a`
/// without the Go client's own start-up, which alone costs more than 0.3x dockerd's `ps -a`.
/// Its body goes to `out` (`/dev/null` when timed, `-` for stdout).
fn list_endpoint(e: &Engine, out: &str) -> Command {
    let sock = e.argv[2].strip_prefix("unix://").expect("-H unix://SOCK");
    let mut c = Command::new("curl");
    c.args(["-sf", "-o", out, "--unix-socket", sock])
        .arg("http://engine/containers/json?all=1");
    c
}

#[derive(Default)]
struct Results {
    run: Vec<Duration>,
    ps: Vec<Duration>,
    list: Vec<Duration>,
    batch: Option<Duration>,
    /// The body of `GET /containers/json?all=1` with the 200 containers, for the sink.
    listing: Vec<u8>,
}

/// `clients` `run --rm` at once; panics unless every one succeeds.
fn batch(e: &Engine, clients: usize) -> Duration {
    let run = run(e);
    let t = Instant::now();
    let children: Vec<_> = (0..clients)
        .map(|_| {
            let mut c = e.cmd(&run);
            c.stdin(Stdio::null()).stdout(Stdio::null());
            c.stderr(Stdio::piped()).spawn().expect("docker run")
        })
        .collect();
    let failed: Vec<String> = (children.into_iter())
        .map(|c| c.wait_with_output().unwrap())
        .filter(|o| !o.status.success())
        .map(|o| format!("{}: {}", o.status, String::from_utf8_lossy(&o.stderr)))
        .collect();
    assert!(
        failed.is_empty(),
        "{}: {} of {clients} concurrent `{run}` failed:\n{}",
        e.label,
        failed.len(),
        failed.join("\n")
    );
    t.elapsed()
}

fn measure(e: &Engine, groups: &Groups, n: usize, clients: usize) -> Results {
    let say = |what: &str| eprintln!("api: {}: {what}", e.label);
    let mut r = Results::default();
    if groups.run {
        let cmd = run(e);
        say(&cmd);
        r.run = time_runs(n, || e.cmd(&cmd));
        say(&format!("{clients} concurrent `{cmd}`"));
        r.batch = Some(batch(e, clients));
    }
    if !groups.ps {
        return r;
    }
    let names: Vec<String> = (0..CONTAINERS).map(|i| format!("{PREFIX}{i}")).collect();
    let _containers = Cleanup(e, vec![format!("rm -f {}", names.join(" "))]);
    say(&format!("create {CONTAINERS} containers"));
    for name in &names {
        e.must(&format!("create --name {name} {} true", e.image));
    }
    let listed = e.must(PS);
    let rows = listed.lines().filter(|l| l.contains(PREFIX)).count();
    assert_eq!(rows, CONTAINERS, "{}: `{PS}` printed:\n{listed}", e.label);
    say(PS);
    r.ps = time_runs(n, || e.cmd(PS));
    say("GET /containers/json?all=1");
    r.list = time_runs(n, || list_endpoint(e, "/dev/null"));
    r.listing = output(&mut list_endpoint(e, "-")).into_bytes();
    r
}

/// Which groups to run: those named after `--` (`run`, `ps`, `build`), all when none is.
struct Groups {
    run: bool,
    ps: bool,
    build: bool,
    /// The smoke-test sizes even under `cargo bench` (`--quick`).
    quick: bool,
}

impl Groups {
    fn from_args() -> Groups {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let named: Vec<&str> = (args.iter())
            .map(String::as_str)
            .filter(|a| !a.starts_with('-'))
            .collect();
        for g in &named {
            assert!(
                ["run", "ps", "build"].contains(g),
                "unknown group {g:?}: run, ps or build"
            );
        }
        let on = |g: &str| named.is_empty() || named.contains(&g);
        Groups {
            run: on("run"),
            ps: on("ps"),
            build: on("build"),
            quick: !bench_mode() || args.iter().any(|a| a == "--quick"),
        }
    }
}

fn main() {
    let groups = Groups::from_args();
    let n = if groups.quick {
        env_or("STRATA_BENCH_RUNS", 3)
    } else {
        iterations()
    };
    let clients = env_or("STRATA_BENCH_CLIENTS", if groups.quick { 5 } else { 50 });
    let dir = tempfile::Builder::new()
        .prefix("strata-api-bench-")
        .tempdir()
        .unwrap();
    let rootfs = dir.path().join("rootfs");
    busybox_rootfs(&rootfs);
    let store = dir.path().join("store");
    let direct = Engine::strata(&store, &rootfs);
    let (svc, strata) = Service::start(&store, dir.path());
    let s = measure(&strata, &groups, n, clients);
    let sink = sink::start(dir.path(), s.listing.clone());
    let floor = Engine {
        label: "sink",
        argv: vec![
            client().into(),
            "-H".into(),
            format!("unix://{}", sink.sock.display()),
        ],
        image: "busybox",
    };
    let floor_ps = groups.ps.then(|| {
        let listed = floor.must(PS);
        let rows = listed.lines().filter(|l| l.contains(PREFIX)).count();
        assert_eq!(rows, CONTAINERS, "the sink's `{PS}` printed:\n{listed}");
        eprintln!("api: sink: {PS}");
        time_runs(n, || floor.cmd(PS))
    });
    let builds = groups.build.then(|| {
        let which: &[&str] = if groups.quick { &["s1"] } else { &["s1", "s2"] };
        let ctxs = build::contexts(which);
        let slow = env_or("STRATA_BENCH_SLOW_RUNS", 3).min(n);
        let mut rows = build::measure(&strata, &direct, &floor, &ctxs[..1], n);
        rows.extend(build::measure(&strata, &direct, &floor, &ctxs[1..], slow));
        rows
    });
    let rss = svc.peak_rss_mb();
    drop(svc);

    let peer = groups.run || groups.ps;
    let docker = if peer {
        start_peer(&dir.path().join("docker"), DOCKER_BIP, &rootfs)
            .map(|(_dockerd, engine)| measure(&engine, &groups, n, clients))
    } else {
        Err("not needed by the groups run".into())
    };
    let (d, note) = match docker {
        Ok(d) => (Some(d), None),
        Err(why) => (None, Some(format!("dockerd skipped: {why}"))),
    };

    header(&format!(
        "api: the {} client through strata's socket vs dockerd, {n} runs each",
        client()
    ));
    if groups.run {
        time_rows(
            "run --rm busybox true, median",
            &s.run,
            d.as_ref().map(|d| &d.run[..]),
            "<= 0.3x",
        );
    }
    if groups.ps {
        time_rows(
            &format!("{PS} ({CONTAINERS} containers), median"),
            &s.ps,
            d.as_ref().map(|d| &d.ps[..]),
            "<= 0.3x",
        );
        time_rows(
            "  its GET /containers/json (curl)",
            &s.list,
            d.as_ref().map(|d| &d.list[..]),
            "<= 0.3x",
        );
        if let Some(f) = &floor_ps {
            time_rows(
                "  the client alone (sink), vs dockerd",
                f,
                d.as_ref().map(|d| &d.ps[..]),
                "<= 0.3x",
            );
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    if let Some(b) = s.batch {
        row(
            &format!("{clients} concurrent runs, all ok"),
            (ms(b), d.as_ref().and_then(|d| d.batch).map(ms)),
            "ms",
            "",
        );
    }
    if let Some(rows) = &builds {
        build::report(rows);
    }
    println!(
        "  service peak RSS {rss:.1} MB (limit {RSS_LIMIT_MB} MB): {}",
        if rss < RSS_LIMIT_MB { "met" } else { "NOT met" }
    );
    if let Some(note) = note {
        println!("  note: {note}");
    }
    assert!(
        rss < RSS_LIMIT_MB,
        "the service's peak RSS {rss:.1} MB is over {RSS_LIMIT_MB} MB"
    );
}

//! Docker-CLI parity next to dockerd, as issue #15 asks, on the same machine and the same busybox
//! image, with 200 containers in the store (`create IMAGE true`, named `clibench-0` …
//! `clibench-199`, never started):
//!
//! - (a) `ps -a --format '{{.Names}}'` (target ≤ 0.25× dockerd);
//! - (b) `inspect -f '{{.State.Status}}' clibench-100` (target ≤ 0.25× dockerd).
//!
//! Each engine's answers are checked once before they are timed: (a) prints the 200 names, one a
//! line, and (b) prints `created`.
//!
//! strata runs with a store of its own under a temporary directory. The dockerd is Debian's
//! docker.io, driven by Debian's docker client and started by the bench as the net bench starts
//! it (`shared/dockerd.rs`: its own config, data root and socket, `--bip 172.31.252.1/24`, the
//! host put back when it stops). Without dockerd (or with `STRATA_BENCH_DOCKER=0`, or while
//! another dockerd runs) the peer is skipped, and said so. The containers are removed from both
//! engines at the end, after a panic too. Needs root.
//!
//! `cargo bench --bench cli` times 30 runs of each; `cargo test --benches` runs 3 as a smoke
//! test (`STRATA_BENCH_RUNS` overrides them; `STRATA_BIN` runs another strata binary).

#[path = "shared/busybox.rs"]
mod busybox;
#[path = "shared/dockerd.rs"]
mod dockerd;

use std::time::Duration;

use busybox::busybox_rootfs;
use dockerd::{header, iterations, start_peer, time_rows, time_runs, Cleanup, Engine};

const CONTAINERS: usize = 200;
const PREFIX: &str = "clibench-";
const PS: &str = "ps -a --format {{.Names}}";
const INSPECT: &str = "inspect -f {{.State.Status}} clibench-100";
/// dockerd's default bridge, away from the usual ranges (and from the net bench's).
const DOCKER_BIP: &str = "172.31.252.1/24";

struct Results {
    ps: Vec<Duration>,
    inspect: Vec<Duration>,
}

/// Creates the containers on one engine, checks (a) and (b) once, times them, and removes the
/// containers, after a panic too.
fn measure(e: &Engine, n: usize) -> Results {
    let names: Vec<String> = (0..CONTAINERS).map(|i| format!("{PREFIX}{i}")).collect();
    let rm = format!("rm -f {}", names.join(" "));
    let _containers = Cleanup(e, vec![rm.clone()]);
    let say = |what: &str| eprintln!("cli: {}: {what}", e.label);

    say(&format!("create {CONTAINERS} containers"));
    for name in &names {
        e.must(&format!("create --name {name} {} true", e.image));
    }

    let listed = e.must(PS);
    let mut got: Vec<&str> = listed.lines().collect();
    assert_eq!(
        got.len(),
        CONTAINERS,
        "{}: `{PS}` printed {} lines, not {CONTAINERS}:\n{listed}",
        e.label,
        got.len()
    );
    let mut want: Vec<&str> = names.iter().map(String::as_str).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "{}: `{PS}` lists other names", e.label);
    let status = e.must(INSPECT);
    assert_eq!(status, "created\n", "{}: `{INSPECT}`", e.label);

    say(PS);
    let ps = time_runs(n, || e.cmd(PS));
    say(INSPECT);
    let inspect = time_runs(n, || e.cmd(INSPECT));
    e.must(&rm);
    Results { ps, inspect }
}

fn main() {
    let n = iterations();
    let dir = tempfile::Builder::new()
        .prefix("strata-cli-bench-")
        .tempdir()
        .unwrap();
    let rootfs = dir.path().join("rootfs");
    busybox_rootfs(&rootfs);
    let strata = Engine::strata(&dir.path().join("store"), &rootfs);
    let s = measure(&strata, n);

    let docker = start_peer(&dir.path().join("docker"), DOCKER_BIP, &rootfs);
    let docker = docker.map(|(_dockerd, engine)| measure(&engine, n));
    let (d, note) = match docker {
        Ok(d) => (Some(d), None),
        Err(why) => (None, Some(format!("dockerd skipped: {why}"))),
    };

    header(&format!(
        "cli: strata vs dockerd, {n} runs each, {CONTAINERS} containers created"
    ));
    time_rows(
        "ps -a --format {{.Names}}, median",
        &s.ps,
        d.as_ref().map(|d| &d.ps[..]),
        "<= 0.25x",
    );
    time_rows(
        "inspect {{.State.Status}}, median",
        &s.inspect,
        d.as_ref().map(|d| &d.inspect[..]),
        "<= 0.25x",
    );
    if let Some(note) = note {
        println!("  note: {note}");
    }
}

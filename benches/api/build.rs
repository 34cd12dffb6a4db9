//! Group (d) of the API bench: `docker build` of the s1 and s2 scenarios through strata's
//! socket next to `strata build` of the same context plus the cost of uploading that context
//! (its tar, as a client would stream it, piped to a sink). Target: the socket within 10% of
//! the sum. Cold = `--no-cache` on both sides (the base image stays), no-op = the same build
//! again after an untimed warm-up. Both sides build into the one store the service serves.
//!
//! GNU tar is a cheap uploader; the Go client walks, tars and sends the context itself, at
//! several times tar's cost. So each row also times the same `docker build` against the sink
//! (`api/sink.rs`), which drains the upload and answers at once: the client's own floor. The
//! second ratio sets the socket against `strata build` plus that floor, the upload as this
//! client makes it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::dockerd::{time_runs, Engine};
use crate::setup::{copy_scenarios, gen_contexts, Dirs};

/// A scenario's directory under `target/bench-e2e/scenarios` and its `gen-contexts.py` name.
pub const SCENARIOS: [(&str, &str); 2] = [("s1-small", "s1"), ("s2-bigctx", "s2")];

/// The contexts of `which` (e.g. `["s1"]`), generated once and then reused (shared with the
/// e2e bench, which keeps them in the same place).
pub fn contexts(which: &[&str]) -> Vec<(&'static str, PathBuf)> {
    let dirs = Dirs::new();
    copy_scenarios(&dirs).expect("copy the scenarios");
    gen_contexts(&dirs, which).expect("generate the contexts");
    (SCENARIOS.iter())
        .filter(|(_, short)| which.contains(short))
        .map(|(name, _)| (*name, dirs.context(name)))
        .collect()
}

/// One scenario and phase: the three timings.
pub struct BuildTimes {
    pub label: String,
    pub socket: Vec<Duration>,
    pub direct: Vec<Duration>,
    pub upload: Vec<Duration>,
    /// The same `docker build` against the sink: the client's upload and nothing else.
    pub floor: Vec<Duration>,
}

/// `tar` of the context to a pipe read by `cat` into /dev/null (GNU tar skips reading file
/// data when it writes straight to /dev/null, so the pipe is needed).
fn upload(ctx: &Path) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", "tar -C \"$1\" -cf - . | cat > /dev/null", "sh"])
        .arg(ctx);
    c
}

/// Times `docker build` through `socket` (the classic builder's `POST /build`, as Debian's
/// 20.10 client speaks it), `strata build` on `strata`'s store and the upload, for each of
/// `contexts`, cold and no-op, `n` runs each.
pub fn measure(
    socket: &Engine,
    strata: &Engine,
    sink: &Engine,
    contexts: &[(&str, PathBuf)],
    n: usize,
) -> Vec<BuildTimes> {
    let mut out = Vec::new();
    for (name, ctx) in contexts {
        let tag = format!("apibench-{name}");
        let ctx = ctx.display().to_string();
        for (phase, flags) in [("cold", "--no-cache "), ("no-op", "")] {
            let words = format!("build {flags}-t {tag} {ctx}");
            eprintln!("api: {name} {phase}: docker {words} (socket)");
            let sock = time_runs(n, || {
                let mut c = socket.cmd(&words);
                c.env("DOCKER_BUILDKIT", "0");
                c
            });
            eprintln!("api: {name} {phase}: strata {words}");
            let direct = time_runs(n, || {
                let mut c = strata.cmd(&format!("build --progress plain {flags}-t {tag} {ctx}"));
                c.env("STRATA_DNS", "127.0.0.1");
                c
            });
            let up = time_runs(n, || upload(Path::new(&ctx)));
            eprintln!("api: {name} {phase}: docker {words} (sink)");
            let floor = time_runs(n, || {
                let mut c = sink.cmd(&words);
                c.env("DOCKER_BUILDKIT", "0");
                c
            });
            out.push(BuildTimes {
                label: format!("{name} {phase}"),
                socket: sock,
                direct,
                upload: up,
                floor,
            });
        }
        strata.must(&format!("rmi {tag}"));
    }
    out
}

fn median(v: &[Duration]) -> f64 {
    let mut ms: Vec<f64> = v.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    ms[ms.len() / 2]
}

/// The table: medians in ms; socket / (direct + tar upload) and socket / (direct + the
/// client's own upload, timed against the sink), each against the 10% target.
pub fn report(rows: &[BuildTimes]) {
    println!(
        "  {:<14} {:>7} {:>7} {:>7} {:>7} {:>10} {:>13}  (target <= 1.1x)",
        "docker build", "socket", "strata", "tar", "client", "vs +tar", "vs +client"
    );
    let met = |r: f64| if r <= 1.1 { "met" } else { "NO" };
    for r in rows {
        let (s, d) = (median(&r.socket), median(&r.direct));
        let (u, f) = (median(&r.upload), median(&r.floor));
        let (by_tar, by_client) = (s / (d + u), s / (d + f));
        println!(
            "  {:<14} {:>7.0} {:>7.0} {:>7.0} {:>7.0} {:>5.2}x {:<3} {:>8.2}x {:<3}",
            r.label,
            s,
            d,
            u,
            f,
            by_tar,
            met(by_tar),
            by_client,
            met(by_client)
        );
    }
}

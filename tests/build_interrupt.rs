//! SIGINT (and SIGTERM) in the middle of a RUN: strata stops the sandboxes, unmounts and
//! removes its temp files, exits 130, and the next build works.

mod build_support;
mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use build_support::{processes_with, read, Bench};

fn mounts_under(root: &Path) -> Vec<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(root.to_str().unwrap()))
        .map(str::to_string)
        .collect()
}

/// `strata build -t x` of the bench's context, running in the background.
fn spawn_build(b: &Bench, stderr: std::process::Stdio) -> std::process::Child {
    b.s.command(&[
        "build",
        "--progress=plain",
        "-t",
        "x",
        b.ctx.to_str().unwrap(),
    ])
    .stdout(std::process::Stdio::null())
    .stderr(stderr)
    .spawn()
    .unwrap()
}

fn interrupt_mid_run(signal: nix::sys::signal::Signal, marker: &str) {
    let b = Bench::new();
    b.dockerfile(&format!(
        "FROM busybox AS a\nRUN sleep {marker}\n\nFROM busybox AS b\nRUN (sleep {marker}1 &) ; sleep {marker}2\n\nFROM busybox\nCOPY --from=a /bin/busybox /x\nCOPY --from=b /bin/busybox /y\n"
    ));
    let mut child = spawn_build(&b, std::process::Stdio::piped());
    let t0 = Instant::now();
    while processes_with(&format!("sleep {marker}2")).is_empty()
        || processes_with(&format!("sleep {marker}")).len() < 3
    {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the RUNs never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
    let t1 = Instant::now();
    let status = child.wait().unwrap();
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        t1.elapsed() < Duration::from_secs(10),
        "took {:?} to stop",
        t1.elapsed()
    );
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");

    // Nothing left: no sandboxed process, no mount, no temp dir.
    let t2 = Instant::now();
    while !processes_with(&format!("sleep {marker}")).is_empty() {
        assert!(
            t2.elapsed() < Duration::from_secs(5),
            "sandboxed processes outlived strata"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        mounts_under(&b.s.root).is_empty(),
        "{:?}",
        mounts_under(&b.s.root)
    );
    let tmp: Vec<_> = fs::read_dir(b.s.root.join("tmp"))
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(tmp.is_empty(), "{tmp:?}");

    // The next build works.
    b.dockerfile("FROM busybox\nRUN echo after > /after\n");
    b.build("after", &[]);
    assert_eq!(read(&b.unpack("after"), "after"), "after\n");
}

#[test]
fn sigint_mid_run_leaves_nothing_behind() {
    interrupt_mid_run(nix::sys::signal::Signal::SIGINT, "3141");
}

#[test]
fn sigterm_mid_run_leaves_nothing_behind() {
    interrupt_mid_run(nix::sys::signal::Signal::SIGTERM, "2718");
}

#[test]
fn sigkill_mid_run_leaves_a_store_the_next_build_cleans_up_and_uses() {
    let b = Bench::new();
    b.files(&[("f", "x")]);
    b.dockerfile("FROM busybox\nCOPY f /f\nRUN sleep 1618\n");
    let mut child = spawn_build(&b, std::process::Stdio::null());
    let t0 = Instant::now();
    while processes_with("sleep 1618").is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the RUN never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let t1 = Instant::now();
    while !processes_with("sleep 1618").is_empty() {
        assert!(
            t1.elapsed() < Duration::from_secs(5),
            "the sandbox outlived a killed strata"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The store still reads, and the next build (cached COPY, new RUN) works and reaps what
    // the killed one left in tmp/.
    b.s.ok(&["images"]);
    b.dockerfile("FROM busybox\nCOPY f /f\nRUN cat /f > /g\n");
    let m = b.build("x", &[]);
    assert!(
        build_support::steps(&m)
            .iter()
            .any(|(l, c)| l.contains("COPY f") && *c),
        "the COPY finished before the kill is reused"
    );
    assert_eq!(read(&b.unpack("x"), "g"), "x");
    assert!(
        mounts_under(&b.s.root).is_empty(),
        "{:?}",
        mounts_under(&b.s.root)
    );
    let tmp: Vec<_> = fs::read_dir(b.s.root.join("tmp"))
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(tmp.is_empty(), "{tmp:?}");
}

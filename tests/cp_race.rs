//! `strata cp` against a running container whose filesystem fights back (#16, point 6): `/x/d`
//! flips between a real directory (holding `1/…/8/f` = "inside") and a symlink to a host
//! directory, as fast as the kernel allows, while cp reads `/x/d/1/…/8/f` out and writes
//! `/x/d/1/…/8/gN` in, 400 times each way. A cp that checks a path in one call and opens it by
//! name in a later one lands on the host now and then (the cp before the fix read the host's
//! file 12 times in 400 here); every read must give "inside" or fail cleanly, and nothing may
//! ever appear in the host directory. Run as root, like the other container tests.
//!
//! The flip is a `renameat2(RENAME_EXCHANGE)` of `/x/d` and `/x/l`, done through the
//! container's root (`/proc/PID/root`) by a thread of the test: busybox has no atomic exchange,
//! and a shell loop of `rm` and `mv` leaves `d` missing most of the time. It is the same
//! filesystem and the same power a process in the container has. The depth below `d` widens
//! the window a path-at-a-time cp leaves between looking at `d` and opening the file.

mod common;
mod run_support;

use std::ffi::CString;
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use run_support::Env;

const TRIES: usize = 400;
const DEEP: &str = "1/2/3/4/5/6/7/8";

/// Swaps `a` and `b` until `stop`; returns how many times.
fn swap_until(a: &Path, b: &Path, stop: &AtomicBool) -> u64 {
    let (a, b) = (
        CString::new(a.as_os_str().as_encoded_bytes()).unwrap(),
        CString::new(b.as_os_str().as_encoded_bytes()).unwrap(),
    );
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: two NUL-terminated paths; renameat2 touches no other memory.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_renameat2,
                libc::AT_FDCWD,
                a.as_ptr(),
                libc::AT_FDCWD,
                b.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        assert_eq!(rc, 0, "renameat2: {}", std::io::Error::last_os_error());
        n += 1;
    }
    n
}

#[test]
fn cp_never_follows_a_swapped_symlink_out_of_the_container() {
    let e = Env::new();
    // A host directory the container's symlink names; the container has no such path.
    let outside = e.s.scratch("outside");
    fs::create_dir_all(outside.join(DEEP)).unwrap();
    fs::write(outside.join(DEEP).join("f"), "HOST\n").unwrap();
    let host = e.s.scratch("host");
    let payload = host.join("payload");
    fs::write(&payload, "written\n").unwrap();

    e.code(
        &["run", "-d", "--name", "race", "busybox", "sleep", "600"],
        0,
    );
    let setup = format!(
        "mkdir -p /x/d/{DEEP} && echo inside > /x/d/{DEEP}/f && ln -s {} /x/l",
        outside.display()
    );
    e.s.ok(&["exec", "race", "sh", "-c", &setup]);
    // Unraced, both ways work: the paths are right.
    let src = format!("race:/x/d/{DEEP}/f");
    let probe = host.join("probe");
    e.s.ok(&["cp", &src, probe.to_str().unwrap()]);
    assert_eq!(fs::read_to_string(&probe).unwrap(), "inside\n");
    e.s.ok(&[
        "cp",
        payload.to_str().unwrap(),
        &format!("race:/x/d/{DEEP}/g"),
    ]);
    let pid = e.s.ok(&["inspect", "-f", "{{.State.Pid}}", "race"]);
    let root = Path::new("/proc").join(pid.trim()).join("root");
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        let (a, b) = (root.join("x/d"), root.join("x/l"));
        std::thread::spawn(move || swap_until(&a, &b, &stop))
    };

    let started = Instant::now();
    let (mut read, mut read_failed, mut escaped) = (0, 0, Vec::new());
    for i in 0..TRIES {
        let out = host.join(format!("out{i}"));
        let o =
            e.s.command(&["cp", &src, out.to_str().unwrap()])
                .output()
                .unwrap();
        if !o.status.success() {
            read_failed += 1;
            continue;
        }
        match fs::read_to_string(&out).unwrap().as_str() {
            "inside\n" => read += 1,
            other => escaped.push(format!("try {i}: read {other:?}")),
        }
    }
    let reads_took = started.elapsed();

    let started = Instant::now();
    let (mut written, mut write_failed) = (0, 0);
    for i in 0..TRIES {
        let dst = format!("race:/x/d/{DEEP}/g{i}");
        let o =
            e.s.command(&["cp", payload.to_str().unwrap(), &dst])
                .output()
                .unwrap();
        if o.status.success() {
            written += 1;
        } else {
            write_failed += 1;
        }
    }
    let writes_took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    eprintln!(
        "{swaps} swaps; reads: {read} inside, {read_failed} refused, {} escaped in \
         {reads_took:?}; writes: {written} done, {write_failed} refused in {writes_took:?}",
        escaped.len()
    );

    assert!(
        escaped.is_empty(),
        "cp read host files:\n{}",
        escaped.join("\n")
    );
    let landed: Vec<String> = walkdir::WalkDir::new(&outside)
        .into_iter()
        .map(|d| {
            d.unwrap()
                .path()
                .strip_prefix(&outside)
                .unwrap()
                .display()
                .to_string()
        })
        .filter(|p| !p.is_empty() && !format!("{DEEP}/f").starts_with(p.as_str()))
        .collect();
    assert!(landed.is_empty(), "cp wrote on the host: {landed:?}");
    assert_eq!(
        fs::read_to_string(outside.join(DEEP).join("f")).unwrap(),
        "HOST\n"
    );
    // The race was run, not avoided: /x/d flipped throughout, and the link state was met.
    // (How many copies get through depends on how the two cores are shared: a copy passes
    // `d` a dozen times, and each must find the directory.)
    assert!(swaps > 0, "the swapper never ran");
    assert!(
        read_failed + write_failed > 0,
        "no copy ever met the symlink"
    );
    e.code(&["rm", "-f", "race"], 0);
}

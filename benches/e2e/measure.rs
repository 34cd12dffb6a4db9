//! One timed child process: wall time from spawn to exit, its CPU time and peak RSS, read from
//! the `rusage` that `wait4` returns for that child alone (which includes the descendants it
//! reaped: for strata, the sandboxed RUN processes).

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Instant;

/// What one run cost.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    pub secs: f64,
    /// User plus system CPU seconds (`ru_utime + ru_stime`): steadier than wall time on a
    /// loaded machine. Read by the platforms bench; e2e reports wall time.
    #[allow(dead_code)]
    pub cpu_secs: f64,
    /// `ru_maxrss`: KiB on Linux.
    pub max_rss_kib: u64,
}

/// Runs `cmd` with stdout discarded and stderr in `log` (a file, so a chatty child can never
/// block on a full pipe while we sit in `wait4`). Fails, with the log's tail, on a non-zero
/// exit.
pub fn run(cmd: &mut Command, what: &str, log: &Path) -> Result<Timed, String> {
    let err = fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(err));
    let t0 = Instant::now();
    let child = cmd.spawn().map_err(|e| format!("spawn {what}: {e}"))?;
    let (status, rusage) = wait4(child.id() as libc::pid_t).map_err(|e| format!("{what}: {e}"))?;
    let secs = t0.elapsed().as_secs_f64();
    // `child` was reaped by wait4 above; dropping a std Child never waits, so nothing is lost.
    drop(child);
    if !status.success() {
        let text = fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!("{what} failed ({status}): {}", tail.join("\n")));
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(Timed {
        secs,
        cpu_secs: tv(rusage.ru_utime) + tv(rusage.ru_stime),
        max_rss_kib: u64::try_from(rusage.ru_maxrss).unwrap_or(0),
    })
}

fn wait4(pid: libc::pid_t) -> std::io::Result<(ExitStatus, libc::rusage)> {
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; all-zero is a valid value that wait4 overwrites.
    let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live locals of the right types.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut rusage) };
        if r == pid {
            return Ok((ExitStatus::from_raw(status), rusage));
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// (median, min, max), or None before the first run.
pub fn stats(times: &[f64]) -> Option<(f64, f64, f64)> {
    if times.is_empty() {
        return None;
    }
    let mut t = times.to_vec();
    t.sort_by(f64::total_cmp);
    let n = t.len();
    let median = if n % 2 == 1 {
        t[n / 2]
    } else {
        (t[n / 2 - 1] + t[n / 2]) / 2.0
    };
    Some((median, t[0], t[n - 1]))
}

/// `/proc/loadavg`, to print next to the times (this machine is shared).
pub fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|e| format!("unreadable: {e}"))
}

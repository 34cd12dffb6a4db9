//! Detached containers: `run -d` shows in `ps`, its logs are readable, `exec` sees its files,
//! `stop` uses the image's StopSignal within the timeout, `start`/`wait`/`rm` work, and a
//! SIGKILLed supervisor leaves a container that `ps`, `stop` and `rm` still handle.

mod common;
mod run_support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use run_support::Env;

/// The pid of the supervisor of container `name` (its state's monitor).
fn monitor_pid(e: &Env, name: &str) -> i32 {
    for d in e.container_dirs() {
        let p = e.containers_dir().join(d).join("state.json");
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        if v["name"] == name {
            return v["state"]["monitor"]["pid"].as_i64().unwrap() as i32;
        }
    }
    panic!("no container {name}");
}

#[test]
fn detached_lifecycle_with_logs_exec_and_stop_signal() {
    let e = Env::new();
    e.image_with("usr1", &["STOPSIGNAL SIGUSR1", r#"CMD ["sh"]"#]);
    let script = "echo started; echo state > /shared; trap 'echo got-usr1; exit 5' USR1; \
                  while true; do sleep 0.05; done";
    let (id, _) = e.code(
        &[
            "run",
            "-d",
            "--name",
            "svc",
            "--network",
            "none",
            "usr1",
            "sh",
            "-c",
            script,
        ],
        0,
    );
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64, "{id}");
    assert_eq!(e.state_of("svc"), Some(("running".into(), None)));
    let ps = e.s.ok(&["ps"]);
    assert!(
        ps.contains(&id[..12]) && ps.contains("svc") && ps.contains("Up "),
        "{ps}"
    );
    assert_eq!(e.s.ok(&["ps", "-q"]).trim(), &id[..12]);

    e.eventually(10, "log line", || {
        e.s.ok(&["logs", "svc"]).contains("started")
    });
    // exec: a second process in the container's namespaces sees its files and processes.
    let (out, _) = e.code(
        &[
            "exec",
            "svc",
            "sh",
            "-c",
            "cat /shared; ps | grep -c 'sleep 0.05'",
        ],
        0,
    );
    assert!(out.starts_with("state\n"), "{out}");
    e.code(&["exec", &id[..8], "sh", "-c", "exit 9"], 9);
    // Like dockerd's exec: 126 for any command that cannot start.
    e.code(&["exec", "svc", "no-such"], 126);
    let (out, _) = e.code(
        &[
            "exec",
            "-u",
            "nobody",
            "-w",
            "/tmp",
            "-e",
            "X=1",
            "svc",
            "sh",
            "-c",
            "id -u; pwd; echo $X",
        ],
        0,
    );
    assert_eq!(out, "65534\n/tmp\n1\n");

    // stop sends the image's StopSignal (USR1, which the script traps) well before the timeout.
    let t = Instant::now();
    e.s.ok(&["stop", "-t", "20", "svc"]);
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "stop took {:?}",
        t.elapsed()
    );
    assert_eq!(e.state_of("svc"), Some(("exited".into(), Some(5))));
    assert!(e.s.ok(&["logs", "svc"]).contains("got-usr1"));
    assert_eq!(e.s.ok(&["wait", "svc"]).trim(), "5");
    assert_eq!(e.s.ok(&["logs", "--tail", "1", "svc"]), "got-usr1\n");
    assert!(e.s.ok(&["ps"]).lines().count() == 1, "only the header");

    // start again: the upperdir is kept.
    e.s.ok(&["start", "svc"]);
    e.eventually(10, "running again", || {
        e.state_of("svc").is_some_and(|(s, _)| s == "running")
    });
    let (out, _) = e.code(&["exec", "svc", "cat", "/shared"], 0);
    assert_eq!(out, "state\n");
    let err = e.s.fails(&["rm", "svc"]);
    assert!(err.contains("running"), "{err}");
    e.s.ok(&["rm", "-f", "svc"]);
    assert!(e.container_dirs().is_empty());
    assert!(e.store_mounts().is_empty());
    let err = e.s.fails(&["logs", "svc"]);
    assert!(err.contains("No such container"), "{err}");
}

#[test]
fn stop_kills_after_the_timeout() {
    let e = Env::new();
    e.code(
        &[
            "run",
            "-d",
            "--name",
            "stubborn",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            "trap '' TERM; while true; do sleep 0.05; done",
        ],
        0,
    );
    let t = Instant::now();
    e.s.ok(&["stop", "-t", "1", "stubborn"]);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(8),
        "{took:?}"
    );
    assert_eq!(e.state_of("stubborn"), Some(("exited".into(), Some(137))));
    e.s.ok(&["rm", "stubborn"]);
}

#[test]
fn a_killed_supervisor_leaves_a_manageable_container() {
    let e = Env::new();
    e.code(
        &[
            "run",
            "-d",
            "--name",
            "orphan",
            "--network",
            "none",
            "busybox",
            "sleep",
            "60",
        ],
        0,
    );
    let pid = monitor_pid(&e, "orphan");
    // SAFETY: kill with plain integers, on the supervisor this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    e.eventually(5, "orphan reported exited", || {
        e.state_of("orphan") == Some(("exited".into(), Some(137)))
    });
    let id =
        e.s.ok(&["inspect", "-f", "{{.Id}}", "orphan"])
            .trim()
            .to_string();
    assert!(
        !cgroup_dirs(&id).is_empty(),
        "the dead monitor left its cgroup"
    );
    e.s.ok(&["stop", "orphan"]);
    e.s.ok(&["rm", "orphan"]);
    assert!(e.container_dirs().is_empty());
    assert_eq!(
        cgroup_dirs(&id),
        Vec::<PathBuf>::new(),
        "rm removes the cgroup"
    );
}

/// The container's cgroup directories in every hierarchy that has one.
fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = hierarchies
        .flatten()
        .map(|h| h.path().join("strata").join(id))
        .filter(|d| d.is_dir())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn system_prune_reclaims_the_cgroup_of_a_container_whose_store_is_gone() {
    let gone = Env::new();
    gone.code(
        &[
            "run",
            "-d",
            "--name",
            "lost",
            "--network",
            "none",
            "busybox",
            "sleep",
            "60",
        ],
        0,
    );
    let id = gone
        .s
        .ok(&["inspect", "-f", "{{.Id}}", "lost"])
        .trim()
        .to_string();
    let pid = monitor_pid(&gone, "lost");
    // SAFETY: kill with plain integers, on the supervisor this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    gone.eventually(5, "lost reported exited", || {
        gone.state_of("lost") == Some(("exited".into(), Some(137)))
    });
    std::fs::remove_dir_all(&gone.s.root).unwrap();
    let dirs = cgroup_dirs(&id);
    assert!(!dirs.is_empty(), "the dead monitor left its cgroup");

    // A cgroup just made may be a starting container's: prune leaves it until it is old.
    let other = Env::new();
    other.s.ok(&["system", "prune", "-f"]);
    assert_eq!(cgroup_dirs(&id), dirs);
    let old = std::process::Command::new("touch")
        .args(["-d", "1 hour ago"])
        .args(&dirs)
        .status()
        .unwrap();
    assert!(old.success());
    let out = other.s.ok(&["system", "prune", "-f"]);
    // Other tests' orphans may go too.
    assert!(out.contains(" cgroup(s)"), "{out}");
    assert_eq!(cgroup_dirs(&id), Vec::<PathBuf>::new());
}

#[test]
fn detached_rm_and_failed_start() {
    let e = Env::new();
    // --rm -d: gone once it exits.
    e.code(
        &[
            "run",
            "-d",
            "--rm",
            "--name",
            "brief",
            "--network",
            "none",
            "busybox",
            "true",
        ],
        0,
    );
    e.eventually(10, "brief removed", || e.container_dirs().is_empty());
    // A command that cannot be executed fails `run -d` with 127; the container stays created.
    e.code(
        &[
            "run",
            "-d",
            "--name",
            "broken",
            "--network",
            "none",
            "busybox",
            "no-such",
        ],
        127,
    );
    assert_eq!(e.state_of("broken"), Some(("created".into(), Some(127))));
    e.s.ok(&["rm", "broken"]);
}

/// systemd's stop signal is SIGRTMIN+3: an image's `STOPSIGNAL SIGRTMIN+3` reaches the
/// command on `stop` (no SIGKILL after the timeout), and so does `kill -s RTMAX-2`, through
/// the sandbox's PID 1. busybox's `trap` takes the numbers: 37 and 62.
#[test]
fn realtime_signals_reach_the_command_from_stop_and_kill() {
    let e = Env::new();
    e.image_with("rt", &["STOPSIGNAL SIGRTMIN+3", r#"CMD ["sh"]"#]);
    let script = "trap 'echo got-37; exit 7' 37; trap 'echo got-62; exit 8' 62; echo ready; \
                  while true; do sleep 0.05; done";
    for name in ["by-stop", "by-kill"] {
        e.code(
            &[
                "run",
                "-d",
                "--name",
                name,
                "--network",
                "none",
                "rt",
                "sh",
                "-c",
                script,
            ],
            0,
        );
        e.eventually(10, "ready", || e.s.ok(&["logs", name]).contains("ready"));
    }
    e.s.ok(&["stop", "-t", "20", "by-stop"]);
    assert_eq!(e.state_of("by-stop"), Some(("exited".into(), Some(7))));
    assert!(e.s.ok(&["logs", "by-stop"]).contains("got-37"));

    e.s.ok(&["kill", "-s", "RTMAX-2", "by-kill"]);
    e.eventually(10, "exit", || {
        e.state_of("by-kill").is_some_and(|(s, _)| s == "exited")
    });
    assert_eq!(e.state_of("by-kill"), Some(("exited".into(), Some(8))));
    assert!(e.s.ok(&["logs", "by-kill"]).contains("got-62"));
    e.code(&["kill", "-s", "RTMIN+16", "by-kill"], 1);
}

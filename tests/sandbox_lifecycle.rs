//! The sandbox's lifetime rules, for real (as root): nothing outlives a run, nothing leaks
//! into the host's mount table, cancel and terminate work; and its networking modes.

mod sandbox_common;

use std::io::Write;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use sandbox_common::{children_named, fixture, mount_table, mounted_anywhere, processes_running};
use strata::sandbox::{run_cancellable, Canceller, ExitStatus, NetworkMode, SandboxError};

#[test]
fn background_processes_do_not_outlive_the_run() {
    let fx = fixture();
    let start = Instant::now();
    let out = fx.run(&fx.spec("sleep 1234 & sleep 1234 & echo started"));
    assert_eq!(out.status, ExitStatus::Exited(0));
    assert_eq!(fx.stdout(), "started\n");
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(processes_running(&["sleep", "1234"]), Vec::<u32>::new());
}

#[test]
fn orphans_are_reaped_by_pid_1() {
    let fx = fixture();
    // The subshell exits at once; its sleep is orphaned to our PID 1, which must reap it.
    fx.run(&fx.spec(
        "(sleep 0.1 &); sleep 0.5; ps -o pid,stat,comm | awk 'NR > 1 {n++} $2 ~ /Z/ {print \"zombie\", $0} END {print (n >= 3 ? \"listed\" : \"empty\")}'",
    ));
    assert_eq!(fx.stdout(), "listed\n", "{}", fx.stderr());
}

#[test]
fn no_mounts_leak_on_success_failure_or_kill() {
    let fx = fixture();
    let before = mount_table();
    for (script, status) in [
        ("echo ok", ExitStatus::Exited(0)),
        ("exit 3", ExitStatus::Exited(3)),
        ("sleep 1236 & kill -KILL $$", ExitStatus::Signaled(9)),
    ] {
        assert_eq!(fx.run(&fx.spec(script)).status, status, "{script}");
        assert_eq!(mount_table(), before, "after {script}");
        // Nor in the sandbox's own (now gone) mount namespace.
        assert_eq!(
            mounted_anywhere(&fx.upper),
            Vec::<u32>::new(),
            "after {script}"
        );
    }
    // A setup failure too.
    let mut spec = fx.spec("true");
    spec.user = "nobody-here".into();
    assert!(fx.try_run(&spec).is_err());
    assert_eq!(mount_table(), before);
    assert_eq!(processes_running(&["sleep", "1236"]), Vec::<u32>::new());
}

#[test]
fn cancel_kills_everything_mid_run() {
    let fx = fixture();
    let before = mount_table();
    let spec = fx.spec("sleep 1237 & sleep 1238");
    let cancel = Canceller::new();
    let c2 = cancel.clone();
    let upper = fx.upper.clone();
    let killer = std::thread::spawn(move || {
        // Wait until the command is really running.
        let t = Instant::now();
        while processes_running(&["sleep", "1238"]).is_empty()
            && t.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let mounted_while_running = !mounted_anywhere(&upper).is_empty();
        c2.cancel();
        mounted_while_running
    });
    let start = Instant::now();
    let result = run_cancellable(&spec, &cancel);
    assert!(
        killer.join().unwrap(),
        "the overlay should be visible while running"
    );
    assert!(matches!(result, Err(SandboxError::Cancelled)), "{result:?}");
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(processes_running(&["sleep", "1237"]), Vec::<u32>::new());
    assert_eq!(processes_running(&["sleep", "1238"]), Vec::<u32>::new());
    assert_eq!(mount_table(), before);
    assert_eq!(mounted_anywhere(&fx.upper), Vec::<u32>::new());
}

#[test]
fn cancel_before_start_runs_nothing() {
    let fx = fixture();
    let cancel = Canceller::new();
    cancel.cancel();
    let result = run_cancellable(&fx.spec("echo ran > /tmp/ran"), &cancel);
    assert!(matches!(result, Err(SandboxError::Cancelled)), "{result:?}");
    assert!(!fx.upper.join("tmp/ran").exists());
}

#[test]
fn terminate_is_forwarded_to_the_main_process() {
    let fx = fixture();
    let spec = fx.spec("trap 'echo got-term; exit 42' TERM; echo ready; sleep 1239 & wait");
    let cancel = Canceller::new();
    let c2 = cancel.clone();
    let stdout = fx.path("stdout");
    let t = std::thread::spawn(move || {
        let t = Instant::now();
        while !std::fs::read_to_string(&stdout).is_ok_and(|s| s.contains("ready"))
            && t.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        c2.terminate();
    });
    let out = run_cancellable(&spec, &cancel).unwrap();
    t.join().unwrap();
    assert_eq!(out.status, ExitStatus::Exited(42), "{}", fx.stderr());
    assert_eq!(fx.stdout(), "ready\ngot-term\n");
    assert_eq!(processes_running(&["sleep", "1239"]), Vec::<u32>::new());
}

#[test]
fn network_none_has_only_loopback_and_it_is_up() {
    let fx = fixture();
    let spec = fx.spec(
        "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; ip -o link show lo | grep -c UP",
    );
    fx.run(&spec);
    assert_eq!(fx.stdout(), "lo\n1\n", "{}", fx.stderr());
}

/// A one-shot TCP server on the host's loopback that greets whoever connects.
fn greeter() -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let _ = s.write_all(b"hello from the host\n");
        }
    });
    (port, h)
}

#[test]
fn network_default_has_slirp_but_not_the_host_loopback() {
    let fx = fixture();
    // A service bound only to the host's 127.0.0.1: slirp4netns would expose it as 10.0.2.2
    // without --disable-host-loopback.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut spec = fx.spec(&format!(
        "cat /etc/resolv.conf; ip -o -4 addr show tap0 | grep -o '10.0.2.100'; \
         if nc -w 2 10.0.2.2 {port} </dev/null; then echo reached; else echo refused; fi"
    ));
    spec.network = NetworkMode::Default;
    fx.run(&spec);
    assert_eq!(
        fx.stdout(),
        "nameserver 10.0.2.3\n10.0.2.100\nrefused\n",
        "{}",
        fx.stderr()
    );
    assert!(
        listener.accept().is_err(),
        "the sandbox connected to the host's loopback"
    );
    assert_eq!(children_named("slirp4netns"), Vec::<u32>::new());
}

#[test]
fn network_host_shares_the_host_namespace() {
    let fx = fixture();
    let (port, server) = greeter();
    let mut spec = fx.spec(&format!("nc -w 5 127.0.0.1 {port} </dev/null"));
    spec.network = NetworkMode::Host;
    fx.run(&spec);
    server.join().unwrap();
    assert_eq!(fx.stdout(), "hello from the host\n", "{}", fx.stderr());
}

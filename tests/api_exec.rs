//! Attach and exec through `strata system service`, driven by the real docker CLI (piped, and
//! on a terminal under tmux), curl and the Python SDK. Containers use `--network none`:
//! nothing leaves loopback.

mod api_support;
mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use api_support::Service;
use common::Strata;

fn service() -> (Strata, Service) {
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);
    s.import_busybox("busybox");
    (s, svc)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// (exit code, stdout), the whole output on failure to compare.
fn code_out(out: &Output) -> (Option<i32>, String) {
    (out.status.code(), text(&out.stdout))
}

#[test]
fn foreground_run_prints_and_exits_with_the_code() {
    let (_s, svc) = service();
    let run = |args: &[&str], input: &str| {
        let mut all = vec!["run", "--network", "none"];
        all.extend_from_slice(args);
        let out = svc.docker_stdin(&all, input);
        eprintln!("docker {all:?}: stderr {}", text(&out.stderr));
        out
    };
    // (args, stdin, exit code, stdout)
    let cases: &[(&[&str], &str, i32, &str)] = &[
        (&["--rm", "busybox", "echo", "hi"], "", 0, "hi\n"),
        (&["--rm", "busybox", "sh", "-c", "exit 3"], "", 3, ""),
        (
            &[
                "--rm",
                "busybox",
                "sh",
                "-c",
                "echo out; echo err >&2; exit 4",
            ],
            "",
            4,
            "out\n",
        ),
        // Not removed: the CLI waits for the next exit rather than the removal.
        (
            &[
                "--name",
                "fg-keep",
                "busybox",
                "sh",
                "-c",
                "echo kept; exit 2",
            ],
            "",
            2,
            "kept\n",
        ),
        // stdin piped in: the container's ends with the client's (StdinOnce).
        (&["-i", "--rm", "busybox", "cat"], "x\ny\n", 0, "x\ny\n"),
        (
            &[
                "-i",
                "--rm",
                "busybox",
                "sh",
                "-c",
                "read a; echo got $a; exit 7",
            ],
            "line\n",
            7,
            "got line\n",
        ),
    ];
    for (args, input, code, stdout) in cases {
        let out = run(args, input);
        assert_eq!(
            code_out(&out),
            (Some(*code), stdout.to_string()),
            "docker run {args:?}: stderr {}",
            text(&out.stderr)
        );
    }
    let out = run(&["--rm", "busybox", "sh", "-c", "echo err >&2"], "");
    assert_eq!(text(&out.stderr), "err\n");
    // The `--rm` ones are gone, the other is kept with its code.
    let ps = svc.docker_ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.trim().starts_with("fg-keep Exited (2)"), "{ps}");
    assert_eq!(ps.trim().lines().count(), 1, "{ps}");
    // What the CLI asks: a wait answering with the code of the run it starts.
    let id = svc.docker_ok(&[
        "create",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "exit 9",
    ]);
    let id = id.trim();
    let wait = std::thread::scope(|t| {
        let w = t.spawn(|| {
            svc.curl(
                &["-X", "POST"],
                &format!("/containers/{id}/wait?condition=next-exit"),
            )
        });
        std::thread::sleep(Duration::from_millis(300));
        svc.docker_ok(&["start", id]);
        w.join().unwrap()
    });
    assert_eq!(wait.status, 200, "{wait:?}");
    assert_eq!(wait.json()["StatusCode"], 9, "{wait:?}");
}

#[test]
fn exec_with_the_docker_cli() {
    let (_s, svc) = service();
    svc.docker_ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "ex-box",
        "-e",
        "BASE=b",
        "busybox",
        "sleep",
        "300",
    ]);
    // (args, stdin, exit code, stdout)
    let cases: &[(&[&str], &str, i32, &str)] = &[
        (&["ex-box", "echo", "hi"], "", 0, "hi\n"),
        (&["ex-box", "sh", "-c", "exit 5"], "", 5, ""),
        (
            &["ex-box", "sh", "-c", "echo 1; echo 2 >&2; echo 3"],
            "",
            0,
            "1\n3\n",
        ),
        (&["-i", "ex-box", "cat"], "piped\n", 0, "piped\n"),
        // Without -i the process's stdin is empty.
        (&["ex-box", "cat"], "ignored\n", 0, ""),
        (
            &[
                "-w",
                "/tmp",
                "-e",
                "A=1",
                "ex-box",
                "sh",
                "-c",
                "echo $PWD $A $BASE",
            ],
            "",
            0,
            "/tmp 1 b\n",
        ),
        (&["-u", "65534", "ex-box", "id", "-u"], "", 0, "65534\n"),
        // dockerd's exec records 126 for any process that could not start.
        (&["ex-box", "no-such-command"], "", 126, ""),
    ];
    for (args, input, code, stdout) in cases {
        let mut all = vec!["exec"];
        all.extend_from_slice(args);
        let out = svc.docker_stdin(&all, input);
        let (got_code, got_out) = code_out(&out);
        // A command that cannot run prints why instead of output.
        let got_out = if *code == 126 { String::new() } else { got_out };
        assert_eq!(
            (got_code, got_out),
            (Some(*code), stdout.to_string()),
            "docker exec {args:?}: stderr {}",
            text(&out.stderr)
        );
    }
    // The sandbox is the container's: no capabilities beyond Docker's defaults, a seccomp
    // filter, and nothing of the service's left open.
    let status = svc.docker_ok(&["exec", "ex-box", "cat", "/proc/self/status"]);
    let field = |k: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    assert_eq!(field("CapEff:"), "00000000a80425fb", "{status}");
    assert_eq!(field("Seccomp:"), "2", "{status}");
    let fds = svc.docker_ok(&["exec", "ex-box", "ls", "/proc/self/fd"]);
    let mut fds: Vec<&str> = fds.split_whitespace().collect();
    fds.sort();
    assert_eq!(fds, ["0", "1", "2", "3"], "only stdio (and ls's own dir)");

    // A detached exec runs on; its record tells when it has ended, and with what.
    svc.docker_ok(&["exec", "-d", "ex-box", "sh", "-c", "sleep 0.5; exit 6"]);
    let created = svc.curl(
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"Cmd":["sh","-c","exit 8"],"AttachStdout":true,"Env":["E=1"]}"#,
        ],
        "/containers/ex-box/exec",
    );
    assert_eq!(created.status, 201, "{created:?}");
    let exec_id = created.json()["Id"].as_str().unwrap().to_string();
    let inspect = |id: &str| svc.curl(&[], &format!("/exec/{id}/json"));
    let before = inspect(&exec_id).json();
    assert_eq!(before["Running"], false);
    assert_eq!(before["ExitCode"], serde_json::Value::Null);
    assert_eq!(before["ProcessConfig"]["entrypoint"], "sh");
    assert_eq!(before["ProcessConfig"]["arguments"][1], "exit 8");
    assert_eq!(before["OpenStdout"], true);
    let started = svc.curl(
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"Detach":true}"#,
        ],
        &format!("/exec/{exec_id}/start"),
    );
    assert_eq!(started.status, 200, "{started:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let v = inspect(&exec_id).json();
        if v["Running"] == false && !v["ExitCode"].is_null() {
            break v;
        }
        assert!(Instant::now() < deadline, "still running: {v}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(after["ExitCode"], 8, "{after}");
    let again = svc.curl(
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            "{}",
        ],
        &format!("/exec/{exec_id}/start"),
    );
    assert_eq!(
        (again.status, again.json()["message"].as_str().unwrap()),
        (
            409,
            format!("Error: Exec command {exec_id} has already run").as_str()
        )
    );
    assert!(after["Pid"].as_i64().unwrap() > 0, "{after}");
    assert_eq!(
        after["ContainerID"],
        svc.docker_ok(&["inspect", "-f", "{{.Id}}", "ex-box"])
            .trim()
    );

    // Docker's errors: an unknown exec, no command, a container that does not run.
    let missing = inspect("0000");
    assert_eq!(
        (missing.status, missing.json()["message"].as_str().unwrap()),
        (404, "No such exec instance: 0000")
    );
    let empty = svc.curl(
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            "{}",
        ],
        "/containers/ex-box/exec",
    );
    assert_eq!(
        (empty.status, empty.json()["message"].as_str().unwrap()),
        (400, "No exec command specified")
    );
    svc.docker_ok(&[
        "create",
        "--network",
        "none",
        "--name",
        "ex-idle",
        "busybox",
    ]);
    let err = svc.docker_fails(&["exec", "ex-idle", "true"]);
    let idle = svc.docker_ok(&["inspect", "-f", "{{.Id}}", "ex-idle"]);
    assert!(
        err.contains(&format!("container {} is not running", idle.trim())),
        "{err}"
    );
    let err = svc.docker_fails(&["exec", "ex-none", "true"]);
    assert!(err.contains("No such container: ex-none"), "{err}");
    svc.docker_ok(&["rm", "-f", "ex-box", "ex-idle"]);
}

/// A tmux server of the test's own, running one command on a terminal.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(name: &str, svc: &Service, cmd: &str) -> Tmux {
        let t = Tmux {
            socket: format!("strata-api-exec-{name}-{}", std::process::id()),
        };
        let docker = if Path::new("/usr/local/bin/docker").exists() {
            "/usr/local/bin/docker"
        } else {
            "docker"
        };
        let script = format!(
            "DOCKER_HOST=unix://{} DOCKER_CONFIG={} {docker} {cmd}; echo EXITED=$?; sleep 60",
            svc.sock.display(),
            svc.docker_config.display()
        );
        t.run(&[
            "new-session",
            "-d",
            "-x",
            "100",
            "-y",
            "30",
            "sh",
            "-c",
            &script,
        ]);
        t
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux");
        assert!(out.status.success(), "tmux {args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p"])
    }

    fn wait_for(&self, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.screen();
            if s.contains(what) {
                return s;
            }
            assert!(Instant::now() < deadline, "no {what:?} on the screen:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn type_line(&self, line: &str) {
        self.run(&["send-keys", line, "Enter"]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

/// An interactive shell on a terminal: it sees the client's size, runs what is typed, and its
/// exit code is the client's.
fn terminal_session(t: &Tmux, code: u8) {
    // Busybox's banner; its prompt may wait for the answer to its cursor query.
    t.wait_for("built-in shell");
    t.type_line("stty size; echo hi-$((6*7)); tty");
    let s = t.wait_for("hi-42");
    assert!(s.contains("30 100"), "the terminal's size inside:\n{s}");
    assert!(s.contains("/dev/pts/"), "a terminal inside:\n{s}");
    t.type_line(&format!("exit {code}"));
    t.wait_for(&format!("EXITED={code}"));
}

#[test]
fn run_and_exec_on_a_terminal() {
    let (_s, svc) = service();
    let run = Tmux::start("run", &svc, "run -it --rm --network none busybox sh");
    terminal_session(&run, 6);
    drop(run);
    assert_eq!(svc.docker_ok(&["ps", "-aq"]).trim(), "");

    svc.docker_ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "tty-box",
        "busybox",
        "sleep",
        "300",
    ]);
    let exec = Tmux::start("exec", &svc, "exec -it tty-box sh");
    terminal_session(&exec, 4);
    svc.docker_ok(&["rm", "-f", "tty-box"]);
}

const SDK_SCRIPT: &str = r#"
import docker
c = docker.from_env()
ctr = c.containers.run("busybox", ["sleep", "60"], detach=True, network_mode="none",
                       name="sdk-exec")
ctr.reload()
print("status", ctr.status)
r = ctr.exec_run(["sh", "-c", "echo out; echo err >&2; exit 3"])
print("exec", r.exit_code, repr(r.output))
r = ctr.exec_run(["sh", "-c", "echo a; echo b >&2"], demux=True)
print("demux", r.exit_code, r.output)
r = ctr.exec_run("sh -c 'echo $PWD $X'", workdir="/tmp", environment={"X": "1"})
print("env", r.exit_code, r.output)
ctr.remove(force=True)
print("fg", c.containers.run("busybox", ["echo", "hi"], network_mode="none", remove=True))
"#;

#[test]
fn python_sdk_runs_and_execs() {
    let (_s, svc) = service();
    let out = svc.python_ok(SDK_SCRIPT);
    assert_eq!(
        out,
        "status running\n\
         exec 3 b'out\\nerr\\n'\n\
         demux 0 (b'a\\n', b'b\\n')\n\
         env 0 b'/tmp 1\\n'\n\
         fg b'hi\\n'\n"
    );
}

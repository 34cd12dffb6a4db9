//! The rest of the container lifecycle as a Docker user types it (root): `create` then
//! `start -a`, logs with stdout and stderr apart, timestamps and time windows, restart
//! policies (including a SIGKILLed supervisor), `pause`/`unpause`, `top`, `stats`, `rename`,
//! `diff` and the event log they leave.

mod common;
mod run_support;

use std::time::Duration;

use run_support::Env;
use serde_json::Value;

fn inspect(e: &Env, name: &str, template: &str) -> String {
    e.s.ok(&["inspect", "-f", template, name])
        .trim()
        .to_string()
}

/// The pid of the process currently supervising (monitoring) container `name`.
fn monitor_pid(e: &Env, name: &str) -> i32 {
    let id = inspect(e, name, "{{.Id}}");
    let state = std::fs::read_to_string(e.containers_dir().join(&id).join("state.json")).unwrap();
    let v: Value = serde_json::from_str(&state).unwrap();
    v["state"]["monitor"]["pid"].as_i64().expect("a monitor") as i32
}

/// strata with `args` as words for a shell line (program first).
fn strata_line(e: &Env, args: &[&str]) -> Vec<String> {
    let c = e.s.command(args);
    let mut line = vec![c.get_program().to_string_lossy().into_owned()];
    line.extend(c.get_args().map(|a| a.to_string_lossy().into_owned()));
    line
}

/// `program` with the harness's environment for strata (STRATA_DNS…), to run a strata line.
fn with_strata_env(e: &Env, program: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(program);
    for (k, v) in e.s.command(&["version"]).get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd
}

#[test]
fn create_then_start_attached_gives_output_and_exit_code() {
    let e = Env::new();
    let (id, _) = e.code(
        &[
            "create",
            "--name",
            "c1",
            "busybox",
            "sh",
            "-c",
            "echo hello; exit 3",
        ],
        0,
    );
    assert_eq!(id.trim().len(), 64, "{id}");
    assert_eq!(e.state_of("c1").unwrap().0, "created");
    let (out, _) = e.code(&["start", "-a", "c1"], 3);
    assert_eq!(out, "hello\n");
    assert_eq!(
        inspect(&e, "c1", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 3"
    );
    // `container create` is the same command.
    e.code(
        &["container", "create", "--name", "c2", "busybox", "true"],
        0,
    );
    assert_eq!(e.state_of("c2").unwrap().0, "created");
}

#[test]
fn logs_keep_stdout_and_stderr_apart_with_times() {
    let e = Env::new();
    e.code(
        &[
            "run",
            "--name",
            "l1",
            "busybox",
            "sh",
            "-c",
            "echo out1; echo err1 >&2; sleep 1.2; echo out2",
        ],
        0,
    );
    let out = e.output(&["logs", "l1"], b"");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out1\nout2\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err1\n");
    let (ts, _) = e.code(&["logs", "-t", "l1"], 0);
    let first = ts.lines().next().unwrap();
    let (time, text) = first.split_once(' ').unwrap();
    assert_eq!(text, "out1");
    assert_eq!(
        time.len(),
        "2026-12-07T00:21:13.123456789Z".len(),
        "{first}"
    );
    // --until the second line's time (minus a bit) keeps only the lines before it.
    let second_time = ts
        .lines()
        .nth(1)
        .unwrap()
        .split_once(' ')
        .unwrap()
        .0
        .to_string();
    let (before, _) = e.code(&["logs", "--until", &second_time, "l1"], 0);
    assert_eq!(before, "out1\n");
    let (since, _) = e.code(&["logs", "--since", &second_time, "l1"], 0);
    assert_eq!(since, "out2\n");
    let (tail, _) = e.code(&["logs", "-n", "1", "l1"], 0);
    assert_eq!(tail, "out2\n");
    let (details, _) = e.code(&["logs", "--details", "l1"], 0);
    assert_eq!(details, " out1\n out2\n");
    let (_, err) = e.code(&["logs", "--since", "yesterday-ish", "l1"], 1);
    assert!(err.contains("--since"), "{err}");
}

#[test]
fn on_failure_restarts_the_given_number_of_times() {
    let e = Env::new();
    e.code(
        &[
            "run",
            "-d",
            "--name",
            "rf",
            "--restart",
            "on-failure:2",
            "busybox",
            "sh",
            "-c",
            "echo ran; exit 1",
        ],
        0,
    );
    e.eventually(20, "two restarts, then exited", || {
        inspect(&e, "rf", "{{.State.Status}} {{.RestartCount}}") == "exited 2"
    });
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        inspect(&e, "rf", "{{.RestartCount}} {{.State.ExitCode}}"),
        "2 1"
    );
    assert_eq!(e.s.ok(&["logs", "rf"]), "ran\nran\nran\n");
    assert_eq!(
        inspect(&e, "rf", "{{json .HostConfig.RestartPolicy}}"),
        r#"{"Name":"on-failure","MaximumRetryCount":2}"#
    );
    let (_, err) = e.code(
        &["run", "--rm", "--restart", "always", "busybox", "true"],
        125,
    );
    assert!(
        err.contains("Conflicting options: --restart and --rm"),
        "{err}"
    );
    let (_, err) = e.code(&["run", "--restart", "sometimes", "busybox", "true"], 125);
    assert!(err.contains("sometimes"), "{err}");
}

#[test]
fn always_survives_a_killed_supervisor_but_not_a_stop() {
    let e = Env::new();
    e.code(
        &[
            "run",
            "-d",
            "--name",
            "al",
            "--restart",
            "always",
            "busybox",
            "sleep",
            "1000",
        ],
        0,
    );
    e.eventually(10, "running", || {
        inspect(&e, "al", "{{.State.Running}}") == "true"
    });
    let first_pid = inspect(&e, "al", "{{.State.Pid}}");
    let monitor = monitor_pid(&e, "al");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    e.eventually(15, "restarted after the supervisor was killed", || {
        inspect(&e, "al", "{{.State.Running}} {{.RestartCount}}") == "true 1"
            && inspect(&e, "al", "{{.State.Pid}}") != first_pid
    });
    e.code(&["stop", "-t", "1", "al"], 0);
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(inspect(&e, "al", "{{.State.Status}}"), "exited");
    // After a reboot the unit brings back containers with `always`.
    let (out, _) = e.code(&["start", "--all", "--filter", "restart-policy=always"], 0);
    assert_eq!(out, "al\n");
    e.eventually(10, "started again", || {
        inspect(&e, "al", "{{.State.Running}}") == "true"
    });
    e.code(&["rm", "-f", "al"], 0);
}

#[test]
fn pause_top_stats_rename_and_diff() {
    let e = Env::new();
    e.code(
        &[
            "run",
            "-d",
            "--name",
            "p1",
            "busybox",
            "sh",
            "-c",
            "echo hi > /tmp/new; rm /etc/group; exec sleep 1000",
        ],
        0,
    );
    e.eventually(10, "running", || {
        inspect(&e, "p1", "{{.State.Running}}") == "true"
    });
    e.eventually(5, "the file written", || {
        e.s.ok(&["diff", "p1"]).contains("A /tmp/new")
    });
    assert_eq!(
        e.s.ok(&["diff", "p1"]),
        "C /etc\nD /etc/group\nC /tmp\nA /tmp/new\n"
    );

    let top = e.s.ok(&["top", "p1"]);
    let mut lines = top.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 1, "{top}");
    assert!(rows[0].ends_with("sleep 1000"), "{top}");
    let pid: i32 = rows[0].split_whitespace().nth(1).unwrap().parse().unwrap();

    e.code(&["pause", "p1"], 0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let freezer = std::fs::read_to_string(format!(
        "/sys/fs/cgroup/freezer/strata/{}/freezer.state",
        inspect(&e, "p1", "{{.Id}}")
    ))
    .unwrap_or_default();
    assert!(
        freezer.trim() == "FROZEN" || status.contains("State:\tD"),
        "{status}"
    );
    assert_eq!(
        inspect(&e, "p1", "{{.State.Status}} {{.State.Paused}}"),
        "paused true"
    );
    assert!(e.s.ok(&["ps"]).contains("(Paused)"));
    let (_, err) = e.code(&["pause", "p1"], 1);
    assert!(err.contains("is already paused"), "{err}");
    let (_, err) = e.code(&["kill", "p1"], 1);
    assert!(err.contains("is paused"), "{err}");
    e.code(&["unpause", "p1"], 0);
    assert_eq!(inspect(&e, "p1", "{{.State.Status}}"), "running");

    let stats = e.s.ok(&["stats", "--no-stream", "p1"]);
    let mut lines = stats.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT"),
        "{stats}"
    );
    let row = lines.next().unwrap();
    assert!(row.contains(" p1 "), "{stats}");
    let json = e.s.ok(&["stats", "--no-stream", "--format", "json", "p1"]);
    let v: Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["Name"], "p1");
    assert_eq!(v["PIDs"], "1");
    assert!(v["MemUsage"].as_str().unwrap().contains(" / "), "{v}");

    e.code(&["rename", "p1", "p2"], 0);
    assert_eq!(inspect(&e, "p2", "{{.Name}}"), "/p2");
    let (_, err) = e.code(&["rename", "p2", "p2"], 1);
    assert!(err.contains("same name"), "{err}");
    e.code(&["create", "--name", "other", "busybox", "true"], 0);
    let (_, err) = e.code(&["rename", "p2", "other"], 1);
    assert!(err.contains("is already in use"), "{err}");

    let id = inspect(&e, "p2", "{{.Id}}");
    e.code(&["rm", "-f", "p2"], 0);
    // `--until 0s` is now in whole seconds: the last events must be a second old.
    std::thread::sleep(Duration::from_millis(1100));
    assert!(
        !std::path::Path::new(&format!("/sys/fs/cgroup/freezer/strata/{id}")).exists(),
        "the container's cgroup is removed with it"
    );
    let events = e.s.ok(&[
        "events",
        "--since",
        "5m",
        "--until",
        "0s",
        "--filter",
        &format!("container={id}"),
        "--format",
        "{{.Action}}",
    ]);
    let actions: Vec<&str> = events.lines().collect();
    assert_eq!(
        actions,
        ["create", "start", "pause", "unpause", "rename", "kill", "die", "destroy"],
        "{events}"
    );
}

#[test]
fn attach_sends_input_and_returns_the_exit_code_or_detaches() {
    let e = Env::new();
    e.code(
        &[
            "run",
            "-di",
            "--name",
            "at",
            "busybox",
            "sh",
            "-c",
            "while read l; do echo \"got $l\"; [ \"$l\" = quit ] && exit 4; done",
        ],
        0,
    );
    e.eventually(10, "running", || {
        inspect(&e, "at", "{{.State.Running}}") == "true"
    });
    // Input written before the container reads it is kept by its stdin FIFO.
    let out = e.output(&["attach", "at"], b"hello\nquit\n");
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "got hello\ngot quit\n"
    );
    let (_, err) = e.code(&["attach", "at"], 1);
    assert!(
        err.contains("You cannot attach to a stopped container"),
        "{err}"
    );

    // With a terminal, Ctrl-P Ctrl-Q leaves it running: Docker's message and exit code 1.
    e.code(&["run", "-dit", "--name", "at2", "busybox", "sh"], 0);
    e.eventually(10, "running", || {
        inspect(&e, "at2", "{{.State.Running}}") == "true"
    });
    let line = strata_line(&e, &["attach", "at2"]).join(" ");
    let mut script = with_strata_env(&e, "script");
    script.args(["-qec", &line, "/dev/null"]);
    script
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = script.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        use std::io::Write;
        std::thread::sleep(Duration::from_millis(400));
        let _ = input.write_all(b"echo in-$((40+2))\n");
        std::thread::sleep(Duration::from_millis(400));
        let _ = input.write_all(b"\x10\x11");
        std::thread::sleep(Duration::from_millis(2000));
    });
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("in-42"), "{text}");
    assert!(text.contains("read escape sequence"), "{text}");
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(inspect(&e, "at2", "{{.State.Running}}"), "true");
}

#[test]
fn the_shipped_unit_runs_the_tested_restart_command() {
    let unit = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/systemd/strata-restart.service"),
    )
    .unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    // The same arguments `always_survives_a_killed_supervisor_but_not_a_stop` runs.
    assert!(
        exec.ends_with("strata start --all --filter restart-policy=always"),
        "{exec}"
    );
}

#[test]
fn labels_update_and_container_prune() {
    let e = Env::new();
    e.code(
        &[
            "create", "--name", "lb", "-l", "tier=web", "--label", "team", "busybox", "true",
        ],
        0,
    );
    e.code(&["create", "--name", "nl", "busybox", "true"], 0);
    assert_eq!(
        inspect(&e, "lb", "{{json .Config.Labels}}"),
        r#"{"team":"","tier":"web"}"#
    );
    let names = |f: &[&str]| {
        let mut args = vec!["ps", "-a", "--format", "{{.Names}} {{.Labels}}"];
        for x in f {
            args.push("--filter");
            args.push(x);
        }
        e.s.ok(&args)
    };
    assert_eq!(names(&["label=tier=web"]), "lb team=,tier=web\n");
    assert_eq!(names(&["label=tier", "label=team"]), "lb team=,tier=web\n");
    assert_eq!(names(&["label=tier=db"]), "");

    e.code(&["update", "--restart", "on-failure:3", "lb"], 0);
    assert_eq!(
        inspect(
            &e,
            "lb",
            "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        "on-failure:3"
    );

    let (out, _) = e.code(&["container", "prune", "-f", "--filter", "label=tier"], 0);
    let lb = inspect(&e, "nl", "{{.Id}}");
    assert!(out.starts_with("Deleted Containers:\n"), "{out}");
    assert!(out.ends_with("Total reclaimed space: 0B\n"), "{out}");
    assert!(!out.contains(&lb), "{out}");
    let (out, _) = e.code(&["container", "prune", "-f"], 0);
    assert!(out.contains(&lb), "{out}");
    assert!(e.container_dirs().is_empty(), "{:?}", e.container_dirs());
}

#[test]
fn exec_with_a_terminal_gets_one_of_the_containers_devpts() {
    let e = Env::new();
    e.code(&["run", "-d", "--name", "ex", "busybox", "sleep", "100"], 0);
    e.eventually(10, "running", || {
        inspect(&e, "ex", "{{.State.Running}}") == "true"
    });
    let (out, _) = e.code(&["exec", "-t", "ex", "sh", "-c", "tty; exit 5"], 5);
    assert_eq!(out, "/dev/pts/0\r\n");
    let out = e.output(&["exec", "-it", "ex", "true"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the input device is not a TTY"));
}

#[test]
fn internal_commands_never_show_in_help_or_suggestions() {
    let e = Env::new();
    let (_, err) = e.code(&["contianer", "ls"], 125);
    assert!(err.contains("'container'"), "{err}");
    assert!(!err.contains("supervise"), "{err}");
    let (_, err) = e.code(&["container-superv"], 125);
    assert!(!err.contains("container-supervise"), "{err}");
    let (help, _) = e.code(&["--help"], 0);
    assert!(!help.contains("supervise"), "{help}");
    assert!(help.contains("attach") && help.contains("events"), "{help}");
}

#[test]
fn descriptors_of_the_caller_never_reach_the_container() {
    let e = Env::new();
    let dir = e.s.scratch("hostdir");
    std::fs::write(dir.join("secret"), "host\n").unwrap();
    e.code(&["run", "-d", "--name", "fd", "busybox", "sleep", "100"], 0);
    e.eventually(10, "running", || {
        inspect(&e, "fd", "{{.State.Running}}") == "true"
    });
    let line = strata_line(&e, &["exec", "fd", "ls", "/proc/self/fd/"]);
    for sub in [line.clone(), {
        let mut run = line.clone();
        let at = run.iter().position(|a| a == "exec").unwrap();
        run.splice(
            at..at + 2,
            ["run".to_string(), "--rm".into(), "busybox".into()],
        );
        run
    }] {
        let script = format!("exec 7<{}; exec {}", dir.display(), sub.join(" "));
        let out = with_strata_env(&e, "bash")
            .args(["-c", &script])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let fds = String::from_utf8_lossy(&out.stdout);
        let fds: Vec<&str> = fds.split_whitespace().collect();
        // 0-2, and the one `ls` opened to read the directory.
        assert_eq!(fds, ["0", "1", "2", "3"], "{script}");
    }
}

#[test]
fn system_prune_removes_what_dockers_does() {
    let e = Env::new();
    e.s.ok(&["network", "create", "sp-idle"]);
    e.code(
        &["run", "--name", "sp-done", "-v", "/data", "busybox", "true"],
        0,
    );
    let done = inspect(&e, "sp-done", "{{.Id}}");
    let anon = inspect(&e, "sp-done", "{{(index .Mounts 0).Name}}");
    e.code(
        &["run", "-d", "--name", "sp-up", "busybox", "sleep", "100"],
        0,
    );

    // Without -f and no terminal to answer: Docker's warning, and nothing removed.
    let (_, err) = e.code(&["system", "prune", "--volumes", "--filter", "label=x"], 0);
    assert!(
        err.starts_with(
            "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used \
             by at least one container\n  - all anonymous volumes not used by at least one \
             container\n  - all dangling images\n  - unused build cache\n"
        ),
        "{err}"
    );
    assert!(
        err.contains("Items to be pruned will be filtered with:\n  - label=x\n"),
        "{err}"
    );
    // Docker's refusals, before anything is asked.
    let (_, err) = e.code(
        &["system", "prune", "-f", "--volumes", "--filter", "until=1h"],
        1,
    );
    assert!(
        err.contains("The \"until\" filter is not supported with \"--volumes\""),
        "{err}"
    );
    let (_, err) = e.code(&["system", "prune", "-f", "--filter", "colour=red"], 1);
    assert!(err.contains("colour"), "{err}");
    assert_eq!(inspect(&e, "sp-done", "{{.State.Status}}"), "exited");

    let (out, _) = e.code(&["system", "prune", "-f", "--volumes"], 0);
    assert!(
        out.starts_with(&format!(
            "Deleted Containers:\n{done}\n\nDeleted Networks:\nsp-idle\n\nDeleted \
             Volumes:\n{anon}\n\n"
        )),
        "{out}"
    );
    assert!(out.contains("\nTotal reclaimed space: "), "{out}");
    let left = e.s.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(left, "sp-up\n");
    assert_eq!(e.s.ok(&["volume", "ls", "-q"]), "");
    e.code(&["rm", "-f", "sp-up"], 0);
}

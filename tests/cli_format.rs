//! Docker's command forms as scripts use them: Go-template `--format` (`ps`, `inspect -f`,
//! `network ls`, the `table` directive with Docker's column titles, the `json` shorthand, a bad
//! template as a located error) and the management forms (`container …`, `image …`).

mod common;
mod run_support;

use run_support::Env;

#[test]
fn ps_and_inspect_take_go_templates() {
    let e = Env::new();
    let id =
        e.s.ok(&[
            "run",
            "-d",
            "--name",
            "fmt",
            "--network",
            "none",
            "-e",
            "A=1",
            "busybox",
            "sleep",
            "300",
        ])
        .trim()
        .to_string();
    assert_eq!(
        e.s.ok(&["ps", "--format", "{{.Names}}\\t{{.State}}\\t{{.Networks}}"]),
        "fmt\trunning\tnone\n"
    );
    let table = e.s.ok(&["ps", "--format", "table {{.ID}}\\t{{.Names}}"]);
    assert_eq!(
        table,
        format!("CONTAINER ID   NAMES\n{}   fmt\n", &id[..12])
    );
    let line = e.s.ok(&["ps", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(v["ID"], &id[..12]);
    assert_eq!(
        e.s.ok(&["ps", "--no-trunc", "--format", "{{.ID}}"]),
        format!("{id}\n")
    );
    assert_eq!(
        e.s.ok(&[
            "inspect",
            "-f",
            "{{.State.Running}} {{.Name}} {{.HostConfig.NetworkMode}}",
            "fmt"
        ]),
        "true /fmt none\n"
    );
    let env =
        e.s.ok(&["inspect", "--format", "{{json .Config.Env}}", "fmt"]);
    let env: Vec<String> = serde_json::from_str(env.trim()).unwrap();
    assert!(env.contains(&"A=1".to_string()), "{env:?}");
    assert_eq!(
        e.s.ok(&["inspect", "-f", "{{range .Args}}[{{.}}]{{end}}", "fmt"]),
        "[300]\n"
    );
    let err = e.s.fails(&["ps", "--format", "{{.Names"]);
    assert!(err.contains("template: :1:"), "{err}");
    e.s.ok(&["rm", "-f", "fmt"]);
}

#[test]
fn management_forms_run_the_plain_commands() {
    let e = Env::new();
    let (out, _) = e.code(
        &[
            "container",
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "echo",
            "hi",
        ],
        0,
    );
    assert_eq!(out, "hi\n");
    e.s.ok(&[
        "container",
        "run",
        "-d",
        "--name",
        "mf",
        "--network",
        "none",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_eq!(
        e.s.ok(&["container", "ls", "--format", "{{.Names}}"]),
        "mf\n"
    );
    assert_eq!(e.s.ok(&["container", "list", "-q"]).trim().len(), 12);
    let id = e.s.ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"]);
    assert!(id.starts_with("sha256:"), "{id}");
    let ls = e.s.ok(&["image", "ls"]);
    assert!(
        ls.starts_with("REPOSITORY") && ls.contains("busybox"),
        "{ls}"
    );
    e.s.ok(&["image", "tag", "busybox", "bb2"]);
    e.s.ok(&["image", "rm", "bb2"]);
    e.s.ok(&["container", "stop", "-t", "1", "mf"]);
    e.s.ok(&["container", "rm", "mf"]);
    assert_eq!(e.s.ok(&["container", "ls", "-a", "-q"]), "");
}

#[test]
fn ps_filters_last_and_latest() {
    let e = Env::new();
    for (name, cmd) in [("ok1", "true"), ("bad3", "exit 3"), ("live", "sleep 300")] {
        let args = [
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            cmd,
        ];
        e.s.ok(&args);
    }
    e.eventually(10, "the short-lived ones to exit", || {
        e.s.ok(&[
            "ps",
            "-a",
            "--filter",
            "status=exited",
            "--format",
            "{{.Names}}",
        ])
        .lines()
        .count()
            == 2
    });
    let names = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["ps", "--format", "{{.Names}}"];
        all.extend_from_slice(args);
        e.s.ok(&all).lines().map(String::from).collect()
    };
    assert_eq!(names(&[]), vec!["live"]);
    assert_eq!(names(&["--filter", "exited=3"]), vec!["bad3"]);
    assert_eq!(
        names(&["-a", "--filter", "name=ok", "--filter", "name=bad"]).len(),
        2
    );
    assert_eq!(
        names(&["-a", "--filter", "status=exited", "--filter", "name=ok"]),
        vec!["ok1"]
    );
    assert_eq!(
        names(&["-a", "--filter", "since=ok1"]),
        vec!["live", "bad3"]
    );
    assert_eq!(names(&["-a", "--filter", "before=bad3"]), vec!["ok1"]);
    assert_eq!(
        names(&[
            "-a",
            "--filter",
            "network=none",
            "--filter",
            "ancestor=busybox"
        ])
        .len(),
        3
    );
    assert_eq!(names(&["-l"]), vec!["live"]);
    assert_eq!(names(&["-n", "2"]), vec!["live", "bad3"]);
    let err = e.s.fails(&["ps", "--filter", "colour=red"]);
    assert!(err.contains("invalid filter 'colour'"), "{err}");
    e.s.ok(&["rm", "-f", "ok1", "bad3", "live"]);
}

#[test]
fn kill_and_restart() {
    let e = Env::new();
    let script = "trap 'exit 7' TERM; while true; do sleep 0.05; done";
    e.s.ok(&[
        "run",
        "-d",
        "--name",
        "kr",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(e.s.ok(&["kill", "-s", "TERM", "kr"]), "kr\n");
    e.eventually(10, "the trap to end it", || {
        e.state_of("kr") == Some(("exited".into(), Some(7)))
    });
    let err = e.s.fails(&["kill", "kr"]);
    assert!(err.contains("is not running"), "{err}");
    assert_eq!(e.s.ok(&["restart", "-t", "1", "kr"]), "kr\n");
    assert_eq!(e.state_of("kr").map(|s| s.0), Some("running".into()));
    assert_eq!(e.s.ok(&["container", "restart", "-t", "1", "kr"]), "kr\n");
    assert_eq!(e.state_of("kr").map(|s| s.0), Some("running".into()));
    e.s.ok(&["kill", "kr"]);
    e.eventually(10, "SIGKILL to end it", || {
        e.state_of("kr") == Some(("exited".into(), Some(137)))
    });
    e.s.ok(&["rm", "kr"]);
}

#[test]
fn images_take_go_templates() {
    let e = Env::new();
    assert_eq!(
        e.s.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "busybox:latest\n"
    );
    let table =
        e.s.ok(&["images", "--format", "table {{.Repository}}\t{{.Tag}}"]);
    assert_eq!(table, "REPOSITORY   TAG\nbusybox      latest\n");
    let v: serde_json::Value =
        serde_json::from_str(e.s.ok(&["image", "ls", "--format", "json"]).trim()).unwrap();
    assert_eq!(v["Repository"], "busybox");
    assert_eq!(v["ID"].as_str().unwrap().len(), 12);
}

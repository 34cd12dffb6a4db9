//! The docker CLI's system and scripting commands through `strata system service`: events
//! streamed while another command runs (and replayed with `--since`/`--until`), `system df`,
//! `system prune`, `inspect -f`, and `--format` of `ps` and `images`.

mod api_support;
mod common;

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use api_support::{unix_now, Service};
use common::Strata;

fn service() -> (Strata, Service) {
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);
    s.import_busybox("busybox");
    (s, svc)
}

/// `docker events ARGS` running in the background, its lines arriving on a channel.
struct Events {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

impl Events {
    fn start(svc: &Service, args: &[&str]) -> Events {
        let mut child = svc
            .docker_command()
            .arg("events")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker events");
        let out = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Events { child, lines }
    }

    /// The next `n` lines, or what arrived before the deadline.
    fn take(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut got = Vec::new();
        while got.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => got.push(l),
                Err(_) => break,
            }
        }
        got
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The CLI subscribes before the events happen; give its request time to arrive.
fn subscribed(svc: &Service) {
    let deadline = Instant::now() + Duration::from_secs(10);
    // `docker events` prints nothing until an event: wait for the service to see a second
    // client by asking it something that needs an answer, then a little for the stream.
    while Instant::now() < deadline {
        if svc.docker(&["version"]).status.success() {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(500));
}

#[test]
fn events_stream_live_while_a_container_runs() {
    let (_s, svc) = service();
    let t0 = unix_now();
    let fmt = "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}";
    let all = Events::start(&svc, &["--filter", "type=container", "--format", fmt]);
    let starts = Events::start(
        &svc,
        &[
            "--filter",
            "type=container",
            "--filter",
            "event=start",
            "--format",
            fmt,
        ],
    );
    subscribed(&svc);
    svc.docker_ok(&["run", "--rm", "--name", "cs-ev1", "busybox", "true"]);
    assert_eq!(
        all.take(4),
        [
            "container create cs-ev1",
            "container start cs-ev1",
            "container die cs-ev1",
            "container destroy cs-ev1"
        ]
    );
    assert_eq!(starts.take(1), ["container start cs-ev1"]);
    // A volume's events pass the type filter by; the streams stay open for more.
    svc.docker_ok(&["volume", "create", "cs-evvol"]);
    svc.docker_ok(&["run", "--rm", "--name", "cs-ev2", "busybox", "true"]);
    assert_eq!(all.take(1), ["container create cs-ev2"]);
    assert_eq!(starts.take(1), ["container start cs-ev2"]);

    // Replayed from the log: a bounded window ends by itself.
    let until = (unix_now() + 1).to_string();
    let since = t0.saturating_sub(1).to_string();
    let out = svc.docker_ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "event=destroy",
        "--format",
        fmt,
    ]);
    assert_eq!(out, "container destroy cs-ev1\ncontainer destroy cs-ev2\n");
    let out = svc.docker_ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "type=volume",
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.ID}}",
    ]);
    assert_eq!(out, "volume create cs-evvol\n");
}

#[test]
fn system_df_and_prune() {
    let (_s, svc) = service();
    svc.docker_ok(&["volume", "create", "cs-named"]);
    let anon = svc.docker_ok(&["volume", "create"]).trim().to_string();
    svc.docker_ok(&[
        "run",
        "--name",
        "cs-exited",
        "-v",
        "cs-named:/data",
        "busybox",
        "true",
    ]);
    svc.docker_ok(&["tag", "busybox", "cs-kept:1"]);
    let df = svc.docker_ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}}|{{.TotalCount}}|{{.Active}}",
    ]);
    assert_eq!(
        df,
        "Images|1|1\nContainers|1|0\nLocal Volumes|2|1\nBuild Cache|0|0\n"
    );
    let v = svc.docker_ok(&["system", "df", "-v"]);
    for want in [
        "Images space usage:",
        "busybox",
        "Containers space usage:",
        "Exited (0) ",
        "cs-exited",
        "Local Volumes space usage:",
        "cs-named",
        anon.as_str(),
        "Build cache usage:",
    ] {
        assert!(v.contains(want), "{want:?} not in:\n{v}");
    }

    // Without --volumes, volumes stay; the exited container goes, and the images it kept.
    let out = svc.docker_ok(&["system", "prune", "-f"]);
    assert!(out.contains("Deleted Containers:"), "{out}");
    assert!(out.contains("Total reclaimed space:"), "{out}");
    assert_eq!(svc.docker_ok(&["ps", "-aq"]), "");
    let mut vols: Vec<String> = svc
        .docker_ok(&["volume", "ls", "-q"])
        .lines()
        .map(str::to_string)
        .collect();
    vols.sort();
    let mut want = vec![anon.clone(), "cs-named".to_string()];
    want.sort();
    assert_eq!(vols, want);
    // Tagged images are not dangling: prune keeps them.
    let mut tags: Vec<String> = svc
        .docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .lines()
        .map(str::to_string)
        .collect();
    tags.sort();
    assert_eq!(tags, ["busybox:latest", "cs-kept:1"]);

    // --volumes takes the anonymous volume; a named one is kept, as Docker 23+ does.
    let out = svc.docker_ok(&["system", "prune", "-f", "--volumes"]);
    assert!(out.contains(&anon), "{out}");
    assert_eq!(svc.docker_ok(&["volume", "ls", "-q"]), "cs-named\n");
}

#[test]
fn inspect_and_format_templates() {
    let (_s, svc) = service();
    let id = svc
        .docker_ok(&[
            "create", "--name", "cs-fmt", "-e", "CS_A=1", "busybox", "sleep", "5",
        ])
        .trim()
        .to_string();
    let out = svc.docker_ok(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{json .Config.Env}}",
        "cs-fmt",
    ]);
    let (status, env) = out.trim().split_once(' ').unwrap();
    assert_eq!(status, "created");
    let env: Vec<String> = serde_json::from_str(env).unwrap();
    assert!(env.contains(&"CS_A=1".to_string()), "{env:?}");
    assert!(env.iter().any(|e| e.starts_with("PATH=")), "{env:?}");

    let short = &id[..12];
    assert_eq!(
        svc.docker_ok(&["ps", "-a", "--format", "{{.ID}} {{.Names}} {{.Status}}"]),
        format!("{short} cs-fmt Created\n")
    );
    let json: serde_json::Value =
        serde_json::from_str(svc.docker_ok(&["ps", "-a", "--format", "json"]).trim()).unwrap();
    assert_eq!(json["ID"], short);
    assert_eq!(json["Names"], "cs-fmt");
    assert_eq!(json["State"], "created");
    assert_eq!(json["Image"], "busybox");
    let table = svc.docker_ok(&["ps", "-a", "--format", "table {{.Names}}\t{{.Image}}"]);
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows, [vec!["NAMES", "IMAGE"], vec!["cs-fmt", "busybox"]]);
    let table = svc.docker_ok(&["ps", "-a", "--format", "table"]);
    assert!(table.starts_with("CONTAINER ID   IMAGE"), "{table}");
    assert!(table.contains("cs-fmt"), "{table}");

    let image_id = svc
        .docker_ok(&["images", "-q", "busybox"])
        .trim()
        .to_string();
    svc.docker_ok(&["tag", "busybox", "cs-img:v1"]);
    let mut rows: Vec<String> = svc
        .docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"])
        .lines()
        .map(str::to_string)
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            format!("busybox:latest {image_id}"),
            format!("cs-img:v1 {image_id}")
        ]
    );
    let json: serde_json::Value = serde_json::from_str(
        svc.docker_ok(&["images", "--format", "json", "cs-img"])
            .trim(),
    )
    .unwrap();
    assert_eq!(json["Repository"], "cs-img");
    assert_eq!(json["Tag"], "v1");
    assert_eq!(json["ID"], image_id);
    svc.docker_ok(&["rm", "cs-fmt"]);
}

//! Health probes in the event stream as dockerd logs them: each probe is an exec of the
//! container with an id of its own, seen as `exec_create: CMD`, `exec_start: CMD` and
//! `exec_die` (with its `exitCode`), through the docker CLI's `events` over the API.

mod api_support;
mod common;

use std::time::{Duration, Instant};

use api_support::{busybox_service, unix_now};
use serde_json::Value;

#[test]
fn probes_are_logged_as_exec_events() {
    let (_s, svc) = busybox_service();
    let since = unix_now().to_string();
    svc.docker_ok(&[
        "run",
        "-d",
        "--name",
        "hev",
        "--health-cmd",
        "echo probing; exit 3",
        "--health-interval",
        "200ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "60",
    ]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = svc.docker_ok(&["inspect", "-f", "{{len .State.Health.Log}}", "hev"]);
        if n.trim().parse::<usize>().unwrap_or(0) >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "no two probes ran");
        std::thread::sleep(Duration::from_millis(100));
    }
    let until = (unix_now() + 1).to_string();
    let events = |extra: &[&str]| -> Vec<Value> {
        let mut args = vec!["events", "--since", &since, "--until", &until];
        args.extend_from_slice(extra);
        args.extend(["--filter", "container=hev", "--format", "{{json .}}"]);
        let out = svc.docker_ok(&args);
        out.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let all = events(&[]);
    let execs: Vec<&Value> = all
        .iter()
        .filter(|e| e["Action"].as_str().unwrap().starts_with("exec_"))
        .collect();
    assert!(execs.len() >= 6, "{all:#?}");
    let cmd = "/bin/sh -c echo probing; exit 3";
    // Probe after probe: created, started, died, each under one exec id of Docker's shape.
    for probe in execs.chunks(3).take(2) {
        let actions: Vec<&str> = probe
            .iter()
            .map(|e| e["Action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            [
                format!("exec_create: {cmd}"),
                format!("exec_start: {cmd}"),
                "exec_die".to_string()
            ],
            "{all:#?}"
        );
        let id = probe[0]["Actor"]["Attributes"]["execID"].as_str().unwrap();
        assert_eq!(id.len(), 64, "{id}");
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
        for e in probe {
            let attrs = &e["Actor"]["Attributes"];
            assert_eq!(attrs["execID"], id, "{e:#}");
            assert_eq!(attrs["name"], "hev", "{e:#}");
            assert_eq!(e["Type"], "container");
        }
        assert_eq!(probe[2]["Actor"]["Attributes"]["exitCode"], "3");
        assert!(probe[0]["Actor"]["Attributes"].get("exitCode").is_none());
    }
    assert_ne!(
        execs[0]["Actor"]["Attributes"]["execID"],
        execs[3]["Actor"]["Attributes"]["execID"]
    );
    // The event filter takes them as it takes `docker exec`'s.
    let died = events(&["--filter", "event=exec_die"]);
    assert!(died.len() >= 2, "{died:#?}");
    assert!(died.iter().all(|e| e["Action"] == "exec_die"), "{died:#?}");
    svc.docker_ok(&["rm", "-f", "hev"]);
}

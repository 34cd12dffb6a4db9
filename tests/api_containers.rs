//! The container endpoints of `strata system service`, driven by the real docker CLI and by
//! curl over the test's own socket, in a temp store shared with the `strata` CLI. Containers
//! use `--network none`: nothing leaves loopback.

mod api_support;
mod common;

use std::time::{Duration, Instant};

use api_support::Service;
use common::Strata;

fn service() -> (Strata, Service) {
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);
    s.import_busybox("busybox");
    (s, svc)
}

#[test]
fn create_shows_in_both_front_doors() {
    let (s, svc) = service();
    let id = svc.docker_ok(&[
        "create",
        "--network",
        "none",
        "--name",
        "c1",
        "--label",
        "k=v",
        "-e",
        "A=1",
        "busybox",
        "echo",
        "hi",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    let ps = svc.docker_ok(&["ps", "-a", "--format", "{{.ID}} {{.Names}} {{.Status}}"]);
    assert_eq!(ps.trim(), format!("{} c1 Created", &id[..12]));
    assert_eq!(svc.docker_ok(&["ps", "-q"]).trim(), "");
    let ours = s.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(ours.trim(), "c1");
    let inspect = svc.docker_ok(&[
        "inspect",
        "-f",
        "{{.Name}} {{.State.Status}} {{index .Config.Labels \"k\"}} {{.Config.Cmd}}",
        "c1",
    ]);
    assert_eq!(inspect.trim(), "/c1 created v [echo hi]");

    // A name in use: Docker's 409 and message.
    let err = svc.docker_fails(&["create", "--network", "none", "--name", "c1", "busybox"]);
    assert!(
        err.contains("Conflict. The container name \"/c1\" is already in use"),
        "{err}"
    );
    svc.docker_ok(&["rm", "c1"]);
    assert_eq!(svc.docker_ok(&["ps", "-aq"]).trim(), "");
}

#[test]
fn detached_lifecycle_with_the_docker_cli() {
    let (s, svc) = service();
    svc.docker_ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "web",
        "busybox",
        "sh",
        "-c",
        "echo hello; sleep 30",
    ]);
    assert_eq!(
        svc.docker_ok(&["ps", "--format", "{{.Names}}"]).trim(),
        "web"
    );
    assert_eq!(
        svc.docker_ok(&["inspect", "-f", "{{.State.Running}}", "web"])
            .trim(),
        "true"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = svc.docker_ok(&["logs", "web"]);
        if out == "hello\n" {
            break;
        }
        assert!(Instant::now() < deadline, "logs: {out:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Removing a running container without force: 409.
    let err = svc.docker_fails(&["rm", "web"]);
    assert!(err.contains("cannot remove container"), "{err}");
    svc.docker_ok(&["stop", "-t", "1", "web"]);
    assert_eq!(
        svc.docker_ok(&["inspect", "-f", "{{.State.Running}}", "web"])
            .trim(),
        "false"
    );
    assert_eq!(svc.docker_ok(&["ps", "-q"]).trim(), "");
    svc.docker_ok(&["rm", "web"]);
    assert_eq!(s.ok(&["ps", "-aq"]).trim(), "");

    // A container the strata CLI started shows in `docker ps`.
    s.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "cli",
        "busybox",
        "sleep",
        "30",
    ]);
    assert_eq!(
        svc.docker_ok(&["ps", "--format", "{{.Names}} {{.State}}"])
            .trim(),
        "cli running"
    );
    svc.docker_ok(&["rm", "-f", "cli"]);
}

#[test]
fn curl_errors_and_log_frames() {
    let (_s, svc) = service();
    let h = ["-H", "Content-Type: application/json", "-X", "POST"];
    let bad = svc.curl(
        &[&h[..], &["-d", "{nope"]].concat(),
        "/v1.50/containers/create",
    );
    assert_eq!(bad.status, 400, "{bad:?}");
    assert!(bad.json()["message"]
        .as_str()
        .unwrap()
        .contains("invalid JSON"));
    let bad = svc.curl(
        &[&h[..], &["-d", r#"{"Image":"busybox","Cmd":"echo"}"#]].concat(),
        "/v1.50/containers/create",
    );
    assert_eq!(bad.status, 400, "{bad:?}");
    assert!(
        bad.json()["message"].as_str().unwrap().contains("Cmd"),
        "{bad:?}"
    );

    let missing = svc.curl(&[], "/v1.50/containers/x/json");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["message"], "No such container: x");

    let noimg = svc.curl(
        &[&h[..], &["-d", r#"{"Image":"nope"}"#]].concat(),
        "/v1.50/containers/create",
    );
    assert_eq!(noimg.status, 404);
    assert_eq!(noimg.json()["message"], "No such image: nope:latest");

    let made = svc.curl(
        &[
            &h[..],
            &[
                "-d",
                r#"{"Image":"busybox","Cmd":["sh","-c","echo out; echo err >&2; sleep 30"],
                    "HostConfig":{"NetworkMode":"none"}}"#,
            ],
        ]
        .concat(),
        "/v1.50/containers/create?name=logs",
    );
    assert_eq!(made.status, 201, "{made:?}");
    assert_eq!(made.json()["Warnings"], serde_json::json!([]));
    let start = svc.curl(&["-X", "POST"], "/v1.50/containers/logs/start");
    assert_eq!(start.status, 204, "{start:?}");
    let again = svc.curl(&["-X", "POST"], "/v1.50/containers/logs/start");
    assert_eq!(again.status, 304);

    let deadline = Instant::now() + Duration::from_secs(10);
    let raw = loop {
        let raw = raw_get(&svc, "/v1.50/containers/logs/logs?stdout=1&stderr=1");
        if raw.ends_with(b"err\n") || raw.ends_with(b"out\n") && raw.len() >= 24 {
            break raw;
        }
        assert!(Instant::now() < deadline, "logs: {raw:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut frames = Vec::new();
    let mut rest = &raw[..];
    while !rest.is_empty() {
        assert_eq!(&rest[1..4], &[0, 0, 0], "{raw:?}");
        let n = u32::from_be_bytes(rest[4..8].try_into().unwrap()) as usize;
        frames.push((
            rest[0],
            String::from_utf8_lossy(&rest[8..8 + n]).into_owned(),
        ));
        rest = &rest[8 + n..];
    }
    frames.sort();
    assert_eq!(frames, vec![(1, "out\n".into()), (2, "err\n".into())]);

    let del = svc.curl(&["-X", "DELETE"], "/v1.50/containers/logs");
    assert_eq!(del.status, 409, "{del:?}");
    let del = svc.curl(&["-X", "DELETE"], "/v1.50/containers/logs?force=1");
    assert_eq!(del.status, 204, "{del:?}");
}

/// The body of a GET, as bytes (log frames are binary).
fn raw_get(svc: &Service, path: &str) -> Vec<u8> {
    let out = std::process::Command::new("curl")
        .args(["-s", "--max-time", "20", "--unix-socket"])
        .arg(&svc.sock)
        .arg(format!("http://strata{path}"))
        .output()
        .expect("run curl");
    assert!(out.status.success(), "curl {path}: {}", out.status);
    out.stdout
}

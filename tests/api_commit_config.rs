//! `commit` writes the container's Config into the new image, as dockerd's commit does: the
//! healthcheck given at create, its environment, command, working directory, labels, ports
//! and stop signal; `--change` and the API body's Config go over it (the body's healthcheck
//! merged field by field). Driven by the docker CLI and curl over the API.

mod api_support;
mod common;

use api_support::busybox_service;
use serde_json::{json, Value};

fn image_config(svc: &api_support::Service, image: &str) -> Value {
    let out = svc.docker_ok(&["image", "inspect", "--format", "{{json .Config}}", image]);
    serde_json::from_str(out.trim()).unwrap()
}

#[test]
fn commit_carries_the_containers_config() {
    let (_s, svc) = busybox_service();
    svc.docker_ok(&[
        "run",
        "-d",
        "--name",
        "cc-src",
        "--health-cmd",
        "cat /tmp/ok",
        "--health-interval",
        "2s",
        "--health-retries",
        "4",
        "-e",
        "FROM_RUN=1",
        "-w",
        "/tmp",
        "--label",
        "team=web",
        "-p",
        "127.0.0.1::8080",
        "--stop-signal",
        "SIGINT",
        "busybox",
        "sleep",
        "60",
    ]);
    let hc = json!({"Test": ["CMD-SHELL", "cat /tmp/ok"], "Interval": 2_000_000_000u64,
        "Retries": 4});

    svc.docker_ok(&["commit", "cc-src", "cc-img"]);
    let c = image_config(&svc, "cc-img");
    assert_eq!(c["Healthcheck"], hc, "{c:#}");
    let env: Vec<&str> = c["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(env.contains(&"FROM_RUN=1"), "{c:#}");
    assert!(env.iter().any(|e| e.starts_with("PATH=")), "{c:#}");
    assert_eq!(c["Cmd"], json!(["sleep", "60"]), "{c:#}");
    assert_eq!(c["WorkingDir"], "/tmp", "{c:#}");
    assert_eq!(c["Labels"]["team"], "web", "{c:#}");
    assert_eq!(c["ExposedPorts"], json!({"8080/tcp": {}}), "{c:#}");
    assert_eq!(c["StopSignal"], "SIGINT", "{c:#}");

    // A container of the new image probes with the inherited healthcheck.
    svc.docker_ok(&["run", "-d", "--name", "cc-child", "cc-img"]);
    let got = svc.docker_ok(&[
        "inspect",
        "--format",
        "{{json .Config.Healthcheck}}",
        "cc-child",
    ]);
    assert_eq!(serde_json::from_str::<Value>(got.trim()).unwrap(), hc);

    // `--change` goes over the container's config; the rest stays the container's.
    svc.docker_ok(&["commit", "-c", "CMD [\"sh\"]", "cc-src", "cc-img2"]);
    let c = image_config(&svc, "cc-img2");
    assert_eq!(c["Cmd"], json!(["sh"]), "{c:#}");
    assert_eq!(c["Healthcheck"], hc, "{c:#}");

    // The API body's healthcheck fills only what it sets, as dockerd merges it.
    let r = svc.post_json(
        "/commit?container=cc-src&repo=cc-img3",
        r#"{"Healthcheck": {"Interval": 5000000000}}"#,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let c = image_config(&svc, "cc-img3");
    assert_eq!(
        c["Healthcheck"],
        json!({"Test": ["CMD-SHELL", "cat /tmp/ok"], "Interval": 5_000_000_000u64,
            "Retries": 4}),
        "{c:#}"
    );
    svc.docker_ok(&["rm", "-f", "cc-src", "cc-child"]);
}

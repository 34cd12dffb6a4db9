//! Container settings the Engine API reference describes, through the docker CLI 28 and
//! curl against `strata system service` (root): `PidMode`, `CpusetCpus`/`CpusetMems` (and
//! `update`), `DeviceCgroupRules`, `Runtime`, `Isolation` and `StorageOpt` acted on or refused
//! with dockerd's status codes and messages, and a `MacAddress` per network endpoint at create
//! and at connect.

mod api_support;
mod common;
mod ctr_settings_support;
mod run_support;

use api_support::busybox_service;
use ctr_settings_support::{available_cpus, sees_pid, ALLOWED, WRITE_F};
use run_support::Env;

#[test]
fn pid_mode_through_the_docker_cli() {
    let (_s, svc) = busybox_service();
    let me = std::process::id();
    let out = svc.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--pid",
        "host",
        "busybox",
        "sh",
        "-c",
        &sees_pid(me),
    ]);
    assert_eq!(out.trim(), "seen");

    svc.docker_ok(&[
        "create",
        "--name",
        "idle",
        "--network",
        "none",
        "busybox",
        "true",
    ]);
    let id = svc.docker_ok(&["inspect", "-f", "{{.Id}}", "idle"]);
    let id = id.trim();
    svc.docker_ok(&[
        "create",
        "--name",
        "joiner",
        "--network",
        "none",
        "--pid",
        "container:idle",
        "busybox",
        "true",
    ]);
    let pid_mode = svc.docker_ok(&["inspect", "-f", "{{.HostConfig.PidMode}}", "joiner"]);
    assert_eq!(pid_mode.trim(), "container:idle");
    let err = svc.docker_fails(&["start", "joiner"]);
    let want = format!(
        "Error response from daemon: failed to join PID namespace: container {id} is not running"
    );
    assert!(err.contains(&want), "{err}");
    let r = svc.curl(&["-X", "POST"], "/containers/joiner/start");
    assert_eq!(r.status, 500, "{}", r.body);

    // dockerd's own check of a mode the docker CLI would not send.
    let r = svc.post_json(
        "/containers/create",
        r#"{"Image":"busybox","HostConfig":{"PidMode":"bogus"}}"#,
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["message"], "invalid PID mode: bogus");
}

#[test]
fn cpuset_through_the_docker_cli() {
    let (_s, svc) = busybox_service();
    svc.docker_ok(&[
        "run",
        "-d",
        "--name",
        "cs",
        "--network",
        "none",
        "--cpuset-cpus",
        "0",
        "busybox",
        "sleep",
        "300",
    ]);
    let out = svc.docker_ok(&["exec", "cs", "sh", "-c", ALLOWED]);
    assert_eq!(out.split_whitespace().next(), Some("0"), "{out}");
    let all = available_cpus();
    svc.docker_ok(&["update", "--cpuset-cpus", &all, "--cpuset-mems", "0", "cs"]);
    let out = svc.docker_ok(&["exec", "cs", "sh", "-c", ALLOWED]);
    assert_eq!(out.trim(), format!("{all} 0"));
    let shown = svc.docker_ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.CpusetCpus}}|{{.HostConfig.CpusetMems}}",
        "cs",
    ]);
    assert_eq!(shown.trim(), format!("{all}|0"));
    let err = svc.docker_fails(&["update", "--cpuset-cpus", "0-200", "cs"]);
    let want = format!(
        "Error response from daemon: Requested CPUs are not available - requested 0-200, \
         available: {all}"
    );
    assert!(err.contains(&want), "{err}");
    let err = svc.docker_fails(&["run", "--cpuset-cpus", "0-200", "busybox", "true"]);
    assert!(err.contains(&want), "{err}");
    let r = svc.post_json(
        "/containers/create",
        r#"{"Image":"busybox","HostConfig":{"CpusetCpus":"x"}}"#,
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json()["message"],
        "Invalid value x for cpuset cpus: invalid format: x"
    );
    svc.docker_ok(&["rm", "-f", "cs"]);
}

#[test]
fn device_cgroup_rules_through_the_docker_cli() {
    let (_s, svc) = busybox_service();
    let out = svc.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--device",
        "/dev/fuse:/dev/f:r",
        "--device-cgroup-rule",
        "c 10:229 w",
        "busybox",
        "sh",
        "-c",
        WRITE_F,
    ]);
    assert_eq!(out.trim(), "write-ok");
    // dockerd takes a rule it cannot read at create, and refuses the start.
    let r = svc.post_json("/containers/create?name=badrule", r#"{"Image":"busybox","HostConfig":{"NetworkMode":"none","DeviceCgroupRules":["c 1:3  r"]}}"#);
    assert_eq!(r.status, 201, "{}", r.body);
    let r = svc.curl(&["-X", "POST"], "/containers/badrule/start");
    assert_eq!(r.status, 500, "{}", r.body);
    assert_eq!(
        r.json()["message"],
        "invalid device cgroup rule format: 'c 1:3  r'"
    );
}

#[test]
fn runtime_isolation_and_storage_opt_through_the_api() {
    let (_s, svc) = busybox_service();
    let err = svc.docker_fails(&["run", "--rm", "--runtime", "nvidia", "busybox", "true"]);
    assert!(
        err.contains("Error response from daemon: unknown or invalid runtime name: nvidia"),
        "{err}"
    );
    let create = |host_config: &str| {
        let body = format!(r#"{{"Image":"busybox","HostConfig":{host_config}}}"#);
        svc.post_json("/containers/create", &body)
    };
    let cases = [
        (
            r#"{"Runtime":"nvidia"}"#,
            400,
            "unknown or invalid runtime name: nvidia",
        ),
        (
            r#"{"Isolation":"hyperv"}"#,
            400,
            "invalid isolation 'hyperv' on linux",
        ),
        (
            r#"{"StorageOpt":{"size":"1G"}}"#,
            500,
            "--storage-opt is supported only for overlay over xfs with 'pquota' mount option",
        ),
        (r#"{"StorageOpt":{"foo":"1"}}"#, 500, "Unknown option foo"),
    ];
    for (hc, status, message) in cases {
        let r = create(hc);
        assert_eq!(r.status, status, "{hc}: {}", r.body);
        assert_eq!(r.json()["message"], message, "{hc}");
    }
    let r = create(r#"{"Runtime":"io.containerd.runc.v2","Isolation":"default"}"#);
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["Id"].as_str().unwrap().to_string();
    let shown = svc.docker_ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.Runtime}}|{{.HostConfig.Isolation}}",
        &id,
    ]);
    assert_eq!(shown.trim(), "io.containerd.runc.v2|default");
}

#[test]
fn a_mac_address_applies_on_every_network() {
    let e = Env::new();
    e.s.ok(&["network", "create", "macnet1"]);
    e.s.ok(&["network", "create", "macnet2"]);
    let (out, _) = e.code(
        &[
            "run",
            "--rm",
            "--network",
            "macnet1",
            "--mac-address",
            "02:42:ac:11:00:0b",
            "busybox",
            "cat",
            "/sys/class/net/eth0/address",
        ],
        0,
    );
    assert_eq!(out.trim(), "02:42:ac:11:00:0b");
    let (_, err) = e.code(
        &["run", "--rm", "--mac-address", "nope", "busybox", "true"],
        125,
    );
    assert!(err.contains("nope is not a valid mac address"), "{err}");

    // Through the API: a MAC per endpoint at create, and one given at connect.
    let svc = api_support::Service::start(&e.s, &["--time", "0"]);
    let body = r#"{"Image":"busybox","Cmd":["sleep","120"],
        "HostConfig":{"NetworkMode":"macnet1"},
        "NetworkingConfig":{"EndpointsConfig":{
            "macnet1":{"MacAddress":"02:42:ac:11:00:01"},
            "macnet2":{"MacAddress":"02:42:ac:11:00:02","Aliases":["two"]}}}}"#;
    let r = svc.post_json("/containers/create?name=multi", body);
    assert_eq!(r.status, 201, "{}", r.body);
    svc.docker_ok(&["start", "multi"]);
    e.s.ok(&["network", "create", "macnet3"]);
    let connect = r#"{"Container":"multi","EndpointConfig":{"MacAddress":"02:42:ac:11:00:03"}}"#;
    let r = svc.post_json("/networks/macnet3/connect", connect);
    assert_eq!(r.status, 200, "{}", r.body);
    let macs = |name: &str| {
        let out = svc.docker_ok(&[
            "exec",
            name,
            "sh",
            "-c",
            "cat /sys/class/net/eth*/address | tr '\\n' ' '",
        ]);
        out.trim().to_string()
    };
    let want = "02:42:ac:11:00:01 02:42:ac:11:00:02 02:42:ac:11:00:03";
    assert_eq!(macs("multi"), want);
    let shown = svc.docker_ok(&[
        "inspect",
        "-f",
        "{{(index .NetworkSettings.Networks \"macnet2\").MacAddress}}",
        "multi",
    ]);
    assert_eq!(shown.trim(), "02:42:ac:11:00:02");
    // A network more that does not exist refuses the create, and leaves nothing.
    let missing = r#"{"Image":"busybox","HostConfig":{"NetworkMode":"macnet1"},
        "NetworkingConfig":{"EndpointsConfig":{"macnet1":{},"nosuchnet":{}}}}"#;
    let r = svc.post_json("/containers/create?name=lost", missing);
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(
        r.json()["message"].as_str().unwrap().contains("nosuchnet"),
        "{}",
        r.body
    );
    let r = svc.curl(&[], "/containers/lost/json");
    assert_eq!(r.status, 404, "{}", r.body);
    // Kept for the next start.
    svc.docker_ok(&["restart", "-t", "0", "multi"]);
    assert_eq!(macs("multi"), want);
    svc.docker_ok(&["rm", "-f", "multi"]);
}

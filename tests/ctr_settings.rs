//! Container settings the Engine API reference describes, acted on or refused as dockerd
//! does (root): `PidMode` (the host's or another container's pid namespace), `CpusetCpus`
//! and `CpusetMems` in the cgroup, `DeviceCgroupRules` in the device filter, `Runtime`,
//! `Isolation` and `StorageOpt` checked, a MAC address per network; through `strata run`
//! and through the docker CLI 28 against `strata system service`.

mod api_support;
mod common;
mod run_support;

use api_support::busybox_service;
use run_support::Env;

fn inspect(e: &Env, name: &str, template: &str) -> String {
    e.s.ok(&["inspect", "-f", template, name])
        .trim()
        .to_string()
}

/// A shell line printing `seen` when `/proc` inside shows the test's own process.
fn sees_pid(pid: u32) -> String {
    format!("[ -d /proc/{pid} ] && echo seen || echo unseen")
}

#[test]
fn pid_host_shares_the_hosts_processes_and_leaves_none_behind() {
    let e = Env::new();
    let me = std::process::id();
    let script = format!("{}; sleep 600 >/dev/null & echo $!", sees_pid(me));
    let (out, _) = e.code(
        &[
            "run",
            "--name",
            "hostpid",
            "--network",
            "none",
            "--pid",
            "host",
            "busybox",
            "sh",
            "-c",
            &script,
        ],
        0,
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"seen"), "{out}");
    // The background sleep's pid is the host's: it was killed with the run.
    let bg: u32 = lines[1].trim().parse().expect("a pid");
    let path = format!("/proc/{bg}");
    let gone = || !std::path::Path::new(&path).exists();
    e.eventually(10, "the background process to be gone", gone);
    assert_eq!(inspect(&e, "hostpid", "{{.HostConfig.PidMode}}"), "host");

    // Without it the container sees only its own.
    let (out, _) = e.code(
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            &sees_pid(me),
        ],
        0,
    );
    assert_eq!(out.trim(), "unseen");
    assert_eq!(inspect(&e, "hostpid", "{{.HostConfig.Runtime}}"), "runc");
}

#[test]
fn pid_container_joins_a_running_containers_namespace() {
    let e = Env::new();
    e.code(
        &[
            "run",
            "-d",
            "--name",
            "target",
            "--network",
            "none",
            "busybox",
            "sleep",
            "301",
        ],
        0,
    );
    let (out, _) = e.code(
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--pid",
            "container:target",
            "busybox",
            "ps",
            "-o",
            "args",
        ],
        0,
    );
    assert!(out.contains("sleep 301"), "{out}");
    // The target still runs: only the joiner's own processes ended with it.
    assert_eq!(inspect(&e, "target", "{{.State.Running}}"), "true");

    e.code(&["create", "--name", "stopped", "busybox", "true"], 0);
    let id = inspect(&e, "stopped", "{{.Id}}");
    let (_, err) = e.code(
        &[
            "run",
            "--network",
            "none",
            "--pid",
            "container:stopped",
            "busybox",
            "true",
        ],
        125,
    );
    let want = format!("failed to join PID namespace: container {id} is not running");
    assert!(err.contains(&want), "{err}");
    let (_, err) = e.code(&["run", "--pid", "nosuch:x", "busybox", "true"], 125);
    assert!(err.contains("--pid: invalid PID mode"), "{err}");
}

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
    let r = svc.curl(
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"Image":"busybox","HostConfig":{"PidMode":"bogus"}}"#,
        ],
        "/containers/create",
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["message"], "invalid PID mode: bogus");
}

/// `Cpus_allowed_list` and `Mems_allowed_list` of the command, as the kernel applies the
/// container's cpuset (on cgroup v1 and v2 alike).
const ALLOWED: &str =
    "grep -E '^(Cpus|Mems)_allowed_list' /proc/self/status | awk '{print $2}' | tr '\\n' ' '";

/// The CPUs the host offers containers, as strata reads them.
fn available_cpus() -> String {
    strata::container::cpuset::Available::detect().cpus
}

#[test]
fn cpuset_is_applied_at_start_and_by_update() {
    let e = Env::new();
    let (out, _) = e.code(
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--cpuset-cpus",
            "0",
            "--cpuset-mems",
            "0",
            "busybox",
            "sh",
            "-c",
            ALLOWED,
        ],
        0,
    );
    assert_eq!(out.trim(), "0 0");
    e.code(
        &[
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
        ],
        0,
    );
    assert_eq!(
        inspect(
            &e,
            "cs",
            "{{.HostConfig.CpusetCpus}}|{{.HostConfig.CpusetMems}}"
        ),
        "0|"
    );
    let all = available_cpus();
    e.code(&["update", "--cpuset-cpus", &all, "cs"], 0);
    let (out, _) = e.code(&["exec", "cs", "sh", "-c", ALLOWED], 0);
    assert_eq!(out.split_whitespace().next(), Some(all.as_str()), "{out}");
    assert_eq!(inspect(&e, "cs", "{{.HostConfig.CpusetCpus}}"), all);

    // Refused as dockerd refuses them, at create and at update.
    let unavailable =
        format!("Requested CPUs are not available - requested 0-200, available: {all}");
    let (_, err) = e.code(&["run", "--cpuset-cpus", "0-200", "busybox", "true"], 125);
    assert!(err.contains(&unavailable), "{err}");
    let (_, err) = e.code(&["update", "--cpuset-cpus", "0-200", "cs"], 1);
    assert!(err.contains(&unavailable), "{err}");
    assert!(!err.contains("Cannot update"), "{err}");
    let (_, err) = e.code(&["run", "--cpuset-mems", "0-a", "busybox", "true"], 125);
    assert!(
        err.contains("Invalid value 0-a for cpuset mems: invalid format: 0-a"),
        "{err}"
    );
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
    let r = svc.curl(
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"Image":"busybox","HostConfig":{"CpusetCpus":"x"}}"#,
        ],
        "/containers/create",
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json()["message"],
        "Invalid value x for cpuset cpus: invalid format: x"
    );
    svc.docker_ok(&["rm", "-f", "cs"]);
}

/// Opens `/dev/f` (the host's /dev/fuse, 10:229) for writing.
const WRITE_F: &str = "exec 4>/dev/f && echo write-ok";

#[test]
fn device_cgroup_rules_widen_the_device_filter() {
    let e = Env::new();
    let run = |rules: &[&str]| {
        let mut args = vec![
            "run",
            "--rm",
            "--network",
            "none",
            "--device",
            "/dev/fuse:/dev/f:r",
        ];
        for r in rules {
            args.extend(["--device-cgroup-rule", r]);
        }
        args.extend(["busybox", "sh", "-c", WRITE_F]);
        e.output(&args, b"")
    };
    // Read-only through --device; a rule granting `w` for its numbers, or for every
    // character device, lets the write through.
    let out = run(&[]);
    assert!(!out.status.success(), "wrote without the rule");
    for rule in ["c 10:229 w", "c *:* rw"] {
        let out = run(&[rule]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.trim(), "write-ok", "{rule}: {out:?}");
    }
    e.code(
        &[
            "create",
            "--name",
            "ruled",
            "--device-cgroup-rule",
            "c 1:3 r",
            "--device-cgroup-rule",
            "a *:* m",
            "busybox",
            "true",
        ],
        0,
    );
    assert_eq!(
        inspect(&e, "ruled", "{{json .HostConfig.DeviceCgroupRules}}"),
        r#"["c 1:3 r","a *:* m"]"#
    );
    let (_, err) = e.code(
        &["run", "--device-cgroup-rule", "c 1:3", "busybox", "true"],
        125,
    );
    assert!(
        err.contains(
            "invalid argument \"c 1:3\" for \"--device-cgroup-rule\" flag: invalid device \
             cgroup format 'c 1:3'"
        ),
        "{err}"
    );
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
    let r = svc.curl(
        &[
            "-X", "POST", "-H", "Content-Type: application/json", "-d",
            r#"{"Image":"busybox","HostConfig":{"NetworkMode":"none","DeviceCgroupRules":["c 1:3  r"]}}"#,
        ],
        "/containers/create?name=badrule",
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = svc.curl(&["-X", "POST"], "/containers/badrule/start");
    assert_eq!(r.status, 500, "{}", r.body);
    assert_eq!(
        r.json()["message"],
        "invalid device cgroup rule format: 'c 1:3  r'"
    );
}

#[test]
fn runtime_isolation_and_storage_opt_as_dockerd_takes_them() {
    let e = Env::new();
    e.code(
        &[
            "create",
            "--name",
            "plain",
            "--runtime",
            "runc",
            "--isolation",
            "default",
            "busybox",
            "true",
        ],
        0,
    );
    assert_eq!(
        inspect(
            &e,
            "plain",
            "{{.HostConfig.Runtime}}|{{.HostConfig.Isolation}}"
        ),
        "runc|default"
    );
    let refused: &[(&[&str], &str)] = &[
        (
            &["--runtime", "nvidia"],
            "unknown or invalid runtime name: nvidia",
        ),
        (
            &["--isolation", "hyperv"],
            "invalid isolation 'hyperv' on linux",
        ),
        (
            &["--storage-opt", "size=1G"],
            "--storage-opt is supported only for overlay over xfs with 'pquota' mount option",
        ),
        (&["--storage-opt", "size"], "invalid storage option"),
    ];
    for (flags, want) in refused {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend(["busybox", "true"]);
        let (_, err) = e.code(&args, 125);
        assert!(err.contains(want), "{flags:?}: {err}");
    }
    // Nothing was left of the refused ones.
    assert_eq!(e.container_dirs().len(), 1, "{}", e.s.listing());
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
        let args = [
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            &body,
        ];
        svc.curl(&args, "/containers/create")
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
fn group_add_volumes_from_and_link_through_strata_run() {
    let e = Env::new();
    let (out, _) = e.code(
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--group-add",
            "1000",
            "--group-add",
            "nogroup",
            "busybox",
            "id",
            "-G",
        ],
        0,
    );
    let groups: Vec<&str> = out.split_whitespace().collect();
    assert!(
        groups.contains(&"1000") && groups.contains(&"65534"),
        "{out}"
    );
    let (_, err) = e.code(
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--group-add",
            "nosuchgroup",
            "busybox",
            "true",
        ],
        125,
    );
    assert!(err.contains("nosuchgroup"), "{err}");

    e.code(
        &[
            "run",
            "--name",
            "src",
            "--network",
            "none",
            "-v",
            "/vol1",
            "busybox",
            "sh",
            "-c",
            "echo hi > /vol1/f",
        ],
        0,
    );
    let (out, _) = e.code(
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--volumes-from",
            "src:ro",
            "busybox",
            "sh",
            "-c",
            "cat /vol1/f; touch /vol1/x 2>/dev/null || echo read-only",
        ],
        0,
    );
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["hi", "read-only"]
    );
    let (_, err) = e.code(
        &["run", "--rm", "--volumes-from", "nosuch", "busybox", "true"],
        125,
    );
    assert!(err.contains("nosuch"), "{err}");

    // A legacy link on the default bridge: the alias resolves and its env is there.
    e.code(
        &[
            "run", "-d", "--name", "tgt", "-e", "FOO=1", "busybox", "sleep", "120",
        ],
        0,
    );
    let (out, _) = e.code(
        &[
            "run",
            "--rm",
            "--name",
            "lnk",
            "--link",
            "tgt:al",
            "busybox",
            "sh",
            "-c",
            "env; ping -c 1 -W 3 al >/dev/null && echo reached",
        ],
        0,
    );
    assert!(
        out.contains("AL_NAME=/lnk/al") && out.contains("AL_ENV_FOO=1"),
        "{out}"
    );
    assert!(out.contains("reached"), "{out}");
    e.code(&["stop", "-t", "0", "tgt"], 0);
    let (_, err) = e.code(&["run", "--rm", "--link", "tgt:al", "busybox", "true"], 125);
    assert!(
        err.contains("Cannot link to a non running container: /tgt AS"),
        "{err}"
    );
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
    let r = svc.curl(
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            body,
        ],
        "/containers/create?name=multi",
    );
    assert_eq!(r.status, 201, "{}", r.body);
    svc.docker_ok(&["start", "multi"]);
    e.s.ok(&["network", "create", "macnet3"]);
    let connect = r#"{"Container":"multi","EndpointConfig":{"MacAddress":"02:42:ac:11:00:03"}}"#;
    let r = svc.curl(
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            connect,
        ],
        "/networks/macnet3/connect",
    );
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
    // Kept for the next start.
    svc.docker_ok(&["restart", "-t", "0", "multi"]);
    assert_eq!(macs("multi"), want);
    svc.docker_ok(&["rm", "-f", "multi"]);
}

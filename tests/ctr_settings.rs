//! Container settings the Engine API reference describes, acted on or refused as dockerd
//! does, through `strata run` (root): `--pid` (the host's or another container's pid
//! namespace), `--cpuset-cpus`/`--cpuset-mems` in force at start and after `update`,
//! `--device-cgroup-rule` in the device filter, `--runtime`, `--isolation` and `--storage-opt`
//! checked, and `--group-add`, `--volumes-from`, `--link`. `api_ctr_settings` drives the same
//! through the docker CLI 28.

mod common;
mod ctr_settings_support;
mod run_support;

use ctr_settings_support::{available_cpus, sees_pid, ALLOWED, WRITE_F};
use run_support::Env;

fn inspect(e: &Env, name: &str, template: &str) -> String {
    e.s.ok(&["inspect", "-f", template, name])
        .trim()
        .to_string()
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

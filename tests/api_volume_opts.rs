//! The local volume driver's options (`type`, `device`, `o`) through `strata system service`
//! and the `strata` CLI: checked with dockerd's messages, shown by `volume inspect`, mounted
//! on the volume's `_data` while a container uses it and unmounted after the last one, as
//! dockerd refcounts them; a mount a killed strata left is not kept forever.

mod api_support;
mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use api_support::{busybox_service, Project, Service};
use common::Strata;
use serde_json::json;

/// The filesystem type mounted at `dir` in the host's mount table, if any.
fn host_mount(dir: &Path) -> Option<String> {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines().rev().find_map(|l| {
        let fields: Vec<&str> = l.split(' ').collect();
        let sep = fields.iter().position(|f| *f == "-")?;
        (Path::new(fields[4]) == dir).then(|| fields[sep + 1].to_string())
    })
}

fn mountpoint(inspect: &str) -> PathBuf {
    let v: serde_json::Value = serde_json::from_str(inspect).unwrap();
    PathBuf::from(v[0]["Mountpoint"].as_str().unwrap())
}

/// `volume inspect`'s `Options` of its one volume.
fn options(inspect: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(inspect).unwrap();
    v[0]["Options"].clone()
}

fn tmpfs(o: &str) -> serde_json::Value {
    json!({"type": "tmpfs", "device": "tmpfs", "o": o})
}

/// `volume create -o type=none -o o=bind -o device=DIR NAME`; the volume's mountpoint.
fn bind_volume(svc: &Service, name: &str, dir: &Path) -> PathBuf {
    let device = format!("device={}", dir.display());
    let opts = ["-o", "type=none", "-o", "o=bind", "-o", &device];
    let mut args = vec!["volume", "create"];
    args.extend_from_slice(&opts);
    args.push(name);
    svc.docker_ok(&args);
    mountpoint(&svc.docker_ok(&["volume", "inspect", name]))
}

/// `strata volume create -o type=tmpfs -o device=tmpfs EXTRA… NAME`; its `volume inspect`.
fn strata_tmpfs(s: &Strata, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs"];
    args.extend_from_slice(extra);
    args.push(name);
    s.ok(&args);
    s.ok(&["volume", "inspect", name])
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn docker_tmpfs_volume_is_shared_while_used_and_gone_after() {
    let (_s, svc) = busybox_service();
    svc.docker_ok(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "-o",
        "o=size=1m,uid=1000",
        "vo-tmp",
    ]);
    let inspect = svc.docker_ok(&["volume", "inspect", "vo-tmp"]);
    assert_eq!(options(&inspect), tmpfs("size=1m,uid=1000"));
    let data = mountpoint(&inspect);
    assert_eq!(
        host_mount(&data),
        None,
        "mounted before any container uses it"
    );

    svc.docker_ok(&[
        "run",
        "-d",
        "--name",
        "vo-a",
        "-v",
        "vo-tmp:/data",
        "busybox",
        "sh",
        "-c",
        "grep ' /data ' /proc/mounts > /data/mounts; echo from-a > /data/f; sleep 60",
    ]);
    wait_for("the first container's file", || data.join("f").exists());
    assert_eq!(host_mount(&data).as_deref(), Some("tmpfs"));
    // A second container sees the first one's tmpfs, while the first runs.
    let seen = svc.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "vo-tmp:/data",
        "busybox",
        "cat",
        "/data/f",
        "/data/mounts",
    ]);
    let mut lines = seen.lines();
    assert_eq!(lines.next(), Some("from-a"), "{seen}");
    let mounts = lines.next().unwrap_or_default();
    assert!(mounts.starts_with("tmpfs /data tmpfs "), "{seen}");
    assert!(mounts.contains("size=1024k"), "{seen}");
    assert!(mounts.contains("uid=1000"), "{seen}");
    // The second one stopping leaves the first one's mount alone.
    assert_eq!(host_mount(&data).as_deref(), Some("tmpfs"));

    // The last user stops: unmounted, and a tmpfs keeps nothing, as with dockerd.
    svc.docker_ok(&["stop", "-t", "0", "vo-a"]);
    assert_eq!(host_mount(&data), None);
    let after = svc.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "vo-tmp:/data",
        "busybox",
        "ls",
        "-A",
        "/data",
    ]);
    assert_eq!(after, "");
    svc.docker_ok(&["rm", "vo-a"]);
    svc.docker_ok(&["volume", "rm", "vo-tmp"]);
    assert!(!data.exists());
}

#[test]
fn docker_bind_volume_writes_to_the_host_dir() {
    let (s, svc) = busybox_service();
    let host = s.scratch("bound");
    std::fs::write(host.join("before"), "host\n").unwrap();
    let data = bind_volume(&svc, "vo-bind", &host);
    let out = svc.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "vo-bind:/data",
        "busybox",
        "sh",
        "-c",
        "cat /data/before; echo made-in-container > /data/made",
    ]);
    assert_eq!(out, "host\n");
    assert_eq!(
        std::fs::read_to_string(host.join("made")).unwrap(),
        "made-in-container\n"
    );
    assert_eq!(host_mount(&data), None, "still mounted after its only user");
    // Removing the volume removes its own directory, never the host's through the bind.
    svc.docker_ok(&["volume", "rm", "vo-bind"]);
    assert!(host.join("made").exists() && host.join("before").exists());

    // A new volume over a directory the image has is filled from it when the container is
    // made: mounted for that and unmounted after, as dockerd populates one.
    let filled = s.scratch("filled");
    let fill_data = bind_volume(&svc, "vo-fill", &filled);
    svc.docker_ok(&[
        "create",
        "--name",
        "vo-f",
        "-v",
        "vo-fill:/etc",
        "busybox",
        "true",
    ]);
    assert!(
        filled.join("passwd").is_file(),
        "the image's /etc was not copied in"
    );
    assert_eq!(host_mount(&fill_data), None);
    svc.docker_ok(&["rm", "vo-f"]);

    // A device that is not there: dockerd's error when the container starts.
    let missing = bind_volume(&svc, "vo-missing", Path::new("/nonexistent/vo-dir"));
    let err = svc.docker_fails(&["run", "--rm", "-v", "vo-missing:/data", "busybox", "true"]);
    let want = format!(
        "error while mounting volume '{0}': failed to mount local volume: \
         mount /nonexistent/vo-dir:{0}, flags: 0x1000: no such file or directory",
        missing.display()
    );
    assert!(err.contains(&want), "{err}");
}

#[test]
fn docker_refuses_bad_options_with_dockerds_messages() {
    let (_s, svc) = busybox_service();
    let cases: &[(&[&str], &str)] = &[
        (&["-o", "foo=bar"], "invalid option: \"foo\""),
        (&["-o", "type=tmpfs"], "missing required option: \"device\""),
        (&["-o", "device=/x"], "missing required option: \"type\""),
        (
            &["-o", "size=1g"],
            "quota size requested but no quota support",
        ),
    ];
    for (opts, want) in cases {
        let mut args = vec!["volume", "create"];
        args.extend_from_slice(opts);
        args.push("vo-bad");
        let err = svc.docker_fails(&args);
        assert!(
            err.contains(&format!("Error response from daemon: {want}")),
            "{opts:?}: {err}"
        );
    }
    // Nothing was made by the refused requests.
    assert_eq!(svc.docker_ok(&["volume", "ls", "-q"]), "");
    let r = svc.post_json(
        "/volumes/create",
        r#"{"Name":"vo-bad","DriverOpts":{"o":"size=1m"}}"#,
    );
    assert_eq!(r.status, 400, "{}", r.body);
}

#[test]
fn sdk_driver_opts() {
    let (_s, svc) = busybox_service();
    let r = svc.python_json(&format!(
        "{}{}",
        api_support::SDK_PRELUDE,
        r#"
client = docker.from_env()
v = client.volumes.create('vo-py', driver_opts={'type': 'tmpfs', 'device': 'tmpfs', 'o': 'size=2m'})
r = {'created': v.attrs['Options'], 'got': client.volumes.get('vo-py').attrs['Options']}
r['plain'] = client.volumes.create('vo-py-plain').attrs['Options']
out = client.containers.run('busybox', ['grep', ' /data ', '/proc/mounts'],
                            volumes={'vo-py': {'bind': '/data', 'mode': 'rw'}}, remove=True)
r['mounts'] = out.decode()
try:
    client.volumes.create('vo-py-bad', driver_opts={'device': 'tmpfs', 'bogus': '1'})
except docker.errors.APIError as e:
    r['bad'] = [e.status_code, e.explanation]
print(json.dumps(r))
"#
    ));
    let want = tmpfs("size=2m");
    assert_eq!(r["created"], want);
    assert_eq!(r["got"], want);
    assert_eq!(r["plain"], json!(null));
    let mounts = r["mounts"].as_str().unwrap();
    assert!(mounts.starts_with("tmpfs /data tmpfs "), "{mounts}");
    assert!(mounts.contains("size=2048k"), "{mounts}");
    assert_eq!(r["bad"], json!([400, "invalid option: \"bogus\""]));
}

#[test]
fn compose_driver_opts() {
    let (s, svc) = busybox_service();
    let dir = s.scratch("project");
    std::fs::write(
        dir.join("docker-compose.yml"),
        "version: \"3.7\"\n\
         services:\n  app:\n    image: busybox\n    command: sh -c \"grep ' /data ' /proc/mounts\"\n    \
         volumes: [\"scratch:/data\"]\n\
         volumes:\n  scratch:\n    driver_opts: {type: tmpfs, device: tmpfs, o: \"size=3m\"}\n",
    )
    .unwrap();
    let p = Project {
        svc: &svc,
        dir,
        name: format!("voc{}", std::process::id()),
    };
    p.ok(&["up", "-d"]);
    let vol = format!("{}_scratch", p.name);
    let inspect = svc.docker_ok(&["volume", "inspect", &vol]);
    assert_eq!(options(&inspect), tmpfs("size=3m"));
    let mut logs = String::new();
    wait_for("the service's output", || {
        logs = p.ok(&["logs", "--no-color", "app"]);
        logs.contains("/data")
    });
    assert!(
        logs.contains("tmpfs /data tmpfs ") && logs.contains("size=3072k"),
        "{logs}"
    );
    p.ok(&["down", "-v"]);
}

#[test]
fn cli_volume_create_opt() {
    let s = Strata::new();
    s.import_busybox("busybox");
    let inspect = strata_tmpfs(&s, "vo-cli", &["--opt", "o=size=1m"]);
    assert_eq!(options(&inspect), tmpfs("size=1m"));
    let out = s.ok(&[
        "run",
        "--rm",
        "-v",
        "vo-cli:/data",
        "busybox",
        "grep",
        " /data ",
        "/proc/mounts",
    ]);
    assert!(
        out.starts_with("tmpfs /data tmpfs ") && out.contains("size=1024k"),
        "{out}"
    );
    assert_eq!(host_mount(&mountpoint(&inspect)), None);
    let err = s.fails(&["volume", "create", "-o", "bogus=1", "vo-cli-bad"]);
    assert!(err.contains("invalid option: \"bogus\""), "{err}");
}

/// A foreground `strata run` killed with SIGKILL leaves its tmpfs mounted: the next user
/// gets a fresh one (the stale mount counts for nobody), and `rm` then `volume rm` leave
/// nothing mounted.
#[test]
fn a_killed_strata_leaves_no_mount_forever() {
    let s = Strata::new();
    s.import_busybox("busybox");
    let data = mountpoint(&strata_tmpfs(&s, "vo-kill", &[]));
    // A foreground run writing to the volume, SIGKILLed once it has.
    let run_killed = |name: &str| {
        let mut child = s
            .command(&["run", "--name", name, "-v", "vo-kill:/data", "busybox"])
            .args(["sh", "-c", "echo stale > /data/f; sleep 60"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for("the container's file", || data.join("f").exists());
        child.kill().unwrap();
        child.wait().unwrap();
    };
    run_killed("vo-k");
    assert_eq!(
        host_mount(&data).as_deref(),
        Some("tmpfs"),
        "the stale mount"
    );

    let out = s.ok(&[
        "run",
        "--rm",
        "-v",
        "vo-kill:/data",
        "busybox",
        "ls",
        "-A",
        "/data",
    ]);
    assert_eq!(out, "", "the stale tmpfs was reused");
    assert_eq!(host_mount(&data), None);

    // Again, now left for `rm` and `volume rm` to find.
    run_killed("vo-k2");
    assert_eq!(host_mount(&data).as_deref(), Some("tmpfs"));
    s.ok(&["rm", "vo-k", "vo-k2"]);
    s.ok(&["volume", "rm", "vo-kill"]);
    assert_eq!(host_mount(&data), None);
    assert!(!data.exists());
}

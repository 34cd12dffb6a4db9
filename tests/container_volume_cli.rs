//! Volumes, commit, cp and export end to end through `strata run` with the busybox base.

mod common;

use std::fs;

use common::{tool, Strata};

fn bench() -> Strata {
    let s = Strata::new();
    s.import_busybox("busybox");
    s
}

/// `strata run --network none ARGS…`; returns stdout.
fn run(s: &Strata, args: &[&str]) -> String {
    let mut all = vec!["run", "--network", "none"];
    all.extend_from_slice(args);
    s.ok(&all)
}

/// Runs and expects failure with `code`; returns stderr.
fn run_fails(s: &Strata, args: &[&str], code: i32) -> String {
    let mut all = vec!["run", "--network", "none"];
    all.extend_from_slice(args);
    let out = s.run_cmd(s.command(&all));
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        s.report("run", &all, &out)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_named_volume_keeps_data_across_two_containers() {
    let s = bench();
    for _ in 0..2 {
        run(
            &s,
            &[
                "--rm",
                "-v",
                "data:/d",
                "busybox",
                "sh",
                "-c",
                "echo 1 >> /d/n",
            ],
        );
    }
    let out = run(&s, &["--rm", "-v", "data:/d", "busybox", "cat", "/d/n"]);
    assert_eq!(out, "1\n1\n");
    // In use by an existing container: refused until that container is removed.
    run(
        &s,
        &["--name", "holder", "-v", "data:/d", "busybox", "true"],
    );
    let err = s.fails(&["volume", "rm", "data"]);
    assert!(err.contains("in use"), "{err}");
    s.ok(&["rm", "holder"]);
    assert_eq!(s.ok(&["volume", "rm", "data"]).trim(), "data");
    let err = s.fails(&["volume", "rm", "data"]);
    assert!(err.contains("no such volume"), "{err}");
}

#[test]
fn a_volume_over_an_image_path_starts_with_the_image_files() {
    let s = bench();
    let out = run(
        &s,
        &["--rm", "-v", "etc:/etc", "busybox", "sh", "-c", "ls /etc"],
    );
    assert_eq!(out, "group\npasswd\n");
    let vol = s.ok(&["volume", "inspect", "etc"]);
    let v: serde_json::Value = serde_json::from_str(&vol).unwrap();
    let mp = std::path::PathBuf::from(v[0]["Mountpoint"].as_str().unwrap());
    assert!(fs::read_to_string(mp.join("passwd"))
        .unwrap()
        .starts_with("root:"));
    // An anonymous volume (`-v /path`) goes with `rm -v`.
    run(&s, &["--name", "anon", "-v", "/root", "busybox", "true"]);
    assert_eq!(s.ok(&["volume", "ls", "-q"]).lines().count(), 2);
    s.ok(&["rm", "-v", "anon"]);
    assert_eq!(s.ok(&["volume", "ls", "-q"]).trim(), "etc");
}

#[test]
fn bad_mounts_are_refused_with_nothing_created() {
    let s = bench();
    for bad in ["bad!name:/d", "data:relative", "a:b:c:d", "data:/d:bogus"] {
        let err = run_fails(&s, &["-v", bad, "busybox", "true"], 125);
        assert!(err.contains("invalid mount spec"), "{bad}: {err}");
    }
    let err = run_fails(&s, &["-v", "/no/such/dir:/d", "busybox", "true"], 125);
    assert!(err.contains("does not exist"), "{err}");
    assert_eq!(s.ok(&["ps", "-a", "-q"]).trim(), "");
    assert_eq!(s.ok(&["volume", "ls", "-q"]).trim(), "");
}

#[test]
fn bind_mounts_and_tmpfs() {
    let s = bench();
    let host = s.scratch("bind");
    fs::write(host.join("in"), "host data\n").unwrap();
    let spec = format!("{}:/b", host.display());
    let out = run(
        &s,
        &[
            "--rm",
            "-v",
            &spec,
            "busybox",
            "sh",
            "-c",
            "cat /b/in; echo out > /b/out",
        ],
    );
    assert_eq!(out, "host data\n");
    assert_eq!(fs::read_to_string(host.join("out")).unwrap(), "out\n");
    let out = run(
        &s,
        &[
            "--rm",
            "--mount",
            "type=tmpfs,target=/t",
            "busybox",
            "sh",
            "-c",
            "grep ' /t ' /proc/mounts | cut -d' ' -f3",
        ],
    );
    assert_eq!(out.trim(), "tmpfs");
}

#[test]
fn commit_cp_and_export_of_a_run_container() {
    let s = bench();
    run(
        &s,
        &[
            "--name",
            "work",
            "busybox",
            "sh",
            "-c",
            "echo hi > /added && rm /etc/group",
        ],
    );
    let id = s.ok(&["commit", "work", "work:snap"]);
    assert!(id.trim().starts_with("sha256:"));
    let out = run(
        &s,
        &[
            "--rm",
            "work:snap",
            "sh",
            "-c",
            "cat /added; test -e /etc/group || echo gone",
        ],
    );
    assert_eq!(out, "hi\ngone\n");
    // The layer holds the changes, not the mountpoints the sandbox made (/etc/hosts, /proc…).
    let store = strata::store::Store::open(&s.root).unwrap();
    let img = store.resolve("work:snap").unwrap();
    let blob =
        store.blob_path(&strata::store::digest_of(img.layers().last().unwrap().digest()).unwrap());
    let listing = tool("tar", &["-tzf", blob.to_str().unwrap()]);
    let mut names: Vec<&str> = listing.lines().collect();
    names.sort();
    assert_eq!(names, ["added", "etc/", "etc/.wh.group"]);
    let cfg: serde_json::Value = serde_json::from_str(&s.ok(&["inspect", "work:snap"])).unwrap();
    let cfg = if cfg.is_array() { cfg[0].clone() } else { cfg };
    // As dockerd's commit: the container's command, not the image's.
    assert_eq!(
        cfg["Config"]["Cmd"],
        serde_json::json!(["sh", "-c", "echo hi > /added && rm /etc/group"])
    );

    let host = s.scratch("host");
    s.ok(&["cp", "work:/added", host.to_str().unwrap()]);
    assert_eq!(fs::read_to_string(host.join("added")).unwrap(), "hi\n");
    fs::create_dir_all(host.join("tree/sub")).unwrap();
    fs::write(host.join("tree/sub/f"), "f\n").unwrap();
    s.ok(&["cp", host.join("tree").to_str().unwrap(), "work:/tree"]);
    let tar = host.join("work.tar");
    s.ok(&["export", "-o", tar.to_str().unwrap(), "work"]);
    let listing = tool("tar", &["-tf", tar.to_str().unwrap()]);
    let names: Vec<&str> = listing.lines().collect();
    for want in ["added", "tree/sub/f", "bin/busybox", "etc/passwd"] {
        assert!(names.contains(&want), "{want} missing");
    }
    assert!(!names.contains(&"etc/group"));
    // The copied tree is in the container when it starts again.
    s.ok(&["start", "work"]);
    s.ok(&["wait", "work"]);
    s.ok(&["commit", "work", "work:snap2"]);
    let out = run(&s, &["--rm", "work:snap2", "cat", "/tree/sub/f"]);
    assert_eq!(out, "f\n");
}

#[test]
fn image_volumes_get_anonymous_volumes() {
    let s = bench();
    run(
        &s,
        &[
            "--name",
            "base",
            "busybox",
            "sh",
            "-c",
            "mkdir /data && echo seed > /data/s",
        ],
    );
    s.ok(&["commit", "-c", "VOLUME /data", "base", "withvol"]);
    let out = run(
        &s,
        &[
            "--name",
            "user",
            "withvol",
            "sh",
            "-c",
            "cat /data/s; echo more > /data/m",
        ],
    );
    assert_eq!(out, "seed\n");
    let names = s.ok(&["volume", "ls", "-q"]);
    assert_eq!(names.lines().count(), 1, "{names}");
    let v: serde_json::Value =
        serde_json::from_str(&s.ok(&["volume", "inspect", names.trim()])).unwrap();
    let mp = std::path::PathBuf::from(v[0]["Mountpoint"].as_str().unwrap());
    assert_eq!(fs::read_to_string(mp.join("s")).unwrap(), "seed\n");
    assert_eq!(fs::read_to_string(mp.join("m")).unwrap(), "more\n");
    // What went to the volume is not in a commit of the container.
    s.ok(&["commit", "user", "user:snap"]);
    let out = run(
        &s,
        &[
            "--rm",
            "-v",
            "fresh:/other",
            "user:snap",
            "sh",
            "-c",
            "ls /data",
        ],
    );
    assert_eq!(
        out, "s\n",
        "the image's /data again, in a new anonymous volume"
    );
    s.ok(&["rm", "-v", "user"]);
    assert_eq!(s.ok(&["volume", "ls", "-q"]).trim(), "fresh");
}

#[test]
fn cp_to_a_stopped_container_goes_through_its_volumes_and_binds() {
    let s = bench();
    let bind = s.scratch("bind");
    let spec = format!("{}:/b", bind.display());
    run(
        &s,
        &[
            "--name",
            "vc",
            "-v",
            "vdata:/d",
            "-v",
            &spec,
            "busybox",
            "sh",
            "-c",
            "echo in-vol > /d/old",
        ],
    );
    let host = s.scratch("host");
    fs::write(host.join("f"), "f\n").unwrap();
    let f = host.join("f").display().to_string();
    s.ok(&["cp", &f, "vc:/d/new"]);
    s.ok(&["cp", &f, "vc:/b/"]);
    s.ok(&["cp", &f, "vc:/elsewhere"]);
    // A bound file is written where it lives too.
    let bound = s.scratch("boundfile").join("conf");
    fs::write(&bound, "old\n").unwrap();
    let file_spec = format!("{}:/etc/conf", bound.display());
    run(&s, &["--name", "fb", "-v", &file_spec, "busybox", "true"]);
    s.ok(&["cp", &f, "fb:/etc/conf"]);
    assert_eq!(fs::read_to_string(&bound).unwrap(), "f\n");
    assert_eq!(fs::read_to_string(bind.join("f")).unwrap(), "f\n");
    s.ok(&["cp", "vc:/d", host.join("out").to_str().unwrap()]);
    assert_eq!(
        fs::read_to_string(host.join("out/old")).unwrap(),
        "in-vol\n"
    );
    assert_eq!(fs::read_to_string(host.join("out/new")).unwrap(), "f\n");
    // The next container on the volume sees the copied file; the layer has the other one.
    let out = run(&s, &["--rm", "-v", "vdata:/d", "busybox", "cat", "/d/new"]);
    assert_eq!(out, "f\n");
    s.ok(&["start", "vc"]);
    s.ok(&["wait", "vc"]);
    s.ok(&["commit", "vc", "vc:snap"]);
    let out = run(
        &s,
        &[
            "--rm",
            "vc:snap",
            "sh",
            "-c",
            "cat /elsewhere; ls /d | wc -l",
        ],
    );
    assert_eq!(out, "f\n0\n", "the volume's files are not in the commit");
}

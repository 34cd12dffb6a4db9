//! `strata commit`, `export`, `cp` and `volume` through the binary, on a stopped container
//! whose record is made with the library over the busybox image and whose changes are written
//! into its upperdir as overlayfs leaves them (a whiteout is a 0/0 character device).

mod common;

use std::fs;
use std::path::PathBuf;

use common::{tool, Strata};
use strata::container::store::new_id;
use strata::container::{Container, Containers, LayerRef, RunConfig, State};
use strata::store::Store;

/// A store with busybox and one stopped container `box1`; returns it and its upperdir.
fn setup() -> (Strata, Container, PathBuf) {
    let s = Strata::new();
    s.import_busybox("busybox");
    let store = Store::open(&s.root).unwrap();
    let img = store.resolve("busybox").unwrap();
    let diff_ids = img.config.diff_ids().unwrap();
    let layers = img
        .layers()
        .iter()
        .zip(diff_ids)
        .map(|(l, diff_id)| LayerRef {
            digest: strata::store::digest_of(l.digest()).unwrap(),
            diff_id,
        })
        .collect();
    let id = new_id();
    let c = Container {
        schema: strata::container::record::SCHEMA,
        id: id.clone(),
        name: "box1".into(),
        image: "busybox".into(),
        image_id: img.id,
        manifest_digest: img.manifest_digest,
        layers,
        created: "2026-01-01T00:00:00Z".into(),
        config: RunConfig {
            argv: vec!["sh".into(), "-c".into(), "edit".into()],
            hostname: id[..12].into(),
            ..Default::default()
        },
        state: State::default(),
    };
    let cs = Containers::new(&s.root);
    cs.create(&c).unwrap();
    let upper = cs.upperdir(&id);
    fs::create_dir_all(upper.join("etc")).unwrap();
    fs::write(upper.join("added"), "new file\n").unwrap();
    nix::sys::stat::mknod(
        &upper.join("etc/group"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::empty(),
        0,
    )
    .unwrap();
    (s, c, upper)
}

#[test]
fn commit_by_name_and_prefix_makes_an_image_of_the_changes() {
    let (s, c, _upper) = setup();
    let id = s.ok(&["commit", "-m", "msg", "box1", "committed:v1"]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    let meta = s.ok(&["inspect", "committed:v1"]);
    let v: serde_json::Value = serde_json::from_str(&meta).unwrap();
    let v = if v.is_array() { v[0].clone() } else { v };
    // As dockerd's commit: the container's command, not the image's.
    assert_eq!(
        v["Config"]["Cmd"],
        serde_json::json!(["sh", "-c", "edit"]),
        "{meta}"
    );
    // The new top layer holds exactly the changes.
    let out = s.scratch("oci");
    let layout = format!("oci:{}:committed:v1", out.join("img").display());
    tool(
        "skopeo",
        &[
            "copy",
            &format!(
                "oci:{}/oci:docker.io/library/committed:v1",
                s.root.display()
            ),
            &layout,
        ],
    );
    let bundle = out.join("bundle");
    tool(
        "umoci",
        &[
            "raw",
            "unpack",
            "--rootless",
            "--image",
            &format!("{}:committed:v1", out.join("img").display()),
            bundle.to_str().unwrap(),
        ],
    );
    assert_eq!(
        fs::read_to_string(bundle.join("added")).unwrap(),
        "new file\n"
    );
    assert!(!bundle.join("etc/group").exists(), "whiteout not applied");
    assert!(bundle.join("etc/passwd").exists());
    // By ID prefix too; an unknown container is a clear error.
    s.ok(&["commit", &c.id[..8]]);
    let err = s.fails(&["commit", "nosuchbox"]);
    assert!(err.contains("No such container: nosuchbox"), "{err}");
}

#[test]
fn export_lists_the_whole_filesystem() {
    let (s, _c, _upper) = setup();
    let out = s.scratch("out").join("fs.tar");
    s.ok(&["export", "box1", "-o", out.to_str().unwrap()]);
    let listing = tool("tar", &["-tf", out.to_str().unwrap()]);
    let names: Vec<&str> = listing.lines().collect();
    for want in ["bin/busybox", "etc/passwd", "added", "tmp/"] {
        assert!(names.contains(&want), "{want} missing: {names:?}");
    }
    assert!(!names.contains(&"etc/group"));
    let err = s.fails(&["export", "nosuchbox", "-o", out.to_str().unwrap()]);
    assert!(err.contains("No such container"), "{err}");
}

#[test]
fn cp_both_ways() {
    let (s, c, upper) = setup();
    let host = s.scratch("host");
    fs::write(host.join("f.txt"), "from host\n").unwrap();
    fs::create_dir_all(host.join("dir/sub")).unwrap();
    fs::write(host.join("dir/sub/x"), "x\n").unwrap();
    let h = |p: &str| host.join(p).display().to_string();
    // In: a file into a directory, a directory to a new path, contents with `/.`.
    s.ok(&["cp", &h("f.txt"), "box1:/etc/"]);
    assert_eq!(
        fs::read_to_string(upper.join("etc/f.txt")).unwrap(),
        "from host\n"
    );
    s.ok(&["cp", &h("dir"), &format!("{}:/data", &c.id[..10])]);
    assert!(upper.join("data/sub/x").is_file());
    s.ok(&["cp", &format!("{}/.", h("dir")), "box1:/tmp"]);
    assert!(upper.join("tmp/sub/x").is_file());
    // Out: a file, a directory, and its contents.
    s.ok(&["cp", "box1:/etc/passwd", &h("passwd.out")]);
    assert!(fs::read_to_string(host.join("passwd.out"))
        .unwrap()
        .starts_with("root:"));
    s.ok(&["cp", "box1:/data", &h("out")]);
    assert_eq!(fs::read_to_string(host.join("out/sub/x")).unwrap(), "x\n");
    s.ok(&["cp", "box1:/etc", &h("")]);
    assert!(host.join("etc/f.txt").is_file());
    assert!(!host.join("etc/group").exists());
    // Never outside the container: `..` stops at its root.
    s.ok(&["cp", "box1:/../../../added", &h("added")]);
    assert_eq!(
        fs::read_to_string(host.join("added")).unwrap(),
        "new file\n"
    );
    s.ok(&["cp", &h("f.txt"), "box1:/../../escaped"]);
    assert!(upper.join("escaped").is_file());
    // Errors.
    let err = s.fails(&["cp", "box1:/nope", &h("x")]);
    assert!(err.contains("could not find"), "{err}");
    let err = s.fails(&["cp", &h("dir"), "box1:/added"]);
    assert!(err.contains("cannot copy a directory to a file"), "{err}");
    let err = s.fails(&["cp", &h("f.txt"), &h("g")]);
    assert!(err.contains("at least one container"), "{err}");
}

#[test]
fn volume_commands() {
    let s = Strata::new();
    assert_eq!(s.ok(&["volume", "create", "data"]).trim(), "data");
    let anon = s.ok(&["volume", "create"]);
    assert_eq!(anon.trim().len(), 64);
    let ls = s.ok(&["volume", "ls", "-q"]);
    assert_eq!(ls.lines().count(), 2, "{ls}");
    assert!(ls.lines().any(|l| l == "data"));
    let v: serde_json::Value = serde_json::from_str(&s.ok(&["volume", "inspect", "data"])).unwrap();
    assert_eq!(v[0]["Name"], "data");
    assert!(PathBuf::from(v[0]["Mountpoint"].as_str().unwrap()).is_dir());
    assert_eq!(s.ok(&["volume", "rm", "data"]).trim(), "data");
    let err = s.fails(&["volume", "rm", "data"]);
    assert!(err.contains("no such volume: data"), "{err}");
    let err = s.fails(&["volume", "create", "bad/name"]);
    assert!(err.contains("invalid volume name"), "{err}");
}

#[test]
fn cp_with_a_tar_stream() {
    let (s, _c, upper) = setup();
    let host = s.scratch("host");
    // Out: the directory under its own name, whited-out files left out.
    let out = s.run_cmd(s.command(&["cp", "box1:/etc", "-"]));
    s.expect(&out, true, &["cp", "box1:/etc", "-"]);
    let tar = host.join("etc.tar");
    fs::write(&tar, &out.stdout).unwrap();
    let listing = tool("tar", &["-tf", tar.to_str().unwrap()]);
    let names: Vec<&str> = listing.lines().collect();
    assert_eq!(names, ["etc/", "etc/passwd"], "{listing}");
    // In: unpacked into an existing directory.
    fs::create_dir_all(host.join("src/x")).unwrap();
    fs::write(host.join("src/x/y"), "y\n").unwrap();
    let input = host.join("in.tar");
    tool(
        "tar",
        &[
            "-cf",
            input.to_str().unwrap(),
            "-C",
            host.join("src").to_str().unwrap(),
            "x",
        ],
    );
    let mut cmd = s.command(&["cp", "-", "box1:/tmp"]);
    cmd.stdin(fs::File::open(&input).unwrap());
    let out = s.run_cmd(cmd);
    s.expect(&out, true, &["cp", "-", "box1:/tmp"]);
    assert_eq!(fs::read_to_string(upper.join("tmp/x/y")).unwrap(), "y\n");
    let mut cmd = s.command(&["cp", "-", "box1:/added"]);
    cmd.stdin(fs::File::open(&input).unwrap());
    let out = s.run_cmd(cmd);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be a directory"));
}

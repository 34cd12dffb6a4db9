//! load/save round trips judged by tools strata did not write: skopeo reads what strata saves
//! and the store itself, umoci unpacks strata's oci-archive to the same tree, and archives
//! skopeo writes load back into strata.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;

use common::{tool, Strata};
use serde_json::Value;

/// Everything observable about a tree: per path its kind, mode, owner, size, content or link
/// target, and file mtime; plus which paths are hardlinked together.
fn describe(root: &Path) -> (BTreeMap<String, String>, BTreeSet<Vec<String>>) {
    let mut out = BTreeMap::new();
    let mut inodes: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for e in walkdir::WalkDir::new(root).min_depth(1) {
        let e = e.unwrap();
        let rel = e
            .path()
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let md = fs::symlink_metadata(e.path()).unwrap();
        let ft = md.file_type();
        let what = if ft.is_symlink() {
            format!("link -> {}", fs::read_link(e.path()).unwrap().display())
        } else if ft.is_dir() {
            "dir".to_string()
        } else {
            let data = fs::read(e.path()).unwrap();
            format!(
                "file {} bytes {} mtime {}",
                data.len(),
                strata::digest::Digest::of(&data).short(),
                md.mtime()
            )
        };
        let mode = if ft.is_symlink() {
            0
        } else {
            md.mode() & 0o7777
        };
        out.insert(
            rel.clone(),
            format!("{what} mode {mode:o} owner {}:{}", md.uid(), md.gid()),
        );
        if ft.is_file() && md.nlink() > 1 {
            inodes.entry(md.ino()).or_default().push(rel);
        }
    }
    let links = inodes
        .into_values()
        .map(|mut v| {
            v.sort();
            v
        })
        .collect();
    (out, links)
}

fn set_mtime(p: &Path, secs: i64) {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64);
    fs::File::options()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

fn chown(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).unwrap();
}

/// A tree exercising modes, owners, symlinks, hardlinks, long and non-ASCII names.
fn rich_tree(root: &Path) {
    let mk = |rel: &str, data: &[u8], mode: u32| {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, data).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        set_mtime(&p, 1_600_000_000);
        p
    };
    mk("bin/tool", b"#!/bin/sh\necho tool\n", 0o755);
    mk("etc/secret", b"s3cret", 0o600);
    let suid = mk("usr/bin/suid", b"setuid", 0o755);
    fs::set_permissions(&suid, fs::Permissions::from_mode(0o4755)).unwrap();
    mk("empty", b"", 0o644);
    let owned = mk("home/user/notes.txt", b"notes\n", 0o640);
    chown(&owned, 1000, 1000);
    chown(&root.join("home/user"), 1000, 1000);
    let nobody = mk("var/nobody", b"n", 0o644);
    chown(&nobody, 65534, 65534);
    mk("data/big.bin", &vec![0xa5u8; 300_000], 0o644);
    let long_dir = "d".repeat(120);
    mk(
        &format!("{long_dir}/{}", "f".repeat(200)),
        b"long path",
        0o644,
    );
    mk("unicode/héllo wörld.txt", "ünïcode\n".as_bytes(), 0o644);
    mk("unicode/日本語/ファイル", "日本\n".as_bytes(), 0o644);
    let hl = mk("links/original", b"shared content", 0o644);
    fs::hard_link(&hl, root.join("links/hardlink")).unwrap();
    fs::hard_link(&hl, root.join("bin/hardlink2")).unwrap();
    symlink("original", root.join("links/relative")).unwrap();
    symlink("/etc/secret", root.join("links/absolute")).unwrap();
    symlink("../nowhere", root.join("links/dangling")).unwrap();
    chown(&root.join("links/relative"), 1000, 1000);
    fs::create_dir_all(root.join("tmp")).unwrap();
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::create_dir_all(root.join("private")).unwrap();
    fs::set_permissions(root.join("private"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::create_dir_all(root.join("sgid")).unwrap();
    fs::set_permissions(root.join("sgid"), fs::Permissions::from_mode(0o2775)).unwrap();
}

fn inspect(s: &Strata, r: &str) -> Value {
    let v: Value = serde_json::from_str(&s.ok(&["inspect", r])).unwrap();
    v[0].clone()
}

#[test]
fn oci_archive_is_read_by_skopeo_and_unpacked_by_umoci_to_the_same_tree() {
    let s = Strata::new();
    let src = s.scratch("src");
    rich_tree(&src);
    let id = s
        .ok(&["import", src.to_str().unwrap(), "rich:1"])
        .trim()
        .to_string();

    // The same tree as a gzip tarball made by GNU tar imports to the same layer.
    let tgz = s.scratch("in").join("rich.tar.gz");
    tool(
        "tar",
        &[
            "-C",
            src.to_str().unwrap(),
            "--numeric-owner",
            "-czf",
            tgz.to_str().unwrap(),
            ".",
        ],
    );
    s.ok(&["import", tgz.to_str().unwrap(), "rich:tarball"]);
    assert_eq!(
        inspect(&s, "rich:1")["RootFS"]["Layers"],
        inspect(&s, "rich:tarball")["RootFS"]["Layers"],
        "a tarball and the directory it was made from import to different layers"
    );

    let out = s.scratch("out");
    let archive = out.join("rich-oci.tar");
    s.ok(&[
        "save",
        "--format",
        "oci",
        "-o",
        archive.to_str().unwrap(),
        "rich:1",
    ]);

    let skopeo: Value = serde_json::from_str(&tool(
        "skopeo",
        &["inspect", &format!("oci-archive:{}", archive.display())],
    ))
    .unwrap();
    assert_eq!(
        skopeo["Digest"],
        inspect(&s, "rich:1")["Descriptor"]["digest"]
    );
    assert_eq!(skopeo["Layers"].as_array().unwrap().len(), 1);
    let cfg: Value = serde_json::from_str(&tool(
        "skopeo",
        &[
            "inspect",
            "--config",
            &format!("oci-archive:{}", archive.display()),
        ],
    ))
    .unwrap();
    assert_eq!(
        cfg["rootfs"]["diff_ids"],
        inspect(&s, &id)["RootFS"]["Layers"]
    );

    let layout = out.join("layout");
    fs::create_dir_all(&layout).unwrap();
    tool(
        "tar",
        &[
            "-C",
            layout.to_str().unwrap(),
            "-xf",
            archive.to_str().unwrap(),
        ],
    );
    let bundle = out.join("bundle");
    tool(
        "umoci",
        &[
            "unpack",
            "--image",
            &format!("{}:docker.io/library/rich:1", layout.display()),
            bundle.to_str().unwrap(),
        ],
    );
    let (want, want_links) = describe(&src);
    let (got, got_links) = describe(&bundle.join("rootfs"));
    for (path, w) in &want {
        assert_eq!(got.get(path), Some(w), "{path}");
    }
    assert_eq!(got.len(), want.len(), "extra paths: {:?}", {
        got.keys()
            .filter(|k| !want.contains_key(*k))
            .collect::<Vec<_>>()
    });
    assert_eq!(got_links, want_links);
    assert_eq!(want_links.len(), 1);
    assert_eq!(want_links.iter().next().unwrap().len(), 3);
}

#[test]
fn docker_archive_passes_skopeo_and_round_trips_through_a_second_store() {
    let s = Strata::new();
    let id = s.import_busybox("busybox");
    s.ok(&["tag", "busybox", "localhost:5000/team/bb:v2"]);
    let archive = s.scratch("out").join("bb-docker.tar");
    s.ok(&[
        "save",
        "-o",
        archive.to_str().unwrap(),
        "busybox",
        "localhost:5000/team/bb:v2",
    ]);

    let listing = tool("tar", &["-tf", archive.to_str().unwrap()]);
    let names: Vec<&str> = listing.lines().collect();
    assert!(names.contains(&"manifest.json"), "{listing}");
    assert!(names.contains(&"repositories"), "{listing}");
    assert!(
        names.contains(&format!("{}.json", &id[7..]).as_str()),
        "{listing}"
    );

    let v: Value = serde_json::from_str(&tool(
        "skopeo",
        &["inspect", &format!("docker-archive:{}", archive.display())],
    ))
    .unwrap();
    assert_eq!(v["Os"], "linux");
    assert_eq!(v["Layers"].as_array().unwrap().len(), 1);
    let diff = inspect(&s, "busybox")["RootFS"]["Layers"][0].clone();
    // A docker-archive holds uncompressed layers, so the layer digest is the diff ID.
    assert_eq!(v["Layers"][0], diff);

    let t = Strata::new();
    let out = t.ok(&["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(
        out,
        "Loaded image: busybox:latest\nLoaded image: localhost:5000/team/bb:v2\n"
    );
    let a = inspect(&s, "busybox");
    let b = inspect(&t, "busybox");
    for k in [
        "Id",
        "RepoTags",
        "Created",
        "Config",
        "RootFS",
        "Architecture",
        "Os",
    ] {
        assert_eq!(a[k], b[k], "{k}");
    }
    // Loading it again changes nothing.
    let before = fs::read(t.root.join("oci/index.json")).unwrap();
    t.ok(&["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(fs::read(t.root.join("oci/index.json")).unwrap(), before);
}

#[test]
fn archives_written_by_skopeo_load_and_inspect_the_same() {
    let s = Strata::new();
    s.import_busybox("busybox");
    let ours = inspect(&s, "busybox");
    let src = format!(
        "oci:{}:docker.io/library/busybox:latest",
        s.root.join("oci").display()
    );
    let out = s.scratch("out");
    let d = out.join("skopeo-docker.tar");
    let o = out.join("skopeo-oci.tar");
    tool(
        "skopeo",
        &[
            "copy",
            "-q",
            &src,
            &format!("docker-archive:{}:busybox:latest", d.display()),
        ],
    );
    tool(
        "skopeo",
        &[
            "copy",
            "-q",
            &src,
            &format!(
                "oci-archive:{}:docker.io/library/busybox:latest",
                o.display()
            ),
        ],
    );

    for archive in [&d, &o] {
        let t = Strata::new();
        let printed = t.ok(&["load", "-i", archive.to_str().unwrap()]);
        assert_eq!(
            printed,
            "Loaded image: busybox:latest\n",
            "{}",
            archive.display()
        );
        let theirs = inspect(&t, "busybox");
        for k in ["Id", "RepoTags", "Created", "Config", "RootFS", "Os"] {
            assert_eq!(ours[k], theirs[k], "{k} of {}", archive.display());
        }
    }
    // Piped on stdin, gzip-compressed: docker load accepts that too.
    let gz = out.join("skopeo-docker.tar.gz");
    tool(
        "sh",
        &["-c", &format!("gzip -c {} > {}", d.display(), gz.display())],
    );
    let t = Strata::new();
    let mut c = t.command(&["load"]);
    c.stdin(fs::File::open(&gz).unwrap());
    let res = t.run_cmd(c);
    t.expect(&res, true, &["load", "<", gz.to_str().unwrap()]);
    assert_eq!(
        String::from_utf8_lossy(&res.stdout),
        "Loaded image: busybox:latest\n"
    );
}

#[test]
fn corrupt_archives_are_refused_and_leave_the_store_untouched() {
    let s = Strata::new();
    s.import_busybox("busybox");
    let archive = s.scratch("out").join("bb.tar");
    s.ok(&[
        "save",
        "--format",
        "oci",
        "-o",
        archive.to_str().unwrap(),
        "busybox",
    ]);
    // Flip one byte near the end of the layer blob (the largest entry).
    let mut bytes = fs::read(&archive).unwrap();
    let layer = bytes.len() / 2;
    bytes[layer] ^= 0xff;
    let bad = s.scratch("out").join("bad.tar");
    fs::write(&bad, &bytes).unwrap();

    let t = Strata::new();
    t.ok(&["images"]);
    let err = t.fails(&["load", "-i", bad.to_str().unwrap()]);
    assert!(err.contains("does not match its digest"), "{err}");
    assert!(err.contains("blobs/sha256/"), "{err}");
    assert_eq!(t.ok(&["images", "-q"]), "");
    let blobs = fs::read_dir(t.root.join("oci/blobs/sha256"))
        .unwrap()
        .count();
    assert_eq!(blobs, 0, "{}", t.listing());

    let err = t.fails(&["load", "-i", "/nonexistent.tar"]);
    assert!(err.contains("/nonexistent.tar"), "{err}");
    let not_archive = s.scratch("out").join("empty.tar");
    tool(
        "tar",
        &["-cf", not_archive.to_str().unwrap(), "-T", "/dev/null"],
    );
    let err = t.fails(&["load", "-i", not_archive.to_str().unwrap()]);
    assert!(
        err.contains("neither manifest.json nor index.json"),
        "{err}"
    );
}

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
    // Saved to stdout, the archive is the same bytes.
    let piped = s.scratch("out").join("stdout.tar");
    let mut c = s.command(&["save", "busybox", "localhost:5000/team/bb:v2"]);
    c.stdout(fs::File::create(&piped).unwrap());
    let res = s.run_cmd(c);
    s.expect(
        &res,
        true,
        &["save", "busybox", ">", piped.to_str().unwrap()],
    );
    assert_eq!(fs::read(&piped).unwrap(), fs::read(&archive).unwrap());

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

/// A tar stream holding `files`, in order.
fn tar_of(path: &Path, files: &[(&str, Vec<u8>)]) {
    let mut b = tar::Builder::new(fs::File::create(path).unwrap());
    for (name, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    b.into_inner().unwrap();
}

/// A one-layer layer tar holding `hello`.
fn small_layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(6);
    h.set_mode(0o644);
    h.set_mtime(1_600_000_000);
    b.append_data(&mut h, "hello", &b"hello\n"[..]).unwrap();
    b.into_inner().unwrap()
}

#[test]
fn docker_config_extras_show_in_inspect_and_survive_save_and_load() {
    let layer = small_layer();
    let diff = strata::digest::Digest::of(&layer);
    let config = format!(
        r#"{{"architecture":"amd64","config":{{"Env":["PATH=/bin"],"Cmd":["/bin/sh"],"Healthcheck":{{"Test":["CMD-SHELL","true"],"Interval":30000000000,"Retries":3}},"OnBuild":["RUN echo child"],"Shell":["/bin/bash","-c"],"StopSignal":"SIGQUIT","ExposedPorts":{{"80/tcp":{{}}}},"Volumes":{{"/data":{{}}}},"Labels":{{"k":"v"}},"User":"1000","WorkingDir":"/srv","ArgsEscaped":true}},"container_config":{{"Hostname":"abc"}},"created":"2024-01-02T03:04:05.5Z","docker_version":"24.0.7","history":[{{"created":"2024-01-02T03:04:05.5Z","created_by":"/bin/sh -c #(nop) ADD file:abc in / "}},{{"created":"2024-01-02T03:04:06Z","created_by":"/bin/sh -c #(nop)  CMD [\"/bin/sh\"]","empty_layer":true}}],"os":"linux","rootfs":{{"type":"layers","diff_ids":["{diff}"]}}}}"#
    );
    let id = strata::digest::Digest::of(config.as_bytes());
    let manifest = format!(
        r#"[{{"Config":"{}.json","RepoTags":["extras:1"],"Layers":["{}/layer.tar"]}}]"#,
        id.hex(),
        diff.hex()
    );
    let s = Strata::new();
    let archive = s.scratch("in").join("extras.tar");
    tar_of(
        &archive,
        &[
            (&format!("{}/layer.tar", diff.hex()), layer.clone()),
            (&format!("{}.json", id.hex()), config.clone().into_bytes()),
            ("manifest.json", manifest.into_bytes()),
        ],
    );
    assert_eq!(
        s.ok(&["load", "-i", archive.to_str().unwrap()]),
        "Loaded image: extras:1\n"
    );
    let v = inspect(&s, "extras:1");
    assert_eq!(v["Id"], id.to_string(), "the config is kept byte for byte");
    let c = &v["Config"];
    assert_eq!(
        c["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "true"], "Interval": 30000000000u64, "Retries": 3})
    );
    assert_eq!(c["OnBuild"], serde_json::json!(["RUN echo child"]));
    assert_eq!(c["Shell"], serde_json::json!(["/bin/bash", "-c"]));
    assert_eq!(c["StopSignal"], "SIGQUIT");
    assert_eq!(c["ExposedPorts"], serde_json::json!({"80/tcp": {}}));
    assert_eq!(c["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(c["Labels"], serde_json::json!({"k": "v"}));
    assert_eq!(c["User"], "1000");
    assert_eq!(c["WorkingDir"], "/srv");
    assert_eq!(c["Env"], serde_json::json!(["PATH=/bin"]));
    assert_eq!(v["Created"], "2024-01-02T03:04:05.5Z");
    assert_eq!(v["Size"], layer.len() as u64);

    // history: newest first, the empty layer 0B, CREATED BY cut at 45 characters.
    let h = s.ok(&["history", "extras:1"]);
    let lines: Vec<&str> = h.lines().collect();
    assert_eq!(lines.len(), 3, "{h}");
    assert!(lines[1].starts_with(&id.short()), "{h}");
    assert!(
        lines[1].contains("/bin/sh -c #(nop)  CMD [\"/bin/sh\"]"),
        "{h}"
    );
    assert!(lines[1].trim_end().ends_with(" 0B"), "{h}");
    assert!(lines[2].starts_with("<missing>"), "{h}");
    assert!(
        lines[2].contains("/bin/sh -c #(nop) ADD file:abc in / "),
        "{h}"
    );
    assert_eq!(layer.len(), 2048);
    assert!(lines[2].trim_end().ends_with(" 2.05kB"), "{h}");
    let long = s.ok(&["history", "--no-trunc", "extras:1"]);
    assert!(long.contains(&id.to_string()), "{long}");

    // oci-archive and back: same ID, same config.
    for format in ["oci", "docker"] {
        let out = s.scratch("out").join(format!("extras-{format}.tar"));
        s.ok(&[
            "save",
            "--format",
            format,
            "-o",
            out.to_str().unwrap(),
            "extras:1",
        ]);
        let t = Strata::new();
        t.ok(&["load", "-i", out.to_str().unwrap()]);
        let w = inspect(&t, "extras:1");
        assert_eq!(w["Id"], v["Id"], "{format}");
        assert_eq!(w["Config"], v["Config"], "{format}");
    }
}

#[test]
fn docker_25_layout_with_oci_index_and_manifest_json_loads_with_its_tags() {
    let s = Strata::new();
    s.import_busybox("busybox");
    let v = inspect(&s, "busybox");
    let oci = s.root.join("oci");
    let manifest_d: strata::digest::Digest =
        v["Descriptor"]["digest"].as_str().unwrap().parse().unwrap();
    let manifest_bytes = fs::read(oci.join("blobs/sha256").join(manifest_d.hex())).unwrap();
    let m: Value = serde_json::from_slice(&manifest_bytes).unwrap();
    let blob = |d: &Value| {
        let d: strata::digest::Digest = d.as_str().unwrap().parse().unwrap();
        (
            format!("blobs/sha256/{}", d.hex()),
            fs::read(oci.join("blobs/sha256").join(d.hex())).unwrap(),
        )
    };
    let (config_path, config) = blob(&m["config"]["digest"]);
    let (layer_path, layer) = blob(&m["layers"][0]["digest"]);
    // Index without names: the tags come from manifest.json, as Docker 25+ writes both.
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest_d}","size":{}}}]}}"#,
        manifest_bytes.len()
    );
    let manifest_json = format!(
        r#"[{{"Config":"{config_path}","RepoTags":["docker25:latest"],"Layers":["{layer_path}"]}}]"#
    );
    let archive = s.scratch("in").join("docker25.tar");
    tar_of(
        &archive,
        &[
            (
                &format!("blobs/sha256/{}", manifest_d.hex()),
                manifest_bytes.clone(),
            ),
            (&config_path, config),
            (&layer_path, layer),
            ("index.json", index.into_bytes()),
            ("manifest.json", manifest_json.into_bytes()),
            ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
        ],
    );
    let t = Strata::new();
    assert_eq!(
        t.ok(&["load", "-i", archive.to_str().unwrap()]),
        "Loaded image: docker25:latest\n"
    );
    let w = inspect(&t, "docker25");
    assert_eq!(w["Id"], v["Id"]);
    assert_eq!(
        w["Descriptor"]["digest"], v["Descriptor"]["digest"],
        "manifest kept as is"
    );
}

/// A tar of (name, kind, link target, data) entries with names written raw into the header
/// (the tar crate refuses to write `..` itself).
fn raw_tar(entries: &[(&str, tar::EntryType, &str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, target, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        gnu.linkname[..target.len()].copy_from_slice(target.as_bytes());
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// A docker-archive and an oci-archive of one image with `layer` as its only layer.
fn archives_with_layer(layer: &[u8]) -> (Vec<u8>, Vec<u8>) {
    use strata::digest::Digest;
    use tar::EntryType::Regular as F;
    let diff_id = Digest::of(layer);
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
    })
    .to_string();
    let config_id = Digest::of(config.as_bytes());
    let manifest_json = serde_json::json!([{
        "Config": format!("{}.json", config_id.hex()),
        "RepoTags": ["evil:1"],
        "Layers": ["layer.tar"],
    }])
    .to_string();
    let docker = raw_tar(&[
        (
            &format!("{}.json", config_id.hex()),
            F,
            "",
            config.as_bytes(),
        ),
        ("layer.tar", F, "", layer),
        ("manifest.json", F, "", manifest_json.as_bytes()),
    ]);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_id.to_string(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": diff_id.to_string(), "size": layer.len()}],
    })
    .to_string();
    let manifest_id = Digest::of(manifest.as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": manifest_id.to_string(), "size": manifest.len(),
                       "annotations": {"org.opencontainers.image.ref.name": "evil"}}],
    })
    .to_string();
    let blob = |d: &Digest| format!("blobs/sha256/{}", d.hex());
    let oci = raw_tar(&[
        ("oci-layout", F, "", br#"{"imageLayoutVersion":"1.0.0"}"#),
        (&blob(&config_id), F, "", config.as_bytes()),
        (&blob(&diff_id), F, "", layer),
        (&blob(&manifest_id), F, "", manifest.as_bytes()),
        ("index.json", F, "", index.as_bytes()),
    ]);
    (docker, oci)
}

#[test]
fn archives_with_escaping_paths_are_refused_at_load_naming_the_entry() {
    use tar::EntryType::{Directory as D, Link as H, Regular as F, Symlink as S};
    let t = Strata::new();
    let dir = t.scratch("in");
    let blobs = || fs::read_dir(t.root.join("oci/blobs/sha256")).map_or(0, |d| d.count());
    let refused = |name: &str, archive: &[u8], wants: &[&str]| {
        let path = dir.join(name);
        fs::write(&path, archive).unwrap();
        let err = t.fails(&["load", "-i", path.to_str().unwrap()]);
        for w in wants {
            assert!(err.contains(w), "{name}: {w}: {err}");
        }
        // Refused before anything was stored.
        assert_eq!(t.ok(&["images", "-q"]), "", "{name}");
        assert_eq!(blobs(), 0, "{name}: {}", t.listing());
    };

    // Inside a layer: (layer entries, what the error names).
    type Entry<'a> = (&'a str, tar::EntryType, &'a str, &'a [u8]);
    let layers: &[(&[Entry], &[&str])] = &[
        (
            &[
                ("ok", F, "", b"x"),
                ("../../../../tmp/evil", F, "", b"evil"),
            ],
            &[
                "\"../../../../tmp/evil\"",
                "outside the image's root",
                "\"..\" in path",
            ],
        ),
        (
            &[("/etc/evil", F, "", b"evil")],
            &["\"/etc/evil\"", "absolute path"],
        ),
        (
            &[("h", H, "../../etc/shadow", b"")],
            &["\"h\"", "hard link target"],
        ),
        (&[("h", H, "/etc/shadow", b"")], &["\"h\"", "absolute path"]),
        (
            &[("a/", D, "", b""), ("a/l", S, "../../../etc", b"")],
            &[
                "\"a/l\"",
                "symlink target \"../../../etc\" climbs above the root",
            ],
        ),
    ];
    for (i, (entries, wants)) in layers.iter().enumerate() {
        let (docker, oci) = archives_with_layer(&raw_tar(entries));
        refused(&format!("docker{i}.tar"), &docker, wants);
        refused(&format!("oci{i}.tar"), &oci, wants);
    }

    // The archive's own entries: a name that climbs out, a link that leaves it.
    let (docker, _) = archives_with_layer(&raw_tar(&[("ok", F, "", b"x")]));
    let mut outer = docker[..docker.len() - 1024].to_vec();
    outer.extend(raw_tar(&[("../escape.json", F, "", b"{}")]));
    refused(
        "outer-dotdot.tar",
        &outer,
        &["\"../escape.json\" in the archive"],
    );
    let linked = raw_tar(&[("manifest.json", S, "/etc/passwd", b"")]);
    refused(
        "outer-symlink.tar",
        &linked,
        &["symlink target \"/etc/passwd\" leaves the archive"],
    );
    let linked = raw_tar(&[("x/manifest.json", H, "../../etc/passwd", b"")]);
    refused("outer-hardlink.tar", &linked, &["hard link target"]);

    // The same layers without the escape load.
    let (docker, oci) = archives_with_layer(&raw_tar(&[
        ("a/", D, "", b""),
        ("a/l", S, "../etc", b""),
        ("etc/mtab", S, "/proc/mounts", b""),
        ("h", H, "a/l", b""),
    ]));
    for (name, archive) in [("docker-ok.tar", docker), ("oci-ok.tar", oci)] {
        let path = dir.join(name);
        fs::write(&path, archive).unwrap();
        t.ok(&["load", "-i", path.to_str().unwrap()]);
    }
}

//! `strata build --output`: every export type, judged by outside tools — skopeo (oci-archive,
//! OCI layout, docker-archive), umoci (layout unpack), tar (rootfs tar) — and the files of a
//! local export; failed builds leave no output behind.

mod build_support;
mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use build_support::{digest, read, Bench};
use common::tool;
use serde_json::Value;

const DOCKERFILE: &str = r#"FROM busybox AS build
RUN mkdir -p /out && echo built > /out/made.txt
FROM busybox
COPY --from=build /out/made.txt /app/
COPY hello.txt /app/
RUN ln -s hello.txt /app/link && chmod 0750 /app/made.txt
CMD ["cat", "/app/hello.txt"]
"#;

fn bench() -> Bench {
    let b = Bench::new();
    b.files(&[("hello.txt", "hello\n")]).dockerfile(DOCKERFILE);
    b
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

/// Names of the entries of a tar file, as GNU tar lists them.
fn tar_names(file: &Path) -> Vec<String> {
    tool("tar", &["-tf", file.to_str().unwrap()])
        .lines()
        .map(|l| l.trim_start_matches("./").to_string())
        .collect()
}

/// Files in `dir` besides `keep`: a failed or finished export leaves no temp files.
fn others(dir: &Path, keep: &[&str]) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect()
}

#[test]
fn oci_archive_and_layout_read_by_skopeo_and_umoci() {
    let b = bench();
    let out = b.s.scratch("out");
    let file = out.join("image.tar");
    let meta = b.build("app", &["-o", &format!("type=oci,dest={}", file.display())]);
    let archive = format!("oci-archive:{}", file.display());
    let inspected = json(&tool("skopeo", &["inspect", &archive]));
    // The archive holds the very manifest the store has.
    assert_eq!(inspected["Digest"], digest(&meta));
    let cfg = json(&tool("skopeo", &["inspect", "--config", "--raw", &archive]));
    assert_eq!(
        cfg["config"]["Cmd"],
        serde_json::json!(["cat", "/app/hello.txt"])
    );
    assert_eq!(others(&out, &["image.tar"]), Vec::<String>::new());

    let layout = out.join("layout");
    let meta2 = b.build(
        "app",
        &[
            "--output",
            &format!("type=oci,dest={},tar=false", layout.display()),
        ],
    );
    assert_eq!(digest(&meta2), digest(&meta));
    assert!(layout.join("oci-layout").is_file() && layout.join("index.json").is_file());
    let by_dir = json(&tool(
        "skopeo",
        &["inspect", &format!("oci:{}", layout.display())],
    ));
    assert_eq!(by_dir["Digest"], digest(&meta));
    let bundle = b.s.scratch("bundles").join("layout");
    tool(
        "umoci",
        &[
            "unpack",
            "--image",
            &format!("{}:docker.io/library/app:latest", layout.display()),
            bundle.to_str().unwrap(),
        ],
    );
    let rootfs = bundle.join("rootfs");
    assert_eq!(read(&rootfs, "app/hello.txt"), "hello\n");
    assert_eq!(read(&rootfs, "app/made.txt"), "built\n");
    // An existing non-empty directory is not overwritten by a layout.
    let err = b.build_fails(&[
        "-o",
        &format!("type=oci,dest={},tar=false", layout.display()),
    ]);
    assert!(err.contains("not an empty directory"), "{err}");
}

#[test]
fn docker_archive_read_by_skopeo_and_tar() {
    let b = bench();
    let out = b.s.scratch("out");
    let file = out.join("docker.tar");
    b.build(
        "app",
        &[
            "-o",
            &format!("type=docker,dest={},name=extra:v1", file.display()),
        ],
    );
    let archive = format!("docker-archive:{}", file.display());
    let inspected = json(&tool("skopeo", &["inspect", &archive]));
    let tags: Vec<&str> = inspected["RepoTags"]
        .as_array()
        .map(|a| a.iter().map(|t| t.as_str().unwrap()).collect())
        .unwrap_or_default();
    assert_eq!(
        inspected["Layers"].as_array().unwrap().len(),
        4,
        "{inspected}"
    );
    let cfg = json(&tool("skopeo", &["inspect", "--config", "--raw", &archive]));
    assert_eq!(
        cfg,
        b.config("app"),
        "the archive carries the store's config"
    );
    let names = tar_names(&file);
    assert!(names.contains(&"manifest.json".to_string()), "{names:?}");
    let manifest = json(&tool(
        "tar",
        &["-xOf", file.to_str().unwrap(), "manifest.json"],
    ));
    let repo_tags = &manifest[0]["RepoTags"];
    assert_eq!(
        repo_tags,
        &serde_json::json!(["app:latest", "extra:v1"]),
        "skopeo saw {tags:?}"
    );
}

#[test]
fn local_dir_holds_the_final_rootfs_and_short_form_works() {
    let b = bench();
    let out = b.s.scratch("out");
    let dir = out.join("rootfs");
    b.build(
        "app",
        &["-o", &format!("type=local,dest={}", dir.display())],
    );
    assert_eq!(read(&dir, "app/hello.txt"), "hello\n");
    assert_eq!(read(&dir, "app/made.txt"), "built\n");
    assert_eq!(
        fs::read_link(dir.join("app/link")).unwrap(),
        Path::new("hello.txt")
    );
    let mode = fs::metadata(dir.join("app/made.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o750);
    assert!(dir.join("bin/busybox").is_file());
    // The first stage's files are not in the final rootfs.
    assert!(!dir.join("out").exists());

    // `-o DIR` is type=local; an existing directory is merged into: its other files stay,
    // files of the same name are replaced, a directory in the way of a file goes.
    let short = out.join("short");
    fs::create_dir_all(short.join("app/old")).unwrap();
    fs::create_dir_all(short.join("app/made.txt/inner")).unwrap();
    fs::write(short.join("keep.me"), "x").unwrap();
    fs::write(short.join("app/hello.txt"), "stale").unwrap();
    fs::set_permissions(short.join("app"), fs::Permissions::from_mode(0o700)).unwrap();
    b.build("app", &["-o", short.to_str().unwrap()]);
    assert_eq!(read(&short, "app/hello.txt"), "hello\n");
    assert_eq!(read(&short, "app/made.txt"), "built\n");
    assert_eq!(read(&short, "keep.me"), "x");
    assert!(short.join("app/old").is_dir());
    let app_mode = fs::metadata(short.join("app"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(app_mode & 0o7777, 0o755, "the rootfs's mode for app/");
    assert_eq!(others(&out, &["rootfs", "short"]), Vec::<String>::new());
}

#[test]
fn rootfs_tar_to_file_and_stdout() {
    let b = bench();
    let out = b.s.scratch("out");
    let file = out.join("rootfs.tar");
    b.build("app", &["-o", &format!("type=tar,dest={}", file.display())]);
    let names = tar_names(&file);
    for want in [
        "app/",
        "app/hello.txt",
        "app/made.txt",
        "app/link",
        "bin/busybox",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    assert!(!names.iter().any(|n| n.starts_with("out/")), "{names:?}");

    // `-o -` streams the same tar to stdout (and `-q` does not print the ID into it).
    let args = ["build", "-q", "-o", "-", b.ctx.to_str().unwrap()];
    let res = b.s.run_cmd(b.s.command(&args));
    b.s.expect(&res, true, &args);
    assert_eq!(res.stdout, fs::read(&file).unwrap());

    // dest=- works for an oci-archive too.
    let args = [
        "build",
        "--progress=plain",
        "-o",
        "type=oci,dest=-",
        b.ctx.to_str().unwrap(),
    ];
    let res = b.s.run_cmd(b.s.command(&args));
    b.s.expect(&res, true, &args);
    let piped = out.join("piped.tar");
    fs::write(&piped, &res.stdout).unwrap();
    let inspected = json(&tool(
        "skopeo",
        &["inspect", &format!("oci-archive:{}", piped.display())],
    ));
    assert_eq!(inspected["Layers"].as_array().unwrap().len(), 4);
}

#[test]
fn image_output_tags_names_and_bad_outputs_are_refused() {
    let b = bench();
    b.build("app", &["--output", "type=image,name=also:here"]);
    let images = b.s.ok(&["images"]);
    assert!(images.contains("also"), "{images}");
    for (spec, want) in [
        ("type=tar", "needs dest="),
        ("type=local,dest=-", "writes a directory"),
        ("type=nope,dest=x", "unknown type"),
    ] {
        let err = b.build_fails(&["-o", spec]);
        assert!(err.contains(want), "{spec}: {err}");
    }
}

#[test]
fn a_failed_build_leaves_no_output() {
    let b = Bench::new();
    b.dockerfile("FROM busybox\nRUN false\n");
    let out = b.s.scratch("out");
    for spec in [
        format!("type=oci,dest={}", out.join("x.tar").display()),
        format!("type=local,dest={}", out.join("dir").display()),
    ] {
        b.build_fails(&["-o", &spec]);
        assert_eq!(others(&out, &[]), Vec::<String>::new(), "{spec}");
    }
}

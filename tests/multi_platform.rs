//! Multi-platform builds end to end, with a real arm64 base (Debian's busybox-static:arm64,
//! unpacked by `.ci/test.sh`) and RUN emulated by qemu-user through binfmt_misc: one image per
//! platform under an OCI index, BuildKit's automatic platform args, `run --platform`, bases
//! resolved per platform, and the errors said before anything runs.

mod common;
mod registry_support;

use std::fs;
use std::path::{Path, PathBuf};

use common::{tool, Strata};
use registry_support::Registry;
use serde_json::Value;

/// A store with `bb-amd64` and `bb-arm64` (busybox for each platform) imported.
fn store() -> Strata {
    let s = Strata::new();
    s.import_busybox("bb-amd64");
    s.import_busybox_arm64("bb-arm64");
    s
}

/// A context directory holding `dockerfile`.
fn context(s: &Strata, name: &str, dockerfile: &str) -> PathBuf {
    let dir = s.scratch(name);
    fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    dir
}

fn build(s: &Strata, ctx: &Path, extra: &[&str]) -> String {
    let mut args = vec!["build", "--progress", "plain"];
    args.extend(extra);
    args.push(ctx.to_str().unwrap());
    s.ok(&args)
}

/// `run --rm --platform P IMAGE CMD…`, stdout.
fn run_on(s: &Strata, platform: &str, image: &str, cmd: &[&str]) -> String {
    let mut args = vec!["run", "--rm", "--platform", platform, image];
    args.extend(cmd);
    s.ok(&args)
}

/// The image index the store's OCI layout holds under `tag`, as skopeo reads it.
fn raw_index(s: &Strata, tag: &str) -> Value {
    let layout = format!("oci:{}:{tag}", s.root.join("oci").display());
    serde_json::from_str(&tool("skopeo", &["inspect", "--raw", &layout])).unwrap()
}

fn platforms_of(index: &Value) -> Vec<String> {
    index["manifests"]
        .as_array()
        .expect("an index lists manifests")
        .iter()
        .map(|m| {
            let p = &m["platform"];
            format!(
                "{}/{}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap()
            )
        })
        .collect()
}

const UNAME: &str = "ARG TARGETARCH\nFROM bb-$TARGETARCH\nRUN uname -m > /arch\n";

#[test]
fn two_platforms_build_one_index_with_a_native_and_an_emulated_run() {
    let s = store();
    let ctx = context(&s, "ctx", UNAME);
    build(
        &s,
        &ctx,
        &["--platform", "linux/amd64,linux/arm64", "-t", "mp-uname:1"],
    );
    let index = raw_index(&s, "docker.io/library/mp-uname:1");
    assert_eq!(
        index["mediaType"], "application/vnd.oci.image.index.v1+json",
        "{index}"
    );
    assert_eq!(platforms_of(&index), ["linux/amd64", "linux/arm64"]);
    assert_eq!(
        run_on(&s, "linux/amd64", "mp-uname:1", &["cat", "/arch"]),
        "x86_64\n"
    );
    assert_eq!(
        run_on(&s, "linux/arm64", "mp-uname:1", &["cat", "/arch"]),
        "aarch64\n"
    );
    // The arm64 image's own programs run emulated too.
    assert_eq!(
        run_on(&s, "linux/arm64", "mp-uname:1", &["uname", "-m"]),
        "aarch64\n"
    );
    // Listed once, by its tag.
    let listed = s.ok(&["images"]);
    let rows: Vec<&str> = listed
        .lines()
        .filter(|l| l.starts_with("mp-uname"))
        .collect();
    assert_eq!(rows.len(), 1, "{listed}");
    // inspect shows the index as the descriptor and each platform's manifest.
    let inspected: Value = serde_json::from_str(&s.ok(&["inspect", "mp-uname:1"])).unwrap();
    let img = &inspected[0];
    assert_eq!(
        img["Descriptor"]["mediaType"], "application/vnd.oci.image.index.v1+json",
        "{img}"
    );
    let archs: Vec<&str> = img["Manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["ImageData"]["Platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(archs, ["amd64", "arm64"]);
    // Tagging and untagging take the whole index.
    s.ok(&["tag", "mp-uname:1", "mp-uname:2"]);
    assert_eq!(
        run_on(&s, "linux/arm64", "mp-uname:2", &["cat", "/arch"]),
        "aarch64\n"
    );
    s.ok(&["rmi", "mp-uname:2"]);
    s.fails(&["inspect", "mp-uname:2"]);
    s.ok(&["inspect", "mp-uname:1"]);
}

#[test]
fn a_buildplatform_stage_runs_natively_and_feeds_each_target() {
    let s = store();
    let ctx = context(
        &s,
        "ctx",
        "FROM --platform=$BUILDPLATFORM bb-amd64 AS cross\n\
         ARG TARGETARCH\n\
         ARG TARGETPLATFORM\n\
         ARG BUILDPLATFORM\n\
         RUN echo \"$TARGETARCH $TARGETPLATFORM on $BUILDPLATFORM $(uname -m)\" > /out\n\
         ARG TARGETARCH\n\
         FROM bb-$TARGETARCH\n\
         COPY --from=cross /out /out\n",
    );
    build(
        &s,
        &ctx,
        &["--platform", "linux/amd64,linux/arm64", "-t", "mp-cross"],
    );
    assert_eq!(
        run_on(&s, "linux/amd64", "mp-cross", &["cat", "/out"]),
        "amd64 linux/amd64 on linux/amd64 x86_64\n"
    );
    assert_eq!(
        run_on(&s, "linux/arm64", "mp-cross", &["cat", "/out"]),
        "arm64 linux/arm64 on linux/amd64 x86_64\n"
    );
}

#[test]
fn from_an_index_takes_the_manifest_for_the_target_platform() {
    let s = store();
    let base = context(&s, "base", UNAME);
    build(
        &s,
        &base,
        &["--platform", "linux/arm64,linux/amd64", "-t", "mp-base"],
    );
    let child = context(&s, "child", "FROM mp-base\nRUN cat /arch > /seen\n");
    let out = s.scratch("out");
    build(
        &s,
        &child,
        &[
            "--platform",
            "linux/arm64",
            "-o",
            &format!("type=local,dest={}", out.display()),
        ],
    );
    assert_eq!(fs::read_to_string(out.join("seen")).unwrap(), "aarch64\n");
}

#[test]
fn the_index_digest_is_reproducible_with_source_date_epoch() {
    let digest = || {
        // The import's default comment names its temp source dir: fixed here.
        let s = Strata::new();
        let amd = s.scratch("amd64-rootfs");
        common::busybox_rootfs(&amd);
        s.import_rootfs(&amd, "bb-amd64", &["-m", "busybox"]);
        let arm = s.scratch("arm64-rootfs");
        common::busybox_rootfs_from(&arm, Path::new(common::ARM64_BUSYBOX));
        s.import_rootfs(
            &arm,
            "bb-arm64",
            &["-m", "busybox", "--platform", "linux/arm64"],
        );
        let ctx = context(&s, "ctx", UNAME);
        let iid = s.scratch("iid").join("id");
        let mut c = s.command(&[
            "build",
            "--platform",
            "linux/amd64,linux/arm64",
            "--iidfile",
            iid.to_str().unwrap(),
            "-t",
            "mp-repro",
            ctx.to_str().unwrap(),
        ]);
        c.env("SOURCE_DATE_EPOCH", "1700000000");
        let out = s.run_cmd(c);
        assert!(
            out.status.success(),
            "{}",
            s.report("build", &["build"], &out)
        );
        let id = fs::read_to_string(&iid).unwrap();
        let layout: Value =
            serde_json::from_str(&fs::read_to_string(s.root.join("oci/index.json")).unwrap())
                .unwrap();
        let tagged = layout["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| {
                d["annotations"]["org.opencontainers.image.ref.name"]
                    == "docker.io/library/mp-repro:latest"
            })
            .unwrap_or_else(|| panic!("tagged in {layout}"));
        assert_eq!(
            tagged["mediaType"], "application/vnd.oci.image.index.v1+json",
            "{layout}"
        );
        assert_eq!(tagged["digest"], id.as_str(), "the iidfile names the index");
        id
    };
    assert_eq!(digest(), digest());
}

#[test]
fn bad_platforms_bases_and_emulators_fail_before_anything_runs() {
    let s = store();
    let ctx = context(&s, "ctx", "FROM bb-amd64\nRUN touch /ran\n");
    for (spec, want) in [
        ("nonsense", "invalid platform \"nonsense\""),
        ("linux/amd46", "unknown operating system or architecture"),
        ("linux//arm64", "invalid platform"),
        ("linux/amd64,linux/*", "wildcards are not supported"),
    ] {
        let err = s.fails(&["build", "--platform", spec, ctx.to_str().unwrap()]);
        assert!(err.contains(want), "--platform {spec}: {err}");
    }
    // A base without the platform: located at its FROM, naming the platforms it has.
    let err = s.fails(&[
        "build",
        "--platform",
        "linux/amd64,linux/arm64",
        ctx.to_str().unwrap(),
    ]);
    assert!(err.contains("Dockerfile:1"), "{err}");
    assert!(
        err.contains("does not provide the specified platform (linux/arm64)")
            && err.contains("it has: linux/amd64"),
        "{err}"
    );
    // Nothing ran for either platform: no image and no cache entry was made.
    let listed = s.ok(&["images", "-q"]);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    let err = s.fails(&[
        "run",
        "--rm",
        "--platform",
        "linux/arm64",
        "bb-amd64",
        "true",
    ]);
    assert!(
        err.contains("does not provide the specified platform"),
        "{err}"
    );
}

#[test]
fn push_sends_the_index_and_pull_platform_takes_one_manifest() {
    let reg = Registry::start();
    let s = store();
    let ctx = context(&s, "ctx", UNAME);
    let remote = format!("{}/mp/uname:1", reg.host());
    build(
        &s,
        &ctx,
        &["--platform", "linux/amd64,linux/arm64", "-t", &remote],
    );
    s.ok(&["push", &remote]);
    let raw = tool(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{remote}"),
        ],
    );
    let index: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        index["mediaType"], "application/vnd.oci.image.index.v1+json",
        "{raw}"
    );
    assert_eq!(platforms_of(&index), ["linux/amd64", "linux/arm64"]);
    // Every platform's manifest is there by digest, and is the one built for it.
    for (arch, m) in ["amd64", "arm64"]
        .iter()
        .zip(index["manifests"].as_array().unwrap())
    {
        let by_digest = format!(
            "docker://{}/mp/uname@{}",
            reg.host(),
            m["digest"].as_str().unwrap()
        );
        let config: Value = serde_json::from_str(&tool(
            "skopeo",
            &["inspect", "--config", "--tls-verify=false", &by_digest],
        ))
        .unwrap();
        assert_eq!(config["architecture"], *arch, "{config}");
    }

    // Into an empty store: only the arm64 manifest, which then runs emulated.
    let fresh = Strata::new();
    fresh.ok(&["pull", "--platform", "linux/arm64", &remote]);
    assert_eq!(
        run_on(&fresh, "linux/arm64", &remote, &["uname", "-m"]),
        "aarch64\n"
    );
    assert_eq!(
        run_on(&fresh, "linux/arm64", &remote, &["cat", "/arch"]),
        "aarch64\n"
    );
    let err = fresh.fails(&["run", "--rm", "--platform", "linux/amd64", &remote, "true"]);
    assert!(err.contains("it has: linux/arm64"), "{err}");
}

#[test]
fn an_oci_save_and_load_keep_every_platform() {
    let s = store();
    let ctx = context(&s, "ctx", UNAME);
    build(
        &s,
        &ctx,
        &["--platform", "linux/amd64,linux/arm64", "-t", "mp-saved"],
    );
    let tar = s.scratch("archive").join("mp.tar");
    s.ok(&[
        "save",
        "--format",
        "oci",
        "-o",
        tar.to_str().unwrap(),
        "mp-saved",
    ]);
    let fresh = Strata::new();
    let out = fresh.ok(&["load", "-i", tar.to_str().unwrap()]);
    assert_eq!(out, "Loaded image: mp-saved:latest\n");
    let listed = fresh.ok(&["images", "-q"]);
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert_eq!(
        raw_index(&fresh, "docker.io/library/mp-saved:latest"),
        raw_index(&s, "docker.io/library/mp-saved:latest")
    );
    assert_eq!(
        run_on(&fresh, "linux/arm64", "mp-saved", &["cat", "/arch"]),
        "aarch64\n"
    );
    assert_eq!(
        run_on(&fresh, "linux/amd64", "mp-saved", &["cat", "/arch"]),
        "x86_64\n"
    );
}

/// The snapshot directories the store holds, sorted.
fn snapshots(s: &Strata) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(s.root.join("snapshots-v1"))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn system_prune_keeps_what_a_tagged_index_reaches_and_takes_an_untagged_one() {
    let s = store();
    let ctx = context(&s, "ctx", UNAME);
    build(
        &s,
        &ctx,
        &["--platform", "linux/amd64,linux/arm64", "-t", "mp-pruned"],
    );
    let before = snapshots(&s);
    s.ok(&["system", "prune", "-f"]);
    assert_eq!(
        snapshots(&s),
        before,
        "the per-platform manifests' snapshots stay"
    );
    for (platform, arch) in [("linux/amd64", "x86_64"), ("linux/arm64", "aarch64")] {
        assert_eq!(
            run_on(&s, platform, "mp-pruned", &["cat", "/arch"]),
            format!("{arch}\n")
        );
    }
    let tar = s.scratch("archive").join("mp.tar");
    s.ok(&["save", "--format", "oci", "-o", tar.to_str().unwrap(), "mp-pruned"]);
    let fresh = Strata::new();
    fresh.ok(&["load", "-i", tar.to_str().unwrap()]);
    assert_eq!(
        run_on(&fresh, "linux/arm64", "mp-pruned", &["cat", "/arch"]),
        "aarch64\n"
    );

    // Untagged, the index is dangling: prune takes it and what only it reached.
    let other = context(&s, "other", &format!("{UNAME}RUN echo other > /other\n"));
    let iid = s.scratch("iid").join("id");
    build(
        &s,
        &other,
        &[
            "--platform",
            "linux/amd64,linux/arm64",
            "--iidfile",
            iid.to_str().unwrap(),
        ],
    );
    let dangling = fs::read_to_string(&iid).unwrap();
    assert!(snapshots(&s).len() > before.len());
    let out = s.ok(&["system", "prune", "-f"]);
    assert!(out.contains(&dangling), "{out}");
    assert_eq!(snapshots(&s), before);
    s.fails(&["inspect", &dangling]);
    s.ok(&["inspect", "mp-pruned"]);
}

//! Multi-platform builds end to end, with a real arm64 base (Debian's busybox-static:arm64,
//! unpacked by `.ci/test.sh`) and RUN emulated by qemu-user through binfmt_misc: one image per
//! platform under an OCI index, BuildKit's automatic platform args, `run --platform`, bases
//! resolved per platform, and the errors said before anything runs.

mod api_support;
mod common;
mod multi_platform_support;
mod registry_support;

use std::fs;

use common::{tool, Strata};
use multi_platform_support::{
    build, context, platforms_of, portable_store, raw_index, raw_remote, run_on, store, UNAME,
};
use registry_support::Registry;
use serde_json::Value;

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
        // Bases whose IDs do not name the store's temp dirs.
        let s = portable_store();
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
    let raw = raw_remote(&remote);
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

#[test]
fn system_prune_keeps_what_a_tagged_index_reaches_and_takes_an_untagged_one() {
    let s = store();
    let ctx = context(&s, "ctx", UNAME);
    build(
        &s,
        &ctx,
        &["--platform", "linux/amd64,linux/arm64", "-t", "mp-pruned"],
    );
    let before = listing(&s, "snapshots-v1");
    s.ok(&["system", "prune", "-f"]);
    assert_eq!(
        listing(&s, "snapshots-v1"),
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
    s.ok(&[
        "save",
        "--format",
        "oci",
        "-o",
        tar.to_str().unwrap(),
        "mp-pruned",
    ]);
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
    assert!(listing(&s, "snapshots-v1").len() > before.len());
    let out = s.ok(&["system", "prune", "-f"]);
    assert!(out.contains(&dangling), "{out}");
    assert_eq!(listing(&s, "snapshots-v1"), before);
    s.fails(&["inspect", &dangling]);
    s.ok(&["inspect", "mp-pruned"]);
}

/// The names under `dir` of the store, sorted (none when it does not exist).
fn listing(s: &Strata, dir: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(s.root.join(dir))
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
fn a_missing_disabled_or_flagless_emulator_is_refused_before_anything_runs() {
    let s = store();
    let ctx = context(&s, "ctx", UNAME);
    // What strata reads instead of /proc/sys/fs/binfmt_misc (the kernel keeps the real
    // handlers, so without the check the arm64 RUN would run and succeed).
    let binfmt = s.scratch("binfmt");
    fs::write(binfmt.join("status"), "enabled\n").unwrap();
    let handler = binfmt.join("qemu-aarch64");
    let registered = |enabled: &str, flags: &str| {
        format!(
            "{enabled}\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: {flags}\n\
             offset 0\nmagic 7f454c460201010000000000000000000200b700\n\
             mask ffffffffffffff00fffffffffffffffffeffffff\n"
        )
    };
    let before = (
        s.ok(&["images", "-q"]),
        listing(&s, "snapshots-v1"),
        listing(&s, "cache-v1"),
    );
    let cases: [(Option<String>, &[&str]); 3] = [
        (
            None,
            &[
                "no binfmt_misc handler qemu-aarch64 is registered",
                "apt-get install qemu-user-static binfmt-support",
            ],
        ),
        (
            Some(registered("disabled", "POCF")),
            &[
                "handler qemu-aarch64 is disabled",
                "update-binfmts --enable qemu-aarch64",
            ],
        ),
        (
            Some(registered("enabled", "POC")),
            &[
                "lacks the F (fix-binary) flag",
                "apt-get install qemu-user-static binfmt-support",
            ],
        ),
    ];
    for (content, wants) in cases {
        let _ = fs::remove_file(&handler);
        if let Some(c) = &content {
            fs::write(&handler, c).unwrap();
        }
        let mut c = s.command(&[
            "build",
            "--platform",
            "linux/amd64,linux/arm64",
            "-t",
            "mp-noemu",
            ctx.to_str().unwrap(),
        ]);
        c.env("STRATA_BINFMT_MISC", &binfmt);
        let out = s.run_cmd(c);
        s.expect(&out, false, &["build"]);
        let err = String::from_utf8_lossy(&out.stderr);
        // Located as other step errors are: the Dockerfile, the line, the instruction.
        assert!(
            err.contains("Dockerfile:3: RUN uname -m > /arch (for linux/arm64): "),
            "{err}"
        );
        for want in wants {
            assert!(err.contains(want), "{want:?} in {err}");
        }
        // Neither platform's RUN ran: no image, snapshot or cache entry appeared.
        let after = (
            s.ok(&["images", "-q"]),
            listing(&s, "snapshots-v1"),
            listing(&s, "cache-v1"),
        );
        assert_eq!(after, before, "{err}");

        let mut c = s.command(&["run", "--platform", "linux/arm64", "bb-arm64", "true"]);
        c.env("STRATA_BINFMT_MISC", &binfmt);
        let out = s.run_cmd(c);
        s.expect(&out, false, &["run"]);
        let err = String::from_utf8_lossy(&out.stderr);
        for want in wants {
            assert!(err.contains(want), "{want:?} in {err}");
        }
        assert_eq!(s.ok(&["ps", "-aq"]), "", "no container was created: {err}");
    }
    // With the handler as qemu-user-static registers it, the same build goes through.
    fs::write(&handler, registered("enabled", "POCF")).unwrap();
    let mut c = s.command(&[
        "build",
        "--platform",
        "linux/amd64,linux/arm64",
        "-t",
        "mp-noemu",
        ctx.to_str().unwrap(),
    ]);
    c.env("STRATA_BINFMT_MISC", &binfmt);
    let out = s.run_cmd(c);
    s.expect(&out, true, &["build"]);
}

#[test]
fn the_api_creates_a_container_for_the_platform_asked_for() {
    let s = store();
    let ctx = context(&s, "ctx", UNAME);
    build(
        &s,
        &ctx,
        &["--platform", "linux/amd64,linux/arm64", "-t", "mp-api"],
    );
    let svc = api_support::Service::start(&s, &["--time", "0"]);
    for (platform, arch) in [("linux/arm64", "aarch64"), ("linux/amd64", "x86_64")] {
        let out = svc.docker_ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--platform",
            platform,
            "mp-api",
            "cat",
            "/arch",
        ]);
        assert_eq!(out, format!("{arch}\n"), "--platform {platform}");
    }
    // A platform the image lacks is dockerd's 404, naming what it has; a malformed one a 400.
    let h = ["-H", "Content-Type: application/json", "-X", "POST"];
    let body = r#"{"Image":"mp-api","Cmd":["true"]}"#;
    let missing = svc.curl(
        &[&h[..], &["-d", body]].concat(),
        "/v1.50/containers/create?platform=linux/s390x",
    );
    assert_eq!(missing.status, 404, "{missing:?}");
    let message = missing.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("linux/s390x") && message.contains("linux/amd64, linux/arm64"),
        "{message}"
    );
    let bad = svc.curl(
        &[&h[..], &["-d", body]].concat(),
        "/v1.50/containers/create?platform=linux//arm64",
    );
    assert_eq!(bad.status, 400, "{bad:?}");
    assert!(
        bad.json()["message"].as_str().unwrap().contains("platform"),
        "{bad:?}"
    );
    assert_eq!(svc.docker_ok(&["ps", "-aq"]), "");
}

#[test]
fn a_cache_exported_for_two_platforms_gives_hits_for_both_in_an_empty_store() {
    let s = portable_store();
    let ctx = context(
        &s,
        "ctx",
        &format!("{UNAME}RUN cat /proc/sys/kernel/random/uuid > /id\n"),
    );
    let cache = s.scratch("cache");
    let platforms = ["--platform", "linux/amd64,linux/arm64"];
    build(
        &s,
        &ctx,
        &[
            &platforms[..],
            &[
                "-t",
                "mp-cached",
                "--cache-to",
                &format!("type=local,dest={},mode=max", cache.display()),
            ],
        ]
        .concat(),
    );
    // A runner that starts empty: only the bases, then the cache.
    let fresh = portable_store();
    let from = format!("type=local,src={}", cache.display());
    let args = [
        &["build", "--progress", "plain"][..],
        &platforms[..],
        &[
            "-t",
            "mp-cached",
            "--cache-from",
            &from,
            ctx.to_str().unwrap(),
        ],
    ]
    .concat();
    let out = fresh.run_cmd(fresh.command(&args));
    fresh.expect(&out, true, &args);
    let log = String::from_utf8_lossy(&out.stderr);
    for platform in ["linux/amd64", "linux/arm64"] {
        let id = |st: &Strata| run_on(st, platform, "mp-cached", &["cat", "/id", "/arch"]);
        assert_eq!(
            id(&fresh),
            id(&s),
            "{platform}: the RUN steps came from the cache:\n{log}"
        );
    }
}

#[test]
fn progress_lines_name_the_platform_of_each_step() {
    let s = store();
    let ctx = context(
        &s,
        "ctx",
        "ARG TARGETARCH\n\
         FROM --platform=$BUILDPLATFORM bb-amd64 AS tools\n\
         RUN echo hi > /hi\n\
         FROM bb-$TARGETARCH\n\
         COPY --from=tools /hi /hi\n\
         RUN uname -m > /arch\n",
    );
    let args = [
        "build",
        "--progress",
        "plain",
        "--platform",
        "linux/amd64,linux/arm64",
        ctx.to_str().unwrap(),
    ];
    let out = s.run_cmd(s.command(&args));
    s.expect(&out, true, &args);
    let log = String::from_utf8_lossy(&out.stderr);
    for want in [
        "[linux/arm64 stage-1 3/3] RUN uname -m > /arch",
        "[linux/amd64 stage-1 3/3] RUN uname -m > /arch",
        "[linux/amd64 tools 2/2] RUN echo hi > /hi",
        // BuildKit's mark on a stage run on the build platform for another target.
        "[linux/amd64->arm64 tools 2/2] RUN echo hi > /hi",
        // FROM named by its base, args expanded, as BuildKit names it.
        "[linux/amd64->arm64 tools 1/2] FROM docker.io/library/bb-amd64:latest\n",
        "[linux/arm64 stage-1 1/3] FROM docker.io/library/bb-arm64:latest\n",
    ] {
        assert!(log.contains(want), "{want:?} in {log}");
    }
    // A single-platform build keeps Docker's plain labels.
    let args = ["build", "--progress", "plain", ctx.to_str().unwrap()];
    let out = s.run_cmd(s.command(&args));
    s.expect(&out, true, &args);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("[stage-1 3/3] RUN uname -m > /arch"), "{log}");
}

#[test]
fn outputs_of_a_multi_platform_build_hold_every_platform() {
    let s = store();
    let ctx = context(&s, "ctx", UNAME);
    let out = s.scratch("out");
    let two = ["--platform", "linux/amd64,linux/arm64"];
    let local = out.join("local");
    build(
        &s,
        &ctx,
        &[
            &two[..],
            &["-o", &format!("type=local,dest={}", local.display())],
        ]
        .concat(),
    );
    // One directory per platform, named as BuildKit names them.
    for (dir, arch) in [("linux_amd64", "x86_64"), ("linux_arm64", "aarch64")] {
        let got = fs::read_to_string(local.join(dir).join("arch")).unwrap();
        assert_eq!(got, format!("{arch}\n"), "{dir}");
    }
    let tar = out.join("rootfs.tar");
    build(
        &s,
        &ctx,
        &[
            &two[..],
            &["-o", &format!("type=tar,dest={}", tar.display())],
        ]
        .concat(),
    );
    let listing = tool("tar", &["-tf", tar.to_str().unwrap()]);
    for want in [
        "linux_amd64/arch",
        "linux_arm64/arch",
        "linux_arm64/bin/busybox",
    ] {
        assert!(
            listing.lines().any(|l| l.trim_start_matches("./") == want),
            "{want} in {listing}"
        );
    }
    // The OCI kinds hold the index and both images.
    let oci = out.join("mp.oci.tar");
    build(
        &s,
        &ctx,
        &[
            &two[..],
            &[
                "-o",
                &format!("type=oci,dest={},name=mp-out:1", oci.display()),
            ],
        ]
        .concat(),
    );
    let raw = tool(
        "skopeo",
        &[
            "inspect",
            "--raw",
            &format!("oci-archive:{}", oci.display()),
        ],
    );
    let index: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        platforms_of(&index),
        ["linux/amd64", "linux/arm64"],
        "{raw}"
    );
    let fresh = Strata::new();
    fresh.ok(&["load", "-i", oci.to_str().unwrap()]);
    assert_eq!(
        run_on(&fresh, "linux/arm64", "mp-out:1", &["cat", "/arch"]),
        "aarch64\n"
    );
    // A docker-archive holds one platform: refused before anything runs.
    let err = s.fails(
        &[
            &["build"][..],
            &two[..],
            &[
                "-o",
                &format!("type=docker,dest={}", out.join("d.tar").display()),
            ],
            &[ctx.to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(err.contains("type=oci"), "{err}");
}

//! Reproducible builds: with SOURCE_DATE_EPOCH (or `--source-date-epoch`) the same project built
//! from two checkouts that differ in directory, mtimes, creation order and strata's umask, into
//! two empty stores, gives the same image digest; another epoch gives another one.

mod build_support;
mod common;

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use build_support::{digest, rebuilt, Bench};
use serde_json::Value;

const EPOCH: i64 = 1_600_000_000;
const EPOCH_RFC3339: &str = "2020-09-13T12:26:40Z";

const DOCKERFILE: &str = r#"FROM busybox AS build
WORKDIR /src
COPY app/ ./app/
RUN mkdir -p /out/bin && cat app/*.txt > /out/combined.txt && cp app/run.sh /out/bin/ \
    && echo built > /out/stamp
ADD data.tar /opt/
FROM busybox
COPY --from=build /out/ /app/
COPY --from=build /opt/data /opt/data
COPY notes.md /doc/
RUN mkdir -p /var/made && echo hi > /var/made/file && ln -s file /var/made/link \
    && echo extra > /etc/extra
ENV MODE=release
CMD ["/app/bin/run.sh"]
"#;

/// (path, content, mode); a path ending in `/` is a directory.
const FILES: &[(&str, &str, u32)] = &[
    ("app/", "", 0o755),
    ("app/a.txt", "alpha\n", 0o644),
    ("app/b.txt", "beta\n", 0o640),
    ("app/run.sh", "#!/bin/sh\necho run\n", 0o755),
    ("notes.md", "# notes\n", 0o644),
];

/// Writes the project into `dir`: files in the table's order or reversed, the same permission
/// bits either way (COPY keeps them, as Docker's does), every mtime `mtime` (after the epoch),
/// and `data.tar` whose entries carry `mtime` too.
fn write_project(dir: &Path, reverse: bool, mtime: i64) {
    let mut files: Vec<_> = FILES.to_vec();
    if reverse {
        files.reverse();
    }
    for (p, content, _) in &files {
        let full = dir.join(p);
        if p.ends_with('/') {
            fs::create_dir_all(&full).unwrap();
        } else {
            fs::create_dir_all(full.parent().unwrap()).unwrap();
            fs::write(&full, content).unwrap();
        }
    }
    for (p, _, mode) in &files {
        fs::set_permissions(dir.join(p), fs::Permissions::from_mode(*mode)).unwrap();
    }
    fs::write(dir.join("Dockerfile"), DOCKERFILE).unwrap();
    let mut tar = tar::Builder::new(Vec::new());
    let mut entries: Vec<(&str, &[u8])> = vec![
        ("data/", b""),
        ("data/one.txt", b"one\n"),
        ("data/sub/", b""),
        ("data/sub/two.txt", b"two\n"),
    ];
    if reverse {
        // Parents still come first; siblings' order differs.
        entries.swap(1, 2);
    }
    for (name, data) in entries {
        let mut h = tar::Header::new_ustar();
        if name.ends_with('/') {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
        } else {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o644);
        }
        h.set_size(data.len() as u64);
        h.set_mtime(mtime as u64);
        h.set_uid(0);
        h.set_gid(0);
        tar.append_data(&mut h, name, data).unwrap();
    }
    fs::write(dir.join("data.tar"), tar.into_inner().unwrap()).unwrap();
    let t = UNIX_EPOCH + Duration::from_secs(mtime as u64);
    for e in walkdir::WalkDir::new(dir).contents_first(true) {
        let e = e.unwrap();
        fs::File::open(e.path()).unwrap().set_modified(t).unwrap();
    }
}

/// Runs `strata build` of `ctx` into `b`'s store with strata's umask set to `umask`; `env` and
/// `flags` carry the epoch. Returns the metadata file's JSON.
fn build(b: &Bench, ctx: &Path, umask: u32, env: Option<i64>, flags: &[&str]) -> Value {
    build_on(b, ctx, umask, env, flags, false)
}

/// `build`, with strata pinned to CPU 0 when `one_cpu` (so it compresses with one worker).
fn build_on(
    b: &Bench,
    ctx: &Path,
    umask: u32,
    env: Option<i64>,
    flags: &[&str],
    one_cpu: bool,
) -> Value {
    let meta = b.s.scratch("meta").join("m.json");
    let mut args: Vec<String> = vec![
        "build".into(),
        "--progress=plain".into(),
        "-t".into(),
        "repro".into(),
        "--metadata-file".into(),
        meta.display().to_string(),
    ];
    args.extend(flags.iter().map(|s| s.to_string()));
    args.push(ctx.display().to_string());
    let mut c = b.s.command(&args);
    if let Some(e) = env {
        c.env("SOURCE_DATE_EPOCH", e.to_string());
    }
    // SAFETY: umask is async-signal-safe and touches no memory.
    unsafe {
        c.pre_exec(move || {
            libc::umask(umask as libc::mode_t);
            if one_cpu {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(0, &mut set);
                if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let out = b.s.run_cmd(c);
    b.s.expect(&out, true, &args);
    serde_json::from_str(&fs::read_to_string(&meta).unwrap()).unwrap()
}

/// Two stores holding the same busybox base: imported from one rootfs directory (its path is
/// in the import's history comment, as `docker import` records its source).
fn pair() -> (Bench, Bench, tempfile::TempDir) {
    let rootfs = tempfile::tempdir().unwrap();
    common::busybox_rootfs(rootfs.path());
    let one = || {
        let s = common::Strata::new();
        let args = [
            "import",
            "-c",
            r#"CMD ["sh"]"#,
            rootfs.path().to_str().unwrap(),
            "busybox",
        ];
        let mut c = s.command(&args);
        c.env("SOURCE_DATE_EPOCH", "1700000000");
        let out = s.run_cmd(c);
        s.expect(&out, true, &args);
        let ctx = s.scratch("ctx");
        Bench { s, ctx }
    };
    let (a, b) = (one(), one());
    (a, b, rootfs)
}

/// (path, mode, mtime) of every entry of every layer above the base, read from the blobs.
fn new_layer_entries(b: &Bench) -> Vec<(String, u32, u64)> {
    let manifest = b.manifest("repro");
    let layers = manifest["layers"].as_array().unwrap();
    let mut out = Vec::new();
    for l in &layers[1..] {
        let hex = l["digest"].as_str().unwrap().trim_start_matches("sha256:");
        let blob = fs::read(b.s.root.join("oci/blobs/sha256").join(hex)).unwrap();
        let mut a = tar::Archive::new(flate2::read::GzDecoder::new(&blob[..]));
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let h = e.header().clone();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            let mut sink = Vec::new();
            e.read_to_end(&mut sink).unwrap();
            out.push((path, h.mode().unwrap(), h.mtime().unwrap()));
        }
    }
    out
}

#[test]
fn two_checkouts_two_stores_same_digest_and_another_epoch_differs() {
    let (a, b, _rootfs) = pair();
    let now = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let ctx_a = a.s.scratch("checkouts/first/project");
    let ctx_b = b.s.scratch("elsewhere");
    write_project(&ctx_a, false, now - 1000);
    write_project(&ctx_b, true, now + 5000);

    let ma = build(&a, &ctx_a, 0o077, Some(EPOCH), &[]);
    let mb = build(&b, &ctx_b, 0o002, Some(EPOCH), &[]);
    assert_eq!(digest(&ma), digest(&mb), "same sources, same epoch");

    let cfg = a.config("repro");
    assert_eq!(cfg["created"], EPOCH_RFC3339);
    let history = cfg["history"].as_array().unwrap();
    // The base's own entry keeps its date; every entry this build added is dated by the epoch.
    assert_eq!(history.len(), 1 + 6, "{history:?}");
    for h in &history[1..] {
        assert_eq!(h["created"], EPOCH_RFC3339, "{h}");
    }
    let entries = new_layer_entries(&a);
    for (path, _, mtime) in &entries {
        assert!(*mtime <= EPOCH as u64, "{path} has mtime {mtime} > epoch");
    }
    let mode = |p: &str| {
        entries
            .iter()
            .find(|(q, _, _)| q == p)
            .unwrap_or_else(|| panic!("{p} in {entries:?}"))
            .1
    };
    // RUN ran with umask 0022 whatever strata's own umask (077 here); COPY kept the source's.
    assert_eq!(mode("var/made/"), 0o755);
    assert_eq!(mode("var/made/file"), 0o644);
    assert_eq!(mode("app/combined.txt"), 0o644);
    assert_eq!(mode("app/bin/run.sh"), 0o755);
    assert_eq!(mode("opt/data/sub/two.txt"), 0o644);
    // /etc, where the sandbox bound hosts, resolv.conf and hostname, holds only what RUN wrote.
    let etc: Vec<&str> = entries
        .iter()
        .map(|(p, _, _)| p.as_str())
        .filter(|p| p.starts_with("etc/"))
        .collect();
    assert_eq!(etc, ["etc/", "etc/extra"]);
    // The ADDed archive was extracted.
    let root = a.unpack("repro");
    assert_eq!(
        fs::read_to_string(root.join("opt/data/one.txt")).unwrap(),
        "one\n"
    );
    assert_eq!(
        fs::read_to_string(root.join("app/combined.txt")).unwrap(),
        "alpha\nbeta\n"
    );

    // Another epoch in the first store: no layer made with the first epoch is reused.
    let mc = build(&a, &ctx_a, 0o022, Some(EPOCH + 1), &[]);
    assert_ne!(digest(&mc), digest(&ma));
    let redone = rebuilt(&mc);
    for step in [
        "RUN mkdir -p /var/made",
        "COPY notes.md /doc/",
        "ADD data.tar /opt/",
    ] {
        assert!(
            redone.iter().any(|l| l.contains(step)),
            "{step} should be rebuilt: {redone:?}"
        );
    }
    assert_eq!(a.config("repro")["created"], "2020-09-13T12:26:41Z");
}

#[test]
fn env_var_alone_or_the_flag_is_enough_and_a_cached_rebuild_agrees() {
    let (a, b, _rootfs) = pair();
    let now = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let ctx_a = a.s.scratch("ctx");
    let ctx_b = b.s.scratch("ctx-other");
    write_project(&ctx_a, false, now);
    write_project(&ctx_b, true, now + 77);
    let by_env = build(&a, &ctx_a, 0o022, Some(EPOCH), &[]);
    let epoch = EPOCH.to_string();
    let by_flag = build(&b, &ctx_b, 0o022, None, &["--source-date-epoch", &epoch]);
    assert_eq!(digest(&by_env), digest(&by_flag));
    assert_eq!(b.config("repro")["created"], EPOCH_RFC3339);
    // The flag wins over the environment.
    let flag_over_env = build(
        &b,
        &ctx_b,
        0o022,
        Some(EPOCH + 9),
        &["--source-date-epoch", &epoch],
    );
    assert_eq!(digest(&flag_over_env), digest(&by_env));
    assert!(rebuilt(&flag_over_env).is_empty(), "{flag_over_env}");
    // BuildKit's way, a build arg, works too.
    let arg = format!("SOURCE_DATE_EPOCH={EPOCH}");
    let by_arg = build(&b, &ctx_b, 0o022, None, &["--build-arg", &arg]);
    assert_eq!(digest(&by_arg), digest(&by_env));
    // Without an epoch the build is a different one (new layers keep their mtimes).
    let plain = build(&b, &ctx_b, 0o022, None, &[]);
    assert_ne!(digest(&plain), digest(&by_env));
}

#[test]
fn compression_does_not_depend_on_the_number_of_cpus() {
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert!(
        cpus >= 2,
        "this test compares 1 worker with {cpus}: it needs 2 CPUs or more"
    );
    let (a, b, _rootfs) = pair();
    // ~8 MiB of text: several 1 MiB gzip blocks and two 4 MiB zstd jobs.
    for bench in [&a, &b] {
        bench
            .files(&[])
            .dockerfile("FROM busybox\nRUN seq 1 1100000 > /numbers\n");
    }
    for compression in ["gzip", "zstd"] {
        let flags = ["--compression", compression];
        let one = build_on(&a, &a.ctx, 0o022, Some(EPOCH), &flags, true);
        let all = build_on(&b, &b.ctx, 0o022, Some(EPOCH), &flags, false);
        assert_eq!(digest(&one), digest(&all), "{compression}");
        let size = a.manifest("repro")["layers"][1]["size"].as_u64().unwrap();
        assert!(
            size > 1 << 20,
            "{compression}: the layer is only {size} bytes"
        );
    }
}

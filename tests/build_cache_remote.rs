//! Portable build caches as a CI runner that starts empty sees them: build with `--cache-to`,
//! wipe the store, build with `--cache-from`. RUN steps prove whether they ran by fetching a
//! URL from a loopback server that counts hits (`RUN --network=host wget …`), so a RUN that
//! the cache skipped leaves no hit.

mod build_support;
mod common;
mod registry_support;

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;

use build_support::{digest, read, rebuilt, steps, Bench};
use registry_support::Registry;

/// A loopback HTTP server counting GETs per path.
struct Hits {
    port: u16,
    counts: Arc<Mutex<HashMap<String, usize>>>,
}

impl Hits {
    fn start() -> Hits {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let counts: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let c = Arc::clone(&counts);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { return };
                let mut line = String::new();
                let mut r = BufReader::new(s.try_clone().unwrap());
                if r.read_line(&mut line).is_err() {
                    continue;
                }
                // Drain the headers before answering.
                let mut h = String::new();
                while r.read_line(&mut h).is_ok_and(|n| n > 2) {
                    h.clear();
                }
                if let Some(path) = line.split(' ').nth(1) {
                    *c.lock().unwrap().entry(path.to_string()).or_default() += 1;
                }
                let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n");
            }
        });
        Hits { port, counts }
    }

    fn get(&self, path: &str) -> usize {
        self.counts.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    /// (deps hits, final hits).
    fn both(&self) -> (usize, usize) {
        (self.get("/deps"), self.get("/final"))
    }
}

const DOCKERFILE: &str = r#"FROM busybox AS deps
COPY lib/ /lib-src/
RUN --network=host wget -q -O /dev/null http://127.0.0.1:PORT/deps && cat /lib-src/* > /lib.txt

FROM busybox AS final
WORKDIR /app
COPY src/ ./src/
COPY --from=deps /lib.txt ./lib.txt
RUN --network=host wget -q -O /dev/null http://127.0.0.1:PORT/final && ls -R . > /app/listing
CMD ["cat", "/app/listing"]
"#;

fn bench(hits: &Hits) -> Bench {
    let b = Bench::new();
    b.files(&[
        ("lib/a.txt", "a\n"),
        ("lib/b.txt", "b\n"),
        ("src/main.sh", "echo main\n"),
        ("src/util.sh", "echo util\n"),
    ]);
    b.dockerfile(&DOCKERFILE.replace("PORT", &hits.port.to_string()));
    b
}

/// A CI runner's fresh start: no store, only the base image.
fn wipe(b: &Bench) {
    fs::remove_dir_all(&b.s.root).unwrap();
    b.s.import_busybox("busybox");
}

const DEPS: [&str; 2] = [
    "[deps 2/3] COPY lib/ /lib-src/",
    "[deps 3/3] RUN --network=host wget",
];
const FROM_SRC: [&str; 4] = [
    "[final 3/5] COPY src/ ./src/",
    "[final 4/5] COPY --from=deps",
    "[final 5/5] RUN --network=host wget",
    "[final] CMD",
];

/// Whether the labels of the rebuilt steps are exactly those starting with `want`.
fn assert_rebuilt(meta: &serde_json::Value, want: &[&str]) {
    let r = rebuilt(meta);
    assert_eq!(r.len(), want.len(), "{:?}", steps(meta));
    for (got, w) in r.iter().zip(want) {
        assert!(
            got.starts_with(w),
            "{got:?} is not {w:?}: {:?}",
            steps(meta)
        );
    }
}

#[test]
fn registry_cache_rebuilds_nothing_after_a_wipe_and_only_what_a_change_touches() {
    let reg = Registry::start();
    let hits = Hits::start();
    let b = bench(&hits);
    let cache = format!("type=registry,ref={}/cache/app:ci", reg.host());
    let max = format!("{cache},mode=max");
    let (first, log) = b.build_logged("app", &["--cache-to", &max]);
    assert_eq!(hits.both(), (1, 1));
    assert!(log.contains("cache: exported"), "{log}");

    wipe(&b);
    let (second, log) = b.build_logged("app", &["--cache-from", &cache, "--cache-to", &max]);
    assert_rebuilt(&second, &[]);
    assert_eq!(hits.both(), (1, 1), "no RUN ran: {log}");
    assert_eq!(digest(&first), digest(&second));
    // Lazy: only the output's four layers came down; the deps stage's two stayed remote
    // (its COPY --from input digest came with the cache).
    assert!(log.contains("cache: downloaded 4 blob(s)"), "{log}");
    // The image is whole: every layer is in the store.
    let root = b.unpack("app");
    assert_eq!(read(&root, "app/lib.txt"), "a\nb\n");
    assert!(read(&root, "app/listing").contains("main.sh"));

    // A changed source on a fresh runner: the steps from its COPY on run, nothing else.
    wipe(&b);
    fs::write(b.ctx.join("src/main.sh"), "echo MAIN\n").unwrap();
    let third = b.build("app", &["--cache-from", &cache]);
    assert_rebuilt(&third, &FROM_SRC);
    assert_eq!(hits.both(), (1, 2));
    assert_ne!(digest(&third), digest(&first));
}

#[test]
fn local_cache_dir_mode_min_keeps_the_output_steps_and_max_every_stage() {
    let hits = Hits::start();
    let b = bench(&hits);
    let dir = b.s.scratch("ci-cache");
    let to = format!("type=local,dest={}", dir.display());
    let from = format!("type=local,src={}", dir.display());
    let first = b.build("app", &["--cache-to", &to]);
    assert_eq!(hits.both(), (1, 1));
    assert!(dir.join("index.json").is_file() && dir.join("oci-layout").is_file());

    // mode=min: the deps stage is not in the output, so it runs again; the final stage's
    // steps are all cached (the COPY --from reads the same /lib.txt).
    wipe(&b);
    let m = b.build(
        "app",
        &[
            "--cache-from",
            &from,
            "--cache-to",
            &format!("{to},mode=max"),
        ],
    );
    assert_rebuilt(&m, &DEPS);
    assert_eq!(hits.both(), (2, 1));
    assert_eq!(digest(&m), digest(&first));

    wipe(&b);
    let m = b.build("app", &["--cache-from", &from]);
    assert_rebuilt(&m, &[]);
    assert_eq!(hits.both(), (2, 1));
    assert_eq!(digest(&m), digest(&first));

    wipe(&b);
    fs::write(b.ctx.join("lib/a.txt"), "A\n").unwrap();
    let m = b.build("app", &["--cache-from", &from]);
    let r = rebuilt(&m);
    assert!(
        r[0].starts_with(DEPS[0]) && r[1].starts_with(DEPS[1]),
        "{r:?}"
    );
    assert!(
        r.iter().any(|l| l.contains("COPY --from=deps"))
            && !r.iter().any(|l| l.contains("COPY src/")),
        "{r:?}"
    );
    assert_eq!(hits.both(), (3, 2));
}

#[test]
fn inline_cache_in_a_pushed_image_serves_cache_from() {
    let reg = Registry::start();
    let hits = Hits::start();
    let b = bench(&hits);
    let tag = format!("{}/app:inline", reg.host());
    let first = b.build(&tag, &["--cache-to", "type=inline", "--push"]);
    assert_eq!(hits.both(), (1, 1));

    wipe(&b);
    let m = b.build(&tag, &["--cache-from", &tag]);
    // Inline metadata covers the output image's steps only: the deps stage runs again.
    assert_rebuilt(&m, &DEPS);
    assert_eq!(hits.both(), (2, 1));
    // Without --cache-to type=inline this build's config has no cache field: another digest.
    assert_ne!(digest(&m), digest(&first));
    let again = b.build(&tag, &["--cache-from", &tag, "--cache-to", "type=inline"]);
    assert_eq!(digest(&again), digest(&first));
}

#[test]
fn a_stopped_registry_costs_a_warning_not_the_build() {
    let hits = Hits::start();
    let b = bench(&hits);
    let host = {
        let reg = Registry::start();
        reg.host()
    };
    let cache = format!("type=registry,ref={host}/cache/app:ci");
    let (_, log) = b.build_logged("app", &["--cache-to", &cache]);
    assert!(
        log.contains(&format!("warning: --cache-to {host}")),
        "{log}"
    );
    assert_eq!(hits.both(), (1, 1));

    wipe(&b);
    let (m, log) = b.build_logged("app", &["--cache-from", &cache]);
    assert!(
        log.contains(&format!("warning: --cache-from {host}")),
        "{log}"
    );
    assert!(log.contains("unreachable"), "{log}");
    assert_eq!(rebuilt(&m).len(), steps(&m).len() - 2, "{:?}", steps(&m));
    assert_eq!(hits.both(), (2, 2));
}

#[test]
fn cache_mount_contents_come_back_after_a_wipe() {
    let b = Bench::new();
    let dir = b.s.scratch("ci-cache");
    b.dockerfile(
        "FROM busybox\nRUN --mount=type=cache,id=pkgs,target=/var/cache/pkgs echo warm > /var/cache/pkgs/stamp\n",
    );
    let (_, log) = b.build_logged(
        "m",
        &[
            "--cache-to",
            &format!("type=local,dest={},cache-mounts=true", dir.display()),
        ],
    );
    assert!(log.contains("cache: exported"), "{log}");

    wipe(&b);
    // Another RUN, so it runs: it reads what the first one left in the cache mount.
    b.dockerfile(
        "FROM busybox\nRUN --mount=type=cache,id=pkgs,target=/var/cache/pkgs cp /var/cache/pkgs/stamp /seen\n",
    );
    let (_, log) = b.build_logged(
        "m",
        &["--cache-from", &format!("type=local,src={}", dir.display())],
    );
    assert!(log.contains("restored 1 cache mount"), "{log}");
    assert_eq!(read(&b.unpack("m"), "seen"), "warm\n");
}

#[test]
fn cached_steps_reading_another_stage_do_not_download_it() {
    let hits = Hits::start();
    let b = Bench::new();
    b.files(&[("lib/a.txt", "a\n")]);
    b.dockerfile(
        &r#"FROM busybox AS deps
COPY lib/ /lib/
RUN --network=host wget -q -O /dev/null http://127.0.0.1:PORT/deps && cat /lib/a.txt > /lib.txt

FROM busybox
COPY --from=deps /lib.txt /copied.txt
RUN --mount=from=deps,target=/d --network=host wget -q -O /dev/null http://127.0.0.1:PORT/final && cp /d/lib.txt /mounted.txt
"#
        .replace("PORT", &hits.port.to_string()),
    );
    let dir = b.s.scratch("ci-cache");
    let first = b.build(
        "lazy",
        &[
            "--cache-to",
            &format!("type=local,dest={},mode=max", dir.display()),
        ],
    );
    wipe(&b);
    let (m, log) = b.build_logged(
        "lazy",
        &["--cache-from", &format!("type=local,src={}", dir.display())],
    );
    assert_rebuilt(&m, &[]);
    assert_eq!(hits.both(), (1, 1));
    assert_eq!(digest(&m), digest(&first));
    // The output's two layers; neither of the deps stage's (its COPY --from and --mount
    // inputs came with the cache).
    assert!(log.contains("cache: downloaded 2 blob(s)"), "{log}");
    let root = b.unpack("lazy");
    assert_eq!(read(&root, "copied.txt"), "a\n");
    assert_eq!(read(&root, "mounted.txt"), "a\n");
}

#[test]
fn a_cache_blob_that_fails_in_mid_build_costs_a_rebuild_not_the_build() {
    let hits = Hits::start();
    let b = bench(&hits);
    let dir = b.s.scratch("ci-cache");
    b.build(
        "app",
        &[
            "--cache-to",
            &format!("type=local,dest={},mode=max", dir.display()),
        ],
    );
    // Every layer blob damaged (same size, other bytes); the index, manifest and config stay
    // readable, so the import succeeds and the damage shows only when a blob is fetched.
    let index: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    let blob = |d: &str| {
        dir.join("blobs/sha256")
            .join(d.strip_prefix("sha256:").unwrap())
    };
    let manifest: serde_json::Value = serde_json::from_slice(
        &fs::read(blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    for l in manifest["layers"].as_array().unwrap() {
        let p = blob(l["digest"].as_str().unwrap());
        let mut data = fs::read(&p).unwrap();
        data.iter_mut().for_each(|x| *x = !*x);
        fs::write(&p, data).unwrap();
    }
    wipe(&b);
    let (m, log) = b.build_logged(
        "app",
        &["--cache-from", &format!("type=local,src={}", dir.display())],
    );
    assert!(
        log.contains("building again without the imported cache"),
        "{log}"
    );
    assert_eq!(hits.both(), (2, 2));
    let root = b.unpack("app");
    assert_eq!(read(&root, "app/lib.txt"), "a\nb\n");
    assert!(!rebuilt(&m).is_empty());
}

#[test]
fn a_cache_of_config_only_steps_has_no_layers_and_still_round_trips() {
    let reg = Registry::start();
    let b = Bench::new();
    b.dockerfile("FROM busybox\nENV A=1\nLABEL x=y\n");
    let cache = format!("type=registry,ref={}/cache/cfg", reg.host());
    let (first, log) = b.build_logged("cfg", &["--cache-to", &cache]);
    assert!(log.contains("cache: exported 2 entries"), "{log}");
    wipe(&b);
    let (m, log) = b.build_logged("cfg", &["--cache-from", &cache]);
    assert!(log.contains("cache: 2 entries from"), "{log}");
    assert_rebuilt(&m, &[]);
    assert_eq!(digest(&m), digest(&first));
}

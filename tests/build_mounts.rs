//! RUN --mount: cache directories that persist across builds and stay out of layers, secrets
//! that never reach a blob, the metadata file or the output, bind mounts of the context and of
//! a stage (keyed by their files), and tmpfs.

mod build_support;
mod common;

use std::fs;
use std::path::{Path, PathBuf};

use build_support::{read, rebuilt, steps, Bench};

/// Every file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return out;
    };
    for e in rd {
        let p = e.unwrap().path();
        let md = fs::symlink_metadata(&p).unwrap();
        if md.is_dir() {
            out.extend(files(&p));
        } else if md.is_file() {
            out.push(p);
        }
    }
    out
}

/// Blobs of the store that contain `needle` (decompressing gzip layers).
fn blobs_containing(root: &Path, needle: &[u8]) -> Vec<PathBuf> {
    files(&root.join("oci/blobs"))
        .into_iter()
        .filter(|p| {
            let raw = fs::read(p).unwrap();
            let mut plain = Vec::new();
            let data = if raw.starts_with(&[0x1f, 0x8b]) {
                use std::io::Read;
                flate2::read::MultiGzDecoder::new(&raw[..])
                    .read_to_end(&mut plain)
                    .unwrap();
                &plain
            } else {
                &raw
            };
            data.windows(needle.len()).any(|w| w == needle)
        })
        .collect()
}

#[test]
fn a_cache_mount_keeps_a_counter_across_builds_and_is_in_no_layer() {
    let b = Bench::new();
    b.dockerfile(
        "FROM busybox\n\
         RUN --mount=type=cache,target=/var/cache/counter \\\n\
         n=$(cat /var/cache/counter/n 2>/dev/null || echo 0); n=$((n+1)); \\\n\
         echo $n > /var/cache/counter/n; echo $n > /seen\n",
    );
    b.build("c1", &[]);
    assert_eq!(read(&b.unpack("c1"), "seen"), "1\n");
    // A cached rebuild does not run the step: the counter stays at 1.
    let m = b.build("c1", &[]);
    assert!(rebuilt(&m).is_empty(), "{:?}", steps(&m));
    // Forced to run again, the step sees the previous build's counter.
    b.build("c2", &["--no-cache"]);
    let root = b.unpack("c2");
    assert_eq!(read(&root, "seen"), "2\n");
    assert!(
        !root.join("var/cache/counter/n").exists(),
        "the cache's content is in no layer"
    );
    let counters: Vec<_> = files(&b.s.root.join("cache-mounts-v1"))
        .into_iter()
        .filter(|p| p.ends_with("n"))
        .collect();
    assert_eq!(counters.len(), 1, "{counters:?}");
    assert_eq!(fs::read_to_string(&counters[0]).unwrap(), "2\n");
}

#[test]
fn a_secret_is_readable_in_run_and_found_nowhere_else() {
    let b = Bench::new();
    let value = "s3cr3t-VALUE-7f2c91";
    let secret = b.s.scratch("secrets").join("token");
    fs::write(&secret, value).unwrap();
    // The Dockerfile names only the value's sha256, so finding the value anywhere is a leak.
    let sum: String = {
        use sha2::Digest as _;
        sha2::Sha256::digest(value.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    b.dockerfile(&format!(
        "FROM busybox\n\
         RUN --mount=type=secret,id=token \\\n\
         test \"$(sha256sum < /run/secrets/token | cut -c1-64)\" = {sum} && echo file-ok > /file-ok\n\
         RUN --mount=type=secret,id=token,env=TOKEN,required=true \\\n\
         test \"$(printf %s \"$TOKEN\" | sha256sum | cut -c1-64)\" = {sum} && echo env-ok > /env-ok\n"
    ));
    let meta_path = b.s.scratch("meta").join("secret.json");
    let src = format!("id=token,src={}", secret.display());
    let out =
        b.s.command(&[
            "build",
            "--progress=plain",
            "--secret",
            &src,
            "-t",
            "sec",
            "--metadata-file",
            meta_path.to_str().unwrap(),
            b.ctx.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    b.s.expect(&out, true, &["build"]);
    let root = b.unpack("sec");
    assert_eq!(read(&root, "file-ok"), "file-ok\n");
    assert_eq!(read(&root, "env-ok"), "env-ok\n");
    assert!(!root.join("run/secrets/token").exists());
    let needle = value.as_bytes();
    assert!(blobs_containing(&b.s.root, needle).is_empty());
    for f in files(&b.s.root) {
        let data = fs::read(&f).unwrap();
        assert!(
            !data.windows(needle.len()).any(|w| w == needle),
            "{f:?} holds the secret"
        );
    }
    let meta = fs::read(&meta_path).unwrap();
    assert!(!meta.windows(needle.len()).any(|w| w == needle));
    for o in [&out.stdout, &out.stderr] {
        assert!(!o.windows(needle.len()).any(|w| w == needle));
    }

    // A required secret that was not given fails the step, located.
    b.dockerfile("FROM busybox\nRUN --mount=type=secret,id=missing,required=true true\n");
    let err = b.build_fails(&["-t", "nosec"]);
    assert!(
        err.contains("Dockerfile:2") && err.contains("missing"),
        "{err}"
    );
}

#[test]
fn bind_mounts_read_the_context_and_a_stage_and_are_keyed_by_their_files() {
    let b = Bench::new();
    b.files(&[("data/x.txt", "one\n")]);
    b.dockerfile(
        "FROM busybox AS gen\n\
         RUN echo generated > /g\n\
         FROM busybox\n\
         RUN --mount=type=bind,source=data,target=/mnt cat /mnt/x.txt > /from-ctx\n\
         RUN --mount=type=bind,from=gen,source=/g,target=/gen cat /gen > /from-stage\n\
         RUN --mount=type=bind,source=data,target=/rw,rw echo scribble > /rw/x.txt && cat /rw/x.txt > /rw-saw\n\
         RUN --mount=type=tmpfs,target=/scratch echo t > /scratch/t && ls /scratch > /tmpfs-saw\n",
    );
    b.build("bind", &[]);
    let root = b.unpack("bind");
    assert_eq!(read(&root, "from-ctx"), "one\n");
    assert_eq!(read(&root, "from-stage"), "generated\n");
    assert_eq!(read(&root, "rw-saw"), "scribble\n");
    assert_eq!(read(&root, "tmpfs-saw"), "t\n");
    assert!(!root.join("mnt/x.txt").exists() && !root.join("scratch/t").exists());
    // rw changes are discarded: the context file is untouched.
    assert_eq!(
        fs::read_to_string(b.ctx.join("data/x.txt")).unwrap(),
        "one\n"
    );

    // Changing the bound file busts the RUN that mounts it, and only from there on.
    fs::write(b.ctx.join("data/x.txt"), "two\n").unwrap();
    let m = b.build("bind", &[]);
    let r = rebuilt(&m);
    assert!(
        r.first()
            .is_some_and(|l| l.contains("source=data,target=/mnt")),
        "{r:?}"
    );
    assert!(!r.iter().any(|l| l.starts_with("[gen")), "{r:?}");
    assert_eq!(read(&b.unpack("bind"), "from-ctx"), "two\n");
}

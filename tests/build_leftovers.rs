//! Nothing left behind by a killed strata (SIGKILL: no destructor runs): a RUN's secret is
//! readable nowhere outside the sandbox, and the temp files, sandbox state and host mounts it
//! leaves are reclaimed by the next strata that opens the store, never those of a live one.

mod build_support;
mod common;

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use build_support::{processes_with, read, Bench};

/// Mount points at or below `dir`, from this process's mount table.
fn mounts_under(dir: &Path) -> Vec<String> {
    let dir = dir.to_str().unwrap();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|mp| mp.starts_with(dir))
        .map(str::to_string)
        .collect()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Regular files under `dir` (mounts included) whose bytes contain `needle`.
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| file_holds(e.path(), needle))
        .map(|e| e.into_path())
        .collect()
}

fn file_holds(path: &Path, needle: &[u8]) -> bool {
    let Ok(mut f) = fs::File::open(path) else {
        return false;
    };
    let mut buf = vec![0u8; 1 << 20];
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        carry.extend_from_slice(&buf[..n]);
        if carry.windows(needle.len()).any(|w| w == needle) {
            return true;
        }
        let keep = carry.len().min(needle.len() - 1);
        carry.drain(..carry.len() - keep);
    }
}

/// Incompressible bytes, so the layer blob takes a while to write.
fn random_file(path: &Path, len: usize) {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut f = std::io::BufWriter::new(fs::File::create(path).unwrap());
    for _ in 0..len / 8 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        f.write_all(&x.to_le_bytes()).unwrap();
    }
    f.flush().unwrap();
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !done() {
        assert!(t0.elapsed() < timeout, "{what} never happened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A secret whose value appears in no file of the test but the one `--secret` reads.
struct Secret {
    marker: String,
    arg: String,
}

fn secret(b: &Bench) -> Secret {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let marker = format!("leftover-marker-{}-{nanos}", std::process::id());
    let src = b.s.scratch("secret-src").join("s");
    fs::write(&src, &marker).unwrap();
    Secret {
        arg: format!("id=s,src={}", src.display()),
        marker,
    }
}

/// `strata build` of the bench's context with a private `$TMPDIR`, in the background.
fn spawn_build(b: &Bench, tmpdir: &Path, secret: &Secret, tag: &str) -> Child {
    b.s.command(&[
        "build",
        "--progress=plain",
        "--secret",
        &secret.arg,
        "-t",
        tag,
        b.ctx.to_str().unwrap(),
    ])
    .env("TMPDIR", tmpdir)
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap()
}

fn stderr_of(child: &mut Child) -> String {
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    err
}

#[test]
fn sigkill_mid_build_leaves_no_secret_and_the_next_strata_reclaims_everything() {
    let b = Bench::new();
    let tmpdir = b.s.scratch("tmpdir");
    let secret = secret(&b);
    let tmp = b.s.root.join("tmp");
    random_file(&b.ctx.join("big.bin"), 192 << 20);
    // Two stages run at once: one writes a big layer blob while the other's RUN holds its
    // secret; the kill comes when both are under way.
    b.dockerfile(
        "FROM busybox AS big\nCOPY big.bin /big.bin\n\n\
         FROM busybox AS secret\nRUN --mount=type=secret,id=s sleep 7471\n\n\
         FROM busybox\nCOPY --from=big /big.bin /b\nCOPY --from=secret /bin/busybox /x\n",
    );
    let mut child = spawn_build(&b, &tmpdir, &secret, "killed");
    let blob_in_progress = || {
        names(&tmp).iter().any(|n| {
            n.starts_with("blob-")
                && !n.ends_with(".lock")
                && fs::metadata(tmp.join(n)).is_ok_and(|m| m.len() > 1 << 20)
        })
    };
    let t0 = Instant::now();
    while processes_with("sleep 7471").is_empty() || !blob_in_progress() {
        if t0.elapsed() > Duration::from_secs(60) || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the RUN and the blob were never under way together\n{}\n{}",
                stderr_of(&mut child),
                b.s.listing()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The sandbox dies with strata (its helper and PID 1 have SIGKILL as parent-death signal).
    wait_for("the sandbox's end", Duration::from_secs(5), || {
        processes_with("sleep 7471").is_empty()
    });

    // What the killed strata left: its temp items (a partial blob among them) and the COPY's
    // overlay still mounted on the host, under the store's temp area only.
    let left = names(&tmp);
    assert!(
        left.iter()
            .any(|n| n.starts_with("blob-") && !n.ends_with(".lock")),
        "{left:?}"
    );
    assert!(
        !mounts_under(&tmp).is_empty(),
        "the COPY's overlay was mounted at the kill"
    );
    assert!(
        names(&tmpdir).is_empty(),
        "nothing in $TMPDIR: {:?}",
        names(&tmpdir)
    );
    // The secret is nowhere: not in /dev/shm, not in $TMPDIR, not in the store (mounts
    // included). It lived on only in the dead sandbox's mount namespace.
    let needle = secret.marker.as_bytes();
    for dir in [Path::new("/dev/shm"), &tmpdir, &b.s.root] {
        let found = files_holding(dir, needle);
        assert!(found.is_empty(), "the secret is readable in {found:?}");
    }
    let shm = names(Path::new("/dev/shm"));
    assert!(
        !shm.iter().any(|n| n.starts_with("strata-")),
        "/dev/shm: {shm:?}"
    );

    // The next strata, whatever it does, reclaims it all: temp files, sandbox state, mounts.
    let mut images = b.s.command(&["images"]);
    images.env("TMPDIR", &tmpdir);
    let out = b.s.run_cmd(images);
    b.s.expect(&out, true, &["images"]);
    assert_eq!(names(&tmp), Vec::<String>::new(), "{}", b.s.listing());
    let test_dir = b.s.root.parent().unwrap();
    assert_eq!(mounts_under(test_dir), Vec::<String>::new());
    assert!(names(&tmpdir).is_empty(), "{:?}", names(&tmpdir));

    // And the store works: a build with the secret reads it.
    b.dockerfile("FROM busybox\nRUN --mount=type=secret,id=s wc -c < /run/secrets/s > /n\n");
    let mut c = spawn_build(&b, &tmpdir, &secret, "after");
    let status = c.wait().unwrap();
    assert!(status.success(), "{}", stderr_of(&mut c));
    assert_eq!(
        read(&b.unpack("after"), "n").trim(),
        secret.marker.len().to_string()
    );
    assert!(names(&tmp).is_empty(), "{:?}", names(&tmp));
    assert!(names(&tmpdir).is_empty(), "{:?}", names(&tmpdir));
}

#[test]
fn a_concurrent_strata_leaves_a_live_builds_temp_items_alone() {
    let b = Bench::new();
    let tmpdir = b.s.scratch("tmpdir");
    let secret = secret(&b);
    let tmp = b.s.root.join("tmp");
    // The RUN sees the live context through its bind mount, and waits there for `go`.
    b.files(&[("f", "x")]);
    b.dockerfile(
        "FROM busybox\nCOPY f /f\n\
         RUN --mount=type=secret,id=s --mount=type=bind,target=/ctx \
         sh -c ': wait-5273; echo a > /a; i=0; \
         while [ ! -e /ctx/go ] && [ $i -lt 120 ]; do sleep 1; i=$((i+1)); done; \
         sha256sum < /run/secrets/s > /sum'\n",
    );
    let mut first = spawn_build(&b, &tmpdir, &secret, "first");
    wait_for("the first build's RUN", Duration::from_secs(30), || {
        !processes_with("wait-5273").is_empty()
    });
    let live = names(&tmp);
    assert!(
        live.iter().any(|n| n.starts_with("step-")) && live.iter().any(|n| n.ends_with(".lock")),
        "{live:?}"
    );

    // Others open the store meanwhile, each sweeping tmp/: `images`, and a whole build of
    // another context (with its own temp items, mounts and a RUN).
    let other = b.s.scratch("other");
    fs::write(other.join("g"), "y").unwrap();
    fs::write(
        other.join("Dockerfile"),
        "FROM busybox\nCOPY g /g\nRUN cat /g > /h\n",
    )
    .unwrap();
    for _ in 0..3 {
        b.s.ok(&["images"]);
    }
    b.s.ok(&["build", "-t", "other", other.to_str().unwrap()]);
    b.s.ok(&["images"]);
    let still = names(&tmp);
    for n in &live {
        assert!(
            still.contains(n),
            "{n} was taken from a live build: {still:?}"
        );
    }
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first build ended early"
    );

    fs::write(b.ctx.join("go"), "").unwrap();
    let status = first.wait().unwrap();
    assert!(status.success(), "{}", stderr_of(&mut first));
    let root = b.unpack("first");
    assert_eq!(read(&root, "a"), "a\n");
    let want: String = {
        use sha2::Digest as _;
        sha2::Sha256::digest(secret.marker.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert!(
        read(&root, "sum").starts_with(&want),
        "{}",
        read(&root, "sum")
    );
    assert_eq!(read(&b.unpack("other"), "h"), "y");
    assert!(names(&tmp).is_empty(), "{:?}", names(&tmp));
    assert!(names(&tmpdir).is_empty(), "{:?}", names(&tmpdir));
}

//! `POST /build` and `/build/prune` of `strata system service`, driven by the real docker CLI
//! (the classic builder protocol, with and without `DOCKER_BUILDKIT=0`), curl and the Python
//! SDK. Every image is built from the offline busybox; nothing leaves loopback.

mod api_support;
mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use api_support::Service;
use common::Strata;

/// The store's temp area (`store::layout::TMP_DIR`).
const TMP: &str = "tmp";

/// `docker ARGS` against the service with `env` set (`DOCKER_BUILDKIT` is removed first).
fn docker_env(svc: &Service, env: &[(&str, &str)], args: &[&str]) -> Output {
    svc.docker_command()
        .args(args)
        .env_remove("DOCKER_BUILDKIT")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run the docker CLI")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(s: &Strata, svc: &Service, env: &[(&str, &str)], args: &[&str]) -> String {
    let out = docker_env(svc, env, args);
    let (o, e) = text(&out);
    assert!(
        out.status.success(),
        "docker {} failed: {}\n--- stdout\n{o}\n--- stderr\n{e}\n{}",
        args.join(" "),
        out.status,
        s.listing()
    );
    o
}

/// A three-stage project with a `.dockerignore`d file and a build arg.
fn project(s: &Strata) -> PathBuf {
    let dir = s.scratch("apibuild-ctx");
    fs::write(
        dir.join("Dockerfile"),
        "FROM busybox AS base\n\
         ARG GREETING=unset\n\
         RUN echo \"$GREETING\" > /greeting\n\
         FROM base AS build\n\
         RUN echo built > /built\n\
         FROM base AS final\n\
         COPY . /ctx/\n\
         RUN echo final > /final\n",
    )
    .unwrap();
    fs::write(dir.join(".dockerignore"), "secret.txt\n").unwrap();
    fs::write(dir.join("keep.txt"), "kept\n").unwrap();
    fs::write(dir.join("secret.txt"), "do not send\n").unwrap();
    dir
}

/// Entries of the store's temp area that a build context leaves while it lives.
fn context_leftovers(s: &Strata) -> Vec<String> {
    fs::read_dir(s.root.join(TMP))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("build-context-") || n.starts_with("context-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn docker_build_with_the_classic_builder() {
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);
    s.import_busybox("busybox");
    let ctx = project(&s);
    let ctx = ctx.to_str().unwrap();
    let legacy = [("DOCKER_BUILDKIT", "0")];

    let out = ok(
        &s,
        &svc,
        &legacy,
        &[
            "build",
            "-t",
            "apibuild-a:1",
            "-t",
            "apibuild-b:2",
            "--build-arg",
            "GREETING=hello-arg",
            ctx,
        ],
    );
    assert!(out.contains("Step 1/"), "{out}");
    assert!(out.contains(" : FROM busybox AS base"), "{out}");
    assert!(out.contains("Successfully built "), "{out}");
    assert!(out.contains("Successfully tagged apibuild-a:1"), "{out}");
    assert!(out.contains("Successfully tagged apibuild-b:2"), "{out}");

    // The same store: the CLI lists what the service built, under both tags.
    let listed = s.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    let id_of = |name: &str| {
        listed
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or_else(|| panic!("{name} not in:\n{listed}"))
            .to_string()
    };
    assert_eq!(id_of("apibuild-a:1"), id_of("apibuild-b:2"));

    // It runs (strata's own `run`: the same store): the build arg reached RUN, the ignored file never reached COPY.
    let ran = s.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "apibuild-a:1",
        "sh",
        "-c",
        "cat /greeting /final; ls /ctx",
    ]);
    assert!(ran.contains("hello-arg\nfinal\n"), "{ran}");
    assert!(ran.contains("keep.txt"), "{ran}");
    assert!(!ran.contains("secret.txt"), "{ran}");

    // `--target` stops at the named stage; `-q` prints only the ID. The second build reuses
    // the first one's cache for the shared stage.
    let quiet = ok(
        &s,
        &svc,
        &legacy,
        &[
            "build",
            "-q",
            "--target",
            "build",
            "--build-arg",
            "GREETING=hello-arg",
            "-t",
            "apibuild-target",
            ctx,
        ],
    );
    assert!(quiet.trim().starts_with("sha256:"), "{quiet}");
    assert_eq!(quiet.trim().lines().count(), 1, "{quiet}");
    let ran = s.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "apibuild-target",
        "sh",
        "-c",
        "cat /built; test -e /final || echo no-final",
    ]);
    assert_eq!(ran, "built\nno-final\n");
    let inspected = ok(
        &s,
        &svc,
        &[],
        &["image", "inspect", "-f", "{{.Id}}", "apibuild-target"],
    );
    assert_eq!(inspected.trim(), quiet.trim());
    assert!(
        context_leftovers(&s).is_empty(),
        "{:?}",
        context_leftovers(&s)
    );
}

#[test]
fn docker_build_without_buildkit_env_and_a_failing_run() {
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);
    s.import_busybox("busybox");
    let ctx = s.scratch("apibuild-plain");
    fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN echo plain > /p\n",
    )
    .unwrap();
    // No DOCKER_BUILDKIT: the CLI asks /_ping, sees Builder-Version 1 and no buildx, and
    // uses the classic builder (it may warn that it is deprecated).
    let out = ok(
        &s,
        &svc,
        &[],
        &["build", "-t", "apibuild-plain", ctx.to_str().unwrap()],
    );
    assert!(
        out.contains("Successfully tagged apibuild-plain:latest"),
        "{out}"
    );

    // The classic builder's RUN settings: network, extra hosts, /dev/shm size.
    let opts = s.scratch("apibuild-opts");
    fs::write(
        opts.join("Dockerfile"),
        "FROM busybox\n\
         RUN grep -c : /proc/net/dev > /ifs; grep apihost /etc/hosts > /hosts; \
         df -k /dev/shm | tail -1 | awk '{print $2}' > /shm\n",
    )
    .unwrap();
    ok(
        &s,
        &svc,
        &[("DOCKER_BUILDKIT", "0")],
        &[
            "build",
            "--network",
            "none",
            "--add-host",
            "apihost:10.1.2.3",
            "--shm-size",
            "32m",
            "-t",
            "apibuild-opts",
            opts.to_str().unwrap(),
        ],
    );
    let ran = s.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "apibuild-opts",
        "cat",
        "/ifs",
        "/hosts",
        "/shm",
    ]);
    assert_eq!(ran, "1\n10.1.2.3\tapihost\n32768\n");

    let bad = s.scratch("apibuild-bad");
    fs::write(
        bad.join("Dockerfile"),
        "FROM busybox\nRUN echo boom-output && exit 3\n",
    )
    .unwrap();
    let out = docker_env(
        &svc,
        &[("DOCKER_BUILDKIT", "0")],
        &["build", "-t", "apibuild-bad", bad.to_str().unwrap()],
    );
    let (o, e) = text(&out);
    // The classic builder's message, and its exit code as the CLI's.
    assert_eq!(out.status.code(), Some(3), "{o}\n{e}");
    assert!(o.contains("boom-output"), "{o}");
    assert!(
        e.contains(
            "The command '/bin/sh -c echo boom-output && exit 3' returned a non-zero code: 3"
        ),
        "{e}"
    );
    let listed = s.ok(&["images", "--format", "{{.Repository}}"]);
    assert!(!listed.contains("apibuild-bad"), "{listed}");
    assert!(
        context_leftovers(&s).is_empty(),
        "{:?}",
        context_leftovers(&s)
    );
}

/// A tar of `files` (name, bytes), as `tar` writes it.
fn tar_of(dir: &Path, files: &[(&str, &[u8])]) -> PathBuf {
    let src = dir.join("src");
    fs::create_dir_all(&src).unwrap();
    for (name, bytes) in files {
        fs::write(src.join(name), bytes).unwrap();
    }
    let tar = dir.join("ctx.tar");
    let st = Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(&src)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    tar
}

#[test]
fn curl_contexts_compressed_and_truncated() {
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);
    s.import_busybox("busybox");
    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let dir = s.scratch("apibuild-tars");
    let tar = tar_of(
        &dir,
        &[
            ("Dockerfile", b"FROM busybox\nCOPY big /big\n"),
            ("big", &big),
        ],
    );

    // gzip, detected by its magic bytes.
    let st = Command::new("gzip").arg("-k").arg(&tar).status().unwrap();
    assert!(st.success());
    let gz = format!("@{}", dir.join("ctx.tar.gz").display());
    let r = svc.curl(
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/x-tar",
            "--data-binary",
            &gz,
        ],
        "/v1.50/build?t=apibuild-gz",
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains(r#"{"aux":{"ID":"sha256:"#), "{}", r.body);
    assert!(
        r.body.contains("Successfully tagged apibuild-gz:latest"),
        "{}",
        r.body
    );

    // The same tar cut in the middle of `big`: Docker's error, no image, nothing left over.
    let bytes = fs::read(&tar).unwrap();
    let cut = dir.join("cut.tar");
    fs::write(&cut, &bytes[..100_000]).unwrap();
    let r = svc.curl(
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/x-tar",
            "--data-binary",
            &format!("@{}", cut.display()),
        ],
        "/v1.50/build?t=apibuild-cut",
    );
    assert_eq!(r.status, 500, "{r:?}");
    let msg = r.json()["message"].as_str().unwrap_or_default().to_string();
    assert!(msg.starts_with("unexpected EOF"), "{msg}");
    assert!(
        context_leftovers(&s).is_empty(),
        "{:?}",
        context_leftovers(&s)
    );
    let listed = s.ok(&["images", "--format", "{{.Repository}}"]);
    assert!(!listed.contains("apibuild-cut"), "{listed}");

    // A body that stops before its declared length: curl gives up, the upload fails, nothing
    // is kept.
    let _ = Command::new("curl")
        .args(["-s", "--max-time", "3", "--unix-socket"])
        .arg(&svc.sock)
        .args([
            "-X",
            "POST",
            "-H",
            "Content-Length: 900000",
            "--data-binary",
        ])
        .arg(format!("@{}", cut.display()))
        .arg("http://strata/v1.50/build?t=apibuild-short")
        .output()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !context_leftovers(&s).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        context_leftovers(&s).is_empty(),
        "{:?}",
        context_leftovers(&s)
    );
    assert_eq!(svc.curl(&[], "/_ping").status, 200);

    // Bad query values are 400s with the parameter named.
    let r = svc.curl(&["-X", "POST"], "/v1.50/build?buildargs=%7B");
    assert_eq!(r.status, 400, "{r:?}");
    assert!(
        r.json()["message"].as_str().unwrap().contains("buildargs"),
        "{r:?}"
    );
}

#[test]
fn a_client_that_hangs_up_cancels_its_build() {
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);
    s.import_busybox("busybox");
    let dir = s.scratch("apibuild-cancel");
    let tar = tar_of(
        &dir,
        &[(
            "Dockerfile",
            b"FROM busybox\nRUN sleep 4217 && touch /done\n",
        )],
    );
    // curl gives up after 3 s, in the middle of the RUN.
    let _ = Command::new("curl")
        .args(["-s", "--max-time", "3", "--unix-socket"])
        .arg(&svc.sock)
        .args(["-X", "POST", "--data-binary"])
        .arg(format!("@{}", tar.display()))
        .arg("http://strata/v1.50/build?t=apibuild-cancel")
        .output()
        .unwrap();
    let running = || {
        fs::read_dir("/proc")
            .unwrap()
            .filter_map(Result::ok)
            .filter_map(|e| fs::read(e.path().join("cmdline")).ok())
            .any(|c| c.split(|b| *b == 0).any(|a| a == b"4217"))
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while running() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!running(), "the RUN step outlived its client");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !context_leftovers(&s).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        context_leftovers(&s).is_empty(),
        "{:?}",
        context_leftovers(&s)
    );
    let listed = s.ok(&["images", "--format", "{{.Repository}}"]);
    assert!(!listed.contains("apibuild-cancel"), "{listed}");
    // The service is still there.
    assert_eq!(svc.curl(&[], "/_ping").status, 200);
}

#[test]
fn python_sdk_builds_from_a_tar_context_and_build_prune() {
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);
    s.import_busybox("busybox");
    let dir = s.scratch("apibuild-py");
    let tar = tar_of(
        &dir,
        &[
            (
                "Dockerfile",
                b"FROM busybox\nARG V\nCOPY f /f\nRUN echo \"py-$V\" >> /f\n",
            ),
            ("f", b"from-tar\n"),
        ],
    );
    let script = format!(
        r#"
import docker
c = docker.from_env()
with open({tar:?}, "rb") as f:
    img, logs = c.images.build(fileobj=f, custom_context=True, tag="apibuild-py:1",
                               buildargs={{"V": "7"}}, rm=True)
print(img.id)
print("Successfully tagged apibuild-py:1" in "".join(l.get("stream", "") for l in logs))
"#,
        tar = tar.display().to_string()
    );
    let o = svc.python_ok(&script);
    let id = s.ok(&["inspect", "-f", "{{.Id}}", "apibuild-py:1"]);
    assert_eq!(o, format!("{}\nTrue\n", id.trim()));
    let ran = s.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "apibuild-py:1",
        "cat",
        "/f",
    ]);
    assert_eq!(ran, "from-tar\npy-7\n");

    // The build left cache behind; prune of all of it reports what went.
    let r = svc.curl(&["-X", "POST"], "/v1.50/build/prune?all=1");
    assert_eq!(r.status, 200, "{r:?}");
    let v = r.json();
    assert!(v["SpaceReclaimed"].as_i64().unwrap() > 0, "{v}");
    assert!(!v["CachesDeleted"].as_array().unwrap().is_empty(), "{v}");
    let again = svc.curl(&["-X", "POST"], "/v1.50/build/prune?all=1");
    assert_eq!(again.json()["SpaceReclaimed"], 0, "{again:?}");
    let r = svc.curl(
        &["-X", "POST"],
        "/v1.50/build/prune?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D",
    );
    assert_eq!(r.status, 400, "{r:?}");
    // The image itself stays.
    assert_eq!(s.ok(&["inspect", "-f", "{{.Id}}", "apibuild-py:1"]), id);
}

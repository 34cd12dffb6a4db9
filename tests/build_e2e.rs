//! Real builds on a busybox base imported by the test: every instruction, multi-stage with
//! `--target`, ONBUILD, .dockerignore; images judged by skopeo (config) and umoci (files).

mod build_support;
mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;

use build_support::{read, steps, Bench};

#[test]
fn every_instruction_lands_in_config_history_and_files() {
    let b = Bench::new();
    b.files(&[("app.txt", "app\n"), ("conf/a.conf", "a=1\n")]);
    b.dockerfile(
        r#"# syntax=docker/dockerfile:1
ARG GREETING=hello
FROM busybox AS base
ARG GREETING
MAINTAINER someone@example.com
LABEL org.example.one="1" two=2
ENV APP_HOME=/srv/app LANG=C.UTF-8
WORKDIR $APP_HOME
COPY app.txt ./
ADD conf /etc/app/
RUN echo "$GREETING from $(pwd)" > greeting && echo "runner:x:1234:1234::/home/runner:/bin/sh" >> /etc/passwd
USER runner
EXPOSE 8080 53/udp
VOLUME ["/data"]
SHELL ["/bin/sh", "-ec"]
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=5s --retries=2 CMD ["true"]
ONBUILD RUN echo child
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat greeting"]
"#,
    );
    let meta = b.build("all", &["--label", "from.cli=yes"]);
    let cfg = b.config("all");
    let c = &cfg["config"];
    assert_eq!(c["User"], "runner");
    assert_eq!(c["WorkingDir"], "/srv/app");
    assert_eq!(c["Entrypoint"], serde_json::json!(["/bin/sh", "-c"]));
    assert_eq!(c["Cmd"], serde_json::json!(["cat greeting"]));
    assert_eq!(c["Shell"], serde_json::json!(["/bin/sh", "-ec"]));
    assert_eq!(c["StopSignal"], "SIGQUIT");
    assert_eq!(c["OnBuild"], serde_json::json!(["RUN echo child"]));
    assert_eq!(c["Healthcheck"]["Test"], serde_json::json!(["CMD", "true"]));
    assert_eq!(c["Healthcheck"]["Interval"], 5_000_000_000u64);
    assert_eq!(c["Healthcheck"]["Retries"], 2);
    let env: Vec<&str> = c["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        env.contains(&"APP_HOME=/srv/app") && env.contains(&"LANG=C.UTF-8"),
        "{env:?}"
    );
    assert!(
        !env.iter().any(|e| e.starts_with("GREETING")),
        "ARGs are not ENV: {env:?}"
    );
    assert_eq!(c["Labels"]["org.example.one"], "1");
    assert_eq!(c["Labels"]["two"], "2");
    assert_eq!(c["Labels"]["from.cli"], "yes");
    assert!(
        c["ExposedPorts"].get("8080/tcp").is_some() && c["ExposedPorts"].get("53/udp").is_some()
    );
    assert!(c["Volumes"].get("/data").is_some());
    assert_eq!(cfg["author"], "someone@example.com");

    // One history entry per instruction after FROM, plus the base's; layers only for
    // WORKDIR (created /srv/app), COPY, ADD and RUN.
    let hist = cfg["history"].as_array().unwrap();
    let ours: Vec<&serde_json::Value> = hist.iter().skip(1).collect();
    assert_eq!(ours.len(), 17, "{hist:#?}");
    let with_layer: Vec<&str> = ours
        .iter()
        .filter(|h| h.get("empty_layer").is_none())
        .map(|h| h["created_by"].as_str().unwrap())
        .collect();
    assert_eq!(with_layer.len(), 4, "{with_layer:?}");
    assert!(with_layer[0].starts_with("WORKDIR"));
    assert!(
        with_layer[3].starts_with("RUN |1 GREETING=hello /bin/sh -c echo"),
        "{with_layer:?}"
    );
    assert_eq!(cfg["rootfs"]["diff_ids"].as_array().unwrap().len(), 5);

    let root = b.unpack("all");
    assert_eq!(read(&root, "srv/app/app.txt"), "app\n");
    assert_eq!(read(&root, "etc/app/a.conf"), "a=1\n");
    assert_eq!(read(&root, "srv/app/greeting"), "hello from /srv/app\n");
    assert!(read(&root, "etc/passwd").contains("runner:x:1234:"));
    // The sandbox's own files never reach a layer.
    assert!(!root.join("etc/resolv.conf").exists());
    assert!(!root.join("etc/hostname").exists());
    assert_eq!(steps(&meta).len(), 18);
}

#[test]
fn target_builds_only_the_stages_it_needs() {
    let b = Bench::new();
    b.dockerfile(
        r#"FROM busybox AS broken
RUN echo this stage must never run && exit 3

FROM busybox AS tools
RUN echo tool > /tool

FROM busybox AS app
COPY --from=tools /tool /tool
RUN cat /tool > /copied

FROM broken
"#,
    );
    let meta = b.build("app", &["--target", "APP"]);
    let labels: Vec<String> = steps(&meta).into_iter().map(|(l, _)| l).collect();
    assert!(labels.iter().all(|l| !l.contains("broken")), "{labels:?}");
    let root = b.unpack("app");
    assert_eq!(read(&root, "copied"), "tool\n");

    // Without --target the last stage (on `broken`) is built and fails, located.
    let err = b.build_fails(&["-t", "whole"]);
    assert!(err.contains("Dockerfile:2"), "{err}");
    assert!(err.contains("exit code: 3"), "{err}");
    assert!(
        err.contains("this stage must never run"),
        "the output tail is shown: {err}"
    );
}

#[test]
fn onbuild_triggers_run_in_children_from_a_stage_and_from_a_stored_image() {
    let b = Bench::new();
    b.files(&[("marker", "m\n")]);
    b.dockerfile(
        r#"FROM busybox AS base
ONBUILD COPY marker /from-trigger
ONBUILD RUN echo triggered > /ran
RUN echo base > /base

FROM base
RUN cat /ran /from-trigger > /seen
"#,
    );
    b.build("child", &[]);
    let root = b.unpack("child");
    assert_eq!(read(&root, "seen"), "triggered\nm\n");
    let cfg = b.config("child");
    assert!(cfg["config"].get("OnBuild").is_none() || cfg["config"]["OnBuild"].is_null());

    // The base stage as an image of its own keeps its triggers; a build FROM it runs them.
    b.build("onbase", &["--target", "base"]);
    assert_eq!(
        b.config("onbase")["config"]["OnBuild"],
        serde_json::json!(["COPY marker /from-trigger", "RUN echo triggered > /ran"])
    );
    b.dockerfile("FROM onbase\nRUN cat /ran > /seen2\n");
    b.build("grandchild", &[]);
    let root = b.unpack("grandchild");
    assert_eq!(read(&root, "seen2"), "triggered\n");
    assert_eq!(read(&root, "from-trigger"), "m\n");
}

#[test]
fn dockerignore_keeps_files_out_of_copy_and_of_the_cache_key() {
    let b = Bench::new();
    b.files(&[
        ("keep.txt", "keep\n"),
        ("secret.env", "TOKEN=1\n"),
        ("logs/a.log", "x\n"),
        ("logs/keep.log", "k\n"),
        (".dockerignore", "*.env\nlogs/*.log\n!logs/keep.log\n"),
    ]);
    b.dockerfile("FROM busybox\nCOPY . /ctx/\n");
    let m1 = b.build("ign", &[]);
    let root = b.unpack("ign");
    assert!(root.join("ctx/keep.txt").exists());
    assert!(!root.join("ctx/secret.env").exists());
    assert!(!root.join("ctx/logs/a.log").exists());
    assert!(root.join("ctx/logs/keep.log").exists());

    // Changing an ignored file busts nothing.
    fs::write(b.ctx.join("secret.env"), "TOKEN=2\n").unwrap();
    let m2 = b.build("ign", &[]);
    assert!(build_support::rebuilt(&m2).is_empty(), "{:?}", steps(&m2));
    assert_eq!(build_support::digest(&m1), build_support::digest(&m2));

    // Naming an ignored file is an error, as in Docker.
    b.dockerfile("FROM busybox\nCOPY secret.env /\n");
    let err = b.build_fails(&["-t", "bad"]);
    assert!(
        err.contains("Dockerfile:2") && err.contains("secret.env"),
        "{err}"
    );
}

#[test]
fn run_sees_user_workdir_env_and_shell_and_its_layer_holds_deletions() {
    let b = Bench::new();
    b.dockerfile(
        r#"FROM busybox
RUN mkdir -p /work/sub && echo a > /work/sub/a && echo gone > /work/gone && echo "app:x:4321:4321::/:/bin/sh" >> /etc/passwd
RUN rm /work/gone && chown app /work/sub/a
ENV WHO=world
WORKDIR /new/dir
USER app
RUN id -u > /tmp/uid && pwd > /tmp/pwd && echo "hi $WHO" > /tmp/env && stat -c %U /new/dir > /tmp/owner
"#,
    );
    b.build("runs", &[]);
    let root = b.unpack("runs");
    assert!(!root.join("work/gone").exists());
    assert_eq!(fs::metadata(root.join("work/sub/a")).unwrap().uid(), 4321);
    assert_eq!(read(&root, "tmp/uid"), "4321\n");
    assert_eq!(read(&root, "tmp/pwd"), "/new/dir\n");
    assert_eq!(read(&root, "tmp/env"), "hi world\n");
    assert_eq!(
        read(&root, "tmp/owner"),
        "root\n",
        "WORKDIR before USER is root's"
    );
}

#[test]
fn progress_modes_iidfile_and_quiet() {
    let b = Bench::new();
    b.files(&[("f", "x")]);
    b.dockerfile("FROM busybox\nCOPY f /f\nRUN echo visible-output\n");
    let run = |args: &[&str]| {
        let mut all = vec!["build"];
        all.extend_from_slice(args);
        let ctx = b.ctx.to_str().unwrap().to_string();
        all.push(&ctx);
        let out = b.s.command(&all).output().unwrap();
        b.s.expect(&out, true, &all);
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (_, plain) = run(&["--progress", "plain", "--no-cache", "-t", "p"]);
    assert!(plain.contains("[2/3] COPY f /f"), "{plain}");
    assert!(plain.contains("visible-output"), "{plain}");
    assert!(plain.contains("DONE"), "{plain}");

    let (_, raw) = run(&["--progress", "rawjson", "--no-cache", "-t", "p"]);
    let lines: Vec<serde_json::Value> = raw
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert!(lines.iter().any(|v| v["vertexes"].is_array()), "{raw}");
    assert!(lines.iter().any(|v| v["logs"].is_array()), "{raw}");

    let iid = b.s.scratch("iid").join("id");
    let (stdout, stderr) = run(&["-q", "-t", "p", "--iidfile", iid.to_str().unwrap()]);
    assert!(
        stderr.is_empty(),
        "quiet prints nothing on stderr: {stderr}"
    );
    let id = fs::read_to_string(&iid).unwrap();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    assert_eq!(stdout.trim(), id);
    let inspect: serde_json::Value = serde_json::from_str(&b.s.ok(&["inspect", "p"])).unwrap();
    assert_eq!(inspect[0]["Id"], id);

    let err =
        b.s.fails(&["build", "--progress", "fancy", b.ctx.to_str().unwrap()]);
    assert!(err.contains("fancy") && err.contains("plain"), "{err}");
}

//! Docker's listing and object commands as scripts use them: `images --filter`, `rmi` of an
//! image a container uses, `volume ls --filter/--format`, `volume prune`, `inspect --type`
//! and its fall-through, `history --format`, `system df --format`, `info` and `version`.
//! Containers are made with `create` (never started), so nothing here needs root.

mod common;

use std::ffi::OsStr;

use common::Strata;

/// Imports a one-file rootfs (`content` decides the image ID) as `reference`, created at
/// `epoch`, with Dockerfile `changes`; returns the image ID.
fn import(s: &Strata, content: &str, epoch: u64, changes: &[&str], reference: &str) -> String {
    let dir = s.scratch(&format!("rootfs-{content}"));
    std::fs::write(dir.join("file"), content).unwrap();
    let mut args: Vec<&OsStr> = vec![OsStr::new("import")];
    for c in changes {
        args.push(OsStr::new("-c"));
        args.push(OsStr::new(c));
    }
    args.push(dir.as_os_str());
    args.push(OsStr::new(reference));
    let mut c = s.command(&args);
    c.env("SOURCE_DATE_EPOCH", epoch.to_string());
    let out = s.run_cmd(c);
    s.expect(&out, true, &args);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn short(id: &str) -> &str {
    &id.trim_start_matches("sha256:")[..12]
}

/// `images --format '{{.Repository}}:{{.Tag}}' ARGS…`, one name per line.
fn names(s: &Strata, args: &[&str]) -> Vec<String> {
    let mut all = vec!["images", "--format", "{{.Repository}}:{{.Tag}}"];
    all.extend_from_slice(args);
    s.ok(&all).lines().map(str::to_string).collect()
}

/// Runs and expects exit code `code`; returns (stdout, stderr).
fn code(s: &Strata, args: &[&str], code: i32) -> (String, String) {
    let out = s.run_cmd(s.command(args));
    assert_eq!(out.status.code(), Some(code), "{}", s.report("exit code", args, &out));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn images_filters_select_as_docker() {
    let s = Strata::new();
    import(&s, "a", 1_600_000_000, &["LABEL tier=base"], "base:v1");
    import(
        &s,
        "b",
        1_650_000_000,
        &["LABEL tier=app", "LABEL team=x"],
        "app:v1",
    );
    s.ok(&["tag", "app:v1", "user/app:v1"]);
    let old = import(&s, "c", 1_700_000_000, &[], "app:v2");
    // Moving app:v2 leaves the old image dangling.
    import(&s, "d", 1_750_000_000, &[], "app:v2");

    assert_eq!(
        s.ok(&["images", "-f", "dangling=true", "-q"]),
        format!("{}\n", short(&old))
    );
    assert_eq!(
        names(&s, &["--filter", "dangling=false"]),
        ["app:v2", "app:v1", "user/app:v1", "base:v1"]
    );
    // Without filters the dangling image is listed too, as `<none>`; -a shows the same.
    assert_eq!(
        names(&s, &[]),
        ["app:v2", "<none>:<none>", "app:v1", "user/app:v1", "base:v1"]
    );
    assert_eq!(names(&s, &["-a"]), names(&s, &[]));
    // reference: path.Match globs against `name:tag` and `name`; repeated = OR.
    assert_eq!(names(&s, &["-f", "reference=*:v1"]), ["app:v1", "base:v1"]);
    assert_eq!(names(&s, &["-f", "reference=*/*"]), ["user/app:v1"]);
    assert_eq!(names(&s, &["-f", "reference=ba*"]), ["base:v1"]);
    assert_eq!(
        names(&s, &["-f", "reference=base", "-f", "reference=user/*"]),
        ["user/app:v1", "base:v1"]
    );
    // The positional argument is one more reference pattern.
    assert_eq!(names(&s, &["app"]), ["app:v2", "app:v1"]);
    assert_eq!(names(&s, &["app:v1"]), ["app:v1"]);
    // label: every value must match.
    assert_eq!(
        names(&s, &["-f", "label=tier"]),
        ["app:v1", "user/app:v1", "base:v1"]
    );
    assert_eq!(
        names(&s, &["-f", "label=tier=app", "-f", "label=team=x"]),
        ["app:v1", "user/app:v1"]
    );
    assert!(names(&s, &["-f", "label=tier=app", "-f", "label=team=y"]).is_empty());
    // Different keys: AND.
    assert_eq!(
        names(&s, &["-f", "label=tier", "-f", "reference=app"]),
        ["app:v1"]
    );
    // before/since: by the named image's creation time.
    assert_eq!(names(&s, &["-f", "before=app:v1"]), ["base:v1"]);
    assert_eq!(
        names(&s, &["-f", "since=app:v1"]),
        ["app:v2", "<none>:<none>"]
    );
    assert_eq!(
        names(&s, &["-f", "since=base:v1", "-f", "before=app:v2"]),
        ["<none>:<none>", "app:v1", "user/app:v1"]
    );
    assert_eq!(
        s.ok(&["images", "-q", "-f", "since=app:v1", "-f", "dangling=true"]),
        format!("{}\n", short(&old))
    );

    let err = s.fails(&["images", "-f", "colour=red"]);
    assert!(err.contains("invalid filter 'colour'"), "{err}");
    let err = s.fails(&["images", "-f", "dangling"]);
    assert!(err.contains("expected name=value"), "{err}");
    let err = s.fails(&["images", "-f", "dangling=maybe"]);
    assert!(err.contains("invalid filter 'dangling=maybe'"), "{err}");
    let err = s.fails(&["images", "-f", "since=nosuch"]);
    assert!(err.contains("No such image: nosuch"), "{err}");
    let err = s.fails(&["images", "-f", "reference=["]);
    assert!(err.contains("syntax error in pattern"), "{err}");
}

#[test]
fn rmi_refuses_an_image_a_container_uses() {
    let s = Strata::new();
    let img = s.import_busybox("busybox");
    let cid = s
        .ok(&["create", "--network", "none", "busybox", "true"])
        .trim()
        .to_string();
    let (_, err) = code(&s, &["rmi", "busybox"], 1);
    assert_eq!(
        err,
        format!(
            "Error response from daemon: conflict: unable to remove repository reference \
             \"busybox\" (must force) - container {} is using its referenced image {}\n",
            &cid[..12],
            short(&img)
        )
    );
    let (_, err) = code(&s, &["rmi", short(&img)], 1);
    assert_eq!(
        err,
        format!(
            "Error response from daemon: conflict: unable to delete {} (must be forced) - \
             image is being used by stopped container {}\n",
            short(&img),
            &cid[..12]
        )
    );
    assert_eq!(s.ok(&["images", "-q"]), format!("{}\n", short(&img)));

    // A second tag is only a name: it goes without -f.
    s.ok(&["tag", "busybox", "other:1"]);
    assert_eq!(s.ok(&["rmi", "other:1"]), "Untagged: other:1\n");

    // -f removes it all the same; the container keeps its layers and still goes cleanly.
    let out = s.ok(&["rmi", "-f", "busybox"]);
    assert!(out.starts_with("Untagged: busybox:latest\n"), "{out}");
    assert!(out.ends_with(&format!("Deleted: {img}\n")), "{out}");
    assert_eq!(s.ok(&["images", "-q"]), "");
    s.ok(&["rm", &cid]);
}

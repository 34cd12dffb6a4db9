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
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        s.report("exit code", args, &out)
    );
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
        [
            "app:v2",
            "<none>:<none>",
            "app:v1",
            "user/app:v1",
            "base:v1"
        ]
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

/// `volume ls -q ARGS…` as a sorted list.
fn volumes(s: &Strata, args: &[&str]) -> Vec<String> {
    let mut all = vec!["volume", "ls", "-q"];
    all.extend_from_slice(args);
    let mut v: Vec<String> = s.ok(&all).lines().map(str::to_string).collect();
    v.sort();
    v
}

#[test]
fn volume_ls_filters_and_formats_and_prune_keeps_used_volumes() {
    let s = Strata::new();
    s.import_busybox("busybox");
    s.ok(&[
        "volume", "create", "--label", "env=prod", "--label", "team", "data",
    ]);
    s.ok(&["volume", "create", "cache"]);
    let anon = s.ok(&["volume", "create"]).trim().to_string();
    let cid = s
        .ok(&[
            "create",
            "--network",
            "none",
            "-v",
            "data:/d",
            "busybox",
            "true",
        ])
        .trim()
        .to_string();
    let mut every = vec![anon.clone(), "cache".to_string(), "data".to_string()];
    every.sort();
    assert_eq!(volumes(&s, &[]), every);
    assert_eq!(volumes(&s, &["-f", "driver=local"]), every);
    assert_eq!(
        volumes(&s, &["-f", "dangling=true"]),
        volumes(&s, &["-f", "name=ach", "-f", &format!("name={anon}")])
    );
    assert_eq!(volumes(&s, &["-f", "dangling=false"]), ["data"]);
    assert_eq!(volumes(&s, &["-f", "name=ach"]), ["cache"]);
    assert_eq!(volumes(&s, &["-f", "label=env=prod"]), ["data"]);
    assert_eq!(
        volumes(&s, &["-f", "label=team", "-f", "label=env"]),
        ["data"]
    );
    assert!(volumes(&s, &["-f", "label=env=dev"]).is_empty());
    assert_eq!(
        volumes(&s, &["-f", "label=com.docker.volume.anonymous"]),
        [anon.as_str()]
    );
    let err = s.fails(&["volume", "ls", "-f", "bogus=1"]);
    assert!(err.contains("invalid filter 'bogus'"), "{err}");

    assert_eq!(
        s.ok(&["volume", "ls", "-f", "name=data"]),
        "DRIVER    VOLUME NAME\nlocal     data\n"
    );
    assert_eq!(
        s.ok(&[
            "volume",
            "ls",
            "-f",
            "name=data",
            "--format",
            "{{.Name}} {{.Driver}} {{.Labels}} {{.Scope}} {{.Links}} {{.Size}}"
        ]),
        "data local env=prod,team= local N/A N/A\n"
    );
    let table = s.ok(&[
        "volume",
        "ls",
        "-f",
        "name=cache",
        "--format",
        "table {{.Name}}\t{{.Scope}}",
    ]);
    assert_eq!(table, "VOLUME NAME   SCOPE\ncache         local\n");
    let line = s.ok(&["volume", "ls", "-f", "name=data", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(v["Name"], "data");
    assert_eq!(v["Driver"], "local");
    assert!(
        v["Mountpoint"].as_str().unwrap().ends_with("/data/_data"),
        "{v}"
    );
    let err = s.fails(&["volume", "ls", "--format", "{{.Nope}}"]);
    assert!(err.contains("Nope"), "{err}");

    let v: serde_json::Value = serde_json::from_str(&s.ok(&["volume", "inspect", "data"])).unwrap();
    let keys: Vec<&str> = v[0]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "CreatedAt",
            "Driver",
            "Labels",
            "Mountpoint",
            "Name",
            "Options",
            "Scope"
        ]
    );
    assert_eq!(
        v[0]["Labels"],
        serde_json::json!({"env": "prod", "team": ""})
    );
    assert_eq!(v[0]["Driver"], "local");
    assert_eq!(v[0]["Scope"], "local");
    assert_eq!(
        s.ok(&[
            "volume",
            "inspect",
            "-f",
            "{{.Name}}={{.Labels.env}}",
            "data",
            "cache"
        ]),
        "data=prod\ncache=<no value>\n"
    );
    assert_eq!(
        s.ok(&["volume", "inspect", "-f", "{{json .Labels}}", &anon]),
        "{\"com.docker.volume.anonymous\":\"\"}\n"
    );
    let (out, err) = code(&s, &["volume", "inspect", "nosuch"], 1);
    assert_eq!(out, "[]\n");
    assert_eq!(
        err,
        "Error response from daemon: get nosuch: no such volume\n"
    );

    // Without -a only anonymous volumes go; a volume a container uses never does.
    let cache_dir = s.root.join("volumes-v1/cache/_data");
    std::fs::write(cache_dir.join("f"), vec![0u8; 1500]).unwrap();
    let (_, err) = code(&s, &["volume", "prune"], 0);
    assert!(err.contains("anonymous local volumes"), "{err}");
    assert_eq!(volumes(&s, &[]), every);
    assert_eq!(
        s.ok(&["volume", "prune", "-f"]),
        format!("Deleted Volumes:\n{anon}\n\nTotal reclaimed space: 0B\n")
    );
    assert_eq!(
        s.ok(&["volume", "prune", "-f", "-a"]),
        "Deleted Volumes:\ncache\n\nTotal reclaimed space: 1.5kB\n"
    );
    assert_eq!(
        s.ok(&["volume", "prune", "-f", "-a"]),
        "Total reclaimed space: 0B\n"
    );
    s.ok(&["rm", &cid]);
    assert_eq!(
        s.ok(&["volume", "prune", "-af"]),
        "Deleted Volumes:\ndata\n\nTotal reclaimed space: 0B\n"
    );
}

#[test]
fn inspect_finds_each_type_and_names_what_it_cannot() {
    let s = Strata::new();
    s.import_busybox("busybox");
    let cid = s
        .ok(&[
            "create",
            "--name",
            "web",
            "--network",
            "none",
            "busybox",
            "true",
        ])
        .trim()
        .to_string();
    s.ok(&["volume", "create", "shared"]);
    s.ok(&["network", "create", "shared"]);
    let one = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["inspect"];
        all.extend_from_slice(args);
        let v: serde_json::Value = serde_json::from_str(&s.ok(&all)).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
        v[0].clone()
    };
    assert_eq!(one(&["web"])["Id"], cid.as_str());
    assert!(one(&["busybox"])["RepoTags"].is_array());
    // Without --type: container, image, volume, then network.
    assert!(one(&["shared"])["Mountpoint"].is_string());
    assert_eq!(one(&["--type", "network", "shared"])["Driver"], "bridge");
    assert_eq!(one(&["--type", "volume", "shared"])["Scope"], "local");
    assert_eq!(
        s.ok(&["inspect", "-f", "{{.Name}}", "--type", "container", "web"]),
        "/web\n"
    );

    let (out, err) = code(&s, &["inspect", "nosuch"], 1);
    assert_eq!(out, "[]\n");
    assert_eq!(err, "Error: No such object: nosuch\n");
    let (out, err) = code(&s, &["inspect", "web", "nosuch", "busybox"], 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2, "{out}");
    assert_eq!(err, "Error: No such object: nosuch\n");
    for (args, want) in [
        (
            &["inspect", "--type", "volume", "busybox"][..],
            "Error response from daemon: get busybox: no such volume\n",
        ),
        (
            &["inspect", "--type", "network", "busybox"],
            "Error response from daemon: network busybox not found\n",
        ),
        (
            &["container", "inspect", "busybox"],
            "Error response from daemon: No such container: busybox\n",
        ),
        (
            &["image", "inspect", "web"],
            "Error response from daemon: No such image: web:latest\n",
        ),
    ] {
        let (out, err) = code(&s, args, 1);
        assert_eq!((out.as_str(), err.as_str()), ("[]\n", want), "{args:?}");
    }
    let err = s.fails(&["inspect", "--type", "bogus", "web"]);
    assert!(
        err.contains("\"bogus\" is not a valid value for --type"),
        "{err}"
    );

    // -s: SizeRw is what the container wrote (its upperdir), SizeRootFs that plus the image.
    assert!(one(&["web"]).get("SizeRw").is_none());
    let upper = s.root.join("containers").join(&cid).join("upper");
    std::fs::write(upper.join("written"), vec![7u8; 1234]).unwrap();
    let image_size = one(&["busybox"])["Size"].as_u64().unwrap();
    let v = one(&["-s", "web"]);
    assert_eq!(v["SizeRw"], 1234);
    assert_eq!(v["SizeRootFs"].as_u64().unwrap(), 1234 + image_size);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    let at = keys.iter().position(|k| *k == "HostConfig").unwrap();
    assert_eq!(keys[at + 1..at + 3], ["SizeRw", "SizeRootFs"]);

    assert_eq!(
        s.ok(&[
            "network",
            "inspect",
            "-f",
            "{{.Name}} {{.Driver}} {{.Scope}}",
            "shared"
        ]),
        "shared bridge local\n"
    );
}

#[test]
fn history_and_system_df_take_formats() {
    let s = Strata::new();
    let id = import(&s, "h", 1_700_000_000, &[], "hist:1");
    let line = s.ok(&["history", "--format", "json", "hist:1"]);
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "Comment",
            "CreatedAt",
            "CreatedBy",
            "CreatedSince",
            "ID",
            "Size"
        ]
    );
    assert_eq!(v["ID"], short(&id));
    assert_eq!(v["CreatedAt"], "2023-11-14T22:13:20Z");
    assert!(v["CreatedSince"].as_str().unwrap().ends_with(" ago"), "{v}");
    assert!(
        v["Comment"].as_str().unwrap().starts_with("Imported from "),
        "{v}"
    );
    assert_eq!(
        s.ok(&["history", "--format", "{{.ID}}|{{.CreatedAt}}", "hist:1"]),
        format!("{}|2023-11-14T22:13:20Z\n", short(&id))
    );
    assert_eq!(
        s.ok(&["history", "--no-trunc", "--format", "{{.ID}}", "hist:1"]),
        format!("{id}\n")
    );
    // -H=false: raw bytes and the RFC 3339 time in the CREATED column.
    let raw = s.ok(&[
        "history",
        "-H=false",
        "--format",
        "table {{.CreatedSince}}\t{{.Size}}",
        "hist:1",
    ]);
    let rows: Vec<&str> = raw.lines().collect();
    assert_eq!(rows[0], "CREATED                SIZE");
    assert!(rows[1].starts_with("2023-11-14T22:13:20Z   "), "{raw}");
    assert!(
        rows[1]
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .is_ok(),
        "{raw}"
    );
    assert_eq!(
        s.ok(&["history", "-q", "--format", "{{.Size}}", "hist:1"]),
        format!("{}\n", short(&id))
    );
    let err = s.fails(&["history", "--format", "{{.Nope}}", "hist:1"]);
    assert!(err.contains("Nope"), "{err}");

    // system df: Docker's rows and fields.
    s.ok(&["volume", "create", "vol"]);
    std::fs::write(s.root.join("volumes-v1/vol/_data/f"), vec![1u8; 2000]).unwrap();
    s.ok(&["create", "--network", "none", "hist:1", "true"]);
    let types = s.ok(&["system", "df", "--format", "{{.Type}}"]);
    assert_eq!(
        types,
        "Images\nContainers\nLocal Volumes\nBuild Cache\nTemporary files\n"
    );
    let table = s.ok(&[
        "system",
        "df",
        "--format",
        "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
    ]);
    assert_eq!(table, s.ok(&["system", "df"]));
    let lines: Vec<serde_json::Value> = s
        .ok(&["system", "df", "--format", "json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let volumes = &lines[2];
    assert_eq!(volumes["Type"], "Local Volumes");
    assert_eq!(volumes["TotalCount"], "1");
    assert_eq!(volumes["Active"], "0");
    assert_eq!(volumes["Size"], "2kB");
    assert_eq!(volumes["Reclaimable"], "2kB (100%)");
    assert_eq!(lines[1]["TotalCount"], "1");
    assert_eq!(lines[1]["Active"], "0");
    let verbose = s.ok(&["system", "df", "-v"]);
    for section in [
        "Images space usage:",
        "Containers space usage:",
        "Local Volumes space usage:",
        "Build cache usage: ",
    ] {
        assert!(verbose.contains(section), "{verbose}");
    }
    assert!(
        verbose.contains("VOLUME NAME   LINKS     SIZE\nvol           0         2kB\n"),
        "{verbose}"
    );
}

#[test]
fn info_and_version_report_like_docker() {
    let s = Strata::new();
    s.import_busybox("busybox");
    s.ok(&["create", "--network", "none", "busybox", "true"]);
    assert_eq!(
        s.ok(&[
            "info",
            "--format",
            "{{.Containers}} {{.ContainersRunning}} {{.ContainersPaused}} {{.ContainersStopped}} \
             {{.Images}} {{.Driver}} {{.OSType}} {{.LoggingDriver}} {{.CgroupDriver}}"
        ]),
        "1 0 0 1 1 overlayfs linux json-file cgroupfs\n"
    );
    let v: serde_json::Value =
        serde_json::from_str(&s.ok(&["info", "--format", "{{json .}}"])).unwrap();
    assert_eq!(v["DockerRootDir"], s.root.to_str().unwrap());
    assert_eq!(v["ServerVersion"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["ClientInfo"]["Version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["KernelVersion"], common::tool("uname", &["-r"]).trim());
    assert_eq!(v["Architecture"], common::tool("uname", &["-m"]).trim());
    assert_eq!(v["Name"], common::tool("uname", &["-n"]).trim());
    // cgroup v2 has cgroup.controllers at the root of its one hierarchy.
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    assert_eq!(v["CgroupVersion"], if v2 { "2" } else { "1" });
    assert!(v["NCPU"].as_u64().unwrap() >= 1, "{v}");
    assert!(v["MemTotal"].as_u64().unwrap() > 0, "{v}");
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    if let Some(pretty) = os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
    {
        assert_eq!(v["OperatingSystem"], pretty.trim_matches('"'));
    }
    let id = v["ID"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(
        s.ok(&["system", "info", "-f", "{{.ID}}"]),
        format!("{id}\n")
    );
    let text = s.ok(&["info"]);
    for want in [
        "Server:\n Containers: 1\n  Running: 0\n  Paused: 0\n  Stopped: 1\n Images: 1\n",
        " Storage Driver: overlayfs\n",
        &format!(" Docker Root Dir: {}\n", s.root.display()),
        &format!(" ID: {id}\n"),
        " OSType: linux\n",
    ] {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }
    let err = s.fails(&["info", "--format", "{{.Nope}}"]);
    assert!(err.contains("Nope"), "{err}");

    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        s.ok(&[
            "version",
            "--format",
            "{{.Client.Version}} {{.Server.Version}}"
        ]),
        format!("{version} {version}\n")
    );
    let v: serde_json::Value =
        serde_json::from_str(&s.ok(&["version", "--format", "json"])).unwrap();
    assert_eq!(v["Client"]["Os"], "linux");
    assert_eq!(v["Server"]["Components"][0]["Name"], "Engine");
    // The commit of the checkout strata was built from, when it was built from one.
    let head = std::process::Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "rev-parse",
            "--short=7",
            "HEAD",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if std::env::var_os("STRATA_GIT_COMMIT").is_none() {
        assert_eq!(
            v["Server"]["GitCommit"],
            head.as_deref().unwrap_or("unknown")
        );
    }
    assert_eq!(v["Client"]["GitCommit"], v["Server"]["GitCommit"]);
    let text = s.ok(&["version"]);
    assert!(
        text.starts_with(&format!("Client:\n Version:           {version}\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "\nServer: strata\n Engine:\n  Version:          {version}\n"
        )),
        "{text}"
    );
}

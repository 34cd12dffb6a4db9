//! Resource limits as a Docker user sets them (root): `--memory` and the OOM killer, pids,
//! CPU quota and shares read back from the container's cgroup, `--ulimit`, `--shm-size`,
//! `update` of a running container, Docker's refusals of bad values, and the cgroup of
//! each RUN step of a build.

mod common;
mod run_support;

use std::path::PathBuf;

use run_support::Env;
use strata::sandbox::cgroup::Layout;

fn inspect(e: &Env, name: &str, template: &str) -> String {
    e.s.ok(&["inspect", "-f", template, name])
        .trim()
        .to_string()
}

/// A control file of the cgroup `rel` (`strata/<id>`), in the host's v1 or v2 layout.
fn cgroup_file(rel: &str, controller: &str, file: &str) -> PathBuf {
    match Layout::detect().expect("cgroups mounted") {
        Layout::V2 { root } => root.join(rel).join(file),
        Layout::V1 { controllers } => controllers
            .get(controller)
            .unwrap_or_else(|| panic!("the {controller} controller is not mounted"))
            .join(rel)
            .join(file),
    }
}

/// The value of a control file of container `name`'s cgroup.
fn read_cgroup(e: &Env, name: &str, controller: &str, file: &str) -> String {
    let id = inspect(e, name, "{{.Id}}");
    let path = cgroup_file(&format!("strata/{id}"), controller, file);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("{}: {err}\n{}", path.display(), e.s.listing()))
        .trim()
        .to_string()
}

fn v2() -> bool {
    matches!(Layout::detect().unwrap(), Layout::V2 { .. })
}

/// A shell whose own memory grows to 64 MiB: `$(…)` collects the output in the shell itself.
const ALLOCATE_64M: &str = r#"x=$(head -c 64m /dev/zero | tr "\0" a); echo ${#x}"#;

#[test]
fn a_container_over_its_memory_limit_is_oom_killed() {
    let e = Env::new();
    let run = [
        "run",
        "--name",
        "hog",
        "--network",
        "none",
        "--memory",
        "20m",
        "busybox",
        "sh",
        "-c",
        ALLOCATE_64M,
    ];
    e.code(&run, 137);
    assert_eq!(
        inspect(&e, "hog", "{{.State.OOMKilled}} {{.State.ExitCode}}"),
        "true 137"
    );
    // Docker records twice the memory as memory+swap when --memory-swap is not given.
    assert_eq!(
        inspect(
            &e,
            "hog",
            "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}"
        ),
        "20971520 41943040"
    );
    let id = inspect(&e, "hog", "{{.Id}}");
    let gone = cgroup_file(&format!("strata/{id}"), "memory", "");
    assert!(!gone.exists(), "{} outlived the container", gone.display());

    // Enough memory: the same command finishes, and a new start clears the flag.
    let (out, _) = e.code(
        &[
            "run",
            "--name",
            "fits",
            "--network",
            "none",
            "-m",
            "256m",
            "busybox",
            "sh",
            "-c",
            ALLOCATE_64M,
        ],
        0,
    );
    assert_eq!(out.trim(), "67108864");
    assert_eq!(inspect(&e, "fits", "{{.State.OOMKilled}}"), "false");
}

#[test]
fn pids_cpu_and_memory_limits_are_in_the_running_containers_cgroup() {
    let e = Env::new();
    e.code(
        &[
            "run",
            "-d",
            "--name",
            "lim",
            "--network",
            "none",
            "-m",
            "40m",
            "--cpus",
            "0.5",
            "--cpu-shares",
            "512",
            "--pids-limit",
            "20",
            "busybox",
            "sleep",
            "300",
        ],
        0,
    );
    assert_eq!(read_cgroup(&e, "lim", "pids", "pids.max"), "20");
    if v2() {
        assert_eq!(read_cgroup(&e, "lim", "cpu", "cpu.max"), "50000 100000");
        // runc's conversion of 512 shares.
        assert_eq!(read_cgroup(&e, "lim", "cpu", "cpu.weight"), "20");
        assert_eq!(read_cgroup(&e, "lim", "memory", "memory.max"), "41943040");
    } else {
        assert_eq!(read_cgroup(&e, "lim", "cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(read_cgroup(&e, "lim", "cpu", "cpu.cfs_period_us"), "100000");
        assert_eq!(read_cgroup(&e, "lim", "cpu", "cpu.shares"), "512");
        let memory = read_cgroup(&e, "lim", "memory", "memory.limit_in_bytes");
        assert_eq!(memory, "41943040");
    }
    let template = "{{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.PidsLimit}}";
    assert_eq!(inspect(&e, "lim", template), "500000000 512 20");
    let stats = e.s.ok(&["stats", "--no-stream", "lim"]);
    assert!(
        stats.contains(" / 40MiB "),
        "MEM LIMIT is the limit:\n{stats}"
    );

    // update: Docker refuses a memory limit above the recorded memory+swap (80m here)…
    let (_, err) = e.code(&["update", "--memory", "100m", "lim"], 1);
    assert!(
        err.contains("Memory limit should be smaller than already set memoryswap limit"),
        "{err}"
    );
    // …and takes one below it, into the cgroup and the record.
    e.code(&["update", "--memory", "64m", "lim"], 0);
    let file = if v2() {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    };
    assert_eq!(read_cgroup(&e, "lim", "memory", file), "67108864");
    assert_eq!(
        inspect(
            &e,
            "lim",
            "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}"
        ),
        "67108864 83886080"
    );
    e.code(&["update", "--pids-limit", "30", "--cpus", "1", "lim"], 0);
    assert_eq!(read_cgroup(&e, "lim", "pids", "pids.max"), "30");
    assert_eq!(inspect(&e, "lim", "{{.HostConfig.NanoCpus}}"), "1000000000");
    e.s.ok(&["rm", "-f", "lim"]);
}

#[test]
fn dash_c_is_cpu_shares_before_the_image_and_the_commands_after_it() {
    let e = Env::new();
    e.code(
        &[
            "run",
            "-d",
            "--name",
            "cshort",
            "--network",
            "none",
            "-c",
            "768",
            "busybox",
            "sleep",
            "300",
        ],
        0,
    );
    assert_eq!(inspect(&e, "cshort", "{{.HostConfig.CpuShares}}"), "768");
    if !v2() {
        assert_eq!(read_cgroup(&e, "cshort", "cpu", "cpu.shares"), "768");
    }
    e.code(&["update", "-c", "256", "cshort"], 0);
    assert_eq!(inspect(&e, "cshort", "{{.HostConfig.CpuShares}}"), "256");
    e.s.ok(&["rm", "-f", "cshort"]);
    // Flags end at the image, as with Docker: these `-c`s are the command's.
    let (out, _) = e.code(
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "sh",
            "busybox",
            "-c",
            "echo kept-$0",
            "-c",
        ],
        0,
    );
    assert_eq!(out, "kept--c\n");
    let (_, err) = e.code(&["run", "--rm", "--no-such-flag", "busybox", "true"], 125);
    assert!(err.contains("--no-such-flag"), "{err}");
}

#[test]
fn a_pids_limit_makes_fork_fail() {
    let e = Env::new();
    let script = "n=0; for i in $(seq 50); do sleep 30 & n=$((n+1)); done; echo started $n";
    let out = e.output(
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--pids-limit",
            "20",
            "busybox",
            "sh",
            "-c",
            script,
        ],
        b"",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stderr.contains("can't fork"), "{stdout}\n{stderr}");
    assert!(!stdout.contains("started 50"), "{stdout}");
}

#[test]
fn ulimits_apply_to_the_command_and_to_exec() {
    let e = Env::new();
    let (out, _) = e.code(
        &[
            "run",
            "--name",
            "ul",
            "--network",
            "none",
            "--ulimit",
            "nofile=100:200",
            "--ulimit",
            "nproc=50",
            "busybox",
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn; ulimit -u",
        ],
        0,
    );
    assert_eq!(out, "100\n200\n50\n");
    assert_eq!(
        inspect(&e, "ul", "{{json .HostConfig.Ulimits}}"),
        r#"[{"Name":"nofile","Hard":200,"Soft":100},{"Name":"nproc","Hard":50,"Soft":50}]"#
    );
    e.code(
        &[
            "run",
            "-d",
            "--name",
            "ux",
            "--network",
            "none",
            "--ulimit",
            "nofile=64",
            "busybox",
            "sleep",
            "300",
        ],
        0,
    );
    let (out, _) = e.code(&["exec", "ux", "sh", "-c", "ulimit -n; ulimit -Hn"], 0);
    assert_eq!(out, "64\n64\n");
    e.s.ok(&["rm", "-f", "ux"]);
}

#[test]
fn shm_size_sizes_dev_shm() {
    let e = Env::new();
    let shm = |extra: &[&str]| {
        let mut args = vec!["run", "--rm", "--network", "none"];
        args.extend(extra);
        args.extend(["busybox", "grep", " /dev/shm ", "/proc/mounts"]);
        e.code(&args, 0).0
    };
    let small = shm(&["--shm-size", "1m"]);
    assert!(small.contains("size=1024k"), "{small}");
    let default = shm(&[]);
    assert!(default.contains("size=65536k"), "{default}");
    e.code(
        &[
            "create",
            "--name",
            "sh1",
            "--shm-size",
            "2m",
            "busybox",
            "true",
        ],
        0,
    );
    assert_eq!(inspect(&e, "sh1", "{{.HostConfig.ShmSize}}"), "2097152");
    e.code(&["create", "--name", "df", "busybox", "true"], 0);
    let template = "{{.HostConfig.ShmSize}} {{.HostConfig.Memory}} {{json .HostConfig.PidsLimit}} {{json .HostConfig.Ulimits}} {{.State.OOMKilled}}";
    assert_eq!(inspect(&e, "df", template), "67108864 0 null [] false");
}

#[test]
fn bad_values_exit_125_with_dockers_message() {
    let e = Env::new();
    let cases: &[(&[&str], &str)] = &[
        (&["--memory", "1k"], "Minimum memory limit allowed is 6MB"),
        (
            &["--memory-swap", "1m", "--memory", "2m"],
            "Minimum memory limit allowed is 6MB",
        ),
        (
            &["--memory", "10m", "--memory-swap", "8m"],
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ),
        (
            &["--memory-swap", "10m"],
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ),
        (&["--cpus", "99"], "Range of CPUs is from 0.01 to "),
        (
            &["--cpus", "abc"],
            "failed to parse abc as a rational number",
        ),
        (
            &["--ulimit", "bogus=1"],
            r#"invalid argument "bogus=1" for "--ulimit" flag: invalid ulimit type: bogus"#,
        ),
        (
            &["-m", "1x"],
            r#"invalid argument "1x" for "-m, --memory" flag: invalid suffix: 'x'"#,
        ),
        (
            &["--pids-limit", "many"],
            r#"invalid argument "many" for "--pids-limit" flag"#,
        ),
    ];
    for (flags, want) in cases {
        for verb in ["run", "create"] {
            let mut args = vec![verb, "--rm", "--network", "none"];
            if verb == "create" {
                args.remove(1);
            }
            args.extend(flags.iter());
            args.extend(["busybox", "true"]);
            let (_, err) = e.code(&args, 125);
            assert!(err.contains(want), "{args:?}: {err}");
        }
    }
    assert!(e.container_dirs().is_empty(), "{:?}", e.container_dirs());
    e.code(&["create", "--name", "cc", "busybox", "true"], 0);
    let (_, err) = e.code(&["update", "--cpus", "99", "cc"], 1);
    assert!(err.contains("Range of CPUs"), "{err}");
    let (_, err) = e.code(&["update", "--memory", "1x", "cc"], 125);
    assert!(err.contains("invalid suffix"), "{err}");
    let (_, err) = e.code(&["update", "cc"], 1);
    assert!(err.contains("one or more flags"), "{err}");
}

#[test]
fn a_run_step_has_a_cgroup_of_its_own_removed_after_the_build() {
    let e = Env::new();
    let ctx = e.s.scratch("ctx");
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN --network=none cat /proc/self/cgroup\nRUN --network=none false\n",
    )
    .unwrap();
    let ctx = ctx.display().to_string();
    let out = e.output(&["build", "--progress", "plain", "--no-cache", &ctx], b"");
    assert_eq!(out.status.code(), Some(1), "the second RUN fails");
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let rels: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once(":/strata/build-").map(|(_, r)| r))
        .collect();
    assert!(!rels.is_empty(), "no strata/build-… cgroup seen:\n{text}");
    let controller = if v2() { "" } else { "pids" };
    for r in rels {
        let rel = format!("strata/build-{}", r.trim());
        let dir = cgroup_file(&rel, controller, "");
        assert!(!dir.exists(), "{} outlived the build", dir.display());
    }
}

/// What a build killed mid-step leaves: an empty `strata/build-…` group. The next build
/// takes those older than 30 s, and spares a fresh one (another build's, being set up).
#[test]
fn a_build_reclaims_the_empty_step_groups_a_killed_build_left() {
    let e = Env::new();
    let controller = if v2() { "" } else { "pids" };
    let stale = cgroup_file("strata/build-5afe5afe5afe0001", controller, "");
    let fresh = cgroup_file("strata/build-5afe5afe5afe0002", controller, "");
    for dir in [&stale, &fresh] {
        std::fs::create_dir_all(dir).unwrap();
    }
    let aged = std::process::Command::new("touch")
        .args(["-d", "1 hour ago"])
        .arg(&stale)
        .status()
        .unwrap();
    assert!(aged.success());
    let ctx = e.s.scratch("ctx");
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN --network=none true\n",
    )
    .unwrap();
    e.s.ok(&["build", "--no-cache", "-q", &ctx.display().to_string()]);
    let fresh_left = fresh.exists();
    let _ = std::fs::remove_dir(&fresh);
    assert!(
        !stale.exists(),
        "{} outlived the next build",
        stale.display()
    );
    assert!(fresh_left, "{} was taken though it is new", fresh.display());
}
